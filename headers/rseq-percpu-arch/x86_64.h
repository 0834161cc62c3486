/* Generated from percpu/seq/x86_64.seq and percpu/seq/common.seq by scripts/gen-sequences.py: do not edit;
   edit the template and run `python3 scripts/gen-sequences.py`.  */
/* rseq-percpu-arch/x86_64.h: the x86-64 restartable sequences of
   <rseq-percpu-inline.h>.  Include that header, not this one.

   Each function is one asm statement emitting the same layout as the
   library's Rust sequences (percpu/src/arch/x86_64.rs), so that
   `rseq-libc inspect' and the GDB script read both alike:

     .text            xor ret; lea 6f(%rip),tmp; mov tmp,8(area)   publish
                      2:  start_ip ... the commit store
                      3:  post_commit_ip = 9: the common end
     __rseq_failure   .byte 0x0f,0xb9,0x3d; .long RSEQ_SIG (ud1 ...)
                      4:  abort_ip: ret = 2 (aborted), jmp 9b
                      5:  compare failed: ret = 1, jmp 9b (out of line)
     __rseq_cs        .balign 32; 6: {0, 0, 2b, 3b - 2b, 4b}
     __rseq_cs_ptr_array       .quad 6b
     __rseq_exit_point_array   .quad 2b, 3b [; .quad 2b, 5b]

   The arrays are "awR" (SHF_GNU_RETAIN: nothing references them, and a
   --gc-sections link would drop them; GNU as 2.36+, clang 13+), as the
   library's.  rseq_cs is left set; the kernel clears it lazily.

   Outcomes: RSEQ_PERCPU_DONE 0, RSEQ_PERCPU_COMPARE_FAILED 1,
   RSEQ_PERCPU_ABORTED 2 (the kernel restarted the section, or the thread
   no longer runs on INDEX).  Three forms, fastest first:
   - asm goto, as librseq's (add, load_cbne_store, load_cbne_store_store,
     add_indexed, the counter's add, the pool's push, the ring's
     branch-free copy16_32 write): the abort handler and the
     compare-failed exit jump to C labels, so the committing path sets and
     tests no result register (gcc >= 4.5, clang >= 9); a value a sequence
     hands back (add_indexed's index) goes through a local it stores
     inside the section, since asm goto with outputs needs gcc 11 or
     clang 11.  Measured in tests/percpu/bench_vs_selftests.sh: the
     result-register form of add_indexed took 2.0 ns an operation, this
     one 0.8 ns (the selftests' equivalent: 0.8 ns);
   - the outcome encoded in the value returned (the pops: a node > 1
     committed, 0 compare failed, 1 aborted): one compare of the node;
   - a result register, as in the layout above (the memcpy sequences,
     whose pointers advance in output registers).
   The index field is addressed as (area, offset): the offset (4 or 24)
   is loop-invariant, the area reloaded per operation.  The descriptor
   store is the last instruction before start_ip: preempted or signalled
   before it, the thread has not published the descriptor yet; after it,
   it is inside the section.  A sequence may run on the writable stand-in
   area of a thread without one (see <rseq-percpu-inline.h>): its index
   compare or bound check then fails.

   Stress hooks (defined by a test before including the header, as the
   kernel's rseq param_test does; empty otherwise):
     RSEQ_PERCPU_INLINE_INJECT_ASM(n)  asm text inside every section:
       n = 1 right after start_ip, n = 2 just before the commit;
       numeric labels from 100 up are the hook's; it must leave every
       operand, %r11 (the asm goto sequences' scratch), %r9 and %r10 (the
       inline pool push's) and %xmm15 (the copy16_32 write's) alone;
     RSEQ_PERCPU_INLINE_INJECT_INPUT   more input operands, each ", [x] ..."
     RSEQ_PERCPU_INLINE_INJECT_CLOBBER more clobbers, each ", \"reg\"".  */

#ifndef RSEQ_PERCPU_ARCH_X86_64_H
#define RSEQ_PERCPU_ARCH_X86_64_H 1

#ifndef RSEQ_PERCPU_INLINE_H
# error "include <rseq-percpu-inline.h>, not <rseq-percpu-arch/x86_64.h>"
#endif

