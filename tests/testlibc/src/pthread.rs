//! `<pthread.h>`: threads made with clone(2), each with its TLS, TCB and
//! rseq area laid out by dl-early-tls in one mapping with its stack:
//!
//! ```text
//! | stack (256 KiB) ... | Thread descriptor | TLS block | TCB | rseq area |
//! ```
//!
//! rseq: `pthread_create` blocks every signal before clone; the new thread
//! registers its area (`rseq_registration::register_current_thread`)
//! before it restores its creator's mask, so no handler ever runs on it
//! unregistered; it unregisters, with every signal blocked, before it ends
//! (its area is freed by the joiner, or by itself when detached).
//! `pthread_t` is the descriptor's address (`unsigned long`, as glibc).

use crate::arch::{rseq_testlibc_clone, rseq_testlibc_unmap_and_exit};
use crate::errno::SELF_OFFSET;
use crate::sys::{e, nr};
use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{syscall2, syscall4, thread_pointer};

const STACK_SIZE: usize = 256 << 10;
/// `PTHREAD_KEYS_MAX` of this library.
pub const KEYS_MAX: usize = 64;
const DESTRUCTOR_ITERATIONS: usize = 4;

const JOINABLE: u32 = 0;
const DETACHED: u32 = 1;
const EXITING: u32 = 2;

type StartFn = extern "C" fn(*mut c_void) -> *mut c_void;

/// A thread descriptor.
#[repr(C, align(64))]
pub struct Thread {
    /// The kernel thread id; cleared (and futex-woken) by the kernel when
    /// the thread has exited (CLONE_CHILD_CLEARTID).
    tid: AtomicI32,
    state: AtomicU32,
    start: Option<StartFn>,
    arg: *mut c_void,
    result: *mut c_void,
    map_base: usize,
    map_len: usize,
    /// The creator's signal mask, restored once the thread is registered.
    creator_mask: u64,
    keys: [*mut c_void; KEYS_MAX],
}

struct MainThread(core::cell::UnsafeCell<Thread>);
// SAFETY: only the main thread reads and writes its descriptor's fields
// (other threads only compare its address).
unsafe impl Sync for MainThread {}

static MAIN: MainThread = MainThread(core::cell::UnsafeCell::new(Thread {
    tid: AtomicI32::new(0),
    state: AtomicU32::new(JOINABLE),
    start: None,
    arg: core::ptr::null_mut(),
    result: core::ptr::null_mut(),
    map_base: 0,
    map_len: 0,
    creator_mask: 0,
    keys: [core::ptr::null_mut(); KEYS_MAX],
}));

fn current() -> *mut Thread {
    // SAFETY: the TCB's descriptor word, written before the thread starts
    // (0 in the main thread, whose TCB dl-early-tls zeroed).
    let d = unsafe { *(thread_pointer().add(SELF_OFFSET) as *const *mut Thread) };
    if d.is_null() {
        MAIN.0.get()
    } else {
        d
    }
}

/// pthread_self(3)
#[no_mangle]
pub extern "C" fn pthread_self() -> usize {
    current() as usize
}

/// pthread_equal(3)
#[no_mangle]
pub extern "C" fn pthread_equal(a: usize, b: usize) -> c_int {
    (a == b) as c_int
}

fn block_all_signals() -> u64 {
    let all: u64 = !0;
    let mut old = 0u64;
    // SAFETY: 8-byte kernel sigsets on the stack.
    unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            2,
            &all as *const u64 as usize,
            &mut old as *mut u64 as usize,
            8,
        )
    };
    old
}

fn set_signal_mask(mask: u64) {
    // SAFETY: as in block_all_signals.
    unsafe { syscall4(nr::RT_SIGPROCMASK, 2, &mask as *const u64 as usize, 0, 8) };
}

const CLONE_FLAGS: usize = 0x100 // CLONE_VM
    | 0x200 // CLONE_FS
    | 0x400 // CLONE_FILES
    | 0x800 // CLONE_SIGHAND
    | 0x10000 // CLONE_THREAD
    | 0x40000 // CLONE_SYSVSEM
    | 0x80000 // CLONE_SETTLS
    | 0x100000 // CLONE_PARENT_SETTID
    | 0x200000; // CLONE_CHILD_CLEARTID

