/* Signal storm: one thread sends SIGUSR1 to the process as fast as it can
   (at most STORM_SIGNALS signals and STORM_SECONDS seconds: a bound on the
   storm, never a pass/fail condition) while STORM_THREADS threads
   (joinable and detached mixed, in waves of 64) start and exit; every
   thread is created however slow the machine (a hang is the harness's
   timeout).  The handler checks that it runs on a registered area
   with the right cpu_id and bumps a per-CPU counter through the component;
   every thread bumps another.  Counters must be exact, nothing may crash.  */
#include "hooks_common.h"
#include <time.h>

static struct percpu_counter handled[MAX_CPUS], worked[MAX_CPUS];
static _Atomic long handler_runs, handler_bad, threads_done;
static _Atomic int stop;

static void
on_sigusr1 (int sig)
{
  (void) sig;
  if (!registered_on_right_cpu ())
    atomic_fetch_add (&handler_bad, 1);
  percpu_inc (handled);
  atomic_fetch_add (&handler_runs, 1);
}

static void *
worker (void *arg)
{
  (void) arg;
  percpu_inc (worked);
  atomic_fetch_add (&threads_done, 1);
  return NULL;
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long max_signals;
static double deadline;
static _Atomic long sent;

static void *
sender (void *arg)
{
  (void) arg;
  pid_t pid = getpid ();
  /* At least one signal, then until stopped or a bound is reached.  */
  do
    {
      kill (pid, SIGUSR1);
      sent++;
    }
  while (!atomic_load (&stop) && sent < max_signals && now () < deadline);
  return NULL;
}

int
main (void)
{
  int nthreads = env_int ("STORM_THREADS", 20000);
  max_signals = env_int ("STORM_SIGNALS", 20000000);
  deadline = now () + env_int ("STORM_SECONDS", 40);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGUSR1, &sa, NULL);

  pthread_t snd;
  CHECK (pthread_create (&snd, NULL, sender, NULL) == 0, "sender");
  pthread_attr_t detached;
  pthread_attr_init (&detached);
  pthread_attr_setdetachstate (&detached, PTHREAD_CREATE_DETACHED);
  long created = 0, failed = 0;
  for (int base = 0; base < nthreads; base += 64)
    {
      pthread_t t[64];
      int joinable[64];
      int n = nthreads - base < 64 ? nthreads - base : 64;
      for (int i = 0; i < n; i++)
        {
          joinable[i] = (base + i) % 2;
          int r;
          while ((r = pthread_create (&t[i], joinable[i] ? NULL : &detached, worker, NULL)) == EAGAIN)
            usleep (100);
          if (r == 0)
            created++;
          else
            {
              failed++;
              joinable[i] = 0;
            }
        }
      for (int i = 0; i < n; i++)
        if (joinable[i])
          pthread_join (t[i], NULL);
    }
  /* The detached ones: no time limit (a slow machine is not a failure).  */
  while (atomic_load (&threads_done) < created)
    usleep (1000);
  atomic_store (&stop, 1);
  pthread_join (snd, NULL);
  /* Let pending signals land before counting.  */
  usleep (10000);
  long runs = atomic_load (&handler_runs);
  CHECK (created == nthreads && failed == 0, "created %ld of %d (%ld failed)",
         created, nthreads, failed);
  CHECK (atomic_load (&threads_done) == created && percpu_sum (worked) == created,
         "threads done %ld, per-CPU sum %ld, created %ld", atomic_load (&threads_done),
         percpu_sum (worked), created);
  CHECK (runs > 0 && percpu_sum (handled) == runs, "handler runs %ld, per-CPU sum %ld", runs,
         percpu_sum (handled));
  CHECK (atomic_load (&handler_bad) == 0, "%ld handlers on an unregistered area",
         atomic_load (&handler_bad));
  printf ("storm: %ld threads, %ld signals sent, %ld handled\n", created, (long) sent, runs);
  report_and_exit ("storm");
}
