//! Shape and layout ops: Identity, Constant, Reshape, Transpose, Flatten,
//! Squeeze, Unsqueeze, Concat, Split, Slice, Expand, Tile, Pad, Shape, Size,
//! Range, ConstantOfShape, EyeLike, DepthToSpace, SpaceToDepth,
//! CenterCropPad and Trilu. They move elements without computing on them,
//! so (except Range and EyeLike) they accept every dtype.
//!
//! Opset history that changes behavior here:
//! - Squeeze/Unsqueeze take `axes` as an attribute before 13, as an input after.
//! - Split takes `split` as an attribute before 13, as an input after;
//!   `num_outputs` (uneven last chunk allowed) arrives in 18.
//! - Slice takes `starts`/`ends`/`axes` as attributes before 10 (no steps),
//!   as inputs (with `steps`) after.
//! - Pad takes `pads`/`value` as attributes before 11, inputs after; the
//!   `axes` input arrives in 18, `wrap` mode in 19.
//! - Reshape gains `allowzero` in 14; Shape gains `start`/`end` in 15.
//! - Range gains `stash_type` in 27 (f16/bf16 accumulate in f32 or f64);
//!   SpaceToDepth gains `mode` in 28.

use half::{bf16, f16};
use ir::DType;
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use crate::registry::OpRegistry;
use crate::{Ctx, Error, Result, Tensor, Value, bail, map_any, util};

pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Identity", identity);
    r.add("Constant", constant);
    r.add("Reshape", reshape);
    r.add("Transpose", transpose);
    r.add("Flatten", flatten);
    r.add("Squeeze", squeeze);
    r.add("Unsqueeze", unsqueeze);
    r.add("Concat", concat);
    r.add("Split", split);
    r.add("Slice", slice);
    r.add("Expand", expand);
    r.add("Tile", tile);
    r.add("Pad", pad);
    r.add("Shape", shape);
    r.add("Size", size);
    r.add("Range", range);
    r.add("ConstantOfShape", constant_of_shape);
    r.add("EyeLike", eye_like);
    r.add("DepthToSpace", depth_to_space);
    r.add("SpaceToDepth", space_to_depth);
    r.add("CenterCropPad", center_crop_pad);
    r.add("Trilu", trilu);
}

// ---------------------------------------------------------------------------
// Helpers shared with `index.rs`.

/// Upper bound on the elements of a tensor these ops create from values
/// (shapes, repeats, pads, ranges): larger requests are errors, not aborts.
pub(super) const MAX_ELEMENTS: usize = 1 << 31;

/// The element count of `shape`, or an error if it overflows or exceeds [`MAX_ELEMENTS`].
pub(super) fn checked_numel(shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Ok(0);
    }
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| Error::op(format!("output shape {shape:?} is too large")))
}

/// One output.
pub(super) fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Tensor(t)])
}

/// An owned copy in standard (row-major) layout, whatever the view's strides.
pub(super) fn standard<T: Clone>(v: ArrayViewD<'_, T>) -> ArrayD<T> {
    if v.ndim() <= 1 || v.is_standard_layout() {
        return v.as_standard_layout().into_owned();
    }
    // Copying lane by lane keeps the inner loop on a 1-D view, several times
    // faster than ndarray's element-wise n-D iteration.
    let mut out = Vec::with_capacity(v.len());
    for lane in v.lanes(Axis(v.ndim() - 1)) {
        out.extend(lane.iter().cloned());
    }
    match ArrayD::from_shape_vec(v.raw_dim(), out) {
        Ok(a) => a,
        Err(_) => v.as_standard_layout().into_owned(),
    }
}

/// Row-major strides (in elements) of `shape`.
pub(super) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// `a` with its axes permuted (`perm[i]` is the input axis of output axis
/// `i`), copied to row-major layout. When the input's innermost axis moves,
/// the copy goes in square tiles so that reads and writes both stay in cache.
pub(super) fn permute<T: Clone>(a: &ArrayD<T>, perm: &[usize]) -> ArrayD<T> {
    const TILE: usize = 32;
    let view = a.view().permuted_axes(IxDyn(perm));
    let n = perm.len();
    let q = n.saturating_sub(1);
    let Some(p) = perm.iter().position(|&x| x + 1 == n) else { return standard(view) };
    let src = a.as_standard_layout();
    let (Some(src), Some(first)) = (src.as_slice(), a.iter().next()) else { return standard(view) };
    let dims: Vec<usize> = perm.iter().map(|&i| a.shape()[i]).collect();
    if p == q || dims[p] < 2 || dims[q] < 2 {
        return standard(view);
    }
    let in_st = strides(a.shape());
    let st: Vec<usize> = perm.iter().map(|&i| in_st[i]).collect();
    let ost = strides(&dims);
    let mut out = vec![first.clone(); src.len()];
    let others: Vec<usize> = (0..n).filter(|&d| d != p && d != q).collect();
    let count: usize = others.iter().map(|&d| dims[d]).product();
    let mut pos = vec![0usize; others.len()];
    let (mut ib, mut ob) = (0usize, 0usize);
    for _ in 0..count {
        for p0 in (0..dims[p]).step_by(TILE) {
            for q0 in (0..dims[q]).step_by(TILE) {
                for ip in p0..(p0 + TILE).min(dims[p]) {
                    // The input's innermost axis (stride 1) is output axis p.
                    let (i0, o0) = (ib + ip, ob + ip * ost[p]);
                    for iq in q0..(q0 + TILE).min(dims[q]) {
                        out[o0 + iq] = src[i0 + iq * st[q]].clone();
                    }
                }
            }
        }
        for (k, &d) in others.iter().enumerate().rev() {
            pos[k] += 1;
            if pos[k] < dims[d] {
                ib += st[d];
                ob += ost[d];
                break;
            }
            ib -= st[d] * (dims[d] - 1);
            ob -= ost[d] * (dims[d] - 1);
            pos[k] = 0;
        }
    }
    match ArrayD::from_shape_vec(IxDyn(&dims), out) {
        Ok(o) => o,
        Err(_) => standard(view),
    }
}

/// Gives an owned array another shape of equal size, copying only when its
/// layout is not row-major.
pub(super) fn reshape_owned<T: Clone>(a: ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    let a = if a.is_standard_layout() { a } else { standard(a.view()) };
    a.into_shape_with_order(IxDyn(shape)).map_err(|e| Error::op(format!("cannot reshape to {shape:?}: {e}")))
}

/// `x` with another shape of equal size (a row-major copy).
pub(super) fn reshaped(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(x.len()) {
        bail!("cannot reshape {:?} ({} elements) to {shape:?}", x.shape(), x.len());
    }
    Ok(map_any!(x, a => reshape_owned(standard(a.view()), shape)?))
}

/// Normalizes a possibly negative index into an axis of length `dim`; out of
/// range is an error.
pub(super) fn norm_index(i: i64, dim: usize) -> Result<usize> {
    let d = dim as i64;
    let j = if i < 0 { i + d } else { i };
    if j < 0 || j >= d {
        bail!("index {i} is out of range for an axis of size {dim}");
    }
    Ok(j as usize)
}

/// Matches `$var` in each of `$ts` (the list of [`map_list!`]) or fails.
macro_rules! list_arm {
    ($ts:ident, $first:ident, $var:ident, $v:ident, $e:expr) => {{
        let mut $v = Vec::with_capacity($ts.len());
        for t in $ts {
            match t {
                $crate::Tensor::$var(a) => $v.push(a),
                other => $crate::bail!("inputs must share one type, got {} and {}", $first.dtype(), other.dtype()),
            }
        }
        $crate::Tensor::$var($e)
    }};
}
pub(super) use list_arm;

