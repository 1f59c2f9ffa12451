//! `simplify` on the real fixtures and on small graphs built for each rewrite:
//! the counts it reports, and outputs equal (within 1e-5) before and after.

use std::path::Path;

use convert::verify::{InputOptions, compare_models, make_inputs};
use ir::{DType, Graph, Model, Node, Shape, Tensor, ValueInfo};
use opt_simplify::{Counts, Options, simplify};

fn fixture(name: &str) -> Model {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name).join("model.onnx");
    convert::load(&convert::registry(), &p, None, &Default::default()).unwrap().0
}

/// Asserts every output of `after` is within 1e-5 (absolute and relative L2) of `before`'s on seeded inputs.
fn assert_same_outputs(before: &Model, after: &Model) {
    for seed in [0, 1] {
        let inputs = make_inputs(before, &InputOptions { seed, ..InputOptions::default() }).unwrap();
        for c in compare_models(before, after, inputs, 1e-5).unwrap() {
            let m = c.metrics.unwrap();
            assert!(m.max_abs <= 1e-5 && m.rel_l2 <= 1e-5, "output {}: {m:?}", c.name);
        }
    }
}

fn run(model: &Model) -> (Model, Counts) {
    let mut m = model.clone();
    let c = simplify(&mut m, &Options::default()).unwrap();
    m.graph.validate().unwrap();
    assert_same_outputs(model, &m);
    (m, c)
}

fn ops(m: &Model, op: &str) -> usize {
    m.graph.nodes.iter().filter(|n| n.op == op).count()
}

#[test]
fn cnn_batch_norms_fold_into_convs() {
    let before = fixture("cnn_bn_residual");
    let (after, c) = run(&before);
    assert_eq!(c.bn_folded, 8);
    assert_eq!(c.nodes, (29, 21));
    assert_eq!(ops(&after, "BatchNormalization"), 0);
    // Every folded conv now has a bias; the BN parameters are gone.
    assert!(after.graph.nodes.iter().filter(|n| n.op == "Conv").all(|n| n.input(2).is_some()));
    assert_eq!(c.initializers, (42, 18));
    assert_eq!(after.graph.outputs, before.graph.outputs);
    assert_eq!(after.graph.inputs, before.graph.inputs);
    // A second run finds nothing left to do.
    let mut again = after.clone();
    let c2 = simplify(&mut again, &Options::default()).unwrap();
    assert_eq!((c2.nodes, c2.rounds), ((21, 21), 1));
}

#[test]
fn transformer_constants_fold_and_duplicates_merge() {
    let before = fixture("transformer_encoder");
    let (after, c) = run(&before);
    // CSE runs before folding (so readers of a shared weight fold into one
    // tensor): the 36 identical Constant nodes merge before 19 fold.
    assert_eq!(c.folded, 19);
    assert_eq!(c.cse_merged, 36);
    // Transpose sinking takes two Transposes out, and the shape arithmetic
    // that fed them (four nodes) dies with them; without it, 100 nodes.
    assert_eq!(c.nodes, (155, 94));
    assert_eq!(ops(&after, "Constant"), 0);
}

#[test]
fn mlp_constants_become_initializers() {
    let (after, c) = run(&fixture("mlp"));
    assert_eq!(c.folded, 3);
    assert_eq!(c.nodes, (12, 9));
    assert_eq!(ops(&after, "Gemm"), 3);
}

