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

pub(crate) fn register(r: &mut OpRegistry) {
    r.add("NonMaxSuppression", non_max_suppression);
    r.add("RoiAlign", roi_align);
    r.add("AffineGrid", affine_grid);
}

/// Work limit for RoiAlign's sampling grid (samples per roi and bin grid).
const MAX_SAMPLES: usize = 1 << 28;

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
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    pos: [usize; 4],
    w: [f64; 4],
}

/// The bilinear sample at (y, x) of an h×w plane; all-zero weights outside.
fn bilinear_sample(y: f64, x: f64, h: usize, w: usize) -> Sample {
    let (hf, wf) = (h as f64, w as f64);
    if y < -1.0 || y > hf || x < -1.0 || x > wf {
        return Sample::default();
    }
    let (mut y, mut x) = (y.max(0.0), x.max(0.0));
    let (mut y_lo, mut x_lo) = (y as usize, x as usize);
    let y_hi = if y_lo >= h - 1 {
        y_lo = h - 1;
        y = y_lo as f64;
        y_lo
    } else {
        y_lo + 1
    };
    let x_hi = if x_lo >= w - 1 {
        x_lo = w - 1;
        x = x_lo as f64;
        x_lo
    } else {
        x_lo + 1
    };
    let (ly, lx) = (y - y_lo as f64, x - x_lo as f64);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
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
    spatial_scale: f64,
    half_pixel: bool,
    max_mode: bool,
}

/// Pools every roi over every channel of `x` (N, C, H, W), in f64.
fn roi_align_f64(x: &[f64], shape: [usize; 4], rois: &[f64], batch_idx: &[i64], p: &RoiParams) -> Result<Vec<f64>> {
    let [n, c, h, w] = shape;
    let plane = h * w;
    let bins = p.out_h * p.out_w;
    let mut out = vec![0.0; batch_idx.len() * c * bins];
    if h == 0 || w == 0 {
        return Ok(out);
    }
    for (r, (roi, &b)) in rois.chunks_exact(4).zip(batch_idx).enumerate() {
        if b < 0 || b as usize >= n {
            bail!("batch index {b} of roi {r} is out of range for a batch of {n}");
        }
        let offset = if p.half_pixel { 0.5 } else { 0.0 };
        let [x0, y0, x1, y1] = [0, 1, 2, 3].map(|i| roi[i] * p.spatial_scale - offset);
        let (mut rw, mut rh) = (x1 - x0, y1 - y0);
        if !p.half_pixel {
            // Malformed rois are forced to 1×1.
            rw = rw.max(1.0);
            rh = rh.max(1.0);
        }
        let (bin_h, bin_w) = (rh / p.out_h as f64, rw / p.out_w as f64);
        let grid = |len: f64, bins: usize| -> Result<usize> {
            let g = if p.sampling_ratio > 0 { p.sampling_ratio as f64 } else { (len / bins as f64).ceil() };
            if !(g.is_finite()) || g > MAX_SAMPLES as f64 {
                bail!("roi {r} needs an unreasonable sampling grid ({g})");
            }
            Ok(g.max(0.0) as usize)
        };
        let (gh, gw) = (grid(rh, p.out_h)?, grid(rw, p.out_w)?);
        if gh.saturating_mul(gw).saturating_mul(bins) > MAX_SAMPLES {
            bail!("roi {r} needs too many samples ({gh}×{gw} per bin)");
        }
        let count = (gh * gw).max(1) as f64;
        // Sample positions and weights are shared by all channels.
        let mut samples = Vec::with_capacity(bins * gh * gw);
        for ph in 0..p.out_h {
            for pw in 0..p.out_w {
                for iy in 0..gh {
                    let y = y0 + ph as f64 * bin_h + (iy as f64 + 0.5) * bin_h / gh as f64;
                    for ix in 0..gw {
                        let x = x0 + pw as f64 * bin_w + (ix as f64 + 0.5) * bin_w / gw as f64;
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
                    let mut best: Option<f64> = None;
                    for s in bin_samples {
                        let v = (0..4).map(|k| s.w[k] * src[s.pos[k]]).fold(f64::NEG_INFINITY, f64::max);
                        best = Some(best.map_or(v, |b| b.max(v)));
                    }
                    best.unwrap_or(0.0)
                } else {
                    let sum: f64 =
                        bin_samples.iter().map(|s| (0..4).map(|k| s.w[k] * src[s.pos[k]]).sum::<f64>()).sum();
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
        spatial_scale: f64::from(ctx.float("spatial_scale", 1.0)?),
        half_pixel,
        max_mode: match mode.as_str() {
            "avg" => false,
            "max" => true,
            m => bail!("unknown mode '{m}'"),
        },
    };
    let out_shape = [num, c, p.out_h, p.out_w];
    if out_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none_or(|t| t > 1 << 32) {
        bail!("output shape {out_shape:?} is too large");
    }
    let data = match x {
        Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_) => x.to_f64_vec()?,
        other => bail!("X must be a float tensor, got {}", other.dtype()),
    };
    let out = roi_align_f64(&data, [n, c, h, w], &rois.to_f64_vec()?, &batch.to_i64_vec()?, &p)?;
    let shape = IxDyn(&out_shape);
    let mk = |e: ndarray::ShapeError| crate::Error::op(e.to_string());
    Ok(vec![Value::Tensor(match x {
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
    if out_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none_or(|t| t > 1 << 32) {
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
