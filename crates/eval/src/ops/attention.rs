//! Attention ops: Attention, RotaryEmbedding and LinearAttention.
//!
//! Opset history: Attention-23 is scaled dot-product attention over 4D
//! `[batch, heads, seq, head_size]` or 3D `[batch, seq, heads * head_size]`
//! inputs with grouped KV heads, a bool or additive `attn_mask` (right-aligned
//! broadcast, last axis padded with "masked" up to the KV length), causal
//! masking aligned to the end of the past cache, `past_key`/`past_value`
//! concatenation into `present_*`, `scale`, `softcap` (applied before the
//! mask), `softmax_precision` and the optional `qk_matmul_output` (mode 0: raw
//! scores, 1: after softcap, 2: after the mask, 3: after softmax). Attention-24
//! adds `nonpad_kv_seqlen` (an external KV cache: keys at or past the length are
//! masked and the causal frontier is `nonpad - q_len`); Attention-25 adds the
//! `left_window_size`/`right_window_size` sliding window. A query row whose
//! every key is masked gets all-zero probabilities (so a zero output row).
//! RotaryEmbedding-23 rotates the first `rotary_embedding_dim` channels of each
//! head, in halves or interleaved pairs, with cos/sin rows picked by
//! `position_ids` (or given per batch and position). LinearAttention-27 is the
//! recurrent linear / gated / delta / gated-delta state update.
//!
//! f16/bf16 inputs compute in f32 and round once; f64 computes in f64. The two
//! products per head run through ndarray's `general_mat_mul` (matrixmultiply)
//! on strided views, so 3D inputs are never transposed into a copy.

use half::{bf16, f16};
use ir::DType;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array4, ArrayD, ArrayView4, Axis, IxDyn, LinalgScalar, s};

use super::reduce::{Elem, with_float};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the attention ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Attention", attention);
    r.add("RotaryEmbedding", rotary_embedding);
    r.add("LinearAttention", linear_attention);
}

// ---------------------------------------------------------------------------
// Shared float helpers (also used by the loss and rnn families).

/// A compute type: f32 (for f32, f16 and bf16 tensors) or f64.
pub(super) trait Real: LinalgScalar + Elem + Send + Sync + std::fmt::Debug {
    /// -inf.
    const NEG_INF: Self;
    /// e^x.
    fn exp(self) -> Self;
    /// ln x.
    fn ln(self) -> Self;
    /// tanh x.
    fn tanh(self) -> Self;
    /// The larger of two values (the other one when either is NaN).
    fn max(self, o: Self) -> Self;
    /// Whether this is -inf.
    fn is_neg_inf(self) -> bool;
}

macro_rules! real {
    ($($t:ty),*) => {$(
        impl Real for $t {
            const NEG_INF: Self = <$t>::NEG_INFINITY;
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn max(self, o: Self) -> Self {
                <$t>::max(self, o)
            }
            fn is_neg_inf(self) -> bool {
                self == <$t>::NEG_INFINITY
            }
        }
    )*};
}
real!(f32, f64);

/// A float tensor's values in the compute type, in standard layout.
pub(super) fn to_real<R: Real>(t: &Tensor, what: &str) -> Result<ArrayD<R>> {
    with_float!(t, what, a => array(a.shape(), a.iter().map(|v| R::from_f64(v.to_f64())).collect()))
}

/// A tensor of float type `d` from compute-type values (one rounding).
pub(super) fn from_real<R: Real>(d: DType, a: &ArrayD<R>) -> Result<Tensor> {
    Ok(match d {
        DType::F32 => Tensor::F32(a.mapv(|v| v.to_f64() as f32)),
        DType::F64 => Tensor::F64(a.mapv(|v| v.to_f64())),
        DType::F16 => Tensor::F16(a.mapv(|v| f16::from_f64(v.to_f64()))),
        DType::BF16 => Tensor::BF16(a.mapv(|v| bf16::from_f64(v.to_f64()))),
        d => bail!("{d} is not a float type"),
    })
}

/// Whether the node's output `i` is requested.
pub(super) fn wants(ctx: &Ctx<'_>, i: usize) -> bool {
    ctx.node.outputs.get(i).is_some_and(|o| !o.is_empty())
}

/// Checks that `t` has the float type `d` the op's type constraint ties it to.
fn same_type(t: &Tensor, d: DType, what: &str) -> Result<()> {
    if t.dtype() != d {
        bail!("{what} has type {}, expected {d} like the first input", t.dtype());
    }
    Ok(())
}

/// A non-negative integer attribute as a count; `None` when absent.
fn opt_count(ctx: &Ctx<'_>, name: &str) -> Result<Option<usize>> {
    if ctx.node.attr(name).is_none() {
        return Ok(None);
    }
    let v = ctx.int(name, 0)?;
    match usize::try_from(v) {
        Ok(n) => Ok(Some(n)),
        Err(_) => bail!("attribute '{name}' must be non-negative, got {v}"),
    }
}

/// Row-wise softmax in place; a row of only -inf becomes all zeros (the
/// attention convention for a row with nothing to attend).
fn softmax_row<R: Real>(row: &mut [R]) {
    let m = row.iter().fold(R::NEG_INF, |a, &v| a.max(v));
    let m = if m.is_neg_inf() { R::zero() } else { m };
    let mut sum = R::zero();
    for v in row.iter_mut() {
        *v = (*v - m).exp();
        sum = sum + *v;
    }
    if sum == R::zero() {
        return;
    }
    for v in row.iter_mut() {
        *v = *v / sum;
    }
}

