//! Indexing ops: Gather, GatherElements, GatherND, ScatterND,
//! ScatterElements, Scatter, NonZero, OneHot, Compress, ReverseSequence and
//! Unique. Data may be of any dtype (strings and bool included); indices
//! may be negative (counted from the end) and out-of-range indices are
//! errors.
//!
//! Opset history that changes behavior here:
//! - GatherND gains `batch_dims` in 12.
//! - ScatterND/ScatterElements gain `reduction` (`add`, `mul`) in 16 and
//!   `max`/`min` in 18; Scatter (9) is the deprecated ScatterElements
//!   without reduction.
//! - Negative indices/axes are allowed from 11 on (accepted everywhere here).

use half::{bf16, f16};
use ndarray::{ArrayD, Axis};

use super::shape::{checked_numel, list_arm, map_list, norm_index, one, reshaped, standard, strides};
use crate::registry::OpRegistry;
use crate::{Ctx, Result, Tensor, Value, bail, map_any, map_ordered, util, with_any};

pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Gather", gather);
    r.add("GatherElements", gather_elements);
    r.add("GatherND", gather_nd);
    r.add("ScatterND", scatter_nd);
    r.add("ScatterElements", scatter_elements);
    r.add("Scatter", scatter_elements);
    r.add("NonZero", non_zero);
    r.add("OneHot", one_hot);
    r.add("Compress", compress);
    r.add("ReverseSequence", reverse_sequence);
    r.add("Unique", unique);
}

/// An integer index tensor's values (row-major).
fn indices(t: &Tensor) -> Result<Vec<i64>> {
    match t {
        Tensor::I64(_) | Tensor::I32(_) => t.to_i64_vec(),
        other => bail!("indices must be int32 or int64, got {}", other.dtype()),
    }
}

/// Calls `f(k, off)` for every position of `shape` in row-major order: `k`
/// is its flat index and `off` the offset of the same coordinates in an
/// array with `strides`, with the coordinate on axis `skip` left out.
fn for_each_offset(
    shape: &[usize],
    strides: &[usize],
    skip: usize,
    mut f: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    let n: usize = shape.iter().product();
    let mut pos = vec![0usize; shape.len()];
    let mut off = 0usize;
    for k in 0..n {
        f(k, off)?;
        for d in (0..shape.len()).rev() {
            pos[d] += 1;
            let st = if d == skip { 0 } else { strides[d] };
            if pos[d] < shape[d] {
                off += st;
                break;
            }
            off -= st * (shape[d] - 1);
            pos[d] = 0;
        }
    }
    Ok(())
}

/// Arithmetic for scatter reductions; integers wrap (never panic), bool
/// add/max is `or` and mul/min is `and` (numpy's bool arithmetic).
trait Arith: Copy {
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
    fn min(self, o: Self) -> Self;
}

macro_rules! arith_int {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn max(self, o: Self) -> Self { Ord::max(self, o) }
            fn min(self, o: Self) -> Self { Ord::min(self, o) }
        }
    )*};
}
arith_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! arith_float {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            fn add(self, o: Self) -> Self { self + o }
            fn mul(self, o: Self) -> Self { self * o }
            // NaN propagates, as numpy's maximum/minimum.
            #[allow(clippy::eq_op)]
            fn max(self, o: Self) -> Self { if self != self || o > self { o } else { self } }
            #[allow(clippy::eq_op)]
            fn min(self, o: Self) -> Self { if self != self || o < self { o } else { self } }
        }
    )*};
}
arith_float!(f32, f64, f16, bf16);

impl Arith for bool {
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn max(self, o: Self) -> Self {
        self | o
    }
    fn min(self, o: Self) -> Self {
        self & o
    }
}

/// Like `map_list!`, for the numeric and bool types that support [`Arith`].
macro_rules! map_list_arith {
    ($ts:expr, $v:ident => $e:expr) => {{
        let ts: &[&Tensor] = $ts;
        let Some(first) = ts.first() else { bail!("no tensors given") };
        match first {
            Tensor::F32(_) => list_arm!(ts, first, F32, $v, $e),
            Tensor::F64(_) => list_arm!(ts, first, F64, $v, $e),
            Tensor::F16(_) => list_arm!(ts, first, F16, $v, $e),
            Tensor::BF16(_) => list_arm!(ts, first, BF16, $v, $e),
            Tensor::I8(_) => list_arm!(ts, first, I8, $v, $e),
            Tensor::I16(_) => list_arm!(ts, first, I16, $v, $e),
            Tensor::I32(_) => list_arm!(ts, first, I32, $v, $e),
            Tensor::I64(_) => list_arm!(ts, first, I64, $v, $e),
            Tensor::U8(_) => list_arm!(ts, first, U8, $v, $e),
            Tensor::U16(_) => list_arm!(ts, first, U16, $v, $e),
            Tensor::U32(_) => list_arm!(ts, first, U32, $v, $e),
            Tensor::U64(_) => list_arm!(ts, first, U64, $v, $e),
            Tensor::Bool(_) => list_arm!(ts, first, Bool, $v, $e),
            other => bail!("reductions are not supported for {}", other.dtype()),
        }
    }};
}

