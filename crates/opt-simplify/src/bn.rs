//! Folding inference-mode BatchNormalization into the layer before it.
//!
//! `BN(y) = s * (y - mean) + beta` with `s = gamma / sqrt(var + eps)`, per
//! channel. When `y` is a Conv/ConvTranspose/Gemm/MatMul output that nothing
//! else reads, scaling that layer's weights by `s` along its output channels
//! and setting its bias to `s * (bias - mean) + beta` computes the same thing
//! with one node fewer.
//!
//! The same holds for a `Mul` or `Add` by a per-output-channel constant
//! right after such a layer (how Keras writes BatchNormalization, and what
//! TensorFlow imports carry): scale `s`, shift 0 for `Mul`; scale 1, shift
//! `b` for `Add`.

use ir::{Attribute, Graph, NameGen, Node, Result, Tensor, Use, ValueType};

use crate::{Counts, num};

/// The per-channel affine map of one BatchNormalization: `y * scale + shift`.
struct Affine {
    scale: Vec<f64>,
    shift: Vec<f64>,
}

pub(crate) fn fold_batch_norms(g: &mut Graph, c: &mut Counts) -> Result<()> {
    let mut names = NameGen::for_graph(g);
    let mut i = 0;
    while i < g.nodes.len() {
        let n = &g.nodes[i];
        let folded = if !n.domain.is_empty() {
            None
        } else if n.op == "BatchNormalization" {
            match (affine(g, n), n.input(0)) {
                (Some(aff), Some(x)) => Some((aff, x.to_string(), true)),
                _ => None,
            }
        } else if n.op == "Mul" || n.op == "Add" {
            channel_affine(g, n).map(|(aff, x)| (aff, x, false))
        } else {
            None
        };
        if let Some((aff, x, is_bn)) = folded
            && try_fold(g, i, &x, &aff, &mut names)?
        {
            g.nodes.remove(i);
            if is_bn {
                c.bn_folded += 1;
            } else {
                c.affine_folded += 1;
            }
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// The affine map of a `Mul`/`Add` (`n`) of a layer output by a constant with
/// one value per output channel of that layer (or one value), and the layer
/// output it reads.
fn channel_affine(g: &Graph, n: &Node) -> Option<(Affine, String)> {
    if n.inputs.len() != 2 || n.present_outputs().count() != 1 {
        return None;
    }
    let producers = g.producers();
    for (k, other) in [(0usize, 1usize), (1, 0)] {
        let (Some(x), Some(cname)) = (n.input(k), n.input(other)) else { continue };
        let Some(t) = num::constant(g, cname).filter(|t| num::is_rewritable_float(t.dtype())) else { continue };
        let Some(&li) = producers.get(x) else { continue };
        let Some(values) = channel_values(g, &g.nodes[li], t) else { continue };
        let m = values.len();
        let aff = if n.op == "Mul" {
            Affine { scale: values, shift: vec![0.0; m] }
        } else {
            Affine { scale: vec![1.0; m], shift: values }
        };
        return Some((aff, x.to_string()));
    }
    None
}

/// The per-output-channel values of constant `t` broadcast against the
/// output of `layer` (a Conv/ConvTranspose with one group, a Gemm, a 2-D
/// MatMul), or `None` if it varies along any other axis.
fn channel_values(g: &Graph, layer: &Node, t: &Tensor) -> Option<Vec<f64>> {
    if !layer.domain.is_empty() {
        return None;
    }
    let w = layer.input(1).and_then(|n| num::constant(g, n))?;
    let wl = ir::schema::weight_layout(layer, w.shape().len())?;
    let (channels, out_rank) = match layer.op.as_str() {
        "Conv" => (w.shape()[wl.out_axis], w.shape().len()),
        "ConvTranspose" if layer.attr_int("group", 1).ok()? == 1 => (w.shape()[wl.out_axis], w.shape().len()),
        "Gemm" => (w.shape()[wl.out_axis], 2),
        "MatMul" if w.shape().len() == 2 => (w.shape()[1], 2),
        _ => return None,
    };
    // The channel axis is 1: counted from the end, out_rank - 2.
    let from_end = out_rank - 2;
    let shape = t.shape();
    if shape.len() > out_rank {
        return None;
    }
    let axis = shape.len().checked_sub(from_end + 1);
    let ok = shape.iter().enumerate().all(|(k, &d)| d == 1 || (Some(k) == axis && d == channels));
    if !ok {
        return None;
    }
    let v = num::to_f64(t).ok()?;
    match v.len() {
        1 => Some(vec![v[0]; channels]),
        n if n == channels => Some(v),
        _ => None,
    }
}

/// The BN's affine map, if it is in inference mode with constant float parameters.
fn affine(g: &Graph, bn: &Node) -> Option<Affine> {
    let training = bn.attr_int("training_mode", 0).ok()? != 0;
    let spatial = bn.attr_int("spatial", 1).ok()? != 1;
    // Running-statistics outputs exist only in training mode.
    if training || spatial || bn.present_outputs().count() != 1 || bn.output(0).is_none() {
        return None;
    }
    let eps = f64::from(bn.attr_float("epsilon", 1e-5).ok()?);
    let p = |k: usize| bn.input(k).and_then(|n| num::constant(g, n)).and_then(|t| num::to_f64(t).ok());
    let (gamma, beta, mean, var) = (p(1)?, p(2)?, p(3)?, p(4)?);
    let n = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != n) {
        return None;
    }
    let scale: Vec<f64> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps).sqrt()).collect();
    let shift = (0..n).map(|k| beta[k] - mean[k] * scale[k]).collect();
    Some(Affine { scale, shift })
}

