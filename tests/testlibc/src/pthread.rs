//! `<pthread.h>`: threads made with clone(2), each with its TLS, TCB and
//! rseq area laid out by dl-early-tls in one mapping with its stack:
//!
//! ```text
//! | stack (256 KiB) ... | Thread descriptor | TLS block | TCB | rseq area |
//! ```
//!
//! or, with `pthread_attr_setstack`, the descriptor and TLS at the top of
//! the caller's stack (as glibc does), which the caller frees after join.
//!
//! rseq, the same steps as the pthread hooks (`rseq-pthread-hooks`, whose
//! functions this uses): `pthread_create` reads the creator's registration
//! ([`NewThreadRegistration::of_creator`]) and blocks every signal before
//! clone; the new thread registers its area first (or inherits
//! "unregistered" from its creator; a failure when the creator is
//! registered ends the process with status 127), then restores its
//! creator's mask, so no handler ever runs on it unregistered. At exit
//! (return, `pthread_exit`, cancellation, detached) it runs its cleanup
//! handlers and key destructors, then blocks every signal for good and
//! unregisters ([`unregister_at_thread_exit`]) before its memory can be
//! freed (by the joiner, by itself when detached, or by the owner of a
//! user stack after join).
//! `pthread_t` is the descriptor's address (`unsigned long`, as glibc).
//! Cancellation is deferred only: `pthread_cancel` marks the thread and
//! `pthread_testcancel` acts on it.

use crate::arch::{rseq_testlibc_clone, rseq_testlibc_unmap_and_exit};
use crate::errno::SELF_OFFSET;
use crate::sys::{e, nr};
use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, thread_pointer};
use rseq_pthread_hooks::{unregister_at_thread_exit, NewThreadRegistration};

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
    /// What the thread does about rseq at its start (from its creator).
    registration: Option<NewThreadRegistration>,
    /// The mapping is the caller's (pthread_attr_setstack): never freed here.
    user_stack: bool,
    /// Set by pthread_cancel.
    cancel_requested: AtomicU32,
    /// PTHREAD_CANCEL_DISABLE (1) or ENABLE (0), pthread_setcancelstate.
    cancel_disabled: AtomicU32,
    /// Innermost cleanup handler (pthread_cleanup_push).
    cleanup: *mut CleanupFrame,
    keys: [*mut c_void; KEYS_MAX],
}

/// glibc's `PTHREAD_CANCELED`.
pub const PTHREAD_CANCELED: *mut c_void = usize::MAX as *mut c_void;

/// `struct __ptcb` of `<pthread.h>`: one `pthread_cleanup_push` frame on
/// the caller's stack.
#[repr(C)]
pub struct CleanupFrame {
    routine: Option<extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
    next: *mut CleanupFrame,
}

/// `pthread_attr_t`'s 56 bytes as this library uses them.
#[repr(C)]
pub struct Attr {
    stack_addr: usize,
    stack_size: usize,
    detach_state: c_int,
}

/// glibc's `pthread_attr_t` (56 bytes, aligned 8).
#[repr(C, align(8))]
pub struct pthread_attr_t([u8; 56]);

const _: () = assert!(core::mem::size_of::<Attr>() <= core::mem::size_of::<pthread_attr_t>());

/// `PTHREAD_CREATE_DETACHED`.
pub const PTHREAD_CREATE_DETACHED: c_int = 1;

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
    registration: None,
    user_stack: false,
    cancel_requested: AtomicU32::new(0),
    cancel_disabled: AtomicU32::new(0),
    cleanup: core::ptr::null_mut(),
    keys: [core::ptr::null_mut(); KEYS_MAX],
}));

