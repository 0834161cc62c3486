//! Benchmark loops of the Rust API, for `tests/percpu/bench_vs_selftests.c`
//! (feature `bench-hooks`, off by default: never in the library a program
//! links). Each `rseq_libc_bench_rust_*` export runs `n` operations of one
//! Rust per-CPU operation in a loop compiled here, with the sequences
//! inlined into it as in any Rust caller, so the C program times Rust code
//! beside the kernel selftests' sequences and the inline C header in one
//! process (one call per loop, not per operation). The objects are the C
//! API's (the same types), created and checked by the C program.

use crate::percpu_capi::{C_RING_CPUS, C_RING_RECORDS, C_SLOTS};
use core::ffi::{c_int, c_void};
use rseq_percpu::arch::{self, Injection};
use rseq_percpu::counter::Counter;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::PerCpuRing;
use rseq_percpu::{thread_area, thread_index, IndexMode, Outcome, Slots, Where};

fn mode_of(mm: c_int) -> IndexMode {
    if mm != 0 {
        IndexMode::MmCid
    } else {
        IndexMode::CpuId
    }
}

/// `Counter::inc`, `n` times.
///
/// # Safety
/// `counter` is a counter initialized by `rseq_percpu_counter_init`.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_counter(counter: *const c_void, n: u64) {
    // SAFETY: the caller's contract (the C API's counter is this type).
    let c = unsafe { &*counter.cast::<Counter<C_SLOTS>>() };
    for _ in 0..n {
        c.inc();
    }
}

/// `CounterHandle::inc`, `n` times: the handle made once, as a loop that
/// counts many times does.
///
/// # Safety
/// As [`rseq_libc_bench_rust_counter`].
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_counter_handle(counter: *const c_void, n: u64) {
    // SAFETY: the caller's contract (the C API's counter is this type).
    let c = unsafe { &*counter.cast::<Counter<C_SLOTS>>() };
    let mut h = c.handle();
    for _ in 0..n {
        h.inc();
    }
}

/// `Slots::add` at `Slots::current`, `n` times (retried on abort): the raw
/// add with its index read, as the selftests' `rseq_addv` loop.
///
/// # Safety
/// `slots` was initialized by `rseq_libc_bench_rust_slots_init` in mode
/// `mm`, and is used by nothing else.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_add(slots: *mut c_void, mm: c_int, n: u64) {
    // SAFETY: the caller's contract.
    let s = unsafe { slots_at(slots, mm) };
    for _ in 0..n {
        while s.add(s.current(), 1) == Outcome::Aborted {}
    }
}

/// Load, then `Slots::compare_store` of the value + 1, `n` times.
///
/// # Safety
/// As [`rseq_libc_bench_rust_add`].
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_cbne(slots: *mut c_void, mm: c_int, n: u64) {
    // SAFETY: as in rseq_libc_bench_rust_add.
    let s = unsafe { slots_at(slots, mm) };
    for _ in 0..n {
        loop {
            let at = s.current();
            let old = s.load(at);
            if s.compare_store(at, old, old + 1) == Outcome::Done {
                break;
            }
        }
    }
}

/// Load, then `Slots::compare_store_store` (aux = the old value), `n`
/// times.
///
/// # Safety
/// As [`rseq_libc_bench_rust_add`].
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_store_store(slots: *mut c_void, mm: c_int, n: u64) {
    // SAFETY: as in rseq_libc_bench_rust_add.
    let s = unsafe { slots_at(slots, mm) };
    for _ in 0..n {
        loop {
            let at = s.current();
            let old = s.load(at);
            if s.compare_store_store(at, old, old, old + 1) == Outcome::Done {
                break;
            }
        }
    }
}

/// The slots at `p`.
///
/// # Safety
/// As [`rseq_libc_bench_rust_add`].
unsafe fn slots_at<'a>(p: *mut c_void, mm: c_int) -> &'a Slots<C_SLOTS> {
    let _ = mm; // the mode is the one the slots were initialized with
                // SAFETY: the caller's contract: initialized by
                // rseq_libc_bench_rust_slots_init, alive, 64-aligned.
    unsafe { &*p.cast::<Slots<C_SLOTS>>() }
}

/// Initializes slots at `p` (64-aligned, `rseq_libc_bench_rust_slots_size()`
/// bytes) in mode `mm` (0 cpu_id, 1 mm_cid).
///
/// # Safety
/// `p` is valid for writes of that size and 64-aligned.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_slots_init(p: *mut c_void, mm: c_int) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::write(p.cast::<Slots<C_SLOTS>>(), Slots::with_mode(mode_of(mm))) };
}

