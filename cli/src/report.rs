//! The default report.

use rseq_registration::{auxv::AuxvSource, HostRseq, Owner, Reason, SymbolSource};

pub fn run() -> i32 {
    let k = rseq_registration::kernel();
    let source = match k.source {
        AuxvSource::Host => "auxiliary vector (from the startup hook)",
        AuxvSource::ProcSelfAuxv => "/proc/self/auxv",
        AuxvSource::Defaults | AuxvSource::Unread => "defaults: no auxiliary vector readable",
    };
    println!("# rseq-libc report");
    println!();
    println!(
        "kernel: feature size {}, alignment {} ({source})",
        k.feature_size, k.align
    );

    let (host, symbols) = rseq_registration::host::host();
    let host_text = match host {
        HostRseq::Registered { offset, size } => {
            format!("the libc registers threads (__rseq_offset {offset}, __rseq_size {size})")
        }
        HostRseq::NotRegistered => {
            "the libc supports rseq but did not register (__rseq_size 0: disabled or refused)"
                .into()
        }
        HostRseq::Unsupported => "no libc rseq support in this process".into(),
    };
    let sym_text = match symbols {
        SymbolSource::Linked => "linked libc",
        SymbolSource::Interpreter => "ld.so",
        SymbolSource::Component => "rseq-libc's own definitions",
    };
    println!("host libc: {host_text}; __rseq_* symbols from {sym_text}");

    let s = rseq_registration::status();
    let why = match (s.owner, s.reason) {
        (Owner::Libc, _) => "adopted the libc's area; rseq-libc made no syscall".to_string(),
        (Owner::Component, _) => format!("rseq-libc registered its own TLS area ({} bytes)", s.len),
        (Owner::None, Reason::Unavailable) => {
            "rseq unavailable (ENOSYS: old kernel or seccomp)".into()
        }
        (Owner::None, Reason::Disabled) => "unregistered by the application".into(),
        (Owner::None, _) => format!("registration failed: errno {}", -s.error),
    };
    println!(
        "this process: owner {:?}: {why}; feature size {}",
        s.owner, s.feature_size
    );

    match rseq_sched_getcpu::getcpu() {
        Ok((cpu, node, src)) => {
            let cid = rseq_sched_getcpu::current_mm_cid()
                .map_or_else(|e| format!("unavailable (errno {e})"), |c| c.to_string());
            println!("current: cpu {cpu}, node {node} (from {src:?}), mm_cid {cid}");
        }
        Err(e) => println!("current: getcpu failed: errno {e}"),
    }
    println!();
    crate::hosts::run_demo_in_every_host()
}
