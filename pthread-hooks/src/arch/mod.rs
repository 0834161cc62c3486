//! Architecture primitives of the hooks: addresses of weak symbols and the
//! futex syscall number.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rseq-pthread-hooks: add an arch module for this architecture");
