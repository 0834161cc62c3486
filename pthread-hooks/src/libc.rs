//! The libc functions the hooks call, found through weak references (a
//! weak reference pulls no archive member in; the executable's thread
//! entry points in `rseq-pthread-interpose` hold the strong references
//! that bring them into a static link).

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};
use rseq_abi::weak_function_address;

/// A thread's start routine.
pub type StartRoutine = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
/// A C11 thread's start routine (`thrd_start_t`).
pub type C11Routine = unsafe extern "C" fn(*mut c_void) -> c_int;
/// `pthread_create` (`pthread_t` is an `unsigned long` in glibc and a
/// pointer in musl: one machine word either way).
pub type CreateFn =
    unsafe extern "C" fn(*mut usize, *const c_void, Option<StartRoutine>, *mut c_void) -> c_int;
/// `pthread_key_create` (`pthread_key_t` is an `unsigned int` in both).
pub type KeyCreateFn =
    unsafe extern "C" fn(*mut c_uint, Option<unsafe extern "C" fn(*mut c_void)>) -> c_int;
/// `pthread_setspecific`.
pub type SetSpecificFn = unsafe extern "C" fn(c_uint, *const c_void) -> c_int;
/// `malloc`.
pub type MallocFn = unsafe extern "C" fn(usize) -> *mut c_void;
/// `free`.
pub type FreeFn = unsafe extern "C" fn(*mut c_void);

/// glibc's `sigset_t` (1024 bits; the kernel uses the first 64).
#[repr(C)]
pub(crate) struct SigSet(pub [u64; 16]);
/// `pthread_attr_getsigmask_np` (glibc >= 2.32).
pub(crate) type AttrGetSigmaskFn = unsafe extern "C" fn(*const c_void, *mut SigSet) -> c_int;

/// The libc functions of a hooked `pthread_create`.
#[derive(Clone, Copy)]
pub(crate) struct PthreadFns {
    pub create: CreateFn,
    pub key_create: KeyCreateFn,
    pub setspecific: SetSpecificFn,
    pub malloc: MallocFn,
    pub free: FreeFn,
}

type DlsymFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;
/// `RTLD_NEXT` in glibc and musl.
const RTLD_NEXT: usize = usize::MAX;
static REAL_CREATE: AtomicUsize = AtomicUsize::new(0);

/// The libc's own `pthread_create`: `__pthread_create` in a static link
/// (glibc and musl define it beside their `pthread_create`, which the
/// component's definition displaced), else the next `pthread_create` after
/// the calling object (`dlsym(RTLD_NEXT)`, dynamic links).
fn real_create() -> usize {
    let cached = REAL_CREATE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // Only a static link (no program interpreter) has the libc's internal
    // name; a dynamic one asks the dynamic linker for the next definition.
    let static_link = rseq_registration::auxv::values().base == 0;
    let mut create = if static_link {
        weak_function_address!("__pthread_create")
    } else {
        0
    };
    if create == 0 {
        let dlsym = weak_function_address!("dlsym");
        if dlsym == 0 {
            return 0;
        }
        // SAFETY: dlsym is the libc's, non-null.
        let dlsym: DlsymFn = unsafe { core::mem::transmute::<usize, DlsymFn>(dlsym) };
        // SAFETY: RTLD_NEXT lookup of a NUL-terminated name.
        create = unsafe { dlsym(RTLD_NEXT as *mut c_void, c"pthread_create".as_ptr()) } as usize;
        if create == crate::rseq_libc_pthread_create as *const () as usize {
            return 0;
        }
    }
    REAL_CREATE.store(create, Ordering::Relaxed);
    create
}

/// The libc's functions, or None where one is missing from the link.
pub(crate) fn pthread_fns() -> Option<PthreadFns> {
    let create = real_create();
    let key_create = weak_function_address!("pthread_key_create");
    let setspecific = weak_function_address!("pthread_setspecific");
    let malloc = weak_function_address!("malloc");
    let free = weak_function_address!("free");
    if create == 0 || key_create == 0 || setspecific == 0 || malloc == 0 || free == 0 {
        return None;
    }
    // SAFETY: each is the non-null address of the libc function its type
    // describes.
    unsafe {
        Some(PthreadFns {
            create: core::mem::transmute::<usize, CreateFn>(create),
            key_create: core::mem::transmute::<usize, KeyCreateFn>(key_create),
            setspecific: core::mem::transmute::<usize, SetSpecificFn>(setspecific),
            malloc: core::mem::transmute::<usize, MallocFn>(malloc),
            free: core::mem::transmute::<usize, FreeFn>(free),
        })
    }
}

/// What `pthread_attr_getsigmask_np` returns for an attribute without a
/// mask (glibc's pthread.h: -1).
const PTHREAD_ATTR_NO_SIGMASK_NP: c_int = -1;
const ENOSYS: c_int = 38;

/// Whether `attr` carries its own signal mask (glibc >= 2.32,
/// `pthread_attr_setsigmask_np`), with which the libc starts the thread
/// instead of its creator's mask. `ENOSYS` where the setter is linked but
/// not the getter (a static glibc link: `libc.a` keeps them apart), so
/// that nobody guesses.
///
/// # Safety
/// `attr` is null or a valid `pthread_attr_t`.
pub(crate) unsafe fn attr_has_signal_mask(attr: *const c_void) -> Result<bool, c_int> {
    if attr.is_null() {
        return Ok(false);
    }
    let get = weak_function_address!("pthread_attr_getsigmask_np");
    if get == 0 {
        return match weak_function_address!("pthread_attr_setsigmask_np") {
            0 => Ok(false),
            _ => Err(ENOSYS),
        };
    }
    // SAFETY: the non-null address of glibc's getter.
    let get: AttrGetSigmaskFn = unsafe { core::mem::transmute::<usize, AttrGetSigmaskFn>(get) };
    let mut mask = SigSet([0; 16]);
    // SAFETY: the caller's attribute and a full-size sigset_t.
    match unsafe { get(attr, &mut mask) } {
        0 => Ok(true),
        PTHREAD_ATTR_NO_SIGMASK_NP => Ok(false),
        e => Err(e),
    }
}
