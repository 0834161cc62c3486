//! Finds the critical sections of one ELF object and checks them.

//!
//! Each byte of the file is read as a table entry at most once, and no
//! finding is formatted once the file's listing is full ([`Limits`]), so
//! the work and the memory are linear in the file's size even when its
//! headers describe thousands of overlapping tables.

use crate::arch::{self, HandlerLayout};
use crate::image::{Image, ReadError, Section};
use crate::{CriticalSection, Error, Finding, Limits, Location, ObjectReport, MAX_LISTED_EXITS};
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

struct Checker<'i, 'd, 'l> {
    image: &'i Image<'d>,
    violations: Vec<Finding>,
    warnings: Vec<Finding>,
    violations_omitted: usize,
    warnings_omitted: usize,
    /// What is left of the file's listing.
    limits: &'l mut Limits,
}

impl Checker<'_, '_, '_> {
    /// Records a violation; `message` is only formatted when it is listed.
    fn violation(&mut self, kind: &'static str, message: impl FnOnce(&Self) -> String) {
        if self.limits.violations == 0 {
            self.violations_omitted += 1;
            return;
        }
        self.limits.violations -= 1;
        let message = message(self);
        self.violations.push(Finding { kind, message });
    }

    fn warning(&mut self, kind: &'static str, message: impl FnOnce(&Self) -> String) {
        if self.limits.warnings == 0 {
            self.warnings_omitted += 1;
            return;
        }
        self.limits.warnings -= 1;
        let message = message(self);
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

    fn in_section(&self, address: u64, name: &str) -> bool {
        self.image
            .section_of(address, 1)
            .is_some_and(|i| self.image.sections[i].name.is(name))
    }
}

/// How much of a section the file holds: loops over a section's entries go
/// no further, whatever size a (hostile) header claims.
fn data_len(s: &Section<'_>) -> u64 {
    s.size.min(s.data.len() as u64)
}

fn check_in_file(c: &mut Checker<'_, '_, '_>, s: &Section<'_>) {
    if (s.data.len() as u64) < s.size {
        c.violation("truncated_section", |_| {
            format!(
                "section {} claims {} bytes but the file holds {}",
                s.name.shown(),
                s.size,
                s.data.len()
            )
        });
    }
}

/// The file bytes already read as table entries: `[start, end)` ranges
/// that do not overlap, each with the index of the section read there.
#[derive(Default)]
struct Claimed(BTreeMap<u64, (u64, usize)>);

impl Claimed {
    /// Claims `s`'s bytes for reading, unless some were read already (as
    /// another section whose header covers them too): then returns that
    /// section's index.
    fn claim(&mut self, s: &Section<'_>) -> Result<(), usize> {
        let start = s.file_offset;
        let end = start.saturating_add(data_len(s));
        if start == end {
            return Ok(());
        }
        if let Some((_, &(claimed_end, index))) = self.0.range(..end).next_back() {
            if claimed_end > start {
                return Err(index);
            }
        }
        self.0.insert(start, (end, s.index));
        Ok(())
    }
}

