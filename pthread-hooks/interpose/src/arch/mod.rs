//! The entry trampolines (`pthread_create`, `thrd_create`,
//! `__wrap_pthread_create`) and their own addresses, per architecture. The
//! trampolines only jump: every argument register passes through.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub(crate) use aarch64::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub(crate) use riscv64::*;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!("rseq-pthread-interpose: add src/arch/<arch>.rs with the entry trampolines");
