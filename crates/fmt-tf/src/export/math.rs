//! Elementwise arithmetic, comparisons, logic, unary math and activations.
//!
//! All of them commute with a transpose, so they run in whatever layout
//! their widest input is held in: other full-rank inputs are brought to
//! that layout, lower-rank constants are broadcast to full rank and
//! permuted at export time. TensorFlow's binary ops broadcast numpy-style
//! like ONNX's. ONNX `Div` truncates integers (`TruncateDiv`), `Mod` follows
//! the divisor's sign unless `fmod=1` (`FloorMod` / `TruncateMod`).

use ir::{DType, Node, Result, Tensor};

use super::{Ex, Rule, ty, unsupported};

/// The layout an elementwise node runs in: that of its first non-constant
/// input of full output rank held in a non-logical layout, provided every
/// other non-constant input also has full rank (or is a scalar).
fn common_layout(ex: &Ex<'_>, n: &Node, out_rank: usize) -> Option<Vec<usize>> {
    let mut chosen = None;
    for name in n.present_inputs() {
        if ex.const_value(name).is_some() {
            continue;
        }
        let r = ex.rank(name)?;
        if r != out_rank && r != 0 {
            return None;
        }
        if chosen.is_none() && r == out_rank {
            chosen = ex.perm_of(name);
        }
    }
    chosen
}

/// The inputs of an elementwise node in layout `p` (or logical if `None`).
pub(crate) fn inputs_in(ex: &mut Ex<'_>, n: &Node, p: Option<&[usize]>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in n.present_inputs() {
        out.push(input_in(ex, name, p)?);
    }
    Ok(out)
}

/// One canonical value in layout `p`: full-rank values are transposed,
/// lower-rank constants padded with leading 1s first, scalars kept.
pub(crate) fn input_in(ex: &mut Ex<'_>, name: &str, p: Option<&[usize]>) -> Result<String> {
    let Some(p) = p else { return ex.logical_of(name) };
    let r = ex.rank(name).unwrap_or(0);
    if r == 0 {
        return ex.logical_of(name);
    }
    if r < p.len()
        && let Some(t) = ex.const_value(name).cloned()
    {
        let mut dims = vec![1; p.len() - r];
        dims.extend_from_slice(t.shape());
        let c = t.reshaped(dims)?.permuted(p)?;
        return ex.constant(&c);
    }
    ex.in_layout_of(name, p)
}

