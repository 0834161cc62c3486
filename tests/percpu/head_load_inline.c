/* Callers of the inline C header's ring write and pool free, compiled
   (not run) by tests/percpu/run.sh, whose head_load_check.py then checks
   in their disassembly that each section's head word was loaded through
   the register the section commits through, never base + index (see
   rseq_percpu_arch_load_word_unindexed in <rseq-percpu-arch/x86_64.h>).  */
#include <rseq-percpu-inline.h>

static unsigned char payload[24];

/* A burst of fixed-size records: the case the head load matters in.  */
void
ring_loop (void *ring, long n)
{
  for (long k = 0; k < n; k++)
    rseq_percpu_inline_ring_write (ring, payload, sizeof payload);
}

int
ring_one (void *ring, const void *p, unsigned long len)
{
  return rseq_percpu_inline_ring_write (ring, p, len);
}

int
pool_free_one (void *pool, void *obj)
{
  return rseq_percpu_inline_pool_free (pool, obj);
}
