//! `rseq-libc bench`: a short run of the benchmarks (timed loops, the
//! best of several rounds), each figure beside its baseline from the same
//! run, printed as a markdown table. `cargo bench -p rseq-percpu` is the
//! criterion version.

use rseq_percpu::counter::Counter;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::{CasPerCpuRing, PerCpuRing};
use rseq_percpu::IndexMode;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const CPUS: usize = 256;

/// Nanoseconds per call of `f`, best of 5 rounds of `iters` calls. Not
/// inlined: each closure's loop is a function of its own, as in a real
/// caller, rather than a piece of `run` competing with its other loops for
/// registers.
#[inline(never)]
fn ns_per_op(iters: u64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

/// Nanoseconds per `write()` (which must succeed), best of 5 rounds of
/// `iters` writes in timed batches of `batch`, calling `drain()` untimed
/// between batches.
fn writes_ns(
    iters: u64,
    batch: u64,
    mut write: impl FnMut() -> bool,
    mut drain: impl FnMut(),
) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let (mut done, mut timed, mut failed) = (0u64, 0u128, 0u64);
        drain();
        while done < iters {
            let t = Instant::now();
            for _ in 0..batch {
                failed += u64::from(!write());
            }
            timed += t.elapsed().as_nanos();
            drain();
            done += batch;
        }
        if failed != 0 {
            eprintln!("rseq-libc bench: {failed} ring writes overran (buffer too small)");
        }
        best = best.min(timed as f64 / done as f64);
    }
    best
}

/// What `rseq_libc_current_cpu()` (src/capi.rs) costs a C caller: the same
/// body behind an `extern "C"` call that cannot be inlined.
#[inline(never)]
extern "C" fn c_abi_current_cpu() -> i32 {
    match rseq_sched_getcpu::current_cpu() {
        Ok(c) => c as i32,
        Err(e) => -e,
    }
}

/// Aggregate operations per nanosecond of `threads` threads pinned to
/// distinct CPUs (where there are enough), each calling `f` `iters` times.
fn throughput(threads: usize, iters: u64, f: impl Fn() + Send + Sync + 'static) -> f64 {
    let f = Arc::new(f);
    let mut cpus = [0u32; 1024];
    let n = rseq_percpu::allowed_cpus(&mut cpus).max(1);
    let mut best = 0f64;
    for _ in 0..3 {
        let go = Arc::new(Barrier::new(threads));
        let hs: Vec<_> = (0..threads)
            .map(|k| {
                let (f, go, cpu) = (f.clone(), go.clone(), cpus[k % n]);
                std::thread::spawn(move || {
                    rseq_percpu::pin_to_cpu(cpu as usize);
                    go.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        f();
                    }
                    t.elapsed().as_nanos() as f64
                })
            })
            .collect();
        let slowest = hs
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(0f64, f64::max);
        best = best.max((threads as u64 * iters) as f64 / slowest);
    }
    best
}

struct Row {
    op: &'static str,
    seed: &'static str,
    ours: String,
    baseline: String,
    ratio: f64,
    target: &'static str,
}

fn row(
    op: &'static str,
    seed: &'static str,
    ours: f64,
    base_name: &str,
    base: f64,
    target: &'static str,
) -> Row {
    Row {
        op,
        seed,
        ours: format!("{ours:.2} ns"),
        baseline: format!("{base_name}: {base:.2} ns"),
        ratio: base / ours,
        target,
    }
}

