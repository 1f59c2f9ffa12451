//! OpenVINO IR → IR: stage two of import.
//!
//! The parsed [`Net`] is checked as a graph first (unique ids, edges that
//! name existing ports, every input connected, no cycle), then walked in
//! topological order: `Parameter` → graph input, `Const` → initializer (a
//! view into the mapped `.bin`), `Result` → graph output, every other layer
//! through the op table ([`import_rules`]). The int8/int4 weight
//! decompression pattern becomes `DequantizeLinear` (see `quant.rs`).

mod control;
mod ops;
mod quant;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ir::{Buffer, DType, Dim, Error, Graph, ImportOptions, Model, Node, Result, Shape, Tensor, ValueInfo};

use crate::dtype;
use crate::xml::{self, Layer, Net};

/// The canonical opset imported models follow (blocked `DequantizeLinear`
/// needs 21; `Gelu` 20; reductions with an axes input 18).
pub const OPSET: i64 = 21;

/// How one OpenVINO layer type is read.
#[derive(Debug, Clone, Copy)]
pub struct ImportRule {
    /// The OpenVINO layer type.
    pub openvino: &'static str,
    /// The canonical op(s) it becomes.
    pub onnx: &'static str,
    /// Builds the nodes; `ins` are the input values in port order, `outs`
    /// the names the layer's outputs must get.
    pub(crate) build: fn(&mut Cx<'_>, &Layer, &[String], &[String]) -> Result<()>,
}

/// Every import rule.
pub fn import_rules() -> Vec<ImportRule> {
    let mut v = ops::all();
    v.sort_by_key(|r| r.openvino);
    v
}

/// Reads `path` (`.xml`) and the `.bin` beside it.
pub fn import(path: &Path, _options: &ImportOptions) -> Result<Model> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let net = xml::parse(&text, path)?;
    let bin_path = path.with_extension("bin");
    let needs_bin = net.layers.iter().any(|l| l.kind == "Const");
    let bin = if needs_bin {
        if !bin_path.is_file() {
            return Err(Error::malformed(path, format!("the weights file {} is missing", bin_path.display())));
        }
        Some(Buffer::map_file(&bin_path)?)
    } else {
        None
    };
    translate(&net, bin.as_ref(), path)
}

/// The translation context handed to every rule.
pub(crate) struct Cx<'a> {
    path: &'a Path,
    bin_path: PathBuf,
    bin: Option<&'a Buffer>,
    pub(crate) graph: Graph,
    taken: HashSet<String>,
    /// Node names (their own namespace: a node may share its output's name).
    node_names: HashSet<String>,
    /// Element type of every value, where known.
    dtypes: HashMap<String, DType>,
    /// `<dim>`s of the port that produced a value.
    dims: HashMap<String, Vec<String>>,
    /// Producer layer and port index of each value.
    producer: HashMap<String, (u64, usize)>,
    /// Layers by id.
    layers: HashMap<u64, &'a Layer>,
    /// For each (layer id, input index): the producing (layer id, output index).
    sources: HashMap<(u64, usize), (u64, usize)>,
    /// Consumers of each (layer id, output index).
    consumers: HashMap<(u64, usize), Vec<(u64, usize)>>,
    /// Value name of each (layer id, output index).
    names: HashMap<(u64, usize), String>,
    /// Layers already translated as part of another layer's pattern.
    done: HashSet<u64>,
    /// Layer being translated (for helper names and errors).
    current: String,
}

impl<'a> Cx<'a> {
    /// A malformed-file error naming the file and the layer.
    pub(crate) fn bad(&self, layer: &Layer, msg: impl std::fmt::Display) -> Error {
        Error::malformed(self.path, format!("layer id {} ('{}', {}): {msg}", layer.id, layer.name, layer.kind))
    }

