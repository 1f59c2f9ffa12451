//! The LevelDB-style sorted table behind `variables.index`.
//!
//! Layout: data blocks, an (empty) metaindex block, an index block, and a
//! 48-byte footer (two block handles padded to 40 bytes, then the magic
//! number). Each block is followed by a one-byte compression type and the
//! masked CRC-32C of contents + type. Entries are prefix-compressed
//! (`varint32 shared, varint32 non_shared, varint32 value_len, key delta,
//! value`) and a block ends with its restart array (`u32` offsets) and their
//! count. The index block maps a separator key to each data block's handle.
//!
//! Every offset, length and count comes from the file, so each is checked
//! against the bytes present before it is used; the work done is bounded by
//! the file's size: data blocks must follow each other without overlap (so
//! no block is read twice), and prefix compression may rebuild at most
//! [`MAX_KEY_INFLATION`] times the file's size in keys.

use super::crc32c;

/// `0xdb4775248b80fb57`, stored little-endian as the footer's last 8 bytes.
const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Footer size: two handles of at most 20 bytes each, then the magic.
const FOOTER: usize = 48;
/// Where the magic starts in the footer.
const MAGIC_AT: usize = 40;
/// Trailer after each block: compression type and masked CRC.
const TRAILER: usize = 5;
/// Most key bytes prefix compression may rebuild per byte of the file: an
/// entry of four bytes can repeat its whole predecessor's key, so without a
/// bound a small index would rebuild keys quadratic in its size. Real
/// indexes rebuild about twice their size (the zip-bomb ratio).
pub const MAX_KEY_INFLATION: usize = 1000;

/// One key/value entry, as ranges into the table's bytes (keys are rebuilt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The full key.
    pub key: Vec<u8>,
    /// The value's bytes.
    pub value: Vec<u8>,
}

/// Reads every entry of a table, checking every block's CRC, that keys
/// strictly increase and that there are at most `max_entries` of them.
/// Messages are one line without the file name.
pub fn read(data: &[u8], max_entries: usize) -> Result<Vec<Entry>, ReadError> {
    let table_end = data.len().checked_sub(FOOTER).ok_or_else(|| {
        ReadError::Bad(format!("truncated: {} bytes is shorter than the {FOOTER}-byte table footer", data.len()))
    })?;
    let (_, footer) = data.split_at_checked(table_end).ok_or_else(|| bad("footer out of range"))?;
    let magic = footer
        .get(MAGIC_AT..)
        .and_then(|m| <[u8; 8]>::try_from(m).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad("footer too short"))?;
    if magic != MAGIC {
        return Err(bad(format!("bad table magic {magic:#018x} (truncated or not a tensor bundle index)")));
    }
    let mut pos = 0;
    let _metaindex = handle(footer, &mut pos).map_err(|e| bad(format!("footer: {e}")))?;
    let index = handle(footer, &mut pos).map_err(|e| bad(format!("footer: {e}")))?;
    let body = data.get(..table_end).ok_or_else(|| bad("footer out of range"))?;
    let index_block = block(body, index, "index block")?;
    let mut reader =
        Reader { entries: Vec::new(), key_budget: data.len().saturating_mul(MAX_KEY_INFLATION), max_entries };
    let mut handles = Vec::new();
    for e in entries_of(index_block, "index block", &mut Reader::unbounded(data.len()))? {
        let mut p = 0;
        handles.push(handle(&e.value, &mut p).map_err(|m| bad(format!("index block: {m}")))?);
    }
    // Blocks in order and disjoint: each byte of the file is read once.
    let mut next_free = 0u64;
    for h in handles {
        let what = format!("data block at offset {}", h.0);
        if h.0 < next_free {
            return Err(bad(format!("{what} overlaps the block before it (which ends at {next_free})")));
        }
        next_free = h.0.saturating_add(h.1).saturating_add(TRAILER as u64);
        let contents = block(body, h, &what)?;
        let found = entries_of(contents, &what, &mut reader)?;
        reader.entries.extend(found);
    }
    Ok(reader.entries)
}

/// Why a table could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The bytes are not a valid table (the message says where and why).
    Bad(String),
    /// The table holds more entries than allowed; the count reached.
    TooMany(usize),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Bad(m) => f.write_str(m),
            ReadError::TooMany(n) => write!(f, "more than {n} entries"),
        }
    }
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError::Bad(message.into())
}

