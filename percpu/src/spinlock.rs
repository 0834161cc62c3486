//! Spin locks that know when spinning is futile: [`SpinLock`] (an adaptive
//! mutex: spin, then sleep on a futex) and [`NumaSpinLock`] (the same, with
//! hand-off to waiters of the holder's NUMA node first, bounded).
//!
//! # What rseq gives a lock, and what it cannot
//!
//! A spinning waiter only helps if the holder is running: a holder that was
//! preempted (or blocked) cannot release the lock until it runs again, and
//! a waiter spinning on the holder's own CPU keeps it from running at all.
//! Three rseq facts are used:
//!
//! - **Time-slice extension** (Linux 7.0+, `CONFIG_RSEQ_SLICE_EXTENSION`):
//!   while it holds a lock, a thread has an extension requested in its rseq
//!   area, so the scheduler grants it a few more microseconds instead of
//!   preempting it inside the critical section; at unlock the request is
//!   withdrawn and, if the kernel did grant one, the thread yields (the
//!   `rseq_registration::slice` calls). Each grant is a holder preemption
//!   avoided ([`LockStats::slice_granted`]). Elsewhere (Debian's 7.x kernels
//!   leave the option off, 6.x has no such thing) the calls do nothing.
//! - **Holder published CPU**: the holder stores the CPU it acquired on
//!   (`cpu_id` from its area) in the lock. A waiter checks, inside one
//!   restartable sequence ([`arch::load_cbeq_cpu`]), whether that CPU is the
//!   one it runs on itself. The kernel aborts the sequence on preemption,
//!   migration or signal delivery, so a committed "equal" means: at the
//!   moment the waiter read the holder's CPU, the waiter occupied that CPU,
//!   so the holder was not running there. Either the holder was preempted
//!   (or blocked) on this CPU, and spinning only delays it, or it has
//!   migrated since it published its CPU (it may run elsewhere: the waiter
//!   then sleeps for nothing, which costs a wake-up, never correctness). The
//!   waiter stops spinning and sleeps ([`LockStats::holder_not_running`]).
//! - **`node_id`** (Linux 6.3+): [`NumaSpinLock`] hands the lock to a waiter
//!   of the releasing holder's node first (the lock's cache line and the
//!   data it protects stay in that node's caches), at most `bound` times in
//!   a row while another node has waiters, then to the next node that has
//!   waiters, so no node starves.
//!
//! What is **not** detectable, so each waiter still has a spin budget
//! (iterations, not time) after which it sleeps anyway
//! ([`LockStats::spin_exhausted`]): a holder preempted on *another* CPU than
//! the waiter's (its published CPU says nothing about whether it runs: rseq
//! only tells a thread about itself), a holder blocked in a system call,
//! and a holder that migrated to the waiter's CPU after publishing another
//! one. Reading the holder's own rseq area (its live `cpu_id`) would catch
//! migrations, but that area is in the holder's thread-local storage, which
//! is freed when the holder exits (possibly right after unlocking, while a
//! waiter still has its address): a waiter could fault. The lock reads
//! nothing but its own memory.
//!
//! # Protocol (no lost wake-up)
//!
//! [`SpinLock`]: Drepper's futex mutex ("Futexes are tricky", mutex 2): the
//! state is 0 (free), 1 (held) or 2 (held, a waiter may sleep). A waiter
//! that stops spinning swaps in 2 and sleeps on the futex while the value
//! it swapped out was not 0; unlock swaps in 0 and wakes one sleeper if it
//! swapped out 2. The kernel's futex check (sleep only while the word still
//! holds 2) closes the window between the swap and the sleep.
//!
//! [`NumaSpinLock`]: the state holds a held bit and a reserved node (the
//! node the lock was handed to, or none: open). Waiters count themselves
//! per node (`waiting`) while they try and per node (`sleeping`) around a
//! futex sleep (`FUTEX_WAIT_BITSET` with their node's bit). Unlock chooses
//! the next node from the `waiting` counts, stores the new state, *then*
//! reads `sleeping` of that node and wakes one of its sleepers if any
//! (`FUTEX_WAKE_BITSET`). Sequentially consistent counts and state on both
//! sides (Dekker): either the unlocker sees the sleeper's count, or the
//! sleeper's futex check sees the new state and does not sleep. A node is
//! chosen only while it has a waiter, and a waiter leaves only by taking
//! the lock, so a reservation is always taken.
//!
//! # Around `fork`
//!
//! What pthread mutexes allow, these locks allow: the child of a `fork` has
//! one thread, the one that forked, and it may unlock a lock that it held
//! at the fork (the `pthread_atfork` idiom: prepare locks, parent and child
//! unlock), then use every lock normally, also from threads it creates. A
//! lock that another thread of the parent held stays held in the child for
//! good (nothing tells the child whether that thread had half-updated what
//! the lock protects).
//!
//! The parent's waiters do not exist in the child. [`SpinLock`] only
//! inherits the state "a waiter may sleep": the child's unlock makes one
//! futex wake that finds nobody. [`NumaSpinLock`] counts its waiters per
//! node, and a child's unlock that saw the parent's counts would reserve
//! the lock for a node whose waiter does not exist, for good. So the lock
//! stores the process epoch its counts belong to ([`crate::fork`]: a value
//! that changes in every fork child, kept in a page the kernel zeroes in
//! the child) and its slow paths (a contended lock, an unlock that sees
//! counts, a failed trylock of a free reserved lock) clear counts of
//! another epoch, and a reservation made for their waiters, once, before
//! any thread of the child counts itself: a count of the child is never
//! cleared. No fast path reads the epoch.
//!
//! # Without rseq
//!
//! A thread without a registered area publishes no CPU (the waiters'
//! check never fires), uses node 0 (or the vDSO's node), and requests no
//! extension: both locks are then plain adaptive futex locks, equally
//! correct. Locks are process-private (private futexes), not reentrant,
//! and must not be taken in a signal handler that may interrupt a holder
//! of the same lock (self-deadlock, as with any mutex).
//!
//! # Counters
//!
//! The counters ([`LockStats`]) are updated on slow paths only (relaxed
//! atomics in a cache line of their own): an uncontended lock and unlock
//! write nothing but the lock word and the published CPU.

