//! x86-64: the counter is read with `rdpmc` (`ecx` = the page's `index` -
//! 1, which already carries the fixed-counter bit 30), AT&T syntax.
//!
//! Section layout as `percpu/src/arch/x86_64.rs` (read by `rseq-libc
//! inspect` and GDB): `2:` start_ip, `3:` post-commit ip (also the common
//! exit of every status), `4:` abort_ip in `__rseq_failure` after the
//! 7 signature bytes `0f b9 3d 53 30 05 53`, `6:` the 32-byte descriptor in
//! `__rseq_cs`, one entry in `__rseq_cs_ptr_array` and one `(2b, 3b)` pair in
//! `__rseq_exit_point_array` (every exit is the commit's address).

use super::SequenceOutput;
use core::arch::asm;
use rseq_abi::Rseq;

/// System call numbers of this crate beyond `rseq_abi::arch::nr`.
pub mod nr {
    /// perf_event_open(2)
    pub const PERF_EVENT_OPEN: usize = 298;
    /// getdents64(2)
    pub const GETDENTS64: usize = 217;
}

/// No `config1` bits on x86-64: user reads are governed by
/// `/sys/bus/event_source/devices/cpu/rdpmc` and reported by
/// `cap_user_rdpmc`.
pub const CONFIG1_USER_READ: u64 = 0;
/// See [`CONFIG1_USER_READ`].
pub const CONFIG1_USER_READ_64BIT: u64 = 0;
/// Whether this architecture needs `/proc/sys/kernel/perf_user_access` set
/// for user reads (aarch64's switch; x86-64 has the `rdpmc` file instead).
pub const NEEDS_PERF_USER_ACCESS: bool = false;

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
    // test hook, stores the injection counter), and every exit, the abort
    // handler's included, leaves through `3:` with `status` set.
    unsafe {
        asm!(
            "lea 6f(%rip), {tmp}",
            "mov {tmp}, 8({area})",
            "2:",
            "movl 4({area}), {cpu:e}",
            "mov $2, {status:e}",
            "test {cpu:e}, {cpu:e}",
            "js 3f",
            "mov $3, {status:e}",
            "cmp ${max_cpus}, {cpu:e}",
            "jae 3f",
            "movzbl ({map},{cpu}), {entry:e}",
            "cmp $0xff, {entry:e}",
            "je 3f",
            "movl ({inject}), {tmp:e}",
            "test {tmp:e}, {tmp:e}",
            "jz 7f",
            "dec {tmp:e}",
            "movl {tmp:e}, ({inject})",
            "int3",
            "7:",
            "mov ({pages},{entry},8), {page}",
            "movl 8({page}), {seq:e}",
            "movl 12({page}), {inject:e}",
            "mov 16({page}), {offset}",
            "mov 40({page}), {tmp}",
            "movzwl 48({page}), {map:e}",
            "mov $4, {status:e}",
            "test $4, {tmp:e}",
            "jz 3f",
            "mov $5, {status:e}",
            "test {inject:e}, {inject:e}",
            "jz 3f",
            "lea -1({inject}), %ecx",
            "rdpmc",
            "shl $32, %rdx",
            "or %rax, %rdx",
            "movl 8({page}), {tmp:e}",
            "cmp {tmp:e}, {seq:e}",
            "mov $7, {status:e}",
            "jne 3f",
            "xor {status:e}, {status:e}",
            "3:",
            ".pushsection __rseq_failure, \"ax\"",
            ".byte 0x0f, 0xb9, 0x3d",
            ".long 0x53053053",
            "4:",
            "mov $1, {status:e}",
            "jmp 3b",
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
            // Free once the entry is chosen: the page's pmc_width and
            // index (x86-64 has too few registers for separate ones).
            map = inout(reg) map => width,
            inject = inout(reg) inject => idx,
            max_cpus = const crate::MAX_CPUS,
            tmp = out(reg) _,
            seq = out(reg) _,
            page = out(reg) _,
            status = out(reg) status,
            cpu = out(reg) cpu,
            entry = out(reg) entry,
            offset = out(reg) offset,
            out("rcx") _,
            out("rax") _,
            out("rdx") pmc,
            options(att_syntax, nostack)
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