#ifndef RSEQ_PERCPU_INLINE_INJECT_ASM
# define RSEQ_PERCPU_INLINE_INJECT_ASM(n) ""
#endif
#ifndef RSEQ_PERCPU_INLINE_INJECT_INPUT
# define RSEQ_PERCPU_INLINE_INJECT_INPUT
#endif
#ifndef RSEQ_PERCPU_INLINE_INJECT_CLOBBER
# define RSEQ_PERCPU_INLINE_INJECT_CLOBBER
#endif

/* A load of the word at V by an instruction that addresses it through
   one base register, never base + index: the head load of the ring's
   write and the pool's free, whose sections compare and commit that word
   through (V).  In a burst of writes on one CPU the load reads the
   previous write's commit, which the benchmark machine's cores (Golden
   Cove) hand over early only to a load addressed through a base register
   alone (a load, +1, store chain: 0.4-0.9 ns an iteration that way,
   3-6.5 ns with an index register; BENCHMARKS.md, run H; measured, not
   documented by the vendor).  Left to itself
   clang folds the buffer's index into the load (movq (%ring,%off), head)
   and commits through the sum.  Volatile, as the plain volatile load it
   replaces.  */
static inline uintptr_t
rseq_percpu_arch_load_word_unindexed (const uintptr_t *v)
{
  uintptr_t r;
  __asm__ __volatile__ ("movq (%1), %0" : "=r" (r) : "r" (v), "m" (*v));
  return r;
}

/* The template's fragments, as macros: RSEQ_PERCPU_ASM_SIGNATURE (the
   bytes before every abort_ip), RSEQ_PERCPU_ASM_DESCRIPTOR (the __rseq_cs
   descriptor 6: and its __rseq_cs_ptr_array entry) and RSEQ_PERCPU_ASM_COPY,
   which copies LEN bytes from SRC to DST inside the section: 16 to 32
   bytes (a ring record's payload, most small copies): the first and the
   last 16 (unaligned, overlapping), no loop; above 32: the last 16, then
   16-byte blocks from the start while more than 16 remain; 8 to 15: the
   first and the last 8; below 8: bytes.  Reads only [SRC, SRC + LEN),
   writes only [DST, DST + LEN).  */
#define RSEQ_PERCPU_ASM_SIGNATURE \
  ".byte 0x0f, 0xb9, 0x3d\n\t"    \
  ".long 0x53053053\n\t"

#define RSEQ_PERCPU_ASM_DESCRIPTOR                \
  ".pushsection __rseq_cs, \"aw\"\n\t"            \
  ".balign 32\n\t"                                \
  "6:\n\t"                                        \
  ".long 0, 0\n\t"                                \
  ".quad 2b, 3b - 2b, 4b\n\t"                     \
  ".popsection\n\t"                               \
  ".pushsection __rseq_cs_ptr_array, \"awR\"\n\t" \
  ".quad 6b\n\t"                                  \
  ".popsection\n\t"

#define RSEQ_PERCPU_ASM_COPY              \
  "cmpq $16, %[len]\n\t"                  \
  "jb 25f\n\t"                            \
  "movdqu (%[src]), %[xmm]\n\t"           \
  "movdqu %[xmm], (%[dst])\n\t"           \
  "movdqu -16(%[src],%[len]), %[xmm]\n\t" \
  "movdqu %[xmm], -16(%[dst],%[len])\n\t" \
  "cmpq $32, %[len]\n\t"                  \
  "jbe 24f\n\t"                           \
  "22:\n\t"                               \
  "addq $16, %[src]\n\t"                  \
  "addq $16, %[dst]\n\t"                  \
  "subq $16, %[len]\n\t"                  \
  "movdqu (%[src]), %[xmm]\n\t"           \
  "movdqu %[xmm], (%[dst])\n\t"           \
  "cmpq $32, %[len]\n\t"                  \
  "ja 22b\n\t"                            \
  "jmp 24f\n\t"                           \
  "25:\n\t"                               \
  "cmpq $8, %[len]\n\t"                   \
  "jb 23f\n\t"                            \
  "movq (%[src]), %[tmp]\n\t"             \
  "movq %[tmp], (%[dst])\n\t"             \
  "movq -8(%[src],%[len]), %[tmp]\n\t"    \
  "movq %[tmp], -8(%[dst],%[len])\n\t"    \
  "jmp 24f\n\t"                           \
  "23:\n\t"                               \
  "testq %[len], %[len]\n\t"              \
  "jz 24f\n\t"                            \
  "26:\n\t"                               \
  "movb (%[src]), %b[tmp]\n\t"            \
  "movb %b[tmp], (%[dst])\n\t"            \
  "incq %[src]\n\t"                       \
  "incq %[dst]\n\t"                       \
  "decq %[len]\n\t"                       \
  "jnz 26b\n\t"                           \
  "24:\n\t"

