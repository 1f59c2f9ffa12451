//! [`TfGraph`] → IR: stage two of import.
//!
//! Only nodes the outputs depend on are lowered (a SavedModel's graph also
//! carries the save/restore machinery). They are visited producers first;
//! `Placeholder`s are the model inputs, `Const`s become initializers that
//! share the constant's bytes (a checkpoint shard stays mapped, never
//! copied), and every other node goes through one rule table ([`rules`]),
//! filled by the op-family modules. A rule states its TF op, how many
//! inputs it takes (checked before it runs) and the canonical ops it
//! writes; it returns one value per TF output.
//!
//! Values keep TensorFlow's tensor names (`node:0`) where a node produced
//! them, so users find their tensors; graph inputs and outputs take the
//! signature's names. Every op without a rule is reported in one error, or
//! kept as a node of the `tf` domain with [`LowerOptions::keep_unknown_ops`].
//!
//! Control flow (`If`, `While`, their stateless forms) lowers the
//! functions it names through the same table, into subgraphs or inline
//! (see `control.rs`); TensorLists become ONNX sequences (`list.rs`).
//!
//! Layout: TensorFlow's convolutions and pools are NHWC, the canonical ones
//! NCHW. They are lowered with a `Transpose` to NCHW before and back after
//! (weights are permuted once, here), and nothing between two such ops
//! reshapes, so the transpose-sinking pass cancels the pairs.

mod array;
mod control;
mod cx;
mod list;
mod math;
mod nn;
mod reduce;

use std::collections::{HashMap, HashSet};
use std::fmt;

use ir::{Attribute, DType, Dim, Error, Model, Node, Result, Shape, ValueInfo};

pub(crate) use cx::Cx;

use crate::graph::{TfAttr, TfGraph, TfNode, TfRef, TfShape};

/// The domain of ops kept as TensorFlow had them (`ir::opset::ORIGIN_DOMAINS`).
pub const ORIGIN: &str = "tf";

/// How a [`TfGraph`] is lowered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LowerOptions {
    /// Keep ops without a lowering as nodes of the `tf` domain instead of
    /// failing (`--keep-unknown-ops`).
    pub keep_unknown_ops: bool,
    /// Declare the 4-D inputs of an NHWC model as NCHW (`--input-layout
    /// nchw`), with a `Transpose` back to NHWC after each.
    pub input_layout_nchw: bool,
    /// The import limits; an op kept as it is may have at most
    /// `max_tensors` outputs (a read of `op:N` asks for N + 1).
    pub limits: ir::Limits,
}

/// How many ports one side of an op has (the fact is `ir::schema::Ports`).
pub use ir::schema::Ports;

/// Lowers one node: `ins` are its input values in order (already checked
/// against the rule's [`Ports`]); returns one value per TF output index.
pub(crate) type Lower = fn(&mut Cx<'_>, &TfNode, &[String]) -> Result<Vec<String>>;

/// How one TensorFlow op is lowered.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The TensorFlow op.
    pub tf: &'static str,
    /// Its data inputs.
    pub inputs: Ports,
    /// The canonical op(s) it becomes.
    pub onnx: &'static str,
    /// Attributes honoured, limits, dtype notes.
    pub notes: &'static str,
    /// The lowest `ai.onnx` opset its canonical ops exist at (the model
    /// is lowered at the highest one its rules need, at least
    /// `ir::opset::DEFAULT_OPSET`).
    pub opset: i64,
    /// The opset one node needs, where its attributes decide (a `Cast`'s types).
    pub(crate) node_opset: Option<fn(&TfNode) -> i64>,
    pub(crate) lower: Lower,
}

impl Rule {
    /// A rule for `tf` with `inputs`, lowering to `onnx` through `lower`.
    pub(crate) const fn new(tf: &'static str, inputs: Ports, onnx: &'static str, lower: Lower) -> Self {
        Rule { tf, inputs, onnx, notes: "", opset: ir::opset::DEFAULT_OPSET, node_opset: None, lower }
    }

