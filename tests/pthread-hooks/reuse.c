/* Reuse after exit: REUSE_THREADS threads (default 10,000), REUSE_PARALLEL
   at a time (more than the CPUs, so that they are preempted), each on a
   user-supplied stack (pthread_attr_setstack) that holds its TLS and so its
   rseq area.  After join the stack is overwritten with a pattern, checked
   after a yield (a kernel write into it would show) and unmapped at once:
   a registered area there would make the kernel's next update fault and
   kill the process with SIGSEGV.  Per-CPU counters must be exact.  */
#include "hooks_common.h"
#include <sched.h>

#define STACK_SIZE (256 * 1024)
#define INCREMENTS 200

static struct percpu_counter counts[MAX_CPUS];
static _Atomic long bad_start, pattern_bad;

static void *
worker (void *arg)
{
  (void) arg;
  if (!registered_on_right_cpu ())
    atomic_fetch_add (&bad_start, 1);
  for (int i = 0; i < INCREMENTS; i++)
    {
      percpu_inc (counts);
      if (i % 50 == 0)
        sched_yield ();
    }
  return NULL;
}

struct lane { int iterations; long done; };

static void *
lane (void *p)
{
  struct lane *l = p;
  for (int i = 0; i < l->iterations; i++)
    {
      char *stack = mmap (NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (stack == MAP_FAILED)
        continue;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setstack (&attr, stack, STACK_SIZE);
      pthread_t t;
      if (pthread_create (&t, &attr, worker, NULL) == 0)
        {
          pthread_join (t, NULL);
          l->done++;
        }
      pthread_attr_destroy (&attr);
      /* The top of the stack holds the TLS (and the area).  */
      char *top = stack + STACK_SIZE - 8192;
      memset (top, 0x5a, 8192);
      sched_yield ();
      for (int j = 0; j < 8192; j++)
        if (top[j] != 0x5a)
          {
            atomic_fetch_add (&pattern_bad, 1);
            break;
          }
      munmap (stack, STACK_SIZE);
    }
  return NULL;
}

int
main (void)
{
  int total = env_int ("REUSE_THREADS", 10000);
  int parallel = env_int ("REUSE_PARALLEL", 8);
  struct lane lanes[64];
  pthread_t t[64];
  if (parallel > 64)
    parallel = 64;
  for (int i = 0; i < parallel; i++)
    {
      lanes[i].iterations = total / parallel + (i < total % parallel);
      lanes[i].done = 0;
      pthread_create (&t[i], NULL, lane, &lanes[i]);
    }
  long done = 0;
  for (int i = 0; i < parallel; i++)
    {
      pthread_join (t[i], NULL);
      done += lanes[i].done;
    }
  CHECK (done == total, "%ld of %d threads ran", done, total);
  CHECK (percpu_sum (counts) == (long) done * INCREMENTS, "per-CPU sum %ld, expected %ld",
         percpu_sum (counts), (long) done * INCREMENTS);
  CHECK (atomic_load (&bad_start) == 0, "%ld threads started unregistered",
         atomic_load (&bad_start));
  CHECK (atomic_load (&pattern_bad) == 0, "%ld stacks written after exit",
         atomic_load (&pattern_bad));
  report_and_exit ("reuse");
}
