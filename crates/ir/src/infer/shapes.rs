//! Shape rules of the data-movement, shape-computation, reduction, linear
//! algebra and assorted ops.

use super::dims::{self, SymInt};
use super::rules::{Cx, Out, Param};
use super::{Known, MAX_TRACKED, Values};
use crate::{Attribute, DType, Dim, Result, Shape, ValueType};

/// The rule for `cx`'s op, `None` when this family does not have it.
pub(crate) fn rule(cx: &Cx<'_>) -> Result<Option<Vec<Out>>> {
    Ok(Some(match cx.schema.op {
        "Constant" => constant(cx)?,
        "Reshape" => reshape(cx)?,
        "Flatten" => flatten(cx)?,
        "Transpose" => transpose(cx)?,
        "Squeeze" => squeeze(cx)?,
        "Unsqueeze" => unsqueeze(cx)?,
        "Concat" => concat(cx)?,
        "Split" => split(cx)?,
        "Slice" => slice(cx)?,
        "Expand" => expand(cx)?,
        "Tile" => tile(cx)?,
        "Pad" => pad(cx)?,
        "Shape" => shape(cx)?,
        "Size" => size(cx),
        "Range" => range(cx),
        "ConstantOfShape" => constant_of_shape(cx)?,
        "DepthToSpace" | "SpaceToDepth" => depth_space(cx)?,
        "CenterCropPad" => center_crop(cx)?,
        "Gather" => gather(cx)?,
        "GatherElements" => vec![Out::maybe(cx.dims(1).map(<[Dim]>::to_vec))],
        "GatherND" => gather_nd(cx)?,
        "NonZero" => vec![Out::maybe(cx.rank(0).map(|r| vec![Dim::Fixed(r as u64), Dim::Unknown]))],
        "OneHot" => one_hot(cx)?,
        "Compress" => compress(cx)?,
        "Unique" => unique(cx)?,
        "ArgMax" | "ArgMin" => arg_reduce(cx)?,
        "TopK" => top_k(cx)?,
        op if op.starts_with("Reduce") => reduce(cx)?,
        "MatMul" | "MatMulInteger" => vec![Out::maybe(matmul(cx, 0, 1)?)],
        "QLinearMatMul" => vec![Out::maybe(matmul(cx, 0, 3)?)],
        "Gemm" => gemm(cx)?,
        "Einsum" => einsum(cx)?,
        "Det" => vec![Out::maybe(cx.dims(0).and_then(|d| d.get(..d.len().checked_sub(2)?)).map(<[Dim]>::to_vec))],
        "BitCast" => bitcast(cx)?,
        "DynamicQuantizeLinear" => {
            vec![Out::maybe(cx.dims(0).map(<[Dim]>::to_vec)), Out::dims(vec![]), Out::dims(vec![])]
        }
        "SwiGLU" => swiglu(cx),
        "RandomNormal" | "RandomUniform" => {
            vec![Out::maybe(cx.ints_attr("shape")?.map(|s| s.iter().map(|&d| SymInt::Int(d).to_dim()).collect()))]
        }
        "Multinomial" => {
            let n = cx.int("sample_size", 1)?;
            vec![Out::maybe(match cx.dims(0) {
                Some([b, _]) => Some(vec![b.clone(), SymInt::Int(n).to_dim()]),
                _ => None,
            })]
        }
        _ => return Ok(None),
    }))
}

/// Inference gives an output of unknown sizes at most [`crate::MAX_RANK`]
/// dimensions when its rank comes from a file-declared size (the length of a
/// shape input): a hostile file must not make it allocate without bound.
const MAX_RANK: u64 = crate::MAX_RANK as u64;

/// The tracked values of input 0 when present.
fn values<'a>(cx: &Cx<'a>) -> Option<&'a [SymInt]> {
    cx.ints(0)
}

