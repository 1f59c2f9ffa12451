//! Convolutions, pools, normalizations, matrix products and softmax.
//!
//! TensorFlow's CPU convolution and pooling kernels run NHWC only, so the
//! canonical NCHW ops read their input in NHWC (a `Transpose` only if the
//! input is not NHWC already) and produce NHWC; weights are permuted once
//! (OIHW → HWIO; depthwise OIHW → HW·C·multiplier). ONNX pads become
//! `VALID`, `SAME` (`SAME_UPPER`, TF's extra row at the end) or `EXPLICIT`
//! paddings.

use ir::{DType, Error, Node, Result};

use super::{Ex, Rule, bool_attr, float_attr, ints_attr, layout, str_attr, ty, unsupported};

/// The 2-D spatial attributes of a conv or pool.
struct Window {
    strides: [i64; 2],
    dilations: [i64; 2],
    /// `VALID`, `SAME` or `EXPLICIT`.
    padding: &'static str,
    /// `[top, bottom, left, right]` for `EXPLICIT`.
    pads: [i64; 4],
}

fn pair(v: Option<&[i64]>, default: i64) -> [i64; 2] {
    match v {
        Some([a, b]) => [*a, *b],
        _ => [default, default],
    }
}

/// A 1-D window's attribute lifted to 2-D (a leading 1).
fn lifted(n: &Node, name: &str) -> Result<Option<Vec<i64>>> {
    Ok(n.attr_ints(name)?.map(|v| if v.len() == 1 { vec![1, v[0]] } else { v.to_vec() }))
}

/// Spatial size `a` (of H, W) of `x`, a 1-D input having H = 1.
fn spatial_size(ex: &Ex<'_>, x: &str, a: usize) -> Option<i64> {
    let dims = ex.dims(x)?;
    match dims.len() {
        3 if a == 0 => Some(1),
        3 => dims[2].map(|v| v as i64),
        _ => dims.get(2 + a).copied().flatten().map(|v| v as i64),
    }
}

fn window(ex: &Ex<'_>, n: &Node, kernel: [i64; 2], x: &str) -> Result<Window> {
    let strides = pair(lifted(n, "strides")?.as_deref(), 1);
    let dilations = pair(lifted(n, "dilations")?.as_deref(), 1);
    let auto_pad = n.attr_str("auto_pad", "NOTSET")?;
    let mut pads = match n.attr_ints("pads")? {
        Some([t, l, b, r]) => [*t, *b, *l, *r],
        Some([b, e]) => [0, 0, *b, *e],
        Some(_) => return Err(unsupported(n, "pads of a window that is not 1-D or 2-D")),
        None => [0; 4],
    };
    let padding = match auto_pad {
        "VALID" => "VALID",
        "SAME_UPPER" => "SAME",
        "SAME_LOWER" => {
            // The extra row goes first: explicit pads from the static size.
            for a in 0..2 {
                let size =
                    spatial_size(ex, x, a).ok_or_else(|| unsupported(n, "SAME_LOWER with unknown input size"))?;
                let out = (size + strides[a] - 1) / strides[a];
                let eff = (kernel[a] - 1) * dilations[a] + 1;
                let total = ((out - 1) * strides[a] + eff - size).max(0);
                pads[2 * a] = total - total / 2;
                pads[2 * a + 1] = total / 2;
            }
            "EXPLICIT"
        }
        _ => "EXPLICIT",
    };
    let padding = if padding == "EXPLICIT" && pads.iter().all(|&p| p == 0) { "VALID" } else { padding };
    if n.attr_int("ceil_mode", 0)? != 0 {
        // Ceil mode adds end padding when the last window would be partial.
        for a in 0..2 {
            let size = spatial_size(ex, x, a).ok_or_else(|| unsupported(n, "ceil_mode with unknown input size"))?;
            let eff = (kernel[a] - 1) * dilations[a] + 1;
            let span = size + pads[2 * a] + pads[2 * a + 1] - eff;
            if span % strides[a] != 0 {
                return Err(unsupported(n, "ceil_mode=1 with a partial last window"));
            }
        }
    }
    Ok(Window { strides, dilations, padding, pads })
}

/// Whether explicit `pads` are what TF's SAME computes (static sizes only).
fn same_pads(ex: &Ex<'_>, x: &str, kernel: [i64; 2], w: &Window) -> bool {
    (0..2).all(|a| {
        let Some(size) = spatial_size(ex, x, a) else { return false };
        // In i128: strides, dilations and kernels come from the file (a
        // fuzzed model overflowed i64 here).
        let (size, s, d, k) =
            (i128::from(size), i128::from(w.strides[a]), i128::from(w.dilations[a]), i128::from(kernel[a]));
        if s <= 0 {
            return false;
        }
        let out = (size + s - 1) / s;
        let eff = (k - 1) * d + 1;
        let total = ((out - 1) * s + eff - size).max(0);
        i128::from(w.pads[2 * a]) == total / 2 && i128::from(w.pads[2 * a + 1]) == total - total / 2
    })
}

