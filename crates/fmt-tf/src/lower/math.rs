//! Elementwise arithmetic, activations, comparisons, logic, bit operations,
//! casts and selection.
//!
//! Most ops are one canonical op with the same inputs and numpy
//! broadcasting on both sides. The rest: `FloorDiv` and `FloorMod` round
//! toward negative infinity where ONNX's `Div` truncates and its float
//! `Mod` is C `fmod`; `TruncateDiv` on floats truncates a real quotient;
//! `Erfc`, `Square`, `Rsqrt`, `SquaredDifference`, `Expm1` and `Relu6`
//! have no canonical op of their own; `Select` (v1) takes a vector
//! condition that selects whole rows.
//!
//! Bit operations: `Invert` is `-1 - x` (signed) or `MAX - x` (unsigned),
//! canonical at every opset; `BitwiseAnd`/`Or`/`Xor` exist from opset 18.
//! TF's shifts clamp the amount to `[0, bits - 1]`, and a right shift of a
//! signed value is arithmetic; ONNX's `BitShift` (opset 11) takes unsigned
//! types only, so signed values are shifted as their unsigned bit pattern
//! (left) or through `-1 - x`, which maps negatives onto non-negatives and
//! commutes with an arithmetic right shift (right).

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

/// `trunc(a / b)`: integers divide truncating already (ONNX's `Div`);
/// float quotients are rounded toward zero (no canonical `Trunc`).
fn truncate_div(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (a, b) = (&ins[0], &ins[1]);
    let q = cx.op("Div", &[a, b], vec![])?;
    if !cx.dtype_of(n, a)?.is_float() {
        return Ok(vec![q]);
    }
    let zero = scalar_like(cx, n, a, 0.0)?;
    let neg = cx.op("Less", &[&q, &zero], vec![])?;
    let up = cx.op("Ceil", &[&q], vec![])?;
    let down = cx.op("Floor", &[&q], vec![])?;
    Ok(vec![cx.op("Where", &[&neg, &up, &down], vec![])?])
}

fn truncate_mod(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    // C fmod: the dividend's sign, for integers and floats alike.
    Ok(vec![cx.op("Mod", &[&ins[0], &ins[1]], vec![("fmod", A::Int(1))])?])
}

/// `x / y`, but 0 wherever `y` is 0 (whatever `x` is, NaN included).
fn div_no_nan(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (x, y) = (&ins[0], &ins[1]);
    let zero = scalar_like(cx, n, y, 0.0)?;
    let q = cx.op("Div", &[x, y], vec![])?;
    let y_zero = cx.op("Equal", &[y, &zero], vec![])?;
    // The quotient already has the broadcast shape; the scalar 0 fits it.
    Ok(vec![cx.op("Where", &[&y_zero, &zero, &q], vec![])?])
}

/// `exp(x) - 1`, accurate near 0 as TF's is (Kahan's correction:
/// `(u - 1)·x / log(u)` with `u = exp(x)`; `x` itself where `u` rounds to 1).
fn expm1(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let x = &ins[0];
    let one = scalar_like(cx, n, x, 1.0)?;
    let minus_one = scalar_like(cx, n, x, -1.0)?;
    let u = cx.op("Exp", &[x], vec![])?;
    let um1 = cx.op("Sub", &[&u, &one], vec![])?;
    let scaled = cx.op("Mul", &[&um1, x], vec![])?;
    let log = cx.op("Log", &[&u], vec![])?;
    let corrected = cx.op("Div", &[&scaled, &log], vec![])?;
    let u_is_one = cx.op("Equal", &[&u, &one], vec![])?;
    let r = cx.op("Where", &[&u_is_one, x, &corrected], vec![])?;
    // exp underflowed (x very negative) or overflowed: u - 1 is exact there.
    let at_minus_one = cx.op("Equal", &[&um1, &minus_one], vec![])?;
    let r = cx.op("Where", &[&at_minus_one, &minus_one, &r], vec![])?;
    let inf = cx.op("IsInf", &[&u], vec![])?;
    Ok(vec![cx.op("Where", &[&inf, &u, &r], vec![])?])
}

/// The unsigned integer type of `d`'s width.
fn unsigned_of(d: DType) -> Option<DType> {
    Some(match d {
        DType::I8 | DType::U8 => DType::U8,
        DType::I16 | DType::U16 => DType::U16,
        DType::I32 | DType::U32 => DType::U32,
        DType::I64 | DType::U64 => DType::U64,
        _ => return None,
    })
}

/// The integer dtype of `v`, required (bit ops take nothing else).
fn int_dtype(cx: &Cx<'_>, n: &TfNode, v: &str) -> Result<DType> {
    let d = cx.dtype_of(n, v)?;
    if unsigned_of(d).is_none() {
        return Err(cx.bad(n, format!("bit operations take 8- to 64-bit integers, not {d}")));
    }
    Ok(d)
}

