//! Per-CPU statistics counter: increment and add are one restartable
//! sequence each (load-add-store at the current CPU's slot, index read inside
//! the section); read sums the slots; reset moves the origin.

use crate::{IndexMode, Slots, Where};
use core::sync::atomic::{AtomicU64, Ordering};

/// A statistics counter with `N` per-CPU slots and a fallback slot.
///
/// Totals are exact under any interleaving: each increment lands in exactly
/// one slot, by a committed sequence or an atomic add. [`Counter::read`]
/// during concurrent updates sees each of them or not, never half of one.
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

    /// The total since creation or the last [`Counter::reset`].
    pub fn read(&self) -> u64 {
        (self.slots.sum() as u64).wrapping_sub(self.origin.load(Ordering::Relaxed))
    }

    /// The value of one slot (statistics per CPU).
    pub fn slot_value(&self, at: Where) -> u64 {
        self.slots.load(at) as u64
    }

    /// Restarts the total from zero: increments after the reset are counted,
    /// increments concurrent with it may or may not be. Returns the total
    /// before the reset.
    pub fn reset(&self) -> u64 {
        let sum = self.slots.sum() as u64;
        let old = self.origin.swap(sum, Ordering::Relaxed);
        sum.wrapping_sub(old)
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
