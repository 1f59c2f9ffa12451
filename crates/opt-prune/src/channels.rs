//! Structured channel pruning: removes whole output channels of Conv, Gemm
//! and MatMul layers and everything that depends on them, so the model
//! really gets smaller and faster.
//!
//! The analysis walks the main graph once in topological order and gives
//! every value that carries a layer's output channels a *channel space*.
//! Channel-preserving ops (BatchNormalization, elementwise activations,
//! pooling, depthwise Conv, `Flatten` after a global pool) pass the space on;
//! an elementwise op joining two spaces (a residual `Add`) couples them into
//! one group, pruned with the same channel indices, ranked by the group's
//! summed filter norms. A Conv/Gemm/MatMul reading a space loses the matching
//! input channels. A space reaching anything else (a graph output, `Concat`,
//! `Reshape`, a subgraph, an op not listed here) is left alone.
//!
//! A removed filter is the one with the smallest norm, so its output is
//! close to what it would be with zero weights: the constant
//! `act(bn(bias))`. That constant is propagated to the next layers and added
//! to their biases, so the model's output moves as little as possible.
//! Retraining (fine-tuning) afterwards recovers the rest; that happens in the
//! user's training framework, on the exported model.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use ir::schema::{self, Class, DTypeRule};
use ir::{
    Attribute, DType, Error, Graph, Model, ModelStats, NameGen, Node, Pass, PassReport, Result, Tensor, ValueInfo,
};
use opt_simplify::num;

use crate::macs;

/// Filter norm used to rank channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Sum of absolute values.
    L1,
    /// Euclidean norm.
    L2,
}

/// Options of [`ChannelPrune`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelOptions {
    /// Fraction of each group's channels to remove, in `[0, 1)`; at least one channel always stays.
    pub ratio: f64,
    /// How channels are ranked.
    pub norm: Norm,
}

impl ChannelOptions {
    /// Parses `R[,norm=l1|l2]`.
    pub fn parse(arg: &str) -> Result<Self> {
        let mut parts = arg.split(',').map(str::trim);
        let ratio = crate::parse_fraction("prune-channels", parts.next().unwrap_or(""))?;
        let mut o = ChannelOptions { ratio, norm: Norm::L1 };
        for p in parts {
            match p {
                "norm=l1" => o.norm = Norm::L1,
                "norm=l2" => o.norm = Norm::L2,
                _ => {
                    return Err(Error::usage(format!(
                        "prune-channels: unknown option '{p}' (expected norm=l1 or norm=l2)"
                    )));
                }
            }
        }
        Ok(o)
    }
}

/// Where the channel axis of a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Axis 1 of a tensor of this rank (Conv outputs, `[N, C, ...]`).
    Axis1 { rank: usize, spatial_one: bool },
    /// The last axis (Gemm/MatMul outputs); the rank when known.
    Last { rank: Option<usize> },
}

impl Layout {
    /// Position of the channel axis counted from the end.
    fn axis_from_end(self) -> Option<usize> {
        match self {
            Layout::Axis1 { rank, .. } => rank.checked_sub(2),
            Layout::Last { .. } => Some(0),
        }
    }
    fn rank(self) -> Option<usize> {
        match self {
            Layout::Axis1 { rank, .. } => Some(rank),
            Layout::Last { rank } => rank,
        }
    }
}

/// How a node reading a channel space depends on it.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    /// Conv/Gemm/MatMul whose output channels define the space.
    Producer,
    /// BatchNormalization: parameters sliced.
    Bn,
    /// Depthwise Conv: weights and bias sliced, `group` updated.
    Depthwise,
    /// Elementwise op whose constant operand at `slot` is sliced along `axis` (`None`: broadcast, kept).
    Elementwise { consts: Vec<(usize, Option<usize>)> },
    /// Channel-preserving op without parameters (activation, pooling, Flatten).
    Pass,
    /// Conv (input channels = weight axis 1).
    ConvIn,
    /// Gemm reading the space as A (rows of B, or columns when transB).
    GemmIn,
    /// MatMul reading the space as A (rows of B).
    MatMulIn,
}

#[derive(Debug, Default)]
struct Space {
    channels: usize,
    /// Nodes touching this space, with their role, in graph order.
    nodes: Vec<(usize, Role)>,
    /// Values carrying it.
    values: Vec<String>,
    blocked: Option<String>,
}

struct Analysis {
    spaces: Vec<Space>,
    parent: Vec<usize>,
    value_space: HashMap<String, usize>,
    layout: HashMap<String, Layout>,
}

impl Analysis {
    fn find(&mut self, mut s: usize) -> usize {
        while self.parent[s] != s {
            self.parent[s] = self.parent[self.parent[s]];
            s = self.parent[s];
        }
        s
    }

