/* A per-CPU add as an rseq critical section, in librseq's section layout,
   for rseq-libc inspect's tests.  Compiled as executables, shared objects,
   relocatable objects and static archives by run.sh and by the rseq-inspect
   crate's tests.  Each BROKEN_* macro breaks one rule the inspector checks:
     BROKEN_SIGNATURE     the word before the abort handler is not RSEQ_SIG
     BROKEN_ALIGNMENT     the descriptor is 8 bytes past a 32-byte boundary
     BROKEN_NO_EXIT       no __rseq_exit_point_array entry for the section
     BROKEN_UNLISTED      the descriptor is not in __rseq_cs_ptr_array
     BROKEN_ABORT_INSIDE  abort_ip points inside the section
   and two move the abort handler out of __rseq_failure, to follow the
   commit in .text:
     ABORT_INLINE         behind an unconditional branch over the signature
                          (aarch64's and riscv's layout in librseq and the
                          kernel selftests; on x86 a warning)
     BROKEN_FALL_THROUGH  with no branch: the commit runs into the
                          signature, which traps (a warning everywhere)  */
#include <stdint.h>
#include <sys/rseq.h>

/* The architecture's RSEQ_SIG (BROKEN_SIGNATURE: off by one), emitted as
   the kernel selftests do: x86 after the bytes that make it decode as ud1,
   aarch64 as an instruction word, riscv as a data word.  */
#if defined __x86_64__
# define SIG_WORD 0x53053053
# define SIG_PREFIX ".byte 0x0f, 0xb9, 0x3d\n\t.long "
# define JUMP "jmp"
#elif defined __aarch64__
# define SIG_WORD 0xd428bc00
# define SIG_PREFIX ".inst "
# define JUMP "b"
#elif defined __riscv && __riscv_xlen == 64
# define SIG_WORD 0xf1401073
/* Aligned: compressed code is only 2-aligned, and the kernel reads the
   signature as one word.  */
# define SIG_PREFIX ".balign 4\n\t.long "
# define JUMP "j"
#else
# error "cs.c: x86-64, aarch64 and riscv64 only"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
#ifdef BROKEN_SIGNATURE
# define SIG SIG_PREFIX STR (SIG_WORD + 1)
#else
# define SIG SIG_PREFIX STR (SIG_WORD)
#endif
#ifdef BROKEN_ALIGNMENT
# define MISALIGN ".skip 8\n\t"
#else
# define MISALIGN ""
#endif
#ifdef BROKEN_NO_EXIT
# define EXITS ""
#else
# define EXITS ".pushsection __rseq_exit_point_array, \"aw\"\n\t" \
               ".quad 1f, 2f\n\t" \
               ".popsection\n\t"
#endif
#ifdef BROKEN_UNLISTED
# define LISTED ""
#else
# define LISTED ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t" \
                ".quad 3b\n\t" \
                ".popsection\n\t"
#endif
#if defined ABORT_INLINE
# define HANDLER_OPEN JUMP " 9f\n\t"
# define HANDLER_CLOSE "9:\n\t"
#elif defined BROKEN_FALL_THROUGH
# define HANDLER_OPEN ""
# define HANDLER_CLOSE ""
#else
# define HANDLER_OPEN ".pushsection __rseq_failure, \"ax\"\n\t"
# define HANDLER_CLOSE ".popsection\n\t"
#endif
#ifdef BROKEN_ABORT_INSIDE
# define ABORT_LABEL "1f"
#else
# define ABORT_LABEL "4f"
#endif

/* Adds COUNT to SLOT if the thread is still on CPU when it commits.
   Returns 0 when done, -1 when aborted (preempted, migrated, signalled, or
   not on CPU).  */
int
cs_percpu_add (struct rseq *area, int64_t *slot, uint32_t cpu, int64_t count)
{
#define TABLES \
      ".pushsection __rseq_cs, \"aw\"\n\t" \
      ".balign 32\n\t" \
      MISALIGN \
      "3:\n\t" \
      ".long 0x0, 0x0\n\t" \
      ".quad 1f, (2f - 1f), " ABORT_LABEL "\n\t" \
      ".popsection\n\t" \
      LISTED \
      EXITS
#if defined __x86_64__
  __asm__ goto (
      TABLES
      "leaq 3b(%%rip), %%rax\n\t"
      "movq %%rax, %[rseq_cs]\n\t"
      "1:\n\t"
      "cmpl %[cpu], %[cpu_id]\n\t"
      "jnz 4f\n\t"
      "addq %[count], %[slot]\n\t"
      "2:\n\t"
      HANDLER_OPEN
      SIG "\n\t"
      "4:\n\t"
      "jmp %l[aborted]\n\t"
      HANDLER_CLOSE
      : /* asm goto: no outputs */
      : [rseq_cs] "m" (area->rseq_cs), [cpu_id] "m" (area->cpu_id),
        [cpu] "r" (cpu), [slot] "m" (*slot), [count] "er" (count)
      : "memory", "cc", "rax"
      : aborted);
#elif defined __aarch64__
  __asm__ goto (
      TABLES
      "adrp x9, 3b\n\t"
      "add x9, x9, :lo12:3b\n\t"
      "str x9, %[rseq_cs]\n\t"
      "1:\n\t"
      "ldr w10, %[cpu_id]\n\t"
      "cmp w10, %w[cpu]\n\t"
      "b.ne 4f\n\t"
      "ldr x10, %[slot]\n\t"
      "add x10, x10, %[count]\n\t"
      "str x10, %[slot]\n\t"
      "2:\n\t"
      HANDLER_OPEN
      SIG "\n\t"
      "4:\n\t"
      "b %l[aborted]\n\t"
      HANDLER_CLOSE
      : /* asm goto: no outputs */
      : [rseq_cs] "Q" (area->rseq_cs), [cpu_id] "Q" (area->cpu_id),
        [cpu] "r" (cpu), [slot] "Q" (*slot), [count] "r" (count)
      : "memory", "cc", "x9", "x10"
      : aborted);
#else
  __asm__ goto (
      TABLES
      "lla t0, 3b\n\t"
      "sd t0, %[rseq_cs]\n\t"
      "1:\n\t"
      "lw t1, %[cpu_id]\n\t"
      "beq t1, %[cpu], 5f\n\t"
      "j 4f\n\t"
      "5:\n\t"
      "ld t1, %[slot]\n\t"
      "add t1, t1, %[count]\n\t"
      "sd t1, %[slot]\n\t"
      "2:\n\t"
      HANDLER_OPEN
      SIG "\n\t"
      "4:\n\t"
      "j %l[aborted]\n\t"
      HANDLER_CLOSE
      : /* asm goto: no outputs */
      : [rseq_cs] "m" (area->rseq_cs), [cpu_id] "m" (area->cpu_id),
        [cpu] "r" ((int64_t) (int32_t) cpu), [slot] "m" (*slot), [count] "r" (count)
      : "memory", "t0", "t1"
      : aborted);
#endif
  return 0;
aborted:
  return -1;
}

#ifdef WITH_MAIN
int
main (int argc, char **argv)
{
  (void) argv;
  /* Not run by the tests: only keeps cs_percpu_add linked.  */
  static struct rseq area;
  static int64_t slot;
  return argc > 100 ? cs_percpu_add (&area, &slot, 0, 1) : 0;
}
#endif
