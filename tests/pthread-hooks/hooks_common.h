/* Shared by the pthread-hooks tests: the calling thread's area read through
   the published symbols alone (no API call, so nothing registers lazily),
   and what the harness expects (EXPECT_OWNER: 1 libc, 2 component).  */
#ifndef RSEQ_PTHREAD_HOOKS_COMMON_H
#define RSEQ_PTHREAD_HOOKS_COMMON_H
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <rseq-libc.h>

extern __thread struct rseq __rseq_abi;

/* glibc's area when it registered (its __rseq_size > 0), else the
   component's (__rseq_abi; a static glibc keeps its __rseq_size at 0).  */
static __attribute__ ((unused)) volatile struct rseq *
direct_area (void)
{
  if (__rseq_size > 0)
    return (volatile struct rseq *) ((char *) __builtin_thread_pointer ()
                                     + __rseq_offset);
  return &__rseq_abi;
}

/* cpu_id of the calling thread's area: >= 0 only while registered.  */
static __attribute__ ((unused)) int
direct_cpu_id (void)
{
  return (int) direct_area ()->cpu_id;
}

/* Registered, and cpu_id agrees with the getcpu syscall (retrying around
   migrations).  Async-signal-safe.  */
static __attribute__ ((unused)) int
registered_on_right_cpu (void)
{
  for (int i = 0; i < 100; i++)
    {
      int a = direct_cpu_id ();
      int s = syscall_getcpu (NULL);
      int b = direct_cpu_id ();
      if (a < 0 || b < 0)
        return 0;
      if (a == b && a == s)
        return 1;
    }
  return 0;
}

#define MAX_CPUS 1024
/* A per-CPU counter bumped through the component's CPU number.  */
struct percpu_counter { _Atomic long v; char pad[56]; };
static __attribute__ ((unused)) void
percpu_inc (struct percpu_counter *c)
{
  int cpu = rseq_libc_current_cpu ();
  if (cpu < 0 || cpu >= MAX_CPUS)
    cpu = 0;
  atomic_fetch_add_explicit (&c[cpu].v, 1, memory_order_relaxed);
}
static __attribute__ ((unused)) long
percpu_sum (struct percpu_counter *c)
{
  long s = 0;
  for (int i = 0; i < MAX_CPUS; i++)
    s += atomic_load (&c[i].v);
  return s;
}
#endif