    /// The same rule needing opset `opset` (an op or attribute value
    /// introduced after the default opset).
    pub(crate) const fn since(self, opset: i64) -> Self {
        Rule { opset, ..self }
    }

    /// The same rule with the opset each node needs decided by `f`.
    pub(crate) const fn since_for(self, f: fn(&TfNode) -> i64) -> Self {
        Rule { node_opset: Some(f), ..self }
    }

    /// The opset node `n` of this rule's op needs.
    fn opset_for(&self, n: &TfNode) -> i64 {
        self.node_opset.map_or(self.opset, |f| f(n).max(self.opset))
    }

    /// The same rule with notes for the op table.
    pub(crate) const fn notes(self, notes: &'static str) -> Self {
        Rule { notes, ..self }
    }
}

/// Every lowering rule, sorted by TensorFlow op.
pub fn rules() -> Vec<Rule> {
    let mut v = Vec::new();
    v.extend_from_slice(array::RULES);
    v.extend_from_slice(control::RULES);
    v.extend_from_slice(list::RULES);
    v.extend_from_slice(math::RULES);
    v.extend_from_slice(nn::RULES);
    v.extend_from_slice(reduce::RULES);
    v.sort_by_key(|r| r.tf);
    v
}

/// The lowering table as Markdown (the source of `docs/tf-ops.md`).
pub fn ops_markdown() -> String {
    let mut s = String::from(
        "# TensorFlow op mapping\n\n\
         Generated from the rule table in `crates/fmt-tf/src/lower/` (`fmt_tf::lower::ops_markdown`); \
         do not edit.\n\n\
         ## Import: TensorFlow op → canonical (ONNX) ops\n\n\
         `Placeholder` nodes are the model inputs and `Const` nodes become initializers that share \
         the constant's bytes. Inputs are the op's data inputs (a list input counts each element); a \
         graph with other counts is refused before the op is lowered. Convolutions and pools on NHWC \
         data are wrapped in `Transpose` pairs that the transpose-sinking pass cancels; their weights \
         are permuted once at import. A model is lowered at opset 17 unless one of its ops needs a \
         later one (noted below), and then at the highest such opset. Composite ops are not pattern-matched: Keras' swish/SiLU and GELU \
         arrive as `Sigmoid`+`Mul` and `Erf`/`Tanh` arithmetic, and lower op by op.\n\n\
         | TensorFlow op | inputs | canonical op(s) | notes |\n|---|---|---|---|\n",
    );
    for r in rules() {
        let notes = if r.opset > ir::opset::DEFAULT_OPSET {
            let sep = if r.notes.is_empty() { "" } else { "; " };
            format!("{}{sep}lowered at opset {}", r.notes, r.opset)
        } else {
            r.notes.to_string()
        };
        s.push_str(&format!("| {} | {} | {} | {} |\n", r.tf, r.inputs, r.onnx, notes));
    }
    s
}

/// Lowers `graph` into a model of canonical ops at the IR's default opset.
pub fn lower(graph: &TfGraph, options: &LowerOptions) -> Result<Model> {
    Lowering::new(graph, options)?.run()
}

/// The nodes of one graph or function body, by name: what a lowering
/// orders and reads its inputs from.
pub(crate) struct Nodes<'g> {
    /// The model's name, for errors.
    path: &'g str,
    /// What the nodes are, prefixed to errors (empty for the graph).
    what: String,
    by_name: HashMap<&'g str, &'g TfNode>,
}

/// A lowered TF node: the IR nodes it emitted and its output values (for
/// naming values after their TF tensors).
type Produced<'g> = (&'g TfNode, std::ops::Range<usize>, Vec<String>);

impl<'g> Nodes<'g> {
    /// Indexes `nodes` by name; `what` names them in errors ("" for the graph).
    pub(crate) fn new(path: &'g str, what: String, nodes: &'g [TfNode]) -> Result<Self> {
        let mut this = Nodes { path, what, by_name: HashMap::with_capacity(nodes.len()) };
        for n in nodes {
            if this.by_name.insert(n.name.as_str(), n).is_some() {
                return Err(this.bad(format!("two nodes are named '{}'", n.name)));
            }
        }
        Ok(this)
    }

