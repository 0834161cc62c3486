/* The inline C operations of headers/rseq-percpu-inline.h, in every host
   (glibc or rseq-libc owning the area, musl, the standalone test libc, rseq
   unavailable): every raw operation and use-case fast path from several
   threads (more than CPUs), inline and call operations mixed on the same
   words and objects, exact totals; results and errors equal to the calls';
   a thread whose area was unregistered after the inline cache saw it.

   Built twice from this file: plainly (the header as users get it), and
   with -DINLINE_STRESS, which defines the header's injection hooks the way
   the kernel's rseq param_test does: a delay loop inside every section
   (RSEQ_PERCPU_INLINE_INJECT_ASM), and a trap (int3, aarch64's brk #0)
   right before the commit when the thread armed it.  Its SIGTRAP makes the
   kernel move the thread to the section's abort handler,
   deterministically, so the stress build
   checks that every inline operation really aborts there (descriptor,
   signature and handler right) and then completes exactly once.  The
   stress build also runs the threaded tests with the delay, a thread
   sending SIGUSR1 to the workers (whose handler runs inline and call
   counter increments on the same counter) and workers migrating between
   CPUs.

   Usage: percpu_inline_test [--mm-cid] [--delay N] [--no-signals].
   Ends with "N passed, N failed".  Uses only what every host has.  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static __thread long thread_aborts; /* inline attempts that aborted */

#ifdef INLINE_STRESS
static volatile int inject_delay;   /* delay-loop iterations in sections */
static __thread int inject_trap;    /* nonzero: a trap before the commit */
static __thread int thread_traps;   /* SIGTRAPs taken */
/* The hooks use one scratch register the sequences leave alone (see
   rseq-percpu-arch/ARCH.h): the trap is the architecture's breakpoint,
   whose SIGTRAP arrives with the program counter inside the section.  */
# if defined(__x86_64__)
#  define RSEQ_PERCPU_INLINE_INJECT_INPUT                             \
  , [inj_delay] "m" (inject_delay), [inj_trap] "m" (inject_trap)
#  define RSEQ_PERCPU_INLINE_INJECT_CLOBBER , "eax"
#  define INJECT_DELAY                                                \
  "movl %[inj_delay], %%eax\n\t"                                     \
  "testl %%eax, %%eax\n\t"                                           \
  "jz 101f\n\t"                                                      \
  "100:\n\t"                                                         \
  "decl %%eax\n\t"                                                   \
  "jnz 100b\n\t"                                                     \
  "101:\n\t"
#  define INJECT_TRAP                                                 \
  "cmpl $0, %[inj_trap]\n\t"                                         \
  "je 102f\n\t"                                                      \
  "int3\n\t"                                                         \
  "102:\n\t"
# elif defined(__aarch64__)
/* "Q": a single base register, which ldr takes as is.  */
#  define RSEQ_PERCPU_INLINE_INJECT_INPUT                             \
  , [inj_delay] "Q" (inject_delay), [inj_trap] "Q" (inject_trap)
#  define RSEQ_PERCPU_INLINE_INJECT_CLOBBER , "x12"
#  define INJECT_DELAY                                                \
  "ldr w12, %[inj_delay]\n\t"                                        \
  "cbz w12, 101f\n\t"                                                \
  "100:\n\t"                                                         \
  "subs w12, w12, #1\n\t"                                            \
  "b.ne 100b\n\t"                                                    \
  "101:\n\t"
#  define INJECT_TRAP                                                 \
  "ldr w12, %[inj_trap]\n\t"                                         \
  "cbz w12, 102f\n\t"                                                \
  "brk #0\n\t"                                                       \
  "102:\n\t"
# else
#  error "percpu_inline_test.c: no stress hooks for this architecture"
# endif
# define INJECT_AT_1 INJECT_DELAY
# define INJECT_AT_2 INJECT_DELAY INJECT_TRAP
# define RSEQ_PERCPU_INLINE_INJECT_ASM(n) INJECT_AT_##n
#endif
#define RSEQ_PERCPU_INLINE_ON_ABORT() (thread_aborts++)
#include <rseq-percpu-inline.h>

#define THREADS 8
#define ITERS 20000
#define SLOTS 1024

static int mode = RSEQ_PERCPU_CPU_ID;
static int has_area;
static int signals = 1;
static int cpus[1024], ncpus;
static unsigned long all_cpus[16];

/* ---- threads, a spin barrier, perturbation ---- */

static volatile int workers_done, signaller_stop;
static volatile long sig_count;
static void *sig_counter; /* the SIGUSR1 handler's target, if any */
static pthread_t worker_ids[THREADS];

static void
on_sigusr1 (int sig)
{
  (void) sig;
  int saved = errno;
  if (sig_counter)
    {
      rseq_percpu_inline_counter_inc (sig_counter);
      rseq_percpu_counter_inc (sig_counter);
      __atomic_fetch_add (&sig_count, 2, __ATOMIC_RELAXED);
    }
  errno = saved;
}

#ifdef INLINE_STRESS
static void
on_sigtrap (int sig)
{
  (void) sig;
  inject_trap = 0;
  thread_traps++;
}
#endif

static void *
signaller (void *arg)
{
  (void) arg;
  while (!__atomic_load_n (&signaller_stop, __ATOMIC_ACQUIRE))
    {
      for (int i = 0; i < THREADS; i++)
        pthread_kill (worker_ids[i], SIGUSR1);
      sched_yield ();
    }
  return NULL;
}

static int stress; /* the stress build's threaded runs perturb */

/* Called by workers every iteration: migrate and yield now and then.  */
static void
perturb (long t, int i)
{
  if (i % 1000 == 0)
    sched_yield ();
  if (stress && ncpus > 1 && i % 512 == 0)
    pin_to_cpu (cpus[(t + i / 512) % ncpus]);
}

/* A worker's end: wait until the signaller stopped (it signals only live
   threads).  */
static volatile long total_aborts; /* summed by the workers, for the log */

