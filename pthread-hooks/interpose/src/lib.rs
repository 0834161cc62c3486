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

#[allow(unsafe_code)]
mod arch;

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
        && rseq_abi::weak_function_address!("pthread_create") == arch::own_pthread_create()
        && rseq_abi::weak_function_address!("thrd_create") == arch::own_thrd_create()
}
