//! `rseq-libc stress --mode shared` and `--mode shared-forced`: per-CPU
//! structures in `MAP_SHARED` memory used by several processes, the seed's
//! use case (traced applications write per-CPU buffers that a consumer
//! daemon, another process, flushes).
//!
//! `shared`: a flush ring and a pool, both created shared, in a memfd
//! mapping. Producer processes (forked, one thread each, `--threads` of them
//! at a time, in generations) write numbered records with the injected
//! stress (delay loops and a forced abort in every `--trap`-th section,
//! yields, migrations) and allocate and free pool objects, marking each
//! object's owner in a shared table. A consumer process maps the memfd a
//! second time, at another address, flushes the ring through that mapping
//! and reclaims every CPU's pool list, both with the cross-process fence.
//! Most producers of every generation but the last are SIGKILLed at a
//! deterministic point: half of them inside a section (from the `SIGTRAP`
//! handler of their Nth forced abort: the section is interrupted between
//! its loads and its commit), half between two records (after N records).
//! At the end: every record a producer committed (acknowledged in shared
//! memory right after the write returned) read exactly once, whole; no
//! record read that was not committed; no pool object handed out twice
//! (the owner table and the objects' marks); every object free, held by a
//! dead producer, or lost by one death (at most one per death: the object
//! in flight when it died). With `--hotplug-cycles N` (root, a kernel with
//! CPU hotplug) another process takes CPUs 1.. offline and back meanwhile.
//!
//! `shared-forced`: the negative control made deterministic. A producer
//! process pinned to one CPU (`SCHED_FIFO` when permitted, so that nothing
//! else preempts it there) enters a section that spins about half a second
//! between its loads and its commit; meanwhile the consumer process, on
//! another CPU, flushes. With the cross-process fence the consumer visits
//! the producer's CPU: the section restarts (or, under `SCHED_FIFO`, the
//! visit waits until it committed), and every record is read once. With
//! `--private-fence` (the private `membarrier` fence in place of the
//! cross-process one: it does not reach another process) the section
//! commits into a packet the consumer already read and freed: records lost
//! or duplicated, and the mode fails. A round counts as conclusive when the
//! producer's section ran without an abort and the consumer's flush did not
//! see its record; without any conclusive round the result says
//! "inconclusive" (no `SCHED_FIFO`, the producer was preempted).

use crate::stress::{record, set_online, Config, Seen, SeqSet, CPUS, TRAPS_TO_DIE};
use rseq_percpu::flush::FlushRing;
use rseq_percpu::pool::Pool;
use rseq_percpu::ring::RECORD_MAX;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Producer ids (records carry one byte).
const MAX_PRODUCERS: usize = 250;
/// Pool objects, of `OBJ` bytes.
const OBJS: usize = 512;
const OBJ: usize = 64;
/// Rounds of the forced mode.
const ROUNDS: usize = 6;

type ShRing = FlushRing<CPUS, 32, 96, true>;
type ShPool = Pool<CPUS, true>;

/// The shared mapping. All-zero bytes are a valid value of every field but
/// the ring and the pool, which are initialized in place.
#[repr(C)]
struct Region {
    ring: ShRing,
    pool: ShPool,
    storage: [[u64; OBJ / 8]; OBJS],
    /// Owner of each object (producer id + 1), 0 when free.
    owner: [AtomicU32; OBJS],
    /// Records committed per producer: records `0..acked` were written.
    acked: [AtomicU64; MAX_PRODUCERS],
    dup_objects: AtomicU64,
    bad_objects: AtomicU64,
    stuck: AtomicU64,
    /// The producers' aborts (added after every record) and armed sections
    /// that committed (`rseq_percpu::take_injection_stats`, added by the
    /// producers that finish).
    aborts: AtomicU64,
    traps_committed: AtomicU64,
    /// Producers killed (the parent's count, stored before `done`).
    deaths: AtomicU64,
    done: AtomicBool,
    // The forced mode's handshake.
    go: AtomicU32,
    entering: AtomicU32,
    round_done: AtomicU32,
    round_aborts: [AtomicU64; ROUNDS],
    fifo: AtomicU32,
    // The consumer's verdict.
    verdict: AtomicU32,
    msg_len: AtomicU32,
    msg: [u8; 2048],
}

