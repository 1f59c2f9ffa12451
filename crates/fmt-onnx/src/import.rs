//! ONNX → IR, in two stages: [`parse`] reads bytes into the protobuf
//! structures; [`translate`] turns those into the IR.
//!
//! Everything here reads data from a file, so indexing is denied: lengths,
//! counts and names are read through checked accessors.
#![deny(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use ir::{
    Attribute, Buffer, Dim, Error, Graph, Limit, Limits, Model, Node, Result, Shape, SparseTensor, ValueInfo, ValueType,
};
use prost::Message;

use crate::dtype;
use crate::generated::onnx::{
    AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType as AT, tensor_shape_proto::dimension, type_proto,
};
use crate::scan;
use crate::tensor::{self, ExternalData};

/// Stage 1: maps the file and decodes the `ModelProto`.
///
/// The file is memory-mapped and decoded from a [`bytes::Bytes`] over the
/// map, so every `raw_data` field stays a view into the file: inline
/// weights are not copied.
pub fn parse(path: &Path) -> Result<ModelProto> {
    parse_mapped(path).map(|(m, _)| m)
}

/// [`parse`], also returning the mapped file the model's `raw_data` fields point into.
pub fn parse_mapped(path: &Path) -> Result<(ModelProto, Buffer)> {
    parse_mapped_with(path, &Limits::default())
}

/// [`parse_mapped`] under `limits`: subgraph nesting and the tensor count are
/// checked on the bytes before they are decoded.
pub fn parse_mapped_with(path: &Path, limits: &Limits) -> Result<(ModelProto, Buffer)> {
    let buf = Buffer::map_file(path)?;
    if buf.is_empty() {
        return Err(Error::malformed(path, "file is empty"));
    }
    scan::check(&buf, limits).map_err(|m| Error::malformed(path, m))?;
    let model = ModelProto::decode(buf.to_bytes())
        .map_err(|e| Error::malformed(path, format!("not a valid ONNX model: protobuf {e}")))?;
    if model.graph.is_none() {
        return Err(Error::malformed(path, "not a valid ONNX model: no graph (field 7) in the ModelProto"));
    }
    if model.ir_version <= 0 {
        return Err(Error::malformed(path, "not a valid ONNX model: ir_version (field 1) is missing"));
    }
    Ok((model, buf))
}

/// Stage 2: translates a parsed model. `path` locates external data and names errors.
pub fn translate(proto: ModelProto, path: &Path) -> Result<Model> {
    translate_with(proto, path, ExternalData::new(path), &Limits::default())
}

/// [`translate`] for a model decoded by [`parse_mapped`]: weights stay linked
/// to the mapping so exporters can release their pages after writing them.
pub fn translate_mapped(proto: ModelProto, source: Buffer, path: &Path) -> Result<Model> {
    translate_mapped_with(proto, source, path, &Limits::default())
}

/// [`translate_mapped`] under `limits` (subgraph nesting and function call
/// depth).
pub fn translate_mapped_with(proto: ModelProto, source: Buffer, path: &Path, limits: &Limits) -> Result<Model> {
    translate_with(proto, path, ExternalData::new(path).with_source(source), limits)
}

fn translate_with(proto: ModelProto, path: &Path, ext: ExternalData, limits: &Limits) -> Result<Model> {
    if !proto.functions.is_empty() {
        check_calls(&proto.functions, limits).map_err(|m| Error::malformed(path, m))?;
        let names: Vec<&str> = proto.functions.iter().map(|f| f.name.as_str()).collect();
        return Err(Error::malformed(
            path,
            format!("model-local functions are not supported yet: {}", names.join(", ")),
        ));
    }
    let mut cx = Cx { path, ext, limits: *limits, depth: 0 };
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| Error::malformed(path, "not a valid ONNX model: no graph (field 7) in the ModelProto"))?;
    let graph = cx.graph(graph).map_err(|e| match e {
        Error::Malformed { .. } | Error::Io { .. } => e,
        other => Error::malformed(path, other.to_string()),
    })?;
    let mut opset_imports = IndexMap::new();
    for o in &proto.opset_import {
        opset_imports.insert(norm_domain(&o.domain).to_string(), o.version);
    }
    let mut model = Model {
        graph,
        opset_imports,
        producer_name: proto.producer_name,
        producer_version: proto.producer_version,
        domain: proto.domain,
        model_version: proto.model_version,
        doc: proto.doc_string,
        metadata: proto.metadata_props.into_iter().map(|e| (e.key, e.value)).collect(),
    };
    // onnxruntime's int4 MatMuls read back as the IR's quantization convention.
    let lowered = crate::matmulnbits::lower(&mut model, path)?;
    if lowered > 0 {
        tracing::info!("{}: {lowered} com.microsoft.MatMulNBits read as DequantizeLinear + MatMul", path.display());
    }
    Ok(model)
}

