//! `<stdio.h>`: unbuffered streams over write(2) (every call writes its
//! output at once, so `fflush` has nothing to do and output of threads and
//! processes interleaves by whole calls), and a printf engine.

use crate::arch::VaList;
use crate::errno;
use crate::string::strlen;
use crate::sys::nr;
use core::ffi::{c_char, c_int};
use rseq_abi::arch::syscall3;

/// `FILE`: just a descriptor.
#[repr(C)]
pub struct FILE {
    fd: c_int,
}

/// A `FILE *` that C reads from the `stdout`/`stderr` variables.
#[repr(transparent)]
pub struct FilePtr(*const FILE);
// SAFETY: points to an immutable static.
unsafe impl Sync for FilePtr {}

static STDIN_FILE: FILE = FILE { fd: 0 };
static STDOUT_FILE: FILE = FILE { fd: 1 };
static STDERR_FILE: FILE = FILE { fd: 2 };
/// `stdin`
#[no_mangle]
pub static stdin: FilePtr = FilePtr(&STDIN_FILE);
/// `stdout`
#[no_mangle]
pub static stdout: FilePtr = FilePtr(&STDOUT_FILE);
/// `stderr`
#[no_mangle]
pub static stderr: FilePtr = FilePtr(&STDERR_FILE);

/// Writes all of `buf` to `fd`; false on error.
pub fn write_all(fd: c_int, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: write(2) from a valid slice.
        let r = unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) };
        if r == -(rseq_abi::errno::EINTR as isize) {
            continue;
        }
        if r <= 0 {
            errno::fail(-r as i32);
            return false;
        }
        buf = buf.get(r as usize..).unwrap_or(&[]);
    }
    true
}

/// Where formatted output goes.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

/// Buffers up to 512 bytes on the stack, then writes to a descriptor.
struct FdSink {
    fd: c_int,
    buf: [u8; 512],
    len: usize,
    ok: bool,
}

impl FdSink {
    fn new(fd: c_int) -> Self {
        FdSink {
            fd,
            buf: [0; 512],
            len: 0,
            ok: true,
        }
    }
    fn flush(&mut self) {
        if self.len > 0 {
            self.ok &= write_all(self.fd, self.buf.get(..self.len).unwrap_or(&[]));
            self.len = 0;
        }
    }
}

impl Sink for FdSink {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len == self.buf.len() {
                self.flush();
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }
}

/// Writes into a caller's buffer, truncating, always NUL-terminated.
struct BufSink {
    buf: *mut u8,
    cap: usize,
    len: usize,
}

impl Sink for BufSink {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len + 1 < self.cap {
                // SAFETY: within the caller's cap bytes.
                unsafe { *self.buf.add(self.len) = b };
            }
            self.len += 1;
        }
    }
}

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

fn pad(out: &mut dyn Sink, n: usize, c: u8) {
    for _ in 0..n {
        out.put(&[c]);
    }
}

/// Emits `prefix` and `body` (digits or text) justified per `spec`.
fn emit(out: &mut dyn Sink, spec: &Spec, prefix: &[u8], body: &[u8], numeric: bool) -> usize {
    let zeros = match (numeric, spec.precision) {
        (true, Some(p)) => p.saturating_sub(body.len()),
        _ => 0,
    };
    let len = prefix.len() + zeros + body.len();
    let fill = spec.width.saturating_sub(len);
    let zero_fill = spec.zero && !spec.left && !(numeric && spec.precision.is_some());
    if !spec.left && !zero_fill {
        pad(out, fill, b' ');
    }
    out.put(prefix);
    if zero_fill {
        pad(out, fill, b'0');
    }
    pad(out, zeros, b'0');
    out.put(body);
    if spec.left {
        pad(out, fill, b' ');
    }
    len + fill
}

