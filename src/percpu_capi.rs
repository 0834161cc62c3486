//! The C API of the per-CPU operations and use cases
//! (`headers/rseq-percpu.h`), over the `rseq-percpu` crate.
//!
//! Every entry is a call (no inline sequence in the header): the sequences'
//! descriptors, exit-point tables and abort handlers are emitted by this
//! library, where `rseq-libc inspect` and the GDB script find them. Every
//! entry checks its pointers (null, alignment) and sizes and returns a
//! negative errno for bad input instead of touching memory. Objects (counter,
//! pool, ring, lock) live in memory the caller provides, of the size and
//! alignment the `*_size` functions and `RSEQ_PERCPU_ALIGN` give; that
//! memory may be shared between processes for the objects created with
//! `RSEQ_PERCPU_SHARED` or `rseq_percpu_flush_ring_init_shared` (`cpu_id`
//! indexing, cross-process fences; see `headers/rseq-percpu.h`).

use core::ffi::{c_int, c_long, c_uint, c_void};
use core::mem::{align_of, size_of};
use rseq_abi::errno::{EINVAL, ENOSYS};
use rseq_percpu::counter::Counter;
use rseq_percpu::flush::FlushRing;
use rseq_percpu::lock::ReaderLock;
use rseq_percpu::pool::Pool;
use rseq_percpu::rcu::{Rcu, RcuHead, ReadToken};
use rseq_percpu::ring::{Overrun, PerCpuRing, RECORD_MAX};
use rseq_percpu::{arch, IndexMode, Outcome, Where};

/// `EOPNOTSUPP` (x86-64 Linux).
const EOPNOTSUPP: i32 = 95;
/// `ENOMEM`.
const ENOMEM: i32 = 12;
/// `ENOSPC`: the ring buffer was full (the record is counted as lost).
const ENOSPC: i32 = 28;

/// Per-CPU slots of the C objects: CPUs (or concurrency ids) at or beyond
/// it use the object's atomic fallback slot (correct, slower).
pub const C_SLOTS: usize = 256;
/// Record slots per CPU of the C ring buffer.
pub const C_RING_RECORDS: usize = 256;
/// CPUs with their own buffer in the C ring buffer (the others share the
/// compare-and-swap fallback buffer).
pub const C_RING_CPUS: usize = 64;
/// Longest copy `rseq_percpu_load_cbne_memcpy_store` accepts: a longer
/// section would be aborted by every tick and never commit.
pub const MEMCPY_MAX: usize = 4096;
/// Alignment of every object's memory (`RSEQ_PERCPU_ALIGN`).
pub const OBJECT_ALIGN: usize = 64;

/// The C API runs the normal instantiation of every sequence: no injection.
const OFF: arch::Injection = arch::Injection::OFF;

type CCounter = Counter<C_SLOTS>;
type CPool = Pool<C_SLOTS>;
type CRing = PerCpuRing<C_RING_CPUS, C_RING_RECORDS>;
type CLock = ReaderLock<C_SLOTS>;
type CRcu = Rcu<C_SLOTS>;
/// CPUs with their own active packet in the C flush ring.
pub const C_FLUSH_CPUS: usize = 64;
/// Records per packet of the C flush ring (`RSEQ_PERCPU_FLUSH_RECORDS`).
pub const C_FLUSH_RECORDS: usize = 64;
/// Packets of the C flush ring (`RSEQ_PERCPU_FLUSH_PACKETS`).
pub const C_FLUSH_PACKETS: usize = 128;
type CFlush = FlushRing<C_FLUSH_CPUS, C_FLUSH_RECORDS, C_FLUSH_PACKETS>;

const _: () = {
    assert!(align_of::<CCounter>() <= OBJECT_ALIGN);
    assert!(align_of::<CPool>() <= OBJECT_ALIGN);
    assert!(align_of::<CRing>() <= OBJECT_ALIGN);
    assert!(align_of::<CLock>() <= OBJECT_ALIGN);
    assert!(align_of::<CFlush>() <= OBJECT_ALIGN);
    assert!(align_of::<CRcu>() <= OBJECT_ALIGN);
};

// The object layout the inline C header (headers/rseq-percpu-inline.h)
// hard-codes as RSEQ_PERCPU_INLINE_*: it updates the objects in place, mixed
// with these calls. Changing any of these numbers means changing the header
// and renaming `rseq_percpu_inline_area_v2` (the layout version), so that a
// program built against the old header fails to link instead of corrupting
// objects. The header also reads `rseq_percpu_inline_registrations`
// (rseq-registration: bumped whenever a thread gets an area), so a program
// built with it fails to link against a library without it.
const _: () = {
    use rseq_percpu::Slots;
    type S = Slots<C_SLOTS>;
    assert!(C_SLOTS == 256 && S::STRIDE == 64);
    assert!(CCounter::SLOTS_OFFSET == 0);
    assert!(S::FALLBACK_OFFSET == 16384);
    assert!(S::MODE_OFFSET == 16464);
    assert!(size_of::<CCounter>() == 16576);
    assert!(CPool::HEADS_OFFSET == 0);
    assert!(CPool::PER_CPU_LIMIT_OFFSET == 16544);
    assert!(size_of::<CPool>() == 16576);
    assert!(C_RING_CPUS == 64 && C_RING_RECORDS == 256);
    assert!(rseq_percpu::ring::RECORD_SLOT == 64);
    assert!(CRing::CPUS_OFFSET == 0);
    assert!(CRing::BUFFER_BYTES == 16512);
    assert!(CRing::BUFFER_HEAD_OFFSET == 0);
    assert!(CRing::BUFFER_TAIL_OFFSET == 64);
    assert!(CRing::BUFFER_SLOTS_OFFSET == 128);
    assert!(CRing::MODE_OFFSET == 1073328);
    assert!(size_of::<CRing>() == 1073344);
    assert!(CRcu::STRIDE == 64);
    assert!(CRcu::LOCK_OFFSET == 0 && CRcu::UNLOCK_OFFSET == 16);
    assert!(CRcu::FALLBACK_OFFSET == 16384);
    assert!(CRcu::PERIOD_OFFSET == 16448);
    assert!(CRcu::MODE_OFFSET == 16456);
    assert!(rseq_percpu::rcu::FENCED == 2);
    assert!(size_of::<CRcu>() == 16576);
    // The mode byte is the index field's offset in struct rseq.
    assert!(IndexMode::CpuId as usize == 4 && IndexMode::MmCid as usize == 24);
};

