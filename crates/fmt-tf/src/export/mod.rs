//! IR → TensorFlow GraphDef (frozen `.pb`, or inside a SavedModel).
//!
//! Each canonical node becomes one or more TensorFlow nodes through the rule
//! of its op (one table, [`rules`], filled by the op-family modules). The
//! builder, [`Ex`], tracks for every canonical value the TF tensor holding it
//! and that tensor's *layout*: a permutation `p` such that the TF tensor is
//! the logical (ONNX) tensor transposed by `p`. Convolutions and pools make
//! NHWC tensors (`p = [0, 2, 3, 1]`); layout-agnostic ops pass the layout on
//! (their constant operands are permuted instead), axis ops remap their axes,
//! and `Transpose` nodes only compose the layout. A `Transpose` is written
//! only where an op needs another layout than its input has, so a CNN keeps
//! NHWC activations from its first convolution to its head. The writers
//! ([`write`]) turn the built nodes into a frozen GraphDef or a SavedModel.

mod control;
mod layout;
mod math;
mod nn;
mod quant;
mod reduce;
mod shape;
pub mod write;

use std::collections::HashMap;

use bytes::Bytes;
use ir::{DType, Error, Graph, Model, Node, Result, Tensor};

use crate::generated::tensorflow::{AttrValue, NodeDef, TensorProto, TensorShapeProto, attr_value, tensor_shape_proto};

pub use write::{FrozenExporter, SavedModelExporter};

/// How one canonical op is written.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The canonical (ONNX) op type.
    pub onnx: &'static str,
    /// The TensorFlow op(s) it becomes.
    pub tf: &'static str,
    /// Attribute coverage, layout behaviour and limits.
    pub notes: &'static str,
    /// Builds the nodes.
    pub(crate) build: fn(&mut Ex<'_>, &Node) -> Result<()>,
}

/// Every export rule, all families together, sorted by op.
pub fn rules() -> Vec<Rule> {
    let mut v = Vec::new();
    v.extend_from_slice(math::RULES);
    v.extend_from_slice(nn::RULES);
    v.extend_from_slice(shape::RULES);
    v.extend_from_slice(reduce::RULES);
    v.extend_from_slice(quant::RULES);
    v.extend_from_slice(quant::DYNAMIC_RULES);
    v.extend_from_slice(control::RULES);
    v.sort_by_key(|r| r.onnx);
    v
}

/// The rule for `op`. The table is built once: export looks a rule up per node.
fn rule_for(op: &str) -> Option<Rule> {
    static BY_OP: std::sync::OnceLock<std::collections::HashMap<&'static str, Rule>> = std::sync::OnceLock::new();
    BY_OP.get_or_init(|| rules().into_iter().map(|r| (r.onnx, r)).collect()).get(op).copied()
}

/// The export table as Markdown (the second half of `docs/tf-ops.md`).
pub fn export_ops_markdown() -> String {
    let mut s = String::from(
        "\n## Export: canonical (ONNX) op → TensorFlow ops\n\n\
         Generated from the rule table in `crates/fmt-tf/src/export/`. Graph inputs are `Placeholder`s \
         (dynamic dimensions -1), weights are `Const` nodes with `tensor_content` in a frozen GraphDef and \
         resource variables (`VarHandleOp` + `ReadVariableOp`, restored by the saver's `RestoreV2`) in a \
         SavedModel, and each graph output is an `Identity` named after it. NCHW convolutions, pools and \
         batch norms are written as NHWC ops with their weights transposed once; activations stay NHWC \
         through layout-agnostic ops (their constant operands are permuted) and axis ops (axes remapped), \
         and a `Transpose` is written only where an op needs the other layout. Canonical `Transpose` \
         nodes only change the tracked layout.\n\n\
         | canonical op | TensorFlow op(s) | notes |\n|---|---|---|\n",
    );
    for r in rules() {
        s.push_str(&format!("| {} | {} | {} |\n", r.onnx, r.tf, r.notes));
    }
    s
}

