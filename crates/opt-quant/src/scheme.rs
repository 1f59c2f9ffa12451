//! The quantization arithmetic: scale and zero point from a range,
//! rounding, packing of 4-bit values, and whole-tensor quantization with
//! per-tensor, per-axis or blocked scales. The convention the results are
//! stored in (DQ weights, Q/DQ pairs, dynamic form), built and recognised, is
//! `ir::quant`, shared with the format crates; its types are re-exported here.

use std::borrow::Cow;

use ir::{Buffer, DType, Result, Tensor, bf16, f16};

pub use ir::quant::{DqNames, DqWeight, QuantizedWeight, dq_weight_node, match_dq_weight};

/// An integer type a tensor can be quantized to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    /// int8.
    I8,
    /// uint8.
    U8,
    /// int4, packed two per byte.
    I4,
    /// uint4, packed two per byte.
    U4,
}

impl QType {
    /// The IR dtype.
    pub fn dtype(self) -> DType {
        match self {
            QType::I8 => DType::I8,
            QType::U8 => DType::U8,
            QType::I4 => DType::I4,
            QType::U4 => DType::U4,
        }
    }

    /// The quantization type of an IR dtype, if it is one.
    pub fn of(dtype: DType) -> Option<Self> {
        match dtype {
            DType::I8 => Some(QType::I8),
            DType::U8 => Some(QType::U8),
            DType::I4 => Some(QType::I4),
            DType::U4 => Some(QType::U4),
            _ => None,
        }
    }

    /// Whether the type is signed.
    pub fn signed(self) -> bool {
        matches!(self, QType::I8 | QType::I4)
    }

    /// The integer range `[qmin, qmax]`. `narrow` drops the most negative
    /// value of signed types (int8 → [-127, 127]) so the range is symmetric
    /// and a symmetric scale maps `max |x|` and `-max |x|` exactly.
    pub fn range(self, narrow: bool) -> (i32, i32) {
        let n = i32::from(narrow && self.signed());
        match self {
            QType::I8 => (-128 + n, 127),
            QType::U8 => (0, 255),
            QType::I4 => (-8 + n, 7),
            QType::U4 => (0, 15),
        }
    }
}

/// Scale and zero point of one quantization group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    /// Real value of one integer step.
    pub scale: f32,
    /// Integer that represents real 0.
    pub zero_point: i32,
}

/// Scale and zero point for real values in `[min, max]` (the standard formulas).
///
/// The range is first widened to include 0 so that 0 (padding, ReLU output)
/// is exact. Symmetric quantization uses `max(|min|, |max|)` on both sides;
/// a signed type then gets zero point 0. A scale below the smallest normal
/// f32 (an all-zero group) becomes 1 with zero point 0, so dequantization
/// never divides by or multiplies with a denormal.
pub fn qparams(min: f32, max: f32, qtype: QType, symmetric: bool, narrow: bool) -> QParams {
    let (qmin, qmax) = qtype.range(narrow);
    let (mut lo, mut hi) = (min.min(0.0), max.max(0.0));
    if !lo.is_finite() || !hi.is_finite() {
        // Infinite or NaN ranges cannot be represented; clamp to f32's range
        // so the scale stays finite and the finite values keep their meaning.
        lo = if lo.is_nan() { 0.0 } else { lo.max(-f32::MAX / 2.0) };
        hi = if hi.is_nan() { 0.0 } else { hi.min(f32::MAX / 2.0) };
    }
    if symmetric {
        let a = lo.abs().max(hi.abs());
        lo = -a;
        hi = a;
    }
    let scale = (f64::from(hi) - f64::from(lo)) / f64::from(qmax - qmin);
    let scale = scale as f32;
    if scale.is_nan() || scale < f32::MIN_POSITIVE || !scale.is_finite() {
        return QParams { scale: 1.0, zero_point: 0 };
    }
    let zero_point = if symmetric && qtype.signed() {
        0
    } else {
        (f64::from(qmin) - f64::from(lo) / f64::from(scale)).round_ties_even().clamp(f64::from(qmin), f64::from(qmax))
            as i32
    };
    QParams { scale, zero_point }
}

/// [`qparams`] with the scale rounded up to an f16 (so `[min, max]` still
/// fits the integer range) and the zero point recomputed for it; `None`
/// when the scale is not a normal f16 (below 2⁻¹⁴ or above 65504).
pub fn qparams_f16(min: f32, max: f32, qtype: QType, symmetric: bool, narrow: bool) -> Option<QParams> {
    let p = qparams(min, max, qtype, symmetric, narrow);
    let mut h = f16::from_f32(p.scale);
    if h.to_f32() < p.scale {
        h = f16::from_bits(h.to_bits() + 1);
    }
    if !h.is_normal() || !h.is_finite() {
        return None;
    }
    let h = exact_product_scale(h, qtype)?;
    let scale = h.to_f32();
    if p.scale == scale || p.zero_point == 0 && (symmetric || min >= 0.0) {
        return Some(QParams { scale, zero_point: p.zero_point });
    }
    let (qmin, qmax) = qtype.range(narrow);
    // `min`/`max` first so a NaN bound reads as 0, as in `qparams`.
    let lo = f64::from(min.min(0.0).clamp(-f32::MAX / 2.0, 0.0));
    let hi = f64::from(max.max(0.0).clamp(0.0, f32::MAX / 2.0));
    let lo = if symmetric { -lo.abs().max(hi.abs()) } else { lo };
    let zero_point =
        (f64::from(qmin) - lo / f64::from(scale)).round_ties_even().clamp(f64::from(qmin), f64::from(qmax));
    Some(QParams { scale, zero_point: zero_point as i32 })
}

