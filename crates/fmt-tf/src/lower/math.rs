//! Elementwise arithmetic, activations, comparisons, logic, casts and
//! selection.
//!
//! Most ops are one canonical op with the same inputs and numpy
//! broadcasting on both sides. The rest: `FloorDiv` and `FloorMod` round
//! toward negative infinity where ONNX's `Div` truncates and its float
//! `Mod` is C `fmod`; `Erfc`, `Square`, `Rsqrt`, `SquaredDifference` and
//! `Relu6` have no canonical op of their own; `Select` (v1) takes a vector
//! condition that selects whole rows.

// Rules index their inputs (`ins[k]`) freely: `Lowering::run` (in
// `lower/mod.rs`) checks each node's input count against the rule's
// `Ports` before the rule runs, so `k` is always below it. Every other
// index in this module is on data checked where it is read.
#![allow(clippy::indexing_slicing)]

use ir::{Attribute as A, DType, Result};

use super::{Cx, Ports, Rule, type_attr};
use crate::graph::TfNode;

type Ins<'a> = &'a [String];

/// The rule's canonical op with the node's inputs.
fn direct(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(vec![cx.op(cx.target, &refs, vec![])?])
}

fn not_equal(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let eq = cx.op("Equal", &[&ins[0], &ins[1]], vec![])?;
    Ok(vec![cx.op("Not", &[&eq], vec![])?])
}

/// A constant of `like`'s element type.
fn scalar_like(cx: &mut Cx<'_>, n: &TfNode, like: &str, v: f64) -> Result<String> {
    let d = cx.dtype_of(n, like)?;
    cx.scalar(v, d)
}

fn relu6(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let lo = scalar_like(cx, n, &ins[0], 0.0)?;
    let hi = scalar_like(cx, n, &ins[0], 6.0)?;
    Ok(vec![cx.op("Clip", &[&ins[0], &lo, &hi], vec![])?])
}

fn leaky_relu(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let alpha = cx.float(n, "alpha", 0.2)?;
    Ok(vec![cx.op("LeakyRelu", &[&ins[0]], vec![("alpha", A::Float(alpha))])?])
}

fn selu(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    // TensorFlow's constants (Klambauer et al.), spelled out: ONNX's
    // defaults are the same numbers rounded differently in the spec.
    let attrs = vec![("alpha", A::Float(1.673_263_2)), ("gamma", A::Float(1.050_701))];
    Ok(vec![cx.op("Selu", &[&ins[0]], attrs)?])
}

fn square(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(vec![cx.op("Mul", &[&ins[0], &ins[0]], vec![])?])
}

fn rsqrt(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let s = cx.op("Sqrt", &[&ins[0]], vec![])?;
    Ok(vec![cx.op("Reciprocal", &[&s], vec![])?])
}

fn squared_difference(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let d = cx.op("Sub", &[&ins[0], &ins[1]], vec![])?;
    Ok(vec![cx.op("Mul", &[&d, &d], vec![])?])
}

fn erfc(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let e = cx.op("Erf", &[&ins[0]], vec![])?;
    let one = scalar_like(cx, n, &ins[0], 1.0)?;
    Ok(vec![cx.op("Sub", &[&one, &e], vec![])?])
}

fn floor_div(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (a, b) = (&ins[0], &ins[1]);
    let d = cx.dtype_of(n, a)?;
    if d.is_float() {
        let q = cx.op("Div", &[a, b], vec![])?;
        return Ok(vec![cx.op("Floor", &[&q], vec![])?]);
    }
    if matches!(d, DType::U8 | DType::U16 | DType::U32 | DType::U64) {
        return Ok(vec![cx.op("Div", &[a, b], vec![])?]);
    }
    // a - mod(a, b) (numpy mod: the divisor's sign) is a multiple of b, so
    // the truncating Div of it is exact and rounds toward -inf.
    let m = cx.op("Mod", &[a, b], vec![("fmod", A::Int(0))])?;
    let s = cx.op("Sub", &[a, &m], vec![])?;
    Ok(vec![cx.op("Div", &[&s, b], vec![])?])
}

