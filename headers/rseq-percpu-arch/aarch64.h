/* Generated from percpu/seq/aarch64.seq and percpu/seq/common.seq by scripts/gen-sequences.py: do not edit;
   edit the template and run `python3 scripts/gen-sequences.py`.  */
/* rseq-percpu-arch/aarch64.h: the aarch64 restartable sequences of
   <rseq-percpu-inline.h>.  Include that header, not this one.

   The same functions, outcomes and section layout as
   rseq-percpu-arch/x86_64.h (see its comment), with: the descriptor's
   address formed with adrp + add :lo12:; `.inst 0xd428bc00' (RSEQ_SIG,
   brk #0x45e0) before every abort_ip, which follows the commit in .text
   behind a `b 9f' (conditional branches reach 1 MiB at most: not a
   __rseq_failure section); the adds as load, add, store (the
   store commits); `stlr' for the commits that publish what the section
   stored before them (the store-store and the copies).  The asm goto
   sequences' scratch registers are x15, x14, x13 and v15: a stress hook
   (RSEQ_PERCPU_INLINE_INJECT_ASM) must leave them and every operand
   alone.  */

#ifndef RSEQ_PERCPU_ARCH_AARCH64_H
#define RSEQ_PERCPU_ARCH_AARCH64_H 1

#ifndef RSEQ_PERCPU_INLINE_H
# error "include <rseq-percpu-inline.h>, not <rseq-percpu-arch/aarch64.h>"
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

/* A load of the word at V through one base register (see
   rseq-percpu-arch/x86_64.h).  */
static inline uintptr_t
rseq_percpu_arch_load_word_unindexed (const uintptr_t *v)
{
  uintptr_t r;
  __asm__ __volatile__ ("ldr %0, [%1]" : "=r" (r) : "r" (v), "m" (*v));
  return r;
}

#define RSEQ_PERCPU_ASM_SIGNATURE \
  ".inst 0xd428bc00\n\t"

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

