//! Layers: convolution, linear algebra, normalization, activations,
//! pooling, embedding, dropout.
//!
//! Canonical opset 17 has no `Gelu` (20) and its `GroupNormalization` (18)
//! changed meaning in 21, so both are decomposed into elementwise ops.

use ir::{Attribute, DType, Error, Result};

use super::math::{binary, reduce_axes, unary};
use super::{Args, Lower, Rule, V};

/// The rules of this family.
pub(super) const RULES: &[(&str, Rule)] = &[
    ("_convolution", convolution),
    ("conv1d", conv_nd),
    ("conv2d", conv_nd),
    ("conv3d", conv_nd),
    ("linear", linear_rule),
    ("addmm", addmm),
    ("matmul", |l, a| binary(l, a.req(0, "self")?, a.req(1, "other")?, "MatMul")),
    ("mm", |l, a| binary(l, a.req(0, "self")?, a.req(1, "mat2")?, "MatMul")),
    ("bmm", |l, a| binary(l, a.req(0, "self")?, a.req(1, "mat2")?, "MatMul")),
    ("batch_norm", batch_norm),
    ("layer_norm", layer_norm_rule),
    ("group_norm", group_norm),
    ("instance_norm", instance_norm),
    ("relu", |l, a| unary(l, a, "Relu")),
    ("sigmoid", |l, a| unary(l, a, "Sigmoid")),
    ("tanh", |l, a| unary(l, a, "Tanh")),
    ("hardswish", |l, a| unary(l, a, "HardSwish")),
    ("hardsigmoid", hardsigmoid),
    ("silu", silu),
    ("gelu", gelu_rule),
    ("leaky_relu", leaky_relu),
    ("elu", elu),
    ("celu", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let alpha = a.opt(1, "alpha").and_then(|v| l.float_of(v)).unwrap_or(1.0) as f32;
        Ok(V::T(l.node("Celu", &[&x], vec![("alpha", Attribute::Float(alpha))])?))
    }),
    ("conv_transpose1d", conv_transpose),
    ("conv_transpose2d", conv_transpose),
    ("conv_transpose3d", conv_transpose),
    ("softmax", |l, a| softmax(l, a, "Softmax")),
    ("log_softmax", |l, a| softmax(l, a, "LogSoftmax")),
    ("max_pool1d", |l, a| pool(l, a, "MaxPool")),
    ("max_pool2d", |l, a| pool(l, a, "MaxPool")),
    ("max_pool3d", |l, a| pool(l, a, "MaxPool")),
    ("avg_pool1d", |l, a| pool(l, a, "AveragePool")),
    ("avg_pool2d", |l, a| pool(l, a, "AveragePool")),
    ("avg_pool3d", |l, a| pool(l, a, "AveragePool")),
    ("adaptive_avg_pool1d", adaptive_avg_pool),
    ("adaptive_avg_pool2d", adaptive_avg_pool),
    ("adaptive_avg_pool3d", adaptive_avg_pool),
    ("embedding", embedding),
    ("upsample_nearest1d", |l, a| upsample(l, a, "nearest", false)),
    ("upsample_nearest2d", |l, a| upsample(l, a, "nearest", false)),
    ("upsample_nearest3d", |l, a| upsample(l, a, "nearest", false)),
    ("_upsample_nearest_exact1d", |l, a| upsample(l, a, "nearest-exact", false)),
    ("_upsample_nearest_exact2d", |l, a| upsample(l, a, "nearest-exact", false)),
    ("_upsample_nearest_exact3d", |l, a| upsample(l, a, "nearest-exact", false)),
    ("upsample_linear1d", |l, a| upsample(l, a, "linear", true)),
    ("upsample_bilinear2d", |l, a| upsample(l, a, "linear", true)),
    ("upsample_trilinear3d", |l, a| upsample(l, a, "linear", true)),
    ("upsample_bicubic2d", |l, a| upsample(l, a, "cubic", true)),
    ("dropout", identity),
    ("feature_dropout", identity),
    ("alpha_dropout", identity),
];