/// Digits of `v` in `base`, at the end of `buf`; returns the slice.
fn digits(mut v: u64, base: u64, upper: bool, buf: &mut [u8; 24]) -> &[u8] {
    let set: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = set[(v % base) as usize];
        v /= base;
        if v == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The printf engine: formats `fmt` with `ap` into `out`; returns the
/// number of bytes the full output has.
///
/// # Safety
/// `fmt` is a NUL-terminated format whose conversions match `ap`'s
/// arguments (the C contract of printf).
unsafe fn format(out: &mut dyn Sink, fmt: *const c_char, ap: &mut VaList) -> usize {
    let mut total = 0usize;
    let mut p = fmt as *const u8;
    // SAFETY: reads the format up to its NUL and the arguments it names,
    // per the caller.
    unsafe {
        loop {
            let start = p;
            while *p != 0 && *p != b'%' {
                p = p.add(1);
            }
            let lit = core::slice::from_raw_parts(start, p as usize - start as usize);
            out.put(lit);
            total += lit.len();
            if *p == 0 {
                return total;
            }
            p = p.add(1);
            let mut spec = Spec {
                left: false,
                zero: false,
                plus: false,
                space: false,
                alt: false,
                width: 0,
                precision: None,
            };
            loop {
                match *p {
                    b'-' => spec.left = true,
                    b'0' => spec.zero = true,
                    b'+' => spec.plus = true,
                    b' ' => spec.space = true,
                    b'#' => spec.alt = true,
                    _ => break,
                }
                p = p.add(1);
            }
            if *p == b'*' {
                let w = ap.next_word() as i32;
                if w < 0 {
                    spec.left = true;
                }
                spec.width = w.unsigned_abs() as usize;
                p = p.add(1);
            } else {
                while (*p).is_ascii_digit() {
                    spec.width = spec.width * 10 + (*p - b'0') as usize;
                    p = p.add(1);
                }
            }
            if *p == b'.' {
                p = p.add(1);
                let mut prec = 0usize;
                if *p == b'*' {
                    prec = (ap.next_word() as i32).max(0) as usize;
                    p = p.add(1);
                } else {
                    while (*p).is_ascii_digit() {
                        prec = prec * 10 + (*p - b'0') as usize;
                        p = p.add(1);
                    }
                }
                spec.precision = Some(prec);
            }
            // Length modifiers: h and hh narrow, the rest are 64-bit here.
            let mut bits = 32;
            loop {
                match *p {
                    b'l' | b'z' | b'j' | b't' | b'L' | b'q' => bits = 64,
                    b'h' => bits = if bits == 16 { 8 } else { 16 },
                    _ => break,
                }
                p = p.add(1);
            }
            let conv = *p;
            if conv == 0 {
                return total;
            }
            p = p.add(1);
            let mut buf = [0u8; 24];
            total += match conv {
                b'd' | b'i' => {
                    let raw = ap.next_word();
                    let v: i64 = match bits {
                        8 => raw as i8 as i64,
                        16 => raw as i16 as i64,
                        32 => raw as i32 as i64,
                        _ => raw as i64,
                    };
                    let sign: &[u8] = if v < 0 {
                        b"-"
                    } else if spec.plus {
                        b"+"
                    } else if spec.space {
                        b" "
                    } else {
                        b""
                    };
                    let body = if spec.precision == Some(0) && v == 0 {
                        &[][..]
                    } else {
                        digits(v.unsigned_abs(), 10, false, &mut buf)
                    };
                    emit(out, &spec, sign, body, true)
                }
                b'u' | b'x' | b'X' | b'o' => {
                    let raw = ap.next_word();
                    let v = match bits {
                        8 => raw as u8 as u64,
                        16 => raw as u16 as u64,
                        32 => raw as u32 as u64,
                        _ => raw,
                    };
                    let base = match conv {
                        b'u' => 10,
                        b'o' => 8,
                        _ => 16,
                    };
                    let prefix: &[u8] = match (spec.alt && v != 0, conv) {
                        (true, b'x') => b"0x",
                        (true, b'X') => b"0X",
                        (true, b'o') => b"0",
                        _ => b"",
                    };
                    let body = if spec.precision == Some(0) && v == 0 {
                        &[][..]
                    } else {
                        digits(v, base, conv == b'X', &mut buf)
                    };
                    emit(out, &spec, prefix, body, true)
                }
                b'p' => {
                    let v = ap.next_word();
                    if v == 0 {
                        emit(out, &spec, b"", b"(nil)", false)
                    } else {
                        emit(out, &spec, b"0x", digits(v, 16, false, &mut buf), true)
                    }
                }
                b'c' => {
                    let c = [ap.next_word() as u8];
                    emit(out, &spec, b"", &c, false)
                }
                b's' => {
                    let s = ap.next_word() as *const c_char;
                    let s: &[u8] = if s.is_null() {
                        b"(null)"
                    } else {
                        let mut n = 0;
                        while spec.precision.is_none_or(|pr| n < pr) && *s.add(n) != 0 {
                            n += 1;
                        }
                        core::slice::from_raw_parts(s as *const u8, n)
                    };
                    emit(out, &spec, b"", s, false)
                }
                b'f' | b'F' | b'e' | b'g' | b'G' | b'E' | b'a' => {
                    format_double(out, &spec, ap.next_double())
                }
                b'%' => {
                    out.put(b"%");
                    1
                }
                b'n' => {
                    let _ = ap.next_word();
                    0
                }
                other => {
                    out.put(&[b'%', other]);
                    2
                }
            };
        }
    }
}

/// Fixed notation with the precision (default 6); enough for test output.
fn format_double(out: &mut dyn Sink, spec: &Spec, v: f64) -> usize {
    let prec = spec.precision.unwrap_or(6).min(9);
    let sign: &[u8] = if v < 0.0 { b"-" } else { b"" };
    let a = if v < 0.0 { -v } else { v };
    if a.is_nan() || a > 1e18 {
        return emit(out, spec, sign, b"inf/nan", false);
    }
    let scale = 10u64.pow(prec as u32);
    let scaled = (a * scale as f64 + 0.5) as u64;
    let (int, frac) = (scaled / scale, scaled % scale);
    let mut text = [0u8; 40];
    let mut n = 0;
    let mut b1 = [0u8; 24];
    for &d in digits(int, 10, false, &mut b1) {
        text[n] = d;
        n += 1;
    }
    if prec > 0 {
        text[n] = b'.';
        n += 1;
        let mut b2 = [0u8; 24];
        let f = digits(frac, 10, false, &mut b2);
        for _ in f.len()..prec {
            text[n] = b'0';
            n += 1;
        }
        for &d in f {
            text[n] = d;
            n += 1;
        }
    }
    emit(out, spec, sign, &text[..n], false)
}

fn file_fd(f: *const FILE) -> c_int {
    if f.is_null() {
        return 1;
    }
    // SAFETY: one of this library's FILEs.
    unsafe { (*f).fd }
}

fn finish(sink: &mut FdSink, n: usize) -> c_int {
    sink.flush();
    if sink.ok {
        n.min(c_int::MAX as usize) as c_int
    } else {
        -1
    }
}

/// vdprintf(3)
///
/// # Safety
/// printf's contract.
#[no_mangle]
pub unsafe extern "C" fn vdprintf(fd: c_int, fmt: *const c_char, ap: *mut VaList) -> c_int {
    let mut sink = FdSink::new(fd);
    // SAFETY: forwarded.
    let n = unsafe { format(&mut sink, fmt, &mut *ap) };
    finish(&mut sink, n)
}

/// vprintf(3)
///
/// # Safety
/// printf's contract.
#[no_mangle]
pub unsafe extern "C" fn vprintf(fmt: *const c_char, ap: *mut VaList) -> c_int {
    // SAFETY: forwarded.
    unsafe { vdprintf(1, fmt, ap) }
}

/// vfprintf(3)
///
/// # Safety
/// printf's contract; `f` is one of stdin/stdout/stderr.
#[no_mangle]
pub unsafe extern "C" fn vfprintf(f: *const FILE, fmt: *const c_char, ap: *mut VaList) -> c_int {
    // SAFETY: forwarded.
    unsafe { vdprintf(file_fd(f), fmt, ap) }
}

/// vsnprintf(3)
///
/// # Safety
/// printf's contract; `buf` holds `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn vsnprintf(
    buf: *mut c_char,
    n: usize,
    fmt: *const c_char,
    ap: *mut VaList,
) -> c_int {
    let mut sink = BufSink {
        buf: buf.cast(),
        cap: n,
        len: 0,
    };
    // SAFETY: forwarded.
    let len = unsafe { format(&mut sink, fmt, &mut *ap) };
    if n > 0 {
        // SAFETY: the terminating NUL within n bytes.
        unsafe { *buf.add(len.min(n - 1)) = 0 };
    }
    len.min(c_int::MAX as usize) as c_int
}

