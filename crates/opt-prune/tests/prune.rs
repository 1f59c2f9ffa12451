//! Pruning on the fixtures and on small graphs: the reported figures, the
//! zeros and shapes actually written, and the output deviation.

use std::path::Path;

use convert::verify::{InputOptions, compare_models, make_inputs};
use ir::{DType, Graph, Model, Node, Shape, Tensor, ValueInfo};
use opt_prune::channels::prune_channels;
use opt_prune::magnitude::prune_magnitude;
use opt_prune::{ChannelOptions, MagnitudeOptions, Norm, Scope};
use opt_simplify::num;

fn fixture(name: &str) -> Model {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name).join("model.onnx");
    convert::load(&convert::registry(), &p, None, &Default::default()).unwrap().0
}

/// (max_abs, rel_l2, cosine) of the first output of `after` against `before` on seeded inputs.
fn deviation(before: &Model, after: &Model) -> (f64, f64, f64) {
    let inputs = make_inputs(before, &InputOptions::default()).unwrap();
    let c = compare_models(before, after, inputs, f64::INFINITY).unwrap();
    let m = c[0].metrics.as_ref().unwrap();
    (m.max_abs, m.rel_l2, m.cosine)
}

fn zeros(t: &Tensor) -> usize {
    num::to_f64(t).unwrap().iter().filter(|v| **v == 0.0).count()
}

/// Names of the Conv/Gemm/MatMul weights of the main graph.
fn weights(m: &Model) -> Vec<String> {
    let mut v: Vec<String> = m
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op.as_str(), "Conv" | "Gemm" | "MatMul"))
        .filter_map(|n| n.input(1).filter(|w| m.graph.initializers.contains_key(*w)).map(str::to_string))
        .collect();
    v.dedup();
    v
}

fn magnitude(sparsity: f64, scope: Scope) -> MagnitudeOptions {
    MagnitudeOptions { sparsity, scope, sparse_storage: false }
}

#[test]
fn global_magnitude_pruning_reaches_the_target_on_the_cnn() {
    let before = fixture("cnn_bn_residual");
    let mut m = before.clone();
    let lines = prune_magnitude(&mut m, &magnitude(0.5, Scope::Global)).unwrap();
    let w = weights(&m);
    assert_eq!(w.len(), 9);
    let total: usize = w.iter().map(|n| m.graph.initializers[n].numel()).sum();
    let z: usize = w.iter().map(|n| zeros(&m.graph.initializers[n])).sum();
    assert_eq!((z, total), (12152, 24304));
    assert_eq!(
        lines.last().unwrap(),
        "sparsity 50.0% (12152 of 24304 weights in Conv/ConvTranspose/Gemm/MatMul are zero, global scope, target 50.0%)"
    );
    // Biases and BatchNormalization parameters are untouched.
    for (k, t) in &before.graph.initializers {
        if !w.contains(k) {
            assert_eq!(&m.graph.initializers[k], t, "{k} changed");
        }
    }
    // A global threshold prunes layers unevenly: per-layer lines differ.
    let pcts: std::collections::BTreeSet<&str> =
        lines[..9].iter().map(|l| l.split(": ").nth(1).unwrap().split(' ').next().unwrap()).collect();
    assert!(pcts.len() > 3, "{lines:?}");
    assert!(lines[0].starts_with("stem.0.weight (Conv '/stem/stem.0/Conv'): "), "{lines:?}");
    let (_, rel, cos) = deviation(&before, &m);
    assert!(rel < 0.2 && cos > 0.98, "rel {rel} cos {cos}");
}

#[test]
fn layer_scope_prunes_the_same_fraction_everywhere() {
    for name in ["cnn_bn_residual", "mlp", "transformer_encoder"] {
        let mut m = fixture(name);
        prune_magnitude(&mut m, &magnitude(0.8, Scope::Layer)).unwrap();
        for w in weights(&m) {
            let t = &m.graph.initializers[&w];
            assert_eq!(zeros(t), (0.8 * t.numel() as f64).floor() as usize, "{name} {w}");
        }
    }
}

