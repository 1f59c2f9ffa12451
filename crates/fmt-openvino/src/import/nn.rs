//! Convolutions, pooling, normalization, softmax, matrix products,
//! attention and resizing.
//!
//! OpenVINO keeps the group count in the weights' shape (`[G, O/G, I/G,
//! k…]`), ONNX in an attribute with merged weights. `MVN` (mean-variance
//! normalization, epsilon inside or outside the root) and
//! `ScaledDotProductAttention` have no ONNX op at opset 21 and become
//! subgraphs. `MVN-1` takes its axes as attributes, `MVN-6` as an input;
//! `Interpolate-4` takes sizes and scales, `Interpolate-11` one of them.

use ir::{Attribute as A, DType, Node, Result, Tensor};

use super::{Arity, Cx, ImportRule, Ports, port, some};
use crate::xml::Layer;

type Ins<'a> = &'a [String];

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
/// ONNX wants the group count as an attribute, so `G` must be known when
/// reading; the other dims may be computed at run time (weights fed by a
/// `Parameter` of dynamic shape, or by a `Reshape` whose output dims the
/// file leaves open), and the merge is then a `Reshape` to a computed shape.
fn merge_groups(cx: &mut Cx<'_>, l: &Layer, w: &str) -> Result<(String, i64)> {
    let Some(shape) = cx.static_shape(w) else {
        let groups = group_count(cx, l)?;
        let rank = cx.rank(w).ok_or_else(|| cx.bad(l, "the grouped weights' rank is not known"))?;
        if rank < 3 {
            return Err(cx.bad(l, format!("grouped weights of rank {rank} have too few dimensions")));
        }
        let i64t = Some(DType::I64);
        // [-1] ++ shape[2..]: the -1 takes G·A, whatever A is at run time.
        let rest = cx.helper("Shape", &[w], vec![("start", A::Int(2))], i64t);
        let head = cx.i64s(&[-1]);
        let target = cx.helper("Concat", &[&head, &rest], vec![("axis", A::Int(0))], i64t);
        let d = cx.dtype(w);
        return Ok((cx.helper("Reshape", &[w, &target], vec![], d), groups));
    };
    let [groups, per_group, rest @ ..] = shape.as_slice() else {
        return Err(cx.bad(l, format!("grouped weights of shape {shape:?} have too few dimensions")));
    };
    if rest.is_empty() {
        return Err(cx.bad(l, format!("grouped weights of shape {shape:?} have too few dimensions")));
    }
    // `static_shape` bounds the product of the dims, so this cannot overflow.
    let mut merged: Vec<usize> = vec![groups * per_group];
    merged.extend(rest);
    let groups = *groups as i64;
    if let Some(t) = cx.const_of(w).cloned() {
        let base = format!("{w}/merged");
        let t = t.reshaped(merged).map_err(|e| cx.bad(l, e))?;
        return Ok((cx.constant(&base, t), groups));
    }
    let target: Vec<i64> = merged.iter().map(|&d| d as i64).collect();
    Ok((cx.reshape(w, &target), groups))
}

/// The group count `G` of grouped weights whose full shape is not known:
/// the first dim of the weights' port, else the first entry of the constant
/// target of the `Reshape` producing them (how ONNX exporters, ours
/// included, split merged weights into groups).
fn group_count(cx: &Cx<'_>, l: &Layer) -> Result<i64> {
    let from_port = l.inputs.get(1).and_then(|p| p.dims.first()).and_then(|d| d.trim().parse::<i64>().ok());
    let from_reshape = || {
        let (producer, _) = cx.source(l, 1)?;
        if producer.kind != "Reshape" {
            return None;
        }
        let (target, port) = cx.source(producer, 1)?;
        cx.const_ints(cx.value_of(target, port)?)?.first().copied()
    };
    // 0 (a copied dim with special_zero) and -1 (inferred) say nothing here.
    from_port
        .filter(|&g| g > 0)
        .or_else(|| from_reshape().filter(|&g| g > 0))
        .ok_or_else(|| cx.bad(l, "the group count (the grouped weights' first dimension) is not known"))
}

