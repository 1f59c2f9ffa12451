//! TensorFlow's tensor bundle (checkpoint V2): `<prefix>.index`, a sorted
//! table of `BundleEntryProto`s, and `<prefix>.data-NNNNN-of-MMMMM` shards
//! holding the raw bytes.
//!
//! The index is mapped and read whole (it is small); the shards are
//! memory-mapped and [`Bundle::get`] returns tensors that are views into
//! them. Every file is resolved inside the model's folder (a symlinked shard
//! may not lead out of it), and every entry's size is checked against its
//! shape and dtype, and its offset and size against its shard.

pub mod crc32c;
pub mod table;
#[allow(clippy::indexing_slicing)] // The writer indexes the bytes it builds, never file data.
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use ir::{Buffer, DType, Error, Limit, Limits, Result, Tensor};
use prost::Message;

use crate::generated::tensorflow::{BundleEntryProto, BundleHeaderProto, bundle_header_proto::Endianness};
use crate::tensor::{concrete_dims, content_len, from_content, ir_dtype};

/// Shards a bundle may declare; a larger count is a damaged header.
const MAX_SHARDS: i32 = 100_000;

/// An opened tensor bundle.
#[derive(Debug)]
pub struct Bundle {
    /// The index file (for error messages).
    index: PathBuf,
    /// Entries by key (the header under `""` is not among them).
    entries: BTreeMap<String, BundleEntryProto>,
    /// Each data shard, mapped, with its path.
    shards: Vec<(PathBuf, Buffer)>,
}

impl Bundle {
    /// Opens the bundle with the given prefix (`…/variables/variables`):
    /// reads and checks the index and maps every data shard. The files are
    /// confined to the prefix's folder, with the default [`Limits`].
    pub fn open(prefix: &Path) -> Result<Bundle> {
        let dir = ir::io::parent_dir(prefix);
        let name = prefix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Bundle::open_in(dir, &name, &Limits::default())
    }

