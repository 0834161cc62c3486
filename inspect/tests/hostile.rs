//! rseq-inspect on hostile files (inspect/examples/hostile_elf.rs): about
//! 1.5 MB each, with 20,000 section headers covering the same or
//! overlapping bytes, names of 1 MiB shared by thousands of headers or
//! symbols, relocation sections covering the same entries 10,000 times,
//! descriptors sharing 40,000 exit points. Before the inspector bounded its
//! work by the file's size these took gigabytes (and aborted) or minutes.
//!
//! Each file is inspected (and rendered as text and JSON) in a child
//! process, this test binary run again, under a fixed 256 MiB address-space
//! limit (`ulimit -v`) and a generous 120 s timeout: an allocation the limit
//! refuses aborts the child, and the test fails naming the file. The child
//! also counts its heap (a counting global allocator, exact and independent
//! of timing) and the parent checks the peak against the file's size.

#[path = "../examples/hostile_elf.rs"]
#[allow(dead_code)]
mod hostile_elf;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes allocated and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator (so from `System`) with
        // `layout`, per the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is valid per the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Address-space limit of each child, KiB.
const ADDRESS_SPACE_KIB: u64 = 256 * 1024;
/// The child's heap at its peak, beyond the file it read: at most this many
/// times the file's size, plus [`HEAP_SLACK`] (the capped listing).
const HEAP_PER_BYTE: usize = 8;
const HEAP_SLACK: usize = 32 << 20;

/// Variants whose violations outnumber the listing: their reports must say
/// how many were left out.
const CAPPED: [&str; 7] = [
    "duplicate-ptr-array",
    "overlapping-ptr-array",
    "duplicate-descriptors",
    "overlapping-descriptors",
    "duplicate-exit-points",
    "overlapping-exit-points",
    "huge-sizes",
];

/// The child: inspects the file named by `RSEQ_INSPECT_HOSTILE` and prints
/// one `RESULT` line. Without the variable (a normal test run) it does
/// nothing.
#[test]
fn child_inspects_one_file() {
    let Some(path) = std::env::var_os("RSEQ_INSPECT_HOSTILE") else {
        return;
    };
    let data = std::fs::read(&path).expect("read the hostile file");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let report = rseq_inspect::inspect(&data);
    let (text, json) = match &report {
        Ok(report) => (
            rseq_inspect::render_text("hostile", report),
            rseq_inspect::render_json("hostile", report),
        ),
        Err(e) => (e.to_string(), String::new()),
    };
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let (mut listed, mut omitted, mut sections, mut kinds) = (0, 0, 0, Vec::new());
    if let Ok(report) = &report {
        for object in &report.objects {
            listed += object.violations.len();
            assert!(object.critical_sections.len() <= rseq_inspect::MAX_LISTED_SECTIONS);
            assert!(object.warnings.len() <= rseq_inspect::MAX_LISTED_FINDINGS);
            for cs in &object.critical_sections {
                assert!(cs.exit_points.len() <= rseq_inspect::MAX_LISTED_EXITS);
            }
            kinds.extend(object.violations.iter().map(|v| v.kind));
        }
        sections = report.section_count();
        omitted = report.violation_count() - listed;
        assert!(report.skipped_members.len() <= rseq_inspect::MAX_LISTED_FINDINGS);
    }
    kinds.sort_unstable();
    kinds.dedup();
    let omitted_line = text.contains("more violations omitted");
    println!(
        "RESULT len={} peak={peak} sections={sections} listed={listed} omitted={omitted} \
         omitted_line={omitted_line} text={} json={} ok={} kinds={}",
        data.len(),
        text.len(),
        json.len(),
        report.is_ok(),
        kinds.join(",")
    );
}

