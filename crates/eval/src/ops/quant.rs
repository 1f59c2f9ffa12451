//! Linear (de)quantization: QuantizeLinear, DequantizeLinear,
//! DynamicQuantizeLinear.
//!
//! Opset history: QuantizeLinear/DequantizeLinear-10 are per-tensor only;
//! 13 adds per-axis scales (`axis`); 19 adds the 8-bit float types and
//! `saturate`; 21 adds blocked quantization (`block_size`), 16-bit and
//! 4-bit integers and QuantizeLinear's `output_dtype`; 23 separates the
//! scale type from the input type, adds QuantizeLinear's `precision` and
//! DequantizeLinear's `output_dtype`; 24 allows float8e8m0 scales; 25 and
//! 28 add 2-bit integers and 4/6-bit floats (not representable here, so
//! rejected). DynamicQuantizeLinear-11 is uint8 only.
//!
//! Rounding is to nearest even; integer results saturate to the type's range.

use ir::DType;
use ndarray::ArrayD;

use crate::ops::cast::{
    Elem, F8Format, MiniFloat, cast, dtype_from_code, f8_decode_table, f64_to_bf16, f64_to_f16, round_even,
};
use crate::registry::{Ctx, OpRegistry};
use crate::util::axis as norm_axis;
use crate::{Result, Tensor, Value, array, bail};

/// Registers the quantization ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("QuantizeLinear", quantize_op);
    r.add("DequantizeLinear", dequantize_op);
    r.add("DynamicQuantizeLinear", dynamic_quantize_op);
}

/// The saturation range of an integer quantized type (the quantization
/// ops take 2- to 16-bit integers; `ir::DType::int_range` is the fact).
pub(crate) fn int_range(d: DType) -> Option<(f64, f64)> {
    matches!(d, DType::U8 | DType::I8 | DType::U16 | DType::I16 | DType::U4 | DType::I4 | DType::U2 | DType::I2)
        .then(|| d.int_range())
        .flatten()
        .map(|(lo, hi)| (lo as f64, hi as f64))
}

/// Rounds (to nearest even) and saturates real values to a quantized type:
/// integers clamp to their range (NaN to the minimum, as the reference's
/// int32 detour does), 8-bit floats saturate.
pub(crate) fn requantize(v: ArrayD<f64>, to: DType) -> Result<Tensor> {
    let shape = v.shape().to_vec();
    pack(v.into_iter().collect(), &shape, to, true)
}

/// Packs real values into a quantized type: integers round to nearest even
/// and clamp; 8-bit floats round to nearest even and, when `saturate`,
/// clamp to the largest finite value.
fn pack(v: Vec<f64>, shape: &[usize], to: DType, saturate: bool) -> Result<Tensor> {
    fn ints<T>(v: Vec<f64>, shape: &[usize], (lo, hi): (f64, f64), f: impl Fn(f64) -> T) -> Result<ArrayD<T>> {
        let q = |x: f64| if x.is_nan() { lo } else { round_even(x).clamp(lo, hi) };
        array(shape, v.into_iter().map(|x| f(q(x))).collect())
    }
    let range = int_range(to).unwrap_or((0.0, 0.0));
    Ok(match to {
        DType::U8 => Tensor::U8(ints(v, shape, range, |x| x as u8)?),
        DType::I8 => Tensor::I8(ints(v, shape, range, |x| x as i8)?),
        DType::U16 => Tensor::U16(ints(v, shape, range, |x| x as u16)?),
        DType::I16 => Tensor::I16(ints(v, shape, range, |x| x as i16)?),
        DType::U4 => Tensor::U4(ints(v, shape, range, |x| x as u8)?),
        DType::I4 => Tensor::I4(ints(v, shape, range, |x| x as i8)?),
        DType::U2 => Tensor::U2(ints(v, shape, range, |x| x as u8)?),
        DType::I2 => Tensor::I2(ints(v, shape, range, |x| x as i8)?),
        // float4e2m1 has no saturate switch: the spec always saturates it.
        DType::F4E2M1 => {
            let f = MiniFloat::new(to)?;
            Tensor::F8(to, array(shape, v.into_iter().map(|x| f.encode(x)).collect())?)
        }
        DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => {
            let f = F8Format::new(to)?;
            Tensor::F8(to, array(shape, v.into_iter().map(|x| f.encode(x, saturate)).collect())?)
        }
        other => bail!("{other} is not a quantized type the evaluator supports"),
    })
}

