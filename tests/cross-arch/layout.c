/* Compile-time checks of <sys/rseq.h> against the kernel ABI, built by
   run.sh with every cross compiler (-std=c11 -Wall -Wextra -Werror).
   EXPECTED_RSEQ_SIG comes from run.sh's per-architecture table (glibc's
   bits/rseq.h values).  Nothing here runs.  */

#include <sys/rseq.h>
/* Must coexist with the kernel's UAPI header of each cross libc, which
   predates node_id/mm_cid: sys/rseq.h comes first and wins.  */
#include <linux/rseq.h>

#include <stddef.h>
#include <stdint.h>

#define CHECK_FIELD(type, field, off, size)                                   \
  _Static_assert (offsetof (struct type, field) == (off),                     \
                  "offsetof (struct " #type ", " #field ") != " #off);         \
  _Static_assert (sizeof (((struct type *) 0)->field) == (size),              \
                  "sizeof (struct " #type "." #field ") != " #size)

/* struct rseq: the per-thread area (Linux 4.18 ABI + node_id/mm_cid, 6.3).  */
CHECK_FIELD (rseq, cpu_id_start, 0, 4);
CHECK_FIELD (rseq, cpu_id, 4, 4);
CHECK_FIELD (rseq, rseq_cs, 8, 8);
CHECK_FIELD (rseq, flags, 16, 4);
CHECK_FIELD (rseq, node_id, 20, 4);
CHECK_FIELD (rseq, mm_cid, 24, 4);
_Static_assert (sizeof (struct rseq) == 32, "sizeof (struct rseq) != 32");
_Static_assert (_Alignof (struct rseq) == 32, "_Alignof (struct rseq) != 32");

/* struct rseq_cs: the critical-section descriptor.  */
CHECK_FIELD (rseq_cs, version, 0, 4);
CHECK_FIELD (rseq_cs, flags, 4, 4);
CHECK_FIELD (rseq_cs, start_ip, 8, 8);
CHECK_FIELD (rseq_cs, post_commit_offset, 16, 8);
CHECK_FIELD (rseq_cs, abort_ip, 24, 8);
_Static_assert (sizeof (struct rseq_cs) == 32, "sizeof (struct rseq_cs) != 32");
_Static_assert (_Alignof (struct rseq_cs) == 32,
                "_Alignof (struct rseq_cs) != 32");

/* Enumerators of the kernel ABI.  */
_Static_assert (RSEQ_CPU_ID_UNINITIALIZED == -1, "RSEQ_CPU_ID_UNINITIALIZED");
_Static_assert (RSEQ_CPU_ID_REGISTRATION_FAILED == -2,
                "RSEQ_CPU_ID_REGISTRATION_FAILED");
_Static_assert (RSEQ_FLAG_UNREGISTER == 1, "RSEQ_FLAG_UNREGISTER");
_Static_assert (RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT == 1,
                "RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT");
_Static_assert (RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL == 2,
                "RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL");
_Static_assert (RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE == 4,
                "RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE");

/* The signature.  */
#ifndef RSEQ_SIG
# error "RSEQ_SIG is not defined for this architecture"
#endif
#ifndef EXPECTED_RSEQ_SIG
# error "run.sh passes -DEXPECTED_RSEQ_SIG=<value from its table>"
#endif
/* Compared as values, without truncation to 32 bits.  */
_Static_assert ((unsigned long long) (RSEQ_SIG)
                == (unsigned long long) (EXPECTED_RSEQ_SIG),
                "RSEQ_SIG differs from the expected value for this arch");

/* The symbols glibc exports from ld.so, with glibc's types.  */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;
extern const unsigned int __rseq_flags;

/* An area and a descriptor placed as a user would, to make sure the
   attribute works on objects too.  */
_Thread_local struct rseq layout_area;
const struct rseq_cs layout_cs = { 0, 0, 0, 0, 0 };