fn window_attrs(w: &Window, attrs: &mut Vec<(&'static str, super::AttrValue)>) {
    attrs.push(("padding", str_attr(w.padding)));
    attrs.push(("data_format", str_attr("NHWC")));
    if w.padding == "EXPLICIT" {
        let p = w.pads;
        attrs.push(("explicit_paddings", ints_attr(&[0, 0, p[0], p[1], p[2], p[3], 0, 0])));
    }
}

/// The rank of a conv/pool input: 3 (1-D) or 4 (2-D).
fn need_spatial(ex: &Ex<'_>, n: &Node, x: &str) -> Result<usize> {
    match ex.rank(x) {
        Some(r @ (3 | 4)) => Ok(r),
        r => Err(unsupported(
            n,
            &format!(
                "a {}-D input (1-D and 2-D spatial NC.. are written)",
                r.map_or("?".into(), |r| (r as i64 - 2).to_string())
            ),
        )),
    }
}

fn need_rank4(ex: &Ex<'_>, n: &Node, x: &str) -> Result<()> {
    match ex.rank(x) {
        Some(4) => Ok(()),
        r => Err(unsupported(
            n,
            &format!(
                "a {}-D input (only 2-D spatial NCHW is written)",
                r.map_or("?".into(), |r| (r as i64 - 2).to_string())
            ),
        )),
    }
}

fn conv(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let w = ex.in_name(n, 1)?;
    let one_d = need_spatial(ex, n, x)? == 3;
    let d = ex.dtype(x)?;
    let wd = ex.dims(w).ok_or_else(|| unsupported(n, "a weight of unknown shape"))?;
    let wdim = |i: usize| wd.get(i).copied().flatten().ok_or_else(|| unsupported(n, "a weight of unknown shape"));
    let (o, i_per_group) = (wdim(0)? as i64, wdim(1)? as i64);
    let kernel = if one_d { [1, wdim(2)? as i64] } else { [wdim(2)? as i64, wdim(3)? as i64] };
    let group = n.attr_int("group", 1)?;
    // Grouped convolutions become one Conv2D per group: a group count from
    // a file must be one the weight can have (2^31 - 1 groups made the
    // graph exhaust memory).
    if group < 1 || group > o || o % group != 0 {
        return Err(Error::invalid(format!(
            "node {}: group {group} does not divide the weight's {o} output channels",
            n.describe()
        )));
    }
    let mut win = window(ex, n, kernel, x)?;
    let mut xt = nhwc_input(ex, n, one_d)?;
    let depthwise = group > 1 && i_per_group == 1 && o % group == 0;
    if depthwise && win.padding == "EXPLICIT" {
        // TF 2.21's oneDNN remapper aborts the process on a depthwise conv
        // with EXPLICIT padding followed by BiasAdd: use SAME when the pads
        // are SAME's, else pad first.
        if same_pads(ex, x, kernel, &win) {
            win.padding = "SAME";
        } else {
            let p = win.pads;
            let paddings = ex.constant(&ir::Tensor::from_vec(
                vec![4, 2],
                vec![0i32, 0, p[0] as i32, p[1] as i32, p[2] as i32, p[3] as i32, 0, 0],
            )?)?;
            let zero = ex.scalar(0.0, d)?;
            xt = ex.op("PadV2", vec![xt, paddings, zero], vec![("T", ty(d)?), ("Tpaddings", ty(DType::I32)?)]);
            win.padding = "VALID";
        }
    }
    let hwio = if one_d {
        // [O, I, k] → [1, k, I, O].
        let full = [1, kernel[1], i_per_group, o];
        match ex.const_value(w).cloned() {
            Some(t) => ex.constant(&t.permuted(&[2, 1, 0])?.reshaped(full.iter().map(|&v| v as usize).collect())?)?,
            None => {
                let kio = ex.in_layout_of(w, &[2, 1, 0])?;
                let shape = ex.ints(&full, DType::I32)?;
                ex.op("Reshape", vec![kio, shape], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)])
            }
        }
    } else {
        ex.in_layout_of(w, &[2, 3, 1, 0])?
    };
    let mut attrs = vec![("T", ty(d)?), ("strides", ints_attr(&[1, win.strides[0], win.strides[1], 1]))];
    attrs.push(("dilations", ints_attr(&[1, win.dilations[0], win.dilations[1], 1])));
    window_attrs(&win, &mut attrs);
    let y = if depthwise {
        // Depthwise: filter [kh, kw, C, multiplier]; O = c * multiplier + m.
        let shape = ex.ints(&[kernel[0], kernel[1], group, o / group], DType::I32)?;
        let f = match ex.const_value(w).cloned().filter(|_| !one_d) {
            Some(t) => {
                let p = t.permuted(&[2, 3, 1, 0])?.reshaped(vec![
                    kernel[0] as usize,
                    kernel[1] as usize,
                    group as usize,
                    (o / group) as usize,
                ])?;
                ex.constant(&p)?
            }
            None => ex.op("Reshape", vec![hwio, shape], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)]),
        };
        ex.op("DepthwiseConv2dNative", vec![xt, f], attrs)
    } else if group > 1 {
        // Grouped: split input channels and filters, one Conv2D per group.
        let three = ex.i32_scalar(3)?;
        let xs = ex.op("Split", vec![three.clone(), xt], vec![("T", ty(d)?), ("num_split", super::int_attr(group))]);
        let fs = ex.op("Split", vec![three.clone(), hwio], vec![("T", ty(d)?), ("num_split", super::int_attr(group))]);
        let mut parts = Vec::new();
        for g in 0..group {
            parts.push(ex.op("Conv2D", vec![format!("{xs}:{g}"), format!("{fs}:{g}")], attrs.clone()));
        }
        let mut ins = parts;
        ins.push(three);
        ex.op("ConcatV2", ins, vec![("T", ty(d)?), ("N", super::int_attr(group)), ("Tidx", ty(DType::I32)?)])
    } else {
        ex.op("Conv2D", vec![xt, hwio], attrs)
    };
    let y = bias(ex, n, y, d)?;
    bind_spatial(ex, n, y, d, one_d)
}

