//! Layers: convolutions, `Gemm`/`MatMul`, normalizations, softmax, pools,
//! `Resize`. NCHW is torch's own layout, so weights and activations pass
//! unchanged. Padding torch cannot express in the call (asymmetric pads,
//! `auto_pad` SAME, pool pads over half the window) becomes an explicit
//! `torch.constant_pad_nd` first.

use ir::Node;

use super::math::{attr_f, attr_i, attr_is};
use super::{Emitted, Gen, Rule, assign, float_lit, int_list};

/// Spatial geometry of a conv or pool: kernel, strides, dilations and
/// (begin, end) pads per spatial axis.
struct Window {
    kernel: Vec<i64>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    pads: Vec<(i64, i64)>,
}

/// Reads the window attributes; `kernel` comes from the weight when the
/// node has no `kernel_shape`. `auto_pad` SAME needs the input's spatial
/// sizes, which must then be fixed.
fn window(g: &Gen, n: &Node, kernel: Option<Vec<i64>>) -> Result<Window, String> {
    let kernel = match attr_is(n, "kernel_shape")? {
        Some(k) => k,
        None => kernel.ok_or("kernel shape unknown")?,
    };
    let k = kernel.len();
    let strides = attr_is(n, "strides")?.unwrap_or_else(|| vec![1; k]);
    let dilations = attr_is(n, "dilations")?.unwrap_or_else(|| vec![1; k]);
    if strides.len() != k || dilations.len() != k {
        return Err("strides/dilations do not match the kernel rank".into());
    }
    let auto = n.attr_str("auto_pad", "NOTSET").map_err(|e| e.to_string())?;
    let pads = match auto {
        "NOTSET" => {
            let p = attr_is(n, "pads")?.unwrap_or_else(|| vec![0; 2 * k]);
            if p.len() != 2 * k {
                return Err("pads do not match the kernel rank".into());
            }
            (0..k).map(|i| (p[i], p[i + k])).collect()
        }
        "VALID" => vec![(0, 0); k],
        "SAME_UPPER" | "SAME_LOWER" => {
            let dims = g.dims(n, 0).ok_or("auto_pad SAME needs the input shape")?;
            (0..k)
                .map(|i| {
                    let size =
                        dims.get(i + 2).copied().flatten().ok_or("auto_pad SAME needs fixed spatial sizes")? as i128;
                    // In i128, strides checked: they come from the file (a
                    // fuzzed model divided by a zero stride here).
                    let (s, k, d) = (i128::from(strides[i]), i128::from(kernel[i]), i128::from(dilations[i]));
                    if s <= 0 {
                        return Err(format!("stride {s}"));
                    }
                    let out = (size + s - 1) / s;
                    let total = ((out - 1) * s + (k - 1) * d + 1 - size).max(0);
                    let total = i64::try_from(total).map_err(|_| format!("SAME padding {total}"))?;
                    let small = total / 2;
                    Ok(if auto == "SAME_UPPER" { (small, total - small) } else { (total - small, small) })
                })
                .collect::<Result<_, String>>()?
        }
        other => return Err(format!("auto_pad '{other}'")),
    };
    Ok(Window { kernel, strides, dilations, pads })
}

/// Applies pads torch cannot take in the call: returns the (possibly
/// padded) input and the symmetric padding left for the call.
fn pre_pad(x: String, w: &Window, fill: &str, fits: impl Fn(usize, i64) -> bool) -> (String, Vec<i64>) {
    let symmetric = w.pads.iter().enumerate().all(|(i, &(b, e))| b == e && fits(i, b));
    if symmetric {
        return (x, w.pads.iter().map(|p| p.0).collect());
    }
    // constant_pad_nd lists pads from the last axis backwards.
    let mut p = Vec::new();
    for &(b, e) in w.pads.iter().rev() {
        p.extend([b, e]);
    }
    (format!("torch.constant_pad_nd({x}, {}, {fill})", int_list(&p)), vec![0; w.pads.len()])
}

fn weight_kernel(g: &Gen, n: &Node) -> Option<Vec<i64>> {
    let d = g.dims(n, 1)?;
    d.iter().skip(2).map(|v| v.map(|v| v as i64)).collect()
}