fn floor_mod(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (a, b) = (&ins[0], &ins[1]);
    if !cx.dtype_of(n, a)?.is_float() {
        return Ok(vec![cx.op("Mod", &[a, b], vec![("fmod", A::Int(0))])?]);
    }
    // As TensorFlow computes it: fmod, then shifted by the divisor when the
    // signs differ (ONNX's float Mod must be fmod=1).
    let r = cx.op("Mod", &[a, b], vec![("fmod", A::Int(1))])?;
    let zero = scalar_like(cx, n, a, 0.0)?;
    let r_neg = cx.op("Less", &[&r, &zero], vec![])?;
    let b_neg = cx.op("Less", &[b, &zero], vec![])?;
    let differ = cx.op("Xor", &[&r_neg, &b_neg], vec![])?;
    let r_zero = cx.op("Equal", &[&r, &zero], vec![])?;
    let r_nonzero = cx.op("Not", &[&r_zero], vec![])?;
    let shift = cx.op("And", &[&differ, &r_nonzero], vec![])?;
    let shifted = cx.op("Add", &[&r, b], vec![])?;
    Ok(vec![cx.op("Where", &[&shift, &shifted, &r], vec![])?])
}

fn cast(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let to = type_attr(n, "DstT").ok_or_else(|| cx.bad(n, "attribute 'DstT' is missing or has no IR dtype"))?;
    Ok(vec![cx.op("Cast", &[&ins[0]], vec![("to", A::Int(i64::from(to.onnx_code())))])?])
}

fn clip_by_value(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    // Max/Min rather than Clip: TF's bounds may be tensors that broadcast.
    let lo = cx.op("Max", &[&ins[0], &ins[1]], vec![])?;
    Ok(vec![cx.op("Min", &[&lo, &ins[2]], vec![])?])
}

fn select(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (c, x) = (&ins[0], &ins[1]);
    let rc = cx.rank_of(n, c)?;
    let rx = cx.rank_of(n, x)?;
    // Select v1: a vector condition picks whole rows of x and y.
    let c = if rc == 1 && rx > 1 {
        let axes: Vec<i64> = (1..rx as i64).collect();
        let axes = cx.i64s(&axes);
        cx.op("Unsqueeze", &[c, &axes], vec![])?
    } else {
        c.clone()
    };
    Ok(vec![cx.op("Where", &[&c, x, &ins[2]], vec![])?])
}

fn cumsum(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let exclusive = cx.bool(n, "exclusive", false)?;
    let reverse = cx.bool(n, "reverse", false)?;
    let attrs = vec![("exclusive", A::Int(i64::from(exclusive))), ("reverse", A::Int(i64::from(reverse)))];
    Ok(vec![cx.op("CumSum", &[&ins[0], &ins[1]], attrs)?])
}