fn convolution(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, grouped: bool) -> Result<()> {
    let mut attrs = window_attrs(cx, l, true)?;
    let w = if grouped {
        let (w, g) = merge_groups(cx, l, port(ins, 1)?)?;
        attrs.push(("group", A::Int(g)));
        w
    } else {
        port(ins, 1)?.clone()
    };
    cx.emit(l, "Conv", vec![some(port(ins, 0)?), Some(w)], outs, attrs);
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
        let (w, g) = merge_groups(cx, l, port(ins, 1)?)?;
        attrs.push(("group", A::Int(g)));
        w
    } else {
        port(ins, 1)?.clone()
    };
    cx.emit(l, "ConvTranspose", vec![some(port(ins, 0)?), Some(w)], outs, attrs);
    Ok(())
}

fn max_pool(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = window_attrs(cx, l, true)?;
    attrs.push(("kernel_shape", A::Ints(cx.ints_attr(l, "kernel")?)));
    let ceil = matches!(l.attr("rounding_type"), Some("ceil" | "ceil_torch"));
    attrs.push(("ceil_mode", A::Int(i64::from(ceil))));
    let mut o = vec![port(outs, 0)?.clone()];
    if let Some(indices) = outs.get(1)
        && !cx.readers(l, 1).is_empty()
    {
        if cx.int_attr(l, "axis", 0)? != 0 {
            return Err(cx.bad(l, "indices relative to a non-zero axis are not supported"));
        }
        let idx_type = l.attr("index_element_type").unwrap_or("i64");
        if idx_type == "i64" {
            o.push(indices.clone());
        } else {
            let tmp = cx.b.fresh_value(&format!("{}/indices", l.name));
            o.push(tmp.clone());
            cx.emit(l, "MaxPool", vec![some(port(ins, 0)?)], &o, attrs);
            let to = crate::dtype::from_element_type(idx_type).unwrap_or(DType::I32);
            let name = cx.b.fresh_node(&format!("{}/indices_cast", l.name));
            let cast =
                Node::new("Cast", [tmp], [indices.clone()]).named(name).with_attr("to", i64::from(to.onnx_code()));
            cx.b.add_node(cast, None);
            return Ok(());
        }
    }
    cx.emit(l, "MaxPool", vec![some(port(ins, 0)?)], &o, attrs);
    Ok(())
}

fn avg_pool(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = window_attrs(cx, l, false)?;
    attrs.push(("kernel_shape", A::Ints(cx.ints_attr(l, "kernel")?)));
    let ceil = matches!(l.attr("rounding_type"), Some("ceil" | "ceil_torch"));
    attrs.push(("ceil_mode", A::Int(i64::from(ceil))));
    let exclude = cx.bool_attr(l, "exclude-pad", false)?;
    attrs.push(("count_include_pad", A::Int(i64::from(!exclude))));
    cx.emit(l, "AveragePool", vec![some(port(ins, 0)?)], outs, attrs);
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
    let e = cx.scalar_like(l, x, f64::from(eps))?;
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
    let (axes, inside) = match ins.get(1) {
        // MVN-6: axes as an input; where epsilon goes is an attribute.
        Some(axes) => {
            let inside = match l.attr("eps_mode").unwrap_or("INSIDE_SQRT").to_ascii_uppercase().as_str() {
                "INSIDE_SQRT" => true,
                "OUTSIDE_SQRT" => false,
                m => return Err(cx.bad(l, format!("eps_mode='{m}' is not supported"))),
            };
            (cx.as_i64(axes), inside)
        }
        // MVN-1: axes from attributes; epsilon added outside the root.
        None => {
            let axes = if l.attr("reduction_axes").is_some() {
                cx.ints_attr(l, "reduction_axes")?
            } else {
                let rank = cx.rank(port(ins, 0)?).ok_or_else(|| cx.bad(l, "the input's rank is not known"))? as i64;
                let from = if cx.bool_attr(l, "across_channels", false)? { 1 } else { 2 };
                (from..rank).collect()
            };
            (cx.i64s(&axes), false)
        }
    };
    mvn_core(cx, l, port(ins, 0)?, &axes, outs, MvnOpts { variance, eps, inside })
}

