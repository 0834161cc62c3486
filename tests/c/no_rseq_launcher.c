/* Runs a program with rseq unavailable: a seccomp filter makes rseq(2)
   fail with ENOSYS, as on a kernel without rseq, then execs argv[1].  */
#include "check.h"
#include "seccomp.h"

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s program [args...]\n", argv[0]);
      return 2;
    }
  if (fail_syscall_with (SYS_rseq, ENOSYS) != 0)
    {
      perror ("no_rseq_launcher: seccomp");
      return 127;
    }
  execv (argv[1], argv + 1);
  perror ("no_rseq_launcher: execv");
  return 127;
}
