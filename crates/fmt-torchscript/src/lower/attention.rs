//! Attention: `scaled_dot_product_attention`, and the fused inference
//! kernels `nn.MultiheadAttention` and `nn.TransformerEncoderLayer` call on
//! their fast path (`_native_multi_head_attention`,
//! `_transformer_encoder_layer_fwd`), decomposed into canonical ops.
//!
//! `softmax(q·kᵀ·scale + mask)·v` with `scale = 1/√E` by default; a causal
//! mask keeps key positions `≤` the query position (`Range` comparisons,
//! so it works for dynamic lengths); a boolean mask keeps `true`
//! positions, a float mask is added.

use ir::{Attribute, DType, Error, Result};

use super::nn::{gelu, layer_norm, linear};
use super::shape::{dim_of, swap};
use super::{Args, Lower, Rule, V};

/// The rules of this family.
pub(super) const RULES: &[(&str, Rule)] = &[
    ("scaled_dot_product_attention", sdpa_rule),
    ("_native_multi_head_attention", native_mha),
    ("_transformer_encoder_layer_fwd", encoder_layer),
];

fn neg_inf(l: &mut Lower<'_>, d: DType) -> Result<String> {
    l.scalar(f64::NEG_INFINITY, d)
}

/// Attention over the last two dimensions of `q`, `k`, `v`.
fn sdpa(
    l: &mut Lower<'_>,
    q: &str,
    k: &str,
    v: &str,
    mask: Option<&V>,
    causal: bool,
    scale: Option<f64>,
) -> Result<String> {
    let d = l.dtype(q).unwrap_or(DType::F32);
    let kt = swap(l, k, -2, -1)?;
    let s = l.node("MatMul", &[q, &kt], vec![])?;
    let scale = match scale {
        Some(f) => l.scalar(f, d)?,
        None => match dim_of(l, q, -1)? {
            V::Int(e) => l.scalar(1.0 / (e as f64).sqrt(), d)?,
            e => {
                let e = l.tensor(&e, None)?;
                let e = l.cast(&e, d)?;
                let r = l.node("Sqrt", &[&e], vec![])?;
                l.node("Reciprocal", &[&r], vec![])?
            }
        },
    };
    let mut s = l.node("Mul", &[&s, &scale], vec![])?;
    if causal {
        let len = |l: &mut Lower<'_>, x: &str| -> Result<String> {
            let n = dim_of(l, x, -2)?;
            l.tensor(&n, Some(DType::I64))
        };
        let (lq, lk) = (len(l, q)?, len(l, k)?);
        let (zero, one) = (l.scalar(0.0, DType::I64)?, l.scalar(1.0, DType::I64)?);
        let rows = l.node("Range", &[&zero, &lq, &one], vec![])?;
        let cols = l.node("Range", &[&zero, &lk, &one], vec![])?;
        let ax1 = l.i64s(&[1]);
        let rows = l.node("Unsqueeze", &[&rows, &ax1], vec![])?;
        let keep = l.node("LessOrEqual", &[&cols, &rows], vec![])?;
        let ninf = neg_inf(l, d)?;
        s = l.node("Where", &[&keep, &s, &ninf], vec![])?;
    }
    if let Some(m) = mask {
        let m = l.tensor(m, None)?;
        if l.dtype(&m) == Some(DType::Bool) {
            let ninf = neg_inf(l, d)?;
            s = l.node("Where", &[&m, &s, &ninf], vec![])?;
        } else {
            let m = l.cast(&m, d)?;
            s = l.node("Add", &[&s, &m], vec![])?;
        }
    }
    let p = l.node("Softmax", &[&s], vec![("axis", Attribute::Int(-1))])?;
    l.node("MatMul", &[&p, v], vec![])
}

