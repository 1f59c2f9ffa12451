//! Tensor creation and dtype conversion: `arange`, `zeros`/`ones`/`full`
//! (and their `_like` forms), `to`, `type_as`.
//!
//! TorchScript passes dtypes as `ScalarType` codes (`dtype=6` is float32),
//! read through `crate::dtype`.

use ir::{Attribute, DType, Error, Result};

use super::{Args, Lower, Rule, V};

/// The rules of this family.
pub(super) const RULES: &[(&str, Rule)] = &[
    ("arange", arange),
    ("zeros", |l, a| full(l, a, Some(0.0))),
    ("ones", |l, a| full(l, a, Some(1.0))),
    ("full", |l, a| full(l, a, None)),
    ("zeros_like", |l, a| full_like(l, a, Some(0.0))),
    ("ones_like", |l, a| full_like(l, a, Some(1.0))),
    ("full_like", |l, a| full_like(l, a, None)),
    ("to", to),
    ("scalar_tensor", scalar_tensor),
    ("is_floating_point", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        Ok(V::Bool(
            l.dtype(&x).ok_or_else(|| Error::invalid("is_floating_point of a value of unknown dtype"))?.is_float(),
        ))
    }),
    // The state an imported model runs in: inference on the CPU, no
    // autograd, no autocast, dense tensors.
    ("prim::is_nested", not_here),
    ("prim::is_cuda", not_here),
    ("prim::is_sparse", not_here),
    ("prim::is_mkldnn", not_here),
    ("prim::is_quantized", not_here),
    ("prim::is_meta", not_here),
    ("prim::is_xpu", not_here),
    ("prim::is_mps", not_here),
    ("prim::requires_grad", not_here),
    ("is_grad_enabled", not_here),
    ("is_autocast_enabled", not_here),
    ("is_autocast_cpu_enabled", not_here),
    ("prim::type", |_, _| Ok(V::Str("cpu".into()))),
    ("device", |_, _| Ok(V::Device)),
    ("new_ones", |l, a| new_full(l, a, Some(1.0))),
    ("new_zeros", |l, a| new_full(l, a, Some(0.0))),
    ("new_full", |l, a| new_full(l, a, None)),
    ("type_as", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let o = l.tensor(a.req(1, "other")?, None)?;
        let d = l.dtype(&o).ok_or_else(|| Error::invalid("type_as of a value of unknown dtype"))?;
        Ok(V::T(l.cast(&x, d)?))
    }),
    ("float", |l, a| cast_rule(l, a, DType::F32)),
    ("long", |l, a| cast_rule(l, a, DType::I64)),
    ("int", |l, a| cast_rule(l, a, DType::I32)),
    ("bool", |l, a| cast_rule(l, a, DType::Bool)),
    ("half", |l, a| cast_rule(l, a, DType::F16)),
];

/// A property the imported model never has (see the table).
fn not_here(_: &mut Lower<'_>, _: &Args) -> Result<V> {
    Ok(V::Bool(false))
}

fn cast_rule(l: &mut Lower<'_>, a: &Args, d: DType) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    Ok(V::T(l.cast(&x, d)?))
}

/// The dtype a `dtype=` argument names.
fn dtype_arg(l: &Lower<'_>, v: Option<&V>) -> Result<Option<DType>> {
    match v {
        None => Ok(None),
        Some(V::DType(c)) => Ok(Some(code(*c)?)),
        Some(v) => match l.int_of(v) {
            Some(c) => Ok(Some(code(c)?)),
            None => Err(Error::invalid(format!("a dtype argument is a {}", v.kind()))),
        },
    }
}

fn code(c: i64) -> Result<DType> {
    crate::dtype::by_code(c).map(|t| t.dtype).ok_or_else(|| Error::invalid(format!("dtype code {c} is not supported")))
}

/// `arange(end)`, `arange(start, end)`, `arange(start, end, step)`, with
/// `dtype=` (default: i64 when every bound is an int, else f32).
fn arange(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    // The numeric positional arguments are the bounds; later ones are options.
    let bounds: Vec<&V> =
        a.pos.iter().take_while(|v| matches!(v, V::Int(_) | V::Float(_) | V::T(_) | V::Bool(_))).take(3).collect();
    let (start, end, step) = match bounds.as_slice() {
        [e] => (V::Int(0), (*e).clone(), V::Int(1)),
        [s, e] => ((*s).clone(), (*e).clone(), V::Int(1)),
        [s, e, st] => ((*s).clone(), (*e).clone(), (*st).clone()),
        _ => return Err(Error::invalid("arange needs 1 to 3 bounds")),
    };
    let all_int = [&start, &end, &step].iter().all(|v| l.value_dtype(v).is_some_and(|d| d.is_int()));
    let d = dtype_arg(l, a.kw.iter().find(|(k, _)| k == "dtype").map(|(_, v)| v).filter(|v| !matches!(v, V::None)))?
        .unwrap_or(if all_int { DType::I64 } else { DType::F32 });
    let mut parts = Vec::new();
    for v in [&start, &end, &step] {
        let t = l.tensor(v, Some(d))?;
        parts.push(l.cast(&t, d)?);
    }
    let [start, end, step] = parts.as_slice() else { return Err(Error::invalid("arange needs start, end and step")) };
    Ok(V::T(l.node("Range", &[start, end, step], vec![])?))
}

