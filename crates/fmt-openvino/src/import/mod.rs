//! OpenVINO IR → IR: stage two of import.
//!
//! The parsed [`Net`] is checked as a graph first (unique ids, edges that
//! name existing ports, every input connected, no cycle), then every layer's
//! port counts against its rule's [`Arity`], so no rule (nor a pattern
//! looking at a neighbour) ever sees a layer with missing ports. Then the
//! layers are walked in topological order through one table
//! ([`import_rules`]), filled by the op-family modules: `Parameter` →
//! graph input, `Const` → initializer (a view into the mapped `.bin`),
//! `Result` → graph output, every other layer → canonical nodes. The
//! int8/int4 weight decompression pattern becomes `DequantizeLinear` (see
//! `quant.rs`).
//!
//! Indexing is denied in this module and every rule module below it: ports
//! are read with [`port`], dims and attribute lists with `get`, so a layer
//! the arity check did not foresee is an error naming it, never a panic.
#![deny(clippy::indexing_slicing)]

mod control;
mod graph;
mod math;
mod nn;
mod quant;
mod reduce;
mod shape;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use ir::build::GraphBuilder;
use ir::{Buffer, DType, Dim, Error, ImportOptions, Model, NameGen, Node, Result, Shape, Tensor, ValueInfo};

use crate::dtype;
use crate::xml::{self, Layer, Net};

/// The canonical opset imported models follow (blocked `DequantizeLinear`
/// needs 21; `Gelu` 20; reductions with an axes input 18).
pub const OPSET: i64 = 21;

/// How many ports one side of an op has (the fact is `ir::schema::Ports`).
pub use ir::schema::Ports;

/// The input and output ports of a layer type, as OpenVINO's op
/// specification defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arity {
    /// Input ports (all of them must be connected).
    pub inputs: Ports,
    /// Output ports.
    pub outputs: Ports,
}

impl Arity {
    /// Any ports on each side.
    pub const fn new(inputs: Ports, outputs: Ports) -> Self {
        Arity { inputs, outputs }
    }

    /// `n` inputs and one output, the common case.
    pub const fn ins(n: usize) -> Self {
        Arity::new(Ports::exactly(n), Ports::exactly(1))
    }

    /// `min` to `max` inputs (the last ones optional) and one output.
    pub const fn ins_between(min: usize, max: usize) -> Self {
        Arity::new(Ports::between(min, max), Ports::exactly(1))
    }
}

/// Builds the nodes of one layer; `ins` are its input values in port order,
/// `outs` the names its outputs must get. The arity is checked before.
pub(crate) type Build = fn(&mut Cx<'_>, &Layer, &[String], &[String]) -> Result<()>;

/// How one OpenVINO layer type is read.
#[derive(Debug, Clone, Copy)]
pub struct ImportRule {
    /// The OpenVINO layer type.
    pub openvino: &'static str,
    /// The canonical op(s) it becomes.
    pub onnx: &'static str,
    /// Its ports, unless [`ImportRule::versions`] says otherwise.
    pub arity: Arity,
    /// Versions (the `version` attribute, e.g. `opset1`) whose ports differ.
    pub versions: &'static [(&'static str, Arity)],
    /// Whether the layer has bodies (`If`, `Loop`); any other layer with a
    /// body is not supported.
    pub bodies: bool,
    pub(crate) build: Build,
}

impl ImportRule {
    /// A rule for a layer without bodies whose ports do not depend on its version.
    pub(crate) const fn new(openvino: &'static str, onnx: &'static str, arity: Arity, build: Build) -> Self {
        ImportRule { openvino, onnx, arity, versions: &[], bodies: false, build }
    }

    /// The same rule with the ports of some versions given.
    pub(crate) const fn by_version(self, versions: &'static [(&'static str, Arity)]) -> Self {
        ImportRule { versions, ..self }
    }

    /// The same rule for a layer with bodies.
    pub(crate) const fn with_bodies(self) -> Self {
        ImportRule { bodies: true, ..self }
    }

    /// The ports of the layer at `version`.
    pub fn arity_of(&self, version: &str) -> Arity {
        self.versions.iter().find(|(v, _)| *v == version).map_or(self.arity, |(_, a)| *a)
    }
}