/// A canonical value as written: the TF tensor and its layout.
#[derive(Debug, Clone)]
pub(crate) struct Val {
    /// The TF tensor (`node` or `node:k`).
    pub(crate) t: String,
    /// `None`: the logical layout; `Some(p)`: the TF tensor is the logical one transposed by `p`.
    pub(crate) perm: Option<Vec<usize>>,
}

/// A weight to be written as a `Const` (frozen) or a variable (SavedModel).
#[derive(Debug, Clone)]
pub(crate) struct Weight {
    /// Index of its node in [`Ex::nodes`].
    pub(crate) node: usize,
    /// Its value.
    pub(crate) tensor: Tensor,
}

/// Constants at or above this size are weights (variables in a SavedModel);
/// smaller ones (shapes, axes, scalars) stay inline `Const`s.
const WEIGHT_BYTES: usize = 1024;

/// The export builder handed to every rule.
pub(crate) struct Ex<'m> {
    model: &'m Model,
    /// Inferred types of the graph's values (best effort).
    types: HashMap<String, ir::infer::Known>,
    /// The built nodes, in topological order.
    pub(crate) nodes: Vec<NodeDef>,
    /// Weights among [`Ex::nodes`].
    pub(crate) weights: Vec<Weight>,
    values: HashMap<String, Val>,
    /// Canonical constants (initializers, `Constant` outputs) not yet written.
    consts: HashMap<String, Tensor>,
    /// Transposes already written, by (tensor, perm), so each is made once.
    transposes: HashMap<(String, Vec<usize>), String>,
    names: ir::NameGen,
    base: String,
    /// Function bodies of `StatelessIf`/`StatelessWhile` nodes, nested ones included.
    pub(crate) library: Vec<crate::generated::tensorflow::FunctionDef>,
    /// Functions made so far (for unique names across nesting).
    pub(crate) functions: usize,
}

/// TensorFlow's largest rank (`TensorShape::MaxDimensions`).
pub(crate) const MAX_RANK: usize = 254;

impl<'m> Ex<'m> {
    fn new(model: &'m Model) -> Self {
        let g = &model.graph;
        let mut types = HashMap::new();
        // Inference is best effort: a graph it cannot type is still written
        // where rules do not need the facts.
        if let Ok(t) = ir::infer::infer(g, model.onnx_opset()) {
            for (name, k) in t.iter() {
                types.insert(name.to_string(), k.clone());
            }
        }
        let consts = g.initializers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ex::with(model, types, consts)
    }

    /// A builder with the given facts and constants.
    fn with(model: &'m Model, types: HashMap<String, ir::infer::Known>, consts: HashMap<String, Tensor>) -> Self {
        Ex {
            model,
            types,
            nodes: Vec::new(),
            weights: Vec::new(),
            values: HashMap::new(),
            consts,
            transposes: HashMap::new(),
            names: ir::NameGen::default(),
            base: String::new(),
            library: Vec::new(),
            functions: 0,
        }
    }

    /// Runs the rule of every node, in order.
    pub(crate) fn build_nodes(&mut self, nodes: &[Node]) -> Result<()> {
        for node in nodes {
            self.base = if node.name.is_empty() {
                node.outputs.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            };
            // TensorFlow has no tensor past MAX_RANK dims, and layout
            // arithmetic is linear in the rank per value read (a fuzzed
            // graph of rank-65,536 values took 13 s): refuse them first.
            let names = node.inputs.iter().flatten().chain(&node.outputs).filter(|n| !n.is_empty());
            if let Some((name, r)) = names.filter_map(|n| Some((n, self.rank(n)?))).find(|(_, r)| *r > MAX_RANK) {
                return Err(Error::invalid(format!(
                    "{}: value '{name}' has rank {r}; TensorFlow tensors have at most {MAX_RANK} dimensions",
                    node.describe()
                )));
            }
            let rule =
                rule_for(&node.op).ok_or_else(|| Error::invalid(format!("{}: no TensorFlow rule", node.describe())))?;
            (rule.build)(self, node).map_err(|e| e.context(node.describe()))?;
        }
        Ok(())
    }

