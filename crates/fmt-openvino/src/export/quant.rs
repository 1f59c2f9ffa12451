//! Quantization: `DequantizeLinear` of low-bit weights becomes OpenVINO's
//! weight-decompression pattern, `Const(u8/i8/u4/i4) → Convert → [Subtract
//! zero point] → Multiply scale [→ Reshape for blocks]`, the form its
//! plugins recognize and run in low precision. A `QuantizeLinear →
//! DequantizeLinear` pair on activations becomes one `FakeQuantize`.
//! Anything else is lowered arithmetically with the same results.

use ir::{DType, Error, Node, Result, Tensor};

use super::math::binary;
use super::{Ex, Rule, Src, int};
use crate::dtype::{floats_of, ints_of};

/// The representable range of a quantized type (2- to 16-bit integers).
fn qrange(d: DType) -> Option<(f64, f64)> {
    let (lo, hi) = d.int_range().filter(|_| d.bits().is_some_and(|b| b <= 16))?;
    Some((lo as f64, hi as f64))
}

/// Integer values as a tensor of a (possibly 4-bit) integer dtype, `None`
/// if a value does not fit. Shared with the importer, which rebuilds the
/// constants of the patterns it reads.
pub(crate) fn int_tensor(d: DType, shape: Vec<usize>, v: &[i64]) -> Option<Tensor> {
    let (lo, hi) = match d {
        DType::U8 => (0, 255),
        DType::I8 => (-128, 127),
        DType::U4 => (0, 15),
        DType::I4 => (-8, 7),
        _ => return None,
    };
    if v.iter().any(|&x| x < lo || x > hi) {
        return None;
    }
    match d {
        DType::U8 => Tensor::from_vec(shape, v.iter().map(|&x| x as u8).collect()).ok(),
        DType::I8 => Tensor::from_vec(shape, v.iter().map(|&x| x as i8).collect()).ok(),
        _ => {
            // Two per byte, low nibble first.
            let mut bytes = vec![0u8; v.len().div_ceil(2)];
            for (i, &x) in v.iter().enumerate() {
                if let Some(b) = bytes.get_mut(i / 2) {
                    *b |= ((x as u8) & 0x0f) << (4 * (i % 2));
                }
            }
            Tensor::from_raw(d, shape, ir::Buffer::from_vec(bytes)).ok()
        }
    }
}

/// The values of an integer tensor of any width, 4-bit packed ones included.
pub(crate) fn int_values(t: &Tensor) -> Option<Vec<i64>> {
    if let Some(v) = ints_of(t) {
        return Some(v);
    }
    if t.dtype() == DType::I4 || t.dtype() == DType::U4 {
        let raw = t.raw()?;
        let signed = t.dtype() == DType::I4;
        return (0..t.numel())
            .map(|i| {
                let n = (raw.get(i / 2)? >> (4 * (i % 2))) & 0x0f;
                Some(if signed && n >= 8 { i64::from(n) - 16 } else { i64::from(n) })
            })
            .collect();
    }
    None
}

/// Float values as a tensor of float dtype `d` (f32, f16 or bf16).
fn float_tensor(shape: Vec<usize>, v: &[f64], d: DType) -> Result<Tensor> {
    match d {
        DType::F16 => Tensor::from_vec(shape, v.iter().map(|&x| ir::f16::from_f64(x)).collect()),
        DType::BF16 => Tensor::from_vec(shape, v.iter().map(|&x| ir::bf16::from_f64(x)).collect()),
        DType::F32 => Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect()),
        d => Err(Error::invalid(format!("{d} scales"))),
    }
}

/// How scale and zero point line up with `x`.
enum Layout {
    /// One value for the whole tensor.
    Scalar,
    /// One value per index of `axis` (of `rank` dims).
    Axis { axis: usize, rank: usize },
    /// Blocks of `block` along `axis` of a tensor of static `shape`.
    Blocked { axis: usize, block: usize, shape: Vec<usize> },
}

