//! The Rust ABI definitions (`rseq-abi`) checked against C headers through
//! bindgen: `headers/sys/rseq.h` and the system's `<linux/rseq.h>`.
#![cfg(test)]

#[allow(non_camel_case_types, non_upper_case_globals, dead_code, missing_docs)]
mod ours {
    include!(concat!(env!("OUT_DIR"), "/sys_rseq.rs"));
}

#[allow(non_camel_case_types, non_upper_case_globals, dead_code, missing_docs)]
mod system {
    include!(concat!(env!("OUT_DIR"), "/linux_rseq.rs"));
}

mod sigs {
    include!(concat!(env!("OUT_DIR"), "/sigs.rs"));
}

use core::mem::{align_of, offset_of, size_of};
use rseq_abi::{Rseq, RseqCs};

macro_rules! same_layout {
    ($c:ty, $r:ty, [$($f:ident),*]) => {{
        assert_eq!(size_of::<$c>(), size_of::<$r>(), "size of {}", stringify!($c));
        assert_eq!(align_of::<$c>(), align_of::<$r>(), "align of {}", stringify!($c));
        $(assert_eq!(offset_of!($c, $f), offset_of!($r, $f), "{}.{}", stringify!($c), stringify!($f));)*
    }};
}

#[test]
fn our_header_matches_the_rust_structs() {
    same_layout!(
        ours::rseq,
        Rseq,
        [cpu_id_start, cpu_id, rseq_cs, flags, node_id, mm_cid]
    );
    same_layout!(
        ours::rseq_cs,
        RseqCs,
        [version, flags, start_ip, post_commit_offset, abort_ip]
    );
}

#[test]
fn our_header_constants_match() {
    assert_eq!(ours::RSEQ_SIG, rseq_abi::arch::RSEQ_SIG);
    assert_eq!(
        ours::rseq_cpu_id_state_RSEQ_CPU_ID_UNINITIALIZED,
        rseq_abi::RSEQ_CPU_ID_UNINITIALIZED
    );
    assert_eq!(
        ours::rseq_cpu_id_state_RSEQ_CPU_ID_REGISTRATION_FAILED,
        rseq_abi::RSEQ_CPU_ID_REGISTRATION_FAILED
    );
    assert_eq!(
        ours::rseq_flags_RSEQ_FLAG_UNREGISTER as i32,
        rseq_abi::RSEQ_FLAG_UNREGISTER
    );
    assert_eq!(
        ours::rseq_cs_flags_RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT,
        rseq_abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT
    );
    assert_eq!(
        ours::rseq_cs_flags_RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL,
        rseq_abi::RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL
    );
    assert_eq!(
        ours::rseq_cs_flags_RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE,
        rseq_abi::RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE
    );
}

#[test]
fn every_architecture_signature_matches_the_table() {
    assert_eq!(sigs::SIGS.len(), rseq_abi::ARCHITECTURES.len());
    for (a, (name, sig)) in rseq_abi::ARCHITECTURES.iter().zip(sigs::SIGS) {
        assert_eq!(a.name, *name);
        assert_eq!(
            a.signature, *sig,
            "{name}: header {sig:#010x}, table {:#010x}",
            a.signature
        );
    }
}

#[cfg(system_linux_rseq)]
#[test]
fn the_system_kernel_header_matches_where_it_has_the_fields() {
    same_layout!(
        system::rseq_cs,
        RseqCs,
        [version, flags, start_ip, post_commit_offset, abort_ip]
    );
    assert_eq!(align_of::<system::rseq>(), align_of::<Rseq>());
    assert_eq!(size_of::<system::rseq>(), size_of::<Rseq>());
    for (c, r) in [
        (
            offset_of!(system::rseq, cpu_id_start),
            offset_of!(Rseq, cpu_id_start),
        ),
        (offset_of!(system::rseq, cpu_id), offset_of!(Rseq, cpu_id)),
        (offset_of!(system::rseq, rseq_cs), offset_of!(Rseq, rseq_cs)),
        (offset_of!(system::rseq, flags), offset_of!(Rseq, flags)),
    ] {
        assert_eq!(c, r);
    }
    #[cfg(system_linux_rseq_has_mm_cid)]
    {
        assert_eq!(offset_of!(system::rseq, node_id), offset_of!(Rseq, node_id));
        assert_eq!(offset_of!(system::rseq, mm_cid), offset_of!(Rseq, mm_cid));
    }
}
