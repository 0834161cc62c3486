/* CPU hotplug under the component, for the arch guests (tests/arch-guests):
   the main thread takes CPU 1 offline and back through
   /sys/devices/system/cpu/cpu1/online, HOTPLUG_CYCLES times, while worker
   threads read their rseq area and a spawner thread creates and joins
   short-lived threads (each registered by the thread hooks, or by the libc
   that owns registration).  What must hold, whatever the scheduling:

   - every thread keeps its registration: rseq_libc_area() does not change,
     rseq_libc_owner() is EXPECT_OWNER, cpu_id is a CPU number (never
     RSEQ_CPU_ID_UNINITIALIZED or RSEQ_CPU_ID_REGISTRATION_FAILED);
   - a cpu_id read entirely while CPU 1 is offline (between two reads of the
     hotplug phase, seqlock style, that both say "offline") is not 1: the
     kernel moved the thread off that CPU and rewrote cpu_id before the
     thread ran user code again;
   - after each step, the main thread pins itself to each online CPU and
     reads that CPU in cpu_id and from rseq_libc_current_cpu ();
   - every short-lived thread was registered on its own area.

   Needs root (PID 1 in the guests) and a CPU 1 that can go offline; prints
   "N passed, N failed".  Linked statically with librseq_libc.a.  */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/rseq.h>
#include "rseq-libc.h"
#include "check.h"

#define VICTIM 1
#define WORKERS 3

/* Even: stable (phase % 4 == 2: CPU VICTIM offline); odd: a transition is
   under way.  */
static atomic_uint phase;
static atomic_int stop;
static int expect_owner;
static atomic_ulong offline_reads, worker_errors, spawned, spawn_errors;
static char first_error[256];
static atomic_int first_error_taken;

static void
record_error (atomic_ulong *counter, const char *fmt, unsigned long a, unsigned long b)
{
  atomic_fetch_add (counter, 1);
  if (atomic_exchange (&first_error_taken, 1) == 0)
    snprintf (first_error, sizeof first_error, fmt, a, b);
}

static uint32_t
read_cpu_id (struct rseq *area)
{
  return __atomic_load_n (&area->cpu_id, __ATOMIC_RELAXED);
}

/* Registration as it must be in any thread of this process.  */
static int
registration_ok (struct rseq *area)
{
  if (area == NULL || rseq_libc_area () != area || rseq_libc_owner () != expect_owner)
    return 0;
  uint32_t cpu = read_cpu_id (area);
  return (int32_t) cpu >= 0;
}

static void *
worker (void *arg)
{
  (void) arg;
  struct rseq *area = rseq_libc_area ();
  if (!registration_ok (area))
    {
      record_error (&worker_errors, "worker: not registered at start (area %#lx, owner %lu)",
                    (unsigned long) area, (unsigned long) rseq_libc_owner ());
      return NULL;
    }
  while (!atomic_load (&stop))
    {
      unsigned int p1 = atomic_load_explicit (&phase, memory_order_acquire);
      uint32_t cpu = read_cpu_id (area);
      atomic_thread_fence (memory_order_acquire);
      unsigned int p2 = atomic_load_explicit (&phase, memory_order_relaxed);
      if ((int32_t) cpu < 0 || rseq_libc_area () != area)
        record_error (&worker_errors, "worker: registration lost (cpu_id %lu, phase %lu)", cpu, p1);
      else if (p1 == p2 && p1 % 4 == 2)
        {
          atomic_fetch_add (&offline_reads, 1);
          if (cpu == VICTIM)
            record_error (&worker_errors, "worker: cpu_id %lu while CPU %lu is offline", cpu,
                          VICTIM);
        }
    }
  return NULL;
}

static void *
short_lived (void *arg)
{
  struct rseq **out = arg;
  struct rseq *area = rseq_libc_area ();
  *out = registration_ok (area) ? area : NULL;
  return NULL;
}

static void *
spawner (void *arg)
{
  (void) arg;
  while (!atomic_load (&stop))
    {
      pthread_t t;
      struct rseq *area = NULL;
      int e = pthread_create (&t, NULL, short_lived, &area);
      if (e != 0)
        {
          record_error (&spawn_errors, "pthread_create: error %lu (%lu)", (unsigned long) e, 0);
          continue;
        }
      pthread_join (t, NULL);
      atomic_fetch_add (&spawned, 1);
      if (area == NULL)
        record_error (&spawn_errors, "a short-lived thread was not registered (%lu, %lu)",
                      atomic_load (&spawned), 0);
    }
  return NULL;
}

