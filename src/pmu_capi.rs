//! The C API of `headers/rseq-pmu.h`, over the `rseq-pmu` crate: a set of
//! self-monitoring events, one per PMU type, in memory the caller provides
//! (`struct rseq_pmu`, [`rseq_pmu::SET_SIZE`] bytes, aligned 8), and the
//! read of the current CPU's counter in one restartable sequence.
//!
//! Every entry checks its pointers (null, alignment) and arguments and
//! returns a negative errno for bad input instead of touching memory.

use core::ffi::{c_char, c_int, c_uint, CStr};
use core::mem::align_of;
use rseq_abi::errno::EINVAL;
use rseq_pmu::{Event, PmuSet, PmuType, MAX_TYPES};

/// `ERANGE`
const ERANGE: i32 = 34;
/// `ENODEV`
const ENODEV: i32 = 19;

/// `struct rseq_pmu_reading` of the header.
#[repr(C)]
pub struct CReading {
    /// The event's count since it was opened.
    pub count: u64,
    /// The CPU whose PMU type was read.
    pub cpu: u32,
    /// The set's entry of that type.
    pub entry: u32,
    /// The entry's perf type.
    pub pmu_type: u32,
    /// `RSEQ_PMU_PATH_*` ([`rseq_pmu::Path`] as a number).
    pub path: u32,
    /// Restarts of the sequence during this read.
    pub restarts: u32,
    /// The page's `index` read with (user path), else 0.
    pub index: u32,
}

/// `struct rseq_pmu_type` of the header.
#[repr(C)]
pub struct CType {
    /// The perf type.
    pub pmu_type: u32,
    /// A NUL-terminated CPU list (`"0-3,8"`), or NULL for every CPU no
    /// other entry names.
    pub cpus: *const c_char,
}

fn set_mut<'a>(set: *mut PmuSet) -> Result<&'a mut PmuSet, c_int> {
    if set.is_null() || !set.is_aligned() {
        return Err(-EINVAL);
    }
    // SAFETY: non-null and aligned; the caller gives RSEQ_PMU_SIZE bytes
    // it owns (the header's contract), and every bit pattern is a valid
    // PmuSet (integers and arrays of them).
    Ok(unsafe { &mut *set })
}

fn set_ref<'a>(set: *const PmuSet) -> Result<&'a PmuSet, c_int> {
    if set.is_null() || !set.is_aligned() {
        return Err(-EINVAL);
    }
    // SAFETY: as set_mut, read only.
    Ok(unsafe { &*set })
}

fn event(kind: c_int, config: u64) -> Result<Event, c_int> {
    match kind {
        0 => Ok(Event::Hardware(config)),
        1 => Ok(Event::Raw(config)),
        2 => Ok(Event::Software(config)),
        _ => Err(-EINVAL),
    }
}

/// Opens `kind`/`config` on every CPU PMU type for the calling thread.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_open(set: *mut PmuSet, kind: c_int, config: u64) -> c_int {
    let r = set_mut(set).and_then(|s| {
        let e = event(kind, config)?;
        s.open(e).map_err(|e| -e)
    });
    r.err().unwrap_or(0)
}

/// Opens `kind`/`config` once per entry of `types[0..n]`.
///
/// # Safety
/// `set` as [`rseq_pmu_open`]'s; `types` points to `n` entries whose `cpus` are NULL or NUL-terminated
/// strings (checked: NULL `types` with `n` > 0 is -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_open_types(
    set: *mut PmuSet,
    kind: c_int,
    config: u64,
    types: *const CType,
    n: c_uint,
) -> c_int {
    let r = set_mut(set).and_then(|s| {
        let e = event(kind, config)?;
        if n == 0 || types.is_null() || !types.is_aligned() {
            return Err(-EINVAL);
        }
        if n as usize > MAX_TYPES {
            return Err(-ERANGE);
        }
        let mut list = [PmuType {
            pmu_type: 0,
            cpus: None,
        }; MAX_TYPES];
        for (i, t) in list.iter_mut().enumerate().take(n as usize) {
            // SAFETY: the caller's n entries.
            let c = unsafe { &*types.add(i) };
            t.pmu_type = c.pmu_type;
            t.cpus = if c.cpus.is_null() {
                None
            } else {
                // SAFETY: a NUL-terminated string (the caller's contract).
                Some(unsafe { CStr::from_ptr(c.cpus) }.to_bytes())
            };
        }
        s.open_types(e, list.get(..n as usize).unwrap_or(&[]))
            .map_err(|e| -e)
    });
    r.err().unwrap_or(0)
}