/// Applies `$e` to the arrays of tensors that must share one element type,
/// given as `$v: Vec<&ArrayD<T>>`, rewrapping the result in that type.
/// Fails (returns from the enclosing function) on an empty list or mixed types.
macro_rules! map_list {
    ($ts:expr, $v:ident => $e:expr) => {{
        let ts: &[&$crate::Tensor] = $ts;
        let Some(first) = ts.first() else { $crate::bail!("no tensors given") };
        match first {
            $crate::Tensor::F32(_) => $crate::ops::shape::list_arm!(ts, first, F32, $v, $e),
            $crate::Tensor::F64(_) => $crate::ops::shape::list_arm!(ts, first, F64, $v, $e),
            $crate::Tensor::F16(_) => $crate::ops::shape::list_arm!(ts, first, F16, $v, $e),
            $crate::Tensor::BF16(_) => $crate::ops::shape::list_arm!(ts, first, BF16, $v, $e),
            $crate::Tensor::I8(_) => $crate::ops::shape::list_arm!(ts, first, I8, $v, $e),
            $crate::Tensor::I16(_) => $crate::ops::shape::list_arm!(ts, first, I16, $v, $e),
            $crate::Tensor::I32(_) => $crate::ops::shape::list_arm!(ts, first, I32, $v, $e),
            $crate::Tensor::I64(_) => $crate::ops::shape::list_arm!(ts, first, I64, $v, $e),
            $crate::Tensor::U8(_) => $crate::ops::shape::list_arm!(ts, first, U8, $v, $e),
            $crate::Tensor::U16(_) => $crate::ops::shape::list_arm!(ts, first, U16, $v, $e),
            $crate::Tensor::U32(_) => $crate::ops::shape::list_arm!(ts, first, U32, $v, $e),
            $crate::Tensor::U64(_) => $crate::ops::shape::list_arm!(ts, first, U64, $v, $e),
            $crate::Tensor::Bool(_) => $crate::ops::shape::list_arm!(ts, first, Bool, $v, $e),
            $crate::Tensor::Str(_) => $crate::ops::shape::list_arm!(ts, first, Str, $v, $e),
            $crate::Tensor::I4(_) => $crate::ops::shape::list_arm!(ts, first, I4, $v, $e),
            $crate::Tensor::U4(_) => $crate::ops::shape::list_arm!(ts, first, U4, $v, $e),
            $crate::Tensor::I2(_) => $crate::ops::shape::list_arm!(ts, first, I2, $v, $e),
            $crate::Tensor::U2(_) => $crate::ops::shape::list_arm!(ts, first, U2, $v, $e),
            $crate::Tensor::C64(_) => $crate::ops::shape::list_arm!(ts, first, C64, $v, $e),
            $crate::Tensor::C128(_) => $crate::ops::shape::list_arm!(ts, first, C128, $v, $e),
            $crate::Tensor::F8(d, _) => {
                let mut $v = Vec::with_capacity(ts.len());
                for t in ts {
                    match t {
                        $crate::Tensor::F8(d2, a) if d2 == d => $v.push(a),
                        other => {
                            $crate::bail!("inputs must share one type, got {} and {}", first.dtype(), other.dtype())
                        }
                    }
                }
                $crate::Tensor::F8(*d, $e)
            }
        }
    }};
}
pub(super) use map_list;

/// A 0-d tensor of `dtype` holding `v` (converted like a C cast).
pub(super) fn scalar_of(dtype: DType, v: f64) -> Result<Tensor> {
    fn s<T: Clone>(v: T) -> ArrayD<T> {
        ArrayD::from_elem(IxDyn(&[]), v)
    }
    Ok(match dtype {
        DType::F32 => Tensor::F32(s(v as f32)),
        DType::F64 => Tensor::F64(s(v)),
        DType::F16 => Tensor::F16(s(f16::from_f64(v))),
        DType::BF16 => Tensor::BF16(s(bf16::from_f64(v))),
        DType::I8 => Tensor::I8(s(v as i8)),
        DType::I16 => Tensor::I16(s(v as i16)),
        DType::I32 => Tensor::I32(s(v as i32)),
        DType::I64 => Tensor::I64(s(v as i64)),
        DType::U8 => Tensor::U8(s(v as u8)),
        DType::U16 => Tensor::U16(s(v as u16)),
        DType::U32 => Tensor::U32(s(v as u32)),
        DType::U64 => Tensor::U64(s(v as u64)),
        DType::Bool => Tensor::Bool(s(v != 0.0)),
        DType::I4 => Tensor::I4(s((v as i8).clamp(-8, 7))),
        DType::U4 => Tensor::U4(s((v as u8).min(15))),
        d => bail!("cannot make a {d} value from the number {v}"),
    })
}

/// An integer list given as a tensor (shapes, axes, pads).
fn ints_of(t: &Tensor) -> Result<Vec<i64>> {
    t.to_i64_vec()
}

/// Axes from the attribute (before `input_since`) or from input `i` (after).
fn axes_arg(ctx: &Ctx<'_>, inputs: &[Option<&Value>], i: usize, input_since: i64) -> Result<Option<Vec<i64>>> {
    if ctx.opset >= input_since { ctx.opt_input(inputs, i)?.map(ints_of).transpose() } else { ctx.ints("axes") }
}

// ---------------------------------------------------------------------------
// Ops.

/// Identity: passes any value (tensor, sequence, optional) through.
fn identity(_ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    match inputs.first().copied().flatten() {
        Some(v) => Ok(vec![v.clone()]),
        None => bail!("required input 0 is missing"),
    }
}

/// Constant: exactly one of `value`, `sparse_value` and the `value_*` attributes.
fn constant(ctx: &Ctx<'_>, _inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    use ir::Attribute as A;
    let names = [
        "value",
        "sparse_value",
        "value_float",
        "value_floats",
        "value_int",
        "value_ints",
        "value_string",
        "value_strings",
    ];
    let present: Vec<&str> = names.iter().copied().filter(|n| ctx.node.attr(n).is_some()).collect();
    let [name] = present.as_slice() else {
        bail!("exactly one value attribute must be set, found {present:?}");
    };
    let Some(attr) = ctx.node.attr(name) else { bail!("attribute '{name}' vanished") };
    let vec1 = |n: usize| vec![n];
    let t = match (*name, attr) {
        ("value", A::Tensor(t)) => crate::from_ir(t)?,
        ("sparse_value", A::SparseTensor(s)) => sparse_to_dense(s)?,
        ("value_float", A::Float(v)) => Tensor::F32(ArrayD::from_elem(IxDyn(&[]), *v)),
        ("value_floats", A::Floats(v)) => Tensor::F32(crate::array(&vec1(v.len()), v.clone())?),
        ("value_int", A::Int(v)) => Tensor::I64(ArrayD::from_elem(IxDyn(&[]), *v)),
        ("value_ints", A::Ints(v)) => Tensor::I64(crate::array(&vec1(v.len()), v.clone())?),
        ("value_string", A::String(v)) => Tensor::Str(ArrayD::from_elem(IxDyn(&[]), v.clone())),
        ("value_strings", A::Strings(v)) => Tensor::Str(crate::array(&vec1(v.len()), v.clone())?),
        (n, a) => bail!("attribute '{n}' has the wrong kind ({:?})", a.kind()),
    };
    one(t)
}

/// Densifies a COO sparse tensor (indices `[NNZ, rank]` or linear `[NNZ]`).
fn sparse_to_dense(s: &ir::SparseTensor) -> Result<Tensor> {
    let values = crate::from_ir(&s.values)?;
    let idx = ints_of(&crate::from_ir(&s.indices)?)?;
    let dims = &s.dims;
    let total = checked_numel(dims)?;
    let nnz = values.len();
    let linear: Vec<usize> = if idx.len() == nnz && s.indices.shape().len() <= 1 {
        let bad = idx.iter().find(|&&i| i < 0 || i as usize >= total);
        if let Some(i) = bad {
            bail!("sparse index {i} is out of range for shape {dims:?}");
        }
        idx.iter().map(|&i| i as usize).collect()
    } else if idx.len() == nnz * dims.len() {
        let mut out = Vec::with_capacity(nnz);
        for coord in idx.chunks(dims.len().max(1)) {
            let mut off = 0usize;
            for (&c, &d) in coord.iter().zip(dims) {
                if c < 0 || c as usize >= d {
                    bail!("sparse index {coord:?} is out of range for shape {dims:?}");
                }
                off = off * d + c as usize;
            }
            out.push(off);
        }
        out
    } else {
        bail!("sparse indices of shape {:?} do not fit {nnz} values of rank {}", s.indices.shape(), dims.len());
    };
    Ok(map_any!(&values, v => scatter_dense(v, &linear, dims)?))
}

/// A default-filled array of `dims` with `values[i]` at flat offset `at[i]`.
fn scatter_dense<T: Clone + Default>(values: &ArrayD<T>, at: &[usize], dims: &[usize]) -> Result<ArrayD<T>> {
    let mut out = vec![T::default(); checked_numel(dims)?];
    for (&o, x) in at.iter().zip(values.iter()) {
        if let Some(slot) = out.get_mut(o) {
            slot.clone_from(x);
        }
    }
    crate::array(dims, out)
}

