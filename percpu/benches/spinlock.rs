//! The preemption-tracking spin lock under oversubscription, beside a plain
//! test-and-set spin lock and glibc's `pthread_mutex` in the same run:
//! `cargo bench -p rseq-percpu --bench spinlock -- --warm-up-time 1
//! --measurement-time 3`. Each thread loops: lock, a critical section (read
//! a plain counter, `CS` dependent multiply-adds, write it back), unlock,
//! then `OUTSIDE` multiply-adds outside the lock. Threads: 1x, 2x and 4x
//! the CPUs this process may use. One criterion iteration is one critical
//! section of the whole group (wall time / sections).
//!
//! After criterion's groups, a summary (markdown table) of fixed runs in
//! the same process: sections per second (best of `ROUNDS`, interleaved
//! between the locks), ratios to the test-and-set lock and to
//! `pthread_mutex`, and the lock's own counters per 1000 sections: waiter
//! sleeps, holder-not-running detections, spin budgets spent, and time-slice
//! extensions requested / granted (holder preemptions avoided).
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, Criterion};
use rseq_percpu::spinlock::{LockStats, NumaSpinLock, SpinLock};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Multiply-adds inside and outside the critical section.
const CS: u32 = 40;
const OUTSIDE: u32 = 80;
/// Summary: sections per thread per round, and rounds.
const SUMMARY_SECTIONS: u64 = 100_000;
const ROUNDS: usize = 3;

#[repr(C, align(8))]
struct PthreadMutexT([u8; 40]);

extern "C" {
    fn pthread_mutex_lock(m: *mut PthreadMutexT) -> i32;
    fn pthread_mutex_unlock(m: *mut PthreadMutexT) -> i32;
}

/// glibc's default mutex (PTHREAD_MUTEX_INITIALIZER: all zero).
struct PthreadMutex(UnsafeCell<PthreadMutexT>);
// SAFETY: pthread mutexes are made to be shared between threads.
unsafe impl Sync for PthreadMutex {}
// SAFETY: as above; it is not moved while locked (it lives in an Arc).
unsafe impl Send for PthreadMutex {}

/// The baseline: test-and-test-and-set with `pause`, no sleeping.
struct TasLock(AtomicBool);

trait Lock: Send + Sync + 'static {
    fn acquire(&self);
    /// # Safety
    /// Held by the caller.
    unsafe fn release(&self);
    fn stats(&self) -> Option<LockStats> {
        None
    }
}