/// Input 0 as NHWC; a 1-D (NCW) input as NWC with an H axis of 1 inserted.
fn nhwc_input(ex: &mut Ex<'_>, n: &Node, one_d: bool) -> Result<String> {
    if !one_d {
        return ex.in_layout(n, 0, &layout::NHWC);
    }
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let nwc = ex.in_layout(n, 0, &[0, 2, 1])?;
    let one = ex.i32_scalar(1)?;
    Ok(ex.op("ExpandDims", vec![nwc, one], vec![("T", ty(d)?), ("Tdim", ty(DType::I32)?)]))
}

/// Binds an NHWC result; a 1-D one loses its H axis again and is held NWC.
fn bind_spatial(ex: &mut Ex<'_>, n: &Node, y: String, d: DType, one_d: bool) -> Result<()> {
    if one_d {
        let s = ex.op("Squeeze", vec![y], vec![("T", ty(d)?), ("squeeze_dims", ints_attr(&[1]))]);
        ex.bind_perm(n, 0, s, Some(vec![0, 2, 1]));
    } else {
        ex.bind_perm(n, 0, y, Some(layout::NHWC.to_vec()));
    }
    Ok(())
}

/// Adds input 2 (a per-channel bias) along the NHWC channel axis.
fn bias(ex: &mut Ex<'_>, n: &Node, y: String, d: DType) -> Result<String> {
    if !Ex::has_input(n, 2) {
        return Ok(y);
    }
    let b = ex.logical(n, 2)?;
    Ok(ex.op("BiasAdd", vec![y, b], vec![("T", ty(d)?), ("data_format", str_attr("NHWC"))]))
}

