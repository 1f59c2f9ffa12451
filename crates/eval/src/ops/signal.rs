//! Signal processing: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow
//! and MelWeightMatrix.
//!
//! Complex signals are real tensors with a trailing dimension of 2 (real,
//! imaginary); a trailing dimension of 1 is a real signal. Outputs always end
//! in 2.
//!
//! Opset history: DFT-17 takes `axis` as an attribute (default 1) and
//! `dft_length` as an optional input; DFT-20 moves `axis` to an optional third
//! input (default -2). Both count a negative axis from the back of the full
//! input rank (the trailing complex dimension included) and accept
//! `[-r, -2] ∪ [0, r-2]`. The signal along the axis is zero-padded or cut to
//! `dft_length`; `inverse` computes the inverse transform scaled by
//! `1/dft_length`; `onesided` keeps the first `dft_length/2 + 1` bins of a
//! forward transform, and with `inverse` reads a one-sided spectrum and
//! returns the real signal (numpy's irfft; trailing dimension 1, length
//! `dft_length`, default `2 * (bins - 1)`), as onnx 1.23's reference does. STFT-17 frames
//! `[batch, length, 1|2]` with `frame_step`, multiplies each frame by the
//! window (ones if absent), and transforms it: `[batch, frames, bins, 2]`
//! with `frames = 1 + (length - frame_length) / frame_step`. The window ops
//! (17) produce `size` samples with period `size` (`periodic=1`) or
//! `size - 1`, in `output_datatype` (default float). MelWeightMatrix (17)
//! follows onnx's reference, including its mel step of
//! `(high - low) / (num_mel_bins + 2)`.
//!
//! Everything is computed in f64 and rounded once to the output type. The
//! FFT is an iterative radix-2 transform for power-of-two lengths and
//! Bluestein's chirp-z algorithm (over a radix-2 convolution) otherwise, so
//! every length costs O(n log n).

use std::f64::consts::PI;

use ir::DType;
use num_complex::Complex64;

use super::cast::dtype_from_code;
use super::norm::float_tensor;
use super::reduce::{Elem, with_float};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the signal ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("DFT", dft);
    r.add("STFT", stft);
    r.add("HannWindow", |c, i| window(c, i, Window::Hann));
    r.add("HammingWindow", |c, i| window(c, i, Window::Hamming));
    r.add("BlackmanWindow", |c, i| window(c, i, Window::Blackman));
    r.add("MelWeightMatrix", mel_weight_matrix);
}

// ---------------------------------------------------------------------------
// FFT core.

/// In-place unscaled DFT of `buf` (`sign = -1` forward, `+1` inverse).
pub(crate) fn fft(buf: &mut [Complex64], sign: f64) {
    let n = buf.len();
    if n <= 1 {
        return;
    }
    if n.is_power_of_two() {
        radix2(buf, sign);
    } else {
        bluestein(buf, sign);
    }
}

/// Iterative Cooley-Tukey for power-of-two lengths.
fn radix2(buf: &mut [Complex64], sign: f64) {
    let n = buf.len();
    // Bit-reversal permutation.
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            buf.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        // Twiddles computed directly (not by repeated multiplication) so the
        // rounding error does not grow with the transform length.
        let half = len / 2;
        let tw: Vec<Complex64> =
            (0..half).map(|k| Complex64::from_polar(1.0, sign * 2.0 * PI * k as f64 / len as f64)).collect();
        for chunk in buf.chunks_exact_mut(len) {
            let (a, b) = chunk.split_at_mut(half);
            for ((x, y), w) in a.iter_mut().zip(b.iter_mut()).zip(&tw) {
                let t = *y * w;
                *y = *x - t;
                *x += t;
            }
        }
        len <<= 1;
    }
}

/// Bluestein's algorithm: a length-n DFT as a circular convolution of
/// power-of-two length m >= 2n - 1.
fn bluestein(buf: &mut [Complex64], sign: f64) {
    let n = buf.len();
    let m = (2 * n - 1).next_power_of_two();
    // Chirp w_k = exp(sign * i*pi*k^2/n); k^2 is reduced mod 2n in integers
    // so the angle stays small and exact for large k.
    let chirp: Vec<Complex64> = (0..n)
        .map(|k| {
            let k2 = ((k as u128 * k as u128) % (2 * n as u128)) as f64;
            Complex64::from_polar(1.0, sign * PI * k2 / n as f64)
        })
        .collect();
    let mut a = vec![Complex64::new(0.0, 0.0); m];
    for ((d, x), w) in a.iter_mut().zip(buf.iter()).zip(&chirp) {
        *d = x * w;
    }
    let mut b = vec![Complex64::new(0.0, 0.0); m];
    b[0] = chirp[0].conj();
    for k in 1..n {
        b[k] = chirp[k].conj();
        b[m - k] = chirp[k].conj();
    }
    radix2(&mut a, -1.0);
    radix2(&mut b, -1.0);
    for (x, y) in a.iter_mut().zip(&b) {
        *x *= y;
    }
    radix2(&mut a, 1.0);
    let scale = 1.0 / m as f64;
    for ((o, x), w) in buf.iter_mut().zip(&a).zip(&chirp) {
        *o = x * w * scale;
    }
}