fn current() -> *mut Thread {
    // SAFETY: the TCB's descriptor word, written before the thread starts
    // (0 in the main thread, whose TCB dl-early-tls zeroed).
    let d = unsafe { *(thread_pointer().offset(SELF_OFFSET) as *const *mut Thread) };
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

/// Where a thread's descriptor, TLS and stack go.
struct Placement {
    base: *mut u8,
    len: usize,
    stack_top: *mut u8,
    desc: *mut Thread,
    tls: *mut u8,
    tls_len: usize,
    user_stack: bool,
}

/// Our own mapping: the stack, then the descriptor and TLS above it.
fn place_in_new_mapping(tls_len: usize) -> Result<Placement, c_int> {
    let desc_size = core::mem::size_of::<Thread>();
    let len = (STACK_SIZE + desc_size)
        .checked_add(tls_len)
        .and_then(|n| n.checked_add(4095))
        .map(|n| n & !4095)
        .ok_or(e::EAGAIN)?;
    let base = rseq_dl_early_tls::map_anonymous(len).map_err(|_| e::EAGAIN)?;
    let top = base.wrapping_add(STACK_SIZE);
    Ok(Placement {
        base,
        len,
        stack_top: top,
        desc: top.cast(),
        tls: top.wrapping_add(desc_size),
        tls_len: len - STACK_SIZE - desc_size,
        user_stack: false,
    })
}

/// The caller's stack: the descriptor and TLS at its top, as glibc does.
fn place_in_user_stack(addr: usize, size: usize, tls_len: usize) -> Result<Placement, c_int> {
    let desc_size = core::mem::size_of::<Thread>();
    let top = addr.checked_add(size).ok_or(e::EINVAL)?;
    let need = desc_size.checked_add(tls_len).ok_or(e::EINVAL)?;
    // At least 16 KiB of stack below them.
    let desc = top.checked_sub(need).ok_or(e::EINVAL)? & !63;
    if desc < addr.saturating_add(16 << 10) {
        return Err(e::EINVAL);
    }
    Ok(Placement {
        base: addr as *mut u8,
        len: size,
        stack_top: desc as *mut u8,
        desc: desc as *mut Thread,
        tls: (desc + desc_size) as *mut u8,
        tls_len: top - desc - desc_size,
        user_stack: true,
    })
}

/// pthread_create(3), with the stack and detach state attributes.
///
/// # Safety
/// `out` is writable; `attr` is null or initialised; `start` is a thread
/// function for `arg`.
#[no_mangle]
pub unsafe extern "C" fn pthread_create(
    out: *mut usize,
    attr: *const pthread_attr_t,
    start: Option<StartFn>,
    arg: *mut c_void,
) -> c_int {
    let (Some(layout), Some(start)) = (rseq_dl_early_tls::layout(), start) else {
        return e::EINVAL;
    };
    let Some(tls_len) = layout.allocation_size() else {
        return e::EAGAIN;
    };
    // SAFETY: per the caller, an initialised attribute object or null.
    let attr = unsafe { attr.cast::<Attr>().as_ref() };
    let detached = attr.is_some_and(|a| a.detach_state == PTHREAD_CREATE_DETACHED);
    let placed = match attr {
        Some(a) if a.stack_addr != 0 => place_in_user_stack(a.stack_addr, a.stack_size, tls_len),
        _ => place_in_new_mapping(tls_len),
    };
    let p = match placed {
        Ok(p) => p,
        Err(err) => return err,
    };
    let free = |p: &Placement| {
        if !p.user_stack {
            // SAFETY: our own fresh mapping, unused.
            unsafe { syscall2(nr::MUNMAP, p.base as usize, p.len) };
        }
    };
    let desc = p.desc;
    // SAFETY: the descriptor and the TLS lie within the placement's memory,
    // which nothing else uses (a fresh mapping, or the caller's stack).
    unsafe {
        desc.write(Thread {
            tid: AtomicI32::new(0),
            state: AtomicU32::new(if detached { DETACHED } else { JOINABLE }),
            start: Some(start),
            arg,
            result: core::ptr::null_mut(),
            map_base: p.base as usize,
            map_len: p.len,
            creator_mask: 0,
            registration: NewThreadRegistration::of_creator(),
            user_stack: p.user_stack,
            cancel_requested: AtomicU32::new(0),
            cancel_disabled: AtomicU32::new(0),
            cleanup: core::ptr::null_mut(),
            keys: [core::ptr::null_mut(); KEYS_MAX],
        });
        let Some(tp) = layout.install(p.tls, p.tls_len) else {
            free(&p);
            return e::EAGAIN;
        };
        *(tp.offset(SELF_OFFSET) as *mut *mut Thread) = desc;
        // Every signal stays blocked in the child until it is registered.
        // (A local copy: a detached thread may be gone, its descriptor
        // unmapped, before clone returns here.)
        let creator_mask = block_all_signals();
        (*desc).creator_mask = creator_mask;
        let tid = core::ptr::addr_of_mut!((*desc).tid).cast::<i32>();
        let r = rseq_testlibc_clone(
            thread_start,
            p.stack_top,
            CLONE_FLAGS,
            desc.cast(),
            tid,
            tp,
            tid,
        );
        set_signal_mask(creator_mask);
        if r < 0 {
            free(&p);
            return e::EAGAIN;
        }
        // A detached thread may be gone already: only its address is kept.
        *out = desc as usize;
    }
    0
}

extern "C" fn thread_start(arg: *mut c_void) -> i32 {
    let desc = arg.cast::<Thread>();
    // SAFETY: our own descriptor, written before clone.
    let (start, arg, mask, registration) = unsafe {
        (
            (*desc).start,
            (*desc).arg,
            (*desc).creator_mask,
            (*desc).registration,
        )
    };
    if let Some(r) = registration {
        // SAFETY: a new thread; every signal is blocked (inherited from
        // pthread_create).
        unsafe { r.apply_in_new_thread() };
    }
    set_signal_mask(mask);
    let result = match start {
        Some(f) => f(arg),
        None => core::ptr::null_mut(),
    };
    pthread_exit(result)
}

/// _pthread_cleanup_push (the `pthread_cleanup_push` macro).
///
/// # Safety
/// `frame` lives until the matching `_pthread_cleanup_pop`.
#[no_mangle]
pub unsafe extern "C" fn _pthread_cleanup_push(
    frame: *mut CleanupFrame,
    routine: Option<extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
) {
    let t = current();
    // SAFETY: the caller's frame and our own descriptor.
    unsafe {
        frame.write(CleanupFrame {
            routine,
            arg,
            next: (*t).cleanup,
        });
        (*t).cleanup = frame;
    }
}

/// _pthread_cleanup_pop (the `pthread_cleanup_pop` macro).
///
/// # Safety
/// `frame` is the innermost pushed frame.
#[no_mangle]
pub unsafe extern "C" fn _pthread_cleanup_pop(frame: *mut CleanupFrame, execute: c_int) {
    let t = current();
    // SAFETY: as in push.
    unsafe {
        (*t).cleanup = (*frame).next;
        if execute != 0 {
            if let Some(f) = (*frame).routine {
                f((*frame).arg);
            }
        }
    }
}

fn run_cleanup_handlers(t: *mut Thread) {
    // SAFETY: our own descriptor; each frame is alive on our stack (the
    // thread has not returned past it).
    unsafe {
        while !(*t).cleanup.is_null() {
            let f = (*t).cleanup;
            (*t).cleanup = (*f).next;
            if let Some(r) = (*f).routine {
                r((*f).arg);
            }
        }
    }
}

/// pthread_cancel(3): deferred; the thread ends at its next
/// `pthread_testcancel`.
///
/// # Safety
/// `t` is a thread of this process.
#[no_mangle]
pub unsafe extern "C" fn pthread_cancel(t: usize) -> c_int {
    let t = t as *mut Thread;
    if t.is_null() {
        return e::ESRCH;
    }
    // SAFETY: a live descriptor, per the caller.
    unsafe { (*t).cancel_requested.store(1, Ordering::Release) };
    0
}

/// pthread_testcancel(3)
#[no_mangle]
pub extern "C" fn pthread_testcancel() {
    // SAFETY: our own descriptor.
    let t = unsafe { &*current() };
    if t.cancel_requested.load(Ordering::Acquire) != 0
        && t.cancel_disabled.load(Ordering::Relaxed) == 0
    {
        pthread_exit(PTHREAD_CANCELED);
    }
}

/// pthread_setcancelstate(3): PTHREAD_CANCEL_ENABLE (0) or DISABLE (1).
///
/// # Safety
/// `old` is null or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int {
    if !(0..=1).contains(&state) {
        return e::EINVAL;
    }
    // SAFETY: our own descriptor.
    let t = unsafe { &*current() };
    let was = t.cancel_disabled.swap(state as u32, Ordering::Relaxed) as c_int;
    if !old.is_null() {
        // SAFETY: per the caller.
        unsafe { *old = was };
    }
    0
}

