//! Per-CPU read-copy-update: grace periods tracked by per-CPU counters in
//! restartable sequences, as the kernel's SRCU, with the read-side fences
//! moved to the writer (`membarrier`).
//!
//! # Design
//!
//! An [`Rcu`] holds, per CPU (or concurrency id) slot, four counters in one
//! cache line: the lock and unlock counts of the two *periods* (index 0 and
//! 1), and the current period in a read-mostly word.
//!
//! - **Read lock**: load the current period `i`, then one restartable
//!   sequence adding 1 to `lock[i]` of the slot of the CPU the thread runs
//!   on (the index read inside the section: the counter's `add_slot`
//!   sequence). Returns `i` ([`ReadToken`]). No registration, no atomic
//!   instruction, no fence: any thread (one a library did not create, a
//!   thread before its constructors ran), a signal handler, a nested
//!   section.
//! - **Read unlock**: adds 1 to `unlock[i]` of the slot of the CPU the
//!   thread runs on *now* (it may have migrated: only the sums over all
//!   slots have a meaning, never one slot's counts).
//! - **Grace period** ([`Rcu::synchronize`]): under the writers' mutex,
//!   wait until the *inactive* period has drained, flip the current period,
//!   wait until the old one has drained. A period `j` has drained when
//!   `sum(unlock[j])`, taken first, equals `sum(lock[j])`, taken after a
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`. Between two checks the
//!   writer sleeps (a futex wait with a timeout that doubles, 20 µs to
//!   1 ms), it does not spin. The cost is O(slots): sums over the slots of
//!   the possible CPUs, never a walk over threads.
//! - **Shared grace periods**: a caller notes the number of grace periods
//!   started when it enters and needs one that starts after that; waiting
//!   callers that wake up to find one completed return at once, so any
//!   number of concurrent callers costs about two grace periods.
//! - **Deferred reclamation**: [`Rcu::call`] queues a callback on a
//!   lock-free list; every [`DEFER_BATCH`]-th queued callback makes the
//!   caller run a batch (one grace period, then the callbacks), as
//!   liburcu's `defer_rcu`; [`Rcu::barrier`] runs every callback queued
//!   before it, after a grace period.
//!
//! # Why the drained check is right (the SRCU argument)
//!
//! Reader: `L` (increment `lock[i]`), `B`, the protected loads, `C`, `U`
//! (increment `unlock[i]`). Checker of period `j`: sum `unlock[j]`, `A`,
//! sum `lock[j]`. In SRCU, `A`, `B` and `C` are `smp_mb()`. Here `B` and `C`
//! are compiler barriers only (the section's `asm!` clobbers memory) and
//! `A` is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: every CPU running
//! a thread of the process executes a full barrier before it returns, and
//! a thread not running passed through the scheduler's full barriers. For
//! every reader, `A` is thus ordered with the reader's program order as a
//! full barrier on the reader's CPU would be (liburcu's `memb` flavor rests
//! on the same guarantee): either the reader's accesses before its
//! compiler barrier are visible to the writer after `A`, or the reader's
//! accesses after it see the writer's stores before `A`.
//!
//! 1. An unlock counted by the first sum was preceded by its lock, which
//!    the second sum (after `A`) therefore counts: a reader is never counted
//!    as having left without having entered, so `sum(lock) == sum(unlock)`
//!    says that every section whose `L` the writer saw had done its `U`.
//! 2. A section whose `L` the second sum missed runs its protected loads
//!    after `A`: it sees the writer's removal (stored before the grace
//!    period started), so it cannot reach what the grace period protects.
//! 3. A section whose `U` the first sum saw has finished its protected
//!    loads before that (`C`, and `A` before the writer frees anything).
//! 4. Counting in the wrong period: a reader loads the period, may be
//!    preempted, then increments `lock[old]` after the flip. Point 2 makes
//!    it harmless for the grace period that flipped, but it is still
//!    inside when the *next* grace period flips back to `old` as current
//!    and waits only for the other period. Hence the first wait, for the
//!    inactive period before the flip: every section counted in it, late
//!    or not, has left before the flip, as in SRCU's
//!    `srcu_advance_state()` (check, flip, check). A late increment can
//!    happen at most twice per thread after a flip (the kernel's
//!    `srcu_readers_active_idx_check()` comment counts them), so the
//!    counts never run far enough for equal sums to hide a reader.
//!
//! Sums wrap (`usize` arithmetic modulo 2^64): only their equality is
//! tested, so a counter that wraps in a long run changes nothing.
//!
//! Slots counted: every slot below the kernel's number of possible CPUs
//! (`nr_cpu_ids`: `/sys/devices/system/cpu/possible`, else the size
//! `sched_getaffinity` copies out, rounded up to 64), and the fallback. A CPU taken offline keeps its slot's counts,
//! which still enter the sums: a reader that locked there and unlocks
//! elsewhere balances the sum, not the slot. Indexes are below
//! `nr_cpu_ids` in both modes (`mm_cid` is below the number of CPUs too).
//!
//! # Fallback
//!
//! A thread without a registered rseq area, or whose index is beyond the
//! slots, counts itself in the fallback line with sequentially consistent
//! atomic adds and a full fence after the lock (SRCU's `smp_mb()` `B` and
//! `C`). So does every reader while the process cannot use `membarrier`
//! (kernel without `MEMBARRIER_CMD_PRIVATE_EXPEDITED`, or seccomp): the
//! period word's [`FENCED`] bit stays set and the writer's `A` is a plain
//! full fence. The bit is cleared only after this process registered for
//! the command, which is permanent: from then on every writer uses it.
//!
//! If `membarrier` stops working after the process registered (a seccomp
//! filter installed later refuses it), the writer's `A` becomes a visit of
//! every CPU its affinity allows (it runs there in turn, as the remote
//! fences' fallback does): correct for readers on those CPUs, not for a
//! reader on a CPU the writer may not run on. Readers keep their fence-free
//! path (the period's [`FENCED`] bit is never set again).
//!
//! # Rules
//!
//! Neither [`Rcu::synchronize`] nor [`Rcu::barrier`] may be called inside a
//! read-side section (it would wait for itself), from a signal handler, or
//! from a callback (`barrier`). Read sections may nest and may run in
//! signal handlers; each [`Rcu::read_lock`] is matched by exactly one
//! [`Rcu::read_unlock`] with its token.

use crate::{arch, cache, count_abort, injected, injection, thread_area, IndexMode, Outcome};
use core::sync::atomic::{
    compiler_fence, fence, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// Index of the lock counters in a slot line (period `i` at `LOCK + i`).
const LOCK: usize = 0;
/// Index of the unlock counters in a slot line (period `i` at `UNLOCK + i`).
const UNLOCK: usize = 2;

/// Bit of the period word: readers must count in the fallback line with
/// fences (the process cannot use `membarrier`, or did not try yet).
pub const FENCED: usize = 2;

/// Every this many queued callbacks, [`Rcu::call`] runs a batch.
pub const DEFER_BATCH: usize = 1024;

/// One slot: the lock and unlock counts of both periods, in one cache line
/// (a grace period check reads one line per slot).
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct RcuSlot {
    /// `lock[0]`, `lock[1]`, `unlock[0]`, `unlock[1]`.
    counts: [AtomicUsize; 4],
    _pad: [AtomicUsize; 4],
}

impl RcuSlot {
    /// Counter `k` (`LOCK + i` or `UNLOCK + i`), masked: no bounds check
    /// (the C API's objects link no panic machinery).
    #[inline(always)]
    fn counter(&self, k: usize) -> &AtomicUsize {
        &self.counts[k & 3]
    }
}

/// The words every reader loads: the period (bit 0) and [`FENCED`], the
/// index mode. One line, written by a grace period's flip only.
#[repr(C, align(64))]
#[derive(Debug)]
struct ReadSide {
    period: AtomicUsize,
    mode: IndexMode,
}

/// The writers' state, on a line of its own so that synchronizers never
/// write the readers' line but to flip.
#[repr(C, align(64))]
#[derive(Debug)]
struct WriteSide {
    /// Futex mutex of grace periods (0 free, 1 held, 2 held with waiters).
    gp_lock: AtomicU32,
    /// Futex mutex of callback batches.
    reclaim_lock: AtomicU32,
    /// A futex word nobody wakes: the timed sleep between two checks.
    nap: AtomicU32,
    /// Grace periods started / completed (wrapping).
    started: AtomicU64,
    completed: AtomicU64,
    /// Queued callbacks (a stack, newest first) and how many.
    deferred: AtomicPtr<RcuHead>,
    deferred_count: AtomicUsize,
}

/// A callback's link, embedded in the object it reclaims (the kernel's
/// `struct rcu_head`; `struct rseq_percpu_rcu_head` in C).
#[repr(C)]
#[derive(Debug)]
pub struct RcuHead {
    next: *mut RcuHead,
    func: Option<unsafe extern "C" fn(*mut RcuHead)>,
}

impl RcuHead {
    /// An unqueued head.
    pub const fn new() -> Self {
        RcuHead {
            next: core::ptr::null_mut(),
            func: None,
        }
    }
}

impl Default for RcuHead {
    fn default() -> Self {
        Self::new()
    }
}

/// The period a read-side section counted itself in: hand it back to
/// [`Rcu::read_unlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadToken(usize);

