//! `<unistd.h>` processes, `<sys/wait.h>`, `<spawn.h>`, `pthread_atfork`,
//! `<sys/auxv.h>`.
//!
//! `fork` runs the atfork handlers around fork(2); the child keeps the
//! parent's rseq registration (the kernel copies it). `vfork` is `fork`
//! (POSIX allows it; a C function cannot share its caller's stack with a
//! child safely). `posix_spawn` is fork + execve without file actions or
//! attributes (ENOSYS otherwise); an exec failure shows as the child's
//! exit status 127.

use crate::errno::{fail, ret};
use crate::sys::{e, nr};
use core::ffi::{c_char, c_int, c_ulong, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};
use rseq_abi::arch::{syscall0, syscall3, syscall4};

const ATFORK_MAX: usize = 32;
// prepare, parent, child for each registration; 0 = none.
static ATFORK: [[AtomicUsize; 3]; ATFORK_MAX] =
    [const { [const { AtomicUsize::new(0) }; 3] }; ATFORK_MAX];
static ATFORK_COUNT: AtomicUsize = AtomicUsize::new(0);

type Handler = Option<extern "C" fn()>;

/// pthread_atfork(3): up to 32 registrations.
#[no_mangle]
pub extern "C" fn pthread_atfork(prepare: Handler, parent: Handler, child: Handler) -> c_int {
    let i = ATFORK_COUNT.load(Ordering::Acquire);
    if i >= ATFORK_MAX {
        return e::ENOMEM;
    }
    for (slot, f) in ATFORK[i].iter().zip([prepare, parent, child]) {
        slot.store(f.map_or(0, |f| f as usize), Ordering::Relaxed);
    }
    ATFORK_COUNT.store(i + 1, Ordering::Release);
    0
}

fn run_atfork(which: usize, reverse: bool) {
    let n = ATFORK_COUNT.load(Ordering::Acquire);
    for k in 0..n {
        let i = if reverse { n - 1 - k } else { k };
        let f = ATFORK[i][which].load(Ordering::Relaxed);
        if f != 0 {
            // SAFETY: stored by pthread_atfork from a function pointer.
            let f: extern "C" fn() = unsafe { core::mem::transmute(f) };
            f();
        }
    }
}

/// fork(2) with the atfork handlers: prepare (last registered first), then
/// parent or child (first registered first).
#[no_mangle]
pub extern "C" fn fork() -> c_int {
    run_atfork(0, true);
    // SAFETY: fork(2) copies the process; no memory is passed.
    let r = unsafe { syscall0(nr::FORK) };
    if r == 0 {
        run_atfork(2, false);
    } else {
        run_atfork(1, false);
    }
    ret(r) as c_int
}

/// vfork(2), as `fork` (see the module documentation).
#[no_mangle]
pub extern "C" fn vfork() -> c_int {
    // SAFETY: fork(2).
    ret(unsafe { syscall0(nr::FORK) }) as c_int
}

/// waitpid(2), through wait4.
///
/// # Safety
/// `status` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int {
    loop {
        // SAFETY: per the caller.
        let r = unsafe {
            syscall4(
                nr::WAIT4,
                pid as isize as usize,
                status as usize,
                options as usize,
                0,
            )
        };
        if r != -(e::EINTR as isize) {
            return ret(r) as c_int;
        }
    }
}

/// execve(2)
///
/// # Safety
/// NUL-terminated path and null-terminated arrays of strings.
#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: per the caller.
    ret(unsafe { syscall3(nr::EXECVE, path as usize, argv as usize, envp as usize) }) as c_int
}

/// posix_spawn(3) without file actions or attributes.
///
/// # Safety
/// As execve; `pid` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut c_int,
    path: *const c_char,
    file_actions: *const c_void,
    attr: *const c_void,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    if !file_actions.is_null() || !attr.is_null() {
        return e::ENOSYS;
    }
    // SAFETY: fork(2).
    let r = unsafe { syscall0(nr::FORK) };
    if r == 0 {
        // SAFETY: per the caller; the child ends either way.
        unsafe { syscall3(nr::EXECVE, path as usize, argv as usize, envp as usize) };
        rseq_dl_early_tls::arch::exit_group(127);
    }
    if r < 0 {
        return -r as c_int;
    }
    if !pid.is_null() {
        // SAFETY: per the caller.
        unsafe { *pid = r as c_int };
    }
    0
}

/// getauxval(3): the kernel's auxiliary vector; 0 and ENOENT for a type
/// it does not hold.
#[no_mangle]
pub extern "C" fn getauxval(kind: c_ulong) -> c_ulong {
    let mut a = rseq_csu_standalone::auxv();
    if !a.is_null() {
        // SAFETY: the kernel's vector on the initial stack, never freed,
        // read up to its AT_NULL entry.
        unsafe {
            while *a != rseq_abi::AT_NULL {
                if *a == kind as usize {
                    return *a.add(1) as c_ulong;
                }
                a = a.add(2);
            }
        }
    }
    fail(e::ENOENT);
    0
}