/// A layout-agnostic op on all inputs; `attrs` besides `T`.
fn elementwise_with(ex: &mut Ex<'_>, n: &Node, op: &str, t_dtype: DType) -> Result<()> {
    let out = ex.out_name(n, 0);
    let out_rank = ex.rank(out).unwrap_or(0);
    let p = common_layout(ex, n, out_rank);
    let ins = inputs_in(ex, n, p.as_deref())?;
    let t = ex.op_t(op, ins, t_dtype)?;
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

fn elementwise(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    elementwise_with(ex, n, op, d)
}

/// The layout and inputs of an elementwise node, for composite rules.
pub(crate) fn prepare(ex: &mut Ex<'_>, n: &Node) -> Result<(Option<Vec<usize>>, Vec<String>, DType)> {
    let out = ex.out_name(n, 0);
    let out_rank = ex.rank(out).unwrap_or(0);
    let p = common_layout(ex, n, out_rank);
    let ins = inputs_in(ex, n, p.as_deref())?;
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    Ok((p, ins, d))
}

macro_rules! simple {
    ($name:ident, $op:literal) => {
        fn $name(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
            elementwise(ex, n, $op)
        }
    };
}

simple!(add, "AddV2");
simple!(sub, "Sub");
simple!(mul, "Mul");
simple!(pow_, "Pow");
simple!(relu, "Relu");
simple!(sigmoid, "Sigmoid");
simple!(tanh, "Tanh");
simple!(exp, "Exp");
simple!(log, "Log");
simple!(sqrt, "Sqrt");
simple!(abs, "Abs");
simple!(neg, "Neg");
simple!(erf, "Erf");
simple!(floor, "Floor");
simple!(ceil, "Ceil");
simple!(round, "Round");
simple!(reciprocal, "Reciprocal");
simple!(sin, "Sin");
simple!(cos, "Cos");
simple!(tan, "Tan");
simple!(asin, "Asin");
simple!(acos, "Acos");
simple!(atan, "Atan");
simple!(sinh, "Sinh");
simple!(cosh, "Cosh");
simple!(asinh, "Asinh");
simple!(acosh, "Acosh");
simple!(atanh, "Atanh");
simple!(sign, "Sign");
simple!(softplus, "Softplus");
simple!(softsign, "Softsign");
simple!(equal, "Equal");
simple!(less, "Less");
simple!(greater, "Greater");
simple!(less_equal, "LessEqual");
simple!(greater_equal, "GreaterEqual");
simple!(bit_and, "BitwiseAnd");
simple!(bit_or, "BitwiseOr");
simple!(bit_xor, "BitwiseXor");
simple!(bit_not, "Invert");

/// Ops whose TF kernels take no `T` attribute.
fn untyped(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let (p, ins, _) = prepare(ex, n)?;
    let t = ex.op(op, ins, vec![]);
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

fn and(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    untyped(ex, n, "LogicalAnd")
}
fn or(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    untyped(ex, n, "LogicalOr")
}
fn not(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    untyped(ex, n, "LogicalNot")
}
fn xor(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    elementwise_with(ex, n, "NotEqual", DType::Bool)
}

fn div(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    elementwise_with(ex, n, if d.is_float() { "RealDiv" } else { "TruncateDiv" }, d)
}

fn modulo(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let fmod = n.attr_int("fmod", 0)? != 0;
    elementwise(ex, n, if fmod { "TruncateMod" } else { "FloorMod" })
}

/// `Max`, `Min`, `Sum`, `Mean`: a chain of binary ops (and a divide for `Mean`).
fn variadic(ex: &mut Ex<'_>, n: &Node, op: &str, mean: bool) -> Result<()> {
    let (p, ins, d) = prepare(ex, n)?;
    let Some((first, rest)) = ins.split_first() else {
        return Err(ir::Error::invalid(format!("{}: needs at least one input", n.describe())));
    };
    let mut acc = first.clone();
    if rest.is_empty() {
        acc = ex.op_t("Identity", vec![acc], d)?;
    }
    for s in rest {
        acc = ex.op_t(op, vec![acc, s.clone()], d)?;
    }
    if mean && !rest.is_empty() {
        let k = ex.scalar(ins.len() as f64, d)?;
        acc = ex.op_t("RealDiv", vec![acc, k], d)?;
    }
    ex.bind_perm(n, 0, acc, p);
    Ok(())
}

fn max(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    variadic(ex, n, "Maximum", false)
}
fn min(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    variadic(ex, n, "Minimum", false)
}
fn sum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    variadic(ex, n, "AddV2", false)
}
fn mean(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    variadic(ex, n, "AddV2", true)
}

fn identity(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let name = ex.in_name(n, 0)?;
    // A constant stays one (exporters dedup weights through Identity), so
    // that its readers can still permute or fold it.
    if let Some(t) = ex.const_value(name).cloned() {
        ex.bind_const(n, t);
        return Ok(());
    }
    let v = ex.val(name)?;
    // No node: the output is the same tensor in the same layout.
    ex.bind_perm(n, 0, v.t, v.perm);
    Ok(())
}

fn cast(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let to = DType::try_from_onnx_code(n.attr_int("to", 1)?)?;
    cast_to(ex, n, to)
}

fn cast_like(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let to = ex.dtype(ex.in_name(n, 1)?)?;
    cast_to(ex, n, to)
}

/// `Cast`/`CastLike` of input 0 to `to`. 4-bit values are held widened to
/// 8 bits, so a cast to them wraps into 4 bits itself (as ONNX does:
/// through a 32-bit integer for floats); TF converts to 8-bit floats
/// without saturating, so ONNX's `saturate=1` clips first.
fn cast_to(ex: &mut Ex<'_>, n: &Node, to: DType) -> Result<()> {
    let name = ex.in_name(n, 0)?;
    let from = widened(ex.dtype(name)?);
    let saturate = n.attr_int("saturate", 1)? != 0;
    let v = ex.val(name)?;
    let cast = |ex: &mut Ex<'_>, t: String, from: DType, to: DType| -> Result<String> {
        Ok(ex.op("Cast", vec![t], vec![("SrcT", ty(from)?), ("DstT", ty(to)?), ("Truncate", super::bool_attr(false))]))
    };
    let t = match to {
        DType::I4 | DType::U4 => {
            let via = if from.is_float() { DType::I32 } else { DType::I64 };
            let t = cast(ex, v.t, from, via)?;
            // wrap_u4(x) = x mod 16, wrap_i4(x) = (x + 8) mod 16 - 8 (floored).
            let bias = if to == DType::I4 { 8.0 } else { 0.0 };
            let (b, sixteen) = (ex.scalar(bias, via)?, ex.scalar(16.0, via)?);
            let shifted = ex.op_t("AddV2", vec![t, b.clone()], via)?;
            let m = ex.op_t("FloorMod", vec![shifted, sixteen], via)?;
            let wrapped = ex.op_t("Sub", vec![m, b], via)?;
            cast(ex, wrapped, via, widened(to))?
        }
        DType::F8E4M3FN | DType::F8E5M2 if saturate && from.is_float() => {
            let max = if to == DType::F8E4M3FN { 448.0 } else { 57344.0 };
            let (lo, hi) = (ex.scalar(-max, from)?, ex.scalar(max, from)?);
            let clipped = ex.op("ClipByValue", vec![v.t, lo, hi], vec![("T", ty(from)?)]);
            cast(ex, clipped, from, to)?
        }
        _ => cast(ex, v.t, from, to)?,
    };
    ex.bind_perm(n, 0, t, v.perm);
    Ok(())
}

