/* The C API of headers/rseq-percpu.h: every raw operation and every use
   case from several threads at once (more threads than CPUs, with yields),
   with exact totals; then the bad-input checks (-EINVAL, never a crash).
   Linked against librseq_libc.a.  Ends with "N passed, N failed".

   Usage: percpu_c_test [--mm-cid] [--records N].  --records sets how many
   records each flush-ring writer and each shared-ring producer process
   writes (1 to 20000, default 20000).  Under TCG those two tests take most
   of the run (12 of 14 s in a 6.1 guest: each flush fences every CPU, and
   the writers outpace the flusher), so the test command's kernel matrix
   passes 4000 (tests/kernels/run.sh, PERCPU_C_RECORDS): each ring still
   sees about 250 packet switches under concurrent writers instead of 1,250,
   every check still runs, and this machine's run (tests/percpu) keeps
   20000.  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <rseq-percpu.h>
#include <rseq-libc.h>

#define THREADS 8
#define ITERS 20000
#define SLOTS 1024

struct slot
{
  uintptr_t word;
  uintptr_t aux;
  uintptr_t rec[4];
  uintptr_t pad[2];
} __attribute__ ((aligned (64)));

static struct slot slots[SLOTS];
static uintptr_t fallback_total; /* threads without an area: atomics */
static int mode = RSEQ_PERCPU_CPU_ID;
static int op;

enum { OP_ADD, OP_CBNE, OP_STORE_STORE, OP_MEMCPY, OP_INDEXED, OP_COUNT };
static const char *op_names[] = { "add", "load_cbne_store", "store_store",
                                  "memcpy_store", "add_indexed" };

/* One increment of the current slot's word by the operation under test;
   returns the number of aborted attempts.  */
static long
one_increment (void)
{
  long aborts = 0;
  for (;;)
    {
      int idx = rseq_percpu_current_index (mode);
      if (idx < 0 || idx >= SLOTS)
        {
          __atomic_fetch_add (&fallback_total, 1, __ATOMIC_RELAXED);
          return aborts;
        }
      struct slot *s = &slots[idx];
      uintptr_t old = __atomic_load_n (&s->word, __ATOMIC_RELAXED);
      int r;
      switch (op)
        {
        case OP_ADD:
          r = rseq_percpu_add (mode, (unsigned) idx, &s->word, 1);
          break;
        case OP_CBNE:
          r = rseq_percpu_load_cbne_store (mode, (unsigned) idx, &s->word,
                                           old, old + 1);
          break;
        case OP_STORE_STORE:
          r = rseq_percpu_load_cbne_store_store (mode, (unsigned) idx,
                                                 &s->word, old, &s->aux,
                                                 old + 1, old + 1);
          break;
        case OP_MEMCPY:
          {
            uintptr_t rec[4] = { old + 1, ~(old + 1), (old + 1) * 3, 7 };
            r = rseq_percpu_load_cbne_memcpy_store (mode, (unsigned) idx,
                                                    &s->word, old, s->rec,
                                                    rec, sizeof rec, old + 1);
            break;
          }
        default:
          {
            unsigned int at = 0;
            r = rseq_percpu_add_indexed (mode, &slots[0].word,
                                         sizeof (struct slot), SLOTS, 1, &at);
            if (r == RSEQ_PERCPU_COMPARE_FAILED)
              {
                __atomic_fetch_add (&fallback_total, 1, __ATOMIC_RELAXED);
                return aborts;
              }
            break;
          }
        }
      if (r == RSEQ_PERCPU_DONE)
        return aborts;
      if (r < 0)
        {
          printf ("FAIL %s: %d\n", op_names[op], r);
          checks_failed++;
          return aborts;
        }
      aborts += r == RSEQ_PERCPU_ABORTED;
    }
}

static void *
raw_worker (void *arg)
{
  long aborts = 0;
  (void) arg;
  for (int i = 0; i < ITERS; i++)
    {
      aborts += one_increment ();
      if (i % 1000 == 0)
        sched_yield ();
    }
  return (void *) aborts;
}

static int
run_threads (void *(*fn) (void *), void *arg)
{
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create (&t[i], NULL, fn, arg) != 0)
      return -1;
  for (int i = 0; i < THREADS; i++)
    pthread_join (t[i], NULL);
  return 0;
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
      CHECK (consistent, "%s: a slot's second store or copy is torn",
             op_names[op]);
    }

  /* Compare-and-pop: every CPU's list, popped by threads concurrently;
     each node exactly once.  */
  static uintptr_t nodes[4096][2];
  static int seen[4096];
  for (int i = 0; i < SLOTS; i++)
    slots[i].word = 0;
  int idx = rseq_percpu_current_index (mode);
  if (idx >= 0 && idx < SLOTS)
    {
      /* Chain every node on slot 0..1 lists; node k's next at offset 0.  */
      for (int k = 0; k < 4096; k++)
        {
          struct slot *s = &slots[k % 2];
          nodes[k][0] = s->word;
          s->word = (uintptr_t) &nodes[k][0];
        }
      int popped = 0, dup = 0;
      for (int pass = 0; pass < 2; pass++)
        {
          cpu_set_t set;
          CPU_ZERO (&set);
          CPU_SET (pass, &set);
          if (sched_setaffinity (0, sizeof set, &set) != 0)
            continue;
          for (;;)
            {
              int i = rseq_percpu_current_index (mode);
              void *node = NULL;
              int r = rseq_percpu_load_cbeq_pop (mode, (unsigned) i,
                                                 &slots[i].word, 0, &node);
              if (r == RSEQ_PERCPU_COMPARE_FAILED)
                break;
              if (r != RSEQ_PERCPU_DONE)
                continue;
              int k = (int) (((uintptr_t (*)[2]) node) - nodes);
              dup += seen[k]++ != 0;
              popped++;
            }
        }
      int cpus = 0;
      cpu_set_t all;
      if (sched_getaffinity (0, sizeof all, &all) == 0)
        cpus = CPU_COUNT (&all);
      if (mode == RSEQ_PERCPU_CPU_ID)
        CHECK (popped == 4096 || cpus < 2, "pop: %d of 4096 nodes", popped);
      CHECK (dup == 0, "pop: %d nodes popped twice", dup);
      void *none = (void *) 1;
      slots[idx].word = 0;
      CHECK (rseq_percpu_load_cbeq_pop (mode, (unsigned) idx, &slots[idx].word,
                                        0, &none)
                 != RSEQ_PERCPU_DONE
             && none == NULL,
             "pop of an empty list");
      cpu_set_t reset;
      CPU_ZERO (&reset);
      for (int c = 0; c < CPU_SETSIZE && c < 1024; c++)
        CPU_SET (c, &reset);
      sched_setaffinity (0, sizeof reset, &reset);
    }
  else
    CHECK (idx == -ENOSYS, "current_index without area: %d", idx);
}