static void
worker_exit (void)
{
  __atomic_fetch_add (&total_aborts, thread_aborts, __ATOMIC_RELAXED);
  __atomic_fetch_add (&workers_done, 1, __ATOMIC_ACQ_REL);
  while (!__atomic_load_n (&signaller_stop, __ATOMIC_ACQUIRE))
    sched_yield ();
}

/* Runs FN (i) in THREADS threads; with the stress build's signals, one more
   thread sends them SIGUSR1 until they all finished.  */
static int
run_threads (void *(*fn) (void *), void **results)
{
  pthread_t s;
  int sig = stress && signals;
  workers_done = 0;
  signaller_stop = !sig;
  for (long i = 0; i < THREADS; i++)
    if (pthread_create (&worker_ids[i], NULL, fn, (void *) i) != 0)
      return -1;
  if (sig)
    {
      if (pthread_create (&s, NULL, signaller, NULL) != 0)
        return -1;
      while (__atomic_load_n (&workers_done, __ATOMIC_ACQUIRE) < THREADS)
        sched_yield ();
      __atomic_store_n (&signaller_stop, 1, __ATOMIC_RELEASE);
      pthread_join (s, NULL);
    }
  for (int i = 0; i < THREADS; i++)
    pthread_join (worker_ids[i], results ? &results[i] : NULL);
  return 0;
}

static volatile int barrier_count;
static void
spin_barrier (int n, int generation)
{
  __atomic_fetch_add (&barrier_count, 1, __ATOMIC_ACQ_REL);
  while (__atomic_load_n (&barrier_count, __ATOMIC_ACQUIRE) < n * generation)
    sched_yield ();
}

static void
unpin (void)
{
  syscall (SYS_sched_setaffinity, 0, sizeof all_cpus, all_cpus);
}

/* ---- layout and lookups ---- */

static void
test_layout (void)
{
  CHECK (rseq_percpu_counter_size () == RSEQ_PERCPU_INLINE_COUNTER_SIZE,
         "counter size %zu", rseq_percpu_counter_size ());
  CHECK (rseq_percpu_pool_size () == RSEQ_PERCPU_INLINE_POOL_SIZE,
         "pool size %zu", rseq_percpu_pool_size ());
  CHECK (rseq_percpu_ring_size () == RSEQ_PERCPU_INLINE_RING_SIZE,
         "ring size %zu", rseq_percpu_ring_size ());
  for (int m = -1; m <= 2; m++)
    {
      int i = rseq_percpu_inline_current_index (m);
      int c = rseq_percpu_current_index (m);
      CHECK ((i < 0 || c < 0) ? i == c : 1,
             "current_index (%d): inline %d, call %d", m, i, c);
    }
}

/* ---- raw operations, inline and call mixed on the same words ---- */

struct slot
{
  uintptr_t word;
  uintptr_t aux;
  uintptr_t rec[4];
  uintptr_t pad[2];
} __attribute__ ((aligned (64)));

static struct slot slots[SLOTS];
static uintptr_t fallback_total;
static int op;
enum { OP_ADD, OP_CBNE, OP_STORE_STORE, OP_MEMCPY, OP_INDEXED, OP_COUNT };
static const char *op_names[] = { "add", "load_cbne_store", "store_store",
                                  "memcpy_store", "add_indexed" };

/* One increment of the current slot by OP, inline when INL; returns the
   aborted attempts.  */
static long
one_increment (int inl)
{
  long aborts = 0;
  for (;;)
    {
      int idx = inl ? rseq_percpu_inline_current_index (mode)
                    : rseq_percpu_current_index (mode);
      if (idx < 0 || idx >= SLOTS)
        {
          __atomic_fetch_add (&fallback_total, 1, __ATOMIC_RELAXED);
          return aborts;
        }
      struct slot *s = &slots[idx];
      uintptr_t old = __atomic_load_n (&s->word, __ATOMIC_RELAXED);
      uintptr_t rec[4] = { old + 1, ~(old + 1), (old + 1) * 3, 7 };
      unsigned int at = 0;
      unsigned int u = (unsigned int) idx;
      int r;
      switch (op)
        {
        case OP_ADD:
          r = inl ? rseq_percpu_inline_add (mode, u, &s->word, 1)
                  : rseq_percpu_add (mode, u, &s->word, 1);
          break;
        case OP_CBNE:
          r = inl ? rseq_percpu_inline_load_cbne_store (mode, u, &s->word, old,
                                                        old + 1)
                  : rseq_percpu_load_cbne_store (mode, u, &s->word, old,
                                                 old + 1);
          break;
        case OP_STORE_STORE:
          r = inl ? rseq_percpu_inline_load_cbne_store_store
                      (mode, u, &s->word, old, &s->aux, old + 1, old + 1)
                  : rseq_percpu_load_cbne_store_store
                      (mode, u, &s->word, old, &s->aux, old + 1, old + 1);
          break;
        case OP_MEMCPY:
          r = inl ? rseq_percpu_inline_load_cbne_memcpy_store
                      (mode, u, &s->word, old, s->rec, rec, sizeof rec, old + 1)
                  : rseq_percpu_load_cbne_memcpy_store
                      (mode, u, &s->word, old, s->rec, rec, sizeof rec, old + 1);
          break;
        default:
          r = inl ? rseq_percpu_inline_add_indexed (mode, &slots[0].word,
                                                    sizeof (struct slot),
                                                    SLOTS, 1, &at)
                  : rseq_percpu_add_indexed (mode, &slots[0].word,
                                             sizeof (struct slot), SLOTS, 1,
                                             &at);
          if (r == RSEQ_PERCPU_COMPARE_FAILED)
            {
              __atomic_fetch_add (&fallback_total, 1, __ATOMIC_RELAXED);
              return aborts;
            }
          break;
        }
      if (r == RSEQ_PERCPU_DONE)
        return aborts;
      if (r < 0)
        {
          printf ("FAIL %s (%s): %d\n", op_names[op], inl ? "inline" : "call",
                  r);
          checks_failed++;
          return aborts;
        }
      aborts += r == RSEQ_PERCPU_ABORTED;
    }
}

