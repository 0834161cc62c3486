//! aarch64: the instruction word before a signature.

use super::bytes_before;
use crate::image::Image;

/// `b imm26`.
const B_MASK: u32 = 0xfc00_0000;
const B: u32 = 0x1400_0000;
/// `br Xn` and `ret Xn` (the register field masked out).
const BR_RET_MASK: u32 = 0xffff_fc1f;
const BR: u32 = 0xd61f_0000;
const RET: u32 = 0xd65f_0000;

/// Whether the instruction just before `signature` (the signature's
/// address) is an unconditional branch: `b`, `br` or `ret`. Instructions
/// are little-endian on aarch64 whatever the data's byte order, and an
/// object file's `b` to a label of another section still has its opcode
/// (only the offset waits for a relocation).
pub(crate) fn branch_before(image: &Image<'_>, signature: u64) -> bool {
    let Some(word) = bytes_before(image, signature, 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
    else {
        return false;
    };
    is_unconditional_branch(word)
}

fn is_unconditional_branch(word: u32) -> bool {
    word & B_MASK == B || matches!(word & BR_RET_MASK, BR | RET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_told_from_other_instructions() {
        assert!(is_unconditional_branch(0x1400_0003)); // b .+12
        assert!(is_unconditional_branch(0xd65f_03c0)); // ret
        assert!(is_unconditional_branch(0xd61f_0200)); // br x16
        assert!(!is_unconditional_branch(0x9400_0003)); // bl .+12: a call returns
        assert!(!is_unconditional_branch(0x5400_0061)); // b.ne .+12
        assert!(!is_unconditional_branch(0xf900_0029)); // str x9, [x1]
        assert!(!is_unconditional_branch(0xd63f_0200)); // blr x16
    }
}
