//! Per-CPU ring buffer in the style of LTTng-UST: each CPU has its buffer of
//! 64-byte record slots; a producer reserves, writes and commits a record of
//! up to [`RECORD_MAX`] payload bytes with one restartable sequence
//! (compare the head, copy the record into the slot, store head + 1: the
//! commit publishes it). A consumer reads every CPU's buffer.
//!
//! Discard mode: a record that finds its buffer full is dropped and counted
//! ([`Overrun`], [`PerCpuRing::lost`]): never silent. Records are never torn:
//! the copy and the commit are in one section, and a consumer only reads
//! slots below the published head.
//!
//! [`CasRing`] is the pre-rseq method (reserve with compare-and-swap, write,
//! commit with a per-slot sequence number). It serves as the fallback buffer
//! for threads without an rseq area, and as the benchmark baseline.

use crate::{
    arch, cached_index, count_abort, injected, injection, read_index, thread_area, IndexMode,
    Outcome, Where,
};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Bytes in a record slot.
pub const RECORD_SLOT: usize = 64;
/// Largest payload: the slot minus the 8-byte header.
pub const RECORD_MAX: usize = RECORD_SLOT - 8;

/// A record could not be written: the buffer was full (counted in `lost`),
/// or the payload was longer than [`RECORD_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// The buffer at this place was full; the record was dropped and counted.
    Full(Where),
    /// The payload exceeds [`RECORD_MAX`].
    TooLong,
}

/// A per-CPU buffer had no free slot (see `PerCpuRing::write_at`).
struct BufferFull;

/// One record slot: header `(position + 1) << 32 | length`, then the payload.
#[repr(C, align(64))]
pub(crate) struct RecordSlot(pub(crate) UnsafeCell<[u64; RECORD_SLOT / 8]>);

// SAFETY: slots are written by one producer at a time (the rseq commit
// protocol or the CAS reservation) and read by the consumer only once
// published; see the module comment.
unsafe impl Sync for RecordSlot {}

impl RecordSlot {
    // Array initializer only: each use is a fresh value.
    #[allow(clippy::declare_interior_mutable_const)]
    pub(crate) const EMPTY: RecordSlot = RecordSlot(UnsafeCell::new([0; RECORD_SLOT / 8]));
}

pub(crate) fn header(pos: usize, len: usize) -> u64 {
    ((pos as u64 + 1) << 32) | len as u64
}

/// Calls `f` with the payload of a record image.
pub(crate) fn with_payload(img: &[u64; RECORD_SLOT / 8], f: &mut impl FnMut(&[u8])) {
    let len = ((img[0] & 0xffff_ffff) as usize).min(RECORD_MAX);
    let mut bytes = [0u8; RECORD_MAX];
    for (k, b) in bytes.iter_mut().enumerate().take(len) {
        *b = (img[1 + k / 8] >> (8 * (k % 8))) as u8;
    }
    f(&bytes[..len]);
}

/// One CPU's buffer of `S` slots.
#[repr(C, align(64))]
struct CpuBuffer<const S: usize> {
    /// Records published (head), written only by sequences on this CPU.
    head: AtomicUsize,
    _pad0: [u64; 7],
    /// Records consumed, written only by the consumer.
    tail: AtomicUsize,
    /// Records dropped because the buffer was full.
    lost: AtomicU64,
    _pad1: [u64; 6],
    slots: [RecordSlot; S],
}

impl<const S: usize> CpuBuffer<S> {
    // Array initializer only: each use is a fresh value.
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Self = CpuBuffer {
        head: AtomicUsize::new(0),
        _pad0: [0; 7],
        tail: AtomicUsize::new(0),
        lost: AtomicU64::new(0),
        _pad1: [0; 6],
        slots: [RecordSlot::EMPTY; S],
    };

    /// Reads the published, unconsumed records; returns how many.
    fn consume(&self, f: &mut impl FnMut(&[u8])) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Relaxed);
        for pos in tail..head {
            // SAFETY: pos is published (below head) and not consumed: no
            // producer writes its slot until tail passes it.
            let img = unsafe { core::ptr::read_volatile(self.slots[pos % S].0.get()) };
            with_payload(&img, f);
        }
        self.tail.store(head, Ordering::Release);
        head - tail
    }
}

