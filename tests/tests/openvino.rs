//! OpenVINO IR on real files: the IRs OpenVINO itself wrote
//! (`tests/fixtures/openvino/`, made by `make_openvino_fixtures.py`) run in
//! the evaluator against OpenVINO's own outputs; ONNX fixtures exported to
//! IR and read back compute what the ONNX reference computed; IR → IR → IR
//! is a fixed point with bit-identical weights; the compression patterns
//! become the IR's quantization convention; bad files give one-line errors
//! naming the file and the layer.

use std::path::{Path, PathBuf};

use convert::eval;
use ir::{DType, ExportOptions, Exporter, ImportOptions, Importer, Model, Tensor};
use serde_json::Value;

fn ov_dir() -> PathBuf {
    workspace_tests::fixtures_dir().join("openvino")
}

fn ov_manifest() -> Value {
    let path = ov_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (made by tests/fixtures/make_openvino_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn import(path: &Path) -> Model {
    let (m, fmt) = convert::load(&convert::registry(), path, None, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(fmt, "openvino");
    m
}

fn export(model: &Model, path: &Path) {
    fmt_openvino::OpenVinoExporter
        .export(model, path, &ExportOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs `model` on the named `.npy` inputs and returns the worst relative L2
/// error against the `.npy` references, output by output in order.
fn worst_error(model: &Model, inputs: &[PathBuf], outputs: &[PathBuf]) -> f64 {
    let feeds = convert::verify::feeds(model);
    assert_eq!(feeds.len(), inputs.len(), "input count");
    let values: Vec<(String, eval::Value)> = feeds
        .iter()
        .zip(inputs)
        .map(|(vi, p)| {
            let mut t = ir::tensor_file::read_npy(p).unwrap();
            // Fixtures store scalars as one-element arrays (ops_subgraph's flag);
            // fit them to the declared static shape when the counts agree.
            if let Some(dims) = vi.shape().and_then(|s| s.as_fixed()) {
                let dims: Vec<usize> = dims.into_iter().map(|d| d as usize).collect();
                if dims != t.shape() && dims.iter().product::<usize>() == t.numel() {
                    t = t.reshaped(dims).unwrap();
                }
            }
            (vi.name.clone(), eval::Value::Tensor(eval::from_ir(&t).unwrap()))
        })
        .collect();
    let got = convert::verify::run(model, values).unwrap();
    assert_eq!(got.len(), outputs.len(), "output count");
    let mut worst = 0f64;
    for ((name, v), p) in got.iter().zip(outputs) {
        let reference = eval::Value::Tensor(eval::from_ir(&ir::tensor_file::read_npy(p).unwrap()).unwrap());
        let m = eval::compare::compare_values(&reference, v).unwrap_or_else(|e| panic!("output {name}: {e}"));
        worst = worst.max(m.rel_l2);
    }
    worst
}

fn files(case: &Value, key: &str) -> Vec<PathBuf> {
    let base = workspace_tests::fixtures_dir();
    case[key].as_array().unwrap().iter().map(|f| base.join(f["file"].as_str().unwrap())).collect()
}

fn cases() -> Vec<Value> {
    ov_manifest()["cases"].as_array().unwrap().clone()
}

/// Every fixture written by OpenVINO imports and, in the evaluator, matches
/// OpenVINO's CPU runtime.
#[test]
fn openvino_written_fixtures_match_the_openvino_runtime() {
    let cases = cases();
    assert!(cases.len() >= 8, "the manifest lists the fp32 and fp16 fixtures");
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let model = import(&workspace_tests::fixtures_dir().join(c["model"].as_str().unwrap()));
        let err = worst_error(&model, &files(c, "inputs"), &files(c, "outputs"));
        // The runtime and the evaluator order float sums differently; the
        // decompressed (int8/int4) weights are multiplied in f16 by both.
        let tol = if c["compression"] == "int4" || c["compression"] == "int8" { 1e-3 } else { 1e-5 };
        assert!(err <= tol, "{name}: relative L2 error {err:e} > {tol:e}");
    }
}

/// ONNX fixture → IR → import gives the ONNX reference outputs.
#[test]
fn onnx_fixtures_through_openvino_ir_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        "cnn_bn_residual",
        "transformer_encoder",
        "mlp",
        "dynamic_batch",
        "cnn_qdq_static",
        "cnn_dynamo_default",
        "keras_cnn_tf2onnx",
        "external_data",
    ];
    for case in cases {
        let src = workspace_tests::fixtures_dir().join("onnx").join(case);
        let (onnx, _) =
            convert::load(&convert::registry(), &src.join("model.onnx"), None, &ImportOptions::default()).unwrap();
        let xml = dir.path().join(format!("{case}.xml"));
        export(&onnx, &xml);
        assert!(xml.with_extension("bin").is_file());
        let back = import(&xml);
        let err = worst_error(&back, &[src.join("input_0.npy")], &[src.join("output_0.npy")]);
        assert!(err <= 1e-5, "{case}: relative L2 error {err:e}");
        if case == "cnn_qdq_static" {
            // Activation Q→DQ pairs become FakeQuantize, int8 weights the decompression pattern.
            let text = std::fs::read_to_string(&xml).unwrap();
            assert!(text.contains("type=\"FakeQuantize\""), "Q/DQ pairs are FakeQuantize layers");
            assert!(text.contains("element_type=\"i8\"") || text.contains("element_type=\"u8\""));
        }
        if case == "dynamic_batch" {
            let dims = back.graph.inputs[0].shape().unwrap().dims().to_vec();
            assert!(dims[0].is_dynamic(), "batch stays dynamic: {dims:?}");
            let text = std::fs::read_to_string(&xml).unwrap();
            assert!(text.contains("shape=\"?,3,16,16\""), "dynamic dims are written as ?");
        }
    }
}

fn weights(m: &Model) -> Vec<(DType, Vec<usize>, Vec<u8>)> {
    let mut v: Vec<_> = m
        .graph
        .initializers
        .values()
        .filter(|t| t.numel() >= 16)
        .map(|t| (t.dtype(), t.shape().to_vec(), t.raw().unwrap().to_vec()))
        .collect();
    v.sort();
    v
}

/// IR → IR → IR: the second and third files are identical, and the weights
/// of the OpenVINO-written file come through bit for bit.
#[test]
fn ir_to_ir_is_a_fixed_point_with_identical_weights() {
    let dir = tempfile::tempdir().unwrap();
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let first = import(&workspace_tests::fixtures_dir().join(c["model"].as_str().unwrap()));
        let a = dir.path().join(format!("{name}_a.xml"));
        export(&first, &a);
        let second = import(&a);
        let b = dir.path().join(format!("{name}_b.xml"));
        export(&second, &b);
        let (ta, tb) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
        if let Some(i) = ta.lines().zip(tb.lines()).position(|(x, y)| x != y) {
            panic!(
                "{name}: xml differs at line {}: {:?} vs {:?}",
                i + 1,
                ta.lines().nth(i).unwrap(),
                tb.lines().nth(i).unwrap()
            );
        }
        assert_eq!(ta.len(), tb.len(), "{name}: xml lengths differ");
        assert_eq!(std::fs::read(a.with_extension("bin")).unwrap(), std::fs::read(b.with_extension("bin")).unwrap());
        let w1 = weights(&first);
        let w2 = weights(&second);
        for w in &w1 {
            assert!(w2.contains(w), "{name}: a {:?} {:?} weight changed", w.0, w.1);
        }
    }
}

fn dq_nodes(m: &Model) -> Vec<&ir::Node> {
    m.graph.nodes.iter().filter(|n| n.op == "DequantizeLinear").collect()
}

/// NNCF's int8 (per-channel, asymmetric) and int4 (group-wise) weights are
/// read as DequantizeLinear of low-bit initializers, and written back as
/// OpenVINO's decompression pattern that reads the same way again.
#[test]
fn compressed_weights_follow_the_quantization_convention() {
    let dir = tempfile::tempdir().unwrap();
    let int8 = import(&ov_dir().join("mlp_int8/model.xml"));
    let dqs = dq_nodes(&int8);
    assert_eq!(dqs.len(), 3, "one DequantizeLinear per Linear weight");
    for n in &dqs {
        let g = &int8.graph;
        let x = &g.initializers[n.input(0).unwrap()];
        let s = &g.initializers[n.input(1).unwrap()];
        let z = &g.initializers[n.input(2).unwrap()];
        // The f16 scales are widened: the pattern ends in Convert(f32), and
        // OpenVINO computes the decompression in f32, as the import now does.
        assert_eq!((x.dtype(), s.dtype(), z.dtype()), (DType::U8, DType::F32, DType::U8));
        assert_eq!(s.shape(), &[x.shape()[0]], "per-output-channel scale");
        assert_eq!(n.attr_int("axis", 1).unwrap(), 0);
    }
    assert!(!int8.graph.nodes.iter().any(|n| n.op == "Cast"), "the Convert(f32) after each decompression is absorbed");
    let int4 = import(&ov_dir().join("mlp_int4/model.xml"));
    let dqs = dq_nodes(&int4);
    assert_eq!(dqs.len(), 3);
    assert!(dqs.iter().all(|n| int4.graph.initializers[n.input(1).unwrap()].dtype() == DType::F32));
    for n in &dqs {
        let g = &int4.graph;
        let x = &g.initializers[n.input(0).unwrap()];
        let s = &g.initializers[n.input(1).unwrap()];
        assert_eq!(x.dtype(), DType::U4);
        assert_eq!(x.shape().len(), 2, "weights are the [N, K] matrix, not [N, K/32, 32]");
        assert_eq!(s.shape(), &[x.shape()[0], x.shape()[1] / 32]);
        assert_eq!(n.attr_int("block_size", 0).unwrap(), 32);
        assert_eq!(n.attr_int("axis", 0).unwrap(), 1);
    }
    // Written back: u4 constants packed as OpenVINO packs them, grouped Reshape.
    let xml = dir.path().join("int4.xml");
    export(&int4, &xml);
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(text.contains("element_type=\"u4\" shape=\"128, 2, 32\""), "grouped u4 weights");
    assert!(text.contains("type=\"Subtract\"") && text.contains("type=\"Multiply\""));
    assert_eq!(dq_nodes(&import(&xml)).len(), 3);
}

/// The f16-compressed fixtures keep their weights as f16 initializers (views
/// into the .bin) with a Cast, rather than copying them to f32.
#[test]
fn fp16_weights_stay_f16_views_of_the_bin() {
    let m = import(&ov_dir().join("mlp_fp16/model.xml"));
    let f16: Vec<&Tensor> = m.graph.initializers.values().filter(|t| t.dtype() == DType::F16).collect();
    assert!(f16.len() >= 3, "weights stay f16");
    assert!(f16.iter().all(|t| format!("{:?}", t.raw().unwrap()).contains("mapped")), "zero-copy views");
    assert!(m.graph.nodes.iter().any(|n| n.op == "Cast"));
}

// ---- malformed files --------------------------------------------------------

const GOOD: &str = r#"<?xml version="1.0"?>
<net name="t" version="11">
  <layers>
    <layer id="0" name="x" type="Parameter" version="opset1">
      <data shape="2,2" element_type="f32"/>
      <output><port id="0" precision="FP32"><dim>2</dim><dim>2</dim></port></output>
    </layer>
    <layer id="1" name="w" type="Const" version="opset1">
      <data element_type="f32" shape="2, 2" offset="0" size="16"/>
      <output><port id="0" precision="FP32"><dim>2</dim><dim>2</dim></port></output>
    </layer>
    <layer id="2" name="add" type="Add" version="opset1">
      <data auto_broadcast="numpy"/>
      <input><port id="0" precision="FP32"/><port id="1" precision="FP32"/></input>
      <output><port id="2" precision="FP32" names="y"/></output>
    </layer>
    <layer id="3" name="out" type="Result" version="opset1">
      <input><port id="0" precision="FP32"/></input>
    </layer>
  </layers>
  <edges>
    <edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>
    <edge from-layer="1" from-port="0" to-layer="2" to-port="1"/>
    <edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>
  </edges>
</net>
"#;

/// Writes `xml` (and a 16-byte `.bin` unless `bin` is false) and imports it.
fn try_import(dir: &Path, name: &str, xml: &str, bin: bool) -> Result<Model, String> {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).unwrap();
    if bin {
        let data: Vec<u8> = [1f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path.with_extension("bin"), data).unwrap();
    }
    fmt_openvino::OpenVinoImporter.import(&path, &ImportOptions::default()).map_err(|e| e.to_string())
}

