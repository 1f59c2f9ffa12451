//! Convolutions, pooling, normalization, softmax, matrix products, resize.
//!
//! ONNX folds the bias into `Conv`/`Gemm` and the group count into `Conv`;
//! OpenVINO keeps them apart: `Convolution` + `Add` of a `[1, C, 1, …]`
//! bias, `GroupConvolution` with `[G, O/G, I/G, k…]` weights, `MatMul` +
//! `Multiply` + `Add` for `Gemm`. Normalizations become `MVN` plus the
//! affine `Multiply`/`Add`.

use ir::{DType, Error, Node, Result};

use super::math::binary;
use super::{Ex, Rule, Src, float, int, ints, list, string, unsupported_attr};

fn auto_pad(n: &Node) -> Result<&'static str> {
    Ok(match string(n, "auto_pad", "NOTSET")? {
        "NOTSET" | "" => "explicit",
        "SAME_UPPER" => "same_upper",
        "SAME_LOWER" => "same_lower",
        "VALID" => "valid",
        p => return Err(unsupported_attr(n, &format!("auto_pad='{p}'"))),
    })
}

/// `(strides, dilations, pads_begin, pads_end)`.
type Window = (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>);

/// The window attributes for `spatial` dimensions.
fn window(n: &Node, spatial: usize) -> Result<Window> {
    let strides = ints(n, "strides")?.unwrap_or_else(|| vec![1; spatial]);
    let dilations = ints(n, "dilations")?.unwrap_or_else(|| vec![1; spatial]);
    let pads = ints(n, "pads")?.unwrap_or_else(|| vec![0; 2 * spatial]);
    if strides.len() != spatial || dilations.len() != spatial || pads.len() != 2 * spatial {
        return Err(Error::invalid(format!(
            "{}: strides/dilations/pads do not match {spatial} spatial dimensions",
            n.describe()
        )));
    }
    Ok((strides, dilations, pads[..spatial].to_vec(), pads[spatial..].to_vec()))
}

/// `t` reshaped, as a constant when it is one (no copy) or a Reshape layer.
fn reshape_to(ex: &mut Ex<'_>, s: Src, shape: &[i64]) -> Result<Src> {
    if ex.constant(s).is_some() && shape.iter().all(|&d| d >= 0) {
        return ex.reshaped_const(s, shape.iter().map(|&d| d as usize).collect());
    }
    let p = ex.i64s(shape);
    let d = ex.dtype(s);
    let out = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[s, p]);
    Ok(ex.set(out, d, Some(shape.len())))
}

/// Adds a per-channel bias `[C]` to an `NC…` tensor of the given rank.
fn add_channel_bias(ex: &mut Ex<'_>, y: Src, b: Src, rank: usize) -> Result<Src> {
    let mut shape = vec![1i64; rank];
    shape[1] = -1;
    // A bias's static dims come from the file: their product is checked.
    let len = ex.static_shape(b).map(|s| {
        ir::checked_numel(&s)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| Error::invalid(format!("bias of shape {s:?} has more elements than fit in a dimension")))
    });
    let b = if let Some(len) = len {
        shape[1] = len?;
        reshape_to(ex, b, &shape)?
    } else {
        let p = ex.i64s(&shape);
        ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[b, p])
    };
    Ok(binary(ex, "Add", y, b))
}

fn conv(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let w = ex.input(n, 1)?;
    let (y, rank) = conv_layers(ex, n, x, w)?;
    let y = match ex.opt_input(n, 2)? {
        Some(b) => add_channel_bias(ex, y, b, rank)?,
        None => y,
    };
    ex.bind(n, 0, y);
    Ok(())
}

