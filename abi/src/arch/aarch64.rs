//! aarch64: `svc #0` with the number in x8 and arguments in x0-x5, the
//! result in x0; the thread pointer is `tpidr_el0`, which points to the
//! TCB at the start of the static TLS (TLS variant I): the executable's
//! block follows at `tp + 16` and the linker resolves initial-exec offsets
//! relative to tp, so the accessors add a GOT offset to tp as on x86-64.

use crate::Rseq;
use core::arch::asm;

pub use super::asm_generic::{fork_process, nr};

/// `RSEQ_SIG`: `brk #0x45e0` (code is always little-endian on aarch64; this
/// little-endian data value is the word the kernel compares).
pub const RSEQ_SIG: u32 = 0xd428_bc00;

/// Raw syscall with no argument; returns the result or a negated errno.
///
/// # Safety
/// The syscall must not break any invariant Rust or the host relies on
/// (e.g. unmapping live memory).
#[inline(always)]
pub unsafe fn syscall0(nr: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller upholds the syscall's own contract; `svc` clobbers
    // nothing but x0 (the result).
    unsafe { asm!("svc #0", in("x8") nr, lateout("x0") ret, options(nostack)) };
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
    unsafe { asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, options(nostack)) };
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
        asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, in("x1") a2,
             options(nostack));
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
        asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, in("x1") a2,
             in("x2") a3, options(nostack));
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
        asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, in("x1") a2,
             in("x2") a3, in("x3") a4, options(nostack));
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
        asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, in("x1") a2,
             in("x2") a3, in("x3") a4, in("x4") a5, options(nostack));
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
        asm!("svc #0", in("x8") nr, inlateout("x0") a1 as isize => ret, in("x1") a2,
             in("x2") a3, in("x3") a4, in("x4") a5, in("x5") a6, options(nostack));
    }
    ret
}

/// The thread pointer (`tpidr_el0`).
///
/// Valid once the thread's TLS exists, which is before any code of this
/// component runs in every host.
#[inline(always)]
pub fn thread_pointer() -> *mut u8 {
    let tp: *mut u8;
    // SAFETY: reads a register user space may always read.
    unsafe {
        asm!("mrs {tp}, tpidr_el0", tp = out(reg) tp,
             options(nostack, nomem, preserves_flags, pure));
    }
    tp
}

/// Initial-exec address of the TLS symbol `$sym` in this thread: its
/// tp-relative offset from the GOT, plus tp.
macro_rules! initial_exec_address {
    ($sym:literal) => {{
        let p: usize;
        // SAFETY: initial-exec TLS access to a symbol every link defines
        // (abi/src/arch/mod.rs); tp is valid (see thread_pointer).
        unsafe {
            asm!(concat!("adrp {p}, :gottprel:", $sym),
                 concat!("ldr {p}, [{p}, #:gottprel_lo12:", $sym, "]"),
                 "mrs {tp}, tpidr_el0",
                 "add {p}, {p}, {tp}",
                 p = out(reg) p, tp = out(reg) _,
                 options(nostack, readonly, pure, preserves_flags));
        }
        p
    }};
}

/// This thread's copy of the component's own rseq area (`__rseq_abi`,
/// [`super::AREA_CAPACITY`] bytes aligned [`super::AREA_ALIGN`]).
#[inline(always)]
pub fn own_area() -> *mut Rseq {
    initial_exec_address!("rseq_libc_thread_area") as *mut Rseq
}

/// This thread's `__rseq_abi`, as the link resolved the symbol: the
/// component's own area unless the program (or a library linked before the
/// component) defines its own `__rseq_abi`.
#[inline(always)]
pub fn legacy_abi_area() -> *mut Rseq {
    initial_exec_address!("__rseq_abi") as *mut Rseq
}

/// This thread's [`super::THREAD_STATE_SIZE`] bytes of bookkeeping, zero
/// when the thread starts, aligned 16.
#[inline(always)]
pub fn thread_state_block() -> *mut u8 {
    initial_exec_address!("rseq_libc_thread_state") as *mut u8
}

/// Addresses of `__rseq_offset`, `__rseq_size` and `__rseq_flags` as this
/// link resolved them, and whether they are the component's own definitions
/// (no libc in the link defines them) rather than the libc's.
#[inline]
pub fn rseq_symbols() -> (*mut isize, *mut u32, *mut u32, bool) {
    let (off, size, flags, own): (*mut isize, *mut u32, *mut u32, *mut u8);
    // SAFETY: only computes addresses. The symbols are hidden, so
    // pc-relative addressing is valid in executables and shared objects.
    unsafe {
        asm!("adrp {off}, __rseq_offset",
             "add {off}, {off}, :lo12:__rseq_offset",
             "adrp {size}, __rseq_size",
             "add {size}, {size}, :lo12:__rseq_size",
             "adrp {flags}, __rseq_flags",
             "add {flags}, {flags}, :lo12:__rseq_flags",
             "adrp {own}, rseq_libc_own_rseq_symbols",
             "add {own}, {own}, :lo12:rseq_libc_own_rseq_symbols",
             off = out(reg) off, size = out(reg) size, flags = out(reg) flags,
             own = out(reg) own, options(nostack, nomem, preserves_flags, pure));
    }
    (off, size, flags, own == off.cast())
}

/// Address of the C function `$sym` through a weak reference: 0 when the
/// link has no definition, else the definition the link chose (through the
/// GOT, which the linker fills with 0 for an undefined weak symbol). A weak
/// reference does not pull an archive member in.
#[macro_export]
macro_rules! weak_function_address {
    ($sym:literal) => {{
        let p: usize;
        // SAFETY: loads a GOT entry the linker filled; no memory is written.
        unsafe {
            ::core::arch::asm!(
                concat!(".weak ", $sym),
                concat!("adrp {p}, :got:", $sym),
                concat!("ldr {p}, [{p}, #:got_lo12:", $sym, "]"),
                p = out(reg) p,
                options(nostack, readonly, pure, preserves_flags)
            );
        }
        p
    }};
}
