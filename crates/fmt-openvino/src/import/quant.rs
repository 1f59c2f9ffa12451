//! Quantization patterns written by OpenVINO's tools, read as the IR's
//! quantization convention.
//!
//! Weight compression (NNCF, `ovc`): `Const(u8/i8/u4/i4) → Convert →
//! [Subtract zero point] → Multiply scale [→ Reshape]` becomes one
//! `DequantizeLinear` whose inputs are initializers: scalar, per-axis (1-D
//! scale with `axis`) or blocked (`block_size`, the `Reshape` form of
//! group-wise compression). `FakeQuantize` with equal input and output
//! ranges and 256 levels becomes `QuantizeLinear → DequantizeLinear`;
//! other `FakeQuantize`s are written out arithmetically.

use ir::{Attribute as A, DType, Result, Tensor};

use super::{Arity, Cx, ImportRule, port};
use crate::dtype::floats_of;
use crate::export::quant::{int_tensor, int_values};
use crate::xml::Layer;

/// `(layer, output port)` of the producer of input `i` of `l`.
fn src<'a>(cx: &Cx<'a>, l: &Layer, i: usize) -> Option<(&'a Layer, usize)> {
    cx.source(l, i)
}

/// The float constant behind a scale input: `Const` or `Convert(Const)`,
/// with the constant's value name when nothing else reads it (so the
/// rewritten scale can take its place and name).
fn float_const(cx: &Cx<'_>, l: &Layer, i: usize, want: DType) -> Option<(Tensor, Option<String>)> {
    let (p, port) = src(cx, l, i)?;
    let (c, cp, sole) = match p.kind.as_str() {
        "Const" => (p, port, cx.readers(p, port).len() == 1),
        "Convert" => {
            let (c, cp) = src(cx, p, 0)?;
            if c.kind != "Const" {
                return None;
            }
            (c, cp, cx.readers(p, port).len() == 1 && cx.readers(c, cp).len() == 1)
        }
        _ => return None,
    };
    let name = cx.value_of(c, cp)?.to_string();
    let t = cx.const_of(&name)?.clone();
    if !t.dtype().is_float() {
        return None;
    }
    let owned = sole.then_some(name);
    if t.dtype() == want {
        return Some((t, owned));
    }
    // Scales stored in f16 and converted: keep the arithmetic in `want`.
    let v = floats_of(&t)?;
    let shape = t.shape().to_vec();
    let t = match want {
        DType::F32 => Tensor::from_vec(shape, v.into_iter().map(|x| x as f32).collect()).ok(),
        DType::F16 => Tensor::from_vec(shape, v.into_iter().map(ir::f16::from_f64).collect()).ok(),
        _ => None,
    }?;
    Some((t, owned))
}

/// Stores a rewritten constant: in place of `owned` (a constant only the
/// pattern read) or under a fresh name.
fn put(cx: &mut Cx<'_>, owned: &Option<String>, base: &str, t: Tensor) -> String {
    match owned {
        Some(name) => {
            cx.b.set_initializer(name, t);
            name.clone()
        }
        None => cx.constant(base, t),
    }
}

/// The low-bit constant behind `Convert(Const)`, if input `i` of `l` is
/// one: its name, tensor, and whether only this pattern reads it.
fn int_const(cx: &Cx<'_>, l: &Layer, i: usize) -> Option<(String, Tensor, bool)> {
    let (conv, port) = src(cx, l, i)?;
    if conv.kind != "Convert" {
        return None;
    }
    let (c, cp) = src(cx, conv, 0)?;
    if c.kind != "Const" {
        return None;
    }
    let name = cx.value_of(c, cp)?.to_string();
    let t = cx.const_of(&name)?.clone();
    let sole = cx.readers(conv, port).len() == 1 && cx.readers(c, cp).len() == 1;
    matches!(t.dtype(), DType::U8 | DType::I8 | DType::U4 | DType::I4).then_some((name, t, sole))
}

/// A zero point given as `Const` or `Convert(Const)`, with the constant's
/// name when nothing else reads it.
fn zero_point(cx: &Cx<'_>, l: &Layer, i: usize) -> Option<(Tensor, Option<String>)> {
    let (p, port) = src(cx, l, i)?;
    let (c, cp, sole) = match p.kind.as_str() {
        "Const" => (p, port, cx.readers(p, port).len() == 1),
        "Convert" => {
            let (c, cp) = src(cx, p, 0).filter(|(c, _)| c.kind == "Const")?;
            (c, cp, cx.readers(p, port).len() == 1 && cx.readers(c, cp).len() == 1)
        }
        _ => return None,
    };
    let name = cx.value_of(c, cp)?.to_string();
    Some((cx.const_of(&name)?.clone(), sole.then_some(name)))
}