/// Every import rule, sorted by OpenVINO layer type.
pub fn import_rules() -> Vec<ImportRule> {
    let mut v = Vec::new();
    v.extend_from_slice(graph::RULES);
    v.extend_from_slice(math::RULES);
    v.extend_from_slice(nn::RULES);
    v.extend_from_slice(reduce::RULES);
    v.extend_from_slice(shape::RULES);
    v.extend_from_slice(quant::RULES);
    v.extend_from_slice(control::RULES);
    v.sort_by_key(|r| r.openvino);
    v
}

/// The domain of layers kept as they are (`ir::opset::ORIGIN_DOMAINS`).
const ORIGIN: &str = "openvino";

/// Reads `path` (`.xml`) and the `.bin` beside it.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Model> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let net = xml::parse_with(&text, path, &options.limits)?;
    let bin_path = path.with_extension("bin");
    let needs_bin = has_const(&net);
    let bin = if needs_bin {
        if !bin_path.is_file() {
            return Err(Error::malformed(path, format!("the weights file {} is missing", bin_path.display())));
        }
        // The `.bin` is named after the `.xml`, but may be a symbolic link:
        // it is confined to the model's folder like any path a file names.
        let name = bin_path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        ir::io::resolve_inside(ir::io::parent_dir(path), name)
            .map_err(|e| Error::malformed(path, format!("the weights file: {e}")))?;
        Some(Buffer::map_file(&bin_path)?)
    } else {
        None
    };
    translate_with(&net, bin.as_ref(), path, options.keep_unknown_ops)
}

/// Whether `net` or any body in it has a `Const` (which needs the `.bin`).
fn has_const(net: &Net) -> bool {
    let mut nets = vec![net];
    while let Some(n) = nets.pop() {
        for l in &n.layers {
            if l.kind == "Const" {
                return true;
            }
            nets.extend(l.bodies.iter().map(|(_, b)| b));
        }
    }
    false
}

/// The translation context handed to every rule.
pub(crate) struct Cx<'a> {
    path: &'a Path,
    bin_path: PathBuf,
    bin: Option<&'a Buffer>,
    /// The graph being built, with its names and the dtype of every value.
    pub(crate) b: GraphBuilder,
    /// `<dim>`s of the port that produced a value.
    dims: HashMap<String, Vec<String>>,
    /// Layers by id.
    layers: HashMap<u64, &'a Layer>,
    /// For each (layer id, input index): the producing (layer id, output index).
    sources: Sources,
    /// Consumers of each (layer id, output index).
    consumers: HashMap<(u64, usize), Vec<(u64, usize)>>,
    /// Value name of each (layer id, output index).
    names: HashMap<(u64, usize), String>,
    /// Layers already translated as part of another layer's pattern.
    done: HashSet<u64>,
    /// `Result` layers (id, value read), in walk order.
    results: Vec<(u64, String)>,
    /// Layer being translated (for helper names and errors).
    current: String,
    /// Keep layer types without a rule as `openvino`-domain nodes.
    keep_unknown: bool,
}

impl<'a> Cx<'a> {
    /// A malformed-file error naming the file and the layer.
    pub(crate) fn bad(&self, layer: &Layer, msg: impl fmt::Display) -> Error {
        bad_layer(self.path, layer, msg)
    }

    /// Adds a one-output helper node of `op`, named after the current
    /// layer, and returns its output name.
    pub(crate) fn helper(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<(&str, ir::Attribute)>,
        dtype: Option<DType>,
    ) -> String {
        let base = format!("{}/{op}", self.current);
        self.b.op(op, &base, inputs, attrs, dtype)
    }

