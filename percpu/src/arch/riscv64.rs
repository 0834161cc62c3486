// @generated from percpu/seq/riscv64.seq and percpu/seq/common.seq by scripts/gen-sequences.py: do not edit;
// edit the template and run `python3 scripts/gen-sequences.py`.
//! riscv64 restartable sequences (`asm!`), generated from
//! `percpu/seq/riscv64.seq`: the same functions, outcomes and section
//! layout as the x86-64 module (see its documentation and
//! `docs/sequences.md`), with these differences:
//!
//! - the descriptor's address is formed with `lla` (`auipc` + `addi`) and
//!   stored to `rseq_cs` (area + 8) through the `cpu_id` field pointer;
//! - the signature before every `abort_ip` is `.balign 4` + `.long
//!   0xf1401073` (`RSEQ_SIG`, `csrw mhartid, x0`, as the kernel selftests
//!   emit it: with compressed instructions code is only 2-aligned, the
//!   kernel reads the signature as one word), and the abort handler `4:`
//!   and the compare-failed exit `5:` are not in `__rseq_failure`: they
//!   follow the commit in `.text`, behind a `j 9f` the committing path
//!   takes, since conditional branches reach 4 KiB;
//! - RISC-V has no read-modify-write on memory outside the A extension's
//!   atomics: the adds load, add and store the slot, the store being the
//!   commit;
//! - stores are not ordered with each other (RVWMO): the sections that
//!   publish what they wrote before their commit (the store-store and the
//!   copies, the flush ring's write) put `fence rw, w` before it;
//! - no base + index addressing: the index field is addressed through its
//!   own pointer (`{field}`), and slots through a computed address;
//! - a `u32` operand's upper 32 bits are undefined in its register: the
//!   index compare is `subw` + `bnez`, the index loads `lwu`, and a `u32`
//!   bound is zero-extended (by the caller's `limit as usize` in the
//!   counter's and the pool's sections, by two shifts in [`add_indexed`]);
//! - no vector registers (rv64gc): the copies move words when the
//!   pointers allow it (8-aligned), else bytes; the `copy16_32` write
//!   loops over its 16-32 bytes (no branch-free form without them);
//! - the `INJECT` instantiation's delay loops count down with `addi` +
//!   `bnez`, and its forced abort is `ebreak` (a `SIGTRAP` delivered with
//!   the program counter on the `ebreak`, inside the section: the kernel
//!   aborts the section on delivery, so the handler returns to
//!   `abort_ip`).

use crate::Outcome;
use core::arch::asm;

// The template's fragments (percpu/seq/riscv64.seq), generated below as
// macros: `cs_signature!`, `cs_descriptor!` and `cs_copy!` (the in-section
// copy of `{len}` bytes from `{src}` to `{dst}`: 8-byte words while 8 or
// more remain when both are 8-aligned, then bytes; only `[src, src + len)`
// is read and `[dst, dst + len)` written).
macro_rules! cs_signature {
    () => {
        concat!(
            ".balign 4\n",
            ".long 0xf1401073\n",
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
            "or {tmp}, {src}, {dst}\n",
            "andi {tmp}, {tmp}, 7\n",
            "bnez {tmp}, 23f\n",
            "22:\n",
            "sltiu {tmp}, {len}, 8\n",
            "bnez {tmp}, 23f\n",
            "ld {tmp}, 0({src})\n",
            "sd {tmp}, 0({dst})\n",
            "addi {src}, {src}, 8\n",
            "addi {dst}, {dst}, 8\n",
            "addi {len}, {len}, -8\n",
            "j 22b\n",
            "23:\n",
            "beqz {len}, 24f\n",
            "26:\n",
            "lbu {tmp}, 0({src})\n",
            "sb {tmp}, 0({dst})\n",
            "addi {src}, {src}, 1\n",
            "addi {dst}, {dst}, 1\n",
            "addi {len}, {len}, -1\n",
            "bnez {len}, 26b\n",
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
            "lwu {dly}, ",
            $off,
            "({inj})\n",
            "beqz {dly}, 7f\n",
            "8:\n",
            "addi {dly}, {dly}, -1\n",
            "bnez {dly}, 8b\n",
            "7:\n",
        )
    };
}

