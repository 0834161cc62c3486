//! The test libc's architecture surface: variadic entry points and
//! `va_list`, `clone`, the signal restorer, the thread-exit sequence.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "rseq-testlibc: no arch module for this target. Add src/arch/<arch>.rs with: \
     the variadic stubs and VaList, clone, the sigreturn restorer and unmap_and_exit."
);
