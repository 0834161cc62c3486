/* A program whose TLS layout dl-early-tls cannot build must end before
   main with a message on stderr and status 127.  Built as is (a small
   .tdata) and then made impossible by run.sh, which patches the PT_TLS
   program header: p_align 48 (not a power of two), p_filesz > p_memsz,
   or p_memsz 64 TiB (a TLS block that cannot be mapped).  */
#include <unistd.h>

__thread int initialised = 42;

int
main (void)
{
  static const char msg[] = "FAIL: main ran with an impossible TLS layout\n";
  write (1, msg, sizeof msg - 1);
  return initialised == 42 ? 0 : 1;
}