/// The output shape of Reshape: `0` copies the input dim (unless `allowzero`),
/// `-1` is inferred.
fn reshape_dims(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        out.push(match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            -1 => bail!("shape {spec:?} has more than one -1"),
            0 if allowzero => 0,
            0 => match input.get(i) {
                Some(&n) => n,
                None => bail!("shape {spec:?} copies dim {i} (0) but the input {input:?} has no such dim"),
            },
            d if d < 0 => bail!("invalid dimension {d} in shape {spec:?}"),
            d => d as usize,
        });
    }
    if let Some(i) = infer {
        let known = out.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        match known {
            Some(k) if k > 0 && total.is_multiple_of(k) => out[i] = total / k,
            _ => bail!("cannot infer the -1 in shape {spec:?} for input {input:?}"),
        }
    }
    if out.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(total) {
        bail!("cannot reshape {input:?} ({total} elements) to {spec:?}");
    }
    Ok(out)
}

/// Reshape (shape as input since opset 5; `allowzero` since 14).
fn reshape(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let spec = ints_of(ctx.input(inputs, 1)?)?;
    let allowzero = ctx.opset >= 14 && ctx.int("allowzero", 0)? != 0;
    let shape = reshape_dims(x.shape(), &spec, allowzero)?;
    one(reshaped(x, &shape)?)
}

/// Transpose (`perm` defaults to reversing the axes).
fn transpose(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank();
    let perm: Vec<usize> = match ctx.ints("perm")? {
        Some(p) => {
            let p = util::axes(&p, rank)?;
            if p.len() != rank {
                bail!("perm {p:?} does not list the {rank} axes of the input");
            }
            p
        }
        None => (0..rank).rev().collect(),
    };
    one(map_any!(x, a => permute(a, &perm)))
}

/// Flatten to 2-D at `axis` (negative axes since opset 11).
fn flatten(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank() as i64;
    let a = ctx.int("axis", 1)?;
    let a = if a < 0 { a + rank } else { a };
    if !(0..=rank).contains(&a) {
        bail!("axis {a} is out of range for rank {rank}");
    }
    let (outer, inner) = x.shape().split_at(a as usize);
    one(reshaped(x, &[outer.iter().product(), inner.iter().product()])?)
}

/// Squeeze (axes attribute before opset 13, input after; none: every 1-dim).
fn squeeze(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = x.shape();
    let out: Vec<usize> = match axes_arg(ctx, inputs, 1, 13)? {
        Some(axes) => {
            let axes = util::axes(&axes, shape.len())?;
            for &a in &axes {
                if shape.get(a) != Some(&1) {
                    bail!("cannot squeeze axis {a} of shape {shape:?}: its size is not 1");
                }
            }
            shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
        }
        None => shape.iter().copied().filter(|&d| d != 1).collect(),
    };
    one(reshaped(x, &out)?)
}

/// Unsqueeze (axes attribute before opset 13, input after; axes index the output).
fn unsqueeze(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let Some(axes) = axes_arg(ctx, inputs, 1, 13)? else { bail!("axes are required") };
    let rank = x.rank() + axes.len();
    let axes = util::axes(&axes, rank)?;
    let mut dims = x.shape().iter();
    let out: Vec<usize> =
        (0..rank).map(|i| if axes.contains(&i) { 1 } else { dims.next().copied().unwrap_or(1) }).collect();
    one(reshaped(x, &out)?)
}

/// Concat along `axis` (negative since opset 11); all inputs share type and rank.
fn concat(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let ts: Vec<&Tensor> = (0..inputs.len()).map(|i| ctx.input(inputs, i)).collect::<Result<_>>()?;
    let Some(first) = ts.first() else { bail!("Concat needs at least one input") };
    let rank = first.rank();
    if rank == 0 {
        bail!("cannot concatenate scalars");
    }
    let axis = util::axis(ctx.int("axis", 1)?, rank)?;
    for t in &ts {
        let (a, b) = (t.shape(), first.shape());
        if a.len() != rank || a.iter().zip(b).enumerate().any(|(i, (x, y))| i != axis && x != y) {
            bail!("cannot concatenate shapes {b:?} and {a:?} on axis {axis}");
        }
    }
    one(map_list!(&ts, v => {
        let views: Vec<_> = v.iter().map(|a| a.view()).collect();
        ndarray::concatenate(Axis(axis), &views).map_err(|e| Error::op(format!("concat: {e}")))?
    }))
}

/// Split along `axis` into the node's outputs: sizes from `split` (attribute
/// before opset 13, input after) or equal chunks, the last one smaller when
/// the axis does not divide (opset 18's `num_outputs` rule).
fn split(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis = util::axis(ctx.int("axis", 0)?, x.rank())?;
    if x.rank() == 0 {
        bail!("cannot split a scalar");
    }
    let dim = x.shape()[axis];
    let n_out = ctx.node.outputs.len();
    let given = if ctx.opset >= 13 { ctx.opt_input(inputs, 1)?.map(ints_of).transpose()? } else { ctx.ints("split")? };
    let sizes: Vec<usize> = match given.filter(|s| !s.is_empty()) {
        Some(s) => {
            let s = util::dims(&s)?;
            if s.len() != n_out || s.iter().sum::<usize>() != dim {
                bail!("split {s:?} does not cut an axis of size {dim} into {n_out} outputs");
            }
            s
        }
        None => {
            let n = if ctx.opset >= 18 { ctx.int("num_outputs", n_out as i64)? } else { n_out as i64 };
            if n < 1 || n as usize != n_out {
                bail!("num_outputs {n} does not match the node's {n_out} outputs");
            }
            let n = n as usize;
            let chunk = dim.div_ceil(n);
            let Some(last) = dim.checked_sub(chunk * (n - 1)) else {
                bail!("an axis of size {dim} cannot be split into {n} chunks of {chunk}");
            };
            let mut s = vec![chunk; n - 1];
            s.push(last);
            s
        }
    };
    let mut out = Vec::with_capacity(sizes.len());
    let mut pos = 0;
    for s in sizes {
        let sl = Slice::from(pos..pos + s);
        out.push(Value::Tensor(map_any!(x, a => standard(a.slice_axis(Axis(axis), sl)))));
        pos += s;
    }
    Ok(out)
}

/// The ndarray slice selecting what ONNX's (numpy's) `start:end:step`
/// selects on an axis of length `dim`, with ONNX's clamping.
fn slice_spec(start: i64, end: i64, step: i64, dim: usize) -> Result<Slice> {
    if step == 0 {
        bail!("slice step cannot be 0");
    }
    let d = dim as i64;
    let fix = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (s, e) = (fix(start), fix(end));
    // Any |step| beyond the axis length selects one element; capping keeps
    // ndarray's stride arithmetic far from overflow.
    let step = step.clamp(-d.max(1), d.max(1)) as isize;
    let empty = Slice::new(0, Some(0), 1);
    if step > 0 {
        let s = s.clamp(0, d);
        let e = e.clamp(0, d).max(s);
        Ok(Slice::new(s as isize, Some(e as isize), step))
    } else {
        if d == 0 {
            return Ok(empty);
        }
        let s = s.clamp(0, d - 1);
        let e = e.clamp(-1, d - 1);
        if s <= e {
            return Ok(empty);
        }
        // ndarray walks a negative-step range from its end backwards.
        Ok(Slice::new((e + 1) as isize, Some((s + 1) as isize), step))
    }
}

