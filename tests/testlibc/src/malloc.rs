//! malloc and friends: power-of-two size classes from 16 bytes to 64 KiB,
//! carved from 1 MiB mappings, with a free list per class under one spin
//! lock; larger blocks get their own mapping. Every block has a 16-byte
//! header (its class, or its mapping's length) and is 16-byte aligned.

use crate::string::{memcpy, memset};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};
use rseq_abi::arch::syscall2;

const HEADER: usize = 16;
const MIN_SHIFT: usize = 4;
const MAX_SHIFT: usize = 16;
const CLASSES: usize = MAX_SHIFT - MIN_SHIFT + 1;
const ARENA: usize = 1 << 20;
/// Header tag of a block with its own mapping: the tag is `LARGE | len`.
const LARGE: usize = 1 << 63;

struct Heap {
    free: [usize; CLASSES],
    bump: usize,
    bump_end: usize,
}

struct Locked {
    lock: AtomicBool,
    heap: core::cell::UnsafeCell<Heap>,
}
// SAFETY: heap is only touched with lock held.
unsafe impl Sync for Locked {}

static HEAP: Locked = Locked {
    lock: AtomicBool::new(false),
    heap: core::cell::UnsafeCell::new(Heap {
        free: [0; CLASSES],
        bump: 0,
        bump_end: 0,
    }),
};

fn with_heap<R>(f: impl FnOnce(&mut Heap) -> R) -> R {
    while HEAP
        .lock
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    // SAFETY: the lock is held.
    let r = f(unsafe { &mut *HEAP.heap.get() });
    HEAP.lock.store(false, Ordering::Release);
    r
}

fn class_of(size: usize) -> Option<usize> {
    let need = size.checked_add(HEADER)?.max(1 << MIN_SHIFT);
    let shift = usize::BITS as usize - (need - 1).leading_zeros() as usize;
    (shift <= MAX_SHIFT).then_some(shift - MIN_SHIFT)
}

/// malloc(3)
#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    let block = match class_of(size) {
        Some(c) => with_heap(|h| {
            if h.free[c] != 0 {
                let b = h.free[c];
                // SAFETY: free blocks hold the next free block in their
                // first payload word.
                h.free[c] = unsafe { *((b + HEADER) as *const usize) };
                return b;
            }
            let len = 1usize << (c + MIN_SHIFT);
            if h.bump + len > h.bump_end {
                match rseq_dl_early_tls::map_anonymous(ARENA) {
                    Ok(m) => {
                        h.bump = m as usize;
                        h.bump_end = m as usize + ARENA;
                    }
                    Err(_) => return 0,
                }
            }
            let b = h.bump;
            h.bump += len;
            // SAFETY: a fresh block of the arena.
            unsafe { *(b as *mut usize) = c };
            b
        }),
        None => {
            let Some(len) = size.checked_add(HEADER + 4095).map(|n| n & !4095) else {
                return core::ptr::null_mut();
            };
            match rseq_dl_early_tls::map_anonymous(len) {
                Ok(m) => {
                    // SAFETY: the mapping's first word.
                    unsafe { *(m as *mut usize) = LARGE | len };
                    m as usize
                }
                Err(_) => 0,
            }
        }
    };
    if block == 0 {
        crate::errno::fail(crate::sys::e::ENOMEM);
        return core::ptr::null_mut();
    }
    (block + HEADER) as *mut c_void
}

/// Usable bytes of a block.
///
/// # Safety
/// `p` came from malloc.
unsafe fn capacity(p: *mut c_void) -> usize {
    // SAFETY: the header precedes the payload.
    let tag = unsafe { *((p as usize - HEADER) as *const usize) };
    if tag & LARGE != 0 {
        (tag & !LARGE) - HEADER
    } else {
        (1usize << (tag + MIN_SHIFT)) - HEADER
    }
}

/// free(3)
///
/// # Safety
/// `p` is null or came from malloc and was not freed.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    let b = p as usize - HEADER;
    // SAFETY: the header precedes the payload.
    let tag = unsafe { *(b as *const usize) };
    if tag & LARGE != 0 {
        // SAFETY: unmaps the block's own mapping.
        unsafe { syscall2(crate::sys::nr::MUNMAP, b, tag & !LARGE) };
        return;
    }
    with_heap(|h| {
        if let Some(head) = h.free.get_mut(tag) {
            // SAFETY: the block is ours again; link it into its class.
            unsafe { *(p as *mut usize) = *head };
            *head = b;
        }
    });
}

/// calloc(3)
#[no_mangle]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        crate::errno::fail(crate::sys::e::ENOMEM);
        return core::ptr::null_mut();
    };
    let p = malloc(total);
    if !p.is_null() {
        // SAFETY: total bytes just allocated.
        unsafe { memset(p, 0, total) };
    }
    p
}

/// realloc(3)
///
/// # Safety
/// `p` is null or came from malloc and was not freed.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return malloc(size);
    }
    // SAFETY: p came from malloc.
    let cap = unsafe { capacity(p) };
    if size <= cap {
        return p;
    }
    let q = malloc(size);
    if !q.is_null() {
        // SAFETY: both blocks hold at least cap bytes; then p is released.
        unsafe {
            memcpy(q, p, cap);
            free(p);
        }
    }
    q
}
