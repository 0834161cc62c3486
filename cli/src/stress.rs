//! `rseq-libc stress`: every per-CPU operation and use case under many more
//! threads than CPUs, injected in the manner of the kernel's rseq
//! `param_test`: delay loops at three points inside every critical section,
//! yield / sleep / signal injection between operations, CPU-affinity
//! migration, and a forced abort in every `--trap`-th section (the
//! architecture's trap, `int3` or `brk #0`, inside the section: a `SIGTRAP`
//! to the thread itself, which the kernel aborts on delivery). Checks exact
//! totals, no lost or duplicated pool objects, no torn ring-buffer records;
//! prints each mode's aborts per 1000 operations and, when injecting, fails
//! a mode below 1 per 1000 or in which an armed section committed (the
//! restart path did not run).
//!
//! The abort count is a deterministic lower bound, not luck: every armed
//! section either aborts or leaves by its compare-failed exit before the
//! trap point (and then passes its trap on), so a mode that runs S sections
//! sees at least about S / `--trap` aborts. Every operation of every mode
//! runs at least one section (a ring operation writes until its record is
//! written, draining the buffers when they are full), except the writers'
//! of the lock mode and the pool's frees to a full list; the default
//! `--trap 32` gives about 30 per 1000 sections, far above the required 1.

use rseq_percpu::counter::Counter;
use rseq_percpu::flush::FlushRing;
use rseq_percpu::lock::ReaderLock;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::{PerCpuRing, RECORD_MAX};
use rseq_percpu::{IndexMode, Outcome, Slots, Where};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODES: &[&str] = &[
    "add",
    "cmpstore",
    "storestore",
    "counter",
    "pool",
    "ring",
    "lock",
    "flush",
    "reclaim",
];
/// Modes run only when asked for: `hotplug` needs root and a kernel with
/// CPU hotplug (tests/kernels/hotplug.sh runs it in a guest); `shared` and
/// `shared-forced` fork producer and consumer processes over a shared
/// mapping (cli/src/stress_shared.rs); `rcu` (its suite: tests/rcu/run.sh)
/// starts with witness rounds of up to 20 ms each, kept out of the default
/// list that every kernel-matrix guest runs.
const EXTRA_MODES: &[&str] = &["hotplug", "shared", "shared-forced", "rcu"];
pub(crate) const CPUS: usize = 256;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) seconds: f64,
    pub(crate) threads: usize,
    delay: usize,
    pub(crate) trap_every: usize,
    yield_every: u64,
    sleep_every: u64,
    signal_every: u64,
    migrate_every: u64,
    index: IndexMode,
    cycles: usize,
    /// `shared`: offline/online cycles of CPUs 1.. meanwhile (0: none).
    pub(crate) hotplug_cycles: usize,
    /// `shared-forced`: the private fence in place of the cross-process one.
    pub(crate) private_fence: bool,
    /// `rcu`: the negative control to run (`--rcu-broken sync|reader`).
    rcu_broken: RcuBroken,
}

/// `rcu`'s negative controls: the stress must FAIL with either.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RcuBroken {
    None,
    /// Grace periods end at once (`synchronize` skipped, callbacks run at
    /// once).
    Sync,
    /// Readers skip `read_lock` / `read_unlock`.
    Reader,
}

fn usage() -> i32 {
    eprintln!(
        "usage: rseq-libc stress [--mode MODE|all] [--seconds S] [--threads N] [--delay ITER] [--trap N]\n\
         \x20                       [--yield N] [--sleep N] [--signal N] [--migrate N] [--mm-cid] [--no-inject]\n\
         \x20                       [--fallback-fence] [--cycles N] [--hotplug-cycles N] [--private-fence]\n\
         \x20                       [--rcu-broken sync|reader]\n\
         modes: {} (and rcu: the read-copy-update torture, --rcu-broken for its negative controls;\n\
         hotplug: root, CPU hotplug; --cycles offline/online cycles;\n\
         shared: producer processes and a consumer process over MAP_SHARED memory, producers SIGKILLed,\n\
         --hotplug-cycles: CPUs 1.. offline and back meanwhile (root; shared and rcu); shared-forced: a producer process\n\
         spinning inside a section while the consumer process flushes, --private-fence: the negative control);\n\
         --rcu-broken: rcu's negative controls (grace periods that end at once, readers without the lock: must FAIL);\n\
         --fallback-fence: remote fences visit the CPU instead of membarrier; --delay: delay-loop iterations at each of the 3 points inside every section;\n\
         --trap: a forced abort (int3, aarch64 brk #0, inside the section) in every Nth section;\n\
         yield/sleep/signal/migrate: every N operations per thread (0: off).\n\
         Defaults: 1 s per mode, 8 threads per CPU, delay 50, trap 32, yield 97, sleep 4099, signal 499, migrate 1021.",
        MODES.join(", ")
    );
    2
}

extern "C" fn on_sigusr1(_: libc::c_int) {}

/// `SIGTRAP`s taken: one per forced abort that reached its trap.
static TRAPS: AtomicU64 = AtomicU64::new(0);

/// `shared`: the process kills itself at this many `SIGTRAP`s (0: never),
/// i.e. inside the section of its Nth forced abort.
pub(crate) static TRAPS_TO_DIE: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigtrap(_: libc::c_int) {
    // The kernel has already moved the thread to the section's abort
    // handler; returning resumes there.
    let n = TRAPS.fetch_add(1, Ordering::Relaxed) + 1;
    if n == TRAPS_TO_DIE.load(Ordering::Relaxed) {
        #[allow(unsafe_code)]
        // SAFETY: kill and getpid are async-signal-safe; ending the process
        // here, interrupted inside a section, is the point of the test.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL)
        };
    }
}

/// Per-thread injection state.
struct Injector {
    cfg: Config,
    n: u64,
    rng: u64,
    cpus: Vec<u32>,
    peers: Arc<Mutex<Vec<libc::pthread_t>>>,
}

impl Injector {
    fn new(cfg: &Config, seed: u64, peers: Arc<Mutex<Vec<libc::pthread_t>>>) -> Self {
        let mut buf = [0u32; 1024];
        let n = rseq_percpu::allowed_cpus(&mut buf);
        Injector {
            cfg: cfg.clone(),
            n: 0,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            cpus: buf[..n].to_vec(),
            peers,
        }
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn tick(&mut self) {
        self.n += 1;
        let n = self.n;
        let c = self.cfg.clone();
        if c.yield_every != 0 && n.is_multiple_of(c.yield_every) {
            std::thread::yield_now();
        }
        if c.sleep_every != 0 && n.is_multiple_of(c.sleep_every) {
            std::thread::sleep(Duration::from_micros(50));
        }
        if c.signal_every != 0 && n.is_multiple_of(c.signal_every) {
            let pick = self.rand();
            // The lock is held while signalling: the list is cleared (under
            // it) before any worker may exit, so every target is alive.
            let peers = self.peers.lock().unwrap();
            if !peers.is_empty() {
                let t = peers[(pick % peers.len() as u64) as usize];
                #[allow(unsafe_code)]
                // SAFETY: t is a live worker thread (see above); SIGUSR1 has
                // a no-op handler.
                unsafe {
                    libc::pthread_kill(t, libc::SIGUSR1)
                };
            }
            drop(peers);
        }
        if c.migrate_every != 0 && n.is_multiple_of(c.migrate_every) && !self.cpus.is_empty() {
            let pick = self.rand();
            let cpu = self.cpus[(pick % self.cpus.len() as u64) as usize];
            rseq_percpu::pin_to_cpu(cpu as usize);
        }
    }
}

/// Runs `work(thread, injector, stop)` on `cfg.threads` threads for the
/// configured time; returns the per-thread results.
fn run_threads<R: Send + 'static>(
    cfg: &Config,
    work: impl Fn(usize, &mut Injector, &AtomicBool) -> R + Send + Sync + 'static,
) -> Vec<R> {
    run_threads_until(cfg, None, work)
}

