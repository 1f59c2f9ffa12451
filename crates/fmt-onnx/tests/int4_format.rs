//! `-O int4-format=matmulnbits` through real files: the written model holds
//! `com.microsoft.MatMulNBits` (with its opset import) and reads back as the
//! blocked `DequantizeLinear` it came from; a bad value is refused.

use ir::quant::{DqNames, QuantizedWeight};
use ir::{Buffer, DType, ExportOptions, Exporter, ImportOptions, Importer, Model, NameGen, Node, Tensor, ValueInfo};

/// `y = x · W`, `W` a `[40, 8]` int4 weight in blocks of 16 along K (the
/// last block partial), f16 scales and a `Cast` to f32 as opt-quant writes.
fn model() -> Model {
    let (k, n, block) = (40usize, 8usize, 16usize);
    let nb = k.div_ceil(block);
    let mut bytes = vec![0u8; k * n / 2];
    for i in 0..k * n {
        bytes[i / 2] |= (((i * 5 + i / 7) % 15) as u8) << (4 * (i % 2));
    }
    let w = QuantizedWeight {
        q: Tensor::from_raw(DType::I4, vec![k, n], Buffer::from_vec(bytes)).unwrap(),
        scale: Tensor::from_vec(vec![nb, n], (0..nb * n).map(|i| ir::f16::from_f32(0.01 + i as f32 / 512.0)).collect())
            .unwrap(),
        zero_point: None,
        axis: Some(0),
        block_size: Some(block as i64),
    };
    let mut m = Model::default();
    m.opset_imports.insert(String::new(), 21);
    let g = &mut m.graph;
    let mut names = NameGen::for_graph(g);
    let dq = DqNames::fresh(&mut names, "w");
    let node = ir::quant::dq_weight_node(g, w, &dq, "w16");
    g.nodes.push(node);
    g.nodes.push(Node::new("Cast", ["w16"], ["w"]).named("cast").with_attr("to", ir::Attribute::Int(1)));
    g.nodes.push(Node::new("MatMul", ["x", "w"], ["y"]).named("mm"));
    g.inputs.push(ValueInfo::tensor("x", DType::F32, ir::Shape::fixed(&[2, k as u64])));
    g.outputs.push(ValueInfo::tensor("y", DType::F32, ir::Shape::fixed(&[2, n as u64])));
    m
}

fn options(value: &str) -> ExportOptions {
    let mut o = ExportOptions::default();
    o.format_options.insert("int4-format".into(), value.into());
    o
}

#[test]
fn matmulnbits_files_read_back_as_blocked_dq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbits.onnx");
    let m = model();
    fmt_onnx::OnnxExporter.export(&m, &path, &options("matmulnbits")).unwrap();

    let proto = fmt_onnx::parse(&path).unwrap();
    assert!(proto.opset_import.iter().any(|o| o.domain == "com.microsoft" && o.version == 1));
    let g = proto.graph.unwrap();
    let ops: Vec<(&str, &str)> = g.node.iter().map(|n| (n.op_type.as_str(), n.domain.as_str())).collect();
    assert_eq!(ops, [("MatMulNBits", "com.microsoft")], "the DQ and Cast are gone");
    let scales = g.initializer.iter().find(|t| t.dims == [24]).expect("[N · n_blocks] scales");
    assert_eq!(scales.data_type, 1, "scales in the activation's type (f32)");

    let back = fmt_onnx::OnnxImporter.import(&path, &ImportOptions::default()).unwrap();
    assert!(!back.opset_imports.contains_key("com.microsoft"));
    let ops: Vec<&str> = back.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(ops, ["DequantizeLinear", "MatMul"]);
    let (a, b) = (&m.graph, &back.graph);
    let w0 = ir::quant::match_dq_weight(a, &a.nodes[0]).unwrap();
    let w1 = ir::quant::match_dq_weight(b, &b.nodes[0]).unwrap();
    assert_eq!(w1.q, w0.q, "the same integers");
    assert_eq!(w1.scale.to_f64s().unwrap(), w0.scale.to_f64s().unwrap(), "f16 scales widened exactly");
    assert_eq!((w1.axis, w1.block_size), (Some(0), Some(16)));

    // The default writes the standard form.
    let dq = dir.path().join("dq.onnx");
    fmt_onnx::OnnxExporter.export(&m, &dq, &options("dq")).unwrap();
    assert!(fmt_onnx::parse(&dq).unwrap().graph.unwrap().node.iter().any(|n| n.op_type == "DequantizeLinear"));
    let e = fmt_onnx::OnnxExporter.export(&m, &dq, &options("nbits")).unwrap_err().to_string();
    assert!(e.contains("int4-format=nbits: use dq or matmulnbits"), "{e}");
}