fn constant(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let n = cx.node;
    let (dtype, dims): (DType, Vec<u64>) = if let Some(a) = n.attr("value") {
        let t = a.as_tensor().map_err(|e| cx.err(e))?;
        let k = Known::from_tensor(t);
        return Ok(vec![Out { ty: Some(k.ty), value: k.value, shape: None }]);
    } else if let Some(Attribute::SparseTensor(t)) = n.attr("sparse_value") {
        (t.values.dtype(), t.dims.iter().map(|&d| d as u64).collect())
    } else if let Some(a) = n.attr("value_float") {
        let v = a.as_float().map_err(|e| cx.err(e))?;
        return Ok(vec![Out { value: Some(Values::Floats(vec![f64::from(v)])), ..typed(DType::F32, vec![]) }]);
    } else if let Some(a) = n.attr("value_floats") {
        let v = a.as_floats().map_err(|e| cx.err(e))?;
        let vals = (v.len() <= MAX_TRACKED).then(|| Values::Floats(v.iter().map(|&x| f64::from(x)).collect()));
        return Ok(vec![Out { value: vals, ..typed(DType::F32, vec![v.len() as u64]) }]);
    } else if let Some(a) = n.attr("value_int") {
        let v = a.as_int().map_err(|e| cx.err(e))?;
        return Ok(vec![Out { value: Some(Values::Ints(vec![SymInt::Int(v)])), ..typed(DType::I64, vec![]) }]);
    } else if let Some(a) = n.attr("value_ints") {
        let v = a.as_ints().map_err(|e| cx.err(e))?;
        let vals = (v.len() <= MAX_TRACKED).then(|| Values::Ints(v.iter().map(|&x| SymInt::Int(x)).collect()));
        return Ok(vec![Out { value: vals, ..typed(DType::I64, vec![v.len() as u64]) }]);
    } else if n.attr("value_string").is_some() {
        (DType::String, vec![])
    } else if let Some(Attribute::Strings(v)) = n.attr("value_strings") {
        (DType::String, vec![v.len() as u64])
    } else {
        return Err(cx.err("Constant has none of the value attributes"));
    };
    Ok(vec![typed(dtype, dims)])
}

/// An output of a fixed type.
fn typed(dtype: DType, dims: Vec<u64>) -> Out {
    Out::typed(ValueType::tensor(dtype, Shape::fixed(&dims)))
}

fn reshape(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let input = cx.dims(0);
    let target = match cx.param("shape")? {
        Param::Known(t) => t,
        Param::Unknown | Param::Absent => {
            let rank = cx.slot("shape").and_then(|i| cx.dims(i)).and_then(|d| d.first()?.fixed());
            let rank = rank.filter(|&r| r <= MAX_RANK).and_then(|r| usize::try_from(r).ok());
            return Ok(vec![Out::maybe(rank.map(|r| vec![Dim::Unknown; r]))]);
        }
    };
    let allowzero = cx.int("allowzero", 0)? != 0;
    let out = dims::reshape(input, &target, allowzero).map_err(|m| cx.err(m))?;
    Ok(vec![Out { shape: Some(out), value: values(cx).map(|v| Values::Ints(v.to_vec())), ty: None }])
}

/// The product of dimensions: fixed, the one dynamic dimension times 1, or unknown.
fn product(d: &[Dim]) -> Dim {
    if let Some(p) = dims::fixed_product(d) {
        return Dim::Fixed(p);
    }
    let dynamic: Vec<&Dim> = d.iter().filter(|x| x.is_dynamic()).collect();
    let fixed = dims::fixed_product(&d.iter().filter(|x| !x.is_dynamic()).cloned().collect::<Vec<_>>());
    match (dynamic.as_slice(), fixed) {
        ([one], Some(1)) => (*one).clone(),
        _ => Dim::Unknown,
    }
}

fn flatten(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::rank(2)]) };
    let a = cx.int("axis", 1)?;
    let axis =
        dims::axis(a, d.len(), true).ok_or_else(|| cx.err(format!("axis {a} is out of range for rank {}", d.len())))?;
    let (outer, inner) = d.split_at_checked(axis).ok_or_else(|| cx.err(format!("axis {a} is out of range")))?;
    Ok(vec![Out::dims(vec![product(outer), product(inner)])])
}

fn transpose(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let perm: Vec<i64> = match cx.ints_attr("perm")? {
        Some(p) => p,
        None => (0..d.len() as i64).rev().collect(),
    };
    if perm.len() != d.len() {
        return Err(cx.err(format!("perm {perm:?} does not fit rank {}", d.len())));
    }
    let mut out = Vec::with_capacity(d.len());
    let mut seen = vec![false; d.len()];
    for &p in &perm {
        let a = cx.axis(p, d.len())?;
        let (Some(seen_a), Some(dim)) = (seen.get_mut(a), d.get(a)) else {
            return Err(cx.err(format!("axis {a} is out of range for rank {}", d.len())));
        };
        if std::mem::replace(seen_a, true) {
            return Err(cx.err(format!("perm {perm:?} repeats axis {a}")));
        }
        out.push(dim.clone());
    }
    Ok(vec![Out::dims(out)])
}

/// Which of `rank` axes `axes` lists, as a table: the shape rules look
/// axes up in it rather than searching the list per dimension, which was
/// quadratic (a fuzzed `ReduceSum` listing tens of thousands of axes of a
/// value of that rank took 13.5 s).
fn axis_mask(axes: &[usize], rank: usize) -> Vec<bool> {
    let mut mask = vec![false; rank];
    for &a in axes {
        if let Some(m) = mask.get_mut(a) {
            *m = true;
        }
    }
    mask
}