fn reads(g: &Graph, value: &str) -> usize {
    g.consumers(value).len()
}

/// Folds the affine map `aff` of node `bi`, which reads layer output `x`,
/// into that layer; returns whether it did (the caller removes node `bi`).
fn try_fold(g: &mut Graph, bi: usize, x: &str, aff: &Affine, names: &mut NameGen) -> Result<bool> {
    let Some(y) = g.nodes[bi].output(0) else { return Ok(false) };
    let Some(pi) = g.nodes[..bi].iter().position(|n| n.output(0) == Some(x)) else { return Ok(false) };
    let uses = g.consumers(x);
    if uses.len() != 1 || !matches!(uses[0], Use::Input { node, .. } if node == bi) {
        return Ok(false);
    }
    let (x, y) = (x.to_string(), y.to_string());
    let layer = g.nodes[pi].clone();
    if !layer.domain.is_empty() || layer.present_outputs().count() != 1 {
        return Ok(false);
    }
    // Which inputs are the layer's weight and bias comes from the op table.
    let weight_rank = layer.input(1).and_then(|w| num::constant(g, w)).map_or(0, |t| t.shape().len());
    let Some(wl) = ir::schema::weight_layout(&layer, weight_rank) else { return Ok(false) };
    // A weight other layers also read would have to be stored twice (the
    // scaled copy beside the original): keep the BatchNormalization instead.
    if let Some(w) = layer.input(wl.input)
        && (reads(g, w) > 1 || g.inputs.iter().any(|v| v.name == w))
    {
        tracing::debug!("BatchNormalization after {} kept: its weight '{w}' is shared", layer.describe());
        return Ok(false);
    }
    let folded = match layer.op.as_str() {
        "Conv" | "ConvTranspose" => fold_conv(g, &layer, aff)?,
        "Gemm" => fold_gemm(g, &layer, aff)?,
        "MatMul" => fold_matmul(g, &layer, &y, aff)?,
        _ => None,
    };
    let Some((mut new_node, weight, bias)) = folded else { return Ok(false) };
    new_node.outputs[0] = y;
    // Write the new weights under the old names when only this layer reads
    // them, else under fresh names so the other readers keep the old values.
    // MatMul has no bias slot: it becomes a Gemm, whose bias is input 2.
    let bias_slot = wl.bias.unwrap_or(2);
    for (slot, tensor, suffix) in [(wl.input, weight, "bn_folded"), (bias_slot, bias, "bn_bias")] {
        let old = new_node.input(slot).map(str::to_string);
        let name = match old {
            Some(o) if reads(g, &o) == 1 && !g.inputs.iter().any(|v| v.name == o) => o,
            _ => names.fresh(&format!("{}_{suffix}", if layer.name.is_empty() { &x } else { &layer.name })),
        };
        g.initializers.insert(name.clone(), tensor);
        while new_node.inputs.len() <= slot {
            new_node.inputs.push(None);
        }
        new_node.inputs[slot] = Some(name);
    }
    g.nodes[pi] = new_node;
    g.value_info.retain(|v| v.name != x);
    Ok(true)
}

type Folded = Option<(Node, Tensor, Tensor)>;

fn bias_of(g: &Graph, node: &Node, slot: usize, channels: usize) -> Option<Vec<f64>> {
    match node.input(slot) {
        None => Some(vec![0.0; channels]),
        Some(b) => {
            let v = num::to_f64(num::constant(g, b)?).ok()?;
            match v.len() {
                1 => Some(vec![v[0]; channels]),
                n if n == channels => Some(v),
                _ => None,
            }
        }
    }
}

