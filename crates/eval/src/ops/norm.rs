//! Normalizations: BatchNormalization, LayerNormalization,
//! InstanceNormalization, GroupNormalization, LpNormalization,
//! MeanVarianceNormalization and RMSNormalization.
//!
//! Opset history: BatchNormalization has `spatial` (per-channel vs
//! per-activation statistics) until 9, infers training from the number of
//! outputs before 14 (Y, mean, var, saved_mean, saved_var), and from 14 has
//! `training_mode` with outputs Y, running_mean, running_var (15 lets scale and
//! the statistics have their own float types). GroupNormalization-18 takes one
//! scale/bias per group, -21 one per channel plus `stash_type`.
//! LayerNormalization (17) and RMSNormalization (23) normalize over the axes
//! from `axis` on; LayerNormalization's Mean/InvStdDev have the `stash_type`
//! dtype and RMSNormalization's Y has the scale's dtype.
//!
//! Statistics and the normalization itself are computed in f64 whatever the
//! input type (at least the `stash_type` precision the spec asks for), on
//! contiguous rows of the input, and rounded once to the output type.

use ir::DType;
use ndarray::ArrayD;

use super::reduce::{Elem, contiguous, fold_row, lanes, reduce_raw, runs, with_float};
use crate::registry::{Ctx, OpRegistry};
use crate::util::{broadcast_shapes, broadcast_view};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the normalization ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("BatchNormalization", batch_norm);
    r.add("LayerNormalization", layer_norm);
    r.add("InstanceNormalization", instance_norm);
    r.add("GroupNormalization", group_norm);
    r.add("LpNormalization", lp_norm);
    r.add("MeanVarianceNormalization", mvn);
    r.add("RMSNormalization", rms_norm);
}

// ---------------------------------------------------------------------------
// Helpers.

/// A float tensor of dtype `d` from f64 values (rounded once).
pub(super) fn float_tensor(d: DType, shape: &[usize], v: Vec<f64>) -> Result<Tensor> {
    fn conv<T: Elem>(shape: &[usize], v: Vec<f64>) -> Result<Tensor> {
        Ok(T::wrap(array(shape, v.into_iter().map(T::from_f64).collect())?))
    }
    match d {
        DType::F32 => conv::<f32>(shape, v),
        DType::F64 => conv::<f64>(shape, v),
        DType::F16 => conv::<half::f16>(shape, v),
        DType::BF16 => conv::<half::bf16>(shape, v),
        d => bail!("{d} is not a float type"),
    }
}

/// The float dtype a `stash_type` attribute names (ONNX TensorProto codes).
fn stash_dtype(code: i64) -> Result<DType> {
    match super::cast::dtype_from_code(code)? {
        d @ (DType::F32 | DType::F16 | DType::F64 | DType::BF16) => Ok(d),
        d => bail!("stash_type {code} ({d}) is not a float type"),
    }
}

/// Checks that `t` is a float tensor (the spec's T constraints of these ops).
fn check_float(t: &Tensor, what: &str) -> Result<()> {
    match t {
        Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_) => Ok(()),
        t => bail!("{what} must be a float tensor, got {}", t.dtype()),
    }
}

/// `t` (unidirectionally broadcastable to `x_shape`) as f64 values laid out
/// for rows of `x` that start at axis `from`: broadcast to `x_shape[from..]`
/// when `t` does not vary along the leading axes, else to all of `x_shape`.
/// Row `r` then uses the values at `(r * row_len) % len`.
fn expand(t: &Tensor, x_shape: &[usize], from: usize, what: &str) -> Result<Vec<f64>> {
    check_float(t, what)?;
    if broadcast_shapes(x_shape, t.shape()).ok().as_deref() != Some(x_shape) {
        bail!("{what} of shape {:?} does not broadcast to the input's {x_shape:?}", t.shape());
    }
    let tail = x_shape.len() - from;
    let lead = t.rank().saturating_sub(tail);
    let (shape, target) = if t.shape()[..lead].iter().all(|&d| d == 1) {
        (&t.shape()[lead..], &x_shape[from..])
    } else {
        (t.shape(), x_shape)
    };
    let a = array(shape, t.to_f64_vec()?)?;
    Ok(broadcast_view(&a, target)?.iter().copied().collect())
}

/// A per-channel parameter as f64, checking its element count.
fn per_channel(t: &Tensor, n: usize, what: &str) -> Result<Vec<f64>> {
    check_float(t, what)?;
    if t.len() != n {
        bail!("{what} has {} elements (shape {:?}), expected {n}", t.len(), t.shape());
    }
    t.to_f64_vec()
}

/// The f64 sum of `f(x)` over a row (four accumulators, see `fold_row`).
fn sum_f64<T: Elem>(row: &[T], f: impl Fn(T) -> f64) -> f64 {
    fold_row(row, 0.0, &|a, v| a + f(v), &|a, b| a + b)
}

