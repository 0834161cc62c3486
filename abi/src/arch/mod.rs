//! The architecture surface: raw syscalls, the thread pointer, the rseq
//! signature, and the thread-local storage this component registers.
//! One module per architecture; others fail to build, naming what is missing.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "rseq-abi: no arch module for this target. Add src/arch/<arch>.rs with: \
     syscall0..syscall6, thread_pointer(), RSEQ_SIG, the nr:: syscall numbers, \
     and the TLS area / thread state / __rseq_* symbol definitions."
);

/// Bytes reserved for this component's own rseq area in each thread's TLS:
/// enough for feature sizes well past today's 33 (Linux 7.0).
pub const AREA_CAPACITY: u32 = 128;
/// Alignment of that area.
pub const AREA_ALIGN: u32 = 64;
/// Bytes of per-thread bookkeeping storage (see `thread_state_block`).
pub const THREAD_STATE_SIZE: usize = 32;
