//! Thread start and exit hooks for hosts where the component owns rseq
//! registration (glibc with `glibc.pthread.rseq=0`, musl, the standalone
//! libc): every thread that starts through them is registered before its
//! start routine runs, with the application's signals blocked until then,
//! and unregistered in its exit step, before the libc can free its memory.
//!
//! - **Start** ([`rseq_libc_pthread_create`], [`rseq_libc_thrd_create`]):
//!   the creator blocks the application's signals (never the libc's
//!   internal ones: `setuid()` broadcasts one and waits for every thread)
//!   around the libc's `pthread_create` and hands the new thread its start
//!   data in a `malloc`ed block. The new thread, which starts with that
//!   mask, arms its exit step, registers, restores its creator's mask and
//!   runs the start routine. A thread whose creator has no area because
//!   rseq is unavailable, the program registers rseq itself, the
//!   application unregistered the creator (except where the component
//!   published `__rseq_size`: that promises every thread registered from
//!   its start), or the creator's registration failed, inherits that ([`rseq_registration::inherit_unregistered`]);
//!   a creator past its exit step (a key destructor of the last round) or
//!   started without the hooks passes nothing on: its new thread registers
//!   at start like any other (not fatally: a failure leaves it without an
//!   area). Where the libc
//!   owns registration the libc's `pthread_create` is called directly.
//! - **Attribute signal masks** (glibc >= 2.32, `pthread_attr_setsigmask_np`):
//!   glibc starts such a thread with the attribute's mask, not with its
//!   creator's. The hooks do not touch the attribute: the thread registers
//!   (blocking the application's signals itself for that instant) and
//!   keeps the attribute's mask. A handler for a signal that mask leaves
//!   open can run before the start routine; its first API call registers
//!   the thread (glibc keeps a thread's memory until the kernel saw it
//!   exit, so that is safe there). A static glibc link that has
//!   `pthread_attr_setsigmask_np` but not `pthread_attr_getsigmask_np`
//!   (`libc.a` keeps them apart) gets `ENOSYS` from a hooked
//!   `pthread_create` with an attribute, rather than a guess; link it with
//!   `-Wl,-u,pthread_attr_getsigmask_np`.
//! - **Registration failure** of a thread whose creator is registered
//!   (which the kernel does not do in practice once the creator succeeded;
//!   a seccomp filter installed by the creator is one way), or a libc that
//!   cannot store the exit key's value, is **fatal**, as a registration
//!   failure is in glibc: the new thread writes `rseq-libc: a new thread
//!   could not register its rseq area or arm its exit step (errno N);
//!   ending the process (status 127)` on stderr with raw writes and calls
//!   `exit_group(127)`; its start routine never runs. `pthread_create`
//!   answers `EAGAIN` when the exit key cannot be created (no key left: a
//!   later call tries again) or the start block cannot be allocated.
//! - **Exit**: a thread-specific-data key whose destructor re-arms itself
//!   until the libc's last destructor round (`PTHREAD_DESTRUCTOR_ITERATIONS`,
//!   4 in glibc and musl), then runs
//!   [`rseq_registration::unregister_current_thread_at_exit`]: the thread
//!   has no area from then on (a handler falls back; nothing registers it
//!   again) and the component's registration is undone. Destructors run on
//!   every exit path (return, `pthread_exit`, cancellation, detached, C11
//!   `thrd_exit`), after cleanup handlers, C++ `thread_local` destructors
//!   and the first destructor round, and before the libc frees the
//!   thread's TLS or (musl, detached) unmaps its stack. The signal mask is
//!   not touched, so the last thread's `exit()` runs `atexit` handlers with
//!   the mask the thread had. musl also runs the destructors of the thread
//!   that serves `SIGEV_THREAD` timers after each callback, then rewrites
//!   its TLS and goes on: the exit step unregisters it all the same (no
//!   registered area may be rewritten) and, seeing cancellation still
//!   enabled (musl's `pthread_exit` disables it), arms itself again, so the
//!   thread registers at its next API call and unregisters at its end.
//! - A libc that makes its own threads (the standalone test libc) runs the
//!   same steps without wrapping: [`NewThreadRegistration`] (read in the
//!   creator, applied first thing in the new thread, signals blocked) and
//!   [`unregister_at_thread_exit`].
//!
//! How an executable gets the hooks: `rseq-pthread-interpose` defines its
//! `pthread_create` and `thrd_create` as (weak) aliases of the entries
//! here, so the README's plain link line hooks every thread the program
//! and its libc start through those names (in static musl, that is every
//! thread the libc starts, `timer_create` and `mq_notify` included).
//! The libc's own function is `__pthread_create` in a static link, else
//! the next `pthread_create` after the executable (`dlsym(RTLD_NEXT)`).
//! glibc starts some threads itself with an internal call
//! (`timer_create` with `SIGEV_THREAD`, `mq_notify`, the `aio_*` helpers):
//! those are registered lazily by their first API call, which is safe on
//! glibc (see [`rseq_registration::Reason::Unhooked`] for the hosts where
//! it is not).
//!
//! **Cost** (BENCHMARKS.md, "pthread hooks"): four system calls per thread
//! that glibc's own registering path does not make (the creator blocks and
//! restores its mask, the new thread restores it after registering, the
//! exit step unregisters), plus a `malloc`/`free` pair and three extra
//! destructor rounds.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod entry;
#[allow(unsafe_code)]
mod exit;
#[allow(unsafe_code)]
mod libc;
#[allow(unsafe_code)]
mod start;

pub use entry::{rseq_libc_pthread_create, rseq_libc_thrd_create};
pub use exit::unregister_at_thread_exit;
pub use libc::{C11Routine, StartRoutine};
pub use start::NewThreadRegistration;

#[cfg(test)]
#[allow(unsafe_code)]
mod tests;