fn conv(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let w = window(g, n, weight_kernel(g, n))?;
    let k = w.kernel.len();
    if !(1..=3).contains(&k) {
        return Err(format!("{k}-d convolution"));
    }
    let (x, pad) = pre_pad(g.inp(n, 0)?, &w, "0.", |_, _| true);
    let b = g.opt(n, 2).unwrap_or_else(|| "None".into());
    let groups = attr_i(n, "group", 1)?;
    assign(
        outs,
        format!(
            "torch.conv{k}d({x}, {}, {b}, {}, {}, {}, {groups})",
            g.inp(n, 1)?,
            int_list(&w.strides),
            int_list(&pad),
            int_list(&w.dilations)
        ),
    )
}

fn conv_transpose(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if n.attr("output_shape").is_some() {
        return Err("output_shape (give pads instead)".into());
    }
    if !matches!(n.attr_str("auto_pad", "NOTSET").map_err(|e| e.to_string())?, "NOTSET" | "VALID") {
        return Err("auto_pad SAME on ConvTranspose".into());
    }
    let w = window(g, n, weight_kernel(g, n))?;
    let k = w.kernel.len();
    if !(1..=3).contains(&k) {
        return Err(format!("{k}-d transposed convolution"));
    }
    let op = attr_is(n, "output_padding")?.unwrap_or_else(|| vec![0; k]);
    let groups = attr_i(n, "group", 1)?;
    let b = g.opt(n, 2).unwrap_or_else(|| "None".into());
    // torch trims `padding` from both ends; the excess of an asymmetric pair is sliced off after.
    let common: Vec<i64> = w.pads.iter().map(|&(b, e)| b.min(e)).collect();
    let mut e = format!(
        "torch.conv_transpose{k}d({}, {}, {b}, {}, {}, {}, {groups}, {})",
        g.inp(n, 0)?,
        g.inp(n, 1)?,
        int_list(&w.strides),
        int_list(&common),
        int_list(&op),
        int_list(&w.dilations)
    );
    for (i, &(pb, pe)) in w.pads.iter().enumerate() {
        let (db, de) = (pb - common[i], pe - common[i]);
        if db > 0 || de > 0 {
            let end = if de > 0 { format!("-{de}") } else { "9223372036854775807".into() };
            e = format!("torch.slice({e}, {}, {db}, {end})", i + 2);
        }
    }
    assign(outs, e)
}

fn gemm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let mut a = g.inp(n, 0)?;
    let mut b = g.inp(n, 1)?;
    if attr_i(n, "transA", 0)? != 0 {
        a = format!("torch.t({a})");
    }
    if attr_i(n, "transB", 0)? != 0 {
        b = format!("torch.t({b})");
    }
    let (alpha, beta) = (attr_f(n, "alpha", 1.0)? as f64, attr_f(n, "beta", 1.0)? as f64);
    let e = match g.opt(n, 2) {
        Some(c) => format!("torch.addmm({c}, {a}, {b}, beta={}, alpha={})", float_lit(beta), float_lit(alpha)),
        None if alpha == 1.0 => format!("torch.mm({a}, {b})"),
        None => format!("torch.mul(torch.mm({a}, {b}), {})", float_lit(alpha)),
    };
    assign(outs, e)
}

fn matmul(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.matmul({}, {})", g.inp(n, 0)?, g.inp(n, 1)?))
}

fn batch_norm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if attr_i(n, "training_mode", 0)? != 0 || n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("training mode".into());
    }
    let eps = attr_f(n, "epsilon", 1e-5)? as f64;
    assign(
        outs.get(..1).ok_or("no output")?,
        format!(
            "torch.batch_norm({}, {}, {}, {}, {}, False, 0., {}, False)",
            g.inp(n, 0)?,
            g.inp(n, 1)?,
            g.inp(n, 2)?,
            g.inp(n, 3)?,
            g.inp(n, 4)?,
            float_lit(eps)
        ),
    )
}

fn instance_norm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let eps = attr_f(n, "epsilon", 1e-5)? as f64;
    assign(
        outs,
        format!(
            "torch.instance_norm({}, {}, {}, None, None, True, 0., {}, False)",
            g.inp(n, 0)?,
            g.inp(n, 1)?,
            g.inp(n, 2)?,
            float_lit(eps)
        ),
    )
}

