/* A program outside the tree, built against an installed rseq-libc with
   cc app.c $(pkg-config --static --cflags --libs rseq-libc): prints the
   owner line of cli/demo/demo.c, then counts 2 x 100000 increments through
   the inline per-CPU counter (<rseq-percpu-inline.h>, which pulls the
   installed <rseq-percpu-arch/ARCH.h>) from two threads and checks that none
   is lost.  Exit status 0 only when the sum is exact.  */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>
#include <rseq-percpu-inline.h>

#define PER_THREAD 100000

static void *counter;

static void *
work (void *arg)
{
  (void) arg;
  for (int i = 0; i < PER_THREAD; i++)
    if (rseq_percpu_inline_counter_inc (counter) != 0)
      abort ();
  return NULL;
}

int
main (void)
{
  static const char *const owners[] = { "none", "libc", "component" };
  static const char *const reasons[] = { "registered", "unavailable", "disabled", "failed" };
  int owner = rseq_libc_owner ();
  int reason = rseq_libc_none_reason ();
  printf ("owner=%s reason=%s cpu=%d __rseq_size=%u\n", owners[owner],
          reason >= 0 && reason < 4 ? reasons[reason] : "other",
          rseq_libc_current_cpu (), __rseq_size);

  size_t size = rseq_percpu_counter_size ();
  counter = aligned_alloc (RSEQ_PERCPU_ALIGN,
                           (size + RSEQ_PERCPU_ALIGN - 1) / RSEQ_PERCPU_ALIGN * RSEQ_PERCPU_ALIGN);
  int err = counter ? rseq_percpu_counter_init (counter, size, RSEQ_PERCPU_CPU_ID) : -1;
  if (err != 0)
    {
      printf ("counter init: %d\n", err);
      return 1;
    }
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create (&t[i], NULL, work, NULL) != 0)
      return 1;
  for (int i = 0; i < 2; i++)
    pthread_join (t[i], NULL);
  uint64_t sum = 0;
  err = rseq_percpu_counter_read (counter, &sum);
  printf ("counter=%llu (expected %d)\n", (unsigned long long) sum, 2 * PER_THREAD);
  return err == 0 && sum == 2 * PER_THREAD ? 0 : 1;
}