impl ReadToken {
    /// The period (0 or 1): the C API's return value.
    pub fn period(self) -> usize {
        self.0
    }

    /// The token of period `p` (0 or 1), or `None`.
    pub fn from_period(p: usize) -> Option<Self> {
        (p < 2).then_some(ReadToken(p))
    }
}

/// Per-CPU read-copy-update with `N` slots (see the module documentation).
/// `INJECT`: the stress-test instantiation.
///
/// # Example
///
/// A configuration pointer that readers use without any lock, and a
/// writer that replaces it and frees the old one after a grace period.
///
/// ```
/// use rseq_percpu::{rcu::Rcu, IndexMode};
/// use std::sync::atomic::{AtomicPtr, Ordering};
///
/// let rcu = Rcu::<64>::new(IndexMode::best_available());
/// let config = AtomicPtr::new(Box::into_raw(Box::new(1u64)));
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for _ in 0..1000 {
///             let _guard = rcu.read();
///             // SAFETY: the object is freed only after a grace period
///             // that follows its replacement, and this section started
///             // before that grace period ended.
///             let v = unsafe { *config.load(Ordering::Acquire) };
///             assert!(v >= 1);
///         }
///     });
///     for v in 2..20u64 {
///         let old = config.swap(Box::into_raw(Box::new(v)), Ordering::AcqRel);
///         rcu.synchronize();
///         // SAFETY: no reader can still hold `old`.
///         drop(unsafe { Box::from_raw(old) });
///     }
/// });
/// // SAFETY: the last value, no reader left.
/// drop(unsafe { Box::from_raw(config.load(Ordering::Relaxed)) });
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct Rcu<const N: usize, const INJECT: bool = false> {
    slots: [RcuSlot; N],
    fallback: RcuSlot,
    read: ReadSide,
    write: WriteSide,
}

impl<const N: usize, const INJECT: bool> Default for Rcu<N, INJECT> {
    fn default() -> Self {
        Self::new(IndexMode::CpuId)
    }
}

impl<const N: usize, const INJECT: bool> Rcu<N, INJECT> {
    /// Bytes between consecutive slots.
    pub const STRIDE: usize = 64;
    /// Byte offset of the fallback line (its counters as the slots').
    pub const FALLBACK_OFFSET: usize = core::mem::offset_of!(Self, fallback);
    /// Byte offset of the period word (the inline C header loads it).
    pub const PERIOD_OFFSET: usize =
        core::mem::offset_of!(Self, read) + core::mem::offset_of!(ReadSide, period);
    /// Byte offset of the mode byte (the index field's offset in the area).
    pub const MODE_OFFSET: usize =
        core::mem::offset_of!(Self, read) + core::mem::offset_of!(ReadSide, mode);
    /// Byte offset, in a slot, of `lock[0]` (`lock[1]` 8 bytes further).
    pub const LOCK_OFFSET: usize = LOCK * 8;
    /// Byte offset, in a slot, of `unlock[0]` (`unlock[1]` 8 bytes further).
    pub const UNLOCK_OFFSET: usize = UNLOCK * 8;

    /// `64 * N`: the bound of the slot offsets `add_slot` may add at.
    const SLOT_LIMIT: u32 = {
        assert!(N < 1 << 25, "Rcu: N must be below 2^25");
        (N * Self::STRIDE) as u32
    };

    /// An idle instance indexed by `mode` (degraded to `CpuId` when the
    /// kernel lacks `mm_cid`); registers the process for `membarrier` (once)
    /// so that readers take the fence-free path from the start.
    pub fn new(mode: IndexMode) -> Self {
        let r = Self::with_mode(mode.or_supported());
        r.enable_fence_free();
        r
    }

    /// An idle instance indexed by `mode` as given (usable in a `static`):
    /// its readers count in the fallback line until the first reader or
    /// grace period registers the process for `membarrier`.
    pub const fn with_mode(mode: IndexMode) -> Self {
        #[allow(clippy::declare_interior_mutable_const)] // array initializer
        const ZERO: RcuSlot = RcuSlot {
            counts: [const { AtomicUsize::new(0) }; 4],
            _pad: [const { AtomicUsize::new(0) }; 4],
        };
        Rcu {
            slots: [ZERO; N],
            fallback: ZERO,
            read: ReadSide {
                period: AtomicUsize::new(FENCED),
                mode,
            },
            write: WriteSide {
                gp_lock: AtomicU32::new(0),
                reclaim_lock: AtomicU32::new(0),
                nap: AtomicU32::new(0),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                deferred: AtomicPtr::new(core::ptr::null_mut()),
                deferred_count: AtomicUsize::new(0),
            },
        }
    }

    /// Initializes the memory at `p` as an idle instance indexed by `mode`
    /// (as given), without building it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self, mode: IndexMode) {
        // SAFETY: the caller's contract; all-zero bytes are a valid value of
        // every field but the mode and the period (atomics, null pointer),
        // written next.
        unsafe {
            core::ptr::write_bytes(p.cast::<u8>(), 0, core::mem::size_of::<Self>());
            core::ptr::addr_of_mut!((*p).read.mode).write(mode);
            core::ptr::addr_of_mut!((*p).read.period).write(AtomicUsize::new(FENCED));
            (*p).enable_fence_free();
        }
    }

    /// The index field the slots use.
    pub fn mode(&self) -> IndexMode {
        self.read.mode
    }

    /// Clears [`FENCED`] once the process is registered for `membarrier`;
    /// whether readers may skip their fences.
    fn enable_fence_free(&self) -> bool {
        if !membarrier_ready() {
            return false;
        }
        // Release: nothing to publish but the bit; a reader that sees it
        // cleared counts fence-free, which every writer's check now covers
        // (the registration is permanent for the process: see the module
        // documentation).
        self.read.period.fetch_and(!FENCED, Ordering::Release);
        true
    }

    /// Address of the counter `k` (`LOCK + i` or `UNLOCK + i`) of slot 0;
    /// slot `s`'s is `STRIDE * s` bytes further.
    #[inline(always)]
    fn counter_base(&self, k: usize) -> *mut u8 {
        // Slot 0's line, then the counter's word in it: in bounds of
        // `slots` for N >= 1; for N = 0 `add_slot` never adds (limit 0).
        (self.slots.as_ptr() as *mut u8).wrapping_add(8 * k)
    }

    /// Adds 1 to counter `k` of the calling thread's current slot, one
    /// restartable sequence; true when it committed, false when the thread
    /// must take the fallback (no area, index beyond N). Retries aborts.
    #[inline(always)]
    fn count_fast(&self, k: usize) -> Result<(), bool> {
        let inj = injection::<INJECT>();
        // SAFETY: the cached cpu_id field is this thread's area's or the
        // stand-in's, and the mode byte is 4 or 24 (IndexMode); counter k
        // of slot s is at counter_base(k) + 64 * s, inside slot s's line
        // for 64 * s < SLOT_LIMIT = 64 * N, and only written by sequences
        // committing on index s.
        let off = unsafe {
            arch::add_slot::<INJECT>(
                cache::cached_cpu_field(),
                self.read.mode.offset(),
                self.counter_base(k),
                Self::SLOT_LIMIT,
                1,
                &inj,
            )
        };
        if INJECT {
            let r = match off {
                0.. => Outcome::Done,
                -1 => Outcome::Aborted,
                _ => Outcome::CompareFailed,
            };
            injected::<INJECT>(&inj, r);
        }
        match off {
            0.. => Ok(()),
            -1 => Err(true),
            _ => Err(false),
        }
    }

    /// Enters a read-side section; returns the period it counted in.
    #[inline(always)]
    pub fn read_lock(&self) -> ReadToken {
        let p = self.read.period.load(Ordering::Relaxed);
        let mut aborted = false;
        if p & FENCED == 0 {
            let i = p & 1;
            match self.count_fast(LOCK + i) {
                Ok(()) => {
                    // B: a compiler barrier (the section's asm clobbers
                    // memory too); the CPU's ordering is the writer's
                    // membarrier.
                    compiler_fence(Ordering::SeqCst);
                    return ReadToken(i);
                }
                Err(a) => aborted = a,
            }
        }
        self.read_lock_slow(aborted)
    }

    /// [`Self::read_lock`] after a first attempt that did not commit
    /// (`aborted`: the kernel restarted it), or with [`FENCED`] set.
    #[cold]
    #[inline(never)]
    fn read_lock_slow(&self, aborted: bool) -> ReadToken {
        if aborted {
            count_abort();
        }
        loop {
            let mut p = self.read.period.load(Ordering::Relaxed);
            if p & FENCED != 0 && self.enable_fence_free() {
                p &= !FENCED;
            }
            let i = p & 1;
            if p & FENCED == 0 && thread_area(self.read.mode).is_some() {
                match self.count_fast(LOCK + i) {
                    Ok(()) => {
                        compiler_fence(Ordering::SeqCst);
                        return ReadToken(i);
                    }
                    Err(true) => {
                        count_abort();
                        continue;
                    }
                    Err(false) => {}
                }
            }
            // SRCU's reader: the increment, then a full barrier (B).
            self.fallback
                .counter(LOCK + i)
                .fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            return ReadToken(i);
        }
    }

    /// Leaves a read-side section, on whatever CPU the thread runs now.
    ///
    /// # Safety
    /// `token` comes from a [`Self::read_lock`] of `self` not yet matched
    /// by an unlock: an unmatched unlock would let a grace period end while
    /// a reader is inside.
    #[inline(always)]
    pub unsafe fn read_unlock(&self, token: ReadToken) {
        // C: a compiler barrier before the increment (the CPU's ordering is
        // the writer's membarrier).
        compiler_fence(Ordering::SeqCst);
        let i = token.0 & 1;
        let mut aborted = false;
        if self.read.period.load(Ordering::Relaxed) & FENCED == 0 {
            match self.count_fast(UNLOCK + i) {
                Ok(()) => return,
                Err(a) => aborted = a,
            }
        }
        self.read_unlock_slow(i, aborted);
    }

    /// [`Self::read_unlock`] after a first attempt that did not commit, or
    /// with [`FENCED`] set.
    #[cold]
    #[inline(never)]
    fn read_unlock_slow(&self, i: usize, aborted: bool) {
        if aborted {
            count_abort();
        }
        if self.read.period.load(Ordering::Relaxed) & FENCED == 0
            && thread_area(self.read.mode).is_some()
        {
            loop {
                match self.count_fast(UNLOCK + i) {
                    Ok(()) => return,
                    Err(true) => count_abort(),
                    Err(false) => break,
                }
            }
        }
        // SRCU's C: a full barrier, then the increment.
        fence(Ordering::SeqCst);
        self.fallback
            .counter(UNLOCK + i)
            .fetch_add(1, Ordering::SeqCst);
    }

    /// A read-side section held until the guard drops.
    #[inline(always)]
    pub fn read(&self) -> RcuReadGuard<'_, N, INJECT> {
        RcuReadGuard {
            rcu: self,
            token: self.read_lock(),
        }
    }

    /// The slots a reader may have counted in: those below the possible
    /// CPUs (and N), then the fallback.
    fn counted_slots(&self) -> impl Iterator<Item = &RcuSlot> {
        self.slots
            .iter()
            .take(possible_cpu_bound())
            .chain(core::iter::once(&self.fallback))
    }

    /// Wrapping sum of counter `k` over the counted slots.
    fn sum(&self, k: usize) -> usize {
        self.counted_slots().fold(0usize, |s, slot| {
            s.wrapping_add(slot.counter(k).load(Ordering::Relaxed))
        })
    }

    /// One drained check of period `i` (see the module documentation):
    /// unlocks, the readers' fence `A`, locks.
    fn drained(&self, i: usize, membarrier: bool) -> bool {
        let unlocks = self.sum(UNLOCK + i);
        fence_readers(membarrier);
        let locks = self.sum(LOCK + i);
        locks == unlocks
    }

    /// Waits until period `i` has drained, sleeping between checks.
    fn wait_drained(&self, i: usize, membarrier: bool) {
        let mut nap_us = 20u64;
        let mut first = true;
        while !self.drained(i, membarrier) {
            // Two checks right away (a reader inside usually leaves within
            // a microsecond), then sleeps that double up to 1 ms.
            if !first {
                futex_nap(&self.write.nap, nap_us);
                nap_us = (nap_us * 2).min(1000);
            }
            first = false;
        }
    }

    /// Waits for a grace period: every read-side section that started
    /// before this call has ended when it returns. Sleeps while readers
    /// are inside; concurrent callers share grace periods. Must not be
    /// called inside a read-side section (it would wait for itself).
    pub fn synchronize(&self) {
        // Resolved before any check and permanent (see FENCED).
        let membarrier = membarrier_ready();
        if membarrier && self.read.period.load(Ordering::Relaxed) & FENCED != 0 {
            self.enable_fence_free();
        }
        // The caller's removal (its stores before this call) precedes the
        // load: any grace period numbered above what it returns starts
        // after it and orders it before the readers with its fence A.
        fence(Ordering::SeqCst);
        let needed = self.write.started.load(Ordering::SeqCst).wrapping_add(1);
        self.synchronize_from(needed, membarrier);
    }

    /// The grace period numbered `needed` or a later one, shared with
    /// other callers: returns at once if one completed.
    fn synchronize_from(&self, needed: u64, membarrier: bool) {
        futex_lock(&self.write.gp_lock);
        if (self
            .write
            .completed
            .load(Ordering::Acquire)
            .wrapping_sub(needed) as i64)
            >= 0
        {
            // SAFETY: taken just above.
            unsafe { futex_unlock(&self.write.gp_lock) };
            return;
        }
        let number = self.write.started.load(Ordering::Relaxed).wrapping_add(1);
        self.write.started.store(number, Ordering::SeqCst);
        let current = self.read.period.load(Ordering::Relaxed) & 1;
        // Sections counted late in the inactive period (point 4).
        self.wait_drained(current ^ 1, membarrier);
        // SRCU's E and D around the flip.
        fence(Ordering::SeqCst);
        self.read.period.fetch_xor(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.wait_drained(current, membarrier);
        self.write.completed.store(number, Ordering::Release);
        // SAFETY: taken above.
        unsafe { futex_unlock(&self.write.gp_lock) };
    }

    /// Grace periods completed (wrapping).
    pub fn grace_periods(&self) -> u64 {
        self.write.completed.load(Ordering::Relaxed)
    }

    /// Readers inside now: locks minus unlocks over both periods (exact
    /// when no reader is entering or leaving).
    pub fn readers_inside(&self) -> usize {
        (0..2).fold(0usize, |s, i| {
            s.wrapping_add(self.sum(LOCK + i))
                .wrapping_sub(self.sum(UNLOCK + i))
        })
    }

    /// Queues `func(head)` to run after a grace period (the kernel's
    /// `call_rcu`). Every [`DEFER_BATCH`]-th call runs the queued callbacks
    /// in the calling thread (one grace period, then the callbacks, oldest
    /// first), unless another thread is running a batch; [`Self::barrier`]
    /// runs them all. Must not be called inside a read-side section nor in
    /// a signal handler (a batch waits for a grace period).
    ///
    /// # Safety
    /// `head` is valid, not queued, and stays valid until `func` runs with
    /// it; `func` may be run by any thread that calls `call` or `barrier`
    /// on `self`, and must not call [`Self::barrier`].
    pub unsafe fn call(&self, head: *mut RcuHead, func: unsafe extern "C" fn(*mut RcuHead)) {
        // SAFETY: the caller's contract: a valid head nobody else links.
        unsafe { (*head).func = Some(func) };
        let mut old = self.write.deferred.load(Ordering::Relaxed);
        loop {
            // SAFETY: as above; not published until the exchange succeeds.
            unsafe { (*head).next = old };
            match self.write.deferred.compare_exchange_weak(
                old,
                head,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        let queued = self.write.deferred_count.fetch_add(1, Ordering::Relaxed) + 1;
        if queued.is_multiple_of(DEFER_BATCH) && futex_try_lock(&self.write.reclaim_lock) {
            self.run_batch();
            // SAFETY: taken just above.
            unsafe { futex_unlock(&self.write.reclaim_lock) };
        }
    }

    /// Runs every callback queued before this call, after a grace period
    /// (the kernel's `rcu_barrier`, for callbacks run by their caller: when
    /// it returns, every callback queued before it has returned). Must not
    /// be called inside a read-side section, a signal handler or a callback.
    pub fn barrier(&self) {
        // Batches run under the reclaim mutex: one that took callbacks
        // queued before this call has finished once the mutex is ours.
        futex_lock(&self.write.reclaim_lock);
        self.run_batch();
        // SAFETY: taken just above.
        unsafe { futex_unlock(&self.write.reclaim_lock) };
    }

    /// Callbacks queued and not yet run.
    pub fn pending_callbacks(&self) -> usize {
        self.write.deferred_count.load(Ordering::Relaxed)
    }

    /// Takes the queue, waits for a grace period, runs the callbacks
    /// oldest first. The caller holds the reclaim mutex.
    fn run_batch(&self) {
        let mut list = self
            .write
            .deferred
            .swap(core::ptr::null_mut(), Ordering::Acquire);
        if list.is_null() {
            return;
        }
        self.synchronize();
        // Newest first on the stack: reverse.
        let mut oldest_first: *mut RcuHead = core::ptr::null_mut();
        while !list.is_null() {
            // SAFETY: taken from the queue: ours until its callback runs.
            let next = unsafe { (*list).next };
            // SAFETY: as above.
            unsafe { (*list).next = oldest_first };
            oldest_first = list;
            list = next;
        }
        while !oldest_first.is_null() {
            let head = oldest_first;
            // SAFETY: ours; read before the callback may free it.
            let (next, func) = unsafe { ((*head).next, (*head).func) };
            oldest_first = next;
            self.write.deferred_count.fetch_sub(1, Ordering::Relaxed);
            if let Some(f) = func {
                // SAFETY: `call`'s contract: the head stays valid until its
                // callback, which runs once, after a grace period.
                unsafe { f(head) };
            }
        }
    }
}

/// A read-side section of an [`Rcu`] ([`Rcu::read`]).
#[derive(Debug)]
pub struct RcuReadGuard<'a, const N: usize, const INJECT: bool> {
    rcu: &'a Rcu<N, INJECT>,
    token: ReadToken,
}

impl<const N: usize, const INJECT: bool> RcuReadGuard<'_, N, INJECT> {
    /// The period the section counted in.
    pub fn token(&self) -> ReadToken {
        self.token
    }
}

