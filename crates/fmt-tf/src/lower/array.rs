//! Shapes, slicing, gathering, joining, padding, and the ops that pass a
//! value through.
//!
//! TF writes shapes, axes and indices as `i32` (the canonical ops want
//! `i64`: constants are converted once, computed values cast). TF's
//! `Reshape` reads `0` as a zero-sized dimension, ONNX's as "copy", so a
//! target that may hold a 0 gets `allowzero`. `StridedSlice` is expanded
//! from its masks into one `Slice` over the input's axes, a `Squeeze` of
//! the shrunk axes and an `Unsqueeze` of the new ones. `MirrorPad`
//! SYMMETRIC (edge repeated) has no canonical mode and is built from
//! reversed `Slice`s and a `Concat` per axis. `OneHot` gives negative
//! indices an all-off row where ONNX counts them from the end, so they are
//! moved out of range first. `ReverseSequence` takes any batch and time
//! axes; ONNX's wants them to be 0 and 1, so others are transposed there
//! and back. `Where` (one input) lists coordinates as rows, `NonZero` as
//! columns.

// Rules index their inputs (`ins[k]`) freely: `Lowering::run` (in
// `lower/mod.rs`) checks each node's input count against the rule's
// `Ports` before the rule runs, so `k` is always below it. Every other
// index in this module is on data checked where it is read.
#![allow(clippy::indexing_slicing)]

use ir::{Attribute as A, DType, Result, Tensor};

use super::{Cx, Ports, Rule, type_attr};
use crate::graph::TfNode;

type Ins<'a> = &'a [String];

/// Most batch rows a batched `GatherV2` builds offsets for (declared
/// shapes are not backed by bytes, so they bound the constant built here).
const MAX_BATCH_ROWS: i64 = 1 << 24;
/// Most axes a `Slice` of an input of unknown rank may name.
const MAX_AXES: u64 = 1 << 10;

fn pass_through(_: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(ins.to_vec())
}

fn reshape(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let zero_possible = cx.const_ints(&ins[1]).is_none_or(|v| v.contains(&0));
    let shape = cx.as_i64(&ins[1])?;
    let attrs = if zero_possible { vec![("allowzero", A::Int(1))] } else { vec![] };
    Ok(vec![cx.op("Reshape", &[&ins[0], &shape], attrs)?])
}

fn shape(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let s = cx.op("Shape", &[&ins[0]], vec![])?;
    let to = type_attr(n, "out_type").unwrap_or(DType::I32);
    Ok(vec![cx.cast(&s, to)?])
}

fn size(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let s = cx.op("Size", &[&ins[0]], vec![])?;
    let to = type_attr(n, "out_type").unwrap_or(DType::I32);
    Ok(vec![cx.cast(&s, to)?])
}

fn rank(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let s = cx.op("Shape", &[&ins[0]], vec![])?;
    let r = cx.op("Size", &[&s], vec![])?;
    Ok(vec![cx.cast(&r, DType::I32)?])
}

fn expand_dims(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let axes = cx.as_i64_vector(&ins[1])?;
    Ok(vec![cx.op("Unsqueeze", &[&ins[0], &axes], vec![])?])
}

fn squeeze(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let dims = cx.ints(n, "squeeze_dims")?.unwrap_or_default();
    if dims.is_empty() {
        return Ok(vec![cx.op("Squeeze", &[&ins[0]], vec![])?]);
    }
    let axes = cx.i64s(&dims);
    Ok(vec![cx.op("Squeeze", &[&ins[0], &axes], vec![])?])
}

fn transpose(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let perm = cx.ints_of(n, &ins[1], "permutation")?;
    Ok(vec![cx.op("Transpose", &[&ins[0]], vec![("perm", A::Ints(perm))])?])
}

/// A constant scalar axis input.
fn axis_of(cx: &Cx<'_>, n: &TfNode, v: &str) -> Result<i64> {
    match cx.ints_of(n, v, "axis")?.as_slice() {
        [a] => Ok(*a),
        a => Err(cx.bad(n, format!("the axis must be a scalar, found {a:?}"))),
    }
}

fn concat(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (axis, values) = ins.split_last().expect("arity checked: at least 2 inputs");
    let axis = axis_of(cx, n, axis)?;
    if let [only] = values {
        return Ok(vec![only.clone()]);
    }
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    Ok(vec![cx.op("Concat", &refs, vec![("axis", A::Int(axis))])?])
}

