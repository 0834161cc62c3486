//! x86-64 restartable sequences (AT&T syntax `asm!`).
//!
//! # Layout of every critical section (read by `rseq-libc inspect` and GDB)
//!
//! Each function below expands to one `asm!` block; inlining may copy it, and
//! every copy carries its own descriptor and tables. Numeric local labels:
//!
//! | label | section | what |
//! |---|---|---|
//! | `2:` | `.text` | `start_ip`: first instruction after the descriptor is published |
//! | `3:` | `.text` | post-commit ip: right after the commit instruction |
//! | `9:` | `.text` | the common end (the same address as `3:`), where `ret` holds the [`Outcome`](crate::Outcome) |
//! | `4:` | `__rseq_failure` (`"ax"`) | `abort_ip`, preceded by the 7 bytes `0f b9 3d 53 30 05 53` |
//! | `5:` | `__rseq_failure` (`"ax"`), after the abort handler | "compare failed" exit (listed only for sections with a comparison): `ret` = 1, jump back to `9:` |
//! | `6:` | `__rseq_cs` (`"aw"`, `.balign 32`) | the `struct rseq_cs` descriptor |
//!
//! - `__rseq_cs`: `.long 0 (version), 0 (flags)`, `.quad 2b (start_ip),
//!   3b - 2b (post_commit_offset), 4b (abort_ip)`: 32 bytes, aligned 32.
//! - `__rseq_cs_ptr_array` (`"awR"`): one `.quad 6b` per section.
//! - `__rseq_exit_point_array` (`"awR"`): one `(start_ip, exit_ip)` pair of
//!   `.quad`s per exit from the section: always `(2b, 3b)`, the commit, and
//!   `(2b, 5b)` for sections with a compare-failed branch. The abort exit is
//!   the descriptor's `abort_ip`, and a CPU mismatch branches to it.
//! - `__rseq_failure` (`"ax"`): the signature is emitted as `.byte 0x0f, 0xb9,
//!   0x3d` + `.long 0x53053053` (glibc's and librseq's convention), so that it
//!   disassembles as `ud1 0x53053053(%rip),%edi`; the kernel checks the 4
//!   bytes before `abort_ip` against the registered `RSEQ_SIG`. The handler
//!   sets `ret` = 2 (aborted) and jumps back to `9:`. The compare-failed
//!   exit `5:` follows it there (out of line, outside the section: an exit
//!   point may be anywhere outside `[start_ip, post_commit_ip)`), so that
//!   the committing path falls through from the commit to `9:` without a
//!   taken branch.
//!
//! The two arrays carry `SHF_GNU_RETAIN` (`R`, GNU ld 2.36+, lld 13+): code
//! references the descriptors but nothing references the arrays, and
//! `--gc-sections` (Rust's default) would drop them. Otherwise they are what
//! librseq emits (`"aw"`); the linker merges both kinds into one section.
//!
//! Sequence: `ret` = 0; `lea 6f(%rip)` stored to `rseq_cs` (area + 8); `2:`;
//! the area check: `cpu_id` (area + 4, i.e. `-4` from the `rseq_cs` pointer
//! already in a register: no reload of the area pointer) must be >= 0, else
//! the area is not registered (the kernel writes -1 there on unregistration
//! and then `mm_cid` reads 0 in every thread) and the section leaves before
//! using any index: to the abort handler in sections given an index (the
//! caller's next index read sees the sign and falls back), to the
//! compare-failed exit in sections that read the index themselves (their
//! callers fall back on it); then compare the area's index field (`cpu_id`
//! at +4 or `mm_cid` at +24) with the expected index (mismatch: jump to the
//! abort handler); the loads and comparisons; the commit store; `3:`.
//! `rseq_cs` is left set: the kernel clears it lazily, as with librseq.
//!
//! The `INJECT = true` instantiation (stress tests only; the normal one has
//! no injection operand, no extra instruction) adds, like the kernel's
//! `param_test`, delay loops at three points of every section (right after
//! `2:`, after the index check, and between the loads and the commit), each
//! `delay[k]` iterations of `dec; jnz` (labels `7:`/`8:`) counted in the
//! `ret` register (0 again when a loop ends), and, at the last point, an
//! `int3` when [`Injection::trap`] is set: a `SIGTRAP` to the thread itself
//! with its instruction pointer inside the section, which the kernel aborts
//! on signal delivery whatever else happens, so that the restart path runs
//! deterministically (the process must handle `SIGTRAP`).
//!
//! Labels 0 and 1 (and any made of 0s and 1s) are avoided: they read as binary
//! literals in Intel syntax and rustc lints them.