/// pthread_kill(3)
///
/// # Safety
/// `t` is a live thread of this process.
#[no_mangle]
pub unsafe extern "C" fn pthread_kill(t: usize, sig: c_int) -> c_int {
    let t = t as *mut Thread;
    // SAFETY: no preconditions.
    let pid = unsafe { syscall0(nr::GETPID) };
    let tid = if t == MAIN.0.get() {
        pid
    } else if t.is_null() {
        0
    } else {
        // SAFETY: a live descriptor, per the caller.
        unsafe { (*t).tid.load(Ordering::Acquire) as isize }
    };
    if tid <= 0 {
        return e::ESRCH;
    }
    // SAFETY: sends a signal; no memory.
    match unsafe { syscall3(nr::TGKILL, pid as usize, tid as usize, sig as usize) } {
        r if r < 0 => -r as c_int,
        _ => 0,
    }
}

/// pthread_attr_init(3): default stack, joinable.
///
/// # Safety
/// `a` is writable.
#[no_mangle]
pub unsafe extern "C" fn pthread_attr_init(a: *mut pthread_attr_t) -> c_int {
    // SAFETY: per the caller.
    unsafe { a.write(pthread_attr_t([0; 56])) };
    0
}

/// pthread_attr_destroy(3)
#[no_mangle]
pub extern "C" fn pthread_attr_destroy(_a: *mut pthread_attr_t) -> c_int {
    0
}