/// The type a value of `d` is written as (4-bit values are held in 8 bits).
fn widened(d: DType) -> DType {
    match d {
        DType::I4 => DType::I8,
        DType::U4 => DType::U8,
        d => d,
    }
}

fn where_(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let out_rank = ex.rank(ex.out_name(n, 0)).unwrap_or(0);
    let p = common_layout(ex, n, out_rank);
    let ins = inputs_in(ex, n, p.as_deref())?;
    let d = ex.dtype(ex.in_name(n, 1)?)?;
    let t = ex.op_t("SelectV2", ins, d)?;
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

fn is_nan(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    // x != x, which every importer reads (TF's IsNan is not in every op table).
    let (p, ins, d) = prepare(ex, n)?;
    let t = ex.op_t("NotEqual", vec![ins[0].clone(), ins[0].clone()], d)?;
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

fn is_inf(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let pos = n.attr_int("detect_positive", 1)? != 0;
    let neg = n.attr_int("detect_negative", 1)? != 0;
    let (p, ins, d) = prepare(ex, n)?;
    let x = ins[0].clone();
    let t = match (pos, neg) {
        (true, true) => ex.op_t("IsInf", vec![x], d)?,
        // x < x is false everywhere, NaN included.
        (false, false) => ex.op_t("Less", vec![x.clone(), x], d)?,
        (true, false) | (false, true) => {
            let inf = ex.scalar(if pos { f64::INFINITY } else { f64::NEG_INFINITY }, d)?;
            ex.op_t("Equal", vec![x, inf], d)?
        }
    };
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

/// A unary activation written as a small formula over `x`.
fn formula(ex: &mut Ex<'_>, n: &Node, f: impl FnOnce(&mut Ex<'_>, String, DType) -> Result<String>) -> Result<()> {
    let name = ex.in_name(n, 0)?;
    let d = ex.dtype(name)?;
    let v = ex.val(name)?;
    let t = f(ex, v.t, d)?;
    ex.bind_perm(n, 0, t, v.perm);
    Ok(())
}

fn selu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    // TF's Selu has SELU's constants built in.
    let alpha = n.attr_float("alpha", 1.673_263_2)?;
    let gamma = n.attr_float("gamma", 1.050_701)?;
    if (alpha - 1.673_263_2).abs() > 1e-6 || (gamma - 1.050_701).abs() > 1e-6 {
        return Err(unsupported(n, "Selu with non-default alpha/gamma"));
    }
    elementwise(ex, n, "Selu")
}

fn leaky_relu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = n.attr_float("alpha", 0.01)?;
    formula(ex, n, |ex, x, d| Ok(ex.op("LeakyRelu", vec![x], vec![("T", ty(d)?), ("alpha", super::float_attr(alpha))])))
}

