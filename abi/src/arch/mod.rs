//! The architecture surface: raw syscalls, the thread pointer, the rseq
//! signature, and the thread-local storage this component registers.
//! One module per architecture; others fail to build, naming what is missing.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

// aarch64 and riscv64 share the kernel's generic syscall table.
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
mod asm_generic;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!(
    "rseq-abi: no arch module for this target. Add src/arch/<arch>.rs with: \
     syscall0..syscall6, thread_pointer(), RSEQ_SIG, the nr:: syscall numbers, \
     the TLS accessors (own_area, legacy_abi_area, thread_state_block), \
     rseq_symbols() and weak_function_address!."
);

#[cfg(test)]
mod tests;

/// Bytes reserved for this component's own rseq area in each thread's TLS:
/// enough for feature sizes well past today's 33 (Linux 7.0).
pub const AREA_CAPACITY: u32 = 128;
/// Alignment of that area.
pub const AREA_ALIGN: u32 = 64;
/// Bytes of per-thread bookkeeping storage (see `thread_state_block`).
pub const THREAD_STATE_SIZE: usize = 32;

// The directives below mean the same on every ELF target; only the code
// that reaches these symbols is per architecture.
//
// The component's TLS: its own rseq area, whose first 32 bytes are also the
// legacy `__rseq_abi` (weak, so a program or library that still defines one
// keeps its own), and the per-thread bookkeeping.
//
// `__rseq_offset`, `__rseq_size` and `__rseq_flags` with glibc's meaning, for
// hosts whose libc does not define them (musl, the standalone libc). They are
// weak, so a static glibc's definitions win without a duplicate-symbol error,
// and hidden, so that in a dynamically linked program they never interpose on
// ld.so's exported ones: only the executable (or library) that links this
// component sees this copy, and the component mirrors glibc's values into it
// when glibc owns registration.
core::arch::global_asm!(
    ".pushsection .tdata.rseq_libc_thread_area,\"awT\",@progbits",
    ".balign 64",
    ".globl rseq_libc_thread_area",
    ".hidden rseq_libc_thread_area",
    ".type rseq_libc_thread_area,@tls_object",
    ".size rseq_libc_thread_area,128",
    "rseq_libc_thread_area:",
    ".weak __rseq_abi",
    ".type __rseq_abi,@tls_object",
    ".size __rseq_abi,32",
    "__rseq_abi:",
    ".long 0",          // cpu_id_start
    ".long 0xffffffff", // cpu_id = RSEQ_CPU_ID_UNINITIALIZED
    ".zero 120",
    ".popsection",
    ".pushsection .tbss.rseq_libc_thread_state,\"awT\",@nobits",
    ".balign 16",
    ".globl rseq_libc_thread_state",
    ".hidden rseq_libc_thread_state",
    ".type rseq_libc_thread_state,@tls_object",
    ".size rseq_libc_thread_state,32",
    "rseq_libc_thread_state:",
    ".zero 32",
    ".popsection",
    ".pushsection .data.rseq_libc_rseq_symbols,\"aw\",@progbits",
    ".balign 8",
    ".globl rseq_libc_own_rseq_symbols",
    ".hidden rseq_libc_own_rseq_symbols",
    "rseq_libc_own_rseq_symbols:",
    ".weak __rseq_offset",
    ".hidden __rseq_offset",
    ".type __rseq_offset,@object",
    ".size __rseq_offset,8",
    "__rseq_offset:",
    ".quad 0",
    ".weak __rseq_size",
    ".hidden __rseq_size",
    ".type __rseq_size,@object",
    ".size __rseq_size,4",
    "__rseq_size:",
    ".long 0",
    ".weak __rseq_flags",
    ".hidden __rseq_flags",
    ".type __rseq_flags,@object",
    ".size __rseq_flags,4",
    "__rseq_flags:",
    ".long 0",
    ".popsection",
);
