//! The calling thread's registration state, kept in the component's TLS.

use crate::host::{self, HostRseq};
use crate::signals::SignalsBlocked;
use core::ptr::{addr_of_mut, read_volatile, write_volatile, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use rseq_abi::arch::{self, nr, syscall0, syscall4, thread_pointer, RSEQ_SIG};
use rseq_abi::errno::EINVAL;
use rseq_abi::errno::{EBUSY, ENOSYS, EOPNOTSUPP, EPERM, ESRCH};
use rseq_abi::{
    Rseq, FEATURE_SIZE_SLICE, ORIG_AREA_SIZE, RSEQ_CPU_ID_REGISTRATION_FAILED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_FLAG_UNREGISTER,
};

/// Who registered the calling thread's rseq area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Owner {
    /// Nobody: see [`Reason`].
    None = 0,
    /// The host libc; the component adopted its area.
    Libc = 1,
    /// The component, in its own TLS area.
    Component = 2,
}

/// Why the calling thread has no registered area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// It has one.
    Registered = 0,
    /// The kernel has no rseq, or a seccomp filter hides it (ENOSYS).
    Unavailable = 1,
    /// The application unregistered it through the component.
    Disabled = 2,
    /// The kernel refused another way; see [`registration_error`]. EINVAL
    /// means some other code registered a different area for this thread.
    Failed = 3,
    /// The thread was not started through the thread hooks, and this host
    /// (musl, the standalone libc) may free a thread's memory before the
    /// kernel sees it exit: the component cannot unregister it in time, so
    /// it does not register it (`EOPNOTSUPP`). The main thread, and any
    /// thread under glibc (which frees thread memory only after the
    /// kernel's exit), are registered lazily instead.
    Unhooked = 4,
    /// The thread passed its exit step ([`unregister_current_thread_at_exit`]):
    /// it is never registered again (`ESRCH`).
    Exiting = 5,
    /// The program registers rseq itself (see [`program_registers_rseq`]):
    /// the component steps aside and never registers (`EBUSY`).
    Application = 6,
}

impl Reason {
    fn from_u32(v: u32) -> Self {
        match v {
            0 => Reason::Registered,
            1 => Reason::Unavailable,
            2 => Reason::Disabled,
            4 => Reason::Unhooked,
            5 => Reason::Exiting,
            6 => Reason::Application,
            _ => Reason::Failed,
        }
    }
}

/// Who asks for a registration.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An API call on a thread that never tried.
    Lazy,
    /// [`register_current_thread`].
    Explicit,
    /// A new thread's first step, from the thread hooks.
    AtStart,
}

const UNKNOWN: u32 = 0;
const LIBC: u32 = 1;
const COMPONENT: u32 = 2;
const NONE: u32 = 3;

/// Per-thread bookkeeping, in the zero-initialised TLS block that
/// `rseq_abi::arch::thread_state_block` provides.
#[repr(C)]
struct ThreadState {
    /// The registered area (libc's or the component's), or null.
    area: *mut Rseq,
    status: u32,
    reason: u32,
    /// Negated errno of the last failed registration, or 0.
    error: i32,
    /// Length the component registered with (for unregistration).
    len: u32,
    /// How much of the area the kernel fills.
    feature_size: u32,
    _reserved: u32,
}

const _: () = {
    assert!(core::mem::size_of::<ThreadState>() <= arch::THREAD_STATE_SIZE);
    assert!(core::mem::align_of::<ThreadState>() <= 16);
};

fn state() -> *mut ThreadState {
    arch::thread_state_block().cast()
}

// Volatile field access: a signal handler on this thread may read or change
// the state between any two instructions of the interrupted code.
macro_rules! get {
    ($st:expr, $f:ident) => {
        // SAFETY: $st is this thread's state block, valid and aligned.
        unsafe { read_volatile(addr_of_mut!((*$st).$f)) }
    };
}
macro_rules! set {
    ($st:expr, $f:ident, $v:expr) => {
        // SAFETY: $st is this thread's state block, valid and aligned.
        unsafe { write_volatile(addr_of_mut!((*$st).$f), $v) }
    };
}