#define RSEQ_PERCPU_ASM_COPY         \
  "cmp %[len], #16\n\t"              \
  "b.lo 25f\n\t"                     \
  "ldr %q[vec], [%[src]]\n\t"        \
  "str %q[vec], [%[dst]]\n\t"        \
  "add %[tmp], %[src], %[len]\n\t"   \
  "ldur %q[vec], [%[tmp], #-16]\n\t" \
  "add %[tmp], %[dst], %[len]\n\t"   \
  "stur %q[vec], [%[tmp], #-16]\n\t" \
  "cmp %[len], #32\n\t"              \
  "b.ls 24f\n\t"                     \
  "22:\n\t"                          \
  "add %[src], %[src], #16\n\t"      \
  "add %[dst], %[dst], #16\n\t"      \
  "sub %[len], %[len], #16\n\t"      \
  "ldr %q[vec], [%[src]]\n\t"        \
  "str %q[vec], [%[dst]]\n\t"        \
  "cmp %[len], #32\n\t"              \
  "b.hi 22b\n\t"                     \
  "b 24f\n\t"                        \
  "25:\n\t"                          \
  "cmp %[len], #8\n\t"               \
  "b.lo 23f\n\t"                     \
  "ldr %[tmp], [%[src]]\n\t"         \
  "str %[tmp], [%[dst]]\n\t"         \
  "add %[src], %[src], %[len]\n\t"   \
  "add %[dst], %[dst], %[len]\n\t"   \
  "ldur %[tmp], [%[src], #-8]\n\t"   \
  "stur %[tmp], [%[dst], #-8]\n\t"   \
  "b 24f\n\t"                        \
  "23:\n\t"                          \
  "cbz %[len], 24f\n\t"              \
  "26:\n\t"                          \
  "ldrb %w[tmp], [%[src]], #1\n\t"   \
  "strb %w[tmp], [%[dst]], #1\n\t"   \
  "subs %[len], %[len], #1\n\t"      \
  "b.ne 26b\n\t"                     \
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, %w[index]\n\t"
                "b.ne 4f\n\t"
                "ldr x15, [%[v]]\n\t"
                "cmp x15, %[expect]\n\t"
                "b.ne 5f\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "str %[newv], [%[v]]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, %w[index]\n\t"
                "b.ne 4f\n\t"
                "ldr x14, [%[v]]\n\t"
                "add x14, x14, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "str x14, [%[v]]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [inc] "rI" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15", "x14" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, #256\n\t"
                "b.hs 5f\n\t"
                "add x15, %[base], x15, lsl #6\n\t"
                "ldr x14, [x15]\n\t"
                "add x14, x14, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "str x14, [x15]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [base] "r" (base), [inc] "rI" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15", "x14" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, %w[slots]\n\t"
                "b.hs 5f\n\t"
                "str w15, [%[at]]\n\t"
                "madd x15, x15, %[stride], %[base]\n\t"
                "ldr x14, [x15]\n\t"
                "add x14, x14, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "str x14, [x15]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [slots] "r" (slots), [stride] "r" (stride), [base] "r" (base), [inc] "rI" (inc), [at] "r" (&i)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15", "x14" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ __volatile__ ("adrp %[tmp], 6f\n\t"
                        "add %[tmp], %[tmp], :lo12:6f\n\t"
                        "str %[tmp], [%[area], #8]\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "ldr %w[tmp], [%[area], %[off]]\n\t"
                        "cmp %w[tmp], %w[index]\n\t"
                        "b.ne 4f\n\t"
                        "ldr %[node], [%[head]]\n\t"
                        "cbz %[node], 5f\n\t"
                        "ldr %[tmp], [%[node], %[next_offset]]\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "str %[tmp], [%[head]]\n\t"
                        "3:\n\t"
                        "b 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "mov %w[node], #1\n\t"
                        "b 9f\n\t"
                        "5:\n\t"
                        "mov %[node], xzr\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [tmp] "=&r" (tmp), [node] "=&r" (node)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [head] "r" (head), [next_offset] "r" (next_offset)
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
  __asm__ __volatile__ ("adrp %[tmp], 6f\n\t"
                        "add %[tmp], %[tmp], :lo12:6f\n\t"
                        "str %[tmp], [%[area], #8]\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "ldr %w[tmp], [%[area], %[off]]\n\t"
                        "cmp %w[tmp], #256\n\t"
                        "b.hs 5f\n\t"
                        "add %[tmp], %[base], %[tmp], lsl #6\n\t"
                        "ldr %[next], [%[tmp], #8]\n\t"
                        "cbnz %[next], 5f\n\t"
                        "ldr %[node], [%[tmp]]\n\t"
                        "cbz %[node], 5f\n\t"
                        "ldr %[next], [%[node]]\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "str %[next], [%[tmp]]\n\t"
                        "3:\n\t"
                        "b 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "mov %w[node], #1\n\t"
                        "b 9f\n\t"
                        "5:\n\t"
                        "mov %[node], xzr\n\t"
                        "9:\n\t"
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, #256\n\t"
                "b.hs 5f\n\t"
                "add x15, %[base], x15, lsl #6\n\t"
                "ldr x14, [x15, #8]\n\t"
                "cbnz x14, 5f\n\t"
                "ldr x14, [x15]\n\t"
                "mov x13, xzr\n\t"
                "cbz x14, 21f\n\t"
                "ldr x13, [x14, #8]\n\t"
                "21:\n\t"
                "cmp x13, %[limit]\n\t"
                "b.hs 5f\n\t"
                "add x13, x13, #1\n\t"
                "stp x14, x13, [%[obj]]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "str %[obj], [x15]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [base] "r" (base), [limit] "r" (limit), [obj] "r" (obj)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15", "x14", "x13" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, %w[index]\n\t"
                "b.ne 4f\n\t"
                "ldr x15, [%[v]]\n\t"
                "cmp x15, %[expect]\n\t"
                "b.ne 5f\n\t"
                "str %[newv2], [%[v2]]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "stlr %[newv], [%[v]]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [v2] "r" (v2), [newv2] "r" (newv2), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  double vec;
  __asm__ __volatile__ ("mov %w[ret], wzr\n\t"
                        "adrp %[tmp], 6f\n\t"
                        "add %[tmp], %[tmp], :lo12:6f\n\t"
                        "str %[tmp], [%[area], #8]\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "ldr %w[tmp], [%[area], %[off]]\n\t"
                        "cmp %w[tmp], %w[index]\n\t"
                        "b.ne 4f\n\t"
                        "ldr %[tmp], [%[v]]\n\t"
                        "cmp %[tmp], %[expect]\n\t"
                        "b.ne 5f\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "stlr %[newv], [%[v]]\n\t"
                        "3:\n\t"
                        "b 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "mov %w[ret], #2\n\t"
                        "b 9f\n\t"
                        "5:\n\t"
                        "mov %w[ret], #1\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len), [vec] "=&w" (vec)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  (void) vec;
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
  double vec;
  __asm__ __volatile__ ("mov %w[ret], wzr\n\t"
                        "adrp %[tmp], 6f\n\t"
                        "add %[tmp], %[tmp], :lo12:6f\n\t"
                        "str %[tmp], [%[area], #8]\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "ldr %w[tmp], [%[area], %[off]]\n\t"
                        "cmp %w[tmp], %w[index]\n\t"
                        "b.ne 4f\n\t"
                        "ldr %[tmp], [%[v]]\n\t"
                        "cmp %[tmp], %[expect]\n\t"
                        "b.ne 5f\n\t"
                        "str %[first], [%[dst]], #8\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "stlr %[newv], [%[v]]\n\t"
                        "3:\n\t"
                        "b 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "mov %w[ret], #2\n\t"
                        "b 9f\n\t"
                        "5:\n\t"
                        "mov %w[ret], #1\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len), [vec] "=&w" (vec)
                        : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [first] "r" (first), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
  (void) vec;
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
  __asm__ goto ("adrp x15, 6f\n\t"
                "add x15, x15, :lo12:6f\n\t"
                "str x15, [%[area], #8]\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "ldr w15, [%[area], %[off]]\n\t"
                "cmp w15, %w[index]\n\t"
                "b.ne 4f\n\t"
                "ldr x15, [%[v]]\n\t"
                "cmp x15, %[expect]\n\t"
                "b.ne 5f\n\t"
                "str %[first], [%[dst]]\n\t"
                "ldr q15, [%[src]]\n\t"
                "str q15, [%[dst], #8]\n\t"
                "add x15, %[src], %[len]\n\t"
                "ldur q15, [x15, #-16]\n\t"
                "add x15, %[dst], %[len]\n\t"
                "stur q15, [x15, #-8]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "stlr %[newv], [%[v]]\n\t"
                "3:\n\t"
                "b 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "b %l[rseq_aborted]\n\t"
                "5:\n\t"
                "b %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [off] "r" (field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [first] "r" (first), [dst] "r" (dst), [src] "r" (src), [len] "r" (len), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "x15", "v15" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



#endif /* rseq-percpu-arch/aarch64.h */