#[test]
fn quantized_weights_stay_quantized() {
    let before = fixture("cnn_qdq_static");
    let (after, c) = run(&before);
    // The QuantizeLinear of float activations' constants fold; the int8 weights stay behind DequantizeLinear.
    assert_eq!(ops(&after, "DequantizeLinear"), ops(&before, "DequantizeLinear"));
    assert_eq!(c.folded, 0);
    // Every distinct int8 tensor is still stored once (identical ones,
    // such as equal zero points, are merged into one).
    let distinct_i8 = |m: &Model| -> usize {
        let mut seen: Vec<&Tensor> = Vec::new();
        for t in m.graph.initializers.values().filter(|t| t.dtype() == DType::I8) {
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
        seen.iter().map(|t| t.byte_len()).sum()
    };
    let bytes = |m: &Model| ir::ModelStats::of(m).by_dtype.get(&DType::I8).map_or(0, |e| e.2 as usize);
    assert_eq!(bytes(&after), distinct_i8(&before));
}

#[test]
fn every_runnable_fixture_keeps_its_outputs() {
    // `dtypes` holds complex tensors the evaluator does not compute on.
    for name in [
        "cnn_dynamo_default",
        "cnn_qdq_static",
        "dynamic_batch",
        "external_data",
        "keras_cnn_tf2onnx",
        "mlp_int8_dynamic",
        "ops_subgraph",
    ] {
        let before = fixture(name);
        let (after, _) = run(&before);
        assert_eq!(after.graph.outputs, before.graph.outputs, "{name}");
        // Subgraph bodies are left as they were.
        let bodies = |m: &Model| m.graph.nodes.iter().flat_map(|n| n.subgraphs().cloned()).collect::<Vec<Graph>>();
        assert_eq!(bodies(&after), bodies(&before), "{name}");
    }
}

fn vi(name: &str, dims: &[u64]) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Shape::fixed(dims))
}

fn f32s(shape: &[usize], f: impl Fn(usize) -> f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape.to_vec(), (0..n).map(f).collect::<Vec<f32>>()).unwrap()
}

fn model(inputs: Vec<ValueInfo>, outputs: Vec<ValueInfo>, nodes: Vec<Node>, inits: Vec<(&str, Tensor)>) -> Model {
    let mut g = Graph { inputs, outputs, nodes, ..Graph::default() };
    for (k, t) in inits {
        g.initializers.insert(k.into(), t);
    }
    g.validate().unwrap();
    Model::new(g)
}

fn bn_params(c: usize) -> Vec<(&'static str, Tensor)> {
    vec![
        ("gamma", f32s(&[c], |i| 0.5 + i as f32 * 0.25)),
        ("beta", f32s(&[c], |i| i as f32 * 0.1 - 0.2)),
        ("mean", f32s(&[c], |i| 0.3 - i as f32 * 0.05)),
        ("var", f32s(&[c], |i| 1.0 + i as f32 * 0.5)),
    ]
}

fn bn(x: &str, y: &str) -> Node {
    Node::new("BatchNormalization", [x, "gamma", "beta", "mean", "var"], [y]).named("bn")
}

#[test]
fn batch_norm_folds_into_gemm_matmul_and_conv_transpose() {
    // Gemm with transB and a bias.
    let mut inits = bn_params(3);
    inits.push(("w", f32s(&[3, 4], |i| i as f32 * 0.1 - 0.5)));
    inits.push(("b", f32s(&[3], |i| i as f32)));
    let gemm = model(
        vec![vi("x", &[2, 4])],
        vec![vi("y", &[2, 3])],
        vec![
            Node::new("Gemm", ["x", "w", "b"], ["t"]).with_attr("transB", 1i64).with_attr("beta", 0.5f32),
            bn("t", "y"),
        ],
        inits,
    );
    let (after, c) = run(&gemm);
    assert_eq!((c.bn_folded, after.graph.nodes.len()), (1, 1));

    // MatMul becomes a Gemm with the folded bias.
    let mut inits = bn_params(3);
    inits.push(("w", f32s(&[4, 3], |i| 0.3 - i as f32 * 0.07)));
    let matmul = model(
        vec![vi("x", &[2, 4])],
        vec![vi("y", &[2, 3])],
        vec![Node::new("MatMul", ["x", "w"], ["t"]), bn("t", "y")],
        inits,
    );
    let (after, c) = run(&matmul);
    assert_eq!(c.bn_folded, 1);
    assert_eq!(after.graph.nodes[0].op, "Gemm");

    // ConvTranspose with 2 groups: weights [C_in, M/group, k, k].
    let mut inits = bn_params(4);
    inits.push(("w", f32s(&[4, 2, 2, 2], |i| (i % 7) as f32 * 0.1 - 0.3)));
    let convt = model(
        vec![vi("x", &[1, 4, 3, 3])],
        vec![vi("y", &[1, 4, 4, 4])],
        vec![Node::new("ConvTranspose", ["x", "w"], ["t"]).with_attr("group", 2i64), bn("t", "y")],
        inits,
    );
    let (after, c) = run(&convt);
    assert_eq!((c.bn_folded, after.graph.nodes.len()), (1, 1));
}

