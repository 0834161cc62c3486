//! `errno`, per thread: a word of the thread control block that
//! dl-early-tls reserves for the libc (tp + TCB_HOST_WORDS_OFFSET).

use core::ffi::c_int;
use rseq_abi::arch::thread_pointer;
use rseq_dl_early_tls::TCB_HOST_WORDS_OFFSET;

/// Offset from the thread pointer of errno.
pub const ERRNO_OFFSET: isize = TCB_HOST_WORDS_OFFSET;
/// Offset from the thread pointer of the thread descriptor pointer.
pub const SELF_OFFSET: isize = TCB_HOST_WORDS_OFFSET + 8;

/// The calling thread's errno (`#define errno (*__errno_location ())`).
#[no_mangle]
pub extern "C" fn __errno_location() -> *mut c_int {
    thread_pointer().wrapping_offset(ERRNO_OFFSET).cast()
}

/// Sets errno and returns -1, the libc convention.
pub fn fail(e: i32) -> c_int {
    // SAFETY: this thread's errno word.
    unsafe { *__errno_location() = e };
    -1
}

/// errno convention for a raw syscall result.
pub fn ret(r: isize) -> isize {
    match crate::sys::result(r) {
        Ok(v) => v as isize,
        Err(e) => fail(e) as isize,
    }
}
