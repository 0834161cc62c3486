// @generated from percpu/seq/x86_64.seq and percpu/seq/common.seq by scripts/gen-sequences.py: do not edit;
// edit the template and run `python3 scripts/gen-sequences.py`.
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
//! | `9:` | `.text` | in the sections that return a register (below): the common end (the same address as `3:`), where that register holds the outcome |
//! | `4:` | `__rseq_failure` (`"ax"`) | `abort_ip`, preceded by the 7 bytes `0f b9 3d 53 30 05 53` |
//! | `5:` | `__rseq_failure` (`"ax"`), after the abort handler | "compare failed" exit (listed only for sections with a comparison) |
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
//!   bytes before `abort_ip` against the registered `RSEQ_SIG`. The abort
//!   handler and the compare-failed exit `5:` follow (out of line, outside
//!   the section: an exit point may be anywhere outside `[start_ip,
//!   post_commit_ip)`), so that the committing path falls through from the
//!   commit without a taken branch. Each is one `jmp`: to a label block of
//!   the `asm!` (asm goto, below), or back to `9:` after setting the
//!   outcome register.
//!
//! The two arrays carry `SHF_GNU_RETAIN` (`R`, GNU ld 2.36+, lld 13+): code
//! references the descriptors but nothing references the arrays, and
//! `--gc-sections` (Rust's default) would drop them. Otherwise they are what
//! librseq emits (`"aw"`); the linker merges both kinds into one section.
//!
//! Sequence: `lea 6f(%rip)` stored to `rseq_cs` (area + 8); `2:`; the area
//! check: `cpu_id` must be >= 0, else the area is not registered (the
//! kernel writes -1 there on unregistration and then `mm_cid` reads 0 in
//! every thread; the per-thread cache's stand-in area reads -1 too) and the
//! section leaves before using any index: to the abort handler in sections
//! given an index (the caller's next index read sees the sign and falls
//! back), to the compare-failed exit in sections that read the index
//! themselves (their callers fall back on it); then compare the area's
//! index field (`cpu_id` at +4 or `mm_cid` at +24) with the expected index
//! (mismatch: jump to the abort handler); the loads and comparisons; the
//! commit store; `3:`. `rseq_cs` is left set: the kernel clears it lazily,
//! as with librseq.
//!
//! Addressing: every section takes the area as a pointer to its `cpu_id`
//! field (`{cpu}`: area + 4) and the index field as `-4({cpu},{mode})`
//! (`mode` = the field's offset, 4 or 24), so that the area check
//! `cmpl $0, ({cpu})` has no displacement (it fuses with its branch) and a
//! caller holding the cached `cpu_id` pointer and an object's mode byte
//! computes nothing before the section.
//!
//! Outcome: asm goto wherever the section hands no value back
//! ([`load_cbne_store`], [`add`], [`add_indexed`], [`cmpeq_add_indexed`],
//! [`load_cbne_store_store`], the memcpy stores, [`pool_push`],
//! [`load_cbeq_cpu`]): `asm!` label blocks (stable since Rust 1.87, the
//! workspace's `rust-version`), `{aborted}` and `{failed}`, which the abort
//! handler and the compare-failed exit jump to and which return
//! [`Outcome::Aborted`] / [`Outcome::CompareFailed`]; the committing path
//! falls through the commit out of the `asm!` and returns
//! [`Outcome::Done`]: no register set before or tested after, and, inlined,
//! the caller's test of the outcome folds into the jumps (the Rust
//! compare-and-store loop of `tests/percpu/bench_vs_selftests.sh`: 46
//! instructions an iteration with a result register, 18 as asm goto). An
//! `asm!` with label blocks has no outputs (`asm_goto_with_outputs`
//! is unstable), so [`add_indexed`] and [`cmpeq_add_indexed`] store the
//! index they read to a local inside the section, as the inline C header
//! does. The sections that must
//! hand a register back keep it as the outcome: the pops and
//! [`packet_write_raw`] overwrite a register that holds a pointer (>= 8)
//! on the committing path (the popped node, the packet) with 1 or 2 in
//! the exits ([`enc_outcome`]), and [`add_slot`] returns the slot offset
//! (>= 0) or -1 / -2: one compare and branch after the section.
//!
//! The `INJECT = true` instantiation (stress tests only; the normal one has
//! no injection operand, no extra instruction) adds, like the kernel's
//! `param_test`, delay loops at three points of every section (right after
//! `2:`, after the index check, and between the loads and the commit), each
//! `delay[k]` iterations of `dec; jnz` (labels `7:`/`8:`) counted in a
//! scratch register of its own, and, at the last point, an
//! `int3` when [`Injection::trap`] is set: a `SIGTRAP` to the thread itself
//! with its instruction pointer inside the section, which the kernel aborts
//! on signal delivery whatever else happens, so that the restart path runs
//! deterministically (the process must handle `SIGTRAP`).
//!
//! Labels 0 and 1 (and any made of 0s and 1s) are avoided: they read as binary
//! literals in Intel syntax and rustc lints them.

use crate::Outcome;
use core::arch::asm;

// The template's fragments (percpu/seq/x86_64.seq), generated below as
// macros: `cs_signature!` (the bytes before every abort_ip), `cs_descriptor!`
// (the `__rseq_cs` descriptor `6:` and its `__rseq_cs_ptr_array` entry) and
// `cs_copy!`, which copies `{len}` bytes from `{src}` to `{dst}` inside the
// section with no byte loop for the common lengths: 16 bytes or more: the
// first and the last 16 bytes (unaligned `movdqu` through `{xmm}`,
// overlapping), and above 32 the 16-byte blocks in between (a 16-32 byte
// copy is two loads, two stores and no loop); 8 to 15 bytes: the first and
// the last 8 (overlapping); below 8: a byte loop. Only `[src, src + len)`
// is read and `[dst, dst + len)` written. An abort part-way leaves only the
// destination's unpublished bytes written, which the commit that follows
// publishes or not.
macro_rules! cs_signature {
    () => {
        concat!(
            ".byte 0x0f, 0xb9, 0x3d\n",
            ".long 0x53053053\n",
        )
    };
}