fn mode_of(mode: c_int) -> Result<IndexMode, c_int> {
    match mode {
        0 => Ok(IndexMode::CpuId),
        1 if rseq_percpu::mm_cid_available() => Ok(IndexMode::MmCid),
        1 => Err(-EOPNOTSUPP),
        _ => Err(-EINVAL),
    }
}

/// `RSEQ_PERCPU_SHARED`: OR-ed into the mode of an `*_init`, the object may
/// live in `MAP_SHARED` memory used by several processes.
pub const SHARED_FLAG: c_int = 0x100;

/// The mode of an `*_init` call: the index mode (`mm_cid` without kernel
/// support degrades to `cpu_id`, as before) and whether `SHARED_FLAG` was
/// given. `-EINVAL` for a shared object indexed by `mm_cid` (concurrency ids
/// are per process: two processes both own id 0) or of a kind that cannot
/// be shared (`shareable` false).
fn init_mode(mode: c_int, shareable: bool) -> Result<(IndexMode, bool), c_int> {
    let shared = mode & SHARED_FLAG != 0;
    let mode = mode & !SHARED_FLAG;
    if shared && (!shareable || mode != 0) {
        return Err(-EINVAL);
    }
    match mode_of(mode) {
        Ok(m) => Ok((m, shared)),
        Err(e) if e == -EOPNOTSUPP => Ok((IndexMode::CpuId, shared)),
        Err(e) => Err(e),
    }
}

/// The calling thread's area and index field for `mode`.
#[inline(always)]
fn area_of(mode: c_int) -> Result<(*mut rseq_abi::Rseq, *const u32), c_int> {
    rseq_percpu::thread_area(mode_of(mode)?).ok_or(-ENOSYS)
}

fn word_ok<T>(p: *const T) -> bool {
    !p.is_null() && (p as usize).is_multiple_of(align_of::<usize>())
}

fn outcome(o: Outcome) -> c_int {
    o as c_int
}

/// Checks an object pointer and its memory size for `init`.
fn object_ok<T>(mem: *mut c_void, size: usize) -> bool {
    !mem.is_null() && (mem as usize).is_multiple_of(OBJECT_ALIGN) && size >= size_of::<T>()
}

/// Checks an initialized object pointer.
fn handle<'a, T>(p: *const c_void) -> Result<&'a T, c_int> {
    if p.is_null() || !(p as usize).is_multiple_of(OBJECT_ALIGN) {
        return Err(-EINVAL);
    }
    // SAFETY: the C contract: a non-null, aligned handle points to an object
    // initialized by the matching `*_init` and not yet freed.
    Ok(unsafe { &*p.cast::<T>() })
}

fn status(r: Result<c_int, c_int>) -> c_int {
    r.unwrap_or_else(|e| e)
}

// ---- raw operations --------------------------------------------------

/// `rseq_percpu_inline_area_v2`: the per-thread lookup of the inline C
/// header. The calling thread's area, usable for `mode`, or null with
/// `*err` = `-EINVAL` (bad mode), `-EOPNOTSUPP` (mm_cid without kernel
/// support) or `-ENOSYS` (no area, or one whose `cpu_id` reads < 0:
/// unregistered or failed, where neither `cpu_id_start` nor `mm_cid` may
/// index anything). `_v2`: the object layout and protocol version (see the checks
/// above; v2: the pool sections load the reclaim guard).
///
/// # Safety
/// `err` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_inline_area_v2(
    mode: c_int,
    err: *mut c_int,
) -> *mut rseq_abi::Rseq {
    let r = area_of(mode).and_then(|(area, _)| {
        // SAFETY: the calling thread's registered area; the kernel updates
        // cpu_id between instructions, so a volatile load.
        let cpu = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*area).cpu_id)) };
        if (cpu as i32) < 0 {
            Err(-ENOSYS)
        } else {
            Ok(area)
        }
    });
    match r {
        Ok(area) => area,
        Err(e) => {
            if !err.is_null() {
                // SAFETY: the caller's contract.
                unsafe { *err = e };
            }
            core::ptr::null_mut()
        }
    }
}

