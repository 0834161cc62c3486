//! Self-monitoring PMU counters read from user space, per PMU type, inside
//! one restartable sequence.
//!
//! On a heterogeneous machine (big.LITTLE arm64, Intel hybrid) each kind of
//! CPU has its own PMU, with its own perf type
//! (`/sys/bus/event_source/devices/*/type`) and CPU list (`cpus`). A
//! [`PmuSet`] opens, for the calling thread, one per-task event of the same
//! kind on each PMU type and maps each event's `perf_event_mmap_page`. A
//! [`PmuSet::read`] then reads the counter of the PMU type of the CPU the
//! thread runs on, without a system call: one restartable sequence keyed by
//! `cpu_id` picks the CPU's entry, follows the page's seqlock protocol
//! (`lock`, `index`, `offset`, `pmc_width`, `cap_user_rdpmc`) and reads the
//! hardware counter (`mrs` on aarch64, `rdpmc` on x86-64), so that a
//! migration to a CPU of another type between the choice and the counter
//! read restarts the read instead of mixing two PMUs (see [`arch`]).
//!
//! Where the counter cannot be read from user space the read falls back to
//! `read(2)` of the same event, and [`Reading::path`] says why ([`Path`]):
//! user access off (aarch64's `/proc/sys/kernel/perf_user_access` = 0, x86's
//! `rdpmc` file 0), no hardware counter behind the event (a software event,
//! or one not scheduled now), no rseq area, or an architecture without the
//! sequence (riscv64). Both paths give the same count: the event's value
//! since it was opened (`offset` + the counter is what `read(2)` returns).
//!
//! Each entry's event counts only while the thread runs on a CPU of that
//! entry's type: the current type's count is what a read gives; the
//! thread's total is the sum of [`PmuSet::read_entry`] over the entries.
//!
//! # Example
//!
//! ```no_run
//! use rseq_pmu::{Event, Path, PmuSet, PERF_COUNT_HW_CPU_CYCLES};
//!
//! let mut set = Box::new(PmuSet::new());
//! set.open(Event::Hardware(PERF_COUNT_HW_CPU_CYCLES)).expect("no CPU PMU");
//! let before = set.read().unwrap();
//! // ... the code measured ...
//! let after = set.read().unwrap();
//! if before.entry == after.entry {
//!     println!("{} cycles on PMU type {}", after.count - before.count, after.pmu_type);
//! }
//! assert!(matches!(after.path, Path::User | Path::NoAccess | Path::NoIndex | Path::NoRseq | Path::Unsupported | Path::Software));
//! ```
//!
//! A set belongs to the thread that opened it (the events are per task):
//! another thread's read is `EPERM`, and a forked child must not read its
//! parent's set (the pages describe the parent's counters).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[allow(unsafe_code)]
pub mod arch;
#[allow(unsafe_code)]
mod sys;

use arch::SequenceOutput;

/// The most PMU types (entries) of one set.
pub const MAX_TYPES: usize = 8;
/// CPUs 0 to `MAX_CPUS - 1` can be mapped to an entry; a CPU list naming a
/// higher CPU is `ERANGE` at open.
pub const MAX_CPUS: usize = 4096;
/// Size in bytes of [`PmuSet`] (`RSEQ_PMU_SIZE` in `headers/rseq-pmu.h`).
pub const SET_SIZE: usize = 4256;
const NO_ENTRY: u8 = 0xff;
const MAGIC: u64 = 0x7273_6571_706d_7531;