/// A memfd mapped once (the parent's view, inherited by every child).
struct Mapping {
    fd: i32,
    len: usize,
    base: *mut Region,
}

fn map_region() -> Result<Mapping, String> {
    let len = std::mem::size_of::<Region>().next_multiple_of(4096);
    #[allow(unsafe_code)]
    // SAFETY: memfd_create takes a C string; ftruncate and mmap get the fd
    // just created and its length; the mapping is checked.
    unsafe {
        let fd = libc::memfd_create(c"rseq-shared-stress".as_ptr(), 0);
        if fd < 0 {
            return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
        }
        if libc::ftruncate(fd, len as libc::off_t) != 0 {
            return Err(format!("ftruncate: {}", std::io::Error::last_os_error()));
        }
        let base = map_again(fd, len)?;
        // Zeroed by the kernel: every field but the ring and the pool is
        // valid as it is.
        FlushRing::init_in_place_shared(std::ptr::addr_of_mut!((*base).ring));
        Pool::init_in_place_shared(std::ptr::addr_of_mut!((*base).pool), OBJ, 16);
        let storage = std::slice::from_raw_parts_mut(
            std::ptr::addr_of_mut!((*base).storage).cast::<u8>(),
            OBJ * OBJS,
        );
        match (*base).pool.add_storage(storage) {
            Ok(OBJS) => {}
            r => return Err(format!("pool add_storage: {r:?}")),
        }
        Ok(Mapping { fd, len, base })
    }
}

/// Another view of the memfd, at an address the kernel picks.
fn map_again(fd: i32, len: usize) -> Result<*mut Region, String> {
    #[allow(unsafe_code)]
    // SAFETY: a new shared mapping of the memfd, checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    Ok(p.cast())
}

fn region(p: *mut Region) -> &'static Region {
    #[allow(unsafe_code)]
    // SAFETY: a live mapping of the region (never unmapped while the
    // process uses it), initialized by map_region before any fork.
    unsafe {
        &*p
    }
}

/// Exits a child at once (no destructors, no atexit handlers of the parent).
fn child_exit(code: i32) -> ! {
    #[allow(unsafe_code)]
    // SAFETY: _exit never returns.
    unsafe {
        libc::_exit(code)
    }
}

fn fork_child(f: impl FnOnce() -> i32) -> Result<libc::pid_t, String> {
    #[allow(unsafe_code)]
    // SAFETY: the child runs only `f` (mapped memory, its own allocations)
    // and _exits.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => child_exit(f()),
        pid => Ok(pid),
    }
}

/// waitpid: the raw status.
fn wait(pid: libc::pid_t) -> i32 {
    let mut st = 0;
    #[allow(unsafe_code)]
    // SAFETY: waits for our own child.
    unsafe {
        libc::waitpid(pid, &mut st, 0)
    };
    st
}

/// The consumer writes its message into the region for the parent.
fn say(r: &Region, msg: &str) {
    let b = msg.as_bytes();
    let n = b.len().min(r.msg.len());
    let p = r.msg.as_ptr().cast_mut();
    #[allow(unsafe_code)]
    // SAFETY: only the consumer process writes the message, once, before it
    // exits; the parent reads it after waitpid.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), p, n)
    };
    r.msg_len.store(n as u32, Ordering::Release);
}

fn said(r: &Region) -> String {
    let n = r.msg_len.load(Ordering::Acquire) as usize;
    String::from_utf8_lossy(&r.msg[..n]).into_owned()
}

/// How a producer ends.
#[derive(Clone, Copy)]
enum End {
    /// Writes all its records, frees its objects, exits 0.
    Finish,
    /// SIGKILLed from inside a section: the handler of its Nth forced abort.
    InSection(u64),
    /// SIGKILLs itself after N records, between two sections.
    AfterRecords(u64),
}