#define RSEQ_PERCPU_ASM_ENC_RESULT(node)                                \
  return (node) > 1 ? RSEQ_PERCPU_DONE                                  \
    : (node) == 0 ? RSEQ_PERCPU_COMPARE_FAILED : RSEQ_PERCPU_ABORTED



/* If *V == EXPECT on INDEX, store NEWV (the commit).  */
static inline int
rseq_percpu_arch_load_cbne_store (void *area, uintptr_t field_offset,
                                  uint32_t index, uintptr_t *v,
                                  uintptr_t expect, uintptr_t newv)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "cmpl %k[index], (%[area],%[off])\n\t"
                "jnz 4f\n\t"
                "cmpq %[expect], (%[v])\n\t"
                "jnz 5f\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "movq %[newv], (%[v])\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



/* *V += INC on INDEX (the add commits).  The compare-failed exit is
   listed but never taken (an add has no comparison).  */
static inline int
rseq_percpu_arch_add (void *area, uintptr_t field_offset, uint32_t index,
                      uintptr_t *v, uintptr_t inc)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "cmpl %k[index], (%[area],%[off])\n\t"
                "jnz 4f\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "addq %[inc], (%[v])\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [inc] "er" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
}



/* The counter's increment: reads the index I inside the section from the
   field at offset FIELD_OFFSET (4 cpu_id, 24 mm_cid) of AREA; I >= 256
   (RSEQ_PERCPU_INLINE_SLOTS): compare failed (also a negative cpu_id:
   the stand-in, an unregistered area); else adds INC to the word at
   BASE + 64 * I (the commit), through a register holding that address:
   back-to-back increments of one slot through "addq $1, (base,index)"
   measured 4.9 ns each on the Xeon of BENCHMARKS.md, through
   "addq $1, (reg)" 0.9 ns (the next load gets the previous store's value
   sooner with the simple address form).  As asm goto (librseq's form): the
   abort handler and the compare-failed exit jump straight to the C code
   that handles them, so the committing path has no result register to set
   and test.  Scratch: the architecture's fixed asm goto registers (a
   stress hook must leave them alone: see this header's top).  Same
   layout: exits (2b, 3b) and (2b, 5b), abort_ip 4 in __rseq_failure.  */
static inline int
rseq_percpu_arch_counter_add (void *area, uintptr_t field_offset, char *base,
                              uintptr_t inc)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "movl (%[area],%[off]), %%r11d\n\t"
                "cmpl $256, %%r11d\n\t"
                "jae 5f\n\t"
                "shlq $6, %%r11\n\t"
                "addq %[base], %%r11\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "addq %[inc], (%%r11)\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [base] "r" (base), [inc] "er" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



/* Reads the index I inside the section; I >= SLOTS: compare failed; else
   adds INC to the word at BASE + I * STRIDE (the commit), addressed
   through one register as the counter's (see
   rseq_percpu_arch_counter_add).  *INDEX_OUT = I when it commits (I is
   stored to a local inside the section: asm goto has no outputs).  As asm
   goto, the counter's form: no result register to set and test (with
   one, this loop measured 2.0 ns an operation against 0.6 ns, x86-64).
   Scratch: the fixed asm goto registers.  */
