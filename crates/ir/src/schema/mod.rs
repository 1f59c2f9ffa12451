//! Op facts of the canonical op set, in one place.
//!
//! Every crate that needs to know something about an ONNX op (how many
//! inputs it takes, which input is a weight and along which axis its output
//! channels run, which attribute became an input at which opset, what dtype
//! it produces, whether it is elementwise, random, a reduction, ...) reads it
//! here instead of keeping its own list. The tables are `static` data, one
//! file per op family; [`all`] lists every op, [`lookup`] finds one.
//!
//! The set is the ops the reference evaluator (`crates/eval`) implements,
//! `ai.onnx` (domain `""`, also spelled `"ai.onnx"`) and `ai.onnx.ml` at
//! opsets [`crate::opset::MIN_OPSET`] to [`crate::opset::MAX_OPSET`], plus
//! the random generators ([`Class::RANDOM`]), which the evaluator leaves out
//! but passes must recognise (never fold or merge them).
//! `crates/eval/tests/schema_coverage.rs` keeps the two sets equal.

mod activation;
mod control;
mod elementwise;
mod linalg;
mod misc;
mod ml;
mod nn;
mod quant;
mod reduce;
mod sequence;
mod shape;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::{AttrKind, DType, Error, Node, Result};

/// What an input (or output) of an op carries, for passes that look for
/// weights, biases, axes or quantization parameters without knowing each op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An activation or other data operand.
    Data,
    /// A learned weight tensor (Conv `W`, Gemm `B`, RNN `W`/`R`).
    Weight,
    /// An additive bias (Conv `B`, Gemm `C`, normalization `B`).
    Bias,
    /// A multiplicative scale (normalization `scale`, quantization `y_scale`).
    Scale,
    /// A quantization zero point.
    ZeroPoint,
    /// A running mean (BatchNormalization).
    Mean,
    /// A running variance (BatchNormalization).
    Variance,
    /// Axes, as a 1-D int64 tensor (Reduce*, Squeeze, Unsqueeze, Slice axes).
    Axes,
    /// A target shape or sizes, as a 1-D int64 tensor (Reshape, Expand, Resize sizes).
    Shape,
    /// Integer positions into another input (Gather indices, Slice starts/ends/steps, Pad pads).
    Indices,
    /// A boolean selector (Where, Loop/If condition).
    Condition,
    /// Recurrent or loop-carried state (RNN initial states, Loop carried values).
    State,
    /// A small scalar or vector operand that parametrizes the op (Clip bounds,
    /// TopK `k`, Resize scales, Range start/limit/delta, Dropout ratio).
    Param,
}

/// How many ports (inputs or outputs) one side of a source format's op
/// has: the arity tables of the importers (OpenVINO layers, TensorFlow ops)
/// are checked with it before a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The fewest allowed.
    pub min: usize,
    /// The most allowed; `None` when any number is (variadic, list inputs).
    pub max: Option<usize>,
}

impl Ports {
    /// Exactly `n` ports.
    pub const fn exactly(n: usize) -> Self {
        Ports { min: n, max: Some(n) }
    }

    /// `min` to `max` ports: the ones past `min` are optional.
    pub const fn between(min: usize, max: usize) -> Self {
        Ports { min, max: Some(max) }
    }

    /// `min` or more ports.
    pub const fn at_least(min: usize) -> Self {
        Ports { min, max: None }
    }

    /// Whether `n` ports are allowed.
    pub fn allows(self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl std::fmt::Display for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "{m}"),
            Some(m) => write!(f, "{}–{m}", self.min),
            None => write!(f, "{}+", self.min),
        }
    }
}

/// How many values an input or output slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arity {
    /// Exactly one value, always present.
    Required,
    /// Zero or one value (an omitted input is `None`, an unproduced output `""`).
    Optional,
    /// The last slot only: at least `min` values.
    Variadic {
        /// The smallest number of values.
        min: usize,
    },
}

