//! The per-thread cache of the calling thread's area, as the inline C
//! header keeps it: an initial-exec TLS pointer that starts at a constant
//! stand-in area whose `cpu_id` reads -1, so that the fast paths load it
//! and test nothing before their sections (which check `cpu_id >= 0`).

use core::sync::atomic::AtomicU32;
use rseq_abi::Rseq;

/// The stand-in area of a thread that has none cached yet (or any more):
/// `cpu_id` and `mm_cid` read -1, so the fast paths' index bound checks and
/// the sections' area check send the thread to the slow path, which looks
/// its area up ([`crate::thread_area`]). Sections that read the index themselves
/// publish their descriptor into it before the area check (it is never
/// registered, so the kernel never reads it): hence atomics, written by
/// `asm!` plain stores from any thread, read by nobody.
#[repr(C, align(32))]
struct NoArea([AtomicU32; 8]);

static NO_AREA: NoArea = NoArea([
    AtomicU32::new(0),
    AtomicU32::new(u32::MAX), // cpu_id
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(u32::MAX), // mm_cid
    AtomicU32::new(0),
]);

const _: () = assert!(core::mem::offset_of!(Rseq, cpu_id) == 4);
const _: () = assert!(core::mem::offset_of!(Rseq, rseq_cs) == 8);

// The per-thread cache of the area: a pointer to the `cpu_id` field of the
// calling thread's area (the register the sections address it by: see
// `arch::cpu_field`), starting at the stand-in's. Initial-exec TLS, as the
// component's own (`rseq_abi::arch`): one thread-pointer-relative load on
// the fast path (`arch::cpu_id_cache_load`), its offset hoisted out of loops. Written only by its own thread
// (a signal handler writes the same values). Global (hidden) because the
// accesses are inlined into other crates' objects.
core::arch::global_asm!(
    ".pushsection .tdata.rseq_percpu_cpu_id_cache,\"awT\",@progbits",
    ".balign 8",
    ".globl rseq_percpu_cpu_id_cache",
    ".hidden rseq_percpu_cpu_id_cache",
    ".type rseq_percpu_cpu_id_cache,@tls_object",
    ".size rseq_percpu_cpu_id_cache,8",
    "rseq_percpu_cpu_id_cache:",
    ".quad {no_area} + 4",
    ".popsection",
    no_area = sym NO_AREA,
);

/// The calling thread's cached `cpu_id` field (never null: the stand-in's
/// when nothing is cached). Not checked: the sections check `cpu_id >= 0`
/// themselves, and a thread without a usable area ends in the slow path.
#[inline(always)]
pub(crate) fn cached_cpu_field() -> *mut u32 {
    crate::arch::cpu_id_cache_load()
}

/// Caches `p` (a `cpu_id` field of this thread's area, or the stand-in's).
pub(crate) fn set_cached_cpu_field(p: *mut u32) {
    crate::arch::cpu_id_cache_store(p)
}

/// The stand-in's `cpu_id` field (what the cache holds without an area).
pub(crate) fn no_area_cpu_field() -> *mut u32 {
    NO_AREA.0[1].as_ptr()
}
