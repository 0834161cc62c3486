/* Memory footprint of many threads allocating and freeing small blocks
   across threads: THREADS threads (64) confined to CPUS CPUs (2); each
   round every thread allocates BLOCKS blocks of 16-512 bytes, then (after
   a barrier) frees the blocks its neighbour allocated, so every block is
   freed by a thread other than the one that allocated it.  Prints the
   peak RSS (getrusage), the final RSS (after the threads were joined, from
   /proc/self/statm), the bytes live at the peak, the arenas in use
   (malloc_info's <heap> count) and the rate (allocations + frees per
   second).  Used for the malloc decision of issue 22 (patches/README.md).

   usage: malloc-rss [THREADS [CPUS [ROUNDS [BLOCKS]]]]  */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int threads, rounds, blocks;
static void ***slots;
static pthread_barrier_t barrier;

static void *
worker (void *arg)
{
  long id = (long) arg;
  unsigned int seed = id * 2654435761u + 1;
  for (int r = 0; r < rounds; r++)
    {
      void **mine = slots[id];
      for (int i = 0; i < blocks; i++)
	{
	  size_t size = 16 + rand_r (&seed) % 497;
	  mine[i] = malloc (size);
	  if (mine[i] == NULL)
	    abort ();
	  memset (mine[i], (int) id, size);
	}
      pthread_barrier_wait (&barrier);
      void **theirs = slots[(id + 1) % threads];
      for (int i = 0; i < blocks; i++)
	free (theirs[i]);
      pthread_barrier_wait (&barrier);
    }
  return NULL;
}

static long
rss_kib (void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");
  if (f == NULL || fscanf (f, "%ld %ld", &pages, &resident) != 2)
    return -1;
  fclose (f);
  return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

static int
arenas (void)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return -1;
  malloc_info (0, f);
  fclose (f);
  int n = 0;
  for (char *p = buf; (p = strstr (p, "<heap nr=")) != NULL; p++)
    n++;
  free (buf);
  return n;
}

int
main (int argc, char **argv)
{
  threads = argc > 1 ? atoi (argv[1]) : 64;
  int cpus = argc > 2 ? atoi (argv[2]) : 2;
  rounds = argc > 3 ? atoi (argv[3]) : 20;
  blocks = argc > 4 ? atoi (argv[4]) : 2000;

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

  slots = calloc (threads, sizeof *slots);
  for (int t = 0; t < threads; t++)
    slots[t] = calloc (blocks, sizeof (void *));
  pthread_barrier_init (&barrier, NULL, threads);
  pthread_t *tid = calloc (threads, sizeof *tid);
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (long t = 0; t < threads; t++)
    if (pthread_create (&tid[t], NULL, worker, (void *) t) != 0)
      return 2;
  for (int t = 0; t < threads; t++)
    pthread_join (tid[t], NULL);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("threads %d cpus %d rounds %d blocks %d: peak_rss_kib %ld "
	  "final_rss_kib %ld live_at_peak_kib %ld arenas %d ops_per_s %.0f\n",
	  threads, cpus, rounds, blocks, ru.ru_maxrss, rss_kib (),
	  (long) threads * blocks * 264 / 1024, arenas (),
	  2.0 * threads * blocks * rounds / secs);
  return 0;
}
