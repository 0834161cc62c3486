//! Which process a thread runs in, as memory inherited across `fork` can
//! tell: a per-process *epoch* that differs in the child of every fork from
//! every epoch its ancestors used.
//!
//! Structures that count their waiting threads ([`crate::spinlock::NumaSpinLock`])
//! store the epoch their counts belong to. After a `fork`, the child has one
//! thread, but its copy of such a structure still counts the parent's other
//! threads: the first slow path of the child that looks at the counts sees
//! an epoch that is not its own and clears them (once, before any thread of
//! the child counts itself).
//!
//! How, without libc and without a system call on any fast path: the epoch
//! lives in one anonymous page mapped with `MADV_WIPEONFORK` (Linux 4.14+),
//! which the kernel gives a fork child zeroed. A zero page means "this
//! process has not taken an epoch yet": it takes the next value of a
//! counter kept in ordinary memory, which the child inherits, so the value
//! is above every epoch the child's inherited structures can hold. A pid
//! comparison would not do: a child forked into a new pid namespace can
//! have its parent's pid (1 in each).
//!
//! Where the page cannot be set up (a kernel before 4.14, which also has no
//! rseq; `mmap` refused), every process answers [`UNDETECTED`] and counts
//! inherited across `fork` stay as they were (the behaviour before this
//! module).

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use rseq_abi::arch::{nr, syscall2, syscall3, syscall6};

/// The epoch of every process where the fork-clearing page is unavailable.
pub const UNDETECTED: u32 = 1;
/// An epoch value no process takes: a structure resetting its counts.
pub(crate) const RESETTING: u32 = u32::MAX;

/// The last epoch taken in this process's ancestry (copied into a fork
/// child with the rest of memory, so the child's next value is new).
static LAST_EPOCH: AtomicU32 = AtomicU32::new(UNDETECTED);
/// The page holding this process's epoch (zeroed by the kernel in a fork
/// child), or null before the first call.
static PAGE: AtomicPtr<AtomicU32> = AtomicPtr::new(null_mut());
/// Set when `madvise(MADV_WIPEONFORK)` is refused: never try again.
static UNAVAILABLE: AtomicU32 = AtomicU32::new(0);

const PAGE_SIZE: usize = 4096;
const PROT_READ_WRITE: usize = 1 | 2;
const MAP_PRIVATE_ANONYMOUS: usize = 0x02 | 0x20;
const MADV_WIPEONFORK: usize = 18;

/// The calling process's epoch: the same value in every thread of one
/// process, another value in a fork child. Two loads once set up; the
/// first call of a process maps a page (and a fork child's first call
/// takes a new value). Async-signal-safe, lock-free.
pub fn current() -> u32 {
    let Some(page) = page() else {
        return UNDETECTED;
    };
    let e = page.load(Ordering::Acquire);
    if e != 0 {
        return e;
    }
    // A new process (or the first use in this one): the next value of the
    // inherited counter, skipping 0 (no epoch), UNDETECTED and RESETTING.
    let mut next = LAST_EPOCH.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    while next == 0 || next == UNDETECTED || next == RESETTING {
        next = LAST_EPOCH.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    }
    match page.compare_exchange(0, next, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => next,
        Err(winner) => winner,
    }
}

/// The epoch page, mapping it on first use; None where unavailable.
fn page() -> Option<&'static AtomicU32> {
    let p = PAGE.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: a page mapped below and never unmapped once published.
        return Some(unsafe { &*p });
    }
    map_page()
}

#[cold]
#[inline(never)]
fn map_page() -> Option<&'static AtomicU32> {
    if UNAVAILABLE.load(Ordering::Relaxed) != 0 {
        return None;
    }
    // SAFETY: a fresh private anonymous mapping: touches no existing memory.
    let addr = unsafe {
        syscall6(
            nr::MMAP,
            0,
            PAGE_SIZE,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            usize::MAX,
            0,
        )
    };
    // mmap answers an address or a negated errno (-4095..-1).
    if (-4095..0).contains(&addr) {
        return None;
    }
    // SAFETY: advice on the page just mapped.
    if unsafe { syscall3(nr::MADVISE, addr as usize, PAGE_SIZE, MADV_WIPEONFORK) } != 0 {
        UNAVAILABLE.store(1, Ordering::Relaxed);
        // SAFETY: the page just mapped, published nowhere.
        unsafe { syscall2(nr::MUNMAP, addr as usize, PAGE_SIZE) };
        return None;
    }
    let fresh = addr as usize as *mut AtomicU32;
    match PAGE.compare_exchange(null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: the zeroed page just mapped, now published for good.
        Ok(_) => Some(unsafe { &*fresh }),
        Err(winner) => {
            // Another thread published its page first.
            // SAFETY: the page just mapped, published nowhere.
            unsafe { syscall2(nr::MUNMAP, addr as usize, PAGE_SIZE) };
            // SAFETY: the winner's page, never unmapped.
            Some(unsafe { &*winner })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Raw fork (no libc handlers): runs `child` in the child, which exits
    /// with its result; returns the child's exit status (or -1).
    pub(crate) fn in_fork_child(child: impl FnOnce() -> i32) -> i32 {
        // SAFETY: fork(2); the child runs only raw system calls and memory
        // accesses (no allocation, no lock) until exit_group.
        let pid = unsafe { rseq_abi::arch::fork_process() };
        if pid == 0 {
            let code = child();
            loop {
                // SAFETY: exit_group ends the child.
                unsafe { rseq_abi::arch::syscall1(nr::EXIT_GROUP, code as usize) };
            }
        }
        if pid < 0 {
            return -1;
        }
        let mut status: i32 = 0;
        // SAFETY: wait4 writes the status into a valid local.
        let r = unsafe {
            rseq_abi::arch::syscall4(
                nr::WAIT4,
                pid as usize,
                &mut status as *mut i32 as usize,
                0,
                0,
            )
        };
        if r == pid && status & 0x7f == 0 {
            (status >> 8) & 0xff
        } else {
            -1
        }
    }

    #[test]
    fn a_fork_child_has_a_new_epoch_and_threads_share_one() {
        let e = current();
        assert_ne!(e, 0);
        assert_eq!(std::thread::spawn(current).join().unwrap(), e);
        if UNAVAILABLE.load(Ordering::Relaxed) != 0 {
            eprintln!("SKIP: MADV_WIPEONFORK unavailable");
            return;
        }
        // The child's epoch differs from the parent's, stays the same in
        // the child, and its own child's differs from both.
        let status = in_fork_child(|| {
            let c = current();
            if c == e || c == 0 || current() != c {
                return 1;
            }
            let grand = in_fork_child(|| {
                if current() != c && current() != e {
                    0
                } else {
                    1
                }
            });
            if grand != 0 {
                return 2;
            }
            0
        });
        assert_eq!(status, 0);
        assert_eq!(current(), e, "the parent keeps its epoch");
    }
}
