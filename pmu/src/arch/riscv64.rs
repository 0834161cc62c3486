//! riscv64: no user counter read yet (the SBI PMU's user access, through
//! `rdcycle`/`hpmcounter` CSRs and `scounteren`, is not wired here); every
//! read falls back to `read(2)` and says so ([`super::STATUS_UNSUPPORTED`]).

use super::SequenceOutput;
use rseq_abi::Rseq;

/// System call numbers of this crate beyond `rseq_abi::arch::nr` (the
/// generic table).
pub mod nr {
    /// perf_event_open(2)
    pub const PERF_EVENT_OPEN: usize = 241;
    /// getdents64(2)
    pub const GETDENTS64: usize = 61;
}

/// No `config1` bits: no user read on this architecture yet.
pub const CONFIG1_USER_READ: u64 = 0;
/// See [`CONFIG1_USER_READ`].
pub const CONFIG1_USER_READ_64BIT: u64 = 0;
/// No user read, so no switch to check.
pub const NEEDS_PERF_USER_ACCESS: bool = false;

/// No sequence on this architecture: always [`super::STATUS_UNSUPPORTED`].
///
/// # Safety
/// None beyond the other architectures' contract (nothing is dereferenced).
#[inline]
pub unsafe fn read_sequence(
    _area: *mut Rseq,
    _pages: *const usize,
    _map: *const u8,
    _inject: *mut u32,
) -> SequenceOutput {
    SequenceOutput {
        status: super::STATUS_UNSUPPORTED,
        cpu: 0,
        entry: 0,
        pmc: 0,
        offset: 0,
        width: 0,
        index: 0,
    }
}