    /// An error about these nodes as a whole.
    fn bad(&self, msg: impl fmt::Display) -> Error {
        Error::malformed(self.path, format!("{}{msg}", self.what))
    }

    /// The nodes `roots` (tensor, what reads it) depend on, producers first
    /// (iterative, so deep graphs cannot overflow the stack).
    fn order(&self, roots: &[(&TfRef, String)]) -> Result<Vec<&'g TfNode>> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            Open,
            Done,
        }
        let mut state: HashMap<&str, State> = HashMap::new();
        let mut order = Vec::new();
        for (tensor, what) in roots {
            let root = self.node(&tensor.node, || what.clone())?;
            if state.contains_key(root.name.as_str()) {
                continue;
            }
            // (node, next input to visit)
            let mut stack: Vec<(&TfNode, usize)> = vec![(root, 0)];
            state.insert(&root.name, State::Open);
            while let Some((n, i)) = stack.pop() {
                if let Some(r) = n.inputs.get(i) {
                    stack.push((n, i + 1));
                    let p = self.node(&r.node, || format!("node '{}' ({}) input {i}", n.name, n.op))?;
                    match state.get(p.name.as_str()) {
                        Some(State::Done) => {}
                        Some(State::Open) => {
                            return Err(self.bad(format!("the graph has a cycle through node '{}' ({})", p.name, p.op)));
                        }
                        None => {
                            state.insert(&p.name, State::Open);
                            stack.push((p, 0));
                        }
                    }
                } else {
                    state.insert(&n.name, State::Done);
                    order.push(n);
                }
            }
        }
        Ok(order)
    }

    fn node(&self, name: &str, what: impl FnOnce() -> String) -> Result<&'g TfNode> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| self.bad(format!("{} reads node '{name}', which does not exist", what())))
    }

    /// How many outputs of each node something reads (for ops kept as they are).
    fn output_counts(&self, order: &[&'g TfNode], roots: &[(&TfRef, String)]) -> HashMap<&'g str, usize> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let refs = order.iter().flat_map(|n| &n.inputs).chain(roots.iter().map(|(r, _)| *r));
        for r in refs {
            if let Some(n) = self.by_name.get(r.node.as_str()) {
                let c = counts.entry(n.name.as_str()).or_insert(0);
                *c = (*c).max(r.index.saturating_add(1));
            }
        }
        counts
    }

    /// Lowers the nodes `roots` depend on into `cx`. `values` holds what is
    /// bound already (model inputs, function arguments: their nodes are
    /// skipped) and receives every node's outputs. Every op without a rule
    /// is reported in one error (unless kept, per `cx.keep_unknown`).
    pub(crate) fn lower(
        &self,
        cx: &mut Cx<'_>,
        roots: &[(&TfRef, String)],
        values: &mut HashMap<TfRef, String>,
        bound: &HashSet<&str>,
    ) -> Result<Vec<Produced<'g>>> {
        let order = self.order(roots)?;
        let outputs_needed = self.output_counts(&order, roots);
        let rules: HashMap<&str, Rule> = rules().into_iter().map(|r| (r.tf, r)).collect();
        let mut unsupported: Vec<(&str, &str)> = Vec::new();
        let mut produced = Vec::new();
        for &n in &order {
            if bound.contains(n.name.as_str()) {
                continue;
            }
            match n.op.as_str() {
                "Placeholder" => return Err(cx.bad(n, "a Placeholder that is not a model input")),
                "Const" => {
                    let t = n
                        .attr("value")
                        .and_then(TfAttr::as_tensor)
                        .ok_or_else(|| cx.bad(n, "a Const without a tensor 'value'"))?;
                    let name = cx.b.fresh_value(&format!("{}:0", n.name));
                    cx.set_constant(&name, t.clone());
                    values.insert(TfRef::new(&n.name, 0), name);
                    continue;
                }
                _ => {}
            }
            let ins = n
                .inputs
                .iter()
                .map(|r| {
                    values
                        .get(r)
                        .cloned()
                        .ok_or_else(|| cx.bad(n, format!("reads '{r}', which node '{}' does not produce", r.node)))
                })
                .collect::<Result<Vec<_>>>();
            let rule = rules.get(n.op.as_str());
            if rule.is_none() && !cx.keep_unknown {
                unsupported.push((&n.op, &n.name));
                continue;
            }
            if !unsupported.is_empty() {
                // Once an op is missing, only look for more missing ops.
                continue;
            }
            let ins = ins?;
            cx.set_current(&n.name);
            let start = cx.b.graph.nodes.len();
            let outs = match rule {
                Some(r) => {
                    if !r.inputs.allows(ins.len()) {
                        return Err(cx.bad(n, format!("expected {} input(s), found {}", r.inputs, ins.len())));
                    }
                    cx.target = r.onnx;
                    (r.lower)(cx, n, &ins).map_err(|e| naming_the_file(e, cx, n))?
                }
                None => cx.keep(n, &ins, outputs_needed.get(n.name.as_str()).copied().unwrap_or(1))?,
            };
            for (k, v) in outs.iter().enumerate() {
                values.insert(TfRef::new(&n.name, k), v.clone());
            }
            produced.push((n, start..cx.b.graph.nodes.len(), outs));
        }
        if !unsupported.is_empty() {
            return Err(Error::unsupported_ops("tf import", unsupported.iter().map(|(op, n)| (*op, ORIGIN, *n))));
        }
        Ok(produced)
    }
}

