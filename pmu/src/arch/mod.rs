//! The read of the current CPU's counter, as one restartable sequence per
//! architecture, and the system call numbers this crate needs beyond
//! `rseq_abi`'s.
//!
//! # The sequence (every architecture, the same steps)
//!
//! Publish the descriptor in `rseq_cs`, then, inside `[start_ip,
//! post_commit_ip)`:
//!
//! 1. load `cpu_id` from the area; negative: no registered area
//!    ([`STATUS_NO_RSEQ`]);
//! 2. the set's CPU map gives the entry of that CPU's PMU type (a CPU at or
//!    beyond [`crate::MAX_CPUS`] or one no entry covers: [`STATUS_NO_EVENT`]);
//! 3. (test hook) if the set's injection counter is non-zero, decrement it
//!    and trap (`brk` / `int3`): the kernel aborts the section when it
//!    delivers the `SIGTRAP`, deterministically;
//! 4. the entry's `perf_event_mmap_page`: `lock` (the seqlock), `index`,
//!    `offset`, `capabilities`, `pmc_width`; `cap_user_rdpmc` clear:
//!    [`STATUS_NO_ACCESS`]; `index` 0 (not on a hardware counter now, or a
//!    software event): [`STATUS_NO_INDEX`];
//! 5. the hardware counter `index - 1` (`mrs` / `rdpmc`);
//! 6. `lock` again: changed (the kernel rewrote the page: an update from an
//!    interrupt on this CPU, which does not abort the section):
//!    [`STATUS_PAGE_CHANGED`], and the caller runs the sequence again;
//! 7. the commit: reaching `post_commit_ip` ([`STATUS_USER`]).
//!
//! Nothing is stored: the section exists so that steps 1 to 5 run on one
//! CPU without preemption. A migration (or preemption, or a signal) between
//! reading `cpu_id` and reading the counter would pair one CPU's PMU type
//! (its event's page) with another CPU's counter registers; the kernel
//! restarts the section instead, at the abort handler, which returns
//! [`STATUS_ABORTED`] and the caller runs the sequence again. The page's
//! seqlock needs no fence: the kernel writes the page either while the task
//! is off CPU (a context switch, which aborts the section) or from an
//! interrupt on this CPU, and a CPU observes its own interrupt's stores in
//! program order (perf's own self-monitoring code uses a compiler barrier
//! only).
//!
//! Offsets in `perf_event_mmap_page` (`include/uapi/linux/perf_event.h`):
//! `lock` 8, `index` 12, `offset` 16, `capabilities` 40 (`cap_user_rdpmc`
//! is bit 2), `pmc_width` 48.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!(
    "rseq-pmu: no architecture module: it must provide nr::PERF_EVENT_OPEN, \
     nr::GETDENTS64, CONFIG1_USER_READ, CONFIG1_USER_READ_64BIT and read_sequence"
);

/// The section committed: `pmc`, `offset` and `width` are one consistent
/// snapshot of the entry's page and its hardware counter.
pub const STATUS_USER: u32 = 0;
/// The kernel aborted the section (preemption, migration, signal).
pub const STATUS_ABORTED: u32 = 1;
/// The thread has no registered rseq area (`cpu_id` < 0).
pub const STATUS_NO_RSEQ: u32 = 2;
/// No entry of the set covers the current CPU.
pub const STATUS_NO_EVENT: u32 = 3;
/// The page's `cap_user_rdpmc` is clear: user access is off for the event.
pub const STATUS_NO_ACCESS: u32 = 4;
/// The page's `index` is 0: the event is on no hardware counter now (not
/// scheduled, or a software event, which never is).
pub const STATUS_NO_INDEX: u32 = 5;
/// The page's seqlock moved during the read: run the sequence again (not
/// a restart by the kernel).
pub const STATUS_PAGE_CHANGED: u32 = 7;
/// The counter `index - 1` is one this code does not read (aarch64: the
/// FEAT_PMUv3p9 instruction counter), or the architecture has no user
/// counter read here at all.
pub const STATUS_UNSUPPORTED: u32 = 6;

/// What one run of the sequence saw.
#[derive(Debug, Clone, Copy)]
pub struct SequenceOutput {
    /// One of the `STATUS_*` constants.
    pub status: u32,
    /// `cpu_id` read inside the section (valid from [`STATUS_NO_EVENT`] on,
    /// and for [`STATUS_USER`]).
    pub cpu: u32,
    /// The entry of the CPU's PMU type (valid from [`STATUS_NO_ACCESS`] on,
    /// and for [`STATUS_USER`]).
    pub entry: u32,
    /// The raw hardware counter ([`STATUS_USER`] only).
    pub pmc: u64,
    /// The page's `offset` ([`STATUS_USER`] only).
    pub offset: u64,
    /// The page's `pmc_width` ([`STATUS_USER`] only).
    pub width: u32,
    /// The page's `index`: the hardware counter read plus one
    /// ([`STATUS_USER`] only).
    pub index: u32,
}