    /// `Cast` of `v` to `to`, named after the current layer.
    pub(crate) fn cast(&mut self, v: &str, to: DType) -> String {
        let base = format!("{}/Cast", self.current);
        self.b.cast(&base, v, to)
    }

    /// Adds a node named after the layer producing exactly `outs`.
    pub(crate) fn emit(
        &mut self,
        layer: &Layer,
        op: &str,
        inputs: Vec<Option<String>>,
        outs: &[String],
        attrs: Vec<(&str, ir::Attribute)>,
    ) {
        let name = self.b.fresh_node(&layer.name);
        let mut n = Node { op: op.to_string(), name, inputs, outputs: outs.to_vec(), ..Node::default() };
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v);
        }
        self.b.add_node(n, None);
    }

    /// Keeps `layer` as it is: a node of the `openvino` origin domain with
    /// the layer's type, its `<data>` attributes as strings and its opset
    /// as `version`, reading and producing the layer's ports.
    pub(crate) fn emit_origin(&mut self, layer: &Layer, ins: Vec<String>, outs: &[String]) {
        let name = self.b.fresh_node(&layer.name);
        let mut n = Node {
            op: layer.kind.clone(),
            domain: ORIGIN.to_string(),
            name,
            inputs: ins.into_iter().map(Some).collect(),
            outputs: outs.to_vec(),
            ..Node::default()
        };
        for (k, v) in &layer.data {
            n.attrs.insert(k.clone(), ir::Attribute::String(v.clone()));
        }
        n.attrs.insert("version".into(), ir::Attribute::String(layer.version.clone()));
        self.b.add_node(n, None);
    }

    /// Adds an initializer under a fresh name.
    pub(crate) fn constant(&mut self, base: &str, t: Tensor) -> String {
        self.b.constant(base, t)
    }

    /// A scalar constant `v` of `like`'s element type (f32 when unknown).
    pub(crate) fn scalar_like(&mut self, l: &Layer, like: &str, v: f64) -> Result<String> {
        let d = self.dtype(like).unwrap_or(DType::F32);
        let base = format!("{}/const", self.current);
        self.b.scalar(&base, v, d).map_err(|e| self.bad(l, e))
    }

    /// An i64 1-D initializer.
    pub(crate) fn i64s(&mut self, v: &[i64]) -> String {
        let base = format!("{}/const", self.current);
        self.b.i64s(&base, v)
    }

    /// An i64 0-D initializer (an index, a bound).
    pub(crate) fn i64_scalar(&mut self, v: i64) -> String {
        let base = format!("{}/const", self.current);
        self.b.constant(&base, Tensor::scalar(v))
    }

    /// `Reshape` of `v` to the constant `shape`, named after the current layer.
    pub(crate) fn reshape(&mut self, v: &str, shape: &[i64]) -> String {
        let base = format!("{}/Reshape", self.current);
        self.b.reshape(&base, v, shape)
    }

    /// The known element type of a value.
    pub(crate) fn dtype(&self, v: &str) -> Option<DType> {
        self.b.dtype(v)
    }

    /// The rank of a value from its producing port's dims.
    pub(crate) fn rank(&self, v: &str) -> Option<usize> {
        if let Some(t) = self.const_of(v) {
            return Some(t.shape().len());
        }
        self.dims.get(v).map(Vec::len)
    }

    /// The static shape of a value, if every dim is a number and the
    /// product of the non-zero dims fits in `i64` (so rules may multiply
    /// dims and cast them to `i64` freely).
    pub(crate) fn static_shape(&self, v: &str) -> Option<Vec<usize>> {
        if let Some(t) = self.const_of(v) {
            return Some(t.shape().to_vec());
        }
        let dims: Vec<usize> =
            self.dims.get(v)?.iter().map(|d| d.trim().parse::<usize>().ok()).collect::<Option<_>>()?;
        bounded_numel(dims.iter().map(|&d| d as u64))?;
        Some(dims)
    }

    /// The initializer behind a value, if it is one.
    pub(crate) fn const_of(&self, v: &str) -> Option<&Tensor> {
        self.b.initializer(v)
    }

    /// Integer values of a constant value.
    pub(crate) fn const_ints(&self, v: &str) -> Option<Vec<i64>> {
        self.const_of(v).and_then(crate::dtype::ints_of)
    }

    /// `v` as an i64 tensor (ONNX wants i64 shapes, axes, indices of
    /// parameters; OpenVINO also allows i32): a converted constant for
    /// constants, a `Cast` otherwise, `v` itself when already i64.
    pub(crate) fn as_i64(&mut self, v: &str) -> String {
        if self.dtype(v) == Some(DType::I64) {
            return v.to_string();
        }
        if let Some(vals) = self.const_ints(v)
            && let Some(t) = self.const_of(v).and_then(|c| Tensor::from_vec(c.shape().to_vec(), vals).ok())
        {
            return self.constant(&format!("{v}/i64"), t);
        }
        self.cast(v, DType::I64)
    }

    /// A `data` attribute, required.
    pub(crate) fn attr<'l>(&self, layer: &'l Layer, key: &str) -> Result<&'l str> {
        layer.attr(key).ok_or_else(|| self.bad(layer, format!("<data> has no '{key}' attribute")))
    }

    /// A comma-separated integer list attribute (`"1, 1"`; empty for `""`).
    pub(crate) fn ints_attr(&self, layer: &Layer, key: &str) -> Result<Vec<i64>> {
        let s = self.attr(layer, key)?;
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<i64>().map_err(|_| self.bad(layer, format!("{key}='{s}' is not a list of integers"))))
            .collect()
    }

    /// An integer attribute with a default.
    pub(crate) fn int_attr(&self, layer: &Layer, key: &str, default: i64) -> Result<i64> {
        match layer.attr(key) {
            None => Ok(default),
            Some(s) => s.trim().parse().map_err(|_| self.bad(layer, format!("{key}='{s}' is not an integer"))),
        }
    }

    /// A float attribute with a default.
    pub(crate) fn float_attr(&self, layer: &Layer, key: &str, default: f32) -> Result<f32> {
        match layer.attr(key) {
            None => Ok(default),
            Some(s) => s.trim().parse().map_err(|_| self.bad(layer, format!("{key}='{s}' is not a number"))),
        }
    }

    /// A boolean attribute (`true`/`false`, also `1`/`0`) with a default.
    pub(crate) fn bool_attr(&self, layer: &Layer, key: &str, default: bool) -> Result<bool> {
        match layer.attr(key).map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "True") => Ok(true),
            Some("false" | "0" | "False") => Ok(false),
            Some(s) => Err(self.bad(layer, format!("{key}='{s}' is not a boolean"))),
        }
    }

    /// The layer producing input `i` of `layer`, with its output index.
    pub(crate) fn source(&self, layer: &Layer, i: usize) -> Option<(&'a Layer, usize)> {
        let (id, port) = *self.sources.get(&(layer.id, i))?;
        Some((self.layers.get(&id)?, port))
    }

    /// The layers reading output `port` of `layer`.
    pub(crate) fn readers(&self, layer: &Layer, port: usize) -> Vec<&'a Layer> {
        self.consumers
            .get(&(layer.id, port))
            .into_iter()
            .flatten()
            .filter_map(|(id, _)| self.layers.get(id).copied())
            .collect()
    }

    /// Marks a layer as translated by a pattern, so the walk skips it.
    pub(crate) fn mark_done(&mut self, layer: &Layer) {
        self.done.insert(layer.id);
    }

    /// Records the element type of values.
    pub(crate) fn dtypes_set(&mut self, names: &[String], d: DType) {
        for n in names {
            self.b.set_dtype(n, d);
        }
    }

    /// The value name of output `port` of a layer (assigned up front).
    pub(crate) fn value_of(&self, layer: &Layer, port: usize) -> Option<&str> {
        self.names.get(&(layer.id, port)).map(String::as_str)
    }

    /// The input and output value names of a layer, in port order.
    fn ports(&self, l: &Layer) -> Result<(Vec<String>, Vec<String>)> {
        let missing = || self.bad(l, "a port has no value (internal error)");
        let ins = (0..l.inputs.len())
            .map(|i| self.sources.get(&(l.id, i)).and_then(|s| self.names.get(s)).cloned().ok_or_else(missing))
            .collect::<Result<_>>()?;
        let outs = (0..l.outputs.len())
            .map(|j| self.names.get(&(l.id, j)).cloned().ok_or_else(missing))
            .collect::<Result<_>>()?;
        Ok((ins, outs))
    }
}

