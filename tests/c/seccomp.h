/* A minimal seccomp filter that makes one syscall fail with a given errno,
   without <linux/seccomp.h> (musl-gcc has no kernel headers).  Applies to
   the calling thread and its future children only.  */
#ifndef RSEQ_LIBC_TEST_SECCOMP_H
#define RSEQ_LIBC_TEST_SECCOMP_H

#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>

struct test_sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct test_sock_fprog { unsigned short len; struct test_sock_filter *filter; };

#define TEST_BPF_LD_W_ABS 0x20
#define TEST_BPF_JEQ_K 0x15
#define TEST_BPF_RET_K 0x06
#define TEST_SECCOMP_RET_ALLOW 0x7fff0000U
#define TEST_SECCOMP_RET_ERRNO 0x00050000U
/* AUDIT_ARCH_*: the ELF machine | 64-bit | little-endian.  The filter
   must name the architecture the program runs on, else it allows all.  */
#if defined(__x86_64__)
# define TEST_AUDIT_ARCH 0xc000003eU /* EM_X86_64 */
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
# define TEST_AUDIT_ARCH 0xc00000b7U /* EM_AARCH64 */
#elif defined(__riscv) && __riscv_xlen == 64
# define TEST_AUDIT_ARCH 0xc00000f3U /* EM_RISCV */
#else
# error "seccomp.h: add this architecture's AUDIT_ARCH value"
#endif

static int
fail_syscall_with (long nr, int err)
{
  struct test_sock_filter f[] = {
    { TEST_BPF_LD_W_ABS, 0, 0, 4 },                 /* arch */
    { TEST_BPF_JEQ_K, 1, 0, TEST_AUDIT_ARCH },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ALLOW },
    { TEST_BPF_LD_W_ABS, 0, 0, 0 },                 /* nr */
    { TEST_BPF_JEQ_K, 0, 1, (uint32_t) nr },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ERRNO | (uint32_t) err },
    { TEST_BPF_RET_K, 0, 0, TEST_SECCOMP_RET_ALLOW },
  };
  struct test_sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (syscall (SYS_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0) != 0)
    return -1;
  return (int) syscall (SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &prog);
}

#endif
