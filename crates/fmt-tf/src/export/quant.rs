//! Quantization: `DequantizeLinear` and `QuantizeLinear` as arithmetic.
//!
//! A dequantized weight stays an int8/uint8 constant (int4 widened to 8
//! bits) followed by `Cast`, `Sub` of the zero point and `Mul` by the scale,
//! so a quantized model stays about as small as its source. Per-axis
//! scales are reshaped to broadcast along their axis; blocked scales
//! broadcast over the quantized axis split into `[blocks, block]`. `QuantizeLinear`
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
        let c = float_tensor(shape, v, d)?;
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
    if matches!(t.dtype(), DType::I4 | DType::U4) {
        return values_f64(&super::widen_4bit(t)?);
    }
    if t.dtype().is_float() { t.to_f64s() } else { Ok(t.to_i64s()?.iter().map(|&v| v as f64).collect()) }
}

fn axis_of(ex: &Ex<'_>, n: &Node, r: usize) -> Result<usize> {
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
    let block = n.attr_int("block_size", 0)?;
    if block > 0 {
        return dequantize_blocked(ex, n, axis, block as usize, xd, d);
    }
    let xl = ex.logical(n, 0)?;
    let mut y = ex.op("Cast", vec![xl], vec![("SrcT", ty(xd)?), ("DstT", ty(d)?)]);
    if Ex::has_input(n, 2) {
        let zero_is_zero =
            ex.const_input(n, 2).map(|t| values_f64(t).map(|v| v.iter().all(|&z| z == 0.0))).transpose()?;
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

/// Blocked (group-wise) dequantization: the quantized axis is split into
/// `[blocks, block]` so that the `[.., blocks, 1, ..]` scales broadcast,
/// then the result is reshaped back. Needs static dims and constant
/// scales/zero points (the usual weight-only case).
fn dequantize_blocked(ex: &mut Ex<'_>, n: &Node, axis: usize, block: usize, xd: DType, d: DType) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let dims: Vec<usize> = ex
        .dims(x)
        .and_then(|v| v.into_iter().map(|d| d.map(|d| d as usize)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| unsupported(n, "blocked quantization of a value of unknown shape"))?;
    if !dims[axis].is_multiple_of(block) {
        return Err(unsupported(n, "blocked quantization with a partial last block"));
    }
    let blocks = dims[axis] / block;
    let mut split = dims.clone();
    split.splice(axis..=axis, [blocks, block]);
    let mut split_scale = dims.clone();
    split_scale.splice(axis..=axis, [blocks, 1]);
    let as_i64 = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let xl = ex.logical(n, 0)?;
    let s_shape = ex.ints(&as_i64(&split), DType::I64)?;
    let xr = ex.op("Reshape", vec![xl, s_shape], vec![("T", ty(xd)?), ("Tshape", ty(DType::I64)?)]);
    let mut y = ex.op("Cast", vec![xr], vec![("SrcT", ty(xd)?), ("DstT", ty(d)?)]);
    let param = |ex: &mut Ex<'_>, i: usize| -> Result<Option<String>> {
        let Some(t) = ex.const_input(n, i).cloned() else {
            return if Ex::has_input(n, i) {
                Err(unsupported(n, "blocked quantization with run-time scales"))
            } else {
                Ok(None)
            };
        };
        if ir::checked_numel(&split_scale) != Some(t.numel() as u64) {
            return Err(unsupported(n, "blocked scales of an unexpected shape"));
        }
        let v = values_f64(&t)?;
        if i == 2 && v.iter().all(|&z| z == 0.0) {
            return Ok(None);
        }
        let c = float_tensor(split_scale.clone(), v, d)?;
        ex.constant(&c).map(Some)
    };
    if let Some(zp) = param(ex, 2)? {
        y = ex.op_t("Sub", vec![y, zp], d)?;
    }
    let s = param(ex, 1)?.ok_or_else(|| unsupported(n, "blocked quantization without scales"))?;
    y = ex.op_t("Mul", vec![y, s], d)?;
    let back = ex.ints(&as_i64(&dims), DType::I64)?;
    y = ex.op("Reshape", vec![y, back], vec![("T", ty(d)?), ("Tshape", ty(DType::I64)?)]);
    ex.bind(n, 0, y);
    Ok(())
}

/// Values as a float tensor of `d` (f16, bf16, f64, else f32).
fn float_tensor(shape: Vec<usize>, v: Vec<f64>, d: DType) -> Result<Tensor> {
    match d {
        DType::F16 => Tensor::from_vec(shape, v.iter().map(|&x| half::f16::from_f64(x)).collect::<Vec<_>>()),
        DType::BF16 => Tensor::from_vec(shape, v.iter().map(|&x| half::bf16::from_f64(x)).collect::<Vec<_>>()),
        DType::F64 => Tensor::from_vec(shape, v),
        _ => Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect::<Vec<_>>()),
    }
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
    if n.attr_int("block_size", 0)? != 0 {
        return Err(unsupported(n, "blocked QuantizeLinear"));
    }
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
        notes: "int8/uint8/int4 (widened to 8 bits), per-tensor, per-axis and blocked (axis split into blocks, static shape, constant scales); weights stay 8-bit constants",
        build: dequantize,
    },
    Rule {
        onnx: "QuantizeLinear",
        tf: "RealDiv + Round + AddV2 + ClipByValue + Cast",
        notes: "int8/uint8/int16/uint16/int32, per-tensor and per-axis; saturate=1",
        build: quantize,
    },
];

