/* Runs a program on a kernel that refuses rseq's RSEQ_FLAG_SLICE_EXT_DEFAULT_ON
   (1 << 1), as kernels before 7.0 refuse any flag they do not know: a
   seccomp filter makes rseq(2) fail with EINVAL when its flags argument has
   that bit, then execs argv[1].  Registration must still succeed (retried
   without the flag), and on a kernel that offers the extension it must
   still be enabled (through prctl).  */
#include "check.h"
#include "seccomp.h"

#define TEST_BPF_JSET_K 0x45

int
main (int argc, char **argv)
{
  (void) fail_syscall_with; /* seccomp.h's one-syscall filter is not enough here.  */
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s program [args...]\n", argv[0]);
      return 2;
    }
  struct test_sock_filter f[] = {
    { TEST_BPF_LD_W_ABS, 0, 0, 4 },                 /* arch */
    { TEST_BPF_JEQ_K, 1, 0, TEST_AUDIT_ARCH },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ALLOW },
    { TEST_BPF_LD_W_ABS, 0, 0, 0 },                 /* nr */
    { TEST_BPF_JEQ_K, 0, 3, SYS_rseq },
    { TEST_BPF_LD_W_ABS, 0, 0, 16 + 2 * 8 },        /* args[2] (flags), low word */
    { TEST_BPF_JSET_K, 0, 1, 1U << 1 },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ERRNO | EINVAL },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ALLOW },
  };
  struct test_sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (syscall (SYS_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0) != 0
      || syscall (SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &prog) != 0)
    {
      perror ("refuse_slice_flag: seccomp");
      return 127;
    }
  /* The filter works: a registration with the bit is refused.  */
  static char area[64] __attribute__ ((aligned (64)));
  if (syscall (SYS_rseq, area, 33, 1 << 1, 0x53053053) != -1 || errno != EINVAL)
    {
      fprintf (stderr, "refuse_slice_flag: the filter let the flag through\n");
      return 127;
    }
  execv (argv[1], argv + 1);
  perror ("refuse_slice_flag: execv");
  return 127;
}
