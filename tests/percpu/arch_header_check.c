/* Compiles every function of one rseq-percpu-arch/ARCH.h (the generated C
   side of percpu/seq/ARCH.seq) for that architecture, outside
   <rseq-percpu-inline.h> (which includes x86_64.h only so far): each asm
   statement must assemble.  Built by tests/percpu/run.sh with each
   cross compiler it finds; never run: its 11 sequences must leave 11 descriptors (88 bytes of
   __rseq_cs_ptr_array).  */
#include <stdint.h>
#define RSEQ_PERCPU_INLINE_H 1
enum { RSEQ_PERCPU_DONE, RSEQ_PERCPU_COMPARE_FAILED, RSEQ_PERCPU_ABORTED };
#include ARCH_HEADER /* -DARCH_HEADER='"rseq-percpu-arch/ARCH.h"' */
int f1 (void *a, uintptr_t o, uint32_t i, uintptr_t *v) { return rseq_percpu_arch_load_cbne_store (a, o, i, v, 1, 2); }
int f2 (void *a, uintptr_t o, uint32_t i, uintptr_t *v) { return rseq_percpu_arch_add (a, o, i, v, 1); }
int f3 (void *a, uintptr_t o, char *b) { return rseq_percpu_arch_counter_add (a, o, b, 1); }
int f4 (void *a, uintptr_t o, char *b, uint32_t *ix) { return rseq_percpu_arch_add_indexed (a, o, b, 64, 8, 3, ix); }
int f5 (void *a, uintptr_t o, uint32_t i, uintptr_t *h, uintptr_t *n) { return rseq_percpu_arch_load_cbeq_pop (a, o, i, h, 8, n); }
int f6 (void *a, uintptr_t o, char *b, uintptr_t *obj) { return rseq_percpu_arch_pool_push_current (a, o, b, 32, obj); }
int f7 (void *a, uintptr_t o, char *b, uintptr_t *n) { return rseq_percpu_arch_pool_pop_current (a, o, b, n); }
int f8 (void *a, uintptr_t o, uint32_t i, uintptr_t *v, uintptr_t *v2) { return rseq_percpu_arch_load_cbne_store_store (a, o, i, v, 1, v2, 3, 2); }
int f9 (void *a, uintptr_t o, uint32_t i, uintptr_t *v, void *d, const void *s, uintptr_t l) { return rseq_percpu_arch_load_cbne_memcpy_store (a, o, i, v, 1, d, s, l, 2); }
int f10 (void *a, uintptr_t o, uint32_t i, uintptr_t *v, void *d, const void *s, uintptr_t l) { return rseq_percpu_arch_load_cbne_store_memcpy_store (a, o, i, v, 1, d, 7, s, l, 2); }
int f11 (void *a, uintptr_t o, uint32_t i, uintptr_t *v, void *d, const void *s) { return rseq_percpu_arch_load_cbne_store_copy16_32_store (a, o, i, v, 1, d, 7, s, 24, 2); }
uintptr_t f12 (const uintptr_t *v) { return rseq_percpu_arch_load_word_unindexed (v); }
