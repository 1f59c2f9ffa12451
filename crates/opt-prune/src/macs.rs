//! Multiply-accumulate counts of a model (per node: `ir::cost::macs`).
//!
//! MACs depend on activation shapes, which the IR does not always record,
//! so they are inferred (`ir::infer`) with every symbolic input dimension
//! set to 1: one sample, one token.

use ir::{Dim, Error, Model, Result, Shape, ValueType};

/// Input values with every symbolic or unknown dimension set to 1.
fn fixed_inputs(model: &Model) -> ir::Graph {
    let mut g = model.graph.clone();
    for v in &mut g.inputs {
        if let ValueType::Tensor { shape: Some(shape), .. } = &mut v.ty {
            let dims = shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { Dim::Fixed(*n) } else { Dim::Fixed(1) });
            *shape = Shape(dims.collect());
        }
    }
    g
}

/// Total MACs of the main graph's Conv/ConvTranspose/Gemm/MatMul nodes for
/// one run (batch and other symbolic dimensions 1).
pub fn count(model: &Model) -> Result<u64> {
    let g = fixed_inputs(model);
    let types = ir::infer::infer(&g, model.onnx_opset())?;
    let shape = |name: Option<&str>| -> Result<Vec<u64>> {
        let name = name.ok_or_else(|| Error::invalid("node without input or output"))?;
        types
            .ty(name)
            .and_then(ValueType::shape)
            .and_then(Shape::as_fixed)
            .ok_or_else(|| Error::invalid(format!("no static shape for '{name}'")))
    };
    let mut total: u64 = 0;
    for n in g.nodes.iter().filter(|n| n.domain.is_empty() || n.domain == "ai.onnx") {
        total = total.saturating_add(ir::cost::macs(n, shape)?.unwrap_or(0));
    }
    Ok(total)
}
