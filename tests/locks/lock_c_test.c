/* The spin locks of headers/rseq-percpu.h from C: mutual exclusion over a
   plain (non-atomic) counter with many more threads than CPUs, while a
   signal storm interrupts every thread (also inside futex sleeps);
   preemption tracking with the holder and the waiter pinned to one CPU
   (judged by the lock's counters: with an rseq area the waiter must see
   the holder not running at its first check, without one it cannot and
   spends its budget); the NUMA lock's hand-off order with given nodes;
   bad input.  Ends with "N passed, N failed".  LOCK_C_ITERS (default
   20000): lock and unlock pairs per thread in the exclusion tests (the
   aarch64 guests of tests/arch-guests pass fewer: TCG).  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <rseq-percpu.h>
#include <rseq-libc.h>

#define ITERS 20000

static int iters = ITERS; /* LOCK_C_ITERS */

static int nthreads;
static void *lock;
static int numa;               /* 0: spinlock; 1: numa lock; 2: numa lock_as */
static volatile uint64_t counter;
static int workers_done; /* the signaller stops when all are done */
static uint64_t signals_handled;

static void
on_signal (int sig)
{
  (void) sig;
  __atomic_fetch_add (&signals_handled, 1, __ATOMIC_RELAXED);
}

static void
take (long t)
{
  int r = numa == 0   ? rseq_percpu_spinlock_lock (lock)
          : numa == 1 ? rseq_percpu_numa_lock (lock)
                      : rseq_percpu_numa_lock_as (lock, (int) (t % 3));
  if (r < 0)
    {
      printf ("FAIL lock: %d\n", r);
      abort ();
    }
}

static void
give (void)
{
  int r = numa == 0 ? rseq_percpu_spinlock_unlock (lock)
                    : rseq_percpu_numa_unlock (lock);
  if (r != 0)
    {
      printf ("FAIL unlock: %d\n", r);
      abort ();
    }
}

