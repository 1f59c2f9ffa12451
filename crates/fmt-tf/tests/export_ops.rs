//! Export of single ops and small patterns the fixtures do not cover
//! (pads, groups, resize modes, axis ops on NHWC-held tensors, ...): each
//! case is written as a frozen GraphDef and a SavedModel, read back and run
//! in the reference evaluator against the source (relative L2 ≤ 1e-5).
//! With `TF_EXPORT_DIR` set the exports and a `ops_jobs.json` for
//! `xtask/python/run_tf.py` are written there too.

use std::path::PathBuf;

use ir::{Attribute, DType, ExportOptions, Exporter, Graph, Importer, Model, Node, Shape, Tensor, ValueInfo};

/// Cases whose TF ops this crate's importer does not read (they are checked
/// in TensorFlow by `run_tf.py` only).
const NOT_REIMPORTED: &[(&str, &str)] = &[];

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::from_vec(shape.to_vec(), values(shape.iter().product(), seed)).unwrap()
}

/// A case: a model with one f32 input `x` and its input value.
struct Case {
    name: &'static str,
    model: Model,
    input: Tensor,
}

fn ints(v: &[i64]) -> Attribute {
    Attribute::Ints(v.to_vec())
}

/// `nodes` reading `x` (shape `xs`) and writing `y`, with `inits`.
fn case(name: &'static str, xs: &[usize], nodes: Vec<Node>, inits: Vec<(&str, Tensor)>) -> Case {
    let mut g = Graph::default();
    let dims: Vec<u64> = xs.iter().map(|&d| d as u64).collect();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&dims)));
    g.nodes = nodes;
    for (k, t) in inits {
        g.initializers.insert(k.to_string(), t);
    }
    g.outputs.push(ValueInfo::untyped("y"));
    let mut model = Model::new(g);
    model.opset_imports.insert(String::new(), 18);
    // Output types from inference, as an importer would declare them.
    let types = ir::infer::infer(&model.graph, 18).unwrap_or_else(|e| panic!("{name}: {e}"));
    let k = types.get("y").unwrap();
    model.graph.outputs[0] = ValueInfo::tensor("y", k.dtype().unwrap(), k.shape().cloned());
    Case { name, model, input: rand(xs, name.len() as u64) }
}

fn conv(name: &str, ins: &[&str], attrs: Vec<(&str, Attribute)>) -> Node {
    let mut n = Node::new("Conv", ins.iter().copied(), [name]).named(name);
    for (k, v) in attrs {
        n = n.with_attr(k, v);
    }
    n
}