fn layer_norm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("Mean/InvStdDev outputs".into());
    }
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", -1)?;
    let eps = attr_f(n, "epsilon", 1e-5)? as f64;
    let b = g.opt(n, 2).unwrap_or_else(|| "None".into());
    assign(
        &outs[..1],
        format!("torch.layer_norm({x}, ({x}.size())[{axis}:], {}, {b}, {})", g.inp(n, 1)?, float_lit(eps)),
    )
}

fn group_norm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let groups = attr_i(n, "num_groups", 0)?;
    let eps = float_lit(attr_f(n, "epsilon", 1e-5)? as f64);
    let (mut s, mut b) = (g.inp(n, 1)?, g.inp(n, 2)?);
    if g.opset < 21 {
        // Opset 18 scales per group; torch scales per channel.
        let c = g.dims(n, 0).and_then(|d| d.get(1).copied().flatten()).ok_or("channel count unknown")? as i64;
        if groups <= 0 || c % groups != 0 {
            return Err("channels not divisible by num_groups".into());
        }
        s = format!("torch.repeat_interleave({s}, {})", c / groups);
        b = format!("torch.repeat_interleave({b}, {})", c / groups);
    }
    assign(outs, format!("torch.group_norm({x}, {groups}, {s}, {b}, {eps}, False)"))
}

fn softmax_like(g: &mut Gen, n: &Node, outs: &[String], f: &str) -> Emitted {
    let x = g.inp(n, 0)?;
    if g.opset >= 13 {
        let axis = attr_i(n, "axis", -1)?;
        return assign(outs, format!("torch.{f}({x}, {axis})"));
    }
    // Before opset 13 the input is seen as 2-D [prod(before axis), prod(from axis)].
    let axis = attr_i(n, "axis", 1)?;
    assign(outs, format!("torch.reshape(torch.{f}(torch.flatten({x}, {axis}), -1), {x}.size())"))
}

fn softmax(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    softmax_like(g, n, outs, "softmax")
}

fn log_softmax(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    softmax_like(g, n, outs, "log_softmax")
}

fn hardmax(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if g.opset < 13 {
        return Err("opset < 13 (2-D coerced axis)".into());
    }
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", -1)?;
    assign(outs, format!("torch.scatter(torch.zeros_like({x}), {axis}, torch.argmax({x}, {axis}, True), 1.)"))
}

fn lp_norm(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", -1)?;
    let p = attr_i(n, "p", 2)?;
    // A lane of zeros (norm 0) stays zeros, as ONNX's reference gives:
    // divide it by 1 instead of 0.
    let norm = g.fresh("norm");
    Ok(vec![
        format!("{norm} = torch.linalg_vector_norm({x}, {p}, [{axis}], True)"),
        format!("{} = torch.div({x}, torch.where(torch.eq({norm}, 0.), 1., {norm}))", outs[0]),
    ])
}

fn max_pool(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if n.output(1).is_some_and(|o| !o.is_empty()) {
        return Err("Indices output".into());
    }
    let w = window(g, n, None)?;
    let k = w.kernel.len();
    if !(1..=3).contains(&k) {
        return Err(format!("{k}-d pool"));
    }
    let kern = w.kernel.clone();
    let (x, pad) = pre_pad(g.inp(n, 0)?, &w, "float(\"-inf\")", |i, p| 2 * p <= kern[i]);
    let ceil = if attr_i(n, "ceil_mode", 0)? != 0 { "True" } else { "False" };
    assign(
        &outs[..1],
        format!(
            "torch.max_pool{k}d({x}, {}, {}, {}, {}, {ceil})",
            int_list(&w.kernel),
            int_list(&w.strides),
            int_list(&pad),
            int_list(&w.dilations)
        ),
    )
}

