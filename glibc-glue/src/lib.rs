//! The glue a patched glibc links into `ld.so`, `libc.so` and `libc.a`
//! (see `patches/glibc-2.36/` and `patches/glibc-2.43/`): rseq
//! registration, unregistration, the published feature size and
//! `sched_getcpu`, on the area glibc reserves for every thread (`struct
//! pthread`'s `rseq_area` in 2.36, a static TLS block of its own in 2.43).
//!
//! glibc owns the area and passes it in; nothing here uses thread-local
//! storage, because `ld.so` has no TLS block of its own (it registers the
//! main thread in `__tls_init_tp`, before TLS is usable). Only raw
//! syscalls and the kernel ABI of `rseq-abi` (inlined: constants, the
//! structure and the syscall instructions) are used, so this crate's object
//! has no undefined symbol: nothing new to bind in `ld.so` or `libc.so`,
//! no PLT entry, no libc call. The entry points are named in glibc's
//! reserved namespace (`__rseq_libc_glibc_*`) and are hidden by glibc's
//! version scripts.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod entry;

pub use entry::{
    __rseq_libc_glibc_feature_size, __rseq_libc_glibc_register, __rseq_libc_glibc_sched_getcpu,
    __rseq_libc_glibc_unregister,
};

/// The feature size to publish in `__rseq_size` for an area of `capacity`
/// bytes, given the kernel's `AT_RSEQ_FEATURE_SIZE` (0 where the kernel does
/// not report one, before Linux 6.3).
pub fn published_feature_size(at_rseq_feature_size: usize, capacity: u32) -> u32 {
    let fs = if at_rseq_feature_size == 0 {
        rseq_abi::ORIG_FEATURE_SIZE
    } else {
        at_rseq_feature_size.min(u32::MAX as usize) as u32
    };
    fs.min(capacity)
}

/// The length to register for an area at address `addr` when glibc asks
/// for `len` bytes: `len` itself, which is either the original 32 (legacy
/// mode; glibc 2.36 passes its whole 32-byte area, and the kernel still
/// fills `node_id` and `mm_cid` in them on Linux 6.3+) or, from glibc 2.41,
/// the kernel's feature size when it exceeds 32, for an area glibc aligned
/// to `AT_RSEQ_ALIGN` (33 bytes aligned 64 on Linux 7.x: the kernel's "V2"
/// mode, which the time-slice extension needs). The kernel checks the
/// extended alignment and the feature size itself. `None` if no kernel can
/// register it: shorter than 32 bytes or not 32-byte aligned.
pub fn registration_len(len: u32, addr: usize) -> Option<u32> {
    (len >= rseq_abi::ORIG_AREA_SIZE && addr & (rseq_abi::ORIG_AREA_ALIGN as usize - 1) == 0)
        .then_some(len)
}

/// glibc's internal signals, which stay deliverable while the component
/// blocks the application's around unregistration: 32 (`SIGCANCEL`) and 33
/// (`SIGSETXID`). `setuid()` and friends send `SIGSETXID` to every thread
/// and wait for each to handle it; their handlers never touch the rseq
/// area.
pub const GLIBC_INTERNAL_SIGNALS: u64 = (1 << (32 - 1)) | (1 << (33 - 1));

/// The signals blocked (added to the thread's mask, never removed from it)
/// around unregistration: every signal an application may handle, so that
/// no handler of its sees the area between the system call and the
/// `cpu_id` update.
pub const UNREGISTER_BLOCKED_SIGNALS: u64 = !GLIBC_INTERNAL_SIGNALS;

/// Reads `key` from an auxiliary vector (pairs of words ending with
/// `AT_NULL`), looking at no more than 256 entries; 0 if absent.
pub fn auxv_value(auxv: &[usize], key: usize) -> usize {
    let mut pairs = auxv.chunks_exact(2).take(256);
    pairs
        .find(|p| p.first() == Some(&key) || p.first() == Some(&rseq_abi::AT_NULL))
        .filter(|p| p.first() == Some(&key))
        .and_then(|p| p.get(1).copied())
        .unwrap_or(0)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No panic path is expected (see the object's undefined symbols, checked
    // by patches/build-and-test.sh); if one is reached, end the process
    // without touching anything glibc owns.
    entry::exit_group_127()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_size_defaults_to_the_original_abi_and_fits_the_area() {
        assert_eq!(published_feature_size(0, 32), 20);
        assert_eq!(published_feature_size(28, 32), 28);
        assert_eq!(published_feature_size(33, 32), 32);
    }

    #[test]
    fn registration_needs_32_aligned_bytes() {
        assert_eq!(registration_len(32, 32), Some(32));
        assert_eq!(registration_len(16, 32), None);
        assert_eq!(registration_len(32, 16), None);
        assert_eq!(registration_len(33, 16), None);
    }

    #[test]
    fn registration_keeps_an_extended_length() {
        // glibc 2.41+ on Linux 7.x: feature size 33, area aligned 64. A
        // 32-byte registration would drop the kernel to its legacy mode.
        assert_eq!(registration_len(33, 64), Some(33));
        assert_eq!(registration_len(64, 128), Some(64));
    }

    #[test]
    fn unregistration_leaves_glibc_internal_signals_deliverable() {
        let bit = |sig: u32| 1u64 << (sig - 1);
        assert_eq!(UNREGISTER_BLOCKED_SIGNALS & bit(32), 0, "SIGCANCEL");
        assert_eq!(UNREGISTER_BLOCKED_SIGNALS & bit(33), 0, "SIGSETXID");
        for sig in (1..=31).chain(34..=64) {
            assert_ne!(UNREGISTER_BLOCKED_SIGNALS & bit(sig), 0, "signal {sig}");
        }
    }

    #[test]
    fn auxv_lookup_stops_at_at_null() {
        let v = [6, 4096, 27, 28, 0, 0, 28, 99];
        assert_eq!(auxv_value(&v, 27), 28);
        assert_eq!(auxv_value(&v, 28), 0);
        assert_eq!(auxv_value(&v, 33), 0);
    }
}
