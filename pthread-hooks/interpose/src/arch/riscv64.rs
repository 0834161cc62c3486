//! riscv64 trampolines: `tail` to the hooks (clobbers only t1, which
//! carries no argument); `lla` for their own addresses.

// The trampolines only jump: every argument register passes through.
core::arch::global_asm!(
    ".pushsection .text.rseq_libc_interpose,\"ax\",@progbits",
    ".weak pthread_create",
    ".type pthread_create, @function",
    ".globl rseq_libc_interpose_pthread_create",
    ".hidden rseq_libc_interpose_pthread_create",
    "rseq_libc_interpose_pthread_create:",
    "pthread_create:",
    "    tail {pthread}",
    ".size pthread_create, . - pthread_create",
    ".weak thrd_create",
    ".type thrd_create, @function",
    ".globl rseq_libc_interpose_thrd_create",
    ".hidden rseq_libc_interpose_thrd_create",
    "rseq_libc_interpose_thrd_create:",
    "thrd_create:",
    "    tail {c11}",
    ".size thrd_create, . - thrd_create",
    ".globl __wrap_pthread_create",
    ".type __wrap_pthread_create, @function",
    "__wrap_pthread_create:",
    "    tail {pthread}",
    ".size __wrap_pthread_create, . - __wrap_pthread_create",
    ".popsection",
    pthread = sym crate::rseq_libc_pthread_create,
    c11 = sym crate::rseq_libc_thrd_create,
);

/// This crate's `pthread_create`, whether or not the link chose it.
pub(crate) fn own_pthread_create() -> usize {
    let p: usize;
    // SAFETY: computes an address; no memory is accessed.
    unsafe {
        core::arch::asm!(
            "lla {p}, rseq_libc_interpose_pthread_create",
            p = out(reg) p,
            options(nostack, nomem, pure, preserves_flags)
        )
    };
    p
}

/// This crate's `thrd_create`, whether or not the link chose it.
pub(crate) fn own_thrd_create() -> usize {
    let p: usize;
    // SAFETY: computes an address; no memory is accessed.
    unsafe {
        core::arch::asm!(
            "lla {p}, rseq_libc_interpose_thrd_create",
            p = out(reg) p,
            options(nostack, nomem, pure, preserves_flags)
        )
    };
    p
}