fn identity(_: &mut Lower<'_>, a: &Args) -> Result<V> {
    if a.opt(2, "train").is_some_and(|t| matches!(t, V::Bool(true))) {
        return Err(Error::invalid("dropout in training mode (save the model after .eval())"));
    }
    Ok(a.req(0, "input")?.clone())
}

fn ints_or(l: &Lower<'_>, v: Option<&V>, n: usize, default: i64) -> Result<Vec<i64>> {
    match v {
        None | Some(V::None) => Ok(vec![default; n]),
        Some(v) => {
            let x = l.ints(v, "a window parameter")?;
            Ok(match x.as_slice() {
                [one] if n > 1 => vec![*one; n],
                _ => x,
            })
        }
    }
}

fn conv(l: &mut Lower<'_>, a: &Args, transposed: bool, pads: &V, output_padding: Option<&V>, groups: i64) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let w = l.tensor(a.req(1, "weight")?, None)?;
    let rank = l.rank(&w)?;
    let n = rank - 2;
    let strides = ints_or(l, a.opt(3, "stride"), n, 1)?;
    let dilations = ints_or(l, a.opt(5, "dilation"), n, 1)?;
    let mut attrs = vec![
        ("strides", Attribute::Ints(strides)),
        ("dilations", Attribute::Ints(dilations)),
        ("group", Attribute::Int(groups)),
    ];
    match pads {
        V::Str(s) if s == "same" => attrs.push(("auto_pad", Attribute::String("SAME_UPPER".into()))),
        V::Str(s) if s == "valid" => {}
        p => {
            let p = ints_or(l, Some(p), n, 0)?;
            attrs.push(("pads", Attribute::Ints(p.iter().chain(&p).copied().collect())));
        }
    }
    if transposed && let Some(op) = output_padding {
        attrs.push(("output_padding", Attribute::Ints(ints_or(l, Some(op), n, 0)?)));
    }
    let mut ins = vec![x, w];
    if let Some(b) = a.opt(2, "bias") {
        ins.push(l.tensor(b, None)?);
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(V::T(l.node(if transposed { "ConvTranspose" } else { "Conv" }, &refs, attrs)?))
}

/// `_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, ...)`.
fn convolution(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let transposed = a.opt(6, "transposed").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let groups = a.opt(8, "groups").map_or(Ok(1), |g| l.int(g, "groups"))?;
    let pads = a.opt(4, "padding").cloned().unwrap_or(V::Int(0));
    let op = a.opt(7, "output_padding").cloned();
    conv(l, a, transposed, &pads, op.as_ref(), groups)
}

/// `conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)`.
fn conv_transpose(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let w = l.tensor(a.req(1, "weight")?, None)?;
    let n =
        l.rank(&w)?.checked_sub(2).ok_or_else(|| Error::invalid("a transposed convolution weight of rank below 3"))?;
    let pads = ints_or(l, a.opt(4, "padding"), n, 0)?;
    let attrs = vec![
        ("strides", Attribute::Ints(ints_or(l, a.opt(3, "stride"), n, 1)?)),
        ("pads", Attribute::Ints(pads.iter().chain(&pads).copied().collect())),
        ("output_padding", Attribute::Ints(ints_or(l, a.opt(5, "output_padding"), n, 0)?)),
        ("group", Attribute::Int(a.opt(6, "groups").map_or(Ok(1), |g| l.int(g, "groups"))?)),
        ("dilations", Attribute::Ints(ints_or(l, a.opt(7, "dilation"), n, 1)?)),
    ];
    let mut ins = vec![x, w];
    if let Some(b) = a.opt(2, "bias") {
        ins.push(l.tensor(b, None)?);
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(V::T(l.node("ConvTranspose", &refs, attrs)?))
}

/// `elu(x, alpha=1, scale=1, input_scale=1)`: `scale · (x > 0 ? x :
/// alpha · (exp(input_scale · x) - 1))`; `Elu` when both scales are 1.
fn elu(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let num = |v: Option<&V>, what: &str| -> Result<f64> {
        v.map_or(Ok(1.0), |v| l.float_of(v).ok_or_else(|| Error::invalid(format!("{what} must be known at import"))))
    };
    let alpha = num(a.opt(1, "alpha"), "alpha")?;
    let scale = num(a.opt(2, "scale"), "scale")?;
    let input_scale = num(a.opt(3, "input_scale"), "input_scale")?;
    if scale == 1.0 && input_scale == 1.0 {
        return Ok(V::T(l.node("Elu", &[&x], vec![("alpha", Attribute::Float(alpha as f32))])?));
    }
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let (zero, one) = (l.scalar(0.0, d)?, l.scalar(1.0, d)?);
    let (a_c, s_c, i_c) = (l.scalar(alpha, d)?, l.scalar(scale, d)?, l.scalar(input_scale, d)?);
    let xi = l.node("Mul", &[&x, &i_c], vec![])?;
    let e = l.node("Exp", &[&xi], vec![])?;
    let em1 = l.node("Sub", &[&e, &one], vec![])?;
    let neg = l.node("Mul", &[&em1, &a_c], vec![])?;
    let pos = l.node("Greater", &[&x, &zero], vec![])?;
    let y = l.node("Where", &[&pos, &x, &neg], vec![])?;
    Ok(V::T(l.node("Mul", &[&y, &s_c], vec![])?))
}

/// `conv2d(input, weight, bias, stride, padding, dilation, groups)`.
fn conv_nd(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let groups = a.opt(6, "groups").map_or(Ok(1), |g| l.int(g, "groups"))?;
    let pads = a.opt(4, "padding").cloned().unwrap_or(V::Int(0));
    conv(l, a, false, &pads, None, groups)
}

/// `x @ w^T + b` (`Gemm` for 2-D inputs, `MatMul` + `Add` otherwise).
pub(super) fn linear(l: &mut Lower<'_>, x: &str, w: &str, b: Option<&str>) -> Result<String> {
    if l.shape(x).is_some_and(|s| s.rank() == 2) {
        let mut ins = vec![x, w];
        ins.extend(b);
        return l.node("Gemm", &ins, vec![("transB", Attribute::Int(1))]);
    }
    let wt = l.node("Transpose", &[w], vec![("perm", Attribute::Ints(vec![1, 0]))])?;
    let y = l.node("MatMul", &[x, &wt], vec![])?;
    match b {
        Some(b) => l.node("Add", &[&y, b], vec![]),
        None => Ok(y),
    }
}

fn linear_rule(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let w = l.tensor(a.req(1, "weight")?, None)?;
    let b = a.opt(2, "bias").map(|b| l.tensor(b, None)).transpose()?;
    Ok(V::T(linear(l, &x, &w, b.as_deref())?))
}

/// `addmm(bias, a, b, beta=1, alpha=1)` = `beta * bias + alpha * a @ b`.
fn addmm(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let c = l.tensor(a.req(0, "self")?, None)?;
    let x = l.tensor(a.req(1, "mat1")?, None)?;
    let y = l.tensor(a.req(2, "mat2")?, None)?;
    let beta = a.opt(3, "beta").and_then(|v| l.float_of(v)).unwrap_or(1.0) as f32;
    let alpha = a.opt(4, "alpha").and_then(|v| l.float_of(v)).unwrap_or(1.0) as f32;
    Ok(V::T(l.node(
        "Gemm",
        &[&x, &y, &c],
        vec![("alpha", Attribute::Float(alpha)), ("beta", Attribute::Float(beta))],
    )?))
}

/// A 1-D constant of `n` copies of `v` in `dtype`.
fn filled(l: &mut Lower<'_>, n: usize, v: f64, dtype: DType) -> Result<String> {
    let c = l.i64s(&[n as i64]);
    let s = ir::build::scalar_tensor(v, dtype)?;
    let s = ir::Tensor::from_raw(dtype, vec![1], s.raw().cloned().unwrap_or_default())?;
    l.node("ConstantOfShape", &[&c], vec![("value", Attribute::Tensor(s))])
}

/// The channel count (dimension 1) of `x`, or of the 1-D `like` tensor.
fn channels(l: &Lower<'_>, x: &str, like: Option<&str>) -> Result<usize> {
    let from = |n: &str, axis: usize| l.shape(n).and_then(|s| s.dims().get(axis).and_then(|d| d.fixed()));
    like.and_then(|w| from(w, 0))
        .or_else(|| from(x, 1))
        .map(|c| c as usize)
        .ok_or_else(|| Error::invalid(format!("the channel count of '{x}' is not known")))
}

/// `batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)`.
fn batch_norm(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    if a.opt(5, "training").is_some_and(|t| matches!(t, V::Bool(true))) {
        return Err(Error::invalid("batch_norm in training mode (save the model after .eval())"));
    }
    let x = l.tensor(a.req(0, "input")?, None)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let mean = l.tensor(a.req(3, "running_mean")?, None)?;
    let var = l.tensor(a.req(4, "running_var")?, None)?;
    let c = channels(l, &x, Some(&mean))?;
    let w = match a.opt(1, "weight") {
        Some(w) => l.tensor(w, None)?,
        None => filled(l, c, 1.0, d)?,
    };
    let b = match a.opt(2, "bias") {
        Some(b) => l.tensor(b, None)?,
        None => filled(l, c, 0.0, d)?,
    };
    let eps = a.opt(7, "eps").and_then(|v| l.float_of(v)).unwrap_or(1e-5) as f32;
    Ok(V::T(l.node("BatchNormalization", &[&x, &w, &b, &mean, &var], vec![("epsilon", Attribute::Float(eps))])?))
}

/// `LayerNormalization` over the last `axes` dimensions.
pub(super) fn layer_norm(
    l: &mut Lower<'_>,
    x: &str,
    shape: &[i64],
    w: Option<&str>,
    b: Option<&str>,
    eps: f64,
) -> Result<String> {
    let d = l.dtype(x).unwrap_or(DType::F32);
    let w = match w {
        Some(w) => w.to_string(),
        None => {
            let s = l.i64s(shape);
            let one = ir::build::scalar_tensor(1.0, d)?;
            let one = ir::Tensor::from_raw(d, vec![1], one.raw().cloned().unwrap_or_default())?;
            l.node("ConstantOfShape", &[&s], vec![("value", Attribute::Tensor(one))])?
        }
    };
    let mut ins = vec![x, w.as_str()];
    ins.extend(b);
    l.node(
        "LayerNormalization",
        &ins,
        vec![("axis", Attribute::Int(-(shape.len() as i64))), ("epsilon", Attribute::Float(eps as f32))],
    )
}

/// `layer_norm(input, normalized_shape, weight, bias, eps, cudnn)`.
fn layer_norm_rule(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let shape = l.ints(a.req(1, "normalized_shape")?, "normalized_shape")?;
    let w = a.opt(2, "weight").map(|w| l.tensor(w, None)).transpose()?;
    let b = a.opt(3, "bias").map(|b| l.tensor(b, None)).transpose()?;
    let eps = a.opt(4, "eps").and_then(|v| l.float_of(v)).unwrap_or(1e-5);
    Ok(V::T(layer_norm(l, &x, &shape, w.as_deref(), b.as_deref(), eps)?))
}

/// `group_norm(input, num_groups, weight, bias, eps, cudnn)`: normalize
/// each group of channels over its channels and positions.
fn group_norm(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let g = l.int(a.req(1, "num_groups")?, "num_groups")?;
    let eps = a.opt(4, "eps").and_then(|v| l.float_of(v)).unwrap_or(1e-5);
    let rank = l.rank(&x)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let grouped = l.i64s(&[0, g, -1]);
    let r = l.node("Reshape", &[&x, &grouped], vec![])?;
    let mean = reduce_axes(l, &r, "ReduceMean", Some(&[2]), true)?;
    let centered = l.node("Sub", &[&r, &mean], vec![])?;
    let sq = l.node("Mul", &[&centered, &centered], vec![])?;
    let var = reduce_axes(l, &sq, "ReduceMean", Some(&[2]), true)?;
    let e = l.scalar(eps, d)?;
    let ve = l.node("Add", &[&var, &e], vec![])?;
    let sd = l.node("Sqrt", &[&ve], vec![])?;
    let n = l.node("Div", &[&centered, &sd], vec![])?;
    let shape = l.node("Shape", &[&x], vec![])?;
    let mut y = l.node("Reshape", &[&n, &shape], vec![])?;
    // weight and bias are per channel: [C, 1, ..., 1].
    let per_channel: Vec<i64> = std::iter::once(-1).chain(std::iter::repeat_n(1, rank - 2)).collect();
    for (i, name, op) in [(2, "weight", "Mul"), (3, "bias", "Add")] {
        if let Some(p) = a.opt(i, name) {
            let p = l.tensor(p, None)?;
            let s = l.i64s(&per_channel);
            let p = l.node("Reshape", &[&p, &s], vec![])?;
            y = l.node(op, &[&y, &p], vec![])?;
        }
    }
    Ok(V::T(y))
}

/// `instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn)`.
fn instance_norm(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    if a.opt(5, "use_input_stats").is_some_and(|t| matches!(t, V::Bool(false))) {
        return batch_norm(
            l,
            &Args {
                pos: vec![
                    a.req(0, "input")?.clone(),
                    a.get(1, "weight").cloned().unwrap_or(V::None),
                    a.get(2, "bias").cloned().unwrap_or(V::None),
                    a.req(3, "running_mean")?.clone(),
                    a.req(4, "running_var")?.clone(),
                    V::Bool(false),
                    V::Float(0.1),
                    a.get(7, "eps").cloned().unwrap_or(V::Float(1e-5)),
                ],
                kw: vec![],
            },
        );
    }
    let x = l.tensor(a.req(0, "input")?, None)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let w = a.opt(1, "weight").map(|w| l.tensor(w, None)).transpose()?;
    let c = channels(l, &x, w.as_deref())?;
    let w = match w {
        Some(w) => w,
        None => filled(l, c, 1.0, d)?,
    };
    let b = match a.opt(2, "bias") {
        Some(b) => l.tensor(b, None)?,
        None => filled(l, c, 0.0, d)?,
    };
    let eps = a.opt(7, "eps").and_then(|v| l.float_of(v)).unwrap_or(1e-5) as f32;
    Ok(V::T(l.node("InstanceNormalization", &[&x, &w, &b], vec![("epsilon", Attribute::Float(eps))])?))
}

fn hardsigmoid(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    Ok(V::T(l.node(
        "HardSigmoid",
        &[&x],
        vec![("alpha", Attribute::Float(1.0 / 6.0)), ("beta", Attribute::Float(0.5))],
    )?))
}

fn silu(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let s = l.node("Sigmoid", &[&x], vec![])?;
    Ok(V::T(l.node("Mul", &[&x, &s], vec![])?))
}

fn leaky_relu(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let alpha = a.opt(1, "negative_slope").and_then(|v| l.float_of(v)).unwrap_or(0.01) as f32;
    Ok(V::T(l.node("LeakyRelu", &[&x], vec![("alpha", Attribute::Float(alpha))])?))
}

/// GELU, exact (`0.5·x·(1 + erf(x/√2))`) or `tanh`-approximated.
pub(super) fn gelu(l: &mut Lower<'_>, x: &str, tanh: bool) -> Result<String> {
    let d = l.dtype(x).unwrap_or(DType::F32);
    let inner = if tanh {
        let c = l.scalar(0.044715, d)?;
        let x2 = l.node("Mul", &[x, x], vec![])?;
        let x3 = l.node("Mul", &[&x2, x], vec![])?;
        let t = l.node("Mul", &[&x3, &c], vec![])?;
        let s = l.node("Add", &[x, &t], vec![])?;
        let k = l.scalar((2.0 / std::f64::consts::PI).sqrt(), d)?;
        let u = l.node("Mul", &[&s, &k], vec![])?;
        l.node("Tanh", &[&u], vec![])?
    } else {
        let r = l.scalar(std::f64::consts::FRAC_1_SQRT_2, d)?;
        let u = l.node("Mul", &[x, &r], vec![])?;
        l.node("Erf", &[&u], vec![])?
    };
    let one = l.scalar(1.0, d)?;
    let p = l.node("Add", &[&inner, &one], vec![])?;
    let half = l.scalar(0.5, d)?;
    let hx = l.node("Mul", &[x, &half], vec![])?;
    l.node("Mul", &[&hx, &p], vec![])
}

fn gelu_rule(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let tanh = matches!(a.opt(1, "approximate"), Some(V::Str(s)) if s == "tanh");
    Ok(V::T(gelu(l, &x, tanh)?))
}

fn softmax(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let axis = l.int(a.req(1, "dim")?, "dim")?;
    if let Some(V::Int(code)) = a.opt(2, "dtype") {
        let t = crate::dtype::by_code(*code).ok_or_else(|| Error::invalid(format!("dtype code {code}")))?;
        x = l.cast(&x, t.dtype)?;
    }
    Ok(V::T(l.node(op, &[&x], vec![("axis", Attribute::Int(axis))])?))
}

/// `max_pool2d(input, kernel, stride, padding, dilation, ceil_mode)` and
/// `avg_pool2d(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`.
fn pool(l: &mut Lower<'_>, a: &Args, op: &str) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let kernel = l.ints(a.req(1, "kernel_size")?, "kernel_size")?;
    let n = kernel.len();
    let strides = match a.opt(2, "stride") {
        Some(V::List(s)) if s.is_empty() => kernel.clone(),
        s => ints_or(l, s, n, 1).map(|v| if s.is_none() { kernel.clone() } else { v })?,
    };
    let pads = ints_or(l, a.opt(3, "padding"), n, 0)?;
    let mut attrs = vec![
        ("kernel_shape", Attribute::Ints(kernel.clone())),
        ("strides", Attribute::Ints(strides)),
        ("pads", Attribute::Ints(pads.iter().chain(&pads).copied().collect())),
    ];
    let ceil = if op == "MaxPool" {
        attrs.push(("dilations", Attribute::Ints(ints_or(l, a.opt(4, "dilation"), n, 1)?)));
        a.opt(5, "ceil_mode")
    } else {
        let include = a.opt(5, "count_include_pad").and_then(|v| l.int_of(v)).unwrap_or(1);
        attrs.push(("count_include_pad", Attribute::Int(include)));
        if a.opt(6, "divisor_override").is_some() {
            return Err(Error::invalid("avg_pool with divisor_override"));
        }
        a.opt(4, "ceil_mode")
    };
    let ceil = ceil.and_then(|v| l.int_of(v)).unwrap_or(0);
    attrs.push(("ceil_mode", Attribute::Int(ceil)));
    Ok(V::T(l.node(op, &[&x], attrs)?))
}

/// Adaptive average pooling: global when the output is all ones, else an
/// `AveragePool` when every input size is a known multiple of the output size.
fn adaptive_avg_pool(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let out = l.ints(a.req(1, "output_size")?, "output_size")?;
    if out.iter().all(|&o| o == 1) {
        return Ok(V::T(l.node("GlobalAveragePool", &[&x], vec![])?));
    }
    let shape = l.shape(&x).ok_or_else(|| Error::invalid("adaptive pooling of an input of unknown shape"))?;
    let spatial = shape.dims().get(shape.rank().saturating_sub(out.len())..).unwrap_or_default();
    let mut kernel = Vec::new();
    for (d, &o) in spatial.iter().zip(&out) {
        match d.fixed() {
            Some(n) if o > 0 && n as i64 % o == 0 => kernel.push(n as i64 / o),
            _ => {
                return Err(Error::invalid(format!(
                    "adaptive pooling from {shape} to {out:?} (sizes must be known multiples)"
                )));
            }
        }
    }
    Ok(V::T(l.node(
        "AveragePool",
        &[&x],
        vec![("kernel_shape", Attribute::Ints(kernel.clone())), ("strides", Attribute::Ints(kernel))],
    )?))
}

/// `embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse)`.
fn embedding(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let w = l.tensor(a.req(0, "weight")?, None)?;
    let i = l.tensor(a.req(1, "indices")?, Some(DType::I64))?;
    Ok(V::T(l.node("Gather", &[&w, &i], vec![("axis", Attribute::Int(0))])?))
}

/// `upsample_*(input, output_size, [align_corners,] scale_factors)` (and
/// the older per-axis `scales_h, scales_w` form) as `Resize`: torch's
/// `nearest` is ONNX `asymmetric` + `floor`, `nearest-exact` is
/// `half_pixel` + `round_prefer_ceil`, linear and cubic are
/// `pytorch_half_pixel` (or `align_corners`), cubic with `a = -0.75`.
fn upsample(l: &mut Lower<'_>, a: &Args, mode: &str, has_align: bool) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let rank = l.rank(&x)?;
    let n = rank.checked_sub(2).ok_or_else(|| Error::invalid("upsampling an input of rank below 3"))?;
    let align = has_align && a.opt(2, "align_corners").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let first_scale = if has_align { 3 } else { 2 };
    let (onnx_mode, transform, nearest) = match mode {
        "nearest" => ("nearest", "asymmetric", "floor"),
        "nearest-exact" => ("nearest", "half_pixel", "round_prefer_ceil"),
        m => (m, if align { "align_corners" } else { "pytorch_half_pixel" }, "floor"),
    };
    let mut attrs = vec![
        ("mode", Attribute::String(onnx_mode.into())),
        ("coordinate_transformation_mode", Attribute::String(transform.into())),
        ("nearest_mode", Attribute::String(nearest.into())),
    ];
    if mode == "cubic" {
        attrs.push(("cubic_coeff_a", Attribute::Float(-0.75)));
    }
    let (scales, sizes) = match a.opt(1, "output_size") {
        Some(size) => {
            let size = l.tensor(size, Some(DType::I64))?;
            let size = l.cast(&size, DType::I64)?;
            let shape = l.node("Shape", &[&x], vec![])?;
            let (b, e, ax) = (l.i64s(&[0]), l.i64s(&[2]), l.i64s(&[0]));
            let head = l.node("Slice", &[&shape, &b, &e, &ax], vec![])?;
            (String::new(), l.node("Concat", &[&head, &size], vec![("axis", Attribute::Int(0))])?)
        }
        None => {
            // A list of factors, or one optional float per spatial axis.
            let f: Vec<f64> = match a.opt(first_scale, "scale_factors") {
                Some(V::List(v)) | Some(V::Tuple(v)) => v.iter().map(|x| l.float_of(x)).collect::<Option<_>>(),
                _ => (0..n).map(|i| a.opt(first_scale + i, "scales").and_then(|x| l.float_of(x))).collect(),
            }
            .ok_or_else(|| Error::invalid("upsampling needs an output size or scale factors known at import"))?;
            if f.len() != n {
                return Err(Error::invalid(format!("{} scale factors for {n} spatial axes", f.len())));
            }
            let all: Vec<f32> = [1.0, 1.0].into_iter().chain(f.iter().map(|&v| v as f32)).collect();
            (l.constant("scales", ir::Tensor::from_vec(vec![all.len()], all)?), String::new())
        }
    };
    let node = ir::Node::new("Resize", [x.as_str(), "", scales.as_str(), sizes.as_str()], [l.b.fresh_value("resize")])
        .named(l.b.fresh_node("Resize"));
    let mut node = node;
    node.inputs = node.inputs.into_iter().map(|i| i.filter(|s| !s.is_empty())).collect();
    while node.inputs.last().is_some_and(Option::is_none) {
        node.inputs.pop();
    }
    for (k, v) in attrs {
        node.attrs.insert(k.to_string(), v);
    }
    let out = node.outputs.first().cloned().unwrap_or_default();
    l.add(node)?;
    Ok(V::T(out))
}
