//! An ELF object as an address space: sections placed at their addresses
//! (relocatable objects' sections laid out one after another, as a linker
//! would), with relocations applied to the words the inspector reads.
//!
//! Work is bounded by the file's size whatever its headers claim: names are
//! read at most [`MAX_NAME`] bytes deep (thousands of headers may share one
//! huge name), and no more relocation entries are read than the file has
//! room for (thousands of relocation sections may cover the same entries).

use crate::{Error, Location};
use object::elf;
use object::read::elf::{ElfFile, ElfFile32, ElfFile64, FileHeader, SectionHeader, Sym};
use object::read::{Object, ObjectSection, ObjectSymbol};
use object::{
    Endianness, FileKind, ObjectKind, RelocationFlags, RelocationKind, RelocationTarget,
    SectionFlags, SectionIndex, SymbolKind,
};
use std::collections::HashMap;

/// Longest section or symbol name kept, in bytes; longer ones are shown cut,
/// followed by `...`.
pub(crate) const MAX_NAME: usize = 256;

/// `SHF_EXECINSTR`.
const SHF_EXECINSTR: u64 = 0x4;
/// `SHF_ALLOC`.
const SHF_ALLOC: u64 = 0x2;
/// Where relocatable objects' sections are laid out from.
const RELOCATABLE_BASE: u64 = 0x1_0000;
/// Alignment of each laid-out section of a relocatable object: large enough
/// that an offset's alignment within the section is the address's.
const RELOCATABLE_SECTION_ALIGN: u64 = 0x1000;

/// A name from a string table, at most [`MAX_NAME`] bytes of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Name<'d> {
    pub text: &'d str,
    /// The name goes on past `text` (or has no terminating NUL).
    pub truncated: bool,
}

impl Name<'_> {
    /// Whether this is exactly `name`.
    pub fn is(&self, name: &str) -> bool {
        !self.truncated && self.text == name
    }

    /// For listings: cut names end in `...`.
    pub fn shown(&self) -> String {
        if self.truncated {
            format!("{}...", self.text)
        } else {
            self.text.to_string()
        }
    }
}

/// The name at `offset` in the string table `table`, read no further than
/// [`MAX_NAME`] bytes: `None` past the table or for invalid UTF-8.
fn name_at(table: &[u8], offset: u32) -> Option<Name<'_>> {
    let start = usize::try_from(offset).ok()?;
    let rest = table.get(start..)?;
    let window = &rest[..rest.len().min(MAX_NAME + 1)];
    match window.iter().position(|&b| b == 0) {
        Some(end) => Some(Name {
            text: std::str::from_utf8(&window[..end]).ok()?,
            truncated: false,
        }),
        None => {
            let cut = &window[..window.len().min(MAX_NAME)];
            // Cut at a character boundary.
            let text = match std::str::from_utf8(cut) {
                Ok(text) => text,
                Err(e) if e.error_len().is_none() => {
                    std::str::from_utf8(&cut[..e.valid_up_to()]).ok()?
                }
                Err(_) => return None,
            };
            Some(Name {
                text,
                truncated: true,
            })
        }
    }
}

/// One section, placed.
pub(crate) struct Section<'d> {
    pub name: Name<'d>,
    /// The section's index in the section header table.
    pub index: usize,
    pub base: u64,
    pub size: u64,
    /// The bytes in the file (empty for `SHT_NOBITS` or unreadable data).
    pub data: &'d [u8],
    /// Where `data` starts in the file.
    pub file_offset: u64,
    pub executable: bool,
    pub align: u64,
}

/// A relocation's value at one address.
#[derive(Clone, Copy)]
struct Applied {
    /// `None`: against an undefined symbol, unknown until link time.
    value: Option<u64>,
    /// Width in bytes: 4 or 8.
    width: u8,
}

/// Why a word could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// No section with file data holds the whole word.
    Unmapped(u64),
    /// A relocation against an undefined symbol.
    Unresolved(u64),
}

