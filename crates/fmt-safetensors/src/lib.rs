//! safetensors for the IR.
//!
//! safetensors holds named tensors and no graph: a u64 little-endian header
//! length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__":
//! {..}}` padded with spaces to a multiple of 8, then the data, contiguous.
//! This crate
//! - exports a model's weights (main-graph initializers), streaming them from
//!   their buffers, sharded past a size limit with a
//!   `model.safetensors.index.json` as the Hugging Face convention does;
//! - imports a file (or an index of shards) as a weights-only model whose
//!   initializers are zero-copy views into the mapped files;
//! - loads weights into an existing graph by name ([`apply_weights`]), with
//!   a report of missing, unused and mismatched names.

#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use ir::{
    Buffer, DType, Detection, Error, ExportOptions, ExportReport, FormatInfo, Graph, ImportOptions, Limit, Limits,
    Model, Registry, Result, Tensor,
};
use safetensors::{Dtype, SafeTensors};

/// The format's facts.
pub const INFO: FormatInfo = FormatInfo {
    name: "safetensors",
    description: "safetensors weights (.safetensors, or a sharded model.safetensors.index.json)",
    extensions: &["safetensors"],
};

/// Default shard size limit: 5 GB, as `transformers` writes.
pub const DEFAULT_SHARD_BYTES: u64 = 5_000_000_000;

/// Registers the importer and exporter.
pub fn register(registry: &mut Registry) {
    registry.add_importer(SafetensorsFormat);
    registry.add_exporter(SafetensorsFormat);
}

/// Reads and writes safetensors.
#[derive(Debug, Default, Clone, Copy)]
pub struct SafetensorsFormat;

fn to_st(d: DType) -> Option<Dtype> {
    Some(match d {
        DType::Bool => Dtype::BOOL,
        DType::U8 => Dtype::U8,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::U16 => Dtype::U16,
        DType::I32 => Dtype::I32,
        DType::U32 => Dtype::U32,
        DType::I64 => Dtype::I64,
        DType::U64 => Dtype::U64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::F8E4M3FN => Dtype::F8_E4M3,
        DType::F8E5M2 => Dtype::F8_E5M2,
        DType::F8E4M3FNUZ => Dtype::F8_E4M3FNUZ,
        DType::F8E5M2FNUZ => Dtype::F8_E5M2FNUZ,
        DType::F8E8M0 => Dtype::F8_E8M0,
        DType::F4E2M1 => Dtype::F4,
        DType::F6E2M3 => Dtype::F6_E2M3,
        DType::F6E3M2 => Dtype::F6_E3M2,
        DType::C64 => Dtype::C64,
        DType::I4 | DType::U4 | DType::I2 | DType::U2 | DType::C128 | DType::String => return None,
    })
}

fn from_st(d: Dtype) -> Option<DType> {
    DType::ALL.into_iter().find(|&x| to_st(x) == Some(d))
}

fn st_name(d: Dtype) -> String {
    // The JSON spelling is the enum's name.
    format!("{d:?}")
}

// ---------------------------------------------------------------- import

/// Tensors of one `.safetensors` file, in file order, as views of the mapped file,
/// and its `__metadata__`.
pub fn read_file(path: &Path) -> Result<(IndexMap<String, Tensor>, BTreeMap<String, String>)> {
    read_file_with(path, &Limits::default())
}

/// [`read_file`] with at most `limits.max_tensors` tensors.
///
/// The `safetensors` crate checks the header (its length against the file
/// and its own 100 MB cap, dtypes, shape products, offsets contiguous and
/// inside the data section) before anything here reads a tensor.
pub fn read_file_with(path: &Path, limits: &Limits) -> Result<(IndexMap<String, Tensor>, BTreeMap<String, String>)> {
    let buf = Buffer::map_file(path)?;
    let bad = |m: String| Error::malformed(path, m);
    let st = SafeTensors::deserialize(&buf).map_err(|e| {
        let why = diagnose(&buf).unwrap_or_else(|| e.to_string());
        bad(format!("not a valid safetensors file: {why}"))
    })?;
    limits.check(Limit::Tensors, st.len() as u64, path, "header entries")?;
    let (_, meta) = SafeTensors::read_metadata(&buf).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let base = buf.as_ptr() as usize;
    let mut views: Vec<(usize, String, Tensor)> = Vec::new();
    for (name, view) in st.tensors() {
        let dtype = from_st(view.dtype())
            .ok_or_else(|| bad(format!("tensor '{name}': dtype {:?} is not supported", view.dtype())))?;
        // The view lies inside `buf` (the crate sliced it from there).
        let start = (view.data().as_ptr() as usize).wrapping_sub(base);
        let end = start.checked_add(view.data().len()).ok_or_else(|| bad(format!("tensor '{name}': bad offsets")))?;
        let data = buf.slice(start..end)?;
        let t =
            Tensor::from_raw(dtype, view.shape().to_vec(), data).map_err(|e| bad(format!("tensor '{name}': {e}")))?;
        views.push((start, name, t));
    }
    views.sort_by_key(|v| v.0);
    let metadata = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    Ok((views.into_iter().map(|(_, n, t)| (n, t)).collect(), metadata))
}

