//! riscv64: TLS variant I with no gap: the thread pointer (`tp`, x4)
//! points at the end of the thread control block, where the executable's
//! TLS block starts (the RISC-V ELF psABI; local-exec offsets are
//! `%tprel` from tp, `TLS_TCB_SIZE` 0 in glibc, whose TCB and thread
//! descriptor sit below tp). The libc's words and the rseq area sit below
//! the thread pointer too.

use core::arch::asm;

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
