//! The hooks themselves (see the crate documentation).

use crate::arch;
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_void};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{nr, syscall0, syscall1, syscall3, syscall4};
use rseq_registration::{Owner, Reason, SignalsBlocked};

/// A thread's start routine.
pub type StartRoutine = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
/// `pthread_create` (`pthread_t` is an `unsigned long` in glibc and a
/// pointer in musl: one machine word either way).
pub type CreateFn =
    unsafe extern "C" fn(*mut usize, *const c_void, Option<StartRoutine>, *mut c_void) -> c_int;
/// `pthread_key_create` (`pthread_key_t` is an `unsigned int` in both).
pub type KeyCreateFn =
    unsafe extern "C" fn(*mut c_uint, Option<unsafe extern "C" fn(*mut c_void)>) -> c_int;
/// `pthread_setspecific`.
pub type SetSpecificFn = unsafe extern "C" fn(c_uint, *const c_void) -> c_int;
/// `pthread_join`.
pub type JoinFn = unsafe extern "C" fn(usize, *mut *mut c_void) -> c_int;
/// `pthread_attr_getdetachstate`.
pub type GetDetachStateFn = unsafe extern "C" fn(*const c_void, *mut c_int) -> c_int;

/// The libc functions the hooks call.
#[derive(Clone, Copy)]
pub struct PthreadFns {
    /// The libc's own `pthread_create`.
    pub create: CreateFn,
    /// `pthread_key_create`.
    pub key_create: KeyCreateFn,
    /// `pthread_setspecific`.
    pub setspecific: SetSpecificFn,
    /// `pthread_join`.
    pub join: JoinFn,
    /// `pthread_attr_getdetachstate`.
    pub attr_getdetachstate: GetDetachStateFn,
}

/// Destructor rounds of glibc and musl (`PTHREAD_DESTRUCTOR_ITERATIONS`).
const DESTRUCTOR_ITERATIONS: usize = 4;
/// `PTHREAD_CREATE_DETACHED` in glibc and musl.
const PTHREAD_CREATE_DETACHED: c_int = 1;
const EAGAIN: c_int = 11;
const ENOSYS: c_int = 38;
const SIG_SETMASK: usize = 2;
const FUTEX_WAIT_PRIVATE: usize = 128;
const FUTEX_WAKE_PRIVATE: usize = 129;

// The exit key: created once, by the first hooked pthread_create.
const KEY_NONE: u32 = 0;
const KEY_CREATING: u32 = 1;
const KEY_READY: u32 = 2;
const KEY_FAILED: u32 = 3;
static KEY_STATE: AtomicU32 = AtomicU32::new(KEY_NONE);
static KEY: AtomicU32 = AtomicU32::new(0);
static SETSPECIFIC: AtomicUsize = AtomicUsize::new(0);

fn sched_yield() {
    // SAFETY: sched_yield has no arguments and no effect on memory.
    unsafe { syscall0(nr::SCHED_YIELD) };
}

/// The exit key, created on first use; `None` if the libc has none left.
fn exit_key(fns: &PthreadFns) -> Option<c_uint> {
    loop {
        match KEY_STATE.compare_exchange(
            KEY_NONE,
            KEY_CREATING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                SETSPECIFIC.store(fns.setspecific as usize, Ordering::Relaxed);
                let mut key: c_uint = 0;
                // SAFETY: the libc's pthread_key_create with a valid out
                // pointer and a destructor that lives as long as the process.
                let r = unsafe { (fns.key_create)(&mut key, Some(exit_destructor)) };
                KEY.store(key, Ordering::Relaxed);
                let state = if r == 0 { KEY_READY } else { KEY_FAILED };
                KEY_STATE.store(state, Ordering::Release);
            }
            Err(KEY_READY) => return Some(KEY.load(Ordering::Relaxed)),
            Err(KEY_FAILED) => return None,
            Err(_) => sched_yield(),
        }
    }
}

/// The exit key's destructor. Its value counts the destructor rounds: it
/// re-arms itself so that it runs in the libc's last round, after the
/// application's own destructors of the first rounds, and then unregisters.
unsafe extern "C" fn exit_destructor(value: *mut c_void) {
    let round = value as usize;
    if round < DESTRUCTOR_ITERATIONS {
        let set = SETSPECIFIC.load(Ordering::Relaxed);
        if set != 0 {
            // SAFETY: SETSPECIFIC holds the libc's pthread_setspecific,
            // stored before the key existed.
            let set: SetSpecificFn = unsafe { core::mem::transmute::<usize, SetSpecificFn>(set) };
            // SAFETY: the key is ours and valid; the value is a round count.
            if unsafe { set(KEY.load(Ordering::Relaxed), (round + 1) as *const c_void) } == 0 {
                return;
            }
        }
    }
    unregister_for_exit();
}

