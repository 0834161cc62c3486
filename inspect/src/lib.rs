//! Lists and validates the rseq critical sections of an ELF file: an
//! executable, a shared library, a relocatable object or a static archive of
//! them.
//!
//! The section layout is librseq's, which rseq-libc's per-CPU operations
//! follow:
//! - `__rseq_cs`: the `struct rseq_cs` descriptors (32 bytes, aligned 32);
//! - `__rseq_cs_ptr_array`: a `u64` pointer to each descriptor;
//! - `__rseq_exit_point_array`: `(start_ip, exit_ip)` `u64` pairs, one for
//!   every way out of a section other than an abort;
//! - `__rseq_failure`: the abort handlers, each preceded by the 4-byte
//!   `RSEQ_SIG` of the architecture (on x86 by the bytes `0f b9 3d` too, so
//!   that the signature decodes as `ud1`), on x86, powerpc and s390. On
//!   aarch64 and riscv the handler may instead follow the commit in
//!   `.text` behind an unconditional branch over the signature (librseq's
//!   and the kernel selftests' layout there: their conditional branches
//!   reach too short for another section). A handler elsewhere is a warning:
//!   `abort_outside_failure_section` (x86, powerpc, s390),
//!   `signature_falls_through` (aarch64, riscv: the instruction before the
//!   signature is no unconditional branch, so code runs into the trap); not
//!   checked on arm and mips (inline too, their code not decoded here).
//!
//! In relocatable objects (and so in static archives) the pointers are
//! relocations, resolved here from the relocation entries; in
//! position-independent executables and shared libraries they may be
//! dynamic `RELATIVE` relocations, resolved too.
//!
//! Hostile input is expected: every count, offset and address is
//! bounds-checked and every sum checked, and a file that cannot be read gives
//! an [`Error`], never a panic. Time and memory are linear in the file's
//! size, whatever its headers claim: each file byte is read as a table entry
//! at most once (sections whose bytes were read already, as another section
//! with an overlapping header, are reported and skipped), no more relocation
//! entries are read than the file has room for, names are read at most
//! 256 bytes deep, and the listing is capped (at most
//! [`MAX_LISTED_FINDINGS`] violations and as many warnings,
//! [`MAX_LISTED_SECTIONS`] critical sections and [`MAX_LISTED_EXITS`] exit
//! points per section are listed; the rest are counted).
#![deny(unsafe_code)]

mod arch;
mod archive;
mod image;
mod validate;

use serde::Serialize;
use std::fmt;

pub use validate::inspect_object;

/// Most violations listed per file (an archive's members share it), and
/// most warnings; any more are counted in `violations_omitted` and
/// `warnings_omitted`.
pub const MAX_LISTED_FINDINGS: usize = 1000;
/// Most critical sections listed per file; any more are validated and
/// counted in `critical_sections_omitted`.
pub const MAX_LISTED_SECTIONS: usize = 1024;
/// Most exit points listed per critical section; any more are counted in
/// `exit_points_omitted`.
pub const MAX_LISTED_EXITS: usize = 8;

/// What is left to list in one file's report.
pub(crate) struct Limits {
    pub violations: usize,
    pub warnings: usize,
    pub sections: usize,
    pub skipped_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            violations: MAX_LISTED_FINDINGS,
            warnings: MAX_LISTED_FINDINGS,
            sections: MAX_LISTED_SECTIONS,
            skipped_members: MAX_LISTED_FINDINGS,
        }
    }
}

/// The file could not be read as an ELF file or an archive of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Where something is: a virtual address in a linked file, a section and an
/// offset in every file, and the nearest preceding symbol when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The virtual address (linked files only: relocatable objects have none).
    pub address: Option<u64>,
    /// The section holding it, if any.
    pub section: Option<String>,
    /// Offset from the start of `section`.
    pub section_offset: u64,
    /// `symbol+0xoffset`, from the symbol table (or the dynamic one).
    pub symbol: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.address, &self.section) {
            (Some(address), _) => write!(f, "{address:#x}")?,
            (None, Some(section)) => write!(f, "{section}+{:#x}", self.section_offset)?,
            (None, None) => write!(f, "?+{:#x}", self.section_offset)?,
        }
        if let Some(symbol) = &self.symbol {
            write!(f, " <{symbol}>")?;
        }
        Ok(())
    }
}

