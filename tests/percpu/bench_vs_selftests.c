/* Our per-CPU operations beside the kernel rseq selftests' sequences
   (tools/testing/selftests/rseq/rseq-x86.h and rseq-x86-bits.h, by the
   author of librseq), in one program, operation by operation, in both
   index modes; then the use-case fast paths beside a floor, the baselines
   (glibc's sched_getcpu + an atomic on that CPU's slot, one shared atomic)
   and the slow paths (a thread with no area).  Built by
   tests/percpu/bench_vs_selftests.sh against the selftests of the Debian
   kernel source (never copied into the repository).

   Registration: both use the one area of the thread, whoever registered
   it: the selftests' sequences address it as %fs:rseq_offset, and this
   program sets rseq_offset to rseq-libc's area (rseq_libc_area () minus
   the thread pointer): glibc's own area when glibc owns registration (the
   offset the selftests' rseq.c would read from __rseq_offset), rseq-libc's
   when it owns it (GLIBC_TUNABLES=glibc.pthread.rseq=0).  The selftests'
   rseq.c is not linked: it exports __rseq_register_current_thread, by
   which rseq-libc recognizes a program that registers rseq itself and
   steps aside (no area for rseq-libc: everything of ours would take its
   fallback); rseq_offset, rseq_size and rseq_flags, all the sequences
   need from it, are defined here.

   Each operation is a loop of ITERS iterations with its index read and its
   retry on abort, written as the selftests' own tests write it
   (param_test.c, basic_percpu_ops_test.c) for theirs and as
   percpu_inline_test.c does for ours.  Rounds interleave every variant;
   each figure is the median over ROUNDS.  Pinned to the CPU it starts on.

   Usage: bench_vs_selftests [ROUNDS [ITERS]] (default 11 2000000).
   Prints one line per row, "row NAME NS", then "check ..." lines (every
   counter exact), for bench_vs_selftests.sh to lay out.  */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <rseq.h> /* the selftests' */
#include <rseq-percpu-inline.h>

#define NOINLINE __attribute__ ((noinline))
#define ALWAYS __attribute__ ((always_inline)) inline
#define MAXIDX 1024 /* the selftests' arrays: CPU_SETSIZE entries */
#define W 8         /* words per 64-byte slot */

static long rounds = 11, iters = 2000000;

#ifndef BENCH_STEPPED_ASIDE
/* What the selftests' rseq.h reads from rseq.c (see above).  */
ptrdiff_t rseq_offset;
unsigned int rseq_size;
unsigned int rseq_flags;
#endif

static double
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

/* ---- data ---- */