/// Blocks every signal, for good (the thread is exiting), then unregisters
/// the area the component registered, with the length it registered.
fn unregister_for_exit() {
    core::mem::forget(SignalsBlocked::new());
    // A failure cannot be reported from a destructor; the kernel refuses
    // only a mismatch, which the state machine rules out.
    // SAFETY: every signal is blocked, for good.
    let _ = unsafe { rseq_registration::unregister_current_thread_signals_blocked() };
}

/// What the new thread does about registration.
#[derive(Clone, Copy)]
enum Inherit {
    Register,
    Unregistered(Reason, i32),
}

/// What the new thread needs from its creator.
#[derive(Clone, Copy)]
struct StartData {
    start: StartRoutine,
    arg: *mut c_void,
    /// The mask the thread runs with once registered: the caller's
    /// attribute mask if it has one, else the creator's mask before it
    /// blocked everything.
    mask: u64,
    inherit: Inherit,
    key: c_uint,
    setspecific: SetSpecificFn,
}

// The start slots: the creator hands a new thread its StartData in one of
// these and returns at once; the thread copies it and frees the slot. A
// registration failure is then fatal in the thread (see fatal_start). With
// every slot taken (more threads starting at once than slots), the creator
// passes the data on its stack and waits for the thread's answer instead
// (StartShared), which lets pthread_create report the failure.
const START_SLOTS: usize = 128;
const SLOT_FREE: u32 = 0;
const SLOT_TAKEN: u32 = 1;

struct StartSlot {
    state: AtomicU32,
    data: UnsafeCell<MaybeUninit<StartData>>,
}

// SAFETY: `data` is written only by the thread that moved `state` from
// SLOT_FREE to SLOT_TAKEN, read only by the one new thread it was handed
// to, and free again (Release) only after that read.
unsafe impl Sync for StartSlot {}

static START_POOL: [StartSlot; START_SLOTS] = [const {
    StartSlot {
        state: AtomicU32::new(SLOT_FREE),
        data: UnsafeCell::new(MaybeUninit::uninit()),
    }
}; START_SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// Claims a free slot and fills it with `data`; None if all are taken.
fn claim_start_slot(data: StartData) -> Option<&'static StartSlot> {
    let first = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
    for i in 0..START_SLOTS {
        let slot = &START_POOL[first.wrapping_add(i) % START_SLOTS];
        if slot.state.load(Ordering::Relaxed) == SLOT_FREE
            && slot
                .state
                .compare_exchange(SLOT_FREE, SLOT_TAKEN, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: the slot is ours (SLOT_TAKEN) until released.
            unsafe { (*slot.data.get()).write(data) };
            return Some(slot);
        }
    }
    None
}

fn release_start_slot(slot: &StartSlot) {
    slot.state.store(SLOT_FREE, Ordering::Release);
}

fn set_signal_mask(mask: u64) {
    // SAFETY: rt_sigprocmask reads 8 bytes from a valid local.
    unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            SIG_SETMASK,
            &mask as *const u64 as usize,
            0,
            8,
        );
    }
}

/// The new thread's registration, with every signal blocked: 0, or the
/// errno that stopped it (its area is then not registered).
fn register_new_thread(d: &StartData) -> c_int {
    match d.inherit {
        Inherit::Register => {
            // SAFETY: every signal is blocked (the creator blocked them
            // before the thread existed, and it inherited that mask).
            if let Err(e) = unsafe { rseq_registration::register_current_thread_signals_blocked() }
            {
                return e;
            }
            // SAFETY: the libc's pthread_setspecific on our key.
            let r = unsafe { (d.setspecific)(d.key, core::ptr::null::<c_void>().wrapping_add(1)) };
            if r != 0 {
                // Without the exit key the area would outlive its
                // registration's end: do not keep it registered.
                // SAFETY: every signal is blocked.
                let _ = unsafe { rseq_registration::unregister_current_thread_signals_blocked() };
            }
            r
        }
        Inherit::Unregistered(reason, error) => {
            rseq_registration::inherit_unregistered(reason, error);
            0
        }
    }
}

/// A new thread's registration as its creator's state decides it, for a
/// libc that creates its threads itself (the standalone test libc, whose
/// own `clone` threads run the same start and exit logic as the hooks).
#[derive(Clone, Copy)]
pub struct NewThreadRegistration(Inherit);

