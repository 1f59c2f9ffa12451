//! Elementwise arithmetic, comparisons, reductions and selection.
//!
//! Python numbers on both sides fold at import (shape arithmetic on
//! known sizes); otherwise operands are promoted as torch promotes them (a
//! Python scalar takes the tensor's dtype, an int tensor with a float
//! scalar becomes `f32`, two tensors meet at the wider type) and one ONNX
//! node is emitted.

use ir::{Attribute, DType, Error, Result};

use super::{Args, Lower, Rule, V};

/// The rules of this family.
pub(super) const RULES: &[(&str, Rule)] = &[
    ("add", add),
    ("sub", sub),
    ("rsub", rsub),
    ("mul", mul),
    ("div", div),
    ("true_divide", div),
    ("floor_divide", floor_divide),
    ("floordiv", floor_divide),
    ("prim::min", |l, a| py_min_max(l, a, false)),
    ("prim::max", |l, a| py_min_max(l, a, true)),
    ("remainder", remainder),
    ("pow", pow),
    ("neg", neg),
    ("abs", |l, a| unary(l, a, "Abs")),
    ("sqrt", |l, a| unary(l, a, "Sqrt")),
    ("rsqrt", rsqrt),
    ("exp", |l, a| unary(l, a, "Exp")),
    ("log", |l, a| unary(l, a, "Log")),
    ("erf", |l, a| unary(l, a, "Erf")),
    ("sin", |l, a| unary(l, a, "Sin")),
    ("cos", |l, a| unary(l, a, "Cos")),
    ("floor", |l, a| rounding(l, a, "Floor", f64::floor)),
    ("ceil", |l, a| rounding(l, a, "Ceil", f64::ceil)),
    ("__not__", logical_not),
    ("round", |l, a| unary(l, a, "Round")),
    ("reciprocal", |l, a| unary(l, a, "Reciprocal")),
    ("eq", |l, a| compare(l, a, "eq")),
    ("ne", |l, a| compare(l, a, "ne")),
    ("lt", |l, a| compare(l, a, "lt")),
    ("le", |l, a| compare(l, a, "le")),
    ("gt", |l, a| compare(l, a, "gt")),
    ("ge", |l, a| compare(l, a, "ge")),
    ("bitwise_not", bitwise_not),
    ("logical_not", logical_not),
    ("bitwise_and", |l, a| bitwise(l, a, "And")),
    ("logical_and", |l, a| logical(l, a, "And")),
    ("__and__", |l, a| bitwise(l, a, "And")),
    ("bitwise_or", |l, a| bitwise(l, a, "Or")),
    ("logical_or", |l, a| logical(l, a, "Or")),
    ("__or__", |l, a| bitwise(l, a, "Or")),
    ("bitwise_xor", |l, a| bitwise(l, a, "Xor")),
    ("logical_xor", |l, a| logical(l, a, "Xor")),
    ("__xor__", |l, a| bitwise(l, a, "Xor")),
    ("bitwise_left_shift", |l, a| shift(l, a, true)),
    ("__lshift__", |l, a| shift(l, a, true)),
    ("bitwise_right_shift", |l, a| shift(l, a, false)),
    ("__rshift__", |l, a| shift(l, a, false)),
    ("fmod", fmod),
    ("tan", |l, a| unary(l, a, "Tan")),
    ("asin", |l, a| unary(l, a, "Asin")),
    ("acos", |l, a| unary(l, a, "Acos")),
    ("atan", |l, a| unary(l, a, "Atan")),
    ("sinh", |l, a| unary(l, a, "Sinh")),
    ("cosh", |l, a| unary(l, a, "Cosh")),
    ("asinh", |l, a| unary(l, a, "Asinh")),
    ("acosh", |l, a| unary(l, a, "Acosh")),
    ("atanh", |l, a| unary(l, a, "Atanh")),
    ("sign", sign),
    ("log1p", log1p),
    ("expm1", expm1),
    ("isnan", |l, a| is_special(l, a, "IsNaN", (1, 1))),
    ("isinf", |l, a| is_special(l, a, "IsInf", (1, 1))),
    ("isposinf", |l, a| is_special(l, a, "IsInf", (1, 0))),
    ("isneginf", |l, a| is_special(l, a, "IsInf", (0, 1))),
    ("linalg_vector_norm", vector_norm),
    ("einsum", einsum),
    ("where", where_),
    ("masked_fill", masked_fill),
    ("clamp", clamp),
    ("clip", clamp),
    ("sum", |l, a| reduce(l, a, "ReduceSum")),
    ("mean", |l, a| reduce(l, a, "ReduceMean")),
    ("amax", |l, a| reduce(l, a, "ReduceMax")),
    ("amin", |l, a| reduce(l, a, "ReduceMin")),
    ("prod", |l, a| reduce(l, a, "ReduceProd")),
    ("max", |l, a| max_min(l, a, true)),
    ("min", |l, a| max_min(l, a, false)),
    ("maximum", |l, a| binary(l, a.req(0, "self")?, a.req(1, "other")?, "Max")),
    ("minimum", |l, a| binary(l, a.req(0, "self")?, a.req(1, "other")?, "Min")),
    ("argmax", |l, a| arg_reduce(l, a, "ArgMax")),
    ("cumsum", cumsum),
    ("any", |l, a| any_all(l, a, true)),
    ("all", |l, a| any_all(l, a, false)),
    ("triu", |l, a| trilu(l, a, 1)),
    ("tril", |l, a| trilu(l, a, 0)),
    ("diff", diff),
    ("argmin", |l, a| arg_reduce(l, a, "ArgMin")),
];

