//! Transpose sinking: small graphs for each op family (outputs compared with
//! the evaluator before and after), the rules that keep it from adding
//! transposes or weight bytes, and the committed fixtures.

use std::path::Path;

use convert::verify::{InputOptions, compare_models, make_inputs};
use ir::{Attribute, DType, Graph, Model, Node, Shape, Tensor, ValueInfo};
use opt_simplify::{Counts, Options, simplify};

const NHWC: [i64; 4] = [0, 2, 3, 1];
const NCHW: [i64; 4] = [0, 3, 1, 2];

fn vi(name: &str, dims: &[u64]) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Shape::fixed(dims))
}

fn f32s(shape: &[usize], f: impl Fn(usize) -> f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape.to_vec(), (0..n).map(f).collect::<Vec<f32>>()).unwrap()
}

fn i64s(v: &[i64]) -> Tensor {
    Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
}

fn tr(x: &str, y: &str, perm: &[i64]) -> Node {
    Node::new("Transpose", [x], [y]).with_attr("perm", perm.to_vec())
}

fn model(
    opset: i64,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    nodes: Vec<Node>,
    inits: Vec<(&str, Tensor)>,
) -> Model {
    let mut g = Graph { inputs, outputs, nodes, ..Graph::default() };
    for (k, t) in inits {
        g.initializers.insert(k.into(), t);
    }
    g.validate().unwrap();
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), opset);
    m
}

fn transposes(m: &Model) -> usize {
    m.graph.nodes.iter().filter(|n| n.op == "Transpose").count()
}

fn weight_bytes(m: &Model) -> usize {
    m.graph.initializers.values().map(Tensor::byte_len).sum()
}

/// The largest max-abs and relative-L2 errors between the two models' outputs on two seeded inputs.
fn errors(before: &Model, after: &Model) -> (f64, f64) {
    let mut worst = (0.0f64, 0.0f64);
    for seed in [0, 1] {
        let inputs = make_inputs(before, &InputOptions { seed, ..InputOptions::default() }).unwrap();
        for c in compare_models(before, after, inputs, 1.0).unwrap() {
            let m = c.metrics.unwrap();
            assert_eq!(m.nan_mismatches, 0, "output {}", c.name);
            worst = (worst.0.max(m.max_abs), worst.1.max(m.rel_l2));
        }
    }
    worst
}

/// Simplifies a copy of `m` with `opts`; the graph stays valid, keeps its
/// interface, and computes the same outputs (bit for bit when `exact`).
fn run_with(m: &Model, opts: &Options, exact: bool) -> (Model, Counts) {
    let mut after = m.clone();
    let c = simplify(&mut after, opts).unwrap();
    after.graph.validate().unwrap();
    assert_eq!(after.graph.inputs, m.graph.inputs);
    assert_eq!(after.graph.outputs, m.graph.outputs);
    let (abs, rel) = errors(m, &after);
    if exact {
        assert_eq!(abs, 0.0, "outputs changed");
    } else {
        assert!(abs <= 1e-5 && rel <= 1e-6, "max abs {abs}, rel L2 {rel}");
    }
    assert_eq!(c.transposes, (transposes(m), transposes(&after)));
    assert!(c.transposes.1 <= c.transposes.0, "transposes added: {:?}", c.transposes);
    (after, c)
}

fn run(m: &Model) -> (Model, Counts) {
    run_with(m, &Options::default(), true)
}

fn ops(m: &Model, op: &str) -> usize {
    m.graph.nodes.iter().filter(|n| n.op == op).count()
}

