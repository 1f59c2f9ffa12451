//! IR → OpenVINO IR v11.
//!
//! Each canonical node is turned into one or more layers by the rule of its
//! op (one table, [`RULES`], filled by the op-family modules). Layers are
//! collected in a small builder that tracks, for every produced port, the
//! element type and rank (needed to pick attributes and port precisions);
//! then the `.bin` is streamed tensor by tensor straight from the weights'
//! buffers and the `.xml` is written, both atomically.

mod control;
mod math;
mod nn;
pub(crate) mod quant;
mod reduce;
mod shape;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use indexmap::IndexMap;
use ir::{AttrKind, Attribute, DType, Dim, Error, ExportReport, Graph, Model, Node, Result, Tensor};

use crate::dtype;
use crate::xml::{self, Edge, Layer, Net, Port};

/// How one canonical op is written: the op, what it becomes, and the builder.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The canonical (ONNX) op type.
    pub onnx: &'static str,
    /// The OpenVINO layer(s) it becomes, with opset, e.g. `Convolution-1 (+ Add-1 for the bias)`.
    pub openvino: &'static str,
    /// Builds the layers.
    pub(crate) build: fn(&mut Ex<'_>, &Node) -> Result<()>,
}

/// Every export rule, all families together.
pub fn rules() -> Vec<Rule> {
    let mut v = Vec::new();
    v.extend_from_slice(math::RULES);
    v.extend_from_slice(nn::RULES);
    v.extend_from_slice(shape::RULES);
    v.extend_from_slice(reduce::RULES);
    v.extend_from_slice(quant::RULES);
    v.extend_from_slice(control::RULES);
    v.sort_by_key(|r| r.onnx);
    v
}

/// The rule for `op`. The table is built once: export looks a rule up per node.
fn rule_for(op: &str) -> Option<Rule> {
    static BY_OP: std::sync::OnceLock<std::collections::HashMap<&'static str, Rule>> = std::sync::OnceLock::new();
    BY_OP.get_or_init(|| rules().into_iter().map(|r| (r.onnx, r)).collect()).get(op).copied()
}

/// A produced output: layer index and output index within that layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Src {
    layer: usize,
    port: usize,
}

/// An output port being built.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutPort {
    dtype: Option<DType>,
    rank: Option<usize>,
    dims: Option<Vec<Dim>>,
    names: Vec<String>,
}

/// A layer being built.
#[derive(Debug, Clone)]
pub(crate) struct OutLayer {
    name: String,
    kind: &'static str,
    version: &'static str,
    data: Vec<(String, String)>,
    inputs: Vec<Src>,
    outputs: Vec<OutPort>,
    constant: Option<Tensor>,
    /// Bodies and port maps of `If`/`Loop`.
    sub: Option<Box<Sub>>,
}

/// What an `If`/`Loop` layer carries besides ports: its bodies (layers
/// already pruned, so ids are final), port maps and back edges.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sub {
    /// `(tag, layers)`: `body`, or `then_body` and `else_body`.
    pub(crate) bodies: Vec<(&'static str, Vec<OutLayer>)>,
    /// `(tag, entries)`: `port_map`, or `then_port_map` and `else_port_map`.
    pub(crate) port_maps: Vec<(&'static str, Vec<xml::PortMapEntry>)>,
    /// Body `Result` id → body `Parameter` id.
    pub(crate) back_edges: Vec<(u64, u64)>,
}

/// A body built by [`Ex::body`]: its layers and the ids of its
/// `Parameter`s (in the order asked) and `Result`s (one per graph output).
pub(crate) struct Body {
    pub(crate) layers: Vec<OutLayer>,
    pub(crate) params: Vec<u64>,
    pub(crate) results: Vec<u64>,
}

/// A body `Parameter` to create: value name, element type, known dims or rank.
pub(crate) struct BodyParam {
    pub(crate) name: String,
    pub(crate) dtype: DType,
    pub(crate) dims: Option<Vec<Dim>>,
    pub(crate) rank: Option<usize>,
}

/// The export builder handed to every rule.
pub(crate) struct Ex<'m> {
    model: &'m Model,
    /// The graph being written: the model's, or an `If`/`Loop` body.
    graph: &'m Graph,
    layers: Vec<OutLayer>,
    values: HashMap<String, Src>,
    /// Known shapes of values (graph inputs, outputs, value_info).
    known: HashMap<String, ir::Shape>,
    /// Base name for helper layers of the node being built.
    base: String,
    /// Index of the first layer made for the node being built.
    node_start: usize,
    counter: usize,
    layer_names: ir::NameGen,
}

