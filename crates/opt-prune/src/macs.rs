//! Multiply-accumulate counts of Conv, ConvTranspose, Gemm and MatMul.
//!
//! MACs depend on activation shapes, which the IR does not always record,
//! so the model is run once with the reference evaluator on zero inputs
//! (symbolic dimensions set to 1) and the shapes are read off the run.

use std::collections::HashMap;

use ir::{Buffer, Dim, Error, Model, Result, Tensor, ValueInfo, ValueType};

const COUNTED: &[&str] = &["Conv", "ConvTranspose", "Gemm", "MatMul"];

/// Zero-filled feed for a graph input (symbolic dimensions are 1).
fn zeros(v: &ValueInfo) -> Result<Tensor> {
    let ValueType::Tensor { dtype: Some(dtype), shape: Some(shape) } = &v.ty else {
        return Err(Error::invalid(format!("input '{}' has no known tensor type", v.name)));
    };
    let dims: Vec<usize> = shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect();
    let numel: usize = dims.iter().product();
    let bytes = dtype
        .byte_len(numel as u64)
        .ok_or_else(|| Error::invalid(format!("input '{}': {dtype} inputs are not supported", v.name)))?;
    Tensor::from_raw(*dtype, dims, Buffer::from_vec(vec![0; bytes as usize]))
}

/// Total MACs of the main graph's Conv/ConvTranspose/Gemm/MatMul nodes for
/// one run (batch and other symbolic dimensions 1).
pub fn count(model: &Model) -> Result<u64> {
    let g = &model.graph;
    let mut probe = model.clone();
    let mut wanted: Vec<String> = Vec::new();
    for n in g.nodes.iter().filter(|n| COUNTED.contains(&n.op.as_str()) && n.domain.is_empty()) {
        wanted.extend([n.input(0), n.input(1), n.output(0)].into_iter().flatten().map(str::to_string));
    }
    wanted.sort();
    wanted.dedup();
    for w in &wanted {
        if !probe.graph.outputs.iter().any(|o| &o.name == w) {
            probe.graph.outputs.push(ValueInfo::untyped(w.clone()));
        }
    }
    let mut feeds = Vec::new();
    for v in &g.inputs {
        if g.initializers.contains_key(&v.name) {
            continue;
        }
        let t = zeros(v)?;
        feeds
            .push((v.name.clone(), eval::Value::Tensor(eval::from_ir(&t).map_err(|e| Error::invalid(e.to_string()))?)));
    }
    let outs =
        eval::run(&probe, feeds).map_err(|e| Error::invalid(format!("cannot run the model to get shapes: {e}")))?;
    let shapes: HashMap<String, Vec<usize>> =
        outs.into_iter().filter_map(|(name, v)| Some((name, v.tensor().ok()?.shape().to_vec()))).collect();
    let shape = |name: Option<&str>| -> Result<&Vec<usize>> {
        let name = name.ok_or_else(|| Error::invalid("node without input or output"))?;
        shapes.get(name).ok_or_else(|| Error::invalid(format!("no shape for '{name}'")))
    };
    let mut total: u64 = 0;
    for n in g.nodes.iter().filter(|n| COUNTED.contains(&n.op.as_str()) && n.domain.is_empty()) {
        let (a, w, y) = (shape(n.input(0))?, shape(n.input(1))?, shape(n.output(0))?);
        let numel = |s: &[usize]| s.iter().map(|&d| d as u64).product::<u64>();
        let macs = match n.op.as_str() {
            // Every output element sums (C_in / group) * kernel products.
            "Conv" => numel(y) * numel(&w[1..]),
            // Every input element is spread over (C_out / group) * kernel outputs.
            "ConvTranspose" => numel(a) * numel(&w[1..]),
            "Gemm" => {
                let k = if n.attr_int("transA", 0)? != 0 { a.first() } else { a.get(1) };
                numel(y) * k.copied().unwrap_or(1) as u64
            }
            _ => numel(y) * a.last().copied().unwrap_or(1) as u64,
        };
        total = total.saturating_add(macs);
    }
    Ok(total)
}