/// The `Convolution`/`GroupConvolution` of `x` by `w` with `n`'s window
/// attributes (no bias); returns the output and its rank. Shared with
/// `ConvInteger`, which feeds it converted, zero-point-shifted operands.
pub(crate) fn conv_layers(ex: &mut Ex<'_>, n: &Node, x: Src, w: Src) -> Result<(Src, usize)> {
    let wshape = ex.static_shape(w);
    let spatial = match (ints(n, "kernel_shape")?, &wshape, ex.rank(w)) {
        (Some(k), _, _) => k.len(),
        (None, Some(s), _) => s.len().saturating_sub(2),
        (None, None, Some(r)) => r.saturating_sub(2),
        _ => return Err(Error::invalid(format!("{}: the weight's rank is not known", n.describe()))),
    };
    let (strides, dilations, pb, pe) = window(n, spatial)?;
    let group = int(n, "group", 1)?;
    let data = [
        ("strides", list(&strides)),
        ("dilations", list(&dilations)),
        ("pads_begin", list(&pb)),
        ("pads_end", list(&pe)),
        ("auto_pad", auto_pad(n)?.to_string()),
    ];
    let y = if group == 1 {
        ex.op("Convolution", "opset1", &data, &[x, w])
    } else {
        let ws = wshape
            .ok_or_else(|| Error::invalid(format!("{}: grouped convolution needs the weight's shape", n.describe())))?;
        if group <= 0 || ws[0] as i64 % group != 0 {
            return Err(Error::invalid(format!(
                "{}: {} output channels do not split into {group} groups",
                n.describe(),
                ws[0]
            )));
        }
        let mut gshape = vec![group, ws[0] as i64 / group];
        gshape.extend(ws[1..].iter().map(|&d| d as i64));
        let gw = reshape_to(ex, w, &gshape)?;
        ex.op("GroupConvolution", "opset1", &data, &[x, gw])
    };
    let rank = spatial + 2;
    let d = ex.dtype(x);
    ex.set(y, d, Some(rank));
    Ok((y, rank))
}

fn conv_transpose(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let w = ex.input(n, 1)?;
    let wshape = ex.static_shape(w);
    let spatial = match (ints(n, "kernel_shape")?, &wshape, ex.rank(w)) {
        (Some(k), _, _) => k.len(),
        (None, Some(s), _) => s.len().saturating_sub(2),
        (None, None, Some(r)) => r.saturating_sub(2),
        _ => return Err(Error::invalid(format!("{}: the weight's rank is not known", n.describe()))),
    };
    if n.attr("output_shape").is_some() {
        return Err(unsupported_attr(n, "the output_shape attribute (give pads instead)"));
    }
    let (strides, dilations, pb, pe) = window(n, spatial)?;
    let out_pad = ints(n, "output_padding")?.unwrap_or_else(|| vec![0; spatial]);
    let group = int(n, "group", 1)?;
    let data = [
        ("strides", list(&strides)),
        ("dilations", list(&dilations)),
        ("pads_begin", list(&pb)),
        ("pads_end", list(&pe)),
        ("auto_pad", auto_pad(n)?.to_string()),
        ("output_padding", list(&out_pad)),
    ];
    let y = if group == 1 {
        ex.op("ConvolutionBackpropData", "opset1", &data, &[x, w])
    } else {
        let ws = wshape.ok_or_else(|| {
            Error::invalid(format!("{}: grouped transposed convolution needs the weight's shape", n.describe()))
        })?;
        if group <= 0 || ws[0] as i64 % group != 0 {
            return Err(Error::invalid(format!(
                "{}: {} input channels do not split into {group} groups",
                n.describe(),
                ws[0]
            )));
        }
        // ONNX [C_in, C_out/G, k…] → OpenVINO [G, C_in/G, C_out/G, k…].
        let mut gshape = vec![group, ws[0] as i64 / group];
        gshape.extend(ws[1..].iter().map(|&d| d as i64));
        let gw = reshape_to(ex, w, &gshape)?;
        ex.op("GroupConvolutionBackpropData", "opset1", &data, &[x, gw])
    };
    let rank = spatial + 2;
    let d = ex.dtype(x);
    ex.set(y, d, Some(rank));
    let y = match ex.opt_input(n, 2)? {
        Some(b) => add_channel_bias(ex, y, b, rank)?,
        None => y,
    };
    ex.bind(n, 0, y);
    Ok(())
}

fn pool(ex: &mut Ex<'_>, n: &Node, max: bool) -> Result<()> {
    let x = ex.input(n, 0)?;
    let kernel = ints(n, "kernel_shape")?
        .ok_or_else(|| Error::invalid(format!("{}: kernel_shape is required", n.describe())))?;
    let spatial = kernel.len();
    let (strides, dilations, pb, pe) = window(n, spatial)?;
    let rounding = if int(n, "ceil_mode", 0)? != 0 { "ceil" } else { "floor" };
    let d = ex.dtype(x);
    if max {
        if int(n, "storage_order", 0)? != 0 {
            return Err(unsupported_attr(n, "storage_order=1"));
        }
        let data = [
            ("strides", list(&strides)),
            ("dilations", list(&dilations)),
            ("pads_begin", list(&pb)),
            ("pads_end", list(&pe)),
            ("kernel", list(&kernel)),
            ("rounding_type", rounding.to_string()),
            ("auto_pad", auto_pad(n)?.to_string()),
            ("index_element_type", "i64".into()),
            ("axis", "0".into()),
        ];
        let outs = ex.layer("MaxPool", "opset8", &data, &[x], 2);
        ex.set(outs[0], d, Some(spatial + 2));
        ex.set(outs[1], Some(DType::I64), Some(spatial + 2));
        ex.bind(n, 0, outs[0]);
        ex.bind(n, 1, outs[1]);
    } else {
        if dilations.iter().any(|&v| v != 1) {
            return Err(unsupported_attr(n, "AveragePool dilations"));
        }
        let exclude = int(n, "count_include_pad", 0)? == 0;
        let data = [
            ("strides", list(&strides)),
            ("pads_begin", list(&pb)),
            ("pads_end", list(&pe)),
            ("kernel", list(&kernel)),
            ("exclude-pad", exclude.to_string()),
            ("rounding_type", rounding.to_string()),
            ("auto_pad", auto_pad(n)?.to_string()),
        ];
        let y = ex.op("AvgPool", "opset1", &data, &[x]);
        ex.set(y, d, Some(spatial + 2));
        ex.bind(n, 0, y);
    }
    Ok(())
}