static uintptr_t st_slots[MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t our_slots[MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t *st_ptrs[MAXIDX] __attribute__ ((aligned (64)));
static uintptr_t *st_ptr_base = (uintptr_t *) st_ptrs;
static uintptr_t st_heads[MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t our_heads[MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t nodes[2][16 * W] __attribute__ ((aligned (64)));
static unsigned char rec_src[32] __attribute__ ((aligned (16)));
static unsigned char rec_dst[2][MAXIDX][64] __attribute__ ((aligned (64)));
static unsigned char counter[2][RSEQ_PERCPU_INLINE_COUNTER_SIZE]
  __attribute__ ((aligned (64)));
static unsigned char pool[RSEQ_PERCPU_INLINE_POOL_SIZE] __attribute__ ((aligned (64)));
static unsigned char ring[RSEQ_PERCPU_INLINE_RING_SIZE] __attribute__ ((aligned (64)));
static uint64_t pool_storage[4096 * 8];
static uint64_t floor_slots[256 * W] __attribute__ ((aligned (64)));
static uintptr_t floor_heads[256 * W] __attribute__ ((aligned (64)));
static uint64_t floor_objects[16 * W] __attribute__ ((aligned (64)));
static uint64_t shared_word __attribute__ ((aligned (64)));
static const volatile uint32_t *cpu_id_field;
static long retries;

/* The selftests' index, as their tests read it: cpu_id_start
   (rseq_cpu_start) in cpu_id mode, mm_cid in mm_cid mode.  */
static ALWAYS int
st_index (int mode)
{
  return mode == RSEQ_PERCPU_CPU_ID ? (int) rseq_cpu_start ()
                                    : (int) rseq_current_mm_cid ();
}

/* Ours: the inline header's index read (it checks the area).  */
static ALWAYS int
our_index (int mode)
{
  return rseq_percpu_inline_current_index (mode);
}

/* ---- counter add ---- */

static ALWAYS void
st_add (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = st_index (mode);
        if (rseq_likely (!rseq_addv (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode,
                                     (intptr_t *) &st_slots[c * W], 1, c)))
          break;
        retries++;
      }
}

static ALWAYS void
our_add_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = our_index (mode);
        if (rseq_percpu_inline_add (mode, (unsigned) c, &our_slots[c * W], 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

static ALWAYS void
our_add_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = rseq_percpu_current_index (mode);
        if (rseq_percpu_add (mode, (unsigned) c, &our_slots[c * W], 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

static ALWAYS void
our_counter_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    rseq_percpu_inline_counter_inc (counter[mode]);
}

/* Through a handle (rseq_percpu_inline_counter_handle), made once per
   loop as a thread that counts many times keeps one.  */
static ALWAYS void
our_counter_handle (int mode, long n)
{
  struct rseq_percpu_inline_handle h;
  if (rseq_percpu_inline_counter_handle (&h, counter[mode]) != 0)
    abort ();
  for (long i = 0; i < n; i++)
    rseq_percpu_inline_handle_counter_inc (&h);
}

static ALWAYS void
our_counter_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    rseq_percpu_counter_inc (counter[mode]);
}

/* ---- compare-and-store: increment a slot by load + compare-and-store ---- */

static ALWAYS void
st_cbne (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = st_index (mode);
        uintptr_t *v = &st_slots[c * W + 1];
        uintptr_t old = RSEQ_READ_ONCE (*v);
        if (rseq_likely (!rseq_cmpeqv_storev (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode,
                                              (intptr_t *) v, old, old + 1, c)))
          break;
        retries++;
      }
}

static ALWAYS void
our_cbne_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = our_index (mode);
        uintptr_t *v = &our_slots[c * W + 1];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_inline_load_cbne_store (mode, (unsigned) c, v, old, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

static ALWAYS void
our_cbne_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = rseq_percpu_current_index (mode);
        uintptr_t *v = &our_slots[c * W + 1];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_load_cbne_store (mode, (unsigned) c, v, old, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

/* ---- indexed add: the selftests' offset_deref_addv (the slot's address
   loaded from a per-CPU pointer array at base + 8 * index) beside our
   add_indexed (the index read inside the section, base + stride * index) */

static ALWAYS void
st_indexed (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = st_index (mode);
        if (rseq_likely (!rseq_offset_deref_addv (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode,
                                                  (intptr_t *) &st_ptr_base,
                                                  (long) sizeof (uintptr_t *) * c, 1, c)))
          break;
        retries++;
      }
}

static ALWAYS void
our_indexed_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    {
      unsigned at;
      while (rseq_percpu_inline_add_indexed (mode, &our_slots[2], 64, MAXIDX, 1, &at)
             != RSEQ_PERCPU_DONE)
        retries++;
    }
}

static ALWAYS void
our_indexed_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    {
      unsigned at;
      while (rseq_percpu_add_indexed (mode, &our_slots[2], 64, MAXIDX, 1, &at)
             != RSEQ_PERCPU_DONE)
        retries++;
    }
}

/* ---- list pop + push (basic_percpu_ops_test's this_cpu_list_pop/push) ---- */

static ALWAYS uintptr_t *
st_pop (int mode)
{
  for (;;)
    {
      int c = st_index (mode);
      intptr_t node;
      int r = rseq_cmpnev_storeoffp_load (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode,
                                          (intptr_t *) &st_heads[c * W], 0, 0,
                                          &node, c);
      if (rseq_likely (!r))
        return (uintptr_t *) node;
      if (r > 0)
        return NULL;
      retries++;
    }
}

static ALWAYS void
st_push (int mode, uintptr_t *node)
{
  for (;;)
    {
      int c = st_index (mode);
      uintptr_t *h = &st_heads[c * W];
      uintptr_t expect = RSEQ_READ_ONCE (*h);
      node[0] = expect;
      if (rseq_likely (!rseq_cmpeqv_storev (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode,
                                            (intptr_t *) h, expect, (intptr_t) node, c)))
        return;
      retries++;
    }
}

static ALWAYS void
st_list (int mode, long n)
{
  for (long i = 0; i < n; i++)
    {
      uintptr_t *o = st_pop (mode);
      __asm__ volatile ("" : : "r" (o) : "memory");
      if (o)
        st_push (mode, o);
    }
}

static ALWAYS uintptr_t *
our_pop_inline (int mode)
{
  for (;;)
    {
      int c = our_index (mode);
      void *node = NULL;
      int r = rseq_percpu_inline_load_cbeq_pop (mode, (unsigned) c, &our_heads[c * W],
                                                0, &node);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return (uintptr_t *) node;
      if (r != RSEQ_PERCPU_ABORTED)
        return NULL;
      retries++;
    }
}

static ALWAYS void
our_push_inline (int mode, uintptr_t *node)
{
  for (;;)
    {
      int c = our_index (mode);
      uintptr_t *h = &our_heads[c * W];
      uintptr_t expect = *(volatile uintptr_t *) h;
      node[0] = expect;
      if (RSEQ_PERCPU_INLINE_LIKELY (rseq_percpu_inline_load_cbne_store
                                       (mode, (unsigned) c, h, expect, (uintptr_t) node)
                                     == RSEQ_PERCPU_DONE))
        return;
      retries++;
    }
}

static ALWAYS void
our_list_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    {
      uintptr_t *o = our_pop_inline (mode);
      __asm__ volatile ("" : : "r" (o) : "memory");
      if (o)
        our_push_inline (mode, o);
    }
}

static ALWAYS void
our_list_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    {
      void *o = NULL;
      for (;;)
        {
          int c = rseq_percpu_current_index (mode);
          int r = rseq_percpu_load_cbeq_pop (mode, (unsigned) c, &our_heads[c * W], 0, &o);
          if (r != RSEQ_PERCPU_ABORTED)
            break;
          retries++;
        }
      __asm__ volatile ("" : : "r" (o) : "memory");
      if (!o)
        continue;
      for (;;)
        {
          int c = rseq_percpu_current_index (mode);
          uintptr_t *h = &our_heads[c * W];
          uintptr_t expect = *(volatile uintptr_t *) h;
          *(uintptr_t *) o = expect;
          if (rseq_percpu_load_cbne_store (mode, (unsigned) c, h, expect, (uintptr_t) o)
              == RSEQ_PERCPU_DONE)
            break;
          retries++;
        }
    }
}

/* ---- compare, store, store: a word beside the slot, then the slot ---- */

static ALWAYS void
st_ss (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = st_index (mode);
        uintptr_t *v = &st_slots[c * W + 3];
        uintptr_t old = RSEQ_READ_ONCE (*v);
        if (rseq_likely (!rseq_cmpeqv_trystorev_storev
                           (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode, (intptr_t *) v, old,
                            (intptr_t *) &st_slots[c * W + 4], old, old + 1, c)))
          break;
        retries++;
      }
}

