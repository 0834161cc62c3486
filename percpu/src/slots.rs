//! The safe API over word-sized per-CPU data: [`Slots`].

use crate::{
    arch, cache, cached_area, count_abort, injected, injection, read_index, thread_area, IndexMode,
    Outcome,
};
use core::sync::atomic::{AtomicUsize, Ordering};

/// One per-CPU slot: a cache line (64 bytes, the stride) holding the word the
/// operations update and an auxiliary word for two-store operations.
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct Slot {
    /// The word every operation compares or updates (offset 0).
    pub word: AtomicUsize,
    /// The word the first store of [`Slots::compare_store_store`] writes
    /// (offset 8).
    pub aux: AtomicUsize,
    _pad: [usize; 6],
}

const _: () = assert!(core::mem::size_of::<Slot>() == Slots::<1>::STRIDE);

/// Where an operation ran: a per-CPU slot or the shared fallback slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// Slot of this index (a CPU number or a concurrency id).
    Slot(u32),
    /// The fallback slot: the thread has no rseq area, or its index is
    /// beyond the structure's capacity. Updated with atomic instructions.
    Fallback,
}

/// `N` per-CPU [`Slot`]s (stride 64 bytes, slot `i` at byte `64 * i`) and one
/// fallback slot after them.
///
/// Safe code cannot reach another CPU's slot for writing: every write is a
/// restartable sequence that checks, inside the section, that the thread is
/// running on the slot's index, or an atomic update of the fallback slot.
/// Reads of any slot are single-copy-atomic loads.
///
/// `INJECT` (default false) selects the stress-test instantiation whose
/// sequences carry the injection points ([`crate::set_injection`]).
#[repr(C)]
#[derive(Debug)]
pub struct Slots<const N: usize, const INJECT: bool = false> {
    slots: [Slot; N],
    fallback: Slot,
    /// Keeps `mode` off the first 16 bytes of a 64-byte line: every
    /// operation loads it, and at a line's first bytes its address would
    /// agree in the low 12 bits with a slot word (with 256 slots, every line
    /// offset of a page is some slot's), so on the CPUs owning those slots
    /// the load would wait for the previous update's store (4K aliasing:
    /// about 0.2 ns per counter increment on CPU 1, measured).
    _mode_pad: [u8; 16],
    mode: IndexMode,
}

impl<const N: usize, const INJECT: bool> Default for Slots<N, INJECT> {
    fn default() -> Self {
        Self::new(IndexMode::CpuId)
    }
}

impl<const N: usize, const INJECT: bool> Slots<N, INJECT> {
    /// Bytes between consecutive slots.
    pub const STRIDE: usize = 64;
    /// Byte offset of the fallback slot's word (the inline C header's
    /// atomic fallback updates it).
    pub const FALLBACK_OFFSET: usize = core::mem::offset_of!(Self, fallback);
    /// Byte offset of the mode byte (the [`IndexMode`] discriminant: the
    /// index field's offset in the area), read by the inline C header.
    pub const MODE_OFFSET: usize = core::mem::offset_of!(Self, mode);

    /// Zeroed slots indexed by `mode` (`MmCid` degrades to `CpuId` when the
    /// kernel does not fill `mm_cid`).
    pub fn new(mode: IndexMode) -> Self {
        Self::with_mode(mode.or_supported())
    }

    /// Zeroed slots indexed by `mode`, as given (const; the caller checked
    /// that the kernel supports it).
    pub const fn with_mode(mode: IndexMode) -> Self {
        // Array initializer only: each use is a fresh value.
        #[allow(clippy::declare_interior_mutable_const)]
        const ZERO: Slot = Slot {
            word: AtomicUsize::new(0),
            aux: AtomicUsize::new(0),
            _pad: [0; 6],
        };
        Slots {
            slots: [ZERO; N],
            fallback: ZERO,
            _mode_pad: [0; 16],
            mode,
        }
    }

    /// Initializes zeroed-or-garbage memory at `p` as zero slots indexed by
    /// `mode`, without building the value on the stack.
    ///
    /// # Safety
    /// `p` is valid for writes of `Self` and aligned; any previous value is
    /// overwritten without being dropped.
    pub(crate) unsafe fn init_in_place(p: *mut Self, mode: IndexMode) {
        // SAFETY: the caller's contract; all-zero bytes are a valid value of
        // every field but `mode` (atomics and padding), written next.
        unsafe {
            core::ptr::write_bytes(p.cast::<u8>(), 0, core::mem::size_of::<Self>());
            core::ptr::addr_of_mut!((*p).mode).write(mode);
        }
    }