/// Mean and population variance of a row (two passes, in f64).
fn moments<T: Elem>(row: &[T]) -> (f64, f64) {
    let n = row.len() as f64;
    let mean = sum_f64(row, T::to_f64) / n;
    let var = sum_f64(row, |v| (v.to_f64() - mean).powi(2)) / n;
    (mean, var)
}

/// `[N, C, spatial...]` as (N, C, spatial size), for ops that need rank >= 2.
fn ncs(shape: &[usize], what: &str) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        bail!("{what} needs an input of rank >= 2 (N, C, ...), got shape {shape:?}");
    }
    Ok((shape[0], shape[1], shape[2..].iter().product()))
}

// ---------------------------------------------------------------------------
// BatchNormalization.

/// BatchNormalization (inference, or training with batch statistics).
fn batch_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let params: Vec<&Tensor> = (1..5).map(|i| ctx.input(inputs, i)).collect::<Result<_>>()?;
    let eps = f64::from(ctx.float("epsilon", 1e-5)?);
    let momentum = f64::from(ctx.float("momentum", 0.9)?);
    let (n, c, s) = ncs(x.shape(), "BatchNormalization")?;
    // Non-spatial (opset < 9, spatial = 0): statistics per activation, i.e.
    // channels are C x D1 x ... and each "row" is a single element.
    let spatial = ctx.opset >= 9 || ctx.int("spatial", 1)? != 0;
    let (c, s) = if spatial { (c, s) } else { (c * s, 1) };
    let names = ["scale", "B", "mean", "var"];
    let p: Vec<Vec<f64>> = params.iter().zip(names).map(|(t, w)| per_channel(t, c, w)).collect::<Result<_>>()?;
    let wanted = ctx.node.outputs.iter().filter(|o| !o.is_empty()).count();
    let training = match ctx.opset {
        14.. => ctx.int("training_mode", 0)? != 0,
        7.. => wanted > 1,
        _ => wanted > 1 && ctx.int("is_test", 0)? == 0,
    };
    if ctx.opset >= 14 && !training && ctx.node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        bail!("running_mean/running_var outputs are only produced with training_mode=1");
    }
    let (mean, var) = if training {
        with_float!(x, "BatchNormalization", a => channel_moments(&contiguous(a), n, c, s))
    } else {
        (p[2].clone(), p[3].clone())
    };
    // y = x * a[c] + b[c] with a = scale / sqrt(var + eps), b = B - mean * a.
    let a: Vec<f64> = p[0].iter().zip(&var).map(|(sc, v)| sc / (v + eps).sqrt()).collect();
    let b: Vec<f64> = p[1].iter().zip(&mean).zip(&a).map(|((bb, m), a)| bb - m * a).collect();
    let y = with_float!(x, "BatchNormalization", xa => per_channel_affine(xa, c, s, &a, &b)?);
    let mut out = vec![y.into()];
    if training {
        let run = |input: &[f64], cur: &[f64]| -> Vec<f64> {
            input.iter().zip(cur).map(|(i, c)| i * momentum + c * (1.0 - momentum)).collect()
        };
        let (rm, rv) = (run(&p[2], &mean), run(&p[3], &var));
        let stat_shape = params[2].shape().to_vec();
        // From 14 the running statistics have the type of input_mean (T2);
        // before, every output has X's type.
        let d = if ctx.opset >= 14 { params[2].dtype() } else { x.dtype() };
        out.push(float_tensor(d, &stat_shape, rm)?.into());
        out.push(float_tensor(d, &stat_shape, rv)?.into());
        if ctx.opset < 14 {
            // saved_mean / saved_var: the batch statistics used for Y.
            out.push(float_tensor(d, &stat_shape, mean)?.into());
            out.push(float_tensor(d, &stat_shape, var)?.into());
        }
    }
    Ok(out)
}

/// Per-channel mean and population variance of `[N, C, S]` data.
fn channel_moments<T: Elem>(data: &[T], n: usize, c: usize, s: usize) -> (Vec<f64>, Vec<f64>) {
    let count = (n * s) as f64;
    let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
    if c > 0 && s > 0 {
        for (r, row) in data.chunks_exact(s).enumerate() {
            sum[r % c] += sum_f64(row, T::to_f64);
        }
        let mean: Vec<f64> = sum.iter().map(|v| v / count).collect();
        for (r, row) in data.chunks_exact(s).enumerate() {
            let m = mean[r % c];
            sq[r % c] += sum_f64(row, |v| (v.to_f64() - m).powi(2));
        }
    }
    (sum.iter().map(|v| v / count).collect(), sq.iter().map(|v| v / count).collect())
}

