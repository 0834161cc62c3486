/* Single-thread cost of an uncontended pthread_mutex_lock + unlock pair,
   per mutex type: the minimum over ROUNDS rounds of 1,000,000 pairs, in
   ns per pair (the minimum filters out preemptions on a busy machine).
   Used by patches/bench/run-single.sh to compare glibc builds.

   usage: mutex-single [ROUNDS]  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { PAIRS = 1000000 };

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double
best (int type, int rounds, int try)
{
  pthread_mutexattr_t attr;
  pthread_mutex_t m;
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_settype (&attr, type);
  pthread_mutex_init (&m, &attr);
  double min = 1e30;
  for (int r = 0; r < rounds; r++)
    {
      double t0 = now ();
      for (int i = 0; i < PAIRS; i++)
	{
	  if (try)
	    pthread_mutex_trylock (&m);
	  else
	    pthread_mutex_lock (&m);
	  __asm__ volatile ("" ::: "memory");
	  pthread_mutex_unlock (&m);
	}
      double t = (now () - t0) / PAIRS;
      if (t < min)
	min = t;
    }
  pthread_mutex_destroy (&m);
  return min;
}

static void *
idle (void *arg)
{
  return arg;
}

int
main (int argc, char **argv)
{
  int rounds = argc > 1 ? atoi (argv[1]) : 30;
  /* A second thread existed: glibc's single-thread shortcuts off, as in
     any threaded program.  */
  pthread_t t;
  pthread_create (&t, NULL, idle, NULL);
  pthread_join (t, NULL);
  printf ("adaptive-lock %.3f\n", best (PTHREAD_MUTEX_ADAPTIVE_NP, rounds, 0));
  printf ("adaptive-trylock %.3f\n", best (PTHREAD_MUTEX_ADAPTIVE_NP, rounds, 1));
  printf ("normal-lock %.3f\n", best (PTHREAD_MUTEX_NORMAL, rounds, 0));
  printf ("recursive-lock %.3f\n", best (PTHREAD_MUTEX_RECURSIVE, rounds, 0));
  return 0;
}