fn is_py(v: &V) -> bool {
    matches!(v, V::Int(_) | V::Float(_) | V::Bool(_))
}

/// The wider of two dtypes, as torch promotes two tensors.
fn wider(a: DType, b: DType) -> DType {
    if a == b {
        return a;
    }
    match (a.is_float(), b.is_float()) {
        (true, false) => a,
        (false, true) => b,
        _ if a == DType::Bool => b,
        _ if b == DType::Bool => a,
        _ => {
            if a.bits().unwrap_or(0) >= b.bits().unwrap_or(0) {
                a
            } else {
                b
            }
        }
    }
}

/// The dtype torch computes `a op b` in.
pub(super) fn result_dtype(l: &Lower<'_>, a: &V, b: &V) -> DType {
    let da = l.value_dtype(a);
    let db = l.value_dtype(b);
    match (a, b) {
        (V::T(_), V::T(_)) => wider(da.unwrap_or(DType::F32), db.unwrap_or(DType::F32)),
        (V::T(_), s) | (s, V::T(_)) => {
            let t = if matches!(a, V::T(_)) { da } else { db }.unwrap_or(DType::F32);
            match s {
                V::Float(_) if !t.is_float() => DType::F32,
                V::Int(_) if t == DType::Bool => DType::I64,
                _ => t,
            }
        }
        _ => wider(da.unwrap_or(DType::F32), db.unwrap_or(DType::F32)),
    }
}

/// Both operands as graph values of their common dtype.
pub(super) fn operands(l: &mut Lower<'_>, a: &V, b: &V) -> Result<(String, String, DType)> {
    let d = result_dtype(l, a, b);
    let x = l.tensor(a, Some(d))?;
    let x = l.cast(&x, d)?;
    let y = l.tensor(b, Some(d))?;
    let y = l.cast(&y, d)?;
    Ok((x, y, d))
}

/// `a op b` as one ONNX node after promotion.
pub(super) fn binary(l: &mut Lower<'_>, a: &V, b: &V, op: &str) -> Result<V> {
    let (x, y, _) = operands(l, a, b)?;
    Ok(V::T(l.node(op, &[&x, &y], vec![])?))
}

fn fold(a: &V, b: &V, int: impl Fn(i64, i64) -> Option<i64>, float: impl Fn(f64, f64) -> f64) -> Option<V> {
    let num = |v: &V| match v {
        V::Int(i) => Some((Some(*i), *i as f64)),
        V::Bool(b) => Some((Some(i64::from(*b)), f64::from(u8::from(*b)))),
        V::Float(f) => Some((None, *f)),
        _ => None,
    };
    let ((ia, fa), (ib, fb)) = (num(a)?, num(b)?);
    Some(match (ia, ib) {
        (Some(x), Some(y)) => V::Int(int(x, y)?),
        _ => V::Float(float(fa, fb)),
    })
}

/// A known 0-D graph int folds like a Python int (`x.size(1)` of a fixed
/// dim); a one-element 1-D tensor stays a tensor, or `cat` of it would
/// meet a 0-D value.
fn py(l: &Lower<'_>, v: &V) -> V {
    match v {
        V::T(_) if l.shape_rank(v) == Some(0) => l.int_of(v).map_or_else(|| v.clone(), V::Int),
        v => v.clone(),
    }
}

/// `other * alpha` for `add`/`sub` (`alpha` is usually absent or 1).
fn scaled(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let b = a.req(1, "other")?.clone();
    match a.opt(2, "alpha") {
        Some(alpha) if l.float_of(alpha) != Some(1.0) => mul(l, &Args { pos: vec![b, alpha.clone()], kw: vec![] }),
        _ => Ok(b),
    }
}

/// `add(self, other, alpha)`, folded on Python numbers.
pub(super) fn add(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = scaled(l, a)?;
    let y = py(l, &y);
    if let Some(v) = fold(&x, &y, i64::checked_add, |p, q| p + q) {
        return Ok(v);
    }
    binary(l, &x, &y, "Add")
}

fn sub(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = scaled(l, a)?;
    let y = py(l, &y);
    if let Some(v) = fold(&x, &y, i64::checked_sub, |p, q| p - q) {
        return Ok(v);
    }
    binary(l, &x, &y, "Sub")
}

fn rsub(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = a.req(0, "self")?.clone();
    let y = a.req(1, "other")?.clone();
    sub(l, &Args { pos: vec![y, x], kw: vec![] })
}

