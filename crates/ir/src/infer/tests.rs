use super::*;
use crate::{Attribute, Node, ValueInfo};

fn sym(s: &str) -> Dim {
    Dim::Symbolic(s.into())
}
fn shp(d: &[Dim]) -> Shape {
    Shape(d.to_vec())
}
fn f(n: u64) -> Dim {
    Dim::Fixed(n)
}
fn input(g: &mut Graph, name: &str, dtype: DType, dims: &[Dim]) {
    g.inputs.push(ValueInfo::tensor(name, dtype, shp(dims)));
}
fn init_i64(g: &mut Graph, name: &str, v: &[i64]) {
    g.initializers.insert(name.into(), Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap());
}
fn init_f32(g: &mut Graph, name: &str, shape: &[usize]) {
    let n = shape.iter().product();
    g.initializers.insert(name.into(), Tensor::from_vec(shape.to_vec(), vec![0.5f32; n]).unwrap());
}
fn ty(t: &Types, name: &str) -> String {
    t.ty(name).map_or("none".into(), ToString::to_string)
}

#[test]
fn torch_style_shape_computation_gives_a_symbolic_reshape() {
    // x: [batch, 3, 4] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) = [batch, 12]
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[sym("batch"), f(3), f(4)]);
    g.initializers.insert("zero".into(), Tensor::scalar(0i64));
    init_i64(&mut g, "axes0", &[0]);
    init_i64(&mut g, "minus1", &[-1]);
    g.nodes = vec![
        Node::new("Shape", ["x"], ["s"]),
        Node::new("Gather", ["s", "zero"], ["b"]),
        Node::new("Unsqueeze", ["b", "axes0"], ["b1"]),
        Node::new("Concat", ["b1", "minus1"], ["target"]).with_attr("axis", 0i64),
        Node::new("Reshape", ["x", "target"], ["y"]),
        Node::new("Size", ["x"], ["n"]),
        // torch's `x.shape[-k:]` arithmetic: Mod and Add on tracked scalars pick the slice bounds.
        Node::new("Mod", ["minus1", "three"], ["m"]),
        Node::new("Add", ["m", "one"], ["m1"]),
        Node::new("Slice", ["s", "m", "m1"], ["last"]),
    ];
    init_i64(&mut g, "three", &[3]);
    init_i64(&mut g, "one", &[1]);
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "s"), "i64[3]");
    assert_eq!(t.get("s").unwrap().ints().unwrap(), [SymInt::Sym("batch".into()), SymInt::Int(3), SymInt::Int(4)]);
    assert_eq!(ty(&t, "b"), "i64[]");
    assert_eq!(ty(&t, "target"), "i64[2]");
    assert_eq!(t.get("target").unwrap().ints().unwrap(), [SymInt::Sym("batch".into()), SymInt::Int(-1)]);
    assert_eq!(ty(&t, "y"), "f32[batch,12]");
    assert_eq!(ty(&t, "n"), "i64[]");
    assert_eq!(t.get("m").unwrap().ints().unwrap(), [SymInt::Int(2)]);
    assert_eq!(t.get("last").unwrap().ints().unwrap(), [SymInt::Int(4)]);
    // Inputs and initializers are typed too.
    assert_eq!(ty(&t, "x"), "f32[batch,3,4]");
    assert_eq!(ty(&t, "minus1"), "i64[1]");
}

#[test]
fn conv_pool_gemm_chain() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[sym("N"), f(3), f(224), f(224)]);
    init_f32(&mut g, "w", &[64, 3, 7, 7]);
    init_f32(&mut g, "b", &[64]);
    init_f32(&mut g, "fc", &[10, 64]);
    g.nodes = vec![
        Node::new("Conv", ["x", "w", "b"], ["c"])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("pads", vec![3i64, 3, 3, 3]),
        Node::new("Relu", ["c"], ["r"]),
        Node::new("MaxPool", ["r"], ["p"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("pads", vec![1i64, 1, 1, 1]),
        Node::new("Conv", ["p", "w2"], ["same"])
            .with_attr("auto_pad", "SAME_UPPER")
            .with_attr("kernel_shape", vec![3i64, 3]),
        Node::new("GlobalAveragePool", ["p"], ["gap"]),
        Node::new("Flatten", ["gap"], ["flat"]),
        Node::new("Gemm", ["flat", "fc"], ["y"]).with_attr("transB", 1i64),
    ];
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "c"), "f32[N,64,112,112]");
    assert_eq!(ty(&t, "r"), "f32[N,64,112,112]");
    assert_eq!(ty(&t, "p"), "f32[N,64,56,56]");
    // Weight w2 is not known: channels unknown, spatial kept by SAME padding; dtype from X.
    assert_eq!(ty(&t, "same"), "f32[N,?,56,56]");
    assert_eq!(ty(&t, "gap"), "f32[N,64,1,1]");
    assert_eq!(ty(&t, "flat"), "f32[N,64]");
    assert_eq!(ty(&t, "y"), "f32[N,10]");
}