#[test]
fn sparse_storage_holds_the_same_values() {
    let mut dense = fixture("mlp");
    prune_magnitude(&mut dense, &magnitude(0.8, Scope::Layer)).unwrap();
    let mut sparse = fixture("mlp");
    let lines =
        prune_magnitude(&mut sparse, &MagnitudeOptions { sparse_storage: true, ..magnitude(0.8, Scope::Layer) })
            .unwrap();
    assert_eq!(sparse.graph.sparse_initializers.len(), 3);
    assert!(lines.last().unwrap().starts_with("3 weight(s) stored as sparse_initializer, "), "{lines:?}");
    for (k, s) in &sparse.graph.sparse_initializers {
        assert_eq!(&s.to_dense().unwrap(), &dense.graph.initializers[k], "{k}");
    }
    assert_eq!(deviation(&dense, &sparse).0, 0.0);
    // At 10% sparsity COO storage (8-byte indices) would be larger: weights stay dense.
    let mut m = fixture("mlp");
    prune_magnitude(&mut m, &MagnitudeOptions { sparse_storage: true, ..magnitude(0.1, Scope::Global) }).unwrap();
    assert!(m.graph.sparse_initializers.is_empty());
}

fn model(inputs: Vec<ValueInfo>, outputs: Vec<ValueInfo>, nodes: Vec<Node>, inits: Vec<(&str, Tensor)>) -> Model {
    let mut g = Graph { inputs, outputs, nodes, ..Graph::default() };
    for (k, t) in inits {
        g.initializers.insert(k.into(), t);
    }
    g.validate().unwrap();
    Model::new(g)
}

fn vi(name: &str, dims: &[u64]) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Shape::fixed(dims))
}

fn f32s(shape: &[usize], f: impl Fn(usize) -> f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape.to_vec(), (0..n).map(f).collect::<Vec<f32>>()).unwrap()
}

#[test]
fn magnitude_pruning_keeps_f16_and_f64_weights_in_their_dtype() {
    for dtype in [DType::F16, DType::BF16, DType::F64] {
        let w = num::from_f64(dtype, vec![4, 4], &(0..16).map(|i| i as f64 - 7.5).collect::<Vec<_>>()).unwrap();
        let mut m = model(
            vec![ValueInfo::tensor("x", dtype, Shape::fixed(&[1, 4]))],
            vec![ValueInfo::tensor("y", dtype, Shape::fixed(&[1, 4]))],
            vec![Node::new("MatMul", ["x", "w"], ["y"])],
            vec![("w", w)],
        );
        prune_magnitude(&mut m, &magnitude(0.25, Scope::Global)).unwrap();
        let t = &m.graph.initializers["w"];
        assert_eq!((t.dtype(), zeros(t)), (dtype, 4), "{dtype}");
        // The four smallest magnitudes are ±0.5 and ±1.5.
        let v = num::to_f64(t).unwrap();
        assert_eq!(&v[6..10], &[0.0; 4], "{dtype}");
    }
}

fn channels(ratio: f64) -> ChannelOptions {
    ChannelOptions { ratio, norm: Norm::L1 }
}

#[test]
fn channel_pruning_shrinks_the_cnn() {
    let before = fixture("cnn_bn_residual");
    let mut m = before.clone();
    let lines = prune_channels(&mut m, &channels(0.3)).unwrap();
    assert!(lines.contains(&"/stem/stem.0/Conv, /block1/conv2/Conv, /block2/conv2/Conv: 16 -> 12 channels".into()));
    assert!(lines.contains(&"/down/conv2/Conv, /down/shortcut/shortcut.0/Conv: 32 -> 23 channels".into()));
    assert!(lines.contains(&"parameters 25018 -> 13902 (-44.4%)".into()), "{lines:?}");
    assert!(lines.contains(&"MACs 13549888 -> 7565798 (-44.2%)".into()), "{lines:?}");
    // The last stage feeds the classifier output through GAP/Flatten/Gemm... and the residual ties it to the output.
    assert!(lines.iter().any(|l| l.starts_with("left alone: 1 group(s): reaches graph output 'logits'")), "{lines:?}");
    // The layers really are smaller, BatchNormalization included.
    let w = |n: &str| m.graph.initializers[n].shape().to_vec();
    assert_eq!(w("stem.0.weight"), [12, 3, 3, 3]);
    assert_eq!(w("block1.conv1.weight"), [12, 12, 3, 3]);
    assert_eq!(w("down.conv1.weight"), [23, 12, 3, 3]);
    assert_eq!(m.graph.nodes.len(), 29);
    let bn = m.graph.nodes.iter().find(|n| n.op == "BatchNormalization").unwrap();
    assert_eq!(m.graph.initializers[bn.input(1).unwrap()].shape(), [12]);
    let (_, rel, cos) = deviation(&before, &m);
    assert!(rel < 0.2 && cos > 0.98, "rel {rel} cos {cos}");
    // L2 ranking is available and prunes as much.
    let mut l2 = before.clone();
    let lines = prune_channels(&mut l2, &ChannelOptions { ratio: 0.3, norm: Norm::L2 }).unwrap();
    assert!(lines.contains(&"parameters 25018 -> 13902 (-44.4%)".into()), "{lines:?}");
}

