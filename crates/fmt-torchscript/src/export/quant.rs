//! Quantization ops as float arithmetic on the stored integers:
//! `DequantizeLinear` (per tensor or per axis; int8/uint8 weights stay
//! int8/uint8 attributes, so the archive keeps their size),
//! `QuantizeLinear`, `DynamicQuantizeLinear` and `MatMulInteger`.

use ir::{DType, Node};

use super::math::{attr_i, code};
use super::{Emitted, Gen, Rule, assign};

/// Input `i` (a scale or zero point) reshaped to broadcast along `axis` of
/// input 0 when it is a vector.
fn along_axis(g: &Gen, n: &Node, i: usize) -> Result<Option<String>, String> {
    let Some(e) = g.opt(n, i) else { return Ok(None) };
    let block = attr_i(n, "block_size", 0)?;
    if block > 0 {
        // Blocked: each scale covers `block` consecutive elements along the axis (the last block may be short).
        let axis = attr_i(n, "axis", 1)?;
        let x = g.inp(n, 0)?;
        return Ok(Some(format!(
            "torch.slice(torch.repeat_interleave({e}, {block}, {axis}), {axis}, 0, {x}.size({axis}))"
        )));
    }
    // One element broadcasts as it is, whatever the axis.
    if g.rank(n, i) == Some(0) || g.dims(n, i).is_some_and(|d| d.len() == 1 && d[0] == Some(1)) {
        return Ok(Some(e));
    }
    let r = g.rank(n, 0).ok_or("rank of the quantized tensor unknown")? as i64;
    let mut axis = attr_i(n, "axis", 1)?;
    if axis < 0 {
        axis += r;
    }
    if g.rank(n, i) != Some(1) {
        return Err("blocked quantization".into());
    }
    let trailing = r - 1 - axis;
    if trailing < 0 {
        return Err(format!("axis {axis} out of range for rank {r}"));
    }
    if trailing == 0 {
        return Ok(Some(e));
    }
    let mut shape = vec!["-1".to_string()];
    shape.extend(std::iter::repeat_n("1".to_string(), trailing as usize));
    Ok(Some(format!("torch.reshape({e}, [{}])", shape.join(", "))))
}

fn dequantize(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let s = along_axis(g, n, 1)?.ok_or("scale missing")?;
    let mut e = format!("torch.to({}, 6)", g.inp(n, 0)?);
    if let Some(zp) = along_axis(g, n, 2)? {
        e = format!("torch.sub({e}, torch.to({zp}, 6))");
    }
    e = format!("torch.mul({e}, {s})");
    match g.dtype(n, 1) {
        Some(DType::F32) | None => {}
        Some(d) => e = format!("torch.to({e}, {})", code(d)?),
    }
    assign(outs, e)
}

/// The saturation range of an integer dtype torch can quantize into.
fn int_range(d: DType) -> Result<(i64, i64), String> {
    match d {
        DType::U8 | DType::I8 | DType::U16 | DType::I16 | DType::I32 => {
            d.int_range().ok_or_else(|| format!("quantizing to {d}"))
        }
        d => Err(format!("quantizing to {d}")),
    }
}

fn quantize(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let d = match (g.dtype(n, 2), attr_i(n, "output_dtype", 0)?) {
        (Some(d), _) => d,
        (None, 0) => DType::U8,
        (None, c) => DType::from_onnx_code(c).ok_or("unknown output_dtype")?,
    };
    let (lo, hi) = int_range(d)?;
    let s = along_axis(g, n, 1)?.ok_or("scale missing")?;
    let mut e = format!("torch.round(torch.div({}, {s}))", g.inp(n, 0)?);
    if let Some(zp) = along_axis(g, n, 2)? {
        e = format!("torch.add({e}, torch.to({zp}, 6))");
    }
    assign(outs, format!("torch.to(torch.clamp({e}, {lo}, {hi}), {})", code(d)?))
}

fn dynamic_quantize(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let (lo, hi) = (g.fresh("qmin"), g.fresh("qmax"));
    let zp = g.fresh("zero_point");
    let [y, s, z] = outs else { return Err("three outputs expected".into()) };
    // The range always includes 0, as ONNX requires; uint8 asymmetric.
    Ok(vec![
        format!("{lo} = torch.clamp(torch.min({x}), None, 0.)"),
        format!("{hi} = torch.clamp(torch.max({x}), 0., None)"),
        format!("{s} = torch.div(torch.sub({hi}, {lo}), 255.)"),
        format!("{zp} = torch.clamp(torch.round(torch.neg(torch.div({lo}, {s}))), 0., 255.)"),
        format!("{y} = torch.to(torch.clamp(torch.add(torch.round(torch.div({x}, {s})), {zp}), 0., 255.), 0)"),
        format!("{z} = torch.to({zp}, 0)"),
    ])
}

