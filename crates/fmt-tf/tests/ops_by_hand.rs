//! Lowerings checked against values worked out by hand from each op's
//! definition (TensorFlow's kernels), edge cases included: negative
//! operands of the truncating ops, out-of-range shift amounts, NaN and
//! infinities. Each case is one TF op whose inputs are fed as model inputs
//! (so nothing is folded at import) unless a test says otherwise.

use std::collections::BTreeMap;

use fmt_tf::{LowerOptions, TfAttr, TfGraph, TfNode, TfPort, TfRef};
use ir::{DType, Tensor};

/// One op `op` over `inputs` (fed, or constants when `consts`), with
/// `attrs`; returns its output (of element type `out`, as the signature
/// declares it) as the evaluator computes it, and the lowered model.
fn run_op_n(
    op: &str,
    inputs: &[Tensor],
    attrs: Vec<(&str, TfAttr)>,
    consts: bool,
    out: DType,
) -> (Vec<Tensor>, ir::Model) {
    let mut g = TfGraph { name: op.to_string(), ..TfGraph::default() };
    let mut feeds = Vec::new();
    let mut refs = Vec::new();
    for (k, t) in inputs.iter().enumerate() {
        let name = format!("in{k}");
        let code = fmt_tf::dtype::from_ir(t.dtype()).unwrap();
        let mut a = BTreeMap::from([("dtype".to_string(), TfAttr::Type(code))]);
        if consts {
            a.insert("value".into(), TfAttr::Tensor(t.clone()));
            g.nodes.push(TfNode { name: name.clone(), op: "Const".into(), inputs: vec![], attrs: a });
        } else {
            let shape: Vec<Option<i64>> = t.shape().iter().map(|&d| Some(d as i64)).collect();
            g.nodes.push(TfNode { name: name.clone(), op: "Placeholder".into(), inputs: vec![], attrs: a });
            g.inputs.push(TfPort {
                name: name.clone(),
                tensor: TfRef::new(&name, 0),
                dtype: t.dtype(),
                shape: Some(shape),
            });
            feeds.push((name.clone(), eval::Value::Tensor(eval::from_ir(t).unwrap())));
        }
        refs.push(TfRef::new(&name, 0));
    }
    let attrs = attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    g.nodes.push(TfNode { name: "op".into(), op: op.into(), inputs: refs, attrs });
    g.outputs.push(TfPort { name: "out_0".into(), tensor: TfRef::new("op", 0), dtype: out, shape: None });
    let model = fmt_tf::lower(&g, &LowerOptions::default()).unwrap_or_else(|e| panic!("{op}: {e}"));
    ir::schema::check_graph(&model.graph, model.opset("").unwrap()).unwrap();
    let outs = eval::run(&model, feeds).unwrap_or_else(|e| panic!("{op}: {e}"));
    let outs = outs.into_iter().map(|(_, v)| eval::to_ir(v.tensor().unwrap()).unwrap()).collect();
    (outs, model)
}

/// [`run_op_n`] on fed inputs, the output of the first input's type.
fn run_op(op: &str, inputs: &[Tensor], attrs: Vec<(&str, TfAttr)>) -> Tensor {
    run_op_as(op, inputs, attrs, inputs[0].dtype())
}

/// [`run_op_n`] on fed inputs, the output of type `out`.
fn run_op_as(op: &str, inputs: &[Tensor], attrs: Vec<(&str, TfAttr)>, out: DType) -> Tensor {
    run_op_n(op, inputs, attrs, false, out).0.remove(0)
}

fn t<T: ir::Element>(shape: &[usize], v: Vec<T>) -> Tensor {
    Tensor::from_vec(shape.to_vec(), v).unwrap()
}

fn v1<T: ir::Element>(v: Vec<T>) -> Tensor {
    t(&[v.len()], v)
}

fn ty(d: DType) -> TfAttr {
    TfAttr::Type(fmt_tf::dtype::from_ir(d).unwrap())
}

fn f32s(x: &Tensor) -> Vec<f32> {
    x.as_slice::<f32>().unwrap().to_vec()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * w.abs().max(1e-30);
        assert!(same, "{got:?} vs {want:?}");
    }
}