fn fill(l: &mut Lower<'_>, shape: &str, value: f64, d: DType) -> Result<V> {
    let s = ir::build::scalar_tensor(value, d)?;
    let s = ir::Tensor::from_raw(d, vec![1], s.raw().cloned().unwrap_or_default())?;
    Ok(V::T(l.node("ConstantOfShape", &[shape], vec![("value", Attribute::Tensor(s))])?))
}

/// `zeros(size, dtype, ...)`, `ones(...)`, `full(size, fill_value, dtype, ...)`.
fn full(l: &mut Lower<'_>, a: &Args, value: Option<f64>) -> Result<V> {
    let shape = l.tensor(a.req(0, "size")?, Some(DType::I64))?;
    let (v, fill_v, di) = match value {
        Some(v) => (v, None, 1),
        None => {
            let f = a.req(1, "fill_value")?;
            let v = l.float_of(f).ok_or_else(|| Error::invalid("full() with a fill value not known at import"))?;
            (v, Some(f.clone()), 2)
        }
    };
    let d = dtype_arg(l, a.opt(di, "dtype"))?.unwrap_or(match fill_v {
        Some(V::Int(_)) => DType::I64,
        Some(V::Bool(_)) => DType::Bool,
        _ => DType::F32,
    });
    fill(l, &shape, v, d)
}

/// `zeros_like(x, dtype, ...)` and friends.
fn full_like(l: &mut Lower<'_>, a: &Args, value: Option<f64>) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let (v, di) = match value {
        Some(v) => (v, 1),
        None => (
            l.float_of(a.req(1, "fill_value")?)
                .ok_or_else(|| Error::invalid("full_like() with a fill value not known at import"))?,
            2,
        ),
    };
    let d = dtype_arg(l, a.opt(di, "dtype"))?.or_else(|| l.dtype(&x)).unwrap_or(DType::F32);
    let s = l.node("Shape", &[&x], vec![])?;
    fill(l, &s, v, d)
}

/// `new_ones(x, size, dtype, ...)`, `new_full(x, size, fill_value, dtype, ...)`:
/// a filled tensor of `x`'s dtype unless `dtype` says otherwise.
fn new_full(l: &mut Lower<'_>, a: &Args, value: Option<f64>) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let shape = l.tensor(a.req(1, "size")?, Some(DType::I64))?;
    let (v, di) = match value {
        Some(v) => (v, 2),
        None => (
            l.float_of(a.req(2, "fill_value")?)
                .ok_or_else(|| Error::invalid("new_full() with a fill value not known at import"))?,
            3,
        ),
    };
    let d = dtype_arg(l, a.opt(di, "dtype"))?.or_else(|| l.dtype(&x)).unwrap_or(DType::F32);
    fill(l, &shape, v, d)
}

/// `to(x, dtype, ...)`, `to(x, device, dtype, ...)`, `to(x, other, ...)`.
fn to(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = a.req(0, "self")?.clone();
    let mut target = None;
    for v in a.pos.iter().skip(1).chain(a.kw.iter().filter(|(k, _)| k == "dtype").map(|(_, v)| v)) {
        match v {
            V::Device | V::Str(_) | V::None => continue,
            V::T(o) => {
                target = l.dtype(o);
                break;
            }
            V::DType(c) => {
                target = Some(code(*c)?);
                break;
            }
            V::Int(c) => {
                target = Some(code(*c)?);
                break;
            }
            // non_blocking / copy flags come after the dtype.
            V::Bool(_) => break,
            _ => continue,
        }
    }
    let t = l.tensor(&x, target)?;
    Ok(V::T(match target {
        Some(d) => l.cast(&t, d)?,
        None => t,
    }))
}

/// `scalar_tensor(s, dtype=None, ...)`: a 0-D tensor of `s` (`f32` by
/// default, as torch); `s` may be a run-time number (`numel` of a dynamic
/// shape).
fn scalar_tensor(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let v = a.req(0, "s")?;
    let d = dtype_arg(l, a.opt(1, "dtype"))?.unwrap_or(DType::F32);
    let t = match v {
        V::Int(i) => l.scalar(*i as f64, d)?,
        V::Float(f) => l.scalar(*f, d)?,
        V::Bool(b) => l.scalar(f64::from(u8::from(*b)), d)?,
        V::T(t) => {
            let t = l.cast(t, d)?;
            if l.shape(&t).is_some_and(|s| s.rank() == 0) {
                t
            } else {
                let scalar = l.i64s(&[]);
                l.node("Reshape", &[&t, &scalar], vec![])?
            }
        }
        v => return Err(Error::invalid(format!("scalar_tensor of a {}", v.kind()))),
    };
    Ok(V::T(t))
}
