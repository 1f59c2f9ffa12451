//! The IR's quantization convention, built and recognised in one place.
//!
//! A quantized weight is a `DequantizeLinear` (domain `ai.onnx`) whose inputs
//! are initializers: integers `x` (i8/u8/i4/u4, 4-bit packed two per byte),
//! `x_scale` (f32, or f16 from opset 19) and an optional `x_zero_point` of
//! `x`'s type, with `axis` for per-axis scales and `block_size` (opset 21)
//! for blocked ones. Its output has the float weight's name, so the layers
//! reading it are unchanged. An activation quantized with fixed ranges is a
//! `QuantizeLinear → DequantizeLinear` pair with initializer scales and zero
//! points. Dynamic quantization is onnxruntime's form:
//! `DynamicQuantizeLinear → MatMulInteger/ConvInteger → Cast → Mul`.
//!
//! The quantization passes build these forms, the format crates recognise
//! them (OpenVINO writes them as its decompression subgraphs and
//! `FakeQuantize`, and reads those back into them), so every crate sees the
//! same convention without depending on a pass crate.

use crate::{Attribute, DType, Graph, NameGen, Node, Tensor};

/// Integer types a quantized weight or activation is stored in.
pub fn is_quantized_int(dtype: DType) -> bool {
    matches!(dtype, DType::I8 | DType::U8 | DType::I4 | DType::U4)
}

/// A quantized tensor in the convention: integers, scales, zero points and
/// the `DequantizeLinear` attributes that say how scales are shared.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedWeight {
    /// The integers (`x`), in the original shape; 4-bit types packed.
    pub q: Tensor,
    /// `x_scale`: f32, or f16 (the DQ node then produces f16).
    pub scale: Tensor,
    /// `x_zero_point`; `None` when every zero point is 0 (symmetric signed).
    pub zero_point: Option<Tensor>,
    /// The DQ node's `axis` attribute, if not per-tensor.
    pub axis: Option<i64>,
    /// The DQ node's `block_size` attribute, if blocked.
    pub block_size: Option<i64>,
}

/// Names of the initializers and node of a DQ weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DqNames {
    /// Initializer holding the integers.
    pub q: String,
    /// Initializer holding the scales.
    pub scale: String,
    /// Initializer holding the zero points.
    pub zero_point: String,
    /// The `DequantizeLinear` node.
    pub node: String,
}

impl DqNames {
    /// Fresh names derived from the weight's name.
    pub fn fresh(names: &mut NameGen, weight: &str) -> Self {
        DqNames {
            q: names.fresh(&format!("{weight}_quantized")),
            scale: names.fresh(&format!("{weight}_scale")),
            zero_point: names.fresh(&format!("{weight}_zero_point")),
            node: names.fresh(&format!("{weight}_DequantizeLinear")),
        }
    }
}

/// Adds a quantized weight to `graph` as initializers plus a
/// `DequantizeLinear` node producing `output`; returns the node (not
/// inserted, so the caller places it before the first reader).
pub fn dq_weight_node(graph: &mut Graph, w: QuantizedWeight, names: &DqNames, output: &str) -> Node {
    let mut inputs = vec![Some(names.q.clone()), Some(names.scale.clone())];
    graph.initializers.insert(names.q.clone(), w.q);
    graph.initializers.insert(names.scale.clone(), w.scale);
    if let Some(zp) = w.zero_point {
        graph.initializers.insert(names.zero_point.clone(), zp);
        inputs.push(Some(names.zero_point.clone()));
    }
    let mut node = Node { op: "DequantizeLinear".into(), inputs, outputs: vec![output.to_string()], ..Node::default() };
    node.name = names.node.clone();
    if let Some(a) = w.axis {
        node.attrs.insert("axis".into(), Attribute::Int(a));
    }
    if let Some(b) = w.block_size {
        node.attrs.insert("block_size".into(), Attribute::Int(b));
    }
    node
}

/// A recognised DQ weight: the node's initializers and attributes.
#[derive(Debug, Clone, Copy)]
pub struct DqWeight<'g> {
    /// The integers.
    pub q: &'g Tensor,
    /// The scales.
    pub scale: &'g Tensor,
    /// The zero points, if given.
    pub zero_point: Option<&'g Tensor>,
    /// `axis` attribute (default 1), if present.
    pub axis: Option<i64>,
    /// `block_size` attribute, if present and non-zero.
    pub block_size: Option<i64>,
}

fn is_onnx(node: &Node) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

/// Recognises `node` as a DQ weight of `graph`: a `DequantizeLinear` of
/// domain `ai.onnx` whose inputs are all initializers, `x` of a quantized
/// integer type.
pub fn match_dq_weight<'g>(graph: &'g Graph, node: &Node) -> Option<DqWeight<'g>> {
    if node.op != "DequantizeLinear" || !is_onnx(node) {
        return None;
    }
    let init = |i: usize| node.input(i).and_then(|n| graph.initializers.get(n));
    let q = init(0).filter(|q| is_quantized_int(q.dtype()))?;
    let scale = init(1)?;
    let zero_point = match node.input(2) {
        Some(_) => Some(init(2)?),
        None => None,
    };
    let axis = node.attr("axis").and_then(|a| a.as_int().ok());
    let block_size = node.attr("block_size").and_then(|a| a.as_int().ok()).filter(|&b| b != 0);
    Some(DqWeight { q, scale, zero_point, axis, block_size })
}