#[test]
fn the_good_file_imports_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let m = try_import(dir.path(), "good", GOOD, true).unwrap();
    assert_eq!(m.graph.outputs[0].name, "y");
    let x = eval::Value::Tensor(eval::from_ir(&Tensor::from_vec(vec![2, 2], vec![1f32; 4]).unwrap()).unwrap());
    let out = convert::verify::run(&m, vec![("x".into(), x)]).unwrap();
    let t = eval::to_ir(match &out[0].1 {
        eval::Value::Tensor(t) => t,
        v => panic!("{v:?}"),
    })
    .unwrap();
    assert_eq!(&*t.as_slice::<f32>().unwrap(), &[2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn malformed_files_give_one_line_errors_naming_file_and_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(&str, String, bool, &str)> = vec![
        ("missing_bin", GOOD.into(), false, "missing_bin.xml: the weights file"),
        (
            "past_end",
            GOOD.replace("offset=\"0\" size=\"16\"", "offset=\"8\" size=\"16\""),
            true,
            "past_end.xml: layer id 1 ('w', Const): offset 8 + size 16 is past the end of",
        ),
        (
            "short_size",
            GOOD.replace("offset=\"0\" size=\"16\"", "offset=\"0\" size=\"8\""),
            true,
            "layer id 1 ('w', Const): size 8 is less than the 16 bytes of 4 f32 values",
        ),
        (
            "huge_shape",
            GOOD.replace("shape=\"2, 2\" offset", "shape=\"4294967296, 4294967296, 4294967296\" offset"),
            true,
            "layer id 1 ('w', Const): shape overflows",
        ),
        (
            "unknown_type",
            GOOD.replace("type=\"Add\"", "type=\"FrobnicateV9\""),
            true,
            "1 unsupported op type(s) for openvino import: openvino::FrobnicateV9 (node 'add')",
        ),
        (
            "dangling_edge",
            GOOD.replace("to-layer=\"3\" to-port=\"0\"", "to-layer=\"7\" to-port=\"0\""),
            true,
            "dangling_edge.xml: edge to layer id 7 (from layer id 2): no such layer",
        ),
        (
            "bad_port",
            GOOD.replace("from-port=\"2\" to-layer=\"3\"", "from-port=\"5\" to-layer=\"3\""),
            true,
            "layer id 2 ('add', Add): edge from port 5, which is not an output port of the layer",
        ),
        (
            "unconnected",
            GOOD.replace("<edge from-layer=\"1\" from-port=\"0\" to-layer=\"2\" to-port=\"1\"/>", ""),
            true,
            "layer id 2 ('add', Add): input port 1 is not connected",
        ),
        (
            "cycle",
            GOOD.replace(
                "<edge from-layer=\"0\" from-port=\"0\" to-layer=\"2\" to-port=\"0\"/>",
                "<edge from-layer=\"2\" from-port=\"2\" to-layer=\"2\" to-port=\"0\"/>",
            ),
            true,
            "cycle.xml: the graph has a cycle through layer id(s) 2, 3",
        ),
        (
            "bad_dims",
            GOOD.replace("shape=\"2,2\" element_type", "shape=\"2,x\" element_type"),
            true,
            "layer id 0 ('x', Parameter): shape '2,x' is not a shape",
        ),
        (
            "bad_element_type",
            GOOD.replace("element_type=\"f32\" shape=\"2, 2\"", "element_type=\"q7\" shape=\"2, 2\""),
            true,
            "layer id 1 ('w', Const): element_type 'q7' is not supported",
        ),
        ("duplicate_id", GOOD.replace("layer id=\"1\"", "layer id=\"0\""), true, "layer id 0 is used twice"),
        ("not_xml", "<net version=\"11\"><layers>".into(), true, "not_xml.xml: line 1:"),
        ("old_version", GOOD.replace("version=\"11\"", "version=\"7\""), true, "IR version 7 is not supported"),
    ];
    for (name, xml, bin, want) in cases {
        let e = try_import(d, name, &xml, bin).expect_err(name);
        assert!(e.contains(want), "{name}: got '{e}', want '{want}'");
        assert!(!e.contains('\n'), "{name}: one line");
    }
}

#[test]
fn export_lists_every_unsupported_op_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = ir::Graph::default();
    g.inputs.push(ir::ValueInfo::tensor("x", DType::F32, ir::Shape::fixed(&[2])));
    g.nodes.push(ir::Node::new("Relu", ["x"], ["a"]).named("r"));
    g.nodes.push(ir::Node::new("StringNormalizer", ["a"], ["b"]).named("s"));
    g.nodes.push(ir::Node::new("Foo", ["b"], ["c"]).named("f").in_domain("tf"));
    g.outputs.push(ir::ValueInfo::tensor("c", DType::F32, None));
    let m = Model::new(g);
    let path = dir.path().join("m.xml");
    let e = fmt_openvino::OpenVinoExporter.export(&m, &path, &ExportOptions::default()).unwrap_err().to_string();
    assert_eq!(e, "2 unsupported op type(s) for openvino: ai.onnx::StringNormalizer (node 's'), tf::Foo (node 'f')");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file left behind");
}