/// `run_threads`, but the workers also keep going until `hold` (when
/// given) is set: a driver thread's whole job (CPU hotplug cycles) then
/// overlaps the workers whatever the machine's speed.
fn run_threads_until<R: Send + 'static>(
    cfg: &Config,
    hold: Option<&AtomicBool>,
    work: impl Fn(usize, &mut Injector, &AtomicBool) -> R + Send + Sync + 'static,
) -> Vec<R> {
    let stop = Arc::new(AtomicBool::new(false));
    let peers = Arc::new(Mutex::new(Vec::new()));
    let work = Arc::new(work);
    let started = Arc::new(std::sync::Barrier::new(cfg.threads + 1));
    let handles: Vec<_> = (0..cfg.threads)
        .map(|t| {
            let (stop, peers, work, started, cfg) = (
                stop.clone(),
                peers.clone(),
                work.clone(),
                started.clone(),
                cfg.clone(),
            );
            std::thread::spawn(move || {
                #[allow(unsafe_code)]
                // SAFETY: pthread_self has no preconditions.
                peers.lock().unwrap().push(unsafe { libc::pthread_self() });
                let mut inj = Injector::new(&cfg, t as u64 + 1, peers);
                started.wait();
                work(t, &mut inj, &stop)
            })
        })
        .collect();
    started.wait();
    std::thread::sleep(Duration::from_secs_f64(cfg.seconds));
    if let Some(hold) = hold {
        while !hold.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // No more signals to threads that may be exiting.
    peers.lock().unwrap().clear();
    stop.store(true, Ordering::Release);
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn mode_add(cfg: &Config) -> Result<(String, u64), String> {
    let slots = Arc::new(Slots::<CPUS, true>::new(cfg.index));
    let s = slots.clone();
    let ops: u64 = run_threads(cfg, move |_, inj, stop| {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            while s.add(s.current(), 1) != Outcome::Done {}
            n += 1;
            inj.tick();
        }
        n
    })
    .iter()
    .sum();
    check_total("add", slots.sum() as u64, ops)
}

fn mode_cmpstore(cfg: &Config) -> Result<(String, u64), String> {
    let slots = Arc::new(Slots::<CPUS, true>::new(cfg.index));
    let s = slots.clone();
    let ops: u64 = run_threads(cfg, move |_, inj, stop| {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            s.update(|w| Some(w + 1));
            n += 1;
            inj.tick();
        }
        n
    })
    .iter()
    .sum();
    check_total("load-compare-store", slots.sum() as u64, ops)
}

fn mode_storestore(cfg: &Config) -> Result<(String, u64), String> {
    let slots = Arc::new(Slots::<CPUS, true>::new(cfg.index));
    let s = slots.clone();
    let ops: u64 = run_threads(cfg, move |_, inj, stop| {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            loop {
                let at = s.current();
                let old = s.load(at);
                if s.compare_store_store(at, old, old + 1, old + 1) == Outcome::Done {
                    break;
                }
            }
            n += 1;
            inj.tick();
        }
        n
    })
    .iter()
    .sum();
    // The try-store (aux = old + 1) precedes the commit (word = old + 1) in
    // one section, after the compare (word == old): each slot's aux equals
    // its word, or is one ahead when the last section that reached the
    // try-store on that slot was aborted before its commit (the try-store is
    // speculative: an abort does not undo it) and no later section committed
    // there. Anything else is a store outside the section or on a stale slot.
    let mut ahead = 0;
    for i in 0..CPUS as u32 {
        let s = slots.slot(Where::Slot(i));
        let (w, a) = (
            s.word.load(Ordering::Relaxed),
            s.aux.load(Ordering::Relaxed),
        );
        if a == w.wrapping_add(1) {
            ahead += 1;
        } else if w != a {
            return Err(format!(
                "compare+store+store: slot {i}: word {w}, aux {a} (neither equal nor one ahead)"
            ));
        }
    }
    let (what, ops) = check_total("compare+store+store", slots.sum() as u64, ops)?;
    Ok((
        format!("{what}; {ahead} slots with an aborted try-store last"),
        ops,
    ))
}

fn check_total(what: &str, total: u64, ops: u64) -> Result<(String, u64), String> {
    if total == ops {
        Ok((format!("{what}: total {ops} exact"), ops))
    } else {
        Err(format!("{what}: total {total} != {ops} operations"))
    }
}

fn mode_counter(cfg: &Config) -> Result<(String, u64), String> {
    let c = Arc::new(Counter::<CPUS, true>::new(cfg.index));
    let cc = c.clone();
    let counts: Vec<(u64, u64)> = run_threads(cfg, move |t, inj, stop| {
        let (mut n, mut ops) = (0u64, 0u64);
        // Threads 2 and 3 of every 4 through a handle (Counter::handle).
        let mut h = cc.handle();
        let through = t % 4 >= 2;
        while !stop.load(Ordering::Relaxed) {
            match (t.is_multiple_of(2), through) {
                (true, false) => cc.inc(),
                (true, true) => h.inc(),
                (false, false) => cc.add(3),
                (false, true) => h.add(3),
            };
            n += if t.is_multiple_of(2) { 1 } else { 3 };
            ops += 1;
            inj.tick();
        }
        (n, ops)
    });
    let total: u64 = counts.iter().map(|c| c.0).sum();
    let ops: u64 = counts.iter().map(|c| c.1).sum();
    check_total("counter", c.read(), total).map(|(m, _)| (m, ops))
}

fn mode_pool(cfg: &Config) -> Result<(String, u64), String> {
    pool_stress(cfg, false)
}

/// The pool's stress, with `reclaim`: a reclaimer thread takes every
/// index's free list back to the global list in a loop, racing every
/// allocation and free (the remote access under test).
fn mode_reclaim(cfg: &Config) -> Result<(String, u64), String> {
    pool_stress(cfg, true)
}