/// pthread_attr_setstack(3)
///
/// # Safety
/// `a` is initialised.
#[no_mangle]
pub unsafe extern "C" fn pthread_attr_setstack(
    a: *mut pthread_attr_t,
    addr: *mut c_void,
    size: usize,
) -> c_int {
    if addr.is_null() || size < (16 << 10) {
        return e::EINVAL;
    }
    // SAFETY: per the caller.
    unsafe {
        let a = &mut *a.cast::<Attr>();
        a.stack_addr = addr as usize;
        a.stack_size = size;
    }
    0
}

/// pthread_attr_setdetachstate(3)
///
/// # Safety
/// `a` is initialised.
#[no_mangle]
pub unsafe extern "C" fn pthread_attr_setdetachstate(a: *mut pthread_attr_t, s: c_int) -> c_int {
    if s != 0 && s != PTHREAD_CREATE_DETACHED {
        return e::EINVAL;
    }
    // SAFETY: per the caller.
    unsafe { (*a.cast::<Attr>()).detach_state = s };
    0
}

/// pthread_attr_getdetachstate(3)
///
/// # Safety
/// `a` is initialised; `s` is writable.
#[no_mangle]
pub unsafe extern "C" fn pthread_attr_getdetachstate(
    a: *const pthread_attr_t,
    s: *mut c_int,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { *s = (*a.cast::<Attr>()).detach_state };
    0
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
    // As glibc and musl: no cancellation during the exit steps.
    // SAFETY: our own descriptor.
    unsafe { (*t).cancel_disabled.store(1, Ordering::Relaxed) };
    run_cleanup_handlers(t);
    run_key_destructors(t);
    // SAFETY: the calling thread's own descriptor.
    unsafe { (*t).result = result };
    // No handler may run from here on: the area is about to go away.
    unregister_at_thread_exit();
    if t == MAIN.0.get() {
        crate::stdlib::exit_thread(0);
    }
    // SAFETY: our own descriptor; a detached thread frees its mapping (its
    // own stack) in assembly that touches no memory afterwards; a user
    // stack is its owner's to free.
    unsafe {
        if (*t)
            .state
            .compare_exchange(JOINABLE, EXITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
            && !(*t).user_stack
        {
            // The kernel must not clear the tid word at exit: the mapping
            // may by then hold another thread's descriptor.
            syscall1(nr::SET_TID_ADDRESS, 0);
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
        if !(*t).user_stack {
            syscall2(nr::MUNMAP, (*t).map_base, (*t).map_len);
        }
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
