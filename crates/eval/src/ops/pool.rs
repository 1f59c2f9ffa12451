//! Pooling: MaxPool, AveragePool, LpPool, their Global forms, MaxRoiPool
//! and MaxUnpool.
//!
//! Windows are precomputed per spatial axis (the input offsets each output
//! index reads, padding dropped), so every output visits only real input
//! elements. Averages and Lp norms compute in f32 for f16/bf16; max pooling
//! compares in the input type.
//!
//! Opset history: MaxPool 1, 8 (storage_order, Indices output), 10
//! (ceil_mode, dilations), 11, 12 (int8/uint8), 22; AveragePool 1, 7
//! (count_include_pad), 10 (ceil_mode), 11, 19 (dilations), 22; LpPool 1
//! (float p), 2 (integer p), 11, 18 (ceil_mode, dilations), 22; GlobalLpPool
//! 1 (float p), 2; MaxUnpool 9, 11 (output_shape input), 22; MaxRoiPool 1, 22.
//! Attributes added later default to the old behaviour, so they are read at
//! every opset; `p` is accepted as float or integer.

use super::conv::{
    AutoPad, FloatKernel, Gemm, contig, dispatch_float, extent, ints_attr, numel, steps_attr, to_dim, window_count,
};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the pooling ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("MaxPool", max_pool);
    r.add("AveragePool", average_pool);
    r.add("LpPool", lp_pool);
    r.add("GlobalMaxPool", global_max_pool);
    r.add("GlobalAveragePool", global_average_pool);
    r.add("GlobalLpPool", global_lp_pool);
    r.add("MaxRoiPool", max_roi_pool);
    r.add("MaxUnpool", max_unpool);
}

/// The in-image taps of one window along one axis: `count` input offsets
/// from `first`, `step` apart.
#[derive(Debug, Clone, Copy, Default)]
struct Taps {
    first: usize,
    count: usize,
    step: usize,
}

/// The windows along one spatial axis.
#[derive(Debug)]
struct Axis {
    /// Per output index: its in-image taps (offsets within a plane).
    taps: Vec<Taps>,
    /// Per output index: window positions inside the padded input (the
    /// divisor of AveragePool with count_include_pad).
    padded: Vec<usize>,
}

/// A pooling over `planes` planes of spatial shape `image`.
#[derive(Debug)]
struct Pool {
    planes: usize,
    image: Vec<usize>,
    out: Vec<usize>,
    axes: Vec<Axis>,
}

/// `ceil(a / b)` for `b > 0`, clamped to `0..=hi`.
fn ceil_div_clamped(a: i128, b: i128, hi: usize) -> usize {
    if a <= 0 { 0 } else { ((a + b - 1) / b).min(hi as i128) as usize }
}

impl Pool {
    fn in_len(&self) -> usize {
        self.image.iter().product()
    }
    fn out_len(&self) -> usize {
        self.out.iter().product()
    }

    /// Builds the windows for start/end pads; each window is an arithmetic
    /// progression per axis, so this costs O(outputs) whatever the kernel.
    fn new(
        x: &[usize],
        out: Vec<usize>,
        kernel: &[usize],
        strides: &[usize],
        dilations: &[usize],
        pads: &[(i128, i128)],
    ) -> Result<Self> {
        let image = x[2..].to_vec();
        numel(&[x[0], x[1]].into_iter().chain(out.iter().copied()).collect::<Vec<_>>())?;
        let mut plane_stride = 1usize;
        let mut axes = Vec::with_capacity(image.len());
        for d in (0..image.len()).rev() {
            let (len, (pb, pe)) = (image[d] as i128, pads[d]);
            let (k, dil) = (kernel[d], dilations[d] as i128);
            let mut axis = Axis { taps: Vec::with_capacity(out[d]), padded: Vec::with_capacity(out[d]) };
            for o in 0..out[d] {
                // Tap j reads index start + j * dil; keep those inside the image.
                let start = (o * strides[d]) as i128 - pb;
                let lo = ceil_div_clamped(-start, dil, k);
                let hi = ceil_div_clamped(len - start, dil, k).max(lo);
                let first = if hi > lo { (start + lo as i128 * dil) as usize * plane_stride } else { 0 };
                axis.taps.push(Taps { first, count: hi - lo, step: dilations[d] * plane_stride });
                // Taps start at -pb at the earliest; those before len + pe count as padded input.
                axis.padded.push(ceil_div_clamped(len + pe - start, dil, k));
            }
            axes.push(axis);
            plane_stride *= image[d];
        }
        axes.reverse();
        Ok(Pool { planes: x[0] * x[1], image, out, axes })
    }