/// torch.onnx (TorchScript exporter) deduplicates identical initializers and
/// reads the duplicates through `Identity` nodes; transformers' ResNet-50,
/// MobileNetV2, ConvNeXt and ViT all have such shared Conv biases. The
/// exporter used to reshape the shared bias Const in place for the first
/// Conv, losing the Identity's name: "value '...' is read before it is defined".
#[test]
fn shared_conv_bias_read_through_identity_exports() {
    use ir::{Graph, Node, Shape, ValueInfo};
    let dir = tempfile::tempdir().unwrap();
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[1, 2, 4, 4])));
    let w: Vec<f32> = (0..4).map(|i| i as f32 * 0.25 - 1.0).collect();
    g.initializers.insert("w".into(), Tensor::from_vec(vec![2, 2, 1, 1], w).unwrap());
    g.initializers.insert("b".into(), Tensor::from_vec(vec![2], vec![0.5f32, -0.5]).unwrap());
    // The Identity comes first, then a reader of the original name, then a
    // reader of the alias.
    g.nodes.push(Node::new("Identity", ["b"], ["b_dup"]).named("dedup"));
    g.nodes.push(Node::new("Conv", ["x", "w", "b"], ["y1"]).named("conv1"));
    g.nodes.push(Node::new("Conv", ["y1", "w", "b_dup"], ["y2"]).named("conv2"));
    g.outputs.push(ValueInfo::tensor("y2", DType::F32, Shape::fixed(&[1, 2, 4, 4])));
    let onnx = dir.path().join("m.onnx");
    fmt_onnx::OnnxExporter.export(&Model::new(g), &onnx, &ExportOptions::default()).unwrap();
    let m = convert::load(&convert::registry(), &onnx, None, &ImportOptions::default()).unwrap().0;
    let xml = dir.path().join("m.xml");
    export(&m, &xml);
    let back = import(&xml);
    let x = Tensor::from_vec(vec![1, 2, 4, 4], (0..32).map(|i| (i as f32).sin()).collect::<Vec<_>>()).unwrap();
    let feeds = |m: &Model| vec![(m.graph.inputs[0].name.clone(), eval::Value::Tensor(eval::from_ir(&x).unwrap()))];
    let a = convert::verify::run(&m, feeds(&m)).unwrap();
    let b = convert::verify::run(&back, feeds(&back)).unwrap();
    let (a, b) = (eval::to_ir(a[0].1.tensor().unwrap()).unwrap(), eval::to_ir(b[0].1.tensor().unwrap()).unwrap());
    assert_eq!(a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
}