impl Lock for TasLock {
    fn acquire(&self) {
        while self.0.swap(true, Ordering::Acquire) {
            while self.0.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
    }
    unsafe fn release(&self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Lock for PthreadMutex {
    fn acquire(&self) {
        // SAFETY: an initialized mutex that never moves.
        unsafe { pthread_mutex_lock(self.0.get()) };
    }
    unsafe fn release(&self) {
        // SAFETY: held by the caller.
        unsafe { pthread_mutex_unlock(self.0.get()) };
    }
}

impl Lock for SpinLock {
    fn acquire(&self) {
        self.lock_raw();
    }
    unsafe fn release(&self) {
        // SAFETY: held by the caller.
        unsafe { self.unlock_raw() };
    }
    fn stats(&self) -> Option<LockStats> {
        Some(SpinLock::stats(self))
    }
}

impl Lock for NumaSpinLock {
    fn acquire(&self) {
        self.lock_as_raw(rseq_percpu::spinlock::current_node());
    }
    unsafe fn release(&self) {
        // SAFETY: held by the caller.
        unsafe { self.unlock_raw() };
    }
    fn stats(&self) -> Option<LockStats> {
        Some(NumaSpinLock::stats(self))
    }
}

struct Shared<L> {
    lock: L,
    counter: UnsafeCell<u64>,
}
// SAFETY: the counter is only touched under the lock.
unsafe impl<L: Sync> Sync for Shared<L> {}

#[inline(always)]
fn work(n: u32, mut x: u64) -> u64 {
    for _ in 0..n {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    x
}

/// `threads` threads, `per_thread` sections each; wall time from the first
/// thread's start to the last one's end, measured by the threads
/// themselves (the spawning thread may itself be preempted for long under
/// oversubscription).
fn run<L: Lock>(s: &Arc<Shared<L>>, threads: usize, per_thread: u64) -> Duration {
    let start = Arc::new(Barrier::new(threads));
    let ts: Vec<_> = (0..threads)
        .map(|_| {
            let (s, start) = (s.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                let mut x = 1u64;
                for _ in 0..per_thread {
                    s.lock.acquire();
                    // SAFETY: under the lock.
                    unsafe {
                        let v = *s.counter.get();
                        x = work(CS, x ^ v);
                        *s.counter.get() = v + 1;
                        s.lock.release();
                    }
                    x = work(OUTSIDE, x);
                }
                black_box(x);
                (t0, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = ts.into_iter().map(|t| t.join().unwrap()).collect();
    let first = spans.iter().map(|s| s.0).min().unwrap();
    let last = spans.iter().map(|s| s.1).max().unwrap();
    last - first
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn new_tas() -> Arc<Shared<TasLock>> {
    Arc::new(Shared {
        lock: TasLock(AtomicBool::new(false)),
        counter: UnsafeCell::new(0),
    })
}
fn new_pthread() -> Arc<Shared<PthreadMutex>> {
    Arc::new(Shared {
        lock: PthreadMutex(UnsafeCell::new(PthreadMutexT([0; 40]))),
        counter: UnsafeCell::new(0),
    })
}
fn new_rseq() -> Arc<Shared<SpinLock>> {
    Arc::new(Shared {
        lock: SpinLock::new(),
        counter: UnsafeCell::new(0),
    })
}
fn new_numa() -> Arc<Shared<NumaSpinLock>> {
    Arc::new(Shared {
        lock: NumaSpinLock::new(),
        counter: UnsafeCell::new(0),
    })
}

fn bench_one<L: Lock>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    make: fn() -> Arc<Shared<L>>,
) {
    let s = make();
    g.bench_function(name, |b| {
        b.iter_custom(|iters| run(&s, threads, iters.div_ceil(threads as u64)))
    });
}

fn oversubscribed(c: &mut Criterion) {
    for factor in [1, 2, 4] {
        let threads = factor * cpus();
        let mut g = c.benchmark_group(format!("lock_{factor}x_cpus_{threads}_threads"));
        g.sample_size(10);
        bench_one(&mut g, "tas_spin", threads, new_tas);
        bench_one(&mut g, "pthread_mutex", threads, new_pthread);
        bench_one(&mut g, "rseq_spinlock", threads, new_rseq);
        bench_one(&mut g, "rseq_numa_spinlock", threads, new_numa);
        g.finish();
    }
}

criterion_group!(benches, oversubscribed);

extern "C" {
    fn getrusage(who: i32, usage: *mut [i64; 18]) -> i32;
}

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    let mut u = [0i64; 18];
    // SAFETY: struct rusage is 144 bytes on x86-64 (two timevals, then 14
    // longs); RUSAGE_SELF = 0.
    unsafe { getrusage(0, &mut u) };
    let us = (u[0] * 1_000_000 + u[1] + u[2] * 1_000_000 + u[3]).max(0) as u64;
    Duration::from_micros(us)
}

/// One summary row: best sections per second over the rounds, CPU time
/// and the counters summed over the rounds.
#[derive(Default)]
struct Row {
    best: f64,
    cpu: Duration,
    stats: Option<LockStats>,
    sections: u64,
}

fn add(a: &mut LockStats, b: LockStats) {
    a.contended += b.contended;
    a.holder_not_running += b.holder_not_running;
    a.spin_exhausted += b.spin_exhausted;
    a.sleeps += b.sleeps;
    a.slice_requested += b.slice_requested;
    a.slice_granted += b.slice_granted;
}

fn measure<L: Lock>(row: &mut Row, s: Arc<Shared<L>>, threads: usize, per_thread: u64) {
    let c0 = cpu_time();
    let d = run(&s, threads, per_thread);
    row.cpu += cpu_time() - c0;
    let n = threads as u64 * per_thread;
    row.best = row.best.max(n as f64 / d.as_secs_f64());
    row.sections += n;
    if let Some(st) = s.lock.stats() {
        add(row.stats.get_or_insert_with(LockStats::default), st);
    }
}

fn summary() {
    let quick = std::env::args().any(|a| a == "--quick-summary");
    let per_thread = if quick { 20_000 } else { SUMMARY_SECTIONS };
    println!(
        "\n## spin lock summary: {} CPUs, CS {CS} / outside {OUTSIDE} multiply-adds, \
         {per_thread} sections per thread, best of {ROUNDS} (rates), sums (CPU, counters)\n",
        cpus()
    );
    println!(
        "| threads | lock | Msections/s | vs TAS | vs pthread | CPU ns/section | CPU vs TAS | \
         contended /1k | sleeps /1k | holder not running /1k | budget spent /1k | \
         slice requested /1k | slice granted (preemptions avoided) /1k |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let names = [
        "tas_spin",
        "pthread_mutex",
        "rseq_spinlock",
        "rseq_numa_spinlock",
    ];
    for factor in [1, 2, 4] {
        let threads = factor * cpus();
        let mut rows: Vec<Row> = names.iter().map(|_| Row::default()).collect();
        for _ in 0..ROUNDS {
            measure(&mut rows[0], new_tas(), threads, per_thread);
            measure(&mut rows[1], new_pthread(), threads, per_thread);
            measure(&mut rows[2], new_rseq(), threads, per_thread);
            measure(&mut rows[3], new_numa(), threads, per_thread);
        }
        let cpu_ns = |r: &Row| r.cpu.as_nanos() as f64 / r.sections as f64;
        let (tas, pth, tas_cpu) = (rows[0].best, rows[1].best, cpu_ns(&rows[0]));
        for (name, row) in names.iter().zip(&rows) {
            let per_k = |v: u64| format!("{:.2}", v as f64 * 1000.0 / row.sections as f64);
            let cols = match row.stats {
                Some(s) => [
                    per_k(s.contended),
                    per_k(s.sleeps),
                    per_k(s.holder_not_running),
                    per_k(s.spin_exhausted),
                    per_k(s.slice_requested),
                    per_k(s.slice_granted),
                ]
                .join(" | "),
                None => "| | | | |".into(),
            };
            println!(
                "| {threads} ({factor}x) | {name} | {:.2} | {:.2}x | {:.2}x | {:.0} | {:.2}x | {cols} |",
                row.best / 1e6,
                row.best / tas,
                row.best / pth,
                cpu_ns(row),
                cpu_ns(row) / tas_cpu,
            );
        }
    }
}

fn main() {
    let summary_only = std::env::args().any(|a| a == "--summary-only" || a == "--quick-summary");
    if !summary_only {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    summary();
}