fn pool_stress(cfg: &Config, reclaim: bool) -> Result<(String, u64), String> {
    const OBJECTS: usize = 4096;
    let pool: &'static Pool<CPUS, true> = Box::leak(Box::new(Pool::new(cfg.index, 64, 64)));
    let storage: &'static mut [u64] = Vec::leak(vec![0u64; OBJECTS * 8]);
    #[allow(unsafe_code)]
    // SAFETY: reinterpreting a leaked u64 buffer (8-aligned) as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), OBJECTS * 64) };
    pool.add_storage(bytes)
        .map_err(|e| format!("pool: {e:?}"))?;
    let reclaim_stop = Arc::new(AtomicBool::new(false));
    let reclaimer = reclaim.then(|| {
        let stop = reclaim_stop.clone();
        std::thread::spawn(move || {
            let (mut moved, mut refused, mut err) = (0usize, 0u64, 0i32);
            while !stop.load(Ordering::Relaxed) {
                for i in 0..CPUS as u32 {
                    match pool.reclaim(i) {
                        Ok(n) => moved += n,
                        Err(e) if e == -16 || e == -11 => {} // EBUSY, EAGAIN
                        // mm_cid without membarrier: refused, as documented.
                        Err(-95) => refused += 1,
                        Err(e) => err = e,
                    }
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            (moved, refused, err)
        })
    });
    let results: Vec<(Vec<usize>, u64)> = run_threads(cfg, move |t, inj, stop| {
        let mark = (t as u64 + 1).wrapping_mul(0x0101_0101_0101_0101);
        let mut held: Vec<std::ptr::NonNull<u8>> = Vec::new();
        let mut k = 0u64;
        // Odd threads through a handle (Pool::handle).
        let mut h = pool.handle();
        let through = t % 2 == 1;
        while !stop.load(Ordering::Relaxed) {
            k += 1;
            if !k.is_multiple_of(3) && held.len() < 64 {
                if let Some(o) = if through { h.alloc() } else { pool.alloc() } {
                    #[allow(unsafe_code)]
                    // SAFETY: o is ours: 64 bytes, 8-aligned.
                    unsafe {
                        std::ptr::write_bytes(o.as_ptr().cast::<u64>(), 0, 8)
                    };
                    #[allow(unsafe_code)]
                    // SAFETY: as above.
                    unsafe {
                        *o.as_ptr().cast::<u64>().add(7) = mark
                    };
                    held.push(o);
                }
            } else if let Some(o) = held.pop() {
                #[allow(unsafe_code)]
                // SAFETY: o is ours until freed.
                let m = unsafe { *o.as_ptr().cast::<u64>().add(7) };
                assert_eq!(m, mark, "pool: object handed out twice");
                #[allow(unsafe_code)]
                // SAFETY: from this pool, not used after.
                unsafe {
                    if through {
                        h.free(o)
                    } else {
                        pool.free(o)
                    }
                };
            }
            inj.tick();
        }
        (held.into_iter().map(|p| p.as_ptr() as usize).collect(), k)
    });
    reclaim_stop.store(true, Ordering::Relaxed);
    let reclaimed = match reclaimer.map(|h| h.join().unwrap()) {
        None => String::new(),
        Some((_, _, e)) if e != 0 => return Err(format!("reclaim: error {e}")),
        Some((moved, 0, _)) => format!(", {moved} objects reclaimed from per-CPU lists meanwhile"),
        Some((_, refused, _)) => {
            format!(", {refused} reclaims refused (-EOPNOTSUPP: mm_cid without membarrier)")
        }
    };
    let ops: u64 = results.iter().map(|r| r.1).sum();
    let held = results.into_iter().map(|r| r.0);
    let mut all = HashSet::new();
    for p in held.into_iter().flatten() {
        if !all.insert(p) {
            return Err("pool: object held by two threads".into());
        }
    }
    // Every free object: every index's list and the global list. Not by
    // allocating until alloc says None: its refill leaves a batch on the
    // list of the CPU this thread may then migrate from (objects counted
    // lost, 2 to 15 of them, in about 1 run in 20 under TCG), and in mm_cid
    // mode a lone thread never reaches the other concurrency ids' lists.
    let mut got = Vec::new();
    #[allow(unsafe_code)]
    // SAFETY: every worker and the reclaimer are joined.
    unsafe {
        pool.take_all_quiescent(|o| got.push(o.as_ptr() as usize))
    };
    for p in got {
        if !all.insert(p) {
            return Err("pool: free object also held, or on two lists".into());
        }
    }
    if all.len() != OBJECTS {
        return Err(format!(
            "pool: {} objects found of {OBJECTS}: lost",
            all.len()
        ));
    }
    Ok((
        format!(
            "pool: {ops} operations, all {OBJECTS} objects accounted for, none twice{reclaimed}"
        ),
        ops,
    ))
}

fn mode_ring(cfg: &Config) -> Result<(String, u64), String> {
    let ring: &'static PerCpuRing<CPUS, 256, true> =
        Box::leak(Box::new(PerCpuRing::with_mode(cfg.index)));
    let done = Arc::new(AtomicBool::new(false));
    let consumed = Arc::new(AtomicU64::new(0));
    let torn = Arc::new(AtomicU64::new(0));
    let consumer = {
        let (done, consumed, torn) = (done.clone(), consumed.clone(), torn.clone());
        std::thread::spawn(move || loop {
            let last = done.load(Ordering::Acquire);
            ring.consume(|_, p| {
                consumed.fetch_add(1, Ordering::Relaxed);
                if !record_ok(p) {
                    torn.fetch_add(1, Ordering::Relaxed);
                }
            });
            if last {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        })
    };
    let torn_w = torn.clone();
    let consumed_w = consumed.clone();
    // One operation writes one record: a write that finds its buffer full
    // is counted as lost (and checked below like every other), then the
    // writer drains the buffers itself (or yields to the consumer doing it)
    // and writes the record again. So every operation ends with a
    // committed sequence, and overruns stay a minority.
    let counts: Vec<(u64, u64)> = run_threads(cfg, move |t, inj, stop| {
        let mut buf = [0u8; RECORD_MAX];
        let (mut n, mut attempts) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            let len = record(t as u8, n, &mut buf);
            loop {
                attempts += 1;
                if ring.write(&buf[..len]).is_ok() || stop.load(Ordering::Relaxed) {
                    break;
                }
                let drained = ring.consume(|_, p| {
                    consumed_w.fetch_add(1, Ordering::Relaxed);
                    if !record_ok(p) {
                        torn_w.fetch_add(1, Ordering::Relaxed);
                    }
                });
                if drained == 0 {
                    std::thread::yield_now();
                }
            }
            n += 1;
            inj.tick();
        }
        (n, attempts)
    });
    let ops: u64 = counts.iter().map(|c| c.0).sum();
    let attempts: u64 = counts.iter().map(|c| c.1).sum();
    done.store(true, Ordering::Release);
    consumer.join().unwrap();
    let (read, lost, torn) = (
        consumed.load(Ordering::Relaxed),
        ring.lost(),
        torn.load(Ordering::Relaxed),
    );
    if torn != 0 {
        return Err(format!("ring: {torn} torn records"));
    }
    if read + lost != attempts {
        return Err(format!(
            "ring: {read} read + {lost} lost != {attempts} written"
        ));
    }
    Ok((
        format!("ring: {attempts} writes: {read} read, {lost} overruns counted, none torn"),
        ops,
    ))
}

/// Readers and writers of the per-CPU reader lock: writers (thread 1, 5,
/// 9, ...) bump two words under the write lock with a delay between the
/// stores; readers read both under the read lock with a delay between the
/// loads, and must always see them equal. Total writes must match.
fn mode_lock(cfg: &Config) -> Result<(String, u64), String> {
    struct Shared {
        lock: ReaderLock<CPUS, true>,
        a: AtomicU64,
        b: AtomicU64,
    }
    let s: &'static Shared = Box::leak(Box::new(Shared {
        lock: ReaderLock::new(cfg.index),
        a: AtomicU64::new(0),
        b: AtomicU64::new(0),
    }));
    let spin = |n: usize| {
        for _ in 0..n {
            std::hint::spin_loop();
        }
    };
    let delay = cfg.delay;
    let results: Vec<(u64, u64, u64)> = run_threads(cfg, move |t, inj, stop| {
        let (mut reads, mut writes, mut torn) = (0u64, 0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            if t % 4 == 1 {
                let g = s.lock.write();
                let v = s.a.load(Ordering::Relaxed);
                s.a.store(v + 1, Ordering::Relaxed);
                spin(delay);
                s.b.store(v + 1, Ordering::Relaxed);
                drop(g);
                writes += 1;
                // Writers are rare in a reader lock's use; keep them so.
                std::thread::sleep(Duration::from_micros(100));
            } else {
                let g = s.lock.read();
                let a = s.a.load(Ordering::Relaxed);
                spin(delay);
                let b = s.b.load(Ordering::Relaxed);
                drop(g);
                torn += u64::from(a != b);
                reads += 1;
            }
            inj.tick();
        }
        (reads, writes, torn)
    });
    let reads: u64 = results.iter().map(|r| r.0).sum();
    let writes: u64 = results.iter().map(|r| r.1).sum();
    let torn: u64 = results.iter().map(|r| r.2).sum();
    let (a, b) = (s.a.load(Ordering::Relaxed), s.b.load(Ordering::Relaxed));
    if torn != 0 {
        return Err(format!(
            "lock: {torn} of {reads} read sections saw a writer inside"
        ));
    }
    if a != writes || b != writes {
        return Err(format!("lock: words {a}/{b} after {writes} write sections"));
    }
    let inside = s.lock.readers_inside();
    if inside != 0 {
        return Err(format!("lock: reader count {inside} after all left"));
    }
    Ok((
        format!("lock: {reads} read and {writes} write sections, invariant held, total exact"),
        reads + writes,
    ))
}

