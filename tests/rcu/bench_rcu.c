/* The per-CPU RCU beside Debian's liburcu (0.13), in one run: read-side
   lock+unlock cost inline (liburcu's _LGPL_SOURCE fast paths; ours from
   <rseq-percpu-inline.h>) and through calls (bench_rcu_calls.c, built
   without _LGPL_SOURCE: liburcu's exported functions; ours the library's),
   against urcu-bp, memb, mb, signal and qsbr (whose read side is free:
   compared with its quiescent_state); then synchronize latency with 1,
   100, 1000 and 10000 idle threads alive (registered where the flavor
   requires it, each having run one read section; qsbr threads offline).
   Prints one table and the targets met or missed.

   Usage: bench_rcu [--quick] (fewer iterations and no 10000 row).  */
#define _GNU_SOURCE
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-mb.h>
#include <urcu/urcu-signal.h>
#include <urcu/urcu-bp.h>
#include <urcu/urcu-qsbr.h>
#include <rseq-percpu-inline.h>

/* bench_rcu_calls.c */
double calls_ours (void *rcu, long iters);
double calls_memb (long iters);
double calls_bp (long iters);
double calls_mb (long iters);
double calls_signal (long iters);
double calls_qsbr_qs (long iters);

static double
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#define LOOP(iters, body)                                       \
  ({                                                            \
    double t0_ = now_ns ();                                     \
    for (long i_ = 0; i_ < (iters); i_++)                       \
      {                                                         \
        body;                                                   \
        __asm__ volatile ("" ::: "memory");                     \
      }                                                         \
    (now_ns () - t0_) / (iters);                                \
  })

static void *rcu;

static double inline_ours (long n)
{ return LOOP (n, { int p = rseq_percpu_inline_rcu_read_lock (rcu);
                    rseq_percpu_inline_rcu_read_unlock (rcu, p); }); }
static double inline_memb (long n)
{ return LOOP (n, { urcu_memb_read_lock (); urcu_memb_read_unlock (); }); }
static double inline_bp (long n)
{ return LOOP (n, { urcu_bp_read_lock (); urcu_bp_read_unlock (); }); }
static double inline_mb (long n)
{ return LOOP (n, { urcu_mb_read_lock (); urcu_mb_read_unlock (); }); }
static double inline_signal (long n)
{ return LOOP (n, { urcu_signal_read_lock (); urcu_signal_read_unlock (); }); }
static double inline_qsbr_qs (long n)
{ return LOOP (n, { urcu_qsbr_quiescent_state (); }); }

/* Best of 7: the machine is shared; the minimum is the cost.  */
static double
best (double (*f) (long), long n)
{
  double b = 1e30;
  for (int k = 0; k < 7; k++)
    {
      double v = f (n);
      if (v < b)
        b = v;
    }
  return b;
}

static double
best_calls (double (*f) (long), long n)
{
  return best (f, n);
}

static long ours_iters;
static double calls_ours_wrap (long n) { return calls_ours (rcu, n); }

/* ---- synchronize latency with idle threads ---- */

enum flavor { OURS, MEMB, BP, MB, SIGNAL, QSBR, NFLAVORS };
static const char *const names[NFLAVORS] = { "rseq-libc", "urcu-memb", "urcu-bp",
                                            "urcu-mb", "urcu-signal", "urcu-qsbr" };

static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static int idle_release, idle_ready;

