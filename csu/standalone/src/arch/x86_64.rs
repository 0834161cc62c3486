//! x86-64: `_start` receives the kernel's initial stack (argc, argv, envp,
//! auxv) in %rsp, with %rdx possibly holding a function to register with
//! atexit (0 for a static executable; ignored here).

use core::arch::{asm, global_asm};

/// `R_X86_64_RELATIVE`: base + addend.
#[allow(dead_code)] // used only by the non-test start routine
pub const R_RELATIVE: u32 = 8;
/// `R_X86_64_IRELATIVE`: the result of calling the resolver at base + addend.
#[allow(dead_code)]
pub const R_IRELATIVE: u32 = 37;
/// `R_X86_64_NONE`.
#[allow(dead_code)]
pub const R_NONE: u32 = 0;

#[cfg(not(test))]
global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    ".cfi_startproc",
    ".cfi_undefined rip", // the outermost frame: debuggers stop here
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {start}",
    "hlt",
    ".cfi_endproc",
    ".size _start, . - _start",
    start = sym crate::start,
);

// Weak and hidden: _DYNAMIC exists only in -static-pie executables;
// __rela_iplt_* only where the linker script provides them (-static). An
// absent weak symbol reads as 0.
global_asm!(
    ".weak _DYNAMIC",
    ".hidden _DYNAMIC",
    ".weak __ehdr_start",
    ".hidden __ehdr_start",
    ".weak __rela_iplt_start",
    ".hidden __rela_iplt_start",
    ".weak __rela_iplt_end",
    ".hidden __rela_iplt_end",
    ".weak __preinit_array_start",
    ".hidden __preinit_array_start",
    ".weak __preinit_array_end",
    ".hidden __preinit_array_end",
    ".weak __init_array_start",
    ".hidden __init_array_start",
    ".weak __init_array_end",
    ".hidden __init_array_end",
    ".weak __fini_array_start",
    ".hidden __fini_array_start",
    ".weak __fini_array_end",
    ".hidden __fini_array_end",
);

macro_rules! linker_symbol {
    ($(#[$doc:meta])* $fn:ident, $sym:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $fn() -> usize {
            let a: usize;
            // SAFETY: only computes the address, pc-relative (valid before
            // relocation: the symbol is hidden).
            unsafe {
                asm!(concat!("lea {a}, [rip + ", $sym, "]"), a = out(reg) a,
                     options(nostack, nomem, preserves_flags, pure));
            }
            a
        }
    };
}

linker_symbol!(
    /// Run-time address of `_DYNAMIC` (0 in `-static` executables).
    dynamic, "_DYNAMIC");
linker_symbol!(
    /// Run-time address of the executable's ELF header.
    ehdr_start, "__ehdr_start");
/// `.rela.iplt` of a `-static` executable (its IRELATIVE relocations):
/// `(start, end)`, or 0s where the linker does not define the symbols
/// (`-static-pie`, whose IRELATIVE relocations are in `DT_RELA`). Read
/// through the GOT, because a pc-relative reference to an undefined symbol
/// cannot link into a PIE; only read after the RELATIVE relocations (the
/// non-PIE GOT needs none).
pub fn rela_iplt() -> (usize, usize) {
    let (start, end): (usize, usize);
    // SAFETY: loads two GOT entries (the linker fills them statically).
    unsafe {
        asm!("mov {s}, qword ptr [rip + __rela_iplt_start@GOTPCREL]",
             "mov {e}, qword ptr [rip + __rela_iplt_end@GOTPCREL]",
             s = out(reg) start, e = out(reg) end,
             options(nostack, readonly, preserves_flags, pure));
    }
    (start, end)
}
linker_symbol!(
    /// `.preinit_array` start.
    preinit_array_start, "__preinit_array_start");
linker_symbol!(
    /// `.preinit_array` end.
    preinit_array_end, "__preinit_array_end");
linker_symbol!(
    /// `.init_array` start (sorted by priority by the linker).
    init_array_start, "__init_array_start");
linker_symbol!(
    /// `.init_array` end.
    init_array_end, "__init_array_end");
linker_symbol!(
    /// `.fini_array` start.
    fini_array_start, "__fini_array_start");
linker_symbol!(
    /// `.fini_array` end.
    fini_array_end, "__fini_array_end");

/// Calls an IFUNC resolver (x86-64 resolvers take no argument, as in glibc).
///
/// # Safety
/// `resolver` must be the address of a resolver function of this program.
pub unsafe fn call_ifunc_resolver(resolver: usize) -> usize {
    // SAFETY: per the caller, a function with this signature.
    let f: extern "C" fn() -> usize = unsafe { core::mem::transmute(resolver) };
    f()
}