/// Element types whose elementwise ops broadcast numpy-style (output rank = max of inputs).
const BROADCASTING: &[&str] = &[
    "Add",
    "Subtract",
    "Multiply",
    "Divide",
    "Power",
    "Maximum",
    "Minimum",
    "SquaredDifference",
    "FloorMod",
    "Mod",
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalXor",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
];

/// Layer types whose output is boolean.
const BOOLEAN: &[&str] = &[
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalXor",
    "LogicalNot",
    "IsNaN",
    "IsInf",
    "IsFinite",
];

/// Formats integers the way OpenVINO writes lists: `1, 2, 3`.
pub(crate) fn list<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Formats a float attribute with enough digits to read back the same `f32`.
pub(crate) fn float(v: f32) -> String {
    format!("{v:?}")
}

impl<'m> Ex<'m> {
    fn new(model: &'m Model, g: &'m Graph) -> Self {
        // Shapes the model declares, completed by `ir::infer` (a weight behind
        // a DequantizeLinear or Cast has no declared shape, but a grouped
        // Convolution needs it). Inference is best effort here: a graph it
        // cannot type is still written from the declared shapes.
        let mut known: HashMap<String, ir::Shape> = HashMap::new();
        if let Ok(types) = ir::infer::infer(g, model.onnx_opset()) {
            for (name, k) in types.iter() {
                if let Some(s) = k.shape() {
                    known.insert(name.to_string(), s.clone());
                }
            }
        }
        for v in g.inputs.iter().chain(&g.outputs).chain(&g.value_info) {
            if let Some(s) = v.shape() {
                known.insert(v.name.clone(), s.clone());
            }
        }
        Ex {
            model,
            graph: g,
            layers: Vec::new(),
            values: HashMap::new(),
            known,
            base: String::new(),
            node_start: 0,
            counter: 0,
            layer_names: ir::NameGen::default(),
        }
    }