/// An f16 scale rounded up to 7 significant bits for 4-bit types, so that
/// every `(q − zp) · scale` (at most 15 in magnitude, 4 bits) is exact in
/// f16: `DequantizeLinear` with f16 scales then gives the same weights as
/// runtimes that dequantize in f32 (OpenVINO, onnxruntime's MatMulNBits,
/// whose scales are f32), where plain f16 scales differed by a relative
/// 3e-4 on the bench's Llama. The cost is a scale up to 2⁻⁷ coarser, which
/// the clipping search absorbs. `None` if the rounding leaves the normal range.
fn exact_product_scale(h: f16, qtype: QType) -> Option<f16> {
    if !matches!(qtype, QType::I4 | QType::U4) {
        return Some(h);
    }
    const DROP: u16 = (1 << 4) - 1;
    let bits = h.to_bits();
    let r = if bits & DROP == 0 { h } else { f16::from_bits((bits | DROP) + 1) };
    (r.is_normal() && r.is_finite()).then_some(r)
}

/// A scale computed freely (a least-squares refit) made storable: the
/// nearest f16 when `half`, with [`exact_product_scale`]'s precision for
/// 4-bit types, rounded to nearest rather than up (the range no longer has
/// to fit: the integers are fixed). `None` if it leaves f16's normal range.
pub(crate) fn storable_scale(s: f32, qtype: QType, half: bool) -> Option<f32> {
    if !half {
        return (s.is_finite() && s != 0.0).then_some(s);
    }
    let h = f16::from_f32(s);
    let h = if matches!(qtype, QType::I4 | QType::U4) {
        // Round the magnitude bits to 7 significant bits (sign untouched).
        f16::from_bits((h.to_bits() + 8) & !15)
    } else {
        h
    };
    (h.is_normal() && h.is_finite()).then(|| h.to_f32())
}

/// `QuantizeLinear` of one value: round half to even, add the zero point, saturate.
///
/// The quotient is clamped to just outside the integer range first, so the
/// rounding can use the `1.5·2²³` add/subtract identity (exact round half to
/// even for |v| < 2²²) instead of a libm call: on the x86-64 baseline
/// `round_ties_even` is an out-of-line `rintf`, which was a fifth of the
/// quantizer's time on a 1 GiB model.
#[inline]
pub fn quantize(x: f32, p: QParams, qmin: i32, qmax: i32) -> i32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let v = x / p.scale;
    let lo = (qmin - p.zero_point) as f32 - 1.0;
    let hi = (qmax - p.zero_point) as f32 + 1.0;
    // NaN stays NaN through the clamp and the rounding, and Rust casts NaN
    // to 0: a NaN weight becomes the zero point (as a cast of NaN to int
    // does in most runtimes) with no branch in the loop.
    let r = (v.clamp(lo, hi) + MAGIC) - MAGIC;
    (r as i32 + p.zero_point).clamp(qmin, qmax)
}

/// `DequantizeLinear` of one value.
pub fn dequantize(q: i32, p: QParams) -> f32 {
    (q - p.zero_point) as f32 * p.scale
}

/// How scales are shared across a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One scale for the whole tensor (a scalar `x_scale`).
    PerTensor,
    /// One scale per index along `axis` (a 1-D `x_scale`, opset ≥ 13).
    PerAxis(usize),
    /// One scale per `block` consecutive elements along `axis` (opset ≥ 21).
    Blocked {
        /// The blocked axis.
        axis: usize,
        /// Elements per block.
        block: usize,
    },
}

impl Granularity {
    /// The oldest `ai.onnx` opset whose `DequantizeLinear` accepts this form.
    pub fn min_opset(self, qtype: QType) -> i64 {
        let form = match self {
            Granularity::PerTensor => 10,
            Granularity::PerAxis(_) => 13,
            Granularity::Blocked { .. } => 21,
        };
        if matches!(qtype, QType::I4 | QType::U4) { form.max(21) } else { form }
    }

    /// The shape of `x_scale` for a tensor of `shape`.
    pub fn scale_shape(self, shape: &[usize]) -> Vec<usize> {
        match self {
            Granularity::PerTensor => vec![],
            Granularity::PerAxis(a) => vec![shape[a]],
            Granularity::Blocked { axis, block } => {
                let mut s = shape.to_vec();
                s[axis] = shape[axis].div_ceil(block);
                s
            }
        }
    }

    /// `(outer, len, inner, groups-per-len)` view: element `(o, k, j)` of a
    /// tensor seen as `[outer, len, inner]` uses scale number `index(o, k, j)`.
    fn layout(self, shape: &[usize]) -> (usize, usize, usize) {
        match self {
            Granularity::PerTensor => (1, shape.iter().product(), 1),
            Granularity::PerAxis(a) | Granularity::Blocked { axis: a, .. } => {
                (shape[..a].iter().product(), shape[a], shape[a + 1..].iter().product())
            }
        }
    }

