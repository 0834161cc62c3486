//! Thread start and exit hooks for hosts where the component owns rseq
//! registration (glibc with `glibc.pthread.rseq=0`, musl): no signal handler
//! ever runs on a thread whose area is not registered yet or any more, and
//! no area is released (TLS freed, stack unmapped) while still registered.
//!
//! - **Start** ([`create_hooked`]): the creator blocks every signal before
//!   the libc's `pthread_create`, so the new thread starts with all signals
//!   blocked; the new thread registers first, then restores the creator's
//!   original mask (or its attribute's, below), then runs the start routine. A thread whose creator has
//!   no area inherits that ([`rseq_registration::inherit_unregistered`]).
//!   The creator does not wait for the new thread: it hands the start data
//!   over in one of 128 static start slots (claimed with an atomic, freed
//!   by the new thread once it copied them) and returns.
//! - **Attribute signal masks** (glibc >= 2.32,
//!   `pthread_attr_setsigmask_np`): glibc starts a thread whose attribute
//!   carries a mask with that mask, not with its creator's, so blocking in
//!   the creator is not enough. When `pthread_attr_getsigmask_np` finds a
//!   mask, the creator sets the attribute's mask to "every signal blocked"
//!   for the duration of the libc's `pthread_create` and puts the caller's
//!   back right after; the new thread restores the caller's attribute mask
//!   (not its creator's) after registering, so it ends with the mask it
//!   asked for. Creators doing this take one process-wide lock (a futex
//!   word holding the holder's process id, which a fork child takes over),
//!   so two hooked creators sharing an attribute never read each other's
//!   temporary mask as the caller's. Caveats: the attribute is written
//!   although `pthread_create` takes it `const` (it is the caller's
//!   writable `pthread_attr_t`; glibc's extension block already exists, so
//!   nothing is allocated and the writes cannot fail), and a thread that
//!   reads or uses the same attribute at that moment outside the hooks (an
//!   unhooked `pthread_create`, `pthread_attr_getsigmask_np`) can observe
//!   the all-blocked mask; glibc (like POSIX) does not make concurrent use
//!   of one attribute object with its modification safe anyway. As in
//!   glibc's own handling of such a mask, its internal signals 32 and 33 stay
//!   deliverable while the thread starts (glibc's handlers for them do not
//!   touch the area). A static glibc link pulls in
//!   `pthread_attr_setsigmask_np` and `pthread_attr_getsigmask_np`
//!   separately, and the hooks reach both through weak references: a
//!   program that links the setter but not the getter gets `ENOSYS` from a
//!   hooked `pthread_create` with a non-null attribute (where the component
//!   owns registration) rather than a thread that could run a handler
//!   unregistered; link it with `-Wl,-u,pthread_attr_getsigmask_np`. musl
//!   and the standalone test libc have no attribute masks.
//! - **Registration failure** of a thread whose creator is registered
//!   (which the kernel does not do in practice once the creator succeeded:
//!   same area layout, same signature; a seccomp filter installed by the
//!   creator is one way) is **fatal**, as in glibc: the new thread writes
//!   `rseq-libc: a new thread could not register its rseq area (errno N)
//!   although its creator's is registered; ending the process (status
//!   127)` on stderr with raw writes and calls `exit_group(127)`; its start
//!   routine never runs, nothing continues silently. The same holds if the
//!   libc cannot store the exit key's value (`pthread_setspecific`), since
//!   the area could then be freed while registered. Only when all start
//!   slots are taken (more than 128 threads starting at the same instant)
//!   does the creator pass the data on its stack and wait (spin, then
//!   futex) for the thread's answer; a failure then makes `pthread_create`
//!   return `EAGAIN` without running the start routine.
//! - **Exit**: a thread-specific-data key whose destructor re-arms itself
//!   until the libc's last destructor round (`PTHREAD_DESTRUCTOR_ITERATIONS`,
//!   4 in glibc and musl), then blocks every signal, unregisters the exact
//!   area and length it registered, and leaves signals blocked. Destructors
//!   run on every exit path (return, `pthread_exit`, cancellation,
//!   detached), after cleanup handlers, C++ `thread_local` destructors and
//!   the first destructor round, and before the libc frees the thread's TLS
//!   or (musl, detached) unmaps its stack.
//! - Where the libc owns registration the hooks call the libc directly.
//! - A libc that makes its own threads (the standalone test libc) runs the
//!   same steps without wrapping: [`NewThreadRegistration`] (read in the
//!   creator, applied first thing in the new thread, signals blocked) and
//!   [`unregister_at_thread_exit`].
//!
//! **Cost** (BENCHMARKS.md, "pthread hooks"): about +10% on an empty
//! `pthread_create` + `pthread_join` against glibc's own registering path
//! (+0.96 us on a 2-vCPU VM where a system call costs about 155 ns). The
//! guarantees above need four system calls per thread that glibc's path
//! does not make (the creator's mask, the new thread's restore of it after
//! registering, blocking every signal at exit, the unregistration); the
//! hooks make five (the creator blocks and restores) plus three extra
//! destructor rounds (about 190 ns). Starting the thread through
//! `pthread_attr_setsigmask_np` instead of blocking in the creator saves
//! one call but spends it again on the attribute copy, so it is not used.
//!
//! Two entries reach [`create_hooked`]:
//! - `__wrap_pthread_create` (crate `rseq-pthread-wrap`), for links with
//!   `-Wl,--wrap=pthread_create`: static (glibc, musl) and dynamic
//!   executables, for the executable's own calls;
//! - [`rseq_libc_pthread_create`], for dynamic executables linked with
//!   `-Wl,--defsym=pthread_create=rseq_libc_pthread_create`: the executable
//!   exports `pthread_create`, so calls from shared libraries are hooked too,
//!   and the libc's is found with `dlsym(RTLD_NEXT)`.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod arch;
#[allow(unsafe_code)]
mod hooks;

pub use hooks::{
    create_hooked, rseq_libc_pthread_create, unregister_at_thread_exit, CreateFn, GetDetachStateFn,
    JoinFn, KeyCreateFn, NewThreadRegistration, PthreadFns, SetSpecificFn, StartRoutine,
};
