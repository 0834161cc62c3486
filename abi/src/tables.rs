//! Per-architecture facts for every architecture the kernel wires rseq up
//! on, whether or not this crate runs there: the object inspector and the
//! header checks use them.

/// What the rseq ABI looks like on one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchInfo {
    /// Name, as in `headers/sys/rseq.h`'s comments.
    pub name: &'static str,
    /// The C predefined macros that select this variant in the header.
    pub predefined: &'static [&'static str],
    /// `RSEQ_SIG`: the word the kernel compares with the 4 bytes before an
    /// abort handler.
    pub signature: u32,
    /// The trapping instruction the signature encodes.
    pub instruction: &'static str,
    /// `__NR_rseq`, where the kernel has one number for the variant.
    pub syscall: Option<u32>,
}

/// Every variant of `headers/sys/rseq.h`'s `RSEQ_SIG`, in header order.
pub const ARCHITECTURES: &[ArchInfo] = &[
    arch(
        "x86_64",
        &["__x86_64__"],
        0x5305_3053,
        "ud1 0x53053053(%rip),%edi",
        Some(334),
    ),
    arch(
        "i386",
        &["__i386__"],
        0x5305_3053,
        "ud1 0x53053053(%rip),%edi",
        Some(386),
    ),
    arch(
        "aarch64",
        &["__aarch64__"],
        0xd428_bc00,
        "brk #0x45e0",
        Some(293),
    ),
    arch(
        "aarch64_be",
        &["__aarch64__", "__AARCH64EB__"],
        0x00bc_28d4,
        "brk #0x45e0",
        Some(293),
    ),
    arch("arm", &["__arm__"], 0xe7f5_def3, "udf #24035", Some(398)),
    arch(
        "armeb",
        &["__arm__", "__ARMEB__"],
        0xf3de_f5e7,
        "udf #24035",
        Some(398),
    ),
    arch(
        "powerpc",
        &["__powerpc__"],
        0x0fe5_000b,
        "twui r5,11",
        Some(387),
    ),
    arch(
        "powerpc64",
        &["__powerpc64__"],
        0x0fe5_000b,
        "twui r5,11",
        Some(387),
    ),
    arch("mips", &["__mips__"], 0x0350_000d, "break 0x350", None),
    arch(
        "nanomips_le",
        &["__mips__", "__nanomips__", "__MIPSEL__"],
        0x0350_0010,
        "break 0x350",
        None,
    ),
    arch(
        "nanomips_be",
        &["__mips__", "__nanomips__"],
        0x0010_0350,
        "break 0x350",
        None,
    ),
    arch(
        "micromips_le",
        &["__mips__", "__mips_micromips", "__MIPSEL__"],
        0xd407_0000,
        "break 0x350",
        None,
    ),
    arch(
        "micromips_be",
        &["__mips__", "__mips_micromips"],
        0x0000_d407,
        "break 0x350",
        None,
    ),
    arch(
        "s390",
        &["__s390__"],
        0xb2ff_0fff,
        "trap4 4095(%r0)",
        Some(383),
    ),
    arch(
        "riscv",
        &["__riscv"],
        0xf140_1073,
        "csrw mhartid, x0",
        Some(293),
    ),
    arch(
        "loongarch",
        &["__loongarch__"],
        0x002a_0010,
        "break 0x10",
        Some(293),
    ),
];

const fn arch(
    name: &'static str,
    predefined: &'static [&'static str],
    signature: u32,
    instruction: &'static str,
    syscall: Option<u32>,
) -> ArchInfo {
    ArchInfo {
        name,
        predefined,
        signature,
        instruction,
        syscall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_architecture_matches_its_table_row() {
        let name = if cfg!(target_arch = "riscv64") {
            "riscv"
        } else {
            std::env::consts::ARCH
        };
        let row = ARCHITECTURES.iter().find(|a| a.name == name).unwrap();
        assert_eq!(row.signature, crate::arch::RSEQ_SIG);
        assert_eq!(row.syscall, Some(crate::arch::nr::RSEQ as u32));
    }
}
