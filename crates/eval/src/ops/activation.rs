//! Activation ops: the elementwise ones (Relu … Swish, Clip, PRelu), the
//! normalizing ones along an axis (Softmax, LogSoftmax, Hardmax) and Dropout.
//!
//! Opset history that matters here:
//! - Softmax/LogSoftmax/Hardmax before 13 flatten the input to 2-D at `axis`
//!   (default 1) and normalize each row; from 13 they work along the single
//!   axis `axis` (default -1).
//! - Clip before 11 takes `min`/`max` attributes (default ±f32::MAX); from
//!   11 optional scalar inputs; integer types from 12.
//! - Dropout before 12 is inference only (like onnx's reference and every
//!   runtime, `is_test` of opsets 1 and 6 is ignored); from 12 `ratio` and
//!   `training_mode` are inputs and `seed` an attribute.
//!   The mask is of the input's type before 10, bool from 10.
//! - Relu accepts signed integers from 14, PRelu some integers from 16; the
//!   float-only ones compute f16/bf16 through f32.

use ndarray::{ArrayD, IxDyn, Zip};
use num_traits::Float;

use super::elementwise::{Elem, Num, Real, arr, float_map, for_float, for_num, one};
use crate::registry::{Ctx, OpRegistry};
use crate::util::{axis as norm_axis, broadcast_shapes};
use crate::{Error, Result, Tensor, Value, bail};

/// Registers the family.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Relu", |ctx, i| {
        let x = ctx.input(i, 0)?;
        one(for_num!(x.dtype(), T => T::wrap(arr::<T>(x)?.mapv(|v| v.max_nan(T::ZERO)))))
    });
    r.add("LeakyRelu", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 0.01)?);
        one(float_map!(ctx.input(i, 0)?, [alpha], |x| if x < 0.0 { alpha * x } else { x })?)
    });
    r.add("PRelu", prelu);
    r.add("Sigmoid", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| sigmoid(x))?));
    r.add("HardSigmoid", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 0.2)?);
        let beta = f64::from(ctx.float("beta", 0.5)?);
        one(float_map!(ctx.input(i, 0)?, [alpha, beta], |x| unit_clamp(alpha * x + beta))?)
    });
    r.add("HardSwish", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| x * unit_clamp(x / 6.0 + 0.5))?));
    r.add("Tanh", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| x.tanh())?));
    r.add("Gelu", gelu);
    r.add("Clip", clip);
    r.add("Softplus", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| softplus(x))?));
    r.add("Softsign", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| x / (1.0 + x.abs()))?));
    r.add("Elu", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 1.0)?);
        one(float_map!(ctx.input(i, 0)?, [alpha], |x| if x > 0.0 { x } else { alpha * x.exp_m1() })?)
    });
    r.add("Selu", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 1.673_263_2)?);
        let gamma = f64::from(ctx.float("gamma", 1.050_701)?);
        one(float_map!(ctx.input(i, 0)?, [alpha, gamma], |x| gamma * if x > 0.0 { x } else { alpha * x.exp_m1() })?)
    });
    r.add("Celu", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 1.0)?);
        // max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), NaN propagating.
        one(float_map!(ctx.input(i, 0)?, [alpha], |x| {
            let neg = alpha * (x / alpha).exp_m1();
            if x.is_nan() { x } else { x.max(0.0) + neg.min(0.0) }
        })?)
    });
    r.add("Mish", |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |x| x * softplus(x).tanh())?));
    r.add("ThresholdedRelu", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 1.0)?);
        one(float_map!(ctx.input(i, 0)?, [alpha], |x| if x > alpha { x } else { 0.0 })?)
    });
    r.add("Shrink", shrink);
    r.add("Swish", |ctx, i| {
        let alpha = f64::from(ctx.float("alpha", 1.0)?);
        one(float_map!(ctx.input(i, 0)?, [alpha], |x| x * sigmoid(alpha * x))?)
    });
    r.add("Softmax", |ctx, i| normalize(ctx, i, Norm::Softmax));
    r.add("LogSoftmax", |ctx, i| normalize(ctx, i, Norm::LogSoftmax));
    r.add("Hardmax", |ctx, i| normalize(ctx, i, Norm::Hardmax));
    r.add("Dropout", dropout);
}