fn conv_transpose(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let w = ex.in_name(n, 1)?;
    need_rank4(ex, n, x)?;
    if n.attr_int("group", 1)? != 1 {
        return Err(unsupported(n, "grouped ConvTranspose"));
    }
    let d = ex.dtype(x)?;
    let out = ex.out_name(n, 0);
    let od = ex.dims(out).ok_or_else(|| unsupported(n, "an output of unknown size"))?;
    let spatial: Vec<i64> = (1..4)
        .map(|i| {
            od.get(i).copied().flatten().map(|v| v as i64).ok_or_else(|| unsupported(n, "an output of unknown size"))
        })
        .collect::<Result<_>>()?;
    let wd = ex.dims(w).ok_or_else(|| unsupported(n, "a weight of unknown shape"))?;
    let kdim = |i: usize| {
        wd.get(i).copied().flatten().map(|v| v as i64).ok_or_else(|| unsupported(n, "a weight of unknown shape"))
    };
    let kernel = [kdim(2)?, kdim(3)?];
    let strides = pair(n.attr_ints("strides")?, 1);
    let dilations = pair(n.attr_ints("dilations")?, 1);
    let pads = match n.attr_ints("pads")? {
        Some([t, l, b, r]) => [*t, *b, *l, *r],
        _ => [0; 4],
    };
    let auto_pad = n.attr_str("auto_pad", "NOTSET")?;
    let (padding, pads) = match auto_pad {
        "SAME_UPPER" | "SAME_LOWER" => {
            // Total padding from the output size; SAME_UPPER puts the extra at the end.
            let xd = ex.dims(x).unwrap_or_default();
            let mut p = [0; 4];
            for a in 0..2 {
                let inp = xd.get(2 + a).copied().flatten().unwrap_or(1) as i64;
                let total = ((inp - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1 - spatial[1 + a]).max(0);
                let (lo, hi) = if auto_pad == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                p[2 * a] = lo;
                p[2 * a + 1] = hi;
            }
            ("EXPLICIT", p)
        }
        _ => ("EXPLICIT", pads),
    };
    let padding = if pads.iter().all(|&p| p == 0) { "VALID" } else { padding };
    let xt = ex.in_layout(n, 0, &layout::NHWC)?;
    // Conv2DBackpropInput's filter is [kh, kw, out, in]; ONNX's [in, out, kh, kw].
    let f = ex.in_layout_of(w, &[2, 3, 1, 0])?;
    // input_sizes: the NHWC output shape, batch read at run time.
    let shape = ex.op("Shape", vec![xt.clone()], vec![("T", ty(d)?), ("out_type", ty(DType::I32)?)]);
    let (b0, b1, s1) = (ex.ints(&[0], DType::I32)?, ex.ints(&[1], DType::I32)?, ex.ints(&[1], DType::I32)?);
    let batch =
        ex.op("StridedSlice", vec![shape, b0, b1, s1], vec![("T", ty(DType::I32)?), ("Index", ty(DType::I32)?)]);
    let rest = ex.ints(&[spatial[1], spatial[2], spatial[0]], DType::I32)?;
    let axis = ex.i32_scalar(0)?;
    let sizes = ex.op(
        "ConcatV2",
        vec![batch, rest, axis],
        vec![("T", ty(DType::I32)?), ("N", super::int_attr(2)), ("Tidx", ty(DType::I32)?)],
    );
    let mut attrs = vec![("T", ty(d)?), ("strides", ints_attr(&[1, strides[0], strides[1], 1]))];
    attrs.push(("dilations", ints_attr(&[1, dilations[0], dilations[1], 1])));
    attrs.push(("padding", str_attr(padding)));
    attrs.push(("data_format", str_attr("NHWC")));
    if padding == "EXPLICIT" {
        attrs.push(("explicit_paddings", ints_attr(&[0, 0, pads[0], pads[1], pads[2], pads[3], 0, 0])));
    }
    let y = ex.op("Conv2DBackpropInput", vec![sizes, f, xt], attrs);
    let y = bias(ex, n, y, d)?;
    ex.bind_perm(n, 0, y, Some(layout::NHWC.to_vec()));
    Ok(())
}

fn pool(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let one_d = need_spatial(ex, n, x)? == 3;
    if n.outputs.len() > 1 && !n.outputs[1].is_empty() {
        return Err(unsupported(n, "MaxPool's Indices output"));
    }
    let d = ex.dtype(x)?;
    let kernel = pair(lifted(n, "kernel_shape")?.as_deref(), 1);
    let win = window(ex, n, kernel, x)?;
    if win.dilations != [1, 1] {
        return Err(unsupported(n, "pool dilations"));
    }
    let mut xt = nhwc_input(ex, n, one_d)?;
    let mut padding = win.padding;
    if padding == "EXPLICIT" {
        let include = n.attr_int("count_include_pad", 0)? != 0;
        if op == "AvgPool" && !include {
            return Err(unsupported(n, "AveragePool with explicit pads excluded from the count"));
        }
        // MaxPool pads with the lowest value, AvgPool (counting pads) with zeros.
        let p = win.pads;
        let paddings = ex.constant(&ir::Tensor::from_vec(
            vec![4, 2],
            vec![0i32, 0, p[0] as i32, p[1] as i32, p[2] as i32, p[3] as i32, 0, 0],
        )?)?;
        let fill = if op == "MaxPool" { f64::NEG_INFINITY } else { 0.0 };
        let c = ex.scalar(fill, d)?;
        xt = ex.op("PadV2", vec![xt, paddings, c], vec![("T", ty(d)?), ("Tpaddings", ty(DType::I32)?)]);
        padding = "VALID";
    } else if padding == "SAME" && op == "AvgPool" && n.attr_int("count_include_pad", 0)? != 0 {
        return Err(unsupported(n, "AveragePool SAME padding counted in the average"));
    }
    let attrs = vec![
        ("T", ty(d)?),
        ("ksize", ints_attr(&[1, kernel[0], kernel[1], 1])),
        ("strides", ints_attr(&[1, win.strides[0], win.strides[1], 1])),
        ("padding", str_attr(padding)),
        ("data_format", str_attr("NHWC")),
    ];
    let y = ex.op(op, vec![xt], attrs);
    bind_spatial(ex, n, y, d, one_d)
}

fn max_pool(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    pool(ex, n, "MaxPool")
}

fn average_pool(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    pool(ex, n, "AvgPool")
}

/// `GlobalAveragePool`/`GlobalMaxPool`: a kept-dims reduction over every
/// spatial axis, in whatever layout the input is held.
fn global_pool(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let axes: Vec<usize> = (2..r).collect();
    super::reduce::reduce_axes(ex, n, x, op, &axes, true)
}

fn global_average_pool(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    global_pool(ex, n, "Mean")
}

fn global_max_pool(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    global_pool(ex, n, "Max")
}

fn batch_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let eps = n.attr_float("epsilon", 1e-5)?;
    if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(unsupported(n, "training-mode BatchNormalization"));
    }
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    if r == 4 && d == DType::F32 {
        let xt = ex.in_layout(n, 0, &layout::NHWC)?;
        let ins = [xt, ex.logical(n, 1)?, ex.logical(n, 2)?, ex.logical(n, 3)?, ex.logical(n, 4)?];
        let y = ex.op(
            "FusedBatchNormV3",
            ins.to_vec(),
            vec![
                ("T", ty(d)?),
                ("U", ty(DType::F32)?),
                ("epsilon", float_attr(eps)),
                ("data_format", str_attr("NHWC")),
                ("is_training", bool_attr(false)),
            ],
        );
        ex.bind_perm(n, 0, y, Some(layout::NHWC.to_vec()));
        return Ok(());
    }
    // Other ranks: (x - mean) * scale / sqrt(var + eps) + bias on axis 1,
    // per-channel vectors reshaped to [C, 1, ...] for broadcasting.
    let mut shape = vec![-1i64];
    shape.extend(std::iter::repeat_n(1, r.saturating_sub(2)));
    let shape = ex.ints(&shape, DType::I32)?;
    let mut chan = Vec::new();
    for i in 1..5 {
        let v = ex.logical(n, i)?;
        chan.push(ex.op("Reshape", vec![v, shape.clone()], vec![("T", ty(d)?), ("Tshape", ty(DType::I32)?)]));
    }
    let xl = ex.logical(n, 0)?;
    let e = ex.scalar(f64::from(eps), d)?;
    let ve = ex.op_t("AddV2", vec![chan[3].clone(), e], d)?;
    let rs = ex.op_t("Rsqrt", vec![ve], d)?;
    let k = ex.op_t("Mul", vec![chan[0].clone(), rs], d)?;
    let c = ex.op_t("Sub", vec![xl, chan[2].clone()], d)?;
    let m = ex.op_t("Mul", vec![c, k], d)?;
    let y = ex.op_t("AddV2", vec![m, chan[1].clone()], d)?;
    ex.bind(n, 0, y);
    Ok(())
}

