/* Start-up cost, exec to main: runs each program given on the command line
   STARTUP_ROUNDS times, interleaved (round r runs them in rotated order so
   that no program always goes first), and for each run takes the time from
   just before posix_spawn to the CLOCK_MONOTONIC timestamp main reports
   (startup.c), and to the end of waitpid.  Reports per program the median
   and interquartile range, and per program after the first the median of
   the per-round ratios to the first (the baseline), with the load average
   before and after.  Built against glibc (the runner is not measured).  */
#define _GNU_SOURCE 1
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define MAX_PROGRAMS 4
#define MAX_ROUNDS 20000

static double
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One run: ns from spawn to main, and to the end of waitpid; -1 on error.  */
static int
run_once (const char *bin, double *to_main, double *to_exit)
{
  extern char **environ;
  int fds[2];
  if (pipe (fds) != 0)
    return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, fds[1], 1);
  posix_spawn_file_actions_addclose (&fa, fds[0]);
  char *argv[] = { (char *) bin, NULL };
  pid_t pid;
  double t0 = now_ns ();
  int r = posix_spawn (&pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (fds[1]);
  if (r != 0)
    {
      close (fds[0]);
      return -1;
    }
  struct timespec at_main;
  ssize_t got = read (fds[0], &at_main, sizeof at_main);
  close (fds[0]);
  int status = 0;
  waitpid (pid, &status, 0);
  *to_exit = now_ns () - t0;
  if (got != sizeof at_main || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return -1;
  *to_main = at_main.tv_sec * 1e9 + at_main.tv_nsec - t0;
  return 0;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
quantile (double *v, int n, double q)
{
  qsort (v, n, sizeof *v, cmp);
  return v[(int) (q * (n - 1) + 0.5)];
}

static void
loadavg (const char *when)
{
  char line[128] = "?\n";
  FILE *f = fopen ("/proc/loadavg", "r");
  if (f)
    {
      if (!fgets (line, sizeof line, f))
        strcpy (line, "?\n");
      fclose (f);
    }
  printf ("load average %s: %s", when, line);
}

static double to_main[MAX_PROGRAMS][MAX_ROUNDS], to_exit[MAX_PROGRAMS][MAX_ROUNDS];
static double ratio_main[MAX_PROGRAMS][MAX_ROUNDS], ratio_exit[MAX_PROGRAMS][MAX_ROUNDS];

int
main (int argc, char **argv)
{
  int n = argc - 1;
  const char *e = getenv ("STARTUP_ROUNDS");
  int rounds = e ? atoi (e) : 2000;
  if (n < 2 || n > MAX_PROGRAMS || rounds < 1 || rounds > MAX_ROUNDS)
    {
      fprintf (stderr, "usage: STARTUP_ROUNDS=N %s BASELINE PROGRAM... (2-%d programs)\n",
               argv[0], MAX_PROGRAMS);
      return 2;
    }
  loadavg ("before");
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < n; k++)
      {
        int p = (r + k) % n;
        if (run_once (argv[1 + p], &to_main[p][r], &to_exit[p][r]) != 0)
          {
            printf ("FAIL: %s did not run cleanly\n", argv[1 + p]);
            return 1;
          }
      }
  loadavg ("after");
  for (int p = 1; p < n; p++)
    for (int r = 0; r < rounds; r++)
      {
        ratio_main[p][r] = to_main[p][r] / to_main[0][r];
        ratio_exit[p][r] = to_exit[p][r] / to_exit[0][r];
      }
  printf ("exec to main and to exit, %d interleaved rounds:\n", rounds);
  for (int p = 0; p < n; p++)
    {
      double m = quantile (to_main[p], rounds, 0.5);
      double m25 = quantile (to_main[p], rounds, 0.25), m75 = quantile (to_main[p], rounds, 0.75);
      double x = quantile (to_exit[p], rounds, 0.5);
      printf ("  %-40s to main: median %8.1f us (IQR %.1f-%.1f), to exit: median %8.1f us",
              argv[1 + p], m / 1e3, m25 / 1e3, m75 / 1e3, x / 1e3);
      if (p > 0)
        printf ("; ratio to %s: to main %.3f (IQR %.3f-%.3f), to exit %.3f",
                p ? "baseline" : "", quantile (ratio_main[p], rounds, 0.5),
                quantile (ratio_main[p], rounds, 0.25), quantile (ratio_main[p], rounds, 0.75),
                quantile (ratio_exit[p], rounds, 0.5));
      printf ("\n");
    }
  return 0;
}