/// Snapshot of the calling thread's registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Who registered.
    pub owner: Owner,
    /// Why not, when nobody did.
    pub reason: Reason,
    /// Negated errno of the last failed registration, or 0.
    pub error: i32,
    /// The area, when registered.
    pub area: Option<NonNull<Rseq>>,
    /// Registration length (component-owned areas), else 0.
    pub len: u32,
    /// How much of the area the kernel fills, 0 when unregistered.
    pub feature_size: u32,
}

fn registered_owner(st: *mut ThreadState) -> Option<Owner> {
    match get!(st, status) {
        LIBC => Some(Owner::Libc),
        COMPONENT => Some(Owner::Component),
        _ => None,
    }
}

/// Whether the kernel still has `area` registered: a registered area's
/// `cpu_id` is >= 0 whenever its thread runs user code; the kernel writes
/// -1 when it is unregistered (a raw `rseq(RSEQ_FLAG_UNREGISTER)` behind
/// the component's back: an application, a sandbox), and -2 stays in an
/// area whose registration failed. Such an area counts as no area on every
/// path: its `mm_cid` reads 0 (a live id another thread may hold), its
/// `node_id` and `flags` are stale. `area`: null, or an area recorded for
/// the calling thread (this thread's state, or `area()`).
#[inline(always)]
pub(crate) fn area_is_live(area: *mut Rseq) -> bool {
    // SAFETY: a non-null area recorded for this thread stays mapped as long
    // as the thread (its TLS, or the libc's); the kernel writes cpu_id
    // between any two instructions of this thread, hence volatile.
    !area.is_null() && unsafe { read_volatile(addr_of_mut!((*area).cpu_id)) } as i32 >= 0
}

/// The owner of the calling thread's registration if the kernel still has
/// its area registered.
fn live_owner(st: *mut ThreadState) -> Option<Owner> {
    registered_owner(st).filter(|_| area_is_live(get!(st, area)))
}

/// Registers the calling thread (or adopts the libc's registration).
/// Idempotent: a registered thread returns at once, with no syscall.
/// Returns the owner, or the errno the kernel gave. An area that was
/// unregistered behind the component's back (`cpu_id` < 0) is registered
/// again if it is the component's; a libc's is not the component's to
/// register: `EPERM`, and the thread stays without an area.
///
/// # Example
///
/// A thread the component registered can leave its registration and take
/// it again; an area the libc registered is the libc's to keep.
///
/// ```
/// use rseq_registration::{
///     owner, reason, register_current_thread, unregister_current_thread, Owner, Reason,
/// };
///
/// std::thread::spawn(|| match owner() {
///     Owner::Component => {
///         assert_eq!(unregister_current_thread(), Ok(()));
///         // No lazy registration after an explicit unregistration.
///         assert_eq!((owner(), reason()), (Owner::None, Reason::Disabled));
///         assert_eq!(register_current_thread(), Ok(Owner::Component));
///         assert_eq!(owner(), Owner::Component);
///     }
///     Owner::Libc => {
///         const EPERM: i32 = 1;
///         assert_eq!(unregister_current_thread(), Err(EPERM));
///         assert_eq!(owner(), Owner::Libc);
///         // Idempotent: adopting again makes no system call.
///         assert_eq!(register_current_thread(), Ok(Owner::Libc));
///     }
///     Owner::None => assert!(register_current_thread().is_err()),
/// })
/// .join()
/// .unwrap();
/// ```
pub fn register_current_thread() -> Result<Owner, i32> {
    let st = state();
    if registered_owner(st).is_some() && live_owner(st).is_none() {
        let _blocked = SignalsBlocked::new();
        match get!(st, status) {
            COMPONENT if !area_is_live(get!(st, area)) => {
                record(st, NONE, Reason::Disabled, 0, core::ptr::null_mut(), 0, 0);
                return register_blocked(st, Mode::Explicit);
            }
            LIBC if !area_is_live(get!(st, area)) => return Err(EPERM),
            _ => {}
        }
    }
    register(Mode::Explicit)
}

/// Lazy registration: registers a thread that never tried; a thread that
/// tried and failed, or was unregistered on purpose, stays as it is.
fn ensure_registered() {
    let st = state();
    if get!(st, status) == UNKNOWN {
        let _ = register(Mode::Lazy);
    }
}

