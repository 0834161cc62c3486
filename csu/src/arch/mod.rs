//! The entry that calls `rseq_libc_csu_init` before any constructor where
//! the libc runs no `.preinit_array` (musl), per architecture: an `.init`
//! fragment (x86-64, aarch64), or an early `.init_array` entry (riscv64).

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
mod aarch64;

#[cfg(target_arch = "riscv64")]
mod riscv64;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!(
    "rseq-csu: no arch module for this target: add src/arch/<arch>.rs with the .init fragment"
);
