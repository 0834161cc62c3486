/* The NUMA-aware spin lock (rseq_percpu_numa_*) on a guest with two NUMA
   nodes (tests/kernels/numa.sh: qemu -smp 4, CPUs 0-1 node 0, CPUs 2-3
   node 1).  Static, linked with librseq_libc.a.  Every thread is pinned,
   so each lock call's node (read by the lock from rseq's node_id) is
   known in advance, and every check below is exact:

   1. node_id: pinned to each CPU, the area's node_id, rseq_libc_current_node
      and the getcpu system call agree with the topology given in argv.
   2. Hand-off order with real nodes: a holder on CPU 0 (node 0) holds
      while waiters on CPUs 1 (node 0), 2 and 3 (node 1) queue; after the
      release the lock must go to node 0's waiter first (local hand-off),
      then to node 1 (remote), then within node 1; with bound 1 and two
      node-0 waiters: node 0, node 1 (forced by the bound), node 0.
   3. Contention: 2 threads per CPU, exact plain counter, and a log of
      every acquisition (node, how it came): a local hand-off always stays
      on the previous holder's node, a remote one always changes node, no
      node gets more than BOUND counted local hand-offs in a row, the
      counters match the log.

   Usage: numa_test NODE_OF_CPU0 NODE_OF_CPU1 ...  Ends with "N passed,
   N failed".  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/rseq.h>
#include <rseq-percpu.h>
#include <rseq-libc.h>

#define MAXCPU 16
#define BOUND 4
#define ITERS 1500

static int ncpu, node_of[MAXCPU];
static void *lock;

static int
pin (int cpu)
{
  cpu_set_t set;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  return sched_setaffinity (0, sizeof set, &set);
}

static void *
alloc_lock (int bound)
{
  size_t size = rseq_percpu_numa_lock_size ();
  void *p = aligned_alloc (RSEQ_PERCPU_ALIGN, (size + 63) & ~(size_t) 63);
  if (p == NULL
      || rseq_percpu_numa_lock_init (p, size, -1, bound) != 0)
    abort ();
  return p;
}

static void
check_nodes (void)
{
  struct rseq *area = rseq_libc_area ();
  CHECK (area != NULL && rseq_libc_feature_size () >= 24,
         "an area with node_id (feature size %d)", rseq_libc_feature_size ());
  for (int c = 0; c < ncpu; c++)
    {
      CHECK (pin (c) == 0, "pin %d", c);
      unsigned int sys_node = 99;
      int sys_cpu = syscall_getcpu (&sys_node);
      int api = rseq_libc_current_node ();
      int raw = area ? (int) __atomic_load_n (&area->node_id, __ATOMIC_RELAXED)
                     : -1;
      printf ("cpu %d: getcpu cpu %d node %u, rseq node_id %d, "
              "rseq_libc_current_node %d, expected %d\n",
              c, sys_cpu, sys_node, raw, api, node_of[c]);
      CHECK (sys_cpu == c && (int) sys_node == node_of[c]
                 && raw == node_of[c] && api == node_of[c],
             "cpu %d: node mismatch", c);
    }
}

/* ---- 2. hand-off order ----------------------------------------------- */

static int order_node[8], order_kind[8], norder;

static void *
order_waiter (void *arg)
{
  int cpu = (int) (long) arg;
  if (pin (cpu) != 0)
    abort ();
  int kind = rseq_percpu_numa_lock (lock);
  order_node[norder] = rseq_libc_current_node ();
  order_kind[norder] = kind;
  norder++;
  rseq_percpu_numa_unlock (lock);
  return NULL;
}

static void
handoff_order (const char *name, int bound, const int *cpus, int n,
               const int *want_node, const int *want_kind)
{
  lock = alloc_lock (bound);
  norder = 0;
  CHECK (pin (0) == 0, "pin 0");
  CHECK (rseq_percpu_numa_lock (lock) == RSEQ_PERCPU_HANDOFF_NONE, "take");
  int want0 = 0, want1 = 0;
  pthread_t ts[8];
  for (int i = 0; i < n; i++)
    {
      pthread_create (&ts[i], NULL, order_waiter, (void *) (long) cpus[i]);
      if (node_of[cpus[i]] == 0)
        want0++;
      else
        want1++;
    }
  while (rseq_percpu_numa_waiters (lock, 0) != want0
         || rseq_percpu_numa_waiters (lock, 1) != want1)
    sched_yield ();
  rseq_percpu_numa_unlock (lock);
  for (int i = 0; i < n; i++)
    pthread_join (ts[i], NULL);
  int ok = norder == n;
  printf ("%s: order", name);
  for (int i = 0; i < norder; i++)
    {
      printf (" node%d/%d", order_node[i], order_kind[i]);
      ok = ok && order_node[i] == want_node[i] && order_kind[i] == want_kind[i];
    }
  printf ("\n");
  CHECK (ok, "%s: wrong hand-off order", name);
  free (lock);
}

/* ---- 3. contention ---------------------------------------------------- */

static volatile uint64_t counter;
static struct entry { int8_t node, kind, expect; } *entries;
static unsigned nentries;