    /// The model's ONNX opset.
    pub(crate) fn opset(&self) -> i64 {
        self.model.onnx_opset()
    }

    /// A fresh TF node name under the current node's name.
    fn fresh(&mut self, suffix: &str) -> String {
        let base = if suffix.is_empty() { self.base.clone() } else { format!("{}/{suffix}", self.base) };
        self.names.fresh(&tf_name(&base))
    }

    /// Adds a node; returns its name (its output 0).
    pub(crate) fn op(&mut self, op: &str, inputs: Vec<String>, attrs: Vec<(&str, AttrValue)>) -> String {
        let name = self.fresh(op);
        self.nodes.push(NodeDef {
            name: name.clone(),
            op: op.to_string(),
            input: inputs,
            device: String::new(),
            attr: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
        name
    }

    /// Adds a node with a `T` attribute of `dtype`.
    pub(crate) fn op_t(&mut self, op: &str, inputs: Vec<String>, dtype: DType) -> Result<String> {
        Ok(self.op(op, inputs, vec![("T", ty(dtype)?)]))
    }

    /// A `Const` node for `t` (a weight if large).
    pub(crate) fn constant(&mut self, t: &Tensor) -> Result<String> {
        let t = if matches!(t.dtype(), DType::I4 | DType::U4) { widen_4bit(t)? } else { t.clone() };
        let dtype = crate::dtype::from_ir(t.dtype())
            .ok_or_else(|| Error::invalid(format!("TensorFlow has no {} tensors", t.dtype())))?;
        let is_weight = t.byte_len() >= WEIGHT_BYTES && t.dtype() != DType::String;
        let mut proto = TensorProto { dtype, tensor_shape: Some(shape_proto(t.shape())), ..TensorProto::default() };
        if t.dtype() == DType::String {
            proto.string_val = t.strings()?.iter().map(|s| Bytes::from(s.clone())).collect();
        } else if !is_weight {
            let raw = t.raw().ok_or_else(|| Error::invalid("a constant has no raw bytes"))?;
            proto.tensor_content = raw.to_bytes();
        }
        let name = self.op(
            "Const",
            Vec::new(),
            vec![("dtype", AttrValue { value: Some(attr_value::Value::Type(dtype)) }), ("value", tensor(proto))],
        );
        if is_weight {
            self.weights.push(Weight { node: self.nodes.len() - 1, tensor: t });
        }
        Ok(name)
    }

    /// An int32 or int64 vector constant.
    pub(crate) fn ints(&mut self, v: &[i64], dtype: DType) -> Result<String> {
        let t = match dtype {
            DType::I32 => Tensor::from_vec(vec![v.len()], v.iter().map(|&x| x as i32).collect::<Vec<_>>())?,
            _ => Tensor::from_vec(vec![v.len()], v.to_vec())?,
        };
        self.constant(&t)
    }

    /// An int32 scalar constant.
    pub(crate) fn i32_scalar(&mut self, v: i64) -> Result<String> {
        self.constant(&Tensor::scalar(v as i32))
    }

    /// A scalar constant of `dtype`.
    pub(crate) fn scalar(&mut self, v: f64, dtype: DType) -> Result<String> {
        let t = scalar_tensor(v, dtype)?;
        self.constant(&t)
    }

    /// The element type of a canonical value.
    pub(crate) fn dtype(&self, name: &str) -> Result<DType> {
        if let Some(t) = self.consts.get(name) {
            return Ok(t.dtype());
        }
        self.types
            .get(name)
            .and_then(ir::infer::Known::dtype)
            .ok_or_else(|| Error::invalid(format!("value '{name}': element type unknown")))
    }

    /// The rank of a canonical value.
    pub(crate) fn rank(&self, name: &str) -> Option<usize> {
        if let Some(t) = self.consts.get(name) {
            return Some(t.shape().len());
        }
        self.types.get(name).and_then(ir::infer::Known::rank)
    }

    /// The static dims of a canonical value (`None` per unknown dim).
    pub(crate) fn dims(&self, name: &str) -> Option<Vec<Option<u64>>> {
        if let Some(t) = self.consts.get(name) {
            return Some(t.shape().iter().map(|&d| Some(d as u64)).collect());
        }
        self.types.get(name).and_then(ir::infer::Known::shape).map(|s| s.dims().iter().map(ir::Dim::fixed).collect())
    }

    /// The value of a canonical constant (initializer or `Constant` output).
    pub(crate) fn const_value(&self, name: &str) -> Option<&Tensor> {
        self.consts.get(name)
    }

    /// Input `i`'s constant value, if it is one.
    pub(crate) fn const_input(&self, n: &Node, i: usize) -> Option<&Tensor> {
        n.input(i).filter(|s| !s.is_empty()).and_then(|s| self.consts.get(s))
    }

    /// Input `i`'s constant value as integers, if it is constant.
    pub(crate) fn const_ints(&self, n: &Node, i: usize) -> Result<Option<Vec<i64>>> {
        self.const_input(n, i).map(Tensor::to_i64s).transpose()
    }

    /// The name of input `i` (present).
    pub(crate) fn in_name<'n>(&self, n: &'n Node, i: usize) -> Result<&'n str> {
        n.input(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid(format!("{}: input {i} is missing", n.describe())))
    }