/// Softmax of a row in f64 (for `softmax_precision` = double on f32 compute).
fn softmax_row_f64<R: Real>(row: &mut [R]) {
    let mut w: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
    softmax_row(&mut w);
    for (o, v) in row.iter_mut().zip(w) {
        *o = R::from_f64(v);
    }
}

// ---------------------------------------------------------------------------
// Attention.

/// The attributes of an Attention node.
struct AttnCfg {
    is_causal: bool,
    scale: Option<f64>,
    softcap: f64,
    /// Softmax in f64 (softmax_precision = double).
    softmax_f64: bool,
    qk_mode: i64,
    left: i64,
    right: i64,
}

/// Attention (opsets 23–25).
fn attention(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let q = ctx.input(inputs, 0)?;
    let d = q.dtype();
    let k = ctx.input(inputs, 1)?;
    let v = ctx.input(inputs, 2)?;
    same_type(k, d, "K")?;
    same_type(v, d, "V")?;
    let mask = ctx.opt_input(inputs, 3)?;
    let past_k = ctx.opt_input(inputs, 4)?;
    let past_v = ctx.opt_input(inputs, 5)?;
    let nonpad = ctx.opt_input(inputs, 6)?;
    for (t, w) in [(past_k, "past_key"), (past_v, "past_value")] {
        if let Some(t) = t {
            same_type(t, d, w)?;
        }
    }
    if past_k.is_some() != past_v.is_some() {
        bail!("past_key and past_value must be given together");
    }
    if nonpad.is_some() && past_k.is_some() {
        bail!("nonpad_kv_seqlen cannot be combined with past_key/past_value");
    }
    let nonpad = nonpad.map(Tensor::to_i64_vec).transpose()?;
    let softmax_f64 = match ctx.node.attr("softmax_precision") {
        None => false,
        Some(_) => match ctx.int("softmax_precision", 1)? {
            1 | 10 | 16 => false,
            11 => true,
            p => bail!("softmax_precision {p} is not a float type (1, 10, 11 or 16)"),
        },
    };
    let qk_mode = ctx.int("qk_matmul_output_mode", 0)?;
    if !(0..=3).contains(&qk_mode) {
        bail!("qk_matmul_output_mode must be 0, 1, 2 or 3, got {qk_mode}");
    }
    let (left, right) = (ctx.int("left_window_size", -1)?, ctx.int("right_window_size", -1)?);
    if left < -1 || right < -1 {
        bail!("left_window_size/right_window_size must be -1 or non-negative, got {left}/{right}");
    }
    let cfg = AttnCfg {
        is_causal: ctx.int("is_causal", 0)? != 0,
        scale: ctx.node.attr("scale").map(|_| ctx.float("scale", 1.0)).transpose()?.map(f64::from),
        softcap: f64::from(ctx.float("softcap", 0.0)?),
        softmax_f64,
        qk_mode,
        left,
        right,
    };
    let heads = (opt_count(ctx, "q_num_heads")?, opt_count(ctx, "kv_num_heads")?);
    let io = AttnIo { q, k, v, mask, past_k, past_v, nonpad: nonpad.as_deref(), heads };
    match d {
        DType::F64 => attention_typed::<f64>(ctx, &io, &cfg),
        DType::F32 | DType::F16 | DType::BF16 => attention_typed::<f32>(ctx, &io, &cfg),
        d => bail!("Attention does not support {d} inputs (float types only)"),
    }
}

/// The inputs of an Attention node.
struct AttnIo<'a> {
    q: &'a Tensor,
    k: &'a Tensor,
    v: &'a Tensor,
    mask: Option<&'a Tensor>,
    past_k: Option<&'a Tensor>,
    past_v: Option<&'a Tensor>,
    nonpad: Option<&'a [i64]>,
    /// (q_num_heads, kv_num_heads) attributes.
    heads: (Option<usize>, Option<usize>),
}

/// A 3D `[batch, seq, heads * size]` array as a 4D `[batch, heads, seq, size]`
/// view (or a 4D array unchanged); the data must be in standard layout.
fn heads_view<'a, R: Real>(a: &'a ArrayD<R>, heads: Option<usize>, what: &str) -> Result<ArrayView4<'a, R>> {
    let sh = a.shape();
    match sh.len() {
        3 => {
            let h = match heads {
                Some(h) if h > 0 => h,
                _ => bail!("3D {what} needs a positive q_num_heads/kv_num_heads attribute"),
            };
            if !sh[2].is_multiple_of(h) {
                bail!("{what} hidden size {} is not divisible by {h} heads", sh[2]);
            }
            let v = a
                .view()
                .into_shape_with_order((sh[0], sh[1], h, sh[2] / h))
                .map_err(|e| crate::Error::op(format!("{what}: {e}")))?;
            Ok(v.permuted_axes([0, 2, 1, 3]))
        }
        4 => {
            if let Some(h) = heads
                && h != sh[1]
            {
                bail!("{what} has {} heads but the num_heads attribute says {h}", sh[1]);
            }
            Ok(a.view().into_dimensionality().map_err(|e| crate::Error::op(format!("{what}: {e}")))?)
        }
        r => bail!("{what} must be 3D or 4D, got rank {r}"),
    }
}

