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

use crate::remote::fence_cpu;
use crate::ring::{with_payload, CasRing, Overrun, RecordSlot, RECORD_MAX, RECORD_SLOT};
use crate::{
    arch, cached_index, count_abort, injected, injection, read_index, thread_area, IndexMode,
    Outcome, Where,
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Bytes of a packet's header (the count word, padded to a line).
pub const PACKET_HEADER: usize = 64;

/// A packet: the count of committed records (written by the sections of the
/// CPU it is active on, or by its owner), the pending-list link, the records.
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
    active: [Line; C],
    /// Packets detached from a CPU whose fence failed (fallback only),
    /// oldest first, linked by `next`; touched by the consumer only.
    pending: [Line; C],
    packets: [Packet<R>; P],
    free: [AtomicU32; P],
    free_top: AtomicUsize,
    free_lock: AtomicBool,
    consumer: AtomicBool,
    lost: AtomicU64,
    installs: AtomicU64,
    flushed_records: AtomicU64,
    flushed_packets: AtomicU64,
    deferred: AtomicU64,
    fallback: CasRing<R>,
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
    /// Every CPU without a packet, every packet free.
    pub const fn new() -> Self {
        let mut free = [const { AtomicU32::new(0) }; P];
        let mut k = 0;
        while k < P {
            free[k] = AtomicU32::new(k as u32);
            k += 1;
        }
        FlushRing {
            active: [Line::ZERO; C],
            pending: [Line::ZERO; C],
            packets: [Packet::EMPTY; P],
            free,
            free_top: AtomicUsize::new(P),
            free_lock: AtomicBool::new(false),
            consumer: AtomicBool::new(false),
            lost: AtomicU64::new(0),
            installs: AtomicU64::new(0),
            flushed_records: AtomicU64::new(0),
            flushed_packets: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            fallback: CasRing::new(),
        }
    }

    /// Initializes the memory at `p` as [`FlushRing::new`], without building
    /// it on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self) {
        // SAFETY: the caller's contract; all-zero bytes are a valid value of
        // every field (atomics, padding, record slots), then the free stack
        // gets every packet.
        unsafe {
            core::ptr::write_bytes(p.cast::<u8>(), 0, core::mem::size_of::<Self>());
            for k in 0..P {
                (*p).free[k].store(k as u32, Ordering::Relaxed);
            }
            (*p).free_top.store(P, Ordering::Relaxed);
        }
    }

    fn lock(&self) {
        let mut spins = 0u32;
        while self
            .free_lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                // SAFETY: sched_yield has no arguments and no memory effects.
                unsafe { rseq_abi::arch::syscall0(rseq_abi::arch::nr::SCHED_YIELD) };
            } else {
                core::hint::spin_loop();
            }
        }
    }

    fn unlock(&self) {
        self.free_lock.store(false, Ordering::Release);
    }

    fn take_packet(&self) -> Option<usize> {
        self.lock();
        let top = self.free_top.load(Ordering::Relaxed);
        let k = if top == 0 {
            None
        } else {
            self.free_top.store(top - 1, Ordering::Relaxed);
            self.free
                .get(top - 1)
                .map(|k| k.load(Ordering::Relaxed) as usize)
        };
        self.unlock();
        // (No indexing that could panic: the C library links no panic
        // machinery.)
        k.and_then(|k| self.packets.get(k))
            .map(|p| p as *const Packet<R> as usize)
    }

    /// The packet at address `p`.
    fn packet(&self, p: usize) -> &Packet<R> {
        // SAFETY: every packet address the ring handles (active words,
        // pending chains, the free stack) is one of self.packets, which
        // lives as long as self.
        unsafe { &*(p as *const Packet<R>) }
    }

    fn put_packet(&self, p: usize) {
        let k = (p - self.packets.as_ptr() as usize) / core::mem::size_of::<Packet<R>>();
        self.lock();
        let top = self.free_top.load(Ordering::Relaxed);
        // At most P packets exist, so the stack always has room.
        if let Some(slot) = self.free.get(top) {
            slot.store(k as u32, Ordering::Relaxed);
            self.free_top.store(top + 1, Ordering::Relaxed);
        }
        self.unlock();
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
                        let p = unsafe { self.active_word(i) }.load(Ordering::Acquire);
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
        self.fallback
            .write(payload)
            .map(|_| Where::Fallback)
            .map_err(|e| match e {
                Overrun::Full(_) => Overrun::Full(Where::Fallback),
                e => e,
            })
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
                    p,
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
    fn read_chain(&self, mut p: usize, i: u32, f: &mut impl FnMut(Where, &[u8])) -> (u64, u64) {
        let (mut records, mut packets) = (0, 0);
        while p != 0 {
            let pk = self.packet(p);
            let n = pk.count.load(Ordering::Acquire).min(R);
            for rec in pk.records.iter().take(n) {
                // SAFETY: the packet is the consumer's (detached and fenced,
                // or no producer runs): its records below the count are
                // complete and nothing writes them.
                let img = unsafe { core::ptr::read_volatile(rec.0.get()) };
                with_payload(&img, &mut |b: &[u8]| f(Where::Slot(i), b));
            }
            let next = pk.next.load(Ordering::Relaxed);
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
            let p = self.active[i].word.swap(0, Ordering::SeqCst);
            if p != 0 {
                // Append: a chain is read oldest first.
                let mut tail = pend.load(Ordering::Relaxed);
                if tail == 0 {
                    pend.store(p, Ordering::Relaxed);
                } else {
                    while self.packet(tail).next.load(Ordering::Relaxed) != 0 {
                        tail = self.packet(tail).next.load(Ordering::Relaxed);
                    }
                    self.packet(tail).next.store(p, Ordering::Relaxed);
                }
            }
            if fence_cpu(i as u32).is_err() {
                st.deferred += 1;
                continue;
            }
            let chain = pend.swap(0, Ordering::Relaxed);
            let (r, k) = self.read_chain(chain, i as u32, &mut f);
            st.records += r;
            st.packets += k;
        }
        st.records += self.fallback.consume(|p| f(Where::Fallback, p)) as u64;
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
            let p = self.active[i].word.swap(0, Ordering::SeqCst);
            let chain = self.pending[i].word.swap(0, Ordering::Relaxed);
            for c in [chain, p] {
                let (r, k) = self.read_chain(c, i as u32, &mut f);
                st.records += r;
                st.packets += k;
            }
        }
        st.records += self.fallback.consume(|p| f(Where::Fallback, p)) as u64;
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

    /// Packets on the free stack now.
    pub fn free_packets(&self) -> usize {
        self.free_top.load(Ordering::Relaxed)
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