/// A scatter reduction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    fn of(ctx: &Ctx<'_>) -> Result<Self> {
        Ok(match ctx.string("reduction", "none")?.as_str() {
            "none" => Reduction::None,
            "add" => Reduction::Add,
            "mul" => Reduction::Mul,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            r => bail!("unknown reduction '{r}'"),
        })
    }

    fn apply<T: Arith>(self, a: T, b: T) -> T {
        match self {
            Reduction::None => b,
            Reduction::Add => a.add(b),
            Reduction::Mul => a.mul(b),
            Reduction::Max => a.max(b),
            Reduction::Min => a.min(b),
        }
    }
}

/// Gather: takes `indices` entries along `axis`; the output shape is
/// `data[:axis] + indices + data[axis+1:]`.
fn gather(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let data = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let shape = data.shape();
    if shape.is_empty() {
        bail!("cannot gather from a scalar");
    }
    let axis = util::axis(ctx.int("axis", 0)?, shape.len())?;
    let dim = shape[axis];
    let idx: Vec<usize> = indices(ind)?.into_iter().map(|i| norm_index(i, dim)).collect::<Result<_>>()?;
    let out_shape: Vec<usize> = [&shape[..axis], ind.shape(), &shape[axis + 1..]].concat();
    checked_numel(&out_shape)?;
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    one(map_any!(data, a => {
        let a = a.as_standard_layout();
        let Some(s) = a.as_slice() else { bail!("gather: input is not contiguous") };
        let mut out = Vec::with_capacity(outer * idx.len() * inner);
        for o in 0..outer {
            let base = o * dim * inner;
            for &i in &idx {
                out.extend_from_slice(&s[base + i * inner..base + (i + 1) * inner]);
            }
        }
        crate::array(&out_shape, out)?
    }))
}

/// GatherElements: `out[i][j][k] = data[indices[i][j][k]][j][k]` (axis 0),
/// indices of the data's rank and no larger off the axis.
fn gather_elements(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let data = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let (ds, is) = (data.shape(), ind.shape());
    if ds.is_empty() || ds.len() != is.len() {
        bail!("data {ds:?} and indices {is:?} must have the same rank (at least 1)");
    }
    let axis = util::axis(ctx.int("axis", 0)?, ds.len())?;
    if ds.iter().zip(is).enumerate().any(|(d, (a, b))| d != axis && b > a) {
        bail!("indices {is:?} exceed data {ds:?} off axis {axis}");
    }
    let idx = indices(ind)?;
    one(map_any!(data, a => gather_elems(a, is, &idx, axis)?))
}

/// GatherElements on one array: indices of shape `is`, row-major in `idx`.
fn gather_elems<T: Clone>(a: &ArrayD<T>, is: &[usize], idx: &[i64], axis: usize) -> Result<ArrayD<T>> {
    let st = strides(a.shape());
    let dim = a.shape()[axis];
    let a = a.as_standard_layout();
    let Some(s) = a.as_slice() else { bail!("gather: input is not contiguous") };
    let mut out = Vec::with_capacity(idx.len());
    for_each_offset(is, &st, axis, |k, base| {
        out.push(s[base + norm_index(idx[k], dim)? * st[axis]].clone());
        Ok(())
    })?;
    crate::array(is, out)
}

/// The flat offsets addressed by the index tuples of GatherND/ScatterND: the
/// last axis of `ind_shape` (length `k`) indexes `data_shape[b..b+k]`, the
/// first `b` (batch) axes pair up. Returns the offsets and the size of
/// each addressed slice.
fn nd_offsets(data_shape: &[usize], ind_shape: &[usize], idx: &[i64], b: usize) -> Result<(Vec<usize>, usize)> {
    let (r, q) = (data_shape.len(), ind_shape.len());
    let Some(&k) = ind_shape.last() else { bail!("indices must have rank at least 1") };
    if b >= q || b >= r {
        bail!("batch_dims {b} must be less than the ranks of data ({r}) and indices ({q})");
    }
    if k > r - b {
        bail!("index tuples of length {k} are too long for data {data_shape:?} with batch_dims {b}");
    }
    if data_shape[..b] != ind_shape[..b] {
        bail!("batch dims of data {data_shape:?} and indices {ind_shape:?} differ");
    }
    let st = strides(data_shape);
    let inner: usize = data_shape[b + k..].iter().product();
    let batch_stride: usize = data_shape[b..].iter().product();
    let per_batch: usize = ind_shape[b..q - 1].iter().product();
    let tuples: usize = ind_shape[..q - 1].iter().product();
    let mut offs = Vec::with_capacity(tuples);
    for t in 0..tuples {
        let mut off = (t / per_batch.max(1)) * batch_stride;
        for j in 0..k {
            off += norm_index(idx[t * k + j], data_shape[b + j])? * st[b + j];
        }
        offs.push(off);
    }
    Ok((offs, inner))
}

