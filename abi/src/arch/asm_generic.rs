//! Syscall numbers of the kernel's generic table
//! (`include/uapi/asm-generic/unistd.h`), which aarch64 and riscv64 use.
//! It has no `fork`: [`super::fork_process`] is `clone(SIGCHLD)` there.

/// Syscall numbers used by the component.
pub mod nr {
    /// read(2)
    pub const READ: usize = 63;
    /// write(2)
    pub const WRITE: usize = 64;
    /// close(2)
    pub const CLOSE: usize = 57;
    /// mmap(2)
    pub const MMAP: usize = 222;
    /// munmap(2)
    pub const MUNMAP: usize = 215;
    /// madvise(2)
    pub const MADVISE: usize = 233;
    /// rt_sigprocmask(2)
    pub const RT_SIGPROCMASK: usize = 135;
    /// sched_yield(2)
    pub const SCHED_YIELD: usize = 124;
    /// getpid(2)
    pub const GETPID: usize = 172;
    /// clone(2): `fork` of this table (see [`super::super::fork_process`])
    pub const CLONE: usize = 220;
    /// exit(2) of one thread
    pub const EXIT: usize = 93;
    /// wait4(2)
    pub const WAIT4: usize = 260;
    /// kill(2)
    pub const KILL: usize = 129;
    /// gettid(2)
    pub const GETTID: usize = 178;
    /// futex(2)
    pub const FUTEX: usize = 98;
    /// sched_setaffinity(2)
    pub const SCHED_SETAFFINITY: usize = 122;
    /// sched_getaffinity(2)
    pub const SCHED_GETAFFINITY: usize = 123;
    /// exit_group(2)
    pub const EXIT_GROUP: usize = 94;
    /// tgkill(2)
    pub const TGKILL: usize = 131;
    /// openat(2)
    pub const OPENAT: usize = 56;
    /// getcpu(2)
    pub const GETCPU: usize = 168;
    /// membarrier(2)
    pub const MEMBARRIER: usize = 283;
    /// prctl(2)
    pub const PRCTL: usize = 167;
    /// rseq(2)
    pub const RSEQ: usize = 293;
    /// rseq_slice_yield(2) (Linux 7.0; numbers are shared by every
    /// architecture from 424 on)
    pub const RSEQ_SLICE_YIELD: usize = 471;
}

/// `SIGCHLD`, the exit signal `clone` is given to behave as `fork`.
const SIGCHLD: usize = 17;

/// `fork(2)` without the libc: `clone(SIGCHLD, 0, ...)`. Returns the
/// child's pid in the parent, 0 in the child, or a negated errno.
///
/// # Safety
/// As `fork` without the libc's handlers: the child has one thread, and
/// must use only async-signal-safe code (no lock another thread held).
pub unsafe fn fork_process() -> isize {
    // SAFETY: the caller accepts fork's contract; no stack or TLS is
    // given, so the child continues on a copy of this stack like fork.
    unsafe { super::syscall5(nr::CLONE, SIGCHLD, 0, 0, 0, 0) }
}
