//! Convolutions, pools, normalization, bias, softmax, matrix products,
//! resizing and top-k.
//!
//! Layout: on NHWC data (TF's default `data_format`) a convolution or pool
//! becomes `Transpose [0,3,1,2]` → canonical NCHW op → `Transpose
//! [0,2,3,1]`, the same pair every time, so the sinking pass cancels the
//! inner ones. Weights are permuted once here: `Conv2D`'s HWIO to OIHW,
//! `DepthwiseConv2dNative`'s HWCM to a group convolution's `(C·M, 1, H, W)`
//! (output channel `c·M + m`, as TF orders them). `padding` SAME pads the
//! extra row at the end (explicit pads when the input's size is known,
//! `SAME_UPPER` otherwise), EXPLICIT reads `explicit_paddings`.
//! `BiasAdd` and `FusedBatchNorm*` broadcast over the channel axis and need
//! no transposes; batch norm's constants are folded to `x·s + b`.
//! `ResizeBilinear`/`ResizeNearestNeighbor` map `align_corners` and
//! `half_pixel_centers` onto `Resize`'s coordinate modes and rounding.
//! `DepthToSpace`/`SpaceToDepth` order the depth as ONNX's DCR mode does,
//! in either data format, so they too are wrapped in the transpose pair.

// Rules index their inputs (`ins[k]`) freely: `Lowering::run` (in
// `lower/mod.rs`) checks each node's input count against the rule's
// `Ports` before the rule runs, so `k` is always below it. Every other
// index in this module is on data checked where it is read.
#![allow(clippy::indexing_slicing)]

use ir::{Attribute as A, DType, Result, Tensor};

use super::{Cx, Ports, Rule, type_attr};
use crate::graph::TfNode;

type Ins<'a> = &'a [String];

