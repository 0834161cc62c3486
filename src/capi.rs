//! The C API (`headers/rseq-libc.h`), and the C library's `sched_getcpu` and
//! `getcpu`. Every function returns an error as a negative errno, except
//! `sched_getcpu`/`getcpu`, which keep their libc contract (-1 and errno).

use core::ffi::{c_int, c_uint};
use core::ptr;
use rseq_abi::Rseq;
use rseq_registration::{Owner, Reason};

/// `rseq_libc_register_current_thread`: 0, or a negative errno from the kernel.
#[no_mangle]
pub extern "C" fn rseq_libc_register_current_thread() -> c_int {
    match rseq_registration::register_current_thread() {
        Ok(_) => 0,
        Err(e) => -e,
    }
}

/// `rseq_libc_unregister_current_thread`: 0, `-EPERM` for an area the libc
/// registered, or a negative errno from the kernel.
#[no_mangle]
pub extern "C" fn rseq_libc_unregister_current_thread() -> c_int {
    match rseq_registration::unregister_current_thread() {
        Ok(()) => 0,
        Err(e) => -e,
    }
}

/// `rseq_libc_owner`: `RSEQ_LIBC_OWNER_{NONE,LIBC,COMPONENT}`.
#[no_mangle]
pub extern "C" fn rseq_libc_owner() -> c_int {
    match rseq_registration::owner() {
        Owner::None => 0,
        Owner::Libc => 1,
        Owner::Component => 2,
    }
}

/// `rseq_libc_none_reason`: `RSEQ_LIBC_REASON_*`.
#[no_mangle]
pub extern "C" fn rseq_libc_none_reason() -> c_int {
    match rseq_registration::reason() {
        Reason::Registered => 0,
        Reason::Unavailable => 1,
        Reason::Disabled => 2,
        Reason::Failed => 3,
        Reason::Unhooked => 4,
        Reason::Exiting => 5,
        Reason::Application => 6,
    }
}

/// `rseq_libc_registration_error`: negative errno of the last failed
/// registration of this thread, or 0.
#[no_mangle]
pub extern "C" fn rseq_libc_registration_error() -> c_int {
    rseq_registration::registration_error()
}

/// `rseq_libc_area`: the calling thread's registered area, or NULL.
#[no_mangle]
pub extern "C" fn rseq_libc_area() -> *mut Rseq {
    rseq_registration::current_area().map_or(ptr::null_mut(), |a| a.as_ptr())
}

/// `rseq_libc_current_cpu`: the current CPU, or a negative errno if even
/// the `getcpu` syscall fails.
#[no_mangle]
pub extern "C" fn rseq_libc_current_cpu() -> c_int {
    match rseq_sched_getcpu::current_cpu() {
        Ok(c) => c as c_int,
        Err(e) => -e,
    }
}

/// `rseq_libc_current_node`: the current NUMA node, or a negative errno.
#[no_mangle]
pub extern "C" fn rseq_libc_current_node() -> c_int {
    match rseq_sched_getcpu::getcpu() {
        Ok((_, n, _)) => n as c_int,
        Err(e) => -e,
    }
}

/// `rseq_libc_current_mm_cid`: the concurrency id, or `-ENOSYS` without a
/// registered area or with a feature size below 28.
#[no_mangle]
pub extern "C" fn rseq_libc_current_mm_cid() -> c_int {
    match rseq_sched_getcpu::current_mm_cid() {
        Ok(c) => c as c_int,
        Err(e) => -e,
    }
}

/// `rseq_libc_feature_size`: how much of the area the kernel fills (0 when
/// the thread has no area).
#[no_mangle]
pub extern "C" fn rseq_libc_feature_size() -> c_uint {
    rseq_registration::feature_size()
}

/// `rseq_libc_kernel_feature_size`: the kernel's feature size (20 when the
/// kernel does not report one).
#[no_mangle]
pub extern "C" fn rseq_libc_kernel_feature_size() -> c_uint {
    rseq_registration::kernel().feature_size
}

/// `rseq_libc_slice_available`: 1 when the time-slice extension is
/// available and enabled for the calling thread's area, else 0.
#[no_mangle]
pub extern "C" fn rseq_libc_slice_available() -> c_int {
    rseq_registration::slice::available() as c_int
}

/// `rseq_libc_slice_request`: 0 when the request is armed, `-EOPNOTSUPP`
/// (nothing done) where the extension is not available.
#[no_mangle]
pub extern "C" fn rseq_libc_slice_request() -> c_int {
    if rseq_registration::slice::request() {
        0
    } else {
        -rseq_abi::errno::EOPNOTSUPP
    }
}

/// `rseq_libc_slice_release`: 1 when an extension had been granted and the
/// CPU was yielded, 0 when the request was cleared without a grant,
/// `-EOPNOTSUPP` (nothing done) where the extension is not available.
#[no_mangle]
pub extern "C" fn rseq_libc_slice_release() -> c_int {
    match rseq_registration::slice::try_release() {
        Ok(granted) => granted as c_int,
        Err(e) => -e,
    }
}

extern "C" {
    /// Every libc this links with (glibc, musl, the test libc) has it.
    fn __errno_location() -> *mut c_int;
}

fn fail_with_errno(e: i32) -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno.
    unsafe { *__errno_location() = e };
    -1
}

/// `sched_getcpu(3)`: the current CPU, or -1 with errno set.
#[no_mangle]
pub extern "C" fn sched_getcpu() -> c_int {
    match rseq_sched_getcpu::current_cpu() {
        Ok(c) => c as c_int,
        Err(e) => fail_with_errno(e),
    }
}

/// `getcpu(2)`'s libc wrapper: writes the CPU and node through the non-null
/// pointers; 0, or -1 with errno set.
///
/// # Safety
/// Each pointer is null or valid for writing an `unsigned int`.
#[no_mangle]
pub unsafe extern "C" fn getcpu(cpu: *mut c_uint, node: *mut c_uint) -> c_int {
    let r = if node.is_null() {
        rseq_sched_getcpu::current_cpu().map(|c| (c, 0))
    } else {
        rseq_sched_getcpu::getcpu().map(|(c, n, _)| (c, n))
    };
    match r {
        Ok((c, n)) => {
            // SAFETY: the caller passes null or valid pointers.
            unsafe {
                if !cpu.is_null() {
                    *cpu = c;
                }
                if !node.is_null() {
                    *node = n;
                }
            }
            0
        }
        Err(e) => fail_with_errno(e),
    }
}