/// GatherND with `batch_dims` (opset 12).
fn gather_nd(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let data = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let b = ctx.int("batch_dims", 0)?;
    let Ok(b) = usize::try_from(b) else { bail!("batch_dims must be non-negative, got {b}") };
    let idx = indices(ind)?;
    let (ds, is) = (data.shape(), ind.shape());
    let (offs, inner) = nd_offsets(ds, is, &idx, b)?;
    let k = is.last().copied().unwrap_or(0);
    let out_shape: Vec<usize> = [&is[..is.len() - 1], &ds[b + k..]].concat();
    checked_numel(&out_shape)?;
    one(map_any!(data, a => {
        let a = a.as_standard_layout();
        let Some(s) = a.as_slice() else { bail!("gather: input is not contiguous") };
        let mut out = Vec::with_capacity(offs.len() * inner);
        for &o in &offs {
            out.extend_from_slice(&s[o..o + inner]);
        }
        crate::array(&out_shape, out)?
    }))
}

/// Plain (no reduction) scatter: the update replaces the element.
fn assign<T: Clone>(d: &mut T, u: &T) {
    d.clone_from(u);
}

/// Copies `data` and combines `updates` into it slice by slice: slice `t`
/// (of `inner` elements) at offset `offs[t]`.
fn scatter_slices<T: Clone>(
    data: &ArrayD<T>,
    updates: &ArrayD<T>,
    offs: &[usize],
    inner: usize,
    f: impl Fn(&mut T, &T),
) -> Result<ArrayD<T>> {
    let mut out = standard(data.view());
    let upd = updates.as_standard_layout();
    let (Some(o), Some(u)) = (out.as_slice_mut(), upd.as_slice()) else { bail!("scatter: not contiguous") };
    for (t, &off) in offs.iter().enumerate() {
        for (d, x) in o[off..off + inner].iter_mut().zip(&u[t * inner..(t + 1) * inner]) {
            f(d, x);
        }
    }
    Ok(out)
}

/// ScatterND with `reduction` (add/mul since opset 16, max/min since 18).
fn scatter_nd(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let data = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let upd = ctx.input(inputs, 2)?;
    let idx = indices(ind)?;
    let (ds, is) = (data.shape(), ind.shape());
    if ds.is_empty() {
        bail!("cannot scatter into a scalar");
    }
    let (offs, inner) = nd_offsets(ds, is, &idx, 0)?;
    let k = is.last().copied().unwrap_or(0);
    let want: Vec<usize> = [&is[..is.len() - 1], &ds[k..]].concat();
    if upd.shape() != want.as_slice() {
        bail!("updates have shape {:?}, expected {want:?}", upd.shape());
    }
    one(match Reduction::of(ctx)? {
        Reduction::None => {
            map_list!(&[data, upd], v => scatter_slices(v[0], v[1], &offs, inner, assign)?)
        }
        r => map_list_arith!(&[data, upd], v => scatter_slices(v[0], v[1], &offs, inner, |d, u| *d = r.apply(*d, *u))?),
    })
}

/// Copies `data` and combines each update element into the element its
/// index addresses along `axis` (ScatterElements).
fn scatter_elems<T: Clone>(
    data: &ArrayD<T>,
    updates: &ArrayD<T>,
    idx: &[i64],
    axis: usize,
    f: impl Fn(&mut T, &T),
) -> Result<ArrayD<T>> {
    let mut out = standard(data.view());
    let st = strides(data.shape());
    let dim = data.shape()[axis];
    let upd = updates.as_standard_layout();
    let (Some(o), Some(u)) = (out.as_slice_mut(), upd.as_slice()) else { bail!("scatter: not contiguous") };
    for_each_offset(upd.shape(), &st, axis, |k, base| {
        f(&mut o[base + norm_index(idx[k], dim)? * st[axis]], &u[k]);
        Ok(())
    })?;
    Ok(out)
}

/// ScatterElements (and the deprecated Scatter) with `reduction`.
fn scatter_elements(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let data = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let upd = ctx.input(inputs, 2)?;
    let (ds, is) = (data.shape(), ind.shape());
    if ds.is_empty() || ds.len() != is.len() || is != upd.shape() {
        bail!(
            "data {ds:?}, indices {is:?} and updates {:?} must share one rank (>= 1), the last two one shape",
            upd.shape()
        );
    }
    let axis = util::axis(ctx.int("axis", 0)?, ds.len())?;
    if ds.iter().zip(is).enumerate().any(|(d, (a, b))| d != axis && b > a) {
        bail!("indices {is:?} exceed data {ds:?} off axis {axis}");
    }
    let idx = indices(ind)?;
    one(match Reduction::of(ctx)? {
        Reduction::None => map_list!(&[data, upd], v => scatter_elems(v[0], v[1], &idx, axis, assign)?),
        r => map_list_arith!(&[data, upd], v => scatter_elems(v[0], v[1], &idx, axis, |d, u| *d = r.apply(*d, *u))?),
    })
}

