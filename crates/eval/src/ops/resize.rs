//! Resampling: Resize, Upsample and GridSample.
//!
//! Resize works one axis at a time (interpolation is separable): each
//! resized axis gets a table of source indices and weights, applied as a
//! weighted sum of whole rows, so N-D linear and cubic cost one pass per
//! axis. Nearest mode is a gather and works for every dtype.
//!
//! Opset history. Upsample-7 takes `scales` as an attribute, Upsample-9 as
//! an input; both (and Resize-10) map coordinates asymmetrically and pick
//! the nearest pixel by truncation when upsampling, ceiling when
//! downsampling. Resize-11 added `roi`, `sizes`, the coordinate
//! transformation modes, `nearest_mode`, cubic mode, `cubic_coeff_a`,
//! `exclude_outside` and `extrapolation_value`; Resize-13 made `roi` and
//! `scales` optional and dropped `tf_half_pixel_for_nn`; Resize-18 added
//! `antialias`, `axes` and `keep_aspect_ratio_policy`; Resize-19 added
//! `half_pixel_symmetric`. GridSample-16 is 2-D with modes bilinear,
//! nearest and bicubic; GridSample-20 is N-D with modes linear, nearest and
//! cubic (the old names are accepted throughout).
//!
//! Where the spec and onnx's reference implementation differ, the backend
//! test data follows the reference: `align_corners` and `tf_crop_and_resize`
//! divide by the fractional output length `scale * length` (not the integer
//! one), and the output length ignores `roi`. Exceptions, where the
//! reference departs from the spec and onnxruntime: pytorch_half_pixel maps
//! a length-1 output to coordinate 0 (the reference uses -0.5), and
//! GridSample's cubic mode applies the padding mode to each tap only, not
//! to the sampling coordinate (as PyTorch does).

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use num_traits::Float;

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, bail, util};

/// Registers Resize, Upsample and GridSample.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Resize", resize);
    r.add("Upsample", upsample);
    r.add("GridSample", grid_sample);
}

/// Outputs larger than this many elements are refused rather than allocated.
const MAX_ELEMENTS: usize = 1 << 32;

/// Interpolation kernels wider than this (tiny antialiased scales) are refused.
const MAX_TAPS: usize = 1 << 16;

/// Element count of `shape`, refusing overflow and absurd sizes (also per
/// dimension: per-axis tables are sized by a dimension even when another is 0).
fn checked_numel(shape: &[usize]) -> Result<usize> {
    match shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
        Some(n) if n <= MAX_ELEMENTS && shape.iter().all(|&d| d <= MAX_ELEMENTS) => Ok(n),
        _ => bail!("output shape {shape:?} is too large"),
    }
}

/// Interpolation mode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

/// `coordinate_transformation_mode`: how output indices map to input coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
    TfCropAndResize,
}

/// How nearest mode rounds a source coordinate to a pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rounding {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
    /// Upsample and Resize-10: truncate when upsampling, ceil when downsampling.
    Legacy,
}

/// Attributes of one Resize/Upsample node.
#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: Mode,
    coord: Coord,
    rounding: Rounding,
    cubic_a: f64,
    exclude_outside: bool,
    extrapolation: f64,
    antialias: bool,
}

/// What happens to one resized axis.
#[derive(Debug, Clone, Copy)]
struct AxisPlan {
    axis: usize,
    in_len: usize,
    out_len: usize,
    scale: f64,
    roi: (f64, f64),
    /// Whether roi arithmetic rounds to f32, as numpy does for an f32 roi.
    roi_f32: bool,
}

impl AxisPlan {
    /// Whether resizing this axis would reproduce it exactly.
    fn is_identity(&self, st: &Settings) -> bool {
        self.scale == 1.0
            && self.out_len == self.in_len
            && (st.coord != Coord::TfCropAndResize || self.roi == (0.0, 1.0))
            && st.coord != Coord::TfHalfPixelForNn
    }

    /// The source coordinate of output index `y`.
    fn source(&self, coord: Coord, y: usize) -> f64 {
        let y = y as f64;
        let (len_in, s) = (self.in_len as f64, self.scale);
        // The fractional output length, as the reference implementation uses it.
        let len_out = s * len_in;
        match coord {
            Coord::HalfPixel => (y + 0.5) / s - 0.5,
            Coord::HalfPixelSymmetric => {
                let adjustment = self.out_len as f64 / len_out;
                let offset = len_in / 2.0 * (1.0 - adjustment);
                offset + (y + 0.5) / s - 0.5
            }
            Coord::PytorchHalfPixel => {
                if self.out_len > 1 {
                    (y + 0.5) / s - 0.5
                } else {
                    0.0
                }
            }
            Coord::AlignCorners => {
                if len_out == 1.0 {
                    0.0
                } else {
                    y * (len_in - 1.0) / (len_out - 1.0)
                }
            }
            Coord::Asymmetric => y / s,
            Coord::TfHalfPixelForNn => (y + 0.5) / s,
            Coord::TfCropAndResize => {
                let (start, end) = self.roi;
                let last = len_in - 1.0;
                // An f32 roi keeps the reference's f32 rounding of the roi
                // terms: nearest mode is sensitive to it at half-way points.
                let (span, base) = if self.roi_f32 {
                    (f64::from(end as f32 - start as f32), f64::from(start as f32 * last as f32))
                } else {
                    (end - start, start * last)
                };
                if len_out == 1.0 {
                    let half =
                        if self.roi_f32 { f64::from(span as f32 * last as f32 / 2.0) } else { span * last / 2.0 };
                    half + base
                } else {
                    y * span * last / (len_out - 1.0) + base
                }
            }
        }
    }

    /// Output positions whose source lies outside the input (tf_crop_and_resize only).
    fn extrapolated(&self, st: &Settings) -> Vec<bool> {
        if st.coord != Coord::TfCropAndResize {
            return Vec::new();
        }
        let hi = self.in_len as f64 - 1.0;
        (0..self.out_len)
            .map(|y| {
                let x = self.source(st.coord, y);
                x < 0.0 || x > hi
            })
            .collect()
    }

