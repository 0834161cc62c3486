/* Generated from percpu/seq/riscv64.seq and percpu/seq/common.seq by scripts/gen-sequences.py: do not edit;
   edit the template and run `python3 scripts/gen-sequences.py`.  */
/* rseq-percpu-arch/riscv.h: the riscv64 restartable sequences of
   <rseq-percpu-inline.h>.  Include that header, not this one.

   The same functions, outcomes and section layout as
   rseq-percpu-arch/x86_64.h (see its comment), with: the descriptor's
   address formed with lla (auipc + addi); `.balign 4' + `.long
   0xf1401073' (RSEQ_SIG, csrw mhartid, x0) before every abort_ip, which
   follows the commit in .text behind a `j 9f' (conditional branches
   reach 4 KiB: not a __rseq_failure section); the adds as load, add,
   store (the store commits); `fence rw, w' before the commits that
   publish what the section stored before them (the store-store and the
   copies); the index field addressed through its own pointer (AREA +
   FIELD_OFFSET, computed outside the section), the index compared in 32
   bits (subw) and loaded zero-extended (lwu); the copies by words when
   aligned, else bytes (no vector registers in rv64gc).  The asm goto
   sequences' scratch registers are t6, t5, t4 and t3 (the kernel
   selftests' choice): a stress hook (RSEQ_PERCPU_INLINE_INJECT_ASM) must
   leave them and every operand alone.  Little-endian only, as RSEQ_SIG
   is defined for it only.  */

#ifndef RSEQ_PERCPU_ARCH_RISCV_H
#define RSEQ_PERCPU_ARCH_RISCV_H 1

#ifndef RSEQ_PERCPU_INLINE_H
# error "include <rseq-percpu-inline.h>, not <rseq-percpu-arch/riscv.h>"
#endif
#if __riscv_xlen != 64 || !defined (__BYTE_ORDER__) \
    || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
# error "rseq-percpu-arch/riscv.h: riscv64 little-endian only"
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
  __asm__ __volatile__ ("ld %0, 0(%1)" : "=r" (r) : "r" (v), "m" (*v));
  return r;
}

#define RSEQ_PERCPU_ASM_SIGNATURE \
  ".balign 4\n\t"                 \
  ".long 0xf1401073\n\t"

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