/// One critical section: its descriptor and what the descriptor points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriticalSection {
    /// Where the `struct rseq_cs` is.
    pub descriptor: Location,
    /// `rseq_cs.version` (must be 0).
    pub version: u32,
    /// `rseq_cs.flags` (must be 0 on current kernels).
    pub flags: u32,
    /// `rseq_cs.start_ip`.
    pub start: Location,
    /// `rseq_cs.post_commit_offset`: the length of the section.
    pub post_commit_offset: u64,
    /// `start_ip + post_commit_offset`: the first instruction after the
    /// commit.
    pub post_commit: Option<Location>,
    /// `rseq_cs.abort_ip`.
    pub abort: Location,
    /// The 4 bytes before the abort handler, read in the file's byte order.
    pub signature_found: Option<u32>,
    /// Exit points listed for this section in `__rseq_exit_point_array`,
    /// in address order, each once (the first [`MAX_LISTED_EXITS`]).
    pub exit_points: Vec<Location>,
    /// Exit points of this section not in `exit_points`.
    pub exit_points_omitted: usize,
    /// Whether `__rseq_cs_ptr_array` points at this descriptor.
    pub listed_in_ptr_array: bool,
}

/// A rule broken (a violation) or a convention not followed (a warning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable identifier of the rule, e.g. `wrong_signature`.
    pub kind: &'static str,
    /// What is wrong, and where.
    pub message: String,
}

/// What one ELF object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    /// The archive member's name, for a member of a static archive.
    pub member: Option<String>,
    /// `executable`, `shared object`, `relocatable`, `core` or `unknown`.
    pub kind: &'static str,
    /// The architecture's name in `rseq_abi::ARCHITECTURES`, or a
    /// description of one without rseq support.
    pub architecture: String,
    /// The `RSEQ_SIG` expected before each abort handler.
    pub signature: Option<u32>,
    /// The critical sections found (up to [`MAX_LISTED_SECTIONS`] per
    /// file).
    pub critical_sections: Vec<CriticalSection>,
    /// Critical sections found, validated and not listed.
    pub critical_sections_omitted: usize,
    /// Rules broken: the file is not valid when there is any.
    pub violations: Vec<Finding>,
    /// Violations found and not listed ([`MAX_LISTED_FINDINGS`]).
    pub violations_omitted: usize,
    /// Conventions not followed that the kernel does not enforce.
    pub warnings: Vec<Finding>,
    /// Warnings found and not listed.
    pub warnings_omitted: usize,
}

/// What a whole file holds: one object, or each ELF member of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// `elf` or `archive`.
    pub format: &'static str,
    /// One report per ELF object.
    pub objects: Vec<ObjectReport>,
    /// Archive members that are not ELF objects, are other files (a thin
    /// archive's) or could not be read, with the reason (unreadable members
    /// are also violations).
    pub skipped_members: Vec<Finding>,
    /// Members skipped and not listed ([`MAX_LISTED_FINDINGS`]).
    pub skipped_members_omitted: usize,
    /// Of those, the unreadable ones (violations).
    pub bad_members_omitted: usize,
}

impl FileReport {
    /// Number of violations over every object.
    pub fn violation_count(&self) -> usize {
        self.objects
            .iter()
            .map(|o| o.violations.len() + o.violations_omitted)
            .sum::<usize>()
            + self
                .skipped_members
                .iter()
                .filter(|s| is_violation(s.kind))
                .count()
            + self.bad_members_omitted
    }

    /// Number of critical sections over every object, listed or not.
    pub fn section_count(&self) -> usize {
        self.objects
            .iter()
            .map(|o| o.critical_sections.len() + o.critical_sections_omitted)
            .sum()
    }

    /// Whether every object follows every rule.
    pub fn is_valid(&self) -> bool {
        self.violation_count() == 0
    }
}