/// Per-CPU ring buffers: `C` CPUs (or concurrency ids) of `S` record slots,
/// and a [`CasRing`] for threads without an area or beyond `C`. `INJECT`:
/// the stress-test instantiation (see [`crate::set_injection`]).
///
/// # Example
///
/// Producers on several threads, one consumer: every record written is
/// read once, whole; a record that found its buffer full was dropped and
/// counted, never lost silently.
///
/// ```
/// use rseq_percpu::{ring::PerCpuRing, IndexMode};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static TRACE: PerCpuRing<64, 16> = PerCpuRing::with_mode(IndexMode::CpuId);
/// static WRITTEN: AtomicUsize = AtomicUsize::new(0);
///
/// std::thread::scope(|s| {
///     for t in 0u8..4 {
///         s.spawn(move || {
///             for k in 0u8..10 {
///                 if TRACE.write(&[t, k, t ^ k]).is_ok() {
///                     WRITTEN.fetch_add(1, Ordering::Relaxed);
///                 }
///             }
///         });
///     }
/// });
/// let mut read = 0;
/// let consumed = TRACE.consume(|_cpu, record| {
///     assert_eq!(record.len(), 3);
///     assert_eq!(record[2], record[0] ^ record[1], "never torn");
///     read += 1;
/// });
/// assert_eq!(consumed, read);
/// assert_eq!(read, WRITTEN.load(Ordering::Relaxed));
/// assert_eq!(read as u64 + TRACE.lost(), 40);
/// ```
#[repr(C)] // Layout shared with the inline C header (see `MODE_OFFSET`).
pub struct PerCpuRing<const C: usize, const S: usize, const INJECT: bool = false> {
    cpus: [CpuBuffer<S>; C],
    fallback: CasRing<S>,
    consumer: AtomicBool,
    /// Puts `mode` at byte 48 of its 64-byte line: writers load it on every
    /// write, and at a line's first bytes it would agree in the low 12 bits
    /// with a buffer's head word or a short record (4K aliasing: the load
    /// waits for the previous write's stores on the CPUs owning them).
    _mode_pad: [u8; 47],
    mode: IndexMode,
}

impl<const C: usize, const S: usize, const INJECT: bool> PerCpuRing<C, S, INJECT> {
    /// Layout read by the inline C header (`headers/rseq-percpu-inline.h`),
    /// which writes records in place: CPU `i`'s buffer is at `i *
    /// BUFFER_BYTES` from the start, its head word at 0, its tail at
    /// `BUFFER_TAIL_OFFSET`, record `k` at `BUFFER_SLOTS_OFFSET + k *
    /// RECORD_SLOT`; the mode byte at `MODE_OFFSET`.
    pub const BUFFER_BYTES: usize = core::mem::size_of::<CpuBuffer<S>>();
    /// See [`Self::BUFFER_BYTES`].
    pub const BUFFER_HEAD_OFFSET: usize = core::mem::offset_of!(CpuBuffer<S>, head);
    /// See [`Self::BUFFER_BYTES`].
    pub const BUFFER_TAIL_OFFSET: usize = core::mem::offset_of!(CpuBuffer<S>, tail);
    /// See [`Self::BUFFER_BYTES`].
    pub const BUFFER_SLOTS_OFFSET: usize = core::mem::offset_of!(CpuBuffer<S>, slots);
    /// See [`Self::BUFFER_BYTES`].
    pub const CPUS_OFFSET: usize = core::mem::offset_of!(Self, cpus);
    /// See [`Self::BUFFER_BYTES`].
    pub const MODE_OFFSET: usize = core::mem::offset_of!(Self, mode);

    /// Empty buffers indexed by `mode` (as given: see
    /// [`IndexMode::or_supported`]).
    pub const fn with_mode(mode: IndexMode) -> Self {
        PerCpuRing {
            cpus: [CpuBuffer::EMPTY; C],
            fallback: CasRing::new(),
            consumer: AtomicBool::new(false),
            _mode_pad: [0; 47],
            mode,
        }
    }

    /// Initializes the memory at `p` as empty buffers indexed by `mode` (as
    /// given), without building them on the stack (the C API's objects).
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub unsafe fn init_in_place(p: *mut Self, mode: IndexMode) {
        // SAFETY: the caller's contract; all-zero bytes are a valid value of
        // every field but `mode` (atomics, padding, record slots, `false`).
        unsafe {
            core::ptr::write_bytes(p.cast::<u8>(), 0, core::mem::size_of::<Self>());
            core::ptr::addr_of_mut!((*p).mode).write(mode);
        }
    }

