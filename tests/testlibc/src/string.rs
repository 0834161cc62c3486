//! `<string.h>`: byte loops (the crate is `no_builtins`, so they stay loops).

use core::ffi::{c_char, c_int, c_void};

/// memcpy(3)
///
/// # Safety
/// C contract: valid, non-overlapping buffers of `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    let (dp, sp) = (d as *mut u8, s as *const u8);
    let mut i = 0;
    // SAFETY: per the C contract.
    unsafe {
        while i + 8 <= n {
            (dp.add(i) as *mut u64).write_unaligned((sp.add(i) as *const u64).read_unaligned());
            i += 8;
        }
        while i < n {
            *dp.add(i) = *sp.add(i);
            i += 1;
        }
    }
    d
}

/// memmove(3)
///
/// # Safety
/// C contract: valid buffers of `n` bytes, possibly overlapping.
#[no_mangle]
pub unsafe extern "C" fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    let (dp, sp) = (d as *mut u8, s as *const u8);
    // SAFETY: per the C contract; copies in the direction that does not
    // overwrite bytes not yet read.
    unsafe {
        if (dp as usize) <= (sp as usize) || (dp as usize) >= (sp as usize) + n {
            let mut i = 0;
            while i < n {
                *dp.add(i) = *sp.add(i);
                i += 1;
            }
        } else {
            let mut i = n;
            while i > 0 {
                i -= 1;
                *dp.add(i) = *sp.add(i);
            }
        }
    }
    d
}

/// memset(3)
///
/// # Safety
/// C contract: a valid buffer of `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    let dp = d as *mut u8;
    let word = (c as u8 as u64) * 0x0101_0101_0101_0101;
    let mut i = 0;
    // SAFETY: per the C contract.
    unsafe {
        while i + 8 <= n {
            (dp.add(i) as *mut u64).write_unaligned(word);
            i += 8;
        }
        while i < n {
            *dp.add(i) = c as u8;
            i += 1;
        }
    }
    d
}

/// memcmp(3)
///
/// # Safety
/// C contract: valid buffers of `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    let (a, b) = (a as *const u8, b as *const u8);
    for i in 0..n {
        // SAFETY: per the C contract.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return x as c_int - y as c_int;
        }
    }
    0
}

/// bcmp(3): compilers emit it for equality-only memcmp.
///
/// # Safety
/// As memcmp.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: forwarded.
    unsafe { memcmp(a, b, n) }
}

/// strlen(3)
///
/// # Safety
/// C contract: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    let mut n = 0;
    // SAFETY: per the C contract.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

/// strncmp(3)
///
/// # Safety
/// C contract: NUL-terminated strings (or `n` readable bytes).
#[no_mangle]
pub unsafe extern "C" fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    for i in 0..n {
        // SAFETY: per the C contract, up to the first NUL or n.
        let (x, y) = unsafe { (*a.add(i) as u8, *b.add(i) as u8) };
        if x != y || x == 0 {
            return x as c_int - y as c_int;
        }
    }
    0
}

/// strcmp(3)
///
/// # Safety
/// C contract: NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn strcmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: forwarded; stops at the first NUL.
    unsafe { strncmp(a, b, usize::MAX) }
}

/// strchr(3)
///
/// # Safety
/// C contract: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn strchr(s: *const c_char, c: c_int) -> *mut c_char {
    let mut p = s;
    loop {
        // SAFETY: per the C contract, up to the NUL.
        let ch = unsafe { *p };
        if ch as u8 == c as u8 {
            return p as *mut c_char;
        }
        if ch == 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: not past the NUL.
        p = unsafe { p.add(1) };
    }
}

/// strcpy(3)
///
/// # Safety
/// C contract: `d` holds `strlen(s) + 1` bytes.
#[no_mangle]
pub unsafe extern "C" fn strcpy(d: *mut c_char, s: *const c_char) -> *mut c_char {
    // SAFETY: per the C contract.
    unsafe {
        let n = strlen(s);
        memcpy(d.cast(), s.cast(), n + 1);
    }
    d
}