/// Known axes normalized against `rank`.
fn axes(cx: &Cx<'_>, v: &[SymInt], rank: usize) -> Result<Option<Vec<usize>>> {
    let mut out = Vec::new();
    for a in v {
        match a.int() {
            Some(a) => out.push(cx.axis(a, rank)?),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

fn squeeze(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let value = values(cx).map(|v| Values::Ints(v.to_vec()));
    let out = match cx.param("axes")? {
        Param::Known(v) => axes(cx, &v, d.len())?.map(|ax| {
            d.iter().zip(axis_mask(&ax, d.len())).filter(|(_, gone)| !gone).map(|(x, _)| x.clone()).collect::<Vec<_>>()
        }),
        // Without axes every size-1 dimension goes: known only when no size is dynamic.
        Param::Absent if !d.iter().any(Dim::is_dynamic) => {
            Some(d.iter().filter(|x| **x != Dim::Fixed(1)).cloned().collect())
        }
        _ => None,
    };
    Ok(vec![Out { shape: out, value, ty: None }])
}

fn unsqueeze(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let value = values(cx).map(|v| Values::Ints(v.to_vec()));
    let Param::Known(v) = cx.param("axes")? else { return Ok(vec![Out::default()]) };
    let rank = d.len() + v.len();
    let Some(ax) = axes(cx, &v, rank)? else { return Ok(vec![Out::rank(rank)]) };
    let mut src = d.iter();
    let out = axis_mask(&ax, rank)
        .into_iter()
        .map(|new| if new { Dim::Fixed(1) } else { src.next().cloned().unwrap_or(Dim::Unknown) })
        .collect();
    Ok(vec![Out { shape: Some(out), value, ty: None }])
}

fn concat(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let a = cx.int("axis", 0)?;
    let shapes: Vec<Option<&[Dim]>> = (0..cx.n_in()).filter(|&i| cx.present(i)).map(|i| cx.dims(i)).collect();
    let Some(rank) = shapes.iter().flatten().map(|d| d.len()).next() else { return Ok(vec![Out::default()]) };
    let axis = cx.axis(a, rank)?;
    let mut out: Vec<Dim> = vec![Dim::Unknown; rank];
    let mut total = Some(Dim::Fixed(0));
    for s in &shapes {
        let Some(s) = s else {
            total = None;
            continue;
        };
        if s.len() != rank {
            return Err(cx.err(format!("inputs of ranks {rank} and {} cannot be concatenated", s.len())));
        }
        for (k, (d, o)) in s.iter().zip(out.iter_mut()).enumerate() {
            if k == axis {
                total = total.map(|t| dims::add(&t, d));
            } else {
                *o = match (&*o, d) {
                    (Dim::Fixed(x), Dim::Fixed(y)) if x != y => {
                        return Err(cx.err(format!("dimension {k} differs between inputs ({x} vs {y})")));
                    }
                    (Dim::Fixed(_), _) | (Dim::Symbolic(_), Dim::Unknown) => o.clone(),
                    _ => d.clone(),
                };
            }
        }
    }
    if let Some(slot) = out.get_mut(axis) {
        *slot = total.unwrap_or(Dim::Unknown);
    }
    // Tracked vectors (shape computations) concatenate by value.
    let value = if rank == 1 {
        let mut v = Vec::new();
        let mut ok = true;
        for i in (0..cx.n_in()).filter(|&i| cx.present(i)) {
            match cx.ints(i) {
                Some(x) => v.extend_from_slice(x),
                None => ok = false,
            }
        }
        ok.then_some(Values::Ints(v))
    } else {
        None
    };
    Ok(vec![Out { shape: Some(out), value, ty: None }])
}

fn split(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let n = cx.node.outputs.len();
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default(); n]) };
    let axis = cx.axis(cx.int("axis", 0)?, d.len())?;
    let sizes: Vec<Dim> = match cx.param("split")? {
        Param::Known(v) => v.iter().map(SymInt::to_dim).collect(),
        Param::Unknown => vec![Dim::Unknown; n],
        Param::Absent => match d.get(axis).and_then(Dim::fixed) {
            // num_outputs (18+) splits into ceil-sized chunks, the last one smaller.
            Some(len) if n > 0 => {
                let chunk = len.div_ceil(n as u64);
                if cx.node.attr("num_outputs").is_some() || len % n as u64 == 0 {
                    (0..n as u64).map(|k| Dim::Fixed(chunk.min(len.saturating_sub(k.saturating_mul(chunk))))).collect()
                } else {
                    return Err(cx.err(format!("dimension {len} does not split evenly into {n} outputs")));
                }
            }
            _ => vec![Dim::Unknown; n],
        },
    };
    Ok((0..n)
        .map(|k| {
            let mut o = d.to_vec();
            if let Some(slot) = o.get_mut(axis) {
                *slot = sizes.get(k).cloned().unwrap_or(Dim::Unknown);
            }
            Out::dims(o)
        })
        .collect())
}

