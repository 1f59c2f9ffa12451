//! Assorted ops: CumProd, LRN, BitCast, SwiGLU and TensorScatter.
//!
//! - CumProd (26): running products along the axis given as a scalar input,
//!   with `exclusive` (shift by one, starting from 1) and `reverse`; integer
//!   products wrap like numpy's fixed-width arithmetic, floats accumulate in
//!   f64.
//! - LRN (1, 13): `y = x / (bias + alpha / size * sum(x^2))^beta`, the sum over
//!   channels `c - floor((size-1)/2) ..= c + ceil((size-1)/2)` (clipped).
//!   Opset 13 only widens the types (bf16).
//! - BitCast (26): reinterprets the little-endian bytes of each element as
//!   `to`. Same width: shape kept. Wider target: the last dimension must hold
//!   a whole number of source elements per target and is divided by that
//!   ratio; narrower target: a new last dimension of size ratio is appended.
//! - SwiGLU (28): `a * sigmoid(alpha * a) * b` (`alpha` default 1.0) for
//!   inputs `a` and `b` of one shape; with a single input, `a` and `b` are
//!   the halves of its last axis. Computed in f64.
//! - TensorScatter (24): writes `update` into a copy of `past_cache` along
//!   `axis` (default -2), starting at `write_indices[b]` for batch row `b`
//!   (0 when absent); `mode = circular` wraps positions modulo the cache
//!   length, `linear` requires them to fit.

use half::{bf16, f16};
use ir::DType;
use ndarray::ArrayD;
use num_complex::{Complex32, Complex64};

use super::cast::dtype_from_code;
use super::reduce::{Accum, Elem, check_axis, contiguous, lanes, scan_typed, with_float, with_num};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the misc ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("CumProd", cumprod);
    r.add("LRN", lrn);
    r.add("BitCast", bitcast);
    r.add("SwiGLU", swiglu);
    r.add("TensorScatter", tensor_scatter);
}

// ---------------------------------------------------------------------------
// CumProd.

/// CumProd.
fn cumprod(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis_t = ctx.input(inputs, 1)?;
    if !matches!(axis_t, Tensor::I32(_) | Tensor::I64(_)) || axis_t.len() != 1 || axis_t.rank() > 1 {
        bail!("axis must be a single int32/int64 value, got {} of shape {:?}", axis_t.dtype(), axis_t.shape());
    }
    let axis = check_axis(axis_t.scalar_i64()?, x.rank())?;
    let exclusive = ctx.int("exclusive", 0)? != 0;
    let reverse = ctx.int("reverse", 0)? != 0;
    let y = with_num!(x, "CumProd", a => cumprod_typed(a, axis, exclusive, reverse)?);
    Ok(vec![y.into()])
}

/// Inclusive or exclusive running products along `axis`, forward or reversed.
fn cumprod_typed<T: Elem>(x: &ArrayD<T>, axis: usize, exclusive: bool, reverse: bool) -> Result<Tensor> {
    scan_typed(x, axis, exclusive, reverse, <T::Acc as Accum>::ONE, Accum::mul)
}

// ---------------------------------------------------------------------------
// LRN.

/// LRN across channels of an `[N, C, ...]` input.
fn lrn(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let size = match ctx.node.attr("size") {
        Some(_) => ctx.int("size", 0)?,
        None => bail!("missing required attribute 'size'"),
    };
    if size < 1 {
        bail!("size must be positive, got {size}");
    }
    let alpha = f64::from(ctx.float("alpha", 1e-4)?);
    let beta = f64::from(ctx.float("beta", 0.75)?);
    let bias = f64::from(ctx.float("bias", 1.0)?);
    if x.rank() < 2 {
        bail!("LRN needs an input of rank >= 2 (N, C, ...), got shape {:?}", x.shape());
    }
    let p = LrnParams { size: size as usize, alpha, beta, bias };
    let y = with_float!(x, "LRN", a => lrn_typed(a, &p)?);
    Ok(vec![y.into()])
}

struct LrnParams {
    size: usize,
    alpha: f64,
    beta: f64,
    bias: f64,
}

