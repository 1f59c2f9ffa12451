//! IR → ONNX, streamed: weights go from their (possibly memory-mapped)
//! buffers straight to the output file, never gathered into one message.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use ir::io::AtomicFile;
use ir::{
    Attribute, DType, Dim, Error, ExportOptions, ExportReport, ExternalData as Policy, Graph, Model, Node, Result,
    SparseTensor, Tensor, ValueInfo, ValueType,
};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::dtype;
use crate::generated::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, SparseTensorProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType as AT,
    tensor_proto::DataLocation, tensor_shape_proto, type_proto,
};
use crate::matmulnbits::{Int4Format, KeptDq};
use crate::tensor::{self, Encoding};

/// Largest message protobuf implementations accept (2 GiB − 1).
pub const PROTOBUF_LIMIT: u64 = i32::MAX as u64;
/// External data offsets are aligned to this, so runtimes can map them.
const ALIGN: u64 = 4096;

/// The `-O` keys the ONNX writer reads ([`Settings::from_options`]).
pub const OPTION_NAMES: &[&str] =
    &["tensor-encoding", "external-threshold", "external-location", "external-layout", "int4-format"];

/// ONNX-specific export settings, from `-O key=value` options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How inline tensor values are encoded (`tensor-encoding=raw|typed`).
    pub encoding: Encoding,
    /// Tensors of at least this many bytes go to external data when it is used
    /// (`external-threshold=N`, default 1024 as onnx's own writer).
    pub external_threshold: u64,
    /// Name of the external data file (`external-location=NAME`, default `<model file>.data`).
    pub external_location: Option<String>,
    /// One external file per tensor (`external-layout=per-tensor`) instead of
    /// one file for all (`single`, the default).
    pub per_tensor_files: bool,
    /// How MatMuls with blocked 4-bit DQ weights are written
    /// (`int4-format=dq|matmulnbits`, default `dq`).
    pub int4_format: Int4Format,
}

impl Settings {
    /// Reads the settings from export options, rejecting unknown keys.
    pub fn from_options(opts: &ExportOptions) -> Result<Self> {
        let mut s = Settings {
            encoding: Encoding::Raw,
            external_threshold: 1024,
            external_location: None,
            per_tensor_files: false,
            int4_format: Int4Format::Dq,
        };
        ir::check_format_options("onnx", "-O", &opts.format_options, OPTION_NAMES)?;
        for (k, v) in &opts.format_options {
            match k.as_str() {
                "tensor-encoding" => {
                    s.encoding = match v.as_str() {
                        "raw" => Encoding::Raw,
                        "typed" => Encoding::Typed,
                        _ => return Err(Error::usage(format!("onnx option tensor-encoding={v}: use raw or typed"))),
                    }
                }
                "external-threshold" => {
                    s.external_threshold = v
                        .parse()
                        .map_err(|_| Error::usage(format!("onnx option external-threshold={v}: not a byte count")))?
                }
                "external-location" => {
                    if v.contains('/') || v.contains('\\') || v == ".." || v.is_empty() {
                        return Err(Error::usage(format!(
                            "onnx option external-location={v}: must be a plain file name"
                        )));
                    }
                    s.external_location = Some(v.clone());
                }
                "external-layout" => {
                    s.per_tensor_files = match v.as_str() {
                        "single" => false,
                        "per-tensor" => true,
                        _ => {
                            return Err(Error::usage(format!(
                                "onnx option external-layout={v}: use single or per-tensor"
                            )));
                        }
                    }
                }
                "int4-format" => {
                    s.int4_format = match v.as_str() {
                        "dq" => Int4Format::Dq,
                        "matmulnbits" => Int4Format::MatMulNBits,
                        _ => return Err(Error::usage(format!("onnx option int4-format={v}: use dq or matmulnbits"))),
                    }
                }
                // Any other key was refused above.
                _ => {}
            }
        }
        if s.per_tensor_files && s.external_location.is_some() {
            return Err(Error::usage(
                "onnx options external-location and external-layout=per-tensor exclude each other \
                 (per-tensor files are named after the tensors)",
            ));
        }
        Ok(s)
    }
}

/// Ops the ONNX writer refuses: those kept in another format's terms.
pub fn check(model: &Model) -> Result<()> {
    let mut bad = Vec::new();
    model.graph.walk(&mut |g| {
        for n in &g.nodes {
            if ir::opset::is_origin_domain(&n.domain) {
                bad.push((n.op.clone(), n.domain.clone(), n.name.clone()));
            }
        }
    });
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::unsupported_ops("onnx", bad.iter().map(|(o, d, n)| (o.as_str(), d.as_str(), n.as_str()))))
}