    /// One window covering each whole plane (the Global pools).
    fn global(x: &[usize]) -> Result<Self> {
        if x.len() < 2 {
            bail!("the input must have rank >= 2 (N, C, spatial...), got shape {x:?}");
        }
        let nd = x.len() - 2;
        let kernel = &x[2..];
        Pool::new(x, vec![1; nd], kernel, &vec![1; nd], &vec![1; nd], &vec![(0, 0); nd])
    }

    /// Calls `f(out_index, window, padded_count)` for each output position
    /// of a plane; `window` holds each axis' taps.
    fn for_each_window(&self, mut f: impl FnMut(usize, &[Taps], usize)) {
        let nd = self.out.len();
        let mut idx = vec![0usize; nd];
        let mut win = vec![Taps::default(); nd];
        for o in 0..self.out_len() {
            let mut padded = 1;
            for d in 0..nd {
                win[d] = self.axes[d].taps[idx[d]];
                padded *= self.axes[d].padded[idx[d]];
            }
            f(o, &win, padded);
            super::conv::next_index(&mut idx, &self.out);
        }
    }
}

/// Calls `f(base + offset)` for every element of the window (one tap per
/// axis, offsets summed); unrolled for the usual 1–3 axes.
#[inline]
fn visit(win: &[Taps], base: usize, f: &mut impl FnMut(usize)) {
    let at = |t: &Taps, i: usize| t.first + i * t.step;
    match win {
        [] => f(base),
        [a] => (0..a.count).for_each(|i| f(base + at(a, i))),
        [a, b] => {
            for i in 0..a.count {
                let ba = base + at(a, i);
                (0..b.count).for_each(|j| f(ba + at(b, j)));
            }
        }
        [a, b, c] => {
            for i in 0..a.count {
                for j in 0..b.count {
                    let bb = base + at(a, i) + at(b, j);
                    (0..c.count).for_each(|k| f(bb + at(c, k)));
                }
            }
        }
        [a, rest @ ..] => {
            for i in 0..a.count {
                visit(rest, base + at(a, i), f);
            }
        }
    }
}

/// Reads the attributes of MaxPool, AveragePool and LpPool and builds the windows.
fn pool_params(ctx: &Ctx<'_>, x: &[usize]) -> Result<Pool> {
    if x.len() < 3 {
        bail!("the input must have rank >= 3 (N, C, spatial...), got shape {x:?}");
    }
    let nd = x.len() - 2;
    let kernel = kernel_attr(ctx, nd)?;
    let strides = steps_attr(ctx, "strides", nd)?;
    let dilations = steps_attr(ctx, "dilations", nd)?;
    let pads = ints_attr(ctx, "pads", 2 * nd, 0, 0)?;
    let auto_pad = AutoPad::read(ctx)?;
    // ceil_mode leaves the SAME shapes alone (the spec's ceil and floor
    // formulas agree there); VALID rounds up like zero explicit pads, as onnx
    // shape inference and onnxruntime do (the spec's VALID formula does not).
    let ceil = ctx.int("ceil_mode", 0)? != 0 && !auto_pad.is_same();
    let mut out = Vec::with_capacity(nd);
    let mut both = Vec::with_capacity(nd);
    for d in 0..nd {
        let (i, s, ke) = (x[d + 2] as i128, strides[d] as i128, extent(kernel[d], dilations[d]));
        let (o, pb, pe) = match auto_pad {
            AutoPad::SameUpper | AutoPad::SameLower => {
                let o = (i + s - 1) / s;
                let (pb, pe) = auto_pad.split(((o - 1) * s + ke - i).max(0));
                (o, pb, pe)
            }
            _ => {
                let (pb, pe) = match auto_pad {
                    AutoPad::Valid => (0, 0),
                    _ => (i128::from(pads[d]), i128::from(pads[nd + d])),
                };
                let span = i + pb + pe - ke;
                let mut o = if ceil && span > 0 { (span + s - 1) / s + 1 } else { window_count(span, s, d)? };
                // A last window starting in the end padding is dropped.
                if ceil && (o - 1) * s >= i + pb {
                    o -= 1;
                }
                (o, pb, pe)
            }
        };
        out.push(to_dim(o, "the output size")?);
        both.push((pb, pe));
    }
    Pool::new(x, out, &kernel, &strides, &dilations, &both)
}

