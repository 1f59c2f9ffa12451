//! Unit tests of the driver: ordering, naming, errors, layout options.

use std::collections::{BTreeMap, HashSet};

use ir::{DType, Tensor};

use super::*;
use crate::graph::TfPort;

#[test]
fn every_op_has_one_rule() {
    let rules = rules();
    let mut seen = HashSet::new();
    for r in &rules {
        assert!(seen.insert(r.tf), "{} has two rules", r.tf);
        assert!(r.inputs.max.is_none_or(|m| m >= r.inputs.min), "{}", r.tf);
    }
    let md = ops_markdown();
    assert!(md.contains("| Erfc | 1 | Erf + Sub |"), "{md}");
    assert_eq!(md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| TensorFlow")).count(), rules.len());
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: Vec<(&str, TfAttr)>) -> TfNode {
    TfNode {
        name: name.into(),
        op: op.into(),
        inputs: inputs.iter().map(|i| TfRef::parse(i).unwrap()).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(),
    }
}

fn port(name: &str, tensor: &str, shape: Option<Vec<Option<i64>>>) -> TfPort {
    TfPort { name: name.into(), tensor: TfRef::parse(tensor).unwrap(), dtype: DType::F32, shape }
}

fn constant(name: &str, t: Tensor) -> TfNode {
    node(name, "Const", &[], vec![("value", TfAttr::Tensor(t))])
}

/// x → Relu → Mul(·, c) → Neg, with unreachable save machinery beside it.
fn mlp() -> TfGraph {
    TfGraph {
        name: "mlp".into(),
        nodes: vec![
            node("out", "Neg", &["mul"], vec![]),
            node("mul", "Mul", &["relu", "c"], vec![]),
            constant("c", Tensor::from_vec(vec![3], vec![1f32, 2.0, 3.0]).unwrap()),
            node("relu", "Relu", &["x"], vec![]),
            node("x", "Placeholder", &[], vec![]),
            node("save/SaveV2", "SaveV2", &["c"], vec![]),
        ],
        inputs: vec![port("input_1", "x:0", Some(vec![None, Some(3)]))],
        outputs: vec![port("output_0", "out:0", None)],
        functions: Default::default(),
    }
}

#[test]
fn names_types_and_zero_copy_constants() {
    let g = mlp();
    let m = lower(&g, &LowerOptions::default()).unwrap();
    let gr = &m.graph;
    assert_eq!(m.opset_imports.get(""), Some(&ir::opset::DEFAULT_OPSET));
    assert_eq!(gr.nodes.iter().map(|n| n.op.as_str()).collect::<Vec<_>>(), ["Relu", "Mul", "Neg"]);
    // TF tensor names inside, signature names at the interface.
    assert_eq!(gr.nodes[0].outputs, ["relu:0"]);
    assert_eq!(gr.nodes[1].inputs, [Some("relu:0".to_string()), Some("c:0".to_string())]);
    assert_eq!(gr.nodes[2].outputs, ["output_0"]);
    assert_eq!(gr.inputs[0].name, "input_1");
    let shape = gr.inputs[0].shape().unwrap();
    assert_eq!(shape.dims()[0], ir::Dim::Symbolic("batch".into()));
    assert_eq!(gr.outputs[0].shape().unwrap().dims()[0], ir::Dim::Symbolic("batch".into()));
    assert_eq!(gr.outputs[0].dtype(), Some(DType::F32));
    // The initializer is the Const's tensor, not a copy of its bytes.
    let src = g.nodes[2].attr("value").unwrap().as_tensor().unwrap().raw().unwrap().as_bytes().as_ptr();
    assert_eq!(gr.initializers["c:0"].raw().unwrap().as_bytes().as_ptr(), src);
}

#[test]
fn other_unknown_dims_are_named_after_the_port() {
    assert_eq!(
        port_shape("img", &Some(vec![None, None, Some(3)])).unwrap().dims()[1],
        ir::Dim::Symbolic("img_d1".into())
    );
    assert!(port_shape("img", &None).is_none());
}

#[test]
fn unsupported_ops_are_listed_at_once_or_kept() {
    let mut g = mlp();
    g.nodes[0].op = "Frobnicate".into();
    g.nodes[3].op = "Frobnicate".into();
    g.nodes[1].op = "Zap".into();
    let e = lower(&g, &LowerOptions::default()).unwrap_err();
    assert_eq!(e.unsupported_op_names(), ["Frobnicate", "Zap"], "{e}");
    let msg = e.to_string();
    assert!(msg.contains("tf::Frobnicate (node 'relu' and 1 more)"), "{msg}");
    // The unreachable SaveV2 is never looked at.
    assert!(!msg.contains("SaveV2"), "{msg}");
    let opts = LowerOptions { keep_unknown_ops: true, ..LowerOptions::default() };
    let m = lower(&g, &opts).unwrap();
    assert!(m.graph.nodes.iter().all(|n| n.domain == ORIGIN));
    assert_eq!(m.opset_imports.get(ORIGIN), Some(&1));
    assert_eq!(m.graph.nodes[0].outputs, ["relu:0"]);
}

#[test]
fn arity_cycles_and_dangling_inputs_are_one_line_errors() {
    let mut g = mlp();
    g.nodes[1].inputs.push(TfRef::new("c", 0));
    let e = lower(&g, &LowerOptions::default()).unwrap_err().to_string();
    assert_eq!(e, "mlp: node 'mul' (Mul): expected 2 input(s), found 3");
    let mut g = mlp();
    g.nodes[3].inputs = vec![TfRef::new("out", 0)];
    let e = lower(&g, &LowerOptions::default()).unwrap_err().to_string();
    assert!(e.contains("cycle through node"), "{e}");
    let mut g = mlp();
    g.nodes[3].inputs = vec![TfRef::new("ghost", 0)];
    let e = lower(&g, &LowerOptions::default()).unwrap_err().to_string();
    assert!(e.contains("reads node 'ghost', which does not exist"), "{e}");
    let mut g = mlp();
    g.nodes[3].inputs = vec![TfRef::new("c", 4)];
    let e = lower(&g, &LowerOptions::default()).unwrap_err().to_string();
    assert!(e.contains("reads 'c:4'"), "{e}");
}

/// x (NHWC) → Conv2D → BiasAdd → Relu → Conv2D → output.
fn cnn() -> TfGraph {
    let w = |o: usize| Tensor::from_vec(vec![3, 3, 2, o], vec![0.1f32; 18 * o]).unwrap();
    let conv = |name: &str, x: &str, w: &str| {
        node(
            name,
            "Conv2D",
            &[x, w],
            vec![("strides", TfAttr::List(vec![TfAttr::Int(1); 4])), ("padding", TfAttr::Str(b"SAME".to_vec()))],
        )
    };
    TfGraph {
        name: "cnn".into(),
        nodes: vec![
            node("x", "Placeholder", &[], vec![]),
            constant("w1", w(2)),
            constant("w2", w(2)),
            constant("b", Tensor::from_vec(vec![2], vec![0.5f32, -0.5]).unwrap()),
            conv("c1", "x", "w1"),
            node("bias", "BiasAdd", &["c1", "b"], vec![]),
            node("relu", "Relu", &["bias"], vec![]),
            conv("c2", "relu", "w2"),
        ],
        inputs: vec![port("image", "x:0", Some(vec![None, Some(5), Some(5), Some(2)]))],
        outputs: vec![port("y", "c2:0", None)],
        functions: Default::default(),
    }
}

#[test]
fn convolutions_are_wrapped_in_transpose_pairs_with_permuted_weights() {
    let m = lower(&cnn(), &LowerOptions::default()).unwrap();
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(ops, ["Transpose", "Conv", "Transpose", "Add", "Relu", "Transpose", "Conv", "Transpose"]);
    let conv = &m.graph.nodes[1];
    let w = &m.graph.initializers[conv.input(1).unwrap()];
    assert_eq!(w.shape(), &[2, 2, 3, 3]);
    assert_eq!(conv.attr_ints("pads").unwrap(), Some(&[1, 1, 1, 1][..]));
    assert_eq!(m.graph.outputs[0].shape().unwrap().dims()[3], ir::Dim::Fixed(2));
}

#[test]
fn nchw_input_layout_declares_the_input_channels_first() {
    let opts = LowerOptions { input_layout_nchw: true, ..LowerOptions::default() };
    let m = lower(&cnn(), &opts).unwrap();
    let dims = m.graph.inputs[0].shape().unwrap().dims().to_vec();
    assert_eq!(dims[1..], [ir::Dim::Fixed(2), ir::Dim::Fixed(5), ir::Dim::Fixed(5)]);
    let first = &m.graph.nodes[0];
    assert_eq!((first.op.as_str(), first.input(0)), ("Transpose", Some("image")));
    assert_eq!(first.attr_ints("perm").unwrap(), Some(&[0, 2, 3, 1][..]));
    // A model without NHWC layers keeps its inputs as declared.
    let m = lower(&mlp(), &opts).unwrap();
    assert_eq!(m.graph.nodes[0].op, "Relu");
}

#[test]
fn permute_moves_whole_elements() {
    let t = Tensor::from_vec(vec![2, 3], vec![1i16, 2, 3, 4, 5, 6]).unwrap();
    let p = t.permuted(&[1, 0]).unwrap();
    assert_eq!(p.shape(), &[3, 2]);
    assert_eq!(&*p.as_slice::<i16>().unwrap(), &[1, 4, 2, 5, 3, 6]);
    assert!(t.permuted(&[0, 0]).is_err());
    assert!(t.permuted(&[0]).is_err());
}
