//! The architecture surface of dl-early-tls: the TLS ABI ([`TLS_ABI`]: the
//! variant, the thread control block), installing the thread pointer and
//! the syscalls that need more than four arguments. One module per
//! architecture.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

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
    "rseq-dl-early-tls: no arch module for this target. Add src/arch/<arch>.rs with: \
     TLS_ABI (variant, TCB size and alignment, host words, self pointers), TCB_SIZE, \
     TCB_ALIGN, TCB_HOST_WORDS_OFFSET, set_thread_pointer() \
     and the mmap/munmap syscall numbers."
);

/// Raw syscall with six arguments (rseq-abi's, per architecture).
pub use rseq_abi::arch::syscall6;

/// Ends the whole process with `status`, without running anything.
pub fn exit_group(status: i32) -> ! {
    loop {
        // SAFETY: exit_group has no preconditions and does not return.
        unsafe { rseq_abi::arch::syscall1(rseq_abi::arch::nr::EXIT_GROUP, status as usize) };
    }
}