/* ---- use cases ---- */

static void *counter;
static void *
counter_worker (void *arg)
{
  long t = (long) arg;
  for (int i = 0; i < ITERS; i++)
    {
      if (t % 2)
        rseq_percpu_counter_inc (counter);
      else
        rseq_percpu_counter_add (counter, 3);
      if (i % 1000 == 0)
        sched_yield ();
    }
  return NULL;
}

static void
test_counter (void)
{
  counter = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_counter_size ());
  CHECK (rseq_percpu_counter_init (counter, rseq_percpu_counter_size (), mode)
             == 0, "counter init");
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++)
    pthread_create (&t[i], NULL, counter_worker, (void *) i);
  for (int i = 0; i < THREADS; i++)
    pthread_join (t[i], NULL);
  uint64_t v = 0, old = 0;
  uint64_t want = (uint64_t) ITERS * (THREADS / 2) * (1 + 3);
  CHECK (rseq_percpu_counter_read (counter, &v) == 0 && v == want,
         "counter %lu != %lu", (unsigned long) v, (unsigned long) want);
  CHECK (rseq_percpu_counter_reset (counter, &old) == 0 && old == want,
         "reset");
  CHECK (rseq_percpu_counter_read (counter, &v) == 0 && v == 0, "after reset");
  free (counter);
}

/* Concurrent resets (issue: reset returned wrapped totals and counted
   increments twice).  Semantics: reset is a read-and-clear; the values all
   resets return plus the final read add up to every increment, and no
   reset or read returns more than was ever added.  */
#define RESET_INCS 200000
static int reset_stop;
static int reset_bad;
static void *
reset_inc_worker (void *arg)
{
  (void) arg;
  for (int i = 0; i < RESET_INCS; i++)
    {
      rseq_percpu_counter_inc (counter);
      if (i % 8192 == 0)
        sched_yield ();
    }
  return NULL;
}
static void *
reset_worker (void *arg)
{
  long reader = (long) arg;
  uint64_t got = 0, v = 0;
  const uint64_t most = (uint64_t) RESET_INCS * 3;
  for (long n = 0; !__atomic_load_n (&reset_stop, __ATOMIC_RELAXED) || n < 1000;
       n++)
    {
      int r = reader ? rseq_percpu_counter_read (counter, &v)
                     : rseq_percpu_counter_reset (counter, &v);
      if (r != 0 || v > most)
        {
          if (!__atomic_exchange_n (&reset_bad, 1, __ATOMIC_RELAXED))
            printf ("FAIL %s returned %d, %lu > %lu\n",
                    reader ? "read" : "reset", r, (unsigned long) v,
                    (unsigned long) most);
        }
      else if (!reader)
        got += v;
    }
  return (void *) (uintptr_t) got;
}

static void
test_counter_reset_race (void)
{
  counter = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_counter_size ());
  CHECK (rseq_percpu_counter_init (counter, rseq_percpu_counter_size (), mode)
             == 0, "counter init");
  reset_stop = 0;
  reset_bad = 0;
  pthread_t inc[3], rs[3];
  for (long i = 0; i < 3; i++)
    pthread_create (&rs[i], NULL, reset_worker, (void *) (long) (i == 2));
  for (int i = 0; i < 3; i++)
    pthread_create (&inc[i], NULL, reset_inc_worker, NULL);
  for (int i = 0; i < 3; i++)
    pthread_join (inc[i], NULL);
  __atomic_store_n (&reset_stop, 1, __ATOMIC_RELAXED);
  uint64_t returned = 0, rest = 0;
  for (int i = 0; i < 3; i++)
    {
      void *g;
      pthread_join (rs[i], &g);
      returned += (uintptr_t) g;
    }
  CHECK (!reset_bad, "no wrapped or doubled reset/read value");
  CHECK (rseq_percpu_counter_read (counter, &rest) == 0
             && returned + rest == (uint64_t) RESET_INCS * 3,
         "concurrent resets: %lu returned + %lu read != %lu",
         (unsigned long) returned, (unsigned long) rest,
         (unsigned long) RESET_INCS * 3);
  free (counter);
}

/* A thread whose area is not registered any more.  The component's
   rseq_libc_unregister_current_thread forgets the area; a raw rseq system
   call (an application, a patched libc, a sandbox) does not, and then the
   component still has the pointer while the kernel wrote cpu_id = -1 and
   mm_cid = 0: every path must see cpu_id < 0 and fall back, otherwise the
   thread shares slot 0 with a registered thread without protection.  */
