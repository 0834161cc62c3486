//! `_start`, the linker-defined symbols the start routine reads, and the
//! relocation types it applies, per architecture.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "rseq-csu-standalone: no arch module for this target. Add src/arch/<arch>.rs with: \
     _start, the linker symbol accessors and the RELATIVE/IRELATIVE relocation types."
);