/// Slice (attributes before opset 10, inputs with optional axes/steps after).
fn slice(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank();
    let (starts, ends, axes, steps) = if ctx.opset < 10 {
        let Some(s) = ctx.ints("starts")? else { bail!("attribute 'starts' is required") };
        let Some(e) = ctx.ints("ends")? else { bail!("attribute 'ends' is required") };
        (s, e, ctx.ints("axes")?, None)
    } else {
        let s = ints_of(ctx.input(inputs, 1)?)?;
        let e = ints_of(ctx.input(inputs, 2)?)?;
        let a = ctx.opt_input(inputs, 3)?.map(ints_of).transpose()?;
        let st = ctx.opt_input(inputs, 4)?.map(ints_of).transpose()?;
        (s, e, a, st)
    };
    let axes = match axes {
        Some(a) => util::axes(&a, rank)?,
        None => (0..starts.len()).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        bail!(
            "starts, ends, axes and steps differ in length ({}, {}, {}, {})",
            starts.len(),
            ends.len(),
            axes.len(),
            steps.len()
        );
    }
    let mut specs = vec![Slice::from(..); rank];
    for i in 0..starts.len() {
        let a = axes[i];
        if a >= rank {
            bail!("axis {a} is out of range for rank {rank}");
        }
        specs[a] = slice_spec(starts[i], ends[i], steps[i], x.shape()[a])?;
    }
    one(map_any!(x, a => standard(a.slice_each_axis(|d| specs[d.axis.index()]))))
}

/// Expand: bidirectional broadcast of the input with `shape`.
fn expand(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = util::dims(&ints_of(ctx.input(inputs, 1)?)?)?;
    let out = util::broadcast_shapes(x.shape(), &shape)?;
    checked_numel(&out)?;
    one(map_any!(x, a => standard(util::broadcast_view(a, &out)?)))
}

/// Tile: repeats the input `repeats[i]` times along each axis.
fn tile(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let reps = util::dims(&ints_of(ctx.input(inputs, 1)?)?)?;
    if reps.len() != x.rank() {
        bail!("repeats {reps:?} must have one entry per input axis (rank {})", x.rank());
    }
    let out_shape: Vec<usize> = x.shape().iter().zip(&reps).map(|(&d, &r)| d.saturating_mul(r)).collect();
    checked_numel(&out_shape)?;
    one(map_any!(x, a => tile_array(a, &reps, &out_shape)?))
}

fn tile_array<T: Clone>(a: &ArrayD<T>, reps: &[usize], out_shape: &[usize]) -> Result<ArrayD<T>> {
    if out_shape.contains(&0) {
        return crate::array(out_shape, Vec::new());
    }
    let mut cur = standard(a.view());
    for (axis, &r) in reps.iter().enumerate() {
        if r > 1 {
            // Broadcast a new axis of size r in front of `axis`, copy, merge the two.
            let mut wide = cur.shape().to_vec();
            wide.insert(axis, r);
            let v = cur.view().insert_axis(Axis(axis));
            let Some(b) = v.broadcast(IxDyn(&wide)) else { bail!("tile: cannot broadcast to {wide:?}") };
            let copied = standard(b);
            let mut merged = cur.shape().to_vec();
            merged[axis] *= r;
            cur = reshape_owned(copied, &merged)?;
        }
    }
    Ok(cur)
}

/// Pad modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

/// Pad (pads/value attributes before opset 11, inputs after; axes input
/// since 18). Negative pads crop.
fn pad(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank();
    let mode = match ctx.string("mode", "constant")?.as_str() {
        "constant" => PadMode::Constant,
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        "wrap" => PadMode::Wrap,
        m => bail!("unknown pad mode '{m}'"),
    };
    let (raw, value, axes) = if ctx.opset < 11 {
        let Some(p) = ctx.ints("pads")? else { bail!("attribute 'pads' is required") };
        let v = f64::from(ctx.float("value", 0.0)?);
        // Zero is T::default() for every type, strings included.
        let value = if v == 0.0 { None } else { Some(scalar_of(x.dtype(), v)?) };
        (p, value, None)
    } else {
        let p = ints_of(ctx.input(inputs, 1)?)?;
        let v = ctx.opt_input(inputs, 2)?.filter(|t| !t.is_empty()).cloned();
        let axes = if ctx.opset >= 18 { ctx.opt_input(inputs, 3)?.map(ints_of).transpose()? } else { None };
        (p, v, axes)
    };
    let axes = match axes {
        Some(a) => util::axes(&a, rank)?,
        None => (0..rank).collect(),
    };
    if raw.len() != 2 * axes.len() {
        bail!("pads {raw:?} must have two entries per padded axis ({} axes)", axes.len());
    }
    let mut pads = vec![(0i64, 0i64); rank];
    for (i, &a) in axes.iter().enumerate() {
        pads[a] = (raw[i], raw[i + axes.len()]);
    }
    let out = match &value {
        Some(v) => {
            if v.len() != 1 {
                bail!("constant_value must be a single value, got shape {:?}", v.shape());
            }
            map_list!(&[x, v], t => {
                let fill = t[1].iter().next().cloned().unwrap_or_default();
                pad_array(t[0], &pads, mode, fill)?
            })
        }
        None => map_any!(x, a => pad_array(a, &pads, mode, Default::default())?),
    };
    one(out)
}

/// Pads (or, for negative amounts, crops) each axis of `a`.
fn pad_array<T: Clone>(a: &ArrayD<T>, pads: &[(i64, i64)], mode: PadMode, fill: T) -> Result<ArrayD<T>> {
    // Crop first, then pad what remains.
    let mut crops = Vec::with_capacity(pads.len());
    let mut shape = Vec::with_capacity(pads.len());
    for (&(b, e), &n) in pads.iter().zip(a.shape()) {
        let (cb, ce) = (b.saturating_neg().max(0) as u64, e.saturating_neg().max(0) as u64);
        if cb + ce > n as u64 {
            bail!("pads {pads:?} crop more than the input shape {:?}", a.shape());
        }
        let (cb, ce) = (cb as usize, ce as usize);
        crops.push(Slice::from(cb..n - ce));
        let inner = n - cb - ce;
        let (pb, pe) = (b.max(0) as u64, e.max(0) as u64);
        let len = (inner as u64).saturating_add(pb).saturating_add(pe);
        shape.push(usize::try_from(len).map_err(|_| Error::op("padded shape is too large"))?);
    }
    checked_numel(&shape)?;
    let view = a.slice_each_axis(|d| crops[d.axis.index()]);
    if mode == PadMode::Constant {
        let mut out = ArrayD::from_elem(IxDyn(&shape), fill);
        out.slice_each_axis_mut(|d| {
            let b = pads[d.axis.index()].0.max(0) as usize;
            Slice::from(b..b + view.len_of(d.axis))
        })
        .assign(&view);
        return Ok(out);
    }
    let mut cur: Option<ArrayD<T>> = None;
    for (axis, &(b, e)) in pads.iter().enumerate() {
        let (pb, pe) = (b.max(0) as usize, e.max(0) as usize);
        if pb == 0 && pe == 0 {
            continue;
        }
        let n = view.len_of(Axis(axis)) as i64;
        if n == 0 {
            bail!("cannot pad an empty axis in {mode:?} mode");
        }
        let src = |j: i64| -> usize {
            let k = match mode {
                PadMode::Edge => j.clamp(0, n - 1),
                PadMode::Wrap => j.rem_euclid(n),
                _ if n == 1 => 0,
                _ => {
                    let period = 2 * (n - 1);
                    let r = j.rem_euclid(period);
                    if r >= n { period - r } else { r }
                }
            };
            k as usize
        };
        let idx: Vec<usize> = (-(pb as i64)..n + pe as i64).map(src).collect();
        let next = match &cur {
            Some(c) => c.select(Axis(axis), &idx),
            None => view.select(Axis(axis), &idx),
        };
        cur = Some(next);
    }
    // `select` may leave a column-major layout behind.
    Ok(match cur {
        Some(c) if c.is_standard_layout() => c,
        Some(c) => standard(c.view()),
        None => standard(view),
    })
}

/// Shape (`start`/`end` since opset 15, clamped to the rank).
fn shape(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let r = x.rank() as i64;
    let (mut s, mut e) = (0, r);
    if ctx.opset >= 15 {
        let fix = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r);
        s = fix(ctx.int("start", 0)?);
        e = fix(ctx.int("end", r)?);
    }
    let dims: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    let part = if s < e { dims[s as usize..e as usize].to_vec() } else { Vec::new() };
    one(Tensor::i64(&[part.len()], part)?)
}

/// Size: the element count as an i64 scalar.
fn size(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    one(Tensor::i64(&[], vec![x.len() as i64])?)
}