/// The renames that give values their TF tensor names (`node:k`) where a
/// node produced them and the name is free.
fn tf_names(cx: &mut Cx<'_>, produced: &[Produced<'_>]) -> HashMap<String, String> {
    let mut rename: HashMap<String, String> = HashMap::new();
    for (n, range, outs) in produced {
        let emitted = cx.b.graph.nodes.get(range.clone()).unwrap_or_default();
        let made: HashSet<String> = emitted.iter().flat_map(|m| m.outputs.iter().cloned()).collect();
        for (k, v) in outs.iter().enumerate() {
            if made.contains(v) && !rename.contains_key(v) {
                let target = format!("{}:{k}", n.name);
                if cx.b.fresh_value(&target) == target {
                    rename.insert(v.clone(), target);
                }
            }
        }
    }
    rename
}

/// Applies `rename` to every node output and read of `graph`, subgraphs
/// included (they read outer values by name; names are unique across
/// scopes, so no subgraph defines one it would rename by mistake).
fn apply_renames(graph: &mut ir::Graph, rename: &HashMap<String, String>) {
    if rename.is_empty() {
        return;
    }
    graph.walk_mut(&mut |g| {
        for n in &mut g.nodes {
            for v in n.inputs.iter_mut().flatten().chain(&mut n.outputs) {
                if let Some(r) = rename.get(v) {
                    *v = r.clone();
                }
            }
        }
        for o in &mut g.outputs {
            if let Some(r) = rename.get(&o.name) {
                o.name = r.clone();
            }
        }
    });
}

/// The state of one lowering.
struct Lowering<'g> {
    graph: &'g TfGraph,
    options: LowerOptions,
    nodes: Nodes<'g>,
}

impl<'g> Lowering<'g> {
    fn new(graph: &'g TfGraph, options: &LowerOptions) -> Result<Self> {
        let nodes = Nodes::new(&graph.name, String::new(), &graph.nodes)?;
        Ok(Lowering { graph, options: *options, nodes })
    }

    /// Whether the reachable graph computes in NHWC (a convolution, pool or
    /// batch norm without `data_format` NCHW).
    fn is_nhwc(order: &[&TfNode]) -> bool {
        order.iter().any(|n| {
            nn::LAYOUT_OPS.contains(&n.op.as_str())
                && n.attr("data_format").and_then(TfAttr::as_str).is_none_or(|f| f.starts_with("NH"))
        })
    }