    /// The model being exported.
    pub(crate) fn model(&self) -> &'m Model {
        self.model
    }

    /// The graph being written (the model's or a body's).
    pub(crate) fn graph(&self) -> &'m Graph {
        self.graph
    }

    /// Attaches bodies and port maps to the layer producing `s`.
    pub(crate) fn attach(&mut self, s: Src, sub: Sub) {
        self.layers[s.layer].sub = Some(Box::new(sub));
    }

    /// Builds `g` as a body: `params` become `Parameter` layers (bound to
    /// their names), then `g`'s nodes, then one `Result` per graph output;
    /// outputs from index `scan_from` on get an `Unsqueeze` at axis 0 first
    /// (a Loop scan output: OpenVINO concatenates per-iteration slices, ONNX
    /// stacks whole values). The body is pruned so the returned ids are final.
    pub(crate) fn body(&self, g: &'m Graph, params: &[BodyParam], scan_from: usize) -> Result<Body> {
        let mut b = Ex::new(self.model, g);
        let mut param_idx = Vec::new();
        for p in params {
            let shape_text = match (&p.dims, p.rank) {
                (Some(d), _) => d
                    .iter()
                    .map(|d| if d.is_dynamic() { "?".into() } else { dim_text(d) })
                    .collect::<Vec<_>>()
                    .join(","),
                (None, Some(r)) => vec!["?"; r].join(","),
                (None, None) => "...".into(),
            };
            param_idx.push(add_parameter(&mut b, &p.name, p.dtype, shape_text, p.rank, p.dims.clone()));
        }
        build_nodes(&mut b)?;
        let mut result_idx = Vec::new();
        for (j, out) in g.outputs.iter().enumerate() {
            let mut src = b.value(&out.name)?;
            b.bind_name(&out.name, src);
            if j >= scan_from {
                b.base = format!("{}/scan", out.name);
                let axes = b.i64s(&[0]);
                let (d, r) = (b.dtype(src), b.rank(src).map(|r| r + 1));
                src = b.op("Unsqueeze", "opset1", &[], &[src, axes]);
                b.set(src, d, r);
            }
            result_idx.push(add_result(&mut b, src, &out.name));
        }
        let map = prune(&mut b);
        Ok(Body {
            layers: b.layers,
            params: param_idx.iter().map(|&i| map[i] as u64).collect(),
            results: result_idx.iter().map(|&i| map[i] as u64).collect(),
        })
    }

    fn unique_name(&mut self, base: &str) -> String {
        // NameGen, not a per-base counter: `a`, `a` -> `a_1`, then a literal
        // `a_1` must not get `a_1` again.
        self.layer_names.fresh(base)
    }

    /// Adds a layer with `n_out` outputs; returns its output sources. The
    /// output dtype and rank default to input 0's (the common case) or, for
    /// broadcasting ops, the widest input; rules override with [`Ex::set`].
    pub(crate) fn layer(
        &mut self,
        kind: &'static str,
        version: &'static str,
        data: &[(&str, String)],
        inputs: &[Src],
        n_out: usize,
    ) -> Vec<Src> {
        self.counter += 1;
        let name = self.unique_name(&format!("{}/{kind}", self.base));
        let first = inputs.first().map(|s| self.port(*s).clone()).unwrap_or_default();
        let mut rank = first.rank;
        if BROADCASTING.contains(&kind) {
            rank = inputs.iter().map(|s| self.port(*s).rank).try_fold(0usize, |a, r| r.map(|r| a.max(r)));
        }
        let dtype = if BOOLEAN.contains(&kind) { Some(DType::Bool) } else { first.dtype };
        let idx = self.layers.len();
        self.layers.push(OutLayer {
            name,
            kind,
            version,
            data: data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            inputs: inputs.to_vec(),
            outputs: vec![OutPort { dtype, rank, dims: None, names: Vec::new() }; n_out],
            constant: None,
            sub: None,
        });
        (0..n_out).map(|port| Src { layer: idx, port }).collect()
    }

    /// Adds a one-output layer.
    pub(crate) fn op(
        &mut self,
        kind: &'static str,
        version: &'static str,
        data: &[(&str, String)],
        inputs: &[Src],
    ) -> Src {
        self.layer(kind, version, data, inputs, 1)[0]
    }

    /// Overrides the dtype and rank recorded for an output.
    pub(crate) fn set(&mut self, s: Src, dtype: Option<DType>, rank: Option<usize>) -> Src {
        let p = &mut self.layers[s.layer].outputs[s.port];
        p.dtype = dtype;
        p.rank = rank;
        s
    }

    fn port(&self, s: Src) -> &OutPort {
        &self.layers[s.layer].outputs[s.port]
    }

    /// The element type of an output, if known.
    pub(crate) fn dtype(&self, s: Src) -> Option<DType> {
        self.port(s).dtype
    }

    /// The rank of an output, if known.
    ///
    /// Ranks past [`ir::MAX_RANK`] (only a hostile file makes them) count as
    /// unknown, so rules that build per-axis lists never size them by one.
    pub(crate) fn rank(&self, s: Src) -> Option<usize> {
        self.port(s).rank.filter(|&r| r <= ir::MAX_RANK)
    }

    /// The rank of an output, or an error naming the node that needs it.
    pub(crate) fn need_rank(&self, s: Src, node: &Node, what: &str) -> Result<usize> {
        self.rank(s).ok_or_else(|| {
            let why = match self.port(s).rank {
                Some(r) => format!("has rank {r}, more than the {} dimensions supported", ir::MAX_RANK),
                None => "has no known rank (add shape information to the model)".to_string(),
            };
            Error::invalid(format!("{}: {what} {why}", node.describe()))
        })
    }

    /// The shape of an output when every dimension is known.
    ///
    /// A shape whose element count overflows (only a hostile file declares
    /// one) counts as unknown, so rules may multiply its dims freely.
    pub(crate) fn static_shape(&self, s: Src) -> Option<Vec<usize>> {
        let dims: Vec<usize> = match self.constant(s) {
            Some(t) => t.shape().to_vec(),
            None => {
                let dims = self.port(s).dims.as_ref()?;
                dims.iter().map(|d| d.fixed().and_then(|v| usize::try_from(v).ok())).collect::<Option<_>>()?
            }
        };
        ir::checked_numel(&dims)?;
        Some(dims)
    }

    /// The tensor behind an output if it is a `Const` layer.
    pub(crate) fn constant(&self, s: Src) -> Option<&Tensor> {
        self.layers[s.layer].constant.as_ref()
    }

    /// A `Const` layer holding `t` (its bytes are streamed to the `.bin` later).
    pub(crate) fn tensor(&mut self, name: &str, t: Tensor) -> Result<Src> {
        if dtype::element_type(t.dtype()).is_none() || t.raw().is_none() {
            return Err(Error::invalid(format!("constant '{name}': OpenVINO has no {} element type", t.dtype())));
        }
        let name = self.unique_name(name);
        let idx = self.layers.len();
        let dims: Vec<Dim> = t.shape().iter().map(|&d| Dim::Fixed(d as u64)).collect();
        self.layers.push(OutLayer {
            name,
            kind: "Const",
            version: "opset1",
            data: Vec::new(),
            inputs: Vec::new(),
            outputs: vec![OutPort {
                dtype: Some(t.dtype()),
                rank: Some(dims.len()),
                dims: Some(dims),
                names: Vec::new(),
            }],
            constant: Some(t),
            sub: None,
        });
        Ok(Src { layer: idx, port: 0 })
    }

    /// A constant output seen with another shape: the same `Const` layer,
    /// reshaped in place, when nothing has read it yet (so the layer keeps the
    /// initializer's name and no unused copy is written); a new layer otherwise.
    pub(crate) fn reshaped_const(&mut self, s: Src, dims: Vec<usize>) -> Result<Src> {
        let t = self.constant(s).ok_or_else(|| Error::invalid("not a constant"))?.reshaped(dims)?;
        // Names other than initializers bound to the layer (an elided
        // Identity's output: torch.onnx writes one per deduplicated weight)
        // could not be rebuilt later, so their layer must keep its shape.
        let aliased = self.values.iter().any(|(name, v)| *v == s && !self.graph.initializers.contains_key(name));
        if aliased || self.layers.iter().any(|l| l.inputs.contains(&s)) {
            let name = format!("{}/reshaped", self.layers[s.layer].name);
            return self.tensor(&name, t);
        }
        // Later readers of the initializer get a Const of the original shape.
        self.values.retain(|_, v| *v != s);
        let port = &mut self.layers[s.layer].outputs[0];
        port.rank = Some(t.shape().len());
        port.dims = Some(t.shape().iter().map(|&d| Dim::Fixed(d as u64)).collect());
        self.layers[s.layer].constant = Some(t);
        Ok(s)
    }

    /// A 1-D (or, with `scalar`, 0-D) i64 constant.
    pub(crate) fn i64s(&mut self, v: &[i64]) -> Src {
        let base = format!("{}/const", self.base);
        let t = Tensor::from_vec(vec![v.len()], v.to_vec()).expect("length matches");
        self.tensor(&base, t).expect("i64 is an OpenVINO type")
    }

    /// A 0-D i64 constant.
    pub(crate) fn i64_scalar(&mut self, v: i64) -> Src {
        let base = format!("{}/const", self.base);
        self.tensor(&base, Tensor::scalar(v)).expect("i64 is an OpenVINO type")
    }

    /// A scalar of `dtype` (defaulting to f32) with value `v`.
    pub(crate) fn scalar(&mut self, v: f64, dtype: Option<DType>) -> Result<Src> {
        let base = format!("{}/const", self.base);
        let t = ir::build::scalar_tensor(v, dtype.unwrap_or(DType::F32))?;
        self.tensor(&base, t)
    }

    /// The source of a value by name: an already built output, a graph
    /// input, or an initializer (made into a `Const` on first use).
    pub(crate) fn value(&mut self, name: &str) -> Result<Src> {
        if let Some(s) = self.values.get(name) {
            return Ok(*s);
        }
        if let Some(t) = self.graph.initializers.get(name) {
            let s = self.tensor(name, t.clone())?;
            self.layers[s.layer].outputs[0].names.push(name.to_string());
            self.values.insert(name.to_string(), s);
            return Ok(s);
        }
        Err(Error::invalid(format!("value '{name}' is read before it is defined")))
    }

    /// Input `i` of `node`, which must be present.
    pub(crate) fn input(&mut self, node: &Node, i: usize) -> Result<Src> {
        match node.input(i) {
            Some(n) if !n.is_empty() => self.value(n),
            _ => Err(Error::invalid(format!("{}: input {i} is required", node.describe()))),
        }
    }

    /// Input `i` of `node` if present.
    pub(crate) fn opt_input(&mut self, node: &Node, i: usize) -> Result<Option<Src>> {
        match node.input(i) {
            Some(n) if !n.is_empty() => self.value(n).map(Some),
            _ => Ok(None),
        }
    }

    /// Integer values of a constant input (any integer dtype), if it is one.
    pub(crate) fn const_ints(&mut self, node: &Node, i: usize) -> Result<Option<Vec<i64>>> {
        let Some(s) = self.opt_input(node, i)? else { return Ok(None) };
        Ok(self.constant(s).and_then(crate::dtype::ints_of))
    }

    /// Records that output `i` of `node` is `src`, naming the port after it.
    pub(crate) fn bind(&mut self, node: &Node, i: usize, src: Src) {
        let Some(name) = node.output(i).filter(|n| !n.is_empty()) else { return };
        self.bind_name(name, src);
        // The layer producing a node's first output carries the node's name
        // (unless it belongs to an earlier node, as after an elided Identity).
        if i == 0 && src.layer >= self.node_start && self.layers[src.layer].kind != "Const" {
            let friendly = if node.name.is_empty() { name.to_string() } else { node.name.clone() };
            self.layers[src.layer].name = self.unique_name(&friendly);
        }
    }

    fn bind_name(&mut self, name: &str, src: Src) {
        let port = &mut self.layers[src.layer].outputs[src.port];
        if !port.names.iter().any(|n| n == name) {
            port.names.push(name.to_string());
        }
        if let Some(shape) = self.known.get(name) {
            port.rank = Some(shape.rank());
            port.dims = Some(shape.dims().to_vec());
        }
        self.values.insert(name.to_string(), src);
    }
}