fn mul(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    if let Some(v) = fold(&x, &y, i64::checked_mul, |p, q| p * q) {
        return Ok(v);
    }
    binary(l, &x, &y, "Mul")
}

fn floor_div_int(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    Some(if a % b != 0 && ((a < 0) != (b < 0)) { q - 1 } else { q })
}

fn div(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mode = match a.opt(2, "rounding_mode") {
        Some(V::Str(s)) => Some(s.clone()),
        _ => None,
    };
    match mode.as_deref() {
        Some("floor") => return floor_divide(l, a),
        Some("trunc") => {
            let x = py(l, a.req(0, "self")?);
            let y = py(l, a.req(1, "other")?);
            if let Some(v) = fold(&x, &y, i64::checked_div, |p, q| (p / q).trunc()) {
                return Ok(v);
            }
            let (p, q, d) = operands(l, &x, &y)?;
            if d.is_int() {
                // ONNX integer Div truncates toward zero, as torch's "trunc".
                return Ok(V::T(l.node("Div", &[&p, &q], vec![])?));
            }
            let r = l.node("Div", &[&p, &q], vec![])?;
            // trunc(r) = sign(r) * floor(|r|)
            let s = l.node("Sign", &[&r], vec![])?;
            let m = l.node("Abs", &[&r], vec![])?;
            let f = l.node("Floor", &[&m], vec![])?;
            return Ok(V::T(l.node("Mul", &[&s, &f], vec![])?));
        }
        Some(m) => return Err(Error::invalid(format!("rounding_mode '{m}'"))),
        None => {}
    }
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    if let (Some(p), Some(q)) =
        (is_py(&x).then(|| l.float_of(&x)).flatten(), is_py(&y).then(|| l.float_of(&y)).flatten())
    {
        return Ok(V::Float(p / q));
    }
    // True division: integers are divided as floats.
    let d = result_dtype(l, &x, &y);
    let d = if d.is_float() { d } else { DType::F32 };
    let p = l.tensor(&x, Some(d))?;
    let p = l.cast(&p, d)?;
    let q = l.tensor(&y, Some(d))?;
    let q = l.cast(&q, d)?;
    Ok(V::T(l.node("Div", &[&p, &q], vec![])?))
}

fn floor_divide(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    if let Some(v) = fold(&x, &y, floor_div_int, |p, q| (p / q).floor()) {
        return Ok(v);
    }
    let (p, q, d) = operands(l, &x, &y)?;
    if d.is_int() {
        // floor(p / q) = (p - mod(p, q)) / q with Python's sign-of-divisor mod: exact.
        let m = l.node("Mod", &[&p, &q], vec![("fmod", Attribute::Int(0))])?;
        let s = l.node("Sub", &[&p, &m], vec![])?;
        return Ok(V::T(l.node("Div", &[&s, &q], vec![])?));
    }
    let r = l.node("Div", &[&p, &q], vec![])?;
    Ok(V::T(l.node("Floor", &[&r], vec![])?))
}

fn remainder(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    let int_rem = |p: i64, q: i64| floor_div_int(p, q).and_then(|f| f.checked_mul(q)).and_then(|m| p.checked_sub(m));
    if let Some(v) = fold(&x, &y, int_rem, |p, q| p - (p / q).floor() * q) {
        return Ok(v);
    }
    let (p, q, d) = operands(l, &x, &y)?;
    if d.is_int() {
        return Ok(V::T(l.node("Mod", &[&p, &q], vec![("fmod", Attribute::Int(0))])?));
    }
    // As torch computes it: the truncated remainder, moved by the divisor
    // when it is non-zero and its sign differs from the divisor's. (Not
    // `p - floor(p / q) * q`, which is NaN for a finite `p` and infinite `q`.)
    let m = l.node("Mod", &[&p, &q], vec![("fmod", Attribute::Int(1))])?;
    let zero = l.scalar(0.0, d)?;
    let m_neg = l.node("Less", &[&m, &zero], vec![])?;
    let q_neg = l.node("Less", &[&q, &zero], vec![])?;
    let differ = l.node("Xor", &[&m_neg, &q_neg], vec![])?;
    let m_zero = l.node("Equal", &[&m, &zero], vec![])?;
    let m_nonzero = l.node("Not", &[&m_zero], vec![])?;
    let fix = l.node("And", &[&differ, &m_nonzero], vec![])?;
    let moved = l.node("Add", &[&m, &q], vec![])?;
    Ok(V::T(l.node("Where", &[&fix, &moved, &m], vec![])?))
}

/// `fmod(a, b)`: the remainder truncated toward zero, with the dividend's sign.
fn fmod(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    if let Some(v) = fold(&x, &y, i64::checked_rem, |p, q| p % q) {
        return Ok(v);
    }
    let (p, q, _) = operands(l, &x, &y)?;
    Ok(V::T(l.node("Mod", &[&p, &q], vec![("fmod", Attribute::Int(1))])?))
}