#[test]
fn contradictions_are_errors_naming_the_node_or_value() {
    let mut g = Graph::default();
    input(&mut g, "a", DType::F32, &[f(3)]);
    input(&mut g, "b", DType::F32, &[f(4)]);
    g.nodes = vec![Node::new("Add", ["a", "b"], ["c"]).named("add1")];
    let e = infer(&g, 17).unwrap_err().to_string();
    assert_eq!(e, "node 'add1' (Add): shapes [3] and [4] do not broadcast");

    let mut g = Graph::default();
    input(&mut g, "a", DType::F32, &[f(2), f(6)]);
    init_i64(&mut g, "s", &[5]);
    g.nodes = vec![Node::new("Reshape", ["a", "s"], ["c"]).named("r")];
    let e = infer(&g, 17).unwrap_err().to_string();
    assert!(e.contains("node 'r' (Reshape): 12 elements cannot be reshaped to 5"), "{e}");

    let mut g = Graph::default();
    input(&mut g, "a", DType::F32, &[f(2)]);
    g.nodes = vec![Node::new("Relu", ["a"], ["c"])];
    g.outputs.push(ValueInfo::tensor("c", DType::F16, None));
    let e = infer(&g, 17).unwrap_err().to_string();
    assert!(e.contains("value 'c': declared type f16[...] contradicts inferred f32[2] (dtype f16 vs f32)"), "{e}");

    let mut g = Graph::default();
    input(&mut g, "a", DType::F32, &[f(2), f(3)]);
    input(&mut g, "b", DType::F32, &[f(4), f(5)]);
    g.nodes = vec![Node::new("MatMul", ["a", "b"], ["c"]).named("mm")];
    assert!(infer(&g, 17).unwrap_err().to_string().contains("inner dimensions differ"));
}

#[test]
fn declared_types_refine_and_unknowns_stay_unknown() {
    let mut g = Graph::default();
    input(&mut g, "a", DType::F32, &[sym("N"), Dim::Unknown]);
    g.inputs.push(ValueInfo::untyped("u"));
    g.nodes = vec![
        Node::new("Relu", ["a"], ["r"]),
        Node::new("Relu", ["u"], ["ru"]),
        Node::new("Frobnicate", ["a"], ["x"]).in_domain("custom"),
        Node::new("Relu", ["x"], ["rx"]),
        Node::new("Relu", ["missing"], ["rm"]),
    ];
    g.value_info.push(ValueInfo::tensor("r", DType::F32, shp(&[Dim::Unknown, f(7)])));
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "r"), "f32[N,7]");
    assert_eq!(ty(&t, "ru"), "?[...]");
    assert_eq!(ty(&t, "x"), "?");
    assert_eq!(ty(&t, "rx"), "?[...]");
    assert_eq!(ty(&t, "rm"), "?[...]");
}

