/* The inline header's slow paths cost at most what the calls cost: in a
   thread without an area (its registration undone by a raw rseq system
   call, as for a thread past its exit step or a program that unregisters
   behind rseq-libc's back; or rseq unavailable altogether), every inline
   operation looks the area up at most ONCE (the call's own lookup), never
   twice (issue 18: the counter's and the raw operations' slow paths
   refreshed both modes' caches, two library calls an operation, which
   made the inline increment twice as slow as the call), and its result is
   the call's.  In a registered thread, no lookup at all after the first.

   Counted, not timed: linked with -Wl,--wrap=rseq_percpu_inline_area_v2,
   every lookup the header makes from this file goes through the counting
   wrapper below.  Prints "N passed, N failed".  */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <rseq-percpu-inline.h>

/* A header without it (before issue 18's fix) looked up on every
   increment: the test still builds against it, and fails.  */
#ifndef RSEQ_PERCPU_INLINE_RECHECK
# define RSEQ_PERCPU_INLINE_RECHECK 64u
#endif

struct rseq *__real_rseq_percpu_inline_area_v2 (int mode, int *err);

static __thread long lookups;

struct rseq *
__wrap_rseq_percpu_inline_area_v2 (int mode, int *err)
{
  lookups++;
  return __real_rseq_percpu_inline_area_v2 (mode, err);
}

#define N 1000
static int passed, failed;
static void
check (int ok, const char *what, long got, long limit)
{
  if (ok)
    passed++;
  else
    failed++;
  printf ("%s %s (%ld, at most %ld)\n", ok ? "PASS" : "FAIL", what, got, limit);
}

static unsigned char counter[RSEQ_PERCPU_INLINE_COUNTER_SIZE] __attribute__ ((aligned (64)));
static unsigned char pool[RSEQ_PERCPU_INLINE_POOL_SIZE] __attribute__ ((aligned (64)));
static uint64_t pool_storage[64 * 8];
static uintptr_t slots[256 * 8] __attribute__ ((aligned (64)));
static int mm;

/* Runs every inline operation N times in MODE; checks the lookups and,
   when NOAREA, the calls' results.  */
static void
run_ops (const char *who, int mode, int noarea, long limit)
{
  char what[160];
  long before;
  int bad;
  uintptr_t node_word = 0, v2 = 0;
  unsigned char dst[32], src[32] = { 1 };
  void *node;
  unsigned at;

#define MEASURE(name, body)                                              \
  do                                                                     \
    {                                                                    \
      bad = 0;                                                           \
      before = lookups;                                                  \
      for (int k = 0; k < N; k++)                                        \
        body;                                                            \
      snprintf (what, sizeof what, "%s, %s: %s: look-ups%s", who,        \
                mode ? "mm_cid" : "cpu_id", name,                        \
                noarea ? ", the call's result" : "");                    \
      check (lookups - before <= limit && !bad, what, lookups - before, limit); \
    }                                                                    \
  while (0)

  /* Without an area every raw call returns its lookup's error (-ENOSYS, or
     -EOPNOTSUPP for mm_cid on a kernel without it): the inline operations
     must return the same.  */
  int want = noarea ? rseq_percpu_current_index (mode) : 0;
  if (noarea && want != -ENOSYS && want != -EOPNOTSUPP)
    check (0, "the call reports an area in a thread without one", want, 0);
  /* Without an area, counters look again only every 64th increment.  */
  {
    long all = limit;
    if (noarea)
      limit = N / 64 + 2;
    MEASURE ("counter_inc", bad |= rseq_percpu_inline_counter_inc (counter) != 0);
    limit = all;
  }
  MEASURE ("current_index",
           { int c = rseq_percpu_inline_current_index (mode);
             bad |= noarea ? c != want : c < 0; });
  if (!noarea)
    return; /* the raw operations' fast paths: see percpu_inline_test.c */
  MEASURE ("add", bad |= rseq_percpu_inline_add (mode, 0, &slots[0], 1) != want);
  MEASURE ("load_cbne_store",
           bad |= rseq_percpu_inline_load_cbne_store (mode, 0, &slots[8], 0, 1) != want);
  MEASURE ("add_indexed",
           bad |= rseq_percpu_inline_add_indexed (mode, slots, 64, 256, 1, &at) != want);
  MEASURE ("load_cbeq_pop",
           bad |= rseq_percpu_inline_load_cbeq_pop (mode, 0, &node_word, 0, &node) != want);
  MEASURE ("load_cbne_store_store",
           bad |= rseq_percpu_inline_load_cbne_store_store (mode, 0, &slots[16], 0, &v2, 1, 1)
                  != want);
  MEASURE ("load_cbne_memcpy_store",
           bad |= rseq_percpu_inline_load_cbne_memcpy_store (mode, 0, &slots[24], 0, dst, src,
                                                             sizeof dst, 1) != want);
  MEASURE ("pool alloc + free",
           { void *o = NULL;
             bad |= rseq_percpu_inline_pool_alloc (pool, &o) != 0 || o == NULL;
             bad |= rseq_percpu_inline_pool_free (pool, o) != 0; });
  for (int k = 0; k < 256 * 8; k++)
    if (slots[k] != 0)
      {
        check (0, "a raw operation without an area wrote its word", k, 0);
        break;
      }
}

