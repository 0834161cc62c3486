//! Installing a layout: in a thread's memory, and for the main thread
//! with its own mapping and thread pointer.

use crate::{arch, store, tls_template, Layout, LayoutError};
use rseq_abi::RSEQ_CPU_ID_UNINITIALIZED;

impl Layout {
    /// Lays out one thread's TLS in `len` bytes at `mem`: copies `.tdata`,
    /// zeroes `.tbss`, the TCB and the rseq area (whose `cpu_id` becomes
    /// `RSEQ_CPU_ID_UNINITIALIZED`), and writes the TCB's self pointers
    /// ([`crate::TlsAbi::self_words`]).
    /// Returns the thread pointer to install, or None if `len` is too small.
    ///
    /// # Safety
    /// `mem..mem + len` must be writable and unused; the template image
    /// must be readable (it is the executable's own, already relocated).
    pub unsafe fn install(&self, mem: *mut u8, len: usize) -> Option<*mut u8> {
        let tp_addr = self.thread_pointer_in(mem as usize, len)?;
        let tp = mem.wrapping_add(tp_addr - mem as usize);
        let block = tp.wrapping_offset(self.tls_block);
        let t = &self.template;
        // SAFETY: tp - below_tp..tp + above_tp lies within mem..mem + len
        // (thread_pointer_in checked it), the block and the rseq area in
        // it (Layout::compute_for); the image holds filesz bytes.
        unsafe {
            core::ptr::write_bytes(tp.sub(self.below_tp), 0, self.below_tp + self.above_tp);
            if t.filesz > 0 {
                core::ptr::copy_nonoverlapping(t.image as *const u8, block, t.filesz);
            }
            let words = tp.cast::<usize>();
            for i in 0..8 {
                if self.self_words & (1 << i) != 0 {
                    words.add(i).write(tp as usize);
                }
            }
            let area = tp.offset(self.rseq_offset);
            area.add(4)
                .cast::<u32>()
                .write_volatile(RSEQ_CPU_ID_UNINITIALIZED as u32);
        }
        Some(tp)
    }
}

/// Writes `dl-early-tls: <msg>` on stderr and exits with status 127.
pub fn fail(msg: &[u8]) -> ! {
    use rseq_abi::arch::{nr, syscall3};
    let prefix = b"dl-early-tls: ";
    // SAFETY: write(2) of static buffers to stderr.
    unsafe {
        syscall3(nr::WRITE, 2, prefix.as_ptr() as usize, prefix.len());
        syscall3(nr::WRITE, 2, msg.as_ptr() as usize, msg.len());
        syscall3(nr::WRITE, 2, b"\n".as_ptr() as usize, 1);
    }
    arch::exit_group(127)
}

/// Maps `len` bytes of zeroed, private, read-write memory.
pub fn map_anonymous(len: usize) -> Result<*mut u8, i32> {
    const PROT_READ_WRITE: usize = 3;
    const MAP_PRIVATE_ANONYMOUS: usize = 0x22;
    // SAFETY: a fresh anonymous mapping touches no existing memory.
    let r = unsafe {
        arch::syscall6(
            arch::nr::MMAP,
            0,
            len,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            usize::MAX,
            0,
        )
    };
    if (-4095..0).contains(&r) {
        Err(-r as i32)
    } else {
        Ok(r as *mut u8)
    }
}

/// Sets up the main thread's TLS: computes the process's layout from the
/// executable's program headers, maps the block, installs it and the thread
/// pointer. Returns the layout. On failure, exits with status 127 and a
/// message (nothing else could run without TLS).
///
/// # Safety
/// Must run once, first thing in the process, before any TLS access; `phdr`
/// and `phnum` are the auxiliary vector's `AT_PHDR`/`AT_PHNUM`, `ehdr` the
/// run-time address of the executable's ELF header, and the executable
/// must already be relocated (the `.tdata` image may hold relocated words).
pub unsafe fn init_main_thread(
    phdr: usize,
    phnum: usize,
    ehdr: usize,
    rseq_feature_size: usize,
    rseq_align: usize,
) -> Layout {
    // SAFETY: forwarded from the caller.
    let template = match unsafe { tls_template(phdr, phnum, ehdr) } {
        Ok(t) => t,
        Err(e) => fail(e.message()),
    };
    let layout = match Layout::compute(template, rseq_feature_size, rseq_align) {
        Ok(l) => l,
        Err(e) => fail(e.message()),
    };
    let len = match layout.allocation_size() {
        Some(n) => n,
        None => fail(LayoutError::TooLarge.message()),
    };
    let mem = match map_anonymous(len) {
        Ok(m) => m,
        Err(_) => fail(b"cannot map the main thread's TLS"),
    };
    // SAFETY: a fresh mapping of allocation_size bytes.
    let tp = match unsafe { layout.install(mem, len) } {
        Some(tp) => tp,
        None => fail(LayoutError::TooLarge.message()),
    };
    // SAFETY: tp is a TCB laid out above, never unmapped.
    if unsafe { arch::set_thread_pointer(tp) } != 0 {
        fail(b"cannot set the thread pointer");
    }
    store(&layout);
    layout
}