fn pack(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let axis = cx.int(n, "axis", 0)?;
    let axes = cx.i64s(&[axis]);
    let parts = ins.iter().map(|v| cx.op("Unsqueeze", &[v, &axes], vec![])).collect::<Result<Vec<_>>>()?;
    if parts.len() == 1 {
        return Ok(parts);
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(vec![cx.op("Concat", &refs, vec![("axis", A::Int(axis))])?])
}

fn unpack(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let num = cx.int(n, "num", -1)?;
    let num = usize::try_from(num).ok().filter(|&k| k > 0).ok_or_else(|| cx.bad(n, format!("num={num}")))?;
    let axis = cx.int(n, "axis", 0)?;
    // Without a `split` input, Split cuts equal parts, one per output.
    let parts = cx.split_equal(&ins[0], num, axis)?;
    let axes = cx.i64s(&[axis]);
    parts.iter().map(|p| cx.op("Squeeze", &[p, &axes], vec![])).collect()
}

fn tile(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let m = cx.as_i64(&ins[1])?;
    Ok(vec![cx.op("Tile", &[&ins[0], &m], vec![])?])
}

fn fill(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let dims = cx.as_i64(&ins[0])?;
    Ok(vec![cx.op("Expand", &[&ins[1], &dims], vec![])?])
}

fn gather(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let axis = if ins.len() == 3 { axis_of(cx, n, &ins[2])? } else { 0 };
    let batch_dims = cx.int(n, "batch_dims", 0)?;
    if batch_dims == 0 {
        return Ok(vec![cx.op("Gather", &[&ins[0], &ins[1]], vec![("axis", A::Int(axis))])?]);
    }
    batched_gather(cx, n, ins, axis, batch_dims)
}

/// `GatherV2` with `batch_dims` b > 0 and axis b: the batch axes and the
/// gathered one are merged into one (a Reshape), and each index offset by
/// its batch row's start, so one plain `Gather` does it.
fn batched_gather(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>, axis: i64, batch_dims: i64) -> Result<Vec<String>> {
    let rank_p = cx.rank_of(n, &ins[0])? as i64;
    let rank_i = cx.rank_of(n, &ins[1])? as i64;
    let b = if batch_dims < 0 { batch_dims + rank_i } else { batch_dims };
    let a = if axis < 0 { axis + rank_p } else { axis };
    if b <= 0 || a != b || b >= rank_p || b > rank_i {
        return Err(cx.bad(n, format!("batch_dims={batch_dims} with axis={axis} is not supported")));
    }
    let dims: Option<Vec<i64>> = (0..=b as usize).map(|k| cx.dim(&ins[0], k)).collect();
    let dims = dims.ok_or_else(|| cx.bad(n, "batch_dims needs the batch and gathered sizes of params known"))?;
    let Some((&rows, batch_dims_sizes)) = dims.split_last() else {
        return Err(cx.bad(n, "batch_dims needs the batch and gathered sizes of params known"));
    };
    // One offset per batch row is built here: the declared sizes must be small.
    let batch = batch_dims_sizes.iter().try_fold(1i64, |a, &d| a.checked_mul(d));
    let Some((batch, head_size)) =
        batch.filter(|&n| (0..=MAX_BATCH_ROWS).contains(&n)).and_then(|batch| Some((batch, batch.checked_mul(rows)?)))
    else {
        return Err(cx.bad(n, format!("batch sizes {batch_dims_sizes:?} have more than {MAX_BATCH_ROWS} rows")));
    };
    // params → [batch·rows, trailing dims of params...].
    let shape = cx.op("Shape", &[&ins[0]], vec![])?;
    let (from, to, ax) = (cx.i64s(&[b + 1]), cx.i64s(&[i64::MAX]), cx.i64s(&[0]));
    let tail = cx.op("Slice", &[&shape, &from, &to, &ax], vec![])?;
    let head = cx.i64s(&[head_size]);
    let target = cx.op("Concat", &[&head, &tail], vec![("axis", A::Int(0))])?;
    let flat = cx.op("Reshape", &[&ins[0], &target], vec![])?;
    let it = cx.dtype_of(n, &ins[1])?;
    let mut offset_shape: Vec<usize> = batch_dims_sizes.iter().map(|&d| d as usize).collect();
    offset_shape.extend(std::iter::repeat_n(1, (rank_i - b) as usize));
    let offsets: Vec<i64> = (0..batch).map(|k| k.saturating_mul(rows)).collect();
    let offsets = Tensor::from_vec(offset_shape, offsets)?;
    let offsets = cx.constant(offsets);
    let offsets = cx.cast(&offsets, it)?;
    let idx = cx.op("Add", &[&ins[1], &offsets], vec![])?;
    Ok(vec![cx.op("Gather", &[&flat, &idx], vec![("axis", A::Int(0))])?])
}

fn split(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    // Split: (axis, value); SplitV: (value, size_splits, axis).
    let (value, axis) = if n.op == "Split" { (&ins[1], &ins[0]) } else { (&ins[0], &ins[2]) };
    let axis = axis_of(cx, n, axis)?;
    let num = cx.int(n, "num_split", -1)?;
    let num = usize::try_from(num).ok().filter(|&k| k > 0).ok_or_else(|| cx.bad(n, format!("num_split={num}")))?;
    if n.op == "SplitV" {
        let mut inputs = vec![Some(value.clone())];
        let mut sizes = cx.ints_of(n, &ins[1], "size_splits")?;
        // One size may be -1: whatever the others leave.
        if let Some(k) = sizes.iter().position(|&s| s == -1) {
            let rank = cx.rank_of(n, value)? as i64;
            let ax = if axis < 0 { axis + rank } else { axis };
            let total = usize::try_from(ax).ok().and_then(|a| cx.dim(value, a));
            let total = total.ok_or_else(|| cx.bad(n, "a size of -1 needs the split axis's size known"))?;
            let others = sizes.iter().filter(|&&s| s != -1).try_fold(0i64, |a, &s| a.checked_add(s));
            let rest = others.and_then(|o| total.checked_sub(o));
            let (Some(rest), Some(slot)) = (rest, sizes.get_mut(k)) else {
                return Err(cx.bad(n, "size_splits overflow"));
            };
            *slot = rest;
        }
        inputs.push(Some(cx.i64s(&sizes)));
        return cx.emit("Split", inputs, num, vec![("axis", A::Int(axis))]);
    }
    cx.split_equal(value, num, axis)
}

fn broadcast_to(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let shape = cx.as_i64(&ins[1])?;
    Ok(vec![cx.op("Expand", &[&ins[0], &shape], vec![])?])
}

fn filled_like(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let d = cx.dtype_of(n, &ins[0])?;
    let v = cx.scalar(if n.op == "OnesLike" { 1.0 } else { 0.0 }, d)?;
    let shape = cx.op("Shape", &[&ins[0]], vec![])?;
    Ok(vec![cx.op("Expand", &[&v, &shape], vec![])?])
}

/// The broadcast of two shape vectors (TF's `T`: `i32` or `i64`).
fn broadcast_args(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (a, b) = (&ins[0], &ins[1]);
    let t = cx.dtype_of(n, a)?;
    if let (Some(x), Some(y)) = (cx.const_ints(a), cx.const_ints(b)) {
        let dims =
            broadcast_dims(&x, &y).ok_or_else(|| cx.bad(n, format!("shapes {x:?} and {y:?} do not broadcast")))?;
        let len = vec![dims.len()];
        let t = match t {
            DType::I32 => {
                let v = dims.iter().map(|&d| i32::try_from(d)).collect::<std::result::Result<Vec<_>, _>>();
                Tensor::from_vec(len, v.map_err(|_| cx.bad(n, format!("shape {dims:?} overflows i32")))?)?
            }
            _ => Tensor::from_vec(len, dims)?,
        };
        return Ok(vec![cx.constant(t)]);
    }
    let (a64, b64) = (cx.as_i64(a)?, cx.as_i64(b)?);
    let out = match (cx.dim(a, 0), cx.dim(b, 0)) {
        (Some(ka), Some(kb)) => {
            // Both padded with leading 1s to one length; then per dim the
            // other side wherever one side is 1 (0 against 1 gives 0).
            let k = ka.max(kb);
            let pad = |cx: &mut Cx<'_>, v: &str, len: i64| -> Result<String> {
                if len == k {
                    return Ok(v.to_string());
                }
                let ones = cx.i64s(&vec![1; (k - len) as usize]);
                cx.op("Concat", &[&ones, v], vec![("axis", A::Int(0))])
            };
            let (pa, pb) = (pad(cx, &a64, ka)?, pad(cx, &b64, kb)?);
            let one = cx.i64s(&[1]);
            let a_is_one = cx.op("Equal", &[&pa, &one], vec![])?;
            cx.op("Where", &[&a_is_one, &pb, &pa], vec![])?
        }
        _ => {
            // Lengths unknown until run time: let Expand broadcast a
            // one-byte tensor (it holds the broadcast shape's elements).
            let zero = cx.scalar(0.0, DType::U8)?;
            let x = cx.op("Expand", &[&zero, &a64], vec![])?;
            let xy = cx.op("Expand", &[&x, &b64], vec![])?;
            cx.op("Shape", &[&xy], vec![])?
        }
    };
    Ok(vec![cx.cast(&out, t)?])
}

