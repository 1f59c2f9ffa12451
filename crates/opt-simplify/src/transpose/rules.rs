//! Which ops a `Transpose` can move past, and how each changes when it does.
//!
//! The op classes come from `ir::schema` (one place for op facts): unary
//! elementwise ops, broadcasting ops and reductions commute with a transpose
//! once their axes are remapped.

use ir::schema::{self, Class};
use ir::{Attribute, Node};

use super::perm;
use super::{Move, Sink};

/// How an op relates to the layout of its data input(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Unary,
    Broadcast,
    Pad,
    Concat,
    Split,
    Slice,
    Reduce,
    ArgReduce,
    Squeeze,
    Unsqueeze,
    Quantize,
    Softmax,
}

/// The family of an ONNX op, if a transpose can move past it.
pub(super) fn family(n: &Node) -> Option<Family> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") || n.subgraphs().next().is_some() {
        return None;
    }
    let op = schema::of(n)?;
    let unary = op.is(Class::UNARY) || (op.is(Class::LAYOUT_AGNOSTIC) && !op.is(Class::BROADCAST));
    Some(match op.op {
        // Elementwise ops of one data input (input 0); other inputs, if any,
        // are scalars or types (`Clip` bounds, `Dropout` ratio, `CastLike` target).
        _ if unary => Family::Unary,
        // Inputs broadcast against each other (`PRelu`'s slope one way, to `X`).
        _ if op.is(Class::BROADCAST) => Family::Broadcast,
        "ArgMax" | "ArgMin" => Family::ArgReduce,
        _ if op.is(Class::REDUCE) => Family::Reduce,
        "Pad" => Family::Pad,
        "Concat" => Family::Concat,
        "Split" => Family::Split,
        "Slice" => Family::Slice,
        "Squeeze" => Family::Squeeze,
        "Unsqueeze" => Family::Unsqueeze,
        "QuantizeLinear" | "DequantizeLinear" => Family::Quantize,
        "Softmax" | "LogSoftmax" | "Hardmax" => Family::Softmax,
        _ => return None,
    })
}

/// Whether input `slot` of an op of `family` carries the transposed layout.
pub(super) fn is_layout_slot(family: Family, slot: usize) -> bool {
    matches!(family, Family::Broadcast | Family::Concat) || slot == 0
}

/// How a layout input may be fed when it does not come through the transpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    /// Constants of lower rank broadcast (padded with 1s); other values get an inverse transpose.
    Broadcast,
    /// Constants of the same rank only (`Concat`; single-input ops, where it is the transpose's output anyway).
    Exact,
}

