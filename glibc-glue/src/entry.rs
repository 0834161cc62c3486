//! The C entry points glibc calls, declared in the series' patched
//! `sysdeps/unix/sysv/linux/rseq-internal.h`.

use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};
use rseq_abi::arch::{nr, syscall1, syscall3, syscall4, RSEQ_SIG};
use rseq_abi::errno::{EBUSY, EINVAL, ENOENT};
use rseq_abi::{
    Rseq, AT_RSEQ_FEATURE_SIZE, RSEQ_CPU_ID_REGISTRATION_FAILED, RSEQ_CPU_ID_UNINITIALIZED,
    RSEQ_FLAG_UNREGISTER,
};

const SIG_BLOCK: usize = 0;
const SIG_SETMASK: usize = 2;
const KERNEL_SIGSET_BYTES: usize = 8;

/// Registers `len` bytes at `area` (the calling thread's own, alive as long
/// as the thread) for the calling thread: 32, or the kernel's feature size
/// when glibc sized and aligned its area for more (see
/// [`crate::registration_len`]). Returns 0, or a negated errno after
/// writing `RSEQ_CPU_ID_REGISTRATION_FAILED` into `cpu_id`, as glibc does.
/// `EBUSY` (this exact area and length already registered) counts as
/// success. Writes nothing into the area before or after a successful
/// registration: the kernel owns the ids while registered.
///
/// # Safety
/// `area` must be the calling thread's rseq area, valid for `len` bytes,
/// and stay allocated until it is unregistered or the thread exits.
#[no_mangle]
pub unsafe extern "C" fn __rseq_libc_glibc_register(area: *mut Rseq, len: u32) -> i32 {
    if area.is_null() {
        return -EINVAL;
    }
    let Some(len) = crate::registration_len(len, area as usize) else {
        return fail(area, -EINVAL);
    };
    // SAFETY: the caller guarantees the area is this thread's, alive while
    // registered; `len` fits in it.
    let r = unsafe { syscall4(nr::RSEQ, area as usize, len as usize, 0, RSEQ_SIG as usize) };
    let r = r as i32;
    if r == 0 || r == -EBUSY {
        0
    } else {
        fail(area, r)
    }
}

fn fail(area: *mut Rseq, err: i32) -> i32 {
    // SAFETY: the caller's area, valid for writes and not registered (the
    // syscall failed, so the kernel does not write it).
    unsafe {
        write_volatile(
            addr_of_mut!((*area).cpu_id),
            RSEQ_CPU_ID_REGISTRATION_FAILED as u32,
        )
    };
    err
}

/// Unregisters `area` if the calling thread registered it (its `cpu_id` is
/// a CPU number), with every application signal blocked around the
/// syscall, and then marks it `RSEQ_CPU_ID_UNINITIALIZED` so that nothing
/// reads a stale CPU from it. glibc's internal signals (`SIGCANCEL`,
/// `SIGSETXID`) are left as the caller had them: a concurrent `setuid()`
/// waits for every thread to handle `SIGSETXID`. Returns 0 (also when it
/// was not registered) or a negated errno.
///
/// # Safety
/// As [`__rseq_libc_glibc_register`], with the same `len`.
#[no_mangle]
pub unsafe extern "C" fn __rseq_libc_glibc_unregister(area: *mut Rseq, len: u32) -> i32 {
    if area.is_null() {
        return -EINVAL;
    }
    let Some(len) = crate::registration_len(len, area as usize) else {
        return -EINVAL;
    };
    let block: u64 = crate::UNREGISTER_BLOCKED_SIGNALS;
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask reads `block` and writes `old`, both 8 bytes.
    // SIG_BLOCK only adds to the mask: a signal the caller blocked (glibc's
    // start_thread blocks SIGCANCEL) stays blocked.
    let blocked = unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            SIG_BLOCK,
            addr_of!(block) as usize,
            addr_of_mut!(old) as usize,
            KERNEL_SIGSET_BYTES,
        )
    } == 0;
    // SAFETY: the caller's area; no application handler can run now, and
    // glibc's internal ones never touch it.
    let cpu = unsafe { read_volatile(addr_of!((*area).cpu_id)) } as i32;
    let r = if cpu < 0 {
        0
    } else {
        // SAFETY: unregisters exactly what __rseq_libc_glibc_register
        // registered (same area, length and signature).
        let r = unsafe {
            syscall4(
                nr::RSEQ,
                area as usize,
                len as usize,
                RSEQ_FLAG_UNREGISTER as usize,
                RSEQ_SIG as usize,
            )
        } as i32;
        if r == 0 {
            // SAFETY: the area is ours and no longer registered.
            unsafe {
                write_volatile(
                    addr_of_mut!((*area).cpu_id),
                    RSEQ_CPU_ID_UNINITIALIZED as u32,
                )
            };
        }
        r
    };
    if blocked {
        // SAFETY: restores the mask saved above.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                addr_of!(old) as usize,
                0,
                KERNEL_SIGSET_BYTES,
            )
        };
    }
    r
}

/// The feature size glibc publishes in `__rseq_size` once the main thread
/// is registered: `AT_RSEQ_FEATURE_SIZE` from `auxv` (20 where the kernel
/// does not report one), at most `capacity`.
///
/// # Safety
/// `auxv` is null or the process's auxiliary vector, readable up to its
/// `AT_NULL` entry.
#[no_mangle]
pub unsafe extern "C" fn __rseq_libc_glibc_feature_size(auxv: *const usize, capacity: u32) -> u32 {
    let mut fs = 0;
    if !auxv.is_null() {
        let mut i = 0;
        while i < 256 {
            // SAFETY: entries up to AT_NULL are readable (caller).
            let (key, val) = unsafe { (*auxv.add(2 * i), *auxv.add(2 * i + 1)) };
            if key == rseq_abi::AT_NULL {
                break;
            }
            if key == AT_RSEQ_FEATURE_SIZE {
                fs = val;
            }
            i += 1;
        }
    }
    crate::published_feature_size(fs, capacity)
}

/// The current CPU from the calling thread's registered `area`, else from
/// the `getcpu` syscall when `use_syscall` is non-zero; `-ENOENT` when the
/// area is not registered and `use_syscall` is 0 (glibc then asks the
/// vDSO), or the syscall's negated errno.
///
/// # Safety
/// `area` is null or the calling thread's rseq area.
#[no_mangle]
pub unsafe extern "C" fn __rseq_libc_glibc_sched_getcpu(
    area: *const Rseq,
    use_syscall: i32,
) -> i32 {
    if !area.is_null() {
        // SAFETY: the calling thread's area (caller).
        let cpu = unsafe { read_volatile(addr_of!((*area).cpu_id)) } as i32;
        if cpu >= 0 {
            return cpu;
        }
    }
    if use_syscall == 0 {
        return -ENOENT;
    }
    let mut cpu: u32 = 0;
    // SAFETY: the kernel writes one u32 to `cpu`; node and cache are null.
    let r = unsafe { syscall3(nr::GETCPU, addr_of_mut!(cpu) as usize, 0, 0) };
    if r < 0 {
        r as i32
    } else {
        cpu as i32
    }
}

/// Ends the process with status 127 (the panic handler's only action).
#[cfg_attr(test, allow(dead_code))]
pub(crate) fn exit_group_127() -> ! {
    loop {
        // SAFETY: exit_group has no memory effects on the process.
        unsafe { syscall1(nr::EXIT_GROUP, 127) };
    }
}
