//! Main-thread registration before the program's constructors.
//!
//! Two entries reach [`register_main_thread`], whichever the host runs first:
//!
//! - `.preinit_array`: glibc (static and dynamic) runs the executable's
//!   preinit functions before every constructor, including those of
//!   DT_NEEDED libraries, and passes them `envp`, from which the
//!   auxiliary vector is read without opening `/proc`.
//! - a fragment of `.init` (between crti's `_init` prologue and crtn's
//!   epilogue): musl runs no `.preinit_array`, and calls `_init` before
//!   any `.init_array` entry. On riscv64, where neither libc has `_init`,
//!   an `.init_array` entry of priority 0 takes its place (`arch`).
//!
//! Registration is idempotent, so in glibc the second entry costs a TLS
//! load. Code that runs earlier still (IFUNC resolvers, or a constructor of
//! a library that links this component without the executable doing so)
//! gets the thread registered lazily by its first API call.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod arch;

use core::ffi::c_int;

/// Registers (or adopts) the calling thread's area, as the first API call
/// of a never-registered thread would. Never fails loudly: a thread that
/// cannot register keeps `cpu_id == -2` and every reader falls back.
/// Where every thread starts through the pthread hooks, the component may
/// publish its registration in `__rseq_offset` / `__rseq_size` (see
/// [`rseq_registration::promise_every_thread_registered_at_start`]).
pub fn register_main_thread() {
    if rseq_pthread_interpose::every_thread_start_hooked() {
        rseq_registration::promise_every_thread_registered_at_start();
    }
    let _ = rseq_registration::status();
}

/// `.preinit_array` entry: glibc passes `(argc, argv, envp)`.
///
/// # Safety
/// Called by the libc with the process's original `envp`.
#[allow(unsafe_code)]
unsafe extern "C" fn preinit(_argc: c_int, _argv: *const *const u8, envp: *const *const u8) {
    // SAFETY: glibc hands preinit functions the kernel's envp, before any
    // code of the program could have replaced it.
    unsafe { rseq_registration::auxv::init_from_envp(envp) };
    register_main_thread();
}

#[allow(unsafe_code)]
#[used]
#[link_section = ".preinit_array"]
static PREINIT: unsafe extern "C" fn(c_int, *const *const u8, *const *const u8) = preinit;

/// Called from the `.init` fragment or early `.init_array` entry (see `arch`). Public so that the
/// bundle can hold a reference to it: the static library keeps one object
/// per crate, and a linker only pulls this one in when something refers to it.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn rseq_libc_csu_init() {
    register_main_thread();
}
