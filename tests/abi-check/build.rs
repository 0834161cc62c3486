//! Generates Rust bindings with bindgen from `headers/sys/rseq.h` (natively,
//! and once per architecture variant of `RSEQ_SIG`) and from the system's
//! `<linux/rseq.h>` when there is one. Needs libclang: a build script
//! changes nothing on the machine, so a missing libclang is an error that
//! names the package (`scripts/install-deps.sh`, which the test command runs
//! first, installs it).

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn libclang_present() -> bool {
    if env::var_os("LIBCLANG_PATH").is_some() {
        return true;
    }
    let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"];
    let llvm = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("llvm-").then(|| e.path().join("lib"))
        });
    dirs.iter().map(PathBuf::from).chain(llvm).any(|d| {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libclang"))
    })
}

fn ensure_libclang() {
    if !libclang_present() {
        panic!(
            "rseq-abi-check needs libclang (bindgen): install Debian's libclang-dev \
             (`bash scripts/install-deps.sh` does, as `bash scripts/test.sh` does first) \
             or set LIBCLANG_PATH"
        );
    }
}

fn bindings(header: &Path, args: &[String]) -> String {
    bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_args(args)
        .allowlist_type("rseq|rseq_cs|rseq_cpu_id_state|rseq_flags|rseq_cs_flags")
        .allowlist_var("RSEQ_SIG|__rseq_offset|__rseq_size|__rseq_flags")
        .layout_tests(false)
        .generate()
        .unwrap_or_else(|e| panic!("bindgen {} {args:?}: {e}", header.display()))
        .to_string()
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let headers = root.join("headers");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!(
        "cargo:rerun-if-changed={}",
        headers.join("sys/rseq.h").display()
    );
    println!("cargo:rerun-if-changed=/usr/include/linux/rseq.h");
    println!("cargo::rustc-check-cfg=cfg(system_linux_rseq, system_linux_rseq_has_mm_cid)");
    ensure_libclang();

    let inc = format!("-I{}", headers.display());
    let ours = bindings(&headers.join("sys/rseq.h"), std::slice::from_ref(&inc));
    std::fs::write(out.join("sys_rseq.rs"), ours).unwrap();

    let system = Path::new("/usr/include/linux/rseq.h");
    let linux = if system.exists() {
        println!("cargo:rustc-cfg=system_linux_rseq");
        let b = bindings(system, &[]);
        if b.contains("pub mm_cid") {
            println!("cargo:rustc-cfg=system_linux_rseq_has_mm_cid");
        }
        b
    } else {
        String::new()
    };
    std::fs::write(out.join("linux_rseq.rs"), linux).unwrap();

    // RSEQ_SIG as the header defines it for each variant: freestanding, with
    // the host's architecture macros removed and the variant's defined.
    let mut table = String::from("pub const SIGS: &[(&str, u32)] = &[\n");
    for a in rseq_abi::ARCHITECTURES {
        let mut args = vec![
            inc.clone(),
            "-ffreestanding".into(),
            "-U__x86_64__".into(),
            "-U__i386__".into(),
        ];
        args.extend(a.predefined.iter().map(|m| format!("-D{m}")));
        let b = bindings(&headers.join("sys/rseq.h"), &args);
        let line = b
            .lines()
            .find(|l| l.contains("const RSEQ_SIG:"))
            .unwrap_or_else(|| panic!("no RSEQ_SIG for {}", a.name));
        let value = line
            .rsplit('=')
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(';');
        writeln!(table, "    ({:?}, {value}),", a.name).unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("sigs.rs"), table).unwrap();
}