/// `PERF_TYPE_HARDWARE`
pub const PERF_TYPE_HARDWARE: u32 = 0;
/// `PERF_TYPE_SOFTWARE`
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_HW_CPU_CYCLES`
pub const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
/// `PERF_COUNT_HW_INSTRUCTIONS`
pub const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
/// `PERF_COUNT_SW_TASK_CLOCK`
pub const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;

const EIO: i32 = 5;
const EBADF: i32 = 9;
const ENODEV: i32 = 19;
const ERANGE: i32 = 34;
use rseq_abi::errno::{EBUSY, EINVAL, ENOENT, EOPNOTSUPP, EPERM};

/// The event a set opens on each PMU type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A generic hardware event (`PERF_COUNT_HW_*`), on each type: plain
    /// `PERF_TYPE_HARDWARE` in a set of one type, and the extended form
    /// (`config | type << 32`, Linux 6.0 on x86 hybrid, 6.6 on arm64)
    /// in a set of several.
    Hardware(u64),
    /// A raw event number of the PMU (`attr.type` = each entry's type, so
    /// the number must mean the same event on every type of the set).
    Raw(u64),
    /// A software event (`PERF_COUNT_SW_*`): one entry for every CPU. It
    /// has no hardware counter, so every read is `read(2)` with
    /// [`Path::Software`].
    Software(u64),
}

/// How a read got its count.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// From user space: the counter register inside the sequence.
    User = 0,
    /// `read(2)`: user access is off for the event (`cap_user_rdpmc` 0).
    NoAccess = 1,
    /// `read(2)`: the event is on no hardware counter (`index` 0): a
    /// software event, or one the kernel has not scheduled now.
    NoIndex = 2,
    /// `read(2)`: the thread has no registered rseq area.
    NoRseq = 3,
    /// `read(2)`: this architecture (or this counter) has no user read here.
    Unsupported = 4,
    /// `read(2)`: a software event, which never has a hardware counter
    /// (its page's `index` is 0 and `cap_user_rdpmc` clear).
    Software = 5,
}

/// One read of the current CPU's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The event's count since it was opened.
    pub count: u64,
    /// The CPU whose PMU type was chosen (`cpu_id` inside the sequence).
    pub cpu: u32,
    /// The set's entry of that type.
    pub entry: u32,
    /// The entry's perf PMU type.
    pub pmu_type: u32,
    /// How the count was read.
    pub path: Path,
    /// How many times the sequence was restarted during this read.
    pub restarts: u32,
    /// The page's `index` the counter was read with ([`Path::User`]; 0
    /// otherwise): the hardware counter plus one (aarch64: 32 is
    /// `PMCCNTR_EL0`, 1 to 31 `PMEVCNTR0_EL0` to `PMEVCNTR30_EL0`; x86-64:
    /// `rdpmc`'s `ecx` plus one).
    pub index: u32,
}

/// One PMU type of a set: its perf type and the CPUs it covers, a CPU list
/// as sysfs writes it (`"0-3,8"`), `None` for every CPU no other entry names.
#[derive(Debug, Clone, Copy)]
pub struct PmuType<'a> {
    /// The perf type (`/sys/bus/event_source/devices/NAME/type`).
    pub pmu_type: u32,
    /// Its CPUs (`/sys/bus/event_source/devices/NAME/cpus`).
    pub cpus: Option<&'a [u8]>,
}

/// The events of one thread, one per PMU type, and the CPU-to-type map the
/// read's sequence uses. `#[repr(C)]` and [`SET_SIZE`] bytes: the C API's
/// `struct rseq_pmu` is this object.
#[repr(C)]
pub struct PmuSet {
    /// Each entry's mapped `perf_event_mmap_page` (0: none). First, and
    /// next to the map, for the sequence's addressing.
    pages: [usize; MAX_TYPES],
    /// Entry of each CPU, [`NO_ENTRY`] for none.
    cpu_entry: [u8; MAX_CPUS],
    /// Test hook: traps left to raise inside the sequence.
    inject_traps: u32,
    len: u32,
    fds: [i32; MAX_TYPES],
    types: [u32; MAX_TYPES],
    /// The opening thread's thread pointer: reads from other threads are
    /// refused without a system call.
    owner_tp: usize,
    restarts: u64,
    magic: u64,
}

const _: () = assert!(core::mem::size_of::<PmuSet>() == SET_SIZE);
const _: () = assert!(MAX_TYPES < NO_ENTRY as usize);