use crate::{arch, thread_area, IndexMode, Outcome};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The published CPU of a lock that nobody holds, or whose holder has no
/// rseq area.
pub const NO_CPU: u32 = u32::MAX;
/// Spin iterations (`pause`) a waiter spends before it sleeps anyway.
pub const DEFAULT_SPIN_LIMIT: u32 = 1000;
/// How often (in spin iterations, from the first) a waiter checks whether
/// the holder's published CPU is its own.
const CHECK_EVERY: u32 = 8;
/// Nodes a [`NumaSpinLock`] tells apart: node `n` counts as `n % NUMA_NODES`
/// (one futex bitset bit each).
pub const NUMA_NODES: usize = 32;
/// Local hand-offs in a row a [`NumaSpinLock`] makes by default while
/// another node has waiters.
pub const DEFAULT_HANDOFF_BOUND: u32 = 16;

/// What a lock's slow paths did since it was created. (No `Debug`: its
/// `u64` formatting would pull `core::fmt` into the C library's link.)
#[repr(C)]
#[cfg_attr(test, derive(Debug))]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Lock calls that found the lock held (entered the slow path).
    pub contended: u64,
    /// Of those, acquired while spinning, never having slept.
    pub spin_acquired: u64,
    /// Waiters that stopped spinning because the holder's published CPU was
    /// their own (the holder was not running).
    pub holder_not_running: u64,
    /// Waiters that stopped spinning because their spin budget ran out.
    pub spin_exhausted: u64,
    /// Futex waits issued with the lock still held (waiter sleeps).
    pub sleeps: u64,
    /// Futex wakes issued by unlock.
    pub wakes: u64,
    /// Holds during which a time-slice extension was requested.
    pub slice_requested: u64,
    /// Holds during which the kernel granted the extension: holder
    /// preemptions avoided (the holder yielded right after unlocking).
    pub slice_granted: u64,
    /// [`NumaSpinLock`]: hand-offs to a waiter of the holder's node.
    pub handoff_local: u64,
    /// [`NumaSpinLock`]: hand-offs to another node's waiter.
    pub handoff_remote: u64,
    /// [`NumaSpinLock`]: of the remote hand-offs, those forced by the bound
    /// while the holder's node still had waiters.
    pub handoff_bounded: u64,
}

/// The counters, in a cache line of their own.
#[repr(C, align(64))]
#[derive(Default)]
struct Stats([AtomicU64; 11]);

const CONTENDED: usize = 0;
const SPIN_ACQUIRED: usize = 1;
const HOLDER_NOT_RUNNING: usize = 2;
const SPIN_EXHAUSTED: usize = 3;
const SLEEPS: usize = 4;
const WAKES: usize = 5;
const SLICE_REQUESTED: usize = 6;
const SLICE_GRANTED: usize = 7;
const HANDOFF_LOCAL: usize = 8;
const HANDOFF_REMOTE: usize = 9;
const HANDOFF_BOUNDED: usize = 10;

impl Stats {
    const fn new() -> Stats {
        Stats([const { AtomicU64::new(0) }; 11])
    }

    #[inline]
    fn inc(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> LockStats {
        let g = |i: usize| self.0[i].load(Ordering::Relaxed);
        LockStats {
            contended: g(CONTENDED),
            spin_acquired: g(SPIN_ACQUIRED),
            holder_not_running: g(HOLDER_NOT_RUNNING),
            spin_exhausted: g(SPIN_EXHAUSTED),
            sleeps: g(SLEEPS),
            wakes: g(WAKES),
            slice_requested: g(SLICE_REQUESTED),
            slice_granted: g(SLICE_GRANTED),
            handoff_local: g(HANDOFF_LOCAL),
            handoff_remote: g(HANDOFF_REMOTE),
            handoff_bounded: g(HANDOFF_BOUNDED),
        }
    }
}

/// The time-slice extension calls, nested per thread: only the outermost
/// lock of a thread requests and releases (an inner unlock must not withdraw
/// the outer hold's request, nor yield while the outer lock is held).
mod slice {
    use super::{Stats, SLICE_GRANTED, SLICE_REQUESTED};

    /// The rseq time-slice extension (`rseq_registration::slice`): request
    /// (true when armed) and release (true when the kernel had granted an
    /// extension, and the thread has yielded). Both do nothing and return
    /// false where the kernel offers no extension.
    #[inline(always)]
    fn request() -> bool {
        rseq_registration::slice::request()
    }

    #[inline(always)]
    fn release() -> bool {
        rseq_registration::slice::release()
    }

    // The calling thread's lock nesting depth: initial-exec TLS, changed
    // by one `add`/`sub` instruction each (a signal handler that takes a
    // lock in between sees a consistent count).
    core::arch::global_asm!(
        ".pushsection .tbss.rseq_percpu_lock_depth,\"awT\",@nobits",
        ".balign 4",
        ".globl rseq_percpu_lock_depth",
        ".hidden rseq_percpu_lock_depth",
        ".type rseq_percpu_lock_depth,@tls_object",
        ".size rseq_percpu_lock_depth,4",
        "rseq_percpu_lock_depth:",
        ".zero 4",
        ".popsection",
    );

    /// Adds `d` to this thread's depth; returns the new depth.
    #[inline(always)]
    fn depth_add(d: u32) -> u32 {
        crate::arch::lock_depth_add(d)
    }

    /// A hold begins (after the lock is taken).
    #[inline(always)]
    pub(super) fn begin(stats: &Stats) {
        if depth_add(1) == 1 && request() {
            stats.inc(SLICE_REQUESTED);
        }
    }

    /// A hold ended (after the lock was released).
    #[inline(always)]
    pub(super) fn end(stats: &Stats) {
        if depth_add(u32::MAX) == 0 && release() {
            stats.inc(SLICE_GRANTED);
        }
    }
}

/// Raw futex calls (private futexes: the locks are process-local).
mod futex {
    use rseq_abi::arch::{nr::FUTEX as SYS_FUTEX, syscall6};

    const FUTEX_WAIT_PRIVATE: usize = 128;
    const FUTEX_WAKE_PRIVATE: usize = 1 | 128;
    const FUTEX_WAIT_BITSET_PRIVATE: usize = 9 | 128;
    const FUTEX_WAKE_BITSET_PRIVATE: usize = 10 | 128;

    use core::sync::atomic::AtomicU32;

