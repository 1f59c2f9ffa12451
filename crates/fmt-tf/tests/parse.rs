//! The parser and importer on the TensorFlow fixtures (`tests/fixtures/tf/`,
//! made by `tests/fixtures/make_tf_fixtures.py`): ports, op counts and
//! variable values are what TensorFlow wrote, and every case, imported and
//! run in the evaluator, gives TensorFlow's outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fmt_tf::bundle::Bundle;
use fmt_tf::{ParseOptions, TfAttr, TfGraph, TfNode, TfPort};
use ir::{DType, Detection, Importer, Tensor};

/// Ops that carry no computation (as in the fixture script).
const PLUMBING: &[&str] = &[
    "Identity",
    "IdentityN",
    "NoOp",
    "Const",
    "Placeholder",
    "ReadVariableOp",
    "VarHandleOp",
    "StatefulPartitionedCall",
    "PartitionedCall",
    "VariableV2",
    "StopGradient",
];

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tf").join(case)
}

/// `expected.txt`: lines of `kind fields...`.
struct Expected {
    lines: Vec<Vec<String>>,
}

impl Expected {
    fn read(case: &str) -> Expected {
        let text = std::fs::read_to_string(fixture(case).join("expected.txt")).unwrap();
        Expected { lines: text.lines().map(|l| l.split(' ').map(str::to_string).collect()).collect() }
    }

    fn of(&self, kind: &str) -> Vec<&[String]> {
        self.lines.iter().filter(|l| l[0] == kind).map(|l| &l[1..]).collect()
    }

    fn histogram(&self) -> BTreeMap<String, usize> {
        self.of("op").iter().map(|l| (l[0].clone(), l[1].parse().unwrap())).collect()
    }
}

fn histogram(g: &TfGraph) -> BTreeMap<String, usize> {
    let mut h = BTreeMap::new();
    for n in g.nodes.iter().filter(|n| !PLUMBING.contains(&n.op.as_str())) {
        *h.entry(n.op.clone()).or_insert(0) += 1;
    }
    h
}

fn shape_text(p: &TfPort) -> String {
    match &p.shape {
        None => "?".into(),
        Some(d) if d.is_empty() => "scalar".into(),
        Some(d) => d.iter().map(|x| x.unwrap_or(-1).to_string()).collect::<Vec<_>>().join(","),
    }
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::Bool => "bool",
        other => panic!("fixture dtype {other} not expected"),
    }
}

/// Checks ports against `input`/`output` lines: `key tensor dtype shape`.
fn check_ports(ports: &[TfPort], lines: &[&[String]], with_shape: bool) {
    let got: Vec<String> = ports
        .iter()
        .map(|p| {
            let mut s = format!("{} {}", p.name, dtype_name(p.dtype));
            if with_shape {
                s += &format!(" {}", shape_text(p));
            }
            s
        })
        .collect();
    let want: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut s = format!("{} {}", l[0], l[2]);
            if with_shape {
                s += &format!(" {}", l[3]);
            }
            s
        })
        .collect();
    assert_eq!(got, want);
}

fn node<'a>(g: &'a TfGraph, name: &str) -> &'a TfNode {
    g.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
}

/// The constant a node input reads (through Identity nodes).
fn const_input<'a>(g: &'a TfGraph, n: &TfNode, k: usize) -> &'a Tensor {
    let mut src = node(g, &n.inputs[k].node);
    while src.op == "Identity" {
        src = node(g, &src.inputs[0].node);
    }
    assert_eq!(src.op, "Const", "{} input {k} is {}", n.name, src.op);
    src.attr("value").and_then(TfAttr::as_tensor).unwrap()
}

fn npz(case: &str) -> BTreeMap<String, Tensor> {
    ir::tensor_file::read_npz(&fixture(case).join("variables.npz")).unwrap().into_iter().collect()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.as_slice::<f32>().unwrap().into_owned()
}

fn saved(case: &str) -> TfGraph {
    fmt_tf::read_saved_model(&fixture(case), &ParseOptions::default()).unwrap()
}