static void *
raw_worker (void *arg)
{
  long t = (long) arg, aborts = 0;
  for (int i = 0; i < ITERS; i++)
    {
      aborts += one_increment ((i + (int) t) % 2);
      perturb (t, i);
    }
  thread_aborts += aborts;
  worker_exit ();
  return (void *) aborts;
}

static void
test_raw (void)
{
  for (op = 0; op < OP_COUNT; op++)
    {
      memset (slots, 0, sizeof slots);
      fallback_total = 0;
      CHECK (run_threads (raw_worker, NULL) == 0, "threads");
      uintptr_t total = fallback_total;
      int consistent = 1;
      for (int i = 0; i < SLOTS; i++)
        {
          total += slots[i].word;
          /* The second store and the copy come before the commit in one
             section, and an abort does not undo them: each part holds the
             committed word's value, or the next one when the last section
             that got that far on this slot was aborted before its commit
             (partly, for the copy).  */
          uintptr_t w = slots[i].word, n = w + 1;
          if (op == OP_STORE_STORE && slots[i].aux != w && slots[i].aux != n)
            consistent = 0;
          if (op == OP_MEMCPY && w != 0
              && ((slots[i].rec[0] != w && slots[i].rec[0] != n)
                  || (slots[i].rec[1] != ~w && slots[i].rec[1] != ~n)
                  || (slots[i].rec[2] != w * 3 && slots[i].rec[2] != n * 3)
                  || slots[i].rec[3] != 7))
            consistent = 0;
        }
      CHECK (total == (uintptr_t) THREADS * ITERS, "%s: total %lu != %d",
             op_names[op], (unsigned long) total, THREADS * ITERS);
      CHECK (has_area || fallback_total == total,
             "%s: no area, yet %lu not in the fallback", op_names[op],
             (unsigned long) (total - fallback_total));
      CHECK (consistent, "%s: a slot's second store or copy is torn",
             op_names[op]);
    }
  unpin ();

  /* Compare-and-pop, inline, pinned to each CPU in turn: every node once.  */
  static uintptr_t nodes[4096][2];
  static int seen[4096];
  for (int i = 0; i < SLOTS; i++)
    slots[i].word = 0;
  int idx = rseq_percpu_inline_current_index (mode);
  if (idx < 0)
    {
      void *n = NULL;
      CHECK (idx == -ENOSYS, "inline current_index without area: %d", idx);
      CHECK (rseq_percpu_inline_load_cbeq_pop (mode, 0, &slots[0].word, 0, &n)
                 == -ENOSYS, "inline pop without area");
      return;
    }
  for (int k = 0; k < 4096; k++)
    {
      struct slot *s = &slots[cpus[k % ncpus] % SLOTS];
      nodes[k][0] = s->word;
      s->word = (uintptr_t) &nodes[k][0];
    }
  int popped = 0, dup = 0;
  for (int c = 0; c < ncpus; c++)
    {
      pin_to_cpu (cpus[c]);
      for (;;)
        {
          int i = rseq_percpu_inline_current_index (mode);
          void *node = NULL;
          int r = rseq_percpu_inline_load_cbeq_pop (mode, (unsigned) i,
                                                    &slots[i].word, 0, &node);
          if (r == RSEQ_PERCPU_COMPARE_FAILED)
            {
              CHECK (node == NULL, "empty pop's node");
              break;
            }
          if (r != RSEQ_PERCPU_DONE)
            continue;
          int k = (int) (((uintptr_t (*)[2]) node) - nodes);
          dup += seen[k]++ != 0;
          popped++;
        }
    }
  unpin ();
  if (mode == RSEQ_PERCPU_CPU_ID)
    CHECK (popped == 4096, "pop: %d of 4096 nodes", popped);
  CHECK (dup == 0, "pop: %d nodes popped twice", dup);
}