/// TF ops with a `data_format` whose NHWC form decides the model's layout.
pub(crate) const LAYOUT_OPS: &[&str] =
    &["Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "MaxPool", "AvgPool"];

const TO_NCHW: [usize; 4] = [0, 3, 1, 2];
const TO_NHWC: [usize; 4] = [0, 2, 3, 1];

/// Whether the node's `data_format` is channels-last.
fn is_nhwc(cx: &Cx<'_>, n: &TfNode) -> Result<bool> {
    match cx.str(n, "data_format", "NHWC")? {
        "NHWC" => Ok(true),
        "NCHW" => Ok(false),
        f => Err(cx.bad(n, format!("data_format '{f}' is not supported"))),
    }
}

/// The (H, W) entries of a 4-entry per-dimension list attribute.
fn hw(cx: &Cx<'_>, n: &TfNode, name: &str, nhwc: bool, default: i64) -> Result<[i64; 2]> {
    match cx.ints(n, name)? {
        None => Ok([default; 2]),
        Some(v) => match (nhwc, v.as_slice()) {
            (true, [_, h, w, _]) | (false, [_, _, h, w]) => Ok([*h, *w]),
            _ => Err(cx.bad(n, format!("attribute '{name}' has {} entries, not 4", v.len()))),
        },
    }
}

/// The window of a convolution or pool: kernel, strides, dilations (H, W).
struct Window {
    kernel: [i64; 2],
    strides: [i64; 2],
    dilations: [i64; 2],
}

/// Largest stride, dilation or kernel size taken: TF's are `int`s, and the
/// bound keeps the window arithmetic below from overflowing.
const MAX_WINDOW: i64 = i32::MAX as i64;

impl Window {
    /// The extent of the dilated kernel on each axis (sizes are at most
    /// [`MAX_WINDOW`], so this cannot overflow).
    fn effective(&self) -> [i64; 2] {
        let ([k0, k1], [d0, d1]) = (self.kernel, self.dilations);
        [(k0 - 1) * d0 + 1, (k1 - 1) * d1 + 1]
    }
}

/// SAME padding of an axis of size `size`: (begin, end), any odd cell at
/// the end, as TensorFlow pads; `None` if the sizes overflow.
fn same_pads(size: i64, stride: i64, effective: i64) -> Option<(i64, i64)> {
    let out = size.checked_add(stride - 1)? / stride;
    let total = out.checked_sub(1)?.checked_mul(stride)?.checked_add(effective)?.checked_sub(size)?.max(0);
    Some((total / 2, total - total / 2))
}

/// ONNX `pads` (H begin, W begin, H end, W end) from TF's 8-entry
/// `explicit_paddings` (a begin/end pair per NHWC or NCHW axis).
fn explicit_pads(cx: &Cx<'_>, n: &TfNode, nhwc: bool) -> Result<[i64; 4]> {
    let p = cx.ints(n, "explicit_paddings")?.unwrap_or_default();
    match (nhwc, p.as_slice()) {
        (true, [_, _, hb, he, wb, we, _, _]) | (false, [_, _, _, _, hb, he, wb, we]) => Ok([*hb, *wb, *he, *we]),
        _ => Err(cx.bad(n, format!("explicit_paddings has {} entries, not 8", p.len()))),
    }
}

/// The padding attributes of a canonical window op reading `x` (NCHW).
fn padding(cx: &Cx<'_>, n: &TfNode, x: &str, w: &Window, nhwc: bool) -> Result<Vec<(&'static str, A)>> {
    match cx.str(n, "padding", "")? {
        "VALID" => Ok(vec![("pads", A::Ints(vec![0; 4]))]),
        "EXPLICIT" => Ok(vec![("pads", A::Ints(explicit_pads(cx, n, nhwc)?.to_vec()))]),
        "SAME" => {
            let (Some(ih), Some(iw)) = (cx.dim(x, 2), cx.dim(x, 3)) else {
                return Ok(vec![("auto_pad", A::String("SAME_UPPER".into()))]);
            };
            let [eh, ew] = w.effective();
            let [sh, sw] = w.strides;
            let (Some((hb, he)), Some((wb, we))) = (same_pads(ih, sh, eh), same_pads(iw, sw, ew)) else {
                return Err(cx.bad(n, format!("input size {ih}x{iw} is too large for SAME padding")));
            };
            Ok(vec![("pads", A::Ints(vec![hb, wb, he, we]))])
        }
        p => Err(cx.bad(n, format!("padding '{p}' is not SAME, VALID or EXPLICIT"))),
    }
}

fn window(cx: &Cx<'_>, n: &TfNode, nhwc: bool, kernel: [i64; 2]) -> Result<Window> {
    let w = Window { kernel, strides: hw(cx, n, "strides", nhwc, 1)?, dilations: hw(cx, n, "dilations", nhwc, 1)? };
    if w.strides.iter().chain(&w.dilations).chain(&w.kernel).any(|&v| !(1..=MAX_WINDOW).contains(&v)) {
        return Err(cx.bad(n, format!("strides, dilations and kernel sizes must be in 1..={MAX_WINDOW}")));
    }
    Ok(w)
}

/// Kernel (H, W) of a weight whose first two axes are H and W.
fn kernel_hw(cx: &Cx<'_>, n: &TfNode, w: &str) -> Result<[i64; 2]> {
    match (cx.dim(w, 0), cx.dim(w, 1), cx.shape(w).map(|s| s.rank())) {
        (Some(h), Some(k), Some(4)) => Ok([h, k]),
        _ => Err(cx.bad(n, format!("the filter '{w}' needs a known 4-D shape"))),
    }
}

/// Runs `body` on `x` in NCHW, transposing in and out when the node is NHWC.
fn in_nchw(
    cx: &mut Cx<'_>,
    nhwc: bool,
    x: &str,
    body: impl FnOnce(&mut Cx<'_>, &str) -> Result<String>,
) -> Result<String> {
    if !nhwc {
        return body(cx, x);
    }
    let xt = cx.transpose(x, &TO_NCHW)?;
    let y = body(cx, &xt)?;
    cx.transpose(&y, &TO_NHWC)
}

fn window_attrs(w: &Window, pads: Vec<(&'static str, A)>) -> Vec<(&'static str, A)> {
    let mut a = vec![
        ("kernel_shape", A::Ints(w.kernel.to_vec())),
        ("strides", A::Ints(w.strides.to_vec())),
        ("dilations", A::Ints(w.dilations.to_vec())),
    ];
    a.extend(pads);
    a
}

fn conv2d(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nhwc = is_nhwc(cx, n)?;
    let kernel = kernel_hw(cx, n, &ins[1])?;
    let w = window(cx, n, nhwc, kernel)?;
    // TF runs a grouped convolution when the input has a multiple of the filter's input channels.
    let c_axis = if nhwc { 3 } else { 1 };
    let group = match (cx.dim(&ins[0], c_axis), cx.dim(&ins[1], 2)) {
        (Some(c), Some(i)) if i > 0 && c != i && c % i == 0 => c / i,
        _ => 1,
    };
    let weight = cx.transpose(&ins[1], &[3, 2, 0, 1])?;
    let y = in_nchw(cx, nhwc, &ins[0], |cx, x| {
        let mut attrs = window_attrs(&w, padding(cx, n, x, &w, nhwc)?);
        attrs.push(("group", A::Int(group)));
        cx.op("Conv", &[x, &weight], attrs)
    })?;
    Ok(vec![y])
}

fn depthwise(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nhwc = is_nhwc(cx, n)?;
    let kernel = kernel_hw(cx, n, &ins[1])?;
    let w = window(cx, n, nhwc, kernel)?;
    let (Some(c), Some(m)) = (cx.dim(&ins[1], 2), cx.dim(&ins[1], 3)) else {
        return Err(cx.bad(n, "the filter's channel dims must be known"));
    };
    let [kh, kw] = kernel;
    let cm = c.checked_mul(m).ok_or_else(|| cx.bad(n, format!("the filter's {c}x{m} channels overflow")))?;
    let weight = match cx.const_of(&ins[1]) {
        Some(t) => {
            let t = t.permuted(&[2, 3, 0, 1])?.reshaped(vec![cm as usize, 1, kh as usize, kw as usize])?;
            cx.constant(t)
        }
        None => {
            let t = cx.transpose(&ins[1], &[2, 3, 0, 1])?;
            let shape = cx.i64s(&[cm, 1, kh, kw]);
            cx.op("Reshape", &[&t, &shape], vec![])?
        }
    };
    let y = in_nchw(cx, nhwc, &ins[0], |cx, x| {
        let mut attrs = window_attrs(&w, padding(cx, n, x, &w, nhwc)?);
        attrs.push(("group", A::Int(c)));
        cx.op("Conv", &[x, &weight], attrs)
    })?;
    Ok(vec![y])
}

fn conv_backprop_input(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nhwc = is_nhwc(cx, n)?;
    let sizes = cx.ints_of(n, &ins[0], "input_sizes")?;
    let out_hw = match (nhwc, sizes.as_slice()) {
        (true, [_, h, w, _]) | (false, [_, _, h, w]) => [*h, *w],
        _ => return Err(cx.bad(n, format!("input_sizes has {} entries, not 4", sizes.len()))),
    };
    let kernel = kernel_hw(cx, n, &ins[1])?;
    let w = window(cx, n, nhwc, kernel)?;
    // The forward convolution's pads, from the size of its input (our output).
    let pads: [i64; 4] = match cx.str(n, "padding", "")? {
        "VALID" => [0; 4],
        "SAME" => {
            let ([oh, ow], [sh, sw], [eh, ew]) = (out_hw, w.strides, w.effective());
            let (Some((hb, he)), Some((wb, we))) = (same_pads(oh, sh, eh), same_pads(ow, sw, ew)) else {
                return Err(cx.bad(n, format!("input_sizes {sizes:?} are too large for SAME padding")));
            };
            [hb, wb, he, we]
        }
        "EXPLICIT" => explicit_pads(cx, n, nhwc)?,
        p => return Err(cx.bad(n, format!("padding '{p}' is not SAME, VALID or EXPLICIT"))),
    };
    // The forward convolution's output size is the gradient's spatial size;
    // the rows the forward windows never reached come back as output_padding.
    let ([pb_h, pb_w, pe_h, pe_w], [o_h, o_w]) = (pads, out_hw);
    let axes = [(o_h, pb_h, pe_h), (o_w, pb_w, pe_w)];
    let mut output_padding = [0i64; 2];
    for ((((o, pb, pe), s), (e, d)), out) in
        axes.into_iter().zip(w.strides).zip(w.effective().into_iter().zip(w.dilations)).zip(output_padding.iter_mut())
    {
        let fit = || -> Option<i64> {
            let i = o.checked_add(pb)?.checked_add(pe)?.checked_sub(e)? / s + 1;
            let produced = s.checked_mul(i - 1)?.checked_add(e)?.checked_sub(pb)?.checked_sub(pe)?;
            o.checked_sub(produced).filter(|p| (0..s.max(d)).contains(p))
        };
        *out = fit().ok_or_else(|| cx.bad(n, format!("input_sizes {sizes:?} do not fit the window")))?;
    }
    let weight = cx.transpose(&ins[1], &[3, 2, 0, 1])?;
    let y = in_nchw(cx, nhwc, &ins[2], |cx, x| {
        let mut attrs = window_attrs(&w, vec![("pads", A::Ints(pads.to_vec()))]);
        attrs.push(("output_padding", A::Ints(output_padding.to_vec())));
        cx.op("ConvTranspose", &[x, &weight], attrs)
    })?;
    Ok(vec![y])
}

fn pool(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nhwc = is_nhwc(cx, n)?;
    let ksize = cx.ints(n, "ksize")?.ok_or_else(|| cx.bad(n, "attribute 'ksize' is missing"))?;
    let kernel = match (nhwc, ksize.as_slice()) {
        (true, [1, h, w, 1]) | (false, [1, 1, h, w]) => [*h, *w],
        _ => return Err(cx.bad(n, format!("ksize {ksize:?}: only spatial windows are supported"))),
    };
    let w = window(cx, n, nhwc, kernel)?;
    let op = if n.op == "AvgPool" { "AveragePool" } else { "MaxPool" };
    let y = in_nchw(cx, nhwc, &ins[0], |cx, x| {
        let mut attrs = vec![("kernel_shape", A::Ints(w.kernel.to_vec())), ("strides", A::Ints(w.strides.to_vec()))];
        attrs.extend(padding(cx, n, x, &w, nhwc)?);
        // TF's SAME average ignores the padded cells.
        if op == "AveragePool" {
            attrs.push(("count_include_pad", A::Int(0)));
        }
        cx.op(op, &[x], attrs)
    })?;
    Ok(vec![y])
}

fn bias_add(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let rank = cx.rank_of(n, &ins[0])?;
    let bias = if is_nhwc(cx, n)? || rank < 3 {
        ins[1].clone()
    } else {
        // Channels first: the bias runs along axis 1.
        let axes: Vec<i64> = (1..rank as i64 - 1).collect();
        let axes = cx.i64s(&axes);
        cx.op("Unsqueeze", &[&ins[1], &axes], vec![])?
    };
    Ok(vec![cx.op("Add", &[&ins[0], &bias], vec![])?])
}

/// `s = scale / sqrt(var + eps)` and `b = offset - mean·s`, folded in f64
/// when the four are constants.
fn batch_norm_consts(cx: &mut Cx<'_>, ins: Ins<'_>, eps: f32, to: DType) -> Option<(String, String)> {
    let vals: Vec<Vec<f64>> = ins[1..5]
        .iter()
        .map(|v| {
            let t = cx.const_of(v)?;
            Some(match t.dtype() {
                DType::F32 => t.as_slice::<f32>().ok()?.iter().map(|&x| f64::from(x)).collect(),
                DType::F64 => t.as_slice::<f64>().ok()?.to_vec(),
                _ => return None,
            })
        })
        .collect::<Option<_>>()?;
    let [scale, offset, mean, var] = vals.as_slice() else { return None };
    let c = scale.len();
    if vals.iter().any(|v| v.len() != c) {
        return None;
    }
    let s: Vec<f64> = scale.iter().zip(var).map(|(sc, v)| sc / (v + f64::from(eps)).sqrt()).collect();
    let b: Vec<f64> = offset.iter().zip(mean).zip(&s).map(|((o, m), s)| o - m * s).collect();
    let tensor = |v: &[f64]| -> Option<Tensor> {
        match to {
            DType::F32 => Tensor::from_vec(vec![c], v.iter().map(|&x| x as f32).collect()).ok(),
            DType::F64 => Tensor::from_vec(vec![c], v.to_vec()).ok(),
            DType::F16 => Tensor::from_vec(vec![c], v.iter().map(|&x| ir::f16::from_f64(x)).collect()).ok(),
            DType::BF16 => Tensor::from_vec(vec![c], v.iter().map(|&x| ir::bf16::from_f64(x)).collect()).ok(),
            _ => None,
        }
    };
    let (s, b) = (tensor(&s)?, tensor(&b)?);
    Some((cx.constant(s), cx.constant(b)))
}

fn fused_batch_norm(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    if cx.bool(n, "is_training", true)? {
        return Err(cx.bad(n, "is_training=true (batch statistics) is not supported; export the model for inference"));
    }
    let eps = cx.float(n, "epsilon", 1e-4)?;
    let data_type = cx.dtype_of(n, &ins[0])?;
    // Half-precision data is normalized in f32, as TF's kernels do, and rounded once.
    let half = matches!(data_type, DType::F16 | DType::BF16);
    let x = &if half { cx.cast(&ins[0], DType::F32)? } else { ins[0].clone() };
    let dt = if half { DType::F32 } else { data_type };
    let (s, b) = match batch_norm_consts(cx, ins, eps, dt) {
        Some(sb) => sb,
        None => {
            let pd = cx.dtype_of(n, &ins[1])?;
            let e = cx.scalar(f64::from(eps), pd)?;
            let v = cx.op("Add", &[&ins[4], &e], vec![])?;
            let r = cx.op("Sqrt", &[&v], vec![])?;
            let s = cx.op("Div", &[&ins[1], &r], vec![])?;
            let ms = cx.op("Mul", &[&ins[3], &s], vec![])?;
            let b = cx.op("Sub", &[&ins[2], &ms], vec![])?;
            (cx.cast(&s, dt)?, cx.cast(&b, dt)?)
        }
    };
    let (s, b) = if is_nhwc(cx, n)? {
        (s, b)
    } else {
        let rank = cx.rank_of(n, x)?;
        let axes: Vec<i64> = (1..rank as i64 - 1).collect();
        let axes = cx.i64s(&axes);
        (cx.op("Unsqueeze", &[&s, &axes], vec![])?, cx.op("Unsqueeze", &[&b, &axes], vec![])?)
    };
    let xs = cx.op("Mul", &[x, &s], vec![])?;
    let y = cx.op("Add", &[&xs, &b], vec![])?;
    let y = cx.cast(&y, data_type)?;
    // In inference mode the batch statistics are the moving ones passed in.
    let mut outs = vec![y, ins[3].clone(), ins[4].clone(), ins[3].clone(), ins[4].clone()];
    if n.op == "FusedBatchNormV3" {
        outs.push(ins[3].clone());
    }
    Ok(outs)
}

fn softmax(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(vec![cx.op(cx.target, &[&ins[0]], vec![("axis", A::Int(-1))])?])
}

/// Swaps the last two axes of `v` (rank `rank`).
fn swap_last(cx: &mut Cx<'_>, v: &str, rank: usize) -> Result<String> {
    let mut perm: Vec<usize> = (0..rank).collect();
    perm.swap(rank - 2, rank - 1);
    cx.transpose(v, &perm)
}

fn matmul(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (ta, tb) = if n.op == "MatMul" {
        (cx.bool(n, "transpose_a", false)?, cx.bool(n, "transpose_b", false)?)
    } else {
        (cx.bool(n, "adj_x", false)?, cx.bool(n, "adj_y", false)?)
    };
    let mut ops = Vec::new();
    for (v, t) in [(&ins[0], ta), (&ins[1], tb)] {
        let v = if t {
            let r = cx.rank_of(n, v)?;
            if r < 2 {
                return Err(cx.bad(n, format!("'{v}' has rank {r}; a transposed operand needs 2 or more")));
            }
            swap_last(cx, v, r)?
        } else {
            v.clone()
        };
        // BatchMatMulV3 multiplies in its output type (int8 inputs to int32 results).
        let v = match type_attr(n, "Tout") {
            Some(to) => cx.cast(&v, to)?,
            None => v,
        };
        ops.push(v);
    }
    let [a, b] = ops.as_slice() else { return Err(cx.bad(n, "MatMul needs two operands")) };
    Ok(vec![cx.op("MatMul", &[a, b], vec![])?])
}

fn einsum(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let eq = cx.str(n, "equation", "")?.to_string();
    if eq.is_empty() {
        return Err(cx.bad(n, "attribute 'equation' is missing"));
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(vec![cx.op("Einsum", &refs, vec![("equation", A::String(eq))])?])
}

fn resize(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let align = cx.bool(n, "align_corners", false)?;
    let half = cx.bool(n, "half_pixel_centers", false)?;
    if align && half {
        return Err(cx.bad(n, "align_corners and half_pixel_centers cannot both be set"));
    }
    let bilinear = n.op == "ResizeBilinear";
    let (coord, nearest) = match (align, half) {
        (true, _) => ("align_corners", "round_prefer_ceil"),
        // TF's nearest half-pixel index is floor((o + 0.5)·scale): ONNX's
        // half_pixel coordinate rounded half up.
        (_, true) => ("half_pixel", "round_prefer_ceil"),
        _ => ("asymmetric", "floor"),
    };
    let mut x = ins[0].clone();
    // ResizeBilinear always computes and returns f32.
    if bilinear && cx.dtype_of(n, &x)? != DType::F32 {
        x = cx.cast(&x, DType::F32)?;
    }
    let xt = cx.transpose(&x, &TO_NCHW)?;
    let hw = cx.as_i64(&ins[1])?;
    let sizes = match (cx.dim(&xt, 0), cx.dim(&xt, 1), cx.const_ints(&hw).as_deref()) {
        (Some(b), Some(c), Some(&[h, w])) => cx.i64s(&[b, c, h, w]),
        _ => {
            let shape = cx.op("Shape", &[&xt], vec![])?;
            let (s0, s2, s_ax) = (cx.i64s(&[0]), cx.i64s(&[2]), cx.i64s(&[0]));
            let nc = cx.op("Slice", &[&shape, &s0, &s2, &s_ax], vec![])?;
            cx.op("Concat", &[&nc, &hw], vec![("axis", A::Int(0))])?
        }
    };
    let mut attrs = vec![
        ("mode", A::String(if bilinear { "linear" } else { "nearest" }.into())),
        ("coordinate_transformation_mode", A::String(coord.into())),
    ];
    if !bilinear {
        attrs.push(("nearest_mode", A::String(nearest.into())));
    }
    let y = cx.emit("Resize", vec![Some(xt), None, None, Some(sizes)], 1, attrs)?.remove(0);
    Ok(vec![cx.transpose(&y, &TO_NHWC)?])
}

fn space_depth(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let nhwc = is_nhwc(cx, n)?;
    let bs = cx.int(n, "block_size", 0)?;
    // TF itself wants 2 or more; 1 (the identity) is read as written.
    if !(1..=MAX_WINDOW).contains(&bs) {
        return Err(cx.bad(n, format!("block_size {bs} is not in 1..={MAX_WINDOW}")));
    }
    let rank = cx.rank_of(n, &ins[0])?;
    if rank != 4 {
        return Err(cx.bad(n, format!("the input has rank {rank}, not 4")));
    }
    // The TF op's name is the canonical op's.
    let op = if n.op == "DepthToSpace" { "DepthToSpace" } else { "SpaceToDepth" };
    let mut attrs = vec![("blocksize", A::Int(bs))];
    if op == "DepthToSpace" {
        attrs.push(("mode", A::String("DCR".into())));
    }
    Ok(vec![in_nchw(cx, nhwc, &ins[0], |cx, x| cx.op(op, &[x], attrs))?])
}

fn determinant(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let d = cx.dtype_of(n, &ins[0])?;
    if !d.is_float() {
        return Err(cx.bad(n, format!("MatrixDeterminant takes floats, not {d}")));
    }
    Ok(vec![cx.op("Det", &[&ins[0]], vec![])?])
}

fn top_k(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let k = cx.as_i64_vector(&ins[1])?;
    // Sorted whatever `sorted` says: any order is allowed when it is false.
    let attrs = vec![("axis", A::Int(-1)), ("largest", A::Int(1)), ("sorted", A::Int(1))];
    let outs = cx.emit("TopK", vec![Some(ins[0].clone()), Some(k)], 2, attrs)?;
    let to = type_attr(n, "index_type").unwrap_or(DType::I32);
    let [values, indices] = outs.as_slice() else { return Err(cx.bad(n, "TopK must have two outputs")) };
    let idx = cx.cast(indices, to)?;
    Ok(vec![values.clone(), idx])
}

const ONE: Ports = Ports::exactly(1);
const TWO: Ports = Ports::exactly(2);

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("AvgPool", ONE, "Transpose + AveragePool + Transpose", pool)
        .notes("NHWC/NCHW; SAME excludes padding from the count"),
    Rule::new("BatchMatMulV2", TWO, "MatMul", matmul).notes("`adj_x`/`adj_y` as Transposes of the last two axes"),
    Rule::new("BatchMatMulV3", TWO, "MatMul", matmul).notes("as V2; inputs cast to `Tout`"),
    Rule::new("BiasAdd", TWO, "Add", bias_add).notes("NHWC: last axis; NCHW: axis 1"),
    Rule::new("Conv2D", TWO, "Transpose + Conv + Transpose", conv2d)
        .notes("NHWC/NCHW; SAME/VALID/EXPLICIT; strides, dilations; groups; HWIO weights permuted once"),
    Rule::new("Conv2DBackpropInput", Ports::exactly(3), "Transpose + ConvTranspose + Transpose", conv_backprop_input)
        .notes("constant `input_sizes` give pads and output_padding; otherwise as Conv2D"),
    Rule::new("DepthToSpace", ONE, "Transpose + DepthToSpace + Transpose", space_depth)
        .notes("`block_size`; NHWC/NCHW; DCR order"),
    Rule::new("DepthwiseConv2dNative", TWO, "Transpose + Conv (group) + Transpose", depthwise)
        .notes("HWCM weights → (C·M, 1, H, W), group C; otherwise as Conv2D"),
    Rule::new("Einsum", Ports::at_least(1), "Einsum", einsum).notes("`equation`"),
    Rule::new("FusedBatchNorm", Ports::exactly(5), "Mul + Add", fused_batch_norm)
        .notes("inference only; constants folded to x·s + b"),
    Rule::new("FusedBatchNormV2", Ports::exactly(5), "Mul + Add", fused_batch_norm)
        .notes("inference only; constants folded to x·s + b"),
    Rule::new("FusedBatchNormV3", Ports::exactly(5), "Mul + Add", fused_batch_norm)
        .notes("inference only; constants folded to x·s + b; f16 data with f32 statistics"),
    Rule::new("LogSoftmax", ONE, "LogSoftmax", softmax).notes("last axis"),
    Rule::new("MatMul", TWO, "MatMul", matmul).notes("`transpose_a`/`transpose_b` (constants permuted once)"),
    Rule::new("MatrixDeterminant", ONE, "Det", determinant).notes("batched over leading axes"),
    Rule::new("MaxPool", ONE, "Transpose + MaxPool + Transpose", pool).notes("NHWC/NCHW; SAME/VALID/EXPLICIT"),
    Rule::new("ResizeBilinear", TWO, "Transpose + Resize + Transpose", resize)
        .notes("`align_corners` → align_corners, `half_pixel_centers` → half_pixel, else asymmetric; f32 out"),
    Rule::new("ResizeNearestNeighbor", TWO, "Transpose + Resize + Transpose", resize)
        .notes("align_corners / half_pixel rounding half up; legacy: asymmetric floor"),
    Rule::new("Softmax", ONE, "Softmax", softmax).notes("last axis"),
    Rule::new("SpaceToDepth", ONE, "Transpose + SpaceToDepth + Transpose", space_depth)
        .notes("`block_size`; NHWC/NCHW"),
    Rule::new("TopKV2", TWO, "TopK (+ Cast)", top_k).notes("last axis, always sorted; i32 indices"),
];
