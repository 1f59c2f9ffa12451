//! Raising a model's `ai.onnx` opset so it can hold a quantized form
//! (per-axis `DequantizeLinear` needs 13, blocked and 4-bit need 21).
//!
//! A raise is only done when every op keeps its meaning. Between opsets 13
//! and 21 two kinds of change matter:
//! - changes we rewrite exactly: the `Reduce*` ops other than `ReduceSum`
//!   took `axes` as an attribute until 17 and as an input from 18; `Split`
//!   without a `split` input needs `num_outputs` from 18;
//! - changes of meaning we refuse: `RoiAlign` (default coordinate mode changed
//!   at 16), `GridSample` (modes renamed and N-D at 20), `DFT` (axis became an
//!   input at 20), `GroupNormalization` (per-channel scale and bias at 21).
//!
//! Below 13 too many ops changed (Softmax's axis semantics, Squeeze/Unsqueeze
//! /Split/Clip/Pad inputs, ...), so no raise is attempted from there.

use ir::{Attribute, Graph, Model, NameGen, Result, Tensor};

/// Whether `op` took `axes` as an attribute until 17 and as an input from 18
/// (the `Reduce*` ops other than `ReduceSum`), from the op table in `ir`.
fn axes_became_input_at_18(op: &str) -> bool {
    ir::schema::lookup("", op).is_some_and(|s| {
        s.attr_at("axes", 17).is_some() && s.input_at("axes", 17).is_none() && s.input_at("axes", 18).is_some()
    })
}

/// Ops whose meaning changed at the given opset, in a way not rewritten here.
const CHANGED: &[(&str, i64)] = &[("RoiAlign", 16), ("GridSample", 20), ("DFT", 20), ("GroupNormalization", 21)];

/// Why the opset of a model cannot be raised to `target`, if it cannot.
pub fn blocker(model: &Model, target: i64) -> Option<String> {
    let from = model.onnx_opset();
    if from >= target {
        return None;
    }
    if from < 13 {
        return Some(format!(
            "the model is at opset {from}; raising below 13 would change the meaning of many ops (Softmax, Squeeze, Split, ...)"
        ));
    }
    let mut found = None;
    model.graph.walk(&mut |g| {
        for n in &g.nodes {
            if found.is_none()
                && n.domain.is_empty()
                && let Some((_, v)) = CHANGED.iter().find(|(op, _)| *op == n.op)
                && from < *v
                && target >= *v
            {
                found = Some(format!("{} changed meaning at opset {v} (node {})", n.op, n.describe()));
            }
        }
    });
    found
}

/// Raises the `ai.onnx` opset to `target` (no-op if already there), rewriting
/// the ops whose form changed; returns one note per rewrite kind, or an error
/// naming what prevents the raise.
pub fn raise(model: &mut Model, target: i64) -> Result<Vec<String>> {
    let from = model.onnx_opset();
    if from >= target {
        return Ok(vec![]);
    }
    if let Some(why) = blocker(model, target) {
        return Err(ir::Error::invalid(format!("cannot raise the opset from {from} to {target}: {why}")));
    }
    let mut names = NameGen::for_graph(&model.graph);
    let (mut reduces, mut splits) = (0usize, 0usize);
    model.graph.walk_mut(&mut |g: &mut Graph| {
        let mut added = Vec::new();
        for n in g.nodes.iter_mut().filter(|n| n.domain.is_empty()) {
            if from < 18 && target >= 18 && axes_became_input_at_18(&n.op) {
                if let Some(Attribute::Ints(axes)) = n.attrs.shift_remove("axes") {
                    let name = names.fresh(&format!("{}_axes", if n.name.is_empty() { &n.op } else { &n.name }));
                    let len = axes.len();
                    added.push((name.clone(), Tensor::from_vec(vec![len], axes).expect("length matches")));
                    if n.inputs.is_empty() {
                        n.inputs.push(None);
                    }
                    n.inputs.truncate(1);
                    n.inputs.push(Some(name));
                    reduces += 1;
                }
            } else if from < 18 && target >= 18 && n.op == "Split" && n.input(1).is_none() {
                n.attrs.insert("num_outputs".into(), Attribute::Int(n.outputs.len() as i64));
                n.inputs.truncate(1);
                splits += 1;
            }
        }
        g.initializers.extend(added);
    });
    model.opset_imports.insert(String::new(), target);
    let mut notes = vec![format!("opset raised from {from} to {target}")];
    if reduces > 0 {
        notes.push(format!("{reduces} Reduce node(s): 'axes' attribute moved to an input (opset 18 form)"));
    }
    if splits > 0 {
        notes.push(format!("{splits} Split node(s): 'num_outputs' added (opset 18 form)"));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use ir::{DType, Node, ValueInfo};

    use super::*;

    #[test]
    fn reduce_axes_moved_at_18_for_all_but_reduce_sum() {
        let moved: Vec<&str> =
            ir::schema::all().iter().map(|s| s.op).filter(|op| axes_became_input_at_18(op)).collect();
        let expected = [
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceMax",
            "ReduceMean",
            "ReduceMin",
            "ReduceProd",
            "ReduceSumSquare",
        ];
        assert_eq!(moved, expected);
    }

    #[test]
    fn rewrites_reduce_and_split_and_refuses_changed_ops() {
        let mut g = Graph::default();
        g.inputs.push(ValueInfo::tensor("x", DType::F32, None));
        g.nodes.push(Node::new("ReduceMean", ["x"], ["m"]).named("r").with_attr("axes", vec![1i64]));
        g.nodes.push(Node::new("Split", ["x"], ["a", "b"]).named("s"));
        g.outputs.push(ValueInfo::tensor("m", DType::F32, None));
        let mut m = Model::new(g);
        m.opset_imports.insert(String::new(), 17);
        let notes = raise(&mut m, 21).unwrap();
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert_eq!(m.onnx_opset(), 21);
        assert_eq!(m.graph.nodes[0].input(1), Some("r_axes"));
        assert_eq!(&*m.graph.initializers["r_axes"].as_slice::<i64>().unwrap(), &[1]);
        assert_eq!(m.graph.nodes[1].attr_int("num_outputs", 0).unwrap(), 2);

        let mut g = Graph::default();
        g.nodes.push(Node::new("GroupNormalization", ["x", "s", "b"], ["y"]).named("gn"));
        let mut m = Model::new(g);
        m.opset_imports.insert(String::new(), 18);
        let e = raise(&mut m, 21).unwrap_err().to_string();
        assert!(e.contains("GroupNormalization changed meaning at opset 21"), "{e}");
        m.opset_imports.insert(String::new(), 11);
        assert!(blocker(&m, 13).unwrap().contains("opset 11"));
    }
}