#[test]
fn truncate_div_and_mod_round_toward_zero() {
    let a = v1(vec![7i32, -7, 7, -7, 0, 9]);
    let b = v1(vec![2i32, 2, -2, -2, 3, -4]);
    // 7/2 = 3.5 → 3, -3.5 → -3; fmod keeps the dividend's sign.
    let q = run_op("TruncateDiv", &[a.clone(), b.clone()], vec![]);
    assert_eq!(&*q.as_slice::<i32>().unwrap(), &[3, -3, -3, 3, 0, -2]);
    let r = run_op("TruncateMod", &[a, b], vec![]);
    assert_eq!(&*r.as_slice::<i32>().unwrap(), &[1, -1, 1, -1, 0, 1]);
    // Floats: the real quotient truncated (FloorDiv would give -4 for -3.5).
    let q = run_op("TruncateDiv", &[v1(vec![7f32, -7.0, 1.0, -0.5]), v1(vec![2f32, 2.0, 0.0, 4.0])], vec![]);
    assert_close(&f32s(&q), &[3.0, -3.0, f32::INFINITY, 0.0], 0.0);
    let r = run_op("TruncateMod", &[v1(vec![5.5f32, -5.5]), v1(vec![2f32, 2.0])], vec![]);
    assert_close(&f32s(&r), &[1.5, -1.5], 0.0);
    // Unsigned and 64-bit, broadcast against a scalar divisor.
    let q = run_op("TruncateDiv", &[v1(vec![255u8, 10, 1]), t(&[], vec![4u8])], vec![]);
    assert_eq!(&*q.as_slice::<u8>().unwrap(), &[63, 2, 0]);
    let q = run_op("TruncateDiv", &[v1(vec![-9i64, 9]), t(&[], vec![4i64])], vec![]);
    assert_eq!(&*q.as_slice::<i64>().unwrap(), &[-2, 2]);
}

#[test]
fn div_no_nan_gives_zero_for_a_zero_divisor() {
    let x = t(&[2, 2], vec![1f32, f32::NAN, 0.0, -6.0]);
    let y = v1(vec![0f32, 2.0]);
    // Row-wise: 1/0 → 0, NaN/2 = NaN, 0/0 → 0, -6/2 = -3.
    let got = run_op("DivNoNan", &[x, y], vec![]);
    assert_close(&f32s(&got), &[0.0, f32::NAN, 0.0, -3.0], 0.0);
}

#[test]
fn shifts_clamp_the_amount_and_shift_signed_values_arithmetically() {
    // TF clamps the amount to [0, bits - 1]: -1 → 0, 9 → 7 for 8 bits.
    let x = v1(vec![1u8, 1, 3, 255, 200]);
    let s = v1(vec![0u8, 7, 9, 1, 3]);
    let l = run_op("LeftShift", &[x.clone(), s.clone()], vec![]);
    assert_eq!(&*l.as_slice::<u8>().unwrap(), &[1, 128, 128, 254, 64]);
    let r = run_op("RightShift", &[x, s], vec![]);
    assert_eq!(&*r.as_slice::<u8>().unwrap(), &[1, 0, 0, 127, 25]);
    let x = v1(vec![-16i8, -1, -128, 5, 64, -7]);
    let s = v1(vec![2i8, 3, 7, -1, 1, 9]);
    // Arithmetic: -16 >> 2 = -4, -1 >> 3 = -1, -128 >> 7 = -1, 5 >> 0, 64 >> 1, -7 >> 7 = -1.
    let r = run_op("RightShift", &[x.clone(), s.clone()], vec![]);
    assert_eq!(&*r.as_slice::<i8>().unwrap(), &[-4, -1, -1, 5, 32, -1]);
    // Bit patterns: -16 << 2 = -64, -1 << 3 = -8, -128 << 7 = 0, 5 << 0, 64 << 1 wraps to -128, -7 << 7 = -128.
    let l = run_op("LeftShift", &[x, s], vec![]);
    assert_eq!(&*l.as_slice::<i8>().unwrap(), &[-64, -8, 0, 5, -128, -128]);
    let r = run_op("RightShift", &[v1(vec![i64::MIN, -3]), v1(vec![63i64, 1])], vec![]);
    assert_eq!(&*r.as_slice::<i64>().unwrap(), &[-1, -2]);
}