/// NonZero: the coordinates of the non-zero elements, `[rank, count]`, in row-major order.
fn non_zero(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    if let Tensor::F8(d, _) = x {
        bail!("NonZero does not support {d}");
    }
    // Zero is T::default() for every other type ("" for strings, as numpy).
    let flat: Vec<usize> = with_any!(x, a => nonzero_flat(a));
    let shape = x.shape();
    let st = strides(shape);
    let mut out = Vec::with_capacity(shape.len() * flat.len());
    for (&s, &n) in st.iter().zip(shape) {
        out.extend(flat.iter().map(|&k| ((k / s) % n) as i64));
    }
    one(Tensor::i64(&[shape.len(), flat.len()], out)?)
}

/// Row-major positions of the elements unequal to `T::default()`.
fn nonzero_flat<T: PartialEq + Default>(a: &ArrayD<T>) -> Vec<usize> {
    let zero = T::default();
    a.iter().enumerate().filter(|(_, v)| **v != zero).map(|(i, _)| i).collect()
}

/// OneHot: `values[1]` where the index (negative counts from `depth`) hits,
/// `values[0]` elsewhere, along a new axis of size `depth`.
fn one_hot(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let ind = ctx.input(inputs, 0)?;
    let depth_t = ctx.input(inputs, 1)?;
    let values = ctx.input(inputs, 2)?;
    // Float indices and depth are truncated toward zero, as a C cast.
    let as_ints = |t: &Tensor| -> Result<Vec<i64>> {
        if t.dtype().is_float() {
            Ok(t.to_f64_vec()?.into_iter().map(|v| if v.is_nan() { i64::MIN } else { v as i64 }).collect())
        } else {
            t.to_i64_vec()
        }
    };
    let depth = match as_ints(depth_t)?.as_slice() {
        [d] if *d >= 0 => *d as usize,
        _ => bail!("depth must be a single non-negative value"),
    };
    if values.len() != 2 {
        bail!("values must be [off_value, on_value], got shape {:?}", values.shape());
    }
    let idx = as_ints(ind)?;
    let is = ind.shape();
    let r = is.len() as i64;
    let a = ctx.int("axis", -1)?;
    let a = if a < 0 { a + r + 1 } else { a };
    if !(0..=r).contains(&a) {
        bail!("axis {a} is out of range for indices of rank {r}");
    }
    let a = a as usize;
    let out_shape: Vec<usize> = [&is[..a], &[depth], &is[a..]].concat();
    checked_numel(&out_shape)?;
    let inner: usize = is[a..].iter().product();
    one(map_any!(values, v => one_hot_fill(v, &idx, depth, inner, &out_shape)?))
}

/// The OneHot output for one value type; `inner` is the size of the index
/// axes after the new one.
fn one_hot_fill<T: Clone>(
    values: &ArrayD<T>,
    idx: &[i64],
    depth: usize,
    inner: usize,
    out_shape: &[usize],
) -> Result<ArrayD<T>> {
    let mut it = values.iter().cloned();
    let (Some(off), Some(on)) = (it.next(), it.next()) else { bail!("values must hold two elements") };
    let mut out = vec![off; checked_numel(out_shape)?];
    let d = depth as i64;
    for (k, &i) in idx.iter().enumerate() {
        let j = if i < 0 { i.saturating_add(d) } else { i };
        if (0..d).contains(&j) {
            let (o, p) = (k / inner.max(1), k % inner.max(1));
            out[(o * depth + j as usize) * inner + p] = on.clone();
        }
    }
    crate::array(out_shape, out)
}

/// Compress: keeps the slices along `axis` (or the flattened elements) whose
/// `condition` entry is true; a shorter condition drops the rest.
fn compress(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let Tensor::Bool(cond) = ctx.input(inputs, 1)? else { bail!("condition must be a bool tensor") };
    if cond.ndim() > 1 {
        bail!("condition must be 1-D, got shape {:?}", cond.shape());
    }
    let flat;
    let (src, axis) = match ctx.node.attr("axis") {
        Some(_) => {
            if x.rank() == 0 {
                bail!("cannot compress a scalar along an axis");
            }
            (x, util::axis(ctx.int("axis", 0)?, x.rank())?)
        }
        None => {
            flat = reshaped(x, &[x.len()])?;
            (&flat, 0)
        }
    };
    let dim = src.shape()[axis];
    let sel: Vec<usize> = cond.iter().enumerate().filter(|(_, c)| **c).map(|(i, _)| i).collect();
    if let Some(&last) = sel.last()
        && last >= dim
    {
        bail!("condition selects index {last}, beyond the axis size {dim}");
    }
    one(map_any!(src, a => {
        let s = a.select(Axis(axis), &sel);
        if s.is_standard_layout() { s } else { standard(s.view()) }
    }))
}