/// The logistic function, without overflow for large |x|.
fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// ln(1 + e^x) without overflow (numpy's `logaddexp(0, x)`).
fn softplus<F: Float>(x: F) -> F {
    if x > F::zero() { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// Clamps to [0, 1], keeping NaN (like `np.clip`).
fn unit_clamp<F: Float>(v: F) -> F {
    if v < F::zero() {
        F::zero()
    } else if v > F::one() {
        F::one()
    } else {
        v
    }
}

/// Gelu (opset 20): exact with erf, or the tanh approximation.
fn gelu(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let r2 = std::f64::consts::FRAC_1_SQRT_2;
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let out = match ctx.string("approximate", "none")?.as_str() {
        "none" => float_map!(x, [r2], |x| 0.5 * x * (1.0 + (x * r2).erf_fn()))?,
        "tanh" => float_map!(x, [k], |x| 0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh()))?,
        a => bail!("approximate must be 'none' or 'tanh', got '{a}'"),
    };
    one(out)
}

/// PRelu: `x < 0 ? slope * x : x`, slope broadcast to X's shape.
fn prelu(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let s = ctx.input(inputs, 1)?;
    fn apply<T: Num>(x: &ArrayD<T>, s: &ArrayD<T>) -> Result<ArrayD<T>> {
        let target = prelu_slope_shape(x.shape(), s.shape())?;
        let s = s.as_standard_layout();
        let s = s.view().into_shape_with_order(IxDyn(&target)).map_err(|e| Error::op(e.to_string()))?;
        let Some(s) = s.broadcast(IxDyn(x.shape())) else {
            bail!("slope {target:?} cannot be broadcast to X {:?}", x.shape())
        };
        Ok(Zip::from(x).and(&s).map_collect(|&v, &k| if v > T::ZERO { v } else { v.mul(k) }))
    }
    one(for_num!(x.dtype(), T => T::wrap(apply(arr::<T>(x)?, arr::<T>(s)?)?)))
}

/// The shape to view the slope as before broadcasting it to X: its own when
/// numpy broadcasting reaches X's shape; otherwise (as onnx's reference
/// does) a 1-D slope whose length matches exactly one dim of X lies along
/// that dim.
fn prelu_slope_shape(x: &[usize], s: &[usize]) -> Result<Vec<usize>> {
    if broadcast_shapes(x, s).is_ok_and(|b| b == x) {
        return Ok(s.to_vec());
    }
    if let [d] = *s {
        let hits: Vec<usize> = (0..x.len()).filter(|&i| x[i] == d).collect();
        if let [axis] = hits[..] {
            let mut shape = vec![1; x.len()];
            shape[axis] = d;
            return Ok(shape);
        }
    }
    bail!("slope {s:?} cannot be broadcast to X {x:?}")
}

/// Clip to [min, max]; either bound may be absent.
fn clip(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    fn apply<T: Num>(x: &Tensor, lo: Option<T>, hi: Option<T>) -> Result<Tensor> {
        Ok(T::wrap(arr::<T>(x)?.mapv(|v| {
            let v = match lo {
                Some(l) if v < l => l,
                _ => v,
            };
            match hi {
                Some(h) if v > h => h,
                _ => v,
            }
        })))
    }
    fn bound<T: Num>(t: Option<&Tensor>, which: &str) -> Result<Option<T>> {
        let Some(t) = t else { return Ok(None) };
        let a = arr::<T>(t).map_err(|e| Error::op(format!("{which}: {e}")))?;
        match a.iter().next() {
            Some(&v) if a.len() == 1 => Ok(Some(v)),
            _ => bail!("{which} must be a single value, got shape {:?}", a.shape()),
        }
    }
    let out = if ctx.opset < 11 {
        let lo = f64::from(ctx.float("min", f32::MIN)?);
        let hi = f64::from(ctx.float("max", f32::MAX)?);
        for_float!(x.dtype(), T => apply::<T>(x, Some(T::from_f64(lo)), Some(T::from_f64(hi)))?)
    } else {
        let (lo, hi) = (ctx.opt_input(inputs, 1)?, ctx.opt_input(inputs, 2)?);
        for_num!(x.dtype(), T => apply::<T>(x, bound::<T>(lo, "min")?, bound::<T>(hi, "max")?)?)
    };
    one(out)
}

/// Shrink: `x < -lambd ? x + bias : x > lambd ? x - bias : 0`, computed in
/// f64 for every numeric type (integers truncate back, like numpy's astype).
fn shrink(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let bias = f64::from(ctx.float("bias", 0.0)?);
    let lambd = f64::from(ctx.float("lambd", 0.5)?);
    let f = move |v: f64| {
        if v < -lambd {
            v + bias
        } else if v > lambd {
            v - bias
        } else {
            0.0
        }
    };
    one(for_num!(x.dtype(), T => T::wrap(arr::<T>(x)?.mapv(|v| T::from_f64(f(v.to_f64()))))))
}

/// Which normalization along an axis.
#[derive(Clone, Copy, PartialEq)]
enum Norm {
    Softmax,
    LogSoftmax,
    Hardmax,
}

/// The input as (outer, n, inner) around the normalized axis (see the
/// module doc for the opset 13 change). The data is read in logical order.
fn norm_layout(ctx: &Ctx<'_>, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if ctx.opset < 13 {
        let r = shape.len() as i64;
        let axis = ctx.int("axis", 1)?;
        let a = if axis < 0 { axis + r } else { axis };
        // Coercing to 2-D at `axis = rank` is well defined (one column), and
        // old exporters emit the default axis 1 for 1-D inputs.
        if a < 0 || a > r {
            bail!("axis {axis} is out of range for rank {r}");
        }
        let a = a as usize;
        Ok((shape[..a].iter().product(), shape[a..].iter().product(), 1))
    } else {
        if shape.is_empty() {
            bail!("the input must have rank at least 1");
        }
        let a = norm_axis(ctx.int("axis", -1)?, shape.len())?;
        Ok((shape[..a].iter().product(), shape[a], shape[a + 1..].iter().product()))
    }
}