    /// The index field these slots use.
    pub fn mode(&self) -> IndexMode {
        self.mode
    }

    /// Where the calling thread's operations go now.
    #[inline(always)]
    pub fn current(&self) -> Where {
        // The cached area: its `cpu_id` >= 0 says registered (the stand-in
        // and an area unregistered behind the component's back read < 0:
        // the look-up, out of line), then the mode's index field, read
        // whatever the mode (in `cpu_id` mode it is `cpu_id` again: one
        // load rather than a test of the mode).
        let cpu = cache::cached_cpu_field();
        // SAFETY: the cached field is the stand-in's or this thread's
        // area's, both valid for the thread's life; the kernel updates it
        // between instructions, hence volatile.
        if (unsafe { core::ptr::read_volatile(cpu) } as i32) < 0 {
            return self.current_slow();
        }
        let field = cpu
            .cast::<u8>()
            .wrapping_sub(4)
            .wrapping_add(self.mode.offset())
            .cast::<u32>();
        // SAFETY: the same area's `cpu_id` or `mm_cid` field (mode offset 4
        // or 24), aligned.
        let i = unsafe { core::ptr::read_volatile(field) };
        if (i as usize) < N {
            Where::Slot(i)
        } else {
            Where::Fallback
        }
    }

    /// [`Self::current`] without a usable cached area: looks it up
    /// (registering the thread lazily, refreshing the cache).
    #[cold]
    #[inline(never)]
    fn current_slow(&self) -> Where {
        match thread_area(self.mode) {
            Some((area, field)) => match read_index(area, field) {
                Some(i) if (i as usize) < N => Where::Slot(i),
                _ => Where::Fallback,
            },
            None => Where::Fallback,
        }
    }

    /// The slot at `at`.
    pub fn slot(&self, at: Where) -> &Slot {
        match at {
            Where::Slot(i) if (i as usize) < N => &self.slots[i as usize],
            _ => &self.fallback,
        }
    }

    /// The word at `at` (single-copy-atomic load).
    pub fn load(&self, at: Where) -> usize {
        self.slot(at).word.load(Ordering::Relaxed)
    }

    /// Wrapping sum of every slot's word, the fallback's included.
    pub fn sum(&self) -> usize {
        self.slots
            .iter()
            .chain(core::iter::once(&self.fallback))
            .fold(0usize, |s, x| {
                s.wrapping_add(x.word.load(Ordering::Relaxed))
            })
    }

    /// Address of slot 0's word; slot `i`'s is `STRIDE * i` bytes further.
    pub(crate) fn base(&self) -> *mut u8 {
        self.slots.as_ptr() as *mut u8
    }

    /// The fallback slot's word (atomic updates only).
    pub(crate) fn fallback_word(&self) -> &AtomicUsize {
        &self.fallback.word
    }

    /// Every slot's word, the fallback's last.
    pub(crate) fn words(&self) -> impl Iterator<Item = &AtomicUsize> {
        self.slots
            .iter()
            .chain(core::iter::once(&self.fallback))
            .map(|s| &s.word)
    }

    fn raw(&self, i: u32) -> *mut usize {
        self.slots[i as usize].word.as_ptr()
    }

    /// Load-compare-store on `at`: stores `new` if the word equals `expect`.
    /// `Aborted` when the thread is no longer on `at` (ask [`Self::current`]
    /// again) or the kernel restarted the section.
    #[inline(always)]
    pub fn compare_store(&self, at: Where, expect: usize, new: usize) -> Outcome {
        match at {
            Where::Slot(i) if (i as usize) < N => {
                // The area `current` looked up: see `cached_area`.
                let (area, field) = cached_area(self.mode);
                let inj = injection::<INJECT>();
                // SAFETY: area/field are this thread's; the slot word is only
                // written by sequences that commit on index i.
                let r = unsafe {
                    arch::load_cbne_store::<INJECT>(area, field, i, self.raw(i), expect, new, &inj)
                };
                injected::<INJECT>(&inj, r);
                if r == Outcome::Aborted {
                    count_abort();
                }
                r
            }
            Where::Fallback => match self.fallback.word.compare_exchange(
                expect,
                new,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => Outcome::Done,
                Err(_) => Outcome::CompareFailed,
            },
            _ => Outcome::Aborted,
        }
    }