#[test]
fn unary_chain_between_inverse_transposes_cancels() {
    let unary = ["Relu", "Tanh", "HardSwish", "Erf", "Softplus", "Abs", "Sqrt", "Sigmoid", "Neg", "Exp", "Identity"];
    let mut nodes = vec![tr("x", "v0", &NHWC)];
    for (k, op) in unary.iter().enumerate() {
        nodes.push(Node::new(*op, [format!("v{k}")], [format!("v{}", k + 1)]));
    }
    let k = unary.len();
    nodes.push(Node::new("LeakyRelu", [format!("v{k}")], ["l"]).with_attr("alpha", 0.2f32));
    nodes.push(Node::new("Clip", ["l", "lo", "hi"], ["c"]));
    nodes.push(Node::new("Cast", ["c"], ["f"]).with_attr("to", 1i64));
    nodes.push(Node::new("Dropout", ["f"], ["d"]));
    nodes.push(tr("d", "y", &NCHW));
    let m = model(
        17,
        vec![vi("x", &[2, 3, 4, 5])],
        vec![vi("y", &[2, 3, 4, 5])],
        nodes,
        vec![("lo", Tensor::scalar(-0.5f32)), ("hi", Tensor::scalar(2.0f32))],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (2, 0));
    assert_eq!(after.graph.nodes[0].input(0), Some("x"));
    assert!(c.lines().contains(&"transposes 2 -> 0".to_string()), "{:?}", c.lines());
}

#[test]
fn broadcasting_ops_take_constants_and_same_perm_inputs() {
    let m = model(
        17,
        vec![vi("x", &[1, 3, 4, 5]), vi("z", &[1, 3, 4, 5])],
        vec![vi("y", &[1, 3, 4, 5]), vi("w", &[1, 3, 4, 5])],
        vec![
            tr("x", "a", &NHWC),
            tr("z", "b", &NHWC),
            // The per-channel bias feeds two Adds that both move: one permuted copy.
            Node::new("Add", ["a", "bias"], ["n1"]),
            Node::new("Add", ["b", "bias"], ["m1"]),
            Node::new("Mul", ["n1", "m1"], ["n2"]),
            Node::new("Sub", ["n2", "half"], ["n3"]),
            // [W, C] against NHWC: the copy is really transposed, to [1, C, 1, W].
            Node::new("Div", ["n3", "wc"], ["n4"]),
            Node::new("PRelu", ["n4", "slope"], ["n5"]),
            Node::new("Max", ["n5", "a", "b"], ["n6"]),
            Node::new("Greater", ["n6", "half"], ["g"]),
            Node::new("Where", ["g", "n6", "n3"], ["n7"]),
            Node::new("Mean", ["n7", "b"], ["n8"]),
            Node::new("Pow", ["n8", "two"], ["n9"]),
            tr("n9", "y", &NCHW),
            Node::new("Min", ["n7", "m1"], ["n10"]),
            tr("n10", "w", &NCHW),
        ],
        vec![
            ("bias", f32s(&[3], |i| i as f32 * 0.5 - 0.5)),
            ("half", Tensor::scalar(0.5f32)),
            ("wc", f32s(&[5, 3], |i| 1.0 + i as f32 * 0.1)),
            ("slope", f32s(&[3], |i| 0.1 * (i + 1) as f32)),
            ("two", Tensor::scalar(2.0f32)),
        ],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (4, 0));
    // Each constant is stored once: no weight bytes added.
    assert_eq!(weight_bytes(&after), weight_bytes(&m));
    assert!(!after.graph.initializers.contains_key("bias") && !after.graph.initializers.contains_key("wc"));
    let wc = after.graph.initializers.iter().find(|(k, _)| k.starts_with("wc")).unwrap().1;
    assert_eq!(wc.shape(), [1, 3, 1, 5]);
    assert_eq!(wc.as_slice::<f32>().unwrap()[1], 1.0 + 3.0f32 * 0.1); // element (c=0, w=1)
}