use crate::Outcome;
use core::arch::asm;

/// `ret` = 0, publish the descriptor, `2:`.
macro_rules! cs_begin {
    () => {
        concat!(
            "xor {ret:e}, {ret:e}\n",
            "lea 6f(%rip), {tmp}\n",
            "mov {tmp}, ({cs})\n",
            "2:\n",
        )
    };
}

/// Abort unless the area is registered (`cpu_id >= 0`) and its index field
/// still equals the expected index.
macro_rules! cs_check_index {
    () => {
        concat!(
            "cmpl $0, -4({cs})\n",
            "js 4f\n",
            "cmpl {index:e}, ({index_field})\n",
            "jnz 4f\n",
        )
    };
}

/// Leave by the compare-failed exit unless the area is registered
/// (`cpu_id >= 0`): for sections that read the index themselves.
macro_rules! cs_check_area {
    () => {
        concat!("cmpl $0, -4({cs})\n", "js 5f\n")
    };
}

/// Copies `{len}` bytes from `{src}` to `{dst}` inside the section, with
/// no byte loop for the common lengths: 16 bytes or more: the last 16 bytes
/// (unaligned `movdqu` through `{xmm}`), then 16-byte blocks from the start
/// while more than 16 bytes remain (the blocks overlap the tail; a 17-32
/// byte copy is two loads and two stores and no taken branch); 8 to 15
/// bytes: the first and the last 8 (overlapping); below 8: a byte loop.
/// Only `[src, src + len)` is read and `[dst, dst + len)` written. An abort
/// part-way leaves only the destination's unpublished bytes written, which
/// the commit that follows publishes or not.
macro_rules! cs_copy_bytes {
    () => {
        concat!(
            "cmp $16, {len}\n",
            "jb 25f\n",
            "movdqu -16({src},{len}), {xmm}\n",
            "movdqu {xmm}, -16({dst},{len})\n",
            "22:\n",
            "movdqu ({src}), {xmm}\n",
            "movdqu {xmm}, ({dst})\n",
            "add $16, {src}\n",
            "add $16, {dst}\n",
            "sub $16, {len}\n",
            "cmp $16, {len}\n",
            "ja 22b\n",
            "jmp 24f\n",
            "25:\n",
            "cmp $8, {len}\n",
            "jb 23f\n",
            "mov ({src}), {tmp}\n",
            "mov {tmp}, ({dst})\n",
            "mov -8({src},{len}), {tmp}\n",
            "mov {tmp}, -8({dst},{len})\n",
            "jmp 24f\n",
            "23:\n",
            "test {len}, {len}\n",
            "jz 24f\n",
            "26:\n",
            "movb ({src}), {tmp:l}\n",
            "movb {tmp:l}, ({dst})\n",
            "inc {src}\n",
            "inc {dst}\n",
            "dec {len}\n",
            "jnz 26b\n",
            "24:\n",
        )
    };
}

/// `delay[k]` iterations (the `u32` at byte `$off` of the [`Injection`]) of
/// a countdown loop in `ret`, inside the section; `ret` is 0 again after it.
macro_rules! cs_delay {
    ($off:literal) => {
        concat!(
            "movl ",
            $off,
            "({inj}), {ret:e}\n",
            "test {ret:e}, {ret:e}\n",
            "jz 7f\n",
            "8:\n",
            "dec {ret:e}\n",
            "jnz 8b\n",
            "7:\n",
        )
    };
}

/// The forced abort: `int3` (a `SIGTRAP` to this thread, delivered with the
/// instruction pointer inside the section) when [`Injection::trap`] is set.
macro_rules! cs_trap {
    () => {
        concat!("cmpl $0, 12({inj})\n", "je 7f\n", "int3\n", "7:\n",)
    };
}