fn layout(ex: &Ex<'_>, n: &Node, x: Src, scale: Src) -> Result<Layout> {
    let scale_shape = ex.static_shape(scale);
    let scale_rank = ex.rank(scale);
    let block = int(n, "block_size", 0)?;
    let is_scalar = scale_rank == Some(0) || scale_shape.as_ref().is_some_and(|s| s.iter().product::<usize>() == 1);
    if block <= 0 && is_scalar {
        return Ok(Layout::Scalar);
    }
    let rank = ex.need_rank(x, n, "the quantized input")?;
    let mut axis = int(n, "axis", 1)?;
    if axis < 0 {
        axis += rank as i64;
    }
    if axis < 0 || axis as usize >= rank {
        return Err(Error::invalid(format!("{}: axis {axis} is out of range for rank {rank}", n.describe())));
    }
    let axis = axis as usize;
    if block <= 0 {
        return Ok(Layout::Axis { axis, rank });
    }
    let shape = ex
        .static_shape(x)
        .ok_or_else(|| Error::invalid(format!("{}: blocked quantization needs the input's shape", n.describe())))?;
    let block = block as usize;
    if shape[axis] % block != 0 {
        return Err(Error::invalid(format!(
            "{}: dimension {} of size {} is not a whole number of blocks of {block}",
            n.describe(),
            axis,
            shape[axis]
        )));
    }
    Ok(Layout::Blocked { axis, block, shape })
}

/// Reshapes a scale or zero point so it broadcasts against `x` (or, for
/// blocks, against `x` seen as `[…, K/B, B, …]`).
fn align(ex: &mut Ex<'_>, p: Src, l: &Layout) -> Result<Src> {
    let shape: Vec<i64> = match l {
        Layout::Scalar => return Ok(p),
        Layout::Axis { axis, rank } => (0..*rank).map(|i| if i == *axis { -1 } else { 1 }).collect(),
        Layout::Blocked { axis, block, shape } => {
            let mut s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            s[*axis] = (shape[*axis] / block) as i64;
            s.insert(axis + 1, 1);
            s
        }
    };
    if let Some(t) = ex.constant(p) {
        let mut dims: Vec<usize> = shape.iter().map(|&d| d.max(1) as usize).collect();
        if let Layout::Axis { axis, .. } = l {
            dims[*axis] = t.numel();
        }
        return ex.reshaped_const(p, dims);
    }
    let target = ex.i64s(&shape);
    let d = ex.dtype(p);
    let y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[p, target]);
    Ok(ex.set(y, d, Some(shape.len())))
}

/// `x` seen with the block dimension split, for blocked layouts.
fn split_blocks(ex: &mut Ex<'_>, x: Src, l: &Layout) -> Result<Src> {
    let Layout::Blocked { axis, block, shape } = l else { return Ok(x) };
    let mut s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    s[*axis] = (shape[*axis] / block) as i64;
    s.insert(axis + 1, *block as i64);
    if ex.constant(x).is_some() {
        return ex.reshaped_const(x, s.iter().map(|&d| d as usize).collect());
    }
    let target = ex.i64s(&s);
    let d = ex.dtype(x);
    let y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[x, target]);
    Ok(ex.set(y, d, Some(s.len())))
}

fn convert(ex: &mut Ex<'_>, x: Src, to: DType) -> Src {
    let r = ex.rank(x);
    let et = crate::dtype::element_type(to).unwrap_or("f32");
    let y = ex.op("Convert", "opset1", &[("destination_type", et.into())], &[x]);
    ex.set(y, Some(to), r)
}