macro_rules! cs_descriptor {
    () => {
        concat!(
            ".pushsection __rseq_cs, \"aw\"\n",
            ".balign 32\n",
            "6:\n",
            ".long 0, 0\n",
            ".quad 2b, 3b - 2b, 4b\n",
            ".popsection\n",
            ".pushsection __rseq_cs_ptr_array, \"awR\"\n",
            ".quad 6b\n",
            ".popsection\n",
        )
    };
}

macro_rules! cs_copy {
    () => {
        concat!(
            "cmpq $16, {len}\n",
            "jb 25f\n",
            "movdqu ({src}), {xmm}\n",
            "movdqu {xmm}, ({dst})\n",
            "movdqu -16({src},{len}), {xmm}\n",
            "movdqu {xmm}, -16({dst},{len})\n",
            "cmpq $32, {len}\n",
            "jbe 24f\n",
            "22:\n",
            "addq $16, {src}\n",
            "addq $16, {dst}\n",
            "subq $16, {len}\n",
            "movdqu ({src}), {xmm}\n",
            "movdqu {xmm}, ({dst})\n",
            "cmpq $32, {len}\n",
            "ja 22b\n",
            "jmp 24f\n",
            "25:\n",
            "cmpq $8, {len}\n",
            "jb 23f\n",
            "movq ({src}), {tmp}\n",
            "movq {tmp}, ({dst})\n",
            "movq -8({src},{len}), {tmp}\n",
            "movq {tmp}, -8({dst},{len})\n",
            "jmp 24f\n",
            "23:\n",
            "testq {len}, {len}\n",
            "jz 24f\n",
            "26:\n",
            "movb ({src}), {tmp:l}\n",
            "movb {tmp:l}, ({dst})\n",
            "incq {src}\n",
            "incq {dst}\n",
            "decq {len}\n",
            "jnz 26b\n",
            "24:\n",
        )
    };
}