    /// Compare + try-store + store on `at`: if the word equals `expect`,
    /// stores `aux` into the slot's auxiliary word, then `new` into the word
    /// (the commit). The fallback slot does the same under a compare-exchange
    /// of the word to `usize::MAX` (so `expect`/`new` must not be
    /// `usize::MAX` there).
    #[inline(always)]
    pub fn compare_store_store(&self, at: Where, expect: usize, aux: usize, new: usize) -> Outcome {
        match at {
            Where::Slot(i) if (i as usize) < N => {
                // The area `current` looked up: see `cached_area`.
                let (area, field) = cached_area(self.mode);
                let s = &self.slots[i as usize];
                let inj = injection::<INJECT>();
                // SAFETY: as compare_store; aux is part of the same slot.
                let r = unsafe {
                    arch::load_cbne_store_store::<INJECT>(
                        area,
                        field,
                        i,
                        s.word.as_ptr(),
                        expect,
                        s.aux.as_ptr(),
                        aux,
                        new,
                        &inj,
                    )
                };
                injected::<INJECT>(&inj, r);
                if r == Outcome::Aborted {
                    count_abort();
                }
                r
            }
            Where::Fallback => {
                let f = &self.fallback;
                if expect == usize::MAX
                    || f.word
                        .compare_exchange(expect, usize::MAX, Ordering::Acquire, Ordering::Relaxed)
                        .is_err()
                {
                    return Outcome::CompareFailed;
                }
                f.aux.store(aux, Ordering::Relaxed);
                f.word.store(new, Ordering::Release);
                Outcome::Done
            }
            _ => Outcome::Aborted,
        }
    }

    /// Adds `inc` (wrapping) to the word at `at`.
    #[inline(always)]
    pub fn add(&self, at: Where, inc: usize) -> Outcome {
        match at {
            Where::Slot(i) if (i as usize) < N => {
                // The area `current` looked up: see `cached_area`.
                let (area, field) = cached_area(self.mode);
                let inj = injection::<INJECT>();
                // SAFETY: as compare_store.
                let r = unsafe { arch::add::<INJECT>(area, field, i, self.raw(i), inc, &inj) };
                injected::<INJECT>(&inj, r);
                if r == Outcome::Aborted {
                    count_abort();
                }
                r
            }
            Where::Fallback => {
                self.fallback.word.fetch_add(inc, Ordering::Relaxed);
                Outcome::Done
            }
            _ => Outcome::Aborted,
        }
    }

    /// `64 * N`: the bound of [`arch::add_slot`]'s offsets (which scales
    /// the index in 32 bits: N below 2^25 keeps it exact).
    pub(crate) const SLOT_LIMIT: u32 = {
        assert!(N < 1 << 25, "Slots: N must be below 2^25");
        (N * Self::STRIDE) as u32
    };

    /// Adds `inc` to the calling thread's current slot, reading the index
    /// inside the section (load-add-store at an offset): one sequence, no
    /// comparison to fail. Retries aborted sequences; returns where it added.
    #[inline(always)]
    pub fn add_current(&self, inc: usize) -> Where {
        // The first attempt is inline and straight-line on the cached area
        // (no test before the section: it checks cpu_id itself, and a
        // thread without an area holds the stand-in, whose check fails); a
        // retry after an abort, an index beyond N and the no-area fallback
        // are out of line (`add_current_slow`), so that the committed case
        // takes no branch.
        let inj = injection::<INJECT>();
        // SAFETY: the cached cpu_id field is this thread's area's or the
        // stand-in's, and the mode byte is 4 or 24 (IndexMode); slot i's
        // word is at base + 64 * i for 64 * i < SLOT_LIMIT = 64 * N and
        // only written by sequences committing on index i.
        let off = unsafe {
            arch::add_slot::<INJECT>(
                cache::cached_cpu_field(),
                self.mode.offset(),
                self.base(),
                Self::SLOT_LIMIT,
                inc,
                &inj,
            )
        };
        self.add_current_end(off, &inj, inc)
    }