/// `y = x * a[c] + b[c]` over `[N, C, S]` data.
fn per_channel_affine<T: Elem>(x: &ArrayD<T>, c: usize, s: usize, a: &[f64], b: &[f64]) -> Result<Tensor> {
    let data = contiguous(x);
    let mut out = Vec::with_capacity(data.len());
    if c > 0 && s > 0 {
        for (r, row) in data.chunks_exact(s).enumerate() {
            let (a, b) = (a[r % c], b[r % c]);
            out.extend(row.iter().map(|v| T::from_f64(v.to_f64() * a + b)));
        }
    }
    Ok(T::wrap(array(x.shape(), out)?))
}

// ---------------------------------------------------------------------------
// InstanceNormalization and GroupNormalization.

/// InstanceNormalization.
fn instance_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let eps = f64::from(ctx.float("epsilon", 1e-5)?);
    let (_, c, _) = ncs(x.shape(), "InstanceNormalization")?;
    let scale = per_channel(ctx.input(inputs, 1)?, c, "scale")?;
    let bias = per_channel(ctx.input(inputs, 2)?, c, "B")?;
    let y = with_float!(x, "InstanceNormalization", a => group_typed(a, c, eps, &scale, &bias)?);
    Ok(vec![y.into()])
}

/// GroupNormalization (per-group parameters at 18, per-channel from 21).
fn group_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let eps = f64::from(ctx.float("epsilon", 1e-5)?);
    let (_, c, _) = ncs(x.shape(), "GroupNormalization")?;
    let g = match ctx.node.attr("num_groups") {
        Some(_) => ctx.int("num_groups", 0)?,
        None => bail!("GroupNormalization needs the 'num_groups' attribute"),
    };
    let g = match usize::try_from(g) {
        Ok(g) if g > 0 && c % g == 0 => g,
        _ => bail!("num_groups {g} must be a positive divisor of the {c} channels"),
    };
    if ctx.opset >= 21 {
        stash_dtype(ctx.int("stash_type", 1)?)?;
    }
    let (scale, bias) = (ctx.input(inputs, 1)?, ctx.input(inputs, 2)?);
    // Opset 18 takes one scale/bias per group; 21 one per channel. A per-channel
    // length under 18 is unambiguous (when G != C) and accepted as such.
    let per_group = ctx.opset < 21 && scale.len() == g;
    let expand_groups = |t: &Tensor, what: &str| -> Result<Vec<f64>> {
        if per_group {
            let v = per_channel(t, g, what)?;
            Ok(v.iter().flat_map(|&s| std::iter::repeat_n(s, c / g)).collect())
        } else {
            per_channel(t, c, what)
        }
    };
    let (scale, bias) = (expand_groups(scale, "scale")?, expand_groups(bias, "bias")?);
    let y = with_float!(x, "GroupNormalization", a => group_typed(a, g, eps, &scale, &bias)?);
    Ok(vec![y.into()])
}

/// Normalizes `[N, C, S]` data per instance and group of `C / groups`
/// channels (groups = C is InstanceNormalization), then applies per-channel
/// scale and bias.
fn group_typed<T: Elem>(x: &ArrayD<T>, groups: usize, eps: f64, scale: &[f64], bias: &[f64]) -> Result<Tensor> {
    let shape = x.shape();
    let (c, s): (usize, usize) = (shape[1], shape[2..].iter().product());
    let data = contiguous(x);
    let len = c.checked_div(groups).unwrap_or(0) * s;
    let mut out = Vec::with_capacity(data.len());
    if len > 0 {
        for (r, row) in data.chunks_exact(len).enumerate() {
            let (mean, var) = moments(row);
            let inv = 1.0 / (var + eps).sqrt();
            let first = (r % groups) * (c / groups);
            for (k, ch) in row.chunks_exact(s).enumerate() {
                let (sc, b) = (scale[first + k] * inv, bias[first + k]);
                out.extend(ch.iter().map(|v| T::from_f64((v.to_f64() - mean) * sc + b)));
            }
        }
    }
    Ok(T::wrap(array(shape, out)?))
}

// ---------------------------------------------------------------------------
// LayerNormalization and RMSNormalization.

/// LayerNormalization with its optional Mean / InvStdDev outputs.
fn layer_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = x.shape();
    let axis = norm_axis(ctx.int("axis", -1)?, shape.len())?;
    let eps = f64::from(ctx.float("epsilon", 1e-5)?);
    let stash = stash_dtype(ctx.int("stash_type", 1)?)?;
    let scale = ctx.input(inputs, 1)?;
    let bias = ctx.opt_input(inputs, 2)?;
    for t in std::iter::once(scale).chain(bias) {
        if t.dtype() != x.dtype() {
            bail!("Scale and B must have the input's type {}, got {}", x.dtype(), t.dtype());
        }
    }
    let sv = expand(scale, shape, axis, "Scale")?;
    let bv = bias.map(|b| expand(b, shape, axis, "B")).transpose()?;
    let (y, mean, inv) = with_float!(x, "LayerNormalization", a => {
        rows_norm(a, axis, |row, out: &mut Vec<_>, sc, bi| {
            let (mean, var) = moments(row);
            let inv = 1.0 / (var + eps).sqrt();
            out.extend(row.iter().zip(sc).zip(bi).map(|((v, s), b)| (v.to_f64() - mean) * inv * s + b));
            (mean, inv)
        }, &sv, bv.as_deref(), a)?
    });
    let stat_shape: Vec<usize> = shape.iter().enumerate().map(|(i, &d)| if i < axis { d } else { 1 }).collect();
    Ok(vec![y.into(), float_tensor(stash, &stat_shape, mean)?.into(), float_tensor(stash, &stat_shape, inv)?.into()])
}