// ---------------------------------------------------------------------------
// DFT.

/// The elements of a float tensor as f64.
fn float_values(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    with_float!(t, what, a => Ok(a.iter().map(|v| v.to_f64()).collect()))
}

/// A scalar (or one-element) integer input.
fn int_scalar(t: &Tensor, what: &str) -> Result<i64> {
    if t.len() != 1 {
        bail!("{what} must be a single value, got shape {:?}", t.shape());
    }
    t.scalar_i64().map_err(|e| crate::Error::op(format!("{what}: {e}")))
}

/// How a lane is transformed.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Forward DFT, complex output.
    Forward,
    /// Inverse DFT scaled by 1/n, complex output.
    Inverse,
    /// Inverse of a one-sided spectrum (numpy's irfft): the first n/2 + 1
    /// bins are completed by Hermitian symmetry and the real part of the
    /// scaled inverse is the (real, trailing dimension 1) output.
    InverseReal,
}

/// Transforms lanes of `x` (`[outer, len, inner, c]` with c = 1 or 2, flat)
/// along `len`, padded/cut to `n`, keeping `keep` output bins per lane.
/// Returns `[outer, keep, inner, 2]` values (`[outer, n, inner, 1]` for
/// [`Mode::InverseReal`]).
#[allow(clippy::too_many_arguments)]
fn transform_lanes(
    x: &[f64],
    outer: usize,
    len: usize,
    inner: usize,
    c: usize,
    n: usize,
    keep: usize,
    mode: Mode,
) -> Vec<f64> {
    let oc = if mode == Mode::InverseReal { 1 } else { 2 };
    let mut out = vec![0.0; outer * keep * inner * oc];
    let mut buf = vec![Complex64::new(0.0, 0.0); n];
    let sign = if mode == Mode::Forward { -1.0 } else { 1.0 };
    let scale = if mode != Mode::Forward && n > 0 { 1.0 / n as f64 } else { 1.0 };
    // Input bins read per lane: all n, or the non-redundant half for irfft.
    let read = if mode == Mode::InverseReal { len.min(n / 2 + 1) } else { len.min(n) };
    for o in 0..outer {
        for i in 0..inner {
            buf.fill(Complex64::new(0.0, 0.0));
            for (k, b) in buf.iter_mut().enumerate().take(read) {
                let at = ((o * len + k) * inner + i) * c;
                *b = Complex64::new(x[at], if c == 2 { x[at + 1] } else { 0.0 });
            }
            if mode == Mode::InverseReal {
                for k in n / 2 + 1..n {
                    buf[k] = buf[n - k].conj();
                }
            }
            fft(&mut buf, sign);
            for (k, v) in buf.iter().take(keep).enumerate() {
                let at = ((o * keep + k) * inner + i) * oc;
                out[at] = v.re * scale;
                if oc == 2 {
                    out[at + 1] = v.im * scale;
                }
            }
        }
    }
    out
}

