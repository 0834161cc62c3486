//! Thread start: the creator blocks the application's signals around the
//! libc's `pthread_create`; the new thread registers (or, for a
//! process-wide reason or the application's choice, inherits
//! "unregistered": see [`Inherit::of_creator`]), arms its exit step,
//! restores its mask, then runs the start routine.

use crate::exit::exit_key;
use crate::libc::{
    attr_has_signal_mask, C11Routine, FreeFn, PthreadFns, SetSpecificFn, StartRoutine,
};
use core::ffi::{c_int, c_uint, c_void};
use rseq_abi::arch::{nr, syscall1, syscall3, syscall4};
use rseq_registration::{Owner, Reason, SignalsBlocked};

const EAGAIN: c_int = 11;
const SIG_SETMASK: usize = 2;

/// What the new thread runs.
#[derive(Clone, Copy)]
pub(crate) enum Routine {
    Posix(StartRoutine),
    C11(C11Routine),
}

/// What the new thread does about registration.
#[derive(Clone, Copy)]
enum Inherit {
    /// The libc registers its threads: nothing.
    Libc,
    /// Registers at start; `fatal`: a failure ends the process (the
    /// creator is registered, so registration works in this process).
    Register { fatal: bool },
    /// Stays without an area, for a reason that holds for the whole
    /// process or that the application chose.
    Unregistered(Reason, i32),
}

impl Inherit {
    /// Only what holds beyond the creator itself passes to the new thread:
    /// rseq unavailable (kernel, or a seccomp filter, which threads
    /// inherit), the program registering rseq itself, the application's
    /// explicit unregistration (as glibc's per-thread "do rseq" flag; not
    /// where the component published `__rseq_size`, which promises every
    /// thread registered from its start), and
    /// a failed registration (whatever made it fail, a filter or another
    /// area, is likely to hold for the new thread too). The creator's own
    /// life does not: past its exit step (`Exiting`: a key destructor of
    /// the last round creating a thread), or started without the hooks
    /// (`Unhooked`), it makes a new thread that registers at start like
    /// any other (a failure then leaves it without an area, not fatal).
    fn of_creator() -> Self {
        // Where the libc registers, every new thread is the libc's, even
        // when its creator's area was unregistered behind everyone's back.
        if matches!(
            rseq_registration::host::host().0,
            rseq_registration::HostRseq::Registered { .. }
        ) {
            return Inherit::Libc;
        }
        let creator = rseq_registration::status();
        match creator.owner {
            Owner::Libc => Inherit::Libc,
            Owner::Component => Inherit::Register { fatal: true },
            Owner::None => match creator.reason {
                Reason::Exiting | Reason::Unhooked | Reason::Registered => {
                    Inherit::Register { fatal: false }
                }
                // A published __rseq_size promises every thread registered
                // from its start: the application's unregistration of one
                // thread is not its new threads'.
                Reason::Disabled if rseq_registration::registration_published() => {
                    Inherit::Register { fatal: false }
                }
                Reason::Unavailable | Reason::Disabled | Reason::Failed | Reason::Application => {
                    Inherit::Unregistered(creator.reason, creator.error)
                }
            },
        }
    }
}

/// Handed from the creator to the new thread in a `malloc`ed block, which
/// the new thread frees first thing.
struct StartData {
    routine: Routine,
    arg: *mut c_void,
    inherit: Inherit,
    /// The creator's mask, for the new thread to restore once registered;
    /// None when the libc started it with its attribute's own mask.
    restore_mask: Option<u64>,
    /// The exit key and how to arm it (None where the libc owns).
    exit: Option<(c_uint, SetSpecificFn)>,
    free: FreeFn,
}

/// `pthread_create` (or `thrd_create`) with the start and exit hooks,
/// through the libc's `fns`.
///
/// # Safety
/// The arguments are those of `pthread_create(3)`; `fns` are the libc's.
pub(crate) unsafe fn create_hooked(
    fns: &PthreadFns,
    thread: *mut usize,
    attr: *const c_void,
    routine: Routine,
    arg: *mut c_void,
) -> c_int {
    let inherit = Inherit::of_creator();
    if let (Inherit::Libc, Routine::Posix(start)) = (inherit, routine) {
        // SAFETY: the caller's arguments, unchanged.
        return unsafe { (fns.create)(thread, attr, Some(start), arg) };
    }
    let mut exit = None;
    let mut attr_mask = false;
    if !matches!(inherit, Inherit::Libc) {
        match exit_key(fns.key_create, fns.setspecific) {
            Some(key) => exit = Some((key, fns.setspecific)),
            None => return EAGAIN,
        }
        // SAFETY: the caller's attribute (pthread_create's contract).
        match unsafe { attr_has_signal_mask(attr) } {
            Ok(has) => attr_mask = has,
            Err(e) => return e,
        }
    }
    // SAFETY: plain allocation; checked for null below.
    let data = unsafe { (fns.malloc)(core::mem::size_of::<StartData>()) }.cast::<StartData>();
    if data.is_null() {
        return EAGAIN;
    }
    let blocked = exit.map(|_| SignalsBlocked::new());
    let start = StartData {
        routine,
        arg,
        inherit,
        restore_mask: blocked
            .as_ref()
            .filter(|_| !attr_mask)
            .map(SignalsBlocked::previous),
        exit,
        free: fns.free,
    };
    // SAFETY: a fresh malloc block, aligned for any object.
    unsafe { data.write(start) };
    // SAFETY: the libc's pthread_create; the new thread owns `data`.
    let r = unsafe { (fns.create)(thread, attr, Some(thread_start), data.cast()) };
    drop(blocked);
    if r != 0 {
        // No thread was created: the block is still ours.
        // SAFETY: allocated above with the libc's malloc.
        unsafe { (fns.free)(data.cast()) };
    }
    r
}