static void *
worker (void *arg)
{
  long t = (long) arg;
  for (int i = 0; i < iters; i++)
    {
      take (t);
      uint64_t v = counter;
      for (int k = 0; k < 20; k++)
        cpu_relax ();
      counter = v + 1;
      give ();
      if (i % 1024 == 0)
        sched_yield ();
    }
  __atomic_fetch_add (&workers_done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void *
signaller (void *arg)
{
  pthread_t *ts = arg;
  /* Only threads not yet joined are signalled: main joins the workers
     after this thread.  */
  while (__atomic_load_n (&workers_done, __ATOMIC_SEQ_CST) < nthreads)
    {
      for (int i = 0; i < nthreads; i++)
        pthread_kill (ts[i], SIGUSR1);
      usleep (200);
    }
  return NULL;
}

static void *
alloc_lock (size_t size)
{
  void *p = aligned_alloc (RSEQ_PERCPU_ALIGN,
                           (size + RSEQ_PERCPU_ALIGN - 1)
                               & ~(size_t) (RSEQ_PERCPU_ALIGN - 1));
  if (p == NULL)
    abort ();
  return p;
}

static void
exclusion (const char *name, int kind, int spin_limit)
{
  numa = kind;
  if (kind == 0)
    {
      lock = alloc_lock (rseq_percpu_spinlock_size ());
      CHECK (rseq_percpu_spinlock_init (lock, rseq_percpu_spinlock_size (),
                                        spin_limit) == 0, "%s", name);
    }
  else
    {
      lock = alloc_lock (rseq_percpu_numa_lock_size ());
      CHECK (rseq_percpu_numa_lock_init (lock, rseq_percpu_numa_lock_size (),
                                         spin_limit, 2) == 0, "%s", name);
    }
  counter = 0;
  workers_done = 0;
  pthread_t ts[256], sig;
  for (long i = 0; i < nthreads; i++)
    pthread_create (&ts[i], NULL, worker, (void *) i);
  pthread_create (&sig, NULL, signaller, ts);
  pthread_join (sig, NULL);
  for (int i = 0; i < nthreads; i++)
    pthread_join (ts[i], NULL);
  struct rseq_percpu_lock_stats s;
  if (kind == 0)
    rseq_percpu_spinlock_stats (lock, &s, sizeof s);
  else
    rseq_percpu_numa_stats (lock, &s, sizeof s);
  CHECK (counter == (uint64_t) nthreads * iters,
         "%s: counter %llu, expected %llu", name,
         (unsigned long long) counter,
         (unsigned long long) nthreads * iters);
  printf ("%s: %d threads x %d: counter exact=%d; contended %llu, "
          "holder_not_running %llu, spin_exhausted %llu, sleeps %llu, "
          "wakes %llu, local %llu, remote %llu\n",
          name, nthreads, iters, counter == (uint64_t) nthreads * iters,
          (unsigned long long) s.contended,
          (unsigned long long) s.holder_not_running,
          (unsigned long long) s.spin_exhausted,
          (unsigned long long) s.sleeps, (unsigned long long) s.wakes,
          (unsigned long long) s.handoff_local,
          (unsigned long long) s.handoff_remote);
  free (lock);
}

static int
pin (int cpu)
{
  cpu_set_t set;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  return sched_setaffinity (0, sizeof set, &set);
}

static int first_cpu, second_cpu = -1;
static volatile int held, waiter_in, broken;

static struct rseq_percpu_lock_stats
stats_of (void *l)
{
  struct rseq_percpu_lock_stats s;
  memset (&s, 0, sizeof s);
  rseq_percpu_spinlock_stats (l, &s, sizeof s);
  return s;
}

static void *
pinned_holder (void *arg)
{
  (void) arg;
  if (pin (first_cpu) != 0)
    abort ();
  rseq_percpu_spinlock_lock (lock);
  __atomic_store_n (&held, 1, __ATOMIC_SEQ_CST);
  /* Runnable but off the CPU while the waiter runs there: yield until the
     waiter has gone to sleep (whatever made it).  */
  while (stats_of (lock).sleeps == 0
         && !__atomic_load_n (&waiter_in, __ATOMIC_SEQ_CST))
    sched_yield ();
  /* A waiter inside while this thread holds the lock: a broken lock.  */
  broken = __atomic_load_n (&waiter_in, __ATOMIC_SEQ_CST);
  rseq_percpu_spinlock_unlock (lock);
  return NULL;
}

static void *
pinned_waiter (void *arg)
{
  if (pin ((int) (long) arg) != 0)
    abort ();
  while (!__atomic_load_n (&held, __ATOMIC_SEQ_CST))
    sched_yield ();
  rseq_percpu_spinlock_lock (lock);
  __atomic_store_n (&waiter_in, 1, __ATOMIC_SEQ_CST);
  rseq_percpu_spinlock_unlock (lock);
  return NULL;
}

static struct rseq_percpu_lock_stats
holder_and_waiter (int wcpu)
{
  lock = alloc_lock (rseq_percpu_spinlock_size ());
  rseq_percpu_spinlock_init (lock, rseq_percpu_spinlock_size (), -1);
  held = waiter_in = broken = 0;
  pthread_t h, w;
  pthread_create (&h, NULL, pinned_holder, NULL);
  pthread_create (&w, NULL, pinned_waiter, (void *) (long) wcpu);
  pthread_join (h, NULL);
  pthread_join (w, NULL);
  struct rseq_percpu_lock_stats s = stats_of (lock);
  CHECK (!broken, "the waiter got the lock while it was held");
  free (lock);
  return s;
}

static void
preemption_tracking (void)
{
  int area = rseq_libc_area () != NULL;
  struct rseq_percpu_lock_stats s = holder_and_waiter (first_cpu);
  printf ("pinned to CPU %d both (area: %s): holder_not_running %llu, "
          "spin_exhausted %llu, sleeps %llu\n",
          first_cpu, area ? "yes" : "no",
          (unsigned long long) s.holder_not_running,
          (unsigned long long) s.spin_exhausted,
          (unsigned long long) s.sleeps);
  CHECK (s.contended == 1, "contended %llu", (unsigned long long) s.contended);
  CHECK (s.sleeps >= 1, "the waiter never slept");
  if (area)
    {
      CHECK (s.holder_not_running == 1 && s.spin_exhausted == 0,
             "same CPU: the waiter did not see the holder not running "
             "(holder_not_running %llu, spin_exhausted %llu)",
             (unsigned long long) s.holder_not_running,
             (unsigned long long) s.spin_exhausted);
    }
  else
    {
      /* Without rseq nothing is published: the budget decides.  */
      CHECK (s.holder_not_running == 0 && s.spin_exhausted == 1,
             "no area: holder_not_running %llu, spin_exhausted %llu",
             (unsigned long long) s.holder_not_running,
             (unsigned long long) s.spin_exhausted);
    }
  if (second_cpu >= 0)
    {
      s = holder_and_waiter (second_cpu);
      printf ("holder on CPU %d, waiter on CPU %d: holder_not_running %llu, "
              "spin_exhausted %llu (not detectable)\n",
              first_cpu, second_cpu,
              (unsigned long long) s.holder_not_running,
              (unsigned long long) s.spin_exhausted);
      CHECK (s.holder_not_running == 0 && s.spin_exhausted == 1,
             "other CPU: holder_not_running %llu, spin_exhausted %llu",
             (unsigned long long) s.holder_not_running,
             (unsigned long long) s.spin_exhausted);
    }
}

/* Hand-off order: node 0 holds; waiters of nodes 0, 0, 1 queue; with
   bound 1 the order must be 0, 1, 0; with bound 16: 0, 0, 1.  */
static int order[3], kinds[3], norder;

static void *
numa_waiter (void *arg)
{
  int node = (int) (long) arg;
  int h = rseq_percpu_numa_lock_as (lock, node);
  order[norder] = node;
  kinds[norder] = h;
  norder++;
  rseq_percpu_numa_unlock (lock);
  return NULL;
}

static void
handoff_order (int bound, const int *want_nodes, const int *want_kinds)
{
  lock = alloc_lock (rseq_percpu_numa_lock_size ());
  rseq_percpu_numa_lock_init (lock, rseq_percpu_numa_lock_size (), -1, bound);
  norder = 0;
  CHECK (rseq_percpu_numa_lock_as (lock, 0) == RSEQ_PERCPU_HANDOFF_NONE,
         "first lock");
  pthread_t ts[3];
  static const int nodes[3] = { 0, 0, 1 };
  for (int i = 0; i < 3; i++)
    pthread_create (&ts[i], NULL, numa_waiter, (void *) (long) nodes[i]);
  while (rseq_percpu_numa_waiters (lock, 0) != 2
         || rseq_percpu_numa_waiters (lock, 1) != 1)
    sched_yield ();
  rseq_percpu_numa_unlock (lock);
  for (int i = 0; i < 3; i++)
    pthread_join (ts[i], NULL);
  int ok = norder == 3;
  for (int i = 0; ok && i < 3; i++)
    ok = order[i] == want_nodes[i] && kinds[i] == want_kinds[i];
  CHECK (ok, "bound %d: order %d/%d %d/%d %d/%d", bound, order[0], kinds[0],
         order[1], kinds[1], order[2], kinds[2]);
  free (lock);
}

static void
bad_input (void)
{
  char buf[1024] __attribute__ ((aligned (64)));
  CHECK (rseq_percpu_spinlock_init (NULL, 4096, -1) == -EINVAL, "null");
  CHECK (rseq_percpu_spinlock_init (buf + 8, 512, -1) == -EINVAL, "align");
  CHECK (rseq_percpu_spinlock_init (buf, 8, -1) == -EINVAL, "size");
  CHECK (rseq_percpu_numa_lock_init (buf, 8, -1, 1) == -EINVAL, "size");
  CHECK (rseq_percpu_spinlock_lock (NULL) == -EINVAL, "null lock");
  CHECK (rseq_percpu_spinlock_lock (buf + 1) == -EINVAL, "misaligned lock");
  CHECK (rseq_percpu_numa_lock (NULL) == -EINVAL, "null numa lock");
  CHECK (rseq_percpu_spinlock_init (buf, sizeof buf, -1) == 0, "init");
  CHECK (rseq_percpu_spinlock_unlock (buf) == -EPERM, "unlock free");
  CHECK (rseq_percpu_spinlock_trylock (buf) == 0, "trylock");
  CHECK (rseq_percpu_spinlock_trylock (buf) == -EBUSY, "trylock held");
  CHECK (rseq_percpu_spinlock_stats (buf, NULL, 88) == -EINVAL, "stats");
  CHECK (rseq_percpu_spinlock_unlock (buf) == 0, "unlock");
  CHECK (rseq_percpu_numa_lock_init (buf, sizeof buf, -1, 0) == 0, "init");
  CHECK (rseq_percpu_numa_lock_as (buf, -1) == -EINVAL, "node -1");
  CHECK (rseq_percpu_numa_waiters (buf, -1) == -EINVAL, "node -1");
  CHECK (rseq_percpu_numa_unlock (buf) == -EPERM, "unlock free");
  CHECK (rseq_percpu_numa_trylock (buf) == 0, "trylock");
  CHECK (rseq_percpu_numa_trylock (buf) == -EBUSY, "trylock held");
  CHECK (rseq_percpu_numa_unlock (buf) == 0, "unlock");
  uint64_t first;
  CHECK (rseq_percpu_numa_stats (buf, (struct rseq_percpu_lock_stats *) &first,
                                 sizeof first) == 0,
         "short stats");
}

int
main (void)
{
  /* Unbuffered: an abort on a broken lock keeps what was printed.  */
  setvbuf (stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGUSR1, &sa, NULL);
  cpu_set_t set;
  sched_getaffinity (0, sizeof set, &set);
  int n = 0;
  first_cpu = -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET (c, &set))
      {
        if (first_cpu < 0)
          first_cpu = c;
        else if (second_cpu < 0)
          second_cpu = c;
        n++;
      }
  nthreads = 4 * n > 256 ? 256 : 4 * n;
  iters = env_int ("LOCK_C_ITERS", ITERS);
  if (iters < 1)
    iters = 1;
  printf ("area: %s, CPUs: %d, threads: %d\n",
          rseq_libc_area () ? "yes" : "no", n, nthreads);
  exclusion ("spinlock", 0, -1);
  exclusion ("spinlock, no spinning", 0, 0);
  exclusion ("numa lock", 1, -1);
  exclusion ("numa lock_as (3 nodes), no spinning", 2, 0);
  printf ("signals handled: %llu\n",
          (unsigned long long) __atomic_load_n (&signals_handled,
                                                __ATOMIC_RELAXED));
  preemption_tracking ();
  static const int n16[3] = { 0, 0, 1 }, k16[3] = { 1, 1, 3 };
  static const int n1[3] = { 0, 1, 0 }, k1[3] = { 1, 3, 3 };
  handoff_order (16, n16, k16);
  handoff_order (1, n1, k1);
  bad_input ();
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