fn fold_conv(g: &Graph, layer: &Node, aff: &Affine) -> Result<Folded> {
    let Some(w) = layer.input(1).and_then(|n| num::constant(g, n)) else { return Ok(None) };
    if !num::is_rewritable_float(w.dtype()) || w.shape().len() < 2 {
        return Ok(None);
    }
    let shape = w.shape().to_vec();
    let group = usize::try_from(layer.attr_int("group", 1)?).unwrap_or(0);
    let m = aff.scale.len();
    let inner: usize = shape[2..].iter().product();
    let mut wv = num::to_f64(w)?;
    // Output channel of each [d0, d1] weight slice.
    let channel_of: Box<dyn Fn(usize, usize) -> usize> = if layer.op == "Conv" {
        if shape[0] != m {
            return Ok(None);
        }
        Box::new(|o, _| o)
    } else {
        // ConvTranspose weights are [C_in, M/group, k...]; input channel c belongs to group c / (C_in/group).
        if group == 0 || shape[0] % group != 0 || shape[1] * group != m {
            return Ok(None);
        }
        let (per_in, per_out) = (shape[0] / group, shape[1]);
        Box::new(move |ci, j| (ci / per_in) * per_out + j)
    };
    let Some(bias) = bias_of(g, layer, 2, m) else { return Ok(None) };
    for d0 in 0..shape[0] {
        for d1 in 0..shape[1] {
            let s = aff.scale[channel_of(d0, d1)];
            let start = (d0 * shape[1] + d1) * inner;
            wv[start..start + inner].iter_mut().for_each(|v| *v *= s);
        }
    }
    let b: Vec<f64> = (0..m).map(|k| bias[k] * aff.scale[k] + aff.shift[k]).collect();
    let weight = num::from_f64(w.dtype(), shape, &wv)?;
    let bias = num::from_f64(w.dtype(), vec![m], &b)?;
    Ok(Some((layer.clone(), weight, bias)))
}

/// Scales column `n` of a `[K, N]` matrix (or row `n` of `[N, K]` when `trans`) by `scale[n]`.
fn scale_columns(w: &Tensor, trans: bool, scale: &[f64]) -> Result<Option<Tensor>> {
    if !num::is_rewritable_float(w.dtype()) || w.shape().len() != 2 {
        return Ok(None);
    }
    let (rows, cols) = (w.shape()[0], w.shape()[1]);
    if (if trans { rows } else { cols }) != scale.len() {
        return Ok(None);
    }
    let mut v = num::to_f64(w)?;
    for r in 0..rows {
        for k in 0..cols {
            v[r * cols + k] *= scale[if trans { r } else { k }];
        }
    }
    Ok(Some(num::from_f64(w.dtype(), w.shape().to_vec(), &v)?))
}

fn fold_gemm(g: &Graph, layer: &Node, aff: &Affine) -> Result<Folded> {
    let Some(w) = layer.input(1).and_then(|n| num::constant(g, n)) else { return Ok(None) };
    let trans = layer.attr_int("transB", 0)? != 0;
    let Some(weight) = scale_columns(w, trans, &aff.scale)? else { return Ok(None) };
    let m = aff.scale.len();
    // Only a per-column (or scalar) C can absorb the shift as a bias vector.
    if let Some(cn) = layer.input(2)
        && num::constant(g, cn).is_none_or(|t| t.shape().len() > 2 || (t.shape().len() == 2 && t.shape()[0] != 1))
    {
        return Ok(None);
    }
    let Some(c) = bias_of(g, layer, 2, m) else { return Ok(None) };
    let beta = f64::from(layer.attr_float("beta", 1.0)?);
    let b: Vec<f64> = (0..m).map(|k| beta * c[k] * aff.scale[k] + aff.shift[k]).collect();
    let mut node = layer.clone();
    node.attrs.insert("beta".into(), Attribute::Float(1.0));
    Ok(Some((node, weight, num::from_f64(w.dtype(), vec![m], &b)?)))
}

fn rank(g: &Graph, name: &str) -> Option<usize> {
    match g.value_type(name)? {
        ValueType::Tensor { shape: Some(s), .. } => Some(s.rank()),
        _ => None,
    }
}

/// MatMul has no bias, so a 2-D MatMul becomes a Gemm (same math for
/// `[M, K] x [K, N]`), which has one. BN's channel axis is 1, which is the
/// MatMul's column axis only for 2-D outputs; other ranks are left alone.
fn fold_matmul(g: &Graph, layer: &Node, bn_out: &str, aff: &Affine) -> Result<Folded> {
    let Some(a) = layer.input(0) else { return Ok(None) };
    if rank(g, a) != Some(2) && rank(g, bn_out) != Some(2) {
        return Ok(None);
    }
    let Some(w) = layer.input(1).and_then(|n| num::constant(g, n)) else { return Ok(None) };
    let Some(weight) = scale_columns(w, false, &aff.scale)? else { return Ok(None) };
    let mut node = Node::new("Gemm", [a.to_string(), layer.input(1).unwrap_or_default().to_string()], [String::new()])
        .named(layer.name.clone());
    node.doc = layer.doc.clone();
    let bias = num::from_f64(w.dtype(), vec![aff.shift.len()], &aff.shift)?;
    Ok(Some((node, weight, bias)))
}