/// What exactly is wrong with the layout of a file the `safetensors` crate
/// refused, naming the tensor, where the crate's message is generic
/// ("invalid shape, data type, or offset for tensor"). `None` when nothing
/// here applies; the crate's message is used then. Runs only after a
/// refusal, so the crate's own caps (header size) have been applied.
fn diagnose(buf: &[u8]) -> Option<String> {
    let (len, rest) = buf.split_first_chunk::<8>()?;
    let n = u64::from_le_bytes(*len);
    let Some(header) = usize::try_from(n).ok().and_then(|n| rest.get(..n)) else {
        return Some(format!("header length {n} is past the end of the {}-byte file", buf.len()));
    };
    let data_len = (rest.len() - header.len()) as u64;
    let serde_json::Value::Object(map) = serde_json::from_slice(header).ok()? else { return None };
    let mut spans: Vec<(u64, u64, &str)> = Vec::new();
    for (name, v) in map.iter().filter(|(k, _)| *k != "__metadata__") {
        let dtype: Dtype = serde_json::from_value(v.get("dtype")?.clone()).ok()?;
        let shape: Vec<u64> = serde_json::from_value(v.get("shape")?.clone()).ok()?;
        let [begin, end]: [u64; 2] = serde_json::from_value(v.get("data_offsets")?.clone()).ok()?;
        if begin > end {
            return Some(format!("tensor '{name}': data_offsets [{begin}, {end}] are reversed"));
        }
        if end > data_len {
            return Some(format!(
                "tensor '{name}': data_offsets [{begin}, {end}] end past the {data_len}-byte data section"
            ));
        }
        let need = ir::checked_numel(&shape)
            .and_then(|numel| numel.checked_mul(dtype.bitsize() as u64))
            .map(|bits| bits.div_ceil(8));
        match need {
            None => return Some(format!("tensor '{name}': shape {shape:?} of {dtype:?} overflows")),
            Some(need) if need != end - begin => {
                return Some(format!(
                    "tensor '{name}': shape {shape:?} of {dtype:?} needs {need} bytes, data_offsets [{begin}, {end}] hold {}",
                    end - begin
                ));
            }
            Some(_) => spans.push((begin, end, name)),
        }
    }
    spans.sort_unstable();
    let mut at = 0u64;
    for (begin, end, name) in spans {
        if begin < at {
            return Some(format!("tensor '{name}' (data_offsets [{begin}, {end}]) overlaps the tensor before it"));
        }
        if begin > at {
            return Some(format!("tensor '{name}' starts at {begin}, leaving bytes {at}..{begin} unused"));
        }
        at = end;
    }
    (at != data_len).then(|| format!("{} bytes after the last tensor (data section of {data_len})", data_len - at))
}

/// The shard files of a `model.safetensors.index.json`, each confined to its
/// folder; the index names at most `limits.max_tensors` tensors.
fn index_shards(path: &Path, limits: &Limits) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::malformed(path, format!("not JSON: {e}")))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::malformed(path, "no \"weight_map\" object"))?;
    limits.check(Limit::Tensors, map.len() as u64, path, "weight_map entries")?;
    let dir = ir::io::parent_dir(path);
    let mut files: Vec<PathBuf> = Vec::new();
    for (name, file) in map {
        let file =
            file.as_str().ok_or_else(|| Error::malformed(path, format!("weight_map['{name}'] is not a string")))?;
        let p = ir::io::resolve_inside(dir, file)
            .map_err(|e| Error::malformed(path, format!("weight_map['{name}']: {e}")))?;
        if !files.contains(&p) {
            files.push(p);
        }
    }
    Ok(files)
}

/// All weights of a `.safetensors` file or a sharded `*.safetensors.index.json`.
pub fn read_weights(path: &Path) -> Result<(IndexMap<String, Tensor>, BTreeMap<String, String>)> {
    read_weights_with(path, &Limits::default())
}