    fn check(self, shape: &[usize]) -> Result<()> {
        match self {
            Granularity::PerTensor => Ok(()),
            Granularity::PerAxis(a) | Granularity::Blocked { axis: a, .. } if a >= shape.len() => {
                Err(ir::Error::invalid(format!("quantization axis {a} is out of range for shape {shape:?}")))
            }
            Granularity::Blocked { block: 0, .. } => Err(ir::Error::invalid("block size 0")),
            _ => Ok(()),
        }
    }
}

/// How to quantize one weight tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightSpec {
    /// Target integer type.
    pub qtype: QType,
    /// Symmetric (zero point 0 for signed types) or asymmetric (min/max).
    pub symmetric: bool,
    /// Narrow signed range (int8 [-127, 127]).
    pub narrow: bool,
    /// Scale sharing.
    pub granularity: Granularity,
    /// Store the scales as f16 (rounded up, so the range still fits) when
    /// every scale of the tensor is a normal f16; f32 otherwise.
    pub half_scales: bool,
    /// Search each group's clip ratio for the least squared error instead
    /// of mapping its min/max onto the integer range ([`choose_params`]).
    /// Meant with `narrow: false`, so symmetric 4-bit groups also use −8.
    pub clip: bool,
}

/// A quantized tensor in the DQ convention, plus how well it represents the original.
#[derive(Debug, Clone)]
pub struct QuantizedTensor {
    /// The integers (`x`), in the original shape; 4-bit types packed.
    pub q: Tensor,
    /// `x_scale`: f32, or f16 when [`WeightSpec::half_scales`] was honoured
    /// (the DQ node then produces f16).
    pub scale: Tensor,
    /// `x_zero_point`; `None` when every zero point is 0 (symmetric signed).
    pub zero_point: Option<Tensor>,
    /// The DQ node's `axis` attribute, if not per-tensor.
    pub axis: Option<i64>,
    /// The DQ node's `block_size` attribute, if blocked.
    pub block_size: Option<i64>,
    /// Σx² of the original values.
    pub signal: f64,
    /// Σ(x − x̂)² between original and dequantized values.
    pub noise: f64,
}

impl QuantizedTensor {
    /// Signal-to-quantization-noise ratio of this tensor in dB (∞ when exact).
    pub fn sqnr_db(&self) -> f64 {
        sqnr_db(self.signal, self.noise)
    }
}

/// `10·log10(signal / noise)`, ∞ when the noise is 0.
pub fn sqnr_db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 { f64::INFINITY } else { 10.0 * (signal / noise).log10() }
}

/// The values of a float tensor (f32, f16, bf16, f64) as f32; `None` for other dtypes.
pub fn float_values(t: &Tensor) -> Result<Option<Cow<'_, [f32]>>> {
    Ok(Some(match t.dtype() {
        DType::F32 => t.as_slice::<f32>()?,
        DType::F16 => Cow::Owned(t.as_slice::<f16>()?.iter().map(|v| v.to_f32()).collect()),
        DType::BF16 => Cow::Owned(t.as_slice::<bf16>()?.iter().map(|v| v.to_f32()).collect()),
        DType::F64 => Cow::Owned(t.as_slice::<f64>()?.iter().map(|&v| v as f32).collect()),
        _ => return Ok(None),
    }))
}

/// Packs integers of a quantization type into the IR's bytes (4-bit: two per byte, low nibble first).
pub fn pack(values: &[i32], qtype: QType) -> Buffer {
    match qtype {
        QType::I8 => Buffer::from_vec(values.iter().map(|&v| v as i8 as u8).collect()),
        QType::U8 => Buffer::from_vec(values.iter().map(|&v| v as u8).collect()),
        QType::I4 | QType::U4 => Buffer::from_vec(
            values
                .chunks(2)
                .map(|c| {
                    let lo = (c[0] as u8) & 0x0f;
                    let hi = c.get(1).map_or(0, |&v| (v as u8) & 0x0f);
                    lo | (hi << 4)
                })
                .collect(),
        ),
    }
}

/// Unpacks the integers of a quantized tensor (inverse of [`pack`]).
pub fn unpack(t: &Tensor) -> Result<Vec<i32>> {
    let raw = t.raw().ok_or_else(|| ir::Error::invalid("string tensor is not quantized"))?;
    let n = t.numel();
    Ok(match t.dtype() {
        DType::I8 => raw.iter().map(|&b| i32::from(b as i8)).collect(),
        DType::U8 => raw.iter().map(|&b| i32::from(b)).collect(),
        DType::I4 => (0..n).map(|i| i32::from((((raw[i / 2] >> (4 * (i % 2))) << 4) as i8) >> 4)).collect(),
        DType::U4 => (0..n).map(|i| i32::from((raw[i / 2] >> (4 * (i % 2))) & 0x0f)).collect(),
        d => return Err(ir::Error::invalid(format!("{d} is not a quantized integer type"))),
    })
}

/// Which scale group each element of a contiguous run of a weight uses.
#[derive(Debug, Clone, Copy)]
enum Groups {
    /// All of them use this group.
    Fixed(usize),
    /// Element `t` of the run uses group `first + t`.
    Each(usize),
}

