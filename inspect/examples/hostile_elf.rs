//! Writes hostile ELF files and archives for rseq-inspect: each is a small
//! valid file (one critical section) whose headers are rewritten so that a
//! reader doing work per header, per overlapping byte or per pair of entries
//! needs gigabytes or hours, while the file itself stays near 1.5 MB.
//!
//!     cargo run -p rseq-inspect --example hostile_elf -- OUTDIR
//!
//! The same generator feeds `inspect/tests/hostile.rs` (included there with
//! `#[path]`) and `tests/inspect/run.sh`.

/// How big the variants are.
#[derive(Clone, Copy)]
pub(crate) struct Scale {
    /// Headers (or symbols, members, descriptors) multiplied.
    pub(crate) copies: usize,
    /// Bytes each extra section claims, and the length of the huge names.
    pub(crate) bytes: u64,
}

/// 20,000 section headers are 1.28 MB, the size of the file reported in
/// the issue; names of 1 MiB.
pub(crate) const FULL: Scale = Scale {
    copies: 20_000,
    bytes: 1 << 20,
};

/// The same shapes in a few KiB: seeds for the fuzzer and a quick corpus.
pub(crate) const SMALL: Scale = Scale {
    copies: 24,
    bytes: 1024,
};

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_DYNSYM: u32 = 11;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const R_X86_64_64: u32 = 1;
const R_X86_64_RELATIVE: u32 = 8;

const TEXT: u64 = 0x40_1000;
const FAILURE: u64 = 0x40_1100;
/// After `0f b9 3d` and the 4-byte RSEQ_SIG.
const ABORT: u64 = FAILURE + 7;
const DESCRIPTORS: u64 = 0x40_2000;
/// Where the variants' extra sections claim to be.
const EXTRA: u64 = 0x50_0000;
const SIGNATURE: u32 = 0x5305_3053;

/// One section header's fields.
#[derive(Clone, Copy, Default)]
pub(crate) struct Header {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

impl Header {
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.name.to_le_bytes());
        b[4..8].copy_from_slice(&self.kind.to_le_bytes());
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.addr.to_le_bytes());
        b[24..32].copy_from_slice(&self.offset.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..44].copy_from_slice(&self.link.to_le_bytes());
        b[44..48].copy_from_slice(&self.info.to_le_bytes());
        b[48..56].copy_from_slice(&self.align.to_le_bytes());
        b[56..64].copy_from_slice(&self.entsize.to_le_bytes());
        b
    }
}

/// An ELF64 little-endian x86-64 file being put together.
pub(crate) struct Elf {
    e_type: u16,
    /// Everything after the ELF header.
    data: Vec<u8>,
    headers: Vec<Header>,
    strings: Vec<u8>,
    /// (e_phoff, e_phnum)
    phdrs: (u64, u16),
}

impl Elf {
    pub(crate) fn new(e_type: u16) -> Self {
        Elf {
            e_type,
            data: vec![0; 64],
            headers: vec![Header::default()],
            strings: vec![0],
            phdrs: (0, 0),
        }
    }

    /// Appends `bytes` at an `align`-aligned file offset, returned.
    pub(crate) fn blob(&mut self, bytes: &[u8], align: usize) -> u64 {
        self.data.resize(self.data.len().next_multiple_of(align), 0);
        let at = self.data.len() as u64;
        self.data.extend_from_slice(bytes);
        at
    }

    /// The offset of `name` in `.shstrtab`, added once.
    pub(crate) fn name(&mut self, name: &[u8]) -> u32 {
        let mut pattern = name.to_vec();
        pattern.push(0);
        if let Some(at) = self
            .strings
            .windows(pattern.len())
            .position(|w| w == pattern.as_slice())
        {
            return at as u32;
        }
        let at = self.strings.len() as u32;
        self.strings.extend_from_slice(&pattern);
        at
    }