/// `rcu`: an rcutorture-style run. Witness rounds first (a reader holds a
/// section with the current object while a writer retires it: with a real
/// grace period the writer cannot report it retired while the witness is
/// inside, so the witness leaves after 20 ms; in the negative controls it
/// waits for the report, so that the early grace period is caught every
/// time), then readers that check, inside each (sometimes nested) section,
/// that the object they hold is not poisoned, against writers that replace
/// it and poison the old one after `synchronize` or from an `Rcu::call`
/// callback. Objects are never freed (poisoned only): a stale read shows
/// as poison, not as a crash.
fn mode_rcu(cfg: &Config) -> Result<(String, u64), String> {
    use rseq_percpu::rcu::{Rcu, RcuHead};
    use std::cell::UnsafeCell;
    use std::sync::atomic::AtomicPtr;
    const LIVE: u64 = 0x1111_2222_3333_4444;
    const POISON: u64 = 0xdead_dead_dead_dead;
    #[repr(C)]
    struct Obj {
        head: UnsafeCell<RcuHead>,
        value: AtomicU64,
    }
    // SAFETY: `head` is written only by `Rcu::call` of the one writer that
    // retires the object, and read by the batch that runs its callback.
    #[allow(unsafe_code)]
    unsafe impl Sync for Obj {}
    fn obj() -> *mut Obj {
        Box::into_raw(Box::new(Obj {
            head: UnsafeCell::new(RcuHead::new()),
            value: AtomicU64::new(LIVE),
        }))
    }
    #[allow(unsafe_code)]
    unsafe extern "C" fn poison(head: *mut RcuHead) {
        // SAFETY: `head` is the first field of a leaked Obj (repr(C), and
        // UnsafeCell is transparent).
        unsafe { &*head.cast::<Obj>() }
            .value
            .store(POISON, Ordering::Relaxed);
    }
    struct Shared {
        rcu: Rcu<CPUS, true>,
        current: AtomicPtr<Obj>,
        holds: AtomicPtr<Obj>,
        retired: AtomicPtr<Obj>,
        broken: RcuBroken,
    }
    impl Shared {
        fn lock(&self) -> Option<rseq_percpu::rcu::ReadToken> {
            (self.broken != RcuBroken::Reader).then(|| self.rcu.read_lock())
        }
        fn unlock(&self, t: Option<rseq_percpu::rcu::ReadToken>) {
            if let Some(t) = t {
                #[allow(unsafe_code)]
                // SAFETY: the token of this thread's own lock, once.
                unsafe {
                    self.rcu.read_unlock(t)
                };
            }
        }
        fn get(&self) -> &Obj {
            #[allow(unsafe_code)]
            // SAFETY: objects are leaked, never freed.
            unsafe {
                &*self.current.load(Ordering::Acquire)
            }
        }
        /// Replaces the current object and retires the old one.
        fn retire(&self, by_call: bool) -> *mut Obj {
            let old = self.current.swap(obj(), Ordering::AcqRel);
            if self.broken == RcuBroken::Sync {
                #[allow(unsafe_code)]
                // SAFETY: leaked object.
                unsafe { &*old }.value.store(POISON, Ordering::Relaxed);
            } else if by_call {
                #[allow(unsafe_code)]
                // SAFETY: a leaked object's head, queued once.
                unsafe {
                    self.rcu.call((*old).head.get(), poison)
                };
            } else {
                self.rcu.synchronize();
                #[allow(unsafe_code)]
                // SAFETY: leaked object.
                unsafe { &*old }.value.store(POISON, Ordering::Relaxed);
            }
            old
        }
    }
    let s: &'static Shared = Box::leak(Box::new(Shared {
        rcu: Rcu::new(cfg.index),
        current: AtomicPtr::new(obj()),
        holds: AtomicPtr::new(std::ptr::null_mut()),
        retired: AtomicPtr::new(std::ptr::null_mut()),
        broken: cfg.rcu_broken,
    }));
    let mut witness_bad = 0;
    for round in 0..4 {
        s.holds.store(std::ptr::null_mut(), Ordering::Relaxed);
        let w = std::thread::spawn(move || {
            let t = s.lock();
            let o = s.get();
            s.holds
                .store(o as *const Obj as *mut Obj, Ordering::Release);
            let mine = |p: *mut Obj| std::ptr::eq(p, o);
            if s.broken == RcuBroken::None {
                let end = Instant::now() + Duration::from_millis(20);
                while !mine(s.retired.load(Ordering::Acquire)) && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(1));
                }
            } else {
                while !mine(s.retired.load(Ordering::Acquire)) {
                    std::thread::yield_now();
                }
            }
            let bad = o.value.load(Ordering::Relaxed) != LIVE;
            s.unlock(t);
            bad
        });
        while s.holds.load(Ordering::Acquire).is_null() {
            std::thread::yield_now();
        }
        let old = s.retire(round % 2 == 1);
        if round % 2 == 1 && s.broken != RcuBroken::Sync {
            s.rcu.barrier();
        }
        s.retired.store(old, Ordering::Release);
        witness_bad += usize::from(w.join().unwrap());
    }
    // With --hotplug-cycles (root, tests/kernels/hotplug.sh): CPUs 1.. go
    // offline and back while the torture runs, so sections lock on a CPU
    // that goes away and unlock elsewhere; the workers run until the last
    // cycle is done.
    if cfg.hotplug_cycles > 0 && rseq_percpu::possible_cpus() < 2 {
        return Err("rcu hotplug: needs CPU 1".into());
    }
    let hotplug_done: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let hotplug = (cfg.hotplug_cycles > 0).then(|| {
        let cycles = cfg.hotplug_cycles;
        let ncpu = rseq_percpu::possible_cpus();
        std::thread::spawn(move || {
            let mut result = Ok(0usize);
            'cycles: for k in 0..cycles {
                for c in 1..ncpu {
                    let step = set_online(c, false).and_then(|()| {
                        std::thread::sleep(Duration::from_millis(15));
                        set_online(c, true)
                    });
                    if let Err(e) = step {
                        result = Err(format!("rcu hotplug: {e}"));
                        break 'cycles;
                    }
                }
                result = Ok(k + 1);
            }
            hotplug_done.store(true, Ordering::Release);
            result
        })
    });
    let hold = hotplug.is_some().then_some(hotplug_done);
    let results: Vec<(u64, u64, u64)> = run_threads_until(cfg, hold, move |t, inj, stop| {
        let (mut sections, mut retired, mut bad) = (0u64, 0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            if t % 4 == 1 {
                s.retire(retired % 2 == 1);
                retired += 1;
            } else {
                let outer = s.lock();
                let inner = sections.is_multiple_of(8).then(|| s.lock());
                let o = s.get();
                for _ in 0..(t * 7 % 50) {
                    std::hint::spin_loop();
                }
                bad += u64::from(o.value.load(Ordering::Relaxed) != LIVE);
                if let Some(i) = inner {
                    s.unlock(i);
                }
                s.unlock(outer);
                sections += 1;
            }
            inj.tick();
        }
        (sections, retired, bad)
    });
    s.rcu.barrier();
    let cycles = match hotplug.map(|h| h.join()) {
        None => String::new(),
        Some(Ok(Ok(n))) => format!(", {n} CPU hotplug cycles meanwhile"),
        Some(Ok(Err(e))) => return Err(e),
        Some(Err(_)) => return Err("rcu hotplug: the driver thread panicked".into()),
    };
    let sections: u64 = results.iter().map(|r| r.0).sum();
    let retired: u64 = results.iter().map(|r| r.1).sum();
    let bad: u64 = results.iter().map(|r| r.2).sum();
    let control = match s.broken {
        RcuBroken::None => "",
        RcuBroken::Sync => " (negative control: grace periods end at once)",
        RcuBroken::Reader => " (negative control: readers skip the lock)",
    };
    if witness_bad != 0 {
        return Err(format!(
            "rcu{control}: {witness_bad} of 4 witness sections saw their object poisoned"
        ));
    }
    if bad != 0 {
        return Err(format!(
            "rcu{control}: {bad} of {sections} read sections held a poisoned object"
        ));
    }
    let inside = s.rcu.readers_inside();
    if inside != 0 {
        return Err(format!("rcu: reader count {inside} after all left"));
    }
    Ok((
        format!(
            "rcu{control}: 4 witness rounds, {sections} read sections, {retired} objects retired \
             ({} grace periods{cycles}), none seen poisoned",
            s.rcu.grace_periods()
        ),
        // Each section: a lock and an unlock sequence (the nested ones not
        // counted: a lower bound).
        2 * sections + retired,
    ))
}