/// The move of a transpose of permutation `p` past node `i`, or `None` when
/// the node cannot take it (unknown ranks, non-constant axes, axes out of
/// range, blocked quantization, ...).
pub(super) fn plan(s: &Sink<'_>, i: usize, p: &[usize]) -> Option<Move> {
    let n = &s.g.nodes[i];
    let family = family(n)?;
    let r = p.len();
    let mut m = Move { node: i, inputs: Vec::new(), attrs: Vec::new(), consts: Vec::new(), outputs: Vec::new() };
    let same = Some(p.to_vec());
    let remap = |a: usize| p[a] as i64;
    match family {
        Family::Unary => {
            // A Dropout's mask is a second output in the same layout; only the inference form moves.
            if n.op == "Dropout" && n.output(1).is_some_and(|o| s.is_used(o)) {
                return None;
            }
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            // An unread mask changes layout too, so it is renamed with the result.
            m.outputs = n.outputs.iter().map(|_| same.clone()).collect();
        }
        Family::Broadcast => {
            for (slot, v) in n.inputs.iter().enumerate() {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    m.inputs.push((slot, s.source(i, v, p, Feed::Broadcast)?));
                }
            }
            m.outputs.push(same);
        }
        Family::Concat => {
            for (slot, v) in n.inputs.iter().enumerate() {
                let v = v.as_deref().filter(|v| !v.is_empty())?;
                m.inputs.push((slot, s.source(i, v, p, Feed::Exact)?));
            }
            let axis = perm::norm_axis(n.attr_int("axis", i64::MIN).ok()?, r)?;
            m.attrs.push(("axis".into(), Attribute::Int(remap(axis))));
            m.outputs.push(same);
        }
        Family::Pad => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            if let Some(pads) = n.attr_ints("pads").ok().flatten() {
                m.attrs.push(("pads".into(), Attribute::Ints(permute_pads(pads, p)?)));
            } else if let Some(axes) = n.input(3) {
                // Opset 18's `axes` input lists the padded axes; the pads follow that list.
                let axes = s.constant_ints(axes)?;
                let new = axes.iter().map(|&a| perm::norm_axis(a, r).map(remap)).collect::<Option<Vec<_>>>()?;
                m.consts.push((3, "axes", new));
            } else {
                let pads = s.constant_ints(n.input(1)?)?;
                m.consts.push((1, "pads", permute_pads(&pads, p)?));
            }
            m.outputs.push(same);
        }
        Family::Split => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            let axis = perm::norm_axis(n.attr_int("axis", 0).ok()?, r)?;
            m.attrs.push(("axis".into(), Attribute::Int(remap(axis))));
            m.outputs = n.outputs.iter().map(|_| same.clone()).collect();
        }
        Family::Slice => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            // Before opset 10 starts/ends/axes are attributes; absent axes mean 0, 1, ...
            let attr_form = n.attr("starts").is_some();
            let axes = if attr_form {
                match n.attr_ints("axes").ok()? {
                    Some(a) => a.to_vec(),
                    None => (0..n.attr_ints("starts").ok()??.len() as i64).collect(),
                }
            } else {
                match n.input(3) {
                    Some(a) => s.constant_ints(a)?,
                    None => (0..s.constant_ints(n.input(1)?)?.len() as i64).collect(),
                }
            };
            let new = axes.iter().map(|&a| perm::norm_axis(a, r).map(remap)).collect::<Option<Vec<_>>>()?;
            if attr_form {
                m.attrs.push(("axes".into(), Attribute::Ints(new)));
            } else {
                m.consts.push((3, "axes", new));
            }
            m.outputs.push(same);
        }
        Family::Reduce => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            let keepdims = n.attr_int("keepdims", 1).ok()? != 0;
            let noop = n.attr_int("noop_with_empty_axes", 0).ok()? != 0;
            let (axes, attr_form) = axes_of(s, n)?;
            let reduced = match &axes {
                Some(a) if !a.is_empty() => perm::norm_axes(a, r)?,
                // Empty axes with noop_with_empty_axes: the op passes its input through.
                _ if noop => {
                    m.outputs.push(same);
                    return Some(m);
                }
                _ => (0..r).collect(),
            };
            if axes.as_ref().is_some_and(|a| !a.is_empty()) {
                set_axes(&mut m, reduced.iter().map(|&a| remap(a)).collect(), attr_form);
            }
            m.outputs.push(if keepdims {
                // Reducing every axis leaves only 1s: no layout left to restore.
                (reduced.len() < r).then(|| p.to_vec())
            } else {
                nontrivial(perm::after_removing(p, &reduced))
            });
        }
        Family::ArgReduce => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            let axis = perm::norm_axis(n.attr_int("axis", 0).ok()?, r)?;
            m.attrs.push(("axis".into(), Attribute::Int(remap(axis))));
            let keepdims = n.attr_int("keepdims", 1).ok()? != 0;
            m.outputs.push(if keepdims { same } else { nontrivial(perm::after_removing(p, &[axis])) });
        }
        Family::Squeeze => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            // Without axes every size-1 axis goes, which needs the shape.
            let (Some(axes), attr_form) = axes_of(s, n)? else { return None };
            let removed = perm::norm_axes(&axes, r)?;
            set_axes(&mut m, removed.iter().map(|&a| remap(a)).collect(), attr_form);
            m.outputs.push(nontrivial(perm::after_removing(p, &removed)));
        }
        Family::Unsqueeze => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            // The new axes stay where they are; only the old ones are permuted.
            let (Some(axes), _) = axes_of(s, n)? else { return None };
            let inserted = perm::norm_axes(&axes, r + axes.len())?;
            m.outputs.push(nontrivial(perm::after_inserting(p, &inserted)));
        }
        Family::Quantize => {
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            if n.attr_int("block_size", 0).ok()? != 0 {
                return None;
            }
            match s.rank(n.input(1)?)? {
                0 => {}
                // Per-axis scales (opset 13): the axis moves with the layout.
                1 if s.opset >= 13 => {
                    let axis = perm::norm_axis(n.attr_int("axis", 1).ok()?, r)?;
                    m.attrs.push(("axis".into(), Attribute::Int(remap(axis))));
                }
                _ => return None,
            }
            m.outputs.push(same);
        }
        Family::Softmax => {
            // Before opset 13 these flatten the input at `axis` into 2-D, which a transpose changes.
            if s.opset < 13 {
                return None;
            }
            m.inputs.push((0, s.source(i, n.input(0)?, p, Feed::Exact)?));
            let axis = perm::norm_axis(n.attr_int("axis", -1).ok()?, r)?;
            m.attrs.push(("axis".into(), Attribute::Int(remap(axis))));
            m.outputs.push(same);
        }
    }
    Some(m)
}

/// `pads` (`[begin per axis..., end per axis...]`) of a transposed tensor, for the untransposed one.
fn permute_pads(pads: &[i64], p: &[usize]) -> Option<Vec<i64>> {
    let r = p.len();
    if pads.len() != 2 * r {
        return None;
    }
    let mut out = vec![0; 2 * r];
    for (k, &a) in p.iter().enumerate() {
        out[a] = pads[k];
        out[r + a] = pads[r + k];
    }
    Some(out)
}

/// The `axes` of a reduction or (un)squeeze: the attribute (older opsets) or
/// the constant second input, and whether it was the attribute. `Some((None, _))`
/// when neither is given; `None` when the input is not a constant.
fn axes_of(s: &Sink<'_>, n: &Node) -> Option<(Option<Vec<i64>>, bool)> {
    if let Some(a) = n.attr_ints("axes").ok()? {
        return Some((Some(a.to_vec()), true));
    }
    match n.input(1) {
        Some(v) => Some((Some(s.constant_ints(v)?), false)),
        None => Some((None, false)),
    }
}

fn set_axes(m: &mut Move, axes: Vec<i64>, attr_form: bool) {
    if attr_form {
        m.attrs.push(("axes".into(), Attribute::Ints(axes)));
    } else {
        m.consts.push((1, "axes", axes));
    }
}

fn nontrivial(q: Vec<usize>) -> Option<Vec<usize>> {
    (!perm::is_identity(&q)).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_follow_their_axes() {
        // NHWC pads [0, 1, 2, 0 | 0, 3, 4, 0] of Transpose(NCHW, [0, 2, 3, 1]).
        let nchw = permute_pads(&[0, 1, 2, 0, 0, 3, 4, 0], &[0, 2, 3, 1]).unwrap();
        assert_eq!(nchw, [0, 0, 1, 2, 0, 0, 3, 4]);
        assert!(permute_pads(&[0, 0], &[1, 0, 2]).is_none());
    }
}