#[test]
fn another_value_gets_an_inverse_transpose_only_when_that_saves_one() {
    // Add(Transpose(x), u) followed by the inverse transpose: moving puts one
    // transpose on u and cancels two, when u's rank is known.
    let build = |declare: bool| {
        let mut m = model(
            17,
            vec![vi("x", &[2, 3, 4]), vi("z", &[2, 4, 3])],
            vec![vi("y", &[2, 3, 4])],
            vec![
                Node::new("Relu", ["z"], ["u"]),
                tr("x", "a", &[0, 2, 1]),
                Node::new("Add", ["a", "u"], ["s"]),
                tr("s", "y", &[0, 2, 1]),
            ],
            vec![],
        );
        if declare {
            m.graph.value_info.push(vi("u", &[2, 4, 3]));
        }
        m
    };
    let (_, c) = run(&build(false));
    assert_eq!((c.transposes, c.transposes_sunk), ((2, 2), 0), "u's rank is unknown");
    let (after, c) = run(&build(true));
    assert_eq!(c.transposes, (2, 1));
    let t = after.graph.nodes.iter().find(|n| n.op == "Transpose").unwrap();
    assert_eq!(t.input(0), Some("u"));

    // Without a transpose after the Add there is nothing to cancel: it stays.
    let m = model(
        17,
        vec![vi("x", &[2, 3, 4]), vi("u", &[2, 4, 3])],
        vec![vi("y", &[2, 4, 3])],
        vec![tr("x", "a", &[0, 2, 1]), Node::new("Add", ["a", "u"], ["y"])],
        vec![],
    );
    let (after, c) = run(&m);
    assert_eq!((c.transposes_sunk, after.graph.nodes[0].op.as_str()), (0, "Transpose"));
}

#[test]
fn pad_slice_split_concat_remap_their_axes() {
    // Opset 17: pads, split sizes and slice parameters are inputs.
    let m = model(
        17,
        vec![vi("x", &[1, 3, 4, 5])],
        vec![vi("y", &[1, 4, 3, 7])],
        vec![
            tr("x", "a", &NHWC),
            Node::new("Pad", ["a", "pads", "pv"], ["p"]),
            Node::new("Slice", ["p", "st", "en", "ax"], ["sl"]),
            Node::new("Split", ["sl", "sizes"], ["s0", "s1"]).with_attr("axis", 3i64),
            Node::new("Concat", ["s1", "s0", "cc"], ["cat"]).with_attr("axis", -1i64),
            tr("cat", "y", &NCHW),
        ],
        vec![
            ("pads", i64s(&[0, 1, 0, 0, 0, 0, 2, 0])),
            ("pv", Tensor::scalar(0.5f32)),
            ("st", i64s(&[1])),
            ("en", i64s(&[4])),
            ("ax", i64s(&[1])),
            ("sizes", i64s(&[1, 2])),
            ("cc", f32s(&[1, 3, 7, 1], |i| i as f32)),
        ],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (2, 0));
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Split").unwrap().attr_int("axis", 0).unwrap(), 1);

    // Opset 9: the same as attributes (Slice's axes left to their default).
    let m = model(
        9,
        vec![vi("x", &[1, 3, 4, 5])],
        vec![vi("y", &[1, 3, 3, 7])],
        vec![
            tr("x", "a", &NHWC),
            Node::new("Pad", ["a"], ["p"])
                .with_attr("pads", vec![0i64, 1, 0, 0, 0, 0, 2, 0])
                .with_attr("value", 0.5f32),
            Node::new("Slice", ["p"], ["sl"]).with_attr("starts", vec![0i64, 1]).with_attr("ends", vec![1i64, 4]),
            Node::new("Split", ["sl"], ["s0", "s1"]).with_attr("axis", 3i64).with_attr("split", vec![1i64, 2]),
            Node::new("Concat", ["s1", "s0"], ["cat"]).with_attr("axis", 3i64),
            tr("cat", "y", &NCHW),
        ],
        vec![],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (2, 0));
    let slice = after.graph.nodes.iter().find(|n| n.op == "Slice").unwrap();
    assert_eq!(slice.attr_ints("axes").unwrap(), Some(&[0i64, 2][..]));
}