/// Elements `start..end` by `step` of a dimension of length `len` (Python
/// slicing with ONNX's clamping), as (count, first index).
fn slice_len(len: i64, start: i64, end: i64, step: i64) -> i64 {
    if step == 0 {
        return 0;
    }
    // i128: `e - s + step - 1` and `-step` overflow i64 for extreme steps from the file.
    let (len, start, end, step) = (i128::from(len), i128::from(start), i128::from(end), i128::from(step));
    let clamp = |v: i128, lo: i128, hi: i128| v.max(lo).min(hi);
    let (start, end) = (if start < 0 { start + len } else { start }, if end < 0 { end + len } else { end });
    let count = if step > 0 {
        let (s, e) = (clamp(start, 0, len), clamp(end, 0, len));
        if e > s { (e - s + step - 1) / step } else { 0 }
    } else {
        let (s, e) = (clamp(start, -1, len - 1), clamp(end, -1, len - 1));
        if s > e { (s - e + (-step) - 1) / (-step) } else { 0 }
    };
    // At most `len`, which is an i64.
    i64::try_from(count).unwrap_or(0)
}

fn slice(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let (starts, ends) = (cx.param("starts")?, cx.param("ends")?);
    let (Param::Known(starts), Param::Known(ends)) = (starts, ends) else {
        // Unknown bounds: the sliced axes are unknown (all of them when axes are unknown too).
        return Ok(vec![match cx.param("axes")? {
            Param::Known(ax) => match axes(cx, &ax, d.len())? {
                Some(ax) => Out::dims(
                    d.iter()
                        .zip(axis_mask(&ax, d.len()))
                        .map(|(x, sliced)| if sliced { Dim::Unknown } else { x.clone() })
                        .collect(),
                ),
                None => Out::rank(d.len()),
            },
            _ => Out::rank(d.len()),
        }]);
    };
    let ax: Vec<SymInt> = match cx.param("axes")? {
        Param::Known(v) => v,
        Param::Absent => (0..starts.len() as i64).map(SymInt::Int).collect(),
        Param::Unknown => return Ok(vec![Out::rank(d.len())]),
    };
    let steps: Vec<SymInt> = match cx.param("steps")? {
        Param::Known(v) => v,
        Param::Absent => vec![SymInt::Int(1); starts.len()],
        Param::Unknown => return Ok(vec![Out::rank(d.len())]),
    };
    if ax.len() != starts.len() || ends.len() != starts.len() || steps.len() != starts.len() {
        return Err(cx.err("starts, ends, axes and steps differ in length"));
    }
    let Some(ax) = axes(cx, &ax, d.len())? else { return Ok(vec![Out::rank(d.len())]) };
    let mut out = d.to_vec();
    let mut picks: Option<(i64, i64, i64)> = None;
    for (&a, ((start, end), step)) in ax.iter().zip(starts.iter().zip(&ends).zip(&steps)) {
        let (Some(slot), Some(dim)) = (out.get_mut(a), d.get(a)) else { continue };
        *slot = match (dim, start.int(), end.int(), step.int()) {
            (_, _, _, Some(0)) => return Err(cx.err("slice step is 0")),
            (Dim::Fixed(n), Some(s), Some(e), Some(st)) => match i64::try_from(*n) {
                Ok(n) => {
                    if a == 0 && d.len() == 1 {
                        picks = Some((s, e, st));
                    }
                    Dim::Fixed(slice_len(n, s, e, st).unsigned_abs())
                }
                Err(_) => Dim::Unknown,
            },
            // The whole of a dynamic axis.
            (x, Some(0), Some(e), Some(1)) if e >= i32::MAX as i64 => x.clone(),
            _ => Dim::Unknown,
        };
    }
    // Slicing a tracked vector (`Shape` output) keeps its elements.
    let value = match (picks, values(cx)) {
        (Some((s, e, st)), Some(v)) => {
            let len = v.len() as i64;
            let count = slice_len(len, s, e, st);
            let first = if st > 0 {
                (if s < 0 { s + len } else { s }).clamp(0, len)
            } else {
                (if s < 0 { s + len } else { s }).clamp(-1, len - 1)
            };
            (0..count)
                .map(|k| {
                    let i = k.checked_mul(st).and_then(|o| first.checked_add(o))?;
                    usize::try_from(i).ok().and_then(|i| v.get(i)).cloned()
                })
                .collect::<Option<Vec<_>>>()
                .map(Values::Ints)
        }
        _ => None,
    };
    Ok(vec![Out { shape: Some(out), value, ty: None }])
}