/// Zero-point values, from integer or integral float constants.
fn zp_values(t: &Tensor) -> Option<Vec<i64>> {
    if let Some(v) = int_values(t) {
        return Some(v);
    }
    let f = floats_of(t)?;
    f.iter().all(|x| x.fract() == 0.0).then(|| f.iter().map(|&x| x as i64).collect())
}

/// Where a parameter of `pshape` lines up against a tensor of `xshape`.
enum Fit {
    Scalar,
    Axis(usize),
}

fn fit(xshape: &[usize], pshape: &[usize]) -> Option<Fit> {
    let n: usize = pshape.iter().product();
    if n == 1 {
        return Some(Fit::Scalar);
    }
    let pad = xshape.len().checked_sub(pshape.len())?;
    let mut axis = None;
    for (i, &d) in pshape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        if xshape.get(pad + i) != Some(&d) || axis.is_some() {
            return None;
        }
        axis = Some(pad + i);
    }
    axis.map(Fit::Axis)
}

/// The `Convert` to f32 that is the only reader of `layer`'s output, if
/// any. OpenVINO's CPU plugin computes an f16 decompression followed by one
/// in f32 (the f16 is the weights' storage precision, not their arithmetic),
/// so the importer produces the f32 weights directly and absorbs the
/// `Convert`: the converted model then computes what OpenVINO computes
/// (rounding the dequantized weights to f16 first differs by about 3e-4).
fn f32_convert_after<'a>(cx: &Cx<'a>, layer: &Layer) -> Option<&'a Layer> {
    let readers = cx.readers(layer, 0);
    let [c] = readers.as_slice() else { return None };
    (c.kind == "Convert" && c.data.get("destination_type").map(String::as_str) == Some("f32")).then_some(*c)
}

/// `t` (f16 scales) as f32, exactly.
fn to_f32(cx: &Cx<'_>, l: &Layer, t: Tensor) -> Result<Tensor> {
    if t.dtype() == DType::F32 {
        return Ok(t);
    }
    let v: Vec<f32> = t.to_f64s().map_err(|e| cx.bad(l, e))?.into_iter().map(|x| x as f32).collect();
    Tensor::from_vec(t.shape().to_vec(), v).map_err(|e| cx.bad(l, e))
}

/// What follows the grouped `Reshape [M, G·B]` of a 2-D weight when the
/// exporter's exact forms for the general case are there: a `Slice` back to
/// K along axis 1 (K not a multiple of B) and/or a `Transpose [1, 0]` (the
/// weight is `[K, M]`, blocked along axis 0).
struct Tail<'a> {
    slice: Option<&'a Layer>,
    transpose: Option<&'a Layer>,
    k: usize,
}

/// Reads the `Slice`/`Transpose` after the grouped `Reshape` `r` (of `padded`
/// columns); `None` when neither is there (the plain NNCF form).
fn grouped_tail<'a>(cx: &Cx<'a>, r: &'a Layer, padded: usize) -> Option<Tail<'a>> {
    let ints = |l: &Layer, i: usize| {
        let (c, p) = cx.source(l, i)?;
        cx.const_ints(cx.value_of(c, p)?)
    };
    let mut last = r;
    let mut tail = Tail { slice: None, transpose: None, k: padded };
    if let [sl] = cx.readers(last, 0).as_slice()
        && sl.kind == "Slice"
        && sl.inputs.len() == 5
        && ints(sl, 1)? == [0]
        && ints(sl, 3)? == [1]
        && matches!(ints(sl, 4)?.as_slice(), [1] | [-1])
        && let [stop] = ints(sl, 2)?.as_slice()
        && let Ok(k) = usize::try_from(*stop)
        && k > 0
        && k < padded
    {
        tail.slice = Some(*sl);
        tail.k = k;
        last = *sl;
    }
    if let [t] = cx.readers(last, 0).as_slice()
        && t.kind == "Transpose"
        && ints(t, 1)? == [1, 0]
    {
        tail.transpose = Some(*t);
    }
    (tail.slice.is_some() || tail.transpose.is_some()).then_some(tail)
}