pub(crate) struct Image<'d> {
    pub relocatable: bool,
    pub kind: &'static str,
    pub endian: Endianness,
    pub machine: u16,
    pub e_flags: u32,
    pub sections: Vec<Section<'d>>,
    /// Indices into `sections`, sorted by base address.
    by_address: Vec<usize>,
    relocations: HashMap<u64, Applied>,
    /// Relocation entries not read: more than the file has room for.
    pub relocations_skipped: bool,
    /// (address, name), sorted by address.
    symbols: Vec<(u64, Name<'d>)>,
}

fn sh_flags(flags: SectionFlags) -> u64 {
    match flags {
        SectionFlags::Elf { sh_flags } => sh_flags,
        _ => 0,
    }
}

/// The `RELATIVE` relocation type of each architecture (dynamic
/// relocations whose value is the load base, 0 here, plus the addend).
fn relative_type(machine: u16) -> Option<u32> {
    Some(match machine {
        elf::EM_X86_64 => elf::R_X86_64_RELATIVE,
        elf::EM_386 => elf::R_386_RELATIVE,
        elf::EM_AARCH64 => elf::R_AARCH64_RELATIVE,
        elf::EM_ARM => elf::R_ARM_RELATIVE,
        elf::EM_PPC64 | elf::EM_PPC => elf::R_PPC64_RELATIVE,
        elf::EM_RISCV => elf::R_RISCV_RELATIVE,
        elf::EM_S390 => elf::R_390_RELATIVE,
        elf::EM_LOONGARCH => elf::R_LARCH_RELATIVE,
        _ => return None,
    })
}

/// Which half of a label difference a relocation applies.
#[derive(Clone, Copy)]
enum Difference {
    Add,
    Sub,
}

/// The relocations that together write `a - b` into one word of a
/// relocatable object, with the word's width: RISC-V assemblers emit
/// `.quad 2f - 1f` (a descriptor's `post_commit_offset`) as an
/// `R_RISCV_ADD64`/`R_RISCV_SUB64` pair, because linker relaxation may
/// still move the labels apart.
fn difference_part(machine: u16, r_type: u32) -> Option<(u8, Difference)> {
    match (machine, r_type) {
        (elf::EM_RISCV, elf::R_RISCV_ADD64) => Some((8, Difference::Add)),
        (elf::EM_RISCV, elf::R_RISCV_SUB64) => Some((8, Difference::Sub)),
        (elf::EM_RISCV, elf::R_RISCV_ADD32) => Some((4, Difference::Add)),
        (elf::EM_RISCV, elf::R_RISCV_SUB32) => Some((4, Difference::Sub)),
        _ => None,
    }
}

impl<'d> Image<'d> {
    pub fn parse(data: &'d [u8]) -> Result<Self, Error> {
        let bad = |e: object::Error| Error(format!("bad ELF file: {e}"));
        match FileKind::parse(data).map_err(bad)? {
            FileKind::Elf32 => {
                Self::parse_elf(&ElfFile32::<Endianness>::parse(data).map_err(bad)?, data)
            }
            FileKind::Elf64 => {
                Self::parse_elf(&ElfFile64::<Endianness>::parse(data).map_err(bad)?, data)
            }
            _ => Err(Error("bad ELF file: not an ELF file".into())),
        }
    }

    fn parse_elf<Elf: FileHeader<Endian = Endianness>>(
        file: &ElfFile<'d, Elf>,
        data: &'d [u8],
    ) -> Result<Self, Error> {
        let endian = file.endianness();
        let (machine, e_flags) = elf_header_fields(data)?;
        // Names are read here, bounded, rather than by `object`, which reads
        // each up to its NUL.
        let table_data = |index: SectionIndex| -> &'d [u8] {
            file.elf_section_table()
                .section(index)
                .ok()
                .and_then(|h| h.data(endian, data).ok())
                .unwrap_or(&[])
        };
        let shstrtab = file
            .elf_header()
            .shstrndx(endian, data)
            .map_or(&[][..], |i| table_data(SectionIndex(i as usize)));
        let no_name = Name {
            text: "",
            truncated: false,
        };
        let section_name = |header: &Elf::SectionHeader| {
            name_at(shstrtab, header.sh_name(endian)).unwrap_or(no_name)
        };
        let relocatable = file.kind() == ObjectKind::Relocatable;
        let kind = match file.kind() {
            ObjectKind::Relocatable => "relocatable",
            ObjectKind::Executable => "executable",
            ObjectKind::Dynamic
                if file
                    .elf_section_table()
                    .iter()
                    .any(|h| section_name(h).is(".interp")) =>
            {
                "position-independent executable"
            }
            ObjectKind::Dynamic => "shared object",
            ObjectKind::Core => "core",
            _ => "unknown",
        };