/* Every bad input gives the call's answer.  */
static void
test_bad_input (void)
{
  uintptr_t w = 0, *mis = (uintptr_t *) ((char *) &w + 1);
  void *node;
  unsigned char mem[128];
  void *odd = mem + 1;
#define SAME(inl, call) \
  CHECK ((inl) == (call), "%s: %d, call %d", #inl, (inl), (call))
  SAME (rseq_percpu_inline_current_index (7), rseq_percpu_current_index (7));
  SAME (rseq_percpu_inline_add (0, 0, NULL, 1), rseq_percpu_add (0, 0, NULL, 1));
  SAME (rseq_percpu_inline_add (0, 0, mis, 1), rseq_percpu_add (0, 0, mis, 1));
  SAME (rseq_percpu_inline_add (9, 0, &w, 1), rseq_percpu_add (9, 0, &w, 1));
  SAME (rseq_percpu_inline_load_cbne_store (0, 0, NULL, 0, 1),
        rseq_percpu_load_cbne_store (0, 0, NULL, 0, 1));
  SAME (rseq_percpu_inline_load_cbne_store_store (0, 0, &w, 0, NULL, 0, 1),
        rseq_percpu_load_cbne_store_store (0, 0, &w, 0, NULL, 0, 1));
  SAME (rseq_percpu_inline_load_cbne_memcpy_store (0, 0, &w, 0, NULL, &w, 8, 1),
        rseq_percpu_load_cbne_memcpy_store (0, 0, &w, 0, NULL, &w, 8, 1));
  SAME (rseq_percpu_inline_load_cbne_memcpy_store
          (0, 0, &w, 0, &w, &w, RSEQ_PERCPU_MEMCPY_MAX + 1, 1),
        rseq_percpu_load_cbne_memcpy_store
          (0, 0, &w, 0, &w, &w, RSEQ_PERCPU_MEMCPY_MAX + 1, 1));
  SAME (rseq_percpu_inline_load_cbeq_pop (0, 0, &w, 0, NULL),
        rseq_percpu_load_cbeq_pop (0, 0, &w, 0, NULL));
  SAME (rseq_percpu_inline_load_cbeq_pop (0, 0, NULL, 0, &node),
        rseq_percpu_load_cbeq_pop (0, 0, NULL, 0, &node));
  SAME (rseq_percpu_inline_load_cbeq_pop (0, 0, &w, 4, &node),
        rseq_percpu_load_cbeq_pop (0, 0, &w, 4, &node));
  SAME (rseq_percpu_inline_add_indexed (0, &w, 0, 1, 1, NULL),
        rseq_percpu_add_indexed (0, &w, 0, 1, 1, NULL));
  SAME (rseq_percpu_inline_add_indexed (0, &w, 8, 0, 1, NULL),
        rseq_percpu_add_indexed (0, &w, 8, 0, 1, NULL));
  SAME (rseq_percpu_inline_add_indexed (0, NULL, 8, 1, 1, NULL),
        rseq_percpu_add_indexed (0, NULL, 8, 1, 1, NULL));
  SAME (rseq_percpu_inline_add_indexed (0, &w, 8, 1, 1, (unsigned *) odd),
        rseq_percpu_add_indexed (0, &w, 8, 1, 1, (unsigned *) odd));
  SAME (rseq_percpu_inline_add_indexed (0, &w, SIZE_MAX - 7, 3, 1, NULL),
        rseq_percpu_add_indexed (0, &w, SIZE_MAX - 7, 3, 1, NULL));
  SAME (rseq_percpu_inline_counter_inc (NULL), rseq_percpu_counter_inc (NULL));
  SAME (rseq_percpu_inline_counter_add (odd, 1),
        rseq_percpu_counter_add (odd, 1));
  SAME (rseq_percpu_inline_pool_alloc (NULL, &node),
        rseq_percpu_pool_alloc (NULL, &node));
  SAME (rseq_percpu_inline_pool_alloc (odd, &node),
        rseq_percpu_pool_alloc (odd, &node));
  SAME (rseq_percpu_inline_pool_free (NULL, &w), rseq_percpu_pool_free (NULL, &w));
  {
    struct rseq_percpu_inline_handle h;
    static unsigned char zero[RSEQ_PERCPU_INLINE_COUNTER_SIZE]
      __attribute__ ((aligned (RSEQ_PERCPU_ALIGN)));
    CHECK (rseq_percpu_inline_counter_handle (&h, NULL) == -EINVAL, "handle of NULL");
    CHECK (rseq_percpu_inline_pool_handle (&h, odd) == -EINVAL, "handle of a misaligned pool");
    CHECK (rseq_percpu_inline_counter_handle (NULL, zero) == -EINVAL, "NULL handle");
    CHECK (rseq_percpu_inline_counter_handle ((void *) odd, zero) == -EINVAL,
           "misaligned handle");
    CHECK (rseq_percpu_inline_counter_handle (&h, zero) == -EINVAL,
           "handle of an object never initialized (mode byte 0)");
  }
  SAME (rseq_percpu_inline_ring_write (NULL, &w, 8),
        rseq_percpu_ring_write (NULL, &w, 8));
  SAME (rseq_percpu_inline_ring_write (odd, &w, 8),
        rseq_percpu_ring_write (odd, &w, 8));
#undef SAME
}

/* ---- counter ---- */

static unsigned char counter_mem[RSEQ_PERCPU_INLINE_COUNTER_SIZE]
  __attribute__ ((aligned (RSEQ_PERCPU_ALIGN)));
static void *counter = counter_mem;

static uint64_t
counter_fallback (void)
{
  return __atomic_load_n ((uint64_t *) (counter_mem + RSEQ_PERCPU_INLINE_FALLBACK),
                          __ATOMIC_RELAXED);
}

static void *
counter_worker (void *arg)
{
  long t = (long) arg;
  /* Half the inline operations through a handle (made once, as a thread
     that counts many times keeps one).  */
  struct rseq_percpu_inline_handle h;
  if (rseq_percpu_inline_counter_handle (&h, counter) != 0)
    abort ();
  for (int i = 0; i < ITERS; i++)
    {
      int through = (i / 4) % 2;
      switch ((i + (int) t) % 4)
        {
        case 0:
          if (through)
            rseq_percpu_inline_handle_counter_inc (&h);
          else
            rseq_percpu_inline_counter_inc (counter);
          break;
        case 1:
          if (through)
            rseq_percpu_inline_handle_counter_add (&h, 3);
          else
            rseq_percpu_inline_counter_add (counter, 3);
          break;
        case 2: rseq_percpu_counter_inc (counter); break;
        default: rseq_percpu_counter_add (counter, 3); break;
        }
      perturb (t, i);
    }
  worker_exit ();
  return NULL;
}

static void
test_counter (void)
{
  uint64_t v = 0, old = 0;
  CHECK (rseq_percpu_counter_init (counter, sizeof counter_mem, mode) == 0,
         "counter init");
  /* One thread: where an inline add lands.  */
  CHECK (rseq_percpu_inline_counter_add (counter, 5) == 0, "add");
  CHECK (rseq_percpu_counter_read (counter, &v) == 0 && v == 5, "read %lu",
         (unsigned long) v);
  CHECK (counter_fallback () == (has_area ? 0u : 5u),
         "fallback slot %lu (area: %d)", (unsigned long) counter_fallback (),
         has_area);
  CHECK (rseq_percpu_counter_reset (counter, &old) == 0 && old == 5, "reset");

  sig_count = 0;
  sig_counter = counter;
  CHECK (run_threads (counter_worker, NULL) == 0, "threads");
  sig_counter = NULL;
  unpin ();
  uint64_t want = (uint64_t) THREADS * (ITERS / 4) * (1 + 3 + 1 + 3) + (uint64_t) sig_count;
  CHECK (rseq_percpu_counter_read (counter, &v) == 0 && v == want,
         "counter %lu != %lu (%ld from signal handlers)", (unsigned long) v,
         (unsigned long) want, (long) sig_count);
  if (stress && signals)
    printf ("counter: %ld increments from SIGUSR1 handlers\n", (long) sig_count);
}

/* A thread whose area goes away after the inline cache saw it: the next
   inline operation must not use it (cpu_id < 0: with mm_cid, which the
   kernel resets to 0, it would otherwise share slot 0 with a registered
   thread, unprotected).  Only when rseq-libc owns the area (it cannot
   unregister the libc's).  */
static void *
unregister_thread (void *arg)
{
  long *res = (long *) arg;
  uint64_t before, after, v;
  struct rseq_percpu_inline_handle h;
  rseq_percpu_inline_counter_inc (counter); /* fills the cache */
  /* A handle made on the registered area: it keeps that area's pointer
     after the unregistration, and its section must refuse it too.  */
  if (rseq_percpu_inline_counter_handle (&h, counter) != 0)
    abort ();
  res[0] = rseq_percpu_inline_current_index (mode);
  before = counter_fallback ();
  res[1] = rseq_libc_unregister_current_thread ();
  rseq_percpu_inline_counter_inc (counter);
  after = counter_fallback ();
  res[2] = (long) (after - before);
  res[3] = rseq_percpu_inline_current_index (mode);
  before = counter_fallback ();
  rseq_percpu_inline_handle_counter_inc (&h);
  res[5] = (long) (counter_fallback () - before);
  res[4] = rseq_percpu_inline_add (mode, 0, &slots[0].word, 1);
  res[6] = rseq_libc_register_current_thread ();
  before = counter_fallback ();
  rseq_percpu_inline_counter_inc (counter);
  res[7] = (long) (counter_fallback () - before);
  res[8] = rseq_percpu_inline_current_index (mode);
  rseq_percpu_counter_read (counter, &v);
  res[9] = (long) v;
  return NULL;
}

static void
test_unregistered (void)
{
  long res[10] = { 0 };
  pthread_t t;
  if (rseq_libc_owner () != RSEQ_LIBC_OWNER_COMPONENT)
    {
      printf ("unregistered-thread checks: skipped (area owner %d)\n",
              rseq_libc_owner ());
      return;
    }
  rseq_percpu_counter_init (counter, sizeof counter_mem, mode);
  pthread_create (&t, NULL, unregister_thread, res);
  pthread_join (t, NULL);
  CHECK (res[0] >= 0, "registered: index %ld", res[0]);
  CHECK (res[1] == 0, "unregister: %ld", res[1]);
  CHECK (res[2] == 1, "after unregistration, the inline add went to a slot "
         "(fallback +%ld)", res[2]);
  CHECK (res[3] == -ENOSYS, "current_index after unregistration: %ld", res[3]);
  CHECK (res[4] == -ENOSYS, "add after unregistration: %ld", res[4]);
  CHECK (res[5] == 1, "after unregistration, the handle's add went to a slot "
         "(fallback +%ld)", res[5]);
  CHECK (res[6] == 0, "register again: %ld", res[6]);
  CHECK (res[7] == 0 && res[8] >= 0,
         "registered again: fallback +%ld, index %ld", res[7], res[8]);
  CHECK (res[9] == 4, "total %ld", res[9]);
}

/* ---- pool ---- */

#define POOL_OBJECTS 2048
static unsigned char pool_mem[RSEQ_PERCPU_INLINE_POOL_SIZE]
  __attribute__ ((aligned (RSEQ_PERCPU_ALIGN)));
static void *pool = pool_mem;
static uint64_t pool_storage[POOL_OBJECTS * 8];

static void *
pool_worker (void *arg)
{
  long t = (long) arg, bad = 0;
  uintptr_t mark = (uintptr_t) t + 1;
  uintptr_t *held[32];
  int n = 0;
  /* Every other inline operation through a handle.  */
  struct rseq_percpu_inline_handle h;
  if (rseq_percpu_inline_pool_handle (&h, pool) != 0)
    abort ();
  for (int i = 0; i < ITERS; i++)
    {
      int inl = (i + (int) t) % 2, through = (i / 2) % 2;
      if (i % 3 != 2 && n < 32)
        {
          void *o;
          if ((inl ? (through ? rseq_percpu_inline_handle_pool_alloc (&h, &o)
                              : rseq_percpu_inline_pool_alloc (pool, &o))
                   : rseq_percpu_pool_alloc (pool, &o)) == 0)
            {
              uintptr_t *w = (uintptr_t *) o;
              /* Word 6: claimed by one holder at a time.  */
              bad += __atomic_exchange_n (&w[6], mark, __ATOMIC_ACQ_REL) != 0;
              w[7] = mark;
              held[n++] = w;
            }
        }
      else if (n > 0)
        {
          uintptr_t *w = held[--n];
          bad += w[7] != mark;
          __atomic_store_n (&w[6], 0, __ATOMIC_RELEASE);
          if (inl && through)
            rseq_percpu_inline_handle_pool_free (&h, w);
          else if (inl)
            rseq_percpu_inline_pool_free (pool, w);
          else
            rseq_percpu_pool_free (pool, w);
        }
      perturb (t, i);
    }
  while (n > 0)
    {
      uintptr_t *w = held[--n];
      __atomic_store_n (&w[6], 0, __ATOMIC_RELEASE);
      rseq_percpu_inline_pool_free (pool, w);
    }
  worker_exit ();
  return (void *) bad;
}

static uintptr_t got[POOL_OBJECTS + 1];
static volatile int collected;

static void *
pool_collector (void *arg)
{
  long c = (long) arg;
  pin_to_cpu (cpus[c]);
  for (int round = 1; round <= 2; round++)
    {
      void *o;
      spin_barrier (ncpus > 64 ? 64 : ncpus, round);
      while ((c % 2 ? rseq_percpu_inline_pool_alloc (pool, &o)
                    : rseq_percpu_pool_alloc (pool, &o)) == 0)
        {
          int k = __atomic_fetch_add (&collected, 1, __ATOMIC_RELAXED);
          if (k <= POOL_OBJECTS)
            got[k] = (uintptr_t) o;
        }
    }
  return NULL;
}

/* Reclaims every list in a loop while the workers run: the inline
   sections' guard check (a list being reclaimed is left alone) under
   fire; the workers' ownership marks and the final collection catch an
   object on two lists or lost.  */
static volatile int reclaim_stop;
static long reclaimed;

static void *
pool_reclaimer (void *arg)
{
  (void) arg;
  while (!__atomic_load_n (&reclaim_stop, __ATOMIC_ACQUIRE))
    {
      for (unsigned c = 0; c < 256 && c < (unsigned) ncpus + 8; c++)
        {
          long r = rseq_percpu_pool_reclaim (pool, c);
          if (r > 0)
            reclaimed += r;
        }
      sched_yield ();
    }
  return NULL;
}

/* The per-CPU list's depth words, kept by the inline free inside its
   section: one thread pinned to one CPU frees 40 objects (inline) into an
   empty pool whose per-CPU limit is 32: the CPU's list holds 32 (a free
   pushes while the head's depth is below the limit), each object's
   second word the list's length from it down; the rest went global.
   cpu_id mode (the slot is the CPU the thread is pinned to).  */
static void
check_pool_depth (uintptr_t *objs, int n)
{
  if (mode != RSEQ_PERCPU_CPU_ID || !has_area || n < 40)
    return;
  pin_to_cpu (cpus[0]);
  int before = rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID);
  for (int i = 0; i < 40; i++)
    CHECK (rseq_percpu_inline_pool_free (pool, (void *) objs[i]) == 0, "free %d", i);
  int after = rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID);
  unpin ();
  CHECK (before == after && before >= 0 && before < RSEQ_PERCPU_INLINE_SLOTS,
         "pinned: index %d then %d", before, after);
  if (before != after || before < 0 || before >= RSEQ_PERCPU_INLINE_SLOTS)
    return;
  uintptr_t head = *(volatile uintptr_t *) ((char *) pool + (size_t) before
                                            * RSEQ_PERCPU_INLINE_STRIDE);
  long len = 0, wrong = 0;
  for (uintptr_t o = head; o != 0 && len <= 64; o = ((uintptr_t *) o)[0])
    len++;
  long k = len;
  for (uintptr_t o = head; o != 0 && k > 0; o = ((uintptr_t *) o)[0], k--)
    wrong += ((uintptr_t *) o)[1] != (uintptr_t) k;
  CHECK (len == 32 && wrong == 0,
         "pool depth: CPU %d's list holds %ld objects (want 32, the limit), %ld depth words wrong",
         before, len, wrong);
  CHECK (rseq_percpu_pool_cpu_free (pool, (unsigned) before) == 32,
         "pool depth: cpu_free %ld", rseq_percpu_pool_cpu_free (pool, (unsigned) before));
}