fn cases() -> Vec<Case> {
    let w = |o, i, k, seed| rand(&[o, i, k, k], seed);
    vec![
        case(
            "conv_pads_strides_dilations_bias",
            &[1, 3, 11, 9],
            vec![conv(
                "y",
                &["x", "w", "b"],
                vec![("pads", ints(&[1, 2, 0, 1])), ("strides", ints(&[2, 1])), ("dilations", ints(&[1, 2]))],
            )],
            vec![("w", w(4, 3, 3, 1)), ("b", rand(&[4], 2))],
        ),
        case(
            "conv_depthwise_same_upper",
            &[1, 4, 8, 8],
            vec![conv(
                "y",
                &["x", "w"],
                vec![
                    ("group", Attribute::Int(4)),
                    ("auto_pad", Attribute::String("SAME_UPPER".into())),
                    ("strides", ints(&[2, 2])),
                ],
            )],
            vec![("w", w(8, 1, 3, 3))],
        ),
        // TF's oneDNN remapper aborts on EXPLICIT depthwise + BiasAdd: SAME or PadV2 instead.
        case(
            "conv_depthwise_bias_explicit_pads",
            &[1, 4, 8, 8],
            vec![
                conv("d", &["x", "w", "b"], vec![("group", Attribute::Int(4)), ("pads", ints(&[1, 1, 1, 1]))]),
                Node::new("Relu", ["d"], ["r"]),
                conv(
                    "y",
                    &["r", "w2", "b2"],
                    vec![("group", Attribute::Int(8)), ("pads", ints(&[1, 1, 1, 1])), ("strides", ints(&[2, 2]))],
                ),
            ],
            vec![("w", w(8, 1, 3, 16)), ("b", rand(&[8], 17)), ("w2", w(8, 1, 3, 18)), ("b2", rand(&[8], 19))],
        ),
        case(
            "conv_grouped_then_softmax_axis1",
            &[1, 4, 6, 6],
            vec![
                conv("c", &["x", "w"], vec![("group", Attribute::Int(2))]),
                Node::new("Softmax", ["c"], ["y"]).with_attr("axis", Attribute::Int(1)),
            ],
            vec![("w", w(6, 2, 3, 4))],
        ),
        case(
            "conv1d_chain_pools",
            &[2, 3, 20],
            vec![
                conv(
                    "c",
                    &["x", "w1", "b1"],
                    vec![("pads", ints(&[2, 1])), ("strides", ints(&[1])), ("dilations", ints(&[2]))],
                ),
                Node::new("Relu", ["c"], ["r"]),
                conv("dw", &["r", "w2"], vec![("group", Attribute::Int(4)), ("pads", ints(&[1, 1]))]),
                Node::new("MaxPool", ["dw"], ["m"])
                    .with_attr("kernel_shape", ints(&[3]))
                    .with_attr("strides", ints(&[2])),
                Node::new("AveragePool", ["m"], ["a"]).with_attr("kernel_shape", ints(&[2])),
                Node::new("Add", ["a", "bias"], ["y"]),
            ],
            vec![
                ("w1", rand(&[4, 3, 3], 20)),
                ("b1", rand(&[4], 21)),
                ("w2", rand(&[4, 1, 3], 22)),
                ("bias", rand(&[4, 1], 23)),
            ],
        ),
        case(
            "conv_transpose_stride2_pads",
            &[1, 3, 5, 5],
            vec![
                Node::new("ConvTranspose", ["x", "w", "b"], ["y"])
                    .with_attr("strides", ints(&[2, 2]))
                    .with_attr("pads", ints(&[1, 1, 1, 1]))
                    .with_attr("output_padding", ints(&[1, 1])),
            ],
            vec![("w", rand(&[3, 2, 3, 3], 5)), ("b", rand(&[2], 6))],
        ),
        case(
            "maxpool_pads_avgpool_counted",
            &[1, 2, 7, 7],
            vec![
                Node::new("MaxPool", ["x"], ["m"])
                    .with_attr("kernel_shape", ints(&[3, 3]))
                    .with_attr("pads", ints(&[1, 1, 1, 1]))
                    .with_attr("strides", ints(&[2, 2])),
                Node::new("AveragePool", ["m"], ["y"])
                    .with_attr("kernel_shape", ints(&[2, 2]))
                    .with_attr("pads", ints(&[1, 0, 0, 1]))
                    .with_attr("count_include_pad", Attribute::Int(1)),
            ],
            vec![],
        ),
        case(
            "nhwc_chain_reduce_concat_pad_slice",
            &[1, 3, 6, 6],
            vec![
                conv("c", &["x", "w"], vec![]),
                Node::new("Mul", ["c", "s"], ["m"]),
                Node::new("Concat", ["m", "m"], ["k"]).with_attr("axis", Attribute::Int(1)),
                Node::new("Pad", ["k", "pads"], ["p"]).with_attr("mode", Attribute::String("reflect".into())),
                Node::new("Slice", ["p", "st", "en", "ax", "sp"], ["sl"]),
                Node::new("ReduceMean", ["sl", "rax"], ["y"]).with_attr("keepdims", Attribute::Int(0)),
            ],
            vec![
                ("w", w(4, 3, 3, 9)),
                ("s", rand(&[4, 1, 1], 10)),
                ("pads", Tensor::from_vec(vec![8], vec![0i64, 0, 1, 2, 0, 0, 1, 0]).unwrap()),
                ("st", Tensor::from_vec(vec![2], vec![-1i64, 1]).unwrap()),
                ("en", Tensor::from_vec(vec![2], vec![i64::MIN, 5]).unwrap()),
                ("ax", Tensor::from_vec(vec![2], vec![2i64, 3]).unwrap()),
                ("sp", Tensor::from_vec(vec![2], vec![-2i64, 1]).unwrap()),
                ("rax", Tensor::from_vec(vec![1], vec![3i64]).unwrap()),
            ],
        ),
        case(
            "resize_linear_half_pixel",
            &[1, 2, 4, 6],
            vec![Node::new("Resize", ["x", "", "sc"], ["y"]).with_attr("mode", Attribute::String("linear".into()))],
            vec![("sc", Tensor::from_vec(vec![4], vec![1.0f32, 1.0, 2.0, 1.5]).unwrap())],
        ),
        case(
            "resize_nearest_asymmetric",
            &[1, 2, 3, 3],
            vec![
                Node::new("Resize", ["x", "", "", "sz"], ["y"])
                    .with_attr("coordinate_transformation_mode", Attribute::String("asymmetric".into()))
                    .with_attr("nearest_mode", Attribute::String("floor".into())),
            ],
            vec![("sz", Tensor::from_vec(vec![4], vec![1i64, 2, 7, 5]).unwrap())],
        ),
        case(
            "gemm_alpha_beta_trans",
            &[3, 4],
            vec![
                Node::new("Gemm", ["x", "b", "c"], ["y"])
                    .with_attr("alpha", Attribute::Float(0.5))
                    .with_attr("beta", Attribute::Float(2.0))
                    .with_attr("transB", Attribute::Int(1)),
            ],
            vec![("b", rand(&[5, 4], 11)), ("c", rand(&[5], 12))],
        ),
        case(
            "topk_cumsum_gather_negative",
            &[2, 6],
            vec![
                Node::new("TopK", ["x", "k"], ["v", "i"]).with_attr("axis", Attribute::Int(0)),
                Node::new("CumSum", ["v", "one"], ["cs"]).with_attr("exclusive", Attribute::Int(1)),
                Node::new("Gather", ["cs", "idx"], ["y"]).with_attr("axis", Attribute::Int(1)),
            ],
            vec![
                ("k", Tensor::from_vec(vec![1], vec![1i64]).unwrap()),
                ("one", Tensor::scalar(1i64)),
                ("idx", Tensor::from_vec(vec![3], vec![-1i64, 0, -6]).unwrap()),
            ],
        ),
        case(
            "gather_elements_constant_of_shape",
            &[3, 4],
            vec![
                Node::new("GatherElements", ["x", "gi"], ["g"]).with_attr("axis", Attribute::Int(1)),
                Node::new("ConstantOfShape", ["cs"], ["c"])
                    .with_attr("value", Attribute::Tensor(Tensor::from_vec(vec![1], vec![2.0f32]).unwrap())),
                Node::new("Mul", ["g", "c"], ["y"]),
            ],
            vec![
                ("gi", Tensor::from_vec(vec![3, 2], vec![0i64, -1, 3, 2, -4, 1]).unwrap()),
                ("cs", Tensor::from_vec(vec![2], vec![3i64, 2]).unwrap()),
            ],
        ),
        case(
            "instance_norm_mvn_depth_space",
            &[1, 4, 4, 6],
            vec![
                conv("c", &["x", "w"], vec![("pads", ints(&[1, 1, 1, 1]))]),
                Node::new("InstanceNormalization", ["c", "s", "b"], ["i"]).with_attr("epsilon", Attribute::Float(1e-3)),
                Node::new("MeanVarianceNormalization", ["i"], ["m"]),
                Node::new("DepthToSpace", ["m"], ["d"]).with_attr("blocksize", Attribute::Int(2)),
                Node::new("SpaceToDepth", ["d"], ["y"]).with_attr("blocksize", Attribute::Int(2)),
            ],
            vec![("w", w(8, 4, 3, 24)), ("s", rand(&[8], 25)), ("b", rand(&[8], 26))],
        ),
        case(
            "onehot_trilu_nonzero_lpnorm_shrink",
            &[3, 4],
            vec![
                Node::new("Trilu", ["x", "k"], ["t"]).with_attr("upper", Attribute::Int(0)),
                Node::new("Shrink", ["t"], ["sh"])
                    .with_attr("lambd", Attribute::Float(0.2))
                    .with_attr("bias", Attribute::Float(0.1)),
                Node::new("LpNormalization", ["sh"], ["lp"]).with_attr("axis", Attribute::Int(1)),
                Node::new("OneHot", ["oi", "depth", "vals"], ["oh"]).with_attr("axis", Attribute::Int(0)),
                Node::new("Add", ["lp", "oh"], ["sum"]),
                Node::new("NonZero", ["sum"], ["nz"]),
                Node::new("Cast", ["nz"], ["nzf"]).with_attr("to", Attribute::Int(1)),
                Node::new("ReduceSum", ["nzf"], ["y"]).with_attr("keepdims", Attribute::Int(0)),
            ],
            vec![
                ("k", Tensor::scalar(1i64)),
                ("oi", Tensor::from_vec(vec![4], vec![0i64, 2, -1, 1]).unwrap()),
                ("depth", Tensor::scalar(3i64)),
                ("vals", Tensor::from_vec(vec![2], vec![0.0f32, 5.0]).unwrap()),
            ],
        ),
        case(
            "scatter_nd_reverse_sequence",
            &[4, 3],
            vec![
                Node::new("ScatterND", ["x", "si", "su"], ["sc"])
                    .with_attr("reduction", Attribute::String("add".into())),
                Node::new("ReverseSequence", ["sc", "lens"], ["y"])
                    .with_attr("batch_axis", Attribute::Int(1))
                    .with_attr("time_axis", Attribute::Int(0)),
            ],
            vec![
                ("si", Tensor::from_vec(vec![2, 1], vec![1i64, 3]).unwrap()),
                ("su", rand(&[2, 3], 27)),
                ("lens", Tensor::from_vec(vec![3], vec![4i64, 2, 1]).unwrap()),
            ],
        ),
        case(
            "einsum_where_split",
            &[2, 3, 4],
            vec![
                Node::new("Einsum", ["x", "b"], ["e"]).with_attr("equation", Attribute::String("bij,jk->bik".into())),
                Node::new("Greater", ["e", "z"], ["g"]),
                Node::new("Where", ["g", "e", "z"], ["wh"]),
                Node::new("Split", ["wh", "sizes"], ["s0", "s1"]).with_attr("axis", Attribute::Int(2)),
                Node::new("Sub", ["s0", "s1"], ["y"]),
            ],
            vec![
                ("b", rand(&[4, 4], 13)),
                ("z", Tensor::scalar(0.0f32)),
                ("sizes", Tensor::from_vec(vec![2], vec![2i64, 2]).unwrap()),
            ],
        ),
        case(
            "layernorm_gelu_tanh_transpose",
            &[2, 3, 4],
            vec![
                Node::new("LayerNormalization", ["x", "g", "bb"], ["l"]).with_attr("epsilon", Attribute::Float(1e-3)),
                Node::new("Gelu", ["l"], ["ge"]).with_attr("approximate", Attribute::String("tanh".into())),
                Node::new("Transpose", ["ge"], ["y"]).with_attr("perm", ints(&[2, 0, 1])),
            ],
            vec![("g", rand(&[4], 14)), ("bb", rand(&[4], 15))],
        ),
    ]
}