/// The dimensions of a shape input (a tracked vector), or only its rank.
fn shape_input(cx: &Cx<'_>, i: usize) -> Option<Result<Vec<Dim>, usize>> {
    match cx.ints(i) {
        Some(v) => Some(Ok(v.iter().map(SymInt::to_dim).collect())),
        None => cx
            .dims(i)
            .and_then(|d| d.first()?.fixed())
            .filter(|&n| n <= MAX_RANK)
            .and_then(|n| usize::try_from(n).ok())
            .map(Err),
    }
}

fn expand(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let d = cx.dims(0);
    Ok(vec![match (shape_input(cx, 1), d) {
        (Some(Ok(target)), Some(d)) => {
            let out = dims::broadcast(&[d, &target])
                .map_err(|(a, b)| cx.err(format!("shape {} cannot be expanded to {}", Shape(a), Shape(b))))?;
            Out::dims(out)
        }
        (Some(Err(n)), Some(d)) => Out::rank(n.max(d.len())),
        _ => Out::default(),
    }])
}

fn tile(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    Ok(vec![match cx.ints(1) {
        Some(r) if r.len() == d.len() => Out::dims(
            d.iter()
                .zip(r)
                .map(|(x, k)| k.int().filter(|&k| k >= 0).map_or(Dim::Unknown, |k| dims::mul(x, k as u64)))
                .collect(),
        ),
        Some(r) => return Err(cx.err(format!("{} repeats for rank {}", r.len(), d.len()))),
        None => Out::rank(d.len()),
    }])
}

fn pad(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let Param::Known(pads) = cx.param("pads")? else { return Ok(vec![Out::rank(d.len())]) };
    let ax: Vec<usize> = match cx.slot("axes").map(|i| (i, cx.present(i))) {
        Some((i, true)) => match cx.ints(i) {
            Some(v) => match axes(cx, v, d.len())? {
                Some(a) => a,
                None => return Ok(vec![Out::rank(d.len())]),
            },
            None => return Ok(vec![Out::rank(d.len())]),
        },
        _ => (0..d.len()).collect(),
    };
    if pads.len() != 2 * ax.len() {
        return Err(cx.err(format!("{} pads for {} axes", pads.len(), ax.len())));
    }
    let (begins, ends) = pads.split_at_checked(ax.len()).ok_or_else(|| cx.err("too few pads"))?;
    let mut out = d.to_vec();
    for ((&a, b), e) in ax.iter().zip(begins).zip(ends) {
        let (Some(slot), Some(dim)) = (out.get_mut(a), d.get(a)) else { continue };
        *slot = match (dim, b.int(), e.int()) {
            (x, Some(0), Some(0)) => x.clone(),
            (Dim::Fixed(n), Some(b), Some(e)) => {
                let v = (*n as i64).saturating_add(b).saturating_add(e);
                if v < 0 {
                    return Err(cx.err(format!("pads {b} and {e} leave dimension {a} of size {n} negative")));
                }
                Dim::Fixed(v as u64)
            }
            _ => Dim::Unknown,
        };
    }
    Ok(vec![Out::dims(out)])
}

fn shape(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::rank(1)]) };
    let r = d.len() as i64;
    let norm = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (start, end) = (norm(cx.int("start", 0)?), norm(cx.int("end", r)?));
    let picked = if start < end { d.get(start..end).unwrap_or_default() } else { &[] };
    Ok(vec![Out::ints(picked.iter().map(SymInt::from_dim).collect(), false)])
}

fn size(cx: &Cx<'_>) -> Vec<Out> {
    match cx.dims(0) {
        Some(d) => vec![Out::ints(vec![SymInt::from_dim(&product(d))], true)],
        None => vec![Out::dims(vec![])],
    }
}