fn layer_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))? as i64;
    let axis = n.attr_int("axis", -1)?;
    let axis = if axis < 0 { axis + r } else { axis };
    if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(unsupported(n, "LayerNormalization's mean/inv_std_dev outputs"));
    }
    let eps = f64::from(n.attr_float("epsilon", 1e-5)?);
    // Runs in the input's layout when the normalized axes are its trailing
    // physical axes in order (scale and bias broadcast on them as they are).
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r as usize));
    let tail: Vec<usize> = (axis as usize..r as usize).collect();
    let in_layout = p.ends_with(&tail);
    let (xl, p) = if in_layout { (v.t, p) } else { (ex.logical(n, 0)?, layout::identity(r as usize)) };
    let axes: Vec<i64> = (axis..r).collect();
    let ax = ex.ints(&axes, DType::I32)?;
    let mattrs = vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(true))];
    let mean = ex.op("Mean", vec![xl.clone(), ax.clone()], mattrs.clone());
    let c = ex.op_t("Sub", vec![xl, mean], d)?;
    let sq = ex.op_t("Square", vec![c.clone()], d)?;
    let var = ex.op("Mean", vec![sq, ax], mattrs);
    let e = ex.scalar(eps, d)?;
    let ve = ex.op_t("AddV2", vec![var, e], d)?;
    let rs = ex.op_t("Rsqrt", vec![ve], d)?;
    let mut y = ex.op_t("Mul", vec![c, rs], d)?;
    let scale = ex.logical(n, 1)?;
    y = ex.op_t("Mul", vec![y, scale], d)?;
    if Ex::has_input(n, 2) {
        let b = ex.logical(n, 2)?;
        y = ex.op_t("AddV2", vec![y, b], d)?;
    }
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn softmax_like(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let default = if ex.opset() >= 13 { -1 } else { 1 };
    let given = n.attr_int("axis", default)?;
    let axis = usize::try_from(if given < 0 { given.saturating_add(r as i64) } else { given })
        .ok()
        .filter(|&a| a < r)
        .ok_or_else(|| Error::invalid(format!("{}: axis {given} is out of range for rank {r}", n.describe())))?;
    if ex.opset() < 13 && axis + 1 != r {
        return Err(unsupported(n, "opset < 13 Softmax over flattened trailing axes"));
    }
    // TF normalizes the last axis: keep the input's layout if the axis is
    // already last there, else move it last.
    let current = ex.perm_of(x).unwrap_or_else(|| layout::identity(r));
    let target = if current.last() == Some(&axis) {
        current
    } else {
        let mut t: Vec<usize> = (0..r).filter(|&a| a != axis).collect();
        t.push(axis);
        t
    };
    let xt = ex.in_layout_of(x, &target)?;
    let y = ex.op_t(op, vec![xt], d)?;
    ex.bind_perm(n, 0, y, Some(target));
    Ok(())
}

fn softmax(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    softmax_like(ex, n, "Softmax")
}

fn log_softmax(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    softmax_like(ex, n, "LogSoftmax")
}

fn matmul(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let a = ex.in_name(n, 0)?;
    let d = ex.dtype(a)?;
    let (ra, rb) = (ex.rank(a), ex.rank(ex.in_name(n, 1)?));
    // An operand held with its last two axes swapped is read as is, with
    // the product's transpose flag set instead of a Transpose.
    let operand = |ex: &mut Ex<'_>, i: usize| -> Result<(String, bool)> {
        let name = ex.in_name(n, i)?;
        let r = ex.rank(name).unwrap_or(0);
        if r >= 2 && !matches!(d, DType::C64 | DType::C128) {
            let mut swapped = layout::identity(r);
            swapped.swap(r - 2, r - 1);
            if ex.perm_of(name).as_deref() == Some(&swapped[..]) {
                return Ok((ex.val(name)?.t, true));
            }
        }
        Ok((ex.logical(n, i)?, false))
    };
    let ((xa, ta), (xb, tb)) = (operand(ex, 0)?, operand(ex, 1)?);
    let y = if ra == Some(2) && rb == Some(2) {
        ex.op(
            "MatMul",
            vec![xa, xb],
            vec![("T", ty(d)?), ("transpose_a", bool_attr(ta)), ("transpose_b", bool_attr(tb))],
        )
    } else {
        ex.op("BatchMatMulV2", vec![xa, xb], vec![("T", ty(d)?), ("adj_x", bool_attr(ta)), ("adj_y", bool_attr(tb))])
    };
    ex.bind(n, 0, y);
    Ok(())
}

fn gemm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let a = ex.in_name(n, 0)?;
    let d = ex.dtype(a)?;
    let alpha = f64::from(n.attr_float("alpha", 1.0)?);
    let beta = f64::from(n.attr_float("beta", 1.0)?);
    let (ta, tb) = (n.attr_int("transA", 0)? != 0, n.attr_int("transB", 0)? != 0);
    let (xa, xb) = (ex.logical(n, 0)?, ex.logical(n, 1)?);
    let mut y = ex.op(
        "MatMul",
        vec![xa, xb],
        vec![("T", ty(d)?), ("transpose_a", bool_attr(ta)), ("transpose_b", bool_attr(tb))],
    );
    if alpha != 1.0 {
        let k = ex.scalar(alpha, d)?;
        y = ex.op_t("Mul", vec![y, k], d)?;
    }
    if Ex::has_input(n, 2) && beta != 0.0 {
        let c_name = ex.in_name(n, 2)?;
        let c = match ex.const_value(c_name).cloned() {
            Some(t) if beta != 1.0 => {
                let scaled: Vec<f64> = t.to_f64s()?.iter().map(|v| v * beta).collect();
                let s = ir::Tensor::from_vec(t.shape().to_vec(), scaled)?;
                let s = cast_tensor(&s, d)?;
                ex.constant(&s)?
            }
            _ => {
                let c = ex.logical(n, 2)?;
                if beta == 1.0 {
                    c
                } else {
                    let k = ex.scalar(beta, d)?;
                    ex.op_t("Mul", vec![c, k], d)?
                }
            }
        };
        let bias_1d = ex.rank(c_name) == Some(1);
        y = if bias_1d {
            ex.op("BiasAdd", vec![y, c], vec![("T", ty(d)?), ("data_format", str_attr("NHWC"))])
        } else {
            ex.op_t("AddV2", vec![y, c], d)?
        };
    }
    ex.bind(n, 0, y);
    Ok(())
}