static ALWAYS void
our_ss_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = our_index (mode);
        uintptr_t *v = &our_slots[c * W + 3];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_inline_load_cbne_store_store (mode, (unsigned) c, v, old,
                                                      &our_slots[c * W + 4], old, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

static ALWAYS void
our_ss_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = rseq_percpu_current_index (mode);
        uintptr_t *v = &our_slots[c * W + 3];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_load_cbne_store_store (mode, (unsigned) c, v, old,
                                               &our_slots[c * W + 4], old, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

/* ---- compare, copy 32 bytes, store ---- */

static ALWAYS void
st_mc (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = st_index (mode);
        uintptr_t *v = &st_slots[c * W + 5];
        uintptr_t old = RSEQ_READ_ONCE (*v);
        if (rseq_likely (!rseq_cmpeqv_trymemcpy_storev
                           (RSEQ_MO_RELAXED, (enum rseq_percpu_mode) mode, (intptr_t *) v, old,
                            rec_dst[0][c], rec_src, sizeof rec_src, old + 1, c)))
          break;
        retries++;
      }
}

static ALWAYS void
our_mc_inline (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = our_index (mode);
        uintptr_t *v = &our_slots[c * W + 5];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_inline_load_cbne_memcpy_store (mode, (unsigned) c, v, old,
                                                       rec_dst[1][c], rec_src,
                                                       sizeof rec_src, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

static ALWAYS void
our_mc_call (int mode, long n)
{
  for (long i = 0; i < n; i++)
    for (;;)
      {
        int c = rseq_percpu_current_index (mode);
        uintptr_t *v = &our_slots[c * W + 5];
        uintptr_t old = *(volatile uintptr_t *) v;
        if (rseq_percpu_load_cbne_memcpy_store (mode, (unsigned) c, v, old, rec_dst[1][c],
                                                rec_src, sizeof rec_src, old + 1)
            == RSEQ_PERCPU_DONE)
          break;
        retries++;
      }
}

/* One noinline function per (loop, mode): objdump finds each by name.  */
#define BOTH(f)                                                         \
  static NOINLINE void f##_cpu (long n) { f (RSEQ_PERCPU_CPU_ID, n); }  \
  static NOINLINE void f##_mm (long n) { f (RSEQ_PERCPU_MM_CID, n); }
BOTH (st_add)
BOTH (our_add_inline)
BOTH (our_add_call)
BOTH (our_counter_inline)
BOTH (our_counter_call)
BOTH (our_counter_handle)
BOTH (st_cbne)
BOTH (our_cbne_inline)
BOTH (our_cbne_call)
BOTH (st_indexed)
BOTH (our_indexed_inline)
BOTH (our_indexed_call)
BOTH (st_list)
BOTH (our_list_inline)
BOTH (our_list_call)
BOTH (st_ss)
BOTH (our_ss_inline)
BOTH (our_ss_call)
BOTH (st_mc)
BOTH (our_mc_inline)
BOTH (our_mc_call)

/* ---- use cases beside their floors (cpu_id mode: the objects' default
   on a kernel without mm_cid, and the floor's index) ---- */

/* The floors address their slot through one register, as the ring's
   floor and every sequence of ours do: gcc folds the slot index into the
   load and the store (movq (%floor,%idx,8)), and on this CPU a load with
   an index register is not handed the previous iteration's store early
   (the loop-carried load, +1, store chain costs several times more:
   BENCHMARKS.md, run H), which made the counter's and the pool's floors
   slower than the plain code they stand for.  */
#define FLOOR_BASE_ADDRESSED(p) __asm__ ("" : "+r" (p))

/* Floors (run I): the same algorithm's memory work as our fast path,
   without restartable-sequence protection (no descriptor store, no
   in-section index check, no abort exit), so not safe against preemption
   or migration.  They read the index as our inline path does: the
   thread's area pointer from the header's initial-exec TLS cache
   (rseq_percpu_inline_area_, one %fs load), the object's mode byte (the
   index field's offset), the field with a plain load; then the object's
   bound check (an index beyond the slots goes to the fallback slot, as
   ours does), and the data operation on the slot of an object of the
   library's layout (initialized by the library), addressed through one
   register.  */
static unsigned char floor_counter[RSEQ_PERCPU_INLINE_COUNTER_SIZE]
  __attribute__ ((aligned (64)));
static unsigned char floor_pool[RSEQ_PERCPU_INLINE_POOL_SIZE]
  __attribute__ ((aligned (64)));
static uint64_t floor_pool_objects[16 * W] __attribute__ ((aligned (64)));
static uint64_t floor_fallback_hits;

/* The index as our path reads it, without rseq: the cached area, the
   object's mode byte, the field.  */
static ALWAYS uint32_t
floor_index (const unsigned char *object, size_t mode_offset)
{
  const uint32_t *a = rseq_percpu_inline_area_;
  unsigned off = *(const volatile unsigned char *) (object + mode_offset);
  return *(const volatile uint32_t *) RSEQ_PERCPU_INLINE_FIELD (a, off);
}

static NOINLINE void
counter_floor (long n)
{
  for (long i = 0; i < n; i++)
    {
      uint32_t c = floor_index (floor_counter, RSEQ_PERCPU_INLINE_MODE);
      if (__builtin_expect (c < RSEQ_PERCPU_INLINE_SLOTS, 1))
        {
          uint64_t *p = (uint64_t *) (floor_counter + (size_t) c * RSEQ_PERCPU_INLINE_STRIDE);
          FLOOR_BASE_ADDRESSED (p);
          *p += 1;
          __asm__ volatile ("" : : : "memory");
        }
      else
        floor_fallback_hits++;
    }
}

/* The floors of run H: the CPU number through a pointer to the area's
   cpu_id kept in a register (no TLS load, no mode byte), masked instead
   of bound-checked; the pool's without the depth bookkeeping.  Kept
   (rows counter_floor_h, pool_floor_h) and printed beside run I's.  */
static NOINLINE void
counter_floor_h (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uint64_t *p = &floor_slots[(*cpu_id_field & 255) * W];
      FLOOR_BASE_ADDRESSED (p);
      *p = *p + 1;
    }
}

static NOINLINE void
pool_inline (long n)
{
  for (long i = 0; i < n; i++)
    {
      void *o;
      if (rseq_percpu_inline_pool_alloc (pool, &o) == 0)
        {
          __asm__ volatile ("" : : "r" (o) : "memory");
          rseq_percpu_inline_pool_free (pool, o);
        }
    }
}

static NOINLINE void
pool_handle (long n)
{
  struct rseq_percpu_inline_handle h;
  if (rseq_percpu_inline_pool_handle (&h, pool) != 0)
    abort ();
  for (long i = 0; i < n; i++)
    {
      void *o;
      if (rseq_percpu_inline_handle_pool_alloc (&h, &o) == 0)
        {
          __asm__ volatile ("" : : "r" (o) : "memory");
          rseq_percpu_inline_handle_pool_free (&h, o);
        }
    }
}

static NOINLINE void
pool_call (long n)
{
  for (long i = 0; i < n; i++)
    {
      void *o;
      if (rseq_percpu_pool_alloc (pool, &o) == 0)
        {
          __asm__ volatile ("" : : "r" (o) : "memory");
          rseq_percpu_pool_free (pool, o);
        }
    }
}

/* The pool's: alloc pops the CPU's list (next pointer in the object's
   first word), free pushes the object back with our pool's depth
   bookkeeping (the list's length from its head down in the object's
   second word, read from the head outside the section in ours too,
   compared with the pool's per-CPU limit: a full list sends the object
   to the global list).  Lacks what rseq needs: the descriptor stores, the
   in-section index compares, the reclaim guard loads (which exist for
   rseq_percpu_pool_reclaim's membarrier protocol) and the outcome tests.  */
static NOINLINE void
pool_floor (long n)
{
  for (long i = 0; i < n; i++)
    {
      uint32_t c = floor_index (floor_pool, RSEQ_PERCPU_INLINE_MODE);
      if (__builtin_expect (c >= RSEQ_PERCPU_INLINE_SLOTS, 0))
        {
          floor_fallback_hits++;
          continue;
        }
      uintptr_t *h = (uintptr_t *) (floor_pool + (size_t) c * RSEQ_PERCPU_INLINE_STRIDE);
      FLOOR_BASE_ADDRESSED (h);
      uintptr_t *o = (uintptr_t *) *(volatile uintptr_t *) h;
      if (__builtin_expect (o == NULL, 0))
        {
          floor_fallback_hits++;
          continue;
        }
      *(volatile uintptr_t *) h = *(volatile uintptr_t *) o;
      __asm__ volatile ("" : : "r" (o) : "memory");
      c = floor_index (floor_pool, RSEQ_PERCPU_INLINE_MODE);
      if (__builtin_expect (c >= RSEQ_PERCPU_INLINE_SLOTS, 0))
        {
          floor_fallback_hits++;
          continue;
        }
      h = (uintptr_t *) (floor_pool + (size_t) c * RSEQ_PERCPU_INLINE_STRIDE);
      FLOOR_BASE_ADDRESSED (h);
      uintptr_t head = *(volatile uintptr_t *) h;
      uintptr_t depth = head ? ((volatile uintptr_t *) head)[1] : 0;
      if (__builtin_expect
            (depth < *(const volatile size_t *) (floor_pool + RSEQ_PERCPU_INLINE_POOL_LIMIT), 1))
        {
          ((volatile uintptr_t *) o)[0] = head;
          ((volatile uintptr_t *) o)[1] = depth + 1;
          *(volatile uintptr_t *) h = (uintptr_t) o;
        }
      else
        floor_fallback_hits++;
    }
}

static NOINLINE void
pool_floor_h (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uintptr_t *h = &floor_heads[(*cpu_id_field & 255) * W];
      FLOOR_BASE_ADDRESSED (h);
      uintptr_t *o = (uintptr_t *) *h;
      if (o)
        {
          *h = *(volatile uintptr_t *) o;
          __asm__ volatile ("" : : "r" (o) : "memory");
          h = &floor_heads[(*cpu_id_field & 255) * W];
          FLOOR_BASE_ADDRESSED (h);
          *(volatile uintptr_t *) o = *h;
          *h = (uintptr_t) o;
        }
    }
}

/* The counter's and the pool's floors as gcc compiles them without
   FLOOR_BASE_ADDRESSED (slot addressed as base + index): the floors of
   runs A-G, kept as rows of the raw log (not in the tables) to show the
   difference.  */
static NOINLINE void
counter_floor_indexed (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uint64_t *p = &floor_slots[(*cpu_id_field & 255) * W];
      *p = *p + 1;
    }
}