/// One input or output slot of an op, present from opset `since` up to (not
/// including) `until`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// The name the ONNX spec gives it.
    pub name: &'static str,
    /// What it carries.
    pub role: Role,
    /// Required, optional or variadic.
    pub arity: Arity,
    /// First opset where the slot exists.
    pub since: i64,
    /// First opset where it no longer exists (`i64::MAX`: still there).
    pub until: i64,
}

impl Slot {
    /// A required slot.
    pub const fn new(name: &'static str, role: Role) -> Slot {
        Slot { name, role, arity: Arity::Required, since: 1, until: i64::MAX }
    }

    /// Marks it optional.
    pub const fn opt(mut self) -> Slot {
        self.arity = Arity::Optional;
        self
    }

    /// Marks it variadic with at least `min` values.
    pub const fn many(mut self, min: usize) -> Slot {
        self.arity = Arity::Variadic { min };
        self
    }

    /// Present from opset `v` on.
    pub const fn since(mut self, v: i64) -> Slot {
        self.since = v;
        self
    }

    /// Gone from opset `v` on.
    pub const fn until(mut self, v: i64) -> Slot {
        self.until = v;
        self
    }

    /// Whether the slot exists at `opset`.
    pub fn at(&self, opset: i64) -> bool {
        self.since <= opset && opset < self.until
    }
}

/// A required data input named `name` (short form for the tables).
pub(crate) const fn data(name: &'static str) -> Slot {
    Slot::new(name, Role::Data)
}

/// A slot of role `role` (short form for the tables).
pub(crate) const fn slot(name: &'static str, role: Role) -> Slot {
    Slot::new(name, role)
}

/// The default of an attribute, as the ONNX spec states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrDefault {
    /// The attribute must be given.
    Required,
    /// Absent means "not set"; the op's behaviour without it is in the spec.
    None,
    /// An integer default.
    Int(i64),
    /// A float default.
    Float(f32),
    /// A string default.
    Str(&'static str),
    /// An integer-list default.
    Ints(&'static [i64]),
}

/// One attribute of an op, present from opset `since` up to (not including) `until`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrSpec {
    /// Its name.
    pub name: &'static str,
    /// Its kind.
    pub kind: AttrKind,
    /// Its default.
    pub default: AttrDefault,
    /// First opset where it exists.
    pub since: i64,
    /// First opset where it no longer exists (`i64::MAX`: still there).
    pub until: i64,
    /// Least value of an integer attribute (each element of a list), as
    /// the spec states it (`i64::MIN`: no bound). Checked by [`check_attrs`].
    pub min: i64,
    /// Greatest value of an integer attribute (each element of a list):
    /// the spec's bound, or [`MAX_EXTENT`] for sizes the spec leaves open.
    pub max: i64,
}

/// Largest kernel size, stride, dilation or pad accepted (2^31 - 1): the
/// spec sets no bound, but with these values the window arithmetic of every
/// consumer (`(k - 1) * d + 1 + pads`, times a stride) stays far inside
/// `i64`, and no real model comes near it.
pub const MAX_EXTENT: i64 = i32::MAX as i64;

impl AttrSpec {
    /// An attribute with no default (absent means "not set").
    pub const fn new(name: &'static str, kind: AttrKind) -> AttrSpec {
        AttrSpec { name, kind, default: AttrDefault::None, since: 1, until: i64::MAX, min: i64::MIN, max: i64::MAX }
    }

    /// Every integer of the attribute must lie in `min..=max`.
    pub const fn within(mut self, min: i64, max: i64) -> AttrSpec {
        self.min = min;
        self.max = max;
        self
    }

    /// Marks it required.
    pub const fn req(mut self) -> AttrSpec {
        self.default = AttrDefault::Required;
        self
    }

    /// Present from opset `v` on.
    pub const fn since(mut self, v: i64) -> AttrSpec {
        self.since = v;
        self
    }

    /// Gone from opset `v` on.
    pub const fn until(mut self, v: i64) -> AttrSpec {
        self.until = v;
        self
    }