/// Range: `start + i * delta` for `i < max(ceil((limit - start) / delta), 0)`.
/// Floats are computed in f64 and rounded once; f16/bf16 through the
/// `stash_type` (opset 27: f32 or f64, the same values either way here).
fn range(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let ts = [ctx.input(inputs, 0)?, ctx.input(inputs, 1)?, ctx.input(inputs, 2)?];
    for (t, name) in ts.iter().zip(["start", "limit", "delta"]) {
        if t.len() != 1 {
            bail!("{name} must be a scalar, got shape {:?}", t.shape());
        }
        if t.dtype() != ts[0].dtype() {
            bail!("start, limit and delta must share one type, got {} and {}", ts[0].dtype(), t.dtype());
        }
    }
    let dtype = ts[0].dtype();
    if dtype.is_int() {
        let [s, l, d] = [ts[0].scalar_i64()?, ts[1].scalar_i64()?, ts[2].scalar_i64()?];
        if d == 0 {
            bail!("delta cannot be 0");
        }
        let (span, d128) = (i128::from(l) - i128::from(s), i128::from(d));
        let n = (span / d128 + i128::from(span % d128 != 0 && (span < 0) == (d128 < 0))).max(0);
        let n = usize::try_from(n).ok().filter(|&n| n <= MAX_ELEMENTS);
        let Some(n) = n else { bail!("range of {s}..{l} by {d} is too long") };
        let vals = (0..n as i64).map(|i| s.wrapping_add(i.wrapping_mul(d)));
        let t = Tensor::I64(crate::array(&[n], vals.collect())?);
        return one(match dtype {
            DType::I64 => t,
            DType::I32 => Tensor::I32(crate::array(&[n], t.to_i64_vec()?.into_iter().map(|v| v as i32).collect())?),
            DType::I16 => Tensor::I16(crate::array(&[n], t.to_i64_vec()?.into_iter().map(|v| v as i16).collect())?),
            d => bail!("Range does not support {d}"),
        });
    }
    let [s, l, d] = [ts[0].scalar_f64()?, ts[1].scalar_f64()?, ts[2].scalar_f64()?];
    if d == 0.0 || !d.is_finite() || !s.is_finite() || !l.is_finite() {
        bail!("cannot make a range from {s} to {l} by {d}");
    }
    let n = ((l - s) / d).ceil().max(0.0);
    if n > MAX_ELEMENTS as f64 {
        bail!("range of {s}..{l} by {d} is too long");
    }
    let vals = (0..n as usize).map(|i| s + i as f64 * d);
    let n = n as usize;
    one(match dtype {
        DType::F64 => Tensor::F64(crate::array(&[n], vals.collect())?),
        DType::F32 => Tensor::F32(crate::array(&[n], vals.map(|v| v as f32).collect())?),
        DType::F16 => Tensor::F16(crate::array(&[n], vals.map(f16::from_f64).collect())?),
        DType::BF16 => Tensor::BF16(crate::array(&[n], vals.map(bf16::from_f64).collect())?),
        d => bail!("Range does not support {d}"),
    })
}

/// ConstantOfShape: the `value` attribute's single element (default f32 0) repeated.
fn constant_of_shape(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let shape = util::dims(&ints_of(ctx.input(inputs, 0)?)?)?;
    checked_numel(&shape)?;
    let value = ctx.tensor_attr("value")?.unwrap_or_else(|| Tensor::F32(ArrayD::from_elem(IxDyn(&[]), 0.0)));
    if value.len() != 1 {
        bail!("value must hold one element, got shape {:?}", value.shape());
    }
    one(map_any!(&value, v => filled(v, &shape)?))
}

/// An array of `shape` filled with the first element of `v`.
fn filled<T: Clone>(v: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    match v.iter().next() {
        Some(e) => Ok(ArrayD::from_elem(IxDyn(shape), e.clone())),
        None => bail!("the fill value is empty"),
    }
}

/// EyeLike: ones on the `k`-th diagonal of a 2-D tensor shaped like the
/// input, of type `dtype` (default: the input's).
fn eye_like(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let &[rows, cols] = x.shape() else { bail!("EyeLike needs a 2-D input, got shape {:?}", x.shape()) };
    let dtype = match ctx.node.attr("dtype") {
        Some(_) => super::cast::dtype_from_code(ctx.int("dtype", 1)?)?,
        None => x.dtype(),
    };
    let k = ctx.int("k", 0)?;
    let (zero, unit) = (scalar_of(dtype, 0.0)?, scalar_of(dtype, 1.0)?);
    one(map_list!(&[&zero, &unit], v => eye(v[0], v[1], rows, cols, k)?))
}

/// A `rows × cols` array of `zero` with `unit` on diagonal `k`.
fn eye<T: Clone>(zero: &ArrayD<T>, unit: &ArrayD<T>, rows: usize, cols: usize, k: i64) -> Result<ArrayD<T>> {
    let mut out = filled(zero, &[rows, cols])?;
    let Some(o) = unit.iter().next() else { bail!("the fill value is empty") };
    for r in 0..rows as i64 {
        let c = r.saturating_add(k);
        if (0..cols as i64).contains(&c) {
            out[[r as usize, c as usize]] = o.clone();
        }
    }
    Ok(out)
}

/// Reshape to `tmp`, permute, reshape to `out` (the block rearrangements).
fn rearrange(x: &Tensor, tmp: &[usize], perm: &[usize], out: &[usize]) -> Result<Tensor> {
    Ok(map_any!(x, a => {
        let v = reshape_owned(standard(a.view()), tmp)?;
        reshape_owned(permute(&v, perm), out)?
    }))
}

/// The `[N, C, H, W]` of a 4-D input and the validated `blocksize`.
fn nchw_block(ctx: &Ctx<'_>, x: &Tensor) -> Result<([usize; 4], usize)> {
    let &[n, c, h, w] = x.shape() else { bail!("expected a 4-D input, got shape {:?}", x.shape()) };
    let b = ctx.int("blocksize", 0)?;
    if b < 1 {
        bail!("blocksize must be positive, got {b}");
    }
    Ok(([n, c, h, w], b as usize))
}

/// DepthToSpace in DCR (default) or CRD mode.
fn depth_to_space(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let ([n, c, h, w], b) = nchw_block(ctx, x)?;
    let bb = b.saturating_mul(b);
    if !c.is_multiple_of(bb) {
        bail!("channels {c} are not divisible by blocksize² {bb}");
    }
    let out = [n, c / bb, h.saturating_mul(b), w.saturating_mul(b)];
    one(match ctx.string("mode", "DCR")?.as_str() {
        "DCR" => rearrange(x, &[n, b, b, c / bb, h, w], &[0, 3, 4, 1, 5, 2], &out)?,
        "CRD" => rearrange(x, &[n, c / bb, b, b, h, w], &[0, 1, 4, 2, 5, 3], &out)?,
        m => bail!("unknown mode '{m}'"),
    })
}

/// SpaceToDepth (DCR; CRD mode since opset 28).
fn space_to_depth(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let ([n, c, h, w], b) = nchw_block(ctx, x)?;
    if !h.is_multiple_of(b) || !w.is_multiple_of(b) {
        bail!("height {h} and width {w} must be divisible by blocksize {b}");
    }
    let tmp = [n, c, h / b, b, w / b, b];
    let out = [n, c.saturating_mul(b).saturating_mul(b), h / b, w / b];
    one(match ctx.string("mode", "DCR")?.as_str() {
        "DCR" => rearrange(x, &tmp, &[0, 3, 5, 1, 2, 4], &out)?,
        "CRD" => rearrange(x, &tmp, &[0, 1, 3, 5, 2, 4], &out)?,
        m => bail!("unknown mode '{m}'"),
    })
}

/// CenterCropPad: crops or zero-pads the chosen axes around their centers.
fn center_crop_pad(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let target = util::dims(&ints_of(ctx.input(inputs, 1)?)?)?;
    let rank = x.rank();
    let axes = match ctx.ints("axes")? {
        Some(a) => util::axes(&a, rank)?,
        None => (0..rank).collect(),
    };
    if target.len() != axes.len() {
        bail!("shape {target:?} must have one entry per axis ({} axes)", axes.len());
    }
    let mut out_shape = x.shape().to_vec();
    let mut src = vec![Slice::from(..); rank];
    let mut dst = vec![Slice::from(..); rank];
    for (&a, &t) in axes.iter().zip(&target) {
        let d = x.shape()[a];
        out_shape[a] = t;
        // The odd extra element goes to the end, as in onnx's reference.
        if t < d {
            let off = (d - t) / 2;
            src[a] = Slice::from(off..off + t);
        } else if t > d {
            let off = (t - d) / 2;
            dst[a] = Slice::from(off..off + d);
        }
    }
    checked_numel(&out_shape)?;
    one(map_any!(x, a => {
        let mut out = ArrayD::from_elem(IxDyn(&out_shape), Default::default());
        out.slice_each_axis_mut(|d| dst[d.axis.index()]).assign(&a.slice_each_axis(|d| src[d.axis.index()]));
        out
    }))
}

