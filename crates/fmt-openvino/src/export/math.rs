//! Elementwise arithmetic, comparisons, logic, unary math and activations.
//!
//! Binary ops use `auto_broadcast="numpy"`, ONNX's multidirectional
//! broadcasting. ONNX `Div` truncates integers, so `Divide` is written with
//! `m_pythondiv="false"`. Activations OpenVINO lacks are small subgraphs.

use ir::{DType, Node, Result};

use super::{Ex, Rule, Src, float, int, string, unsupported_attr};

fn nb() -> (&'static str, String) {
    ("auto_broadcast", "numpy".to_string())
}

/// A binary layer with numpy broadcasting.
pub(crate) fn binary(ex: &mut Ex<'_>, kind: &'static str, a: Src, b: Src) -> Src {
    if kind == "Divide" {
        ex.op(kind, "opset1", &[nb(), ("m_pythondiv", "false".into())], &[a, b])
    } else {
        ex.op(kind, "opset1", &[nb()], &[a, b])
    }
}

fn bin(ex: &mut Ex<'_>, n: &Node, kind: &'static str) -> Result<()> {
    let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let s = binary(ex, kind, a, b);
    ex.bind(n, 0, s);
    Ok(())
}

/// Variadic ONNX ops (`Sum`, `Max`, `Min`, `Mean`) as a chain of binary layers.
fn variadic(ex: &mut Ex<'_>, n: &Node, kind: &'static str, mean: bool) -> Result<()> {
    let srcs: Vec<Src> = n.present_inputs().map(|v| ex.value(v)).collect::<Result<_>>()?;
    let Some((&first, rest)) = srcs.split_first() else {
        return Err(ir::Error::invalid(format!("{}: needs at least one input", n.describe())));
    };
    let mut acc = first;
    for &s in rest {
        acc = binary(ex, kind, acc, s);
    }
    if mean && srcs.len() > 1 {
        let d = ex.dtype(first);
        let k = ex.scalar(srcs.len() as f64, d)?;
        acc = binary(ex, "Divide", acc, k);
    }
    // A single input is passed through unchanged.
    ex.bind(n, 0, acc);
    Ok(())
}

fn unary_layer(
    ex: &mut Ex<'_>,
    n: &Node,
    kind: &'static str,
    version: &'static str,
    data: &[(&str, String)],
) -> Result<()> {
    let x = ex.input(n, 0)?;
    let s = ex.op(kind, version, data, &[x]);
    ex.bind(n, 0, s);
    Ok(())
}

fn unary(ex: &mut Ex<'_>, n: &Node, kind: &'static str) -> Result<()> {
    unary_layer(ex, n, kind, "opset1", &[])
}

/// The largest finite value of an 8-bit float type that ONNX's `saturate`
/// clamps to.
fn f8_max(d: DType) -> Option<f32> {
    match d {
        DType::F8E4M3FN => Some(448.0),
        DType::F8E5M2 => Some(57344.0),
        _ => None,
    }
}

/// `x` clamped to the range of `to` when `n` is a saturating cast to an
/// 8-bit float. OpenVINO's `Convert` to `f8e4m3`/`f8e5m2` does not saturate:
/// past the range it gives NaN (E4M3FN, which has no infinity) or ±inf
/// (E5M2), which is ONNX's `saturate=0`. ONNX's default, `saturate=1`,
/// rounds everything past the range (infinities too) to ±max, which is what
/// a `Clamp` to ±max before the conversion gives; NaN stays NaN.
fn saturated(ex: &mut Ex<'_>, n: &Node, x: Src, to: Option<DType>) -> Result<Src> {
    let Some(max) = to.and_then(f8_max) else { return Ok(x) };
    // `saturate` arrived with the 8-bit float types (Cast-19); it defaults to 1.
    if int(n, "saturate", 1)? == 0 {
        return Ok(x);
    }
    let (d, r) = (ex.dtype(x), ex.rank(x));
    let c = ex.op("Clamp", "opset1", &[("min", float(-max)), ("max", float(max))], &[x]);
    Ok(ex.set(c, d, r))
}