    /// Whether the attribute exists at `opset`.
    pub fn at(&self, opset: i64) -> bool {
        self.since <= opset && opset < self.until
    }
}

/// An int attribute with default `v`.
pub(crate) const fn int(name: &'static str, v: i64) -> AttrSpec {
    AttrSpec { default: AttrDefault::Int(v), ..AttrSpec::new(name, AttrKind::Int) }
}
/// A float attribute with default `v`.
pub(crate) const fn float(name: &'static str, v: f32) -> AttrSpec {
    AttrSpec { default: AttrDefault::Float(v), ..AttrSpec::new(name, AttrKind::Float) }
}
/// A string attribute with default `v`.
pub(crate) const fn string(name: &'static str, v: &'static str) -> AttrSpec {
    AttrSpec { default: AttrDefault::Str(v), ..AttrSpec::new(name, AttrKind::String) }
}
/// An attribute of kind `kind` without default.
pub(crate) const fn attr(name: &'static str, kind: AttrKind) -> AttrSpec {
    AttrSpec::new(name, kind)
}
/// An int-list attribute with default `v`.
pub(crate) const fn ints(name: &'static str, v: &'static [i64]) -> AttrSpec {
    AttrSpec { default: AttrDefault::Ints(v), ..AttrSpec::new(name, AttrKind::Ints) }
}

/// How an output's dtype follows from the node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DTypeRule {
    /// The dtype of input `k`.
    Input(usize),
    /// Always this dtype (bool for comparisons, i64 for indices, ...).
    Fixed(DType),
    /// The ONNX dtype code in attribute `attr`, else `or`.
    Attr(&'static str, &'static DTypeRule),
    /// The dtype of input `k` if it is present, else `or` (QuantizeLinear's zero point).
    InputOr(usize, &'static DTypeRule),
    /// The dtype of the tensor attribute `attr` (ConstantOfShape `value`), else `or`.
    TensorAttr(&'static str, &'static DTypeRule),
    /// Decided by the op's own rule in [`crate::infer`] (Constant, control flow,
    /// sequences, ML ops whose type depends on several attributes).
    Special,
}

/// Shorthand for the tables: same dtype as input 0.
pub(crate) const SAME: DTypeRule = DTypeRule::Input(0);
/// Shorthand for the tables: bool.
pub(crate) const BOOL: DTypeRule = DTypeRule::Fixed(DType::Bool);
/// Shorthand for the tables: int64.
pub(crate) const I64: DTypeRule = DTypeRule::Fixed(DType::I64);
/// Shorthand for the tables: float32.
pub(crate) const F32: DTypeRule = DTypeRule::Fixed(DType::F32);

/// Class flags of an op (a bit set; combine with `|`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Class(u32);

impl Class {
    /// No flag.
    pub const NONE: Class = Class(0);
    /// One input, one output of the same shape, element by element.
    pub const UNARY: Class = Class(1);
    /// Inputs broadcast numpy-style to the output shape (binary or variadic).
    pub const BROADCAST: Class = Class(1 << 1);
    /// A comparison or logical op: bool output.
    pub const LOGICAL: Class = Class(1 << 2);
    /// An activation function (elementwise, usually after a layer).
    pub const ACTIVATION: Class = Class(1 << 3);
    /// A pooling op over spatial windows or whole spatial extents.
    pub const POOL: Class = Class(1 << 4);
    /// A reduction over axes.
    pub const REDUCE: Class = Class(1 << 5);
    /// Random output: never folded, never merged.
    pub const RANDOM: Class = Class(1 << 6);
    /// Holds subgraphs (`If`, `Loop`, `Scan`, `SequenceMap`).
    pub const SUBGRAPH: Class = Class(1 << 7);
    /// Commutes with a Transpose: each output element depends only on the
    /// input elements at the same position (elementwise, broadcasting).
    pub const LAYOUT_AGNOSTIC: Class = Class(1 << 8);
    /// Numerically sensitive: in half-precision graphs it stays in f32
    /// (exp/log accumulation, large sums, normalization statistics, index arithmetic).
    pub const KEEP_F32: Class = Class(1 << 9);
    /// A normalization (BatchNorm, LayerNorm, ...).
    pub const NORM: Class = Class(1 << 10);
    /// Reads or writes quantized integers.
    pub const QUANT: Class = Class(1 << 11);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Class) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Class {
    type Output = Class;
    fn bitor(self, rhs: Class) -> Class {
        Class(self.0 | rhs.0)
    }
}