/// Zero-point values with their constant's shape.
type ZeroPoints = (Vec<i64>, Vec<usize>);

/// Emits the DQ of a 2-D grouped weight read with a [`Tail`]: integers
/// `[M, G, B]` cut to `[M, K]` (transposed to `[K, M]` after a `Transpose`,
/// blocks then along axis 0), scales and zero points `[M, G]` (or `[G, M]`).
#[allow(clippy::too_many_arguments)]
fn grouped_2d(
    cx: &mut Cx<'_>,
    r: &Layer,
    tail: Tail<'_>,
    (x, x_owned): (Tensor, Option<String>),
    (scale, s_owned): (Tensor, Option<String>),
    zp: Option<(ZeroPoints, Option<String>)>,
    out_dtype: DType,
    block: usize,
) -> Result<()> {
    let last = tail.transpose.or(tail.slice).unwrap_or(r);
    let Some(last_out) = cx.value_of(last, 0).map(str::to_string) else {
        return Err(cx.bad(last, "output has no name"));
    };
    let bad = |cx: &Cx<'_>, what: &str| cx.bad(r, format!("grouped weight: {what}"));
    let &[m, groups, _] = x.shape() else { return Err(bad(cx, "not [M, G, B]")) };
    let k = tail.k;
    let t = tail.transpose.is_some();
    let q = int_values(&x).ok_or_else(|| bad(cx, "unreadable integers"))?;
    // Element `i` of the emitted tensor, from `v` in the stored layout.
    let pick = |v: &[i64], n: usize, at: &dyn Fn(usize) -> usize| -> Option<Vec<i64>> {
        (0..n).map(|i| v.get(at(i)).copied()).collect()
    };
    let cut = if t {
        pick(&q, k * m, &|i| (i % m) * groups * block + i / m)
    } else {
        pick(&q, m * k, &|i| (i / k) * groups * block + i % k)
    }
    .ok_or_else(|| bad(cx, "fewer integers than its shape"))?;
    let shape = if t { vec![k, m] } else { vec![m, k] };
    let gshape = if t { vec![groups, m] } else { vec![m, groups] };
    // [M, G] values in the emitted layout.
    let regroup = |v: &[f64]| -> Option<Vec<f64>> {
        if t { (0..groups * m).map(|i| v.get((i % m) * groups + i / m).copied()).collect() } else { Some(v.to_vec()) }
    };
    let xt = int_tensor(x.dtype(), shape, &cut).ok_or_else(|| bad(cx, "integers out of range"))?;
    let convert = (out_dtype == DType::F16).then(|| f32_convert_after(cx, last)).flatten();
    let (out, out_dtype) = match convert.and_then(|c| cx.value_of(c, 0)) {
        Some(c_out) => (c_out.to_string(), DType::F32),
        None => (last_out, out_dtype),
    };
    let sv = floats_of(&scale).ok_or_else(|| bad(cx, "unreadable scales"))?;
    let sv = regroup(&sv).ok_or_else(|| bad(cx, "fewer scales than groups"))?;
    let st = match out_dtype {
        DType::F16 => Tensor::from_vec(gshape.clone(), sv.iter().map(|&v| ir::f16::from_f64(v)).collect()),
        _ => Tensor::from_vec(gshape.clone(), sv.iter().map(|&v| v as f32).collect()),
    }
    .map_err(|e| cx.bad(r, e))?;
    let base = cx.current.clone();
    let xn = put(cx, &x_owned, &format!("{base}/weight"), xt);
    let sn = put(cx, &s_owned, &format!("{base}/scale"), st);
    let mut inputs = vec![Some(xn), Some(sn)];
    if let Some(((z, _), z_owned)) = zp {
        let zf: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        let zr: Vec<i64> = regroup(&zf)
            .ok_or_else(|| bad(cx, "fewer zero points than groups"))?
            .into_iter()
            .map(|v| v as i64)
            .collect();
        let zt = int_tensor(x.dtype(), gshape, &zr).ok_or_else(|| bad(cx, "zero points out of range"))?;
        inputs.push(Some(put(cx, &z_owned, &format!("{base}/zero_point"), zt)));
    }
    let attrs = vec![("axis", A::Int(if t { 0 } else { 1 })), ("block_size", A::Int(block as i64))];
    let outs = [out];
    cx.emit(last, "DequantizeLinear", inputs, &outs, attrs);
    cx.dtypes_set(&outs, out_dtype);
    for l in [Some(r), tail.slice, tail.transpose, convert].into_iter().flatten() {
        cx.mark_done(l);
    }
    Ok(())
}

