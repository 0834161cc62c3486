//! The hooks themselves (see the crate documentation).

use crate::arch;
use core::ffi::{c_char, c_int, c_uint, c_void};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{nr, syscall0, syscall3, syscall4};
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
    // Its own guard restores "all blocked". A failure cannot be reported
    // from a destructor; the kernel refuses only a mismatch, which the
    // state machine rules out.
    let _ = rseq_registration::unregister_current_thread();
}

/// What the new thread does about registration.
#[derive(Clone, Copy)]
enum Inherit {
    Register,
    Unregistered(Reason, i32),
}

const PENDING: u32 = 0;
const WAITING: u32 = 1;
const DONE: u32 = 2;

/// On the creator's stack until the new thread has read it and answered.
struct StartShared {
    start: StartRoutine,
    arg: *mut c_void,
    mask: u64,
    inherit: Inherit,
    key: c_uint,
    setspecific: SetSpecificFn,
    /// PENDING, WAITING (the creator sleeps on it) or DONE.
    state: AtomicU32,
    /// 0, or the error `pthread_create` returns.
    outcome: AtomicU32,
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

/// The new thread's first function, with every signal blocked.
///
/// # Safety
/// `shared` is the creator's [`StartShared`], alive until `state` is DONE.
unsafe extern "C" fn start_hooked(shared: *mut c_void) -> *mut c_void {
    let s = shared as *const StartShared;
    // SAFETY: the creator keeps it alive and unchanged until DONE.
    let (start, arg, mask, inherit, key, setspecific) = unsafe {
        (
            (*s).start,
            (*s).arg,
            (*s).mask,
            (*s).inherit,
            (*s).key,
            (*s).setspecific,
        )
    };
    let outcome = match inherit {
        Inherit::Register => match rseq_registration::register_current_thread() {
            Ok(_) => {
                // SAFETY: the libc's pthread_setspecific on our key.
                if unsafe { setspecific(key, core::ptr::null::<c_void>().wrapping_add(1)) } == 0 {
                    0
                } else {
                    let _ = rseq_registration::unregister_current_thread();
                    EAGAIN
                }
            }
            Err(_) => EAGAIN,
        },
        Inherit::Unregistered(reason, error) => {
            rseq_registration::inherit_unregistered(reason, error);
            0
        }
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
    set_signal_mask(mask);
    // SAFETY: the application's start routine with its argument.
    unsafe { start(arg) }
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
    let shared = StartShared {
        start: start_routine,
        arg,
        mask: blocked.previous(),
        inherit,
        key,
        setspecific: fns.setspecific,
        state: AtomicU32::new(PENDING),
        outcome: AtomicU32::new(0),
    };
    // SAFETY: the libc's pthread_create; `shared` outlives the new thread's
    // use of it (wait_for_start below).
    let r = unsafe {
        (fns.create)(
            thread,
            attr,
            Some(start_hooked),
            &shared as *const StartShared as *mut c_void,
        )
    };
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

    // The test binary links glibc dynamically: the --defsym entry finds
    // glibc's pthread_create with dlsym(RTLD_NEXT) from this executable.
    #[test]
    fn interposed_create_starts_a_registered_thread() {
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
