//! The restartable sequences themselves, one module per architecture.

// Generated (scripts/gen-sequences.py): formatted by the generator.
#[cfg(target_arch = "x86_64")]
#[rustfmt::skip]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
#[rustfmt::skip]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "riscv64")]
#[rustfmt::skip]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!(
    "rseq-percpu: no arch module for this target. Write percpu/seq/<arch>.seq (the \
     sequences of percpu/seq/x86_64.seq: docs/sequences.md), generate src/arch/<arch>.rs \
     with scripts/gen-sequences.py; it provides (load_cbne_store, add, add_slot, add_indexed, \
     cmpeq_add_indexed, load_cbeq_pop[_raw], load_cbne_store_store, load_cbne_memcpy_store, \
     load_cbne_store_memcpy_store, load_cbne_store_copy16_32_store, pool_push, pool_pop_raw, \
     packet_write_raw, load_cbeq_cpu, enc_outcome, cpu_field, load_word_unindexed, \
     cpu_number_instruction, cpu_number_read), \
     emitting the same sections."
);