fn batch_norm(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let eps = cx.float_attr(l, "epsilon", 1e-5)?;
    // BatchNormInference-1 takes (gamma, beta, data, mean, variance); -5 takes data first.
    let order: [usize; 5] = if l.version == "opset1" { [2, 0, 1, 3, 4] } else { [0, 1, 2, 3, 4] };
    cx.emit(
        l,
        "BatchNormalization",
        order.iter().map(|&i| port(ins, i).map(|v| some(v))).collect::<Result<_>>()?,
        outs,
        vec![("epsilon", A::Float(eps))],
    );
    Ok(())
}

fn softmax(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 1)?;
    cx.emit(l, op, vec![some(port(ins, 0)?)], outs, vec![("axis", A::Int(axis))]);
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
    let (ra, rb) = (cx.rank(port(ins, 0)?), cx.rank(port(ins, 1)?));
    if (ta || tb) && ra == Some(2) && rb == Some(2) {
        // The 2-D case is exactly Gemm, which keeps the transpose as a flag.
        cx.emit(
            l,
            "Gemm",
            vec![some(port(ins, 0)?), some(port(ins, 1)?)],
            outs,
            vec![("transA", A::Int(i64::from(ta))), ("transB", A::Int(i64::from(tb)))],
        );
        return Ok(());
    }
    let a = if ta { swap_last(cx, l, port(ins, 0)?)? } else { port(ins, 0)?.clone() };
    let b = if tb { swap_last(cx, l, port(ins, 1)?)? } else { port(ins, 1)?.clone() };
    cx.emit(l, "MatMul", vec![Some(a), Some(b)], outs, vec![]);
    Ok(())
}

fn lrn(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.const_ints(port(ins, 1)?) != Some(vec![1]) {
        return Err(cx.bad(l, "only normalization across channels (axes = [1]) is supported"));
    }
    let attrs = vec![
        ("alpha", A::Float(cx.float_attr(l, "alpha", 1e-4)?)),
        ("beta", A::Float(cx.float_attr(l, "beta", 0.75)?)),
        ("bias", A::Float(cx.float_attr(l, "bias", 1.0)?)),
        ("size", A::Int(cx.int_attr(l, "size", 1)?)),
    ];
    cx.emit(l, "LRN", vec![some(port(ins, 0)?)], outs, attrs);
    Ok(())
}

fn sdpa(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if ins.len() > 5 {
        return Err(cx.bad(l, "the attention sink input (port 6) is not supported"));
    }
    let (q, k, v) = (port(ins, 0)?, port(ins, 1)?, port(ins, 2)?);
    let dq = cx.dtype(q);
    let kt = swap_last(cx, l, k)?;
    let mut scores = cx.helper("MatMul", &[q, &kt], vec![], dq);
    let scale = match ins.get(4) {
        Some(s) => s.clone(),
        None => {
            // 1/sqrt(E), E = the last dimension of Q.
            let shape = cx.helper("Shape", &[q], vec![("start", A::Int(-1))], Some(DType::I64));
            let e = cx.cast(&shape, dq.unwrap_or(DType::F32));
            let r = cx.helper("Sqrt", &[&e], vec![], dq);
            cx.helper("Reciprocal", &[&r], vec![], dq)
        }
    };
    scores = cx.helper("Mul", &[&scores, &scale], vec![], dq);
    let neg_inf = cx.scalar_like(l, q, f64::NEG_INFINITY)?;
    if cx.bool_attr(l, "causal", false)? {
        let shape = cx.helper("Shape", &[&scores], vec![("start", A::Int(-2))], Some(DType::I64));
        let one = Tensor::from_bools(vec![1], &[true]).map_err(|e| cx.bad(l, e))?;
        let ones = cx.helper("ConstantOfShape", &[&shape], vec![("value", A::Tensor(one))], Some(DType::Bool));
        let keep = cx.helper("Trilu", &[&ones], vec![("upper", A::Int(0))], Some(DType::Bool));
        scores = cx.helper("Where", &[&keep, &scores, &neg_inf], vec![], dq);
    } else if let Some(mask) = ins.get(3) {
        if cx.dtype(mask) == Some(DType::Bool) {
            scores = cx.helper("Where", &[mask, &scores, &neg_inf], vec![], dq);
        } else {
            scores = cx.helper("Add", &[&scores, mask], vec![], dq);
        }
    }
    let p = cx.helper("Softmax", &[&scores], vec![("axis", A::Int(-1))], dq);
    cx.emit(l, "MatMul", vec![Some(p), some(v)], outs, vec![]);
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
        ("SpaceToDepth", "depth_first") => return space_to_depth_crd(cx, l, port(ins, 0)?, outs, bs),
        _ => return Err(cx.bad(l, format!("mode='{mode}' is not supported"))),
    }
    cx.emit(l, op, vec![some(port(ins, 0)?)], outs, attrs);
    Ok(())
}