/// The required `kernel_shape` attribute: `nd` positive values.
fn kernel_attr(ctx: &Ctx<'_>, nd: usize) -> Result<Vec<usize>> {
    if ctx.ints("kernel_shape")?.is_none_or(|k| k.is_empty()) {
        bail!("the kernel_shape attribute is required");
    }
    steps_attr(ctx, "kernel_shape", nd)
}

/// Output shape `[n, c, out...]` of a pool on input shape `x`.
fn pooled_shape(x: &[usize], p: &Pool) -> Vec<usize> {
    x[..2].iter().chain(&p.out).copied().collect()
}

// ---------------------------------------------------------------------------
// Max pooling.

/// Element types max pooling compares in place.
trait MaxElem: Copy + PartialOrd + Default {
    /// Whether this is a NaN (never for integers).
    fn nan(self) -> bool;
}

macro_rules! max_int {
    ($($t:ty),*) => {$(impl MaxElem for $t { fn nan(self) -> bool { false } })*};
}
macro_rules! max_float {
    ($($t:ty),*) => {$(impl MaxElem for $t { fn nan(self) -> bool { self.is_nan() } })*};
}
max_int!(i8, i16, i32, i64, u8, u16, u32, u64);
max_float!(f32, f64, half::f16, half::bf16);

/// The maximum of each window and, when `indices` is set, its flat index
/// (row-major, or column-major within the plane when `col_major`). NaNs lose
/// to numbers; an empty window gives 0 and index -1.
fn max_windows<T: MaxElem>(x: &[T], p: &Pool, indices: bool, col_major: bool) -> (Vec<T>, Vec<i64>) {
    let (in_len, out_len) = (p.in_len(), p.out_len());
    let mut y = vec![T::default(); p.planes * out_len];
    let mut ix = if indices { vec![-1i64; y.len()] } else { Vec::new() };
    let mut pos = vec![0usize; p.image.len()];
    for plane in 0..p.planes {
        let xs = &x[plane * in_len..][..in_len];
        let ys = &mut y[plane * out_len..][..out_len];
        p.for_each_window(|o, win, _| {
            let (mut best, mut at) = (T::default(), usize::MAX);
            visit(win, 0, &mut |off| {
                let v = xs[off];
                if at == usize::MAX || v > best || (best.nan() && !v.nan()) {
                    (best, at) = (v, off);
                }
            });
            if at != usize::MAX {
                let off = at;
                ys[o] = best;
                if indices {
                    let flat = if col_major {
                        super::conv::unravel(off, &p.image, &mut pos);
                        pos.iter().zip(&p.image).rev().fold(0, |acc, (&i, &d)| acc * d + i)
                    } else {
                        off
                    };
                    ix[plane * out_len + o] = (plane * in_len + flat) as i64;
                }
            }
        });
    }
    (y, ix)
}

/// MaxPool (opsets 1, 8, 10, 11, 12, 22): floats and 8-bit integers (any
/// numeric type is accepted); the optional second output holds the indices.
fn max_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let p = pool_params(ctx, x.shape())?;
    let col_major = match ctx.int("storage_order", 0)? {
        0 => false,
        1 => true,
        v => bail!("storage_order must be 0 or 1, got {v}"),
    };
    let want_idx = ctx.node.outputs.get(1).is_some_and(|o| !o.is_empty());
    let shape = pooled_shape(x.shape(), &p);
    let mut idx = Vec::new();
    let y = crate::map_num!(x, a => {
        let (y, ix) = max_windows(&contig(a), &p, want_idx, col_major);
        idx = ix;
        array(&shape, y)?
    })?;
    let mut out = vec![Value::Tensor(y)];
    if want_idx {
        out.push(Value::Tensor(Tensor::I64(array(&shape, idx)?)));
    }
    Ok(out)
}

/// GlobalMaxPool (opsets 1, 22).
fn global_max_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let p = Pool::global(x.shape())?;
    let shape = pooled_shape(x.shape(), &p);
    let y = crate::map_num!(x, a => array(&shape, max_windows(&contig(a), &p, false, false).0)?)?;
    Ok(vec![Value::Tensor(y)])
}

// ---------------------------------------------------------------------------
// Average and Lp pooling.

/// What a float pool computes per window.
#[derive(Debug, Clone, Copy)]
enum Reduce {
    /// Mean; divides by the padded window size when `count_pad`.
    Avg { count_pad: bool },
    /// `(sum |x|^p)^(1/p)`.
    Lp(f64),
}

struct FloatPool<'a> {
    pool: &'a Pool,
    reduce: Reduce,
}