#[test]
fn reductions_remap_axes_and_compose_without_keepdims() {
    for opset in [17, 18] {
        // ReduceMean takes its axes as an input from opset 18, ReduceSum from 13.
        let mean = if opset >= 18 {
            Node::new("ReduceMean", ["a", "hw"], ["y1"]).with_attr("keepdims", 0i64)
        } else {
            Node::new("ReduceMean", ["a"], ["y1"]).with_attr("axes", vec![1i64, 2]).with_attr("keepdims", 0i64)
        };
        let m = model(
            opset,
            vec![vi("x", &[2, 3, 4, 5])],
            vec![vi("y1", &[2, 3]), vi("y2", &[2, 1, 4, 5]), vi("y3", &[2, 5, 3]), vi("y4", &[1, 1, 1, 1])],
            vec![
                tr("x", "a", &NHWC),
                mean,
                Node::new("ReduceSum", ["a", "last"], ["r2"]),
                tr("r2", "y2", &NCHW),
                Node::new("ArgMax", ["a"], ["am"]).with_attr("axis", 1i64).with_attr("keepdims", 0i64),
                Node::new("Cast", ["am"], ["y3"]).with_attr("to", 1i64),
                Node::new("ReduceMax", ["a"], ["y4"]),
            ],
            vec![("hw", i64s(&[1, 2])), ("last", i64s(&[-1]))],
        );
        let (after, c) = run_with(&m, &Options::default(), false);
        // The ArgMax result is [N, W, C]: one transpose restores it from [N, C, W].
        assert_eq!(c.transposes, (2, 1), "opset {opset}");
        let t = after.graph.nodes.iter().find(|n| n.op == "Transpose").unwrap();
        assert_eq!(t.attr_ints("perm").unwrap(), Some(&[0i64, 2, 1][..]));
        assert_eq!(t.output(0), Some("y3"));
    }
}

#[test]
fn squeeze_and_unsqueeze_compose_with_the_permutation() {
    for opset in [11, 17] {
        let (squeeze, unsqueeze) = if opset >= 13 {
            (Node::new("Squeeze", ["a", "one"], ["s"]), Node::new("Unsqueeze", ["s", "zero"], ["u"]))
        } else {
            (
                Node::new("Squeeze", ["a"], ["s"]).with_attr("axes", vec![1i64]),
                Node::new("Unsqueeze", ["s"], ["u"]).with_attr("axes", vec![0i64]),
            )
        };
        let m = model(
            opset,
            vec![vi("x", &[2, 3, 1, 5])],
            vec![vi("y", &[1, 2, 3, 5])],
            vec![tr("x", "a", &NHWC), squeeze, unsqueeze, tr("u", "y", &[0, 1, 3, 2])],
            vec![("one", i64s(&[1])), ("zero", i64s(&[0]))],
        );
        let (_, c) = run(&m);
        assert_eq!(c.transposes, (2, 0), "opset {opset}");
    }
}

#[test]
fn quantize_dequantize_move_per_tensor_and_per_axis() {
    let m = model(
        17,
        vec![vi("x", &[1, 3, 4, 4])],
        vec![vi("y", &[1, 3, 4, 4]), vi("w", &[1, 3, 4, 4])],
        vec![
            tr("x", "a", &NHWC),
            Node::new("QuantizeLinear", ["a", "s", "zp"], ["q"]),
            Node::new("DequantizeLinear", ["q", "s", "zp"], ["dq"]),
            tr("dq", "y", &NCHW),
            Node::new("QuantizeLinear", ["a", "sc", "zc"], ["qc"]).with_attr("axis", -1i64),
            Node::new("DequantizeLinear", ["qc", "sc", "zc"], ["dqc"]).with_attr("axis", 3i64),
            tr("dqc", "w", &NCHW),
        ],
        vec![
            ("s", Tensor::scalar(0.05f32)),
            ("zp", Tensor::scalar(128u8)),
            ("sc", f32s(&[3], |i| 0.02 * (i + 1) as f32)),
            ("zc", Tensor::from_vec(vec![3], vec![120u8, 128, 136]).unwrap()),
        ],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (3, 0));
    for n in after.graph.nodes.iter().filter(|n| n.input(1) == Some("sc")) {
        assert_eq!(n.attr_int("axis", 1).unwrap(), 1, "{}", n.op);
    }
    // Blocked quantization (opset 21 block_size) does not move.
    let mut blocked = m.clone();
    blocked.opset_imports.insert(String::new(), 21);
    for n in &mut blocked.graph.nodes {
        if n.input(1) == Some("sc") {
            n.attrs.insert("block_size".into(), Attribute::Int(2));
        }
    }
    blocked.graph.initializers.insert("sc".into(), f32s(&[1, 4, 4, 2], |i| 0.01 * (i % 5 + 1) as f32));
    blocked.graph.initializers.insert("zc".into(), Tensor::from_vec(vec![1, 4, 4, 2], vec![128u8; 32]).unwrap());
    let (after, _) = run(&blocked);
    assert!(after.graph.nodes.iter().any(|n| n.op == "Transpose" && n.input(0) == Some("x")));
}