/// Inspects a file's bytes: an ELF file, or a static archive whose ELF
/// members are each inspected.
pub fn inspect(data: &[u8]) -> Result<FileReport, Error> {
    if data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n") {
        return inspect_archive(data);
    }
    if !data.starts_with(b"\x7fELF") {
        return Err(Error(
            "not an ELF file or a static archive (bad magic number)".into(),
        ));
    }
    let object = inspect_object_unaligned(data, None, &mut Limits::default())?;
    Ok(FileReport {
        format: "elf",
        objects: vec![object],
        skipped_members: Vec::new(),
        skipped_members_omitted: 0,
        bad_members_omitted: 0,
    })
}

/// Whether skipping a member for this reason is a violation: not for a
/// member that is not ELF or that a thin archive only names.
fn is_violation(skip_kind: &str) -> bool {
    !matches!(skip_kind, "not_elf" | "external_member")
}

/// Lists a skipped archive member while `limits` allows, else counts it.
fn skip_member(
    report: &mut FileReport,
    limits: &mut Limits,
    kind: &'static str,
    message: impl FnOnce() -> String,
) {
    if limits.skipped_members == 0 {
        report.skipped_members_omitted += 1;
        if is_violation(kind) {
            report.bad_members_omitted += 1;
        }
        return;
    }
    limits.skipped_members -= 1;
    report.skipped_members.push(Finding {
        kind,
        message: message(),
    });
}

fn inspect_archive(data: &[u8]) -> Result<FileReport, Error> {
    let mut report = FileReport {
        format: "archive",
        objects: Vec::new(),
        skipped_members: Vec::new(),
        skipped_members_omitted: 0,
        bad_members_omitted: 0,
    };
    // One listing for the whole archive, shared by its members.
    let mut limits = Limits::default();
    let mut members = archive::members(data);
    let mut index = 0;
    while let Some(member) = members.next() {
        index += 1;
        let member = match member {
            Ok(member) => member,
            // Not even one member header: not an archive.
            Err(e) if members.headers_read == 0 => {
                return Err(Error(format!("bad static archive: {e}")))
            }
            Err(e) => {
                // The member table is corrupt: nothing after it can be found.
                skip_member(&mut report, &mut limits, "bad_archive_member", || {
                    format!("member #{}: {e}", index - 1)
                });
                break;
            }
        };
        let name = member.name;
        if member.external {
            skip_member(&mut report, &mut limits, "external_member", || {
                format!("{name}: a thin archive's member, in a file of its own (inspect that file)")
            });
            continue;
        }
        let bytes = match member.data {
            Ok(bytes) => bytes,
            Err(e) => {
                skip_member(&mut report, &mut limits, "bad_archive_member", || {
                    format!("{name}: {e}")
                });
                continue;
            }
        };
        if !bytes.starts_with(b"\x7fELF") {
            skip_member(&mut report, &mut limits, "not_elf", || {
                format!("{name}: not an ELF object")
            });
            continue;
        }
        match inspect_object_unaligned(bytes, Some(name.clone()), &mut limits) {
            Ok(object) => report.objects.push(object),
            Err(e) => skip_member(&mut report, &mut limits, "bad_archive_member", || {
                format!("{name}: {e}")
            }),
        }
    }
    Ok(report)
}

/// Inspects an ELF object at any address: the parser reads its headers in
/// place, which needs them aligned, and archive members are only 2-byte
/// aligned.
fn inspect_object_unaligned(
    data: &[u8],
    member: Option<String>,
    limits: &mut Limits,
) -> Result<ObjectReport, Error> {
    let mut words = vec![0u64; data.len().div_ceil(8)];
    let aligned = object::pod::bytes_of_slice_mut(&mut words);
    aligned[..data.len()].copy_from_slice(data);
    validate::inspect_object_within(&aligned[..data.len()], member, limits)
}

