//! dl-early-tls: the static TLS of the standalone libc, set up before any
//! other code of the process runs.
//!
//! From the executable's `PT_TLS` segment (found through `AT_PHDR` and
//! `AT_PHNUM`) it computes one [`Layout`] per process, for the
//! architecture's TLS variant ([`TlsAbi`], `arch::TLS_ABI`). Variant II
//! (x86-64): the block below the thread pointer, the TCB at it, the rseq
//! area above the TCB:
//!
//! ```text
//!  low                                                                high
//!  | pad | TLS block (.tdata, .tbss) | TCB (tcb_size) | pad | rseq area |
//!        ^ tp + tls_block            ^ tp                   ^ tp + rseq_offset
//! ```
//!
//! Variant I (aarch64, riscv64): the block above the thread pointer, after
//! the ABI's gap (aarch64 16 bytes of TCB, riscv64 none: the linker's
//! local-exec offsets assume `align_up(gap, p_align)`); the libc's words
//! and the rseq area below the thread pointer, as glibc puts its thread
//! descriptor and rseq area there (`__rseq_offset` negative):
//!
//! ```text
//!  low                                                                high
//!  | rseq area | pad | host words | TCB gap | pad | TLS block |
//!  ^ tp + rseq_offset             ^ tp            ^ tp + tls_block
//! ```
//!
//! The TLS block honours `p_align`; the thread pointer is aligned to the
//! largest of the TLS alignment, the TCB's and the rseq area's; the rseq
//! area is `max(feature size, 32)` bytes at `max(AT_RSEQ_ALIGN, 32)`
//! alignment, never overlapping a TLS block, at the same offset from the
//! thread pointer in every thread (`__rseq_offset`).
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

pub use arch::{TCB_ALIGN, TCB_HOST_WORDS_OFFSET, TCB_SIZE, TLS_ABI};
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

/// An architecture's TLS ABI, as far as the layout depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsAbi {
    /// Variant I (blocks above the thread pointer) rather than II.
    pub variant_one: bool,
    /// Bytes of thread control block at the thread pointer (variant II:
    /// its whole TCB, above tp; variant I: the gap the psABI reserves
    /// between tp and the first block, aarch64 16, riscv64 0).
    pub tcb_size: usize,
    /// Alignment of the thread pointer the ABI needs.
    pub tcb_align: usize,
    /// Bytes of words reserved for the libc (errno, its thread descriptor):
    /// variant II inside the TCB, variant I just below the thread pointer.
    pub host_words: usize,
    /// The TCB's words that hold the thread pointer itself (bit i: word i),
    /// as the ABI requires (x86-64: words 0 and 2).
    pub self_words: u8,
}

/// Where everything goes, relative to the thread pointer; the same in
/// every thread of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// The TLS image.
    pub template: TlsTemplate,
    /// Offset of the TLS block's start from the thread pointer.
    pub tls_block: isize,
    /// Offset of the rseq area from the thread pointer (`__rseq_offset`).
    pub rseq_offset: isize,
    /// Bytes reserved for the rseq area: `max(feature size, 32)`.
    pub rseq_capacity: usize,
    /// Alignment of the rseq area: `max(AT_RSEQ_ALIGN, 32)`.
    pub rseq_align: usize,
    /// Alignment of the thread pointer.
    pub tp_align: usize,
    /// Bytes used below the thread pointer.
    pub below_tp: usize,
    /// Bytes used from the thread pointer up.
    pub above_tp: usize,
    /// [`TlsAbi::self_words`].
    pub self_words: u8,
}

fn align_up(v: usize, a: usize) -> Option<usize> {
    Some(v.checked_add(a - 1)? & !(a - 1))
}

fn offset(v: usize) -> Result<isize, LayoutError> {
    isize::try_from(v).map_err(|_| LayoutError::TooLarge)
}

impl Layout {
    /// Computes the layout for `template` (None: the executable has no
    /// TLS) and the kernel's rseq feature size and alignment (0 when the
    /// auxiliary vector does not report them), for this architecture.
    pub fn compute(
        template: Option<TlsTemplate>,
        rseq_feature_size: usize,
        rseq_align: usize,
    ) -> Result<Layout, LayoutError> {
        Self::compute_for(TLS_ABI, template, rseq_feature_size, rseq_align)
    }

