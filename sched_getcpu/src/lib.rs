//! The current CPU, NUMA node and concurrency id.
//!
//! From the calling thread's rseq area when it has one (a TLS load); else
//! from the vDSO's `getcpu`, found by parsing the vDSO image the kernel maps
//! (`AT_SYSINFO_EHDR`); else from the `getcpu` syscall.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod vdso;

use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::{compiler_fence, Ordering};
use rseq_abi::arch::{nr, syscall3};
use rseq_abi::{Rseq, FEATURE_SIZE_MM_CID, FEATURE_SIZE_NODE_ID};

pub use vdso::vdso_getcpu_available;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The rseq area.
    Rseq,
    /// The vDSO's `getcpu`.
    Vdso,
    /// The `getcpu` syscall.
    Syscall,
}

#[allow(unsafe_code)]
#[inline(always)]
fn cpu_id_of(area: *mut Rseq) -> i32 {
    // SAFETY: `area` is the calling thread's registered area (non-null).
    unsafe { read_volatile(addr_of!((*area).cpu_id)) as i32 }
}

/// The current CPU number; never fails while `getcpu` exists.
#[inline]
pub fn current_cpu() -> Result<u32, i32> {
    let area = rseq_registration::area();
    if !area.is_null() {
        let cpu = cpu_id_of(area);
        if cpu >= 0 {
            return Ok(cpu as u32);
        }
    }
    current_cpu_slow()
}

#[cold]
fn current_cpu_slow() -> Result<u32, i32> {
    if let Some(a) = rseq_registration::current_area() {
        let cpu = cpu_id_of(a.as_ptr());
        if cpu >= 0 {
            return Ok(cpu as u32);
        }
    }
    getcpu_fallback().map(|(c, _, _)| c)
}

/// The current CPU and its NUMA node, consistent with each other, and
/// where they came from.
pub fn getcpu() -> Result<(u32, u32, Source), i32> {
    if let Some(a) = rseq_registration::current_area() {
        if rseq_registration::feature_size() >= FEATURE_SIZE_NODE_ID {
            let a = a.as_ptr();
            #[allow(unsafe_code)]
            loop {
                let cpu = cpu_id_of(a);
                if cpu < 0 {
                    break;
                }
                compiler_fence(Ordering::SeqCst);
                // SAFETY: this thread's registered area, which holds node_id.
                let node = unsafe { read_volatile(addr_of!((*a).node_id)) };
                compiler_fence(Ordering::SeqCst);
                // A migration between the two loads changes cpu_id: retry.
                if cpu_id_of(a) == cpu {
                    return Ok((cpu as u32, node, Source::Rseq));
                }
            }
        }
    }
    getcpu_fallback()
}

/// The calling thread's concurrency id (`mm_cid`): needs a registered area
/// and a kernel feature size of at least 28; `Err(ENOSYS)` otherwise. An
/// area the kernel no longer has registered (`cpu_id` < 0) is none: its
/// `mm_cid` reads 0, an id another thread may hold.
pub fn current_mm_cid() -> Result<u32, i32> {
    match rseq_registration::current_area() {
        Some(a) if rseq_registration::feature_size() >= FEATURE_SIZE_MM_CID => {
            let a = a.as_ptr();
            compiler_fence(Ordering::SeqCst);
            #[allow(unsafe_code)]
            // SAFETY: this thread's registered area, which holds mm_cid.
            let cid = unsafe { read_volatile(addr_of!((*a).mm_cid)) };
            compiler_fence(Ordering::SeqCst);
            // Checked after the load too: a signal handler of this thread
            // may unregister the area between the lookup and the load.
            if cpu_id_of(a) < 0 {
                return Err(rseq_abi::errno::ENOSYS);
            }
            Ok(cid)
        }
        _ => Err(rseq_abi::errno::ENOSYS),
    }
}

/// `getcpu` without rseq: the vDSO, else the syscall.
pub fn getcpu_fallback() -> Result<(u32, u32, Source), i32> {
    if let Some(r) = vdso::getcpu() {
        return r.map(|(c, n)| (c, n, Source::Vdso));
    }
    getcpu_syscall().map(|(c, n)| (c, n, Source::Syscall))
}