#define UNREG_INCS 3000000
static int unreg_how; /* 0: the component's call, 1: raw system call */
static pthread_barrier_t unreg_start;
static int unreg_state[2]; /* [0]: unregistered, [1]: path checks failed */

static int
raw_unregister (void)
{
  struct rseq *area = rseq_libc_area ();
  if (area == NULL)
    return -ENOSYS;
  for (unsigned len = 32; len <= 256; len *= 2)
    if (syscall (SYS_rseq, area, len, 1 /* RSEQ_FLAG_UNREGISTER */,
                 0x53053053) == 0)
      return 0;
  return -errno;
}

static void *
unreg_worker (void *arg)
{
  if (arg != NULL)
    {
      int r = unreg_how ? raw_unregister ()
                        : rseq_libc_unregister_current_thread ();
      unreg_state[0] = r == 0;
      if (r == 0)
        {
          int bad = 0;
          uintptr_t w __attribute__ ((aligned (64))) = 0;
          unsigned at = 0;
          bad |= rseq_percpu_current_index (mode) != -ENOSYS;
          int a = rseq_percpu_add (mode, 0, &w, 1);
          bad |= a == RSEQ_PERCPU_DONE;
          a = rseq_percpu_add_indexed (mode, &w, 64, 1, 1, &at);
          bad |= a == RSEQ_PERCPU_DONE;
          bad |= w != 0;
          void *ring = aligned_alloc (RSEQ_PERCPU_ALIGN,
                                      rseq_percpu_ring_size ());
          rseq_percpu_ring_init (ring, rseq_percpu_ring_size (), mode);
          bad |= rseq_percpu_ring_write (ring, "x", 1) != RSEQ_PERCPU_FALLBACK;
          free (ring);
          void *lock = aligned_alloc (RSEQ_PERCPU_ALIGN,
                                      rseq_percpu_lock_size ());
          rseq_percpu_lock_init (lock, rseq_percpu_lock_size (), mode);
          bad |= rseq_percpu_read_lock (lock) != RSEQ_PERCPU_FALLBACK;
          rseq_percpu_read_unlock (lock);
          free (lock);
          unreg_state[1] = bad;
        }
    }
  pthread_barrier_wait (&unreg_start);
  for (int i = 0; i < UNREG_INCS; i++)
    {
      rseq_percpu_counter_inc (counter);
      if (i % 65536 == 0)
        sched_yield ();
    }
  return NULL;
}

static void
test_unregistered_thread (void)
{
  static const char *how[] = { "rseq_libc_unregister_current_thread",
                               "raw rseq unregistration" };
  for (unreg_how = 0; unreg_how < 2; unreg_how++)
    {
      counter = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_counter_size ());
      rseq_percpu_counter_init (counter, rseq_percpu_counter_size (), mode);
      unreg_state[0] = unreg_state[1] = 0;
      pthread_barrier_init (&unreg_start, NULL, 3);
      pthread_t t[3];
      for (long i = 0; i < 3; i++)
        pthread_create (&t[i], NULL, unreg_worker, (void *) (long) (i == 0));
      for (int i = 0; i < 3; i++)
        pthread_join (t[i], NULL);
      pthread_barrier_destroy (&unreg_start);
      uint64_t v = 0;
      rseq_percpu_counter_read (counter, &v);
      printf ("unregistered thread (%s): %s\n", how[unreg_how],
              unreg_state[0] ? "unregistered" : "not possible here");
      CHECK (!unreg_state[1], "%s: a per-CPU path used the stale area",
             how[unreg_how]);
      CHECK (v == (uint64_t) UNREG_INCS * 3, "%s: counter %lu != %lu",
             how[unreg_how], (unsigned long) v,
             (unsigned long) UNREG_INCS * 3);
      free (counter);
    }
}

#define POOL_OBJECTS 2048
static void *pool;
static void *
pool_worker (void *arg)
{
  uintptr_t mark = (uintptr_t) arg + 1;
  void *held[32];
  int n = 0;
  long bad = 0;
  for (int i = 0; i < ITERS; i++)
    {
      if (i % 3 != 2 && n < 32)
        {
          void *o;
          if (rseq_percpu_pool_alloc (pool, &o) == 0)
            {
              ((uintptr_t *) o)[7] = mark;
              held[n++] = o;
            }
        }
      else if (n > 0)
        {
          void *o = held[--n];
          bad += ((uintptr_t *) o)[7] != mark;
          rseq_percpu_pool_free (pool, o);
        }
    }
  while (n > 0)
    rseq_percpu_pool_free (pool, held[--n]);
  return (void *) bad;
}

static int
cmp_ptr (const void *a, const void *b)
{
  uintptr_t x = *(const uintptr_t *) a, y = *(const uintptr_t *) b;
  return x < y ? -1 : x > y;
}

static uintptr_t got[POOL_OBJECTS + 1];
static int collected;
static pthread_barrier_t collect_start;

static void *
pool_collector (void *arg)
{
  cpu_set_t one;
  CPU_ZERO (&one);
  CPU_SET ((long) arg, &one);
  sched_setaffinity (0, sizeof one, &one);
  for (int round = 0; round < 2; round++)
    {
      pthread_barrier_wait (&collect_start);
      void *o;
      while (rseq_percpu_pool_alloc (pool, &o) == 0)
        {
          int k = __atomic_fetch_add (&collected, 1, __ATOMIC_RELAXED);
          if (k <= POOL_OBJECTS)
            got[k] = (uintptr_t) o;
        }
    }
  return NULL;
}