/// How scale/zero-point elements map onto the input: the input seen as
/// [outer, axis_len, inner] around the quantization axis.
#[derive(Debug)]
struct Layout {
    outer: usize,
    axis_len: usize,
    inner: usize,
    mode: Mode,
}

/// Quantization granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One scale.
    Tensor,
    /// One scale per index of the axis.
    Axis,
    /// One scale per block of this many indices of the axis (per other index).
    Block(usize),
}

impl Layout {
    /// Works out the granularity from the scale's shape: one element is
    /// per tensor (whatever its rank, as in the reference), 1-D without a
    /// block size per axis, same rank with a block size blocked.
    fn new(x: &[usize], s: &[usize], axis: i64, block: i64) -> Result<Layout> {
        let n: usize = x.iter().product();
        let sn: usize = s.iter().product();
        if sn == 1 {
            return Ok(Layout { outer: 1, axis_len: 1, inner: n, mode: Mode::Tensor });
        }
        let ax = norm_axis(axis, x.len())?;
        let (outer, axis_len, inner) = match x.get(ax) {
            Some(&d) => (x[..ax].iter().product(), d, x[ax + 1..].iter().product()),
            None => bail!("a scale of shape {s:?} needs an input of rank ≥ 1, got a scalar"),
        };
        if block == 0 {
            if s.len() != 1 || s[0] != axis_len {
                bail!("per-axis scale of shape {s:?} must be 1-D of length {axis_len} (axis {ax} of input {x:?})");
            }
            return Ok(Layout { outer, axis_len, inner, mode: Mode::Axis });
        }
        let Ok(b) = usize::try_from(block) else { bail!("block_size must be positive, got {block}") };
        let fits = s.len() == x.len()
            && s.iter().zip(x).enumerate().all(|(i, (&sd, &xd))| if i == ax { sd == xd.div_ceil(b) } else { sd == xd });
        if !fits {
            bail!("blocked scale of shape {s:?} does not match input {x:?} with axis {ax} and block_size {b}");
        }
        Ok(Layout { outer, axis_len, inner, mode: Mode::Block(b) })
    }

    /// Calls `f(param_index)` for each input element in row-major order.
    fn visit(&self, mut f: impl FnMut(usize)) {
        match self.mode {
            Mode::Tensor => (0..self.inner).for_each(|_| f(0)),
            Mode::Axis => {
                for _ in 0..self.outer {
                    for a in 0..self.axis_len {
                        (0..self.inner).for_each(|_| f(a));
                    }
                }
            }
            Mode::Block(b) => {
                let blocks = self.axis_len.div_ceil(b);
                for o in 0..self.outer {
                    for a in 0..self.axis_len {
                        let base = (o * blocks + a / b) * self.inner;
                        (0..self.inner).for_each(|i| f(base + i));
                    }
                }
            }
        }
    }
}

/// The values of a (small) scale or zero-point tensor as f64.
fn f64_values(t: &Tensor) -> Result<Vec<f64>> {
    match cast(t, DType::F64, true)? {
        Tensor::F64(a) => Ok(a.iter().copied().collect()),
        other => bail!("internal error: cast to f64 gave {}", other.dtype()),
    }
}

/// Rounding to the precision a division is done in (a type parameter so
/// that the choice is made once per op, not per element).
trait Precision {
    fn round(v: f64) -> f64;
}

struct InF32;
struct InF16;
struct InBF16;
struct InF64;

impl Precision for InF32 {
    fn round(v: f64) -> f64 {
        f64::from(v as f32)
    }
}

impl Precision for InF16 {
    fn round(v: f64) -> f64 {
        f64::from(f64_to_f16(v))
    }
}

impl Precision for InBF16 {
    fn round(v: f64) -> f64 {
        f64::from(f64_to_bf16(v))
    }
}

impl Precision for InF64 {
    fn round(v: f64) -> f64 {
        v
    }
}

/// Checks that a zero point matches its scale's shape and returns its
/// values (zeros when absent).
fn zero_points(zp: Option<&Tensor>, scale: &Tensor) -> Result<Vec<f64>> {
    match zp {
        None => Ok(vec![0.0; scale.len()]),
        Some(z) if z.len() == scale.len() && (z.shape() == scale.shape() || z.len() == 1) => f64_values(z),
        Some(z) => bail!("zero point of shape {:?} does not match scale of shape {:?}", z.shape(), scale.shape()),
    }
}