    /// [`Layout::compute`] for the TLS ABI `abi`.
    pub fn compute_for(
        abi: TlsAbi,
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
        let rseq_capacity = rseq_feature_size.max(ORIG_AREA_SIZE as usize);
        let too_large = LayoutError::TooLarge;
        let (tls_block, rseq_offset, below_tp, above_tp) = if abi.variant_one {
            // Variant I: the linker assumed the block at tp +
            // align_up(gap, align) for local-exec offsets.
            let block = align_up(abi.tcb_size, tls_align).ok_or(too_large)?;
            let above = block.checked_add(t.memsz).ok_or(too_large)?;
            let below = abi
                .host_words
                .checked_add(rseq_capacity)
                .and_then(|v| align_up(v, rseq_align))
                .ok_or(too_large)?;
            (offset(block)?, -offset(below)?, below, above)
        } else {
            // Variant II: the block ends at the thread pointer, its size
            // rounded up to its alignment (what the linker assumed for
            // local-exec offsets: tpoff = address - align_up(memsz, align)).
            let below = align_up(t.memsz, tls_align).ok_or(too_large)?;
            let rseq = align_up(abi.tcb_size, rseq_align).ok_or(too_large)?;
            let above = rseq.checked_add(rseq_capacity).ok_or(too_large)?;
            (-offset(below)?, offset(rseq)?, below, above)
        };
        let layout = Layout {
            template: TlsTemplate {
                align: tls_align,
                ..t
            },
            tls_block,
            rseq_offset,
            rseq_capacity,
            rseq_align,
            tp_align: tls_align.max(rseq_align).max(abi.tcb_align),
            below_tp,
            above_tp,
            self_words: abi.self_words,
        };
        // Every size derived from the layout must be computable.
        layout.allocation_size().ok_or(too_large)?;
        Ok(layout)
    }

    /// Bytes a thread's TLS allocation needs, at any alignment of its start.
    pub fn allocation_size(&self) -> Option<usize> {
        self.below_tp
            .checked_add(self.above_tp)?
            .checked_add(self.tp_align - 1)
    }

    /// Where the thread pointer goes in `len` bytes at `mem`, if they are
    /// enough.
    pub fn thread_pointer_in(&self, mem: usize, len: usize) -> Option<usize> {
        let tp = align_up(mem.checked_add(self.below_tp)?, self.tp_align)?;
        (tp.checked_add(self.above_tp)? <= mem.checked_add(len)?).then_some(tp)
    }
}

// The process's layout, computed once by init_main_thread.
static READY: AtomicBool = AtomicBool::new(false);
static FIELDS: [AtomicUsize; 12] = [const { AtomicUsize::new(0) }; 12];

