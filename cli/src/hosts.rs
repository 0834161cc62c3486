//! Builds the bundled C demo (`cli/demo/demo.c`) against the static library
//! and runs it in every host this machine has, one line per host with the
//! owner it observed. The library is the one next to this executable (the
//! build tree's `target/release`), else the installed one (`scripts/install.sh`
//! or the Debian packages: `PREFIX/bin/rseq-libc` beside
//! `PREFIX/include/rseq-libc` and `PREFIX/lib[/MULTIARCH]`).
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEMO: &str = include_str!("../demo/demo.c");
const TREE_HEADERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../headers");

struct Host {
    name: &'static str,
    compiler: &'static str,
    flags: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    no_rseq: bool,
    expect: &'static str,
    standalone: bool,
    patched_glibc: bool,
}

const HOSTS: &[Host] = &[
    host("glibc dynamic", "gcc", &[], &[], false, "libc"),
    host(
        "glibc dynamic, glibc.pthread.rseq=0",
        "gcc",
        &[],
        TUNABLE_OFF,
        false,
        "component",
    ),
    host("glibc static", "gcc", &["-static"], &[], false, "libc"),
    host(
        "glibc static, glibc.pthread.rseq=0",
        "gcc",
        &["-static"],
        TUNABLE_OFF,
        false,
        "component",
    ),
    host(
        "musl static",
        "musl-gcc",
        &["-static"],
        &[],
        false,
        "component",
    ),
    host(
        "glibc dynamic, rseq unavailable (seccomp)",
        "gcc",
        &[],
        &[],
        true,
        "none",
    ),
    host(
        "musl static, rseq unavailable (seccomp)",
        "musl-gcc",
        &["-static"],
        &[],
        true,
        "none",
    ),
    Host {
        standalone: true,
        ..host("standalone test libc", "gcc", &[], &[], false, "component")
    },
    Host {
        patched_glibc: true,
        ..host(
            "glibc 2.36 + rseq-libc (patched)",
            "gcc",
            &[],
            &[],
            false,
            "libc",
        )
    },
];

/// The patched glibc's cache (patches/build-and-test.sh): headers installed
/// in `sysroot`, crt files and libc in `link`, the build tree in `build`.
fn patched_glibc_cache() -> PathBuf {
    std::env::var_os("RSEQ_LIBC_GLIBC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/rseq-libc/glibc-2.36")
        })
}

const TUNABLE_OFF: &[(&str, &str)] = &[("GLIBC_TUNABLES", "glibc.pthread.rseq=0")];

const fn host(
    name: &'static str,
    compiler: &'static str,
    flags: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    no_rseq: bool,
    expect: &'static str,
) -> Host {
    Host {
        name,
        compiler,
        flags,
        env,
        no_rseq,
        expect,
        standalone: false,
        patched_glibc: false,
    }
}

fn exe_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| ".".into())
}

/// Where the demo's headers and archives are, and where it is built.
struct Layout {
    headers: PathBuf,
    lib_dir: PathBuf,
    work_dir: PathBuf,
    /// An installation's work directory is temporary: removed at the end.
    installed: bool,
}