#[test]
fn bitwise_ops_and_invert() {
    let a = v1(vec![0b1100u16, 0xffff, 0]);
    let b = v1(vec![0b1010u16, 0x00f0, 0]);
    let (outs, model) = run_op_n("BitwiseAnd", &[a.clone(), b.clone()], vec![], false, DType::U16);
    assert_eq!(&*outs[0].as_slice::<u16>().unwrap(), &[0b1000, 0x00f0, 0]);
    // BitwiseAnd exists from opset 18: the model is lowered at that opset.
    assert_eq!(model.opset_imports.get(""), Some(&18));
    let o = run_op("BitwiseOr", &[a.clone(), b.clone()], vec![]);
    assert_eq!(&*o.as_slice::<u16>().unwrap(), &[0b1110, 0xffff, 0]);
    let x = run_op("BitwiseXor", &[a, b], vec![]);
    assert_eq!(&*x.as_slice::<u16>().unwrap(), &[0b0110, 0xff0f, 0]);
    let x = run_op("BitwiseXor", &[v1(vec![-1i32, 5]), v1(vec![6i32, -6])], vec![]);
    assert_eq!(&*x.as_slice::<i32>().unwrap(), &[-7, -1]);
    let (outs, model) = run_op_n("Invert", &[v1(vec![0i8, -1, 127, -128])], vec![], false, DType::I8);
    assert_eq!(&*outs[0].as_slice::<i8>().unwrap(), &[-1, 0, -128, 127]);
    // Invert is arithmetic, so the default opset stays.
    assert_eq!(model.opset_imports.get(""), Some(&ir::opset::DEFAULT_OPSET));
    let i = run_op("Invert", &[v1(vec![0u8, 0x0f, 255])], vec![]);
    assert_eq!(&*i.as_slice::<u8>().unwrap(), &[255, 0xf0, 0]);
    let i = run_op("Invert", &[v1(vec![0u64, 1])], vec![]);
    assert_eq!(&*i.as_slice::<u64>().unwrap(), &[u64::MAX, u64::MAX - 1]);
}

#[test]
fn unary_math() {
    let x = v1(vec![0.5f32, -0.25]);
    type Reference = fn(f32) -> f32;
    let cases: [(&str, Reference); 9] = [
        ("Tan", f32::tan),
        ("Sinh", f32::sinh),
        ("Cosh", f32::cosh),
        ("Asin", f32::asin),
        ("Acos", f32::acos),
        ("Atan", f32::atan),
        ("Asinh", f32::asinh),
        ("Atanh", f32::atanh),
        ("Expm1", f32::exp_m1),
    ];
    for (op, f) in cases {
        let got = run_op(op, std::slice::from_ref(&x), vec![]);
        let want: Vec<f32> = [0.5f32, -0.25].iter().map(|&v| f(v)).collect();
        assert_close(&f32s(&got), &want, 1e-6);
    }
    let got = run_op("Acosh", &[v1(vec![1f32, 2.0, 0.5])], vec![]);
    assert_close(&f32s(&got), &[0.0, 2f32.acosh(), f32::NAN], 1e-6);
    // Expm1 keeps its precision near 0 (exp(x) - 1 would give 1.19e-7 or 0)
    // and is exact at the extremes.
    let x = v1(vec![1e-10f32, -1e-7, 100.0, -100.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0]);
    let got = run_op("Expm1", &[x], vec![]);
    assert_close(&f32s(&got), &[1e-10, -1e-7, f32::INFINITY, -1.0, f32::INFINITY, -1.0, f32::NAN, 0.0], 1e-6);
    let got = run_op("Expm1", &[v1(vec![1e-12f64, 1.0])], vec![]);
    let got = got.as_slice::<f64>().unwrap();
    assert!((got[0] - 1e-12).abs() < 1e-24 && (got[1] - (std::f64::consts::E - 1.0)).abs() < 1e-15, "{got:?}");
}

