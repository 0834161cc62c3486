//! x86-64: `syscall` with the number in rax and arguments in rdi, rsi, rdx,
//! r10, r8, r9; the thread pointer is the fs base, whose first word points to
//! itself (TLS variant II, required of every libc on this architecture).

use crate::Rseq;
use core::arch::asm;

/// `RSEQ_SIG`: `ud1 0x53053053(%rip),%edi` when preceded by `0f b9 3d`.
pub const RSEQ_SIG: u32 = 0x5305_3053;

/// Syscall numbers used by the component.
pub mod nr {
    /// read(2)
    pub const READ: usize = 0;
    /// write(2)
    pub const WRITE: usize = 1;
    /// close(2)
    pub const CLOSE: usize = 3;
    /// mmap(2)
    pub const MMAP: usize = 9;
    /// munmap(2)
    pub const MUNMAP: usize = 11;
    /// madvise(2)
    pub const MADVISE: usize = 28;
    /// rt_sigprocmask(2)
    pub const RT_SIGPROCMASK: usize = 14;
    /// sched_yield(2)
    pub const SCHED_YIELD: usize = 24;
    /// getpid(2)
    pub const GETPID: usize = 39;
    /// fork(2) (tests: a child without the libc's fork handlers)
    pub const FORK: usize = 57;
    /// exit(2) of one thread
    pub const EXIT: usize = 60;
    /// wait4(2)
    pub const WAIT4: usize = 61;
    /// kill(2)
    pub const KILL: usize = 62;
    /// gettid(2)
    pub const GETTID: usize = 186;
    /// futex(2)
    pub const FUTEX: usize = 202;
    /// sched_setaffinity(2)
    pub const SCHED_SETAFFINITY: usize = 203;
    /// sched_getaffinity(2)
    pub const SCHED_GETAFFINITY: usize = 204;
    /// exit_group(2)
    pub const EXIT_GROUP: usize = 231;
    /// tgkill(2)
    pub const TGKILL: usize = 234;
    /// openat(2)
    pub const OPENAT: usize = 257;
    /// getcpu(2)
    pub const GETCPU: usize = 309;
    /// membarrier(2)
    pub const MEMBARRIER: usize = 324;
    /// prctl(2)
    pub const PRCTL: usize = 157;
    /// rseq(2)
    pub const RSEQ: usize = 334;
    /// rseq_slice_yield(2) (Linux 7.0)
    pub const RSEQ_SLICE_YIELD: usize = 471;
}

/// `fork(2)` without the libc. Returns the child's pid in the parent, 0 in
/// the child, or a negated errno.
///
/// # Safety
/// As `fork` without the libc's handlers: the child has one thread, and
/// must use only async-signal-safe code (no lock another thread held).
pub unsafe fn fork_process() -> isize {
    // SAFETY: the caller accepts fork's contract.
    unsafe { syscall0(nr::FORK) }
}

