//! Unit tests on the test binary's glibc (dynamic): the entries find
//! glibc's `pthread_create` with `dlsym(RTLD_NEXT)`. They hold for both
//! owners: glibc's (the hooks step aside) and the component's (run with
//! `GLIBC_TUNABLES=glibc.pthread.rseq=0`).

use crate::*;
use core::ffi::{c_int, c_void};
use rseq_abi::arch::{nr, syscall4};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Mutex;

extern "C" {
    fn pthread_join(thread: usize, result: *mut *mut c_void) -> c_int;
    fn pthread_attr_init(attr: *mut c_void) -> c_int;
    fn pthread_attr_destroy(attr: *mut c_void) -> c_int;
    fn pthread_attr_setsigmask_np(attr: *mut c_void, mask: *const [u64; 16]) -> c_int;
    fn pthread_attr_getsigmask_np(attr: *const c_void, mask: *mut [u64; 16]) -> c_int;
}

// The tests change the process's signal masks and shared statics.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn set_mask(mask: u64) -> u64 {
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask with valid 8-byte sets.
    unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            2,
            &mask as *const u64 as usize,
            &mut old as *mut u64 as usize,
            8,
        )
    };
    old
}

fn current_mask() -> u64 {
    let mut now: u64 = 0;
    // SAFETY: rt_sigprocmask with a null new set writes 8 bytes.
    unsafe { syscall4(nr::RT_SIGPROCMASK, 2, 0, &mut now as *mut u64 as usize, 8) };
    now
}

fn join(t: usize) -> usize {
    let mut result: *mut c_void = core::ptr::null_mut();
    // SAFETY: joins a thread this test created.
    assert_eq!(unsafe { pthread_join(t, &mut result) }, 0);
    result as usize
}

fn create(attr: *const c_void, start: StartRoutine, arg: usize) -> usize {
    let mut t: usize = 0;
    // SAFETY: valid pthread_create arguments.
    let r = unsafe { rseq_libc_pthread_create(&mut t, attr, Some(start), arg as *mut c_void) };
    assert_eq!(r, 0);
    t
}

static SEEN: AtomicI32 = AtomicI32::new(0);
static CHILD_MASK: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn record(arg: *mut c_void) -> *mut c_void {
    let s = rseq_registration::status();
    SEEN.store(
        if s.area.is_some() { s.owner as i32 } else { -1 },
        Ordering::SeqCst,
    );
    CHILD_MASK.store(current_mask() as usize, Ordering::SeqCst);
    arg.cast::<u8>().wrapping_add(1).cast()
}

const SIGUSR2_BIT: u64 = 1 << (12 - 1);
const SIGTERM_BIT: u64 = 1 << (15 - 1);
const SIGHUP_BIT: u64 = 1;

// A registered thread (by glibc or the component, as the creator is) that
// runs its routine with its creator's mask; the creator's mask is as it was.
#[test]
fn a_new_thread_is_registered_and_runs_with_its_creators_mask() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let old = set_mask(SIGUSR2_BIT | SIGTERM_BIT);
    let t = create(core::ptr::null(), record, 41);
    assert_eq!(join(t), 42);
    assert_eq!(set_mask(old), SIGUSR2_BIT | SIGTERM_BIT);
    assert_eq!(
        CHILD_MASK.load(Ordering::SeqCst) as u64,
        SIGUSR2_BIT | SIGTERM_BIT
    );
    let expect = rseq_registration::owner() as i32;
    assert!(expect > 0);
    assert_eq!(SEEN.load(Ordering::SeqCst), expect);
}

// An attribute with its own mask: the thread runs with the attribute's
// mask once registered; the hooks leave the attribute and the creator's
// mask as they were.
#[test]
fn a_new_thread_runs_with_its_attributes_signal_mask() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let mut attr = [0u64; 8];
    let attr = attr.as_mut_ptr().cast::<c_void>();
    let mut mask = [0u64; 16];
    mask[0] = SIGUSR2_BIT | SIGTERM_BIT;
    // SAFETY: a 64-byte, 8-aligned pthread_attr_t (56 bytes in glibc).
    unsafe {
        assert_eq!(pthread_attr_init(attr), 0);
        assert_eq!(pthread_attr_setsigmask_np(attr, &mask), 0);
    }
    let old = set_mask(SIGHUP_BIT);
    let t = create(attr, record, 0);
    join(t);
    assert_eq!(set_mask(old), SIGHUP_BIT);
    assert_eq!(
        CHILD_MASK.load(Ordering::SeqCst) as u64,
        SIGUSR2_BIT | SIGTERM_BIT
    );
    assert_eq!(
        SEEN.load(Ordering::SeqCst),
        rseq_registration::owner() as i32
    );
    let mut after = [0u64; 16];
    // SAFETY: the attribute initialized above.
    unsafe {
        assert_eq!(pthread_attr_getsigmask_np(attr, &mut after), 0);
        pthread_attr_destroy(attr);
    }
    assert_eq!(after[0], SIGUSR2_BIT | SIGTERM_BIT);
}