/// Port `i` of a rule's `ins` or `outs`. [`check_arity`] runs before any
/// rule, so a rule only misses a port its arity leaves optional; that is
/// still an error (attached to the layer by the walk), never a panic.
pub(crate) fn port(ports: &[String], i: usize) -> Result<&String> {
    ports.get(i).ok_or_else(|| Error::invalid(format!("port {i} is missing (the layer has {})", ports.len())))
}

/// A malformed-file error naming the file and the layer.
fn bad_layer(path: &Path, l: &Layer, msg: impl fmt::Display) -> Error {
    Error::malformed(path, format!("layer id {} ('{}', {}): {msg}", l.id, l.name, l.kind))
}

/// The product of `dims` ignoring zeros, if it fits in `i64`: a shape
/// passing this can be multiplied out and cast to `i64` piece by piece
/// without overflow, even when a zero dim makes the element count 0.
fn bounded_numel(dims: impl IntoIterator<Item = u64>) -> Option<u64> {
    let nonzero: Vec<u64> = dims.into_iter().map(|d| d.max(1)).collect();
    ir::checked_numel(&nonzero).filter(|&n| n <= i64::MAX as u64)
}

/// Parses a shape attribute (`"1,3,224,224"`, `"?,3"`, `"1..10,3"`, `""` = scalar).
fn parse_shape(s: &str) -> Option<Option<Shape>> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    if s == "..." {
        return Some(None); // dynamic rank
    }
    let mut dims = Vec::new();
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        dims.push(match p {
            "?" | "-1" => Dim::Unknown,
            p if p.contains("..") => Dim::Unknown,
            p => Dim::Fixed(p.parse().ok()?),
        });
    }
    Some(Some(Shape(dims)))
}