static void
test_pool (void)
{
  void *res[THREADS];
  long bad = 0;
  pthread_t rec;
  int rec_ok;
  CHECK (rseq_percpu_pool_init (pool, sizeof pool_mem, mode, 64, 32) == 0,
         "pool init");
  CHECK (rseq_percpu_pool_add_storage (pool, pool_storage, sizeof pool_storage)
             == POOL_OBJECTS, "add storage");
  reclaim_stop = 0;
  rec_ok = pthread_create (&rec, NULL, pool_reclaimer, NULL) == 0;
  CHECK (run_threads (pool_worker, res) == 0, "threads");
  __atomic_store_n (&reclaim_stop, 1, __ATOMIC_RELEASE);
  if (rec_ok)
    pthread_join (rec, NULL);
  unpin ();
  for (int i = 0; i < THREADS; i++)
    bad += (long) res[i];
  CHECK (bad == 0, "pool: %ld objects held twice", bad);
  /* Everything is free: collect it with one thread pinned to each CPU, all
     alive at once (with mm_cid they then hold every concurrency id).  */
  pthread_t c[64];
  int nc = ncpus > 64 ? 64 : ncpus;
  barrier_count = 0;
  collected = 0;
  for (long i = 0; i < nc; i++)
    pthread_create (&c[i], NULL, pool_collector, (void *) i);
  for (int i = 0; i < nc; i++)
    pthread_join (c[i], NULL);
  int n = collected > POOL_OBJECTS + 1 ? POOL_OBJECTS + 1 : collected;
  int dup = 0;
  /* Objects are 64 bytes apart in pool_storage: count each index.  */
  static unsigned char hits[POOL_OBJECTS];
  memset (hits, 0, sizeof hits);
  for (int i = 0; i < n; i++)
    {
      uintptr_t off = got[i] - (uintptr_t) pool_storage;
      if (off % 64 != 0 || off / 64 >= POOL_OBJECTS || hits[off / 64]++)
        dup++;
    }
  CHECK (n == POOL_OBJECTS && dup == 0, "pool: %d objects, %d twice or foreign",
         n, dup);
  void *o = &o;
  CHECK (rseq_percpu_inline_pool_alloc (pool, &o) == -ENOMEM && o == NULL,
         "empty pool");
  printf ("pool: %ld objects reclaimed from per-CPU lists during the run\n", reclaimed);
  if (n == POOL_OBJECTS && dup == 0)
    check_pool_depth (got, n);
}

