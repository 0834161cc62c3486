//! Per-CPU operations as restartable sequences, and the use cases they exist
//! for: a statistics [`counter`], a [`ring`] buffer, a memory [`pool`] and a
//! per-CPU reader [`lock`].
//!
//! # Model
//!
//! Data is split in per-CPU *slots*, indexed by `cpu_id` or by `mm_cid`
//! ([`IndexMode`]). A slot is written only by restartable sequences that
//! commit while running on that slot's index: plain loads and stores, no
//! atomic instruction, restarted by the kernel on preemption, migration or
//! signal delivery. Each operation returns an [`Outcome`]: done, compare
//! failed, or aborted (retry).
//!
//! A thread without a registered rseq area (rseq unavailable or disabled,
//! or too early or late in its life to register) never touches a per-CPU
//! slot: each use case has a *fallback* slot, updated only with atomic
//! read-modify-write instructions, that readers include. Mixing both kinds
//! of writers on one slot would lose updates; keeping them apart never gives a
//! wrong answer.
//!
//! The raw sequences are in [`arch`] (unsafe); [`Slots`] is the safe API over
//! them for word-sized per-CPU data, and the use-case modules build on both.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod arch;
#[allow(unsafe_code)]
pub mod counter;
#[allow(unsafe_code)]
pub mod lock;
#[allow(unsafe_code)]
pub mod pool;
#[allow(unsafe_code)]
pub mod ring;
#[allow(unsafe_code)]
mod slots;

pub use slots::{Slot, Slots, Where};

use core::sync::atomic::{AtomicUsize, Ordering};
use rseq_abi::Rseq;

/// The result of one restartable sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Outcome {
    /// The commit happened.
    Done = 0,
    /// A comparison failed (or the list was empty, or the index out of
    /// range); nothing was stored by the commit.
    CompareFailed = 1,
    /// The kernel aborted the sequence (preemption, migration, signal) or the
    /// thread was no longer on the expected index: retry.
    Aborted = 2,
}

/// Which field of the rseq area indexes the slots.
///
/// The discriminant is the field's offset in `struct rseq`, so that
/// [`IndexMode::offset`] is a zero-extension of the stored byte (one `add`
/// on the fast path, no compare and conditional move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum IndexMode {
    /// `cpu_id` (offset 4): one slot per possible CPU.
    CpuId = 4,
    /// `mm_cid` (offset 24, Linux 6.3+): dense concurrency ids, below the
    /// number of threads and of CPUs; fewer slots are touched when a process
    /// runs fewer threads than the machine has CPUs.
    MmCid = 24,
}

const _: () = assert!(IndexMode::CpuId as usize == core::mem::offset_of!(Rseq, cpu_id));
const _: () = assert!(IndexMode::MmCid as usize == core::mem::offset_of!(Rseq, mm_cid));

impl IndexMode {
    /// Offset of the index field in `struct rseq`.
    #[inline(always)]
    pub const fn offset(self) -> usize {
        self as usize
    }

    /// `MmCid` when the kernel fills `mm_cid` (feature size >= 28), else
    /// `CpuId`: what a per-CPU structure created now can use.
    pub fn best_available() -> IndexMode {
        if mm_cid_available() {
            IndexMode::MmCid
        } else {
            IndexMode::CpuId
        }
    }

    /// `self` if the kernel supports it, else `CpuId`.
    pub fn or_supported(self) -> IndexMode {
        match self {
            IndexMode::MmCid if !mm_cid_available() => IndexMode::CpuId,
            m => m,
        }
    }
}

/// Whether the kernel fills `mm_cid` (feature size >= 28).
pub fn mm_cid_available() -> bool {
    rseq_registration::kernel().feature_size >= rseq_abi::FEATURE_SIZE_MM_CID
}

/// The calling thread's registered area and its index field for `mode`, or
/// `None`: the caller then takes its fallback path.
#[inline(always)]
pub fn thread_area(mode: IndexMode) -> Option<(*mut Rseq, *const u32)> {
    let mut area = rseq_registration::area();
    if area.is_null() {
        // Out of line: a registered thread's fast path is the TLS load, the
        // null test and a fall-through (no taken branch, no inlined
        // registration code between the lookup and the sequence).
        area = area_slow()?;
    }
    Some((area, area.cast::<u8>().wrapping_add(mode.offset()).cast()))
}

/// A thread that has no area yet: register it lazily, or `None` (fallback).
#[cold]
#[inline(never)]
fn area_slow() -> Option<*mut Rseq> {
    rseq_registration::current_area().map(|a| a.as_ptr())
}