/// Reads the current CPU's counter into `*out`.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL). `out` is NULL
/// (-EINVAL) or valid for a write of its type.
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_read(set: *mut PmuSet, out: *mut CReading) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return -EINVAL;
    }
    match set_mut(set).and_then(|s| s.read().map_err(|e| -e)) {
        Ok(r) => {
            // SAFETY: non-null, aligned, the caller's.
            unsafe {
                out.write(CReading {
                    count: r.count,
                    cpu: r.cpu,
                    entry: r.entry,
                    pmu_type: r.pmu_type,
                    path: r.path as u32,
                    restarts: r.restarts,
                    index: r.index,
                })
            };
            0
        }
        Err(e) => e,
    }
}

/// `read(2)` of entry `entry`'s event into `*count`.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL). `count` is NULL
/// (-EINVAL) or valid for a write of its type.
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_read_entry(
    set: *const PmuSet,
    entry: c_uint,
    count: *mut u64,
) -> c_int {
    if count.is_null() || !count.is_aligned() {
        return -EINVAL;
    }
    match set_ref(set).and_then(|s| s.read_entry(entry).map_err(|e| -e)) {
        Ok(v) => {
            // SAFETY: non-null, aligned, the caller's.
            unsafe { count.write(v) };
            0
        }
        Err(e) => e,
    }
}

/// The number of entries (0 for a closed set) or -EINVAL.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_entries(set: *const PmuSet) -> c_int {
    set_ref(set).map(|s| s.len() as c_int).unwrap_or_else(|e| e)
}

/// Entry `entry`'s perf type, or -EINVAL.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_type(set: *const PmuSet, entry: c_uint) -> c_int {
    match set_ref(set) {
        Ok(s) => s.pmu_type(entry).map_or(-EINVAL, |t| t as c_int),
        Err(e) => e,
    }
}

/// The entry serving `cpu`, or -ENODEV (none), -EINVAL.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_entry_of_cpu(set: *const PmuSet, cpu: c_uint) -> c_int {
    match set_ref(set) {
        Ok(s) => s.entry_of_cpu(cpu).map_or(-ENODEV, |e| e as c_int),
        Err(e) => e,
    }
}

/// Restarts of the read's sequence over the set's life, or -EINVAL.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_restarts(set: *const PmuSet) -> i64 {
    match set_ref(set) {
        Ok(s) => s.restarts() as i64,
        Err(e) => e as i64,
    }
}

/// Test hook: the next `traps` runs of the read's sequence raise SIGTRAP
/// inside the section.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_inject_traps(set: *mut PmuSet, traps: c_uint) -> c_int {
    set_mut(set)
        .map(|s| s.inject_traps(traps))
        .err()
        .unwrap_or(0)
}

/// Closes the set's events.
///
/// # Safety
/// `set` is NULL (-EINVAL), or points to `RSEQ_PMU_SIZE` bytes the caller
/// owns and no other thread uses meanwhile (misaligned: -EINVAL).
#[no_mangle]
pub unsafe extern "C" fn rseq_pmu_close(set: *mut PmuSet) -> c_int {
    set_mut(set)
        .and_then(|s| s.close().map_err(|e| -e))
        .err()
        .unwrap_or(0)
}

const _: () = assert!(align_of::<PmuSet>() == 8);