/// `a | b` usable in `static` tables.
pub(crate) const fn cls(flags: &[Class]) -> Class {
    let mut bits = 0;
    let mut i = 0;
    while i < flags.len() {
        bits |= flags[i].0;
        i += 1;
    }
    Class(bits)
}

/// Which input of an op is a weight, and how its axes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightRule {
    /// Conv-like: weight `[M, C/group, k...]` at `input`, output channels on
    /// axis 0, reduction on axis 1, bias at `bias`.
    Conv {
        /// Weight input.
        input: usize,
        /// Bias input, if the op has one.
        bias: Option<usize>,
    },
    /// ConvTranspose: weight `[C, M/group, k...]`, output channels on axis 1.
    ConvTranspose,
    /// MatMul-like: weight `[..., K, N]` at `input`, output on the last axis.
    MatMul {
        /// Weight input.
        input: usize,
    },
    /// Gemm: `B` is `[K, N]`, or `[N, K]` with `transB`; bias `C`.
    Gemm,
    /// An embedding table read by Gather: rows along attribute `axis`.
    Embedding,
}

/// Where a node's weight is and how it is laid out (see [`weight_layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeightLayout {
    /// The input slot holding the weight.
    pub input: usize,
    /// The axis of the weight indexed by output channel (or embedding row).
    pub out_axis: usize,
    /// The axis summed over with the data (for blocked quantization), if any.
    pub reduce_axis: Option<usize>,
    /// The input slot of the bias added per output channel, if the op has one.
    pub bias: Option<usize>,
}

/// A change of an op's form between opsets that a converter must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The opset that introduced the change.
    pub opset: i64,
    /// What changed.
    pub what: &'static str,
}

/// Everything the IR knows about one op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpSchema {
    /// Domain: `""` (`ai.onnx`) or `ai.onnx.ml`.
    pub domain: &'static str,
    /// Op type.
    pub op: &'static str,
    /// The opset (of its domain) that introduced the op.
    pub since: i64,
    /// Form changes after introduction (attributes moved to inputs, inputs added, ...).
    pub changes: &'static [Change],
    /// Inputs in order, with the opsets where each exists.
    pub inputs: &'static [Slot],
    /// Outputs in order.
    pub outputs: &'static [Slot],
    /// Attributes.
    pub attrs: &'static [AttrSpec],
    /// Output dtype rules, one per output; a variadic last output repeats the last rule.
    pub dtypes: &'static [DTypeRule],
    /// Class flags.
    pub class: Class,
    /// The weight this op reads, if any.
    pub weight: Option<WeightRule>,
}

impl OpSchema {
    /// A schema with no inputs, outputs or attributes; the tables fill it in.
    pub(crate) const fn new(op: &'static str, since: i64) -> OpSchema {
        OpSchema {
            domain: "",
            op,
            since,
            changes: &[],
            inputs: &[],
            outputs: &[],
            attrs: &[],
            dtypes: &[SAME],
            class: Class::NONE,
            weight: None,
        }
    }

    /// Whether the op has every flag of `class`.
    pub fn is(&self, class: Class) -> bool {
        self.class.contains(class)
    }