/// The human-readable listing `rseq-libc inspect` prints.
pub fn render_text(path: &str, report: &FileReport) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{path}: {}", report.format);
    for skipped in &report.skipped_members {
        let _ = writeln!(
            out,
            "  skipped member: {} ({})",
            skipped.message, skipped.kind
        );
    }
    if report.skipped_members_omitted > 0 {
        let _ = writeln!(
            out,
            "  {} more skipped member(s) omitted ({} unreadable)",
            report.skipped_members_omitted, report.bad_members_omitted
        );
    }
    for object in &report.objects {
        let indent = if let Some(member) = &object.member {
            let _ = writeln!(out, "  member {member}:");
            "    "
        } else {
            "  "
        };
        let signature = object
            .signature
            .map_or_else(|| "none".to_string(), |s| format!("{s:#010x}"));
        let _ = writeln!(
            out,
            "{indent}{} for {}, RSEQ_SIG {signature}: {} critical section(s)",
            object.kind,
            object.architecture,
            object.critical_sections.len() + object.critical_sections_omitted
        );
        for (i, cs) in object.critical_sections.iter().enumerate() {
            let _ = writeln!(out, "{indent}[{i}] descriptor {}", cs.descriptor);
            let _ = writeln!(out, "{indent}    start        {}", cs.start);
            match &cs.post_commit {
                Some(end) => {
                    let _ = writeln!(
                        out,
                        "{indent}    post-commit  {end} (length {})",
                        cs.post_commit_offset
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{indent}    post-commit  ? (length {:#x})",
                        cs.post_commit_offset
                    );
                }
            }
            let found = cs
                .signature_found
                .map_or_else(|| "unreadable".to_string(), |s| format!("{s:#010x}"));
            let _ = writeln!(
                out,
                "{indent}    abort        {} (signature {found})",
                cs.abort
            );
            if cs.exit_points.is_empty() {
                let _ = writeln!(out, "{indent}    exits        none");
            }
            for exit in &cs.exit_points {
                let _ = writeln!(out, "{indent}    exit         {exit}");
            }
            if cs.exit_points_omitted > 0 {
                let _ = writeln!(
                    out,
                    "{indent}    ({} more exit points omitted)",
                    cs.exit_points_omitted
                );
            }
            if !cs.listed_in_ptr_array {
                let _ = writeln!(out, "{indent}    (not listed in __rseq_cs_ptr_array)");
            }
        }
        if object.critical_sections_omitted > 0 {
            let _ = writeln!(
                out,
                "{indent}{} more critical sections omitted (at most {MAX_LISTED_SECTIONS} are listed per file)",
                object.critical_sections_omitted
            );
        }
        for warning in &object.warnings {
            let _ = writeln!(
                out,
                "{indent}warning: {} [{}]",
                warning.message, warning.kind
            );
        }
        if object.warnings_omitted > 0 {
            let _ = writeln!(
                out,
                "{indent}warning: {} more warnings omitted (at most {MAX_LISTED_FINDINGS} are listed per file)",
                object.warnings_omitted
            );
        }
        for violation in &object.violations {
            let _ = writeln!(
                out,
                "{indent}VIOLATION: {} [{}]",
                violation.message, violation.kind
            );
        }
        if object.violations_omitted > 0 {
            let _ = writeln!(
                out,
                "{indent}VIOLATION: {} more violations omitted (at most {MAX_LISTED_FINDINGS} are listed per file)",
                object.violations_omitted
            );
        }
    }
    let _ = writeln!(
        out,
        "{path}: {} critical section(s), {} violation(s): {}",
        report.section_count(),
        report.violation_count(),
        if report.is_valid() {
            "valid"
        } else {
            "INVALID"
        }
    );
    out
}

/// The JSON document `rseq-libc inspect --json` prints.
pub fn render_json(path: &str, report: &FileReport) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        path: &'a str,
        valid: bool,
        critical_sections: usize,
        violations: usize,
        #[serde(flatten)]
        report: &'a FileReport,
    }
    let document = Document {
        path,
        valid: report.is_valid(),
        critical_sections: report.section_count(),
        violations: report.violation_count(),
        report,
    };
    serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"path\": {path:?}, \"error\": \"cannot serialize: {e}\"}}"))
}