/// Which records a thread wrote, or a consumer read: a bitmap by sequence
/// number.
#[derive(Default, Clone)]
pub(crate) struct SeqSet(pub(crate) Vec<u64>);

impl SeqSet {
    /// Sets `seq`; false when it was set already.
    pub(crate) fn insert(&mut self, seq: u64) -> bool {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.0.len() {
            self.0.resize((w + 1).next_power_of_two(), 0);
        }
        let had = self.0[w] & (1 << b) != 0;
        self.0[w] |= 1 << b;
        !had
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The first sequence number in one set and not the other.
    fn first_difference(&self, other: &SeqSet) -> Option<u64> {
        let n = self.0.len().max(other.0.len());
        (0..n).find_map(|w| {
            let a = self.0.get(w).copied().unwrap_or(0);
            let b = other.0.get(w).copied().unwrap_or(0);
            (a != b).then(|| w as u64 * 64 + u64::from((a ^ b).trailing_zeros()))
        })
    }
}

/// What a flush-ring consumer saw: per producer, the sequence numbers read;
/// torn and duplicated records.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) seqs: Vec<SeqSet>,
    torn: u64,
    dup: u64,
    pub(crate) records: u64,
}

impl Seen {
    pub(crate) fn take(&mut self, p: &[u8]) {
        self.records += 1;
        if !record_ok(p) {
            self.torn += 1;
            return;
        }
        let t = p[1] as usize;
        let seq = u64::from_le_bytes(p[2..10].try_into().unwrap());
        if t >= self.seqs.len() {
            self.seqs.resize(t + 1, SeqSet::default());
        }
        if !self.seqs[t].insert(seq) {
            self.dup += 1;
        }
    }

    /// Every record written read once, none read that was not written.
    pub(crate) fn check(&self, written: &[SeqSet]) -> Result<(), String> {
        if self.torn != 0 || self.dup != 0 {
            return Err(format!(
                "{} torn and {} duplicated records",
                self.torn, self.dup
            ));
        }
        let empty = SeqSet::default();
        for (t, w) in written.iter().enumerate() {
            let r = self.seqs.get(t).unwrap_or(&empty);
            if let Some(seq) = w.first_difference(r) {
                return Err(format!(
                    "producer {t} record {seq}: written {}, read {} ({} written, {} read)",
                    w.0.get(seq as usize / 64)
                        .is_some_and(|x| x & (1 << (seq % 64)) != 0),
                    r.0.get(seq as usize / 64)
                        .is_some_and(|x| x & (1 << (seq % 64)) != 0),
                    w.count(),
                    r.count()
                ));
            }
        }
        Ok(())
    }
}

type StressFlush = FlushRing<CPUS, 64, 48, true>;

/// The flush ring: producers write sequence-numbered records (one write
/// attempt per operation: written, or dropped and reported) while a
/// consumer takes every CPU's partially filled packet away in a loop
/// (exchange + membarrier to that CPU, or the visiting fallback). Exact:
/// every record a producer was told was written is read once, whole; none
/// other is read.
fn mode_flush(cfg: &Config) -> Result<(String, u64), String> {
    let ring: &'static StressFlush = Box::leak(Box::new(FlushRing::new()));
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = Seen::default();
            let (mut flushes, mut packets, mut deferred) = (0u64, 0u64, 0u64);
            loop {
                let last = done.load(Ordering::Acquire);
                match ring.flush(|_, p| seen.take(p)) {
                    Ok(st) => {
                        flushes += 1;
                        packets += st.packets;
                        deferred += st.deferred;
                    }
                    Err(e) => return Err(format!("flush: error {e}")),
                }
                if last {
                    break;
                }
                std::thread::yield_now();
            }
            Ok((seen, flushes, packets, deferred))
        })
    };
    let results: Vec<(SeqSet, u64, u64)> = run_threads(cfg, move |t, inj, stop| {
        let mut buf = [0u8; RECORD_MAX];
        let mut written = SeqSet::default();
        let (mut seq, mut lost) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            let len = record(t as u8, seq, &mut buf);
            if ring.write(&buf[..len]).is_ok() {
                written.insert(seq);
            } else {
                lost += 1;
                std::thread::yield_now();
            }
            seq += 1;
            inj.tick();
        }
        (written, seq, lost)
    });
    done.store(true, Ordering::Release);
    let (seen, flushes, packets, deferred) = consumer.join().unwrap()?;
    let ops: u64 = results.iter().map(|r| r.1).sum();
    let lost: u64 = results.iter().map(|r| r.2).sum();
    let written: Vec<SeqSet> = results.into_iter().map(|r| r.0).collect();
    let n_written: u64 = written.iter().map(SeqSet::count).sum();
    seen.check(&written).map_err(|e| format!("flush: {e}"))?;
    if ring.lost() != lost || n_written + lost != ops {
        return Err(format!(
            "flush: {} drops counted by the ring, {lost} reported, {n_written} + {lost} != {ops}",
            ring.lost()
        ));
    }
    Ok((
        format!(
            "flush: {ops} writes: {n_written} records read exactly once, none torn, {lost} dropped \
             and reported; {flushes} flushes took {packets} packets ({} installs of 48 packets, \
             {deferred} deferred)",
            ring.installs()
        ),
        ops,
    ))
}

fn sysfs_online(cpu: usize) -> String {
    format!("/sys/devices/system/cpu/cpu{cpu}/online")
}

/// Takes `cpu` offline (`on` false) or online through sysfs, and checks the
/// file reads back the new state.
pub(crate) fn set_online(cpu: usize, on: bool) -> Result<(), String> {
    let path = sysfs_online(cpu);
    let want = if on { "1" } else { "0" };
    std::fs::write(&path, want).map_err(|e| format!("write {want} to {path}: {e}"))?;
    let got = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    if got.trim() != want {
        return Err(format!("{path} reads {} after writing {want}", got.trim()));
    }
    Ok(())
}

type HotplugFlush = FlushRing<CPUS, 32, 8, true>;