/// `delay[k]` iterations (the `u32` at byte `$off` of the [`Injection`]) of
/// a countdown loop in `{dly}` (a scratch register of the `INJECT`
/// instantiation only), inside the section.
macro_rules! cs_delay {
    ($off:literal) => {
        concat!(
            "movl ",
            $off,
            "({inj}), {dly:e}\n",
            "test {dly:e}, {dly:e}\n",
            "jz 7f\n",
            "8:\n",
            "dec {dly:e}\n",
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

/// A load of the word at `v` by an instruction that addresses it through
/// one base register (`mov ({v}), {r}`), never base + index: the head load
/// of a write whose section compares and commits that word through
/// `({v})` (the ring's head, a pool list's head).
///
/// Why: in a burst of writes on one CPU each write's head load reads what
/// the previous write's commit stored. On the benchmark machine's Intel
/// Xeon (AVX-512 FP16 and AMX: Golden Cove cores) a load addressed
/// through a base register alone receives a recent store's value early
/// (a chain of load, +1, store through memory: 0.4-0.9 ns an iteration),
/// a load with an index register does not (3-6.5 ns an iteration: run H
/// of `BENCHMARKS.md`; the counter's `add` found the same, see [`add`];
/// measured, not documented by the vendor). Left to itself LLVM folds
/// the buffer index into the head load (`mov (ring, i), head` after `imul
/// i, size`) and the commit then stores through the sum: the Rust ring
/// write measured 0.2-0.4 ns slower than the same instructions with the
/// head loaded through the sum (and than the inline C header, whose
/// compiler happened to compute the sum first). An `asm!` load takes
/// `v` in a register, which it must compute: the sum, the same register
/// the section's compare and commit use. As a relaxed atomic load: an
/// aligned 8-byte `mov` is single-copy atomic on x86-64.
///
/// # Safety
/// `v` is valid for an aligned 8-byte read (other threads may write it
/// concurrently, atomically).
#[inline(always)]
pub unsafe fn load_word_unindexed(v: *const usize) -> usize {
    let r: usize;
    // SAFETY: the caller's contract: one aligned 8-byte load, nothing
    // written, flags untouched.
    unsafe {
        asm!(
            "mov ({v}), {r}",
            v = in(reg) v,
            r = lateout(reg) r,
            options(att_syntax, nostack, preserves_flags, readonly),
        );
    }
    r
}

/// The offset of `index_field` in `area` (4 or 24): the sections address
/// the index field as `-4(cpu, mode)` from the `cpu_id` field, so that a
/// caller holding the `cpu_id` pointer and the mode needs no add.
#[inline(always)]
fn mode_of(area: *mut rseq_abi::Rseq, index_field: *const u32) -> usize {
    (index_field as usize).wrapping_sub(area as usize)
}

// The per-thread TLS words of `crate::cache` and `crate::spinlock`,
// initial-exec: `%fs`-relative accesses through their GOT offsets.

/// The thread-pointer offset of `rseq_percpu_cpu_id_cache` (`crate::cache`: constant: a GOT entry set before
/// any code runs, or a link-time constant in an executable).
#[inline(always)]
fn cache_offset() -> usize {
    let off: usize;
    // SAFETY: reads the GOT entry of an initial-exec TLS symbol defined
    // above; the entry never changes once the program runs (hence `pure,
    // nomem`: the compiler may hoist it out of any loop).
    unsafe {
        core::arch::asm!(
            "mov {off}, qword ptr [rip + rseq_percpu_cpu_id_cache@GOTTPOFF]",
            off = out(reg) off,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    off
}

/// The calling thread's cached `cpu_id` field (never null: the stand-in's
/// when nothing is cached). Not checked: the sections check `cpu_id >= 0`
/// themselves, and a thread without a usable area ends in the slow path.
#[inline(always)]
pub(crate) fn cpu_id_cache_load() -> *mut u32 {
    let p: *mut u32;
    // SAFETY: a load of this thread's TLS word (the fs segment is valid
    // whenever the component's code runs: see rseq_abi::arch).
    unsafe {
        core::arch::asm!(
            "mov {p}, qword ptr fs:[{off}]",
            p = out(reg) p,
            off = in(reg) cache_offset(),
            options(readonly, nostack, preserves_flags),
        );
    }
    p
}

/// Caches `p` (a `cpu_id` field of this thread's area, or the stand-in's).
#[inline(always)]
pub(crate) fn cpu_id_cache_store(p: *mut u32) {
    // SAFETY: a store to this thread's TLS word, which only holds a
    // pointer to a `cpu_id` field (this thread's area or the stand-in).
    unsafe {
        core::arch::asm!(
            "mov qword ptr fs:[{off}], {p}",
            p = in(reg) p,
            off = in(reg) cache_offset(),
            options(nostack, preserves_flags),
        );
    }
}

/// Adds `d` to this thread's lock nesting depth (`rseq_percpu_lock_depth`,
/// `crate::spinlock`) in one instruction; returns the new depth.
#[inline(always)]
pub(crate) fn lock_depth_add(d: u32) -> u32 {
    let v: u32;
    // SAFETY: reads the GOT entry of the initial-exec TLS symbol above,
    // then adds to and reads back this thread's own TLS word (fs is
    // valid whenever the component runs: see rseq_abi::arch).
    unsafe {
        core::arch::asm!(
            "mov {off}, qword ptr [rip + rseq_percpu_lock_depth@GOTTPOFF]",
            "add dword ptr fs:[{off}], {d:e}",
            "mov {v:e}, dword ptr fs:[{off}]",
            off = out(reg) _,
            d = in(reg) d,
            v = lateout(reg) v,
            options(nostack),
        );
    }
    v
}

/// One critical section, emitted with the injection points (`INJECT`,
/// stress builds: a delay loop after each of the first three lists of
/// template pieces, the forced trap after the third) or without them (every
/// other use: no injection operand, no test, no extra register). The lists:
/// the start (`@begin`), the area/index checks, the loads and
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
                dly = out(reg) _,
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
    /// Non-zero: the architecture's trap (`int3`, `brk #0`) at the last injection point, which forces the
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

/// The outcome of a section that encodes it in a pointer register
/// (`@end enc` in the template): 1 compare failed, 2 aborted, anything else (a valid
/// pointer, at least 8) done. One compare and branch on the committing
/// path, and no register zeroed before the section.
#[inline(always)]
pub fn enc_outcome(r: usize) -> Outcome {
    if r > 2 {
        Outcome::Done
    } else if r == 1 {
        Outcome::CompareFailed
    } else {
        Outcome::Aborted
    }
}

/// An area's `cpu_id` field: the register every section addresses the area
/// by (`cpu_id` at 0, `rseq_cs` at 4), so that the area check needs no
/// displacement.
#[inline(always)]
pub fn cpu_field(area: *mut rseq_abi::Rseq) -> *mut u32 {
    area.cast::<u8>().wrapping_add(4).cast()
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
    // SAFETY: the caller's contract; the sequence only touches `*v` and the
    // area, and emits its descriptor and tables as documented above.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
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
    if inc == 1 {
        // An increment by one (the test folds at compile time) has a
        // sequence of its own: on the Xeon of BENCHMARKS.md a loop
        // incrementing one slot with `addq $1, (reg)` ran at 0.6 ns an
        // increment, with `addq %reg, (reg)` (the same increment from a
        // register) at 1.9-5 ns, and with `addq $1, (base,index)` at
        // 3.5-4.5 ns: the next increment's load gets the previous one's
        // store sooner with an immediate and a one-register address
        // (measured; the vendor does not document it). Counters add one.
        // SAFETY: as load_cbne_store.
        unsafe {
            rseq_asm!(
                INJECT,
                inject,
                [
                    "leaq 6f(%rip), {tmp}\n",
                    "movq {tmp}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "cmpl $0, ({cpu})\n",
                    "js 4f\n",
                    "cmpl {index:e}, -4({cpu},{mode})\n",
                    "jnz 4f\n",
                ],
                [
                ],
                [
                    "addq $1, ({v})\n",
                    "3:\n",
                    ".pushsection __rseq_failure, \"ax\"\n",
                    cs_signature!(),
                    "4:\n",
                    "jmp {aborted}\n",
                    ".popsection\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".popsection\n",
                ],
                tmp = out(reg) _,
                cpu = in(reg) cpu_field(area),
                mode = in(reg) mode_of(area, index_field),
                index = in(reg) index,
                v = in(reg) v,
                aborted = label { return Outcome::Aborted },
                options(att_syntax, nostack),
            );
        }
        return Outcome::Done;
    }
    // SAFETY: as load_cbne_store.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
            ],
            [
                "addq {inc}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            inc = in(reg) inc,
            aborted = label { return Outcome::Aborted },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// The per-CPU slot add of [`crate::Slots`] (the counter's increment),
/// indexed inside the section, stride 64: reads the index `i` from the
/// field at `mode_offset` in the area whose `cpu_id` field `cpu` points at,
/// then adds `inc` to the word at `base + 64 * i` (the commit). Returns
/// `64 * i` (>= 0) when it committed, -1 when aborted, -2 when the
/// comparison failed (`cpu_id` < 0: an unregistered area or the stand-in
/// of a thread without one; or `64 * i >= limit`).
///
/// Lean by construction, as the inline C header's counter: one `imul`
/// loads and scales the index, the result register carries the outcome (no
/// register zeroed before, one sign test after), and the area is addressed
/// without displacement for the fused `cpu_id` test. The index is scaled
/// in 32 bits: exact for every index below 2^26 (kernel CPU numbers and
/// concurrency ids are far below), and whatever the value, the offset used
/// is below `limit`, so the add stays inside the slots.
///
/// # Safety
/// `cpu` points at the `cpu_id` field of the calling thread's area (a
/// registered one or a stand-in: see [`crate::thread_area`]) and
/// `cpu + mode_offset - 4` at its index field (`mode_offset` 4 or 24);
/// `base + o` is a valid word for every `o < limit` multiple of 64, written
/// only by restartable sequences committing on index `o / 64`.
#[inline(always)]
pub unsafe fn add_slot<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    inc: usize,
    inject: &Injection,
) -> isize {
    let off: isize;
    if inc == 1 {
        // By one: an immediate, the slot's address in one register (see
        // `add`).
        // SAFETY: the caller's contract.
        unsafe {
            rseq_asm!(
                INJECT,
                inject,
                [
                    "leaq 6f(%rip), {off}\n",
                    "movq {off}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "cmpl $0, ({cpu})\n",
                    "js 5f\n",
                    "imull $64, -4({cpu},{mode}), {off:e}\n",
                    "cmpl {limit:e}, {off:e}\n",
                    "jae 5f\n",
                ],
                [
                    "leaq ({base},{off}), {slot}\n",
                ],
                [
                    "addq $1, ({slot})\n",
                    "3:\n",
                    "9:\n",
                    ".pushsection __rseq_failure, \"ax\"\n",
                    cs_signature!(),
                    "4:\n",
                    "movq $-1, {off}\n",
                    "jmp 9b\n",
                    "5:\n",
                    "movq $-2, {off}\n",
                    "jmp 9b\n",
                    ".popsection\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                off = out(reg) off,
                slot = out(reg) _,
                cpu = in(reg) cpu,
                mode = in(reg) mode_offset,
                limit = in(reg) limit,
                base = in(reg) base,
                options(att_syntax, nostack),
            );
        }
        return off;
    }
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {off}\n",
                "movq {off}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "imull $64, -4({cpu},{mode}), {off:e}\n",
                "cmpl {limit:e}, {off:e}\n",
                "jae 5f\n",
            ],
            [
            ],
            [
                "addq {inc}, ({base},{off})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $-1, {off}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $-2, {off}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            off = out(reg) off,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            inc = in(reg) inc,
            options(att_syntax, nostack),
        );
    }
    off
}

/// [`add_slot`] for a caller that keeps `mode_offset` in a register across
/// many calls (a handle: [`crate::counter::CounterHandle`]): `cpu_id` mode
/// (offset 4) runs the section without its `cpu_id >= 0` test, which the
/// bound check already makes there (a negative `cpu_id` scales to an
/// offset of at least `2^32 - 128`, beyond any `limit`); `mm_cid` mode
/// keeps it (an unregistered area reads `mm_cid` 0). The branch on the
/// offset is loop-invariant for such a caller: the compiler takes it out
/// of the caller's loop, leaving each mode's section alone in it.
///
/// # Safety
/// As [`add_slot`], and `limit < 2^32 - 128`.
#[inline(always)]
pub unsafe fn add_slot_by_mode<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    inc: usize,
    inject: &Injection,
) -> isize {
    if mode_offset != 4 {
        // SAFETY: the caller's contract.
        return unsafe { add_slot::<INJECT>(cpu, mode_offset, base, limit, inc, inject) };
    }
    let off: isize;
    if inc == 1 {
        // SAFETY: the caller's contract; cpu_id mode (above).
        unsafe {
            rseq_asm!(
                INJECT,
                inject,
                [
                    "leaq 6f(%rip), {off}\n",
                    "movq {off}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "imull $64, -4({cpu},{mode}), {off:e}\n",
                    "cmpl {limit:e}, {off:e}\n",
                    "jae 5f\n",
                ],
                [
                    "leaq ({base},{off}), {slot}\n",
                ],
                [
                    "addq $1, ({slot})\n",
                    "3:\n",
                    "9:\n",
                    ".pushsection __rseq_failure, \"ax\"\n",
                    cs_signature!(),
                    "4:\n",
                    "movq $-1, {off}\n",
                    "jmp 9b\n",
                    "5:\n",
                    "movq $-2, {off}\n",
                    "jmp 9b\n",
                    ".popsection\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                off = out(reg) off,
                slot = out(reg) _,
                cpu = in(reg) cpu,
                mode = in(reg) mode_offset,
                limit = in(reg) limit,
                base = in(reg) base,
                options(att_syntax, nostack),
            );
        }
        return off;
    }
    // SAFETY: the caller's contract; cpu_id mode (above).
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {off}\n",
                "movq {off}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "imull $64, -4({cpu},{mode}), {off:e}\n",
                "cmpl {limit:e}, {off:e}\n",
                "jae 5f\n",
            ],
            [
            ],
            [
                "addq {inc}, ({base},{off})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $-1, {off}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $-2, {off}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            off = out(reg) off,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            inc = in(reg) inc,
            options(att_syntax, nostack),
        );
    }
    off
}



/// Load-add-store at an offset, indexed inside the section: reads the index
/// `i` from `index_field`, then adds `inc` to the word at
/// `base + i * stride` (`base` already includes the field's offset). An index
/// `>= slots` exits with [`Outcome::CompareFailed`]. Returns the index used
/// when `Done` (0 otherwise): stored to a local inside the section, since
/// an `asm!` with label blocks has no outputs.
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
    // Written by the section before it can commit (read only then).
    let mut index = core::mem::MaybeUninit::<u32>::uninit();
    let at = index.as_mut_ptr();
    if inc == 1 {
        // By one: an immediate, the slot's address in one register (see
        // `add`).
        // SAFETY: the caller's contract; `at` is a local.
        unsafe {
            rseq_asm!(
                INJECT,
                inject,
                [
                    "leaq 6f(%rip), {tmp}\n",
                    "movq {tmp}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "cmpl $0, ({cpu})\n",
                    "js 5f\n",
                    "movl -4({cpu},{mode}), {tmp:e}\n",
                    "cmpl {slots:e}, {tmp:e}\n",
                    "jae 5f\n",
                ],
                [
                    "movl {tmp:e}, ({at})\n",
                    "imulq {stride}, {tmp}\n",
                    "addq {base}, {tmp}\n",
                ],
                [
                    "addq $1, ({tmp})\n",
                    "3:\n",
                    ".pushsection __rseq_failure, \"ax\"\n",
                    cs_signature!(),
                    "4:\n",
                    "jmp {aborted}\n",
                    "5:\n",
                    "jmp {failed}\n",
                    ".popsection\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                tmp = out(reg) _,
                cpu = in(reg) cpu_field(area),
                mode = in(reg) mode_of(area, index_field),
                slots = in(reg) slots,
                stride = in(reg) stride,
                base = in(reg) base,
                at = in(reg) at,
                aborted = label { return (Outcome::Aborted, 0) },
                failed = label { return (Outcome::CompareFailed, 0) },
                options(att_syntax, nostack),
            );
        }
        // SAFETY: the committing path stored the index.
        return (Outcome::Done, unsafe { index.assume_init() });
    }
    // SAFETY: the caller's contract; `at` is a local.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "movl -4({cpu},{mode}), {tmp:e}\n",
                "cmpl {slots:e}, {tmp:e}\n",
                "jae 5f\n",
            ],
            [
                "movl {tmp:e}, ({at})\n",
                "imulq {stride}, {tmp}\n",
            ],
            [
                "addq {inc}, ({base},{tmp})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            at = in(reg) at,
            aborted = label { return (Outcome::Aborted, 0) },
            failed = label { return (Outcome::CompareFailed, 0) },
            options(att_syntax, nostack),
        );
    }
    // SAFETY: the committing path stored the index.
    (Outcome::Done, unsafe { index.assume_init() })
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
    // Written by the section before it can commit (read only then).
    let mut index = core::mem::MaybeUninit::<u32>::uninit();
    let at = index.as_mut_ptr();
    // SAFETY: the caller's contract; `at` is a local.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "movl -4({cpu},{mode}), {tmp:e}\n",
                "cmpl {slots:e}, {tmp:e}\n",
                "jae 5f\n",
            ],
            [
                "cmpq {expect}, ({guard})\n",
                "jnz 5f\n",
                "movl {tmp:e}, ({at})\n",
                "imulq {stride}, {tmp}\n",
            ],
            [
                "addq {inc}, ({base},{tmp})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            guard = in(reg) guard,
            expect = in(reg) expect,
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            at = in(reg) at,
            aborted = label { return (Outcome::Aborted, 0) },
            failed = label { return (Outcome::CompareFailed, 0) },
            options(att_syntax, nostack),
        );
    }
    // SAFETY: the committing path stored the index.
    (Outcome::Done, unsafe { index.assume_init() })
}