impl NewThreadRegistration {
    /// Read in the creator before it creates the thread: None where the
    /// libc owns registration (its threads are none of the component's
    /// business).
    pub fn of_creator() -> Option<Self> {
        let creator = rseq_registration::status();
        match creator.owner {
            Owner::Libc => None,
            Owner::Component => Some(Self(Inherit::Register)),
            Owner::None => Some(Self(Inherit::Unregistered(creator.reason, creator.error))),
        }
    }

    /// The new thread's first step, before its start routine: registers
    /// (or inherits "unregistered"). If the creator was registered and this
    /// thread cannot register, ends the process like the hooks do (a
    /// message on stderr, status 127).
    ///
    /// # Safety
    /// Every signal must be blocked in the calling thread, which must be
    /// new (nothing ran on it yet).
    pub unsafe fn apply_in_new_thread(self) {
        match self.0 {
            Inherit::Register => {
                // SAFETY: every signal is blocked, per the caller.
                let r = unsafe { rseq_registration::register_current_thread_signals_blocked() };
                if let Err(e) = r {
                    fatal_start(e);
                }
            }
            Inherit::Unregistered(reason, error) => {
                rseq_registration::inherit_unregistered(reason, error)
            }
        }
    }
}

/// The exit step of a thread, for a libc that ends its threads itself:
/// blocks every signal for good, then unregisters the area the component
/// registered (exact area, length and signature). Call it after the last
/// code that may use the area (key destructors) and before the area's
/// memory can be freed.
pub fn unregister_at_thread_exit() {
    unregister_for_exit();
}

/// Writes `n` in decimal into the end of `buf`; returns the digits.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            return &buf[i..];
        }
    }
}

/// A thread whose creator was registered could not register (glibc treats
/// this as fatal too): says so on stderr with raw writes and ends the
/// process with status 127. Never returns; the start routine never runs.
fn fatal_start(error: c_int) -> ! {
    let mut digits = [0u8; 10];
    let parts: [&[u8]; 3] = [
        b"rseq-libc: a new thread could not register its rseq area (errno ",
        decimal(error.unsigned_abs(), &mut digits),
        b") although its creator's is registered; ending the process (status 127)\n",
    ];
    for part in parts {
        // SAFETY: write(2) of a valid buffer to stderr.
        unsafe { syscall3(nr::WRITE, 2, part.as_ptr() as usize, part.len()) };
    }
    loop {
        // SAFETY: exit_group ends the process; it does not return.
        unsafe { syscall1(nr::EXIT_GROUP, 127) };
    }
}

/// The new thread's first function when its creator did not wait: every
/// signal is blocked, `slot` holds its [`StartData`].
///
/// # Safety
/// `slot` is a [`StartSlot`] claimed for this thread.
unsafe extern "C" fn start_from_slot(slot: *mut c_void) -> *mut c_void {
    // SAFETY: a static slot, claimed and filled for this thread.
    let slot = unsafe { &*(slot as *const StartSlot) };
    // SAFETY: filled before the thread existed; read once, then released.
    let d = unsafe { (*slot.data.get()).assume_init() };
    release_start_slot(slot);
    let error = register_new_thread(&d);
    if error != 0 {
        fatal_start(error);
    }
    set_signal_mask(d.mask);
    // SAFETY: the application's start routine with its argument.
    unsafe { (d.start)(d.arg) }
}

const PENDING: u32 = 0;
const WAITING: u32 = 1;
const DONE: u32 = 2;

/// On the creator's stack until the new thread has read it and answered
/// (the fallback when every start slot is taken).
struct StartShared {
    data: StartData,
    /// PENDING, WAITING (the creator sleeps on it) or DONE.
    state: AtomicU32,
    /// 0, or the error `pthread_create` returns.
    outcome: AtomicU32,
}

/// The new thread's first function when its creator waits for its answer.
///
/// # Safety
/// `shared` is the creator's [`StartShared`], alive until `state` is DONE.
unsafe extern "C" fn start_waited(shared: *mut c_void) -> *mut c_void {
    let s = shared as *const StartShared;
    // SAFETY: the creator keeps it alive and unchanged until DONE.
    let d = unsafe { (*s).data };
    let outcome = match register_new_thread(&d) {
        0 => 0,
        _ => EAGAIN,
    };
    // SAFETY: as above; after the swap the creator may return, so `s` is
    // not dereferenced again (the futex wake only uses its address).
    unsafe {
        (*s).outcome.store(outcome as u32, Ordering::Relaxed);
        if (*s).state.swap(DONE, Ordering::Release) == WAITING {
            syscall3(
                arch::NR_FUTEX,
                (*s).state.as_ptr() as usize,
                FUTEX_WAKE_PRIVATE,
                1,
            );
        }
    }
    if outcome != 0 {
        // Never ran the start routine; the creator reaps the thread.
        return core::ptr::null_mut();
    }
    set_signal_mask(d.mask);
    // SAFETY: the application's start routine with its argument.
    unsafe { (d.start)(d.arg) }
}