fn avg_pool(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let w = window(g, n, None)?;
    let k = w.kernel.len();
    if !(1..=3).contains(&k) {
        return Err(format!("{k}-d pool"));
    }
    if w.dilations.iter().any(|&d| d != 1) {
        return Err("dilations".into());
    }
    let include = attr_i(n, "count_include_pad", 0)? != 0;
    let kern = w.kernel.clone();
    let x = g.inp(n, 0)?;
    let fits = |i: usize, p: i64| 2 * p <= kern[i];
    let symmetric = w.pads.iter().enumerate().all(|(i, &(b, e))| b == e && fits(i, b));
    if !symmetric && !include {
        return Err("asymmetric pads with count_include_pad=0".into());
    }
    let (x, pad) = pre_pad(x, &w, "0.", fits);
    let ceil = if attr_i(n, "ceil_mode", 0)? != 0 { "True" } else { "False" };
    let inc = if include { "True" } else { "False" };
    assign(
        outs,
        format!(
            "torch.avg_pool{k}d({x}, {}, {}, {}, {ceil}, {inc})",
            int_list(&w.kernel),
            int_list(&w.strides),
            int_list(&pad)
        ),
    )
}

fn global_pool(g: &mut Gen, n: &Node, outs: &[String], f: &str) -> Emitted {
    let r = g.rank(n, 0).ok_or("input rank unknown")?;
    let axes: Vec<i64> = (2..r as i64).collect();
    assign(outs, format!("torch.{f}({}, {}, True)", g.inp(n, 0)?, int_list(&axes)))
}

fn global_avg(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    global_pool(g, n, outs, "mean")
}

fn global_max(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    global_pool(g, n, outs, "amax")
}

fn resize(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    if g.opset < 11 {
        return Err("opset < 11 (Upsample-style scales)".into());
    }
    let r = g.rank(n, 0).ok_or("rank unknown")?;
    let k = r.checked_sub(2).filter(|k| (1..=3).contains(k)).ok_or("only 3-d to 5-d inputs (N, C, spatial)")?;
    if n.attr("axes").is_some() || attr_i(n, "antialias", 0)? != 0 || attr_i(n, "exclude_outside", 0)? != 0 {
        return Err("axes, antialias or exclude_outside".into());
    }
    if n.attr_str("keep_aspect_ratio_policy", "stretch").map_err(|e| e.to_string())? != "stretch" {
        return Err("keep_aspect_ratio_policy".into());
    }
    // torch resizes the spatial axes only: batch and channel must stay.
    let (size, scales) = match (g.opt(n, 3), g.floats(n, 2)) {
        (Some(_), _) => {
            let size = match g.ints(n, 3) {
                Some(v) => int_list(&v[2..]),
                None => format!("annotate(List[int], (torch.slice({}, 0, 2)).tolist())", g.inp(n, 3)?),
            };
            (size, "None".to_string())
        }
        (None, Some(s)) if s.len() == r && s[0] == 1.0 && s[1] == 1.0 => {
            ("None".to_string(), format!("[{}]", s[2..].iter().map(|&v| float_lit(v)).collect::<Vec<_>>().join(", ")))
        }
        _ => return Err("scales must be constants with 1 for batch and channels".into()),
    };
    let mode = n.attr_str("mode", "nearest").map_err(|e| e.to_string())?;
    let ctm = n.attr_str("coordinate_transformation_mode", "half_pixel").map_err(|e| e.to_string())?;
    let integer_up = g.floats(n, 2).is_some_and(|s| s.iter().all(|&v| v >= 1.0 && v.fract() == 0.0));
    let e = match mode {
        "nearest" => {
            let nm = n.attr_str("nearest_mode", "round_prefer_floor").map_err(|e| e.to_string())?;
            match (ctm, nm) {
                ("asymmetric", "floor") => format!("torch.upsample_nearest{k}d({x}, {size}, {scales})"),
                // floor(x_in + 0.5): rounding half up, which is also half down when no
                // source coordinate falls on .5 (integer upscale factors).
                ("half_pixel" | "pytorch_half_pixel", "round_prefer_ceil") => {
                    format!("torch._upsample_nearest_exact{k}d({x}, {size}, {scales})")
                }
                ("half_pixel" | "pytorch_half_pixel", "round_prefer_floor") if integer_up => {
                    format!("torch._upsample_nearest_exact{k}d({x}, {size}, {scales})")
                }
                _ => return Err(format!("nearest with {ctm}/{nm}")),
            }
        }
        "linear" | "cubic" => {
            let align = match ctm {
                "half_pixel" | "pytorch_half_pixel" => "False",
                "align_corners" => "True",
                c => return Err(format!("{mode} with {c}")),
            };
            let f = match (mode, k) {
                ("linear", 1) => "upsample_linear1d",
                ("linear", 2) => "upsample_bilinear2d",
                ("linear", 3) => "upsample_trilinear3d",
                ("cubic", 2) => "upsample_bicubic2d",
                _ => return Err(format!("{mode} on {k} spatial axes")),
            };
            if mode == "cubic" && attr_f(n, "cubic_coeff_a", -0.75)? != -0.75 {
                return Err("cubic_coeff_a other than -0.75".into());
            }
            format!("torch.{f}({x}, {size}, {align}, {scales})")
        }
        m => return Err(format!("mode '{m}'")),
    };
    assign(outs, e)
}

