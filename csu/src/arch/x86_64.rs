//! x86-64 `.init` fragment. crti's `_init` prologue leaves the stack 16-byte
//! aligned (musl: `push %rax`; glibc: `sub $8,%rsp`), so a plain call is
//! ABI-conformant.

core::arch::global_asm!(
    ".hidden rseq_libc_csu_init",
    ".pushsection .init,\"ax\",@progbits",
    "call rseq_libc_csu_init",
    ".popsection",
);