/// Waits until the new thread answered; returns its outcome.
fn wait_for_start(s: &StartShared) -> c_int {
    for i in 0..2000u32 {
        if s.state.load(Ordering::Acquire) == DONE {
            return s.outcome.load(Ordering::Relaxed) as c_int;
        }
        if i % 64 == 63 {
            sched_yield();
        } else {
            core::hint::spin_loop();
        }
    }
    let _ = s
        .state
        .compare_exchange(PENDING, WAITING, Ordering::Acquire, Ordering::Acquire);
    while s.state.load(Ordering::Acquire) != DONE {
        // SAFETY: futex wait on a live local word; returns at once if it
        // no longer holds WAITING.
        unsafe {
            syscall4(
                arch::NR_FUTEX,
                s.state.as_ptr() as usize,
                FUTEX_WAIT_PRIVATE,
                WAITING as usize,
                0,
            );
        }
    }
    s.outcome.load(Ordering::Relaxed) as c_int
}

/// glibc's `sigset_t` (1024 bits; the kernel uses the first 64).
#[repr(C)]
#[derive(Clone, Copy)]
struct SigSet([u64; 16]);
/// `pthread_attr_getsigmask_np` (glibc >= 2.32).
type AttrGetSigmaskFn = unsafe extern "C" fn(*const c_void, *mut SigSet) -> c_int;
/// `pthread_attr_setsigmask_np` (glibc >= 2.32).
type AttrSetSigmaskFn = unsafe extern "C" fn(*mut c_void, *const SigSet) -> c_int;
/// What `pthread_attr_getsigmask_np` returns for an attribute without a
/// mask (glibc's pthread.h: -1).
const PTHREAD_ATTR_NO_SIGMASK_NP: c_int = -1;

// The attribute-mask lock: serializes the hooked creators that change an
// attribute's signal mask for the duration of the libc's pthread_create, so
// that two of them sharing one attribute never read each other's temporary
// mask as the caller's. 0 when free, else the holder's process id (so that
// a fork child, where the holder does not exist, takes it over), with
// LOCK_CONTENDED when someone sleeps on it.
static ATTR_MASK_LOCK: AtomicU32 = AtomicU32::new(0);
const LOCK_CONTENDED: u32 = 1 << 31;
const FUTEX_WAKE_ALL: usize = i32::MAX as usize;

fn lock_attr_masks() {
    // SAFETY: getpid has no arguments and no effect on memory.
    let me = unsafe { syscall0(nr::GETPID) } as u32;
    loop {
        let held =
            match ATTR_MASK_LOCK.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return,
                Err(held) => held,
            };
        if held & !LOCK_CONTENDED != me {
            // Held by a process we were forked from: its holder never
            // releases it here.
            if ATTR_MASK_LOCK
                .compare_exchange(held, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            continue;
        }
        if held & LOCK_CONTENDED == 0
            && ATTR_MASK_LOCK
                .compare_exchange(
                    held,
                    held | LOCK_CONTENDED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            continue;
        }
        // SAFETY: futex wait on a static word; returns at once if it no
        // longer holds the contended value.
        unsafe {
            syscall4(
                arch::NR_FUTEX,
                ATTR_MASK_LOCK.as_ptr() as usize,
                FUTEX_WAIT_PRIVATE,
                (held | LOCK_CONTENDED) as usize,
                0,
            );
        }
    }
}

fn unlock_attr_masks() {
    if ATTR_MASK_LOCK.swap(0, Ordering::Release) & LOCK_CONTENDED != 0 {
        // SAFETY: futex wake on a static word.
        unsafe {
            syscall3(
                arch::NR_FUTEX,
                ATTR_MASK_LOCK.as_ptr() as usize,
                FUTEX_WAKE_PRIVATE,
                FUTEX_WAKE_ALL,
            );
        }
    }
}

