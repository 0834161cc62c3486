/* A plugin that links the component (shared-object build) and uses it
   through the C API.  The driver (main.c) dlopens it, calls these, then
   dlcloses it.  */
#include <stdint.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>

static _Alignas (RSEQ_PERCPU_ALIGN) unsigned char counter[1 << 20];

/* Registers the calling thread (or adopts the libc's area) and, with
   WITH_COUNTER, runs one per-CPU counter increment: the sequence leaves
   the thread's rseq_cs pointing at its descriptor, in this object.
   Returns the owner, or a negative errno.  */
int
plugin_use (int with_counter, struct rseq **area)
{
  int r = rseq_libc_register_current_thread ();
  if (r < 0)
    return r;
  *area = rseq_libc_area ();
  if (with_counter)
    {
      static int initialized;
      if (!__atomic_exchange_n (&initialized, 1, __ATOMIC_ACQ_REL))
        {
          if (rseq_percpu_counter_size () > sizeof counter)
            return -100;
          r = rseq_percpu_counter_init (counter, sizeof counter, RSEQ_PERCPU_CPU_ID);
          if (r < 0)
            return r;
        }
      r = rseq_percpu_counter_inc (counter);
      if (r < 0)
        return r;
    }
  return rseq_libc_owner ();
}
