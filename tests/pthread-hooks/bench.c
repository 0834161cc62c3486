/* pthread_create + pthread_join: the hooks (glibc.pthread.rseq=0, the
   component registers) against glibc's own registering path (the hooks do
   nothing), in one run.  The parent re-executes itself BENCH_ROUNDS times
   in each mode, interleaved (ABBA order, so that a drift in the machine's
   load hits both modes alike), each child timing BENCH_ITERATIONS
   create+join pairs after a warm-up, in batches (see child ()).  It reports each mode's median
   nanoseconds per create+join, the median of the per-round ratios
   hooks/glibc with its interquartile range and extremes, and the load
   average before and after.  Also a musl-static figure when given a second
   binary (argv[1]).  BENCH_CPU=N pins every child to CPU N: creator and
   new thread then share one CPU, so a round measures the CPU time of a
   create+join (no cross-CPU wake-ups, whose cost depends on whether the
   other CPU is idle), which is what the hooks add to.
   The floor row is glibc's own path plus the four system calls the hooks'
   guarantees need and glibc's path does not make (the creator blocks and
   restores its signals, the new thread restores its mask, the exit step
   unregisters: here an rseq call the kernel refuses at once): the hooks'
   cost is reported beside it, as the median of per-round ratios.  */
#include "check.h"
#include <sched.h>
#include <pthread.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <rseq-libc.h>

static void *
nothing (void *arg)
{
  return arg;
}

/* The floor's new thread: the two system calls the hooks' new thread
   makes that glibc's does not.  */