/// A blocked 2-D constant weight in NNCF's layout: integers `[M, G, B]`
/// with the blocks along the last axis, scales and zero points `[M, G, 1]`,
/// then `Reshape [M, G·B]`. Blocks along axis 0 (a `[K, N]` MatMul weight)
/// are stored transposed and a `Transpose` restores `[K, N]`; a last block
/// shorter than `B` (K not a multiple) is padded with its zero point (so the
/// padding dequantizes to 0) and a `Slice` cuts the result back to K.
/// Returns `None` when the DQ is not such a weight (the generic path runs).
fn dequantize_grouped(ex: &mut Ex<'_>, n: &Node, x: Src, scale: Src, zp: Option<Src>) -> Result<Option<Src>> {
    let block = int(n, "block_size", 0)?;
    let (Some(q), Some(s)) = (ex.constant(x), ex.constant(scale)) else { return Ok(None) };
    let z = match zp {
        Some(z) => match ex.constant(z) {
            Some(z) => Some(z),
            None => return Ok(None),
        },
        None => None,
    };
    let &[rows, cols] = q.shape() else { return Ok(None) };
    if block <= 0 || !matches!(q.dtype(), DType::I4 | DType::U4 | DType::I8 | DType::U8) {
        return Ok(None);
    }
    let axis = int(n, "axis", 1)?;
    let axis = match axis {
        0 | -2 => 0,
        1 | -1 => 1,
        _ => return Ok(None),
    };
    let block = block as usize;
    let (k, m) = if axis == 0 { (rows, cols) } else { (cols, rows) };
    let groups = k.div_ceil(block);
    // Whole groups along the last axis: the constant is already in NNCF's layout.
    if axis == 1 && k % block == 0 {
        return Ok(None);
    }
    let sshape = if axis == 0 { [groups, m] } else { [m, groups] };
    if s.shape() != sshape || z.is_some_and(|z| z.shape() != sshape) {
        return Err(Error::invalid(format!(
            "{}: scales of shape {:?} do not fit blocks of {block} along axis {axis} of {:?}",
            n.describe(),
            s.shape(),
            q.shape()
        )));
    }
    let qv = int_values(q).ok_or_else(|| Error::invalid(format!("{}: unreadable quantized weight", n.describe())))?;
    let zv = match z {
        Some(z) => {
            Some(int_values(z).ok_or_else(|| Error::invalid(format!("{}: unreadable zero point", n.describe())))?)
        }
        None => None,
    };
    let sv = floats_of(s).ok_or_else(|| Error::invalid(format!("{}: unreadable scales", n.describe())))?;
    // Index of group `g` of row `r` (of the [M, G] layout) in the DQ's own layout.
    let p = |r: usize, g: usize| if axis == 0 { g * m + r } else { r * groups + g };
    let mut vals = Vec::with_capacity(m * groups * block);
    for r in 0..m {
        for g in 0..groups {
            for j in 0..block {
                let kk = g * block + j;
                vals.push(if kk >= k {
                    zv.as_ref().map_or(0, |z| z[p(r, g)])
                } else if axis == 0 {
                    qv[kk * m + r]
                } else {
                    qv[r * k + kk]
                });
            }
        }
    }
    let regroup = |v: &[f64]| -> Vec<f64> {
        (0..m).flat_map(|r| (0..groups).map(move |g| (r, g))).map(|(r, g)| v[p(r, g)]).collect()
    };
    let bad = |what: &str| Error::invalid(format!("{}: {what} out of range for its type", n.describe()));
    let qt = int_tensor(q.dtype(), vec![m, groups, block], &vals).ok_or_else(|| bad("weights"))?;
    let st = float_tensor(vec![m, groups, 1], &regroup(&sv), s.dtype())?;
    let zt = match (&zv, z) {
        (Some(zv), Some(z)) => {
            let zf: Vec<f64> = zv.iter().map(|&v| v as f64).collect();
            let zr: Vec<i64> = regroup(&zf).into_iter().map(|v| v as i64).collect();
            Some(int_tensor(z.dtype(), vec![m, groups, 1], &zr).ok_or_else(|| bad("zero points"))?)
        }
        _ => None,
    };
    let fdt = s.dtype();
    let base = n.input(0).unwrap_or("weight").to_string();
    let xq = ex.tensor(&format!("{base}/grouped"), qt)?;
    let mut y = convert(ex, xq, fdt);
    if let Some(zt) = zt {
        let zc = ex.tensor(&format!("{base}/zero_point_grouped"), zt)?;
        let zf = convert(ex, zc, fdt);
        y = binary(ex, "Subtract", y, zf);
    }
    let sc = ex.tensor(&format!("{base}/scale_grouped"), st)?;
    y = binary(ex, "Multiply", y, sc);
    ex.set(y, Some(fdt), Some(3));
    let target = ex.i64s(&[m as i64, (groups * block) as i64]);
    y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[y, target]);
    ex.set(y, Some(fdt), Some(2));
    if groups * block != k {
        let (b, e, st, ax) = (ex.i64s(&[0]), ex.i64s(&[k as i64]), ex.i64s(&[1]), ex.i64s(&[1]));
        y = ex.op("Slice", "opset8", &[], &[y, b, e, st, ax]);
        ex.set(y, Some(fdt), Some(2));
    }
    if axis == 0 {
        let order = ex.i64s(&[1, 0]);
        y = ex.op("Transpose", "opset1", &[], &[y, order]);
        ex.set(y, Some(fdt), Some(2));
    }
    Ok(Some(y))
}

