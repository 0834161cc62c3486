//! aarch64: the counter is read with `mrs` of the register the page's
//! `index` names: `index` 32 is the cycle counter `PMCCNTR_EL0` (the
//! kernel's counter 31), `index` 1 to 31 the event counters
//! `PMEVCNTR0_EL0` to `PMEVCNTR30_EL0`, reached through a jump table of
//! direct `mrs` instructions (no `PMSELR_EL0` selector: nothing of the
//! CPU's state is written). `index` 33 (FEAT_PMUv3p9's `PMICNTR_EL0`) is
//! left to `read(2)`.
//!
//! User access needs `/proc/sys/kernel/perf_user_access` = 1 and the event
//! opened per task with `config1` bit 1 (`rdpmc`); bit 0 (64-bit) makes the
//! counter 64 bits wide where the PMU has long counters or the event is on
//! the cycle counter (`drivers/perf/arm_pmuv3.c`).
//!
//! Section layout (as the x86-64 sequences, for `rseq-libc inspect` and
//! GDB): `2:` start_ip, `3:` post-commit ip and the common exit, `4:`
//! abort_ip in `__rseq_failure` after the signature `.inst 0xd428bc00`,
//! `6:` the descriptor in `__rseq_cs`, one entry in `__rseq_cs_ptr_array`
//! and a `(2b, 3b)` pair in `__rseq_exit_point_array`. Each jump-table
//! entry starts with `bti j` (`hint #36`, a no-op without BTI) so that the
//! indirect branch is valid in a BTI-guarded program.

use super::SequenceOutput;
use core::arch::asm;
use rseq_abi::Rseq;

/// System call numbers of this crate beyond `rseq_abi::arch::nr` (the
/// generic table).
pub mod nr {
    /// perf_event_open(2)
    pub const PERF_EVENT_OPEN: usize = 241;
    /// getdents64(2)
    pub const GETDENTS64: usize = 61;
}

/// `config1` bit 1 (`rdpmc`): ask for user access to the counter.
pub const CONFIG1_USER_READ: u64 = 1 << 1;
/// `config1` bits 1 and 0 (`rdpmc`, `long`): user access to a 64-bit counter.
pub const CONFIG1_USER_READ_64BIT: u64 = (1 << 1) | 1;
/// User reads need `/proc/sys/kernel/perf_user_access` = 1.
pub const NEEDS_PERF_USER_ACCESS: bool = true;

/// 16-byte entries `bti j; mrs {pmc}, PMEVCNTR<n>_EL0; b 31f; nop` for
/// n = 0..=30, indexed by `index - 1`.
macro_rules! evcntr_table {
    ($($n:literal)*) => {
        concat!($("hint #36\nmrs {pmc}, pmevcntr", $n, "_el0\nb 31f\nnop\n",)*)
    };
}

/// Runs the sequence once (see the module documentation of `arch`).
///
/// # Safety
/// `area` is the calling thread's registered rseq area; `pages` points to
/// [`crate::MAX_TYPES`] page addresses, valid (mapped `perf_event_mmap_page`s)
/// for every entry `map` names; `map` points to [`crate::MAX_CPUS`] bytes;
/// `inject` is valid for reads and writes.
#[inline]
pub unsafe fn read_sequence(
    area: *mut Rseq,
    pages: *const usize,
    map: *const u8,
    inject: *mut u32,
) -> SequenceOutput {
    let (status, cpu, entry, pmc, offset, width, idx): (u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: the caller's contract; the section only loads (and, for the
    // test hook, stores the injection counter), the counter reads are of
    // registers the kernel lets EL0 read while the page's index names them
    // (a trap otherwise, never a wrong value), and every exit, the abort
    // handler's included, leaves through `3:` with `status` set.
    unsafe {
        asm!(
            "adrp {tmp}, 6f",
            "add {tmp}, {tmp}, :lo12:6f",
            "str {tmp}, [{area}, #8]",
            "2:",
            "ldr {cpu:w}, [{area}, #4]",
            "mov {status}, #2",
            "tbnz {cpu:w}, #31, 3f",
            "mov {status}, #3",
            "cmp {cpu:w}, #{max_cpus}",
            "b.hs 3f",
            "ldrb {entry:w}, [{map}, {cpu}]",
            "cmp {entry:w}, #0xff",
            "b.eq 3f",
            "ldr {tmp:w}, [{inject}]",
            "cbz {tmp:w}, 7f",
            "sub {tmp:w}, {tmp:w}, #1",
            "str {tmp:w}, [{inject}]",
            "brk #0",
            "7:",
            "ldr {page}, [{pages}, {entry}, lsl #3]",
            "ldr {seq:w}, [{page}, #8]",
            "ldr {idx:w}, [{page}, #12]",
            "ldr {offset}, [{page}, #16]",
            "ldr {tmp}, [{page}, #40]",
            "ldrh {width:w}, [{page}, #48]",
            "mov {status}, #4",
            "tbz {tmp}, #2, 3f",
            "mov {status}, #5",
            "cbz {idx:w}, 3f",
            "mov {status}, #6",
            "sub {seq2:w}, {idx:w}, #1",
            "cmp {seq2:w}, #31",
            "b.eq 30f",
            "b.hi 3f",
            "adr {tmp}, 20f",
            "add {tmp}, {tmp}, {seq2}, lsl #4",
            "br {tmp}",
            "20:",
            evcntr_table!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30),
            "30:",
            "mrs {pmc}, pmccntr_el0",
            "31:",
            "ldr {seq2:w}, [{page}, #8]",
            "cmp {seq2:w}, {seq:w}",
            "mov {status}, #7",
            "b.ne 3f",
            "mov {status}, #0",
            "3:",
            ".pushsection __rseq_failure, \"ax\"",
            ".inst 0xd428bc00",
            "4:",
            "mov {status}, #1",
            "b 3b",
            ".popsection",
            ".pushsection __rseq_cs, \"aw\"",
            ".balign 32",
            "6:",
            ".long 0, 0",
            ".quad 2b, 3b - 2b, 4b",
            ".popsection",
            ".pushsection __rseq_cs_ptr_array, \"awR\"",
            ".quad 6b",
            ".popsection",
            ".pushsection __rseq_exit_point_array, \"awR\"",
            ".quad 2b, 3b",
            ".popsection",
            area = in(reg) area,
            pages = in(reg) pages,
            map = in(reg) map,
            inject = in(reg) inject,
            max_cpus = const crate::MAX_CPUS,
            tmp = out(reg) _,
            seq = out(reg) _,
            page = out(reg) _,
            idx = out(reg) idx,
            seq2 = out(reg) _,
            status = out(reg) status,
            cpu = out(reg) cpu,
            entry = out(reg) entry,
            offset = out(reg) offset,
            width = out(reg) width,
            pmc = out(reg) pmc,
            options(nostack)
        );
    }
    SequenceOutput {
        status: status as u32,
        cpu: cpu as u32,
        entry: entry as u32,
        pmc,
        offset,
        width: width as u32,
        index: idx as u32,
    }
}