#[test]
fn batch_norm_folds_in_f16_and_f64() {
    for dtype in [DType::F16, DType::F64] {
        let cast = |t: Tensor| {
            let v = opt_simplify::num::to_f64(&t).unwrap();
            opt_simplify::num::from_f64(dtype, t.shape().to_vec(), &v).unwrap()
        };
        let inits: Vec<(&str, Tensor)> = bn_params(2)
            .into_iter()
            .chain([("w", f32s(&[2, 3, 1, 1], |i| i as f32 * 0.25 - 0.5))])
            .map(|(k, t)| (k, cast(t)))
            .collect();
        let m = model(
            vec![ValueInfo::tensor("x", dtype, Shape::fixed(&[1, 3, 2, 2]))],
            vec![ValueInfo::tensor("y", dtype, Shape::fixed(&[1, 2, 2, 2]))],
            vec![Node::new("Conv", ["x", "w"], ["t"]), bn("t", "y")],
            inits,
        );
        let mut after = m.clone();
        let c = simplify(&mut after, &Options::default()).unwrap();
        assert_eq!(c.bn_folded, 1, "{dtype}");
        let inputs = make_inputs(&m, &InputOptions::default()).unwrap();
        let check = &compare_models(&m, &after, inputs, 1.0).unwrap()[0];
        // One rounding to the weight dtype: f16 keeps about 3 decimal digits.
        let tol = if dtype == DType::F16 { 5e-3 } else { 1e-12 };
        assert!(check.metrics.as_ref().unwrap().rel_l2 <= tol, "{dtype}: {check:?}");
        assert_eq!(after.graph.initializers["w"].dtype(), dtype);
    }
}

#[test]
fn batch_norm_stays_when_the_conv_output_has_another_reader() {
    let mut inits = bn_params(2);
    inits.push(("w", f32s(&[2, 2, 1, 1], |i| i as f32)));
    let m = model(
        vec![vi("x", &[1, 2, 2, 2])],
        vec![vi("y", &[1, 2, 2, 2]), vi("t", &[1, 2, 2, 2])],
        vec![Node::new("Conv", ["x", "w"], ["t"]), bn("t", "y")],
        inits,
    );
    let (after, c) = run(&m);
    assert_eq!((c.bn_folded, ops(&after, "BatchNormalization")), (0, 1));
}

#[test]
fn identity_before_a_graph_output_keeps_the_output_name() {
    let m = model(
        vec![vi("x", &[3])],
        vec![vi("y", &[3])],
        vec![Node::new("Relu", ["x"], ["r"]), Node::new("Identity", ["r"], ["y"])],
        vec![],
    );
    let (after, c) = run(&m);
    assert_eq!(c.identities, 1);
    assert_eq!(after.graph.nodes.len(), 1);
    assert_eq!(after.graph.nodes[0].output(0), Some("y"));

    // Identity straight from an input to an output must stay: both names are the interface.
    let m = model(vec![vi("x", &[3])], vec![vi("y", &[3])], vec![Node::new("Identity", ["x"], ["y"])], vec![]);
    let (after, c) = run(&m);
    assert_eq!((c.identities, after.graph.nodes.len()), (0, 1));
}