    fn channels(&mut self, s: usize) -> usize {
        let r = self.find(s);
        self.spaces[r].channels
    }

    fn new_space(&mut self, channels: usize) -> usize {
        self.spaces.push(Space { channels, ..Space::default() });
        self.parent.push(self.spaces.len() - 1);
        self.spaces.len() - 1
    }

    fn space(&mut self, value: &str) -> Option<usize> {
        let s = *self.value_space.get(value)?;
        Some(self.find(s))
    }

    fn block(&mut self, s: usize, why: impl Into<String>) {
        let r = self.find(s);
        if self.spaces[r].blocked.is_none() {
            self.spaces[r].blocked = Some(why.into());
        }
    }

    fn union(&mut self, a: usize, b: usize) -> usize {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return a;
        }
        let moved = std::mem::take(&mut self.spaces[b]);
        self.parent[b] = a;
        let sa = &mut self.spaces[a];
        if sa.channels != moved.channels {
            sa.blocked.get_or_insert_with(|| "coupled values of different channel counts".into());
        }
        sa.nodes.extend(moved.nodes);
        sa.nodes.sort_by_key(|(i, _)| *i);
        sa.values.extend(moved.values);
        if sa.blocked.is_none() {
            sa.blocked = moved.blocked;
        }
        a
    }

    fn assign(&mut self, value: &str, s: usize, layout: Layout) {
        let r = self.find(s);
        self.value_space.insert(value.to_string(), r);
        self.layout.insert(value.to_string(), layout);
        self.spaces[r].values.push(value.to_string());
    }

    fn add_node(&mut self, s: usize, node: usize, role: Role) {
        let r = self.find(s);
        self.spaces[r].nodes.push((node, role));
    }
}

/// A float-to-float elementwise op of one data input (the op table's
/// `UNARY` class, output dtype = input dtype): channels pass through it
/// unchanged, and a constant channel's value through it is computed by the
/// evaluator ([`through_unary`]).
fn is_unary(n: &Node) -> bool {
    schema::of(n).is_some_and(|s| s.is(Class::UNARY) && matches!(s.dtype_rule(0), Some(DTypeRule::Input(0))))
}

/// A pooling op, which keeps each channel's constant value (pooling of a
/// constant map is that constant; padding does not enter max or average
/// pools that exclude it, and `LpPool` is left out since it scales).
fn is_pool(n: &Node) -> bool {
    schema::is(n, Class::POOL) && !n.op.contains("Lp") && n.op != "MaxRoiPool"
}

/// Binary elementwise ops whose effect on constant channels is computed here (with broadcasting).
const BINARY: &[&str] = &["Add", "Sub", "Mul", "Div", "Max", "Min"];

fn is_onnx(n: &Node) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

fn const_f<'g>(g: &'g Graph, name: Option<&str>) -> Option<&'g Tensor> {
    name.and_then(|n| num::constant(g, n)).filter(|t| num::is_rewritable_float(t.dtype()))
}

/// For a constant operand of rank `k` combined with a value of `layout` and
/// `channels`: `Some(None)` if it broadcasts over the channels (all ones on
/// that axis), `Some(Some(axis))` if it has one entry per channel along
/// `axis` and size 1 elsewhere, `None` if it mixes channels and other axes.
fn const_axis(t: &Tensor, layout: Layout, channels: usize) -> Option<Option<usize>> {
    let shape = t.shape();
    if let Some(r) = layout.rank()
        && shape.len() > r
    {
        return None;
    }
    let axis_from_end = layout.axis_from_end()?;
    let axis = shape.len().checked_sub(axis_from_end + 1);
    for (k, &d) in shape.iter().enumerate() {
        if Some(k) == axis {
            if d != 1 && d != channels {
                return None;
            }
        } else if d != 1 {
            return None;
        }
    }
    match axis {
        Some(a) if shape[a] == channels && channels != 1 => Some(Some(a)),
        _ => Some(None),
    }
}