/// Calls `f` for every CPU of a sysfs CPU list (`"0-3,8\n"`; empty: none).
/// A malformed list is `EINVAL`; `f`'s error stops the walk.
pub fn parse_cpu_list(list: &[u8], mut f: impl FnMut(u32) -> Result<(), i32>) -> Result<(), i32> {
    let end = list
        .iter()
        .rposition(|c| !c.is_ascii_whitespace() && *c != 0)
        .map_or(0, |p| p + 1);
    let list = list.get(..end).unwrap_or(&[]);
    if list.is_empty() {
        return Ok(());
    }
    for range in list.split(|c| *c == b',') {
        let mut ends = range.splitn(2, |c| *c == b'-');
        let lo = parse_u32(ends.next().unwrap_or(&[]))?;
        let hi = match ends.next() {
            Some(h) => parse_u32(h)?,
            None => lo,
        };
        if hi < lo {
            return Err(EINVAL);
        }
        for cpu in lo..=hi {
            f(cpu)?;
        }
    }
    Ok(())
}

/// A decimal `u32` (surrounding whitespace allowed), else `EINVAL`.
fn parse_u32(s: &[u8]) -> Result<u32, i32> {
    let s = s.trim_ascii();
    if s.is_empty() || s.len() > 10 {
        return Err(EINVAL);
    }
    let mut v: u64 = 0;
    for c in s {
        if !c.is_ascii_digit() {
            return Err(EINVAL);
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).map_err(|_| EINVAL)
}

/// The count a committed sequence read: `offset` plus the counter
/// sign-extended from `pmc_width` bits (perf's self-monitoring rule; a
/// width of 0 or above 64 is taken as 64).
pub fn counter_value(pmc: u64, offset: u64, width: u32) -> u64 {
    let width = if width == 0 || width > 64 { 64 } else { width };
    let shift = 64 - width;
    let pmc = (((pmc << shift) as i64) >> shift) as u64;
    offset.wrapping_add(pmc)
}

/// The CPU PMUs of sysfs: up to [`MAX_TYPES`] types, sorted by type.
struct Scanned {
    n: usize,
    list: [ScannedType; MAX_TYPES],
}

/// One CPU PMU of sysfs.
#[derive(Clone, Copy)]
struct ScannedType {
    pmu_type: u32,
    cpus: [u8; 512],
    cpus_len: usize,
    /// x86's `cpu` PMU, which has no `cpus` file: every CPU.
    all: bool,
}

const DEVICES: &[u8] = b"/sys/bus/event_source/devices/";

/// `DEVICES` + `name` + `/` + `file` + NUL into `buf`.
fn device_path<'a>(buf: &'a mut [u8; 256], name: &[u8], file: &[u8]) -> Result<&'a [u8], i32> {
    let len = DEVICES.len() + name.len() + 1 + file.len() + 1;
    if len > buf.len() {
        return Err(ERANGE);
    }
    let bytes = DEVICES
        .iter()
        .chain(name)
        .chain(b"/")
        .chain(file)
        .chain(b"\0");
    for (dst, src) in buf.iter_mut().zip(bytes) {
        *dst = *src;
    }
    buf.get(..len).ok_or(ERANGE)
}