/// Appends `new` to the cache `past` along the sequence axis (2).
fn concat_cache<R: Real>(past: Option<&Tensor>, new: ArrayView4<'_, R>, what: &str) -> Result<Array4<R>> {
    let Some(p) = past else { return Ok(new.to_owned()) };
    let p = to_real::<R>(p, what)?;
    let p = p.view().into_dimensionality::<ndarray::Ix4>().map_err(|_| {
        crate::Error::op(format!("{what} must be 4D [batch, kv_heads, past_seq, head_size], got {:?}", p.shape()))
    })?;
    let (ps, ns) = (p.shape(), new.shape());
    if ps[0] != ns[0] || ps[1] != ns[1] || ps[3] != ns[3] {
        bail!("{what} of shape {ps:?} does not fit the new keys/values of shape {ns:?} (batch, kv heads, head size)");
    }
    ndarray::concatenate(Axis(2), &[p, new]).map_err(|e| crate::Error::op(format!("{what}: {e}")))
}

/// The attention mask as an additive bias of rank 4 (bool: 0 or -inf), with
/// the KV axis padded by -inf up to `kv_len`.
fn mask_bias<R: Real>(m: &Tensor, shape4: [usize; 4]) -> Result<Array4<R>> {
    let r = m.rank();
    if r == 0 || r > 4 {
        bail!("attn_mask must have rank 1 to 4, got shape {:?}", m.shape());
    }
    let vals: ArrayD<R> = match m {
        Tensor::Bool(a) => a.mapv(|b| if b { R::zero() } else { R::NEG_INF }),
        t => to_real(t, "attn_mask")?,
    };
    let mut dims = [1usize; 4];
    dims[4 - r..].copy_from_slice(m.shape());
    let kv_len = shape4[3];
    for (i, (&md, &full)) in dims.iter().zip(&shape4).enumerate().take(3) {
        if md != 1 && md != full {
            let axis = ["batch", "q_heads", "q_seq"][i];
            bail!("attn_mask of shape {:?} does not broadcast to {shape4:?} (axis {axis})", m.shape());
        }
    }
    if dims[3] > kv_len {
        bail!("attn_mask's last axis {} is longer than the {kv_len} keys", dims[3]);
    }
    let vals = vals.into_shape_with_order(IxDyn(&dims)).map_err(|e| crate::Error::op(e.to_string()))?;
    let vals = vals.into_dimensionality::<ndarray::Ix4>().map_err(|e| crate::Error::op(e.to_string()))?;
    if dims[3] == kv_len {
        return Ok(vals);
    }
    let mut out = Array4::from_elem((dims[0], dims[1], dims[2], kv_len), R::NEG_INF);
    out.slice_mut(s![.., .., .., ..dims[3]]).assign(&vals);
    Ok(out)
}

