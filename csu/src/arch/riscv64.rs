//! riscv64: an `.init_array` entry at priority 0 instead of an `.init`
//! fragment. Neither libc has `_init` on RISC-V (glibc: no DT_INIT; musl:
//! an empty crti), so an `.init` fragment would never run, and musl, which
//! runs no `.preinit_array`, would run the program's constructors before
//! registration (seen in tests/arch-guests: `cpu_id -1` in a constructor).
//! GNU ld and lld sort `.init_array.NNNNN` by priority before plain
//! `.init_array` and before every constructor a program may declare
//! (priorities 101 and up; 0-100 are reserved for the implementation), so
//! this entry runs first among them. Under glibc `.preinit_array` has
//! already registered the thread and this costs a TLS load.

#[used]
#[link_section = ".init_array.00000"]
static EARLY_INIT: extern "C" fn() = crate::rseq_libc_csu_init;
