//! Remote per-CPU access: making one CPU's in-flight restartable sequences
//! restart, so that another thread may take over data that only sequences
//! committing on that CPU write ([`fence_cpu`]).
//!
//! # The protocol
//!
//! A structure whose per-CPU data a remote thread wants to take over gives
//! its sections one more load *inside* the section, after the index check
//! and before the commit: a guard word (the pool's "closed" flag) or the
//! pointer to the data itself (the flush ring's active packet). The remote
//! thread (1) stores the guard, or swaps the pointer, with a sequentially
//! consistent atomic; (2) calls [`fence_cpu`]. When the fence returns,
//! every section that will ever commit on that CPU either committed before
//! the fence (and its stores are visible to the caller) or started its
//! loads after step 1 (it sees the guard or the new pointer). So the data
//! behind the old pointer, or under the guard, is the caller's alone.
//!
//! # How the fence works
//!
//! - `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
//!   MEMBARRIER_CMD_FLAG_CPU, cpu)` (Linux 5.10+, after
//!   `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ`): under the hotplug
//!   read lock, if the CPU is online and runs a thread of this process, an
//!   IPI there executes `smp_mb()` and marks the running thread for rseq
//!   restart (kernel/sched/membarrier.c, `ipi_rseq`): it cannot reach its
//!   commit without passing the abort handler. A thread of the process that
//!   was preempted there restarts anyway when it resumes (preemption is a
//!   restart event), and the scheduler's barriers order its earlier stores
//!   before the caller's later loads. An offline CPU runs nothing: the
//!   kernel returns 0 without an IPI, and a thread that was on it when it
//!   went down was migrated, which restarts its section too.
//! - Fallback, where that command is unavailable (kernels before 5.10,
//!   `membarrier` filtered by a sandbox, or [`set_fallback_only`]): the
//!   caller *visits* the CPU: it pins itself there (`sched_setaffinity`),
//!   checks with `getcpu` that it runs there, and restores its affinity.
//!   While the caller runs on that CPU, no other thread does: any section in
//!   flight there was preempted, and restarts. Correct, and slower (two
//!   migrations of the caller, tens of microseconds instead of one IPI), and
//!   it cannot reach an offline CPU or one outside the caller's cpuset:
//!   `-EAGAIN`, the data stays where it is and the caller retries later.
//!   The affinity it restores is what `sched_getaffinity` reported before
//!   the visit, which leaves out CPUs offline at that moment: a caller whose
//!   affinity must include a CPU that comes back later sets it again.
//! - Structures indexed by `mm_cid` have no CPU to target: [`fence_all`]
//!   restarts the sections of every CPU running a thread of the process
//!   (the same command without the flag); it has no fallback
//!   (`-EOPNOTSUPP`).
//!
//! # Which sections a fence reaches: process-private and shared structures
//!
//! [`fence_cpu`] and [`fence_all`] reach **the calling process's sections
//! only**. `membarrier`'s rseq command sends its IPI only where the CPU's
//! current task has the caller's `mm` (kernel/sched/membarrier.c,
//! `membarrier_private_expedited`: `p->mm != mm` is skipped), and marks only
//! that task for restart. A section of another process running there keeps
//! going and may commit after the fence returns. That is enough for a
//! structure in process-private memory (nobody else can run a section on
//! it), and wrong for one in `MAP_SHARED` memory written by several
//! processes (a tracer's per-CPU buffers flushed by a consumer daemon, a
//! pool shared by worker processes).
//!
//! [`fence_cpu_shared`] is the fence of shared structures: it always visits
//! the CPU. A visit reaches every process: while the caller runs on that CPU
//! no other task does, so whatever section ran there, of any process, was
//! preempted (a restart event for its thread, wherever it resumes), and
//! the context switches order that thread's earlier stores before the
//! caller's later loads. Nothing in `membarrier` does the same across
//! processes: `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (and `GLOBAL`) IPIs CPUs
//! running registered processes but only executes a memory barrier there
//! (`ipi_mb`), never `rseq_preempt`; the rseq command exists only in the
//! private flavour, and `MEMBARRIER_CMD_FLAG_CPU` only with it. A barrier
//! does not stop a section that already loaded the old pointer or guard from
//! committing after it, so a global barrier is not a fence for rseq. Cost:
//! two migrations of the caller (tens of microseconds), and an offline CPU
//! or one outside the caller's allowed CPUs answers `-EAGAIN` (the data
//! waits for a later attempt; nothing runs on an offline CPU, and a section
//! of a thread migrated away from it has restarted).