/// Reads the CPU PMUs from sysfs: every device with a `cpus` file (arm64's
/// PMUs, x86 hybrid's `cpu_core` and `cpu_atom`), and x86's `cpu` (every
/// CPU). Uncore and software PMUs have none of these.
fn scan_sysfs(out: &mut Scanned) -> Result<(), i32> {
    let mut dir_path = [0u8; 256];
    let dir = sys::open_read(device_path(&mut dir_path, b"", b"")?)?;
    let mut buf = [0u8; 2048];
    let mut r = Ok(());
    'dir: loop {
        let n = match sys::getdents64(dir, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                r = Err(e);
                break;
            }
        };
        let mut at = 0;
        while at + 19 < n {
            // struct linux_dirent64: d_ino, d_off (8 bytes each), d_reclen
            // (u16), d_type (u8), d_name.
            let reclen = match buf.get(at + 16..at + 18) {
                Some(&[lo, hi]) => u16::from_ne_bytes([lo, hi]) as usize,
                _ => 0,
            };
            if reclen == 0 {
                break;
            }
            let name_all = buf.get(at + 19..(at + reclen).min(n)).unwrap_or(&[]);
            let name = &name_all[..name_all
                .iter()
                .position(|c| *c == 0)
                .unwrap_or(name_all.len())];
            at += reclen;
            if name.first() == Some(&b'.') {
                continue;
            }
            let Some(found) = out.list.get_mut(out.n) else {
                r = Err(ERANGE);
                break 'dir;
            };
            let mut path = [0u8; 256];
            let Ok(p) = device_path(&mut path, name, b"cpus") else {
                continue;
            };
            match sys::read_file(p, &mut found.cpus) {
                Ok(len) => {
                    found.cpus_len = len;
                    found.all = false;
                }
                Err(ENOENT) if name == b"cpu" => found.all = true,
                Err(_) => continue,
            }
            let Ok(p) = device_path(&mut path, name, b"type") else {
                continue;
            };
            let mut t = [0u8; 16];
            let Ok(len) = sys::read_file(p, &mut t) else {
                continue;
            };
            let Ok(ty) = parse_u32(t.get(..len).unwrap_or(&[])) else {
                continue;
            };
            found.pmu_type = ty;
            out.n += 1;
        }
    }
    sys::close(dir);
    r?;
    if out.n == 0 {
        Err(ENODEV)
    } else {
        Ok(())
    }
}

/// `/proc/sys/kernel/perf_user_access` is 1 (aarch64's switch for user
/// counter access; absent: no).
fn perf_user_access() -> bool {
    let mut b = [0u8; 16];
    matches!(sys::read_file(b"/proc/sys/kernel/perf_user_access\0", &mut b),
             Ok(n) if parse_u32(b.get(..n).unwrap_or(&[])) == Ok(1))
}

impl PmuSet {
    /// A closed set (open it with [`PmuSet::open`] or [`PmuSet::open_types`]).
    pub const fn new() -> Self {
        PmuSet {
            pages: [0; MAX_TYPES],
            cpu_entry: [NO_ENTRY; MAX_CPUS],
            inject_traps: 0,
            len: 0,
            fds: [-1; MAX_TYPES],
            types: [0; MAX_TYPES],
            owner_tp: 0,
            restarts: 0,
            magic: 0,
        }
    }

    /// Whether the set is open.
    pub fn is_open(&self) -> bool {
        self.magic == MAGIC
    }

    /// Opens `event` for the calling thread on every CPU PMU type of
    /// `/sys/bus/event_source/devices` (a [`Event::Software`] event: once,
    /// for every CPU). Errors (errno values): `EBUSY` (already open),
    /// `ENODEV` (no CPU PMU), `ERANGE` (more than [`MAX_TYPES`] types, a
    /// CPU at or beyond [`MAX_CPUS`]), `EINVAL` (a malformed CPU list, or
    /// two types naming one CPU), and perf_event_open(2)'s (`ENOENT`:
    /// the PMU has no such event, `EACCES`: `perf_event_paranoid`).
    pub fn open(&mut self, event: Event) -> Result<(), i32> {
        if self.is_open() {
            return Err(EBUSY);
        }
        if let Event::Software(_) = event {
            let all = [PmuType {
                pmu_type: PERF_TYPE_SOFTWARE,
                cpus: None,
            }];
            return self.open_types(event, &all);
        }
        let none = ScannedType {
            pmu_type: 0,
            cpus: [0; 512],
            cpus_len: 0,
            all: false,
        };
        let mut s = Scanned {
            n: 0,
            list: [none; MAX_TYPES],
        };
        scan_sysfs(&mut s)?;
        let mut types = [PmuType {
            pmu_type: 0,
            cpus: None,
        }; MAX_TYPES];
        // In the order of their types (each PMU has its own), so that
        // entries are numbered the same in every run.
        let found = s.list.get(..s.n).unwrap_or(&[]);
        let mut last = None;
        for t in types.iter_mut() {
            let Some(next) = found
                .iter()
                .filter(|f| last.is_none_or(|l| f.pmu_type > l))
                .min_by_key(|f| f.pmu_type)
            else {
                break;
            };
            last = Some(next.pmu_type);
            t.pmu_type = next.pmu_type;
            t.cpus = if next.all {
                None
            } else {
                Some(next.cpus.get(..next.cpus_len).unwrap_or(&[]))
            };
        }
        self.open_types(event, types.get(..s.n).unwrap_or(&[]))
    }

