//! Elementwise arithmetic, comparisons, logic, unary math, activations and
//! type conversion.
//!
//! Binary layers broadcast numpy-style (`auto_broadcast="numpy"`), as ONNX
//! does. `Divide` floors integer quotients by default (`m_pythondiv`),
//! ONNX `Div` truncates, so it becomes `Div` in f64 + `Floor`; `FloorMod`
//! of floats is `a - floor(a/b)·b` since ONNX's float `Mod` is `fmod`.
//! Activations ONNX lacks (`Swish`, `HSigmoid`, `IsFinite`, ...) become
//! small subgraphs; those whose parameters are inputs in OpenVINO and
//! attributes in ONNX (`HardSigmoid`, `Selu`) need constant inputs.

use ir::{Attribute as A, DType, Result};

use super::{Arity, Cx, ImportRule, port, same, some};
use crate::xml::Layer;

type Ins<'a> = &'a [String];

fn divide(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let python = cx.bool_attr(l, "m_pythondiv", true)?;
    if python && let Some(d) = cx.dtype(port(ins, 0)?).filter(|d| d.is_int()) {
        // Floor division of integers: divide in f64, floor, cast back.
        let a = cx.cast(port(ins, 0)?, DType::F64);
        let b = cx.cast(port(ins, 1)?, DType::F64);
        let q = cx.helper("Div", &[&a, &b], vec![], Some(DType::F64));
        let f = cx.helper("Floor", &[&q], vec![], Some(DType::F64));
        cx.emit(l, "Cast", vec![Some(f)], outs, vec![("to", A::Int(i64::from(d.onnx_code())))]);
        return Ok(());
    }
    same(cx, l, ins, outs, "Div")
}

fn floor_mod(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.dtype(port(ins, 0)?).is_some_and(DType::is_float) {
        // ONNX's float Mod is fmod only; floor modulo is a - floor(a/b)·b.
        let q = cx.helper("Div", &[port(ins, 0)?, port(ins, 1)?], vec![], None);
        let f = cx.helper("Floor", &[&q], vec![], None);
        let p = cx.helper("Mul", &[&f, port(ins, 1)?], vec![], None);
        cx.emit(l, "Sub", vec![some(port(ins, 0)?), Some(p)], outs, vec![]);
        return Ok(());
    }
    cx.emit(l, "Mod", vec![some(port(ins, 0)?), some(port(ins, 1)?)], outs, vec![("fmod", A::Int(0))]);
    Ok(())
}

fn truncated_mod(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    cx.emit(l, "Mod", vec![some(port(ins, 0)?), some(port(ins, 1)?)], outs, vec![("fmod", A::Int(1))]);
    Ok(())
}

fn squared_difference(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let d = cx.helper("Sub", &[port(ins, 0)?, port(ins, 1)?], vec![], None);
    cx.emit(l, "Mul", vec![Some(d.clone()), Some(d)], outs, vec![]);
    Ok(())
}

fn not_equal(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let e = cx.helper("Equal", &[port(ins, 0)?, port(ins, 1)?], vec![], Some(DType::Bool));
    cx.emit(l, "Not", vec![Some(e)], outs, vec![]);
    Ok(())
}

fn round(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match l.attr("mode").unwrap_or("half_to_even") {
        "half_to_even" => same(cx, l, ins, outs, "Round"),
        "half_away_from_zero" => {
            let a = cx.helper("Abs", &[port(ins, 0)?], vec![], None);
            let half = cx.scalar_like(l, port(ins, 0)?, 0.5)?;
            let s = cx.helper("Add", &[&a, &half], vec![], None);
            let f = cx.helper("Floor", &[&s], vec![], None);
            let sign = cx.helper("Sign", &[port(ins, 0)?], vec![], None);
            cx.emit(l, "Mul", vec![Some(f), Some(sign)], outs, vec![]);
            Ok(())
        }
        m => Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    }
}

/// The first value of a float constant input (an ONNX attribute).
fn scalar_value(cx: &Cx<'_>, l: &Layer, v: &str) -> Result<f32> {
    cx.const_of(v)
        .and_then(crate::dtype::floats_of)
        .and_then(|v| v.first().copied())
        .map(|v| v as f32)
        .ok_or_else(|| cx.bad(l, "this parameter must be a constant"))
}

fn hard_sigmoid(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = scalar_value(cx, l, port(ins, 1)?)?;
    let beta = scalar_value(cx, l, port(ins, 2)?)?;
    cx.emit(
        l,
        "HardSigmoid",
        vec![some(port(ins, 0)?)],
        outs,
        vec![("alpha", A::Float(alpha)), ("beta", A::Float(beta))],
    );
    Ok(())
}

fn selu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = scalar_value(cx, l, port(ins, 1)?)?;
    let gamma = scalar_value(cx, l, port(ins, 2)?)?;
    cx.emit(l, "Selu", vec![some(port(ins, 0)?)], outs, vec![("alpha", A::Float(alpha)), ("gamma", A::Float(gamma))]);
    Ok(())
}

