/* A per-CPU add as an rseq critical section, in librseq's section layout,
   for rseq-libc inspect's tests.  Compiled as executables, shared objects,
   relocatable objects and static archives by run.sh and by the rseq-inspect
   crate's tests.  Each BROKEN_* macro breaks one rule the inspector checks:
     BROKEN_SIGNATURE     the word before the abort handler is not RSEQ_SIG
     BROKEN_ALIGNMENT     the descriptor is 8 bytes past a 32-byte boundary
     BROKEN_NO_EXIT       no __rseq_exit_point_array entry for the section
     BROKEN_UNLISTED      the descriptor is not in __rseq_cs_ptr_array
     BROKEN_ABORT_INSIDE  abort_ip points inside the section  */
#include <stdint.h>
#include <sys/rseq.h>

#ifdef BROKEN_SIGNATURE
# define SIG "0x53053054"
#else
# define SIG "0x53053053"
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
  __asm__ goto (
      ".pushsection __rseq_cs, \"aw\"\n\t"
      ".balign 32\n\t"
      MISALIGN
      "3:\n\t"
      ".long 0x0, 0x0\n\t"
      ".quad 1f, (2f - 1f), " ABORT_LABEL "\n\t"
      ".popsection\n\t"
      LISTED
      EXITS
      "leaq 3b(%%rip), %%rax\n\t"
      "movq %%rax, %[rseq_cs]\n\t"
      "1:\n\t"
      "cmpl %[cpu], %[cpu_id]\n\t"
      "jnz 4f\n\t"
      "addq %[count], %[slot]\n\t"
      "2:\n\t"
      ".pushsection __rseq_failure, \"ax\"\n\t"
      ".byte 0x0f, 0xb9, 0x3d\n\t"
      ".long " SIG "\n\t"
      "4:\n\t"
      "jmp %l[aborted]\n\t"
      ".popsection\n\t"
      : /* asm goto: no outputs */
      : [rseq_cs] "m" (area->rseq_cs), [cpu_id] "m" (area->cpu_id),
        [cpu] "r" (cpu), [slot] "m" (*slot), [count] "er" (count)
      : "memory", "cc", "rax"
      : aborted);
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