/// Raw syscall with no argument; returns the result or a negated errno.
///
/// # Safety
/// The syscall must not break any invariant Rust or the host relies on
/// (e.g. unmapping live memory).
#[inline(always)]
pub unsafe fn syscall0(nr: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller upholds the syscall's own contract; `syscall`
    // clobbers only rcx and r11 besides rax.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with one argument. See [`syscall0`].
///
/// # Safety
/// As [`syscall0`]; pointer arguments must be valid for what the syscall does.
#[inline(always)]
pub unsafe fn syscall1(nr: usize, a1: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a1,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with two arguments. See [`syscall0`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(nr: usize, a1: usize, a2: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a1, in("rsi") a2,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with three arguments. See [`syscall0`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(nr: usize, a1: usize, a2: usize, a3: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with four arguments. See [`syscall0`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall4(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with five arguments. See [`syscall0`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall5(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4, in("r8") a5,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw syscall with six arguments. See [`syscall0`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4, in("r8") a5, in("r9") a6,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// The thread pointer (fs base). Every libc on x86-64 stores the thread
/// pointer's own value in its first word, so one load from fs:0 reads it.
///
/// Valid once the thread's TLS exists, which is before any code of this
/// component runs in every host (the standalone libc installs it first).
#[inline(always)]
pub fn thread_pointer() -> *mut u8 {
    let tp: *mut u8;
    // SAFETY: reads the TCB's self pointer, which every host sets up before
    // running any code of the component.
    unsafe {
        asm!("mov {tp}, qword ptr fs:[0]", tp = out(reg) tp,
             options(nostack, readonly, preserves_flags, pure));
    }
    tp
}

/// This thread's copy of the component's own rseq area (`__rseq_abi`,
/// [`super::AREA_CAPACITY`] bytes aligned [`super::AREA_ALIGN`]).
#[inline(always)]
pub fn own_area() -> *mut Rseq {
    let p: *mut Rseq;
    // SAFETY: initial-exec TLS access to a symbol defined below; the fs
    // segment is valid (see thread_pointer).
    unsafe {
        asm!("mov {p}, qword ptr [rip + rseq_libc_thread_area@GOTTPOFF]",
             "add {p}, qword ptr fs:[0]", p = out(reg) p,
             options(nostack, readonly, pure));
    }
    p
}

/// This thread's `__rseq_abi`, as the link resolved the symbol: the
/// component's own area unless the program (or a library linked before the
/// component) defines its own `__rseq_abi`, the legacy convention of
/// programs that register rseq themselves (tcmalloc, librseq before 2022).
#[inline(always)]
pub fn legacy_abi_area() -> *mut Rseq {
    let p: *mut Rseq;
    // SAFETY: as in own_area; `__rseq_abi` is always defined (weakly, by
    // the component, if nobody else does).
    unsafe {
        asm!("mov {p}, qword ptr [rip + __rseq_abi@GOTTPOFF]",
             "add {p}, qword ptr fs:[0]", p = out(reg) p,
             options(nostack, readonly, pure));
    }
    p
}

/// This thread's [`super::THREAD_STATE_SIZE`] bytes of bookkeeping, zero
/// when the thread starts, aligned 16.
#[inline(always)]
pub fn thread_state_block() -> *mut u8 {
    let p: *mut u8;
    // SAFETY: as in own_area.
    unsafe {
        asm!("mov {p}, qword ptr [rip + rseq_libc_thread_state@GOTTPOFF]",
             "add {p}, qword ptr fs:[0]", p = out(reg) p,
             options(nostack, readonly, pure));
    }
    p
}

/// Addresses of `__rseq_offset`, `__rseq_size` and `__rseq_flags` as this
/// link resolved them, and whether they are the component's own definitions
/// (no libc in the link defines them) rather than the libc's.
#[inline]
pub fn rseq_symbols() -> (*mut isize, *mut u32, *mut u32, bool) {
    let (off, size, flags, own): (*mut isize, *mut u32, *mut u32, *mut u8);
    // SAFETY: only computes addresses. The symbols are hidden (see below),
    // so rip-relative addressing is valid in executables and shared objects.
    unsafe {
        asm!("lea {off}, [rip + __rseq_offset]",
             "lea {size}, [rip + __rseq_size]",
             "lea {flags}, [rip + __rseq_flags]",
             "lea {own}, [rip + rseq_libc_own_rseq_symbols]",
             off = out(reg) off, size = out(reg) size, flags = out(reg) flags,
             own = out(reg) own, options(nostack, nomem, preserves_flags, pure));
    }
    (off, size, flags, own == off.cast())
}

/// Address of the C function `$sym` through a weak reference: 0 when the
/// link has no definition, else the definition the link chose (also in
/// position-independent executables: through the GOT). A weak reference
/// does not pull an archive member in.
#[macro_export]
macro_rules! weak_function_address {
    ($sym:literal) => {{
        let p: usize;
        // SAFETY: loads a GOT entry the linker filled (with 0 for an
        // undefined weak symbol); no memory is written.
        unsafe {
            ::core::arch::asm!(
                concat!(".weak ", $sym),
                concat!("mov {p}, qword ptr [rip + ", $sym, "@GOTPCREL]"),
                p = out(reg) p,
                options(nostack, readonly, pure, preserves_flags)
            );
        }
        p
    }};
}

// Tests common to every architecture: arch/tests.rs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_pointer_points_to_itself() {
        let tp = thread_pointer();
        // SAFETY: the TCB's first word is readable and holds tp.
        assert_eq!(unsafe { *(tp as *const *mut u8) }, tp);
    }
}