    /// Sleeps while `*word == expect` (returns 0, or a negative errno:
    /// `-EAGAIN` when the word differs, `-EINTR` on a signal).
    pub(super) fn wait(word: &AtomicU32, expect: u32, bitset: u32) -> isize {
        let (op, set) = if bitset == u32::MAX {
            (FUTEX_WAIT_PRIVATE, 0)
        } else {
            (FUTEX_WAIT_BITSET_PRIVATE, bitset as usize)
        };
        // SAFETY: futex(word, op, expect, timeout = NULL, uaddr2 = NULL,
        // bitset): the kernel reads the aligned word and nothing else.
        unsafe {
            syscall6(
                SYS_FUTEX,
                word.as_ptr() as usize,
                op,
                expect as usize,
                0,
                0,
                set,
            )
        }
    }

    /// Wakes up to one sleeper whose bitset intersects `bitset`.
    pub(super) fn wake_one(word: &AtomicU32, bitset: u32) {
        let (op, set) = if bitset == u32::MAX {
            (FUTEX_WAKE_PRIVATE, 0)
        } else {
            (FUTEX_WAKE_BITSET_PRIVATE, bitset as usize)
        };
        // SAFETY: futex(word, op, 1 waiter, NULL, NULL, bitset) reads only
        // the futex's address.
        unsafe { syscall6(SYS_FUTEX, word.as_ptr() as usize, op, 1, 0, 0, set) };
    }
}

/// The calling thread's area (for the holder check) and current CPU
/// ([`NO_CPU`] without an area).
#[inline(always)]
fn area_and_cpu() -> (Option<*mut rseq_abi::Rseq>, u32) {
    match thread_area(IndexMode::CpuId) {
        Some((area, f)) => (Some(area), crate::read_index(area, f).unwrap_or(NO_CPU)),
        None => (None, NO_CPU),
    }
}

/// Whether the holder whose CPU is published in `owner` is seen not running
/// (its CPU is the caller's own, observed in one restartable sequence).
#[inline]
fn holder_not_running(area: Option<*mut rseq_abi::Rseq>, owner: &AtomicU32) -> bool {
    let Some(area) = area else {
        return false;
    };
    if owner.load(Ordering::Relaxed) == NO_CPU {
        return false;
    }
    // SAFETY: the calling thread's area (from thread_area); `owner` is an
    // aligned u32 of the lock, read once inside the section.
    let r = unsafe { arch::load_cbeq_cpu(area, owner.as_ptr()) };
    r == Outcome::Done
}

/// Spin phase shared by both locks: spins while `try_take()` fails, until
/// the holder is seen not running or the budget is spent. Returns whether
/// the lock was taken.
#[inline]
fn spin(
    stats: &Stats,
    owner: &AtomicU32,
    limit: u32,
    area: Option<*mut rseq_abi::Rseq>,
    mut try_take: impl FnMut() -> bool,
) -> bool {
    let mut spins = 0u32;
    loop {
        if try_take() {
            return true;
        }
        if spins.is_multiple_of(CHECK_EVERY) && holder_not_running(area, owner) {
            stats.inc(HOLDER_NOT_RUNNING);
            return false;
        }
        if spins >= limit {
            stats.inc(SPIN_EXHAUSTED);
            return false;
        }
        spins += 1;
        core::hint::spin_loop();
    }
}

/// An adaptive mutex that tracks its holder's preemption (see the module
/// documentation): spin while the holder may be running, sleep on a futex
/// otherwise; a time-slice extension requested while held.
///
/// # Example
///
/// A read-modify-write made of a separate load and store, which only
/// mutual exclusion keeps exact.
///
/// ```
/// use rseq_percpu::spinlock::SpinLock;
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
///
/// static LOCK: SpinLock = SpinLock::new();
/// static TOTAL: AtomicU64 = AtomicU64::new(0);
///
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             for _ in 0..5_000 {
///                 let _held = LOCK.lock();
///                 TOTAL.store(TOTAL.load(Relaxed) + 1, Relaxed);
///             }
///         });
///     }
/// });
/// assert_eq!(TOTAL.load(Relaxed), 20_000);
/// assert!(!LOCK.is_locked());
/// let stats = LOCK.stats();
/// // Extensions are granted only to requests.
/// assert!(stats.slice_granted <= stats.slice_requested);
/// ```
#[repr(C, align(64))]
pub struct SpinLock {
    /// 0 free, 1 held, 2 held and a waiter may sleep.
    state: AtomicU32,
    /// The holder's CPU when it took the lock, or [`NO_CPU`].
    owner_cpu: AtomicU32,
    spin_limit: u32,
    stats: Stats,
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

/// A held [`SpinLock`]; unlocks on drop.
#[must_use = "the lock is released when the guard is dropped"]
pub struct SpinGuard<'a> {
    lock: &'a SpinLock,
}

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard's existence means this thread holds the lock.
        unsafe { self.lock.unlock_raw() };
    }
}

impl SpinLock {
    /// A free lock with [`DEFAULT_SPIN_LIMIT`].
    pub const fn new() -> SpinLock {
        SpinLock::with_spin_limit(DEFAULT_SPIN_LIMIT)
    }

    /// A free lock whose waiters spin at most `spin_limit` iterations
    /// before they sleep (0: sleep as soon as the lock is seen held).
    pub const fn with_spin_limit(spin_limit: u32) -> SpinLock {
        SpinLock {
            state: AtomicU32::new(0),
            owner_cpu: AtomicU32::new(NO_CPU),
            spin_limit,
            stats: Stats::new(),
        }
    }

    /// Takes the lock (spinning, then sleeping).
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_> {
        self.lock_raw();
        SpinGuard { lock: self }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> Option<SpinGuard<'_>> {
        self.try_lock_raw().then(|| SpinGuard { lock: self })
    }

    /// Takes the lock; release it with [`SpinLock::unlock_raw`] (for the C
    /// API and lock-step tests).
    #[inline]
    pub fn lock_raw(&self) {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        // The CPU after the acquisition: a waiter may have slept and woken
        // up elsewhere.
        self.held(area_and_cpu().1);
    }

