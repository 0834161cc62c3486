//! Tests of every architecture module (x86-64 on the host; aarch64 and
//! riscv64 under qemu-user in tests/arch-guests, which runs no rseq but
//! every accessor and syscall below).

use super::*;

#[test]
fn own_area_is_aligned_per_thread_and_starts_uninitialized() {
    let a = own_area();
    assert_eq!(a as usize % AREA_ALIGN as usize, 0);
    // SAFETY: own_area is this thread's TLS, valid for reads.
    assert_eq!(unsafe { core::ptr::read_volatile(&(*a).cpu_id) } as i32, -1);
    let b = std::thread::spawn(|| own_area() as usize).join().unwrap();
    assert_ne!(a as usize, b);
    // The test binary defines no __rseq_abi of its own.
    assert_eq!(legacy_abi_area(), a);
}

#[test]
fn tls_is_reached_through_the_thread_pointer() {
    // The initial-exec offset is the same in every thread: the accessors
    // add it to each thread's own thread pointer.
    let here = own_area() as isize - thread_pointer() as isize;
    let there = std::thread::spawn(|| own_area() as isize - thread_pointer() as isize)
        .join()
        .unwrap();
    assert_eq!(here, there);
    let s = thread_state_block();
    assert_eq!(s as usize % 16, 0);
    let fresh = std::thread::spawn(|| {
        // SAFETY: as above, in the new thread.
        unsafe { core::slice::from_raw_parts(thread_state_block(), THREAD_STATE_SIZE) }.to_vec()
    })
    .join()
    .unwrap();
    assert!(fresh.iter().all(|&b| b == 0));
}

#[test]
fn raw_syscalls_answer() {
    // SAFETY: getpid/gettid have no preconditions.
    let (pid, tid) = unsafe { (syscall0(nr::GETPID), syscall0(nr::GETTID)) };
    assert_eq!(pid as u32, std::process::id());
    assert!(tid > 0);
    // SAFETY: an invalid number is harmless; it answers -ENOSYS.
    let r = unsafe { syscall0(100_000) };
    assert_eq!(r, -(crate::errno::ENOSYS as isize));
    // Six arguments reach the kernel: mmap of one anonymous page.
    // SAFETY: a fresh private mapping, unmapped below.
    let p = unsafe { syscall6(nr::MMAP, 0, 4096, 3, 0x22, usize::MAX, 0) };
    assert!(p > 0, "mmap: {p}");
    // SAFETY: the page just mapped.
    unsafe {
        (p as *mut u8).write(1);
        assert_eq!(syscall2(nr::MUNMAP, p as usize, 4096), 0);
    }
}

#[test]
fn fork_process_makes_a_child() {
    // SAFETY: the child only calls exit_group.
    let pid = unsafe { fork_process() };
    if pid == 0 {
        // SAFETY: ends the child at once.
        unsafe { syscall1(nr::EXIT_GROUP, 7) };
    }
    assert!(pid > 0, "fork: {pid}");
    let mut status = 0i32;
    // SAFETY: waits for the child just made; status is a valid i32.
    let r = unsafe {
        syscall4(
            nr::WAIT4,
            pid as usize,
            &mut status as *mut i32 as usize,
            0,
            0,
        )
    };
    assert_eq!(r, pid);
    assert_eq!((status >> 8) & 0xff, 7);
}

#[test]
fn own_rseq_symbols_are_used_in_a_program_without_them() {
    // This test binary links glibc dynamically: ld.so's symbols stay in
    // ld.so and the executable's hidden copy is the one it resolves.
    let (off, size, flags, own) = rseq_symbols();
    assert!(own);
    assert!(!off.is_null() && !size.is_null() && !flags.is_null());
}

#[test]
fn weak_references_resolve_or_read_zero() {
    assert_ne!(crate::weak_function_address!("malloc"), 0);
    assert_eq!(
        crate::weak_function_address!("rseq_libc_no_such_function"),
        0
    );
}

#[test]
fn the_signature_is_the_architectures_trap() {
    let expected = if cfg!(target_arch = "x86_64") {
        0x5305_3053
    } else if cfg!(target_arch = "aarch64") {
        0xd428_bc00
    } else {
        0xf140_1073
    };
    assert_eq!(RSEQ_SIG, expected);
}
