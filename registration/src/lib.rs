//! Owns or adopts the calling thread's rseq registration.
//!
//! Exactly one party registers a thread: when the host libc did (glibc >= 2.35
//! with rseq enabled), the component adopts that area and never calls the
//! syscall; otherwise it registers its own area in TLS. Everything runs with
//! raw syscalls, no allocation and no panics, so that it can run before
//! constructors, in signal handlers, and inside a libc's dynamic linker.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod auxv;
#[allow(unsafe_code)]
pub mod elf;
#[allow(unsafe_code)]
pub mod host;
pub mod reserved_area;
#[allow(unsafe_code)]
mod signals;
#[allow(unsafe_code)]
pub mod slice;
#[allow(unsafe_code)]
mod thread;

pub use host::{HostRseq, SymbolSource};
pub use reserved_area::{host_reserved_area, set_host_reserved_area};
pub use signals::{application_signals, SignalsBlocked};
pub use thread::{
    area, current_area, feature_size, inherit_unregistered, owner, program_registers_rseq,
    promise_every_thread_registered_at_start, reason, register_current_thread, register_new_thread,
    registration_error, registration_published, set_exit_step_armed_query, status,
    unregister_current_thread, unregister_current_thread_at_exit, Owner, Reason, Status,
};

/// Kernel facts this process registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRseq {
    /// `AT_RSEQ_FEATURE_SIZE`, or 20 where the kernel does not report one.
    pub feature_size: u32,
    /// `AT_RSEQ_ALIGN`, or 32 where the kernel does not report one.
    pub align: u32,
    /// Where those values came from.
    pub source: auxv::AuxvSource,
}

/// The kernel's rseq feature size and required alignment.
pub fn kernel() -> KernelRseq {
    let v = auxv::values();
    let fs = if v.rseq_feature_size == 0 {
        rseq_abi::ORIG_FEATURE_SIZE
    } else {
        v.rseq_feature_size.min(u32::MAX as usize) as u32
    };
    let al = if v.rseq_align == 0 {
        rseq_abi::ORIG_AREA_ALIGN
    } else {
        v.rseq_align.min(u32::MAX as usize) as u32
    };
    KernelRseq {
        feature_size: fs,
        align: al,
        source: v.source,
    }
}
