//! Criterion benchmarks of the per-CPU operations, each beside its baseline
//! in the same run: `cargo bench -p rseq-percpu --bench percpu -- --warm-up-time 1
//! --measurement-time 2`. `rseq-libc bench` is the short version with the
//! multi-thread figures and the markdown table.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rseq_percpu::counter::Counter;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::{CasPerCpuRing, PerCpuRing};
use rseq_percpu::IndexMode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What `rseq_libc_current_cpu()` (src/capi.rs) costs a C caller: the same
/// body behind an `extern "C"` call that cannot be inlined.
#[inline(never)]
extern "C" fn c_abi_current_cpu() -> i32 {
    match rseq_sched_getcpu::current_cpu() {
        Ok(c) => c as i32,
        Err(e) => -e,
    }
}

fn current_cpu(c: &mut Criterion) {
    let mut g = c.benchmark_group("current_cpu");
    g.bench_function("empty", |b| b.iter(|| black_box(0u32)));
    g.bench_function("rseq_inline", |b| {
        b.iter(|| black_box(rseq_percpu::current_index(IndexMode::CpuId)))
    });
    let c_entry: extern "C" fn() -> i32 = black_box(c_abi_current_cpu);
    g.bench_function("rseq_libc_current_cpu_c_call", |b| {
        b.iter(|| black_box(c_entry()))
    });
    g.bench_function("our_sched_getcpu", |b| {
        b.iter(|| black_box(rseq_sched_getcpu::current_cpu().ok()))
    });
    g.bench_function("vdso_getcpu", |b| {
        b.iter(|| black_box(rseq_sched_getcpu::getcpu_fallback().ok()))
    });
    g.bench_function("getcpu_syscall", |b| {
        b.iter(|| black_box(rseq_sched_getcpu::getcpu_syscall().ok()))
    });
    g.finish();
}

fn counter(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_1thread");
    let counter = Counter::<256>::new(IndexMode::CpuId);
    g.bench_function("rseq", |b| b.iter(|| counter.inc()));
    let slots: Vec<AtomicU64> = (0..256 * 8).map(|_| AtomicU64::new(0)).collect();
    g.bench_function("getcpu_atomic", |b| {
        b.iter(|| {
            let cpu = rseq_sched_getcpu::getcpu_fallback().map_or(0, |r| r.0) as usize % 256;
            slots[cpu * 8].fetch_add(1, Ordering::Relaxed)
        })
    });
    let shared = AtomicU64::new(0);
    g.bench_function("shared_atomic", |b| {
        b.iter(|| shared.fetch_add(1, Ordering::Relaxed))
    });
    g.finish();
}

static RING: PerCpuRing<64, 1024> = PerCpuRing::with_mode(IndexMode::CpuId);
static CAS: CasPerCpuRing<64, 1024> = CasPerCpuRing::new();

/// Times only the writes: batches of at most 512 records (half a buffer),
/// the buffers emptied untimed between batches, so neither side overruns
/// and neither pays for the consumer.
fn timed_writes(iters: u64, mut write: impl FnMut(), mut drain: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    drain();
    while left > 0 {
        let batch = left.min(512);
        let t = Instant::now();
        for _ in 0..batch {
            write();
        }
        total += t.elapsed();
        drain();
        left -= batch;
    }
    total
}

fn ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_32byte_record");
    let payload = [0x5au8; 24];
    g.bench_function("rseq", |b| {
        b.iter_custom(|iters| {
            timed_writes(
                iters,
                || assert!(RING.write(black_box(&payload)).is_ok()),
                || {
                    RING.consume(|_, p| {
                        black_box(p);
                    });
                },
            )
        })
    });
    g.bench_function("cas_reservation", |b| {
        b.iter_custom(|iters| {
            timed_writes(
                iters,
                || assert!(CAS.write(black_box(&payload)).is_ok()),
                || {
                    CAS.consume(|p| {
                        black_box(p);
                    });
                },
            )
        })
    });
    g.finish();
}

fn pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_64byte");
    let pool: &'static Pool<256> = Box::leak(Box::new(Pool::new(IndexMode::CpuId, 64, 256)));
    let storage: &'static mut [u64] = Vec::leak(vec![0u64; 4096 * 8]);
    // SAFETY: a leaked, 8-aligned buffer viewed as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), 4096 * 64) };
    pool.add_storage(bytes).unwrap();
    g.bench_function("percpu_pool", |b| {
        b.iter(|| {
            let o = pool.alloc().unwrap();
            // SAFETY: just allocated from this pool, not used after.
            unsafe { pool.free(black_box(o)) };
        })
    });
    g.bench_function("box_global_allocator", |b| {
        b.iter(|| drop(black_box(Box::new([0u64; 8]))))
    });
    g.finish();
}

criterion_group!(benches, current_cpu, counter, ring, pool);
criterion_main!(benches);
