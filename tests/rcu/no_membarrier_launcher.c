/* Runs a program with membarrier(2) unavailable from its first
   instruction: a seccomp filter makes it fail with ENOSYS, as on a kernel
   without it, then execs argv[1].  */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "seccomp.h"

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s program [args...]\n", argv[0]);
      return 2;
    }
  if (fail_syscall_with (SYS_membarrier, ENOSYS) != 0)
    {
      perror ("no_membarrier_launcher: seccomp");
      return 127;
    }
  execv (argv[1], argv + 1);
  perror ("no_membarrier_launcher: execv");
  return 127;
}