unsafe extern "C" fn c11(arg: *mut c_void) -> c_int {
    // SAFETY: record only reads the thread's state.
    unsafe { record(arg) };
    -7
}

// A C11 thread: registered like the others, its int result read back the
// way thrd_join reads it.
#[test]
fn a_c11_thread_is_registered_and_returns_its_int() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    SEEN.store(0, Ordering::SeqCst);
    let mut t: usize = 0;
    // SAFETY: valid thrd_create arguments.
    let r = unsafe { rseq_libc_thrd_create(&mut t, Some(c11), core::ptr::null_mut()) };
    assert_eq!(r, 0);
    assert_eq!(join(t) as c_int, -7);
    assert_eq!(
        SEEN.load(Ordering::SeqCst),
        rseq_registration::owner() as i32
    );
}

extern "C" {
    fn pthread_key_create(
        key: *mut core::ffi::c_uint,
        destructor: Option<unsafe extern "C" fn(*mut c_void)>,
    ) -> c_int;
    fn pthread_setspecific(key: core::ffi::c_uint, value: *const c_void) -> c_int;
}

static INSIDE_KEY_CREATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RELEASE_KEY_CREATE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A `pthread_key_create` that holds the exit key's creation open until
/// the test releases it.
unsafe extern "C" fn held_key_create(
    key: *mut core::ffi::c_uint,
    destructor: Option<unsafe extern "C" fn(*mut c_void)>,
) -> c_int {
    INSIDE_KEY_CREATE.store(true, Ordering::SeqCst);
    while !RELEASE_KEY_CREATE.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // SAFETY: the caller's arguments.
    unsafe { pthread_key_create(key, destructor) }
}

// The child of a fork made while another thread was creating the exit key
// (the creator does not exist in the child): the child's first hooked
// pthread_create must create the key anew, not wait for that thread for
// good. The child (raw fork: no libc fork handlers) only asks for the key.
#[test]
fn exit_key_creation_cut_by_fork_starts_over_in_the_child() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    crate::exit::forget_key_for_test();
    INSIDE_KEY_CREATE.store(false, Ordering::SeqCst);
    RELEASE_KEY_CREATE.store(false, Ordering::SeqCst);
    let creator = std::thread::spawn(|| {
        crate::exit::exit_key(held_key_create, pthread_setspecific).is_some()
    });
    while !INSIDE_KEY_CREATE.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // SAFETY: fork(2); the child calls exit_key (raw syscalls and glibc's
    // lock-free pthread_key_create) and exit_group.
    let pid = unsafe { rseq_abi::arch::syscall0(nr::FORK) };
    if pid == 0 {
        let ok = crate::exit::exit_key(pthread_key_create, pthread_setspecific).is_some();
        loop {
            // SAFETY: exit_group ends the child.
            unsafe { rseq_abi::arch::syscall1(nr::EXIT_GROUP, usize::from(!ok)) };
        }
    }
    assert!(pid > 0);
    // A child that waits for the creator for good is killed after 20 s.
    let mut status: i32 = -1;
    let mut waited = 0;
    loop {
        // SAFETY: wait4(pid, &status, WNOHANG) writes a valid local.
        let r = unsafe {
            syscall4(
                nr::WAIT4,
                pid as usize,
                &mut status as *mut i32 as usize,
                1,
                0,
            )
        };
        if r == pid {
            break;
        }
        if waited == 200 {
            // SAFETY: kills the child this test forked.
            unsafe { rseq_abi::arch::syscall2(nr::KILL, pid as usize, 9) };
        }
        waited += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    RELEASE_KEY_CREATE.store(true, Ordering::SeqCst);
    assert!(creator.join().unwrap(), "the parent's creation");
    assert_eq!(
        status, 0,
        "the child's exit key (status {status:#x}; 9: waited for good)"
    );
}
