//! x86-64 (System V psABI).
//!
//! Variadic functions cannot be defined in stable Rust: each variadic entry
//! point (`printf`, ...) is an assembly stub that spills the argument
//! registers into a register save area, builds a `va_list` (the psABI's
//! `__va_list_tag`) over it and the caller's stack arguments, and calls the
//! `v` variant (`vprintf`, ...) with it. The `v` variants take the C
//! `va_list` type directly, so C code can call them too.

use core::arch::global_asm;
use core::ffi::c_void;

/// The psABI's `__va_list_tag`; a C `va_list` argument is a pointer to one.
#[repr(C)]
pub struct VaList {
    gp_offset: u32,
    fp_offset: u32,
    overflow_arg_area: *mut u64,
    reg_save_area: *mut u8,
}

const GP_AREA_END: u32 = 48;
const FP_AREA_END: u32 = 176;

impl VaList {
    /// The next integer or pointer argument.
    ///
    /// # Safety
    /// The caller passed one more argument of an integer or pointer type.
    pub unsafe fn next_word(&mut self) -> u64 {
        // SAFETY: per the psABI, the word is in the register save area
        // until gp_offset reaches 48, then on the caller's stack.
        unsafe {
            if self.gp_offset < GP_AREA_END {
                let v = *(self.reg_save_area.add(self.gp_offset as usize) as *const u64);
                self.gp_offset += 8;
                v
            } else {
                let v = *self.overflow_arg_area;
                self.overflow_arg_area = self.overflow_arg_area.add(1);
                v
            }
        }
    }

    /// The next `double` argument.
    ///
    /// # Safety
    /// The caller passed one more argument of type `double`.
    pub unsafe fn next_double(&mut self) -> f64 {
        // SAFETY: as next_word, with the 16-byte xmm slots after the
        // integer registers.
        unsafe {
            if self.fp_offset < FP_AREA_END {
                let v = *(self.reg_save_area.add(self.fp_offset as usize) as *const f64);
                self.fp_offset += 16;
                v
            } else {
                let v = *(self.overflow_arg_area as *const f64);
                self.overflow_arg_area = self.overflow_arg_area.add(1);
                v
            }
        }
    }
}

// One stub per variadic function: $fixed named arguments (in rdi, rsi,
// rdx, left in place), the va_list pointer in the next argument register.
// Frame: 0..48 integer registers, 48..176 xmm0-7 (saved only when %al, the
// number of vector registers used, is non-zero), 176..200 the va_list.
// 216 bytes keep %rsp 16-byte aligned for the call.
macro_rules! variadic_stub {
    ($name:literal, $fixed_bytes:literal, $va_reg:literal, $target:path) => {
        global_asm!(
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            concat!($name, ":"),
            "sub rsp, 216",
            "mov [rsp], rdi",
            "mov [rsp + 8], rsi",
            "mov [rsp + 16], rdx",
            "mov [rsp + 24], rcx",
            "mov [rsp + 32], r8",
            "mov [rsp + 40], r9",
            "test al, al",
            "je 2f",
            "movaps [rsp + 48], xmm0",
            "movaps [rsp + 64], xmm1",
            "movaps [rsp + 80], xmm2",
            "movaps [rsp + 96], xmm3",
            "movaps [rsp + 112], xmm4",
            "movaps [rsp + 128], xmm5",
            "movaps [rsp + 144], xmm6",
            "movaps [rsp + 160], xmm7",
            "2:",
            concat!("mov dword ptr [rsp + 176], ", $fixed_bytes),
            "mov dword ptr [rsp + 180], 48",
            "lea rax, [rsp + 224]",
            "mov [rsp + 184], rax",
            "mov [rsp + 192], rsp",
            concat!("lea ", $va_reg, ", [rsp + 176]"),
            "call {target}",
            "add rsp, 216",
            "ret",
            concat!(".size ", $name, ", . - ", $name),
            target = sym $target,
        );
    };
}

variadic_stub!("printf", "8", "rsi", crate::stdio::vprintf);
variadic_stub!("fprintf", "16", "rdx", crate::stdio::vfprintf);
variadic_stub!("dprintf", "16", "rdx", crate::stdio::vdprintf);
variadic_stub!("sprintf", "16", "rdx", crate::stdio::vsprintf);
variadic_stub!("snprintf", "24", "rcx", crate::stdio::vsnprintf);

// rseq_testlibc_clone(fn, stack, flags, arg, ptid, tls, ctid): the kernel's
// clone(flags, stack, ptid, ctid, tls). The child pops `arg` from its new
// stack, calls fn(arg), and exits the thread with its result (fn is kept
// in r9, which the syscall preserves).
global_asm!(
    ".globl rseq_testlibc_clone",
    ".hidden rseq_testlibc_clone",
    ".type rseq_testlibc_clone,@function",
    "rseq_testlibc_clone:",
    "mov r10, [rsp + 8]",
    "mov r11, rdi",
    "mov rdi, rdx",
    "mov rdx, r8",
    "mov r8, r9",
    "mov r9, r11",
    "and rsi, -16",
    "sub rsi, 8",
    "mov [rsi], rcx",
    "mov eax, 56",
    "syscall",
    "test eax, eax",
    "jnz 2f",
    "xor ebp, ebp",
    "pop rdi",
    "call r9",
    "mov edi, eax",
    "mov eax, 60",
    "syscall",
    "hlt",
    "2:",
    "ret",
    ".size rseq_testlibc_clone, . - rseq_testlibc_clone",
    // The sa_restorer of every handler: rt_sigreturn.
    ".globl rseq_testlibc_restore_rt",
    ".hidden rseq_testlibc_restore_rt",
    ".type rseq_testlibc_restore_rt,@function",
    "rseq_testlibc_restore_rt:",
    "mov eax, 15",
    "syscall",
    "hlt",
    ".size rseq_testlibc_restore_rt, . - rseq_testlibc_restore_rt",
    // rseq_testlibc_unmap_and_exit(base, len): a detached thread frees its
    // own stack and ends, touching no memory in between.
    ".globl rseq_testlibc_unmap_and_exit",
    ".hidden rseq_testlibc_unmap_and_exit",
    ".type rseq_testlibc_unmap_and_exit,@function",
    "rseq_testlibc_unmap_and_exit:",
    "mov eax, 11",
    "syscall",
    "xor edi, edi",
    "mov eax, 60",
    "syscall",
    "hlt",
    ".size rseq_testlibc_unmap_and_exit, . - rseq_testlibc_unmap_and_exit",
);

extern "C" {
    /// Starts a thread running `f(arg)` on `stack` (its top); returns the
    /// new thread's id or a negated errno.
    pub fn rseq_testlibc_clone(
        f: extern "C" fn(*mut c_void) -> i32,
        stack: *mut u8,
        flags: usize,
        arg: *mut c_void,
        ptid: *mut i32,
        tls: *mut u8,
        ctid: *mut i32,
    ) -> i32;
    /// The signal restorer: rt_sigreturn(2).
    pub fn rseq_testlibc_restore_rt();
    /// munmap(base, len) then exit(0) of the calling thread, on no stack.
    pub fn rseq_testlibc_unmap_and_exit(base: usize, len: usize) -> !;
}

/// `SA_RESTORER`: the kernel returns from handlers through sa_restorer.
pub const SA_RESTORER: u64 = 0x0400_0000;