    /// Adds a section header; returns its index.
    pub(crate) fn section(&mut self, name: &str, header: Header) -> u32 {
        let name = self.name(name.as_bytes());
        self.headers.push(Header { name, ..header });
        (self.headers.len() - 1) as u32
    }

    /// Lays out `.shstrtab` and the section header table, and writes the
    /// ELF header.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let shstrtab_name = self.name(b".shstrtab");
        let strings = std::mem::take(&mut self.strings);
        let offset = self.blob(&strings, 1);
        self.headers.push(Header {
            name: shstrtab_name,
            kind: SHT_STRTAB,
            offset,
            size: strings.len() as u64,
            align: 1,
            ..Header::default()
        });
        let shstrndx = self.headers.len() - 1;
        let shoff = self.blob(&[], 8);
        for h in &self.headers {
            self.data.extend_from_slice(&h.bytes());
        }
        let mut e = [0u8; 64];
        e[0..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // ELFDATA2LSB
        e[6] = 1; // EV_CURRENT
        e[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        e[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e[24..32].copy_from_slice(&TEXT.to_le_bytes());
        e[32..40].copy_from_slice(&self.phdrs.0.to_le_bytes());
        e[40..48].copy_from_slice(&shoff.to_le_bytes());
        e[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        e[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        e[56..58].copy_from_slice(&self.phdrs.1.to_le_bytes());
        e[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        let shnum = u16::try_from(self.headers.len()).expect("fewer than 65280 sections");
        assert!(shnum < 0xff00, "no extended section numbering here");
        e[60..62].copy_from_slice(&shnum.to_le_bytes());
        e[62..64].copy_from_slice(&(shstrndx as u16).to_le_bytes());
        self.data[..64].copy_from_slice(&e);
        self.data
    }
}

fn words(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn descriptor(start: u64, length: u64, abort: u64) -> [u64; 4] {
    // version 0 and flags 0 share the first word.
    [0, start, length, abort]
}

fn failure_bytes() -> Vec<u8> {
    let mut b = vec![0x0f, 0xb9, 0x3d];
    b.extend_from_slice(&SIGNATURE.to_le_bytes());
    b.push(0xc3);
    b
}

/// Section indices of the rseq sections in [`linked`].
pub(crate) struct Rseq {
    descriptors: u32,
    pointers: u32,
    exit_points: u32,
}

fn alloc(addr: u64, offset: u64, size: u64, flags: u64, align: u64) -> Header {
    Header {
        kind: SHT_PROGBITS,
        flags: SHF_ALLOC | flags,
        addr,
        offset,
        size,
        align,
        ..Header::default()
    }
}

/// A linked executable with one valid critical section: 8 bytes at
/// [`TEXT`], one exit at its end, the abort handler in `__rseq_failure`.
/// `cs`, `ptrs` and `exits` replace the tables' contents when given.
pub(crate) fn linked_with(
    e_type: u16,
    cs: Option<Vec<u8>>,
    ptrs: Option<Vec<u8>>,
    exits: Option<Vec<u8>>,
) -> (Elf, Rseq) {
    let mut elf = Elf::new(e_type);
    let text = elf.blob(&[0x90; 16], 16);
    elf.section(".text", alloc(TEXT, text, 16, SHF_EXECINSTR, 16));
    let failure = failure_bytes();
    let at = elf.blob(&failure, 16);
    elf.section(
        "__rseq_failure",
        alloc(FAILURE, at, failure.len() as u64, SHF_EXECINSTR, 1),
    );
    let cs = cs.unwrap_or_else(|| words(&descriptor(TEXT, 8, ABORT)));
    let ptrs = ptrs.unwrap_or_else(|| words(&[DESCRIPTORS]));
    let exits = exits.unwrap_or_else(|| words(&[TEXT, TEXT + 8]));
    let at = elf.blob(&cs, 32);
    let descriptors = elf.section(
        "__rseq_cs",
        alloc(DESCRIPTORS, at, cs.len() as u64, SHF_WRITE, 32),
    );
    let pointers_at = DESCRIPTORS + (cs.len() as u64).next_multiple_of(32);
    let at = elf.blob(&ptrs, 8);
    let pointers = elf.section(
        "__rseq_cs_ptr_array",
        alloc(pointers_at, at, ptrs.len() as u64, SHF_WRITE, 8),
    );
    let exits_at = (pointers_at + ptrs.len() as u64).next_multiple_of(32);
    let at = elf.blob(&exits, 8);
    let exit_points = elf.section(
        "__rseq_exit_point_array",
        alloc(exits_at, at, exits.len() as u64, SHF_WRITE, 8),
    );
    (
        elf,
        Rseq {
            descriptors,
            pointers,
            exit_points,
        },
    )
}

/// The valid executable every variant starts from.
pub(crate) fn linked() -> (Elf, Rseq) {
    linked_with(ET_EXEC, None, None, None)
}

/// `s.copies` more headers shaped like `template`, each covering the first
/// `s.bytes` of the file from [`EXTRA`] on; `overlap`: copy k starts 8k
/// bytes further, in the file and in memory, so no two are equal.
fn copies(elf: &mut Elf, template: u32, overlap: bool, s: Scale) {
    let mut h = elf.headers[template as usize];
    h.addr = EXTRA;
    h.offset = 0;
    h.size = s.bytes;
    for k in 0..s.copies as u64 {
        let step = if overlap { 8 * k } else { 0 };
        elf.headers.push(Header {
            addr: h.addr + step,
            offset: h.offset + step,
            size: h.size - step,
            ..h
        });
    }
}

fn with_copies(which: fn(&Rseq) -> u32, overlap: bool, s: Scale) -> Vec<u8> {
    let (mut elf, rseq) = linked();
    copies(&mut elf, which(&rseq), overlap, s);
    elf.finish()
}

/// Sections claiming more bytes than the file or the address space holds.
fn huge_sizes(s: Scale) -> Vec<u8> {
    let (mut elf, rseq) = linked();
    let sizes = [u64::MAX, u64::MAX / 2, 1 << 40, s.bytes * 64];
    for k in 0..s.copies {
        let template = [rseq.descriptors, rseq.pointers, rseq.exit_points][k % 3];
        let h = elf.headers[template as usize];
        let size = sizes[k % sizes.len()];
        elf.headers.push(Header {
            kind: if k % 2 == 0 { SHT_NOBITS } else { h.kind },
            addr: 0,
            offset: (k as u64) * 8,
            size,
            ..h
        });
    }
    elf.finish()
}

/// Program headers, each a PT_LOAD of the whole file.
fn many_program_headers(s: Scale) -> Vec<u8> {
    let (mut elf, _) = linked();
    let mut ph = [0u8; 56];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&7u32.to_le_bytes()); // RWX
    ph[16..24].copy_from_slice(&0x40_0000u64.to_le_bytes());
    ph[32..40].copy_from_slice(&s.bytes.to_le_bytes());
    ph[40..48].copy_from_slice(&s.bytes.to_le_bytes());
    let table: Vec<u8> = std::iter::repeat_n(ph, s.copies).flatten().collect();
    let at = elf.blob(&table, 8);
    elf.phdrs = (at, s.copies as u16);
    elf.finish()
}

/// Descriptors of one section, each listed, and twice as many distinct exit
/// points of that section: at full scale a reader that copies the section's
/// exits into each descriptor's entry does 800 million copies.
fn shared_exit_list(s: Scale) -> Vec<u8> {
    let n = s.copies as u64;
    let cs: Vec<u64> = (0..n).flat_map(|_| descriptor(TEXT, 8, ABORT)).collect();
    let ptrs: Vec<u64> = (0..n).map(|k| DESCRIPTORS + 32 * k).collect();
    let exits: Vec<u64> = (0..2 * n).flat_map(|k| [TEXT, TEXT + 8 + k]).collect();
    let (elf, _) = linked_with(
        ET_EXEC,
        Some(words(&cs)),
        Some(words(&ptrs)),
        Some(words(&exits)),
    );
    elf.finish()
}

/// Allocated sections sharing one huge name.
fn long_section_names(s: Scale) -> Vec<u8> {
    let (mut elf, _) = linked();
    let long = vec![b'n'; s.bytes as usize];
    let name = elf.name(&long);
    for _ in 0..s.copies {
        elf.headers.push(Header {
            name,
            ..alloc(EXTRA, 0, 0, 0, 1)
        });
    }
    elf.finish()
}

/// A symbol table of symbols sharing one huge name, at the critical
/// section's descriptor and code.
fn long_symbol_names(s: Scale) -> Vec<u8> {
    let (mut elf, _) = linked();
    let mut strtab = vec![0u8];
    strtab.extend(std::iter::repeat_n(b's', s.bytes as usize));
    strtab.push(0);
    let strtab_at = elf.blob(&strtab, 1);
    let strtab_index = elf.section(
        ".strtab",
        Header {
            kind: SHT_STRTAB,
            offset: strtab_at,
            size: strtab.len() as u64,
            align: 1,
            ..Header::default()
        },
    );
    let mut symtab = vec![0u8; 24];
    for k in 0..s.copies as u64 {
        let mut sym = [0u8; 24];
        sym[0..4].copy_from_slice(&1u32.to_le_bytes());
        sym[4] = 0x12; // STB_GLOBAL, STT_FUNC
        sym[6..8].copy_from_slice(&1u16.to_le_bytes()); // .text
        let at = [TEXT, ABORT, DESCRIPTORS][k as usize % 3] + k / 3 % 4;
        sym[8..16].copy_from_slice(&at.to_le_bytes());
        symtab.extend_from_slice(&sym);
    }
    let symtab_at = elf.blob(&symtab, 8);
    elf.section(
        ".symtab",
        Header {
            kind: SHT_SYMTAB,
            offset: symtab_at,
            size: symtab.len() as u64,
            link: strtab_index,
            info: 1,
            align: 8,
            entsize: 24,
            ..Header::default()
        },
    );
    elf.finish()
}

fn rela(offset: u64, sym: u32, kind: u32, addend: u64) -> [u8; 24] {
    let mut r = [0u8; 24];
    r[0..8].copy_from_slice(&offset.to_le_bytes());
    r[8..16].copy_from_slice(&((u64::from(sym) << 32) | u64::from(kind)).to_le_bytes());
    r[16..24].copy_from_slice(&addend.to_le_bytes());
    r
}

/// Relocation sections: `copies / 2` headers, each covering the same
/// `2 * copies` entries, all applying to one word (at full scale a reader
/// walking each section does 400 million relocations). `dynamic`: a shared
/// object whose sections link to `.dynsym`, else a relocatable object's
/// `.symtab`.
fn many_relocation_sections(dynamic: bool, s: Scale) -> Vec<u8> {
    let headers = s.copies / 2;
    let entries = 2 * s.copies;
    let (mut elf, rseq) = linked_with(if dynamic { ET_DYN } else { ET_REL }, None, None, None);
    // A symbol table: the null symbol and one defined in __rseq_cs.
    let strtab_at = elf.blob(b"\0cs\0", 1);
    let strtab_index = elf.section(
        if dynamic { ".dynstr" } else { ".strtab" },
        Header {
            kind: SHT_STRTAB,
            flags: if dynamic { SHF_ALLOC } else { 0 },
            offset: strtab_at,
            size: 4,
            align: 1,
            ..Header::default()
        },
    );
    let mut sym = [0u8; 24];
    sym[0..4].copy_from_slice(&1u32.to_le_bytes());
    sym[4] = 0x11; // STB_GLOBAL, STT_OBJECT
    sym[6..8].copy_from_slice(&(rseq.descriptors as u16).to_le_bytes());
    if dynamic {
        sym[8..16].copy_from_slice(&DESCRIPTORS.to_le_bytes());
    }
    let symtab = [[0u8; 24], sym].concat();
    let symtab_at = elf.blob(&symtab, 8);
    let symtab_index = elf.section(
        if dynamic { ".dynsym" } else { ".symtab" },
        Header {
            kind: if dynamic { SHT_DYNSYM } else { SHT_SYMTAB },
            flags: if dynamic { SHF_ALLOC } else { 0 },
            offset: symtab_at,
            size: 48,
            link: strtab_index,
            info: 1,
            align: 8,
            entsize: 24,
            ..Header::default()
        },
    );
    let pointers = elf.headers[rseq.pointers as usize];
    let entry = if dynamic {
        rela(pointers.addr, 0, R_X86_64_RELATIVE, DESCRIPTORS)
    } else {
        rela(0, 1, R_X86_64_64, 0)
    };
    let table: Vec<u8> = std::iter::repeat_n(entry, entries).flatten().collect();
    let at = elf.blob(&table, 8);
    let name = elf.name(if dynamic {
        b".rela.dyn"
    } else {
        b".rela__rseq_cs_ptr_array"
    });
    for _ in 0..headers {
        elf.headers.push(Header {
            name,
            kind: SHT_RELA,
            flags: if dynamic { SHF_ALLOC } else { 0 },
            offset: at,
            size: table.len() as u64,
            link: symtab_index,
            info: if dynamic { 0 } else { rseq.pointers },
            align: 8,
            entsize: 24,
            ..Header::default()
        });
    }
    elf.finish()
}

/// A GNU archive of non-ELF members that all take their name from one huge
/// entry of the long-name table.
fn archive_long_member_names(s: Scale) -> Vec<u8> {
    fn member(out: &mut Vec<u8>, name: &str, body: &[u8]) {
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            body.len()
        );
        assert_eq!(header.len(), 60);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    let mut out = b"!<arch>\n".to_vec();
    let mut names = vec![b'm'; s.bytes as usize];
    names.extend_from_slice(b"/\n");
    member(&mut out, "//", &names);
    for _ in 0..s.copies {
        member(&mut out, "/0", b"xx");
    }
    out
}

/// Every hostile input at scale `s`: (name, bytes).
pub(crate) fn variants(s: Scale) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("duplicate-ptr-array", with_copies(|r| r.pointers, false, s)),
        (
            "overlapping-ptr-array",
            with_copies(|r| r.pointers, true, s),
        ),
        (
            "duplicate-descriptors",
            with_copies(|r| r.descriptors, false, s),
        ),
        (
            "overlapping-descriptors",
            with_copies(|r| r.descriptors, true, s),
        ),
        (
            "duplicate-exit-points",
            with_copies(|r| r.exit_points, false, s),
        ),
        (
            "overlapping-exit-points",
            with_copies(|r| r.exit_points, true, s),
        ),
        ("huge-sizes", huge_sizes(s)),
        ("many-program-headers", many_program_headers(s)),
        ("shared-exit-list", shared_exit_list(s)),
        ("long-section-names", long_section_names(s)),
        ("long-symbol-names", long_symbol_names(s)),
        (
            "many-relocation-sections",
            many_relocation_sections(false, s),
        ),
        (
            "many-dynamic-relocation-sections",
            many_relocation_sections(true, s),
        ),
        ("archive-long-member-names", archive_long_member_names(s)),
    ]
}

/// `hostile_elf OUTDIR [--small]`: writes `valid` and every variant (at
/// [`SMALL`] scale with `--small`, named `small-*`).
#[allow(dead_code)]
fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .expect("usage: hostile_elf OUTDIR");
    let small = std::env::args().nth(2).as_deref() == Some("--small");
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create OUTDIR");
    let (valid, _) = linked();
    std::fs::write(dir.join("valid"), valid.finish()).expect("write");
    let (scale, prefix) = if small { (SMALL, "small-") } else { (FULL, "") };
    for (name, bytes) in variants(scale) {
        std::fs::write(dir.join(format!("{prefix}{name}")), bytes).expect("write");
    }
}