/// A model following the IR's quantization convention (opset 21): per-axis
/// i8 and blocked u4 `DequantizeLinear` weights feeding MatMuls.
fn quantized_model() -> Model {
    use ir::{Graph, Node, Shape, ValueInfo};
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[2, 8])));
    let w8: Vec<i8> = (0..32).map(|i| (i * 7 % 255 - 127) as i8).collect();
    g.initializers.insert("w8".into(), Tensor::from_vec(vec![8, 4], w8).unwrap());
    g.initializers.insert("s8".into(), Tensor::from_vec(vec![4], vec![0.01f32, 0.02, 0.03, 0.04]).unwrap());
    g.initializers.insert("z8".into(), Tensor::from_vec(vec![4], vec![0i8, 1, -2, 3]).unwrap());
    // u4 weights [4, 8], blocks of 4 along axis 1: scales and zero points [4, 2].
    let nibbles: Vec<u8> = (0..32u8).map(|i| (i * 5) % 16).collect();
    let packed: Vec<u8> = nibbles.chunks(2).map(|p| p[0] | (p[1] << 4)).collect();
    g.initializers.insert("w4".into(), Tensor::from_raw(DType::U4, vec![4, 8], ir::Buffer::from_vec(packed)).unwrap());
    let s4: Vec<f32> = (0..8).map(|i| 0.05 + i as f32 * 0.01).collect();
    g.initializers.insert("s4".into(), Tensor::from_vec(vec![4, 2], s4).unwrap());
    let z4 = vec![0x38u8, 0x7f, 0x00, 0x21];
    g.initializers.insert("z4".into(), Tensor::from_raw(DType::U4, vec![4, 2], ir::Buffer::from_vec(z4)).unwrap());
    g.nodes.push(Node::new("DequantizeLinear", ["w8", "s8", "z8"], ["w8f"]).named("dq8").with_attr("axis", 1i64));
    g.nodes.push(Node::new("MatMul", ["x", "w8f"], ["h"]).named("mm8"));
    g.nodes.push(
        Node::new("DequantizeLinear", ["w4", "s4", "z4"], ["w4f"])
            .named("dq4")
            .with_attr("axis", 1i64)
            .with_attr("block_size", 4i64),
    );
    g.nodes.push(Node::new("MatMul", ["h", "w4f"], ["y"]).named("mm4"));
    g.outputs.push(ValueInfo::tensor("y", DType::F32, None));
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), 21);
    m
}