static int
set_online (int online)
{
  char path[64];
  snprintf (path, sizeof path, "/sys/devices/system/cpu/cpu%d/online", VICTIM);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int r = write (fd, online ? "1" : "0", 1) == 1 ? 0 : -errno;
  close (fd);
  return r;
}

/* Pins the calling thread to CPU, then reads it back both ways.  */
static void
check_pinned (int cpu, const char *when, int cycle)
{
  cpu_set_t set;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  int r = sched_setaffinity (0, sizeof set, &set);
  CHECK (r == 0, "%s (cycle %d): sched_setaffinity to CPU %d: %s", when, cycle, cpu,
         strerror (errno));
  if (r != 0)
    return;
  struct rseq *area = rseq_libc_area ();
  CHECK (area != NULL && (int) read_cpu_id (area) == cpu,
         "%s (cycle %d): pinned to CPU %d, cpu_id %d", when, cycle, cpu,
         area ? (int) read_cpu_id (area) : -99);
  CHECK (rseq_libc_current_cpu () == cpu, "%s (cycle %d): pinned to CPU %d, rseq_libc_current_cpu %d",
         when, cycle, cpu, rseq_libc_current_cpu ());
}

int
main (void)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  expect_owner = atoi (getenv ("EXPECT_OWNER") ? getenv ("EXPECT_OWNER") : "-1");
  int cycles = atoi (getenv ("HOTPLUG_CYCLES") ? getenv ("HOTPLUG_CYCLES") : "4");
  if (expect_owner < 1 || cycles < 1)
    {
      printf ("FAIL EXPECT_OWNER (1 or 2) and HOTPLUG_CYCLES (>= 1) must be set\n0 passed, 1 failed\n");
      return 1;
    }
  long ncpu = sysconf (_SC_NPROCESSORS_CONF);
  if (ncpu <= VICTIM || access ("/sys/devices/system/cpu/cpu1/online", W_OK) != 0)
    {
      printf ("FAIL CPU %d cannot be taken offline here (%ld CPUs configured, %s)\n0 passed, 1 failed\n",
              VICTIM, ncpu, strerror (errno));
      return 1;
    }
  struct rseq *area = rseq_libc_area ();
  CHECK (registration_ok (area), "main thread: area %p, owner %d (expected %d)", (void *) area,
         rseq_libc_owner (), expect_owner);
  cpu_set_t all;
  CPU_ZERO (&all);
  for (int c = 0; c < ncpu; c++)
    CPU_SET (c, &all);

  pthread_t threads[WORKERS + 1];
  for (int i = 0; i < WORKERS; i++)
    CHECK (pthread_create (&threads[i], NULL, worker, NULL) == 0, "pthread_create worker %d", i);
  CHECK (pthread_create (&threads[WORKERS], NULL, spawner, NULL) == 0, "pthread_create spawner");

  for (int cycle = 1; cycle <= cycles; cycle++)
    {
      /* The main thread leaves CPU VICTIM itself, so that its own pinning
         does not keep the CPU busy.  */
      check_pinned (0, "before offline", cycle);
      atomic_store (&phase, 4 * (cycle - 1) + 1);
      int r = set_online (0);
      CHECK (r == 0, "cycle %d: CPU %d offline: %s", cycle, VICTIM, strerror (-r));
      atomic_store (&phase, 4 * (cycle - 1) + 2);
      CHECK (sched_getcpu () != VICTIM, "cycle %d: running on the offline CPU", cycle);
      usleep (20000);
      atomic_store (&phase, 4 * (cycle - 1) + 3);
      r = set_online (1);
      CHECK (r == 0, "cycle %d: CPU %d online: %s", cycle, VICTIM, strerror (-r));
      atomic_store (&phase, 4 * cycle);
      check_pinned (VICTIM, "after online", cycle);
      check_pinned (0, "after online", cycle);
      sched_setaffinity (0, sizeof all, &all);
    }
  atomic_store (&stop, 1);
  for (int i = 0; i <= WORKERS; i++)
    pthread_join (threads[i], NULL);
  CHECK (atomic_load (&worker_errors) == 0, "workers: %lu errors, first: %s",
         atomic_load (&worker_errors), first_error);
  CHECK (atomic_load (&spawn_errors) == 0, "short-lived threads: %lu errors, first: %s",
         atomic_load (&spawn_errors), first_error);
  CHECK (registration_ok (area), "main thread at the end: area %p", (void *) area);
  printf ("%d hotplug cycles of CPU %d; %lu short-lived threads registered; %lu cpu_id reads while "
          "offline (never %d)\n",
          cycles, VICTIM, atomic_load (&spawned), atomic_load (&offline_reads), VICTIM);
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
