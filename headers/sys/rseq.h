/* <sys/rseq.h> from rseq-libc: a drop-in for glibc >= 2.35's header, so that
   programs built against musl or the standalone test libc see the same
   declarations as programs built against glibc.

   It declares the kernel's rseq ABI (through mm_cid, Linux 6.3), RSEQ_SIG for
   every architecture the kernel wires rseq up on, and the three symbols glibc
   exports to say where the current thread's area is.  Where this header and
   <linux/rseq.h> meet, whichever comes first wins; the kernel header of
   Debian 12 predates node_id and mm_cid, so include this one first.  */

#ifndef _SYS_RSEQ_H
#define _SYS_RSEQ_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef _LINUX_RSEQ_H
/* Also stops a later <linux/rseq.h> from defining the structs again.  */
#define _LINUX_RSEQ_H 1

enum rseq_cpu_id_state {
  RSEQ_CPU_ID_UNINITIALIZED = -1,
  RSEQ_CPU_ID_REGISTRATION_FAILED = -2
};

enum rseq_flags {
  RSEQ_FLAG_UNREGISTER = (1 << 0)
};

enum rseq_cs_flags_bit {
  RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT_BIT = 0,
  RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL_BIT = 1,
  RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE_BIT = 2
};

enum rseq_cs_flags {
  RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT = (1U << RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT_BIT),
  RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL = (1U << RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL_BIT),
  RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE = (1U << RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE_BIT)
};

/* One descriptor per critical section, usually link-time constant data.
   32-byte aligned so that it never straddles a cache line.  */
struct rseq_cs {
  uint32_t version;            /* 0 */
  uint32_t flags;              /* enum rseq_cs_flags */
  uint64_t start_ip;
  uint64_t post_commit_offset; /* from start_ip */
  uint64_t abort_ip;           /* preceded by RSEQ_SIG */
} __attribute__((__aligned__(32)));

/* The per-thread area shared with the kernel.  The kernel writes it on every
   return to user space of the thread that registered it, so only that thread
   reads it, with single-copy-atomic loads.  */
struct rseq {
  uint32_t cpu_id_start;       /* always a possible CPU number */
  uint32_t cpu_id;             /* or enum rseq_cpu_id_state */
  uint64_t rseq_cs;            /* address of the active struct rseq_cs, or 0 */
  uint32_t flags;
  /* The original ABI ends here (feature size 20).  */
  uint32_t node_id;            /* Linux 6.3, feature size >= 24 */
  uint32_t mm_cid;             /* Linux 6.3, feature size >= 28 */
} __attribute__((__aligned__(32)));

#endif /* _LINUX_RSEQ_H */

/* RSEQ_SIG: the 32-bit word that must precede every abort handler.  The kernel
   compares it with the signature given at registration before it jumps to an
   abort handler, so rseq cannot be used to redirect execution to arbitrary
   code.  Each value is a trapping instruction of its architecture, so that
   falling into it stops the program and objdump still shows a valid
   instruction.  Values are glibc's.  */
#if defined(__x86_64__) || defined(__i386__)
/* ud1 0x53053053(%rip),%edi, when preceded by the bytes 0f b9 3d, as the
   x86 abort-handler macros emit them.  */
# define RSEQ_SIG 0x53053053
#elif defined(__aarch64__)
/* brk #0x45e0.  Code is always little-endian on AArch64; data (the word the
   kernel compares) follows the data endianness.  */
# define RSEQ_SIG_CODE 0xd428bc00
# ifdef __AARCH64EB__
#  define RSEQ_SIG_DATA 0x00bc28d4
# else
#  define RSEQ_SIG_DATA RSEQ_SIG_CODE
# endif
# define RSEQ_SIG RSEQ_SIG_DATA
#elif defined(__arm__)
/* udf #24035 (0x5de3), ARMv6+; BE8 stores instructions little-endian.  */
# ifdef __ARMEB__
#  define RSEQ_SIG 0xf3def5e7
# else
#  define RSEQ_SIG 0xe7f5def3
# endif
#elif defined(__powerpc__) || defined(__powerpc64__)
/* twui r5,11: a trap-word-immediate that never matches in practice and is
   unlikely to appear in generated code.  Same word for 32/64-bit, LE/BE.  */
# define RSEQ_SIG 0x0fe5000b
#elif defined(__mips__)
/* break 0x350; nanoMIPS and microMIPS encode it in halfwords, swapped on
   little-endian.  */
# if defined(__nanomips__)
#  ifdef __MIPSEL__
#   define RSEQ_SIG 0x03500010
#  else
#   define RSEQ_SIG 0x00100350
#  endif
# elif defined(__mips_micromips)
#  ifdef __MIPSEL__
#   define RSEQ_SIG 0xd4070000
#  else
#   define RSEQ_SIG 0x0000d407
#  endif
# else
#  define RSEQ_SIG 0x0350000d
# endif
#elif defined(__s390__)
/* trap4 4095(%r0).  */
# define RSEQ_SIG 0xB2FF0FFF
#elif defined(__riscv)
/* csrw mhartid, x0: writing a read-only CSR traps (illegal instruction).  */
# define RSEQ_SIG 0xf1401073
#elif defined(__loongarch__)
/* break 0x10.  */
# define RSEQ_SIG 0x002a0010
#else
/* No signature for this architecture: rseq is not registered on it.  */
#endif

/* Offset of the current thread's struct rseq from the thread pointer
   (__builtin_thread_pointer ()).  Meaningful only when __rseq_size > 0.  */
extern const ptrdiff_t __rseq_offset;

/* How much of the area the kernel fills (the feature size), or 0 when the
   thread library did not register one.  glibc 2.35-2.39 report 32 and
   Debian's 2.36 reports 20 for what the kernel fills up to its feature size:
   treat 20 or 32 as min (32, getauxval (AT_RSEQ_FEATURE_SIZE)).  rseq-libc
   reports the feature size itself when it owns registration.  */
extern const unsigned int __rseq_size;

/* Flags used at registration; always 0.  */
extern const unsigned int __rseq_flags;

#ifdef __cplusplus
}
#endif

#endif /* sys/rseq.h */
