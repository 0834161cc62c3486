//! Per-CPU operations as restartable sequences, and the use cases they exist
//! for: a statistics [`counter`], a [`ring`] buffer, a memory [`pool`], a
//! per-CPU reader [`lock`], read-copy-update ([`rcu`]: grace periods over
//! per-CPU lock and unlock counts, readers without registration),
//! [`spinlock`]s that track their holder's
//! preemption (time-slice extension, holder CPU checked by the waiters in a
//! restartable sequence, futex sleep) with a NUMA hand-off variant, and the
//! [`remote`] access that lets one thread take over another CPU's data (the
//! pool's [`pool::Pool::reclaim`], the [`flush`] ring's consumer), also
//! when the data is in shared memory written by other processes (shared
//! flush rings and pools, [`remote::fence_cpu_shared`]).
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
//!
//! # Example
//!
//! A statistics counter that several threads increment at once: each
//! increment is one restartable sequence on the slot of the CPU the
//! thread runs on (or, for a thread without an rseq area or on a CPU
//! beyond the counter's 256 slots, an atomic add on the fallback slot),
//! and the total is exact whatever the preemptions and migrations in
//! between.
//!
//! ```
//! use rseq_percpu::{counter::Counter, Where};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! static HITS: Counter<256> = Counter::new_cpu_id();
//! static ON_FALLBACK: AtomicU64 = AtomicU64::new(0);
//!
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| {
//!             for _ in 0..10_000 {
//!                 if HITS.inc() == Where::Fallback {
//!                     ON_FALLBACK.fetch_add(1, Ordering::Relaxed);
//!                 }
//!             }
//!         });
//!     }
//! });
//! assert_eq!(HITS.read(), 40_000);
//! // The fallback slot holds exactly the increments that went there.
//! assert_eq!(HITS.slot_value(Where::Fallback), ON_FALLBACK.load(Ordering::Relaxed));
//! // With rseq (a registered area, as under glibc 2.35+ or with this
//! // project's registration), increments land in per-CPU slots.
//! if rseq_registration::current_area().is_some() && HITS.slot_value(Where::Fallback) == 0 {
//!     let per_cpu: u64 = (0..256).map(|cpu| HITS.slot_value(Where::Slot(cpu))).sum();
//!     assert_eq!(per_cpu, 40_000);
//! }
//! ```
//!
//! The same counter, pool, ring, flush ring and locks are reachable from C
//! through `headers/rseq-percpu.h` (calls) and `headers/rseq-percpu-inline.h`
//! (the sequences inlined), on the same objects; `docs/percpu.md` in the
//! repository covers both and the benchmarks beside librseq's sequences.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[allow(unsafe_code)]
pub mod arch;
#[allow(unsafe_code)]
mod cache;
#[allow(unsafe_code)]
pub mod counter;
#[allow(unsafe_code)]
pub mod flush;
#[allow(unsafe_code)]
pub mod fork;
#[allow(unsafe_code)]
pub mod lock;
#[allow(unsafe_code)]
pub mod pool;
#[allow(unsafe_code)]
pub mod rcu;
#[allow(unsafe_code)]
pub mod remote;
#[allow(unsafe_code)]
pub mod ring;
#[allow(unsafe_code)]
mod slots;
#[allow(unsafe_code)]
pub mod spinlock;

pub use slots::{Slot, Slots, Where};

use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
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

/// Whether the kernel fills `mm_cid` (feature size >= 28). Every `mm_cid`
/// operation of the C API asks, so the answer is kept after the first
/// question: one relaxed load instead of three calls through the auxiliary
/// vector's cache (which made each `mm_cid` call several times slower than
/// its `cpu_id` twin).
#[inline]
pub fn mm_cid_available() -> bool {
    match MM_CID_AVAILABLE.load(Ordering::Relaxed) {
        MM_CID_YES => true,
        MM_CID_NO => false,
        _ => mm_cid_available_first(),
    }
}

const MM_CID_YES: u8 = 2;
const MM_CID_NO: u8 = 1;
/// 0 until known; then [`MM_CID_YES`] or [`MM_CID_NO`]. The kernel's
/// feature size does not change during the process's life.
static MM_CID_AVAILABLE: AtomicU8 = AtomicU8::new(0);

#[cold]
fn mm_cid_available_first() -> bool {
    let k = rseq_registration::kernel();
    let yes = k.feature_size >= rseq_abi::FEATURE_SIZE_MM_CID;
    // Defaults (no auxiliary vector readable yet) may be replaced by the
    // host's vector later: not kept.
    if k.source != rseq_registration::auxv::AuxvSource::Defaults {
        MM_CID_AVAILABLE.store(if yes { MM_CID_YES } else { MM_CID_NO }, Ordering::Relaxed);
    }
    yes
}

/// The calling thread's registered area and its index field for `mode`, or
/// `None`: the caller then takes its fallback path. The area may have been
/// unregistered behind the component's back (`cpu_id` < 0): every section
/// and the index reads check for that.
#[inline(always)]
pub fn thread_area(mode: IndexMode) -> Option<(*mut Rseq, *const u32)> {
    let cpu = cache::cached_cpu_field();
    #[allow(unsafe_code)]
    // SAFETY: the cached field is the stand-in's or this thread's area's,
    // both valid for the thread's life; the kernel updates it between
    // instructions, hence volatile.
    let area = if (unsafe { core::ptr::read_volatile(cpu) } as i32) >= 0 {
        cpu.cast::<u8>().wrapping_sub(4).cast::<Rseq>()
    } else {
        // Out of line: a registered thread's fast path is the TLS load, the
        // sign test and a fall-through.
        area_slow()?
    };
    Some((area, area.cast::<u8>().wrapping_add(mode.offset()).cast()))
}

/// The fast paths' view of the calling thread's area: the cached area (or
/// the stand-in), its index field for `mode` and the index read from it,
/// with no test: the stand-in's index fields read `u32::MAX`, so the
/// caller's bound check sends a thread without a cached area to its slow
/// path; an area unregistered behind the component's back still reads an
/// index (`mm_cid` reads 0) but every section refuses it (`cpu_id` < 0).
/// One TLS load, the mode's add and the index load.
#[inline(always)]
pub(crate) fn cached_index(mode: IndexMode) -> (*mut Rseq, *const u32, u32) {
    let cpu = cache::cached_cpu_field();
    let area = cpu.cast::<u8>().wrapping_sub(4).cast::<Rseq>();
    let field = area.cast::<u8>().wrapping_add(mode.offset()).cast::<u32>();
    #[allow(unsafe_code)]
    // SAFETY: the cached area (or stand-in) is valid for the thread's life;
    // the kernel updates its index fields between instructions.
    let i = unsafe { core::ptr::read_volatile(field) };
    (area, field, i)
}

/// The cached area (or the stand-in) and its index field for `mode`, with
/// no test and no load: for operations given an index (a [`Where::Slot`]
/// from [`Slots::current`], which looked the area up), whose sections
/// check `cpu_id >= 0` and the index themselves, so that the stand-in and
/// an area unregistered since come back [`Outcome::Aborted`] (the caller
/// asks for its index again, and that looks the area up). One TLS load:
/// no second look-up after the index read.
#[inline(always)]
pub(crate) fn cached_area(mode: IndexMode) -> (*mut Rseq, *const u32) {
    let area = cache::cached_cpu_field()
        .cast::<u8>()
        .wrapping_sub(4)
        .cast::<Rseq>();
    (area, area.cast::<u8>().wrapping_add(mode.offset()).cast())
}

/// The cache holds the stand-in or an area whose `cpu_id` reads < 0: look
/// the area up (registering the thread lazily) and cache it when usable, or
/// `None` (fallback). An area the kernel no longer has registered is no
/// area (`current_area` says None); one that loses its registration right
/// after the lookup (a signal handler's raw unregistration) is returned
/// but not cached, and its sections and index reads refuse it.
#[cold]
#[inline(never)]
fn area_slow() -> Option<*mut Rseq> {
    let Some(area) = rseq_registration::current_area() else {
        cache::set_cached_cpu_field(cache::no_area_cpu_field());
        return None;
    };
    let cpu = arch::cpu_field(area.as_ptr());
    #[allow(unsafe_code)]
    // SAFETY: this thread's area (valid for its life), updated by the
    // kernel between instructions.
    let usable = (unsafe { core::ptr::read_volatile(cpu) } as i32) >= 0;
    cache::set_cached_cpu_field(if usable {
        cpu
    } else {
        cache::no_area_cpu_field()
    });
    Some(area.as_ptr())
}

/// The calling thread's current index (`cpu_id` or `mm_cid`) read from its
/// rseq area, or `None` without a registered area: the "inline rseq read".
#[inline(always)]
pub fn current_index(mode: IndexMode) -> Option<u32> {
    thread_index(mode).map(|(_, _, i)| i)
}

/// The calling thread's area, its index field for `mode` and the index read
/// from it, or `None` (no area, or one no longer registered): what a caller
/// of the raw sequences in [`arch`] passes them, with one look-up (a
/// [`thread_area`] then a [`current_index`] would look the area up twice).
#[inline(always)]
pub fn thread_index(mode: IndexMode) -> Option<(*mut Rseq, *const u32, u32)> {
    // The cached area's `cpu_id` read once: >= 0 says registered (the
    // stand-in and an area unregistered behind the component's back read
    // < 0: the look-up, out of line), then the mode's index field (in
    // `cpu_id` mode `cpu_id` again: one load rather than a test of the
    // mode). As `thread_area` then `read_index`, without their second read
    // of `cpu_id`.
    let mut cpu = cache::cached_cpu_field();
    #[allow(unsafe_code)]
    // SAFETY: the cached field is the stand-in's or this thread's area's,
    // both valid for the thread's life; the kernel updates it between
    // instructions, hence volatile.
    if (unsafe { core::ptr::read_volatile(cpu) } as i32) < 0 {
        // A pointer back (a register), not the triple (memory, which the
        // fast path would then go through too).
        cpu = registered_cpu_field_slow()?;
    }
    let area = cpu.cast::<u8>().wrapping_sub(4).cast::<Rseq>();
    let field = area.cast::<u8>().wrapping_add(mode.offset()).cast::<u32>();
    #[allow(unsafe_code)]
    // SAFETY: the same area's `cpu_id` or `mm_cid` field, aligned.
    let i = unsafe { core::ptr::read_volatile(field) };
    Some((area, field, i))
}

/// [`thread_index`] without a usable cached area: the look-up
/// ([`thread_area`]), and the area's `cpu_id` field if it reads >= 0
/// (as [`read_index`] checks).
#[cold]
#[inline(never)]
fn registered_cpu_field_slow() -> Option<*mut u32> {
    let (area, _) = thread_area(IndexMode::CpuId)?;
    let cpu = arch::cpu_field(area);
    #[allow(unsafe_code)]
    // SAFETY: this thread's area, updated by the kernel between
    // instructions.
    let registered = (unsafe { core::ptr::read_volatile(cpu) } as i32) >= 0;
    registered.then_some(cpu)
}

/// The current value of an area's index field (`area` and `index_field`
/// from [`thread_area`]), or `None` when the area is not registered: the
/// kernel writes `cpu_id` = -1 on unregistration (-2 stays in an area whose
/// registration failed) and `mm_cid` then reads 0 in every such thread, so
/// using it would make unprotected writers share slot 0. One load and one
/// sign test of `cpu_id`, which is the index itself in `CpuId` mode.
#[inline(always)]
pub(crate) fn read_index(area: *mut Rseq, index_field: *const u32) -> Option<u32> {
    let cpu_field = area
        .cast::<u8>()
        .wrapping_add(IndexMode::CpuId.offset())
        .cast::<u32>();
    #[allow(unsafe_code)]
    // SAFETY: area is the calling thread's area (from thread_area), aligned;
    // the kernel updates its fields between instructions.
    let cpu = unsafe { core::ptr::read_volatile(cpu_field) };
    if (cpu as i32) < 0 {
        return None;
    }
    if core::ptr::eq(index_field, cpu_field) {
        return Some(cpu);
    }
    #[allow(unsafe_code)]
    // SAFETY: index_field points into the same area, aligned.
    Some(unsafe { core::ptr::read_volatile(index_field) })
}

/// Delay-loop iterations at the three injection points of the stress
/// instantiation's sections (see [`set_injection`]).
static DELAYS: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];
/// Every how many sections the stress instantiation forces an abort (0: never).
static TRAP_EVERY: AtomicUsize = AtomicUsize::new(0);
/// Sections started by the stress instantiation: the forced-abort clock.
static SECTIONS: AtomicUsize = AtomicUsize::new(0);
/// Forced aborts owed: an armed section that left by its compare-failed
/// exit (before the trap point) passes its trap on to a later section.
static TRAPS_OWED: AtomicUsize = AtomicUsize::new(0);
/// Armed sections that came back aborted.
static TRAPS_ABORTED: AtomicUsize = AtomicUsize::new(0);
/// Armed sections that committed: each one is a restart-path failure.
static TRAPS_COMMITTED: AtomicUsize = AtomicUsize::new(0);

