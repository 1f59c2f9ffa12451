//! CRC-32C (Castagnoli), table-driven, and LevelDB's masking of stored CRCs.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82f6_3b78;

/// One table entry per byte value, built at compile time.
#[allow(clippy::indexing_slicing)] // `i` runs over the table's own 256 slots.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    extend(0, data)
}

/// Continues a CRC-32C over more bytes.
pub fn extend(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        // The index is a byte, so `get` always finds it (and compiles to no check).
        c = TABLE.get(((c ^ u32::from(b)) & 0xff) as usize).copied().unwrap_or(0) ^ (c >> 8);
    }
    !c
}

/// LevelDB/TensorFlow store CRCs masked, so a CRC of data that itself
/// holds CRCs is not degenerate.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // RFC 3720 (iSCSI) test vectors and the common check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46dd_794e);
        assert_eq!(extend(crc32c(b"1234"), b"56789"), crc32c(b"123456789"));
        assert_eq!(mask(0), 0xa282_ead8);
        assert_ne!(mask(crc32c(b"a")), crc32c(b"a"));
    }
}