impl<const N: usize, const INJECT: bool> Drop for RcuReadGuard<'_, N, INJECT> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the guard's own lock, unlocked once.
        unsafe { self.rcu.read_unlock(self.token) }
    }
}

// ---- membarrier ----------------------------------------------------------

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED`.
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: i32 = 1 << 3;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`.
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;

const MB_UNKNOWN: u8 = 0;
const MB_READY: u8 = 1;
const MB_UNAVAILABLE: u8 = 2;

/// Whether this process registered for `MEMBARRIER_CMD_PRIVATE_EXPEDITED`.
static MEMBARRIER: AtomicU8 = AtomicU8::new(MB_UNKNOWN);

fn membarrier(cmd: i32) -> isize {
    // SAFETY: membarrier(cmd, flags = 0, cpu_id = 0) only takes integers.
    unsafe { rseq_abi::arch::syscall3(rseq_abi::arch::nr::MEMBARRIER, cmd as usize, 0, 0) }
}

/// Registers the process for the private expedited `membarrier` (once);
/// whether readers may run without fences. The answer never changes from
/// true to false.
pub fn membarrier_ready() -> bool {
    match MEMBARRIER.load(Ordering::Acquire) {
        MB_READY => true,
        MB_UNAVAILABLE => false,
        _ => {
            let ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
            // A racing registration stores the same answer.
            MEMBARRIER.store(
                if ok { MB_READY } else { MB_UNAVAILABLE },
                Ordering::Release,
            );
            ok
        }
    }
}