/// Compare-and-pop: on `index`, if the list head `*head` is not null, load
/// the node's next pointer (at `next_offset` in the node) and store it into
/// `*head` (the commit). Returns the popped node; an empty list gives
/// [`Outcome::CompareFailed`]. ABA-free: the load of the head, of its next
/// pointer and the store happen in one section. The node register carries
/// the outcome ([`enc_outcome`]): a node is an object's address, never 1
/// or 2 (page 0 is never mapped, so such a "node" faults at its next
/// pointer before any commit).
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
    // SAFETY: the caller's contract.
    let node =
        unsafe { load_cbeq_pop_raw::<INJECT>(area, index_field, index, head, next_offset, inject) };
    (enc_outcome(node), node)
}


/// [`load_cbeq_pop`] returning the register that encodes its outcome
/// ([`enc_outcome`]), for the fast paths: they branch on it directly.
///
/// # Safety
/// As [`load_cbeq_pop`].
#[inline(always)]
pub unsafe fn load_cbeq_pop_raw<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    head: *mut usize,
    next_offset: usize,
    inject: &Injection,
) -> usize {
    let node: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "movq ({head}), {node}\n",
                "testq {node}, {node}\n",
                "jz 5f\n",
                "movq {node}, {tmp}\n",
                "addq {next_offset}, {tmp}\n",
                "movq ({tmp}), {tmp}\n",
            ],
            [
                "movq {tmp}, ({head})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $2, {node}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $1, {node}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            node = out(reg) node,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            head = in(reg) head,
            next_offset = in(reg) next_offset,
            options(att_syntax, nostack),
        );
    }
    node
}