fn range(cx: &Cx<'_>) -> Vec<Out> {
    let f = |i: usize| {
        cx.k(i).and_then(Known::floats).and_then(|v| match v.as_slice() {
            [x] => Some(*x),
            _ => None,
        })
    };
    let (Some(start), Some(limit), Some(delta)) = (f(0), f(1), f(2)) else { return vec![Out::rank(1)] };
    if delta == 0.0 || !start.is_finite() || !limit.is_finite() {
        return vec![Out::rank(1)];
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if n > u32::MAX as f64 {
        return vec![Out::rank(1)];
    }
    let n = n as u64;
    let mut o = Out::dims(vec![Dim::Fixed(n)]);
    if n as usize <= MAX_TRACKED {
        o.value = match (cx.known_ints(0).as_deref(), cx.known_ints(2).as_deref()) {
            (Some(&[s]), Some(&[dl])) => Some(Values::Ints(
                (0..n as i64)
                    .map(|k| k.checked_mul(dl).and_then(|x| s.checked_add(x)).map_or(SymInt::Unknown, SymInt::Int))
                    .collect(),
            )),
            _ => Some(Values::Floats((0..n).map(|k| start + k as f64 * delta).collect())),
        };
    }
    vec![o]
}

fn constant_of_shape(cx: &Cx<'_>) -> Result<Vec<Out>> {
    Ok(vec![match shape_input(cx, 0) {
        Some(Ok(d)) => {
            let mut o = Out::dims(d.clone());
            if let Some(n) = dims::fixed_product(&d).filter(|&n| n as usize <= MAX_TRACKED) {
                let fill = match cx.node.attr("value") {
                    Some(a) => Known::from_tensor(a.as_tensor().map_err(|e| cx.err(e))?).value,
                    None => Some(Values::Floats(vec![0.0])),
                };
                o.value = match fill {
                    Some(Values::Ints(v)) => match v.as_slice() {
                        [x] => Some(Values::Ints(vec![x.clone(); n as usize])),
                        _ => None,
                    },
                    Some(Values::Floats(v)) => match v.as_slice() {
                        [x] => Some(Values::Floats(vec![*x; n as usize])),
                        _ => None,
                    },
                    _ => None,
                };
            }
            o
        }
        Some(Err(r)) => Out::rank(r),
        None => Out::default(),
    }])
}

fn depth_space(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::rank(4)]) };
    let [n, c, h, w] = d else {
        return Err(cx.err(format!("input of rank {} (4 expected)", d.len())));
    };
    let b = cx.int("blocksize", 0)?;
    if b <= 0 {
        return Err(cx.err(format!("blocksize {b}")));
    }
    let b = b as u64;
    // The block area overflows for huge block sizes; the channel count is then unknown.
    let area = b.checked_mul(b);
    Ok(vec![Out::dims(if cx.schema.op == "DepthToSpace" {
        vec![n.clone(), area.map_or(Dim::Unknown, |a| dims::div(c, a, false)), dims::mul(h, b), dims::mul(w, b)]
    } else {
        vec![n.clone(), area.map_or(Dim::Unknown, |a| dims::mul(c, a)), dims::div(h, b, false), dims::div(w, b, false)]
    })])
}

fn center_crop(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let Some(target) = cx.ints(1) else { return Ok(vec![Out::rank(d.len())]) };
    let ax: Vec<usize> = match cx.ints_attr("axes")? {
        Some(a) => a.iter().map(|&x| cx.axis(x, d.len())).collect::<Result<_>>()?,
        None => (0..d.len()).collect(),
    };
    if ax.len() != target.len() {
        return Err(cx.err(format!("{} sizes for {} axes", target.len(), ax.len())));
    }
    let mut out = d.to_vec();
    for (&a, t) in ax.iter().zip(target) {
        if let Some(slot) = out.get_mut(a) {
            *slot = t.to_dim();
        }
    }
    Ok(vec![Out::dims(out)])
}

fn gather(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let (Some(data), Some(idx)) = (cx.dims(0), cx.dims(1)) else { return Ok(vec![Out::default()]) };
    if data.is_empty() {
        return Err(cx.err("Gather on a scalar"));
    }
    let axis = cx.axis(cx.int("axis", 0)?, data.len())?;
    let (head, rest) = data.split_at_checked(axis).ok_or_else(|| cx.err(format!("axis {axis} is out of range")))?;
    let (_, tail) = rest.split_first().ok_or_else(|| cx.err(format!("axis {axis} is out of range")))?;
    let mut out: Vec<Dim> = head.to_vec();
    out.extend_from_slice(idx);
    out.extend_from_slice(tail);
    // Picking elements of a tracked vector (`Shape` → `Gather`).
    let value = match (cx.ints(0), cx.known_ints(1)) {
        (Some(v), Some(ix)) if data.len() == 1 => {
            let n = v.len() as i64;
            ix.iter()
                .map(|&i| {
                    let i = if i < 0 { i + n } else { i };
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| v.get(i))
                        .cloned()
                        .ok_or_else(|| cx.err(format!("index {i} out of range for {n} elements")))
                })
                .collect::<Result<Vec<_>>>()?
                .into()
        }
        _ => None,
    };
    Ok(vec![Out { shape: Some(out), value: value.map(Values::Ints), ty: None }])
}

fn gather_nd(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let (Some(data), Some(idx)) = (cx.dims(0), cx.dims(1)) else { return Ok(vec![Out::default()]) };
    let b = cx.int("batch_dims", 0)?.max(0) as usize;
    let Some(m) = idx.last().and_then(Dim::fixed) else {
        return Ok(vec![Out::default()]);
    };
    let m = usize::try_from(m).unwrap_or(usize::MAX);
    let Some(end) = b.checked_add(m).filter(|&e| e <= data.len()) else {
        return Err(cx.err(format!("index depth {m} with {b} batch dims exceeds data rank {}", data.len())));
    };
    let Some((_, lead)) = idx.split_last() else { return Ok(vec![Out::default()]) };
    let mut out = lead.to_vec();
    out.extend_from_slice(data.get(end..).unwrap_or_default());
    Ok(vec![Out::dims(out)])
}