fn object_index(r: &Region, o: *mut u8) -> Option<usize> {
    let base = r.storage.as_ptr() as usize;
    let off = (o as usize).wrapping_sub(base);
    (off < OBJ * OBJS && off.is_multiple_of(OBJ)).then_some(off / OBJ)
}

fn producer(r: &Region, id: usize, end: End, records: u64, cpus: &[u32]) -> i32 {
    if let End::InSection(n) = end {
        TRAPS_TO_DIE.store(n, Ordering::Relaxed);
    }
    let mark = id as u64 + 1;
    let mut held: Vec<std::ptr::NonNull<u8>> = Vec::new();
    let mut buf = [0u8; RECORD_MAX];
    let mut rng = (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let release = |o: std::ptr::NonNull<u8>| {
        let Some(k) = object_index(r, o.as_ptr()) else {
            r.bad_objects.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let words = o.as_ptr().cast::<u64>();
        #[allow(unsafe_code)]
        // SAFETY: an object of the pool's storage (checked), ours.
        let intact = (2..OBJ / 8).all(|w| unsafe { words.add(w).read_volatile() } == mark);
        if !intact {
            r.bad_objects.fetch_add(1, Ordering::Relaxed);
        }
        r.owner[k].store(0, Ordering::Release);
        #[allow(unsafe_code)]
        // SAFETY: from this pool's alloc, not used after.
        unsafe {
            r.pool.free(o)
        };
    };
    for seq in 0..records {
        let len = record(id as u8, seq, &mut buf);
        let mut tries = 0u64;
        while r.ring.write(&buf[..len]).is_err() {
            // No free packet or a full one: the consumer frees them.
            tries += 1;
            if tries > 2_000_000 {
                r.stuck.fetch_add(1, Ordering::Relaxed);
                return 3;
            }
            std::thread::yield_now();
        }
        r.acked[id].store(seq + 1, Ordering::Release);
        r.aborts
            .fetch_add(rseq_percpu::take_aborts() as u64, Ordering::Relaxed);
        if let End::AfterRecords(n) = end {
            if seq + 1 == n {
                #[allow(unsafe_code)]
                // SAFETY: kills this process (the point of the test).
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL)
                };
            }
        }
        if seq % 3 != 2 && held.len() < 8 {
            if let Some(o) = r.pool.alloc() {
                match object_index(r, o.as_ptr()) {
                    Some(k) => {
                        if r.owner[k].swap(mark as u32, Ordering::AcqRel) != 0 {
                            r.dup_objects.fetch_add(1, Ordering::Relaxed);
                        }
                        let words = o.as_ptr().cast::<u64>();
                        for w in 2..OBJ / 8 {
                            #[allow(unsafe_code)]
                            // SAFETY: an object of the pool's storage, ours.
                            unsafe {
                                words.add(w).write_volatile(mark)
                            };
                        }
                        held.push(o);
                    }
                    None => {
                        r.bad_objects.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        } else if let Some(o) = held.pop() {
            release(o);
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if seq % 97 == 96 {
            std::thread::yield_now();
        }
        if seq % 1021 == 1020 && !cpus.is_empty() {
            rseq_percpu::pin_to_cpu(cpus[(rng % cpus.len() as u64) as usize] as usize);
        }
    }
    for o in held.drain(..) {
        release(o);
    }
    // Only a producer that finishes reports these (taking them resets the
    // trap schedule, so not after every record).
    r.traps_committed.fetch_add(
        rseq_percpu::take_injection_stats().traps_committed as u64,
        Ordering::Relaxed,
    );
    0
}

/// The consumer process: flushes through its own mapping (another address)
/// and reclaims the pool's lists until the parent says done, then checks.
fn consumer(m: &Mapping, producers: usize) -> i32 {
    let r = region(m.base);
    let view = match map_again(m.fd, m.len) {
        Ok(v) => v,
        Err(e) => {
            say(r, &e);
            return 1;
        }
    };
    let rv = region(view);
    // The pool refuses the second view (its lists are addresses), the ring
    // works through it (offsets).
    if rv.pool.check_mapping() != Err(-rseq_abi::errno::EFAULT) || r.pool.check_mapping().is_err() {
        say(
            r,
            "the shared pool did not refuse a mapping at another address",
        );
        return 1;
    }
    let mut all = [0u64; 16];
    let ncpu = rseq_percpu::possible_cpus();
    for c in 0..ncpu.min(1024) {
        all[c / 64] |= 1 << (c % 64);
    }
    let mut seen = Seen::default();
    let (mut flushes, mut packets, mut deferred, mut reclaimed) = (0u64, 0u64, 0u64, 0usize);
    let mut after_done: Option<Instant> = None;
    loop {
        let last = r.done.load(Ordering::Acquire);
        // A visit restores the affinity it found, without CPUs offline then:
        // give every CPU back (hotplug).
        rseq_percpu::set_affinity(&all);
        let this_deferred = match rv.ring.flush(|_, p| seen.take(p)) {
            Ok(st) => {
                flushes += 1;
                packets += st.packets;
                deferred += st.deferred;
                st.deferred
            }
            Err(e) => {
                say(r, &format!("flush: error {e}"));
                return 1;
            }
        };
        // Done once a flush after the producers' end reached every CPU
        // (the parent brought every CPU back online first).
        if last && this_deferred == 0 {
            break;
        }
        if last {
            // The parent brings every CPU back after the hotplug process
            // ends (seconds under TCG): not a timing assertion, a bound on
            // a hang.
            let since = *after_done.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(120) {
                say(
                    r,
                    "a CPU's packets stayed out of the fence's reach for 120 s",
                );
                return 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        reclaimed += r.pool.reclaim_all(ncpu).unwrap_or(0);
        std::thread::yield_now();
    }
    // Stored by the parent before done.
    let deaths = r.deaths.load(Ordering::Acquire);
    // Records: every committed one read once, whole, nothing else.
    let written: Vec<SeqSet> = (0..producers)
        .map(|id| {
            let mut s = SeqSet::default();
            for q in 0..r.acked[id].load(Ordering::Acquire) {
                s.insert(q);
            }
            s
        })
        .collect();
    let n_written: u64 = written.iter().map(SeqSet::count).sum();
    if let Err(e) = seen.check(&written) {
        say(r, &format!("records: {e}"));
        return 1;
    }
    // Pool: every producer is gone; take every free object (every list
    // and the global one; not by allocating until None: see stress.rs).
    let (mut free, mut twice) = (0usize, 0usize);
    let mut got = vec![false; OBJS];
    #[allow(unsafe_code)]
    // SAFETY: no process uses the pool any more (the parent reaped every
    // producer before setting done).
    unsafe {
        r.pool
            .take_all_quiescent(|o| match object_index(r, o.as_ptr()) {
                Some(k) if !got[k] && r.owner[k].load(Ordering::Acquire) == 0 => {
                    got[k] = true;
                    free += 1;
                }
                _ => twice += 1,
            })
    };
    let held_by_dead = (0..OBJS)
        .filter(|&k| r.owner[k].load(Ordering::Acquire) != 0)
        .count();
    let lost = OBJS.saturating_sub(free + held_by_dead);
    let dup = r.dup_objects.load(Ordering::Relaxed);
    let bad = r.bad_objects.load(Ordering::Relaxed);
    if dup != 0 || bad != 0 || twice != 0 || free + held_by_dead > OBJS || lost as u64 > deaths {
        say(
            r,
            &format!(
                "pool: {dup} objects handed out twice, {bad} with a foreign mark, {twice} free \
                 objects also held or listed twice; {free} free + {held_by_dead} held by dead \
                 producers + {lost} lost (at most {deaths} allowed) of {OBJS}"
            ),
        );
        return 1;
    }
    say(
        r,
        &format!(
            "{n_written} records committed by {producers} producer processes ({deaths} killed), \
             read exactly once by the consumer process through another mapping, none torn; \
             {flushes} flushes took {packets} packets ({deferred} deferred); pool: no object \
             handed out twice, {reclaimed} objects reclaimed, at the end {free} free + \
             {held_by_dead} held by dead producers + {lost} lost in flight by a death (<= \
             {deaths}) = {OBJS}"
        ),
    );
    0
}

/// `--mode shared`.
pub fn mode_shared(cfg: &Config) -> Result<(String, u64), String> {
    let m = map_region()?;
    let r = region(m.base);
    let mut cpus = [0u32; 1024];
    let n = rseq_percpu::allowed_cpus(&mut cpus);
    let cpus = cpus[..n].to_vec();
    let per_gen = cfg.threads.clamp(2, 16);
    let generations = 4usize;
    let producers = per_gen * generations;
    // Records per producer, from the time budget (20000 per second asked
    // for; each generation runs --threads producers), at least 500.
    let records = ((cfg.seconds * 20000.0) as u64).max(500);
    let mut deaths = 0u64;
    let private_fence = cfg.private_fence;
    let consumer_pid = fork_child(|| {
        // The negative control (not deterministic here: see shared-forced).
        rseq_percpu::remote::set_shared_fence_private(private_fence);
        consumer(&m, producers)
    })?;
    let hotplug_pid = if cfg.hotplug_cycles > 0 {
        let cycles = cfg.hotplug_cycles;
        let ncpu = rseq_percpu::possible_cpus();
        Some(fork_child(move || {
            let mut k = 0;
            while k < cycles && !r.done.load(Ordering::Acquire) {
                for c in 1..ncpu {
                    if r.done.load(Ordering::Acquire) {
                        break;
                    }
                    if set_online(c, false).is_err() {
                        return 1;
                    }
                    std::thread::sleep(Duration::from_millis(15));
                    if set_online(c, true).is_err() {
                        return 1;
                    }
                }
                k += 1;
            }
            0
        })?)
    } else {
        None
    };
    let mut errors = Vec::new();
    for g in 0..generations {
        let mut pids = Vec::new();
        for p in 0..per_gen {
            let id = g * per_gen + p;
            let end = if g + 1 == generations || p % 4 == 3 {
                End::Finish
            } else if p % 2 == 0 {
                // Its (3 + id % 7)th forced abort: early, well inside its run.
                End::InSection(3 + (id as u64 % 7))
            } else {
                End::AfterRecords(records / 2 + id as u64)
            };
            let cpus = cpus.clone();
            let pid = fork_child(move || producer(r, id, end, records, &cpus))?;
            pids.push((pid, id, end));
        }
        for (pid, id, end) in pids {
            let st = wait(pid);
            let killed = libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL;
            let exited0 = libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
            match end {
                End::Finish if exited0 => {}
                End::InSection(_) | End::AfterRecords(_) if killed => deaths += 1,
                // A producer meant to die inside a section that took fewer
                // forced aborts than that finished: allowed, not a death.
                End::InSection(_) if exited0 => {}
                _ => errors.push(format!("producer {id}: wait status {st:#x}")),
            }
        }
    }
    let produced: u64 = (0..producers)
        .map(|id| r.acked[id].load(Ordering::Acquire))
        .sum();
    r.deaths.store(deaths, Ordering::Relaxed);
    r.done.store(true, Ordering::Release);
    if let Some(h) = hotplug_pid {
        let st = wait(h);
        if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
            errors.push(format!("hotplug process: wait status {st:#x}"));
        }
        let ncpu = rseq_percpu::possible_cpus();
        for c in 1..ncpu {
            let _ = set_online(c, true);
        }
    }
    let st = wait(consumer_pid);
    let verdict = said(r);
    let aborts = r.aborts.load(Ordering::Relaxed);
    let committed = r.traps_committed.load(Ordering::Relaxed);
    if committed != 0 {
        errors.push(format!(
            "{committed} sections committed after their forced abort: the kernel did not \
             restart them"
        ));
    }
    if cfg.trap_every != 0 && aborts.saturating_mul(1000) < produced {
        errors.push(format!(
            "{aborts} aborts for {produced} records: below 1 per 1000, the restart path ran too \
             rarely"
        ));
    }
    if r.stuck.load(Ordering::Relaxed) != 0 {
        errors.push("a producer found no free packet for 2M attempts".into());
    }
    if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
        errors.push(format!("consumer (wait status {st:#x}): {verdict}"));
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok((
        format!(
            "{} generations of {per_gen} producer processes, {deaths} SIGKILLed (inside \
             a section or between records), {aborts} aborts in the producers ({:.2} per 1000 \
             records); {verdict}",
            generations,
            aborts as f64 * 1000.0 / produced.max(1) as f64,
        ),
        produced,
    ))
}

/// `--mode shared-forced` (see the module documentation).
pub fn mode_shared_forced(_cfg: &Config, private_fence: bool) -> Result<(String, u64), String> {
    let mut cpus = [0u32; 1024];
    let n = rseq_percpu::allowed_cpus(&mut cpus);
    if n < 2 {
        return Err("needs 2 allowed CPUs".into());
    }
    let (a, b) = (cpus[0], cpus[1]);
    let m = map_region()?;
    let r = region(m.base);
    // About 40 ms at 3 GHz (dec; jnz), between the section's loads and its
    // commit: far longer than the consumer needs to start its flush, short
    // enough that the producer is seldom preempted inside it (even under
    // SCHED_FIFO the fair-class server preempts it on a busy CPU, which
    // restarts the section and makes that round inconclusive).
    const SPIN: u32 = 120_000_000;
    let prod = fork_child(move || {
        rseq_percpu::pin_to_cpu(a as usize);
        let sp = libc::sched_param { sched_priority: 1 };
        #[allow(unsafe_code)]
        // SAFETY: sets this process's own policy; refused without
        // privilege, which only makes rounds inconclusive.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &sp) } == 0 {
            r.fifo.store(1, Ordering::Relaxed);
        }
        let mut buf = [0u8; RECORD_MAX];
        let wait_for = |w: &AtomicU32, v: u32| {
            let t = Instant::now();
            while w.load(Ordering::Acquire) < v {
                if t.elapsed() > Duration::from_secs(30) {
                    return false;
                }
                // Sleeps: under SCHED_FIFO a spin would keep the consumer's
                // visit off this CPU.
                std::thread::sleep(Duration::from_micros(200));
            }
            true
        };
        for k in 0..ROUNDS {
            if !wait_for(&r.go, k as u32 + 1) {
                return 2;
            }
            // A record without delay: this CPU has an active packet.
            rseq_percpu::set_injection([0; 3], 0);
            let len = record(0, 2 * k as u64, &mut buf);
            while r.ring.write(&buf[..len]).is_err() {
                std::thread::yield_now();
            }
            r.acked[0].store(2 * k as u64 + 1, Ordering::Release);
            // The record under test: the section spins between its loads
            // (the packet) and its commit.
            rseq_percpu::set_injection([0, 0, SPIN], 0);
            rseq_percpu::take_aborts();
            r.entering.store(k as u32 + 1, Ordering::Release);
            let len = record(0, 2 * k as u64 + 1, &mut buf);
            while r.ring.write(&buf[..len]).is_err() {
                std::thread::yield_now();
            }
            r.round_aborts[k].store(rseq_percpu::take_aborts() as u64, Ordering::Relaxed);
            r.acked[0].store(2 * k as u64 + 2, Ordering::Release);
            r.round_done.store(k as u32 + 1, Ordering::Release);
        }
        0
    })?;
    rseq_percpu::pin_to_cpu(b as usize);
    rseq_percpu::remote::set_shared_fence_private(private_fence);
    let mut seen = Seen::default();
    // Rounds by what the consumer's flush did to the producer's section:
    // restarted it (an abort), read its record (the fence waited for the
    // commit: SCHED_FIFO), or neither (the section committed after the
    // flush had read its packet, or started after the flush).
    let (mut restarted, mut waited, mut conclusive) = (0, 0, 0);
    let mut err = None;
    for k in 0..ROUNDS {
        r.go.store(k as u32 + 1, Ordering::Release);
        let t = Instant::now();
        while r.entering.load(Ordering::Acquire) < k as u32 + 1 {
            if t.elapsed() > Duration::from_secs(30) {
                err = Some("the producer did not start its round".to_string());
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        if err.is_some() {
            break;
        }
        // The producer is inside its section now (it loaded the packet).
        std::thread::sleep(Duration::from_millis(3));
        let mut this = Seen::default();
        if let Err(e) = r.ring.flush(|_, p| {
            this.take(p);
            seen.take(p);
        }) {
            err = Some(format!("flush: error {e}"));
            break;
        }
        let t = Instant::now();
        while r.round_done.load(Ordering::Acquire) < k as u32 + 1 {
            if t.elapsed() > Duration::from_secs(30) {
                err = Some("the producer did not finish its round".to_string());
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        if err.is_some() {
            break;
        }
        let tested = 2 * k as u64 + 1;
        let read_now = this.seqs.first().is_some_and(|s| {
            s.0.get(tested as usize / 64)
                .is_some_and(|w| w & (1 << (tested % 64)) != 0)
        });
        let aborted = r.round_aborts[k].load(Ordering::Relaxed) != 0;
        if aborted {
            restarted += 1;
        } else if read_now {
            waited += 1;
        } else {
            conclusive += 1;
        }
    }
    let st = wait(prod);
    rseq_percpu::remote::set_shared_fence_private(false);
    rseq_percpu::pin_to_cpu(a as usize);
    rseq_percpu::set_affinity(&{
        let mut all = [0u64; 16];
        for &c in &cpus[..n] {
            all[c as usize / 64] |= 1 << (c % 64);
        }
        all
    });
    if let Some(e) = err {
        return Err(e);
    }
    if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
        return Err(format!("producer wait status {st:#x}"));
    }
    // Quiescent now: everything still in a packet.
    #[allow(unsafe_code)]
    // SAFETY: the producer exited; this thread is the ring's only user.
    unsafe {
        r.ring.drain_quiescent(|_, p| seen.take(p))
    };
    let acked = r.acked[0].load(Ordering::Acquire);
    let mut written = SeqSet::default();
    for q in 0..acked {
        written.insert(q);
    }
    let fifo = r.fifo.load(Ordering::Relaxed) == 1;
    let how = if private_fence {
        "the private membarrier fence (negative control)"
    } else {
        "the cross-process fence"
    };
    let sched = if fifo { "SCHED_FIFO" } else { "SCHED_OTHER" };
    match seen.check(std::slice::from_ref(&written)) {
        Err(e) => Err(format!(
            "{how}: {e}; {conclusive} of {ROUNDS} rounds had the producer's \
             section (pinned to CPU {a}, {sched}) commit after the consumer's flush fenced CPU {a}"
        )),
        // The negative control did not fail: no round had the producer's
        // section outlive the flush unpreempted (it was restarted by
        // something else, or started late).
        Ok(()) if private_fence => Ok((
            format!(
                "{how}: inconclusive: {restarted} rounds restarted by a \
                 preemption, {waited} committed before the flush read, {conclusive} other, \
                 no record lost ({sched})"
            ),
            acked,
        )),
        Ok(()) => Ok((
            format!(
                "{how}: {acked} records read exactly once; {ROUNDS} rounds with \
                 the producer process ({sched}, CPU {a}) inside a 1.2e8-iteration section while \
                 the consumer process (CPU {b}) flushed: {restarted} restarted by the fence, \
                 {waited} committed before the fence returned, {conclusive} started after the \
                 flush"
            ),
            acked,
        )),
    }
}