static inline int
rseq_percpu_arch_add_indexed (void *area, uintptr_t field_offset,
                              char *base, uintptr_t stride, uint32_t slots,
                              uintptr_t inc, uint32_t *index_out)
{
  uint32_t i;
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "movl (%[area],%[off]), %%r11d\n\t"
                "cmpl %k[slots], %%r11d\n\t"
                "jae 5f\n\t"
                "movl %%r11d, (%[at])\n\t"
                "imulq %[stride], %%r11\n\t"
                "addq %[base], %%r11\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "addq %[inc], (%%r11)\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [slots] "r" (slots), [stride] "r" (stride), [base] "r" (base), [inc] "er" (inc), [at] "r" (&i)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  *index_out = i;
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



/* Compare-and-pop on INDEX: if *HEAD is not null, *HEAD = the word at
   NEXT_OFFSET in that node (the commit), *NODE_OUT = the node; an empty
   list: compare failed.  ABA-free (head, next and the commit in one
   section).  The outcome is encoded in the node (RSEQ_PERCPU_ASM_ENC_RESULT).  */
static inline int
rseq_percpu_arch_load_cbeq_pop (void *area, uintptr_t field_offset,
                                uint32_t index, uintptr_t *head,
                                uintptr_t next_offset, uintptr_t *node_out)
{
  uintptr_t node;
  uintptr_t tmp;
  __asm__ __volatile__ ("leaq 6f(%%rip), %[tmp]\n\t"
                        "movq %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "cmpl %k[index], (%[area],%[off])\n\t"
                        "jnz 4f\n\t"
                        "movq (%[head]), %[node]\n\t"
                        "testq %[node], %[node]\n\t"
                        "jz 5f\n\t"
                        "movq %[node], %[tmp]\n\t"
                        "addq %[next_offset], %[tmp]\n\t"
                        "movq (%[tmp]), %[tmp]\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "movq %[tmp], (%[head])\n\t"
                        "3:\n\t"
                        "9:\n\t"
                        ".pushsection __rseq_failure, \"ax\"\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "movl $1, %k[node]\n\t"
                        "jmp 9b\n\t"
                        "5:\n\t"
                        "xorl %k[node], %k[node]\n\t"
                        "jmp 9b\n\t"
                        ".popsection\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [tmp] "=&r" (tmp), [node] "=&r" (node)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [head] "r" (head), [next_offset] "er" (next_offset)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  *node_out = node;
  RSEQ_PERCPU_ASM_ENC_RESULT (node);
}



/* The inline pool's pop (rseq_percpu_inline_pool_alloc), with the index
   read inside the section, as the counter's add: I = the field at
   FIELD_OFFSET (4 cpu_id, 24 mm_cid) of AREA; I >= 256
   (RSEQ_PERCPU_INLINE_SLOTS; also a negative cpu_id: the stand-in, an
   unregistered area), the slot's guard word (BASE + 64 * I + 8: set by
   rseq_percpu_pool_reclaim, which then restarts every section on that
   CPU with membarrier; loaded inside the section, so a section that read
   it clear committed before that restart or does not commit) not zero, or an empty list: compare
   failed; else the head *(BASE + 64 * I) = the node's first word (the
   commit).  One index load and no compare of an index read before the
   section; the slot through one register.  Outcome encoded in the node
   (RSEQ_PERCPU_ASM_ENC_RESULT).  */
static inline int
rseq_percpu_arch_pool_pop_current (void *area, uintptr_t field_offset,
                                   char *base, uintptr_t *node_out)
{
  uintptr_t node;
  uintptr_t tmp;
  uintptr_t next;
  __asm__ __volatile__ ("leaq 6f(%%rip), %[tmp]\n\t"
                        "movq %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "movl (%[area],%[off]), %k[tmp]\n\t"
                        "cmpl $256, %k[tmp]\n\t"
                        "jae 5f\n\t"
                        "shlq $6, %[tmp]\n\t"
                        "addq %[base], %[tmp]\n\t"
                        "cmpq $0, 8(%[tmp])\n\t"
                        "jnz 5f\n\t"
                        "movq (%[tmp]), %[node]\n\t"
                        "testq %[node], %[node]\n\t"
                        "jz 5f\n\t"
                        "movq (%[node]), %[next]\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "movq %[next], (%[tmp])\n\t"
                        "3:\n\t"
                        "9:\n\t"
                        ".pushsection __rseq_failure, \"ax\"\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "movl $1, %k[node]\n\t"
                        "jmp 9b\n\t"
                        "5:\n\t"
                        "xorl %k[node], %k[node]\n\t"
                        "jmp 9b\n\t"
                        ".popsection\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [tmp] "=&r" (tmp), [node] "=&r" (node), [next] "=&r" (next)
                        : [area] "r" (area), [off] "r" (field_offset), [base] "r" (base)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  (void) next;
  *node_out = node;
  RSEQ_PERCPU_ASM_ENC_RESULT (node);
}

/* The inline pool's push (rseq_percpu_inline_pool_free), with the index
   and the list's depth read inside the section: I as in
   rseq_percpu_arch_pool_pop_current (I >= 256 or the guard set: compare
   failed); HEAD = *(BASE + 64 * I); DEPTH = HEAD ? HEAD[1] : 0 (the
   list's length from its head down); DEPTH >= LIMIT: compare failed (a
   full list); else OBJ[0] = HEAD, OBJ[1] = DEPTH + 1 (the caller's free
   object: redone after an abort), then *(BASE + 64 * I) = OBJ (the
   commit).  The head is read in the section, so no compare of a head read
   before it, and the depth is exact (read outside, the head could be
   popped and reused by a thread preempting this one).  LIMIT in a
   register ("rm" makes clang store it to the stack and compare with
   that, every free).  asm goto.  Scratch: the architecture's fixed asm
   goto registers (x86-64 %r9, %r10, %r11: a stress hook must leave them
   alone).  */
static inline int
rseq_percpu_arch_pool_push_current (void *area, uintptr_t field_offset,
                                    char *base, uintptr_t limit,
                                    uintptr_t *obj)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "movl (%[area],%[off]), %%r11d\n\t"
                "cmpl $256, %%r11d\n\t"
                "jae 5f\n\t"
                "shlq $6, %%r11\n\t"
                "addq %[base], %%r11\n\t"
                "cmpq $0, 8(%%r11)\n\t"
                "jnz 5f\n\t"
                "movq (%%r11), %%r10\n\t"
                "xorl %%r9d, %%r9d\n\t"
                "testq %%r10, %%r10\n\t"
                "jz 21f\n\t"
                "movq 8(%%r10), %%r9\n\t"
                "21:\n\t"
                "cmpq %[limit], %%r9\n\t"
                "jae 5f\n\t"
                "incq %%r9\n\t"
                "movq %%r10, (%[obj])\n\t"
                "movq %%r9, 8(%[obj])\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "movq %[obj], (%%r11)\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [base] "r" (base), [limit] "r" (limit), [obj] "r" (obj)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11", "r10", "r9" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



/* On INDEX, if *V == EXPECT: *V2 = NEWV2 (may be redone after an abort),
   then *V = NEWV (the commit).  The stores stay in order (x86-64's
   are ordered; aarch64 commits with a release store).  asm
   goto (the counter's form).  */
static inline int
rseq_percpu_arch_load_cbne_store_store (void *area, uintptr_t field_offset,
                                        uint32_t index, uintptr_t *v,
                                        uintptr_t expect, uintptr_t *v2,
                                        uintptr_t newv2, uintptr_t newv)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "cmpl %k[index], (%[area],%[off])\n\t"
                "jnz 4f\n\t"
                "cmpq %[expect], (%[v])\n\t"
                "jnz 5f\n\t"
                "movq %[newv2], (%[v2])\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "movq %[newv], (%[v])\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [v2] "r" (v2), [newv2] "r" (newv2), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



/* On INDEX, if *V == EXPECT: copy LEN bytes from SRC to DST, then
   *V = NEWV (the commit publishes the copy).  */
static inline int
rseq_percpu_arch_load_cbne_memcpy_store (void *area, uintptr_t field_offset,
                                         uint32_t index, uintptr_t *v,
                                         uintptr_t expect, void *dst,
                                         const void *src, uintptr_t len,
                                         uintptr_t newv)
{
  int ret;
  uintptr_t tmp;
  double xmm;
  __asm__ __volatile__ ("xorl %k[ret], %k[ret]\n\t"
                        "leaq 6f(%%rip), %[tmp]\n\t"
                        "movq %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "cmpl %k[index], (%[area],%[off])\n\t"
                        "jnz 4f\n\t"
                        "cmpq %[expect], (%[v])\n\t"
                        "jnz 5f\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "movq %[newv], (%[v])\n\t"
                        "3:\n\t"
                        "9:\n\t"
                        ".pushsection __rseq_failure, \"ax\"\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "movl $2, %k[ret]\n\t"
                        "jmp 9b\n\t"
                        "5:\n\t"
                        "movl $1, %k[ret]\n\t"
                        "jmp 9b\n\t"
                        ".popsection\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [xmm] "=&x" (xmm), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  (void) xmm;
  return ret;
}



/* On INDEX, if *V == EXPECT: the word FIRST at DST (8-aligned), LEN bytes
   from SRC at DST + 8, then *V = NEWV (the commit publishes both): the
   ring buffer's write, header and payload in one copy.  */
static inline int
rseq_percpu_arch_load_cbne_store_memcpy_store (void *area,
                                               uintptr_t field_offset,
                                               uint32_t index, uintptr_t *v,
                                               uintptr_t expect, void *dst,
                                               uintptr_t first,
                                               const void *src,
                                               uintptr_t len, uintptr_t newv)
{
  int ret;
  uintptr_t tmp;
  double xmm;
  __asm__ __volatile__ ("xorl %k[ret], %k[ret]\n\t"
                        "leaq 6f(%%rip), %[tmp]\n\t"
                        "movq %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "cmpl %k[index], (%[area],%[off])\n\t"
                        "jnz 4f\n\t"
                        "cmpq %[expect], (%[v])\n\t"
                        "jnz 5f\n\t"
                        "movq %[first], (%[dst])\n\t"
                        "addq $8, %[dst]\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "movq %[newv], (%[v])\n\t"
                        "3:\n\t"
                        "9:\n\t"
                        ".pushsection __rseq_failure, \"ax\"\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "movl $2, %k[ret]\n\t"
                        "jmp 9b\n\t"
                        "5:\n\t"
                        "movl $1, %k[ret]\n\t"
                        "jmp 9b\n\t"
                        ".popsection\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [xmm] "=&x" (xmm), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [first] "r" (first), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  (void) xmm;
  return ret;
}



/* rseq_percpu_arch_load_cbne_store_memcpy_store for a LEN of 16 to 32
   bytes known at compile time (the ring's write of a fixed-size record):
   the payload is the first and the last 16 bytes of SRC (overlapping), no
   branch on LEN and nothing modified but memory, so asm goto (the
   counter's form: no result register, no copies of the pointers to
   advance).  Scratch: the fixed asm goto registers (a general and a
   vector one).  */
static inline int
rseq_percpu_arch_load_cbne_store_copy16_32_store (void *area,
                                                  uintptr_t field_offset,
                                                  uint32_t index,
                                                  uintptr_t *v,
                                                  uintptr_t expect,
                                                  void *dst, uintptr_t first,
                                                  const void *src,
                                                  uintptr_t len,
                                                  uintptr_t newv)
{
  __asm__ goto ("leaq 6f(%%rip), %%r11\n\t"
                "movq %%r11, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "cmpl %k[index], (%[area],%[off])\n\t"
                "jnz 4f\n\t"
                "cmpq %[expect], (%[v])\n\t"
                "jnz 5f\n\t"
                "movq %[first], (%[dst])\n\t"
                "movdqu (%[src]), %%xmm15\n\t"
                "movdqu %%xmm15, 8(%[dst])\n\t"
                "movdqu -16(%[src],%[len]), %%xmm15\n\t"
                "movdqu %%xmm15, -8(%[dst],%[len])\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "movq %[newv], (%[v])\n\t"
                "3:\n\t"
                ".pushsection __rseq_failure, \"ax\"\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "jmp %l[rseq_aborted]\n\t"
                "5:\n\t"
                "jmp %l[rseq_compare_failed]\n\t"
                ".popsection\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [dst] "r" (dst), [first] "r" (first), [src] "r" (src), [len] "r" (len), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "r11", "xmm15" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



#endif /* rseq-percpu-arch/x86_64.h */