/// Bytes a `slots` argument needs.
#[no_mangle]
pub extern "C" fn rseq_libc_bench_rust_slots_size() -> usize {
    core::mem::size_of::<Slots<C_SLOTS>>()
}

/// `arch::add_indexed` (the index read inside the section) on `base`,
/// stride 64, `slots` slots, `n` times.
///
/// # Safety
/// `base + 64 * i` is a valid word for every `i < slots`, written only by
/// these sequences.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_indexed(
    base: *mut u8,
    slots: u32,
    mm: c_int,
    n: u64,
) {
    // SAFETY: the caller's contract.
    unsafe { in_mode(mm, |mode| indexed_loop(base, slots, mode, n)) }
}

/// Calls `f` with `mm`'s mode as a constant: each mode's loop is compiled
/// for it, as the C program's (its loops take the mode as a constant).
#[inline(always)]
fn in_mode(mm: c_int, f: impl Fn(IndexMode)) {
    if mm != 0 {
        f(IndexMode::MmCid)
    } else {
        f(IndexMode::CpuId)
    }
}

/// The loop of [`rseq_libc_bench_rust_indexed`] in `mode`.
///
/// # Safety
/// As [`rseq_libc_bench_rust_indexed`].
#[inline(always)]
unsafe fn indexed_loop(base: *mut u8, slots: u32, mode: IndexMode, n: u64) {
    // One loop: an operation that did not commit is retried, not counted.
    let mut left = n;
    while left != 0 {
        let Some((area, field)) = thread_area(mode) else {
            return;
        };
        // SAFETY: the caller's contract; the thread's area.
        let (r, _) =
            unsafe { arch::add_indexed::<false>(area, field, base, 64, slots, 1, &Injection::OFF) };
        if r == Outcome::Done {
            left -= 1;
        }
    }
}

/// Pop then push one node on the per-index list whose heads are at
/// `heads + 64 * i` (`arch::load_cbeq_pop_raw`, then `arch::load_cbne_store`),
/// `n` times: basic_percpu_ops_test's pop and push.
///
/// # Safety
/// `heads + 64 * i` is a valid list head for every index the thread can
/// have (nodes: next pointer at offset 0), used only by these sequences.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_list(heads: *mut usize, mm: c_int, n: u64) {
    // SAFETY: the caller's contract.
    in_mode(mm, |mode| unsafe { list_loop(heads, mode, n) })
}

/// The loop of [`rseq_libc_bench_rust_list`] in `mode`.
///
/// # Safety
/// As [`rseq_libc_bench_rust_list`].
#[inline(always)]
unsafe fn list_loop(heads: *mut usize, mode: IndexMode, n: u64) {
    for _ in 0..n {
        let node = loop {
            let Some((area, field, i)) = thread_index(mode) else {
                return;
            };
            let head = heads.wrapping_add(8 * i as usize);
            // SAFETY: the caller's contract.
            let node = unsafe {
                arch::load_cbeq_pop_raw::<false>(area, field, i, head, 0, &Injection::OFF)
            };
            // The node register encodes the outcome (arch::enc_outcome):
            // the committed case is one compare.
            if node > 2 {
                break node;
            }
            if arch::enc_outcome(node) == Outcome::CompareFailed {
                return;
            }
        };
        // As the C loops' empty asm: the node is used, in a register.
        keep(node);
        loop {
            let Some((area, field, i)) = thread_index(mode) else {
                return;
            };
            let head = heads.wrapping_add(8 * i as usize);
            // SAFETY: the caller's contract: `node` is a node we popped, ours
            // until pushed; the head is valid.
            let r = unsafe {
                let expect = core::ptr::read_volatile(head);
                core::ptr::write_volatile(node as *mut usize, expect);
                arch::load_cbne_store::<false>(area, field, i, head, expect, node, &Injection::OFF)
            };
            if r == Outcome::Done {
                break;
            }
        }
    }
}

/// Keeps `v` alive in a register (`black_box` would spill it to the
/// stack), as the C loops' `__asm__ volatile ("" : : "r" (v) : "memory")`.
#[inline(always)]
fn keep(v: usize) {
    // SAFETY: an empty asm statement.
    unsafe { core::arch::asm!("/* {0} */", in(reg) v, options(nostack, preserves_flags)) };
}

