//! The few auxiliary-vector values registration needs, read once per
//! process without libc: from the vector the host hands over (the standalone
//! `_start`, or the `envp` glibc passes to `.preinit_array` functions), else
//! from `/proc/self/auxv` with raw syscalls, else the pre-6.3 defaults.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use rseq_abi::arch::{nr, syscall1, syscall3, syscall4};
use rseq_abi::{
    AT_BASE, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHNUM, AT_RSEQ_ALIGN, AT_RSEQ_FEATURE_SIZE,
    AT_SYSINFO_EHDR,
};

/// Where the cached values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AuxvSource {
    /// Not read yet.
    Unread = 0,
    /// The vector the host passed ([`init_from_vector`] / [`init_from_envp`]).
    Host = 1,
    /// `/proc/self/auxv`.
    ProcSelfAuxv = 2,
    /// Neither was readable: defaults (feature size 20, alignment 32, no vDSO).
    Defaults = 3,
}

/// The values registration and `sched_getcpu` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxvValues {
    /// `AT_RSEQ_FEATURE_SIZE`, or 0 where the kernel does not report it.
    pub rseq_feature_size: usize,
    /// `AT_RSEQ_ALIGN`, or 0 where the kernel does not report it.
    pub rseq_align: usize,
    /// `AT_SYSINFO_EHDR`: the vDSO, or 0.
    pub sysinfo_ehdr: usize,
    /// `AT_BASE`: the program interpreter (dynamic linker), 0 when static.
    pub base: usize,
    /// `AT_PHDR`: the program's program headers (glibc's ld.so, run as a
    /// command, rewrites it in the vector to the program it loaded).
    pub phdr: usize,
    /// `AT_PHNUM`: how many program headers `phdr` holds.
    pub phnum: usize,
    /// Where these came from.
    pub source: AuxvSource,
}

const KEYS: [usize; 6] = [
    AT_RSEQ_FEATURE_SIZE,
    AT_RSEQ_ALIGN,
    AT_SYSINFO_EHDR,
    AT_BASE,
    AT_PHDR,
    AT_PHNUM,
];
static VALUES: [AtomicUsize; 6] = [const { AtomicUsize::new(0) }; 6];
static SOURCE: AtomicU8 = AtomicU8::new(AuxvSource::Unread as u8);

/// Longest vector accepted: Linux passes fewer than 40 entries.
const MAX_ENTRIES: usize = 256;

/// Caches the values from an auxiliary vector (pairs of words ending with
/// `AT_NULL`). Returns false, caching nothing, if the vector does not look
/// like one (no `AT_NULL` within 256 entries, or no `AT_PAGESZ`).
///
/// # Safety
/// `auxv` must be readable up to its `AT_NULL` entry or 256 entries.
pub unsafe fn init_from_vector(auxv: *const usize) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { parse_vector(auxv, AuxvSource::Host) }
}

/// # Safety
/// As [`init_from_vector`].
unsafe fn parse_vector(auxv: *const usize, source: AuxvSource) -> bool {
    if auxv.is_null() {
        return false;
    }
    let mut found = [0usize; KEYS.len()];
    let mut pagesz = false;
    for i in 0..MAX_ENTRIES {
        // SAFETY: the caller guarantees the entries up to AT_NULL are readable.
        let (key, val) = unsafe { (*auxv.add(2 * i), *auxv.add(2 * i + 1)) };
        if key == AT_NULL {
            if !pagesz {
                return false;
            }
            store(&found, source);
            return true;
        }
        pagesz |= key == AT_PAGESZ && val.is_power_of_two();
        if let Some(k) = KEYS.iter().position(|&k| k == key) {
            found[k] = val;
        }
    }
    false
}

/// Finds the auxiliary vector after the environment block that the kernel
/// placed on the initial stack, and caches it as [`init_from_vector`] does.
///
/// # Safety
/// `envp` must be the environment array the kernel passed to the program
/// (not a copy made by `setenv`), readable up to its terminating null and
/// the vector that follows it.
pub unsafe fn init_from_envp(envp: *const *const u8) -> bool {
    if envp.is_null() {
        return false;
    }
    let mut p = envp;
    // SAFETY: the caller guarantees envp is the kernel's null-terminated array.
    unsafe {
        while !(*p).is_null() {
            p = p.add(1);
        }
        init_from_vector(p.add(1).cast())
    }
}