/// The weight as contiguous runs `(start, len, groups)` in memory order, so
/// the quantizer's inner loops see either one scale or consecutive scales
/// and no per-element index arithmetic.
fn runs(g: Granularity, outer: usize, len: usize, inner: usize) -> Vec<(usize, usize, Groups)> {
    let mut runs = Vec::new();
    match g {
        Granularity::PerTensor => runs.push((0, outer * len * inner, Groups::Fixed(0))),
        // Output channels along the last axis (a MatMul weight): one run per row.
        Granularity::PerAxis(_) if inner == 1 => runs.extend((0..outer).map(|o| (o * len, len, Groups::Each(0)))),
        Granularity::PerAxis(_) => {
            for o in 0..outer {
                runs.extend((0..len).map(|k| ((o * len + k) * inner, inner, Groups::Fixed(k))));
            }
        }
        Granularity::Blocked { block, .. } => {
            let per_len = len.div_ceil(block);
            for o in 0..outer {
                if inner == 1 {
                    for b in 0..per_len {
                        let k = b * block;
                        runs.push((o * len + k, block.min(len - k), Groups::Fixed(o * per_len + b)));
                    }
                } else {
                    for k in 0..len {
                        runs.push(((o * len + k) * inner, inner, Groups::Each((o * per_len + k / block) * inner)));
                    }
                }
            }
        }
    }
    runs
}

/// Quantizes one run (`param(t)` is element `t`'s parameters) and returns
/// the signal and noise energy of its finite values, the noise being what a
/// runtime's `DequantizeLinear` gives back: `(q − zp) · scale`, which is
/// exact in f32 (at most 9 + 11 significant bits for f16 scales), rounded
/// once to the scale's type (`HALF`). Eight partial sums per quantity keep
/// the loop free of one long floating-point dependency chain.
#[inline(always)]
fn quantize_run<const HALF: bool>(
    xs: &[f32],
    qs: &mut [i32],
    param: impl Fn(usize) -> QParams,
    qmin: i32,
    qmax: i32,
) -> (f64, f64) {
    const LANES: usize = 8;
    let (mut sig, mut noi) = ([0f64; LANES], [0f64; LANES]);
    for (c, (xc, qc)) in xs.chunks(LANES).zip(qs.chunks_mut(LANES)).enumerate() {
        for (l, (&x, q)) in xc.iter().zip(qc).enumerate() {
            let p = param(c * LANES + l);
            let v = quantize(x, p, qmin, qmax);
            *q = v;
            let prod = (v - p.zero_point) as f32 * p.scale;
            let back = if HALF { f16::from_f32(prod).to_f32() } else { prod };
            let (x64, d) = (f64::from(x), f64::from(x) - f64::from(back));
            let finite = x.is_finite();
            sig[l] += if finite { x64 * x64 } else { 0.0 };
            noi[l] += if finite { d * d } else { 0.0 };
        }
    }
    (sig.iter().sum(), noi.iter().sum())
}

/// The MSE search's clip ratios: the group's range times `r`, first from
/// 1 (no clipping) down to 0.5 in steps of 1/20, then one step of 1/80 to
/// each side of each group's best. Clipping the few largest weights of a
/// group trades their error for a finer step on all the others; for 4 bits
/// the optimum of random and trained weights lies between 0.7 and 1, so
/// half the range is a safe floor, and the fine step resolves the optimum
/// to well under 0.05 dB (measured against a 1/400 grid on the Llama-style
/// bench model's weights).
const COARSE_STEPS: usize = 11;

fn coarse_ratio(i: usize) -> f32 {
    1.0 - i as f32 / 20.0
}

/// The quantization parameters chosen for a tensor, one per scale group in
/// the scale tensor's memory order.
#[derive(Debug, Clone)]
pub struct GroupParams {
    /// Scale and zero point per group (scales already rounded to f16 when `half`).
    pub params: Vec<QParams>,
    /// Whether the scales are stored as f16.
    pub half: bool,
    /// Σ(x − x̂)² of plain min/max rounding, when a clipping search ran
    /// (the baseline its gain is measured against).
    pub baseline_noise: Option<f64>,
}

/// Each group's `[min, max]` of the finite values (`(0, 0)` for a group
/// with none): pass one of the quantizer.
fn group_ranges(values: &[f32], runs: &[(usize, usize, Groups)], ngroups: usize) -> Vec<(f32, f32)> {
    let mut lo = vec![f32::INFINITY; ngroups];
    let mut hi = vec![f32::NEG_INFINITY; ngroups];
    // `f32::min`/`max` ignore NaN, so NaN weights do not widen a range.
    for &(start, n, groups) in runs {
        let xs = &values[start..start + n];
        match groups {
            Groups::Fixed(gi) => {
                lo[gi] = xs.iter().fold(lo[gi], |a, &x| a.min(x));
                hi[gi] = xs.iter().fold(hi[gi], |a, &x| a.max(x));
            }
            Groups::Each(first) => {
                for ((l, h), &x) in lo[first..first + n].iter_mut().zip(&mut hi[first..first + n]).zip(xs) {
                    *l = l.min(x);
                    *h = h.max(x);
                }
            }
        }
    }
    lo.iter().zip(&hi).map(|(&l, &h)| if l > h { (0.0, 0.0) } else { (l.max(-f32::MAX), h.min(f32::MAX)) }).collect()
}

