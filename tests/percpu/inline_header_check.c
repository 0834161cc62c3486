/* Compile check of <rseq-percpu-inline.h>: every inline function is
   instantiated (so that its asm is assembled), as C and as C++, at every
   optimization level the header check uses.  Compiled with -c only.  */
#include <rseq-percpu-inline.h>

int check_every_inline_function (void *counter, void *pool, void *ring,
                                 uintptr_t *w, void *buf);

int
check_every_inline_function (void *counter, void *pool, void *ring,
                             uintptr_t *w, void *buf)
{
  unsigned int at = 0;
  void *node = NULL;
  int r = rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID);
  r |= rseq_percpu_inline_add (RSEQ_PERCPU_MM_CID, 0, w, 1);
  r |= rseq_percpu_inline_load_cbne_store (RSEQ_PERCPU_CPU_ID, 0, w, 0, 1);
  r |= rseq_percpu_inline_load_cbne_store_store (RSEQ_PERCPU_CPU_ID, 0, w, 0,
                                                 w + 1, 2, 1);
  r |= rseq_percpu_inline_load_cbne_memcpy_store (RSEQ_PERCPU_CPU_ID, 0, w, 0,
                                                  buf, w, 16, 1);
  r |= rseq_percpu_inline_add_indexed (RSEQ_PERCPU_CPU_ID, w, 64, 4, 1, &at);
  r |= rseq_percpu_inline_load_cbeq_pop (RSEQ_PERCPU_CPU_ID, 0, w, 0, &node);
  r |= rseq_percpu_inline_counter_inc (counter);
  r |= rseq_percpu_inline_counter_add (counter, 2);
  r |= rseq_percpu_inline_pool_alloc (pool, &node);
  r |= rseq_percpu_inline_pool_free (pool, node);
  r |= rseq_percpu_inline_ring_write (ring, buf, 24);
  return r + (int) at;
}