fn cast(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let to = int(n, "to", 1)?;
    let dt = DType::from_onnx_code(to).ok_or_else(|| unsupported_attr(n, &format!("Cast to data type {to}")))?;
    let et = crate::dtype::element_type(dt).ok_or_else(|| unsupported_attr(n, &format!("Cast to {dt}")))?;
    let r = ex.rank(x);
    let x = saturated(ex, n, x, Some(dt))?;
    let s = ex.op("Convert", "opset1", &[("destination_type", et.into())], &[x]);
    ex.set(s, Some(dt), r);
    ex.bind(n, 0, s);
    Ok(())
}

fn cast_like(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, like) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let (d, r) = (ex.dtype(like), ex.rank(x));
    if d.is_none() && int(n, "saturate", 1)? != 0 {
        // An 8-bit float target would need the clamp, and which one is not known.
        return Err(unsupported_attr(n, "a saturating CastLike to an unknown element type"));
    }
    let x = saturated(ex, n, x, d)?;
    let s = ex.op("ConvertLike", "opset1", &[], &[x, like]);
    ex.set(s, d, r);
    ex.bind(n, 0, s);
    Ok(())
}

fn clip(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let d = ex.dtype(x);
    // Before opset 11 the bounds are attributes; later, optional inputs.
    let (lo, hi) = if ex.model().onnx_opset() < 11 {
        let lo = n.attr_float("min", f32::MIN)?;
        let hi = n.attr_float("max", f32::MAX)?;
        (Some(ex.scalar(f64::from(lo), d)?), Some(ex.scalar(f64::from(hi), d)?))
    } else {
        (ex.opt_input(n, 1)?, ex.opt_input(n, 2)?)
    };
    let float_bounds = d.is_some_and(DType::is_float);
    let lo_v = lo.and_then(|s| ex.constant(s)).and_then(crate::dtype::floats_of).and_then(|v| v.first().copied());
    let hi_v = hi.and_then(|s| ex.constant(s)).and_then(crate::dtype::floats_of).and_then(|v| v.first().copied());
    // Clamp takes constant float bounds; otherwise Maximum/Minimum do the same.
    if float_bounds && lo.is_none_or(|_| lo_v.is_some()) && hi.is_none_or(|_| hi_v.is_some()) {
        let lo = lo_v.unwrap_or(f64::from(f32::MIN));
        let hi = hi_v.unwrap_or(f64::from(f32::MAX));
        let s = ex.op("Clamp", "opset1", &[("min", float(lo as f32)), ("max", float(hi as f32))], &[x]);
        ex.bind(n, 0, s);
        return Ok(());
    }
    let mut acc = x;
    if let Some(lo) = lo {
        acc = binary(ex, "Maximum", acc, lo);
    }
    if let Some(hi) = hi {
        acc = binary(ex, "Minimum", acc, hi);
    }
    ex.bind(n, 0, acc);
    Ok(())
}

fn gelu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let mode = match string(n, "approximate", "none")? {
        "none" => "ERF",
        "tanh" => "TANH",
        m => return Err(unsupported_attr(n, &format!("approximate='{m}'"))),
    };
    unary_layer(ex, n, "Gelu", "opset7", &[("approximation_mode", mode.into())])
}

fn leaky_relu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let alpha = n.attr_float("alpha", 0.01)?;
    let d = ex.dtype(x);
    let a = ex.scalar(f64::from(alpha), d)?;
    let s = ex.op("PRelu", "opset1", &[], &[x, a]);
    ex.bind(n, 0, s);
    Ok(())
}

/// ONNX PRelu broadcasts the slope numpy-style (unidirectionally) while
/// OpenVINO's applies a 1-D slope to axis 1; `max(x,0) + slope·min(x,0)` has
/// ONNX's semantics exactly.
fn prelu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, slope) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let d = ex.dtype(x);
    let zero = ex.scalar(0.0, d)?;
    let pos = binary(ex, "Maximum", x, zero);
    let neg = binary(ex, "Minimum", x, zero);
    let scaled = binary(ex, "Multiply", neg, slope);
    let r = ex.rank(x);
    let s = binary(ex, "Add", pos, scaled);
    ex.set(s, d, r);
    ex.bind(n, 0, s);
    Ok(())
}

fn elu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = n.attr_float("alpha", 1.0)?;
    unary_layer(ex, n, "Elu", "opset1", &[("alpha", float(alpha))])
}