struct Outcome {
    len: usize,
    peak: usize,
    sections: usize,
    listed: usize,
    omitted: usize,
    omitted_line: bool,
    kinds: String,
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Runs the child on `path` under the limits; Err: how it failed.
fn run_child(path: &Path) -> Result<Outcome, String> {
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec timeout -s KILL 120 \"$0\" \"$@\""
        ))
        .arg(exe)
        .args([
            "--exact",
            "child_inspects_one_file",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RSEQ_INSPECT_HOSTILE", path)
        .output()
        .map_err(|e| format!("cannot run the child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // libtest prints the test's name first, on the same line.
    let Some(line) = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
    else {
        use std::os::unix::process::ExitStatusExt;
        let how = match (output.status.code(), output.status.signal()) {
            (_, Some(9)) => "killed after 120 s".to_string(),
            (_, Some(6)) => format!(
                "aborted (out of memory under a {ADDRESS_SPACE_KIB} KiB address-space limit?)"
            ),
            (Some(code), _) => format!("exit {code}"),
            (None, signal) => format!("signal {signal:?}"),
        };
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(format!("{how}: {tail}"));
    };
    if !output.status.success() {
        return Err(format!("exit {:?}: {stderr}", output.status));
    }
    Ok(Outcome {
        len: field(line, "len").parse().expect("len"),
        peak: field(line, "peak").parse().expect("peak"),
        sections: field(line, "sections").parse().expect("sections"),
        listed: field(line, "listed").parse().expect("listed"),
        omitted: field(line, "omitted").parse().expect("omitted"),
        omitted_line: field(line, "omitted_line") == "true",
        kinds: field(line, "kinds").to_string(),
    })
}

#[test]
fn hostile_files_take_memory_and_time_linear_in_their_size() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rseq-inspect-hostile");
    std::fs::create_dir_all(&dir).expect("create the directory");
    let (valid, _) = hostile_elf::linked();
    let mut files = vec![("valid", valid.finish())];
    files.extend(hostile_elf::variants(hostile_elf::FULL));
    let mut failures = Vec::new();
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write the hostile file");
        let outcome = match run_child(&path) {
            Ok(outcome) => outcome,
            Err(why) => {
                failures.push(format!("{name}: {why}"));
                continue;
            }
        };
        eprintln!(
            "{name}: {} bytes, peak heap {} bytes, {} critical sections, {} violations listed, {} omitted",
            outcome.len, outcome.peak, outcome.sections, outcome.listed, outcome.omitted
        );
        let bound = HEAP_PER_BYTE * outcome.len + HEAP_SLACK;
        if outcome.peak > bound {
            failures.push(format!(
                "{name}: peak heap {} bytes, over {bound} ({HEAP_PER_BYTE} x {} + {HEAP_SLACK})",
                outcome.peak, outcome.len
            ));
        }
        if outcome.listed > rseq_inspect::MAX_LISTED_FINDINGS {
            failures.push(format!("{name}: {} violations listed", outcome.listed));
        }
        if CAPPED.contains(name) && (outcome.omitted == 0 || !outcome.omitted_line) {
            failures.push(format!(
                "{name}: {} violations listed and {} omitted, omitted line {}: the listing is not capped",
                outcome.listed, outcome.omitted, outcome.omitted_line
            ));
        }
        // What each file must still be found to hold.
        let expected: &[&str] = match *name {
            "valid"
            | "long-section-names"
            | "long-symbol-names"
            | "shared-exit-list"
            | "many-program-headers"
            | "archive-long-member-names" => &[],
            "many-relocation-sections" | "many-dynamic-relocation-sections" => {
                &["overlapping_relocations"]
            }
            "huge-sizes" => &["truncated_section"],
            _ => &["overlapping_sections"],
        };
        for kind in expected {
            if !outcome.kinds.split(',').any(|k| k == *kind) {
                failures.push(format!("{name}: no {kind} violation in {}", outcome.kinds));
            }
        }
        if expected.is_empty() && (outcome.listed != 0 || outcome.omitted != 0) {
            failures.push(format!("{name}: violations {}", outcome.kinds));
        }
        let sections = match *name {
            "shared-exit-list" => hostile_elf::FULL.copies,
            "archive-long-member-names" => 0,
            "overlapping-ptr-array" | "many-relocation-sections" => outcome.sections,
            _ => 1,
        };
        if outcome.sections != sections {
            failures.push(format!(
                "{name}: {} critical sections, not {sections}",
                outcome.sections
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