/// Sets what every critical section run by the safe API on structures
/// instantiated with `INJECT = true` (the stress test's) injects, in the
/// manner of the kernel's rseq `param_test`: `delay[k]` delay-loop
/// iterations at injection point `k` (after the start, after the area and
/// index checks, between the loads and the commit), and a forced abort in
/// every `trap_every`-th section (0: none): the architecture's trap
/// (`int3`, `brk #0`) at the last point, a
/// `SIGTRAP` to the thread inside the section, which the kernel aborts on
/// delivery. With traps on, the process must have a `SIGTRAP` handler that
/// returns. Structures with the default `INJECT = false` never read any of
/// it: their sequences are emitted without injection points.
pub fn set_injection(delay: [u32; 3], trap_every: usize) {
    for (d, v) in DELAYS.iter().zip(delay) {
        d.store(v, Ordering::Relaxed);
    }
    TRAP_EVERY.store(trap_every, Ordering::Relaxed);
}

/// The same delay at the three injection points, no forced abort.
pub fn set_injected_delay(iterations: usize) {
    let d = iterations.min(u32::MAX as usize) as u32;
    set_injection([d; 3], 0);
}

/// What the stress instantiation's sections did since the last
/// [`take_injection_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InjectionStats {
    /// Sections started.
    pub sections: usize,
    /// Sections armed with a forced abort that came back aborted (by the
    /// trap, or by an earlier abort in the same section).
    pub traps_aborted: usize,
    /// Armed sections that committed: the kernel did not abort a section
    /// interrupted by a signal. Always 0 unless the restart path is broken.
    pub traps_committed: usize,
}