fn quantize_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (x, scale, zp) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?, ctx.opt_input(inputs, 2)?);
    let axis = if ctx.opset >= 13 { ctx.int("axis", 1)? } else { 1 };
    let block = if ctx.opset >= 21 { ctx.int("block_size", 0)? } else { 0 };
    let saturate = ctx.opset < 19 || ctx.int("saturate", 1)? != 0;
    let out_code = if ctx.opset >= 21 { ctx.int("output_dtype", 0)? } else { 0 };
    let precision = if ctx.opset >= 23 { ctx.int("precision", 0)? } else { 0 };
    let to = match (zp, out_code) {
        (Some(z), 0) => z.dtype(),
        (Some(z), c) if dtype_from_code(c)? != z.dtype() => {
            bail!("output_dtype {} differs from the zero point's type {}", dtype_from_code(c)?, z.dtype())
        }
        (Some(z), _) => z.dtype(),
        (None, 0) => DType::U8,
        (None, c) => dtype_from_code(c)?,
    };
    let layout = Layout::new(x.shape(), scale.shape(), axis, block)?;
    // The division happens in `precision`, else in the scale's type.
    let prec = if precision != 0 { dtype_from_code(precision)? } else { scale.dtype() };
    let s = f64_values(scale)?;
    let z = zero_points(zp, scale)?;
    if int_range(to).is_none()
        && !matches!(to, DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F4E2M1)
    {
        bail!("QuantizeLinear cannot produce {to}");
    }
    let int = int_range(to).is_some();
    let v = match x {
        Tensor::F32(a) => scaled_in(prec, a, &layout, &s, &z, int)?,
        Tensor::F16(a) => scaled_in(prec, a, &layout, &s, &z, int)?,
        Tensor::BF16(a) => scaled_in(prec, a, &layout, &s, &z, int)?,
        Tensor::F64(a) => scaled_in(prec, a, &layout, &s, &z, int)?,
        Tensor::I32(a) => scaled_in(prec, a, &layout, &s, &z, int)?,
        other => bail!("QuantizeLinear does not take {} input", other.dtype()),
    };
    Ok(vec![pack(v, x.shape(), to, saturate)?.into()])
}

/// [`scaled`] in the precision of `prec` (f64 for integer precisions).
fn scaled_in<S: Elem>(prec: DType, x: &ArrayD<S>, l: &Layout, s: &[f64], z: &[f64], int: bool) -> Result<Vec<f64>> {
    match prec {
        DType::F16 => scaled::<S, InF16>(x, l, s, z, int),
        DType::BF16 => scaled::<S, InBF16>(x, l, s, z, int),
        DType::F64 | DType::I32 | DType::I64 => scaled::<S, InF64>(x, l, s, z, int),
        _ => scaled::<S, InF32>(x, l, s, z, int),
    }
}

/// `x / scale` in precision `P`, then for integer targets rounded before
/// the zero point is added (ties must see x/scale, not the shifted value);
/// for 8-bit float targets the zero point is added as is.
fn scaled<S: Elem, P: Precision>(x: &ArrayD<S>, layout: &Layout, s: &[f64], z: &[f64], int: bool) -> Result<Vec<f64>> {
    let s: Vec<f64> = s.iter().map(|&v| P::round(v)).collect();
    let f = |v: S, sv: f64, zv: f64| {
        let q = P::round(P::round(v.to_f64()) / sv);
        if int { round_even(q) + zv } else { q + zv }
    };
    if layout.mode == Mode::Tensor {
        let (Some(&s0), Some(&z0)) = (s.first(), z.first()) else { bail!("empty scale") };
        return Ok(x.iter().map(|&v| f(v, s0, z0)).collect());
    }
    let mut out = Vec::with_capacity(x.len());
    let mut it = x.iter();
    let mut bad = false;
    layout.visit(|p| match (it.next(), s.get(p), z.get(p)) {
        (Some(&v), Some(&sv), Some(&zv)) => out.push(f(v, sv, zv)),
        _ => bad = true,
    });
    if bad || out.len() != x.len() {
        bail!("internal error: quantization layout does not cover the input");
    }
    Ok(out)
}

