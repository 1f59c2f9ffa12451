//! The LevelDB-style sorted table behind `variables.index`.
//!
//! Layout: data blocks, an (empty) metaindex block, an index block, and a
//! 48-byte footer (two block handles padded to 40 bytes, then the magic
//! number). Each block is followed by a one-byte compression type and the
//! masked CRC-32C of contents + type. Entries are prefix-compressed
//! (`varint32 shared, varint32 non_shared, varint32 value_len, key delta,
//! value`) and a block ends with its restart array (`u32` offsets) and their
//! count. The index block maps a separator key to each data block's handle.

use super::crc32c;

/// `0xdb4775248b80fb57`, stored little-endian as the footer's last 8 bytes.
const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Footer size: two handles of at most 20 bytes each, then the magic.
const FOOTER: usize = 48;
/// Trailer after each block: compression type and masked CRC.
const TRAILER: usize = 5;

/// One key/value entry, as ranges into the table's bytes (keys are rebuilt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The full key.
    pub key: Vec<u8>,
    /// The value's bytes.
    pub value: Vec<u8>,
}

/// Reads every entry of a table, checking every block's CRC and that keys
/// strictly increase. Errors are one-line messages without the file name.
pub fn read(data: &[u8]) -> Result<Vec<Entry>, String> {
    if data.len() < FOOTER {
        return Err(format!("truncated: {} bytes is shorter than the {FOOTER}-byte table footer", data.len()));
    }
    let footer = &data[data.len() - FOOTER..];
    let magic = u64::from_le_bytes(footer[40..48].try_into().map_err(|_| "footer too short".to_string())?);
    if magic != MAGIC {
        return Err(format!("bad table magic {magic:#018x} (truncated or not a tensor bundle index)"));
    }
    let mut pos = 0;
    let _metaindex = handle(footer, &mut pos).map_err(|e| format!("footer: {e}"))?;
    let index = handle(footer, &mut pos).map_err(|e| format!("footer: {e}"))?;
    let index_block = block(data, index, "index block")?;
    let mut entries = Vec::new();
    for e in entries_of(index_block, "index block")? {
        let mut p = 0;
        let h = handle(&e.value, &mut p).map_err(|m| format!("index block: {m}"))?;
        let what = format!("data block at offset {}", h.0);
        entries.extend(entries_of(block(data, h, &what)?, &what)?);
    }
    for pair in entries.windows(2) {
        if pair[0].key >= pair[1].key {
            return Err(format!("keys out of order: {:?} then {:?}", lossy(&pair[0].key), lossy(&pair[1].key)));
        }
    }
    Ok(entries)
}

fn lossy(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// A block handle: (offset, size).
fn handle(buf: &[u8], pos: &mut usize) -> Result<(u64, u64), String> {
    Ok((varint(buf, pos)?, varint(buf, pos)?))
}

/// A block's contents after checking bounds, compression type and CRC.
fn block<'a>(data: &'a [u8], (offset, size): (u64, u64), what: &str) -> Result<&'a [u8], String> {
    let end = offset.checked_add(size).and_then(|e| e.checked_add(TRAILER as u64));
    let table_end = (data.len() - FOOTER) as u64;
    let Some(end) = end.filter(|&e| e <= table_end) else {
        return Err(format!("truncated: {what} ({size} bytes) runs past the table's {table_end} bytes"));
    };
    let (start, end) = (offset as usize, end as usize);
    let contents = &data[start..end - TRAILER];
    let kind = data[end - TRAILER];
    let stored = u32::from_le_bytes([data[end - 4], data[end - 3], data[end - 2], data[end - 1]]);
    let actual = crc32c::mask(crc32c::extend(crc32c::crc32c(contents), &[kind]));
    if stored != actual {
        return Err(format!("bad CRC in {what}: stored {stored:#010x}, computed {actual:#010x}"));
    }
    if kind != 0 {
        return Err(format!("{what} is compressed (type {kind}); only uncompressed tables are read"));
    }
    Ok(contents)
}

