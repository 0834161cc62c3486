//! Per-CPU memory pool: fixed-size objects on per-CPU free lists, pushed
//! (load-compare-store of the head) and popped (compare-and-pop, ABA-free:
//! head, next and the commit in one section) by restartable sequences;
//! refilled from and drained to a global list under a spin lock.
//!
//! Another thread may take a CPU's whole free list back to the global list
//! ([`Pool::reclaim`]: a CPU that went offline, or any other): it sets the
//! slot's guard word, which every push and pop section loads after its
//! index check, fences the CPU ([`crate::remote::fence_cpu`]: `membarrier`
//! restarts whatever section was in flight there) and then owns the head.
//! Sections that meet the guard leave by their compare-failed exit: pops
//! see an empty list, pushes go to the global list, until the guard drops.
//!
//! A free object's first word is its next pointer, its second the length of
//! the list from it down (a bound on per-CPU lists: the fast free reads it
//! from the head inside its section, exact there; the retry path reads it
//! before its section, a heuristic; it never decides correctness).
//!
//! # Shared memory (several processes)
//!
//! A pool initialized with [`Pool::init_in_place_shared`] may live in
//! `MAP_SHARED` memory used by several processes, with these rules:
//! - `cpu_id` indexing only (an `mm_cid` is per process: two processes both
//!   own concurrency id 0); the shared constructor takes no mode.
//! - Its lists link objects by address, and [`Pool::alloc`] hands out
//!   addresses: the pool and all its storage must be mapped **at the same
//!   address in every process** (mapped before `fork`, or `MAP_FIXED`). The
//!   pool records where it was initialized; [`Pool::check_mapping`] (and
//!   every C entry point, and [`Pool::reclaim`], [`Pool::add_storage`])
//!   answers `-EFAULT` in a process that maps it elsewhere. Offsets were
//!   not chosen: the pop section follows the next pointer of the head
//!   inside the section, and the inline C header's fast paths pop and push
//!   the same objects, so offsets would change the layout every caller
//!   compiled in.
//! - [`Pool::reclaim`] fences with [`crate::remote::fence_cpu_shared`]
//!   (every process's sections on that CPU), never the private
//!   `membarrier` command.
//! - Process death: a push or pop is one section, so a process killed
//!   inside one changes no list; an object it held, or had popped and not
//!   yet returned, is leaked with it. The global list's lock is a spin lock
//!   held for a few instructions: a process killed while holding it wedges
//!   every later refill, overflow and reclaim (the per-CPU lists keep
//!   working). A reclaimer killed between setting a list's guard and
//!   clearing it leaves that CPU on the global list (slower, not wrong).

use crate::{
    arch, count_abort, injected, injection, read_index, thread_area, IndexMode, Outcome, Slots,
};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Objects moved from the global list to a per-CPU list per refill.
pub const REFILL_BATCH: usize = 16;

/// A pool of `obj_size`-byte objects with `N` per-CPU free lists (see the
/// module documentation), indexed by `cpu_id` or `mm_cid`; `INJECT`: the
/// stress-test instantiation.
///
/// # Example
///
/// Objects handed out are distinct until freed, and the pool gets every
/// one back.
///
/// ```
/// use rseq_percpu::{pool::Pool, IndexMode};
/// use std::collections::HashSet;
///
/// static POOL: Pool<64> = Pool::new(IndexMode::CpuId, 64, 8);
/// // 32 objects of 64 bytes in 8-byte-aligned storage the pool keeps.
/// let storage: &'static mut [u64] = Box::leak(vec![0u64; 32 * 64 / 8].into_boxed_slice());
/// // SAFETY: the same memory seen as bytes, u64-aligned, owned from now on
/// // by the slice handed to the pool.
/// let bytes = unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), 32 * 64) };
/// assert_eq!(POOL.add_storage(bytes), Ok(32));
///
/// // A CPU's list refills with at most 8 objects, so 4 allocations succeed
/// // whichever CPUs the thread runs on meanwhile.
/// let objects: Vec<_> = (0..4).map(|_| POOL.alloc().expect("free objects")).collect();
/// let distinct: HashSet<_> = objects.iter().map(|o| o.as_ptr() as usize).collect();
/// assert_eq!(distinct.len(), 4);
/// for o in objects {
///     // SAFETY: each object is 64 writable bytes, this thread's until
///     // freed; from this pool's alloc, not used after the free.
///     unsafe {
///         o.as_ptr().write_bytes(0xa5, 64);
///         POOL.free(o);
///     }
/// }
/// // Freed objects went to the lists of the CPUs the thread ran on (or to
/// // the global list); gather them all to count them.
/// // SAFETY: no other thread uses the pool.
/// unsafe { POOL.drain_all_quiescent() };
/// assert_eq!(POOL.global_len(), 32, "every object came back");
/// assert_eq!(POOL.total(), 32);
/// ```
#[repr(C)] // Layout shared with the inline C header (see `HEADS_OFFSET`).
#[derive(Debug)]
pub struct Pool<const N: usize, const INJECT: bool = false> {
    heads: Slots<N, INJECT>,
    global_lock: AtomicBool,
    global_head: AtomicUsize,
    global_len: AtomicUsize,
    obj_size: usize,
    per_cpu_limit: usize,
    total: AtomicUsize,
    /// 0 for a process-private pool; for a shared one, its own address at
    /// initialization (every process must map it there).
    home: AtomicUsize,
}

/// Why the pool could not take storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageError {
    /// The object size is below 16 bytes or not a multiple of 8.
    BadObjectSize,
    /// The storage is not 8-byte aligned.
    Misaligned,
    /// A shared pool mapped at another address than where it was
    /// initialized ([`Pool::check_mapping`]).
    Remapped,
}

