//! `__wrap_pthread_create`, the entry of the pthread hooks for links with
//! `-Wl,--wrap=pthread_create` (static glibc, static musl, and the calls of
//! a dynamic executable itself). The linker sends the program's calls here
//! and resolves `__real_pthread_create` to the libc's `pthread_create`.
//!
//! A crate of its own because its strong reference to `__real_pthread_create`
//! is undefined in a link without `--wrap`: the static library holds one
//! object per crate, and this one is only pulled in by the `--wrap` link.
//! Its strong references to the other pthread functions pull them out of a
//! static libc, for the hooks' weak-free use.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod entry {
    use core::ffi::{c_int, c_uint, c_void};
    use rseq_pthread_hooks::{create_hooked, PthreadFns, StartRoutine};

    extern "C" {
        fn __real_pthread_create(
            thread: *mut usize,
            attr: *const c_void,
            start: Option<StartRoutine>,
            arg: *mut c_void,
        ) -> c_int;
        fn pthread_key_create(
            key: *mut c_uint,
            destructor: Option<unsafe extern "C" fn(*mut c_void)>,
        ) -> c_int;
        fn pthread_setspecific(key: c_uint, value: *const c_void) -> c_int;
        fn pthread_join(thread: usize, result: *mut *mut c_void) -> c_int;
        fn pthread_attr_getdetachstate(attr: *const c_void, state: *mut c_int) -> c_int;
    }

    static FNS: PthreadFns = PthreadFns {
        create: __real_pthread_create,
        key_create: pthread_key_create,
        setspecific: pthread_setspecific,
        join: pthread_join,
        attr_getdetachstate: pthread_attr_getdetachstate,
    };

    /// `pthread_create` with the start and exit hooks.
    ///
    /// # Safety
    /// The arguments are those of `pthread_create(3)`.
    #[no_mangle]
    pub unsafe extern "C" fn __wrap_pthread_create(
        thread: *mut usize,
        attr: *const c_void,
        start: Option<StartRoutine>,
        arg: *mut c_void,
    ) -> c_int {
        // SAFETY: the caller's arguments and the libc's functions.
        unsafe { create_hooked(&FNS, thread, attr, start, arg) }
    }
}

pub use entry::__wrap_pthread_create;