/// Softmax, LogSoftmax or Hardmax.
fn normalize(ctx: &Ctx<'_>, inputs: &[Option<&Value>], kind: Norm) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let (outer, n, inner) = norm_layout(ctx, x.shape())?;
    debug_assert_eq!(outer * n * inner, x.len());
    let shape = x.shape();
    let out = if kind == Norm::Hardmax {
        for_float!(x.dtype(), T => T::wrap(hardmax(arr::<T>(x)?, n, inner)?))
    } else {
        let log = kind == Norm::LogSoftmax;
        match x {
            Tensor::F64(a) => {
                let mut v: Vec<f64> = a.iter().copied().collect();
                softmax(&mut v, n, inner, log);
                Tensor::F64(crate::array(shape, v)?)
            }
            _ => for_float!(x.dtype(), T => {
                let mut v: Vec<f32> = arr::<T>(x)?.iter().map(|e| e.to_f64() as f32).collect();
                softmax(&mut v, n, inner, log);
                T::wrap(crate::array(shape, v.into_iter().map(|e| T::from_f64(f64::from(e))).collect())?)
            }),
        }
    };
    one(out)
}

/// In-place (log-)softmax of each length-`n` line with stride `inner` in
/// blocks of `n * inner` contiguous elements. Subtracting the line's max
/// keeps exp from overflowing; NaN anywhere in a line makes it all NaN.
fn softmax<F: Float>(data: &mut [F], n: usize, inner: usize, log: bool) {
    let block = n * inner;
    if block == 0 {
        return;
    }
    let nan_max = |m: F, v: F| if v > m || v.is_nan() && !m.is_nan() { v } else { m };
    if inner == 1 {
        // The usual last-axis case: contiguous lines.
        for line in data.chunks_exact_mut(n) {
            let m = line.iter().fold(F::neg_infinity(), |m, &v| nan_max(m, v));
            let mut s = F::zero();
            for v in line.iter_mut() {
                let e = (*v - m).exp();
                s = s + e;
                *v = if log { *v - m } else { e };
            }
            let l = s.ln();
            for v in line.iter_mut() {
                *v = if log { *v - l } else { *v / s };
            }
        }
        return;
    }
    let mut mx = vec![F::neg_infinity(); inner];
    let mut sums = vec![F::zero(); inner];
    for b in data.chunks_exact_mut(block) {
        mx.fill(F::neg_infinity());
        sums.fill(F::zero());
        for line in b.chunks_exact(inner) {
            for (m, &v) in mx.iter_mut().zip(line) {
                *m = nan_max(*m, v);
            }
        }
        for line in b.chunks_exact_mut(inner) {
            for ((v, &m), s) in line.iter_mut().zip(&mx).zip(sums.iter_mut()) {
                let e = (*v - m).exp();
                *s = *s + e;
                *v = if log { *v - m } else { e };
            }
        }
        if log {
            for s in &mut sums {
                *s = s.ln();
            }
        }
        for line in b.chunks_exact_mut(inner) {
            for (v, &s) in line.iter_mut().zip(&sums) {
                *v = if log { *v - s } else { *v / s };
            }
        }
    }
}

