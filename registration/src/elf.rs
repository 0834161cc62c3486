//! Dynamic-symbol lookup in an ELF image already mapped in this process: the
//! vDSO (for `getcpu`) and the program interpreter (for glibc's
//! `__rseq_offset` and `__rseq_size`). No libc, no allocation.

use core::mem::size_of;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: usize = 0;
const DT_HASH: usize = 4;
const DT_STRTAB: usize = 5;
const DT_SYMTAB: usize = 6;
const DT_STRSZ: usize = 10;
const DT_GNU_HASH: usize = 0x6fff_fef5;
/// Bound on any walk, so that a damaged table ends the search, not the loop.
const MAX_WALK: usize = 1 << 20;

#[repr(C)]
struct Ehdr {
    ident: [u8; 16],
    etype: u16,
    machine: u16,
    version: u32,
    entry: usize,
    phoff: usize,
    shoff: usize,
    flags: u32,
    ehsize: u16,
    phentsize: u16,
    phnum: u16,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

#[repr(C)]
struct Phdr {
    ptype: u32,
    flags: u32,
    offset: usize,
    vaddr: usize,
    paddr: usize,
    filesz: usize,
    memsz: usize,
    align: usize,
}

#[repr(C)]
struct Sym {
    name: u32,
    info: u8,
    other: u8,
    shndx: u16,
    value: usize,
    size: usize,
}

const _: () = {
    assert!(size_of::<Ehdr>() == 64 && size_of::<Phdr>() == 56 && size_of::<Sym>() == 24);
};

/// A mapped ELF image's dynamic symbol table.
pub struct LoadedImage {
    bias: usize,
    symtab: *const Sym,
    strtab: *const u8,
    strsz: usize,
    gnu_hash: *const u32,
    sysv_hash: *const u32,
}

impl LoadedImage {
    /// Reads the image mapped at `base` (its ELF header).
    ///
    /// # Safety
    /// `base` must be the address of an ELF image mapped by the kernel or the
    /// dynamic linker (headers, dynamic section and tables readable), or 0.
    pub unsafe fn at(base: usize) -> Option<Self> {
        if base == 0 || !base.is_multiple_of(8) {
            return None;
        }
        // SAFETY: the caller guarantees a readable ELF header at base.
        let eh = unsafe { &*(base as *const Ehdr) };
        if eh.ident[..4] != *b"\x7fELF"
            || eh.ident[4] != 2
            || eh.phentsize as usize != size_of::<Phdr>()
        {
            return None;
        }
        // SAFETY: program headers of a mapped image are mapped (the kernel and
        // ld.so both map them with the first segment).
        let phdrs = unsafe {
            core::slice::from_raw_parts((base + eh.phoff) as *const Phdr, eh.phnum as usize)
        };
        let first = phdrs.iter().find(|p| p.ptype == PT_LOAD)?;
        let bias = base.wrapping_add(first.offset).wrapping_sub(first.vaddr);
        let (lo, hi) = phdrs
            .iter()
            .filter(|p| p.ptype == PT_LOAD)
            .fold((usize::MAX, 0), |(lo, hi), p| {
                (lo.min(p.vaddr), hi.max(p.vaddr.saturating_add(p.memsz)))
            });
        let dynamic = phdrs.iter().find(|p| p.ptype == PT_DYNAMIC)?;
        // Some dynamic linkers (glibc's ld.so for itself) add the load bias to
        // the dynamic section's addresses in place; the vDSO's are unrelocated.
        let image = bias.wrapping_add(lo)..bias.wrapping_add(hi);
        let addr = |v: usize| {
            if image.contains(&v) {
                v
            } else {
                bias.wrapping_add(v)
            }
        };
        let mut img = LoadedImage {
            bias,
            symtab: core::ptr::null(),
            strtab: core::ptr::null(),
            strsz: 0,
            gnu_hash: core::ptr::null(),
            sysv_hash: core::ptr::null(),
        };
        let mut d = bias.wrapping_add(dynamic.vaddr) as *const [usize; 2];
        for _ in 0..MAX_WALK {
            // SAFETY: the dynamic section is mapped and ends with DT_NULL.
            let [tag, val] = unsafe { *d };
            match tag {
                DT_NULL => break,
                DT_SYMTAB => img.symtab = addr(val) as *const Sym,
                DT_STRTAB => img.strtab = addr(val) as *const u8,
                DT_STRSZ => img.strsz = val,
                DT_GNU_HASH => img.gnu_hash = addr(val) as *const u32,
                DT_HASH => img.sysv_hash = addr(val) as *const u32,
                _ => {}
            }
            // SAFETY: still within the dynamic section (not past DT_NULL).
            d = unsafe { d.add(1) };
        }
        if img.symtab.is_null()
            || img.strtab.is_null()
            || (img.gnu_hash.is_null() && img.sysv_hash.is_null())
        {
            return None;
        }
        Some(img)
    }

