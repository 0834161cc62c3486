/* Benchmark of the inline C operations (headers/rseq-percpu-inline.h)
   beside the calls of <rseq-percpu.h> and a floor row, all in one process:
   each round runs every variant once, rounds interleaved, best of ROUNDS.

   Floors (no rseq, so not safe against preemption or migration: a lower
   bound for the data path, not an alternative): the calling thread's
   cpu_id loaded from its area, then the same data operation with plain
   loads and stores: an add to that CPU's slot (counter), a pop and a push
   on that CPU's list (pool), a record copy and a head store (ring).

   Usage: bench_inline [ROUNDS [COUNTER_ITERS [OTHER_ITERS [raw]]]]
   (default 7 20000000 5000000).  Pinned to the CPU it starts on.  With
   `raw', prints one `name ns' line per row instead of the table: what
   `rseq-libc bench --with-c' reads, one round per run, interleaving its
   Rust rounds with these (tests/percpu/bench_inline.sh).  */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rseq-percpu-inline.h>

#define NOINLINE __attribute__ ((noinline))

static unsigned char counter[RSEQ_PERCPU_INLINE_COUNTER_SIZE]
  __attribute__ ((aligned (64)));
static unsigned char pool[RSEQ_PERCPU_INLINE_POOL_SIZE]
  __attribute__ ((aligned (64)));
static unsigned char ring[RSEQ_PERCPU_INLINE_RING_SIZE]
  __attribute__ ((aligned (64)));
static uint64_t pool_storage[4096 * 8];
static uint64_t floor_slots[256 * 8] __attribute__ ((aligned (64)));
static uintptr_t raw_slots[256 * 8] __attribute__ ((aligned (64)));
static const volatile uint32_t *cpu_id_field;
static long rounds = 7, n_counter = 20000000, n_other = 5000000;

static double
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

/* ---- counter ---- */

static NOINLINE void
counter_inline (long n)
{
  for (long i = 0; i < n; i++)
    rseq_percpu_inline_counter_inc (counter);
}

static NOINLINE void
counter_call (long n)
{
  for (long i = 0; i < n; i++)
    rseq_percpu_counter_inc (counter);
}

static NOINLINE void
counter_floor (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uint64_t *p = &floor_slots[(*cpu_id_field & 255) * 8];
      *p = *p + 1;
    }
}

/* The raw pair the issue measured: current index, then add there.  */
static NOINLINE void
raw_inline (long n)
{
  for (long i = 0; i < n; i++)
    {
      int c = rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID);
      if (c < 0 || c >= 256
          || rseq_percpu_inline_add (RSEQ_PERCPU_CPU_ID, (unsigned) c,
                                     &raw_slots[c * 8], 1) != RSEQ_PERCPU_DONE)
        i--;
    }
}

static NOINLINE void
raw_call (long n)
{
  for (long i = 0; i < n; i++)
    {
      int c = rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID);
      if (c < 0 || c >= 256
          || rseq_percpu_add (RSEQ_PERCPU_CPU_ID, (unsigned) c,
                              &raw_slots[c * 8], 1) != RSEQ_PERCPU_DONE)
        i--;
    }
}

/* ---- pool: alloc + free of a 64-byte object ---- */

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

static uintptr_t floor_heads[256 * 8] __attribute__ ((aligned (64)));
static uint64_t floor_objects[16 * 8] __attribute__ ((aligned (64)));

static NOINLINE void
pool_floor (long n)
{
  for (long i = 0; i < n; i++)
    {
      volatile uintptr_t *h = &floor_heads[(*cpu_id_field & 255) * 8];
      uintptr_t *o = (uintptr_t *) *h;
      if (o)
        {
          *h = *(volatile uintptr_t *) o;
          __asm__ volatile ("" : : "r" (o) : "memory");
          h = &floor_heads[(*cpu_id_field & 255) * 8];
          *(volatile uintptr_t *) o = *h;
          *h = (uintptr_t) o;
        }
    }
}

/* ---- ring: write a 32-byte record (8-byte header + 24-byte payload);
   only the writes are timed, in batches of 128 (half a buffer), the
   buffers emptied in between. ---- */

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

/* Same buffer shape as the library's: head, tail, 256 64-byte records.  */
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

/* ---- driver ---- */

enum { V_CI, V_CC, V_CF, V_RI, V_RC, V_PI, V_PC, V_PF, V_GI, V_GC, V_GF, NV };
/* The `raw' output's names (read by rseq-libc bench --with-c).  */
static const char *names[NV] = {
  "counter_c_inline", "counter_c_call", "counter_floor_c",
  "raw_c_inline", "raw_c_call",
  "pool_c_inline", "pool_c_call", "pool_floor_c",
  "ring_c_inline", "ring_c_call", "ring_floor_c",
};

static double
timed (void (*fn) (long), long n)
{
  double t0 = now_ns ();
  fn (n);
  return (now_ns () - t0) / (double) n;
}