    /// The inputs that exist at `opset`.
    pub fn inputs_at(&self, opset: i64) -> impl Iterator<Item = &'static Slot> {
        self.inputs.iter().filter(move |s| s.at(opset))
    }

    /// The outputs that exist at `opset`.
    pub fn outputs_at(&self, opset: i64) -> impl Iterator<Item = &'static Slot> {
        self.outputs.iter().filter(move |s| s.at(opset))
    }

    /// The attribute `name` as it exists at `opset`.
    pub fn attr_at(&self, name: &str, opset: i64) -> Option<&'static AttrSpec> {
        self.attrs.iter().find(|a| a.name == name && a.at(opset))
    }

    /// The input slot named `name` at `opset`, with its position.
    pub fn input_at(&self, name: &str, opset: i64) -> Option<(usize, &'static Slot)> {
        self.inputs_at(opset).enumerate().find(|(_, s)| s.name == name)
    }

    /// The position of the first input of `role` at `opset`.
    pub fn input_of_role(&self, role: Role, opset: i64) -> Option<usize> {
        self.inputs_at(opset).position(|s| s.role == role)
    }

    /// (min, max) number of inputs at `opset`; max is `None` when variadic.
    pub fn input_count(&self, opset: i64) -> (usize, Option<usize>) {
        count(self.inputs_at(opset))
    }

    /// (min, max) number of outputs at `opset`; max is `None` when variadic.
    pub fn output_count(&self, opset: i64) -> (usize, Option<usize>) {
        count(self.outputs_at(opset))
    }

    /// The dtype rule of output `k` (a variadic last output repeats its rule).
    pub fn dtype_rule(&self, k: usize) -> Option<&'static DTypeRule> {
        self.dtypes.get(k).or_else(|| {
            let last_variadic = self.outputs.last().is_some_and(|s| matches!(s.arity, Arity::Variadic { .. }));
            if last_variadic { self.dtypes.last() } else { None }
        })
    }

    /// The opset that made the latest form change at or before `opset`
    /// (the op's `since` when none did).
    pub fn form_at(&self, opset: i64) -> i64 {
        self.changes.iter().map(|c| c.opset).filter(|&v| v <= opset).max().unwrap_or(self.since)
    }
}

/// Minimum and maximum present slots of a slot list (trailing optional slots may be left out).
fn count<'a>(slots: impl Iterator<Item = &'a Slot>) -> (usize, Option<usize>) {
    let (mut min, mut max, mut required_upto) = (0usize, Some(0usize), 0usize);
    for (i, s) in slots.enumerate() {
        match s.arity {
            Arity::Required => {
                required_upto = i + 1;
                max = max.map(|m| m + 1);
            }
            Arity::Optional => max = max.map(|m| m + 1),
            Arity::Variadic { min: m } => {
                min = min.max(i + m);
                if m > 0 {
                    required_upto = required_upto.max(i + m);
                }
                max = None;
            }
        }
    }
    (min.max(required_upto), max)
}

/// Every op family's table.
fn families() -> [&'static [OpSchema]; 11] {
    [
        elementwise::OPS,
        activation::OPS,
        nn::OPS,
        linalg::OPS,
        shape::OPS,
        reduce::OPS,
        quant::OPS,
        control::OPS,
        sequence::OPS,
        misc::OPS,
        ml::OPS,
    ]
}

/// `""` and `"ai.onnx"` are the same domain.
fn canonical_domain(domain: &str) -> &str {
    if domain == "ai.onnx" { "" } else { domain }
}

fn index() -> &'static HashMap<(&'static str, &'static str), &'static OpSchema> {
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static OpSchema>> = OnceLock::new();
    INDEX.get_or_init(|| families().into_iter().flatten().map(|s| ((s.domain, s.op), s)).collect())
}

/// The schema of `op` in `domain` (`""` and `"ai.onnx"` are the same), if canonical.
pub fn lookup(domain: &str, op: &str) -> Option<&'static OpSchema> {
    index().get(&(canonical_domain(domain), op)).copied()
}

/// The schema of a node's op.
pub fn of(node: &Node) -> Option<&'static OpSchema> {
    lookup(&node.domain, &node.op)
}

/// Every op schema, sorted by (domain, op).
pub fn all() -> Vec<&'static OpSchema> {
    let mut v: Vec<&'static OpSchema> = families().into_iter().flatten().collect();
    v.sort_by_key(|s| (s.domain, s.op));
    v
}