static void *
contender (void *arg)
{
  int cpu = (int) (long) arg;
  if (pin (cpu) != 0)
    abort ();
  for (int i = 0; i < ITERS; i++)
    {
      int kind = rseq_percpu_numa_lock (lock);
      struct entry *e = &entries[nentries++];
      e->node = (int8_t) rseq_libc_current_node ();
      e->kind = (int8_t) kind;
      e->expect = (int8_t) node_of[cpu];
      uint64_t v = counter;
      for (int k = 0; k < 50; k++)
        cpu_relax ();
      counter = v + 1;
      rseq_percpu_numa_unlock (lock);
    }
  return NULL;
}

static void
contention (void)
{
  int nthreads = 2 * ncpu;
  lock = alloc_lock (BOUND);
  entries = calloc ((size_t) nthreads * ITERS, sizeof *entries);
  counter = 0;
  nentries = 0;
  pthread_t ts[2 * MAXCPU];
  for (int i = 0; i < nthreads; i++)
    pthread_create (&ts[i], NULL, contender, (void *) (long) (i % ncpu));
  for (int i = 0; i < nthreads; i++)
    pthread_join (ts[i], NULL);
  CHECK (counter == (uint64_t) nthreads * ITERS && nentries == counter,
         "counter %llu, log %u", (unsigned long long) counter, nentries);
  unsigned bad_node = 0, bad_local = 0, bad_remote = 0, over = 0, run = 0;
  unsigned kinds[4] = { 0, 0, 0, 0 }, maxrun = 0;
  for (unsigned i = 0; i < nentries; i++)
    {
      struct entry *e = &entries[i];
      kinds[e->kind & 3]++;
      bad_node += e->node != e->expect;
      if (i > 0)
        {
          int same = e->node == entries[i - 1].node;
          bad_local += (e->kind == RSEQ_PERCPU_HANDOFF_LOCAL
                        || e->kind == RSEQ_PERCPU_HANDOFF_LOCAL_UNCONTESTED)
                       && !same;
          bad_remote += e->kind == RSEQ_PERCPU_HANDOFF_REMOTE && same;
        }
      run = e->kind == RSEQ_PERCPU_HANDOFF_LOCAL ? run + 1 : 0;
      maxrun = run > maxrun ? run : maxrun;
      over += run > BOUND;
    }
  struct rseq_percpu_lock_stats s;
  rseq_percpu_numa_stats (lock, &s, sizeof s);
  printf ("contention: %d threads x %d, bound %d: none %u, local %u, "
          "local-uncontested %u, remote %u; longest counted local run %u; "
          "stats: local %llu, remote %llu (bounded %llu), sleeps %llu, "
          "holder_not_running %llu\n",
          nthreads, ITERS, BOUND, kinds[0], kinds[1], kinds[2], kinds[3],
          maxrun, (unsigned long long) s.handoff_local,
          (unsigned long long) s.handoff_remote,
          (unsigned long long) s.handoff_bounded,
          (unsigned long long) s.sleeps,
          (unsigned long long) s.holder_not_running);
  CHECK (bad_node == 0, "%u acquisitions with a node other than the CPU's",
         bad_node);
  CHECK (bad_local == 0, "%u local hand-offs changed node", bad_local);
  CHECK (bad_remote == 0, "%u remote hand-offs stayed on the node",
         bad_remote);
  CHECK (over == 0, "%u counted local hand-offs beyond the bound", over);
  CHECK (s.handoff_local == kinds[1] + kinds[2]
             && s.handoff_remote == kinds[3],
         "stats do not match the log");
  free (entries);
  free (lock);
}

int
main (int argc, char **argv)
{
  ncpu = argc - 1 > MAXCPU ? MAXCPU : argc - 1;
  for (int c = 0; c < ncpu; c++)
    node_of[c] = atoi (argv[c + 1]);
  if (ncpu < 4 || node_of[1] != 0 || node_of[2] != 1 || node_of[3] != 1)
    {
      printf ("usage: numa_test 0 0 1 1 (CPUs 0-1 node 0, 2-3 node 1)\n");
      return 2;
    }
  check_nodes ();
  /* Waiters on CPU 1 (node 0), 2 and 3 (node 1).  */
  static const int c16[3] = { 1, 2, 3 };
  static const int n16[3] = { 0, 1, 1 };
  static const int k16[3] = { RSEQ_PERCPU_HANDOFF_LOCAL,
                              RSEQ_PERCPU_HANDOFF_REMOTE,
                              RSEQ_PERCPU_HANDOFF_LOCAL_UNCONTESTED };
  handoff_order ("bound 16", 16, c16, 3, n16, k16);
  /* Two node-0 waiters (CPU 1) and one of node 1 (CPU 2), bound 1.  */
  static const int c1[3] = { 1, 1, 2 };
  static const int n1[3] = { 0, 1, 0 };
  static const int k1[3] = { RSEQ_PERCPU_HANDOFF_LOCAL,
                             RSEQ_PERCPU_HANDOFF_REMOTE,
                             RSEQ_PERCPU_HANDOFF_REMOTE };
  handoff_order ("bound 1", 1, c1, 3, n1, k1);
  contention ();
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
