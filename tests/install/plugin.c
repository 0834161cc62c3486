/* A shared object linking the no-hooks build
   ($(pkg-config --static --cflags --libs rseq-libc-nohooks)): registers the
   calling thread through the API and reports the owner.  */
#include <rseq-libc.h>

int
plugin_owner (void)
{
  int err = rseq_libc_register_current_thread ();
  return err < 0 ? err : rseq_libc_owner ();
}