/// Returns and resets the stress instantiation's counts (call it while no
/// such section runs).
pub fn take_injection_stats() -> InjectionStats {
    TRAPS_OWED.store(0, Ordering::Relaxed);
    InjectionStats {
        sections: SECTIONS.swap(0, Ordering::Relaxed),
        traps_aborted: TRAPS_ABORTED.swap(0, Ordering::Relaxed),
        traps_committed: TRAPS_COMMITTED.swap(0, Ordering::Relaxed),
    }
}

/// The injection for the next section of a structure instantiated with
/// `INJECT` (and whether it is armed with a forced abort), or
/// [`arch::Injection::OFF`] without reading anything (every other structure).
#[inline(always)]
pub(crate) fn injection<const INJECT: bool>() -> arch::Injection {
    if INJECT {
        injection_slow()
    } else {
        arch::Injection::OFF
    }
}

#[inline(never)]
fn injection_slow() -> arch::Injection {
    let every = TRAP_EVERY.load(Ordering::Relaxed);
    let n = SECTIONS.fetch_add(1, Ordering::Relaxed);
    let trap = every != 0
        && (n.is_multiple_of(every)
            || TRAPS_OWED
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| o.checked_sub(1))
                .is_ok());
    arch::Injection {
        delay: [0, 1, 2].map(|k| DELAYS[k].load(Ordering::Relaxed)),
        trap: u32::from(trap),
    }
}