/// `rseq_percpu_current_index`: the calling thread's `cpu_id` or `mm_cid`
/// from its area; `-ENOSYS` without an area.
#[no_mangle]
pub extern "C" fn rseq_percpu_current_index(mode: c_int) -> c_int {
    let mode = match mode_of(mode) {
        Ok(m) => m,
        Err(e) => return e,
    };
    rseq_percpu::current_index(mode).map_or(-ENOSYS, |i| i as c_int)
}

/// `rseq_percpu_load_cbne_store`.
///
/// # Safety
/// `v`, if non-null and aligned, is valid and only written by sequences
/// committing on `index`.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_load_cbne_store(
    mode: c_int,
    index: c_uint,
    v: *mut usize,
    expect: usize,
    newv: usize,
) -> c_int {
    if !word_ok(v) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract; area/field are this thread's.
        outcome(unsafe {
            arch::load_cbne_store::<false>(area, field, index, v, expect, newv, &OFF)
        })
    }))
}

/// `rseq_percpu_add`.
///
/// # Safety
/// As [`rseq_percpu_load_cbne_store`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_add(
    mode: c_int,
    index: c_uint,
    v: *mut usize,
    inc: usize,
) -> c_int {
    if !word_ok(v) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract.
        outcome(unsafe { arch::add::<false>(area, field, index, v, inc, &OFF) })
    }))
}

/// `rseq_percpu_add_indexed`.
///
/// # Safety
/// `base + i * stride` is a valid word for every `i < slots`, written only by
/// sequences committing on index `i`; `index_out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_add_indexed(
    mode: c_int,
    base: *mut c_void,
    stride: usize,
    slots: c_uint,
    inc: usize,
    index_out: *mut c_uint,
) -> c_int {
    if !word_ok(base) || stride == 0 || !stride.is_multiple_of(8) || slots == 0 {
        return -EINVAL;
    }
    if (slots as usize - 1).checked_mul(stride).is_none() {
        return -EINVAL;
    }
    if !index_out.is_null() && !(index_out as usize).is_multiple_of(align_of::<c_uint>()) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract.
        let (r, i) = unsafe {
            arch::add_indexed::<false>(area, field, base.cast(), stride, slots, inc, &OFF)
        };
        if r == Outcome::Done && !index_out.is_null() {
            // SAFETY: checked non-null and aligned; the caller's contract.
            unsafe { *index_out = i };
        }
        outcome(r)
    }))
}

/// `rseq_percpu_load_cbeq_pop`.
///
/// # Safety
/// `head` as `v` of [`rseq_percpu_load_cbne_store`]; every node on the list
/// is readable at `next_offset`; `node_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_load_cbeq_pop(
    mode: c_int,
    index: c_uint,
    head: *mut usize,
    next_offset: usize,
    node_out: *mut *mut c_void,
) -> c_int {
    if !word_ok(head) || !word_ok(node_out) || !next_offset.is_multiple_of(8) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract.
        let (r, node) =
            unsafe { arch::load_cbeq_pop::<false>(area, field, index, head, next_offset, &OFF) };
        // SAFETY: checked non-null and aligned.
        unsafe {
            *node_out = if r == Outcome::Done {
                node as *mut c_void
            } else {
                core::ptr::null_mut()
            }
        };
        outcome(r)
    }))
}

/// `rseq_percpu_load_cbne_store_store`.
///
/// # Safety
/// As [`rseq_percpu_load_cbne_store`] for `v`; `v2` writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_load_cbne_store_store(
    mode: c_int,
    index: c_uint,
    v: *mut usize,
    expect: usize,
    v2: *mut usize,
    newv2: usize,
    newv: usize,
) -> c_int {
    if !word_ok(v) || !word_ok(v2) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract.
        outcome(unsafe {
            arch::load_cbne_store_store::<false>(
                area, field, index, v, expect, v2, newv2, newv, &OFF,
            )
        })
    }))
}

/// `rseq_percpu_load_cbne_memcpy_store`.
///
/// # Safety
/// As [`rseq_percpu_load_cbne_store`] for `v`; `src` readable and `dst`
/// writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_load_cbne_memcpy_store(
    mode: c_int,
    index: c_uint,
    v: *mut usize,
    expect: usize,
    dst: *mut c_void,
    src: *const c_void,
    len: usize,
    newv: usize,
) -> c_int {
    if !word_ok(v) || len > MEMCPY_MAX || (len != 0 && (dst.is_null() || src.is_null())) {
        return -EINVAL;
    }
    status(area_of(mode).map(|(area, field)| {
        // SAFETY: the caller's contract.
        outcome(unsafe {
            arch::load_cbne_memcpy_store::<false>(
                area,
                field,
                index,
                v,
                expect,
                dst.cast(),
                src.cast(),
                len,
                newv,
                &OFF,
            )
        })
    }))
}

// ---- counter ---------------------------------------------------------

/// `rseq_percpu_counter_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_counter_size() -> usize {
    size_of::<CCounter>()
}

/// `rseq_percpu_counter_init`.
///
/// # Safety
/// `mem` is null or writable for `size` bytes, and not in use.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_counter_init(
    mem: *mut c_void,
    size: usize,
    mode: c_int,
) -> c_int {
    if !object_ok::<CCounter>(mem, size) {
        return -EINVAL;
    }
    // Shareable: per-CPU words and an atomic fallback, no pointer, no fence.
    let mode = match init_mode(mode, true) {
        Ok((m, _)) => m,
        Err(e) => return e,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CCounter::init_in_place(mem.cast(), mode) };
    0
}