/// `!x`: `-1 - x` for signed types, `MAX - x` for unsigned ones.
fn invert(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let x = &ins[0];
    let d = int_dtype(cx, n, x)?;
    let all_ones = if unsigned_of(d) == Some(d) {
        // 2^bits - 1; u64's maximum saturates from the rounded f64.
        let bits = d.bits().unwrap_or(64);
        cx.scalar(2f64.powi(bits as i32) - 1.0, d)?
    } else {
        cx.scalar(-1.0, d)?
    };
    Ok(vec![cx.op("Sub", &[&all_ones, x], vec![])?])
}

fn shift(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (x, y) = (&ins[0], &ins[1]);
    let d = int_dtype(cx, n, x)?;
    let u = unsigned_of(d).ok_or_else(|| cx.bad(n, format!("cannot shift {d}")))?;
    let left = n.op == "LeftShift";
    let direction = vec![("direction", A::String(if left { "LEFT" } else { "RIGHT" }.into()))];
    // TF clamps the amount to [0, bits - 1].
    let bits = f64::from(d.bits().unwrap_or(64));
    let hi = cx.scalar(bits - 1.0, d)?;
    let y = if d == u {
        y.clone()
    } else {
        let lo = cx.scalar(0.0, d)?;
        cx.op("Max", &[y, &lo], vec![])?
    };
    let y = cx.op("Min", &[&y, &hi], vec![])?;
    let y = cx.cast(&y, u)?;
    if d == u {
        return Ok(vec![cx.op("BitShift", &[x, &y], direction)?]);
    }
    if left {
        // The bit pattern shifts the same whatever its sign.
        let ux = cx.cast(x, u)?;
        let s = cx.op("BitShift", &[&ux, &y], direction)?;
        return Ok(vec![cx.cast(&s, d)?]);
    }
    // Arithmetic shift: for x < 0, x >> y = -1 - ((-1 - x) >> y), -1 - x >= 0.
    let minus_one = cx.scalar(-1.0, d)?;
    let zero = cx.scalar(0.0, d)?;
    let neg = cx.op("Less", &[x, &zero], vec![])?;
    let flipped = cx.op("Sub", &[&minus_one, x], vec![])?;
    let magnitude = cx.op("Where", &[&neg, &flipped, x], vec![])?;
    let ux = cx.cast(&magnitude, u)?;
    let s = cx.op("BitShift", &[&ux, &y], direction)?;
    let s = cx.cast(&s, d)?;
    let s_flipped = cx.op("Sub", &[&minus_one, &s], vec![])?;
    Ok(vec![cx.op("Where", &[&neg, &s_flipped, &s], vec![])?])
}

/// `BitwiseAnd`/`Or`/`Xor` on integers (opset 18).
fn bitwise(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    int_dtype(cx, n, &ins[0])?;
    Ok(vec![cx.op(cx.target, &[&ins[0], &ins[1]], vec![])?])
}

fn is_inf(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let x = &ins[0];
    let d = cx.dtype_of(n, x)?;
    if !d.is_float() {
        return Err(cx.bad(n, format!("IsInf takes floats, not {d}")));
    }
    Ok(vec![cx.op("IsInf", &[x], vec![])?])
}

fn cast(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let to = type_attr(n, "DstT").ok_or_else(|| cx.bad(n, "attribute 'DstT' is missing or has no IR dtype"))?;
    let mut attrs = vec![("to", A::Int(i64::from(to.onnx_code())))];
    if matches!(to, DType::F8E4M3FN | DType::F8E5M2) {
        // TF converts as ml_dtypes does, without saturating: out of range
        // is NaN in E4M3FN (it has no inf) and ±inf in E5M2.
        attrs.push(("saturate", A::Int(0)));
    }
    Ok(vec![cx.op("Cast", &[&ins[0]], attrs)?])
}