/// The build tree when the archive is next to this executable; else an
/// installation, found relative to the executable so that any prefix
/// works. An installation's `bin` may be read-only, and belongs to no one
/// running the report: the demo is built in a temporary directory there.
fn layout() -> Layout {
    let exe = exe_dir();
    let tree = Layout {
        headers: TREE_HEADERS.into(),
        lib_dir: exe.clone(),
        work_dir: exe.join("demo-hosts"),
        installed: false,
    };
    if exe.join("librseq_libc.a").exists() {
        return tree;
    }
    let prefix = exe.join("..");
    let headers = prefix.join("include/rseq-libc");
    if !headers.join("rseq-libc.h").exists() {
        return tree;
    }
    // Debian's multiarch directory first (the librseq-libc-dev package),
    // then install.sh's default.
    let multiarch = format!("lib/{}-linux-gnu", std::env::consts::ARCH);
    let lib_dir = [prefix.join(multiarch), prefix.join("lib")]
        .into_iter()
        .find(|d| d.join("librseq_libc.a").exists())
        .unwrap_or_else(|| prefix.join("lib"));
    Layout {
        headers,
        lib_dir,
        work_dir: std::env::temp_dir().join(format!("rseq-libc-demo-{}", std::process::id())),
        installed: true,
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds one host's demo; Err is a reason to skip or fail.
fn build(h: &Host, dir: &Path, layout: &Layout, src: &Path) -> Result<PathBuf, String> {
    let lib_dir = &layout.lib_dir;
    if !have(h.compiler) {
        return Err(format!(
            "SKIP: {} not installed (apt-get install musl-tools)",
            h.compiler
        ));
    }
    let out = dir.join(h.name.replace([' ', ',', '(', ')', '='], "_"));
    let mut cmd = Command::new(h.compiler);
    cmd.arg("-O2").arg("-I").arg(&layout.headers);
    if h.standalone {
        let lib = lib_dir.join("librseq_testlibc.a");
        if layout.installed {
            return Err("SKIP: the standalone test libc is not installed (build tree only)".into());
        }
        if !lib.exists() {
            return Err(format!("SKIP: {} not built", lib.display()));
        }
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/testlibc/include");
        let gcc_inc = Command::new("gcc")
            .arg("-print-file-name=include")
            .output()
            .map_err(|e| e.to_string())?;
        let gcc_inc = String::from_utf8_lossy(&gcc_inc.stdout).trim().to_string();
        cmd.args([
            "-static",
            "-nostdlib",
            "-nostdinc",
            "-fno-stack-protector",
            "-isystem",
            &gcc_inc,
        ])
        .arg(format!("-I{inc}"))
        .arg(src)
        .arg(&lib)
        .arg("-lgcc");
    } else if h.patched_glibc {
        let cache = patched_glibc_cache();
        let (sysroot, link, build) = (
            cache.join("sysroot/usr/include"),
            cache.join("link"),
            cache.join("build"),
        );
        if !sysroot.is_dir() || !link.is_dir() || !build.join("elf/ld.so").exists() {
            return Err(format!(
                "SKIP: no patched glibc in {} (bash tests/glibc-patched/run.sh builds it)",
                cache.display()
            ));
        }
        let (b, e) = (build.display(), build.join("elf"));
        cmd.arg("-isystem")
            .arg(&sysroot)
            .arg(format!("-B{}/", link.display()))
            .arg(format!("-L{}", link.display()))
            .arg(format!("-Wl,-rpath-link={b}:{}", e.display()))
            .arg(src)
            .arg(lib_dir.join("librseq_libc.a"))
            .arg(format!("-Wl,-rpath={b}:{b}/nptl:{}", e.display()))
            .arg(format!(
                "-Wl,--dynamic-linker={}",
                e.join("ld.so").display()
            ));
    } else {
        let lib = lib_dir.join("librseq_libc.a");
        if !lib.exists() {
            return Err(format!(
                "FAIL: {} missing: {}",
                lib.display(),
                if layout.installed {
                    "install librseq-libc-dev (or scripts/install.sh into this prefix)"
                } else {
                    "run cargo build --release"
                }
            ));
        }
        cmd.args(h.flags).arg(src).arg(&lib).arg("-lpthread");
    }
    let o = cmd
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("FAIL: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "FAIL: build: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    Ok(out)
}

/// Makes rseq(2) fail with ENOSYS in the child, as on a kernel without it.
fn deny_rseq(cmd: &mut Command) {
    #[repr(C)]
    struct SockFilter(u16, u8, u8, u32);
    #[repr(C)]
    struct SockFprog(u16, *const SockFilter);
    const ENOSYS: u32 = 38;
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two syscalls on data it owns.
    unsafe {
        cmd.pre_exec(|| {
            let f = [
                SockFilter(0x20, 0, 0, 4),           // ld arch
                SockFilter(0x15, 1, 0, 0xc000_003e), // x86-64?
                SockFilter(0x06, 0, 0, 0x7fff_0000), // allow
                SockFilter(0x20, 0, 0, 0),           // ld nr
                SockFilter(0x15, 0, 1, rseq_abi::arch::nr::RSEQ as u32),
                SockFilter(0x06, 0, 0, 0x0005_0000 | ENOSYS), // errno
                SockFilter(0x06, 0, 0, 0x7fff_0000),          // allow
            ];
            let prog = SockFprog(f.len() as u16, f.as_ptr());
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_seccomp, 1, 0, &prog as *const SockFprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub fn run_demo_in_every_host() -> i32 {
    let layout = layout();
    let dir = layout.work_dir.clone();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("rseq-libc: cannot create {}: {e}", dir.display());
        return 1;
    }
    let src = dir.join("demo.c");
    if let Err(e) = std::fs::write(&src, DEMO) {
        eprintln!("rseq-libc: cannot write {}: {e}", src.display());
        return 1;
    }
    println!("| host | expected owner | demo output |");
    println!("|---|---|---|");
    let mut bad = 0;
    for h in HOSTS {
        let line = match build(h, &dir, &layout, &src) {
            Err(reason) => {
                bad += reason.starts_with("FAIL") as i32;
                reason
            }
            Ok(bin) => {
                let mut cmd = Command::new(&bin);
                cmd.env_remove("GLIBC_TUNABLES").envs(h.env.iter().copied());
                if h.no_rseq {
                    deny_rseq(&mut cmd);
                }
                match cmd.output() {
                    Ok(o) if o.status.success() => {
                        let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
                        if text.starts_with(&format!("owner={} ", h.expect)) {
                            text
                        } else {
                            bad += 1;
                            format!("UNEXPECTED: {text}")
                        }
                    }
                    Ok(o) => {
                        bad += 1;
                        format!(
                            "FAIL: exit {}: {}",
                            o.status,
                            String::from_utf8_lossy(&o.stderr).trim()
                        )
                    }
                    Err(e) => {
                        bad += 1;
                        format!("FAIL: {e}")
                    }
                }
            }
        };
        println!("| {} | {} | {} |", h.name, h.expect, line);
    }
    if layout.installed {
        // Best effort: a leftover temporary directory is harmless.
        let _ = std::fs::remove_dir_all(&dir);
    }
    (bad != 0) as i32
}