/// What the entries read so far have used of the table's budgets.
struct Reader {
    /// Entries of the data blocks, in order (for the key-order check).
    entries: Vec<Entry>,
    /// Key bytes prefix compression may still rebuild.
    key_budget: usize,
    /// Most entries allowed.
    max_entries: usize,
}

impl Reader {
    /// A reader for the index block, whose entry count is bounded by its size.
    fn unbounded(file_len: usize) -> Reader {
        Reader { entries: Vec::new(), key_budget: file_len.saturating_mul(MAX_KEY_INFLATION), max_entries: usize::MAX }
    }
}

/// A block handle: (offset, size).
fn handle(buf: &[u8], pos: &mut usize) -> Result<(u64, u64), String> {
    Ok((varint(buf, pos)?, varint(buf, pos)?))
}

/// A block's contents after checking bounds, compression type and CRC;
/// `body` is the table without its footer.
fn block<'a>(body: &'a [u8], (offset, size): (u64, u64), what: &str) -> Result<&'a [u8], ReadError> {
    let range = usize::try_from(offset).ok().and_then(|start| {
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        Some((start, end))
    });
    let block_and_trailer = range.and_then(|(start, end)| body.get(start..end.checked_add(TRAILER)?));
    let Some((contents, trailer)) = block_and_trailer.and_then(|b| b.split_at_checked(b.len().checked_sub(TRAILER)?))
    else {
        return Err(bad(format!("truncated: {what} ({size} bytes) runs past the table's {} bytes", body.len())));
    };
    let (kind, stored) = match trailer {
        [kind, c0, c1, c2, c3] => (*kind, u32::from_le_bytes([*c0, *c1, *c2, *c3])),
        _ => return Err(bad(format!("{what}: trailer is not {TRAILER} bytes"))),
    };
    let actual = crc32c::mask(crc32c::extend(crc32c::crc32c(contents), &[kind]));
    if stored != actual {
        return Err(bad(format!("bad CRC in {what}: stored {stored:#010x}, computed {actual:#010x}")));
    }
    if kind != 0 {
        return Err(bad(format!("{what} is compressed (type {kind}); only uncompressed tables are read")));
    }
    Ok(contents)
}

/// The entries of one block, keys rebuilt from their shared prefixes and
/// checked to increase after `reader`'s last entry.
fn entries_of(block: &[u8], what: &str, reader: &mut Reader) -> Result<Vec<Entry>, ReadError> {
    let fail = |m: String| bad(format!("{what}: {m}"));
    let (rest, count) = block
        .len()
        .checked_sub(4)
        .and_then(|k| block.split_at_checked(k))
        .ok_or_else(|| fail(format!("{} bytes is too short for a restart count", block.len())))?;
    let n = u32::from_le_bytes(<[u8; 4]>::try_from(count).map_err(|_| fail("short restart count".into()))?) as usize;
    // The restart array is not needed to read the block front to back, but
    // its size says where the entries end.
    let limit = n
        .checked_mul(4)
        .and_then(|b| rest.len().checked_sub(b))
        .ok_or_else(|| fail(format!("{n} restart points do not fit in {} bytes", block.len())))?;
    let entries = rest.get(..limit).ok_or_else(|| fail("restart array out of range".into()))?;
    let mut out: Vec<Entry> = Vec::new();
    let mut pos = 0;
    while pos < limit {
        let at = pos;
        let mut field = || -> Result<usize, ReadError> {
            let v = varint(entries, &mut pos).map_err(&fail)?;
            usize::try_from(v).map_err(|_| fail(format!("entry at byte {at}: length {v} does not fit in memory")))
        };
        let (shared, unshared, vlen) = (field()?, field()?, field()?);
        // Keys share prefixes within a block only; order holds across blocks.
        let in_block = out.last().map_or(&[][..], |e| &e.key[..]);
        let Some(kept) = in_block.get(..shared) else {
            return Err(fail(format!(
                "entry at byte {at} shares {shared} key bytes with a {}-byte key",
                in_block.len()
            )));
        };
        let prev = out.last().or(reader.entries.last()).map(|e| &e.key[..]);
        let key_end = pos.checked_add(unshared);
        let value_end = key_end.and_then(|k| k.checked_add(vlen));
        let (Some(delta), Some(value)) =
            (key_end.and_then(|k| entries.get(pos..k)), key_end.zip(value_end).and_then(|(k, v)| entries.get(k..v)))
        else {
            return Err(fail(format!("entry at byte {at} runs past the block's {limit} bytes")));
        };
        let key_len = shared.saturating_add(unshared);
        reader.key_budget = reader.key_budget.checked_sub(key_len).ok_or_else(|| {
            fail(format!(
                "entry at byte {at}: prefix compression rebuilds more than {MAX_KEY_INFLATION} key bytes per byte of the file"
            ))
        })?;
        let mut key = Vec::with_capacity(key_len);
        key.extend_from_slice(kept);
        key.extend_from_slice(delta);
        if let Some(prev) = prev.filter(|p| key.as_slice() <= *p) {
            return Err(fail(format!("keys out of order: {:?} then {:?}", lossy(prev), lossy(&key))));
        }
        if out.len().saturating_add(reader.entries.len()) >= reader.max_entries {
            return Err(ReadError::TooMany(reader.max_entries));
        }
        out.push(Entry { key, value: value.to_vec() });
        pos = value_end.unwrap_or(limit);
    }
    Ok(out)
}