/// One main-graph initializer as it will be written.
enum Planned<'a> {
    /// Header plus raw bytes streamed after it.
    Raw(TensorProto, &'a Tensor),
    /// Fully encoded by prost (typed fields, strings, external references).
    Whole(TensorProto),
}

impl Planned<'_> {
    fn encoded_len(&self) -> u64 {
        match self {
            Planned::Raw(h, t) => {
                let n = t.byte_len() as u64;
                let raw = if n == 0 { 0 } else { key_len(9) as u64 + encoded_len_varint(n) as u64 + n };
                h.encoded_len() as u64 + raw
            }
            Planned::Whole(p) => p.encoded_len() as u64,
        }
    }
}

/// Writes `model` to `path` (plus an external data file when needed).
pub fn export(model: &Model, path: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    check(model)?;
    let settings = Settings::from_options(opts)?;
    // Tensors share their bytes, so rewriting a copy costs only the repacked weights.
    let rewritten;
    let model = match settings.int4_format {
        Int4Format::Dq => model,
        Int4Format::MatMulNBits => {
            let mut m = model.clone();
            let r = crate::matmulnbits::to_matmulnbits(&mut m).map_err(|e| e.context(path.display().to_string()))?;
            for line in r.lines() {
                tracing::info!("{}: {line}", path.display());
            }
            // A tied embedding staying DQ is the intended form; anything else
            // is a MatMul the user asked for and did not get.
            let refused = r.kept_dq.iter().filter(|k| k.1 != KeptDq::SharedWithNonMatMul).count();
            if refused > 0 {
                tracing::warn!(
                    "{}: {refused} MatMul(s) could not be written as MatMulNBits and kept DequantizeLinear \
                     (run with -v for the reasons)",
                    path.display()
                );
            }
            rewritten = m;
            &rewritten
        }
    };
    let header = model_header(model);
    let graph = graph_proto(&model.graph, settings.encoding, false);
    let inits = &model.graph.initializers;

    let plan_inline = || -> Vec<Planned<'_>> {
        inits
            .iter()
            .map(|(name, t)| match (t.raw(), settings.encoding) {
                (Some(_), Encoding::Raw) => Planned::Raw(tensor::header(name, t), t),
                _ => Planned::Whole(tensor::export(name, t, settings.encoding)),
            })
            .collect()
    };
    let total = |plan: &[Planned<'_>]| -> u64 {
        let graph_len = graph_len(&graph, plan);
        header.encoded_len() as u64 + key_len(7) as u64 + encoded_len_varint(graph_len) as u64 + graph_len
    };

    let mut plan = plan_inline();
    let inline_total = total(&plan);
    let external = match opts.external_data {
        Policy::Always => true,
        Policy::Never => false,
        Policy::Auto => inline_total > PROTOBUF_LIMIT,
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let location = settings.external_location.clone().unwrap_or_else(|| format!("{file_name}.data"));
    // (file name, tensors written to it in order)
    let mut ext_files: Vec<(String, Vec<&Tensor>)> = Vec::new();
    if external {
        let mut offset = 0u64;
        let mut taken = std::collections::HashSet::new();
        for ((name, t), slot) in inits.iter().zip(plan.iter_mut()) {
            let n = t.byte_len() as u64;
            if t.raw().is_none() || n < settings.external_threshold {
                continue;
            }
            let location = if settings.per_tensor_files {
                offset = 0;
                let file = per_tensor_file_name(&file_name, name, &mut taken);
                ext_files.push((file.clone(), vec![t]));
                file
            } else {
                offset = offset.div_ceil(ALIGN) * ALIGN;
                match ext_files.first_mut() {
                    Some((_, ts)) => ts.push(t),
                    None => ext_files.push((location.clone(), vec![t])),
                }
                location.clone()
            };
            let mut h = tensor::header(name, t);
            h.data_location = DataLocation::External as i32;
            h.external_data =
                [("location", location.clone()), ("offset", offset.to_string()), ("length", n.to_string())]
                    .into_iter()
                    .map(|(k, v)| StringStringEntryProto { key: k.into(), value: v })
                    .collect();
            *slot = Planned::Whole(h);
            offset += n;
        }
    }
    let model_len = total(&plan);
    if model_len > PROTOBUF_LIMIT {
        let hint = if external {
            "even with external data (the graph itself is too large)"
        } else {
            "use external data (--external-data)"
        };
        return Err(Error::invalid(format!(
            "{}: the model needs {model_len} bytes, over protobuf's 2 GiB message limit; {hint}",
            path.display()
        )));
    }

    let weight_total: u64 = inits.values().map(|t| t.byte_len() as u64).sum();
    opts.progress.begin(&format!("writing {}", path.display()), weight_total);
    let mut report = ExportReport::default();

    // External data first: the model file must only ever reference complete data.
    let mut data_files = Vec::with_capacity(ext_files.len());
    for (location, tensors) in &ext_files {
        let data_path = ir::io::parent_dir(path).join(location);
        let mut f = AtomicFile::create(&data_path)?;
        let io = |e: std::io::Error| Error::io(&data_path, e);
        for t in tensors {
            let pad = f.position().div_ceil(ALIGN) * ALIGN - f.position();
            f.write_all(&vec![0u8; pad as usize]).map_err(io)?;
            let raw = t.raw().expect("planned tensors are raw");
            opts.progress.check_cancelled(&data_path)?;
            f.write_buffer(raw, |n| opts.progress.advance(n)).map_err(io)?;
        }
        data_files.push(f);
    }

    let mut f = AtomicFile::create(path)?;
    let io = |e: std::io::Error| Error::io(path, e);
    let mut head = Vec::with_capacity(header.encoded_len() + 16);
    header.encode(&mut head).expect("Vec grows as needed");
    let glen = graph_len(&graph, &plan);
    encode_key(7, WireType::LengthDelimited, &mut head);
    encode_varint(glen, &mut head);
    graph.encode(&mut head).expect("Vec grows as needed");
    f.write_all(&head).map_err(io)?;
    for p in &plan {
        let mut buf = Vec::new();
        encode_key(5, WireType::LengthDelimited, &mut buf);
        encode_varint(p.encoded_len(), &mut buf);
        match p {
            Planned::Raw(h, t) => {
                h.encode(&mut buf).expect("Vec grows as needed");
                let raw = t.raw().expect("planned tensors are raw");
                if !raw.is_empty() {
                    encode_key(9, WireType::LengthDelimited, &mut buf);
                    encode_varint(raw.len() as u64, &mut buf);
                    f.write_all(&buf).map_err(io)?;
                    opts.progress.check_cancelled(path)?;
                    f.write_buffer(raw, |n| opts.progress.advance(n)).map_err(io)?;
                    continue;
                }
            }
            Planned::Whole(p) => p.encode(&mut buf).expect("Vec grows as needed"),
        }
        f.write_all(&buf).map_err(io)?;
    }
    if f.position() != model_len {
        return Err(Error::invalid(format!(
            "{}: internal error: wrote {} bytes, planned {model_len}",
            path.display(),
            f.position()
        )));
    }
    // Data files are renamed into place before the model that references
    // them; if any rename fails, every previous file is restored.
    let mut files = data_files;
    files.push(f);
    let targets: Vec<_> = files.iter().map(|f| f.target().to_path_buf()).collect();
    let sizes = ir::io::commit_all(files)?;
    let mut written: Vec<_> = targets.into_iter().zip(sizes).collect();
    written.rotate_right(1); // main file first in the report
    report.files = written;
    opts.progress.end();
    Ok(report)
}