int
main (int argc, char **argv)
{
  double best[NV];
  int raw = argc > 4 && strcmp (argv[4], "raw") == 0;
  if (argc > 1)
    rounds = atol (argv[1]);
  if (argc > 2)
    n_counter = atol (argv[2]);
  if (argc > 3)
    n_other = atol (argv[3]);
  const uint32_t *area = (const uint32_t *) rseq_libc_area ();
  if (!area || rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID) < 0)
    {
      printf ("bench_inline: no rseq area: nothing to measure\n");
      return 1;
    }
  cpu_id_field = area + 1;
  cpu_set_t one;
  CPU_ZERO (&one);
  CPU_SET (*cpu_id_field, &one);
  sched_setaffinity (0, sizeof one, &one);
  rseq_percpu_counter_init (counter, sizeof counter, RSEQ_PERCPU_CPU_ID);
  rseq_percpu_pool_init (pool, sizeof pool, RSEQ_PERCPU_CPU_ID, 64, 256);
  rseq_percpu_pool_add_storage (pool, pool_storage, sizeof pool_storage);
  rseq_percpu_ring_init (ring, sizeof ring, RSEQ_PERCPU_CPU_ID);
  for (int k = 0; k < 16; k++) /* the floor's list: 16 objects */
    {
      uintptr_t *o = (uintptr_t *) &floor_objects[k * 8];
      uintptr_t *h = &floor_heads[(*cpu_id_field & 255) * 8];
      o[0] = *h;
      *h = (uintptr_t) o;
    }
  {
    void *o; /* warm the pool's per-CPU list */
    rseq_percpu_pool_alloc (pool, &o);
    rseq_percpu_pool_free (pool, o);
  }
  for (int v = 0; v < NV; v++)
    best[v] = 1e30;
  for (long r = 0; r < rounds; r++)
    {
      double t[NV];
      t[V_CI] = timed (counter_inline, n_counter);
      t[V_CC] = timed (counter_call, n_counter);
      t[V_CF] = timed (counter_floor, n_counter);
      t[V_RI] = timed (raw_inline, n_counter);
      t[V_RC] = timed (raw_call, n_counter);
      t[V_PI] = timed (pool_inline, n_other);
      t[V_PC] = timed (pool_call, n_other);
      t[V_PF] = timed (pool_floor, n_other);
      t[V_GI] = ring_inline (n_other) / (double) n_other;
      t[V_GC] = ring_call (n_other) / (double) n_other;
      t[V_GF] = ring_floor (n_other) / (double) n_other;
      for (int v = 0; v < NV; v++)
        if (t[v] < best[v])
          best[v] = t[v];
    }
  uint64_t total = 0;
  rseq_percpu_counter_read (counter, &total);
  if (raw)
    {
      for (int v = 0; v < NV; v++)
        printf ("%s %.4f\n", names[v], best[v]);
      printf ("counter_total_exact %d\n",
              total == (uint64_t) (2 * rounds * n_counter));
      return total != (uint64_t) (2 * rounds * n_counter);
    }
  printf ("bench_inline: %ld rounds interleaved, best of each; counter %ld ops, "
          "pool/ring %ld ops; CPU %u\n", rounds, n_counter, n_other,
          *cpu_id_field);
  printf ("| operation | C inline | C call | floor (same run) | inline / floor "
          "| call / inline |\n|---|---|---|---|---|---|\n");
  printf ("| counter increment | %.2f ns | %.2f ns | %.2f ns | %.2fx | %.2fx |\n",
          best[V_CI], best[V_CC], best[V_CF], best[V_CI] / best[V_CF],
          best[V_CC] / best[V_CI]);
  printf ("| current_index + add (raw) | %.2f ns | %.2f ns | %.2f ns | %.2fx | %.2fx |\n",
          best[V_RI], best[V_RC], best[V_CF], best[V_RI] / best[V_CF],
          best[V_RC] / best[V_RI]);
  printf ("| pool alloc + free, 64 B | %.2f ns | %.2f ns | %.2f ns | %.2fx | %.2fx |\n",
          best[V_PI], best[V_PC], best[V_PF], best[V_PI] / best[V_PF],
          best[V_PC] / best[V_PI]);
  printf ("| ring write, 32-byte record | %.2f ns | %.2f ns | %.2f ns | %.2fx | %.2fx |\n",
          best[V_GI], best[V_GC], best[V_GF], best[V_GI] / best[V_GF],
          best[V_GC] / best[V_GI]);
  printf ("(area %p, TLS cache %p, counter slot %p)\n", (const void *) area,
          (void *) &rseq_percpu_inline_area_,
          (void *) (counter + 64 * *cpu_id_field));
  printf ("(counter total %lu: %s)\n", (unsigned long) total,
          total == (uint64_t) (2 * rounds * n_counter) ? "exact" : "WRONG");
  return total != (uint64_t) (2 * rounds * n_counter);
}