/* ---- ring ---- */

static unsigned char ring_mem[RSEQ_PERCPU_INLINE_RING_SIZE]
  __attribute__ ((aligned (RSEQ_PERCPU_ALIGN)));
static void *ring = ring_mem;
static volatile int ring_done;
static uint64_t ring_read, ring_torn;

static void
on_record (void *arg, int where, const void *p, size_t len)
{
  unsigned char b[RSEQ_PERCPU_RECORD_MAX];
  (void) arg;
  (void) where;
  memcpy (b, p, len);
  ring_read++;
  if (len < 2 || b[0] != len)
    ring_torn++;
  for (size_t k = 2; k < len; k++)
    if (b[k] != (unsigned char) (b[1] ^ k))
      ring_torn++;
}

static void *
ring_consumer (void *arg)
{
  (void) arg;
  for (;;)
    {
      int last = __atomic_load_n (&ring_done, __ATOMIC_ACQUIRE);
      rseq_percpu_ring_consume (ring, on_record, NULL);
      if (last)
        return NULL;
      usleep (100);
    }
}

static void *
ring_writer (void *arg)
{
  long t = (long) arg, ok = 0;
  unsigned char b[RSEQ_PERCPU_RECORD_MAX];
  for (int i = 0; i < ITERS; i++)
    {
      size_t len = 2 + (size_t) (i % (RSEQ_PERCPU_RECORD_MAX - 1));
      b[0] = (unsigned char) len;
      b[1] = (unsigned char) (t * 31 + i);
      for (size_t k = 2; k < len; k++)
        b[k] = (unsigned char) (b[1] ^ k);
      int r = (i + (int) t) % 2 ? rseq_percpu_inline_ring_write (ring, b, len)
                                : rseq_percpu_ring_write (ring, b, len);
      ok += r >= RSEQ_PERCPU_FALLBACK;
      if (r < RSEQ_PERCPU_FALLBACK && r != -ENOSPC)
        ok -= 1000000;
      perturb (t, i);
    }
  worker_exit ();
  return (void *) ok;
}