/// A float64 tensor converted to `dtype` (f32, f64, f16).
fn cast_tensor(t: &ir::Tensor, dtype: DType) -> Result<ir::Tensor> {
    let v = t.to_f64s()?;
    let shape = t.shape().to_vec();
    match dtype {
        DType::F32 => ir::Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect::<Vec<_>>()),
        DType::F16 => ir::Tensor::from_vec(shape, v.iter().map(|&x| half::f16::from_f64(x)).collect::<Vec<_>>()),
        DType::F64 => Ok(t.clone()),
        d => Err(ir::Error::invalid(format!("Gemm on {d}"))),
    }
}

fn einsum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let eq = n.attr_str("equation", "")?.replace(' ', "");
    let d = ex.dtype(ex.in_name(n, 0)?)?;
    let ins: Vec<String> = (0..n.inputs.len()).map(|i| ex.logical(n, i)).collect::<Result<_>>()?;
    let k = ins.len() as i64;
    let y = ex.op("Einsum", ins, vec![("T", ty(d)?), ("N", super::int_attr(k)), ("equation", str_attr(&eq))]);
    ex.bind(n, 0, y);
    Ok(())
}

/// `Resize` of the two spatial axes of an NCHW tensor, NHWC in TF: the
/// coordinate modes TF's kernels implement (bilinear: half_pixel,
/// pytorch_half_pixel, align_corners, asymmetric; nearest: half_pixel or
/// align_corners rounding half up, asymmetric flooring).
fn resize(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    need_rank4(ex, n, x)?;
    let d = ex.dtype(x)?;
    let mode = n.attr_str("mode", "nearest")?.to_string();
    let coord = n.attr_str("coordinate_transformation_mode", "half_pixel")?.to_string();
    let nearest = n.attr_str("nearest_mode", "round_prefer_floor")?.to_string();
    if n.attr_int("antialias", 0)? != 0 {
        return Err(unsupported(n, "antialias"));
    }
    if n.attr_ints("axes")?.is_some() {
        return Err(unsupported(n, "Resize axes"));
    }
    // Output H and W: from the output's static shape, else sizes/scales.
    let out = ex.out_name(n, 0);
    let hw = match ex.dims(out) {
        Some(dd) if dd.len() == 4 && dd[2].is_some() && dd[3].is_some() => {
            [dd[2].unwrap_or(0) as i64, dd[3].unwrap_or(0) as i64]
        }
        _ => {
            let sizes = if Ex::has_input(n, 3) { ex.const_ints(n, 3)? } else { None };
            let xd = ex.dims(x).unwrap_or_default();
            match (sizes, ex.const_input(n, 2).map(|t| t.to_f64s()).transpose()?) {
                (Some(s), _) if s.len() == 4 => [s[2], s[3]],
                (_, Some(sc)) if sc.len() == 4 && xd.len() == 4 && xd[2].is_some() && xd[3].is_some() => [
                    (xd[2].unwrap_or(0) as f64 * sc[2]).floor() as i64,
                    (xd[3].unwrap_or(0) as f64 * sc[3]).floor() as i64,
                ],
                _ => return Err(unsupported(n, "a Resize output size unknown at export")),
            }
        }
    };
    let (op, align, half) = match (mode.as_str(), coord.as_str(), nearest.as_str()) {
        ("linear", "half_pixel" | "pytorch_half_pixel", _) => ("ResizeBilinear", false, true),
        ("linear", "align_corners", _) => ("ResizeBilinear", true, false),
        ("linear", "asymmetric", _) => ("ResizeBilinear", false, false),
        ("nearest", "half_pixel", "round_prefer_ceil") => ("ResizeNearestNeighbor", false, true),
        ("nearest", "align_corners", "round_prefer_ceil") => ("ResizeNearestNeighbor", true, false),
        ("nearest", "asymmetric", "floor") => ("ResizeNearestNeighbor", false, false),
        _ => return Err(unsupported(n, &format!("Resize mode {mode} with {coord}/{nearest}"))),
    };
    // TF derives the scale from the sizes; ONNX uses given scales as they
    // are, so scales known only at run time cannot be checked against the
    // sizes (downsampling 4 by 0.6 gives 2, where TF would scale by 0.5).
    let sizes_given = Ex::has_input(n, 3);
    if !sizes_given && Ex::has_input(n, 2) && ex.const_input(n, 2).is_none() {
        return Err(unsupported(n, "Resize scales computed at run time (TensorFlow resizes to sizes)"));
    }
    if let (Some(sc), Some(xd)) = (ex.const_input(n, 2).map(|t| t.to_f64s()).transpose()?, ex.dims(x))
        && sc.len() == 4
    {
        for a in 0..2 {
            if let Some(inp) = xd[2 + a]
                && (inp as f64 * sc[2 + a] - hw[a] as f64).abs() > 1e-9
            {
                return Err(unsupported(n, "Resize scales that are not output/input size"));
            }
        }
    }
    if coord == "pytorch_half_pixel" && hw.contains(&1) {
        return Err(unsupported(n, "pytorch_half_pixel to a size of 1"));
    }
    let mut xt = ex.in_layout(n, 0, &layout::NHWC)?;
    // ResizeBilinear computes in and returns f32.
    let bilinear = op == "ResizeBilinear";
    if bilinear && d != DType::F32 {
        xt = ex.op("Cast", vec![xt], vec![("SrcT", ty(d)?), ("DstT", ty(DType::F32)?)]);
    }
    let size = ex.ints(&hw, DType::I32)?;
    let t = if bilinear { DType::F32 } else { d };
    let mut y = ex.op(
        op,
        vec![xt, size],
        vec![("T", ty(t)?), ("align_corners", bool_attr(align)), ("half_pixel_centers", bool_attr(half))],
    );
    if bilinear && d != DType::F32 {
        y = ex.op("Cast", vec![y], vec![("SrcT", ty(DType::F32)?), ("DstT", ty(d)?)]);
    }
    ex.bind_perm(n, 0, y, Some(layout::NHWC.to_vec()));
    Ok(())
}

