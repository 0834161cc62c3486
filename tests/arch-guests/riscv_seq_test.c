/* The riscv64 inline sequences of headers/rseq-percpu-arch/riscv.h (the
   generated C side of percpu/seq/riscv64.seq), run against glibc's
   registered area in the riscv64 guests (tests/arch-guests/run.sh).
   <rseq-percpu-inline.h> includes x86_64.h only so far, so this program
   includes the architecture header itself, as
   tests/percpu/arch_header_check.c does.

   Forced aborts: the header's stress hook RSEQ_PERCPU_INLINE_INJECT_ASM(2)
   (just before the commit) runs `ebreak' when the thread armed it; the
   SIGTRAP, delivered with the program counter inside the section, makes
   the kernel move the thread to the section's abort handler (descriptor,
   signature and handler must be right, or the process dies).  Each
   sequence runs once armed, in both index modes (cpu_id, mm_cid): an
   operation that commits takes exactly one trap, returns ABORTED once
   with nothing committed, and commits on the retry; one that fails its
   compare takes none.  Then THREADS threads add 1 ITERS times each to the
   inline counter with every 32nd operation armed: the total is exact and
   the traps are exactly ITERS / 32 per thread, each seen as one ABORTED.

   Usage: riscv_seq_test.  Ends with "N passed, N failed".  */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>

static __thread volatile int inject_trap; /* nonzero: ebreak before the commit */
static __thread volatile int trapped;     /* set by the SIGTRAP handler */
#define RSEQ_PERCPU_INLINE_INJECT_INPUT , [inj_trap] "r" (&inject_trap)
#define RSEQ_PERCPU_INLINE_INJECT_CLOBBER , "t0"
#define INJECT_AT_1 ""
#define INJECT_AT_2                                                   \
  "lw t0, 0(%[inj_trap])\n\t"                                         \
  "beqz t0, 102f\n\t"                                                 \
  "ebreak\n\t"                                                        \
  "102:\n\t"
#define RSEQ_PERCPU_INLINE_INJECT_ASM(n) INJECT_AT_##n

#define RSEQ_PERCPU_INLINE_H 1
enum { RSEQ_PERCPU_DONE, RSEQ_PERCPU_COMPARE_FAILED, RSEQ_PERCPU_ABORTED };
#include <rseq-percpu-arch/riscv.h>

static int passed, failed;
#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (cond)                                                           \
      passed++;                                                         \
    else                                                                \
      {                                                                 \
        failed++;                                                       \
        printf ("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
        printf (__VA_ARGS__);                                           \
        printf ("\n");                                                  \
      }                                                                 \
  } while (0)

static void
on_trap (int sig)
{
  (void) sig;
  inject_trap = 0;
  trapped = 1;
}

static char *
area (void)
{
  return (char *) __builtin_thread_pointer () + __rseq_offset;
}

static uint32_t
index_of (uintptr_t off)
{
  return *(volatile uint32_t *) (area () + off);
}

/* Runs EXPR (re-reading the index I first) armed, until it does not
   abort; TRAPS and ABORTS_AFTER_TRAP count what happened.  */
static long traps, aborts_after_trap, other_aborts;
#define RUN(expr)                                                       \
  ({                                                                    \
    int r_;                                                             \
    inject_trap = 1;                                                    \
    trapped = 0;                                                        \
    for (;;)                                                            \
      {                                                                 \
        i = index_of (off);                                             \
        r_ = (expr);                                                    \
        if (r_ != RSEQ_PERCPU_ABORTED)                                  \
          break;                                                        \
        if (trapped)                                                    \
          {                                                             \
            traps++;                                                    \
            aborts_after_trap++;                                        \
            trapped = 0;                                                \
          }                                                             \
        else                                                            \
          other_aborts++;                                               \
      }                                                                 \
    if (trapped)                                                        \
      traps++; /* a trap not followed by ABORTED: counted, then checked */ \
    inject_trap = 0;                                                    \
    r_;                                                                 \
  })

/* One armed run that must commit: one trap, one ABORTED for it.  */
#define COMMITS(name, expr)                                             \
  do {                                                                  \
    long t0_ = traps, a0_ = aborts_after_trap;                          \
    int r = RUN (expr);                                                 \
    CHECK (r == RSEQ_PERCPU_DONE, "%s (%s): %d", name, mode, r);        \
    CHECK (traps - t0_ == 1 && aborts_after_trap - a0_ == 1,            \
           "%s (%s): %ld traps, %ld aborts after one", name, mode,      \
           traps - t0_, aborts_after_trap - a0_);                       \
  } while (0)
#define FAILS(name, expr)                                               \
  do {                                                                  \
    long t0_ = traps;                                                   \
    int r = RUN (expr);                                                 \
    CHECK (r == RSEQ_PERCPU_COMPARE_FAILED, "%s (%s): %d", name, mode, r); \
    CHECK (traps == t0_, "%s (%s): a trap before a failed compare", name, mode); \
  } while (0)

