//! The vDSO's `getcpu`, found once per process in the image at
//! `AT_SYSINFO_EHDR`.
//!
//! Its name per architecture, as the kernels' vDSO images export it
//! (checked in Debian's 6.12 and 7.2 kernels, docs/architectures.md):
//! x86-64 `__vdso_getcpu` (reads the CPU from the per-CPU GDT entry or
//! `rdpid`); riscv64 `__vdso_getcpu` (an `ecall` of getcpu(2) inside the
//! vDSO: no faster than the syscall, but the same answer); aarch64 has none,
//! so `getcpu` always falls back to the getcpu(2) system call there.

use core::sync::atomic::{AtomicUsize, Ordering};
use rseq_registration::elf::LoadedImage;

type GetcpuFn = unsafe extern "C" fn(*mut u32, *mut u32, *mut u8) -> isize;

/// 0: not looked up yet; 1: no vDSO getcpu; otherwise its address.
static GETCPU: AtomicUsize = AtomicUsize::new(0);
const ABSENT: usize = 1;

#[cfg(any(target_arch = "x86_64", target_arch = "riscv64"))]
const NAME: Option<&[u8]> = Some(b"__vdso_getcpu");
#[cfg(target_arch = "aarch64")]
const NAME: Option<&[u8]> = None;

fn lookup() -> usize {
    let mut f = GETCPU.load(Ordering::Acquire);
    if f == 0 {
        let ehdr = rseq_registration::auxv::values().sysinfo_ehdr;
        f = match NAME {
            // SAFETY: AT_SYSINFO_EHDR is the vDSO's ELF header, mapped by
            // the kernel for the life of the process (or 0).
            Some(name) => unsafe { LoadedImage::at(ehdr) }.and_then(|img| img.lookup(name)),
            None => None,
        }
        .unwrap_or(ABSENT);
        GETCPU.store(f, Ordering::Release);
    }
    f
}

/// Whether the vDSO exports `getcpu`.
pub fn vdso_getcpu_available() -> bool {
    lookup() != ABSENT
}

/// The vDSO's answer, or None without a vDSO `getcpu`.
pub(crate) fn getcpu() -> Option<Result<(u32, u32), i32>> {
    let f = lookup();
    if f == ABSENT {
        return None;
    }
    // SAFETY: f is the address of the vDSO's getcpu, whose C signature is
    // GetcpuFn.
    let f: GetcpuFn = unsafe { core::mem::transmute::<usize, GetcpuFn>(f) };
    let (mut cpu, mut node) = (0u32, 0u32);
    // SAFETY: the vDSO writes one u32 to each pointer; the cache is unused.
    let r = unsafe { f(&mut cpu, &mut node, core::ptr::null_mut()) };
    Some(if r < 0 {
        Err(-r as i32)
    } else {
        Ok((cpu, node))
    })
}