    /// A fresh value or node name based on `base`.
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    /// A fresh node name based on `base`.
    pub(crate) fn fresh_node(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while !self.node_names.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    /// Adds a node; its outputs get `dtype` when given.
    pub(crate) fn node(&mut self, node: Node, dtype: Option<DType>) {
        if let Some(d) = dtype {
            for o in &node.outputs {
                self.dtypes.insert(o.clone(), d);
            }
        }
        self.graph.nodes.push(node);
    }

    /// Adds a one-output helper node of `op` and returns its output name.
    pub(crate) fn helper(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<(&str, ir::Attribute)>,
        dtype: Option<DType>,
    ) -> String {
        let out = self.fresh(&format!("{}/{op}", self.current));
        let name = self.fresh_node(&format!("{}/{op}", self.current));
        let mut n = Node::new(op, inputs.iter().map(|s| s.to_string()), [out.clone()]).named(name);
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v);
        }
        self.node(n, dtype);
        out
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
        let name = self.fresh_node(&layer.name);
        let mut n = Node { op: op.to_string(), name, inputs, outputs: outs.to_vec(), ..Node::default() };
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v);
        }
        self.graph.nodes.push(n);
    }

    /// Adds an initializer under a fresh name.
    pub(crate) fn constant(&mut self, base: &str, t: Tensor) -> String {
        let name = self.fresh(base);
        self.dtypes.insert(name.clone(), t.dtype());
        self.graph.initializers.insert(name.clone(), t);
        name
    }

    /// An i64 1-D initializer.
    pub(crate) fn i64s(&mut self, v: &[i64]) -> String {
        let base = format!("{}/const", self.current);
        self.constant(&base, Tensor::from_vec(vec![v.len()], v.to_vec()).expect("length matches"))
    }

    /// The known element type of a value.
    pub(crate) fn dtype(&self, v: &str) -> Option<DType> {
        self.dtypes.get(v).copied()
    }

    /// The rank of a value from its producing port's dims.
    pub(crate) fn rank(&self, v: &str) -> Option<usize> {
        if let Some(t) = self.graph.initializers.get(v) {
            return Some(t.shape().len());
        }
        self.dims.get(v).map(Vec::len)
    }

    /// The static shape of a value, if every dim is a number.
    pub(crate) fn static_shape(&self, v: &str) -> Option<Vec<usize>> {
        if let Some(t) = self.graph.initializers.get(v) {
            return Some(t.shape().to_vec());
        }
        self.dims.get(v)?.iter().map(|d| d.parse::<usize>().ok()).collect()
    }

    /// The initializer behind a value, if it is one.
    pub(crate) fn const_of(&self, v: &str) -> Option<&Tensor> {
        self.graph.initializers.get(v)
    }

    /// Integer values of a constant value.
    pub(crate) fn const_ints(&self, v: &str) -> Option<Vec<i64>> {
        self.const_of(v).and_then(crate::export::ints_of)
    }

    /// `v` as an i64 tensor (ONNX wants i64 shapes, axes, indices of
    /// parameters; OpenVINO also allows i32): a converted constant for
    /// constants, a `Cast` otherwise, `v` itself when already i64.
    pub(crate) fn as_i64(&mut self, v: &str) -> String {
        if self.dtype(v) == Some(DType::I64) {
            return v.to_string();
        }
        if let Some(vals) = self.const_ints(v) {
            let shape = self.const_of(v).map(|t| t.shape().to_vec()).unwrap_or_default();
            let base = format!("{v}/i64");
            return self.constant(&base, Tensor::from_vec(shape, vals).expect("same element count"));
        }
        self.helper("Cast", &[v], vec![("to", ir::Attribute::Int(7))], Some(DType::I64))
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
            self.dtypes.insert(n.clone(), d);
        }
    }

    /// The value name of output `port` of a layer (assigned up front).
    pub(crate) fn value_of(&self, layer: &Layer, port: usize) -> Option<&str> {
        self.names.get(&(layer.id, port)).map(String::as_str)
    }
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

/// Checks ids and edges, and orders the layers so every producer comes first.
/// For each (layer id, input index): the producing (layer id, output index).
type Sources = HashMap<(u64, usize), (u64, usize)>;

fn order<'a>(net: &'a Net, path: &Path) -> Result<(Vec<&'a Layer>, Sources)> {
    let mut by_id: HashMap<u64, &Layer> = HashMap::new();
    for l in &net.layers {
        if by_id.insert(l.id, l).is_some() {
            return Err(Error::malformed(path, format!("layer id {} is used twice", l.id)));
        }
    }
    let bad =
        |l: &Layer, msg: String| Error::malformed(path, format!("layer id {} ('{}', {}): {msg}", l.id, l.name, l.kind));
    let port_index = |l: &Layer, port: u64, input: bool| -> Option<usize> {
        let ports = if input { &l.inputs } else { &l.outputs };
        ports.iter().position(|p| p.id == port)
    };
    let mut sources: HashMap<(u64, usize), (u64, usize)> = HashMap::new();
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
    let mut indegree: HashMap<u64, usize> = HashMap::new();
    let mut next: HashMap<u64, Vec<u64>> = HashMap::new();
    for l in &net.layers {
        for (i, p) in l.inputs.iter().enumerate() {
            let Some(&(from, _)) = sources.get(&(l.id, i)) else {
                return Err(bad(l, format!("input port {} is not connected", p.id)));
            };
            *indegree.entry(l.id).or_default() += 1;
            next.entry(from).or_default().push(l.id);
        }
    }
    let position: HashMap<u64, usize> = net.layers.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    let mut ready: std::collections::BTreeSet<usize> =
        net.layers.iter().enumerate().filter(|(_, l)| !indegree.contains_key(&l.id)).map(|(i, _)| i).collect();
    let mut out = Vec::with_capacity(net.layers.len());
    while let Some(i) = ready.pop_first() {
        let l = &net.layers[i];
        out.push(l);
        for to in next.get(&l.id).into_iter().flatten() {
            let d = indegree.get_mut(to).expect("counted above");
            *d -= 1;
            if *d == 0 {
                ready.insert(position[to]);
            }
        }
    }
    if out.len() != net.layers.len() {
        let placed: HashSet<u64> = out.iter().map(|l| l.id).collect();
        let stuck: Vec<String> =
            net.layers.iter().filter(|l| !placed.contains(&l.id)).map(|l| l.id.to_string()).collect();
        return Err(Error::malformed(path, format!("the graph has a cycle through layer id(s) {}", stuck.join(", "))));
    }
    Ok((out, sources))
}