static int reclaim_stop;

/* Reclaims every index's list in a loop; returns the objects moved, or the
   first error.  */
static void *
pool_reclaimer (void *arg)
{
  long moved = 0;
  (void) arg;
  while (!__atomic_load_n (&reclaim_stop, __ATOMIC_ACQUIRE))
    {
      for (unsigned int i = 0; i < 64; i++)
        {
          long r = rseq_percpu_pool_reclaim (pool, i);
          if (r == -EBUSY)
            continue;
          if (r < 0)
            return (void *) r;
          moved += r;
        }
      sched_yield ();
    }
  return (void *) moved;
}

static void
test_pool (void)
{
  pool = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_pool_size ());
  CHECK (rseq_percpu_pool_init (pool, rseq_percpu_pool_size (), mode, 64, 32)
             == 0, "pool init");
  void *storage = aligned_alloc (64, POOL_OBJECTS * 64);
  CHECK (rseq_percpu_pool_add_storage (pool, storage, POOL_OBJECTS * 64)
             == POOL_OBJECTS, "add storage");
  pthread_t t[THREADS], rec;
  long bad = 0;
  /* A reclaimer takes every index's list back while the workers run.  */
  reclaim_stop = 0;
  pthread_create (&rec, NULL, pool_reclaimer, NULL);
  for (long i = 0; i < THREADS; i++)
    pthread_create (&t[i], NULL, pool_worker, (void *) i);
  for (int i = 0; i < THREADS; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      bad += (long) r;
    }
  __atomic_store_n (&reclaim_stop, 1, __ATOMIC_RELEASE);
  void *rr;
  pthread_join (rec, &rr);
  CHECK (bad == 0, "pool: %ld objects handed out twice", bad);
  CHECK ((long) rr >= 0, "pool reclaim: error %ld", (long) rr);
  printf ("pool: %ld objects reclaimed from per-CPU lists meanwhile\n",
          (long) rr);
  /* Everything is free again: collect it from every CPU's list, with one
     collector pinned to each allowed CPU, all alive at once (so that with
     mm_cid they hold every concurrency id there is).  */
  cpu_set_t all;
  sched_getaffinity (0, sizeof all, &all);
  pthread_t c[64];
  int nc = 0;
  pthread_barrier_init (&collect_start, NULL, (unsigned) CPU_COUNT (&all) < 64
                        ? (unsigned) CPU_COUNT (&all) : 64);
  for (long cpu = 0; cpu < CPU_SETSIZE && nc < 64; cpu++)
    if (CPU_ISSET (cpu, &all))
      pthread_create (&c[nc++], NULL, pool_collector, (void *) cpu);
  for (int i = 0; i < nc; i++)
    pthread_join (c[i], NULL);
  pthread_barrier_destroy (&collect_start);
  int n = collected > POOL_OBJECTS + 1 ? POOL_OBJECTS + 1 : collected;
  qsort (got, (size_t) n, sizeof got[0], cmp_ptr);
  int dup = 0;
  for (int i = 1; i < n; i++)
    dup += got[i] == got[i - 1];
  CHECK (n == POOL_OBJECTS && dup == 0, "pool: %d objects, %d twice", n, dup);
  void *o;
  CHECK (rseq_percpu_pool_alloc (pool, &o) == -ENOMEM && o == NULL,
         "empty pool");
}

/* The flush ring: writers number their records; a flusher takes every
   CPU's packet away while they write.  Each record written (write >= -1)
   is read exactly once and whole; each refused one (-ENOSPC) never.  */
#define FLUSH_WRITERS 4
#define FLUSH_RECORDS 20000
/* Records per writer in this run (--records): at most FLUSH_RECORDS.  */
static uint32_t records = FLUSH_RECORDS;
static void *fring;
static unsigned char fl_written[FLUSH_WRITERS][FLUSH_RECORDS];
static unsigned char fl_seen[FLUSH_WRITERS][FLUSH_RECORDS];
static long fl_bad;
static int fl_stop;

static void
flush_record (void *arg, int where, const void *payload, size_t len)
{
  uint32_t hdr[2];
  (void) arg;
  (void) where;
  if (len < sizeof hdr)
    {
      fl_bad++;
      return;
    }
  memcpy (hdr, payload, sizeof hdr);
  const unsigned char *p = payload;
  for (size_t k = sizeof hdr; k < len; k++)
    fl_bad += p[k] != (unsigned char) (hdr[0] ^ hdr[1] ^ k);
  if (hdr[0] >= FLUSH_WRITERS || hdr[1] >= records
      || len != 8 + hdr[1] % 40 || fl_seen[hdr[0]][hdr[1]]++)
    fl_bad++;
}

static void *
flush_writer (void *arg)
{
  uint32_t t = (uint32_t) (uintptr_t) arg;
  unsigned char buf[RSEQ_PERCPU_RECORD_MAX];
  for (uint32_t seq = 0; seq < records; seq++)
    {
      size_t len = 8 + seq % 40;
      memcpy (buf, &t, 4);
      memcpy (buf + 4, &seq, 4);
      for (size_t k = 8; k < len; k++)
        buf[k] = (unsigned char) (t ^ seq ^ k);
      for (int tries = 0; tries < 100; tries++)
        {
          int r = rseq_percpu_flush_ring_write (fring, buf, len);
          if (r >= -1)
            {
              fl_written[t][seq] = 1;
              break;
            }
          if (r != -ENOSPC)
            {
              printf ("FAIL flush ring write: %d\n", r);
              checks_failed++;
              return NULL;
            }
          sched_yield ();
        }
    }
  return NULL;
}

