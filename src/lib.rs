//! rseq-libc: Linux restartable sequences support for a C library.
//!
//! This crate is the component a libc, or a program whose libc does not
//! register rseq, links in: `target/release/librseq_libc.a`. It bundles
//!
//! - [`rseq_abi`]: the kernel ABI and the architecture primitives;
//! - [`rseq_registration`]: owning or adopting each thread's registration;
//! - [`rseq_csu`]: registering the main thread before constructors;
//! - [`rseq_sched_getcpu`]: `sched_getcpu` and `getcpu` from the area;
//! - [`rseq_pmu`]: self-monitoring PMU counters read per PMU type in one
//!   restartable sequence (C API of `headers/rseq-pmu.h`, see [`pmu_capi`]);
//!
//! and exports the C API of `headers/rseq-libc.h` (see [`capi`]), and on
//! x86-64 and aarch64 the per-CPU C API of `headers/rseq-percpu.h`
//! (`percpu_capi`, over `rseq_percpu`). The per-CPU sequences exist for
//! those two only so far (docs/architectures.md): on riscv64 the crate is
//! built without `rseq_percpu`, and the archive exports no `rseq_percpu_*`
//! symbol (the header says so with `#error`). Built
//! for a shared object (`--no-default-features`), it keeps that object
//! mapped after `dlclose` (see `unload`).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[cfg(all(
    feature = "bench-hooks",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[allow(unsafe_code)]
pub mod bench_hooks;
#[allow(unsafe_code)]
pub mod capi;
#[allow(unsafe_code)]
pub mod pmu_capi;
// The per-CPU sequences exist for x86-64 and aarch64 so far (issue 21).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[allow(unsafe_code)]
pub mod percpu_capi;
/// Shared-object build only: keeps the object mapped after `dlclose`.
#[cfg(not(feature = "startup-hooks"))]
#[allow(unsafe_code)]
pub mod unload;

pub use rseq_abi;
pub use rseq_csu;
pub use rseq_pmu;
pub use rseq_pthread_hooks;
pub use rseq_registration;
pub use rseq_sched_getcpu;

/// The static library holds one object per crate, and a linker pulls an
/// object in only for a symbol it needs. Every program that calls the C API
/// pulls this crate's object; this reference pulls the startup hooks with it
/// (feature `startup-hooks`, on by default; executables only).
#[cfg(feature = "startup-hooks")]
#[used]
static LINK_STARTUP_HOOKS: extern "C" fn() = rseq_csu::rseq_libc_csu_init;

/// Keeps the pthread hooks' object (and its `rseq_libc_pthread_create`, the
/// target of `-Wl,--defsym=pthread_create=rseq_libc_pthread_create`) in every
/// link that uses the C API; it references the libc only weakly.
#[used]
static LINK_PTHREAD_HOOKS: unsafe extern "C" fn(
    *mut usize,
    *const core::ffi::c_void,
    Option<rseq_pthread_hooks::StartRoutine>,
    *mut core::ffi::c_void,
) -> core::ffi::c_int = rseq_pthread_hooks::rseq_libc_pthread_create;

/// No panic is expected on any path; if one happens anyway, say so on
/// stderr and end the process (unwinding is impossible in a libc component).
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    use rseq_abi::arch::{nr, syscall1, syscall3};
    let msg = b"rseq-libc: internal error (panic)\n";
    #[allow(unsafe_code)]
    // SAFETY: write(2) to stderr of a static buffer, then exit_group(2).
    unsafe {
        syscall3(nr::WRITE, 2, msg.as_ptr() as usize, msg.len());
        syscall1(nr::EXIT_GROUP, 127);
    }
    #[allow(clippy::empty_loop)]
    loop {}
}
