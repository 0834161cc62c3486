//! Thread exit: a thread-specific-data key whose destructor runs in the
//! libc's last destructor round and unregisters the area.

use crate::libc::{KeyCreateFn, SetSpecificFn};
use core::ffi::{c_uint, c_void};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{nr, syscall0};

/// Destructor rounds of glibc and musl (`PTHREAD_DESTRUCTOR_ITERATIONS`).
const DESTRUCTOR_ITERATIONS: usize = 4;

const KEY_NONE: u32 = 0;
const KEY_CREATING: u32 = 1;
const KEY_READY: u32 = 2;
static KEY_STATE: AtomicU32 = AtomicU32::new(KEY_NONE);
static KEY: AtomicU32 = AtomicU32::new(0);
static SETSPECIFIC: AtomicUsize = AtomicUsize::new(0);

/// The exit key, created by the first hooked `pthread_create` that needs
/// it; `None` if the libc has no key left right now. A failure is not
/// remembered: keys freed later make the next call succeed.
pub(crate) fn exit_key(key_create: KeyCreateFn, setspecific: SetSpecificFn) -> Option<c_uint> {
    loop {
        match KEY_STATE.compare_exchange(
            KEY_NONE,
            KEY_CREATING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                SETSPECIFIC.store(setspecific as usize, Ordering::Relaxed);
                let mut key: c_uint = 0;
                // SAFETY: the libc's pthread_key_create with a valid out
                // pointer and a destructor that lives as long as the process.
                let r = unsafe { key_create(&mut key, Some(exit_destructor)) };
                KEY.store(key, Ordering::Relaxed);
                let state = if r == 0 { KEY_READY } else { KEY_NONE };
                KEY_STATE.store(state, Ordering::Release);
                return (r == 0).then_some(key);
            }
            Err(KEY_READY) => return Some(KEY.load(Ordering::Relaxed)),
            // SAFETY: sched_yield has no arguments and no effect on memory.
            Err(_) => unsafe {
                syscall0(nr::SCHED_YIELD);
            },
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
        // SAFETY: SETSPECIFIC holds the libc's pthread_setspecific, stored
        // before the key existed.
        let set: SetSpecificFn = unsafe { core::mem::transmute::<usize, SetSpecificFn>(set) };
        // SAFETY: the key is ours and valid; the value is a round count.
        if unsafe { set(KEY.load(Ordering::Relaxed), (round + 1) as *const c_void) } == 0 {
            return;
        }
    }
    rseq_registration::unregister_current_thread_at_exit();
}

/// The exit step of a thread, for a libc that ends its threads itself:
/// unregisters the area the component registered (exact area, length and
/// signature), and the thread can never register again. Call it after the
/// last code that may use the area (key destructors) and before the area's
/// memory can be freed. The signal mask is left alone.
pub fn unregister_at_thread_exit() {
    rseq_registration::unregister_current_thread_at_exit();
}