        // Place the sections.
        let mut sections = Vec::new();
        let mut index_of: HashMap<SectionIndex, usize> = HashMap::new();
        let mut next = RELOCATABLE_BASE;
        for section in file.sections() {
            let flags = sh_flags(section.flags());
            let size = section.size();
            let base = if relocatable {
                let base = next;
                next = base
                    .checked_add(size)
                    .and_then(|end| end.checked_add(RELOCATABLE_SECTION_ALIGN - 1))
                    .map(|end| end & !(RELOCATABLE_SECTION_ALIGN - 1))
                    .ok_or_else(|| Error("section sizes overflow the address space".into()))?;
                base
            } else {
                if flags & SHF_ALLOC == 0 {
                    continue;
                }
                section.address()
            };
            if base.checked_add(size).is_none() {
                return Err(Error(format!(
                    "section {} overflows the address space",
                    section.index().0
                )));
            }
            index_of.insert(section.index(), sections.len());
            sections.push(Section {
                name: section_name(section.elf_section_header()),
                index: section.index().0,
                base,
                size,
                data: section.data().unwrap_or(&[]),
                file_offset: section.file_range().map_or(0, |(offset, _)| offset),
                executable: flags & SHF_EXECINSTR != 0,
                align: section.align(),
            });
        }
        let mut by_address: Vec<usize> = (0..sections.len()).collect();
        by_address.sort_by_key(|&i| (sections[i].base, sections[i].size));

        let symbol_address = |index: SectionIndex, value: u64| -> Option<u64> {
            if relocatable {
                let placed = index_of.get(&index)?;
                sections[*placed].base.checked_add(value)
            } else {
                Some(value)
            }
        };

        // Symbols, for names.
        let mut symbols = Vec::new();
        let (table, raw_table) = match file.symbol_table() {
            Some(table) => (Some(table), file.elf_symbol_table()),
            None => (file.dynamic_symbol_table(), file.elf_dynamic_symbol_table()),
        };
        if let Some(table) = table {
            use object::read::ObjectSymbolTable;
            let strtab = table_data(raw_table.string_section());
            for symbol in table.symbols() {
                if !matches!(
                    symbol.kind(),
                    SymbolKind::Text | SymbolKind::Data | SymbolKind::Label | SymbolKind::Unknown
                ) {
                    continue;
                }
                let name = name_at(strtab, symbol.elf_symbol().st_name(endian));
                let (Some(name), Some(index)) = (name, symbol.section_index()) else {
                    continue;
                };
                if name.text.is_empty() || name.text.starts_with('$') {
                    continue;
                }
                if let Some(address) = symbol_address(index, symbol.address()) {
                    symbols.push((address, name));
                }
            }
        }
        symbols.sort();
        symbols.dedup_by_key(|s| s.0);