    fn run(self) -> Result<Model> {
        let roots: Vec<(&TfRef, String)> =
            self.graph.outputs.iter().map(|p| (&p.tensor, format!("output '{}'", p.name))).collect();
        let order = self.nodes.order(&roots)?;
        let rules: HashMap<&str, Rule> = rules().into_iter().map(|r| (r.tf, r)).collect();
        // One opset for the whole model, chosen before any rule runs: rules
        // whose form depends on it (reductions' axes, Split) read it.
        // Control-flow bodies are lowered at the same opset.
        let opset = order
            .iter()
            .copied()
            .chain(self.graph.functions.values().flat_map(|f| &f.nodes))
            .filter_map(|n| rules.get(n.op.as_str()).map(|r| r.opset_for(n)))
            .fold(ir::opset::DEFAULT_OPSET, i64::max);
        let mut cx = Cx::new(&self.graph.name, self.options.limits, opset, &self.graph.functions);
        cx.keep_unknown = self.options.keep_unknown_ops;
        // Port names first, so no helper value takes them.
        let mut port_names = HashSet::new();
        for p in self.graph.inputs.iter().chain(&self.graph.outputs) {
            if !port_names.insert(p.name.as_str()) {
                return Err(self.nodes.bad(format!("two model inputs or outputs are named '{}'", p.name)));
            }
            cx.b.fresh_value(&p.name);
        }
        let mut values: HashMap<TfRef, String> = HashMap::new();
        let nchw_inputs = self.options.input_layout_nchw && Self::is_nhwc(&order);
        for p in &self.graph.inputs {
            let mut shape = port_shape(&p.name, &p.shape);
            let mut nchw = false;
            if let Some(s) = shape.as_mut().filter(|_| nchw_inputs)
                && let [n, h, w, c] = s.dims()
            {
                *s = Shape(vec![n.clone(), c.clone(), h.clone(), w.clone()]);
                nchw = true;
            }
            cx.input(&p.name, p.dtype, shape.clone());
            self.graph_input(&mut cx, p, shape)?;
            let v = if nchw {
                cx.set_current(&p.tensor.node);
                cx.transpose(&p.name, &[0, 2, 3, 1])?
            } else {
                p.name.clone()
            };
            values.insert(p.tensor.clone(), v);
        }
        let input_nodes: HashSet<&str> = self.graph.inputs.iter().map(|p| p.tensor.node.as_str()).collect();
        let produced = self.nodes.lower(&mut cx, &roots, &mut values, &input_nodes)?;
        self.finish(cx, &values, &produced)
    }

    fn graph_input(&self, cx: &mut Cx<'_>, p: &crate::graph::TfPort, shape: Option<Shape>) -> Result<()> {
        let node = self.nodes.node(&p.tensor.node, || format!("input '{}'", p.name))?;
        if node.op != "Placeholder" && node.op != "PlaceholderWithDefault" {
            return Err(self
                .nodes
                .bad(format!("input '{}' is node '{}' of op {}, not a Placeholder", p.name, node.name, node.op)));
        }
        cx.b.graph.inputs.push(ValueInfo::tensor(&p.name, p.dtype, shape));
        Ok(())
    }

    /// Names values after their TF tensors and the outputs after the
    /// signature, then orders and checks the graph.
    fn finish(&self, mut cx: Cx<'_>, values: &HashMap<TfRef, String>, produced: &[Produced<'_>]) -> Result<Model> {
        let mut rename = tf_names(&mut cx, produced);
        let inputs: HashSet<&str> = self.graph.inputs.iter().map(|p| p.name.as_str()).collect();
        let node_outputs: HashSet<String> = cx.b.graph.nodes.iter().flat_map(|n| n.outputs.iter().cloned()).collect();
        let mut used_as_output = HashSet::new();
        let mut outputs = Vec::new();
        for p in &self.graph.outputs {
            let v = values
                .get(&p.tensor)
                .ok_or_else(|| {
                    self.nodes.bad(format!("output '{}' reads '{}', which is not produced", p.name, p.tensor))
                })?
                .clone();
            let known = cx.known(&v);
            let declared = ValueInfo::tensor(&p.name, p.dtype, port_shape(&p.name, &p.shape));
            let merged = ir::infer::merge(&p.name, ir::infer::Known::of(declared.ty.clone()), known)
                .map_err(|e| self.nodes.bad(e))?;
            if node_outputs.contains(&v) && !inputs.contains(v.as_str()) && used_as_output.insert(v.clone()) {
                rename.insert(v, p.name.clone());
            } else {
                let name = cx.b.fresh_node(&format!("{}/Identity", p.name));
                cx.b.graph.nodes.push(Node::new("Identity", [v], [p.name.clone()]).named(name));
            }
            outputs.push(ValueInfo { name: p.name.clone(), ty: merged.ty, ..ValueInfo::untyped("") });
        }
        let cx_opset = cx.opset;
        let mut graph = cx.b.finish();
        apply_renames(&mut graph, &rename);
        graph.outputs = outputs;
        graph.remove_dead_nodes();
        graph.remove_unused_initializers();
        graph.topo_sort().map_err(|e| self.nodes.bad(e))?;
        graph.validate().map_err(|e| self.nodes.bad(e))?;
        let mut model = Model::new(graph);
        model.opset_imports.insert(String::new(), cx_opset);
        if model.graph.nodes.iter().any(|n| n.domain == ORIGIN) {
            model.opset_imports.insert(ORIGIN.to_string(), 1);
        }
        model.producer_name = "tensorflow".into();
        Ok(model)
    }
}

