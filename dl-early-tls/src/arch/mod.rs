//! The architecture surface of dl-early-tls: the TLS variant, the thread
//! control block, installing the thread pointer and the syscalls that need
//! more than four arguments. One module per architecture.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "rseq-dl-early-tls: no arch module for this target. Add src/arch/<arch>.rs with: \
     the TLS variant's layout (TCB_SIZE, init_tcb), set_thread_pointer(), syscall6() \
     and the mmap/munmap syscall numbers. aarch64 and riscv64 (issue 21) use TLS \
     variant I, whose blocks sit above the thread pointer: Layout (src/lib.rs) lays \
     out variant II only, so they need a variant-I layout first (docs/architectures.md)."
);