/// `ai.onnx` is written both as `""` and by name; the IR always uses `""`.
fn norm_domain(d: &str) -> &str {
    if d == "ai.onnx" { "" } else { d }
}

/// Refuses model-local functions that call themselves, directly or through
/// others, and call chains deeper than `limits.max_depth`: either would make
/// inlining them endless or exhaust the stack. Calls are found in the
/// functions' nodes and in the subgraphs of their attributes.
fn check_calls(functions: &[FunctionProto], limits: &Limits) -> std::result::Result<(), String> {
    let index: HashMap<(&str, &str), usize> =
        functions.iter().enumerate().map(|(i, f)| ((norm_domain(&f.domain), f.name.as_str()), i)).collect();
    let label = |i: usize| functions.get(i).map_or("?", |f| f.name.as_str());
    // calls[i]: the functions function i calls, each once.
    let calls: Vec<Vec<usize>> = functions
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            let mut nodes: Vec<&NodeProto> = f.node.iter().collect();
            while let Some(n) = nodes.pop() {
                if let Some(&j) = index.get(&(norm_domain(&n.domain), n.op_type.as_str()))
                    && !out.contains(&j)
                {
                    out.push(j);
                }
                for a in &n.attribute {
                    nodes.extend(a.g.iter().chain(&a.graphs).flat_map(|g| &g.node));
                }
            }
            out
        })
        .collect();
    // Depth-first from every function, with an explicit stack; `depth[i]` is
    // the longest call chain starting at i once it is finished.
    let mut depth: Vec<Option<usize>> = vec![None; functions.len()];
    let mut on_path = vec![false; functions.len()];
    for root in 0..functions.len() {
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let (f, next) = *top;
            if depth.get(f).copied().flatten().is_some() {
                stack.pop();
                continue;
            }
            if let Some(slot) = on_path.get_mut(f) {
                *slot = true;
            }
            let callees = calls.get(f).map_or(&[][..], Vec::as_slice);
            if let Some(&g) = callees.get(next) {
                top.1 += 1;
                if on_path.get(g).copied().unwrap_or(false) {
                    let start = stack.iter().position(|&(h, _)| h == g).unwrap_or(0);
                    let cycle: Vec<&str> = stack.iter().skip(start).map(|&(h, _)| label(h)).chain([label(g)]).collect();
                    return Err(if cycle.len() == 2 {
                        format!("model-local function '{}' calls itself", label(g))
                    } else {
                        format!("model-local functions call each other in a cycle: {}", cycle.join(" -> "))
                    });
                }
                if depth.get(g).copied().flatten().is_none() {
                    if stack.len() > limits.max_depth {
                        return Err(limits.message(Limit::Depth, "model-local function calls"));
                    }
                    stack.push((g, 0));
                }
                continue;
            }
            let d = callees.iter().filter_map(|&g| depth.get(g).copied().flatten()).max().map_or(0, |d| d + 1);
            if d > limits.max_depth {
                return Err(limits.message(Limit::Depth, "model-local function calls"));
            }
            if let Some(slot) = depth.get_mut(f) {
                *slot = Some(d);
            }
            if let Some(slot) = on_path.get_mut(f) {
                *slot = false;
            }
            stack.pop();
        }
    }
    Ok(())
}

struct Cx<'a> {
    path: &'a Path,
    ext: ExternalData,
    limits: Limits,
    /// How many subgraphs deep the graph being translated is.
    depth: usize,
}