#[test]
fn dropout_goes_only_in_inference_mode_without_a_read_mask() {
    let drop = |outputs: Vec<&str>, training: Option<bool>| {
        let mut n = Node::new("Dropout", ["x", "ratio"], outputs.clone());
        let mut inits = vec![("ratio", Tensor::scalar(0.5f32))];
        if let Some(t) = training {
            n.inputs.push(Some("training".into()));
            inits.push(("training", Tensor::from_bools(vec![], &[t]).unwrap()));
        }
        let outs: Vec<ValueInfo> = outputs.iter().filter(|o| **o != "d").map(|o| vi(o, &[3])).collect();
        let mut nodes = vec![n];
        let mut outs = outs;
        if outputs[0] == "d" {
            nodes.push(Node::new("Relu", ["d"], ["y"]));
            outs.insert(0, vi("y", &[3]));
        }
        let mut m = model(vec![vi("x", &[3])], outs, nodes, inits);
        let c = simplify(&mut m, &Options::default()).unwrap();
        (c.dropouts, m)
    };
    assert_eq!(drop(vec!["d"], None).0, 1);
    assert_eq!(drop(vec!["d"], Some(false)).0, 1);
    // Training mode is random; a read mask is a real output.
    let (n, m) = drop(vec!["d"], Some(true));
    assert_eq!((n, ops(&m, "Dropout")), (0, 1));
}

#[test]
fn transposes_merge_and_identity_permutations_vanish() {
    let m = model(
        vec![vi("x", &[2, 3, 4])],
        vec![vi("y", &[4, 3, 2]), vi("z", &[2, 3, 4])],
        vec![
            Node::new("Transpose", ["x"], ["a"]).with_attr("perm", vec![1i64, 0, 2]),
            Node::new("Transpose", ["a"], ["y"]).with_attr("perm", vec![2i64, 0, 1]),
            Node::new("Transpose", ["a"], ["b"]).with_attr("perm", vec![1i64, 0, 2]),
            Node::new("Relu", ["b"], ["z"]),
        ],
        vec![],
    );
    let (after, c) = run(&m);
    assert_eq!((c.transposes_merged, c.transposes_removed), (2, 1));
    // Only x -> y remains as one Transpose, plus the Relu reading x directly.
    assert_eq!(ops(&after, "Transpose"), 1);
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Relu").unwrap().input(0), Some("x"));
}

#[test]
fn reshapes_merge_and_squeeze_pairs_cancel() {
    let i64s = |v: Vec<i64>| Tensor::from_vec(vec![v.len()], v).unwrap();
    let m = model(
        vec![vi("x", &[2, 1, 6])],
        vec![vi("y", &[3, 4]), vi("z", &[2, 1, 6])],
        vec![
            Node::new("Reshape", ["x", "s1"], ["a"]),
            Node::new("Reshape", ["a", "s2"], ["y"]),
            Node::new("Squeeze", ["x", "ax"], ["q"]),
            Node::new("Unsqueeze", ["q", "ax"], ["u"]),
            Node::new("Neg", ["u"], ["z"]),
        ],
        vec![("s1", i64s(vec![12])), ("s2", i64s(vec![3, -1])), ("ax", i64s(vec![1]))],
    );
    let (after, c) = run(&m);
    assert_eq!((c.reshapes_merged, c.squeeze_pairs), (1, 1));
    assert_eq!(after.graph.nodes.iter().map(|n| n.op.as_str()).collect::<Vec<_>>(), ["Reshape", "Neg"]);
    // A second shape with a 0 (copy that input dimension) must not skip the first Reshape.
    let m = model(
        vec![vi("x", &[2, 1, 6])],
        vec![vi("y", &[12, 1])],
        vec![Node::new("Reshape", ["x", "s1"], ["a"]), Node::new("Reshape", ["a", "s2"], ["y"])],
        vec![("s1", i64s(vec![12, 1])), ("s2", i64s(vec![0, 1]))],
    );
    assert_eq!(run(&m).1.reshapes_merged, 0);
}

