//! Per-CPU ring of *packets* with a remote flush, in the manner of
//! LTTng-UST's sub-buffer switch: each CPU writes records into its active
//! packet (a 64-byte header whose first word counts the records, then `R`
//! record slots of 64 bytes), and a consumer takes a CPU's partially filled
//! packet away from it at any time, while producers keep writing.
//!
//! - Producer ([`FlushRing::write`]): one restartable sequence on its CPU
//!   that loads the CPU's active packet pointer *inside the section*, checks
//!   the count, writes the record header and payload into the next slot and
//!   commits by storing count + 1 ([`arch::packet_write_raw`]). A CPU without
//!   a packet takes one from the free stack and installs it with a
//!   load-compare-store (null to the packet) on its CPU; none free, or the
//!   packet full: the record is dropped and counted ([`FlushRing::lost`]),
//!   never silently.
//! - Consumer ([`FlushRing::flush`]): for each CPU, swaps the active pointer
//!   with null (an atomic exchange), then fences that CPU
//!   ([`crate::remote::fence_cpu`]: `membarrier` restarts a section in
//!   flight there). After the fence no section can commit into the old
//!   packet: the count is final, every record below it complete. The
//!   consumer reads them, resets the packet and pushes it on the free stack,
//!   from which any CPU may take it again.
//! - CPU hotplug: a CPU that went offline keeps no packet past the next
//!   flush (its packet goes back to the free stack, its records to the
//!   consumer), and installs one from the free stack at its first write once
//!   it is back.
//! - Fallback (no `membarrier` rseq command): the fence visits the CPU. When
//!   it cannot (offline CPU, or outside the consumer's allowed CPUs), the
//!   detached packet waits on that CPU's pending list, is read by the next
//!   flush that fences the CPU, and counted meanwhile as
//!   [`FlushStats::deferred`]; [`FlushRing::drain_exclusive`] reads
//!   everything once no producer runs.
//! - Threads without an rseq area, or on a CPU `>= C`, write into a
//!   [`CasRing`] that every flush drains too.
//!
//! Only `cpu_id` indexing: the fence targets a CPU.
//!
//! # Shared memory (several processes)
//!
//! A ring created with [`FlushRing::new_shared`] /
//! [`FlushRing::init_in_place_shared`] may live in `MAP_SHARED` memory that
//! producer processes write and another process (a consumer daemon)
//! flushes, each mapping it at any address:
//! - it holds no pointer: an active word holds its packet as an offset from
//!   the word itself (the section adds it, [`arch::packet_write_raw`]),
//!   pending chains and the free stack link packets by index;
//! - its flush fences with [`crate::remote::fence_cpu_shared`], which
//!   restarts the sections of every process on that CPU (the private
//!   `membarrier` command of [`fence_cpu`] reaches the caller's process
//!   only, see [`crate::remote`]);
//! - it takes no lock a process could die holding: the free stack is a
//!   lock-free stack (compare-and-swap of an index tagged against ABA).
//!
//! Process death: a record becomes visible in one commit (the count store
//! that ends its section), so a producer killed anywhere leaves no partial
//! record and never a slot seen twice: its section never commits, and the
//! next writer on that CPU overwrites the slot. A producer killed between
//! taking a packet off the free stack and installing it leaks that packet
//! (at most one per death; records are never lost by it, at worst a later
//! write finds no free packet and is dropped and counted). Threads without
//! an rseq area (or on a CPU `>= C`) do not use the [`CasRing`] fallback
//! there (reserve, then commit: a process killed between the two would stop
//! the consumer at that slot): each of their records goes into a packet of
//! its own, published by one compare-and-swap on a fallback chain that
//! every flush takes with one exchange. A consumer killed inside
//! [`FlushRing::flush`] leaves the consumer flag set: later flushes answer
//! `-EBUSY`.
//!
//! A ring created with [`FlushRing::new`] is process-private: its flush uses
//! the faster `membarrier` fence, which is wrong as soon as another process
//! writes the ring.

use crate::remote::{fence_cpu, fence_cpu_shared};
use crate::ring::{header, with_payload, CasRing, Overrun, RecordSlot, RECORD_MAX, RECORD_SLOT};
use crate::{
    arch, cached_index, count_abort, injected, injection, read_index, thread_area, IndexMode,
    Outcome, Where,
};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Bytes of a packet's header (the count word, padded to a line).
pub const PACKET_HEADER: usize = 64;

/// A packet: the count of committed records (written by the sections of the
/// CPU it is active on, or by its owner), the link of the pending chain or
/// the free stack it is on (the next packet's index + 1, 0 at the end), the
/// records.
#[repr(C, align(64))]
struct Packet<const R: usize> {
    count: AtomicUsize,
    next: AtomicUsize,
    _pad: [u64; 6],
    records: [RecordSlot; R],
}