static uintptr_t slots[256 * 8] __attribute__ ((aligned (64)));

static void
copies (uintptr_t off, const char *mode)
{
  static const unsigned lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 64, 100 };
  unsigned char src[160] __attribute__ ((aligned (16)));
  unsigned char dst[176] __attribute__ ((aligned (16))), want[176];
  uintptr_t v, first = 0x1122334455667788u;
  uint32_t i;
  for (unsigned k = 0; k < sizeof src; k++)
    src[k] = (unsigned char) (k * 7 + 1);
  for (unsigned l = 0; l < sizeof lens / sizeof lens[0]; l++)
    for (unsigned sa = 0; sa < 3; sa++)
      for (unsigned da = 0; da < 2; da++)
        {
          unsigned len = lens[l], so = sa == 2 ? 8 : sa, dofs = da * 3 + 8;
          memset (dst, 0xee, sizeof dst);
          memcpy (want, dst, sizeof dst);
          memcpy (want + dofs, src + so, len);
          v = 1;
          COMMITS ("memcpy_store",
                   rseq_percpu_arch_load_cbne_memcpy_store (area (), off, i, &v, 1, dst + dofs,
                                                            src + so, len, 2));
          CHECK (v == 2 && memcmp (dst, want, sizeof dst) == 0,
                 "memcpy_store len %u src+%u dst+%u (%s)", len, so, dofs, mode);
          /* Header word and payload: DST 8-aligned.  */
          memset (dst, 0xee, sizeof dst);
          memcpy (want, dst, sizeof dst);
          memcpy (want + 8, &first, 8);
          memcpy (want + 16, src + so, len);
          v = 1;
          COMMITS ("store_memcpy_store",
                   rseq_percpu_arch_load_cbne_store_memcpy_store (area (), off, i, &v, 1, dst + 8,
                                                                  first, src + so, len, 2));
          CHECK (v == 2 && memcmp (dst, want, sizeof dst) == 0,
                 "store_memcpy_store len %u src+%u (%s)", len, so, mode);
          if (len >= 16 && len <= 32)
            {
              memset (dst, 0xee, sizeof dst);
              v = 1;
              COMMITS ("copy16_32_store",
                       rseq_percpu_arch_load_cbne_store_copy16_32_store (area (), off, i, &v, 1,
                                                                         dst + 8, first,
                                                                         src + so, len, 2));
              CHECK (v == 2 && memcmp (dst, want, sizeof dst) == 0,
                     "copy16_32_store len %u src+%u (%s)", len, so, mode);
            }
        }
  v = 3;
  FAILS ("memcpy_store", rseq_percpu_arch_load_cbne_memcpy_store (area (), off, i, &v, 1, dst,
                                                                  src, 8, 2));
  CHECK (v == 3, "memcpy_store committed after a failed compare (%s)", mode);
}

static void
each_sequence (uintptr_t off, const char *mode)
{
  uint32_t i, got = ~0u;
  uintptr_t v = 5, v2 = 0, node_out;
  memset (slots, 0, sizeof slots);

  COMMITS ("load_cbne_store", rseq_percpu_arch_load_cbne_store (area (), off, i, &v, 5, 7));
  CHECK (v == 7, "load_cbne_store: %lu (%s)", (unsigned long) v, mode);
  FAILS ("load_cbne_store", rseq_percpu_arch_load_cbne_store (area (), off, i, &v, 5, 9));
  CHECK (v == 7, "load_cbne_store stored after a failed compare (%s)", mode);

  COMMITS ("add", rseq_percpu_arch_add (area (), off, i, &v, 3));
  CHECK (v == 10, "add: %lu (%s)", (unsigned long) v, mode);

  COMMITS ("counter_add", rseq_percpu_arch_counter_add (area (), off, (char *) slots, 1));
  CHECK (slots[i * 8] == 1, "counter_add: slot %u = %lu (%s)", i, (unsigned long) slots[i * 8], mode);

  COMMITS ("add_indexed", rseq_percpu_arch_add_indexed (area (), off, (char *) slots + 8, 64, 256,
                                                        3, &got));
  CHECK (got == i && slots[i * 8 + 1] == 3, "add_indexed: index %u of %u, %lu (%s)", got, i,
         (unsigned long) slots[i * 8 + 1], mode);
  FAILS ("add_indexed", rseq_percpu_arch_add_indexed (area (), off, (char *) slots + 8, 64, 0, 3,
                                                      &got));

  uintptr_t b[2] = { 0, 0 }, a[2] = { (uintptr_t) b, 0 }, head = (uintptr_t) a;
  COMMITS ("load_cbeq_pop", rseq_percpu_arch_load_cbeq_pop (area (), off, i, &head, 0, &node_out));
  CHECK (node_out == (uintptr_t) a && head == (uintptr_t) b, "load_cbeq_pop (%s)", mode);
  head = 0;
  FAILS ("load_cbeq_pop", rseq_percpu_arch_load_cbeq_pop (area (), off, i, &head, 0, &node_out));

  /* The pool: a push on the current slot (depth kept), then the pop.  */
  uintptr_t obj[2] = { 99, 99 };
  memset (slots, 0, sizeof slots);
  COMMITS ("pool_push_current", rseq_percpu_arch_pool_push_current (area (), off, (char *) slots, 4,
                                                                    obj));
  CHECK (slots[i * 8] == (uintptr_t) obj && obj[0] == 0 && obj[1] == 1, "pool_push_current (%s)",
         mode);
  COMMITS ("pool_pop_current", rseq_percpu_arch_pool_pop_current (area (), off, (char *) slots,
                                                                  &node_out));
  CHECK (node_out == (uintptr_t) obj && slots[i * 8] == 0, "pool_pop_current (%s)", mode);
  FAILS ("pool_pop_current", rseq_percpu_arch_pool_pop_current (area (), off, (char *) slots,
                                                                &node_out));
  for (int k = 0; k < 256; k++)
    slots[k * 8 + 1] = 1; /* every guard set */
  FAILS ("pool_push_current", rseq_percpu_arch_pool_push_current (area (), off, (char *) slots, 4,
                                                                  obj));
  memset (slots, 0, sizeof slots);
  FAILS ("pool_push_current", rseq_percpu_arch_pool_push_current (area (), off, (char *) slots, 0,
                                                                  obj)); /* full */

  v = 1;
  COMMITS ("store_store", rseq_percpu_arch_load_cbne_store_store (area (), off, i, &v, 1, &v2, 9, 2));
  CHECK (v == 2 && v2 == 9, "store_store (%s)", mode);
  copies (off, mode);
}

