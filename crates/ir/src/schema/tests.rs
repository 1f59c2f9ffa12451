use super::*;
use crate::opset::{MAX_OPSET, MIN_OPSET};

fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Node {
    Node::new(op, inputs.iter().copied(), outputs.iter().copied()).named("n")
}

#[test]
fn lookup_treats_empty_and_ai_onnx_as_one_domain() {
    assert_eq!(lookup("", "Conv").map(|s| s.op), Some("Conv"));
    assert_eq!(lookup("ai.onnx", "Conv").map(|s| s.op), Some("Conv"));
    assert_eq!(lookup("ai.onnx.ml", "TreeEnsemble").map(|s| s.domain), Some("ai.onnx.ml"));
    assert!(lookup("", "TreeEnsemble").is_none());
    assert!(lookup("tf", "Conv").is_none());
    assert!(lookup("", "NoSuchOp").is_none());
}

#[test]
fn tables_are_consistent() {
    let mut missing = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in all() {
        assert!(seen.insert((s.domain, s.op)), "{} is listed twice", s.op);
        assert!(s.since >= 1 && s.since <= MAX_OPSET, "{}: since {}", s.op, s.since);
        for v in MIN_OPSET.max(s.since)..=MAX_OPSET {
            let ins: Vec<_> = s.inputs_at(v).collect();
            for (i, a) in ins.iter().enumerate() {
                assert!(ins[i + 1..].iter().all(|b| b.name != a.name), "{} input {} twice at {v}", s.op, a.name);
                if matches!(a.arity, Arity::Variadic { .. }) {
                    assert_eq!(i + 1, ins.len(), "{}: variadic input {} is not last", s.op, a.name);
                }
            }
            for a in s.attrs.iter().filter(|a| a.at(v)) {
                assert_eq!(
                    s.attrs.iter().filter(|b| b.name == a.name && b.at(v)).count(),
                    1,
                    "{}.{} at {v}",
                    s.op,
                    a.name
                );
            }
            let outs = s.outputs_at(v).count();
            assert!(outs >= 1, "{} has no output at {v}", s.op);
            for k in 0..outs {
                if s.dtype_rule(k).is_none() {
                    missing.push(format!("{} output {k}", s.op));
                }
            }
        }
        assert!(s.dtypes.len() <= s.outputs.len(), "{}: more dtype rules than outputs", s.op);
        for c in s.changes {
            assert!(c.opset > s.since && c.opset <= MAX_OPSET, "{}: change at {}", s.op, c.opset);
        }
        if let Some(w) = s.weight {
            let slot = match w {
                WeightRule::Conv { input, .. } | WeightRule::MatMul { input } => input,
                WeightRule::ConvTranspose | WeightRule::Gemm => 1,
                WeightRule::Embedding => 0,
            };
            assert!(slot < s.inputs.len(), "{}: weight input {slot} out of range", s.op);
        }
    }
    missing.dedup();
    assert!(missing.is_empty(), "no dtype rule: {missing:?}");
}

#[test]
fn window_attributes_are_range_checked() {
    use crate::Attribute::{Int, Ints};
    let with = |op: &str, ins: &[&str], key: &str, v: crate::Attribute| {
        let mut n = node(op, ins, &["y"]);
        n.attrs.insert(key.into(), v);
        check_attrs(&n, 19)
    };
    let conv = ["x", "w"];
    let e = with("Conv", &conv, "strides", Ints(vec![1, 0])).unwrap_err().to_string();
    assert_eq!(e, "node 'n' (Conv): Conv attribute 'strides' holds 0; it must be at least 1 and at most 2147483647");
    let e = with("MaxPool", &["x"], "pads", Ints(vec![0, 0, -1, 0])).unwrap_err().to_string();
    assert!(e.contains("'pads' holds -1; it must be at least 0"), "{e}");
    assert!(with("AveragePool", &["x"], "kernel_shape", Ints(vec![i64::MAX, 3])).is_err());
    assert!(with("ConvTranspose", &conv, "group", Int(0)).is_err());
    assert!(with("LRN", &["x"], "size", Int(i64::MIN)).is_err());
    with("Conv", &conv, "strides", Ints(vec![2, 2])).unwrap();
    with("Conv", &conv, "pads", Ints(vec![0, 1, 0, 1])).unwrap();
    // Pad's (pre-11) pads may be negative: a crop.
    let mut pad = node("Pad", &["x"], &["y"]);
    pad.attrs.insert("pads".into(), Ints(vec![-1, 2]));
    check_attrs(&pad, 2).unwrap();
    // Subgraphs are checked too, through check_graph.
    let mut g = crate::Graph::default();
    let mut bad = node("MaxPool", &["x"], &["y"]);
    bad.attrs.insert("kernel_shape".into(), Ints(vec![0]));
    g.nodes.push(bad);
    assert!(check_graph(&g, 13).is_err());
}

