//! Any bytes: `rseq_inspect::inspect` returns a report or an error, and the
//! report renders, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = rseq_inspect::inspect(data) {
        let _ = rseq_inspect::render_text("fuzz", &report);
        let _ = rseq_inspect::render_json("fuzz", &report);
    }
});
