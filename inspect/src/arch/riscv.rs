//! riscv: the instruction before a signature, past the alignment padding.
//!
//! The signature is a data word (`.balign 4` + `.long`), and code with
//! compressed instructions is only 2-aligned, so nops may sit between the
//! branch and the signature; the branch itself may be 4 bytes (`jal x0`,
//! `jalr x0`) or 2 (`c.j`, `c.jr`; the linker relaxes `jal` to `c.j`).
//! Reading backwards, a 2-byte instruction and the upper half of a 4-byte
//! one look alike: both readings are tried, which at worst takes some
//! other instruction's upper half for a branch.

use super::bytes_before;
use crate::image::Image;

/// `addi x0, x0, 0`.
const NOP: u32 = 0x0000_0013;
/// `c.addi x0, 0`.
const C_NOP: u16 = 0x0001;
/// Most nops of padding looked through: `.balign 4` adds at most one
/// 2-byte nop; a few more for generous padding.
const MAX_PADDING: usize = 4;

/// `jal x0, offset` (`j`): opcode 0x6f, rd 0.
fn is_jump(word: u32) -> bool {
    word & 0xfff == 0x06f || (word & 0x707f == 0x0067 && word & 0xf80 == 0)
}

/// `c.j` (funct3 101, op 01), or `c.jr rs1` with rs1 not 0 (`ret` is
/// `c.jr ra`).
fn is_compressed_jump(half: u16) -> bool {
    half & 0xe003 == 0xa001 || (half & 0xf07f == 0x8002 && half & 0x0f80 != 0)
}

fn word_before(image: &Image<'_>, end: u64) -> Option<u32> {
    bytes_before(image, end, 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
}

fn half_before(image: &Image<'_>, end: u64) -> Option<u16> {
    bytes_before(image, end, 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_le_bytes)
}

/// Whether the code before `signature` (the signature's address) ends,
/// past any nops, in an unconditional jump.
pub(crate) fn branch_before(image: &Image<'_>, signature: u64) -> bool {
    let mut end = signature;
    for _ in 0..=MAX_PADDING {
        let word = word_before(image, end);
        let half = half_before(image, end);
        // A 4-byte instruction has 0b11 in its lowest bits, a 2-byte one
        // does not.
        if word.is_some_and(|w| w & 3 == 3 && is_jump(w))
            || half.is_some_and(|h| h & 3 != 3 && is_compressed_jump(h))
        {
            return true;
        }
        end = match (word, half) {
            (Some(NOP), _) => end - 4,
            (_, Some(C_NOP)) => end - 2,
            _ => return false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_are_told_from_other_instructions() {
        assert!(is_jump(0x0080_006f)); // j .+8
        assert!(is_jump(0x0000_8067)); // ret (jalr x0, 0(ra))
        assert!(!is_jump(0x0080_00ef)); // jal ra, .+8: a call returns
        assert!(!is_jump(0x00b5_3023)); // sd a1, 0(a0)
        assert!(!is_jump(NOP));
        assert!(is_compressed_jump(0xa009)); // c.j .+2
        assert!(is_compressed_jump(0x8082)); // c.jr ra (ret)
        assert!(!is_compressed_jump(0x9082)); // c.jalr ra: a call
        assert!(!is_compressed_jump(C_NOP));
        assert!(!is_compressed_jump(0xe10c)); // c.sd a1, 0(a0)
    }
}