/// Checks that every node has a rule and every value type a counterpart.
pub fn check(model: &Model) -> Result<()> {
    let mut bad: Vec<(&str, &str, &str)> = Vec::new();
    check_nodes(&model.graph, &mut bad);
    if !bad.is_empty() {
        return Err(Error::unsupported_ops("openvino", bad));
    }
    for v in model.graph.inputs.iter().chain(&model.graph.outputs) {
        match v.dtype() {
            Some(d) if dtype::element_type(d).is_some() => {}
            Some(d) => return Err(Error::invalid(format!("value '{}': OpenVINO has no {d} element type", v.name))),
            None if model.graph.inputs.contains(v) => {
                return Err(Error::invalid(format!("graph input '{}' has no element type", v.name)));
            }
            None => {}
        }
    }
    Ok(())
}

/// Collects the nodes of `g` (and of the bodies of `If`/`Loop`) with no rule.
fn check_nodes<'g>(g: &'g Graph, bad: &mut Vec<(&'g str, &'g str, &'g str)>) {
    for n in &g.nodes {
        let canonical = ir::opset::is_canonical(&n.domain) && n.domain != ir::opset::ONNX_ML_DOMAIN;
        let has_subgraph = n.attrs.values().any(|a| matches!(a.kind(), AttrKind::Graph | AttrKind::Graphs));
        // Only If and Loop have a rule that writes bodies (Scan and others do not).
        let body_ok = !has_subgraph || matches!(n.op.as_str(), "If" | "Loop");
        if !canonical || !body_ok || rule_for(&n.op).is_none() {
            bad.push((&n.op, &n.domain, &n.name));
        }
        for a in n.attrs.values() {
            if let Attribute::Graph(sub) = a {
                check_nodes(sub, bad);
            }
        }
    }
}