/// The sections named `name` whose entries are to be read: each checked to
/// be in the file, and none whose bytes were read before.
fn tables<'i, 'd>(
    c: &mut Checker<'i, 'd, '_>,
    claimed: &mut Claimed,
    name: &str,
) -> Vec<&'i Section<'d>> {
    let image = c.image;
    let mut found = Vec::new();
    for s in image.sections.iter().filter(|s| s.name.is(name)) {
        check_in_file(c, s);
        match claimed.claim(s) {
            Ok(()) => found.push(s),
            Err(other) => c.violation("overlapping_sections", |_| {
                format!(
                    "section {name} (#{}) covers file bytes already read as section #{other}; not read again",
                    s.index
                )
            }),
        }
    }
    found
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

/// Warns about an abort handler outside `__rseq_failure` where the
/// architecture's layout ([`arch::handler_layout`]) does not allow it
/// there: code could run into its signature, a trapping instruction.
fn check_handler_placement(c: &mut Checker<'_, '_, '_>, here: &Location, abort: u64) {
    match arch::handler_layout(c.image.machine) {
        HandlerLayout::FailureSection => c.warning("abort_outside_failure_section", |c| {
            format!(
                "descriptor {here}: abort handler {} is not in section {FAILURE} \
                 (this architecture's sequences keep it out of line there)",
                c.at(abort)
            )
        }),
        HandlerLayout::BranchedOver(branch_before) => {
            // An abort_ip below 4 wraps to an address no file byte holds:
            // no branch is found, and wrong_signature reports it too.
            let signature = abort.wrapping_sub(4);
            if !branch_before(c.image, signature) {
                c.warning("signature_falls_through", |c| {
                    format!(
                        "descriptor {here}: abort handler {} is not in section {FAILURE} and \
                         no unconditional branch precedes its RSEQ_SIG at {}: \
                         the code before it runs into the signature, which traps",
                        c.at(abort),
                        c.at(signature)
                    )
                });
            }
        }
        HandlerLayout::Unchecked => {}
    }
}

/// Inspects one ELF object (`member`: its name in an archive).
pub fn inspect_object(data: &[u8], member: Option<String>) -> Result<ObjectReport, Error> {
    inspect_object_within(data, member, &mut Limits::default())
}

/// [`inspect_object`], listing no more than what is left in `limits` (which
/// an archive's members share).
pub(crate) fn inspect_object_within(
    data: &[u8],
    member: Option<String>,
    limits: &mut Limits,
) -> Result<ObjectReport, Error> {
    let image = Image::parse(data)?;
    let mut c = Checker {
        image: &image,
        violations: Vec::new(),
        warnings: Vec::new(),
        violations_omitted: 0,
        warnings_omitted: 0,
        limits,
    };
    let arch = architecture(&image);
    let has_rseq_sections = image.sections.iter().any(|s| {
        [DESCRIPTORS, POINTERS, EXIT_POINTS, FAILURE]
            .iter()
            .any(|name| s.name.is(name))
    });
    if let Err(why) = &arch {
        if has_rseq_sections {
            c.violation("unsupported_architecture", |_| {
                format!("rseq sections in a file for {why}")
            });
        }
    }
    let signature = arch.as_ref().ok().map(|a| a.signature);
    if image.relocations_skipped {
        c.violation("overlapping_relocations", |_| {
            format!(
                "the relocation sections hold more entries than the file has room for \
                 (they overlap): only the first {} were read",
                data.len() / 8
            )
        });
    }

    // Section alignment of the descriptor sections.
    for s in image.sections.iter().filter(|s| s.name.is(DESCRIPTORS)) {
        if s.align < DESCRIPTOR_SIZE {
            c.violation("misaligned_descriptor", |_| {
                format!(
                    "section {DESCRIPTORS} is aligned to {} bytes, not {DESCRIPTOR_SIZE}",
                    s.align
                )
            });
        }
    }

    let mut claimed = Claimed::default();

    // __rseq_cs_ptr_array: the listed descriptors.
    let mut listed = BTreeSet::new();
    for s in tables(&mut c, &mut claimed, POINTERS) {
        if s.size % 8 != 0 {
            c.violation("bad_ptr_array", |_| {
                format!("{POINTERS} is {} bytes, not a multiple of 8", s.size)
            });
        }
        for k in 0..data_len(s) / 8 {
            let Some(at) = s.base.checked_add(k * 8) else {
                break;
            };
            match image.read_u64(at) {
                Ok(0) if !image.relocatable => c.violation("bad_ptr_array", |c| {
                    format!("{POINTERS}[{k}] at {} is a null pointer", c.at(at))
                }),
                Ok(target) => {
                    listed.insert(target);
                }
                Err(e) => c.violation("bad_ptr_array", |c| {
                    format!("{POINTERS}[{k}]: {}", c.describe(&e))
                }),
            }
        }
    }

    // __rseq_exit_point_array: start_ip -> exit_ips, sorted, each once.
    let mut exits: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for s in tables(&mut c, &mut claimed, EXIT_POINTS) {
        if s.size % 16 != 0 {
            c.violation("bad_exit_point_array", |_| {
                format!("{EXIT_POINTS} is {} bytes, not a multiple of 16", s.size)
            });
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
                Err(e) => c.violation("bad_exit_point_array", |c| {
                    format!("{EXIT_POINTS}[{k}]: {}", c.describe(&e))
                }),
            }
        }
    }
    for exit_ips in exits.values_mut() {
        exit_ips.sort_unstable();
        exit_ips.dedup();
    }

    // Descriptors: those listed, and those found in __rseq_cs.
    let mut descriptors: BTreeMap<u64, Descriptor> = BTreeMap::new();
    for &at in &listed {
        match read_descriptor(&image, at) {
            Ok(d) => {
                descriptors.insert(at, d);
            }
            Err(e) => c.violation("bad_descriptor", |c| {
                format!(
                    "descriptor {} listed in {POINTERS}: {}",
                    c.at(at),
                    c.describe(&e)
                )
            }),
        }
    }
    for s in tables(&mut c, &mut claimed, DESCRIPTORS) {
        // Descriptors are 8-byte aligned at least: step by 8 and take any
        // plausible record, so that a misaligned one is found too.
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
    let mut sections_omitted = 0usize;
    let mut starts = BTreeSet::new();
    for (&at, d) in &descriptors {
        let here = c.at(at);
        starts.insert(d.start);
        if at % DESCRIPTOR_SIZE != 0 {
            c.violation("misaligned_descriptor", |_| {
                format!("descriptor {here} is not {DESCRIPTOR_SIZE}-byte aligned")
            });
        }
        if !c.in_section(at, DESCRIPTORS) {
            c.warning("descriptor_outside_section", |_| {
                format!("descriptor {here} is not in section {DESCRIPTORS}")
            });
        }
        if !listed.contains(&at) {
            c.violation("unlisted_descriptor", |_| {
                format!("descriptor {here} is not listed in {POINTERS}")
            });
        }
        if d.version != 0 {
            c.violation("bad_version", |_| {
                format!("descriptor {here} has version {}, not 0", d.version)
            });
        }
        if d.flags != 0 {
            let kind = if d.flags & !KNOWN_FLAGS != 0 {
                "unknown"
            } else {
                "deprecated"
            };
            c.violation("bad_flags", |_| {
                format!(
                    "descriptor {here} has {kind} flags {:#x} (the kernel rejects any)",
                    d.flags
                )
            });
        }
        if !c.executable(d.start) {
            c.violation("start_not_code", |c| {
                format!(
                    "descriptor {here}: start_ip {} is not in executable code",
                    c.at(d.start)
                )
            });
        }
        let end = d.start.checked_add(d.post_commit_offset);
        match end {
            None => c.violation("bad_length", |_| {
                format!(
                    "descriptor {here}: start_ip + post_commit_offset ({:#x}) overflows",
                    d.post_commit_offset
                )
            }),
            Some(_) if d.post_commit_offset == 0 => c.violation("bad_length", |_| {
                format!("descriptor {here}: post_commit_offset is 0 (an empty section)")
            }),
            Some(_) if image.section_of(d.start, d.post_commit_offset).is_none() => {
                c.violation("bad_length", |c| {
                    format!(
                        "descriptor {here}: the section [{}, +{:#x}) is not within one section of the file",
                        c.at(d.start),
                        d.post_commit_offset
                    )
                })
            }
            Some(_) => {}
        }
        let inside = |ip: u64| ip >= d.start && end.is_none_or(|end| ip < end);
        if inside(d.abort) {
            c.violation("abort_inside_section", |c| {
                format!(
                    "descriptor {here}: abort_ip {} lies inside the section it aborts",
                    c.at(d.abort)
                )
            });
        }
        if !c.executable(d.abort) {
            c.violation("abort_not_code", |c| {
                format!(
                    "descriptor {here}: abort_ip {} is not in executable code",
                    c.at(d.abort)
                )
            });
        } else if !c.in_section(d.abort, FAILURE) {
            check_handler_placement(&mut c, &here, d.abort);
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
            (None, _) => c.violation("wrong_signature", |c| {
                format!(
                    "descriptor {here}: the 4 bytes before abort_ip {} are not in the file",
                    c.at(d.abort)
                )
            }),
            (Some(found), Some(expected)) if found != expected => {
                c.violation("wrong_signature", |c| {
                    format!(
                        "descriptor {here}: the 4 bytes before abort_ip {} are {found:#010x}, not RSEQ_SIG {expected:#010x}",
                        c.at(d.abort)
                    )
                })
            }
            (Some(_), Some(_)) => {
                if matches!(image.machine, elf::EM_X86_64 | elf::EM_386) {
                    let prefix = d.abort.checked_sub(7).and_then(|p| image.bytes(p, 3));
                    if prefix != Some(&X86_SIGNATURE_PREFIX[..]) {
                        c.warning("signature_not_ud1", |c| {
                            format!(
                                "descriptor {here}: RSEQ_SIG before {} is not preceded by 0f b9 3d, so it does not decode as ud1",
                                c.at(d.abort)
                            )
                        });
                    }
                }
            }
            (Some(_), None) => {}
        }
        // Sorted: the exits inside the section are one range of them,
        // found without a walk (many descriptors may share one start and
        // many exits).
        let exit_points: &[u64] = exits.get(&d.start).map_or(&[], Vec::as_slice);
        if exit_points.is_empty() {
            c.violation("missing_exit_points", |c| {
                format!(
                    "descriptor {here}: no exit point of the section starting at {} in {EXIT_POINTS}",
                    c.at(d.start)
                )
            });
        }
        let first_inside = exit_points.partition_point(|&e| e <= d.start);
        let past_inside = end.map_or(exit_points.len(), |end| {
            exit_points.partition_point(|&e| e < end)
        });
        if let Some(inside_exits) = exit_points.get(first_inside..past_inside) {
            if let Some(&first) = inside_exits.first() {
                let more = inside_exits.len() - 1;
                c.violation("exit_inside_section", |c| {
                    let more = if more > 0 {
                        format!(" (and {more} more)")
                    } else {
                        String::new()
                    };
                    format!(
                        "descriptor {here}: exit point {} lies inside the section{more}",
                        c.at(first)
                    )
                });
            }
        }
        if c.limits.sections == 0 {
            sections_omitted += 1;
            continue;
        }
        c.limits.sections -= 1;
        let listed_exits = exit_points.len().min(MAX_LISTED_EXITS);
        sections.push(CriticalSection {
            descriptor: here,
            version: d.version,
            flags: d.flags,
            start: c.at(d.start),
            post_commit_offset: d.post_commit_offset,
            post_commit: end.map(|end| c.at(end)),
            abort: c.at(d.abort),
            signature_found,
            exit_points: exit_points[..listed_exits]
                .iter()
                .map(|&e| c.at(e))
                .collect(),
            exit_points_omitted: exit_points.len() - listed_exits,
            listed_in_ptr_array: listed.contains(&at),
        });
    }
    for (start, exit_ips) in &exits {
        if !starts.contains(start) {
            c.violation("orphan_exit_point", |c| {
                let first = exit_ips
                    .first()
                    .map(|&e| c.at(e).to_string())
                    .unwrap_or_default();
                format!(
                    "{EXIT_POINTS} lists exit {first} of a section starting at {}, which no descriptor describes",
                    c.at(*start)
                )
            });
        }
    }
    Ok(ObjectReport {
        member,
        kind: image.kind,
        architecture: match &arch {
            Ok(a) => a.name.to_string(),
            Err(why) => why.clone(),
        },
        signature,
        critical_sections: sections,
        critical_sections_omitted: sections_omitted,
        violations: c.violations,
        violations_omitted: c.violations_omitted,
        warnings: c.warnings,
        warnings_omitted: c.warnings_omitted,
    })
}
