//! Shape and indexing ops.
//!
//! Most read their inputs in the logical layout. `Transpose` writes nothing
//! (it only changes the tracked layout), `Concat` and `Pad` run in their
//! input's layout with the axis/paddings remapped. Index inputs are int64 in
//! ONNX and stay int64 (TF's index ops take `Tindices`/`Index` int64).
//! Negative `Gather` indices, which TF's CPU kernel rejects, are wrapped.

use ir::{DType, Error, Node, Result, Tensor};

use super::{Ex, Rule, int_attr, ints_attr, layout, str_attr, ty, unsupported};

fn norm_axis(n: &Node, axis: i64, r: usize) -> Result<usize> {
    let a = if axis < 0 { axis + r as i64 } else { axis };
    if (0..r as i64).contains(&a) { Ok(a as usize) } else { Err(unsupported(n, &format!("axis {axis} of rank {r}"))) }
}

fn rank_of(ex: &Ex<'_>, n: &Node, name: &str) -> Result<usize> {
    ex.rank(name).ok_or_else(|| unsupported(n, &format!("'{name}' of unknown rank")))
}

fn transpose(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let r = rank_of(ex, n, x)?;
    let perm: Vec<usize> = match n.attr_ints("perm")? {
        Some(p) => p.iter().map(|&a| norm_axis(n, a, r)).collect::<Result<_>>()?,
        None => (0..r).rev().collect(),
    };
    let v = ex.val(x)?;
    let p = v.perm.unwrap_or_else(|| layout::identity(r));
    ex.bind_perm(n, 0, v.t, Some(layout::after_transpose(&p, &perm)));
    Ok(())
}

fn reshape_to(ex: &mut Ex<'_>, x: String, shape: String, d: DType, tshape: DType) -> Result<String> {
    Ok(ex.op("Reshape", vec![x, shape], vec![("T", ty(d)?), ("Tshape", ty(tshape)?)]))
}

/// Dim `i` of TF tensor `t` as an int64 vector of length 1.
fn dim_of(ex: &mut Ex<'_>, t: &str, d: DType, i: usize) -> Result<String> {
    let shape = ex.op("Shape", vec![t.to_string()], vec![("T", ty(d)?), ("out_type", ty(DType::I64)?)]);
    let (b, e, s) =
        (ex.ints(&[i as i64], DType::I64)?, ex.ints(&[i as i64 + 1], DType::I64)?, ex.ints(&[1], DType::I64)?);
    Ok(ex.op("StridedSlice", vec![shape, b, e, s], vec![("T", ty(DType::I64)?), ("Index", ty(DType::I64)?)]))
}

