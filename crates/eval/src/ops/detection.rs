//! Detection ops: NonMaxSuppression, RoiAlign and AffineGrid.
//!
//! Opset history: NonMaxSuppression-10 and -11 behave alike (11 only
//! clarified the spec). RoiAlign-16 added `coordinate_transformation_mode`
//! with default `half_pixel`; RoiAlign-10 behaves as `output_half_pixel`
//! (no half-pixel shift); RoiAlign-22 only widened the types. AffineGrid
//! appeared in opset 20.

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};
use num_traits::Float;

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, bail};

/// Registers NonMaxSuppression, RoiAlign and AffineGrid.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("NonMaxSuppression", non_max_suppression);
    r.add("RoiAlign", roi_align);
    r.add("AffineGrid", affine_grid);
}

/// Work limit for RoiAlign's sampling grid (samples per roi and bin grid).
const MAX_SAMPLES: usize = 1 << 28;

/// Whether an output of `shape` is reasonable to allocate: at most 2^32
/// elements, and no single dimension beyond that (per-axis tables are sized
/// by a dimension even when another one is 0).
fn fits(shape: &[usize]) -> bool {
    const MAX: usize = 1 << 32;
    shape.iter().all(|&d| d <= MAX) && shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_some_and(|t| t <= MAX)
}

// ---------------------------------------------------------------------------
// NonMaxSuppression.

/// A box as (min corner, max corner) per axis: ((y1, y2), (x1, x2)).
type Extent<F> = ((F, F), (F, F));

/// Normalizes a box to per-axis (min, max) extents.
fn extent<F: Float>(b: &[F], center: bool) -> Extent<F> {
    let two = F::one() + F::one();
    if center {
        // [x_center, y_center, width, height]
        let (hw, hh) = (b[2] / two, b[3] / two);
        ((b[1] - hh, b[1] + hh), (b[0] - hw, b[0] + hw))
    } else {
        // [y1, x1, y2, x2], corners in either order.
        ((b[0].min(b[2]), b[0].max(b[2])), (b[1].min(b[3]), b[1].max(b[3])))
    }
}

/// Whether the IoU of two boxes exceeds `threshold`.
fn overlaps<F: Float>(a: Extent<F>, b: Extent<F>, threshold: F) -> bool {
    let ((ay0, ay1), (ax0, ax1)) = a;
    let ((by0, by1), (bx0, bx1)) = b;
    let (ix0, ix1) = (ax0.max(bx0), ax1.min(bx1));
    let (iy0, iy1) = (ay0.max(by0), ay1.min(by1));
    if ix1 <= ix0 || iy1 <= iy0 {
        return false;
    }
    let inter = (ix1 - ix0) * (iy1 - iy0);
    let area_a = (ax1 - ax0) * (ay1 - ay0);
    let area_b = (bx1 - bx0) * (by1 - by0);
    let union = area_a + area_b - inter;
    if inter <= F::zero() || area_a <= F::zero() || area_b <= F::zero() || union <= F::zero() {
        return false;
    }
    inter / union > threshold
}

/// Greedy NMS over all batches and classes; returns (batch, class, box) triples.
#[allow(clippy::too_many_arguments)]
fn nms<F: Float>(
    boxes: &[F],
    scores: &[F],
    batches: usize,
    classes: usize,
    count: usize,
    max_out: usize,
    iou: F,
    score_threshold: Option<F>,
    center: bool,
) -> Vec<[i64; 3]> {
    let mut selected = Vec::new();
    let mut candidates: Vec<(F, usize)> = Vec::with_capacity(count);
    let mut kept: Vec<Extent<F>> = Vec::new();
    for b in 0..batches {
        let bx = &boxes[b * count * 4..(b + 1) * count * 4];
        let extents: Vec<Extent<F>> = bx.chunks_exact(4).map(|c| extent(c, center)).collect();
        for c in 0..classes {
            let sc = &scores[(b * classes + c) * count..(b * classes + c + 1) * count];
            candidates.clear();
            candidates.extend(
                sc.iter().enumerate().filter(|(_, s)| score_threshold.is_none_or(|t| **s > t)).map(|(i, &s)| (s, i)),
            );
            // Highest score first; equal scores keep the lower box index first.
            candidates.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap_or(std::cmp::Ordering::Equal).then(x.1.cmp(&y.1)));
            kept.clear();
            for &(_, i) in &candidates {
                if kept.len() >= max_out {
                    break;
                }
                if kept.iter().all(|&k| !overlaps(extents[i], k, iou)) {
                    kept.push(extents[i]);
                    selected.push([b as i64, c as i64, i as i64]);
                }
            }
        }
    }
    selected
}

