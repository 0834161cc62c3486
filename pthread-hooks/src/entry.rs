//! The C entry points: `rseq_libc_pthread_create` and
//! `rseq_libc_thrd_create`. An executable gets them as its `pthread_create`
//! and `thrd_create` from `rseq-pthread-interpose`.

use crate::libc::{pthread_fns, C11Routine, StartRoutine};
use crate::start::{create_hooked, Routine};
use core::ffi::{c_int, c_void};
use rseq_registration::host::{host, HostRseq};

const ENOSYS: c_int = 38;
const EAGAIN: c_int = 11;
const ENOMEM: c_int = 12;
const THRD_SUCCESS: c_int = 0;
const THRD_ERROR: c_int = 2;
const THRD_NOMEM: c_int = 3;

/// `pthread_create` with the start and exit hooks. `ENOSYS` where the
/// libc's own `pthread_create` cannot be found.
///
/// # Safety
/// The arguments are those of `pthread_create(3)`.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_pthread_create(
    thread: *mut usize,
    attr: *const c_void,
    start: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    let Some(fns) = pthread_fns() else {
        return ENOSYS;
    };
    match start {
        // SAFETY: the caller's arguments and the libc's functions.
        Some(start) => unsafe { create_hooked(&fns, thread, attr, Routine::Posix(start), arg) },
        // The libc's answer to a null routine, whatever it is.
        // SAFETY: the caller's arguments, unchanged.
        None => unsafe { (fns.create)(thread, attr, None, arg) },
    }
}

/// `thrd_create` (C11) with the start and exit hooks: a POSIX thread with
/// default attributes whose result is the routine's `int`, as glibc and
/// musl make C11 threads (`thrd_join` and `thrd_exit` work unchanged).
///
/// # Safety
/// The arguments are those of `thrd_create(3)`.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_thrd_create(
    thread: *mut usize,
    start: Option<C11Routine>,
    arg: *mut c_void,
) -> c_int {
    let (Some(fns), Some(start)) = (pthread_fns(), start) else {
        return THRD_ERROR;
    };
    // SAFETY: the caller's arguments and the libc's functions.
    let r = unsafe { create_hooked(&fns, thread, core::ptr::null(), Routine::C11(start), arg) };
    // The libcs' own mappings: glibc reports EAGAIN as thrd_error, musl as
    // thrd_nomem.
    let glibc = !matches!(host().0, HostRseq::Unsupported);
    match r {
        0 => THRD_SUCCESS,
        ENOMEM => THRD_NOMEM,
        EAGAIN if !glibc => THRD_NOMEM,
        _ => THRD_ERROR,
    }
}