/// `scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)`.
fn sdpa_rule(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let q = l.tensor(a.req(0, "query")?, None)?;
    let k = l.tensor(a.req(1, "key")?, None)?;
    let v = l.tensor(a.req(2, "value")?, None)?;
    if a.opt(4, "dropout_p").and_then(|p| l.float_of(p)).is_some_and(|p| p != 0.0) {
        return Err(Error::invalid("scaled_dot_product_attention with dropout (save the model in eval mode)"));
    }
    if a.opt(7, "enable_gqa").and_then(|g| l.int_of(g)).is_some_and(|g| g != 0) {
        return Err(Error::invalid("scaled_dot_product_attention with enable_gqa"));
    }
    let causal = a.opt(5, "is_causal").and_then(|c| l.int_of(c)).unwrap_or(0) != 0;
    let scale = a.opt(6, "scale").and_then(|s| l.float_of(s));
    let mask = a.opt(3, "attn_mask").cloned();
    Ok(V::T(sdpa(l, &q, &k, &v, mask.as_ref(), causal, scale)?))
}

/// The packed input projection's three `[E, E]` (or `[E]`) parts.
fn split3(l: &mut Lower<'_>, w: &str, e: i64) -> Result<[String; 3]> {
    let s = l.i64s(&[e, e, e]);
    let parts = l.node_n("Split", &[w, &s], vec![("axis", Attribute::Int(0))], 3)?;
    <[String; 3]>::try_from(parts).map_err(|_| Error::invalid("Split did not give 3 parts"))
}

/// Multi-head attention with packed `[3E, E]` input weights, on `[B, L, E]` inputs.
#[allow(clippy::too_many_arguments)]
fn mha(
    l: &mut Lower<'_>,
    q: &str,
    k: &str,
    v: &str,
    e: i64,
    heads: i64,
    w_in: &str,
    b_in: Option<&str>,
    w_out: &str,
    b_out: Option<&str>,
) -> Result<String> {
    if heads <= 0 || e % heads != 0 {
        return Err(Error::invalid(format!("embed_dim {e} is not a multiple of num_heads {heads}")));
    }
    for x in [q, k, v] {
        if l.rank(x)? != 3 {
            return Err(Error::invalid("fused attention on inputs that are not [batch, length, embed]"));
        }
    }
    let w = split3(l, w_in, e)?;
    let b = b_in.map(|b| split3(l, b, e)).transpose()?;
    let mut hs = Vec::new();
    for (i, (x, w)) in [q, k, v].into_iter().zip(&w).enumerate() {
        let bias = b.as_ref().and_then(|b| b.get(i)).map(String::as_str);
        let p = linear(l, x, w, bias)?;
        let s = l.i64s(&[0, 0, heads, e / heads]);
        let r = l.node("Reshape", &[&p, &s], vec![])?;
        hs.push(l.node("Transpose", &[&r], vec![("perm", Attribute::Ints(vec![0, 2, 1, 3]))])?);
    }
    let [hq, hk, hv] = hs.as_slice() else { return Err(Error::invalid("attention needs q, k and v")) };
    let o = sdpa(l, hq, hk, hv, None, false, None)?;
    let t = l.node("Transpose", &[&o], vec![("perm", Attribute::Ints(vec![0, 2, 1, 3]))])?;
    let s = l.i64s(&[0, 0, e]);
    let m = l.node("Reshape", &[&t, &s], vec![])?;
    linear(l, &m, w_out, b_out)
}

fn opt_tensor(l: &mut Lower<'_>, a: &Args, i: usize, name: &str) -> Result<Option<String>> {
    a.opt(i, name).map(|v| l.tensor(v, None)).transpose()
}