#[test]
fn softmax_axis_moves_from_opset_13_only() {
    let build = |opset| {
        model(
            opset,
            vec![vi("x", &[2, 3, 4])],
            vec![vi("y", &[2, 3, 4])],
            vec![tr("x", "a", &[0, 2, 1]), Node::new("Softmax", ["a"], ["s"]), tr("s", "y", &[0, 2, 1])],
            vec![],
        )
    };
    let (after, c) = run_with(&build(13), &Options::default(), false);
    assert_eq!(c.transposes, (2, 0));
    assert_eq!(after.graph.nodes[0].attr_int("axis", -1).unwrap(), 1);
    let (_, c) = run_with(&build(11), &Options::default(), false);
    assert_eq!(c.transposes, (2, 2));
}

#[test]
fn transposes_of_initializers_fold_once_and_never_duplicate_weights() {
    let no_fold = Options { fold_constants: false, ..Options::default() };
    // Two readers with one permutation share one transposed copy.
    let m = model(
        17,
        vec![vi("x", &[4, 2, 3])],
        vec![vi("y", &[4, 2, 3]), vi("z", &[4, 2, 3])],
        vec![
            tr("w", "wt1", &[2, 0, 1]),
            tr("w", "wt2", &[2, 0, 1]),
            Node::new("Add", ["x", "wt1"], ["y"]),
            Node::new("Mul", ["x", "wt2"], ["z"]),
        ],
        vec![("w", f32s(&[2, 3, 4], |i| i as f32))],
    );
    let (after, c) = run_with(&m, &no_fold, true);
    // CSE runs first and makes the two identical Transposes one, which folds once.
    assert_eq!((c.transposes_folded, c.transposes), (1, (2, 0)));
    assert_eq!(after.graph.initializers.len(), 1);
    assert_eq!(weight_bytes(&after), weight_bytes(&m));

    // A reader of the untransposed weight keeps it, and then no copy is made.
    let m = model(
        17,
        vec![vi("x", &[4, 2, 3])],
        vec![vi("y", &[4, 2, 3]), vi("z", &[2, 3, 4])],
        vec![tr("w", "wt", &[2, 0, 1]), Node::new("Add", ["x", "wt"], ["y"]), Node::new("Neg", ["w"], ["z"])],
        vec![("w", f32s(&[2, 3, 4], |i| i as f32))],
    );
    let (after, c) = run_with(&m, &no_fold, true);
    assert_eq!((c.transposes_folded, c.transposes), (0, (1, 1)));
    assert_eq!(weight_bytes(&after), weight_bytes(&m));
}

#[test]
fn a_shared_constant_is_not_copied_for_a_move() {
    // `bias` is also read in NCHW by an Add that will not move: permuting it
    // for the first Add would store it twice, so that Add stays.
    let m = model(
        17,
        vec![vi("x", &[1, 3, 2, 2]), vi("z", &[1, 2, 2, 3])],
        vec![vi("y", &[1, 3, 2, 2]), vi("w", &[1, 2, 2, 3])],
        vec![
            tr("x", "a", &NHWC),
            Node::new("Add", ["a", "bias"], ["s"]),
            tr("s", "y", &NCHW),
            Node::new("Add", ["z", "bias"], ["w"]),
        ],
        vec![("bias", f32s(&[3], |i| i as f32))],
    );
    let (after, c) = run(&m);
    assert_eq!((c.transposes_sunk, c.transposes), (0, (2, 2)));
    assert_eq!(weight_bytes(&after), weight_bytes(&m));
}