static NOINLINE void
pool_floor_indexed (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uintptr_t *h = &floor_heads[(*cpu_id_field & 255) * W];
      uintptr_t *o = (uintptr_t *) *h;
      if (o)
        {
          *h = *(volatile uintptr_t *) o;
          __asm__ volatile ("" : : "r" (o) : "memory");
          h = &floor_heads[(*cpu_id_field & 255) * W];
          *(volatile uintptr_t *) o = *h;
          *h = (uintptr_t) o;
        }
    }
}

/* Ring: 32-byte records (8-byte header + 24-byte payload), written in
   batches of 128, the buffers emptied untimed between batches.  */
static unsigned char payload[24];
static void
drop_record (void *arg, int where, const void *p, size_t len)
{
  (void) arg;
  (void) where;
  (void) p;
  (void) len;
}
#define BATCH 128

static NOINLINE double
ring_inline (long n)
{
  double t = 0;
  for (long done = 0; done < n; done += BATCH)
    {
      double t0 = now_ns ();
      for (int k = 0; k < BATCH; k++)
        rseq_percpu_inline_ring_write (ring, payload, sizeof payload);
      t += now_ns () - t0;
      rseq_percpu_ring_consume (ring, drop_record, NULL);
    }
  return t;
}

static NOINLINE double
ring_call (long n)
{
  double t = 0;
  for (long done = 0; done < n; done += BATCH)
    {
      double t0 = now_ns ();
      for (int k = 0; k < BATCH; k++)
        rseq_percpu_ring_write (ring, payload, sizeof payload);
      t += now_ns () - t0;
      rseq_percpu_ring_consume (ring, drop_record, NULL);
    }
  return t;
}