    /// Whether input `i` is present.
    pub(crate) fn has_input(n: &Node, i: usize) -> bool {
        n.input(i).is_some_and(|s| !s.is_empty())
    }

    /// A canonical value as written, making the `Const` of a constant on first use.
    pub(crate) fn val(&mut self, name: &str) -> Result<Val> {
        if let Some(v) = self.values.get(name) {
            return Ok(v.clone());
        }
        if let Some(t) = self.consts.get(name).cloned() {
            let saved = std::mem::replace(&mut self.base, name.to_string());
            let c = self.constant(&t);
            self.base = saved;
            let v = Val { t: c?, perm: None };
            self.values.insert(name.to_string(), v.clone());
            return Ok(v);
        }
        Err(Error::invalid(format!("value '{name}' is read before it is written")))
    }

    /// Canonical value `name` in the logical layout.
    pub(crate) fn logical_of(&mut self, name: &str) -> Result<String> {
        let r = self.rank(name).unwrap_or(0);
        self.in_layout_of(name, &layout::identity(r))
    }

    /// Input `i` in the logical layout.
    pub(crate) fn logical(&mut self, n: &Node, i: usize) -> Result<String> {
        let name = self.in_name(n, i)?;
        self.logical_of(name)
    }

    /// Canonical value `name` as the logical tensor transposed by `target`.
    /// Constants are permuted at export time; other values get a `Transpose`.
    pub(crate) fn in_layout_of(&mut self, name: &str, target: &[usize]) -> Result<String> {
        if let Some(t) = self.consts.get(name).cloned().filter(|t| t.shape().len() == target.len())
            && !layout::is_identity(target)
        {
            let p = t.permuted(target)?;
            let saved = std::mem::replace(&mut self.base, name.to_string());
            let c = self.constant(&p);
            self.base = saved;
            return c;
        }
        let v = self.val(name)?;
        let current = v.perm.clone().unwrap_or_else(|| layout::identity(target.len()));
        if current.len() != target.len() {
            if layout::is_identity(&current) && layout::is_identity(target) {
                return Ok(v.t);
            }
            return Err(Error::invalid(format!(
                "value '{name}': layout of rank {} asked as rank {}",
                current.len(),
                target.len()
            )));
        }
        let r = layout::relative(&current, target);
        if layout::is_identity(&r) {
            return Ok(v.t);
        }
        if let Some(shape) = self.reshape_for(name, &current, target) {
            // Only size-1 axes move: the bytes are already in order.
            let dtype = self.tf_dtype_of(name)?;
            let s = self.ints(&shape, DType::I64)?;
            return Ok(self.op("Reshape", vec![v.t, s], vec![("T", ty(dtype)?), ("Tshape", ty(DType::I64)?)]));
        }
        self.transpose(&v.t, &r, name)
    }

