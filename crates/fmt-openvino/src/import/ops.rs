//! The OpenVINO layer types this importer reads, one rule each.
//!
//! OpenVINO takes most parameters as inputs (axes, shapes, bounds), as
//! ONNX does since opsets 13–18; attributes that are inputs in one format
//! and attributes in the other need constant inputs. Ops ONNX lacks
//! (`MVN`, `Swish`, `SquaredDifference`, `ScaledDotProductAttention`, ...)
//! become small subgraphs with the same results.

use ir::{Attribute as A, DType, Node, Result, Tensor};

use super::{Cx, ImportRule};
use crate::xml::Layer;

type Ins<'a> = &'a [String];

fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn same(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    if let Some(b) = l.attr("auto_broadcast")
        && b != "numpy"
        && b != "none"
    {
        return Err(cx.bad(l, format!("auto_broadcast='{b}' is not supported")));
    }
    cx.emit(l, op, ins.iter().map(|s| some(s)).collect(), outs, vec![]);
    Ok(())
}

fn float_zero(cx: &mut Cx<'_>, like: &str, v: f64) -> Result<String> {
    let d = cx.dtype(like).unwrap_or(DType::F32);
    let t = crate::export::scalar_tensor(v, d)?;
    let base = format!("{}/const", cx.current);
    Ok(cx.constant(&base, t))
}

fn divide(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let python = cx.bool_attr(l, "m_pythondiv", true)?;
    let d = cx.dtype(&ins[0]);
    if python && d.is_some_and(DType::is_int) {
        // Floor division of integers: divide in f64, floor, cast back.
        let code = onnx_code(d.unwrap_or(DType::I64));
        let a = cx.helper("Cast", &[&ins[0]], vec![("to", A::Int(11))], Some(DType::F64));
        let b = cx.helper("Cast", &[&ins[1]], vec![("to", A::Int(11))], Some(DType::F64));
        let q = cx.helper("Div", &[&a, &b], vec![], Some(DType::F64));
        let f = cx.helper("Floor", &[&q], vec![], Some(DType::F64));
        cx.emit(l, "Cast", vec![Some(f)], outs, vec![("to", A::Int(code))]);
        return Ok(());
    }
    same(cx, l, ins, outs, "Div")
}

/// ONNX `TensorProto.DataType` of a dtype.
pub(crate) fn onnx_code(d: DType) -> i64 {
    match d {
        DType::F32 => 1,
        DType::U8 => 2,
        DType::I8 => 3,
        DType::U16 => 4,
        DType::I16 => 5,
        DType::I32 => 6,
        DType::I64 => 7,
        DType::Bool => 9,
        DType::F16 => 10,
        DType::F64 => 11,
        DType::U32 => 12,
        DType::U64 => 13,
        DType::BF16 => 16,
        DType::F8E4M3FN => 17,
        DType::F8E5M2 => 19,
        DType::U4 => 21,
        DType::I4 => 22,
        _ => 0,
    }
}

fn floor_mod(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.dtype(&ins[0]).is_some_and(DType::is_float) {
        // ONNX's float Mod is fmod only; floor modulo is a - floor(a/b)·b.
        let q = cx.helper("Div", &[&ins[0], &ins[1]], vec![], None);
        let f = cx.helper("Floor", &[&q], vec![], None);
        let p = cx.helper("Mul", &[&f, &ins[1]], vec![], None);
        cx.emit(l, "Sub", vec![some(&ins[0]), Some(p)], outs, vec![]);
        return Ok(());
    }
    cx.emit(l, "Mod", vec![some(&ins[0]), some(&ins[1])], outs, vec![("fmod", A::Int(0))]);
    Ok(())
}

fn truncated_mod(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    cx.emit(l, "Mod", vec![some(&ins[0]), some(&ins[1])], outs, vec![("fmod", A::Int(1))]);
    Ok(())
}

fn squared_difference(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let d = cx.helper("Sub", &[&ins[0], &ins[1]], vec![], None);
    cx.emit(l, "Mul", vec![Some(d.clone()), Some(d)], outs, vec![]);
    Ok(())
}

fn not_equal(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let e = cx.helper("Equal", &[&ins[0], &ins[1]], vec![], Some(DType::Bool));
    cx.emit(l, "Not", vec![Some(e)], outs, vec![]);
    Ok(())
}

fn round(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match l.attr("mode").unwrap_or("half_to_even") {
        "half_to_even" => same(cx, l, ins, outs, "Round"),
        "half_away_from_zero" => {
            let a = cx.helper("Abs", &[&ins[0]], vec![], None);
            let half = float_zero(cx, &ins[0], 0.5)?;
            let s = cx.helper("Add", &[&a, &half], vec![], None);
            let f = cx.helper("Floor", &[&s], vec![], None);
            let sign = cx.helper("Sign", &[&ins[0]], vec![], None);
            cx.emit(l, "Mul", vec![Some(f), Some(sign)], outs, vec![]);
            Ok(())
        }
        m => Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    }
}

fn scalar_value(cx: &Cx<'_>, l: &Layer, v: &str) -> Result<f32> {
    cx.const_of(v)
        .and_then(crate::export::floats_of)
        .and_then(|v| v.first().copied())
        .map(|v| v as f32)
        .ok_or_else(|| cx.bad(l, "this parameter must be a constant"))
}

fn hard_sigmoid(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = scalar_value(cx, l, &ins[1])?;
    let beta = scalar_value(cx, l, &ins[2])?;
    cx.emit(l, "HardSigmoid", vec![some(&ins[0])], outs, vec![("alpha", A::Float(alpha)), ("beta", A::Float(beta))]);
    Ok(())
}

fn selu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = scalar_value(cx, l, &ins[1])?;
    let gamma = scalar_value(cx, l, &ins[2])?;
    cx.emit(l, "Selu", vec![some(&ins[0])], outs, vec![("alpha", A::Float(alpha)), ("gamma", A::Float(gamma))]);
    Ok(())
}

fn elu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let alpha = cx.float_attr(l, "alpha", 1.0)?;
    cx.emit(l, "Elu", vec![some(&ins[0])], outs, vec![("alpha", A::Float(alpha))]);
    Ok(())
}

fn gelu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mode = match l.attr("approximation_mode").unwrap_or("ERF").to_ascii_uppercase().as_str() {
        "ERF" => "none",
        "TANH" => "tanh",
        m => return Err(cx.bad(l, format!("approximation_mode='{m}' is not supported"))),
    };
    cx.emit(l, "Gelu", vec![some(&ins[0])], outs, vec![("approximate", A::String(mode.into()))]);
    Ok(())
}