struct floor_buf
{
  uintptr_t head, pad0[7], tail, pad1[7];
  uint64_t rec[256][8];
};
static struct floor_buf floor_ring[64] __attribute__ ((aligned (64)));

static NOINLINE double
ring_floor (long n)
{
  double t = 0;
  for (long done = 0; done < n; done += BATCH)
    {
      double t0 = now_ns ();
      for (int k = 0; k < BATCH; k++)
        {
          struct floor_buf *b = &floor_ring[*cpu_id_field & 63];
          uintptr_t head = *(volatile uintptr_t *) &b->head;
          if (head - __atomic_load_n (&b->tail, __ATOMIC_ACQUIRE) < 256)
            {
              uint64_t *r = b->rec[head % 256];
              r[0] = ((uint64_t) (head + 1) << 32) | sizeof payload;
              memcpy (&r[1], payload, sizeof payload);
              __asm__ volatile ("" : : : "memory");
              *(volatile uintptr_t *) &b->head = head + 1;
            }
        }
      t += now_ns () - t0;
      for (int c = 0; c < 64; c++)
        floor_ring[c].tail = floor_ring[c].head;
    }
  return t;
}

/* ---- baselines ---- */

static NOINLINE void
getcpu_atomic (long n)
{
  for (long i = 0; i < n; i++)
    __atomic_fetch_add (&floor_slots[(sched_getcpu () & 255) * W + 1], 1,
                        __ATOMIC_RELAXED);
}

static NOINLINE void
shared_atomic (long n)
{
  for (long i = 0; i < n; i++)
    __atomic_fetch_add (&shared_word, 1, __ATOMIC_RELAXED);
}

static NOINLINE void
empty_loop (long n)
{
  for (long i = 0; i < n; i++)
    __asm__ volatile ("");
}

/* ---- the Rust API (BENCH_RUST: linked with the library built with the
   bench-hooks feature, whose rseq_libc_bench_rust_* exports are loops of
   the Rust operations compiled in Rust: src/bench_hooks.rs) ---- */

#ifdef BENCH_RUST
void rseq_libc_bench_rust_counter (const void *counter, uint64_t n);
void rseq_libc_bench_rust_add (void *slots, int mm, uint64_t n);
void rseq_libc_bench_rust_cbne (void *slots, int mm, uint64_t n);
void rseq_libc_bench_rust_store_store (void *slots, int mm, uint64_t n);
size_t rseq_libc_bench_rust_slots_size (void);
void rseq_libc_bench_rust_slots_init (void *p, int mm);
void rseq_libc_bench_rust_indexed (void *base, uint32_t slots, int mm, uint64_t n);
void rseq_libc_bench_rust_list (uintptr_t *heads, int mm, uint64_t n);
void rseq_libc_bench_rust_memcpy (uintptr_t *words, void *dst, const void *src,
                                  size_t len, int mm, uint64_t n);
void rseq_libc_bench_rust_pool (const void *pool, uint64_t n);
void rseq_libc_bench_rust_counter_handle (const void *counter, uint64_t n);
void rseq_libc_bench_rust_pool_handle (const void *pool, uint64_t n);
uint64_t rseq_libc_bench_rust_ring (const void *ring, const void *payload, size_t len,
                                    uint64_t n);

