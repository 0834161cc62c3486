/* One program, built by tests/toolchains/run.sh with every compiler and
   link mode (gcc, clang, musl-gcc; with and without -flto; dynamic and
   static) against librseq_libc.a: registration (owner, area, cpu), the
   published __rseq_offset/__rseq_size, and the per-CPU counter through
   both the call API and the inline header, in the main thread and in a
   thread the hooks start.  A toolchain that mislinks the archive (a
   bitcode member the LTO plugin cannot read, a hook left out) fails to
   build or fails a check here.  Ends with "N passed, N failed".

     EXPECT_OWNER  1 libc, 2 component  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>
#include <rseq-percpu-inline.h>
#include <sys/rseq.h>

#define ITERS 1000

static int expect_owner;
static void *counter;

static int
api_cpu (void)
{
  return rseq_libc_current_cpu ();
}

static int
libc_sched_getcpu (void)
{
  return sched_getcpu ();
}

static int
area_cpu_id (void)
{
  struct rseq *area = rseq_libc_area ();
  return area ? (int) __atomic_load_n (&area->cpu_id, __ATOMIC_RELAXED) : -5;
}

/* What every thread checks: its owner and area, and that the area's
   cpu_id, the API and sched_getcpu agree with the getcpu syscall (each
   read between two syscalls that agree, so a migration is no failure).  */
static void
check_thread (const char *who)
{
  CHECK (rseq_libc_register_current_thread () == 0, "%s: registration %d",
         who, rseq_libc_register_current_thread ());
  CHECK (rseq_libc_owner () == expect_owner, "%s: owner %d, expected %d", who,
         rseq_libc_owner (), expect_owner);
  struct rseq *area = rseq_libc_area ();
  CHECK (area != NULL, "%s: no area", who);
  /* Where an area is published, __rseq_offset finds this very area.  */
  if (__rseq_size > 0)
    CHECK ((char *) __builtin_thread_pointer () + __rseq_offset
             == (char *) area,
           "%s: __rseq_offset %ld does not reach the area %p", who,
           (long) __rseq_offset, (void *) area);
  int (*readers[]) (void) = { area_cpu_id, api_cpu, libc_sched_getcpu };
  const char *names[] = { "area cpu_id", "rseq_libc_current_cpu",
                          "sched_getcpu" };
  for (int i = 0; i < 3; i++)
    {
      int expect;
      int value = read_cpu_stable (readers[i], &expect);
      CHECK (value == expect && value >= 0, "%s: %s %d, getcpu %d", who,
             names[i], value, expect);
    }
  /* ITERS increments through the call, ITERS inline.  */
  int call_ok = 1, inline_ok = 1;
  for (int i = 0; i < ITERS; i++)
    {
      call_ok &= rseq_percpu_counter_inc (counter) >= RSEQ_PERCPU_FALLBACK;
      inline_ok &= rseq_percpu_inline_counter_inc (counter)
                   >= RSEQ_PERCPU_FALLBACK;
    }
  CHECK (call_ok, "%s: rseq_percpu_counter_inc failed", who);
  CHECK (inline_ok, "%s: rseq_percpu_inline_counter_inc failed", who);
}

static void *
thread_main (void *arg)
{
  (void) arg;
  check_thread ("thread");
  return NULL;
}

int
main (void)
{
  expect_owner = env_int ("EXPECT_OWNER", -1);
  size_t size = rseq_percpu_counter_size ();
  counter = aligned_alloc (RSEQ_PERCPU_ALIGN, size);
  CHECK (counter != NULL
           && rseq_percpu_counter_init (counter, size, RSEQ_PERCPU_CPU_ID)
                == 0,
         "counter init");
  if (counter == NULL)
    report_and_exit ("toolchains");
  check_thread ("main");
  pthread_t t;
  int err = pthread_create (&t, NULL, thread_main, NULL);
  CHECK (err == 0, "pthread_create: %d", err);
  if (err == 0)
    pthread_join (t, NULL);
  uint64_t total = 0;
  CHECK (rseq_percpu_counter_read (counter, &total) == 0, "counter read");
  /* No update lost: every increment of both threads is counted.  */
  CHECK (total == (err == 0 ? 4 : 2) * (uint64_t) ITERS,
         "counter %llu, expected %llu", (unsigned long long) total,
         (unsigned long long) ((err == 0 ? 4 : 2) * (uint64_t) ITERS));
  report_and_exit ("toolchains");
}