/// The opset a `Cast` needs: 8-bit floats arrived in Cast-19, 4-bit
/// integers in Cast-21.
fn cast_opset(n: &TfNode) -> i64 {
    let needs = |a: &str| match type_attr(n, a) {
        Some(DType::I4 | DType::U4) => 21,
        Some(DType::F8E4M3FN | DType::F8E5M2) => 19,
        _ => ir::opset::DEFAULT_OPSET,
    };
    needs("SrcT").max(needs("DstT"))
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
    Rule::new("Acos", ONE, "Acos", direct),
    Rule::new("Acosh", ONE, "Acosh", direct),
    Rule::new("Add", TWO, "Add", direct),
    Rule::new("AddN", Ports::at_least(1), "Sum", add_n),
    Rule::new("AddV2", TWO, "Add", direct),
    Rule::new("Asin", ONE, "Asin", direct),
    Rule::new("Asinh", ONE, "Asinh", direct),
    Rule::new("Atan", ONE, "Atan", direct),
    Rule::new("Atanh", ONE, "Atanh", direct),
    Rule::new("BitwiseAnd", TWO, "BitwiseAnd", bitwise).since(18),
    Rule::new("BitwiseOr", TWO, "BitwiseOr", bitwise).since(18),
    Rule::new("BitwiseXor", TWO, "BitwiseXor", bitwise).since(18),
    Rule::new("Cast", ONE, "Cast", cast)
        .notes("`DstT`; float → int truncates as TF does; 8-bit floats unsaturated (opset 19); 4-bit ints at opset 21")
        .since_for(cast_opset),
    Rule::new("Ceil", ONE, "Ceil", direct),
    Rule::new("ClipByValue", Ports::exactly(3), "Max + Min", clip_by_value).notes("bounds may be tensors"),
    Rule::new("Cumsum", TWO, "CumSum", cumsum).notes("`exclusive`, `reverse`"),
    Rule::new("Div", TWO, "Div", direct).notes("integers truncate, as TF's `Div`"),
    Rule::new("DivNoNan", TWO, "Div + Equal + Where", div_no_nan).notes("0 where the divisor is 0"),
    Rule::new("Elu", ONE, "Elu", direct),
    Rule::new("Equal", TWO, "Equal", direct),
    Rule::new("Erf", ONE, "Erf", direct),
    Rule::new("Erfc", ONE, "Erf + Sub", erfc).notes("`1 - Erf(x)`: no canonical Erfc"),
    Rule::new("Cos", ONE, "Cos", direct),
    Rule::new("Cosh", ONE, "Cosh", direct),
    Rule::new("Exp", ONE, "Exp", direct),
    Rule::new("Expm1", ONE, "Exp + Sub + Log + Where", expm1)
        .notes("`(e^x - 1)·x / log(e^x)`, accurate near 0; ±inf and underflow exact"),
    Rule::new("Floor", ONE, "Floor", direct),
    Rule::new("FloorDiv", TWO, "Div + Floor / Mod + Sub + Div", floor_div)
        .notes("floats: `Floor(a / b)`; signed ints: `(a - mod(a, b)) / b`"),
    Rule::new("FloorMod", TWO, "Mod", floor_mod).notes("ints: `Mod` fmod=0; floats: fmod shifted by the divisor"),
    Rule::new("Greater", TWO, "Greater", direct),
    Rule::new("Invert", ONE, "Sub", invert).notes("`-1 - x` (signed) or `MAX - x` (unsigned)"),
    Rule::new("IsInf", ONE, "IsInf", is_inf),
    Rule::new("GreaterEqual", TWO, "GreaterOrEqual", direct),
    Rule::new("LeakyRelu", ONE, "LeakyRelu", leaky_relu).notes("`alpha` (default 0.2)"),
    Rule::new("LeftShift", TWO, "Max + Min + BitShift", shift)
        .notes("amount clamped to [0, bits - 1] as TF; signed values shifted as unsigned bits"),
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
    Rule::new("RightShift", TWO, "Max + Min + BitShift", shift)
        .notes("amount clamped to [0, bits - 1] as TF; signed values shift arithmetically (via `-1 - x`)"),
    Rule::new("Round", ONE, "Round", direct).notes("half to even, as TF"),
    Rule::new("Rsqrt", ONE, "Sqrt + Reciprocal", rsqrt),
    Rule::new("Select", Ports::exactly(3), "Where", select).notes("a vector condition selects rows (v1 semantics)"),
    Rule::new("SelectV2", Ports::exactly(3), "Where", direct),
    Rule::new("Selu", ONE, "Selu", selu),
    Rule::new("Sigmoid", ONE, "Sigmoid", direct),
    Rule::new("Sign", ONE, "Sign", direct),
    Rule::new("Sin", ONE, "Sin", direct),
    Rule::new("Sinh", ONE, "Sinh", direct),
    Rule::new("Softplus", ONE, "Softplus", direct),
    Rule::new("Softsign", ONE, "Abs + Add + Div", softsign).notes("`x / (1 + |x|)`"),
    Rule::new("Sqrt", ONE, "Sqrt", direct),
    Rule::new("Square", ONE, "Mul", square).notes("`x * x`"),
    Rule::new("SquaredDifference", TWO, "Sub + Mul", squared_difference),
    Rule::new("Sub", TWO, "Sub", direct),
    Rule::new("Tan", ONE, "Tan", direct),
    Rule::new("Tanh", ONE, "Tanh", direct),
    Rule::new("TruncateDiv", TWO, "Div (+ Ceil/Floor + Where)", truncate_div)
        .notes("integers: `Div`; floats: the quotient rounded toward 0"),
    Rule::new("TruncateMod", TWO, "Mod", truncate_mod).notes("`fmod=1`: the dividend's sign"),
];