/// Whether the node's op is canonical and has every flag of `class`.
pub fn is(node: &Node, class: Class) -> bool {
    of(node).is_some_and(|s| s.is(class))
}

/// The ops of the `ai.onnx` domain having every flag of `class`, sorted.
pub fn ops_with(class: Class) -> Vec<&'static str> {
    all().into_iter().filter(|s| s.domain.is_empty() && s.is(class)).map(|s| s.op).collect()
}

fn range_text((min, max): (usize, Option<usize>)) -> String {
    match max {
        None => format!("at least {min}"),
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
    }
}

/// [`check_arity`] and [`check_attrs`] for every node of `graph` and of its
/// subgraphs: after it, code that reads a canonical node's inputs and
/// outputs by position (shape inference, passes, exporters) cannot index
/// past them, and window arithmetic on its sizes cannot overflow or divide
/// by zero, whatever the file held. `convert::load` runs it on every
/// imported model.
pub fn check_graph(graph: &crate::Graph, opset: i64) -> Result<()> {
    for n in &graph.nodes {
        check_arity(n, opset)?;
        check_attrs(n, opset)?;
        for g in n.subgraphs() {
            check_graph(g, opset).map_err(|e| e.context(format!("subgraph '{}' of node {}", g.name, n.describe())))?;
        }
    }
    Ok(())
}

/// Checks the node's integer attributes against their schema's ranges
/// ([`AttrSpec::within`]): a stride of 0, a negative kernel size or a pad
/// near `i64::MAX` is a one-line error naming the node, the attribute and
/// the range, not a division by zero or an overflow in whichever crate
/// reads it first (found by `xtask conformance --odd-attrs`). Non-canonical
/// ops and attributes of other kinds pass.
pub fn check_attrs(node: &Node, opset: i64) -> Result<()> {
    let Some(s) = of(node) else { return Ok(()) };
    let opset = if s.domain.is_empty() { opset } else { opset.max(s.since) };
    for spec in s.attrs.iter().filter(|a| a.at(opset) && (a.min, a.max) != (i64::MIN, i64::MAX)) {
        let values = match node.attrs.get(spec.name) {
            Some(crate::Attribute::Int(v)) => std::slice::from_ref(v),
            Some(crate::Attribute::Ints(v)) => v.as_slice(),
            _ => continue,
        };
        if let Some(v) = values.iter().find(|v| !(spec.min..=spec.max).contains(*v)) {
            let range = if spec.max == MAX_EXTENT {
                format!("at least {} and at most {MAX_EXTENT}", spec.min)
            } else {
                format!("from {} to {}", spec.min, spec.max)
            };
            return Err(Error::invalid(format!(
                "node {}: {} attribute '{}' holds {v}; it must be {range}",
                node.describe(),
                s.op,
                spec.name
            )));
        }
    }
    Ok(())
}

