//! The two writers: a frozen GraphDef (weights inline as `Const`s) and a
//! SavedModel folder (weights as resource variables in a tensor bundle).
//!
//! The SavedModel is TF1-style, the form TF 2.21's `tf.saved_model.load`
//! accepts with the least machinery: one MetaGraph tagged `serve`, each
//! weight a `VarHandleOp` read by a `ReadVariableOp`, and a saver whose
//! restore op (`RestoreV2` + `AssignVariableOp`s) the loader runs with the
//! variables prefix fed into its filename tensor. The folder is written
//! under a temporary name beside the target and renamed at the end.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use ir::{DType, Error, ExportOptions, ExportReport, FormatInfo, Model, Result};
use prost::Message;

use super::{Built, Options, Port, build, dyn_shape_proto, shape_attr, str_attr, tensor, ty, types_attr};
use crate::bundle::write::BundleWriter;
use crate::generated::tensorflow::{
    AttrValue, GraphDef, MetaGraphDef, NodeDef, SavedModel, SaverDef, SignatureDef, TensorInfo, TensorProto,
    VersionDef, meta_graph_def::MetaInfoDef, tensor_info,
};

/// The GraphDef version written (TensorFlow 2.21's `GRAPH_DEF_VERSION`).
const PRODUCER: i32 = 2474;

/// Weights a frozen GraphDef can hold: protobuf messages end at 2 GiB, and
/// the graph's nodes need some of that.
const FROZEN_LIMIT: u64 = (2 << 30) - (64 << 20);

/// Writes frozen GraphDefs (`tf-frozen`).
#[derive(Debug, Default, Clone, Copy)]
pub struct FrozenExporter;

/// Writes SavedModel folders (`tf`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SavedModelExporter;

impl ir::Exporter for FrozenExporter {
    fn info(&self) -> FormatInfo {
        crate::FROZEN
    }

    fn check(&self, model: &Model) -> Result<()> {
        super::check(model)
    }

    fn option_names(&self) -> &'static [&'static str] {
        super::OPTION_NAMES
    }

    fn export(&self, model: &Model, path: &Path, options: &ExportOptions) -> Result<ExportReport> {
        let built = build(model, Options::from(options)?)?;
        let weight_bytes: u64 = built.weights.iter().map(|w| w.tensor.byte_len() as u64).sum();
        if weight_bytes > FROZEN_LIMIT {
            return Err(Error::invalid(format!(
                "{}: {weight_bytes} bytes of weights do not fit a frozen GraphDef (protobuf's 2 GiB limit); \
                 write a SavedModel (format tf) instead",
                path.display()
            )));
        }
        let graph = frozen_graph(built)?;
        // Building and encoding the graph are the long steps (every weight
        // is copied in); a cancel during them stops before the file exists.
        options.progress.check_cancelled(path)?;
        let bytes = graph.encode_to_vec();
        options.progress.check_cancelled(path)?;
        let mut file = ir::io::AtomicFile::create(path)?;
        file.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        let size = file.commit()?;
        Ok(ExportReport { files: vec![(path.to_path_buf(), size)] })
    }
}

/// The GraphDef with every weight inline.
fn frozen_graph(built: Built) -> Result<GraphDef> {
    let mut nodes = built.nodes;
    for w in &built.weights {
        let raw = w.tensor.raw().ok_or_else(|| Error::invalid("a weight has no raw bytes"))?;
        if let Some(AttrValue { value: Some(crate::generated::tensorflow::attr_value::Value::Tensor(t)) }) =
            nodes[w.node].attr.get_mut("value")
        {
            t.tensor_content = raw.to_bytes();
        }
    }
    Ok(GraphDef {
        node: nodes,
        versions: Some(VersionDef { producer: PRODUCER, ..VersionDef::default() }),
        library: library(built.library),
    })
}

impl ir::Exporter for SavedModelExporter {
    fn info(&self) -> FormatInfo {
        crate::SAVED_MODEL
    }

    fn check(&self, model: &Model) -> Result<()> {
        super::check(model)
    }