/// The grace period's `A`: a full barrier on every CPU running a thread of
/// the process (`membarrier`), or on this one only when readers fence.
fn fence_readers(membarrier_usable: bool) {
    if !membarrier_usable {
        fence(Ordering::SeqCst);
        return;
    }
    // The call is the caller's full barrier too (the kernel's
    // `membarrier_private_expedited()` runs `smp_mb()` before and after
    // the IPIs), and the compiler does not move memory accesses across the
    // system call's `asm!`.
    loop {
        let r = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        if r == 0 {
            return;
        }
        // -EPERM: this mm is not registered (a fork's child starts
        // unregistered): register and retry.
        if r == -(rseq_abi::errno::EPERM as isize)
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        {
            continue;
        }
        // The command stopped working after the process registered (a
        // seccomp filter installed since): readers may be fence-free, so
        // the writer runs on every CPU it may run on in turn (whatever ran
        // there passed through the scheduler's full barrier), as the
        // remote fences' fallback does; see the module documentation for
        // the CPUs it cannot reach. A writer never goes on without the
        // barrier: retried until every allowed CPU was visited.
        if visit_allowed_cpus() {
            return;
        }
        futex_nap(&NAP, 1000);
    }
}

/// Runs the calling thread on each CPU of its affinity mask in turn;
/// false when one could not be visited (offline since, or the mask
/// changed).
fn visit_allowed_cpus() -> bool {
    let mut cpus = [0u32; 1024];
    let n = crate::allowed_cpus(&mut cpus);
    n != 0
        && cpus
            .iter()
            .take(n)
            .all(|&c| crate::remote::visit(c).is_ok())
}

