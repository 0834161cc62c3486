//! Finds the critical sections of one ELF object and checks them.

use crate::image::{Image, ReadError};
use crate::{CriticalSection, Error, Finding, Location, ObjectReport};
use object::elf;
use object::Endianness;
use rseq_abi::ARCHITECTURES;
use std::collections::{BTreeMap, BTreeSet};

const DESCRIPTORS: &str = "__rseq_cs";
const POINTERS: &str = "__rseq_cs_ptr_array";
const EXIT_POINTS: &str = "__rseq_exit_point_array";
const FAILURE: &str = "__rseq_failure";
/// `sizeof(struct rseq_cs)`, and its alignment.
const DESCRIPTOR_SIZE: u64 = 32;
/// The bytes before an x86 signature that make it decode as `ud1`.
const X86_SIGNATURE_PREFIX: [u8; 3] = [0x0f, 0xb9, 0x3d];
/// `RSEQ_CS_FLAG_NO_RESTART_ON_{PREEMPT,SIGNAL,MIGRATE}`.
const KNOWN_FLAGS: u32 = 0x7;
/// A longer "section" is not taken for a descriptor when scanning.
const PLAUSIBLE_LENGTH: u64 = 1 << 20;
/// `EF_MIPS_ARCH_ASE_MICROMIPS`.
const EF_MIPS_MICROMIPS: u32 = 0x0200_0000;
/// `EM_NANOMIPS`.
const EM_NANOMIPS: u16 = 249;

/// The `rseq_abi::ARCHITECTURES` row for a machine and byte order.
fn architecture(image: &Image<'_>) -> Result<&'static rseq_abi::ArchInfo, String> {
    let big = image.endian == Endianness::Big;
    let name = match image.machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "i386",
        elf::EM_AARCH64 if big => "aarch64_be",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM if big => "armeb",
        elf::EM_ARM => "arm",
        elf::EM_PPC => "powerpc",
        elf::EM_PPC64 => "powerpc64",
        EM_NANOMIPS if big => "nanomips_be",
        EM_NANOMIPS => "nanomips_le",
        elf::EM_MIPS if image.e_flags & EF_MIPS_MICROMIPS != 0 && big => "micromips_be",
        elf::EM_MIPS if image.e_flags & EF_MIPS_MICROMIPS != 0 => "micromips_le",
        elf::EM_MIPS => "mips",
        elf::EM_S390 => "s390",
        elf::EM_RISCV if !big => "riscv",
        elf::EM_LOONGARCH => "loongarch",
        other => {
            return Err(format!(
                "e_machine {other} ({} endian), which has no RSEQ_SIG",
                if big { "big" } else { "little" }
            ))
        }
    };
    ARCHITECTURES
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("{name}, missing from rseq_abi::ARCHITECTURES"))
}

struct Checker<'i, 'd> {
    image: &'i Image<'d>,
    violations: Vec<Finding>,
    warnings: Vec<Finding>,
}

impl Checker<'_, '_> {
    fn violation(&mut self, kind: &'static str, message: String) {
        self.violations.push(Finding { kind, message });
    }

    fn warning(&mut self, kind: &'static str, message: String) {
        self.warnings.push(Finding { kind, message });
    }

    fn at(&self, address: u64) -> Location {
        self.image.locate(address)
    }

    fn describe(&self, e: &ReadError) -> String {
        match e {
            ReadError::Unmapped(a) => {
                format!("{} is not in any section with file data", self.at(*a))
            }
            ReadError::Unresolved(a) => {
                format!("{} is relocated against an undefined symbol", self.at(*a))
            }
        }
    }

    fn executable(&self, address: u64) -> bool {
        self.image
            .section_of(address, 1)
            .is_some_and(|i| self.image.sections[i].executable)
    }

    fn section_name(&self, address: u64) -> Option<&str> {
        self.image
            .section_of(address, 1)
            .map(|i| self.image.sections[i].name.as_str())
    }
}