impl<const N: usize, const INJECT: bool> Pool<N, INJECT> {
    /// Byte offset of the per-CPU list heads ([`Slots`]): the inline C
    /// header pops and pushes them in place.
    pub const HEADS_OFFSET: usize = core::mem::offset_of!(Self, heads);
    /// Byte offset of `per_cpu_limit` (read by the inline C header's free).
    pub const PER_CPU_LIMIT_OFFSET: usize = core::mem::offset_of!(Self, per_cpu_limit);

    /// An empty pool of `obj_size`-byte objects (a multiple of 8, at least
    /// 16), keeping at most about `per_cpu_limit` free objects per CPU.
    pub const fn new(mode: IndexMode, obj_size: usize, per_cpu_limit: usize) -> Self {
        Pool {
            heads: Slots::with_mode(mode),
            global_lock: AtomicBool::new(false),
            global_head: AtomicUsize::new(0),
            global_len: AtomicUsize::new(0),
            obj_size,
            per_cpu_limit,
            total: AtomicUsize::new(0),
            home: AtomicUsize::new(0),
        }
    }

    /// Initializes the memory at `p` as an empty pool (see [`Pool::new`]),
    /// without building it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(
        p: *mut Self,
        mode: IndexMode,
        obj_size: usize,
        per_cpu_limit: usize,
    ) {
        use core::ptr::addr_of_mut;
        // SAFETY: the caller's contract; every field is written.
        unsafe {
            Slots::init_in_place(addr_of_mut!((*p).heads), mode);
            addr_of_mut!((*p).global_lock).write(AtomicBool::new(false));
            addr_of_mut!((*p).global_head).write(AtomicUsize::new(0));
            addr_of_mut!((*p).global_len).write(AtomicUsize::new(0));
            addr_of_mut!((*p).obj_size).write(obj_size);
            addr_of_mut!((*p).per_cpu_limit).write(per_cpu_limit);
            addr_of_mut!((*p).total).write(AtomicUsize::new(0));
            addr_of_mut!((*p).home).write(AtomicUsize::new(0));
        }
    }

    /// Initializes the memory at `p` as an empty pool (see [`Pool::new`])
    /// that several processes may use: `cpu_id` indexing, reclaims fence
    /// every process, and every process must map it (and the storage given
    /// to it) at `p` (see the module documentation).
    ///
    /// # Safety
    /// As [`Pool::init_in_place`]; no process uses the memory during the
    /// call.
    pub unsafe fn init_in_place_shared(p: *mut Self, obj_size: usize, per_cpu_limit: usize) {
        // SAFETY: the caller's contract.
        unsafe {
            Self::init_in_place(p, IndexMode::CpuId, obj_size, per_cpu_limit);
            (*p).home.store(p as usize, Ordering::Relaxed);
        }
    }

    /// Whether the pool was initialized shared between processes.
    pub fn is_shared(&self) -> bool {
        self.home.load(Ordering::Relaxed) != 0
    }

    /// `Ok` for a process-private pool, or a shared one mapped where it was
    /// initialized; `-EFAULT` for a shared pool this process maps at another
    /// address (its lists and objects are addresses of the first mapping).
    pub fn check_mapping(&self) -> Result<(), i32> {
        match self.home.load(Ordering::Relaxed) {
            0 => Ok(()),
            h if h == self as *const Self as usize => Ok(()),
            _ => Err(-rseq_abi::errno::EFAULT),
        }
    }

    /// Object size in bytes.
    pub fn object_size(&self) -> usize {
        self.obj_size
    }

    /// Objects the pool owns (free or handed out).
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Free objects on the global list.
    pub fn global_len(&self) -> usize {
        self.global_len.load(Ordering::Relaxed)
    }

    /// Gives `storage` to the pool, carved into objects. Returns how many.
    pub fn add_storage(&self, storage: &'static mut [u8]) -> Result<usize, StorageError> {
        if self.check_mapping().is_err() {
            return Err(StorageError::Remapped);
        }
        if self.obj_size < 16 || !self.obj_size.is_multiple_of(8) {
            return Err(StorageError::BadObjectSize);
        }
        if !(storage.as_ptr() as usize).is_multiple_of(8) {
            return Err(StorageError::Misaligned);
        }
        let n = storage.len() / self.obj_size;
        let base = storage.as_mut_ptr();
        for k in 0..n {
            // SAFETY: k * obj_size + obj_size <= len; the storage is the
            // pool's from now on ('static, exclusive).
            unsafe { self.global_push(base.add(k * self.obj_size)) };
        }
        self.total.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    fn lock(&self) {
        let mut spins = 0u32;
        while self
            .global_lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins.is_multiple_of(64) {
                // SAFETY: sched_yield has no arguments and no memory effects.
                unsafe { rseq_abi::arch::syscall0(rseq_abi::arch::nr::SCHED_YIELD) };
            } else {
                core::hint::spin_loop();
            }
        }
    }

    fn unlock(&self) {
        self.global_lock.store(false, Ordering::Release);
    }

    /// # Safety
    /// `obj` is a free object of this pool, on no list.
    unsafe fn global_push(&self, obj: *mut u8) {
        self.lock();
        // SAFETY: obj is a free 8-aligned object of >= 16 bytes.
        unsafe {
            ptr::write(
                obj.cast::<usize>(),
                self.global_head.load(Ordering::Relaxed),
            )
        };
        self.global_head.store(obj as usize, Ordering::Relaxed);
        self.global_len.fetch_add(1, Ordering::Relaxed);
        self.unlock();
    }

    fn global_pop(&self) -> Option<NonNull<u8>> {
        self.lock();
        let head = self.global_head.load(Ordering::Relaxed);
        if head != 0 {
            // SAFETY: head is a free object on the global list, guarded by
            // the lock.
            let next = unsafe { ptr::read(head as *const usize) };
            self.global_head.store(next, Ordering::Relaxed);
            self.global_len.fetch_sub(1, Ordering::Relaxed);
        }
        self.unlock();
        NonNull::new(head as *mut u8)
    }

    /// One attempt to push `obj` on the current per-CPU list: `Done`,
    /// `Aborted` / `CompareFailed` (retry), or `None` when the list is full
    /// or the index is beyond N (the caller goes global).
    ///
    /// # Safety
    /// `obj` is a free object of this pool, on no list; `area`/`field` are
    /// the calling thread's (from `thread_area`).
    #[inline(always)]
    unsafe fn push_local_once(
        &self,
        area: *mut rseq_abi::Rseq,
        field: *const u32,
        obj: *mut u8,
    ) -> Option<Outcome> {
        // No index (an area the kernel no longer has registered) or one
        // beyond N: the global list.
        let i = read_index(area, field).filter(|&i| (i as usize) < N)?;
        // SAFETY: the caller's contract; i < N.
        unsafe { self.push_at(area, field, i, obj) }
    }

    /// [`Self::push_local_once`] on index `i`, which the caller read from
    /// `field` and checked against N.
    ///
    /// # Safety
    /// As [`Self::push_local_once`]; `i < N`.
    #[inline(always)]
    unsafe fn push_at(
        &self,
        area: *mut rseq_abi::Rseq,
        field: *const u32,
        i: u32,
        obj: *mut u8,
    ) -> Option<Outcome> {
        // i < N was checked by the caller, outside the section; the section then
        // re-checks that the thread still runs on index i before it
        // commits, so the slot address computed from i is in bounds and
        // the slot is this index's.
        let word = self.heads.slot(crate::Where::Slot(i)).word.as_ptr();
        // Through the register the section compares and commits through,
        // not `(heads, i * 64)`: after a pop on this CPU this load reads the
        // pop's commit, which the CPU hands over early only to a load
        // addressed alike (see `arch::load_word_unindexed`).
        // SAFETY: a load of the head word (aligned, written only
        // atomically); it is compared again inside the section.
        let head = unsafe { arch::load_word_unindexed(word) };
        let depth = if head == 0 {
            0
        } else {
            // SAFETY: head is an object of this pool's storage ('static);
            // another thread may have popped and be writing it, so the
            // value may be stale: it only bounds the list.
            unsafe { ptr::read_volatile((head as *const usize).add(1)) }
        };
        if depth >= self.per_cpu_limit {
            return None;
        }
        // SAFETY: obj is free and ours until the commit publishes it.
        unsafe {
            ptr::write_volatile(obj.cast::<usize>(), head);
            ptr::write_volatile(obj.cast::<usize>().add(1), depth.saturating_add(1));
        }
        let inj = injection::<INJECT>();
        // SAFETY: the head word of slot i is only written by sequences
        // committing on index i.
        let r =
            unsafe { arch::pool_push::<INJECT>(area, field, i, word, head, obj as usize, &inj) };
        injected::<INJECT>(&inj, r);
        Some(r)
    }

    /// Pushes `obj` on the current per-CPU list, retrying after an abort or
    /// a changed head; false when the thread has no area, the index is
    /// beyond N or the list is full (the caller goes global).
    ///
    /// # Safety
    /// `obj` is a free object of this pool, on no list.
    unsafe fn try_push_local(&self, obj: *mut u8) -> bool {
        let Some((area, field)) = thread_area(self.heads.mode()) else {
            return false;
        };
        loop {
            // SAFETY: the caller's contract; area/field are this thread's.
            match unsafe { self.push_local_once(area, field, obj) } {
                Some(Outcome::Done) => return true,
                // The head moved (retry), or the list is being reclaimed
                // (its guard is set): the global list meanwhile.
                Some(Outcome::CompareFailed) => {
                    if self.guarded(area, field) {
                        return false;
                    }
                }
                Some(Outcome::Aborted) => count_abort(),
                None => return false,
            }
        }
    }

    /// One compare-and-pop on the current per-CPU list: `(Done, node)`,
    /// `(CompareFailed, 0)` for an empty list, `(Aborted, _)` (retry), or
    /// `None` when the index is beyond N.
    #[inline(always)]
    fn pop_local_once(
        &self,
        area: *mut rseq_abi::Rseq,
        field: *const u32,
    ) -> Option<(Outcome, usize)> {
        let i = read_index(area, field).filter(|&i| (i as usize) < N)?;
        let node = self.pop_at(area, field, i);
        Some((arch::enc_outcome(node), node))
    }

    /// [`Self::pop_local_once`] on index `i < N`, read by the caller from
    /// `field`: the section's node register, which encodes the outcome
    /// ([`arch::enc_outcome`]: the node when it popped one).
    #[inline(always)]
    fn pop_at(&self, area: *mut rseq_abi::Rseq, field: *const u32, i: u32) -> usize {
        // In bounds: i < N checked by the caller; the section aborts unless
        // the thread still runs on index i (see push_at).
        let word = self.heads.slot(crate::Where::Slot(i)).word.as_ptr();
        // SAFETY: the head word of slot i is only written by sequences
        // committing on index i; every node on the list is a free object
        // whose first word is its next pointer.
        let inj = injection::<INJECT>();
        // SAFETY: as above.
        let node = unsafe { arch::pool_pop_raw::<INJECT>(area, field, i, word, &inj) };
        injected::<INJECT>(&inj, arch::enc_outcome(node));
        node
    }

    /// Pops from the current CPU's list; `None` when it is empty or the
    /// thread has no area / no slot.
    fn try_pop_local(&self) -> Option<NonNull<u8>> {
        let (area, field) = thread_area(self.heads.mode())?;
        loop {
            match self.pop_local_once(area, field)? {
                (Outcome::Done, node) => return NonNull::new(node as *mut u8),
                (Outcome::CompareFailed, _) => return None,
                (Outcome::Aborted, _) => count_abort(),
            }
        }
    }

    /// An object, or `None` when neither the current index's list nor the
    /// global list has one. Other indexes' lists may still hold free
    /// objects then (freed on another CPU, or a refill batch left on the
    /// list of a CPU the thread has since migrated from): [`Pool::reclaim`]
    /// moves them to the global list. Never the same object twice until it
    /// is freed.
    #[inline]
    pub fn alloc(&self) -> Option<NonNull<u8>> {
        // Fast path: one pop on the cached area that reads the index, bounds
        // it and finds the slot inside the section (no index read before it
        // to compare again), straight-line; everything else (abort, empty
        // list, no area, index beyond N) is out of line.
        let inj = injection::<INJECT>();
        // SAFETY: the cached cpu_id field is this thread's area's or the
        // stand-in's (whose cpu_id < 0 fails the section's check), the mode
        // offset is 4 or 24; slot i's head and guard are at base + 64 * i for
        // 64 * i < SLOT_LIMIT = 64 * N, the head written only by sequences
        // committing on i (or a reclaimer owning it by the guard); every node
        // on a list is a free object of this pool, next pointer first.
        let node = unsafe {
            arch::pool_pop_current::<INJECT>(
                crate::cache::cached_cpu_field(),
                self.heads.mode().offset(),
                self.heads.base(),
                Slots::<N, INJECT>::SLOT_LIMIT,
                &inj,
            )
        };
        injected::<INJECT>(&inj, arch::enc_outcome(node));
        match arch::enc_outcome(node) {
            // SAFETY: a committed pop returns the node it popped, an object
            // of this pool (not null).
            Outcome::Done => return Some(unsafe { NonNull::new_unchecked(node as *mut u8) }),
            // Counted here: alloc_slow's retries count only their own.
            Outcome::Aborted => count_abort(),
            Outcome::CompareFailed => {}
        }
        self.alloc_slow()
    }

    /// This pool bound to the calling thread: a [`PoolHandle`], whose
    /// alloc and free skip the per-call look-ups of [`Pool::alloc`] and
    /// [`Pool::free`] (the thread's cached area, the pool's mode byte)
    /// and, in `cpu_id` mode, the sections' own `cpu_id >= 0` test. For a
    /// loop or a function that allocates and frees many times.
    pub fn handle(&self) -> PoolHandle<'_, N, INJECT> {
        PoolHandle {
            pool: self,
            cpu: crate::cache::cached_cpu_field(),
            mode_offset: self.heads.mode().offset(),
            per_cpu_limit: self.per_cpu_limit,
        }
    }

    /// [`Pool::alloc`] after its first attempt did not pop: retry, then the
    /// global list and a refill.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self) -> Option<NonNull<u8>> {
        if let Some(o) = self.try_pop_local() {
            return Some(o);
        }
        let first = self.global_pop()?;
        // Refill the current CPU's list with a batch (slow path).
        if thread_area(self.heads.mode()).is_some() {
            for _ in 1..REFILL_BATCH.min(self.per_cpu_limit) {
                let Some(o) = self.global_pop() else { break };
                // SAFETY: o came off the global list: free and on no list.
                if !unsafe { self.try_push_local(o.as_ptr()) } {
                    // SAFETY: same object, still on no list.
                    unsafe { self.global_push(o.as_ptr()) };
                    break;
                }
            }
        }
        Some(first)
    }

    /// Returns `obj` to the pool (the current CPU's list, or the global list
    /// when that one is full or the thread has no area).
    ///
    /// # Safety
    /// `obj` came from [`Pool::alloc`] of this pool and is not used after.
    #[inline]
    pub unsafe fn free(&self, obj: NonNull<u8>) {
        // Fast path: one push that reads the index, the head and the list's
        // depth inside the section (nothing read before it to compare
        // again), straight-line; a retry, a full list, no area or an index
        // beyond N go out of line.
        let inj = injection::<INJECT>();
        // SAFETY: as in `alloc`; obj is a free object of this pool on no
        // list (the caller's contract), and every node on a list holds the
        // list's length from it down in its second word (written by every
        // push, this one's included).
        let r = unsafe {
            arch::pool_push_current::<INJECT>(
                crate::cache::cached_cpu_field(),
                self.heads.mode().offset(),
                self.heads.base(),
                Slots::<N, INJECT>::SLOT_LIMIT,
                self.per_cpu_limit,
                obj.as_ptr(),
                &inj,
            )
        };
        injected::<INJECT>(&inj, r);
        match r {
            Outcome::Done => return,
            // Counted here: free_slow's retries count only their own.
            Outcome::Aborted => count_abort(),
            Outcome::CompareFailed => {}
        }
        // SAFETY: the caller's contract (the failed attempt did not publish
        // obj: it is still on no list).
        unsafe { self.free_slow(obj) }
    }

    /// [`Pool::free`] after its first attempt did not push.
    ///
    /// # Safety
    /// As [`Pool::free`].
    #[cold]
    #[inline(never)]
    unsafe fn free_slow(&self, obj: NonNull<u8>) {
        // SAFETY: the caller's contract.
        unsafe {
            if !self.try_push_local(obj.as_ptr()) {
                self.global_push(obj.as_ptr());
            }
        }
    }

    /// Whether the list of the index the thread runs on is being reclaimed.
    fn guarded(&self, area: *mut rseq_abi::Rseq, field: *const u32) -> bool {
        match read_index(area, field) {
            Some(i) if (i as usize) < N => {
                self.heads
                    .slot(crate::Where::Slot(i))
                    .aux
                    .load(Ordering::Relaxed)
                    != 0
            }
            _ => false,
        }
    }

    /// Free objects on the list of `index` (a CPU, or a concurrency id);
    /// a snapshot, exact only while nothing runs on that index (an offline
    /// CPU, once reclaimed: 0). `None` for an index of `N` or more.
    pub fn cpu_len(&self, index: u32) -> Option<usize> {
        if index as usize >= N {
            return None;
        }
        let head = self
            .heads
            .slot(crate::Where::Slot(index))
            .word
            .load(Ordering::Acquire);
        if head == 0 {
            return Some(0);
        }
        // SAFETY: a free object of this pool's storage ('static) carries the
        // list length from it down in its second word; a stale value only
        // makes the snapshot stale.
        Some(unsafe { ptr::read_volatile((head as *const usize).add(1)) })
    }

    /// Takes the whole free list of `index` (a CPU in `cpu_id` mode, a
    /// concurrency id in `mm_cid` mode) from whichever thread may be using
    /// it, and puts its objects on the global list, where any CPU allocates
    /// them: the memory a CPU that went offline held is not stranded, and a
    /// CPU that comes back refills its list from the global one. Returns how
    /// many objects moved, or a negative errno: `-EINVAL` (index `>= N`),
    /// `-EBUSY` (another thread is reclaiming this index), `-EAGAIN` (the
    /// `membarrier` fallback cannot run on that CPU now: offline, or outside
    /// the caller's allowed CPUs; nothing moved, retry later),
    /// `-EOPNOTSUPP` (`mm_cid` mode without `membarrier`'s rseq command),
    /// `-EFAULT` (a shared pool mapped elsewhere, [`Pool::check_mapping`]).
    ///
    /// Cost: one `membarrier` IPI to that CPU (none when it runs no thread
    /// of the process), or in the fallback two migrations of the caller;
    /// pushes and pops on that index meanwhile use the global list. A
    /// shared pool always visits the CPU (two migrations): its list may be
    /// used by sections of other processes, which the `membarrier` command
    /// does not restart.
    pub fn reclaim(&self, index: u32) -> Result<usize, i32> {
        if index as usize >= N {
            return Err(-rseq_abi::errno::EINVAL);
        }
        self.check_mapping()?;
        let slot = self.heads.slot(crate::Where::Slot(index));
        if slot.word.load(Ordering::Acquire) == 0 {
            return Ok(0);
        }
        // The guard: also the reclaimers' lock on this index.
        if slot
            .aux
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return Err(-rseq_abi::errno::EBUSY);
        }
        let fenced = match self.heads.mode() {
            IndexMode::CpuId if self.is_shared() => crate::remote::fence_cpu_shared(index),
            IndexMode::CpuId => crate::remote::fence_cpu(index),
            IndexMode::MmCid => crate::remote::fence_all(),
        };
        if let Err(e) = fenced {
            slot.aux.store(0, Ordering::Release);
            return Err(e);
        }
        // Every section that could still commit on this index restarted or
        // committed before the fence, and every later one sees the guard:
        // the head word is ours until the guard drops.
        let head = slot.word.load(Ordering::Acquire);
        slot.word.store(0, Ordering::Relaxed);
        // SAFETY: the list is ours until the guard drops (above).
        let n = unsafe { self.splice_to_global(head) };
        slot.aux.store(0, Ordering::Release);
        Ok(n)
    }

    /// Puts the list starting at `head` (0: empty) on the global list;
    /// returns its length.
    ///
    /// # Safety
    /// The list is the caller's: off every per-index head, no thread
    /// walks or changes it; its nodes are free objects of this pool whose
    /// first word links them.
    unsafe fn splice_to_global(&self, head: usize) -> usize {
        if head == 0 {
            return 0;
        }
        let mut tail = head;
        let mut n = 1;
        loop {
            // SAFETY: the caller's contract.
            let next = unsafe { ptr::read(tail as *const usize) };
            if next == 0 {
                break;
            }
            tail = next;
            n += 1;
        }
        self.lock();
        // SAFETY: tail is the last node of a list that is the caller's.
        unsafe { ptr::write(tail as *mut usize, self.global_head.load(Ordering::Relaxed)) };
        self.global_head.store(head, Ordering::Relaxed);
        self.global_len.fetch_add(n, Ordering::Relaxed);
        self.unlock();
        n
    }

    /// Takes every free object off the pool (every index's list and the
    /// global list) and passes each to `f`; returns how many. For
    /// accounting and teardown: allocating until [`Pool::alloc`] says
    /// `None` is not enough, since an allocation that refills the current
    /// index's list and a migration before the next one leave that batch
    /// on a list the thread no longer allocates from.
    ///
    /// # Safety
    /// As [`Pool::drain_all_quiescent`]: no other thread uses the pool
    /// during the call, and every thread that used it is synchronized with
    /// the caller (joined).
    pub unsafe fn take_all_quiescent(&self, mut f: impl FnMut(NonNull<u8>)) -> usize {
        // SAFETY: the caller's contract.
        unsafe { self.drain_all_quiescent() };
        // The global list only: no refill puts anything back on a list.
        let mut n = 0;
        while let Some(o) = self.global_pop() {
            f(o);
            n += 1;
        }
        n
    }

    /// Moves the free list of every index to the global list, without a
    /// fence, for a pool no thread uses any more (every user joined):
    /// an accounting or teardown step that must reach every index, which
    /// allocating from each CPU cannot do in `mm_cid` mode (a lone thread
    /// gets the same concurrency id on any CPU). Returns how many objects
    /// moved.
    ///
    /// # Safety
    /// No other thread uses the pool during the call, and every thread that
    /// used it before is synchronized with the caller (joined).
    pub unsafe fn drain_all_quiescent(&self) -> usize {
        let mut moved = 0;
        for i in 0..N {
            let word = &self.heads.slot(crate::Where::Slot(i as u32)).word;
            let head = word.swap(0, Ordering::Acquire);
            // SAFETY: taken off its head with no concurrent user (the
            // caller's contract): the list is ours.
            moved += unsafe { self.splice_to_global(head) };
        }
        moved
    }

    /// [`Pool::reclaim`] of every index `< limit` (at most `N`): the
    /// objects moved, or the first error other than `-EBUSY` (after trying
    /// every index; `-EAGAIN` indexes are left as they are).
    pub fn reclaim_all(&self, limit: usize) -> Result<usize, i32> {
        let mut moved = 0;
        let mut err = 0;
        for i in 0..limit.min(N) {
            match self.reclaim(i as u32) {
                Ok(n) => moved += n,
                Err(e) if e == -rseq_abi::errno::EBUSY => {}
                Err(e) => err = if err == 0 { e } else { err },
            }
        }
        if err != 0 {
            Err(err)
        } else {
            Ok(moved)
        }
    }

    /// Moves the current CPU's free objects to the global list; returns how
    /// many.
    pub fn drain_current(&self) -> usize {
        let mut n = 0;
        while let Some(o) = self.try_pop_local() {
            // SAFETY: just popped: free and on no list.
            unsafe { self.global_push(o.as_ptr()) };
            n += 1;
        }
        n
    }
}

