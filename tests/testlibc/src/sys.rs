//! Syscall numbers (x86-64) beyond rseq-abi's, and the errno convention.

/// Syscall numbers.
pub mod nr {
    pub use rseq_abi::arch::nr::*;
    pub use rseq_dl_early_tls::arch::nr::*;
    /// rt_sigaction(2)
    pub const RT_SIGACTION: usize = 13;
    /// nanosleep(2)
    pub const NANOSLEEP: usize = 35;
    /// execve(2)
    pub const EXECVE: usize = 59;
    /// clock_gettime(2)
    pub const CLOCK_GETTIME: usize = 228;
    /// set_tid_address(2)
    pub const SET_TID_ADDRESS: usize = 218;
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
    /// Interrupted system call.
    pub const EINTR: i32 = 4;
    /// No such entry.
    pub const ENOENT: i32 = 2;
}

/// A raw syscall result: `Ok(value)` or `Err(errno)`.
pub fn result(r: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&r) {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}