/// Hardmax: 1 at the first maximum of each line (NaN counts as the
/// maximum, like `np.argmax`), 0 elsewhere.
fn hardmax<T: Num>(x: &ArrayD<T>, n: usize, inner: usize) -> Result<ArrayD<T>> {
    let data: Vec<T> = x.iter().copied().collect();
    let mut out = vec![T::ZERO; data.len()];
    let block = n * inner;
    if block > 0 {
        for (src, dst) in data.chunks_exact(block).zip(out.chunks_exact_mut(block)) {
            for i in 0..inner {
                let mut best = i;
                for k in (i + inner..block).step_by(inner) {
                    let (v, b) = (src[k], src[best]);
                    if !b.is_nan() && (v > b || v.is_nan()) {
                        best = k;
                    }
                }
                dst[best] = T::ONE;
            }
        }
    }
    crate::array(x.shape(), out)
}

/// Dropout. Inference passes the input through with an all-true (or, before
/// opset 10, all-one) mask. Training (`training_mode`, from opset 12)
/// keeps each element with probability 1 - ratio and scales kept
/// ones by 1/(1 - ratio). The random draws replicate numpy's
/// `RandomState(seed).uniform(0, 1, shape)` as onnx's reference uses it;
/// without a `seed` attribute the seed is 0, so runs are reproducible
/// (the reference would draw a fresh seed).
fn dropout(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let (ratio, training) = if ctx.opset >= 12 {
        let ratio = match ctx.opt_input(inputs, 1)? {
            Some(r) => r.scalar_f64()?,
            None => 0.5,
        };
        let training = match ctx.opt_input(inputs, 2)? {
            None => false,
            Some(Tensor::Bool(a)) if a.len() == 1 => a.iter().any(|&b| b),
            Some(t) => bail!("training_mode must be a single bool, got {} {:?}", t.dtype(), t.shape()),
        };
        (ratio, training)
    } else {
        (0.0, false)
    };
    let want_mask = ctx.node.outputs.get(1).is_some_and(|o| !o.is_empty());
    let (out, keep) = if training && ratio != 0.0 {
        if !(0.0..1.0).contains(&ratio) {
            bail!("ratio must be in [0, 1) when training, got {ratio}");
        }
        let seed = ctx.int("seed", 0)?;
        let mut rng = Mt19937::new(seed as u32);
        let keep: Vec<bool> = (0..x.len()).map(|_| rng.next_f64() >= ratio).collect();
        let keep = crate::array(x.shape(), keep)?;
        let scale = 1.0 / (1.0 - ratio);
        let out = for_float!(x.dtype(), T => T::wrap(Zip::from(arr::<T>(x)?).and(&keep).map_collect(|&v, &k| {
            if k { T::from_f64(v.to_f64() * scale) } else { T::ZERO }
        })));
        (out, keep)
    } else {
        (x.clone(), ArrayD::from_elem(IxDyn(x.shape()), true))
    };
    let mut outs = vec![Value::Tensor(out)];
    if want_mask {
        let mask = if ctx.opset >= 10 {
            Tensor::Bool(keep)
        } else {
            for_float!(x.dtype(), T => T::wrap(keep.mapv(|k| if k { T::ONE } else { T::ZERO })))
        };
        outs.push(Value::Tensor(mask));
    }
    Ok(outs)
}

/// The 32-bit Mersenne Twister with numpy's legacy seeding and doubles, so
/// Dropout's masks match onnx's reference for the same seed.
struct Mt19937 {
    state: [u32; 624],
    next: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, next: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.next >= 624 {
            for k in 0..624 {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % 624] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.state[k] = self.state[(k + 397) % 624] ^ (y >> 1) ^ mag;
            }
            self.next = 0;
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A double in [0, 1) from 53 random bits (numpy's `random_sample`).
    fn next_f64(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }
}

#[cfg(test)]
mod tests {
    use ir::Attribute;