/// `rseq-libc bench [--quick]`: prints the table; 0 on success.
/// `rseq-libc bench --with-c BENCH_INLINE [--rounds R]`: the Rust, C inline
/// and C call rows side by side (see `bench_side`).
pub fn run(args: &[String]) -> i32 {
    const USAGE: &str =
        "usage: rseq-libc bench [--quick] | bench --with-c BENCH_INLINE [--rounds R]";
    if args.first().map(String::as_str) == Some("--with-c") {
        let rounds = match args.get(2).map(String::as_str) {
            None => Some(7),
            Some("--rounds") => args.get(3).and_then(|r| r.parse().ok()).filter(|&r| r > 0),
            Some(_) => None,
        };
        return match (args.get(1), rounds, args.len() <= 4) {
            (Some(bin), Some(r), true) => crate::bench_side::run(bin, r),
            _ => {
                eprintln!("{USAGE}");
                2
            }
        };
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a != "--quick") {
        eprintln!("{USAGE}");
        return 2;
    }
    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    let Some(_area) = rseq_registration::current_area() else {
        eprintln!("rseq-libc bench: this thread has no rseq area: nothing to measure");
        return 1;
    };
    let mut rows = Vec::new();

    // 1. Current CPU number.
    let empty = ns_per_op(n, || {
        black_box(0u32);
    });
    let inline = ns_per_op(n, || {
        black_box(rseq_percpu::current_index(IndexMode::CpuId));
    });
    let ours = ns_per_op(n, || {
        black_box(rseq_sched_getcpu::current_cpu().ok());
    });
    let c_entry: extern "C" fn() -> i32 = black_box(c_abi_current_cpu);
    let c_api = ns_per_op(n, || {
        black_box(c_entry());
    });
    // SAFETY (in the closure): sched_getcpu has no preconditions.
    #[allow(unsafe_code)]
    let glibc = ns_per_op(n, || {
        // SAFETY: sched_getcpu has no preconditions.
        black_box(unsafe { libc::sched_getcpu() });
    });
    let vdso = ns_per_op(n, || {
        black_box(rseq_sched_getcpu::getcpu_fallback().ok());
    });
    let sys = ns_per_op(n / 10, || {
        black_box(rseq_sched_getcpu::getcpu_syscall().ok());
    });
    rows.push(row(
        "current CPU: inline rseq read",
        "0.8 ns",
        inline,
        "glibc sched_getcpu",
        glibc,
        ">= 5x",
    ));
    rows.push(Row {
        op: "current CPU: inline rseq read vs empty loop",
        seed: "0.8 ns (= empty loop)",
        ours: format!("{inline:.2} ns"),
        baseline: format!("empty loop: {empty:.2} ns"),
        ratio: empty / inline,
        target: "within 0.3 ns",
    });
    rows.push(row(
        "current CPU: rseq_libc_current_cpu() (C call)",
        "",
        c_api,
        "glibc sched_getcpu",
        glibc,
        "",
    ));
    rows.push(row(
        "current CPU: our sched_getcpu()",
        "",
        ours,
        "glibc sched_getcpu",
        glibc,
        "",
    ));
    rows.push(row(
        "current CPU: inline rseq read",
        "",
        inline,
        "vDSO getcpu",
        vdso,
        "",
    ));
    rows.push(row(
        "current CPU: inline rseq read",
        "53.9 ns (syscall)",
        inline,
        "getcpu syscall",
        sys,
        "",
    ));
    if let Some(instruction) = rseq_percpu::arch::cpu_number_instruction() {
        #[allow(unsafe_code)]
        // SAFETY (in the closure): the CPU has the instruction.
        let read = ns_per_op(n, || {
            // SAFETY: cpu_number_instruction said the CPU has it.
            black_box(unsafe { rseq_percpu::arch::cpu_number_read() });
        });
        rows.push(row(
            "current CPU: inline rseq read",
            "",
            inline,
            instruction,
            read,
            "",
        ));
    }

    // 2. Statistics counter.
    let counter: &'static Counter<CPUS> = Box::leak(Box::new(Counter::new(IndexMode::CpuId)));
    let percpu_atomic: &'static [AtomicU64] =
        Vec::leak((0..CPUS * 8).map(|_| AtomicU64::new(0)).collect());
    let shared: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let c1 = ns_per_op(n, || {
        counter.inc();
    });
    #[allow(unsafe_code)]
    let getcpu_atomic = move || {
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() }.max(0) as usize % CPUS;
        percpu_atomic[cpu * 8].fetch_add(1, Ordering::Relaxed);
    };
    let g1 = ns_per_op(n, getcpu_atomic);
    // The floor of the counter's data dependency on this CPU, without rseq
    // (and without its guarantees: not safe against preemption): a volatile
    // load of cpu_id, then a plain load-add-store of the slot it selects.
    // The next iteration's load of the same word waits for this store
    // (store-to-load forwarding through an address computed from a load).
    let floor_slots: &'static mut [u64] = Vec::leak(vec![0u64; CPUS * 8]);
    let floor_base = floor_slots.as_mut_ptr();
    let floor_field = rseq_percpu::thread_area(IndexMode::CpuId)
        .map(|(_, f)| f)
        .expect("registered: checked above");
    #[allow(unsafe_code)]
    let floor = ns_per_op(n, || {
        // SAFETY: floor_field is this thread's cpu_id (its area, checked
        // above); the index is reduced below CPUS, and the leaked slots are
        // this benchmark's alone (one thread).
        unsafe {
            let i = core::ptr::read_volatile(floor_field) as usize % CPUS;
            let p = floor_base.add(i * 8);
            core::ptr::write_volatile(p, core::ptr::read_volatile(p).wrapping_add(1));
        }
    });
    let s1 = ns_per_op(n, || {
        shared.fetch_add(1, Ordering::Relaxed);
    });
    rows.push(row(
        "counter increment, 1 thread",
        "2.0 ns",
        c1,
        "glibc sched_getcpu + per-CPU atomic",
        g1,
        ">= 3x, <= 2.0 ns",
    ));
    rows.push(row(
        "counter increment, 1 thread",
        "",
        c1,
        "one shared atomic",
        s1,
        "",
    ));
    rows.push(row(
        "counter increment, 1 thread",
        "",
        c1,
        "floor: cpu_id load + plain add to that slot (no rseq)",
        floor,
        "",
    ));
    let c2 = throughput(2, n, move || {
        counter.inc();
    });
    let s2 = throughput(2, n, move || {
        shared.fetch_add(1, Ordering::Relaxed);
    });
    rows.push(Row {
        op: "counter increment, 2 threads pinned to 2 CPUs (aggregate)",
        seed: "",
        ours: format!("{:.2} ns/op", 1.0 / c2),
        baseline: format!("one shared atomic: {:.2} ns/op", 1.0 / s2),
        ratio: c2 / s2,
        target: ">= 10x",
    });

    // 3. Ring buffer: 32-byte records (8-byte header + 24-byte payload).
    // Only the writes are timed: the buffers are emptied between timed
    // batches of 512 records (half a buffer), so neither side ever overruns
    // and neither pays for the consumer.
    static RING: PerCpuRing<64, 1024> = PerCpuRing::with_mode(IndexMode::CpuId);
    static CAS: CasPerCpuRing<64, 1024> = CasPerCpuRing::new();
    let payload = [0x5au8; 24];
    let r1 = writes_ns(
        n,
        512,
        || RING.write(black_box(&payload)).is_ok(),
        || {
            RING.consume(|_, p| {
                black_box(p);
            });
        },
    );
    let b1 = writes_ns(
        n,
        512,
        || CAS.write(black_box(&payload)).is_ok(),
        || {
            CAS.consume(|p| {
                black_box(p);
            });
        },
    );
    rows.push(row(
        "ring buffer: write a 32-byte record",
        "98.0 ns (LTTng-UST event)",
        r1,
        "CAS reservation per CPU",
        b1,
        ">= 1.5x",
    ));

    // 4. Pool: allocate + free a 64-byte object.
    let pool: &'static Pool<CPUS> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 256)));
    let storage: &'static mut [u64] = Vec::leak(vec![0u64; 4096 * 8]);
    #[allow(unsafe_code)]
    // SAFETY: a leaked, 8-aligned buffer viewed as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), 4096 * 64) };
    let _ = pool.add_storage(bytes);
    #[allow(unsafe_code)]
    let pool_op = move || {
        if let Some(o) = pool.alloc() {
            crate::bench_side::opaque(o.as_ptr());
            // SAFETY: just allocated from this pool, not used after.
            unsafe { pool.free(o) };
        }
    };
    #[allow(unsafe_code)]
    let malloc_op = || {
        // SAFETY: malloc/free pair of a 64-byte block.
        unsafe {
            let p = libc::malloc(64);
            black_box(p);
            libc::free(p);
        }
    };
    let p1 = ns_per_op(n, pool_op);
    let m1 = ns_per_op(n, malloc_op);
    rows.push(row(
        "pool: alloc + free 64 bytes, 1 thread",
        "",
        p1,
        "glibc malloc/free",
        m1,
        ">= 2x",
    ));
    let p2 = throughput(2, n, pool_op);
    let m2 = throughput(2, n, malloc_op);
    rows.push(Row {
        op: "pool: alloc + free 64 bytes, 2 threads (aggregate)",
        seed: "",
        ours: format!("{:.2} ns/op", 1.0 / p2),
        baseline: format!("glibc malloc/free: {:.2} ns/op", 1.0 / m2),
        ratio: p2 / m2,
        target: ">= 2x",
    });

    println!("| operation | seed figure | this machine | baseline (same run) | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.2}x | {} |",
            r.op, r.seed, r.ours, r.baseline, r.ratio, r.target
        );
    }
    println!(
        "\nratio = baseline time / our time (> 1: we are faster). Inline read vs empty loop: difference {:.2} ns.",
        inline - empty
    );
    0
}