/// DFT-17 / DFT-20.
fn dft(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = x.shape().to_vec();
    let r = shape.len();
    if r < 2 || !matches!(shape[r - 1], 1 | 2) {
        bail!("input must have rank >= 2 and a trailing dimension of 1 (real) or 2 (complex), got shape {shape:?}");
    }
    let raw_axis = if ctx.opset >= 20 {
        match ctx.opt_input(inputs, 2)? {
            Some(t) => int_scalar(t, "axis")?,
            None => -2,
        }
    } else {
        ctx.int("axis", 1)?
    };
    let axis = if raw_axis < 0 { raw_axis + r as i64 } else { raw_axis };
    if axis < 0 || axis > r as i64 - 2 {
        bail!("axis {raw_axis} is out of range for an input of rank {r} (the last dimension holds real/imaginary)");
    }
    let axis = axis as usize;
    let len = shape[axis];
    let inverse = ctx.int("inverse", 0)? != 0;
    let onesided = ctx.int("onesided", 0)? != 0;
    let n = match ctx.opt_input(inputs, 1)? {
        Some(t) => {
            let v = int_scalar(t, "dft_length")?;
            if v < 1 {
                bail!("dft_length must be positive, got {v}");
            }
            v as usize
        }
        // A one-sided spectrum of m bins comes from a signal of 2 (m - 1).
        None if inverse && onesided => 2 * len.saturating_sub(1),
        None => len,
    };
    if n == 0 {
        bail!("the transform length is 0 (axis {axis} of shape {shape:?})");
    }
    let (mode, keep) = match (inverse, onesided) {
        (false, false) => (Mode::Forward, n),
        (false, true) => (Mode::Forward, n / 2 + 1),
        (true, false) => (Mode::Inverse, n),
        (true, true) => (Mode::InverseReal, n),
    };
    let c = shape[r - 1];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..r - 1].iter().product();
    let data = float_values(x, "DFT")?;
    let out = transform_lanes(&data, outer, len, inner, c, n, keep, mode);
    let mut oshape = shape.clone();
    oshape[axis] = keep;
    oshape[r - 1] = if mode == Mode::InverseReal { 1 } else { 2 };
    Ok(vec![float_tensor(x.dtype(), &oshape, out)?.into()])
}

// ---------------------------------------------------------------------------
// STFT.

/// STFT-17.
fn stft(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let shape = x.shape();
    if shape.len() != 3 || !matches!(shape[2], 1 | 2) {
        bail!("signal must be [batch, length, 1|2], got shape {shape:?}");
    }
    let (batch, length, c) = (shape[0], shape[1], shape[2]);
    let step = int_scalar(ctx.input(inputs, 1)?, "frame_step")?;
    if step < 1 {
        bail!("frame_step must be positive, got {step}");
    }
    let step = step as usize;
    let window = ctx.opt_input(inputs, 2)?;
    if let Some(w) = window
        && w.rank() != 1
    {
        bail!("window must be 1-D, got shape {:?}", w.shape());
    }
    let frame_len = match (ctx.opt_input(inputs, 3)?, window) {
        (Some(t), _) => {
            let v = int_scalar(t, "frame_length")?;
            if v < 1 {
                bail!("frame_length must be positive, got {v}");
            }
            v as usize
        }
        (None, Some(w)) => w.len(),
        (None, None) => length,
    };
    let win = match window {
        Some(w) if w.len() != frame_len => {
            bail!("window has {} samples but frame_length is {frame_len}", w.len())
        }
        Some(w) => float_values(w, "STFT window")?,
        None => vec![1.0; frame_len],
    };
    if frame_len > length {
        bail!("frame_length {frame_len} exceeds the signal length {length}");
    }
    let frames = 1 + (length - frame_len) / step;
    let onesided = ctx.int("onesided", 1)? != 0;
    let keep = if onesided { frame_len / 2 + 1 } else { frame_len };
    let data = float_values(x, "STFT")?;
    // Gather the windowed frames as [batch * frames, frame_len, 1, c] and
    // transform them like DFT along axis 1.
    let mut framed = Vec::with_capacity(batch * frames * frame_len * c);
    for b in 0..batch {
        for f in 0..frames {
            for (k, w) in win.iter().enumerate() {
                let at = (b * length + f * step + k) * c;
                framed.extend(data[at..at + c].iter().map(|v| v * w));
            }
        }
    }
    let out = transform_lanes(&framed, batch * frames, frame_len, 1, c, frame_len, keep, Mode::Forward);
    Ok(vec![float_tensor(x.dtype(), &[batch, frames, keep, 2], out)?.into()])
}

// ---------------------------------------------------------------------------
// Windows.

#[derive(Clone, Copy)]
enum Window {
    Hann,
    Hamming,
    Blackman,
}

/// Output tensor of `output_datatype` (ONNX code, default float) from f64 values.
fn typed_out(ctx: &Ctx<'_>, shape: &[usize], v: Vec<f64>) -> Result<Tensor> {
    let d = dtype_from_code(ctx.int("output_datatype", 1)?)?;
    let t = Tensor::F64(array(shape, v)?);
    if d == DType::F64 { Ok(t) } else { t.cast_to(d) }
}