static void *
floor_thread (void *arg)
{
  sigset_t none;
  sigemptyset (&none);
  pthread_sigmask (SIG_SETMASK, &none, NULL);
  syscall (SYS_rseq, NULL, 0, 1, 0);
  return arg;
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Times BENCH_ITERATIONS create+join pairs in BENCH_BATCHES batches and
   prints the fastest batch's ns per pair: on a shared machine a batch
   that was preempted is slower, never faster, so the fastest batch is the
   closest to the path's own cost.  */
static int
child (void)
{
  int n = env_int ("BENCH_ITERATIONS", 5000);
  int batches = env_int ("BENCH_BATCHES", 20);
  if (batches < 1 || batches > n)
    batches = 1;
  int per = n / batches;
  int cpu = env_int ("BENCH_CPU", -1);
  if (cpu >= 0)
    {
      cpu_set_t set;
      CPU_ZERO (&set);
      CPU_SET (cpu, &set);
      if (sched_setaffinity (0, sizeof set, &set) != 0)
        return 1;
    }
  int floor = env_int ("BENCH_FLOOR", 0);
  void *(*routine) (void *) = floor ? floor_thread : nothing;
  sigset_t all, old;
  sigfillset (&all);
  pthread_t t;
  for (int i = 0; i < 500; i++)
    if (pthread_create (&t, NULL, nothing, NULL) == 0)
      pthread_join (t, NULL);
  double best = -1;
  for (int b = 0; b < batches; b++)
    {
      double start = now ();
      for (int i = 0; i < per; i++)
        {
          if (floor)
            pthread_sigmask (SIG_SETMASK, &all, &old);
          int r = pthread_create (&t, NULL, routine, NULL);
          if (floor)
            pthread_sigmask (SIG_SETMASK, &old, NULL);
          if (r != 0)
            return 1;
          pthread_join (t, NULL);
        }
      double ns = (now () - start) / per;
      if (best < 0 || ns < best)
        best = ns;
    }
  printf ("%d %.1f\n", rseq_libc_owner (), best);
  return 0;
}

/* Runs BIN with ENV_EXTRA in the environment; returns ns per op, owner.  */
static double
measure (const char *bin, const char *env_extra, int *owner)
{
  extern char **environ;
  int fds[2];
  if (pipe (fds) != 0)
    return -1;
  char *envp[256];
  int k = 0;
  for (char **e = environ; *e && k < 250; e++)
    if (strncmp (*e, "GLIBC_TUNABLES=", 15) != 0)
      envp[k++] = *e;
  envp[k++] = (char *) "BENCH_CHILD=1";
  if (env_extra)
    envp[k++] = (char *) env_extra;
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, fds[1], 1);
  posix_spawn_file_actions_addclose (&fa, fds[0]);
  char *argv[] = { (char *) bin, NULL };
  pid_t pid;
  if (posix_spawn (&pid, bin, &fa, NULL, argv, envp) != 0)
    return -1;
  close (fds[1]);
  char buf[128] = { 0 };
  ssize_t got = read (fds[0], buf, sizeof buf - 1);
  close (fds[0]);
  int status;
  waitpid (pid, &status, 0);
  double ns = -1;
  if (got > 0 && sscanf (buf, "%d %lf", owner, &ns) != 2)
    ns = -1;
  return ns;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The Q-quantile of N sorted values (nearest rank).  */
static double
quantile (const double *v, int n, double q)
{
  int i = (int) (q * (n - 1) + 0.5);
  return v[i];
}

static void
print_loadavg (const char *when)
{
  FILE *f = fopen ("/proc/loadavg", "r");
  char line[128] = "?";
  if (f)
    {
      if (!fgets (line, sizeof line, f))
        strcpy (line, "?\n");
      fclose (f);
    }
  printf ("  load average %s: %s", when, line);
}

#define MAX_ROUNDS 101

int
main (int argc, char **argv)
{
  if (getenv ("BENCH_CHILD"))
    return child ();
  int rounds = env_int ("BENCH_ROUNDS", 21);
  static double glibc[MAX_ROUNDS], hooks[MAX_ROUNDS], musl[MAX_ROUNDS], ratio[MAX_ROUNDS];
  static double flr[MAX_ROUNDS], fratio[MAX_ROUNDS], over[MAX_ROUNDS];
  int og = -1, oh = -1, om = -1, of = -1;
  if (rounds > MAX_ROUNDS)
    rounds = MAX_ROUNDS;
  if (rounds < 1)
    rounds = 1;
  const char *off = "GLIBC_TUNABLES=glibc.pthread.rseq=0";
  const char *fl = "BENCH_FLOOR=1";
  printf ("pthread_create+join, %d interleaved rounds of %d in %d batches "
          "(fastest batch per round)%s:\n",
          rounds, env_int ("BENCH_ITERATIONS", 5000), env_int ("BENCH_BATCHES", 20),
          env_int ("BENCH_CPU", -1) >= 0 ? ", every child pinned to one CPU (BENCH_CPU)" : "");
  print_loadavg ("before");
  for (int r = 0; r < rounds; r++)
    {
      /* Each of the three goes first, second and third in turn.  */
      for (int k = 0; k < 3; k++)
        switch ((r + k) % 3)
          {
          case 0: glibc[r] = measure ("/proc/self/exe", NULL, &og); break;
          case 1: hooks[r] = measure ("/proc/self/exe", off, &oh); break;
          default: flr[r] = measure ("/proc/self/exe", fl, &of); break;
          }
      ratio[r] = glibc[r] > 0 ? hooks[r] / glibc[r] : -1;
      fratio[r] = glibc[r] > 0 ? flr[r] / glibc[r] : -1;
      over[r] = flr[r] > 0 ? hooks[r] / flr[r] : -1;
      musl[r] = argc > 1 ? measure (argv[1], NULL, &om) : 0;
    }
  print_loadavg ("after");
  qsort (glibc, rounds, sizeof (double), cmp);
  qsort (hooks, rounds, sizeof (double), cmp);
  qsort (musl, rounds, sizeof (double), cmp);
  qsort (ratio, rounds, sizeof (double), cmp);
  qsort (flr, rounds, sizeof (double), cmp);
  qsort (fratio, rounds, sizeof (double), cmp);
  qsort (over, rounds, sizeof (double), cmp);
  double g = quantile (glibc, rounds, 0.5), h = quantile (hooks, rounds, 0.5);
  printf ("  glibc registers (owner %d):            median %8.1f ns (IQR %.1f-%.1f)\n", og,
          g, quantile (glibc, rounds, 0.25), quantile (glibc, rounds, 0.75));
  printf ("  hooks, component registers (owner %d): median %8.1f ns (IQR %.1f-%.1f)\n", oh,
          h, quantile (hooks, rounds, 0.25), quantile (hooks, rounds, 0.75));
  printf ("  floor: glibc + 4 system calls (owner %d): median %8.1f ns (IQR %.1f-%.1f)\n", of,
          quantile (flr, rounds, 0.5), quantile (flr, rounds, 0.25), quantile (flr, rounds, 0.75));
  if (argc > 1)
    printf ("  musl static, hooks (owner %d):         median %8.1f ns\n", om,
            quantile (musl, rounds, 0.5));
  printf ("  ratio hooks/glibc: median %.3f (IQR %.3f-%.3f, min %.3f, max %.3f; "
          "ratio of medians %.3f)\n",
          quantile (ratio, rounds, 0.5), quantile (ratio, rounds, 0.25),
          quantile (ratio, rounds, 0.75), ratio[0], ratio[rounds - 1], h / g);
  printf ("  ratio floor/glibc: median %.3f (IQR %.3f-%.3f)\n", quantile (fratio, rounds, 0.5),
          quantile (fratio, rounds, 0.25), quantile (fratio, rounds, 0.75));
  printf ("  ratio hooks/floor: median %.3f (IQR %.3f-%.3f; target <= 1.02)\n",
          quantile (over, rounds, 0.5), quantile (over, rounds, 0.25), quantile (over, rounds, 0.75));
  CHECK (og == 1 && oh == 2 && of == 1, "owners %d %d %d", og, oh, of);
  CHECK (ratio[0] > 0 && g > 0 && h > 0, "measured");
  report_and_exit ("bench");
}