    /// The target shape if going from layout `current` to `target` moves
    /// only size-1 axes (then a `Reshape` does it); at most one dim unknown.
    fn reshape_for(&self, name: &str, current: &[usize], target: &[usize]) -> Option<Vec<i64>> {
        let dims = self.dims(name)?;
        // Layouts are permutations of the value's axes; a value whose known
        // rank disagrees (a fuzzed graph) takes the Transpose path.
        if current.iter().chain(target).any(|&a| a >= dims.len()) {
            return None;
        }
        let big = |order: &[usize]| -> Vec<usize> { order.iter().copied().filter(|&a| dims[a] != Some(1)).collect() };
        if big(current) != big(target) || target.iter().filter(|&&a| dims[a].is_none()).count() > 1 {
            return None;
        }
        Some(target.iter().map(|&a| dims[a].map_or(-1, |d| d as i64)).collect())
    }

    /// Input `i` as the logical tensor transposed by `target`.
    pub(crate) fn in_layout(&mut self, n: &Node, i: usize, target: &[usize]) -> Result<String> {
        let name = self.in_name(n, i)?;
        self.in_layout_of(name, target)
    }

    /// A `Transpose` of TF tensor `t` by `perm` (made once per tensor and perm).
    pub(crate) fn transpose(&mut self, t: &str, perm: &[usize], value: &str) -> Result<String> {
        let key = (t.to_string(), perm.to_vec());
        if let Some(done) = self.transposes.get(&key) {
            return Ok(done.clone());
        }
        let dtype = self.tf_dtype_of(value)?;
        let p = self.ints(&perm.iter().map(|&x| x as i64).collect::<Vec<_>>(), DType::I32)?;
        let out = self.op("Transpose", vec![t.to_string(), p], vec![("T", ty(dtype)?), ("Tperm", ty(DType::I32)?)]);
        self.transposes.insert(key, out.clone());
        Ok(out)
    }

    /// The element type a value has once written (4-bit constants are widened).
    fn tf_dtype_of(&self, name: &str) -> Result<DType> {
        Ok(match self.dtype(name)? {
            DType::I4 => DType::I8,
            DType::U4 => DType::U8,
            d => d,
        })
    }

    /// The layout of a written value (`None` = logical).
    pub(crate) fn perm_of(&self, name: &str) -> Option<Vec<usize>> {
        self.values.get(name).and_then(|v| v.perm.clone()).filter(|p| !layout::is_identity(p))
    }

    /// Binds output `i` of `n` to TF tensor `t` in the logical layout.
    pub(crate) fn bind(&mut self, n: &Node, i: usize, t: String) {
        self.bind_perm(n, i, t, None);
    }

    /// Binds output `i` of `n` to TF tensor `t` holding the logical tensor transposed by `perm`.
    pub(crate) fn bind_perm(&mut self, n: &Node, i: usize, t: String, perm: Option<Vec<usize>>) {
        if let Some(o) = n.output(i).filter(|o| !o.is_empty()) {
            let perm = perm.filter(|p| !layout::is_identity(p));
            self.values.insert(o.to_string(), Val { t, perm });
        }
    }

    /// Records a constant output (a `Constant` node), written when first read.
    pub(crate) fn bind_const(&mut self, n: &Node, t: Tensor) {
        if let Some(o) = n.output(0) {
            self.consts.insert(o.to_string(), t);
        }
    }

    /// The output's name.
    pub(crate) fn out_name<'n>(&self, n: &'n Node, i: usize) -> &'n str {
        n.output(i).unwrap_or("")
    }
}

/// TF node names allow `[A-Za-z0-9.][A-Za-z0-9_./-]*`; anything else becomes `_`.
pub(crate) fn tf_name(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "_./-".contains(c) { c } else { '_' }).collect();
    if out.is_empty() || !out.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.') {
        out.insert(0, 'n');
    }
    out
}

/// A `TensorShapeProto` of static dims.
pub(crate) fn shape_proto(dims: &[usize]) -> TensorShapeProto {
    crate::bundle::write::shape_proto(dims)
}