    /// Opens the bundle `dir/prefix` (`prefix` relative, e.g.
    /// `variables/variables`), refusing files that resolve outside `dir`
    /// (through `..` or a symbolic link) and indexes of more than
    /// `limits.max_tensors` entries.
    pub fn open_in(dir: &Path, prefix: &str, limits: &Limits) -> Result<Bundle> {
        let inside = |file: String| {
            ir::io::resolve_inside(dir, &file).map_err(|e| Error::malformed(dir.join(&file), e.to_string()))
        };
        let index = inside(format!("{prefix}.index"))?;
        // Mapped, not read: the file's size is not a reason to allocate.
        let data = Buffer::map_file(&index)?;
        let bad = |m: String| Error::malformed(&index, m);
        let rows = table::read(data.as_bytes(), limits.max_tensors.saturating_add(1)).map_err(|e| match e {
            table::ReadError::TooMany(_) => bad(limits.message(Limit::Tensors, "checkpoint entries")),
            table::ReadError::Bad(m) => bad(m),
        })?;
        let mut rows = rows.into_iter();
        let header = match rows.next() {
            Some(first) if first.key.is_empty() => BundleHeaderProto::decode(first.value.as_slice())
                .map_err(|e| bad(format!("bundle header does not decode: {e}")))?,
            _ => return Err(bad("no bundle header under the empty key".into())),
        };
        if header.endianness != Endianness::Little as i32 {
            return Err(bad("big-endian bundles are not supported".into()));
        }
        if !(1..=MAX_SHARDS).contains(&header.num_shards) {
            return Err(bad(format!("bundle header declares {} shards", header.num_shards)));
        }
        let mut entries = BTreeMap::new();
        for row in rows {
            let key = String::from_utf8(row.key).map_err(|_| bad("a key is not UTF-8".into()))?;
            let entry = BundleEntryProto::decode(row.value.as_slice())
                .map_err(|e| bad(format!("entry '{key}' does not decode: {e}")))?;
            entries.insert(key, entry);
        }
        let n = header.num_shards;
        let shards = (0..n)
            .map(|i| {
                let path = inside(format!("{prefix}.data-{i:05}-of-{n:05}"))?;
                if !path.is_file() {
                    return Err(Error::malformed(&index, format!("data shard {} is missing", path.display())));
                }
                Ok((path.clone(), Buffer::map_file(&path)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bundle { index, entries, shards })
    }

    /// The index file's path.
    pub fn index_path(&self) -> &Path {
        &self.index
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The entry of `key`, if present.
    pub fn entry(&self, key: &str) -> Option<&BundleEntryProto> {
        self.entries.get(key)
    }

    /// The tensor under `key`: a view into its mapped shard (strings are
    /// decoded into a string tensor).
    pub fn get(&self, key: &str) -> Result<Tensor> {
        let index_err = |m: String| Error::malformed(&self.index, format!("key '{key}': {m}"));
        let entry = self.entries.get(key).ok_or_else(|| index_err("not in the checkpoint".into()))?;
        if !entry.slices.is_empty() {
            return Err(index_err("partitioned (sliced) variables are not supported".into()));
        }
        let dtype = ir_dtype(entry.dtype, "entry").map_err(index_err)?;
        let shape = concrete_dims(entry.shape.as_ref(), "entry").map_err(index_err)?;
        let numel =
            ir::checked_numel(&shape).ok_or_else(|| index_err(format!("shape {shape:?} has too many elements")))?;
        let (Ok(offset), Ok(size)) = (u64::try_from(entry.offset), u64::try_from(entry.size)) else {
            return Err(index_err(format!("negative offset {} or size {}", entry.offset, entry.size)));
        };
        // The entry's own fields must agree before its shard is touched.
        if dtype != DType::String {
            let expected = content_len(dtype, numel)
                .ok_or_else(|| index_err(format!("shape {shape:?} of {dtype} has too many bytes")))?;
            if expected != size {
                return Err(index_err(format!(
                    "shape {shape:?} of {dtype} needs {expected} bytes, the entry has {size}"
                )));
            }
        }
        let (path, shard) = usize::try_from(entry.shard_id)
            .ok()
            .and_then(|i| self.shards.get(i))
            .ok_or_else(|| index_err(format!("shard {} does not exist", entry.shard_id)))?;
        let shard_err = |m: String| Error::malformed(path, format!("key '{key}': {m}"));
        let bytes = shard.slice_u64(offset, size).map_err(|_| {
            shard_err(format!(
                "bytes {offset}..{} are past the end of the {}-byte file",
                offset.saturating_add(size),
                shard.len()
            ))
        })?;
        if dtype == DType::String {
            return string_tensor(shape, numel, &bytes).map_err(shard_err);
        }
        from_content(dtype, shape, numel, bytes).map_err(shard_err)
    }
}

impl Bundle {
    /// Checks the stored CRC-32C of `key`'s bytes. [`Bundle::get`] does not,
    /// since that would read every weight; call this when the cost is fine.
    /// String entries, which TensorFlow checksums over their length
    /// encoding rather than their bytes, are refused.
    pub fn verify(&self, key: &str) -> Result<()> {
        let entry = self
            .entries
            .get(key)
            .ok_or_else(|| Error::malformed(&self.index, format!("key '{key}': not in the checkpoint")))?;
        if crate::dtype::to_ir(entry.dtype) == Some(DType::String) {
            return Err(Error::invalid(format!("key '{key}': CRC checks of string entries are not supported")));
        }
        let (path, shard) = usize::try_from(entry.shard_id).ok().and_then(|i| self.shards.get(i)).ok_or_else(|| {
            Error::malformed(&self.index, format!("key '{key}': shard {} does not exist", entry.shard_id))
        })?;
        let (Ok(offset), Ok(size)) = (u64::try_from(entry.offset), u64::try_from(entry.size)) else {
            return Err(Error::malformed(&self.index, format!("key '{key}': negative offset or size")));
        };
        let bytes = shard.slice_u64(offset, size).map_err(|_| {
            Error::malformed(
                path,
                format!("key '{key}': bytes {offset}..{} are past the end", offset.saturating_add(size)),
            )
        })?;
        let actual = crc32c::mask(crc32c::crc32c(&bytes));
        if actual != entry.crc32c {
            return Err(Error::malformed(
                path,
                format!("key '{key}': bad CRC: stored {:#010x}, computed {actual:#010x}", entry.crc32c),
            ));
        }
        Ok(())
    }
}

/// A string tensor as the bundle stores it: one varint64 length per
/// element, a 4-byte checksum of the lengths, then the bytes.
fn string_tensor(shape: Vec<usize>, numel: u64, data: &[u8]) -> std::result::Result<Tensor, String> {
    // Each element needs at least one length byte: a cheap bound before allocating.
    if numel > data.len() as u64 {
        return Err(format!("{numel} strings cannot fit in {} bytes", data.len()));
    }
    let mut pos = 0;
    let lens = (0..numel).map(|_| table::varint(data, &mut pos)).collect::<std::result::Result<Vec<_>, _>>()?;
    let (_, mut rest) = pos
        .checked_add(4)
        .and_then(|start| data.split_at_checked(start))
        .ok_or_else(|| "the string lengths' checksum runs past the entry".to_string())?;
    let mut out = Vec::with_capacity(lens.len());
    for len in lens {
        let Some((s, tail)) = usize::try_from(len).ok().and_then(|l| rest.split_at_checked(l)) else {
            return Err("string data runs past the entry".into());
        };
        out.push(s.to_vec());
        rest = tail;
    }
    Tensor::from_strings(shape, out).map_err(|e| e.to_string())
}

/// The raw bytes of a string entry's single element (for the serialized
/// object graph under `_CHECKPOINTABLE_OBJECT_GRAPH`).
pub(crate) fn scalar_bytes(bundle: &Bundle, key: &str) -> Result<Bytes> {
    let t = bundle.get(key)?;
    match t.strings().ok().and_then(|s| s.first()) {
        Some(s) if t.numel() == 1 => Ok(Bytes::copy_from_slice(s)),
        _ => Err(Error::malformed(&bundle.index, format!("key '{key}' is not a scalar string"))),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::generated::tensorflow::{TensorShapeProto, tensor_shape_proto::Dim};

    /// `prefix` with `suffix` appended to its file name.
    fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
        let mut s = prefix.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    fn entry(dtype: i32, dims: &[i64], offset: i64, size: i64) -> Vec<u8> {
        let shape = TensorShapeProto {
            dim: dims.iter().map(|&size| Dim { size, name: String::new() }).collect(),
            unknown_rank: false,
        };
        BundleEntryProto { dtype, shape: Some(shape), shard_id: 0, offset, size, ..Default::default() }.encode_to_vec()
    }

    /// A bundle in `dir` with a float entry, a string entry and an entry past the shard's end.
    fn write(dir: &Path) -> PathBuf {
        let header = BundleHeaderProto { num_shards: 1, ..Default::default() }.encode_to_vec();
        let mut data: Vec<u8> = [1.5f32, -2.0, 3.25].iter().flat_map(|f| f.to_le_bytes()).collect();
        data.extend_from_slice(&[2, 1, 0, 0, 0, 0]); // two lengths, checksum
        data.extend_from_slice(b"hix");
        let floats = entry(1, &[3], 0, 12);
        let strings = entry(7, &[2], 12, 9);
        let past = entry(1, &[2], 16, 8);
        let rows: Vec<(&[u8], &[u8])> = vec![(b"", &header), (b"a/w", &floats), (b"b/s", &strings), (b"c/past", &past)];
        let prefix = dir.join("variables");
        std::fs::write(with_suffix(&prefix, ".index"), table::tests::make_table(&rows)).unwrap();
        std::fs::write(with_suffix(&prefix, ".data-00000-of-00001"), data).unwrap();
        prefix
    }

    #[test]
    fn views_strings_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = write(dir.path());
        let b = Bundle::open(&prefix).unwrap();
        assert_eq!(b.keys().collect::<Vec<_>>(), ["a/w", "b/s", "c/past"]);
        let w = b.get("a/w").unwrap();
        assert_eq!(&*w.as_slice::<f32>().unwrap(), &[1.5, -2.0, 3.25]);
        assert!(format!("{:?}", w.raw().unwrap()).contains("mapped"));
        assert_eq!(b.get("b/s").unwrap().strings().unwrap(), &[b"hi".to_vec(), b"x".to_vec()]);
        let past = b.get("c/past").unwrap_err().to_string();
        assert!(past.contains("variables.data-00000-of-00001: key 'c/past': bytes 16..24 are past the end"), "{past}");
        assert!(b.get("nope").unwrap_err().to_string().contains("not in the checkpoint"));

        std::fs::remove_file(with_suffix(&prefix, ".data-00000-of-00001")).unwrap();
        let missing = Bundle::open(&prefix).unwrap_err().to_string();
        assert!(missing.contains("variables.index: data shard") && missing.ends_with("is missing"), "{missing}");
    }
}