fn store(found: &[usize; KEYS.len()], source: AuxvSource) {
    for (slot, &v) in VALUES.iter().zip(found) {
        slot.store(v, Ordering::Relaxed);
    }
    SOURCE.store(source as u8, Ordering::Release);
}

/// Reads `/proc/self/auxv` into a stack buffer with raw syscalls.
fn read_proc_self_auxv() -> bool {
    const AT_FDCWD: isize = -100;
    const O_RDONLY_CLOEXEC: usize = 0o2000000;
    let path = b"/proc/self/auxv\0";
    // SAFETY: path is a valid NUL-terminated string.
    let fd = unsafe {
        syscall4(
            nr::OPENAT,
            AT_FDCWD as usize,
            path.as_ptr() as usize,
            O_RDONLY_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return false;
    }
    let mut buf = [0usize; 2 * MAX_ENTRIES];
    let mut len = 0usize;
    let cap = core::mem::size_of_val(&buf);
    while len < cap {
        // SAFETY: writes at most cap - len bytes into buf past len.
        let n = unsafe {
            syscall3(
                nr::READ,
                fd as usize,
                buf.as_mut_ptr() as usize + len,
                cap - len,
            )
        };
        if n == -(rseq_abi::errno::EINTR as isize) {
            continue;
        }
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    // SAFETY: closes the descriptor opened above.
    unsafe { syscall1(nr::CLOSE, fd as usize) };
    // A full buffer means a vector longer than any kernel passes: the last
    // entry is then not AT_NULL and init_from_vector rejects it.
    let words = len / core::mem::size_of::<usize>();
    if words < 2 || words > buf.len() {
        return false;
    }
    // SAFETY: buf holds `words` words and zeroes after them, so an AT_NULL
    // entry is reached within the buffer.
    unsafe { parse_vector(buf.as_ptr(), AuxvSource::ProcSelfAuxv) }
}

/// The cached values, reading them first if no host handed a vector over.
pub fn values() -> AuxvValues {
    let mut source = SOURCE.load(Ordering::Acquire);
    if source == AuxvSource::Unread as u8 {
        // Racing threads store the same values; only the label may differ.
        if !read_proc_self_auxv() {
            store(&[0; KEYS.len()], AuxvSource::Defaults);
        }
        source = SOURCE.load(Ordering::Acquire);
    }
    let v = |i: usize| VALUES[i].load(Ordering::Relaxed);
    AuxvValues {
        rseq_feature_size: v(0),
        rseq_align: v(1),
        sysinfo_ehdr: v(2),
        base: v(3),
        phdr: v(4),
        phnum: v(5),
        source: match source {
            1 => AuxvSource::Host,
            2 => AuxvSource::ProcSelfAuxv,
            _ => AuxvSource::Defaults,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_auxv_matches_getauxval() {
        assert!(read_proc_self_auxv());
        let v = values();
        // SAFETY: getauxval has no preconditions.
        let g = |k| unsafe { getauxval(k as core::ffi::c_ulong) } as usize;
        assert_eq!(v.rseq_feature_size, g(AT_RSEQ_FEATURE_SIZE));
        assert_eq!(v.rseq_align, g(AT_RSEQ_ALIGN));
        assert_eq!(v.sysinfo_ehdr, g(AT_SYSINFO_EHDR));
        assert_eq!(v.base, g(AT_BASE));
        assert_eq!(v.phdr, g(AT_PHDR));
        assert_eq!(v.phnum, g(AT_PHNUM));
        assert_ne!(v.sysinfo_ehdr, 0);
    }

    #[test]
    fn malformed_vectors_are_rejected() {
        let no_null = [AT_PAGESZ, 4096].repeat(MAX_ENTRIES);
        // SAFETY: the vector holds MAX_ENTRIES readable entries.
        assert!(!unsafe { init_from_vector(no_null.as_ptr()) });
        let no_pagesz = [AT_RSEQ_FEATURE_SIZE, 28, AT_NULL, 0];
        // SAFETY: terminated by AT_NULL.
        assert!(!unsafe { init_from_vector(no_pagesz.as_ptr()) });
        // SAFETY: null is rejected before any read.
        assert!(!unsafe { init_from_vector(core::ptr::null()) });
    }

    extern "C" {
        fn getauxval(key: core::ffi::c_ulong) -> core::ffi::c_ulong;
    }
}