/// Attention in compute type `R`.
fn attention_typed<R: Real>(ctx: &Ctx<'_>, io: &AttnIo<'_>, cfg: &AttnCfg) -> Result<Vec<Value>> {
    let d = io.q.dtype();
    let rank = io.q.rank();
    if io.k.rank() != rank || io.v.rank() != rank {
        bail!("Q, K and V must have the same rank, got {}, {} and {}", rank, io.k.rank(), io.v.rank());
    }
    let (qa, ka, va) = (to_real::<R>(io.q, "Q")?, to_real::<R>(io.k, "K")?, to_real::<R>(io.v, "V")?);
    let q = heads_view(&qa, io.heads.0, "Q")?;
    let k_new = heads_view(&ka, io.heads.1, "K")?;
    let v_new = heads_view(&va, io.heads.1, "V")?;
    let (b, hq, sq, dq) = q.dim();
    let (kb, hkv, _, dk) = k_new.dim();
    let (vb, vh, _, dv) = v_new.dim();
    if kb != b || vb != b {
        bail!("Q, K and V batch sizes differ: {b}, {kb}, {vb}");
    }
    if vh != hkv {
        bail!("K has {hkv} heads but V has {vh}");
    }
    if dk != dq {
        bail!("Q head size {dq} differs from K head size {dk}");
    }
    if hkv == 0 || !hq.is_multiple_of(hkv) {
        bail!("q heads ({hq}) must be a multiple of kv heads ({hkv})");
    }
    if k_new.dim().2 != v_new.dim().2 {
        bail!("K and V sequence lengths differ: {} and {}", k_new.dim().2, v_new.dim().2);
    }
    let past_len = match io.past_k {
        Some(p) if p.rank() == 4 => p.shape()[2],
        _ => 0,
    };
    let pk = concat_cache(io.past_k, k_new, "past_key")?;
    let pv = concat_cache(io.past_v, v_new, "past_value")?;
    if pk.dim().2 != pv.dim().2 {
        bail!("past_key and past_value sequence lengths differ");
    }
    let skv = pk.dim().2;
    let group = hq / hkv;
    if let Some(n) = io.nonpad
        && n.len() != b
    {
        bail!("nonpad_kv_seqlen has {} values, expected one per batch ({b})", n.len());
    }
    let mask = io.mask.map(|m| mask_bias::<R>(m, [b, hq, sq, skv])).transpose()?;
    let scale = cfg.scale.unwrap_or_else(|| 1.0 / (dq as f64).sqrt());
    let scale = R::from_f64(scale);
    let windowed = cfg.left >= 0 || cfg.right >= 0;

    let want_qk = wants(ctx, 3);
    let mut qk_out = if want_qk { Some(Array4::<R>::zeros((b, hq, sq, skv))) } else { None };
    // Y in its final layout: [b, sq, hq, dv] for 3D inputs, [b, hq, sq, dv] for 4D.
    let mut y = if rank == 3 { Array4::<R>::zeros((b, sq, hq, dv)) } else { Array4::<R>::zeros((b, hq, sq, dv)) };
    let mut scores = Array2::<R>::zeros((sq, skv));
    let mut bias = vec![R::zero(); skv];
    for bi in 0..b {
        // Where the query block sits among the keys: causal and window limits
        // are relative to it.
        let offset: i64 = match io.nonpad {
            Some(n) => n[bi] - sq as i64,
            None => past_len as i64,
        };
        let valid_kv = io.nonpad.map_or(skv as i64, |n| n[bi]);
        for h in 0..hq {
            let hk = h / group;
            let kh = pk.slice(s![bi, hk, .., ..]);
            let vh = pv.slice(s![bi, hk, .., ..]);
            general_mat_mul(scale, &q.slice(s![bi, h, .., ..]), &kh.t(), R::zero(), &mut scores);
            if let Some(o) = qk_out.as_mut()
                && cfg.qk_mode == 0
            {
                o.slice_mut(s![bi, h, .., ..]).assign(&scores);
            }
            if cfg.softcap > 0.0 {
                let c = R::from_f64(cfg.softcap);
                scores.mapv_inplace(|x| (x / c).tanh() * c);
            }
            if let Some(o) = qk_out.as_mut()
                && cfg.qk_mode == 1
            {
                o.slice_mut(s![bi, h, .., ..]).assign(&scores);
            }
            for i in 0..sq {
                let mrow = mask.as_ref().map(|m| {
                    let (mb, mh, mi) = (bi.min(m.dim().0 - 1), h.min(m.dim().1 - 1), i.min(m.dim().2 - 1));
                    m.slice(s![mb, mh, mi, ..])
                });
                let pos = i as i64 + offset;
                for (j, bj) in bias.iter_mut().enumerate() {
                    let jj = j as i64;
                    let mut allowed = jj < valid_kv;
                    if cfg.is_causal {
                        allowed &= jj <= pos;
                    }
                    if windowed {
                        let diff = pos - jj;
                        allowed &= (cfg.left < 0 || diff <= cfg.left) && (cfg.right < 0 || -diff <= cfg.right);
                    }
                    let base = mrow.as_ref().map_or(R::zero(), |m| m[j]);
                    *bj = if allowed { base } else { base + R::NEG_INF };
                }
                let all_masked = bias.iter().all(|v| v.is_neg_inf());
                let mut row = scores.row_mut(i);
                let row = row.as_slice_mut().expect("a row of a standard-layout matrix is contiguous");
                for (s, &bj) in row.iter_mut().zip(&bias) {
                    *s = *s + bj;
                }
                if let Some(o) = qk_out.as_mut()
                    && cfg.qk_mode == 2
                {
                    o.slice_mut(s![bi, h, i, ..]).assign(&ndarray::ArrayView1::from(&*row));
                }
                if all_masked {
                    row.fill(R::zero());
                } else if cfg.softmax_f64 {
                    softmax_row_f64(row);
                } else {
                    softmax_row(row);
                }
            }
            if let Some(o) = qk_out.as_mut()
                && cfg.qk_mode == 3
            {
                o.slice_mut(s![bi, h, .., ..]).assign(&scores);
            }
            let mut yh = if rank == 3 { y.slice_mut(s![bi, .., h, ..]) } else { y.slice_mut(s![bi, h, .., ..]) };
            general_mat_mul(R::one(), &scores, &vh, R::zero(), &mut yh);
        }
    }
    let y = if rank == 3 {
        y.into_shape_with_order((b, sq, hq * dv)).map_err(|e| crate::Error::op(e.to_string()))?.into_dyn()
    } else {
        y.into_dyn()
    };
    let mut out: Vec<Value> = vec![from_real(d, &y)?.into()];
    let last = (0..4).rev().find(|&i| wants(ctx, i)).unwrap_or(0);
    if last >= 1 {
        out.push(from_real(d, &pk.into_dyn())?.into());
        out.push(from_real(d, &pv.into_dyn())?.into());
    }
    if let Some(o) = qk_out {
        out.push(from_real(d, &o.into_dyn())?.into());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// RotaryEmbedding.

/// RotaryEmbedding (opset 23).
fn rotary_embedding(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let cos = ctx.input(inputs, 1)?;
    let sin = ctx.input(inputs, 2)?;
    same_type(cos, x.dtype(), "cos_cache")?;
    same_type(sin, x.dtype(), "sin_cache")?;
    let pos = ctx.opt_input(inputs, 3)?;
    let cfg = RopeCfg {
        interleaved: ctx.int("interleaved", 0)? != 0,
        num_heads: opt_count(ctx, "num_heads")?.unwrap_or(0),
        rot_dim: opt_count(ctx, "rotary_embedding_dim")?.unwrap_or(0),
    };
    match x.dtype() {
        DType::F64 => rope_typed::<f64>(x, cos, sin, pos, &cfg),
        DType::F32 | DType::F16 | DType::BF16 => rope_typed::<f32>(x, cos, sin, pos, &cfg),
        d => bail!("RotaryEmbedding does not support {d} inputs (float types only)"),
    }
}

/// The attributes of a RotaryEmbedding node.
struct RopeCfg {
    interleaved: bool,
    num_heads: usize,
    rot_dim: usize,
}

/// RotaryEmbedding in compute type `R`.
fn rope_typed<R: Real>(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    pos: Option<&Tensor>,
    cfg: &RopeCfg,
) -> Result<Vec<Value>> {
    let xa = to_real::<R>(x, "input")?;
    let sh = xa.shape().to_vec();
    // [batch, seq, heads, head_size] views of the input and of the output.
    let x4: ArrayView4<'_, R> = match sh.len() {
        4 => xa.view().into_dimensionality().expect("rank 4").permuted_axes([0, 2, 1, 3]),
        3 => {
            let h = cfg.num_heads;
            if h == 0 || !sh[2].is_multiple_of(h) {
                bail!("3D input needs num_heads dividing the hidden size {}, got num_heads = {h}", sh[2]);
            }
            xa.view()
                .into_shape_with_order((sh[0], sh[1], h, sh[2] / h))
                .map_err(|e| crate::Error::op(e.to_string()))?
        }
        r => bail!("input must be 3D or 4D, got rank {r}"),
    };
    let (b, seq, heads, hs) = x4.dim();
    let rd = if cfg.rot_dim == 0 { hs } else { cfg.rot_dim };
    if rd > hs || rd % 2 != 0 {
        bail!("rotary_embedding_dim {rd} must be even and at most the head size {hs}");
    }
    let half = rd / 2;
    let (ca, sa) = (to_real::<R>(cos, "cos_cache")?, to_real::<R>(sin, "sin_cache")?);
    if ca.shape() != sa.shape() {
        bail!("cos_cache {:?} and sin_cache {:?} shapes differ", ca.shape(), sa.shape());
    }
    let cs = ca.shape().to_vec();
    if cs.last() != Some(&half) {
        bail!("cos/sin cache last axis {:?} must be rotary_embedding_dim / 2 = {half}", cs.last());
    }
    // Row index into the flattened caches for each (batch, position).
    let rows: Vec<usize> = match pos {
        Some(p) => {
            if cs.len() != 2 {
                bail!("with position_ids the caches must be 2D [max_position, dim / 2], got {cs:?}");
            }
            if p.shape() != [b, seq] {
                bail!("position_ids of shape {:?} must be [batch, seq] = [{b}, {seq}]", p.shape());
            }
            p.to_i64_vec()?
                .into_iter()
                .map(|v| match usize::try_from(v) {
                    Ok(v) if v < cs[0] => Ok(v),
                    _ => bail!("position id {v} is outside the {} cached positions", cs[0]),
                })
                .collect::<Result<_>>()?
        }
        None => {
            if cs.len() != 3 || cs[0] != b || cs[1] != seq {
                bail!(
                    "without position_ids the caches must be [batch, seq, dim / 2] = [{b}, {seq}, {half}], got {cs:?}"
                );
            }
            (0..b * seq).collect()
        }
    };
    let (cflat, sflat) = (ca.as_slice().expect("standard layout"), sa.as_slice().expect("standard layout"));
    let mut out = xa.clone();
    {
        let mut o4 = match sh.len() {
            4 => out.view_mut().into_dimensionality::<ndarray::Ix4>().expect("rank 4").permuted_axes([0, 2, 1, 3]),
            _ => out
                .view_mut()
                .into_shape_with_order((b, seq, heads, hs))
                .map_err(|e| crate::Error::op(e.to_string()))?,
        };
        for bi in 0..b {
            for si in 0..seq {
                let r = rows[bi * seq + si] * half;
                let (c, sn) = (&cflat[r..r + half], &sflat[r..r + half]);
                for h in 0..heads {
                    let xin = x4.slice(s![bi, si, h, ..]);
                    let mut o = o4.slice_mut(s![bi, si, h, ..]);
                    for p in 0..half {
                        let (i1, i2) = if cfg.interleaved { (2 * p, 2 * p + 1) } else { (p, p + half) };
                        let (x1, x2) = (xin[i1], xin[i2]);
                        o[i1] = c[p] * x1 - sn[p] * x2;
                        o[i2] = sn[p] * x1 + c[p] * x2;
                    }
                }
            }
        }
    }
    Ok(vec![from_real(x.dtype(), &out)?.into()])
}

// ---------------------------------------------------------------------------
// LinearAttention.

/// LinearAttention (opset 27): a recurrent state `S` of `[d_k, d_v]` per
/// batch and KV head, updated per step by `update_rule`.
fn linear_attention(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let q = ctx.input(inputs, 0)?;
    let d = q.dtype();
    let k = ctx.input(inputs, 1)?;
    let v = ctx.input(inputs, 2)?;
    same_type(k, d, "key")?;
    same_type(v, d, "value")?;
    let past = ctx.opt_input(inputs, 3)?;
    let decay = ctx.opt_input(inputs, 4)?;
    let beta = ctx.opt_input(inputs, 5)?;
    let rule = ctx.string("update_rule", "gated_delta")?;
    let (gating, delta) = match rule.as_str() {
        "linear" => (false, false),
        "gated" => (true, false),
        "delta" => (false, true),
        "gated_delta" => (true, true),
        r => bail!("unknown update_rule '{r}' (linear, gated, delta or gated_delta)"),
    };
    if gating != decay.is_some() {
        bail!("update_rule '{rule}' {} the decay input", if gating { "needs" } else { "forbids" });
    }
    if delta != beta.is_some() {
        bail!("update_rule '{rule}' {} the beta input", if delta { "needs" } else { "forbids" });
    }
    let (Some(hq), Some(hkv)) = (opt_count(ctx, "q_num_heads")?, opt_count(ctx, "kv_num_heads")?) else {
        bail!("q_num_heads and kv_num_heads are required");
    };
    if hq == 0 || hkv == 0 || !hq.is_multiple_of(hkv) {
        bail!("q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})");
    }
    let scale = f64::from(ctx.float("scale", 0.0)?);
    let la = LinIo { q, k, v, past, decay, beta, hq, hkv, scale };
    match d {
        DType::F64 => linear_typed::<f64>(&la),
        DType::F32 | DType::F16 | DType::BF16 => linear_typed::<f32>(&la),
        d => bail!("LinearAttention does not support {d} inputs (float types only)"),
    }
}

/// The inputs and attributes of a LinearAttention node.
struct LinIo<'a> {
    q: &'a Tensor,
    k: &'a Tensor,
    v: &'a Tensor,
    past: Option<&'a Tensor>,
    decay: Option<&'a Tensor>,
    beta: Option<&'a Tensor>,
    hq: usize,
    hkv: usize,
    scale: f64,
}