fn where_code(w: Where) -> c_int {
    match w {
        Where::Slot(i) => i as c_int,
        Where::Fallback => -1,
    }
}

/// `rseq_percpu_counter_add`.
#[no_mangle]
pub extern "C" fn rseq_percpu_counter_add(counter: *mut c_void, n: u64) -> c_int {
    status(handle::<CCounter>(counter).map(|c| {
        c.add(n);
        0
    }))
}

/// `rseq_percpu_counter_inc`.
#[no_mangle]
pub extern "C" fn rseq_percpu_counter_inc(counter: *mut c_void) -> c_int {
    status(handle::<CCounter>(counter).map(|c| {
        c.inc();
        0
    }))
}

/// `rseq_percpu_counter_read`.
///
/// # Safety
/// `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_counter_read(counter: *mut c_void, out: *mut u64) -> c_int {
    if !word_ok(out) {
        return -EINVAL;
    }
    status(handle::<CCounter>(counter).map(|c| {
        // SAFETY: checked non-null and aligned.
        unsafe { *out = c.read() };
        0
    }))
}

/// `rseq_percpu_counter_reset`.
///
/// # Safety
/// `old` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_counter_reset(counter: *mut c_void, old: *mut u64) -> c_int {
    if !old.is_null() && !word_ok(old) {
        return -EINVAL;
    }
    status(handle::<CCounter>(counter).map(|c| {
        let v = c.reset();
        if !old.is_null() {
            // SAFETY: checked non-null and aligned.
            unsafe { *old = v };
        }
        0
    }))
}

// ---- pool ------------------------------------------------------------

/// `rseq_percpu_pool_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_pool_size() -> usize {
    size_of::<CPool>()
}

/// `rseq_percpu_pool_init`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_pool_init(
    mem: *mut c_void,
    size: usize,
    mode: c_int,
    object_size: usize,
    per_cpu_limit: usize,
) -> c_int {
    if !object_ok::<CPool>(mem, size) || object_size < 16 || !object_size.is_multiple_of(8) {
        return -EINVAL;
    }
    let (mode, shared) = match init_mode(mode, true) {
        Ok(m) => m,
        Err(e) => return e,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe {
        if shared {
            CPool::init_in_place_shared(mem.cast(), object_size, per_cpu_limit);
        } else {
            CPool::init_in_place(mem.cast(), mode, object_size, per_cpu_limit);
        }
    }
    0
}

/// An initialized pool mapped where it can be used: `-EFAULT` for a shared
/// pool this process maps at another address than where it was initialized.
fn pool_handle<'a>(p: *const c_void) -> Result<&'a CPool, c_int> {
    let pool = handle::<CPool>(p)?;
    pool.check_mapping()?;
    Ok(pool)
}

/// `rseq_percpu_pool_add_storage`: the number of objects carved.
///
/// # Safety
/// `storage` is null or `len` bytes owned by the pool from now on.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_pool_add_storage(
    pool: *mut c_void,
    storage: *mut c_void,
    len: usize,
) -> c_long {
    if storage.is_null() || len > isize::MAX as usize {
        return -EINVAL as c_long;
    }
    match pool_handle(pool) {
        Err(e) => e as c_long,
        Ok(p) => {
            // SAFETY: the caller gives the pool `len` bytes for good.
            let bytes = unsafe { core::slice::from_raw_parts_mut(storage.cast::<u8>(), len) };
            match p.add_storage(bytes) {
                Ok(n) => n as c_long,
                Err(_) => -EINVAL as c_long,
            }
        }
    }
}

/// `rseq_percpu_pool_alloc`.
///
/// # Safety
/// `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_pool_alloc(pool: *mut c_void, out: *mut *mut c_void) -> c_int {
    if !word_ok(out) {
        return -EINVAL;
    }
    status(pool_handle(pool).map(|p| {
        let o = p.alloc();
        // SAFETY: checked non-null and aligned.
        unsafe { *out = o.map_or(core::ptr::null_mut(), |o| o.as_ptr().cast()) };
        if o.is_some() {
            0
        } else {
            -ENOMEM
        }
    }))
}

/// `rseq_percpu_pool_free`.
///
/// # Safety
/// `obj` came from `rseq_percpu_pool_alloc` of this pool, not freed since.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_pool_free(pool: *mut c_void, obj: *mut c_void) -> c_int {
    let Some(o) = core::ptr::NonNull::new(obj.cast::<u8>()) else {
        return -EINVAL;
    };
    if !(obj as usize).is_multiple_of(8) {
        return -EINVAL;
    }
    status(pool_handle(pool).map(|p| {
        // SAFETY: the caller's contract.
        unsafe { p.free(o) };
        0
    }))
}

/// `rseq_percpu_pool_reclaim`: objects moved, or a negative errno.
#[no_mangle]
pub extern "C" fn rseq_percpu_pool_reclaim(pool: *mut c_void, cpu: c_uint) -> c_long {
    match pool_handle(pool) {
        Err(e) => e as c_long,
        Ok(p) => match p.reclaim(cpu) {
            Ok(n) => n as c_long,
            Err(e) => e as c_long,
        },
    }
}