#[test]
fn arity_follows_the_opset() {
    // Clip's bounds became inputs at 11.
    let clip = node("Clip", &["x", "lo", "hi"], &["y"]);
    let e = check_arity(&clip, 7).unwrap_err().to_string();
    assert_eq!(e, "node 'n' (Clip): Clip at opset 7 takes 1 input(s), found 3");
    check_arity(&clip, 11).unwrap();
    // Squeeze's axes became an input at 13.
    let sq = node("Squeeze", &["x", "axes"], &["y"]);
    assert!(check_arity(&sq, 12).is_err());
    check_arity(&sq, 13).unwrap();
    check_arity(&node("Squeeze", &["x"], &["y"]), 13).unwrap();
    // Unsqueeze's axes input is required from 13.
    assert!(check_arity(&node("Unsqueeze", &["x"], &["y"]), 13).is_err());
    // Slice has 3 to 5 inputs from 10.
    let e = check_arity(&node("Slice", &["x", "s"], &["y"]), 13).unwrap_err().to_string();
    assert!(e.contains("takes 3 to 5 input(s), found 2"), "{e}");
    // Variadic inputs and outputs.
    assert!(check_arity(&node("Concat", &[], &["y"]), 13).is_err());
    check_arity(&node("Concat", &["a", "b", "c"], &["y"]), 13).unwrap();
    check_arity(&node("Split", &["x"], &["a", "b", "c"]), 18).unwrap();
    let e = check_arity(&node("Split", &["x"], &[]), 18).unwrap_err().to_string();
    assert!(e.contains("at least 1 output(s), found 0"), "{e}");
    // Conv without a weight.
    let e = check_arity(&node("Conv", &["x"], &["y"]), 17).unwrap_err().to_string();
    assert!(e.contains("takes 2 to 3 input(s), found 1"), "{e}");
    // Gemm's C is optional only from 11.
    assert!(check_arity(&node("Gemm", &["a", "b"], &["y"]), 9).is_err());
    check_arity(&node("Gemm", &["a", "b"], &["y"]), 11).unwrap();
    // Loop: M and cond optional, carried values variadic (zero allowed).
    let mut lp = node("Loop", &["m", "c"], &["o"]);
    lp.inputs.insert(1, None);
    check_arity(&lp, 17).unwrap();
    // Omitted optional inputs in the middle are fine; omitted required ones are not.
    let mut r = node("Resize", &["x", "", "", "sizes"], &["y"]);
    r.inputs[1] = None;
    r.inputs[2] = None;
    check_arity(&r, 13).unwrap();
    let mut c = node("Conv", &["x", "w", "b"], &["y"]);
    c.inputs[1] = None;
    let e = check_arity(&c, 17).unwrap_err().to_string();
    assert!(e.contains("input 1 ('W') is required but omitted"), "{e}");
    // Unknown ops and other domains pass.
    check_arity(&node("Frobnicate", &[], &[]), 17).unwrap();
    check_arity(&node("Conv", &[], &[]).in_domain("tf"), 17).unwrap();
}