    /// The address of the defined dynamic symbol `name`, any version.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        if !self.gnu_hash.is_null() {
            self.lookup_gnu(name)
        } else {
            self.lookup_sysv(name)
        }
    }

    fn symbol_matches(&self, index: usize, name: &[u8]) -> Option<usize> {
        // SAFETY: index comes from the image's own hash table.
        let sym = unsafe { &*self.symtab.add(index) };
        if sym.shndx == 0 || sym.name as usize >= self.strsz {
            return None;
        }
        // SAFETY: the string table holds strsz bytes; the name is compared
        // within them and must be followed by its NUL.
        let s = unsafe {
            core::slice::from_raw_parts(
                self.strtab.add(sym.name as usize),
                self.strsz - sym.name as usize,
            )
        };
        (s.len() > name.len() && &s[..name.len()] == name && s[name.len()] == 0)
            .then(|| self.bias.wrapping_add(sym.value))
    }

    fn lookup_gnu(&self, name: &[u8]) -> Option<usize> {
        let h = name
            .iter()
            .fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(c as u32));
        let t = self.gnu_hash;
        // SAFETY: the GNU hash header is 4 words, followed by the bloom
        // filter (bloom_size words of 64 bits), the buckets and the chains.
        unsafe {
            let (nbuckets, symoffset, bloom_size) =
                (*t as usize, *t.add(1) as usize, *t.add(2) as usize);
            if nbuckets == 0 {
                return None;
            }
            let buckets = t.add(4 + bloom_size * 2);
            let chains = buckets.add(nbuckets);
            let first = *buckets.add(h as usize % nbuckets) as usize;
            if first < symoffset {
                return None;
            }
            for i in first..first.saturating_add(MAX_WALK) {
                let ch = *chains.add(i - symoffset);
                if ch | 1 == h | 1 {
                    if let Some(a) = self.symbol_matches(i, name) {
                        return Some(a);
                    }
                }
                if ch & 1 != 0 {
                    break;
                }
            }
        }
        None
    }

    fn lookup_sysv(&self, name: &[u8]) -> Option<usize> {
        let h = name.iter().fold(0u32, |h, &c| {
            let h = (h << 4).wrapping_add(c as u32);
            (h ^ ((h & 0xf000_0000) >> 24)) & 0x0fff_ffff
        });
        let t = self.sysv_hash;
        // SAFETY: the SysV hash table is nbucket, nchain, buckets, chains.
        unsafe {
            let (nbucket, nchain) = (*t as usize, *t.add(1) as usize);
            if nbucket == 0 {
                return None;
            }
            let mut i = *t.add(2 + h as usize % nbucket) as usize;
            for _ in 0..MAX_WALK {
                if i == 0 || i >= nchain {
                    break;
                }
                if let Some(a) = self.symbol_matches(i, name) {
                    return Some(a);
                }
                i = *t.add(2 + nbucket + i) as usize;
            }
        }
        None
    }
}

