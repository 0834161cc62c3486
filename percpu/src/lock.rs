//! Per-CPU reader lock (a "big reader" lock): readers never write a shared
//! cache line, writers pay a `membarrier`.
//!
//! # Design
//!
//! The lock is a writer flag and a per-CPU reader count ([`Slots`]).
//!
//! - **Read lock**: one restartable sequence on the current CPU's slot: read
//!   the index, check that the writer flag is 0, add 1 to the slot (the
//!   commit). No atomic instruction, no shared cache line written: readers on
//!   different CPUs never contend.
//! - **Read unlock**: one restartable sequence adding -1 to the slot of the
//!   CPU the thread runs on *now* (it may have migrated): the count of one
//!   slot can go "negative", only the wrapping sum over all slots is the
//!   number of readers inside.
//! - **Write lock**: take the flag (compare-exchange 0 -> 1, writers exclude
//!   each other), then `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)`:
//!   the kernel interrupts every CPU running a thread of this process and
//!   restarts its critical section, if any. After it returns, every reader
//!   either committed its increment before (and the IPI made that store
//!   visible) or will run its section again and find the flag set. A thread
//!   that was preempted inside its section restarts anyway. The writer then
//!   waits until the sum over the slots is 0.
//! - **Write unlock**: clear the flag (release).
//!
//! Ordering (x86-64, the only architecture with sequences here): the
//! reader's load of the flag and the increment are in program order inside
//! the section, loads are not reordered with older loads nor stores with
//! older loads, so the protected reads stay between the committed increment
//! and the decrement; the IPI of `membarrier` is a full barrier on each
//! target CPU, which drains a committed increment still in a store buffer.
//!
//! **Fallback**: a thread without a registered area, whose index is beyond
//! the lock's slots, or in a process where `membarrier` cannot register the
//! rseq command (kernel < 5.10) counts itself in the fallback slot with a
//! sequentially consistent `fetch_add`, then loads the flag (and backs out
//! if set): the classic Dekker handshake with the writer's sequentially
//! consistent flag exchange and its loads of the counts. Correct everywhere,
//! only slower (a shared cache line again).
//!
//! # Why a reader lock rather than a per-CPU spinlock
//!
//! The seed's "spinlock improvements" are about lock holders being
//! preempted; [`crate::spinlock`] has those (a time-slice extension held
//! while locked where the kernel grants one, waiters that detect a holder
//! not running). A restartable sequence itself cannot keep a holder from
//! being preempted (no critical section may block or last beyond its few
//! instructions); it can only make
//! *short* operations on per-CPU data preemption-safe without atomics. A
//! per-CPU spinlock would still need an atomic to acquire when other CPUs
//! may take it, and gains nothing over a plain spinlock for shared data.
//! Read-mostly data (configuration, routing tables, the state a tracer or
//! allocator consults on every call) is where rseq changes the cost model:
//! the read side becomes two restartable sequences on a CPU-local line with
//! zero inter-CPU traffic, and the rare writer moves the synchronization
//! cost to itself with one `membarrier` (a few microseconds). That is the
//! trade-off `membarrier`'s rseq command was added to the kernel for.
//!
//! Writers are not fair to readers: a steady stream of writers can starve
//! readers, and a writer waits for every reader inside. Reader sections must
//! not take the write lock (self-deadlock).

use crate::{
    arch, count_abort, injected, injection, thread_area, IndexMode, Outcome, Slots, Where,
};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const MB_UNKNOWN: u8 = 0;
const MB_READY: u8 = 1;
const MB_UNAVAILABLE: u8 = 2;

/// Whether this process registered for `MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ`.
static MEMBARRIER: AtomicU8 = AtomicU8::new(MB_UNKNOWN);

fn membarrier(cmd: i32) -> isize {
    // SAFETY: membarrier(cmd, flags = 0, cpu_id = 0) only takes integers.
    unsafe { rseq_abi::arch::syscall3(rseq_abi::arch::nr::MEMBARRIER, cmd as usize, 0, 0) }
}