/// Accounts for a section of the stress instantiation that ran with `inj`:
/// an armed section aborted (counted), left by its compare-failed exit
/// before the trap point (the trap is owed to a later section), or
/// committed (a failure of the restart path, counted for the stress).
#[inline(always)]
pub(crate) fn injected<const INJECT: bool>(inj: &arch::Injection, r: Outcome) {
    if INJECT && inj.trap != 0 {
        let c = match r {
            Outcome::Aborted => &TRAPS_ABORTED,
            Outcome::CompareFailed => &TRAPS_OWED,
            Outcome::Done => &TRAPS_COMMITTED,
        };
        c.fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use crate::counter::Counter;
    use crate::lock::ReaderLock;
    use crate::pool::Pool;
    use crate::ring::PerCpuRing;
    use std::sync::{Arc, Barrier};

    /// Unregisters the calling thread's area behind the component's back
    /// (a raw `rseq` system call, as an application, a patched libc or a
    /// sandbox may do): the component's TLS still points at the area, which
    /// the kernel no longer updates (`cpu_id` -1, `mm_cid` 0). Returns false
    /// when the thread has no area to begin with.
    fn unregister_behind_the_components_back() -> bool {
        let Some(area) = rseq_registration::current_area() else {
            return false;
        };
        // The registration length is the libc's or the component's: the
        // kernel refuses any other (EINVAL), so try the possible ones
        // (glibc 2.41 registers the feature size itself: 33 under Linux
        // 7.2, not a power of two).
        let ok = (32usize..=256).any(|len| {
            // SAFETY: unregisters this thread's own area; nothing else
            // changes, and the thread never runs a sequence on it again
            // without the checks under test.
            let r = unsafe {
                rseq_abi::arch::syscall4(
                    rseq_abi::arch::nr::RSEQ,
                    area.as_ptr() as usize,
                    len,
                    rseq_abi::RSEQ_FLAG_UNREGISTER as usize,
                    rseq_abi::arch::RSEQ_SIG as usize,
                )
            };
            r == 0
        });
        assert!(ok, "could not unregister the area");
        // SAFETY: the thread's area, still mapped (TLS).
        let cpu = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*area.as_ptr()).cpu_id)) };
        assert_eq!(cpu as i32, -1, "the kernel marks an unregistered area");
        true
    }

    /// A thread whose area the kernel no longer has registered takes every
    /// fallback path, in both index modes, while the component still has
    /// the area's pointer; and its increments, racing registered threads in
    /// mm_cid mode (where the stale `mm_cid` reads 0, the slot of a
    /// registered thread), are all counted.
    #[test]
    fn unregistered_area_takes_the_fallback_everywhere() {
        let counter = Arc::new(Counter::<64>::new(IndexMode::MmCid));
        let start = Arc::new(Barrier::new(3));
        const INCS: u64 = 2_000_000;
        let workers: Vec<_> = (0..3)
            .map(|t| {
                let (counter, start) = (counter.clone(), start.clone());
                std::thread::spawn(move || {
                    // Thread 0 uses every structure first, in both modes, so
                    // that its area is cached (the fast paths' TLS pointer)
                    // when the kernel stops updating it.
                    let warm = t == 0 && rseq_registration::current_area().is_some();
                    if warm {
                        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
                            let c = Counter::<64>::new(mode);
                            assert!(matches!(c.inc(), Where::Slot(_)), "{mode:?}");
                            let r = PerCpuRing::<4, 4>::with_mode(mode);
                            assert!(matches!(r.write(b"x"), Ok(Where::Slot(_))), "{mode:?}");
                        }
                        assert_ne!(cache::cached_cpu_field(), cache::no_area_cpu_field());
                    }
                    if warm && unregister_behind_the_components_back() {
                        assert!(!rseq_registration::area().is_null());
                        let stale = arch::cpu_field(rseq_registration::area());
                        // Each fast path meets the stale area still cached
                        // (as a thread would right after the kernel dropped
                        // its registration): its own checks must refuse it.
                        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
                            cache::set_cached_cpu_field(stale);
                            let c = Counter::<64>::new(mode);
                            assert_eq!(c.inc(), Where::Fallback, "{mode:?}");
                            assert_eq!(c.slot_value(Where::Slot(0)), 0, "{mode:?}");
                            cache::set_cached_cpu_field(stale);
                            let r = PerCpuRing::<4, 4>::with_mode(mode);
                            assert_eq!(r.write(b"x"), Ok(Where::Fallback), "{mode:?}");
                            cache::set_cached_cpu_field(stale);
                            let p: Pool<64> = Pool::new(mode, 16, 8);
                            let mem: &'static mut [u64] = Vec::leak(vec![0u64; 8]);
                            // SAFETY: a leaked u64 buffer seen as bytes.
                            let bytes = unsafe {
                                std::slice::from_raw_parts_mut(mem.as_mut_ptr().cast::<u8>(), 64)
                            };
                            assert_eq!(p.add_storage(bytes), Ok(4));
                            let o = p.alloc().expect("object");
                            cache::set_cached_cpu_field(stale);
                            // SAFETY: from this pool, not used after.
                            unsafe { p.free(o) };
                            assert_eq!(p.global_len(), 4, "{mode:?}: a per-CPU list was used");
                            cache::set_cached_cpu_field(stale);
                            assert_eq!(p.alloc().map(|_| ()), Some(()), "{mode:?}");
                            assert_eq!(p.global_len(), 3, "{mode:?}: a per-CPU list was used");
                            // Handles made on the stale area (before a
                            // section saw it): their sections refuse it too,
                            // in cpu_id mode by the bound check alone (no
                            // cpu_id test of their own), and their slow
                            // paths leave them on the stand-in.
                            cache::set_cached_cpu_field(stale);
                            let c = Counter::<64>::new(mode);
                            let mut h = c.handle();
                            assert_eq!(h.inc(), Where::Fallback, "{mode:?}: counter handle");
                            assert_eq!(h.add(2), Where::Fallback, "{mode:?}: counter handle");
                            assert_eq!(c.slot_value(Where::Slot(0)), 0, "{mode:?}: counter handle");
                            assert_eq!(c.read(), 3, "{mode:?}: counter handle");
                            cache::set_cached_cpu_field(stale);
                            let p: Pool<64> = Pool::new(mode, 16, 8);
                            let mem: &'static mut [u64] = Vec::leak(vec![0u64; 8]);
                            // SAFETY: a leaked u64 buffer seen as bytes.
                            let bytes = unsafe {
                                std::slice::from_raw_parts_mut(mem.as_mut_ptr().cast::<u8>(), 64)
                            };
                            assert_eq!(p.add_storage(bytes), Ok(4));
                            let mut ph = p.handle();
                            let o = ph.alloc().expect("object");
                            assert_eq!(p.global_len(), 3, "{mode:?}: pool handle");
                            // SAFETY: from this pool, not used after.
                            unsafe { ph.free(o) };
                            assert_eq!(
                                p.global_len(),
                                4,
                                "{mode:?}: pool handle: a per-CPU list was used"
                            );
                        }
                        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
                            assert_eq!(current_index(mode), None, "{mode:?}");
                            let s = Slots::<64>::new(mode);
                            assert_eq!(s.current(), Where::Fallback, "{mode:?}");
                            // An index given from outside: the section
                            // itself refuses the area.
                            assert_eq!(s.add(Where::Slot(0), 1), Outcome::Aborted, "{mode:?}");
                            assert_eq!(s.compare_store(Where::Slot(0), 0, 1), Outcome::Aborted);
                            assert_eq!(
                                s.compare_store_store(Where::Slot(0), 0, 1, 1),
                                Outcome::Aborted
                            );
                            assert_eq!(s.add_current(1), Where::Fallback, "{mode:?}");
                            assert_eq!(s.update(|w| Some(w + 1)).0, Where::Fallback);
                            assert_eq!(s.sum(), 2);
                            let c = Counter::<64>::new(mode);
                            assert_eq!(c.inc(), Where::Fallback, "{mode:?}");
                            let r = PerCpuRing::<4, 4>::with_mode(mode);
                            assert_eq!(r.write(b"x"), Ok(Where::Fallback), "{mode:?}");
                            let l = ReaderLock::<64>::new(mode);
                            assert_eq!(l.read_lock(), Where::Fallback, "{mode:?}");
                            // SAFETY: the read lock taken just above.
                            unsafe { l.read_unlock() };
                            assert_eq!(l.readers_inside(), 0);
                            let p: Pool<64> = Pool::new(mode, 16, 8);
                            let mem: &'static mut [u64] = Vec::leak(vec![0u64; 8]);
                            // SAFETY: a leaked u64 buffer seen as bytes.
                            let bytes = unsafe {
                                std::slice::from_raw_parts_mut(mem.as_mut_ptr().cast::<u8>(), 64)
                            };
                            assert_eq!(p.add_storage(bytes), Ok(4));
                            let o = p.alloc().expect("object");
                            // SAFETY: from this pool, not used after.
                            unsafe { p.free(o) };
                            assert_eq!(p.global_len(), 4, "{mode:?}: a per-CPU list was used");
                        }
                        // The slow paths dropped the unregistered area from
                        // the cache.
                        assert_eq!(cache::cached_cpu_field(), cache::no_area_cpu_field());
                    }
                    start.wait();
                    for i in 0..INCS {
                        counter.inc();
                        if i % 65536 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(counter.read(), 3 * INCS);
    }
}

/// The crate's README (crates.io's page): its example runs as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
