//! The start routine (see the crate documentation for the order).
//!
//! Until the RELATIVE relocations are applied (step 2), this code must not
//! read any word the linker left for a relocation: it uses only stack
//! values, pc-relative addresses and syscalls, and cannot panic.

use crate::arch;
use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use rseq_abi::{AT_NULL, AT_PHDR, AT_PHNUM, AT_RSEQ_ALIGN, AT_RSEQ_FEATURE_SIZE};
use rseq_dl_early_tls::fail;

type Argv = *mut *mut c_char;

static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(core::ptr::null_mut());
/// Also C's `extern char **environ` (an `AtomicPtr` has a pointer's layout).
#[export_name = "environ"]
static ENVIRON: AtomicPtr<*mut c_char> = AtomicPtr::new(core::ptr::null_mut());
static FINI_DONE: AtomicBool = AtomicBool::new(false);

static AUXV: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());

/// The auxiliary vector the kernel passed (pairs of words up to `AT_NULL`;
/// null before the start routine ran).
pub fn auxv() -> *const usize {
    AUXV.load(Ordering::Acquire)
}

/// The program's `argv` (null before the start routine ran).
pub fn argv() -> Argv {
    ARGV.load(Ordering::Acquire)
}

/// The environment the kernel passed (null before the start routine ran).
pub fn environ() -> Argv {
    ENVIRON.load(Ordering::Acquire)
}

#[cfg(not(test))]
extern "C" {
    fn main(argc: c_int, argv: Argv, envp: Argv) -> c_int;
    /// The libc's `exit`: atexit handlers, then [`run_fini_array`].
    fn exit(status: c_int) -> !;
}

/// What the kernel put on the initial stack.
struct InitialStack {
    argc: usize,
    argv: Argv,
    envp: Argv,
    auxv: *const usize,
    phdr: usize,
    phnum: usize,
    rseq_feature_size: usize,
    rseq_align: usize,
}

/// # Safety
/// `sp` must be the initial stack pointer the kernel gave `_start`.
unsafe fn read_initial_stack(sp: *const usize) -> InitialStack {
    // SAFETY: the kernel's layout: argc, argv[argc], NULL, envp..., NULL,
    // auxv pairs up to AT_NULL.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as Argv;
        let envp = argv.add(argc + 1);
        let mut p = envp;
        while !(*p).is_null() {
            p = p.add(1);
        }
        let auxv = p.add(1) as *const usize;
        let mut s = InitialStack {
            argc,
            argv,
            envp,
            auxv,
            phdr: 0,
            phnum: 0,
            rseq_feature_size: 0,
            rseq_align: 0,
        };
        let mut a = auxv;
        while *a != AT_NULL {
            let v = *a.add(1);
            match *a {
                AT_PHDR => s.phdr = v,
                AT_PHNUM => s.phnum = v,
                AT_RSEQ_FEATURE_SIZE => s.rseq_feature_size = v,
                AT_RSEQ_ALIGN => s.rseq_align = v,
                _ => {}
            }
            a = a.add(2);
        }
        s
    }
}

/// `Elf64_Rela`.
#[repr(C)]
struct Rela {
    offset: u64,
    info: u64,
    addend: i64,
}

const DT_NULL: i64 = 0;
const DT_PLTRELSZ: i64 = 2;
const DT_RELA: i64 = 7;
const DT_RELASZ: i64 = 8;
const DT_JMPREL: i64 = 23;

/// The `[start, end)` run-time ranges of the relocation tables: `DT_RELA`
/// and `DT_JMPREL` of a `-static-pie` executable, or `.rela.iplt` of a
/// `-static` one.
///
/// # Safety
/// `dynamic` is 0 or the run-time address of this executable's `_DYNAMIC`.
unsafe fn relocation_tables(dynamic: usize, bias: usize) -> [(usize, usize); 2] {
    if dynamic == 0 {
        return [arch::rela_iplt(), (0, 0)];
    }
    let (mut rela, mut relasz, mut jmprel, mut pltrelsz) = (0, 0, 0, 0);
    let mut d = dynamic as *const [i64; 2];
    // SAFETY: _DYNAMIC is an array of (tag, value) ending with DT_NULL.
    unsafe {
        while (*d)[0] != DT_NULL {
            let v = (*d)[1] as usize;
            match (*d)[0] {
                DT_RELA => rela = v,
                DT_RELASZ => relasz = v,
                DT_JMPREL => jmprel = v,
                DT_PLTRELSZ => pltrelsz = v,
                _ => {}
            }
            d = d.add(1);
        }
    }
    let range = |addr: usize, size: usize| {
        if addr == 0 {
            (0, 0)
        } else {
            (bias.wrapping_add(addr), bias.wrapping_add(addr + size))
        }
    };
    [range(rela, relasz), range(jmprel, pltrelsz)]
}