/// A new thread's first step, for the thread hooks (and a libc that starts
/// its threads itself): registers a thread that the component will
/// unregister at its exit, on any host. `signals_blocked`: the caller has
/// blocked the application's signals already (no `rt_sigprocmask` here).
///
/// # Safety
/// The caller unregisters the thread ([`unregister_current_thread_at_exit`])
/// before its memory can be freed. With `signals_blocked`, every
/// application signal must be blocked in the calling thread.
pub unsafe fn register_new_thread(signals_blocked: bool) -> Result<Owner, i32> {
    let st = state();
    match registered_owner(st) {
        Some(o) => Ok(o),
        None if signals_blocked => register_blocked(st, Mode::AtStart),
        None => register(Mode::AtStart),
    }
}

fn register(mode: Mode) -> Result<Owner, i32> {
    let st = state();
    if let Some(o) = registered_owner(st) {
        return Ok(o);
    }
    let blocked = SignalsBlocked::new();
    // A handler may have registered this thread before signals were blocked.
    if let Some(o) = registered_owner(st) {
        return Ok(o);
    }
    let result = register_blocked(st, mode);
    drop(blocked);
    result
}

/// Registration itself, with every application signal blocked.
fn register_blocked(st: *mut ThreadState, mode: Mode) -> Result<Owner, i32> {
    let status = get!(st, status);
    if status == NONE {
        if mode == Mode::Lazy {
            return Err(-get!(st, error));
        }
        if get!(st, reason) == Reason::Exiting as u32 {
            return Err(ESRCH);
        }
    }
    let host = host::host().0;
    if status == UNKNOWN && mode != Mode::AtStart && !may_register_unseen_thread(host) {
        record(
            st,
            NONE,
            Reason::Unhooked,
            -EOPNOTSUPP,
            core::ptr::null_mut(),
            0,
            0,
        );
        return Err(EOPNOTSUPP);
    }
    if !matches!(host, HostRseq::Registered { .. }) && program_registers_rseq() {
        record(
            st,
            NONE,
            Reason::Application,
            -EBUSY,
            core::ptr::null_mut(),
            0,
            0,
        );
        return Err(EBUSY);
    }
    match host {
        HostRseq::Registered { offset, size } => {
            let area = thread_pointer().wrapping_offset(offset).cast::<Rseq>();
            crate::slice::enable_if_offered(area);
            record(
                st,
                LIBC,
                Reason::Registered,
                0,
                area,
                0,
                libc_feature_size(size),
            );
            Ok(Owner::Libc)
        }
        HostRseq::NotRegistered | HostRseq::Unsupported => register_own(st),
    }
}

static EXIT_STEP_ARMED: AtomicUsize = AtomicUsize::new(0);

/// Tells registration how to find out whether the calling thread's exit
/// step is armed (the thread hooks' exit key holds a value), for threads
/// whose TLS state says nothing: musl re-initializes the TLS of the thread
/// that runs `SIGEV_THREAD` timer callbacks between two callbacks.
pub fn set_exit_step_armed_query(query: fn() -> bool) {
    EXIT_STEP_ARMED.store(query as usize, Ordering::Release);
}

/// Whether a thread whose state is unknown (never seen, or TLS reset) may
/// be registered without the hooks' start step: when its area stays valid
/// until the kernel has seen it exit, or its exit step is armed. glibc
/// frees (or reuses) a thread's stack and static TLS only once the kernel
/// cleared its tid, i.e. after its exit; musl's detached threads unmap
/// their own stack before their final `exit`, and the standalone libc does
/// the same. The main thread's TLS lives as long as the process everywhere.
fn may_register_unseen_thread(host: HostRseq) -> bool {
    if !matches!(host, HostRseq::Unsupported) {
        return true;
    }
    // SAFETY: getpid and gettid take no arguments and touch no memory.
    if unsafe { syscall0(nr::GETPID) == syscall0(nr::GETTID) } {
        return true;
    }
    match EXIT_STEP_ARMED.load(Ordering::Acquire) {
        0 => false,
        f => {
            // SAFETY: stored from a `fn() -> bool` by set_exit_step_armed_query.
            let query = unsafe { core::mem::transmute::<usize, fn() -> bool>(f) };
            query()
        }
    }
}

static PROGRAM_REGISTERS: AtomicU32 = AtomicU32::new(0);