fn selu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let d = ex.dtype(x);
    let alpha = ex.scalar(f64::from(n.attr_float("alpha", 1.673_263_2)?), d)?;
    let gamma = ex.scalar(f64::from(n.attr_float("gamma", 1.050_701)?), d)?;
    let s = ex.op("Selu", "opset1", &[], &[x, alpha, gamma]);
    ex.bind(n, 0, s);
    Ok(())
}

fn hard_sigmoid(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let d = ex.dtype(x);
    let alpha = ex.scalar(f64::from(n.attr_float("alpha", 0.2)?), d)?;
    let beta = ex.scalar(f64::from(n.attr_float("beta", 0.5)?), d)?;
    let s = ex.op("HardSigmoid", "opset1", &[], &[x, alpha, beta]);
    ex.bind(n, 0, s);
    Ok(())
}

fn reciprocal(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let d = ex.dtype(x);
    let one = ex.scalar(1.0, d)?;
    let s = binary(ex, "Divide", one, x);
    let r = ex.rank(x);
    ex.set(s, d, r);
    ex.bind(n, 0, s);
    Ok(())
}

/// ONNX `Mod`: `fmod=0` takes the divisor's sign (numpy `mod`, `FloorMod`),
/// `fmod=1` the dividend's (C `fmod`, `Mod`). For floats OpenVINO computes
/// `a - b·floor(a/b)` and `a - b·trunc(a/b)`, which agree with numpy and C
/// everywhere except a finite `a` over an infinite `b`: there `b·0` makes
/// them NaN, while C gives `a` and numpy `a`, or `b` when `a` is non-zero
/// and of the other sign. Those elements are patched with `Select`s (the
/// NaNs of `b = 0`, an infinite `a` or a NaN already agree).
fn modulo(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let floor = int(n, "fmod", 0)? == 0;
    let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let r = binary(ex, if floor { "FloorMod" } else { "Mod" }, a, b);
    let d = ex.dtype(a);
    if !d.is_some_and(DType::is_float) {
        ex.bind(n, 0, r);
        return Ok(());
    }
    let inf_b =
        ex.op("IsInf", "opset10", &[("detect_positive", "true".into()), ("detect_negative", "true".into())], &[b]);
    let finite_a = ex.op("IsFinite", "opset10", &[], &[a]);
    let patch = binary(ex, "LogicalAnd", inf_b, finite_a);
    let v = if floor {
        let zero = ex.scalar(0.0, d)?;
        let neg_a = binary(ex, "Less", a, zero);
        let neg_b = binary(ex, "Less", b, zero);
        let signs_differ = binary(ex, "NotEqual", neg_a, neg_b);
        let nonzero = binary(ex, "NotEqual", a, zero);
        let to_b = binary(ex, "LogicalAnd", signs_differ, nonzero);
        select(ex, to_b, b, a)
    } else {
        a
    };
    let y = select(ex, patch, v, r);
    ex.bind(n, 0, y);
    Ok(())
}

/// `Select` with numpy broadcasting, typed like `a`.
fn select(ex: &mut Ex<'_>, c: Src, a: Src, b: Src) -> Src {
    let s = ex.op("Select", "opset1", &[nb()], &[c, a, b]);
    let rank = [c, a, b].iter().map(|&s| ex.rank(s)).try_fold(0usize, |m, r| r.map(|r| m.max(r)));
    let d = ex.dtype(a);
    ex.set(s, d, rank)
}

fn where_(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (c, a, b) = (ex.input(n, 0)?, ex.input(n, 1)?, ex.input(n, 2)?);
    let s = select(ex, c, a, b);
    ex.bind(n, 0, s);
    Ok(())
}

fn is_inf(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let pos = int(n, "detect_positive", 1)? != 0;
    let neg = int(n, "detect_negative", 1)? != 0;
    unary_layer(
        ex,
        n,
        "IsInf",
        "opset10",
        &[("detect_positive", pos.to_string()), ("detect_negative", neg.to_string())],
    )
}