/// The calling thread's current index (`cpu_id` or `mm_cid`) read from its
/// rseq area, or `None` without an area: the "inline rseq read".
#[inline(always)]
pub fn current_index(mode: IndexMode) -> Option<u32> {
    thread_area(mode).map(|(_, f)| read_index(f))
}

/// The current value of an area's index field (`index_field` from
/// [`thread_area`]).
#[inline(always)]
pub(crate) fn read_index(index_field: *const u32) -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: index_field points into the calling thread's registered area
    // (from thread_area), aligned; the kernel updates it between instructions.
    unsafe {
        core::ptr::read_volatile(index_field)
    }
}

/// Delay-loop iterations injected inside every critical section (stress
/// tests); 0 in normal use.
static DELAY: AtomicUsize = AtomicUsize::new(0);

/// Sets the delay-loop iterations injected between the loads and the commit
/// of every critical section run by the safe API on structures instantiated
/// with `INJECT = true` (the stress test's; 0: none). Structures with the
/// default `INJECT = false` never read it: their sequences have no delay loop.
pub fn set_injected_delay(iterations: usize) {
    DELAY.store(iterations, Ordering::Relaxed);
}

/// The injected delay for a structure instantiated with `INJECT` (the
/// global setting), or 0 without reading it (every other structure: the
/// sequences are then emitted without the delay loop at all).
#[inline(always)]
pub(crate) fn delay<const INJECT: bool>() -> usize {
    if INJECT {
        DELAY.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// Per-thread-agnostic abort counter: incremented by the safe API's retry
/// loops each time a sequence comes back [`Outcome::Aborted`].
static ABORTS: AtomicUsize = AtomicUsize::new(0);

/// Aborts seen by the safe API since the last [`take_aborts`].
pub fn aborts() -> usize {
    ABORTS.load(Ordering::Relaxed)
}

/// Returns and resets the abort count.
pub fn take_aborts() -> usize {
    ABORTS.swap(0, Ordering::Relaxed)
}

#[cold]
#[inline(never)]
pub(crate) fn count_abort() {
    ABORTS.fetch_add(1, Ordering::Relaxed);
}

/// The calling thread's affinity mask (CPUs below 1024): raw
/// `sched_getaffinity`, None if the kernel refuses.
fn affinity_mask() -> Option<[u64; 16]> {
    let mut mask = [0u64; 16];
    #[allow(unsafe_code)]
    // SAFETY: sched_getaffinity writes at most the buffer length given.
    let r = unsafe {
        rseq_abi::arch::syscall3(
            rseq_abi::arch::nr::SCHED_GETAFFINITY,
            0,
            core::mem::size_of_val(&mask),
            mask.as_mut_ptr() as usize,
        )
    };
    (r > 0).then_some(mask)
}

/// Number of CPUs the kernel can run this process on: the highest CPU number
/// in the affinity mask plus one (raw syscall, no libc), at least 1.
pub fn possible_cpus() -> usize {
    let Some(mask) = affinity_mask() else {
        return 1;
    };
    let mut highest = 0;
    for (w, bits) in mask.iter().enumerate() {
        if *bits != 0 {
            highest = w * 64 + 63 - bits.leading_zeros() as usize;
        }
    }
    highest + 1
}

/// Restricts the calling thread to the CPUs in `mask` (bit `c` of word
/// `c / 64`): raw `sched_setaffinity`. Returns 0 or a negative errno.
pub fn set_affinity(mask: &[u64]) -> i32 {
    #[allow(unsafe_code)]
    // SAFETY: the kernel reads at most the given length from mask.
    let r = unsafe {
        rseq_abi::arch::syscall3(
            rseq_abi::arch::nr::SCHED_SETAFFINITY,
            0,
            core::mem::size_of_val(mask),
            mask.as_ptr() as usize,
        )
    };
    r as i32
}

/// Pins the calling thread to `cpu` (< 1024). Returns 0 or a negative errno.
pub fn pin_to_cpu(cpu: usize) -> i32 {
    let mut mask = [0u64; 16];
    if cpu >= 1024 {
        return -rseq_abi::errno::EINVAL;
    }
    mask[cpu / 64] |= 1 << (cpu % 64);
    set_affinity(&mask)
}

/// Every CPU number this thread may run on now (affinity mask, < 1024).
pub fn allowed_cpus(out: &mut [u32]) -> usize {
    let Some(mask) = affinity_mask() else {
        return 0;
    };
    let mut n = 0;
    for c in 0..1024 {
        if mask[c / 64] & (1 << (c % 64)) != 0 && n < out.len() {
            out[n] = c as u32;
            n += 1;
        }
    }
    n
}