fn one_hot(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(idx) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let axis = dims::axis(cx.int("axis", -1)?, idx.len(), true).ok_or_else(|| cx.err("axis out of range"))?;
    let depth = cx.k(1).and_then(Known::floats).and_then(|v| match v.as_slice() {
        [x] => Some(*x),
        _ => None,
    });
    let mut out = idx.to_vec();
    out.insert(axis, depth.filter(|d| *d >= 0.0).map_or(Dim::Unknown, |d| Dim::Fixed(d as u64)));
    Ok(vec![Out::dims(out)])
}

/// An output whose size along `axis` depends on the data (Compress, Unique):
/// input 0's shape with that axis unknown, or 1-D when there is no `axis`
/// (the input is flattened).
fn data_sized_along_axis(cx: &Cx<'_>) -> Result<Out> {
    Ok(match (cx.node.attr("axis"), cx.dims(0)) {
        (Some(_), Some(d)) => {
            let axis = cx.axis(cx.int("axis", 0)?, d.len())?;
            let mut out = d.to_vec();
            if let Some(slot) = out.get_mut(axis) {
                *slot = Dim::Unknown;
            }
            Out::dims(out)
        }
        (None, _) => Out::rank(1),
        _ => Out::default(),
    })
}

fn compress(cx: &Cx<'_>) -> Result<Vec<Out>> {
    Ok(vec![data_sized_along_axis(cx)?])
}

fn unique(cx: &Cx<'_>) -> Result<Vec<Out>> {
    Ok(vec![data_sized_along_axis(cx)?, Out::rank(1), Out::rank(1), Out::rank(1)])
}

fn arg_reduce(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let axis = cx.axis(cx.int("axis", 0)?, d.len())?;
    let keep = cx.int("keepdims", 1)? != 0;
    Ok(vec![Out::dims(reduced(d, &[axis], keep))])
}

/// `d` with `axes` set to 1 (`keep`) or removed.
fn reduced(d: &[Dim], axes: &[usize], keep: bool) -> Vec<Dim> {
    d.iter()
        .zip(axis_mask(axes, d.len()))
        .filter_map(|(x, reduced)| match (reduced, keep) {
            (true, true) => Some(Dim::Fixed(1)),
            (true, false) => None,
            (false, _) => Some(x.clone()),
        })
        .collect()
}

fn top_k(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default(), Out::default()]) };
    let axis = cx.axis(cx.int("axis", -1)?, d.len())?;
    let k = match cx.slot("K") {
        Some(i) => cx.scalar(i),
        None => Some(cx.int("k", -1)?),
    };
    let mut out = d.to_vec();
    if let Some(slot) = out.get_mut(axis) {
        *slot = k.filter(|&k| k >= 0).map_or(Dim::Unknown, |k| Dim::Fixed(k as u64));
    }
    Ok(vec![Out::dims(out.clone()), Out::dims(out)])
}

fn reduce(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let keep = cx.int("keepdims", 1)? != 0;
    let axes_list = match cx.param("axes")? {
        Param::Known(v) if !v.is_empty() => match axes(cx, &v, d.len())? {
            Some(a) => a,
            None if keep => return Ok(vec![Out::rank(d.len())]),
            None => return Ok(vec![Out::default()]),
        },
        Param::Unknown if keep => return Ok(vec![Out::rank(d.len())]),
        Param::Unknown => return Ok(vec![Out::default()]),
        // No axes: everything, unless noop_with_empty_axes.
        _ => {
            if cx.int("noop_with_empty_axes", 0)? != 0 {
                return Ok(vec![Out::dims(d.to_vec())]);
            }
            (0..d.len()).collect()
        }
    };
    Ok(vec![Out::dims(reduced(d, &axes_list, keep))])
}

/// numpy matmul of inputs `a` and `b`.
pub(crate) fn matmul(cx: &Cx<'_>, a: usize, b: usize) -> Result<Option<Vec<Dim>>> {
    let (Some(x), Some(y)) = (cx.dims(a), cx.dims(b)) else { return Ok(None) };
    if x.is_empty() || y.is_empty() {
        return Err(cx.err("MatMul of a scalar"));
    }
    let (xv, yv) = (x.len() == 1, y.len() == 1);
    let x2: Vec<Dim> = match x {
        [only] => vec![Dim::Fixed(1), only.clone()],
        _ => x.to_vec(),
    };
    let y2: Vec<Dim> = match y {
        [only] => vec![only.clone(), Dim::Fixed(1)],
        _ => y.to_vec(),
    };
    let (Some((xb, [m, k1])), Some((yb, [k2, n]))) = (x2.split_last_chunk::<2>(), y2.split_last_chunk::<2>()) else {
        return Err(cx.err("MatMul of a scalar"));
    };
    if let (Dim::Fixed(p), Dim::Fixed(q)) = (k1, k2)
        && p != q
    {
        return Err(cx.err(format!("inner dimensions differ: {} times {}", Shape(x.to_vec()), Shape(y.to_vec()))));
    }
    let batch = dims::broadcast(&[xb, yb])
        .map_err(|(p, q)| cx.err(format!("batch dimensions {} and {} do not broadcast", Shape(p), Shape(q))))?;
    let mut out = batch;
    if !xv {
        out.push(m.clone());
    }
    if !yv {
        out.push(n.clone());
    }
    Ok(Some(out))
}