/// The parameters of one group for the range `[lo, hi]` scaled by `r`:
/// the scale maps the (clipped) extreme onto the narrow integer range
/// (±7, ±127 for symmetric types), rounded up to an f16 when `half`.
///
/// With `flip` (symmetric signed types on the wide range only), the scale
/// instead maps the extreme onto the type's most negative value (−8, −128),
/// negative when the extreme is positive: a two's-complement range is one
/// level longer on its negative side, and the sign of the scale puts that
/// level on the side of the group's largest magnitude, so 16 levels cover
/// it instead of 15 (NNCF's INT4_SYM rule). `DequantizeLinear` multiplies
/// by the scale whatever its sign.
fn candidate(lo: f32, hi: f32, r: f32, spec: &WeightSpec, half: bool, flip: bool) -> Option<QParams> {
    let (lo, hi) = (lo * r, hi * r);
    if flip {
        let (qmin, _) = spec.qtype.range(false);
        let a = lo.abs().max(hi.abs());
        let mut s = a / -(qmin as f32);
        if half {
            let mut h = f16::from_f32(s);
            if h.to_f32() < s {
                h = f16::from_bits(h.to_bits() + 1);
            }
            if !h.is_normal() || !h.is_finite() {
                return None;
            }
            s = exact_product_scale(h, spec.qtype)?.to_f32();
        }
        if s.is_nan() || s < f32::MIN_POSITIVE || !s.is_finite() {
            return Some(QParams { scale: 1.0, zero_point: 0 });
        }
        return Some(QParams { scale: if hi > -lo { -s } else { s }, zero_point: 0 });
    }
    if half {
        qparams_f16(lo, hi, spec.qtype, spec.symmetric, true)
    } else {
        Some(qparams(lo, hi, spec.qtype, spec.symmetric, true))
    }
}

/// Chooses every group's scale and zero point for `spec`: min/max, or with
/// [`WeightSpec::clip`] the clip ratio of least squared error per group.
pub fn choose_params(values: &[f32], shape: &[usize], spec: &WeightSpec) -> Result<GroupParams> {
    choose_params_weighted(values, shape, spec, None)
}

/// [`choose_params`] with the clipping search's squared errors weighted per
/// index of the last axis (`weights[i % last]`): GPTQ weighs each column's
/// rounding error by its cost at the output.
pub fn choose_params_weighted(
    values: &[f32],
    shape: &[usize],
    spec: &WeightSpec,
    weights: Option<&[f64]>,
) -> Result<GroupParams> {
    let last = shape.last().copied().unwrap_or(1).max(1);
    if weights.is_some_and(|w| w.len() != last) {
        return Err(ir::Error::invalid(format!(
            "{} error weights for a last axis of {last}",
            weights.map_or(0, <[f64]>::len)
        )));
    }
    let cw = weights.map(|w| (w, last));
    let g = spec.granularity;
    g.check(shape)?;
    if values.len() != shape.iter().product::<usize>() {
        return Err(ir::Error::invalid(format!("{} values for shape {shape:?}", values.len())));
    }
    let (outer, len, inner) = g.layout(shape);
    let ngroups: usize = g.scale_shape(shape).iter().product();
    let runs = runs(g, outer, len, inner);
    let ranges = group_ranges(values, &runs, ngroups);
    // The search starts from min/max mapped onto the narrow range (±7),
    // which a wide range (−8..7) represents identically.
    let narrow = spec.narrow || spec.clip;
    let plain = |half: bool| -> Option<Vec<QParams>> {
        ranges
            .iter()
            .map(|&(l, h)| {
                if half {
                    qparams_f16(l, h, spec.qtype, spec.symmetric, narrow)
                } else {
                    Some(qparams(l, h, spec.qtype, spec.symmetric, narrow))
                }
            })
            .collect()
    };
    // f16 scales only when every group's scale is a normal f16.
    let (params, half) = match plain(spec.half_scales).filter(|_| spec.half_scales) {
        Some(p) => (p, true),
        None => (plain(false).expect("f32 parameters always exist"), false),
    };
    if !spec.clip {
        return Ok(GroupParams { params, half, baseline_noise: None });
    }
    let (qmin, qmax) = spec.qtype.range(spec.narrow);
    // The search compares errors without rounding each product to f16 (the
    // scales themselves are f16 already): the difference is far below the
    // gaps between candidates, and the software f16 conversion per element
    // was most of the search's time.
    let mut best_params = params;
    let mut best = group_noise(values, &runs, ngroups, &best_params, qmin, qmax, false, cw);
    let baseline_noise = if half {
        group_noise(values, &runs, ngroups, &best_params, qmin, qmax, true, cw).iter().sum()
    } else {
        best.iter().sum()
    };
    // Each group's best (ratio, flipped) so far.
    let mut best_r = vec![(1f32, false); ngroups];
    let mut cand = best_params.clone();
    let flips: &[bool] = if spec.symmetric && spec.qtype.signed() && !spec.narrow { &[false, true] } else { &[false] };
    let mut try_ratios = |ratio: &dyn Fn(usize) -> (f32, bool),
                          best: &mut Vec<f64>,
                          best_params: &mut Vec<QParams>,
                          best_r: &mut Vec<(f32, bool)>| {
        for (gi, (c, &(l, h))) in cand.iter_mut().zip(&ranges).enumerate() {
            let (r, flip) = ratio(gi);
            // A ratio whose scale leaves f16's range keeps the best so far.
            *c = candidate(l, h, r, spec, half, flip).unwrap_or(best_params[gi]);
        }
        let noise = group_noise(values, &runs, ngroups, &cand, qmin, qmax, false, cw);
        for gi in 0..ngroups {
            if noise[gi] < best[gi] {
                best[gi] = noise[gi];
                best_params[gi] = cand[gi];
                best_r[gi] = ratio(gi);
            }
        }
    };
    for &flip in flips {
        for i in usize::from(!flip)..COARSE_STEPS {
            try_ratios(&|_| (coarse_ratio(i), flip), &mut best, &mut best_params, &mut best_r);
        }
    }
    let centre = best_r.clone();
    for d in [-1.0f32, 1.0] {
        try_ratios(&|gi| ((centre[gi].0 + d / 80.0).min(1.0), centre[gi].1), &mut best, &mut best_params, &mut best_r);
    }
    Ok(GroupParams { params: best_params, half, baseline_noise: Some(baseline_noise) })
}