fn elu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = f64::from(n.attr_float("alpha", 1.0)?);
    formula(ex, n, |ex, x, d| {
        let e = ex.op_t("Elu", vec![x.clone()], d)?;
        if alpha == 1.0 {
            return Ok(e);
        }
        // alpha * elu(x) on the negative side only.
        let zero = ex.scalar(0.0, d)?;
        let a = ex.scalar(alpha, d)?;
        let scaled = ex.op_t("Mul", vec![e.clone(), a], d)?;
        let neg = ex.op_t("Less", vec![x, zero], d)?;
        ex.op_t("SelectV2", vec![neg, scaled, e], d)
    })
}

fn hard_sigmoid(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = f64::from(n.attr_float("alpha", 0.2)?);
    let beta = f64::from(n.attr_float("beta", 0.5)?);
    formula(ex, n, |ex, x, d| hard_sigmoid_of(ex, x, d, alpha, beta))
}

fn hard_sigmoid_of(ex: &mut Ex<'_>, x: String, d: DType, alpha: f64, beta: f64) -> Result<String> {
    let a = ex.scalar(alpha, d)?;
    let b = ex.scalar(beta, d)?;
    let zero = ex.scalar(0.0, d)?;
    let one = ex.scalar(1.0, d)?;
    let ax = ex.op_t("Mul", vec![x, a], d)?;
    let y = ex.op_t("AddV2", vec![ax, b], d)?;
    Ok(ex.op("ClipByValue", vec![y, zero, one], vec![("T", ty(d)?)]))
}

fn hard_swish(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    formula(ex, n, |ex, x, d| {
        let hs = hard_sigmoid_of(ex, x.clone(), d, 1.0 / 6.0, 0.5)?;
        ex.op_t("Mul", vec![x, hs], d)
    })
}

fn gelu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let approx = n.attr_str("approximate", "none")?.to_string();
    formula(ex, n, |ex, x, d| {
        let half = ex.scalar(0.5, d)?;
        let one = ex.scalar(1.0, d)?;
        let inner = if approx == "tanh" {
            // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
            let c = ex.scalar(0.044_715, d)?;
            let k = ex.scalar((2.0 / std::f64::consts::PI).sqrt(), d)?;
            let x2 = ex.op_t("Mul", vec![x.clone(), x.clone()], d)?;
            let x3 = ex.op_t("Mul", vec![x2, x.clone()], d)?;
            let cx3 = ex.op_t("Mul", vec![x3, c], d)?;
            let s = ex.op_t("AddV2", vec![x.clone(), cx3], d)?;
            let ks = ex.op_t("Mul", vec![s, k], d)?;
            ex.op_t("Tanh", vec![ks], d)?
        } else {
            let r = ex.scalar(std::f64::consts::FRAC_1_SQRT_2, d)?;
            let xs = ex.op_t("Mul", vec![x.clone(), r], d)?;
            ex.op_t("Erf", vec![xs], d)?
        };
        let p1 = ex.op_t("AddV2", vec![inner, one], d)?;
        let hx = ex.op_t("Mul", vec![x, half], d)?;
        ex.op_t("Mul", vec![hx, p1], d)
    })
}

fn prelu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (p, ins, d) = prepare(ex, n)?;
    let zero = ex.scalar(0.0, d)?;
    let neg = ex.op_t("Mul", vec![ins[0].clone(), ins[1].clone()], d)?;
    let lt = ex.op_t("Less", vec![ins[0].clone(), zero], d)?;
    let t = ex.op_t("SelectV2", vec![lt, neg, ins[0].clone()], d)?;
    ex.bind_perm(n, 0, t, p);
    Ok(())
}

fn thresholded_relu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = f64::from(n.attr_float("alpha", 1.0)?);
    formula(ex, n, |ex, x, d| {
        let a = ex.scalar(alpha, d)?;
        let gt = ex.op_t("Greater", vec![x.clone(), a], d)?;
        let z = ex.op_t("ZerosLike", vec![x.clone()], d)?;
        ex.op_t("SelectV2", vec![gt, x, z], d)
    })
}

fn mish(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    formula(ex, n, |ex, x, d| {
        let sp = ex.op_t("Softplus", vec![x.clone()], d)?;
        let th = ex.op_t("Tanh", vec![sp], d)?;
        ex.op_t("Mul", vec![x, th], d)
    })
}