/// [`read_weights`] with at most `limits.max_tensors` tensors in all.
pub fn read_weights_with(path: &Path, limits: &Limits) -> Result<(IndexMap<String, Tensor>, BTreeMap<String, String>)> {
    if path.to_string_lossy().ends_with(".json") {
        let mut all = IndexMap::new();
        let mut metadata = BTreeMap::new();
        for shard in index_shards(path, limits)? {
            let (tensors, meta) = read_file_with(&shard, limits)?;
            limits.check(Limit::Tensors, (all.len() + tensors.len()) as u64, &shard, "tensors of the shards")?;
            metadata.extend(meta);
            for (name, t) in tensors {
                if all.insert(name.clone(), t).is_some() {
                    return Err(Error::malformed(&shard, format!("tensor '{name}' appears in two shards")));
                }
            }
        }
        Ok((all, metadata))
    } else {
        read_file_with(path, limits)
    }
}

impl ir::Importer for SafetensorsFormat {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn detect(&self, path: &Path) -> Detection {
        let name = path.to_string_lossy();
        if name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json") {
            Detection::Name
        } else {
            Detection::No
        }
    }

    /// A weights-only model: initializers, no nodes.
    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model> {
        let (initializers, metadata) = read_weights_with(path, &options.limits)?;
        let mut m = Model::new(Graph { name: "weights".into(), initializers, ..Graph::default() });
        m.metadata = metadata.into_iter().collect();
        Ok(m)
    }
}

// ---------------------------------------------------------------- weights into a graph

/// What [`apply_weights`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightsReport {
    /// Initializers replaced.
    pub replaced: usize,
    /// Graph initializers the file has no tensor for (kept as they were).
    pub missing: Vec<String>,
    /// File tensors the graph has no initializer for (ignored).
    pub unused: Vec<String>,
    /// Names present in both with different dtype or shape: (name, graph's, file's).
    pub mismatched: Vec<(String, String, String)>,
}

impl WeightsReport {
    /// One line per kind of problem, and a count of what was loaded.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![format!("{} weights loaded", self.replaced)];
        if !self.missing.is_empty() {
            v.push(format!("{} graph weights not in the file (kept): {}", self.missing.len(), self.missing.join(", ")));
        }
        if !self.unused.is_empty() {
            v.push(format!(
                "{} file tensors not in the graph (ignored): {}",
                self.unused.len(),
                self.unused.join(", ")
            ));
        }
        for (n, g, f) in &self.mismatched {
            v.push(format!("'{n}': graph has {g}, file has {f}"));
        }
        v
    }
}

fn describe(t: &Tensor) -> String {
    format!("{}{:?}", t.dtype(), t.shape())
}

/// Replaces the main graph's initializers with the same-named tensors of
/// `weights`. A dtype or shape mismatch is an error listing every one; names
/// only on one side are reported.
pub fn apply_weights(graph: &mut Graph, weights: IndexMap<String, Tensor>) -> Result<WeightsReport> {
    let mut r = WeightsReport::default();
    for (name, t) in &weights {
        match graph.initializers.get(name) {
            Some(g) if g.dtype() != t.dtype() || g.shape() != t.shape() => {
                r.mismatched.push((name.clone(), describe(g), describe(t)))
            }
            Some(_) => {}
            None => r.unused.push(name.clone()),
        }
    }
    r.missing = graph.initializers.keys().filter(|k| !weights.contains_key(*k)).cloned().collect();
    if !r.mismatched.is_empty() {
        return Err(Error::invalid(format!(
            "{} weight(s) do not match the graph: {}",
            r.mismatched.len(),
            r.mismatched.iter().map(|(n, g, f)| format!("'{n}' graph {g} vs file {f}")).collect::<Vec<_>>().join(", ")
        )));
    }
    for (name, t) in weights {
        if let Some(slot) = graph.initializers.get_mut(&name) {
            *slot = t;
            r.replaced += 1;
        }
    }
    Ok(r)
}

// ---------------------------------------------------------------- export

fn header(tensors: &[(&String, &Tensor)], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut obj = serde_json::Map::new();
    if !metadata.is_empty() {
        obj.insert("__metadata__".into(), serde_json::to_value(metadata).expect("strings serialize"));
    }
    let mut offset = 0u64;
    for (name, t) in tensors {
        let n = t.byte_len() as u64;
        let dtype = to_st(t.dtype()).expect("checked before");
        obj.insert(
            (*name).clone(),
            serde_json::json!({"dtype": st_name(dtype), "shape": t.shape(), "data_offsets": [offset, offset + n]}),
        );
        offset += n;
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(obj)).expect("JSON serializes");
    // Pad to a multiple of 8 so the data section is aligned.
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    Ok(h)
}