/// A `TensorShapeProto` with -1 for unknown dims.
pub(crate) fn dyn_shape_proto(dims: &[Option<u64>]) -> TensorShapeProto {
    TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| tensor_shape_proto::Dim { size: d.map_or(-1, |x| x as i64), name: String::new() })
            .collect(),
        unknown_rank: false,
    }
}

/// A `type` attribute.
pub(crate) fn ty(dtype: DType) -> Result<AttrValue> {
    let code = crate::dtype::from_ir(dtype).ok_or_else(|| Error::invalid(format!("TensorFlow has no {dtype} type")))?;
    Ok(AttrValue { value: Some(attr_value::Value::Type(code)) })
}

/// An `int` attribute.
pub(crate) fn int_attr(v: i64) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::I(v)) }
}

/// A `float` attribute.
pub(crate) fn float_attr(v: f32) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::F(v)) }
}

/// A `bool` attribute.
pub(crate) fn bool_attr(v: bool) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::B(v)) }
}

/// A `string` attribute.
pub(crate) fn str_attr(v: &str) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::S(Bytes::copy_from_slice(v.as_bytes()))) }
}

/// A `list(int)` attribute.
pub(crate) fn ints_attr(v: &[i64]) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::List(attr_value::ListValue { i: v.to_vec(), ..Default::default() })) }
}

/// A `list(type)` attribute.
pub(crate) fn types_attr(v: &[DType]) -> Result<AttrValue> {
    let codes = v
        .iter()
        .map(|&d| crate::dtype::from_ir(d).ok_or_else(|| Error::invalid(format!("TensorFlow has no {d} type"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(AttrValue {
        value: Some(attr_value::Value::List(attr_value::ListValue { r#type: codes, ..Default::default() })),
    })
}

/// A `shape` attribute.
pub(crate) fn shape_attr(s: TensorShapeProto) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::Shape(s)) }
}

/// A `tensor` attribute.
pub(crate) fn tensor(t: TensorProto) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::Tensor(t)) }
}

pub(crate) use ir::build::scalar_tensor;

/// A 4-bit tensor widened to 8 bits (TensorFlow's int4 kernels are few;
/// an int8 constant + `Cast` keeps the file small and runs everywhere).
/// The IR packs two elements per byte, low nibble first.
pub(crate) fn widen_4bit(t: &Tensor) -> Result<Tensor> {
    let raw = t.raw().ok_or_else(|| Error::invalid("a 4-bit tensor has no raw bytes"))?.as_bytes();
    let n = t.numel();
    if raw.len() < n.div_ceil(2) {
        return Err(Error::invalid(format!("a 4-bit tensor of {n} elements has {} bytes", raw.len())));
    }
    let nibble = |i: usize| (raw[i / 2] >> (4 * (i % 2))) & 0x0f;
    match t.dtype() {
        // Sign-extend from bit 3.
        DType::I4 => {
            Tensor::from_vec(t.shape().to_vec(), (0..n).map(|i| ((nibble(i) << 4) as i8) >> 4).collect::<Vec<_>>())
        }
        _ => Tensor::from_vec(t.shape().to_vec(), (0..n).map(nibble).collect::<Vec<_>>()),
    }
}

/// Fails for an attribute value TensorFlow cannot express.
pub(crate) fn unsupported(n: &Node, what: &str) -> Error {
    Error::invalid(format!("{}: {what} has no TensorFlow equivalent", n.describe()))
}

/// Every node whose op has no rule (or that carries a subgraph), all listed.
pub fn check(model: &Model) -> Result<()> {
    let mut bad: Vec<(&str, &str, &str)> = Vec::new();
    check_nodes(&model.graph, &mut bad);
    if !bad.is_empty() {
        return Err(Error::unsupported_ops("tf", bad));
    }
    for v in model.graph.inputs.iter().chain(&model.graph.outputs) {
        if let Some(d) = v.dtype()
            && crate::dtype::from_ir(d).is_none()
        {
            return Err(Error::invalid(format!("value '{}': TensorFlow has no {d} type", v.name)));
        }
    }
    Ok(())
}

fn check_nodes<'g>(g: &'g Graph, bad: &mut Vec<(&'g str, &'g str, &'g str)>) {
    for n in &g.nodes {
        let canonical = ir::opset::is_canonical(&n.domain) && n.domain != ir::opset::ONNX_ML_DOMAIN;
        let has_subgraph = n.subgraphs().next().is_some();
        // Only If and Loop have a rule that writes bodies.
        let body_ok = !has_subgraph || matches!(n.op.as_str(), "If" | "Loop");
        if !canonical || !body_ok || rule_for(&n.op).is_none() {
            bad.push((&n.op, &n.domain, &n.name));
        }
        for sub in n.subgraphs() {
            check_nodes(sub, bad);
        }
    }
}

/// The `-O` keys the TensorFlow writers read ([`Options::from`]).
pub(crate) const OPTION_NAMES: &[&str] = &["output-layout"];

/// Export options read from `-O key=value`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// `output-layout=nhwc`: 4-D NCHW inputs and outputs are exposed as NHWC.
    pub(crate) nhwc_interface: bool,
}

