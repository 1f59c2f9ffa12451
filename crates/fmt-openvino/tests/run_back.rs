//! What the exporter writes, the importer reads with the same results: IR
//! graphs with values only known at run time (split lengths, grouped
//! weights fed as inputs), `SpaceToDepth` in CRD order, casts to 8-bit
//! floats with and without `saturate`, and float `Mod` edge cases are
//! written, read back and run in the evaluator; the outputs are checked
//! against numbers worked out here by hand, NaNs and infinities included.

use std::path::Path;

use ir::{Attribute, DType, ExportOptions, Exporter, ImportOptions, Importer, Model, Node, Shape, Tensor, ValueInfo};

/// A model at `opset` with the given nodes, inputs and outputs.
fn model(opset: i64, nodes: Vec<Node>, inputs: Vec<ValueInfo>, outputs: Vec<ValueInfo>) -> Model {
    let mut m = Model::default();
    m.opset_imports.insert(String::new(), opset);
    m.graph.nodes = nodes;
    m.graph.inputs = inputs;
    m.graph.outputs = outputs;
    m
}

fn f32_input(name: &str, dims: &[u64]) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Shape::fixed(dims))
}

/// Writes `m` as OpenVINO IR and reads it back.
fn round_trip(m: &Model, dir: &Path) -> Model {
    let xml = dir.join("m.xml");
    fmt_openvino::OpenVinoExporter.export(m, &xml, &ExportOptions::default()).expect("export");
    fmt_openvino::OpenVinoImporter.import(&xml, &ImportOptions::default()).expect("import")
}

/// Runs `m` on `inputs` (by graph-input order); every output as f64s.
fn run(m: &Model, inputs: &[Tensor]) -> Vec<Vec<f64>> {
    let feeds = m
        .graph
        .inputs
        .iter()
        .zip(inputs)
        .map(|(v, t)| (v.name.clone(), eval::Value::Tensor(eval::from_ir(t).unwrap())))
        .collect();
    let outs = eval::run(m, feeds).expect("evaluation");
    outs.into_iter().map(|(_, v)| v.tensor().unwrap().to_f64_vec().unwrap()).collect()
}

/// Exports, imports and runs `m`; checks the read-back model's outputs
/// (and the original's, so the expectations are the op's semantics).
fn check(m: &Model, inputs: &[Tensor], want: &[Vec<f64>]) {
    let dir = tempfile::tempdir().unwrap();
    let back = round_trip(m, dir.path());
    for (which, got) in [("original", run(m, inputs)), ("read back", run(&back, inputs))] {
        assert_eq!(got.len(), want.len(), "{which}: outputs");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.len(), w.len(), "{which}: output {i} length");
            for (j, (a, b)) in g.iter().zip(w).enumerate() {
                let same = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 * b.abs();
                assert!(same, "{which}: output {i}[{j}] is {a}, want {b} (all: {g:?})");
            }
        }
    }
}

fn f32s(dims: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_vec(dims.to_vec(), v.to_vec()).unwrap()
}

#[test]
fn split_with_lengths_given_at_run_time() {
    // VariadicSplit whose split_lengths is a Parameter, not a Const.
    let m = model(
        18,
        vec![Node::new("Split", ["x", "split"], ["a", "b", "c"]).named("s").with_attr("axis", Attribute::Int(1))],
        vec![f32_input("x", &[2, 6]), ValueInfo::tensor("split", DType::I64, Shape::fixed(&[3]))],
        ["a", "b", "c"].iter().map(|n| ValueInfo::untyped(*n)).collect(),
    );
    let x = f32s(&[2, 6], &(0..12).map(|v| v as f32).collect::<Vec<_>>());
    let lengths = Tensor::from_vec(vec![3], vec![1i64, 2, 3]).unwrap();
    check(&m, &[x.clone(), lengths], &[vec![0.0, 6.0], vec![1.0, 2.0, 7.0, 8.0], vec![3.0, 4.0, 5.0, 9.0, 10.0, 11.0]]);
    // A zero length gives an empty output.
    let lengths = Tensor::from_vec(vec![3], vec![0i64, 6, 0]).unwrap();
    check(&m, &[x, lengths], &[vec![], (0..12).map(f64::from).collect(), vec![]]);
}