fn depth_to_space(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let b = attr_i(n, "blocksize", 0)?;
    match n.attr_str("mode", "DCR").map_err(|e| e.to_string())? {
        "CRD" => assign(outs, format!("torch.pixel_shuffle({x}, {b})")),
        "DCR" => {
            // [N, b, b, C/b², H, W] → [N, C/b², H, b, W, b]
            let t = format!(
                "torch.permute(torch.reshape({x}, [{x}.size(0), {b}, {b}, -1, {x}.size(2), {x}.size(3)]), [0, 3, 4, 1, 5, 2])"
            );
            assign(outs, format!("torch.reshape({t}, [{x}.size(0), -1, {x}.size(2) * {b}, {x}.size(3) * {b}])"))
        }
        m => Err(format!("mode '{m}'")),
    }
}

fn space_to_depth(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let b = attr_i(n, "blocksize", 0)?;
    // [N, C, H/b, b, W/b, b] → [N, b, b, C, H/b, W/b] for DCR (ONNX's
    // default), → [N, C, b, b, H/b, W/b] for CRD (pixel_unshuffle's order).
    let perm = match n.attr_str("mode", "DCR").map_err(|e| e.to_string())? {
        "DCR" => "[0, 3, 5, 1, 2, 4]",
        "CRD" => "[0, 1, 3, 5, 2, 4]",
        m => return Err(format!("mode '{m}'")),
    };
    let t = format!(
        "torch.permute(torch.reshape({x}, [{x}.size(0), {x}.size(1), torch.floordiv({x}.size(2), {b}), {b}, torch.floordiv({x}.size(3), {b}), {b}]), {perm})"
    );
    assign(
        outs,
        format!(
            "torch.reshape({t}, [{x}.size(0), -1, torch.floordiv({x}.size(2), {b}), torch.floordiv({x}.size(3), {b})])"
        ),
    )
}

fn mvn(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axes = attr_is(n, "axes")?.unwrap_or_else(|| vec![0, 2, 3]);
    let a = int_list(&axes);
    let mean = format!("torch.mean({x}, {a}, True)");
    // ONNX: (x - E[x]) / (sqrt(E[x²] - E[x]²) + 1e-9).
    let var = format!("torch.sub(torch.mean(torch.mul({x}, {x}), {a}, True), torch.mul({mean}, {mean}))");
    assign(outs, format!("torch.div(torch.sub({x}, {mean}), torch.add(torch.sqrt({var}), 1e-09))"))
}