fn write_shard(
    path: &Path,
    tensors: &[(&String, &Tensor)],
    metadata: &BTreeMap<String, String>,
    opts: &ExportOptions,
) -> Result<ir::io::AtomicFile> {
    let h = header(tensors, metadata)?;
    let mut f = ir::io::AtomicFile::create(path)?;
    let io = |e: std::io::Error| Error::io(path, e);
    f.write_all(&(h.len() as u64).to_le_bytes()).map_err(io)?;
    f.write_all(&h).map_err(io)?;
    for (_, t) in tensors {
        let raw = t.raw().expect("checked before");
        opts.progress.check_cancelled(path)?;
        f.write_buffer(raw, |n| opts.progress.advance(n)).map_err(io)?;
    }
    Ok(f)
}

impl ir::Exporter for SafetensorsFormat {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn check(&self, model: &Model) -> Result<()> {
        let bad: Vec<String> = model
            .graph
            .initializers
            .iter()
            .filter(|(_, t)| to_st(t.dtype()).is_none())
            .map(|(n, t)| format!("'{n}' ({})", t.dtype()))
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!("safetensors cannot hold these tensors' dtypes: {}", bad.join(", "))))
        }
    }

    /// Writes the main graph's initializers; with `-O max-shard-size=BYTES`
    /// (default 5 GB) larger sets are split into `<stem>-0000k-of-0000n.safetensors`
    /// plus `<stem>.safetensors.index.json`.
    fn option_names(&self) -> &'static [&'static str] {
        &["max-shard-size"]
    }

    fn export(&self, model: &Model, path: &Path, opts: &ExportOptions) -> Result<ExportReport> {
        self.check(model)?;
        ir::check_format_options("safetensors", "-O", &opts.format_options, self.option_names())?;
        // The only key (any other was refused above).
        let limit = match opts.format_options.get("max-shard-size") {
            None => DEFAULT_SHARD_BYTES,
            Some(v) => v
                .parse()
                .map_err(|_| Error::usage(format!("safetensors option max-shard-size={v}: not a byte count")))?,
        };
        let mut metadata: BTreeMap<String, String> =
            model.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        metadata.entry("format".into()).or_insert_with(|| "pt".into());
        // safetensors has no sparse tensors: sparse initializers (ONNX
        // `sparse_initializer`, as `--prune-sparse` writes) are stored dense
        // rather than left out. Cloning a model shares its tensor buffers.
        let densified;
        let model = if model.graph.sparse_initializers.is_empty() {
            model
        } else {
            let mut m = model.clone();
            m.graph.densify_sparse_initializers()?;
            densified = m;
            &densified
        };
        let tensors: Vec<(&String, &Tensor)> = model.graph.initializers.iter().collect();
        let total: u64 = tensors.iter().map(|t| t.1.byte_len() as u64).sum();
        opts.progress.begin(&format!("writing {}", path.display()), total);

        // Greedy shards in file order; a tensor larger than the limit gets its own shard.
        let mut shards: Vec<Vec<(&String, &Tensor)>> = vec![vec![]];
        let mut size = 0u64;
        for t in tensors {
            let n = t.1.byte_len() as u64;
            if size > 0 && size + n > limit {
                shards.push(vec![]);
                size = 0;
            }
            shards.last_mut().expect("never empty").push(t);
            size += n;
        }
        let files = if let [only] = shards.as_slice() {
            vec![write_shard(path, only, &metadata, opts)?]
        } else {
            let dir = ir::io::parent_dir(path);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
            let n = shards.len();
            let mut files = Vec::new();
            let mut weight_map = serde_json::Map::new();
            for (i, shard) in shards.iter().enumerate() {
                let name = format!("{stem}-{:05}-of-{n:05}.safetensors", i + 1);
                for (t, _) in shard {
                    weight_map.insert((*t).clone(), serde_json::Value::String(name.clone()));
                }
                files.push(write_shard(&dir.join(&name), shard, &metadata, opts)?);
            }
            let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": weight_map});
            let index_path = dir.join(format!("{stem}.safetensors.index.json"));
            let mut f = ir::io::AtomicFile::create(&index_path)?;
            f.write_all(&serde_json::to_vec_pretty(&index).expect("JSON serializes"))
                .map_err(|e| Error::io(&index_path, e))?;
            files.push(f);
            files
        };
        let targets: Vec<PathBuf> = files.iter().map(|f| f.target().to_path_buf()).collect();
        let sizes = ir::io::commit_all(files)?;
        opts.progress.end();
        let mut report = ExportReport { files: targets.into_iter().zip(sizes).collect() };
        if report.files.len() > 1 {
            report.files.rotate_right(1); // the index first: it is what users open
        }
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ir::{Exporter, Importer};

    fn model() -> Model {
        let mut g = Graph::default();
        g.initializers.insert("a.weight".into(), Tensor::from_vec(vec![2, 3], vec![1f32, 2., 3., 4., 5., 6.]).unwrap());
        g.initializers.insert("b.bias".into(), Tensor::from_vec(vec![3], vec![7i64, 8, 9]).unwrap());
        g.initializers.insert("c.half".into(), Tensor::from_vec(vec![1], vec![ir::f16::from_f32(0.5)]).unwrap());
        Model::new(g)
    }

    #[test]
    fn single_file_round_trip_is_zero_copy() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("w.safetensors");
        let rep = SafetensorsFormat.export(&model(), &p, &ExportOptions::default()).unwrap();
        assert_eq!(rep.files.len(), 1);
        let back = SafetensorsFormat.import(&p, &ImportOptions::default()).unwrap();
        assert_eq!(back.graph.initializers, model().graph.initializers);
        assert_eq!(back.metadata.get("format").map(String::as_str), Some("pt"));
        // The header is padded so data starts 8-byte aligned.
        let bytes = std::fs::read(&p).unwrap();
        let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(hlen % 8, 0);
    }

    /// A sparse initializer (what `--prune-sparse` writes to ONNX) is stored
    /// dense, not left out.
    #[test]
    fn sparse_initializers_are_written_dense() {
        let mut m = model();
        let sparse = ir::SparseTensor {
            values: Tensor::from_vec(vec![2], vec![1.5f32, -2.0]).unwrap(),
            indices: Tensor::from_vec(vec![2], vec![1i64, 3]).unwrap(),
            dims: vec![2, 2],
        };
        m.graph.sparse_initializers.insert("d.pruned".into(), sparse);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("w.safetensors");
        SafetensorsFormat.export(&m, &p, &ExportOptions::default()).unwrap();
        let back = SafetensorsFormat.import(&p, &ImportOptions::default()).unwrap();
        assert_eq!(back.graph.initializers.len(), 4);
        assert_eq!(&*back.graph.initializers["d.pruned"].as_slice::<f32>().unwrap(), &[0.0, 1.5, 0.0, -2.0]);
    }

    #[test]
    fn sharded_export_writes_an_index_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("model.safetensors");
        let mut opts = ExportOptions::default();
        opts.format_options.insert("max-shard-size".into(), "24".into());
        let rep = SafetensorsFormat.export(&model(), &p, &opts).unwrap();
        let names: Vec<String> =
            rep.files.iter().map(|f| f.0.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "model.safetensors.index.json",
                "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors"
            ]
        );
        let index = d.path().join("model.safetensors.index.json");
        let back = SafetensorsFormat.import(&index, &ImportOptions::default()).unwrap();
        assert_eq!(back.graph.initializers, model().graph.initializers);
    }

    #[test]
    fn weights_apply_by_name_with_a_report() {
        let mut g = model().graph;
        let mut w = IndexMap::new();
        w.insert("a.weight".to_string(), Tensor::from_vec(vec![2, 3], vec![0f32; 6]).unwrap());
        w.insert("extra".to_string(), Tensor::scalar(1f32));
        let r = apply_weights(&mut g, w).unwrap();
        assert_eq!(r.replaced, 1);
        assert_eq!(r.missing, ["b.bias", "c.half"]);
        assert_eq!(r.unused, ["extra"]);
        assert_eq!(&*g.initializers["a.weight"].as_slice::<f32>().unwrap(), &[0f32; 6]);
        let mut w = IndexMap::new();
        w.insert("b.bias".to_string(), Tensor::from_vec(vec![2], vec![1i64, 2]).unwrap());
        let e = apply_weights(&mut g, w).unwrap_err().to_string();
        assert_eq!(e, "1 weight(s) do not match the graph: 'b.bias' graph i64[3] vs file i64[2]");
    }

    #[test]
    fn bad_files_are_named_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.safetensors");
        std::fs::write(&p, [0xffu8; 16]).unwrap();
        let e = SafetensorsFormat.import(&p, &ImportOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: not a valid safetensors file", p.display())), "{e}");
        let idx = d.path().join("m.safetensors.index.json");
        std::fs::write(&idx, r#"{"weight_map": {"w": "../x.safetensors"}}"#).unwrap();
        let e = SafetensorsFormat.import(&idx, &ImportOptions::default()).unwrap_err().to_string();
        assert!(e.contains("escapes the model's folder"), "{e}");
    }
}
