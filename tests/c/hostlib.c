/* A DT_NEEDED library of the host test (dynamic hosts): its constructor
   reads the current thread's rseq area directly, with no API call, as any
   library that uses rseq would.  */
#include <stddef.h>
#include <sys/rseq.h>

extern __thread struct rseq __rseq_abi __attribute__ ((weak));

static int ctor_cpu_id = -100;

static int
direct_cpu_id (void)
{
  /* glibc's registration, seen through ld.so's symbols; else the
     component's legacy __rseq_abi, which the executable exports.  */
  if (__rseq_size > 0)
    return (int) ((struct rseq *) ((char *) __builtin_thread_pointer ()
                                   + __rseq_offset))->cpu_id;
  if (&__rseq_abi)
    return (int) __rseq_abi.cpu_id;
  return -100;
}

__attribute__ ((constructor)) static void
hostlib_ctor (void)
{
  ctor_cpu_id = direct_cpu_id ();
}

int
hostlib_ctor_cpu_id (void)
{
  return ctor_cpu_id;
}

int
hostlib_direct_cpu_id (void)
{
  return direct_cpu_id ();
}