static void *
flusher (void *arg)
{
  long n = 0;
  (void) arg;
  while (!__atomic_load_n (&fl_stop, __ATOMIC_ACQUIRE))
    {
      long r = rseq_percpu_flush_ring_flush (fring, flush_record, NULL);
      if (r < 0)
        return (void *) r;
      n += r;
      sched_yield ();
    }
  return (void *) n;
}

static void
test_flush_ring (int fallback)
{
  rseq_percpu_remote_fallback_only (fallback);
  fring = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_flush_ring_size ());
  CHECK (rseq_percpu_flush_ring_init (fring, rseq_percpu_flush_ring_size ())
             == 0, "flush ring init");
  memset (fl_written, 0, sizeof fl_written);
  memset (fl_seen, 0, sizeof fl_seen);
  fl_bad = 0;
  fl_stop = 0;
  pthread_t w[FLUSH_WRITERS], f;
  pthread_create (&f, NULL, flusher, NULL);
  for (uintptr_t i = 0; i < FLUSH_WRITERS; i++)
    pthread_create (&w[i], NULL, flush_writer, (void *) i);
  for (int i = 0; i < FLUSH_WRITERS; i++)
    pthread_join (w[i], NULL);
  __atomic_store_n (&fl_stop, 1, __ATOMIC_RELEASE);
  void *r;
  pthread_join (f, &r);
  CHECK ((long) r >= 0, "flush: error %ld", (long) r);
  long last = rseq_percpu_flush_ring_flush (fring, flush_record, NULL);
  CHECK (last >= 0, "last flush: %ld", last);
  long written = 0, mismatch = 0;
  for (int t = 0; t < FLUSH_WRITERS; t++)
    for (uint32_t k = 0; k < records; k++)
      {
        written += fl_written[t][k];
        mismatch += fl_written[t][k] != fl_seen[t][k];
      }
  struct rseq_percpu_flush_stats st;
  CHECK (rseq_percpu_flush_ring_stats (fring, &st) == 0, "stats");
  CHECK (fl_bad == 0 && mismatch == 0,
         "flush ring%s: %ld torn or duplicated, %ld written but not read "
         "or read but not written", fallback ? " (fallback)" : "", fl_bad,
         mismatch);
  CHECK (st.free_packets == RSEQ_PERCPU_FLUSH_PACKETS,
         "flush ring: %lu packets free after the last flush",
         (unsigned long) st.free_packets);
  CHECK ((long) st.records == written, "flush ring: %lu flushed, %ld written",
         (unsigned long) st.records, written);
  printf ("flush ring%s: %ld records written, all read once (%lu packets "
          "flushed, %lu installs, %lu dropped and reported)\n",
          fallback ? " (fallback fence)" : "", written,
          (unsigned long) st.packets, (unsigned long) st.installs,
          (unsigned long) st.lost);
  CHECK (rseq_percpu_flush_ring_has_packet (fring, 64) == -EINVAL, "cpu 64");
  CHECK (rseq_percpu_flush_ring_has_packet (fring, 0) == 0, "no packet");
  free (fring);
  rseq_percpu_remote_fallback_only (0);
}

static void *ring;
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
  long ok = 0;
  unsigned char b[RSEQ_PERCPU_RECORD_MAX];
  for (int i = 0; i < ITERS; i++)
    {
      size_t len = 2 + (size_t) (i % (RSEQ_PERCPU_RECORD_MAX - 1));
      b[0] = (unsigned char) len;
      b[1] = (unsigned char) ((long) arg * 31 + i);
      for (size_t k = 2; k < len; k++)
        b[k] = (unsigned char) (b[1] ^ k);
      int r = rseq_percpu_ring_write (ring, b, len);
      ok += r >= RSEQ_PERCPU_FALLBACK;
      if (r < RSEQ_PERCPU_FALLBACK && r != -ENOSPC)
        ok -= 1000000;
    }
  return (void *) ok;
}

static void
test_ring (void)
{
  ring = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_ring_size ());
  CHECK (rseq_percpu_ring_init (ring, rseq_percpu_ring_size (), mode) == 0,
         "ring init");
  pthread_t c, t[THREADS];
  pthread_create (&c, NULL, ring_consumer, NULL);
  for (long i = 0; i < THREADS; i++)
    pthread_create (&t[i], NULL, ring_writer, (void *) i);
  long written = 0;
  for (int i = 0; i < THREADS; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      written += (long) r;
    }
  __atomic_store_n (&ring_done, 1, __ATOMIC_RELEASE);
  pthread_join (c, NULL);
  uint64_t lost = 0;
  CHECK (rseq_percpu_ring_lost (ring, &lost) == 0, "lost");
  CHECK (ring_torn == 0, "ring: %lu torn records", (unsigned long) ring_torn);
  CHECK ((long) ring_read == written, "ring: read %lu != written %ld",
         (unsigned long) ring_read, written);
  CHECK ((long) (ring_read + lost) == (long) THREADS * ITERS,
         "ring: read %lu + lost %lu != %d", (unsigned long) ring_read,
         (unsigned long) lost, THREADS * ITERS);
  unsigned char big[RSEQ_PERCPU_RECORD_MAX + 1] = { 0 };
  CHECK (rseq_percpu_ring_write (ring, big, sizeof big) == -EINVAL,
         "too long");
}

