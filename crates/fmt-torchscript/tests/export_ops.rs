//! One small model per op family and attribute combination, built in the
//! IR, exported to TorchScript (and to ONNX, as the reference): every case
//! must pass `check` and export. With `FMT_TORCHSCRIPT_EXPORT_DIR` set, the
//! archives, the ONNX models and `ops_jobs.json` are written there for
//! `xtask/python/run_torch.py`, which runs each archive in torch and the
//! ONNX model in onnxruntime on the same seeded inputs and compares.

use std::fs;
use std::path::PathBuf;

use fmt_torchscript::TorchScriptExporter;
use ir::{Attribute, DType, Dim, Element, ExportOptions, Exporter, Graph, Model, Node, Shape, Tensor, ValueInfo};

struct B {
    g: Graph,
    opset: i64,
    dynamic: Vec<usize>,
}

/// Deterministic values in [-2, 2).
fn vals(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

impl B {
    fn new(opset: i64) -> B {
        B { g: Graph::default(), opset, dynamic: Vec::new() }
    }
    /// A float input; a negative size is the symbolic batch dimension.
    fn input(self, name: &str, dims: &[i64]) -> B {
        self.typed(name, DType::F32, dims)
    }
    fn typed(mut self, name: &str, d: DType, dims: &[i64]) -> B {
        let shape = Shape(
            dims.iter().map(|&v| if v < 0 { Dim::Symbolic("batch".into()) } else { Dim::Fixed(v as u64) }).collect(),
        );
        if dims.first().is_some_and(|&v| v < 0) {
            self.dynamic.push(self.g.inputs.len());
        }
        self.g.inputs.push(ValueInfo::tensor(name, d, shape));
        self
    }
    fn weight(mut self, name: &str, shape: &[usize]) -> B {
        let n = shape.iter().product();
        let t = Tensor::from_vec(shape.to_vec(), vals(n, self.g.initializers.len() as u64 + 7)).unwrap();
        self.g.initializers.insert(name.into(), t);
        self
    }
    fn init<T: Element>(mut self, name: &str, shape: &[usize], v: Vec<T>) -> B {
        self.g.initializers.insert(name.into(), Tensor::from_vec(shape.to_vec(), v).unwrap());
        self
    }
    fn node(mut self, n: Node) -> B {
        self.g.nodes.push(n);
        self
    }
    fn model(mut self, outputs: &[&str]) -> (Model, Vec<usize>) {
        for (i, n) in self.g.nodes.iter_mut().enumerate() {
            n.name = format!("n{i}_{}", n.op);
        }
        self.g.topo_sort().unwrap();
        let types = ir::infer::infer(&self.g, self.opset).unwrap();
        for o in outputs {
            let ty = types.ty(o).cloned().unwrap_or_else(|| panic!("no type for {o}"));
            self.g.outputs.push(ValueInfo { name: o.to_string(), ty, doc: String::new() });
        }
        let mut m = Model::new(self.g);
        m.opset_imports.insert(String::new(), self.opset);
        (m, self.dynamic)
    }
}

fn n(op: &str, ins: &[&str], outs: &[&str]) -> Node {
    Node::new(op, ins.iter().copied(), outs.iter().copied())
}

fn ints(v: &[i64]) -> Attribute {
    Attribute::Ints(v.to_vec())
}

fn cases() -> Vec<(&'static str, Model, Vec<usize>)> {
    let mut c: Vec<(&'static str, (Model, Vec<usize>))> = vec![
        (
            "conv_asym_pads_strides_dilations",
            B::new(17)
                .input("x", &[1, 2, 9, 9])
                .weight("w", &[3, 2, 3, 3])
                .weight("b", &[3])
                .node(
                    n("Conv", &["x", "w", "b"], &["y"])
                        .with_attr("pads", ints(&[0, 1, 1, 2]))
                        .with_attr("strides", ints(&[2, 1]))
                        .with_attr("dilations", ints(&[1, 2])),
                )
                .model(&["y"]),
        ),
        (
            "conv_same_upper_groups",
            B::new(17)
                .input("x", &[1, 4, 7, 8])
                .weight("w", &[6, 2, 3, 3])
                .node(
                    n("Conv", &["x", "w"], &["y"])
                        .with_attr("auto_pad", "SAME_UPPER")
                        .with_attr("strides", ints(&[2, 2]))
                        .with_attr("group", 2i64),
                )
                .model(&["y"]),
        ),
        (
            "conv1d",
            B::new(17)
                .input("x", &[2, 3, 10])
                .weight("w", &[4, 3, 3])
                .node(n("Conv", &["x", "w"], &["y"]).with_attr("pads", ints(&[1, 1])))
                .model(&["y"]),
        ),
        (
            "conv3d",
            B::new(17)
                .input("x", &[1, 2, 4, 5, 5])
                .weight("w", &[2, 2, 2, 3, 3])
                .node(n("Conv", &["x", "w"], &["y"]))
                .model(&["y"]),
        ),
        (
            "conv_transpose_output_padding_asym",
            B::new(17)
                .input("x", &[1, 2, 4, 4])
                .weight("w", &[2, 3, 3, 3])
                .weight("b", &[3])
                .node(
                    n("ConvTranspose", &["x", "w", "b"], &["y"])
                        .with_attr("strides", ints(&[2, 2]))
                        .with_attr("output_padding", ints(&[1, 0]))
                        .with_attr("pads", ints(&[1, 0, 1, 2])),
                )
                .model(&["y"]),
        ),
        (
            "maxpool_ceil_asym",
            B::new(17)
                .input("x", &[1, 2, 8, 7])
                .node(
                    n("MaxPool", &["x"], &["y"])
                        .with_attr("kernel_shape", ints(&[3, 3]))
                        .with_attr("strides", ints(&[2, 2]))
                        .with_attr("pads", ints(&[0, 1, 1, 1]))
                        .with_attr("ceil_mode", 1i64),
                )
                .model(&["y"]),
        ),
        (
            "maxpool_dilated_and_same_lower",
            B::new(17)
                .input("x", &[1, 2, 9, 9])
                .node(
                    n("MaxPool", &["x"], &["y"])
                        .with_attr("kernel_shape", ints(&[2, 2]))
                        .with_attr("dilations", ints(&[2, 2]))
                        .with_attr("pads", ints(&[1, 0, 1, 1])),
                )
                // onnxruntime ignores dilations when it computes SAME pads, so SAME is tested undilated.
                .node(
                    n("MaxPool", &["x"], &["z"])
                        .with_attr("kernel_shape", ints(&[2, 3]))
                        .with_attr("strides", ints(&[2, 2]))
                        .with_attr("auto_pad", "SAME_LOWER"),
                )
                .model(&["y", "z"]),
        ),
        (
            "avgpool_exclude_pad_ceil",
            B::new(17)
                .input("x", &[1, 2, 7, 7])
                .node(
                    n("AveragePool", &["x"], &["y"])
                        .with_attr("kernel_shape", ints(&[3, 3]))
                        .with_attr("strides", ints(&[2, 2]))
                        .with_attr("pads", ints(&[1, 1, 1, 1])),
                )
                .model(&["y"]),
        ),
        (
            "avgpool_include_pad_asym",
            B::new(17)
                .input("x", &[1, 2, 6, 6])
                .node(
                    n("AveragePool", &["x"], &["y"])
                        .with_attr("kernel_shape", ints(&[2, 3]))
                        .with_attr("pads", ints(&[0, 1, 1, 0]))
                        .with_attr("count_include_pad", 1i64),
                )
                .model(&["y"]),
        ),
        (
            "global_pools",
            B::new(17)
                .input("x", &[2, 3, 5, 4])
                .node(n("GlobalAveragePool", &["x"], &["a"]))
                .node(n("GlobalMaxPool", &["x"], &["m"]))
                .model(&["a", "m"]),
        ),
        (
            "gemm_trans_alpha_beta",
            B::new(17)
                .input("a", &[5, 3])
                .weight("b", &[4, 5])
                .weight("c", &[4])
                .node(
                    n("Gemm", &["a", "b", "c"], &["y"])
                        .with_attr("transA", 1i64)
                        .with_attr("transB", 1i64)
                        .with_attr("alpha", 0.5f32)
                        .with_attr("beta", 2.0f32),
                )
                .model(&["y"]),
        ),
        (
            "attention_matmuls",
            B::new(17)
                .input("q", &[2, 4, 6, 8])
                .input("k", &[2, 4, 6, 8])
                .input("v", &[2, 4, 6, 8])
                .init("scale", &[], vec![0.35355339f32])
                .node(n("Transpose", &["k"], &["kt"]).with_attr("perm", ints(&[0, 1, 3, 2])))
                .node(n("MatMul", &["q", "kt"], &["s"]))
                .node(n("Mul", &["s", "scale"], &["ss"]))
                .node(n("Softmax", &["ss"], &["p"]).with_attr("axis", -1i64))
                .node(n("MatMul", &["p", "v"], &["y"]))
                .model(&["y"]),
        ),
        (
            "norms_softmax_axes",
            B::new(17)
                .input("x", &[2, 3, 4, 5])
                .weight("s", &[4, 5])
                .weight("b", &[4, 5])
                .weight("bs", &[3])
                .weight("bb", &[3])
                .init("bm", &[3], vec![0.1f32, -0.2, 0.3])
                .init("bv", &[3], vec![1.5f32, 0.5, 2.0])
                .node(
                    n("LayerNormalization", &["x", "s", "b"], &["ln"])
                        .with_attr("axis", -2i64)
                        .with_attr("epsilon", 1e-3f32),
                )
                .node(n("BatchNormalization", &["x", "bs", "bb", "bm", "bv"], &["bn"]))
                .node(n("InstanceNormalization", &["x", "bs", "bb"], &["in"]))
                .node(n("Softmax", &["x"], &["sm"]).with_attr("axis", 1i64))
                .node(n("LogSoftmax", &["x"], &["lsm"]).with_attr("axis", 2i64))
                .node(n("Hardmax", &["x"], &["hm"]).with_attr("axis", 3i64))
                .node(n("LpNormalization", &["x"], &["lp"]).with_attr("axis", 1i64).with_attr("p", 1i64))
                .model(&["ln", "bn", "in", "sm", "lsm", "hm", "lp"]),
        ),
        (
            "softmax_opset11_coerced",
            B::new(11).input("x", &[2, 3, 4]).node(n("Softmax", &["x"], &["y"]).with_attr("axis", 1i64)).model(&["y"]),
        ),
        (
            "slice_steps_negative_axes",
            B::new(17)
                .input("x", &[4, 6, 8])
                .init("st", &[3], vec![-1i64, 0, 1])
                .init("en", &[3], vec![-100i64, 5, 1000])
                .init("ax", &[3], vec![-1i64, 1, 0])
                .init("sp", &[3], vec![-2i64, 2, 1])
                .node(n("Slice", &["x", "st", "en", "ax", "sp"], &["y"]))
                .model(&["y"]),
        ),
        (
            "gather_family",
            B::new(17)
                .input("x", &[4, 5, 3])
                .init("i2", &[2, 2], vec![-1i64, 0, 2, -3])
                .init("i0", &[], vec![2i64])
                .init(
                    "ie",
                    &[4, 2, 3],
                    vec![0i64, 1, 4, -1, 2, 3, 1, 1, 0, 4, 3, 2, 0, 0, 0, 1, 2, 3, 4, 4, 4, 2, 1, 0],
                )
                .init("ind", &[2, 2], vec![1i64, 2, 3, 0])
                .node(n("Gather", &["x", "i2"], &["g1"]).with_attr("axis", 1i64))
                .node(n("Gather", &["x", "i0"], &["g0"]))
                .node(n("GatherElements", &["x", "ie"], &["ge"]).with_attr("axis", 1i64))
                .node(n("GatherND", &["x", "ind"], &["gn"]))
                .model(&["g1", "g0", "ge", "gn"]),
        ),
        (
            "scatter_family",
            B::new(17)
                .input("x", &[4, 5])
                .input("u", &[2, 5])
                .input("ue", &[2, 2])
                .init("ind", &[2, 1], vec![3i64, 1])
                .init("ie", &[2, 2], vec![0i64, 4, -1, 2])
                .node(n("ScatterND", &["x", "ind", "u"], &["s"]))
                .node(n("ScatterND", &["x", "ind", "u"], &["sa"]).with_attr("reduction", "add"))
                .node(n("ScatterElements", &["x", "ie", "ue"], &["se"]).with_attr("axis", 1i64))
                .node(
                    n("ScatterElements", &["x", "ie", "ue"], &["sm"])
                        .with_attr("axis", 1i64)
                        .with_attr("reduction", "max"),
                )
                .model(&["s", "sa", "se", "sm"]),
        ),
        (
            "pad_modes_axes",
            B::new(18)
                .input("x", &[1, 2, 4, 5])
                .init("p", &[4], vec![1i64, 2, 2, 0])
                .init("ax", &[2], vec![2i64, -1])
                .init("p4", &[8], vec![0i64, 0, 1, 2, 0, 0, 2, 1])
                .init("cv", &[], vec![1.5f32])
                .node(n("Pad", &["x", "p", "cv", "ax"], &["c"]))
                .node(n("Pad", &["x", "p4"], &["r"]).with_attr("mode", "reflect"))
                .node(n("Pad", &["x", "p4"], &["e"]).with_attr("mode", "edge"))
                .node(n("Pad", &["x", "p4"], &["w"]).with_attr("mode", "wrap"))
                .model(&["c", "r", "e", "w"]),
        ),
        (
            "reductions",
            B::new(18)
                .input("x", &[3, 4, 5])
                .init("ax", &[2], vec![0i64, -1])
                .init("a1", &[1], vec![1i64])
                .node(n("ReduceSum", &["x", "ax"], &["s"]).with_attr("keepdims", 0i64))
                .node(n("ReduceMean", &["x", "a1"], &["m"]))
                .node(n("ReduceMax", &["x", "ax"], &["mx"]))
                .node(n("ReduceMin", &["x"], &["mn"]).with_attr("keepdims", 0i64))
                .node(n("ReduceProd", &["x", "ax"], &["p"]).with_attr("keepdims", 0i64))
                .node(n("ReduceL1", &["x", "a1"], &["l1"]))
                .node(n("ReduceL2", &["x", "a1"], &["l2"]))
                .node(n("ReduceLogSumExp", &["x", "ax"], &["lse"]))
                .node(n("ReduceSumSquare", &["x", "a1"], &["ss"]))
                .node(n("ArgMax", &["x"], &["am"]).with_attr("axis", 1i64).with_attr("select_last_index", 1i64))
                .node(n("ArgMin", &["x"], &["an"]).with_attr("axis", -1i64).with_attr("keepdims", 0i64))
                .model(&["s", "m", "mx", "mn", "p", "l1", "l2", "lse", "ss", "am", "an"]),
        ),
        (
            "einsum_topk_cumsum",
            B::new(17)
                .input("a", &[2, 3, 4])
                .input("b", &[2, 4, 5])
                .init("k", &[1], vec![2i64])
                .init("ax", &[], vec![1i32])
                .node(n("Einsum", &["a", "b"], &["e"]).with_attr("equation", "bij,bjk->bik"))
                .node(n("TopK", &["e", "k"], &["tv", "ti"]).with_attr("axis", 1i64).with_attr("largest", 0i64))
                .node(n("CumSum", &["a", "ax"], &["cs"]).with_attr("exclusive", 1i64).with_attr("reverse", 1i64))
                .model(&["e", "tv", "ti", "cs"]),
        ),
        ("casts", {
            let mut b = B::new(17).input("x", &[2, 6]);
            let mut outs = Vec::new();
            for (k, d) in [
                DType::F16,
                DType::F64,
                DType::I8,
                DType::U8,
                DType::I16,
                DType::I32,
                DType::I64,
                DType::Bool,
                DType::U16,
                DType::U32,
                DType::U64,
            ]
            .iter()
            .enumerate()
            {
                let o: &'static str = Box::leak(format!("c{k}_{}", d.name()).into_boxed_str());
                b = b.node(n("Cast", &["x"], &[o]).with_attr("to", d.onnx_code() as i64));
                outs.push(o);
            }
            // bfloat16 has no NumPy type: compared after a cast back.
            b = b.node(n("Cast", &["x"], &["bf"]).with_attr("to", DType::BF16.onnx_code() as i64));
            b = b.node(n("Cast", &["bf"], &["bf_f32"]).with_attr("to", 1i64));
            outs.push("bf_f32");
            b.model(&outs)
        }),
        (
            "elementwise",
            B::new(18)
                .input("x", &[3, 4])
                .input("y", &[4])
                .weight("slope", &[4])
                .init("lo", &[], vec![-0.5f32])
                .init("hi", &[], vec![0.7f32])
                .node(n("Where", &["c", "x", "y"], &["w"]))
                .node(n("Greater", &["x", "y"], &["c"]))
                .node(n("Clip", &["x", "lo", "hi"], &["cl"]))
                .node(n("HardSigmoid", &["x"], &["hs"]).with_attr("alpha", 0.3f32))
                .node(n("LeakyRelu", &["x"], &["lr"]).with_attr("alpha", 0.2f32))
                .node(n("Elu", &["x"], &["el"]))
                .node(n("Selu", &["x"], &["se"]))
                .node(n("PRelu", &["x", "slope"], &["pr"]))
                .node(n("Softplus", &["x"], &["sp"]))
                .node(n("Mish", &["x"], &["mi"]))
                .node(n("Erf", &["x"], &["er"]))
                .node(n("Abs", &["x"], &["ax"]))
                .node(n("Pow", &["ax", "y"], &["pw"]))
                .node(n("Max", &["x", "y", "hi"], &["mx"]))
                .node(n("Mean", &["x", "y"], &["me"]))
                .node(n("Sign", &["x"], &["sg"]))
                .node(n("HardSwish", &["x"], &["hw"]))
                .node(n("Shrink", &["x"], &["sh"]).with_attr("lambd", 0.6f32).with_attr("bias", 0.1f32))
                .model(&[
                    "w", "cl", "hs", "lr", "el", "se", "pr", "sp", "mi", "er", "pw", "mx", "me", "sg", "hw", "sh",
                ]),
        ),
        (
            "gelu_tanh",
            B::new(20)
                .input("x", &[3, 4])
                .node(n("Gelu", &["x"], &["y"]).with_attr("approximate", "tanh"))
                .node(n("Gelu", &["x"], &["z"]))
                .model(&["y", "z"]),
        ),
        (
            "integer_math",
            B::new(17)
                .typed("a", DType::I32, &[6])
                .init("b", &[6], vec![3i32, -3, 4, -4, 5, 2])
                .node(n("Div", &["a", "b"], &["d"]))
                .node(n("Mod", &["a", "b"], &["m"]))
                .node(n("Mod", &["a", "b"], &["f"]).with_attr("fmod", 1i64))
                .node(n("ReduceSum", &["a"], &["s"]))
                .node(n("CumSum", &["a", "zero"], &["cs"]))
                .init("zero", &[], vec![0i64])
                .model(&["d", "m", "f", "s", "cs"]),
        ),
        (
            "shape_ops",
            B::new(18)
                .input("x", &[2, 1, 3, 4])
                .init("ax", &[1], vec![1i64])
                .init("ua", &[2], vec![-1i64, 0])
                .init("sp", &[2], vec![1i64, 3])
                .init("rep", &[4], vec![1i64, 2, 1, 1])
                .init("es", &[4], vec![2i64, 5, 3, 1])
                .node(n("Squeeze", &["x", "ax"], &["sq"]))
                .node(n("Unsqueeze", &["sq", "ua"], &["us"]))
                .node(n("Flatten", &["x"], &["fl"]).with_attr("axis", 2i64))
                .node(n("Transpose", &["x"], &["tr"]))
                .node(n("Split", &["x", "sp"], &["s1", "s2"]).with_attr("axis", 3i64))
                .node(n("Split", &["x"], &["t1", "t2", "t3"]).with_attr("axis", 2i64).with_attr("num_outputs", 3i64))
                .node(n("Tile", &["x", "rep"], &["ti"]))
                .node(n("Expand", &["x", "es"], &["ex"]))
                .node(n("Concat", &["s1", "s2"], &["cc"]).with_attr("axis", -1i64))
                .node(n("Trilu", &["x"], &["tu"]))
                .model(&["sq", "us", "fl", "tr", "s1", "s2", "t1", "t3", "ti", "ex", "cc", "tu"]),
        ),
        (
            "dynamic_batch_reshape",
            B::new(17)
                .input("x", &[-1, 3, 4])
                .init("i0", &[1], vec![0i64])
                .init("m1", &[1], vec![-1i64])
                .init("s", &[], vec![2i64])
                .node(n("Shape", &["x"], &["sh"]))
                .node(n("Gather", &["sh", "i0"], &["b"]))
                .node(n("Concat", &["b", "m1"], &["shape"]).with_attr("axis", 0i64))
                .node(n("Reshape", &["x", "shape"], &["y"]))
                .node(n("Size", &["x"], &["n"]))
                .node(n("Range", &["zero", "len", "s"], &["r"]))
                .node(n("Squeeze", &["b"], &["len"]))
                .init("zero", &[], vec![0i64])
                .node(
                    n("ConstantOfShape", &["shape2"], &["z"])
                        .with_attr("value", Tensor::from_vec(vec![1], vec![2.5f32]).unwrap()),
                )
                .node(n("Concat", &["b", "i0"], &["shape2"]).with_attr("axis", 0i64))
                .node(n("Reshape", &["x", "zero_shape"], &["y0"]))
                .init("zero_shape", &[3], vec![0i64, 4, 3])
                .model(&["y", "n", "r", "z", "y0"]),
        ),
        (
            "quant_per_axis",
            B::new(17)
                .input("x", &[1, 2, 5, 5])
                .init("wq", &[3, 2, 3, 3], (0..54).map(|v| (v * 37 % 255) as i8).collect::<Vec<i8>>())
                .init("ws", &[3], vec![0.01f32, 0.02, 0.015])
                .init("wz", &[3], vec![0i8, 3, -2])
                .init("xs", &[], vec![0.05f32])
                .init("xz", &[], vec![128u8])
                .node(n("DequantizeLinear", &["wq", "ws", "wz"], &["w"]).with_attr("axis", 0i64))
                .node(n("QuantizeLinear", &["x", "xs", "xz"], &["xq"]))
                .node(n("DequantizeLinear", &["xq", "xs", "xz"], &["xd"]))
                .node(n("Conv", &["xd", "w"], &["y"]))
                .model(&["y"]),
        ),
        ("quant_blocked_int4", {
            let packed: Vec<u8> = (0..16).map(|v| (v * 53 % 256) as u8).collect();
            let mut b = B::new(21).input("x", &[2, 8]);
            b.g.initializers
                .insert("wq".into(), Tensor::from_raw(DType::I4, vec![4, 8], ir::Buffer::from_vec(packed)).unwrap());
            b.init("ws", &[4, 2], vec![0.1f32, 0.2, 0.05, 0.3, 0.15, 0.25, 0.07, 0.11])
                .node(
                    n("DequantizeLinear", &["wq", "ws"], &["w"]).with_attr("axis", 1i64).with_attr("block_size", 4i64),
                )
                .node(n("Gemm", &["x", "w"], &["y"]).with_attr("transB", 1i64))
                .model(&["y"])
        }),
        (
            "resize_modes",
            B::new(18)
                .input("x", &[1, 2, 4, 5])
                .init("s2", &[4], vec![1.0f32, 1.0, 2.0, 3.0])
                .init("sz", &[4], vec![1i64, 2, 7, 3])
                .init("s1", &[4], vec![1.0f32, 1.0, 1.5, 0.6])
                .node(
                    n("Resize", &["x", "", "s2"], &["a"])
                        .with_attr("mode", "nearest")
                        .with_attr("coordinate_transformation_mode", "asymmetric")
                        .with_attr("nearest_mode", "floor"),
                )
                .node(n("Resize", &["x", "", "s2"], &["b"]))
                .node(n("Resize", &["x", "", "s1"], &["c"]).with_attr("mode", "linear"))
                .node(
                    n("Resize", &["x", "", "", "sz"], &["d"])
                        .with_attr("mode", "linear")
                        .with_attr("coordinate_transformation_mode", "align_corners"),
                )
                .node(n("Resize", &["x", "", "s2"], &["e"]).with_attr("mode", "cubic"))
                .node(
                    n("Resize", &["x", "", "", "sz"], &["f"])
                        .with_attr("mode", "nearest")
                        .with_attr("coordinate_transformation_mode", "half_pixel")
                        .with_attr("nearest_mode", "round_prefer_ceil"),
                )
                .model(&["a", "b", "c", "d", "e", "f"]),
        ),
        (
            "depth_space",
            B::new(17)
                .input("x", &[2, 8, 3, 4])
                .node(n("DepthToSpace", &["x"], &["dcr"]).with_attr("blocksize", 2i64))
                .node(n("DepthToSpace", &["x"], &["crd"]).with_attr("blocksize", 2i64).with_attr("mode", "CRD"))
                .node(n("SpaceToDepth", &["dcr"], &["s"]).with_attr("blocksize", 2i64))
                .model(&["dcr", "crd", "s"]),
        ),
        (
            "misc_layers",
            B::new(17)
                .input("x", &[2, 5, 3, 4])
                .typed("xi", DType::U8, &[1, 2, 5, 5])
                .init("ind", &[2, 3], vec![0i64, -1, 2, 3, 5, 1])
                .init("depth", &[], vec![4i64])
                .init("onoff", &[2], vec![-1.0f32, 2.0])
                .init("wi", &[3, 2, 3, 3], (0..54).map(|v| (v * 29 % 200) as u8).collect::<Vec<u8>>())
                .init("xz", &[], vec![7u8])
                .init("wz", &[], vec![100u8])
                .init("e", &[3, 5], vec![0.0f32; 15])
                .node(n("OneHot", &["ind", "depth", "onoff"], &["oh"]).with_attr("axis", 1i64))
                .node(n("EyeLike", &["e"], &["eye"]).with_attr("k", 1i64))
                .node(n("MeanVarianceNormalization", &["x"], &["mvn"]))
                .node(n("LRN", &["x"], &["lrn"]).with_attr("size", 3i64).with_attr("alpha", 0.01f32))
                .node(n("ConvInteger", &["xi", "wi", "xz", "wz"], &["ci"]).with_attr("pads", ints(&[1, 1, 1, 1])))
                .model(&["oh", "eye", "mvn", "lrn", "ci"]),
        ),
        (
            "empty_and_scalar_tensors",
            B::new(17)
                .input("x", &[2, 3])
                .init("e", &[0, 3], Vec::<f32>::new())
                .init("s", &[], vec![3.5f32])
                .node(n("Concat", &["x", "e"], &["c"]).with_attr("axis", 0i64))
                .node(n("Mul", &["c", "s"], &["y"]))
                .model(&["y"]),
        ),
        ("control_flow", {
            let then_g = Graph {
                outputs: vec![ValueInfo::tensor("t", DType::F32, None)],
                nodes: vec![n("Relu", &["x"], &["t"])],
                ..Default::default()
            };
            let mut else_g = Graph {
                outputs: vec![ValueInfo::tensor("e", DType::F32, None)],
                nodes: vec![n("Neg", &["x"], &["ne"]), n("Add", &["ne", "bias"], &["e"])],
                ..Default::default()
            };
            // A branch with its own initializer; the second If takes it.
            else_g.initializers.insert("bias".into(), Tensor::from_vec(vec![3], vec![0.5f32, -1.0, 2.0]).unwrap());
            let body = Graph {
                inputs: vec![
                    ValueInfo::tensor("it", DType::I64, Shape(vec![])),
                    ValueInfo::tensor("cin", DType::Bool, Shape(vec![])),
                    ValueInfo::tensor("acc", DType::F32, None),
                ],
                outputs: vec![
                    ValueInfo::tensor("cout", DType::Bool, Shape(vec![])),
                    ValueInfo::tensor("acc2", DType::F32, None),
                    ValueInfo::tensor("itf", DType::F32, None),
                ],
                nodes: vec![
                    n("Cast", &["it"], &["itf"]).with_attr("to", 1i64),
                    n("Add", &["acc", "itf"], &["acc2"]),
                    n("Less", &["it", "two"], &["cout"]),
                ],
                ..Default::default()
            };
            B::new(17)
                .input("x", &[2, 3])
                .init("flag", &[], vec![1u8])
                .init("trip", &[], vec![5i64])
                .init("two", &[], vec![2i64])
                .node(n("Cast", &["flag"], &["fb"]).with_attr("to", 9i64))
                .node(
                    n("If", &["fb"], &["yi"])
                        .with_attr("then_branch", then_g.clone())
                        .with_attr("else_branch", else_g.clone()),
                )
                .node(n("Not", &["fb"], &["nfb"]))
                .node(n("If", &["nfb"], &["ye"]).with_attr("then_branch", then_g).with_attr("else_branch", else_g))
                .node(n("Loop", &["trip", "fb", "yi"], &["yl", "scan"]).with_attr("body", body))
                .model(&["yi", "yl", "scan", "ye"])
        }),
    ];
    c.drain(..).map(|(name, (m, d))| (name, m, d)).collect()
}

#[test]
fn every_op_case_exports() {
    let keep = std::env::var_os("FMT_TORCHSCRIPT_EXPORT_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    fs::create_dir_all(&dir).unwrap();
    let mut jobs = Vec::new();
    for (name, model, dynamic) in cases() {
        TorchScriptExporter.check(&model).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pt = dir.join(format!("op_{name}.pt"));
        TorchScriptExporter.export(&model, &pt, &ExportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        if keep.is_some() {
            let onnx = dir.join(format!("op_{name}.onnx"));
            fmt_onnx::OnnxExporter
                .export(&model, &onnx, &ExportOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            jobs.push(serde_json::json!({
                "id": format!("op_{name}"), "model": pt, "reference_onnx": onnx,
                "dynamic_batch_inputs": dynamic, "rtol": 1e-5,
            }));
        }
    }
    if keep.is_some() {
        fs::write(dir.join("ops_jobs.json"), serde_json::to_vec_pretty(&jobs).unwrap()).unwrap();
    }
}
