//! `rseq-libc`: with no argument, reports the kernel's rseq support, who owns
//! registration in this process and why, the current CPU, node and mm_cid,
//! and runs the bundled C demo in every host this machine has.
#![deny(unsafe_code)]

mod bench;
mod bench_side;
mod hosts;
mod inspect;
mod report;
mod stress;
mod stress_shared;

/// Links rseq-csu's startup hooks into this program too, so that its report
/// shows what a C program linking the component sees.
#[used]
static LINK_STARTUP_HOOKS: extern "C" fn() = rseq_csu::rseq_libc_csu_init;

fn usage() -> i32 {
    eprintln!(
        "usage: rseq-libc [report]        kernel rseq support, this process's registration,\n\
         \x20                                and the C demo in every host (the default)\n\
         \x20      rseq-libc stress [options]  per-CPU operations under injected preemption,\n\
         \x20                                migration and signals (--help for options)\n\
         \x20      rseq-libc bench [--quick]   per-CPU benchmarks beside their baselines\n\
         \x20      rseq-libc bench --with-c BENCH_INLINE [--rounds R]\n\
         \x20                                Rust, inline C and C call rows beside their floors\n\
         \x20                                (tests/percpu/bench_inline.sh builds and runs it)\n\
         \x20      rseq-libc inspect ELF [--json]  list and validate critical sections\n\
         \x20      rseq-libc help"
    );
    2
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        None | Some("report") => report::run(),
        Some("inspect") => inspect::run(&args[2..]),
        Some("stress") => stress::run(&args[2..]),
        Some("bench") => bench::run(&args[2..]),
        Some("help" | "--help" | "-h") => {
            usage();
            0
        }
        Some(other) => {
            eprintln!("rseq-libc: unknown command '{other}'");
            usage()
        }
    };
    std::process::exit(code);
}