/// Recognises the weight-decompression pattern ending at `l` and emits a
/// `DequantizeLinear` for it. Returns whether it did.
pub(crate) fn try_decompression(cx: &mut Cx<'_>, l: &Layer, outs: &[String]) -> Result<bool> {
    if l.kind != "Multiply" || l.inputs.len() != 2 {
        return Ok(false);
    }
    let Some(out_dtype) = outs.first().and_then(|o| cx.dtype(o)).filter(|d| matches!(d, DType::F32 | DType::F16))
    else {
        return Ok(false);
    };
    // Which side is the scale, which the (shifted) integers.
    let mut found = None;
    for (data, scale) in [(0usize, 1usize), (1, 0)] {
        let Some((s, s_owned)) = float_const(cx, l, scale, out_dtype) else { continue };
        let Some((p, _)) = src(cx, l, data) else { continue };
        if let Some(xc) = int_const(cx, l, data) {
            found = Some((xc, s, s_owned, None));
            break;
        }
        if p.kind == "Subtract"
            && let Some(xc) = int_const(cx, p, 0)
            && let Some(z) = zero_point(cx, p, 1)
        {
            found = Some((xc, s, s_owned, Some(z)));
            break;
        }
    }
    let Some(((x_name, x, x_sole), scale, s_owned, zp)) = found else { return Ok(false) };
    let x_owned = x_sole.then(|| x_name.clone());
    let z_owned = zp.as_ref().and_then(|z| z.1.clone());
    let zp = zp.map(|z| z.0);
    let xshape = x.shape().to_vec();
    let sshape = scale.shape().to_vec();
    let zvals = match &zp {
        Some(z) => match zp_values(z) {
            Some(v) => Some((v, z.shape().to_vec())),
            None => return Ok(false),
        },
        None => None,
    };
    let base = cx.current.clone();
    // Group-wise: [.., G, B] weights, [.., G, 1] scales, then a Reshape merging G·B.
    let readers = cx.readers(l, 0);
    let rank = xshape.len();
    if let [r] = readers.as_slice()
        && r.kind == "Reshape"
        && let Some((&block, groups_shape)) = xshape.split_last()
        && let Some((&groups, outer)) = groups_shape.split_last()
        && let Some((&1, sgroups)) = sshape.split_last()
        && sgroups == groups_shape
        && zvals.as_ref().is_none_or(|(_, zs)| *zs == sshape)
    {
        let r = *r;
        let mut merged: Vec<usize> = outer.to_vec();
        merged.push(groups * block);
        let target = cx.source(r, 1).and_then(|(c, p)| cx.value_of(c, p).map(str::to_string));
        let target_ok = target.and_then(|t| cx.const_ints(&t)).is_some_and(|t| {
            t.len() == merged.len() && t.iter().zip(&merged).all(|(&a, &b)| a == b as i64 || (a == -1))
        });
        let tail = if outer.len() == 1 { grouped_tail(cx, r, groups * block) } else { None };
        if let Some(tail) = tail
            && target_ok
        {
            return grouped_2d(
                cx,
                r,
                tail,
                (x, x_owned),
                (scale, s_owned),
                zvals.map(|z| (z, z_owned)),
                out_dtype,
                block,
            )
            .map(|()| true);
        }
        if target_ok && let Some(r_out) = cx.value_of(r, 0).map(str::to_string) {
            let convert = (out_dtype == DType::F16).then(|| f32_convert_after(cx, r)).flatten();
            let (r_out, out_dtype) = match convert.and_then(|c| cx.value_of(c, 0)) {
                Some(c_out) => (c_out.to_string(), DType::F32),
                None => (r_out, out_dtype),
            };
            let gshape: Vec<usize> = sgroups.to_vec();
            let xr = x.reshaped(merged).map_err(|e| cx.bad(l, e))?;
            let mut sr = scale.reshaped(gshape.clone()).map_err(|e| cx.bad(l, e))?;
            if out_dtype == DType::F32 {
                sr = to_f32(cx, l, sr)?;
            }
            let xn = put(cx, &x_owned, &x_name, xr);
            let sn = put(cx, &s_owned, &format!("{base}/scale"), sr);
            let mut inputs = vec![Some(xn), Some(sn)];
            if let Some((z, _)) = &zvals {
                let Some(zt) = int_tensor(x.dtype(), gshape, z) else { return Ok(false) };
                inputs.push(Some(put(cx, &z_owned, &format!("{base}/zero_point"), zt)));
            }
            let attrs = vec![("axis", A::Int(rank as i64 - 2)), ("block_size", A::Int(block as i64))];
            // Named after the Reshape, whose output it produces.
            cx.emit(r, "DequantizeLinear", inputs, std::slice::from_ref(&r_out), attrs);
            cx.dtypes_set(&[r_out], out_dtype);
            cx.mark_done(r);
            if let Some(c) = convert {
                cx.mark_done(c);
            }
            return Ok(true);
        }
    }
    let Some(sfit) = fit(&xshape, &sshape) else { return Ok(false) };
    let (scale_t, zp_t, attrs) = match sfit {
        Fit::Scalar => {
            let s = scale.reshaped(vec![]).map_err(|e| cx.bad(l, e))?;
            let z = match &zvals {
                Some((z, _)) if z.len() == 1 => match int_tensor(x.dtype(), vec![], z) {
                    Some(t) => Some(t),
                    None => return Ok(false),
                },
                Some(_) => return Ok(false),
                None => None,
            };
            (s, z, vec![])
        }
        Fit::Axis(axis) => {
            let Some(&c) = xshape.get(axis) else { return Ok(false) };
            let s = scale.reshaped(vec![c]).map_err(|e| cx.bad(l, e))?;
            let z = match &zvals {
                Some((z, zs)) => {
                    let vals: Vec<i64> = if let [z0] = z.as_slice() {
                        vec![*z0; c]
                    } else if matches!(fit(&xshape, zs), Some(Fit::Axis(a)) if a == axis) {
                        z.clone()
                    } else {
                        return Ok(false);
                    };
                    match int_tensor(x.dtype(), vec![c], &vals) {
                        Some(t) => Some(t),
                        None => return Ok(false),
                    }
                }
                None => None,
            };
            (s, z, vec![("axis", A::Int(axis as i64))])
        }
    };
    let convert = (out_dtype == DType::F16).then(|| f32_convert_after(cx, l)).flatten();
    let converted: Option<(String, &Layer)> = convert.and_then(|c| Some((cx.value_of(c, 0)?.to_string(), c)));
    let scale_t = if converted.is_some() { to_f32(cx, l, scale_t)? } else { scale_t };
    let sn = put(cx, &s_owned, &format!("{base}/scale"), scale_t);
    let mut inputs = vec![Some(x_name), Some(sn)];
    if let Some(z) = zp_t {
        inputs.push(Some(put(cx, &z_owned, &format!("{base}/zero_point"), z)));
    }
    match converted {
        Some((c_out, c)) => {
            let c_outs = [c_out];
            cx.emit(l, "DequantizeLinear", inputs, &c_outs, attrs);
            cx.dtypes_set(&c_outs, DType::F32);
            cx.mark_done(c);
        }
        None => {
            cx.emit(l, "DequantizeLinear", inputs, outs, attrs);
            cx.dtypes_set(outs, out_dtype);
        }
    }
    Ok(true)
}

