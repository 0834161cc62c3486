//! Where each architecture's sequences put their abort handlers, and how
//! to tell, from the code before a signature, that nothing falls through
//! into it.
//!
//! The signature before an abort handler is a trapping instruction (x86
//! `ud1`, aarch64 `brk #0x45e0`, riscv `csrw mhartid, x0`): code that runs
//! into it instead of branching past it dies. librseq and the kernel
//! selftests keep it off every path two ways, per architecture:
//! - x86, powerpc, s390: the handler is out of line, in `__rseq_failure`;
//! - aarch64, riscv: the handler follows the commit in `.text`, behind an
//!   unconditional branch over the signature (`b 222f` / `j 222f`), because
//!   their conditional branches reach too short (aarch64 `tbnz` 32 KiB,
//!   riscv `beq` 4 KiB) for a section placed after all the code.
//!
//! arm and mips put the handler inline too (after the descriptor, itself
//! inline); their instruction sets (Thumb, microMIPS) are not decoded here,
//! so their handlers' placement is not checked.

mod aarch64;
mod riscv;

use crate::image::Image;
use object::elf;

/// An architecture's rule for where an abort handler may be.
pub(crate) enum HandlerLayout {
    /// In `__rseq_failure` only.
    FailureSection,
    /// In `__rseq_failure`, or anywhere its signature is preceded by an
    /// unconditional branch: the function says whether the code before the
    /// signature at the given address ends in one.
    BranchedOver(fn(&Image<'_>, u64) -> bool),
    /// Not checked.
    Unchecked,
}

/// The rule for the file's machine.
pub(crate) fn handler_layout(machine: u16) -> HandlerLayout {
    match machine {
        elf::EM_X86_64 | elf::EM_386 | elf::EM_PPC | elf::EM_PPC64 | elf::EM_S390 => {
            HandlerLayout::FailureSection
        }
        elf::EM_AARCH64 => HandlerLayout::BranchedOver(aarch64::branch_before),
        elf::EM_RISCV => HandlerLayout::BranchedOver(riscv::branch_before),
        _ => HandlerLayout::Unchecked,
    }
}

/// The `len` bytes ending at `end`, if they are file data of the section
/// that holds `end` itself: a branch in another section does not guard
/// the signature.
fn bytes_before<'d>(image: &Image<'d>, end: u64, len: u64) -> Option<&'d [u8]> {
    let start = end.checked_sub(len)?;
    let section = image.section_of(end, 1)?;
    (image.section_of(start, len) == Some(section))
        .then(|| image.bytes(start, len))
        .flatten()
}