use core::sync::atomic::{AtomicBool, Ordering};
use rseq_abi::arch::{nr, syscall0, syscall3};
use rseq_abi::errno::{EAGAIN, EINVAL, EOPNOTSUPP, EPERM};

/// Test hook: every fence takes the fallback (see [`set_fallback_only`]).
static FALLBACK_ONLY: AtomicBool = AtomicBool::new(false);

/// Negative-control hook: shared fences use the private command (see
/// [`set_shared_fence_private`]).
static SHARED_FENCE_PRIVATE: AtomicBool = AtomicBool::new(false);

/// How a fence was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// `membarrier`'s rseq command.
    Membarrier,
    /// The caller ran on the CPU (the fallback).
    Visited,
}

/// Makes every fence take the fallback (visit the CPU) even where the
/// `membarrier` command works: for tests of the fallback, and for
/// programs that must not send IPIs.
pub fn set_fallback_only(on: bool) {
    FALLBACK_ONLY.store(on, Ordering::Relaxed);
}

/// Whether fences take the fallback: forced, or `membarrier`'s rseq command
/// unavailable.
pub fn fallback_only() -> bool {
    FALLBACK_ONLY.load(Ordering::Relaxed) || !crate::lock::membarrier_rseq_ready()
}

fn membarrier(cmd: i32, flags: u32, cpu: u32) -> isize {
    // SAFETY: membarrier takes three integers and touches no user memory.
    unsafe { syscall3(nr::MEMBARRIER, cmd as usize, flags as usize, cpu as usize) }
}

/// Restarts every restartable sequence **of the calling process** running
/// or preempted on `cpu` (see the module documentation for what the caller
/// may then assume; sections of other processes, on a structure in shared
/// memory, need [`fence_cpu_shared`]). Returns
/// how, or a negative errno: `-EAGAIN` when the fallback cannot run on the
/// CPU now (offline, or outside the caller's allowed CPUs), `-EINVAL` for
/// a CPU number of 1024 or more.
pub fn fence_cpu(cpu: u32) -> Result<Fence, i32> {
    if cpu >= 1024 {
        return Err(-EINVAL);
    }
    if !fallback_only() {
        for _ in 0..8 {
            let r = membarrier(
                rseq_abi::MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
                rseq_abi::MEMBARRIER_CMD_FLAG_CPU,
                cpu,
            );
            match r {
                0 => return Ok(Fence::Membarrier),
                // Not registered in this mm (a child after fork starts
                // unregistered): register and retry.
                r if r == -(EPERM as isize) => {
                    let _ = membarrier(
                        rseq_abi::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
                        0,
                        0,
                    );
                }
                // EINVAL: a kernel with the command but not the CPU flag;
                // anything else: the fallback is still correct.
                _ => break,
            }
        }
    }
    visit(cpu).map(|()| Fence::Visited)
}

/// Restarts every restartable sequence running or preempted on `cpu`, of
/// **every process** (the caller visits the CPU; see the module
/// documentation): the fence of structures in shared memory. Returns
/// [`Fence::Visited`], or `-EAGAIN` when the caller cannot run on the CPU now
/// (offline, or outside its allowed CPUs: nothing may be assumed, retry
/// later), `-EINVAL` for a CPU number of 1024 or more.
pub fn fence_cpu_shared(cpu: u32) -> Result<Fence, i32> {
    if cpu >= 1024 {
        return Err(-EINVAL);
    }
    if SHARED_FENCE_PRIVATE.load(Ordering::Relaxed) {
        return fence_cpu(cpu);
    }
    visit(cpu).map(|()| Fence::Visited)
}