/// The pool's push: [`load_cbne_store`] that first leaves by the
/// compare-failed exit when the guard word 8 bytes after `*v` (the slot's
/// `aux`: the list is being reclaimed by another thread) is not zero. The
/// guard is loaded inside the section, after the index check: a remote
/// thread that sets it and then fences the CPU ([`crate::remote`]) owns the
/// list head afterwards.
///
/// # Safety
/// As [`load_cbne_store`]; `v` is followed by a readable word.
#[inline(always)]
pub unsafe fn pool_push<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    v: *mut usize,
    expect: usize,
    newv: usize,
    inject: &Injection,
) -> Outcome {
    // SAFETY: the caller's contract; the sequence only reads `v[0..2]`,
    // writes `*v` and the area, and emits its descriptor and tables as
    // documented above.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq $0, 8({v})\n",
                "jnz 5f\n",
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// The pool's pop: [`load_cbeq_pop_raw`] (next pointer at offset 0) that
/// first leaves by the compare-failed exit when the guard word 8 bytes after
/// `*head` is not zero (see [`pool_push`]).
///
/// # Safety
/// As [`load_cbeq_pop`]; `head` is followed by a readable word.
#[inline(always)]
pub unsafe fn pool_pop_raw<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index_field: *const u32,
    index: u32,
    head: *mut usize,
    inject: &Injection,
) -> usize {
    let node: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq $0, 8({head})\n",
                "jnz 5f\n",
                "movq ({head}), {node}\n",
                "testq {node}, {node}\n",
                "jz 5f\n",
                "movq ({node}), {tmp}\n",
            ],
            [
                "movq {tmp}, ({head})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $2, {node}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $1, {node}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            node = out(reg) node,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            head = in(reg) head,
            options(att_syntax, nostack),
        );
    }
    node
}