/// Ports, histogram, no variable op left, and every Const from the
/// checkpoint a view of the mapped shard.
fn check_saved_model(case: &str) -> TfGraph {
    let g = saved(case);
    let e = Expected::read(case);
    check_ports(&g.inputs, &e.of("input"), true);
    check_ports(&g.outputs, &e.of("output"), true);
    assert_eq!(histogram(&g), e.histogram(), "{case}");
    for n in &g.nodes {
        assert!(!["ReadVariableOp", "VarHandleOp", "VariableV2"].contains(&n.op.as_str()), "{case}: {} left", n.op);
        assert!(!n.name.is_empty());
        for r in &n.inputs {
            assert!(g.nodes.iter().any(|m| m.name == r.node), "{case}: {} reads missing {r}", n.name);
        }
    }
    for p in &g.inputs {
        assert_eq!(node(&g, &p.tensor.node).op, "Placeholder");
    }
    let mapped = g
        .nodes
        .iter()
        .filter_map(|n| n.attr("value").and_then(TfAttr::as_tensor))
        .filter(|t| t.raw().is_some_and(|b| format!("{b:?}").contains("mapped")))
        .count();
    let expected_vars = e.of("variable").len();
    assert!(mapped > 0 || expected_vars == 0, "{case}: no constant views the checkpoint");
    g
}

#[test]
fn keras_cnn() {
    let g = check_saved_model("keras_cnn");
    assert_eq!(g.name, "keras_cnn");
    assert_eq!(g.inputs[0].tensor.to_string(), "serving_default_image:0");
    // Each weight is the checkpoint tensor of its shape (one per shape here,
    // except the BatchNorm vectors): the depthwise kernel and the dense kernel.
    let vars = npz("keras_cnn");
    let by_shape =
        |shape: &[usize]| -> Vec<Vec<f32>> { vars.values().filter(|t| t.shape() == shape).map(f32s).collect() };
    let dw = g.nodes.iter().find(|n| n.op == "DepthwiseConv2dNative").unwrap();
    let kernel = const_input(&g, dw, 1);
    assert_eq!(kernel.shape(), &[3, 3, 8, 1]);
    assert!(by_shape(&[3, 3, 8, 1]).contains(&f32s(kernel)));
    let mm = g.nodes.iter().find(|n| n.op == "MatMul").unwrap();
    assert!(by_shape(&[8, 4]).contains(&f32s(const_input(&g, mm, 1))));
    let conv = g.nodes.iter().find(|n| n.op == "Conv2D" && const_input(&g, n, 1).shape() == [3, 3, 3, 8]).unwrap();
    assert_eq!(conv.attr("padding").and_then(TfAttr::as_str), Some("SAME"));
    assert_eq!(conv.attr("strides").and_then(TfAttr::as_ints), Some(vec![1, 1, 1, 1]));
    // Inlined names carry the call path.
    assert!(dw.name.starts_with("StatefulPartitionedCall_1/"), "{}", dw.name);
}

#[test]
fn module_mlp_binds_each_variable_to_its_reader() {
    let g = check_saved_model("module_mlp");
    assert_eq!(g.outputs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["h_mean", "y"]);
    let vars = npz("module_mlp");
    let value = |k: &str| f32s(&vars[&format!("{k}/.ATTRIBUTES/VARIABLE_VALUE")]);
    let matmuls: Vec<&TfNode> = g.nodes.iter().filter(|n| n.op == "MatMul").collect();
    let weights: Vec<Vec<f32>> = matmuls.iter().map(|n| f32s(const_input(&g, n, 1))).collect();
    assert!(weights.contains(&value("w1")) && weights.contains(&value("w2")));
    // tf.nn.gelu(approximate=False) is written with Erfc.
    assert!(g.nodes.iter().any(|n| n.op == "Erfc"));
}

#[test]
fn keras_dynamic_keeps_unknown_dims() {
    let g = check_saved_model("keras_dynamic");
    assert_eq!(g.inputs[0].shape, Some(vec![None, None, Some(6)]));
    assert_eq!(g.outputs[0].shape, Some(vec![None, Some(3)]));
}

#[test]
fn tf1_variables_become_constants() {
    let g = check_saved_model("tf1_saved");
    let vars = npz("tf1_saved");
    let mm = g.nodes.iter().find(|n| n.op == "MatMul").unwrap();
    assert_eq!(f32s(const_input(&g, mm, 1)), f32s(&vars["dense/kernel"]));
    assert_eq!(node(&g, "dense/kernel").op, "Const");
}

