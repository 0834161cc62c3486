//! Thread exit: a thread-specific-data key whose destructor runs in the
//! libc's last destructor round and unregisters the area.

use crate::libc::{KeyCreateFn, SetSpecificFn};
use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{nr, syscall0, syscall3};
use rseq_abi::errno::ESRCH;
use rseq_abi::weak_function_address;
use rseq_registration::host::{host, HostRseq};

/// Destructor rounds of glibc and musl (`PTHREAD_DESTRUCTOR_ITERATIONS`).
const DESTRUCTOR_ITERATIONS: usize = 4;

const KEY_NONE: u32 = 0;
const KEY_READY: u32 = 1;
/// Any other state: the key is being created by the thread whose tid is
/// the state minus this.
const KEY_CREATING_BY: u32 = 2;
static KEY_STATE: AtomicU32 = AtomicU32::new(KEY_NONE);
static KEY: AtomicU32 = AtomicU32::new(0);
static SETSPECIFIC: AtomicUsize = AtomicUsize::new(0);

/// The exit key, created by the first hooked `pthread_create` that needs
/// it; `None` if the libc has no key left right now. A failure is not
/// remembered: keys freed later make the next call succeed. The state
/// names the creating thread, so that the child of a `fork` made while
/// another thread was creating the key (that thread does not exist in the
/// child) creates it anew instead of waiting for good.
pub(crate) fn exit_key(key_create: KeyCreateFn, setspecific: SetSpecificFn) -> Option<c_uint> {
    loop {
        let state = KEY_STATE.load(Ordering::Acquire);
        if state == KEY_READY {
            return Some(KEY.load(Ordering::Relaxed));
        }
        if state != KEY_NONE {
            if thread_in_this_process(state - KEY_CREATING_BY) {
                // SAFETY: sched_yield has no arguments and no effect on memory.
                unsafe { syscall0(nr::SCHED_YIELD) };
            } else {
                let _ = KEY_STATE.compare_exchange(
                    state,
                    KEY_NONE,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            continue;
        }
        // SAFETY: gettid takes no arguments.
        let me = (unsafe { syscall0(nr::GETTID) } as u32).wrapping_add(KEY_CREATING_BY);
        if KEY_STATE
            .compare_exchange(KEY_NONE, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            continue;
        }
        SETSPECIFIC.store(setspecific as usize, Ordering::Relaxed);
        let mut key: c_uint = 0;
        // SAFETY: the libc's pthread_key_create with a valid out pointer and
        // a destructor that lives as long as the process.
        let r = unsafe { key_create(&mut key, Some(exit_destructor)) };
        KEY.store(key, Ordering::Relaxed);
        let state = if r == 0 { KEY_READY } else { KEY_NONE };
        KEY_STATE.store(state, Ordering::Release);
        if r == 0 {
            rseq_registration::set_exit_step_armed_query(exit_step_armed);
        }
        return (r == 0).then_some(key);
    }
}

/// Whether thread `tid` is a thread of the calling process (`tgkill` with
/// signal 0 checks without sending anything): a thread of the parent that
/// forked this process is not.
fn thread_in_this_process(tid: u32) -> bool {
    // SAFETY: getpid takes no arguments; tgkill with signal 0 only checks
    // that the thread exists in the thread group.
    let r = unsafe {
        let pid = syscall0(nr::GETPID);
        syscall3(nr::TGKILL, pid as usize, tid as usize, 0)
    };
    r != -(ESRCH as isize)
}

/// Forgets the exit key (tests: a later call creates one again).
#[cfg(test)]
pub(crate) fn forget_key_for_test() {
    KEY_STATE.store(KEY_NONE, Ordering::Release);
}

type GetSpecificFn = unsafe extern "C" fn(c_uint) -> *mut c_void;
type SetCancelStateFn = unsafe extern "C" fn(c_int, *mut c_int) -> c_int;
const PTHREAD_CANCEL_ENABLE: c_int = 0;
const PTHREAD_CANCEL_DISABLE: c_int = 1;

/// Whether the calling thread's exit key holds a value (its exit step will
/// run). Async-signal-safe in musl (a load from the thread's key array),
/// the only host that asks (see [`rseq_registration::set_exit_step_armed_query`]).
fn exit_step_armed() -> bool {
    let get = weak_function_address!("pthread_getspecific");
    if get == 0 || KEY_STATE.load(Ordering::Acquire) != KEY_READY {
        return false;
    }
    // SAFETY: the non-null address of the libc's pthread_getspecific.
    let get: GetSpecificFn = unsafe { core::mem::transmute::<usize, GetSpecificFn>(get) };
    // SAFETY: a valid key.
    !unsafe { get(KEY.load(Ordering::Relaxed)) }.is_null()
}

/// Sets the exit key's value (the round count) for the calling thread.
fn arm(round: usize) -> bool {
    let set = SETSPECIFIC.load(Ordering::Relaxed);
    // SAFETY: SETSPECIFIC holds the libc's pthread_setspecific, stored
    // before the key existed.
    let set: SetSpecificFn = unsafe { core::mem::transmute::<usize, SetSpecificFn>(set) };
    // SAFETY: the key is ours and valid; the value is a round count.
    unsafe { set(KEY.load(Ordering::Relaxed), round as *const c_void) == 0 }
}

/// Whether the libc runs the key destructors because the thread ends, not
/// to recycle it: musl runs them after each `SIGEV_THREAD` timer callback
/// and then goes on with the same thread (re-initializing its TLS). Its
/// `pthread_exit` disables cancellation first; the recycling path does
/// not. glibc only runs them at exit.
fn thread_is_ending() -> bool {
    if !matches!(host().0, HostRseq::Unsupported) {
        return true;
    }
    let set = weak_function_address!("pthread_setcancelstate");
    if set == 0 {
        return true;
    }
    // SAFETY: the non-null address of the libc's pthread_setcancelstate.
    let set: SetCancelStateFn = unsafe { core::mem::transmute::<usize, SetCancelStateFn>(set) };
    let mut old: c_int = PTHREAD_CANCEL_DISABLE;
    // SAFETY: valid state and out pointer.
    if unsafe { set(PTHREAD_CANCEL_DISABLE, &mut old) } != 0 {
        return true;
    }
    if old == PTHREAD_CANCEL_ENABLE {
        // SAFETY: as above; puts the caller's state back.
        unsafe { set(old, &mut old) };
        return false;
    }
    true
}

/// The exit key's destructor. Its value counts the destructor rounds: it
/// re-arms itself so that it runs in the libc's last round, after the
/// application's own destructors of the first rounds, and then
/// unregisters. A thread the libc recycles (musl's timer thread) is
/// unregistered too, since the libc then rewrites its TLS, area included;
/// its key is armed again, so that its next API call registers it and its
/// real end unregisters it.
unsafe extern "C" fn exit_destructor(value: *mut c_void) {
    let round = value as usize;
    if round < DESTRUCTOR_ITERATIONS && arm(round + 1) {
        return;
    }
    let ending = thread_is_ending();
    rseq_registration::unregister_current_thread_at_exit();
    if !ending {
        arm(1);
    }
}

/// The exit step of a thread, for a libc that ends its threads itself:
/// unregisters the area the component registered (exact area, length and
/// signature), and the thread can never register again. Call it after the
/// last code that may use the area (key destructors) and before the area's
/// memory can be freed. The signal mask is left alone.
pub fn unregister_at_thread_exit() {
    rseq_registration::unregister_current_thread_at_exit();
}