static void *lock;
static volatile uint64_t lock_a, lock_b;
static void *
lock_worker (void *arg)
{
  long t = (long) arg, torn = 0;
  for (int i = 0; i < ITERS / 4; i++)
    {
      if (t == 0 && i % 16 == 0)
        {
          rseq_percpu_write_lock (lock);
          lock_a = lock_a + 1;
          for (int k = 0; k < 100; k++)
            cpu_relax ();
          lock_b = lock_b + 1;
          rseq_percpu_write_unlock (lock);
        }
      else
        {
          int w = rseq_percpu_read_lock (lock);
          uint64_t a = lock_a;
          for (int k = 0; k < 50; k++)
            cpu_relax ();
          uint64_t b = lock_b;
          rseq_percpu_read_unlock (lock);
          torn += a != b || w < RSEQ_PERCPU_FALLBACK;
        }
    }
  return (void *) torn;
}

static void
test_lock (void)
{
  lock = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_lock_size ());
  CHECK (rseq_percpu_lock_init (lock, rseq_percpu_lock_size (), mode) == 0,
         "lock init");
  pthread_t t[THREADS];
  long torn = 0;
  for (long i = 0; i < THREADS; i++)
    pthread_create (&t[i], NULL, lock_worker, (void *) i);
  for (int i = 0; i < THREADS; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      torn += (long) r;
    }
  int writes = (ITERS / 4 + 15) / 16;
  CHECK (torn == 0, "lock: %ld reads saw a writer inside", torn);
  CHECK (lock_a == (uint64_t) writes && lock_b == (uint64_t) writes,
         "lock: %lu/%lu != %d", (unsigned long) lock_a,
         (unsigned long) lock_b, writes);
}

static void
test_bad_input (void)
{
  uintptr_t w = 0, *mis = (uintptr_t *) ((char *) &w + 1);
  void *node;
  unsigned char mem[64];
  CHECK (rseq_percpu_current_index (7) == -EINVAL, "bad mode");
  CHECK (rseq_percpu_add (RSEQ_PERCPU_CPU_ID, 0, NULL, 1) == -EINVAL, "null");
  CHECK (rseq_percpu_add (RSEQ_PERCPU_CPU_ID, 0, mis, 1) == -EINVAL, "misaligned");
  CHECK (rseq_percpu_add (9, 0, &w, 1) == -EINVAL, "bad mode");
  CHECK (rseq_percpu_load_cbne_store (0, 0, NULL, 0, 1) == -EINVAL, "null");
  CHECK (rseq_percpu_load_cbne_store_store (0, 0, &w, 0, NULL, 0, 1) == -EINVAL,
         "null v2");
  CHECK (rseq_percpu_load_cbne_memcpy_store (0, 0, &w, 0, NULL, &w, 8, 1)
             == -EINVAL, "null dst");
  CHECK (rseq_percpu_load_cbne_memcpy_store (0, 0, &w, 0, &w, &w,
                                             RSEQ_PERCPU_MEMCPY_MAX + 1, 1)
             == -EINVAL, "too long");
  CHECK (rseq_percpu_load_cbeq_pop (0, 0, &w, 0, NULL) == -EINVAL, "null out");
  CHECK (rseq_percpu_load_cbeq_pop (0, 0, NULL, 0, &node) == -EINVAL, "null");
  CHECK (rseq_percpu_add_indexed (0, &w, 0, 1, 1, NULL) == -EINVAL, "stride 0");
  CHECK (rseq_percpu_add_indexed (0, &w, 8, 0, 1, NULL) == -EINVAL, "0 slots");
  CHECK (rseq_percpu_add_indexed (0, NULL, 8, 1, 1, NULL) == -EINVAL, "null");
  CHECK (rseq_percpu_counter_init (NULL, 1 << 20, 0) == -EINVAL, "null");
  CHECK (rseq_percpu_counter_init (mem, sizeof mem, 0) == -EINVAL, "small");
  CHECK (rseq_percpu_counter_inc (NULL) == -EINVAL, "null counter");
  CHECK (rseq_percpu_counter_add ((char *) counter + 1, 1) == -EINVAL,
         "misaligned counter");
  CHECK (rseq_percpu_counter_read (NULL, &w) == -EINVAL, "null counter");
  CHECK (rseq_percpu_counter_reset (NULL, NULL) == -EINVAL, "null counter");
  CHECK (rseq_percpu_pool_init (NULL, 1 << 20, 0, 64, 8) == -EINVAL, "null");
  CHECK (rseq_percpu_pool_init (pool, rseq_percpu_pool_size (), 0, 12, 8)
             == -EINVAL, "object size 12");
  CHECK (rseq_percpu_pool_alloc (NULL, &node) == -EINVAL, "null pool");
  CHECK (rseq_percpu_pool_alloc (pool, NULL) == -EINVAL, "null out");
  CHECK (rseq_percpu_pool_free (pool, NULL) == -EINVAL, "free null");
  CHECK (rseq_percpu_pool_add_storage (pool, NULL, 64) == -EINVAL, "null");
  CHECK (rseq_percpu_pool_reclaim (NULL, 0) == -EINVAL, "null pool");
  CHECK (rseq_percpu_pool_reclaim (pool, 256) == -EINVAL, "cpu 256");
  CHECK (rseq_percpu_pool_cpu_free (pool, 256) == -EINVAL, "cpu 256");
  CHECK (rseq_percpu_remote_fence (1024) == -EINVAL, "cpu 1024");
  CHECK (rseq_percpu_remote_fence (0) >= 0, "fence cpu 0");
  CHECK (rseq_percpu_flush_ring_init (NULL, 1 << 24) == -EINVAL, "null");
  CHECK (rseq_percpu_flush_ring_write (NULL, &w, 8) == -EINVAL, "null ring");
  CHECK (rseq_percpu_flush_ring_flush (NULL, flush_record, NULL) == -EINVAL,
         "null ring");
  CHECK (rseq_percpu_flush_ring_stats (NULL, NULL) == -EINVAL, "null");
  CHECK (rseq_percpu_ring_init (NULL, 1 << 24, 0) == -EINVAL, "null");
  CHECK (rseq_percpu_ring_write (NULL, &w, 8) == -EINVAL, "null ring");
  CHECK (rseq_percpu_ring_write (ring, NULL, 8) == -EINVAL, "null payload");
  CHECK (rseq_percpu_ring_consume (ring, NULL, NULL) == -EINVAL, "null fn");
  CHECK (rseq_percpu_ring_lost (ring, NULL) == -EINVAL, "null out");
  CHECK (rseq_percpu_lock_init (NULL, 1 << 20, 0) == -EINVAL, "null");
  CHECK (rseq_percpu_read_lock (NULL) == -EINVAL, "null lock");
  CHECK (rseq_percpu_read_unlock (NULL) == -EINVAL, "null lock");
  CHECK (rseq_percpu_write_lock (NULL) == -EINVAL, "null lock");
  CHECK (rseq_percpu_write_unlock (NULL) == -EINVAL, "null lock");
}


