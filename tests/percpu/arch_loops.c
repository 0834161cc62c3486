/* Benchmark-shaped loops around the generated inline sequences of one
   rseq-percpu-arch/ARCH.h, compiled for each architecture to count the
   instructions of one committing iteration (tests/percpu/loop_path.py
   --arch, docs/architectures.md): the counter's increment, the pool's pop
   and push on the current index, and the ring's write of a 32-byte record
   (the head loaded through one register, the header and the payload
   copied, the head committed).  The raw sequences with the same C around
   them on every architecture: not the use cases of <rseq-percpu-inline.h>
   (x86-64 only so far), whose mode tests and area cache add the same
   instructions everywhere.  Never run.  */
#include <stdint.h>
#define RSEQ_PERCPU_INLINE_H 1
enum { RSEQ_PERCPU_DONE, RSEQ_PERCPU_COMPARE_FAILED, RSEQ_PERCPU_ABORTED };
#include ARCH_HEADER /* -DARCH_HEADER='"rseq-percpu-arch/ARCH.h"' */

void slow (void);

void
counter_loop (char *area, uintptr_t off, char *base, long n)
{
  for (long k = 0; k < n; k++)
    if (__builtin_expect (rseq_percpu_arch_counter_add (area, off, base, 1) != RSEQ_PERCPU_DONE, 0))
      slow ();
}

void
pool_loop (char *area, uintptr_t off, char *base, long n)
{
  uintptr_t node;
  for (long k = 0; k < n; k++)
    {
      if (__builtin_expect (rseq_percpu_arch_pool_pop_current (area, off, base, &node)
                            != RSEQ_PERCPU_DONE, 0))
        slow ();
      if (__builtin_expect (rseq_percpu_arch_pool_push_current (area, off, base, 64,
                                                                (uintptr_t *) node)
                            != RSEQ_PERCPU_DONE, 0))
        slow ();
    }
}

/* Per index: the head (bytes written) at heads[i * 8], the buffer at
   bufs + i * 4096; records of 8 + 32 bytes.  */
void
ring_loop (char *area, uintptr_t off, uintptr_t *heads, char *bufs, const char *payload, long n)
{
  for (long k = 0; k < n; k++)
    {
      uint32_t i = *(volatile uint32_t *) (area + off);
      uintptr_t *head = heads + (uintptr_t) i * 8;
      uintptr_t h = rseq_percpu_arch_load_word_unindexed (head);
      char *dst = bufs + (uintptr_t) i * 4096 + (h & 4095);
      if (__builtin_expect (rseq_percpu_arch_load_cbne_store_copy16_32_store (
                                area, off, i, head, h, dst, 32, payload, 32, (h + 40) & 4095)
                            != RSEQ_PERCPU_DONE, 0))
        slow ();
    }
}