fn dequantize_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (x, scale, zp) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?, ctx.opt_input(inputs, 2)?);
    let axis = if ctx.opset >= 13 { ctx.int("axis", 1)? } else { 1 };
    let block = if ctx.opset >= 21 { ctx.int("block_size", 0)? } else { 0 };
    let out_code = if ctx.opset >= 23 { ctx.int("output_dtype", 0)? } else { 0 };
    let to = if out_code != 0 { dtype_from_code(out_code)? } else { scale.dtype() };
    if !matches!(to, DType::F32 | DType::F16 | DType::BF16) {
        bail!("DequantizeLinear produces float, float16 or bfloat16, not {to} (set output_dtype)");
    }
    if let Some(z) = zp
        && z.dtype() != x.dtype()
    {
        bail!("zero point is {} but x is {}", z.dtype(), x.dtype());
    }
    let layout = Layout::new(x.shape(), scale.shape(), axis, block)?;
    let s = f64_values(scale)?;
    let z = zero_points(zp, scale)?;
    let y = match x {
        Tensor::I8(a) | Tensor::I4(a) | Tensor::I2(a) => dequantized(a, &layout, &s, &z)?,
        Tensor::U8(a) | Tensor::U4(a) | Tensor::U2(a) => dequantized(a, &layout, &s, &z)?,
        Tensor::I16(a) => dequantized(a, &layout, &s, &z)?,
        Tensor::U16(a) => dequantized(a, &layout, &s, &z)?,
        Tensor::I32(a) => dequantized(a, &layout, &s, &z)?,
        Tensor::F8(kind, a) => {
            let table = f8_decode_table(*kind)?;
            dequantized(&a.mapv(|b| table[usize::from(b)]), &layout, &s, &z)?
        }
        other => bail!("DequantizeLinear does not take {} input", other.dtype()),
    };
    // The product is exact in f64; one rounding to the output type.
    let y = match to {
        DType::F16 => Tensor::F16(y.mapv(f64_to_f16)),
        DType::BF16 => Tensor::BF16(y.mapv(f64_to_bf16)),
        _ => Tensor::F32(y.mapv(|v| v as f32)),
    };
    Ok(vec![y.into()])
}

/// `(x - zero_point) * scale` in f64.
fn dequantized<S: Elem>(x: &ArrayD<S>, layout: &Layout, s: &[f64], z: &[f64]) -> Result<ArrayD<f64>> {
    if layout.mode == Mode::Tensor {
        let (Some(&s0), Some(&z0)) = (s.first(), z.first()) else { bail!("empty scale") };
        return Ok(x.mapv(|v| (v.to_f64() - z0) * s0));
    }
    let mut out = Vec::with_capacity(x.len());
    let mut it = x.iter();
    let mut bad = false;
    layout.visit(|p| match (it.next(), s.get(p), z.get(p)) {
        (Some(v), Some(&sv), Some(&zv)) => out.push((v.to_f64() - zv) * sv),
        _ => bad = true,
    });
    if bad || out.len() != x.len() {
        bail!("internal error: quantization layout does not cover the input");
    }
    array(x.shape(), out)
}