/// Trilu: keeps the upper (default) or lower triangle of the last two axes,
/// offset by the optional `k` input; zeroes the rest.
fn trilu(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let k = match ctx.opt_input(inputs, 1)? {
        Some(t) => t.scalar_i64()?,
        None => 0,
    };
    let upper = ctx.int("upper", 1)? != 0;
    let &[.., rows, cols] = x.shape() else { bail!("Trilu needs rank >= 2, got shape {:?}", x.shape()) };
    one(map_any!(x, a => {
        let mut out = standard(a.view());
        if let Some(data) = out.as_slice_mut() {
            for m in data.chunks_mut((rows * cols).max(1)) {
                for (i, row) in m.chunks_mut(cols.max(1)).enumerate() {
                    for (j, v) in row.iter_mut().enumerate() {
                        let diff = j as i64 - i as i64;
                        if (upper && diff < k) || (!upper && diff > k) {
                            *v = Default::default();
                        }
                    }
                }
            }
        }
        out
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs one node of `op` at `opset` on tensors fed as `x0, x1, ...`
    /// (`None`: input omitted) and returns its outputs.
    pub(crate) fn run_node(node: ir::Node, opset: i64, inputs: Vec<Option<Tensor>>) -> Result<Vec<Value>> {
        let mut node = node;
        let mut feeds = Vec::new();
        let mut g = ir::Graph::default();
        node.inputs = inputs
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                t.map(|t| {
                    let name = format!("x{i}");
                    g.inputs.push(ir::ValueInfo::untyped(name.clone()));
                    feeds.push((name.clone(), Value::Tensor(t)));
                    name
                })
            })
            .collect();
        if node.outputs.is_empty() {
            node.outputs = vec!["y".into()];
        }
        g.outputs = node.outputs.iter().map(|o| ir::ValueInfo::untyped(o.clone())).collect();
        g.nodes.push(node);
        let mut m = ir::Model::new(g);
        m.opset_imports.insert(String::new(), opset);
        Ok(crate::run(&m, feeds)?.into_iter().map(|(_, v)| v).collect())
    }

    /// Like [`run_node`] with every input present, returning the first output's tensor.
    pub(crate) fn run1(node: ir::Node, opset: i64, inputs: Vec<Tensor>) -> Result<Tensor> {
        let out = run_node(node, opset, inputs.into_iter().map(Some).collect())?;
        match out.into_iter().next() {
            Some(v) => v.into_tensor(),
            None => bail!("no output"),
        }
    }

    pub(crate) fn node(op: &str) -> ir::Node {
        ir::Node::new(op, Vec::<String>::new(), ["y"])
    }

    pub(crate) fn f32t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::F32(crate::array(shape, v.to_vec()).unwrap())
    }

    pub(crate) fn i64t(shape: &[usize], v: &[i64]) -> Tensor {
        Tensor::I64(crate::array(shape, v.to_vec()).unwrap())
    }

    pub(crate) fn strt(shape: &[usize], v: &[&str]) -> Tensor {
        Tensor::Str(crate::array(shape, v.iter().map(|s| s.to_string()).collect()).unwrap())
    }

    fn iota(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>();
        f32t(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
    }

    #[test]
    fn reshape_transpose_slice_keep_i64_and_strings() {
        // Reshape [2,3] -> [3,-1].
        let x = i64t(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let y = run1(node("Reshape"), 17, vec![x.clone(), i64t(&[2], &[3, -1])]).unwrap();
        assert_eq!(y, i64t(&[3, 2], &[1, 2, 3, 4, 5, 6]));
        let s = strt(&[2, 3], &["a", "b", "c", "d", "e", "f"]);
        let y = run1(node("Reshape"), 17, vec![s.clone(), i64t(&[2], &[0, -1])]).unwrap();
        assert_eq!(y, s);
        // Transpose (default perm).
        let y = run1(node("Transpose"), 17, vec![x.clone()]).unwrap();
        assert_eq!(y, i64t(&[3, 2], &[1, 4, 2, 5, 3, 6]));
        let y = run1(node("Transpose"), 17, vec![s.clone()]).unwrap();
        assert_eq!(y, strt(&[3, 2], &["a", "d", "b", "e", "c", "f"]));
        // Slice with a negative step: x[:, ::-2].
        let args = |t: Tensor| vec![t, i64t(&[1], &[-1]), i64t(&[1], &[i64::MIN]), i64t(&[1], &[1]), i64t(&[1], &[-2])];
        assert_eq!(run1(node("Slice"), 13, args(x)).unwrap(), i64t(&[2, 2], &[3, 1, 6, 4]));
        assert_eq!(run1(node("Slice"), 13, args(s)).unwrap(), strt(&[2, 2], &["c", "a", "f", "d"]));
    }

    #[test]
    fn permute_matches_ndarray() {
        let x = ArrayD::from_shape_vec(IxDyn(&[3, 40, 35, 2]), (0..8400).collect::<Vec<i32>>()).unwrap();
        for perm in [[0, 1, 2, 3], [3, 2, 1, 0], [0, 3, 1, 2], [1, 3, 0, 2], [2, 0, 3, 1], [0, 2, 1, 3]] {
            let want = x.view().permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned();
            assert_eq!(permute(&x, &perm), want, "{perm:?}");
        }
        let s = x.mapv(|v| v.to_string());
        let want = s.view().permuted_axes(IxDyn(&[3, 1, 2, 0])).as_standard_layout().into_owned();
        assert_eq!(permute(&s, &[3, 1, 2, 0]), want);
    }

    #[test]
    fn huge_or_bad_requests_are_errors() {
        let x = iota(&[2, 3]);
        let big = i64::MAX;
        assert!(run1(node("Tile"), 13, vec![x.clone(), i64t(&[2], &[big, big])]).is_err());
        assert!(run1(node("Tile"), 13, vec![x.clone(), i64t(&[2], &[-1, 1])]).is_err());
        assert!(run1(node("Expand"), 13, vec![x.clone(), i64t(&[3], &[big, 2, 3])]).is_err());
        assert!(run1(node("ConstantOfShape"), 13, vec![i64t(&[3], &[1 << 40, 1 << 40, 4])]).is_err());
        assert!(run1(node("Range"), 13, vec![i64t(&[], &[0]), i64t(&[], &[big]), i64t(&[], &[1])]).is_err());
        let r = vec![f32t(&[], &[0.]), f32t(&[], &[1.]), f32t(&[], &[1e-30])];
        assert!(run1(node("Range"), 13, r).is_err());
        assert!(run1(node("Pad"), 13, vec![x.clone(), i64t(&[4], &[big, 0, 0, 0])]).is_err());
        assert!(run1(node("Pad"), 13, vec![x.clone(), i64t(&[4], &[i64::MIN, 0, 0, 0])]).is_err());
        assert!(
            run1(node("Pad").with_attr("mode", "reflect"), 13, vec![iota(&[0, 2]), i64t(&[4], &[1, 0, 0, 0])]).is_err()
        );
        let steps = [i64::MIN, i64::MAX];
        for st in steps {
            let args =
                vec![x.clone(), i64t(&[1], &[big]), i64t(&[1], &[i64::MIN]), i64t(&[1], &[1]), i64t(&[1], &[st])];
            assert!(run1(node("Slice"), 13, args).is_ok());
        }
        let args = vec![x.clone(), i64t(&[1], &[0]), i64t(&[1], &[1]), i64t(&[1], &[0]), i64t(&[1], &[0])];
        assert!(run1(node("Slice"), 13, args).is_err());
        assert!(
            run1(node("Slice"), 13, vec![x.clone(), i64t(&[1], &[0]), i64t(&[1], &[1]), i64t(&[1], &[2])]).is_err()
        );
        assert!(run1(node("Transpose").with_attr("perm", vec![0i64, 0]), 13, vec![x.clone()]).is_err());
        assert!(run1(node("Reshape"), 13, vec![x.clone(), i64t(&[2], &[big, big])]).is_err());
        // Empty inputs with absurd block sizes: any outcome but a panic.
        let n = node("SpaceToDepth").with_attr("blocksize", 1i64 << 40);
        let _ = run1(n, 13, vec![iota(&[1, 1, 0, 0])]);
        let n = node("DepthToSpace").with_attr("blocksize", 1i64 << 40);
        let _ = run1(n, 13, vec![iota(&[1, 0, 1, 1])]);
        assert!(run1(node("Concat").with_attr("axis", 2i64), 13, vec![x.clone(), x.clone()]).is_err());
        let n = ir::Node::new("Split", Vec::<String>::new(), ["a", "b"]);
        assert!(run_node(n, 13, vec![Some(x.clone()), Some(i64t(&[2], &[1, 2]))]).is_err());
        assert!(run1(node("Squeeze"), 13, vec![x.clone(), i64t(&[1], &[5])]).is_err());
        assert!(run1(node("Unsqueeze"), 13, vec![x.clone(), i64t(&[2], &[0, 0])]).is_err());
        assert!(run1(node("CenterCropPad"), 18, vec![x, i64t(&[2], &[big, 1])]).is_err());
    }

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape_dims(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert_eq!(reshape_dims(&[0, 3], &[3, 0], true).unwrap(), vec![3, 0]);
        assert!(reshape_dims(&[2, 3], &[-1, -1], false).is_err());
        assert!(reshape_dims(&[2, 3], &[4, -1], false).is_err());
        assert!(reshape_dims(&[2, 3], &[7], false).is_err());
        assert!(reshape_dims(&[0, 3], &[0, -1], true).is_err());
    }

    #[test]
    fn slice_clamps_and_old_opset() {
        // numpy: np.arange(20).reshape(4,5)[1:1000, -100:3] -> [[5,6,7],[10,11,12],[15,16,17]]
        let x = iota(&[4, 5]);
        let y = run1(node("Slice"), 13, vec![x.clone(), i64t(&[2], &[1, -100]), i64t(&[2], &[1000, 3])]).unwrap();
        assert_eq!(y, f32t(&[3, 3], &[5., 6., 7., 10., 11., 12., 15., 16., 17.]));
        // Opset 9 attribute form, axes [1]: x[:, 3:1] is empty.
        let n =
            node("Slice").with_attr("starts", vec![3i64]).with_attr("ends", vec![1i64]).with_attr("axes", vec![1i64]);
        assert_eq!(run1(n, 9, vec![x.clone()]).unwrap().shape(), &[4, 0]);
        // Negative step ending before the start: x[3:-7:-1, 4:0:-3] -> [[19,16],[14,11],[9,6],[4,1]]
        let y = run1(
            node("Slice"),
            13,
            vec![x, i64t(&[2], &[3, 4]), i64t(&[2], &[-7, 0]), i64t(&[2], &[0, 1]), i64t(&[2], &[-1, -3])],
        )
        .unwrap();
        assert_eq!(y, f32t(&[4, 2], &[19., 16., 14., 11., 9., 6., 4., 1.]));
    }

    #[test]
    fn squeeze_unsqueeze_flatten() {
        let x = iota(&[1, 3, 1, 2]);
        let y = run1(node("Squeeze"), 17, vec![x.clone()]).unwrap();
        assert_eq!(y.shape(), &[3, 2]);
        let y = run1(node("Squeeze").with_attr("axes", vec![-2i64]), 11, vec![x.clone()]).unwrap();
        assert_eq!(y.shape(), &[1, 3, 2]);
        assert!(run1(node("Squeeze"), 13, vec![x.clone(), i64t(&[1], &[1])]).is_err());
        let y = run1(node("Unsqueeze"), 13, vec![iota(&[3, 4]), i64t(&[2], &[-1, 0])]).unwrap();
        assert_eq!(y.shape(), &[1, 3, 4, 1]);
        let y = run1(node("Unsqueeze").with_attr("axes", vec![1i64]), 11, vec![iota(&[3])]).unwrap();
        assert_eq!(y.shape(), &[3, 1]);
        let y = run1(node("Flatten").with_attr("axis", -1i64), 13, vec![x.clone()]).unwrap();
        assert_eq!(y.shape(), &[3, 2]);
        let y = run1(node("Flatten").with_attr("axis", 0i64), 13, vec![x]).unwrap();
        assert_eq!(y.shape(), &[1, 6]);
    }

    #[test]
    fn concat_and_split() {
        let a = f32t(&[2, 1], &[1., 2.]);
        let b = f32t(&[2, 2], &[3., 4., 5., 6.]);
        let y = run1(node("Concat").with_attr("axis", -1i64), 13, vec![a.clone(), b]).unwrap();
        assert_eq!(y, f32t(&[2, 3], &[1., 3., 4., 2., 5., 6.]));
        assert!(run1(node("Concat").with_attr("axis", 0i64), 13, vec![a, i64t(&[1, 1], &[1])]).is_err());
        // Opset 18 num_outputs=3 on 7 elements: [3, 3, 1].
        let n = ir::Node::new("Split", Vec::<String>::new(), ["a", "b", "c"]).with_attr("num_outputs", 3i64);
        let out = run_node(n, 18, vec![Some(iota(&[7]))]).unwrap();
        let shapes: Vec<_> = out.iter().map(|v| v.tensor().unwrap().shape().to_vec()).collect();
        assert_eq!(shapes, vec![vec![3], vec![3], vec![1]]);
        // Opset 13 split input; opset 11 split attribute.
        let n = ir::Node::new("Split", Vec::<String>::new(), ["a", "b"]).with_attr("axis", 1i64);
        let out = run_node(n.clone(), 13, vec![Some(iota(&[2, 3])), Some(i64t(&[2], &[1, 2]))]).unwrap();
        assert_eq!(out[1].tensor().unwrap(), &f32t(&[2, 2], &[1., 2., 4., 5.]));
        let out = run_node(n.with_attr("split", vec![2i64, 1]), 11, vec![Some(iota(&[2, 3]))]).unwrap();
        assert_eq!(out[1].tensor().unwrap(), &f32t(&[2, 1], &[2., 5.]));
    }

    #[test]
    fn expand_tile() {
        let x = f32t(&[3, 1], &[1., 2., 3.]);
        let y = run1(node("Expand"), 13, vec![x.clone(), i64t(&[3], &[2, 1, 2])]).unwrap();
        assert_eq!(y, f32t(&[2, 3, 2], &[1., 1., 2., 2., 3., 3., 1., 1., 2., 2., 3., 3.]));
        let y = run1(node("Tile"), 13, vec![f32t(&[2, 2], &[0., 1., 2., 3.]), i64t(&[2], &[2, 2])]).unwrap();
        // np.tile([[0,1],[2,3]], (2,2))
        let want = [0., 1., 0., 1., 2., 3., 2., 3., 0., 1., 0., 1., 2., 3., 2., 3.];
        assert_eq!(y, f32t(&[4, 4], &want));
        assert_eq!(run1(node("Tile"), 13, vec![x, i64t(&[2], &[0, 2])]).unwrap().shape(), &[0, 2]);
    }

    #[test]
    fn pad_modes() {
        let x = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let pads = i64t(&[4], &[1, 2, 0, 1]);
        // np.pad(x, ((1, 0), (2, 1)), mode=...) for each mode.
        let cases: [(&str, [f32; 18]); 4] = [
            ("constant", [0., 0., 0., 0., 0., 0., 0., 0., 1., 2., 3., 0., 0., 0., 4., 5., 6., 0.]),
            ("reflect", [6., 5., 4., 5., 6., 5., 3., 2., 1., 2., 3., 2., 6., 5., 4., 5., 6., 5.]),
            ("edge", [1., 1., 1., 2., 3., 3., 1., 1., 1., 2., 3., 3., 4., 4., 4., 5., 6., 6.]),
            ("wrap", [5., 6., 4., 5., 6., 4., 2., 3., 1., 2., 3., 1., 5., 6., 4., 5., 6., 4.]),
        ];
        for (mode, want) in cases {
            let y = run1(node("Pad").with_attr("mode", mode), 19, vec![x.clone(), pads.clone()]).unwrap();
            assert_eq!(y, f32t(&[3, 6], &want), "{mode}");
        }
        let x = f32t(&[3, 2], &[1., 1.2, 2.3, 3.4, 4.5, 5.7]);
        // Constant value input, axes input, cropping.
        let y =
            run1(node("Pad"), 18, vec![x.clone(), i64t(&[2], &[-1, 1]), f32t(&[], &[9.]), i64t(&[1], &[0])]).unwrap();
        assert_eq!(y, f32t(&[3, 2], &[2.3, 3.4, 4.5, 5.7, 9., 9.]));
        // Opset 2 attributes.
        let n = node("Pad").with_attr("pads", vec![1i64, 0, 0, 0]).with_attr("value", 7f32);
        let y = run1(n, 2, vec![f32t(&[1, 1], &[1.])]).unwrap();
        assert_eq!(y, f32t(&[2, 1], &[7., 1.]));
        // Strings pad with "".
        let y = run1(node("Pad"), 13, vec![strt(&[1], &["a"]), i64t(&[2], &[1, 0])]).unwrap();
        assert_eq!(y, strt(&[2], &["", "a"]));
    }

    #[test]
    fn shape_size_range() {
        let x = iota(&[2, 3, 4]);
        assert_eq!(run1(node("Shape"), 13, vec![x.clone()]).unwrap(), i64t(&[3], &[2, 3, 4]));
        let n = node("Shape").with_attr("start", -2i64).with_attr("end", 10i64);
        assert_eq!(run1(n, 15, vec![x.clone()]).unwrap(), i64t(&[2], &[3, 4]));
        assert_eq!(run1(node("Size"), 13, vec![x]).unwrap(), i64t(&[], &[24]));
        let r = |a: Tensor, b: Tensor, c: Tensor| run1(node("Range"), 11, vec![a, b, c]).unwrap();
        assert_eq!(r(i64t(&[], &[10]), i64t(&[], &[4]), i64t(&[], &[-3])), i64t(&[2], &[10, 7]));
        assert_eq!(r(i64t(&[], &[1]), i64t(&[], &[1]), i64t(&[], &[1])), i64t(&[0], &[]));
        // np.arange(1, 5, 1.5, dtype=np.float32) = [1, 2.5, 4]
        let y = r(f32t(&[], &[1.]), f32t(&[], &[5.]), f32t(&[], &[1.5]));
        assert_eq!(y, f32t(&[3], &[1., 2.5, 4.]));
        assert!(run1(node("Range"), 11, vec![i64t(&[], &[0]), i64t(&[], &[5]), i64t(&[], &[0])]).is_err());
    }

    #[test]
    fn constants() {
        let y = run1(node("ConstantOfShape"), 9, vec![i64t(&[2], &[2, 1])]).unwrap();
        assert_eq!(y, f32t(&[2, 1], &[0., 0.]));
        let v = ir::Tensor::from_vec(vec![1], vec![5i64]).unwrap();
        let y = run1(node("ConstantOfShape").with_attr("value", v), 9, vec![i64t(&[0], &[])]).unwrap();
        assert_eq!(y, i64t(&[], &[5]));
        let y = run1(node("Constant").with_attr("value_ints", vec![1i64, 2]), 13, vec![]).unwrap();
        assert_eq!(y, i64t(&[2], &[1, 2]));
        let t = ir::Tensor::from_vec(vec![2], vec![1.5f32, 2.]).unwrap();
        assert_eq!(run1(node("Constant").with_attr("value", t), 9, vec![]).unwrap(), f32t(&[2], &[1.5, 2.]));
        let sparse = ir::SparseTensor {
            values: ir::Tensor::from_vec(vec![2], vec![7i64, 8]).unwrap(),
            indices: ir::Tensor::from_vec(vec![2], vec![1i64, 4]).unwrap(),
            dims: vec![2, 3],
        };
        let n = node("Constant").with_attr("sparse_value", ir::Attribute::SparseTensor(sparse));
        assert_eq!(run1(n, 13, vec![]).unwrap(), i64t(&[2, 3], &[0, 7, 0, 0, 8, 0]));
        let n = node("Constant").with_attr("value_int", 1i64).with_attr("value_float", 1f32);
        assert!(run1(n, 13, vec![]).is_err());
    }

    #[test]
    fn eye_like() {
        // np.eye(3, 4, k=1, dtype=np.int32)
        let n = node("EyeLike").with_attr("k", 1i64).with_attr("dtype", 6i64);
        let y = run1(n, 9, vec![iota(&[3, 4])]).unwrap();
        let want = [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        assert_eq!(y, Tensor::I32(crate::array(&[3, 4], want.to_vec()).unwrap()));
        let y = run1(node("EyeLike").with_attr("k", -1i64), 9, vec![iota(&[2, 2])]).unwrap();
        assert_eq!(y, f32t(&[2, 2], &[0., 0., 1., 0.]));
    }

    #[test]
    fn depth_space() {
        // onnx's depthtospace example, DCR and CRD, x = np.arange(16).reshape(1, 8, 1, 2), blocksize 2.
        let x = iota(&[1, 8, 1, 2]);
        let y = run1(node("DepthToSpace").with_attr("blocksize", 2i64), 13, vec![x.clone()]).unwrap();
        let dcr = [0., 4., 1., 5., 8., 12., 9., 13., 2., 6., 3., 7., 10., 14., 11., 15.];
        assert_eq!(y, f32t(&[1, 2, 2, 4], &dcr));
        let n = node("DepthToSpace").with_attr("blocksize", 2i64).with_attr("mode", "CRD");
        let y = run1(n, 13, vec![x]).unwrap();
        let crd = [0., 2., 1., 3., 4., 6., 5., 7., 8., 10., 9., 11., 12., 14., 13., 15.];
        assert_eq!(y, f32t(&[1, 2, 2, 4], &crd));
        // SpaceToDepth inverts DepthToSpace in the same mode.
        for mode in ["DCR", "CRD"] {
            let z = iota(&[1, 2, 2, 4]);
            let n = node("SpaceToDepth").with_attr("blocksize", 2i64).with_attr("mode", mode);
            let s = run1(n, 28, vec![z.clone()]).unwrap();
            let n = node("DepthToSpace").with_attr("blocksize", 2i64).with_attr("mode", mode);
            assert_eq!(run1(n, 28, vec![s]).unwrap(), z, "{mode}");
        }
    }

    #[test]
    fn center_crop_pad_and_trilu() {
        // Crop 5 -> 2 (offset 1) on axis 0, pad 1 -> 4 (offset 1) on axis 1.
        let x = iota(&[5, 1]);
        let y = run1(node("CenterCropPad"), 18, vec![x, i64t(&[2], &[2, 4])]).unwrap();
        assert_eq!(y, f32t(&[2, 4], &[0., 1., 0., 0., 0., 2., 0., 0.]));
        // np.triu(x, 1) and np.tril(x, -1) for x = arange(9).reshape(3, 3).
        let x = iota(&[3, 3]);
        let y = run1(node("Trilu"), 14, vec![x.clone(), i64t(&[], &[1])]).unwrap();
        assert_eq!(y, f32t(&[3, 3], &[0., 1., 2., 0., 0., 5., 0., 0., 0.]));
        let y = run1(node("Trilu").with_attr("upper", 0i64), 14, vec![x, i64t(&[], &[-1])]).unwrap();
        assert_eq!(y, f32t(&[3, 3], &[0., 0., 0., 3., 0., 0., 6., 7., 0.]));
    }

    #[test]
    fn identity_passes_sequences() {
        let n = node("Identity");
        let y = run1(n, 16, vec![strt(&[1], &["x"])]).unwrap();
        assert_eq!(y, strt(&[1], &["x"]));
        let v = Value::Sequence(vec![Value::Tensor(f32t(&[1], &[1.]))]);
        let out = identity_value(v.clone());
        assert_eq!(out, v);
    }

    fn identity_value(v: Value) -> Value {
        // Identity is pure; call it through a tiny graph would need sequence
        // inputs, which the feed check accepts untyped.
        let mut g = ir::Graph::default();
        g.inputs.push(ir::ValueInfo::untyped("s"));
        g.outputs.push(ir::ValueInfo::untyped("y"));
        g.nodes.push(ir::Node::new("Identity", ["s"], ["y"]));
        let m = ir::Model::new(g);
        crate::run(&m, vec![("s".into(), v)]).unwrap().remove(0).1
    }
}