impl Cx<'_> {
    fn bad(&self, what: impl std::fmt::Display) -> Error {
        Error::malformed(self.path, what.to_string())
    }

    fn graph(&mut self, g: &GraphProto) -> Result<Graph> {
        let mut initializers = IndexMap::with_capacity(g.initializer.len());
        for t in &g.initializer {
            let v = tensor::import(t, &mut self.ext)
                .map_err(|e| self.bad(format!("initializer '{}' of graph '{}': {e}", t.name, g.name)))?;
            if initializers.insert(t.name.clone(), v).is_some() {
                return Err(self.bad(format!("initializer '{}' is defined twice in graph '{}'", t.name, g.name)));
            }
        }
        let mut sparse_initializers = IndexMap::new();
        for s in &g.sparse_initializer {
            let name = s.values.as_ref().map(|v| v.name.clone()).unwrap_or_default();
            let v = self.sparse(s).map_err(|e| match e {
                // Name the initializer inside the file's message instead of
                // wrapping it, so the path is printed once, first.
                Error::Malformed { message, .. } => self.bad(format!("sparse initializer '{name}': {message}")),
                e => e.context(format!("sparse initializer '{name}'")),
            })?;
            sparse_initializers.insert(name, v);
        }
        let value_infos = |cx: &Self, list: &[ValueInfoProto]| -> Result<Vec<ValueInfo>> {
            list.iter().map(|v| cx.value_info(v)).collect()
        };
        let nodes = g
            .node
            .iter()
            .enumerate()
            .map(|(i, n)| {
                self.node(n).map_err(|e| {
                    let label = if n.name.is_empty() { format!("#{i}") } else { format!("'{}'", n.name) };
                    self.bad(format!("node {label} ({}): {}", n.op_type, strip_path(&e, self.path)))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Graph {
            name: g.name.clone(),
            inputs: value_infos(self, &g.input)?,
            outputs: value_infos(self, &g.output)?,
            initializers,
            sparse_initializers,
            value_info: value_infos(self, &g.value_info)?,
            nodes,
            doc: g.doc_string.clone(),
        })
    }

    /// A subgraph (an attribute's), one level deeper than the graph being read.
    fn subgraph(&mut self, g: &GraphProto) -> Result<Graph> {
        if self.depth >= self.limits.max_depth {
            return Err(self.bad(self.limits.message(Limit::Depth, &format!("subgraph '{}'", g.name))));
        }
        self.depth += 1;
        let out = self.graph(g);
        self.depth -= 1;
        out
    }

    fn sparse(&mut self, s: &SparseTensorProto) -> Result<SparseTensor> {
        let (values, indices) = match (&s.values, &s.indices) {
            (Some(v), Some(i)) => (v, i),
            _ => return Err(self.bad("sparse tensor without values or indices")),
        };
        let (dims, numel) = tensor::shape_of(&s.dims).map_err(|e| self.bad(e))?;
        let values = tensor::import(values, &mut self.ext).map_err(|e| self.bad(e))?;
        let indices = tensor::import(indices, &mut self.ext).map_err(|e| self.bad(e))?;
        check_sparse(&values, &indices, &dims, numel).map_err(|e| self.bad(e))?;
        Ok(SparseTensor { values, indices, dims })
    }

    fn value_info(&self, v: &ValueInfoProto) -> Result<ValueInfo> {
        let ty = match &v.r#type {
            Some(t) => self.ty(t).map_err(|e| self.bad(format!("value '{}': {e}", v.name)))?,
            None => ValueType::Unknown,
        };
        Ok(ValueInfo { name: v.name.clone(), ty, doc: v.doc_string.clone() })
    }

    fn ty(&self, t: &TypeProto) -> std::result::Result<ValueType, String> {
        let elem = |code: i32| if code == 0 { Ok(None) } else { dtype::from_code(code).map(Some) };
        let shape = |s: &Option<crate::generated::onnx::TensorShapeProto>| {
            s.as_ref().map(|s| {
                Shape(
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(dimension::Value::DimValue(v)) if *v >= 0 => Dim::Fixed(*v as u64),
                            Some(dimension::Value::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
                            _ => Dim::Unknown,
                        })
                        .collect(),
                )
            })
        };
        let sub = |t: &Option<Box<TypeProto>>| t.as_deref().map_or(Ok(ValueType::Unknown), |t| self.ty(t));
        Ok(match &t.value {
            None => ValueType::Unknown,
            Some(type_proto::Value::TensorType(tt)) => {
                ValueType::Tensor { dtype: elem(tt.elem_type)?, shape: shape(&tt.shape) }
            }
            Some(type_proto::Value::SparseTensorType(tt)) => {
                ValueType::SparseTensor { dtype: elem(tt.elem_type)?, shape: shape(&tt.shape) }
            }
            Some(type_proto::Value::SequenceType(s)) => ValueType::Sequence(Box::new(sub(&s.elem_type)?)),
            Some(type_proto::Value::OptionalType(s)) => ValueType::Optional(Box::new(sub(&s.elem_type)?)),
            Some(type_proto::Value::MapType(m)) => {
                let key = dtype::from_code(m.key_type)?;
                ValueType::Map(key, Box::new(sub(&m.value_type)?))
            }
        })
    }

    fn node(&mut self, n: &NodeProto) -> Result<Node> {
        let mut attrs = IndexMap::with_capacity(n.attribute.len());
        for a in &n.attribute {
            let v =
                self.attr(a).map_err(|e| self.bad(format!("attribute '{}': {}", a.name, strip_path(&e, self.path))))?;
            attrs.insert(a.name.clone(), v);
        }
        Ok(Node {
            name: n.name.clone(),
            op: n.op_type.clone(),
            domain: norm_domain(&n.domain).to_string(),
            inputs: n.input.iter().map(|s| (!s.is_empty()).then(|| s.clone())).collect(),
            outputs: n.output.clone(),
            attrs,
            doc: n.doc_string.clone(),
        })
    }

    fn attr(&mut self, a: &AttributeProto) -> Result<Attribute> {
        if !a.ref_attr_name.is_empty() {
            return Err(self.bad("attribute references (ref_attr_name) are only valid inside functions"));
        }
        let kind = AT::try_from(a.r#type).unwrap_or(AT::Undefined);
        let kind = if kind == AT::Undefined { infer_kind(a) } else { kind };
        let string = |b: &bytes::Bytes| String::from_utf8_lossy(b).into_owned();
        let tensor = |cx: &mut Self, t| tensor::import(t, &mut cx.ext).map_err(|e| cx.bad(e));
        Ok(match kind {
            AT::Float => Attribute::Float(a.f),
            AT::Int => Attribute::Int(a.i),
            AT::String => Attribute::String(string(&a.s)),
            AT::Tensor => match &a.t {
                Some(t) => Attribute::Tensor(tensor(self, t)?),
                None => return Err(self.bad("TENSOR attribute without a tensor")),
            },
            AT::Graph => match &a.g {
                Some(g) => Attribute::Graph(Box::new(self.subgraph(g)?)),
                None => return Err(self.bad("GRAPH attribute without a graph")),
            },
            AT::SparseTensor => match &a.sparse_tensor {
                Some(s) => Attribute::SparseTensor(self.sparse(s)?),
                None => return Err(self.bad("SPARSE_TENSOR attribute without a tensor")),
            },
            AT::TypeProto => match &a.tp {
                Some(t) => Attribute::Type(self.ty(t).map_err(|e| self.bad(e))?),
                None => return Err(self.bad("TYPE_PROTO attribute without a type")),
            },
            AT::Floats => Attribute::Floats(a.floats.clone()),
            AT::Ints => Attribute::Ints(a.ints.clone()),
            AT::Strings => Attribute::Strings(a.strings.iter().map(string).collect()),
            AT::Tensors => Attribute::Tensors(a.tensors.iter().map(|t| tensor(self, t)).collect::<Result<_>>()?),
            AT::Graphs => Attribute::Graphs(a.graphs.iter().map(|g| self.subgraph(g)).collect::<Result<_>>()?),
            AT::SparseTensors => {
                Attribute::SparseTensors(a.sparse_tensors.iter().map(|s| self.sparse(s)).collect::<Result<_>>()?)
            }
            AT::TypeProtos => Attribute::Types(
                a.type_protos.iter().map(|t| self.ty(t).map_err(|e| self.bad(e))).collect::<Result<_>>()?,
            ),
            AT::Undefined => return Err(self.bad("attribute has no type and no value")),
        })
    }
}

/// Checks a sparse tensor's parts against each other as the ONNX spec
/// states them, so whoever densifies it later indexes safely: `values` is
/// 1-D (NNZ), `indices` int64 `[NNZ]` (linear) or `[NNZ, rank]`, every
/// index inside the dense shape, and the dense size representable.
fn check_sparse(
    values: &ir::Tensor,
    indices: &ir::Tensor,
    dims: &[usize],
    numel: u64,
) -> std::result::Result<(), String> {
    let dtype = values.dtype();
    dtype.byte_len(numel).ok_or_else(|| format!("dense shape {dims:?} of {dtype} is too large"))?;
    let &[nnz] = values.shape() else {
        return Err(format!("values have shape {:?}, not [NNZ]", values.shape()));
    };
    if indices.dtype() != ir::DType::I64 {
        return Err(format!("indices are {}, not int64", indices.dtype()));
    }
    let idx = indices.to_i64s().map_err(|e| e.to_string())?;
    match indices.shape() {
        [n] if *n == nnz => {
            if let Some(i) = idx.iter().find(|&&i| u64::try_from(i).map_or(true, |i| i >= numel)) {
                return Err(format!("index {i} is outside the {numel} elements of shape {dims:?}"));
            }
        }
        [n, r] if *n == nnz && *r == dims.len() => {
            for coords in idx.chunks(dims.len().max(1)) {
                if let Some((i, d)) =
                    coords.iter().zip(dims).find(|&(&i, &d)| usize::try_from(i).map_or(true, |i| i >= d))
                {
                    return Err(format!("coordinate {i} is outside dimension {d} of shape {dims:?}"));
                }
            }
        }
        s => return Err(format!("indices of shape {s:?} for {nnz} values of rank {}", dims.len())),
    }
    Ok(())
}

/// Very old files leave `type` unset; the field that holds a value tells.
fn infer_kind(a: &AttributeProto) -> AT {
    if a.t.is_some() {
        AT::Tensor
    } else if a.g.is_some() {
        AT::Graph
    } else if !a.floats.is_empty() {
        AT::Floats
    } else if !a.ints.is_empty() {
        AT::Ints
    } else if !a.strings.is_empty() {
        AT::Strings
    } else if !a.tensors.is_empty() {
        AT::Tensors
    } else if !a.graphs.is_empty() {
        AT::Graphs
    } else if !a.s.is_empty() {
        AT::String
    } else if a.f != 0.0 {
        AT::Float
    } else {
        AT::Int
    }
}

/// Errors made deeper already name the file; drop that prefix when nesting.
fn strip_path(e: &Error, path: &Path) -> String {
    let s = e.to_string();
    let prefix = format!("{}: ", path.display());
    s.strip_prefix(&prefix).map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> ModelProto {
        let mut g = GraphProto { name: "leaf".into(), ..GraphProto::default() };
        for k in 0..levels {
            let a = AttributeProto { name: "body".into(), r#type: AT::Graph as i32, g: Some(g), ..Default::default() };
            let n = NodeProto { op_type: "Loop".into(), attribute: vec![a], ..NodeProto::default() };
            g = GraphProto { name: format!("g{k}"), node: vec![n], ..GraphProto::default() };
        }
        ModelProto { ir_version: 8, graph: Some(g), ..ModelProto::default() }
    }

    #[test]
    fn translation_bounds_subgraph_depth_without_the_wire_scan() {
        // `translate` takes decoded structures, which need not come from a file.
        let limits = Limits { max_depth: 2, ..Limits::default() };
        let path = Path::new("m.onnx");
        let e = translate_mapped_with(nested(3), Buffer::from_vec(vec![]), path, &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.onnx: node #0 (Loop): attribute 'body': node #0 (Loop): attribute 'body': node #0 (Loop): \
             attribute 'body': subgraph 'leaf': nesting depth exceeds the limit of 2 (raise it with --max-depth N)"
        );
        assert!(translate_mapped_with(nested(2), Buffer::from_vec(vec![]), path, &limits).is_ok());
    }

    #[test]
    fn function_call_cycles_and_depth() {
        let f = |name: &str, calls: &[&str]| FunctionProto {
            name: name.into(),
            node: calls.iter().map(|c| NodeProto { op_type: (*c).into(), ..NodeProto::default() }).collect(),
            ..FunctionProto::default()
        };
        let limits = Limits::default();
        assert_eq!(check_calls(&[f("a", &["a"])], &limits).unwrap_err(), "model-local function 'a' calls itself");
        assert_eq!(
            check_calls(&[f("a", &["b"]), f("b", &["c"]), f("c", &["b"])], &limits).unwrap_err(),
            "model-local functions call each other in a cycle: b -> c -> b"
        );
        // A diamond is no cycle.
        assert_eq!(check_calls(&[f("a", &["b", "c"]), f("b", &["d"]), f("c", &["d"]), f("d", &[])], &limits), Ok(()));
        let chain = [f("a", &["b"]), f("b", &["c"]), f("c", &[])];
        assert_eq!(check_calls(&chain, &Limits { max_depth: 2, ..limits }), Ok(()));
        assert!(check_calls(&chain, &Limits { max_depth: 1, ..limits }).unwrap_err().contains("--max-depth"));
    }
}