    /// Writes one record into the current CPU's buffer; returns where.
    #[inline]
    pub fn write(&self, payload: &[u8]) -> Result<Where, Overrun> {
        if payload.len() > RECORD_MAX {
            return Err(Overrun::TooLong);
        }
        // Fast path: the cached area and its index, with no test before the
        // bound check (a thread without a cached area holds the stand-in,
        // whose index is beyond C; the section refuses an unregistered
        // area), one attempt. A retry, a thread without a cached area or an
        // index beyond C go to `write_slow`.
        let (area, field, i) = cached_index(self.mode);
        if (i as usize) < C {
            match self.write_at(area, field, i, payload) {
                Ok(Outcome::Done) => return Ok(Where::Slot(i)),
                Ok(Outcome::Aborted) => count_abort(),
                // A compare failure (the head moved) retries; a full buffer
                // is reported by write_slow, after it checked the area.
                Ok(Outcome::CompareFailed) | Err(BufferFull) => {}
            }
        }
        self.write_slow(payload)
    }

    /// One attempt of [`Self::write`] on index `i < C` (read from `field` by
    /// the caller): its section's outcome, or [`BufferFull`] (not
    /// counted: the caller counts it once it knows the index is its own).
    #[inline(always)]
    fn write_at(
        &self,
        area: *mut rseq_abi::Rseq,
        field: *const u32,
        i: u32,
        payload: &[u8],
    ) -> Result<Outcome, BufferFull> {
        let buf = &self.cpus[i as usize];
        // Relaxed; through the register the section's compare and commit
        // use, not `(cpus, i * size)`: in a burst of writes this load reads
        // the previous write's commit, which the CPU hands over early only
        // to a load addressed alike (see `arch::load_word_unindexed`).
        // SAFETY: the head word, aligned; written only atomically.
        let head = unsafe { arch::load_word_unindexed(buf.head.as_ptr()) };
        if head.wrapping_sub(buf.tail.load(Ordering::Acquire)) >= S {
            return Err(BufferFull);
        }
        let inj = injection::<INJECT>();
        // The header and the payload go straight from here into the slot.
        let (v, dst, first) = (
            buf.head.as_ptr(),
            buf.slots[head % S].0.get().cast::<u8>(),
            header(head, payload.len()) as usize,
        );
        // A payload of 16 to 32 bytes (a test that folds away for a
        // payload of constant size): the copy without a branch on the
        // length and without registers to advance.
        let r = if (16..=32).contains(&payload.len()) {
            // SAFETY: as the general copy's below, and 16 <= len <= 32.
            unsafe {
                arch::load_cbne_store_copy16_32_store::<INJECT>(
                    area,
                    field,
                    i,
                    v,
                    head,
                    dst,
                    first,
                    payload.as_ptr(),
                    payload.len(),
                    head + 1,
                    &inj,
                )
            }
        } else {
            // SAFETY: head is only written by sequences on index i; the slot
            // at head is unpublished and free (head - tail < S), so no
            // reader looks at it until the commit; it holds 8 + RECORD_MAX
            // bytes and the payload is at most RECORD_MAX (checked by
            // `write`).
            unsafe {
                arch::load_cbne_store_memcpy_store::<INJECT>(
                    area,
                    field,
                    i,
                    v,
                    head,
                    dst,
                    first,
                    payload.as_ptr(),
                    payload.len(),
                    head + 1,
                    &inj,
                )
            }
        };
        injected::<INJECT>(&inj, r);
        Ok(r)
    }