/// For each (layer id, input index): the producing (layer id, output index).
type Sources = HashMap<(u64, usize), (u64, usize)>;

/// Checks ids and edges, and orders the layers so every producer comes first.
fn order<'a>(net: &'a Net, path: &Path) -> Result<(Vec<&'a Layer>, Sources)> {
    let bad = |l: &Layer, msg: String| bad_layer(path, l, msg);
    let mut by_id: HashMap<u64, &Layer> = HashMap::new();
    for l in &net.layers {
        if by_id.insert(l.id, l).is_some() {
            return Err(Error::malformed(path, format!("layer id {} is used twice", l.id)));
        }
        // Edges name ports by id, so an id used twice would be ambiguous.
        let mut ids = HashSet::new();
        if let Some(p) = l.inputs.iter().chain(&l.outputs).find(|p| !ids.insert(p.id)) {
            return Err(bad(l, format!("port id {} is used twice", p.id)));
        }
    }
    let port_index = |l: &Layer, port: u64, input: bool| -> Option<usize> {
        let ports = if input { &l.inputs } else { &l.outputs };
        ports.iter().position(|p| p.id == port)
    };
    let mut sources: Sources = HashMap::new();
    for e in &net.edges {
        let from = by_id.get(&e.from_layer).ok_or_else(|| {
            Error::malformed(
                path,
                format!("edge from layer id {} (to layer id {}): no such layer", e.from_layer, e.to_layer),
            )
        })?;
        let to = by_id.get(&e.to_layer).ok_or_else(|| {
            Error::malformed(
                path,
                format!("edge to layer id {} (from layer id {}): no such layer", e.to_layer, e.from_layer),
            )
        })?;
        let fp = port_index(from, e.from_port, false).ok_or_else(|| {
            bad(from, format!("edge from port {}, which is not an output port of the layer", e.from_port))
        })?;
        let tp = port_index(to, e.to_port, true)
            .ok_or_else(|| bad(to, format!("edge to port {}, which is not an input port of the layer", e.to_port)))?;
        if sources.insert((to.id, tp), (from.id, fp)).is_some() {
            return Err(bad(to, format!("input port {} has more than one incoming edge", e.to_port)));
        }
    }
    // Kahn's algorithm in file order, so the node order is deterministic.
    let position: HashMap<u64, usize> = net.layers.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    // Every index below is a position in `net.layers`, made here.
    let mut indegree = vec![0usize; net.layers.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); net.layers.len()];
    for (i, l) in net.layers.iter().enumerate() {
        for (j, p) in l.inputs.iter().enumerate() {
            let from = sources
                .get(&(l.id, j))
                .and_then(|(from, _)| position.get(from))
                .ok_or_else(|| bad(l, format!("input port {} is not connected", p.id)))?;
            if let (Some(d), Some(n)) = (indegree.get_mut(i), next.get_mut(*from)) {
                *d += 1;
                n.push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = indegree.iter().enumerate().filter(|&(_, &d)| d == 0).map(|(i, _)| i).collect();
    let mut out = Vec::with_capacity(net.layers.len());
    while let Some(i) = ready.pop_first() {
        out.extend(net.layers.get(i));
        for &to in next.get(i).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(to) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(to);
                }
            }
        }
    }
    if out.len() != net.layers.len() {
        let stuck: Vec<String> =
            net.layers.iter().zip(&indegree).filter(|&(_, &d)| d > 0).map(|(l, _)| l.id.to_string()).collect();
        return Err(Error::malformed(path, format!("the graph has a cycle through layer id(s) {}", stuck.join(", "))));
    }
    Ok((out, sources))
}