/// Checks the node's input and output counts against its op's schema at
/// `opset`: a one-line error naming the node, the op, expected and found.
/// Non-canonical ops pass (nothing is known about them); so do canonical ops
/// used before their introduction, which importers report separately.
pub fn check_arity(node: &Node, opset: i64) -> Result<()> {
    let Some(s) = of(node) else { return Ok(()) };
    // Before its opset an op has no slots at all, so nothing below would be
    // checked (a fuzzed model declaring opset -1 reached the exporters with
    // a BatchNormalization that had no output).
    if s.domain.is_empty() && opset < s.since {
        return Err(Error::invalid(format!(
            "node {}: {} does not exist at opset {opset} (it was introduced in opset {})",
            node.describe(),
            s.op,
            s.since
        )));
    }
    let opset = if s.domain.is_empty() { opset } else { opset.max(s.since) };
    let check = |what: &str, found: usize, range: (usize, Option<usize>)| {
        let ok = found >= range.0 && range.1.is_none_or(|m| found <= m);
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "node {}: {} at opset {opset} takes {} {what}(s), found {found}",
                node.describe(),
                s.op,
                range_text(range)
            )))
        }
    };
    // Omitted trailing optionals are written as absent, not as `None`, by
    // some producers and as `None`/`""` by others: count up to the last present one.
    let present_in = node.inputs.iter().rposition(|i| i.as_deref().is_some_and(|s| !s.is_empty())).map_or(0, |p| p + 1);
    let present_out = node.outputs.iter().rposition(|o| !o.is_empty()).map_or(0, |p| p + 1);
    let (min_in, max_in) = s.input_count(opset);
    check("input", present_in.max(node.inputs.len().min(min_in)), (min_in, max_in))?;
    let (min_out, max_out) = s.output_count(opset);
    check("output", present_out.max(node.outputs.len().min(min_out)), (min_out, max_out))?;
    // A required output written as omitted (an empty name) is too: code
    // that reads the node's outputs by position expects it (found by
    // fuzzing: a BatchNormalization whose only output was "").
    for (i, slot) in s.outputs_at(opset).enumerate() {
        if slot.arity == Arity::Required && node.outputs.get(i).is_none_or(|o| o.is_empty()) {
            return Err(Error::invalid(format!(
                "node {}: {} output {i} ('{}') is required but omitted",
                node.describe(),
                s.op,
                slot.name
            )));
        }
    }
    // A required input written as omitted is as wrong as a missing one,
    // trailing ones too (found by fuzzing: a PRelu whose slope was "",
    // which passed the count and crashed the TensorFlow writer).
    for (i, slot) in s.inputs_at(opset).enumerate() {
        if slot.arity == Arity::Required && i < node.inputs.len() && node.input(i).is_none() {
            return Err(Error::invalid(format!(
                "node {}: {} input {i} ('{}') is required but omitted",
                node.describe(),
                s.op,
                slot.name
            )));
        }
    }
    Ok(())
}

/// Whether `node`, a `Dropout`, passes its input through unchanged, as every
/// exporter writes it: its `training_mode` input (opset 12 on) is absent or
/// a constant false, or its `ratio` is a constant 0. In training mode it
/// drops at random, which no format's identity reproduces, so exporters
/// refuse it. `constant(i)` gives input `i`'s values when it is a constant.
pub fn dropout_is_identity(node: &Node, constant: impl Fn(usize) -> Option<Vec<f64>>) -> bool {
    let all_zero = |i: usize| constant(i).is_some_and(|v| v.iter().all(|&x| x == 0.0));
    node.input(2).is_none() || all_zero(2) || (node.input(1).is_some() && all_zero(1))
}

/// The weight a node reads and its axes, given the weight's rank; `None`
/// when the op reads no weight or the rank does not fit its layout.
pub fn weight_layout(node: &Node, weight_rank: usize) -> Option<WeightLayout> {
    let rule = of(node)?.weight?;
    let r = weight_rank;
    match rule {
        WeightRule::Conv { input, bias } if r >= 3 => {
            Some(WeightLayout { input, out_axis: 0, reduce_axis: Some(1), bias })
        }
        WeightRule::ConvTranspose if r >= 3 => {
            Some(WeightLayout { input: 1, out_axis: 1, reduce_axis: Some(0), bias: Some(2) })
        }
        WeightRule::MatMul { input } if r >= 2 => {
            Some(WeightLayout { input, out_axis: r - 1, reduce_axis: Some(r - 2), bias: None })
        }
        WeightRule::Gemm if r == 2 => {
            let trans_b = node.attr_int("transB", 0).ok()? != 0;
            let (out_axis, red) = if trans_b { (0, 1) } else { (1, 0) };
            Some(WeightLayout { input: 1, out_axis, reduce_axis: Some(red), bias: Some(2) })
        }
        WeightRule::Embedding if r >= 1 => {
            let axis = node.attr_int("axis", 0).ok()?;
            let axis = usize::try_from(if axis < 0 { axis + r as i64 } else { axis }).ok().filter(|&a| a < r)?;
            let reduce_axis = (r == 2).then_some(1 - axis);
            Some(WeightLayout { input: 0, out_axis: axis, reduce_axis, bias: None })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