/// Whether the program registers rseq itself, which is what glibc's
/// `glibc.pthread.rseq=0` exists for: it links librseq or the kernel's rseq
/// selftests (they export `rseq_register_current_thread`, or from Linux 7.3
/// `__rseq_register_current_thread`), or defines its
/// own `__rseq_abi` (tcmalloc, librseq before 2022: the legacy convention).
/// Such code registers its own area in every thread and fails (or falls
/// back to a slow path) when the kernel answers that another area is
/// registered. So where the libc does not own registration, the component
/// then registers nothing: its threads have no area for it (reason
/// [`Reason::Application`]) and everything of the component falls back,
/// while the program's own registration succeeds. Found once, at link
/// level: a library `dlopen`ed later is not seen.
pub fn program_registers_rseq() -> bool {
    let mut v = PROGRAM_REGISTERS.load(Ordering::Relaxed);
    if v == 0 {
        // Linux 7.3's selftests make it an inline wrapper of the second.
        let selftests_or_librseq = rseq_abi::weak_function_address!("rseq_register_current_thread")
            != 0
            || rseq_abi::weak_function_address!("__rseq_register_current_thread") != 0;
        let legacy = arch::legacy_abi_area() != arch::own_area();
        v = if selftests_or_librseq || legacy { 2 } else { 1 };
        PROGRAM_REGISTERS.store(v, Ordering::Relaxed);
    }
    v == 2
}

/// glibc 2.35-2.40 publish 20 or 32 whatever the kernel fills.
fn libc_feature_size(published: u32) -> u32 {
    if published == 20 || published == 32 {
        crate::kernel().feature_size.min(32)
    } else {
        published
    }
}

/// Registration length and the feature size it gives: the feature size
/// itself when the area (`capacity` bytes aligned `align`) can hold it at
/// the required alignment, else the original 32 bytes every kernel accepts.
fn registration_len(capacity: u32, align: u32) -> (u32, u32) {
    let k = crate::kernel();
    if k.feature_size > ORIG_AREA_SIZE && k.feature_size <= capacity && k.align <= align {
        (k.feature_size, k.feature_size)
    } else {
        (ORIG_AREA_SIZE, k.feature_size.min(ORIG_AREA_SIZE))
    }
}

static PUBLISHED: AtomicBool = AtomicBool::new(false);
static PROMISED: AtomicBool = AtomicBool::new(false);

/// Allows the component to publish its registration in its own
/// `__rseq_offset` / `__rseq_size` (where they are the program's). A
/// non-zero `__rseq_size` promises, as glibc's does, that every thread of
/// the process has its area registered from its first instruction: call
/// this only where every thread starts through the thread hooks (static
/// musl with the component's `pthread_create`, the standalone libc), before
/// the main thread registers. Elsewhere `__rseq_size` stays 0 and threads
/// reach their area through the API.
pub fn promise_every_thread_registered_at_start() {
    PROMISED.store(true, Ordering::Release);
}

/// Whether the component published its registration in `__rseq_size`
/// (see [`promise_every_thread_registered_at_start`]): every new thread
/// must then start registered, whatever its creator's state.
pub fn registration_published() -> bool {
    PUBLISHED.load(Ordering::Acquire)
}

fn register_own(st: *mut ThreadState) -> Result<Owner, i32> {
    // The host-reserved area (see reserved_area) or the component's own.
    let (area, capacity, align) = crate::reserved_area::area_to_register();
    let (len, fs) = registration_len(capacity, align);
    let rseq = |flags: i32| {
        // SAFETY: `area` is this thread's area, `capacity` bytes aligned
        // `align`, alive as long as the thread; `len` fits in it.
        unsafe {
            syscall4(
                nr::RSEQ,
                area as usize,
                len as usize,
                flags as usize,
                RSEQ_SIG as usize,
            ) as i32
        }
    };
    // A V2 registration that covers the slice control asks for the
    // time-slice extension too: harmless until a thread sets a request, and
    // it saves each thread a prctl. The kernel sets the flags' AVAILABLE and
    // ENABLED bits only where it offers the extension; one that predates the
    // flag refuses it with EINVAL, and so does one where another area is
    // registered, so EINVAL is retried without it and that answer stands.
    let mut r = if len >= FEATURE_SIZE_SLICE {
        rseq(RSEQ_FLAG_SLICE_EXT_DEFAULT_ON)
    } else {
        rseq(0)
    };
    if r == -EINVAL && len >= FEATURE_SIZE_SLICE {
        r = rseq(0);
    }
    // EBUSY: this exact area, length and signature are registered already.
    if r == 0 || r == -EBUSY {
        if len >= FEATURE_SIZE_SLICE {
            crate::slice::enable_if_offered(area);
        }
        record(st, COMPONENT, Reason::Registered, 0, area, len, fs);
        if PROMISED.load(Ordering::Acquire) && !PUBLISHED.swap(true, Ordering::AcqRel) {
            host::publish_own((area as isize).wrapping_sub(thread_pointer() as isize), fs);
        }
        return Ok(Owner::Component);
    }
    // Like glibc: legacy readers of __rseq_abi see that registration failed.
    // SAFETY: our own TLS area, not registered (the syscall failed).
    unsafe {
        write_volatile(
            addr_of_mut!((*area).cpu_id),
            RSEQ_CPU_ID_REGISTRATION_FAILED as u32,
        )
    };
    let reason = if r == -ENOSYS {
        Reason::Unavailable
    } else {
        Reason::Failed
    };
    record(st, NONE, reason, r, core::ptr::null_mut(), 0, 0);
    Err(-r)
}

