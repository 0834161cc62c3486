/* Callers of the inline C header's ring write and pool alloc + free,
   compiled (not run) by tests/percpu/run.sh, whose head_load_check.py
   then checks in their disassembly that each ring section's head word was
   loaded through the register the section commits through, never base +
   index (see rseq_percpu_arch_load_word_unindexed in
   <rseq-percpu-arch/x86_64.h>), and loop_path.py that pool_cycle's
   committing path touches no stack slot.  */
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

/* Alloc and free in a loop, the object used in between (the benchmark's
   pool row, as a user writes it): run.sh checks (loop_path.py) that one
   iteration's committing path touches no stack slot, i.e. the object
   pointer whose address the alloc takes stays in a register (the alloc's
   slow path must not take that address: handed to a call it escapes,
   and gcc stores and reloads it around every alloc).  */
static unsigned char pool_object[RSEQ_PERCPU_INLINE_POOL_SIZE]
  __attribute__ ((aligned (64)));

void
pool_cycle (long n)
{
  for (long k = 0; k < n; k++)
    {
      void *o;
      if (rseq_percpu_inline_pool_alloc (pool_object, &o) == 0)
        {
          __asm__ volatile ("" : : "r" (o) : "memory");
          rseq_percpu_inline_pool_free (pool_object, o);
        }
    }
}