fn gemm(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let (Some(a), Some(b)) = (cx.dims(0), cx.dims(1)) else { return Ok(vec![Out::rank(2)]) };
    let ([a0, a1], [b0, b1]) = (a, b) else {
        return Err(cx.err(format!("Gemm of ranks {} and {} (2 expected)", a.len(), b.len())));
    };
    let (ta, tb) = (cx.int("transA", 0)? != 0, cx.int("transB", 0)? != 0);
    let (m, ka) = if ta { (a1, a0) } else { (a0, a1) };
    let (kb, n) = if tb { (b1, b0) } else { (b0, b1) };
    if let (Dim::Fixed(p), Dim::Fixed(q)) = (ka, kb)
        && p != q
    {
        return Err(cx.err(format!("inner dimensions differ ({p} vs {q})")));
    }
    Ok(vec![Out::dims(vec![m.clone(), n.clone()])])
}

fn einsum(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let eq: String = cx.str("equation", "")?.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    if eq.contains("...") {
        return Ok(vec![Out::default()]);
    }
    let terms: Vec<&str> = lhs.split(',').collect();
    let mut letters: Vec<(char, Dim)> = Vec::new();
    let mut counts: Vec<(char, usize)> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let d = cx.dims(i);
        if let Some(d) = d
            && d.len() != t.chars().count()
        {
            return Err(cx.err(format!("term '{t}' does not fit an input of rank {}", d.len())));
        }
        for (k, c) in t.chars().enumerate() {
            let dim = d.and_then(|d| d.get(k)).cloned().unwrap_or(Dim::Unknown);
            match letters.iter_mut().find(|(l, _)| *l == c) {
                Some((_, old)) => {
                    if *old == Dim::Unknown || *old == Dim::Fixed(1) {
                        *old = dim;
                    }
                }
                None => letters.push((c, dim)),
            }
            match counts.iter_mut().find(|(l, _)| *l == c) {
                Some((_, n)) => *n += 1,
                None => counts.push((c, 1)),
            }
        }
    }
    let out_letters: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            // Implicit output: letters seen once, alphabetically.
            let mut v: Vec<char> = counts.iter().filter(|(_, n)| *n == 1).map(|(c, _)| *c).collect();
            v.sort_unstable();
            v
        }
    };
    let dims = out_letters
        .iter()
        .map(|c| letters.iter().find(|(l, _)| l == c).map(|(_, d)| d.clone()).unwrap_or(Dim::Unknown))
        .collect();
    Ok(vec![Out::dims(dims)])
}

fn bitcast(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(d) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let to = DType::try_from_onnx_code(cx.int("to", 0)?).map_err(|e| cx.err(e))?;
    let (Some(from), Some(tb)) = (cx.dtype(0).and_then(DType::bits), to.bits()) else {
        return Ok(vec![Out::default()]);
    };
    let mut out = d.to_vec();
    if tb > from {
        let r = u64::from(tb / from);
        match out.last_mut() {
            Some(last) => *last = dims::div(last, r, false),
            None => return Err(cx.err("BitCast to a wider type needs a last dimension")),
        }
    } else if tb < from {
        out.push(Dim::Fixed(u64::from(from / tb)));
    }
    Ok(vec![Out::dims(out)])
}

fn swiglu(cx: &Cx<'_>) -> Vec<Out> {
    let Some(d) = cx.dims(0) else { return vec![Out::default()] };
    let mut out = d.to_vec();
    if !cx.present(1)
        && let Some(last) = out.last_mut()
    {
        *last = dims::div(last, 2, false);
    }
    vec![Out::dims(out)]
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::slice_len;

    #[test]
    fn slice_lengths_follow_python_slicing() {
        assert_eq!(slice_len(10, 0, i64::MAX, 1), 10);
        assert_eq!(slice_len(10, 2, -2, 1), 6);
        assert_eq!(slice_len(10, 0, 10, 3), 4);
        assert_eq!(slice_len(10, -1, i64::MIN, -1), 10);
        assert_eq!(slice_len(10, 8, 2, -2), 3);
        assert_eq!(slice_len(10, 5, 2, 1), 0);
        assert_eq!(slice_len(3, -100, 100, 1), 3);
    }
}