#[test]
fn attribute_or_input_forms_follow_the_opset() {
    // Opset 11: axes as attributes.
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[f(1), f(3), f(1), f(5)]);
    g.nodes = vec![
        Node::new("Squeeze", ["x"], ["s"]).with_attr("axes", vec![0i64, 2]),
        Node::new("Unsqueeze", ["s"], ["u"]).with_attr("axes", vec![-1i64]),
        Node::new("ReduceMean", ["x"], ["m"]).with_attr("axes", vec![3i64]).with_attr("keepdims", 0i64),
        Node::new("Split", ["x"], ["p", "q"]).with_attr("axis", 3i64).with_attr("split", vec![2i64, 3]),
        Node::new("Pad", ["x", "pads"], ["pd"]),
    ];
    init_i64(&mut g, "pads", &[0, 0, 1, 1, 0, 0, 1, 1]);
    let t = infer(&g, 11).unwrap();
    assert_eq!(ty(&t, "s"), "f32[3,5]");
    assert_eq!(ty(&t, "u"), "f32[3,5,1]");
    assert_eq!(ty(&t, "m"), "f32[1,3,1]");
    assert_eq!((ty(&t, "p"), ty(&t, "q")), ("f32[1,3,1,2]".into(), "f32[1,3,1,3]".into()));
    assert_eq!(ty(&t, "pd"), "f32[1,3,3,7]");

    // Opset 9: Slice bounds as attributes.
    let mut g9 = Graph::default();
    input(&mut g9, "x", DType::F32, &[f(1), f(3), f(1), f(5)]);
    g9.nodes = vec![
        Node::new("Slice", ["x"], ["sl"])
            .with_attr("starts", vec![1i64])
            .with_attr("ends", vec![100i64])
            .with_attr("axes", vec![3i64]),
    ];
    assert_eq!(ty(&infer(&g9, 9).unwrap(), "sl"), "f32[1,3,1,4]");

    // Opset 18: the same as inputs; Split by num_outputs.
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[f(1), f(3), f(1), f(5)]);
    init_i64(&mut g, "a02", &[0, 2]);
    init_i64(&mut g, "a3", &[3]);
    init_i64(&mut g, "st", &[-2]);
    init_i64(&mut g, "en", &[i64::MAX]);
    g.nodes = vec![
        Node::new("Squeeze", ["x", "a02"], ["s"]),
        Node::new("ReduceSum", ["x", "a3"], ["m"]),
        Node::new("ReduceMax", ["x"], ["all"]).with_attr("keepdims", 0i64),
        Node::new("Split", ["x"], ["p", "q", "r"]).with_attr("axis", 3i64).with_attr("num_outputs", 3i64),
        Node::new("Slice", ["x", "st", "en", "a3"], ["sl"]),
    ];
    let t = infer(&g, 18).unwrap();
    assert_eq!(ty(&t, "s"), "f32[3,5]");
    assert_eq!(ty(&t, "m"), "f32[1,3,1,1]");
    assert_eq!(ty(&t, "all"), "f32[]");
    assert_eq!([ty(&t, "p"), ty(&t, "q"), ty(&t, "r")], ["f32[1,3,1,2]", "f32[1,3,1,2]", "f32[1,3,1,1]"]);
    assert_eq!(ty(&t, "sl"), "f32[1,3,1,2]");
}

#[test]
fn dtype_rules_come_from_the_schema() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[f(2), f(3)]);
    input(&mut g, "i", DType::I8, &[f(2), f(3)]);
    g.initializers.insert("scale".into(), Tensor::scalar(half::f16::from_f32(0.1)));
    g.initializers.insert("zp".into(), Tensor::scalar(0i8));
    g.nodes = vec![
        Node::new("Cast", ["x"], ["c"]).with_attr("to", 10i64),
        Node::new("Less", ["x", "x"], ["lt"]),
        Node::new("Shape", ["x"], ["s"]),
        Node::new("ArgMax", ["x"], ["am"]).with_attr("axis", 1i64),
        Node::new("QuantizeLinear", ["x", "scale"], ["q"]),
        Node::new("QuantizeLinear", ["x", "scale", "zp"], ["q8"]),
        Node::new("DequantizeLinear", ["i", "scale"], ["dq"]),
        Node::new("DequantizeLinear", ["i", "scale"], ["dq32"]).with_attr("output_dtype", 1i64),
        Node::new("DynamicQuantizeLinear", ["x"], ["y", "ys", "yz"]),
        Node::new("MatMulInteger", ["i", "it"], ["mi"]),
        Node::new("TopK", ["x", "k"], ["tv", "ti"]).with_attr("axis", 1i64),
        Node::new("Dropout", ["x"], ["d", "mask"]),
    ];
    init_i64(&mut g, "k", &[2]);
    g.initializers.insert("it".into(), Tensor::from_vec(vec![3, 4], vec![0i8; 12]).unwrap());
    let t = infer(&g, 23).unwrap();
    assert_eq!(ty(&t, "c"), "f16[2,3]");
    assert_eq!(ty(&t, "lt"), "bool[2,3]");
    assert_eq!(ty(&t, "s"), "i64[2]");
    assert_eq!(ty(&t, "am"), "i64[2,1]");
    assert_eq!(ty(&t, "q"), "u8[2,3]");
    assert_eq!(ty(&t, "q8"), "i8[2,3]");
    assert_eq!(ty(&t, "dq"), "f16[2,3]");
    assert_eq!(ty(&t, "dq32"), "f32[2,3]");
    assert_eq!([ty(&t, "y"), ty(&t, "ys"), ty(&t, "yz")], ["u8[2,3]", "f32[]", "u8[]"]);
    assert_eq!(ty(&t, "mi"), "i32[2,4]");
    assert_eq!([ty(&t, "tv"), ty(&t, "ti")], ["f32[2,2]", "i64[2,2]"]);
    assert_eq!([ty(&t, "d"), ty(&t, "mask")], ["f32[2,3]", "bool[2,3]"]);
    // A bad dtype code read from a file is an error, not a panic.
    let mut g2 = Graph::default();
    input(&mut g2, "x", DType::F32, &[f(2)]);
    g2.nodes = vec![Node::new("Cast", ["x"], ["c"]).with_attr("to", 99i64).named("bad")];
    assert!(
        infer(&g2, 17)
            .unwrap_err()
            .to_string()
            .contains("node 'bad' (Cast): attribute 'to': unknown ONNX data type code 99")
    );
}