fn pow(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "exponent")?);
    if let Some(v) = fold(&x, &y, |p, q| u32::try_from(q).ok().and_then(|q| p.checked_pow(q)), f64::powf) {
        return Ok(v);
    }
    // Pow keeps the base's dtype; the exponent is cast to it.
    let d = result_dtype(l, &x, &y);
    let p = l.tensor(&x, Some(d))?;
    let p = l.cast(&p, d)?;
    let q = l.tensor(&y, Some(d))?;
    let q = l.cast(&q, d)?;
    Ok(V::T(l.node("Pow", &[&p, &q], vec![])?))
}

fn neg(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    match py(l, a.req(0, "self")?) {
        V::Int(i) => i.checked_neg().map(V::Int).ok_or_else(|| Error::invalid(format!("-({i}) overflows 64 bits"))),
        V::Float(f) => Ok(V::Float(-f)),
        v => unary(l, &Args { pos: vec![v], kw: vec![] }, "Neg"),
    }
}

/// A one-input ONNX op on a tensor.
pub(super) fn unary(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let v = a.req(0, "self")?;
    let d = l.value_dtype(v).filter(|d| d.is_float()).unwrap_or(DType::F32);
    let x = l.tensor(v, Some(d))?;
    Ok(V::T(l.node(op, &[&x], vec![])?))
}

fn rsqrt(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let V::T(s) = unary(l, a, "Sqrt")? else { unreachable!("unary gives a tensor") };
    Ok(V::T(l.node("Reciprocal", &[&s], vec![])?))
}

fn compare(l: &mut Lower<'_>, a: &Args, which: &str) -> Result<V> {
    // Strings, None and other Python values compare at import (`mode == "nearest"`).
    match (a.get(0, "self"), a.get(1, "other")) {
        (Some(x @ (V::Str(_) | V::None)), Some(y)) | (Some(x), Some(y @ (V::Str(_) | V::None))) => {
            let eq = super::same(x, y);
            return match which {
                "eq" => Ok(V::Bool(eq)),
                "ne" => Ok(V::Bool(!eq)),
                _ => Err(Error::invalid(format!("'{which}' between a {} and a {}", x.kind(), y.kind()))),
            };
        }
        _ => {}
    }
    let x = py(l, a.req(0, "self")?);
    let y = py(l, a.req(1, "other")?);
    let known = |v: &V| if is_py(v) { l.float_of(v) } else { None };
    if let (Some(p), Some(q)) = (known(&x), known(&y)) {
        return Ok(V::Bool(match which {
            "eq" => p == q,
            "ne" => p != q,
            "lt" => p < q,
            "le" => p <= q,
            "gt" => p > q,
            _ => p >= q,
        }));
    }
    let (p, q, _) = operands(l, &x, &y)?;
    let op = match which {
        "eq" | "ne" => "Equal",
        "lt" => "Less",
        "le" => "LessOrEqual",
        "gt" => "Greater",
        _ => "GreaterOrEqual",
    };
    let r = l.node(op, &[&p, &q], vec![])?;
    Ok(V::T(if which == "ne" { l.node("Not", &[&r], vec![])? } else { r }))
}

/// `bitwise_not`: `Not` of booleans, `BitwiseNot` (opset 18) of integers.
fn bitwise_not(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    match a.req(0, "self")? {
        V::Bool(b) => Ok(V::Bool(!b)),
        V::Int(i) => Ok(V::Int(!i)),
        v => {
            let x = l.tensor(v, None)?;
            match l.dtype(&x) {
                Some(DType::Bool) => Ok(V::T(l.node("Not", &[&x], vec![])?)),
                Some(d) if d.is_int() => {
                    l.require_op("BitwiseNot")?;
                    Ok(V::T(l.node("BitwiseNot", &[&x], vec![])?))
                }
                d => Err(Error::invalid(format!(
                    "bitwise_not of a {} tensor (booleans and integers only)",
                    d.map_or("tensor of unknown dtype".to_string(), |d| d.to_string())
                ))),
            }
        }
    }
}

/// `logical_not`: true where the input is zero (any dtype), as a boolean.
fn logical_not(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let v = a.req(0, "self")?;
    // Folded on Python values and known 0-D tensors (a condition); a
    // tensor of any other rank keeps its shape.
    if let Some(b) = l.truth(v).filter(|_| !matches!(v, V::T(_)) || l.shape_rank(v) == Some(0)) {
        return Ok(V::Bool(!b));
    }
    let x = l.bool_tensor(v)?;
    Ok(V::T(l.node("Not", &[&x], vec![])?))
}