/// A futex word nobody wakes, for naps outside an instance.
static NAP: AtomicU32 = AtomicU32::new(0);

// ---- possible CPUs ---------------------------------------------------------

/// The bound of the counted slots, 0 until known.
static CPU_BOUND: AtomicUsize = AtomicUsize::new(0);

/// An upper bound of every `cpu_id` and `mm_cid` the kernel can hand out
/// (`nr_cpu_ids`): the highest CPU of `/sys/devices/system/cpu/possible`
/// plus one; without `/sys`, the number of bits `sched_getaffinity` copies
/// out (`nr_cpu_ids` rounded up to 64); `usize::MAX` (every slot counted)
/// when neither answers. Raw system calls, no libc.
fn possible_cpu_bound() -> usize {
    match CPU_BOUND.load(Ordering::Relaxed) {
        0 => {
            let bound = possible_from_sysfs().unwrap_or_else(possible_from_affinity);
            CPU_BOUND.store(bound, Ordering::Relaxed);
            bound
        }
        b => b,
    }
}

/// `/sys/devices/system/cpu/possible` ("0-3,8-11"): the highest number
/// plus one.
fn possible_from_sysfs() -> Option<usize> {
    use rseq_abi::arch::{nr, syscall1, syscall3, syscall4};
    const AT_FDCWD: isize = -100;
    const O_RDONLY_CLOEXEC: usize = 0o2000000;
    let path = b"/sys/devices/system/cpu/possible\0";
    // SAFETY: openat reads the NUL-terminated path only.
    let fd = unsafe {
        syscall4(
            nr::OPENAT,
            AT_FDCWD as usize,
            path.as_ptr() as usize,
            O_RDONLY_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 256];
    // SAFETY: read writes at most the buffer's length into it.
    let n = unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) };
    // SAFETY: closes the descriptor opened above.
    unsafe { syscall1(nr::CLOSE, fd as usize) };
    if n <= 0 || n as usize >= buf.len() {
        return None;
    }
    let (mut highest, mut cur, mut digits) = (None::<usize>, 0usize, false);
    for &c in buf.iter().take(n as usize) {
        match c {
            b'0'..=b'9' => {
                cur = cur.checked_mul(10)?.checked_add(usize::from(c - b'0'))?;
                digits = true;
            }
            b'-' | b',' | b'\n' => {
                if digits {
                    highest = Some(highest.map_or(cur, |h: usize| h.max(cur)));
                }
                cur = 0;
                digits = false;
            }
            _ => return None,
        }
    }
    if digits {
        highest = Some(highest.map_or(cur, |h: usize| h.max(cur)));
    }
    highest.map(|h| h + 1)
}