fn dequantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let scale = ex.input(n, 1)?;
    let zp = ex.opt_input(n, 2)?;
    if let Some(y) = dequantize_grouped(ex, n, x, scale, zp)? {
        ex.bind(n, 0, y);
        return Ok(());
    }
    let fdt = ex.dtype(scale).unwrap_or(DType::F32);
    let l = layout(ex, n, x, scale)?;
    // Before split_blocks, which may reshape the constant in place.
    let r = ex.rank(x);
    let xb = split_blocks(ex, x, &l)?;
    let mut y = convert(ex, xb, fdt);
    if let Some(zp) = zp {
        let zp = align(ex, zp, &l)?;
        let zf = convert(ex, zp, fdt);
        y = binary(ex, "Subtract", y, zf);
    }
    let s = align(ex, scale, &l)?;
    y = binary(ex, "Multiply", y, s);
    if let Layout::Blocked { shape, .. } = &l {
        let back: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let target = ex.i64s(&back);
        y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[y, target]);
    }
    ex.set(y, Some(fdt), r);
    ex.bind(n, 0, y);
    Ok(())
}

/// The quantized dtype a QuantizeLinear produces.
fn q_dtype(ex: &Ex<'_>, n: &Node, zp: Option<Src>) -> DType {
    if let Some(z) = zp
        && let Some(d) = ex.dtype(z)
    {
        return d;
    }
    match n.attr("output_dtype").and_then(|a| a.as_int().ok()) {
        Some(code) => DType::from_onnx_code(code).unwrap_or(DType::U8),
        None => DType::U8,
    }
}

/// Per-element `(scale, zero point)` of constant parameters, if they are constants.
fn const_params(ex: &Ex<'_>, scale: Src, zp: Option<Src>) -> Option<(Vec<f64>, Vec<f64>, Vec<usize>)> {
    let s = floats_of(ex.constant(scale)?)?;
    let shape = ex.constant(scale)?.shape().to_vec();
    let z = match zp {
        Some(z) => ints_of(ex.constant(z)?)?.into_iter().map(|v| v as f64).collect(),
        None => vec![0.0; s.len()],
    };
    (z.len() == s.len()).then_some((s, z, shape))
}

fn quantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let scale = ex.input(n, 1)?;
    let zp = ex.opt_input(n, 2)?;
    let qd = q_dtype(ex, n, zp);
    let (qmin, qmax) =
        qrange(qd).ok_or_else(|| Error::invalid(format!("{}: cannot quantize to {qd}", n.describe())))?;
    let fdt = ex.dtype(x).unwrap_or(DType::F32);
    let l = layout(ex, n, x, scale)?;
    if matches!(l, Layout::Blocked { .. }) {
        return Err(super::unsupported_attr(n, "blocked QuantizeLinear"));
    }
    // A Q→DQ pair with the same constant parameters is one FakeQuantize.
    let q_out = n.output(0).unwrap_or_default();
    let g = ex.graph();
    let readers: Vec<&Node> = g.nodes.iter().filter(|m| m.inputs.iter().any(|i| i.as_deref() == Some(q_out))).collect();
    let pair = !readers.is_empty()
        && !g.outputs.iter().any(|o| o.name == q_out)
        && readers.iter().all(|m| {
            m.op == "DequantizeLinear"
                && m.input(0) == Some(q_out)
                && m.input(1) == n.input(1)
                && m.input(2).filter(|z| !z.is_empty()) == n.input(2).filter(|z| !z.is_empty())
                && m.attr("axis") == n.attr("axis")
        });
    if pair && let Some((s, z, shape)) = const_params(ex, scale, zp) {
        let lo: Vec<f32> = s.iter().zip(&z).map(|(s, z)| ((qmin - z) * s) as f32).collect();
        let hi: Vec<f32> = s.iter().zip(&z).map(|(s, z)| ((qmax - z) * s) as f32).collect();
        let mk = |ex: &mut Ex<'_>, v: Vec<f32>, what: &str| -> Result<Src> {
            let t = Tensor::from_vec(shape.clone(), v)?;
            let t = match fdt {
                DType::F32 => t,
                DType::F16 => {
                    let h: Vec<ir::f16> = t.as_slice::<f32>()?.iter().map(|&v| ir::f16::from_f32(v)).collect();
                    Tensor::from_vec(shape.clone(), h)?
                }
                d => return Err(Error::invalid(format!("{}: FakeQuantize of {d} input", n.describe()))),
            };
            let name = format!("{}/{what}", ex.base);
            let c = ex.tensor(&name, t)?;
            align(ex, c, &l)
        };
        let (il, ih) = (mk(ex, lo.clone(), "input_low")?, mk(ex, hi.clone(), "input_high")?);
        let (ol, oh) = (mk(ex, lo, "output_low")?, mk(ex, hi, "output_high")?);
        let levels = (qmax - qmin + 1.0) as i64;
        let y = ex.op(
            "FakeQuantize",
            "opset1",
            &[("levels", levels.to_string()), ("auto_broadcast", "numpy".into())],
            &[x, il, ih, ol, oh],
        );
        for m in readers {
            ex.bind(m, 0, y);
        }
        return Ok(());
    }
    // y = saturate(round_half_even(x / scale) + zero_point)
    let s = align(ex, scale, &l)?;
    let mut y = binary(ex, "Divide", x, s);
    y = ex.op("Round", "opset5", &[("mode", "half_to_even".into())], &[y]);
    if let Some(zp) = zp {
        let zp = align(ex, zp, &l)?;
        let zf = convert(ex, zp, fdt);
        y = binary(ex, "Add", y, zf);
    }
    y = ex.op("Clamp", "opset1", &[("min", super::float(qmin as f32)), ("max", super::float(qmax as f32))], &[y]);
    y = convert(ex, y, qd);
    ex.bind(n, 0, y);
    Ok(())
}