fn analyze(g: &Graph) -> Analysis {
    let mut a =
        Analysis { spaces: Vec::new(), parent: Vec::new(), value_space: HashMap::new(), layout: HashMap::new() };
    for (i, n) in g.nodes.iter().enumerate() {
        let spaced: Vec<(usize, usize)> =
            n.inputs.iter().enumerate().filter_map(|(k, v)| Some((k, a.space(v.as_deref()?)?))).collect();
        // Subgraphs reading a space would see it change shape.
        for c in n.subgraphs().flat_map(|sg| sg.captures()) {
            if let Some(s) = a.space(&c) {
                a.block(s, format!("read inside a subgraph of {}", n.describe()));
            }
        }
        let out = n.output(0).map(str::to_string);
        let single_out = n.present_outputs().count() == 1 && out.is_some();
        let in_layout = n.input(0).and_then(|x| a.layout.get(x).copied());
        let input0 = spaced.iter().find(|(k, _)| *k == 0).map(|(_, s)| *s);
        // Inputs in a space that this node does not handle block that space.
        let mut handled_slot0 = false;
        let op = if is_onnx(n) { n.op.as_str() } else { "" };
        match op {
            "Conv" => {
                let w = const_f(g, n.input(1));
                let group = n.attr_int("group", 1).unwrap_or(0);
                let bias_ok = n.input(2).is_none() || const_f(g, n.input(2)).is_some();
                if let (Some(s), Some(w)) = (input0, w)
                    && bias_ok
                {
                    let ch = a.channels(s);
                    if group == 1 && w.shape().get(1) == Some(&ch) {
                        a.add_node(s, i, Role::ConvIn);
                        handled_slot0 = true;
                    } else if group as usize == ch && w.shape()[0] == ch && w.shape().get(1) == Some(&1) && single_out {
                        a.add_node(s, i, Role::Depthwise);
                        let layout = in_layout.unwrap_or(Layout::Axis1 { rank: w.shape().len(), spatial_one: false });
                        let layout = match layout {
                            Layout::Axis1 { rank, .. } => Layout::Axis1 { rank, spatial_one: false },
                            l => l,
                        };
                        a.assign(out.as_deref().unwrap_or_default(), s, layout);
                        continue;
                    }
                }
                if group == 1
                    && bias_ok
                    && single_out
                    && let Some(w) = w
                    && w.shape().len() >= 3
                {
                    let s = a.new_space(w.shape()[0]);
                    a.add_node(s, i, Role::Producer);
                    a.assign(
                        out.as_deref().unwrap_or_default(),
                        s,
                        Layout::Axis1 { rank: w.shape().len(), spatial_one: false },
                    );
                }
            }
            "Gemm" => {
                let b = const_f(g, n.input(1)).filter(|t| t.shape().len() == 2);
                let trans_a = n.attr_int("transA", 0).unwrap_or(1) != 0;
                let trans_b = n.attr_int("transB", 0).unwrap_or(0) != 0;
                let c_ok = match n.input(2) {
                    None => true,
                    Some(c) => num::constant(g, c).is_some_and(|t| {
                        t.numel() == 1 || t.shape().len() <= 2 && t.shape().first() == Some(&1) || t.shape().len() == 1
                    }),
                };
                if let (Some(s), Some(b)) = (input0, b) {
                    let k = if trans_b { b.shape()[1] } else { b.shape()[0] };
                    let ch = a.channels(s);
                    let last2 = matches!(in_layout, Some(Layout::Last { rank: Some(2) }));
                    if !trans_a && k == ch && last2 && c_ok {
                        a.add_node(s, i, Role::GemmIn);
                        handled_slot0 = true;
                    }
                }
                if let Some(b) = b
                    && c_ok
                    && single_out
                {
                    let s = a.new_space(if trans_b { b.shape()[0] } else { b.shape()[1] });
                    a.add_node(s, i, Role::Producer);
                    a.assign(out.as_deref().unwrap_or_default(), s, Layout::Last { rank: Some(2) });
                }
            }
            "MatMul" => {
                let b = const_f(g, n.input(1)).filter(|t| t.shape().len() == 2);
                if let (Some(s), Some(b)) = (input0, b)
                    && matches!(in_layout, Some(Layout::Last { .. }))
                    && b.shape()[0] == a.channels(s)
                {
                    a.add_node(s, i, Role::MatMulIn);
                    handled_slot0 = true;
                }
                if let Some(b) = b
                    && single_out
                {
                    let rank = n.input(0).and_then(|x| match g.value_type(x) {
                        Some(ir::ValueType::Tensor { shape: Some(sh), .. }) => Some(sh.rank()),
                        _ => a.layout.get(x).and_then(|l| l.rank()),
                    });
                    let s = a.new_space(b.shape()[1]);
                    a.add_node(s, i, Role::Producer);
                    a.assign(out.as_deref().unwrap_or_default(), s, Layout::Last { rank });
                }
            }
            "BatchNormalization" => {
                let params_ok = (1..5).all(|k| const_f(g, n.input(k)).is_some());
                let training = n.attr_int("training_mode", 0).unwrap_or(1) != 0;
                let ch = input0.map(|s| a.channels(s));
                if let (Some(s), Some(l)) = (input0, in_layout)
                    && params_ok
                    && !training
                    && single_out
                    && (matches!(l, Layout::Axis1 { .. }) || l == Layout::Last { rank: Some(2) })
                    && (1..5).all(|k| const_f(g, n.input(k)).is_some_and(|t| Some(t.numel()) == ch))
                {
                    a.add_node(s, i, Role::Bn);
                    a.assign(out.as_deref().unwrap_or_default(), s, l);
                    continue;
                }
            }
            op if (is_unary(n) || is_pool(n) || op == "Flatten") && single_out => {
                if let (Some(s), Some(l)) = (input0, in_layout) {
                    let extra_ok = match op {
                        "Clip" => (1..3).all(|k| n.input(k).is_none() || const_f(g, n.input(k)).is_some()),
                        "Dropout" => n.input(2).is_none(),
                        _ => n.present_inputs().count() == 1,
                    };
                    let new_layout = match (op, l) {
                        ("GlobalAveragePool" | "GlobalMaxPool", Layout::Axis1 { rank, .. }) => {
                            Some(Layout::Axis1 { rank, spatial_one: true })
                        }
                        ("MaxPool" | "AveragePool", Layout::Axis1 { rank, .. }) => {
                            Some(Layout::Axis1 { rank, spatial_one: false })
                        }
                        _ if is_pool(n) => None,
                        // Flatten(axis=1) of [N, C, 1, 1] is [N, C]: channel c stays feature c.
                        ("Flatten", Layout::Axis1 { spatial_one: true, .. }) => {
                            (n.attr_int("axis", 1).ok() == Some(1)).then_some(Layout::Last { rank: Some(2) })
                        }
                        ("Flatten", _) => None,
                        _ => Some(l),
                    };
                    if extra_ok && let Some(nl) = new_layout {
                        a.add_node(s, i, Role::Pass);
                        a.assign(out.as_deref().unwrap_or_default(), s, nl);
                        continue;
                    }
                }
            }
            op if BINARY.contains(&op) && single_out && !spaced.is_empty() && n.inputs.len() == 2 => {
                let layouts: Vec<Layout> =
                    spaced.iter().filter_map(|(k, _)| n.input(*k).and_then(|v| a.layout.get(v).copied())).collect();
                let same_layout = layouts.windows(2).all(|w| w[0] == w[1]) && layouts.len() == spaced.len();
                let mut consts = Vec::new();
                let mut ok = same_layout;
                let root = spaced[0].1;
                let ch = a.channels(root);
                for k in 0..2 {
                    if spaced.iter().any(|(s, _)| *s == k) {
                        continue;
                    }
                    match const_f(g, n.input(k)).and_then(|t| const_axis(t, layouts[0], ch)) {
                        Some(axis) => consts.push((k, axis)),
                        None => ok = false,
                    }
                }
                if ok {
                    let mut s = root;
                    for (_, o) in &spaced[1..] {
                        s = a.union(s, *o);
                    }
                    a.add_node(s, i, Role::Elementwise { consts });
                    a.assign(out.as_deref().unwrap_or_default(), s, layouts[0]);
                    continue;
                }
            }
            _ => {}
        }
        for (k, s) in spaced {
            if k == 0 && handled_slot0 {
                continue;
            }
            a.block(s, format!("read by {} (input {k})", n.describe()));
        }
    }
    for o in &g.outputs {
        if let Some(s) = a.space(&o.name) {
            a.block(s, format!("reaches graph output '{}'", o.name));
        }
    }
    a
}