fn clip(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let name = ex.in_name(n, 0)?;
    let d = ex.dtype(name)?;
    let v = ex.val(name)?;
    let mut t = v.t;
    // Opset < 11 has min/max attributes; later ones optional scalar inputs.
    let bounds: [(usize, &str, &str); 2] = [(1, "min", "Maximum"), (2, "max", "Minimum")];
    for (i, attr, op) in bounds {
        let b = if Ex::has_input(n, i) {
            Some(ex.logical(n, i)?)
        } else if let Some(ir::Attribute::Float(f)) = n.attr(attr) {
            Some(ex.scalar(f64::from(*f), d)?)
        } else {
            None
        };
        if let Some(b) = b {
            t = ex.op_t(op, vec![t, b], d)?;
        }
    }
    if t == ex.val(name)?.t {
        t = ex.op_t("Identity", vec![t], d)?;
    }
    ex.bind_perm(n, 0, t, v.perm);
    Ok(())
}

fn celu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let alpha = f64::from(n.attr_float("alpha", 1.0)?);
    formula(ex, n, |ex, x, d| {
        // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
        let a = ex.scalar(alpha, d)?;
        let zero = ex.scalar(0.0, d)?;
        let xa = ex.op_t("RealDiv", vec![x.clone(), a.clone()], d)?;
        let em1 = ex.op_t("Expm1", vec![xa], d)?;
        let s = ex.op_t("Mul", vec![em1, a], d)?;
        let lo = ex.op_t("Minimum", vec![s, zero.clone()], d)?;
        let hi = ex.op_t("Maximum", vec![x, zero], d)?;
        ex.op_t("AddV2", vec![hi, lo], d)
    })
}

/// `BitShift`: TF clamps the amount to `[0, bits - 1]`, ONNX (opset 28,
/// undefined before) gives 0 for amounts outside it, or -1 for a right
/// shift of a negative value; that is TF's right shift by `bits - 1`.
fn bit_shift(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let left = match n.attr_str("direction", "")? {
        "LEFT" => true,
        "RIGHT" => false,
        other => return Err(unsupported(n, &format!("BitShift direction '{other}'"))),
    };
    let op = if left { "LeftShift" } else { "RightShift" };
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let bits = d.bits().ok_or_else(|| unsupported(n, &format!("BitShift of {d}")))?;
    let amounts = ex.const_value(ex.in_name(n, 1)?).and_then(|t| t.to_i64s().ok());
    if amounts.is_some_and(|v| v.iter().all(|&a| (0..i64::from(bits)).contains(&a))) {
        return elementwise(ex, n, op);
    }
    let (p, ins, d) = prepare(ex, n)?;
    let [x, s] = [ins[0].clone(), ins[1].clone()];
    let shifted = ex.op_t(op, vec![x.clone(), s.clone()], d)?;
    let width = ex.scalar(f64::from(bits), d)?;
    let mut in_range = ex.op_t("Less", vec![s.clone(), width], d)?;
    if !matches!(d, DType::U8 | DType::U16 | DType::U32 | DType::U64) {
        let zero = ex.scalar(0.0, d)?;
        let non_negative = ex.op_t("GreaterEqual", vec![s, zero], d)?;
        in_range = ex.op("LogicalAnd", vec![in_range, non_negative], vec![]);
    }
    let outside = if left {
        ex.op_t("ZerosLike", vec![shifted.clone()], d)?
    } else {
        let top = ex.scalar(f64::from(bits - 1), d)?;
        ex.op_t("RightShift", vec![x, top], d)?
    };
    let y = ex.op_t("SelectV2", vec![in_range, shifted, outside], d)?;
    ex.bind_perm(n, 0, y, p);
    Ok(())
}

fn shrink(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let bias = f64::from(n.attr_float("bias", 0.0)?);
    let lambd = f64::from(n.attr_float("lambd", 0.5)?);
    formula(ex, n, |ex, x, d| {
        // x < -lambd: x + bias; x > lambd: x - bias; else 0.
        let (l, nl, b) = (ex.scalar(lambd, d)?, ex.scalar(-lambd, d)?, ex.scalar(bias, d)?);
        let lo = ex.op_t("Less", vec![x.clone(), nl], d)?;
        let hi = ex.op_t("Greater", vec![x.clone(), l], d)?;
        let plus = ex.op_t("AddV2", vec![x.clone(), b.clone()], d)?;
        let minus = ex.op_t("Sub", vec![x.clone(), b], d)?;
        let zero = ex.op_t("ZerosLike", vec![x], d)?;
        let upper = ex.op_t("SelectV2", vec![hi, minus, zero], d)?;
        ex.op_t("SelectV2", vec![lo, plus, upper], d)
    })
}