static unsigned char rt_src[RSEQ_PERCPU_RECORD_MAX + 8];
static int rt_bad;
static size_t rt_len, rt_off;
static void
on_round_trip (void *arg, int where, const void *p, size_t len)
{
  (void) arg;
  (void) where;
  if (len != rt_len || memcmp (p, rt_src + rt_off, len) != 0)
    rt_bad++;
}

/* Inline ring writes of a constant length, each inlined whole (flatten)
   so that the length is a constant where the header tests it.  */
#define RT_WRITER(n)                                                     \
  static __attribute__ ((__flatten__, __noinline__)) int                 \
  rt_write_##n (void *ring, const void *p)                               \
  {                                                                      \
    return rseq_percpu_inline_ring_write (ring, p, n);                   \
  }
RT_WRITER (16)
RT_WRITER (17)
RT_WRITER (24)
RT_WRITER (31)
RT_WRITER (32)

static void
test_ring (void)
{
  void *res[THREADS];
  pthread_t c;
  long written = 0;
  uint64_t lost = 0;
  CHECK (rseq_percpu_ring_init (ring, sizeof ring_mem, mode) == 0, "ring init");
  /* Every length at every source alignment, inline, read back at once.  */
  for (size_t k = 0; k < sizeof rt_src; k++)
    rt_src[k] = (unsigned char) (k * 37 + 1);
  for (rt_off = 0; rt_off < 8; rt_off++)
    for (rt_len = 0; rt_len <= RSEQ_PERCPU_RECORD_MAX; rt_len++)
      {
        int w = rseq_percpu_inline_ring_write (ring, rt_src + rt_off, rt_len);
        CHECK (w >= RSEQ_PERCPU_FALLBACK && (has_area || w == RSEQ_PERCPU_FALLBACK),
               "write of %zu: %d", rt_len, w);
        CHECK (rseq_percpu_ring_consume (ring, on_round_trip, NULL) == 1,
               "one record back");
      }
  /* Constant lengths of 16 to 32 bytes take the header's branch-free copy
     (rseq_percpu_arch_load_cbne_store_copy16_32_store).  */
#define RT_CONST(n)                                                      \
  do                                                                     \
    {                                                                    \
      rt_off = 5;                                                        \
      rt_len = (n);                                                      \
      int w = rt_write_##n (ring, rt_src + 5);                           \
      CHECK (w >= RSEQ_PERCPU_FALLBACK, "constant write of %d: %d", (n), w); \
      CHECK (rseq_percpu_ring_consume (ring, on_round_trip, NULL) == 1,  \
             "one record back");                                         \
    }                                                                    \
  while (0)
  RT_CONST (16);
  RT_CONST (17);
  RT_CONST (24);
  RT_CONST (31);
  RT_CONST (32);
  CHECK (rt_bad == 0, "%d records came back different", rt_bad);

  ring_done = 0;
  ring_read = ring_torn = 0;
  pthread_create (&c, NULL, ring_consumer, NULL);
  CHECK (run_threads (ring_writer, res) == 0, "threads");
  unpin ();
  for (int i = 0; i < THREADS; i++)
    written += (long) res[i];
  __atomic_store_n (&ring_done, 1, __ATOMIC_RELEASE);
  pthread_join (c, NULL);
  CHECK (rseq_percpu_ring_lost (ring, &lost) == 0, "lost");
  CHECK (ring_torn == 0, "ring: %lu torn records", (unsigned long) ring_torn);
  CHECK ((long) ring_read == written, "ring: read %lu != written %ld",
         (unsigned long) ring_read, written);
  CHECK ((long) (ring_read + lost) == (long) THREADS * ITERS,
         "ring: read %lu + lost %lu != %d", (unsigned long) ring_read,
         (unsigned long) lost, THREADS * ITERS);
  unsigned char big[RSEQ_PERCPU_RECORD_MAX + 1] = { 0 };
  CHECK (rseq_percpu_inline_ring_write (ring, big, sizeof big) == -EINVAL,
         "too long");
}

#ifdef INLINE_STRESS
/* ---- forced aborts: a trap inside each inline section ---- */

/* Runs OP with the trap armed (again, if an earlier abort of another kind
   kept the section from reaching it) until the trap fired; checks that the
   kernel sent the section to its abort handler (an abort counted), once.  */
#define FORCED(name, stmt)                                              \
  do {                                                                  \
    long a0 = thread_aborts;                                            \
    int t0 = thread_traps, tries = 0;                                   \
    while (thread_traps == t0 && tries++ < 100)                         \
      {                                                                 \
        inject_trap = 1;                                                \
        stmt;                                                           \
      }                                                                 \
    inject_trap = 0;                                                    \
    CHECK (thread_traps == t0 + 1, "%s: the trap never ran", name);     \
    CHECK (thread_aborts > a0, "%s: trapped inside, not aborted", name); \
  } while (0)