/// How many times a thread got an area (the component registered it or
/// adopted the libc's), for the inline C header
/// (`headers/rseq-percpu-inline.h`): a counter increment of a thread whose
/// last look-up found no area skips the look-up while this has not moved
/// (its thread cannot have gained an area through the component). An
/// exported C symbol; only ever incremented.
#[no_mangle]
#[allow(unsafe_code, non_upper_case_globals)]
pub static rseq_percpu_inline_registrations: AtomicU32 = AtomicU32::new(0);

fn record(
    st: *mut ThreadState,
    status: u32,
    reason: Reason,
    error: i32,
    area: *mut Rseq,
    len: u32,
    fs: u32,
) {
    if status == LIBC || status == COMPONENT {
        rseq_percpu_inline_registrations.fetch_add(1, Ordering::Relaxed);
    }
    set!(st, area, area);
    set!(st, reason, reason as u32);
    set!(st, error, error);
    set!(st, len, len);
    set!(st, feature_size, fs);
    // Last: readers that see the status see the fields above.
    set!(st, status, status);
}

/// Unregisters the calling thread's area if the component registered it,
/// with all signals blocked. A libc's registration is left alone: `EPERM`.
/// Idempotent: an unregistered thread returns `Ok`. Later API calls do not
/// re-register the thread lazily; [`register_current_thread`] does.
pub fn unregister_current_thread() -> Result<(), i32> {
    let _blocked = SignalsBlocked::new();
    let st = state();
    match get!(st, status) {
        LIBC => Err(EPERM),
        // Unregistered behind the component's back already: the kernel
        // would answer EINVAL; the state catches up.
        COMPONENT if !area_is_live(get!(st, area)) => {
            record(st, NONE, Reason::Disabled, 0, core::ptr::null_mut(), 0, 0);
            Ok(())
        }
        COMPONENT => {
            let r = rseq_unregister(get!(st, area), get!(st, len));
            if r != 0 {
                return Err(-r);
            }
            record(st, NONE, Reason::Disabled, 0, core::ptr::null_mut(), 0, 0);
            Ok(())
        }
        UNKNOWN => {
            record(st, NONE, Reason::Disabled, 0, core::ptr::null_mut(), 0, 0);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A thread's exit step (thread hooks, or a libc that ends its threads
/// itself): after it, the thread has no area and cannot get one again
/// (explicit registration answers `ESRCH`); the area the component
/// registered is unregistered. Call it after the last code that may use
/// the area and before the area's memory can be freed.
///
/// No signal is blocked: the state says "no area" before the system call,
/// so a handler that runs in between falls back and cannot register again;
/// the mask is left as the thread had it (exit handlers of the last thread
/// run with it).
pub fn unregister_current_thread_at_exit() {
    let st = state();
    set!(st, reason, Reason::Exiting as u32);
    // SAFETY: this thread's state block; the swap is one instruction, so
    // a handler sees either the old status or NONE.
    let status = unsafe { AtomicU32::from_ptr(addr_of_mut!((*st).status)) };
    let was = status.swap(NONE, Ordering::Relaxed);
    // A handler that ran before the swap may have changed the reason.
    set!(st, reason, Reason::Exiting as u32);
    let (area, len) = (get!(st, area), get!(st, len));
    set!(st, area, core::ptr::null_mut());
    // A failure (a handler unregistered it in between) leaves nothing
    // registered either.
    match was {
        COMPONENT => {
            let _ = rseq_unregister(area, len);
        }
        // The state was lost while the kernel may still have the area (musl
        // re-initializes the TLS of its timer thread): unregister what this
        // thread would have registered; EINVAL if it was not.
        UNKNOWN if !matches!(host::host().0, HostRseq::Registered { .. }) => {
            let (area, capacity, align) = crate::reserved_area::area_to_register();
            let _ = rseq_unregister(area, registration_len(capacity, align).0);
        }
        _ => {}
    }
}

/// Unregisters `area`: 0 or the negated errno.
fn rseq_unregister(area: *mut Rseq, len: u32) -> i32 {
    // SAFETY: the caller passes exactly what register_own registered; the
    // kernel only compares them with the thread's registration.
    unsafe {
        syscall4(
            nr::RSEQ,
            area as usize,
            len as usize,
            RSEQ_FLAG_UNREGISTER as usize,
            RSEQ_SIG as usize,
        ) as i32
    }
}

/// A new thread whose creator has no area for a reason beyond the
/// creator itself (`Unavailable`, `Application`, `Disabled` like glibc's
/// per-thread "do rseq" flag, `Failed`) inherits that: it stays
/// unregistered (lazy registration included) until
/// [`register_current_thread`]. The creator's own state (`Exiting`,
/// `Unhooked`) is not for a new thread: the thread hooks register such a
/// thread at start instead. `Reason::Registered` is taken as `Disabled`.
/// No effect on a thread that tried already.
pub fn inherit_unregistered(reason: Reason, error: i32) {
    let st = state();
    let _blocked = SignalsBlocked::new();
    if get!(st, status) == UNKNOWN {
        let reason = match reason {
            Reason::Registered => Reason::Disabled,
            r => r,
        };
        record(st, NONE, reason, error, core::ptr::null_mut(), 0, 0);
    }
}

/// The calling thread's registered area, without registering it: the fast
/// path for readers that fall back on their own. The pointer is the one
/// recorded: a caller reads `cpu_id` first and treats a negative one as no
/// area (unregistered behind the component's back), as every reader of
/// this workspace does.
#[inline(always)]
pub fn area() -> *mut Rseq {
    get!(state(), area)
}

/// The calling thread's registered area, registering it first if it never
/// tried (lazy registration, signals blocked); None without one, and for
/// an area the kernel no longer has registered (its `cpu_id` reads < 0:
/// unregistered behind the component's back).
pub fn current_area() -> Option<NonNull<Rseq>> {
    let mut a = area();
    if a.is_null() {
        ensure_registered();
        a = area();
    }
    NonNull::new(a).filter(|a| area_is_live(a.as_ptr()))
}

/// Who registered the calling thread (registering it first if it never tried).
pub fn owner() -> Owner {
    status().owner
}

/// Why the calling thread has no area ([`Reason::Registered`] if it has).
pub fn reason() -> Reason {
    status().reason
}

/// Negated errno of the calling thread's last failed registration, or 0.
pub fn registration_error() -> i32 {
    status().error
}

/// How much of the calling thread's area the kernel fills (0 when none).
pub fn feature_size() -> u32 {
    status().feature_size
}

/// The calling thread's registration (registering it first if it never
/// tried). An area the kernel no longer has registered (its `cpu_id` reads
/// < 0) shows as none: owner `None`, reason `Disabled` (unregistered, here
/// behind the component's back), no area, feature size 0.
pub fn status() -> Status {
    ensure_registered();
    let st = state();
    let live = area_is_live(get!(st, area));
    let (owner, reason) = match get!(st, status) {
        LIBC if live => (Owner::Libc, Reason::Registered),
        COMPONENT if live => (Owner::Component, Reason::Registered),
        LIBC | COMPONENT => (Owner::None, Reason::Disabled),
        _ => (Owner::None, Reason::from_u32(get!(st, reason))),
    };
    let registered = owner != Owner::None;
    Status {
        owner,
        reason,
        error: get!(st, error),
        area: NonNull::new(get!(st, area)).filter(|_| registered),
        len: if registered { get!(st, len) } else { 0 },
        feature_size: if registered {
            get!(st, feature_size)
        } else {
            0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_of(a: NonNull<Rseq>) -> i32 {
        // SAFETY: this thread's registered area.
        unsafe { read_volatile(addr_of_mut!((*a.as_ptr()).cpu_id)) as i32 }
    }

    // The test binary runs on the system glibc, which registers every thread
    // unless GLIBC_TUNABLES=glibc.pthread.rseq=0 is set; both cases are
    // checked against what the libc itself says.
    #[test]
    fn each_thread_is_registered_by_exactly_one_owner() {
        std::thread::spawn(|| {
            let s = status();
            let glibc_size = glibc_rseq_size();
            let expect = if glibc_size > 0 {
                Owner::Libc
            } else {
                Owner::Component
            };
            assert_eq!(s.owner, expect, "{s:?}");
            let a = s.area.expect("area");
            assert!(cpu_of(a) >= 0);
            assert_eq!(register_current_thread(), Ok(expect));
            if expect == Owner::Libc {
                assert_eq!(unregister_current_thread(), Err(EPERM));
                assert_eq!(owner(), Owner::Libc);
                assert!(cpu_of(a) >= 0);
            } else {
                assert_eq!(unregister_current_thread(), Ok(()));
                assert_eq!(status().reason, Reason::Disabled);
                assert!(current_area().is_none(), "no lazy re-registration");
                assert_eq!(unregister_current_thread(), Ok(()));
                assert_eq!(register_current_thread(), Ok(Owner::Component));
                assert!(cpu_of(current_area().unwrap()) >= 0);
            }
        })
        .join()
        .unwrap();
    }

    /// Unregisters the calling thread's area with a raw system call, behind
    /// the component's back (as an application or a sandbox may), with the
    /// length it was registered with.
    fn raw_unregister(a: NonNull<Rseq>) -> bool {
        let fs = crate::kernel().feature_size as usize;
        [32usize, fs, 64, 128].iter().any(|&len| {
            // SAFETY: unregisters this thread's own area; nothing else
            // changes, and the area stays mapped (TLS).
            len >= 32
                && unsafe {
                    syscall4(
                        nr::RSEQ,
                        a.as_ptr() as usize,
                        len,
                        RSEQ_FLAG_UNREGISTER as usize,
                        RSEQ_SIG as usize,
                    )
                } == 0
        })
    }

    /// An area the kernel no longer has registered counts as no area on
    /// every path of this crate; the component registers its own area
    /// again on request and refuses to register the libc's.
    #[test]
    fn an_area_unregistered_behind_the_components_back_is_no_area() {
        for then_register in [true, false] {
            std::thread::spawn(move || {
                let s = status();
                let a = s.area.expect("area");
                let owner = s.owner;
                assert!(raw_unregister(a), "raw unregistration");
                assert_eq!(cpu_of(a), -1);
                assert!(current_area().is_none());
                let s = status();
                assert_eq!(
                    (s.owner, s.reason, s.area, s.len, s.feature_size),
                    (Owner::None, Reason::Disabled, None, 0, 0)
                );
                assert_eq!((feature_size(), self::owner()), (0, Owner::None));
                assert!(!crate::slice::available());
                assert!(!crate::slice::request());
                assert_eq!(crate::slice::try_release(), Err(EOPNOTSUPP));
                if then_register {
                    if owner == Owner::Component {
                        assert_eq!(register_current_thread(), Ok(Owner::Component));
                        assert!(cpu_of(a) >= 0);
                        assert_eq!(current_area(), Some(a));
                    } else {
                        assert_eq!(register_current_thread(), Err(EPERM));
                        assert!(current_area().is_none());
                    }
                } else {
                    let want = if owner == Owner::Libc {
                        Err(EPERM)
                    } else {
                        Ok(())
                    };
                    assert_eq!(unregister_current_thread(), want);
                    assert!(current_area().is_none());
                    assert_eq!(self::owner(), Owner::None);
                }
            })
            .join()
            .unwrap();
        }
    }

    fn glibc_rseq_size() -> u32 {
        extern "C" {
            fn dlsym(
                handle: *mut core::ffi::c_void,
                name: *const core::ffi::c_char,
            ) -> *mut core::ffi::c_void;
        }
        // SAFETY: RTLD_DEFAULT lookup of ld.so's exported __rseq_size.
        unsafe { *dlsym(core::ptr::null_mut(), c"__rseq_size".as_ptr()).cast::<u32>() }
    }
}