    use super::super::elementwise::testing::{close, run, run1, t};
    use super::*;

    #[test]
    fn pointwise() {
        let x = t(&[5], vec![-2f32, -0.5, 0.0, 0.5, 2.0]);
        let run = |op: &str, attrs: &[(&str, Attribute)]| run1(op, 22, attrs, vec![x.clone()]).unwrap();
        // Expected values from onnx.reference.ReferenceEvaluator on x.
        close(&run("Relu", &[]), &[0., 0., 0., 0.5, 2.]);
        close(&run("LeakyRelu", &[("alpha", Attribute::Float(0.1))]), &[-0.2, -0.05, 0., 0.5, 2.]);
        close(&run("Sigmoid", &[]), &[0.11920292, 0.37754068, 0.5, 0.62245935, 0.8807971]);
        close(&run("HardSigmoid", &[]), &[0.1, 0.4, 0.5, 0.6, 0.9]);
        close(&run("HardSwish", &[]), &[-0.33333334, -0.20833333, 0., 0.29166666, 1.6666666]);
        close(&run("Tanh", &[]), &[-0.9640276, -0.46211717, 0., 0.46211717, 0.9640276]);
        close(&run("Softplus", &[]), &[0.12692805, 0.474077, std::f64::consts::LN_2, 0.974077, 2.126928]);
        close(&run("Softsign", &[]), &[-0.6666667, -0.33333334, 0., 0.33333334, 0.6666667]);
        close(&run("Elu", &[]), &[-0.86466473, -0.39346933, 0., 0.5, 2.]);
        close(&run("Selu", &[]), &[-1.5201665, -0.6917582, 0., 0.52535051, 2.101402]);
        close(&run("Celu", &[("alpha", Attribute::Float(2.0))]), &[-1.2642411, -0.44239843, 0., 0.5, 2.]);
        close(&run("Mish", &[]), &[-0.25250146, -0.22074378, 0., 0.37524518, 1.9439589]);
        close(&run("ThresholdedRelu", &[("alpha", Attribute::Float(0.4))]), &[0., 0., 0., 0.5, 2.]);
        close(&run("Swish", &[]), &[-0.23840584, -0.18877034, 0., 0.31122968, 1.7615942]);
        close(&run("Gelu", &[]), &[-0.04550026, -0.15426877, 0., 0.34573123, 1.9544997]);
        close(
            &run("Gelu", &[("approximate", Attribute::String("tanh".into()))]),
            &[-0.04540231, -0.15428599, 0., 0.345714, 1.9545977],
        );
        close(
            &run("Shrink", &[("lambd", Attribute::Float(1.0)), ("bias", Attribute::Float(0.5))]),
            &[-1.5, 0., 0., 0., 1.5],
        );
        close(&run1("Relu", 14, &[], vec![t(&[3], vec![-3i8, 0, 4])]).unwrap(), &[0., 0., 4.]);
        assert!(run1("Tanh", 13, &[], vec![t(&[1], vec![1i32])]).is_err());
    }

    #[test]
    fn prelu_broadcast() {
        let x = t(&[2, 3], vec![-1f32, 2., -3., 4., -5., 6.]);
        close(
            &run1("PRelu", 16, &[], vec![x.clone(), t(&[3], vec![0.1f32, 0.2, 0.3])]).unwrap(),
            &[-0.1, 2., -0.90000004, 4., -1., 6.],
        );
        // A 1-D slope matching one dim of X (not the last) goes along that dim.
        close(
            &run1("PRelu", 16, &[], vec![x.clone(), t(&[2], vec![0.5f32, 2.])]).unwrap(),
            &[-0.5, 2., -1.5, 4., -10., 6.],
        );
        assert!(run1("PRelu", 16, &[], vec![x, t(&[4], vec![1f32; 4])]).is_err());
    }