static void *
idle_thread (void *arg)
{
  enum flavor f = (enum flavor) (long) arg;
  switch (f)
    {
    case OURS:
      {
        int p = rseq_percpu_inline_rcu_read_lock (rcu);
        rseq_percpu_inline_rcu_read_unlock (rcu, p);
        break;
      }
    case MEMB:
      urcu_memb_register_thread ();
      urcu_memb_read_lock ();
      urcu_memb_read_unlock ();
      break;
    case BP:
      urcu_bp_read_lock ();
      urcu_bp_read_unlock ();
      break;
    case MB:
      urcu_mb_register_thread ();
      urcu_mb_read_lock ();
      urcu_mb_read_unlock ();
      break;
    case SIGNAL:
      urcu_signal_register_thread ();
      urcu_signal_read_lock ();
      urcu_signal_read_unlock ();
      break;
    case QSBR:
      urcu_qsbr_register_thread ();
      urcu_qsbr_read_lock ();
      urcu_qsbr_read_unlock ();
      urcu_qsbr_thread_offline ();
      break;
    default:
      break;
    }
  pthread_mutex_lock (&idle_mu);
  idle_ready++;
  pthread_cond_broadcast (&idle_cv);
  while (!idle_release)
    pthread_cond_wait (&idle_cv, &idle_mu);
  pthread_mutex_unlock (&idle_mu);
  switch (f)
    {
    case MEMB: urcu_memb_unregister_thread (); break;
    case MB: urcu_mb_unregister_thread (); break;
    case SIGNAL: urcu_signal_unregister_thread (); break;
    case QSBR:
      urcu_qsbr_thread_online ();
      urcu_qsbr_unregister_thread ();
      break;
    default: break;
    }
  return NULL;
}