/// Registers the process for the rseq `membarrier` command (once); whether
/// readers may use the restartable-sequence path.
pub fn membarrier_rseq_ready() -> bool {
    match MEMBARRIER.load(Ordering::Acquire) {
        MB_READY => true,
        MB_UNAVAILABLE => false,
        _ => {
            let ok = membarrier(rseq_abi::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) == 0;
            MEMBARRIER.store(
                if ok { MB_READY } else { MB_UNAVAILABLE },
                Ordering::Release,
            );
            ok
        }
    }
}

/// Makes every reader's in-flight section on another CPU restart.
fn rseq_fence() {
    loop {
        let r = membarrier(rseq_abi::MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
        if r == 0 {
            return;
        }
        // -EPERM: not registered in this mm (after fork the child's mm
        // starts unregistered); register and retry. Anything else cannot
        // happen with a registered, valid command; retrying keeps the
        // answer right (a writer never proceeds without the fence).
        let _ = membarrier(rseq_abi::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
        yield_now();
    }
}

fn yield_now() {
    // SAFETY: sched_yield has no arguments and no memory effects.
    unsafe { rseq_abi::arch::syscall0(rseq_abi::arch::nr::SCHED_YIELD) };
}

/// Spins (yielding now and then) while `busy()`.
fn wait_while(mut busy: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while busy() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            yield_now();
        } else {
            core::hint::spin_loop();
        }
    }
}

/// A reader-writer lock whose read side is per-CPU (see the module
/// documentation). `N` slots indexed by `cpu_id` or `mm_cid`; `INJECT`: the
/// stress-test instantiation.
#[derive(Debug)]
pub struct ReaderLock<const N: usize, const INJECT: bool = false> {
    readers: Slots<N, INJECT>,
    writer: AtomicUsize,
}

impl<const N: usize, const INJECT: bool> Default for ReaderLock<N, INJECT> {
    fn default() -> Self {
        Self::new(IndexMode::CpuId)
    }
}

impl<const N: usize, const INJECT: bool> ReaderLock<N, INJECT> {
    /// An unlocked lock indexed by `mode` (degraded to `CpuId` when the
    /// kernel lacks `mm_cid`).
    pub fn new(mode: IndexMode) -> Self {
        Self::with_mode(mode.or_supported())
    }

    /// An unlocked lock indexed by `mode` as given (usable in a `static`).
    pub const fn with_mode(mode: IndexMode) -> Self {
        ReaderLock {
            readers: Slots::with_mode(mode),
            writer: AtomicUsize::new(0),
        }
    }