    /// Takes the lock if it is free; returns whether it did.
    #[inline]
    pub fn try_lock_raw(&self) -> bool {
        let ok = self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.held(area_and_cpu().1);
        }
        ok
    }

    #[inline(always)]
    fn held(&self, cpu: u32) {
        self.owner_cpu.store(cpu, Ordering::Relaxed);
        slice::begin(&self.stats);
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        self.stats.inc(CONTENDED);
        let area = area_and_cpu().0;
        let state = &self.state;
        let took = spin(&self.stats, &self.owner_cpu, self.spin_limit, area, || {
            state.load(Ordering::Relaxed) == 0
                && state
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        });
        if took {
            self.stats.inc(SPIN_ACQUIRED);
            return;
        }
        // Sleep phase: whoever swaps in 2 and finds the lock free owns it
        // (with 2: another waiter may sleep, so its unlock wakes one).
        while state.swap(2, Ordering::Acquire) != 0 {
            self.stats.inc(SLEEPS);
            futex::wait(state, 2, u32::MAX);
        }
    }

    /// Releases the lock.
    ///
    /// # Safety
    /// The calling thread holds the lock (taken with [`SpinLock::lock_raw`]
    /// or [`SpinLock::try_lock_raw`] and not released since).
    #[inline]
    pub unsafe fn unlock_raw(&self) {
        self.owner_cpu.store(NO_CPU, Ordering::Relaxed);
        let was = self.state.swap(0, Ordering::Release);
        // The extension ends before the wake: a granted thread owes the
        // CPU back now, and the futex call would end the grant anyway
        // (uncounted).
        slice::end(&self.stats);
        if was == 2 {
            self.stats.inc(WAKES);
            futex::wake_one(&self.state, u32::MAX);
        }
    }

    /// Whether someone holds the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != 0
    }

    /// The CPU the holder published, if any (a snapshot).
    pub fn owner_cpu(&self) -> Option<u32> {
        Some(self.owner_cpu.load(Ordering::Relaxed)).filter(|&c| c != NO_CPU)
    }

    /// The slow paths' counters.
    pub fn stats(&self) -> LockStats {
        self.stats.get()
    }
}

/// How a [`NumaSpinLock`] came to its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Handoff {
    /// Taken free and open (fast path, or no reservation).
    None = 0,
    /// Handed to the holder's node by a holder of the same node while
    /// another node had waiters: counts toward the bound.
    Local = 1,
    /// Handed to the holder's node by a holder of the same node, no other
    /// node waiting.
    LocalUncontested = 2,
    /// Handed over from a holder of another node.
    Remote = 3,
}

/// State bits of [`NumaSpinLock`]: held, and the reserved node + 1 in bits
/// 8 and up (0: open to every node).
const HELD: u32 = 1;
const RESERVED_SHIFT: u32 = 8;

/// A [`SpinLock`] that hands itself to waiters of the releasing holder's
/// NUMA node first (`node_id` from rseq), at most `bound` times in a row
/// while another node has waiters (see the module documentation).
#[repr(C, align(64))]
pub struct NumaSpinLock {
    state: AtomicU32,
    owner_cpu: AtomicU32,
    /// The holder's node (written by the holder).
    holder_node: AtomicU32,
    /// Local hand-offs in a row (written by the holder).
    streak: AtomicU32,
    /// How the current holder got the lock (written by the releasing
    /// holder before the state, read by the next one after).
    handoff: AtomicU32,
    /// Waiters in the slow path, all nodes.
    total_waiting: AtomicU32,
    /// Waiters around a futex sleep, all nodes.
    total_sleeping: AtomicU32,
    /// The process epoch ([`crate::fork::current`]) the waiter counts
    /// belong to, 0 before the first slow path, or [`crate::fork::RESETTING`].
    /// Another process's epoch means the counts were inherited across
    /// `fork` and count threads that do not exist here.
    epoch: AtomicU32,
    spin_limit: u32,
    bound: u32,
    waiting: Counts,
    sleeping: Counts,
    stats: Stats,
}

#[repr(C, align(64))]
struct Counts([AtomicU32; NUMA_NODES]);

impl Counts {
    const fn new() -> Counts {
        Counts([const { AtomicU32::new(0) }; NUMA_NODES])
    }

    /// Node `n`'s count (`n` folded: no bounds check, no panic path).
    #[inline(always)]
    fn of(&self, n: usize) -> &AtomicU32 {
        &self.0[n % NUMA_NODES]
    }
}

/// A held [`NumaSpinLock`]; unlocks on drop.
#[must_use = "the lock is released when the guard is dropped"]
pub struct NumaGuard<'a> {
    lock: &'a NumaSpinLock,
    handoff: Handoff,
}

impl NumaGuard<'_> {
    /// How this hold began.
    pub fn handoff(&self) -> Handoff {
        self.handoff
    }
}

impl Drop for NumaGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard's existence means this thread holds the lock.
        unsafe { self.lock.unlock_raw() };
    }
}

impl Default for NumaSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

/// The calling thread's NUMA node: `node_id` from its area where the kernel
/// fills it (6.3+), else the vDSO's or the system call's, else 0.
pub fn current_node() -> u32 {
    rseq_sched_getcpu::getcpu().map(|(_, n, _)| n).unwrap_or(0)
}

impl NumaSpinLock {
    /// A free lock with [`DEFAULT_SPIN_LIMIT`] and [`DEFAULT_HANDOFF_BOUND`].
    pub const fn new() -> NumaSpinLock {
        NumaSpinLock::with_params(DEFAULT_SPIN_LIMIT, DEFAULT_HANDOFF_BOUND)
    }

    /// A free lock: waiters spin at most `spin_limit` iterations; at most
    /// `bound` (at least 1) local hand-offs in a row while another node
    /// waits.
    pub const fn with_params(spin_limit: u32, bound: u32) -> NumaSpinLock {
        NumaSpinLock {
            state: AtomicU32::new(0),
            owner_cpu: AtomicU32::new(NO_CPU),
            holder_node: AtomicU32::new(0),
            streak: AtomicU32::new(0),
            handoff: AtomicU32::new(0),
            total_waiting: AtomicU32::new(0),
            total_sleeping: AtomicU32::new(0),
            epoch: AtomicU32::new(0),
            spin_limit,
            bound: if bound == 0 { 1 } else { bound },
            waiting: Counts::new(),
            sleeping: Counts::new(),
            stats: Stats::new(),
        }
    }