fn lrn_typed<T: Elem>(x: &ArrayD<T>, p: &LrnParams) -> Result<Tensor> {
    let (n, c, s) = lanes(x.shape(), 1);
    let data = contiguous(x);
    let sq: Vec<f64> = data.iter().map(|v| v.to_f64().powi(2)).collect();
    let (before, after) = ((p.size - 1) / 2, (p.size - 1).div_ceil(2));
    let mut out = Vec::with_capacity(data.len());
    for b in 0..n {
        for ch in 0..c {
            let (lo, hi) = (ch.saturating_sub(before), (ch + after).min(c - 1));
            for i in 0..s {
                let sum: f64 = (lo..=hi).map(|k| sq[(b * c + k) * s + i]).sum();
                let v = data[(b * c + ch) * s + i].to_f64();
                out.push(T::from_f64(v / (p.bias + p.alpha / p.size as f64 * sum).powf(p.beta)));
            }
        }
    }
    Ok(T::wrap(array(x.shape(), out)?))
}

// ---------------------------------------------------------------------------
// BitCast.

/// The little-endian bytes of every element (fixed-width types only).
fn to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    macro_rules! le {
        ($a:expr, $f:expr) => {
            $a.iter().flat_map(|v| $f(*v)).collect()
        };
    }
    Ok(match t {
        Tensor::F32(a) => le!(a, f32::to_le_bytes),
        Tensor::F64(a) => le!(a, f64::to_le_bytes),
        Tensor::F16(a) => le!(a, |v: f16| v.to_bits().to_le_bytes()),
        Tensor::BF16(a) => le!(a, |v: bf16| v.to_bits().to_le_bytes()),
        Tensor::I8(a) => le!(a, i8::to_le_bytes),
        Tensor::I16(a) => le!(a, i16::to_le_bytes),
        Tensor::I32(a) => le!(a, i32::to_le_bytes),
        Tensor::I64(a) => le!(a, i64::to_le_bytes),
        Tensor::U8(a) => a.iter().copied().collect(),
        Tensor::U16(a) => le!(a, u16::to_le_bytes),
        Tensor::U32(a) => le!(a, u32::to_le_bytes),
        Tensor::U64(a) => le!(a, u64::to_le_bytes),
        Tensor::Bool(a) => a.iter().map(|&v| u8::from(v)).collect(),
        Tensor::F8(d, a) if d.bits() == Some(8) => a.iter().copied().collect(),
        Tensor::C64(a) => a.iter().flat_map(|v| [v.re.to_le_bytes(), v.im.to_le_bytes()].concat()).collect(),
        Tensor::C128(a) => a.iter().flat_map(|v| [v.re.to_le_bytes(), v.im.to_le_bytes()].concat()).collect(),
        t => bail!("BitCast does not support {} (fixed-width types of 8 bits or more only)", t.dtype()),
    })
}

/// A tensor of `d` read from little-endian bytes (a whole number of elements).
fn from_bytes(d: DType, shape: &[usize], b: &[u8]) -> Result<Tensor> {
    macro_rules! rd {
        ($n:expr, $f:expr) => {
            array(shape, b.chunks_exact($n).map(|c| $f(c.try_into().expect("chunk size"))).collect())?
        };
    }
    Ok(match d {
        DType::F32 => Tensor::F32(rd!(4, f32::from_le_bytes)),
        DType::F64 => Tensor::F64(rd!(8, f64::from_le_bytes)),
        DType::F16 => Tensor::F16(rd!(2, |c| f16::from_bits(u16::from_le_bytes(c)))),
        DType::BF16 => Tensor::BF16(rd!(2, |c| bf16::from_bits(u16::from_le_bytes(c)))),
        DType::I8 => Tensor::I8(rd!(1, i8::from_le_bytes)),
        DType::I16 => Tensor::I16(rd!(2, i16::from_le_bytes)),
        DType::I32 => Tensor::I32(rd!(4, i32::from_le_bytes)),
        DType::I64 => Tensor::I64(rd!(8, i64::from_le_bytes)),
        DType::U8 => Tensor::U8(array(shape, b.to_vec())?),
        DType::U16 => Tensor::U16(rd!(2, u16::from_le_bytes)),
        DType::U32 => Tensor::U32(rd!(4, u32::from_le_bytes)),
        DType::U64 => Tensor::U64(rd!(8, u64::from_le_bytes)),
        // Any non-zero byte reads as true.
        DType::Bool => Tensor::Bool(array(shape, b.iter().map(|&v| v != 0).collect())?),
        DType::C64 => Tensor::C64(rd!(8, |c: [u8; 8]| Complex32::new(
            f32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
            f32::from_le_bytes(c[4..].try_into().expect("4 bytes"))
        ))),
        DType::C128 => Tensor::C128(rd!(16, |c: [u8; 16]| Complex64::new(
            f64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
            f64::from_le_bytes(c[8..].try_into().expect("8 bytes"))
        ))),
        d if d.bits() == Some(8) && d.is_float() => Tensor::F8(d, array(shape, b.to_vec())?),
        d => bail!("BitCast cannot produce {d} (fixed-width types of 8 bits or more only)"),
    })
}

