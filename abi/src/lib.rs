//! The Linux restartable-sequences ABI: the structures shared with the kernel,
//! their constants, every architecture's signature and syscall number, and
//! (in [`arch`]) the few primitives that need assembly on the target:
//! raw syscalls, the thread pointer and the thread-local storage that the
//! component registers.
//!
//! Nothing here calls libc: the same object code links into a libc's dynamic
//! linker, into programs on glibc or musl, and into a standalone libc.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod arch;
mod tables;

pub use tables::{ArchInfo, ARCHITECTURES};

use core::mem::{align_of, offset_of, size_of};

/// `struct rseq`: the per-thread area the kernel updates on every return to
/// user space of the thread that registered it.
///
/// Only that thread reads it, with single-copy-atomic (volatile) loads: the
/// kernel writes it between any two instructions of the thread, so Rust code
/// handles it through raw pointers, never through references.
#[repr(C, align(32))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Rseq {
    /// Always a possible CPU number; compared with `cpu_id` before a commit.
    pub cpu_id_start: u32,
    /// The current CPU, or [`RSEQ_CPU_ID_UNINITIALIZED`] /
    /// [`RSEQ_CPU_ID_REGISTRATION_FAILED`] (as `u32`).
    pub cpu_id: u32,
    /// Address of the active [`RseqCs`], or 0.
    pub rseq_cs: u64,
    /// Deprecated per-thread critical-section flags; always 0.
    pub flags: u32,
    /// NUMA node of `cpu_id` (Linux 6.3; feature size >= 24).
    pub node_id: u32,
    /// Concurrency id: dense, below the number of threads and of CPUs
    /// (Linux 6.3; feature size >= 28).
    pub mm_cid: u32,
    /// `struct rseq_slice_ctrl` (Linux 7.0; feature size >= 33, V2
    /// registrations only): byte 0 `request` (set by the thread, cleared by
    /// the thread or the kernel), byte 1 `granted` (kernel-written, read-only
    /// for the thread), bytes 2-3 reserved. Padding in older layouts.
    pub slice_ctrl: u32,
}

/// `struct rseq_cs`: a critical-section descriptor, usually link-time
/// constant data in section `__rseq_cs`.
#[repr(C, align(32))]
#[derive(Debug, Clone, Copy, Default)]
pub struct RseqCs {
    /// Structure version: 0.
    pub version: u32,
    /// `RSEQ_CS_FLAG_*`.
    pub flags: u32,
    /// First instruction of the section.
    pub start_ip: u64,
    /// Length of the section: the commit instruction ends it.
    pub post_commit_offset: u64,
    /// Where the kernel resumes on abort; preceded by the signature.
    pub abort_ip: u64,
}

const _: () = {
    assert!(size_of::<Rseq>() == 32 && align_of::<Rseq>() == 32);
    assert!(offset_of!(Rseq, cpu_id_start) == 0);
    assert!(offset_of!(Rseq, cpu_id) == 4);
    assert!(offset_of!(Rseq, rseq_cs) == 8);
    assert!(offset_of!(Rseq, flags) == 16);
    assert!(offset_of!(Rseq, node_id) == 20);
    assert!(offset_of!(Rseq, mm_cid) == 24);
    assert!(offset_of!(Rseq, slice_ctrl) == SLICE_CTRL_OFFSET);
    assert!(size_of::<RseqCs>() == 32 && align_of::<RseqCs>() == 32);
    assert!(offset_of!(RseqCs, version) == 0);
    assert!(offset_of!(RseqCs, flags) == 4);
    assert!(offset_of!(RseqCs, start_ip) == 8);
    assert!(offset_of!(RseqCs, post_commit_offset) == 16);
    assert!(offset_of!(RseqCs, abort_ip) == 24);
};

