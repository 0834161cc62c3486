/* The read sides through calls, for bench_rcu.c: built without
   _LGPL_SOURCE, so liburcu's read_lock/unlock are its exported functions;
   ours are the library's (<rseq-percpu.h>).  */
#define _GNU_SOURCE
#include <stdint.h>
#include <time.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-mb.h>
#include <urcu/urcu-signal.h>
#include <urcu/urcu-bp.h>
#include <urcu/urcu-qsbr.h>
#include <rseq-percpu.h>

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

double calls_ours (void *rcu, long n)
{ return LOOP (n, { int p = rseq_percpu_rcu_read_lock (rcu);
                    rseq_percpu_rcu_read_unlock (rcu, p); }); }
double calls_memb (long n)
{ return LOOP (n, { urcu_memb_read_lock (); urcu_memb_read_unlock (); }); }
double calls_bp (long n)
{ return LOOP (n, { urcu_bp_read_lock (); urcu_bp_read_unlock (); }); }
double calls_mb (long n)
{ return LOOP (n, { urcu_mb_read_lock (); urcu_mb_read_unlock (); }); }
double calls_signal (long n)
{ return LOOP (n, { urcu_signal_read_lock (); urcu_signal_read_unlock (); }); }
double calls_qsbr_qs (long n)
{ return LOOP (n, { urcu_qsbr_quiescent_state (); }); }