/// numpy's broadcast of two shapes, `None` if they do not broadcast.
fn broadcast_dims(a: &[i64], b: &[i64]) -> Option<Vec<i64>> {
    let k = a.len().max(b.len());
    let at = |v: &[i64], i: usize| if i + v.len() < k { 1 } else { v.get(i + v.len() - k).copied().unwrap_or(1) };
    (0..k)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

fn one_hot(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (idx, depth, on, off) = (&ins[0], &ins[1], &ins[2], &ins[3]);
    let axis = cx.int(n, "axis", -1)?;
    let depth = cx.as_i64(depth)?;
    let idx = match cx.dtype_of(n, idx)? {
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => idx.clone(),
        _ => {
            // An index past the end is all-off in both; a negative one only in TF.
            let i = cx.as_i64(idx)?;
            let zero = cx.i64s(&[0]);
            let neg = cx.op("Less", &[&i, &zero], vec![])?;
            cx.op("Where", &[&neg, &depth, &i], vec![])?
        }
    };
    let row = cx.i64s(&[1]);
    let off = cx.op("Reshape", &[off, &row], vec![])?;
    let on = cx.op("Reshape", &[on, &row], vec![])?;
    let values = cx.op("Concat", &[&off, &on], vec![("axis", A::Int(0))])?;
    Ok(vec![cx.op("OneHot", &[&idx, &depth, &values], vec![("axis", A::Int(axis))])?])
}

fn reverse_sequence(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let rank = cx.rank_of(n, &ins[0])? as i64;
    if n.attr("seq_dim").is_none() {
        return Err(cx.bad(n, "attribute 'seq_dim' is missing"));
    }
    let axis = |a: i64| if a < 0 { a.saturating_add(rank) } else { a };
    let (seq, batch) = (axis(cx.int(n, "seq_dim", 0)?), axis(cx.int(n, "batch_dim", 0)?));
    if !(0..rank).contains(&seq) || !(0..rank).contains(&batch) || seq == batch {
        return Err(cx.bad(n, format!("seq_dim {seq} and batch_dim {batch} must be two axes of a rank-{rank} input")));
    }
    let lens = cx.as_i64(&ins[1])?;
    if seq + batch == 1 {
        let attrs = vec![("batch_axis", A::Int(batch)), ("time_axis", A::Int(seq))];
        return Ok(vec![cx.op("ReverseSequence", &[&ins[0], &lens], attrs)?]);
    }
    // Batch to axis 0, time to axis 1, the rest after them in order.
    let (seq, batch) = (seq as usize, batch as usize);
    let mut perm = vec![batch, seq];
    perm.extend((0..rank as usize).filter(|&a| a != seq && a != batch));
    let mut inverse = vec![0; perm.len()];
    for (k, &p) in perm.iter().enumerate() {
        inverse[p] = k;
    }
    let x = cx.transpose(&ins[0], &perm)?;
    let attrs = vec![("batch_axis", A::Int(0)), ("time_axis", A::Int(1))];
    let y = cx.op("ReverseSequence", &[&x, &lens], attrs)?;
    Ok(vec![cx.transpose(&y, &inverse)?])
}

/// `TensorScatterUpdate`/`Add`/`Sub`/`Max`/`Min` as `ScatterND`.
fn tensor_scatter(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let idx = cx.as_i64(&ins[1])?;
    let (reduction, updates) = match n.op.as_str() {
        "TensorScatterUpdate" => ("none", ins[2].clone()),
        "TensorScatterAdd" => ("add", ins[2].clone()),
        "TensorScatterSub" => {
            // 0 - u rather than Neg: unsigned updates wrap as TF's do.
            let d = cx.dtype_of(n, &ins[2])?;
            let zero = cx.scalar(0.0, d)?;
            ("add", cx.op("Sub", &[&zero, &ins[2]], vec![])?)
        }
        "TensorScatterMax" => ("max", ins[2].clone()),
        "TensorScatterMin" => ("min", ins[2].clone()),
        op => return Err(cx.bad(n, format!("{op} is not a tensor scatter"))),
    };
    let attrs = if reduction == "none" { vec![] } else { vec![("reduction", A::String(reduction.into()))] };
    Ok(vec![cx.op("ScatterND", &[&ins[0], &idx, &updates], attrs)?])
}

/// `Where` with one input: the coordinates of the true (non-zero) elements.
fn where_(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nz = cx.op("NonZero", &[&ins[0]], vec![])?;
    Ok(vec![cx.op("Transpose", &[&nz], vec![("perm", A::Ints(vec![1, 0]))])?])
}

fn gather_nd(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let idx = cx.as_i64(&ins[1])?;
    Ok(vec![cx.op("GatherND", &[&ins[0], &idx], vec![])?])
}

/// ONNX `pads` from TF `paddings` (`[[begin, end], ...]` → all begins, then all ends).
fn pads(cx: &mut Cx<'_>, v: &str) -> Result<String> {
    if let Some(p) = cx.const_ints(v) {
        let begins = p.iter().step_by(2);
        let ends = p.iter().skip(1).step_by(2);
        let pads: Vec<i64> = begins.chain(ends).copied().collect();
        return Ok(cx.i64s(&pads));
    }
    let p = cx.as_i64(v)?;
    let t = cx.op("Transpose", &[&p], vec![("perm", A::Ints(vec![1, 0]))])?;
    let flat = cx.i64s(&[-1]);
    cx.op("Reshape", &[&t, &flat], vec![])
}

fn pad(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let p = pads(cx, &ins[1])?;
    let mut inputs = vec![Some(ins[0].clone()), Some(p)];
    if let Some(v) = ins.get(2) {
        inputs.push(Some(v.clone()));
    }
    cx.emit("Pad", inputs, 1, vec![])
}

fn mirror_pad(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    match cx.str(n, "mode", "")? {
        "REFLECT" => {
            let p = pads(cx, &ins[1])?;
            Ok(vec![cx.op("Pad", &[&ins[0], &p], vec![("mode", A::String("reflect".into()))])?])
        }
        "SYMMETRIC" => {
            let p = cx.ints_of(n, &ins[1], "paddings")?;
            let mut x = ins[0].clone();
            for (axis, be) in p.chunks(2).enumerate() {
                let (b, e) = (be.first().copied().unwrap_or(0), be.get(1).copied().unwrap_or(0));
                let mut parts = Vec::new();
                let ax = cx.i64s(&[axis as i64]);
                let step = cx.i64s(&[-1]);
                if b > 0 {
                    // x[b-1::-1] along the axis.
                    let (s, t) = (cx.i64s(&[b - 1]), cx.i64s(&[i64::MIN]));
                    parts.push(cx.op("Slice", &[&x, &s, &t, &ax, &step], vec![])?);
                }
                parts.push(x.clone());
                if e > 0 {
                    // x[:-e-1:-1]: the last e, reversed.
                    let (s, t) = (cx.i64s(&[-1]), cx.i64s(&[-1 - e]));
                    parts.push(cx.op("Slice", &[&x, &s, &t, &ax, &step], vec![])?);
                }
                if parts.len() > 1 {
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    x = cx.op("Concat", &refs, vec![("axis", A::Int(axis as i64))])?;
                }
            }
            Ok(vec![x])
        }
        m => Err(cx.bad(n, format!("mode '{m}' is not REFLECT or SYMMETRIC"))),
    }
}

fn slice(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (begin, size) = (cx.const_ints(&ins[1]), cx.const_ints(&ins[2]));
    let (starts, ends, rank) = match (begin, size) {
        (Some(b), Some(s)) if b.len() == s.len() => {
            let ends: Vec<i64> =
                b.iter().zip(&s).map(|(&b, &s)| if s == -1 { i64::MAX } else { b.saturating_add(s) }).collect();
            (cx.i64s(&b), cx.i64s(&ends), b.len())
        }
        _ => {
            let b = cx.as_i64(&ins[1])?;
            let s = cx.as_i64(&ins[2])?;
            let minus1 = cx.i64s(&[-1]);
            let all = cx.op("Equal", &[&s, &minus1], vec![])?;
            let max = cx.i64s(&[i64::MAX]);
            let end = cx.op("Add", &[&b, &s], vec![])?;
            let ends = cx.op("Where", &[&all, &max, &end], vec![])?;
            // The begin vector's declared length is the number of sliced
            // axes: a size from the file, so checked against the input.
            let rank = cx.shape(&b).and_then(|s| s.dims().first()?.fixed()).unwrap_or(0);
            let input_rank = cx.shape(&ins[0]).map_or(MAX_AXES, |s| s.rank() as u64);
            if rank > input_rank {
                return Err(cx.bad(n, format!("slices {rank} axes of an input of rank {input_rank}")));
            }
            (b, ends, rank as usize)
        }
    };
    let axes: Vec<i64> = (0..rank as i64).collect();
    let axes = cx.i64s(&axes);
    Ok(vec![cx.op("Slice", &[&ins[0], &starts, &ends, &axes], vec![])?])
}

/// One entry of a `StridedSlice` spec, expanded over the input's axes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    /// A new size-1 axis in the output.
    NewAxis,
    /// Spec entry `i` slices input axis `d`.
    Range { i: usize, d: usize },
    /// Spec entry `i` takes one element of input axis `d`, dropping it.
    Shrink { i: usize, d: usize },
    /// Input axis `d` kept whole (covered by the ellipsis, or past the spec).
    Full,
}