/// HannWindow / HammingWindow / BlackmanWindow.
fn window(ctx: &Ctx<'_>, inputs: &[Option<&Value>], kind: Window) -> Result<Vec<Value>> {
    let size = int_scalar(ctx.input(inputs, 0)?, "size")?;
    if size < 0 {
        bail!("size must be non-negative, got {size}");
    }
    let size = size as usize;
    let periodic = ctx.int("periodic", 1)? != 0;
    let period = if periodic { size as f64 } else { size as f64 - 1.0 };
    let v: Vec<f64> = (0..size)
        .map(|i| {
            let t = 2.0 * PI * i as f64 / period;
            match kind {
                Window::Hann => 0.5 - 0.5 * t.cos(),
                Window::Hamming => 25.0 / 46.0 - (21.0 / 46.0) * t.cos(),
                Window::Blackman => 0.42 - 0.5 * t.cos() + 0.08 * (2.0 * t).cos(),
            }
        })
        .collect();
    Ok(vec![typed_out(ctx, &[size], v)?.into()])
}

// ---------------------------------------------------------------------------
// MelWeightMatrix.

/// MelWeightMatrix-17: `[dft_length/2 + 1, num_mel_bins]` triangular filters.
fn mel_weight_matrix(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let mels = int_scalar(ctx.input(inputs, 0)?, "num_mel_bins")?;
    let dft_len = int_scalar(ctx.input(inputs, 1)?, "dft_length")?;
    let rate = int_scalar(ctx.input(inputs, 2)?, "sample_rate")?;
    let lower = ctx.input(inputs, 3)?.scalar_f64()?;
    let upper = ctx.input(inputs, 4)?.scalar_f64()?;
    if mels < 1 || dft_len < 1 || rate < 1 {
        bail!("num_mel_bins ({mels}), dft_length ({dft_len}) and sample_rate ({rate}) must be positive");
    }
    let (mels, bins) = (mels as usize, dft_len as usize / 2 + 1);
    let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
    let (lo, hi) = (mel(lower), mel(upper));
    let step = (hi - lo) / (mels + 2) as f64;
    let edges: Vec<i64> = (0..mels + 2)
        .map(|i| {
            let hz = 700.0 * (10f64.powf((i as f64 * step + lo) / 2595.0) - 1.0);
            ((dft_len as f64 + 1.0) * hz / rate as f64).floor() as i64
        })
        .collect();
    let mut out = vec![0.0; bins * mels];
    let mut set = |j: i64, i: usize, v: f64| -> Result<()> {
        match usize::try_from(j) {
            Ok(j) if j < bins => {
                out[j * mels + i] = v;
                Ok(())
            }
            _ => bail!("mel filter edge {j} falls outside the {bins} spectrogram bins"),
        }
    };
    for i in 0..mels {
        let (l, c, h) = (edges[i], edges[i + 1], edges[i + 2]);
        if c == l {
            set(c, i, 1.0)?;
        } else {
            for j in l..=c {
                set(j, i, (j - l) as f64 / (c - l) as f64)?;
            }
        }
        if h > c {
            for j in c..h {
                set(j, i, (h - j) as f64 / (h - c) as f64)?;
            }
        }
    }
    Ok(vec![typed_out(ctx, &[bins, mels], out)?.into()])
}

#[cfg(test)]
mod tests {
    use super::super::reduce::tests::run_node;
    use super::*;
    use ir::Node;

    fn node(op: &str, attrs: &[(&str, i64)]) -> Node {
        attrs.iter().fold(Node::new(op, Vec::<String>::new(), ["y"]), |n, (k, v)| n.with_attr(*k, *v))
    }

