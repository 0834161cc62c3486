//! Owns or adopts the calling thread's rseq registration.
//!
//! Exactly one party registers a thread: when the host libc did (glibc >= 2.35
//! with rseq enabled), the component adopts that area and never calls the
//! syscall; otherwise it registers its own area in TLS. Everything runs with
//! raw syscalls, no allocation and no panics, so that it can run before
//! constructors, in signal handlers, and inside a libc's dynamic linker.
//!
//! A Rust program uses it to ask who registered the calling thread
//! ([`owner`], [`status`]), to get the thread's area ([`current_area`]),
//! to register or unregister a thread explicitly
//! ([`register_current_thread`], [`unregister_current_thread`]), and to
//! request a time-slice extension around a short critical section
//! ([`slice`](mod@slice)). Every query registers a thread that never tried first
//! ("lazy registration", with the application's signals blocked), so the
//! answer never depends on whether something registered it earlier.
//! The per-CPU operations built on the area are in the `rseq-percpu` crate;
//! the C API, the startup and thread hooks in the `rseq-libc` bundle
//! (`docs/hosts.md` in the repository: which party owns registration in
//! which host, and why).
//!
//! # Example
//!
//! Who registered this thread, and its area. Under glibc 2.35+ the libc
//! owns registration unless `GLIBC_TUNABLES=glibc.pthread.rseq=0` turns it
//! off, and then the component registers its own area; on a kernel
//! without rseq (or with rseq hidden by a seccomp filter) nobody does, and
//! the reason says so.
//!
//! ```
//! use rseq_registration::{current_area, owner, status, Owner, Reason};
//!
//! let st = status();
//! assert_eq!(st.owner, owner());
//! match st.owner {
//!     Owner::Libc | Owner::Component => {
//!         assert_eq!(st.reason, Reason::Registered);
//!         let area = current_area().expect("a registered thread has an area");
//!         assert_eq!(Some(area), st.area);
//!         // The kernel fills at least the original 20 bytes, and keeps
//!         // `cpu_id` at the CPU the thread runs on (never negative while
//!         // the area is registered).
//!         assert!(st.feature_size >= 20);
//!         // SAFETY: the calling thread's registered area, valid for the
//!         // thread's life; the kernel writes it, hence volatile.
//!         let cpu = unsafe { core::ptr::read_volatile(&(*area.as_ptr()).cpu_id) };
//!         assert!((cpu as i32) >= 0);
//!     }
//!     Owner::None => {
//!         assert_ne!(st.reason, Reason::Registered);
//!         assert!(current_area().is_none());
//!         assert_eq!(st.feature_size, 0);
//!     }
//! }
//! // glibc's tunable decides between the libc and the component.
//! let glibc_off = std::env::var("GLIBC_TUNABLES")
//!     .is_ok_and(|t| t.contains("glibc.pthread.rseq=0"));
//! if glibc_off {
//!     assert_ne!(st.owner, Owner::Libc);
//! }
//! // The same answers in every thread, each for its own area.
//! let other = std::thread::spawn(|| (owner(), current_area().map(|a| a.as_ptr() as usize)))
//!     .join()
//!     .unwrap();
//! assert_eq!(other.0, st.owner);
//! if st.owner != Owner::None {
//!     assert_ne!(other.1, st.area.map(|a| a.as_ptr() as usize));
//! }
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

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

/// The crate's README (crates.io's page): its example runs as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
