//! aarch64 `.init` fragment. crti's `_init` prologue (glibc and musl: `stp
//! x29, x30, [sp, #-16]!; mov x29, sp`) saves the link register and keeps
//! sp 16-byte aligned, so a plain `bl` is ABI-conformant.

core::arch::global_asm!(
    ".hidden rseq_libc_csu_init",
    ".pushsection .init,\"ax\",@progbits",
    "bl rseq_libc_csu_init",
    ".popsection",
);
