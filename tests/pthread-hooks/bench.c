/* pthread_create + pthread_join: the hooks (glibc.pthread.rseq=0, the
   component registers) against glibc's own registering path (the hooks do
   nothing), in one run: the parent re-executes itself alternately in both
   modes, BENCH_ROUNDS times each, and reports each mode's median
   nanoseconds per create+join and the ratio.  Also a musl-static figure
   when given a second binary (argv[1]).  */
#include "check.h"
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

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
child (void)
{
  int n = env_int ("BENCH_ITERATIONS", 20000);
  pthread_t t;
  for (int i = 0; i < 500; i++)
    if (pthread_create (&t, NULL, nothing, NULL) == 0)
      pthread_join (t, NULL);
  double start = now ();
  for (int i = 0; i < n; i++)
    {
      if (pthread_create (&t, NULL, nothing, NULL) != 0)
        return 1;
      pthread_join (t, NULL);
    }
  printf ("%d %.1f\n", rseq_libc_owner (), (now () - start) / n);
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

int
main (int argc, char **argv)
{
  if (getenv ("BENCH_CHILD"))
    return child ();
  int rounds = env_int ("BENCH_ROUNDS", 7);
  double glibc[64], hooks[64], musl[64];
  int og = -1, oh = -1, om = -1;
  if (rounds > 64)
    rounds = 64;
  for (int r = 0; r < rounds; r++)
    {
      glibc[r] = measure ("/proc/self/exe", NULL, &og);
      hooks[r] = measure ("/proc/self/exe", "GLIBC_TUNABLES=glibc.pthread.rseq=0", &oh);
      musl[r] = argc > 1 ? measure (argv[1], NULL, &om) : 0;
    }
  qsort (glibc, rounds, sizeof (double), cmp);
  qsort (hooks, rounds, sizeof (double), cmp);
  qsort (musl, rounds, sizeof (double), cmp);
  double g = glibc[rounds / 2], h = hooks[rounds / 2];
  printf ("pthread_create+join, median of %d runs:\n", rounds);
  printf ("  glibc registers (owner %d):            %8.1f ns\n", og, g);
  printf ("  hooks, component registers (owner %d): %8.1f ns\n", oh, h);
  if (argc > 1)
    printf ("  musl static, hooks (owner %d):         %8.1f ns\n", om, musl[rounds / 2]);
  printf ("  ratio hooks/glibc: %.3f\n", h / g);
  CHECK (og == 1 && oh == 2, "owners %d %d", og, oh);
  CHECK (g > 0 && h > 0, "measured");
  report_and_exit ("bench");
}