/// `sched_getaffinity` copies out `nr_cpu_ids` bits rounded up to a long
/// and reports how many bytes.
fn possible_from_affinity() -> usize {
    let mut mask = [0u64; 16];
    // SAFETY: sched_getaffinity writes at most the length given.
    let r = unsafe {
        rseq_abi::arch::syscall3(
            rseq_abi::arch::nr::SCHED_GETAFFINITY,
            0,
            core::mem::size_of_val(&mask),
            mask.as_mut_ptr() as usize,
        )
    };
    if r > 0 {
        r as usize * 8
    } else {
        usize::MAX
    }
}

// ---- futex mutex and nap ---------------------------------------------------

const FUTEX_WAIT_PRIVATE: usize = 128;
const FUTEX_WAKE_PRIVATE: usize = 1 | 128;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

/// Sleeps while `*word == expect`, at most `timeout` if given.
fn futex_wait(word: &AtomicU32, expect: u32, timeout: Option<&Timespec>) {
    let ts = timeout.map_or(0, |t| t as *const Timespec as usize);
    // SAFETY: futex(word, FUTEX_WAIT_PRIVATE, expect, timeout): the kernel
    // reads the aligned word and the timespec, nothing else.
    unsafe {
        rseq_abi::arch::syscall4(
            rseq_abi::arch::nr::FUTEX,
            word.as_ptr() as usize,
            FUTEX_WAIT_PRIVATE,
            expect as usize,
            ts,
        )
    };
}