/// The file of one tensor in the per-tensor layout: `<model file>.<tensor>.data`,
/// with characters unsafe in file names replaced and a suffix against collisions
/// (names are compared case-insensitively for case-insensitive file systems).
fn per_tensor_file_name(model_file: &str, tensor: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let safe: String = tensor
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let mut candidate = format!("{model_file}.{safe}.data");
    let mut n = 1;
    while !taken.insert(candidate.to_ascii_lowercase()) {
        n += 1;
        candidate = format!("{model_file}.{safe}-{n}.data");
    }
    candidate
}

fn graph_len(graph: &GraphProto, plan: &[Planned<'_>]) -> u64 {
    let inits: u64 = plan
        .iter()
        .map(|p| {
            let n = p.encoded_len();
            key_len(5) as u64 + encoded_len_varint(n) as u64 + n
        })
        .sum();
    graph.encoded_len() as u64 + inits
}

/// The `ModelProto` fields other than the graph.
fn model_header(model: &Model) -> ModelProto {
    let mut opsets: Vec<(String, i64)> = model.opset_imports.iter().map(|(d, v)| (d.clone(), *v)).collect();
    if !opsets.iter().any(|(d, _)| d.is_empty()) {
        opsets.insert(0, (String::new(), ir::opset::DEFAULT_OPSET));
    }
    // Every domain a node uses must be imported, or checkers reject the model.
    let mut used = HashSet::new();
    let mut dtypes = HashSet::new();
    model.graph.walk(&mut |g| {
        for n in &g.nodes {
            used.insert(n.domain.clone());
        }
        let types = g.inputs.iter().chain(&g.outputs).chain(&g.value_info).filter_map(ValueInfo::dtype);
        dtypes.extend(g.initializers.values().map(Tensor::dtype).chain(types));
    });
    let mut used: Vec<String> = used.into_iter().collect();
    used.sort();
    for d in used {
        if !opsets.iter().any(|(o, _)| *o == d) {
            opsets.push((d, 1));
        }
    }
    let onnx_opset = opsets.iter().find(|(d, _)| d.is_empty()).map_or(ir::opset::DEFAULT_OPSET, |o| o.1);
    ModelProto {
        ir_version: dtype::ir_version_for(onnx_opset, dtypes),
        opset_import: opsets.into_iter().map(|(domain, version)| OperatorSetIdProto { domain, version }).collect(),
        producer_name: if model.producer_name.is_empty() {
            "model-convert".into()
        } else {
            model.producer_name.clone()
        },
        producer_version: if model.producer_name.is_empty() {
            env!("CARGO_PKG_VERSION").into()
        } else {
            model.producer_version.clone()
        },
        domain: model.domain.clone(),
        model_version: model.model_version,
        doc_string: model.doc.clone(),
        graph: None,
        metadata_props: entries(&model.metadata),
        functions: vec![],
    }
}

fn entries(m: &indexmap::IndexMap<String, String>) -> Vec<StringStringEntryProto> {
    m.iter().map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() }).collect()
}