/// A [`Pool`] bound to the thread that made it ([`Pool::handle`]): the
/// thread's cached area and the pool's index mode, read once and kept by
/// the caller (in registers, in a loop), so that an alloc or a free is the
/// restartable sequence alone. The same guarantees as [`Pool::alloc`] and
/// [`Pool::free`]: the sections read and bound-check the index themselves
/// (a negative `cpu_id` fails the bound in `cpu_id` mode; `mm_cid` mode
/// keeps the sections' `cpu_id >= 0` test), load the reclaim guard (see
/// [`Pool::reclaim`]) and read the list's depth; every other case takes
/// the same slow path, after which the handle holds the thread's area
/// anew.
///
/// Not `Send` nor `Sync` (it holds a pointer into this thread's area):
/// another thread makes its own.
#[derive(Debug)]
pub struct PoolHandle<'a, const N: usize, const INJECT: bool = false> {
    pool: &'a Pool<N, INJECT>,
    /// The calling thread's cached `cpu_id` field (or the stand-in's).
    cpu: *mut u32,
    /// The pool's index field offset (4 `cpu_id`, 24 `mm_cid`).
    mode_offset: usize,
    /// The pool's per-CPU limit (set at its initialization, never changed).
    per_cpu_limit: usize,
}

impl<const N: usize, const INJECT: bool> PoolHandle<'_, N, INJECT> {
    /// As [`Pool::alloc`].
    #[inline(always)]
    pub fn alloc(&mut self) -> Option<NonNull<u8>> {
        let p = self.pool;
        let inj = injection::<INJECT>();
        // SAFETY: as in `Pool::alloc`; cpu is this thread's cached field
        // (the handle is not Send) or the stand-in's, mode_offset the
        // pool's; SLOT_LIMIT < 2^25 * 64 < 2^32 - 128.
        let node = unsafe {
            arch::pool_pop_current_by_mode::<INJECT>(
                self.cpu,
                self.mode_offset,
                p.heads.base(),
                Slots::<N, INJECT>::SLOT_LIMIT,
                &inj,
            )
        };
        injected::<INJECT>(&inj, arch::enc_outcome(node));
        match arch::enc_outcome(node) {
            // SAFETY: a committed pop returns the node it popped, an object
            // of this pool (not null).
            Outcome::Done => return Some(unsafe { NonNull::new_unchecked(node as *mut u8) }),
            Outcome::Aborted => count_abort(),
            Outcome::CompareFailed => {}
        }
        let o = p.alloc_slow();
        // The slow path looked the area up: hold what it found.
        self.cpu = crate::cache::cached_cpu_field();
        o
    }

    /// As [`Pool::free`].
    ///
    /// # Safety
    /// As [`Pool::free`]: `obj` came from this pool's alloc (through any
    /// handle or none) and is not used after.
    #[inline(always)]
    pub unsafe fn free(&mut self, obj: NonNull<u8>) {
        let p = self.pool;
        let inj = injection::<INJECT>();
        // SAFETY: as in `Pool::free` and `PoolHandle::alloc`.
        let r = unsafe {
            arch::pool_push_current_by_mode::<INJECT>(
                self.cpu,
                self.mode_offset,
                p.heads.base(),
                Slots::<N, INJECT>::SLOT_LIMIT,
                self.per_cpu_limit,
                obj.as_ptr(),
                &inj,
            )
        };
        injected::<INJECT>(&inj, r);
        match r {
            Outcome::Done => return,
            Outcome::Aborted => count_abort(),
            Outcome::CompareFailed => {}
        }
        // SAFETY: the caller's contract (the failed attempt did not publish
        // obj).
        unsafe { p.free_slow(obj) };
        self.cpu = crate::cache::cached_cpu_field();
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<N, INJECT> {
        self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn storage(bytes: usize) -> &'static mut [u8] {
        let v: Vec<u64> = vec![0; bytes / 8];
        let s: &'static mut [u64] = Vec::leak(v);
        // SAFETY: reinterpreting a leaked u64 buffer as bytes.
        unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u8>(), bytes) }
    }

    #[test]
    fn never_lost_never_twice() {
        never_lost_never_twice_with(false);
    }

    /// As `never_lost_never_twice`, half the threads through handles.
    #[test]
    fn never_lost_never_twice_through_handles() {
        never_lost_never_twice_with(true);
    }

    fn never_lost_never_twice_with(handles: bool) {
        let pool = Arc::new(Pool::<64>::new(IndexMode::CpuId, 64, 32));
        assert_eq!(pool.add_storage(storage(64 * 512)), Ok(512));
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    let mut h = pool.handle();
                    let through = handles && t % 2 == 1;
                    for round in 0..2000usize {
                        if round % 3 != 2 {
                            let got = if through { h.alloc() } else { pool.alloc() };
                            if let Some(o) = got {
                                // SAFETY: o is ours: 64 bytes.
                                unsafe { ptr::write_bytes(o.as_ptr(), t as u8, 64) };
                                held.push(o);
                            }
                        } else if let Some(o) = held.pop() {
                            // SAFETY: o is ours (64 bytes): check our mark.
                            let mark = unsafe { std::slice::from_raw_parts(o.as_ptr(), 64) };
                            assert!(mark.iter().all(|&b| b == t as u8), "object shared");
                            // SAFETY: from this pool, not used after.
                            unsafe {
                                if through {
                                    h.free(o)
                                } else {
                                    pool.free(o)
                                }
                            };
                        }
                    }
                    held.into_iter()
                        .map(|p| p.as_ptr() as usize)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in hs {
            for p in h.join().unwrap() {
                assert!(all.insert(p), "object handed out twice");
            }
        }
        // Everything not held is free: allocate it all, from every CPU's
        // list, and check uniqueness.
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        for &c in &cpus[..n] {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            while let Some(o) = pool.alloc() {
                assert!(all.insert(o.as_ptr() as usize), "free object also held");
            }
        }
        assert_eq!(all.len(), 512, "objects lost");
    }

    /// The per-CPU list's depth words, kept by the free inside its section:
    /// one thread pinned to one CPU frees 40 objects into a pool whose
    /// per-CPU limit is 32: that CPU's list holds 32 (a free pushes while
    /// the head's depth is below the limit), each object's second word the
    /// list's length from it down; the rest went to the global list.
    #[test]
    fn free_keeps_the_lists_depth() {
        let pool: &'static Pool<64> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 32)));
        assert_eq!(pool.add_storage(storage(64 * 64)), Ok(64));
        let mut cpus = [0u32; 1024];
        assert!(crate::allowed_cpus(&mut cpus) >= 1);
        let c = cpus[0];
        let registered = std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            let objs: Vec<_> = (0..40).map(|_| pool.alloc().unwrap()).collect();
            for o in objs {
                // SAFETY: from this pool, not used after.
                unsafe { pool.free(o) };
            }
            rseq_registration::current_area().is_some()
        })
        .join()
        .unwrap();
        if !registered {
            return; // no area: every free went to the global list
        }
        let head = pool
            .heads
            .slot(crate::Where::Slot(c))
            .word
            .load(Ordering::Relaxed);
        let mut nodes = Vec::new();
        let mut o = head;
        while o != 0 && nodes.len() <= 64 {
            nodes.push(o);
            // SAFETY: a free object of the pool's storage: next pointer first.
            o = unsafe { ptr::read(o as *const usize) };
        }
        assert_eq!(nodes.len(), 32, "CPU {c}'s list: the per-CPU limit");
        for (k, &o) in nodes.iter().enumerate() {
            // SAFETY: as above; the depth is the second word.
            let depth = unsafe { ptr::read((o as *const usize).add(1)) };
            assert_eq!(depth, 32 - k, "depth word of the list's node {k}");
        }
    }

    /// A CPU's list taken by another thread: exactly the objects freed
    /// there, then none; they are allocated again from the global list.
    #[test]
    fn reclaim_takes_a_cpus_list() {
        let pool: &'static Pool<64> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 32)));
        assert_eq!(pool.add_storage(storage(64 * 64)), Ok(64));
        let mut cpus = [0u32; 1024];
        assert!(crate::allowed_cpus(&mut cpus) >= 1);
        let c = cpus[0];
        let on_cpu = std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            let objs: Vec<_> = (0..20).map(|_| pool.alloc().unwrap()).collect();
            for o in objs {
                // SAFETY: from this pool, not used after.
                unsafe { pool.free(o) };
            }
            rseq_registration::current_area().is_some()
        });
        if !on_cpu.join().unwrap() {
            return; // no rseq: nothing is ever on a per-CPU list
        }
        let before = pool.cpu_len(c).unwrap();
        assert!(before >= 20, "{before}");
        let global = pool.global_len();
        assert_eq!(pool.reclaim(c), Ok(before));
        assert_eq!(pool.cpu_len(c), Some(0));
        assert_eq!(pool.global_len(), global + before);
        assert_eq!(pool.reclaim(c), Ok(0));
        assert_eq!(pool.reclaim(64), Err(-rseq_abi::errno::EINVAL));
        // Everything allocatable again, once.
        let mut all = HashSet::new();
        for &c in &cpus[..crate::allowed_cpus(&mut [0u32; 1024])] {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            while let Some(o) = pool.alloc() {
                assert!(all.insert(o.as_ptr() as usize));
            }
        }
        assert_eq!(all.len(), 64);
    }

    /// Reclaims of every CPU race allocations and frees on all of them
    /// (membarrier, then the fallback): no object lost, none twice.
    fn reclaim_races(fallback: bool) {
        let pool: &'static Pool<64> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 16)));
        assert_eq!(pool.add_storage(storage(64 * 256)), Ok(256));
        let _serial = crate::remote::fallback_test_lock();
        crate::remote::set_fallback_only(fallback);
        let stop: &'static std::sync::atomic::AtomicBool =
            Box::leak(Box::new(std::sync::atomic::AtomicBool::new(false)));
        let reclaimer = std::thread::spawn(move || {
            let mut moved = 0;
            while !stop.load(Ordering::Relaxed) {
                moved += pool.reclaim_all(64).unwrap_or(0);
                std::thread::yield_now();
            }
            moved
        });
        let hs: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    // Odd threads through a handle: its sections load the
                    // guard as the others do.
                    let mut h = pool.handle();
                    for round in 0..40_000usize {
                        if round % 3 != 2 && held.len() < 24 {
                            let got = if t % 2 == 1 { h.alloc() } else { pool.alloc() };
                            if let Some(o) = got {
                                // SAFETY: o is ours: 64 bytes.
                                unsafe { ptr::write_bytes(o.as_ptr(), t as u8 + 1, 64) };
                                held.push(o);
                            }
                        } else if let Some(o) = held.pop() {
                            // SAFETY: o is ours (64 bytes).
                            let mark =
                                unsafe { std::slice::from_raw_parts(o.as_ptr().add(16), 48) };
                            assert!(mark.iter().all(|&b| b == t as u8 + 1), "object shared");
                            // SAFETY: from this pool, not used after.
                            unsafe {
                                if t % 2 == 1 {
                                    h.free(o)
                                } else {
                                    pool.free(o)
                                }
                            };
                        }
                    }
                    held.into_iter()
                        .map(|p| p.as_ptr() as usize)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in hs {
            for p in h.join().unwrap() {
                assert!(all.insert(p), "object handed out twice");
            }
        }
        stop.store(true, Ordering::Relaxed);
        reclaimer.join().unwrap();
        crate::remote::set_fallback_only(false);
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        for &c in &cpus[..n] {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            while let Some(o) = pool.alloc() {
                assert!(all.insert(o.as_ptr() as usize), "free object also held");
            }
        }
        assert_eq!(all.len(), 256, "objects lost");
    }

    #[test]
    fn reclaim_races_with_membarrier() {
        reclaim_races(false);
    }

    #[test]
    fn reclaim_races_in_the_fallback() {
        reclaim_races(true);
    }

    /// Allocating until `None` after a migration misses the refill batch
    /// left on the previous CPU's list (what made the stress's accounting
    /// count 2-15 objects lost now and then); `take_all_quiescent` takes
    /// every free object.
    #[test]
    fn take_all_quiescent_reaches_a_refill_left_behind() {
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        if n < 2 || thread_area(IndexMode::CpuId).is_none() {
            eprintln!("SKIP: needs 2 allowed CPUs and an rseq area");
            return;
        }
        let pool = Pool::<64>::new(IndexMode::CpuId, 64, 32);
        assert_eq!(pool.add_storage(storage(64 * 64)), Ok(64));
        assert_eq!(crate::pin_to_cpu(cpus[0] as usize), 0);
        // The first allocation refills this CPU's list from the global one.
        let first = pool.alloc().expect("an object");
        let left = pool.cpu_len(cpus[0]).unwrap();
        assert_eq!(left, REFILL_BATCH - 1);
        assert_eq!(crate::pin_to_cpu(cpus[1] as usize), 0);
        let mut got = HashSet::new();
        while let Some(o) = pool.alloc() {
            assert!(got.insert(o.as_ptr() as usize));
        }
        assert_eq!(
            got.len(),
            64 - 1 - left,
            "alloc until None leaves cpu 0's batch"
        );
        // SAFETY: this thread is the pool's only user.
        let took = unsafe { pool.take_all_quiescent(|o| assert!(got.insert(o.as_ptr() as usize))) };
        assert_eq!(took, left);
        assert!(got.insert(first.as_ptr() as usize));
        assert_eq!(got.len(), 64);
        assert_eq!(pool.global_len(), 0);
        assert_eq!(pool.cpu_len(cpus[0]), Some(0));
    }

    #[test]
    fn quiescent_drain_reaches_every_index() {
        let pool = Pool::<64>::new(IndexMode::CpuId, 64, 32);
        assert_eq!(pool.add_storage(storage(64 * 64)), Ok(64));
        // Objects freed on every allowed CPU: on that CPU's list.
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        let mut held = Vec::new();
        while let Some(o) = pool.alloc() {
            held.push(o);
        }
        for (k, o) in held.into_iter().enumerate() {
            assert_eq!(crate::pin_to_cpu(cpus[k % n] as usize), 0);
            // SAFETY: from this pool, not used after.
            unsafe { pool.free(o) };
        }
        let on_lists = 64 - pool.global_len();
        // SAFETY: this thread is the pool's only user.
        let moved = unsafe { pool.drain_all_quiescent() };
        assert_eq!(moved, on_lists);
        assert_eq!(pool.global_len(), 64);
    }

    /// A shared pool is cpu_id-indexed, reclaims with the cross-process
    /// fence, and refuses to work at another address than where it was
    /// initialized (its lists are addresses).
    #[test]
    fn a_shared_pool_refuses_another_address() {
        type P = Pool<64>;
        let layout = std::alloc::Layout::new::<P>();
        // SAFETY: fresh allocations of P's layout.
        let (a, b) = unsafe {
            (
                std::alloc::alloc_zeroed(layout).cast::<P>(),
                std::alloc::alloc_zeroed(layout).cast::<P>(),
            )
        };
        // SAFETY: writable, aligned, unused.
        unsafe { P::init_in_place_shared(a, 64, 8) };
        // SAFETY: initialized above, leaked.
        let pa: &'static P = unsafe { &*a };
        assert!(pa.is_shared());
        assert_eq!(pa.check_mapping(), Ok(()));
        assert_eq!(pa.add_storage(storage(64 * 8)), Ok(8));
        let o = pa.alloc().expect("object");
        // SAFETY: from this pool, not used after.
        unsafe { pa.free(o) };
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        for &c in &cpus[..n] {
            // The shared fence visits: Ok, or -EBUSY never (one reclaimer).
            assert!(pa.reclaim(c).is_ok(), "cpu {c}");
        }
        // The same bytes at another address: refused, nothing touched.
        // SAFETY: both P-sized; the pool is quiescent.
        unsafe { core::ptr::copy_nonoverlapping(a.cast::<u8>(), b.cast::<u8>(), layout.size()) };
        // SAFETY: a byte image of an initialized pool.
        let pb: &P = unsafe { &*b };
        assert_eq!(pb.check_mapping(), Err(-rseq_abi::errno::EFAULT));
        assert_eq!(pb.reclaim(cpus[0]), Err(-rseq_abi::errno::EFAULT));
        assert_eq!(pb.add_storage(storage(64)), Err(StorageError::Remapped));
        // A private pool works anywhere.
        let private = P::new(IndexMode::CpuId, 64, 8);
        assert!(!private.is_shared());
        assert_eq!(private.check_mapping(), Ok(()));
    }

    #[test]
    fn bad_sizes_are_refused() {
        let p = Pool::<4>::new(IndexMode::CpuId, 12, 8);
        assert_eq!(p.add_storage(storage(64)), Err(StorageError::BadObjectSize));
    }
}