#define THREADS 4
#define ITERS 20000
static uintptr_t counter[256 * 8] __attribute__ ((aligned (64)));
static uintptr_t thread_off;
static long thread_traps[THREADS], thread_trap_aborts[THREADS], thread_bad[THREADS];

static void *
adder (void *p)
{
  long t = (long) p;
  for (int n = 0; n < ITERS; n++)
    {
      inject_trap = n % 32 == 0;
      trapped = 0;
      int r;
      while ((r = rseq_percpu_arch_counter_add (area (), thread_off, (char *) counter, 1))
             == RSEQ_PERCPU_ABORTED)
        if (trapped)
          {
            thread_trap_aborts[t]++;
            thread_traps[t]++;
            trapped = 0;
          }
      if (r != RSEQ_PERCPU_DONE || trapped || inject_trap)
        thread_bad[t]++;
      inject_trap = 0;
    }
  return NULL;
}

static void
threaded (uintptr_t off, const char *mode)
{
  pthread_t th[THREADS];
  memset (counter, 0, sizeof counter);
  memset (thread_traps, 0, sizeof thread_traps);
  memset (thread_trap_aborts, 0, sizeof thread_trap_aborts);
  memset (thread_bad, 0, sizeof thread_bad);
  thread_off = off;
  for (long t = 0; t < THREADS; t++)
    pthread_create (&th[t], NULL, adder, (void *) t);
  for (int t = 0; t < THREADS; t++)
    pthread_join (th[t], NULL);
  uintptr_t sum = 0;
  for (int k = 0; k < 256; k++)
    sum += counter[k * 8];
  CHECK (sum == (uintptr_t) THREADS * ITERS, "threaded counter (%s): %lu of %d", mode,
         (unsigned long) sum, THREADS * ITERS);
  for (int t = 0; t < THREADS; t++)
    CHECK (thread_traps[t] == (ITERS + 31) / 32 && thread_trap_aborts[t] == thread_traps[t]
           && thread_bad[t] == 0,
           "thread %d (%s): %ld traps, %ld aborted after a trap, %ld bad (want %d)", t, mode,
           thread_traps[t], thread_trap_aborts[t], thread_bad[t], (ITERS + 31) / 32);
  printf ("threaded (%s): total %lu, %d traps per thread, each one ABORTED\n", mode,
          (unsigned long) sum, (ITERS + 31) / 32);
}

int
main (void)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_trap;
  sigemptyset (&sa.sa_mask);
  if (sigaction (SIGTRAP, &sa, NULL) != 0)
    {
      perror ("sigaction");
      return 1;
    }
  if (__rseq_size == 0 || index_of (4) >= 0x80000000u)
    {
      printf ("FAIL: no registered rseq area (__rseq_size %u)\n", __rseq_size);
      printf ("0 passed, 1 failed\n");
      return 1;
    }
  static const struct { uintptr_t off; const char *name; } modes[] = {
    { 4, "cpu_id" }, { 24, "mm_cid" } };
  for (int m = 0; m < 2; m++)
    {
      each_sequence (modes[m].off, modes[m].name);
      threaded (modes[m].off, modes[m].name);
    }
  printf ("forced aborts: %ld traps, %ld ABORTED after them; %ld other aborts\n", traps,
          aborts_after_trap, other_aborts);
  CHECK (traps == aborts_after_trap, "every trap aborted its section");
  printf ("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