    /// Initializes the memory at `p` as an unlocked lock indexed by `mode`
    /// (as given), without building it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self, mode: IndexMode) {
        // SAFETY: the caller's contract.
        unsafe {
            Slots::init_in_place(core::ptr::addr_of_mut!((*p).readers), mode);
            core::ptr::addr_of_mut!((*p).writer).write(AtomicUsize::new(0));
        }
    }

    /// Takes the lock for reading; returns where the reader was counted.
    /// Waits while a writer holds or is taking the lock.
    #[inline]
    pub fn read_lock(&self) -> Where {
        loop {
            if let Some((area, field)) = thread_area(self.readers.mode()) {
                if membarrier_rseq_ready() {
                    loop {
                        let inj = injection::<INJECT>();
                        // SAFETY: slot i's word is at base + i * STRIDE for
                        // i < N and only written by sequences committing on
                        // index i; the flag is a valid word.
                        let (r, i) = unsafe {
                            arch::cmpeq_add_indexed::<INJECT>(
                                area,
                                field,
                                self.writer.as_ptr(),
                                0,
                                self.readers.base(),
                                Slots::<N, INJECT>::STRIDE,
                                N as u32,
                                1,
                                &inj,
                            )
                        };
                        injected::<INJECT>(&inj, r);
                        match r {
                            Outcome::Done => return Where::Slot(i),
                            Outcome::Aborted => count_abort(),
                            Outcome::CompareFailed => break,
                        }
                    }
                    if self.writer.load(Ordering::Acquire) != 0 {
                        wait_while(|| self.writer.load(Ordering::Acquire) != 0);
                        continue;
                    }
                    // The index is beyond N: the fallback slot.
                }
            }
            let fallback = self.readers.fallback_word();
            fallback.fetch_add(1, Ordering::SeqCst);
            if self.writer.load(Ordering::SeqCst) == 0 {
                return Where::Fallback;
            }
            fallback.fetch_sub(1, Ordering::Release);
            wait_while(|| self.writer.load(Ordering::Acquire) != 0);
        }
    }

    /// Releases a read lock, on whatever CPU the thread runs now.
    ///
    /// # Safety
    /// The calling thread holds a read lock of `self` (from
    /// [`Self::read_lock`]) and gives it up; each `read_lock` is matched by
    /// exactly one `read_unlock`.
    #[inline]
    pub unsafe fn read_unlock(&self) {
        if let Some((area, field)) = thread_area(self.readers.mode()) {
            if membarrier_rseq_ready() {
                loop {
                    let inj = injection::<INJECT>();
                    // SAFETY: as in read_lock.
                    let (r, _) = unsafe {
                        arch::add_indexed::<INJECT>(
                            area,
                            field,
                            self.readers.base(),
                            Slots::<N, INJECT>::STRIDE,
                            N as u32,
                            usize::MAX,
                            &inj,
                        )
                    };
                    injected::<INJECT>(&inj, r);
                    match r {
                        Outcome::Done => return,
                        Outcome::Aborted => count_abort(),
                        Outcome::CompareFailed => break,
                    }
                }
            }
        }
        self.readers.fallback_word().fetch_sub(1, Ordering::Release);
    }

    /// Takes the lock for writing: excludes other writers, stops new
    /// readers, waits for the readers inside to leave.
    pub fn write_lock(&self) {
        wait_while(|| {
            self.writer
                .compare_exchange_weak(0, 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        });
        if membarrier_rseq_ready() {
            rseq_fence();
        }
        wait_while(|| self.readers_inside() != 0);
    }

    /// Releases the write lock.
    ///
    /// # Safety
    /// The calling thread holds the write lock (from [`Self::write_lock`]).
    pub unsafe fn write_unlock(&self) {
        self.writer.store(0, Ordering::Release);
    }

    /// Readers inside now (wrapping sum of the slots; exact when no reader
    /// is entering or leaving).
    pub fn readers_inside(&self) -> usize {
        self.readers
            .words()
            .fold(0usize, |s, w| s.wrapping_add(w.load(Ordering::SeqCst)))
    }

    /// Whether a writer holds the lock or is taking it.
    pub fn writer_active(&self) -> bool {
        self.writer.load(Ordering::Relaxed) != 0
    }

    /// A read lock held until the guard drops.
    pub fn read(&self) -> ReadGuard<'_, N, INJECT> {
        let at = self.read_lock();
        ReadGuard { lock: self, at }
    }

    /// The write lock, held until the guard drops.
    pub fn write(&self) -> WriteGuard<'_, N, INJECT> {
        self.write_lock();
        WriteGuard { lock: self }
    }
}

/// A held read lock ([`ReaderLock::read`]).
#[derive(Debug)]
pub struct ReadGuard<'a, const N: usize, const INJECT: bool> {
    lock: &'a ReaderLock<N, INJECT>,
    at: Where,
}

impl<const N: usize, const INJECT: bool> ReadGuard<'_, N, INJECT> {
    /// Where the reader was counted when it took the lock.
    pub fn counted_at(&self) -> Where {
        self.at
    }
}