#[test]
fn channel_pruning_after_simplify_and_on_the_mlp_and_transformer() {
    let mut cnn = fixture("cnn_bn_residual");
    opt_simplify::simplify(&mut cnn, &Default::default()).unwrap();
    let lines = prune_channels(&mut cnn, &channels(0.3)).unwrap();
    assert!(lines.contains(&"parameters 24490 -> 13398 (-45.3%)".into()), "{lines:?}");

    let before = fixture("mlp");
    let mut mlp = before.clone();
    opt_simplify::simplify(&mut mlp, &Default::default()).unwrap();
    let lines = prune_channels(&mut mlp, &channels(0.3)).unwrap();
    assert_eq!(lines.iter().filter(|l| l.ends_with(": 128 -> 90 channels")).count(), 2, "{lines:?}");
    assert!(lines.contains(&"MACs 103424 -> 59040 (-42.9%)".into()), "{lines:?}");
    let (_, _, cos) = deviation(&before, &mlp);
    assert!(cos > 0.9, "cos {cos}");

    let before = fixture("transformer_encoder");
    let mut tr = before.clone();
    let lines = prune_channels(&mut tr, &channels(0.3)).unwrap();
    // The feed-forward hidden layers shrink; attention projections feed Reshapes and stay.
    assert_eq!(lines.iter().filter(|l| l.ends_with("linear1/MatMul: 64 -> 45 channels")).count(), 2, "{lines:?}");
    assert!(lines.contains(&"MACs 139264 -> 119808 (-14.0%)".into()), "{lines:?}");
    let (_, _, cos) = deviation(&before, &tr);
    assert!(cos > 0.8, "cos {cos}");
}

/// Two-layer MLP whose hidden units 0 and 3 have zero weights: removing
/// them must leave the outputs unchanged, because their constant output
/// relu(bias) is folded into the next layer's bias.
#[test]
fn removed_channels_fold_their_constant_into_the_next_bias() {
    let w1 = f32s(&[4, 6], |i| if i % 6 == 0 || i % 6 == 3 { 0.0 } else { (i as f32 * 0.37).sin() });
    let m = model(
        vec![vi("x", &[2, 4])],
        vec![vi("y", &[2, 3])],
        vec![
            Node::new("Gemm", ["x", "w1", "b1"], ["h"]),
            Node::new("Relu", ["h"], ["r"]),
            Node::new("MatMul", ["r", "w2"], ["y"]),
        ],
        vec![
            ("w1", w1),
            ("b1", f32s(&[6], |i| [0.7, 0.1, -0.2, -0.4, 0.3, 0.2][i])),
            ("w2", f32s(&[6, 3], |i| (i as f32 * 0.91).cos())),
        ],
    );
    let mut p = m.clone();
    let lines = prune_channels(&mut p, &channels(0.34)).unwrap();
    assert_eq!(lines[0], "Gemm: 6 -> 4 channels");
    assert_eq!(p.graph.initializers["w1"].shape(), [4, 4]);
    // MatMul has no bias: an Add carries the folded constant.
    assert_eq!(p.graph.nodes.iter().map(|n| n.op.as_str()).collect::<Vec<_>>(), ["Gemm", "Relu", "MatMul", "Add"]);
    let (max_abs, _, _) = deviation(&m, &p);
    assert!(max_abs < 1e-6, "{max_abs}");
}