impl FloatKernel for FloatPool<'_> {
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>> {
        let Some(x) = ins[0] else { bail!("internal error: missing input") };
        let p = self.pool;
        let (in_len, out_len) = (p.in_len(), p.out_len());
        let mut y = vec![T::zero(); p.planes * out_len];
        let cast = |v: f64| T::from(v).unwrap_or_else(T::nan);
        for plane in 0..p.planes {
            let xs = &x[plane * in_len..][..in_len];
            let ys = &mut y[plane * out_len..][..out_len];
            match self.reduce {
                Reduce::Avg { count_pad } => p.for_each_window(|o, win, padded| {
                    let (mut sum, mut count) = (T::zero(), 0usize);
                    visit(win, 0, &mut |off| {
                        sum = sum + xs[off];
                        count += 1;
                    });
                    ys[o] = sum / cast(if count_pad { padded } else { count } as f64);
                }),
                Reduce::Lp(2.0) => p.for_each_window(|o, win, _| {
                    let mut sum = T::zero();
                    visit(win, 0, &mut |off| sum = sum + xs[off] * xs[off]);
                    ys[o] = sum.sqrt();
                }),
                Reduce::Lp(1.0) => p.for_each_window(|o, win, _| {
                    let mut sum = T::zero();
                    visit(win, 0, &mut |off| sum = sum + xs[off].abs());
                    ys[o] = sum;
                }),
                Reduce::Lp(pw) => {
                    let (e, inv) = (cast(pw), cast(1.0 / pw));
                    p.for_each_window(|o, win, _| {
                        let mut sum = T::zero();
                        visit(win, 0, &mut |off| sum = sum + xs[off].abs().powf(e));
                        ys[o] = sum.powf(inv);
                    })
                }
            }
        }
        Ok(vec![y])
    }
}

/// Runs a float pool on input 0.
fn float_pool(x: &Tensor, p: &Pool, reduce: Reduce) -> Result<Vec<Value>> {
    let shape = pooled_shape(x.shape(), p);
    dispatch_float(&FloatPool { pool: p, reduce }, &[Some(x)], &[shape])
}

/// AveragePool (opsets 1, 7, 10, 11, 19, 22).
fn average_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let p = pool_params(ctx, x.shape())?;
    float_pool(x, &p, Reduce::Avg { count_pad: ctx.int("count_include_pad", 0)? != 0 })
}

/// GlobalAveragePool (opsets 1, 22).
fn global_average_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    float_pool(x, &Pool::global(x.shape())?, Reduce::Avg { count_pad: false })
}

/// The `p` attribute: a float before opset 2, an integer since.
fn p_attr(ctx: &Ctx<'_>) -> Result<f64> {
    let p = match ctx.node.attr("p") {
        Some(ir::Attribute::Float(f)) => f64::from(*f),
        _ => ctx.int("p", 2)? as f64,
    };
    if !(p > 0.0 && p.is_finite()) {
        bail!("p must be positive, got {p}");
    }
    Ok(p)
}

/// LpPool (opsets 1, 2, 11, 18, 22).
fn lp_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let p = pool_params(ctx, x.shape())?;
    float_pool(x, &p, Reduce::Lp(p_attr(ctx)?))
}

/// GlobalLpPool (opsets 1, 2, 22).
fn global_lp_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    float_pool(x, &Pool::global(x.shape())?, Reduce::Lp(p_attr(ctx)?))
}

// ---------------------------------------------------------------------------
// MaxRoiPool.