impl Options {
    pub(crate) fn from(options: &ir::ExportOptions) -> Result<Options> {
        ir::check_format_options("tf", "-O", &options.format_options, OPTION_NAMES)?;
        let nhwc_interface = match options.format_options.get("output-layout").map(String::as_str) {
            None | Some("nchw") | Some("source") => false,
            Some("nhwc") => true,
            Some(o) => return Err(Error::usage(format!("output-layout={o}: expected nhwc or nchw"))),
        };
        Ok(Options { nhwc_interface })
    }
}

/// An interface tensor: its TF name, dtype and TF-side dims.
#[derive(Debug, Clone)]
pub(crate) struct Port {
    pub(crate) key: String,
    pub(crate) tensor: String,
    pub(crate) dtype: DType,
    pub(crate) dims: Option<Vec<Option<u64>>>,
}

/// The built graph: nodes, weights, inputs and outputs.
pub(crate) struct Built {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) library: Vec<crate::generated::tensorflow::FunctionDef>,
    pub(crate) weights: Vec<Weight>,
    pub(crate) inputs: Vec<Port>,
    pub(crate) outputs: Vec<Port>,
}

fn nhwc_dims(d: &[Option<u64>]) -> Vec<Option<u64>> {
    layout::NHWC.iter().map(|&i| d[i]).collect()
}