/// `cpu_id` before the area is registered.
pub const RSEQ_CPU_ID_UNINITIALIZED: i32 = -1;
/// `cpu_id` after registration failed (glibc writes it; so does rseq-libc).
pub const RSEQ_CPU_ID_REGISTRATION_FAILED: i32 = -2;
/// `flags` argument of `rseq()` that unregisters.
pub const RSEQ_FLAG_UNREGISTER: i32 = 1;
/// `flags` argument of `rseq()` (Linux 7.0): enable the time-slice
/// extension for the registered thread at once, where the kernel offers it
/// (V2 registration, `CONFIG_RSEQ_SLICE_EXTENSION`, not disabled with
/// `rseq_slice_ext=0`). Earlier kernels answer `EINVAL` to it.
pub const RSEQ_FLAG_SLICE_EXT_DEFAULT_ON: i32 = 1 << 1;
/// `Rseq::flags` bit the kernel sets (read-only for the thread): the
/// time-slice extension is available for this registration.
pub const RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE: u32 = 1 << 4;
/// `Rseq::flags` bit the kernel sets (read-only for the thread): the
/// time-slice extension is enabled for this thread.
pub const RSEQ_CS_FLAG_SLICE_EXT_ENABLED: u32 = 1 << 5;
/// Offset of `struct rseq_slice_ctrl` in the area.
pub const SLICE_CTRL_OFFSET: usize = 28;
/// Offset of `rseq_slice_ctrl::request` (a byte) in the area.
pub const SLICE_REQUEST_OFFSET: usize = SLICE_CTRL_OFFSET;
/// Offset of `rseq_slice_ctrl::granted` (a byte) in the area.
pub const SLICE_GRANTED_OFFSET: usize = SLICE_CTRL_OFFSET + 1;
/// Feature size that includes the time-slice control (Linux 7.0: the 4
/// bytes of `slice_ctrl` and one reserved byte).
pub const FEATURE_SIZE_SLICE: u32 = 33;
/// `prctl` option of the time-slice extension (Linux 7.0).
pub const PR_RSEQ_SLICE_EXTENSION: usize = 79;
/// Its sub-command that reads the thread's state.
pub const PR_RSEQ_SLICE_EXTENSION_GET: usize = 1;
/// Its sub-command that sets the thread's state.
pub const PR_RSEQ_SLICE_EXTENSION_SET: usize = 2;
/// The state bit of `PR_RSEQ_SLICE_EXTENSION_GET` / `_SET`: enabled.
pub const PR_RSEQ_SLICE_EXT_ENABLE: usize = 1;
/// Critical-section flag: do not restart on preemption (deprecated).
pub const RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT: u32 = 1 << 0;
/// Critical-section flag: do not restart on signal delivery (deprecated).
pub const RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL: u32 = 1 << 1;
/// Critical-section flag: do not restart on migration (deprecated).
pub const RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE: u32 = 1 << 2;

/// The feature size of kernels that do not report one (4.18 to 6.2).
pub const ORIG_FEATURE_SIZE: u32 = 20;
/// The registration length every kernel accepts, with 32-byte alignment.
pub const ORIG_AREA_SIZE: u32 = 32;
/// The alignment every kernel accepts for a 32-byte registration.
pub const ORIG_AREA_ALIGN: u32 = 32;
/// Feature size that includes `node_id`.
pub const FEATURE_SIZE_NODE_ID: u32 = 24;
/// Feature size that includes `mm_cid`.
pub const FEATURE_SIZE_MM_CID: u32 = 28;

/// Auxiliary-vector key of the kernel's rseq feature size (Linux 6.3).
pub const AT_RSEQ_FEATURE_SIZE: usize = 27;
/// Auxiliary-vector key of the required rseq area alignment (Linux 6.3).
pub const AT_RSEQ_ALIGN: usize = 28;
/// Auxiliary-vector key of the vDSO's ELF header.
pub const AT_SYSINFO_EHDR: usize = 33;
/// Auxiliary-vector key of the program interpreter's load address.
pub const AT_BASE: usize = 7;
/// Auxiliary-vector key of the page size.
pub const AT_PAGESZ: usize = 6;
/// Auxiliary-vector key of the program headers' address.
pub const AT_PHDR: usize = 3;
/// Auxiliary-vector key of the number of program headers.
pub const AT_PHNUM: usize = 5;
/// Auxiliary-vector terminator.
pub const AT_NULL: usize = 0;

/// `membarrier` command that restarts rseq critical sections on other CPUs.
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: i32 = 1 << 7;
/// `membarrier` command that registers for the one above.
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: i32 = 1 << 8;

/// Error numbers the registration paths return (negated), Linux generic values.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// No such process (here: the thread is exiting).
    pub const ESRCH: i32 = 3;
    /// Interrupted system call.
    pub const EINTR: i32 = 4;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Function not implemented.
    pub const ENOSYS: i32 = 38;
    /// Operation not supported (here: on a thread the hooks did not start).
    pub const EOPNOTSUPP: i32 = 95;
    /// Operation canceled.
    pub const ECANCELED: i32 = 125;
}