fn matmul_integer(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    // In float64 every product sum of 8-bit values is exact; torch has no int32 CPU matmul for all builds.
    let side = |i: usize, zp: usize| -> Result<String, String> {
        let v = format!("torch.to({}, 7)", g.inp(n, i)?);
        Ok(match g.opt(n, zp) {
            Some(z) if i == 0 && g.rank(n, zp) == Some(1) => {
                format!("torch.sub({v}, torch.unsqueeze(torch.to({z}, 7), -1))")
            }
            Some(z) => format!("torch.sub({v}, torch.to({z}, 7))"),
            None => v,
        })
    };
    let (a, b) = (side(0, 2)?, side(1, 3)?);
    assign(outs, format!("torch.to(torch.matmul({a}, {b}), 3)"))
}

fn conv_integer(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let k = g.rank(n, 1).and_then(|r| r.checked_sub(2)).filter(|k| (1..=3).contains(k)).ok_or("weight rank unknown")?;
    let pads = super::math::attr_is(n, "pads")?.unwrap_or_else(|| vec![0; 2 * k]);
    if pads.len() != 2 * k || (0..k).any(|i| pads[i] != pads[i + k]) || n.attr("auto_pad").is_some() {
        return Err("asymmetric pads or auto_pad".into());
    }
    let ones = vec![1; k];
    let strides = super::math::attr_is(n, "strides")?.unwrap_or_else(|| ones.clone());
    let dil = super::math::attr_is(n, "dilations")?.unwrap_or(ones);
    // The zero point is subtracted before padding, so padded zeros stay zeros (ONNX pads x - x_zero_point).
    let x = match g.opt(n, 2) {
        Some(z) => format!("torch.sub(torch.to({}, 7), torch.to({z}, 7))", g.inp(n, 0)?),
        None => format!("torch.to({}, 7)", g.inp(n, 0)?),
    };
    let w = match per_channel(g, n, 3, 1)? {
        Some(z) => format!("torch.sub(torch.to({}, 7), torch.to({z}, 7))", g.inp(n, 1)?),
        None => format!("torch.to({}, 7)", g.inp(n, 1)?),
    };
    let il = super::int_list;
    assign(
        outs,
        format!(
            "torch.to(torch.conv{k}d({x}, {w}, None, {}, {}, {}, {}), 3)",
            il(&strides),
            il(&pads[..k]),
            il(&dil),
            attr_i(n, "group", 1)?
        ),
    )
}

/// Input `i` (a zero point per output channel, axis 0) shaped to broadcast over input `of`.
fn per_channel(g: &Gen, n: &Node, i: usize, of: usize) -> Result<Option<String>, String> {
    let Some(e) = g.opt(n, i) else { return Ok(None) };
    if g.rank(n, i) != Some(1) || g.dims(n, i).is_some_and(|d| d == [Some(1)]) {
        return Ok(Some(e));
    }
    let r = g.rank(n, of).ok_or("rank unknown")?;
    let mut shape = vec!["-1".to_string()];
    shape.extend(std::iter::repeat_n("1".to_string(), r.saturating_sub(1)));
    Ok(Some(format!("torch.reshape({e}, [{}])", shape.join(", "))))
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        op: "DequantizeLinear",
        torch: "(x.float() - zero_point) * scale",
        note: "per tensor, per axis and blocked (`block_size`); int8/uint8/int32 inputs, int4/uint4 weights unpacked from their bytes in `forward`",
        emit: dequantize,
    },
    Rule {
        op: "QuantizeLinear",
        torch: "torch.clamp(torch.round(x / scale) + zero_point).to(dtype)",
        note: "per tensor, per axis and blocked; uint8, int8, uint16, int16 (`output_dtype`)",
        emit: quantize,
    },
    Rule {
        op: "DynamicQuantizeLinear",
        torch: "min/max range, scale, zero point, then as QuantizeLinear",
        note: "six statements (uint8 asymmetric)",
        emit: dynamic_quantize,
    },
    Rule {
        op: "ConvInteger",
        torch: "torch.conv*d in float64, to int32",
        note: "zero points per tensor (x) and per tensor or output channel (w); symmetric pads",
        emit: conv_integer,
    },
    Rule {
        op: "MatMulInteger",
        torch: "torch.matmul in float64, to int32",
        note: "zero points per tensor, per row of A or column of B",
        emit: matmul_integer,
    },
];