fn elu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = cx.float_attr(l, "alpha", 1.0)?;
    cx.emit(l, "Elu", vec![some(port(ins, 0)?)], outs, vec![("alpha", A::Float(alpha))]);
    Ok(())
}

fn gelu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mode = match l.attr("approximation_mode").unwrap_or("ERF").to_ascii_uppercase().as_str() {
        "ERF" => "none",
        "TANH" => "tanh",
        m => return Err(cx.bad(l, format!("approximation_mode='{m}' is not supported"))),
    };
    cx.emit(l, "Gelu", vec![some(port(ins, 0)?)], outs, vec![("approximate", A::String(mode.into()))]);
    Ok(())
}

fn swish(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let x = port(ins, 0)?;
    let arg = match ins.get(1) {
        Some(beta) => cx.helper("Mul", &[x, beta], vec![], None),
        None => x.clone(),
    };
    let s = cx.helper("Sigmoid", &[&arg], vec![], None);
    cx.emit(l, "Mul", vec![some(x), Some(s)], outs, vec![]);
    Ok(())
}

fn hsigmoid(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    cx.emit(
        l,
        "HardSigmoid",
        vec![some(port(ins, 0)?)],
        outs,
        vec![("alpha", A::Float(1.0 / 6.0)), ("beta", A::Float(0.5))],
    );
    Ok(())
}

fn prelu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    // OpenVINO applies a 1-D slope of C values to axis 1; ONNX broadcasts
    // numpy-style, so such a slope is reshaped to [C, 1, …].
    let slope = port(ins, 1)?;
    let slope_len = cx.static_shape(slope).and_then(|s| match s.as_slice() {
        [n] => Some(*n),
        _ => None,
    });
    let rank = cx.rank(port(ins, 0)?);
    let slope = match (slope_len, rank) {
        (Some(c), Some(r)) if c > 1 && r > 2 => {
            let mut shape = vec![c as i64];
            shape.extend(std::iter::repeat_n(1, r - 2));
            cx.reshape(slope, &shape)
        }
        _ => slope.clone(),
    };
    cx.emit(l, "PRelu", vec![some(port(ins, 0)?), Some(slope)], outs, vec![]);
    Ok(())
}

fn clamp(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let lo = cx.float_attr(l, "min", f32::MIN)?;
    let hi = cx.float_attr(l, "max", f32::MAX)?;
    let d = cx.dtype(port(ins, 0)?).unwrap_or(DType::F32);
    let lo = cx.b.scalar(&format!("{}/min", l.name), f64::from(lo), d).map_err(|e| cx.bad(l, e))?;
    let hi = cx.b.scalar(&format!("{}/max", l.name), f64::from(hi), d).map_err(|e| cx.bad(l, e))?;
    cx.emit(l, "Clip", vec![some(port(ins, 0)?), Some(lo), Some(hi)], outs, vec![]);
    Ok(())
}

/// The attributes of a `Cast` to `d` with OpenVINO's conversion semantics.
/// `Convert` to `f8e4m3`/`f8e5m2` does not saturate (past the range E4M3FN
/// gives NaN, E5M2 ±inf), which is ONNX's `saturate=0`; ONNX's default
/// saturates. Other types have no `saturate` to set.
fn cast_attrs(d: DType) -> Vec<(&'static str, A)> {
    let mut attrs = vec![("to", A::Int(i64::from(d.onnx_code())))];
    if matches!(d, DType::F8E4M3FN | DType::F8E5M2) {
        attrs.push(("saturate", A::Int(0)));
    }
    attrs
}

fn convert(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let et = cx.attr(l, "destination_type")?;
    let d = crate::dtype::from_element_type(et)
        .ok_or_else(|| cx.bad(l, format!("destination_type '{et}' is not supported")))?;
    cx.emit(l, "Cast", vec![some(port(ins, 0)?)], outs, cast_attrs(d));
    cx.dtypes_set(outs, d);
    Ok(())
}

fn convert_like(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match cx.dtype(port(ins, 1)?) {
        Some(d) => {
            cx.emit(l, "Cast", vec![some(port(ins, 0)?)], outs, cast_attrs(d));
            cx.dtypes_set(outs, d);
        }
        // The target type is known only at run time; saturate=0 matters
        // only if it is an 8-bit float, and then it is OpenVINO's behaviour.
        None => {
            cx.emit(l, "CastLike", vec![some(port(ins, 0)?), some(port(ins, 1)?)], outs, vec![("saturate", A::Int(0))])
        }
    }
    Ok(())
}

fn is_finite(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let nan = cx.helper("IsNaN", &[port(ins, 0)?], vec![], Some(DType::Bool));
    let inf = cx.helper("IsInf", &[port(ins, 0)?], vec![], Some(DType::Bool));
    let bad = cx.helper("Or", &[&nan, &inf], vec![], Some(DType::Bool));
    cx.emit(l, "Not", vec![Some(bad)], outs, vec![]);
    Ok(())
}