    /// Takes the lock as a thread of the node it runs on.
    #[inline]
    pub fn lock(&self) -> NumaGuard<'_> {
        let handoff = self.lock_as_raw(current_node());
        NumaGuard {
            lock: self,
            handoff,
        }
    }

    /// Takes the lock as a thread of node `node` (folded modulo
    /// [`NUMA_NODES`]): for callers that know their node better than the
    /// scheduler's current placement, and for tests.
    #[inline]
    pub fn lock_as(&self, node: u32) -> NumaGuard<'_> {
        let handoff = self.lock_as_raw(node);
        NumaGuard {
            lock: self,
            handoff,
        }
    }

    /// [`NumaSpinLock::lock_as`] without a guard: release with
    /// [`NumaSpinLock::unlock_raw`].
    pub fn lock_as_raw(&self, node: u32) -> Handoff {
        let n = node % NUMA_NODES as u32;
        let handoff = if self
            .state
            .compare_exchange(0, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            Handoff::None
        } else {
            self.lock_slow(n)
        };
        self.holder_node.store(n, Ordering::Relaxed);
        self.owner_cpu.store(area_and_cpu().1, Ordering::Relaxed);
        slice::begin(&self.stats);
        handoff
    }

    /// Takes the lock if it is free and open (no reservation).
    pub fn try_lock_as_raw(&self, node: u32) -> bool {
        let mut ok = self
            .state
            .compare_exchange(0, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        // Free but reserved: perhaps for a waiter of the parent process,
        // a reservation that clearing inherited counts opens.
        if !ok && self.state.load(Ordering::Relaxed) & HELD == 0 && self.own_counts() {
            ok = self
                .state
                .compare_exchange(0, HELD, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        }
        if ok {
            self.holder_node
                .store(node % NUMA_NODES as u32, Ordering::Relaxed);
            self.owner_cpu.store(area_and_cpu().1, Ordering::Relaxed);
            slice::begin(&self.stats);
        }
        ok
    }

    /// Whether a waiter of node `n` may take the lock in state `s`.
    #[inline(always)]
    fn takeable(s: u32, n: u32) -> bool {
        let r = s >> RESERVED_SHIFT;
        s & HELD == 0 && (r == 0 || r == n + 1)
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, n: u32) -> Handoff {
        self.stats.inc(CONTENDED);
        let area = area_and_cpu().0;
        let nu = n as usize;
        // Before counting: counts inherited across fork are cleared first.
        self.own_counts();
        self.waiting.of(nu).fetch_add(1, Ordering::SeqCst);
        self.total_waiting.fetch_add(1, Ordering::SeqCst);
        let state = &self.state;
        let mut reserved = false;
        let mut try_take = || {
            let s = state.load(Ordering::SeqCst);
            if Self::takeable(s, n)
                && state
                    .compare_exchange(s, HELD, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                reserved = s >> RESERVED_SHIFT != 0;
                return true;
            }
            false
        };
        let mut slept = false;
        loop {
            if spin(
                &self.stats,
                &self.owner_cpu,
                self.spin_limit,
                area,
                &mut try_take,
            ) {
                break;
            }
            // Sleep while the state stays what this waiter cannot take: the
            // count first, then the futex's check of the state (see the
            // module documentation).
            self.sleeping.of(nu).fetch_add(1, Ordering::SeqCst);
            self.total_sleeping.fetch_add(1, Ordering::SeqCst);
            let s = state.load(Ordering::SeqCst);
            if !Self::takeable(s, n) {
                self.stats.inc(SLEEPS);
                slept = true;
                futex::wait(state, s, 1 << n);
            }
            self.total_sleeping.fetch_sub(1, Ordering::SeqCst);
            self.sleeping.of(nu).fetch_sub(1, Ordering::SeqCst);
        }
        if !slept {
            self.stats.inc(SPIN_ACQUIRED);
        }
        self.total_waiting.fetch_sub(1, Ordering::SeqCst);
        self.waiting.of(nu).fetch_sub(1, Ordering::SeqCst);
        if !reserved {
            return Handoff::None;
        }
        match self.handoff.load(Ordering::Relaxed) {
            1 => Handoff::Local,
            2 => Handoff::LocalUncontested,
            _ => Handoff::Remote,
        }
    }

    /// Releases the lock, to a waiter of the holder's node first (see the
    /// module documentation).
    ///
    /// # Safety
    /// The calling thread holds the lock (taken with
    /// [`NumaSpinLock::lock_as_raw`] or [`NumaSpinLock::try_lock_as_raw`]
    /// and not released since).
    pub unsafe fn unlock_raw(&self) {
        self.owner_cpu.store(NO_CPU, Ordering::Relaxed);
        let target = if self.total_waiting.load(Ordering::SeqCst) == 0 {
            self.streak.store(0, Ordering::Relaxed);
            self.state.store(0, Ordering::SeqCst);
            // A waiter may have counted itself after the load above: it
            // sees the state just stored, or it is asleep and counted.
            None
        } else {
            self.unlock_handoff()
        };
        // Before the wake, as in SpinLock::unlock_raw.
        slice::end(&self.stats);
        self.wake_after_release(target);
    }

    #[cold]
    #[inline(never)]
    fn unlock_handoff(&self) -> Option<usize> {
        // Counts inherited across fork (the child of a fork whose parent
        // had waiters) are cleared here: a hand-off to a waiter that does
        // not exist would keep the lock reserved for good.
        self.own_counts();
        let h = self.holder_node.load(Ordering::Relaxed) as usize;
        let streak = self.streak.load(Ordering::Relaxed);
        let waits = |k: usize| self.waiting.of(k).load(Ordering::SeqCst) != 0;
        let local = waits(h);
        let other = (1..NUMA_NODES)
            .map(|d| (h + d) % NUMA_NODES)
            .find(|&k| waits(k));
        let target = match other {
            Some(_) if local && streak < self.bound => {
                self.handoff.store(Handoff::Local as u32, Ordering::Relaxed);
                self.streak.store(streak + 1, Ordering::Relaxed);
                self.stats.inc(HANDOFF_LOCAL);
                Some(h)
            }
            None if local => {
                self.handoff
                    .store(Handoff::LocalUncontested as u32, Ordering::Relaxed);
                self.streak
                    .store(streak.saturating_add(1), Ordering::Relaxed);
                self.stats.inc(HANDOFF_LOCAL);
                Some(h)
            }
            Some(k) => {
                self.handoff
                    .store(Handoff::Remote as u32, Ordering::Relaxed);
                self.streak.store(0, Ordering::Relaxed);
                self.stats.inc(HANDOFF_REMOTE);
                if local {
                    self.stats.inc(HANDOFF_BOUNDED);
                }
                Some(k)
            }
            // The waiters counted in total_waiting had not counted
            // themselves per node yet when read: open the lock.
            None => {
                self.streak.store(0, Ordering::Relaxed);
                None
            }
        };
        let new = match target {
            Some(k) => (k as u32 + 1) << RESERVED_SHIFT,
            None => 0,
        };
        self.state.store(new, Ordering::SeqCst);
        target
    }

    /// Makes the waiter counts this process's: where they belong to another
    /// process's epoch (inherited across `fork`, or a lock never contended
    /// yet), the first caller clears them, and opens a reservation made for
    /// a waiter of that other process, before storing this process's epoch;
    /// concurrent callers wait until it has. Every thread counts itself only
    /// after this, so no count of this process is ever cleared. Returns
    /// whether this call cleared anything. Slow paths only: two loads when
    /// the epoch is already this process's.
    #[cold]
    #[inline(never)]
    fn own_counts(&self) -> bool {
        let now = crate::fork::current();
        loop {
            let e = self.epoch.load(Ordering::Acquire);
            if e == now {
                return false;
            }
            if e == crate::fork::RESETTING {
                // Another thread of this process clears the counts (with
                // its signals blocked: nothing of this process can stop it).
                // SAFETY: sched_yield takes no arguments.
                unsafe { rseq_abi::arch::syscall0(rseq_abi::arch::nr::SCHED_YIELD) };
                continue;
            }
            // No handler of this thread may wait on RESETTING for itself.
            let _blocked = rseq_registration::SignalsBlocked::new();
            if self
                .epoch
                .compare_exchange(
                    e,
                    crate::fork::RESETTING,
                    Ordering::SeqCst,
                    Ordering::Acquire,
                )
                .is_err()
            {
                continue;
            }
            let counts = [&self.waiting, &self.sleeping];
            for c in counts {
                for n in 0..NUMA_NODES {
                    c.of(n).store(0, Ordering::SeqCst);
                }
            }
            self.total_waiting.store(0, Ordering::SeqCst);
            self.total_sleeping.store(0, Ordering::SeqCst);
            // A free lock reserved for a node: only an unlock that saw
            // counts reserves, and none of this process did (they all
            // wait for the epoch), so the reservation is for a waiter of
            // the other process. A held state stays held.
            let s = self.state.load(Ordering::SeqCst);
            if s & HELD == 0 && s != 0 {
                let _ = self
                    .state
                    .compare_exchange(s, 0, Ordering::SeqCst, Ordering::Relaxed);
            }
            self.epoch.store(now, Ordering::SeqCst);
            return true;
        }
    }

    /// After the state is stored: wakes one sleeper of the node the lock
    /// was handed to, or any one sleeper if it is open.
    fn wake_after_release(&self, target: Option<usize>) {
        let bits = match target {
            Some(k) if self.sleeping.of(k).load(Ordering::SeqCst) != 0 => 1u32 << k,
            Some(_) => return,
            None if self.total_sleeping.load(Ordering::SeqCst) != 0 => u32::MAX,
            None => return,
        };
        self.stats.inc(WAKES);
        futex::wake_one(&self.state, bits);
    }

    /// Waiters of node `node` in the slow path now (a snapshot; 0 for
    /// counts inherited across `fork`, which count no thread of this
    /// process).
    pub fn waiters(&self, node: u32) -> u32 {
        if self.epoch.load(Ordering::Acquire) != crate::fork::current() {
            return 0;
        }
        self.waiting
            .of((node % NUMA_NODES as u32) as usize)
            .load(Ordering::SeqCst)
    }

    /// Whether someone holds the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & HELD != 0
    }

    /// The local hand-offs in a row the lock allows while another node waits.
    pub fn bound(&self) -> u32 {
        self.bound
    }

    /// The slow paths' counters.
    pub fn stats(&self) -> LockStats {
        self.stats.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::UnsafeCell;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    /// A counter only the lock protects: a plain read, a delay, a plain
    /// write (a lost update shows as a short total).
    struct Unprotected(UnsafeCell<u64>);
    // SAFETY: every access in these tests is under the lock under test.
    unsafe impl Sync for Unprotected {}

    impl Unprotected {
        fn bump(&self) {
            // SAFETY: called with the lock held (the property under test).
            unsafe {
                let v = core::ptr::read_volatile(self.0.get());
                for _ in 0..20 {
                    core::hint::spin_loop();
                }
                core::ptr::write_volatile(self.0.get(), v + 1);
            }
        }

        fn get(&self) -> u64 {
            // SAFETY: read after every thread was joined.
            unsafe { *self.0.get() }
        }
    }

    fn cpus() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    fn yield_now() {
        // SAFETY: sched_yield takes no arguments.
        unsafe { rseq_abi::arch::syscall0(rseq_abi::arch::nr::SCHED_YIELD) };
    }

    fn hammer<L: Send + Sync + 'static>(
        lock: Arc<L>,
        threads: usize,
        iters: u64,
        take: fn(&L, &Unprotected, usize),
    ) {
        let counter = Arc::new(Unprotected(UnsafeCell::new(0)));
        let ts: Vec<_> = (0..threads)
            .map(|t| {
                let (lock, counter) = (lock.clone(), counter.clone());
                std::thread::spawn(move || {
                    for i in 0..iters {
                        take(&lock, &counter, t);
                        if i % 1024 == 0 {
                            yield_now();
                        }
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(counter.get(), threads as u64 * iters);
    }

    #[test]
    fn spinlock_excludes_many_threads() {
        for limit in [DEFAULT_SPIN_LIMIT, 0] {
            let lock = Arc::new(SpinLock::with_spin_limit(limit));
            hammer(lock.clone(), 4 * cpus(), 20_000, |l, c, _| {
                let _g = l.lock();
                c.bump();
            });
            assert!(!lock.is_locked());
            assert_eq!(lock.owner_cpu(), None);
        }
    }

    #[test]
    fn spinlock_try_lock() {
        let lock = SpinLock::new();
        let g = lock.try_lock().expect("free");
        assert!(lock.try_lock().is_none());
        if rseq_registration::current_area().is_some() {
            assert!(lock.owner_cpu().is_some());
        }
        drop(g);
        assert!(lock.try_lock().is_some());
        assert_eq!(lock.stats().contended, 0);
    }

    #[test]
    fn numa_lock_excludes_many_threads() {
        for (limit, bound) in [(DEFAULT_SPIN_LIMIT, 2), (0, 1), (0, 1000)] {
            let lock = Arc::new(NumaSpinLock::with_params(limit, bound));
            hammer(lock.clone(), 4 * cpus(), 20_000, |l, c, t| {
                let _g = l.lock_as(t as u32 % 3);
                c.bump();
            });
            assert!(!lock.is_locked());
            let s = lock.stats();
            assert_eq!((0..3).map(|n| lock.waiters(n)).sum::<u32>(), 0);
            eprintln!("numa limit {limit} bound {bound}: {s:?}");
        }
        let lock = Arc::new(NumaSpinLock::new());
        hammer(lock, 2 * cpus(), 10_000, |l, c, _| {
            let _g = l.lock();
            c.bump();
        });
    }

    /// Runs `holder` pinned to `hcpu` holding `lock`, and one waiter pinned
    /// to `wcpu`; the holder keeps the lock (yielding: runnable, not
    /// running while the waiter runs on its CPU) until the waiter has gone
    /// to sleep, so the test ends whatever the detection does.
    fn holder_and_waiter(hcpu: usize, wcpu: usize) -> LockStats {
        let lock = Arc::new(SpinLock::new());
        let held = Arc::new(AtomicBool::new(false));
        let waiter_in = Arc::new(AtomicBool::new(false));
        let holder = {
            let (lock, held, waiter_in) = (lock.clone(), held.clone(), waiter_in.clone());
            std::thread::spawn(move || {
                assert_eq!(crate::pin_to_cpu(hcpu), 0);
                let g = lock.lock();
                assert_eq!(lock.owner_cpu(), Some(hcpu as u32));
                held.store(true, Ordering::SeqCst);
                // Until the waiter sleeps; a waiter that got in meanwhile
                // (a broken lock) ends the wait too, and fails below.
                while lock.stats().sleeps == 0 && !waiter_in.load(Ordering::SeqCst) {
                    yield_now();
                }
                let broken = waiter_in.load(Ordering::SeqCst);
                drop(g);
                assert!(!broken, "the waiter got the lock while it was held");
            })
        };
        let waiter = {
            let (lock, held) = (lock.clone(), held.clone());
            std::thread::spawn(move || {
                assert_eq!(crate::pin_to_cpu(wcpu), 0);
                while !held.load(Ordering::SeqCst) {
                    yield_now();
                }
                let g = lock.lock();
                waiter_in.store(true, Ordering::SeqCst);
                drop(g);
            })
        };
        holder.join().unwrap();
        waiter.join().unwrap();
        lock.stats()
    }

    fn allowed() -> Vec<usize> {
        let mut out = [0u32; 1024];
        let n = crate::allowed_cpus(&mut out);
        out[..n].iter().map(|&c| c as usize).collect()
    }

    /// The holder is preempted on the waiter's own CPU (both pinned there):
    /// the waiter must see it not running at its first check and sleep,
    /// without spending its spin budget.
    #[test]
    fn waiter_detects_holder_preempted_on_its_cpu() {
        if rseq_registration::current_area().is_none() {
            eprintln!("SKIP: no rseq area");
            return;
        }
        let c = allowed()[0];
        let s = holder_and_waiter(c, c);
        eprintln!("same CPU: {s:?}");
        assert_eq!(s.contended, 1, "{s:?}");
        assert_eq!(s.holder_not_running, 1, "{s:?}");
        assert_eq!(s.spin_exhausted, 0, "{s:?}");
        assert!(s.sleeps >= 1, "{s:?}");
        assert_eq!(s.spin_acquired, 0, "{s:?}");
    }

    /// What rseq cannot tell: a holder not running on another CPU. The
    /// waiter spends its budget, then sleeps.
    #[test]
    fn holder_off_cpu_elsewhere_is_not_detected() {
        let cpus = allowed();
        if rseq_registration::current_area().is_none() || cpus.len() < 2 {
            eprintln!("SKIP: needs an rseq area and 2 CPUs");
            return;
        }
        let s = holder_and_waiter(cpus[0], cpus[1]);
        eprintln!("other CPU: {s:?}");
        assert_eq!(s.holder_not_running, 0, "{s:?}");
        assert_eq!(s.spin_exhausted, 1, "{s:?}");
        assert!(s.sleeps >= 1, "{s:?}");
    }

    /// Hand-off order with every waiter queued before the release: the
    /// holder's node first, at most `bound` in a row while another node
    /// waits. Nodes are given explicitly (this machine has one).
    fn handoff_order(bound: u32, spin_limit: u32) -> (Vec<(u32, Handoff)>, LockStats) {
        let lock = Arc::new(NumaSpinLock::with_params(spin_limit, bound));
        let log = Arc::new(Mutex::new(Vec::new()));
        let g = lock.lock_as(0);
        let waiters: Vec<_> = [0u32, 0, 1]
            .into_iter()
            .map(|node| {
                let (lock, log) = (lock.clone(), log.clone());
                std::thread::spawn(move || {
                    let g = lock.lock_as(node);
                    log.lock().unwrap().push((node, g.handoff()));
                })
            })
            .collect();
        while lock.waiters(0) != 2 || lock.waiters(1) != 1 {
            yield_now();
        }
        drop(g);
        for w in waiters {
            w.join().unwrap();
        }
        let l = log.lock().unwrap().clone();
        (l, lock.stats())
    }

    #[test]
    fn numa_hands_off_locally_first_bounded() {
        for limit in [DEFAULT_SPIN_LIMIT, 0] {
            let (log, s) = handoff_order(16, limit);
            assert_eq!(
                log,
                [
                    (0, Handoff::Local),
                    (0, Handoff::Local),
                    (1, Handoff::Remote)
                ],
                "{s:?}"
            );
            assert_eq!(
                (s.handoff_local, s.handoff_remote, s.handoff_bounded),
                (2, 1, 0)
            );
            let (log, s) = handoff_order(1, limit);
            assert_eq!(
                log,
                [
                    (0, Handoff::Local),
                    (1, Handoff::Remote),
                    (0, Handoff::Remote)
                ],
                "{s:?}"
            );
            assert_eq!(
                (s.handoff_local, s.handoff_remote, s.handoff_bounded),
                (1, 2, 1)
            );
        }
    }

    /// Under contention from three nodes: every hand-off goes where its kind
    /// says, and no node gets more than `bound` counted local hand-offs in a
    /// row.
    #[test]
    fn numa_handoff_invariants_under_contention() {
        const BOUND: u32 = 3;
        let lock = Arc::new(NumaSpinLock::with_params(100, BOUND));
        let log = Arc::new(Mutex::new(Vec::new()));
        let ts: Vec<_> = (0..3 * cpus())
            .map(|t| {
                let (lock, log) = (lock.clone(), log.clone());
                std::thread::spawn(move || {
                    let node = t as u32 % 3;
                    for _ in 0..3000 {
                        let g = lock.lock_as(node);
                        log.lock().unwrap().push((node, g.handoff()));
                        for _ in 0..50 {
                            core::hint::spin_loop();
                        }
                        drop(g);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        let log = log.lock().unwrap();
        check_handoff_log(&log, BOUND);
        let s = lock.stats();
        eprintln!("contention: {s:?}");
        assert_eq!(
            s.handoff_local + s.handoff_remote,
            log.iter().filter(|e| e.1 != Handoff::None).count() as u64
        );
    }

    use crate::fork::tests::in_fork_child;

    /// The `pthread_atfork` idiom on a [`NumaSpinLock`]: the forking thread
    /// holds the lock across `fork` while a thread of another node waits in
    /// the parent. The child (one thread) unlocks it, then must be able to
    /// take it again as any node: the parent's waiter counts belong to a
    /// thread that does not exist in the child, and a hand-off to its node
    /// would keep the lock reserved for good.
    #[test]
    fn numa_lock_after_fork_with_a_waiter_of_another_node() {
        for limit in [DEFAULT_SPIN_LIMIT, 0] {
            let lock = Arc::new(NumaSpinLock::with_params(limit, DEFAULT_HANDOFF_BOUND));
            lock.lock_as_raw(0);
            let waiter = {
                let lock = lock.clone();
                std::thread::spawn(move || drop(lock.lock_as(1)))
            };
            while lock.waiters(1) != 1 {
                yield_now();
            }
            let child = in_fork_child(|| {
                // SAFETY: the forking thread held the lock at fork.
                unsafe { lock.unlock_raw() };
                if !lock.try_lock_as_raw(0) {
                    return 1;
                }
                // SAFETY: taken just above.
                unsafe { lock.unlock_raw() };
                for node in [0, 1, 2] {
                    lock.lock_as_raw(node);
                    // SAFETY: taken just above.
                    unsafe { lock.unlock_raw() };
                }
                if lock.is_locked() || lock.waiters(1) != 0 {
                    return 2;
                }
                0
            });
            // SAFETY: taken above by this thread.
            unsafe { lock.unlock_raw() };
            waiter.join().unwrap();
            assert_eq!(
                child, 0,
                "spin limit {limit}: the child could not take the lock"
            );
            assert_eq!((lock.waiters(0), lock.waiters(1)), (0, 0));
            assert!(lock.try_lock_as_raw(1), "the parent's lock works on");
            // SAFETY: taken just above.
            unsafe { lock.unlock_raw() };
        }
    }

    /// The same idiom on a [`SpinLock`] whose parent waiter sleeps (the
    /// state says "a waiter may sleep"): the child's unlock frees it (its
    /// one wake finds nobody) and the child takes it again.
    #[test]
    fn spinlock_after_fork_with_a_sleeping_waiter() {
        let lock = Arc::new(SpinLock::with_spin_limit(0));
        lock.lock_raw();
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || drop(lock.lock()))
        };
        while lock.stats().sleeps == 0 {
            yield_now();
        }
        let child = in_fork_child(|| {
            // SAFETY: the forking thread held the lock at fork.
            unsafe { lock.unlock_raw() };
            if !lock.try_lock_raw() {
                return 1;
            }
            // SAFETY: taken just above.
            unsafe { lock.unlock_raw() };
            lock.lock_raw();
            // SAFETY: taken just above.
            unsafe { lock.unlock_raw() };
            if lock.is_locked() {
                return 2;
            }
            0
        });
        // SAFETY: taken above by this thread.
        unsafe { lock.unlock_raw() };
        waiter.join().unwrap();
        assert_eq!(child, 0);
    }

    /// In the child, before the forking thread unlocks: the lock stays
    /// held (a trylock fails, whatever the inherited counts), and the
    /// parent's waiters are not reported as the child's. (Threads of the
    /// child that wait before the unlock: `tests/locks/`, where the child
    /// comes from the libc's `fork` and may create threads.)
    #[test]
    fn numa_lock_held_across_fork_stays_held_in_the_child() {
        let lock = Arc::new(NumaSpinLock::with_params(0, DEFAULT_HANDOFF_BOUND));
        lock.lock_as_raw(0);
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || drop(lock.lock_as(3)))
        };
        while lock.waiters(3) != 1 {
            yield_now();
        }
        let child = in_fork_child(|| {
            // The held lock stays held (the forking thread holds it), and a
            // failed trylock clears nothing it should not.
            if lock.try_lock_as_raw(0) || !lock.is_locked() {
                return 1;
            }
            if (0..4).map(|n| lock.waiters(n)).sum::<u32>() != 0 {
                return 2;
            }
            // SAFETY: the forking thread held the lock at fork.
            unsafe { lock.unlock_raw() };
            if !lock.try_lock_as_raw(0) {
                return 3;
            }
            // SAFETY: taken just above.
            unsafe { lock.unlock_raw() };
            0
        });
        // SAFETY: taken above by this thread.
        unsafe { lock.unlock_raw() };
        waiter.join().unwrap();
        assert_eq!(child, 0);
    }

    /// The log invariants (shared with the NUMA guest test's C checks).
    fn check_handoff_log(log: &[(u32, Handoff)], bound: u32) {
        let mut run = 0;
        for i in 1..log.len() {
            let (prev, (node, h)) = (log[i - 1].0, log[i]);
            match h {
                Handoff::Local | Handoff::LocalUncontested => {
                    assert_eq!(node, prev, "local hand-off to another node at {i}")
                }
                Handoff::Remote => assert_ne!(node, prev, "remote hand-off within a node at {i}"),
                Handoff::None => {}
            }
            run = if h == Handoff::Local { run + 1 } else { 0 };
            assert!(run <= bound, "{run} local hand-offs in a row at {i}");
        }
    }
}