/// `3:` (right after the commit) = the end `9:`, the abort handler `4:` and
/// the compare-failed exit `5:` (both out of line) and the tables. `$exits` adds exit-point pairs.
macro_rules! cs_end {
    ($($exits:expr)?) => {
        concat!(
            "3:\n",
            "9:\n",
            ".pushsection __rseq_failure, \"ax\"\n",
            ".byte 0x0f, 0xb9, 0x3d\n",
            ".long 0x53053053\n",
            "4:\n",
            "mov $2, {ret:e}\n",
            "jmp 9b\n",
            "5:\n",
            "mov $1, {ret:e}\n",
            "jmp 9b\n",
            ".popsection\n",
            ".pushsection __rseq_cs, \"aw\"\n",
            ".balign 32\n",
            "6:\n",
            ".long 0, 0\n",
            ".quad 2b, 3b - 2b, 4b\n",
            ".popsection\n",
            ".pushsection __rseq_cs_ptr_array, \"awR\"\n",
            ".quad 6b\n",
            ".popsection\n",
            ".pushsection __rseq_exit_point_array, \"awR\"\n",
            ".quad 2b, 3b\n",
            $($exits,)?
            ".popsection\n",
        )
    };
}

/// The exit-point pair of the compare-failed branch.
macro_rules! exit_compare_failed {
    () => {
        ".quad 2b, 5b\n"
    };
}

/// One critical section, emitted with the injection points (`INJECT`,
/// stress builds: a delay loop after each of the first three lists of
/// template pieces, the forced trap after the third) or without them (every
/// other use: no injection operand, no test, no extra register). The lists:
/// the start (`cs_begin!`), the area/index checks, the loads and
/// comparisons, the commit and the end.
macro_rules! rseq_asm {
    ($inject:expr, $inj:expr, [$($begin:expr),* $(,)?], [$($check:expr),* $(,)?],
     [$($loads:expr),* $(,)?], [$($commit:expr),* $(,)?], $($ops:tt)*) => {
        if $inject {
            asm!(
                concat!(
                    $($begin,)* cs_delay!("0"),
                    $($check,)* cs_delay!("4"),
                    $($loads,)* cs_delay!("8"), cs_trap!(),
                    $($commit,)*
                ),
                inj = in(reg) $inj as *const Injection,
                $($ops)*
            )
        } else {
            let _ = $inj;
            asm!(concat!($($begin,)* $($check,)* $($loads,)* $($commit,)*), $($ops)*)
        }
    };
}

/// What the `INJECT = true` instantiation of a sequence injects (stress
/// tests); the normal instantiation never reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injection {
    /// Delay-loop iterations at the three injection points: right after the
    /// section starts, after the area and index checks, and between the
    /// loads and comparisons and the commit.
    pub delay: [u32; 3],
    /// Non-zero: `int3` at the last injection point, which forces the
    /// kernel to abort the section (see the module documentation). The
    /// process must have a `SIGTRAP` handler that returns.
    pub trap: u32,
}

impl Injection {
    /// Nothing injected: what callers of the normal instantiation pass.
    pub const OFF: Injection = Injection {
        delay: [0; 3],
        trap: 0,
    };
}

const _: () = assert!(core::mem::size_of::<Injection>() == 16);

#[inline(always)]
fn outcome(ret: u32) -> Outcome {
    match ret {
        0 => Outcome::Done,
        1 => Outcome::CompareFailed,
        _ => Outcome::Aborted,
    }
}

/// The `rseq_cs` field of an area.
#[inline(always)]
fn cs_field(area: *mut rseq_abi::Rseq) -> *mut u64 {
    area.cast::<u8>().wrapping_add(8).cast()
}

/// Load-compare-store: if `*v == expect` on CPU (or concurrency id) `index`,
/// store `newv` (the commit). `INJECT`: the stress instantiation, with the
/// injection points (see the module documentation); `inject` is ignored
/// otherwise ([`Injection::OFF`]).
///
/// # Safety
/// `area` is the calling thread's registered area and `index_field` points
/// into it (at `cpu_id` or `mm_cid`); `v` is valid for reads and writes and
/// is only written by restartable sequences committing on `index`.
#[inline(always)]
pub unsafe fn load_cbne_store<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    expect: usize,
    newv: usize,
    inject: &Injection,
) -> Outcome {
    let ret: u32;
    // SAFETY: the caller's contract; the sequence only touches `*v` and the
    // area, and emits its descriptor and tables as documented above.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            ["cmp {expect}, ({v})\n", "jnz 5f\n"],
            ["mov {newv}, ({v})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            options(att_syntax, nostack),
        );
    }
    outcome(ret)
}