/// Checks a layer's port counts against its rule.
fn check_arity(path: &Path, l: &Layer, rule: &ImportRule) -> Result<()> {
    let a = rule.arity_of(&l.version);
    for (side, n, ports) in [("input", l.inputs.len(), a.inputs), ("output", l.outputs.len(), a.outputs)] {
        if !ports.allows(n) {
            let plural = if n == 1 { "" } else { "s" };
            let version = if l.version.is_empty() { "(no version)" } else { &l.version };
            return Err(bad_layer(path, l, format!("{n} {side} port{plural}, but {} {version} has {ports}", l.kind)));
        }
    }
    Ok(())
}

/// Translates a parsed net (stage two); `bin` is the mapped weights file.
/// Layer types without a rule are an error listing all of them.
pub fn translate(net: &Net, bin: Option<&Buffer>, path: &Path) -> Result<Model> {
    translate_with(net, bin, path, false)
}

/// [`translate`], keeping layer types without a rule as nodes of the
/// `openvino` origin domain (their `<data>` attributes as string attributes,
/// plus `version`) when `keep_unknown` is set (`--keep-unknown-ops`).
pub fn translate_with(net: &Net, bin: Option<&Buffer>, path: &Path, keep_unknown: bool) -> Result<Model> {
    let t = translate_net(net, bin, path, NameGen::default(), keep_unknown)?;
    let mut graph = t.graph;
    // Graph outputs: each Result's input value, in Result file order.
    let mut seen = HashSet::new();
    for (_, info) in t.results {
        if seen.insert(info.name.clone()) {
            graph.outputs.push(info);
        }
    }
    graph.remove_dead_nodes();
    graph.remove_unused_initializers();
    graph.topo_sort().map_err(|e| Error::malformed(path, e.to_string()))?;
    let mut model = Model::new(graph);
    model.opset_imports.insert(String::new(), OPSET);
    if model.graph.nodes.iter().any(|n| n.domain == ORIGIN) {
        model.opset_imports.insert(ORIGIN.to_string(), 1);
    }
    model.producer_name = "openvino-ir".into();
    model.metadata = net.rt_info.clone();
    Ok(model)
}