/// `DynamicQuantizeLinear` (ONNX: uint8, range widened to include 0):
/// `scale = (max(0, max x) - min(0, min x)) / 255`,
/// `zp = saturate(round_half_even(-min / scale))`,
/// `y = saturate(round_half_even(x / scale) + zp)`, all in f32 like the
/// ONNX reference, so the evaluator and OpenVINO agree bit for bit.
fn dynamic_quantize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let fdt = ex.dtype(x).unwrap_or(DType::F32);
    // Flattening first makes the reductions rank-agnostic: axis 0 of a 1-D view.
    let flat_shape = ex.i64s(&[-1]);
    let flat = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[x, flat_shape]);
    ex.set(flat, Some(fdt), Some(1));
    let axis = ex.i64s(&[0]);
    let keep = [("keep_dims", "false".to_string())];
    let lo = ex.op("ReduceMin", "opset1", &keep, &[flat, axis]);
    ex.set(lo, Some(fdt), Some(0));
    let hi = ex.op("ReduceMax", "opset1", &keep, &[flat, axis]);
    ex.set(hi, Some(fdt), Some(0));
    let zero = ex.scalar(0.0, Some(fdt))?;
    let lo = binary(ex, "Minimum", lo, zero);
    let hi = binary(ex, "Maximum", hi, zero);
    let range = binary(ex, "Subtract", hi, lo);
    let qmax = ex.scalar(255.0, Some(fdt))?;
    let scale = binary(ex, "Divide", range, qmax);
    // zp = round(clamp(0 - min/scale)); min <= 0, so the clamp only matters for NaN/inf.
    let neg = ex.op("Negative", "opset1", &[], &[lo]);
    let zf = binary(ex, "Divide", neg, scale);
    let zf = ex.op("Round", "opset5", &[("mode", "half_to_even".into())], &[zf]);
    let clamp = [("min", super::float(0.0)), ("max", super::float(255.0))];
    let zf = ex.op("Clamp", "opset1", &clamp, &[zf]);
    let zp = convert(ex, zf, DType::U8);
    let q = binary(ex, "Divide", x, scale);
    let q = ex.op("Round", "opset5", &[("mode", "half_to_even".into())], &[q]);
    let q = binary(ex, "Add", q, zf);
    let q = ex.op("Clamp", "opset1", &clamp, &[q]);
    let y = convert(ex, q, DType::U8);
    ex.bind(n, 0, y);
    ex.bind(n, 1, scale);
    ex.bind(n, 2, zp);
    Ok(())
}