/// Add `inc` to `*v` on CPU (or concurrency id) `index` (the add commits).
///
/// # Safety
/// As [`load_cbne_store`].
#[inline(always)]
pub unsafe fn add<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    inc: usize,
    inject: &Injection,
) -> Outcome {
    let ret: u32;
    // SAFETY: as load_cbne_store.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            [],
            ["add {inc}, ({v})\n", cs_end!()],
            ret = out(reg) ret,
            tmp = out(reg) _,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            v = in(reg) v,
            inc = in(reg) inc,
            options(att_syntax, nostack),
        );
    }
    outcome(ret)
}

/// Load-add-store at an offset, indexed inside the section: reads the index
/// `i` from `index_field`, then adds `inc` to the word at
/// `base + i * stride` (`base` already includes the field's offset). An index
/// `>= slots` exits with [`Outcome::CompareFailed`]. Returns the index used.
///
/// # Safety
/// `area`/`index_field` as [`load_cbne_store`]; `base + i * stride` is a
/// valid word for every `i < slots`, written only by restartable sequences
/// committing on index `i`.
#[inline(always)]
pub unsafe fn add_indexed<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    base: *mut u8,
    stride: usize,
    slots: u32,
    inc: usize,
    inject: &Injection,
) -> (Outcome, u32) {
    let ret: u32;
    let index: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [
                cs_check_area!(),
                "movl ({index_field}), {index:e}\n",
                "cmpl {slots:e}, {index:e}\n",
                "jae 5f\n",
            ],
            ["mov {index}, {tmp}\n", "imul {stride}, {tmp}\n"],
            ["add {inc}, ({base}, {tmp})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            index = out(reg) index,
            cs = in(reg) cs_field(area),
            index_field = in(reg) index_field,
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            options(att_syntax, nostack),
        );
    }
    (outcome(ret), index as u32)
}

/// Compare, then load-add-store at an offset: as [`add_indexed`], but the
/// add commits only if `*guard == expect` when the section reads it (after
/// the index); otherwise [`Outcome::CompareFailed`] with nothing stored. The
/// per-CPU reader lock's read-lock: the guard is the writer flag.
///
/// # Safety
/// As [`add_indexed`]; `guard` is valid for reads.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn cmpeq_add_indexed<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    guard: *const usize,
    expect: usize,
    base: *mut u8,
    stride: usize,
    slots: u32,
    inc: usize,
    inject: &Injection,
) -> (Outcome, u32) {
    let ret: u32;
    let index: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [
                cs_check_area!(),
                "movl ({index_field}), {index:e}\n",
                "cmpl {slots:e}, {index:e}\n",
                "jae 5f\n",
            ],
            [
                "cmp {expect}, ({guard})\n",
                "jnz 5f\n",
                "mov {index}, {tmp}\n",
                "imul {stride}, {tmp}\n",
            ],
            ["add {inc}, ({base}, {tmp})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            index = out(reg) index,
            cs = in(reg) cs_field(area),
            index_field = in(reg) index_field,
            guard = in(reg) guard,
            expect = in(reg) expect,
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            options(att_syntax, nostack),
        );
    }
    (outcome(ret), index as u32)
}

/// Compare-and-pop: on `index`, if the list head `*head` is not null, load
/// the node's next pointer (at `next_offset` in the node) and store it into
/// `*head` (the commit). Returns the popped node; an empty list gives
/// [`Outcome::CompareFailed`]. ABA-free: the load of the head, of its next
/// pointer and the store happen in one section.
///
/// # Safety
/// As [`load_cbne_store`] for `head`; every node on the list is readable at
/// `next_offset`.
#[inline(always)]
pub unsafe fn load_cbeq_pop<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    head: *mut usize,
    next_offset: usize,
    inject: &Injection,
) -> (Outcome, usize) {
    let ret: u32;
    let node: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            [
                "mov ({head}), {node}\n",
                "test {node}, {node}\n",
                "jz 5f\n",
                "mov ({node}, {next_offset}), {tmp}\n",
            ],
            ["mov {tmp}, ({head})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            node = out(reg) node,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            head = in(reg) head,
            next_offset = in(reg) next_offset,
            options(att_syntax, nostack),
        );
    }
    (outcome(ret), node)
}