fn dynamic_quantize_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let Tensor::F32(x) = ctx.input(inputs, 0)? else {
        bail!("DynamicQuantizeLinear takes float input, got {}", ctx.input(inputs, 0)?.dtype());
    };
    // The range always includes 0 so that 0 is exactly representable.
    let (lo, hi) = x.iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let scale = if hi == lo { 1.0 } else { hi - lo } / 255.0;
    let zp = round_even(f64::from((0.0 - lo / scale).clamp(0.0, 255.0))) as f32;
    let y = x.mapv(|v| {
        let q = round_even(f64::from(v / scale)) as f32 + zp;
        if q.is_nan() { 0 } else { q.clamp(0.0, 255.0) as u8 }
    });
    Ok(vec![
        Tensor::U8(y).into(),
        Tensor::F32(array(&[], vec![scale])?).into(),
        Tensor::U8(array(&[], vec![zp as u8])?).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cast::tests::run_node;

    fn x() -> Tensor {
        Tensor::f32(&[2, 4], vec![-3.5, 0.5, 1.5, 2.5, 100.0, -100.0, 7.25, 0.0]).unwrap()
    }

    fn run(op: &str, attrs: &[(&str, i64)], inputs: Vec<Option<Tensor>>, opset: i64) -> Result<Tensor> {
        let names: Vec<String> = (0..inputs.len()).map(|i| format!("i{i}")).collect();
        let mut node = ir::Node::new(op, names, ["y"]);
        for (k, v) in attrs {
            node = node.with_attr(*k, *v);
        }
        Ok(run_node(node, inputs, opset)?.remove(0))
    }

    fn f32t(shape: &[usize], v: Vec<f32>) -> Option<Tensor> {
        Some(Tensor::f32(shape, v).unwrap())
    }

    #[test]
    fn quantize_per_tensor_axis_and_block() {
        // onnx.reference QuantizeLinear on x() (expected values pasted)
        let y = run("QuantizeLinear", &[], vec![Some(x()), f32t(&[], vec![0.5])], 10).unwrap();
        assert_eq!(y, Tensor::U8(array(&[2, 4], vec![0, 1, 3, 5, 200, 0, 14, 0]).unwrap()));
        let zp = Some(Tensor::I8(array(&[2], vec![0, -10]).unwrap()));
        let y = run("QuantizeLinear", &[("axis", 0)], vec![Some(x()), f32t(&[2], vec![1.0, 0.5]), zp], 13).unwrap();
        assert_eq!(y, Tensor::I8(array(&[2, 4], vec![-4, 0, 2, 2, 127, -128, 4, -10]).unwrap()));
        let zp = Some(Tensor::U8(array(&[2, 2], vec![1, 2, 3, 4]).unwrap()));
        let s = f32t(&[2, 2], vec![1.0, 2.0, 0.5, 4.0]);
        let y = run("QuantizeLinear", &[("axis", 1), ("block_size", 3)], vec![Some(x()), s, zp], 21).unwrap();
        assert_eq!(y, Tensor::U8(array(&[2, 4], vec![0, 1, 3, 3, 203, 0, 17, 4]).unwrap()));
        // A blocked scale whose block count does not match is rejected.
        let zp = Some(Tensor::U8(array(&[2, 2], vec![1, 2, 3, 4]).unwrap()));
        let s = f32t(&[2, 2], vec![1.0, 2.0, 0.5, 4.0]);
        assert!(run("QuantizeLinear", &[("axis", 1), ("block_size", 1)], vec![Some(x()), s, zp], 21).is_err());
        assert!(run("QuantizeLinear", &[("axis", 1)], vec![Some(x()), f32t(&[3], vec![1.0; 3])], 13).is_err());
    }

    #[test]
    fn quantize_to_two_bit_ints_and_float4() {
        // x() = [-3.5, 0.5, 1.5, 2.5, 100, -100, 7.25, 0]: rounding half to even, then clamping.
        let y = run("QuantizeLinear", &[("output_dtype", 26)], vec![Some(x()), f32t(&[], vec![1.0])], 25).unwrap();
        assert_eq!(y, Tensor::I2(array(&[2, 4], vec![-2, 0, 1, 1, 1, -2, 1, 0]).unwrap()));
        let y = run("QuantizeLinear", &[("output_dtype", 25)], vec![Some(x()), f32t(&[], vec![1.0])], 25).unwrap();
        assert_eq!(y, Tensor::U2(array(&[2, 4], vec![0, 0, 2, 2, 3, 0, 3, 0]).unwrap()));
        // float4e2m1 always saturates to ±6; 2.5 is a tie between 2 and 3 (even mantissa: 2).
        let y = run("QuantizeLinear", &[("output_dtype", 23)], vec![Some(x()), f32t(&[], vec![1.0])], 25).unwrap();
        let back = run("DequantizeLinear", &[], vec![Some(y), f32t(&[], vec![2.0])], 25).unwrap();
        assert_eq!(back, Tensor::f32(&[2, 4], vec![-8.0, 1.0, 3.0, 4.0, 12.0, -12.0, 12.0, 0.0]).unwrap());
        let q = Tensor::U2(array(&[2], vec![3, 0]).unwrap());
        let zp = Some(Tensor::U2(array(&[], vec![1]).unwrap()));
        let y = run("DequantizeLinear", &[], vec![Some(q), f32t(&[], vec![0.5]), zp], 25).unwrap();
        assert_eq!(y, Tensor::f32(&[2], vec![1.0, -0.5]).unwrap());
    }

    #[test]
    fn quantize_to_f8_and_output_dtype() {
        // x() / 0.5 to float8e4m3fn without saturation: bits from ml_dtypes
        let zp = Some(Tensor::F8(DType::F8E4M3FN, array(&[], vec![0]).unwrap()));
        let y = run("QuantizeLinear", &[("saturate", 0)], vec![Some(x()), f32t(&[], vec![0.5]), zp], 19).unwrap();
        assert_eq!(y, Tensor::F8(DType::F8E4M3FN, array(&[2, 4], vec![206, 56, 68, 74, 116, 244, 86, 0]).unwrap()));
        // output_dtype = INT4 (22) without a zero point; saturates to [-8, 7].
        let y = run("QuantizeLinear", &[("output_dtype", 22)], vec![Some(x()), f32t(&[], vec![1.0])], 21).unwrap();
        assert_eq!(y, Tensor::I4(array(&[2, 4], vec![-4, 0, 2, 2, 7, -8, 7, 0]).unwrap()));
        let zp = Some(Tensor::U8(array(&[], vec![0]).unwrap()));
        assert!(run("QuantizeLinear", &[("output_dtype", 3)], vec![Some(x()), f32t(&[], vec![1.0]), zp], 21).is_err());
    }

    #[test]
    fn dequantize_layouts_and_types() {
        let x = Some(Tensor::U8(array(&[2, 3], vec![0, 10, 200, 255, 7, 3]).unwrap()));
        let zp = Some(Tensor::U8(array(&[3], vec![10, 0, 100]).unwrap()));
        let y = run("DequantizeLinear", &[("axis", 1)], vec![x, f32t(&[3], vec![0.5, 2.0, 0.1]), zp], 13).unwrap();
        assert_eq!(y, Tensor::f32(&[2, 3], vec![-5.0, 20.0, 10.0, 122.5, 14.0, -9.7]).unwrap());
        let x = Some(Tensor::I32(array(&[3], vec![-1_000_000, 3, 123_456_789]).unwrap()));
        let y = run("DequantizeLinear", &[], vec![x, f32t(&[], vec![0.25])], 10).unwrap();
        assert_eq!(y, Tensor::f32(&[3], vec![-250_000.0, 0.75, 30_864_198.0]).unwrap());
        let x = Some(Tensor::F8(DType::F8E4M3FN, array(&[4], vec![0x38, 0xb8, 0x7e, 0x01]).unwrap()));
        let y = run("DequantizeLinear", &[], vec![x, f32t(&[], vec![2.0])], 19).unwrap();
        assert_eq!(y, Tensor::f32(&[4], vec![2.0, -2.0, 896.0, 0.003_906_25]).unwrap());
        // Blocked along axis 0 with float16 scales gives float16.
        let x = Some(Tensor::I8(array(&[3, 2], vec![1, 2, 3, 4, 5, 6]).unwrap()));
        let s: Vec<half::f16> = [0.5f32, 1.0, 2.0, 4.0].iter().map(|&v| half::f16::from_f32(v)).collect();
        let s = Some(Tensor::F16(array(&[2, 2], s).unwrap()));
        let y = run("DequantizeLinear", &[("axis", 0), ("block_size", 2)], vec![x, s], 21).unwrap();
        let want: Vec<half::f16> =
            [0.5f32, 2.0, 1.5, 4.0, 10.0, 24.0].iter().map(|&v| half::f16::from_f32(v)).collect();
        assert_eq!(y, Tensor::F16(array(&[3, 2], want).unwrap()));
    }

    #[test]
    fn dynamic_quantize_matches_backend_tests() {
        let names = ["x"];
        let node = ir::Node::new("DynamicQuantizeLinear", names, ["y", "s", "z"]);
        let x = Tensor::f32(&[6], vec![0.0, 2.0, -3.0, -2.5, 1.34, 0.5]).unwrap();
        let out = run_node(node.clone(), vec![Some(x)], 11).unwrap();
        assert_eq!(out[0], Tensor::U8(array(&[6], vec![153, 255, 0, 26, 221, 179]).unwrap()));
        assert_eq!(out[1], Tensor::f32(&[], vec![0.019_607_844]).unwrap());
        assert_eq!(out[2], Tensor::U8(array(&[], vec![153]).unwrap()));
        let x = vec![1.0, 2.1, 1.3, 2.5, 3.34, 4.0, 1.5, 2.6, 3.9, 4.0, 3.0, 2.345];
        let out = run_node(node, vec![Some(Tensor::f32(&[3, 4], x).unwrap())], 11).unwrap();
        let want = vec![64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149];
        assert_eq!(out[0], Tensor::U8(array(&[3, 4], want).unwrap()));
        assert_eq!(out[1], Tensor::f32(&[], vec![0.015_686_275]).unwrap());
        assert_eq!(out[2], Tensor::U8(array(&[], vec![0]).unwrap()));
    }
}