fn reshape(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let xl = ex.logical(n, 0)?;
    let allowzero = n.attr_int("allowzero", 0)? != 0;
    let shape = match ex.const_ints(n, 1)? {
        Some(s) if allowzero || !s.contains(&0) => ex.ints(&s, DType::I64)?,
        Some(s) => {
            // A 0 copies the input's dim: from the static shape, else at run time.
            let dims = ex.dims(x).unwrap_or_default();
            if s.iter().enumerate().all(|(i, &v)| v != 0 || dims.get(i).copied().flatten().is_some()) {
                let fixed: Vec<i64> =
                    s.iter().enumerate().map(|(i, &v)| if v == 0 { dims[i].unwrap_or(0) as i64 } else { v }).collect();
                ex.ints(&fixed, DType::I64)?
            } else {
                let mut parts = Vec::new();
                for (i, &v) in s.iter().enumerate() {
                    parts.push(if v == 0 { dim_of(ex, &xl, d, i)? } else { ex.ints(&[v], DType::I64)? });
                }
                concat_i64(ex, parts)?
            }
        }
        None if allowzero => ex.logical(n, 1)?,
        None => {
            // TF reads a 0 as an empty dim: copy the input's dims in at run
            // time. The input's shape is padded with ones to the target's
            // length first (a 0 past the input's rank is invalid anyway).
            let s = ex.logical(n, 1)?;
            let i64_ = ty(DType::I64)?;
            let xs = ex.op("Shape", vec![xl.clone()], vec![("T", ty(d)?), ("out_type", i64_.clone())]);
            let len = ex.op("Shape", vec![s.clone()], vec![("T", i64_.clone()), ("out_type", i64_.clone())]);
            let one = ex.scalar(1.0, DType::I64)?;
            let ones = ex.op("Fill", vec![len.clone(), one], vec![("T", i64_.clone()), ("index_type", i64_.clone())]);
            let padded = concat_i64(ex, vec![xs, ones])?;
            let (b, st) = (ex.ints(&[0], DType::I64)?, ex.ints(&[1], DType::I64)?);
            let dims =
                ex.op("StridedSlice", vec![padded, b, len, st], vec![("T", i64_.clone()), ("Index", i64_.clone())]);
            let zero = ex.scalar(0.0, DType::I64)?;
            let is_zero = ex.op_t("Equal", vec![s.clone(), zero], DType::I64)?;
            ex.op_t("SelectV2", vec![is_zero, dims, s], DType::I64)?
        }
    };
    let y = reshape_to(ex, xl, shape, d, DType::I64)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn concat_i64(ex: &mut Ex<'_>, mut parts: Vec<String>) -> Result<String> {
    // ConcatV2 needs N >= 2.
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let k = parts.len() as i64;
    let mut ins = parts;
    ins.push(ex.i32_scalar(0)?);
    Ok(ex.op("ConcatV2", ins, vec![("T", ty(DType::I64)?), ("N", int_attr(k)), ("Tidx", ty(DType::I32)?)]))
}

fn flatten(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let given = n.attr_int("axis", 1)?;
    let axis = usize::try_from(if given < 0 { given.saturating_add(r as i64) } else { given })
        .ok()
        .filter(|&a| a <= r)
        .ok_or_else(|| Error::invalid(format!("{}: axis {given} is out of range for rank {r}", n.describe())))?;
    let dims = ex.dims(x).unwrap_or_default();
    // A static size only when every dim is known and the product fits i64
    // (a fuzzed model's huge dims overflowed a plain product).
    let prod = |range: std::ops::Range<usize>| -> Option<i64> {
        range
            .map(|i| dims.get(i).copied().flatten().and_then(|v| i64::try_from(v).ok()))
            .try_fold(1i64, |acc, d| acc.checked_mul(d?))
    };
    let xl = ex.logical(n, 0)?;
    let shape = match (prod(0..axis), prod(axis..r)) {
        (Some(a), Some(b)) => vec![a, b],
        (_, Some(b)) => vec![-1, b],
        (Some(a), _) => vec![a, -1],
        _ => return Err(unsupported(n, "Flatten with unknown dims on both sides")),
    };
    let s = ex.ints(&shape, DType::I64)?;
    let y = reshape_to(ex, xl, s, d, DType::I64)?;
    ex.bind(n, 0, y);
    Ok(())
}

/// Axes from the `axes` attribute (older opsets) or constant input 1.
fn axes(ex: &Ex<'_>, n: &Node) -> Result<Option<Vec<i64>>> {
    if Ex::has_input(n, 1) {
        return ex.const_ints(n, 1)?.map(Some).ok_or_else(|| unsupported(n, "non-constant axes"));
    }
    Ok(n.attr_ints("axes")?.map(<[i64]>::to_vec))
}

fn squeeze(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let ax = axes(ex, n)?.unwrap_or_default();
    let ax: Vec<i64> = ax.iter().map(|&a| norm_axis(n, a, r).map(|a| a as i64)).collect::<Result<_>>()?;
    let xl = ex.logical(n, 0)?;
    let y = ex.op("Squeeze", vec![xl], vec![("T", ty(d)?), ("squeeze_dims", ints_attr(&ax))]);
    ex.bind(n, 0, y);
    Ok(())
}

fn unsqueeze(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let ax = axes(ex, n)?.ok_or_else(|| unsupported(n, "Unsqueeze without axes"))?;
    let out_r = r.saturating_add(ax.len());
    if out_r > super::MAX_RANK {
        let max = super::MAX_RANK;
        return Err(unsupported(n, &format!("Unsqueeze to rank {out_r} (TensorFlow tensors have at most {max})")));
    }
    let mut ax: Vec<i64> = ax.iter().map(|&a| norm_axis(n, a, out_r).map(|a| a as i64)).collect::<Result<_>>()?;
    ax.sort_unstable();
    let mut y = ex.logical(n, 0)?;
    // Ascending insertion positions are final positions.
    for a in ax {
        let k = ex.i32_scalar(a)?;
        y = ex.op("ExpandDims", vec![y, k], vec![("T", ty(d)?), ("Tdim", ty(DType::I32)?)]);
    }
    ex.bind(n, 0, y);
    Ok(())
}

fn concat(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let first = ex.in_name(n, 0)?;
    let d = ex.dtype(first)?;
    let r = rank_of(ex, n, first)?;
    let axis = norm_axis(n, n.attr_int("axis", 0)?, r)?;
    // Run in the layout of the first non-logical input.
    let p = n.present_inputs().find_map(|i| ex.perm_of(i)).unwrap_or_else(|| layout::identity(r));
    let mut ins = Vec::new();
    for name in n.present_inputs() {
        ins.push(ex.in_layout_of(name, &p)?);
    }
    let k = ins.len() as i64;
    if k == 1 {
        let y = ex.op_t("Identity", ins, d)?;
        ex.bind_perm(n, 0, y, Some(p));
        return Ok(());
    }
    ins.push(ex.i32_scalar(layout::physical_axis(&p, axis) as i64)?);
    let y = ex.op("ConcatV2", ins, vec![("T", ty(d)?), ("N", int_attr(k)), ("Tidx", ty(DType::I32)?)]);
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn split(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let axis = norm_axis(n, n.attr_int("axis", 0)?, r)?;
    let k = n.outputs.len();
    let sizes: Vec<i64> = if Ex::has_input(n, 1) {
        ex.const_ints(n, 1)?.ok_or_else(|| unsupported(n, "non-constant split sizes"))?
    } else if let Some(s) = n.attr_ints("split")? {
        s.to_vec()
    } else {
        let dim = ex
            .dims(x)
            .and_then(|v| v.get(axis).copied().flatten())
            .ok_or_else(|| unsupported(n, "an even split of an unknown dim"))? as i64;
        let chunk = (dim + k as i64 - 1) / k as i64;
        (0..k as i64).map(|i| (dim - i * chunk).clamp(0, chunk)).collect()
    };
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let s = ex.ints(&sizes, DType::I64)?;
    let a = ex.i32_scalar(layout::physical_axis(&p, axis) as i64)?;
    let y = ex.op(
        "SplitV",
        vec![v.t, s, a],
        vec![("T", ty(d)?), ("Tlen", ty(DType::I64)?), ("num_split", int_attr(k as i64))],
    );
    for i in 0..k {
        ex.bind_perm(n, i, format!("{y}:{i}"), Some(p.clone()));
    }
    Ok(())
}

/// Slice bounds: constant values, or a run-time int64 vector.
enum Bounds {
    Const(Vec<i64>),
    Dynamic(String),
}

impl Bounds {
    fn read(ex: &mut Ex<'_>, n: &Node, i: usize) -> Result<Bounds> {
        if let Some(v) = ex.const_ints(n, i)? {
            return Ok(Bounds::Const(v));
        }
        let name = ex.in_name(n, i)?;
        let d = ex.dtype(name)?;
        let mut t = ex.logical(n, i)?;
        if d != DType::I64 {
            t = ex.op("Cast", vec![t], vec![("SrcT", ty(d)?), ("DstT", ty(DType::I64)?)]);
        }
        Ok(Bounds::Dynamic(t))
    }

    /// The rank-`r` begin/end vector with entry `k` of these bounds at the
    /// physical axes `at[k]` and 0 elsewhere.
    fn full(&self, ex: &mut Ex<'_>, at: &[usize], r: usize) -> Result<String> {
        match self {
            Bounds::Const(v) => {
                let mut out = vec![0i64; r];
                for (k, &a) in at.iter().enumerate() {
                    // Clamped so that i64::MAX-style "to the end" stays in range.
                    out[a] = v[k].clamp(-(1 << 40), 1 << 40);
                }
                ex.ints(&out, DType::I64)
            }
            Bounds::Dynamic(t) => {
                let mut parts = Vec::new();
                for a in 0..r {
                    parts.push(match at.iter().position(|&x| x == a) {
                        Some(k) => {
                            let (b, e, s) = (
                                ex.ints(&[k as i64], DType::I64)?,
                                ex.ints(&[k as i64 + 1], DType::I64)?,
                                ex.ints(&[1], DType::I64)?,
                            );
                            ex.op(
                                "StridedSlice",
                                vec![t.clone(), b, e, s],
                                vec![("T", ty(DType::I64)?), ("Index", ty(DType::I64)?)],
                            )
                        }
                        None => ex.ints(&[0], DType::I64)?,
                    });
                }
                concat_i64(ex, parts)
            }
        }
    }
}

fn slice(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let starts = Bounds::read(ex, n, 1)?;
    let ends = Bounds::read(ex, n, 2)?;
    let k = match (&starts, &ends, ex.dims(ex.in_name(n, 1)?)) {
        (Bounds::Const(v), ..) | (_, Bounds::Const(v), _) => v.len(),
        (_, _, Some(d)) if d.len() == 1 && d[0].is_some() => d[0].unwrap_or(0) as usize,
        _ => return Err(unsupported(n, "Slice bounds of unknown length")),
    };
    let constant = |ex: &Ex<'_>, i: usize, what: &str| -> Result<Option<Vec<i64>>> {
        if !Ex::has_input(n, i) {
            return Ok(None);
        }
        ex.const_ints(n, i)?.map(Some).ok_or_else(|| unsupported(n, &format!("non-constant {what}")))
    };
    let axes = constant(ex, 3, "axes")?.unwrap_or_else(|| (0..k as i64).collect());
    let steps = constant(ex, 4, "steps")?.unwrap_or_else(|| vec![1; k]);
    if axes.len() != k || steps.len() != k {
        return Err(Error::invalid(format!(
            "{}: Slice has {k} starts/ends but {} axes and {} steps",
            n.describe(),
            axes.len(),
            steps.len()
        )));
    }
    // The begin/end masks below are bit sets over the axes.
    if r >= 63 {
        return Err(unsupported(n, &format!("Slice of a rank-{r} input")));
    }
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let mut at = Vec::new();
    let mut s = vec![1i64; r];
    // Unsliced axes take everything (begin/end masks); bounds clamp in TF as in ONNX.
    let mut full = (1i64 << r) - 1;
    for (k, &a) in axes.iter().enumerate() {
        let a = layout::physical_axis(&p, norm_axis(n, a, r)?);
        at.push(a);
        s[a] = steps[k];
        full &= !(1 << a);
    }
    let bt = starts.full(ex, &at, r)?;
    let et = ends.full(ex, &at, r)?;
    let st = ex.ints(&s, DType::I64)?;
    let y = ex.op(
        "StridedSlice",
        vec![v.t, bt, et, st],
        vec![("T", ty(d)?), ("Index", ty(DType::I64)?), ("begin_mask", int_attr(full)), ("end_mask", int_attr(full))],
    );
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn gather(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let axis = norm_axis(n, n.attr_int("axis", 0)?, r)?;
    let iname = ex.in_name(n, 1)?;
    let id = ex.dtype(iname)?;
    let xl = ex.logical(n, 0)?;
    let idx = match ex.const_value(iname).cloned() {
        Some(t) if t.to_i64s()?.iter().all(|&v| v >= 0) => ex.logical(n, 1)?,
        Some(t) if ex.dims(x).and_then(|v| v[axis]).is_some() => {
            let dim = ex.dims(x).and_then(|v| v[axis]).unwrap_or(0) as i64;
            let fixed: Vec<i64> = t.to_i64s()?.iter().map(|&v| if v < 0 { v + dim } else { v }).collect();
            ex.constant(&Tensor::from_vec(t.shape().to_vec(), fixed)?.cast_like_i(id)?)?
        }
        _ => {
            // idx < 0 ? idx + dim : idx, with dim read at run time.
            let il = ex.logical(n, 1)?;
            let dim64 = dim_of(ex, &xl, d, axis)?;
            let dim = if id == DType::I64 {
                dim64
            } else {
                ex.op("Cast", vec![dim64], vec![("SrcT", ty(DType::I64)?), ("DstT", ty(id)?)])
            };
            let zero = ex.scalar(0.0, id)?;
            let neg = ex.op_t("Less", vec![il.clone(), zero], id)?;
            let wrapped = ex.op_t("AddV2", vec![il.clone(), dim], id)?;
            ex.op_t("SelectV2", vec![neg, wrapped, il], id)?
        }
    };
    let a = ex.constant(&Tensor::scalar(axis as i64))?;
    let y = ex.op(
        "GatherV2",
        vec![xl, idx, a],
        vec![("Tparams", ty(d)?), ("Tindices", ty(id)?), ("Taxis", ty(DType::I64)?), ("batch_dims", int_attr(0))],
    );
    ex.bind(n, 0, y);
    Ok(())
}

/// Tensor helpers local to this family.
trait CastLike {
    fn cast_like_i(&self, d: DType) -> Result<Tensor>;
}

impl CastLike for Tensor {
    /// An integer tensor converted to int32 or int64.
    fn cast_like_i(&self, d: DType) -> Result<Tensor> {
        let v = self.to_i64s()?;
        match d {
            DType::I32 => Tensor::from_vec(self.shape().to_vec(), v.iter().map(|&x| x as i32).collect::<Vec<_>>()),
            _ => Tensor::from_vec(self.shape().to_vec(), v),
        }
    }
}

/// `GatherElements` as `GatherNd`: the index of every output element is
/// its own position with the `axis` coordinate replaced by the given index
/// (negative ones wrapped); positions come from `Range`s broadcast to the
/// indices' run-time shape.
fn gather_elements(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let axis = norm_axis(n, n.attr_int("axis", 0)?, r)?;
    let iname = ex.in_name(n, 1)?;
    let id = ex.dtype(iname)?;
    let xl = ex.logical(n, 0)?;
    let mut il = ex.logical(n, 1)?;
    if id != DType::I64 {
        il = ex.op("Cast", vec![il], vec![("SrcT", ty(id)?), ("DstT", ty(DType::I64)?)]);
    }
    let dim = dim_of(ex, &xl, d, axis)?;
    let il = wrap_negative(ex, il, dim)?;
    let shape = ex.op("Shape", vec![il.clone()], vec![("T", ty(DType::I64)?), ("out_type", ty(DType::I64)?)]);
    let mut coords = Vec::new();
    for i in 0..r {
        if i == axis {
            coords.push(il.clone());
            continue;
        }
        let size = dim_of(ex, &il, DType::I64, i)?;
        let empty = ex.ints(&[], DType::I32)?;
        let limit = ex.op("Reshape", vec![size, empty], vec![("T", ty(DType::I64)?), ("Tshape", ty(DType::I32)?)]);
        let (start, step) = (ex.scalar(0.0, DType::I64)?, ex.scalar(1.0, DType::I64)?);
        let range = ex.op("Range", vec![start, limit, step], vec![("Tidx", ty(DType::I64)?)]);
        let mut along = vec![1i64; r];
        along[i] = -1;
        let along = ex.ints(&along, DType::I64)?;
        let col = reshape_to(ex, range, along, DType::I64, DType::I64)?;
        coords.push(ex.op(
            "BroadcastTo",
            vec![col, shape.clone()],
            vec![("T", ty(DType::I64)?), ("Tidx", ty(DType::I64)?)],
        ));
    }
    let k = coords.len() as i64;
    let stacked = ex.op("Pack", coords, vec![("T", ty(DType::I64)?), ("N", int_attr(k)), ("axis", int_attr(-1))]);
    let y = ex.op("GatherNd", vec![xl, stacked], vec![("Tparams", ty(d)?), ("Tindices", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn gather_nd(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    if n.attr_int("batch_dims", 0)? != 0 {
        return Err(unsupported(n, "GatherND batch_dims ≠ 0"));
    }
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let id = ex.dtype(ex.in_name(n, 1)?)?;
    let (xl, il) = (ex.logical(n, 0)?, ex.logical(n, 1)?);
    let y = ex.op("GatherNd", vec![xl, il], vec![("Tparams", ty(d)?), ("Tindices", ty(id)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn shape_op(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)? as i64;
    // The shape of the tensor as held, reordered to the logical axes: no
    // Transpose just to read a shape.
    let v = ex.val(x)?;
    let mut y = ex.op("Shape", vec![v.t], vec![("T", ty(d)?), ("out_type", ty(DType::I64)?)]);
    if let Some(p) = v.perm.filter(|p| !layout::is_identity(p)) {
        let order: Vec<i64> = (0..r as usize).map(|a| layout::physical_axis(&p, a) as i64).collect();
        let idx = ex.ints(&order, DType::I64)?;
        let zero = ex.constant(&Tensor::scalar(0i64))?;
        y = ex.op(
            "GatherV2",
            vec![y, idx, zero],
            vec![
                ("Tparams", ty(DType::I64)?),
                ("Tindices", ty(DType::I64)?),
                ("Taxis", ty(DType::I64)?),
                ("batch_dims", int_attr(0)),
            ],
        );
    }
    let start = n.attr_int("start", 0)?;
    let end = n.attr_int("end", r)?;
    let fix = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
    let (s, e) = (fix(start), fix(end));
    if s != 0 || e != r {
        let (b, en, st) = (ex.ints(&[s], DType::I64)?, ex.ints(&[e.max(s)], DType::I64)?, ex.ints(&[1], DType::I64)?);
        y = ex.op("StridedSlice", vec![y, b, en, st], vec![("T", ty(DType::I64)?), ("Index", ty(DType::I64)?)]);
    }
    ex.bind(n, 0, y);
    Ok(())
}

fn size(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let v = ex.val(ex.in_name(n, 0)?)?;
    let y = ex.op("Size", vec![v.t], vec![("T", ty(d)?), ("out_type", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn expand(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let xl = ex.logical(n, 0)?;
    let s = ex.logical(n, 1)?;
    // ONNX broadcasts both ways: the target is broadcast(shape(x), shape).
    let xs = ex.op("Shape", vec![xl.clone()], vec![("T", ty(d)?), ("out_type", ty(DType::I64)?)]);
    let full = ex.op("BroadcastArgs", vec![xs, s], vec![("T", ty(DType::I64)?)]);
    let y = ex.op("BroadcastTo", vec![xl, full], vec![("T", ty(d)?), ("Tidx", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn tile(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let (xl, rl) = (ex.logical(n, 0)?, ex.logical(n, 1)?);
    let y = ex.op("Tile", vec![xl, rl], vec![("T", ty(d)?), ("Tmultiples", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn constant_of_shape(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let value = match n.attr("value") {
        Some(ir::Attribute::Tensor(t)) => t.clone(),
        _ => Tensor::scalar(0.0f32),
    };
    let d = value.dtype();
    let scalar = value.reshaped(vec![])?;
    if let Some(dims) = ex.const_ints(n, 0)? {
        // Static: fold into one constant when small, else Fill.
        // Checked: the dims come from the file and may be negative or overflow.
        if ir::checked_numel(&dims).is_some_and(|numel| numel <= 4096) {
            let v: Vec<usize> = dims.iter().map(|&x| x as usize).collect();
            let filled = broadcast_scalar(&scalar, v)?;
            ex.bind_const(n, filled);
            return Ok(());
        }
    }
    let s = ex.logical(n, 0)?;
    let c = ex.constant(&scalar)?;
    let y = ex.op("Fill", vec![s, c], vec![("T", ty(d)?), ("index_type", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

/// A scalar repeated to `shape`.
fn broadcast_scalar(t: &Tensor, shape: Vec<usize>) -> Result<Tensor> {
    let numel: usize = shape.iter().product();
    let raw = t.raw().ok_or_else(|| ir::Error::invalid("scalar without bytes"))?.as_bytes().to_vec();
    let mut out = Vec::with_capacity(raw.len() * numel);
    for _ in 0..numel {
        out.extend_from_slice(&raw);
    }
    Tensor::from_raw(t.dtype(), shape, ir::Buffer::from_vec(out))
}

fn range(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let ins = [ex.logical(n, 0)?, ex.logical(n, 1)?, ex.logical(n, 2)?];
    let y = ex.op("Range", ins.to_vec(), vec![("Tidx", ty(d)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn pad(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let mode = n.attr_str("mode", "constant")?.to_string();
    let pads = if Ex::has_input(n, 1) {
        ex.const_ints(n, 1)?.ok_or_else(|| unsupported(n, "non-constant pads"))?
    } else {
        n.attr_ints("pads")?.map(<[i64]>::to_vec).unwrap_or_default()
    };
    let axes: Vec<usize> = match if Ex::has_input(n, 3) { ex.const_ints(n, 3)? } else { None } {
        Some(a) => a.iter().map(|&a| norm_axis(n, a, r)).collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(unsupported(n, "pads of the wrong length"));
    }
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let mut table = vec![0i64; 2 * r];
    for (k, &a) in axes.iter().enumerate() {
        let pa = layout::physical_axis(&p, a);
        table[2 * pa] = pads[k];
        table[2 * pa + 1] = pads[k + axes.len()];
    }
    if table.iter().any(|&v| v < 0) {
        return Err(unsupported(n, "negative pads"));
    }
    let paddings = ex.constant(&Tensor::from_vec(vec![r, 2], table)?)?;
    let y = match mode.as_str() {
        "constant" => {
            let c = if Ex::has_input(n, 2) {
                ex.logical(n, 2)?
            } else {
                let f = n.attr_float("value", 0.0)?;
                ex.scalar(f64::from(f), d)?
            };
            ex.op("PadV2", vec![v.t, paddings, c], vec![("T", ty(d)?), ("Tpaddings", ty(DType::I64)?)])
        }
        "reflect" => ex.op(
            "MirrorPad",
            vec![v.t, paddings],
            vec![("T", ty(d)?), ("Tpaddings", ty(DType::I64)?), ("mode", str_attr("REFLECT"))],
        ),
        m => return Err(unsupported(n, &format!("Pad mode '{m}'"))),
    };
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn top_k(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    let axis = norm_axis(n, n.attr_int("axis", -1)?, r)?;
    if n.attr_int("largest", 1)? == 0 {
        return Err(unsupported(n, "TopK largest=0"));
    }
    // TopKV2 works on the last axis: move the axis last through the layout.
    let mut target: Vec<usize> = (0..r).filter(|&a| a != axis).collect();
    target.push(axis);
    let xt = ex.in_layout_of(x, &target)?;
    let k = match ex.const_ints(n, 1)? {
        Some(k) => ex.i32_scalar(k.first().copied().unwrap_or(0))?,
        None => {
            let kl = ex.logical(n, 1)?;
            let empty = ex.ints(&[], DType::I32)?;
            let k32 = ex.op("Cast", vec![kl], vec![("SrcT", ty(DType::I64)?), ("DstT", ty(DType::I32)?)]);
            ex.op("Reshape", vec![k32, empty], vec![("T", ty(DType::I32)?), ("Tshape", ty(DType::I32)?)])
        }
    };
    let y = ex.op("TopKV2", vec![xt, k], vec![("T", ty(d)?), ("sorted", super::bool_attr(true))]);
    let idx = ex.op("Cast", vec![format!("{y}:1")], vec![("SrcT", ty(DType::I32)?), ("DstT", ty(DType::I64)?)]);
    ex.bind_perm(n, 0, y.clone(), Some(target.clone()));
    ex.bind_perm(n, 1, idx, Some(target));
    Ok(())
}

fn cumsum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let ad = ex.dtype(ex.in_name(n, 1)?)?;
    let (xl, al) = (ex.logical(n, 0)?, ex.logical(n, 1)?);
    let y = ex.op(
        "Cumsum",
        vec![xl, al],
        vec![
            ("T", ty(d)?),
            ("Tidx", ty(ad)?),
            ("exclusive", super::bool_attr(n.attr_int("exclusive", 0)? != 0)),
            ("reverse", super::bool_attr(n.attr_int("reverse", 0)? != 0)),
        ],
    );
    ex.bind(n, 0, y);
    Ok(())
}

/// `idx < 0 ? idx + dim : idx` for int64 TF tensors.
fn wrap_negative(ex: &mut Ex<'_>, idx: String, dim: String) -> Result<String> {
    let zero = ex.scalar(0.0, DType::I64)?;
    let neg = ex.op_t("Less", vec![idx.clone(), zero], DType::I64)?;
    let wrapped = ex.op_t("AddV2", vec![idx.clone(), dim], DType::I64)?;
    ex.op_t("SelectV2", vec![neg, wrapped, idx], DType::I64)
}

/// Input `i` as an int64 TF tensor.
fn as_i64(ex: &mut Ex<'_>, n: &Node, i: usize) -> Result<String> {
    let d = ex.dtype(ex.in_name(n, i)?)?;
    let t = ex.logical(n, i)?;
    Ok(if d == DType::I64 { t } else { ex.op("Cast", vec![t], vec![("SrcT", ty(d)?), ("DstT", ty(DType::I64)?)]) })
}

/// A one-element TF tensor as a scalar.
fn scalar_of(ex: &mut Ex<'_>, t: String, d: DType) -> Result<String> {
    let empty = ex.ints(&[], DType::I32)?;
    Ok(ex.op("Reshape", vec![t, empty], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)]))
}

fn one_hot(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let vd = ex.dtype(ex.in_name(n, 2)?)?;
    let r = rank_of(ex, n, ex.in_name(n, 0)?)?;
    let axis = n.attr_int("axis", -1)?;
    let axis = if axis < 0 { axis + r as i64 + 1 } else { axis };
    let depth = as_i64(ex, n, 1)?;
    let depth = scalar_of(ex, depth, DType::I64)?;
    let idx = as_i64(ex, n, 0)?;
    // ONNX counts negative indices from the end; TF writes all-off rows for them.
    let idx = wrap_negative(ex, idx, depth.clone())?;
    let depth32 = ex.op("Cast", vec![depth], vec![("SrcT", ty(DType::I64)?), ("DstT", ty(DType::I32)?)]);
    let values = ex.logical(n, 2)?;
    let pick = |ex: &mut Ex<'_>, k: i64| -> Result<String> {
        let (b, e, s) = (ex.ints(&[k], DType::I64)?, ex.ints(&[k + 1], DType::I64)?, ex.ints(&[1], DType::I64)?);
        Ok(ex.op(
            "StridedSlice",
            vec![values.clone(), b, e, s],
            vec![("T", ty(vd)?), ("Index", ty(DType::I64)?), ("shrink_axis_mask", int_attr(1))],
        ))
    };
    let (off, on) = (pick(ex, 0)?, pick(ex, 1)?);
    let y = ex.op(
        "OneHot",
        vec![idx, depth32, on, off],
        vec![("T", ty(vd)?), ("TI", ty(DType::I64)?), ("axis", int_attr(axis))],
    );
    ex.bind(n, 0, y);
    Ok(())
}

fn scatter_nd(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let op = match n.attr_str("reduction", "none")? {
        "none" => "TensorScatterUpdate",
        "add" => "TensorScatterAdd",
        "max" => "TensorScatterMax",
        "min" => "TensorScatterMin",
        other => return Err(unsupported(n, &format!("ScatterND reduction '{other}'"))),
    };
    let (xl, il, ul) = (ex.logical(n, 0)?, as_i64(ex, n, 1)?, ex.logical(n, 2)?);
    let y = ex.op(op, vec![xl, il, ul], vec![("T", ty(d)?), ("Tindices", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn non_zero(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let xl = ex.logical(n, 0)?;
    // TF's Where lists coordinates as rows [n, rank]; ONNX wants [rank, n].
    let w = ex.op("Where", vec![xl], vec![("T", ty(d)?)]);
    let perm = ex.ints(&[1, 0], DType::I32)?;
    let y = ex.op("Transpose", vec![w, perm], vec![("T", ty(DType::I64)?), ("Tperm", ty(DType::I32)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

fn trilu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = rank_of(ex, n, x)?;
    if r < 2 {
        return Err(unsupported(n, "Trilu of rank < 2"));
    }
    let upper = n.attr_int("upper", 1)? != 0;
    let xl = ex.logical(n, 0)?;
    let k = if Ex::has_input(n, 1) {
        let k = as_i64(ex, n, 1)?;
        scalar_of(ex, k, DType::I64)?
    } else {
        ex.scalar(0.0, DType::I64)?
    };
    // Keep (row, col) where col - row >= k (upper) or <= k (lower).
    let axis_range = |ex: &mut Ex<'_>, a: usize, shape: &[i64]| -> Result<String> {
        let size = dim_of(ex, &xl, d, a)?;
        let size = scalar_of(ex, size, DType::I64)?;
        let (start, step) = (ex.scalar(0.0, DType::I64)?, ex.scalar(1.0, DType::I64)?);
        let range = ex.op("Range", vec![start, size, step], vec![("Tidx", ty(DType::I64)?)]);
        let s = ex.ints(shape, DType::I64)?;
        reshape_to(ex, range, s, DType::I64, DType::I64)
    };
    let rows = axis_range(ex, r - 2, &[-1, 1])?;
    let cols = axis_range(ex, r - 1, &[1, -1])?;
    let diff = ex.op_t("Sub", vec![cols, rows], DType::I64)?;
    let keep = ex.op_t(if upper { "GreaterEqual" } else { "LessEqual" }, vec![diff, k], DType::I64)?;
    let zeros = ex.op_t("ZerosLike", vec![xl.clone()], d)?;
    let y = ex.op_t("SelectV2", vec![keep, xl, zeros], d)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn reverse_sequence(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let (xl, ll) = (ex.logical(n, 0)?, as_i64(ex, n, 1)?);
    let y = ex.op(
        "ReverseSequence",
        vec![xl, ll],
        vec![
            ("T", ty(d)?),
            ("Tlen", ty(DType::I64)?),
            ("seq_dim", int_attr(n.attr_int("time_axis", 0)?)),
            ("batch_dim", int_attr(n.attr_int("batch_axis", 1)?)),
        ],
    );
    ex.bind(n, 0, y);
    Ok(())
}

fn dropout(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    if n.outputs.len() > 1 && !n.outputs[1].is_empty() {
        return Err(unsupported(n, "Dropout's mask output"));
    }
    if !ir::schema::dropout_is_identity(n, |i| ex.const_input(n, i).and_then(|t| t.to_f64s().ok())) {
        return Err(unsupported(n, "Dropout in training mode"));
    }
    let v = ex.val(ex.in_name(n, 0)?)?;
    ex.bind_perm(n, 0, v.t, v.perm);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "Concat", tf: "ConcatV2", notes: "in the first input's layout, axis remapped", build: concat },
    Rule {
        onnx: "ConstantOfShape",
        tf: "Const / Fill",
        notes: "folded when the shape is constant",
        build: constant_of_shape,
    },
    Rule { onnx: "CumSum", tf: "Cumsum", notes: "exclusive, reverse", build: cumsum },
    Rule { onnx: "Dropout", tf: "(none)", notes: "inference: the output is its input; no mask", build: dropout },
    Rule { onnx: "Expand", tf: "Shape + BroadcastArgs + BroadcastTo", notes: "bidirectional broadcast", build: expand },
    Rule { onnx: "Flatten", tf: "Reshape", notes: "axis; one side may be dynamic", build: flatten },
    Rule {
        onnx: "Gather",
        tf: "GatherV2",
        notes: "axis; negative indices wrapped (constant or SelectV2)",
        build: gather,
    },
    Rule {
        onnx: "GatherElements",
        tf: "GatherNd of Range/BroadcastTo coordinates + Pack",
        notes: "axis; negative indices wrapped",
        build: gather_elements,
    },
    Rule { onnx: "GatherND", tf: "GatherNd", notes: "batch_dims 0", build: gather_nd },
    Rule {
        onnx: "Pad",
        tf: "PadV2 / MirrorPad",
        notes: "constant (value) and reflect; axes input; in the input's layout",
        build: pad,
    },
    Rule { onnx: "NonZero", tf: "Where + Transpose", notes: "", build: non_zero },
    Rule { onnx: "OneHot", tf: "OneHot", notes: "axis; negative indices wrapped", build: one_hot },
    Rule { onnx: "Range", tf: "Range", notes: "", build: range },
    Rule {
        onnx: "Reshape",
        tf: "Reshape",
        notes: "0 = copy dim (static or read at run time), allowzero",
        build: reshape,
    },
    Rule { onnx: "ReverseSequence", tf: "ReverseSequence", notes: "batch_axis, time_axis", build: reverse_sequence },
    Rule {
        onnx: "ScatterND",
        tf: "TensorScatterUpdate / Add / Max / Min",
        notes: "reduction none, add, max, min",
        build: scatter_nd,
    },
    Rule { onnx: "Shape", tf: "Shape (+ StridedSlice)", notes: "start, end", build: shape_op },
    Rule { onnx: "Size", tf: "Size", notes: "", build: size },
    Rule {
        onnx: "Slice",
        tf: "StridedSlice",
        notes: "constant or run-time starts/ends, constant axes/steps (negative steps too); in the input's layout",
        build: slice,
    },
    Rule {
        onnx: "Split",
        tf: "SplitV",
        notes: "sizes input/attribute or even split; in the input's layout",
        build: split,
    },
    Rule { onnx: "Squeeze", tf: "Squeeze", notes: "axes attribute or constant input", build: squeeze },
    Rule { onnx: "Tile", tf: "Tile", notes: "", build: tile },
    Rule {
        onnx: "TopK",
        tf: "TopKV2 + Cast",
        notes: "any axis (moved last through the layout); largest=1",
        build: top_k,
    },
    Rule {
        onnx: "Transpose",
        tf: "(none)",
        notes: "composes the tracked layout; a Transpose is written only where needed",
        build: transpose,
    },
    Rule { onnx: "Trilu", tf: "Range mask + SelectV2", notes: "upper/lower, k input", build: trilu },
    Rule { onnx: "Unsqueeze", tf: "ExpandDims", notes: "axes attribute or constant input", build: unsqueeze },
];