#[test]
fn cse_merges_equal_nodes_but_never_random_ones() {
    let m = model(
        vec![vi("x", &[3])],
        vec![vi("y", &[3]), vi("r", &[3])],
        vec![
            Node::new("Relu", ["x"], ["a"]),
            Node::new("Relu", ["x"], ["b"]),
            Node::new("Add", ["a", "b"], ["y"]),
            Node::new("RandomUniformLike", ["x"], ["r1"]).with_attr("seed", 1.0f32),
            Node::new("RandomUniformLike", ["x"], ["r2"]).with_attr("seed", 1.0f32),
            Node::new("Sub", ["r1", "r2"], ["r"]),
        ],
        vec![],
    );
    let mut after = m.clone();
    let c = simplify(&mut after, &Options::default()).unwrap();
    assert_eq!(c.cse_merged, 1);
    assert_eq!(ops(&after, "RandomUniformLike"), 2);
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Add").unwrap().inputs, [Some("a".into()), Some("a".into())]);
}

#[test]
fn folding_is_capped_and_skips_random_ops() {
    let shape = |v: Vec<i64>| Tensor::from_vec(vec![v.len()], v).unwrap();
    let m = model(
        vec![vi("x", &[1])],
        vec![vi("y", &[1]), vi("big", &[1024, 1024])],
        vec![
            Node::new("ConstantOfShape", ["s_small"], ["small"]),
            Node::new("Add", ["x", "small"], ["y"]),
            // 8 MiB of zeros from 16 bytes: left as a node.
            Node::new("ConstantOfShape", ["s_big"], ["z"])
                .with_attr("value", Tensor::from_vec(vec![1], vec![0.0f64]).unwrap()),
            Node::new("Cast", ["z"], ["big"]).with_attr("to", 1i64),
            Node::new("RandomNormal", Vec::<String>::new(), ["rn"]).with_attr("shape", vec![2i64]),
            Node::new("Neg", ["rn"], ["unused"]),
        ],
        vec![("s_small", shape(vec![1])), ("s_big", shape(vec![1024, 1024]))],
    );
    let mut after = m.clone();
    let c = simplify(&mut after, &Options::default()).unwrap();
    assert_eq!(c.folded, 1);
    assert_eq!(ops(&after, "ConstantOfShape"), 1);
    assert!(after.graph.initializers.contains_key("small"));
    // The random node was dead and removed, never evaluated.
    assert_eq!(ops(&after, "RandomNormal"), 0);
}

#[test]
fn folding_refuses_costly_arithmetic() {
    let t = |r: usize, c: usize| Tensor::from_vec(vec![r, c], vec![0.5f32; r * c]).unwrap();
    // 64·512·4096 = 2^27 multiply-accumulates for a 128 KiB result (the
    // inputs are larger, so only the cost stops it); then 4·4·8.
    let m = model(
        vec![vi("x", &[1])],
        vec![vi("y", &[64, 512]), vi("y2", &[4, 4])],
        vec![
            Node::new("MatMul", ["a", "b"], ["p"]),
            Node::new("Add", ["p", "x"], ["y"]),
            Node::new("MatMul", ["c", "d"], ["q"]),
            Node::new("Add", ["q", "x"], ["y2"]),
        ],
        vec![("a", t(64, 4096)), ("b", t(4096, 512)), ("c", t(4, 8)), ("d", t(8, 4))],
    );
    let mut after = m.clone();
    simplify(&mut after, &Options::default()).unwrap();
    assert_eq!(ops(&after, "MatMul"), 1);
    assert!(after.graph.initializers.contains_key("q") && !after.graph.initializers.contains_key("p"));
}