fn global_pool(ex: &mut Ex<'_>, n: &Node, kind: &'static str) -> Result<()> {
    let x = ex.input(n, 0)?;
    let rank = ex.need_rank(x, n, "the input")?;
    let axes: Vec<i64> = (2..rank as i64).collect();
    let a = ex.i64s(&axes);
    let y = ex.op(kind, "opset1", &[("keep_dims", "true".into())], &[x, a]);
    ex.bind(n, 0, y);
    Ok(())
}

fn batch_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    if int(n, "training_mode", 0)? != 0 || n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(unsupported_attr(n, "training-mode BatchNormalization"));
    }
    let srcs: Vec<Src> = (0..5).map(|i| ex.input(n, i)).collect::<Result<_>>()?;
    let eps = n.attr_float("epsilon", 1e-5)?;
    let y = ex.op("BatchNormInference", "opset5", &[("epsilon", float(eps))], &srcs);
    ex.bind(n, 0, y);
    Ok(())
}

fn mvn(ex: &mut Ex<'_>, x: Src, axes: &[i64], eps: f32) -> Src {
    let a = ex.i64s(axes);
    ex.op(
        "MVN",
        "opset6",
        &[("eps", float(eps)), ("normalize_variance", "true".into()), ("eps_mode", "INSIDE_SQRT".into())],
        &[x, a],
    )
}

fn instance_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let rank = ex.need_rank(x, n, "the input")?;
    if rank < 2 {
        return Err(Error::invalid(format!(
            "{}: the input has rank {rank}, InstanceNormalization needs [N, C, ...]",
            n.describe()
        )));
    }
    let eps = n.attr_float("epsilon", 1e-5)?;
    let axes: Vec<i64> = (2..rank as i64).collect();
    let y = mvn(ex, x, &axes, eps);
    let (scale, bias) = (ex.input(n, 1)?, ex.input(n, 2)?);
    let mut shape = vec![1i64; rank];
    shape[1] = -1;
    let p = ex.i64s(&shape);
    let s = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[scale, p]);
    let y = binary(ex, "Multiply", y, s);
    let y = add_channel_bias(ex, y, bias, rank)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn layer_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(unsupported_attr(n, "LayerNormalization's Mean/InvStdDev outputs"));
    }
    let x = ex.input(n, 0)?;
    let axis = int(n, "axis", -1)?;
    // The axis comes from the file: checked against the rank (or, where the
    // rank is unknown, the largest rank a port may have) before it sizes a list.
    let rank = match ex.rank(x) {
        Some(r) => r as i64,
        None if axis < 0 => super::MAX_PORT_RANK as i64,
        None => ex.need_rank(x, n, "the input")? as i64,
    };
    if axis < -rank || axis >= rank.max(1) {
        return Err(Error::invalid(format!("{}: axis {axis} is out of range for rank {rank}", n.describe())));
    }
    let axes: Vec<i64> = if axis < 0 { (axis..0).collect() } else { (axis..rank).collect() };
    let eps = n.attr_float("epsilon", 1e-5)?;
    let y = mvn(ex, x, &axes, eps);
    let scale = ex.input(n, 1)?;
    let mut y = binary(ex, "Multiply", y, scale);
    if let Some(b) = ex.opt_input(n, 2)? {
        y = binary(ex, "Add", y, b);
    }
    let (d, r) = (ex.dtype(x), ex.rank(x));
    ex.set(y, d, r);
    ex.bind(n, 0, y);
    Ok(())
}