fn run_on(m: &Model, x: &Tensor) -> Vec<f32> {
    let v = eval::Value::Tensor(eval::from_ir(x).unwrap());
    let out = convert::verify::run(m, vec![("x".into(), v)]).unwrap();
    match &out[0].1 {
        eval::Value::Tensor(t) => eval::to_ir(t).unwrap().as_slice::<f32>().unwrap().to_vec(),
        v => panic!("{v:?}"),
    }
}

/// The convention survives IR: same DequantizeLinear nodes, same bytes, same outputs.
#[test]
fn quantization_convention_round_trips_through_openvino_ir() {
    let dir = tempfile::tempdir().unwrap();
    let m = quantized_model();
    let xml = dir.path().join("q.xml");
    export(&m, &xml);
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(text.contains("element_type=\"i8\" shape=\"8, 4\""), "per-axis i8 weights");
    assert!(text.contains("element_type=\"u4\" shape=\"4, 2, 4\""), "u4 weights in groups of 4");
    let back = import(&xml);
    let dqs = dq_nodes(&back);
    assert_eq!(dqs.len(), 2);
    for (orig, name) in [("w8", "i8"), ("w4", "u4")] {
        let t = &m.graph.initializers[orig];
        let found = back.graph.initializers.values().any(|b| b.dtype() == t.dtype() && b.raw() == t.raw());
        assert!(found, "{name} weights come back bit-identical");
    }
    let blocked = dqs.iter().find(|n| n.attr_int("block_size", 0).unwrap() == 4).expect("blocked DQ");
    assert_eq!(blocked.attr_int("axis", 0).unwrap(), 1);
    let x = Tensor::from_vec(vec![2, 8], (0..16).map(|i| i as f32 * 0.1 - 0.7).collect()).unwrap();
    let (a, b) = (run_on(&m, &x), run_on(&back, &x));
    assert_eq!(a, b, "identical arithmetic after the round trip");
}