/// Σ(x − x̂)² per group for the given parameters (finite values only),
/// each term weighted by `weights.0[i % weights.1]` when given.
#[allow(clippy::too_many_arguments)]
fn group_noise(
    values: &[f32],
    runs: &[(usize, usize, Groups)],
    ngroups: usize,
    params: &[QParams],
    qmin: i32,
    qmax: i32,
    half: bool,
    weights: Option<(&[f64], usize)>,
) -> Vec<f64> {
    let mut noise = vec![0f64; ngroups];
    let err = |x: f32, p: QParams| -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        let v = quantize(x, p, qmin, qmax);
        let prod = (v - p.zero_point) as f32 * p.scale;
        let back = if half { f16::from_f32(prod).to_f32() } else { prod };
        let d = f64::from(x - back);
        d * d
    };
    let weight = |i: usize| weights.map_or(1.0, |(w, last)| w[i % last]);
    for &(start, n, groups) in runs {
        let xs = &values[start..start + n];
        match groups {
            Groups::Fixed(gi) => {
                let p = params[gi];
                noise[gi] += if weights.is_some() {
                    xs.iter().enumerate().map(|(t, &x)| err(x, p) * weight(start + t)).sum::<f64>()
                } else {
                    xs.iter().map(|&x| err(x, p)).sum::<f64>()
                };
            }
            Groups::Each(first) => {
                for (t, ((e, &p), &x)) in
                    noise[first..first + n].iter_mut().zip(&params[first..first + n]).zip(xs).enumerate()
                {
                    *e += err(x, p) * weight(start + t);
                }
            }
        }
    }
    noise
}

/// Quantizes `values` (of `shape`) by `spec` into the DQ convention.
///
/// Two passes over the values: ranges per group (and, with
/// [`WeightSpec::clip`], the clipping search), then integers. The error
/// figures compare each value with its dequantized integer.
pub fn quantize_tensor(values: &[f32], shape: &[usize], spec: &WeightSpec) -> Result<QuantizedTensor> {
    let chosen = choose_params(values, shape, spec)?;
    quantize_with(values, shape, spec, &chosen)
}

/// Quantizes `values` with parameters already chosen (by [`choose_params`]
/// or by an error-compensating method that picked them itself).
pub fn quantize_with(
    values: &[f32],
    shape: &[usize],
    spec: &WeightSpec,
    chosen: &GroupParams,
) -> Result<QuantizedTensor> {
    let g = spec.granularity;
    g.check(shape)?;
    if values.len() != shape.iter().product::<usize>() {
        return Err(ir::Error::invalid(format!("{} values for shape {shape:?}", values.len())));
    }
    let (outer, len, inner) = g.layout(shape);
    let runs = runs(g, outer, len, inner);
    let (params, half) = (&chosen.params, chosen.half);
    let (qmin, qmax) = spec.qtype.range(spec.narrow);
    let mut q = vec![0i32; values.len()];
    let (mut signal, mut noise) = (0f64, 0f64);
    for &(start, n, groups) in &runs {
        let (xs, qs) = (&values[start..start + n], &mut q[start..start + n]);
        let (sig, noi) = match (groups, half) {
            (Groups::Fixed(gi), false) => quantize_run::<false>(xs, qs, |_| params[gi], qmin, qmax),
            (Groups::Fixed(gi), true) => quantize_run::<true>(xs, qs, |_| params[gi], qmin, qmax),
            (Groups::Each(first), false) => {
                let ps = &params[first..first + n];
                quantize_run::<false>(xs, qs, |t| ps[t], qmin, qmax)
            }
            (Groups::Each(first), true) => {
                let ps = &params[first..first + n];
                quantize_run::<true>(xs, qs, |t| ps[t], qmin, qmax)
            }
        };
        signal += sig;
        noise += noi;
    }
    assemble(&q, shape, spec, chosen, signal, noise)
}

