//! PyTorch weights saved with `torch.save` (a `state_dict`), in the zip
//! format (torch ≥ 1.6) or the legacy one, read with the data-only pickle
//! reader; tensors are views into the mapped file.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use ir::{Buffer, Error, Limit, Limits, Result, Tensor};

use crate::archive::Archive;
use crate::pickle::{self, StorageRef, Value};
use crate::tensor::materialize;

/// The legacy format's first pickle.
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy format's protocol version (second pickle).
const LEGACY_PROTOCOL: i64 = 1001;

/// Every tensor of a `torch.save`d `state_dict` (zip or legacy format),
/// keyed by name in file order. Nested dicts (`{"model": {...}}`) and the
/// module tree of a `torch.jit.save` archive give dotted names
/// (`block.conv1.weight`); values other than tensors are skipped. Default
/// [`Limits`]; see [`read_state_dict_with`].
pub fn read_state_dict(path: &Path) -> Result<IndexMap<String, Tensor>> {
    read_state_dict_with(path, &Limits::default())
}

/// [`read_state_dict`] under `limits` (archive entries, storages and
/// tensors against `max_tensors`, inflated bytes, pickle nesting against
/// `max_depth`).
pub fn read_state_dict_with(path: &Path, limits: &Limits) -> Result<IndexMap<String, Tensor>> {
    let map = Buffer::map_file(path)?;
    if map.starts_with(b"PK") {
        let archive = Archive::from_buffer(path, map, limits)?;
        read_zip(&archive, limits)
    } else {
        read_legacy(path, &map, limits)
    }
}

fn unpickle(path: &Path, what: &str, data: &[u8], limits: &Limits) -> Result<(Value, usize)> {
    pickle::read(data, limits).map_err(|m| Error::malformed(path, format!("{what}: {m}")))
}

fn read_zip(archive: &Archive, limits: &Limits) -> Result<IndexMap<String, Tensor>> {
    let path = archive.path();
    if archive.contains("byteorder") && archive.read_text("byteorder")?.trim() != "little" {
        return Err(Error::malformed(path, "big-endian storages are not read"));
    }
    let (root, _) = unpickle(path, "data.pkl", &archive.read("data.pkl")?, limits)?;
    let mut out = IndexMap::new();
    let mut c = Collector { path, limits, out: &mut out };
    c.collect("", &root, &mut |s: &StorageRef| archive.read(&format!("data/{}", s.key)))?;
    Ok(out)
}

/// Where [`Collector::collect`] puts the tensors it finds.
struct Collector<'a> {
    path: &'a Path,
    limits: &'a Limits,
    out: &'a mut IndexMap<String, Tensor>,
}

impl Collector<'_> {
    /// Adds every tensor under `v`, named by its dotted key path. The
    /// recursion follows the pickled value, whose depth the pickle reader
    /// bounded.
    fn collect(
        &mut self,
        prefix: &str,
        v: &Value,
        storage: &mut dyn FnMut(&StorageRef) -> Result<Buffer>,
    ) -> Result<()> {
        match v {
            Value::Dict(pairs) => {
                for (k, v) in pairs {
                    let k = match k {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        _ => continue,
                    };
                    let name = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                    self.collect(&name, v, storage)?;
                }
            }
            Value::Tensor(t) => {
                let n = self.out.len().saturating_add(1) as u64;
                self.limits.check(
                    Limit::Tensors,
                    n,
                    self.path,
                    &format!("state_dict of more than {} tensors", n - 1),
                )?;
                let bytes = storage(&t.storage)?;
                self.out.insert(prefix.to_string(), materialize(t, &bytes, self.path, self.limits)?);
            }
            // A TorchScript module (`torch.jit.save`): its attributes, named by path.
            Value::Object { state, .. } => self.collect(prefix, state, storage)?,
            _ => {}
        }
        Ok(())
    }
}

fn storages(v: &Value, out: &mut HashMap<String, StorageRef>) {
    match v {
        Value::Tensor(t) => {
            out.insert(t.storage.key.clone(), t.storage.clone());
        }
        Value::Storage(s) => {
            out.insert(s.key.clone(), s.clone());
        }
        Value::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
            storages(k, out);
            storages(v, out);
        }),
        Value::Tuple(v) | Value::List(v) => v.iter().for_each(|v| storages(v, out)),
        Value::Object { state, .. } => storages(state, out),
        _ => {}
    }
}

