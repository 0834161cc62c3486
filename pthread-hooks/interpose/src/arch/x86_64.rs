//! x86-64 trampolines: `jmp` to the hooks; `lea` for their own addresses.

// The trampolines only jump: every argument register passes through.
core::arch::global_asm!(
    ".pushsection .text.rseq_libc_interpose,\"ax\",@progbits",
    ".weak pthread_create",
    ".type pthread_create, @function",
    ".globl rseq_libc_interpose_pthread_create",
    ".hidden rseq_libc_interpose_pthread_create",
    "rseq_libc_interpose_pthread_create:",
    "pthread_create:",
    "    jmp {pthread}",
    ".size pthread_create, . - pthread_create",
    ".weak thrd_create",
    ".type thrd_create, @function",
    ".globl rseq_libc_interpose_thrd_create",
    ".hidden rseq_libc_interpose_thrd_create",
    "rseq_libc_interpose_thrd_create:",
    "thrd_create:",
    "    jmp {c11}",
    ".size thrd_create, . - thrd_create",
    ".globl __wrap_pthread_create",
    ".type __wrap_pthread_create, @function",
    "__wrap_pthread_create:",
    "    jmp {pthread}",
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
            "lea {p}, [rip + rseq_libc_interpose_pthread_create]",
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
            "lea {p}, [rip + rseq_libc_interpose_thrd_create]",
            p = out(reg) p,
            options(nostack, nomem, pure, preserves_flags)
        )
    };
    p
}