/// `rseq_percpu_pool_cpu_free`.
#[no_mangle]
pub extern "C" fn rseq_percpu_pool_cpu_free(pool: *mut c_void, cpu: c_uint) -> c_long {
    match pool_handle(pool) {
        Err(e) => e as c_long,
        Ok(p) => p.cpu_len(cpu).map_or(-EINVAL as c_long, |n| n as c_long),
    }
}

// ---- remote access ---------------------------------------------------

/// `rseq_percpu_remote_fence`: 0 (membarrier), 1 (visited), or a negative
/// errno.
#[no_mangle]
pub extern "C" fn rseq_percpu_remote_fence(cpu: c_uint) -> c_int {
    match rseq_percpu::remote::fence_cpu(cpu) {
        Ok(rseq_percpu::remote::Fence::Membarrier) => 0,
        Ok(rseq_percpu::remote::Fence::Visited) => 1,
        Err(e) => e,
    }
}

/// `rseq_percpu_remote_fence_shared`: 1 (visited), or a negative errno.
#[no_mangle]
pub extern "C" fn rseq_percpu_remote_fence_shared(cpu: c_uint) -> c_int {
    match rseq_percpu::remote::fence_cpu_shared(cpu) {
        Ok(rseq_percpu::remote::Fence::Membarrier) => 0,
        Ok(rseq_percpu::remote::Fence::Visited) => 1,
        Err(e) => e,
    }
}

/// `rseq_percpu_remote_fallback_only`.
#[no_mangle]
pub extern "C" fn rseq_percpu_remote_fallback_only(on: c_int) -> c_int {
    rseq_percpu::remote::set_fallback_only(on != 0);
    0
}

// ---- flush ring ------------------------------------------------------

/// `rseq_percpu_flush_ring_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_flush_ring_size() -> usize {
    size_of::<CFlush>()
}

/// `rseq_percpu_flush_ring_init`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_init(mem: *mut c_void, size: usize) -> c_int {
    if !object_ok::<CFlush>(mem, size) {
        return -EINVAL;
    }
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CFlush::init_in_place(mem.cast()) };
    0
}

/// `rseq_percpu_flush_ring_init_shared`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_init_shared(
    mem: *mut c_void,
    size: usize,
) -> c_int {
    if !object_ok::<CFlush>(mem, size) {
        return -EINVAL;
    }
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CFlush::init_in_place_shared(mem.cast()) };
    0
}

/// `rseq_percpu_flush_ring_write`: the CPU (or -1, the fallback buffer),
/// `-ENOSPC` (dropped, counted), `-EINVAL`.
///
/// # Safety
/// `payload` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_write(
    ring: *mut c_void,
    payload: *const c_void,
    len: usize,
) -> c_int {
    if len > RECORD_MAX || (len != 0 && payload.is_null()) {
        return -EINVAL;
    }
    status(handle::<CFlush>(ring).map(|r| {
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the caller's contract; len <= RECORD_MAX.
            unsafe { core::slice::from_raw_parts(payload.cast::<u8>(), len) }
        };
        match r.write(bytes) {
            Ok(w) => where_code(w),
            Err(Overrun::Full(_)) => -ENOSPC,
            Err(Overrun::TooLong) => -EINVAL,
        }
    }))
}

/// `rseq_percpu_flush_ring_flush`: records read, `-EBUSY`, `-EINVAL`.
///
/// # Safety
/// `f` is a valid function taking `arg`.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_flush(
    ring: *mut c_void,
    f: Option<RecordFn>,
    arg: *mut c_void,
) -> c_long {
    let Some(f) = f else {
        return -EINVAL as c_long;
    };
    match handle::<CFlush>(ring) {
        Err(e) => e as c_long,
        Ok(r) => match r.flush(|w, p| {
            // SAFETY: the caller's contract; p is valid during the call.
            unsafe { f(arg, where_code(w), p.as_ptr().cast(), p.len()) }
        }) {
            Ok(st) => st.records as c_long,
            Err(e) => e as c_long,
        },
    }
}

/// `rseq_percpu_flush_ring_drain_quiescent`: records read, `-EINVAL`.
///
/// # Safety
/// `f` is a valid function taking `arg`; no thread writes to or flushes the
/// ring during the call.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_drain_quiescent(
    ring: *mut c_void,
    f: Option<RecordFn>,
    arg: *mut c_void,
) -> c_long {
    let Some(f) = f else {
        return -EINVAL as c_long;
    };
    match handle::<CFlush>(ring) {
        Err(e) => e as c_long,
        Ok(r) => {
            let each = |w: Where, p: &[u8]| {
                // SAFETY: the caller's contract; p is valid during the call.
                unsafe { f(arg, where_code(w), p.as_ptr().cast(), p.len()) }
            };
            // SAFETY: the caller's contract (no writer, no other flush).
            unsafe { r.drain_quiescent(each) }.records as c_long
        }
    }
}

/// `struct rseq_percpu_flush_stats`.
#[repr(C)]
pub struct FlushStatsC {
    records: u64,
    packets: u64,
    deferred: u64,
    installs: u64,
    lost: u64,
    free_packets: u64,
}

/// `rseq_percpu_flush_ring_stats`.
///
/// # Safety
/// `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_flush_ring_stats(
    ring: *mut c_void,
    out: *mut FlushStatsC,
) -> c_int {
    if !word_ok(out) {
        return -EINVAL;
    }
    status(handle::<CFlush>(ring).map(|r| {
        let (records, packets, deferred) = r.totals();
        // SAFETY: checked non-null and aligned.
        unsafe {
            out.write(FlushStatsC {
                records,
                packets,
                deferred,
                installs: r.installs(),
                lost: r.lost(),
                free_packets: r.free_packets() as u64,
            })
        };
        0
    }))
}