#[test]
fn moves_never_add_transposes() {
    // A Split into three graph outputs would need three transposes for one.
    let m = model(
        17,
        vec![vi("x", &[2, 6, 4])],
        vec![vi("o0", &[2, 4, 2]), vi("o1", &[2, 4, 2]), vi("o2", &[2, 4, 2])],
        vec![tr("x", "a", &[0, 2, 1]), Node::new("Split", ["a", "sizes"], ["o0", "o1", "o2"]).with_attr("axis", -1i64)],
        vec![("sizes", i64s(&[2, 2, 2]))],
    );
    let (_, c) = run(&m);
    assert_eq!((c.transposes_sunk, c.transposes), (0, (1, 1)));

    // A transpose also read by a MatMul stays; a Relu reading it moves only
    // if its own output transpose cancels.
    let m = model(
        17,
        vec![vi("x", &[2, 3, 4])],
        vec![vi("mm", &[2, 4, 4]), vi("r", &[2, 4, 3]), vi("y", &[2, 3, 4])],
        vec![
            tr("x", "a", &[0, 2, 1]),
            Node::new("MatMul", ["a", "x"], ["mm"]),
            Node::new("Relu", ["a"], ["r"]),
            Node::new("Neg", ["a"], ["n"]),
            tr("n", "y", &[0, 2, 1]),
        ],
        vec![],
    );
    let (after, c) = run(&m);
    // Neg moves (its transpose cancels), Relu does not (its output is the interface).
    assert_eq!((c.transposes_sunk, c.transposes), (1, (2, 1)));
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Neg").unwrap().input(0), Some("x"));
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Relu").unwrap().input(0), Some("a"));
}

#[test]
fn the_interface_keeps_names_and_layouts() {
    // NHWC in, NCHW out, nothing to cancel against: the transpose ends at the output.
    let m = model(
        17,
        vec![vi("x", &[1, 4, 4, 3])],
        vec![vi("y", &[1, 3, 4, 4])],
        vec![tr("x", "a", &NCHW), Node::new("Relu", ["a"], ["b"]), Node::new("Sigmoid", ["b"], ["y"])],
        vec![],
    );
    let (after, c) = run(&m);
    assert_eq!((c.transposes, c.transposes_sunk), ((1, 1), 2));
    let last = after.graph.nodes.last().unwrap();
    assert_eq!((last.op.as_str(), last.output(0)), ("Transpose", Some("y")));
    // A second run has nothing left to do.
    let mut again = after.clone();
    let c = simplify(&mut again, &Options::default()).unwrap();
    assert_eq!((c.rounds, again), (1, after));
}

#[test]
fn subgraph_captures_count_as_reads() {
    // The If body reads `a` (the transposed value) and `r` (a moved node's output) by name.
    let body = |op: &str| Graph {
        outputs: vec![vi("o", &[2, 4, 3])],
        nodes: vec![Node::new(op, ["a", "r"], ["o"])],
        ..Graph::default()
    };
    let m = model(
        17,
        vec![vi("x", &[2, 3, 4]), ValueInfo::tensor("c", DType::Bool, Shape::fixed(&[]))],
        vec![vi("y", &[2, 3, 4]), vi("k", &[2, 4, 3])],
        vec![
            tr("x", "a", &[0, 2, 1]),
            Node::new("Relu", ["a"], ["r"]),
            tr("r", "y", &[0, 2, 1]),
            Node::new("If", ["c"], ["k"])
                .with_attr("then_branch", Attribute::Graph(Box::new(body("Add"))))
                .with_attr("else_branch", Attribute::Graph(Box::new(body("Sub")))),
        ],
        vec![],
    );
    let (after, c) = run(&m);
    assert!(c.transposes.1 <= 2);
    let bodies = |m: &Model| m.graph.nodes.iter().flat_map(|n| n.subgraphs().cloned()).collect::<Vec<Graph>>();
    assert_eq!(bodies(&after), bodies(&m));
    // Both captured names are still defined in the main graph.
    let defined = after.graph.defined_values();
    assert!(defined.contains("a") && defined.contains("r"));
}

#[test]
fn a_dropout_whose_mask_is_read_stays() {
    let m = model(
        17,
        vec![vi("x", &[2, 3, 4])],
        vec![vi("y", &[2, 3, 4]), ValueInfo::tensor("mask", DType::Bool, Shape::fixed(&[2, 4, 3]))],
        vec![tr("x", "a", &[0, 2, 1]), Node::new("Dropout", ["a"], ["d", "mask"]), tr("d", "y", &[0, 2, 1])],
        vec![],
    );
    let (_, c) = run(&m);
    assert_eq!((c.transposes_sunk, c.transposes), (0, (2, 2)));
}