/// `bitwise_and`/`or`/`xor` (and `&`, `|`, `^`): the logical op on
/// booleans, the `Bitwise*` op (opset 18) on integers after promotion,
/// folded on Python values.
fn bitwise(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    // Not `py`: a known 0-D boolean tensor must stay boolean, not become an int.
    let (x, y) = (a.req(0, "self")?.clone(), a.req(1, "other")?.clone());
    match (&x, &y) {
        (V::Bool(_), V::Bool(_)) => return logical(l, &Args { pos: vec![x, y], kw: vec![] }, op),
        (V::Int(_) | V::Bool(_), V::Int(_) | V::Bool(_)) => {
            let (p, q) = (l.int_of(&x).unwrap_or_default(), l.int_of(&y).unwrap_or_default());
            return Ok(V::Int(match op {
                "And" => p & q,
                "Or" => p | q,
                _ => p ^ q,
            }));
        }
        _ => {}
    }
    let d = result_dtype(l, &x, &y);
    if d == DType::Bool {
        return logical(l, &Args { pos: vec![x, y], kw: vec![] }, op);
    }
    if !d.is_int() {
        return Err(Error::invalid(format!(
            "bitwise {} of {d} tensors (booleans and integers only)",
            op.to_lowercase()
        )));
    }
    l.require_op(&format!("Bitwise{op}"))?;
    binary(l, &x, &y, &format!("Bitwise{op}"))
}

/// `bitwise_left_shift`/`bitwise_right_shift` (`<<`, `>>`) as `BitShift`
/// (arithmetic for signed integers, as torch shifts).
fn shift(l: &mut Lower<'_>, a: &Args, left: bool) -> Result<V> {
    let (x, y) = (py(l, a.req(0, "self")?), py(l, a.req(1, "other")?));
    if let (V::Int(p), V::Int(q)) = (&x, &y) {
        let q = u32::try_from(*q).map_err(|_| Error::invalid(format!("shift by {q}")))?;
        return Ok(V::Int(if left { p.checked_shl(q).unwrap_or(0) } else { p.checked_shr(q).unwrap_or(p >> 63) }));
    }
    let d = result_dtype(l, &x, &y);
    if !d.is_int() {
        return Err(Error::invalid(format!("shift of {d} tensors (integers only)")));
    }
    let (p, q, _) = operands(l, &x, &y)?;
    let dir = if left { "LEFT" } else { "RIGHT" };
    Ok(V::T(l.node("BitShift", &[&p, &q], vec![("direction", Attribute::String(dir.into()))])?))
}

/// `sign`: of a Python number folded; of a tensor `Sign` in its own dtype
/// (booleans are their own sign).
fn sign(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    match a.req(0, "self")? {
        V::Int(i) => Ok(V::Int(i.signum())),
        V::Float(f) => Ok(V::Float(if *f == 0.0 || f.is_nan() { *f } else { f.signum() })),
        v => {
            let x = l.tensor(v, None)?;
            if l.dtype(&x) == Some(DType::Bool) {
                return Ok(V::T(x));
            }
            Ok(V::T(l.node("Sign", &[&x], vec![])?))
        }
    }
}

/// The float tensor a math function reads (integers compute in `f32`, as torch).
fn float_input(l: &mut Lower<'_>, a: &Args) -> Result<(String, DType)> {
    let x = l.tensor(a.req(0, "self")?, Some(DType::F32))?;
    match l.dtype(&x) {
        Some(d) if d.is_float() => Ok((x, d)),
        _ => Ok((l.cast(&x, DType::F32)?, DType::F32)),
    }
}

/// `log1p(x)` = `log(1 + x)`.
fn log1p(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let (x, d) = float_input(l, a)?;
    let one = l.scalar(1.0, d)?;
    let s = l.node("Add", &[&x, &one], vec![])?;
    Ok(V::T(l.node("Log", &[&s], vec![])?))
}

/// `expm1(x)` = `exp(x) - 1`.
fn expm1(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let (x, d) = float_input(l, a)?;
    let e = l.node("Exp", &[&x], vec![])?;
    let one = l.scalar(1.0, d)?;
    Ok(V::T(l.node("Sub", &[&e, &one], vec![])?))
}

/// `isnan`/`isinf`/`isposinf`/`isneginf`: the ONNX test on floats
/// (`detect` = (positive, negative) for `IsInf`); integers are never NaN
/// or infinite.
fn is_special(l: &mut Lower<'_>, a: &Args, op: &str, detect: (i64, i64)) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, Some(DType::F32))?;
    if l.dtype(&x).is_some_and(|d| !d.is_float()) {
        let z = l.scalar(0.0, DType::Bool)?;
        let s = l.node("Shape", &[&x], vec![])?;
        return Ok(V::T(l.node("Expand", &[&z, &s], vec![])?));
    }
    let attrs = if op == "IsInf" {
        vec![("detect_positive", Attribute::Int(detect.0)), ("detect_negative", Attribute::Int(detect.1))]
    } else {
        vec![]
    };
    Ok(V::T(l.node(op, &[&x], attrs)?))
}