#[test]
fn is_inf_and_determinant() {
    let x = v1(vec![f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0, f32::MAX]);
    let got = run_op_as("IsInf", &[x], vec![], DType::Bool);
    assert_eq!(got.to_bools().unwrap(), [true, true, false, false, false]);
    // det [[1, 2], [3, 4]] = -2; det [[2, 0], [0, 3]] = 6, batched.
    let m = t(&[2, 2, 2], vec![1f32, 2.0, 3.0, 4.0, 2.0, 0.0, 0.0, 3.0]);
    let got = run_op("MatrixDeterminant", &[m], vec![]);
    assert_eq!(got.shape(), &[2]);
    assert_close(&f32s(&got), &[-2.0, 6.0], 1e-6);
}

#[test]
fn broadcast_args_computed_and_folded() {
    for consts in [false, true] {
        let (outs, _) =
            run_op_n("BroadcastArgs", &[v1(vec![2i32, 1, 3]), v1(vec![4i32, 1])], vec![], consts, DType::I32);
        assert_eq!(&*outs[0].as_slice::<i32>().unwrap(), &[2, 4, 3], "consts={consts}");
        // 0 against 1 is 0; the shorter side gains leading 1s.
        let (outs, _) = run_op_n("BroadcastArgs", &[v1(vec![1i64]), v1(vec![5i64, 0, 1])], vec![], consts, DType::I64);
        assert_eq!(&*outs[0].as_slice::<i64>().unwrap(), &[5, 0, 1], "consts={consts}");
    }
    let e = fmt_tf::lower(&graph_of("BroadcastArgs", &[v1(vec![2i32, 3]), v1(vec![4i32])]), &LowerOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not broadcast"), "{e}");
}

/// A graph of one op over constant inputs (for errors at import).
fn graph_of(op: &str, inputs: &[Tensor]) -> TfGraph {
    let mut nodes: Vec<TfNode> = inputs
        .iter()
        .enumerate()
        .map(|(k, t)| TfNode {
            name: format!("in{k}"),
            op: "Const".into(),
            inputs: vec![],
            attrs: BTreeMap::from([("value".to_string(), TfAttr::Tensor(t.clone()))]),
        })
        .collect();
    let refs = (0..inputs.len()).map(|k| TfRef::new(format!("in{k}"), 0)).collect();
    nodes.push(TfNode { name: "op".into(), op: op.into(), inputs: refs, attrs: BTreeMap::new() });
    TfGraph {
        name: op.into(),
        nodes,
        inputs: vec![],
        outputs: vec![TfPort { name: "y".into(), tensor: TfRef::new("op", 0), dtype: DType::F32, shape: None }],
        functions: Default::default(),
    }
}

#[test]
fn one_hot_gives_negative_and_large_indices_all_off_rows() {
    let idx = v1(vec![0i32, 2, -1, 3]);
    let depth = t(&[], vec![3i32]);
    let (on, off) = (t(&[], vec![5f32]), t(&[], vec![-1f32]));
    let got = run_op_as("OneHot", &[idx.clone(), depth.clone(), on.clone(), off.clone()], vec![], DType::F32);
    assert_eq!(got.shape(), &[4, 3]);
    #[rustfmt::skip]
    let want = [5.0, -1.0, -1.0,  -1.0, -1.0, 5.0,  -1.0, -1.0, -1.0,  -1.0, -1.0, -1.0];
    assert_close(&f32s(&got), &want, 0.0);
    // axis 0: the depth axis first.
    let got = run_op_as("OneHot", &[idx, depth, on, off], vec![("axis", TfAttr::Int(0))], DType::F32);
    assert_eq!(got.shape(), &[3, 4]);
    #[rustfmt::skip]
    let want = [5.0, -1.0, -1.0, -1.0,  -1.0, -1.0, -1.0, -1.0,  -1.0, 5.0, -1.0, -1.0];
    assert_close(&f32s(&got), &want, 0.0);
    let (on, off) = (Tensor::from_bools(vec![], &[true]).unwrap(), Tensor::from_bools(vec![], &[false]).unwrap());
    let got = run_op_as("OneHot", &[v1(vec![1u8]), t(&[], vec![2i32]), on, off], vec![], DType::Bool);
    assert_eq!(got.to_bools().unwrap(), [false, true]);
}

#[test]
fn space_depth_in_both_layouts() {
    // NHWC [1, 2, 2, 1] holding 0..4 → SpaceToDepth 2 → [1, 1, 1, 4] in
    // row-major block order; DepthToSpace undoes it.
    let x = t(&[1, 2, 2, 1], vec![0f32, 1.0, 2.0, 3.0]);
    let bs = ("block_size", TfAttr::Int(2));
    let d = run_op("SpaceToDepth", std::slice::from_ref(&x), vec![bs.clone()]);
    assert_eq!(d.shape(), &[1, 1, 1, 4]);
    assert_close(&f32s(&d), &[0.0, 1.0, 2.0, 3.0], 0.0);
    let s = run_op("DepthToSpace", &[d], vec![bs.clone()]);
    assert_eq!(s.shape(), &[1, 2, 2, 1]);
    assert_close(&f32s(&s), &[0.0, 1.0, 2.0, 3.0], 0.0);
    // NHWC depth [1, 1, 1, 8] = 2x2 blocks of 2 channels: pixel (i, j) takes
    // channels (2i + j)·2 .. +2.
    let x = t(&[1, 1, 1, 8], (0..8).map(|v| v as f32).collect());
    let s = run_op("DepthToSpace", &[x], vec![bs.clone()]);
    assert_eq!(s.shape(), &[1, 2, 2, 2]);
    assert_close(&f32s(&s), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 0.0);
    // NCHW [1, 4, 1, 1]: the same depth order, channels first.
    let x = t(&[1, 4, 1, 1], vec![0f32, 1.0, 2.0, 3.0]);
    let s = run_op("DepthToSpace", &[x], vec![bs, ("data_format", TfAttr::Str(b"NCHW".to_vec()))]);
    assert_eq!(s.shape(), &[1, 1, 2, 2]);
    assert_close(&f32s(&s), &[0.0, 1.0, 2.0, 3.0], 0.0);
}

#[test]
fn reverse_sequence_on_any_two_axes() {
    // x[b, t]: rows reversed over their first len[b] steps.
    let x = t(&[2, 4], vec![1f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let lens = v1(vec![3i64, 1]);
    let got = run_op("ReverseSequence", &[x, lens], vec![("seq_dim", TfAttr::Int(1)), ("batch_dim", TfAttr::Int(0))]);
    assert_close(&f32s(&got), &[3.0, 2.0, 1.0, 4.0, 5.0, 6.0, 7.0, 8.0], 0.0);
    // x[t, c, b] (time 0, batch 2), lengths [2, 3]: batch 0 swaps t 0 and 1,
    // batch 1 reverses t 0..3.
    let x = t(&[3, 1, 2], vec![0i32, 10, 1, 11, 2, 12]);
    let got = run_op(
        "ReverseSequence",
        &[x, v1(vec![2i32, 3])],
        vec![("seq_dim", TfAttr::Int(0)), ("batch_dim", TfAttr::Int(2))],
    );
    assert_eq!(got.shape(), &[3, 1, 2]);
    assert_eq!(&*got.as_slice::<i32>().unwrap(), &[1, 12, 0, 11, 2, 10]);
}

#[test]
fn tensor_scatters() {
    let x = v1(vec![1f32, 2.0, 3.0, 4.0]);
    let idx = t(&[2, 1], vec![3i32, 1]);
    let upd = v1(vec![10f32, -5.0]);
    let cases: [(&str, [f32; 4]); 5] = [
        ("TensorScatterUpdate", [1.0, -5.0, 3.0, 10.0]),
        ("TensorScatterAdd", [1.0, -3.0, 3.0, 14.0]),
        ("TensorScatterSub", [1.0, 7.0, 3.0, -6.0]),
        ("TensorScatterMax", [1.0, 2.0, 3.0, 10.0]),
        ("TensorScatterMin", [1.0, -5.0, 3.0, 4.0]),
    ];
    for (op, want) in cases {
        let (outs, model) = run_op_n(op, &[x.clone(), idx.clone(), upd.clone()], vec![], false, DType::F32);
        assert_close(&f32s(&outs[0]), &want, 0.0);
        let opset = if op.ends_with("Max") || op.ends_with("Min") { 18 } else { ir::opset::DEFAULT_OPSET };
        assert_eq!(model.opset_imports.get(""), Some(&opset), "{op}");
    }
}

#[test]
fn where_lists_coordinates_as_rows() {
    let x = Tensor::from_bools(vec![2, 2], &[true, false, false, true]).unwrap();
    let got = run_op_as("Where", &[x], vec![], DType::I64);
    assert_eq!(got.shape(), &[2, 2]);
    assert_eq!(&*got.as_slice::<i64>().unwrap(), &[0, 0, 1, 1]);
    let got = run_op_as("Where", &[v1(vec![0f32, 3.0, -1.0])], vec![], DType::I64);
    assert_eq!(got.shape(), &[2, 1]);
    assert_eq!(&*got.as_slice::<i64>().unwrap(), &[1, 2]);
}

#[test]
fn casts_to_8_bit_floats_do_not_saturate() {
    // E4M3FN's largest finite value is 448, E5M2's 57344: TF overflows to
    // NaN and ±inf respectively.
    let x = v1(vec![1e5f32, -1e6, 448.0, 1.0]);
    let cast = |to: DType| {
        let (outs, model) = run_op_n("Cast", std::slice::from_ref(&x), vec![("DstT", ty(to))], false, to);
        assert_eq!(model.opset_imports.get(""), Some(&19));
        let back = eval::run(&cast_model(&outs[0]), vec![]).unwrap();
        f32s(&eval::to_ir(back[0].1.tensor().unwrap()).unwrap())
    };
    assert_close(&cast(DType::F8E4M3FN), &[f32::NAN, f32::NAN, 448.0, 1.0], 0.0);
    assert_close(&cast(DType::F8E5M2), &[f32::INFINITY, f32::NEG_INFINITY, 448.0, 1.0], 0.0);
    // 4-bit casts are canonical from opset 21.
    let (outs, model) = run_op_n(
        "Cast",
        &[v1(vec![7i8, -8])],
        vec![("SrcT", ty(DType::I8)), ("DstT", ty(DType::I4))],
        false,
        DType::I4,
    );
    assert_eq!(model.opset_imports.get(""), Some(&21));
    assert_eq!(outs[0].dtype(), DType::I4);
}

/// A model casting the constant `x` to f32 (to read 8-bit floats back).
fn cast_model(x: &Tensor) -> ir::Model {
    let mut g = ir::Graph::default();
    g.initializers.insert("x".into(), x.clone());
    g.nodes.push(ir::Node::new("Cast", ["x"], ["y"]).with_attr("to", ir::Attribute::Int(1)));
    g.outputs.push(ir::ValueInfo::tensor("y", DType::F32, None));
    let mut m = ir::Model::new(g);
    m.opset_imports.insert(String::new(), 19);
    m
}

#[test]
fn ops_newer_than_the_default_opset_keep_the_rest_valid() {
    // Unpack (Split without sizes) and Sum (axes) in a model lowered at
    // opset 18 because of a BitwiseOr: Split takes num_outputs, ReduceSum
    // its axes as an input.
    let x = t(&[2, 2], vec![1i32, 2, 4, 8]);
    let mut g = graph_of("BitwiseOr", &[x.clone(), x]);
    g.nodes.push(TfNode {
        name: "parts".into(),
        op: "Unpack".into(),
        inputs: vec![TfRef::new("op", 0)],
        attrs: BTreeMap::from([("num".to_string(), TfAttr::Int(2))]),
    });
    g.outputs = vec![
        TfPort { name: "a".into(), tensor: TfRef::new("parts", 0), dtype: DType::I32, shape: None },
        TfPort { name: "b".into(), tensor: TfRef::new("parts", 1), dtype: DType::I32, shape: None },
    ];
    let m = fmt_tf::lower(&g, &LowerOptions::default()).unwrap();
    assert_eq!(m.opset_imports.get(""), Some(&18));
    ir::schema::check_graph(&m.graph, m.opset("").unwrap()).unwrap();
    let split = m.graph.nodes.iter().find(|n| n.op == "Split").unwrap();
    assert_eq!(split.attr_int("num_outputs", 0).unwrap(), 2);
    let outs = eval::run(&m, vec![]).unwrap();
    let a = eval::to_ir(outs[0].1.tensor().unwrap()).unwrap();
    assert_eq!(&*a.as_slice::<i32>().unwrap(), &[1, 2]);
}