#[test]
fn options_parse_and_reject_unknown_words() {
    let o = Options::parse("no-cse, max-fold-growth=10").unwrap();
    assert!(!o.cse && o.fold_constants && o.max_fold_growth == 10);
    let e = Options::parse("fast").unwrap_err().to_string();
    assert!(e.starts_with("simplify: unknown option 'fast'"), "{e}");
    assert!(Options::parse("max-fold-growth=x").is_err());
    let mut o = Options::parse("no-fold,no-bn,no-identity,no-reshape,no-cse").unwrap();
    o.max_fold_growth = 0;
    let mut m = fixture("cnn_bn_residual");
    let c = simplify(&mut m, &o).unwrap();
    assert_eq!((c.bn_folded, c.nodes), (0, (29, 29)));
}

/// A tied embedding as transformers export it: one table read by a `Gather`
/// (token lookup) and, transposed, by the LM head's `MatMul`; plus a second
/// weight two identical layers read through identical `Transpose`s.
fn tied_weights_model() -> Model {
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("ids", DType::I64, Shape::fixed(&[1, 3])));
    let emb: Vec<f32> = (0..64 * 16).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    g.initializers.insert("wte".into(), Tensor::from_vec(vec![64, 16], emb).unwrap());
    let w: Vec<f32> = (0..16 * 16).map(|i| ((i * 11 % 29) as f32 - 14.0) / 14.0).collect();
    g.initializers.insert("w".into(), Tensor::from_vec(vec![16, 16], w).unwrap());
    g.nodes.push(Node::new("Gather", ["wte", "ids"], ["h0"]).named("embed"));
    for k in 1..=2 {
        g.nodes.push(
            Node::new("Transpose", ["w"], [format!("wt{k}")]).named(format!("t{k}")).with_attr("perm", vec![1i64, 0]),
        );
        g.nodes.push(
            Node::new("MatMul", [format!("h{}", k - 1), format!("wt{k}")], [format!("h{k}")]).named(format!("mm{k}")),
        );
    }
    g.nodes.push(Node::new("Transpose", ["wte"], ["wte_t"]).named("head_t").with_attr("perm", vec![1i64, 0]));
    g.nodes.push(Node::new("MatMul", ["h2", "wte_t"], ["logits"]).named("lm_head"));
    g.outputs.push(ValueInfo::tensor("logits", DType::F32, Shape::fixed(&[1, 3, 64])));
    Model::new(g)
}

#[test]
fn folding_never_copies_a_shared_weight() {
    let before = tied_weights_model();
    let bytes = |m: &Model| ir::ModelStats::of(m).weight_bytes();
    let (after, _) = run(&before);
    assert!(bytes(&after) <= bytes(&before), "initializer bytes grew: {} -> {}", bytes(&before), bytes(&after));
    // The two identical Transposes of `w` become one, folded into one tensor
    // that both layers read; `w` itself goes.
    assert!(!after.graph.initializers.contains_key("w"));
    assert_eq!(after.graph.nodes.iter().filter(|n| n.op == "MatMul").count(), 3);
    // The tied table stays stored once: its Transpose is not folded (that
    // would keep the table for the Gather and add a transposed copy).
    assert!(after.graph.initializers.contains_key("wte"));
    assert_eq!(ops(&after, "Transpose"), 1);
}

#[test]
fn batch_norm_after_a_shared_weight_is_kept() {
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[1, 2, 3, 3])));
    g.initializers.insert("w".into(), Tensor::from_vec(vec![2, 2, 1, 1], vec![1f32, 2., 3., 4.]).unwrap());
    for (k, v) in [("g", 1.5f32), ("b", 0.1), ("m", 0.2), ("v", 2.0)] {
        g.initializers.insert(k.into(), Tensor::from_vec(vec![2], vec![v, v]).unwrap());
    }
    g.nodes.push(Node::new("Conv", ["x", "w"], ["c1"]).named("conv1"));
    g.nodes.push(Node::new("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"]).named("bn1"));
    g.nodes.push(Node::new("Conv", ["n1", "w"], ["y"]).named("conv2"));
    g.outputs.push(ValueInfo::tensor("y", DType::F32, Shape::fixed(&[1, 2, 3, 3])));
    let before = Model::new(g);
    let (after, c) = run(&before);
    assert_eq!(c.bn_folded, 0, "folding would store the shared weight twice");
    assert!(ir::ModelStats::of(&after).weight_bytes() <= ir::ModelStats::of(&before).weight_bytes());
}

