//! The host-reserved rseq area: a hook for hosts that lay out every
//! thread's TLS themselves (the standalone test libc's dl-early-tls).
//!
//! Such a host reserves the area beside the TLS blocks, at the same offset
//! from the thread pointer in every thread, sized and aligned for the
//! kernel, and declares it here before the first registration. The
//! component then registers that area instead of its own TLS area
//! (`rseq_abi::arch::own_area`, the legacy `__rseq_abi`). Without a
//! declaration nothing changes: glibc and musl hosts never call this.

use core::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, Ordering};
use rseq_abi::arch::{self, own_area, thread_pointer};
use rseq_abi::errno::{EBUSY, EINVAL};
use rseq_abi::{Rseq, ORIG_AREA_ALIGN, ORIG_AREA_SIZE};

static OFFSET: AtomicIsize = AtomicIsize::new(0);
/// 0: no host-reserved area.
static CAPACITY: AtomicU32 = AtomicU32::new(0);
static ALIGN: AtomicU32 = AtomicU32::new(0);
/// Set by the first registration attempt: the area can no longer change.
static IN_USE: AtomicBool = AtomicBool::new(false);

/// Declares that every thread's rseq area is at its thread pointer plus
/// `offset`, `capacity` bytes, aligned `align` (the host guarantees both for
/// every thread, including threads it creates later).
///
/// Errors: `EINVAL` if `capacity` is below 32 or `align` is not a power of
/// two of at least 32; `EBUSY` once any thread tried to register (the
/// declaration must come first, e.g. from the start routine).
pub fn set_host_reserved_area(offset: isize, capacity: u32, align: u32) -> Result<(), i32> {
    if capacity < ORIG_AREA_SIZE || align < ORIG_AREA_ALIGN || !align.is_power_of_two() {
        return Err(EINVAL);
    }
    if IN_USE.load(Ordering::Acquire) {
        return Err(EBUSY);
    }
    OFFSET.store(offset, Ordering::Relaxed);
    ALIGN.store(align, Ordering::Relaxed);
    CAPACITY.store(capacity, Ordering::Release);
    Ok(())
}

/// The host-reserved area's `(offset, capacity, align)`, if one was declared.
pub fn host_reserved_area() -> Option<(isize, u32, u32)> {
    let cap = CAPACITY.load(Ordering::Acquire);
    (cap != 0).then(|| {
        (
            OFFSET.load(Ordering::Relaxed),
            cap,
            ALIGN.load(Ordering::Relaxed),
        )
    })
}

/// The area the component registers for the calling thread, with its
/// capacity and alignment: the host-reserved one, else its own TLS area.
pub(crate) fn area_to_register() -> (*mut Rseq, u32, u32) {
    IN_USE.store(true, Ordering::Release);
    match host_reserved_area() {
        Some((offset, cap, align)) => (thread_pointer().wrapping_offset(offset).cast(), cap, align),
        None => (own_area(), arch::AREA_CAPACITY, arch::AREA_ALIGN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_declarations_are_refused() {
        assert_eq!(set_host_reserved_area(64, 16, 32), Err(EINVAL));
        assert_eq!(set_host_reserved_area(64, 32, 48), Err(EINVAL));
        assert_eq!(set_host_reserved_area(64, 32, 16), Err(EINVAL));
        // The test process registers through its own TLS area: no
        // declaration is ever accepted here, so this stays the default.
        assert_eq!(host_reserved_area(), None);
    }
}
