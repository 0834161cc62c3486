//! Syscall numbers (x86-64) beyond rseq-abi's, and the errno convention.

/// Syscall numbers.
pub mod nr {
    pub use rseq_abi::arch::nr::*;
    pub use rseq_dl_early_tls::arch::nr::*;
    /// rt_sigaction(2)
    pub const RT_SIGACTION: usize = 13;
    /// nanosleep(2)
    pub const NANOSLEEP: usize = 35;
    /// kill(2)
    pub const KILL: usize = 62;
    /// futex(2)
    pub const FUTEX: usize = 202;
}

/// errno values (Linux generic).
pub mod e {
    pub use rseq_abi::errno::*;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Try again.
    pub const EAGAIN: i32 = 11;
    /// No such process.
    pub const ESRCH: i32 = 3;
    /// Deadlock avoided.
    pub const EDEADLK: i32 = 35;
}

/// A raw syscall result: `Ok(value)` or `Err(errno)`.
pub fn result(r: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&r) {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}
