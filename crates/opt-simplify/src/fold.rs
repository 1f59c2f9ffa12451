//! Constant folding through the reference evaluator.

use std::collections::HashMap;

use ir::{DType, Graph, Model, Node, Result, Tensor, ValueInfo};

use crate::{Counts, num};

/// Replaces each node whose inputs are all constants by initializers holding
/// its outputs, in one sweep in topological order (so chains fold at once).
///
/// Left alone: random ops, DequantizeLinear (it is how quantized weights are
/// stored), nodes with subgraphs (their bodies may read
/// non-constant outer values), nodes producing a graph output (the output
/// stays a computed value, as some runtimes expect), ops the evaluator lacks
/// or fails on, non-tensor results, results larger than the inputs plus
/// `max_growth` bytes, and nodes costing more than [`MAX_FOLD_MACS`].
///
/// Shared weights: a constant input that something else still reads stays in
/// the model after the fold, so folding a node over it (a `Transpose` of a
/// tied embedding, a `Cast` of a weight two layers share) would store the
/// weight twice. Such a fold is done only when the node's outputs are no
/// larger than the inputs it frees plus [`SHARED_GROWTH`] bytes (small shape
/// arithmetic); otherwise the node stays. Identical readers of one weight are
/// merged by CSE first (it runs before folding in each round), so they fold
/// into one shared tensor.
pub(crate) fn fold_constants(model: &mut Model, max_growth: usize, c: &mut Counts) -> Result<()> {
    // Reads per value, kept current as nodes fold (a folded node reads nothing).
    let mut reads: HashMap<String, usize> =
        model.graph.uses().into_iter().map(|(name, uses)| (name, uses.len())).collect();
    let mut dead = vec![false; model.graph.nodes.len()];
    for (i, gone) in dead.iter_mut().enumerate() {
        let g = &model.graph;
        let node = &g.nodes[i];
        if !foldable(g, node) {
            continue;
        }
        let inputs: Vec<(&str, &Tensor)> = match node
            .present_inputs()
            .map(|name| num::constant(g, name).map(|t| (name, t)))
            .collect::<Option<Vec<_>>>()
        {
            Some(v) => v,
            None => continue,
        };
        let in_bytes: usize = inputs.iter().map(|(_, t)| t.byte_len()).sum();
        // Inputs this node reads n times and nothing else reads are freed by the fold.
        let mut own: HashMap<&str, usize> = HashMap::new();
        for (name, _) in &inputs {
            *own.entry(name).or_default() += 1;
        }
        let shared = own.iter().any(|(name, n)| reads.get(*name).copied().unwrap_or(0) > *n);
        let freed: usize = own
            .keys()
            .filter(|name| reads.get(**name).copied().unwrap_or(0) <= own[**name])
            .filter_map(|name| inputs.iter().find(|(k, _)| k == name).map(|(_, t)| t.byte_len()))
            .sum();
        let limit = if shared { freed.saturating_add(SHARED_GROWTH) } else { in_bytes.saturating_add(max_growth) };
        if node.op != "Constant" && expected_bytes(node, &inputs).is_some_and(|b| b > limit) {
            continue;
        }
        if too_costly(model, node, &inputs) {
            continue;
        }
        let Some(outputs) = evaluate(model, node, &inputs) else { continue };
        let out_bytes: usize = outputs.iter().map(|t| t.byte_len()).sum();
        // A Constant's value is already stored in the model; moving it is free.
        if node.op != "Constant" && out_bytes > limit {
            tracing::debug!(
                "not folding {}: {out_bytes} bytes out of {in_bytes}{}",
                node.describe(),
                if shared { " (an input is shared: folding would store it twice)" } else { "" }
            );
            continue;
        }
        for (name, _) in &inputs {
            if let Some(r) = reads.get_mut(*name) {
                *r = r.saturating_sub(1);
            }
        }
        let names: Vec<String> = node.outputs.clone();
        let g = &mut model.graph;
        for (name, t) in names.into_iter().zip(outputs) {
            if !name.is_empty() {
                g.initializers.insert(name, t);
            }
        }
        *gone = true;
        c.folded += 1;
    }
    crate::remove_flagged(&mut model.graph, &dead);
    Ok(())
}

/// The most multiply-accumulates a fold may run: 2^26, about 20 ms of
/// convolution in a release build. Real models' constant subgraphs are shape
/// arithmetic and weight transposes, far below; a file can ask for a
/// convolution of constants whose small result takes minutes to compute
/// (found by fuzzing: a TensorFlow `Conv2D` of constants took 8 s in the
/// instrumented build). Above it the node stays, computed by the runtime.
pub(crate) const MAX_FOLD_MACS: u64 = 1 << 26;

/// Whether evaluating `node` on these constants costs more than
/// [`MAX_FOLD_MACS`], by the shapes inference gives its output.
fn too_costly(model: &Model, node: &Node, inputs: &[(&str, &Tensor)]) -> bool {
    let shape_of = |name: &str| {
        inputs.iter().find(|(k, _)| *k == name).map(|(_, t)| t.shape().iter().map(|&d| d as u64).collect::<Vec<u64>>())
    };
    // Only the counted ops need the output's shape: infer it then.
    let probe = ir::cost::macs(node, |name| match name {
        Some(n) => shape_of(n).ok_or(()),
        None => Err(()),
    });
    if probe == Ok(None) {
        return false;
    }
    let mini = one_node_model(model, node, inputs);
    let Ok(types) = ir::infer::infer(&mini.graph, model.onnx_opset()) else { return true };
    let cost = ir::cost::macs(node, |name| {
        let name = name.ok_or(())?;
        if let Some(s) = shape_of(name) {
            return Ok(s);
        }
        types.ty(name).and_then(ir::ValueType::shape).and_then(ir::Shape::as_fixed).ok_or(())
    });
    // An output of unknown size: the evaluator would find out the hard way.
    cost.map_or(true, |c| c.is_some_and(|c| c > MAX_FOLD_MACS))
}