/// `SpaceToDepth` in `depth_first` mode. ONNX's `SpaceToDepth` has only the
/// blocks-first (DCR) order before opset 28, so this is DCR followed by a
/// regrouping of the channels: DCR puts channel `c` of block offset `o` at
/// `o·C + c`, depth-first at `c·bs² + o`, so the DCR output `[N, bs²·C, H',
/// W']` is viewed as `[N, bs², C, H', W']`, its two channel axes swapped and
/// merged again. The shapes are read at run time (`Shape`), so batch and
/// image sizes may be dynamic.
fn space_to_depth_crd(cx: &mut Cx<'_>, l: &Layer, x: &str, outs: Ins<'_>, bs: i64) -> Result<()> {
    if cx.rank(x).is_some_and(|r| r != 4) {
        return Err(cx.bad(l, "depth_first mode is supported for 4-D inputs only"));
    }
    let blocks = bs.checked_mul(bs).ok_or_else(|| cx.bad(l, format!("block_size {bs} is too large")))?;
    let d = cx.dtype(x);
    let dcr = cx.helper("SpaceToDepth", &[x], vec![("blocksize", A::Int(bs))], d);
    let i64t = Some(DType::I64);
    let full = cx.helper("Shape", &[&dcr], vec![], i64t);
    let batch = cx.helper("Shape", &[&dcr], vec![("end", A::Int(1))], i64t);
    let spatial = cx.helper("Shape", &[&dcr], vec![("start", A::Int(2))], i64t);
    let mid = cx.i64s(&[blocks, -1]);
    let split = cx.helper("Concat", &[&batch, &mid, &spatial], vec![("axis", A::Int(0))], i64t);
    let grouped = cx.helper("Reshape", &[&dcr, &split], vec![], d);
    let swapped = cx.helper("Transpose", &[&grouped], vec![("perm", A::Ints(vec![0, 2, 1, 3, 4]))], d);
    cx.emit(l, "Reshape", vec![Some(swapped), Some(full)], outs, vec![]);
    Ok(())
}

fn interpolate(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if l.version == "opset1" {
        // Its `axes` attribute, `align_corners` and mode names differ from -4/-11.
        return Err(cx.bad(l, "Interpolate-1 is not supported (Interpolate-4 and -11 are)"));
    }
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
        let t = if calc == "sizes" { port(ins, 1)?.clone() } else { port(ins, 2)?.clone() };
        (t, ins.get(3))
    } else {
        (port(ins, 1)?.clone(), ins.get(2))
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
        vec![some(port(ins, 0)?), None, None, Some(sizes)]
    } else {
        let scales = if cx.dtype(&target) == Some(DType::F32) { target } else { cx.cast(&target, DType::F32) };
        vec![some(port(ins, 0)?), None, Some(scales)]
    };
    cx.emit(l, "Resize", inputs, outs, attrs);
    Ok(())
}

