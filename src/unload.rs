//! A shared object that contains the component stays mapped for the life of
//! the process (shared-object build: feature `startup-hooks` off).
//!
//! Unloading it would be unsafe in two ways, whoever owns registration:
//!
//! - every per-CPU sequence leaves the thread's `rseq_cs` pointing at its
//!   descriptor, in this object; the kernel clears it lazily, on the next
//!   preemption, migration or signal, and reads the descriptor first. After
//!   `dlclose` unmapped it, that read faults and the kernel kills the
//!   process. Any thread of the process may hold such a pointer, and the
//!   component cannot reach other threads' areas to clear them;
//! - when the component owns registration, each thread registered its area
//!   in this object's TLS block. `dlclose` frees the block, the next module
//!   with initial-exec TLS receives the same static TLS bytes, and the kernel
//!   keeps writing `cpu_id` and friends into them. Only a thread itself can
//!   unregister its area.
//!
//! So a constructor (`.init_array`, which shared objects may have) pins the
//! object: `dladdr1` finds its link map, and `dlopen(name, RTLD_NOW |
//! RTLD_NOLOAD | RTLD_NODELETE)` marks it NODELETE, which glibc supports on
//! an object that is already loaded, also from a constructor that an outer
//! `dlopen` runs (the load lock is recursive; glibc 2.36 `elf/dl-open.c`
//! takes the "already open" path, or for an object loaded as a dependency
//! maps the dependency list and activates NODELETE, and finds `r_state`
//! consistent either way, as `_dl_init` runs after the link maps are
//! final). The handle is never closed: a second reason for the object to
//! stay. `dlclose` then returns 0 and unmaps nothing. musl never unloads.
//!
//! Linked into a dynamic executable instead, the constructor finds a link
//! map named "" and does nothing more: an executable is never unloaded. In
//! a static one the weak `dladdr1` stays 0, and the fallback below runs once,
//! at exit, like an explicit unregistration. The default build (startup
//! hooks on, executables only) has none of this. Tests: `tests/dlclose/`.
//!
//! Defence in depth, for a host where pinning is impossible (no `dladdr1` or
//! `dlopen` reachable, or it failed): the destructor, which then runs in
//! `dlclose`, clears the calling thread's `rseq_cs` and unregisters the
//! calling thread's own area. That covers the thread that unloads the object
//! and no other; nothing here is on any per-CPU fast path.

use core::ffi::{c_char, c_int, c_void};
use core::ptr::{self, addr_of_mut, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use rseq_abi::weak_function_address;

/// glibc's and musl's values (`<dlfcn.h>`).
const RTLD_NOW: c_int = 2;
const RTLD_NOLOAD: c_int = 4;
const RTLD_NODELETE: c_int = 0x1000;
/// `dladdr1` flag: `extra_info` receives the object's `struct link_map *`.
const RTLD_DL_LINKMAP: c_int = 2;

/// `Dl_info`: dladdr1 fills it; only the link map is used.
#[repr(C)]
struct DlInfo {
    _fname: *const c_char,
    _fbase: *mut c_void,
    _sname: *const c_char,
    _saddr: *mut c_void,
}

/// The public head of glibc's `struct link_map` (`<link.h>`).
#[repr(C)]
struct LinkMap {
    _addr: usize,
    name: *const c_char,
}

type Dladdr1Fn = unsafe extern "C" fn(*const c_void, *mut DlInfo, *mut *mut c_void, c_int) -> c_int;
type DlopenFn = unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void;

/// What the constructor achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Pin {
    /// The constructor has not run (or this is the default build, where
    /// it does not exist).
    NotRun = 0,
    /// The object is NODELETE and holds a reference to itself.
    Pinned = 1,
    /// The component is in the executable, which is never unloaded.
    Executable = 2,
    /// `dladdr1` or `dlopen` missing or failed: the destructor releases
    /// the unloading thread's registration.
    Unpinned = 3,
}

static STATE: AtomicU32 = AtomicU32::new(Pin::NotRun as u32);

/// What the constructor achieved (for tests and diagnostics).
pub fn state() -> Pin {
    match STATE.load(Ordering::Relaxed) {
        1 => Pin::Pinned,
        2 => Pin::Executable,
        3 => Pin::Unpinned,
        _ => Pin::NotRun,
    }
}

/// `.init_array` entry (glibc passes `argc, argv, envp`, unused here).
extern "C" fn pin_object() {
    STATE.store(pin() as u32, Ordering::Relaxed);
}

#[used]
#[link_section = ".init_array"]
static PIN_OBJECT: extern "C" fn() = pin_object;

fn pin() -> Pin {
    let dladdr1 = weak_function_address!("dladdr1");
    let dlopen = weak_function_address!("dlopen");
    if dladdr1 == 0 || dlopen == 0 {
        return Pin::Unpinned;
    }
    // SAFETY: non-null addresses of the libc's functions of these types.
    let (dladdr1, dlopen) = unsafe {
        (
            core::mem::transmute::<usize, Dladdr1Fn>(dladdr1),
            core::mem::transmute::<usize, DlopenFn>(dlopen),
        )
    };
    let mut info = DlInfo {
        _fname: ptr::null(),
        _fbase: ptr::null_mut(),
        _sname: ptr::null(),
        _saddr: ptr::null_mut(),
    };
    let mut map: *mut c_void = ptr::null_mut();
    let here = pin_object as *const c_void;
    // SAFETY: `here` is code of this object; `info` and `map` are writable.
    if unsafe { dladdr1(here, &mut info, &mut map, RTLD_DL_LINKMAP) } == 0 || map.is_null() {
        return Pin::Unpinned;
    }
    let map = map.cast::<LinkMap>();
    // SAFETY: dladdr1 gave a live link map; its name is a C string.
    let name = unsafe { (*map).name };
    // SAFETY: as above; only the first byte is read.
    if name.is_null() || unsafe { *name } == 0 {
        // The executable's link map is named "" (dladdr would say argv[0]).
        return Pin::Executable;
    }
    // The name is the link map's own, so glibc matches it by string,
    // without opening a file, and RTLD_NOLOAD never loads anything.
    // SAFETY: a NUL-terminated name and valid flags.
    let handle = unsafe { dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) };
    // glibc's handles are link maps: check that this object was the one
    // found. The handle stays open on purpose.
    if handle == map.cast() {
        Pin::Pinned
    } else {
        Pin::Unpinned
    }
}

/// `.fini_array` entry: runs in `dlclose` only when pinning failed (a pinned
/// object's destructors run at exit, and then do nothing).
extern "C" fn release_calling_thread() {
    if matches!(state(), Pin::Pinned | Pin::Executable) {
        return;
    }
    // No lazy registration here: area() only reads the state.
    let area = rseq_registration::area();
    if !area.is_null() {
        // SAFETY: the calling thread's registered area. It runs no critical
        // section now (it runs this destructor; a section that a signal
        // interrupted was aborted before the handler ran), so a zero
        // rseq_cs is what the kernel would store lazily, minus its read
        // of a descriptor about to be unmapped.
        unsafe { write_volatile(addr_of_mut!((*area).rseq_cs), 0) };
    }
    // The component's own area is in TLS about to be freed; a libc's
    // registration answers EPERM and stays.
    let _ = rseq_registration::unregister_current_thread();
}

#[used]
#[link_section = ".fini_array"]
static RELEASE_CALLING_THREAD: extern "C" fn() = release_calling_thread;
