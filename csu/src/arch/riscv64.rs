//! riscv64 `.init` fragment. musl's crti `_init` prologue (`addi sp, sp,
//! -16; sd ra, 8(sp)`) saves ra and keeps sp 16-byte aligned, so a plain
//! `call` is ABI-conformant. glibc has no `_init` on RISC-V (no DT_INIT,
//! an empty crti): there the fragment is never run and `.preinit_array`
//! is the entry.

core::arch::global_asm!(
    ".hidden rseq_libc_csu_init",
    ".pushsection .init,\"ax\",@progbits",
    "call rseq_libc_csu_init",
    ".popsection",
);