/// A weight tensor sliced to the kept indices along `axis`.
fn take(t: &Tensor, axis: usize, keep: &[usize]) -> Result<Tensor> {
    let v = num::to_f64(t)?;
    let shape = t.shape();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let n = shape[axis];
    let mut out = Vec::with_capacity(outer * keep.len() * inner);
    for o in 0..outer {
        for &k in keep {
            let start = (o * n + k) * inner;
            out.extend_from_slice(&v[start..start + inner]);
        }
    }
    let mut new_shape = shape.to_vec();
    new_shape[axis] = keep.len();
    num::from_f64(t.dtype(), new_shape, &out)
}

/// Per-channel norms of `t` along `axis` (the filter of channel c is the slice at index c).
fn norms(t: &Tensor, axis: usize, norm: Norm) -> Result<Vec<f64>> {
    let v = num::to_f64(t)?;
    let shape = t.shape();
    let inner: usize = shape[axis + 1..].iter().product();
    let n = shape[axis];
    let mut acc = vec![0.0; n];
    for (i, x) in v.iter().enumerate() {
        let c = (i / inner) % n;
        acc[c] += match norm {
            Norm::L1 => x.abs(),
            Norm::L2 => x * x,
        };
    }
    if norm == Norm::L2 {
        acc.iter_mut().for_each(|x| *x = x.sqrt());
    }
    Ok(acc)
}

/// Reads a node's constant input (weights, bias, BN parameter).
fn input_tensor(g: &Graph, n: &Node, slot: usize) -> Option<Tensor> {
    n.input(slot).and_then(|name| g.initializers.get(name)).cloned()
}