/// pthread_create(3); attributes are ignored.
///
/// # Safety
/// `out` is writable; `start` is a thread function for `arg`.
#[no_mangle]
pub unsafe extern "C" fn pthread_create(
    out: *mut usize,
    _attr: *const c_void,
    start: Option<StartFn>,
    arg: *mut c_void,
) -> c_int {
    let (Some(layout), Some(start)) = (rseq_dl_early_tls::layout(), start) else {
        return e::EINVAL;
    };
    let desc_size = core::mem::size_of::<Thread>();
    let Some(tls_len) = layout.allocation_size() else {
        return e::EAGAIN;
    };
    let Some(len) = (STACK_SIZE + desc_size)
        .checked_add(tls_len)
        .and_then(|n| n.checked_add(4095))
        .map(|n| n & !4095)
    else {
        return e::EAGAIN;
    };
    let base = match rseq_dl_early_tls::map_anonymous(len) {
        Ok(m) => m,
        Err(_) => return e::EAGAIN,
    };
    // SAFETY: all within the fresh mapping of len bytes: the descriptor
    // right above the stack (page-aligned, so aligned 64), the TLS after.
    unsafe {
        let desc = base.add(STACK_SIZE).cast::<Thread>();
        desc.write(Thread {
            tid: AtomicI32::new(0),
            state: AtomicU32::new(JOINABLE),
            start: Some(start),
            arg,
            result: core::ptr::null_mut(),
            map_base: base as usize,
            map_len: len,
            creator_mask: 0,
            keys: [core::ptr::null_mut(); KEYS_MAX],
        });
        let tls_mem = base.add(STACK_SIZE + desc_size);
        let Some(tp) = layout.install(tls_mem, tls_len) else {
            syscall2(nr::MUNMAP, base as usize, len);
            return e::EAGAIN;
        };
        *(tp.add(SELF_OFFSET) as *mut *mut Thread) = desc;
        // Every signal stays blocked in the child until it is registered.
        (*desc).creator_mask = block_all_signals();
        let tid = core::ptr::addr_of_mut!((*desc).tid).cast::<i32>();
        let r = rseq_testlibc_clone(
            thread_start,
            base.add(STACK_SIZE),
            CLONE_FLAGS,
            desc.cast(),
            tid,
            tp,
            tid,
        );
        set_signal_mask((*desc).creator_mask);
        if r < 0 {
            syscall2(nr::MUNMAP, base as usize, len);
            return e::EAGAIN;
        }
        *out = desc as usize;
    }
    0
}

extern "C" fn thread_start(arg: *mut c_void) -> i32 {
    let desc = arg.cast::<Thread>();
    // Signals are blocked (inherited from pthread_create). A failure leaves
    // the thread unregistered (cpu_id -2) and every reader falls back.
    let _ = rseq_registration::register_current_thread();
    // SAFETY: our own descriptor, written before clone.
    let (start, arg, mask) = unsafe { ((*desc).start, (*desc).arg, (*desc).creator_mask) };
    set_signal_mask(mask);
    let result = match start {
        Some(f) => f(arg),
        None => core::ptr::null_mut(),
    };
    pthread_exit(result)
}

fn run_key_destructors(t: *mut Thread) {
    for _ in 0..DESTRUCTOR_ITERATIONS {
        let mut ran = false;
        for (k, slot) in KEY_DESTRUCTORS.iter().enumerate() {
            // SAFETY: the calling thread's own descriptor.
            let v = unsafe { (*t).keys[k] };
            let d = slot.load(Ordering::Acquire);
            if v.is_null() || d == 0 || d == KEY_NO_DESTRUCTOR {
                continue;
            }
            // SAFETY: as above; then the destructor registered for k.
            unsafe {
                (*t).keys[k] = core::ptr::null_mut();
                let f: extern "C" fn(*mut c_void) = core::mem::transmute(d);
                f(v);
            }
            ran = true;
        }
        if !ran {
            break;
        }
    }
}

/// pthread_exit(3). The main thread's exit ends only that thread.
#[no_mangle]
pub extern "C" fn pthread_exit(result: *mut c_void) -> ! {
    let t = current();
    run_key_destructors(t);
    // SAFETY: the calling thread's own descriptor.
    unsafe { (*t).result = result };
    // No handler may run from here on: the area is about to go away.
    block_all_signals();
    let _ = rseq_registration::unregister_current_thread();
    if t == MAIN.0.get() {
        crate::stdlib::exit_thread(0);
    }
    // SAFETY: our own descriptor; a detached thread frees its mapping (its
    // own stack) in assembly that touches no memory afterwards.
    unsafe {
        if (*t)
            .state
            .compare_exchange(JOINABLE, EXITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            rseq_testlibc_unmap_and_exit((*t).map_base, (*t).map_len);
        }
    }
    crate::stdlib::exit_thread(0)
}

