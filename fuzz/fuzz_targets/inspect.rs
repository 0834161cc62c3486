//! Any bytes: `rseq_inspect::inspect` returns a report or an error, and the
//! report renders, without panicking; the listing stays within its caps.
//! Run with `-malloc_limit_mb` and `-timeout` so that a blow-up in memory
//! or time is a finding too (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = rseq_inspect::inspect(data) {
        let _ = rseq_inspect::render_text("fuzz", &report);
        let _ = rseq_inspect::render_json("fuzz", &report);
        let listed: usize = report.objects.iter().map(|o| o.violations.len()).sum();
        assert!(listed <= rseq_inspect::MAX_LISTED_FINDINGS);
        assert!(report.violation_count() >= listed);
        assert!(report.skipped_members.len() <= rseq_inspect::MAX_LISTED_FINDINGS);
        for object in &report.objects {
            assert!(object.warnings.len() <= rseq_inspect::MAX_LISTED_FINDINGS);
            assert!(object.critical_sections.len() <= rseq_inspect::MAX_LISTED_SECTIONS);
            for cs in &object.critical_sections {
                assert!(cs.exit_points.len() <= rseq_inspect::MAX_LISTED_EXITS);
            }
        }
    }
});
