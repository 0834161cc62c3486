//! The standalone libc's start: `_start` and the start routine.
//!
//! Order, so that the main thread's rseq area is registered before any
//! code of the program can read it:
//!
//! 1. read argc, argv, envp and the auxiliary vector from the initial stack;
//! 2. `-static-pie`: apply the `R_X86_64_RELATIVE` relocations (before
//!    touching TLS: the `.tdata` image may hold relocated words);
//! 3. lay out the main thread's TLS and install the thread pointer
//!    (dl-early-tls), reserving the rseq area beside it;
//! 4. declare that area to the component, hand it the auxiliary vector,
//!    and register the main thread (which publishes `__rseq_offset` and
//!    `__rseq_size`);
//! 5. apply `R_X86_64_IRELATIVE` relocations: IFUNC resolvers run now;
//! 6. run `.preinit_array` and `.init_array` with `(argc, argv, envp)`;
//! 7. `exit(main(argc, argv, envp))`; the libc's `exit` runs its atexit
//!    handlers, then [`run_fini_array`].
//!
//! This is a separate crate from `rseq-csu`: that one links into glibc and
//! musl programs, whose crt1.o has its own `_start`.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod arch;
#[allow(unsafe_code)]
mod start;

pub use start::{argv, auxv, environ, run_fini_array};

#[cfg(not(test))]
pub(crate) use start::start;
