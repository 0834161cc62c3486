//! `rseq-libc bench --with-c BENCH_INLINE [--rounds R]`: the per-CPU
//! operations from Rust (rseq-percpu, inlined into the loop), from inline
//! C (`<rseq-percpu-inline.h>`) and through the C calls (`<rseq-percpu.h>`),
//! each beside a floor of the same run, in one table.
//!
//! The C rows come from `tests/percpu/bench_inline.c` (built by
//! `tests/percpu/bench_inline.sh`, which runs this), one round per
//! subprocess: every round runs the Rust loops here, then one round of
//! the C program (its rows and its floors, `raw` output), pinned to the
//! same CPU; rounds interleaved, best of R for every row. The component
//! cannot be linked into this (std) program, hence the subprocess.
//!
//! Floors (no rseq, not safe against preemption: lower bounds for the data
//! path), the same loops as bench_inline.c's: the thread's `cpu_id` loaded
//! from its area, then an add to that CPU's slot (counter), a pop and a
//! push on that CPU's list (pool), a header + 24-byte copy and a head store
//! into that CPU's buffer (ring).

use rseq_percpu::counter::Counter;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::PerCpuRing;
use rseq_percpu::IndexMode;
use std::collections::HashMap;
use std::process::Command;
use std::ptr::{read_volatile, write_volatile};
use std::sync::atomic::{compiler_fence, AtomicUsize, Ordering};
use std::time::Instant;

const COUNTER_ITERS: u64 = 20_000_000;
const OTHER_ITERS: u64 = 5_000_000;
/// Ring writes timed per batch (half a buffer), as bench_inline.c.
const BATCH: u64 = 128;

type Ring = PerCpuRing<64, 256>;

/// Keeps `p` opaque to the optimizer without storing it anywhere: an empty
/// `asm!` that takes it in a register and may read memory, as
/// bench_inline.c's `__asm__ volatile ("" : : "r" (o) : "memory")`.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn opaque<T>(p: *mut T) {
    // SAFETY: an empty asm statement.
    unsafe { core::arch::asm!("/* {0} */", in(reg) p, options(nostack, preserves_flags)) }
}

fn per_op(n: u64, t: Instant) -> f64 {
    t.elapsed().as_nanos() as f64 / n as f64
}

#[inline(never)]
fn counter_rust(c: &Counter<256>, n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        c.inc();
    }
    per_op(n, t)
}

#[inline(never)]
#[allow(unsafe_code)]
fn counter_floor(cpu: *const u32, slots: *mut u64, n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: cpu is this thread's cpu_id field; the index is below 256
        // and slots has 256 * 8 words, this benchmark's alone.
        unsafe {
            let p = slots.add((read_volatile(cpu) & 255) as usize * 8);
            write_volatile(p, read_volatile(p).wrapping_add(1));
        }
    }
    per_op(n, t)
}

#[inline(never)]
#[allow(unsafe_code)]
fn pool_rust(p: &Pool<256>, n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        if let Some(o) = p.alloc() {
            opaque(o.as_ptr());
            // SAFETY: just allocated from this pool, not used after.
            unsafe { p.free(o) };
        }
    }
    per_op(n, t)
}

#[inline(never)]
#[allow(unsafe_code)]
fn pool_floor(cpu: *const u32, heads: *mut usize, n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: heads has 256 * 8 words; the list holds this benchmark's
        // objects (each one's first word its next pointer), one thread.
        unsafe {
            let h = heads.add((read_volatile(cpu) & 255) as usize * 8);
            let o = read_volatile(h) as *mut usize;
            if !o.is_null() {
                write_volatile(h, read_volatile(o));
                opaque(o);
                let h = heads.add((read_volatile(cpu) & 255) as usize * 8);
                write_volatile(o, read_volatile(h));
                write_volatile(h, o as usize);
            }
        }
    }
    per_op(n, t)
}

#[inline(never)]
fn ring_rust(r: &Ring, payload: &[u8; 24], n: u64) -> f64 {
    let (mut done, mut timed) = (0u64, 0u128);
    while done < n {
        let t = Instant::now();
        for _ in 0..BATCH {
            let _ = r.write(payload);
        }
        timed += t.elapsed().as_nanos();
        r.consume(|_, _| {});
        done += BATCH;
    }
    timed as f64 / done as f64
}

