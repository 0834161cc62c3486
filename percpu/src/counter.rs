//! Per-CPU statistics counter: increment and add are one restartable
//! sequence each (load-add-store at the current CPU's slot, index read inside
//! the section); read sums the slots; reset moves the origin forward.

use crate::{IndexMode, Slots, Where};
use core::sync::atomic::{AtomicU64, Ordering};

/// A statistics counter with `N` per-CPU slots and a fallback slot.
///
/// Totals are exact under any interleaving: each increment lands in exactly
/// one slot, by a committed sequence or an atomic add. [`Counter::read`]
/// during concurrent updates sees each of them or not, never half of one.
///
/// # Reset under concurrency
///
/// [`Counter::reset`] is a read-and-clear: it returns the increments counted
/// since the previous reset and starts a new period. Every increment is
/// counted by exactly one period: the values returned by all resets, plus
/// the final [`Counter::read`] once updates stop, add up to the sum of all
/// increments, whatever the interleaving of increments, reads and resets
/// (concurrent resets included: each returns its own part, none is counted
/// twice, no value wraps). An increment concurrent with a reset lands in
/// the period it ends or in the next one. A read concurrent with a reset
/// returns the total of the period before or of the new one (never a
/// negative, wrapped, value).
///
/// How: slots only grow (wrapping at 2^64), and the origin (the sum at the
/// last reset) only moves forward: a reset sums the slots after loading the
/// origin, so its sum is at least that origin, and installs it with a
/// compare-exchange, retrying (with a new sum) if another reset moved the
/// origin in between. Periods are therefore consecutive, disjoint ranges
/// of the running sum. Totals are exact modulo 2^64.
///
/// # Example
///
/// Periods of a counter that keeps counting: each reset returns the
/// increments of the period it ends.
///
/// ```
/// use rseq_percpu::{counter::Counter, IndexMode};
///
/// let requests = Counter::<64>::new(IndexMode::best_available());
/// requests.add(5);
/// requests.inc();
/// assert_eq!(requests.read(), 6);
/// assert_eq!(requests.reset(), 6); // the first period
/// requests.add(3);
/// assert_eq!(requests.read(), 3);
/// assert_eq!(requests.reset(), 3); // the second one
/// assert_eq!(requests.read(), 0);
/// ```
#[repr(C)] // Layout shared with the inline C header (see `SLOTS_OFFSET`).
#[derive(Debug)]
pub struct Counter<const N: usize, const INJECT: bool = false> {
    slots: Slots<N, INJECT>,
    origin: AtomicU64,
}

impl<const N: usize, const INJECT: bool> Default for Counter<N, INJECT> {
    fn default() -> Self {
        Self::new(IndexMode::CpuId)
    }
}

impl<const N: usize, const INJECT: bool> Counter<N, INJECT> {
    /// Byte offset of the slots ([`Slots`]) in the counter: the inline C
    /// header (`headers/rseq-percpu-inline.h`) updates them in place.
    pub const SLOTS_OFFSET: usize = core::mem::offset_of!(Self, slots);

    /// A zero counter indexed by `mode`.
    pub fn new(mode: IndexMode) -> Self {
        Counter {
            slots: Slots::new(mode),
            origin: AtomicU64::new(0),
        }
    }

    /// A zero counter indexed by `cpu_id` (usable in a `static`).
    pub const fn new_cpu_id() -> Self {
        Counter {
            slots: Slots::with_mode(IndexMode::CpuId),
            origin: AtomicU64::new(0),
        }
    }