/// NonMaxSuppression: per batch and class, greedily keeps the highest-scoring
/// boxes whose IoU with every kept box is at most `iou_threshold`.
fn non_max_suppression(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let boxes = ctx.input(inputs, 0)?;
    let scores = ctx.input(inputs, 1)?;
    let (bs, ss) = (boxes.shape(), scores.shape());
    if bs.len() != 3 || bs[2] != 4 {
        bail!("boxes must have shape (batches, boxes, 4), got {bs:?}");
    }
    if ss.len() != 3 || ss[0] != bs[0] || ss[2] != bs[1] {
        bail!("scores must have shape (batches, classes, boxes) = ({}, _, {}), got {ss:?}", bs[0], bs[1]);
    }
    let scalar = |i: usize| -> Result<Option<f64>> {
        match ctx.opt_input(inputs, i)? {
            Some(t) if !t.is_empty() => Ok(Some(t.to_f64_vec()?[0])),
            _ => Ok(None),
        }
    };
    let max_out = match ctx.opt_input(inputs, 2)? {
        Some(t) if !t.is_empty() => t.to_i64_vec()?[0].max(0),
        _ => 0,
    };
    // No class can keep more boxes than it has.
    let max_out = (max_out as u64).min(bs[1] as u64) as usize;
    let iou = scalar(3)?.unwrap_or(0.0);
    let score_threshold = scalar(4)?;
    let center = match ctx.int("center_point_box", 0)? {
        0 => false,
        1 => true,
        v => bail!("center_point_box must be 0 or 1, got {v}"),
    };
    let (batches, classes, count) = (bs[0], ss[1], bs[1]);
    // Computed in the boxes' precision (f32 per the spec), as the reference does.
    let sel = match (boxes, scores) {
        (Tensor::F64(b), Tensor::F64(s)) => {
            let (b, s) = (b.iter().copied().collect::<Vec<_>>(), s.iter().copied().collect::<Vec<_>>());
            nms(&b, &s, batches, classes, count, max_out, iou, score_threshold, center)
        }
        _ => {
            let b: Vec<f32> = boxes.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
            let s: Vec<f32> = scores.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
            let st = score_threshold.map(|v| v as f32);
            nms(&b, &s, batches, classes, count, max_out, iou as f32, st, center)
        }
    };
    let flat: Vec<i64> = sel.iter().flatten().copied().collect();
    Ok(vec![Value::Tensor(Tensor::I64(
        ArrayD::from_shape_vec(IxDyn(&[sel.len(), 3]), flat).map_err(|e| crate::Error::op(e.to_string()))?,
    ))])
}

// ---------------------------------------------------------------------------
// RoiAlign.

/// One bilinear sample: four flat pixel offsets within a plane and their weights.
#[derive(Debug, Clone, Copy)]
struct Sample<F> {
    pos: [usize; 4],
    w: [F; 4],
}

/// The bilinear sample at (y, x) of an h×w plane (h, w > 0); all-zero
/// weights outside the plane's one-pixel margin.
fn bilinear_sample<F: Float>(y: F, x: F, h: usize, w: usize) -> Sample<F> {
    let (hf, wf) = (F::from(h).unwrap_or_else(F::zero), F::from(w).unwrap_or_else(F::zero));
    if y < -F::one() || y > hf || x < -F::one() || x > wf {
        return Sample { pos: [0; 4], w: [F::zero(); 4] };
    }
    let (mut y, mut x) = (y.max(F::zero()), x.max(F::zero()));
    let (mut y_lo, mut x_lo) = (y.to_usize().unwrap_or(0), x.to_usize().unwrap_or(0));
    let y_hi = if y_lo >= h - 1 {
        y_lo = h - 1;
        y = F::from(y_lo).unwrap_or_else(F::zero);
        y_lo
    } else {
        y_lo + 1
    };
    let x_hi = if x_lo >= w - 1 {
        x_lo = w - 1;
        x = F::from(x_lo).unwrap_or_else(F::zero);
        x_lo
    } else {
        x_lo + 1
    };
    let ly = y - F::from(y_lo).unwrap_or_else(F::zero);
    let lx = x - F::from(x_lo).unwrap_or_else(F::zero);
    let (hy, hx) = (F::one() - ly, F::one() - lx);
    Sample {
        pos: [y_lo * w + x_lo, y_lo * w + x_hi, y_hi * w + x_lo, y_hi * w + x_hi],
        w: [hy * hx, hy * lx, ly * hx, ly * lx],
    }
}