fn dim_text(d: &Dim) -> String {
    match d {
        Dim::Fixed(n) => n.to_string(),
        Dim::Symbolic(_) | Dim::Unknown => "-1".to_string(),
    }
}

/// Adds a `Parameter` layer for `name`; returns its layer index.
fn add_parameter(
    ex: &mut Ex<'_>,
    name: &str,
    dt: DType,
    shape_text: String,
    rank: Option<usize>,
    dims: Option<Vec<Dim>>,
) -> usize {
    let layer_name = ex.unique_name(name);
    let idx = ex.layers.len();
    ex.layers.push(OutLayer {
        name: layer_name,
        kind: "Parameter",
        version: "opset1",
        data: vec![
            ("shape".into(), shape_text),
            ("element_type".into(), dtype::element_type(dt).unwrap_or("f32").into()),
        ],
        inputs: Vec::new(),
        outputs: vec![OutPort { dtype: Some(dt), rank, dims, names: Vec::new() }],
        constant: None,
        sub: None,
    });
    ex.bind_name(name, Src { layer: idx, port: 0 });
    idx
}

/// Adds a `Result` layer reading `src` for the output `name`; returns its index.
fn add_result(ex: &mut Ex<'_>, src: Src, name: &str) -> usize {
    let layer_name = ex.unique_name(&format!("{name}/sink_port_0"));
    ex.layers.push(OutLayer {
        name: layer_name,
        kind: "Result",
        version: "opset1",
        data: Vec::new(),
        inputs: vec![src],
        outputs: Vec::new(),
        constant: None,
        sub: None,
    });
    ex.layers.len() - 1
}