/// `rseq_percpu_flush_ring_has_packet`.
#[no_mangle]
pub extern "C" fn rseq_percpu_flush_ring_has_packet(ring: *mut c_void, cpu: c_uint) -> c_int {
    status(handle::<CFlush>(ring).and_then(|r| r.has_packet(cpu).map(c_int::from).ok_or(-EINVAL)))
}

// ---- ring buffer -----------------------------------------------------

/// `rseq_percpu_ring_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_ring_size() -> usize {
    size_of::<CRing>()
}

/// `rseq_percpu_ring_init`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_ring_init(
    mem: *mut c_void,
    size: usize,
    mode: c_int,
) -> c_int {
    if !object_ok::<CRing>(mem, size) {
        return -EINVAL;
    }
    // Shareable: buffers indexed by position, no pointer, no fence (the
    // consumer reads below the published heads).
    let mode = match init_mode(mode, true) {
        Ok((m, _)) => m,
        Err(e) => return e,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CRing::init_in_place(mem.cast(), mode) };
    0
}

/// `rseq_percpu_ring_write`: the buffer used (CPU index, or -1 for the
/// fallback buffer), `-ENOSPC` when full (counted), `-EINVAL`.
///
/// # Safety
/// `payload` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_ring_write(
    ring: *mut c_void,
    payload: *const c_void,
    len: usize,
) -> c_int {
    if len > RECORD_MAX || (len != 0 && payload.is_null()) {
        return -EINVAL;
    }
    status(handle::<CRing>(ring).map(|r| {
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the caller's contract; len <= RECORD_MAX.
            unsafe { core::slice::from_raw_parts(payload.cast::<u8>(), len) }
        };
        match r.write(bytes) {
            Ok(w) => where_code(w),
            Err(Overrun::Full(_)) => -ENOSPC,
            Err(Overrun::TooLong) => -EINVAL,
        }
    }))
}

/// Callback of `rseq_percpu_ring_consume`.
pub type RecordFn = unsafe extern "C" fn(*mut c_void, c_int, *const c_void, usize);

/// `rseq_percpu_ring_consume`: the number of records read.
///
/// # Safety
/// `f` is a valid function taking `arg`.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_ring_consume(
    ring: *mut c_void,
    f: Option<RecordFn>,
    arg: *mut c_void,
) -> c_long {
    let Some(f) = f else {
        return -EINVAL as c_long;
    };
    match handle::<CRing>(ring) {
        Err(e) => e as c_long,
        Ok(r) => r.consume(|w, p| {
            // SAFETY: the caller's contract; p is valid during the call.
            unsafe { f(arg, where_code(w), p.as_ptr().cast(), p.len()) }
        }) as c_long,
    }
}

/// `rseq_percpu_ring_lost`.
///
/// # Safety
/// `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_ring_lost(ring: *mut c_void, out: *mut u64) -> c_int {
    if !word_ok(out) {
        return -EINVAL;
    }
    status(handle::<CRing>(ring).map(|r| {
        // SAFETY: checked non-null and aligned.
        unsafe { *out = r.lost() };
        0
    }))
}

// ---- reader lock -----------------------------------------------------

/// `rseq_percpu_lock_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_lock_size() -> usize {
    size_of::<CLock>()
}

/// `rseq_percpu_lock_init`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_lock_init(
    mem: *mut c_void,
    size: usize,
    mode: c_int,
) -> c_int {
    if !object_ok::<CLock>(mem, size) {
        return -EINVAL;
    }
    // Not shareable: the writer stops readers with the private membarrier
    // command, which reaches the calling process only.
    let mode = match init_mode(mode, false) {
        Ok((m, _)) => m,
        Err(e) => return e,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CLock::init_in_place(mem.cast(), mode) };
    0
}

/// `rseq_percpu_read_lock`: where the reader was counted (slot, or -1).
#[no_mangle]
pub extern "C" fn rseq_percpu_read_lock(lock: *mut c_void) -> c_int {
    status(handle::<CLock>(lock).map(|l| where_code(l.read_lock())))
}

/// `rseq_percpu_read_unlock`.
///
/// # Safety
/// The calling thread holds a read lock of `lock`.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_read_unlock(lock: *mut c_void) -> c_int {
    status(handle::<CLock>(lock).map(|l| {
        // SAFETY: the caller's contract.
        unsafe { l.read_unlock() };
        0
    }))
}

/// `rseq_percpu_write_lock`.
#[no_mangle]
pub extern "C" fn rseq_percpu_write_lock(lock: *mut c_void) -> c_int {
    status(handle::<CLock>(lock).map(|l| {
        l.write_lock();
        0
    }))
}

/// `rseq_percpu_write_unlock`.
///
/// # Safety
/// The calling thread holds the write lock of `lock`.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_write_unlock(lock: *mut c_void) -> c_int {
    status(handle::<CLock>(lock).map(|l| {
        // SAFETY: the caller's contract.
        unsafe { l.write_unlock() };
        0
    }))
}

// ---- RCU ---------------------------------------------------------------

/// `rseq_percpu_rcu_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_rcu_size() -> usize {
    size_of::<CRcu>()
}