/// The quantized tensor of integers `q` (in the weight's layout) with the
/// chosen parameters, and its measured signal and noise energy.
pub fn assemble(
    q: &[i32],
    shape: &[usize],
    spec: &WeightSpec,
    chosen: &GroupParams,
    signal: f64,
    noise: f64,
) -> Result<QuantizedTensor> {
    let g = spec.granularity;
    let scale_shape = g.scale_shape(shape);
    let params = &chosen.params;
    if params.len() != scale_shape.iter().product::<usize>() || q.len() != shape.iter().product::<usize>() {
        return Err(ir::Error::invalid(format!("quantization parameters do not fit shape {shape:?}")));
    }
    let scale = if chosen.half {
        Tensor::from_vec(scale_shape.clone(), params.iter().map(|p| f16::from_f32(p.scale)).collect())?
    } else {
        Tensor::from_vec(scale_shape.clone(), params.iter().map(|p| p.scale).collect())?
    };
    let zero_point = if params.iter().all(|p| p.zero_point == 0) && spec.qtype.signed() {
        None
    } else {
        let zp: Vec<i32> = params.iter().map(|p| p.zero_point).collect();
        Some(Tensor::from_raw(spec.qtype.dtype(), scale_shape, pack(&zp, spec.qtype))?)
    };
    let qt = Tensor::from_raw(spec.qtype.dtype(), shape.to_vec(), pack(q, spec.qtype))?;
    let (axis, block_size) = match g {
        Granularity::PerTensor => (None, None),
        Granularity::PerAxis(a) => (Some(a as i64), None),
        Granularity::Blocked { axis, block } => (Some(axis as i64), Some(block as i64)),
    };
    Ok(QuantizedTensor { q: qt, scale, zero_point, axis, block_size, signal, noise })
}

/// Dequantizes a tensor in the DQ convention back to f32 (the `DequantizeLinear` formula).
pub fn dequantize_tensor(
    q: &Tensor,
    scale: &Tensor,
    zero_point: Option<&Tensor>,
    axis: Option<i64>,
    block_size: Option<i64>,
) -> Result<Vec<f32>> {
    let shape = q.shape();
    let ints = unpack(q)?;
    let scales = float_values(scale)?.ok_or_else(|| ir::Error::invalid("x_scale is not a float tensor"))?;
    let zps = zero_point.map(unpack).transpose()?;
    let rank = shape.len() as i64;
    let g = if scale.numel() == 1 && scale.shape().len() <= 1 && block_size.is_none() {
        Granularity::PerTensor
    } else {
        let a = axis.unwrap_or(1);
        let a = if a < 0 { a + rank } else { a };
        if !(0..rank).contains(&a) {
            return Err(ir::Error::invalid(format!("axis {a} out of range for shape {shape:?}")));
        }
        match block_size {
            Some(b) if b > 0 => Granularity::Blocked { axis: a as usize, block: b as usize },
            Some(b) => return Err(ir::Error::invalid(format!("block_size {b}"))),
            None => Granularity::PerAxis(a as usize),
        }
    };
    g.check(shape)?;
    if g.scale_shape(shape).iter().product::<usize>() != scales.len() {
        return Err(ir::Error::invalid(format!(
            "x_scale of shape {:?} does not fit x of shape {shape:?}",
            scale.shape()
        )));
    }
    if zps.as_ref().is_some_and(|z| z.len() != scales.len()) {
        return Err(ir::Error::invalid("x_zero_point and x_scale differ in size"));
    }
    let (outer, len, inner) = g.layout(shape);
    let mut out = vec![0f32; ints.len()];
    for o in 0..outer {
        for k in 0..len {
            for j in 0..inner {
                let i = (o * len + k) * inner + j;
                let gi = match g {
                    Granularity::PerTensor => 0,
                    Granularity::PerAxis(_) => k,
                    Granularity::Blocked { block, .. } => (o * len.div_ceil(block) + k / block) * inner + j,
                };
                let zp = zps.as_ref().map_or(0, |z| z[gi]);
                out[i] = dequantize(ints[i], QParams { scale: scales[gi], zero_point: zp });
            }
        }
    }
    Ok(out)
}

impl QuantizedTensor {
    /// The tensor in the IR's convention (`ir::quant`), without the error figures.
    pub fn into_weight(self) -> QuantizedWeight {
        QuantizedWeight {
            q: self.q,
            scale: self.scale,
            zero_point: self.zero_point,
            axis: self.axis,
            block_size: self.block_size,
        }
    }
}