/// A translated net or body: its graph (no outputs yet), every `Result`
/// (layer id, value read) in file order, every `Parameter` (layer id →
/// value), and the value names now taken (bodies share one namespace with
/// the graphs around them, as ONNX wants).
pub(crate) struct Translated {
    pub(crate) graph: ir::Graph,
    pub(crate) results: Vec<(u64, ValueInfo)>,
    pub(crate) params: HashMap<u64, String>,
    pub(crate) taken: NameGen,
}

/// Translates `net` with `taken` names already used by enclosing graphs.
pub(crate) fn translate_net(
    net: &Net,
    bin: Option<&Buffer>,
    path: &Path,
    taken: NameGen,
    keep_unknown: bool,
) -> Result<Translated> {
    let (ordered, sources) = order(net, path)?;
    let rules: HashMap<&str, ImportRule> = import_rules().into_iter().map(|r| (r.openvino, r)).collect();
    for l in &ordered {
        if let Some(r) = rules.get(l.kind.as_str()) {
            check_arity(path, l, r)?;
        }
    }
    let mut consumers: HashMap<(u64, usize), Vec<(u64, usize)>> = HashMap::new();
    for (&to, &from) in &sources {
        consumers.entry(from).or_default().push(to);
    }
    for v in consumers.values_mut() {
        v.sort_unstable();
    }
    let mut cx = Cx {
        path,
        bin_path: path.with_extension("bin"),
        bin,
        b: GraphBuilder::with_value_names(net.name.clone(), taken),
        dims: HashMap::new(),
        layers: net.layers.iter().map(|l| (l.id, l)).collect(),
        sources,
        consumers,
        names: HashMap::new(),
        done: HashSet::new(),
        results: Vec::new(),
        current: String::new(),
        keep_unknown,
    };
    // Name every output port up front: its first tensor name, else the
    // layer's name (with the port index when there are several).
    for l in &ordered {
        for (j, p) in l.outputs.iter().enumerate() {
            let base = match p.names.first() {
                Some(n) => n.clone(),
                None if l.outputs.len() == 1 => l.name.clone(),
                None => format!("{}:{j}", l.name),
            };
            let base = if base.is_empty() { format!("layer{}:{j}", l.id) } else { base };
            let name = cx.b.fresh_value(&base);
            if let Some(d) = dtype::from_precision(&p.precision) {
                cx.b.set_dtype(&name, d);
            }
            cx.dims.insert(name.clone(), p.dims.clone());
            cx.names.insert((l.id, j), name);
        }
    }
    // Constants first: patterns look ahead at constants (a Reshape's target)
    // that may come later in the file than the layer being matched.
    let mut unsupported: Vec<(&str, &str)> = Vec::new();
    for pass in [true, false] {
        for l in ordered.iter().filter(|l| (l.kind == "Const") == pass) {
            if cx.done.contains(&l.id) {
                continue;
            }
            let Some(r) = rules.get(l.kind.as_str()).filter(|r| r.bodies || !l.has_body) else {
                if cx.keep_unknown && !l.has_body {
                    cx.current = l.name.clone();
                    let (ins, outs) = cx.ports(l)?;
                    cx.emit_origin(l, ins, &outs);
                    cx.mark_done(l);
                } else {
                    unsupported.push((&l.kind, &l.name));
                }
                continue;
            };
            cx.current = l.name.clone();
            let (ins, outs) = cx.ports(l)?;
            // Errors not already naming the file (from the graph builder,
            // tensors, a missing port) are attached to the layer.
            let name_layer = |e: Error| match e {
                Error::Malformed { .. } | Error::Io { .. } | Error::UnsupportedOps { .. } | Error::Context { .. } => e,
                other => bad_layer(path, l, other),
            };
            if quant::try_decompression(&mut cx, l, &outs).map_err(name_layer)? {
                continue;
            }
            (r.build)(&mut cx, l, &ins, &outs).map_err(name_layer)?;
            cx.mark_done(l);
        }
    }
    if !unsupported.is_empty() {
        let err = Error::unsupported_ops("openvino import", unsupported.iter().map(|(op, n)| (*op, "openvino", *n)));
        return Err(err.context(path.display().to_string()));
    }
    let position: HashMap<u64, usize> = net.layers.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    let mut results = std::mem::take(&mut cx.results);
    results.sort_by_key(|(id, _)| position.get(id).copied());
    let results = results.into_iter().map(|(id, v)| (id, value_info(&cx, &v))).collect();
    let params = net
        .layers
        .iter()
        .filter(|l| l.kind == "Parameter")
        .filter_map(|l| cx.names.get(&(l.id, 0)).map(|v| (l.id, v.clone())))
        .collect();
    let taken = cx.b.value_names().clone();
    Ok(Translated { graph: cx.b.finish(), results, params, taken })
}