/// `arch::load_cbne_memcpy_store`: copy `len` bytes from `src` to
/// `dst + 64 * i`, then the word at `words + 64 * i` + 1, `n` times.
///
/// # Safety
/// `dst + 64 * i` is valid for `len` (<= 64) bytes and `words + 64 * i` a
/// valid word for every index the thread can have, used only by these
/// sequences; `src` is valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_memcpy(
    words: *mut usize,
    dst: *mut u8,
    src: *const u8,
    len: usize,
    mm: c_int,
    n: u64,
) {
    in_mode(mm, |mode| {
        for _ in 0..n {
            // SAFETY: the caller's contract.
            unsafe { memcpy_once(words, dst, src, len, mode) };
        }
    })
}

/// One operation of [`rseq_libc_bench_rust_memcpy`] in `mode`, retried on
/// abort.
///
/// # Safety
/// As [`rseq_libc_bench_rust_memcpy`].
#[inline(always)]
unsafe fn memcpy_once(
    words: *mut usize,
    dst: *mut u8,
    src: *const u8,
    len: usize,
    mode: IndexMode,
) {
    loop {
        let Some((area, field, i)) = thread_index(mode) else {
            return;
        };
        let v = words.wrapping_add(8 * i as usize);
        // SAFETY: the caller's contract.
        let r = unsafe {
            let old = core::ptr::read_volatile(v);
            arch::load_cbne_memcpy_store::<false>(
                area,
                field,
                i,
                v,
                old,
                dst.wrapping_add(64 * i as usize),
                src,
                len,
                old + 1,
                &Injection::OFF,
            )
        };
        if r == Outcome::Done {
            return;
        }
    }
}

/// `Pool::alloc` + `Pool::free`, `n` times.
///
/// # Safety
/// `pool` is a pool initialized by `rseq_percpu_pool_init`, with storage.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_pool(pool: *const c_void, n: u64) {
    // SAFETY: the caller's contract (the C API's pool is this type).
    let p = unsafe { &*pool.cast::<Pool<C_SLOTS>>() };
    for _ in 0..n {
        if let Some(o) = p.alloc() {
            keep(o.as_ptr() as usize);
            // SAFETY: just allocated from this pool, not used after.
            unsafe { p.free(o) };
        }
    }
}

/// `PoolHandle::alloc` then `PoolHandle::free`, `n` times: the handle
/// made once.
///
/// # Safety
/// As [`rseq_libc_bench_rust_pool`].
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_pool_handle(pool: *const c_void, n: u64) {
    // SAFETY: the caller's contract (the C API's pool is this type).
    let p = unsafe { &*pool.cast::<Pool<C_SLOTS>>() };
    let mut h = p.handle();
    for _ in 0..n {
        if let Some(o) = h.alloc() {
            keep(o.as_ptr() as usize);
            // SAFETY: just allocated from this pool, not used after.
            unsafe { h.free(o) };
        }
    }
}

/// The payload size of tests/percpu/bench_vs_selftests.c's ring records.
const RING_RECORD_PAYLOAD: usize = 24;

/// `PerCpuRing::write` of `len` bytes from `payload`, `n` times (the
/// caller consumes between calls).
///
/// # Safety
/// `ring` is a ring initialized by `rseq_percpu_ring_init`; `payload` is
/// valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_bench_rust_ring(
    ring: *const c_void,
    payload: *const u8,
    len: usize,
    n: u64,
) -> u64 {
    // SAFETY: the caller's contract (the C API's ring is this type).
    let r = unsafe { &*ring.cast::<PerCpuRing<C_RING_CPUS, C_RING_RECORDS>>() };
    let mut fallback = 0;
    let mut write = |p: &[u8]| {
        for _ in 0..n {
            if let Ok(Where::Fallback) = r.write(p) {
                fallback += 1;
            }
        }
    };
    if len == RING_RECORD_PAYLOAD {
        // The C program's record (`sizeof payload`): a payload of constant
        // size, as a Rust caller writing an array has and as the C loops
        // have (`rseq_percpu_inline_ring_write (ring, payload, sizeof
        // payload)`).
        // SAFETY: the caller's contract: `len` readable bytes.
        write(unsafe { &*payload.cast::<[u8; RING_RECORD_PAYLOAD]>() });
    } else {
        // SAFETY: the caller's contract.
        write(unsafe { core::slice::from_raw_parts(payload, len) });
    }
    fallback
}