/// A caller's attribute whose signal mask is set to "every signal blocked"
/// while the libc's `pthread_create` reads it (glibc starts a new thread
/// with an attribute's mask instead of its creator's); dropping it puts the
/// caller's mask back and releases the lock. The new thread restores the
/// caller's mask itself, after registering.
struct AttrMaskSwap {
    attr: *mut c_void,
    user: SigSet,
    set: AttrSetSigmaskFn,
}

impl AttrMaskSwap {
    /// Ok(None) when `attr` carries no signal mask (or the libc has no
    /// such attribute); an error for `pthread_create` when it may carry
    /// one that cannot be read (a static glibc link with
    /// `pthread_attr_setsigmask_np` but without `pthread_attr_getsigmask_np`).
    ///
    /// # Safety
    /// `attr` is null or the caller's initialized `pthread_attr_t`.
    unsafe fn begin(attr: *const c_void) -> Result<Option<Self>, c_int> {
        if attr.is_null() {
            return Ok(None);
        }
        let get = arch::weak_function_address!("pthread_attr_getsigmask_np");
        let set = arch::weak_function_address!("pthread_attr_setsigmask_np");
        if get == 0 {
            // Without the setter no attribute carries a mask; with it
            // alone the mask cannot be read.
            return if set == 0 { Ok(None) } else { Err(ENOSYS) };
        }
        // SAFETY: the non-null address of the libc's function of that type.
        let get: AttrGetSigmaskFn = unsafe { core::mem::transmute::<usize, AttrGetSigmaskFn>(get) };
        let mut user = SigSet([0; 16]);
        // A first look without the lock: another hooked creator's swap
        // replaces a mask by a mask, never by none.
        // SAFETY: the caller's attribute and a full-size sigset_t.
        match unsafe { get(attr, &mut user) } {
            0 => {}
            PTHREAD_ATTR_NO_SIGMASK_NP => return Ok(None),
            e => return Err(e),
        }
        if set == 0 {
            return Err(ENOSYS);
        }
        // SAFETY: the non-null address of the libc's function of that type.
        let set: AttrSetSigmaskFn = unsafe { core::mem::transmute::<usize, AttrSetSigmaskFn>(set) };
        lock_attr_masks();
        // Read again under the lock: the first read may have seen another
        // creator's temporary mask.
        // SAFETY: as above.
        match unsafe { get(attr, &mut user) } {
            0 => {}
            r => {
                unlock_attr_masks();
                return if r == PTHREAD_ATTR_NO_SIGMASK_NP {
                    Ok(None)
                } else {
                    Err(r)
                };
            }
        }
        let all = SigSet([!0; 16]);
        // The attribute is the caller's writable pthread_attr_t (const only
        // in pthread_create's prototype). It already has glibc's extension
        // block, so setting a mask allocates nothing and cannot fail.
        let attr = attr as *mut c_void;
        // SAFETY: the caller's attribute and a full-size sigset_t.
        let r = unsafe { set(attr, &all) };
        if r != 0 {
            unlock_attr_masks();
            return Err(r);
        }
        Ok(Some(Self { attr, user, set }))
    }

    /// The mask the new thread restores after registering (the kernel's
    /// 64 signals).
    fn user_mask(&self) -> u64 {
        self.user.0[0]
    }
}

impl Drop for AttrMaskSwap {
    fn drop(&mut self) {
        // Cannot fail (see begin); nothing to report it to anyway.
        // SAFETY: the caller's attribute, as in begin.
        let _ = unsafe { (self.set)(self.attr, &self.user) };
        unlock_attr_masks();
    }
}

