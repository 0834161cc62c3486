/* A second module with initial-exec TLS, dlopened after the plugin was
   dlclosed.  Had the plugin been unloaded, its static TLS bytes (each
   thread's registered rseq area among them) would be handed to this module,
   and the kernel would go on writing cpu_id_start, cpu_id, node_id and
   mm_cid into them.

   The image is 0xa5 except bytes 8-19 of every 32: where an rseq area
   overlapping this block at its (32-byte) alignment has rseq_cs and flags.
   Zeros there keep the kernel from reading a bogus descriptor pointer, so a
   write into the block shows as changed bytes (cpu_id_start, on any CPU,
   differs from 0xa5a5a5a5) rather than as a crash.  */
#define R32 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, \
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
            0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5
#define TLS2_SIZE 256

static __thread _Alignas (64) unsigned char block[TLS2_SIZE]
  __attribute__ ((tls_model ("initial-exec")))
  = { R32, R32, R32, R32, R32, R32, R32, R32 };

static unsigned char
expected (int i)
{
  return (i % 32 >= 8 && i % 32 < 20) ? 0 : 0xa5;
}

/* The calling thread's block.  */
void *
tls2_block (void)
{
  return block;
}

/* How many bytes of the calling thread's block differ from the image.  */
int
tls2_changed (void)
{
  int n = 0;
  for (int i = 0; i < TLS2_SIZE; i++)
    n += __atomic_load_n (&block[i], __ATOMIC_RELAXED) != expected (i);
  return n;
}