/* ---- shared between processes (RSEQ_PERCPU_SHARED) --------------------
   A flush ring and a pool in a memfd mapping: producer processes write and
   allocate through the mapping they inherited; the consumer (this process)
   maps the memfd a second time, unmaps the first view, and flushes through
   the second: the ring holds offsets, not pointers, and its flush fences
   the producers' sections (rseq_percpu_remote_fence_shared).  The pool
   must stay at its address: the second view answers -EFAULT.  */
#define SH_PRODUCERS 3
#define SH_RECORDS 20000
_Static_assert (SH_RECORDS >= FLUSH_RECORDS, "--records bounds both tests");
#define SH_OBJECTS 256
static size_t sh_ring_off, sh_pool_off, sh_store_off, sh_owner_off, sh_len;

static void
sh_layout (void)
{
  size_t a = RSEQ_PERCPU_ALIGN;
  sh_ring_off = 0;
  sh_pool_off = (rseq_percpu_flush_ring_size () + a - 1) / a * a;
  sh_store_off = sh_pool_off + (rseq_percpu_pool_size () + a - 1) / a * a;
  sh_owner_off = sh_store_off + SH_OBJECTS * 64;
  sh_len = (sh_owner_off + SH_OBJECTS * sizeof (uint32_t) + 4095) / 4096 * 4096;
}

static unsigned char sh_seen[SH_PRODUCERS][SH_RECORDS];
static long sh_bad;

static void
sh_record (void *arg, int where, const void *payload, size_t len)
{
  uint32_t hdr[2];
  (void) arg;
  (void) where;
  if (len != sizeof hdr)
    {
      sh_bad++;
      return;
    }
  memcpy (hdr, payload, sizeof hdr);
  if (hdr[0] >= SH_PRODUCERS || hdr[1] >= records || sh_seen[hdr[0]][hdr[1]]++)
    sh_bad++;
}

static int
sh_producer (unsigned char *base, uint32_t id)
{
  void *fr = base + sh_ring_off, *pool = base + sh_pool_off;
  uint32_t *owner = (uint32_t *) (base + sh_owner_off);
  for (uint32_t seq = 0; seq < records; seq++)
    {
      uint32_t hdr[2] = { id, seq };
      int r;
      long tries = 0;
      while ((r = rseq_percpu_flush_ring_write (fr, hdr, sizeof hdr)) < -1)
        {
          if (r != -ENOSPC || ++tries > 10000000)
            return 2;
          sched_yield ();
        }
      void *o;
      if (rseq_percpu_pool_alloc (pool, &o) == 0)
        {
          size_t k = ((unsigned char *) o - (base + sh_store_off)) / 64;
          if (k >= SH_OBJECTS
              || __atomic_exchange_n (&owner[k], id + 1, __ATOMIC_ACQ_REL) != 0)
            return 3; /* foreign object, or handed out twice */
          __atomic_store_n (&owner[k], 0, __ATOMIC_RELEASE);
          if (rseq_percpu_pool_free (pool, o) != 0)
            return 4;
        }
    }
  return 0;
}