/// A per-channel vector (axis 1 of a rank-`r` value) shaped `[1, C, 1, ..]`
/// and permuted to layout `p`, as a constant.
fn channel_const(ex: &mut Ex<'_>, t: &ir::Tensor, r: usize, p: &[usize]) -> Result<String> {
    let mut dims = vec![1usize; r];
    *dims.get_mut(1).ok_or_else(|| Error::invalid(format!("a per-channel value for a rank-{r} input")))? = t.numel();
    let c = t.reshaped(dims)?.permuted(p)?;
    ex.constant(&c)
}

fn instance_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let eps = f64::from(n.attr_float("epsilon", 1e-5)?);
    let (scale, bias) = match (ex.const_input(n, 1).cloned(), ex.const_input(n, 2).cloned()) {
        (Some(s), Some(b)) => (s, b),
        _ => return Err(unsupported(n, "InstanceNormalization with run-time scale or bias")),
    };
    // Statistics over the spatial axes, in the input's layout.
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let axes: Vec<i64> = (2..r).map(|a| layout::physical_axis(&p, a) as i64).collect();
    let ax = ex.ints(&axes, DType::I32)?;
    let mattrs = vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(true))];
    let mean = ex.op("Mean", vec![v.t.clone(), ax.clone()], mattrs.clone());
    let c = ex.op_t("Sub", vec![v.t, mean], d)?;
    let sq = ex.op_t("Square", vec![c.clone()], d)?;
    let var = ex.op("Mean", vec![sq, ax], mattrs);
    let e = ex.scalar(eps, d)?;
    let ve = ex.op_t("AddV2", vec![var, e], d)?;
    let rs = ex.op_t("Rsqrt", vec![ve], d)?;
    let y = ex.op_t("Mul", vec![c, rs], d)?;
    let sc = channel_const(ex, &scale, r, &p)?;
    let y = ex.op_t("Mul", vec![y, sc], d)?;
    let b = channel_const(ex, &bias, r, &p)?;
    let y = ex.op_t("AddV2", vec![y, b], d)?;
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn mean_variance_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let axes: Vec<usize> = n
        .attr_ints("axes")?
        .map(|a| a.iter().map(|&v| if v < 0 { (v + r as i64) as usize } else { v as usize }).collect())
        .unwrap_or_else(|| vec![0, 2, 3]);
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let phys: Vec<i64> = axes.iter().map(|&a| layout::physical_axis(&p, a) as i64).collect();
    let ax = ex.ints(&phys, DType::I32)?;
    let mattrs = vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(true))];
    // As ONNX's function body: (x - E[x]) / (sqrt(E[x²] - E[x]²) + 1e-9).
    let mean = ex.op("Mean", vec![v.t.clone(), ax.clone()], mattrs.clone());
    let sq = ex.op_t("Square", vec![v.t.clone()], d)?;
    let ex2 = ex.op("Mean", vec![sq, ax], mattrs);
    let m2 = ex.op_t("Square", vec![mean.clone()], d)?;
    let var = ex.op_t("Sub", vec![ex2, m2], d)?;
    let std = ex.op_t("Sqrt", vec![var], d)?;
    let e = ex.scalar(1e-9, d)?;
    let den = ex.op_t("AddV2", vec![std, e], d)?;
    let c = ex.op_t("Sub", vec![v.t, mean], d)?;
    let y = ex.op_t("RealDiv", vec![c, den], d)?;
    ex.bind_perm(n, 0, y, Some(p));
    Ok(())
}

fn lp_norm(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))? as i64;
    let axis = n.attr_int("axis", -1)?;
    let axis = if axis < 0 { axis + r } else { axis };
    let pnorm = n.attr_int("p", 2)?;
    let xl = ex.logical(n, 0)?;
    let ax = ex.ints(&[axis], DType::I32)?;
    let mattrs = vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(true))];
    let norm = match pnorm {
        1 => {
            let a = ex.op_t("Abs", vec![xl.clone()], d)?;
            ex.op("Sum", vec![a, ax], mattrs)
        }
        2 => {
            let sq = ex.op_t("Square", vec![xl.clone()], d)?;
            let s = ex.op("Sum", vec![sq, ax], mattrs);
            ex.op_t("Sqrt", vec![s], d)?
        }
        other => return Err(unsupported(n, &format!("p={other}"))),
    };
    // A zero norm gives 0 (the spec's opset 22 text), not 0 / 0.
    let y = ex.op_t("DivNoNan", vec![xl, norm], d)?;
    ex.bind(n, 0, y);
    Ok(())
}