const _: () = assert!(core::mem::offset_of!(Packet<1>, records) == PACKET_HEADER);
const _: () = assert!(RECORD_SLOT == 64);

impl<const R: usize> Packet<R> {
    // Array initializer only: each use is a fresh value.
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Self = Packet {
        count: AtomicUsize::new(0),
        next: AtomicUsize::new(0),
        _pad: [0; 6],
        records: [RecordSlot::EMPTY; R],
    };
}

/// A word alone on its cache line.
#[repr(C, align(64))]
struct Line {
    word: AtomicUsize,
    _pad: [u64; 7],
}

impl Line {
    // Array initializer only: each use is a fresh value.
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: Line = Line {
        word: AtomicUsize::new(0),
        _pad: [0; 7],
    };
}

/// What one [`FlushRing::flush`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Records read (packets and the fallback buffer).
    pub records: u64,
    /// Packets taken from CPUs, read and put back on the free stack.
    pub packets: u64,
    /// CPUs whose packets could not be fenced this time (the fallback
    /// could not run there): they stay pending for a later flush.
    pub deferred: u64,
}

/// `C` CPUs' active packets, `P` packets of `R` records, a fallback
/// [`CasRing`] of `R` records. `INJECT`: the stress-test instantiation (see
/// [`crate::set_injection`]).
#[repr(C)]
pub struct FlushRing<const C: usize, const R: usize, const P: usize, const INJECT: bool = false> {
    /// Each CPU's active packet: 0, or the packet's address minus the
    /// word's own address (see the module documentation).
    active: [Line; C],
    /// Packets detached from a CPU whose fence failed (fallback only),
    /// oldest first, linked by `next`: the first one's index + 1, 0 for
    /// none; touched by the consumer only.
    pending: [Line; C],
    packets: [Packet<R>; P],
    /// The free stack's top: a tag (incremented by every change, against
    /// ABA) in the high 32 bits, the top packet's index + 1 in the low ones
    /// (0: empty); the packets below it are linked by `next`.
    free_head: AtomicU64,
    /// Whether the ring may be shared between processes (its flush then
    /// fences every process, see the module documentation).
    shared: AtomicBool,
    consumer: AtomicBool,
    lost: AtomicU64,
    installs: AtomicU64,
    flushed_records: AtomicU64,
    flushed_packets: AtomicU64,
    deferred: AtomicU64,
    fallback: CasRing<R>,
    /// A shared ring's fallback: packets of one record each, published by a
    /// compare-and-swap (the top's index + 1, 0 for none; newest first).
    fallback_chain: Line,
}