/// `FakeQuantize`: a Q/DQ pair when it is exactly 8-bit affine quantization,
/// arithmetic otherwise.
fn fake_quantize(cx: &mut Cx<'_>, l: &Layer, ins: &[String], outs: &[String]) -> Result<()> {
    let levels = cx.int_attr(l, "levels", 256)?;
    if levels < 2 {
        return Err(cx.bad(l, format!("levels={levels} must be at least 2")));
    }
    let consts: Option<Vec<Tensor>> =
        ins.get(1..5).unwrap_or_default().iter().map(|v| cx.const_of(v).cloned()).collect();
    if let Some([in_lo, in_hi, out_lo, out_hi]) = consts.as_deref()
        && levels == 256
        && in_lo == out_lo
        && in_hi == out_hi
        && let (Some(lo), Some(hi)) = (floats_of(in_lo), floats_of(in_hi))
        && lo.len() == hi.len()
        && let Some(xr) = cx.rank(port(ins, 0)?)
    {
        let pshape = in_lo.shape().to_vec();
        let mut xshape = vec![0usize; xr];
        let pad = xr.saturating_sub(pshape.len());
        for (i, &d) in pshape.iter().enumerate() {
            if let Some(slot) = xshape.get_mut(pad + i) {
                *slot = d;
            }
        }
        let scale: Vec<f64> = lo.iter().zip(&hi).map(|(l, h)| (h - l) / 255.0).collect();
        let zps: Vec<f64> = lo.iter().zip(&scale).map(|(l, s)| -l / s).collect();
        let integral = zps.iter().all(|z| (z - z.round()).abs() < 1e-3 && z.round() >= 0.0 && z.round() <= 255.0);
        let positive = scale.iter().all(|&s| s > 0.0 && s.is_finite());
        let layout = if lo.len() == 1 {
            Some(None)
        } else {
            // One non-1 dimension: per-axis.
            let axes: Vec<usize> = pshape.iter().enumerate().filter(|(_, d)| **d != 1).map(|(i, _)| pad + i).collect();
            match axes.as_slice() {
                [axis] if pshape.len() <= xr => Some(Some(*axis)),
                _ => None,
            }
        };
        if integral
            && positive
            && let Some(axis) = layout
        {
            let n = scale.len();
            let shape = if axis.is_some() { vec![n] } else { vec![] };
            let d = cx.dtype(port(ins, 0)?).unwrap_or(DType::F32);
            let s_t = match d {
                DType::F16 => Tensor::from_vec(shape.clone(), scale.iter().map(|&s| ir::f16::from_f64(s)).collect()),
                _ => Tensor::from_vec(shape.clone(), scale.iter().map(|&s| s as f32).collect()),
            }
            .map_err(|e| cx.bad(l, e))?;
            let z_t =
                Tensor::from_vec(shape, zps.iter().map(|z| z.round() as u8).collect()).map_err(|e| cx.bad(l, e))?;
            let base = cx.current.clone();
            let s = cx.constant(&format!("{base}/scale"), s_t);
            let z = cx.constant(&format!("{base}/zero_point"), z_t);
            let attrs: Vec<(&str, A)> = axis.map(|a| vec![("axis", A::Int(a as i64))]).unwrap_or_default();
            let q = cx.b.fresh_value(&format!("{base}/quantized"));
            let qn = cx.b.fresh_node(&format!("{base}/QuantizeLinear"));
            let mut node =
                ir::Node::new("QuantizeLinear", [port(ins, 0)?.clone(), s.clone(), z.clone()], [q.clone()]).named(qn);
            for (k, v) in attrs.clone() {
                node.attrs.insert(k.to_string(), v);
            }
            cx.b.add_node(node, Some(DType::U8));
            cx.emit(l, "DequantizeLinear", vec![Some(q), Some(s), Some(z)], outs, attrs);
            return Ok(());
        }
    }
    // y = round((clamp(x, il, ih) - il) / (ih - il) · (L-1)) / (L-1) · (oh - ol) + ol
    let (x, il, ih, ol, oh) = (port(ins, 0)?, port(ins, 1)?, port(ins, 2)?, port(ins, 3)?, port(ins, 4)?);
    let d = cx.dtype(x);
    let lo = cx.helper("Max", &[x, il], vec![], d);
    let c = cx.helper("Min", &[&lo, ih], vec![], d);
    let shifted = cx.helper("Sub", &[&c, il], vec![], d);
    let range_in = cx.helper("Sub", &[ih, il], vec![], d);
    let unit = cx.helper("Div", &[&shifted, &range_in], vec![], d);
    let steps =
        cx.b.scalar(&format!("{}/levels", l.name), (levels - 1) as f64, d.unwrap_or(DType::F32))
            .map_err(|e| cx.bad(l, e))?;
    let scaled = cx.helper("Mul", &[&unit, &steps], vec![], d);
    let rounded = cx.helper("Round", &[&scaled], vec![], d);
    let unit_q = cx.helper("Div", &[&rounded, &steps], vec![], d);
    let range_out = cx.helper("Sub", &[oh, ol], vec![], d);
    let y = cx.helper("Mul", &[&unit_q, &range_out], vec![], d);
    cx.emit(l, "Add", vec![Some(y), Some(ol.clone())], outs, vec![]);
    Ok(())
}

/// This family's rules (the decompression pattern is matched before any rule).
pub(crate) const RULES: &[ImportRule] = &[ImportRule::new(
    "FakeQuantize",
    "QuantizeLinear + DequantizeLinear (or arithmetic)",
    Arity::ins(5),
    fake_quantize,
)];