/// RMSNormalization.
fn rms_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = x.shape();
    let axis = norm_axis(ctx.int("axis", -1)?, shape.len())?;
    let eps = f64::from(ctx.float("epsilon", 1e-5)?);
    stash_dtype(ctx.int("stash_type", 1)?)?;
    let scale = ctx.input(inputs, 1)?;
    let sv = expand(scale, shape, axis, "scale")?;
    // Y has the scale's type (V), which may differ from X's (T).
    let (y, _, _) = with_float!(x, "RMSNormalization", a => with_float!(scale, "RMSNormalization", s => {
        rows_norm(a, axis, |row, out: &mut Vec<_>, sc, _| {
            let ms = sum_f64(row, |v| v.to_f64().powi(2)) / row.len() as f64;
            let inv = 1.0 / (ms + eps).sqrt();
            out.extend(row.iter().zip(sc).map(|(v, s)| v.to_f64() * inv * s));
            (0.0, inv)
        }, &sv, None, s)?
    }));
    Ok(vec![y.into()])
}

/// `axis` of LayerNormalization / RMSNormalization, in `[-rank, rank)`.
fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    super::reduce::check_axis(axis, rank)
}

/// Normalizes each row `x[i0.., axis..]` with `f(row, out, scale, bias)`,
/// which appends the row's f64 results and returns its (mean, inverse
/// deviation). The output has the element type of `_like`.
#[allow(clippy::type_complexity)]
fn rows_norm<T: Elem, O: Elem>(
    x: &ArrayD<T>,
    axis: usize,
    f: impl Fn(&[T], &mut Vec<f64>, &[f64], &[f64]) -> (f64, f64),
    scale: &[f64],
    bias: Option<&[f64]>,
    _like: &ArrayD<O>,
) -> Result<(Tensor, Vec<f64>, Vec<f64>)> {
    let shape = x.shape();
    let (rows, cols): (usize, usize) = (shape[..axis].iter().product(), shape[axis..].iter().product());
    let data = contiguous(x);
    let (mut mean, mut inv) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut out = Vec::with_capacity(cols);
    let mut y: Vec<O> = Vec::with_capacity(data.len());
    if cols == 0 {
        // Empty rows: statistics of an empty set, like numpy's 0/0.
        mean.resize(rows, f64::NAN);
        inv.resize(rows, f64::NAN);
    } else {
        // A parameter holds one row (len == cols) or all rows (see `expand`).
        let slice = |v: &'_ [f64], r: usize| -> std::ops::Range<usize> {
            let o = (r * cols) % v.len();
            o..o + cols
        };
        let zeros = vec![0.0; cols];
        for (r, row) in data.chunks_exact(cols).enumerate() {
            let sc = &scale[slice(scale, r)];
            let bi = bias.map_or(&zeros[..], |b| &b[slice(b, r)]);
            out.clear();
            let (m, i) = f(row, &mut out, sc, bi);
            mean.push(m);
            inv.push(i);
            y.extend(out.iter().map(|&v| O::from_f64(v)));
        }
    }
    Ok((O::wrap(array(shape, y)?), mean, inv))
}

// ---------------------------------------------------------------------------
// LpNormalization and MeanVarianceNormalization.

/// LpNormalization (p = 1 or 2).
fn lp_norm(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis = super::reduce::check_axis(ctx.int("axis", -1)?, x.rank())?;
    let p = ctx.int("p", 2)?;
    if p != 1 && p != 2 {
        bail!("LpNormalization supports p = 1 or 2, got {p}");
    }
    let y = with_float!(x, "LpNormalization", a => lp_typed(a, axis, p == 2)?);
    Ok(vec![y.into()])
}