/// The `getcpu` syscall.
pub fn getcpu_syscall() -> Result<(u32, u32), i32> {
    let (mut cpu, mut node) = (0u32, 0u32);
    #[allow(unsafe_code)]
    // SAFETY: the kernel writes one u32 to each pointer.
    let r = unsafe {
        syscall3(
            nr::GETCPU,
            &mut cpu as *mut u32 as usize,
            &mut node as *mut u32 as usize,
            0,
        )
    };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok((cpu, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_agrees_on_each_allowed_cpu() {
        for cpu in allowed_cpus() {
            std::thread::spawn(move || {
                pin(cpu);
                assert_eq!(getcpu_syscall().unwrap().0 as usize, cpu);
                assert_eq!(current_cpu().unwrap() as usize, cpu);
                let (c, node, src) = getcpu().unwrap();
                assert_eq!((c as usize, node), (cpu, getcpu_syscall().unwrap().1));
                assert_eq!(src, Source::Rseq);
                let (c, _, src) = getcpu_fallback().unwrap();
                assert_eq!((c as usize, src), (cpu, Source::Vdso));
            })
            .join()
            .unwrap();
        }
    }

    #[test]
    fn mm_cid_is_below_the_cpu_count() {
        let n = std::thread::available_parallelism().unwrap().get() as u32;
        assert!(current_mm_cid().unwrap() < n.max(8));
    }

    /// After a raw unregistration behind the component's back (`cpu_id`
    /// -1, `mm_cid` 0): the CPU and node from the fallback, no `mm_cid`.
    #[test]
    fn an_unregistered_area_is_not_read() {
        std::thread::spawn(|| {
            let a = rseq_registration::current_area().expect("area").as_ptr();
            let fs = rseq_registration::kernel().feature_size as usize;
            let ok = [32usize, fs, 64, 128].iter().any(|&len| {
                #[allow(unsafe_code)]
                // SAFETY: unregisters this thread's own area (TLS, mapped).
                let r = unsafe {
                    rseq_abi::arch::syscall4(
                        nr::RSEQ,
                        a as usize,
                        len,
                        rseq_abi::RSEQ_FLAG_UNREGISTER as usize,
                        rseq_abi::arch::RSEQ_SIG as usize,
                    )
                };
                len >= 32 && r == 0
            });
            assert!(ok, "raw unregistration");
            assert!(cpu_id_of(a) < 0);
            assert_eq!(current_mm_cid(), Err(rseq_abi::errno::ENOSYS));
            let cpu = allowed_cpus()[0];
            pin(cpu);
            assert_eq!(current_cpu(), Ok(cpu as u32));
            let (c, node, src) = getcpu().unwrap();
            assert_ne!(src, Source::Rseq);
            assert_eq!((c as usize, node), (cpu, getcpu_syscall().unwrap().1));
        })
        .join()
        .unwrap();
    }

    fn allowed_cpus() -> Vec<usize> {
        let mut mask = [0u64; 16];
        #[allow(unsafe_code)]
        // SAFETY: sched_getaffinity writes at most 128 bytes into mask.
        let r = unsafe {
            rseq_abi::arch::syscall3(nr::SCHED_GETAFFINITY, 0, 128, mask.as_mut_ptr() as usize)
        };
        assert!(r > 0);
        let cpus: Vec<usize> = (0..1024)
            .filter(|c| mask[c / 64] & (1 << (c % 64)) != 0)
            .collect();
        assert!(!cpus.is_empty());
        cpus
    }

    fn pin(cpu: usize) {
        let mask: u64 = 1 << cpu;
        #[allow(unsafe_code)]
        // SAFETY: sched_setaffinity reads 8 bytes of mask.
        let r = unsafe {
            rseq_abi::arch::syscall3(nr::SCHED_SETAFFINITY, 0, 8, &mask as *const u64 as usize)
        };
        assert_eq!(r, 0);
    }
}