/// Compare + try-store + store: on `index`, if `*v == expect`, store `newv2`
/// into `*v2` (may be redone after an abort), then `newv` into `*v` (the
/// commit). x86-64 keeps the two stores in order.
///
/// # Safety
/// As [`load_cbne_store`] for `v`; `v2` is valid for writes, and a store to it
/// that is later redone or abandoned is harmless to the caller.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn load_cbne_store_store<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    expect: usize,
    v2: *mut usize,
    newv2: usize,
    newv: usize,
    inject: &Injection,
) -> Outcome {
    let ret: u32;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            [
                "cmp {expect}, ({v})\n",
                "jnz 5f\n",
                "mov {newv2}, ({v2})\n",
            ],
            ["mov {newv}, ({v})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            v = in(reg) v,
            expect = in(reg) expect,
            v2 = in(reg) v2,
            newv2 = in(reg) newv2,
            newv = in(reg) newv,
            options(att_syntax, nostack),
        );
    }
    outcome(ret)
}

/// Compare + memcpy + store: on `index`, if `*v == expect`, copy `len` bytes
/// from `src` to `dst` (see `cs_copy_bytes`), then store `newv`
/// into `*v` (the commit: it publishes the copy).
///
/// # Safety
/// As [`load_cbne_store`] for `v`; `src` readable and `dst` writable for
/// `len` bytes, `dst` invisible to readers until `*v` says otherwise.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn load_cbne_memcpy_store<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    expect: usize,
    dst: *mut u8,
    src: *const u8,
    len: usize,
    newv: usize,
    inject: &Injection,
) -> Outcome {
    let ret: u32;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            [
                "cmp {expect}, ({v})\n",
                "jnz 5f\n",
                cs_copy_bytes!(),
            ],
            ["mov {newv}, ({v})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            v = in(reg) v,
            expect = in(reg) expect,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            xmm = out(xmm_reg) _,
            newv = in(reg) newv,
            options(att_syntax, nostack),
        );
    }
    outcome(ret)
}

/// Compare + store + memcpy + store: on `index`, if `*v == expect`, store
/// the word `first` at `dst`, copy `len` bytes from `src` to `dst + 8`
/// (see `cs_copy_bytes`), then store `newv` into `*v` (the commit
/// publishes both). The ring buffer's write: a record header and its payload
/// go straight from the caller's buffer into the reserved slot, one copy.
///
/// # Safety
/// As [`load_cbne_store`] for `v`; `src` readable for `len` bytes, `dst`
/// 8-aligned and writable for `8 + len` bytes and invisible to readers until
/// `*v` says otherwise.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn load_cbne_store_memcpy_store<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    expect: usize,
    dst: *mut u8,
    first: usize,
    src: *const u8,
    len: usize,
    newv: usize,
    inject: &Injection,
) -> Outcome {
    let ret: u32;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [cs_begin!()],
            [cs_check_index!()],
            [
                "cmp {expect}, ({v})\n",
                "jnz 5f\n",
                "mov {first}, ({dst})\n",
                "add $8, {dst}\n",
                cs_copy_bytes!(),
            ],
            ["mov {newv}, ({v})\n", cs_end!(exit_compare_failed!())],
            ret = out(reg) ret,
            tmp = out(reg) _,
            cs = in(reg) cs_field(area),
            index = in(reg) index,
            index_field = in(reg) index_field,
            v = in(reg) v,
            expect = in(reg) expect,
            first = in(reg) first,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            xmm = out(xmm_reg) _,
            newv = in(reg) newv,
            options(att_syntax, nostack),
        );
    }
    outcome(ret)
}

/// Whether the CPU has `rdpid` (CPUID.7.0:ECX bit 22).
pub fn has_rdpid() -> bool {
    // cpuid leaf 7 exists on every x86-64 CPU that runs Linux 4.18+; an
    // unsupported leaf returns zeros.
    let r = core::arch::x86_64::__cpuid_count(7, 0);
    r.ecx & (1 << 22) != 0
}

/// `rdpid`: the `TSC_AUX` value Linux sets to `node << 12 | cpu`; returns cpu.
///
/// # Safety
/// The CPU has `rdpid` ([`has_rdpid`]).
#[inline(always)]
pub unsafe fn rdpid_cpu() -> u32 {
    let v: u64;
    // SAFETY: the caller checked the instruction exists.
    unsafe {
        asm!("rdpid {}", out(reg) v, options(nomem, nostack, preserves_flags));
    }
    (v & 0xfff) as u32
}