/// A rule's error as one naming the file and the node: IR helpers the
/// rules call (`Tensor::permuted`, `Tensor::from_vec`) report what is
/// wrong but not where.
fn naming_the_file(e: Error, cx: &Cx<'_>, n: &TfNode) -> Error {
    match e {
        // Errors from control-flow bodies already name their node; the
        // unsupported ops of a body join the model's list.
        Error::Malformed { .. } | Error::Io { .. } | Error::UnsupportedOps { .. } => e,
        other => cx.bad(n, other),
    }
}

/// A port's shape with unknown dims symbolic: a leading one `batch`, the
/// others `<port>_d<k>`.
fn port_shape(port: &str, shape: &TfShape) -> Option<Shape> {
    let dims = shape.as_ref()?;
    Some(Shape(
        dims.iter()
            .enumerate()
            .map(|(k, d)| match d.and_then(|n| u64::try_from(n).ok()) {
                Some(n) => Dim::Fixed(n),
                None if k == 0 => Dim::Symbolic("batch".into()),
                _ => Dim::Symbolic(format!("{port}_d{k}")),
            })
            .collect(),
    ))
}

/// A TF attribute as an IR attribute, for ops kept in the `tf` domain
/// (types as their TF names, unknown shape dims as `-1`).
fn to_ir_attr(a: &TfAttr) -> Option<Attribute> {
    Some(match a {
        TfAttr::Int(v) => Attribute::Int(*v),
        TfAttr::Float(v) => Attribute::Float(*v),
        TfAttr::Bool(v) => Attribute::Int(i64::from(*v)),
        TfAttr::Str(v) => Attribute::String(String::from_utf8_lossy(v).into_owned()),
        TfAttr::Type(code) => Attribute::String(crate::dtype::name(*code).unwrap_or("DT_INVALID").to_string()),
        TfAttr::Shape(s) => Attribute::Ints(s.as_ref()?.iter().map(|d| d.unwrap_or(-1)).collect()),
        TfAttr::Tensor(t) => Attribute::Tensor(t.clone()),
        TfAttr::Func(f) => Attribute::String(f.clone()),
        TfAttr::List(items) => {
            if let Some(v) = a.as_ints() {
                Attribute::Ints(v)
            } else if let Some(v) = items.iter().map(TfAttr::as_float).collect::<Option<Vec<_>>>() {
                Attribute::Floats(v)
            } else {
                Attribute::Strings(
                    items
                        .iter()
                        .filter_map(|i| match to_ir_attr(i)? {
                            Attribute::String(s) => Some(s),
                            _ => None,
                        })
                        .collect(),
                )
            }
        }
    })
}

/// The dtype of attribute `name` (`T`, `DstT`, ...) of `n`, if present.
pub(crate) fn type_attr(n: &TfNode, name: &str) -> Option<DType> {
    n.attr(name).and_then(TfAttr::as_dtype)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