/// Applies the relocations of one kind: RELATIVE (`ifunc == false`) or
/// IRELATIVE. Any other type ends the process (127).
///
/// # Safety
/// The tables are this executable's, `bias` its load bias; IRELATIVE only
/// once the environment resolvers may use is ready.
unsafe fn relocate(tables: &[(usize, usize); 2], bias: usize, ifunc: bool) {
    for &(start, end) in tables {
        let mut r = start as *const Rela;
        while (r as usize) < end {
            // SAFETY: r is within the table.
            let (offset, info, addend) = unsafe { ((*r).offset, (*r).info, (*r).addend) };
            let target = bias.wrapping_add(offset as usize) as *mut usize;
            let value = bias.wrapping_add(addend as usize);
            match info as u32 {
                arch::R_RELATIVE if !ifunc => {
                    // SAFETY: the linker asked for this word to be relocated.
                    unsafe { target.write(value) }
                }
                arch::R_IRELATIVE if ifunc => {
                    // SAFETY: value is the resolver; target the GOT/PLT slot.
                    unsafe { target.write(arch::call_ifunc_resolver(value)) }
                }
                arch::R_RELATIVE | arch::R_IRELATIVE | arch::R_NONE => {}
                _ => fail(b"unsupported relocation type in a static executable"),
            }
            // SAFETY: next entry (bounded by end above).
            r = unsafe { r.add(1) };
        }
    }
}

type InitFn = unsafe extern "C" fn(c_int, Argv, Argv);

/// # Safety
/// `[start, end)` is one of the executable's relocated function arrays.
unsafe fn run_array(start: usize, end: usize, argc: c_int, argv: Argv, envp: Argv) {
    let mut p = start as *const usize;
    while (p as usize) < end {
        // SAFETY: p is within the array; its entries are functions of the
        // program (0 and -1 are skipped, as glibc does).
        unsafe {
            let f = *p;
            if f != 0 && f != usize::MAX {
                let f: InitFn = core::mem::transmute(f);
                f(argc, argv, envp);
            }
            p = p.add(1);
        }
    }
}

/// Runs `.fini_array` in reverse order, once per process. The libc's
/// `exit` calls it after the atexit handlers.
pub fn run_fini_array() {
    if FINI_DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    let (start, mut p) = (arch::fini_array_start(), arch::fini_array_end());
    while p > start {
        p -= core::mem::size_of::<usize>();
        // SAFETY: p is within .fini_array, whose entries are functions of
        // the program taking no argument.
        unsafe {
            let f = *(p as *const usize);
            if f != 0 && f != usize::MAX {
                let f: extern "C" fn() = core::mem::transmute(f);
                f();
            }
        }
    }
}

/// Called by `_start` with the kernel's initial stack pointer.
///
/// # Safety
/// Only `_start` calls it, once, with the initial stack.
#[cfg(not(test))]
pub(crate) unsafe extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: the initial stack, per the caller.
    let s = unsafe { read_initial_stack(sp) };
    let ehdr = arch::ehdr_start();
    // SAFETY: AT_PHDR/AT_PHNUM describe this executable, whose ELF header
    // is at __ehdr_start.
    let bias = match unsafe { rseq_dl_early_tls::load_bias(s.phdr, s.phnum, ehdr) } {
        Some(b) => b,
        None => fail(b"no PT_LOAD maps the ELF header"),
    };
    let dynamic = arch::dynamic();
    // SAFETY: _DYNAMIC (or 0) of this executable.
    let tables = unsafe { relocation_tables(dynamic, bias) };
    // SAFETY: step 2: nothing has read a relocated word yet.
    unsafe { relocate(&tables, bias, false) };
    // SAFETY: step 3, first TLS use of the process, after relocation.
    let layout = unsafe {
        rseq_dl_early_tls::init_main_thread(
            s.phdr,
            s.phnum,
            ehdr,
            s.rseq_feature_size,
            s.rseq_align,
        )
    };
    // Step 4. The declaration cannot fail: capacity >= 32 and the
    // alignment is a power of two >= 32 (Layout::compute checked).
    let _ = rseq_registration::set_host_reserved_area(
        layout.rseq_offset,
        layout.rseq_capacity as u32,
        layout.rseq_align as u32,
    );
    // __rseq_offset is the program's (no libc defines it) and, as in glibc,
    // valid whether or not registration succeeds; __rseq_size stays 0
    // until the component publishes the feature size on success.
    let (offset, _, _, own) = rseq_abi::arch::rseq_symbols();
    if own {
        // SAFETY: the component's own writable definition; no other thread.
        unsafe { offset.write_volatile(layout.rseq_offset) };
    }
    // SAFETY: the kernel's auxiliary vector.
    unsafe { rseq_registration::auxv::init_from_vector(s.auxv) };
    // Every thread of this libc starts through the hooks' steps, so the
    // registration may be published (a non-zero __rseq_size).
    rseq_registration::promise_every_thread_registered_at_start();
    // Failure is not fatal: cpu_id reads -2 and every reader falls back.
    let _ = rseq_registration::register_current_thread();
    // SAFETY: step 5: TLS and rseq are ready for the resolvers.
    unsafe { relocate(&tables, bias, true) };
    ARGV.store(s.argv, Ordering::Release);
    ENVIRON.store(s.envp, Ordering::Release);
    AUXV.store(s.auxv.cast_mut(), Ordering::Release);
    let argc = s.argc as c_int;
    // SAFETY: step 6: the program's relocated constructor arrays.
    unsafe {
        run_array(
            arch::preinit_array_start(),
            arch::preinit_array_end(),
            argc,
            s.argv,
            s.envp,
        );
        run_array(
            arch::init_array_start(),
            arch::init_array_end(),
            argc,
            s.argv,
            s.envp,
        );
        exit(main(argc, s.argv, s.envp))
    }
}
