//! The rseq time-slice extension (Linux 7.0, `CONFIG_RSEQ_SLICE_EXTENSION`):
//! a thread about to run a short critical section (holding a user-space
//! lock, say) asks the kernel not to preempt it in the middle; an interrupt
//! that would reschedule it returns to it instead, for at most
//! `debugfs:rseq/slice_ext_nsec` (5 µs by default, 50 µs at most), and the
//! thread gives the CPU back with `rseq_slice_yield(2)` when it is done.
//!
//! The kernel offers it only to V2 registrations (length above 32 bytes,
//! covering the slice control: feature size 33) and says so in the area's
//! read-only `flags` (AVAILABLE, ENABLED). Registration enables it: the
//! component's own registration passes `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON`
//! (retried without on kernels that refuse the flag), and an area left
//! AVAILABLE but not ENABLED (a libc registration that did not ask, or a
//! refused flag) gets `prctl(PR_RSEQ_SLICE_EXTENSION, SET, ENABLE)`. Where it
//! is not offered (kernels before 7.0, Debian's 7.x kernels, which leave the
//! option off, legacy 32-byte registrations such as glibc 2.35-2.40's, no
//! area), [`request`] and [`release`] do nothing and return false.
//!
//! The protocol (Documentation/userspace-api/rseq.rst): set
//! `slice_ctrl.request`, run the section, clear `request`, and if the
//! kernel set `slice_ctrl.granted` meanwhile, call `rseq_slice_yield`. The
//! kernel clears both bytes whenever the thread is scheduled out, so a
//! request never outlives a preemption. Everything is CPU-local: volatile
//! accesses in program order are enough, no atomics.
//!
//! Requests do not nest: [`release`] ends the request whichever [`request`]
//! armed it. A system call other than `rseq_slice_yield` inside a granted
//! extension ends the extension (the kernel reschedules the thread at once).
//! Both functions are async-signal-safe; a signal handler that uses them
//! while the interrupted code holds a request clears that request.
//!
//! # Example
//!
//! A short critical section under a request; where the kernel offers no
//! extension (Debian's kernels, glibc 2.35-2.40's 32-byte registration)
//! the guard does nothing and says so.
//!
//! ```
//! use rseq_registration::slice::{self, SliceGuard};
//!
//! let guard = SliceGuard::new();
//! assert_eq!(guard.armed(), slice::available());
//! let section_result = 6 * 7; // the short critical section
//! drop(guard); // clears the request; yields the CPU only after a grant
//! assert_eq!(section_result, 42);
//! if slice::available() {
//!     // The request byte is clear again after the release.
//!     assert_eq!(slice::control().map(|(request, _)| request), Some(0));
//! } else {
//!     const EOPNOTSUPP: i32 = 95;
//!     assert!(!slice::request());
//!     assert_eq!(slice::try_release(), Err(EOPNOTSUPP));
//! }
//! ```

use crate::thread::{area, current_area};
use core::marker::PhantomData;
use core::ptr::{addr_of, read_volatile, write_volatile};
use core::sync::atomic::{compiler_fence, Ordering};
use rseq_abi::arch::{nr, syscall0, syscall5};
use rseq_abi::errno::EOPNOTSUPP;
use rseq_abi::{
    Rseq, PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_SET, PR_RSEQ_SLICE_EXT_ENABLE,
    RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED, SLICE_GRANTED_OFFSET,
    SLICE_REQUEST_OFFSET,
};

const ON: u32 = RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE | RSEQ_CS_FLAG_SLICE_EXT_ENABLED;

/// The area's kernel-written `flags`.
///
/// # Safety
/// `a` is the calling thread's registered area.
#[inline(always)]
unsafe fn flags(a: *mut Rseq) -> u32 {
    // SAFETY: per the caller; the kernel writes the field between any two
    // instructions of this thread, hence the volatile load.
    unsafe { read_volatile(addr_of!((*a).flags)) }
}

/// The calling thread's area if the extension is enabled for it. A thread
/// that never tried to register is registered first (once); after that
/// this is two loads.
#[inline(always)]
fn enabled_area() -> Option<*mut Rseq> {
    let mut a = area();
    if a.is_null() {
        a = current_area()?.as_ptr();
    }
    // An area unregistered behind the component's back keeps its stale
    // flags: the kernel would grant nothing.
    if !crate::thread::area_is_live(a) {
        return None;
    }
    // SAFETY: the calling thread's registered area.
    (unsafe { flags(a) } & ON == ON).then_some(a)
}

/// Whether the time-slice extension is available and enabled for the
/// calling thread's registered area (registering the thread first if it
/// never tried).
pub fn available() -> bool {
    enabled_area().is_some()
}

/// Asks the kernel for a time-slice extension should the calling thread be
/// preempted before [`release`]. Returns true when the request is armed;
/// false, doing nothing, where the extension is not available. No system
/// call (but the first call of a thread that never tried to register may
/// register it).
#[inline]
pub fn request() -> bool {
    let Some(a) = enabled_area() else {
        return false;
    };
    // SAFETY: the request byte of this thread's registered V2 area (ENABLED
    // implies a registration that covers the slice control).
    unsafe { write_volatile(a.cast::<u8>().add(SLICE_REQUEST_OFFSET), 1) };
    // The critical section's own accesses stay after the request.
    compiler_fence(Ordering::SeqCst);
    true
}

