//! `rseq-libc inspect <elf>... [--json]`: lists and validates the critical
//! sections of ELF files (executables, shared libraries, objects, static
//! archives); exits 1 on any violation, 2 on unreadable input or bad usage.

use std::io::Write as _;

fn usage() -> i32 {
    eprintln!(
        "usage: rseq-libc inspect [--json] <elf-file>...\n\
         lists every rseq critical section (start, post-commit end, abort handler,\n\
         exit points) and validates it; exits 1 on any violation"
    );
    2
}

/// Runs `inspect` with the arguments after the command name.
pub fn run(args: &[String]) -> i32 {
    let mut json = false;
    let mut paths = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => return usage() - 2,
            option if option.starts_with('-') => {
                eprintln!("rseq-libc inspect: unknown option '{option}'");
                return usage();
            }
            path => paths.push(path),
        }
    }
    if paths.is_empty() {
        return usage();
    }
    let mut code = 0;
    let mut documents = Vec::new();
    for path in paths {
        let result = std::fs::read(path)
            .map_err(|e| rseq_inspect::Error(format!("cannot read: {e}")))
            .and_then(|data| rseq_inspect::inspect(&data));
        match result {
            Ok(report) => {
                if !report.is_valid() {
                    code = code.max(1);
                }
                if json {
                    documents.push(rseq_inspect::render_json(path, &report));
                } else {
                    print!("{}", rseq_inspect::render_text(path, &report));
                }
            }
            Err(e) => {
                code = 2;
                eprintln!("rseq-libc inspect: {path}: {e}");
                if json {
                    documents.push(format!(
                        "{{\"path\": {}, \"valid\": false, \"error\": {}}}",
                        json_string(path),
                        json_string(&e.0)
                    ));
                }
            }
        }
    }
    if json {
        // One document per file; an array when several.
        let body = if documents.len() == 1 {
            documents.remove(0)
        } else {
            format!("[{}]", documents.join(",\n"))
        };
        println!("{body}");
    }
    let _ = std::io::stdout().flush();
    code
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