/// `x / ||x||_p` along `axis`, 0 where the norm is 0.
fn lp_typed<T: Elem>(x: &ArrayD<T>, axis: usize, l2: bool) -> Result<Tensor> {
    let (outer, r, inner) = lanes(x.shape(), axis);
    let data = contiguous(x);
    let norms: Vec<f64> = if l2 {
        let sq = reduce_raw(
            &data,
            &[outer, r, inner],
            &[false, true, false],
            0.0,
            |a, v| a + v.to_f64().powi(2),
            |a, b| a + b,
        );
        sq.into_iter().map(f64::sqrt).collect()
    } else {
        reduce_raw(&data, &[outer, r, inner], &[false, true, false], 0.0, |a, v| a + v.to_f64().abs(), |a, b| a + b)
    };
    let mut out = Vec::with_capacity(data.len());
    if r > 0 && inner > 0 {
        for (block, nb) in data.chunks_exact(r * inner).zip(norms.chunks_exact(inner)) {
            for row in block.chunks_exact(inner) {
                // A zero norm gives 0 rather than NaN (spec, opset 22 text).
                out.extend(row.iter().zip(nb).map(|(v, &n)| T::from_f64(if n == 0.0 { 0.0 } else { v.to_f64() / n })));
            }
        }
    }
    Ok(T::wrap(array(x.shape(), out)?))
}

/// MeanVarianceNormalization (default axes [0, 2, 3]).
fn mvn(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank();
    let axes = ctx.ints("axes")?.unwrap_or_else(|| vec![0, 2, 3]);
    let mut mask = vec![false; rank];
    for &a in &axes {
        let a = super::reduce::check_axis(a, rank)?;
        mask[a] = true;
    }
    let y = with_float!(x, "MeanVarianceNormalization", a => mvn_typed(a, &mask)?);
    Ok(vec![y.into()])
}

/// `(x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)`, the function body's formula.
fn mvn_typed<T: Elem>(x: &ArrayD<T>, mask: &[bool]) -> Result<Tensor> {
    let shape = x.shape();
    let data = contiguous(x);
    let count: usize = shape.iter().zip(mask).filter(|p| *p.1).map(|p| *p.0).product();
    let acc = reduce_raw(
        &data,
        shape,
        mask,
        (0.0, 0.0),
        |(s, q), v| {
            let v = v.to_f64();
            (s + v, q + v * v)
        },
        |a, b| (a.0 + b.0, a.1 + b.1),
    );
    let n = count as f64;
    let (mean, den): (Vec<f64>, Vec<f64>) = acc
        .into_iter()
        .map(|(s, q)| {
            let m = s / n;
            // Clamped: cancellation can make E[x^2] - E[x]^2 slightly negative.
            (m, (q / n - m * m).max(0.0).sqrt() + 1e-9)
        })
        .unzip();
    let mut out = Vec::with_capacity(data.len());
    for_each_stat_chunk(&data, shape, mask, |chunk, stat, contiguous| {
        if contiguous {
            let (m, d) = (&mean[stat..stat + chunk.len()], &den[stat..stat + chunk.len()]);
            out.extend(chunk.iter().zip(m).zip(d).map(|((v, m), d)| T::from_f64((v.to_f64() - m) / d)));
        } else {
            let (m, d) = (mean[stat], den[stat]);
            out.extend(chunk.iter().map(|v| T::from_f64((v.to_f64() - m) / d)));
        }
    });
    Ok(T::wrap(array(shape, out)?))
}

/// Walks `data` (of `shape`) in contiguous chunks along its innermost run of
/// axes, calling `f(chunk, stat, contiguous)` where `stat` is the index (in
/// kept-axes order, as `reduce_raw` returns) of the statistic of the chunk's
/// first element: shared by the whole chunk when the innermost run is reduced,
/// else advancing with each element (`contiguous`).
fn for_each_stat_chunk<T>(data: &[T], shape: &[usize], mask: &[bool], mut f: impl FnMut(&[T], usize, bool)) {
    let mut groups = runs(shape, mask);
    if groups.is_empty() {
        groups.push((1, false));
    }
    // Stride of each run in the statistics (0 for reduced runs).
    let mut strides = vec![0usize; groups.len()];
    let mut acc = 1;
    for (g, st) in groups.iter().zip(strides.iter_mut()).rev() {
        if !g.1 {
            *st = acc;
            acc *= g.0;
        }
    }
    let Some(&(inner, inner_reduced)) = groups.last() else { return };
    if inner == 0 {
        return;
    }
    let outer = &groups[..groups.len() - 1];
    for (c, chunk) in data.chunks_exact(inner).enumerate() {
        let (mut rest, mut base) = (c, 0);
        for (g, st) in outer.iter().zip(&strides).rev() {
            base += (rest % g.0) * st;
            rest /= g.0;
        }
        f(chunk, base, !inner_reduced);
    }
}

#[cfg(test)]
mod tests {
    use super::super::reduce::tests::run_node;
    use super::*;
    use ir::Node;

    fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::f32(shape, v.to_vec()).unwrap()
    }

    fn close(t: &Tensor, shape: &[usize], want: &[f64]) {
        assert_eq!(t.shape(), shape, "shape");
        let got = t.to_f64_vec().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-5 + 1e-4 * w.abs();
            assert!(ok, "got {got:?}, want {want:?}");
        }
    }

    fn node(op: &str, outs: usize) -> Node {
        Node::new(op, Vec::<String>::new(), (0..outs).map(|i| format!("o{i}")))
    }
    /// x of shape (2, 3, 2) shared by most cases.
    fn x() -> Tensor {
        f32s(&[2, 3, 2], &[0.5, -1.0, 2.0, 3.0, -0.5, 1.5, 4.0, 0.0, -2.0, 1.0, 2.5, -3.0])
    }

    fn c3(v: [f32; 3]) -> Option<Tensor> {
        Some(f32s(&[3], &v))
    }

    /// scale, B, mean, var of the BatchNormalization cases.
    fn bn_params() -> Vec<Option<Tensor>> {
        vec![Some(x()), c3([1.0, 0.5, 2.0]), c3([0.0, 1.0, -1.0]), c3([0.5, 1.0, -0.5]), c3([1.0, 2.0, 0.5])]
    }

    #[test]
    fn batch_norm_inference_and_training() {
        // onnx.reference, opset 15.
        let out = run_node(node("BatchNormalization", 1), 15, bn_params()).unwrap();
        let want = [
            0.0,
            -1.4999924898147583,
            1.3535524606704712,
            1.7071049213409424,
            -1.0,
            4.656797409057617,
            3.4999825954437256,
            -0.49999749660491943,
            -0.060657501220703125,
            1.0,
            7.485196113586426,
            -8.07099723815918,
        ];
        close(&out[0], &[2, 3, 2], &want);
        // Same at opset 7 (spatial default) and 9.
        for opset in [7, 9] {
            close(&run_node(node("BatchNormalization", 1), opset, bn_params()).unwrap()[0], &[2, 3, 2], &want);
        }
        let n = node("BatchNormalization", 3).with_attr("training_mode", 1i64).with_attr("momentum", 0.8f32);
        let out = run_node(n, 15, bn_params()).unwrap();
        let y = [
            -0.19911670684814453,
            -0.9955835342407227,
            1.2672607898712158,
            1.5345216989517212,
            -1.594437599182129,
            0.30776286125183105,
            1.6593059301376343,
            -0.4646056592464447,
            0.19821739196777344,
            1.0,
            1.2588629722595215,
            -3.9721882343292236,
        ];
        close(&out[0], &[2, 3, 2], &y);
        close(&out[1], &[3], &[0.574999988079071, 1.0, -0.375]);
        close(&out[2], &[3], &[1.509374976158142, 2.299999952316284, 1.2843749523162842]);
        // Opset 9 training (inferred from 5 outputs): saved_mean/var are the
        // batch statistics x.mean/var(axis=(0, 2)).
        let n = node("BatchNormalization", 5).with_attr("momentum", 0.8f32);
        let out = run_node(n, 9, bn_params()).unwrap();
        close(&out[0], &[2, 3, 2], &y);
        close(&out[2], &[3], &[1.509374976158142, 2.299999952316284, 1.2843749523162842]);
        close(&out[3], &[3], &[0.875, 1.0, 0.125]);
        close(&out[4], &[3], &[3.546875, 3.5, 4.421875]);
        // Extra outputs without training_mode are invalid from 14.
        assert!(run_node(node("BatchNormalization", 3), 15, bn_params()).is_err());
        // Wrong parameter length.
        let mut p = bn_params();
        p[1] = Some(f32s(&[2], &[1.0, 1.0]));
        assert!(run_node(node("BatchNormalization", 1), 15, p).is_err());
    }

    #[test]
    fn batch_norm_non_spatial() {
        // Opset 7, spatial=0: parameters per activation, shape (3, 2); numpy
        // scale * (x - mean) / sqrt(var + 1e-5) + B.
        let p = |f: &dyn Fn(f32) -> f32| Some(f32s(&[3, 2], &(0..6).map(|i| f(i as f32)).collect::<Vec<_>>()));
        let inputs = vec![Some(x()), p(&|i| (i + 1.0) / 4.0), p(&|i| i / 10.0), p(&|_| 0.25), p(&|i| i + 1.0)];
        let n = node("BatchNormalization", 1).with_attr("spatial", 0i64);
        let out = run_node(n, 7, inputs).unwrap();
        let want = [
            0.06249968707561493,
            -0.34194064140319824,
            0.9577709436416626,
            1.6749982833862305,
            -0.019262343645095825,
            1.2654649019241333,
            0.9374952912330627,
            0.011611878871917725,
            -0.7742769122123718,
            0.6749995946884155,
            1.6577869653701782,
            -1.4902087450027466,
        ];
        close(&out[0], &[2, 3, 2], &want);
    }

    #[test]
    fn layer_norm_axes_and_outputs() {
        // onnx.reference: axis=1, Scale (3, 2), B (2,) broadcast.
        let s = f32s(&[3, 2], &[1.0, 2.0, 0.5, 1.0, -1.0, 1.5]);
        let b = f32s(&[2], &[0.1, 0.2]);
        let n = node("LayerNormalization", 3).with_attr("axis", 1i64);
        let out = run_node(n, 17, vec![Some(x()), Some(s), Some(b)]).unwrap();
        let want = [
            -0.19827425479888916,
            -2.5441229343414307,
            0.4877564609050751,
            1.691371202468872,
            1.1141325235366821,
            0.8263758420944214,
            1.5792436599731445,
            -0.14401017129421234,
            -0.39881476759910583,
            0.44080713391304016,
            -0.7600253820419312,
            -1.9156625270843506,
        ];
        close(&out[0], &[2, 3, 2], &want);
        close(&out[1], &[2, 1, 1], &[0.9166666865348816, 0.4166666567325592]);
        close(&out[2], &[2, 1, 1], &[0.7158581614494324, 0.412812203168869]);
        // Default axis -1, no bias, epsilon 0.1.
        let n = node("LayerNormalization", 3).with_attr("epsilon", 0.1f32);
        let out = run_node(n, 17, vec![Some(x()), Some(f32s(&[1], &[2.0]))]).unwrap();
        let want = [
            1.8428852558135986,
            -1.8428852558135986,
            -1.6903084516525269,
            1.6903084516525269,
            -1.9069252014160156,
            1.9069252014160156,
            1.9754592180252075,
            -1.9754592180252075,
            -1.956984281539917,
            1.956984281539917,
            1.9869065284729004,
            -1.9869065284729004,
        ];
        close(&out[0], &[2, 3, 2], &want);
        close(&out[1], &[2, 3, 1], &[-0.25, 2.5, 0.5, 2.0, -0.5, -0.25]);
        let inv = [
            1.2285901308059692,
            1.6903084516525269,
            0.9534626007080078,
            0.4938648045063019,
            0.6523280739784241,
            0.3612557351589203,
        ];
        close(&out[2], &[2, 3, 1], &inv);
        // stash_type picks the statistics' dtype; f16 X keeps f16 Y.
        let xh = Tensor::F16(array(&[1, 2], vec![half::f16::from_f32(1.0), half::f16::from_f32(3.0)]).unwrap());
        let sh = Tensor::F16(array(&[2], vec![half::f16::ONE; 2]).unwrap());
        let n = node("LayerNormalization", 3).with_attr("stash_type", 11i64);
        let out = run_node(n, 17, vec![Some(xh), Some(sh)]).unwrap();
        assert_eq!((out[0].dtype(), out[1].dtype()), (DType::F16, DType::F64));
        close(&out[0], &[1, 2], &[-0.999995, 0.999995]);
        // One-element rows still take their bias: y = 0 * scale + B.
        let one = |v: f32| Some(f32s(&[1, 1], &[v]));
        let out = run_node(node("LayerNormalization", 1), 17, vec![one(3.0), one(2.0), one(0.25)]).unwrap();
        close(&out[0], &[1, 1], &[0.25]);
        // Scale that does not broadcast.
        assert!(run_node(node("LayerNormalization", 1), 17, vec![Some(x()), Some(f32s(&[3], &[1.0; 3]))]).is_err());
    }

    #[test]
    fn instance_and_group_norm() {
        // onnx.reference InstanceNormalization.
        let out =
            run_node(node("InstanceNormalization", 1), 6, vec![Some(x()), c3([1.0, 0.5, 2.0]), c3([0.0, 1.0, -1.0])])
                .unwrap();
        let want = [
            0.9999911189079285,
            -0.9999911189079285,
            0.5000100135803223,
            1.4999899864196777,
            -2.9999899864196777,
            0.9999899864196777,
            0.9999988079071045,
            -0.9999988079071045,
            0.500001072883606,
            1.499998927116394,
            0.9999985694885254,
            -2.9999985694885254,
        ];
        close(&out[0], &[2, 3, 2], &want);
        // x4 = arange(16).reshape(1, 4, 2, 2) ** 1.5 / 7, two groups; numpy per the function bodies.
        let x4 = f32s(&[1, 4, 2, 2], &(0..16).map(|i| (i as f32).powf(1.5) / 7.0).collect::<Vec<_>>());
        let n = || node("GroupNormalization", 1).with_attr("num_groups", 2i64);
        let out =
            run_node(n(), 18, vec![Some(x4.clone()), Some(f32s(&[2], &[2.0, 0.5])), Some(f32s(&[2], &[1.0, -1.0]))])
                .unwrap();
        let want = [
            -1.4572017192840576,
            -1.137160301208496,
            -0.5519881248474121,
            0.20578187704086304,
            1.1031289100646973,
            2.120968818664551,
            3.2464256286621094,
            4.470046043395996,
            -1.7287766933441162,
            -1.5408203601837158,
            -1.3421094417572021,
            -1.1331971883773804,
            -0.9145593643188477,
            -0.6866112947463989,
            -0.4497182369232178,
            -0.20420628786087036,
        ];
        close(&out[0], &[1, 4, 2, 2], &want);
        let (s4, b4) = (f32s(&[4], &[1.0, 2.0, 3.0, 4.0]), f32s(&[4], &[0.0, 0.1, 0.2, 0.3]));
        let out = run_node(n(), 21, vec![Some(x4.clone()), Some(s4), Some(b4)]).unwrap();
        let want = [
            -1.2286008596420288,
            -1.068580150604248,
            -0.775994062423706,
            -0.3971090614795685,
            0.2031288892030716,
            1.2209689617156982,
            2.3464255332946777,
            3.5700459480285645,
            -4.172660827636719,
            -3.044922113418579,
            -1.8526561260223389,
            -0.5991832613945007,
            0.9835251569747925,
            2.8071093559265137,
            4.702254295349121,
            6.6663498878479,
        ];
        close(&out[0], &[1, 4, 2, 2], &want);
        // Opset 21 wants per-channel parameters; num_groups must divide C.
        assert!(
            run_node(n(), 21, vec![Some(x4.clone()), Some(f32s(&[2], &[1.0; 2])), Some(f32s(&[2], &[0.0; 2]))])
                .is_err()
        );
        let n3 = node("GroupNormalization", 1).with_attr("num_groups", 3i64);
        assert!(run_node(n3, 21, vec![Some(x4), Some(f32s(&[4], &[1.0; 4])), Some(f32s(&[4], &[0.0; 4]))]).is_err());
    }

    #[test]
    fn lp_and_mvn() {
        // p=1 along axis 0 with a zero column (-> 0), numpy; p=2 default via onnx.reference.
        let xl = f32s(&[2, 3], &[1.0, -2.0, 0.0, 3.0, 4.0, 0.0]);
        let n = node("LpNormalization", 1).with_attr("p", 1i64).with_attr("axis", 0i64);
        let out = run_node(n, 22, vec![Some(xl.clone())]).unwrap();
        close(&out[0], &[2, 3], &[0.25, -0.3333333432674408, 0.0, 0.75, 0.6666666865348816, 0.0]);
        let out = run_node(node("LpNormalization", 1), 22, vec![Some(xl.clone())]).unwrap();
        close(
            &out[0],
            &[2, 3],
            &[0.4472135901451111, -0.8944271802902222, 0.0, 0.6000000238418579, 0.800000011920929, 0.0],
        );
        assert!(run_node(node("LpNormalization", 1).with_attr("p", 3i64), 22, vec![Some(xl)]).is_err());
        // onnx.reference MeanVarianceNormalization, default axes and axes=[1, 3].
        let xm = [3., 1., 4., 1., 5., 9., 2., 6., 5., 3., 5., 8., 9., 7., 9., 3.];
        let xm = f32s(&[2, 2, 2, 2], &xm);
        let out = run_node(node("MeanVarianceNormalization", 1), 13, vec![Some(xm.clone())]).unwrap();
        let want = [
            -0.3464101552963257,
            -1.2701705694198608,
            0.1154700443148613,
            -1.2701705694198608,
            -0.48336827754974365,
            1.0634101629257202,
            -1.6434520483016968,
            -0.09667365252971649,
            0.5773502588272095,
            -0.3464101552963257,
            0.5773502588272095,
            1.9629907608032227,
            1.0634101629257202,
            0.29002097249031067,
            1.0634101629257202,
            -1.2567574977874756,
        ];
        close(&out[0], &[2, 2, 2, 2], &want);
        let n = node("MeanVarianceNormalization", 1).with_attr("axes", vec![1i64, 3]);
        let out = run_node(n, 13, vec![Some(xm)]).unwrap();
        let want = [
            -0.5070925354957581,
            -1.183215856552124,
            0.39056673645973206,
            -1.1717002391815186,
            0.16903084516525269,
            1.5212775468826294,
            -0.6509445905685425,
            1.4320780038833618,
            -0.4472135901451111,
            -1.3416407108306885,
            -0.5241423845291138,
            0.7337993383407593,
            1.3416407108306885,
            0.4472135901451111,
            1.1531132459640503,
            -1.3627701997756958,
        ];
        close(&out[0], &[2, 2, 2, 2], &want);
    }

    #[test]
    fn rms_norm_output_takes_scale_type() {
        // onnx.reference with an f32 scale, then cast to f16 (Y has the scale's type V).
        let scale = Tensor::F16(array(&[2], vec![half::f16::ONE, half::f16::from_f32(0.5)]).unwrap());
        let out = run_node(node("RMSNormalization", 1), 23, vec![Some(x()), Some(scale)]).unwrap();
        assert_eq!(out[0].dtype(), DType::F16);
        let want = [
            0.63232421875,
            -0.63232421875,
            0.78466796875,
            0.58837890625,
            -0.447265625,
            0.6708984375,
            1.4140625,
            0.0,
            -1.2646484375,
            0.316162109375,
            0.9052734375,
            -0.54345703125,
        ];
        close(&out[0], &[2, 3, 2], &want);
    }
}