/// The dequantized values of a recognised DQ weight.
pub fn dequantize_weight(w: &DqWeight<'_>) -> Result<Vec<f32>> {
    dequantize_tensor(w.q, w.scale, w.zero_point, w.axis, w.block_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_formulas() {
        let p = qparams(-1.0, 2.54, QType::I8, true, true);
        assert_eq!(p.zero_point, 0);
        assert!((p.scale - 2.54 / 127.0).abs() < 1e-9);
        // Asymmetric u8 widens [1, 3] to [0, 3].
        let p = qparams(1.0, 3.0, QType::U8, false, false);
        assert_eq!(p.zero_point, 0);
        assert!((p.scale - 3.0 / 255.0).abs() < 1e-9);
        let p = qparams(-1.0, 3.0, QType::U8, false, false);
        assert_eq!(p.zero_point, 64);
        // All-zero group.
        assert_eq!(qparams(0.0, 0.0, QType::I4, true, true), QParams { scale: 1.0, zero_point: 0 });
        assert_eq!(qparams(0.0, 1e-40, QType::I8, true, true), QParams { scale: 1.0, zero_point: 0 });
    }

    #[test]
    fn pack_round_trips_int4() {
        let v = vec![-8, 7, -1, 0, 3];
        let t = Tensor::from_raw(DType::I4, vec![5], pack(&v, QType::I4)).unwrap();
        assert_eq!(t.raw().unwrap().as_bytes(), &[0x78, 0x0f, 0x03]);
        assert_eq!(unpack(&t).unwrap(), v);
        let u = vec![15, 0, 9];
        let t = Tensor::from_raw(DType::U4, vec![3], pack(&u, QType::U4)).unwrap();
        assert_eq!(unpack(&t).unwrap(), u);
    }

    /// The run-by-run quantizer against a plain element-by-element reference
    /// (group index computed per element, f64 error as the runtime rounds
    /// it), for every granularity and both run shapes (`inner` 1 and more),
    /// with NaN and infinities in the data.
    #[test]
    fn runs_match_an_element_by_element_reference() {
        let shape = [3usize, 10, 4];
        let mut w: Vec<f32> = (0..120).map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.021).collect();
        w[7] = f32::NAN;
        w[50] = f32::INFINITY;
        w[99] = f32::NEG_INFINITY;
        let grans = [
            Granularity::PerTensor,
            Granularity::PerAxis(0),
            Granularity::PerAxis(1),
            Granularity::PerAxis(2),
            Granularity::Blocked { axis: 1, block: 4 },
            Granularity::Blocked { axis: 2, block: 3 },
        ];
        for g in grans {
            for (qtype, symmetric, half) in
                [(QType::I8, true, false), (QType::U8, false, true), (QType::I4, true, true)]
            {
                let spec =
                    WeightSpec { qtype, symmetric, narrow: true, granularity: g, half_scales: half, clip: false };
                let qt = quantize_tensor(&w, &shape, &spec).unwrap();
                // Reference: ranges, parameters and values one element at a time.
                let (outer, len, inner) = g.layout(&shape);
                let group = |o: usize, k: usize, j: usize| match g {
                    Granularity::PerTensor => 0,
                    Granularity::PerAxis(_) => k,
                    Granularity::Blocked { block, .. } => (o * len.div_ceil(block) + k / block) * inner + j,
                };
                let n = g.scale_shape(&shape).iter().product::<usize>();
                let (mut lo, mut hi) = (vec![f32::INFINITY; n], vec![f32::NEG_INFINITY; n]);
                for o in 0..outer {
                    for k in 0..len {
                        for j in 0..inner {
                            let x = w[(o * len + k) * inner + j];
                            if !x.is_nan() {
                                let gi = group(o, k, j);
                                (lo[gi], hi[gi]) = (lo[gi].min(x), hi[gi].max(x));
                            }
                        }
                    }
                }
                let (qmin, qmax) = qtype.range(true);
                let ranges: Vec<(f32, f32)> =
                    lo.iter().zip(&hi).map(|(&l, &h)| if l > h { (0.0, 0.0) } else { (l, h) }).collect();
                // f16 scales only when every group's scale is a normal f16.
                let halves: Option<Vec<QParams>> =
                    ranges.iter().map(|&(l, h)| qparams_f16(l, h, qtype, symmetric, true)).collect();
                let half = half && halves.is_some();
                let params: Vec<QParams> = match halves.filter(|_| half) {
                    Some(p) => p,
                    None => ranges.iter().map(|&(l, h)| qparams(l, h, qtype, symmetric, true)).collect(),
                };
                assert_eq!(qt.scale.dtype(), if half { DType::F16 } else { DType::F32 });
                let got = unpack(&qt.q).unwrap();
                let (mut signal, mut noise) = (0f64, 0f64);
                for o in 0..outer {
                    for k in 0..len {
                        for j in 0..inner {
                            let i = (o * len + k) * inner + j;
                            let p = params[group(o, k, j)];
                            let x = w[i];
                            let want = if x.is_nan() {
                                p.zero_point
                            } else {
                                // The quotient in f32, as QuantizeLinear computes it; i64 so
                                // an infinite weight saturates instead of overflowing.
                                ((x / p.scale).round_ties_even() as i64)
                                    .saturating_add(i64::from(p.zero_point))
                                    .clamp(i64::from(qmin), i64::from(qmax)) as i32
                            };
                            assert_eq!(got[i], want, "{g:?} {qtype:?} element {i} ({x})");
                            if x.is_finite() {
                                let exact = f64::from(want - p.zero_point) * f64::from(p.scale);
                                let back = if half { f16::from_f64(exact).to_f64() } else { f64::from(exact as f32) };
                                signal += f64::from(x) * f64::from(x);
                                noise += (f64::from(x) - back).powi(2);
                            }
                        }
                    }
                }
                assert!((qt.signal - signal).abs() <= 1e-9 * signal, "{g:?} {qtype:?}");
                assert!((qt.noise - noise).abs() <= 1e-9 * noise.max(1e-30), "{g:?} {qtype:?}");
            }
        }
    }

    #[test]
    fn blocked_error_within_half_step() {
        let shape = [70usize, 3];
        let w: Vec<f32> = (0..210).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
        for (qtype, symmetric) in [(QType::I4, true), (QType::U4, false), (QType::I8, true), (QType::U8, false)] {
            let spec = WeightSpec {
                qtype,
                symmetric,
                narrow: true,
                granularity: Granularity::Blocked { axis: 0, block: 32 },
                half_scales: false,
                clip: false,
            };
            let qt = quantize_tensor(&w, &shape, &spec).unwrap();
            assert_eq!(qt.scale.shape(), &[3, 3]);
            let back = dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size).unwrap();
            let s = qt.scale.as_slice::<f32>().unwrap();
            for (i, (a, b)) in w.iter().zip(&back).enumerate() {
                let sc = s[(i / 3 / 32) * 3 + i % 3];
                assert!((a - b).abs() <= sc / 2.0 * 1.0001, "{qtype:?} {i}: {a} vs {b}, scale {sc}");
            }
        }
    }
}