/// `rseq_percpu_rcu_init`.
///
/// # Safety
/// As [`rseq_percpu_counter_init`].
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_rcu_init(mem: *mut c_void, size: usize, mode: c_int) -> c_int {
    if !object_ok::<CRcu>(mem, size) {
        return -EINVAL;
    }
    // Not shareable: the grace period orders readers with the private
    // membarrier command, which reaches the calling process only.
    let mode = match init_mode(mode, false) {
        Ok((m, _)) => m,
        Err(e) => return e,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe { CRcu::init_in_place(mem.cast(), mode) };
    0
}

/// `rseq_percpu_rcu_read_lock`: the period counted in (0 or 1).
#[no_mangle]
pub extern "C" fn rseq_percpu_rcu_read_lock(rcu: *mut c_void) -> c_int {
    status(handle::<CRcu>(rcu).map(|r| r.read_lock().period() as c_int))
}

/// `rseq_percpu_rcu_read_unlock`: `-EINVAL` for a period other than 0 or 1.
///
/// # Safety
/// `period` comes from a `rseq_percpu_rcu_read_lock` of `rcu` not yet
/// matched by an unlock.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_rcu_read_unlock(rcu: *mut c_void, period: c_int) -> c_int {
    let Some(token) = usize::try_from(period)
        .ok()
        .and_then(ReadToken::from_period)
    else {
        return -EINVAL;
    };
    status(handle::<CRcu>(rcu).map(|r| {
        // SAFETY: the caller's contract.
        unsafe { r.read_unlock(token) };
        0
    }))
}

/// `rseq_percpu_rcu_synchronize`.
#[no_mangle]
pub extern "C" fn rseq_percpu_rcu_synchronize(rcu: *mut c_void) -> c_int {
    status(handle::<CRcu>(rcu).map(|r| {
        r.synchronize();
        0
    }))
}

/// `rseq_percpu_rcu_call`: `-EINVAL` for a null or misaligned head or a
/// null function.
///
/// # Safety
/// As [`Rcu::call`]: `head` stays valid and unqueued elsewhere until
/// `func` runs with it.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_rcu_call(
    rcu: *mut c_void,
    head: *mut RcuHead,
    func: Option<unsafe extern "C" fn(*mut RcuHead)>,
) -> c_int {
    if !word_ok(head) {
        return -EINVAL;
    }
    let Some(func) = func else {
        return -EINVAL;
    };
    status(handle::<CRcu>(rcu).map(|r| {
        // SAFETY: checked non-null and aligned; the caller's contract.
        unsafe { r.call(head, func) };
        0
    }))
}

/// `rseq_percpu_rcu_barrier`.
#[no_mangle]
pub extern "C" fn rseq_percpu_rcu_barrier(rcu: *mut c_void) -> c_int {
    status(handle::<CRcu>(rcu).map(|r| {
        r.barrier();
        0
    }))
}

/// `rseq_percpu_rcu_readers`: readers inside now (exact when none is
/// entering or leaving).
///
/// # Safety
/// `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_rcu_readers(rcu: *mut c_void, out: *mut u64) -> c_int {
    if !word_ok(out) {
        return -EINVAL;
    }
    status(handle::<CRcu>(rcu).map(|r| {
        // SAFETY: checked non-null and aligned.
        unsafe { *out = r.readers_inside() as u64 };
        0
    }))
}

// ---- preemption-tracking spin locks ------------------------------------

use rseq_percpu::spinlock::{Handoff, LockStats, NumaSpinLock, SpinLock};

/// `EBUSY`: trylock found the lock held.
const EBUSY: i32 = 16;
/// `EPERM`: unlock of a lock nobody holds.
const EPERM: i32 = 1;

const _: () = {
    assert!(align_of::<SpinLock>() <= OBJECT_ALIGN);
    assert!(align_of::<NumaSpinLock>() <= OBJECT_ALIGN);
    // struct rseq_percpu_lock_stats: eleven uint64_t, in this order.
    assert!(size_of::<LockStats>() == 88);
};

/// A C spin limit: negative means the default.
fn spin_limit_of(n: c_int) -> u32 {
    u32::try_from(n).unwrap_or(rseq_percpu::spinlock::DEFAULT_SPIN_LIMIT)
}

/// Copies `s` into the caller's `struct rseq_percpu_lock_stats` (at most
/// `size` bytes: a caller built against an older, shorter struct gets its
/// prefix).
fn copy_stats(s: LockStats, out: *mut c_void, size: usize) -> c_int {
    if out.is_null() || !(out as usize).is_multiple_of(align_of::<u64>()) {
        return -EINVAL;
    }
    let n = size.min(size_of::<LockStats>());
    // SAFETY: `out` is non-null, aligned and (the caller's contract)
    // writable for `size` bytes; at most that many are copied.
    unsafe {
        core::ptr::copy_nonoverlapping((&s as *const LockStats).cast::<u8>(), out.cast::<u8>(), n)
    };
    0
}

/// `rseq_percpu_spinlock_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_spinlock_size() -> usize {
    size_of::<SpinLock>()
}

/// `rseq_percpu_spinlock_init`: `spin_limit` < 0 for the default.
///
/// # Safety
/// `mem` is writable for `size` bytes and not in use as a lock.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_spinlock_init(
    mem: *mut c_void,
    size: usize,
    spin_limit: c_int,
) -> c_int {
    if !object_ok::<SpinLock>(mem, size) {
        return -EINVAL;
    }
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe {
        mem.cast::<SpinLock>()
            .write(SpinLock::with_spin_limit(spin_limit_of(spin_limit)))
    };
    0
}