impl<const N: usize, const INJECT: bool> Drop for ReadGuard<'_, N, INJECT> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the read lock it took in `read`.
        unsafe { self.lock.read_unlock() }
    }
}

/// The held write lock ([`ReaderLock::write`]).
#[derive(Debug)]
pub struct WriteGuard<'a, const N: usize, const INJECT: bool> {
    lock: &'a ReaderLock<N, INJECT>,
}

impl<const N: usize, const INJECT: bool> Drop for WriteGuard<'_, N, INJECT> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the write lock it took in `write`.
        unsafe { self.lock.write_unlock() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    /// Two words a writer keeps equal; a reader that sees them differ saw a
    /// writer inside its read section.
    struct Shared<const N: usize> {
        lock: ReaderLock<N>,
        a: AtomicU64,
        b: AtomicU64,
    }

    fn run<const N: usize>(mode: IndexMode, readers: usize, writers: usize) {
        let s = Arc::new(Shared::<N> {
            lock: ReaderLock::new(mode),
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let rs: Vec<_> = (0..readers)
            .map(|_| {
                let (s, stop) = (s.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut reads, mut torn) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        let g = s.lock.read();
                        let a = s.a.load(Ordering::Relaxed);
                        for _ in 0..20 {
                            core::hint::spin_loop();
                        }
                        let b = s.b.load(Ordering::Relaxed);
                        drop(g);
                        torn += u64::from(a != b);
                        reads += 1;
                        if reads.is_multiple_of(1000) {
                            std::thread::yield_now();
                        }
                    }
                    (reads, torn)
                })
            })
            .collect();
        let ws: Vec<_> = (0..writers)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let g = s.lock.write();
                        let v = s.a.load(Ordering::Relaxed);
                        s.a.store(v + 1, Ordering::Relaxed);
                        for _ in 0..20 {
                            core::hint::spin_loop();
                        }
                        s.b.store(v + 1, Ordering::Relaxed);
                        drop(g);
                    }
                })
            })
            .collect();
        for w in ws {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (mut reads, mut torn) = (0, 0);
        for r in rs {
            let (n, t) = r.join().unwrap();
            reads += n;
            torn += t;
        }
        assert_eq!(torn, 0, "{torn} of {reads} reads saw a writer inside");
        assert_eq!(s.a.load(Ordering::Relaxed), 300 * writers as u64);
        assert_eq!(s.b.load(Ordering::Relaxed), 300 * writers as u64);
        assert_eq!(s.lock.readers_inside(), 0);
        assert!(reads > 0);
    }

    #[test]
    fn readers_never_see_a_writer_cpu_id() {
        run::<1024>(IndexMode::CpuId, 4, 2);
    }

    #[test]
    fn readers_never_see_a_writer_mm_cid() {
        run::<1024>(IndexMode::MmCid, 4, 2);
    }

    #[test]
    fn small_capacity_uses_the_fallback_slot_correctly() {
        run::<1>(IndexMode::CpuId, 4, 2);
    }

    #[test]
    fn read_lock_counts_on_this_cpu_and_writer_waits() {
        let l = Arc::new(ReaderLock::<1024>::new(IndexMode::CpuId));
        let g = l.read();
        if rseq_registration::current_area().is_some() && membarrier_rseq_ready() {
            assert!(matches!(g.counted_at(), Where::Slot(_)));
        } else {
            assert_eq!(g.counted_at(), Where::Fallback);
        }
        assert_eq!(l.readers_inside(), 1);
        let entered = Arc::new(AtomicBool::new(false));
        let w = {
            let (l, entered) = (l.clone(), entered.clone());
            std::thread::spawn(move || {
                let _g = l.write();
                entered.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !entered.load(Ordering::SeqCst),
            "writer entered past a reader"
        );
        drop(g);
        w.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert_eq!(l.readers_inside(), 0);
        assert!(!l.writer_active());
    }
}