fn swish(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let x = &ins[0];
    let arg = match ins.get(1) {
        Some(beta) => cx.helper("Mul", &[x, beta], vec![], None),
        None => x.clone(),
    };
    let s = cx.helper("Sigmoid", &[&arg], vec![], None);
    cx.emit(l, "Mul", vec![some(x), Some(s)], outs, vec![]);
    Ok(())
}

fn hsigmoid(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    cx.emit(l, "HardSigmoid", vec![some(&ins[0])], outs, vec![("alpha", A::Float(1.0 / 6.0)), ("beta", A::Float(0.5))]);
    Ok(())
}

fn prelu(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    // OpenVINO applies a 1-D slope of C values to axis 1; ONNX broadcasts
    // numpy-style, so such a slope is reshaped to [C, 1, …].
    let slope = &ins[1];
    let slope_len = cx.static_shape(slope).filter(|s| s.len() == 1).map(|s| s[0]);
    let rank = cx.rank(&ins[0]);
    let slope = match (slope_len, rank) {
        (Some(c), Some(r)) if c > 1 && r > 2 => {
            let mut shape = vec![c as i64];
            shape.extend(std::iter::repeat_n(1, r - 2));
            let target = cx.i64s(&shape);
            cx.helper("Reshape", &[slope, &target], vec![], cx.dtype(slope))
        }
        _ => slope.clone(),
    };
    cx.emit(l, "PRelu", vec![some(&ins[0]), Some(slope)], outs, vec![]);
    Ok(())
}

fn clamp(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let lo = cx.float_attr(l, "min", f32::MIN)?;
    let hi = cx.float_attr(l, "max", f32::MAX)?;
    let d = cx.dtype(&ins[0]).unwrap_or(DType::F32);
    let base = format!("{}/min", l.name);
    let lo = cx.constant(&base, crate::export::scalar_tensor(f64::from(lo), d)?);
    let base = format!("{}/max", l.name);
    let hi = cx.constant(&base, crate::export::scalar_tensor(f64::from(hi), d)?);
    cx.emit(l, "Clip", vec![some(&ins[0]), Some(lo), Some(hi)], outs, vec![]);
    Ok(())
}

fn convert(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let et = cx.attr(l, "destination_type")?;
    let d = crate::dtype::from_element_type(et).ok_or_else(|| cx.bad(l, format!("destination_type '{et}'")))?;
    let code = onnx_code(d);
    if code == 0 {
        return Err(cx.bad(l, format!("conversion to {d} is not supported")));
    }
    cx.emit(l, "Cast", vec![some(&ins[0])], outs, vec![("to", A::Int(code))]);
    cx.dtypes_set(outs, d);
    Ok(())
}

fn is_finite(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let nan = cx.helper("IsNaN", &[&ins[0]], vec![], Some(DType::Bool));
    let inf = cx.helper("IsInf", &[&ins[0]], vec![], Some(DType::Bool));
    let bad = cx.helper("Or", &[&nan, &inf], vec![], Some(DType::Bool));
    cx.emit(l, "Not", vec![Some(bad)], outs, vec![]);
    Ok(())
}

fn is_inf(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let p = cx.bool_attr(l, "detect_positive", true)?;
    let n = cx.bool_attr(l, "detect_negative", true)?;
    cx.emit(
        l,
        "IsInf",
        vec![some(&ins[0])],
        outs,
        vec![("detect_positive", A::Int(i64::from(p))), ("detect_negative", A::Int(i64::from(n)))],
    );
    Ok(())
}

// ---- convolution, pooling -------------------------------------------------

