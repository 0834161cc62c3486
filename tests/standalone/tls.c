/* TLS of the standalone host: initialised and zero-initialised __thread
   variables up to MAX_ALIGN (8, 64 or 4096) in the main thread and 50
   threads; the rseq area (tp + __rseq_offset, max(__rseq_size, 32) bytes)
   never overlaps a TLS variable (cf. glibc's tst-rseq-tls-range), lies
   above the thread pointer (outside the TLS block), is aligned to
   max(getauxval (AT_RSEQ_ALIGN), 32) and is registered.  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <rseq-libc.h>

#ifndef MAX_ALIGN
# define MAX_ALIGN 4096
#endif

__thread long t8 = 0x1122334455667788L;
__thread long z8;
#if MAX_ALIGN >= 64
__thread char t64[72] __attribute__ ((aligned (64))) = "sixty-four";
__thread char z64[64] __attribute__ ((aligned (64)));
#endif
#if MAX_ALIGN >= 4096
__thread char t4096[16] __attribute__ ((aligned (4096))) = "page";
__thread char z4096[4096] __attribute__ ((aligned (4096)));
#endif

static int expect_feature_size;
static unsigned long rseq_align;

enum
{
  F_INIT = 1, F_ZERO = 2, F_ALIGN = 4, F_PRIVATE = 8, F_OVERLAP = 16,
  F_ABOVE_TP = 32, F_CPU = 64, F_SIZE = 128, F_RSEQ_ALIGN = 256
};

static __attribute__ ((unused)) int
all_zero (const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

static int
raw_cpu_id (void)
{
  return (int) ((volatile struct rseq *) ((char *) __builtin_thread_pointer ()
                                          + __rseq_offset))->cpu_id;
}

static int
overlaps (const void *a, size_t an, const char *b, size_t bn)
{
  const char *x = a;
  return x < b + bn && b < x + an;
}

static int
check_this_thread (long id)
{
  int f = 0;
  char *tp = __builtin_thread_pointer ();
  char *area = tp + __rseq_offset;
  size_t area_len = __rseq_size > 32 ? __rseq_size : 32;
  if (t8 != 0x1122334455667788L) f |= F_INIT;
  if (z8 != 0) f |= F_ZERO;
  if ((unsigned long) &t8 % 8) f |= F_ALIGN;
  if (overlaps (&t8, sizeof t8, area, area_len) || overlaps (&z8, sizeof z8, area, area_len))
    f |= F_OVERLAP;
  if (!((char *) &t8 < tp && (char *) &z8 < tp)) f |= F_ABOVE_TP;
#if MAX_ALIGN >= 64
  if (strcmp (t64, "sixty-four") != 0 || !all_zero (t64 + 11, sizeof t64 - 11)) f |= F_INIT;
  if (!all_zero (z64, sizeof z64)) f |= F_ZERO;
  if ((unsigned long) t64 % 64 || (unsigned long) z64 % 64) f |= F_ALIGN;
  if (overlaps (t64, sizeof t64, area, area_len) || overlaps (z64, sizeof z64, area, area_len))
    f |= F_OVERLAP;
#endif
#if MAX_ALIGN >= 4096
  if (strcmp (t4096, "page") != 0) f |= F_INIT;
  if (!all_zero (z4096, sizeof z4096)) f |= F_ZERO;
  if ((unsigned long) t4096 % 4096 || (unsigned long) z4096 % 4096) f |= F_ALIGN;
  if (overlaps (t4096, sizeof t4096, area, area_len)
      || overlaps (z4096, sizeof z4096, area, area_len))
    f |= F_OVERLAP;
#endif
  if (area < tp + 8 * sizeof (void *)) f |= F_ABOVE_TP;
  if ((unsigned long) area % rseq_align) f |= F_RSEQ_ALIGN;
  if (__rseq_size != (unsigned) expect_feature_size) f |= F_SIZE;
  int expect;
  if (read_cpu_stable (raw_cpu_id, &expect) != expect) f |= F_CPU;
  /* Each thread's copies are its own.  */
  t8 = id;
  z8 = -id;
#if MAX_ALIGN >= 64
  memset (z64, (int) id, sizeof z64);
#endif
#if MAX_ALIGN >= 4096
  memset (z4096, (int) id, sizeof z4096);
#endif
  sched_yield ();
  usleep (1000);
  if (t8 != id || z8 != -id) f |= F_PRIVATE;
#if MAX_ALIGN >= 64
  if (z64[0] != (char) id || z64[63] != (char) id) f |= F_PRIVATE;
#endif
#if MAX_ALIGN >= 4096
  if (z4096[0] != (char) id || z4096[4095] != (char) id) f |= F_PRIVATE;
#endif
  return f;
}

static void *
thread_main (void *arg)
{
  return (void *) (long) check_this_thread ((long) arg);
}

int
main (void)
{
  expect_feature_size = env_int ("EXPECT_FEATURE_SIZE", -1);
  /* getauxval: the kernel's vector; AT_PAGESZ proves it is read at all.  */
  CHECK (getauxval (AT_PAGESZ) == 4096, "getauxval (AT_PAGESZ) %lu", getauxval (AT_PAGESZ));
  errno = 0;
  CHECK (getauxval (0x7fff) == 0 && errno == ENOENT, "getauxval of a missing type: errno %d",
         errno);
  unsigned long kernel_align = getauxval (AT_RSEQ_ALIGN);
  unsigned long kernel_fs = getauxval (AT_RSEQ_FEATURE_SIZE);
  CHECK (kernel_fs == 0 || (int) kernel_fs == expect_feature_size,
         "getauxval (AT_RSEQ_FEATURE_SIZE) %lu, __rseq_size expected %d", kernel_fs,
         expect_feature_size);
  rseq_align = kernel_align > 32 ? kernel_align : 32;
  printf ("AT_RSEQ_ALIGN %lu: area aligned to %lu\n", kernel_align, rseq_align);
  enum { N = 50 };
  pthread_t t[N];
  for (long i = 0; i < N; i++)
    CHECK (pthread_create (&t[i], NULL, thread_main, (void *) (i + 1)) == 0, "create %ld", i);
  int mf = check_this_thread (1000);
  CHECK (mf == 0, "main thread: failures %#x", mf);
  for (int i = 0; i < N; i++)
    {
      void *r = (void *) -1L;
      CHECK (pthread_join (t[i], &r) == 0, "join %d", i);
      CHECK (r == NULL, "thread %d: failures %#lx", i, (long) r);
    }
  report_and_exit ("tls");
}