/// A weight stored as an ONNX `sparse_initializer` (what `--prune-sparse`
/// writes) becomes a dense `Const`: OpenVINO IR has no sparse constants.
#[test]
fn sparse_initializers_are_written_dense() {
    use ir::{Graph, Node, Shape, SparseTensor, ValueInfo};
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[2, 3])));
    // w = [[0, 1.5, 0], [0, 0, -2], [4, 0, 0]] as three (row, col) coordinates.
    let sparse = SparseTensor {
        values: Tensor::from_vec(vec![3], vec![1.5f32, -2.0, 4.0]).unwrap(),
        indices: Tensor::from_vec(vec![3, 2], vec![0i64, 1, 1, 2, 2, 0]).unwrap(),
        dims: vec![3, 3],
    };
    g.sparse_initializers.insert("w".into(), sparse);
    g.nodes.push(Node::new("MatMul", ["x", "w"], ["y"]).named("mm"));
    g.outputs.push(ValueInfo::tensor("y", DType::F32, None));
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), 17);

    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("sparse.xml");
    export(&m, &xml);
    let back = import(&xml);
    assert!(back.graph.sparse_initializers.is_empty());
    let dense: Vec<f32> = vec![0.0, 1.5, 0.0, 0.0, 0.0, -2.0, 4.0, 0.0, 0.0];
    let w = back.graph.initializers.values().find(|t| t.shape() == [3, 3]).expect("the dense weight");
    assert_eq!(w.as_slice::<f32>().unwrap(), dense.as_slice());
    let x = Tensor::from_vec(vec![2, 3], vec![1.0f32, 2.0, 3.0, -1.0, 0.5, 0.25]).unwrap();
    assert_eq!(run_on(&m, &x), run_on(&back, &x));
    assert_eq!(run_on(&back, &x), vec![12.0, 1.5, -4.0, 1.0, -1.5, -1.0]);
}

