//! rseq-testlibc: a small standalone C library for testing the rseq
//! component with no glibc or musl in the process.
//!
//! `target/release/librseq_testlibc.a` holds the component (the `rseq-libc`
//! crate: C API, `sched_getcpu`, registration), the start code
//! (`rseq-csu-standalone`: `_start`), the TLS layout (`rseq-dl-early-tls`)
//! and the libc functions that the C tests use, with glibc's x86-64 types
//! and prototypes (`tests/testlibc/include`). A program links with
//!
//! ```text
//! gcc -static -nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)" \
//!     -fno-stack-protector -Iheaders -Itests/testlibc/include test.c \
//!     target/release/librseq_testlibc.a -lgcc
//! ```
//!
//! (or `-static-pie -fpie`). Threads get their TLS from dl-early-tls and
//! register rseq at their start with every signal blocked, and unregister
//! before they end.
#![no_std]
// This crate defines memcpy, memset and friends: the compiler must not
// turn their loops back into calls to themselves.
#![no_builtins]
#![deny(unsafe_code)]
// C names (stdout, errno's __errno_location...) are the contract here.
#![allow(non_upper_case_globals, non_camel_case_types)]

#[allow(unsafe_code)]
mod arch;
#[allow(unsafe_code)]
pub mod errno;
#[allow(unsafe_code)]
pub mod malloc;
#[allow(unsafe_code)]
pub mod process;
#[allow(unsafe_code)]
pub mod pthread;
#[allow(unsafe_code)]
pub mod signal;
#[allow(unsafe_code)]
pub mod stdio;
#[allow(unsafe_code)]
pub mod stdlib;
#[allow(unsafe_code)]
pub mod string;
pub mod sys;
#[allow(unsafe_code)]
pub mod unistd;

// The component: linked through this crate's references to it, and its
// object (with the panic handler, the C API and sched_getcpu) comes along.
pub use rseq_libc;
