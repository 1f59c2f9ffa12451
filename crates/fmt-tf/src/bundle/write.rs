//! Writes a tensor bundle: one data shard streamed tensor by tensor, then
//! the sorted index table.
//!
//! The shard never holds more than one tensor in flight (each tensor's bytes
//! go from its buffer, often a memory map, straight to the file), so bundles
//! of any size are written in constant memory. The index is the
//! LevelDB-style table [`super::table`] reads: data blocks of
//! prefix-compressed entries with a restart point every 16 entries, an
//! empty metaindex block, an index block and the 48-byte footer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ir::{Error, Result, Tensor};
use prost::Message;

use super::crc32c;
use crate::generated::tensorflow::{
    BundleEntryProto, BundleHeaderProto, TensorShapeProto, VersionDef, bundle_header_proto::Endianness,
    tensor_shape_proto,
};

/// Footer magic, as in [`super::table`].
const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Entries between restart points in data blocks (LevelDB's default).
const RESTART_INTERVAL: usize = 16;
/// A data block is closed once its entries pass this size (LevelDB's default).
const BLOCK_SIZE: usize = 4096;

/// Streams tensors into `<prefix>.data-00000-of-00001` and writes
/// `<prefix>.index` on [`BundleWriter::finish`].
#[derive(Debug)]
pub struct BundleWriter {
    prefix: PathBuf,
    data_path: PathBuf,
    data: BufWriter<File>,
    offset: u64,
    entries: Vec<(String, BundleEntryProto)>,
}

impl BundleWriter {
    /// Creates the data shard of a bundle with the given prefix.
    pub fn create(prefix: &Path) -> Result<BundleWriter> {
        let data_path = with_suffix(prefix, ".data-00000-of-00001");
        let file = File::create(&data_path).map_err(|e| Error::io(&data_path, e))?;
        Ok(BundleWriter {
            prefix: prefix.to_path_buf(),
            data_path,
            data: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            entries: Vec::new(),
        })
    }

    /// Appends one tensor under `key`; `done` is told the bytes written.
    pub fn add(&mut self, key: &str, tensor: &Tensor, mut done: impl FnMut(u64)) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid("tensor bundle: the empty key is reserved for the header"));
        }
        let dtype = crate::dtype::from_ir(tensor.dtype())
            .filter(|_| tensor.dtype() != ir::DType::String)
            .ok_or_else(|| Error::invalid(format!("tensor bundle: '{key}': {} cannot be stored", tensor.dtype())))?;
        let raw =
            tensor.raw().ok_or_else(|| Error::invalid(format!("tensor bundle: '{key}': tensor has no raw bytes")))?;
        let bytes = raw.as_bytes();
        let mut crc = 0;
        // Chunks keep the CRC pass and the write over the same cached pages.
        for chunk in bytes.chunks(1 << 20) {
            crc = crc32c::extend(crc, chunk);
            self.data.write_all(chunk).map_err(|e| Error::io(&self.data_path, e))?;
            done(chunk.len() as u64);
        }
        let entry = BundleEntryProto {
            dtype,
            shape: Some(shape_proto(tensor.shape())),
            shard_id: 0,
            offset: self.offset as i64,
            size: bytes.len() as i64,
            crc32c: crc32c::mask(crc),
            slices: Vec::new(),
        };
        self.offset += bytes.len() as u64;
        self.entries.push((key.to_string(), entry));
        Ok(())
    }

    /// Flushes the shard and writes the index; returns both files with sizes.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, u64)>> {
        self.data.flush().map_err(|e| Error::io(&self.data_path, e))?;
        self.data.get_ref().sync_all().map_err(|e| Error::io(&self.data_path, e))?;
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = self.entries.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(Error::invalid(format!("tensor bundle: key '{}' written twice", pair[0].0)));
        }
        let header = BundleHeaderProto {
            num_shards: 1,
            endianness: Endianness::Little as i32,
            version: Some(VersionDef { producer: 1, ..VersionDef::default() }),
        };
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = vec![(Vec::new(), header.encode_to_vec())];
        rows.extend(self.entries.iter().map(|(k, e)| (k.as_bytes().to_vec(), e.encode_to_vec())));
        let table = table_bytes(&rows);
        let index_path = with_suffix(&self.prefix, ".index");
        std::fs::write(&index_path, &table).map_err(|e| Error::io(&index_path, e))?;
        Ok(vec![(index_path, table.len() as u64), (self.data_path, self.offset)])
    }
}