#define RSEQ_PERCPU_ASM_COPY      \
  "or %[tmp], %[src], %[dst]\n\t" \
  "andi %[tmp], %[tmp], 7\n\t"    \
  "bnez %[tmp], 23f\n\t"          \
  "22:\n\t"                       \
  "sltiu %[tmp], %[len], 8\n\t"   \
  "bnez %[tmp], 23f\n\t"          \
  "ld %[tmp], 0(%[src])\n\t"      \
  "sd %[tmp], 0(%[dst])\n\t"      \
  "addi %[src], %[src], 8\n\t"    \
  "addi %[dst], %[dst], 8\n\t"    \
  "addi %[len], %[len], -8\n\t"   \
  "j 22b\n\t"                     \
  "23:\n\t"                       \
  "beqz %[len], 24f\n\t"          \
  "26:\n\t"                       \
  "lbu %[tmp], 0(%[src])\n\t"     \
  "sb %[tmp], 0(%[dst])\n\t"      \
  "addi %[src], %[src], 1\n\t"    \
  "addi %[dst], %[dst], 1\n\t"    \
  "addi %[len], %[len], -1\n\t"   \
  "bnez %[len], 26b\n\t"          \
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lw t6, 0(%[field])\n\t"
                "subw t6, t6, %[index]\n\t"
                "bnez t6, 4f\n\t"
                "ld t6, 0(%[v])\n\t"
                "bne t6, %[expect], 5f\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd %[newv], 0(%[v])\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lw t6, 0(%[field])\n\t"
                "subw t6, t6, %[index]\n\t"
                "bnez t6, 4f\n\t"
                "ld t5, 0(%[v])\n\t"
                "add t5, t5, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd t5, 0(%[v])\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [inc] "rI" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6", "t5" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lwu t6, 0(%[field])\n\t"
                "srli t5, t6, 8\n\t"
                "bnez t5, 5f\n\t"
                "slli t6, t6, 6\n\t"
                "add t6, t6, %[base]\n\t"
                "ld t5, 0(t6)\n\t"
                "add t5, t5, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd t5, 0(t6)\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [base] "r" (base), [inc] "rI" (inc)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6", "t5" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lwu t6, 0(%[field])\n\t"
                "slli t5, %[slots], 32\n\t"
                "srli t5, t5, 32\n\t"
                "bgeu t6, t5, 5f\n\t"
                "sw t6, 0(%[at])\n\t"
                "mul t6, t6, %[stride]\n\t"
                "add t6, t6, %[base]\n\t"
                "ld t5, 0(t6)\n\t"
                "add t5, t5, %[inc]\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd t5, 0(t6)\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [slots] "r" (slots), [stride] "r" (stride), [base] "r" (base), [inc] "rI" (inc), [at] "r" (&i)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6", "t5" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ __volatile__ ("lla %[tmp], 6f\n\t"
                        "sd %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "lw %[tmp], 0(%[field])\n\t"
                        "subw %[tmp], %[tmp], %[index]\n\t"
                        "bnez %[tmp], 4f\n\t"
                        "ld %[node], 0(%[head])\n\t"
                        "beqz %[node], 5f\n\t"
                        "add %[tmp], %[node], %[next_offset]\n\t"
                        "ld %[tmp], 0(%[tmp])\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "sd %[tmp], 0(%[head])\n\t"
                        "3:\n\t"
                        "j 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "li %[node], 1\n\t"
                        "j 9f\n\t"
                        "5:\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [tmp] "=&r" (tmp), [node] "=&r" (node)
                        : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [head] "r" (head), [next_offset] "r" (next_offset)
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
  __asm__ __volatile__ ("lla %[tmp], 6f\n\t"
                        "sd %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "mv %[node], zero\n\t"
                        "lwu %[tmp], 0(%[field])\n\t"
                        "srli %[next], %[tmp], 8\n\t"
                        "bnez %[next], 5f\n\t"
                        "slli %[tmp], %[tmp], 6\n\t"
                        "add %[tmp], %[tmp], %[base]\n\t"
                        "ld %[next], 8(%[tmp])\n\t"
                        "bnez %[next], 5f\n\t"
                        "ld %[node], 0(%[tmp])\n\t"
                        "beqz %[node], 5f\n\t"
                        "ld %[next], 0(%[node])\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "sd %[next], 0(%[tmp])\n\t"
                        "3:\n\t"
                        "j 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "li %[node], 1\n\t"
                        "j 9f\n\t"
                        "5:\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [tmp] "=&r" (tmp), [node] "=&r" (node), [next] "=&r" (next)
                        : [area] "r" (area), [field] "r" ((char *) area + field_offset), [base] "r" (base)
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lwu t6, 0(%[field])\n\t"
                "srli t5, t6, 8\n\t"
                "bnez t5, 5f\n\t"
                "slli t6, t6, 6\n\t"
                "add t6, t6, %[base]\n\t"
                "ld t5, 8(t6)\n\t"
                "bnez t5, 5f\n\t"
                "ld t5, 0(t6)\n\t"
                "mv t4, zero\n\t"
                "beqz t5, 21f\n\t"
                "ld t4, 8(t5)\n\t"
                "21:\n\t"
                "bgeu t4, %[limit], 5f\n\t"
                "addi t4, t4, 1\n\t"
                "sd t5, 0(%[obj])\n\t"
                "sd t4, 8(%[obj])\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd %[obj], 0(t6)\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [base] "r" (base), [limit] "r" (limit), [obj] "r" (obj)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6", "t5", "t4" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lw t6, 0(%[field])\n\t"
                "subw t6, t6, %[index]\n\t"
                "bnez t6, 4f\n\t"
                "ld t6, 0(%[v])\n\t"
                "bne t6, %[expect], 5f\n\t"
                "sd %[newv2], 0(%[v2])\n\t"
                "fence rw, w\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd %[newv], 0(%[v])\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [v2] "r" (v2), [newv2] "r" (newv2), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
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
  __asm__ __volatile__ ("li %[ret], 0\n\t"
                        "lla %[tmp], 6f\n\t"
                        "sd %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "lw %[tmp], 0(%[field])\n\t"
                        "subw %[tmp], %[tmp], %[index]\n\t"
                        "bnez %[tmp], 4f\n\t"
                        "ld %[tmp], 0(%[v])\n\t"
                        "bne %[tmp], %[expect], 5f\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        "fence rw, w\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "sd %[newv], 0(%[v])\n\t"
                        "3:\n\t"
                        "j 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "li %[ret], 2\n\t"
                        "j 9f\n\t"
                        "5:\n\t"
                        "li %[ret], 1\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len)
                        : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
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
  __asm__ __volatile__ ("li %[ret], 0\n\t"
                        "lla %[tmp], 6f\n\t"
                        "sd %[tmp], 8(%[area])\n\t"
                        "2:\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                        "lw %[tmp], 0(%[field])\n\t"
                        "subw %[tmp], %[tmp], %[index]\n\t"
                        "bnez %[tmp], 4f\n\t"
                        "ld %[tmp], 0(%[v])\n\t"
                        "bne %[tmp], %[expect], 5f\n\t"
                        "sd %[first], 0(%[dst])\n\t"
                        "addi %[dst], %[dst], 8\n\t"
                        RSEQ_PERCPU_ASM_COPY
                        "fence rw, w\n\t"
                        RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                        "sd %[newv], 0(%[v])\n\t"
                        "3:\n\t"
                        "j 9f\n\t"
                        RSEQ_PERCPU_ASM_SIGNATURE
                        "4:\n\t"
                        "li %[ret], 2\n\t"
                        "j 9f\n\t"
                        "5:\n\t"
                        "li %[ret], 1\n\t"
                        "9:\n\t"
                        RSEQ_PERCPU_ASM_DESCRIPTOR
                        ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                        ".quad 2b, 3b\n\t"
                        ".quad 2b, 5b\n\t"
                        ".popsection\n\t"
                        : [ret] "=&r" (ret), [tmp] "=&r" (tmp), [dst] "+&r" (dst), [src] "+&r" (src), [len] "+&r" (len)
                        : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [first] "r" (first), [newv] "r" (newv)
                          RSEQ_PERCPU_INLINE_INJECT_INPUT
                        : "memory", "cc" RSEQ_PERCPU_INLINE_INJECT_CLOBBER);
  (void) tmp;
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
  __asm__ goto ("lla t6, 6f\n\t"
                "sd t6, 8(%[area])\n\t"
                "2:\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (1)
                "lw t6, 0(%[field])\n\t"
                "subw t6, t6, %[index]\n\t"
                "bnez t6, 4f\n\t"
                "ld t6, 0(%[v])\n\t"
                "bne t6, %[expect], 5f\n\t"
                "sd %[first], 0(%[dst])\n\t"
                "or t6, %[src], %[len]\n\t"
                "andi t6, t6, 7\n\t"
                "mv t3, zero\n\t"
                "bnez t6, 28f\n\t"
                "27:\n\t"
                "add t6, %[src], t3\n\t"
                "ld t5, 0(t6)\n\t"
                "add t6, %[dst], t3\n\t"
                "sd t5, 8(t6)\n\t"
                "addi t3, t3, 8\n\t"
                "bltu t3, %[len], 27b\n\t"
                "j 29f\n\t"
                "28:\n\t"
                "add t6, %[src], t3\n\t"
                "lbu t5, 0(t6)\n\t"
                "add t6, %[dst], t3\n\t"
                "sb t5, 8(t6)\n\t"
                "addi t3, t3, 1\n\t"
                "bltu t3, %[len], 28b\n\t"
                "29:\n\t"
                "fence rw, w\n\t"
                RSEQ_PERCPU_INLINE_INJECT_ASM (2)
                "sd %[newv], 0(%[v])\n\t"
                "3:\n\t"
                "j 9f\n\t"
                RSEQ_PERCPU_ASM_SIGNATURE
                "4:\n\t"
                "j %l[rseq_aborted]\n\t"
                "5:\n\t"
                "j %l[rseq_compare_failed]\n\t"
                "9:\n\t"
                RSEQ_PERCPU_ASM_DESCRIPTOR
                ".pushsection __rseq_exit_point_array, \"awR\"\n\t"
                ".quad 2b, 3b\n\t"
                ".quad 2b, 5b\n\t"
                ".popsection\n\t"
                : /* asm goto: no outputs */
                : [area] "r" (area), [field] "r" ((char *) area + field_offset), [index] "r" (index), [v] "r" (v), [expect] "r" (expect), [first] "r" (first), [dst] "r" (dst), [src] "r" (src), [len] "r" (len), [newv] "r" (newv)
                  RSEQ_PERCPU_INLINE_INJECT_INPUT
                : "memory", "cc", "t6", "t5", "t3" RSEQ_PERCPU_INLINE_INJECT_CLOBBER
                : rseq_aborted, rseq_compare_failed);
  return RSEQ_PERCPU_DONE;
rseq_aborted:
  return RSEQ_PERCPU_ABORTED;
rseq_compare_failed:
  return RSEQ_PERCPU_COMPARE_FAILED;
}



#endif /* rseq-percpu-arch/riscv.h */