/// `_native_multi_head_attention(query, key, value, embed_dim, num_head,
/// qkv_weight, qkv_bias, proj_weight, proj_bias, mask, need_weights, ...)`:
/// `(output, None)`; the averaged weights are not computed.
fn native_mha(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let q = l.tensor(a.req(0, "query")?, None)?;
    let k = l.tensor(a.req(1, "key")?, None)?;
    let v = l.tensor(a.req(2, "value")?, None)?;
    let e = l.int(a.req(3, "embed_dim")?, "embed_dim")?;
    let h = l.int(a.req(4, "num_head")?, "num_head")?;
    let w_in = l.tensor(a.req(5, "qkv_weight")?, None)?;
    let b_in = opt_tensor(l, a, 6, "qkv_bias")?;
    let w_out = l.tensor(a.req(7, "proj_weight")?, None)?;
    let b_out = opt_tensor(l, a, 8, "proj_bias")?;
    if a.opt(9, "mask").is_some() {
        return Err(Error::invalid("_native_multi_head_attention with a mask"));
    }
    let o = mha(l, &q, &k, &v, e, h, &w_in, b_in.as_deref(), &w_out, b_out.as_deref())?;
    Ok(V::Tuple(vec![V::T(o), V::None]))
}

/// `_transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight,
/// qkv_bias, proj_weight, proj_bias, use_gelu, norm_first, eps,
/// norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1,
/// ffn_bias_1, ffn_weight_2, ffn_bias_2, mask, mask_type)`: one
/// `nn.TransformerEncoderLayer` in inference mode.
fn encoder_layer(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let src = l.tensor(a.req(0, "src")?, None)?;
    let e = l.int(a.req(1, "embed_dim")?, "embed_dim")?;
    let h = l.int(a.req(2, "num_heads")?, "num_heads")?;
    let w_in = l.tensor(a.req(3, "qkv_weight")?, None)?;
    let b_in = opt_tensor(l, a, 4, "qkv_bias")?;
    let w_out = l.tensor(a.req(5, "proj_weight")?, None)?;
    let b_out = opt_tensor(l, a, 6, "proj_bias")?;
    let use_gelu = a.opt(7, "use_gelu").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let norm_first = a.opt(8, "norm_first").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let eps = a.opt(9, "eps").and_then(|v| l.float_of(v)).unwrap_or(1e-5);
    let mut p: Vec<String> = Vec::new();
    for (i, n) in [
        (10, "norm_weight_1"),
        (11, "norm_bias_1"),
        (12, "norm_weight_2"),
        (13, "norm_bias_2"),
        (14, "ffn_weight_1"),
        (15, "ffn_bias_1"),
        (16, "ffn_weight_2"),
        (17, "ffn_bias_2"),
    ] {
        p.push(l.tensor(a.req(i, n)?, None)?);
    }
    if a.opt(18, "mask").is_some() {
        return Err(Error::invalid("_transformer_encoder_layer_fwd with a mask"));
    }
    let [n1w, n1b, n2w, n2b, f1w, f1b, f2w, f2b] = p.as_slice() else {
        return Err(Error::invalid("_transformer_encoder_layer_fwd needs 8 norm and feed-forward tensors"));
    };
    let norm = |l: &mut Lower<'_>, x: &str, w: &str, b: &str| layer_norm(l, x, &[e], Some(w), Some(b), eps);
    let attn = |l: &mut Lower<'_>, x: &str| mha(l, x, x, x, e, h, &w_in, b_in.as_deref(), &w_out, b_out.as_deref());
    let ffn = |l: &mut Lower<'_>, x: &str| -> Result<String> {
        let y = linear(l, x, f1w, Some(f1b))?;
        let y = if use_gelu { gelu(l, &y, false)? } else { l.node("Relu", &[&y], vec![])? };
        linear(l, &y, f2w, Some(f2b))
    };
    let out = if norm_first {
        let n1 = norm(l, &src, n1w, n1b)?;
        let a1 = attn(l, &n1)?;
        let x = l.node("Add", &[&src, &a1], vec![])?;
        let n2 = norm(l, &x, n2w, n2b)?;
        let f = ffn(l, &n2)?;
        l.node("Add", &[&x, &f], vec![])?
    } else {
        let a1 = attn(l, &src)?;
        let x = l.node("Add", &[&src, &a1], vec![])?;
        let x = norm(l, &x, n1w, n1b)?;
        let f = ffn(l, &x)?;
        let y = l.node("Add", &[&x, &f], vec![])?;
        norm(l, &y, n2w, n2b)?
    };
    Ok(V::T(out))
}