#[test]
fn nhwc_residual_block_keeps_only_the_input_transpose() {
    // What tf2onnx writes without its optimizers: every Conv and pool wrapped
    // in transposes, BatchNormalization as Mul/Add, a residual Add, a mean over H, W.
    let m = model(
        17,
        vec![vi("x", &[1, 6, 6, 4])],
        vec![vi("y", &[1, 5])],
        vec![
            tr("x", "t0", &NCHW),
            Node::new("Conv", ["t0", "w1"], ["c1"]).with_attr("pads", vec![1i64, 1, 1, 1]),
            tr("c1", "t1", &NHWC),
            Node::new("Mul", ["t1", "g"], ["bn1"]),
            Node::new("Add", ["bn1", "b"], ["bn2"]),
            Node::new("Relu", ["bn2"], ["r1"]),
            tr("r1", "t2", &NCHW),
            Node::new("Conv", ["t2", "w2"], ["c2"]),
            tr("c2", "t3", &NHWC),
            Node::new("Add", ["t3", "r1"], ["res"]),
            Node::new("Relu", ["res"], ["r2"]),
            Node::new("Pad", ["r2", "pads"], ["pd"]),
            tr("pd", "t4", &NCHW),
            Node::new("MaxPool", ["t4"], ["mp"]).with_attr("kernel_shape", vec![2i64, 2]),
            tr("mp", "t5", &NHWC),
            Node::new("Concat", ["t5", "t5"], ["cat"]).with_attr("axis", 3i64),
            Node::new("ReduceMean", ["cat"], ["gap"]).with_attr("axes", vec![1i64, 2]).with_attr("keepdims", 0i64),
            Node::new("MatMul", ["gap", "wd"], ["logits"]),
            Node::new("Softmax", ["logits"], ["y"]),
        ],
        vec![
            ("w1", f32s(&[4, 4, 3, 3], |i| ((i * 7) % 11) as f32 * 0.05 - 0.25)),
            ("w2", f32s(&[4, 4, 1, 1], |i| ((i * 5) % 7) as f32 * 0.1 - 0.3)),
            ("g", f32s(&[4], |i| 0.5 + i as f32 * 0.25)),
            ("b", f32s(&[4], |i| i as f32 * 0.1 - 0.2)),
            ("pads", i64s(&[0, 1, 1, 0, 0, 0, 0, 0])),
            ("wd", f32s(&[8, 5], |i| ((i * 3) % 13) as f32 * 0.1 - 0.6)),
        ],
    );
    let (after, c) = run_with(&m, &Options::default(), false);
    assert_eq!(c.transposes, (6, 1));
    assert_eq!(after.graph.nodes.iter().find(|n| n.op == "Transpose").unwrap().input(0), Some("x"));
    // With the pass off, the pairs stay.
    let off = Options { sink_transposes: false, ..Options::default() };
    let (_, c) = run_with(&m, &off, false);
    assert_eq!(c.transposes, (6, 6));
}

fn fixture(name: &str) -> (Model, std::path::PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name);
    let m = convert::load(&convert::registry(), &dir.join("model.onnx"), None, &Default::default()).unwrap().0;
    (m, dir)
}

#[test]
fn keras_tf2onnx_fixture_matches_its_reference() {
    let (before, dir) = fixture("keras_cnn_tf2onnx");
    let mut after = before.clone();
    let c = simplify(&mut after, &Options::default()).unwrap();
    // tf2onnx's own optimizer already left only the input transpose; it stays.
    assert_eq!(c.transposes, (1, 1));
    assert_eq!(ops(&after, "Transpose"), 1);
    let x = ir::tensor_file::read_npy(&dir.join("input_0.npy")).unwrap();
    let want = ir::tensor_file::read_npy(&dir.join("output_0.npy")).unwrap();
    let feeds = vec![(after.graph.inputs[0].name.clone(), eval::Value::Tensor(eval::from_ir(&x).unwrap()))];
    let got = convert::verify::run(&after, feeds).unwrap();
    let m = eval::compare::compare(&eval::from_ir(&want).unwrap(), got[0].1.tensor().unwrap()).unwrap();
    assert!(m.max_abs <= 1e-5, "{m:?}");
}

