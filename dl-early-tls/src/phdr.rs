//! The executable's `PT_TLS` segment, from its program headers.

use crate::{LayoutError, TlsTemplate};

const PT_LOAD: u32 = 1;
const PT_TLS: u32 = 7;

/// `Elf64_Phdr`.
#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

const _: () = assert!(core::mem::size_of::<Phdr>() == 56);

/// The load bias: the ELF header's run-time address (`ehdr`) minus the
/// link address of the `PT_LOAD` segment that maps file offset 0. None if
/// no segment does.
///
/// # Safety
/// As [`tls_template`].
pub unsafe fn load_bias(phdr: usize, phnum: usize, ehdr: usize) -> Option<usize> {
    let phdrs = phdr as *const Phdr;
    for i in 0..phnum {
        // SAFETY: i < phnum entries, per the caller.
        let p = unsafe { &*phdrs.add(i) };
        if p.p_type == PT_LOAD && p.p_offset == 0 {
            return Some(ehdr.wrapping_sub(p.p_vaddr as usize));
        }
    }
    None
}

/// The `PT_TLS` template at its run-time address (None: no TLS). The load
/// bias is the ELF header's run-time address minus the link address of the
/// `PT_LOAD` segment that maps file offset 0 (0 for `-static`, the load
/// address for `-static-pie`).
///
/// # Safety
/// `phdr` must point to `phnum` readable `Elf64_Phdr` entries and `ehdr` be
/// the run-time address of the same executable's ELF header.
pub unsafe fn tls_template(
    phdr: usize,
    phnum: usize,
    ehdr: usize,
) -> Result<Option<TlsTemplate>, LayoutError> {
    let phdrs = phdr as *const Phdr;
    let mut bias = None;
    let mut tls = None;
    for i in 0..phnum {
        // SAFETY: i < phnum entries, per the caller.
        let p = unsafe { &*phdrs.add(i) };
        if p.p_type == PT_LOAD && p.p_offset == 0 && bias.is_none() {
            bias = Some(ehdr.wrapping_sub(p.p_vaddr as usize));
        }
        if p.p_type == PT_TLS {
            tls = Some(p);
        }
    }
    let Some(p) = tls else { return Ok(None) };
    let bias = bias.ok_or(LayoutError::NoLoadBias)?;
    let align = (p.p_align as usize).max(1);
    if !align.is_power_of_two() {
        return Err(LayoutError::BadAlignment);
    }
    Ok(Some(TlsTemplate {
        image: bias.wrapping_add(p.p_vaddr as usize),
        filesz: p.p_filesz as usize,
        memsz: p.p_memsz as usize,
        align,
    }))
}