    /// The source index nearest mode reads for each output position.
    fn nearest_indices(&self, st: &Settings) -> Result<Vec<usize>> {
        let hi = self.in_len.saturating_sub(1) as f64;
        (0..self.out_len)
            .map(|y| {
                let x = self.source(st.coord, y);
                if !x.is_finite() {
                    bail!("non-finite source coordinate for output index {y} of axis {}", self.axis);
                }
                let f = x.floor();
                let frac = x - f;
                let i = match st.rounding {
                    _ if frac == 0.0 => f,
                    Rounding::PreferFloor => {
                        if frac <= 0.5 {
                            f
                        } else {
                            f + 1.0
                        }
                    }
                    Rounding::PreferCeil => {
                        if frac < 0.5 {
                            f
                        } else {
                            f + 1.0
                        }
                    }
                    Rounding::Floor => f,
                    Rounding::Ceil => f + 1.0,
                    Rounding::Legacy => {
                        if self.scale < 1.0 {
                            x.ceil()
                        } else {
                            x.trunc()
                        }
                    }
                };
                Ok(i.clamp(0.0, hi) as usize)
            })
            .collect()
    }

    /// Interpolation taps (source index and weight, `n` per output position)
    /// for linear and cubic modes. Indices are clamped to the input, which is
    /// the edge padding the spec implies.
    fn taps(&self, st: &Settings) -> Result<Taps> {
        let aa = if st.antialias { self.scale.min(1.0) } else { 1.0 };
        // The kernel's reach, in input pixels, and the first tap's offset
        // from the pixel just below the coordinate.
        let (start, n) = match st.mode {
            Mode::Linear if st.antialias => {
                let s = (-1.0 / aa).floor() + 1.0;
                (s, 2.0 - 2.0 * s)
            }
            Mode::Cubic if st.antialias => {
                let s = (-2.0 / aa).floor() + 1.0;
                (s, 2.0 - 2.0 * s)
            }
            Mode::Linear => (0.0, 2.0),
            _ => (-1.0, 4.0),
        };
        if !(n >= 1.0 && n <= MAX_TAPS as f64) {
            bail!("scale {} of axis {} needs a kernel of {n} taps, too many", self.scale, self.axis);
        }
        let (start, n) = (start as i64, n as usize);
        if self.in_len == 0 {
            // Only an empty output can come from an empty axis (checked in `plan`).
            return Ok(Taps { n, idx: Vec::new(), w: Vec::new() });
        }
        let total = n.checked_mul(self.out_len).filter(|&t| t <= MAX_ELEMENTS);
        let Some(total) = total else { bail!("axis {} needs too many interpolation taps", self.axis) };
        let mut idx = Vec::with_capacity(total);
        let mut w = Vec::with_capacity(total);
        let in_len = self.in_len as i64;
        let hi = self.in_len as f64 - 1.0;
        let mut ws = vec![0.0f64; n];
        for y in 0..self.out_len {
            let x = self.source(st.coord, y);
            if !x.is_finite() {
                bail!("non-finite source coordinate for output index {y} of axis {}", self.axis);
            }
            if st.coord == Coord::TfCropAndResize && (x < 0.0 || x > hi) {
                // Overwritten with the extrapolation value afterwards.
                idx.extend(std::iter::repeat_n(0, n));
                w.extend(std::iter::repeat_n(0.0, n));
                continue;
            }
            // Window of n taps nearest to x, ties going to the lower side.
            let first = x.ceil() as i64 - 1 + start;
            for (j, wj) in ws.iter_mut().enumerate() {
                let d = ((first + j as i64) as f64 - x) * aa;
                *wj = match st.mode {
                    Mode::Cubic => cubic_kernel(d, st.cubic_a),
                    _ => (1.0 - d.abs()).max(0.0),
                };
            }
            if st.antialias {
                normalize(&mut ws);
            }
            if st.exclude_outside {
                for (j, wj) in ws.iter_mut().enumerate() {
                    let s = first + j as i64;
                    if s < 0 || s >= in_len {
                        *wj = 0.0;
                    }
                }
                normalize(&mut ws);
            }
            for (j, &wj) in ws.iter().enumerate() {
                idx.push((first + j as i64).clamp(0, in_len - 1) as usize);
                w.push(wj);
            }
        }
        Ok(Taps { n, idx, w })
    }
}

/// Divides by the sum (left alone when the sum is zero).
fn normalize(ws: &mut [f64]) {
    let sum: f64 = ws.iter().sum();
    if sum != 0.0 {
        ws.iter_mut().for_each(|w| *w /= sum);
    }
}