    /// Opens `event` for the calling thread once per entry of `types`
    /// (1 to [`MAX_TYPES`]); entry `i` serves the CPUs of `types[i].cpus`.
    /// The same type may appear twice (two events on one PMU, for CPUs
    /// split between them). Errors as [`PmuSet::open`].
    pub fn open_types(&mut self, event: Event, types: &[PmuType<'_>]) -> Result<(), i32> {
        if self.is_open() {
            return Err(EBUSY);
        }
        if types.is_empty() || types.len() > MAX_TYPES {
            return Err(if types.is_empty() { EINVAL } else { ERANGE });
        }
        self.reset();
        for (i, t) in types.iter().enumerate() {
            if let Some(list) = t.cpus {
                let map = &mut self.cpu_entry;
                parse_cpu_list(list, |cpu| {
                    let slot = map.get_mut(cpu as usize).ok_or(ERANGE)?;
                    if *slot != NO_ENTRY {
                        return Err(EINVAL);
                    }
                    *slot = i as u8;
                    Ok(())
                })?;
            }
        }
        // Entries without a list take every CPU no list named.
        for (i, t) in types.iter().enumerate() {
            if t.cpus.is_none() {
                for slot in self.cpu_entry.iter_mut().filter(|s| **s == NO_ENTRY) {
                    *slot = i as u8;
                }
            }
        }
        let user_read = !arch::NEEDS_PERF_USER_ACCESS || perf_user_access();
        let slots = self
            .pages
            .iter_mut()
            .zip(self.fds.iter_mut())
            .zip(self.types.iter_mut());
        let mut failed = None;
        for (t, ((page, fd), ty)) in types.iter().zip(slots) {
            let (kind, config) = match event {
                Event::Hardware(id) if types.len() == 1 => (PERF_TYPE_HARDWARE, id),
                Event::Hardware(id) => (PERF_TYPE_HARDWARE, id | (u64::from(t.pmu_type) << 32)),
                Event::Raw(c) => (t.pmu_type, c),
                Event::Software(id) => (PERF_TYPE_SOFTWARE, id),
            };
            let hardware = !matches!(event, Event::Software(_));
            let mut attr = sys::PerfEventAttr {
                kind,
                size: core::mem::size_of::<sys::PerfEventAttr>() as u32,
                config,
                flags: sys::ATTR_EXCLUDE_KERNEL | sys::ATTR_EXCLUDE_HV,
                config1: if hardware && user_read {
                    arch::CONFIG1_USER_READ_64BIT
                } else {
                    0
                },
                ..Default::default()
            };
            let mut r = sys::perf_event_open(&attr);
            // No 64-bit counter for user access (aarch64 without long
            // counters, an event off the cycle counter): 32 bits, which
            // pmc_width says.
            if r == Err(EOPNOTSUPP) && attr.config1 != arch::CONFIG1_USER_READ {
                attr.config1 = arch::CONFIG1_USER_READ;
                r = sys::perf_event_open(&attr);
            }
            let opened = r.and_then(|f| {
                *fd = f;
                sys::map_event_page(f)
            });
            match opened {
                Ok(p) => *page = p,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            *ty = if hardware {
                t.pmu_type
            } else {
                PERF_TYPE_SOFTWARE
            };
        }
        self.len = types.len() as u32;
        if let Some(e) = failed {
            self.release();
            return Err(e);
        }
        self.owner_tp = rseq_abi::arch::thread_pointer() as usize;
        self.magic = MAGIC;
        Ok(())
    }

    /// Unmaps and closes every entry; the set is closed afterwards.
    fn release(&mut self) {
        for (&page, &fd) in self
            .pages
            .iter()
            .zip(self.fds.iter())
            .take(self.len as usize)
        {
            if page != 0 {
                sys::unmap_event_page(page);
            }
            if fd >= 0 {
                sys::close(fd);
            }
        }
        self.reset();
    }

    /// Back to [`PmuSet::new`]'s state without dropping the old value
    /// (whose `Drop` would release the entries a second time).
    fn reset(&mut self) {
        core::mem::forget(core::mem::take(self));
    }

    /// Closes the events. `EBADF` if the set is not open.
    pub fn close(&mut self) -> Result<(), i32> {
        if !self.is_open() {
            return Err(EBADF);
        }
        self.release();
        Ok(())
    }

    fn check_reader(&self) -> Result<(), i32> {
        if !self.is_open() {
            return Err(EBADF);
        }
        if rseq_abi::arch::thread_pointer() as usize != self.owner_tp {
            return Err(EPERM);
        }
        Ok(())
    }

    /// The current CPU's counter: the event of its PMU type, read in one
    /// restartable sequence (else by `read(2)`, [`Reading::path`] says
    /// why). Errors: `EBADF` (not open), `EPERM` (not the opening thread),
    /// `ENODEV` (no entry covers the current CPU), read(2)'s.
    #[allow(unsafe_code)]
    pub fn read(&mut self) -> Result<Reading, i32> {
        self.check_reader()?;
        let area = rseq_registration::current_area();
        let mut restarts = 0u32;
        loop {
            let out = match area {
                // SAFETY: the area is this thread's registered one; pages
                // holds a live mapping for every entry the map names (the
                // set is open), map and inject are this set's fields.
                Some(a) => unsafe {
                    arch::read_sequence(
                        a.as_ptr(),
                        self.pages.as_ptr(),
                        self.cpu_entry.as_ptr(),
                        core::ptr::addr_of_mut!(self.inject_traps),
                    )
                },
                None => SequenceOutput {
                    index: 0,
                    status: arch::STATUS_NO_RSEQ,
                    cpu: 0,
                    entry: 0,
                    pmc: 0,
                    offset: 0,
                    width: 0,
                },
            };
            let path = match out.status {
                arch::STATUS_USER => {
                    return Ok(Reading {
                        count: counter_value(out.pmc, out.offset, out.width),
                        cpu: out.cpu,
                        entry: out.entry,
                        pmu_type: self.type_of(out.entry),
                        path: Path::User,
                        restarts,
                        index: out.index,
                    })
                }
                arch::STATUS_ABORTED => {
                    restarts = restarts.saturating_add(1);
                    self.restarts = self.restarts.wrapping_add(1);
                    continue;
                }
                arch::STATUS_PAGE_CHANGED => continue,
                arch::STATUS_NO_EVENT => return Err(ENODEV),
                arch::STATUS_NO_ACCESS => Path::NoAccess,
                arch::STATUS_NO_INDEX => Path::NoIndex,
                arch::STATUS_NO_RSEQ => Path::NoRseq,
                _ => Path::Unsupported,
            };
            // The sequence chose the entry when it got that far; otherwise
            // the CPU now (the count of a per-task event is the same
            // whichever CPU reads it).
            let (cpu, entry) = if matches!(path, Path::NoAccess | Path::NoIndex)
                || (path == Path::Unsupported && cfg!(target_arch = "aarch64"))
            {
                (out.cpu, out.entry)
            } else {
                let cpu = rseq_sched_getcpu::current_cpu().map_err(|e| e.abs())?;
                let entry = *self.cpu_entry.get(cpu as usize).unwrap_or(&NO_ENTRY);
                if entry == NO_ENTRY {
                    return Err(ENODEV);
                }
                (cpu, u32::from(entry))
            };
            let path = if self.type_of(entry) == PERF_TYPE_SOFTWARE {
                Path::Software
            } else {
                path
            };
            return Ok(Reading {
                count: self.read_entry(entry)?,
                cpu,
                entry,
                pmu_type: self.type_of(entry),
                path,
                restarts,
                index: 0,
            });
        }
    }

    /// `read(2)` of entry `entry`'s event: its count since it was opened,
    /// whatever CPU the thread is on. Errors: `EBADF`, `EINVAL` (no such
    /// entry), read(2)'s.
    pub fn read_entry(&self, entry: u32) -> Result<u64, i32> {
        if !self.is_open() {
            return Err(EBADF);
        }
        if entry >= self.len {
            return Err(EINVAL);
        }
        let mut v = [0u8; 8];
        let fd = *self.fds.get(entry as usize).ok_or(EINVAL)?;
        match sys::read(fd, &mut v)? {
            8 => Ok(u64::from_ne_bytes(v)),
            _ => Err(EIO),
        }
    }

    /// The number of entries (PMU types), 0 when closed.
    pub fn len(&self) -> u32 {
        if self.is_open() {
            self.len
        } else {
            0
        }
    }

    /// Whether the set has no entry (it is closed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn type_of(&self, entry: u32) -> u32 {
        self.types.get(entry as usize).copied().unwrap_or(0)
    }

    /// Entry `entry`'s perf type (`PERF_TYPE_SOFTWARE` for a software event).
    pub fn pmu_type(&self, entry: u32) -> Option<u32> {
        (entry < self.len()).then(|| self.type_of(entry))
    }

    /// Entry `entry`'s event descriptor.
    pub fn fd(&self, entry: u32) -> Option<i32> {
        (entry < self.len()).then(|| self.fds.get(entry as usize).copied().unwrap_or(-1))
    }

    /// The entry serving `cpu`, if any.
    pub fn entry_of_cpu(&self, cpu: u32) -> Option<u32> {
        if !self.is_open() {
            return None;
        }
        match self.cpu_entry.get(cpu as usize) {
            Some(&e) if e != NO_ENTRY => Some(u32::from(e)),
            _ => None,
        }
    }

    /// Restarts of the sequence over the set's life.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Test hook: the next `traps` runs of the sequence trap (`brk` /
    /// `int3`, a `SIGTRAP` the program must handle) after choosing the
    /// entry and before reading the page, so that the kernel aborts them
    /// deterministically (on the signal's delivery) and the read restarts;
    /// a handler that moves the thread to another CPU
    /// (`sched_setaffinity`) makes the restart choose again.
    pub fn inject_traps(&mut self, traps: u32) {
        self.inject_traps = traps;
    }
}

impl Default for PmuSet {
    fn default() -> Self {
        PmuSet::new()
    }
}

impl Drop for PmuSet {
    fn drop(&mut self) {
        if self.is_open() {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(list: &[u8]) -> Result<Vec<u32>, i32> {
        let mut v = Vec::new();
        parse_cpu_list(list, |c| {
            v.push(c);
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpus(b"0-3,6\n"), Ok(vec![0, 1, 2, 3, 6]));
        assert_eq!(cpus(b"5"), Ok(vec![5]));
        assert_eq!(cpus(b"\n"), Ok(vec![]));
        assert_eq!(cpus(b"3-1"), Err(EINVAL));
        assert_eq!(cpus(b"a"), Err(EINVAL));
        assert_eq!(cpus(b"1,,2"), Err(EINVAL));
        assert_eq!(cpus(b"99999999999"), Err(EINVAL));
    }

    #[test]
    fn counter_widths() {
        // A 32-bit counter that wrapped below the offset the kernel keeps.
        assert_eq!(counter_value(0xffff_fff0, 0x1_0000_0020, 32), 0x1_0000_0010);
        assert_eq!(counter_value(5, 100, 64), 105);
        assert_eq!(counter_value(5, 100, 0), 105);
        assert_eq!(
            counter_value(0x8000_0000_0000, 0, 48),
            (-(0x8000_0000_0000i64)) as u64
        );
    }

    /// The per-type selection of a big.LITTLE-like layout: two types with
    /// their own CPU lists, a CPU of neither, and the errors.
    #[test]
    fn selection_map() {
        let mut set = Box::new(PmuSet::new());
        let types = [
            PmuType {
                pmu_type: 8,
                cpus: Some(b"0-1,4\n"),
            },
            PmuType {
                pmu_type: 9,
                cpus: Some(b"2-3"),
            },
        ];
        // Only the map: no event is opened (the host may have no PMU).
        for (i, t) in types.iter().enumerate() {
            parse_cpu_list(t.cpus.unwrap(), |c| {
                set.cpu_entry[c as usize] = i as u8;
                Ok(())
            })
            .unwrap();
        }
        set.magic = MAGIC;
        set.len = 2;
        assert_eq!(set.entry_of_cpu(0), Some(0));
        assert_eq!(set.entry_of_cpu(4), Some(0));
        assert_eq!(set.entry_of_cpu(2), Some(1));
        assert_eq!(set.entry_of_cpu(5), None);
        assert_eq!(set.entry_of_cpu(MAX_CPUS as u32), None);
        set.magic = 0;
        set.len = 0;
        let mut set = Box::new(PmuSet::new());
        let overlap = [
            PmuType {
                pmu_type: 8,
                cpus: Some(b"0-1"),
            },
            PmuType {
                pmu_type: 9,
                cpus: Some(b"1"),
            },
        ];
        assert_eq!(
            set.open_types(Event::Software(PERF_COUNT_SW_TASK_CLOCK), &overlap),
            Err(EINVAL)
        );
        let big = [PmuType {
            pmu_type: 8,
            cpus: Some(b"4096"),
        }];
        assert_eq!(
            set.open_types(Event::Software(PERF_COUNT_SW_TASK_CLOCK), &big),
            Err(ERANGE)
        );
        assert_eq!(
            set.open_types(Event::Software(PERF_COUNT_SW_TASK_CLOCK), &[]),
            Err(EINVAL)
        );
        assert!(!set.is_open());
        assert_eq!(set.read().err(), Some(EBADF));
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    /// A software event has no hardware counter: every read is read(2),
    /// reported as such, and agrees with read(2) of the entry (monotonic
    /// sandwich: the task clock only grows).
    #[test]
    fn software_event_falls_back_honestly() {
        let mut set = Box::new(PmuSet::new());
        set.open(Event::Software(PERF_COUNT_SW_TASK_CLOCK)).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.pmu_type(0), Some(PERF_TYPE_SOFTWARE));
        for _ in 0..100 {
            let a = set.read_entry(0).unwrap();
            let r = set.read().unwrap();
            let b = set.read_entry(0).unwrap();
            assert_eq!(r.path, Path::Software, "{r:?}");
            assert!(a <= r.count && r.count <= b, "{a} {r:?} {b}");
            assert_eq!(r.entry, 0);
        }
        assert_eq!(
            set.open(Event::Software(PERF_COUNT_SW_TASK_CLOCK)),
            Err(EBUSY)
        );
        // Another thread's read is refused.
        let p = &mut *set as *mut PmuSet as usize;
        let other = std::thread::spawn(move || {
            // SAFETY: the spawning thread waits for this one and does not
            // touch the set meanwhile.
            #[allow(unsafe_code)]
            let s = unsafe { &mut *(p as *mut PmuSet) };
            s.read().err()
        })
        .join()
        .unwrap();
        assert_eq!(other, Some(EPERM));
        set.close().unwrap();
        assert_eq!(set.close(), Err(EBADF));
        assert_eq!(set.read_entry(0), Err(EBADF));
    }
}