/// BitCast.
fn bitcast(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let to = match ctx.node.attr("to") {
        Some(_) => dtype_from_code(ctx.int("to", 0)?)?,
        None => bail!("missing required attribute 'to'"),
    };
    let bytes = to_bytes(x)?;
    let (from_w, to_w) = (x.dtype().bits().unwrap_or(0) / 8, to.bits().unwrap_or(0) / 8);
    if to_w == 0 || to == DType::String {
        bail!("BitCast cannot produce {to} (fixed-width types of 8 bits or more only)");
    }
    let mut shape = x.shape().to_vec();
    if to_w > from_w {
        // Wider target: the last dimension supplies to_w / from_w elements each.
        let ratio = (to_w / from_w) as usize;
        match shape.last() {
            Some(&l) if l == ratio => {
                shape.pop();
            }
            _ => bail!("casting {} to {to} needs a last dimension of {ratio}, got shape {:?}", x.dtype(), x.shape()),
        }
    } else if to_w < from_w {
        shape.push((from_w / to_w) as usize);
    }
    Ok(vec![from_bytes(to, &shape, &bytes)?.into()])
}

// ---------------------------------------------------------------------------
// SwiGLU.

/// SwiGLU.
fn swiglu(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let a = ctx.input(inputs, 0)?;
    let alpha = f64::from(ctx.float("alpha", 1.0)?);
    let f = |a: f64, b: f64| a / (1.0 + (-alpha * a).exp()) * b;
    let (av, bv, shape) = match ctx.opt_input(inputs, 1)? {
        Some(b) => {
            if a.shape() != b.shape() || a.dtype() != b.dtype() {
                bail!(
                    "a ({} {:?}) and b ({} {:?}) must have one type and shape",
                    a.dtype(),
                    a.shape(),
                    b.dtype(),
                    b.shape()
                );
            }
            (a.to_f64_vec()?, b.to_f64_vec()?, a.shape().to_vec())
        }
        None => {
            // One input: the halves of its last axis.
            let Some(&last) = a.shape().last() else { bail!("input must have rank >= 1") };
            if !last.is_multiple_of(2) {
                bail!("the last dimension ({last}) must be even to split into gate and value halves");
            }
            let v = a.to_f64_vec()?;
            let h = last / 2;
            let av = v.chunks_exact(last).flat_map(|r| r[..h].to_vec()).collect();
            let bv = v.chunks_exact(last).flat_map(|r| r[h..].to_vec()).collect();
            let mut s = a.shape().to_vec();
            *s.last_mut().expect("rank >= 1") = h;
            (av, bv, s)
        }
    };
    if !matches!(a, Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_)) {
        bail!("SwiGLU does not support {} inputs (float types only)", a.dtype());
    }
    let y: Vec<f64> = av.iter().zip(&bv).map(|(&a, &b)| f(a, b)).collect();
    let y = Tensor::F64(array(&shape, y)?);
    Ok(vec![if a.dtype() == DType::F64 { y } else { y.cast_to(a.dtype())? }.into()])
}

// ---------------------------------------------------------------------------
// TensorScatter.