/// `pthread_create` with the start and exit hooks, through the libc's `fns`.
///
/// # Safety
/// The arguments are those of `pthread_create(3)`; `fns` are the libc's.
pub unsafe fn create_hooked(
    fns: &PthreadFns,
    thread: *mut usize,
    attr: *const c_void,
    start: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    let creator = rseq_registration::status();
    let (Some(start_routine), false) = (start, creator.owner == Owner::Libc) else {
        // The libc registers its threads (or rejects a null routine).
        // SAFETY: the caller's arguments, unchanged.
        return unsafe { (fns.create)(thread, attr, start, arg) };
    };
    let (inherit, key) = if creator.owner == Owner::Component {
        match exit_key(fns) {
            Some(k) => (Inherit::Register, k),
            None => return EAGAIN,
        }
    } else {
        (Inherit::Unregistered(creator.reason, creator.error), 0)
    };
    let blocked = SignalsBlocked::new();
    // SAFETY: the caller's attribute (pthread_create's contract).
    let attr_mask = match unsafe { AttrMaskSwap::begin(attr) } {
        Ok(swap) => swap,
        Err(e) => return e,
    };
    let data = StartData {
        start: start_routine,
        arg,
        mask: attr_mask
            .as_ref()
            .map_or(blocked.previous(), AttrMaskSwap::user_mask),
        inherit,
        key,
        setspecific: fns.setspecific,
    };
    if let Some(slot) = claim_start_slot(data) {
        // SAFETY: the libc's pthread_create; the slot is static and the
        // new thread releases it.
        let r = unsafe {
            (fns.create)(
                thread,
                attr,
                Some(start_from_slot),
                slot as *const StartSlot as *mut c_void,
            )
        };
        drop(attr_mask);
        drop(blocked);
        if r != 0 {
            // No thread was created: the slot is still ours.
            release_start_slot(slot);
        }
        return r;
    }
    let shared = StartShared {
        data,
        state: AtomicU32::new(PENDING),
        outcome: AtomicU32::new(0),
    };
    // SAFETY: the libc's pthread_create; `shared` outlives the new thread's
    // use of it (wait_for_start below).
    let r = unsafe {
        (fns.create)(
            thread,
            attr,
            Some(start_waited),
            &shared as *const StartShared as *mut c_void,
        )
    };
    drop(attr_mask);
    drop(blocked);
    if r != 0 {
        return r;
    }
    let outcome = wait_for_start(&shared);
    if outcome != 0 {
        let mut detach: c_int = 0;
        if !attr.is_null() {
            // SAFETY: the caller's valid attribute object.
            unsafe { (fns.attr_getdetachstate)(attr, &mut detach) };
        }
        if detach != PTHREAD_CREATE_DETACHED {
            // SAFETY: a joinable thread that already returned.
            unsafe { (fns.join)(*thread, core::ptr::null_mut()) };
        }
    }
    outcome
}

/// `RTLD_NEXT` in glibc and musl.
const RTLD_NEXT: usize = usize::MAX;
type DlsymFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;
static REAL_CREATE: AtomicUsize = AtomicUsize::new(0);

/// The libc's functions for the `--defsym` entry, through weak references
/// (so that linking the component pulls nothing in) and `dlsym(RTLD_NEXT)`.
fn interposed_fns() -> Option<PthreadFns> {
    let mut create = REAL_CREATE.load(Ordering::Relaxed);
    if create == 0 {
        let dlsym = arch::weak_function_address!("dlsym");
        if dlsym == 0 {
            return None;
        }
        // SAFETY: dlsym is the libc's, non-null.
        let dlsym: DlsymFn = unsafe { core::mem::transmute::<usize, DlsymFn>(dlsym) };
        // SAFETY: RTLD_NEXT lookup of a NUL-terminated name.
        create = unsafe { dlsym(RTLD_NEXT as *mut c_void, c"pthread_create".as_ptr()) } as usize;
        if create == 0 || create == rseq_libc_pthread_create as *const () as usize {
            return None;
        }
        REAL_CREATE.store(create, Ordering::Relaxed);
    }
    let key_create = arch::weak_function_address!("pthread_key_create");
    let setspecific = arch::weak_function_address!("pthread_setspecific");
    let join = arch::weak_function_address!("pthread_join");
    let getdetach = arch::weak_function_address!("pthread_attr_getdetachstate");
    if key_create == 0 || setspecific == 0 || join == 0 || getdetach == 0 {
        return None;
    }
    // SAFETY: each is the non-null address of the libc function its type
    // describes.
    unsafe {
        Some(PthreadFns {
            create: core::mem::transmute::<usize, CreateFn>(create),
            key_create: core::mem::transmute::<usize, KeyCreateFn>(key_create),
            setspecific: core::mem::transmute::<usize, SetSpecificFn>(setspecific),
            join: core::mem::transmute::<usize, JoinFn>(join),
            attr_getdetachstate: core::mem::transmute::<usize, GetDetachStateFn>(getdetach),
        })
    }
}