#[test]
fn weight_layouts() {
    let conv = node("Conv", &["x", "w", "b"], &["y"]);
    assert_eq!(
        weight_layout(&conv, 4),
        Some(WeightLayout { input: 1, out_axis: 0, reduce_axis: Some(1), bias: Some(2) })
    );
    assert_eq!(weight_layout(&conv, 2), None);
    let ct = node("ConvTranspose", &["x", "w"], &["y"]);
    assert_eq!(weight_layout(&ct, 4).map(|l| (l.out_axis, l.reduce_axis)), Some((1, Some(0))));
    let mm = node("MatMul", &["x", "w"], &["y"]);
    assert_eq!(weight_layout(&mm, 3).map(|l| (l.input, l.out_axis, l.reduce_axis)), Some((1, 2, Some(1))));
    assert_eq!(weight_layout(&mm, 1), None);
    let gemm = node("Gemm", &["a", "b", "c"], &["y"]);
    assert_eq!(weight_layout(&gemm, 2).map(|l| (l.out_axis, l.bias)), Some((1, Some(2))));
    let gemm_t = gemm.clone().with_attr("transB", 1i64);
    assert_eq!(weight_layout(&gemm_t, 2).map(|l| (l.out_axis, l.reduce_axis)), Some((0, Some(1))));
    let emb = node("Gather", &["table", "ids"], &["y"]);
    assert_eq!(weight_layout(&emb, 2).map(|l| (l.input, l.out_axis, l.reduce_axis)), Some((0, 0, Some(1))));
    let emb1 = emb.clone().with_attr("axis", -1i64);
    assert_eq!(weight_layout(&emb1, 2).map(|l| l.out_axis), Some(1));
    let qc = node("QLinearConv", &["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], &["y"]);
    assert_eq!(weight_layout(&qc, 4).map(|l| (l.input, l.bias)), Some((3, Some(8))));
    assert_eq!(weight_layout(&node("Relu", &["x"], &["y"]), 2), None);
    assert_eq!(weight_layout(&conv.clone().in_domain("tf"), 4), None);
}

#[test]
fn roles_find_inputs() {
    let bn = lookup("", "BatchNormalization").unwrap();
    let roles: Vec<Role> = bn.inputs_at(15).map(|s| s.role).collect();
    assert_eq!(roles, [Role::Data, Role::Scale, Role::Bias, Role::Mean, Role::Variance]);
    assert_eq!(bn.outputs_at(15).count(), 3);
    assert_eq!(bn.outputs_at(9).count(), 5);
    let red = lookup("", "ReduceMean").unwrap();
    assert_eq!(red.input_of_role(Role::Axes, 17), None);
    assert_eq!(red.input_of_role(Role::Axes, 18), Some(1));
    assert!(red.attr_at("axes", 17).is_some() && red.attr_at("axes", 18).is_none());
    assert_eq!(lookup("", "ReduceSum").unwrap().form_at(17), 13);
    assert_eq!(lookup("", "Split").unwrap().form_at(28), 18);
    assert_eq!(lookup("", "Relu").unwrap().form_at(28), 1);
    let dq = lookup("", "DequantizeLinear").unwrap();
    assert_eq!(dq.attr_at("block_size", 21).map(|a| a.default), Some(AttrDefault::Int(0)));
    assert!(dq.attr_at("block_size", 19).is_none());
}

#[test]
fn class_lists() {
    let bool_out: Vec<_> = ops_with(Class::LOGICAL);
    for op in ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf"]
    {
        assert!(bool_out.contains(&op), "{op}");
        assert_eq!(lookup("", op).unwrap().dtype_rule(0), Some(&BOOL), "{op}");
    }
    let bc = ops_with(Class::BROADCAST);
    for op in ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "BitwiseAnd", "PRelu"] {
        assert!(bc.contains(&op), "{op}");
    }
    assert!(!bc.contains(&"MatMul"));
    let unary = ops_with(Class::UNARY);
    for op in ["Relu", "Sigmoid", "Tanh", "Clip", "Erf", "Identity", "Dropout", "Neg", "Abs", "Cast"] {
        assert!(unary.contains(&op), "{op}");
    }
    assert_eq!(ops_with(Class::POOL).len(), 7);
    assert!(ops_with(Class::REDUCE).contains(&"ReduceL2"));
    assert_eq!(
        ops_with(Class::RANDOM),
        ["Bernoulli", "Multinomial", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"]
    );
    assert_eq!(ops_with(Class::SUBGRAPH), ["If", "Loop", "Scan", "SequenceMap"]);
    assert!(is(&node("Softmax", &["x"], &["y"]), Class::KEEP_F32));
    assert!(!is(&node("Softmax", &["x"], &["y"]).in_domain("tf"), Class::KEEP_F32));
}

#[test]
fn dropout_is_identity_unless_in_training_mode() {
    let consts = |training: Option<f64>, ratio: Option<f64>| {
        move |i: usize| match i {
            1 => ratio.map(|r| vec![r]),
            2 => training.map(|t| vec![t]),
            _ => None,
        }
    };
    // Before opset 12, or without training_mode: inference.
    assert!(dropout_is_identity(&node("Dropout", &["x"], &["y"]), consts(None, None)));
    let full = node("Dropout", &["x", "r", "t"], &["y"]);
    assert!(dropout_is_identity(&full, consts(Some(0.0), None)));
    assert!(!dropout_is_identity(&full, consts(Some(1.0), Some(0.5))));
    // Unknown training_mode: it may be true.
    assert!(!dropout_is_identity(&full, consts(None, None)));
    // Training with ratio 0 drops nothing and scales by 1.
    assert!(dropout_is_identity(&full, consts(Some(1.0), Some(0.0))));
    // Training with the default ratio (0.5).
    assert!(!dropout_is_identity(&node("Dropout", &["x", "", "t"], &["y"]), consts(Some(1.0), Some(0.0))));
}