    /// Initializes the memory at `p` as a zero counter indexed by `mode`
    /// (as given), without building it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self, mode: IndexMode) {
        // SAFETY: the caller's contract; `origin` is an atomic, valid at 0.
        unsafe {
            Slots::init_in_place(core::ptr::addr_of_mut!((*p).slots), mode);
            core::ptr::addr_of_mut!((*p).origin).write(AtomicU64::new(0));
        }
    }

    /// Adds one; returns where.
    #[inline(always)]
    pub fn inc(&self) -> Where {
        self.slots.add_current(1)
    }

    /// Adds `n`; returns where.
    #[inline(always)]
    pub fn add(&self, n: u64) -> Where {
        self.slots.add_current(n as usize)
    }

    /// This counter bound to the calling thread: a [`CounterHandle`],
    /// whose increments skip the per-call look-ups of [`Counter::inc`]
    /// (the thread's cached area, the counter's mode byte) and, in
    /// `cpu_id` mode, the section's own `cpu_id >= 0` test. For a loop or
    /// a function that counts many times.
    pub fn handle(&self) -> CounterHandle<'_, N, INJECT> {
        CounterHandle {
            counter: self,
            cpu: crate::cache::cached_cpu_field(),
            mode_offset: self.slots.mode().offset(),
        }
    }

    /// The total since creation or the last [`Counter::reset`].
    pub fn read(&self) -> u64 {
        // The origin first: a sum taken after it is at least the origin
        // (see the type's documentation), so the difference never wraps.
        let origin = self.origin.load(Ordering::Acquire);
        (self.slots.sum() as u64).wrapping_sub(origin)
    }

    /// The value of one slot (statistics per CPU).
    pub fn slot_value(&self, at: Where) -> u64 {
        self.slots.load(at) as u64
    }

    /// Read-and-clear: returns the increments counted since the previous
    /// reset (or creation) and restarts the total from zero. Concurrent
    /// resets each return a disjoint part: every increment is returned by
    /// exactly one reset or counted by the reads after the last one (see
    /// the type's documentation).
    pub fn reset(&self) -> u64 {
        // Acquire: the slot loads of the reset that stored this origin
        // happen before ours, so ours see the same or later values and the
        // sum is never behind the origin.
        let mut origin = self.origin.load(Ordering::Acquire);
        loop {
            let sum = self.slots.sum() as u64;
            match self
                .origin
                .compare_exchange(origin, sum, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return sum.wrapping_sub(origin),
                // Another reset ended the period first: count from its end.
                Err(moved) => origin = moved,
            }
        }
    }
}

/// A [`Counter`] bound to the thread that made it ([`Counter::handle`]):
/// the thread's cached area and the counter's index mode, read once and
/// kept by the caller (in registers, in a loop), so that an increment is
/// the restartable sequence alone. The same guarantees as
/// [`Counter::inc`]: the section reads and bound-checks the index itself
/// (a negative `cpu_id`, an unregistered area or the stand-in of a thread
/// without one, fails the bound in `cpu_id` mode; `mm_cid` mode keeps the
/// section's `cpu_id >= 0` test), and every other case (an abort, no
/// area, an index beyond `N`) takes the same slow path, after which the
/// handle holds the thread's area anew (a thread that gets its area after
/// making the handle uses it from then on).
///
/// Not `Send` nor `Sync` (it holds a pointer into this thread's area):
/// another thread makes its own.
///
/// ```
/// use rseq_percpu::{counter::Counter, IndexMode};
///
/// let events = Counter::<64>::new(IndexMode::best_available());
/// let mut h = events.handle();
/// for _ in 0..1000 {
///     h.inc();
/// }
/// assert_eq!(events.read(), 1000);
/// ```
#[derive(Debug)]
pub struct CounterHandle<'a, const N: usize, const INJECT: bool = false> {
    counter: &'a Counter<N, INJECT>,
    /// The calling thread's cached `cpu_id` field (or the stand-in's).
    cpu: *mut u32,
    /// The counter's index field offset (4 `cpu_id`, 24 `mm_cid`).
    mode_offset: usize,
}