/// RoiAlign settings shared by every roi.
#[derive(Debug, Clone, Copy)]
struct RoiParams {
    out_h: usize,
    out_w: usize,
    sampling_ratio: i64,
    spatial_scale: f32,
    half_pixel: bool,
    max_mode: bool,
}

/// Pools every roi over every channel of `x` (N, C, H, W). All arithmetic
/// is in `F` (the input's precision, as in the reference and onnxruntime:
/// sampling grid sizes are ceilings, sensitive to rounding).
fn roi_align_impl<F: Float + std::iter::Sum>(
    x: &[F],
    shape: [usize; 4],
    rois: &[F],
    batch_idx: &[i64],
    p: &RoiParams,
) -> Result<Vec<F>> {
    let [n, c, h, w] = shape;
    let plane = h * w;
    let bins = p.out_h * p.out_w;
    let mut out = vec![F::zero(); batch_idx.len() * c * bins];
    if h == 0 || w == 0 {
        return Ok(out);
    }
    let f = |v: f64| F::from(v).unwrap_or_else(F::zero);
    let half = f(0.5);
    let scale = f(f64::from(p.spatial_scale));
    let (out_h, out_w) = (f(p.out_h as f64), f(p.out_w as f64));
    for (r, (roi, &b)) in rois.chunks_exact(4).zip(batch_idx).enumerate() {
        if b < 0 || b as usize >= n {
            bail!("batch index {b} of roi {r} is out of range for a batch of {n}");
        }
        let offset = if p.half_pixel { half } else { F::zero() };
        let [x0, y0, x1, y1] = [0, 1, 2, 3].map(|i| roi[i] * scale - offset);
        let (mut rw, mut rh) = (x1 - x0, y1 - y0);
        if !p.half_pixel {
            // Malformed rois are forced to 1×1.
            rw = rw.max(F::one());
            rh = rh.max(F::one());
        }
        let (bin_h, bin_w) = (rh / out_h, rw / out_w);
        let grid = |len: F, bins: F| -> Result<usize> {
            let g = if p.sampling_ratio > 0 {
                p.sampling_ratio as f64
            } else {
                (len / bins).ceil().to_f64().unwrap_or(0.0)
            };
            if !g.is_finite() || g > MAX_SAMPLES as f64 {
                bail!("roi {r} needs an unreasonable sampling grid ({g})");
            }
            Ok(g.max(0.0) as usize)
        };
        let (gh, gw) = (grid(rh, out_h)?, grid(rw, out_w)?);
        if gh.saturating_mul(gw).saturating_mul(bins) > MAX_SAMPLES {
            bail!("roi {r} needs too many samples ({gh}×{gw} per bin)");
        }
        let count = f((gh * gw).max(1) as f64);
        let (ghf, gwf) = (f(gh as f64), f(gw as f64));
        // Sample positions and weights are shared by all channels.
        let mut samples = Vec::with_capacity(bins * gh * gw);
        for ph in 0..p.out_h {
            for pw in 0..p.out_w {
                for iy in 0..gh {
                    let y = y0 + f(ph as f64) * bin_h + (f(iy as f64) + half) * bin_h / ghf;
                    for ix in 0..gw {
                        let x = x0 + f(pw as f64) * bin_w + (f(ix as f64) + half) * bin_w / gwf;
                        samples.push(bilinear_sample(y, x, h, w));
                    }
                }
            }
        }
        let per_bin = gh * gw;
        for ch in 0..c {
            let src = &x[(b as usize * c + ch) * plane..][..plane];
            let dst = &mut out[(r * c + ch) * bins..][..bins];
            for (bin, o) in dst.iter_mut().enumerate() {
                let bin_samples = &samples[bin * per_bin..(bin + 1) * per_bin];
                *o = if p.max_mode {
                    // The reference's max mode: the largest weighted corner value.
                    let mut best: Option<F> = None;
                    for s in bin_samples {
                        let v = (0..4).map(|k| s.w[k] * src[s.pos[k]]).fold(F::neg_infinity(), F::max);
                        best = Some(best.map_or(v, |b| b.max(v)));
                    }
                    best.unwrap_or_else(F::zero)
                } else {
                    let sum: F = bin_samples.iter().map(|s| (0..4).map(|k| s.w[k] * src[s.pos[k]]).sum::<F>()).sum();
                    sum / count
                };
            }
        }
    }
    Ok(out)
}

