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
//!   that the signature decodes as `ud1`).
//!
//! In relocatable objects (and so in static archives) the pointers are
//! relocations, resolved here from the relocation entries; in
//! position-independent executables and shared libraries they may be
//! dynamic `RELATIVE` relocations, resolved too.
//!
//! Hostile input is expected: every count, offset and address is
//! bounds-checked and every sum checked, and a file that cannot be read gives
//! an [`Error`], never a panic.
#![deny(unsafe_code)]

mod image;
mod validate;

use serde::Serialize;
use std::fmt;

pub use validate::inspect_object;

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
    /// Exit points listed for this section in `__rseq_exit_point_array`.
    pub exit_points: Vec<Location>,
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
    /// Every critical section found.
    pub critical_sections: Vec<CriticalSection>,
    /// Rules broken: the file is not valid when there is any.
    pub violations: Vec<Finding>,
    /// Conventions not followed that the kernel does not enforce.
    pub warnings: Vec<Finding>,
}

/// What a whole file holds: one object, or each ELF member of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// `elf` or `archive`.
    pub format: &'static str,
    /// One report per ELF object.
    pub objects: Vec<ObjectReport>,
    /// Archive members that are not ELF objects or could not be read, with
    /// the reason (unreadable members are also violations).
    pub skipped_members: Vec<Finding>,
}

impl FileReport {
    /// Number of violations over every object.
    pub fn violation_count(&self) -> usize {
        self.objects
            .iter()
            .map(|o| o.violations.len())
            .sum::<usize>()
            + self
                .skipped_members
                .iter()
                .filter(|s| s.kind != "not_elf")
                .count()
    }

    /// Number of critical sections over every object.
    pub fn section_count(&self) -> usize {
        self.objects.iter().map(|o| o.critical_sections.len()).sum()
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
    let object = inspect_object_unaligned(data, None)?;
    Ok(FileReport {
        format: "elf",
        objects: vec![object],
        skipped_members: Vec::new(),
    })
}

fn inspect_archive(data: &[u8]) -> Result<FileReport, Error> {
    let archive = object::read::archive::ArchiveFile::parse(data)
        .map_err(|e| Error(format!("bad static archive: {e}")))?;
    let mut report = FileReport {
        format: "archive",
        objects: Vec::new(),
        skipped_members: Vec::new(),
    };
    for (index, member) in archive.members().enumerate() {
        let member = match member {
            Ok(member) => member,
            Err(e) => {
                // The member table is corrupt: nothing after it can be found.
                report.skipped_members.push(Finding {
                    kind: "bad_archive_member",
                    message: format!("member #{index}: {e}"),
                });
                break;
            }
        };
        let name = String::from_utf8_lossy(member.name()).into_owned();
        let bytes = match member.data(data) {
            Ok(bytes) => bytes,
            Err(e) => {
                report.skipped_members.push(Finding {
                    kind: "bad_archive_member",
                    message: format!("{name}: {e}"),
                });
                continue;
            }
        };
        if !bytes.starts_with(b"\x7fELF") {
            report.skipped_members.push(Finding {
                kind: "not_elf",
                message: format!("{name}: not an ELF object"),
            });
            continue;
        }
        match inspect_object_unaligned(bytes, Some(name.clone())) {
            Ok(object) => report.objects.push(object),
            Err(e) => report.skipped_members.push(Finding {
                kind: "bad_archive_member",
                message: format!("{name}: {e}"),
            }),
        }
    }
    Ok(report)
}

/// Inspects an ELF object at any address: the parser reads its headers in
/// place, which needs them aligned, and archive members are only 2-byte
/// aligned.
fn inspect_object_unaligned(data: &[u8], member: Option<String>) -> Result<ObjectReport, Error> {
    let mut words = vec![0u64; data.len().div_ceil(8)];
    let aligned = object::pod::bytes_of_slice_mut(&mut words);
    aligned[..data.len()].copy_from_slice(data);
    inspect_object(&aligned[..data.len()], member)
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
            object.critical_sections.len()
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
            if !cs.listed_in_ptr_array {
                let _ = writeln!(out, "{indent}    (not listed in __rseq_cs_ptr_array)");
            }
        }
        for warning in &object.warnings {
            let _ = writeln!(
                out,
                "{indent}warning: {} [{}]",
                warning.message, warning.kind
            );
        }
        for violation in &object.violations {
            let _ = writeln!(
                out,
                "{indent}VIOLATION: {} [{}]",
                violation.message, violation.kind
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