/// ReverseSequence: reverses the first `sequence_lens[b]` steps of each batch entry.
fn reverse_sequence(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let lens = ctx.input(inputs, 1)?.to_i64_vec()?;
    let (ba, ta) = (ctx.int("batch_axis", 1)?, ctx.int("time_axis", 0)?);
    if !matches!((ba, ta), (0, 1) | (1, 0)) {
        bail!("batch_axis {ba} and time_axis {ta} must be 0 and 1 in some order");
    }
    if x.rank() < 2 {
        bail!("input must have rank at least 2, got shape {:?}", x.shape());
    }
    let (ba, ta) = (ba as usize, ta as usize);
    let (batch, steps) = (x.shape()[ba], x.shape()[ta]);
    if lens.len() != batch {
        bail!("sequence_lens has {} entries for a batch of {batch}", lens.len());
    }
    for &l in &lens {
        if l < 0 || l as usize > steps {
            bail!("sequence length {l} is out of range for {steps} time steps");
        }
    }
    one(map_any!(x, a => {
        let mut out = standard(a.view());
        for (b, &l) in lens.iter().enumerate() {
            let l = l as usize;
            let src = a.index_axis(Axis(ba), b);
            let mut dst = out.index_axis_mut(Axis(ba), b);
            // With the batch axis removed the time axis is axis 0 either way.
            for t in 0..l {
                dst.index_axis_mut(Axis(0), t).assign(&src.index_axis(Axis(0), l - 1 - t));
            }
        }
        out
    }))
}

/// A total order for sorting: NaN (the only value unequal to itself) is
/// greatest and equal to NaN, as numpy's `unique` treats it.
#[allow(clippy::eq_op)]
fn cmp_total<T: PartialOrd>(a: &T, b: &T) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or_else(|| (a != a).cmp(&(b != b)))
}

/// Unique over `n` items compared by `cmp`: the first index of each group
/// (sorted order or first-occurrence order), each item's group, group sizes.
fn unique_groups(
    n: usize,
    sorted: bool,
    cmp: impl Fn(usize, usize) -> std::cmp::Ordering,
) -> (Vec<usize>, Vec<i64>, Vec<i64>) {
    let mut order: Vec<usize> = (0..n).collect();
    // Stable: each group starts with its first occurrence.
    order.sort_by(|&i, &j| cmp(i, j));
    let mut firsts: Vec<usize> = Vec::new();
    let mut counts: Vec<i64> = Vec::new();
    let mut group = vec![0usize; n];
    for (p, &i) in order.iter().enumerate() {
        if p == 0 || cmp(order[p - 1], i) != std::cmp::Ordering::Equal {
            firsts.push(i);
            counts.push(0);
        }
        let g = firsts.len() - 1;
        group[i] = g;
        counts[g] += 1;
    }
    let mut rank: Vec<usize> = (0..firsts.len()).collect();
    if !sorted {
        rank.sort_by_key(|&g| firsts[g]);
    }
    // rank[new] = old; invert it to renumber the groups.
    let mut new_of = vec![0usize; rank.len()];
    for (new, &old) in rank.iter().enumerate() {
        new_of[old] = new;
    }
    let firsts_out = rank.iter().map(|&g| firsts[g]).collect();
    let counts_out = rank.iter().map(|&g| counts[g]).collect();
    let inverse = group.iter().map(|&g| new_of[g] as i64).collect();
    (firsts_out, inverse, counts_out)
}

