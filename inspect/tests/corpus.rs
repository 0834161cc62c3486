//! The checked-in corpus, inspect/tests/corpus/: the fuzzer's reproducers
//! (`fuzz-*`, each named for what it found) and the hostile shapes of
//! inspect/examples/hostile_elf.rs at a small scale (`small-*`, also the
//! fuzzer's seeds), and archives made by ar (`seed-*`: GNU long names, thin).
//! Each is inspected and rendered without a panic, with
//! its listing within the caps.

use std::path::Path;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("inspect/tests/corpus")
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).expect("read a corpus file");
            (name, data)
        })
        .collect();
    files.sort();
    files
}

fn check(name: &str, data: &[u8]) {
    let result = std::panic::catch_unwind(|| {
        let result = rseq_inspect::inspect(data);
        if let Ok(report) = &result {
            let _ = rseq_inspect::render_text(name, report);
            let _ = rseq_inspect::render_json(name, report);
        }
        result
    });
    let Ok(result) = result else {
        panic!("inspect panicked on {name}");
    };
    let Ok(report) = result else {
        return;
    };
    let listed: usize = report.objects.iter().map(|o| o.violations.len()).sum();
    assert!(listed <= rseq_inspect::MAX_LISTED_FINDINGS, "{name}");
    for object in &report.objects {
        assert!(object.warnings.len() <= rseq_inspect::MAX_LISTED_FINDINGS);
        assert!(object.critical_sections.len() <= rseq_inspect::MAX_LISTED_SECTIONS);
        for cs in &object.critical_sections {
            assert!(cs.exit_points.len() <= rseq_inspect::MAX_LISTED_EXITS);
        }
    }
}

#[test]
fn the_corpus_is_inspected_without_panicking() {
    let files = corpus();
    assert!(
        files.iter().any(|(name, _)| name.starts_with("small-")),
        "the corpus is empty"
    );
    for (name, data) in &files {
        check(name, data);
    }
    eprintln!("{} corpus files inspected", files.len());
}