fn round(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    unary_layer(ex, n, "Round", "opset5", &[("mode", "half_to_even".into())])
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "Add", openvino: "Add-1", build: |ex, n| bin(ex, n, "Add") },
    Rule { onnx: "Sub", openvino: "Subtract-1", build: |ex, n| bin(ex, n, "Subtract") },
    Rule { onnx: "Mul", openvino: "Multiply-1", build: |ex, n| bin(ex, n, "Multiply") },
    Rule { onnx: "Div", openvino: "Divide-1 (m_pythondiv=false)", build: |ex, n| bin(ex, n, "Divide") },
    Rule { onnx: "Pow", openvino: "Power-1", build: |ex, n| bin(ex, n, "Power") },
    Rule {
        onnx: "Mod",
        openvino: "FloorMod-1 / Mod-1 (fmod) (+ IsInf-10, IsFinite-10, Select-1 for floats over ±inf)",
        build: modulo,
    },
    Rule { onnx: "Max", openvino: "Maximum-1 (chained)", build: |ex, n| variadic(ex, n, "Maximum", false) },
    Rule { onnx: "Min", openvino: "Minimum-1 (chained)", build: |ex, n| variadic(ex, n, "Minimum", false) },
    Rule { onnx: "Sum", openvino: "Add-1 (chained)", build: |ex, n| variadic(ex, n, "Add", false) },
    Rule { onnx: "Mean", openvino: "Add-1 (chained) + Divide-1", build: |ex, n| variadic(ex, n, "Add", true) },
    Rule { onnx: "Equal", openvino: "Equal-1", build: |ex, n| bin(ex, n, "Equal") },
    Rule { onnx: "Less", openvino: "Less-1", build: |ex, n| bin(ex, n, "Less") },
    Rule { onnx: "LessOrEqual", openvino: "LessEqual-1", build: |ex, n| bin(ex, n, "LessEqual") },
    Rule { onnx: "Greater", openvino: "Greater-1", build: |ex, n| bin(ex, n, "Greater") },
    Rule { onnx: "GreaterOrEqual", openvino: "GreaterEqual-1", build: |ex, n| bin(ex, n, "GreaterEqual") },
    Rule { onnx: "And", openvino: "LogicalAnd-1", build: |ex, n| bin(ex, n, "LogicalAnd") },
    Rule { onnx: "Or", openvino: "LogicalOr-1", build: |ex, n| bin(ex, n, "LogicalOr") },
    Rule { onnx: "Xor", openvino: "LogicalXor-1", build: |ex, n| bin(ex, n, "LogicalXor") },
    Rule { onnx: "Not", openvino: "LogicalNot-1", build: |ex, n| unary(ex, n, "LogicalNot") },
    Rule {
        onnx: "BitwiseAnd",
        openvino: "BitwiseAnd-13",
        build: |ex, n| {
            let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
            let s = ex.op("BitwiseAnd", "opset13", &[nb()], &[a, b]);
            ex.bind(n, 0, s);
            Ok(())
        },
    },
    Rule {
        onnx: "BitwiseOr",
        openvino: "BitwiseOr-13",
        build: |ex, n| {
            let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
            let s = ex.op("BitwiseOr", "opset13", &[nb()], &[a, b]);
            ex.bind(n, 0, s);
            Ok(())
        },
    },
    Rule {
        onnx: "BitwiseXor",
        openvino: "BitwiseXor-13",
        build: |ex, n| {
            let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
            let s = ex.op("BitwiseXor", "opset13", &[nb()], &[a, b]);
            ex.bind(n, 0, s);
            Ok(())
        },
    },
    Rule {
        onnx: "BitwiseNot",
        openvino: "BitwiseNot-13",
        build: |ex, n| unary_layer(ex, n, "BitwiseNot", "opset13", &[]),
    },
    Rule { onnx: "Where", openvino: "Select-1", build: where_ },
    Rule { onnx: "Relu", openvino: "ReLU-1", build: |ex, n| unary(ex, n, "ReLU") },
    Rule { onnx: "Sigmoid", openvino: "Sigmoid-1", build: |ex, n| unary(ex, n, "Sigmoid") },
    Rule { onnx: "Tanh", openvino: "Tanh-1", build: |ex, n| unary(ex, n, "Tanh") },
    Rule { onnx: "Exp", openvino: "Exp-1", build: |ex, n| unary(ex, n, "Exp") },
    Rule { onnx: "Log", openvino: "Log-1", build: |ex, n| unary(ex, n, "Log") },
    Rule { onnx: "Sqrt", openvino: "Sqrt-1", build: |ex, n| unary(ex, n, "Sqrt") },
    Rule { onnx: "Abs", openvino: "Abs-1", build: |ex, n| unary(ex, n, "Abs") },
    Rule { onnx: "Neg", openvino: "Negative-1", build: |ex, n| unary(ex, n, "Negative") },
    Rule { onnx: "Floor", openvino: "Floor-1", build: |ex, n| unary(ex, n, "Floor") },
    Rule { onnx: "Ceil", openvino: "Ceiling-1", build: |ex, n| unary(ex, n, "Ceiling") },
    Rule { onnx: "Sign", openvino: "Sign-1", build: |ex, n| unary(ex, n, "Sign") },
    Rule { onnx: "Erf", openvino: "Erf-1", build: |ex, n| unary(ex, n, "Erf") },
    Rule { onnx: "Sin", openvino: "Sin-1", build: |ex, n| unary(ex, n, "Sin") },
    Rule { onnx: "Cos", openvino: "Cos-1", build: |ex, n| unary(ex, n, "Cos") },
    Rule { onnx: "Tan", openvino: "Tan-1", build: |ex, n| unary(ex, n, "Tan") },
    Rule { onnx: "Asin", openvino: "Asin-1", build: |ex, n| unary(ex, n, "Asin") },
    Rule { onnx: "Acos", openvino: "Acos-1", build: |ex, n| unary(ex, n, "Acos") },
    Rule { onnx: "Atan", openvino: "Atan-1", build: |ex, n| unary(ex, n, "Atan") },
    Rule { onnx: "Sinh", openvino: "Sinh-1", build: |ex, n| unary(ex, n, "Sinh") },
    Rule { onnx: "Cosh", openvino: "Cosh-1", build: |ex, n| unary(ex, n, "Cosh") },
    Rule { onnx: "Asinh", openvino: "Asinh-3", build: |ex, n| unary_layer(ex, n, "Asinh", "opset3", &[]) },
    Rule { onnx: "Acosh", openvino: "Acosh-3", build: |ex, n| unary_layer(ex, n, "Acosh", "opset3", &[]) },
    Rule { onnx: "Atanh", openvino: "Atanh-3", build: |ex, n| unary_layer(ex, n, "Atanh", "opset3", &[]) },
    Rule { onnx: "Round", openvino: "Round-5 (half_to_even)", build: round },
    Rule { onnx: "Reciprocal", openvino: "Divide-1 (1 / x)", build: reciprocal },
    Rule { onnx: "IsNaN", openvino: "IsNaN-10", build: |ex, n| unary_layer(ex, n, "IsNaN", "opset10", &[]) },
    Rule { onnx: "IsInf", openvino: "IsInf-10", build: is_inf },
    Rule { onnx: "Softplus", openvino: "SoftPlus-4", build: |ex, n| unary_layer(ex, n, "SoftPlus", "opset4", &[]) },
    Rule { onnx: "Softsign", openvino: "SoftSign-9", build: |ex, n| unary_layer(ex, n, "SoftSign", "opset9", &[]) },
    Rule { onnx: "Mish", openvino: "Mish-4", build: |ex, n| unary_layer(ex, n, "Mish", "opset4", &[]) },
    Rule { onnx: "HardSwish", openvino: "HSwish-4", build: |ex, n| unary_layer(ex, n, "HSwish", "opset4", &[]) },
    Rule { onnx: "HardSigmoid", openvino: "HardSigmoid-1", build: hard_sigmoid },
    Rule { onnx: "Elu", openvino: "Elu-1", build: elu },
    Rule { onnx: "Selu", openvino: "Selu-1", build: selu },
    Rule { onnx: "LeakyRelu", openvino: "PRelu-1 (scalar slope)", build: leaky_relu },
    Rule { onnx: "PRelu", openvino: "Maximum-1, Minimum-1, Multiply-1, Add-1", build: prelu },
    Rule { onnx: "Gelu", openvino: "Gelu-7", build: gelu },
    Rule { onnx: "Clip", openvino: "Clamp-1 (or Maximum-1/Minimum-1)", build: clip },
    Rule { onnx: "Cast", openvino: "Convert-1 (+ Clamp-1 when saturating to f8)", build: cast },
    Rule { onnx: "CastLike", openvino: "ConvertLike-1 (+ Clamp-1 when saturating to f8)", build: cast_like },
    Rule {
        onnx: "Identity",
        openvino: "(elided)",
        build: |ex, n| {
            let x = ex.input(n, 0)?;
            ex.bind(n, 0, x);
            Ok(())
        },
    },
];