fn value_info(cx: &Cx<'_>, v: &str) -> ValueInfo {
    let shape = cx.dims.get(v).and_then(|d| parse_shape(&d.join(","))).flatten();
    match cx.dtype(v) {
        Some(d) => ValueInfo::tensor(v, d, shape),
        None => ValueInfo::untyped(v),
    }
}

/// Wraps a value name as a present node input.
pub(crate) fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A one-to-one layer: `op` with the same inputs (numpy broadcasting only).
pub(crate) fn same(cx: &mut Cx<'_>, l: &Layer, ins: &[String], outs: &[String], op: &str) -> Result<()> {
    if let Some(b) = l.attr("auto_broadcast")
        && b != "numpy"
        && b != "none"
    {
        return Err(cx.bad(l, format!("auto_broadcast='{b}' is not supported")));
    }
    cx.emit(l, op, ins.iter().map(|s| some(s)).collect(), outs, vec![]);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_type_has_one_rule_and_sane_ports() {
        let rules = import_rules();
        let mut seen = HashSet::new();
        for r in &rules {
            assert!(seen.insert(r.openvino), "{} has two rules", r.openvino);
            for a in std::iter::once(&r.arity).chain(r.versions.iter().map(|(_, a)| a)) {
                for p in [a.inputs, a.outputs] {
                    assert!(p.max.is_none_or(|m| m >= p.min), "{}: {p:?}", r.openvino);
                }
            }
        }
        let conv = rules.iter().find(|r| r.openvino == "Convolution").unwrap();
        assert_eq!(conv.arity, Arity::ins(2));
        let mvn = rules.iter().find(|r| r.openvino == "MVN").unwrap();
        assert_eq!(mvn.arity_of("opset1").inputs, Ports::exactly(1));
        assert_eq!(mvn.arity_of("opset6").inputs, Ports::exactly(2));
    }

    #[test]
    fn ports_display_and_allow() {
        assert_eq!(Ports::exactly(2).to_string(), "2");
        assert_eq!(Ports::between(3, 4).to_string(), "3–4");
        assert_eq!(Ports::at_least(1).to_string(), "1+");
        assert!(Ports::between(3, 4).allows(4) && !Ports::between(3, 4).allows(2));
        assert!(Ports::at_least(1).allows(1000) && !Ports::at_least(1).allows(0));
    }

    #[test]
    fn bounded_numel_ignores_zeros_and_refuses_overflow() {
        assert_eq!(bounded_numel([2, 3]), Some(6));
        assert_eq!(bounded_numel([0, 1 << 40]), Some(1 << 40));
        assert_eq!(bounded_numel([1 << 32, 1 << 32]), None);
        assert_eq!(bounded_numel([1 << 62, 2]), None);
    }
}