static struct rseq *unreg_area;
static unsigned unreg_len;
static int reregistered;

static int
raw_unregister (void)
{
  struct rseq *area = rseq_libc_area ();
  if (area == NULL)
    return 0;
  for (unsigned len = 32; len <= 256; len *= 2)
    if (syscall (SYS_rseq, area, len, 1 /* RSEQ_FLAG_UNREGISTER */, 0x53053053) == 0)
      {
        unreg_area = area;
        unreg_len = len;
        return 0;
      }
  return -errno;
}

static void *
noarea_thread (void *arg)
{
  (void) arg;
  /* Registered first: the caches hold the real area when it goes.  */
  rseq_percpu_inline_counter_inc (counter);
  rseq_percpu_inline_current_index (RSEQ_PERCPU_MM_CID);
  if (raw_unregister () != 0 || rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID) != -ENOSYS)
    {
      printf ("SKIP cannot unregister this thread's area\n");
      return NULL;
    }
  run_ops ("no area", RSEQ_PERCPU_CPU_ID, 1, N);
  run_ops ("no area", RSEQ_PERCPU_MM_CID, 1, N);
  /* Registered again (the same area, as it was): the counter's fast path
     takes it within RSEQ_PERCPU_INLINE_RECHECK increments; the later ones
     leave the fallback slot alone.  */
  if (syscall (SYS_rseq, unreg_area, unreg_len, 0, 0x53053053) == 0)
    {
      volatile uintptr_t *fb = (volatile uintptr_t *) (counter + RSEQ_PERCPU_INLINE_FALLBACK);
      for (unsigned k = 0; k < RSEQ_PERCPU_INLINE_RECHECK; k++)
        rseq_percpu_inline_counter_inc (counter);
      uintptr_t before_fb = *fb;
      for (int k = 0; k < N; k++)
        rseq_percpu_inline_counter_inc (counter);
      check (*fb == before_fb, "registered again: the counter's fast path is back",
             (long) (*fb - before_fb), 0);
      reregistered = 1;
    }
  return NULL;
}

int
main (void)
{
  int has_area = rseq_percpu_current_index (RSEQ_PERCPU_CPU_ID) >= 0;
  mm = rseq_percpu_current_index (RSEQ_PERCPU_MM_CID) >= 0;
  rseq_percpu_counter_init (counter, sizeof counter, RSEQ_PERCPU_CPU_ID);
  rseq_percpu_pool_init (pool, sizeof pool, RSEQ_PERCPU_CPU_ID, 64, 16);
  rseq_percpu_pool_add_storage (pool, pool_storage, sizeof pool_storage);
  printf ("area: %s; mm_cid: %s\n", has_area ? "yes" : "no (rseq unavailable)",
          mm ? "yes" : "no");
  if (has_area)
    {
      /* Registered: one lookup per mode at most, ever.  */
      run_ops ("registered", RSEQ_PERCPU_CPU_ID, 0, 1);
      if (mm)
        run_ops ("registered", RSEQ_PERCPU_MM_CID, 0, 1);
      pthread_t t;
      pthread_create (&t, NULL, noarea_thread, NULL);
      pthread_join (t, NULL);
    }
  else
    {
      run_ops ("no area", RSEQ_PERCPU_CPU_ID, 1, N);
      run_ops ("no area", RSEQ_PERCPU_MM_CID, 1, N);
    }
  uint64_t total = 0;
  rseq_percpu_counter_read (counter, &total);
  long want = has_area ? (mm ? 2 * N : N) + 2 * N + 1 : 2 * N;
  if (reregistered)
    want += RSEQ_PERCPU_INLINE_RECHECK + N;
  check (total == (uint64_t) want, "counter total exact", (long) total, want);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