/// A static shape as a `TensorShapeProto`.
pub(crate) fn shape_proto(dims: &[usize]) -> TensorShapeProto {
    TensorShapeProto {
        dim: dims.iter().map(|&d| tensor_shape_proto::Dim { size: d as i64, name: String::new() }).collect(),
        unknown_rank: false,
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Accumulates one block's entries with prefix compression and restarts.
struct Block {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    count: usize,
    last: Vec<u8>,
    interval: usize,
}

impl Block {
    fn new(interval: usize) -> Block {
        Block { buf: Vec::new(), restarts: Vec::new(), count: 0, last: Vec::new(), interval }
    }

    fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.count.is_multiple_of(self.interval) {
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            self.last.iter().zip(key).take_while(|(a, b)| a == b).count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last = key.to_vec();
        self.count += 1;
    }

    /// Appends the finished block and its trailer to `out`; returns its handle.
    fn finish(mut self, out: &mut Vec<u8>) -> (u64, u64) {
        if self.restarts.is_empty() {
            self.restarts.push(0);
        }
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        let handle = (out.len() as u64, self.buf.len() as u64);
        // Compression type 0 (none) is covered by the CRC.
        let crc = crc32c::mask(crc32c::extend(crc32c::crc32c(&self.buf), &[0]));
        out.extend_from_slice(&self.buf);
        out.push(0);
        out.extend_from_slice(&crc.to_le_bytes());
        handle
    }
}

/// The table of sorted `rows`.
fn table_bytes(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut index = Block::new(1);
    let mut block = Block::new(RESTART_INTERVAL);
    let handle_value = |h: (u64, u64)| {
        let mut v = Vec::new();
        put_varint(&mut v, h.0);
        put_varint(&mut v, h.1);
        v
    };
    for (i, (k, v)) in rows.iter().enumerate() {
        block.add(k, v);
        if block.buf.len() >= BLOCK_SIZE || i + 1 == rows.len() {
            let last = block.last.clone();
            let full = std::mem::replace(&mut block, Block::new(RESTART_INTERVAL));
            let h = full.finish(&mut out);
            // The last key of a block is a valid separator for the index.
            index.add(&last, &handle_value(h));
        }
    }
    let meta = Block::new(1).finish(&mut out);
    let ih = index.finish(&mut out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundle;

    #[test]
    fn written_bundles_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("variables");
        let mut w = BundleWriter::create(&prefix).unwrap();
        // Enough keys for several data blocks and restart points.
        let mut expected = Vec::new();
        for i in (0..300).rev() {
            let t = Tensor::from_vec(vec![2, 3], (0..6).map(|k| (i * 10 + k) as f32).collect::<Vec<_>>()).unwrap();
            let key = format!("layer_{i:03}/kernel/.ATTRIBUTES/VARIABLE_VALUE");
            w.add(&key, &t, |_| {}).unwrap();
            expected.push((key, t));
        }
        let files = w.finish().unwrap();
        assert_eq!(files[1].1, 300 * 24);
        let b = Bundle::open(&prefix).unwrap();
        assert_eq!(b.keys().count(), 300);
        for (k, t) in &expected {
            b.verify(k).unwrap();
            let got = b.get(k).unwrap();
            assert_eq!(got.shape(), t.shape());
            assert_eq!(got.as_slice::<f32>().unwrap(), t.as_slice::<f32>().unwrap());
        }
    }

    #[test]
    fn duplicate_keys_and_strings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BundleWriter::create(&dir.path().join("v")).unwrap();
        let t = Tensor::scalar(1.0f32);
        w.add("a", &t, |_| {}).unwrap();
        w.add("a", &t, |_| {}).unwrap();
        assert!(w.finish().unwrap_err().to_string().contains("written twice"));
        let mut w = BundleWriter::create(&dir.path().join("s")).unwrap();
        let s = Tensor::from_strings(vec![1], vec![b"x".to_vec()]).unwrap();
        assert!(w.add("s", &s, |_| {}).is_err());
        assert!(w.add("", &t, |_| {}).is_err());
    }
}