/// The pre-1.6 format: pickles of the magic number, the protocol version,
/// system info and the object, then a pickled list of storage keys, then
/// each storage as an `i64` element count followed by its raw bytes.
fn read_legacy(path: &Path, map: &Buffer, limits: &Limits) -> Result<IndexMap<String, Tensor>> {
    let bad = |m: String| Error::malformed(path, m);
    let mut pos = 0usize;
    let mut next = |what: &str| -> Result<Value> {
        let rest = map.get(pos..).ok_or_else(|| bad(format!("{what}: truncated file")))?;
        let (v, n) = unpickle(path, what, rest, limits)?;
        pos = pos.saturating_add(n);
        Ok(v)
    };
    if next("magic number").ok() != Some(Value::BigInt(LEGACY_MAGIC)) {
        return Err(bad("not a torch.save file (neither a zip archive nor the legacy magic number)".into()));
    }
    match next("protocol version")? {
        Value::Int(LEGACY_PROTOCOL) => {}
        v => return Err(bad(format!("legacy torch.save protocol {v:?} (read: {LEGACY_PROTOCOL})"))),
    }
    let info = next("system info")?;
    if info.get("little_endian") == Some(&Value::Bool(false)) {
        return Err(bad("big-endian storages are not read".into()));
    }
    let root = next("saved object")?;
    let keys = next("storage keys")?;
    let mut refs = HashMap::new();
    storages(&root, &mut refs);
    let mut bytes: HashMap<String, Buffer> = HashMap::new();
    let keys = keys.items().ok_or_else(|| bad("storage key list is not a list".into()))?;
    limits.check(Limit::Tensors, keys.len() as u64, path, &format!("legacy file of {} storages", keys.len()))?;
    let mut pos = pos as u64;
    for key in keys {
        let key = key.as_str().ok_or_else(|| bad("a storage key is not a string".into()))?;
        let s = refs.get(key).ok_or_else(|| bad(format!("storage '{key}' is listed but no tensor uses it")))?;
        let count = map.slice_u64(pos, 8).map_err(|_| bad(format!("storage '{key}': truncated file")))?;
        let count: [u8; 8] =
            count.as_bytes().try_into().map_err(|_| bad(format!("storage '{key}': truncated file")))?;
        let count = i64::from_le_bytes(count);
        let numel = u64::try_from(count).map_err(|_| bad(format!("storage '{key}' has negative size {count}")))?;
        if numel != s.numel {
            return Err(bad(format!("storage '{key}' holds {numel} elements, its tensors say {}", s.numel)));
        }
        let len = s.ty.dtype.byte_len(numel).ok_or_else(|| bad(format!("storage '{key}': size overflows")))?;
        let at = pos.saturating_add(8);
        let data = map.slice_u64(at, len).map_err(|_| {
            bad(format!("storage '{key}' needs {len} bytes at offset {at}, past the end of the file (truncated?)"))
        })?;
        pos = at.saturating_add(len);
        bytes.insert(key.to_string(), data);
    }
    let mut out = IndexMap::new();
    let mut c = Collector { path, limits, out: &mut out };
    c.collect("", &root, &mut |s: &StorageRef| {
        bytes.get(&s.key).cloned().ok_or_else(|| bad(format!("storage '{}' is not in the file", s.key)))
    })?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn fixture(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torchscript").join(p)
    }

    #[test]
    fn zip_and_legacy_state_dicts_agree() {
        let zip = read_state_dict(&fixture("state_dict/weights.pt")).unwrap();
        let legacy = read_state_dict(&fixture("state_dict_legacy/weights.pt")).unwrap();
        let names: Vec<&str> = zip.keys().map(String::as_str).collect();
        assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
        assert_eq!(zip["fc1.weight"].shape(), &[10, 6]);
        assert_eq!(zip, legacy);
        // Zero-copy: the zip's storages are views into the mapped file.
        assert!(format!("{:?}", zip["fc1.weight"].raw().unwrap()).contains("mapped"));
    }

    #[test]
    fn a_torchscript_archive_gives_its_parameters_by_path() {
        let w = read_state_dict(&fixture("cnn_traced/model.pt")).unwrap();
        assert_eq!(w["block.conv1.weight"].shape(), &[8, 8, 3, 3]);
        assert_eq!(w["bn.running_var"].shape(), &[8]);
        assert_eq!(w["fc.bias"].shape(), &[5]);
    }

    #[test]
    fn not_a_torch_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.pt");
        std::fs::write(&p, b"\x80\x02K\x01.").unwrap();
        let e = read_state_dict(&p).unwrap_err().to_string();
        assert!(e.contains("not a torch.save file"), "{e}");
        // A legacy file cut inside its storages.
        let bytes = std::fs::read(fixture("state_dict_legacy/weights.pt")).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
        let e = read_state_dict(&p).unwrap_err().to_string();
        assert!(e.contains("past the end of the file"), "{e}");
    }
}
