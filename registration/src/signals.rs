//! Blocking the application's signals around registration changes, so that
//! no handler runs on a half-registered thread (and so that a handler's own
//! lazy registration cannot race the interrupted one).
//!
//! The libc's internal signals stay deliverable, as the libcs themselves
//! do when they block signals: `setuid()` and friends broadcast one to
//! every thread and wait for each to handle it (glibc's SIGSETXID, musl's
//! SIGSYNCCALL), so blocking it in a thread that then waits on anything
//! deadlocks the process (glibc bug 28361 was that mistake). Those handlers
//! never touch the rseq area.

use crate::host::{self, HostRseq};
use rseq_abi::arch::{nr, syscall4};

const SIG_SETMASK: usize = 2;

/// Bit of signal `sig` in the kernel's 64-signal mask.
const fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// glibc keeps 32 (SIGCANCEL) and 33 (SIGSETXID); its SIGRTMIN is 34.
const GLIBC_INTERNAL: u64 = bit(32) | bit(33);
/// musl keeps 32 (SIGTIMER), 33 (SIGCANCEL) and 34 (SIGSYNCCALL); its
/// SIGRTMIN is 35. Also used where no libc knows rseq (musl, the
/// standalone test libc, glibc < 2.35).
const MUSL_INTERNAL: u64 = GLIBC_INTERNAL | bit(34);

/// Every signal an application may use, on this host.
pub fn application_signals() -> u64 {
    match host::host().0 {
        HostRseq::Registered { .. } | HostRseq::NotRegistered => !GLIBC_INTERNAL,
        HostRseq::Unsupported => !MUSL_INTERNAL,
    }
}

/// The application's signals blocked until dropped; the previous mask is
/// then restored.
pub struct SignalsBlocked {
    old: u64,
}

impl SignalsBlocked {
    /// Blocks every application signal ([`application_signals`]).
    pub fn new() -> Self {
        let block = application_signals();
        let mut old: u64 = 0;
        // SAFETY: rt_sigprocmask reads `block` and writes `old`, both 8
        // bytes, the kernel's sigset size on every 64-bit architecture. It
        // cannot fail with valid pointers and a valid `how`.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                &block as *const u64 as usize,
                &mut old as *mut u64 as usize,
                8,
            );
        }
        SignalsBlocked { old }
    }

    /// The mask that was in force before.
    pub fn previous(&self) -> u64 {
        self.old
    }
}

impl Default for SignalsBlocked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: as in new; restores the saved mask.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                &self.old as *const u64 as usize,
                0,
                8,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test binary runs on glibc: its two internal signals stay open,
    // SIGRTMIN (34) and every classic signal are blocked.
    #[test]
    fn libc_internal_signals_stay_deliverable() {
        std::thread::spawn(|| {
            let blocked = SignalsBlocked::new();
            let mut now: u64 = 0;
            // SAFETY: reads the current mask into an 8-byte local.
            unsafe {
                syscall4(
                    nr::RT_SIGPROCMASK,
                    SIG_SETMASK,
                    0,
                    &mut now as *mut u64 as usize,
                    8,
                )
            };
            drop(blocked);
            assert_eq!(now & (bit(32) | bit(33)), 0, "{now:#x}");
            for sig in [1, 2, 10, 12, 15, 34, 64] {
                assert_ne!(now & bit(sig), 0, "signal {sig} not blocked: {now:#x}");
            }
        })
        .join()
        .unwrap();
    }
}
