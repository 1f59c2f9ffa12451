//! Nodes that compute nothing: Identity, inference Dropout, identity
//! Transposes, chained Transposes and Reshapes, cancelling Squeeze/Unsqueeze.

use ir::{Attribute, Graph, Model, Node, Result};

use crate::{Counts, bypass, num, remove_flagged};

fn is_onnx(n: &Node) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// Whether a Dropout passes its input through: inference mode (no
/// `training_mode` input, or a constant false one) and no mask read.
fn dropout_is_identity(g: &Graph, n: &Node) -> bool {
    let training_off = match n.input(2) {
        None => true,
        Some(t) => num::constant(g, t).and_then(|t| t.to_bools().ok()).is_some_and(|v| v.iter().all(|b| !b)),
    };
    let mask_unused = n.output(1).is_none_or(|m| g.consumers(m).is_empty());
    // Opsets before 7 had `is_test`; a Dropout there with is_test=0 is training.
    let test = n.attr_int("is_test", 1).is_ok_and(|v| v != 0);
    training_off && mask_unused && test
}

pub(crate) fn remove_identities(model: &mut Model, c: &mut Counts) -> Result<()> {
    let g = &mut model.graph;
    let mut dead = vec![false; g.nodes.len()];
    for (i, gone) in dead.iter_mut().enumerate() {
        let n = &g.nodes[i];
        if !is_onnx(n) {
            continue;
        }
        let identity = match n.op.as_str() {
            "Identity" => true,
            "Dropout" => dropout_is_identity(g, n),
            _ => false,
        };
        let (Some(x), Some(y)) = (n.input(0), n.output(0)) else { continue };
        if !identity {
            continue;
        }
        let (x, y, op) = (x.to_string(), y.to_string(), n.op.clone());
        if bypass(g, &y, &x) {
            *gone = true;
            if op == "Identity" {
                c.identities += 1;
            } else {
                c.dropouts += 1;
            }
        }
    }
    remove_flagged(g, &dead);
    Ok(())
}

/// A Transpose's permutation, when given (without it the axes are reversed,
/// which needs the rank).
fn perm(n: &Node) -> Option<Vec<i64>> {
    n.attr_ints("perm").ok().flatten().map(<[i64]>::to_vec)
}

/// Axes of a Squeeze/Unsqueeze: the attribute before opset 13, the constant second input after.
fn axes(g: &Graph, n: &Node) -> Option<Vec<i64>> {
    let mut a = match n.attr_ints("axes").ok().flatten() {
        Some(a) => a.to_vec(),
        None => num::constant_ints(g, n.input(1)?)?,
    };
    a.sort_unstable();
    Some(a)
}

pub(crate) fn merge_reshapes(model: &mut Model, c: &mut Counts) -> Result<()> {
    let g = &mut model.graph;
    let mut dead = vec![false; g.nodes.len()];
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        if !is_onnx(n) || n.present_outputs().count() != 1 {
            continue;
        }
        let (Some(x), Some(y)) = (n.input(0), n.output(0)) else { continue };
        let (x, y) = (x.to_string(), y.to_string());
        let producer = (0..i).find(|&p| !dead[p] && g.nodes[p].output(0) == Some(x.as_str()) && is_onnx(&g.nodes[p]));
        let prev = producer.map(|p| &g.nodes[p]);
        match n.op.as_str() {
            "Transpose" => {
                let Some(p2) = perm(n) else { continue };
                if let Some(prev) = prev.filter(|p| p.op == "Transpose")
                    && let (Some(p1), Some(src)) = (perm(prev), prev.input(0))
                    && p1.len() == p2.len()
                {
                    // transpose(transpose(x, p1), p2): output axis k is x's axis p1[p2[k]].
                    let Some(merged) = p2
                        .iter()
                        .map(|&k| usize::try_from(k).ok().and_then(|k| p1.get(k).copied()))
                        .collect::<Option<Vec<i64>>>()
                    else {
                        continue;
                    };
                    let src = src.to_string();
                    let node = &mut g.nodes[i];
                    node.inputs[0] = Some(src);
                    node.attrs.insert("perm".into(), Attribute::Ints(merged));
                    c.transposes_merged += 1;
                }
                let n = &g.nodes[i];
                let p = perm(n).unwrap_or_default();
                if p.iter().enumerate().all(|(k, &v)| v == k as i64) {
                    let x = n.input(0).unwrap_or_default().to_string();
                    if bypass(g, &y, &x) {
                        dead[i] = true;
                        c.transposes_removed += 1;
                    }
                }
            }
            "Reshape" => {
                // The second shape decides alone when it copies no input dimension (no 0 entry, or allowzero).
                let Some(shape) = n.input(1).and_then(|s| num::constant_ints(g, s)) else { continue };
                let allowzero = n.attr_int("allowzero", 0).unwrap_or(0) != 0;
                if let Some(prev) = prev.filter(|p| p.op == "Reshape")
                    && let Some(src) = prev.input(0)
                    && (allowzero || !shape.contains(&0))
                {
                    let src = src.to_string();
                    g.nodes[i].inputs[0] = Some(src);
                    c.reshapes_merged += 1;
                }
            }
            op @ ("Squeeze" | "Unsqueeze") => {
                let other = if op == "Squeeze" { "Unsqueeze" } else { "Squeeze" };
                let Some(prev) = prev.filter(|p| p.op == other) else { continue };
                let (Some(a), Some(b), Some(src)) = (axes(g, n), axes(g, prev), prev.input(0)) else { continue };
                // Unsqueeze(Squeeze(x, a), a) restores x (squeezed dims are 1), and
                // Squeeze(Unsqueeze(x, a), a) removes what was added; negative axes
                // count from the same rank in both halves, so equal lists mean equal axes.
                if a == b {
                    let src = src.to_string();
                    if bypass(g, &y, &src) {
                        dead[i] = true;
                        c.squeeze_pairs += 1;
                    }
                }
            }
            _ => {}
        }
    }
    remove_flagged(g, &dead);
    Ok(())
}