#[test]
fn torch_fixtures_keep_their_outputs() {
    for name in [
        "cnn_bn_residual",
        "cnn_dynamo_default",
        "cnn_qdq_static",
        "dynamic_batch",
        "external_data",
        "mlp",
        "mlp_int8_dynamic",
        "ops_subgraph",
        "transformer_encoder",
    ] {
        let (before, _) = fixture(name);
        let (with, c) = run_with(&before, &Options::default(), false);
        let off = Options { sink_transposes: false, ..Options::default() };
        let (without, _) = run_with(&before, &off, false);
        if c.transposes.0 == 0 {
            // Nothing to move: the pass changes nothing.
            assert_eq!(with, without, "{name}");
        }
    }
}

#[test]
fn the_option_switches_it_off() {
    let o = Options::parse("no-transpose").unwrap();
    assert!(!o.sink_transposes && o.merge_reshapes);
    assert!(Options::default().sink_transposes);
    let e = Options::parse("transpose").unwrap_err().to_string();
    assert!(e.contains("no-transpose"), "{e}");
}

#[test]
fn a_transpose_moving_only_unit_axes_after_a_reshape_joins_it() {
    // Squeeze-and-excite in NHWC: pooled [N, C] reshaped to [N, 1, 1, C], then to NCHW.
    let m = model(
        17,
        vec![vi("x", &[2, 6])],
        vec![vi("y", &[2, 6, 1, 1])],
        vec![Node::new("Reshape", ["x", "nhwc"], ["r"]), tr("r", "t", &NCHW), Node::new("Conv", ["t", "w"], ["y"])],
        vec![("nhwc", i64s(&[-1, 1, 1, 6])), ("w", f32s(&[6, 6, 1, 1], |i| (i % 5) as f32 * 0.1 - 0.2))],
    );
    let (after, c) = run(&m);
    assert_eq!((c.transposes_reshaped, c.transposes), (1, (1, 0)));
    // The two Reshapes merge into one, to [-1, C, 1, 1].
    assert_eq!(ops(&after, "Reshape"), 1);
    let shape = after.graph.nodes[0].input(1).unwrap();
    assert_eq!(&*after.graph.initializers[shape].as_slice::<i64>().unwrap(), &[-1, 6, 1, 1]);

    // [2, 3] -> [3, 2] really moves data: it stays a transpose.
    let m = model(
        17,
        vec![vi("x", &[6])],
        vec![vi("y", &[3, 2])],
        vec![Node::new("Reshape", ["x", "s"], ["r"]), tr("r", "y", &[1, 0])],
        vec![("s", i64s(&[2, 3]))],
    );
    let (_, c) = run(&m);
    assert_eq!((c.transposes_reshaped, c.transposes), (0, (1, 1)));
}

#[test]
fn remapped_axes_and_pads_are_shared_by_value() {
    // Two Pads share one pads constant; after the moves they share its NCHW version.
    let m = model(
        17,
        vec![vi("x", &[1, 2, 3, 3]), vi("z", &[1, 2, 3, 3])],
        vec![vi("y", &[1, 2, 4, 4]), vi("w", &[1, 2, 4, 4])],
        vec![
            tr("x", "a", &NHWC),
            Node::new("Pad", ["a", "pads"], ["pa"]),
            tr("pa", "y", &NCHW),
            tr("z", "b", &NHWC),
            Node::new("Pad", ["b", "pads"], ["pb"]),
            tr("pb", "w", &NCHW),
        ],
        vec![("pads", i64s(&[0, 1, 1, 0, 0, 0, 0, 0]))],
    );
    let (after, c) = run(&m);
    assert_eq!(c.transposes, (4, 0));
    assert_eq!(after.graph.initializers.len(), 1);
    assert_eq!(weight_bytes(&after), weight_bytes(&m));
}