/// `pthread_create` for dynamic symbol interposition: link a dynamic
/// executable with `-Wl,--defsym=pthread_create=rseq_libc_pthread_create`.
/// Returns `ENOSYS` where the libc's `pthread_create` cannot be found
/// (a static link: use `-Wl,--wrap=pthread_create` there).
///
/// # Safety
/// The arguments are those of `pthread_create(3)`.
#[no_mangle]
pub unsafe extern "C" fn rseq_libc_pthread_create(
    thread: *mut usize,
    attr: *const c_void,
    start: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    match interposed_fns() {
        // SAFETY: the caller's arguments and the libc's functions.
        Some(fns) => unsafe { create_hooked(&fns, thread, attr, start, arg) },
        None => ENOSYS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI32;

    static SEEN: AtomicI32 = AtomicI32::new(0);

    unsafe extern "C" fn probe(_: *mut c_void) -> *mut c_void {
        // A registered thread has an area, and its owner matches glibc's.
        let s = rseq_registration::status();
        SEEN.store(
            if s.area.is_some() { s.owner as i32 } else { -1 },
            Ordering::SeqCst,
        );
        core::ptr::null_mut()
    }

    static SLOT_TEST: std::sync::Mutex<()> = std::sync::Mutex::new(());

    unsafe extern "C" fn count(arg: *mut c_void) -> *mut c_void {
        arg.cast::<u8>().wrapping_add(1).cast()
    }

    fn create_and_join(arg: usize) -> usize {
        let mut t: usize = 0;
        // SAFETY: valid pthread_create arguments.
        let r = unsafe {
            rseq_libc_pthread_create(&mut t, core::ptr::null(), Some(count), arg as *mut c_void)
        };
        assert_eq!(r, 0);
        let mut result: *mut c_void = core::ptr::null_mut();
        let join = interposed_fns().unwrap().join;
        // SAFETY: joins the thread just created.
        let r = unsafe { join(t, &mut result) };
        assert_eq!(r, 0);
        result as usize
    }

    #[test]
    fn a_started_thread_frees_its_slot_and_a_full_pool_falls_back_to_waiting() {
        let _one = SLOT_TEST.lock().unwrap();
        let free = || {
            START_POOL
                .iter()
                .filter(|s| s.state.load(Ordering::Acquire) == SLOT_FREE)
                .count()
        };
        assert_eq!(create_and_join(41), 42);
        assert_eq!(free(), START_SLOTS);
        // Take every slot: the next thread gets its data from the waiting
        // creator's stack instead, and still runs its routine.
        let data = StartData {
            start: count,
            arg: core::ptr::null_mut(),
            mask: 0,
            inherit: Inherit::Register,
            key: 0,
            setspecific: interposed_fns().unwrap().setspecific,
        };
        let taken: Vec<_> = (0..START_SLOTS)
            .map_while(|_| claim_start_slot(data))
            .collect();
        assert_eq!(taken.len(), START_SLOTS);
        assert!(claim_start_slot(data).is_none());
        assert_eq!(create_and_join(7), 8);
        taken.into_iter().for_each(release_start_slot);
        assert_eq!(free(), START_SLOTS);
    }

    fn current_signal_mask() -> u64 {
        let mut mask: u64 = 0;
        // SAFETY: rt_sigprocmask with a null new set writes 8 bytes.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                0,
                &mut mask as *mut u64 as usize,
                8,
            )
        };
        mask
    }

    static CHILD_MASK: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn record_mask(_: *mut c_void) -> *mut c_void {
        let registered = rseq_registration::status().area.is_some();
        CHILD_MASK.store(
            if registered {
                current_signal_mask() as usize
            } else {
                usize::MAX
            },
            Ordering::SeqCst,
        );
        core::ptr::null_mut()
    }

    fn set_mask(mask: u64) -> u64 {
        let mut old: u64 = 0;
        // SAFETY: rt_sigprocmask with valid 8-byte sets.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                &mask as *const u64 as usize,
                &mut old as *mut u64 as usize,
                8,
            )
        };
        old
    }

    // The new thread registers, then runs with its creator's mask (every
    // signal is blocked only until it registered), and the creator's own
    // mask is what it was.
    #[test]
    fn a_new_thread_runs_with_its_creators_signal_mask() {
        let _one = SLOT_TEST.lock().unwrap();
        const SIGUSR2_BIT: u64 = 1 << (12 - 1);
        const SIGTERM_BIT: u64 = 1 << (15 - 1);
        let old = set_mask(SIGUSR2_BIT | SIGTERM_BIT);
        let mut t: usize = 0;
        // SAFETY: valid pthread_create arguments.
        let r = unsafe {
            rseq_libc_pthread_create(
                &mut t,
                core::ptr::null(),
                Some(record_mask),
                core::ptr::null_mut(),
            )
        };
        assert_eq!(r, 0);
        let fns = interposed_fns().unwrap();
        // SAFETY: joins the thread just created.
        assert_eq!(unsafe { (fns.join)(t, core::ptr::null_mut()) }, 0);
        let creator_after = set_mask(old);
        assert_eq!(creator_after, SIGUSR2_BIT | SIGTERM_BIT);
        assert_eq!(
            CHILD_MASK.load(Ordering::SeqCst) as u64,
            SIGUSR2_BIT | SIGTERM_BIT
        );
    }

    extern "C" {
        fn pthread_attr_init(attr: *mut c_void) -> c_int;
        fn pthread_attr_destroy(attr: *mut c_void) -> c_int;
        fn pthread_attr_setsigmask_np(attr: *mut c_void, mask: *const SigSet) -> c_int;
        fn pthread_attr_getsigmask_np(attr: *const c_void, mask: *mut SigSet) -> c_int;
    }

    // An attribute with its own mask (glibc >= 2.32, which the test binary
    // links): the thread runs with the attribute's mask, not its creator's,
    // once registered; the attribute and the creator's mask are unchanged.
    #[test]
    fn a_new_thread_runs_with_its_attributes_signal_mask() {
        let _one = SLOT_TEST.lock().unwrap();
        const SIGUSR2_BIT: u64 = 1 << (12 - 1);
        const SIGTERM_BIT: u64 = 1 << (15 - 1);
        const SIGHUP_BIT: u64 = 1;
        let mut attr = [0u64; 8];
        let attr = attr.as_mut_ptr().cast::<c_void>();
        let mut mask = SigSet([0; 16]);
        mask.0[0] = SIGUSR2_BIT | SIGTERM_BIT;
        // SAFETY: a 64-byte, 8-aligned pthread_attr_t (56 bytes in glibc).
        unsafe {
            assert_eq!(pthread_attr_init(attr), 0);
            assert_eq!(pthread_attr_setsigmask_np(attr, &mask), 0);
        }
        let old = set_mask(SIGHUP_BIT);
        CHILD_MASK.store(0, Ordering::SeqCst);
        let mut t: usize = 0;
        // SAFETY: valid pthread_create arguments.
        let r = unsafe {
            rseq_libc_pthread_create(&mut t, attr, Some(record_mask), core::ptr::null_mut())
        };
        assert_eq!(r, 0);
        let fns = interposed_fns().unwrap();
        // SAFETY: joins the thread just created.
        assert_eq!(unsafe { (fns.join)(t, core::ptr::null_mut()) }, 0);
        assert_eq!(set_mask(old), SIGHUP_BIT);
        assert_eq!(
            CHILD_MASK.load(Ordering::SeqCst) as u64,
            SIGUSR2_BIT | SIGTERM_BIT
        );
        let mut after = SigSet([0; 16]);
        // SAFETY: the attribute initialized above.
        unsafe {
            assert_eq!(pthread_attr_getsigmask_np(attr, &mut after), 0);
            pthread_attr_destroy(attr);
        }
        assert_eq!(after.0[0], SIGUSR2_BIT | SIGTERM_BIT);
        assert_eq!(ATTR_MASK_LOCK.load(Ordering::SeqCst), 0);
    }

    // A fork child inherits the lock as its parent held it: the holder is
    // another process, and the child takes the lock over instead of waiting
    // forever.
    #[test]
    fn the_attribute_mask_lock_of_another_process_is_taken_over() {
        let _one = SLOT_TEST.lock().unwrap();
        // SAFETY: getpid has no arguments.
        let me = unsafe { syscall0(nr::GETPID) } as u32;
        let other = if me == 1 { 2 } else { me - 1 };
        ATTR_MASK_LOCK.store(other | LOCK_CONTENDED, Ordering::SeqCst);
        lock_attr_masks();
        assert_eq!(ATTR_MASK_LOCK.load(Ordering::SeqCst), me);
        unlock_attr_masks();
        assert_eq!(ATTR_MASK_LOCK.load(Ordering::SeqCst), 0);
    }

    // The test binary links glibc dynamically: the --defsym entry finds
    // glibc's pthread_create with dlsym(RTLD_NEXT) from this executable.
    #[test]
    fn interposed_create_starts_a_registered_thread() {
        let _one = SLOT_TEST.lock().unwrap();
        let mut t: usize = 0;
        // SAFETY: valid pthread_create arguments.
        let r = unsafe {
            rseq_libc_pthread_create(
                &mut t,
                core::ptr::null(),
                Some(probe),
                core::ptr::null_mut(),
            )
        };
        assert_eq!(r, 0);
        let fns = interposed_fns().unwrap();
        // SAFETY: joins the thread just created.
        assert_eq!(unsafe { (fns.join)(t, core::ptr::null_mut()) }, 0);
        let expect = rseq_registration::owner() as i32;
        assert!(expect > 0);
        assert_eq!(SEEN.load(Ordering::SeqCst), expect);
    }
}