/// The pool's pop on the current index, read inside the section
/// ([`add_slot`]'s form): `cpu_id >= 0` (else compare failed: an
/// unregistered area, the stand-in), the index `i` from the field at
/// `mode_offset` scaled by 64 (`64 * i >= limit`: compare failed), the
/// slot at `base + 64 * i`; its guard word (8 bytes after the head: see
/// [`pool_push`]) not zero or an empty list: compare failed; else the head
/// = the node's first word (the commit). No index read before the section
/// and compared again in it; the slot addressed through one register.
/// Returns the encoded outcome ([`enc_outcome`]: the node when it popped
/// one).
///
/// # Safety
/// `cpu` and `mode_offset` as for [`add_slot`]; `base + o` is a list head
/// followed by its guard word for every `o < limit` multiple of 64, written
/// only by sequences committing on index `o / 64` (or by a reclaimer that
/// owns it by the guard protocol); every node on a list is readable and
/// holds its next pointer in its first word.
#[inline(always)]
pub unsafe fn pool_pop_current<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    inject: &Injection,
) -> usize {
    let node: usize;
    // SAFETY: the caller's contract; the sequence reads the area, the slot's
    // two words and the node's first word, writes the head and the area.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {slot}\n",
                "movq {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "imull $64, -4({cpu},{mode}), {slot:e}\n",
                "cmpl {limit:e}, {slot:e}\n",
                "jae 5f\n",
            ],
            [
                "addq {base}, {slot}\n",
                "cmpq $0, 8({slot})\n",
                "jnz 5f\n",
                "movq ({slot}), {node}\n",
                "testq {node}, {node}\n",
                "jz 5f\n",
                "movq ({node}), {next}\n",
            ],
            [
                "movq {next}, ({slot})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $2, {node}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $1, {node}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            slot = out(reg) _,
            node = out(reg) node,
            next = out(reg) _,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            options(att_syntax, nostack),
        );
    }
    node
}

/// The pool's push on the current index, with the list's depth kept inside
/// the section: the index as in [`pool_pop_current`] (compare failed
/// beyond `limit` or with the guard set); `head` = the slot's head, `depth`
/// = `head`'s second word (the list's length from it down; 0 for an empty
/// list); `depth >= max_depth`: compare failed (a full list); else `obj[0]
/// = head`, `obj[1] = depth + 1` (the caller's free object: redone after an
/// abort) and the head = `obj` (the commit). Read in the section, the head
/// needs no compare and the depth is exact (read before it, the head could
/// be popped and reused by a thread preempting this one).
///
/// # Safety
/// As [`pool_pop_current`]; `obj` is a free object of the pool (at least
/// 16 bytes, 8-aligned) on no list, and every node on a list holds the
/// list's length from it down in its second word.
#[inline(always)]
pub unsafe fn pool_push_current<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    max_depth: usize,
    obj: *mut u8,
    inject: &Injection,
) -> Outcome {
    // SAFETY: the caller's contract; the sequence reads the area, the slot's
    // two words and the head's second word, writes `obj[0..2]`, the head
    // and the area.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {slot}\n",
                "movq {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "imull $64, -4({cpu},{mode}), {slot:e}\n",
                "cmpl {limit:e}, {slot:e}\n",
                "jae 5f\n",
            ],
            [
                "addq {base}, {slot}\n",
                "cmpq $0, 8({slot})\n",
                "jnz 5f\n",
                "movq ({slot}), {head}\n",
                "xorl {depth:e}, {depth:e}\n",
                "testq {head}, {head}\n",
                "jz 21f\n",
                "movq 8({head}), {depth}\n",
                "21:\n",
                "cmpq {max}, {depth}\n",
                "jae 5f\n",
                "incq {depth}\n",
                "movq {head}, ({obj})\n",
                "movq {depth}, 8({obj})\n",
            ],
            [
                "movq {obj}, ({slot})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            slot = out(reg) _,
            head = out(reg) _,
            depth = out(reg) _,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            max = in(reg) max_depth,
            obj = in(reg) obj,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}

/// [`pool_pop_current`] for a caller that keeps `mode_offset` in a
/// register across calls (a [`crate::pool::PoolHandle`]): in `cpu_id`
/// mode without the in-section `cpu_id >= 0` test, which the bound check
/// makes (see [`add_slot_by_mode`]).
///
/// # Safety
/// As [`pool_pop_current`], and `limit < 2^32 - 128`.
#[inline(always)]
pub unsafe fn pool_pop_current_by_mode<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    inject: &Injection,
) -> usize {
    if mode_offset != 4 {
        // SAFETY: the caller's contract.
        return unsafe { pool_pop_current::<INJECT>(cpu, mode_offset, base, limit, inject) };
    }
    let node: usize;
    // SAFETY: the caller's contract; cpu_id mode (above).
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {slot}\n",
                "movq {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "imull $64, -4({cpu},{mode}), {slot:e}\n",
                "cmpl {limit:e}, {slot:e}\n",
                "jae 5f\n",
            ],
            [
                "addq {base}, {slot}\n",
                "cmpq $0, 8({slot})\n",
                "jnz 5f\n",
                "movq ({slot}), {node}\n",
                "testq {node}, {node}\n",
                "jz 5f\n",
                "movq ({node}), {next}\n",
            ],
            [
                "movq {next}, ({slot})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $2, {node}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $1, {node}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            slot = out(reg) _,
            node = out(reg) node,
            next = out(reg) _,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            options(att_syntax, nostack),
        );
    }
    node
}