        // Relocations. Each entry takes 8 bytes of the file at least, so a
        // file holds no more than `data.len() / 8`: any more are the same
        // entries again, through relocation sections that overlap.
        let mut relocations = HashMap::new();
        let mut budget = data.len() / 8;
        let mut relocations_skipped = false;
        if relocatable {
            'sections: for section in file.sections() {
                let Some(&placed) = index_of.get(&section.index()) else {
                    continue;
                };
                let base = sections[placed].base;
                for (offset, relocation) in section.relocations() {
                    if budget == 0 {
                        relocations_skipped = true;
                        break 'sections;
                    }
                    budget -= 1;
                    let pair = match relocation.flags() {
                        RelocationFlags::Elf { r_type } => difference_part(machine, r_type),
                        _ => None,
                    };
                    let width = match (pair, relocation.kind(), relocation.size()) {
                        (Some((width, _)), _, _) => width,
                        (None, RelocationKind::Absolute, 64) => 8u8,
                        (None, RelocationKind::Absolute, 32) => 4u8,
                        // Not a pointer: not in the tables read here.
                        _ => continue,
                    };
                    let Some(at) = base.checked_add(offset) else {
                        continue;
                    };
                    let target = match relocation.target() {
                        RelocationTarget::Symbol(index) => match file.symbol_by_index(index) {
                            Ok(symbol) if symbol.is_undefined() => None,
                            Ok(symbol) => match symbol.section_index() {
                                Some(index) => symbol_address(index, symbol.address()),
                                // Absolute symbols.
                                None => Some(symbol.address()),
                            },
                            Err(_) => None,
                        },
                        RelocationTarget::Section(index) => symbol_address(index, 0),
                        RelocationTarget::Absolute => Some(0),
                        _ => None,
                    };
                    let mut addend = relocation.addend() as u64;
                    if relocation.has_implicit_addend() {
                        let implicit =
                            raw_word(&sections, &by_address, file.endianness(), at, width);
                        addend = match (implicit, width) {
                            (Some(v), 4) => v as u32 as i32 as i64 as u64,
                            (Some(v), _) => v,
                            (None, _) => 0,
                        };
                    }
                    let mut value = target.map(|t| t.wrapping_add(addend));
                    if let Some((_, part)) = pair {
                        // One half of `a - b`: applied to what the word
                        // holds so far (the other half, or the file's word).
                        let current = match relocations.get(&at) {
                            Some(Applied { value, .. }) => *value,
                            None => raw_word(&sections, &by_address, file.endianness(), at, width),
                        };
                        value = match (current, value, part) {
                            (Some(c), Some(v), Difference::Add) => Some(c.wrapping_add(v)),
                            (Some(c), Some(v), Difference::Sub) => Some(c.wrapping_sub(v)),
                            _ => None,
                        };
                    }
                    let value = value.map(|v| if width == 4 { v & 0xffff_ffff } else { v });
                    relocations.insert(at, Applied { value, width });
                }
            }
        } else if let Some(dynamic) = file.dynamic_relocations() {
            let relative = relative_type(machine);
            for (at, relocation) in dynamic {
                if budget == 0 {
                    relocations_skipped = true;
                    break;
                }
                budget -= 1;
                let width = if file.is_64() { 8 } else { 4 };
                let r_type = match relocation.flags() {
                    RelocationFlags::Elf { r_type } => r_type,
                    _ => continue,
                };
                let value = if Some(r_type) == relative {
                    let mut addend = relocation.addend() as u64;
                    if relocation.has_implicit_addend() {
                        addend = raw_word(&sections, &by_address, file.endianness(), at, width)
                            .unwrap_or(0);
                    }
                    Some(addend)
                } else if relocation.kind() == RelocationKind::Absolute
                    && u32::from(relocation.size()) == u32::from(width) * 8
                {
                    match relocation.target() {
                        RelocationTarget::Symbol(index) => {
                            match file.dynamic_symbol_table().and_then(|t| {
                                use object::read::ObjectSymbolTable;
                                t.symbol_by_index(index).ok()
                            }) {
                                Some(symbol) if !symbol.is_undefined() => {
                                    Some(symbol.address().wrapping_add(relocation.addend() as u64))
                                }
                                _ => None,
                            }
                        }
                        _ => None,
                    }
                } else {
                    continue;
                };
                let value = value.map(|v| if width == 4 { v & 0xffff_ffff } else { v });
                relocations.insert(at, Applied { value, width });
            }
        }

        Ok(Image {
            relocatable,
            kind,
            endian: file.endianness(),
            machine,
            e_flags,
            sections,
            by_address,
            relocations,
            relocations_skipped,
            symbols,
        })
    }

    /// The section holding `[address, address + len)`, as an index into
    /// `sections`.
    pub fn section_of(&self, address: u64, len: u64) -> Option<usize> {
        section_of(&self.sections, &self.by_address, address, len)
    }

    /// `len` file bytes at `address` (relocations not applied).
    pub fn bytes(&self, address: u64, len: u64) -> Option<&'d [u8]> {
        bytes(&self.sections, &self.by_address, address, len)
    }

    /// The `u32` at `address`, in the file's byte order, relocations
    /// applied.
    pub fn read_u32(&self, address: u64) -> Result<u32, ReadError> {
        if let Some(applied) = self.relocations.get(&address) {
            if applied.width == 4 {
                return applied
                    .value
                    .map(|v| v as u32)
                    .ok_or(ReadError::Unresolved(address));
            }
        }
        raw_word(&self.sections, &self.by_address, self.endian, address, 4)
            .map(|v| v as u32)
            .ok_or(ReadError::Unmapped(address))
    }

    /// The `u64` at `address`, in the file's byte order, relocations
    /// applied (a 32-bit relocation of its low half on a 32-bit
    /// architecture too).
    pub fn read_u64(&self, address: u64) -> Result<u64, ReadError> {
        if let Some(applied) = self.relocations.get(&address) {
            if applied.width == 8 {
                return applied.value.ok_or(ReadError::Unresolved(address));
            }
        }
        let high_at = address.checked_add(4).ok_or(ReadError::Unmapped(address))?;
        let (low_at, high_at) = match self.endian {
            Endianness::Little => (address, high_at),
            Endianness::Big => (high_at, address),
        };
        let low = self.read_u32(low_at)?;
        let high = self.read_u32(high_at)?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    /// Describes `address` for a listing.
    pub fn locate(&self, address: u64) -> Location {
        let section = self.section_of(address, 0).map(|i| &self.sections[i]);
        let symbol = match self.symbols.partition_point(|(a, _)| *a <= address) {
            0 => None,
            n => {
                let (at, name) = &self.symbols[n - 1];
                // Only a symbol of the same section names the address.
                let same_section = section.is_some_and(|s| *at >= s.base);
                same_section.then(|| match address - at {
                    0 => name.shown(),
                    off => format!("{}+{off:#x}", name.shown()),
                })
            }
        };
        Location {
            address: (!self.relocatable).then_some(address),
            section: section.map(|s| s.name.shown()),
            section_offset: section.map_or(address, |s| address - s.base),
            symbol,
        }
    }
}