/// Runs `m` on named tensors and returns every output as an IR tensor.
fn run_all(m: &Model, feeds: &[(&str, Tensor)]) -> Vec<(String, Tensor)> {
    let values = feeds.iter().map(|(n, t)| (n.to_string(), eval::Value::Tensor(eval::from_ir(t).unwrap()))).collect();
    convert::verify::run(m, values)
        .unwrap()
        .into_iter()
        .map(|(name, v)| match v {
            eval::Value::Tensor(t) => (name, eval::to_ir(&t).unwrap()),
            v => panic!("output {name}: {v:?}"),
        })
        .collect()
}

/// What the dynamic int8 pass emits: `DynamicQuantizeLinear` feeding
/// `MatMulInteger` (per-row-free, scalar zero points), plus a `ConvInteger`
/// with a per-output-channel weight zero point.
fn dynamic_int8_model() -> Model {
    use ir::{Graph, Node, Shape, ValueInfo};
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[4, 16])));
    g.inputs.push(ValueInfo::tensor("img", DType::U8, Shape::fixed(&[1, 2, 5, 5])));
    let w: Vec<i8> = (0..16 * 8).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    g.initializers.insert("w".into(), Tensor::from_vec(vec![16, 8], w).unwrap());
    g.initializers.insert("wz".into(), Tensor::scalar(3i8));
    let k: Vec<u8> = (0..3 * 2 * 3 * 3).map(|i| ((i * 11) % 256) as u8).collect();
    g.initializers.insert("k".into(), Tensor::from_vec(vec![3, 2, 3, 3], k).unwrap());
    g.initializers.insert("kz".into(), Tensor::from_vec(vec![3], vec![128u8, 100, 7]).unwrap());
    g.initializers.insert("iz".into(), Tensor::scalar(9u8));
    g.nodes.push(Node::new("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]).named("dql"));
    g.nodes.push(Node::new("MatMulInteger", ["q", "w", "z", "wz"], ["mm"]).named("mmi"));
    g.nodes.push(
        Node::new("ConvInteger", ["img", "k", "iz", "kz"], ["conv"])
            .named("convi")
            .with_attr("pads", vec![1i64, 1, 1, 1]),
    );
    for (name, d) in [("q", DType::U8), ("s", DType::F32), ("z", DType::U8), ("mm", DType::I32), ("conv", DType::I32)] {
        g.outputs.push(ValueInfo::tensor(name, d, None));
    }
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), 17);
    m
}

/// DynamicQuantizeLinear, MatMulInteger and ConvInteger are lowered to
/// OpenVINO opset arithmetic and read back with the same numbers, bit for bit.
#[test]
fn dynamic_quantization_ops_round_trip_through_openvino_ir() {
    let dir = tempfile::tempdir().unwrap();
    let m = dynamic_int8_model();
    let xml = dir.path().join("dq.xml");
    export(&m, &xml);
    let text = std::fs::read_to_string(&xml).unwrap();
    for op in ["DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"] {
        assert!(!text.contains(&format!("type=\"{op}\"")), "{op} is lowered to opset ops");
    }
    assert!(text.contains("mode=\"half_to_even\""), "ONNX rounds half to even");
    assert!(text.contains("type=\"ReduceMin\"") && text.contains("type=\"Convolution\""));
    let back = import(&xml);
    // Values on exact halves of the scale test the rounding; the range straddles 0.
    let xs: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) * 0.37 + if i % 5 == 0 { 0.5 } else { 0.0 }).collect();
    let x = Tensor::from_vec(vec![4, 16], xs).unwrap();
    let img = Tensor::from_vec(vec![1, 2, 5, 5], (0..50u8).map(|i| i.wrapping_mul(29)).collect()).unwrap();
    let feeds = [("x", x), ("img", img)];
    let (a, b) = (run_all(&m, &feeds), run_all(&back, &feeds));
    assert_eq!(a.len(), 5);
    assert_eq!(b.len(), 5);
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert_eq!((ta.dtype(), ta.shape()), (tb.dtype(), tb.shape()), "output {na}");
        assert_eq!(ta.raw().unwrap().as_ref(), tb.raw().unwrap().as_ref(), "output {na} differs after the round trip");
    }
    // Not vacuous: the quantized values use the range and the products are non-trivial.
    assert!(a[0].1.as_slice::<u8>().unwrap().contains(&255));
    assert!(a[3].1.as_slice::<i32>().unwrap().iter().any(|&v| v.abs() > 1000));
}