/// [`pool_push_current`] for a caller that keeps `mode_offset` in a
/// register across calls (a [`crate::pool::PoolHandle`]): in `cpu_id`
/// mode without the in-section `cpu_id >= 0` test (see
/// [`add_slot_by_mode`]).
///
/// # Safety
/// As [`pool_push_current`], and `limit < 2^32 - 128`.
#[inline(always)]
pub unsafe fn pool_push_current_by_mode<const INJECT: bool>(
    cpu: *mut u32,
    mode_offset: usize,
    base: *mut u8,
    limit: u32,
    max_depth: usize,
    obj: *mut u8,
    inject: &Injection,
) -> Outcome {
    if mode_offset != 4 {
        // SAFETY: the caller's contract.
        return unsafe {
            pool_push_current::<INJECT>(cpu, mode_offset, base, limit, max_depth, obj, inject)
        };
    }
    // SAFETY: the caller's contract; cpu_id mode (above).
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {slot}\n",
                "movq {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "imull $64, -4({cpu},{mode}), {slot:e}\n",
                "cmpl {limit:e}, {slot:e}\n",
                "jae 5f\n",
            ],
            [
                "addq {base}, {slot}\n",
                "cmpq $0, 8({slot})\n",
                "jnz 5f\n",
                "movq ({slot}), {head}\n",
                "xorl {depth:e}, {depth:e}\n",
                "testq {head}, {head}\n",
                "jz 21f\n",
                "movq 8({head}), {depth}\n",
                "21:\n",
                "cmpq {max}, {depth}\n",
                "jae 5f\n",
                "incq {depth}\n",
                "movq {head}, ({obj})\n",
                "movq {depth}, 8({obj})\n",
            ],
            [
                "movq {obj}, ({slot})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            slot = out(reg) _,
            head = out(reg) _,
            depth = out(reg) _,
            cpu = in(reg) cpu,
            mode = in(reg) mode_offset,
            limit = in(reg) limit,
            base = in(reg) base,
            max = in(reg) max_depth,
            obj = in(reg) obj,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// The flush ring's write (`cpu_id` indexing only): on CPU `index`, load the
/// active packet from `*slot` *inside the section*, as an offset from `slot`
/// itself (0: no packet, compare failed; an offset rather than a pointer so
/// that a ring in shared memory works wherever each process maps it), its
/// record count `n` from the packet's first word (`n >= cap`:
/// compare failed), store the header `(n + 1) << 32 | len` into record `n`
/// (at `packet + 64 + 64 * n`) and copy `len` bytes from `src` after it
/// (see `cs_copy`), then store `n + 1` into the count (the commit).
/// The pointer is read inside the section so that a consumer that swaps it
/// and then fences the CPU ([`crate::remote::fence_cpu`]) owns the old
/// packet, count and records included. Returns the encoded outcome
/// ([`enc_outcome`]: the packet pointer when it committed).
///
/// # Safety
/// `area` is the calling thread's registered area; `*slot` is 0 or
/// `packet - slot` (wrapping) for a packet: a 64-byte header whose first word is the count, then `cap`
/// 64-byte records, records `>= count` unpublished; `len <= 56`; `src`
/// readable for `len` bytes; `*slot` and the counts of the packets it
/// names are written by sequences committing on `index` only, or by a
/// thread that owns them by the protocol above.
#[inline(always)]
pub unsafe fn packet_write_raw<const INJECT: bool>(
    area: *mut rseq_abi::Rseq,
    index: u32,
    slot: *const usize,
    cap: usize,
    src: *const u8,
    len: usize,
    inject: &Injection,
) -> usize {
    let pkt: usize;
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl {index:e}, ({cpu})\n",
                "jnz 4f\n",
            ],
            [
                "movq ({slot}), {pkt}\n",
                "testq {pkt}, {pkt}\n",
                "jz 5f\n",
                "addq {slot}, {pkt}\n",
                "movq ({pkt}), {off}\n",
                "cmpq {cap}, {off}\n",
                "jae 5f\n",
                "movq {off}, {dst}\n",
                "shlq $6, {dst}\n",
                "leaq 64({pkt},{dst}), {dst}\n",
                "leaq 1({off}), {tmp}\n",
                "shlq $32, {tmp}\n",
                "orq {len}, {tmp}\n",
                "movq {tmp}, ({dst})\n",
                "addq $8, {dst}\n",
                cs_copy!(),
                "incq {off}\n",
            ],
            [
                "movq {off}, ({pkt})\n",
                "3:\n",
                "9:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "movq $2, {pkt}\n",
                "jmp 9b\n",
                "5:\n",
                "movq $1, {pkt}\n",
                "jmp 9b\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            index = in(reg) index,
            slot = in(reg) slot,
            cap = in(reg) cap,
            pkt = out(reg) pkt,
            off = out(reg) _,
            dst = out(reg) _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            xmm = out(xmm_reg) _,
            options(att_syntax, nostack),
        );
    }
    pkt
}