static void
test_shared (void)
{
  /* Sharing refused where it cannot work.  */
  void *mem = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_ring_size ());
  CHECK (rseq_percpu_counter_init (mem, rseq_percpu_counter_size (),
                                   RSEQ_PERCPU_MM_CID | RSEQ_PERCPU_SHARED)
             == -EINVAL, "shared counter by mm_cid");
  CHECK (rseq_percpu_counter_init (mem, rseq_percpu_counter_size (),
                                   RSEQ_PERCPU_CPU_ID | RSEQ_PERCPU_SHARED) == 0,
         "shared counter by cpu_id");
  CHECK (rseq_percpu_ring_init (mem, rseq_percpu_ring_size (),
                                RSEQ_PERCPU_MM_CID | RSEQ_PERCPU_SHARED)
             == -EINVAL, "shared ring by mm_cid");
  CHECK (rseq_percpu_ring_init (mem, rseq_percpu_ring_size (),
                                RSEQ_PERCPU_SHARED) == 0, "shared ring");
  CHECK (rseq_percpu_pool_init (mem, rseq_percpu_pool_size (),
                                RSEQ_PERCPU_MM_CID | RSEQ_PERCPU_SHARED, 64, 8)
             == -EINVAL, "shared pool by mm_cid");
  CHECK (rseq_percpu_lock_init (mem, rseq_percpu_lock_size (),
                                RSEQ_PERCPU_SHARED) == -EINVAL, "shared lock");
  CHECK (rseq_percpu_counter_init (mem, rseq_percpu_counter_size (), 0x200)
             == -EINVAL, "unknown flag");
  free (mem);
  CHECK (rseq_percpu_remote_fence_shared (0) == 1, "shared fence visits");
  CHECK (rseq_percpu_remote_fence_shared (1024) == -EINVAL, "cpu 1024");

  sh_layout ();
  int fd = memfd_create ("rseq-percpu-shared", 0);
  CHECK (fd >= 0 && ftruncate (fd, (off_t) sh_len) == 0, "memfd");
  unsigned char *a = mmap (NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK (a != MAP_FAILED, "mmap");
  if (fd < 0 || a == MAP_FAILED)
    return;
  CHECK (rseq_percpu_flush_ring_init_shared (a + sh_ring_off,
                                             rseq_percpu_flush_ring_size ()) == 0,
         "shared flush ring");
  CHECK (rseq_percpu_pool_init (a + sh_pool_off, rseq_percpu_pool_size (),
                                RSEQ_PERCPU_SHARED, 64, 16) == 0, "shared pool");
  CHECK (rseq_percpu_pool_add_storage (a + sh_pool_off, a + sh_store_off,
                                       SH_OBJECTS * 64) == SH_OBJECTS, "storage");
  pid_t pids[SH_PRODUCERS];
  for (uint32_t i = 0; i < SH_PRODUCERS; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        _exit (sh_producer (a, i));
    }
  /* The consumer's own view, elsewhere; the first one goes away.  */
  unsigned char *b = mmap (NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK (b != MAP_FAILED && b != a, "second mapping");
  void *pb = b + sh_pool_off, *o = NULL;
  CHECK (rseq_percpu_pool_alloc (pb, &o) == -EFAULT, "pool elsewhere: alloc");
  CHECK (rseq_percpu_pool_free (pb, b + sh_store_off) == -EFAULT,
         "pool elsewhere: free");
  CHECK (rseq_percpu_pool_reclaim (pb, 0) == -EFAULT, "pool elsewhere: reclaim");
  long moved = 0;
  for (int c = 0; c < 2; c++)
    {
      long m = rseq_percpu_pool_reclaim (a + sh_pool_off, (unsigned) c);
      CHECK (m >= 0 || m == -EAGAIN, "reclaim: %ld", m);
      moved += m > 0 ? m : 0;
    }
  munmap (a, sh_len);
  memset (sh_seen, 0, sizeof sh_seen);
  sh_bad = 0;
  int alive = SH_PRODUCERS, bad_exit = 0;
  long flushed = 0;
  while (alive > 0)
    {
      long r = rseq_percpu_flush_ring_flush (b + sh_ring_off, sh_record, NULL);
      CHECK (r >= 0, "shared flush: %ld", r);
      if (r < 0)
        break;
      flushed += r;
      int st;
      pid_t p;
      while ((p = waitpid (-1, &st, WNOHANG)) > 0)
        {
          alive--;
          bad_exit += !WIFEXITED (st) || WEXITSTATUS (st) != 0;
        }
      sched_yield ();
    }
  long r = rseq_percpu_flush_ring_flush (b + sh_ring_off, sh_record, NULL);
  flushed += r > 0 ? r : 0;
  long missing = 0;
  for (int t = 0; t < SH_PRODUCERS; t++)
    for (uint32_t k = 0; k < records; k++)
      missing += sh_seen[t][k] != 1;
  CHECK (bad_exit == 0, "%d producers failed (write error, object handed out "
         "twice or foreign)", bad_exit);
  CHECK (sh_bad == 0 && missing == 0,
         "shared flush ring: %ld torn or duplicated, %ld not read once", sh_bad,
         missing);
  printf ("shared: %d producer processes wrote %ld records, read exactly once "
          "by this process through another mapping (the first unmapped); "
          "shared pool: no object handed out twice, -EFAULT at another "
          "address\n", SH_PRODUCERS, flushed);
  munmap (b, sh_len);
  close (fd);
}

int
main (int argc, char **argv)
{
  /* Line by line: a run killed by a guest's timeout still shows where it
     was.  */
  setvbuf (stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++)
    {
      char *end;
      if (strcmp (argv[i], "--mm-cid") == 0)
        mode = RSEQ_PERCPU_MM_CID;
      else if (strcmp (argv[i], "--records") == 0 && i + 1 < argc)
        {
          unsigned long n = strtoul (argv[++i], &end, 10);
          if (*argv[i] == '\0' || *end != '\0' || n < 1 || n > FLUSH_RECORDS)
            {
              fprintf (stderr, "percpu_c_test: --records %s: not a number "
                       "from 1 to %d\n", argv[i], FLUSH_RECORDS);
              return 2;
            }
          records = (uint32_t) n;
        }
      else
        {
          fprintf (stderr, "usage: percpu_c_test [--mm-cid] [--records N]\n");
          return 2;
        }
    }
  int idx = rseq_percpu_current_index (mode);
  if (mode == RSEQ_PERCPU_MM_CID && idx == -EOPNOTSUPP)
    {
      printf ("mm_cid unsupported by this kernel: cpu_id instead\n");
      mode = RSEQ_PERCPU_CPU_ID;
      idx = rseq_percpu_current_index (mode);
    }
  printf ("mode %s, current index %d (%s)\n",
          mode ? "mm_cid" : "cpu_id", idx,
          idx >= 0 ? "rseq" : "no area: fallback paths");
  test_raw ();
  test_counter ();
  test_counter_reset_race ();
  test_unregistered_thread ();
  test_pool ();
  test_ring ();
  test_flush_ring (0);
  test_flush_ring (1);
  test_shared ();
  test_lock ();
  test_bad_input ();
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