/// Negative control for tests: makes [`fence_cpu_shared`] use the
/// process-private fence ([`fence_cpu`]), which does not restart the
/// sections of other processes; a multi-process test must then fail
/// (`rseq-libc stress --mode shared-forced --private-fence`). Never for
/// production use.
pub fn set_shared_fence_private(on: bool) {
    SHARED_FENCE_PRIVATE.store(on, Ordering::Relaxed);
}

/// Restarts every restartable sequence of the process on every CPU
/// (`membarrier`'s rseq command without the CPU flag): the fence of
/// structures indexed by `mm_cid`. `-EOPNOTSUPP` where the command is
/// unavailable (or the fallback is forced): a concurrency id names no CPU
/// to visit.
pub fn fence_all() -> Result<Fence, i32> {
    if fallback_only() {
        return Err(-EOPNOTSUPP);
    }
    for _ in 0..8 {
        match membarrier(rseq_abi::MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0) {
            0 => return Ok(Fence::Membarrier),
            r if r == -(EPERM as isize) => {
                let _ = membarrier(
                    rseq_abi::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
                    0,
                    0,
                );
            }
            _ => break,
        }
    }
    Err(-EOPNOTSUPP)
}

/// The CPU the calling thread runs on, by the `getcpu` system call (the
/// fallback must not depend on an rseq area).
fn getcpu() -> Option<u32> {
    let mut cpu = 0u32;
    // SAFETY: getcpu writes one u32 at the first pointer; the others are null.
    let r = unsafe { syscall3(nr::GETCPU, &mut cpu as *mut u32 as usize, 0, 0) };
    (r == 0).then_some(cpu)
}

/// Runs the calling thread on `cpu` for a moment (the fallback fence), then
/// gives it its affinity back.
pub(crate) fn visit(cpu: u32) -> Result<(), i32> {
    let mut saved = [0u64; 16];
    // SAFETY: sched_getaffinity writes at most the buffer length given.
    let n = unsafe {
        syscall3(
            nr::SCHED_GETAFFINITY,
            0,
            core::mem::size_of_val(&saved),
            saved.as_mut_ptr() as usize,
        )
    };
    if n <= 0 {
        return Err(-EAGAIN);
    }
    let mut ok = false;
    // A pin can land while the CPU is going down (the kernel then moves the
    // thread elsewhere): check where it runs, a few times.
    for _ in 0..4 {
        if crate::pin_to_cpu(cpu as usize) != 0 {
            break;
        }
        if getcpu() == Some(cpu) {
            ok = true;
            break;
        }
        // SAFETY: sched_yield has no arguments and no memory effects.
        unsafe { syscall0(nr::SCHED_YIELD) };
    }
    let _ = crate::set_affinity(&saved);
    if ok {
        Ok(())
    } else {
        Err(-EAGAIN)
    }
}

/// Serializes the unit tests that set [`set_fallback_only`] (a global):
/// the test harness runs tests in parallel threads, and one test turning
/// the fallback off while another expects it on made
/// `fences_reach_every_allowed_cpu_both_ways` fail now and then.
#[cfg(test)]
pub(crate) fn fallback_test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_reach_every_allowed_cpu_both_ways() {
        let _serial = fallback_test_lock();
        let mut cpus = [0u32; 1024];
        let n = crate::allowed_cpus(&mut cpus);
        assert!(n >= 1);
        for &c in &cpus[..n] {
            assert!(fence_cpu(c).is_ok(), "cpu {c}");
        }
        // The fallback, forced: it visits, and the affinity comes back.
        set_fallback_only(true);
        for &c in &cpus[..n] {
            assert_eq!(fence_cpu(c), Ok(Fence::Visited), "cpu {c}");
        }
        set_fallback_only(false);
        // The shared fence visits whatever the private command can do.
        for &c in &cpus[..n] {
            assert_eq!(fence_cpu_shared(c), Ok(Fence::Visited), "cpu {c}");
        }
        let mut after = [0u32; 1024];
        assert_eq!(crate::allowed_cpus(&mut after), n, "affinity restored");
        assert_eq!(fence_cpu(1024), Err(-EINVAL));
        assert_eq!(fence_cpu_shared(1024), Err(-EINVAL));
    }
}
