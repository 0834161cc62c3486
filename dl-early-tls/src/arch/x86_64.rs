//! x86-64: TLS variant II. The TLS blocks sit below the thread pointer (the
//! fs base); the thread control block starts at it, and its first word
//! points to itself, as the psABI requires (`mov %fs:0, %reg` reads the
//! thread pointer). Words of the TCB that compilers read by fixed offset:
//! 0 (self), 2 (`self` again, as glibc), 5 (`%fs:0x28`, stack protector
//! guard) and 6 (`%fs:0x30`, pointer guard).

use rseq_abi::arch::syscall2;

/// Bytes of thread control block at the thread pointer. The first
/// [`TCB_HOST_WORDS_OFFSET`] bytes follow the ABI; the rest belong to the
/// host libc (its errno, its thread descriptor).
pub const TCB_SIZE: usize = 128;
/// Offset from the thread pointer of the words reserved for the host libc.
pub const TCB_HOST_WORDS_OFFSET: isize = 64;
/// Alignment of the thread pointer (and of the TCB): a cache line.
pub const TCB_ALIGN: usize = 64;
/// Variant II; words 0 and 2 of the TCB point to it.
pub const TLS_ABI: crate::TlsAbi = crate::TlsAbi {
    variant_one: false,
    tcb_size: TCB_SIZE,
    tcb_align: TCB_ALIGN,
    host_words: 64,
    self_words: 0b101,
};

/// Syscall numbers dl-early-tls and its hosts use beyond rseq-abi's.
pub mod nr {
    /// mmap(2) and munmap(2), rseq-abi's (the same items under both names).
    pub use rseq_abi::arch::nr::{MMAP, MUNMAP};
    /// arch_prctl(2)
    pub const ARCH_PRCTL: usize = 158;
}

const ARCH_SET_FS: usize = 0x1002;

/// Installs `tp` as the calling thread's thread pointer. Returns 0 or a
/// negated errno.
///
/// # Safety
/// `tp` must be a TCB laid out by this crate that outlives the thread's
/// use of it; every TLS access of the thread moves to it.
pub unsafe fn set_thread_pointer(tp: *mut u8) -> isize {
    // SAFETY: arch_prctl(ARCH_SET_FS) only changes this thread's fs base.
    unsafe { syscall2(nr::ARCH_PRCTL, ARCH_SET_FS, tp as usize) }
}
