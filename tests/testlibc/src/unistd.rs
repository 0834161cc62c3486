//! `<unistd.h>`, `<sched.h>`, `<time.h>`: thin syscall wrappers.

use crate::errno::ret;
use crate::sys::nr;
use core::ffi::{c_int, c_long, c_uint, c_void};
use rseq_abi::arch::{syscall0, syscall2, syscall3};
use rseq_dl_early_tls::arch::syscall6;

/// syscall(2): up to six arguments; -1 and errno on error.
///
/// # Safety
/// The syscall's own contract.
#[no_mangle]
pub unsafe extern "C" fn syscall(
    n: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    // SAFETY: per the caller.
    let r = unsafe {
        syscall6(
            n as usize,
            a1 as usize,
            a2 as usize,
            a3 as usize,
            a4 as usize,
            a5 as usize,
            a6 as usize,
        )
    };
    ret(r) as c_long
}

/// write(2)
///
/// # Safety
/// `buf` holds `n` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: usize) -> isize {
    // SAFETY: per the caller.
    ret(unsafe { syscall3(nr::WRITE, fd as usize, buf as usize, n) })
}

/// read(2)
///
/// # Safety
/// `buf` holds `n` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    // SAFETY: per the caller.
    ret(unsafe { syscall3(nr::READ, fd as usize, buf as usize, n) })
}

/// close(2)
#[no_mangle]
pub extern "C" fn close(fd: c_int) -> c_int {
    // SAFETY: closing a descriptor touches no memory.
    ret(unsafe { rseq_abi::arch::syscall1(nr::CLOSE, fd as usize) }) as c_int
}

/// mq_notify(3): this libc has no message queues. Defined because the
/// component's executable entry points (`rseq-pthread-interpose`) refer to
/// it, to pull a static glibc's thread creation into the link.
#[no_mangle]
pub extern "C" fn mq_notify(_mqdes: c_int, _notification: *const core::ffi::c_void) -> c_int {
    crate::errno::fail(38) // ENOSYS
}

/// getpid(2)
#[no_mangle]
pub extern "C" fn getpid() -> c_int {
    // SAFETY: no preconditions.
    unsafe { syscall0(nr::GETPID) as c_int }
}

/// gettid(2)
#[no_mangle]
pub extern "C" fn gettid() -> c_int {
    // SAFETY: no preconditions.
    unsafe { syscall0(nr::GETTID) as c_int }
}

/// sched_yield(2)
#[no_mangle]
pub extern "C" fn sched_yield() -> c_int {
    // SAFETY: no preconditions.
    ret(unsafe { syscall0(nr::SCHED_YIELD) }) as c_int
}

/// sched_setaffinity(2)
///
/// # Safety
/// `mask` holds `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn sched_setaffinity(pid: c_int, size: usize, mask: *const c_void) -> c_int {
    // SAFETY: per the caller.
    ret(unsafe { syscall3(nr::SCHED_SETAFFINITY, pid as usize, size, mask as usize) }) as c_int
}

/// sched_getaffinity(2), glibc's wrapper: 0 on success.
///
/// # Safety
/// `mask` holds `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn sched_getaffinity(pid: c_int, size: usize, mask: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    let r = ret(unsafe { syscall3(nr::SCHED_GETAFFINITY, pid as usize, size, mask as usize) });
    if r < 0 {
        return -1;
    }
    // The kernel wrote r bytes; glibc clears the rest.
    if (r as usize) < size {
        // SAFETY: within the caller's buffer.
        unsafe {
            crate::string::memset(
                mask.cast::<u8>().add(r as usize).cast(),
                0,
                size - r as usize,
            )
        };
    }
    0
}

/// `struct timespec`
#[repr(C)]
pub struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// nanosleep(2)
///
/// # Safety
/// `req` is valid; `rem` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const Timespec, rem: *mut Timespec) -> c_int {
    // SAFETY: per the caller.
    ret(unsafe { syscall2(nr::NANOSLEEP, req as usize, rem as usize) }) as c_int
}

/// usleep(3)
#[no_mangle]
pub extern "C" fn usleep(us: c_uint) -> c_int {
    let t = Timespec {
        tv_sec: (us / 1_000_000) as i64,
        tv_nsec: (us % 1_000_000) as i64 * 1000,
    };
    // SAFETY: a valid timespec.
    unsafe { nanosleep(&t, core::ptr::null_mut()) }
}

/// sleep(3): 0, or the seconds left when interrupted (rounded up).
#[no_mangle]
pub extern "C" fn sleep(s: c_uint) -> c_uint {
    let t = Timespec {
        tv_sec: s as i64,
        tv_nsec: 0,
    };
    let mut rem = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespecs.
    if unsafe { nanosleep(&t, &mut rem) } == 0 {
        0
    } else {
        (rem.tv_sec + (rem.tv_nsec > 0) as i64) as c_uint
    }
}

/// mmap(2); `MAP_FAILED` (-1) and errno on error.
///
/// # Safety
/// The syscall's own contract (a fixed mapping replaces what was there).
#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: c_long,
) -> *mut c_void {
    // SAFETY: per the caller.
    let r = unsafe {
        syscall6(
            nr::MMAP,
            addr as usize,
            len,
            prot as usize,
            flags as usize,
            fd as isize as usize,
            offset as usize,
        )
    };
    ret(r) as *mut c_void
}

/// munmap(2)
///
/// # Safety
/// Nothing may use the range any more.
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    // SAFETY: per the caller.
    ret(unsafe { syscall2(nr::MUNMAP, addr as usize, len) }) as c_int
}

/// clock_gettime(2), through the syscall.
///
/// # Safety
/// `ts` is writable.
#[no_mangle]
pub unsafe extern "C" fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int {
    // SAFETY: per the caller.
    ret(unsafe { syscall2(nr::CLOCK_GETTIME, clock as usize, ts as usize) }) as c_int
}