fn is_inf(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let p = cx.bool_attr(l, "detect_positive", true)?;
    let n = cx.bool_attr(l, "detect_negative", true)?;
    cx.emit(
        l,
        "IsInf",
        vec![some(port(ins, 0)?)],
        outs,
        vec![("detect_positive", A::Int(i64::from(p))), ("detect_negative", A::Int(i64::from(n)))],
    );
    Ok(())
}

/// Builds a rule table: groups of one-to-one renames (same inputs, same
/// order) with their arity, then the other rules.
macro_rules! table {
    ($($arity:expr => [$($ov:literal => $onnx:literal),* $(,)?]),* ; $($rule:expr),* $(,)?) => {
        &[$($(ImportRule::new($ov, $onnx, $arity, |cx, l, i, o| same(cx, l, i, o, $onnx)),)*)* $($rule),*]
    };
}

/// This family's rules.
pub(crate) const RULES: &[ImportRule] = table![
    Arity::ins(1) => [
        "LogicalNot" => "Not", "BitwiseNot" => "BitwiseNot", "ReLU" => "Relu", "Sigmoid" => "Sigmoid",
        "Tanh" => "Tanh", "Exp" => "Exp", "Log" => "Log", "Sqrt" => "Sqrt", "Abs" => "Abs", "Negative" => "Neg",
        "Floor" => "Floor", "Ceiling" => "Ceil", "Sign" => "Sign", "Erf" => "Erf", "Sin" => "Sin", "Cos" => "Cos",
        "Tan" => "Tan", "Asin" => "Asin", "Acos" => "Acos", "Atan" => "Atan", "Sinh" => "Sinh", "Cosh" => "Cosh",
        "Asinh" => "Asinh", "Acosh" => "Acosh", "Atanh" => "Atanh", "SoftPlus" => "Softplus",
        "SoftSign" => "Softsign", "Mish" => "Mish", "HSwish" => "HardSwish", "IsNaN" => "IsNaN",
    ],
    Arity::ins(2) => [
        "Add" => "Add", "Subtract" => "Sub", "Multiply" => "Mul", "Power" => "Pow", "Maximum" => "Max",
        "Minimum" => "Min", "Equal" => "Equal", "Less" => "Less", "LessEqual" => "LessOrEqual",
        "Greater" => "Greater", "GreaterEqual" => "GreaterOrEqual", "LogicalAnd" => "And", "LogicalOr" => "Or",
        "LogicalXor" => "Xor", "BitwiseAnd" => "BitwiseAnd", "BitwiseOr" => "BitwiseOr",
        "BitwiseXor" => "BitwiseXor",
    ],
    Arity::ins(3) => ["Select" => "Where"];
    ImportRule::new("Divide", "Div (Cast/Div/Floor for integer python division)", Arity::ins(2), divide),
    ImportRule::new("FloorMod", "Mod (fmod=0) / Div, Floor, Mul, Sub for floats", Arity::ins(2), floor_mod),
    ImportRule::new("Mod", "Mod (fmod=1)", Arity::ins(2), truncated_mod),
    ImportRule::new("SquaredDifference", "Sub + Mul", Arity::ins(2), squared_difference),
    ImportRule::new("NotEqual", "Equal + Not", Arity::ins(2), not_equal),
    ImportRule::new("Round", "Round / Abs, Add, Floor, Sign, Mul", Arity::ins(1), round),
    ImportRule::new("HardSigmoid", "HardSigmoid", Arity::ins(3), hard_sigmoid),
    ImportRule::new("HSigmoid", "HardSigmoid (alpha 1/6, beta 0.5)", Arity::ins(1), hsigmoid),
    ImportRule::new("Selu", "Selu", Arity::ins(3), selu),
    ImportRule::new("Elu", "Elu", Arity::ins(1), elu),
    ImportRule::new("Gelu", "Gelu (opset 20)", Arity::ins(1), gelu),
    ImportRule::new("Swish", "Mul + Sigmoid", Arity::ins_between(1, 2), swish),
    ImportRule::new("PRelu", "PRelu (slope reshaped to [C, 1, …])", Arity::ins(2), prelu),
    ImportRule::new("Clamp", "Clip", Arity::ins(1), clamp),
    ImportRule::new("Convert", "Cast (saturate=0 to f8; or DequantizeLinear, see quantization)", Arity::ins(1), convert),
    ImportRule::new("ConvertLike", "Cast / CastLike (saturate=0 to f8)", Arity::ins(2), convert_like),
    ImportRule::new("IsInf", "IsInf", Arity::ins(1), is_inf),
    ImportRule::new("IsFinite", "IsNaN, IsInf, Or, Not", Arity::ins(1), is_finite),
];