/* A raw operation retried until done; aborts counted.  */
#define RETRY(call)                                                     \
  do {                                                                  \
    int r_;                                                             \
    while ((r_ = (call)) == RSEQ_PERCPU_ABORTED)                        \
      thread_aborts++;                                                  \
    CHECK (r_ == RSEQ_PERCPU_DONE, "%s: %d", #call, r_);                \
  } while (0)

static void
test_forced_aborts (void)
{
  if (!has_area)
    {
      printf ("forced aborts: skipped (no area: no section runs)\n");
      return;
    }
  pin_to_cpu (cpus[0]);
  unsigned int i = (unsigned int) rseq_percpu_inline_current_index (mode);
  struct slot *s = &slots[i];
  uintptr_t rec[4] = { 1, 2, 3, 4 }, node[2] = { 0, 0 };
  void *out = NULL;
  unsigned int at = 0;
  uint64_t v;
  memset (slots, 0, sizeof slots);

  FORCED ("add", RETRY (rseq_percpu_inline_add (mode, i, &s->word, 1)));
  CHECK (s->word == 1, "add: %lu", (unsigned long) s->word);
  FORCED ("load_cbne_store",
          RETRY (rseq_percpu_inline_load_cbne_store (mode, i, &s->word, 1, 2)));
  CHECK (s->word == 2, "cbne: %lu", (unsigned long) s->word);
  FORCED ("store_store", RETRY (rseq_percpu_inline_load_cbne_store_store
                                  (mode, i, &s->word, 2, &s->aux, 9, 3)));
  CHECK (s->word == 3 && s->aux == 9, "store_store");
  FORCED ("memcpy_store", RETRY (rseq_percpu_inline_load_cbne_memcpy_store
                                   (mode, i, &s->word, 3, s->rec, rec,
                                    sizeof rec, 4)));
  CHECK (s->word == 4 && s->rec[3] == 4, "memcpy_store");
  FORCED ("add_indexed", RETRY (rseq_percpu_inline_add_indexed
                                  (mode, &slots[0].word, sizeof (struct slot),
                                   SLOTS, 1, &at)));
  CHECK (slots[at].word == (at == i ? 5u : 1u), "add_indexed");
  s->word = (uintptr_t) node;
  FORCED ("load_cbeq_pop", RETRY (rseq_percpu_inline_load_cbeq_pop
                                    (mode, i, &s->word, 0, &out)));
  CHECK (out == (void *) node && s->word == 0, "pop");

  rseq_percpu_counter_init (counter, sizeof counter_mem, mode);
  FORCED ("counter_inc", rseq_percpu_inline_counter_inc (counter));
  CHECK (rseq_percpu_counter_read (counter, &v) == 0 && v == 1,
         "counter after a forced abort: %lu", (unsigned long) v);

  rseq_percpu_pool_init (pool, sizeof pool_mem, mode, 64, 32);
  rseq_percpu_pool_add_storage (pool, pool_storage, 64 * 4);
  void *o1 = NULL, *o2 = NULL;
  rseq_percpu_pool_alloc (pool, &o1); /* refills this CPU's list */
  FORCED ("pool_alloc", (rseq_percpu_inline_pool_alloc (pool, &o2),
                         o2 ? (void) rseq_percpu_pool_free (pool, o2) : (void) 0));
  FORCED ("pool_free", (rseq_percpu_inline_pool_free (pool, o1),
                        rseq_percpu_pool_alloc (pool, &o1)));
  int n = 0;
  void *all[5];
  rseq_percpu_inline_pool_free (pool, o1);
  while (n < 5 && rseq_percpu_inline_pool_alloc (pool, &all[n]) == 0)
    n++;
  CHECK (n == 4, "pool after forced aborts: %d of 4 objects", n);

  rseq_percpu_ring_init (ring, sizeof ring_mem, mode);
  ring_read = ring_torn = 0;
  unsigned char rb[5] = { 5, 1, 1 ^ 2, 1 ^ 3, 1 ^ 4 };
  FORCED ("ring_write", rseq_percpu_inline_ring_write (ring, rb, sizeof rb));
  rseq_percpu_ring_consume (ring, on_record, NULL);
  CHECK (ring_torn == 0, "ring after a forced abort: torn");
  /* Each try wrote once (committed by the inline retry or the call).  */
  CHECK (ring_read >= 1, "ring after a forced abort: %lu records",
         (unsigned long) ring_read);
  unpin ();
}
#endif

int
main (int argc, char **argv)
{
  int delay = 0;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--mm-cid") == 0)
        mode = RSEQ_PERCPU_MM_CID;
      else if (strcmp (argv[i], "--delay") == 0 && i + 1 < argc)
        delay = atoi (argv[++i]);
      else if (strcmp (argv[i], "--no-signals") == 0)
        signals = 0;
    }
  if (allowed_cpus (all_cpus) != 0)
    {
      printf ("FAIL sched_getaffinity\n");
      return 1;
    }
  for (int c = 0; c < 1024; c++)
    if (all_cpus[c / 64] & (1UL << (c % 64)))
      cpus[ncpus++] = c;
  int idx = rseq_percpu_inline_current_index (mode);
  if (mode == RSEQ_PERCPU_MM_CID && idx == -EOPNOTSUPP)
    {
      printf ("mm_cid unsupported by this kernel: cpu_id instead\n");
      mode = RSEQ_PERCPU_CPU_ID;
      idx = rseq_percpu_inline_current_index (mode);
    }
  has_area = idx >= 0;
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGUSR1, &sa, NULL);
#ifdef INLINE_STRESS
  sa.sa_handler = on_sigtrap;
  sigaction (SIGTRAP, &sa, NULL);
  stress = 1;
#endif
  printf ("inline, mode %s, current index %d (%s), owner %d%s\n",
          mode ? "mm_cid" : "cpu_id", idx,
          idx >= 0 ? "rseq" : "no area: fallback paths", rseq_libc_owner (),
          stress ? ", stress build" : "");
  test_layout ();
  test_bad_input ();
#ifdef INLINE_STRESS
  test_forced_aborts ();
  inject_delay = delay;
  printf ("stress: in-section delay %d, SIGUSR1 %s, migrations every 512 ops\n",
          delay, signals ? "on" : "off");
#else
  (void) delay;
#endif
  test_raw ();
  test_counter ();
  test_unregistered ();
  test_pool ();
  test_ring ();
  printf ("inline attempts aborted in the threaded tests: %ld\n",
          (long) total_aborts);
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
