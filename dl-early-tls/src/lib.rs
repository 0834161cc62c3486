//! dl-early-tls: the static TLS of the standalone libc, set up before any
//! other code of the process runs (x86-64: TLS variant II).
//!
//! From the executable's `PT_TLS` segment (found through `AT_PHDR` and
//! `AT_PHNUM`) it computes one [`Layout`] per process:
//!
//! ```text
//!  low                                                                high
//!  | pad | TLS block (.tdata, .tbss) | TCB (TCB_SIZE) | pad | rseq area |
//!        ^ tp - tls_offset           ^ tp                   ^ tp + rseq_offset
//! ```
//!
//! The TLS block honours `p_align`; the thread pointer is aligned to the
//! largest of the TLS alignment, the TCB's and the rseq area's; the rseq
//! area is `max(feature size, 32)` bytes at `max(AT_RSEQ_ALIGN, 32)`
//! alignment, above the TCB, so it never overlaps a TLS block and has the
//! same offset from the thread pointer in every thread (`__rseq_offset`).
//! The same layout is installed in the main thread ([`init_main_thread`])
//! and in every thread the libc creates ([`Layout::install`]).
//!
//! No heap, no libc, no panics: on an impossible layout it writes a message
//! on stderr and exits with status 127.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod arch;
#[allow(unsafe_code)]
mod phdr;
#[allow(unsafe_code)]
mod setup;

pub use arch::{TCB_ALIGN, TCB_HOST_WORDS_OFFSET, TCB_SIZE};
pub use phdr::{load_bias, tls_template};
pub use setup::{fail, init_main_thread, map_anonymous};

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use rseq_abi::{ORIG_AREA_ALIGN, ORIG_AREA_SIZE};

/// The executable's TLS initialisation image, at its run-time address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsTemplate {
    /// Run-time address of the `.tdata` image.
    pub image: usize,
    /// Bytes to copy (`p_filesz`).
    pub filesz: usize,
    /// Bytes of the block (`p_memsz`); the rest is zeroed (`.tbss`).
    pub memsz: usize,
    /// `p_align` (1 when 0).
    pub align: usize,
}

/// Why no layout is possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// `p_align` or the rseq alignment is not a power of two.
    BadAlignment,
    /// `p_filesz` exceeds `p_memsz`.
    BadSegment,
    /// The sizes overflow the address space.
    TooLarge,
    /// No `PT_LOAD` segment maps the ELF header, so the load bias is unknown.
    NoLoadBias,
}

impl LayoutError {
    /// A one-line description for the failure message.
    pub fn message(self) -> &'static [u8] {
        match self {
            LayoutError::BadAlignment => b"TLS or rseq alignment is not a power of two",
            LayoutError::BadSegment => b"PT_TLS has p_filesz > p_memsz",
            LayoutError::TooLarge => b"TLS block too large",
            LayoutError::NoLoadBias => b"no PT_LOAD maps the ELF header",
        }
    }
}

/// Where everything goes, relative to the thread pointer; the same in
/// every thread of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// The TLS image.
    pub template: TlsTemplate,
    /// Distance from the TLS block's start up to the thread pointer.
    pub tls_offset: usize,
    /// Offset of the rseq area from the thread pointer (`__rseq_offset`).
    pub rseq_offset: usize,
    /// Bytes reserved for the rseq area: `max(feature size, 32)`.
    pub rseq_capacity: usize,
    /// Alignment of the rseq area: `max(AT_RSEQ_ALIGN, 32)`.
    pub rseq_align: usize,
    /// Alignment of the thread pointer.
    pub tp_align: usize,
}

fn align_up(v: usize, a: usize) -> Option<usize> {
    Some(v.checked_add(a - 1)? & !(a - 1))
}

impl Layout {
    /// Computes the layout for `template` (None: the executable has no
    /// TLS) and the kernel's rseq feature size and alignment (0 when the
    /// auxiliary vector does not report them).
    pub fn compute(
        template: Option<TlsTemplate>,
        rseq_feature_size: usize,
        rseq_align: usize,
    ) -> Result<Layout, LayoutError> {
        let t = template.unwrap_or(TlsTemplate {
            align: 1,
            ..TlsTemplate::default()
        });
        let tls_align = t.align.max(1);
        let rseq_align = rseq_align.max(ORIG_AREA_ALIGN as usize);
        if !tls_align.is_power_of_two() || !rseq_align.is_power_of_two() {
            return Err(LayoutError::BadAlignment);
        }
        if t.filesz > t.memsz {
            return Err(LayoutError::BadSegment);
        }
        // Variant II: the block ends at the thread pointer, its size rounded
        // up to its alignment (what the linker assumed for local-exec
        // offsets: tpoff = address - align_up(memsz, align)).
        let tls_offset = align_up(t.memsz, tls_align).ok_or(LayoutError::TooLarge)?;
        let rseq_capacity = rseq_feature_size.max(ORIG_AREA_SIZE as usize);
        let rseq_offset = align_up(TCB_SIZE, rseq_align).ok_or(LayoutError::TooLarge)?;
        let layout = Layout {
            template: TlsTemplate {
                align: tls_align,
                ..t
            },
            tls_offset,
            rseq_offset,
            rseq_capacity,
            rseq_align,
            tp_align: tls_align.max(rseq_align).max(TCB_ALIGN),
        };
        // Every size derived from the layout must be computable.
        layout.allocation_size().ok_or(LayoutError::TooLarge)?;
        Ok(layout)
    }

    /// Bytes above the thread pointer: the TCB, padding and the rseq area.
    pub fn above_tp(&self) -> usize {
        self.rseq_offset + self.rseq_capacity
    }

