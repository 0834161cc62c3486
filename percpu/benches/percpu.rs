//! Criterion benchmarks of the per-CPU operations, each beside its baseline
//! and its floor in the same run: `cargo bench -p rseq-percpu --bench percpu
//! -- --warm-up-time 1 --measurement-time 2`. `rseq-libc bench` is the short
//! version with the multi-thread figures and the markdown table;
//! `tests/percpu/bench_inline.sh` puts the Rust rows beside the inline C and
//! C call ones.
//!
//! Floors (`floor` in each group; no rseq, not safe against preemption:
//! lower bounds for the data path, the loops of bench_inline.c): the
//! thread's `cpu_id` loaded from its area, then an add to that CPU's slot
//! (counter), a pop and a push on that CPU's list (pool), a header + 24-byte
//! copy and a head store into that CPU's buffer (ring).
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rseq_percpu::counter::Counter;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::{CasPerCpuRing, PerCpuRing};
use rseq_percpu::IndexMode;
use std::ptr::{read_volatile, write_volatile};
use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};
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
    // The result (where it added) unused, as in the floor: criterion would
    // store a returned value on every iteration.
    g.bench_function("rseq", |b| {
        b.iter(|| {
            counter.inc();
        })
    });
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
    if let Some(cpu) = cpu_id_field() {
        let floor: &'static mut [u64] = Vec::leak(vec![0u64; 256 * 8]);
        let base = floor.as_mut_ptr();
        g.bench_function("floor", |b| {
            b.iter(|| {
                // SAFETY: cpu is this thread's cpu_id field; the index is
                // below 256, the slots this benchmark's alone.
                unsafe {
                    let p = base.add((read_volatile(cpu) & 255) as usize * 8);
                    write_volatile(p, read_volatile(p).wrapping_add(1));
                }
            })
        });
    }
    g.finish();
}

/// The calling thread's `cpu_id` field (the floors read it), if it has an
/// area.
fn cpu_id_field() -> Option<*const u32> {
    rseq_percpu::thread_area(IndexMode::CpuId).map(|(_, f)| f)
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

/// Records per ring floor buffer: as `RING`'s.
const FLOOR_RECORDS: u64 = 1024;
/// The ring floor's buffer, in words: head, 7 pad, tail, 7 pad, the records
/// of 8 words (the library's shape).
const FLOOR_BUF_WORDS: usize = 16 + FLOOR_RECORDS as usize * 8;

/// The ring floor's write: `cpu_id`, head, tail, header + payload, head + 1.
///
/// # Safety
/// `bufs` holds 64 floor buffers; one thread.
unsafe fn floor_write(cpu: *const u32, bufs: *mut u64, payload: &[u8; 24]) {
    // SAFETY: the caller's contract.
    unsafe {
        let b = bufs.add((read_volatile(cpu) & 63) as usize * FLOOR_BUF_WORDS);
        let head = read_volatile(b);
        let tail = (*b.add(8).cast::<AtomicU64>()).load(Ordering::Acquire);
        if head.wrapping_sub(tail) < FLOOR_RECORDS {
            let r = b.add(16 + (head % FLOOR_RECORDS) as usize * 8);
            r.write(((head + 1) << 32) | payload.len() as u64);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), r.add(1).cast::<u8>(), 24);
            compiler_fence(Ordering::SeqCst);
            write_volatile(b, head + 1);
        }
    }
}

/// Empties every floor buffer (tail = head).
///
/// # Safety
/// As [`floor_write`].
unsafe fn floor_drain(bufs: *mut u64) {
    for c in 0..64 {
        // SAFETY: the caller's contract.
        unsafe {
            let b = bufs.add(c * FLOOR_BUF_WORDS);
            (*b.add(8).cast::<AtomicU64>()).store(*b, Ordering::Relaxed);
        }
    }
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
    if let Some(cpu) = cpu_id_field() {
        let bufs: &'static mut [u64] = Vec::leak(vec![0u64; 64 * FLOOR_BUF_WORDS]);
        let bufs = bufs.as_mut_ptr();
        g.bench_function("floor", |b| {
            b.iter_custom(|iters| {
                timed_writes(
                    iters,
                    // SAFETY: 64 buffers of the floor's shape, this
                    // benchmark's alone.
                    || unsafe { floor_write(cpu, bufs, &payload) },
                    // SAFETY: as above; no write in flight.
                    || unsafe { floor_drain(bufs) },
                )
            })
        });
    }
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
    if let Some(cpu) = cpu_id_field() {
        let heads: &'static mut [usize] = Vec::leak(vec![0usize; 256 * 8]);
        let heads = heads.as_mut_ptr();
        let objects: &'static mut [u64] = Vec::leak(vec![0u64; 16 * 8]);
        for k in 0..16 {
            // SAFETY: 16 objects of 8 words on this CPU's floor list.
            unsafe {
                let o = objects.as_mut_ptr().add(k * 8).cast::<usize>();
                let h = heads.add((read_volatile(cpu) & 255) as usize * 8);
                *o = *h;
                *h = o as usize;
            }
        }
        g.bench_function("floor", |b| {
            b.iter(|| {
                // SAFETY: the list holds this benchmark's objects, each
                // one's first word its next pointer; one thread.
                unsafe {
                    let h = heads.add((read_volatile(cpu) & 255) as usize * 8);
                    let o = read_volatile(h) as *mut usize;
                    if !o.is_null() {
                        write_volatile(h, read_volatile(o));
                        let o = black_box(o);
                        let h = heads.add((read_volatile(cpu) & 255) as usize * 8);
                        write_volatile(o, read_volatile(h));
                        write_volatile(h, o as usize);
                    }
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, current_cpu, counter, ring, pool);
criterion_main!(benches);