/// Max over each of `pooled` bins of each region of interest, as Caffe and
/// onnxruntime do: corners rounded after scaling, at least one pixel per
/// region, empty bins give 0.
fn roi_max<T: MaxElem>(x: &[T], xs: &[usize], rois: &[f32], pooled: (usize, usize), scale: f32) -> Result<Vec<T>> {
    let &[n, c, h, w] = xs else { bail!("the input must have rank 4 (N, C, H, W), got {xs:?}") };
    let (ph, pw) = pooled;
    let r = rois.len() / 5;
    let mut y = vec![T::default(); numel(&[r, c, ph, pw])?];
    let plane = h * w;
    for (ri, roi) in rois.chunks_exact(5).enumerate() {
        let batch = roi[0];
        if !(batch >= 0.0 && (batch as usize) < n) {
            bail!("region {ri} names batch {batch}, the input has {n}");
        }
        // Saturating float casts, clamped so the sums below cannot overflow.
        let corner = |v: f32| ((v * scale).round() as i64).clamp(-(1 << 40), 1 << 40);
        let (x0, y0, x1, y1) = (corner(roi[1]), corner(roi[2]), corner(roi[3]), corner(roi[4]));
        let bin_h = (y1 - y0 + 1).max(1) as f32 / ph as f32;
        let bin_w = (x1 - x0 + 1).max(1) as f32 / pw as f32;
        let clamp_h = |v: f32, off: i64| (v as i64 + off).clamp(0, h as i64) as usize;
        let clamp_w = |v: f32, off: i64| (v as i64 + off).clamp(0, w as i64) as usize;
        for ch in 0..c {
            let img = &x[(batch as usize * c + ch) * plane..][..plane];
            let out = &mut y[(ri * c + ch) * ph * pw..][..ph * pw];
            for i in 0..ph {
                let hs = clamp_h((i as f32 * bin_h).floor(), y0);
                let he = clamp_h(((i + 1) as f32 * bin_h).ceil(), y0);
                for j in 0..pw {
                    let ws = clamp_w((j as f32 * bin_w).floor(), x0);
                    let we = clamp_w(((j + 1) as f32 * bin_w).ceil(), x0);
                    let mut best: Option<T> = None;
                    for row in img[hs * w..he.max(hs) * w].chunks_exact(w) {
                        for &v in &row[ws..we.max(ws)] {
                            if best.is_none_or(|b| v > b || (b.nan() && !v.nan())) {
                                best = Some(v);
                            }
                        }
                    }
                    out[i * pw + j] = best.unwrap_or_default();
                }
            }
        }
    }
    Ok(y)
}

/// MaxRoiPool (opsets 1, 22).
fn max_roi_pool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rois_t = ctx.input(inputs, 1)?;
    if rois_t.dtype() != x.dtype() {
        bail!("rois are {} but the input is {}", rois_t.dtype(), x.dtype());
    }
    let &[r, 5] = rois_t.shape() else { bail!("rois must have shape [num_rois, 5], got {:?}", rois_t.shape()) };
    let rois: Vec<f32> = rois_t.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
    let Some(pooled) = ctx.ints("pooled_shape")? else { bail!("the pooled_shape attribute is required") };
    let &[ph, pw] = pooled.as_slice() else { bail!("pooled_shape must have 2 values, got {pooled:?}") };
    if ph < 1 || pw < 1 {
        bail!("pooled_shape {pooled:?} must be positive");
    }
    let scale = ctx.float("spatial_scale", 1.0)?;
    let pooled = (ph as usize, pw as usize);
    let xs = x.shape();
    let shape = [r, xs.get(1).copied().unwrap_or(0), pooled.0, pooled.1];
    let y = crate::map_float!(x, a => array(&shape, roi_max(&contig(a), xs, &rois, pooled, scale)?)?)?;
    Ok(vec![Value::Tensor(y)])
}

// ---------------------------------------------------------------------------
// MaxUnpool.

/// MaxUnpool (opsets 9, 11, 22): scatters X to the flat indices I of a
/// zero tensor of the shape MaxPool's input would have had. A larger
/// `output_shape` embeds that tensor at the start of each axis, as onnx's
/// reference and backend tests do.
fn max_unpool(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let ind = ctx.input(inputs, 1)?;
    let out_shape = ctx.opt_input(inputs, 2)?;
    let xs = x.shape().to_vec();
    if xs.len() < 3 {
        bail!("the input must have rank >= 3 (N, C, spatial...), got shape {xs:?}");
    }
    if ind.shape() != xs.as_slice() {
        bail!("indices of shape {:?} do not match the input of shape {xs:?}", ind.shape());
    }
    let Tensor::I64(ind) = ind else { bail!("indices must be int64, got {}", ind.dtype()) };
    let nd = xs.len() - 2;
    let kernel = kernel_attr(ctx, nd)?;
    let strides = steps_attr(ctx, "strides", nd)?;
    let pads = ints_attr(ctx, "pads", 2 * nd, 0, 0)?;
    let mut inferred = xs[..2].to_vec();
    for d in 0..nd {
        let v = (xs[d + 2] as i128 - 1) * strides[d] as i128 - i128::from(pads[d] + pads[nd + d]) + kernel[d] as i128;
        inferred.push(to_dim(v, "the unpooled size")?);
    }
    let shape = match out_shape {
        None => inferred.clone(),
        Some(t) => {
            let s = crate::util::dims(&t.to_i64_vec()?)?;
            if s.len() != xs.len() || s[..2] != xs[..2] || s.iter().zip(&inferred).any(|(a, b)| a < b) {
                bail!("output_shape {s:?} must keep N and C and cover the unpooled shape {inferred:?}");
            }
            s
        }
    };
    let total = numel(&inferred)?;
    numel(&shape)?;
    let ind = contig(ind);
    if let Some(bad) = ind.iter().find(|&&i| i < 0 || i as u64 >= total as u64) {
        bail!("index {bad} is outside the unpooled tensor of shape {inferred:?}");
    }
    fn scatter<T: Copy + Default>(
        x: &[T],
        ind: &[i64],
        inferred: &[usize],
        shape: &[usize],
        total: usize,
    ) -> Result<ndarray::ArrayD<T>> {
        let mut y = vec![T::default(); total];
        for (&v, &i) in x.iter().zip(ind) {
            y[i as usize] = v;
        }
        let y = array(inferred, y)?;
        if inferred == shape {
            return Ok(y);
        }
        let mut out = ndarray::ArrayD::from_elem(ndarray::IxDyn(shape), T::default());
        let region: Vec<ndarray::SliceInfoElem> = inferred.iter().map(|&d| (0..d).into()).collect();
        out.slice_mut(region.as_slice()).assign(&y);
        Ok(out)
    }
    let y = crate::map_float!(x, a => scatter(&contig(a), &ind, &inferred, &shape, total)?)?;
    Ok(vec![Value::Tensor(y)])
}

