//! `<stdlib.h>`: exit and atexit, the environment, number parsing.

use crate::string::strncmp;
use crate::sys::nr;
use core::ffi::{c_char, c_int, c_long};
use core::sync::atomic::{AtomicUsize, Ordering};
use rseq_abi::arch::syscall1;

const ATEXIT_MAX: usize = 64;
static ATEXIT: [AtomicUsize; ATEXIT_MAX] = [const { AtomicUsize::new(0) }; ATEXIT_MAX];
static ATEXIT_COUNT: AtomicUsize = AtomicUsize::new(0);

/// atexit(3): up to 64 handlers, run in reverse order by `exit`.
#[no_mangle]
pub extern "C" fn atexit(f: Option<extern "C" fn()>) -> c_int {
    let Some(f) = f else { return -1 };
    let i = ATEXIT_COUNT.fetch_add(1, Ordering::AcqRel);
    match ATEXIT.get(i) {
        Some(slot) => {
            slot.store(f as usize, Ordering::Release);
            0
        }
        None => {
            ATEXIT_COUNT.fetch_sub(1, Ordering::AcqRel);
            -1
        }
    }
}

/// exit(3): atexit handlers (last registered first, each once, also when a
/// handler calls exit), then `.fini_array` in reverse, then exit_group.
/// Streams are unbuffered: nothing to flush.
#[no_mangle]
pub extern "C" fn exit(status: c_int) -> ! {
    loop {
        let n = ATEXIT_COUNT.load(Ordering::Acquire).min(ATEXIT_MAX);
        if n == 0 {
            break;
        }
        if ATEXIT_COUNT
            .compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        let f = ATEXIT[n - 1].swap(0, Ordering::AcqRel);
        if f != 0 {
            // SAFETY: stored by atexit from a function pointer.
            let f: extern "C" fn() = unsafe { core::mem::transmute(f) };
            f();
        }
    }
    rseq_csu_standalone::run_fini_array();
    _exit(status)
}

/// _exit(2): ends the process at once.
#[no_mangle]
pub extern "C" fn _exit(status: c_int) -> ! {
    rseq_dl_early_tls::arch::exit_group(status)
}

/// _Exit(3)
#[no_mangle]
pub extern "C" fn _Exit(status: c_int) -> ! {
    _exit(status)
}

/// abort(3): SIGABRT, and exit 134 if it is caught or ignored.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    crate::signal::raise(6);
    _exit(134)
}

/// getenv(3), over the environment the kernel passed.
///
/// # Safety
/// `name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn getenv(name: *const c_char) -> *mut c_char {
    let mut env = rseq_csu_standalone::environ();
    if env.is_null() || name.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: name per the C contract; env is the kernel's NULL-terminated
    // array of "NAME=value" strings.
    unsafe {
        let n = crate::string::strlen(name);
        while !(*env).is_null() {
            let e = *env;
            if strncmp(e, name, n) == 0 && *e.add(n) == b'=' as c_char {
                return e.add(n + 1);
            }
            env = env.add(1);
        }
    }
    core::ptr::null_mut()
}

/// strtol(3), bases 0 and 2..36.
///
/// # Safety
/// `s` is NUL-terminated; `end` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn strtol(s: *const c_char, end: *mut *mut c_char, base: c_int) -> c_long {
    // SAFETY: reads up to the first byte that is not part of the number.
    unsafe {
        let mut p = s as *const u8;
        while matches!(*p, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
            p = p.add(1);
        }
        let neg = *p == b'-';
        if *p == b'-' || *p == b'+' {
            p = p.add(1);
        }
        let mut base = base as u32;
        if (base == 0 || base == 16) && *p == b'0' && (*p.add(1) | 0x20) == b'x' {
            p = p.add(2);
            base = 16;
        } else if base == 0 && *p == b'0' {
            base = 8;
        } else if base == 0 {
            base = 10;
        }
        let mut v: i64 = 0;
        while let Some(d) = (*p as char).to_digit(base.clamp(2, 36)) {
            v = v.wrapping_mul(base as i64).wrapping_add(d as i64);
            p = p.add(1);
        }
        if !end.is_null() {
            *end = p as *mut c_char;
        }
        if neg {
            v.wrapping_neg()
        } else {
            v
        }
    }
}

/// atoi(3)
///
/// # Safety
/// `s` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn atoi(s: *const c_char) -> c_int {
    // SAFETY: forwarded.
    unsafe { strtol(s, core::ptr::null_mut(), 10) as c_int }
}

/// atol(3)
///
/// # Safety
/// `s` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn atol(s: *const c_char) -> c_long {
    // SAFETY: forwarded.
    unsafe { strtol(s, core::ptr::null_mut(), 10) }
}

/// The process's exit when the last thread leaves `pthread_exit`.
pub fn exit_thread(status: i32) -> ! {
    loop {
        // SAFETY: exit(2) of the calling thread only.
        unsafe { syscall1(nr::EXIT, status as usize) };
    }
}

/// The precompiled `core` refers to Rust's unwinding personality routine
/// from its unwind tables; with `panic = "abort"` nothing ever unwinds, so
/// the routine only has to exist. (glibc and musl hosts link an unwinder
/// that the component's own object never needs.)
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