impl<const N: usize, const INJECT: bool> CounterHandle<'_, N, INJECT> {
    /// Adds one; returns where.
    #[inline(always)]
    pub fn inc(&mut self) -> Where {
        self.add(1)
    }

    /// Adds `n`; returns where.
    #[inline(always)]
    pub fn add(&mut self, n: u64) -> Where {
        // SAFETY: cpu is this thread's cached field (the handle is not
        // Send: made by this thread) or the stand-in's, kept current by
        // add_current_on; mode_offset is the counter's.
        unsafe {
            self.counter
                .slots
                .add_current_on(&mut self.cpu, self.mode_offset, n as usize)
        }
    }

    /// The counter.
    pub fn counter(&self) -> &Counter<N, INJECT> {
        self.counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn exact_total_many_threads_both_modes() {
        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
            let c = Arc::new(Counter::<64>::new(mode));
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        for i in 0..20_000u64 {
                            if i % 2 == 0 {
                                c.inc();
                            } else {
                                c.add(t + 1);
                            }
                            if i % 4096 == 0 {
                                std::thread::yield_now();
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let expect: u64 = (0..8u64).map(|t| 10_000 + 10_000 * (t + 1)).sum();
            assert_eq!(c.read(), expect, "{mode:?}");
            assert_eq!(c.reset(), expect);
            assert_eq!(c.read(), 0);
            c.add(5);
            assert_eq!(c.read(), 5);
        }
    }

    /// Handles (one per thread, as they are meant to be used) count
    /// exactly, in both modes, racing each other and `Counter::inc`.
    #[test]
    fn handles_count_exactly_both_modes() {
        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
            let c = Arc::new(Counter::<64>::new(mode));
            let threads: Vec<_> = (0..6u64)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        let mut h = c.handle();
                        for i in 0..20_000u64 {
                            match (t % 3, i % 2) {
                                (0, _) => {
                                    c.inc();
                                }
                                (_, 0) => {
                                    h.inc();
                                }
                                _ => {
                                    h.add(t + 1);
                                }
                            }
                            if i % 4096 == 0 {
                                std::thread::yield_now();
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let expect: u64 = (0..6u64)
                .map(|t| {
                    if t % 3 == 0 {
                        20_000
                    } else {
                        10_000 + 10_000 * (t + 1)
                    }
                })
                .sum();
            assert_eq!(c.read(), expect, "{mode:?}");
        }
    }

    /// A handle made while the thread's cache holds the stand-in (its
    /// first use of the component) counts exactly, and once its slow path
    /// has looked the area up it holds the area: its next increment
    /// commits on a slot.
    #[test]
    fn a_handle_made_without_an_area_holds_it_after_its_slow_path() {
        std::thread::spawn(|| {
            for mode in [IndexMode::CpuId, IndexMode::MmCid] {
                let c = Counter::<64>::new(mode);
                crate::cache::set_cached_cpu_field(crate::cache::no_area_cpu_field());
                let mut h = c.handle();
                assert_eq!(h.cpu, crate::cache::no_area_cpu_field());
                h.inc();
                if crate::thread_area(mode).is_some() {
                    assert_ne!(h.cpu, crate::cache::no_area_cpu_field(), "{mode:?}");
                    assert!(matches!(h.inc(), Where::Slot(_)), "{mode:?}");
                } else {
                    h.inc();
                }
                assert_eq!(c.read(), 2, "{mode:?}");
            }
        })
        .join()
        .unwrap();
    }

    /// Resetting threads race incrementing threads and readers: every
    /// increment is returned by exactly one reset or counted by the final
    /// read, and no reset or read returns a wrapped (negative) value.
    #[test]
    fn concurrent_resets_partition_the_increments() {
        const INCS: u64 = 200_000;
        for mode in [IndexMode::CpuId, IndexMode::MmCid] {
            let c = Arc::new(Counter::<64>::new(mode));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let incs: Vec<_> = (0..3u64)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        for i in 0..INCS {
                            if t == 0 {
                                c.add(2);
                            } else {
                                c.inc();
                            }
                            if i % 8192 == 0 {
                                std::thread::yield_now();
                            }
                        }
                    })
                })
                .collect();
            let total = INCS * 4;
            let resetters: Vec<_> = (0..3)
                .map(|r| {
                    let (c, done) = (c.clone(), done.clone());
                    std::thread::spawn(move || {
                        let (mut got, mut n) = (0u64, 0u64);
                        while !done.load(Ordering::Relaxed) || n < 1000 {
                            // One of three only reads: a read racing resets
                            // never exceeds what was incremented.
                            let v = if r == 2 { c.read() } else { c.reset() };
                            assert!(v <= total, "{mode:?}: wrapped or double count: {v}");
                            if r != 2 {
                                got += v;
                            }
                            n += 1;
                        }
                        got
                    })
                })
                .collect();
            for t in incs {
                t.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            let returned: u64 = resetters.into_iter().map(|h| h.join().unwrap()).sum();
            let rest = c.read();
            assert_eq!(
                returned + rest,
                total,
                "{mode:?}: {returned} reset + {rest} read"
            );
        }
    }

    #[test]
    fn uses_per_cpu_slot_when_registered() {
        let c = Counter::<1024>::new(IndexMode::CpuId);
        let at = c.inc();
        if rseq_registration::current_area().is_some() {
            let Where::Slot(i) = at else {
                panic!("registered thread used the fallback slot")
            };
            assert_eq!(c.slot_value(Where::Slot(i)), 1);
        } else {
            assert_eq!(at, Where::Fallback);
        }
        assert_eq!(c.read(), 1);
    }

    #[test]
    fn small_capacity_overflows_to_fallback_exactly() {
        // One slot: every thread not on CPU 0 goes to the fallback slot.
        let c = Arc::new(Counter::<1>::new(IndexMode::CpuId));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    (0..10_000).for_each(|_| {
                        c.inc();
                    })
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(c.read(), 40_000);
    }
}