fn lossy(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// A base-128 varint of at most 64 bits.
pub fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(format!("varint at byte {} runs past the end", *pos));
        };
        *pos = pos.saturating_add(1);
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(format!("varint ending at byte {} is longer than 10 bytes", *pos))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
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
        make_table_restarting(entries, 16)
    }

    /// [`make_table`] with a restart point every `restart_every` entries.
    fn make_table_restarting(entries: &[(&[u8], &[u8])], restart_every: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mid = entries.len() / 2;
        let h1 = put_block(&mut out, &entries[..mid], restart_every);
        let h2 = put_block(&mut out, &entries[mid..], restart_every);
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

    fn err(table: &[u8]) -> String {
        match read(table, usize::MAX) {
            Ok(entries) => format!("read {} entries", entries.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            (0..40).map(|i| (format!("key/{i:03}").into_bytes(), vec![i as u8; i % 5])).collect();
        let refs: Vec<(&[u8], &[u8])> = entries.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let table = make_table(&refs);
        let read_back = read(&table, 40).unwrap();
        assert_eq!(read_back.len(), 40);
        assert_eq!(read_back[17].key, b"key/017");
        assert_eq!(read_back[17].value, vec![17u8; 2]);
        assert_eq!(read(&table, 39), Err(ReadError::TooMany(39)));

        let mut bad = table.clone();
        bad[3] ^= 1;
        assert!(err(&bad).starts_with("bad CRC in data block at offset 0"));
        assert!(err(&table[..table.len() - 1]).contains("magic"));
        assert!(err(&table[..20]).starts_with("truncated"));
        let swapped = make_table(&[(b"b", b""), (b"a", b"")]);
        assert!(err(&swapped).contains("out of order"));
        let mut pos = 0;
        assert!(varint(&[0x80; 11], &mut pos).is_err());
    }

    #[test]
    fn every_truncation_is_refused() {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..40).map(|i| (format!("k{i:02}").into_bytes(), vec![7; 3])).collect();
        let refs: Vec<(&[u8], &[u8])> = entries.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let table = make_table(&refs);
        for len in 0..table.len() {
            assert!(read(&table[..len], usize::MAX).is_err(), "{len} bytes read");
        }
    }

    #[test]
    fn index_entries_naming_one_block_twice_are_refused() {
        // Without the check, n index entries naming one block would read it n times.
        let mut out = Vec::new();
        let block = put_block(&mut out, &[(b"a", b"1"), (b"b", b"2")], 16);
        let meta = put_block(&mut out, &[], 1);
        let mut handle = Vec::new();
        put_varint(&mut handle, block.0);
        put_varint(&mut handle, block.1);
        let ih = put_block(&mut out, &[(b"b", &handle), (b"c", &handle)], 1);
        let mut footer = Vec::new();
        for h in [meta, ih] {
            put_varint(&mut footer, h.0);
            put_varint(&mut footer, h.1);
        }
        footer.resize(40, 0);
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&footer);
        let e = err(&out);
        assert!(e.starts_with("data block at offset 0 overlaps the block before it (which ends at"), "{e}");
    }

    #[test]
    fn keys_rebuilt_past_the_inflation_bound_are_refused() {
        // A 20,000-byte key, then 6,000 entries of about 6 bytes that each repeat
        // their predecessor's whole key and add one byte.
        let big = vec![b'a'; 26_000];
        let refs: Vec<(&[u8], &[u8])> = (20_000..26_000).map(|i| (&big[..i], &b""[..])).collect();
        let table = make_table_restarting(&refs, usize::MAX);
        let e = err(&table);
        assert!(e.contains("prefix compression rebuilds more than 1000 key bytes per byte of the file"), "{e}");
    }
}