/// Stores a new tensor for input `slot` of node `i`: in place when only that
/// node reads the initializer, else under a fresh name.
fn set_input(g: &mut Graph, names: &mut NameGen, i: usize, slot: usize, t: Tensor) {
    let old = g.nodes[i].input(slot).map(str::to_string);
    let name = match old {
        Some(o) if g.consumers(&o).len() == 1 => o,
        _ => {
            let base = if g.nodes[i].name.is_empty() { g.nodes[i].op.clone() } else { g.nodes[i].name.clone() };
            names.fresh(&format!("{base}_pruned_{slot}"))
        }
    };
    g.initializers.insert(name.clone(), t);
    let n = &mut g.nodes[i];
    while n.inputs.len() <= slot {
        n.inputs.push(None);
    }
    n.inputs[slot] = Some(name);
}

/// The values of a pass-through op on channels whose inputs are the
/// constants `x`: pools and reshapes keep them, elementwise ops are run by
/// the evaluator on a `[channels]` tensor (their other inputs, such as
/// `Clip` bounds, are constants by the analysis). `None` when it cannot.
fn through_unary(n: &Node, g: &Graph, opsets: &IndexMap<String, i64>, x: &[f64]) -> Option<Vec<f64>> {
    if is_pool(n) || matches!(n.op.as_str(), "Flatten" | "Identity" | "Dropout") {
        return Some(x.to_vec());
    }
    let mut mini = Graph::default();
    let mut node = n.clone();
    node.inputs[0] = Some("x".to_string());
    // The other inputs (`Clip` bounds) fix the dtype the op runs in.
    let mut dtype = DType::F32;
    for v in node.inputs.iter().skip(1).flatten() {
        let t = num::constant(g, v)?;
        dtype = t.dtype();
        mini.initializers.insert(v.clone(), t.clone());
    }
    mini.initializers.insert("x".to_string(), num::from_f64(dtype, vec![x.len()], x).ok()?);
    node.outputs.truncate(1);
    mini.outputs.push(ValueInfo::untyped(node.outputs[0].clone()));
    mini.nodes.push(node);
    let model = Model { graph: mini, opset_imports: opsets.clone(), ..Model::default() };
    let (_, out) = eval::run(&model, Vec::new()).ok()?.into_iter().next()?;
    let t = eval::to_ir(out.tensor().ok()?).ok()?;
    num::to_f64(&t).ok()
}

/// What one group's pruning did.
struct GroupResult {
    label: String,
    before: usize,
    after: usize,
}

/// A bias to add after a MatMul (it has none of its own), keyed by the MatMul's output.
type MatMulBias = (String, Tensor);