    fn close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "got {got:?}, want {want:?}");
        }
    }

    /// Direct O(n^2) DFT to check the fast paths against.
    fn naive(x: &[Complex64], sign: f64) -> Vec<Complex64> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(j, v)| v * Complex64::from_polar(1.0, sign * 2.0 * PI * (j * k) as f64 / n as f64))
                    .sum()
            })
            .collect()
    }

    #[test]
    fn fft_matches_naive_for_all_lengths() {
        for n in 1..40 {
            let x: Vec<Complex64> = (0..n).map(|i| Complex64::new(i as f64 * 0.5 - 3.0, (i * i % 7) as f64)).collect();
            for sign in [-1.0, 1.0] {
                let mut y = x.clone();
                fft(&mut y, sign);
                for (a, b) in y.iter().zip(naive(&x, sign)) {
                    assert!((a - b).norm() < 1e-9 * (1.0 + b.norm()), "n={n}");
                }
            }
        }
    }

    #[test]
    fn dft_real_onesided_and_inverse() {
        // fft([1, 2, 3]) = [6, -1.5+0.866i, -1.5-0.866i]; onesided keeps 2 bins.
        let x = Tensor::f32(&[1, 3, 1], vec![1., 2., 3.]).unwrap();
        let y = run_node(node("DFT", &[("onesided", 1)]), 17, vec![Some(x.clone())]).unwrap();
        assert_eq!(y[0].shape(), &[1, 2, 2]);
        let s = 3f64.sqrt() / 2.0;
        let got = y[0].to_f64_vec().unwrap();
        for (g, w) in got.iter().zip([6.0, 0.0, -1.5, s]) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
        // Inverse of [4, 0, 0, 0] (complex) is [1, 1, 1, 1]; dft_length 2 cuts to [4, 0] -> [2, 2].
        let f = Tensor::F64(array(&[1, 4, 2], vec![4., 0., 0., 0., 0., 0., 0., 0.]).unwrap());
        let y = run_node(node("DFT", &[("inverse", 1)]), 17, vec![Some(f.clone())]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[1., 0., 1., 0., 1., 0., 1., 0.]);
        let n = Tensor::i64(&[], vec![2]).unwrap();
        let y = run_node(node("DFT", &[("inverse", 1)]), 17, vec![Some(f), Some(n)]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[2., 0., 2., 0.]);
    }

    #[test]
    fn dft_irfft() {
        // One-sided spectrum of [1, 2, 3, 4]: [10, -2+2i, -2]; the inverse gives
        // the signal back with a trailing dimension of 1.
        let f = Tensor::F64(array(&[3, 2], vec![10., 0., -2., 2., -2., 0.]).unwrap());
        let y = run_node(node("DFT", &[("inverse", 1), ("onesided", 1), ("axis", 0)]), 17, vec![Some(f)]).unwrap();
        assert_eq!(y[0].shape(), &[4, 1]);
        close(&y[0].to_f64_vec().unwrap(), &[1., 2., 3., 4.]);
    }

    #[test]
    fn dft20_axis_input() {
        // x[2, 2, 1] = [[1, 2], [3, 4]]; axis -3 (= 0) transforms columns:
        // [1+3, 2+4, 1-3, 2-4].
        let x = Tensor::F64(array(&[2, 2, 1], vec![1., 2., 3., 4.]).unwrap());
        let ax = Tensor::i64(&[], vec![-3]).unwrap();
        let y = run_node(node("DFT", &[]), 20, vec![Some(x.clone()), None, Some(ax)]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[4., 0., 6., 0., -2., 0., -2., 0.]);
        let bad = Tensor::i64(&[], vec![2]).unwrap();
        assert!(run_node(node("DFT", &[]), 20, vec![Some(x), None, Some(bad)]).is_err());
    }

    #[test]
    fn windows() {
        let n = Tensor::i64(&[], vec![4]).unwrap();
        let y = run_node(node("HannWindow", &[("output_datatype", 11)]), 17, vec![Some(n.clone())]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[0.0, 0.5, 1.0, 0.5]);
        let y = run_node(node("HannWindow", &[("periodic", 0), ("output_datatype", 11)]), 17, vec![Some(n.clone())])
            .unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[0.0, 0.75, 0.75, 0.0]);
        let y = run_node(node("HammingWindow", &[("output_datatype", 11)]), 17, vec![Some(n.clone())]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[4. / 46., 25. / 46., 1.0, 25. / 46.]);
        let y = run_node(node("BlackmanWindow", &[("output_datatype", 11)]), 17, vec![Some(n)]).unwrap();
        close(&y[0].to_f64_vec().unwrap(), &[0.0, 0.34, 1.0, 0.34]);
    }

    #[test]
    fn stft_frames() {
        // Signal [1, 2, 3, 4, 5], frame 2, step 2 -> frames [1,2], [3,4]; onesided
        // bins: [sum, diff].
        let x = Tensor::F64(array(&[1, 5, 1], vec![1., 2., 3., 4., 5.]).unwrap());
        let step = Tensor::i64(&[], vec![2]).unwrap();
        let len = Tensor::i64(&[], vec![2]).unwrap();
        let y = run_node(node("STFT", &[]), 17, vec![Some(x), Some(step), None, Some(len)]).unwrap();
        assert_eq!(y[0].shape(), &[1, 2, 2, 2]);
        close(&y[0].to_f64_vec().unwrap(), &[3., 0., -1., 0., 7., 0., -1., 0.]);
    }
}