/// An integer operand as f32 minus its (converted) zero point. `per_row`
/// marks `MatMulInteger`'s `a_zero_point`, which may be one value per row
/// of `a` (a 1-D `[M]`), so it is reshaped to `[M, 1]` to broadcast.
/// `channel_rank` marks `ConvInteger`'s `w_zero_point`, one value per
/// output channel (`[M]` → `[M, 1, …]`).
fn shifted(ex: &mut Ex<'_>, v: Src, zp: Option<Src>, per_row: bool, channel_rank: Option<usize>) -> Result<Src> {
    let r = ex.rank(v);
    let f = convert(ex, v, DType::F32);
    let Some(zp) = zp else { return Ok(f) };
    let many = ex.static_shape(zp).is_none_or(|s| s.iter().product::<usize>() > 1);
    let zp = if many && ex.rank(zp) == Some(1) && (per_row || channel_rank.is_some()) {
        let shape: Vec<i64> = match channel_rank {
            Some(rank) => std::iter::once(-1).chain(std::iter::repeat_n(1, rank.saturating_sub(1))).collect(),
            None => vec![-1, 1],
        };
        let target = ex.i64s(&shape);
        let d = ex.dtype(zp);
        let y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[zp, target]);
        ex.set(y, d, Some(shape.len()))
    } else {
        zp
    };
    let zf = convert(ex, zp, DType::F32);
    let y = binary(ex, "Subtract", f, zf);
    Ok(ex.set(y, Some(DType::F32), r))
}

/// `MatMulInteger` as `Convert → Subtract zero point → MatMul` in f32, then
/// `Convert` to i32. Exact while every partial sum stays below 2^24 in
/// magnitude (f32's integer range): |a - za|·|b - zb|·K < 2^24, i.e. K up
/// to 258 for full-range uint8 × int8 and far more for real activations;
/// past that the result may differ from integer accumulation by rounding.
fn matmul_integer(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let (za, zb) = (ex.opt_input(n, 2)?, ex.opt_input(n, 3)?);
    let ra = ex.rank(a);
    let rb = ex.rank(b);
    let rank = super::nn::matmul_rank(n, ra, rb)?;
    let af = shifted(ex, a, za, ra.is_some_and(|r| r >= 2), None)?;
    let bf = shifted(ex, b, zb, false, None)?;
    let y = ex.op("MatMul", "opset1", &[("transpose_a", "false".into()), ("transpose_b", "false".into())], &[af, bf]);
    ex.set(y, Some(DType::F32), rank);
    let y = convert(ex, y, DType::I32);
    ex.bind(n, 0, y);
    Ok(())
}

/// `ConvInteger` like [`matmul_integer`], with `Convolution` (same 2^24 bound
/// on each output's sum of products).
fn conv_integer(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, w) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let (zx, zw) = (ex.opt_input(n, 2)?, ex.opt_input(n, 3)?);
    let rw = ex.rank(w);
    let xf = shifted(ex, x, zx, false, None)?;
    let wf = shifted(ex, w, zw, false, rw)?;
    let (y, _) = super::nn::conv_layers(ex, n, xf, wf)?;
    let y = convert(ex, y, DType::I32);
    ex.bind(n, 0, y);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        onnx: "ConvInteger",
        openvino: "Convert-1, Subtract-1, Convolution-1 (f32), Convert-1 to i32",
        build: conv_integer,
    },
    Rule {
        onnx: "DynamicQuantizeLinear",
        openvino: "Reshape-1, ReduceMin-1, ReduceMax-1, Minimum-1, Maximum-1, Divide-1, Round-5, Add-1, Clamp-1, Convert-1",
        build: dynamic_quantize,
    },
    Rule {
        onnx: "MatMulInteger",
        openvino: "Convert-1, Subtract-1, MatMul-1 (f32), Convert-1 to i32",
        build: matmul_integer,
    },
    Rule {
        onnx: "DequantizeLinear",
        openvino: "Const → Convert-1 → [Subtract-1] → Multiply-1 [→ Reshape-1 for blocks]",
        build: dequantize,
    },
    Rule {
        onnx: "QuantizeLinear",
        openvino: "FakeQuantize-1 (Q→DQ pair) or Divide-1, Round-5, Add-1, Clamp-1, Convert-1",
        build: quantize,
    },
];