/// Keys' cubic convolution kernel with parameter `a`.
fn cubic_kernel(d: f64, a: f64) -> f64 {
    let x = d.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Per output position of one axis, `n` source indices and weights.
#[derive(Debug)]
struct Taps {
    n: usize,
    idx: Vec<usize>,
    w: Vec<f64>,
}

/// Applies `taps` along `axis`: each output row is a weighted sum of input rows.
fn interp_axis<F: Float + std::ops::AddAssign>(a: &ArrayD<F>, axis: usize, out_len: usize, taps: &Taps) -> ArrayD<F> {
    let a = a.as_standard_layout();
    let shape = a.shape();
    let outer: usize = shape[..axis].iter().product();
    let in_len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out_shape = shape.to_vec();
    out_shape[axis] = out_len;
    let mut out = vec![F::zero(); outer * out_len * inner];
    let weights: Vec<F> = taps.w.iter().map(|&w| F::from(w).unwrap_or_else(F::zero)).collect();
    let src_all = a.as_slice().unwrap_or(&[]);
    // Empty sizes leave nothing to compute (and a chunk size of zero would
    // panic; found by fuzzing: a TF resize to a zero-sized axis, folded).
    if inner > 0 && in_len > 0 && out_len > 0 {
        for (src, dst) in src_all.chunks_exact(in_len * inner).zip(out.chunks_exact_mut(out_len * inner)) {
            for (j, drow) in dst.chunks_exact_mut(inner).enumerate() {
                let range = j * taps.n..(j + 1) * taps.n;
                for (&i, &w) in taps.idx[range.clone()].iter().zip(&weights[range]) {
                    if w == F::zero() {
                        continue;
                    }
                    let srow = &src[i * inner..(i + 1) * inner];
                    for (d, &s) in drow.iter_mut().zip(srow) {
                        *d += w * s;
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).unwrap_or_else(|_| ArrayD::zeros(IxDyn(&out_shape)))
}

/// Sets every element whose index along a masked axis is flagged to `v`.
fn fill_extrapolated<T: Clone>(a: &mut ArrayD<T>, masks: &[(usize, Vec<bool>)], v: T) {
    for (axis, mask) in masks {
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            a.index_axis_mut(Axis(*axis), i).fill(v.clone());
        }
    }
}

/// Linear or cubic resampling of a float array along every planned axis.
fn interp_all<F: Float + std::ops::AddAssign>(
    a: ArrayViewD<'_, F>,
    plans: &[(AxisPlan, Taps)],
    masks: &[(usize, Vec<bool>)],
    extrapolation: f64,
) -> ArrayD<F> {
    let mut cur = a.to_owned();
    for (p, taps) in plans {
        cur = interp_axis(&cur, p.axis, p.out_len, taps);
    }
    fill_extrapolated(&mut cur, masks, F::from(extrapolation).unwrap_or_else(F::zero));
    cur
}

/// Picks rows `idx` along `axis` (row-major copy of whole inner rows).
fn gather_axis<T: Clone>(a: &ArrayD<T>, axis: usize, idx: &[usize]) -> ArrayD<T> {
    let a = a.as_standard_layout();
    let shape = a.shape();
    let in_len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out_shape = shape.to_vec();
    out_shape[axis] = idx.len();
    let src = a.as_slice().unwrap_or(&[]);
    let mut out = Vec::with_capacity(out_shape.iter().product());
    if in_len > 0 && inner > 0 {
        for block in src.chunks_exact(in_len * inner) {
            for &i in idx {
                out.extend_from_slice(&block[i * inner..(i + 1) * inner]);
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).unwrap_or_else(|_| a.select(Axis(axis), idx))
}

/// Nearest-neighbour gathering along every planned axis.
fn gather_all<T: Clone>(a: &ArrayD<T>, maps: &[(usize, Vec<usize>)]) -> ArrayD<T> {
    let mut cur: Option<ArrayD<T>> = None;
    for (axis, idx) in maps {
        let next = gather_axis(cur.as_ref().unwrap_or(a), *axis, idx);
        cur = Some(next);
    }
    cur.unwrap_or_else(|| a.clone())
}

/// Resamples `x` following `plans` (one per resized axis).
fn resample(x: &Tensor, plans: &[AxisPlan], st: &Settings) -> Result<Tensor> {
    let active: Vec<AxisPlan> = plans.iter().copied().filter(|p| !p.is_identity(st)).collect();
    let masks: Vec<(usize, Vec<bool>)> =
        active.iter().map(|p| (p.axis, p.extrapolated(st))).filter(|(_, m)| m.iter().any(|&b| b)).collect();
    if st.mode == Mode::Nearest {
        let maps: Vec<(usize, Vec<usize>)> =
            active.iter().map(|p| Ok((p.axis, p.nearest_indices(st)?))).collect::<Result<_>>()?;
        let v = st.extrapolation;
        macro_rules! near {
            ($a:expr, $fill:expr) => {{
                let mut out = gather_all($a, &maps);
                if !masks.is_empty() {
                    fill_extrapolated(&mut out, &masks, $fill);
                }
                out
            }};
        }
        return Ok(match x {
            Tensor::F32(a) => Tensor::F32(near!(a, v as f32)),
            Tensor::F64(a) => Tensor::F64(near!(a, v)),
            Tensor::F16(a) => Tensor::F16(near!(a, f16::from_f64(v))),
            Tensor::BF16(a) => Tensor::BF16(near!(a, bf16::from_f64(v))),
            Tensor::I8(a) => Tensor::I8(near!(a, v as i8)),
            Tensor::I16(a) => Tensor::I16(near!(a, v as i16)),
            Tensor::I32(a) => Tensor::I32(near!(a, v as i32)),
            Tensor::I64(a) => Tensor::I64(near!(a, v as i64)),
            Tensor::U8(a) => Tensor::U8(near!(a, v as u8)),
            Tensor::U16(a) => Tensor::U16(near!(a, v as u16)),
            Tensor::U32(a) => Tensor::U32(near!(a, v as u32)),
            Tensor::U64(a) => Tensor::U64(near!(a, v as u64)),
            Tensor::Bool(a) => Tensor::Bool(near!(a, v != 0.0)),
            Tensor::Str(a) if masks.is_empty() => Tensor::Str(gather_all(a, &maps)),
            Tensor::Str(_) => bail!("cannot extrapolate string tensors"),
            other => bail!("{} tensors cannot be resized", other.dtype()),
        });
    }
    let plans: Vec<(AxisPlan, Taps)> = active.iter().map(|p| Ok((*p, p.taps(st)?))).collect::<Result<_>>()?;
    let v = st.extrapolation;
    // Integers are interpolated in f64, then rounded half to even and saturated.
    macro_rules! int {
        ($a:expr, $t:ty) => {
            interp_all($a.mapv(|e| e as f64).view(), &plans, &masks, v).mapv(|e| e.round_ties_even() as $t)
        };
    }
    Ok(match x {
        Tensor::F32(a) => Tensor::F32(interp_all(a.view(), &plans, &masks, v)),
        Tensor::F64(a) => Tensor::F64(interp_all(a.view(), &plans, &masks, v)),
        Tensor::F16(a) => Tensor::F16(interp_all(a.mapv(f32::from).view(), &plans, &masks, v).mapv(f16::from_f32)),
        Tensor::BF16(a) => Tensor::BF16(interp_all(a.mapv(f32::from).view(), &plans, &masks, v).mapv(bf16::from_f32)),
        Tensor::I8(a) => Tensor::I8(int!(a, i8)),
        Tensor::I16(a) => Tensor::I16(int!(a, i16)),
        Tensor::I32(a) => Tensor::I32(int!(a, i32)),
        Tensor::I64(a) => Tensor::I64(int!(a, i64)),
        Tensor::U8(a) => Tensor::U8(int!(a, u8)),
        Tensor::U16(a) => Tensor::U16(int!(a, u16)),
        Tensor::U32(a) => Tensor::U32(int!(a, u32)),
        Tensor::U64(a) => Tensor::U64(int!(a, u64)),
        other => bail!("{:?} interpolation needs a numeric tensor, got {}", st.mode, other.dtype()),
    })
}

/// A float list input (scales, roi), treating an empty tensor as absent.
fn float_list(t: Option<&Tensor>) -> Result<Option<Vec<f64>>> {
    Ok(float_list_typed(t)?.map(|(v, _)| v))
}

/// [`float_list`], also telling whether the values are narrower than f64.
fn float_list_typed(t: Option<&Tensor>) -> Result<Option<(Vec<f64>, bool)>> {
    match t {
        Some(t) if !t.is_empty() => match t {
            Tensor::F32(_) | Tensor::F16(_) | Tensor::BF16(_) => Ok(Some((t.to_f64_vec()?, true))),
            Tensor::F64(_) => Ok(Some((t.to_f64_vec()?, false))),
            other => bail!("expected a float tensor, got {}", other.dtype()),
        },
        _ => Ok(None),
    }
}

/// Output lengths and scales of the resized axes, from `scales` or `sizes`.
#[allow(clippy::too_many_arguments)]
fn plan(
    shape: &[usize],
    axes: &[usize],
    scales: Option<Vec<f64>>,
    sizes: Option<Vec<i64>>,
    roi: Option<(Vec<f64>, bool)>,
    policy: &str,
    coord: Coord,
) -> Result<Vec<AxisPlan>> {
    let n = axes.len();
    let roi_f32 = roi.as_ref().is_some_and(|r| r.1);
    let roi_of = |i: usize| -> Result<(f64, f64)> {
        match &roi {
            Some((r, _)) if coord == Coord::TfCropAndResize => match (r.get(i), r.get(n + i)) {
                (Some(&s), Some(&e)) if r.len() == 2 * n => Ok((s, e)),
                _ => bail!("roi has {} values, expected {}", r.len(), 2 * n),
            },
            _ => Ok((0.0, 1.0)),
        }
    };
    let mut plans = Vec::with_capacity(n);
    match (scales, sizes) {
        (Some(_), Some(_)) => bail!("only one of 'scales' and 'sizes' may be given"),
        (None, None) => bail!("one of 'scales' and 'sizes' must be given"),
        (Some(s), None) => {
            if s.len() != n {
                bail!("scales has {} values for {n} axes", s.len());
            }
            for (i, (&axis, &scale)) in axes.iter().zip(&s).enumerate() {
                if !(scale > 0.0 && scale.is_finite()) {
                    bail!("scales must be positive, got {scale}");
                }
                let in_len = shape[axis];
                let out = (scale * in_len as f64).floor();
                if out > MAX_ELEMENTS as f64 {
                    bail!("scale {scale} makes axis {axis} too long");
                }
                plans.push(AxisPlan { axis, in_len, out_len: out as usize, scale, roi: roi_of(i)?, roi_f32 });
            }
        }
        (None, Some(sz)) => {
            if sz.len() != n {
                bail!("sizes has {} values for {n} axes", sz.len());
            }
            let sz = util::dims(&sz)?;
            let mut ratios = Vec::with_capacity(n);
            for (&axis, &out) in axes.iter().zip(&sz) {
                let in_len = shape[axis];
                ratios.push(match (in_len, out) {
                    (0, 0) => 1.0,
                    (0, _) => bail!("axis {axis} is empty and cannot be resized to {out}"),
                    _ => out as f64 / in_len as f64,
                });
            }
            let common = match policy {
                "stretch" => None,
                "not_larger" => ratios.iter().copied().reduce(f64::min),
                "not_smaller" => ratios.iter().copied().reduce(f64::max),
                p => bail!("unknown keep_aspect_ratio_policy '{p}'"),
            };
            for (i, (&axis, (&out, &ratio))) in axes.iter().zip(sz.iter().zip(&ratios)).enumerate() {
                let in_len = shape[axis];
                let (out_len, scale) = match common {
                    None => (out, ratio),
                    // Round half up, as the spec's round_int.
                    Some(s) => ((s * in_len as f64 + 0.5).floor() as usize, s),
                };
                plans.push(AxisPlan { axis, in_len, out_len, scale, roi: roi_of(i)?, roi_f32 });
            }
        }
    }
    let mut out_shape = shape.to_vec();
    for p in &plans {
        out_shape[p.axis] = p.out_len;
    }
    checked_numel(&out_shape)?;
    Ok(plans)
}

fn parse_mode(s: &str, cubic_ok: bool) -> Result<Mode> {
    Ok(match s {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" | "trilinear" => Mode::Linear,
        "cubic" | "bicubic" if cubic_ok => Mode::Cubic,
        m => bail!("unsupported mode '{m}'"),
    })
}

/// Resize: nearest, (N-)linear or (N-)cubic resampling, by `scales` or to `sizes`.
fn resize(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rank = x.rank();
    if ctx.opset < 11 {
        let st = Settings {
            mode: parse_mode(&ctx.string("mode", "nearest")?, false)?,
            coord: Coord::Asymmetric,
            rounding: Rounding::Legacy,
            cubic_a: -0.75,
            exclude_outside: false,
            extrapolation: 0.0,
            antialias: false,
        };
        let Some(scales) = float_list(Some(ctx.input(inputs, 1)?))? else { bail!("scales is empty") };
        let axes: Vec<usize> = (0..rank).collect();
        let plans = plan(x.shape(), &axes, Some(scales), None, None, "stretch", st.coord)?;
        return Ok(vec![Value::Tensor(resample(x, &plans, &st)?)]);
    }
    let coord = match ctx.string("coordinate_transformation_mode", "half_pixel")?.as_str() {
        "half_pixel" => Coord::HalfPixel,
        "half_pixel_symmetric" if ctx.opset >= 19 => Coord::HalfPixelSymmetric,
        "pytorch_half_pixel" => Coord::PytorchHalfPixel,
        "align_corners" => Coord::AlignCorners,
        "asymmetric" => Coord::Asymmetric,
        "tf_half_pixel_for_nn" if ctx.opset < 13 => Coord::TfHalfPixelForNn,
        "tf_crop_and_resize" => Coord::TfCropAndResize,
        m => bail!("coordinate_transformation_mode '{m}' is not defined at opset {}", ctx.opset),
    };
    let rounding = match ctx.string("nearest_mode", "round_prefer_floor")?.as_str() {
        "round_prefer_floor" => Rounding::PreferFloor,
        "round_prefer_ceil" => Rounding::PreferCeil,
        "floor" => Rounding::Floor,
        "ceil" => Rounding::Ceil,
        m => bail!("unknown nearest_mode '{m}'"),
    };
    let new = ctx.opset >= 18;
    let st = Settings {
        mode: parse_mode(&ctx.string("mode", "nearest")?, true)?,
        coord,
        rounding,
        cubic_a: f64::from(ctx.float("cubic_coeff_a", -0.75)?),
        exclude_outside: ctx.int("exclude_outside", 0)? != 0,
        extrapolation: f64::from(ctx.float("extrapolation_value", 0.0)?),
        antialias: new && ctx.int("antialias", 0)? != 0,
    };
    let axes = match ctx.ints("axes")? {
        Some(a) if new => util::axes(&a, rank)?,
        _ => (0..rank).collect(),
    };
    let policy = if new { ctx.string("keep_aspect_ratio_policy", "stretch")? } else { "stretch".into() };
    let roi = float_list_typed(ctx.opt_input(inputs, 1)?)?;
    let scales = float_list(ctx.opt_input(inputs, 2)?)?;
    let sizes = match ctx.opt_input(inputs, 3)? {
        Some(t) if !t.is_empty() => Some(t.to_i64_vec()?),
        _ => None,
    };
    let plans = plan(x.shape(), &axes, scales, sizes, roi, &policy, coord)?;
    Ok(vec![Value::Tensor(resample(x, &plans, &st)?)])
}

/// Upsample (deprecated): nearest or linear, asymmetric coordinates,
/// scales (at least 1) from the attribute (opset 7) or input 1 (opset 9).
fn upsample(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let scales: Vec<f64> = if ctx.opset < 9 {
        match ctx.floats("scales")? {
            Some(s) => s.into_iter().map(f64::from).collect(),
            None => bail!("missing required attribute 'scales'"),
        }
    } else {
        float_list(Some(ctx.input(inputs, 1)?))?.unwrap_or_default()
    };
    if let Some(s) = scales.iter().find(|&&s| s < 1.0) {
        bail!("Upsample scales must be at least 1, got {s}");
    }
    let st = Settings {
        mode: parse_mode(&ctx.string("mode", "nearest")?, false)?,
        coord: Coord::Asymmetric,
        rounding: Rounding::Legacy,
        cubic_a: -0.75,
        exclude_outside: false,
        extrapolation: 0.0,
        antialias: false,
    };
    let axes: Vec<usize> = (0..x.rank()).collect();
    let plans = plan(x.shape(), &axes, Some(scales), None, None, "stretch", st.coord)?;
    Ok(vec![Value::Tensor(resample(x, &plans, &st)?)])
}

// ---------------------------------------------------------------------------
// GridSample.

/// GridSample `padding_mode`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

/// Reflects `x` into `[lo, hi]` repeatedly, as PyTorch's grid sampler does.
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 {
        return lo;
    }
    let (dx, from_lo) = if x < lo {
        (lo - x, true)
    } else if x > hi {
        (x - hi, false)
    } else {
        return x;
    };
    let flips = (dx / range).floor();
    let r = dx - flips * range;
    let even = flips % 2.0 == 0.0;
    if even == from_lo { lo + r } else { hi - r }
}

/// Per-dimension sampling rules of one GridSample node.
#[derive(Debug, Clone, Copy)]
struct GridRule {
    padding: Padding,
    align_corners: bool,
}

impl GridRule {
    /// The allowed coordinate range of a dimension of length `len`.
    fn borders(&self, len: usize) -> (f64, f64) {
        if self.align_corners { (0.0, len as f64 - 1.0) } else { (-0.5, len as f64 - 0.5) }
    }

    /// Pixel coordinate of normalized coordinate `g` (in [-1, 1] inside the input).
    fn denormalize(&self, g: f64, len: usize) -> f64 {
        let l = len as f64;
        if self.align_corners { (g + 1.0) / 2.0 * (l - 1.0) } else { ((g + 1.0) * l - 1.0) / 2.0 }
    }

    /// Brings an out-of-range coordinate back per the padding mode (zeros leaves it).
    fn pad_coord(&self, x: f64, len: usize) -> f64 {
        let (lo, hi) = self.borders(len);
        if x >= lo && x <= hi {
            return x;
        }
        match self.padding {
            Padding::Zeros => x,
            Padding::Border => x.clamp(0.0, len as f64 - 1.0),
            Padding::Reflection => reflect(x, lo, hi),
        }
    }

    /// The stored pixel read for integer position `i`, or None for a zero.
    fn pixel(&self, i: i64, len: usize) -> Option<usize> {
        let last = len as i64 - 1;
        match self.padding {
            Padding::Zeros => (i >= 0 && i <= last).then_some(i as usize),
            Padding::Border => Some(i.clamp(0, last.max(0)) as usize),
            Padding::Reflection => {
                let (lo, hi) = self.borders(len);
                Some((reflect(i as f64, lo, hi) as i64).clamp(0, last.max(0)) as usize)
            }
        }
    }
}

/// GridSample: samples X (N, C, D1..Dr) at the normalized positions of grid
/// (N, O1..Or, r), giving (N, C, O1..Or).
fn grid_sample(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let grid = ctx.input(inputs, 1)?;
    let mode = match ctx.string("mode", if ctx.opset >= 20 { "linear" } else { "bilinear" })?.as_str() {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" => Mode::Linear,
        "cubic" | "bicubic" => Mode::Cubic,
        m => bail!("unknown mode '{m}'"),
    };
    let padding = match ctx.string("padding_mode", "zeros")?.as_str() {
        "zeros" => Padding::Zeros,
        "border" => Padding::Border,
        "reflection" => Padding::Reflection,
        m => bail!("unknown padding_mode '{m}'"),
    };
    let rule = GridRule { padding, align_corners: ctx.int("align_corners", 0)? != 0 };
    let xs = x.shape();
    let gs = grid.shape();
    if xs.len() < 3 {
        bail!("X must have rank at least 3 (N, C, spatial...), got shape {xs:?}");
    }
    let r = xs.len() - 2;
    if gs.len() != r + 2 || gs[0] != xs[0] || gs[r + 1] != r {
        bail!("grid of shape {gs:?} does not fit X of shape {xs:?}; expected (N, out dims..., {r})");
    }
    let g = match grid {
        Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_) => grid.to_f64_vec()?,
        other => bail!("grid must be a float tensor, got {}", other.dtype()),
    };
    let mut out_shape = vec![xs[0], xs[1]];
    out_shape.extend_from_slice(&gs[1..=r]);
    checked_numel(&out_shape)?;
    let spatial = &xs[2..];
    if spatial.contains(&0) && out_shape.iter().all(|&d| d > 0) {
        bail!("X has an empty spatial dimension {xs:?}; there is nothing to sample");
    }
    let sampler = GridSampler { rule, mode, spatial, grid: &g, n: xs[0], c: xs[1], out_shape: &out_shape };
    macro_rules! num {
        ($a:expr, $to:expr, $from:expr) => {
            sampler.weighted(&$a.iter().map($to).collect::<Vec<_>>()).into_iter().map($from).collect()
        };
    }
    let out = match (mode, x) {
        (Mode::Nearest, t) => crate::map_any!(t, a => sampler.nearest(a)),
        (_, Tensor::F32(a)) => Tensor::F32(sampler.shape(num!(a, |&v| v, |v| v))?),
        (_, Tensor::F64(a)) => Tensor::F64(sampler.shape(num!(a, |&v| v, |v| v))?),
        (_, Tensor::F16(a)) => Tensor::F16(sampler.shape(num!(a, |&v| f32::from(v), f16::from_f32))?),
        (_, Tensor::BF16(a)) => Tensor::BF16(sampler.shape(num!(a, |&v| f32::from(v), bf16::from_f32))?),
        // Integers: computed in f64, truncated on the way back as the reference does.
        (_, Tensor::I8(a)) => Tensor::I8(sampler.shape(num!(a, |&v| f64::from(v), |v| v as i8))?),
        (_, Tensor::I16(a)) => Tensor::I16(sampler.shape(num!(a, |&v| f64::from(v), |v| v as i16))?),
        (_, Tensor::I32(a)) => Tensor::I32(sampler.shape(num!(a, |&v| f64::from(v), |v| v as i32))?),
        (_, Tensor::I64(a)) => Tensor::I64(sampler.shape(num!(a, |&v| v as f64, |v| v as i64))?),
        (_, Tensor::U8(a)) => Tensor::U8(sampler.shape(num!(a, |&v| f64::from(v), |v| v as u8))?),
        (_, Tensor::U16(a)) => Tensor::U16(sampler.shape(num!(a, |&v| f64::from(v), |v| v as u16))?),
        (_, Tensor::U32(a)) => Tensor::U32(sampler.shape(num!(a, |&v| f64::from(v), |v| v as u32))?),
        (_, Tensor::U64(a)) => Tensor::U64(sampler.shape(num!(a, |&v| v as f64, |v| v as u64))?),
        (_, other) => bail!("{mode:?} sampling needs a numeric tensor, got {}", other.dtype()),
    };
    Ok(vec![Value::Tensor(out)])
}

/// The fixed parts of one GridSample evaluation.
struct GridSampler<'a> {
    rule: GridRule,
    mode: Mode,
    spatial: &'a [usize],
    grid: &'a [f64],
    n: usize,
    c: usize,
    out_shape: &'a [usize],
}

impl GridSampler<'_> {
    /// Number of output positions per (batch, channel).
    fn positions(&self) -> usize {
        self.out_shape[2..].iter().product()
    }

    /// Pixel coordinates (in X's dimension order) of output position `o` of batch `b`.
    fn coords(&self, b: usize, o: usize) -> Vec<f64> {
        let r = self.spatial.len();
        let base = (b * self.positions() + o) * r;
        // The grid lists coordinates innermost dimension first (x, y, z).
        (0..r).map(|d| self.rule.denormalize(self.grid[base + r - 1 - d], self.spatial[d])).collect()
    }

    fn shape<T>(&self, data: Vec<T>) -> Result<ArrayD<T>> {
        ArrayD::from_shape_vec(IxDyn(self.out_shape), data)
            .map_err(|_| crate::Error::op("internal error: GridSample output size"))
    }

    /// Nearest mode (any dtype): round half to even, then read with padding.
    fn nearest<T: Clone + Default>(&self, a: &ArrayD<T>) -> ArrayD<T> {
        let a = a.as_standard_layout();
        let src = a.as_slice().unwrap_or(&[]);
        let plane: usize = self.spatial.iter().product();
        let pos = self.positions();
        let mut out = Vec::with_capacity(self.n * self.c * pos);
        let mut offsets = vec![None; pos];
        for b in 0..self.n {
            for (o, off) in offsets.iter_mut().enumerate() {
                let mut acc = Some(0usize);
                for (d, x) in self.coords(b, o).into_iter().enumerate() {
                    let len = self.spatial[d];
                    let x = self.rule.pad_coord(x.round_ties_even(), len);
                    acc = match (acc, self.rule.pixel(x as i64, len)) {
                        (Some(s), Some(i)) => Some(s * len + i),
                        _ => None,
                    };
                }
                *off = acc;
            }
            for ch in 0..self.c {
                let base = (b * self.c + ch) * plane;
                out.extend(offsets.iter().map(|o| o.map_or_else(T::default, |i| src[base + i].clone())));
            }
        }
        ArrayD::from_shape_vec(IxDyn(self.out_shape), out).unwrap_or_else(|_| ArrayD::default(IxDyn(self.out_shape)))
    }

    /// Linear or cubic mode on float data: per output position, the
    /// tensor-product weights of the neighbouring pixels.
    fn weighted<F: Float + std::ops::AddAssign>(&self, src: &[F]) -> Vec<F> {
        let plane: usize = self.spatial.iter().product();
        let pos = self.positions();
        let mut out = Vec::with_capacity(self.n * self.c * pos);
        let mut per_pos: Vec<Vec<(usize, F)>> = vec![Vec::new(); pos];
        for b in 0..self.n {
            for (o, taps) in per_pos.iter_mut().enumerate() {
                taps.clear();
                taps.push((0, F::one()));
                for (d, x) in self.coords(b, o).into_iter().enumerate() {
                    let len = self.spatial[d];
                    // Cubic pads only the taps (as PyTorch and onnxruntime do;
                    // onnx's reference also clamps the coordinate first).
                    let x = if self.mode == Mode::Cubic { x } else { self.rule.pad_coord(x, len) };
                    let x0 = x.floor();
                    let t = x - x0;
                    let x0 = x0 as i64;
                    let dim_taps: Vec<(i64, f64)> = match self.mode {
                        Mode::Cubic => vec![
                            (x0 - 1, cubic_kernel(t + 1.0, -0.75)),
                            (x0, cubic_kernel(t, -0.75)),
                            (x0 + 1, cubic_kernel(1.0 - t, -0.75)),
                            (x0 + 2, cubic_kernel(2.0 - t, -0.75)),
                        ],
                        _ => vec![(x0, 1.0 - t), (x0 + 1, t)],
                    };
                    let mut next = Vec::with_capacity(taps.len() * dim_taps.len());
                    for &(off, w) in taps.iter() {
                        for &(i, wd) in &dim_taps {
                            if let Some(i) = self.rule.pixel(i, len) {
                                next.push((off * len + i, w * F::from(wd).unwrap_or_else(F::zero)));
                            }
                        }
                    }
                    *taps = next;
                }
            }
            for ch in 0..self.c {
                let base = (b * self.c + ch) * plane;
                out.extend(per_pos.iter().map(|taps| {
                    let mut acc = F::zero();
                    for &(i, w) in taps {
                        acc += w * src[base + i];
                    }
                    acc
                }));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use ir::{Graph, Model, Node, ValueInfo};

    use super::*;

    /// Runs a one-node model at `opset` and returns its first output.
    fn run_t(node: Node, opset: i64, inputs: Vec<(&str, Tensor)>) -> Result<Tensor> {
        let graph = Graph {
            inputs: inputs.iter().map(|(n, _)| ValueInfo::untyped(*n)).collect(),
            outputs: node.outputs.iter().map(ValueInfo::untyped).collect(),
            nodes: vec![node],
            ..Graph::default()
        };
        let mut model = Model::new(graph);
        model.opset_imports.insert(String::new(), opset);
        let feeds = inputs.into_iter().map(|(n, v)| (n.to_string(), Value::Tensor(v))).collect();
        let out = crate::run(&model, feeds)?;
        Ok(out[0].1.tensor()?.clone())
    }

    /// [`run_t`], the output as (shape, values).
    fn run1(node: Node, opset: i64, inputs: Vec<(&str, Tensor)>) -> Result<(Vec<usize>, Vec<f64>)> {
        let t = run_t(node, opset, inputs)?;
        Ok((t.shape().to_vec(), t.to_f64_vec()?))
    }

    fn f(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::f32(shape, data.to_vec()).unwrap()
    }

    fn i(data: &[i64]) -> Tensor {
        Tensor::i64(&[data.len()], data.to_vec()).unwrap()
    }

    fn x4() -> Tensor {
        f(&[1, 1, 4, 4], &(1..=16).map(|v| v as f32).collect::<Vec<_>>())
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 + 1e-4 * w.abs(), "at {k}: got {g}, want {w}\n{got:?}");
        }
    }

    // Expected values below are onnx's backend test data (reference implementation).

    #[test]
    fn cubic_upsample() {
        let node = Node::new("Resize", ["x", "", "s"], ["y"]).with_attr("mode", "cubic");
        let (shape, got) = run1(node, 19, vec![("x", x4()), ("s", f(&[4], &[1., 1., 2., 2.]))]).unwrap();
        assert_eq!(shape, vec![1, 1, 8, 8]);
        assert_close(&got[..8], &[0.472656, 0.769531, 1.246094, 1.875, 2.28125, 2.910156, 3.386719, 3.683594]);
        assert_close(&got[56..], &[13.316406, 13.613281, 14.089844, 14.71875, 15.125, 15.753906, 16.230469, 16.527344]);
    }

    #[test]
    fn linear_antialias_downsample() {
        let node = Node::new("Resize", ["x", "", "s"], ["y"]).with_attr("mode", "linear").with_attr("antialias", 1i64);
        let got = run1(node, 18, vec![("x", x4()), ("s", f(&[4], &[1., 1., 0.6, 0.6]))]).unwrap();
        assert_eq!(got.0, vec![1, 1, 2, 2]);
        assert_close(&got.1, &[2.875, 4.5, 9.375, 11.0]);
    }

    #[test]
    fn crop_and_resize_extrapolates() {
        let node = Node::new("Resize", ["x", "roi", "", "sz"], ["y"])
            .with_attr("mode", "linear")
            .with_attr("coordinate_transformation_mode", "tf_crop_and_resize")
            .with_attr("extrapolation_value", 10.0f32);
        let roi = f(&[8], &[0., 0., 0.4, 0.6, 1., 1., 1.2, 1.7]);
        let got = run1(node, 13, vec![("x", x4()), ("roi", roi), ("sz", i(&[1, 1, 3, 3]))]).unwrap();
        assert_close(&got.1, &[7.6, 10., 10., 12.4, 10., 10., 10., 10., 10.]);
    }

    #[test]
    fn nearest_modes_axes_and_policy() {
        let node = Node::new("Resize", ["x", "", "", "sz"], ["y"])
            .with_attr("mode", "nearest")
            .with_attr("nearest_mode", "ceil");
        let got = run1(node, 19, vec![("x", x4()), ("sz", i(&[1, 1, 8, 8]))]).unwrap();
        assert_close(&got.1[..16], &[1., 2., 2., 3., 3., 4., 4., 4., 5., 6., 6., 7., 7., 8., 8., 8.]);

        let node = Node::new("Resize", ["x", "", "", "sz"], ["y"])
            .with_attr("axes", vec![2i64, 3])
            .with_attr("keep_aspect_ratio_policy", "not_larger");
        let x = f(&[1, 1, 2, 4], &[1., 2., 3., 4., 5., 6., 7., 8.]);
        let got = run1(node, 18, vec![("x", x), ("sz", i(&[1, 3]))]).unwrap();
        assert_eq!(got, (vec![1, 1, 1, 2], vec![1., 3.]));
    }

    #[test]
    fn half_pixel_symmetric() {
        let node = Node::new("Resize", ["x", "", "s"], ["y"])
            .with_attr("mode", "linear")
            .with_attr("coordinate_transformation_mode", "half_pixel_symmetric");
        let x = f(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let got = run1(node.clone(), 19, vec![("x", x.clone()), ("s", f(&[4], &[1., 1., 2.3, 2.94]))]).unwrap();
        assert_eq!(got.0, vec![1, 1, 4, 5]);
        assert_close(&got.1[..5], &[1.0, 1.159864, 1.5, 1.840136, 2.0]);
        // Not defined before opset 19.
        assert!(run1(node, 18, vec![("x", x), ("s", f(&[4], &[1., 1., 2.3, 2.94]))]).is_err());
    }

    #[test]
    fn integers_round_and_saturate() {
        // onnx reference: uint8 [0, 10, 255] scaled by 1.5.
        let x = Tensor::U8(ArrayD::from_shape_vec(IxDyn(&[3]), vec![0, 10, 255]).unwrap());
        for (mode, want) in [("linear", [0., 5., 51., 214.]), ("cubic", [0., 0., 46., 220.])] {
            let node = Node::new("Resize", ["x", "", "s"], ["y"]).with_attr("mode", mode);
            let got = run1(node, 13, vec![("x", x.clone()), ("s", f(&[1], &[1.5]))]).unwrap();
            assert_eq!(got.1, want);
        }
    }

    #[test]
    fn nearest_works_on_any_dtype() {
        let strs = |v: &[&str]| {
            Tensor::Str(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|s| s.to_string()).collect()).unwrap())
        };
        let node = Node::new("Resize", ["x", "", "s"], ["y"]);
        let got = run_t(node.clone(), 13, vec![("x", strs(&["a", "b"])), ("s", f(&[1], &[2.]))]).unwrap();
        assert_eq!(got, strs(&["a", "a", "b", "b"]));
        let lin = node.with_attr("mode", "linear");
        assert!(run_t(lin, 13, vec![("x", strs(&["a", "b"])), ("s", f(&[1], &[2.]))]).is_err());
    }

    #[test]
    fn legacy_resize10_and_upsample() {
        // onnxruntime: Resize-10 downsampling picks ceil, linear is asymmetric.
        let x = f(&[1, 1, 2, 4], &[1., 2., 3., 4., 5., 6., 7., 8.]);
        let s = f(&[4], &[1., 1., 0.6, 0.6]);
        let near = Node::new("Resize", ["x", "s"], ["y"]);
        assert_eq!(run1(near, 10, vec![("x", x.clone()), ("s", s.clone())]).unwrap().1, vec![1., 3.]);
        let lin = Node::new("Resize", ["x", "s"], ["y"]).with_attr("mode", "linear");
        assert_close(&run1(lin, 10, vec![("x", x), ("s", s)]).unwrap().1, &[1., 2.6666665]);

        let x = f(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let up7 = Node::new("Upsample", ["x"], ["y"]).with_attr("scales", vec![1f32, 1., 2., 3.]);
        let got = run1(up7, 7, vec![("x", x.clone())]).unwrap();
        assert_eq!(got.1[..6], [1., 1., 1., 2., 2., 2.]);
        let up9 = Node::new("Upsample", ["x", "s"], ["y"]).with_attr("mode", "linear");
        let got = run1(up9.clone(), 9, vec![("x", x.clone()), ("s", f(&[4], &[1., 1., 2., 2.]))]).unwrap();
        assert_close(&got.1[..8], &[1., 1.5, 2., 2., 2., 2.5, 3., 3.]);
        assert!(run1(up9, 9, vec![("x", x), ("s", f(&[4], &[1., 1., 0.5, 2.]))]).is_err());
    }

    #[test]
    fn bad_arguments() {
        let node = Node::new("Resize", ["x", "", "s", "sz"], ["y"]);
        let both = run1(node, 13, vec![("x", x4()), ("s", f(&[4], &[1., 1., 2., 2.])), ("sz", i(&[1, 1, 2, 2]))]);
        assert!(both.unwrap_err().to_string().contains("only one"));
        let node = Node::new("Resize", ["x", "", "s"], ["y"]);
        assert!(run1(node.clone(), 13, vec![("x", x4()), ("s", f(&[3], &[1., 1., 2.]))]).is_err());
        assert!(run1(node.clone(), 13, vec![("x", x4()), ("s", f(&[4], &[1., 1., 0., 2.]))]).is_err());
        let huge = run1(node, 13, vec![("x", x4()), ("s", f(&[4], &[1., 1., 1e9, 1e9]))]);
        assert!(huge.unwrap_err().to_string().contains("too"));
        // One empty axis must not let another grow without bound.
        let node = Node::new("Resize", ["x", "", "", "sz"], ["y"]);
        let huge = run1(node, 13, vec![("x", x4()), ("sz", i(&[0, 1, 4, 1 << 40]))]);
        assert!(huge.unwrap_err().to_string().contains("too large"));
    }

    #[test]
    fn grid_sample_modes() {
        let x = f(&[1, 1, 3, 2], &[0., 1., 2., 3., 4., 5.]);
        let grid = f(&[1, 2, 4, 2], &[-1., -1., -0.5, -0.5, -0.2, -0.2, 0., 0., 0., 0., -0.2, -0.2, 0.5, 0.5, 1., 1.]);
        let node = Node::new("GridSample", ["x", "g"], ["y"]).with_attr("mode", "cubic");
        let got = run1(node, 22, vec![("x", x.clone()), ("g", grid)]).unwrap();
        assert_eq!(got.0, vec![1, 1, 2, 4]);
        assert_close(&got.1, &[-0.1406, 0.3828, 1.7556, 2.9688, 2.9688, 1.7556, 5.1445, 1.3906]);

        let grid =
            f(&[1, 2, 4, 2], &[-10., -10., -5., -5., -0.2, -0.2, 10., 10., 10., 10., -0.2, -0.2, 5., 5., 10., 10.]);
        let node = Node::new("GridSample", ["x", "g"], ["y"]).with_attr("padding_mode", "reflection");
        let got = run1(node.clone(), 16, vec![("x", x), ("g", grid.clone())]).unwrap();
        assert_close(&got.1, &[2.5, 0., 1.7, 2.5, 2.5, 1.7, 5., 2.5]);
        let empty = f(&[1, 1, 0, 2], &[]);
        assert!(run1(node.clone(), 16, vec![("x", empty), ("g", grid)]).is_err());
        let wrong = f(&[1, 2, 4, 3], &[0.; 24]);
        assert!(run1(node, 16, vec![("x", f(&[1, 1, 3, 2], &[0.; 6])), ("g", wrong)]).is_err());
    }

    #[test]
    fn reflect_folds_back_and_forth() {
        assert_eq!(reflect(-3.5, -1.0, 1.0), 0.5);
        assert_eq!(reflect(2.5, -0.5, 2.5), 2.5);
        assert_eq!(reflect(3.0, -0.5, 2.5), 2.0);
        assert_eq!(reflect(7.0, 0.0, 0.0), 0.0);
    }
}