impl<const C: usize, const R: usize, const P: usize, const INJECT: bool> Default
    for FlushRing<C, R, P, INJECT>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize, const R: usize, const P: usize, const INJECT: bool>
    FlushRing<C, R, P, INJECT>
{
    /// Every CPU without a packet, every packet free; process-private (see
    /// [`FlushRing::new_shared`]).
    pub const fn new() -> Self {
        Self::with_sharing(false)
    }

    /// [`FlushRing::new`] for a ring that several processes may use (in
    /// `MAP_SHARED` memory): its flush fences the sections of every process
    /// ([`crate::remote::fence_cpu_shared`]). Build it in place in the
    /// shared mapping with [`FlushRing::init_in_place_shared`].
    pub const fn new_shared() -> Self {
        Self::with_sharing(true)
    }

    const fn with_sharing(shared: bool) -> Self {
        // The free stack: packet k links to k + 1 (index + 2), the last to
        // none; the top is packet 0 (index + 1 = 1), tag 0.
        let mut packets = [Packet::EMPTY; P];
        let mut k = 0;
        while k + 1 < P {
            packets[k].next = AtomicUsize::new(k + 2);
            k += 1;
        }
        FlushRing {
            active: [Line::ZERO; C],
            pending: [Line::ZERO; C],
            packets,
            free_head: AtomicU64::new(if P == 0 { 0 } else { 1 }),
            shared: AtomicBool::new(shared),
            consumer: AtomicBool::new(false),
            lost: AtomicU64::new(0),
            installs: AtomicU64::new(0),
            flushed_records: AtomicU64::new(0),
            flushed_packets: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            fallback: CasRing::new(),
            fallback_chain: Line::ZERO,
        }
    }

    /// Initializes the memory at `p` as [`FlushRing::new`], without building
    /// it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self) {
        // SAFETY: the caller's contract.
        unsafe { Self::init_in_place_as(p, false) }
    }

    /// Initializes the memory at `p` as [`FlushRing::new_shared`]: a ring
    /// that several processes may map (at any address) and use.
    ///
    /// # Safety
    /// As [`FlushRing::init_in_place`]; no process uses the memory during
    /// the call.
    pub unsafe fn init_in_place_shared(p: *mut Self) {
        // SAFETY: the caller's contract.
        unsafe { Self::init_in_place_as(p, true) }
    }

    /// # Safety
    /// As [`FlushRing::init_in_place`].
    unsafe fn init_in_place_as(p: *mut Self, shared: bool) {
        // SAFETY: the caller's contract; all-zero bytes are a valid value of
        // every field (atomics, padding, record slots), then the free stack
        // gets every packet.
        unsafe {
            core::ptr::write_bytes(p.cast::<u8>(), 0, core::mem::size_of::<Self>());
            for k in 0..P {
                let next = if k + 1 < P { k + 2 } else { 0 };
                (*p).packets[k].next.store(next, Ordering::Relaxed);
            }
            (*p).free_head
                .store(if P == 0 { 0 } else { 1 }, Ordering::Relaxed);
            (*p).shared.store(shared, Ordering::Relaxed);
        }
    }

    /// Whether the ring was created shared between processes.
    pub fn is_shared(&self) -> bool {
        self.shared.load(Ordering::Relaxed)
    }

    /// Pops a packet off the free stack (lock-free: a process killed
    /// anywhere in it leaves the stack consistent); its address.
    fn take_packet(&self) -> Option<usize> {
        let mut head = self.free_head.load(Ordering::Acquire);
        loop {
            let k = (head & 0xffff_ffff) as usize;
            // (No indexing that could panic: the C library links no panic
            // machinery.)
            let top = self.packets.get(k.checked_sub(1)?)?;
            // May be stale when another thread popped `top` meanwhile: the
            // tag then differs and the exchange fails.
            let next = top.next.load(Ordering::Relaxed) as u64 & 0xffff_ffff;
            let new = (head & !0xffff_ffff).wrapping_add(1 << 32) | next;
            match self.free_head.compare_exchange_weak(
                head,
                new,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Ours now: its link was the free stack's, and a packet
                    // off every list links nowhere (a pending chain appends
                    // it as its last).
                    top.next.store(0, Ordering::Relaxed);
                    return Some(top as *const Packet<R> as usize);
                }
                Err(h) => head = h,
            }
        }
    }

    /// The packet at address `p`.
    fn packet(&self, p: usize) -> &Packet<R> {
        // SAFETY: every packet address the ring handles (decoded from active
        // words, pending chains and the free stack) is one of self.packets,
        // which lives as long as self.
        unsafe { &*(p as *const Packet<R>) }
    }

    /// The index of the packet at address `p` (one of self.packets).
    fn packet_index(&self, p: usize) -> usize {
        (p - self.packets.as_ptr() as usize) / core::mem::size_of::<Packet<R>>()
    }

    /// A link (pending chains, free stack) to the packet at `p` (0: none).
    fn link_to(&self, p: usize) -> usize {
        if p == 0 {
            0
        } else {
            self.packet_index(p) + 1
        }
    }

    /// The packet address a link names (0: none, or an out-of-range link,
    /// which only a corrupted shared mapping could hold).
    fn linked(&self, link: usize) -> usize {
        link.checked_sub(1)
            .and_then(|k| self.packets.get(k))
            .map_or(0, |p| p as *const Packet<R> as usize)
    }

    /// The value of CPU `i`'s active word that names the packet at `p`.
    ///
    /// # Safety
    /// `i < C`.
    unsafe fn active_value(&self, i: u32, p: usize) -> usize {
        // SAFETY: the caller's contract.
        p.wrapping_sub(unsafe { self.active_word(i) }.as_ptr() as usize)
    }

    /// The packet address CPU `i`'s active word value `w` names (0: none).
    ///
    /// # Safety
    /// `i < C`.
    unsafe fn active_packet(&self, i: u32, w: usize) -> usize {
        if w == 0 {
            0
        } else {
            // SAFETY: the caller's contract.
            w.wrapping_add(unsafe { self.active_word(i) }.as_ptr() as usize)
        }
    }

    /// Pushes the packet at `p` (the caller's alone) on the free stack.
    fn put_packet(&self, p: usize) {
        let link = self.link_to(p) as u64;
        let pk = self.packet(p);
        let mut head = self.free_head.load(Ordering::Relaxed);
        loop {
            pk.next
                .store((head & 0xffff_ffff) as usize, Ordering::Relaxed);
            let new = (head & !0xffff_ffff).wrapping_add(1 << 32) | link;
            match self.free_head.compare_exchange_weak(
                head,
                new,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// The active word of CPU `i`.
    ///
    /// # Safety
    /// `i < C`.
    #[inline(always)]
    unsafe fn active_word(&self, i: u32) -> &AtomicUsize {
        // SAFETY: the caller's contract.
        unsafe { &self.active.get_unchecked(i as usize).word }
    }

    /// Writes one record into the current CPU's active packet; returns where.
    #[inline]
    pub fn write(&self, payload: &[u8]) -> Result<Where, Overrun> {
        if payload.len() > RECORD_MAX {
            return Err(Overrun::TooLong);
        }
        // Fast path: the cached area's cpu_id (the stand-in's reads beyond
        // C), one attempt; anything else is write_slow.
        let (area, _, i) = cached_index(IndexMode::CpuId);
        if (i as usize) < C {
            match arch::enc_outcome(self.write_at(area, i, payload)) {
                Outcome::Done => return Ok(Where::Slot(i)),
                Outcome::Aborted => count_abort(),
                Outcome::CompareFailed => {}
            }
        }
        self.write_slow(payload)
    }

    #[inline(always)]
    fn write_at(&self, area: *mut rseq_abi::Rseq, i: u32, payload: &[u8]) -> usize {
        let inj = injection::<INJECT>();
        // SAFETY: i < C (callers, so active_word is in bounds); the active
        // word of CPU i is written only
        // by sequences committing on i (installs) and by the consumer's
        // exchange, which fences i before touching the packet; every packet
        // has R records after its 64-byte header; the payload is at most
        // RECORD_MAX bytes.
        let r = unsafe {
            arch::packet_write_raw::<INJECT>(
                area,
                i,
                self.active_word(i).as_ptr(),
                R,
                payload.as_ptr(),
                payload.len(),
                &inj,
            )
        };
        injected::<INJECT>(&inj, arch::enc_outcome(r));
        r
    }

    #[cold]
    #[inline(never)]
    fn write_slow(&self, payload: &[u8]) -> Result<Where, Overrun> {
        if let Some((area, field)) = thread_area(IndexMode::CpuId) {
            while let Some(i) = read_index(area, field) {
                if i as usize >= C {
                    break;
                }
                match arch::enc_outcome(self.write_at(area, i, payload)) {
                    Outcome::Done => return Ok(Where::Slot(i)),
                    Outcome::Aborted => count_abort(),
                    Outcome::CompareFailed => {
                        // SAFETY: i < C, checked above.
                        let w = unsafe { self.active_word(i) }.load(Ordering::Acquire);
                        // SAFETY: i < C.
                        let p = unsafe { self.active_packet(i, w) };
                        let full = if p == 0 {
                            !self.install(area, field, i)
                        } else {
                            // A packet may have been swapped since the
                            // section ran: a full one was full then.
                            self.packet(p).count.load(Ordering::Relaxed) >= R
                        };
                        if full {
                            self.lost.fetch_add(1, Ordering::Relaxed);
                            return Err(Overrun::Full(Where::Slot(i)));
                        }
                    }
                }
            }
        }
        if self.is_shared() {
            return self.write_fallback_packet(payload);
        }
        self.fallback
            .write(payload)
            .map(|_| Where::Fallback)
            .map_err(|e| match e {
                Overrun::Full(_) => Overrun::Full(Where::Fallback),
                e => e,
            })
    }

    /// A shared ring's write without a per-CPU packet (no rseq area, an
    /// unregistered one, a CPU `>= C`): the record goes into a packet of its
    /// own from the free stack, which one compare-and-swap then publishes
    /// on the fallback chain. The [`CasRing`]'s reserve-then-commit would let
    /// a process killed between the two stop the consumer at that slot;
    /// here a writer killed before its exchange leaves nothing visible (and
    /// leaks that packet). One packet per record: the path is for threads
    /// without rseq, not a fast path.
    fn write_fallback_packet(&self, payload: &[u8]) -> Result<Where, Overrun> {
        let Some(p) = self.take_packet() else {
            self.lost.fetch_add(1, Ordering::Relaxed);
            return Err(Overrun::Full(Where::Fallback));
        };
        let pk = self.packet(p);
        let Some(rec) = pk.records.first() else {
            // R == 0: no record fits.
            self.put_packet(p);
            self.lost.fetch_add(1, Ordering::Relaxed);
            return Err(Overrun::Full(Where::Fallback));
        };
        let slot = rec.0.get().cast::<u64>();
        // SAFETY: the packet is ours (off the free stack, on no list) until
        // the exchange below publishes it; the payload (<= RECORD_MAX bytes,
        // checked by write) fits after the 8-byte header.
        unsafe {
            slot.write_volatile(header(0, payload.len()));
            core::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                slot.add(1).cast::<u8>(),
                payload.len(),
            );
        }
        pk.count.store(1, Ordering::Relaxed);
        let link = self.link_to(p);
        let chain = &self.fallback_chain.word;
        let mut head = chain.load(Ordering::Relaxed);
        loop {
            pk.next.store(head, Ordering::Relaxed);
            // Release: the record and the count before the packet is seen.
            match chain.compare_exchange_weak(head, link, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return Ok(Where::Fallback),
                Err(h) => head = h,
            }
        }
    }

    /// Takes the fallback chain (one exchange: the packets are then the
    /// caller's) and reads it oldest first; returns (records, packets).
    fn read_fallback_chain(&self, f: &mut impl FnMut(Where, &[u8])) -> (u64, u64) {
        if self.fallback_chain.word.load(Ordering::Relaxed) == 0 {
            return (0, 0);
        }
        let mut p = self.linked(self.fallback_chain.word.swap(0, Ordering::Acquire));
        // Newest first as pushed: reverse the links (bounded, as read_chain).
        let mut reversed = 0;
        for _ in 0..P {
            if p == 0 {
                break;
            }
            let pk = self.packet(p);
            let next = self.linked(pk.next.load(Ordering::Relaxed));
            pk.next.store(self.link_to(reversed), Ordering::Relaxed);
            reversed = p;
            p = next;
        }
        self.read_chain_as(reversed, Where::Fallback, f)
    }

    /// Gives CPU `i < C` (the caller's, when it looked) a packet from the
    /// free stack; false when none is free. True also when the caller moved
    /// or another thread installed one first: the caller retries its write.
    fn install(&self, area: *mut rseq_abi::Rseq, field: *const u32, i: u32) -> bool {
        let Some(p) = self.take_packet() else {
            return false;
        };
        loop {
            let inj = injection::<INJECT>();
            // SAFETY: i < C (the caller checked); the active word of CPU i
            // is written only by sequences committing on i and by the
            // consumer's exchange; p is a free packet, ours until the commit
            // publishes it.
            let r = unsafe {
                arch::load_cbne_store::<INJECT>(
                    area,
                    field,
                    i,
                    self.active_word(i).as_ptr(),
                    0,
                    self.active_value(i, p),
                    &inj,
                )
            };
            injected::<INJECT>(&inj, r);
            match r {
                Outcome::Done => {
                    self.installs.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Outcome::Aborted => {
                    count_abort();
                    if read_index(area, field) == Some(i) {
                        continue;
                    }
                }
                Outcome::CompareFailed => {}
            }
            self.put_packet(p);
            return true;
        }
    }

    /// Reads the packets of a pending chain (oldest first), resets them and
    /// puts them back on the free stack; returns (records, packets).
    fn read_chain(&self, p: usize, i: u32, f: &mut impl FnMut(Where, &[u8])) -> (u64, u64) {
        self.read_chain_as(p, Where::Slot(i), f)
    }

    /// [`Self::read_chain`], reporting its records as from `w`.
    fn read_chain_as(
        &self,
        mut p: usize,
        w: Where,
        f: &mut impl FnMut(Where, &[u8]),
    ) -> (u64, u64) {
        let (mut records, mut packets) = (0, 0);
        // At most P packets: a chain is never longer, and a shared mapping
        // that another process corrupted must not loop the consumer forever.
        while p != 0 && packets < P as u64 {
            let pk = self.packet(p);
            let n = pk.count.load(Ordering::Acquire).min(R);
            for rec in pk.records.iter().take(n) {
                // SAFETY: the packet is the consumer's (detached and fenced,
                // or no producer runs): its records below the count are
                // complete and nothing writes them.
                let img = unsafe { core::ptr::read_volatile(rec.0.get()) };
                with_payload(&img, &mut |b: &[u8]| f(w, b));
            }
            let next = self.linked(pk.next.load(Ordering::Relaxed));
            pk.count.store(0, Ordering::Relaxed);
            pk.next.store(0, Ordering::Relaxed);
            self.put_packet(p);
            records += n as u64;
            packets += 1;
            p = next;
        }
        (records, packets)
    }

    /// Takes every CPU's active packet away (full or not) while producers
    /// keep writing, and reads their records, then the fallback buffer's:
    /// `f(where, payload)` for each, CPU by CPU, each packet's records in
    /// order. `-EBUSY` when another flush runs. A CPU the fence cannot
    /// reach (fallback only) keeps its detached packets pending: counted in
    /// [`FlushStats::deferred`], read by a later flush.
    pub fn flush(&self, mut f: impl FnMut(Where, &[u8])) -> Result<FlushStats, i32> {
        if self.consumer.swap(true, Ordering::Acquire) {
            return Err(-rseq_abi::errno::EBUSY);
        }
        let mut st = FlushStats::default();
        for i in 0..C {
            let pend = &self.pending[i].word;
            if self.active[i].word.load(Ordering::Relaxed) == 0 && pend.load(Ordering::Relaxed) == 0
            {
                continue;
            }
            let w = self.active[i].word.swap(0, Ordering::SeqCst);
            // SAFETY: i < C.
            let p = unsafe { self.active_packet(i as u32, w) };
            if p != 0 {
                // Append: a chain is read oldest first.
                let mut tail = self.linked(pend.load(Ordering::Relaxed));
                if tail == 0 {
                    pend.store(self.link_to(p), Ordering::Relaxed);
                } else {
                    // Bounded as read_chain.
                    for _ in 0..P {
                        let next = self.linked(self.packet(tail).next.load(Ordering::Relaxed));
                        if next == 0 {
                            break;
                        }
                        tail = next;
                    }
                    self.packet(tail)
                        .next
                        .store(self.link_to(p), Ordering::Relaxed);
                }
            }
            // A shared ring's producers may be other processes: only a fence
            // that restarts their sections too hands the packet over.
            let fenced = if self.is_shared() {
                fence_cpu_shared(i as u32)
            } else {
                fence_cpu(i as u32)
            };
            if fenced.is_err() {
                st.deferred += 1;
                continue;
            }
            let chain = self.linked(pend.swap(0, Ordering::Relaxed));
            let (r, k) = self.read_chain(chain, i as u32, &mut f);
            st.records += r;
            st.packets += k;
        }
        st.records += self.fallback.consume(|p| f(Where::Fallback, p)) as u64;
        let (r, k) = self.read_fallback_chain(&mut f);
        st.records += r;
        st.packets += k;
        self.flushed_records
            .fetch_add(st.records, Ordering::Relaxed);
        self.flushed_packets
            .fetch_add(st.packets, Ordering::Relaxed);
        self.deferred.fetch_add(st.deferred, Ordering::Relaxed);
        self.consumer.store(false, Ordering::Release);
        Ok(st)
    }

    /// [`FlushRing::flush`] without fences, for when no producer can run
    /// (exclusive access proves it): reads every packet, pending ones too.
    pub fn drain_exclusive(&mut self, f: impl FnMut(Where, &[u8])) -> FlushStats {
        // SAFETY: &mut self: no other thread uses the ring.
        unsafe { self.drain_quiescent(f) }
    }

    /// [`FlushRing::drain_exclusive`] through a shared reference (the C
    /// API's).
    ///
    /// # Safety
    /// No thread writes to or flushes the ring during the call.
    pub unsafe fn drain_quiescent(&self, mut f: impl FnMut(Where, &[u8])) -> FlushStats {
        let mut st = FlushStats::default();
        for i in 0..C {
            let w = self.active[i].word.swap(0, Ordering::SeqCst);
            // SAFETY: i < C.
            let p = unsafe { self.active_packet(i as u32, w) };
            let chain = self.linked(self.pending[i].word.swap(0, Ordering::Relaxed));
            for c in [chain, p] {
                let (r, k) = self.read_chain(c, i as u32, &mut f);
                st.records += r;
                st.packets += k;
            }
        }
        st.records += self.fallback.consume(|p| f(Where::Fallback, p)) as u64;
        let (r, k) = self.read_fallback_chain(&mut f);
        st.records += r;
        st.packets += k;
        self.flushed_records
            .fetch_add(st.records, Ordering::Relaxed);
        self.flushed_packets
            .fetch_add(st.packets, Ordering::Relaxed);
        st
    }

    /// Records dropped: no free packet, a full packet, a full fallback.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed) + self.fallback.lost()
    }

    /// Packets installed on a CPU since creation: more than `P` means
    /// packets were reused.
    pub fn installs(&self) -> u64 {
        self.installs.load(Ordering::Relaxed)
    }

    /// Packets on the free stack now (a snapshot: exact while no thread
    /// takes or returns one).
    pub fn free_packets(&self) -> usize {
        let mut link = (self.free_head.load(Ordering::Acquire) & 0xffff_ffff) as usize;
        let mut n = 0;
        // Bounded: a walk racing pops and pushes may follow stale links.
        while n < P {
            let p = self.linked(link);
            if p == 0 {
                break;
            }
            n += 1;
            link = self.packet(p).next.load(Ordering::Relaxed);
        }
        n
    }

    /// Whether CPU `cpu` holds an active packet now (`None`: `cpu >= C`).
    pub fn has_packet(&self, cpu: u32) -> Option<bool> {
        if cpu as usize >= C {
            return None;
        }
        Some(self.active[cpu as usize].word.load(Ordering::Acquire) != 0)
    }

    /// Totals since creation: records and packets flushed, deferred fences.
    pub fn totals(&self) -> (u64, u64, u64) {
        (
            self.flushed_records.load(Ordering::Relaxed),
            self.flushed_packets.load(Ordering::Relaxed),
            self.deferred.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn payload(t: u8, seq: u32, buf: &mut [u8; RECORD_MAX]) -> usize {
        let len = 6 + (seq as usize % (RECORD_MAX - 5));
        buf[0] = t;
        buf[1..5].copy_from_slice(&seq.to_le_bytes());
        buf[5] = len as u8;
        for (k, b) in buf.iter_mut().enumerate().take(len).skip(6) {
            *b = t ^ (seq as u8).wrapping_add(k as u8);
        }
        len
    }

    fn check(p: &[u8]) -> (u8, u32) {
        let t = p[0];
        let seq = u32::from_le_bytes(p[1..5].try_into().unwrap());
        assert_eq!(p[5] as usize, p.len(), "torn record: length");
        for (k, b) in p.iter().enumerate().skip(6) {
            assert_eq!(*b, t ^ (seq as u8).wrapping_add(k as u8), "torn record");
        }
        (t, seq)
    }

    /// Producers write numbered records while a consumer flushes every
    /// CPU's partial packet: every record written is read exactly once,
    /// whole; every record not written was reported (lost).
    fn exact(fallback: bool) {
        const T: usize = 4;
        const N: u32 = 30_000;
        let ring: &'static FlushRing<64, 16, 12> = Box::leak(Box::new(FlushRing::new()));
        let _serial = crate::remote::fallback_test_lock();
        crate::remote::set_fallback_only(fallback);
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = vec![vec![false; N as usize]; T];
                let mut take = |_: Where, p: &[u8]| {
                    let (t, s) = check(p);
                    assert!(!seen[t as usize][s as usize], "duplicate record {t}/{s}");
                    seen[t as usize][s as usize] = true;
                };
                while !stop.load(Ordering::Acquire) {
                    ring.flush(&mut take).unwrap();
                    std::thread::yield_now();
                }
                ring.flush(&mut take).unwrap();
                seen
            })
        };
        let writers: Vec<_> = (0..T as u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; RECORD_MAX];
                    let mut ok = vec![false; N as usize];
                    for seq in 0..N {
                        let n = payload(t, seq, &mut buf);
                        for _ in 0..100 {
                            if ring.write(&buf[..n]).is_ok() {
                                ok[seq as usize] = true;
                                break;
                            }
                            std::thread::yield_now();
                        }
                    }
                    ok
                })
            })
            .collect();
        let ok: Vec<_> = writers.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Release);
        let seen = consumer.join().unwrap();
        crate::remote::set_fallback_only(false);
        for t in 0..T {
            for s in 0..N as usize {
                assert_eq!(ok[t][s], seen[t][s], "record {t}/{s}: written {}", ok[t][s]);
            }
        }
        // The last flush ran after every producer: every packet is free.
        assert_eq!(ring.free_packets(), 12);
    }

    #[test]
    fn flush_is_exact_with_membarrier() {
        exact(false);
    }

    #[test]
    fn flush_is_exact_in_the_fallback() {
        exact(true);
    }

    /// A shared ring holds no address: the same bytes seen at another
    /// address (what a second process mapping the ring elsewhere sees)
    /// flush the records written through the first, and the copy's packets
    /// go back on the copy's own free stack.
    #[test]
    fn a_shared_ring_works_at_any_address() {
        type Ring = FlushRing<64, 4, 3>;
        let layout = std::alloc::Layout::new::<Ring>();
        // SAFETY: a fresh allocation of Ring's layout each.
        let (a, b) = unsafe {
            (
                std::alloc::alloc_zeroed(layout).cast::<Ring>(),
                std::alloc::alloc_zeroed(layout).cast::<Ring>(),
            )
        };
        assert!(!a.is_null() && !b.is_null());
        // SAFETY: writable, aligned, unused.
        unsafe { Ring::init_in_place_shared(a) };
        // SAFETY: initialized above; never freed (leaked for the thread).
        let ra: &'static Ring = unsafe { &*a };
        assert!(ra.is_shared());
        let mut cpus = [0u32; 1024];
        assert!(crate::allowed_cpus(&mut cpus) >= 1);
        let c = cpus[0];
        let wrote = std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            if rseq_registration::current_area().is_none() {
                return false;
            }
            for k in 0..3u8 {
                assert_eq!(ra.write(&[k, 7]), Ok(Where::Slot(c)));
            }
            true
        })
        .join()
        .unwrap();
        if !wrote {
            return; // no rseq: the records are in the fallback buffer
        }
        assert_eq!(ra.has_packet(c), Some(true));
        // SAFETY: both are Ring-sized; the ring is quiescent (its writer
        // joined), so its bytes are a consistent image.
        unsafe { core::ptr::copy_nonoverlapping(a.cast::<u8>(), b.cast::<u8>(), layout.size()) };
        // SAFETY: a byte image of an initialized ring.
        let rb: &Ring = unsafe { &*b };
        let mut got = vec![];
        let st = rb.flush(|w, p| got.push((w, p.to_vec()))).unwrap();
        assert_eq!(
            got,
            (0..3u8)
                .map(|k| (Where::Slot(c), vec![k, 7]))
                .collect::<Vec<_>>()
        );
        assert_eq!(st.packets, 1);
        assert_eq!(
            rb.free_packets(),
            3,
            "the packet is back on the copy's stack"
        );
        assert_eq!(rb.has_packet(c), Some(false));
        // The original is untouched by the copy's flush (a ring holding
        // pointers would have had the copy read and reset the original's
        // packet): its own flush reads the same records.
        assert_eq!(ra.free_packets(), 2);
        assert_eq!(ra.has_packet(c), Some(true));
        let mut again = vec![];
        ra.flush(|w, p| again.push((w, p.to_vec()))).unwrap();
        assert_eq!(again, got);
        assert_eq!(ra.free_packets(), 3);
    }

    /// A shared ring's writer without a per-CPU packet (here: on a CPU
    /// beyond C) publishes each record in a packet of its own with one
    /// exchange, never through the reserve-then-commit buffer; a private
    /// ring's goes to that buffer.
    #[test]
    fn a_shared_rings_fallback_publishes_whole_packets() {
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        let Some(&c) = cpus[..n].iter().find(|&&c| c >= 1) else {
            return; // one CPU: no index beyond C = 1
        };
        let shared: &'static FlushRing<1, 8, 8> = Box::leak(Box::new(FlushRing::new_shared()));
        let private: &'static FlushRing<1, 8, 8> = Box::leak(Box::new(FlushRing::new()));
        std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            for k in 0..5u8 {
                assert_eq!(shared.write(&[k]), Ok(Where::Fallback));
                assert_eq!(private.write(&[k]), Ok(Where::Fallback));
            }
        })
        .join()
        .unwrap();
        assert_eq!(shared.free_packets(), 3, "one packet per fallback record");
        assert_eq!(private.free_packets(), 8, "the private ring's CasRing");
        for ring in [shared, private] {
            let mut got = vec![];
            let st = ring.flush(|w, p| got.push((w, p.to_vec()))).unwrap();
            assert_eq!(
                got,
                (0..5u8)
                    .map(|k| (Where::Fallback, vec![k]))
                    .collect::<Vec<_>>(),
                "oldest first"
            );
            assert_eq!(st.records, 5);
            assert_eq!(ring.free_packets(), 8);
        }
        // Packets exhausted: the sixth record onwards is dropped, counted.
        std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            for k in 0..8u8 {
                assert_eq!(shared.write(&[k]), Ok(Where::Fallback));
            }
            assert_eq!(shared.write(&[9]), Err(Overrun::Full(Where::Fallback)));
        })
        .join()
        .unwrap();
        assert_eq!(shared.lost(), 1);
        assert_eq!(shared.flush(|_, _| {}).map(|st| st.records), Ok(8));
    }

    #[test]
    fn packets_come_back_and_are_reused() {
        let ring: &'static FlushRing<64, 4, 2> = Box::leak(Box::new(FlushRing::new()));
        // Pinned: every write of this thread goes to one CPU.
        let mut cpus = [0u32; 1024];
        assert!(crate::allowed_cpus(&mut cpus) >= 1);
        let c = cpus[0];
        let t = std::thread::spawn(move || {
            assert_eq!(crate::pin_to_cpu(c as usize), 0);
            if rseq_registration::current_area().is_none() {
                return;
            }
            for round in 0..5u8 {
                for k in 0..4u8 {
                    assert_eq!(ring.write(&[round, k]), Ok(Where::Slot(c)));
                }
                // The packet is full: the fifth record is dropped, counted.
                assert_eq!(ring.write(&[9]), Err(Overrun::Full(Where::Slot(c))));
                assert_eq!(ring.has_packet(c), Some(true));
                let mut got = vec![];
                let st = ring.flush(|w, p| got.push((w, p.to_vec()))).unwrap();
                assert_eq!(st.packets, 1);
                assert_eq!(
                    got,
                    (0..4u8)
                        .map(|k| (Where::Slot(c), vec![round, k]))
                        .collect::<Vec<_>>()
                );
                assert_eq!(ring.has_packet(c), Some(false));
                assert_eq!(ring.free_packets(), 2);
            }
            // Five rounds on two packets: the memory was reused.
            assert_eq!(ring.installs(), 5);
            assert_eq!(ring.lost(), 5);
        });
        t.join().unwrap();
        assert_eq!(ring.write(&[0; RECORD_MAX + 1]), Err(Overrun::TooLong));
    }
}