/// An OpenVINO net with a VariadicSplit of `x: f32[2, 6]` along axis 1 by
/// the run-time lengths `len: i64[2]` (which may hold one -1).
const VARIADIC_XML: &str = r#"<?xml version="1.0"?>
<net name="v" version="11">
  <layers>
    <layer id="0" name="x" type="Parameter" version="opset1">
      <data shape="2,6" element_type="f32" />
      <output><port id="0" precision="FP32" names="x"><dim>2</dim><dim>6</dim></port></output>
    </layer>
    <layer id="1" name="len" type="Parameter" version="opset1">
      <data shape="2" element_type="i64" />
      <output><port id="0" precision="I64" names="len"><dim>2</dim></port></output>
    </layer>
    <layer id="2" name="axis" type="Const" version="opset1">
      <data element_type="i64" shape="" offset="0" size="8" />
      <output><port id="0" precision="I64" /></output>
    </layer>
    <layer id="3" name="split" type="VariadicSplit" version="opset1">
      <input>
        <port id="0" precision="FP32"><dim>2</dim><dim>6</dim></port>
        <port id="1" precision="I64" />
        <port id="2" precision="I64"><dim>2</dim></port>
      </input>
      <output>
        <port id="3" precision="FP32" names="a"><dim>2</dim><dim>-1</dim></port>
        <port id="4" precision="FP32" names="b"><dim>2</dim><dim>-1</dim></port>
      </output>
    </layer>
    <layer id="4" name="a/sink" type="Result" version="opset1">
      <input><port id="0" precision="FP32"><dim>2</dim><dim>-1</dim></port></input>
    </layer>
    <layer id="5" name="b/sink" type="Result" version="opset1">
      <input><port id="0" precision="FP32"><dim>2</dim><dim>-1</dim></port></input>
    </layer>
  </layers>
  <edges>
    <edge from-layer="0" from-port="0" to-layer="3" to-port="0" />
    <edge from-layer="2" from-port="0" to-layer="3" to-port="1" />
    <edge from-layer="1" from-port="0" to-layer="3" to-port="2" />
    <edge from-layer="3" from-port="3" to-layer="4" to-port="0" />
    <edge from-layer="3" from-port="4" to-layer="5" to-port="0" />
  </edges>
</net>
"#;

#[test]
fn a_run_time_minus_one_length_takes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("v.xml");
    std::fs::write(&xml, VARIADIC_XML).unwrap();
    std::fs::write(dir.path().join("v.bin"), 1i64.to_le_bytes()).unwrap();
    let m = fmt_openvino::OpenVinoImporter.import(&xml, &ImportOptions::default()).expect("import");
    let x = f32s(&[2, 6], &(0..12).map(|v| v as f32).collect::<Vec<_>>());
    for (lengths, a, b) in [
        (vec![-1i64, 2], vec![0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0], vec![4.0, 5.0, 10.0, 11.0]),
        (vec![1, -1], vec![0.0, 6.0], vec![1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 9.0, 10.0, 11.0]),
        (vec![5, 1], vec![0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0], vec![5.0, 11.0]),
    ] {
        let got = run(&m, &[x.clone(), Tensor::from_vec(vec![2], lengths.clone()).unwrap()]);
        assert_eq!(got, vec![a, b], "lengths {lengths:?}");
    }
}