    /// Bytes a thread's TLS allocation needs, at any alignment of its start.
    pub fn allocation_size(&self) -> Option<usize> {
        self.tls_offset
            .checked_add(self.above_tp())?
            .checked_add(self.tp_align - 1)
    }

    /// Where the thread pointer goes in `len` bytes at `mem`, if they are
    /// enough.
    pub fn thread_pointer_in(&self, mem: usize, len: usize) -> Option<usize> {
        let tp = align_up(mem.checked_add(self.tls_offset)?, self.tp_align)?;
        (tp.checked_add(self.above_tp())? <= mem.checked_add(len)?).then_some(tp)
    }
}

// The process's layout, computed once by init_main_thread.
static READY: AtomicBool = AtomicBool::new(false);
static FIELDS: [AtomicUsize; 9] = [const { AtomicUsize::new(0) }; 9];

pub(crate) fn store(l: &Layout) {
    let v = [
        l.template.image,
        l.template.filesz,
        l.template.memsz,
        l.template.align,
        l.tls_offset,
        l.rseq_offset,
        l.rseq_capacity,
        l.rseq_align,
        l.tp_align,
    ];
    for (slot, x) in FIELDS.iter().zip(v) {
        slot.store(x, Ordering::Relaxed);
    }
    READY.store(true, Ordering::Release);
}

/// The process's layout, once [`init_main_thread`] ran.
pub fn layout() -> Option<Layout> {
    if !READY.load(Ordering::Acquire) {
        return None;
    }
    let f = |i: usize| FIELDS[i].load(Ordering::Relaxed);
    Some(Layout {
        template: TlsTemplate {
            image: f(0),
            filesz: f(1),
            memsz: f(2),
            align: f(3),
        },
        tls_offset: f(4),
        rseq_offset: f(5),
        rseq_capacity: f(6),
        rseq_align: f(7),
        tp_align: f(8),
    })
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    fn t(memsz: usize, align: usize) -> Option<TlsTemplate> {
        Some(TlsTemplate {
            image: 0,
            filesz: 0,
            memsz,
            align,
        })
    }

    #[test]
    fn tls_block_ends_at_tp_rounded_to_its_alignment() {
        for (memsz, align, off) in [
            (0x60, 8, 0x60),
            (0x61, 64, 0x80),
            (8, 4096, 4096),
            (0, 0, 0),
        ] {
            let l = Layout::compute(t(memsz, align), 28, 32).unwrap();
            assert_eq!(l.tls_offset, off, "{memsz:#x}/{align}");
            assert_eq!(l.tp_align % align.max(1), 0);
        }
    }

    #[test]
    fn rseq_area_is_above_the_tcb_sized_and_aligned_for_the_kernel() {
        let l = Layout::compute(t(0x60, 8), 28, 32).unwrap();
        assert_eq!(
            (l.rseq_offset, l.rseq_capacity, l.rseq_align),
            (128, 32, 32)
        );
        let l = Layout::compute(t(0x60, 8), 33, 64).unwrap();
        assert_eq!(
            (l.rseq_offset, l.rseq_capacity, l.rseq_align),
            (128, 33, 64)
        );
        // Old kernels report nothing: the original 32 bytes at 32.
        let l = Layout::compute(None, 0, 0).unwrap();
        assert_eq!((l.rseq_capacity, l.rseq_align), (32, 32));
        let l = Layout::compute(None, 28, 256).unwrap();
        assert_eq!((l.rseq_offset, l.tp_align), (256, 256));
    }

    #[test]
    fn impossible_layouts_are_errors() {
        assert_eq!(
            Layout::compute(t(8, 3), 28, 32),
            Err(LayoutError::BadAlignment)
        );
        assert_eq!(
            Layout::compute(t(8, 8), 28, 48),
            Err(LayoutError::BadAlignment)
        );
        assert_eq!(
            Layout::compute(t(usize::MAX - 8, 8), 28, 32),
            Err(LayoutError::TooLarge)
        );
        let mut bad = t(8, 8).unwrap();
        bad.filesz = 9;
        assert_eq!(
            Layout::compute(Some(bad), 28, 32),
            Err(LayoutError::BadSegment)
        );
    }

    #[test]
    fn install_copies_tdata_zeroes_tbss_and_keeps_within_the_buffer() {
        let image = [0xabu8; 24];
        let tmpl = TlsTemplate {
            image: image.as_ptr() as usize,
            filesz: 24,
            memsz: 100,
            align: 64,
        };
        let l = Layout::compute(Some(tmpl), 28, 32).unwrap();
        let len = l.allocation_size().unwrap();
        let mut buf = vec![0x55u8; len + 1];
        let base = buf.as_mut_ptr().wrapping_add(1);
        // SAFETY: len bytes of buf after its first byte.
        let tp = unsafe { l.install(base, len) }.unwrap();
        assert_eq!(tp as usize % 64, 0);
        let off = |p: *mut u8| p as usize - base as usize;
        let block = off(tp) - l.tls_offset;
        assert!(off(tp) + l.above_tp() <= len);
        assert!(buf[1 + block..1 + block + 24].iter().all(|&b| b == 0xab));
        assert!(buf[1 + block + 24..1 + off(tp)].iter().all(|&b| b == 0));
        // SAFETY: tp is within buf.
        assert_eq!(unsafe { *(tp as *const usize) }, tp as usize);
        let area = 1 + off(tp) + l.rseq_offset;
        assert_eq!(&buf[area + 4..area + 8], &[0xff; 4]);
        assert!(l.rseq_offset >= TCB_SIZE);
        let too_small = l.tls_offset + l.above_tp() - 1;
        assert!(l.thread_pointer_in(base as usize, too_small).is_none());
    }
}