fn det(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let xl = ex.logical(n, 0)?;
    let y = ex.op_t("MatrixDeterminant", vec![xl], d)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn constant(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let t = match n.attr("value") {
        Some(ir::Attribute::Tensor(t)) => t.clone(),
        _ => {
            let a = |k: &str| n.attr(k);
            match (a("value_float"), a("value_int"), a("value_floats"), a("value_ints")) {
                (Some(ir::Attribute::Float(f)), ..) => Tensor::scalar(*f),
                (_, Some(ir::Attribute::Int(i)), ..) => Tensor::scalar(*i),
                (_, _, Some(ir::Attribute::Floats(v)), _) => Tensor::from_vec(vec![v.len()], v.clone())?,
                (_, _, _, Some(ir::Attribute::Ints(v))) => Tensor::from_vec(vec![v.len()], v.clone())?,
                _ => return Err(unsupported(n, "this Constant attribute")),
            }
        }
    };
    ex.bind_const(n, t);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "Abs", tf: "Abs", notes: "", build: abs },
    Rule { onnx: "Acos", tf: "Acos", notes: "", build: acos },
    Rule { onnx: "Acosh", tf: "Acosh", notes: "", build: acosh },
    Rule { onnx: "Add", tf: "AddV2", notes: "numpy broadcasting; runs in its input's layout", build: add },
    Rule { onnx: "And", tf: "LogicalAnd", notes: "", build: and },
    Rule { onnx: "Asin", tf: "Asin", notes: "", build: asin },
    Rule { onnx: "Asinh", tf: "Asinh", notes: "", build: asinh },
    Rule { onnx: "Atan", tf: "Atan", notes: "", build: atan },
    Rule { onnx: "Atanh", tf: "Atanh", notes: "", build: atanh },
    Rule { onnx: "BitShift", tf: "LeftShift / RightShift", notes: "direction", build: bit_shift },
    Rule { onnx: "BitwiseAnd", tf: "BitwiseAnd", notes: "", build: bit_and },
    Rule { onnx: "BitwiseNot", tf: "Invert", notes: "", build: bit_not },
    Rule { onnx: "BitwiseOr", tf: "BitwiseOr", notes: "", build: bit_or },
    Rule { onnx: "BitwiseXor", tf: "BitwiseXor", notes: "", build: bit_xor },
    Rule { onnx: "Cast", tf: "Cast", notes: "every dtype TF has; int4 widened to int8", build: cast },
    Rule { onnx: "CastLike", tf: "Cast", notes: "", build: cast_like },
    Rule { onnx: "Ceil", tf: "Ceil", notes: "", build: ceil },
    Rule { onnx: "Celu", tf: "Expm1 + Minimum/Maximum", notes: "alpha", build: celu },
    Rule { onnx: "Clip", tf: "Maximum + Minimum", notes: "min/max inputs (opset ≥ 11) or attributes", build: clip },
    Rule {
        onnx: "Constant",
        tf: "Const",
        notes: "written where first read (permuted if read in NHWC)",
        build: constant,
    },
    Rule { onnx: "Cos", tf: "Cos", notes: "", build: cos },
    Rule { onnx: "Cosh", tf: "Cosh", notes: "", build: cosh },
    Rule { onnx: "Det", tf: "MatrixDeterminant", notes: "", build: det },
    Rule { onnx: "Div", tf: "RealDiv / TruncateDiv", notes: "integers truncate, as in ONNX", build: div },
    Rule { onnx: "Elu", tf: "Elu (+ Mul/SelectV2 for alpha ≠ 1)", notes: "", build: elu },
    Rule { onnx: "Equal", tf: "Equal", notes: "", build: equal },
    Rule { onnx: "Erf", tf: "Erf", notes: "", build: erf },
    Rule { onnx: "Exp", tf: "Exp", notes: "", build: exp },
    Rule { onnx: "Floor", tf: "Floor", notes: "", build: floor },
    Rule { onnx: "Gelu", tf: "Erf or Tanh formula", notes: "approximate none/tanh", build: gelu },
    Rule { onnx: "Greater", tf: "Greater", notes: "", build: greater },
    Rule { onnx: "GreaterOrEqual", tf: "GreaterEqual", notes: "", build: greater_equal },
    Rule { onnx: "HardSigmoid", tf: "Mul + AddV2 + ClipByValue", notes: "alpha, beta", build: hard_sigmoid },
    Rule { onnx: "HardSwish", tf: "x * HardSigmoid(1/6, 1/2)", notes: "", build: hard_swish },
    Rule { onnx: "Identity", tf: "(none)", notes: "the output is its input", build: identity },
    Rule { onnx: "IsInf", tf: "IsInf / Equal(±inf)", notes: "detect_positive/negative", build: is_inf },
    Rule { onnx: "IsNaN", tf: "NotEqual(x, x)", notes: "", build: is_nan },
    Rule { onnx: "LeakyRelu", tf: "LeakyRelu", notes: "alpha", build: leaky_relu },
    Rule { onnx: "Less", tf: "Less", notes: "", build: less },
    Rule { onnx: "LessOrEqual", tf: "LessEqual", notes: "", build: less_equal },
    Rule { onnx: "Log", tf: "Log", notes: "", build: log },
    Rule { onnx: "Max", tf: "Maximum chain", notes: "variadic", build: max },
    Rule { onnx: "Mean", tf: "AddV2 chain + RealDiv", notes: "variadic", build: mean },
    Rule { onnx: "Min", tf: "Minimum chain", notes: "variadic", build: min },
    Rule { onnx: "Mish", tf: "x * Tanh(Softplus(x))", notes: "", build: mish },
    Rule { onnx: "Mod", tf: "FloorMod / TruncateMod", notes: "fmod", build: modulo },
    Rule { onnx: "Mul", tf: "Mul", notes: "", build: mul },
    Rule { onnx: "Neg", tf: "Neg", notes: "", build: neg },
    Rule { onnx: "Not", tf: "LogicalNot", notes: "", build: not },
    Rule { onnx: "Or", tf: "LogicalOr", notes: "", build: or },
    Rule {
        onnx: "PRelu",
        tf: "Mul + Less + SelectV2",
        notes: "slope broadcast (permuted with NHWC data)",
        build: prelu,
    },
    Rule { onnx: "Pow", tf: "Pow", notes: "", build: pow_ },
    Rule { onnx: "Reciprocal", tf: "Reciprocal", notes: "", build: reciprocal },
    Rule { onnx: "Relu", tf: "Relu", notes: "", build: relu },
    Rule { onnx: "Round", tf: "Round", notes: "half to even, as ONNX", build: round },
    Rule { onnx: "Selu", tf: "Selu", notes: "default alpha/gamma only (TF's constants)", build: selu },
    Rule { onnx: "Shrink", tf: "Less/Greater + SelectV2", notes: "bias, lambd", build: shrink },
    Rule { onnx: "Sigmoid", tf: "Sigmoid", notes: "", build: sigmoid },
    Rule { onnx: "Sign", tf: "Sign", notes: "", build: sign },
    Rule { onnx: "Sin", tf: "Sin", notes: "", build: sin },
    Rule { onnx: "Sinh", tf: "Sinh", notes: "", build: sinh },
    Rule { onnx: "Softplus", tf: "Softplus", notes: "", build: softplus },
    Rule { onnx: "Softsign", tf: "Softsign", notes: "", build: softsign },
    Rule { onnx: "Sqrt", tf: "Sqrt", notes: "", build: sqrt },
    Rule { onnx: "Sub", tf: "Sub", notes: "", build: sub },
    Rule { onnx: "Sum", tf: "AddV2 chain", notes: "variadic", build: sum },
    Rule { onnx: "Tan", tf: "Tan", notes: "", build: tan },
    Rule { onnx: "Tanh", tf: "Tanh", notes: "", build: tanh },
    Rule { onnx: "ThresholdedRelu", tf: "Greater + SelectV2", notes: "alpha", build: thresholded_relu },
    Rule { onnx: "Where", tf: "SelectV2", notes: "numpy broadcasting", build: where_ },
    Rule { onnx: "Xor", tf: "NotEqual (bool)", notes: "", build: xor },
];