/// LinearAttention in compute type `R`.
fn linear_typed<R: Real>(io: &LinIo<'_>) -> Result<Vec<Value>> {
    for (t, w) in [(io.q, "query"), (io.k, "key"), (io.v, "value")] {
        if t.rank() != 3 {
            bail!("{w} must be 3D [batch, seq, heads * size], got {:?}", t.shape());
        }
    }
    let (qa, ka, va) = (to_real::<R>(io.q, "query")?, to_real::<R>(io.k, "key")?, to_real::<R>(io.v, "value")?);
    let (b, t, qh) = (qa.shape()[0], qa.shape()[1], qa.shape()[2]);
    if !qh.is_multiple_of(io.hq) {
        bail!("query hidden size {qh} is not divisible by q_num_heads {}", io.hq);
    }
    let dk = qh / io.hq;
    if ka.shape() != [b, t, io.hkv * dk] {
        bail!("key shape {:?} must be [{b}, {t}, kv_num_heads * {dk}]", ka.shape());
    }
    let vs = va.shape();
    if vs[0] != b || vs[1] != t || !vs[2].is_multiple_of(io.hkv) {
        bail!("value shape {vs:?} must be [{b}, {t}, kv_num_heads * d_v]");
    }
    let dv = vs[2] / io.hkv;
    let decay = io.decay.map(|x| to_real::<R>(x, "decay")).transpose()?;
    // Per-head decay (one value) or per key channel (d_k values).
    let decay_w = match &decay {
        Some(g) if g.shape() == [b, t, io.hkv] => 1,
        Some(g) if g.shape() == [b, t, io.hkv * dk] => dk,
        Some(g) => bail!("decay shape {:?} must be [{b}, {t}, {}] or [{b}, {t}, {}]", g.shape(), io.hkv, io.hkv * dk),
        None => 0,
    };
    let beta = io.beta.map(|x| to_real::<R>(x, "beta")).transpose()?;
    let beta_w = match &beta {
        Some(x) if x.shape() == [b, t, io.hkv] => io.hkv,
        Some(x) if x.shape() == [b, t, 1] => 1,
        Some(x) => bail!("beta shape {:?} must be [{b}, {t}, {}] or [{b}, {t}, 1]", x.shape(), io.hkv),
        None => 0,
    };
    let (state_dtype, mut state) = match io.past {
        Some(p) => {
            if p.shape() != [b, io.hkv, dk, dv] {
                bail!("past_state shape {:?} must be [{b}, {}, {dk}, {dv}]", p.shape(), io.hkv);
            }
            (p.dtype(), to_real::<R>(p, "past_state")?.into_raw_vec_and_offset().0)
        }
        None => (io.q.dtype(), vec![R::zero(); b * io.hkv * dk * dv]),
    };
    let scale = R::from_f64(if io.scale == 0.0 { 1.0 / (dk as f64).sqrt() } else { io.scale });
    let (qs, ks, vsl) =
        (qa.as_slice().expect("standard"), ka.as_slice().expect("standard"), va.as_slice().expect("standard"));
    let mut out = vec![R::zero(); b * t * io.hq * dv];
    let group = io.hq / io.hkv;
    let mut vt = vec![R::zero(); dv];
    let mut retrieved = vec![R::zero(); dv];
    // With d_v = 0 the state rows are empty (and `chunks(0)` would panic):
    // the output and the state have no elements to compute.
    let batches = if dv == 0 { 0 } else { b };
    for bi in 0..batches {
        for h in 0..io.hkv {
            let st = &mut state[(bi * io.hkv + h) * dk * dv..][..dk * dv];
            for ti in 0..t {
                let row = bi * t + ti;
                let kt = &ks[(row * io.hkv + h) * dk..][..dk];
                vt.copy_from_slice(&vsl[(row * io.hkv + h) * dv..][..dv]);
                if let Some(g) = &decay {
                    let g = &g.as_slice().expect("standard")[(row * io.hkv + h) * decay_w..][..decay_w];
                    for (di, srow) in st.chunks_exact_mut(dv).enumerate() {
                        let f = g[if decay_w == 1 { 0 } else { di }].exp();
                        srow.iter_mut().for_each(|s| *s = *s * f);
                    }
                }
                if let Some(bt) = &beta {
                    let bv = bt.as_slice().expect("standard")[row * beta_w + if beta_w == 1 { 0 } else { h }];
                    // v <- beta * (v - S^T k): the delta rule's correction.
                    retrieved.fill(R::zero());
                    for (srow, &kd) in st.chunks_exact(dv).zip(kt) {
                        retrieved.iter_mut().zip(srow).for_each(|(r, &s)| *r = *r + s * kd);
                    }
                    vt.iter_mut().zip(&retrieved).for_each(|(v, &r)| *v = bv * (*v - r));
                }
                for (srow, &kd) in st.chunks_exact_mut(dv).zip(kt) {
                    srow.iter_mut().zip(&vt).for_each(|(s, &v)| *s = *s + kd * v);
                }
                for g in 0..group {
                    let qhd = h * group + g;
                    let qt = &qs[(row * io.hq + qhd) * dk..][..dk];
                    let o = &mut out[(row * io.hq + qhd) * dv..][..dv];
                    for (srow, &qd) in st.chunks_exact(dv).zip(qt) {
                        o.iter_mut().zip(srow).for_each(|(o, &s)| *o = *o + qd * s);
                    }
                    o.iter_mut().for_each(|o| *o = *o * scale);
                }
            }
        }
    }
    let out = array(&[b, t, io.hq * dv], out)?;
    let state = array(&[b, io.hkv, dk, dv], state)?;
    Ok(vec![from_real(io.q.dtype(), &out)?.into(), from_real(state_dtype, &state)?.into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reduce::tests::run_node;
    use ir::{Attribute, Node};

    fn node(op: &str, ins: usize, outs: &[&str], attrs: &[(&str, Attribute)]) -> Node {
        let mut n = Node::new(op, (0..ins).map(|i| format!("i{i}")), outs.iter().map(|s| s.to_string()));
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v.clone());
        }
        n
    }

    fn f32s(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::f32(shape, v).unwrap()
    }

    fn close(got: &Tensor, want: &[f64]) {
        let g = got.to_f64_vec().unwrap();
        assert_eq!(g.len(), want.len(), "{g:?} vs {want:?}");
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "{g:?} vs {want:?}");
        }
    }

    /// softmax(q k^T / sqrt(d)) v for one head, in f64.
    fn naive(q: &[f32], k: &[f32], v: &[f32], sq: usize, skv: usize, d: usize, causal: bool) -> Vec<f64> {
        let mut out = vec![0.0; sq * d];
        for i in 0..sq {
            let mut w: Vec<f64> = (0..skv)
                .map(|j| {
                    if causal && j > i {
                        return f64::NEG_INFINITY;
                    }
                    (0..d).map(|c| f64::from(q[i * d + c]) * f64::from(k[j * d + c])).sum::<f64>() / (d as f64).sqrt()
                })
                .collect();
            softmax_row(&mut w);
            for c in 0..d {
                out[i * d + c] = (0..skv).map(|j| w[j] * f64::from(v[j * d + c])).sum();
            }
        }
        out
    }

    fn vals(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect()
    }

    #[test]
    fn attention_matches_naive_4d_and_3d() {
        let (sq, skv, d) = (3, 4, 2);
        let (q, k, v) = (vals(sq * d, 0.1), vals(skv * d, 0.7), vals(skv * d, 1.3));
        for causal in [false, true] {
            let want = naive(&q, &k, &v, sq, skv, d, causal);
            let n = node("Attention", 3, &["y"], &[("is_causal", Attribute::Int(i64::from(causal)))]);
            let ins = vec![
                Some(f32s(&[1, 1, sq, d], q.clone())),
                Some(f32s(&[1, 1, skv, d], k.clone())),
                Some(f32s(&[1, 1, skv, d], v.clone())),
            ];
            close(&run_node(n, 23, ins).unwrap()[0], &want);
            // The same as 3D with one head.
            let n = node(
                "Attention",
                3,
                &["y"],
                &[
                    ("is_causal", Attribute::Int(i64::from(causal))),
                    ("q_num_heads", Attribute::Int(1)),
                    ("kv_num_heads", Attribute::Int(1)),
                ],
            );
            let ins = vec![
                Some(f32s(&[1, sq, d], q.clone())),
                Some(f32s(&[1, skv, d], k.clone())),
                Some(f32s(&[1, skv, d], v.clone())),
            ];
            close(&run_node(n, 23, ins).unwrap()[0], &want);
        }
    }

    #[test]
    fn attention_gqa_past_and_fully_masked_rows() {
        // Two q heads share one kv head; a past of one step; a bool mask
        // masking every key of query row 0.
        let (sq, d) = (2, 2);
        let q = vals(2 * sq * d, 0.2);
        let (k, v) = (vals(d, 0.5), vals(d, 0.9));
        let (pk, pv) = (vals(d, 1.5), vals(d, 2.5));
        let mask = Tensor::Bool(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![false, false, true, true]).unwrap());
        let n = node("Attention", 6, &["y", "pk", "pv", "qk"], &[("qk_matmul_output_mode", Attribute::Int(3))]);
        let ins = vec![
            Some(f32s(&[1, 2, sq, d], q.clone())),
            Some(f32s(&[1, 1, 1, d], k.clone())),
            Some(f32s(&[1, 1, 1, d], v.clone())),
            Some(mask),
            Some(f32s(&[1, 1, 1, d], pk.clone())),
            Some(f32s(&[1, 1, 1, d], pv.clone())),
        ];
        let out = run_node(n, 23, ins).unwrap();
        assert_eq!(out[1].shape(), [1, 1, 2, d]);
        close(&out[1], &[pk[0], pk[1], k[0], k[1]].map(f64::from));
        let kk = [pk.clone(), k.clone()].concat();
        let vv = [pv.clone(), v.clone()].concat();
        for h in 0..2 {
            let qh = &q[h * sq * d..][..sq * d];
            let full = naive(qh, &kk, &vv, sq, 2, d, false);
            let y = out[0].to_f64_vec().unwrap();
            // Row 0 is fully masked: zeros; row 1 attends both keys.
            let yh = &y[h * sq * d..][..sq * d];
            assert_eq!(&yh[..d], &[0.0, 0.0]);
            for c in 0..d {
                assert!((yh[d + c] - full[d + c]).abs() < 1e-5);
            }
            let p = out[3].to_f64_vec().unwrap();
            assert_eq!(&p[h * 4..h * 4 + 2], &[0.0, 0.0]);
            assert!((p[h * 4 + 2] + p[h * 4 + 3] - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn attention_rejects_bad_heads() {
        let n = node("Attention", 3, &["y"], &[]);
        let ins = vec![
            Some(f32s(&[1, 3, 1, 2], vals(6, 0.0))),
            Some(f32s(&[1, 2, 1, 2], vals(4, 0.0))),
            Some(f32s(&[1, 2, 1, 2], vals(4, 0.0))),
        ];
        let e = run_node(n, 23, ins).unwrap_err().to_string();
        assert!(e.contains("multiple of kv heads"), "{e}");
    }

    #[test]
    fn rotary_halves_and_interleaved() {
        // One head of size 4, one position with angle t: cos/sin caches [1, 2].
        let (c, s) = (0.6f32, 0.8f32);
        let x = vec![1.0, 2.0, 3.0, 4.0];
        for (inter, want) in [
            (0, [c - s * 3.0, 2.0 * c - s * 4.0, s + c * 3.0, 2.0 * s + c * 4.0]),
            (1, [c - s * 2.0, s + c * 2.0, 3.0 * c - s * 4.0, 3.0 * s + c * 4.0]),
        ] {
            let n = node("RotaryEmbedding", 4, &["y"], &[("interleaved", Attribute::Int(inter))]);
            let ins = vec![
                Some(f32s(&[1, 1, 1, 4], x.clone())),
                Some(f32s(&[1, 2], vec![c, c])),
                Some(f32s(&[1, 2], vec![s, s])),
                Some(Tensor::i64(&[1, 1], vec![0]).unwrap()),
            ];
            close(&run_node(n, 23, ins).unwrap()[0], &want.map(f64::from));
        }
        // Out-of-range position ids are an error, not a panic.
        let n = node("RotaryEmbedding", 4, &["y"], &[]);
        let ins = vec![
            Some(f32s(&[1, 1, 1, 4], x)),
            Some(f32s(&[1, 2], vec![c, c])),
            Some(f32s(&[1, 2], vec![s, s])),
            Some(Tensor::i64(&[1, 1], vec![5]).unwrap()),
        ];
        assert!(run_node(n, 23, ins).is_err());
    }

    #[test]
    fn linear_attention_linear_rule_is_cumulative_kv() {
        // One head, d_k = d_v = 1: S_t = sum k v, o_t = scale * q_t * S_t.
        let n = node(
            "LinearAttention",
            3,
            &["o", "s"],
            &[
                ("q_num_heads", Attribute::Int(1)),
                ("kv_num_heads", Attribute::Int(1)),
                ("update_rule", Attribute::String("linear".into())),
            ],
        );
        let ins = vec![
            Some(f32s(&[1, 2, 1], vec![1.0, 2.0])),
            Some(f32s(&[1, 2, 1], vec![3.0, 4.0])),
            Some(f32s(&[1, 2, 1], vec![5.0, 6.0])),
        ];
        let out = run_node(n, 27, ins).unwrap();
        close(&out[0], &[15.0, 2.0 * (15.0 + 24.0)]);
        close(&out[1], &[39.0]);
    }

    #[test]
    fn linear_attention_with_empty_values_is_empty() {
        // d_v = 0 once panicked in `chunks_exact(0)` (found by `xtask conformance --odd-shapes`).
        for rule in ["linear", "delta"] {
            let n = node(
                "LinearAttention",
                if rule == "delta" { 6 } else { 3 },
                &["o", "s"],
                &[
                    ("q_num_heads", Attribute::Int(1)),
                    ("kv_num_heads", Attribute::Int(1)),
                    ("update_rule", Attribute::String(rule.into())),
                ],
            );
            let mut ins = vec![
                Some(f32s(&[1, 2, 2], vec![1.0; 4])),
                Some(f32s(&[1, 2, 2], vec![1.0; 4])),
                Some(f32s(&[1, 2, 0], vec![])),
            ];
            if rule == "delta" {
                ins.extend([None, None, Some(f32s(&[1, 2, 1], vec![0.5; 2]))]);
            }
            let out = run_node(n, 27, ins).unwrap();
            assert_eq!(out[0].shape(), [1, 2, 0]);
            assert_eq!(out[1].shape(), [1, 1, 2, 0]);
        }
    }
}