/// The program interpreter's base address as the dynamic linker published
/// it for debuggers: the program's `DT_DEBUG` entry points to `struct
/// r_debug`, whose `r_ldbase` (its fifth word) is ld.so's load address.
/// Used where `AT_BASE` is 0 although a dynamic linker runs: glibc's ld.so
/// run as a command (`ld.so ./program`, glibc's `testrun.sh`). Returns 0
/// when the program has no `DT_DEBUG` or it is not filled in.
///
/// # Safety
/// `phdr` must be the program's mapped program headers (`AT_PHDR`, `phnum`
/// entries) or 0; once `DT_DEBUG` is nonzero it must point to a readable
/// `struct r_debug` (as glibc's ld.so fills it before any constructor).
pub unsafe fn interpreter_base_from_debug(phdr: usize, phnum: usize) -> usize {
    const PT_PHDR: u32 = 6;
    const DT_DEBUG: usize = 21;
    const R_LDBASE_WORD: usize = 4;
    if phdr == 0 || !phdr.is_multiple_of(8) || phnum == 0 || phnum > 4096 {
        return 0;
    }
    // SAFETY: the caller guarantees phnum mapped program headers at phdr.
    let phdrs = unsafe { core::slice::from_raw_parts(phdr as *const Phdr, phnum) };
    let Some(self_phdr) = phdrs.iter().find(|p| p.ptype == PT_PHDR) else {
        return 0;
    };
    let bias = phdr.wrapping_sub(self_phdr.vaddr);
    let Some(dynamic) = phdrs.iter().find(|p| p.ptype == PT_DYNAMIC) else {
        return 0;
    };
    let mut d = bias.wrapping_add(dynamic.vaddr) as *const [usize; 2];
    for _ in 0..MAX_WALK {
        // SAFETY: the program's dynamic section is mapped and ends with DT_NULL.
        let [tag, val] = unsafe { *d };
        match tag {
            DT_NULL => return 0,
            DT_DEBUG if val == 0 || !val.is_multiple_of(8) => return 0,
            // SAFETY: a filled DT_DEBUG points to the dynamic linker's
            // r_debug (caller's guarantee), five words or more.
            DT_DEBUG => return unsafe { *(val as *const usize).add(R_LDBASE_WORD) },
            _ => {}
        }
        // SAFETY: still within the dynamic section (not past DT_NULL).
        d = unsafe { d.add(1) };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        fn getauxval(key: core::ffi::c_ulong) -> core::ffi::c_ulong;
        fn dlsym(
            handle: *mut core::ffi::c_void,
            name: *const core::ffi::c_char,
        ) -> *mut core::ffi::c_void;
    }

    #[test]
    fn finds_the_vdso_getcpu_and_ld_so_rseq_symbols() {
        // SAFETY: getauxval has no preconditions; the vDSO is mapped.
        let vdso = unsafe { LoadedImage::at(getauxval(33) as usize) }.expect("vDSO");
        assert!(vdso.lookup(b"__vdso_getcpu").is_some());
        assert!(vdso.lookup(b"__vdso_no_such_thing").is_none());
        // SAFETY: AT_BASE is ld.so, mapped.
        let ld = unsafe { LoadedImage::at(getauxval(7) as usize) }.expect("ld.so");
        // RTLD_DEFAULT finds ld.so's definitions: this test binary has none.
        for name in [&b"__rseq_offset\0"[..], b"__rseq_size\0", b"__rseq_flags\0"] {
            // SAFETY: dlsym with RTLD_DEFAULT (null) and a NUL-terminated name.
            let expect = unsafe { dlsym(core::ptr::null_mut(), name.as_ptr().cast()) } as usize;
            assert_ne!(expect, 0);
            assert_eq!(ld.lookup(&name[..name.len() - 1]), Some(expect));
        }
        assert!(ld.lookup(b"__rseq_").is_none());
    }

    #[test]
    fn debug_entry_names_the_interpreter() {
        // SAFETY: getauxval has no preconditions; AT_PHDR is this test
        // program's headers, and glibc's ld.so filled its DT_DEBUG.
        let base =
            unsafe { interpreter_base_from_debug(getauxval(3) as usize, getauxval(5) as usize) };
        // SAFETY: as above.
        assert_eq!(base, unsafe { getauxval(7) } as usize);
        // SAFETY: 0 is rejected before any read.
        assert_eq!(unsafe { interpreter_base_from_debug(0, 4) }, 0);
    }

    #[test]
    fn non_elf_memory_is_rejected() {
        let junk = [0u64; 16];
        // SAFETY: 128 readable bytes, more than an ELF header.
        assert!(unsafe { LoadedImage::at(junk.as_ptr() as usize) }.is_none());
        // SAFETY: 0 is rejected before any read.
        assert!(unsafe { LoadedImage::at(0) }.is_none());
    }
}