#[test]
fn grouped_convolutions_with_weights_given_at_run_time() {
    // Conv of x: [1, 2, 3] by w: [2, 1, 2] in 2 groups (depthwise): the
    // exporter reshapes the input weights to [2, 1, 1, 2] with a Reshape
    // whose output dims the file leaves open.
    let conv = model(
        21,
        vec![Node::new("Conv", ["x", "w"], ["y"]).named("c").with_attr("group", Attribute::Int(2))],
        vec![f32_input("x", &[1, 2, 3]), f32_input("w", &[2, 1, 2])],
        vec![ValueInfo::untyped("y")],
    );
    let x = f32s(&[1, 2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let w = f32s(&[2, 1, 2], &[1.0, 10.0, -1.0, 2.0]);
    // Channel 0: [1·1 + 2·10, 2·1 + 3·10]; channel 1: [-4 + 10, -5 + 12].
    check(&conv, &[x.clone(), w.clone()], &[vec![21.0, 32.0, 6.0, 7.0]]);

    // ConvTranspose of the same in 2 groups: w is [C_in, C_out/G, k].
    let deconv = model(
        21,
        vec![Node::new("ConvTranspose", ["x", "w"], ["y"]).named("d").with_attr("group", Attribute::Int(2))],
        vec![f32_input("x", &[1, 2, 3]), f32_input("w", &[2, 1, 2])],
        vec![ValueInfo::untyped("y")],
    );
    // Channel 0: x0 ⊛ [1, 10] = [1, 12, 23, 30]; channel 1: x1 ⊛ [-1, 2] = [-4, 3, 4, 12].
    check(&deconv, &[x, w], &[vec![1.0, 12.0, 23.0, 30.0, -4.0, 3.0, 4.0, 12.0]]);
}

#[test]
fn space_to_depth_in_crd_order() {
    // x[c, h, w] = 4c + 2h + w; blocks of 2 over a 2×2 image: CRD puts
    // channel c's block offset o = 2h + w at 4c + o, i.e. the values in order.
    for (mode, want) in
        [("CRD", vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), ("DCR", vec![0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0])]
    {
        let m = model(
            28,
            vec![
                Node::new("SpaceToDepth", ["x"], ["y"])
                    .named("s")
                    .with_attr("blocksize", Attribute::Int(2))
                    .with_attr("mode", Attribute::String(mode.into())),
            ],
            vec![f32_input("x", &[1, 2, 2, 2])],
            vec![ValueInfo::untyped("y")],
        );
        let x = f32s(&[1, 2, 2, 2], &(0..8).map(|v| v as f32).collect::<Vec<_>>());
        check(&m, &[x], &[want]);
    }
}

#[test]
fn casts_to_8_bit_floats_saturate_or_not() {
    let inf = f64::INFINITY;
    let nan = f64::NAN;
    let x = [1000.0f32, -1000.0, 1e6, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 448.0, 1.0];
    let cases = [
        // E4M3FN has no infinity: past ±448 it is NaN unless saturated.
        (DType::F8E4M3FN, 0, vec![nan, nan, nan, nan, nan, nan, 448.0, 1.0]),
        (DType::F8E4M3FN, 1, vec![448.0, -448.0, 448.0, 448.0, -448.0, nan, 448.0, 1.0]),
        // E5M2 reaches 57344; 1000 rounds to 1024; past the range ±inf unless saturated.
        (DType::F8E5M2, 0, vec![1024.0, -1024.0, inf, inf, -inf, nan, 448.0, 1.0]),
        (DType::F8E5M2, 1, vec![1024.0, -1024.0, 57344.0, 57344.0, -57344.0, nan, 448.0, 1.0]),
    ];
    for (to, saturate, want) in cases {
        let code = Attribute::Int(i64::from(to.onnx_code()));
        let cast = Node::new("Cast", ["x"], ["q"])
            .named("q")
            .with_attr("to", code.clone())
            .with_attr("saturate", Attribute::Int(saturate));
        let back = Node::new("Cast", ["q"], ["y"]).named("y").with_attr("to", Attribute::Int(1));
        let m = model(21, vec![cast, back], vec![f32_input("x", &[8])], vec![ValueInfo::untyped("y")]);
        check(&m, &[f32s(&[8], &x)], std::slice::from_ref(&want));

        // CastLike reads the target type from its second input.
        let like = Node::new("CastLike", ["x", "t"], ["q"]).named("q").with_attr("saturate", Attribute::Int(saturate));
        let back = Node::new("Cast", ["q"], ["y"]).named("y").with_attr("to", Attribute::Int(1));
        let m = model(
            21,
            vec![like, back],
            vec![f32_input("x", &[8]), ValueInfo::tensor("t", to, Shape::fixed(&[1]))],
            vec![ValueInfo::untyped("y")],
        );
        let t = Tensor::from_raw(to, vec![1], ir::Buffer::from_vec(vec![0u8])).unwrap();
        check(&m, &[f32s(&[8], &x), t], &[want]);
    }
}

#[test]
fn float_mod_edge_cases() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let a = [0.0, -0.0, -3.0, 3.0, -1.0, 1.0, inf, -inf, 1.0, 1.0, nan, 1.0, 5.0, -5.0, 5.5];
    let b = [-2.0, 2.0, inf, inf, -inf, -inf, 2.0, 2.0, 0.0, -0.0, 2.0, nan, -3.0, 3.0, 2.0];
    let (i, n) = (f64::INFINITY, f64::NAN);
    // numpy's mod: the divisor's sign; a finite a over ±inf is a, or b when
    // a is non-zero and of the other sign. Zeros compare equal whatever their sign.
    let floor = vec![0.0, 0.0, i, 3.0, -1.0, -i, n, n, n, n, n, n, -1.0, 1.0, 1.5];
    // C's fmod: the dividend's sign; a finite a over ±inf is a.
    let trunc = vec![0.0, 0.0, -3.0, 3.0, -1.0, 1.0, n, n, n, n, n, n, 2.0, -2.0, 1.5];
    for (fmod, want) in [(0, floor), (1, trunc)] {
        let m = model(
            21,
            vec![Node::new("Mod", ["a", "b"], ["y"]).named("m").with_attr("fmod", Attribute::Int(fmod))],
            vec![f32_input("a", &[15]), f32_input("b", &[15])],
            vec![ValueInfo::untyped("y")],
        );
        check(&m, &[f32s(&[15], &a), f32s(&[15], &b)], &[want]);
    }
    // Integers need no patch: numpy's mod of -7 by 3 is 2, C's -1.
    for (fmod, want) in [(0, vec![2.0, -2.0]), (1, vec![-1.0, 1.0])] {
        let m = model(
            21,
            vec![Node::new("Mod", ["a", "b"], ["y"]).named("m").with_attr("fmod", Attribute::Int(fmod))],
            vec![
                ValueInfo::tensor("a", DType::I32, Shape::fixed(&[2])),
                ValueInfo::tensor("b", DType::I32, Shape::fixed(&[2])),
            ],
            vec![ValueInfo::untyped("y")],
        );
        let a = Tensor::from_vec(vec![2], vec![-7i32, 7]).unwrap();
        let b = Tensor::from_vec(vec![2], vec![3i32, -3]).unwrap();
        check(&m, &[a, b], &[want]);
    }
}