fn lrn(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let size = attr_i(n, "size", 0)?;
    let (alpha, beta, bias) =
        (attr_f(n, "alpha", 1e-4)? as f64, attr_f(n, "beta", 0.75)? as f64, attr_f(n, "bias", 1.0)? as f64);
    let (lo, hi) = ((size - 1) / 2, size - 1 - (size - 1) / 2);
    // The square sum over a window of channels: pad the channel axis, then average over it.
    let sq = format!("torch.constant_pad_nd(torch.unsqueeze(torch.mul({x}, {x}), 1), [0, 0, 0, 0, {lo}, {hi}], 0.)");
    let avg = format!("torch.squeeze(torch.avg_pool3d({sq}, [{size}, 1, 1], [1, 1, 1], [0, 0, 0], False, True), [1])");
    assign(
        outs,
        format!(
            "torch.div({x}, torch.pow(torch.add(torch.mul({avg}, {}), {}), {}))",
            float_lit(alpha),
            float_lit(bias),
            float_lit(beta)
        ),
    )
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        op: "Conv",
        torch: "torch.conv1d / conv2d / conv3d",
        note: "`strides`, `dilations`, `group`, `pads` (asymmetric: `constant_pad_nd` first), `auto_pad` (SAME needs fixed spatial sizes)",
        emit: conv,
    },
    Rule {
        op: "ConvTranspose",
        torch: "torch.conv_transpose1d / 2d / 3d",
        note: "`strides`, `dilations`, `group`, `output_padding`, `pads` (asymmetric: sliced after); not `output_shape` or `auto_pad` SAME",
        emit: conv_transpose,
    },
    Rule {
        op: "Gemm",
        torch: "torch.addmm / torch.mm",
        note: "`alpha`, `beta`, `transA`, `transB`, optional C",
        emit: gemm,
    },
    Rule { op: "MatMul", torch: "torch.matmul", note: "batched and attention-style products", emit: matmul },
    Rule { op: "BatchNormalization", torch: "torch.batch_norm", note: "inference; `epsilon`", emit: batch_norm },
    Rule { op: "InstanceNormalization", torch: "torch.instance_norm", note: "`epsilon`", emit: instance_norm },
    Rule {
        op: "LayerNormalization",
        torch: "torch.layer_norm(x, x.size()[axis:], scale, bias, eps)",
        note: "any `axis`, `epsilon`; not the Mean/InvStdDev outputs",
        emit: layer_norm,
    },
    Rule {
        op: "GroupNormalization",
        torch: "torch.group_norm",
        note: "opset 18 per-group scale repeated per channel (needs a fixed channel count)",
        emit: group_norm,
    },
    Rule { op: "Softmax", torch: "torch.softmax", note: "any `axis`; opset < 13 flattens from `axis`", emit: softmax },
    Rule { op: "LogSoftmax", torch: "torch.log_softmax", note: "as Softmax", emit: log_softmax },
    Rule { op: "Hardmax", torch: "torch.scatter(zeros, axis, argmax, 1)", note: "opset ≥ 13", emit: hardmax },
    Rule {
        op: "LpNormalization",
        torch: "x / torch.linalg_vector_norm",
        note: "`axis`, `p`; zero lanes stay zero",
        emit: lp_norm,
    },
    Rule {
        op: "MaxPool",
        torch: "torch.max_pool1d / 2d / 3d",
        note: "`kernel_shape`, `strides`, `pads` (asymmetric: padded with -inf first), `dilations`, `ceil_mode`, `auto_pad`; not the Indices output",
        emit: max_pool,
    },
    Rule {
        op: "AveragePool",
        torch: "torch.avg_pool1d / 2d / 3d",
        note: "`kernel_shape`, `strides`, `pads`, `ceil_mode`, `count_include_pad`, `auto_pad`; asymmetric pads only with count_include_pad=1",
        emit: avg_pool,
    },
    Rule {
        op: "Resize",
        torch: "torch.upsample_nearest*d / _upsample_nearest_exact*d / upsample_(bi|tri)linear*d / upsample_bicubic2d",
        note: "scales (constant, 1 for N and C) or sizes (also at run time); nearest asymmetric+floor, half_pixel+round_prefer_ceil, half_pixel+round_prefer_floor for integer upscales; linear/cubic half_pixel, pytorch_half_pixel, align_corners; not antialias, axes, exclude_outside",
        emit: resize,
    },
    Rule {
        op: "DepthToSpace",
        torch: "torch.pixel_shuffle (CRD); reshape/permute (DCR)",
        note: "`blocksize`, `mode`",
        emit: depth_to_space,
    },
    Rule { op: "SpaceToDepth", torch: "reshape/permute", note: "`blocksize`, `mode` (DCR, CRD)", emit: space_to_depth },
    Rule { op: "MeanVarianceNormalization", torch: "(x - mean) / (sqrt(var) + 1e-9)", note: "`axes`", emit: mvn },
    Rule {
        op: "LRN",
        torch: "x / (bias + alpha · avg_pool3d(x²))^beta",
        note: "`size`, `alpha`, `beta`, `bias`",
        emit: lrn,
    },
    Rule { op: "GlobalAveragePool", torch: "torch.mean(x, spatial axes, True)", note: "", emit: global_avg },
    Rule { op: "GlobalMaxPool", torch: "torch.amax(x, spatial axes, True)", note: "", emit: global_max },
];