fn run(model: &Model, x: &Tensor) -> eval::Value {
    let name = model.graph.inputs[0].name.clone();
    let mut out = eval::run(model, vec![(name, eval::Value::Tensor(eval::from_ir(x).unwrap()))]).unwrap();
    out.remove(0).1
}

#[test]
fn single_ops_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for c in cases() {
        let want = run(&c.model, &c.input);
        let exports: [(&dyn Exporter, &dyn Importer, PathBuf); 2] = [
            (&fmt_tf::FrozenExporter, &fmt_tf::FrozenImporter, dir.path().join(format!("{}.pb", c.name))),
            (&fmt_tf::SavedModelExporter, &fmt_tf::SavedModelImporter, dir.path().join(c.name)),
        ];
        for (e, i, path) in exports {
            if let Err(err) = e.export(&c.model, &path, &ExportOptions::default()) {
                failures.push(format!("{}: export: {err}", c.name));
                continue;
            }
            if NOT_REIMPORTED.iter().any(|r| r.0 == c.name) {
                // Listed: the import must fail (else the list is stale).
                assert!(i.import(&path, &Default::default()).is_err(), "{}: now re-imports; unlist it", c.name);
                continue;
            }
            let back = i.import(&path, &Default::default()).unwrap_or_else(|err| panic!("{}: import: {err}", c.name));
            let got = run(&back, &c.input);
            let m = eval::compare::compare_values(&want, &got).unwrap_or_else(|err| panic!("{}: {err}", c.name));
            if m.rel_l2.is_nan() || m.rel_l2 > 1e-5 {
                failures.push(format!("{} ({}): rel L2 {:.2e}", c.name, path.display(), m.rel_l2));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With `TF_EXPORT_DIR` set: the cases' exports and references for `run_tf.py`.
#[test]
fn write_tf_op_jobs() {
    let Some(out) = std::env::var_os("TF_EXPORT_DIR").map(PathBuf::from) else { return };
    std::fs::create_dir_all(&out).unwrap();
    let mut jobs = Vec::new();
    for c in cases() {
        let eval::Value::Tensor(want) = run(&c.model, &c.input) else { panic!("{}: not a tensor", c.name) };
        let inp = ir::tensor_file::write(&out.join(format!("op_{}_in", c.name)), "x", &c.input).unwrap();
        let refp =
            ir::tensor_file::write(&out.join(format!("op_{}_out", c.name)), "y", &eval::to_ir(&want).unwrap()).unwrap();
        for kind in ["frozen", "saved_model"] {
            let path = if kind == "frozen" {
                out.join(format!("op_{}.pb", c.name))
            } else {
                out.join(format!("op_{}_saved", c.name))
            };
            let r = if kind == "frozen" {
                fmt_tf::FrozenExporter.export(&c.model, &path, &ExportOptions::default())
            } else {
                fmt_tf::SavedModelExporter.export(&c.model, &path, &ExportOptions::default())
            };
            r.unwrap();
            jobs.push(serde_json::json!({
                "id": format!("op_{}/{kind}", c.name), "kind": kind, "model": path.to_string_lossy(),
                "inputs": {"x": inp.to_string_lossy()}, "outputs": {"y": refp.to_string_lossy()}, "rtol": 1e-5,
            }));
        }
    }
    std::fs::write(out.join("ops_jobs.json"), serde_json::to_string_pretty(&jobs).unwrap()).unwrap();
}
