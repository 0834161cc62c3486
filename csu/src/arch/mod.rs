//! The `.init` fragment that calls `rseq_libc_csu_init`, per architecture.

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "rseq-csu: no arch module for this target: add src/arch/<arch>.rs with the .init fragment"
);