/// RoiAlign: average (or max) of bilinear samples over a grid in each bin of each roi.
fn roi_align(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let rois = ctx.input(inputs, 1)?;
    let batch = ctx.input(inputs, 2)?;
    let xs = x.shape();
    let [n, c, h, w] = match xs {
        &[n, c, h, w] => [n, c, h, w],
        _ => bail!("X must have shape (N, C, H, W), got {xs:?}"),
    };
    let num = batch.len();
    if rois.shape() != [num, 4] || batch.rank() != 1 {
        bail!(
            "rois must have shape (num_rois, 4) and batch_indices (num_rois), got {:?} and {:?}",
            rois.shape(),
            batch.shape()
        );
    }
    let mode = ctx.string("mode", "avg")?;
    let half_pixel = if ctx.opset >= 16 {
        match ctx.string("coordinate_transformation_mode", "half_pixel")?.as_str() {
            "half_pixel" => true,
            "output_half_pixel" => false,
            m => bail!("unknown coordinate_transformation_mode '{m}'"),
        }
    } else {
        false
    };
    let dim = |name: &str| -> Result<usize> {
        match ctx.int(name, 1)? {
            v if (1..=1 << 20).contains(&v) => Ok(v as usize),
            v => bail!("{name} must be positive, got {v}"),
        }
    };
    let p = RoiParams {
        out_h: dim("output_height")?,
        out_w: dim("output_width")?,
        sampling_ratio: ctx.int("sampling_ratio", 0)?,
        spatial_scale: ctx.float("spatial_scale", 1.0)?,
        half_pixel,
        max_mode: match mode.as_str() {
            "avg" => false,
            "max" => true,
            m => bail!("unknown mode '{m}'"),
        },
    };
    let out_shape = [num, c, p.out_h, p.out_w];
    if !fits(&out_shape) {
        bail!("output shape {out_shape:?} is too large");
    }
    let idx = batch.to_i64_vec()?;
    let shape = IxDyn(&out_shape);
    let mk = |e: ndarray::ShapeError| crate::Error::op(e.to_string());
    let f32s = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.to_f64_vec()?.into_iter().map(|v| v as f32).collect()) };
    let out = match x {
        Tensor::F64(a) => {
            let data: Vec<f64> = a.iter().copied().collect();
            let out = roi_align_impl(&data, [n, c, h, w], &rois.to_f64_vec()?, &idx, &p)?;
            Tensor::F64(ArrayD::from_shape_vec(shape, out).map_err(mk)?)
        }
        Tensor::F32(_) | Tensor::F16(_) | Tensor::BF16(_) => {
            let out = roi_align_impl(&f32s(x)?, [n, c, h, w], &f32s(rois)?, &idx, &p)?;
            match x {
                Tensor::F16(_) => Tensor::F16(
                    ArrayD::from_shape_vec(shape, out.into_iter().map(f16::from_f32).collect()).map_err(mk)?,
                ),
                Tensor::BF16(_) => Tensor::BF16(
                    ArrayD::from_shape_vec(shape, out.into_iter().map(bf16::from_f32).collect()).map_err(mk)?,
                ),
                _ => Tensor::F32(ArrayD::from_shape_vec(shape, out).map_err(mk)?),
            }
        }
        other => bail!("X must be a float tensor, got {}", other.dtype()),
    };
    Ok(vec![Value::Tensor(out)])
}