/// The entries of one block, keys rebuilt from their shared prefixes.
fn entries_of(block: &[u8], what: &str) -> Result<Vec<Entry>, String> {
    let fail = |m: String| format!("{what}: {m}");
    if block.len() < 4 {
        return Err(fail(format!("{} bytes is too short for a restart count", block.len())));
    }
    let n = u32::from_le_bytes(block[block.len() - 4..].try_into().map_err(|_| fail("short".into()))?) as usize;
    let restarts = n
        .checked_mul(4)
        .and_then(|b| b.checked_add(4))
        .filter(|&b| b <= block.len())
        .ok_or_else(|| fail(format!("{n} restart points do not fit in {} bytes", block.len())))?;
    let limit = block.len() - restarts;
    let mut out: Vec<Entry> = Vec::new();
    let mut pos = 0;
    while pos < limit {
        let shared = varint(block, &mut pos).map_err(&fail)? as usize;
        let unshared = varint(block, &mut pos).map_err(&fail)? as usize;
        let vlen = varint(block, &mut pos).map_err(&fail)? as usize;
        let prev = out.last().map_or(&[][..], |e| &e.key[..]);
        if shared > prev.len() {
            return Err(fail(format!("entry shares {shared} key bytes with a {}-byte key", prev.len())));
        }
        let key_end = pos.checked_add(unshared).filter(|&e| e <= limit);
        let value_end = key_end.and_then(|k| k.checked_add(vlen)).filter(|&e| e <= limit);
        let (Some(key_end), Some(value_end)) = (key_end, value_end) else {
            return Err(fail(format!("entry at byte {pos} runs past the block's {limit} bytes")));
        };
        let mut key = prev[..shared].to_vec();
        key.extend_from_slice(&block[pos..key_end]);
        out.push(Entry { key, value: block[key_end..value_end].to_vec() });
        pos = value_end;
    }
    Ok(out)
}

/// A base-128 varint of at most 64 bits.
pub fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(format!("varint at byte {} runs past the end", *pos));
        };
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(format!("varint ending at byte {} is longer than 10 bytes", *pos))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Appends a block with its trailer; returns its handle.
    fn put_block(out: &mut Vec<u8>, entries: &[(&[u8], &[u8])], restart_every: usize) -> (u64, u64) {
        let offset = out.len() as u64;
        let mut b = Vec::new();
        let mut restarts = Vec::new();
        let mut prev: &[u8] = &[];
        for (i, (k, v)) in entries.iter().enumerate() {
            let shared = if i % restart_every == 0 {
                restarts.push(b.len() as u32);
                0
            } else {
                prev.iter().zip(k.iter()).take_while(|(a, b)| a == b).count()
            };
            put_varint(&mut b, shared as u64);
            put_varint(&mut b, (k.len() - shared) as u64);
            put_varint(&mut b, v.len() as u64);
            b.extend_from_slice(&k[shared..]);
            b.extend_from_slice(v);
            prev = k;
        }
        if restarts.is_empty() {
            restarts.push(0);
        }
        for r in &restarts {
            b.extend_from_slice(&r.to_le_bytes());
        }
        b.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
        let crc = crc32c::mask(crc32c::extend(crc32c::crc32c(&b), &[0]));
        let size = b.len() as u64;
        out.extend_from_slice(&b);
        out.push(0);
        out.extend_from_slice(&crc.to_le_bytes());
        (offset, size)
    }

    /// A table of the given sorted entries, in two data blocks.
    pub(crate) fn make_table(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mid = entries.len() / 2;
        let h1 = put_block(&mut out, &entries[..mid], 16);
        let h2 = put_block(&mut out, &entries[mid..], 16);
        let meta = put_block(&mut out, &[], 1);
        let mut hv1 = Vec::new();
        put_varint(&mut hv1, h1.0);
        put_varint(&mut hv1, h1.1);
        let mut hv2 = Vec::new();
        put_varint(&mut hv2, h2.0);
        put_varint(&mut hv2, h2.1);
        let last1 = entries[..mid].last().map_or(&b""[..], |e| e.0);
        let last2 = entries.last().map_or(&b""[..], |e| e.0);
        let index: Vec<(&[u8], &[u8])> =
            if mid == 0 { vec![(last2, &hv2)] } else { vec![(last1, &hv1), (last2, &hv2)] };
        let ih = put_block(&mut out, &index, 1);
        let mut footer = Vec::new();
        for h in [meta, ih] {
            put_varint(&mut footer, h.0);
            put_varint(&mut footer, h.1);
        }
        footer.resize(40, 0);
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&footer);
        out
    }

    #[test]
    fn round_trip_and_damage() {
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            (0..40).map(|i| (format!("key/{i:03}").into_bytes(), vec![i as u8; i % 5])).collect();
        let refs: Vec<(&[u8], &[u8])> = entries.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let table = make_table(&refs);
        let read_back = read(&table).unwrap();
        assert_eq!(read_back.len(), 40);
        assert_eq!(read_back[17].key, b"key/017");
        assert_eq!(read_back[17].value, vec![17u8; 2]);

        let mut bad = table.clone();
        bad[3] ^= 1;
        assert!(read(&bad).unwrap_err().starts_with("bad CRC in data block at offset 0"));
        assert!(read(&table[..table.len() - 1]).unwrap_err().contains("magic"));
        assert!(read(&table[..20]).unwrap_err().starts_with("truncated"));
        let swapped = make_table(&[(b"b", b""), (b"a", b"")]);
        assert!(read(&swapped).unwrap_err().contains("out of order"));
        let mut pos = 0;
        assert!(varint(&[0x80; 11], &mut pos).is_err());
    }
}
