//! x86-64: weak references through the GOT (0 when no object of the link
//! defines the symbol, also in position-independent executables).

/// futex(2)
pub const NR_FUTEX: usize = 202;

/// Address of the C function `$sym` through a weak reference: 0 when the
/// link has no definition. A weak reference does not pull an archive member
/// in, so the component adds no libc object to a static link by itself.
macro_rules! weak_function_address {
    ($sym:literal) => {{
        let p: usize;
        // SAFETY: loads a GOT entry the linker filled (with 0 for an
        // undefined weak symbol); no memory is written.
        unsafe {
            ::core::arch::asm!(
                concat!(".weak ", $sym),
                concat!("mov {p}, qword ptr [rip + ", $sym, "@GOTPCREL]"),
                p = out(reg) p,
                options(nostack, readonly, pure, preserves_flags)
            );
        }
        p
    }};
}
pub(crate) use weak_function_address;
