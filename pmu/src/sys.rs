//! The system calls of this crate, raw (no libc): files of sysfs and
//! procfs, perf_event_open(2), and the event page's mapping. Errors are
//! positive errno values.

use rseq_abi::arch::{nr, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};

/// `AT_FDCWD`
const AT_FDCWD: isize = -100;
/// `O_RDONLY | O_CLOEXEC` (the same value on every architecture here;
/// `O_DIRECTORY` is not, and getdents64 does not need it).
const O_RDONLY_CLOEXEC: usize = 0o2000000;
/// `PERF_FLAG_FD_CLOEXEC`
const PERF_FLAG_FD_CLOEXEC: usize = 8;
const PROT_READ: usize = 1;
const MAP_SHARED: usize = 1;
/// The event page: one page; the kernel rounds a shorter length up to its
/// page size, so 4096 maps exactly the user page on 4K, 16K and 64K kernels.
pub const PAGE_LEN: usize = 4096;

fn result(r: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&r) {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}

/// `struct perf_event_attr` up to `config1` (`PERF_ATTR_SIZE_VER0`, 64
/// bytes, which every kernel accepts).
#[repr(C)]
#[derive(Default)]
pub struct PerfEventAttr {
    /// `type`
    pub kind: u32,
    /// `size`
    pub size: u32,
    /// `config`
    pub config: u64,
    /// `sample_period`
    pub sample_period: u64,
    /// `sample_type`
    pub sample_type: u64,
    /// `read_format` (0: read(2) gives the count alone, 8 bytes)
    pub read_format: u64,
    /// The bit fields (`disabled` bit 0, `exclude_kernel` bit 5,
    /// `exclude_hv` bit 6, ...).
    pub flags: u64,
    /// `wakeup_events`
    pub wakeup_events: u32,
    /// `bp_type`
    pub bp_type: u32,
    /// `config1`
    pub config1: u64,
}

/// `exclude_kernel`
pub const ATTR_EXCLUDE_KERNEL: u64 = 1 << 5;
/// `exclude_hv`
pub const ATTR_EXCLUDE_HV: u64 = 1 << 6;

/// Opens `path` (NUL-terminated) read-only.
pub fn open_read(path: &[u8]) -> Result<i32, i32> {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: path is NUL-terminated (every caller builds it so).
    result(unsafe {
        syscall4(
            nr::OPENAT,
            AT_FDCWD as usize,
            path.as_ptr() as usize,
            O_RDONLY_CLOEXEC,
            0,
        )
    })
    .map(|fd| fd as i32)
}

/// read(2) into `buf`.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: buf is valid for buf.len() bytes of writes.
    result(unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) })
}

/// close(2); errors are ignored (the descriptor is gone either way).
pub fn close(fd: i32) {
    // SAFETY: closes a descriptor this crate opened.
    unsafe { syscall1(nr::CLOSE, fd as usize) };
}

/// getdents64(2) into `buf`.
pub fn getdents64(fd: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: buf is valid for buf.len() bytes of writes.
    result(unsafe {
        syscall3(
            crate::arch::nr::GETDENTS64,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    })
}

/// The whole (small) file `path` into `buf`: its length. A file longer
/// than `buf` is `ERANGE`.
pub fn read_file(path: &[u8], buf: &mut [u8]) -> Result<usize, i32> {
    let fd = open_read(path)?;
    let mut len = 0;
    let r = loop {
        if len == buf.len() {
            break Err(crate::ERANGE);
        }
        let Some(rest) = buf.get_mut(len..) else {
            break Err(crate::ERANGE);
        };
        match read(fd, rest) {
            Ok(0) => break Ok(len),
            Ok(n) => len += n,
            Err(e) => break Err(e),
        }
    };
    close(fd);
    r
}

/// perf_event_open(2) of a per-task event of the calling thread (pid 0,
/// any CPU, no group), close-on-exec.
pub fn perf_event_open(attr: &PerfEventAttr) -> Result<i32, i32> {
    // SAFETY: attr is a valid attribute block of attr.size bytes.
    result(unsafe {
        syscall5(
            crate::arch::nr::PERF_EVENT_OPEN,
            attr as *const PerfEventAttr as usize,
            0,
            usize::MAX, // cpu -1: wherever the thread runs
            usize::MAX, // group_fd -1
            PERF_FLAG_FD_CLOEXEC,
        )
    })
    .map(|fd| fd as i32)
}

/// Maps the event's user page read-only: its address.
pub fn map_event_page(fd: i32) -> Result<usize, i32> {
    // SAFETY: a new shared read-only mapping chosen by the kernel; it
    // replaces nothing.
    result(unsafe { syscall6(nr::MMAP, 0, PAGE_LEN, PROT_READ, MAP_SHARED, fd as usize, 0) })
}

/// Unmaps a page [`map_event_page`] mapped.
pub fn unmap_event_page(addr: usize) {
    // SAFETY: addr is a mapping of PAGE_LEN bytes this crate made and no
    // reference into it outlives this call (the set forgets it).
    unsafe { syscall2(nr::MUNMAP, addr, PAGE_LEN) };
}