// ---------------------------------------------------------------------------
// AffineGrid.

/// Normalized coordinates of the pixel centres (or corners) along an axis of `len`.
fn base_coords(len: usize, align_corners: bool) -> Vec<f64> {
    (0..len)
        .map(|i| {
            let i = i as f64;
            if align_corners {
                if len > 1 { -1.0 + 2.0 * i / (len as f64 - 1.0) } else { -1.0 }
            } else {
                (2.0 * i + 1.0) / len as f64 - 1.0
            }
        })
        .collect()
}

/// AffineGrid: the sampling grid (N, H, W, 2) or (N, D, H, W, 3) of affine
/// matrices theta (N, 2, 3) or (N, 3, 4) for an output of `size`.
fn affine_grid(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let theta = ctx.input(inputs, 0)?;
    let size = crate::util::dims(&ctx.input(inputs, 1)?.to_i64_vec()?)?;
    let align = ctx.int("align_corners", 0)? != 0;
    let ts = theta.shape();
    let spatial = match size.as_slice() {
        [_, _, h, w] => vec![*h, *w],
        [_, _, d, h, w] => vec![*d, *h, *w],
        _ => bail!("size must be (N, C, H, W) or (N, C, D, H, W), got {size:?}"),
    };
    let r = spatial.len();
    if ts.len() != 3 || ts[1] != r || ts[2] != r + 1 {
        bail!("theta must have shape (N, {r}, {}) for a {r}-D size, got {ts:?}", r + 1);
    }
    let n = ts[0];
    let mut out_shape = vec![n];
    out_shape.extend_from_slice(&spatial);
    out_shape.push(r);
    if !fits(&out_shape) {
        bail!("output shape {out_shape:?} is too large");
    }
    let th = match theta {
        Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_) => theta.to_f64_vec()?,
        other => bail!("theta must be a float tensor, got {}", other.dtype()),
    };
    // Per spatial axis, in the grid's coordinate order (x = innermost axis first).
    let coords: Vec<Vec<f64>> = spatial.iter().rev().map(|&l| base_coords(l, align)).collect();
    let points: usize = spatial.iter().product();
    let mut out = Vec::with_capacity(n * points * r);
    let mut p = vec![0.0; r];
    for b in 0..n {
        let m = &th[b * r * (r + 1)..(b + 1) * r * (r + 1)];
        for flat in 0..points {
            // Unravel the row-major position into per-axis indices, innermost first.
            let mut rest = flat;
            for (k, axis_len) in spatial.iter().rev().enumerate() {
                p[k] = coords[k][rest % axis_len];
                rest /= axis_len;
            }
            for row in m.chunks_exact(r + 1) {
                out.push(row[..r].iter().zip(&p).map(|(a, b)| a * b).sum::<f64>() + row[r]);
            }
        }
    }
    let shape = IxDyn(&out_shape);
    let mk = |e: ndarray::ShapeError| crate::Error::op(e.to_string());
    Ok(vec![Value::Tensor(match theta {
        Tensor::F64(_) => Tensor::F64(ArrayD::from_shape_vec(shape, out).map_err(mk)?),
        Tensor::F16(_) => {
            Tensor::F16(ArrayD::from_shape_vec(shape, out.into_iter().map(f16::from_f64).collect()).map_err(mk)?)
        }
        Tensor::BF16(_) => {
            Tensor::BF16(ArrayD::from_shape_vec(shape, out.into_iter().map(bf16::from_f64).collect()).map_err(mk)?)
        }
        _ => Tensor::F32(ArrayD::from_shape_vec(shape, out.into_iter().map(|v| v as f32).collect()).map_err(mk)?),
    })])
}

#[cfg(test)]
mod tests {
    use ir::{Graph, Model, Node, ValueInfo};

    use super::*;

    /// Runs a one-node model at `opset`; the first output as (shape, values).
    fn run1(node: Node, opset: i64, inputs: Vec<(&str, Tensor)>) -> Result<(Vec<usize>, Vec<f64>)> {
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
        let t = out[0].1.tensor()?;
        Ok((t.shape().to_vec(), t.to_f64_vec()?))
    }