fn auto_pad(cx: &Cx<'_>, l: &Layer) -> Result<&'static str> {
    Ok(match l.attr("auto_pad").unwrap_or("explicit") {
        "explicit" | "notset" | "" => "NOTSET",
        "same_upper" => "SAME_UPPER",
        "same_lower" => "SAME_LOWER",
        "valid" => "VALID",
        p => return Err(cx.bad(l, format!("auto_pad='{p}' is not supported"))),
    })
}

fn window_attrs(cx: &Cx<'_>, l: &Layer, dilations: bool) -> Result<Vec<(&'static str, A)>> {
    let mut pads = cx.ints_attr(l, "pads_begin")?;
    pads.extend(cx.ints_attr(l, "pads_end")?);
    let pad_mode = auto_pad(cx, l)?;
    let mut v = vec![("strides", A::Ints(cx.ints_attr(l, "strides")?)), ("auto_pad", A::String(pad_mode.into()))];
    if pad_mode == "NOTSET" {
        v.push(("pads", A::Ints(pads)));
    }
    if dilations && l.attr("dilations").is_some() {
        v.push(("dilations", A::Ints(cx.ints_attr(l, "dilations")?)));
    }
    Ok(v)
}

/// Merges the group dimension of grouped weights: `[G, A, B, k…]` → `[G·A, B, k…]`.
fn merge_groups(cx: &mut Cx<'_>, l: &Layer, w: &str) -> Result<(String, i64)> {
    let shape = cx.static_shape(w).ok_or_else(|| cx.bad(l, "grouped weights need a static shape"))?;
    if shape.len() < 3 {
        return Err(cx.bad(l, format!("grouped weights of shape {shape:?} have too few dimensions")));
    }
    let mut merged: Vec<usize> = vec![shape[0] * shape[1]];
    merged.extend(&shape[2..]);
    if let Some(t) = cx.const_of(w).cloned() {
        let base = format!("{w}/merged");
        let t = t.reshaped(merged).map_err(|e| cx.bad(l, e))?;
        return Ok((cx.constant(&base, t), shape[0] as i64));
    }
    let target = cx.i64s(&merged.iter().map(|&d| d as i64).collect::<Vec<_>>());
    let d = cx.dtype(w);
    Ok((cx.helper("Reshape", &[w, &target], vec![], d), shape[0] as i64))
}

fn convolution(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, grouped: bool) -> Result<()> {
    let mut attrs = window_attrs(cx, l, true)?;
    let w = if grouped {
        let (w, g) = merge_groups(cx, l, &ins[1])?;
        attrs.push(("group", A::Int(g)));
        w
    } else {
        ins[1].clone()
    };
    cx.emit(l, "Conv", vec![some(&ins[0]), Some(w)], outs, attrs);
    Ok(())
}

fn backprop(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, grouped: bool) -> Result<()> {
    if ins.len() > 2 {
        return Err(cx.bad(l, "an explicit output_shape input is not supported"));
    }
    let mut attrs = window_attrs(cx, l, true)?;
    if l.attr("output_padding").is_some() {
        attrs.push(("output_padding", A::Ints(cx.ints_attr(l, "output_padding")?)));
    }
    let w = if grouped {
        let (w, g) = merge_groups(cx, l, &ins[1])?;
        attrs.push(("group", A::Int(g)));
        w
    } else {
        ins[1].clone()
    };
    cx.emit(l, "ConvTranspose", vec![some(&ins[0]), Some(w)], outs, attrs);
    Ok(())
}

fn max_pool(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = window_attrs(cx, l, true)?;
    attrs.push(("kernel_shape", A::Ints(cx.ints_attr(l, "kernel")?)));
    let ceil = matches!(l.attr("rounding_type"), Some("ceil" | "ceil_torch"));
    attrs.push(("ceil_mode", A::Int(i64::from(ceil))));
    let mut o = vec![outs[0].clone()];
    if outs.len() > 1 && !cx.readers(l, 1).is_empty() {
        if cx.int_attr(l, "axis", 0)? != 0 {
            return Err(cx.bad(l, "indices relative to a non-zero axis are not supported"));
        }
        let idx_type = l.attr("index_element_type").unwrap_or("i64");
        if idx_type == "i64" {
            o.push(outs[1].clone());
        } else {
            let tmp = cx.fresh(&format!("{}/indices", l.name));
            o.push(tmp.clone());
            cx.emit(l, "MaxPool", vec![some(&ins[0])], &o, attrs);
            let to = onnx_code(crate::dtype::from_element_type(idx_type).unwrap_or(DType::I32));
            let name = cx.fresh_node(&format!("{}/indices_cast", l.name));
            cx.node(Node::new("Cast", [tmp], [outs[1].clone()]).named(name).with_attr("to", to), None);
            return Ok(());
        }
    }
    cx.emit(l, "MaxPool", vec![some(&ins[0])], &o, attrs);
    Ok(())
}

fn avg_pool(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = window_attrs(cx, l, false)?;
    attrs.push(("kernel_shape", A::Ints(cx.ints_attr(l, "kernel")?)));
    let ceil = matches!(l.attr("rounding_type"), Some("ceil" | "ceil_torch"));
    attrs.push(("ceil_mode", A::Int(i64::from(ceil))));
    let exclude = cx.bool_attr(l, "exclude-pad", false)?;
    attrs.push(("count_include_pad", A::Int(i64::from(!exclude))));
    cx.emit(l, "AveragePool", vec![some(&ins[0])], outs, attrs);
    Ok(())
}

// ---- normalization, softmax, matmul ---------------------------------------

fn reduce(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let keep = cx.bool_attr(l, "keep_dims", false)?;
    let axes = cx.as_i64(&ins[1]);
    if cx.const_ints(&axes).is_some_and(|a| a.is_empty()) {
        // No axes: OpenVINO returns the input unchanged.
        cx.emit(l, "Identity", vec![some(&ins[0])], outs, vec![]);
        return Ok(());
    }
    cx.emit(l, op, vec![some(&ins[0]), Some(axes)], outs, vec![("keepdims", A::Int(i64::from(keep)))]);
    Ok(())
}

/// MVN's options: normalize the variance, epsilon, epsilon inside the root.
#[derive(Debug, Clone, Copy)]
struct MvnOpts {
    variance: bool,
    eps: f32,
    inside: bool,
}

fn mvn_core(cx: &mut Cx<'_>, l: &Layer, x: &str, axes: &str, outs: Ins<'_>, o: MvnOpts) -> Result<()> {
    let MvnOpts { variance, eps, inside } = o;
    let keep = ("keepdims", A::Int(1));
    let mean = cx.helper("ReduceMean", &[x, axes], vec![keep.clone()], None);
    if !variance {
        cx.emit(l, "Sub", vec![some(x), Some(mean)], outs, vec![]);
        return Ok(());
    }
    let d = cx.helper("Sub", &[x, &mean], vec![], None);
    let sq = cx.helper("Mul", &[&d, &d], vec![], None);
    let var = cx.helper("ReduceMean", &[&sq, axes], vec![keep], None);
    let e = float_zero(cx, x, f64::from(eps))?;
    let denom = if inside {
        let s = cx.helper("Add", &[&var, &e], vec![], None);
        cx.helper("Sqrt", &[&s], vec![], None)
    } else {
        let s = cx.helper("Sqrt", &[&var], vec![], None);
        cx.helper("Add", &[&s, &e], vec![], None)
    };
    cx.emit(l, "Div", vec![Some(d), Some(denom)], outs, vec![]);
    Ok(())
}

fn mvn(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let variance = cx.bool_attr(l, "normalize_variance", true)?;
    let eps = cx.float_attr(l, "eps", 1e-9)?;
    let (axes, inside) = if l.version == "opset1" || ins.len() == 1 {
        // MVN-1: axes from attributes; epsilon added outside the root.
        let axes = if l.attr("reduction_axes").is_some() {
            cx.ints_attr(l, "reduction_axes")?
        } else {
            let rank = cx.rank(&ins[0]).ok_or_else(|| cx.bad(l, "the input's rank is not known"))? as i64;
            let from = if cx.bool_attr(l, "across_channels", false)? { 1 } else { 2 };
            (from..rank).collect()
        };
        (cx.i64s(&axes), false)
    } else {
        let inside = match l.attr("eps_mode").unwrap_or("INSIDE_SQRT").to_ascii_uppercase().as_str() {
            "INSIDE_SQRT" => true,
            "OUTSIDE_SQRT" => false,
            m => return Err(cx.bad(l, format!("eps_mode='{m}' is not supported"))),
        };
        (cx.as_i64(&ins[1]), inside)
    };
    mvn_core(cx, l, &ins[0], &axes, outs, MvnOpts { variance, eps, inside })
}

fn batch_norm(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let eps = cx.float_attr(l, "epsilon", 1e-5)?;
    // BatchNormInference-1 takes (gamma, beta, data, mean, variance); -5 takes data first.
    let order: [usize; 5] = if l.version == "opset1" { [2, 0, 1, 3, 4] } else { [0, 1, 2, 3, 4] };
    cx.emit(
        l,
        "BatchNormalization",
        order.iter().map(|&i| some(&ins[i])).collect(),
        outs,
        vec![("epsilon", A::Float(eps))],
    );
    Ok(())
}

fn softmax(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 1)?;
    cx.emit(l, op, vec![some(&ins[0])], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

/// Swaps the last two axes of `v` (for MatMul's transpose flags).
fn swap_last(cx: &mut Cx<'_>, l: &Layer, v: &str) -> Result<String> {
    let rank = cx.rank(v).ok_or_else(|| cx.bad(l, "a transposed operand needs a known rank"))?;
    if rank < 2 {
        return Ok(v.to_string());
    }
    let mut perm: Vec<i64> = (0..rank as i64).collect();
    perm.swap(rank - 2, rank - 1);
    let d = cx.dtype(v);
    Ok(cx.helper("Transpose", &[v], vec![("perm", A::Ints(perm))], d))
}

fn matmul(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let ta = cx.bool_attr(l, "transpose_a", false)?;
    let tb = cx.bool_attr(l, "transpose_b", false)?;
    let (ra, rb) = (cx.rank(&ins[0]), cx.rank(&ins[1]));
    if (ta || tb) && ra == Some(2) && rb == Some(2) {
        // The 2-D case is exactly Gemm, which keeps the transpose as a flag.
        cx.emit(
            l,
            "Gemm",
            vec![some(&ins[0]), some(&ins[1])],
            outs,
            vec![("transA", A::Int(i64::from(ta))), ("transB", A::Int(i64::from(tb)))],
        );
        return Ok(());
    }
    let a = if ta { swap_last(cx, l, &ins[0])? } else { ins[0].clone() };
    let b = if tb { swap_last(cx, l, &ins[1])? } else { ins[1].clone() };
    cx.emit(l, "MatMul", vec![Some(a), Some(b)], outs, vec![]);
    Ok(())
}

fn lrn(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.const_ints(&ins[1]) != Some(vec![1]) {
        return Err(cx.bad(l, "only normalization across channels (axes = [1]) is supported"));
    }
    let attrs = vec![
        ("alpha", A::Float(cx.float_attr(l, "alpha", 1e-4)?)),
        ("beta", A::Float(cx.float_attr(l, "beta", 0.75)?)),
        ("bias", A::Float(cx.float_attr(l, "bias", 1.0)?)),
        ("size", A::Int(cx.int_attr(l, "size", 1)?)),
    ];
    cx.emit(l, "LRN", vec![some(&ins[0])], outs, attrs);
    Ok(())
}

fn sdpa(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let (q, k, v) = (&ins[0], &ins[1], &ins[2]);
    let kt = swap_last(cx, l, k)?;
    let mut scores = cx.helper("MatMul", &[q, &kt], vec![], cx.dtype(q));
    let scale = match ins.get(4) {
        Some(s) => s.clone(),
        None => {
            // 1/sqrt(E), E = the last dimension of Q.
            let shape = cx.helper("Shape", &[q], vec![("start", A::Int(-1))], Some(DType::I64));
            let d = onnx_code(cx.dtype(q).unwrap_or(DType::F32));
            let e = cx.helper("Cast", &[&shape], vec![("to", A::Int(d))], cx.dtype(q));
            let r = cx.helper("Sqrt", &[&e], vec![], cx.dtype(q));
            cx.helper("Reciprocal", &[&r], vec![], cx.dtype(q))
        }
    };
    scores = cx.helper("Mul", &[&scores, &scale], vec![], cx.dtype(q));
    let neg_inf = float_zero(cx, q, f64::NEG_INFINITY)?;
    if cx.bool_attr(l, "causal", false)? {
        let shape = cx.helper("Shape", &[&scores], vec![("start", A::Int(-2))], Some(DType::I64));
        let one = Tensor::from_bools(vec![1], &[true])?;
        let ones = cx.helper("ConstantOfShape", &[&shape], vec![("value", A::Tensor(one))], Some(DType::Bool));
        let keep = cx.helper("Trilu", &[&ones], vec![("upper", A::Int(0))], Some(DType::Bool));
        scores = cx.helper("Where", &[&keep, &scores, &neg_inf], vec![], cx.dtype(q));
    } else if let Some(mask) = ins.get(3) {
        if cx.dtype(mask) == Some(DType::Bool) {
            scores = cx.helper("Where", &[mask, &scores, &neg_inf], vec![], cx.dtype(q));
        } else {
            scores = cx.helper("Add", &[&scores, mask], vec![], cx.dtype(q));
        }
    }
    let p = cx.helper("Softmax", &[&scores], vec![("axis", A::Int(-1))], cx.dtype(q));
    cx.emit(l, "MatMul", vec![Some(p), some(v)], outs, vec![]);
    Ok(())
}

// ---- shape and indexing ---------------------------------------------------

fn reshape(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let special = cx.bool_attr(l, "special_zero", false)?;
    let shape = cx.as_i64(&ins[1]);
    let attrs = if special { vec![] } else { vec![("allowzero", A::Int(1))] };
    cx.emit(l, "Reshape", vec![some(&ins[0]), Some(shape)], outs, attrs);
    Ok(())
}

fn transpose(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let perm = cx.const_ints(&ins[1]).ok_or_else(|| cx.bad(l, "the order input must be a constant"))?;
    let attrs = if perm.is_empty() { vec![] } else { vec![("perm", A::Ints(perm))] };
    cx.emit(l, "Transpose", vec![some(&ins[0])], outs, attrs);
    Ok(())
}

fn concat(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 0)?;
    cx.emit(l, "Concat", ins.iter().map(|s| some(s)).collect(), outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn scalar_int(cx: &Cx<'_>, l: &Layer, v: &str, what: &str) -> Result<i64> {
    cx.const_ints(v)
        .and_then(|v| (v.len() == 1).then(|| v[0]))
        .ok_or_else(|| cx.bad(l, format!("the {what} input must be a one-element constant")))
}

fn split(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, &ins[1], "axis")?;
    cx.emit(
        l,
        "Split",
        vec![some(&ins[0])],
        outs,
        vec![("axis", A::Int(axis)), ("num_outputs", A::Int(outs.len() as i64))],
    );
    Ok(())
}

fn variadic_split(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, &ins[1], "axis")?;
    let mut lengths = cx.const_ints(&ins[2]).ok_or_else(|| cx.bad(l, "split_lengths must be a constant"))?;
    if let Some(pos) = lengths.iter().position(|&v| v == -1) {
        // -1 takes what is left: needs the split dimension's size.
        let shape =
            cx.static_shape(&ins[0]).ok_or_else(|| cx.bad(l, "a -1 split length needs a static input shape"))?;
        let ax = if axis < 0 { axis + shape.len() as i64 } else { axis } as usize;
        let known: i64 = lengths.iter().filter(|&&v| v != -1).sum();
        lengths[pos] = *shape.get(ax).ok_or_else(|| cx.bad(l, "axis out of range"))? as i64 - known;
    }
    let split = cx.i64s(&lengths);
    cx.emit(l, "Split", vec![some(&ins[0]), Some(split)], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn slice8(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    // Slice-8: (data, start, stop, step[, axes]); ONNX: (data, starts, ends, axes, steps).
    let starts = cx.as_i64(&ins[1]);
    let ends = cx.as_i64(&ins[2]);
    let steps = cx.as_i64(&ins[3]);
    let axes = ins.get(4).map(|a| cx.as_i64(a));
    cx.emit(l, "Slice", vec![some(&ins[0]), Some(starts), Some(ends), axes, Some(steps)], outs, vec![]);
    Ok(())
}

fn mask_of(cx: &Cx<'_>, l: &Layer, key: &str) -> Result<Vec<i64>> {
    if l.attr(key).is_none() { Ok(Vec::new()) } else { cx.ints_attr(l, key) }
}

fn strided_slice(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let begin_mask = mask_of(cx, l, "begin_mask")?;
    let end_mask = mask_of(cx, l, "end_mask")?;
    let new_axis = mask_of(cx, l, "new_axis_mask")?;
    let shrink = mask_of(cx, l, "shrink_axis_mask")?;
    let ellipsis = mask_of(cx, l, "ellipsis_mask")?;
    if new_axis.iter().any(|&v| v != 0) || ellipsis.iter().any(|&v| v != 0) {
        return Err(cx.bad(l, "new_axis_mask and ellipsis_mask are not supported"));
    }
    let b = cx.const_ints(&ins[1]).ok_or_else(|| cx.bad(l, "begin must be a constant"))?;
    let e = cx.const_ints(&ins[2]).ok_or_else(|| cx.bad(l, "end must be a constant"))?;
    let s = match ins.get(3) {
        Some(s) => cx.const_ints(s).ok_or_else(|| cx.bad(l, "stride must be a constant"))?,
        None => vec![1; b.len()],
    };
    if e.len() != b.len() || s.len() != b.len() {
        return Err(cx.bad(l, "begin, end and stride differ in length"));
    }
    let on = |m: &[i64], i: usize| m.get(i).is_some_and(|&v| v != 0);
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for i in 0..b.len() {
        let fwd = s[i] > 0;
        starts.push(if on(&begin_mask, i) { if fwd { 0 } else { i64::MAX } } else { b[i] });
        let end = if on(&end_mask, i) { if fwd { i64::MAX } else { i64::MIN } } else { e[i] };
        // A shrunk axis keeps exactly the element at `begin`.
        ends.push(if on(&shrink, i) { if b[i] == -1 { i64::MAX } else { b[i] + 1 } } else { end });
    }
    let axes: Vec<i64> = (0..b.len() as i64).collect();
    let (st, en, ax, sp) = (cx.i64s(&starts), cx.i64s(&ends), cx.i64s(&axes), cx.i64s(&s));
    let squeeze: Vec<i64> = (0..b.len()).filter(|&i| on(&shrink, i)).map(|i| i as i64).collect();
    if squeeze.is_empty() {
        cx.emit(l, "Slice", vec![some(&ins[0]), Some(st), Some(en), Some(ax), Some(sp)], outs, vec![]);
    } else {
        let d = cx.dtype(&ins[0]);
        let sl = cx.helper("Slice", &[&ins[0], &st, &en, &ax, &sp], vec![], d);
        let sq = cx.i64s(&squeeze);
        cx.emit(l, "Squeeze", vec![Some(sl), Some(sq)], outs, vec![]);
    }
    Ok(())
}

fn gather(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.int_attr(l, "batch_dims", 0)? != 0 {
        return Err(cx.bad(l, "batch_dims other than 0 is not supported"));
    }
    let axis = scalar_int(cx, l, &ins[2], "axis")?;
    cx.emit(l, "Gather", vec![some(&ins[0]), some(&ins[1])], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn gather_elements(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 0)?;
    cx.emit(l, "GatherElements", vec![some(&ins[0]), some(&ins[1])], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn gather_nd(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let bd = cx.int_attr(l, "batch_dims", 0)?;
    if bd != 0 && l.version != "opset8" {
        return Err(cx.bad(l, "GatherND-5 with batch_dims flattens batches, which ONNX does not"));
    }
    let idx = cx.as_i64(&ins[1]);
    cx.emit(l, "GatherND", vec![some(&ins[0]), Some(idx)], outs, vec![("batch_dims", A::Int(bd))]);
    Ok(())
}

fn reduction_attr(cx: &Cx<'_>, l: &Layer) -> Result<Option<&'static str>> {
    Ok(match l.attr("reduction").unwrap_or("none") {
        "none" => None,
        "sum" => Some("add"),
        "prod" => Some("mul"),
        "min" => Some("min"),
        "max" => Some("max"),
        r => return Err(cx.bad(l, format!("reduction='{r}' is not supported"))),
    })
}

fn scatter_nd(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = vec![];
    if let Some(r) = reduction_attr(cx, l)? {
        attrs.push(("reduction", A::String(r.into())));
    }
    let idx = cx.as_i64(&ins[1]);
    cx.emit(l, "ScatterND", vec![some(&ins[0]), Some(idx), some(&ins[2])], outs, attrs);
    Ok(())
}

fn scatter_elements(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, &ins[3], "axis")?;
    let mut attrs = vec![("axis", A::Int(axis))];
    if let Some(r) = reduction_attr(cx, l)? {
        if !cx.bool_attr(l, "use_init_val", true)? {
            return Err(cx.bad(l, "use_init_val=false is not supported"));
        }
        attrs.push(("reduction", A::String(r.into())));
    }
    cx.emit(l, "ScatterElements", vec![some(&ins[0]), some(&ins[1]), some(&ins[2])], outs, attrs);
    Ok(())
}

fn broadcast(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match l.attr("mode").unwrap_or("numpy") {
        // Numpy mode broadcasts the data to the target shape; where that is
        // valid, ONNX's bidirectional Expand gives the same result.
        "numpy" | "bidirectional" => {
            let shape = cx.as_i64(&ins[1]);
            cx.emit(l, "Expand", vec![some(&ins[0]), Some(shape)], outs, vec![]);
            Ok(())
        }
        m => Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    }
}

fn squeeze(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let axes = ins.get(1).map(|a| cx.as_i64(a));
    cx.emit(l, op, vec![some(&ins[0]), axes], outs, vec![]);
    Ok(())
}

fn shape_of(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let et = l.attr("output_type").unwrap_or("i64");
    if et == "i64" {
        cx.emit(l, "Shape", vec![some(&ins[0])], outs, vec![]);
        cx.dtypes_set(outs, DType::I64);
    } else {
        let s = cx.helper("Shape", &[&ins[0]], vec![], Some(DType::I64));
        cx.emit(l, "Cast", vec![Some(s)], outs, vec![("to", A::Int(6))]);
        cx.dtypes_set(outs, DType::I32);
    }
    Ok(())
}

fn tile(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let r = cx.as_i64(&ins[1]);
    cx.emit(l, "Tile", vec![some(&ins[0]), Some(r)], outs, vec![]);
    Ok(())
}

fn pad(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mode = match l.attr("pad_mode").unwrap_or("constant") {
        m @ ("constant" | "edge" | "reflect") => m,
        m => return Err(cx.bad(l, format!("pad_mode='{m}' is not supported"))),
    };
    let (b, e) = (cx.as_i64(&ins[1]), cx.as_i64(&ins[2]));
    let pads = match (cx.const_ints(&b), cx.const_ints(&e)) {
        (Some(mut b), Some(e)) => {
            b.extend(e);
            cx.i64s(&b)
        }
        _ => cx.helper("Concat", &[&b, &e], vec![("axis", A::Int(0))], Some(DType::I64)),
    };
    let value = if mode == "constant" { ins.get(3).cloned() } else { None };
    cx.emit(l, "Pad", vec![some(&ins[0]), Some(pads), value], outs, vec![("mode", A::String(mode.into()))]);
    Ok(())
}

fn range(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let target = l.attr("output_type").and_then(crate::dtype::from_element_type);
    let ins: Vec<String> = match target {
        Some(d) => ins
            .iter()
            .map(|v| {
                if cx.dtype(v) == Some(d) {
                    v.clone()
                } else {
                    cx.helper("Cast", &[v], vec![("to", A::Int(onnx_code(d)))], Some(d))
                }
            })
            .collect(),
        None => ins.to_vec(),
    };
    cx.emit(l, "Range", ins.iter().map(|s| some(s)).collect(), outs, vec![]);
    Ok(())
}

fn topk(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", -1)?;
    let largest = match l.attr("mode").unwrap_or("max") {
        "max" => 1,
        "min" => 0,
        m => return Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    };
    let sorted = match l.attr("sort").unwrap_or("value") {
        "value" => 1,
        "none" => 0,
        s => return Err(cx.bad(l, format!("sort='{s}' is not supported"))),
    };
    let k = cx.as_i64(&ins[1]);
    let one = cx.i64s(&[1]);
    let k = cx.helper("Reshape", &[&k, &one], vec![], Some(DType::I64));
    let idx_type = l.attr("index_element_type").and_then(crate::dtype::from_element_type).unwrap_or(DType::I32);
    let attrs = vec![("axis", A::Int(axis)), ("largest", A::Int(largest)), ("sorted", A::Int(sorted))];
    if idx_type == DType::I64 || outs.len() < 2 {
        cx.emit(l, "TopK", vec![some(&ins[0]), Some(k)], outs, attrs);
    } else {
        let tmp = cx.fresh(&format!("{}/indices", l.name));
        cx.emit(l, "TopK", vec![some(&ins[0]), Some(k)], &[outs[0].clone(), tmp.clone()], attrs);
        let name = cx.fresh_node(&format!("{}/indices_cast", l.name));
        cx.node(
            Node::new("Cast", [tmp], [outs[1].clone()]).named(name).with_attr("to", onnx_code(idx_type)),
            Some(idx_type),
        );
    }
    Ok(())
}

fn cumsum(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = match ins.get(1) {
        Some(a) => cx.as_i64(a),
        None => {
            let base = format!("{}/axis", l.name);
            cx.constant(&base, Tensor::scalar(0i64))
        }
    };
    let attrs = vec![
        ("exclusive", A::Int(i64::from(cx.bool_attr(l, "exclusive", false)?))),
        ("reverse", A::Int(i64::from(cx.bool_attr(l, "reverse", false)?))),
    ];
    cx.emit(l, "CumSum", vec![some(&ins[0]), Some(axis)], outs, attrs);
    Ok(())
}

fn depth_space(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let bs = cx.int_attr(l, "block_size", 1)?;
    let mode = l.attr("mode").unwrap_or("blocks_first");
    let mut attrs = vec![("blocksize", A::Int(bs))];
    match (op, mode) {
        ("DepthToSpace", "blocks_first") => attrs.push(("mode", A::String("DCR".into()))),
        ("DepthToSpace", "depth_first") => attrs.push(("mode", A::String("CRD".into()))),
        ("SpaceToDepth", "blocks_first") => {}
        _ => return Err(cx.bad(l, format!("mode='{mode}' is not supported"))),
    }
    cx.emit(l, op, vec![some(&ins[0])], outs, attrs);
    Ok(())
}

fn nonzero(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if l.attr("output_type").unwrap_or("i64") == "i64" {
        cx.emit(l, "NonZero", vec![some(&ins[0])], outs, vec![]);
    } else {
        let s = cx.helper("NonZero", &[&ins[0]], vec![], Some(DType::I64));
        cx.emit(l, "Cast", vec![Some(s)], outs, vec![("to", A::Int(6))]);
    }
    Ok(())
}

fn one_hot(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", -1)?;
    let one = cx.i64s(&[1]);
    let d = cx.dtype(&ins[2]);
    let on = cx.helper("Reshape", &[&ins[2], &one], vec![], d);
    let off = cx.helper("Reshape", &[&ins[3], &one], vec![], d);
    let values = cx.helper("Concat", &[&off, &on], vec![("axis", A::Int(0))], d);
    cx.emit(l, "OneHot", vec![some(&ins[0]), some(&ins[1]), Some(values)], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn interpolate(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mode = match l.attr("mode").unwrap_or("nearest") {
        "nearest" => "nearest",
        "linear_onnx" | "linear" => "linear",
        "cubic" => "cubic",
        m => return Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    };
    for key in ["pads_begin", "pads_end"] {
        if l.attr(key).is_some() && cx.ints_attr(l, key)?.iter().any(|&p| p != 0) {
            return Err(cx.bad(l, "non-zero pads are not supported"));
        }
    }
    let calc = l.attr("shape_calculation_mode").unwrap_or("sizes");
    // Interpolate-4: (data, sizes, scales[, axes]); -11: (data, sizes_or_scales[, axes]).
    let (target, axes) = if l.version == "opset4" {
        let t = if calc == "sizes" { ins[1].clone() } else { ins[2].clone() };
        (t, ins.get(3))
    } else {
        (ins[1].clone(), ins.get(2))
    };
    let mut attrs = vec![
        ("mode", A::String(mode.into())),
        (
            "coordinate_transformation_mode",
            A::String(l.attr("coordinate_transformation_mode").unwrap_or("half_pixel").into()),
        ),
        ("nearest_mode", A::String(l.attr("nearest_mode").unwrap_or("round_prefer_floor").into())),
        ("cubic_coeff_a", A::Float(cx.float_attr(l, "cube_coeff", -0.75)?)),
    ];
    if cx.bool_attr(l, "antialias", false)? {
        attrs.push(("antialias", A::Int(1)));
    }
    if let Some(a) = axes {
        let a = cx.const_ints(a).ok_or_else(|| cx.bad(l, "axes must be a constant"))?;
        attrs.push(("axes", A::Ints(a)));
    }
    let inputs = if calc == "sizes" {
        let sizes = cx.as_i64(&target);
        vec![some(&ins[0]), None, None, Some(sizes)]
    } else {
        let scales = if cx.dtype(&target) == Some(DType::F32) {
            target
        } else {
            cx.helper("Cast", &[&target], vec![("to", A::Int(1))], Some(DType::F32))
        };
        vec![some(&ins[0]), None, Some(scales)]
    };
    cx.emit(l, "Resize", inputs, outs, attrs);
    Ok(())
}

fn fake_quantize(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    super::quant::fake_quantize(cx, l, ins, outs)
}

fn einsum(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let eq = cx.attr(l, "equation")?.to_string();
    cx.emit(l, "Einsum", ins.iter().map(|s| some(s)).collect(), outs, vec![("equation", A::String(eq))]);
    Ok(())
}

fn select(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    same(cx, l, ins, outs, "Where")
}

fn convert_like(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match cx.dtype(&ins[1]) {
        Some(d) if onnx_code(d) != 0 => {
            cx.emit(l, "Cast", vec![some(&ins[0])], outs, vec![("to", A::Int(onnx_code(d)))]);
            cx.dtypes_set(outs, d);
        }
        _ => cx.emit(l, "CastLike", vec![some(&ins[0]), some(&ins[1])], outs, vec![]),
    }
    Ok(())
}

macro_rules! simple {
    ($($ov:literal => $onnx:literal),* $(,)?) => {
        &[$(ImportRule { openvino: $ov, onnx: $onnx, build: |cx, l, i, o| same(cx, l, i, o, $onnx) }),*]
    };
}

/// Layers that map one-to-one with the same inputs.
const SIMPLE: &[ImportRule] = simple![
    "Add" => "Add", "Subtract" => "Sub", "Multiply" => "Mul", "Power" => "Pow", "Maximum" => "Max",
    "Minimum" => "Min", "Equal" => "Equal", "Less" => "Less", "LessEqual" => "LessOrEqual",
    "Greater" => "Greater", "GreaterEqual" => "GreaterOrEqual", "LogicalAnd" => "And", "LogicalOr" => "Or",
    "LogicalXor" => "Xor", "LogicalNot" => "Not", "BitwiseAnd" => "BitwiseAnd", "BitwiseOr" => "BitwiseOr",
    "BitwiseXor" => "BitwiseXor", "BitwiseNot" => "BitwiseNot", "ReLU" => "Relu", "Sigmoid" => "Sigmoid",
    "Tanh" => "Tanh", "Exp" => "Exp", "Log" => "Log", "Sqrt" => "Sqrt", "Abs" => "Abs", "Negative" => "Neg",
    "Floor" => "Floor", "Ceiling" => "Ceil", "Sign" => "Sign", "Erf" => "Erf", "Sin" => "Sin", "Cos" => "Cos",
    "Tan" => "Tan", "Asin" => "Asin", "Acos" => "Acos", "Atan" => "Atan", "Sinh" => "Sinh", "Cosh" => "Cosh",
    "Asinh" => "Asinh", "Acosh" => "Acosh", "Atanh" => "Atanh", "SoftPlus" => "Softplus",
    "SoftSign" => "Softsign", "Mish" => "Mish", "HSwish" => "HardSwish", "IsNaN" => "IsNaN",
];

/// Layers that need more than renaming.
const COMPLEX: &[ImportRule] = &[
    ImportRule { openvino: "Divide", onnx: "Div (Cast/Div/Floor for integer python division)", build: divide },
    ImportRule { openvino: "FloorMod", onnx: "Mod (fmod=0) / Div, Floor, Mul, Sub for floats", build: floor_mod },
    ImportRule { openvino: "Mod", onnx: "Mod (fmod=1)", build: truncated_mod },
    ImportRule { openvino: "SquaredDifference", onnx: "Sub + Mul", build: squared_difference },
    ImportRule { openvino: "NotEqual", onnx: "Equal + Not", build: not_equal },
    ImportRule { openvino: "Round", onnx: "Round / Abs, Add, Floor, Sign, Mul", build: round },
    ImportRule { openvino: "HardSigmoid", onnx: "HardSigmoid", build: hard_sigmoid },
    ImportRule { openvino: "HSigmoid", onnx: "HardSigmoid (alpha 1/6, beta 0.5)", build: hsigmoid },
    ImportRule { openvino: "Selu", onnx: "Selu", build: selu },
    ImportRule { openvino: "Elu", onnx: "Elu", build: elu },
    ImportRule { openvino: "Gelu", onnx: "Gelu (opset 20)", build: gelu },
    ImportRule { openvino: "Swish", onnx: "Mul + Sigmoid", build: swish },
    ImportRule { openvino: "PRelu", onnx: "PRelu (slope reshaped to [C, 1, …])", build: prelu },
    ImportRule { openvino: "Clamp", onnx: "Clip", build: clamp },
    ImportRule { openvino: "Convert", onnx: "Cast (or DequantizeLinear, see quantization)", build: convert },
    ImportRule { openvino: "ConvertLike", onnx: "Cast / CastLike", build: convert_like },
    ImportRule { openvino: "Select", onnx: "Where", build: select },
    ImportRule { openvino: "IsInf", onnx: "IsInf", build: is_inf },
    ImportRule { openvino: "IsFinite", onnx: "IsNaN, IsInf, Or, Not", build: is_finite },
    ImportRule { openvino: "Convolution", onnx: "Conv", build: |cx, l, i, o| convolution(cx, l, i, o, false) },
    ImportRule {
        openvino: "GroupConvolution",
        onnx: "Conv (group)",
        build: |cx, l, i, o| convolution(cx, l, i, o, true),
    },
    ImportRule {
        openvino: "ConvolutionBackpropData",
        onnx: "ConvTranspose",
        build: |cx, l, i, o| backprop(cx, l, i, o, false),
    },
    ImportRule {
        openvino: "GroupConvolutionBackpropData",
        onnx: "ConvTranspose (group)",
        build: |cx, l, i, o| backprop(cx, l, i, o, true),
    },
    ImportRule { openvino: "MaxPool", onnx: "MaxPool", build: max_pool },
    ImportRule { openvino: "AvgPool", onnx: "AveragePool", build: avg_pool },
    ImportRule { openvino: "ReduceMean", onnx: "ReduceMean", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceMean") },
    ImportRule { openvino: "ReduceSum", onnx: "ReduceSum", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceSum") },
    ImportRule { openvino: "ReduceMax", onnx: "ReduceMax", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceMax") },
    ImportRule { openvino: "ReduceMin", onnx: "ReduceMin", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceMin") },
    ImportRule { openvino: "ReduceProd", onnx: "ReduceProd", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceProd") },
    ImportRule { openvino: "ReduceL1", onnx: "ReduceL1", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceL1") },
    ImportRule { openvino: "ReduceL2", onnx: "ReduceL2", build: |cx, l, i, o| reduce(cx, l, i, o, "ReduceL2") },
    ImportRule { openvino: "MVN", onnx: "ReduceMean, Sub, Mul, Add, Sqrt, Div", build: mvn },
    ImportRule { openvino: "BatchNormInference", onnx: "BatchNormalization", build: batch_norm },
    ImportRule { openvino: "SoftMax", onnx: "Softmax", build: |cx, l, i, o| softmax(cx, l, i, o, "Softmax") },
    ImportRule { openvino: "Softmax", onnx: "Softmax", build: |cx, l, i, o| softmax(cx, l, i, o, "Softmax") },
    ImportRule { openvino: "LogSoftmax", onnx: "LogSoftmax", build: |cx, l, i, o| softmax(cx, l, i, o, "LogSoftmax") },
    ImportRule { openvino: "MatMul", onnx: "MatMul / Gemm (2-D with transposes)", build: matmul },
    ImportRule { openvino: "LRN", onnx: "LRN", build: lrn },
    ImportRule {
        openvino: "ScaledDotProductAttention",
        onnx: "Transpose, MatMul, Mul, Add/Where, Softmax, MatMul",
        build: sdpa,
    },
    ImportRule { openvino: "Reshape", onnx: "Reshape (allowzero = !special_zero)", build: reshape },
    ImportRule { openvino: "Transpose", onnx: "Transpose", build: transpose },
    ImportRule { openvino: "Concat", onnx: "Concat", build: concat },
    ImportRule { openvino: "Split", onnx: "Split (num_outputs)", build: split },
    ImportRule { openvino: "VariadicSplit", onnx: "Split", build: variadic_split },
    ImportRule { openvino: "Slice", onnx: "Slice", build: slice8 },
    ImportRule { openvino: "StridedSlice", onnx: "Slice [+ Squeeze]", build: strided_slice },
    ImportRule { openvino: "Gather", onnx: "Gather", build: gather },
    ImportRule { openvino: "GatherND", onnx: "GatherND", build: gather_nd },
    ImportRule { openvino: "GatherElements", onnx: "GatherElements", build: gather_elements },
    ImportRule { openvino: "Einsum", onnx: "Einsum", build: einsum },
    ImportRule { openvino: "ScatterNDUpdate", onnx: "ScatterND", build: scatter_nd },
    ImportRule { openvino: "ScatterElementsUpdate", onnx: "ScatterElements", build: scatter_elements },
    ImportRule { openvino: "Broadcast", onnx: "Expand", build: broadcast },
    ImportRule { openvino: "Squeeze", onnx: "Squeeze", build: |cx, l, i, o| squeeze(cx, l, i, o, "Squeeze") },
    ImportRule { openvino: "Unsqueeze", onnx: "Unsqueeze", build: |cx, l, i, o| squeeze(cx, l, i, o, "Unsqueeze") },
    ImportRule { openvino: "ShapeOf", onnx: "Shape [+ Cast]", build: shape_of },
    ImportRule { openvino: "Tile", onnx: "Tile", build: tile },
    ImportRule { openvino: "Pad", onnx: "Pad", build: pad },
    ImportRule { openvino: "Range", onnx: "Range", build: range },
    ImportRule { openvino: "TopK", onnx: "TopK [+ Cast of indices]", build: topk },
    ImportRule { openvino: "CumSum", onnx: "CumSum", build: cumsum },
    ImportRule {
        openvino: "DepthToSpace",
        onnx: "DepthToSpace",
        build: |cx, l, i, o| depth_space(cx, l, i, o, "DepthToSpace"),
    },
    ImportRule {
        openvino: "SpaceToDepth",
        onnx: "SpaceToDepth",
        build: |cx, l, i, o| depth_space(cx, l, i, o, "SpaceToDepth"),
    },
    ImportRule { openvino: "NonZero", onnx: "NonZero [+ Cast]", build: nonzero },
    ImportRule { openvino: "OneHot", onnx: "OneHot", build: one_hot },
    ImportRule { openvino: "Interpolate", onnx: "Resize", build: interpolate },
    ImportRule {
        openvino: "FakeQuantize",
        onnx: "QuantizeLinear + DequantizeLinear (or arithmetic)",
        build: fake_quantize,
    },
];

/// Every rule of this module: the renames, then the others.
pub(crate) fn all() -> Vec<ImportRule> {
    let mut v = SIMPLE.to_vec();
    v.extend_from_slice(COMPLEX);
    v
}