#[cfg(test)]
mod tests {
    use super::super::conv::tests::{close, run_node, t32};
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|v| v as f32).collect()
    }

    fn node(op: &str, outs: &[&str]) -> ir::Node {
        ir::Node::new(op, ["x"], outs.iter().copied())
    }

    #[test]
    fn max_pool_indices_and_storage_order() {
        // onnx test_maxpool_with_argmax_2d_precomputed_pads / _strides.
        let x = t32(&[1, 1, 5, 5], (1..=25).map(|v| v as f32).collect());
        let n = node("MaxPool", &["y", "i"]).with_attr("kernel_shape", vec![5i64, 5]).with_attr("pads", vec![2i64; 4]);
        let y = run_node(n, 12, vec![("x", x.clone())]).unwrap();
        #[rustfmt::skip]
        let want = [13., 14., 15., 15., 15., 18., 19., 20., 20., 20., 23., 24., 25., 25., 25., 23., 24., 25., 25., 25.,
            23., 24., 25., 25., 25.];
        close(&y[0], &[1, 1, 5, 5], &want);
        #[rustfmt::skip]
        let idx = vec![12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24];
        assert_eq!(y[1], Tensor::I64(array(&[1, 1, 5, 5], idx).unwrap()));
        let n = node("MaxPool", &["y", "i"])
            .with_attr("kernel_shape", vec![2i64, 2])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("storage_order", 1i64);
        let y = run_node(n, 12, vec![("x", x)]).unwrap();
        close(&y[0], &[1, 1, 2, 2], &[7., 9., 17., 19.]);
        assert_eq!(y[1], Tensor::I64(array(&[1, 1, 2, 2], vec![6, 16, 8, 18]).unwrap()));
    }

    #[test]
    fn max_pool_ceil_dilation_u8_same() {
        // onnx test_maxpool_2d_ceil: 4x4, kernel 3, stride 2, ceil.
        let x = t32(&[1, 1, 4, 4], (1..=16).map(|v| v as f32).collect());
        let n = node("MaxPool", &["y"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("ceil_mode", 1i64);
        close(&run_node(n, 12, vec![("x", x.clone())]).unwrap()[0], &[1, 1, 2, 2], &[11., 12., 15., 16.]);
        // onnx test_maxpool_2d_dilations.
        let n = node("MaxPool", &["y"]).with_attr("kernel_shape", vec![2i64, 2]).with_attr("dilations", vec![2i64, 2]);
        close(&run_node(n, 12, vec![("x", x)]).unwrap()[0], &[1, 1, 2, 2], &[11., 12., 15., 16.]);
        // onnx test_maxpool_2d_uint8 (5x5, kernel 5, pads 2), first row.
        let x = Tensor::U8(array(&[1, 1, 5, 5], (1..=25).collect()).unwrap());
        let n = node("MaxPool", &["y"]).with_attr("kernel_shape", vec![5i64, 5]).with_attr("pads", vec![2i64; 4]);
        let y = run_node(n, 12, vec![("x", x)]).unwrap();
        let Tensor::U8(a) = &y[0] else { panic!("expected u8") };
        assert_eq!(a.iter().take(5).copied().collect::<Vec<_>>(), vec![13, 14, 15, 15, 15]);
        // VALID with ceil_mode rounds up (onnxruntime, onnx shape inference).
        let x = t32(&[1, 1, 5], ramp(5));
        let n = node("MaxPool", &["y"])
            .with_attr("kernel_shape", vec![2i64])
            .with_attr("strides", vec![2i64])
            .with_attr("auto_pad", "VALID")
            .with_attr("ceil_mode", 1i64);
        close(&run_node(n, 19, vec![("x", x)]).unwrap()[0], &[1, 1, 3], &[1., 3., 4.]);
        // SAME_LOWER 1-D: pads (1, 0) for kernel 2.
        let x = t32(&[1, 1, 4], vec![3., 1., 4., 1.]);
        let n = node("MaxPool", &["y"]).with_attr("kernel_shape", vec![2i64]).with_attr("auto_pad", "SAME_LOWER");
        close(&run_node(n, 12, vec![("x", x)]).unwrap()[0], &[1, 1, 4], &[3., 3., 4., 4.]);
    }

    #[test]
    fn average_pool_padding_modes() {
        // onnx test_averagepool_2d_pads and _count_include_pad (first row).
        let x = t32(&[1, 1, 5, 5], (1..=25).map(|v| v as f32).collect());
        let n = node("AveragePool", &["y"]).with_attr("kernel_shape", vec![5i64, 5]).with_attr("pads", vec![2i64; 4]);
        let y = run_node(n.clone(), 19, vec![("x", x.clone())]).unwrap();
        let Tensor::F32(a) = &y[0] else { panic!() };
        assert_eq!(a.shape(), &[1, 1, 5, 5]);
        let row: Vec<f32> = a.iter().take(5).copied().collect();
        close(&t32(&[5], row), &[5], &[7., 7.5, 8., 8.5, 9.]);
        let n = n.with_attr("count_include_pad", 1i64);
        let y = run_node(n, 19, vec![("x", x)]).unwrap();
        let Tensor::F32(a) = &y[0] else { panic!() };
        let row: Vec<f32> = a.iter().take(5).copied().collect();
        close(&t32(&[5], row), &[5], &[2.52, 3.6, 4.8, 4.08, 3.24]);
        // onnx test_averagepool_2d_ceil_last_window_starts_on_pad (first channel).
        let x = t32(&[1, 1, 2, 2], vec![0.858, 0.0786, 0.2692, 0.1537]);
        let n = node("AveragePool", &["y"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("strides", vec![3i64, 3])
            .with_attr("pads", vec![1i64; 4])
            .with_attr("ceil_mode", 1i64)
            .with_attr("count_include_pad", 1i64);
        close(&run_node(n, 19, vec![("x", x)]).unwrap()[0], &[1, 1, 1, 1], &[0.151056]);
    }

    #[test]
    fn average_pool_dilated_ceil_f16() {
        // onnx test_averagepool_2d_dilations, in f16.
        let x = Tensor::F16(array(&[1, 1, 4, 4], (1..=16).map(|v| half::f16::from_f32(v as f32)).collect()).unwrap());
        let n = node("AveragePool", &["y"])
            .with_attr("kernel_shape", vec![2i64, 2])
            .with_attr("dilations", vec![2i64, 2])
            .with_attr("ceil_mode", 1i64);
        let y = run_node(n, 19, vec![("x", x)]).unwrap();
        let want = [6., 7., 10., 11.].map(half::f16::from_f32).to_vec();
        assert_eq!(y[0], Tensor::F16(array(&[1, 1, 2, 2], want).unwrap()));
    }

    #[test]
    fn lp_pool_and_globals() {
        // onnx ReferenceEvaluator and onnxruntime: LpPool p=3, pads 1, stride 2 on a 1x1x3x3 ramp.
        let x = t32(&[1, 1, 3, 3], ramp(9));
        let n = node("LpPool", &["y"])
            .with_attr("kernel_shape", vec![2i64, 2])
            .with_attr("pads", vec![1i64; 4])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("p", 3i64);
        close(
            &run_node(n, 18, vec![("x", x.clone())]).unwrap()[0],
            &[1, 1, 2, 2],
            &[0.0, 2.0800838, 6.2402515, 10.144567],
        );
        let y = run_node(node("GlobalAveragePool", &["y"]), 22, vec![("x", x.clone())]).unwrap();
        close(&y[0], &[1, 1, 1, 1], &[4.0]);
        let y = run_node(node("GlobalMaxPool", &["y"]), 22, vec![("x", x.clone())]).unwrap();
        close(&y[0], &[1, 1, 1, 1], &[8.0]);
        let y = run_node(node("GlobalLpPool", &["y"]), 22, vec![("x", x)]).unwrap();
        close(&y[0], &[1, 1, 1, 1], &[14.282857]);
    }

    #[test]
    fn max_roi_pool_case() {
        // onnxruntime: 1x1x4x4 ramp, two regions, pooled 2x2, spatial_scale 0.5.
        let x = t32(&[1, 1, 4, 4], ramp(16));
        let rois = t32(&[2, 5], vec![0., 0., 0., 6., 6., 0., 2., 2., 4., 3.]);
        let n = ir::Node::new("MaxRoiPool", ["x", "r"], ["y"])
            .with_attr("pooled_shape", vec![2i64, 2])
            .with_attr("spatial_scale", 0.5f32);
        let y = run_node(n, 22, vec![("x", x), ("r", rois)]).unwrap();
        close(&y[0], &[2, 1, 2, 2], &[5., 7., 13., 15., 5., 6., 9., 10.]);
    }

    #[test]
    fn max_unpool_cases() {
        // onnx test_maxunpool_export_without_output_shape / _with_output_shape.
        let x = t32(&[1, 1, 2, 2], vec![1., 2., 3., 4.]);
        let i = Tensor::i64(&[1, 1, 2, 2], vec![5, 7, 13, 15]).unwrap();
        let n = ir::Node::new("MaxUnpool", ["x", "i"], ["y"])
            .with_attr("kernel_shape", vec![2i64, 2])
            .with_attr("strides", vec![2i64, 2]);
        let y = run_node(n.clone(), 11, vec![("x", x.clone()), ("i", i.clone())]).unwrap();
        let want = [0., 0., 0., 0., 0., 1., 0., 2., 0., 0., 0., 0., 0., 3., 0., 4.];
        close(&y[0], &[1, 1, 4, 4], &want);
        let mut n = n;
        n.inputs.push(Some("s".into()));
        let s = Tensor::i64(&[4], vec![1, 1, 5, 5]).unwrap();
        let y = run_node(n.clone(), 11, vec![("x", x.clone()), ("i", i), ("s", s)]).unwrap();
        #[rustfmt::skip]
        let want = [0., 0., 0., 0., 0., 0., 1., 0., 2., 0., 0., 0., 0., 0., 0., 0., 3., 0., 4., 0.,
            0., 0., 0., 0., 0.];
        close(&y[0], &[1, 1, 5, 5], &want);
        let bad = Tensor::i64(&[1, 1, 2, 2], vec![5, 7, 13, 16]).unwrap();
        let s = Tensor::i64(&[4], vec![1, 1, 5, 5]).unwrap();
        assert!(run_node(n, 11, vec![("x", x), ("i", bad), ("s", s)]).is_err());
    }

    #[test]
    fn pool_speed_resnet_stem() {
        // ResNet's stem pool, 1x64x112x112, 3x3 stride 2 pads 1, with indices.
        let x = t32(&[1, 64, 112, 112], (0..64 * 112 * 112).map(|i| (i % 31) as f32).collect());
        let n = node("MaxPool", &["y", "i"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("pads", vec![1i64; 4]);
        let start = std::time::Instant::now();
        let y = run_node(n, 12, vec![("x", x.clone())]).unwrap();
        println!("MaxPool 1x64x112x112 3x3/2 with indices: {:?}", start.elapsed());
        assert_eq!(y[0].shape(), &[1, 64, 56, 56]);
        let n = node("AveragePool", &["y"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("pads", vec![1i64; 4]);
        let start = std::time::Instant::now();
        run_node(n, 19, vec![("x", x)]).unwrap();
        let took = start.elapsed();
        println!("AveragePool 1x64x112x112 3x3/2: {took:?}");
        assert!(took.as_secs_f64() < 1.0, "too slow: {took:?}");
    }

    #[test]
    fn pool_rejects_bad_attributes() {
        let x = t32(&[1, 1, 3, 3], ramp(9));
        assert!(run_node(node("MaxPool", &["y"]), 12, vec![("x", x.clone())]).is_err());
        let n = node("MaxPool", &["y"]).with_attr("kernel_shape", vec![5i64, 5]);
        assert!(run_node(n, 12, vec![("x", x.clone())]).is_err());
        let n = node("AveragePool", &["y"]).with_attr("kernel_shape", vec![2i64]);
        assert!(run_node(n, 12, vec![("x", x)]).is_err());
    }
}