/// The dense spec of a `StridedSlice` with `n` entries over a rank-`rank` input.
fn dense_spec(n: usize, rank: usize, masks: [i64; 3]) -> Option<Vec<Entry>> {
    let [ellipsis, new_axis, shrink] = masks;
    let bit = |m: i64, i: usize| i < 64 && (m >> i) & 1 == 1;
    let first_ellipsis = (0..n).find(|&i| bit(ellipsis, i));
    let consumed = (0..n).filter(|&i| Some(i) != first_ellipsis && !bit(new_axis, i)).count();
    let mut entries = Vec::new();
    let mut d = 0;
    for i in 0..n {
        if Some(i) == first_ellipsis {
            for _ in 0..rank.checked_sub(consumed)? {
                entries.push(Entry::Full);
                d += 1;
            }
        } else if bit(new_axis, i) {
            entries.push(Entry::NewAxis);
        } else if bit(shrink, i) {
            entries.push(Entry::Shrink { i, d });
            d += 1;
        } else {
            entries.push(Entry::Range { i, d });
            d += 1;
        }
    }
    if d > rank {
        return None;
    }
    entries.extend(std::iter::repeat_n(Entry::Full, rank - d));
    Some(entries)
}

fn strided_slice(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let strides = cx.ints_of(n, &ins[3], "strides")?;
    let rank = cx.rank_of(n, &ins[0])?;
    let mask = |name: &str| cx.int(n, name, 0);
    let (begin_mask, end_mask) = (mask("begin_mask")?, mask("end_mask")?);
    let masks = [mask("ellipsis_mask")?, mask("new_axis_mask")?, mask("shrink_axis_mask")?];
    let entries = dense_spec(strides.len(), rank, masks)
        .ok_or_else(|| cx.bad(n, format!("the slice spec has more entries than the input's {rank} axes")))?;
    let bit = |m: i64, i: usize| i < 64 && (m >> i) & 1 == 1;
    // Per sliced axis: (spec entry, input axis, step, begin masked, end masked, shrink).
    let mut sliced = Vec::new();
    for e in &entries {
        match *e {
            Entry::Range { i, d } => {
                // `dense_spec` numbers entries below `strides.len()`.
                let stride = strides.get(i).copied().unwrap_or(0);
                if stride == 0 {
                    return Err(cx.bad(n, "a stride is 0"));
                }
                sliced.push((i, d, stride, bit(begin_mask, i), bit(end_mask, i), false));
            }
            Entry::Shrink { i, d } => sliced.push((i, d, 1, false, false, true)),
            Entry::NewAxis | Entry::Full => {}
        }
    }
    let default_begin = |step: i64| if step > 0 { 0 } else { i64::MAX };
    let default_end = |step: i64| if step > 0 { i64::MAX } else { i64::MIN };
    let mut x = ins[0].clone();
    if !sliced.is_empty() {
        let axes: Vec<i64> = sliced.iter().map(|s| s.1 as i64).collect();
        let steps: Vec<i64> = sliced.iter().map(|s| s.2).collect();
        let (starts, ends) = match (cx.const_ints(&ins[1]), cx.const_ints(&ins[2])) {
            (Some(b), Some(e)) if b.len() == strides.len() && e.len() == strides.len() => {
                let mut starts = Vec::new();
                let mut ends = Vec::new();
                for &(i, _, step, bm, em, shrink) in &sliced {
                    // `i` is below `strides.len()`, which both lengths equal.
                    let (bi, ei) = (b.get(i).copied().unwrap_or(0), e.get(i).copied().unwrap_or(0));
                    starts.push(if bm { default_begin(step) } else { bi });
                    ends.push(if shrink {
                        if bi == -1 { i64::MAX } else { bi.saturating_add(1) }
                    } else if em {
                        default_end(step)
                    } else {
                        ei
                    });
                }
                (cx.i64s(&starts), cx.i64s(&ends))
            }
            _ => dynamic_bounds(cx, ins, &sliced, default_begin, default_end)?,
        };
        let (axes, steps) = (cx.i64s(&axes), cx.i64s(&steps));
        x = cx.op("Slice", &[&x, &starts, &ends, &axes, &steps], vec![])?;
    }
    let shrunk: Vec<i64> = sliced.iter().filter(|s| s.5).map(|s| s.1 as i64).collect();
    if !shrunk.is_empty() {
        let axes = cx.i64s(&shrunk);
        x = cx.op("Squeeze", &[&x, &axes], vec![])?;
    }
    let mut new_axes = Vec::new();
    let mut pos = 0i64;
    for e in &entries {
        match e {
            Entry::NewAxis => {
                new_axes.push(pos);
                pos += 1;
            }
            Entry::Shrink { .. } => {}
            Entry::Range { .. } | Entry::Full => pos += 1,
        }
    }
    if !new_axes.is_empty() {
        let axes = cx.i64s(&new_axes);
        x = cx.op("Unsqueeze", &[&x, &axes], vec![])?;
    }
    if x == ins[0] {
        x = cx.op("Identity", &[&x], vec![])?;
    }
    Ok(vec![x])
}