#[test]
fn layer_shapes() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[sym("B"), sym("S"), f(64)]);
    input(&mut g, "img", DType::F32, &[f(1), f(8), f(10), f(10)]);
    init_f32(&mut g, "gamma", &[64]);
    init_f32(&mut g, "w", &[64, 32]);
    init_f32(&mut g, "wt", &[8, 4, 3, 3]);
    g.initializers.insert("scales".into(), Tensor::from_vec(vec![4], vec![1.0f32, 1.0, 2.0, 2.0]).unwrap());
    g.nodes = vec![
        Node::new("LayerNormalization", ["x", "gamma"], ["ln", "mean", "inv"]),
        Node::new("MatMul", ["ln", "w"], ["mm"]),
        Node::new("Transpose", ["mm"], ["tr"]).with_attr("perm", vec![0i64, 2, 1]),
        Node::new("Softmax", ["tr"], ["sm"]),
        Node::new("Resize", ["img", "", "scales"], ["up"]),
        Node::new("ConvTranspose", ["img", "wt"], ["ct"]).with_attr("strides", vec![2i64, 2]),
        Node::new("DepthToSpace", ["img"], ["d2s"]).with_attr("blocksize", 2i64),
        Node::new("AveragePool", ["img"], ["ap"])
            .with_attr("kernel_shape", vec![3i64, 3])
            .with_attr("ceil_mode", 1i64)
            .with_attr("strides", vec![2i64, 2]),
    ];
    g.nodes[4].inputs[1] = None;
    let t = infer(&g, 18).unwrap();
    assert_eq!(ty(&t, "ln"), "f32[B,S,64]");
    assert_eq!(ty(&t, "mean"), "f32[B,S,1]");
    assert_eq!(ty(&t, "mm"), "f32[B,S,32]");
    assert_eq!(ty(&t, "tr"), "f32[B,32,S]");
    assert_eq!(ty(&t, "sm"), "f32[B,32,S]");
    assert_eq!(ty(&t, "up"), "f32[1,8,20,20]");
    assert_eq!(ty(&t, "ct"), "f32[1,4,21,21]");
    assert_eq!(ty(&t, "d2s"), "f32[1,2,20,20]");
    assert_eq!(ty(&t, "ap"), "f32[1,8,5,5]");
}

#[test]
fn recurrent_and_attention_shapes() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[sym("T"), f(2), f(10)]);
    init_f32(&mut g, "W", &[2, 80, 10]);
    init_f32(&mut g, "R", &[2, 80, 20]);
    input(&mut g, "q", DType::F16, &[f(2), f(8), sym("S"), f(16)]);
    input(&mut g, "k", DType::F16, &[f(2), f(2), sym("L"), f(16)]);
    input(&mut g, "v", DType::F16, &[f(2), f(2), sym("L"), f(32)]);
    g.nodes = vec![
        Node::new("LSTM", ["x", "W", "R"], ["y", "yh", "yc"])
            .with_attr("hidden_size", 20i64)
            .with_attr("direction", "bidirectional"),
        Node::new("Attention", ["q", "k", "v"], ["att"]),
    ];
    let t = infer(&g, 23).unwrap();
    assert_eq!(ty(&t, "y"), "f32[T,2,2,20]");
    assert_eq!(ty(&t, "yh"), "f32[2,2,20]");
    assert_eq!(ty(&t, "yc"), "f32[2,2,20]");
    assert_eq!(ty(&t, "att"), "f16[2,8,S,32]");
}