/// If and Loop (nested If in the Loop body, captured outer values, scan
/// output) go to OpenVINO If-8/Loop-5 and back with the fixture's outputs,
/// and the imported model exports again to the same numbers.
#[test]
fn control_flow_round_trips_through_openvino_ir() {
    let dir = tempfile::tempdir().unwrap();
    let src = workspace_tests::fixtures_dir().join("onnx").join("ops_subgraph");
    let (onnx, _) =
        convert::load(&convert::registry(), &src.join("model.onnx"), None, &ImportOptions::default()).unwrap();
    let xml = dir.path().join("s.xml");
    export(&onnx, &xml);
    let text = std::fs::read_to_string(&xml).unwrap();
    for needle in [
        "type=\"If\" version=\"opset8\"",
        "type=\"Loop\" version=\"opset5\"",
        "<then_body>",
        "<back_edges>",
        "purpose=\"current_iteration\"",
        "purpose=\"execution_condition\"",
        "axis=\"0\"",
    ] {
        assert!(text.contains(needle), "the IR has {needle}");
    }
    let inputs: Vec<PathBuf> = (0..3).map(|i| src.join(format!("input_{i}.npy"))).collect();
    let outputs: Vec<PathBuf> = (0..4).map(|i| src.join(format!("output_{i}.npy"))).collect();
    let back = import(&xml);
    let ops: Vec<&str> = back.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(ops.iter().filter(|o| **o == "If").count(), 2, "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == "Loop").count(), 1, "{ops:?}");
    let err = worst_error(&back, &inputs, &outputs);
    assert!(err <= 1e-6, "relative L2 error {err:e}");
    // IR → IR: the importer's If/Loop export again and still compute the same.
    let xml2 = dir.path().join("s2.xml");
    export(&back, &xml2);
    let again = import(&xml2);
    let err = worst_error(&again, &inputs, &outputs);
    assert!(err <= 1e-6, "second round: relative L2 error {err:e}");
}

/// `--keep-unknown-ops`: a layer type with no rule stays an `openvino`-domain
/// node (attributes as strings) instead of failing the import; the
/// evaluator runs it through a kernel registered with `Registry::add_kernel`,
/// and a writer that cannot hold it names it.
#[test]
fn unknown_layers_kept_in_the_origin_domain_run_through_registered_kernels() {
    fn twice_plus(node: &ir::Node, ins: &[Option<Tensor>]) -> ir::Result<Vec<Tensor>> {
        let k: f32 = node.attr_str("offset", "0")?.parse().map_err(|_| ir::Error::invalid("offset"))?;
        let x = ins[0].as_ref().ok_or_else(|| ir::Error::invalid("input"))?;
        let v: Vec<f32> = x.as_slice::<f32>()?.iter().map(|v| 2.0 * v + k).collect();
        Ok(vec![Tensor::from_vec(x.shape().to_vec(), v)?])
    }
    let dir = tempfile::tempdir().unwrap();
    let xml = GOOD.replace(
        r#"type="Add" version="opset1">
      <data auto_broadcast="numpy"/>"#,
        r#"type="VendorTwicePlus" version="extension">
      <data offset="0.5"/>"#,
    );
    let e = try_import(dir.path(), "unknown", &xml, true).unwrap_err();
    assert!(e.contains("openvino::VendorTwicePlus"), "{e}");

    let path = dir.path().join("unknown.xml");
    let opts = ImportOptions { keep_unknown_ops: true, ..ImportOptions::default() };
    let m = fmt_openvino::OpenVinoImporter.import(&path, &opts).unwrap();
    let n = m.graph.nodes.iter().find(|n| n.op == "VendorTwicePlus").expect("kept");
    assert_eq!((n.domain.as_str(), n.attr_str("offset", "").unwrap()), ("openvino", "0.5"));
    assert_eq!(m.opset_imports.get("openvino"), Some(&1));

    let mut registry = ir::Registry::new();
    registry.add_kernel("openvino", "VendorTwicePlus", twice_plus);
    let x = eval::Value::Tensor(eval::from_ir(&Tensor::from_vec(vec![2, 2], vec![1f32, 2., 3., 4.]).unwrap()).unwrap());
    let out = convert::verify::run(&m, vec![("x".into(), x)]).unwrap();
    let y = eval::to_ir(out[0].1.tensor().unwrap()).unwrap();
    assert_eq!(y.as_slice::<f32>().unwrap().as_ref(), &[2.5, 4.5, 6.5, 8.5]);

    // Writers that cannot express the op say exactly which one.
    let e = fmt_onnx::OnnxExporter.check(&m).unwrap_err();
    assert_eq!(e.unsupported_op_names(), ["VendorTwicePlus"]);
}