/// Frozen cases where the parser's guess of the outputs (every node no
/// data edge reads) finds more than TF's function returns: with
/// `lower_control_flow=False`, `convert_variables_to_constants_v2` leaves the
/// outer function's weight reads (`.../ReadVariableOp`, an `Identity` of a
/// `Const`) behind with only control edges reading them, because the `While`
/// bodies take the weights straight from the inlined call's inputs. The
/// parser drops control edges, so each looks like an output.
const EXTRA_FROZEN_OUTPUTS: &[(&str, usize)] = &[("keras_rnn_frozen", 6)];

/// Whether `tensor` is an `Identity` of a `Const` named like a variable read.
fn unread_weight_read(g: &TfGraph, tensor: &str) -> bool {
    let n = node(g, tensor.strip_suffix(":0").unwrap_or(tensor));
    n.op == "Identity" && n.name.ends_with("/ReadVariableOp") && const_input(g, n, 0).numel() > 0
}

#[test]
fn frozen_graphs() {
    for case in
        ["keras_cnn_frozen", "module_mlp_frozen", "keras_dynamic_frozen", "keras_rnn_frozen", "tf_control_flow_frozen"]
    {
        let path = fixture(case).join("model.pb");
        let g = fmt_tf::read_frozen(&path, &ParseOptions::default()).unwrap();
        let e = Expected::read(case);
        check_ports(&g.inputs, &e.of("input"), true);
        let want: Vec<String> = e.of("output").iter().map(|l| l[1].clone()).collect();
        let got: Vec<String> = g.outputs.iter().map(|p| p.tensor.to_string()).collect();
        for w in &want {
            assert!(got.contains(w), "{case}: output {w} not found in {got:?}");
        }
        let b: Vec<&String> = got.iter().filter(|t| !want.contains(t)).collect();
        assert!(b.iter().all(|t| unread_weight_read(&g, t)), "{case}: unexpected outputs {b:?}");
        let extra = EXTRA_FROZEN_OUTPUTS.iter().find(|(c, _)| *c == case).map_or(0, |(_, n)| *n);
        assert_eq!(b.len(), extra, "{case}: guessed outputs besides TF's: {b:?}");
        assert_eq!(histogram(&g), e.histogram(), "{case}");
        assert_eq!(fmt_tf::detect_frozen(&path), Detection::Content);
        // Weights are views of the mapped file (tensor_content is not copied).
        // tf_control_flow's only weight is a scalar, written inline.
        let weights: Vec<&Tensor> =
            g.nodes.iter().filter_map(|n| n.attr("value").and_then(TfAttr::as_tensor)).collect();
        assert!(
            case == "tf_control_flow_frozen"
                || weights.iter().any(|t| t.numel() > 4 && format!("{:?}", t.raw().unwrap()).contains("mapped")),
            "{case}"
        );
    }
}

#[test]
fn frozen_weights_equal_the_saved_models() {
    let frozen = fmt_tf::read_frozen(&fixture("module_mlp_frozen").join("model.pb"), &ParseOptions::default()).unwrap();
    let vars = npz("module_mlp");
    let w1 = f32s(&vars["w1/.ATTRIBUTES/VARIABLE_VALUE"]);
    let found = frozen.nodes.iter().filter(|n| n.op == "MatMul").any(|n| f32s(const_input(&frozen, n, 1)) == w1);
    assert!(found);
}

