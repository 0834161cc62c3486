//! An executable's `pthread_create` and `thrd_create`: weak definitions
//! that enter the pthread hooks (`rseq_libc_pthread_create`,
//! `rseq_libc_thrd_create`), so that the README's plain link line hooks
//! thread start and exit with no linker flag.
//!
//! - Weak, so that a program or library that defines its own wins, and
//!   the first of two weak definitions (the libc's are weak too: musl's
//!   `pthread_create`, glibc's `libc.a` `pthread_create` and
//!   `thrd_create`) is this one, because the component's archive comes
//!   before the libc on the link line. musl's `thrd_create` is strong but
//!   sits alone in its archive member, which is then never pulled in.
//! - Strong references to libc functions that the hooks reach through weak
//!   ones: the hooks need them (`pthread_key_create`, `pthread_setspecific`,
//!   `pthread_getspecific`, `pthread_setcancelstate`, `malloc`, `free`), and a static link must contain the libc's own
//!   thread creation, `__pthread_create`, although this `pthread_create`
//!   displaced the libc's: `pthread_exit` sits in the same archive member
//!   in musl, and glibc's `mq_notify` calls `__pthread_create` (both exist
//!   in every libc, static or shared, so dynamic links resolve them too).
//! - `__wrap_pthread_create`, for links that still say
//!   `-Wl,--wrap=pthread_create`: the same entry.
//!
//! Executables only (the crate comes with the `startup-hooks` feature): a
//! shared object that defined `pthread_create` would take it over for the
//! whole process.
#![no_std]
#![deny(unsafe_code)]

use rseq_pthread_hooks::{rseq_libc_pthread_create, rseq_libc_thrd_create};
use rseq_registration::host::{host, HostRseq};

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod entries {
    // The trampolines only jump: every argument register passes through.
    core::arch::global_asm!(
        ".pushsection .text.rseq_libc_interpose,\"ax\",@progbits",
        ".weak pthread_create",
        ".type pthread_create, @function",
        ".globl rseq_libc_interpose_pthread_create",
        ".hidden rseq_libc_interpose_pthread_create",
        "rseq_libc_interpose_pthread_create:",
        "pthread_create:",
        "    jmp {pthread}",
        ".size pthread_create, . - pthread_create",
        ".weak thrd_create",
        ".type thrd_create, @function",
        ".globl rseq_libc_interpose_thrd_create",
        ".hidden rseq_libc_interpose_thrd_create",
        "rseq_libc_interpose_thrd_create:",
        "thrd_create:",
        "    jmp {c11}",
        ".size thrd_create, . - thrd_create",
        ".globl __wrap_pthread_create",
        ".type __wrap_pthread_create, @function",
        "__wrap_pthread_create:",
        "    jmp {pthread}",
        ".size __wrap_pthread_create, . - __wrap_pthread_create",
        ".popsection",
        pthread = sym super::rseq_libc_pthread_create,
        c11 = sym super::rseq_libc_thrd_create,
    );

    /// This crate's `pthread_create`, whether or not the link chose it.
    pub(super) fn own_pthread_create() -> usize {
        let p: usize;
        // SAFETY: computes an address; no memory is accessed.
        unsafe {
            core::arch::asm!(
                "lea {p}, [rip + rseq_libc_interpose_pthread_create]",
                p = out(reg) p,
                options(nostack, nomem, pure, preserves_flags)
            )
        };
        p
    }

    /// This crate's `thrd_create`, whether or not the link chose it.
    pub(super) fn own_thrd_create() -> usize {
        let p: usize;
        // SAFETY: computes an address; no memory is accessed.
        unsafe {
            core::arch::asm!(
                "lea {p}, [rip + rseq_libc_interpose_thrd_create]",
                p = out(reg) p,
                options(nostack, nomem, pure, preserves_flags)
            )
        };
        p
    }
}

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rseq-pthread-interpose: add the entry trampolines for this architecture");

#[allow(unsafe_code)]
mod anchors {
    extern "C" {
        fn pthread_exit();
        fn mq_notify();
        fn pthread_key_create();
        fn pthread_setspecific();
        fn pthread_getspecific();
        fn pthread_setcancelstate();
        fn malloc();
        fn free();
    }
    /// Never called: the strong references that pull these into a static
    /// link (see the crate documentation).
    #[used]
    static LIBC_FUNCTIONS: [unsafe extern "C" fn(); 8] = [
        pthread_exit,
        mq_notify,
        pthread_key_create,
        pthread_setspecific,
        pthread_getspecific,
        pthread_setcancelstate,
        malloc,
        free,
    ];
}

/// Whether every thread of this process runs registered from its first
/// instruction: a static link (no program interpreter, whose `libc.so`
/// would bind its own thread starts internally) whose libc knows nothing
/// of rseq (glibc starts some threads with internal calls), where this
/// crate's `pthread_create` and `thrd_create` are the ones the link chose
/// (musl's `mq_notify` and `aio` helpers call `pthread_create`), and
/// without `timer_create`: musl runs `SIGEV_THREAD` callbacks on one
/// thread that it recycles between callbacks (key destructors, then its
/// TLS re-initialized from the image, which must not happen under a
/// registration: Linux 7.1 kills a process that writes the kernel's
/// fields), so from the second callback on that thread registers at its
/// first API call.
pub fn every_thread_start_hooked() -> bool {
    rseq_registration::auxv::values().base == 0
        && matches!(host().0, HostRseq::Unsupported)
        && rseq_abi::weak_function_address!("timer_create") == 0
        && rseq_abi::weak_function_address!("pthread_create") == entries::own_pthread_create()
        && rseq_abi::weak_function_address!("thrd_create") == entries::own_thrd_create()
}