fn softmax(ex: &mut Ex<'_>, n: &Node, kind: &'static str, version: &'static str) -> Result<()> {
    let x = ex.input(n, 0)?;
    let legacy = ex.model().onnx_opset() < 13;
    let mut axis = int(n, "axis", if legacy { 1 } else { -1 })?;
    if legacy {
        // Before opset 13 the input is flattened to 2-D at `axis`; that equals
        // a softmax over one axis only when `axis` is the last one.
        let rank = ex.need_rank(x, n, "the input")? as i64;
        if axis < 0 {
            axis += rank;
        }
        if axis != rank - 1 {
            return Err(unsupported_attr(n, "a pre-opset-13 softmax over several axes"));
        }
    }
    let y = ex.op(kind, version, &[("axis", axis.to_string())], &[x]);
    ex.bind(n, 0, y);
    Ok(())
}

/// The rank of `n`'s output (a MatMul's, numpy rules) from its operands'
/// ranks, when both are known. A scalar operand is refused: MatMul takes
/// none, and a graph whose shapes were not all inferred can still hold one.
pub(crate) fn matmul_rank(n: &Node, a: Option<usize>, b: Option<usize>) -> Result<Option<usize>> {
    Ok(match (a, b) {
        (Some(0), _) | (_, Some(0)) => {
            return Err(Error::invalid(format!("{}: MatMul of a scalar", n.describe())));
        }
        (Some(1), Some(1)) => Some(0),
        (Some(1), Some(r)) | (Some(r), Some(1)) => Some(r - 1),
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    })
}

fn matmul(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let r = matmul_rank(n, ex.rank(a), ex.rank(b))?;
    let y = ex.op("MatMul", "opset1", &[("transpose_a", "false".into()), ("transpose_b", "false".into())], &[a, b]);
    ex.set(y, ex.dtype(a), r);
    ex.bind(n, 0, y);
    Ok(())
}

fn gemm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (a, b) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let ta = int(n, "transA", 0)? != 0;
    let tb = int(n, "transB", 0)? != 0;
    let alpha = n.attr_float("alpha", 1.0)?;
    let beta = n.attr_float("beta", 1.0)?;
    let d = ex.dtype(a);
    let mut y = ex.op("MatMul", "opset1", &[("transpose_a", ta.to_string()), ("transpose_b", tb.to_string())], &[a, b]);
    ex.set(y, d, Some(2));
    if alpha != 1.0 {
        let k = ex.scalar(f64::from(alpha), d)?;
        y = binary(ex, "Multiply", y, k);
    }
    if let Some(c) = ex.opt_input(n, 2)?
        && beta != 0.0
    {
        let c = if beta != 1.0 {
            let k = ex.scalar(f64::from(beta), d)?;
            binary(ex, "Multiply", c, k)
        } else {
            c
        };
        y = binary(ex, "Add", y, c);
    }
    ex.set(y, d, Some(2));
    ex.bind(n, 0, y);
    Ok(())
}

fn lrn(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let axes = ex.i64s(&[1]);
    let data = [
        ("alpha", float(n.attr_float("alpha", 1e-4)?)),
        ("beta", float(n.attr_float("beta", 0.75)?)),
        ("bias", float(n.attr_float("bias", 1.0)?)),
        ("size", int(n, "size", 1)?.to_string()),
    ];
    let y = ex.op("LRN", "opset1", &data, &[x, axes]);
    ex.bind(n, 0, y);
    Ok(())
}

fn depth_space(ex: &mut Ex<'_>, n: &Node, kind: &'static str) -> Result<()> {
    let x = ex.input(n, 0)?;
    let mode = match string(n, "mode", "DCR")? {
        "DCR" => "blocks_first",
        "CRD" => "depth_first",
        m => return Err(unsupported_attr(n, &format!("mode='{m}'"))),
    };
    let bs = int(n, "blocksize", 1)?;
    let y = ex.op(kind, "opset1", &[("block_size", bs.to_string()), ("mode", mode.into())], &[x]);
    ex.bind(n, 0, y);
    Ok(())
}

