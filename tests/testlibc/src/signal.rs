//! `<signal.h>` with glibc's x86-64 types: `sigset_t` is 1024 bits (the
//! kernel uses the first 64), `struct sigaction` is glibc's layout and is
//! translated to the kernel's, with this library's restorer.

use crate::arch::{rseq_testlibc_restore_rt, SA_RESTORER};
use crate::errno::{fail, ret};
use crate::sys::{e, nr};
use core::ffi::{c_int, c_ulong};
use rseq_abi::arch::{syscall0, syscall2, syscall3, syscall4};

/// glibc's `sigset_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sigset_t {
    val: [c_ulong; 16],
}

/// glibc's `struct sigaction` (x86-64): 152 bytes.
#[repr(C)]
pub struct Sigaction {
    handler: usize,
    mask: sigset_t,
    flags: c_int,
    restorer: usize,
}

const _: () = assert!(core::mem::size_of::<Sigaction>() == 152);
const _: () = assert!(core::mem::offset_of!(Sigaction, flags) == 136);

/// The kernel's `struct sigaction` for rt_sigaction on x86-64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

const NSIG: c_int = 65;
const SA_RESTART: c_int = 0x1000_0000;
const SIG_ERR: usize = usize::MAX;

/// sigaction(2)
///
/// # Safety
/// `act` and `old` are null or valid.
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const Sigaction,
    old: *mut Sigaction,
) -> c_int {
    if !(1..NSIG).contains(&sig) {
        return fail(e::EINVAL);
    }
    let mut kact = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    if !act.is_null() {
        // SAFETY: per the caller.
        let a = unsafe { &*act };
        kact = KernelSigaction {
            handler: a.handler,
            flags: a.flags as u32 as u64 | SA_RESTORER,
            restorer: rseq_testlibc_restore_rt as *const () as usize,
            mask: a.mask.val[0],
        };
    }
    let mut kold = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: valid kernel structures; 8 is the kernel's sigset size.
    let r = unsafe {
        syscall4(
            nr::RT_SIGACTION,
            sig as usize,
            if act.is_null() {
                0
            } else {
                &kact as *const _ as usize
            },
            &mut kold as *mut _ as usize,
            8,
        )
    };
    if ret(r) < 0 {
        return -1;
    }
    if !old.is_null() {
        let mut mask = sigset_t { val: [0; 16] };
        mask.val[0] = kold.mask;
        // SAFETY: per the caller.
        unsafe {
            *old = Sigaction {
                handler: kold.handler,
                mask,
                flags: kold.flags as c_int,
                restorer: kold.restorer,
            }
        };
    }
    0
}

/// signal(2), BSD semantics (SA_RESTART), as glibc.
#[no_mangle]
pub extern "C" fn signal(sig: c_int, handler: usize) -> usize {
    let act = Sigaction {
        handler,
        mask: sigset_t { val: [0; 16] },
        flags: SA_RESTART,
        restorer: 0,
    };
    let mut old = Sigaction {
        handler: 0,
        mask: sigset_t { val: [0; 16] },
        flags: 0,
        restorer: 0,
    };
    // SAFETY: valid structures.
    if unsafe { sigaction(sig, &act, &mut old) } != 0 {
        return SIG_ERR;
    }
    old.handler
}

/// kill(2)
#[no_mangle]
pub extern "C" fn kill(pid: c_int, sig: c_int) -> c_int {
    // SAFETY: sends a signal; no memory.
    ret(unsafe { syscall2(nr::KILL, pid as usize, sig as usize) }) as c_int
}

/// raise(3): to the calling thread, delivered before it returns when not
/// blocked.
#[no_mangle]
pub extern "C" fn raise(sig: c_int) -> c_int {
    // SAFETY: no preconditions; tgkill sends a signal.
    unsafe {
        let pid = syscall0(nr::GETPID) as usize;
        let tid = syscall0(nr::GETTID) as usize;
        ret(syscall3(nr::TGKILL, pid, tid, sig as usize)) as c_int
    }
}

/// rt_sigprocmask with glibc's sigset_t; returns 0 or an errno value.
///
/// # Safety
/// `set` and `old` are null or valid.
unsafe fn procmask(how: c_int, set: *const sigset_t, old: *mut sigset_t) -> c_int {
    let mut kold = 0u64;
    // SAFETY: 8-byte kernel sets, per the caller for `set`.
    let r = unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            how as usize,
            if set.is_null() { 0 } else { set as usize },
            &mut kold as *mut u64 as usize,
            8,
        )
    };
    if r < 0 {
        return -r as c_int;
    }
    if !old.is_null() {
        let mut s = sigset_t { val: [0; 16] };
        s.val[0] = kold;
        // SAFETY: per the caller.
        unsafe { *old = s };
    }
    0
}

/// sigprocmask(2)
///
/// # Safety
/// `set` and `old` are null or valid.
#[no_mangle]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const sigset_t,
    old: *mut sigset_t,
) -> c_int {
    // SAFETY: forwarded.
    match unsafe { procmask(how, set, old) } {
        0 => 0,
        err => fail(err),
    }
}

/// pthread_sigmask(3): returns the errno value.
///
/// # Safety
/// `set` and `old` are null or valid.
#[no_mangle]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const sigset_t,
    old: *mut sigset_t,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { procmask(how, set, old) }
}

/// sigemptyset(3)
///
/// # Safety
/// `s` is valid.
#[no_mangle]
pub unsafe extern "C" fn sigemptyset(s: *mut sigset_t) -> c_int {
    // SAFETY: per the caller.
    unsafe { (*s).val = [0; 16] };
    0
}

/// sigfillset(3)
///
/// # Safety
/// `s` is valid.
#[no_mangle]
pub unsafe extern "C" fn sigfillset(s: *mut sigset_t) -> c_int {
    // SAFETY: per the caller.
    unsafe { (*s).val = [!0; 16] };
    0
}

fn bit(sig: c_int) -> Option<(usize, c_ulong)> {
    (1..NSIG)
        .contains(&sig)
        .then(|| (((sig - 1) / 64) as usize, 1 << ((sig - 1) % 64)))
}

/// sigaddset(3)
///
/// # Safety
/// `s` is valid.
#[no_mangle]
pub unsafe extern "C" fn sigaddset(s: *mut sigset_t, sig: c_int) -> c_int {
    let Some((w, b)) = bit(sig) else {
        return fail(e::EINVAL);
    };
    // SAFETY: per the caller; w < 16.
    unsafe { (*s).val[w] |= b };
    0
}

/// sigdelset(3)
///
/// # Safety
/// `s` is valid.
#[no_mangle]
pub unsafe extern "C" fn sigdelset(s: *mut sigset_t, sig: c_int) -> c_int {
    let Some((w, b)) = bit(sig) else {
        return fail(e::EINVAL);
    };
    // SAFETY: per the caller; w < 16.
    unsafe { (*s).val[w] &= !b };
    0
}

/// sigismember(3)
///
/// # Safety
/// `s` is valid.
#[no_mangle]
pub unsafe extern "C" fn sigismember(s: *const sigset_t, sig: c_int) -> c_int {
    let Some((w, b)) = bit(sig) else {
        return fail(e::EINVAL);
    };
    // SAFETY: per the caller; w < 16.
    unsafe { ((*s).val[w] & b != 0) as c_int }
}