/// Builds the TF nodes of `model`.
pub(crate) fn build(model: &Model, opts: Options) -> Result<Built> {
    check(model)?;
    let densified;
    let model = if model.graph.has_sparse_initializers() {
        let mut m = model.clone();
        m.graph.densify_sparse_initializers()?;
        densified = m;
        &densified
    } else {
        model
    };
    let g = &model.graph;
    let mut ex = Ex::new(model);
    // Interface names are taken first so they stay as the model has them.
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for v in g.inputs.iter().filter(|v| !g.initializers.contains_key(&v.name)) {
        ex.names.take(&tf_name(&v.name));
    }
    for v in &g.outputs {
        ex.names.take(&tf_name(&v.name));
    }
    for v in g.inputs.iter().filter(|v| !g.initializers.contains_key(&v.name)) {
        let dtype = v.dtype().ok_or_else(|| Error::invalid(format!("graph input '{}' has no element type", v.name)))?;
        let dims: Option<Vec<Option<u64>>> = v.shape().map(|s| s.dims().iter().map(ir::Dim::fixed).collect());
        let nhwc = opts.nhwc_interface && dims.as_ref().is_some_and(|d| d.len() == 4);
        let tf_dims = dims.as_ref().map(|d| if nhwc { nhwc_dims(d) } else { d.clone() });
        let name = tf_name(&v.name);
        let mut attrs = vec![("dtype".to_string(), ty(dtype)?)];
        if let Some(d) = &tf_dims {
            attrs.push(("shape".to_string(), shape_attr(dyn_shape_proto(d))));
        }
        ex.nodes.push(NodeDef {
            name: name.clone(),
            op: "Placeholder".into(),
            input: Vec::new(),
            device: String::new(),
            attr: attrs.into_iter().collect(),
        });
        // 4-bit values are held widened to 8 bits inside the graph.
        let held = if matches!(dtype, DType::I4 | DType::U4) {
            let wide = ex.tf_dtype_of(&v.name)?;
            ex.op("Cast", vec![name.clone()], vec![("SrcT", ty(dtype)?), ("DstT", ty(wide)?)])
        } else {
            name.clone()
        };
        ex.values.insert(v.name.clone(), Val { t: held, perm: nhwc.then(|| layout::NHWC.to_vec()) });
        inputs.push(Port { key: v.name.clone(), tensor: format!("{name}:0"), dtype, dims: tf_dims });
    }
    ex.build_nodes(&g.nodes)?;
    for v in &g.outputs {
        let dims = ex.dims(&v.name);
        let rank = ex.rank(&v.name);
        let nhwc = opts.nhwc_interface && rank == Some(4);
        let t = if nhwc { ex.in_layout_of(&v.name, &layout::NHWC)? } else { ex.logical_of(&v.name)? };
        let dtype = ex.tf_dtype_of(&v.name).or_else(|_| {
            v.dtype().ok_or_else(|| Error::invalid(format!("graph output '{}' has no element type", v.name)))
        })?;
        let name = tf_name(&v.name);
        // A 4-bit output, held in 8 bits, is declared as what it is.
        let (op, attr, dtype) = match v.dtype() {
            Some(four @ (DType::I4 | DType::U4)) => {
                ("Cast", vec![("SrcT".to_string(), ty(dtype)?), ("DstT".to_string(), ty(four)?)], four)
            }
            _ => ("Identity", vec![("T".to_string(), ty(dtype)?)], dtype),
        };
        ex.nodes.push(NodeDef {
            name: name.clone(),
            op: op.into(),
            input: vec![t],
            device: String::new(),
            attr: attr.into_iter().collect(),
        });
        let tf_dims = dims.map(|d| if nhwc { nhwc_dims(&d) } else { d });
        outputs.push(Port { key: v.name.clone(), tensor: format!("{name}:0"), dtype, dims: tf_dims });
    }
    prune(&mut ex, &outputs);
    Ok(Built { nodes: ex.nodes, library: ex.library, weights: ex.weights, inputs, outputs })
}

/// Drops nodes no output depends on (constants a rule folded), keeping order.
fn prune(ex: &mut Ex<'_>, outputs: &[Port]) {
    let index: HashMap<&str, usize> = ex.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    let node_of = |t: &str| t.trim_start_matches('^').split(':').next().unwrap_or("").to_string();
    let mut live = vec![false; ex.nodes.len()];
    let mut stack: Vec<usize> =
        outputs.iter().filter_map(|p| index.get(node_of(&p.tensor).as_str()).copied()).collect();
    // Placeholders stay even when unread: they are the signature's inputs.
    stack.extend(ex.nodes.iter().enumerate().filter(|(_, n)| n.op == "Placeholder").map(|(i, _)| i));
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut live[i], true) {
            continue;
        }
        for inp in &ex.nodes[i].input {
            if let Some(&j) = index.get(node_of(inp).as_str()) {
                stack.push(j);
            }
        }
    }
    let mut new_index = vec![usize::MAX; ex.nodes.len()];
    let mut kept = Vec::new();
    for (i, n) in std::mem::take(&mut ex.nodes).into_iter().enumerate() {
        if live[i] {
            new_index[i] = kept.len();
            kept.push(n);
        }
    }
    ex.nodes = kept;
    ex.weights.retain_mut(|w| {
        w.node = new_index[w.node];
        w.node != usize::MAX
    });
}

#[cfg(test)]
mod rule_table_tests {
    #[test]
    fn one_rule_per_op() {
        let rules = super::rules();
        let mut ops: Vec<&str> = rules.iter().map(|r| r.onnx).collect();
        ops.dedup();
        assert_eq!(ops.len(), rules.len(), "an op has two export rules; rule_for would pick one silently");
    }
}