fn resize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let opset = ex.model().onnx_opset();
    if opset < 11 {
        return Err(unsupported_attr(n, "Resize before opset 11"));
    }
    let mode = match string(n, "mode", "nearest")? {
        "nearest" => "nearest",
        "linear" => "linear_onnx",
        "cubic" => "cubic",
        m => return Err(unsupported_attr(n, &format!("mode='{m}'"))),
    };
    let ctm = string(n, "coordinate_transformation_mode", "half_pixel")?;
    if !["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"].contains(&ctm) {
        return Err(unsupported_attr(n, &format!("coordinate_transformation_mode='{ctm}'")));
    }
    let nearest = string(n, "nearest_mode", "round_prefer_floor")?;
    if int(n, "exclude_outside", 0)? != 0 {
        return Err(unsupported_attr(n, "exclude_outside=1"));
    }
    if string(n, "keep_aspect_ratio_policy", "stretch")? != "stretch" {
        return Err(unsupported_attr(n, "keep_aspect_ratio_policy"));
    }
    let scales = ex.opt_input(n, 2)?;
    let sizes = ex.opt_input(n, 3)?;
    let scales = scales.filter(|s| ex.static_shape(*s).is_none_or(|sh| sh.iter().product::<usize>() > 0));
    let (calc, target) = match (sizes, scales) {
        (Some(s), _) => ("sizes", s),
        (None, Some(s)) => ("scales", s),
        (None, None) => return Err(Error::invalid(format!("{}: needs scales or sizes", n.describe()))),
    };
    let data = [
        ("mode", mode.to_string()),
        ("shape_calculation_mode", calc.to_string()),
        ("coordinate_transformation_mode", ctm.to_string()),
        ("nearest_mode", nearest.to_string()),
        ("antialias", (int(n, "antialias", 0)? != 0).to_string()),
        ("pads_begin", "0".into()),
        ("pads_end", "0".into()),
        ("cube_coeff", float(n.attr_float("cubic_coeff_a", -0.75)?)),
    ];
    let mut inputs = vec![x, target];
    if let Some(axes) = ints(n, "axes")? {
        inputs.push(ex.i64s(&axes));
    }
    let y = ex.op("Interpolate", "opset11", &data, &inputs);
    ex.bind(n, 0, y);
    Ok(())
}

fn einsum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let srcs: Vec<Src> = n.present_inputs().map(|v| ex.value(v)).collect::<Result<_>>()?;
    let Some(&first) = srcs.first() else {
        return Err(Error::invalid(format!("'{}' (Einsum): no input", n.name)));
    };
    let eq = string(n, "equation", "")?.to_string();
    let rank = eq.split("->").nth(1).map(|o| o.trim().chars().filter(|c| c.is_ascii_alphabetic()).count());
    let y = ex.op("Einsum", "opset7", &[("equation", eq.clone())], &srcs);
    let d = ex.dtype(first);
    ex.set(y, d, if eq.contains("...") { None } else { rank });
    ex.bind(n, 0, y);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "Conv", openvino: "Convolution-1 / GroupConvolution-1 (+ Add-1 bias)", build: conv },
    Rule {
        onnx: "ConvTranspose",
        openvino: "ConvolutionBackpropData-1 / GroupConvolutionBackpropData-1 (+ Add-1 bias)",
        build: conv_transpose,
    },
    Rule { onnx: "MaxPool", openvino: "MaxPool-8", build: |ex, n| pool(ex, n, true) },
    Rule { onnx: "AveragePool", openvino: "AvgPool-1", build: |ex, n| pool(ex, n, false) },
    Rule { onnx: "GlobalAveragePool", openvino: "ReduceMean-1", build: |ex, n| global_pool(ex, n, "ReduceMean") },
    Rule { onnx: "GlobalMaxPool", openvino: "ReduceMax-1", build: |ex, n| global_pool(ex, n, "ReduceMax") },
    Rule { onnx: "BatchNormalization", openvino: "BatchNormInference-5", build: batch_norm },
    Rule { onnx: "InstanceNormalization", openvino: "MVN-6 + Multiply-1 + Add-1", build: instance_norm },
    Rule { onnx: "LayerNormalization", openvino: "MVN-6 + Multiply-1 + Add-1", build: layer_norm },
    Rule { onnx: "Softmax", openvino: "SoftMax-8", build: |ex, n| softmax(ex, n, "SoftMax", "opset8") },
    Rule { onnx: "LogSoftmax", openvino: "LogSoftmax-5", build: |ex, n| softmax(ex, n, "LogSoftmax", "opset5") },
    Rule { onnx: "MatMul", openvino: "MatMul-1", build: matmul },
    Rule { onnx: "Gemm", openvino: "MatMul-1 (+ Multiply-1 alpha/beta, Add-1 C)", build: gemm },
    Rule { onnx: "LRN", openvino: "LRN-1", build: lrn },
    Rule { onnx: "DepthToSpace", openvino: "DepthToSpace-1", build: |ex, n| depth_space(ex, n, "DepthToSpace") },
    Rule { onnx: "SpaceToDepth", openvino: "SpaceToDepth-1", build: |ex, n| depth_space(ex, n, "SpaceToDepth") },
    Rule { onnx: "Resize", openvino: "Interpolate-11", build: resize },
    Rule { onnx: "Einsum", openvino: "Einsum-7", build: einsum },
];