/// `DynamicQuantizeLinear`: uint8 with the scale and zero point from the
/// range of `x` widened to include 0, as the ONNX reference computes them.
fn dynamic_quantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let xl = ex.logical(n, 0)?;
    let flat = ex.ints(&[-1], DType::I32)?;
    let xf = ex.op("Reshape", vec![xl.clone(), flat], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)]);
    let axis = ex.ints(&[0], DType::I32)?;
    let red = |ex: &mut Ex<'_>, op: &str, t: String, a: String| -> Result<String> {
        Ok(ex.op(
            op,
            vec![t, a],
            vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", super::bool_attr(false))],
        ))
    };
    let lo = red(ex, "Min", xf.clone(), axis.clone())?;
    let hi = red(ex, "Max", xf, axis)?;
    let zero = ex.scalar(0.0, d)?;
    let lo = ex.op_t("Minimum", vec![lo, zero.clone()], d)?;
    let hi = ex.op_t("Maximum", vec![hi, zero.clone()], d)?;
    let range = ex.op_t("Sub", vec![hi, lo.clone()], d)?;
    let qmax = ex.scalar(255.0, d)?;
    let scale = ex.op_t("RealDiv", vec![range, qmax.clone()], d)?;
    let neg_lo = ex.op_t("Sub", vec![zero.clone(), lo], d)?;
    let zp = ex.op_t("RealDiv", vec![neg_lo, scale.clone()], d)?;
    let zp = ex.op_t("Round", vec![zp], d)?;
    let zp = ex.op("ClipByValue", vec![zp, zero.clone(), qmax.clone()], vec![("T", ty(d)?)]);
    let q = ex.op_t("RealDiv", vec![xl, scale.clone()], d)?;
    let q = ex.op_t("Round", vec![q], d)?;
    let q = ex.op_t("AddV2", vec![q, zp.clone()], d)?;
    let q = ex.op("ClipByValue", vec![q, zero, qmax], vec![("T", ty(d)?)]);
    let to_u8 = |ex: &mut Ex<'_>, t: String| -> Result<String> {
        Ok(ex.op("Cast", vec![t], vec![("SrcT", ty(d)?), ("DstT", ty(DType::U8)?)]))
    };
    let y = to_u8(ex, q)?;
    let zp = to_u8(ex, zp)?;
    ex.bind(n, 0, y);
    ex.bind(n, 1, scale);
    ex.bind(n, 2, zp);
    Ok(())
}

/// `MatMulInteger`: both operands widened to int32 less their zero points,
/// then an int32 matrix product. A per-row zero point of `A` is reshaped
/// to `[M, 1]`.
fn matmul_integer(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let mut ops = Vec::new();
    for (i, zi) in [(0usize, 2usize), (1, 3)] {
        let name = ex.in_name(n, i)?;
        let d = ex.dtype(name)?;
        let t = ex.logical(n, i)?;
        let mut t = ex.op("Cast", vec![t], vec![("SrcT", ty(d)?), ("DstT", ty(DType::I32)?)]);
        if Ex::has_input(n, zi) {
            let zname = ex.in_name(n, zi)?;
            let zd = ex.dtype(zname)?;
            let z = ex.logical(n, zi)?;
            let mut z = ex.op("Cast", vec![z], vec![("SrcT", ty(zd)?), ("DstT", ty(DType::I32)?)]);
            if i == 0 && ex.rank(zname) == Some(1) {
                let s = ex.ints(&[-1, 1], DType::I32)?;
                z = ex.op("Reshape", vec![z, s], vec![("T", ty(DType::I32)?), ("Tshape", ty(DType::I32)?)]);
            }
            t = ex.op_t("Sub", vec![t, z], DType::I32)?;
        }
        ops.push(t);
    }
    let (ra, rb) = (ex.rank(ex.in_name(n, 0)?), ex.rank(ex.in_name(n, 1)?));
    let op = if ra == Some(2) && rb == Some(2) { "MatMul" } else { "BatchMatMulV2" };
    let y = ex.op_t(op, ops, DType::I32)?;
    ex.bind(n, 0, y);
    Ok(())
}

/// The rules of the dynamic-quantization ops.
pub(crate) const DYNAMIC_RULES: &[Rule] = &[
    Rule {
        onnx: "DynamicQuantizeLinear",
        tf: "Min/Max + RealDiv + Round + ClipByValue + Cast",
        notes: "uint8, range widened to include 0",
        build: dynamic_quantize,
    },
    Rule {
        onnx: "MatMulInteger",
        tf: "Cast + Sub + MatMul/BatchMatMulV2 (int32)",
        notes: "zero points per tensor, per row of A, per column of B",
        build: matmul_integer,
    },
];