/// Conv -> BN -> Relu -> depthwise Conv -> Conv, plus a residual Add of two
/// convs: coupled channels go together, and zero filters are removed exactly.
#[test]
fn batch_norm_depthwise_and_residual_adds_follow_the_pruned_channels() {
    let zero_ch = |c: usize| move |i: usize| if (i / 3) % 4 == c { 0.0 } else { ((i * 7 % 11) as f32 - 5.0) * 0.1 };
    let m = model(
        vec![vi("x", &[1, 3, 4, 4])],
        vec![vi("y", &[1, 2, 4, 4])],
        vec![
            Node::new("Conv", ["x", "wa", "ba"], ["a"]),
            Node::new("BatchNormalization", ["a", "g", "bt", "mu", "var"], ["an"]),
            Node::new("Conv", ["x", "wb"], ["b"]),
            Node::new("Add", ["an", "b"], ["s"]),
            Node::new("Relu", ["s"], ["r"]),
            Node::new("Conv", ["r", "wd", "bd"], ["d"]).with_attr("group", 4i64),
            Node::new("Mul", ["d", "scale"], ["ds"]),
            Node::new("Conv", ["ds", "wc", "bc"], ["y"]),
        ],
        vec![
            // Filters [4, 3, 1, 1]: channel 2 is zero in both coupled convs.
            ("wa", f32s(&[4, 3, 1, 1], zero_ch(2))),
            ("ba", f32s(&[4], |i| i as f32 * 0.2 - 0.3)),
            ("g", f32s(&[4], |i| 1.0 + i as f32 * 0.1)),
            ("bt", f32s(&[4], |i| 0.05 * i as f32)),
            ("mu", f32s(&[4], |i| 0.1 - 0.02 * i as f32)),
            ("var", f32s(&[4], |i| 0.5 + i as f32)),
            ("wb", f32s(&[4, 3, 1, 1], zero_ch(2))),
            ("wd", f32s(&[4, 1, 1, 1], |i| 0.5 + i as f32)),
            ("bd", f32s(&[4], |i| 0.01 * i as f32)),
            ("scale", f32s(&[1, 4, 1, 1], |i| 1.0 + i as f32)),
            ("wc", f32s(&[2, 4, 1, 1], |i| (i as f32 * 1.3).sin())),
            ("bc", f32s(&[2], |i| i as f32)),
        ],
    );
    let mut p = m.clone();
    let lines = prune_channels(&mut p, &channels(0.25)).unwrap();
    assert!(lines.contains(&"Conv, Conv: 4 -> 3 channels".into()), "{lines:?}");
    let shape = |n: &str| p.graph.initializers[n].shape().to_vec();
    assert_eq!((shape("wa"), shape("wb"), shape("g")), (vec![3, 3, 1, 1], vec![3, 3, 1, 1], vec![3]));
    assert_eq!((shape("wd"), shape("scale"), shape("wc")), (vec![3, 1, 1, 1], vec![1, 3, 1, 1], vec![2, 3, 1, 1]));
    assert_eq!(p.graph.nodes[5].attr_int("group", 1).unwrap(), 3);
    let (max_abs, _, _) = deviation(&m, &p);
    assert!(max_abs < 1e-5, "{max_abs}");
}

#[test]
fn channels_reaching_outputs_or_unknown_ops_stay() {
    let m = model(
        vec![vi("x", &[1, 3, 2, 2])],
        vec![vi("y", &[1, 4, 2, 2]), vi("z", &[1, 8, 2, 2])],
        vec![
            Node::new("Conv", ["x", "w"], ["y"]),
            Node::new("Conv", ["x", "w2"], ["c"]),
            Node::new("Concat", ["c", "c"], ["z"]).with_attr("axis", 1i64),
        ],
        vec![("w", f32s(&[4, 3, 1, 1], |i| i as f32)), ("w2", f32s(&[4, 3, 1, 1], |i| i as f32))],
    );
    let mut p = m.clone();
    let lines = prune_channels(&mut p, &channels(0.5)).unwrap();
    assert_eq!(p.graph.initializers, m.graph.initializers);
    assert!(lines.contains(&"left alone: 1 group(s): reaches graph output 'y'".into()), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("left alone: 1 group(s): read by '' (Concat)")), "{lines:?}");
}

#[test]
fn options_are_checked() {
    assert_eq!(ChannelOptions::parse("0.3,norm=l2").unwrap(), ChannelOptions { ratio: 0.3, norm: Norm::L2 });
    for bad in ["1", "-0.1", "x", ""] {
        let e = ChannelOptions::parse(bad).unwrap_err().to_string();
        assert!(e.starts_with("prune-channels: "), "{e}");
    }
    assert!(ChannelOptions::parse("0.3,norm=l3").is_err());
    let o = MagnitudeOptions::parse("0.5,scope=layer,sparse").unwrap();
    assert_eq!((o.sparsity, o.scope, o.sparse_storage), (0.5, Scope::Layer, true));
    assert!(MagnitudeOptions::parse("0.5,scope=row").is_err());
    assert!(MagnitudeOptions::parse("1.0").is_err());
}