/// `e_machine` and `e_flags`, read from the header `object` has validated.
fn elf_header_fields(data: &[u8]) -> Result<(u16, u32), Error> {
    let short = || Error("truncated ELF header".into());
    let class = *data.get(4).ok_or_else(short)?;
    let big = *data.get(5).ok_or_else(short)? == 2;
    let u16_at = |at: usize| -> Result<u16, Error> {
        let b: [u8; 2] = data
            .get(at..at + 2)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?;
        Ok(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Result<u32, Error> {
        let b: [u8; 4] = data
            .get(at..at + 4)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?;
        Ok(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let flags_at = if class == 2 { 48 } else { 36 };
    Ok((u16_at(18)?, u32_at(flags_at)?))
}

fn section_of(
    sections: &[Section<'_>],
    by_address: &[usize],
    address: u64,
    len: u64,
) -> Option<usize> {
    let end = address.checked_add(len)?;
    let n = by_address.partition_point(|&i| sections[i].base <= address);
    // Look at the few sections starting at or before `address`: enough for
    // well-formed files, bounded for hostile ones with overlapping sections.
    by_address[..n].iter().rev().take(16).copied().find(|&i| {
        let s = &sections[i];
        let s_end = s.base.saturating_add(s.size);
        address >= s.base && (end < s_end || (end == s_end && (len > 0 || address < s_end)))
    })
}

fn bytes<'d>(
    sections: &[Section<'d>],
    by_address: &[usize],
    address: u64,
    len: u64,
) -> Option<&'d [u8]> {
    let i = section_of(sections, by_address, address, len)?;
    let s = &sections[i];
    let start = usize::try_from(address - s.base).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    s.data.get(start..end)
}

fn raw_word(
    sections: &[Section<'_>],
    by_address: &[usize],
    endian: Endianness,
    address: u64,
    width: u8,
) -> Option<u64> {
    let b = bytes(sections, by_address, address, u64::from(width))?;
    Some(match (width, endian) {
        (4, Endianness::Little) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
        (4, Endianness::Big) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
        (8, Endianness::Little) => u64::from_le_bytes(b.try_into().ok()?),
        (8, Endianness::Big) => u64::from_be_bytes(b.try_into().ok()?),
        _ => return None,
    })
}