/// Sleeps about `us` microseconds on a word nobody wakes.
fn futex_nap(word: &AtomicU32, us: u64) {
    let t = Timespec {
        sec: (us / 1_000_000) as i64,
        nsec: ((us % 1_000_000) * 1000) as i64,
    };
    futex_wait(word, word.load(Ordering::Relaxed), Some(&t));
}

/// Drepper's mutex 2 ("Futexes are tricky"): 0 free, 1 held, 2 held and
/// a waiter may sleep.
fn futex_lock(m: &AtomicU32) {
    if m.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    while m.swap(2, Ordering::Acquire) != 0 {
        futex_wait(m, 2, None);
    }
}

fn futex_try_lock(m: &AtomicU32) -> bool {
    m.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// # Safety
/// The calling thread holds `m` (from [`futex_lock`] or [`futex_try_lock`]).
unsafe fn futex_unlock(m: &AtomicU32) {
    if m.swap(0, Ordering::Release) == 2 {
        // SAFETY: futex(m, FUTEX_WAKE_PRIVATE, 1) reads only the address.
        unsafe {
            rseq_abi::arch::syscall3(
                rseq_abi::arch::nr::FUTEX,
                m.as_ptr() as usize,
                FUTEX_WAKE_PRIVATE,
                1,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    const LIVE: u64 = 0x1111_2222_3333_4444;
    const POISON: u64 = 0xdead_dead_dead_dead;

    /// An object readers check and writers poison after a grace period.
    struct Obj {
        value: AtomicU64,
    }

    /// Readers check, inside their sections, that the object they hold is
    /// not poisoned; writers replace it, wait for a grace period, poison the
    /// old one (never freed: a poisoned object stays readable, so an early
    /// grace period shows as a poisoned read, not as a crash).
    fn torture<const N: usize>(mode: IndexMode, readers: usize, writers: usize, gps: usize) {
        let rcu = Arc::new(Rcu::<N>::new(mode));
        let first: &'static Obj = Box::leak(Box::new(Obj {
            value: AtomicU64::new(LIVE),
        }));
        let current = Arc::new(AtomicPtr::new(first as *const Obj as *mut Obj));
        let stop = Arc::new(AtomicBool::new(false));
        let rs: Vec<_> = (0..readers)
            .map(|r| {
                let (rcu, current, stop) = (rcu.clone(), current.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut n, mut bad) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        let g = rcu.read();
                        // Nested section every 8th time.
                        let inner = (n % 8 == 0).then(|| rcu.read());
                        // SAFETY: objects are never freed (poisoned only).
                        let o = unsafe { &*current.load(Ordering::Acquire) };
                        for _ in 0..(r * 7 % 50) {
                            core::hint::spin_loop();
                        }
                        bad += u64::from(o.value.load(Ordering::Relaxed) != LIVE);
                        drop(inner);
                        drop(g);
                        n += 1;
                        if n.is_multiple_of(4096) {
                            std::thread::yield_now();
                        }
                    }
                    (n, bad)
                })
            })
            .collect();
        let ws: Vec<_> = (0..writers)
            .map(|_| {
                let (rcu, current) = (rcu.clone(), current.clone());
                std::thread::spawn(move || {
                    for _ in 0..gps {
                        let new: &'static Obj = Box::leak(Box::new(Obj {
                            value: AtomicU64::new(LIVE),
                        }));
                        let old = current.swap(new as *const Obj as *mut Obj, Ordering::AcqRel);
                        rcu.synchronize();
                        // SAFETY: leaked, never freed.
                        unsafe { &*old }.value.store(POISON, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in ws {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (mut n, mut bad) = (0, 0);
        for r in rs {
            let (a, b) = r.join().unwrap();
            n += a;
            bad += b;
        }
        assert_eq!(
            bad, 0,
            "{mode:?}: {bad} of {n} sections read a poisoned object"
        );
        assert_eq!(rcu.readers_inside(), 0);
        assert!(rcu.grace_periods() >= 1);
    }

    #[test]
    fn torture_cpu_id() {
        torture::<256>(IndexMode::CpuId, 4, 2, 300);
    }

    #[test]
    fn torture_mm_cid() {
        torture::<256>(IndexMode::MmCid, 4, 2, 300);
    }

    #[test]
    fn torture_fallback_only() {
        // No slot: every reader counts in the fallback line.
        torture::<0>(IndexMode::CpuId, 4, 2, 200);
    }

    /// A lock counted on a slot of the possible CPUs (offline or not, the
    /// highest counted) keeps the period from draining until an unlock
    /// counted anywhere else balances it.
    #[test]
    fn counts_of_any_possible_cpu_and_the_fallback_balance() {
        let rcu = Rcu::<1024>::new(IndexMode::CpuId);
        let last = 1024usize.min(possible_cpu_bound()) - 1;
        assert!(rcu.drained(0, membarrier_ready()));
        rcu.slots[last].counts[LOCK].fetch_add(1, Ordering::Relaxed);
        assert!(!rcu.drained(0, membarrier_ready()));
        assert!(rcu.drained(1, membarrier_ready()));
        assert_eq!(rcu.readers_inside(), 1);
        rcu.fallback.counts[UNLOCK].fetch_add(1, Ordering::Relaxed);
        assert!(rcu.drained(0, membarrier_ready()));
        assert_eq!(rcu.readers_inside(), 0);
    }

    /// Counters that wrap in a long run: equal sums still mean drained.
    #[test]
    fn counters_wrap_safely() {
        let rcu = Arc::new(Rcu::<256>::new(IndexMode::CpuId));
        for s in rcu.slots.iter().chain(core::iter::once(&rcu.fallback)) {
            for c in &s.counts {
                c.store(usize::MAX - 2, Ordering::Relaxed);
            }
        }
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let rcu = rcu.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let g = rcu.read();
                        drop(g);
                    }
                })
            })
            .collect();
        for _ in 0..20 {
            rcu.synchronize();
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(rcu.readers_inside(), 0);
        let g = rcu.read();
        assert_eq!(rcu.readers_inside(), 1);
        assert!(!rcu.drained(g.token().period(), membarrier_ready()));
        drop(g);
        rcu.synchronize();
    }

    /// A caller whose grace period another caller completed does not start
    /// one of its own.
    #[test]
    fn a_completed_grace_period_is_shared() {
        let rcu = Rcu::<64>::new(IndexMode::CpuId);
        let mb = membarrier_ready();
        let needed = rcu.write.started.load(Ordering::SeqCst).wrapping_add(1);
        rcu.synchronize();
        let done = rcu.grace_periods();
        assert_eq!(done, 1);
        rcu.synchronize_from(needed, mb);
        assert_eq!(
            rcu.grace_periods(),
            done,
            "shared grace period was not reused"
        );
        rcu.synchronize_from(needed.wrapping_add(1), mb);
        assert_eq!(rcu.grace_periods(), done + 1);
    }

    /// A reader inside keeps `synchronize` waiting: a writer thread cannot
    /// set `done` while the section is open (checked inside the section).
    #[test]
    fn synchronize_waits_for_a_reader_inside() {
        let rcu = Arc::new(Rcu::<256>::new(IndexMode::CpuId));
        let done = Arc::new(AtomicBool::new(false));
        let g = rcu.read();
        let w = {
            let (rcu, done) = (rcu.clone(), done.clone());
            std::thread::spawn(move || {
                rcu.synchronize();
                done.store(true, Ordering::SeqCst);
            })
        };
        for _ in 0..50 {
            std::thread::sleep(std::time::Duration::from_millis(1));
            assert!(
                !done.load(Ordering::SeqCst),
                "grace period ended with a reader inside"
            );
        }
        drop(g);
        w.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    }

    static RAN: AtomicUsize = AtomicUsize::new(0);
    static INSIDE: AtomicBool = AtomicBool::new(false);
    static RAN_INSIDE: AtomicUsize = AtomicUsize::new(0);

    #[repr(C)]
    struct Deferred {
        head: RcuHead,
        value: u64,
    }

    unsafe extern "C" fn reclaim(head: *mut RcuHead) {
        RAN.fetch_add(1, Ordering::SeqCst);
        if INSIDE.load(Ordering::SeqCst) {
            RAN_INSIDE.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the head is the first field of a boxed Deferred (repr C).
        let d = unsafe { Box::from_raw(head.cast::<Deferred>()) };
        assert_eq!(d.value, 7);
    }

    /// Callbacks run after a grace period (never while the section open
    /// before them is), all of them by `barrier`, in batches by `call`.
    #[test]
    fn call_and_barrier_run_every_callback_after_a_grace_period() {
        let rcu = Arc::new(Rcu::<256>::new(IndexMode::CpuId));
        let g = rcu.read();
        INSIDE.store(true, Ordering::SeqCst);
        let queue = |n: usize| {
            for _ in 0..n {
                let d = Box::into_raw(Box::new(Deferred {
                    head: RcuHead::new(),
                    value: 7,
                }));
                // SAFETY: a fresh box, freed by its callback only.
                unsafe { rcu.call(d.cast(), reclaim) };
            }
        };
        queue(10);
        assert_eq!(rcu.pending_callbacks(), 10);
        let b = {
            let rcu = rcu.clone();
            std::thread::spawn(move || rcu.barrier())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        INSIDE.store(false, Ordering::SeqCst);
        drop(g);
        b.join().unwrap();
        assert_eq!(RAN.load(Ordering::SeqCst), 10);
        assert_eq!(RAN_INSIDE.load(Ordering::SeqCst), 0);
        // A full batch runs from `call` itself.
        queue(DEFER_BATCH);
        assert!(rcu.pending_callbacks() < DEFER_BATCH);
        rcu.barrier();
        assert_eq!(RAN.load(Ordering::SeqCst), 10 + DEFER_BATCH);
        assert_eq!(rcu.pending_callbacks(), 0);
    }

    #[test]
    fn possible_cpus_bound_every_index() {
        let b = possible_cpu_bound();
        assert!(b >= crate::possible_cpus(), "{b}");
        assert!(b <= possible_from_affinity());
        if let Some(s) = possible_from_sysfs() {
            assert_eq!(s, b);
        }
    }

    #[test]
    fn reader_uses_a_slot_when_registered() {
        let rcu = Rcu::<1024>::new(IndexMode::CpuId);
        let g = rcu.read();
        if rseq_registration::current_area().is_some() && membarrier_ready() {
            assert_eq!(
                rcu.fallback.counts[LOCK + g.token().period()].load(Ordering::Relaxed),
                0
            );
        }
        assert_eq!(rcu.readers_inside(), 1);
        drop(g);
        assert_eq!(rcu.readers_inside(), 0);
    }
}
