//! riscv64: TLS variant I with no gap: the thread pointer (`tp`, x4)
//! points at the end of the thread control block, where the executable's
//! TLS block starts (the RISC-V ELF psABI; local-exec offsets are
//! `%tprel` from tp, `TLS_TCB_SIZE` 0 in glibc, whose TCB and thread
//! descriptor sit below tp). The libc's words and the rseq area sit below
//! the thread pointer too.

use core::arch::asm;
use rseq_abi::arch::syscall1;

/// Bytes of thread control block at (above) the thread pointer: none.
pub const TCB_SIZE: usize = 0;
/// Offset from the thread pointer of the words reserved for the host libc
/// (errno, its thread descriptor): the 64 bytes just below it.
pub const TCB_HOST_WORDS_OFFSET: isize = -64;
/// Alignment of the thread pointer: the stack's (16), at least.
pub const TCB_ALIGN: usize = 16;
/// Variant I without a gap; no self pointer (`mv a0, tp` reads it).
pub const TLS_ABI: crate::TlsAbi = crate::TlsAbi {
    variant_one: true,
    tcb_size: TCB_SIZE,
    tcb_align: TCB_ALIGN,
    host_words: 64,
    self_words: 0,
};

/// Syscall numbers dl-early-tls and its hosts use beyond rseq-abi's.
pub mod nr {
    /// mmap(2) and munmap(2), rseq-abi's (the generic table).
    pub use rseq_abi::arch::nr::{MMAP, MUNMAP};
}

/// Installs `tp` as the calling thread's thread pointer. Returns 0 (moving
/// a value into `tp` cannot fail).
///
/// # Safety
/// `tp` must be a TCB laid out by this crate that outlives the thread's
/// use of it; every TLS access of the thread moves to it.
pub unsafe fn set_thread_pointer(tp: *mut u8) -> isize {
    // SAFETY: tp (x4) is this thread's own register; per the caller, the
    // value is a TCB every later TLS access may use. The compiler never
    // allocates tp, so changing it breaks no compiler assumption.
    unsafe { asm!("mv tp, {tp}", tp = in(reg) tp, options(nostack, preserves_flags)) };
    0
}

/// Raw syscall with six arguments; returns the result or a negated errno.
///
/// # Safety
/// As `rseq_abi::arch::syscall1`: the syscall's own contract.
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
    // SAFETY: the caller upholds the syscall's contract; `ecall` changes
    // a0 only.
    unsafe {
        asm!("ecall", in("a7") nr, inlateout("a0") a1 as isize => ret,
             in("a1") a2, in("a2") a3, in("a3") a4, in("a4") a5, in("a5") a6, options(nostack));
    }
    ret
}

/// Ends the whole process with `status`, without running anything.
pub fn exit_group(status: i32) -> ! {
    loop {
        // SAFETY: exit_group has no preconditions and does not return.
        unsafe { syscall1(rseq_abi::arch::nr::EXIT_GROUP, status as usize) };
    }
}