    /// [`Slots::add_current`] on the `cpu_id` field `*cpu` and the index
    /// field offset `mode_offset` a handle holds (see
    /// [`crate::counter::CounterHandle`]): in `cpu_id` mode the section
    /// has no `cpu_id >= 0` test of its own ([`arch::add_slot_by_mode`]).
    /// After the slow path (which looks the area up again), `*cpu` is the
    /// thread's cached field anew.
    ///
    /// # Safety
    /// `*cpu` is the calling thread's cached `cpu_id` field (as the cache
    /// held it, stand-in included) and `mode_offset` this object's mode's
    /// offset.
    #[inline(always)]
    pub(crate) unsafe fn add_current_on(
        &self,
        cpu: &mut *mut u32,
        mode_offset: usize,
        inc: usize,
    ) -> Where {
        let inj = injection::<INJECT>();
        // SAFETY: the caller's contract, and as in `add_current`;
        // SLOT_LIMIT < 2^25 * 64 < 2^32 - 128.
        let off = unsafe {
            arch::add_slot_by_mode::<INJECT>(
                *cpu,
                mode_offset,
                self.base(),
                Self::SLOT_LIMIT,
                inc,
                &inj,
            )
        };
        if !INJECT && off >= 0 {
            return Where::Slot((off as usize / Self::STRIDE) as u32);
        }
        let w = self.add_current_end(off, &inj, inc);
        *cpu = cache::cached_cpu_field();
        w
    }

    /// The end of an inline attempt of `add_current`: where it added, or
    /// the slow path.
    #[inline(always)]
    fn add_current_end(&self, off: isize, inj: &arch::Injection, inc: usize) -> Where {
        if INJECT {
            let r = match off {
                0.. => Outcome::Done,
                -1 => Outcome::Aborted,
                _ => Outcome::CompareFailed,
            };
            injected::<INJECT>(inj, r);
        }
        if off >= 0 {
            return Where::Slot((off as usize / Self::STRIDE) as u32);
        }
        self.add_current_slow(off == -1, inc)
    }

    /// One load-add-store at the current index (read inside the section).
    #[inline(always)]
    fn add_indexed_once(
        &self,
        area: *mut rseq_abi::Rseq,
        field: *const u32,
        inc: usize,
    ) -> (Outcome, u32) {
        let inj = injection::<INJECT>();
        // SAFETY: slot i's word is at base + i * STRIDE for i < N (the
        // section exits with CompareFailed for i >= N and for an area that
        // is not registered) and only written by sequences committing on
        // index i; area/field are this thread's.
        let r = unsafe {
            arch::add_indexed::<INJECT>(
                area,
                field,
                self.slots.as_ptr() as *mut u8,
                Self::STRIDE,
                N as u32,
                inc,
                &inj,
            )
        };
        injected::<INJECT>(&inj, r.0);
        r
    }

    /// After a first attempt of [`Self::add_current`] that did not commit
    /// (`aborted`, or compare failed: no usable cached area, or an index
    /// beyond N): looks the area up ([`thread_area`], which refreshes the
    /// cache), retries while aborted, and goes to the fallback slot when
    /// there is no area or no slot.
    #[cold]
    #[inline(never)]
    fn add_current_slow(&self, aborted: bool, inc: usize) -> Where {
        if aborted {
            count_abort();
        }
        let Some((area, field)) = thread_area(self.mode) else {
            return self.add_fallback(inc);
        };
        loop {
            match self.add_indexed_once(area, field, inc) {
                (Outcome::Done, i) => return Where::Slot(i),
                (Outcome::Aborted, _) => count_abort(),
                (Outcome::CompareFailed, _) => return self.add_fallback(inc),
            }
        }
    }

    /// The fallback slot's atomic add (no area, or an index beyond N).
    #[cold]
    #[inline(never)]
    fn add_fallback(&self, inc: usize) -> Where {
        self.fallback.word.fetch_add(inc, Ordering::Relaxed);
        Where::Fallback
    }

    /// Replaces the current slot's word `w` with `f(w)` (load-compare-store
    /// in a retry loop); `f` returning `None` leaves it. Returns where, the
    /// old and the new value.
    pub fn update(
        &self,
        mut f: impl FnMut(usize) -> Option<usize>,
    ) -> (Where, usize, Option<usize>) {
        loop {
            let at = self.current();
            let old = self.load(at);
            let Some(new) = f(old) else {
                return (at, old, None);
            };
            if self.compare_store(at, old, new) == Outcome::Done {
                return (at, old, Some(new));
            }
        }
    }
}