/// `linalg_vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None)`:
/// `ReduceL1`/`ReduceL2` for orders 1 and 2, the largest or smallest
/// magnitude for ±inf, the count of non-zeros for 0, `(Σ|x|^p)^(1/p)`
/// otherwise.
fn vector_norm(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    if let Some(v) = a.opt(4, "dtype") {
        let code = l.int(v, "dtype")?;
        let t = crate::dtype::by_code(code).ok_or_else(|| Error::invalid(format!("dtype code {code}")))?;
        x = l.cast(&x, t.dtype)?;
    } else if l.dtype(&x).is_some_and(|d| !d.is_float()) {
        return Err(Error::invalid("linalg_vector_norm of a non-float tensor"));
    }
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let ord = a
        .opt(1, "ord")
        .map_or(Some(2.0), |v| l.float_of(v))
        .ok_or_else(|| Error::invalid("ord must be a number known at import"))?;
    let axes = dims(l, a.get(2, "dim"))?;
    let keep = a.opt(3, "keepdim").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let axes = axes.as_deref();
    let r = if ord == 2.0 {
        reduce_axes(l, &x, "ReduceL2", axes, keep)?
    } else if ord == 1.0 {
        reduce_axes(l, &x, "ReduceL1", axes, keep)?
    } else if ord.is_infinite() {
        let m = l.node("Abs", &[&x], vec![])?;
        reduce_axes(l, &m, if ord > 0.0 { "ReduceMax" } else { "ReduceMin" }, axes, keep)?
    } else if ord == 0.0 {
        let z = l.scalar(0.0, d)?;
        let eq = l.node("Equal", &[&x, &z], vec![])?;
        let nz = l.node("Not", &[&eq], vec![])?;
        let nz = l.cast(&nz, d)?;
        reduce_axes(l, &nz, "ReduceSum", axes, keep)?
    } else {
        let m = l.node("Abs", &[&x], vec![])?;
        let p = l.scalar(ord, d)?;
        let pw = l.node("Pow", &[&m, &p], vec![])?;
        let s = reduce_axes(l, &pw, "ReduceSum", axes, keep)?;
        let inv = l.scalar(1.0 / ord, d)?;
        l.node("Pow", &[&s, &inv], vec![])?
    };
    Ok(V::T(r))
}

/// `einsum(equation, [operands])` (or the operands as further arguments).
fn einsum(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let eq = match a.req(0, "equation")? {
        V::Str(s) => s.replace(' ', ""),
        v => return Err(Error::invalid(format!("einsum equation is a {}", v.kind()))),
    };
    let ops: Vec<V> = match (a.pos.get(1), a.kw.iter().find(|(k, _)| k == "tensors")) {
        (Some(V::List(x) | V::Tuple(x)), _) => x.clone(),
        (Some(_), _) => a.pos.get(1..).unwrap_or_default().to_vec(),
        (None, Some((_, V::List(x) | V::Tuple(x)))) => x.clone(),
        _ => return Err(Error::invalid("einsum without operands")),
    };
    let ts: Vec<String> = ops.iter().map(|v| l.tensor(v, None)).collect::<Result<_>>()?;
    let refs: Vec<&str> = ts.iter().map(String::as_str).collect();
    Ok(V::T(l.node("Einsum", &refs, vec![("equation", Attribute::String(eq))])?))
}

fn logical(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let (x, y) = (a.req(0, "self")?, a.req(1, "other")?);
    if let (V::Bool(p), V::Bool(q)) = (x, y) {
        return Ok(V::Bool(match op {
            "And" => *p && *q,
            "Or" => *p || *q,
            _ => p != q,
        }));
    }
    let p = l.tensor(x, Some(DType::Bool))?;
    let p = l.cast(&p, DType::Bool)?;
    let q = l.tensor(y, Some(DType::Bool))?;
    let q = l.cast(&q, DType::Bool)?;
    Ok(V::T(l.node(op, &[&p, &q], vec![])?))
}

fn where_(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let c = a.req(0, "condition")?;
    let c = l.tensor(c, Some(DType::Bool))?;
    let c = l.cast(&c, DType::Bool)?;
    let (x, y, _) = operands(l, a.req(1, "self")?, a.req(2, "other")?)?;
    Ok(V::T(l.node("Where", &[&c, &x, &y], vec![])?))
}

fn masked_fill(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let m = l.tensor(a.req(1, "mask")?, Some(DType::Bool))?;
    let m = l.cast(&m, DType::Bool)?;
    let v = l.tensor(a.req(2, "value")?, Some(d))?;
    let v = l.cast(&v, d)?;
    Ok(V::T(l.node("Where", &[&m, &v, &x], vec![])?))
}

fn clamp(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let mut bound = |v: Option<&V>| -> Result<String> {
        match v {
            Some(v) => {
                let t = l.tensor(v, Some(d))?;
                l.cast(&t, d)
            }
            None => Ok(String::new()),
        }
    };
    let lo = bound(a.opt(1, "min"))?;
    let hi = bound(a.opt(2, "max"))?;
    let mut n = ir::Node::new("Clip", [x.as_str(), lo.as_str(), hi.as_str()], [l.b.fresh_value("clip")])
        .named(l.b.fresh_node("Clip"));
    n.inputs = n.inputs.into_iter().map(|i| i.filter(|s| !s.is_empty())).collect();
    let out = n.outputs.first().cloned().unwrap_or_default();
    l.add(n)?;
    Ok(V::T(out))
}