static void
sync_once (enum flavor f)
{
  switch (f)
    {
    case OURS: rseq_percpu_rcu_synchronize (rcu); break;
    case MEMB: urcu_memb_synchronize_rcu (); break;
    case BP: urcu_bp_synchronize_rcu (); break;
    case MB: urcu_mb_synchronize_rcu (); break;
    case SIGNAL: urcu_signal_synchronize_rcu (); break;
    case QSBR: urcu_qsbr_synchronize_rcu (); break;
    default: break;
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median of M synchronize calls, in microseconds.  */
static double
sync_median (enum flavor f, int m)
{
  double v[200];
  if (m > 200)
    m = 200;
  sync_once (f); /* warm */
  for (int k = 0; k < m; k++)
    {
      double t0 = now_ns ();
      sync_once (f);
      v[k] = (now_ns () - t0) / 1e3;
    }
  qsort (v, m, sizeof v[0], cmp_double);
  return v[m / 2];
}

#define MAXT 10000
static pthread_t tids[MAXT];
static const int counts[] = { 1, 100, 1000, 10000 };
static double lat[NFLAVORS][4];

static void
sync_rows (int nrows)
{
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 64 * 1024);
  for (int f = 0; f < NFLAVORS; f++)
    {
      int alive = 0;
      idle_release = 0;
      idle_ready = 0;
      for (int r = 0; r < nrows; r++)
        {
          while (alive < counts[r])
            {
              if (pthread_create (&tids[alive], &attr, idle_thread, (void *) (long) f) != 0)
                {
                  fprintf (stderr, "pthread_create: %s at %d threads\n", strerror (errno), alive);
                  exit (1);
                }
              alive++;
            }
          pthread_mutex_lock (&idle_mu);
          while (idle_ready < alive)
            pthread_cond_wait (&idle_cv, &idle_mu);
          pthread_mutex_unlock (&idle_mu);
          int m = counts[r] >= 10000 ? (f == SIGNAL ? 9 : 31) : counts[r] >= 1000 ? 51 : 101;
          lat[f][r] = sync_median ((enum flavor) f, m);
        }
      pthread_mutex_lock (&idle_mu);
      idle_release = 1;
      pthread_cond_broadcast (&idle_cv);
      pthread_mutex_unlock (&idle_mu);
      for (int k = 0; k < alive; k++)
        pthread_join (tids[k], NULL);
    }
}

static const char *
verdict (int ok)
{
  return ok ? "MET" : "MISSED";
}

int
main (int argc, char **argv)
{
  int quick = argc > 1 && !strcmp (argv[1], "--quick");
  long n = quick ? 2000000 : 20000000;
  int nrows = quick ? 3 : 4;
  rcu = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_rcu_size ());
  if (!rcu || rseq_percpu_rcu_init (rcu, rseq_percpu_rcu_size (), RSEQ_PERCPU_CPU_ID) != 0)
    {
      fprintf (stderr, "rseq_percpu_rcu_init failed\n");
      return 1;
    }
  ours_iters = n;
  /* The measuring thread is registered with every flavor that needs it.  */
  urcu_memb_register_thread ();
  urcu_mb_register_thread ();
  urcu_signal_register_thread ();
  urcu_qsbr_register_thread ();
  int idx = rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID);
  printf ("rseq area: %s; liburcu 0.13 (Debian liburcu-dev)\n",
          idx >= 0 ? "registered" : "NONE (our fallback path measured)");

  double ri[NFLAVORS], rc[NFLAVORS];
  ri[OURS] = best (inline_ours, n);
  ri[MEMB] = best (inline_memb, n);
  ri[BP] = best (inline_bp, n);
  ri[MB] = best (inline_mb, n);
  ri[SIGNAL] = best (inline_signal, n);
  ri[QSBR] = best (inline_qsbr_qs, n);
  rc[OURS] = best_calls (calls_ours_wrap, n);
  rc[MEMB] = best_calls (calls_memb, n);
  rc[BP] = best_calls (calls_bp, n);
  rc[MB] = best_calls (calls_mb, n);
  rc[SIGNAL] = best_calls (calls_signal, n);
  rc[QSBR] = best_calls (calls_qsbr_qs, n);
  /* synchronize from an offline qsbr thread, unregistered elsewhere.  */
  urcu_qsbr_thread_offline ();
  urcu_memb_unregister_thread ();
  urcu_mb_unregister_thread ();
  urcu_signal_unregister_thread ();
  sync_rows (nrows);

  printf ("\n| flavor | read lock+unlock inline (ns) | through calls (ns) |"
          " synchronize, 1 thread (us) | 100 | 1000 | 10000 |\n");
  printf ("|---|---|---|---|---|---|---|\n");
  for (int f = 0; f < NFLAVORS; f++)
    {
      printf ("| %s%s | %.2f | %.2f |", names[f], f == QSBR ? " (quiescent_state)" : "",
              ri[f], rc[f]);
      for (int r = 0; r < 4; r++)
        if (r < nrows)
          printf (" %.1f |", lat[f][r]);
        else
          printf (" - |");
      printf ("\n");
    }
  printf ("\ntargets:\n");
  printf ("  inline read side <= urcu-bp's: %.2f vs %.2f ns: %s\n", ri[OURS], ri[BP],
          verdict (ri[OURS] <= ri[BP]));
  printf ("  calls <= half of liburcu's (memb %.2f, bp %.2f): %.2f ns: %s\n", rc[MEMB],
          rc[BP], rc[OURS], verdict (rc[OURS] <= rc[MEMB] / 2 && rc[OURS] <= rc[BP] / 2));
  printf ("  synchronize, 1 thread, <= urcu-memb's: %.1f vs %.1f us: %s\n", lat[OURS][0],
          lat[MEMB][0], verdict (lat[OURS][0] <= lat[MEMB][0]));
  printf ("  synchronize, 1000 threads, >= 3x faster than urcu-bp: %.1f vs %.1f us (%.1fx): %s\n",
          lat[OURS][2], lat[BP][2], lat[BP][2] / lat[OURS][2],
          verdict (lat[BP][2] >= 3 * lat[OURS][2]));
  if (nrows > 3)
    printf ("  synchronize, 10000 threads, >= 20x faster than urcu-bp: %.1f vs %.1f us (%.1fx): %s\n",
            lat[OURS][3], lat[BP][3], lat[BP][3] / lat[OURS][3],
            verdict (lat[BP][3] >= 20 * lat[OURS][3]));
  return 0;
}