/// Translates a parsed net (stage two); `bin` is the mapped weights file.
pub fn translate(net: &Net, bin: Option<&Buffer>, path: &Path) -> Result<Model> {
    let t = translate_net(net, bin, path, HashSet::new())?;
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
    model.producer_name = "openvino-ir".into();
    model.metadata = net.rt_info.clone();
    Ok(model)
}

/// A translated net or body: its graph (no outputs yet), every `Result`
/// (layer id, value read) in file order, every `Parameter` (layer id →
/// value), and the value names now taken (bodies share one namespace with
/// the graphs around them, as ONNX wants).
pub(crate) struct Translated {
    pub(crate) graph: Graph,
    pub(crate) results: Vec<(u64, ValueInfo)>,
    pub(crate) params: HashMap<u64, String>,
    pub(crate) taken: HashSet<String>,
}

/// Translates `net` with `taken` names already used by enclosing graphs.
pub(crate) fn translate_net(
    net: &Net,
    bin: Option<&Buffer>,
    path: &Path,
    taken: HashSet<String>,
) -> Result<Translated> {
    let (ordered, sources) = order(net, path)?;
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
        graph: Graph { name: net.name.clone(), ..Graph::default() },
        taken,
        node_names: HashSet::new(),
        dtypes: HashMap::new(),
        dims: HashMap::new(),
        producer: HashMap::new(),
        layers: net.layers.iter().map(|l| (l.id, l)).collect(),
        sources,
        consumers,
        names: HashMap::new(),
        done: HashSet::new(),
        current: String::new(),
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
            let name = cx.fresh(&base);
            if let Some(d) = dtype::from_precision(&p.precision) {
                cx.dtypes.insert(name.clone(), d);
            }
            cx.dims.insert(name.clone(), p.dims.clone());
            cx.producer.insert(name.clone(), (l.id, j));
            cx.names.insert((l.id, j), name);
        }
    }
    // Constants first: patterns look ahead at constants (a Reshape's target)
    // that may come later in the file than the layer being matched.
    for l in ordered.iter().filter(|l| l.kind == "Const") {
        cx.current = l.name.clone();
        let outs: Vec<String> = (0..l.outputs.len()).map(|j| cx.names[&(l.id, j)].clone()).collect();
        constant(&mut cx, l, &outs)?;
    }
    let rules = import_rules();
    let mut unsupported: Vec<(&str, &str)> = Vec::new();
    let mut results: Vec<(u64, String)> = Vec::new();
    for l in &ordered {
        if cx.done.contains(&l.id) {
            continue;
        }
        cx.current = l.name.clone();
        let ins: Vec<String> = (0..l.inputs.len()).map(|i| cx.names[&cx.sources[&(l.id, i)]].clone()).collect();
        let outs: Vec<String> = (0..l.outputs.len()).map(|j| cx.names[&(l.id, j)].clone()).collect();
        match l.kind.as_str() {
            "Parameter" => parameter(&mut cx, l, &outs)?,
            "Const" => {}
            "Result" => {
                let v = ins.first().ok_or_else(|| cx.bad(l, "a Result needs one input"))?;
                results.push((l.id, v.clone()));
            }
            "If" if l.has_body => control::if_op(&mut cx, l, &ins, &outs)?,
            "Loop" if l.has_body => control::loop_op(&mut cx, l, &ins, &outs)?,
            kind => {
                if l.has_body {
                    unsupported.push((&l.kind, &l.name));
                    continue;
                }
                match rules.iter().find(|r| r.openvino == kind) {
                    Some(r) => {
                        if quant::try_decompression(&mut cx, l, &outs)? {
                            continue;
                        }
                        (r.build)(&mut cx, l, &ins, &outs)?;
                    }
                    None => unsupported.push((&l.kind, &l.name)),
                }
            }
        }
    }
    if !unsupported.is_empty() {
        return Err(Error::unsupported_ops("openvino import", unsupported.iter().map(|(op, n)| (*op, "openvino", *n))));
    }
    results.sort_by_key(|(id, _)| net.layers.iter().position(|l| l.id == *id));
    let results = results.into_iter().map(|(id, v)| (id, value_info(&cx, &v))).collect();
    let params = net
        .layers
        .iter()
        .filter(|l| l.kind == "Parameter")
        .filter_map(|l| cx.names.get(&(l.id, 0)).map(|v| (l.id, v.clone())))
        .collect();
    Ok(Translated { graph: cx.graph, results, params, taken: cx.taken })
}