    fn option_names(&self) -> &'static [&'static str] {
        super::OPTION_NAMES
    }

    fn export(&self, model: &Model, path: &Path, options: &ExportOptions) -> Result<ExportReport> {
        let built = build(model, Options::from(options)?)?;
        let tmp = TempDir::create(path)?;
        let files = write_saved_model(built, &tmp.path, options)?;
        let files = files.into_iter().map(|(p, s)| (path.join(p.strip_prefix(&tmp.path).unwrap_or(&p)), s)).collect();
        tmp.commit(path)?;
        Ok(ExportReport { files })
    }
}

/// A folder being written beside its target; removed unless committed.
struct TempDir {
    path: PathBuf,
    done: bool,
}

impl TempDir {
    fn create(target: &Path) -> Result<TempDir> {
        let name =
            target.file_name().ok_or_else(|| Error::invalid(format!("{}: not a folder name", target.display())))?;
        let parent = ir::io::parent_dir(target);
        let path = parent.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        std::fs::create_dir_all(path.join("variables")).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir { path, done: false })
    }

    /// Renames the folder to `target`, replacing a previous SavedModel there.
    fn commit(mut self, target: &Path) -> Result<()> {
        let old = target.exists().then(|| {
            let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            ir::io::parent_dir(target).join(format!(".{name}.old-{}", std::process::id()))
        });
        if let Some(old) = &old {
            std::fs::rename(target, old).map_err(|e| Error::io(target, e))?;
        }
        if let Err(e) = std::fs::rename(&self.path, target) {
            if let Some(old) = &old {
                // Put the previous model back.
                let _ = std::fs::rename(old, target);
            }
            return Err(Error::io(target, e));
        }
        self.done = true;
        if let Some(old) = old {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn node(name: String, op: &str, input: Vec<String>, attrs: Vec<(&str, AttrValue)>) -> NodeDef {
    NodeDef {
        name,
        op: op.into(),
        input,
        device: String::new(),
        attr: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// A string constant (scalar if `shape` is empty).
fn string_const(name: String, values: Vec<Bytes>, shape: &[usize]) -> Result<NodeDef> {
    let proto = TensorProto {
        dtype: crate::dtype::from_ir(DType::String).unwrap_or(7),
        tensor_shape: Some(super::shape_proto(shape)),
        string_val: values,
        ..TensorProto::default()
    };
    Ok(node(name, "Const", vec![], vec![("dtype", ty(DType::String)?), ("value", tensor(proto))]))
}

/// A prefix no built node name starts with (`save`, `save_1`, ...).
fn free_prefix(nodes: &[NodeDef], base: &str) -> String {
    let taken = |p: &str| nodes.iter().any(|n| n.name == p || n.name.starts_with(&format!("{p}/")));
    let mut p = base.to_string();
    let mut k = 0;
    while taken(&p) {
        k += 1;
        p = format!("{base}_{k}");
    }
    p
}

fn write_saved_model(built: Built, dir: &Path, options: &ExportOptions) -> Result<Vec<(PathBuf, u64)>> {
    let Built { mut nodes, library: functions, weights, inputs, outputs } = built;
    let prefix = dir.join("variables").join("variables");
    let mut bundle = BundleWriter::create(&prefix)?;
    options.progress.begin("writing variables", weights.iter().map(|w| w.tensor.byte_len() as u64).sum());
    let save = free_prefix(&nodes, "save");
    let mut keys = Vec::new();
    let mut dtypes = Vec::new();
    let mut extra = Vec::new();
    for w in &weights {
        // Ctrl-C from the Python front or a caller's cancel: the temporary
        // folder is removed when this returns an error.
        options.progress.check_cancelled(dir)?;
        let n = &mut nodes[w.node];
        let name = n.name.clone();
        let dtype = w.tensor.dtype();
        bundle.add(&name, &w.tensor, |b| options.progress.advance(b))?;
        // The weight's node becomes the read; the handle takes a derived name.
        let handle = format!("{save}/var/{name}");
        let shape = shape_attr(super::shape_proto(w.tensor.shape()));
        extra.push(node(
            handle.clone(),
            "VarHandleOp",
            vec![],
            vec![
                ("dtype", ty(dtype)?),
                ("shape", shape),
                ("shared_name", str_attr(&name)),
                ("container", str_attr("")),
            ],
        ));
        *n = node(name.clone(), "ReadVariableOp", vec![handle], vec![("dtype", ty(dtype)?)]);
        keys.push(name);
        dtypes.push(dtype);
    }
    options.progress.end();
    let mut files = bundle.finish()?;
    // Handles first: a GraphDef may list nodes in any order, but readers like it topological.
    extra.append(&mut nodes);
    let mut nodes = extra;
    let saver = if keys.is_empty() {
        None
    } else {
        let filename = format!("{save}/filename");
        nodes.push(string_const(format!("{save}/Const"), vec![Bytes::from_static(b"model")], &[])?);
        nodes.push(node(
            filename.clone(),
            "PlaceholderWithDefault",
            vec![format!("{save}/Const")],
            vec![("dtype", ty(DType::String)?), ("shape", shape_attr(super::shape_proto(&[])))],
        ));
        let k = keys.len();
        nodes.push(string_const(
            format!("{save}/tensor_names"),
            keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect(),
            &[k],
        )?);
        nodes.push(string_const(format!("{save}/shape_and_slices"), vec![Bytes::new(); k], &[k])?);
        let restore = format!("{save}/RestoreV2");
        nodes.push(node(
            restore.clone(),
            "RestoreV2",
            vec![filename.clone(), format!("{save}/tensor_names"), format!("{save}/shape_and_slices")],
            vec![("dtypes", types_attr(&dtypes)?)],
        ));
        let mut deps = Vec::new();
        for (i, (key, d)) in keys.iter().zip(&dtypes).enumerate() {
            let assign = format!("{save}/Assign_{i}");
            nodes.push(node(
                assign.clone(),
                "AssignVariableOp",
                vec![format!("{save}/var/{key}"), format!("{restore}:{i}")],
                vec![("dtype", ty(*d)?)],
            ));
            deps.push(format!("^{assign}"));
        }
        nodes.push(node(format!("{save}/restore_all"), "NoOp", deps, vec![]));
        Some(SaverDef {
            filename_tensor_name: format!("{filename}:0"),
            // Saving is not supported: the filename stands in for the save tensor the loader checks exists.
            save_tensor_name: format!("{filename}:0"),
            restore_op_name: format!("{save}/restore_all"),
            max_to_keep: 5,
            sharded: false,
            version: 2,
        })
    };
    let info = |p: &Port| TensorInfo {
        dtype: crate::dtype::from_ir(p.dtype).unwrap_or(1),
        tensor_shape: Some(match &p.dims {
            Some(d) => dyn_shape_proto(d),
            None => crate::generated::tensorflow::TensorShapeProto { dim: vec![], unknown_rank: true },
        }),
        encoding: Some(tensor_info::Encoding::Name(p.tensor.clone())),
    };
    let signature = SignatureDef {
        inputs: inputs.iter().map(|p| (signature_key(&p.key), info(p))).collect(),
        outputs: outputs.iter().map(|p| (signature_key(&p.key), info(p))).collect(),
        method_name: "tensorflow/serving/predict".into(),
    };
    let meta = MetaGraphDef {
        meta_info_def: Some(MetaInfoDef {
            tags: vec!["serve".into()],
            tensorflow_version: "2.21.0".into(),
            ..MetaInfoDef::default()
        }),
        graph_def: Some(GraphDef {
            node: nodes,
            versions: Some(VersionDef { producer: PRODUCER, ..VersionDef::default() }),
            library: library(functions),
        }),
        saver_def: saver,
        signature_def: [("serving_default".to_string(), signature)].into_iter().collect(),
        object_graph_def: None,
    };
    let sm = SavedModel { saved_model_schema_version: 1, meta_graphs: vec![meta] };
    let pb = dir.join("saved_model.pb");
    let bytes = sm.encode_to_vec();
    std::fs::write(&pb, &bytes).map_err(|e| Error::io(&pb, e))?;
    files.insert(0, (pb, bytes.len() as u64));
    Ok(files)
}

/// The function library, if there are functions.
fn library(
    functions: Vec<crate::generated::tensorflow::FunctionDef>,
) -> Option<crate::generated::tensorflow::FunctionDefLibrary> {
    (!functions.is_empty()).then_some(crate::generated::tensorflow::FunctionDefLibrary { function: functions })
}

/// A signature key: TF exposes them as Python keyword arguments, so
/// characters other than letters, digits and `_` become `_`.
pub(crate) fn signature_key(name: &str) -> String {
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}