    /// [`Self::write`] after its first attempt did not commit: look the
    /// area up, retry while the section aborts or the head moved, or the
    /// fallback buffer (no area, an unregistered one, an index beyond C).
    #[cold]
    #[inline(never)]
    fn write_slow(&self, payload: &[u8]) -> Result<Where, Overrun> {
        if let Some((area, field)) = thread_area(self.mode) {
            // An area the kernel no longer has registered (cpu_id < 0)
            // has no index: the fallback buffer.
            while let Some(i) = read_index(area, field) {
                if i as usize >= C {
                    break;
                }
                match self.write_at(area, field, i, payload) {
                    Ok(Outcome::Done) => return Ok(Where::Slot(i)),
                    Ok(Outcome::CompareFailed) => {}
                    Ok(Outcome::Aborted) => count_abort(),
                    Err(BufferFull) => {
                        self.cpus[i as usize].lost.fetch_add(1, Ordering::Relaxed);
                        return Err(Overrun::Full(Where::Slot(i)));
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

    /// Reads every buffer's published records (CPU order, then the
    /// fallback), calling `f(where, payload)`; returns how many. One consumer
    /// at a time: a concurrent call returns 0 at once.
    pub fn consume(&self, mut f: impl FnMut(Where, &[u8])) -> usize {
        if self.consumer.swap(true, Ordering::Acquire) {
            return 0;
        }
        let mut n = 0;
        for (i, b) in self.cpus.iter().enumerate() {
            n += b.consume(&mut |p: &[u8]| f(Where::Slot(i as u32), p));
        }
        n += self.fallback.consume(|p| f(Where::Fallback, p));
        self.consumer.store(false, Ordering::Release);
        n
    }

    /// Records dropped because a buffer was full, over all buffers.
    pub fn lost(&self) -> u64 {
        self.cpus
            .iter()
            .map(|b| b.lost.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.fallback.lost()
    }
}

/// One ring buffer shared by any thread on any CPU: reserve by
/// compare-and-swap on the head, write, commit by storing the slot's header
/// (which carries the position) with release order. The consumer stops at
/// the first reserved but uncommitted slot.
pub struct CasRing<const S: usize> {
    reserve: AtomicUsize,
    _pad0: [u64; 7],
    tail: AtomicUsize,
    lost: AtomicU64,
    _pad1: [u64; 6],
    slots: [RecordSlot; S],
}

impl<const S: usize> Default for CasRing<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize> CasRing<S> {
    /// An empty buffer.
    pub const fn new() -> Self {
        CasRing {
            reserve: AtomicUsize::new(0),
            _pad0: [0; 7],
            tail: AtomicUsize::new(0),
            lost: AtomicU64::new(0),
            _pad1: [0; 6],
            slots: [RecordSlot::EMPTY; S],
        }
    }

    /// Writes one record.
    #[inline]
    pub fn write(&self, payload: &[u8]) -> Result<(), Overrun> {
        if payload.len() > RECORD_MAX {
            return Err(Overrun::TooLong);
        }
        let mut pos = self.reserve.load(Ordering::Relaxed);
        loop {
            if pos.wrapping_sub(self.tail.load(Ordering::Acquire)) >= S {
                self.lost.fetch_add(1, Ordering::Relaxed);
                return Err(Overrun::Full(Where::Fallback));
            }
            match self.reserve.compare_exchange_weak(
                pos,
                pos + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(p) => pos = p,
            }
        }
        let slot = self.slots[pos % S].0.get().cast::<u64>();
        // SAFETY: the slot is reserved by us alone until we commit; the
        // payload (<= RECORD_MAX bytes) fits after the 8-byte header.
        unsafe {
            core::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                slot.add(1).cast::<u8>(),
                payload.len(),
            )
        };
        // SAFETY: the header is the first word; AtomicU64 has u64's layout.
        let hdr = unsafe { AtomicU64::from_ptr(slot) };
        hdr.store(header(pos, payload.len()), Ordering::Release);
        Ok(())
    }

    /// Reads the committed records in order; returns how many.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let reserved = self.reserve.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Relaxed);
        let mut pos = tail;
        while pos < reserved {
            let slot = self.slots[pos % S].0.get().cast::<u64>();
            // SAFETY: the header word is only accessed atomically here and by
            // the committing producer.
            let hdr = unsafe { AtomicU64::from_ptr(slot) }.load(Ordering::Acquire);
            if hdr >> 32 != (pos as u64 + 1) & 0xffff_ffff {
                break;
            }
            // SAFETY: committed and not consumed: no producer writes it.
            let img = unsafe { core::ptr::read_volatile(self.slots[pos % S].0.get()) };
            with_payload(&img, &mut f);
            pos += 1;
        }
        self.tail.store(pos, Ordering::Release);
        pos - tail
    }

    /// Records dropped because the buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// `C` [`CasRing`]s indexed by `sched_getcpu()`: the pre-rseq LTTng-UST
/// method, for comparison.
pub struct CasPerCpuRing<const C: usize, const S: usize> {
    cpus: [CasRing<S>; C],
}

impl<const C: usize, const S: usize> Default for CasPerCpuRing<C, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize, const S: usize> CasPerCpuRing<C, S> {
    /// Empty buffers.
    pub const fn new() -> Self {
        CasPerCpuRing {
            cpus: [const { CasRing::new() }; C],
        }
    }

    /// Writes one record into the buffer of the CPU `sched_getcpu` names.
    #[inline]
    pub fn write(&self, payload: &[u8]) -> Result<(), Overrun> {
        let cpu = rseq_sched_getcpu::current_cpu().unwrap_or(0) as usize;
        self.cpus[cpu % C].write(payload)
    }

    /// Reads every buffer; returns how many records.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        self.cpus.iter().map(|r| r.consume(&mut f)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// Payload of record `seq` of thread `t`: variable length, self-checking.
    fn payload(t: u8, seq: u32, buf: &mut [u8; RECORD_MAX]) -> usize {
        let len = 6 + (seq as usize % (RECORD_MAX - 5));
        buf[0] = t;
        buf[1..5].copy_from_slice(&seq.to_le_bytes());
        for (k, b) in buf.iter_mut().enumerate().take(len).skip(5) {
            *b = t ^ (seq as u8).wrapping_add(k as u8);
        }
        buf[5] = len as u8;
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

    #[test]
    fn no_torn_no_silent_loss() {
        static RING: PerCpuRing<64, 64> = PerCpuRing::with_mode(IndexMode::CpuId);
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = vec![std::collections::HashSet::new(); 6];
                loop {
                    let done = stop.load(Ordering::Acquire);
                    RING.consume(|_, p| {
                        let (t, s) = check(p);
                        assert!(seen[t as usize].insert(s), "duplicate record");
                    });
                    if done {
                        return seen.iter().map(|s| s.len() as u64).sum::<u64>();
                    }
                    std::thread::yield_now();
                }
            })
        };
        let writers: Vec<_> = (0..6u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; RECORD_MAX];
                    let mut ok = 0u64;
                    for seq in 0..20_000u32 {
                        let n = payload(t, seq, &mut buf);
                        if RING.write(&buf[..n]).is_ok() {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        let written: u64 = writers.into_iter().map(|h| h.join().unwrap()).sum();
        stop.store(true, Ordering::Release);
        let read = consumer.join().unwrap();
        assert_eq!(read, written);
        assert_eq!(written + RING.lost(), 6 * 20_000);
        assert_eq!(RING.write(&[0; RECORD_MAX + 1]), Err(Overrun::TooLong));
    }

    #[test]
    fn every_length_round_trips() {
        // The in-section copies: 16 to 32 bytes without a branch on the
        // length (copy16_32), and the general one with its 16-byte, 8-byte
        // and byte paths:
        // every payload length, at every source alignment, comes back
        // exactly (nothing short, nothing from beyond the payload).
        static RING: PerCpuRing<64, 512> = PerCpuRing::with_mode(IndexMode::CpuId);
        let mut src = [0u8; RECORD_MAX + 8];
        for (k, b) in src.iter_mut().enumerate() {
            *b = (k as u8).wrapping_mul(37).wrapping_add(1);
        }
        let mut expect = Vec::new();
        for offset in 0..8 {
            for len in 0..=RECORD_MAX {
                let p = &src[offset..offset + len];
                assert!(RING.write(p).is_ok());
                expect.push(p.to_vec());
            }
        }
        let mut got = Vec::new();
        RING.consume(|_, p| got.push(p.to_vec()));
        // One thread, but it may migrate between CPUs: compare as multisets.
        got.sort();
        expect.sort();
        assert_eq!(got, expect);
    }

    #[test]
    fn cas_ring_counts_overruns() {
        let r = Box::new(CasRing::<4>::new());
        for k in 0..6u8 {
            let _ = r.write(&[k; 3]);
        }
        assert_eq!(r.lost(), 2);
        let mut got = vec![];
        assert_eq!(r.consume(|p| got.push(p.to_vec())), 4);
        assert_eq!(got, (0..4u8).map(|k| vec![k; 3]).collect::<Vec<_>>());
    }
}