/// Runs the rule of every node of the builder's graph, in order.
fn build_nodes(ex: &mut Ex<'_>) -> Result<()> {
    let g = ex.graph;
    for node in &g.nodes {
        // Already written by an earlier rule (a DequantizeLinear folded into a FakeQuantize).
        if !node.outputs.is_empty() && node.outputs.iter().all(|o| o.is_empty() || ex.values.contains_key(o.as_str())) {
            continue;
        }
        ex.base =
            if node.name.is_empty() { node.outputs.first().cloned().unwrap_or_default() } else { node.name.clone() };
        ex.node_start = ex.layers.len();
        let rule =
            rule_for(&node.op).ok_or_else(|| Error::invalid(format!("{}: no OpenVINO rule", node.describe())))?;
        // An output a rule leaves unbound (a QuantizeLinear folded into a
        // FakeQuantize) is an error only if something reads it; `value` says so.
        (rule.build)(ex, node).map_err(|e| e.context(node.describe()))?;
    }
    Ok(())
}

/// Builds the layers for the whole model.
fn build(model: &Model) -> Result<Ex<'_>> {
    check(model)?;
    let mut ex = Ex::new(model, &model.graph);
    let g = &model.graph;
    for input in &g.inputs {
        if g.initializers.contains_key(&input.name) {
            continue; // an input with a default value is a constant here
        }
        let dt =
            input.dtype().ok_or_else(|| Error::invalid(format!("graph input '{}' has no element type", input.name)))?;
        let shape = input.shape();
        let shape_text = match shape {
            Some(s) => s
                .dims()
                .iter()
                .map(|d| if d.is_dynamic() { "?".into() } else { dim_text(d) })
                .collect::<Vec<_>>()
                .join(","),
            None => "...".to_string(),
        };
        add_parameter(&mut ex, &input.name, dt, shape_text, shape.map(|s| s.rank()), None);
    }
    build_nodes(&mut ex)?;
    for out in &g.outputs {
        let src = ex.value(&out.name)?;
        ex.bind_name(&out.name, src);
        add_result(&mut ex, src, &out.name);
    }
    Ok(ex)
}