/// `rseq_percpu_spinlock_lock`.
#[no_mangle]
pub extern "C" fn rseq_percpu_spinlock_lock(lock: *mut c_void) -> c_int {
    status(handle::<SpinLock>(lock).map(|l| {
        l.lock_raw();
        0
    }))
}

/// `rseq_percpu_spinlock_trylock`: 0 (taken) or `-EBUSY`.
#[no_mangle]
pub extern "C" fn rseq_percpu_spinlock_trylock(lock: *mut c_void) -> c_int {
    status(handle::<SpinLock>(lock).map(|l| if l.try_lock_raw() { 0 } else { -EBUSY }))
}

/// `rseq_percpu_spinlock_unlock`: `-EPERM` if nobody holds the lock.
///
/// # Safety
/// The calling thread holds `lock` (when someone does).
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_spinlock_unlock(lock: *mut c_void) -> c_int {
    status(handle::<SpinLock>(lock).map(|l| {
        if !l.is_locked() {
            return -EPERM;
        }
        // SAFETY: the caller's contract.
        unsafe { l.unlock_raw() };
        0
    }))
}

/// `rseq_percpu_spinlock_stats`.
///
/// # Safety
/// `out` is writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_spinlock_stats(
    lock: *mut c_void,
    out: *mut c_void,
    size: usize,
) -> c_int {
    status(handle::<SpinLock>(lock).map(|l| copy_stats(l.stats(), out, size)))
}

/// `rseq_percpu_numa_lock_size`.
#[no_mangle]
pub extern "C" fn rseq_percpu_numa_lock_size() -> usize {
    size_of::<NumaSpinLock>()
}

/// `rseq_percpu_numa_lock_init`: `spin_limit` < 0 for the default, `bound`
/// <= 0 for the default.
///
/// # Safety
/// `mem` is writable for `size` bytes and not in use as a lock.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_numa_lock_init(
    mem: *mut c_void,
    size: usize,
    spin_limit: c_int,
    bound: c_int,
) -> c_int {
    if !object_ok::<NumaSpinLock>(mem, size) {
        return -EINVAL;
    }
    let bound = match u32::try_from(bound) {
        Ok(b) if b > 0 => b,
        _ => rseq_percpu::spinlock::DEFAULT_HANDOFF_BOUND,
    };
    // SAFETY: checked size and alignment; the caller's contract.
    unsafe {
        mem.cast::<NumaSpinLock>()
            .write(NumaSpinLock::with_params(spin_limit_of(spin_limit), bound))
    };
    0
}

fn handoff_code(h: Handoff) -> c_int {
    h as u32 as c_int
}

/// `rseq_percpu_numa_lock`: how the lock came (`RSEQ_PERCPU_HANDOFF_*`).
#[no_mangle]
pub extern "C" fn rseq_percpu_numa_lock(lock: *mut c_void) -> c_int {
    status(
        handle::<NumaSpinLock>(lock)
            .map(|l| handoff_code(l.lock_as_raw(rseq_percpu::spinlock::current_node()))),
    )
}

/// `rseq_percpu_numa_lock_as`: as node `node` (>= 0).
#[no_mangle]
pub extern "C" fn rseq_percpu_numa_lock_as(lock: *mut c_void, node: c_int) -> c_int {
    let Ok(node) = u32::try_from(node) else {
        return -EINVAL;
    };
    status(handle::<NumaSpinLock>(lock).map(|l| handoff_code(l.lock_as_raw(node))))
}

/// `rseq_percpu_numa_trylock`: 0 (taken) or `-EBUSY` (held, or handed to
/// a waiter).
#[no_mangle]
pub extern "C" fn rseq_percpu_numa_trylock(lock: *mut c_void) -> c_int {
    status(handle::<NumaSpinLock>(lock).map(|l| {
        if l.try_lock_as_raw(rseq_percpu::spinlock::current_node()) {
            0
        } else {
            -EBUSY
        }
    }))
}

/// `rseq_percpu_numa_unlock`: `-EPERM` if nobody holds the lock.
///
/// # Safety
/// The calling thread holds `lock` (when someone does).
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_numa_unlock(lock: *mut c_void) -> c_int {
    status(handle::<NumaSpinLock>(lock).map(|l| {
        if !l.is_locked() {
            return -EPERM;
        }
        // SAFETY: the caller's contract.
        unsafe { l.unlock_raw() };
        0
    }))
}

/// `rseq_percpu_numa_waiters`: waiters of node `node` now.
#[no_mangle]
pub extern "C" fn rseq_percpu_numa_waiters(lock: *mut c_void, node: c_int) -> c_int {
    let Ok(node) = u32::try_from(node) else {
        return -EINVAL;
    };
    status(handle::<NumaSpinLock>(lock).map(|l| l.waiters(node) as c_int))
}

/// `rseq_percpu_numa_stats`.
///
/// # Safety
/// `out` is writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn rseq_percpu_numa_stats(
    lock: *mut c_void,
    out: *mut c_void,
    size: usize,
) -> c_int {
    status(handle::<NumaSpinLock>(lock).map(|l| copy_stats(l.stats(), out, size)))
}