    #[test]
    fn clip_versions() {
        let x = t(&[4], vec![-3f32, -1., 1., 3.]);
        let attrs = [("min", Attribute::Float(-2.0)), ("max", Attribute::Float(2.0))];
        close(&run1("Clip", 6, &attrs, vec![x.clone()]).unwrap(), &[-2., -1., 1., 2.]);
        close(&run1("Clip", 6, &[("min", Attribute::Float(0.0))], vec![x.clone()]).unwrap(), &[0., 0., 1., 3.]);
        let only_max = run("Clip", 13, &[], vec![Some(x.clone()), None, Some(t(&[], vec![0f32]))], 1).unwrap();
        close(&only_max[0], &[-3., -1., 0., 0.]);
        close(&run1("Clip", 13, &[], vec![x.clone()]).unwrap(), &[-3., -1., 1., 3.]);
        let ints = run1("Clip", 13, &[], vec![t(&[3], vec![-5i64, 0, 5]), t(&[], vec![-1i64]), t(&[], vec![1i64])]);
        assert_eq!(ints.unwrap(), t(&[3], vec![-1i64, 0, 1]));
        assert!(run1("Clip", 13, &[], vec![x, t(&[], vec![0i64])]).is_err());
    }

    #[test]
    fn softmax_axes() {
        let x = t(&[2, 3], vec![1f32, 2., 3., 1., 1., 1.]);
        // scipy.special.softmax(x, axis=-1) / axis=0.
        let last = [0.09003057, 0.24472847, 0.66524096, 0.33333334, 0.33333334, 0.33333334];
        close(&run1("Softmax", 13, &[], vec![x.clone()]).unwrap(), &last);
        close(
            &run1("Softmax", 13, &[("axis", Attribute::Int(0))], vec![x.clone()]).unwrap(),
            &[0.5, 0.7310586, 0.8807971, 0.5, 0.26894143, 0.11920292],
        );
        // Opset 11, axis 0: one row of 6.
        close(
            &run1("Softmax", 11, &[("axis", Attribute::Int(0))], vec![x.clone()]).unwrap(),
            &[0.07088509, 0.19268565, 0.5237739, 0.07088509, 0.07088509, 0.07088509],
        );
        let ls = run1("LogSoftmax", 13, &[], vec![x.clone()]).unwrap();
        close(&ls, &last.iter().map(|v: &f64| v.ln()).collect::<Vec<_>>());
        let hm = run1("Hardmax", 13, &[("axis", Attribute::Int(0))], vec![x.clone()]).unwrap();
        close(&hm, &[1., 1., 1., 0., 0., 0.]);
        close(&run1("Hardmax", 13, &[], vec![x.clone()]).unwrap(), &[0., 0., 1., 1., 0., 0.]);
        // Opset 11 default axis 1 on a 1-D input: a single column.
        close(&run1("Softmax", 11, &[], vec![t(&[2], vec![1f32, 2.])]).unwrap(), &[1., 1.]);
        assert!(run1("Softmax", 13, &[("axis", Attribute::Int(2))], vec![x]).is_err());
        // Large values do not overflow.
        close(&run1("Softmax", 13, &[], vec![t(&[2], vec![1000f32, 1000.])]).unwrap(), &[0.5, 0.5]);
    }

    #[test]
    fn dropout_modes() {
        let x = t(&[2, 2], vec![1f32, 2., 3., 4.]);
        let inference = run("Dropout", 13, &[], vec![Some(x.clone())], 2).unwrap();
        assert_eq!(inference[0], x);
        assert_eq!(inference[1], t(&[2, 2], vec![true; 4]));
        let old = run("Dropout", 7, &[], vec![Some(x.clone())], 2).unwrap();
        assert_eq!(old[1], t(&[2, 2], vec![1f32; 4]));
        // np.random.RandomState(0).uniform(0, 1, 4) = [0.5488135, 0.71518937,
        // 0.60276338, 0.54488318]; ratio 0.6 keeps the 2nd and 3rd.
        let ratio = t(&[], vec![0.6f32]);
        let training = t(&[], vec![true]);
        let seed = [("seed", Attribute::Int(0))];
        let out = run("Dropout", 13, &seed, vec![Some(x), Some(ratio), Some(training)], 2).unwrap();
        close(&out[0], &[0., 5., 7.5, 0.]);
        assert_eq!(out[1], t(&[2, 2], vec![false, true, true, false]));
    }

    #[test]
    fn mersenne_twister_matches_numpy() {
        // np.random.RandomState(5489).randint(0, 2**32, 2, dtype=np.uint64) → [3499211612, 581869302]
        let mut mt = Mt19937::new(5489);
        assert_eq!([mt.next_u32(), mt.next_u32()], [3_499_211_612, 581_869_302]);
    }
}