#[test]
fn constants_and_generators() {
    let mut g = Graph {
        nodes: vec![
            Node::new("Constant", Vec::<String>::new(), ["c"]).with_attr("value_ints", vec![2i64, 3]),
            Node::new("ConstantOfShape", ["c"], ["z"])
                .with_attr("value", Tensor::from_vec(vec![1], vec![7i64]).unwrap()),
            Node::new("Constant", Vec::<String>::new(), ["f"]).with_attr("value_float", 1.5f32),
            Node::new("Range", ["r0", "r1", "r2"], ["rg"]),
            Node::new("Expand", ["f", "c"], ["e"]),
            Node::new("Tile", ["z", "c"], ["tl"]),
            Node::new("Where", ["cond", "z", "z"], ["w"]),
        ],
        ..Graph::default()
    };
    g.initializers.insert("r0".into(), Tensor::scalar(1i64));
    g.initializers.insert("r1".into(), Tensor::scalar(10i64));
    g.initializers.insert("r2".into(), Tensor::scalar(3i64));
    input(&mut g, "cond", DType::Bool, &[f(1), f(3)]);
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "c"), "i64[2]");
    assert_eq!(ty(&t, "z"), "i64[2,3]");
    assert_eq!(t.get("z").unwrap().ints().map(<[SymInt]>::len), Some(6));
    assert_eq!(ty(&t, "f"), "f32[]");
    assert_eq!(ty(&t, "rg"), "i64[3]");
    assert_eq!(t.get("rg").unwrap().ints().unwrap(), [SymInt::Int(1), SymInt::Int(4), SymInt::Int(7)]);
    assert_eq!(ty(&t, "e"), "f32[2,3]");
    assert_eq!(ty(&t, "tl"), "i64[4,9]");
    assert_eq!(ty(&t, "w"), "i64[2,3]");
}

#[test]
fn subgraph_outputs_come_from_the_bodies() {
    let branch = |v: f32| {
        let mut b = Graph { nodes: vec![Node::new("Mul", ["x", "k"], ["o"])], ..Graph::default() };
        b.initializers.insert("k".into(), Tensor::scalar(v));
        b.outputs.push(ValueInfo::untyped("o"));
        b
    };
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[sym("N"), f(4)]);
    input(&mut g, "c", DType::Bool, &[]);
    let mut if_node = Node::new("If", ["c"], ["y"]);
    if_node.attrs.insert("then_branch".into(), Attribute::Graph(Box::new(branch(2.0))));
    if_node.attrs.insert("else_branch".into(), Attribute::Graph(Box::new(branch(3.0))));
    // Loop body: (i, cond, acc) -> (cond, acc + x, acc) with a scan output.
    let body = Graph {
        inputs: vec![ValueInfo::untyped("i"), ValueInfo::untyped("cin"), ValueInfo::untyped("acc")],
        nodes: vec![Node::new("Add", ["acc", "x"], ["acc2"]), Node::new("Identity", ["cin"], ["cout"])],
        outputs: vec![ValueInfo::untyped("cout"), ValueInfo::untyped("acc2"), ValueInfo::untyped("acc2")],
        ..Graph::default()
    };
    let mut lp = Node::new("Loop", ["m", "", "x"], ["final", "scan"]);
    lp.inputs[1] = None;
    lp.attrs.insert("body".into(), Attribute::Graph(Box::new(body)));
    g.initializers.insert("m".into(), Tensor::scalar(5i64));
    g.nodes = vec![if_node, lp];
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "y"), "f32[N,4]");
    assert_eq!(ty(&t, "final"), "f32[N,4]");
    assert_eq!(ty(&t, "scan"), "f32[5,N,4]");
}