/// Ends the request [`request`] armed: clears it, and if the kernel granted
/// an extension meanwhile, gives the CPU back with `rseq_slice_yield(2)`
/// and returns true. False (no system call) when nothing was granted, or
/// where the extension is not available.
#[inline]
pub fn release() -> bool {
    try_release() == Ok(true)
}

/// [`release`], telling "not available" (`Err(EOPNOTSUPP)`) from "no
/// grant" (`Ok(false)`).
#[inline]
pub fn try_release() -> Result<bool, i32> {
    let a = area();
    // SAFETY: a live area() is this thread's registered area.
    if !crate::thread::area_is_live(a) || unsafe { flags(a) } & ON != ON {
        return Err(EOPNOTSUPP);
    }
    // The critical section's own accesses stay before the release.
    compiler_fence(Ordering::SeqCst);
    // Clear first, then look: a grant after the clear is impossible (no
    // request), one before it shows in `granted`. A revocation between the
    // load and the syscall only makes the yield return 0.
    // SAFETY: the slice control bytes of this thread's registered V2 area;
    // `granted` is only read.
    let granted = unsafe {
        write_volatile(a.cast::<u8>().add(SLICE_REQUEST_OFFSET), 0);
        read_volatile(a.cast::<u8>().add(SLICE_GRANTED_OFFSET))
    };
    if granted == 0 {
        return Ok(false);
    }
    // SAFETY: rseq_slice_yield takes no argument and touches no memory of
    // ours but the slice control, which it clears.
    unsafe { syscall0(nr::RSEQ_SLICE_YIELD) };
    Ok(true)
}

/// A critical section's time-slice request: [`request`] on creation,
/// [`release`] on drop. Not `Send`: the request belongs to the thread.
#[must_use = "the request ends when the guard is dropped"]
pub struct SliceGuard {
    armed: bool,
    _thread: PhantomData<*const ()>,
}

impl SliceGuard {
    /// Arms a request (see [`request`]).
    #[inline]
    pub fn new() -> Self {
        SliceGuard {
            armed: request(),
            _thread: PhantomData,
        }
    }

    /// Whether a request was armed (false where the extension is not
    /// available: the guard then does nothing).
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Ends the request now; true if an extension had been granted and the
    /// CPU was yielded (see [`release`]).
    #[inline]
    pub fn release(mut self) -> bool {
        let armed = core::mem::replace(&mut self.armed, false);
        armed && release()
    }
}

impl Default for SliceGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SliceGuard {
    #[inline]
    fn drop(&mut self) {
        if self.armed {
            release();
        }
    }
}

/// Enables the extension on a freshly registered or adopted area where the
/// kernel offers it (AVAILABLE) but nobody asked (not ENABLED): an area
/// the host libc registered without the flag, or the component's own when
/// the flag was refused (a seccomp filter, say). One `prctl` for such a
/// thread, none otherwise. The kernel kills the thread if the area's flags
/// lack AVAILABLE at that point, so it is called only when they have it.
pub(crate) fn enable_if_offered(a: *mut Rseq) {
    // SAFETY: `a` is the libc's registered area of the calling thread.
    if unsafe { flags(a) } & ON != RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE {
        return;
    }
    // SAFETY: prctl with integer arguments only; on failure the thread
    // just stays without the extension.
    unsafe {
        syscall5(
            nr::PRCTL,
            PR_RSEQ_SLICE_EXTENSION,
            PR_RSEQ_SLICE_EXTENSION_SET,
            PR_RSEQ_SLICE_EXT_ENABLE,
            0,
            0,
        )
    };
}

/// The raw control bytes `(request, granted)` of the calling thread's area,
/// or None without an area or a V2 registration covering them: for tests
/// and diagnostics.
pub fn control() -> Option<(u8, u8)> {
    let a = area();
    // SAFETY: a non-null area() is this thread's registered area.
    if a.is_null() || unsafe { flags(a) } & RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE == 0 {
        return None;
    }
    // SAFETY: as in release; both bytes are only read.
    unsafe {
        Some((
            read_volatile(a.cast::<u8>().add(SLICE_REQUEST_OFFSET)),
            read_volatile(a.cast::<u8>().add(SLICE_GRANTED_OFFSET)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The host kernel (6.18 here, or any without the option) never offers
    // the extension: every call is the no-op fallback, whoever owns the
    // thread's registration.
    #[test]
    fn without_the_extension_everything_is_a_no_op() {
        std::thread::spawn(|| {
            if available() {
                eprintln!("the kernel offers the slice extension: fallback not checked");
                return;
            }
            assert!(!request());
            assert!(!release());
            let g = SliceGuard::new();
            assert!(!g.armed());
            assert!(!g.release());
            assert_eq!(control(), None);
        })
        .join()
        .unwrap();
    }
}