type Sliced = (usize, usize, i64, bool, bool, bool);

/// Slice starts and ends gathered from computed `begin`/`end` vectors, with
/// the masked entries replaced by their defaults.
fn dynamic_bounds(
    cx: &mut Cx<'_>,
    ins: Ins<'_>,
    sliced: &[Sliced],
    default_begin: impl Fn(i64) -> i64,
    default_end: impl Fn(i64) -> i64,
) -> Result<(String, String)> {
    let k = sliced.len();
    let idx: Vec<i64> = sliced.iter().map(|s| s.0 as i64).collect();
    let idx = cx.i64s(&idx);
    let b = cx.as_i64(&ins[1])?;
    let e = cx.as_i64(&ins[2])?;
    let b = cx.op("Gather", &[&b, &idx], vec![("axis", A::Int(0))])?;
    let e = cx.op("Gather", &[&e, &idx], vec![("axis", A::Int(0))])?;
    let vector =
        |cx: &mut Cx<'_>, v: Vec<bool>| -> Result<String> { Ok(cx.constant(Tensor::from_bools(vec![k], &v)?)) };
    let begin_masked = vector(cx, sliced.iter().map(|s| s.3).collect())?;
    let end_masked = vector(cx, sliced.iter().map(|s| s.4).collect())?;
    let shrink = vector(cx, sliced.iter().map(|s| s.5).collect())?;
    let db: Vec<i64> = sliced.iter().map(|s| default_begin(s.2)).collect();
    let de: Vec<i64> = sliced.iter().map(|s| default_end(s.2)).collect();
    let (db, de) = (cx.i64s(&db), cx.i64s(&de));
    let starts = cx.op("Where", &[&begin_masked, &db, &b], vec![])?;
    // A shrunk axis takes [b, b + 1); b = -1 is the last element, whose end is "past the end".
    let (one, minus1, max) = (cx.i64s(&[1]), cx.i64s(&[-1]), cx.i64s(&[i64::MAX]));
    let next = cx.op("Add", &[&b, &one], vec![])?;
    let is_last = cx.op("Equal", &[&b, &minus1], vec![])?;
    let shrink_end = cx.op("Where", &[&is_last, &max, &next], vec![])?;
    let ends = cx.op("Where", &[&end_masked, &de, &e], vec![])?;
    let ends = cx.op("Where", &[&shrink, &shrink_end, &ends], vec![])?;
    Ok((starts, ends))
}