fn value_info(cx: &Cx<'_>, v: &str) -> ValueInfo {
    let shape = cx.dims.get(v).and_then(|d| parse_shape(&d.join(","))).flatten();
    match cx.dtype(v) {
        Some(d) => ValueInfo::tensor(v, d, shape),
        None => ValueInfo::untyped(v),
    }
}

fn parameter(cx: &mut Cx<'_>, l: &Layer, outs: &[String]) -> Result<()> {
    let et = cx.attr(l, "element_type")?;
    let d = dtype::from_element_type(et).ok_or_else(|| cx.bad(l, format!("element_type '{et}' is not supported")))?;
    let shape_text = cx.attr(l, "shape")?;
    let shape = parse_shape(shape_text).ok_or_else(|| cx.bad(l, format!("shape '{shape_text}' is not a shape")))?;
    let name = outs.first().ok_or_else(|| cx.bad(l, "a Parameter needs one output port"))?;
    cx.dtypes.insert(name.clone(), d);
    if let Some(s) = &shape {
        cx.dims
            .insert(name.clone(), s.dims().iter().map(|d| d.fixed().map_or("-1".into(), |v| v.to_string())).collect());
    }
    cx.graph.inputs.push(ValueInfo::tensor(name.clone(), d, shape));
    Ok(())
}

fn constant(cx: &mut Cx<'_>, l: &Layer, outs: &[String]) -> Result<()> {
    let et = cx.attr(l, "element_type")?;
    let shape_text = cx.attr(l, "shape")?;
    let shape: Vec<usize> = match parse_shape(shape_text) {
        Some(Some(s)) => s.as_fixed().map(|v| v.into_iter().map(|d| d as usize).collect()),
        _ => None,
    }
    .ok_or_else(|| cx.bad(l, format!("shape '{shape_text}' is not a static shape")))?;
    let offset = cx.int_attr(l, "offset", -1)?;
    let size = cx.int_attr(l, "size", -1)?;
    if offset < 0 || size < 0 {
        return Err(cx.bad(l, "a Const needs non-negative 'offset' and 'size'"));
    }
    let (offset, size) = (offset as u64, size as u64);
    let numel =
        shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64)).ok_or_else(|| cx.bad(l, "shape overflows"))?;
    let bin = cx.bin.ok_or_else(|| cx.bad(l, "no weights file"))?;
    let end = offset.checked_add(size).ok_or_else(|| cx.bad(l, "offset + size overflows"))?;
    if end > bin.len() as u64 {
        return Err(cx.bad(
            l,
            format!("offset {offset} + size {size} is past the end of {} ({} bytes)", cx.bin_path.display(), bin.len()),
        ));
    }
    let name = outs.first().ok_or_else(|| cx.bad(l, "a Const needs one output port"))?.clone();
    let tensor = if et == "u1" {
        // Bits, most significant first; the IR has no packed booleans, so unpack.
        let need = numel.div_ceil(8);
        if size < need {
            return Err(cx.bad(l, format!("size {size} is less than the {need} bytes of {numel} u1 values")));
        }
        let bytes = bin.slice_u64(offset, need).map_err(|e| cx.bad(l, e))?;
        let bits: Vec<bool> = (0..numel as usize).map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0).collect();
        Tensor::from_bools(shape, &bits).map_err(|e| cx.bad(l, e))?
    } else {
        let d =
            dtype::from_element_type(et).ok_or_else(|| cx.bad(l, format!("element_type '{et}' is not supported")))?;
        let need = d.byte_len(numel).ok_or_else(|| cx.bad(l, "size overflows"))?;
        if size < need {
            return Err(cx.bad(l, format!("size {size} is less than the {need} bytes of {numel} {et} values")));
        }
        let bytes = bin.slice_u64(offset, need).map_err(|e| cx.bad(l, e))?;
        Tensor::from_raw(d, shape, bytes).map_err(|e| cx.bad(l, e))?
    };
    cx.dtypes.insert(name.clone(), tensor.dtype());
    cx.graph.initializers.insert(name, tensor);
    Ok(())
}