    fn f(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::f32(shape, data.to_vec()).unwrap()
    }

    fn i(data: &[i64]) -> Tensor {
        Tensor::i64(&[data.len()], data.to_vec()).unwrap()
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol, "at {k}: got {g}, want {w}\n{got:?}");
        }
    }

    // Expected values are onnx's backend test data.

    #[test]
    fn nms_corner_and_center_boxes() {
        let scores = f(&[1, 1, 6], &[0.9, 0.75, 0.6, 0.95, 0.5, 0.3]);
        let node = Node::new("NonMaxSuppression", ["b", "s", "m", "iou", "st"], ["y"]);
        let corners = f(
            &[1, 6, 4],
            &[
                0., 0., 1., 1., 0., 0.1, 1., 1.1, 0., -0.1, 1., 0.9, 0., 10., 1., 11., 0., 10.1, 1., 11.1, 0., 100.,
                1., 101.,
            ],
        );
        let inputs = |b: Tensor, st: f32| {
            vec![("b", b), ("s", scores.clone()), ("m", i(&[3])), ("iou", f(&[1], &[0.5])), ("st", f(&[1], &[st]))]
        };
        let got = run1(node.clone(), 11, inputs(corners, 0.4)).unwrap();
        assert_eq!(got, (vec![2, 3], vec![0., 0., 3., 0., 0., 0.]));

        let centers = f(
            &[1, 6, 4],
            &[
                0.5, 0.5, 1., 1., 0.5, 0.6, 1., 1., 0.5, 0.4, 1., 1., 0.5, 10.5, 1., 1., 0.5, 10.6, 1., 1., 0.5, 100.5,
                1., 1.,
            ],
        );
        let got = run1(node.with_attr("center_point_box", 1i64), 11, inputs(centers, 0.0)).unwrap();
        assert_eq!(got, (vec![3, 3], vec![0., 0., 3., 0., 0., 0., 0., 0., 5.]));
    }

    #[test]
    fn nms_defaults_select_nothing() {
        let node = Node::new("NonMaxSuppression", ["b", "s"], ["y"]);
        let got = run1(node, 10, vec![("b", f(&[1, 1, 4], &[0., 0., 1., 1.])), ("s", f(&[1, 1, 1], &[0.5]))]).unwrap();
        assert_eq!(got.0, vec![0, 3]);
        let node = Node::new("NonMaxSuppression", ["b", "s"], ["y"]);
        assert!(
            run1(node, 10, vec![("b", f(&[1, 1, 4], &[0., 0., 1., 1.])), ("s", f(&[1, 2, 2], &[0.5; 4]))]).is_err()
        );
    }

    #[test]
    fn roi_align_half_pixel() {
        #[rustfmt::skip]
        let x: Vec<f32> = vec![
            0.2764, 0.715, 0.1958, 0.3416, 0.4638, 0.0259, 0.2963, 0.6518, 0.4856, 0.725,
            0.9637, 0.0895, 0.2919, 0.6753, 0.0234, 0.6132, 0.8085, 0.5324, 0.8992, 0.4467,
            0.3265, 0.8479, 0.9698, 0.2471, 0.9336, 0.1878, 0.4766, 0.4308, 0.34, 0.2162,
            0.0206, 0.172, 0.2155, 0.4394, 0.0653, 0.3406, 0.7724, 0.3921, 0.2541, 0.5799,
            0.4062, 0.2194, 0.4473, 0.4687, 0.7109, 0.9327, 0.9815, 0.632, 0.1728, 0.6119,
            0.3097, 0.1283, 0.4984, 0.5068, 0.4279, 0.0173, 0.4388, 0.043, 0.4671, 0.7119,
            0.1011, 0.8477, 0.4726, 0.1777, 0.9923, 0.4042, 0.1869, 0.7795, 0.9946, 0.9689,
            0.1366, 0.3671, 0.7011, 0.6234, 0.9867, 0.5585, 0.6985, 0.5609, 0.8788, 0.9928,
            0.5697, 0.8511, 0.6711, 0.9406, 0.8751, 0.7496, 0.165, 0.1049, 0.1559, 0.2514,
            0.7012, 0.4056, 0.7879, 0.3461, 0.0415, 0.2998, 0.5094, 0.3727, 0.5482, 0.0502,
        ];
        let node = Node::new("RoiAlign", ["x", "rois", "bi"], ["y"])
            .with_attr("output_height", 5i64)
            .with_attr("output_width", 5i64)
            .with_attr("sampling_ratio", 2i64);
        let rois = f(&[3, 4], &[0., 0., 9., 9., 0., 5., 4., 9., 5., 5., 9., 9.]);
        let got = run1(node, 16, vec![("x", f(&[1, 1, 10, 10], &x)), ("rois", rois), ("bi", i(&[0, 0, 0]))]).unwrap();
        assert_eq!(got.0, vec![3, 1, 5, 5]);
        assert_close(
            &got.1[..10],
            &[0.5178, 0.3434, 0.3229, 0.4474, 0.6344, 0.4031, 0.5366, 0.4428, 0.4861, 0.4023],
            1e-4,
        );
        assert_close(&got.1[70..], &[0.6636, 0.3721, 0.2056, 0.1928, 0.2478], 1e-4);
    }

    #[test]
    fn roi_align_opset10_has_no_half_pixel_shift() {
        // A linear ramp: avg pooling of bilinear samples reproduces the bin centre's value.
        let x: Vec<f32> = (0..16).map(|v| (v % 4) as f32).collect();
        let node = Node::new("RoiAlign", ["x", "rois", "bi"], ["y"]).with_attr("sampling_ratio", 1i64);
        let inputs = || vec![("x", f(&[1, 1, 4, 4], &x)), ("rois", f(&[1, 4], &[1., 1., 3., 3.])), ("bi", i(&[0]))];
        assert_close(&run1(node.clone(), 10, inputs()).unwrap().1, &[2.0], 1e-6);
        assert_close(&run1(node.clone(), 16, inputs()).unwrap().1, &[1.5], 1e-6);
        let bad = vec![("x", f(&[1, 1, 4, 4], &x)), ("rois", f(&[1, 4], &[1., 1., 3., 3.])), ("bi", i(&[1]))];
        assert!(run1(node, 16, bad).unwrap_err().to_string().contains("out of range"));
    }

    #[test]
    fn affine_grid_2d() {
        let theta = f(
            &[2, 2, 3],
            &[1.088944, -3.288047, 5.0, 2.022325, 1.096015, -3.3, 0.835788, -0.554423, 2.5, 0.787628, 0.839711, 1.1],
        );
        let node = Node::new("AffineGrid", ["t", "s"], ["y"]).with_attr("align_corners", 1i64);
        let got = run1(node, 20, vec![("t", theta), ("s", i(&[2, 3, 5, 6]))]).unwrap();
        assert_eq!(got.0, vec![2, 5, 6, 2]);
        assert_close(&got.1[..6], &[7.199102, -6.418341, 7.63468, -5.609411, 8.070258, -4.80048], 1e-5);
        assert_close(&got.1[118..], &[2.781365, 2.727339], 1e-5);
    }

    #[test]
    fn affine_grid_3d_identity() {
        // Identity theta: the grid is the base coordinates, (x, y, z) per point.
        let theta = f(&[1, 3, 4], &[1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.]);
        let node = Node::new("AffineGrid", ["t", "s"], ["y"]);
        let got = run1(node, 20, vec![("t", theta), ("s", i(&[1, 1, 2, 1, 2]))]).unwrap();
        assert_eq!(got.0, vec![1, 2, 1, 2, 3]);
        assert_close(&got.1, &[-0.5, 0., -0.5, 0.5, 0., -0.5, -0.5, 0., 0.5, 0.5, 0., 0.5], 1e-6);
        let theta = f(&[1, 2, 3], &[1., 0., 0., 0., 1., 0.]);
        let node = Node::new("AffineGrid", ["t", "s"], ["y"]);
        let huge = run1(node, 20, vec![("t", theta), ("s", i(&[1, 1, 0, 1 << 40]))]);
        assert!(huge.unwrap_err().to_string().contains("too large"));
    }
}
