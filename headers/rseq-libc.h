/* rseq-libc: the C API of the rseq component (librseq_libc.a).

   The component registers each thread's rseq area, or adopts the one the
   host libc registered (glibc >= 2.35 with rseq enabled); exactly one of the
   two owns a thread.  Every function may be called from constructors,
   destructors and signal handlers: a thread the component should own but
   that has not registered yet is registered first, with the application's
   signals blocked ("lazy registration"; the libc's internal signals, which
   setuid () and thread cancellation use, are never blocked).  A thread
   that the pthread hooks did not start is registered lazily only where
   that is safe (the main thread; any thread under glibc); elsewhere it
   has no area (RSEQ_LIBC_REASON_UNHOOKED) and everything falls back.
   An area that was unregistered behind rseq-libc's back (a raw
   rseq (RSEQ_FLAG_UNREGISTER): its cpu_id reads -1 and its mm_cid 0)
   counts as no area in every function here and in <rseq-percpu.h>: owner
   NONE, reason DISABLED, rseq_libc_area () NULL, feature size 0, the CPU
   and node from the fallbacks, mm_cid -ENOSYS, per-CPU operations on
   their fallback paths.
   Errors are negative errno values.  */

#ifndef RSEQ_LIBC_H
#define RSEQ_LIBC_H 1

#include <sys/rseq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rseq_libc_owner () */
#define RSEQ_LIBC_OWNER_NONE 0      /* no area: see rseq_libc_none_reason () */
#define RSEQ_LIBC_OWNER_LIBC 1      /* the libc registered it; adopted */
#define RSEQ_LIBC_OWNER_COMPONENT 2 /* rseq-libc registered it */

/* rseq_libc_none_reason () */
#define RSEQ_LIBC_REASON_REGISTERED 0  /* the thread has an area */
#define RSEQ_LIBC_REASON_UNAVAILABLE 1 /* ENOSYS: no kernel rseq, or seccomp */
#define RSEQ_LIBC_REASON_DISABLED 2    /* unregistered by the application (through
                                          rseq-libc, or a raw rseq system call) */
#define RSEQ_LIBC_REASON_FAILED 3      /* see rseq_libc_registration_error () */
#define RSEQ_LIBC_REASON_UNHOOKED 4    /* EOPNOTSUPP: a thread the pthread hooks did not
                                          start, on a host (musl, the standalone libc) that
                                          may free its memory before the kernel sees it exit */
#define RSEQ_LIBC_REASON_EXITING 5     /* ESRCH: the thread passed its exit step */
#define RSEQ_LIBC_REASON_APPLICATION 6 /* EBUSY: the program registers rseq itself
                                          (librseq, the kernel's selftests, its own
                                          __rseq_abi as tcmalloc): rseq-libc steps aside */

/* Registers the calling thread, or adopts the libc's registration.
   Idempotent: a registered thread returns 0 without a system call.
   Returns 0 or the kernel's negative errno (-ENOSYS: rseq unavailable;
   -EINVAL: other code registered another area for this thread), or
   -EOPNOTSUPP for a thread the pthread hooks did not start on a host that
   may free its memory before its exit (RSEQ_LIBC_REASON_UNHOOKED), or
   -ESRCH for a thread past its exit step.  An area unregistered behind
   rseq-libc's back is registered again if rseq-libc owns it; a libc's is
   not rseq-libc's to register: -EPERM, and the thread stays without an
   area.  */
int rseq_libc_register_current_thread (void);

/* Unregisters the calling thread's area if rseq-libc registered it, with
   the application's signals blocked.  Returns 0 (also when there is nothing to
   unregister, or the area was unregistered behind rseq-libc's back already),
   -EPERM when the libc owns the registration (it stays as it is), or the
   kernel's negative errno.  Afterwards the thread is
   not registered again lazily; rseq_libc_register_current_thread () does.  */
int rseq_libc_unregister_current_thread (void);

/* Who registered the calling thread: RSEQ_LIBC_OWNER_*.  */
int rseq_libc_owner (void);

/* Why the calling thread has no area: RSEQ_LIBC_REASON_*.  */
int rseq_libc_none_reason (void);

/* The negative errno of the calling thread's last failed registration,
   or 0.  */
int rseq_libc_registration_error (void);

/* The calling thread's registered area, or NULL (also for an area the
   kernel no longer has registered: cpu_id < 0).  */
struct rseq *rseq_libc_area (void);

/* The current CPU number, always correct: from the area when registered,
   else the vDSO's getcpu, else the getcpu syscall.  Negative errno only if
   the syscall itself fails.  */
int rseq_libc_current_cpu (void);

/* The current NUMA node (from the area when the feature size is >= 24),
   or a negative errno.  */
int rseq_libc_current_node (void);

/* The calling thread's concurrency id (mm_cid: dense, below the number of
   threads and of CPUs), or -ENOSYS without an area (an unregistered one,
   whose mm_cid reads 0, included) or with a feature size below 28.  */
int rseq_libc_current_mm_cid (void);

/* How much of the calling thread's area the kernel fills (28 on Linux 6.3+
   with mm_cid), or 0 when it has no area.  */
unsigned int rseq_libc_feature_size (void);

/* The kernel's rseq feature size (AT_RSEQ_FEATURE_SIZE, or 20 when the
   kernel does not report one).  */
unsigned int rseq_libc_kernel_feature_size (void);

/* The rseq time-slice extension (Linux 7.0 with CONFIG_RSEQ_SLICE_EXTENSION):
   a thread asks the kernel not to preempt it during a short critical
   section; an interrupt that would reschedule it returns to it instead, for
   at most debugfs:rseq/slice_ext_nsec (5 us by default).  rseq-libc enables
   it when it registers (or adopts) a thread's area where the kernel offers
   it: a V2 registration (length above 32 bytes), the kernel option on, not
   disabled with rseq_slice_ext=0.  Debian's kernels, kernels before 7.0 and
   32-byte registrations (glibc 2.35-2.40) do not offer it; the calls below
   then do nothing and return -EOPNOTSUPP, so a caller needs no other check.

     rseq_libc_slice_request ();
     ... critical section, no system call ...
     rseq_libc_slice_release ();

   Requests do not nest (release ends the request whoever armed it).  A
   system call inside the section other than rseq_slice_yield ends a
   granted extension.  All three are async-signal-safe; only a release after
   a grant makes a system call (and the first call of a thread that never
   registered, which registers it).  */

/* 1 when the time-slice extension is available and enabled for the calling
   thread's area, else 0.  */
int rseq_libc_slice_available (void);

/* Arms a time-slice extension request: 0, or -EOPNOTSUPP (nothing done)
   where the extension is not available.  */
int rseq_libc_slice_request (void);

/* Clears the request; if the kernel granted an extension meanwhile, yields
   the CPU with rseq_slice_yield (2).  Returns 1 when an extension had been
   granted (and the CPU was yielded), 0 when none was, -EOPNOTSUPP (nothing
   done) where the extension is not available.  */
int rseq_libc_slice_release (void);

/* rseq-libc also defines sched_getcpu (3) and getcpu (3), served from the
   area.  glibc declares both in <sched.h> (with _GNU_SOURCE); musl has no
   getcpu, so it is declared here for other libcs.  */
#ifndef __GLIBC__
int getcpu (unsigned int *cpu, unsigned int *node);
#endif

#ifdef __cplusplus
}
#endif

#endif /* rseq-libc.h */