/// The rule of issue 15: simplification never grows the stored tensors
/// (initializers plus `Constant` values, which folding moves into
/// initializers) on any committed fixture, the real torch.onnx exports with
/// deduplicated and tied weights among them.
#[test]
fn simplify_never_grows_stored_bytes_on_any_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let before = fixture(&name);
        let mut after = before.clone();
        simplify(&mut after, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (b, a) = (ir::ModelStats::of(&before).stored_bytes(), ir::ModelStats::of(&after).stored_bytes());
        assert!(a <= b, "{name}: stored bytes grew from {b} to {a}");
        seen += 1;
    }
    assert!(seen >= 11, "only {seen} fixtures");
}

#[test]
fn per_channel_mul_and_add_fold_into_the_layer_before() {
    // Keras' BatchNormalization as TensorFlow imports it: Conv, then Mul and
    // Add by [C, 1, 1] constants.
    let conv = model(
        vec![vi("x", &[1, 2, 4, 4])],
        vec![vi("y", &[1, 3, 4, 4])],
        vec![
            Node::new("Conv", ["x", "w"], ["t"]).with_attr("pads", vec![1i64, 1, 1, 1]),
            Node::new("Mul", ["t", "s"], ["u"]),
            Node::new("Add", ["b", "u"], ["y"]),
        ],
        vec![
            ("w", f32s(&[3, 2, 3, 3], |i| (i % 5) as f32 * 0.1 - 0.2)),
            ("s", f32s(&[3, 1, 1], |i| 0.5 + i as f32)),
            ("b", f32s(&[3, 1, 1], |i| i as f32 * 0.3 - 0.1)),
        ],
    );
    let (after, c) = run(&conv);
    assert_eq!((c.affine_folded, after.graph.nodes.len()), (2, 1));
    assert_eq!(after.graph.nodes[0].op, "Conv");

    // A 2-D MatMul with a [C] scale, and a scalar shift.
    let mm = model(
        vec![vi("x", &[2, 4])],
        vec![vi("y", &[2, 3])],
        vec![
            Node::new("MatMul", ["x", "w"], ["t"]),
            Node::new("Mul", ["t", "s"], ["u"]),
            Node::new("Add", ["u", "b"], ["y"]),
        ],
        vec![
            ("w", f32s(&[4, 3], |i| 0.3 - i as f32 * 0.07)),
            ("s", f32s(&[3], |i| 1.5 - i as f32)),
            ("b", f32s(&[], |_| 0.25)),
        ],
    );
    let (after, c) = run(&mm);
    assert_eq!((c.affine_folded, after.graph.nodes.len()), (2, 1));

    // A constant that varies along a spatial axis is not per channel: kept.
    let spatial = model(
        vec![vi("x", &[1, 2, 4, 4])],
        vec![vi("y", &[1, 3, 4, 4])],
        vec![
            Node::new("Conv", ["x", "w"], ["t"]).with_attr("pads", vec![1i64, 1, 1, 1]),
            Node::new("Mul", ["t", "s"], ["y"]),
        ],
        vec![("w", f32s(&[3, 2, 3, 3], |i| (i % 5) as f32 * 0.1)), ("s", f32s(&[1, 4], |i| 1.0 + i as f32))],
    );
    let (after, c) = run(&spatial);
    assert_eq!((c.affine_folded, after.graph.nodes.len()), (0, 2));
}