/// Waits until the kernel cleared the thread's tid (it has exited).
fn wait_exited(t: *mut Thread) {
    // SAFETY: t is a live descriptor (its mapping is freed only after this).
    let tid = unsafe { &(*t).tid };
    loop {
        let v = tid.load(Ordering::Acquire);
        if v == 0 {
            return;
        }
        // SAFETY: FUTEX_WAIT on the tid word while it holds v.
        unsafe {
            syscall4(
                nr::FUTEX,
                tid as *const AtomicI32 as usize,
                0,
                v as usize,
                0,
            )
        };
    }
}

/// pthread_join(3)
///
/// # Safety
/// `t` is a joinable thread of this process; `result` null or writable.
#[no_mangle]
pub unsafe extern "C" fn pthread_join(t: usize, result: *mut *mut c_void) -> c_int {
    let t = t as *mut Thread;
    if t == current() {
        return e::EDEADLK;
    }
    if t.is_null() || t == MAIN.0.get() {
        return e::ESRCH;
    }
    wait_exited(t);
    // SAFETY: the thread has exited; its mapping is ours to free.
    unsafe {
        if !result.is_null() {
            *result = (*t).result;
        }
        syscall2(nr::MUNMAP, (*t).map_base, (*t).map_len);
    }
    0
}

/// pthread_detach(3)
///
/// # Safety
/// `t` is a joinable thread of this process.
#[no_mangle]
pub unsafe extern "C" fn pthread_detach(t: usize) -> c_int {
    let t = t as *mut Thread;
    if t.is_null() || t == MAIN.0.get() {
        return e::ESRCH;
    }
    // SAFETY: a live descriptor.
    let state = unsafe { &(*t).state };
    match state.compare_exchange(JOINABLE, DETACHED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => 0,
        // Already exiting: it will not free itself, so reap it here.
        // SAFETY: forwarded.
        Err(_) => unsafe { pthread_join(t as usize, core::ptr::null_mut()) },
    }
}

const KEY_NO_DESTRUCTOR: usize = 1;
static KEY_DESTRUCTORS: [AtomicUsize; KEYS_MAX] = [const { AtomicUsize::new(0) }; KEYS_MAX];

/// pthread_key_create(3)
///
/// # Safety
/// `key` is writable.
#[no_mangle]
pub unsafe extern "C" fn pthread_key_create(
    key: *mut c_uint,
    destructor: Option<extern "C" fn(*mut c_void)>,
) -> c_int {
    let d = destructor.map_or(KEY_NO_DESTRUCTOR, |f| f as usize);
    for (k, slot) in KEY_DESTRUCTORS.iter().enumerate() {
        if slot
            .compare_exchange(0, d, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: per the caller.
            unsafe { *key = k as c_uint };
            return 0;
        }
    }
    e::EAGAIN
}

/// pthread_key_delete(3)
#[no_mangle]
pub extern "C" fn pthread_key_delete(key: c_uint) -> c_int {
    match KEY_DESTRUCTORS.get(key as usize) {
        Some(slot) if slot.swap(0, Ordering::AcqRel) != 0 => 0,
        _ => e::EINVAL,
    }
}

/// pthread_setspecific(3)
#[no_mangle]
pub extern "C" fn pthread_setspecific(key: c_uint, value: *const c_void) -> c_int {
    let k = key as usize;
    if k >= KEYS_MAX || KEY_DESTRUCTORS[k].load(Ordering::Acquire) == 0 {
        return e::EINVAL;
    }
    // SAFETY: the calling thread's own descriptor.
    unsafe { (*current()).keys[k] = value as *mut c_void };
    0
}

/// pthread_getspecific(3)
#[no_mangle]
pub extern "C" fn pthread_getspecific(key: c_uint) -> *mut c_void {
    let k = key as usize;
    if k >= KEYS_MAX {
        return core::ptr::null_mut();
    }
    // SAFETY: the calling thread's own descriptor.
    unsafe { (*current()).keys[k] }
}