/// `DepthToSpace` (DCR) and `SpaceToDepth`: TF's NHWC ops order the depth
/// the same way.
fn space_depth(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    need_rank4(ex, n, x)?;
    if n.attr_str("mode", "DCR")? != "DCR" {
        return Err(unsupported(n, "DepthToSpace mode CRD"));
    }
    let d = ex.dtype(x)?;
    let bs = n.attr_int("blocksize", 0)?;
    if bs < 1 {
        return Err(unsupported(n, "a blocksize below 1"));
    }
    let xt = ex.in_layout(n, 0, &layout::NHWC)?;
    let y = ex.op(
        op,
        vec![xt],
        vec![("T", ty(d)?), ("block_size", super::int_attr(bs)), ("data_format", str_attr("NHWC"))],
    );
    ex.bind_perm(n, 0, y, Some(layout::NHWC.to_vec()));
    Ok(())
}

fn depth_to_space(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    space_depth(ex, n, "DepthToSpace")
}

fn space_to_depth(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    space_depth(ex, n, "SpaceToDepth")
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "DepthToSpace", tf: "DepthToSpace (NHWC)", notes: "blocksize; DCR mode", build: depth_to_space },
    Rule {
        onnx: "InstanceNormalization",
        tf: "Mean, Sub, Square, Rsqrt, Mul, AddV2",
        notes: "in the input's layout; constant scale and bias",
        build: instance_norm,
    },
    Rule {
        onnx: "LpNormalization",
        tf: "Abs/Square + Sum (+ Sqrt) + RealDiv",
        notes: "axis; p 1 or 2",
        build: lp_norm,
    },
    Rule {
        onnx: "MeanVarianceNormalization",
        tf: "Mean, Square, Sub, Sqrt, RealDiv",
        notes: "axes; in the input's layout",
        build: mean_variance_norm,
    },
    Rule { onnx: "SpaceToDepth", tf: "SpaceToDepth (NHWC)", notes: "blocksize", build: space_to_depth },
    Rule {
        onnx: "AveragePool",
        tf: "AvgPool (NHWC)",
        notes: "1-D and 2-D; kernel, strides, pads (explicit pads counted: PadV2 + VALID), auto_pad, ceil_mode when exact",
        build: average_pool,
    },
    Rule {
        onnx: "BatchNormalization",
        tf: "FusedBatchNormV3 (NHWC)",
        notes: "inference; other ranks/dtypes: Sub/Mul/Rsqrt/AddV2",
        build: batch_norm,
    },
    Rule {
        onnx: "Conv",
        tf: "Conv2D / DepthwiseConv2dNative / Split + Conv2D + ConcatV2 (+ BiasAdd)",
        notes: "1-D (NCW, as NWC with H = 1) and 2-D NCHW; pads, strides, dilations, groups, auto_pad; weights OIHW → HWIO once",
        build: conv,
    },
    Rule {
        onnx: "ConvTranspose",
        tf: "Conv2DBackpropInput (+ BiasAdd)",
        notes: "2-D, group 1, static output H/W; pads, strides, dilations",
        build: conv_transpose,
    },
    Rule { onnx: "Einsum", tf: "Einsum", notes: "equation", build: einsum },
    Rule { onnx: "Gemm", tf: "MatMul (+ Mul, BiasAdd/AddV2)", notes: "alpha, beta, transA, transB", build: gemm },
    Rule {
        onnx: "GlobalAveragePool",
        tf: "Mean (keep_dims)",
        notes: "over the spatial axes, in the input's layout",
        build: global_average_pool,
    },
    Rule {
        onnx: "GlobalMaxPool",
        tf: "Max (keep_dims)",
        notes: "over the spatial axes, in the input's layout",
        build: global_max_pool,
    },
    Rule {
        onnx: "LayerNormalization",
        tf: "Mean, Sub, Square, Rsqrt, Mul, AddV2",
        notes: "axis, epsilon",
        build: layer_norm,
    },
    Rule {
        onnx: "LogSoftmax",
        tf: "LogSoftmax",
        notes: "any axis (moved last through the layout)",
        build: log_softmax,
    },
    Rule { onnx: "MatMul", tf: "MatMul / BatchMatMulV2", notes: "broadcasting batch dims", build: matmul },
    Rule {
        onnx: "MaxPool",
        tf: "MaxPool (NHWC)",
        notes: "1-D and 2-D; kernel, strides, pads (PadV2 with -inf), auto_pad, ceil_mode when exact; no Indices",
        build: max_pool,
    },
    Rule {
        onnx: "Resize",
        tf: "ResizeBilinear / ResizeNearestNeighbor (NHWC)",
        notes: "2-D NCHW, static output size; linear: half_pixel, pytorch_half_pixel, align_corners, asymmetric; \
                nearest: half_pixel/align_corners with round_prefer_ceil, asymmetric with floor",
        build: resize,
    },
    Rule {
        onnx: "Softmax",
        tf: "Softmax",
        notes: "any axis (opset ≥ 13), moved last through the layout",
        build: softmax,
    },
];