#[test]
fn graph_inputs_and_outputs_cut_a_subgraph() {
    let path = fixture("module_mlp_frozen").join("model.pb");
    let full = fmt_tf::read_frozen(&path, &ParseOptions::default()).unwrap();
    let rsqrt = full.nodes.iter().find(|n| n.op == "Rsqrt").unwrap();
    let first_mm = full.nodes.iter().find(|n| n.op == "MatMul" && const_input(&full, n, 1).shape() == [8, 16]).unwrap();
    let options = ParseOptions {
        graph_inputs: vec![format!("{}:0", first_mm.name)],
        graph_outputs: vec![format!("{}:0", rsqrt.name)],
        ..Default::default()
    };
    let cut = fmt_tf::read_frozen(&path, &options).unwrap();
    assert_eq!(cut.inputs.len(), 1);
    assert_eq!(cut.inputs[0].name, first_mm.name);
    assert_eq!(cut.inputs[0].dtype, DType::F32);
    assert_eq!(node(&cut, &first_mm.name).op, "Placeholder");
    assert_eq!(cut.outputs[0].tensor.node, rsqrt.name);
    assert!(cut.nodes.len() < full.nodes.len());
    assert!(!cut.nodes.iter().any(|n| n.op == "Erfc" || n.name == full.inputs[0].name));

    // The same on a SavedModel, with inner (inlined) names.
    let g = saved("module_mlp");
    let erfc = g.nodes.iter().find(|n| n.op == "Erfc").unwrap();
    let options = ParseOptions { graph_outputs: vec![format!("{}:0", erfc.name)], ..Default::default() };
    let cut = fmt_tf::read_saved_model(&fixture("module_mlp"), &options).unwrap();
    assert_eq!(cut.outputs[0].name, erfc.name);
    assert!(cut.nodes.len() < g.nodes.len());

    let bad = ParseOptions { graph_outputs: vec!["nope:0".into()], ..Default::default() };
    let err = fmt_tf::read_frozen(&path, &bad).unwrap_err().to_string();
    assert_eq!(err, "graph output 'nope:0': the graph has no node 'nope'");
}

#[test]
fn signatures_and_selection() {
    let sigs = fmt_tf::signatures(&fixture("keras_cnn")).unwrap();
    let names: Vec<&str> = sigs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["serve", "serving_default"]);
    assert_eq!(sigs[1].tags, ["serve"]);
    assert_eq!(sigs[1].inputs[0].name, "image");
    assert_eq!(sigs[1].outputs[0].shape, Some(vec![None, Some(4)]));
    let expected = Expected::read("keras_cnn");
    let listed: Vec<&str> =
        expected.of("signature").iter().map(|l| l[0].as_str()).filter(|s| !s.starts_with("__")).collect();
    assert_eq!(names, listed);

    let serve = ParseOptions { signature: "serve".into(), ..Default::default() };
    let g = fmt_tf::read_saved_model(&fixture("keras_cnn"), &serve).unwrap();
    assert_eq!(g.inputs[0].tensor.node, "serve_image");
    assert_eq!(histogram(&g), expected.histogram());

    let tf1 = fmt_tf::signatures(&fixture("tf1_saved")).unwrap();
    assert_eq!(tf1[0].method_name, "tensorflow/serving/predict");

    let wrong_tags = ParseOptions { tags: vec!["train".into()], ..Default::default() };
    let err = fmt_tf::read_saved_model(&fixture("keras_cnn"), &wrong_tags).unwrap_err().to_string();
    assert!(err.ends_with("saved_model.pb: no MetaGraph tagged [train]; available: [serve]"), "{err}");
}

#[test]
fn detection() {
    assert_eq!(fmt_tf::detect_saved_model(&fixture("keras_cnn")), Detection::Content);
    assert_eq!(fmt_tf::detect_saved_model(&fixture("keras_cnn_frozen")), Detection::No);
    assert_eq!(fmt_tf::detect_frozen(&fixture("keras_cnn").join("saved_model.pb")), Detection::No);
    assert_eq!(fmt_tf::detect_frozen(&fixture("keras_cnn")), Detection::No);
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("model.pb");
    let onnx_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx/mlp/model.onnx");
    std::fs::copy(onnx_src, &onnx).unwrap();
    assert_eq!(fmt_tf::detect_frozen(&onnx), Detection::No);
}

#[test]
fn bundle_values_match_tensorflow() {
    for case in ["keras_cnn", "module_mlp", "keras_dynamic", "tf1_saved", "keras_rnn", "tf_control_flow"] {
        let bundle = Bundle::open(&fixture(case).join("variables/variables")).unwrap();
        let expected = Expected::read(case);
        let keys: Vec<&str> = bundle.keys().filter(|k| *k != "_CHECKPOINTABLE_OBJECT_GRAPH").collect();
        let want: Vec<&str> = expected.of("variable").iter().map(|l| l[0].as_str()).collect();
        assert_eq!(keys, want, "{case}");
        for key in &keys {
            bundle.verify(key).unwrap();
        }
        assert!(bundle.verify("_CHECKPOINTABLE_OBJECT_GRAPH").is_err());
        for (key, value) in npz(case) {
            let got = bundle.get(&key).unwrap();
            assert_eq!(got.shape(), value.shape(), "{case} {key}");
            assert_eq!(f32s(&got), f32s(&value), "{case} {key}");
        }
    }
}