/// The new thread's first function: the application's signals are blocked
/// (unless the libc applied the attribute's own mask), `data` is its
/// [`StartData`].
///
/// # Safety
/// `data` was filled by [`create_hooked`] for this thread.
unsafe extern "C" fn thread_start(data: *mut c_void) -> *mut c_void {
    // SAFETY: filled for this thread, read once, then freed.
    let d = unsafe { data.cast::<StartData>().read() };
    // SAFETY: allocated by the creator with the libc's malloc.
    unsafe { (d.free)(data) };
    if let Some((key, setspecific)) = d.exit {
        // Armed before registering: no registered thread without its
        // exit step. The value counts destructor rounds (see exit.rs).
        // SAFETY: the libc's pthread_setspecific on our key.
        let r = unsafe { setspecific(key, core::ptr::null::<c_void>().wrapping_add(1)) };
        if r != 0 {
            fatal_start(r);
        }
    }
    match d.inherit {
        Inherit::Libc => {}
        Inherit::Register { fatal } => {
            // SAFETY: the exit step is armed; the application's signals
            // are blocked exactly when the creator's mask is to be restored.
            let r = unsafe { rseq_registration::register_new_thread(d.restore_mask.is_some()) };
            if let (Err(e), true) = (r, fatal) {
                fatal_start(e);
            }
        }
        Inherit::Unregistered(reason, error) => {
            rseq_registration::inherit_unregistered(reason, error)
        }
    }
    if let Some(mask) = d.restore_mask {
        set_signal_mask(mask);
    }
    match d.routine {
        // SAFETY: the application's start routine with its argument.
        Routine::Posix(start) => unsafe { start(d.arg) },
        // SAFETY: as above; C11 threads return an int, which thrd_join
        // reads back from the pointer-sized result, as the libcs do.
        Routine::C11(start) => (unsafe { start(d.arg) }) as isize as *mut c_void,
    }
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

/// A new thread's registration as its creator's state decides it, for a
/// libc that creates its threads itself (the standalone test libc, whose
/// own `clone` threads run the same start and exit steps as the hooks).
#[derive(Clone, Copy)]
pub struct NewThreadRegistration(Inherit);

impl NewThreadRegistration {
    /// Read in the creator before it creates the thread: None where the
    /// libc owns registration (its threads are none of the component's
    /// business).
    pub fn of_creator() -> Option<Self> {
        match Inherit::of_creator() {
            Inherit::Libc => None,
            i => Some(Self(i)),
        }
    }

    /// The new thread's first step, before its start routine: registers
    /// (or inherits "unregistered"). If the creator was registered and this
    /// thread cannot register, ends the process like the hooks do (a
    /// message on stderr, status 127).
    ///
    /// # Safety
    /// Every application signal must be blocked in the calling thread,
    /// which must be new (nothing ran on it yet), and the libc must run
    /// [`crate::unregister_at_thread_exit`] before the thread's memory can
    /// be freed.
    pub unsafe fn apply_in_new_thread(self) {
        match self.0 {
            Inherit::Register { fatal } => {
                // SAFETY: per the caller.
                let r = unsafe { rseq_registration::register_new_thread(true) };
                if let (Err(e), true) = (r, fatal) {
                    fatal_start(e);
                }
            }
            Inherit::Unregistered(reason, error) => {
                rseq_registration::inherit_unregistered(reason, error)
            }
            Inherit::Libc => {}
        }
    }
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

/// A thread whose creator was registered could not register, or could not
/// arm its exit step (glibc treats a registration failure as fatal too):
/// says so on stderr with raw writes and ends the process with status 127.
/// Never returns; the start routine never runs.
fn fatal_start(error: c_int) -> ! {
    let mut digits = [0u8; 10];
    let parts: [&[u8]; 3] = [
        b"rseq-libc: a new thread could not register its rseq area or arm its exit step (errno ",
        decimal(error.unsigned_abs(), &mut digits),
        b"); ending the process (status 127)\n",
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
