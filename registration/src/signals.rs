//! Blocking every signal around registration changes, so that no handler
//! runs on a half-registered thread (and so that a handler's own lazy
//! registration cannot race the interrupted one).

use rseq_abi::arch::{nr, syscall4};

const SIG_SETMASK: usize = 2;

/// All signals blocked until dropped; the previous mask is then restored.
pub struct SignalsBlocked {
    old: u64,
}

impl SignalsBlocked {
    /// Blocks every signal the kernel lets a thread block.
    pub fn new() -> Self {
        let all: u64 = !0;
        let mut old: u64 = 0;
        // SAFETY: rt_sigprocmask reads `all` and writes `old`, both 8 bytes,
        // the kernel's sigset size on every 64-bit architecture. It cannot
        // fail with valid pointers and a valid `how`.
        unsafe {
            syscall4(
                nr::RT_SIGPROCMASK,
                SIG_SETMASK,
                &all as *const u64 as usize,
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