/// Drops layers no `Result` depends on (constants a rule replaced), keeping
/// order; returns each old index's new index (`usize::MAX` if dropped).
fn prune(ex: &mut Ex<'_>) -> Vec<usize> {
    let mut live = vec![false; ex.layers.len()];
    for i in (0..ex.layers.len()).rev() {
        if ex.layers[i].kind == "Result" || ex.layers[i].kind == "Parameter" {
            live[i] = true;
        }
        if live[i] {
            for s in &ex.layers[i].inputs {
                live[s.layer] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; ex.layers.len()];
    let mut kept = Vec::new();
    for (i, l) in std::mem::take(&mut ex.layers).into_iter().enumerate() {
        if live[i] {
            new_index[i] = kept.len();
            kept.push(l);
        }
    }
    for l in &mut kept {
        for s in &mut l.inputs {
            s.layer = new_index[s.layer];
        }
    }
    ex.layers = kept;
    new_index
}

/// Bytes of every constant in `layers` and their bodies (for progress).
fn const_bytes(layers: &[OutLayer]) -> u64 {
    layers
        .iter()
        .map(|l| {
            l.constant.as_ref().map_or(0, |t| t.byte_len() as u64)
                + l.sub.as_ref().map_or(0, |s| s.bodies.iter().map(|(_, b)| const_bytes(b)).sum())
        })
        .sum()
}

/// Where constants go: the `.bin` being written, and the offset of every
/// buffer already written (a buffer shared by several `Const`s is written once).
struct BinWriter<'a> {
    file: ir::io::AtomicFile,
    path: &'a Path,
    written: HashMap<(usize, usize), u64>,
    progress: &'a ir::ProgressHandle,
}

/// The largest rank written for a port (ONNX sets no limit; OpenVINO's
/// shapes are small vectors and no model comes near this).
pub(crate) const MAX_PORT_RANK: usize = 64;

/// Turns built layers into XML layers and edges, writing constants to the
/// `.bin`; bodies recurse and share the one `.bin`.
fn lower(layers: &[OutLayer], bin: &mut BinWriter<'_>) -> Result<(Vec<Layer>, Vec<Edge>)> {
    // Ports of unknown sizes are written as one -1 per dimension: a rank
    // inferred from a hostile file (the fuzzers found 2⁴⁰) must not size that.
    for l in layers {
        if let Some(r) = l.outputs.iter().filter_map(|p| p.rank).find(|&r| r > MAX_PORT_RANK) {
            return Err(Error::invalid(format!(
                "'{}': an output of rank {r} (OpenVINO IR takes at most {MAX_PORT_RANK})",
                l.name
            )));
        }
    }
    let mut out_layers = Vec::with_capacity(layers.len());
    let mut edges = Vec::new();
    for (id, l) in layers.iter().enumerate() {
        let mut data: IndexMap<String, String> = l.data.iter().cloned().collect();
        if let Some(t) = &l.constant {
            let raw = t.raw().expect("checked when the layer was made");
            let key = (raw.as_ptr() as usize, raw.len());
            let offset = match bin.written.get(&key) {
                Some(&o) if !raw.is_empty() => o,
                _ => {
                    let o = bin.file.position();
                    let progress = bin.progress;
                    progress.check_cancelled(bin.path)?;
                    raw.write_to(&mut bin.file, |n| progress.advance(n)).map_err(|e| Error::io(bin.path, e))?;
                    bin.written.insert(key, o);
                    o
                }
            };
            data.insert("element_type".into(), dtype::element_type(t.dtype()).unwrap_or_default().into());
            data.insert("shape".into(), list(t.shape()));
            data.insert("offset".into(), offset.to_string());
            data.insert("size".into(), raw.len().to_string());
        }
        let port_of = |s: Src| -> Port {
            let p = &layers[s.layer].outputs[s.port];
            Port {
                id: 0,
                precision: dtype::precision(p.dtype).into(),
                names: Vec::new(),
                // Known rank, unknown sizes: -1 per dimension (OpenVINO re-infers them).
                dims: match (&p.dims, p.rank) {
                    (Some(d), _) => d.iter().map(dim_text).collect(),
                    (None, Some(r)) => vec!["-1".to_string(); r],
                    (None, None) => Vec::new(),
                },
            }
        };
        let mut layer = Layer {
            id: id as u64,
            name: l.name.clone(),
            kind: l.kind.to_string(),
            version: l.version.to_string(),
            data,
            ..Layer::default()
        };
        for (i, s) in l.inputs.iter().enumerate() {
            layer.inputs.push(Port { id: i as u64, ..port_of(*s) });
            edges.push(Edge {
                from_layer: s.layer as u64,
                from_port: (layers[s.layer].inputs.len() + s.port) as u64,
                to_layer: id as u64,
                to_port: i as u64,
            });
        }
        for (j, _) in l.outputs.iter().enumerate() {
            let mut p = port_of(Src { layer: id, port: j });
            p.id = (l.inputs.len() + j) as u64;
            p.names = l.outputs[j].names.clone();
            layer.outputs.push(p);
        }
        if let Some(sub) = &l.sub {
            for (tag, body) in &sub.bodies {
                let (bl, mut be) = lower(body, bin)?;
                be.sort_by_key(|e| (e.to_layer, e.to_port));
                layer.bodies.push((tag.to_string(), Net { layers: bl, edges: be, ..Net::default() }));
            }
            layer.port_maps = sub.port_maps.iter().map(|(t, v)| (t.to_string(), v.clone())).collect();
            layer.back_edges = sub.back_edges.clone();
            layer.has_body = true;
        }
        out_layers.push(layer);
    }
    Ok((out_layers, edges))
}

/// Writes `model` as `path` (`.xml`) and its `.bin` beside it.
pub fn export(model: &Model, path: &Path, options: &ir::ExportOptions) -> Result<ExportReport> {
    // OpenVINO IR has no sparse constants: sparse initializers are written
    // dense. Cloning a model shares its tensor buffers.
    let densified;
    let model = if model.graph.has_sparse_initializers() {
        let mut m = model.clone();
        m.graph.densify_sparse_initializers()?;
        densified = m;
        &densified
    } else {
        model
    };
    let mut ex = build(model)?;
    prune(&mut ex);
    let bin_path = path.with_extension("bin");
    let file = ir::io::AtomicFile::create(&bin_path)?;
    options.progress.begin("writing weights", const_bytes(&ex.layers));
    let mut bin = BinWriter { file, path: &bin_path, written: HashMap::new(), progress: &options.progress };
    let mut net = Net { name: model.graph.name.clone(), version: 11, ..Net::default() };
    if net.name.is_empty() {
        net.name = "model".into();
    }
    let (layers, edges) = lower(&ex.layers, &mut bin)?;
    net.layers = layers;
    net.edges = edges;
    options.progress.end();
    // OpenVINO orders edges by consumer; keep that so diffs against its files stay small.
    net.edges.sort_by_key(|e| (e.to_layer, e.to_port));
    for (k, v) in &model.metadata {
        net.rt_info.insert(k.clone(), v.clone());
    }
    let mut text = String::new();
    xml::write(&net, &mut text);
    let mut xml_file = ir::io::AtomicFile::create(path)?;
    xml_file.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))?;
    let sizes = ir::io::commit_all(vec![bin.file, xml_file])?;
    Ok(ExportReport { files: vec![(path.to_path_buf(), sizes[1]), (bin_path, sizes[0])] })
}

/// Reads an int attribute, with a default.
pub(crate) fn int(node: &Node, name: &str, default: i64) -> Result<i64> {
    node.attr_int(name, default)
}

/// Reads an ints attribute, or `None`.
pub(crate) fn ints(node: &Node, name: &str) -> Result<Option<Vec<i64>>> {
    Ok(node.attr_ints(name)?.map(<[i64]>::to_vec))
}

/// A string attribute, with a default.
pub(crate) fn string<'a>(node: &'a Node, name: &str, default: &'a str) -> Result<&'a str> {
    node.attr_str(name, default)
}

/// Fails for an attribute value this exporter cannot express.
pub(crate) fn unsupported_attr(node: &Node, what: &str) -> Error {
    Error::invalid(format!("{}: {what} has no OpenVINO equivalent", node.describe()))
}

/// An attribute as a tensor (`Constant`'s `value`, `ConstantOfShape`'s `value`).
pub(crate) fn tensor_attr<'a>(node: &'a Node, name: &str) -> Option<&'a Tensor> {
    match node.attr(name) {
        Some(Attribute::Tensor(t)) => Some(t),
        _ => None,
    }
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