#[test]
fn infer_node_serves_importers() {
    let x = Known::tensor(Some(DType::F32), Some(shp(&[sym("N"), f(3), f(32), f(32)])));
    let w = Known::from_tensor(&Tensor::from_vec(vec![16, 3, 3, 3], vec![0f32; 432]).unwrap());
    let conv = Node::new("Conv", ["x", "w"], ["y"]).with_attr("pads", vec![1i64, 1, 1, 1]);
    let out = infer_node(&conv, &[Some(&x), Some(&w)], 17).unwrap();
    assert_eq!(out[0].ty.to_string(), "f32[N,16,32,32]");
    // Omitted optional input, unknown present input.
    let clip = Node::new("Clip", ["x", "", "hi"], ["y"]);
    let unknown = Known::unknown();
    let out = infer_node(&clip, &[Some(&x), None, Some(&unknown)], 13).unwrap();
    assert_eq!(out[0].ty.to_string(), "f32[N,3,32,32]");
    // Ops of other domains are unknown.
    let out = infer_node(&Node::new("Foo", ["x"], ["y", "z"]).in_domain("tf"), &[Some(&x)], 17).unwrap();
    assert_eq!(out, vec![Known::unknown(), Known::unknown()]);
}

#[test]
fn sequences_and_ml_ops() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[f(6), f(4)]);
    g.nodes = vec![
        Node::new("SplitToSequence", ["x"], ["seq"]).with_attr("keepdims", 0i64),
        Node::new("SequenceLength", ["seq"], ["len"]),
        Node::new("ConcatFromSequence", ["seq"], ["cat"]).with_attr("axis", 0i64).with_attr("new_axis", 1i64),
        Node::new("LabelEncoder", ["x"], ["le"])
            .in_domain("ai.onnx.ml")
            .with_attr("values_strings", Attribute::Strings(vec!["a".into()])),
    ];
    let t = infer(&g, 17).unwrap();
    assert_eq!(ty(&t, "seq"), "seq<f32[4]>");
    assert_eq!(ty(&t, "len"), "i64[]");
    assert_eq!(ty(&t, "cat"), "f32[?,4]");
    assert_eq!(ty(&t, "le"), "string[6,4]");
}

#[test]
fn extreme_values_from_a_file_give_unknowns_or_errors_not_panics() {
    let mut g = Graph::default();
    input(&mut g, "x", DType::F32, &[f(1), f(1), f(u64::MAX)]);
    input(&mut g, "w", DType::F32, &[f(1), f(1), f(3)]);
    input(&mut g, "v", DType::F32, &[f(10)]);
    input(&mut g, "img", DType::F32, &[f(1), f(4), f(2), f(2)]);
    input(&mut g, "long_shape", DType::I64, &[f(u64::MAX)]);
    init_i64(&mut g, "starts", &[-1]);
    init_i64(&mut g, "ends", &[i64::MIN]);
    init_i64(&mut g, "steps", &[i64::MIN]);
    g.nodes = vec![
        Node::new("ConvTranspose", ["x", "w"], ["ct"])
            .with_attr("strides", vec![i64::MAX])
            .with_attr("dilations", vec![i64::MAX]),
        Node::new("Slice", ["v", "starts", "ends", "", "steps"], ["sl"]),
        Node::new("DepthToSpace", ["img"], ["ds"]).with_attr("blocksize", i64::MAX),
        Node::new("Reshape", ["v", "long_shape"], ["rs"]),
    ];
    let t = infer(&g, 17).unwrap();
    assert_eq!(t.shape("ct").map(|s| s.dims().to_vec()), Some(vec![f(1), f(1), Dim::Unknown]));
    assert_eq!(ty(&t, "sl"), "f32[1]");
    // The block area overflows; the spatial sizes (2 * (2^63 - 1)) still fit.
    let side = f(u64::MAX - 1);
    assert_eq!(t.shape("ds").map(|s| s.dims().to_vec()), Some(vec![f(1), Dim::Unknown, side.clone(), side]));
    assert_eq!(t.rank("rs"), None);

    let mut g = Graph::default();
    input(&mut g, "data", DType::F32, &[f(2), f(3)]);
    input(&mut g, "idx", DType::I64, &[f(2), f(1)]);
    g.nodes = vec![Node::new("GatherND", ["data", "idx"], ["y"]).with_attr("batch_dims", i64::MAX)];
    assert!(infer(&g, 17).is_err());
}