fn einsum(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let eq = cx.attr(l, "equation")?.to_string();
    cx.emit(l, "Einsum", ins.iter().map(|s| some(s)).collect(), outs, vec![("equation", A::String(eq))]);
    Ok(())
}

/// This family's rules.
pub(crate) const RULES: &[ImportRule] = &[
    ImportRule::new("Convolution", "Conv", Arity::ins(2), |cx, l, i, o| convolution(cx, l, i, o, false)),
    ImportRule::new(
        "GroupConvolution",
        "Conv (group) [+ Shape, Concat, Reshape of dynamic weights]",
        Arity::ins(2),
        |cx, l, i, o| convolution(cx, l, i, o, true),
    ),
    // The optional third input is an explicit output shape.
    ImportRule::new("ConvolutionBackpropData", "ConvTranspose", Arity::ins_between(2, 3), |cx, l, i, o| {
        backprop(cx, l, i, o, false)
    }),
    ImportRule::new(
        "GroupConvolutionBackpropData",
        "ConvTranspose (group) [+ Shape, Concat, Reshape of dynamic weights]",
        Arity::ins_between(2, 3),
        |cx, l, i, o| backprop(cx, l, i, o, true),
    ),
    // MaxPool-8 and -14 add an indices output.
    ImportRule::new("MaxPool", "MaxPool", Arity::new(Ports::exactly(1), Ports::between(1, 2)), max_pool).by_version(&[
        ("opset1", Arity::ins(1)),
        ("opset8", Arity::new(Ports::exactly(1), Ports::exactly(2))),
        ("opset14", Arity::new(Ports::exactly(1), Ports::exactly(2))),
    ]),
    ImportRule::new("AvgPool", "AveragePool", Arity::ins(1), avg_pool),
    ImportRule::new("MVN", "ReduceMean, Sub, Mul, Add, Sqrt, Div", Arity::ins_between(1, 2), mvn)
        .by_version(&[("opset1", Arity::ins(1)), ("opset6", Arity::ins(2))]),
    ImportRule::new("BatchNormInference", "BatchNormalization", Arity::ins(5), batch_norm),
    ImportRule::new("SoftMax", "Softmax", Arity::ins(1), |cx, l, i, o| softmax(cx, l, i, o, "Softmax")),
    ImportRule::new("Softmax", "Softmax", Arity::ins(1), |cx, l, i, o| softmax(cx, l, i, o, "Softmax")),
    ImportRule::new("LogSoftmax", "LogSoftmax", Arity::ins(1), |cx, l, i, o| softmax(cx, l, i, o, "LogSoftmax")),
    ImportRule::new("MatMul", "MatMul / Gemm (2-D with transposes)", Arity::ins(2), matmul),
    ImportRule::new("LRN", "LRN", Arity::ins(2), lrn),
    // (query, key, value[, attention_mask[, scale[, sink]]]).
    ImportRule::new(
        "ScaledDotProductAttention",
        "Transpose, MatMul, Mul, Add/Where, Softmax, MatMul",
        Arity::ins_between(3, 6),
        sdpa,
    ),
    ImportRule::new("DepthToSpace", "DepthToSpace", Arity::ins(1), |cx, l, i, o| {
        depth_space(cx, l, i, o, "DepthToSpace")
    }),
    ImportRule::new(
        "SpaceToDepth",
        "SpaceToDepth (+ Shape, Concat, Reshape, Transpose, Reshape for depth_first)",
        Arity::ins(1),
        |cx, l, i, o| depth_space(cx, l, i, o, "SpaceToDepth"),
    ),
    ImportRule::new("Interpolate", "Resize", Arity::ins_between(2, 4), interpolate).by_version(&[
        ("opset1", Arity::ins(2)),
        ("opset4", Arity::ins_between(3, 4)),
        ("opset11", Arity::ins_between(2, 3)),
    ]),
    ImportRule::new("Einsum", "Einsum", Arity::new(Ports::at_least(1), Ports::exactly(1)), einsum),
];