static void *rust_slots[2];
static uintptr_t rust_words[MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t rust_heads[2][MAXIDX * W] __attribute__ ((aligned (64)));
static uintptr_t rust_nodes[2][16 * W] __attribute__ ((aligned (64)));
static unsigned char rust_dst[MAXIDX][64] __attribute__ ((aligned (64)));

#define RUST_BOTH(name, call)                                           \
  static NOINLINE void name##_cpu (long n) { int mm = 0; call; }         \
  static NOINLINE void name##_mm (long n) { int mm = 1; call; }
RUST_BOTH (rust_counter, rseq_libc_bench_rust_counter (counter[mm], (uint64_t) n))
/* The Rust handles (Counter::handle, Pool::handle): made once per loop,
   as a thread that counts or allocates many times keeps one.  */
RUST_BOTH (rust_counter_handle, rseq_libc_bench_rust_counter_handle (counter[mm], (uint64_t) n))
RUST_BOTH (rust_add, rseq_libc_bench_rust_add (rust_slots[mm], mm, (uint64_t) n))
RUST_BOTH (rust_cbne, rseq_libc_bench_rust_cbne (rust_slots[mm], mm, (uint64_t) n))
RUST_BOTH (rust_ss, rseq_libc_bench_rust_store_store (rust_slots[mm], mm, (uint64_t) n))
RUST_BOTH (rust_indexed, rseq_libc_bench_rust_indexed (&rust_words[2], MAXIDX, mm, (uint64_t) n))
RUST_BOTH (rust_list, rseq_libc_bench_rust_list (rust_heads[mm], mm, (uint64_t) n))
RUST_BOTH (rust_mc, rseq_libc_bench_rust_memcpy (&rust_words[5], rust_dst, rec_src,
                                                 sizeof rec_src, mm, (uint64_t) n))

static NOINLINE void
rust_pool (long n)
{
  rseq_libc_bench_rust_pool (pool, (uint64_t) n);
}

static NOINLINE void
rust_pool_handle (long n)
{
  rseq_libc_bench_rust_pool_handle (pool, (uint64_t) n);
}

static NOINLINE double
rust_ring (long n)
{
  double t = 0;
  for (long done = 0; done < n; done += BATCH)
    {
      double t0 = now_ns ();
      rseq_libc_bench_rust_ring (ring, payload, sizeof payload, BATCH);
      t += now_ns () - t0;
      rseq_percpu_ring_consume (ring, drop_record, NULL);
    }
  return t;
}
#endif

/* ---- the driver ---- */

struct row
{
  const char *name;
  void (*fn) (long);      /* timed by the driver, or */
  double (*timed) (long); /* times itself (returns ns for n) */
  int slow;               /* run in the thread without an area */
  double t[64];
};

#define ROW(f) { #f, f, NULL, 0, { 0 } }
#define ROWT(f) { #f, NULL, f, 0, { 0 } }
#define ROWS(f) { "noarea_" #f, f, NULL, 1, { 0 } }
static struct row rows[] = {
  ROW (st_add_cpu), ROW (our_add_inline_cpu), ROW (our_add_call_cpu),
  ROW (our_counter_inline_cpu), ROW (our_counter_call_cpu),
  ROW (st_add_mm), ROW (our_add_inline_mm), ROW (our_add_call_mm),
  ROW (our_counter_inline_mm), ROW (our_counter_call_mm),
  ROW (st_cbne_cpu), ROW (our_cbne_inline_cpu), ROW (our_cbne_call_cpu),
  ROW (st_cbne_mm), ROW (our_cbne_inline_mm), ROW (our_cbne_call_mm),
  ROW (st_indexed_cpu), ROW (our_indexed_inline_cpu), ROW (our_indexed_call_cpu),
  ROW (st_indexed_mm), ROW (our_indexed_inline_mm), ROW (our_indexed_call_mm),
  ROW (st_list_cpu), ROW (our_list_inline_cpu), ROW (our_list_call_cpu),
  ROW (st_list_mm), ROW (our_list_inline_mm), ROW (our_list_call_mm),
  ROW (st_ss_cpu), ROW (our_ss_inline_cpu), ROW (our_ss_call_cpu),
  ROW (st_ss_mm), ROW (our_ss_inline_mm), ROW (our_ss_call_mm),
  ROW (st_mc_cpu), ROW (our_mc_inline_cpu), ROW (our_mc_call_cpu),
  ROW (st_mc_mm), ROW (our_mc_inline_mm), ROW (our_mc_call_mm),
  ROW (counter_floor), ROW (pool_inline), ROW (pool_call), ROW (pool_floor),
  ROW (our_counter_handle_cpu), ROW (our_counter_handle_mm), ROW (pool_handle),
  ROW (counter_floor_h), ROW (pool_floor_h),
  ROW (counter_floor_indexed), ROW (pool_floor_indexed),
  ROWT (ring_inline), ROWT (ring_call), ROWT (ring_floor),
  ROW (getcpu_atomic), ROW (shared_atomic), ROW (empty_loop),
#ifdef BENCH_RUST
  ROW (rust_counter_cpu), ROW (rust_counter_mm), ROW (rust_add_cpu), ROW (rust_add_mm),
  ROW (rust_cbne_cpu), ROW (rust_cbne_mm), ROW (rust_ss_cpu), ROW (rust_ss_mm),
  ROW (rust_indexed_cpu), ROW (rust_indexed_mm), ROW (rust_list_cpu), ROW (rust_list_mm),
  ROW (rust_mc_cpu), ROW (rust_mc_mm), ROW (rust_pool), ROWT (rust_ring),
  ROW (rust_counter_handle_cpu), ROW (rust_counter_handle_mm), ROW (rust_pool_handle),
  ROWS (rust_counter_cpu), ROWS (rust_counter_mm),
  ROWS (rust_counter_handle_cpu), ROWS (rust_counter_handle_mm),
#endif
  ROWS (our_counter_inline_cpu), ROWS (our_counter_call_cpu),
  ROWS (our_counter_inline_mm), ROWS (our_counter_call_mm),
  ROWS (our_counter_handle_cpu), ROWS (our_counter_handle_mm),
  ROWS (getcpu_atomic),
};
#define NROWS (sizeof rows / sizeof rows[0])

/* The thread without an area: its registration undone with a raw rseq
   system call (the area stays where it was with cpu_id = -1, as after an
   unregistration behind the component's back or a thread past its exit
   step); it runs the slow rows when told, one round at a time.  */
static pthread_barrier_t go, done;
static long slow_round = -1;
static int slow_state; /* 1: unregistered; -1: could not */

static int
raw_unregister (void)
{
  struct rseq *area = rseq_libc_area ();
  if (area == NULL)
    return 0; /* already none */
  for (unsigned len = 32; len <= 256; len *= 2)
    if (syscall (SYS_rseq, area, len, 1 /* RSEQ_FLAG_UNREGISTER */, 0x53053053) == 0)
      return 0;
  return -errno;
}

static void *
slow_thread (void *arg)
{
  cpu_set_t *one = (cpu_set_t *) arg;
  sched_setaffinity (0, sizeof *one, one);
  slow_state = raw_unregister () == 0
                   && rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID) == -ENOSYS
                 ? 1 : -1;
  for (;;)
    {
      pthread_barrier_wait (&go);
      if (slow_round < 0)
        return NULL;
      for (size_t v = 0; v < NROWS; v++)
        if (rows[v].slow && slow_state == 1)
          {
            double t0 = now_ns ();
            rows[v].fn (iters / 4);
            rows[v].t[slow_round] = (now_ns () - t0) / (double) (iters / 4);
          }
      pthread_barrier_wait (&done);
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

#ifdef BENCH_STEPPED_ASIDE
/* The component stepped aside (BENCH_STEPPED_ASIDE: linked with the
   selftests' rseq.c, whose __rseq_register_current_thread tells rseq-libc
   that the program registers rseq itself; run with glibc's registration
   off): the selftests register the thread's area, rseq-libc has none
   (RSEQ_LIBC_REASON_APPLICATION), and our counters take their no-area
   paths, timed beside the selftests' add on the registered area and
   beside sched_getcpu + an atomic.  */
static int
stepped_aside_main (void)
{
  if (rseq_register_current_thread () != 0)
    {
      printf ("skip the selftests' registration failed (errno %d)\n", errno);
      return 77;
    }
  if (rseq_libc_area () != NULL
      || rseq_libc_none_reason () != RSEQ_LIBC_REASON_APPLICATION)
    {
      printf ("skip rseq-libc did not step aside (reason %d)\n", rseq_libc_none_reason ());
      return 77;
    }
  cpu_set_t one;
  CPU_ZERO (&one);
  CPU_SET (sched_getcpu (), &one);
  sched_setaffinity (0, sizeof one, &one);
  rseq_percpu_counter_init (counter[0], sizeof counter[0], RSEQ_PERCPU_CPU_ID);
  rseq_percpu_counter_init (counter[1], sizeof counter[1], RSEQ_PERCPU_MM_CID);
  int mm = rseq_mm_cid_available ();
  struct row aside[] = {
    { "aside_st_add_cpu", st_add_cpu, NULL, 0, { 0 } },
    { "aside_st_add_mm", mm ? st_add_mm : NULL, NULL, 0, { 0 } },
    { "aside_our_counter_inline_cpu", our_counter_inline_cpu, NULL, 0, { 0 } },
    { "aside_our_counter_call_cpu", our_counter_call_cpu, NULL, 0, { 0 } },
    { "aside_our_counter_inline_mm", our_counter_inline_mm, NULL, 0, { 0 } },
    { "aside_our_counter_call_mm", our_counter_call_mm, NULL, 0, { 0 } },
    { "aside_our_counter_handle_cpu", our_counter_handle_cpu, NULL, 0, { 0 } },
    { "aside_our_counter_handle_mm", our_counter_handle_mm, NULL, 0, { 0 } },
#ifdef BENCH_RUST
    { "aside_rust_counter_cpu", rust_counter_cpu, NULL, 0, { 0 } },
    { "aside_rust_counter_mm", rust_counter_mm, NULL, 0, { 0 } },
    { "aside_rust_counter_handle_cpu", rust_counter_handle_cpu, NULL, 0, { 0 } },
    { "aside_rust_counter_handle_mm", rust_counter_handle_mm, NULL, 0, { 0 } },
#endif
    { "aside_getcpu_atomic", getcpu_atomic, NULL, 0, { 0 } },
  };
  size_t n = sizeof aside / sizeof aside[0];
  for (long r = 0; r < rounds; r++)
    for (size_t v = 0; v < n; v++)
      if (aside[v].fn)
        {
          double t0 = now_ns ();
          aside[v].fn (iters / 4);
          aside[v].t[r] = (now_ns () - t0) / (double) (iters / 4);
        }
  printf ("config owner selftests (rseq-libc stepped aside) rounds %ld iters %ld\n", rounds,
          iters / 4);
  for (size_t v = 0; v < n; v++)
    if (aside[v].fn)
      {
        qsort (aside[v].t, (size_t) rounds, sizeof (double), cmp_double);
        printf ("row %s %.4f %.4f %.4f\n", aside[v].name, aside[v].t[rounds / 2],
                aside[v].t[0], aside[v].t[rounds - 1]);
      }
  uint64_t c0 = 0, c1 = 0, want = 0;
  rseq_percpu_counter_read (counter[0], &c0);
  rseq_percpu_counter_read (counter[1], &c1);
#ifdef BENCH_RUST
  want = 5 * (uint64_t) rounds * (uint64_t) (iters / 4);
#else
  want = 3 * (uint64_t) rounds * (uint64_t) (iters / 4);
#endif
  printf ("check totals %s (counters %lu %lu, want %lu)\n",
          c0 == want && c1 == want ? "exact" : "WRONG", (unsigned long) c0,
          (unsigned long) c1, (unsigned long) want);
  return c0 == want && c1 == want ? 0 : 1;
}
#endif

int
main (int argc, char **argv)
{
  if (argc > 1)
    rounds = atol (argv[1]);
  if (argc > 2)
    iters = atol (argv[2]);
  if (rounds < 1 || rounds > 64 || iters < 1024)
    {
      fprintf (stderr, "usage: bench_vs_selftests [ROUNDS (1-64) [ITERS (>= 1024)]]\n");
      return 2;
    }
#ifdef BENCH_STEPPED_ASIDE
  return stepped_aside_main ();
#endif
  const uint32_t *area = (const uint32_t *) rseq_libc_area ();
  if (!area || rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID) < 0)
    {
      printf ("skip no rseq area: nothing to measure\n");
      return 77;
    }
  /* One area for both: the selftests' rseq_offset is rseq-libc's area
     (with glibc owning it, rseq.c's constructor found the same one).  */
  ptrdiff_t ours = (const char *) area - (const char *) rseq_thread_pointer ();
  const char *owner = rseq_libc_owner () == RSEQ_LIBC_OWNER_LIBC ? "glibc" : "rseq-libc";
  rseq_offset = ours;
  rseq_size = 32; /* mm_cid: checked below */
  int mm = rseq_percpu_current_index (RSEQ_PERCPU_MM_CID) >= 0;
  if (!mm)
    {
      printf ("skip the kernel does not fill mm_cid: both modes needed\n");
      return 77;
    }
  cpu_id_field = area + 1;
  cpu_set_t one;
  CPU_ZERO (&one);
  CPU_SET (*cpu_id_field, &one);
  sched_setaffinity (0, sizeof one, &one);
  for (int c = 0; c < MAXIDX; c++)
    st_ptrs[c] = &st_slots[c * W + 2];
  for (int m = 0; m < 2; m++)
    {
      uintptr_t *heads = m ? our_heads : st_heads;
      for (int c = 0; c < MAXIDX; c++)
        {
          uintptr_t *o = &nodes[m][(c & 15) * W];
          if (c == (int) *cpu_id_field || c == 0) /* cpu_id, and mm_cid 0 */
            {
              heads[c * W] = (uintptr_t) o;
              o[0] = 0;
            }
        }
    }
#ifdef BENCH_RUST
  for (int m = 0; m < 2; m++)
    {
      rust_slots[m] = aligned_alloc (64, (rseq_libc_bench_rust_slots_size () + 63) / 64 * 64);
      rseq_libc_bench_rust_slots_init (rust_slots[m], m);
      for (int c = 0; c < MAXIDX; c++)
        if (c == (int) *cpu_id_field || c == 0)
          {
            rust_heads[m][c * W] = (uintptr_t) &rust_nodes[m][(c & 15) * W];
            rust_nodes[m][(c & 15) * W] = 0;
          }
    }
#endif
  rseq_percpu_counter_init (counter[0], sizeof counter[0], RSEQ_PERCPU_CPU_ID);
  rseq_percpu_counter_init (counter[1], sizeof counter[1], RSEQ_PERCPU_MM_CID);
  rseq_percpu_pool_init (pool, sizeof pool, RSEQ_PERCPU_CPU_ID, 64, 256);
  rseq_percpu_pool_add_storage (pool, pool_storage, sizeof pool_storage);
  rseq_percpu_ring_init (ring, sizeof ring, RSEQ_PERCPU_CPU_ID);
  for (int k = 0; k < 16; k++)
    {
      uintptr_t *o = (uintptr_t *) &floor_objects[k * W];
      uintptr_t *h = &floor_heads[(*cpu_id_field & 255) * W];
      o[0] = *h;
      *h = (uintptr_t) o;
    }
  /* The run I floors' objects: the library's layout, cpu_id mode; the
     pool floor's list on this CPU's slot built by hand (16 objects, each
     holding the list's depth from it down, as the library's free does),
     the library never touching it; the header's TLS area cache filled.  */
  rseq_percpu_counter_init (floor_counter, sizeof floor_counter, RSEQ_PERCPU_CPU_ID);
  rseq_percpu_pool_init (floor_pool, sizeof floor_pool, RSEQ_PERCPU_CPU_ID, 64, 256);
  (void) rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID);
  for (int k = 0; k < 16; k++)
    {
      uintptr_t *o = (uintptr_t *) &floor_pool_objects[k * W];
      uintptr_t *h = (uintptr_t *) (floor_pool + (size_t) *cpu_id_field * RSEQ_PERCPU_INLINE_STRIDE);
      o[0] = *h;
      o[1] = (uintptr_t) k + 1;
      *h = (uintptr_t) o;
    }
  {
    void *o;
    rseq_percpu_pool_alloc (pool, &o);
    rseq_percpu_pool_free (pool, o);
  }

  pthread_t slow;
  pthread_barrier_init (&go, NULL, 2);
  pthread_barrier_init (&done, NULL, 2);
  pthread_create (&slow, NULL, slow_thread, &one);

  for (long r = 0; r < rounds; r++)
    {
      for (size_t v = 0; v < NROWS; v++)
        {
          if (rows[v].slow)
            continue;
          if (rows[v].timed)
            rows[v].t[r] = rows[v].timed (iters / 4) / (double) (iters / 4);
          else
            {
              double t0 = now_ns ();
              rows[v].fn (iters);
              rows[v].t[r] = (now_ns () - t0) / (double) iters;
            }
        }
      slow_round = r;
      pthread_barrier_wait (&go);
      pthread_barrier_wait (&done);
    }
  slow_round = -1;
  pthread_barrier_wait (&go);
  pthread_join (slow, NULL);

  printf ("config owner %s cpu %u rounds %ld iters %ld\n", owner, *cpu_id_field,
          rounds, iters);
  for (size_t v = 0; v < NROWS; v++)
    {
      if (rows[v].slow && slow_state != 1)
        continue;
      qsort (rows[v].t, (size_t) rounds, sizeof (double), cmp_double);
      printf ("row %s %.4f %.4f %.4f\n", rows[v].name, rows[v].t[rounds / 2],
              rows[v].t[0], rows[v].t[rounds - 1]);
    }
  if (slow_state != 1)
    printf ("skip noarea: could not unregister a thread's area\n");

  /* Every increment landed: the selftests' and our raw slots hold exactly
     the loops' counts (retries do not count).  */
  uintptr_t st_sum = 0, our_sum = 0, st_cb = 0, our_cb = 0, st_ix = 0, our_ix = 0;
  for (int c = 0; c < MAXIDX; c++)
    {
      st_sum += st_slots[c * W];
      our_sum += our_slots[c * W];
      st_cb += st_slots[c * W + 1] + st_slots[c * W + 3] + st_slots[c * W + 5];
      our_cb += our_slots[c * W + 1] + our_slots[c * W + 3] + our_slots[c * W + 5];
      st_ix += st_slots[c * W + 2];
      our_ix += our_slots[c * W + 2];
    }
  uintptr_t want = (uintptr_t) (2 * rounds * iters);
  uint64_t c0 = 0, c1 = 0;
  rseq_percpu_counter_read (counter[0], &c0);
  rseq_percpu_counter_read (counter[1], &c1);
  /* Each counter: inline, inline-handle and call loops (and the Rust
     ones: Counter::inc and the handle's), and as many in the thread
     without an area.  */
  uint64_t loops = 3, slow_loops = 3;
#ifdef BENCH_RUST
  loops += 2;
  slow_loops += 2;
#endif
  uint64_t want_c = loops * (uint64_t) rounds * (uint64_t) iters
                    + (slow_state == 1
                         ? slow_loops * (uint64_t) rounds * (uint64_t) (iters / 4) : 0);
  int ok = st_sum == want && our_sum == 2 * want && st_cb == 3 * want
           && our_cb == 6 * want && st_ix == want && our_ix == 2 * want
           && c0 == want_c && c1 == want_c;
  printf ("check totals %s (add %lu/%lu, cbne %lu/%lu, indexed %lu/%lu, counters %lu %lu, want %lu)\n",
          ok ? "exact" : "WRONG", (unsigned long) st_sum, (unsigned long) our_sum,
          (unsigned long) st_cb, (unsigned long) our_cb, (unsigned long) st_ix,
          (unsigned long) our_ix, (unsigned long) c0, (unsigned long) c1,
          (unsigned long) want);
  printf ("check retries %ld\n", retries);
  /* The floors measured their fast path only (none took its fallback).  */
  printf ("check floors %s (fallback taken %lu times)\n",
          floor_fallback_hits == 0 ? "fast-path-only" : "WRONG",
          (unsigned long) floor_fallback_hits);
  ok = ok && floor_fallback_hits == 0;
  return ok ? 0 : 1;
}