fn range(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(vec![cx.op("Range", &[&ins[0], &ins[1], &ins[2]], vec![])?])
}

fn no_op(_: &mut Cx<'_>, _: &TfNode, _: Ins<'_>) -> Result<Vec<String>> {
    Ok(Vec::new())
}

const ONE: Ports = Ports::exactly(1);
const TWO: Ports = Ports::exactly(2);

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("BroadcastArgs", TWO, "Concat + Equal + Where (+ Cast)", broadcast_args)
        .notes("folded when both shapes are known; lengths unknown: Shape of an Expanded byte"),
    Rule::new("BroadcastTo", TWO, "Expand", broadcast_to),
    Rule::new("CheckNumerics", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("ConcatV2", Ports::at_least(2), "Concat", concat).notes("constant axis"),
    Rule::new("EnsureShape", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("ExpandDims", TWO, "Unsqueeze", expand_dims),
    Rule::new("Fill", TWO, "Expand", fill),
    Rule::new("Gather", TWO, "Gather", gather),
    Rule::new("GatherNd", TWO, "GatherND", gather_nd),
    Rule::new("GatherV2", Ports::exactly(3), "Gather", gather)
        .notes("constant axis; `batch_dims` > 0 (axis = batch_dims) as one Gather over merged batch rows"),
    Rule::new("Identity", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("IdentityN", Ports::at_least(0), "(none)", pass_through).notes("passes its inputs through"),
    Rule::new("MirrorPad", TWO, "Pad / Slice + Concat", mirror_pad)
        .notes("REFLECT: `Pad` reflect; SYMMETRIC (constant paddings): reversed slices concatenated"),
    Rule::new("NoOp", Ports::at_least(0), "(none)", no_op).notes("no outputs"),
    Rule::new("OneHot", Ports::exactly(4), "Where + Concat + OneHot", one_hot)
        .notes("`axis`; negative indices give all-off rows, as TF"),
    Rule::new("OnesLike", ONE, "Shape + Expand", filled_like),
    Rule::new("Pack", Ports::at_least(1), "Unsqueeze + Concat", pack).notes("`axis`"),
    Rule::new("Pad", TWO, "Pad", pad),
    Rule::new("PadV2", Ports::exactly(3), "Pad", pad).notes("`constant_values`"),
    Rule::new("PlaceholderWithDefault", ONE, "(none)", pass_through).notes("its default, unless it is a model input"),
    Rule::new("PreventGradient", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("Range", Ports::exactly(3), "Range", range),
    Rule::new("Rank", ONE, "Shape + Size + Cast", rank),
    Rule::new("Reshape", TWO, "Reshape", reshape).notes("`allowzero` unless the target is a constant without 0"),
    Rule::new("ReverseSequence", TWO, "ReverseSequence (+ Transposes)", reverse_sequence)
        .notes("`seq_dim`, `batch_dim`: any two axes (others transposed to 0 and 1)"),
    Rule::new("Shape", ONE, "Shape (+ Cast)", shape).notes("`out_type` (default i32)"),
    Rule::new("Size", ONE, "Size (+ Cast)", size).notes("`out_type` (default i32)"),
    Rule::new("Slice", Ports::exactly(3), "Slice", slice).notes("size -1 is \"to the end\""),
    Rule::new("Snapshot", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("Split", TWO, "Split", split).notes("`num_split`, constant axis"),
    Rule::new("SplitV", Ports::exactly(3), "Split", split).notes("constant sizes (one may be -1), constant axis"),
    Rule::new("Squeeze", ONE, "Squeeze", squeeze).notes("`squeeze_dims` (empty: every size-1 axis)"),
    Rule::new("StopGradient", ONE, "(none)", pass_through).notes("passes its input through"),
    Rule::new("StridedSlice", Ports::exactly(4), "Slice + Squeeze + Unsqueeze", strided_slice)
        .notes("every mask; constant strides; begin/end may be computed"),
    Rule::new("TensorScatterAdd", Ports::exactly(3), "ScatterND", tensor_scatter).notes("reduction add"),
    Rule::new("TensorScatterMax", Ports::exactly(3), "ScatterND", tensor_scatter).notes("reduction max").since(18),
    Rule::new("TensorScatterMin", Ports::exactly(3), "ScatterND", tensor_scatter).notes("reduction min").since(18),
    Rule::new("TensorScatterSub", Ports::exactly(3), "Sub + ScatterND", tensor_scatter)
        .notes("reduction add of `0 - updates`"),
    Rule::new("TensorScatterUpdate", Ports::exactly(3), "ScatterND", tensor_scatter),
    Rule::new("Tile", TWO, "Tile", tile),
    Rule::new("Transpose", TWO, "Transpose", transpose).notes("constant permutation"),
    Rule::new("Unpack", ONE, "Split + Squeeze", unpack).notes("`num`, `axis`"),
    Rule::new("Where", ONE, "NonZero + Transpose", where_).notes("coordinates as rows, `i64`"),
    Rule::new("ZerosLike", ONE, "Shape + Expand", filled_like),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_spec_expands_ellipsis_and_new_axes() {
        use Entry::*;
        // x[..., 1:2] on rank 3: two full axes, then a range on axis 2.
        assert_eq!(dense_spec(2, 3, [1, 0, 0]).unwrap(), [Full, Full, Range { i: 1, d: 2 }]);
        // x[tf.newaxis, 0] on rank 2: new axis, shrink axis 0, axis 1 whole.
        assert_eq!(dense_spec(2, 2, [0, 1, 2]).unwrap(), [NewAxis, Shrink { i: 1, d: 0 }, Full]);
        // More spec entries than axes.
        assert!(dense_spec(3, 2, [0, 0, 0]).is_none());
    }
}
