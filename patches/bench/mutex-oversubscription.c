/* Adaptive mutex throughput under oversubscription: THREADS threads (8)
   confined to CPUS CPUs (2) share one PTHREAD_MUTEX_ADAPTIVE_NP mutex;
   each loop takes it, runs CRIT units of work, releases it and runs
   NONCRIT units.  Prints the lock acquisitions per second over SECONDS,
   and checks that no update was lost.  Used by patches/bench/run-mutex.sh
   to compare glibc builds (patch 0006 of the 2.43 series).

   usage: mutex-oversubscription [THREADS [CPUS [SECONDS [CRIT [NONCRIT]]]]]  */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mutex;
static atomic_int stop;
static unsigned long shared_counter;
static int crit, noncrit;

struct worker
{
  unsigned long ops;
  char pad[56];
};

static void
work (int units, volatile unsigned long *sink)
{
  for (int i = 0; i < units; i++)
    *sink += i;
}

static void *
worker (void *arg)
{
  struct worker *w = arg;
  volatile unsigned long local = 0;
  while (!atomic_load_explicit (&stop, memory_order_relaxed))
    {
      pthread_mutex_lock (&mutex);
      shared_counter++;
      work (crit, &local);
      pthread_mutex_unlock (&mutex);
      work (noncrit, &local);
      w->ops++;
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  int threads = argc > 1 ? atoi (argv[1]) : 8;
  int cpus = argc > 2 ? atoi (argv[2]) : 2;
  double seconds = argc > 3 ? atof (argv[3]) : 2.0;
  crit = argc > 4 ? atoi (argv[4]) : 50;
  noncrit = argc > 5 ? atoi (argv[5]) : 50;

  cpu_set_t allowed, set;
  CPU_ZERO (&set);
  if (sched_getaffinity (0, sizeof allowed, &allowed) != 0)
    return 2;
  for (int c = 0, n = 0; c < CPU_SETSIZE && n < cpus; c++)
    if (CPU_ISSET (c, &allowed))
      {
	CPU_SET (c, &set);
	n++;
      }
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    return 2;

  pthread_mutexattr_t attr;
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  pthread_mutex_init (&mutex, &attr);

  struct worker *w = calloc (threads, sizeof *w);
  pthread_t *t = calloc (threads, sizeof *t);
  if (w == NULL || t == NULL)
    return 2;
  for (int i = 0; i < threads; i++)
    if (pthread_create (&t[i], NULL, worker, &w[i]) != 0)
      return 2;
  struct timespec d = { (time_t) seconds,
			(long) ((seconds - (time_t) seconds) * 1e9) };
  nanosleep (&d, NULL);
  atomic_store (&stop, 1);
  unsigned long total = 0;
  for (int i = 0; i < threads; i++)
    {
      pthread_join (t[i], NULL);
      total += w[i].ops;
    }
  if (total != shared_counter)
    {
      printf ("lost updates: %lu ops, counter %lu\n", total, shared_counter);
      return 1;
    }
  printf ("%.0f\n", total / seconds);
  return 0;
}