/// Unique for one array: the unique values (or slices along `axis`) and,
/// in `groups`, their first indices, the inverse map and the counts.
fn unique_of<T: Clone + PartialOrd>(
    a: &ArrayD<T>,
    axis: Option<usize>,
    sorted: bool,
    groups: &mut (Vec<usize>, Vec<i64>, Vec<i64>),
) -> Result<ArrayD<T>> {
    match axis {
        None => {
            let v: Vec<T> = a.iter().cloned().collect();
            *groups = unique_groups(v.len(), sorted, |i, j| cmp_total(&v[i], &v[j]));
            let u: Vec<T> = groups.0.iter().map(|&i| v[i].clone()).collect();
            crate::array(&[u.len()], u)
        }
        Some(ax) => {
            let rows: Vec<Vec<T>> = a.axis_iter(Axis(ax)).map(|s| s.iter().cloned().collect()).collect();
            let cmp_rows = |i: usize, j: usize| {
                let pairs = rows[i].iter().zip(&rows[j]);
                pairs.map(|(p, q)| cmp_total(p, q)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
            };
            *groups = unique_groups(rows.len(), sorted, cmp_rows);
            let s = a.select(Axis(ax), &groups.0);
            Ok(if s.is_standard_layout() { s } else { standard(s.view()) })
        }
    }
}

/// Unique (flattened, or whole slices along `axis`) with all four outputs:
/// values, first indices, inverse indices and counts.
fn unique(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    if let Tensor::F8(..) | Tensor::C64(_) | Tensor::C128(_) = x {
        bail!("Unique does not support {}", x.dtype());
    }
    let sorted = ctx.int("sorted", 1)? != 0;
    let axis = match ctx.node.attr("axis") {
        Some(_) => Some(util::axis(ctx.int("axis", 0)?, x.rank())?),
        None => None,
    };
    if axis.is_some() && x.rank() == 0 {
        bail!("cannot take unique slices of a scalar");
    }
    let mut groups = (Vec::new(), Vec::new(), Vec::new());
    let y = map_ordered!(x, a => unique_of(a, axis, sorted, &mut groups)?)?;
    let (firsts, inverse, counts) = groups;
    let n = firsts.len();
    let firsts: Vec<i64> = firsts.into_iter().map(|i| i as i64).collect();
    Ok(vec![
        Value::Tensor(y),
        Value::Tensor(Tensor::i64(&[n], firsts)?),
        Value::Tensor(Tensor::i64(&[inverse.len()], inverse)?),
        Value::Tensor(Tensor::i64(&[n], counts)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::shape::tests::{f32t, i64t, node, run_node, run1, strt};
    use super::*;

    fn iota(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>();
        f32t(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
    }

    #[test]
    fn gather_axes_and_negative_indices() {
        let x = iota(&[3, 2]);
        let y = run1(node("Gather"), 13, vec![x.clone(), i64t(&[2, 2], &[0, -1, 1, 2])]).unwrap();
        assert_eq!(y, f32t(&[2, 2, 2], &[0., 1., 4., 5., 2., 3., 4., 5.]));
        let y = run1(node("Gather").with_attr("axis", 1i64), 13, vec![x.clone(), i64t(&[], &[-1])]).unwrap();
        assert_eq!(y, f32t(&[3], &[1., 3., 5.]));
        assert!(run1(node("Gather"), 13, vec![x.clone(), i64t(&[1], &[3])]).is_err());
        let s = strt(&[3], &["a", "b", "c"]);
        assert_eq!(run1(node("Gather"), 13, vec![s, i64t(&[2], &[2, 0])]).unwrap(), strt(&[2], &["c", "a"]));
    }

    #[test]
    fn gather_elements_and_nd() {
        // onnx gather_elements_1: data [[1,2],[3,4]], indices [[0,0],[1,0]], axis 1 -> [[1,1],[4,3]]
        let d = f32t(&[2, 2], &[1., 2., 3., 4.]);
        let n = node("GatherElements").with_attr("axis", 1i64);
        let y = run1(n, 13, vec![d.clone(), i64t(&[2, 2], &[0, 0, 1, 0])]).unwrap();
        assert_eq!(y, f32t(&[2, 2], &[1., 1., 4., 3.]));
        // Negative indices, axis 0: [[-1, 0]] -> [[3, 2]]
        let y = run1(node("GatherElements"), 13, vec![d.clone(), i64t(&[1, 2], &[-1, 0])]).unwrap();
        assert_eq!(y, f32t(&[1, 2], &[3., 2.]));
        // onnx gathernd_example_int32_batch_dim1: data arange(8).reshape(2,2,2),
        // indices [[1],[0]], batch_dims 1 -> [[2,3],[4,5]]
        let x = iota(&[2, 2, 2]);
        let n = node("GatherND").with_attr("batch_dims", 1i64);
        let ind = Tensor::I32(crate::array(&[2, 1], vec![1, 0]).unwrap());
        assert_eq!(run1(n, 13, vec![x.clone(), ind]).unwrap(), f32t(&[2, 2], &[2., 3., 4., 5.]));
        // gathernd_example_float32: indices [[[0,1]],[[1,0]]] -> [[[2,3]],[[4,5]]]
        let y = run1(node("GatherND"), 13, vec![x.clone(), i64t(&[2, 1, 2], &[0, 1, 1, 0])]).unwrap();
        assert_eq!(y, f32t(&[2, 1, 2], &[2., 3., 4., 5.]));
        assert!(run1(node("GatherND"), 13, vec![x, i64t(&[1, 2], &[0, 2])]).is_err());
    }

    #[test]
    fn scatters() {
        // onnx scatternd_add: data [[1,2],[3,4]], indices [[0],[0]], updates [[5,6],[7,8]]
        let d = f32t(&[2, 2], &[1., 2., 3., 4.]);
        let ind = i64t(&[2, 1], &[0, 0]);
        let u = f32t(&[2, 2], &[5., 6., 7., 8.]);
        let y = run1(node("ScatterND").with_attr("reduction", "add"), 16, vec![d.clone(), ind.clone(), u.clone()]);
        assert_eq!(y.unwrap(), f32t(&[2, 2], &[13., 16., 3., 4.]));
        let y = run1(node("ScatterND"), 13, vec![d.clone(), i64t(&[1, 2], &[-1, 0]), f32t(&[1], &[9.])]).unwrap();
        assert_eq!(y, f32t(&[2, 2], &[1., 2., 9., 4.]));
        let y = run1(node("ScatterND").with_attr("reduction", "max"), 18, vec![d.clone(), ind, u]).unwrap();
        assert_eq!(y, f32t(&[2, 2], &[7., 8., 3., 4.]));
        // onnx scatter_elements_with_negative_indices: data [[1,2,3,4,5]], indices [[1,-3]],
        // updates [[1.1,2.1]], axis 1 -> [[1,1.1,2.1,4,5]]
        let d = f32t(&[1, 5], &[1., 2., 3., 4., 5.]);
        let n = node("ScatterElements").with_attr("axis", 1i64);
        let y = run1(n, 13, vec![d.clone(), i64t(&[1, 2], &[1, -3]), f32t(&[1, 2], &[1.1, 2.1])]).unwrap();
        assert_eq!(y, f32t(&[1, 5], &[1., 1.1, 2.1, 4., 5.]));
        // Reduction mul with a duplicate index: 2 * 3 * 4.
        let n = node("ScatterElements").with_attr("axis", 1i64).with_attr("reduction", "mul");
        let y = run1(n, 18, vec![d.clone(), i64t(&[1, 2], &[1, 1]), f32t(&[1, 2], &[3., 4.])]).unwrap();
        assert_eq!(y, f32t(&[1, 5], &[1., 24., 3., 4., 5.]));
        let y = run1(
            node("Scatter").with_attr("axis", 1i64),
            9,
            vec![d.clone(), i64t(&[1, 1], &[4]), f32t(&[1, 1], &[0.])],
        );
        assert_eq!(y.unwrap(), f32t(&[1, 5], &[1., 2., 3., 4., 0.]));
        assert!(run1(node("Scatter"), 9, vec![d, i64t(&[1, 1], &[1]), f32t(&[1, 1], &[0.])]).is_err());
        let s = strt(&[2], &["a", "b"]);
        let y = run1(node("ScatterElements"), 13, vec![s, i64t(&[1], &[-1]), strt(&[1], &["z"])]).unwrap();
        assert_eq!(y, strt(&[2], &["a", "z"]));
    }

    #[test]
    fn non_zero_one_hot_compress() {
        // np.nonzero([[1,0],[1,1]])
        let x = Tensor::Bool(crate::array(&[2, 2], vec![true, false, true, true]).unwrap());
        assert_eq!(run1(node("NonZero"), 13, vec![x]).unwrap(), i64t(&[2, 3], &[0, 1, 1, 0, 0, 1]));
        // onnx one_hot_with_negative_indices: indices [0,-7,-8], depth 10, values [1,3] -> ones at 0, 3, 2
        let y = run1(node("OneHot"), 11, vec![i64t(&[3], &[0, -7, -8]), f32t(&[], &[10.]), f32t(&[2], &[1., 3.])]);
        let mut want = vec![1f32; 30];
        (want[0], want[13], want[22]) = (3., 3., 3.);
        assert_eq!(y.unwrap(), f32t(&[3, 10], &want));
        // Axis 0, out-of-range index 5 is all off.
        let n = node("OneHot").with_attr("axis", 0i64);
        let y = run1(n, 11, vec![f32t(&[2], &[1.7, 5.]), i64t(&[1], &[3]), i64t(&[2], &[0, 1])]).unwrap();
        assert_eq!(y, i64t(&[3, 2], &[0, 0, 1, 0, 0, 0]));
        // np.compress([False, True, True], arange(6).reshape(3, 2), axis=0)
        let c = Tensor::Bool(crate::array(&[3], vec![false, true, true]).unwrap());
        let y = run1(node("Compress").with_attr("axis", 0i64), 11, vec![iota(&[3, 2]), c.clone()]).unwrap();
        assert_eq!(y, f32t(&[2, 2], &[2., 3., 4., 5.]));
        let y = run1(node("Compress"), 11, vec![iota(&[3, 2]), c.clone()]).unwrap();
        assert_eq!(y, f32t(&[2], &[1., 2.]));
        assert!(run1(node("Compress").with_attr("axis", 1i64), 11, vec![iota(&[3, 2]), c]).is_err());
    }

    #[test]
    fn reverse_sequence_examples() {
        // Example 2 of the ONNX spec (time_axis 1, batch_axis 0).
        let n = node("ReverseSequence").with_attr("time_axis", 1i64).with_attr("batch_axis", 0i64);
        let y = run1(n, 10, vec![iota(&[4, 4]), i64t(&[4], &[1, 2, 3, 4])]).unwrap();
        let want = [0., 1., 2., 3., 5., 4., 6., 7., 10., 9., 8., 11., 15., 14., 13., 12.];
        assert_eq!(y, f32t(&[4, 4], &want));
        // Example 1 (time_axis 0, batch_axis 1), input transposed iota.
        let x = f32t(&[4, 4], &[0., 4., 8., 12., 1., 5., 9., 13., 2., 6., 10., 14., 3., 7., 11., 15.]);
        let y = run1(node("ReverseSequence"), 10, vec![x, i64t(&[4], &[4, 3, 2, 1])]).unwrap();
        let want = [3., 6., 9., 12., 2., 5., 8., 13., 1., 4., 10., 14., 0., 7., 11., 15.];
        assert_eq!(y, f32t(&[4, 4], &want));
    }

    #[test]
    fn unique_examples() {
        let outs = |n: ir::Node, x: Tensor| -> Vec<Tensor> {
            let n = ir::Node { outputs: vec!["y".into(), "i".into(), "v".into(), "c".into()], ..n };
            run_node(n, 11, vec![Some(x)]).unwrap().into_iter().map(|v| v.into_tensor().unwrap()).collect()
        };
        // Example 1 of the spec (unsorted).
        let o = outs(node("Unique").with_attr("sorted", 0i64), f32t(&[6], &[2., 1., 1., 3., 4., 3.]));
        assert_eq!(o[0], f32t(&[4], &[2., 1., 3., 4.]));
        assert_eq!(o[1], i64t(&[4], &[0, 1, 3, 4]));
        assert_eq!(o[2], i64t(&[6], &[0, 1, 1, 2, 3, 2]));
        assert_eq!(o[3], i64t(&[4], &[1, 2, 2, 1]));
        // Example 4 of the spec (axis 1, sorted).
        let x = f32t(&[2, 4, 2], &[1., 1., 0., 1., 2., 1., 0., 1., 1., 1., 0., 1., 2., 1., 0., 1.]);
        let o = outs(node("Unique").with_attr("axis", 1i64), x);
        assert_eq!(o[0], f32t(&[2, 3, 2], &[0., 1., 1., 1., 2., 1., 0., 1., 1., 1., 2., 1.]));
        assert_eq!(o[1], i64t(&[3], &[1, 0, 2]));
        assert_eq!(o[2], i64t(&[4], &[1, 0, 2, 0]));
        assert_eq!(o[3], i64t(&[3], &[2, 1, 1]));
        // NaNs collapse and sort last; -0 equals 0 (numpy 2).
        let o = outs(node("Unique"), f32t(&[5], &[0., -0., f32::NAN, 1., f32::NAN]));
        assert_eq!(o[1], i64t(&[3], &[0, 3, 2]));
        assert_eq!(o[2], i64t(&[5], &[0, 0, 2, 1, 2]));
        assert_eq!(o[3], i64t(&[3], &[2, 1, 2]));
        let o = outs(node("Unique"), strt(&[3], &["b", "a", "b"]));
        assert_eq!(o[0], strt(&[2], &["a", "b"]));
    }

    #[test]
    fn bad_indices_are_errors() {
        let x = iota(&[2, 3]);
        let big = i64t(&[1], &[i64::MAX]);
        let low = i64t(&[1], &[i64::MIN]);
        for ind in [big.clone(), low.clone(), i64t(&[1], &[-3])] {
            assert!(run1(node("Gather"), 13, vec![x.clone(), ind]).is_err());
        }
        assert!(run1(node("GatherElements"), 13, vec![x.clone(), i64t(&[1, 1], &[i64::MIN])]).is_err());
        assert!(run1(node("GatherND"), 13, vec![x.clone(), i64t(&[1, 2], &[0, 3])]).is_err());
        assert!(run1(node("GatherND"), 13, vec![x.clone(), i64t(&[1, 3], &[0, 0, 0])]).is_err());
        let u = f32t(&[1, 3], &[1., 2., 3.]);
        assert!(run1(node("ScatterND"), 13, vec![x.clone(), i64t(&[1, 1], &[2]), u.clone()]).is_err());
        assert!(run1(node("ScatterND"), 13, vec![x.clone(), i64t(&[1, 1], &[0]), f32t(&[1, 2], &[1., 2.])]).is_err());
        let n = node("ScatterElements").with_attr("axis", 1i64);
        assert!(run1(n, 13, vec![x.clone(), i64t(&[1, 3], &[0, 1, 3]), u.clone()]).is_err());
        assert!(run1(node("ScatterElements"), 13, vec![x.clone(), i64t(&[1, 4], &[0; 4]), iota(&[1, 4])]).is_err());
        let n = node("ScatterND").with_attr("reduction", "add");
        assert!(run1(n, 16, vec![strt(&[1], &["a"]), i64t(&[1, 1], &[0]), strt(&[1], &["b"])]).is_err());
        assert!(run1(node("OneHot"), 11, vec![big.clone(), i64t(&[], &[i64::MAX]), f32t(&[2], &[0., 1.])]).is_err());
        let y = run1(node("OneHot"), 11, vec![low, i64t(&[], &[2]), f32t(&[2], &[0., 1.])]).unwrap();
        assert_eq!(y, f32t(&[1, 2], &[0., 0.]));
        assert!(run1(node("ReverseSequence"), 10, vec![x.clone(), i64t(&[3], &[1, 3, 1])]).is_err());
        assert!(run1(node("ReverseSequence"), 10, vec![x, big]).is_err());
    }

    #[test]
    fn strides_and_offsets() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        let mut seen = Vec::new();
        for_each_offset(&[2, 2], &[3, 1], 1, |k, off| {
            seen.push((k, off));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(0, 0), (1, 0), (2, 3), (3, 3)]);
    }
}