pub(crate) fn store(l: &Layout) {
    let v = [
        l.template.image,
        l.template.filesz,
        l.template.memsz,
        l.template.align,
        l.tls_block as usize,
        l.rseq_offset as usize,
        l.rseq_capacity,
        l.rseq_align,
        l.tp_align,
        l.below_tp,
        l.above_tp,
        l.self_words as usize,
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
        tls_block: f(4) as isize,
        rseq_offset: f(5) as isize,
        rseq_capacity: f(6),
        rseq_align: f(7),
        tp_align: f(8),
        below_tp: f(9),
        above_tp: f(10),
        self_words: f(11) as u8,
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
            let l = Layout::compute_for(X86_64, t(memsz, align), 28, 32).unwrap();
            assert_eq!(l.tls_block, -off, "{memsz:#x}/{align}");
            assert_eq!(l.tp_align % align.max(1), 0);
        }
    }

    #[test]
    fn rseq_area_is_above_the_tcb_sized_and_aligned_for_the_kernel() {
        let l = Layout::compute_for(X86_64, t(0x60, 8), 28, 32).unwrap();
        assert_eq!(
            (l.rseq_offset, l.rseq_capacity, l.rseq_align),
            (128, 32, 32)
        );
        let l = Layout::compute_for(X86_64, t(0x60, 8), 33, 64).unwrap();
        assert_eq!(
            (l.rseq_offset, l.rseq_capacity, l.rseq_align),
            (128, 33, 64)
        );
        // Old kernels report nothing: the original 32 bytes at 32.
        let l = Layout::compute_for(X86_64, None, 0, 0).unwrap();
        assert_eq!((l.rseq_capacity, l.rseq_align), (32, 32));
        let l = Layout::compute_for(X86_64, None, 28, 256).unwrap();
        assert_eq!((l.rseq_offset, l.tp_align), (256, 256));
    }

    #[test]
    fn impossible_layouts_are_errors() {
        assert_eq!(
            Layout::compute_for(X86_64, t(8, 3), 28, 32),
            Err(LayoutError::BadAlignment)
        );
        assert_eq!(
            Layout::compute_for(X86_64, t(8, 8), 28, 48),
            Err(LayoutError::BadAlignment)
        );
        assert_eq!(
            Layout::compute_for(X86_64, t(usize::MAX - 8, 8), 28, 32),
            Err(LayoutError::TooLarge)
        );
        let mut bad = t(8, 8).unwrap();
        bad.filesz = 9;
        assert_eq!(
            Layout::compute_for(X86_64, Some(bad), 28, 32),
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
        let l = Layout::compute_for(X86_64, Some(tmpl), 28, 32).unwrap();
        let len = l.allocation_size().unwrap();
        let mut buf = vec![0x55u8; len + 1];
        let base = buf.as_mut_ptr().wrapping_add(1);
        // SAFETY: len bytes of buf after its first byte.
        let tp = unsafe { l.install(base, len) }.unwrap();
        assert_eq!(tp as usize % 64, 0);
        let off = |p: *mut u8| p as usize - base as usize;
        let block = off(tp) - l.below_tp;
        assert!(off(tp) + l.above_tp <= len);
        assert!(buf[1 + block..1 + block + 24].iter().all(|&b| b == 0xab));
        assert!(buf[1 + block + 24..1 + off(tp)].iter().all(|&b| b == 0));
        // SAFETY: tp is within buf.
        assert_eq!(unsafe { *(tp as *const usize) }, tp as usize);
        let area = (1 + off(tp)).wrapping_add_signed(l.rseq_offset);
        assert_eq!(&buf[area + 4..area + 8], &[0xff; 4]);
        assert!(l.rseq_offset >= TCB_SIZE as isize || l.rseq_offset <= -(l.rseq_capacity as isize));
        let too_small = l.below_tp + l.above_tp - 1;
        assert!(l.thread_pointer_in(base as usize, too_small).is_none());
    }

    const X86_64: TlsAbi = TlsAbi {
        variant_one: false,
        tcb_size: 128,
        tcb_align: 64,
        host_words: 64,
        self_words: 0b101,
    };
    const AARCH64: TlsAbi = TlsAbi {
        variant_one: true,
        tcb_size: 16,
        tcb_align: 16,
        host_words: 64,
        self_words: 0,
    };
    const RISCV64: TlsAbi = TlsAbi {
        variant_one: true,
        tcb_size: 0,
        tcb_align: 16,
        host_words: 64,
        self_words: 0,
    };

    #[test]
    fn compute_uses_the_architecture_abi() {
        let a = Layout::compute(t(0x61, 64), 28, 32).unwrap();
        let b = Layout::compute_for(TLS_ABI, t(0x61, 64), 28, 32).unwrap();
        assert_eq!(a, b);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(TLS_ABI, X86_64);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(TLS_ABI, AARCH64);
        #[cfg(target_arch = "riscv64")]
        assert_eq!(TLS_ABI, RISCV64);
    }

    #[test]
    fn variant_two_block_below_tp_rseq_above_the_tcb() {
        let l = Layout::compute_for(X86_64, t(0x61, 64), 28, 32).unwrap();
        assert_eq!((l.tls_block, l.rseq_offset), (-0x80, 128));
        assert_eq!((l.below_tp, l.above_tp), (0x80, 160));
    }

    #[test]
    fn variant_one_block_after_the_psabi_gap_rseq_below_tp() {
        // aarch64: the block at align_up(16, p_align), as the linker's
        // local-exec offsets assume; riscv64: at tp.
        for (abi, align, block) in [
            (AARCH64, 8, 16),
            (AARCH64, 64, 64),
            (AARCH64, 1, 16),
            (RISCV64, 8, 0),
            (RISCV64, 64, 0),
        ] {
            let l = Layout::compute_for(abi, t(0x61, align), 28, 32).unwrap();
            assert_eq!(l.tls_block, block, "{abi:?} {align}");
            assert_eq!(l.above_tp, block as usize + 0x61);
            // The host words (64 bytes) and then the rseq area below tp,
            // aligned for the kernel (tp is aligned to at least rseq_align).
            assert_eq!(l.rseq_offset, -96, "{abi:?}");
            assert_eq!(l.below_tp, 96);
            assert_eq!(l.tp_align % l.rseq_align, 0);
            assert_eq!(l.tp_align % align, 0);
        }
        let l = Layout::compute_for(AARCH64, t(8, 8), 33, 64).unwrap();
        assert_eq!((l.rseq_offset, l.rseq_capacity), (-128, 33));
        let l = Layout::compute_for(RISCV64, t(8, 8), 28, 256).unwrap();
        assert_eq!((l.rseq_offset, l.tp_align), (-256, 256));
        assert!(l.rseq_offset + l.rseq_capacity as isize <= -64);
    }

    #[test]
    fn variant_one_install_copies_above_tp_and_marks_the_area_below() {
        let image = [0xcdu8; 24];
        let tmpl = TlsTemplate {
            image: image.as_ptr() as usize,
            filesz: 24,
            memsz: 100,
            align: 32,
        };
        for abi in [AARCH64, RISCV64] {
            let l = Layout::compute_for(abi, Some(tmpl), 28, 32).unwrap();
            let len = l.allocation_size().unwrap();
            let mut buf = vec![0x55u8; len];
            let base = buf.as_mut_ptr();
            // SAFETY: len bytes of buf.
            let tp = unsafe { l.install(base, len) }.unwrap();
            let at = (tp as usize - base as usize) as isize;
            let block = (at + l.tls_block) as usize;
            assert!(buf[block..block + 24].iter().all(|&b| b == 0xcd));
            assert!(buf[block + 24..block + 100].iter().all(|&b| b == 0));
            let area = (at + l.rseq_offset) as usize;
            assert_eq!((base as usize + area) % 32, 0);
            assert_eq!(&buf[area + 4..area + 8], &[0xff; 4]);
            assert!(area + l.rseq_capacity <= at as usize - abi.host_words);
        }
    }
}