/// Reduction axes: `dim` as an int or list; `None` (or absent) means all.
fn dims(l: &Lower<'_>, v: Option<&V>) -> Result<Option<Vec<i64>>> {
    match v {
        None | Some(V::None) => Ok(None),
        Some(V::List(x)) if x.is_empty() => Ok(None),
        Some(v) => Ok(Some(l.ints(v, "dim")?)),
    }
}

/// A reduction op with `axes` (an input from opset 13 for ReduceSum and
/// from 18 for the others; an attribute before).
pub(super) fn reduce_axes(l: &mut Lower<'_>, x: &str, op: &str, axes: Option<&[i64]>, keep: bool) -> Result<String> {
    let keep = ("keepdims", Attribute::Int(i64::from(keep)));
    let input_form = op == "ReduceSum" || l.opset >= 18;
    match axes {
        None => l.node(op, &[x], vec![keep]),
        Some(ax) if input_form => {
            let c = l.i64s(ax);
            l.node(op, &[x, &c], vec![keep])
        }
        Some(ax) => l.node(op, &[x], vec![keep, ("axes", Attribute::Ints(ax.to_vec()))]),
    }
}

fn reduce(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let axes = dims(l, a.get(1, "dim"))?;
    let keep = a.opt(2, "keepdim").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    if let Some(V::Int(code)) = a.opt(3, "dtype") {
        let t = crate::dtype::by_code(*code).ok_or_else(|| Error::invalid(format!("dtype code {code}")))?;
        x = l.cast(&x, t.dtype)?;
    } else if op == "ReduceSum" && l.dtype(&x).is_some_and(|d| d == DType::Bool || (d.is_int() && d != DType::I64)) {
        // torch sums integers and booleans in int64.
        x = l.cast(&x, DType::I64)?;
    }
    Ok(V::T(reduce_axes(l, &x, op, axes.as_deref(), keep)?))
}

fn max_min(l: &mut Lower<'_>, a: &Args, is_max: bool) -> Result<V> {
    let x = a.req(0, "self")?.clone();
    match a.opt(1, "dim") {
        None => {
            let t = l.tensor(&x, None)?;
            Ok(V::T(reduce_axes(l, &t, if is_max { "ReduceMax" } else { "ReduceMin" }, None, false)?))
        }
        Some(other @ V::T(_)) => {
            let other = other.clone();
            binary(l, &x, &other, if is_max { "Max" } else { "Min" })
        }
        Some(d) => {
            let dim = l.int(d, "dim")?;
            let keep = a.opt(2, "keepdim").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
            let t = l.tensor(&x, None)?;
            let vals = reduce_axes(l, &t, if is_max { "ReduceMax" } else { "ReduceMin" }, Some(&[dim]), keep)?;
            let idx = l.node(
                if is_max { "ArgMax" } else { "ArgMin" },
                &[&t],
                vec![("axis", Attribute::Int(dim)), ("keepdims", Attribute::Int(i64::from(keep)))],
            )?;
            Ok(V::Tuple(vec![V::T(vals), V::T(idx)]))
        }
    }
}

fn arg_reduce(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let keep = a.opt(2, "keepdim").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let axis = match a.opt(1, "dim") {
        Some(d) => l.int(d, "dim")?,
        None => {
            let flat = l.i64s(&[-1]);
            x = l.node("Reshape", &[&x, &flat], vec![])?;
            0
        }
    };
    Ok(V::T(l.node(op, &[&x], vec![("axis", Attribute::Int(axis)), ("keepdims", Attribute::Int(i64::from(keep)))])?))
}

/// A 0-D `i64` graph value for an int argument an op takes as an input
/// (`CumSum`'s axis, `Trilu`'s k): a constant when known at import, else
/// the run-time value (`int(k)` of a model input).
fn int_input(l: &mut Lower<'_>, v: &V) -> Result<String> {
    if let Some(k) = l.int_of(v).filter(|_| l.shape_rank(v) == Some(0)) {
        return l.scalar(k as f64, DType::I64);
    }
    let t = l.tensor(v, Some(DType::I64))?;
    let t = l.cast(&t, DType::I64)?;
    if l.shape(&t).is_some_and(|s| s.rank() == 0) {
        return Ok(t);
    }
    let scalar = l.i64s(&[]);
    l.node("Reshape", &[&t, &scalar], vec![])
}

/// `cumsum(x, dim, dtype)`: integers and booleans sum in int64, as in torch.
fn cumsum(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let axis = int_input(l, a.req(1, "dim")?)?;
    if let Some(V::Int(code)) = a.opt(2, "dtype") {
        let t = crate::dtype::by_code(*code).ok_or_else(|| Error::invalid(format!("dtype code {code}")))?;
        x = l.cast(&x, t.dtype)?;
    } else if l.dtype(&x).is_some_and(|t| !t.is_float()) {
        x = l.cast(&x, DType::I64)?;
    }
    Ok(V::T(l.node("CumSum", &[&x, &axis], vec![])?))
}