/// CPU hotplug while counters, the pool and the flush ring run (root, a
/// kernel with CPU hotplug; tests/kernels/hotplug.sh). The driver (this
/// thread) takes CPU 1, 2, ... offline and back, `--cycles` times in all;
/// at each step it pauses the workers (they hold their objects) and checks:
/// offline: a flush leaves the CPU no packet (its packet is back on the
/// free stack), a reclaim leaves its pool list empty, and every object is
/// on the global list, an online CPU's list or held (nothing stranded on
/// the offline CPU); back online: a thread pinned there writes a record
/// into a packet installed from the free stack and allocates and frees
/// objects, which refill the CPU's list from the global one (the reclaimed
/// memory reused). With 8 packets and more cycles than that, the installs
/// exceed the packets: reuse. At the end: counter exact, every object
/// found once, every record written read once.
fn mode_hotplug(cfg: &Config) -> Result<(String, u64), String> {
    const OBJECTS: usize = 2048;
    const PACKETS: u64 = 8;
    struct Shared {
        counter: Counter<CPUS, true>,
        pool: Pool<CPUS, true>,
        ring: HotplugFlush,
        pause: AtomicBool,
        paused: AtomicU64,
        held: AtomicU64,
        incs: AtomicU64,
    }
    let s: &'static Shared = Box::leak(Box::new(Shared {
        counter: Counter::new(IndexMode::CpuId),
        pool: Pool::new(IndexMode::CpuId, 64, 32),
        ring: FlushRing::new(),
        pause: AtomicBool::new(false),
        paused: AtomicU64::new(0),
        held: AtomicU64::new(0),
        incs: AtomicU64::new(0),
    }));
    let storage: &'static mut [u64] = Vec::leak(vec![0u64; OBJECTS * 8]);
    #[allow(unsafe_code)]
    // SAFETY: reinterpreting a leaked u64 buffer (8-aligned) as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(storage.as_mut_ptr().cast::<u8>(), OBJECTS * 64) };
    s.pool
        .add_storage(bytes)
        .map_err(|e| format!("pool: {e:?}"))?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if ncpu < 2 || !std::path::Path::new(&sysfs_online(1)).exists() {
        return Err(format!(
            "hotplug: needs CPU 1 with {} ({ncpu} CPUs)",
            sysfs_online(1)
        ));
    }
    let fallback = rseq_percpu::remote::fallback_only();
    let threads = cfg.threads;
    let mut initial_mask = [0u64; 16];
    let mut initial_cpus = [0u32; 1024];
    let n_initial = rseq_percpu::allowed_cpus(&mut initial_cpus);
    for &c in &initial_cpus[..n_initial] {
        initial_mask[c as usize / 64] |= 1 << (c % 64);
    }
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = Seen::default();
            loop {
                let last = done.load(Ordering::Acquire);
                if let Err(e) = s.ring.flush(|_, p| seen.take(p)) {
                    if e != -16 {
                        return Err(format!("flush: error {e}"));
                    }
                }
                if last {
                    return Ok(seen);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (stop, cfg) = (stop.clone(), cfg.clone());
            std::thread::spawn(move || {
                let mut inj = Injector::new(&cfg, t as u64 + 1, Arc::new(Mutex::new(Vec::new())));
                let mut buf = [0u8; RECORD_MAX];
                let mut written = SeqSet::default();
                let mark = (t as u64 + 1).wrapping_mul(0x0101_0101_0101_0101);
                let mut held: Vec<std::ptr::NonNull<u8>> = Vec::new();
                let (mut seq, mut ops, mut incs) = (0u64, 0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    if s.pause.load(Ordering::Acquire) {
                        s.paused.fetch_add(1, Ordering::AcqRel);
                        while s.pause.load(Ordering::Acquire) {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        s.paused.fetch_sub(1, Ordering::AcqRel);
                    }
                    match ops % 3 {
                        0 => {
                            s.counter.inc();
                            incs += 1;
                        }
                        1 => {
                            if held.len() < 16 && seq % 2 == 0 {
                                if let Some(o) = s.pool.alloc() {
                                    #[allow(unsafe_code)]
                                    // SAFETY: o is ours: 64 bytes, 8-aligned.
                                    unsafe {
                                        *o.as_ptr().cast::<u64>().add(7) = mark
                                    };
                                    held.push(o);
                                    s.held.fetch_add(1, Ordering::Relaxed);
                                }
                            } else if let Some(o) = held.pop() {
                                #[allow(unsafe_code)]
                                // SAFETY: o is ours until freed.
                                let m = unsafe { *o.as_ptr().cast::<u64>().add(7) };
                                assert_eq!(m, mark, "pool: object handed out twice");
                                s.held.fetch_sub(1, Ordering::Relaxed);
                                #[allow(unsafe_code)]
                                // SAFETY: from this pool, not used after.
                                unsafe {
                                    s.pool.free(o)
                                };
                            }
                        }
                        _ => {
                            let len = record(t as u8, seq, &mut buf);
                            if s.ring.write(&buf[..len]).is_ok() {
                                written.insert(seq);
                            }
                            seq += 1;
                        }
                    }
                    ops += 1;
                    inj.tick();
                }
                s.incs.fetch_add(incs, Ordering::Relaxed);
                (
                    written,
                    held.into_iter()
                        .map(|p| p.as_ptr() as usize)
                        .collect::<Vec<_>>(),
                    ops,
                )
            })
        })
        .collect();
    // Pauses the workers; they hold their objects meanwhile.
    let pause = |on: bool| {
        s.pause.store(on, Ordering::Release);
        if on {
            while s.paused.load(Ordering::Acquire) != threads as u64 {
                std::thread::sleep(Duration::from_micros(200));
            }
        } else {
            while s.paused.load(Ordering::Acquire) != 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    };
    let flush_now = |seen_by_driver: &mut Seen| loop {
        match s.ring.flush(|_, p| seen_by_driver.take(p)) {
            Err(-16) => std::thread::yield_now(),
            r => return r,
        }
    };
    let mut driver_seen = Seen::default();
    let mut log = Vec::new();
    let mut result: Result<(), String> = Ok(());
    let (mut reclaimed, mut deferred) = (0usize, 0u64);
    let cycle_cpus = ncpu - 1;
    std::thread::sleep(Duration::from_secs_f64(cfg.seconds.min(1.0)));
    for cycle in 0..cfg.cycles {
        let c = 1 + cycle % cycle_cpus;
        let step = (|| -> Result<String, String> {
            set_online(c, false)?;
            std::thread::sleep(Duration::from_millis(20));
            pause(true);
            let st = flush_now(&mut driver_seen).map_err(|e| format!("flush: {e}"))?;
            let r = s.pool.reclaim(c as u32);
            let mut note = String::new();
            if fallback {
                // The visiting fence cannot reach an offline CPU: nothing
                // moves (an empty list needs no fence), the packet waits.
                if !matches!(r, Err(-11) | Ok(0)) {
                    return Err(format!(
                        "cpu {c} offline, fallback fence: reclaim {r:?}: expected -EAGAIN"
                    ));
                }
                deferred += st.deferred;
                note.push_str(&format!("reclaim {r:?}, {} packets deferred", st.deferred));
            } else {
                let n = r.map_err(|e| format!("reclaim of offline cpu {c}: {e}"))?;
                reclaimed += n;
                if s.ring.has_packet(c as u32) != Some(false) {
                    return Err(format!(
                        "cpu {c} offline: still holds a packet after a flush"
                    ));
                }
                if s.pool.cpu_len(c as u32) != Some(0) {
                    return Err(format!(
                        "cpu {c} offline: pool list not empty after reclaim"
                    ));
                }
                let on_lists: usize = (0..CPUS as u32)
                    .filter(|&i| i as usize != c)
                    .map(|i| s.pool.cpu_len(i).unwrap_or(0))
                    .sum();
                let total =
                    s.pool.global_len() + on_lists + s.held.load(Ordering::Relaxed) as usize;
                if total != OBJECTS {
                    return Err(format!(
                        "cpu {c} offline: {} global + {on_lists} on online CPUs + {} held = \
                         {total} != {OBJECTS}",
                        s.pool.global_len(),
                        s.held.load(Ordering::Relaxed)
                    ));
                }
                note.push_str(&format!("{n} objects and {} packets reclaimed", st.packets));
            }
            pause(false);
            std::thread::sleep(Duration::from_millis(20));
            set_online(c, true)?;
            // The fallback's visits restore the affinity sched_getaffinity
            // reported, which leaves out CPUs offline at the time: give the
            // driver (and the threads it starts) all its CPUs back.
            rseq_percpu::set_affinity(&initial_mask);
            // A thread on the CPU that came back, the workers paused and
            // every packet flushed (so that the free stack has packets and
            // the probe's record finds room whatever the timing): a packet
            // from the free stack, objects from the global list.
            pause(true);
            flush_now(&mut driver_seen).map_err(|e| format!("flush: {e}"))?;
            let probe = std::thread::spawn(move || -> Result<String, String> {
                if rseq_percpu::pin_to_cpu(c) != 0 {
                    return Err(format!("cannot pin to cpu {c} after onlining it"));
                }
                let mut buf = [0u8; RECORD_MAX];
                let len = record(255, cycle as u64, &mut buf);
                // The consumer may take the new packet away between the
                // install and the write: the write installs another; no
                // other writer runs, so it cannot find its packet full.
                let wrote = s.ring.write(&buf[..len]).ok();
                let registered = rseq_registration::current_area().is_some();
                match wrote {
                    Some(Where::Slot(i)) if i as usize == c => {}
                    Some(Where::Fallback) if !registered => {}
                    w => return Err(format!("probe on cpu {c}: record went to {w:?}")),
                }
                let objs: Vec<_> = (0..4).filter_map(|_| s.pool.alloc()).collect();
                if objs.len() != 4 {
                    return Err(format!("probe on cpu {c}: pool gave {} of 4", objs.len()));
                }
                for o in objs {
                    #[allow(unsafe_code)]
                    // SAFETY: from this pool, not used after.
                    unsafe {
                        s.pool.free(o)
                    };
                }
                Ok(format!(
                    "cpu {c} back: record in its new packet, pool list refilled"
                ))
            });
            let back = probe.join().map_err(|_| "probe panicked".to_string())??;
            pause(false);
            Ok(format!("{note}; {back}"))
        })();
        match step {
            Ok(m) => log.push(format!("cycle {cycle}: cpu {c} offline: {m}")),
            Err(e) => {
                pause(false);
                let _ = set_online(c, true);
                result = Err(format!("cycle {cycle}: {e}"));
                break;
            }
        }
    }
    for c in 1..ncpu {
        let _ = set_online(c, true);
    }
    stop.store(true, Ordering::Release);
    let results: Vec<_> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    done.store(true, Ordering::Release);
    let mut seen = consumer.join().unwrap()?;
    for l in &log {
        println!("  {l}");
    }
    result?;
    // Whatever a failed fence left pending (fallback), now that no
    // producer runs.
    #[allow(unsafe_code)]
    // SAFETY: every producer has exited and the consumer too.
    let late = unsafe { s.ring.drain_quiescent(|_, p| seen.take(p)) };
    // The driver's flushes and probes' records count as read / written.
    seen.records += driver_seen.records;
    seen.torn += driver_seen.torn;
    seen.dup += driver_seen.dup;
    for (t, set) in driver_seen.seqs.iter().enumerate() {
        for (w, bits) in set.0.iter().enumerate() {
            for b in 0..64 {
                if bits & (1 << b) != 0 {
                    if seen.seqs.len() <= t {
                        seen.seqs.resize(t + 1, SeqSet::default());
                    }
                    if !seen.seqs[t].insert(w as u64 * 64 + b) {
                        seen.dup += 1;
                    }
                }
            }
        }
    }
    let ops: u64 = results.iter().map(|r| r.2).sum();
    let mut written: Vec<SeqSet> = results.iter().map(|r| r.0.clone()).collect();
    written.resize(256, SeqSet::default());
    for cycle in 0..cfg.cycles {
        written[255].insert(cycle as u64);
    }
    seen.check(&written)
        .map_err(|e| format!("hotplug ring: {e}"))?;
    let incs = s.incs.load(Ordering::Relaxed);
    if s.counter.read() != incs {
        return Err(format!("hotplug counter: {} != {incs}", s.counter.read()));
    }
    let mut all = HashSet::new();
    for p in results.iter().flat_map(|r| r.1.iter()) {
        if !all.insert(*p) {
            return Err("hotplug pool: object held twice".into());
        }
    }
    rseq_percpu::set_affinity(&initial_mask);
    let got = std::thread::spawn(move || {
        let mut got = Vec::new();
        for &c in &initial_cpus[..n_initial] {
            rseq_percpu::pin_to_cpu(c as usize);
            while let Some(o) = s.pool.alloc() {
                got.push(o.as_ptr() as usize);
            }
        }
        got
    })
    .join()
    .unwrap();
    for p in got {
        if !all.insert(p) {
            return Err("hotplug pool: free object also held, or on two lists".into());
        }
    }
    if all.len() != OBJECTS {
        return Err(format!(
            "hotplug pool: {} objects of {OBJECTS}: lost",
            all.len()
        ));
    }
    let installs = s.ring.installs();
    if !fallback && rseq_registration::current_area().is_some() && installs <= PACKETS {
        return Err(format!(
            "hotplug ring: {installs} packet installs over {} cycles: no reuse of the {PACKETS} packets",
            cfg.cycles
        ));
    }
    Ok((
        format!(
            "hotplug: {} offline/online cycles; counter exact ({incs}); {} pool objects reclaimed \
             from offline CPUs, all {OBJECTS} accounted for, none twice; {} records read exactly \
             once ({} after the run), {} packet installs of {PACKETS} packets (reused), {deferred} \
             deferred flushes",
            cfg.cycles, reclaimed, seen.records, late.records, installs
        ),
        ops,
    ))
}

/// A variable-length record whose every byte depends on (thread, seq, len).
pub(crate) fn record(t: u8, seq: u64, buf: &mut [u8; RECORD_MAX]) -> usize {
    let len = 10 + (seq as usize % (RECORD_MAX - 9));
    buf[0] = len as u8;
    buf[1] = t;
    buf[2..10].copy_from_slice(&seq.to_le_bytes());
    for (k, b) in buf.iter_mut().enumerate().take(len).skip(10) {
        *b = (seq as u8) ^ t ^ (k as u8).wrapping_mul(31);
    }
    len
}

fn record_ok(p: &[u8]) -> bool {
    if p.len() < 10 || p[0] as usize != p.len() {
        return false;
    }
    let t = p[1];
    let seq = u64::from_le_bytes(p[2..10].try_into().unwrap());
    p.iter()
        .enumerate()
        .skip(10)
        .all(|(k, b)| *b == (seq as u8) ^ t ^ (k as u8).wrapping_mul(31))
}

/// `rseq-libc stress ...`: 0 when every mode passed.
pub fn run(args: &[String]) -> i32 {
    let ncpu = rseq_percpu::possible_cpus();
    let mut cfg = Config {
        seconds: 1.0,
        threads: 8 * ncpu.max(1),
        delay: 50,
        trap_every: 32,
        yield_every: 97,
        sleep_every: 4099,
        signal_every: 499,
        migrate_every: 1021,
        index: IndexMode::CpuId,
        cycles: 12,
        hotplug_cycles: 0,
        private_fence: false,
        rcu_broken: RcuBroken::None,
    };
    let mut modes: Vec<&str> = MODES.to_vec();
    let mut chosen = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Option<f64> {
            let v = it.next().and_then(|v| v.parse::<f64>().ok());
            if v.is_none() {
                eprintln!("rseq-libc stress: {name} needs a number");
            }
            v
        };
        match a.as_str() {
            "--seconds" => match num(a) {
                Some(v) => cfg.seconds = v,
                None => return usage(),
            },
            "--threads" => match num(a) {
                Some(v) => cfg.threads = v as usize,
                None => return usage(),
            },
            "--delay" => match num(a) {
                Some(v) => cfg.delay = v as usize,
                None => return usage(),
            },
            "--trap" => match num(a) {
                Some(v) => cfg.trap_every = v as usize,
                None => return usage(),
            },
            "--yield" => match num(a) {
                Some(v) => cfg.yield_every = v as u64,
                None => return usage(),
            },
            "--sleep" => match num(a) {
                Some(v) => cfg.sleep_every = v as u64,
                None => return usage(),
            },
            "--signal" => match num(a) {
                Some(v) => cfg.signal_every = v as u64,
                None => return usage(),
            },
            "--migrate" => match num(a) {
                Some(v) => cfg.migrate_every = v as u64,
                None => return usage(),
            },
            "--cycles" => match num(a) {
                Some(v) => cfg.cycles = v as usize,
                None => return usage(),
            },
            "--hotplug-cycles" => match num(a) {
                Some(v) => cfg.hotplug_cycles = v as usize,
                None => return usage(),
            },
            "--fallback-fence" => rseq_percpu::remote::set_fallback_only(true),
            "--private-fence" => cfg.private_fence = true,
            "--rcu-broken" => match it.next().map(String::as_str) {
                Some("sync") => cfg.rcu_broken = RcuBroken::Sync,
                Some("reader") => cfg.rcu_broken = RcuBroken::Reader,
                _ => return usage(),
            },
            "--mm-cid" => cfg.index = IndexMode::MmCid.or_supported(),
            "--no-inject" => {
                cfg.delay = 0;
                cfg.trap_every = 0;
                cfg.yield_every = 0;
                cfg.sleep_every = 0;
                cfg.signal_every = 0;
                cfg.migrate_every = 0;
            }
            // Repeatable: the first --mode replaces the default list.
            "--mode" => match it.next().map(String::as_str) {
                Some("all") => modes = MODES.to_vec(),
                Some(m) if MODES.contains(&m) || EXTRA_MODES.contains(&m) => {
                    let name = *MODES.iter().chain(EXTRA_MODES).find(|x| **x == m).unwrap();
                    if !chosen {
                        modes.clear();
                        chosen = true;
                    }
                    modes.push(name);
                }
                _ => return usage(),
            },
            "-h" | "--help" => {
                usage();
                return 0;
            }
            _ => return usage(),
        }
    }
    cfg.threads = cfg.threads.max(1);
    #[allow(unsafe_code)]
    // SAFETY: installs a no-op handler for SIGUSR1 (async-signal-safe).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        // The forced aborts' trap: without a handler SIGTRAP kills.
        sa.sa_sigaction = on_sigtrap as *const () as usize;
        libc::sigaction(libc::SIGTRAP, &sa, std::ptr::null_mut());
    }
    // The abort rate is required only where it is forced: traps on and an
    // area to run sections with.
    let forced = cfg.trap_every != 0;
    let injected = cfg.delay != 0
        || forced
        || cfg.yield_every != 0
        || cfg.signal_every != 0
        || cfg.sleep_every != 0
        || cfg.migrate_every != 0;
    let registered = rseq_registration::current_area().is_some();
    println!(
        "stress: {} threads on {} CPUs, {} s per mode, index {:?}, delay {} at 3 points, forced abort every {} sections, yield/sleep/signal/migrate every {}/{}/{}/{} ops, rseq {}",
        cfg.threads,
        ncpu,
        cfg.seconds,
        cfg.index,
        cfg.delay,
        cfg.trap_every,
        cfg.yield_every,
        cfg.sleep_every,
        cfg.signal_every,
        cfg.migrate_every,
        if registered { "registered" } else { "unavailable: atomic fallback" }
    );
    println!(
        "stress: remote fences by {}",
        if rseq_percpu::remote::fallback_only() {
            "visiting the CPU (fallback)"
        } else {
            "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU)"
        }
    );
    if modes.iter().any(|m| m.starts_with("shared")) {
        println!(
            "stress: shared structures fence by {}",
            if cfg.private_fence {
                "the private membarrier fence (negative control: --private-fence)"
            } else {
                "visiting the CPU (fence_cpu_shared: every process's sections)"
            }
        );
    }
    let d = cfg.delay.min(u32::MAX as usize) as u32;
    rseq_percpu::set_injection([d; 3], cfg.trap_every);
    let (mut passed, mut failed) = (0, 0);
    for m in modes {
        rseq_percpu::take_aborts();
        rseq_percpu::take_injection_stats();
        TRAPS.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let r = match m {
            "add" => mode_add(&cfg),
            "cmpstore" => mode_cmpstore(&cfg),
            "storestore" => mode_storestore(&cfg),
            "counter" => mode_counter(&cfg),
            "pool" => mode_pool(&cfg),
            "lock" => mode_lock(&cfg),
            "flush" => mode_flush(&cfg),
            "reclaim" => mode_reclaim(&cfg),
            "rcu" => mode_rcu(&cfg),
            "hotplug" => mode_hotplug(&cfg),
            "shared" => crate::stress_shared::mode_shared(&cfg),
            "shared-forced" => crate::stress_shared::mode_shared_forced(&cfg, cfg.private_fence),
            _ => mode_ring(&cfg),
        };
        let aborts = rseq_percpu::take_aborts() as u64;
        let st = rseq_percpu::take_injection_stats();
        let traps = TRAPS.load(Ordering::Relaxed);
        let r = r.and_then(|(msg, ops)| {
            // The shared modes' sections run in their child processes,
            // which the modes count and check themselves.
            let (forced, injected) = if m.starts_with("shared") {
                (false, false)
            } else {
                (forced, injected)
            };
            let rate = aborts as f64 * 1000.0 / ops.max(1) as f64;
            let msg = if m.starts_with("shared") {
                msg
            } else {
                format!(
                    "{msg}; {ops} ops, {} sections, {aborts} aborts ({rate:.2} per 1000 ops), \
                     {} forced ({traps} SIGTRAPs)",
                    st.sections, st.traps_aborted
                )
            };
            if st.traps_committed != 0 {
                Err(format!(
                    "{msg}; but {} sections committed after their forced abort: the kernel \
                     did not restart them",
                    st.traps_committed
                ))
            } else if forced && registered && aborts.saturating_mul(1000) < ops {
                Err(format!(
                    "{msg}; but below 1 abort per 1000 operations: the restart path ran too rarely"
                ))
            } else if injected && registered && aborts == 0 {
                Err(format!(
                    "{msg}; but 0 aborts with injection: the restart path never ran"
                ))
            } else {
                Ok(msg)
            }
        });
        match r {
            Ok(msg) => {
                passed += 1;
                println!("PASS {m}: {msg} ({:.1} s)", t.elapsed().as_secs_f64());
            }
            Err(msg) => {
                failed += 1;
                println!("FAIL {m}: {msg}");
            }
        }
    }
    rseq_percpu::set_injection([0; 3], 0);
    println!("{passed} passed, {failed} failed");
    i32::from(failed != 0)
}