/// How much of a section the file holds: loops over a section's entries go
/// no further, whatever size a (hostile) header claims.
fn data_len(s: &crate::image::Section<'_>) -> u64 {
    s.size.min(s.data.len() as u64)
}

fn check_in_file(c: &mut Checker<'_, '_>, s: &crate::image::Section<'_>) {
    if (s.data.len() as u64) < s.size {
        c.violation(
            "truncated_section",
            format!(
                "section {} claims {} bytes but the file holds {}",
                s.name,
                s.size,
                s.data.len()
            ),
        );
    }
}

/// The fields of a `struct rseq_cs`.
struct Descriptor {
    version: u32,
    flags: u32,
    start: u64,
    post_commit_offset: u64,
    abort: u64,
}

fn read_descriptor(image: &Image<'_>, at: u64) -> Result<Descriptor, ReadError> {
    let field = |offset: u64| at.checked_add(offset).ok_or(ReadError::Unmapped(at));
    Ok(Descriptor {
        version: image.read_u32(at)?,
        flags: image.read_u32(field(4)?)?,
        start: image.read_u64(field(8)?)?,
        post_commit_offset: image.read_u64(field(16)?)?,
        abort: image.read_u64(field(24)?)?,
    })
}

/// Inspects one ELF object (`member`: its name in an archive).
pub fn inspect_object(data: &[u8], member: Option<String>) -> Result<ObjectReport, Error> {
    let image = Image::parse(data)?;
    let mut c = Checker {
        image: &image,
        violations: Vec::new(),
        warnings: Vec::new(),
    };
    let arch = architecture(&image);
    let has_rseq_sections = image
        .sections
        .iter()
        .any(|s| [DESCRIPTORS, POINTERS, EXIT_POINTS, FAILURE].contains(&s.name.as_str()));
    if let Err(why) = &arch {
        if has_rseq_sections {
            c.violation(
                "unsupported_architecture",
                format!("rseq sections in a file for {why}"),
            );
        }
    }
    let signature = arch.as_ref().ok().map(|a| a.signature);

    // Section alignment of the descriptor sections.
    for s in image.sections.iter().filter(|s| s.name == DESCRIPTORS) {
        if s.align < DESCRIPTOR_SIZE {
            c.violation(
                "misaligned_descriptor",
                format!(
                    "section {DESCRIPTORS} is aligned to {} bytes, not {DESCRIPTOR_SIZE}",
                    s.align
                ),
            );
        }
    }

    // __rseq_cs_ptr_array: the listed descriptors.
    let mut listed = BTreeSet::new();
    for s in image.sections.iter().filter(|s| s.name == POINTERS) {
        check_in_file(&mut c, s);
        if s.size % 8 != 0 {
            c.violation(
                "bad_ptr_array",
                format!("{POINTERS} is {} bytes, not a multiple of 8", s.size),
            );
        }
        for k in 0..data_len(s) / 8 {
            let Some(at) = s.base.checked_add(k * 8) else {
                break;
            };
            match image.read_u64(at) {
                Ok(0) if !image.relocatable => c.violation(
                    "bad_ptr_array",
                    format!("{POINTERS}[{k}] at {} is a null pointer", c.at(at)),
                ),
                Ok(target) => {
                    listed.insert(target);
                }
                Err(e) => {
                    let why = c.describe(&e);
                    c.violation("bad_ptr_array", format!("{POINTERS}[{k}]: {why}"));
                }
            }
        }
    }

    // __rseq_exit_point_array: start_ip -> exit_ips.
    let mut exits: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for s in image.sections.iter().filter(|s| s.name == EXIT_POINTS) {
        check_in_file(&mut c, s);
        if s.size % 16 != 0 {
            c.violation(
                "bad_exit_point_array",
                format!("{EXIT_POINTS} is {} bytes, not a multiple of 16", s.size),
            );
        }
        for k in 0..data_len(s) / 16 {
            let Some(at) = s.base.checked_add(k * 16) else {
                break;
            };
            let pair = image.read_u64(at).and_then(|start| {
                Ok((
                    start,
                    image.read_u64(at.checked_add(8).ok_or(ReadError::Unmapped(at))?)?,
                ))
            });
            match pair {
                Ok((start, exit)) => exits.entry(start).or_default().push(exit),
                Err(e) => {
                    let why = c.describe(&e);
                    c.violation("bad_exit_point_array", format!("{EXIT_POINTS}[{k}]: {why}"));
                }
            }
        }
    }

    // Descriptors: those listed, and those found in __rseq_cs.
    let mut descriptors: BTreeMap<u64, Descriptor> = BTreeMap::new();
    for &at in &listed {
        match read_descriptor(&image, at) {
            Ok(d) => {
                descriptors.insert(at, d);
            }
            Err(e) => {
                let why = c.describe(&e);
                c.violation(
                    "bad_descriptor",
                    format!("descriptor {} listed in {POINTERS}: {why}", c.at(at)),
                );
            }
        }
    }
    for s in image.sections.iter().filter(|s| s.name == DESCRIPTORS) {
        // Descriptors are 8-byte aligned at least: step by 8 and take any
        // plausible record, so that a misaligned one is found too.
        check_in_file(&mut c, s);
        let mut offset = 0u64;
        while offset
            .checked_add(DESCRIPTOR_SIZE)
            .is_some_and(|end| end <= data_len(s))
        {
            let Some(at) = s.base.checked_add(offset) else {
                break;
            };
            let plausible = read_descriptor(&image, at).ok().filter(|d| {
                d.version == 0
                    && d.post_commit_offset > 0
                    && d.post_commit_offset < PLAUSIBLE_LENGTH
                    && c.executable(d.start)
                    && c.executable(d.abort)
            });
            match plausible {
                Some(d) => {
                    descriptors.entry(at).or_insert(d);
                    offset += DESCRIPTOR_SIZE;
                }
                None => offset += 8,
            }
        }
    }

    let mut sections = Vec::new();
    let mut starts = BTreeSet::new();
    for (&at, d) in &descriptors {
        let here = c.at(at);
        starts.insert(d.start);
        if at % DESCRIPTOR_SIZE != 0 {
            c.violation(
                "misaligned_descriptor",
                format!("descriptor {here} is not {DESCRIPTOR_SIZE}-byte aligned"),
            );
        }
        if c.section_name(at) != Some(DESCRIPTORS) {
            c.warning(
                "descriptor_outside_section",
                format!("descriptor {here} is not in section {DESCRIPTORS}"),
            );
        }
        if !listed.contains(&at) {
            c.violation(
                "unlisted_descriptor",
                format!("descriptor {here} is not listed in {POINTERS}"),
            );
        }
        if d.version != 0 {
            c.violation(
                "bad_version",
                format!("descriptor {here} has version {}, not 0", d.version),
            );
        }
        if d.flags != 0 {
            let kind = if d.flags & !KNOWN_FLAGS != 0 {
                "unknown"
            } else {
                "deprecated"
            };
            c.violation(
                "bad_flags",
                format!(
                    "descriptor {here} has {kind} flags {:#x} (the kernel rejects any)",
                    d.flags
                ),
            );
        }
        if !c.executable(d.start) {
            c.violation(
                "start_not_code",
                format!(
                    "descriptor {here}: start_ip {} is not in executable code",
                    c.at(d.start)
                ),
            );
        }
        let end = d.start.checked_add(d.post_commit_offset);
        match end {
            None => c.violation(
                "bad_length",
                format!(
                    "descriptor {here}: start_ip + post_commit_offset ({:#x}) overflows",
                    d.post_commit_offset
                ),
            ),
            Some(_) if d.post_commit_offset == 0 => c.violation(
                "bad_length",
                format!("descriptor {here}: post_commit_offset is 0 (an empty section)"),
            ),
            Some(_) if image.section_of(d.start, d.post_commit_offset).is_none() => c.violation(
                "bad_length",
                format!(
                    "descriptor {here}: the section [{}, +{:#x}) is not within one section of the file",
                    c.at(d.start),
                    d.post_commit_offset
                ),
            ),
            Some(_) => {}
        }
        let inside = |ip: u64| ip >= d.start && end.is_none_or(|end| ip < end);
        if inside(d.abort) {
            c.violation(
                "abort_inside_section",
                format!(
                    "descriptor {here}: abort_ip {} lies inside the section it aborts",
                    c.at(d.abort)
                ),
            );
        }
        if !c.executable(d.abort) {
            c.violation(
                "abort_not_code",
                format!(
                    "descriptor {here}: abort_ip {} is not in executable code",
                    c.at(d.abort)
                ),
            );
        } else if c.section_name(d.abort) != Some(FAILURE) {
            c.warning(
                "abort_outside_failure_section",
                format!(
                    "descriptor {here}: abort handler {} is not in section {FAILURE}",
                    c.at(d.abort)
                ),
            );
        }
        let signature_found = d
            .abort
            .checked_sub(4)
            .and_then(|sig_at| image.bytes(sig_at, 4))
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| match image.endian {
                Endianness::Little => u32::from_le_bytes(b),
                Endianness::Big => u32::from_be_bytes(b),
            });
        match (signature_found, signature) {
            (None, _) => c.violation(
                "wrong_signature",
                format!(
                    "descriptor {here}: the 4 bytes before abort_ip {} are not in the file",
                    c.at(d.abort)
                ),
            ),
            (Some(found), Some(expected)) if found != expected => c.violation(
                "wrong_signature",
                format!(
                    "descriptor {here}: the 4 bytes before abort_ip {} are {found:#010x}, not RSEQ_SIG {expected:#010x}",
                    c.at(d.abort)
                ),
            ),
            (Some(_), Some(_)) => {
                if matches!(image.machine, elf::EM_X86_64 | elf::EM_386) {
                    let prefix = d.abort.checked_sub(7).and_then(|p| image.bytes(p, 3));
                    if prefix != Some(&X86_SIGNATURE_PREFIX[..]) {
                        c.warning(
                            "signature_not_ud1",
                            format!(
                                "descriptor {here}: RSEQ_SIG before {} is not preceded by 0f b9 3d, so it does not decode as ud1",
                                c.at(d.abort)
                            ),
                        );
                    }
                }
            }
            (Some(_), None) => {}
        }
        let exit_points = exits.get(&d.start).cloned().unwrap_or_default();
        if exit_points.is_empty() {
            c.violation(
                "missing_exit_points",
                format!(
                    "descriptor {here}: no exit point of the section starting at {} in {EXIT_POINTS}",
                    c.at(d.start)
                ),
            );
        }
        for &exit in &exit_points {
            if inside(exit) && exit != d.start {
                c.violation(
                    "exit_inside_section",
                    format!(
                        "descriptor {here}: exit point {} lies inside the section",
                        c.at(exit)
                    ),
                );
            }
        }
        sections.push(CriticalSection {
            descriptor: here,
            version: d.version,
            flags: d.flags,
            start: c.at(d.start),
            post_commit_offset: d.post_commit_offset,
            post_commit: end.map(|end| c.at(end)),
            abort: c.at(d.abort),
            signature_found,
            exit_points: exit_points.iter().map(|&e| c.at(e)).collect(),
            listed_in_ptr_array: listed.contains(&at),
        });
    }
    for (start, exit_ips) in &exits {
        if !starts.contains(start) {
            let first = exit_ips
                .first()
                .map(|&e| c.at(e).to_string())
                .unwrap_or_default();
            c.violation(
                "orphan_exit_point",
                format!(
                    "{EXIT_POINTS} lists exit {first} of a section starting at {}, which no descriptor describes",
                    c.at(*start)
                ),
            );
        }
    }
    let violations = c.violations;
    let warnings = c.warnings;
    Ok(ObjectReport {
        member,
        kind: image.kind,
        architecture: match &arch {
            Ok(a) => a.name.to_string(),
            Err(why) => why.clone(),
        },
        signature,
        critical_sections: sections,
        violations,
        warnings,
    })
}