/// Compare + try-store + store: on `index`, if `*v == expect`, store `newv2`
/// into `*v2` (may be redone after an abort), then `newv` into `*v` (the
/// commit). The two stores stay in order (x86-64's stores are ordered;
/// aarch64 commits with a release store).
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
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
                "movq {newv2}, ({v2})\n",
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            v2 = in(reg) v2,
            newv2 = in(reg) newv2,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// Compare + memcpy + store: on `index`, if `*v == expect`, copy `len` bytes
/// from `src` to `dst` (see `cs_copy`), then store `newv`
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
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
                cs_copy!(),
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            xmm = out(xmm_reg) _,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// Compare + store + memcpy + store: on `index`, if `*v == expect`, store
/// the word `first` at `dst`, copy `len` bytes from `src` to `dst + 8`
/// (see `cs_copy`), then store `newv` into `*v` (the commit
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
    // SAFETY: the caller's contract.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
                "movq {first}, ({dst})\n",
                "addq $8, {dst}\n",
                cs_copy!(),
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            first = in(reg) first,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            xmm = out(xmm_reg) _,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// [`load_cbne_store_memcpy_store`] for a `len` of 16 to 32 bytes (a ring
/// record's payload of that size): the payload is the first and the last
/// 16 bytes of `src` (unaligned, overlapping), with no branch on `len` and
/// no register modified but a scratch one and a vector one (the inline C
/// header's `copy16_32` write).
///
/// # Safety
/// As [`load_cbne_store_memcpy_store`], and `16 <= len <= 32`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn load_cbne_store_copy16_32_store<const INJECT: bool>(
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
    debug_assert!((16..=32).contains(&len));
    // SAFETY: the caller's contract: `src + len - 16 >= src` and
    // `dst + 8 + len <= dst + 8 + 32`, so the two 16-byte moves stay in
    // `[src, src + len)` and `[dst + 8, dst + 8 + len)`.
    unsafe {
        rseq_asm!(
            INJECT,
            inject,
            [
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "cmpl $0, ({cpu})\n",
                "js 4f\n",
                "cmpl {index:e}, -4({cpu},{mode})\n",
                "jnz 4f\n",
            ],
            [
                "cmpq {expect}, ({v})\n",
                "jnz 5f\n",
                "movq {first}, ({dst})\n",
                "movdqu ({src}), {xmm}\n",
                "movdqu {xmm}, 8({dst})\n",
                "movdqu -16({src},{len}), {xmm}\n",
                "movdqu {xmm}, -8({dst},{len})\n",
            ],
            [
                "movq {newv}, ({v})\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            mode = in(reg) mode_of(area, index_field),
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            first = in(reg) first,
            dst = in(reg) dst,
            src = in(reg) src,
            len = in(reg) len,
            xmm = out(xmm_reg) _,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}


/// Whether the `u32` at `v` equals the CPU the calling thread runs on,
/// observed inside one critical section: `cpu_id` and `*v` are read with no
/// preemption, migration or signal delivery between the two loads (the
/// kernel would abort the section), so `Done` proves that at the moment of
/// the load of `*v` this thread was running on CPU `*v`. The spin lock
/// (`crate::spinlock`) uses it to learn that the lock holder, which
/// published its CPU there, is not running. `CompareFailed`: different, or
/// the area is not registered (`cpu_id` < 0); `Aborted`: the kernel aborted
/// the section. Nothing is stored but the area's `rseq_cs`: the section has
/// no commit store, its end (`3:`) follows the comparison's branch.
///
/// # Safety
/// `area` is the calling thread's registered area (or the per-thread
/// cache's stand-in, whose `cpu_id` reads -1); `v` is valid for reads (it
/// may be written concurrently by other threads: a single aligned load).
#[inline(always)]
pub unsafe fn load_cbeq_cpu(area: *mut rseq_abi::Rseq, v: *const u32) -> Outcome {
    // SAFETY: the caller's contract; the section reads `*v` and the area,
    // writes only `rseq_cs`, and emits its descriptor and tables as
    // documented above.
    unsafe {
        asm!(
            concat!(
                "leaq 6f(%rip), {tmp}\n",
                "movq {tmp}, 4({cpu})\n",
                "2:\n",
                "cmpl $0, ({cpu})\n",
                "js 5f\n",
                "movl ({cpu}), {tmp:e}\n",
                "cmpl {tmp:e}, ({v})\n",
                "jnz 5f\n",
                "3:\n",
                ".pushsection __rseq_failure, \"ax\"\n",
                cs_signature!(),
                "4:\n",
                "jmp {aborted}\n",
                "5:\n",
                "jmp {failed}\n",
                ".popsection\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ),
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            v = in(reg) v,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(att_syntax, nostack),
        );
    }
    Outcome::Done
}

/// The instruction that reads the current CPU number without the rseq area,
/// when this CPU has one: `rdpid` (CPUID.7.0:ECX bit 22), which `rseq-libc
/// bench` compares with the area's `cpu_id`.
pub fn cpu_number_instruction() -> Option<&'static str> {
    // cpuid leaf 7 exists on every x86-64 CPU that runs Linux 4.18+; an
    // unsupported leaf returns zeros.
    let r = core::arch::x86_64::__cpuid_count(7, 0);
    if r.ecx & (1 << 22) != 0 {
        Some("rdpid")
    } else {
        None
    }
}

/// `rdpid`: the `TSC_AUX` value Linux sets to `node << 12 | cpu`; returns cpu.
///
/// # Safety
/// [`cpu_number_instruction`] returned `Some` (the CPU has `rdpid`).
#[inline(always)]
pub unsafe fn cpu_number_read() -> u32 {
    let v: u64;
    // SAFETY: the caller checked the instruction exists.
    unsafe {
        asm!("rdpid {}", out(reg) v, options(nomem, nostack, preserves_flags));
    }
    (v & 0xfff) as u32
}