/// vsprintf(3)
///
/// # Safety
/// printf's contract; `buf` is large enough.
#[no_mangle]
pub unsafe extern "C" fn vsprintf(buf: *mut c_char, fmt: *const c_char, ap: *mut VaList) -> c_int {
    // SAFETY: forwarded, unbounded as in C.
    unsafe { vsnprintf(buf, usize::MAX, fmt, ap) }
}

/// fflush(3): nothing is buffered between calls.
#[no_mangle]
pub extern "C" fn fflush(_f: *const FILE) -> c_int {
    0
}

/// fputs(3)
///
/// # Safety
/// `s` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn fputs(s: *const c_char, f: *const FILE) -> c_int {
    // SAFETY: per the C contract.
    let bytes = unsafe { core::slice::from_raw_parts(s as *const u8, strlen(s)) };
    if write_all(file_fd(f), bytes) {
        0
    } else {
        -1
    }
}

/// puts(3)
///
/// # Safety
/// `s` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn puts(s: *const c_char) -> c_int {
    // SAFETY: per the C contract.
    let bytes = unsafe { core::slice::from_raw_parts(s as *const u8, strlen(s)) };
    let mut sink = FdSink::new(1);
    sink.put(bytes);
    sink.put(b"\n");
    finish(&mut sink, 0)
}

/// fputc(3)
#[no_mangle]
pub extern "C" fn fputc(c: c_int, f: *const FILE) -> c_int {
    if write_all(file_fd(f), &[c as u8]) {
        c & 0xff
    } else {
        -1
    }
}

/// putchar(3)
#[no_mangle]
pub extern "C" fn putchar(c: c_int) -> c_int {
    fputc(c, &STDOUT_FILE)
}

/// perror(3): "s: error N".
///
/// # Safety
/// `s` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn perror(s: *const c_char) {
    // SAFETY: this thread's errno.
    let e = unsafe { *errno::__errno_location() };
    let mut sink = FdSink::new(2);
    if !s.is_null() {
        // SAFETY: per the C contract.
        sink.put(unsafe { core::slice::from_raw_parts(s as *const u8, strlen(s)) });
        sink.put(b": ");
    }
    let mut buf = [0u8; 24];
    sink.put(b"error ");
    sink.put(digits(e as u64, 10, false, &mut buf));
    sink.put(b"\n");
    sink.flush();
}
