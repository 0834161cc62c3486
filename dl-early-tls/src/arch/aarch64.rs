//! aarch64: TLS variant I. The thread pointer (`tpidr_el0`) points at a
//! 16-byte thread control block (the dtv pointer and a reserved word in
//! glibc; zero here: a static executable has no dtv), and the executable's
//! TLS block starts at `tp + align_up(16, p_align)` (AAELF64, the offsets
//! the linker gives local-exec and initial-exec accesses). The libc's
//! words and the rseq area sit below the thread pointer, as glibc's thread
//! descriptor does.

use core::arch::asm;

/// Bytes of thread control block at the thread pointer: the psABI's gap
/// before the first TLS block.
pub const TCB_SIZE: usize = 16;
/// Offset from the thread pointer of the words reserved for the host libc
/// (errno, its thread descriptor): the 64 bytes just below it.
pub const TCB_HOST_WORDS_OFFSET: isize = -64;
/// Alignment of the thread pointer: the TCB's (16), at least.
pub const TCB_ALIGN: usize = 16;
/// Variant I with the 16-byte gap; no self pointer (`mrs tpidr_el0` reads
/// the thread pointer).
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

/// Installs `tp` as the calling thread's thread pointer. Returns 0 (writing
/// `tpidr_el0` cannot fail).
///
/// # Safety
/// `tp` must be a TCB laid out by this crate that outlives the thread's
/// use of it; every TLS access of the thread moves to it.
pub unsafe fn set_thread_pointer(tp: *mut u8) -> isize {
    // SAFETY: tpidr_el0 is this thread's own register, writable from EL0;
    // per the caller, tp is a TCB every later TLS access may use.
    unsafe { asm!("msr tpidr_el0, {tp}", tp = in(reg) tp, options(nostack, preserves_flags)) };
    0
}