#[test]
fn keras_rnn_keeps_its_loops() {
    let g = check_saved_model("keras_rnn");
    // LSTM and GRU with unroll=False: one While each, bodies in the library.
    assert_eq!(g.nodes.iter().filter(|n| n.op == "While").count(), 2);
    assert_eq!(g.inputs[0].shape, Some(vec![None, Some(5), Some(3)]));
}

#[test]
fn tf_control_flow_keeps_if_and_while() {
    let g = check_saved_model("tf_control_flow");
    assert_eq!(g.inputs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["n", "x"]);
    assert!(g.nodes.iter().any(|n| n.op == "StatelessIf"));
    assert!(g.nodes.iter().any(|n| n.op == "While"));
}

/// Relative L2 error allowed against TensorFlow's outputs (as in `ops.rs`
/// and `cargo xtask interop`).
const RTOL: f64 = 1e-5;

/// `got` against TensorFlow's `want`: same dtype and shape, floats within
/// [`RTOL`], anything else equal.
fn compare(want: &Tensor, got: &Tensor) -> Result<(), String> {
    if want.dtype() != got.dtype() || want.shape() != got.shape() {
        return Err(format!("{} {:?} expected, got {} {:?}", want.dtype(), want.shape(), got.dtype(), got.shape()));
    }
    if want.dtype() != DType::F32 {
        let (w, g) = (want.to_i64s().map_err(|e| e.to_string())?, got.to_i64s().map_err(|e| e.to_string())?);
        return if w == g { Ok(()) } else { Err("values differ".into()) };
    }
    let (w, g) = (f32s(want), f32s(got));
    let err: f64 = w.iter().zip(&g).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
    let norm: f64 = w.iter().map(|&a| f64::from(a).powi(2)).sum();
    let rel = if norm > 0.0 { (err / norm).sqrt() } else { err.sqrt() };
    if rel <= RTOL { Ok(()) } else { Err(format!("rel. L2 {rel:.3e} > {RTOL:e}")) }
}

/// Imports one case (`model.pb` or the SavedModel folder), feeds
/// `input_<k>.npy` to the k-th `input` line's port and compares the k-th
/// `output` line's port with `output_<k>.npy`.
fn run_fixture(dir: &Path) -> Result<(), String> {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let frozen = dir.join("model.pb");
    let model = if frozen.is_file() {
        fmt_tf::FrozenImporter.import(&frozen, &Default::default())
    } else {
        fmt_tf::SavedModelImporter.import(dir, &Default::default())
    }
    .map_err(|e| format!("import: {e}"))?;
    let e = Expected::read(&case);
    let npy = |file: String| ir::tensor_file::read_npy(&dir.join(&file)).map_err(|e| format!("{file}: {e}"));
    let mut feeds = Vec::new();
    for (k, line) in e.of("input").iter().enumerate() {
        let t = eval::from_ir(&npy(format!("input_{k}.npy"))?).map_err(|e| e.to_string())?;
        feeds.push((line[0].clone(), eval::Value::Tensor(t)));
    }
    let outs: BTreeMap<String, eval::Value> =
        eval::run(&model, feeds).map_err(|e| format!("eval: {e}"))?.into_iter().collect();
    for (k, line) in e.of("output").iter().enumerate() {
        let name = &line[0];
        let got = outs.get(name).ok_or_else(|| format!("no output {name}"))?;
        let got = eval::to_ir(got.tensor().map_err(|e| format!("{name}: {e}"))?).map_err(|e| e.to_string())?;
        compare(&npy(format!("output_{k}.npy"))?, &got).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

#[test]
fn every_fixture_imports_and_matches_tensorflow() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.txt").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 11, "only {} cases found", dirs.len());
    let problems: Vec<String> = dirs
        .iter()
        .filter_map(|d| run_fixture(d).err().map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy())))
        .collect();
    assert!(problems.is_empty(), "{} of {} case(s) failed:\n{}", problems.len(), dirs.len(), problems.join("\n"));
}
