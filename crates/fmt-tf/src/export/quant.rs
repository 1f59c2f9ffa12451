//! Quantization: `DequantizeLinear` and `QuantizeLinear` as arithmetic.
//!
//! A dequantized weight stays an int8/uint8 constant (int4 widened to 8
//! bits) followed by `Cast`, `Sub` of the zero point and `Mul` by the scale,
//! so a quantized model stays about as small as its source. Per-axis
//! scales are reshaped to broadcast along their axis. `QuantizeLinear`
//! rounds half to even (TF's `Round`), adds the zero point and saturates.

use ir::{DType, Node, Result, Tensor};

use super::{Ex, Rule, ty, unsupported};

/// Scale/zero-point input `i` shaped to broadcast against a rank-`r` value
/// along `axis`, as a TF tensor of type `d` (a constant when it is one).
fn per_axis(ex: &mut Ex<'_>, n: &Node, i: usize, r: usize, axis: usize, d: DType) -> Result<String> {
    let name = ex.in_name(n, i)?;
    let rank = ex.rank(name).unwrap_or(0);
    let mut shape = vec![1usize; r];
    if let Some(t) = ex.const_value(name).cloned() {
        let v = values_f64(&t)?;
        if rank == 1 && r > 0 {
            shape[axis] = v.len();
        } else if rank != 0 {
            return Err(unsupported(n, "blocked quantization"));
        } else {
            shape.clear();
        }
        let c = match d {
            DType::F16 => Tensor::from_vec(shape, v.iter().map(|&x| half::f16::from_f64(x)).collect::<Vec<_>>())?,
            DType::BF16 => Tensor::from_vec(shape, v.iter().map(|&x| half::bf16::from_f64(x)).collect::<Vec<_>>())?,
            DType::F64 => Tensor::from_vec(shape, v)?,
            _ => Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect::<Vec<_>>())?,
        };
        return ex.constant(&c);
    }
    if rank > 1 {
        return Err(unsupported(n, "blocked quantization"));
    }
    let src = ex.dtype(name)?;
    let mut t = ex.logical(n, i)?;
    if src != d {
        t = ex.op("Cast", vec![t], vec![("SrcT", ty(src)?), ("DstT", ty(d)?)]);
    }
    if rank == 1 {
        let s: Vec<i64> = (0..r).map(|k| if k == axis { -1 } else { 1 }).collect();
        let s = ex.ints(&s, DType::I32)?;
        t = ex.op("Reshape", vec![t, s], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)]);
    }
    Ok(t)
}

/// A tensor's values as f64, integers included.
fn values_f64(t: &Tensor) -> Result<Vec<f64>> {
    if t.dtype().is_float() { t.to_f64s() } else { Ok(t.to_i64s()?.iter().map(|&v| v as f64).collect()) }
}

fn axis_of(ex: &Ex<'_>, n: &Node, r: usize) -> Result<usize> {
    if n.attr_int("block_size", 0)? != 0 {
        return Err(unsupported(n, "blocked quantization"));
    }
    let a = n.attr_int("axis", 1)?;
    let a = if a < 0 { a + r as i64 } else { a };
    let _ = ex;
    Ok(if r == 0 { 0 } else { a.clamp(0, r as i64 - 1) as usize })
}

fn dequantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let axis = axis_of(ex, n, r)?;
    let d = ex.dtype(ex.in_name(n, 1)?)?;
    let xd = match ex.dtype(x)? {
        DType::I4 => DType::I8,
        DType::U4 => DType::U8,
        other => other,
    };
    let xl = ex.logical(n, 0)?;
    let mut y = ex.op("Cast", vec![xl], vec![("SrcT", ty(xd)?), ("DstT", ty(d)?)]);
    if Ex::has_input(n, 2) {
        let zero_is_zero = ex.const_input(n, 2).map(|t| t.to_i64s().map(|v| v.iter().all(|&z| z == 0))).transpose()?;
        if zero_is_zero != Some(true) {
            let zp = per_axis(ex, n, 2, r, axis, d)?;
            y = ex.op_t("Sub", vec![y, zp], d)?;
        }
    }
    let s = per_axis(ex, n, 1, r, axis, d)?;
    y = ex.op_t("Mul", vec![y, s], d)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn quantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let axis = axis_of(ex, n, r)?;
    let d = ex.dtype(x)?;
    if !Ex::has_input(n, 2) && n.attr("output_dtype").is_some() {
        return Err(unsupported(n, "QuantizeLinear output_dtype without a zero point"));
    }
    let qd = if Ex::has_input(n, 2) { ex.dtype(ex.in_name(n, 2)?)? } else { DType::U8 };
    let (lo, hi) = match qd {
        DType::I8 => (-128.0, 127.0),
        DType::U8 => (0.0, 255.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::U16 => (0.0, 65535.0),
        DType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
        other => return Err(unsupported(n, &format!("quantizing to {other}"))),
    };
    if n.attr_int("saturate", 1)? == 0 {
        return Err(unsupported(n, "saturate=0"));
    }
    let v = ex.val(x)?;
    // Computed in the input's layout: x is the only full-rank operand.
    let p = v.perm.clone();
    let xt = v.t;
    let s = if p.is_some() && ex.const_input(n, 1).is_some_and(|t| t.shape().len() == 1) {
        return Err(unsupported(n, "per-axis QuantizeLinear of a layout-transposed tensor"));
    } else {
        per_axis(ex, n, 1, r, axis, d)?
    };
    let q = ex.op_t("RealDiv", vec![xt, s], d)?;
    let mut q = ex.op_t("Round", vec![q], d)?;
    if Ex::has_input(n, 2) {
        let zp = per_axis(ex, n, 2, r, axis, d)?;
        q = ex.op_t("AddV2", vec![q, zp], d)?;
    }
    let (l, h) = (ex.scalar(lo, d)?, ex.scalar(hi, d)?);
    let c = ex.op("ClipByValue", vec![q, l, h], vec![("T", ty(d)?)]);
    let y = ex.op("Cast", vec![c], vec![("SrcT", ty(d)?), ("DstT", ty(qd)?)]);
    ex.bind_perm(n, 0, y, p);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        onnx: "DequantizeLinear",
        tf: "Cast + Sub + Mul",
        notes: "int8/uint8/int4 (widened to 8 bits), per-tensor and per-axis; weights stay 8-bit constants; not blocked",
        build: dequantize,
    },
    Rule {
        onnx: "QuantizeLinear",
        tf: "RealDiv + Round + AddV2 + ClipByValue + Cast",
        notes: "int8/uint8/int16/uint16/int32, per-tensor and per-axis; saturate=1",
        build: quantize,
    },
];