fn prune_group(
    g: &mut Graph,
    opsets: &IndexMap<String, i64>,
    space: &Space,
    opts: &ChannelOptions,
    names: &mut NameGen,
    matmul_bias: &mut Vec<MatMulBias>,
) -> Result<Option<GroupResult>> {
    let c = space.channels;
    let remove = ((opts.ratio * c as f64).floor() as usize).min(c.saturating_sub(1));
    if remove == 0 {
        return Ok(None);
    }
    // Rank channels by the summed norms of the group's producers.
    let mut score = vec![0.0; c];
    let mut labels = Vec::new();
    for (i, role) in &space.nodes {
        if *role != Role::Producer {
            continue;
        }
        let n = &g.nodes[*i];
        labels.push(if n.name.is_empty() { n.op.clone() } else { n.name.clone() });
        let w = input_tensor(g, n, 1).ok_or_else(|| Error::invalid("producer weight vanished"))?;
        let axis = schema::weight_layout(n, w.shape().len())
            .ok_or_else(|| Error::invalid(format!("producer {} has no weight layout", n.describe())))?
            .out_axis;
        let nv = if axis == 0 { norms(&w, 0, opts.norm)? } else { column_norms(&w, opts.norm)? };
        for (s, v) in score.iter_mut().zip(nv) {
            *s += v;
        }
    }
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&x, &y| score[x].total_cmp(&score[y]).then(x.cmp(&y)));
    let mut removed: Vec<usize> = order[..remove].to_vec();
    removed.sort_unstable();
    let mut keep: Vec<usize> = order[remove..].to_vec();
    keep.sort_unstable();

    // Constant output of each removed channel, per value, computed before any weight changes.
    let mut konst: HashMap<String, Option<Vec<f64>>> = HashMap::new();
    for (i, role) in &space.nodes {
        let n = &g.nodes[*i];
        let Some(out) = n.output(0) else { continue };
        let input_k = |k: usize| n.input(k).and_then(|v| konst.get(v).cloned().flatten());
        let value: Option<Vec<f64>> = match role {
            Role::Producer => {
                let bias = match n.op.as_str() {
                    "Conv" => n.input(2).and_then(|b| num::constant(g, b)).map(num::to_f64).transpose()?,
                    "Gemm" => match n.input(2).and_then(|b| num::constant(g, b)) {
                        Some(t) => {
                            let beta = f64::from(n.attr_float("beta", 1.0)?);
                            let v = num::to_f64(t)?;
                            Some(if v.len() == 1 { vec![beta * v[0]; c] } else { v.iter().map(|x| beta * x).collect() })
                        }
                        None => None,
                    },
                    _ => None,
                };
                Some(bias.unwrap_or_else(|| vec![0.0; c]))
            }
            Role::Bn => input_k(0).and_then(|x| {
                let p = |k: usize| const_f(g, n.input(k)).and_then(|t| num::to_f64(t).ok());
                let (gm, bt, mn, vr) = (p(1)?, p(2)?, p(3)?, p(4)?);
                let eps = f64::from(n.attr_float("epsilon", 1e-5).ok()?);
                Some((0..c).map(|k| gm[k] * (x[k] - mn[k]) / (vr[k] + eps).sqrt() + bt[k]).collect())
            }),
            Role::Depthwise => input_k(0).and_then(|x| {
                let w = num::to_f64(num::constant(g, n.input(1)?)?).ok()?;
                let per = w.len() / c;
                let b = match n.input(2) {
                    Some(b) => num::to_f64(num::constant(g, b)?).ok()?,
                    None => vec![0.0; c],
                };
                // Interior value; borders see fewer taps (zero padding), an approximation.
                Some((0..c).map(|k| x[k] * w[k * per..(k + 1) * per].iter().sum::<f64>() + b[k]).collect())
            }),
            Role::Pass => input_k(0).and_then(|x| through_unary(n, g, opsets, &x)),
            Role::Elementwise { consts } => {
                let operand = |k: usize| -> Option<Vec<f64>> {
                    if let Some((_, axis)) = consts.iter().find(|(s, _)| *s == k) {
                        let v = num::to_f64(const_f(g, n.input(k))?).ok()?;
                        return Some(match axis {
                            Some(_) => v,
                            None => vec![v[0]; c],
                        });
                    }
                    input_k(k)
                };
                match (operand(0), operand(1)) {
                    (Some(x), Some(y)) => x
                        .iter()
                        .zip(&y)
                        .map(|(&p, &q)| match n.op.as_str() {
                            "Add" => Some(p + q),
                            "Sub" => Some(p - q),
                            "Mul" => Some(p * q),
                            "Div" => Some(p / q),
                            "Max" => Some(p.max(q)),
                            "Min" => Some(p.min(q)),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                }
            }
            Role::ConvIn | Role::GemmIn | Role::MatMulIn => continue,
        };
        let value = value.filter(|v| v.len() == c && v.iter().all(|x| x.is_finite()));
        konst.insert(out.to_string(), value);
    }

    for (i, role) in &space.nodes {
        let i = *i;
        let n = g.nodes[i].clone();
        match role {
            Role::Producer => match n.op.as_str() {
                "Conv" => {
                    let w = input_tensor(g, &n, 1).expect("analyzed");
                    set_input(g, names, i, 1, take(&w, 0, &keep)?);
                    if let Some(b) = input_tensor(g, &n, 2) {
                        set_input(g, names, i, 2, take(&b, 0, &keep)?);
                    }
                }
                "Gemm" => {
                    let trans_b = n.attr_int("transB", 0)? != 0;
                    let w = input_tensor(g, &n, 1).expect("analyzed");
                    set_input(g, names, i, 1, take(&w, if trans_b { 0 } else { 1 }, &keep)?);
                    if let Some(cb) = input_tensor(g, &n, 2)
                        && cb.numel() != 1
                    {
                        let axis = cb.shape().len() - 1;
                        set_input(g, names, i, 2, take(&cb, axis, &keep)?);
                    }
                }
                _ => {
                    let w = input_tensor(g, &n, 1).expect("analyzed");
                    set_input(g, names, i, 1, take(&w, 1, &keep)?);
                }
            },
            Role::Bn => {
                for k in 1..5 {
                    let t = input_tensor(g, &n, k).expect("analyzed");
                    set_input(g, names, i, k, take(&t, 0, &keep)?);
                }
            }
            Role::Depthwise => {
                let w = input_tensor(g, &n, 1).expect("analyzed");
                set_input(g, names, i, 1, take(&w, 0, &keep)?);
                if let Some(b) = input_tensor(g, &n, 2) {
                    set_input(g, names, i, 2, take(&b, 0, &keep)?);
                }
                g.nodes[i].attrs.insert("group".into(), Attribute::Int(keep.len() as i64));
            }
            Role::Elementwise { consts } => {
                for (slot, axis) in consts {
                    if let Some(axis) = axis {
                        let t = input_tensor(g, &n, *slot).expect("analyzed");
                        set_input(g, names, i, *slot, take(&t, *axis, &keep)?);
                    }
                }
            }
            Role::Pass => {}
            Role::ConvIn | Role::GemmIn | Role::MatMulIn => {
                let k = n.input(0).and_then(|v| konst.get(v).cloned().flatten());
                sink(g, names, i, role, &keep, &removed, k.as_deref(), matmul_bias)?;
            }
        }
    }
    // Shapes of the pruned values changed; their recorded types are stale.
    g.value_info.retain(|v| !space.values.contains(&v.name));
    Ok(Some(GroupResult { label: labels.join(", "), before: c, after: keep.len() }))
}

/// Norms of the columns of a 2-D `[K, N]` matrix.
fn column_norms(w: &Tensor, norm: Norm) -> Result<Vec<f64>> {
    let v = num::to_f64(w)?;
    let (rows, cols) = (w.shape()[0], w.shape()[1]);
    let mut acc = vec![0.0; cols];
    for r in 0..rows {
        for (k, a) in acc.iter_mut().enumerate() {
            let x = v[r * cols + k];
            *a += if norm == Norm::L1 { x.abs() } else { x * x };
        }
    }
    if norm == Norm::L2 {
        acc.iter_mut().for_each(|x| *x = x.sqrt());
    }
    Ok(acc)
}

/// Removes a consumer's input channels, first adding the removed channels'
/// constant contribution (`k`) to its bias.
#[allow(clippy::too_many_arguments)]
fn sink(
    g: &mut Graph,
    names: &mut NameGen,
    i: usize,
    role: &Role,
    keep: &[usize],
    removed: &[usize],
    k: Option<&[f64]>,
    matmul_bias: &mut Vec<MatMulBias>,
) -> Result<()> {
    let n = g.nodes[i].clone();
    let w = input_tensor(g, &n, 1).expect("analyzed");
    let wv = num::to_f64(&w)?;
    let dtype = w.dtype();
    match role {
        Role::ConvIn => {
            let (m, cin) = (w.shape()[0], w.shape()[1]);
            let inner: usize = w.shape()[2..].iter().product();
            if let Some(k) = k {
                let mut add = vec![0.0; m];
                for (o, a) in add.iter_mut().enumerate() {
                    for &ch in removed {
                        let s = (o * cin + ch) * inner;
                        *a += k[ch] * wv[s..s + inner].iter().sum::<f64>();
                    }
                }
                if add.iter().any(|x| *x != 0.0) {
                    let mut b = match input_tensor(g, &n, 2) {
                        Some(b) => num::to_f64(&b)?,
                        None => vec![0.0; m],
                    };
                    b.iter_mut().zip(&add).for_each(|(x, a)| *x += a);
                    set_input(g, names, i, 2, num::from_f64(dtype, vec![m], &b)?);
                }
            }
            set_input(g, names, i, 1, take(&w, 1, keep)?);
        }
        Role::GemmIn | Role::MatMulIn => {
            let trans_b = role == &Role::GemmIn && n.attr_int("transB", 0)? != 0;
            let (rows, cols) = (w.shape()[0], w.shape()[1]);
            let out = if trans_b { rows } else { cols };
            let at = |c: usize, o: usize| if trans_b { wv[o * cols + c] } else { wv[c * cols + o] };
            if let Some(k) = k {
                let alpha = if role == &Role::GemmIn { f64::from(n.attr_float("alpha", 1.0)?) } else { 1.0 };
                let add: Vec<f64> =
                    (0..out).map(|o| alpha * removed.iter().map(|&c| k[c] * at(c, o)).sum::<f64>()).collect();
                if add.iter().any(|x| *x != 0.0) {
                    if role == &Role::GemmIn {
                        let beta = f64::from(n.attr_float("beta", 1.0)?);
                        let cur = input_tensor(g, &n, 2);
                        let base: Vec<f64> = match &cur {
                            None => vec![0.0; out],
                            Some(t) => {
                                let v = num::to_f64(t)?;
                                if v.len() == 1 { vec![beta * v[0]; out] } else { v.iter().map(|x| beta * x).collect() }
                            }
                        };
                        let b: Vec<f64> = base.iter().zip(&add).map(|(x, a)| x + a).collect();
                        let shape = cur.as_ref().filter(|t| t.numel() == out).map_or(vec![out], |t| t.shape().to_vec());
                        set_input(g, names, i, 2, num::from_f64(dtype, shape, &b)?);
                        g.nodes[i].attrs.insert("beta".into(), Attribute::Float(1.0));
                    } else if let Some(o) = n.output(0) {
                        matmul_bias.push((o.to_string(), num::from_f64(dtype, vec![out], &add)?));
                    }
                }
            }
            set_input(g, names, i, 1, take(&w, if trans_b { 1 } else { 0 }, keep)?);
        }
        _ => {}
    }
    Ok(())
}

/// Channel pruning of a model's main graph; returns the report lines.
pub fn prune_channels(model: &mut Model, opts: &ChannelOptions) -> Result<Vec<String>> {
    Ok(prune_channels_report(model, opts)?.lines)
}

/// Channel pruning of a model's main graph; returns the pass report: the
/// lines, the figures (parameters, MACs and weight bytes before and after,
/// pruned channels, groups left alone) and one item per pruned group.
pub fn prune_channels_report(model: &mut Model, opts: &ChannelOptions) -> Result<PassReport> {
    let stats_before = ModelStats::of(model);
    let params_before = stats_before.parameters;
    let macs_before = macs::count(model);
    let mut a = analyze(&model.graph);
    let opsets = model.opset_imports.clone();
    let g = &mut model.graph;
    let mut names = NameGen::for_graph(g);
    let mut lines = Vec::new();
    let mut items = Vec::new();
    let mut pruned = 0usize;
    let mut blocked: BTreeMap<String, usize> = BTreeMap::new();
    let mut matmul_bias = Vec::new();
    let roots: Vec<usize> = (0..a.spaces.len()).filter(|&s| a.find(s) == s).collect();
    for s in roots {
        let space = &a.spaces[s];
        if !space.nodes.iter().any(|(_, r)| *r == Role::Producer) {
            continue;
        }
        if let Some(why) = &space.blocked {
            *blocked.entry(why.clone()).or_default() += 1;
            continue;
        }
        if let Some(r) = prune_group(g, &opsets, space, opts, &mut names, &mut matmul_bias)? {
            lines.push(format!("{}: {} -> {} channels", r.label, r.before, r.after));
            pruned += r.before - r.after;
            items.push(
                ir::ReportItem::new(r.label.as_str())
                    .with("channels_before", r.before)
                    .with("channels_after", r.after)
                    .with("pruned_channels", r.before - r.after),
            );
        }
    }
    for (out, bias) in matmul_bias {
        let Some(i) = g.nodes.iter().position(|n| n.output(0) == Some(out.as_str())) else { continue };
        let mm = names.fresh(&format!("{out}_nobias"));
        let bname = names.fresh(&format!("{out}_pruned_bias"));
        g.nodes[i].outputs[0] = mm.clone();
        g.initializers.insert(bname.clone(), bias);
        let add = Node::new("Add", [mm, bname], [out.clone()]).named(names.fresh(&format!("{out}_bias_add")));
        g.nodes.insert(i + 1, add);
    }
    for (why, count) in &blocked {
        lines.push(format!("left alone: {count} group(s): {why}"));
    }
    a.spaces.clear();
    g.remove_dead_nodes();
    g.remove_unused_initializers();
    g.validate().map_err(|e| e.context("channel pruning left an invalid graph (a bug)"))?;
    let stats_after = ModelStats::of(model);
    let params_after = stats_after.parameters;
    lines.push(format!(
        "parameters {params_before} -> {params_after} ({:+.1}%)",
        pct(params_before as f64, params_after as f64)
    ));
    let mut report = PassReport::new("prune-channels", Vec::new())
        .figure("parameters_before", params_before as f64)
        .figure("parameters_after", params_after as f64)
        .figure("bytes_before", stats_before.weight_bytes() as f64)
        .figure("bytes_after", stats_after.weight_bytes() as f64)
        .figure("pruned_channels", pruned as f64)
        .figure("groups_left_alone", blocked.values().sum::<usize>() as f64);
    match (macs_before, macs::count(model)) {
        (Ok(b), Ok(a)) => {
            lines.push(format!("MACs {b} -> {a} ({:+.1}%)", pct(b as f64, a as f64)));
            report = report.figure("macs_before", b as f64).figure("macs_after", a as f64);
        }
        (Err(e), _) | (_, Err(e)) => lines.push(format!("MACs not counted: {e}")),
    }
    report.lines = lines;
    report.items = items;
    Ok(report)
}

fn pct(before: f64, after: f64) -> f64 {
    if before == 0.0 { 0.0 } else { 100.0 * (after - before) / before }
}

/// The `prune-channels` pass.
#[derive(Debug, Clone)]
pub struct ChannelPrune {
    /// How much to prune and how to rank.
    pub options: ChannelOptions,
}

impl Pass for ChannelPrune {
    fn name(&self) -> &str {
        "prune-channels"
    }

    fn run(&self, model: &mut Model) -> Result<PassReport> {
        prune_channels_report(model, &self.options)
    }
}