/// The floor's buffer: bench_inline.c's `struct floor_buf` (the library's
/// shape: head, tail, 256 64-byte records).
#[repr(C, align(64))]
struct FloorBuf {
    head: usize,
    _pad0: [usize; 7],
    tail: AtomicUsize,
    _pad1: [usize; 7],
    rec: [[u64; 8]; 256],
}

#[inline(never)]
#[allow(unsafe_code)]
fn ring_floor(cpu: *const u32, bufs: *mut FloorBuf, payload: &[u8; 24], n: u64) -> f64 {
    let (mut done, mut timed) = (0u64, 0u128);
    while done < n {
        let t = Instant::now();
        for _ in 0..BATCH {
            // SAFETY: bufs has 64 buffers, this benchmark's alone; the
            // record index is below 256 and the copy fits after the header.
            unsafe {
                let b = bufs.add((read_volatile(cpu) & 63) as usize);
                let head = read_volatile(core::ptr::addr_of!((*b).head));
                if head.wrapping_sub((*b).tail.load(Ordering::Acquire)) < 256 {
                    let r = core::ptr::addr_of_mut!((*b).rec[head % 256]).cast::<u64>();
                    r.write(((head as u64 + 1) << 32) | payload.len() as u64);
                    core::ptr::copy_nonoverlapping(
                        payload.as_ptr(),
                        r.add(1).cast::<u8>(),
                        payload.len(),
                    );
                    compiler_fence(Ordering::SeqCst);
                    write_volatile(core::ptr::addr_of_mut!((*b).head), head + 1);
                }
            }
        }
        timed += t.elapsed().as_nanos();
        for c in 0..64 {
            // SAFETY: as above; no write in flight.
            unsafe {
                let b = bufs.add(c);
                (*b).tail.store((*b).head, Ordering::Relaxed);
            }
        }
        done += BATCH;
    }
    timed as f64 / done as f64
}

/// Zeroed heap memory for a `T` whose all-zero bytes are valid (leaked).
#[allow(unsafe_code)]
fn zeroed<T>() -> *mut T {
    let layout = std::alloc::Layout::new::<T>();
    // SAFETY: a non-zero-size layout.
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    assert!(!p.is_null(), "out of memory");
    p
}