/// The forced abort: `ebreak` (a `SIGTRAP` to this thread, delivered with
/// the program counter inside the section) when [`Injection::trap`] is set.
macro_rules! cs_trap {
    () => {
        concat!("lwu {dly}, 12({inj})\n", "beqz {dly}, 7f\n", "ebreak\n", "7:\n",)
    };
}

/// A load of the word at `v` through one base register (the head load of
/// the ring's write and the pool's free: see the x86-64 module), as a
/// relaxed atomic load: an aligned 8-byte `ld` is single-copy atomic.
///
/// # Safety
/// `v` is valid for an aligned 8-byte read (other threads may write it
/// concurrently, atomically).
#[inline(always)]
pub unsafe fn load_word_unindexed(v: *const usize) -> usize {
    let r: usize;
    // SAFETY: the caller's contract: one aligned 8-byte load, nothing
    // written.
    unsafe {
        asm!(
            "ld {r}, 0({v})",
            v = in(reg) v,
            r = lateout(reg) r,
            options(nostack, preserves_flags, readonly),
        );
    }
    r
}

// The per-thread TLS words of `crate::cache` and `crate::spinlock`,
// initial-exec: the thread pointer (`tp`) plus their GOT offsets.

/// The thread-pointer offset of the initial-exec TLS symbol `$sym`
/// (constant: a GOT entry set before any code runs, or a link-time
/// constant in an executable; hence `pure, nomem`).
macro_rules! tls_offset {
    ($sym:literal) => {{
        let off: usize;
        // SAFETY: reads the GOT entry of an initial-exec TLS symbol; the
        // entry never changes once the program runs.
        unsafe {
            asm!(
                concat!("la.tls.ie {off}, ", $sym),
                off = out(reg) off,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        off
    }};
}

/// The calling thread's cached `cpu_id` field (`crate::cache`).
#[inline(always)]
pub(crate) fn cpu_id_cache_load() -> *mut u32 {
    let p: *mut u32;
    let off = tls_offset!("rseq_percpu_cpu_id_cache");
    // SAFETY: a load of this thread's TLS word (tp is valid whenever the
    // component's code runs: see rseq_abi::arch).
    unsafe {
        asm!(
            "add {p}, {off}, tp",
            "ld {p}, 0({p})",
            p = out(reg) p,
            off = in(reg) off,
            options(readonly, nostack, preserves_flags),
        );
    }
    p
}

/// Caches `p` (a `cpu_id` field of this thread's area, or the stand-in's).
#[inline(always)]
pub(crate) fn cpu_id_cache_store(p: *mut u32) {
    let off = tls_offset!("rseq_percpu_cpu_id_cache");
    // SAFETY: a store to this thread's TLS word, which only holds a
    // pointer to a `cpu_id` field (this thread's area or the stand-in).
    unsafe {
        asm!(
            "add {at}, {off}, tp",
            "sd {p}, 0({at})",
            at = out(reg) _,
            p = in(reg) p,
            off = in(reg) off,
            options(nostack, preserves_flags),
        );
    }
}

/// Adds `d` to this thread's lock nesting depth (`rseq_percpu_lock_depth`,
/// `crate::spinlock`); returns the new depth. A load, an add and a store:
/// a signal handler that runs in between takes and releases its locks
/// (its adds cancel out), so the store that follows is still exact.
#[inline(always)]
pub(crate) fn lock_depth_add(d: u32) -> u32 {
    let v: u32;
    let off = tls_offset!("rseq_percpu_lock_depth");
    // SAFETY: this thread's own TLS word, read and written by this thread
    // only (and its signal handlers, as above).
    unsafe {
        asm!(
            "add {at}, {off}, tp",
            "lw {v}, 0({at})",
            "addw {v}, {v}, {d}",
            "sw {v}, 0({at})",
            at = out(reg) _,
            off = in(reg) off,
            d = in(reg) d,
            v = out(reg) v,
            options(nostack, preserves_flags),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                    "lla {tmp}, 6f\n",
                    "sd {tmp}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "lw {tmp}, 0({cpu})\n",
                    "bltz {tmp}, 4f\n",
                    "lw {tmp}, 0({field})\n",
                    "subw {tmp}, {tmp}, {index}\n",
                    "bnez {tmp}, 4f\n",
                ],
                [
                    "ld {val}, 0({v})\n",
                    "add {val}, {val}, 1\n",
                ],
                [
                    "sd {val}, 0({v})\n",
                    "3:\n",
                    "j 9f\n",
                    cs_signature!(),
                    "4:\n",
                    "j {aborted}\n",
                    "9:\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".popsection\n",
                ],
                tmp = out(reg) _,
                val = out(reg) _,
                cpu = in(reg) cpu_field(area),
                field = in(reg) index_field,
                index = in(reg) index,
                v = in(reg) v,
                aborted = label { return Outcome::Aborted },
                options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {val}, 0({v})\n",
                "add {val}, {val}, {inc}\n",
            ],
            [
                "sd {val}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            inc = in(reg) inc,
            aborted = label { return Outcome::Aborted },
            options(nostack),
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
                    "lla {off}, 6f\n",
                    "sd {off}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "lw {off}, 0({cpu})\n",
                    "bltz {off}, 5f\n",
                    "lwu {off}, 0({field})\n",
                    "slli {off}, {off}, 6\n",
                    "bgeu {off}, {limit}, 5f\n",
                ],
                [
                    "add {slot}, {base}, {off}\n",
                    "ld {val}, 0({slot})\n",
                    "add {val}, {val}, 1\n",
                ],
                [
                    "sd {val}, 0({slot})\n",
                    "3:\n",
                    "j 9f\n",
                    cs_signature!(),
                    "4:\n",
                    "li {off}, -1\n",
                    "j 9f\n",
                    "5:\n",
                    "li {off}, -2\n",
                    "9:\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                off = out(reg) off,
                slot = out(reg) _,
                val = out(reg) _,
                cpu = in(reg) cpu,
                field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
                limit = in(reg) limit as usize,
                base = in(reg) base,
                options(nostack),
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
                "lla {off}, 6f\n",
                "sd {off}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {off}, 0({cpu})\n",
                "bltz {off}, 5f\n",
                "lwu {off}, 0({field})\n",
                "slli {off}, {off}, 6\n",
                "bgeu {off}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {base}, {off}\n",
                "ld {val}, 0({slot})\n",
                "add {val}, {val}, {inc}\n",
            ],
            [
                "sd {val}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {off}, -1\n",
                "j 9f\n",
                "5:\n",
                "li {off}, -2\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            off = out(reg) off,
            slot = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu,
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            inc = in(reg) inc,
            options(nostack),
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
                    "lla {off}, 6f\n",
                    "sd {off}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "lwu {off}, 0({field})\n",
                    "slli {off}, {off}, 6\n",
                    "bgeu {off}, {limit}, 5f\n",
                ],
                [
                    "add {slot}, {base}, {off}\n",
                    "ld {val}, 0({slot})\n",
                    "add {val}, {val}, 1\n",
                ],
                [
                    "sd {val}, 0({slot})\n",
                    "3:\n",
                    "j 9f\n",
                    cs_signature!(),
                    "4:\n",
                    "li {off}, -1\n",
                    "j 9f\n",
                    "5:\n",
                    "li {off}, -2\n",
                    "9:\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                off = out(reg) off,
                slot = out(reg) _,
                val = out(reg) _,
                cpu = in(reg) cpu,
                field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
                limit = in(reg) limit as usize,
                base = in(reg) base,
                options(nostack),
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
                "lla {off}, 6f\n",
                "sd {off}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lwu {off}, 0({field})\n",
                "slli {off}, {off}, 6\n",
                "bgeu {off}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {base}, {off}\n",
                "ld {val}, 0({slot})\n",
                "add {val}, {val}, {inc}\n",
            ],
            [
                "sd {val}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {off}, -1\n",
                "j 9f\n",
                "5:\n",
                "li {off}, -2\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            off = out(reg) off,
            slot = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu,
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            inc = in(reg) inc,
            options(nostack),
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
                    "lla {tmp}, 6f\n",
                    "sd {tmp}, 4({cpu})\n",
                    "2:\n",
                ],
                [
                    "lw {tmp}, 0({cpu})\n",
                    "bltz {tmp}, 5f\n",
                    "lwu {tmp}, 0({field})\n",
                    "slli {val}, {slots}, 32\n",
                    "srli {val}, {val}, 32\n",
                    "bgeu {tmp}, {val}, 5f\n",
                ],
                [
                    "sw {tmp}, 0({at})\n",
                    "mul {tmp}, {tmp}, {stride}\n",
                    "add {tmp}, {tmp}, {base}\n",
                    "ld {val}, 0({tmp})\n",
                    "add {val}, {val}, 1\n",
                ],
                [
                    "sd {val}, 0({tmp})\n",
                    "3:\n",
                    "j 9f\n",
                    cs_signature!(),
                    "4:\n",
                    "j {aborted}\n",
                    "5:\n",
                    "j {failed}\n",
                    "9:\n",
                    cs_descriptor!(),
                    ".pushsection __rseq_exit_point_array, \"awR\"\n",
                    ".quad 2b, 3b\n",
                    ".quad 2b, 5b\n",
                    ".popsection\n",
                ],
                tmp = out(reg) _,
                val = out(reg) _,
                cpu = in(reg) cpu_field(area),
                field = in(reg) index_field,
                slots = in(reg) slots,
                stride = in(reg) stride,
                base = in(reg) base,
                at = in(reg) at,
                aborted = label { return (Outcome::Aborted, 0) },
                failed = label { return (Outcome::CompareFailed, 0) },
                options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 5f\n",
                "lwu {tmp}, 0({field})\n",
                "slli {val}, {slots}, 32\n",
                "srli {val}, {val}, 32\n",
                "bgeu {tmp}, {val}, 5f\n",
            ],
            [
                "sw {tmp}, 0({at})\n",
                "mul {tmp}, {tmp}, {stride}\n",
                "add {tmp}, {tmp}, {base}\n",
                "ld {val}, 0({tmp})\n",
                "add {val}, {val}, {inc}\n",
            ],
            [
                "sd {val}, 0({tmp})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            at = in(reg) at,
            aborted = label { return (Outcome::Aborted, 0) },
            failed = label { return (Outcome::CompareFailed, 0) },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 5f\n",
                "lwu {tmp}, 0({field})\n",
                "slli {val}, {slots}, 32\n",
                "srli {val}, {val}, 32\n",
                "bgeu {tmp}, {val}, 5f\n",
            ],
            [
                "ld {val}, 0({guard})\n",
                "bne {val}, {expect}, 5f\n",
                "sw {tmp}, 0({at})\n",
                "mul {tmp}, {tmp}, {stride}\n",
                "add {tmp}, {tmp}, {base}\n",
                "ld {val}, 0({tmp})\n",
                "add {val}, {val}, {inc}\n",
            ],
            [
                "sd {val}, 0({tmp})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            guard = in(reg) guard,
            expect = in(reg) expect,
            slots = in(reg) slots,
            stride = in(reg) stride,
            base = in(reg) base,
            inc = in(reg) inc,
            at = in(reg) at,
            aborted = label { return (Outcome::Aborted, 0) },
            failed = label { return (Outcome::CompareFailed, 0) },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {node}, 0({head})\n",
                "beqz {node}, 5f\n",
                "add {tmp}, {node}, {next_offset}\n",
                "ld {tmp}, 0({tmp})\n",
            ],
            [
                "sd {tmp}, 0({head})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {node}, 2\n",
                "j 9f\n",
                "5:\n",
                "li {node}, 1\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            node = out(reg) node,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            head = in(reg) head,
            next_offset = in(reg) next_offset,
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 8({v})\n",
                "bnez {tmp}, 5f\n",
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 8({head})\n",
                "bnez {tmp}, 5f\n",
                "ld {node}, 0({head})\n",
                "beqz {node}, 5f\n",
                "ld {tmp}, 0({node})\n",
            ],
            [
                "sd {tmp}, 0({head})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {node}, 2\n",
                "j 9f\n",
                "5:\n",
                "li {node}, 1\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            node = out(reg) node,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            head = in(reg) head,
            options(nostack),
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
                "lla {slot}, 6f\n",
                "sd {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {slot}, 0({cpu})\n",
                "bltz {slot}, 5f\n",
                "lwu {slot}, 0({field})\n",
                "slli {slot}, {slot}, 6\n",
                "bgeu {slot}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {slot}, {base}\n",
                "ld {next}, 8({slot})\n",
                "bnez {next}, 5f\n",
                "ld {node}, 0({slot})\n",
                "beqz {node}, 5f\n",
                "ld {next}, 0({node})\n",
            ],
            [
                "sd {next}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {node}, 2\n",
                "j 9f\n",
                "5:\n",
                "li {node}, 1\n",
                "9:\n",
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
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            options(nostack),
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
                "lla {slot}, 6f\n",
                "sd {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {slot}, 0({cpu})\n",
                "bltz {slot}, 5f\n",
                "lwu {slot}, 0({field})\n",
                "slli {slot}, {slot}, 6\n",
                "bgeu {slot}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {slot}, {base}\n",
                "ld {head}, 8({slot})\n",
                "bnez {head}, 5f\n",
                "ld {head}, 0({slot})\n",
                "mv {depth}, zero\n",
                "beqz {head}, 21f\n",
                "ld {depth}, 8({head})\n",
                "21:\n",
                "bgeu {depth}, {max}, 5f\n",
                "addi {depth}, {depth}, 1\n",
                "sd {head}, 0({obj})\n",
                "sd {depth}, 8({obj})\n",
            ],
            [
                "sd {obj}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
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
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            max = in(reg) max_depth,
            obj = in(reg) obj,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {slot}, 6f\n",
                "sd {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lwu {slot}, 0({field})\n",
                "slli {slot}, {slot}, 6\n",
                "bgeu {slot}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {slot}, {base}\n",
                "ld {next}, 8({slot})\n",
                "bnez {next}, 5f\n",
                "ld {node}, 0({slot})\n",
                "beqz {node}, 5f\n",
                "ld {next}, 0({node})\n",
            ],
            [
                "sd {next}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {node}, 2\n",
                "j 9f\n",
                "5:\n",
                "li {node}, 1\n",
                "9:\n",
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
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            options(nostack),
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
                "lla {slot}, 6f\n",
                "sd {slot}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lwu {slot}, 0({field})\n",
                "slli {slot}, {slot}, 6\n",
                "bgeu {slot}, {limit}, 5f\n",
            ],
            [
                "add {slot}, {slot}, {base}\n",
                "ld {head}, 8({slot})\n",
                "bnez {head}, 5f\n",
                "ld {head}, 0({slot})\n",
                "mv {depth}, zero\n",
                "beqz {head}, 21f\n",
                "ld {depth}, 8({head})\n",
                "21:\n",
                "bgeu {depth}, {max}, 5f\n",
                "addi {depth}, {depth}, 1\n",
                "sd {head}, 0({obj})\n",
                "sd {depth}, 8({obj})\n",
            ],
            [
                "sd {obj}, 0({slot})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
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
            field = in(reg) cpu.cast::<u8>().wrapping_add(mode_offset).wrapping_sub(4),
            limit = in(reg) limit as usize,
            base = in(reg) base,
            max = in(reg) max_depth,
            obj = in(reg) obj,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {pkt}, 0({slot})\n",
                "beqz {pkt}, 5f\n",
                "add {pkt}, {pkt}, {slot}\n",
                "ld {off}, 0({pkt})\n",
                "bgeu {off}, {cap}, 5f\n",
                "slli {dst}, {off}, 6\n",
                "add {dst}, {dst}, {pkt}\n",
                "addi {dst}, {dst}, 64\n",
                "addi {tmp}, {off}, 1\n",
                "slli {tmp}, {tmp}, 32\n",
                "or {tmp}, {tmp}, {len}\n",
                "sd {tmp}, 0({dst})\n",
                "addi {dst}, {dst}, 8\n",
                cs_copy!(),
                "addi {off}, {off}, 1\n",
                "fence rw, w\n",
            ],
            [
                "sd {off}, 0({pkt})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "li {pkt}, 2\n",
                "j 9f\n",
                "5:\n",
                "li {pkt}, 1\n",
                "9:\n",
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
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
                "sd {newv2}, 0({v2})\n",
                "fence rw, w\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            v2 = in(reg) v2,
            newv2 = in(reg) newv2,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
                cs_copy!(),
                "fence rw, w\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
                "sd {first}, 0({dst})\n",
                "addi {dst}, {dst}, 8\n",
                cs_copy!(),
                "fence rw, w\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            first = in(reg) first,
            dst = inout(reg) dst => _,
            src = inout(reg) src => _,
            len = inout(reg) len => _,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
            ],
            [
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 4f\n",
                "lw {tmp}, 0({field})\n",
                "subw {tmp}, {tmp}, {index}\n",
                "bnez {tmp}, 4f\n",
            ],
            [
                "ld {tmp}, 0({v})\n",
                "bne {tmp}, {expect}, 5f\n",
                "sd {first}, 0({dst})\n",
                "or {tmp}, {src}, {len}\n",
                "andi {tmp}, {tmp}, 7\n",
                "mv {idx}, zero\n",
                "bnez {tmp}, 28f\n",
                "27:\n",
                "add {tmp}, {src}, {idx}\n",
                "ld {val}, 0({tmp})\n",
                "add {tmp}, {dst}, {idx}\n",
                "sd {val}, 8({tmp})\n",
                "addi {idx}, {idx}, 8\n",
                "bltu {idx}, {len}, 27b\n",
                "j 29f\n",
                "28:\n",
                "add {tmp}, {src}, {idx}\n",
                "lbu {val}, 0({tmp})\n",
                "add {tmp}, {dst}, {idx}\n",
                "sb {val}, 8({tmp})\n",
                "addi {idx}, {idx}, 1\n",
                "bltu {idx}, {len}, 28b\n",
                "29:\n",
                "fence rw, w\n",
            ],
            [
                "sd {newv}, 0({v})\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ],
            tmp = out(reg) _,
            val = out(reg) _,
            idx = out(reg) _,
            cpu = in(reg) cpu_field(area),
            field = in(reg) index_field,
            index = in(reg) index,
            v = in(reg) v,
            expect = in(reg) expect,
            first = in(reg) first,
            dst = in(reg) dst,
            src = in(reg) src,
            len = in(reg) len,
            newv = in(reg) newv,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
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
                "lla {tmp}, 6f\n",
                "sd {tmp}, 4({cpu})\n",
                "2:\n",
                "lw {tmp}, 0({cpu})\n",
                "bltz {tmp}, 5f\n",
                "lw {val}, 0({v})\n",
                "bne {tmp}, {val}, 5f\n",
                "3:\n",
                "j 9f\n",
                cs_signature!(),
                "4:\n",
                "j {aborted}\n",
                "5:\n",
                "j {failed}\n",
                "9:\n",
                cs_descriptor!(),
                ".pushsection __rseq_exit_point_array, \"awR\"\n",
                ".quad 2b, 3b\n",
                ".quad 2b, 5b\n",
                ".popsection\n",
            ),
            tmp = out(reg) _,
            val = out(reg) _,
            cpu = in(reg) cpu_field(area),
            v = in(reg) v,
            aborted = label { return Outcome::Aborted },
            failed = label { return Outcome::CompareFailed },
            options(nostack),
        );
    }
    Outcome::Done
}