/// TensorScatter.
fn tensor_scatter(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let cache = ctx.input(inputs, 0)?;
    let update = ctx.input(inputs, 1)?;
    if cache.dtype() != update.dtype() || cache.rank() != update.rank() {
        bail!(
            "update ({} {:?}) must have past_cache's type and rank ({} {:?})",
            update.dtype(),
            update.shape(),
            cache.dtype(),
            cache.shape()
        );
    }
    let r = cache.rank();
    let axis = check_axis(ctx.int("axis", -2)?, r)?;
    if axis == 0 {
        bail!("axis must not be the batch axis 0");
    }
    for (i, (&c, &u)) in cache.shape().iter().zip(update.shape()).enumerate() {
        if i != axis && c != u {
            bail!("update shape {:?} differs from past_cache {:?} outside axis {axis}", update.shape(), cache.shape());
        }
    }
    let circular = match ctx.string("mode", "linear")?.as_str() {
        "linear" => false,
        "circular" => true,
        m => bail!("mode must be 'linear' or 'circular', got '{m}'"),
    };
    let batch = cache.shape()[0];
    let (max, len) = (cache.shape()[axis], update.shape()[axis]);
    let idx = match ctx.opt_input(inputs, 2)? {
        Some(t) => t.to_i64_vec()?,
        None => vec![0; batch],
    };
    if idx.len() != batch {
        bail!("write_indices has {} entries for a batch of {batch}", idx.len());
    }
    let mid: usize = cache.shape()[1..axis].iter().product();
    let inner: usize = cache.shape()[axis + 1..].iter().product();
    // Destination row along the axis of each (batch, update position).
    let mut dest = Vec::with_capacity(batch * len);
    for &w in &idx {
        for i in 0..len {
            let p = w + i as i64;
            let p = if circular && max > 0 { p.rem_euclid(max as i64) } else { p };
            match usize::try_from(p) {
                Ok(p) if p < max => dest.push(p),
                _ => bail!("write position {p} (index {w} + {i}) is outside the cache length {max}"),
            }
        }
    }
    fn scatter<T: Clone>(c: &ArrayD<T>, u: &ArrayD<T>, dims: [usize; 5], dest: &[usize]) -> Result<ArrayD<T>> {
        let [batch, mid, max, len, inner] = dims;
        let mut out: Vec<T> = c.iter().cloned().collect();
        let upd: Vec<T> = u.iter().cloned().collect();
        for b in 0..batch {
            for m in 0..mid {
                for i in 0..len {
                    let src = ((b * mid + m) * len + i) * inner;
                    let dst = ((b * mid + m) * max + dest[b * len + i]) * inner;
                    out[dst..dst + inner].clone_from_slice(&upd[src..src + inner]);
                }
            }
        }
        array(c.shape(), out)
    }
    let dims = [batch, mid, max, len, inner];
    macro_rules! pairs {
        ($($v:ident),*) => {
            match (cache, update) {
                $((Tensor::$v(c), Tensor::$v(u)) => Tensor::$v(scatter(c, u, dims, &dest)?),)*
                (Tensor::F8(d, c), Tensor::F8(_, u)) => Tensor::F8(*d, scatter(c, u, dims, &dest)?),
                (c, u) => bail!("update type {} differs from past_cache type {}", u.dtype(), c.dtype()),
            }
        };
    }
    let y = pairs!(F32, F64, F16, BF16, I8, I16, I32, I64, U8, U16, U32, U64, Bool, Str, I4, U4, I2, U2, C64, C128);
    Ok(vec![y.into()])
}

#[cfg(test)]
mod tests {
    use super::super::reduce::tests::run_node;
    use super::*;
    use ir::Node;

    fn node(op: &str) -> Node {
        Node::new(op, Vec::<String>::new(), ["y"])
    }

    #[test]
    fn cumprod_modes() {
        let x = Tensor::i64(&[4], vec![1, 2, 3, 4]).unwrap();
        let ax = Tensor::i64(&[], vec![0]).unwrap();
        let cases: [(i64, i64, [i64; 4]); 4] =
            [(0, 0, [1, 2, 6, 24]), (1, 0, [1, 1, 2, 6]), (0, 1, [24, 24, 12, 4]), (1, 1, [24, 12, 4, 1])];
        for (excl, rev, want) in cases {
            let n = node("CumProd").with_attr("exclusive", excl).with_attr("reverse", rev);
            let y = run_node(n, 26, vec![Some(x.clone()), Some(ax.clone())]).unwrap();
            assert_eq!(y[0].to_i64_vec().unwrap(), want, "exclusive={excl} reverse={rev}");
        }
        // Axis 1 of [[1, 2], [3, 4]] in f32.
        let x = Tensor::f32(&[2, 2], vec![1., 2., 3., 4.]).unwrap();
        let y =
            run_node(node("CumProd"), 26, vec![Some(x.clone()), Some(Tensor::i64(&[1], vec![-1]).unwrap())]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [1., 2., 3., 12.]);
        assert!(run_node(node("CumProd"), 26, vec![Some(x), Some(Tensor::i64(&[], vec![2]).unwrap())]).is_err());
    }