/// One round of the C program: its `raw` lines `name ns`.
fn c_round(bin: &str) -> Result<HashMap<String, f64>, String> {
    let out = Command::new(bin)
        .args([
            "1",
            &COUNTER_ITERS.to_string(),
            &OTHER_ITERS.to_string(),
            "raw",
        ])
        .output()
        .map_err(|e| format!("{bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{bin} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let mut m = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut w = line.split_whitespace();
        if let (Some(k), Some(v), None) = (w.next(), w.next(), w.next()) {
            if let Ok(v) = v.parse::<f64>() {
                m.insert(k.to_string(), v);
            }
        }
    }
    Ok(m)
}

/// The side-by-side table; 0 on success.
#[allow(unsafe_code)]
pub fn run(bench_inline: &str, rounds: usize) -> i32 {
    let Some(cpu) = rseq_percpu::current_index(IndexMode::CpuId) else {
        eprintln!("rseq-libc bench: this thread has no rseq area: nothing to measure");
        return 1;
    };
    // Pinned, as bench_inline pins itself: its subprocesses inherit it.
    if rseq_percpu::pin_to_cpu(cpu as usize) != 0 {
        eprintln!("rseq-libc bench: cannot pin to CPU {cpu}");
        return 1;
    }
    let field = rseq_percpu::thread_area(IndexMode::CpuId)
        .map(|(_, f)| f)
        .expect("registered: checked above");

    let counter: &'static Counter<256> = Box::leak(Box::new(Counter::new(IndexMode::CpuId)));
    let floor_slots: *mut u64 = Vec::leak(vec![0u64; 256 * 8]).as_mut_ptr();
    let pool: &'static Pool<256> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 256)));
    let storage: &'static mut [u64] = Vec::leak(vec![0u64; 4096 * 8]);
    // SAFETY: a leaked, 8-aligned buffer viewed as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), 4096 * 64) };
    let _ = pool.add_storage(bytes);
    if let Some(o) = pool.alloc() {
        // Warm the per-CPU list. SAFETY: just allocated, not used after.
        unsafe { pool.free(o) };
    }
    let floor_heads: *mut usize = Vec::leak(vec![0usize; 256 * 8]).as_mut_ptr();
    let floor_objects: *mut u64 = Vec::leak(vec![0u64; 16 * 8]).as_mut_ptr();
    for k in 0..16 {
        // SAFETY: 16 objects of 8 words on the floor's list of this CPU.
        unsafe {
            let o = floor_objects.add(k * 8).cast::<usize>();
            let h = floor_heads.add((cpu & 255) as usize * 8);
            *o = *h;
            *h = o as usize;
        }
    }
    let ring_mem = zeroed::<Ring>();
    // SAFETY: zeroed memory for a ring, initialized here and leaked.
    let ring: &'static Ring = unsafe {
        Ring::init_in_place(ring_mem, IndexMode::CpuId);
        &*ring_mem
    };
    let floor_bufs = zeroed::<[FloorBuf; 64]>().cast::<FloorBuf>();
    let payload = [0x5au8; 24];

    const NAMES: [&str; 6] = [
        "counter_rust",
        "counter_floor_rust",
        "pool_rust",
        "pool_floor_rust",
        "ring_rust",
        "ring_floor_rust",
    ];
    let mut best: HashMap<String, f64> = HashMap::new();
    let mut keep = |k: &str, v: f64| {
        let b = best.entry(k.to_string()).or_insert(f64::MAX);
        *b = b.min(v);
    };
    for _ in 0..rounds {
        let t = [
            counter_rust(counter, COUNTER_ITERS),
            counter_floor(field, floor_slots, COUNTER_ITERS),
            pool_rust(pool, OTHER_ITERS),
            pool_floor(field, floor_heads, OTHER_ITERS),
            ring_rust(ring, &payload, OTHER_ITERS),
            ring_floor(field, floor_bufs, &payload, OTHER_ITERS),
        ];
        for (k, v) in NAMES.iter().zip(t) {
            keep(k, v);
        }
        match c_round(bench_inline) {
            Ok(m) => m.iter().for_each(|(k, v)| keep(k, *v)),
            Err(e) => {
                eprintln!("rseq-libc bench: {e}");
                return 1;
            }
        }
    }
    let exact = counter.read() == rounds as u64 * COUNTER_ITERS;

    println!(
        "rseq-libc bench --with-c: {rounds} rounds interleaved (Rust loops, then one round of \
         {bench_inline}), best of each; counter {COUNTER_ITERS} ops, pool/ring {OTHER_ITERS} ops; \
         pinned to CPU {cpu}"
    );
    println!(
        "| operation | Rust (inlined) | C inline | C call | floor: Rust loop | floor: C loop \
         | Rust / floor | C inline / floor | C call / floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let get = |k: &str| best.get(k).copied();
    let ops = [
        ("counter increment", "counter"),
        ("pool alloc + free, 64 B", "pool"),
        ("ring write, 32-byte record", "ring"),
    ];
    let mut missing = false;
    for (op, key) in ops {
        let v = ["rust", "c_inline", "c_call", "floor_rust", "floor_c"]
            .map(|row| get(&format!("{key}_{row}")));
        let [Some(rust), Some(inline), Some(call), Some(fr), Some(fc)] = v else {
            missing = true;
            continue;
        };
        // The stricter floor: the faster of the two loops.
        let floor = fr.min(fc);
        println!(
            "| {op} | {rust:.2} ns | {inline:.2} ns | {call:.2} ns | {fr:.2} ns | {fc:.2} ns \
             | {:.2}x | {:.2}x | {:.2}x |",
            rust / floor,
            inline / floor,
            call / floor
        );
    }
    println!("(x / floor: against the faster of the two floor loops of the run)");
    println!(
        "(Rust counter total {}: {})",
        counter.read(),
        if exact { "exact" } else { "WRONG" }
    );
    if missing {
        eprintln!("rseq-libc bench: {bench_inline} did not report every row");
        return 1;
    }
    if exact {
        0
    } else {
        1
    }
}