/// Bytes a fold over a shared input may add: a shape vector of eight i64s
/// (shape arithmetic on a shared constant), less than any real weight.
pub(crate) const SHARED_GROWTH: usize = 64;

fn foldable(g: &Graph, node: &Node) -> bool {
    let domain_ok = node.domain.is_empty() || node.domain == "ai.onnx" || node.domain == "ai.onnx.ml";
    domain_ok
        && !crate::is_random(node)
        // Random in training mode; in inference mode `remove_identities` drops it anyway.
        && node.op != "Dropout"
        // A quantized model stores low-precision weights behind DequantizeLinear:
        // folding it would turn them back into floats, growing the model and
        // hiding the quantization from runtimes.
        && node.op != "DequantizeLinear"
        && node.subgraphs().next().is_none()
        && node.present_outputs().next().is_some()
        && !node.present_outputs().any(|o| g.outputs.iter().any(|v| v.name == o))
}

/// `node` alone over its constant inputs (shared views, not copies), its
/// outputs the graph's, at `model`'s opsets.
fn one_node_model(model: &Model, node: &Node, inputs: &[(&str, &Tensor)]) -> Model {
    let mut g = Graph::default();
    for (name, t) in inputs {
        g.initializers.insert((*name).to_string(), (*t).clone());
    }
    g.nodes.push(node.clone());
    g.outputs = node.present_outputs().map(ValueInfo::untyped).collect();
    Model { graph: g, opset_imports: model.opset_imports.clone(), ..Model::default() }
}

/// Runs one node on constant inputs; `None` when the evaluator cannot.
fn evaluate(model: &Model, node: &Node, inputs: &[(&str, &Tensor)]) -> Option<Vec<Tensor>> {
    let mini = one_node_model(model, node, inputs);
    let values = match eval::run(&mini, Vec::new()) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("not folding {}: {e}", node.describe());
            return None;
        }
    };
    let mut out = Vec::with_capacity(node.outputs.len());
    let mut values = values.into_iter();
    for name in &node.outputs {
        if name.is_empty() {
            // Absent optional output: keep positions aligned with a placeholder never stored.
            out.push(Tensor::scalar(0u8));
            continue;
        }
        let (_, v) = values.next()?;
        let t = eval::to_ir(v.tensor().ok()?).ok()?;
        out.push(t);
    }
    Some(out)
}

/// The output size of ops whose output can dwarf their inputs, computed
/// before running them so that folding never allocates a huge tensor.
fn expected_bytes(node: &Node, inputs: &[(&str, &Tensor)]) -> Option<usize> {
    let input = |i: usize| node.input(i).and_then(|n| inputs.iter().find(|(k, _)| *k == n)).map(|(_, t)| *t);
    let ints = |t: &Tensor| -> Option<Vec<i64>> {
        match t.dtype() {
            DType::I64 => t.as_slice::<i64>().ok().map(|s| s.into_owned()),
            DType::I32 => t.as_slice::<i32>().ok().map(|s| s.iter().map(|&v| i64::from(v)).collect()),
            _ => None,
        }
    };
    let prod = |dims: &[i64]| dims.iter().try_fold(1usize, |a, &d| a.checked_mul(usize::try_from(d.max(1)).ok()?));
    // Unknown sizes count as huge: better not to fold than to exhaust memory.
    let huge = Some(usize::MAX);
    match node.op.as_str() {
        "ConstantOfShape" => {
            let n = prod(&ints(input(0)?)?).or(huge)?;
            Some(n.saturating_mul(8))
        }
        "Expand" => {
            let x = input(0)?;
            let shape = ints(input(1)?)?;
            let rank = shape.len().max(x.shape().len());
            let mut dims = vec![1i64; rank];
            for (k, &d) in x.shape().iter().rev().enumerate() {
                dims[rank - 1 - k] = d as i64;
            }
            for (k, &d) in shape.iter().rev().enumerate() {
                let slot = &mut dims[rank - 1 - k];
                *slot = (*slot).max(d);
            }
            Some(prod(&dims).or(huge)?.saturating_mul(x.byte_len().max(1) / x.numel().max(1)))
        }
        "Tile" => {
            let x = input(0)?;
            let reps = ints(input(1)?)?;
            Some(prod(&reps).or(huge)?.saturating_mul(x.byte_len()))
        }
        "Range" => {
            let scalar =
                |t: &Tensor| num::to_f64(t).ok().or_else(|| ints(t).map(|v| v.iter().map(|&x| x as f64).collect()));
            let (s, l, d) = (scalar(input(0)?)?, scalar(input(1)?)?, scalar(input(2)?)?);
            let (s, l, d) = (*s.first()?, *l.first()?, *d.first()?);
            if d == 0.0 {
                return huge;
            }
            let n = ((l - s) / d).ceil().max(0.0);
            Some(if n.is_finite() && n < 1e15 { (n as usize).saturating_mul(8) } else { usize::MAX })
        }
        _ => None,
    }
}