    #[test]
    fn lrn_channels() {
        // size 3, alpha 3, beta 1, bias 1 on channels [1, 2, 3]:
        // c0: 1 / (1 + (1+4)) = 1/6; c1: 2 / (1 + 14) = 2/15; c2: 3 / (1 + 13) = 3/14.
        let x = Tensor::f32(&[1, 3, 1], vec![1., 2., 3.]).unwrap();
        let n = node("LRN").with_attr("size", 3i64).with_attr("alpha", 3.0f32).with_attr("beta", 1.0f32);
        let y = run_node(n, 13, vec![Some(x.clone())]).unwrap();
        let got = y[0].to_f64_vec().unwrap();
        for (g, w) in got.iter().zip([1. / 6., 2. / 15., 3. / 14.]) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        assert!(run_node(node("LRN"), 13, vec![Some(x)]).is_err());
    }

    #[test]
    fn bitcast_widths() {
        // 1.0f32 = 0x3F800000; little-endian bytes [0, 0, 128, 63].
        let x = Tensor::f32(&[1], vec![1.0]).unwrap();
        let y = run_node(node("BitCast").with_attr("to", 6i64), 26, vec![Some(x.clone())]).unwrap();
        assert_eq!(y[0].to_i64_vec().unwrap(), [0x3F80_0000]);
        let y = run_node(node("BitCast").with_attr("to", 2i64), 26, vec![Some(x)]).unwrap();
        assert_eq!(y[0].shape(), &[1, 4]);
        assert_eq!(y[0].to_i64_vec().unwrap(), [0, 0, 128, 63]);
        let y = run_node(node("BitCast").with_attr("to", 1i64), 26, vec![Some(y[0].clone())]).unwrap();
        assert_eq!(y[0].shape(), &[1]);
        assert_eq!(y[0].to_f64_vec().unwrap(), [1.0]);
        let odd = Tensor::U8(array(&[3], vec![1, 2, 3]).unwrap());
        assert!(run_node(node("BitCast").with_attr("to", 1i64), 26, vec![Some(odd)]).is_err());
    }

    #[test]
    fn swiglu_two_inputs_and_halves() {
        // a * sigmoid(a) * b at a = 0 is 0; at a = 2, b = 3: 2 * 0.880797 * 3.
        let a = Tensor::F64(array(&[2], vec![0.0, 2.0]).unwrap());
        let b = Tensor::F64(array(&[2], vec![5.0, 3.0]).unwrap());
        let want = 6.0 / (1.0 + (-2f64).exp());
        let y = run_node(node("SwiGLU"), 28, vec![Some(a), Some(b)]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [0.0, want]);
        let ab = Tensor::F64(array(&[1, 4], vec![0.0, 2.0, 5.0, 3.0]).unwrap());
        let y = run_node(node("SwiGLU"), 28, vec![Some(ab)]).unwrap();
        assert_eq!(y[0].shape(), &[1, 2]);
        assert_eq!(y[0].to_f64_vec().unwrap(), [0.0, want]);
    }

    #[test]
    fn tensor_scatter_linear_and_circular() {
        // Cache [2 batches, 3 positions, 1]; update 2 positions per batch.
        let cache = Tensor::i64(&[2, 3, 1], vec![0, 0, 0, 0, 0, 0]).unwrap();
        let upd = Tensor::i64(&[2, 2, 1], vec![1, 2, 3, 4]).unwrap();
        let idx = Tensor::i64(&[2], vec![0, 2]).unwrap();
        let n = node("TensorScatter").with_attr("mode", "circular");
        let y = run_node(n, 24, vec![Some(cache.clone()), Some(upd.clone()), Some(idx.clone())]).unwrap();
        assert_eq!(y[0].to_i64_vec().unwrap(), [1, 2, 0, 4, 0, 3]);
        // Linear mode rejects the write past the end.
        assert!(run_node(node("TensorScatter"), 24, vec![Some(cache), Some(upd), Some(idx)]).is_err());
    }
}