/// `diff(x, n, dim, prepend, append)`: `x[1:] - x[:-1]` along `dim`, `n` times,
/// after joining `prepend` and `append`.
fn diff(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let n = a.opt(1, "n").map_or(Ok(1), |v| l.int(v, "n"))?;
    let d = a.opt(2, "dim").map_or(Ok(-1), |v| l.int(v, "dim"))?;
    let mut parts = Vec::new();
    if let Some(p) = a.opt(3, "prepend") {
        parts.push(l.tensor(p, None)?);
    }
    parts.push(x.clone());
    if let Some(p) = a.opt(4, "append") {
        parts.push(l.tensor(p, None)?);
    }
    if parts.len() > 1 {
        let dt = l.dtype(&x);
        if let Some(dt) = dt {
            parts = parts.iter().map(|p| l.cast(p, dt)).collect::<Result<_>>()?;
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        x = l.node("Concat", &refs, vec![("axis", Attribute::Int(d))])?;
    }
    let bool_input = l.dtype(&x) == Some(DType::Bool);
    for _ in 0..n {
        let ax = l.i64s(&[d]);
        let (one, zero, end, last) = (l.i64s(&[1]), l.i64s(&[0]), l.i64s(&[i64::MAX]), l.i64s(&[-1]));
        let hi = l.node("Slice", &[&x, &one, &end, &ax], vec![])?;
        let lo = l.node("Slice", &[&x, &zero, &last, &ax], vec![])?;
        // torch's diff of booleans is their exclusive or.
        x = l.node(if bool_input { "Xor" } else { "Sub" }, &[&hi, &lo], vec![])?;
    }
    Ok(V::T(x))
}

/// `ops.prim.min(a, b)` / `max` on Python numbers (or a list of them),
/// elementwise on tensors.
fn py_min_max(l: &mut Lower<'_>, a: &Args, is_max: bool) -> Result<V> {
    let items: Vec<V> = match (a.pos.as_slice(), a.pos.first()) {
        ([_], Some(V::List(x))) => x.clone(),
        _ => a.pos.clone(),
    };
    let pick = |x: f64, y: f64| if is_max { x.max(y) } else { x.min(y) };
    let mut acc = items.first().cloned().ok_or_else(|| Error::invalid("min/max of nothing"))?;
    for v in items.iter().skip(1) {
        let (x, y) = (py(l, &acc), py(l, v));
        acc = match fold(&x, &y, |p, q| Some(if is_max { p.max(q) } else { p.min(q) }), pick) {
            Some(r) => r,
            None => binary(l, &x, &y, if is_max { "Max" } else { "Min" })?,
        };
    }
    Ok(acc)
}

/// `floor`/`ceil`: of a Python number, an int (as `math.floor`); of a tensor, the ONNX op.
fn rounding(l: &mut Lower<'_>, a: &Args, op: &str, f: fn(f64) -> f64) -> Result<V> {
    match a.req(0, "self")? {
        V::Int(i) => Ok(V::Int(*i)),
        V::Float(x) => Ok(V::Int(f(*x) as i64)),
        _ => unary(l, a, op),
    }
}

/// `any(x[, dim, keepdim])` as a count of non-zero elements above zero;
/// `all` as `not any(not x)` (boolean reductions are opset 20).
fn any_all(l: &mut Lower<'_>, a: &Args, any: bool) -> Result<V> {
    // Of a Python list (TorchScript's `any([...])` over flags): folded.
    if let V::List(items) = a.req(0, "self")? {
        let truths: Option<Vec<bool>> = items.iter().map(|v| l.truth(v)).collect();
        if let Some(t) = truths {
            return Ok(V::Bool(if any { t.iter().any(|&b| b) } else { t.iter().all(|&b| b) }));
        }
    }
    let x = l.tensor(a.req(0, "self")?, None)?;
    let mut b = if l.dtype(&x) == Some(DType::Bool) {
        x
    } else {
        let z = l.scalar(0.0, l.dtype(&x).unwrap_or(DType::F32))?;
        let eq = l.node("Equal", &[&x, &z], vec![])?;
        l.node("Not", &[&eq], vec![])?
    };
    if !any {
        b = l.node("Not", &[&b], vec![])?;
    }
    let n = l.cast(&b, DType::I64)?;
    let axes = dims(l, a.get(1, "dim"))?;
    let keep = a.opt(2, "keepdim").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let count = reduce_axes(l, &n, "ReduceSum", axes.as_deref(), keep)?;
    let zero = l.scalar(0.0, DType::I64)?;
    let r = l.node("Greater", &[&count, &zero], vec![])?;
    Ok(V::T(if any { r } else { l.node("Not", &[&r], vec![])? }))
}

/// `triu(x, diagonal)` / `tril(x, diagonal)` as `Trilu`.
fn trilu(l: &mut Lower<'_>, a: &Args, upper: i64) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let k = int_input(l, a.opt(1, "diagonal").unwrap_or(&V::Int(0)))?;
    Ok(V::T(l.node("Trilu", &[&x, &k], vec![("upper", Attribute::Int(upper))])?))
}