/// A `GraphProto`; the main graph's initializers are streamed separately.
fn graph_proto(g: &Graph, enc: Encoding, with_initializers: bool) -> GraphProto {
    GraphProto {
        node: g.nodes.iter().map(|n| node_proto(n, enc)).collect(),
        name: if g.name.is_empty() { "main".into() } else { g.name.clone() },
        initializer: if with_initializers {
            g.initializers.iter().map(|(n, t)| tensor::export(n, t, enc)).collect()
        } else {
            vec![]
        },
        sparse_initializer: g.sparse_initializers.iter().map(|(n, s)| sparse_proto(n, s, enc)).collect(),
        doc_string: g.doc.clone(),
        input: g.inputs.iter().map(value_info_proto).collect(),
        output: g.outputs.iter().map(value_info_proto).collect(),
        // An entry with no type says nothing (and its name alone is noise).
        value_info: g.value_info.iter().map(value_info_proto).filter(|v| v.r#type.is_some()).collect(),
        quantization_annotation: vec![],
        metadata_props: vec![],
    }
}

fn sparse_proto(name: &str, s: &SparseTensor, enc: Encoding) -> SparseTensorProto {
    SparseTensorProto {
        values: Some(tensor::export(name, &s.values, enc)),
        indices: Some(tensor::export("", &s.indices, enc)),
        dims: s.dims.iter().map(|&d| d as i64).collect(),
    }
}

fn node_proto(n: &Node, enc: Encoding) -> NodeProto {
    NodeProto {
        input: n.inputs.iter().map(|i| i.clone().unwrap_or_default()).collect(),
        output: n.outputs.clone(),
        name: n.name.clone(),
        op_type: n.op.clone(),
        domain: n.domain.clone(),
        attribute: n.attrs.iter().map(|(k, a)| attr_proto(k, a, enc)).collect(),
        doc_string: n.doc.clone(),
        ..NodeProto::default()
    }
}

fn attr_proto(name: &str, a: &Attribute, enc: Encoding) -> AttributeProto {
    let mut p = AttributeProto { name: name.to_string(), ..AttributeProto::default() };
    let ty = match a {
        Attribute::Int(v) => {
            p.i = *v;
            AT::Int
        }
        Attribute::Float(v) => {
            p.f = *v;
            AT::Float
        }
        Attribute::String(s) => {
            p.s = bytes::Bytes::from(s.clone().into_bytes());
            AT::String
        }
        Attribute::Tensor(t) => {
            p.t = Some(tensor::export("", t, enc));
            AT::Tensor
        }
        Attribute::SparseTensor(s) => {
            p.sparse_tensor = Some(sparse_proto("", s, enc));
            AT::SparseTensor
        }
        Attribute::Graph(g) => {
            p.g = Some(graph_proto(g, enc, true));
            AT::Graph
        }
        Attribute::Type(t) => {
            p.tp = Some(type_proto(t));
            AT::TypeProto
        }
        Attribute::Ints(v) => {
            p.ints = v.clone();
            AT::Ints
        }
        Attribute::Floats(v) => {
            p.floats = v.clone();
            AT::Floats
        }
        Attribute::Strings(v) => {
            p.strings = v.iter().map(|s| bytes::Bytes::from(s.clone().into_bytes())).collect();
            AT::Strings
        }
        Attribute::Tensors(v) => {
            p.tensors = v.iter().map(|t| tensor::export("", t, enc)).collect();
            AT::Tensors
        }
        Attribute::SparseTensors(v) => {
            p.sparse_tensors = v.iter().map(|s| sparse_proto("", s, enc)).collect();
            AT::SparseTensors
        }
        Attribute::Graphs(v) => {
            p.graphs = v.iter().map(|g| graph_proto(g, enc, true)).collect();
            AT::Graphs
        }
        Attribute::Types(v) => {
            p.type_protos = v.iter().map(type_proto).collect();
            AT::TypeProtos
        }
    };
    // Always set: runtimes read the kind from `type`, not from field presence.
    p.r#type = ty as i32;
    p
}

/// A value's `ValueInfoProto`. A type whose element type is not known is
/// left out rather than written as `UNDEFINED` (elem_type 0), which
/// onnxruntime refuses to load ("Invalid tensor data type 0"): a runtime
/// infers what is missing, not what is wrong.
fn value_info_proto(v: &ValueInfo) -> ValueInfoProto {
    let ty = if fully_typed(&v.ty) { Some(type_proto(&v.ty)) } else { None };
    ValueInfoProto { name: v.name.clone(), r#type: ty, doc_string: v.doc.clone(), metadata_props: vec![] }
}

/// Whether every element type in `t` is known (nested ones included).
fn fully_typed(t: &ValueType) -> bool {
    match t {
        ValueType::Unknown => false,
        ValueType::Tensor { dtype, .. } | ValueType::SparseTensor { dtype, .. } => dtype.is_some(),
        ValueType::Sequence(e) | ValueType::Optional(e) | ValueType::Map(_, e) => fully_typed(e),
    }
}

fn shape_proto(s: &Option<ir::Shape>) -> Option<TensorShapeProto> {
    use tensor_shape_proto::{Dimension, dimension::Value};
    s.as_ref().map(|s| TensorShapeProto {
        dim: s
            .dims()
            .iter()
            .map(|d| Dimension {
                denotation: String::new(),
                value: match d {
                    Dim::Fixed(n) => Some(Value::DimValue(*n as i64)),
                    Dim::Symbolic(p) => Some(Value::DimParam(p.clone())),
                    Dim::Unknown => None,
                },
            })
            .collect(),
    })
}

fn type_proto(t: &ValueType) -> TypeProto {
    let code = |d: &Option<DType>| d.map_or(0, dtype::to_code);
    let sub = |t: &ValueType| match t {
        ValueType::Unknown => None,
        t => Some(Box::new(type_proto(t))),
    };
    let value = match t {
        ValueType::Tensor { dtype, shape } => Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: code(dtype),
            shape: shape_proto(shape),
        })),
        ValueType::SparseTensor { dtype, shape } => {
            Some(type_proto::Value::SparseTensorType(type_proto::SparseTensor {
                elem_type: code(dtype),
                shape: shape_proto(shape),
            }))
        }
        ValueType::Sequence(e) => {
            Some(type_proto::Value::SequenceType(Box::new(type_proto::Sequence { elem_type: sub(e) })))
        }
        ValueType::Optional(e) => {
            Some(type_proto::Value::OptionalType(Box::new(type_proto::Optional { elem_type: sub(e) })))
        }
        ValueType::Map(k, v) => Some(type_proto::Value::MapType(Box::new(type_proto::Map {
            key_type: dtype::to_code(*k),
            value_type: sub(v),
        }))),
        ValueType::Unknown => None,
    };
    TypeProto { denotation: String::new(), value }
}