/// Names of the values and nodes of an activation's Q/DQ pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QdqNames {
    /// The quantized (integer) value between the two nodes.
    pub quantized: String,
    /// The dequantized value the readers get.
    pub dequantized: String,
    /// The `QuantizeLinear` node.
    pub quantize_node: String,
    /// The `DequantizeLinear` node.
    pub dequantize_node: String,
}

impl QdqNames {
    /// Fresh names derived from the activation's name.
    pub fn fresh(names: &mut NameGen, x: &str) -> Self {
        QdqNames {
            quantized: names.fresh(&format!("{x}_quantized")),
            dequantized: names.fresh(&format!("{x}_dequantized")),
            quantize_node: names.fresh(&format!("{x}_QuantizeLinear")),
            dequantize_node: names.fresh(&format!("{x}_DequantizeLinear")),
        }
    }
}

/// The `QuantizeLinear → DequantizeLinear` pair quantizing activation `x`
/// with the scale and zero point named `scale` and `zero_point` (initializers
/// the caller adds); the readers of `x` are then to read `names.dequantized`.
pub fn qdq_pair(x: &str, scale: &str, zero_point: &str, names: &QdqNames) -> [Node; 2] {
    [
        Node::new("QuantizeLinear", [x, scale, zero_point], [names.quantized.as_str()])
            .named(names.quantize_node.clone()),
        Node::new("DequantizeLinear", [names.quantized.as_str(), scale, zero_point], [names.dequantized.as_str()])
            .named(names.dequantize_node.clone()),
    ]
}

/// A recognised Q/DQ pair on an activation.
#[derive(Debug, Clone, Copy)]
pub struct QdqPair<'g> {
    /// Index of the `QuantizeLinear` node.
    pub quantize: usize,
    /// The activation quantized.
    pub input: &'g str,
    /// The scale (an initializer, shared by both nodes).
    pub scale: &'g Tensor,
    /// The zero point, if given (an initializer, shared by both nodes).
    pub zero_point: Option<&'g Tensor>,
}

/// Recognises node `dq` of `graph` as the `DequantizeLinear` half of a Q/DQ
/// pair: its input comes from a `QuantizeLinear` with the same scale and
/// zero point, both initializers.
pub fn match_qdq<'g>(graph: &'g Graph, dq: usize) -> Option<QdqPair<'g>> {
    let d = graph.nodes.get(dq)?;
    if d.op != "DequantizeLinear" || !is_onnx(d) {
        return None;
    }
    let xq = d.input(0)?;
    let quantize = graph.nodes.iter().position(|n| n.output(0) == Some(xq))?;
    let q = &graph.nodes[quantize];
    if q.op != "QuantizeLinear" || !is_onnx(q) || q.input(1) != d.input(1) || q.input(2) != d.input(2) {
        return None;
    }
    let scale = graph.initializers.get(d.input(1)?)?;
    let zero_point = match d.input(2) {
        Some(z) => Some(graph.initializers.get(z)?),
        None => None,
    };
    Some(QdqPair { quantize, input: q.input(0)?, scale, zero_point })
}

/// Whether `node` is one of the ops of onnxruntime's dynamic quantization form.
pub fn is_dynamic_quantization_op(node: &Node) -> bool {
    is_onnx(node) && matches!(node.op.as_str(), "DynamicQuantizeLinear" | "MatMulInteger" | "ConvInteger")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_forms_are_recognised() {
        let mut g = Graph::default();
        let mut names = NameGen::for_graph(&g);
        let w = QuantizedWeight {
            q: Tensor::from_vec(vec![2, 2], vec![1i8, -2, 3, -4]).unwrap(),
            scale: Tensor::from_vec(vec![2], vec![0.5f32, 0.25]).unwrap(),
            zero_point: None,
            axis: Some(0),
            block_size: None,
        };
        let dq_names = DqNames::fresh(&mut names, "w");
        let node = dq_weight_node(&mut g, w.clone(), &dq_names, "w");
        let m = match_dq_weight(&g, &node).expect("a DQ weight");
        assert_eq!((m.q, m.scale, m.axis), (&w.q, &w.scale, Some(0)));

        g.initializers.insert("s".into(), Tensor::scalar(0.1f32));
        g.initializers.insert("z".into(), Tensor::scalar(0u8));
        let qdq = QdqNames::fresh(&mut names, "x");
        g.nodes.extend(qdq_pair("x", "s", "z", &qdq));
        let p = match_qdq(&g, 1).expect("a Q/DQ pair");
        assert_eq!((p.quantize, p.input), (0, "x"));
        assert!(match_qdq(&g, 0).is_none());
        // A float "weight" is not quantized.
        g.initializers.insert("f".into(), Tensor::scalar(1f32));
        let n = Node::new("DequantizeLinear", ["f", "s"], ["y"]);
        assert!(match_dq_weight(&g, &n).is_none());
    }
}
