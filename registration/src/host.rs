//! Whether the host libc registers threads itself, found once per process.
//!
//! - A static glibc links its own `__rseq_offset`/`__rseq_size`, which then
//!   win over the component's weak ones.
//! - A dynamic glibc defines them in ld.so (the program interpreter,
//!   `AT_BASE`); the component's hidden copy stays private to the
//!   executable, so they are looked up in ld.so's dynamic symbol table, and
//!   mirrored into that copy for the executable's own readers.
//! - Otherwise (musl, glibc < 2.35, the standalone libc) no libc registers,
//!   and the component's definitions are the program's.

use crate::auxv;
use crate::elf::LoadedImage;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicIsize, AtomicU32, AtomicU8, Ordering};
use rseq_abi::arch::rseq_symbols;

/// What the host libc does about rseq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRseq {
    /// The libc registered its threads: each one's area is at the thread
    /// pointer plus `offset`; `size` is the libc's `__rseq_size` as published.
    Registered {
        /// `__rseq_offset`.
        offset: isize,
        /// `__rseq_size` (20 or 32 in glibc 2.35-2.40, the feature size later).
        size: u32,
    },
    /// The libc supports rseq but did not register (disabled with
    /// `glibc.pthread.rseq=0`, or the kernel refused): `__rseq_size` is 0.
    NotRegistered,
    /// No libc in the process knows rseq: the component's symbols are the
    /// program's.
    Unsupported,
}

/// Where the libc's symbols were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolSource {
    /// Linked into the program (static glibc).
    Linked,
    /// Exported by the program interpreter (dynamic glibc's ld.so).
    Interpreter,
    /// Nowhere: the component's own definitions.
    Component,
}

const UNKNOWN: u8 = 0;
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
static OFFSET: AtomicIsize = AtomicIsize::new(0);
static SIZE: AtomicU32 = AtomicU32::new(0);

fn encode(host: HostRseq, source: SymbolSource) -> u8 {
    let h = match host {
        HostRseq::Registered { .. } => 1,
        HostRseq::NotRegistered => 2,
        HostRseq::Unsupported => 3,
    };
    let s = match source {
        SymbolSource::Linked => 0,
        SymbolSource::Interpreter => 4,
        SymbolSource::Component => 8,
    };
    h | s
}

/// The host's rseq status and where its symbols live (cached).
pub fn host() -> (HostRseq, SymbolSource) {
    let mut st = STATE.load(Ordering::Acquire);
    if st == UNKNOWN {
        let (host, source) = detect();
        if let HostRseq::Registered { offset, size } = host {
            OFFSET.store(offset, Ordering::Relaxed);
            SIZE.store(size, Ordering::Relaxed);
        }
        st = encode(host, source);
        STATE.store(st, Ordering::Release);
    }
    let host = match st & 3 {
        1 => HostRseq::Registered {
            offset: OFFSET.load(Ordering::Relaxed),
            size: SIZE.load(Ordering::Relaxed),
        },
        2 => HostRseq::NotRegistered,
        _ => HostRseq::Unsupported,
    };
    let source = match st & 12 {
        0 => SymbolSource::Linked,
        4 => SymbolSource::Interpreter,
        _ => SymbolSource::Component,
    };
    (host, source)
}

fn detect() -> (HostRseq, SymbolSource) {
    let (off, size, _, own) = rseq_symbols();
    let from = |o: *const isize, s: *const u32| {
        // SAFETY: both point to the libc's published (read-only) symbols.
        let (o, s) = unsafe { (read_volatile(o), read_volatile(s)) };
        if s > 0 {
            HostRseq::Registered { offset: o, size: s }
        } else {
            HostRseq::NotRegistered
        }
    };
    if !own {
        return (from(off, size), SymbolSource::Linked);
    }
    let v = auxv::values();
    // AT_BASE is 0 when glibc's ld.so runs as a command (`ld.so ./program`,
    // glibc's testrun.sh): then it is found through the program's DT_DEBUG.
    let base = match v.base {
        // SAFETY: AT_PHDR/AT_PHNUM describe the program's mapped headers;
        // before constructors ld.so has filled DT_DEBUG, if present.
        0 => unsafe { crate::elf::interpreter_base_from_debug(v.phdr, v.phnum) },
        b => b,
    };
    // SAFETY: AT_BASE (or r_ldbase) is the program interpreter's mapped ELF
    // image (or 0).
    if let Some(ld) = unsafe { LoadedImage::at(base) } {
        if let (Some(o), Some(s)) = (ld.lookup(b"__rseq_offset"), ld.lookup(b"__rseq_size")) {
            let host = from(o as *const isize, s as *const u32);
            if let HostRseq::Registered { offset, size: sz } = host {
                // SAFETY: the component's own writable copy (own == true).
                unsafe {
                    write_volatile(off, offset);
                    write_volatile(size, sz);
                }
            }
            return (host, SymbolSource::Interpreter);
        }
    }
    (HostRseq::Unsupported, SymbolSource::Component)
}

/// Publishes the component's registration in its own `__rseq_offset` and
/// `__rseq_size`, where they are the program's (no libc defines them).
/// Called after the first successful registration; the offset from the
/// thread pointer is the same in every thread (initial-exec TLS).
pub(crate) fn publish_own(offset: isize, feature_size: u32) {
    let (off, size, _, own) = rseq_symbols();
    if own {
        // SAFETY: the component's own writable definitions.
        unsafe {
            write_volatile(off, offset);
            write_volatile(size, feature_size);
        }
    }
}
