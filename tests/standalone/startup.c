/* The program whose start-up is measured (tests/standalone/startup-bench.sh):
   main only reports when it was reached, on stdout, as a struct timespec of
   CLOCK_MONOTONIC read with the syscall (the same cost in every libc).
   Built against static glibc and the standalone test libc alike.  */
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int
main (void)
{
  struct timespec ts;
  syscall (SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return write (1, &ts, sizeof ts) == sizeof ts ? 0 : 1;
}
