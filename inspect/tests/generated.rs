//! rseq-inspect on inputs generated here: tests/inspect/cs.c built with gcc
//! as executables, shared objects, objects and archives, correct and
//! deliberately broken; then a bounded corpus of mutations of them, none of
//! which may panic. Without gcc the tests say SKIP and pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn build_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rseq-inspect-generated");
    std::fs::create_dir_all(&dir).expect("create the build directory");
    dir
}

/// Builds cs.c with `defines` as `kind` ("pie", "so", "o", "a"); None
/// without gcc.
fn build(name: &str, defines: &[&str], kind: &str) -> Option<Vec<u8>> {
    // The tests run in parallel and build the same files: one at a time, so
    // that none reads a file another is still writing.
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let source = root.join("tests/inspect/cs.c");
    let dir = build_dir();
    let object = dir.join(format!("{name}.o"));
    let output = match kind {
        "pie" => dir.join(format!("{name}-pie")),
        "so" => dir.join(format!("lib{name}.so")),
        "o" => object.clone(),
        "a" => dir.join(format!("lib{name}.a")),
        _ => unreachable!("unknown kind {kind}"),
    };
    let mut gcc = Command::new("gcc");
    gcc.arg("-O2").arg("-I").arg(root.join("headers"));
    for d in defines {
        gcc.arg(format!("-D{d}"));
    }
    match kind {
        "pie" => gcc.args(["-DWITH_MAIN", "-o"]).arg(&output),
        "so" => gcc.args(["-fPIC", "-shared", "-o"]).arg(&output),
        _ => gcc.args(["-c", "-o"]).arg(&object),
    };
    gcc.arg(&source);
    match gcc.status() {
        Ok(status) => assert!(status.success(), "gcc failed for {name} ({kind})"),
        Err(_) => {
            eprintln!("SKIP: gcc not installed");
            return None;
        }
    }
    if kind == "a" {
        let _ = std::fs::remove_file(&output);
        let status = Command::new("ar")
            .arg("rcs")
            .arg(&output)
            .arg(&object)
            .status();
        match status {
            Ok(status) => assert!(status.success(), "ar failed"),
            Err(_) => {
                eprintln!("SKIP: ar not installed");
                return None;
            }
        }
    }
    Some(std::fs::read(&output).expect("read the built file"))
}

fn kinds(report: &rseq_inspect::FileReport) -> Vec<&'static str> {
    report
        .objects
        .iter()
        .flat_map(|o| o.violations.iter().map(|v| v.kind))
        .collect()
}

#[test]
fn a_correct_section_validates_in_every_kind_of_file() {
    for kind in ["pie", "so", "o", "a"] {
        let Some(data) = build("good", &[], kind) else {
            return;
        };
        let report = rseq_inspect::inspect(&data).expect("a readable file");
        assert!(report.is_valid(), "{kind}: {:?}", kinds(&report));
        assert_eq!(report.section_count(), 1, "{kind}");
        let object = &report.objects[0];
        assert_eq!(object.architecture, "x86_64");
        let cs = &object.critical_sections[0];
        assert_eq!(cs.signature_found, Some(0x5305_3053));
        assert_eq!(cs.exit_points.len(), 1);
        assert_eq!(cs.exit_points[0], *cs.post_commit.as_ref().unwrap());
        assert_eq!(cs.post_commit_offset, 12, "cmp + jnz + add");
        assert!(cs
            .start
            .symbol
            .as_deref()
            .unwrap()
            .starts_with("cs_percpu_add+"));
        let json = rseq_inspect::render_json("f", &report);
        assert!(json.contains("\"valid\": true"), "{json}");
    }
}

#[test]
fn each_broken_section_is_detected_in_objects_and_linked_files() {
    let cases = [
        ("BROKEN_SIGNATURE", "wrong_signature"),
        ("BROKEN_ALIGNMENT", "misaligned_descriptor"),
        ("BROKEN_NO_EXIT", "missing_exit_points"),
        ("BROKEN_UNLISTED", "unlisted_descriptor"),
        ("BROKEN_ABORT_INSIDE", "abort_inside_section"),
    ];
    for (define, expected) in cases {
        for kind in ["o", "so"] {
            let Some(data) = build(define, &[define], kind) else {
                return;
            };
            let report = rseq_inspect::inspect(&data).expect("a readable file");
            assert!(!report.is_valid(), "{define} {kind}");
            assert!(
                kinds(&report).contains(&expected),
                "{define} {kind}: {:?}",
                kinds(&report)
            );
        }
    }
}

/// xorshift64*: a reproducible stream of mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 10] = [
    0,
    1,
    0x20,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    if data.len() < 64 {
        return data;
    }
    for _ in 0..1 + rng.below(4) {
        // Half the writes hit the headers (ELF header, then anywhere).
        let at = if rng.below(2) == 0 {
            rng.below(64.min(data.len()))
        } else {
            rng.below(data.len())
        };
        match rng.below(5) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => data[at] = rng.next() as u8,
            2 | 3 => {
                let value = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let width = [2, 4, 8][rng.below(3)];
                for (i, b) in value.iter().take(width).enumerate() {
                    if let Some(slot) = data.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            _ => {
                let len = rng.below(data.len());
                data.truncate(len.max(1));
                return data;
            }
        }
    }
    data
}

#[test]
fn a_mutated_corpus_never_panics() {
    let mut seeds = Vec::new();
    for kind in ["pie", "so", "o", "a"] {
        let Some(data) = build("good", &[], kind) else {
            return;
        };
        assert!(data.len() >= 64, "seed {kind} is {} bytes", data.len());
        seeds.push(data);
    }
    let per_seed = std::env::var("RSEQ_INSPECT_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000usize);
    let mut rng = Rng(0x5305_3053_dead_beef);
    let (mut errors, mut invalid, mut valid) = (0usize, 0usize, 0usize);
    for seed in &seeds {
        for n in 0..per_seed {
            let mutant = mutate(seed, &mut rng);
            if std::env::var_os("RSEQ_INSPECT_TRACE").is_some() {
                std::fs::write(build_dir().join("current-mutant"), &mutant)
                    .expect("save the mutant");
            }
            let result = std::panic::catch_unwind(|| {
                let result = rseq_inspect::inspect(&mutant);
                if let Ok(report) = &result {
                    let _ = rseq_inspect::render_text("mutant", report);
                    let _ = rseq_inspect::render_json("mutant", report);
                }
                result.map(|r| r.is_valid())
            });
            match result {
                Ok(Ok(true)) => valid += 1,
                Ok(Ok(false)) => invalid += 1,
                Ok(Err(_)) => errors += 1,
                Err(_) => {
                    let path = build_dir().join(format!("panic-{n}"));
                    std::fs::write(&path, &mutant).expect("save the mutant");
                    panic!(
                        "inspect panicked on mutant {n}, saved as {}",
                        path.display()
                    );
                }
            }
        }
    }
    eprintln!(
        "{} mutants: {valid} valid, {invalid} with violations, {errors} unreadable",
        valid + invalid + errors
    );
    assert_eq!(valid + invalid + errors, seeds.len() * per_seed);
    assert!(
        errors > 0 && invalid + valid > 0,
        "the mutations reach both outcomes"
    );
}