fn add_n(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    if ins.len() == 1 {
        return Ok(ins.to_vec());
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(vec![cx.op("Sum", &refs, vec![])?])
}

fn softsign(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let a = cx.op("Abs", &[&ins[0]], vec![])?;
    let one = scalar_like(cx, n, &ins[0], 1.0)?;
    let d = cx.op("Add", &[&a, &one], vec![])?;
    Ok(vec![cx.op("Div", &[&ins[0], &d], vec![])?])
}

const ONE: Ports = Ports::exactly(1);
const TWO: Ports = Ports::exactly(2);

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("Abs", ONE, "Abs", direct),
    Rule::new("Add", TWO, "Add", direct),
    Rule::new("AddN", Ports::at_least(1), "Sum", add_n),
    Rule::new("AddV2", TWO, "Add", direct),
    Rule::new("Cast", ONE, "Cast", cast).notes("`DstT`; float → int truncates as TF does"),
    Rule::new("Ceil", ONE, "Ceil", direct),
    Rule::new("ClipByValue", Ports::exactly(3), "Max + Min", clip_by_value).notes("bounds may be tensors"),
    Rule::new("Cumsum", TWO, "CumSum", cumsum).notes("`exclusive`, `reverse`"),
    Rule::new("Div", TWO, "Div", direct).notes("integers truncate, as TF's `Div`"),
    Rule::new("Elu", ONE, "Elu", direct),
    Rule::new("Equal", TWO, "Equal", direct),
    Rule::new("Erf", ONE, "Erf", direct),
    Rule::new("Erfc", ONE, "Erf + Sub", erfc).notes("`1 - Erf(x)`: no canonical Erfc"),
    Rule::new("Cos", ONE, "Cos", direct),
    Rule::new("Exp", ONE, "Exp", direct),
    Rule::new("Floor", ONE, "Floor", direct),
    Rule::new("FloorDiv", TWO, "Div + Floor / Mod + Sub + Div", floor_div)
        .notes("floats: `Floor(a / b)`; signed ints: `(a - mod(a, b)) / b`"),
    Rule::new("FloorMod", TWO, "Mod", floor_mod).notes("ints: `Mod` fmod=0; floats: fmod shifted by the divisor"),
    Rule::new("Greater", TWO, "Greater", direct),
    Rule::new("GreaterEqual", TWO, "GreaterOrEqual", direct),
    Rule::new("LeakyRelu", ONE, "LeakyRelu", leaky_relu).notes("`alpha` (default 0.2)"),
    Rule::new("Less", TWO, "Less", direct),
    Rule::new("LessEqual", TWO, "LessOrEqual", direct),
    Rule::new("Log", ONE, "Log", direct),
    Rule::new("LogicalAnd", TWO, "And", direct),
    Rule::new("LogicalNot", ONE, "Not", direct),
    Rule::new("LogicalOr", TWO, "Or", direct),
    Rule::new("Maximum", TWO, "Max", direct),
    Rule::new("Minimum", TWO, "Min", direct),
    Rule::new("Mul", TWO, "Mul", direct),
    Rule::new("Neg", ONE, "Neg", direct),
    Rule::new("NotEqual", TWO, "Equal + Not", not_equal),
    Rule::new("Pow", TWO, "Pow", direct),
    Rule::new("RealDiv", TWO, "Div", direct),
    Rule::new("Reciprocal", ONE, "Reciprocal", direct),
    Rule::new("Relu", ONE, "Relu", direct),
    Rule::new("Relu6", ONE, "Clip", relu6).notes("`Clip(x, 0, 6)`"),
    Rule::new("Round", ONE, "Round", direct).notes("half to even, as TF"),
    Rule::new("Rsqrt", ONE, "Sqrt + Reciprocal", rsqrt),
    Rule::new("Select", Ports::exactly(3), "Where", select).notes("a vector condition selects rows (v1 semantics)"),
    Rule::new("SelectV2", Ports::exactly(3), "Where", direct),
    Rule::new("Selu", ONE, "Selu", selu),
    Rule::new("Sigmoid", ONE, "Sigmoid", direct),
    Rule::new("Sign", ONE, "Sign", direct),
    Rule::new("Sin", ONE, "Sin", direct),
    Rule::new("Softplus", ONE, "Softplus", direct),
    Rule::new("Softsign", ONE, "Abs + Add + Div", softsign).notes("`x / (1 + |x|)`"),
    Rule::new("Sqrt", ONE, "Sqrt", direct),
    Rule::new("Square", ONE, "Mul", square).notes("`x * x`"),
    Rule::new("SquaredDifference", TWO, "Sub + Mul", squared_difference),
    Rule::new("Sub", TWO, "Sub", direct),
    Rule::new("Tanh", ONE, "Tanh", direct),
];
