//! The importer's op rules on TorchScript source written for the test:
//! each case is an archive whose `forward` is the given statements, read
//! by the importer and run in the reference evaluator; the expected values
//! are worked out by hand in the comments. The second half exports IR
//! nodes with our exporter and reads them back (the round trip `xtask
//! conformance --roundtrip` probes over onnx's node tests).

use std::io::{Cursor, Read, Write};
use std::path::Path;

use ir::{Attribute, DType, Dim, ExportOptions, Exporter, Graph, ImportOptions, Importer, Model, Node, Shape, Tensor};
use zip::write::SimpleFileOptions;

/// A graph input for [`run_source`]: name and value.
type Input = (&'static str, Tensor);

fn t<T: ir::Element>(shape: &[usize], v: Vec<T>) -> Tensor {
    Tensor::from_vec(shape.to_vec(), v).unwrap()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_f64s().unwrap().into_iter().map(|v| v as f32).collect()
}

fn i64s(t: &Tensor) -> Vec<i64> {
    t.to_i64s().unwrap()
}

fn bools(t: &Tensor) -> Vec<bool> {
    t.to_bools().unwrap()
}

/// A model with `inputs` whose only node copies the first input: exported,
/// it gives an archive with the module pickle and the input record.
fn carrier(inputs: &[Input]) -> Model {
    let mut g = Graph::default();
    for (name, v) in inputs {
        let dims = v.shape().iter().map(|&d| Dim::Fixed(d as u64)).collect();
        g.inputs.push(ir::ValueInfo::tensor(*name, v.dtype(), Shape(dims)));
    }
    g.nodes.push(Node::new("Identity", [inputs[0].0], ["out"]).named("copy"));
    let first = &g.inputs[0];
    g.outputs.push(ir::ValueInfo { name: "out".into(), ty: first.ty.clone(), doc: String::new() });
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), 17);
    m
}

/// Rewrites the archive at `path` with `forward`'s body replaced by `body`
/// (statements, one per line; the last returns the outputs).
fn replace_forward(path: &Path, inputs: &[Input], body: &str) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        entries.push((name, b));
    }
    let params: String = inputs.iter().map(|(n, _)| format!(",\n    {n}: Tensor")).collect();
    let lines: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let source = format!(
        "class Model(Module):\n  __parameters__ = []\n  __buffers__ = []\n  training : bool\n  \
         def forward(self: __torch__.m.Model{params}) -> Tensor:\n{lines}"
    );
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let bytes = if name.ends_with("code/__torch__/m.py") { source.clone().into_bytes() } else { bytes };
        w.start_file(name, SimpleFileOptions::default()).unwrap();
        w.write_all(&bytes).unwrap();
    }
    std::fs::write(path, w.finish().unwrap().into_inner()).unwrap();
}

/// Imports an archive whose `forward(inputs...)` runs `body`.
fn import_source(inputs: &[Input], body: &str) -> Model {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.pt");
    fmt_torchscript::TorchScriptExporter.export(&carrier(inputs), &path, &ExportOptions::default()).unwrap();
    replace_forward(&path, inputs, body);
    let m = fmt_torchscript::TorchScriptImporter
        .import(&path, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{body}: {e}"));
    m.graph.validate().unwrap_or_else(|e| panic!("{body}: {e}"));
    m
}

/// Runs `m` in the evaluator on `inputs` (by position).
fn run(m: &Model, inputs: &[Input]) -> Vec<Tensor> {
    let feeds = m
        .graph
        .inputs
        .iter()
        .zip(inputs)
        .map(|(vi, (_, v))| (vi.name.clone(), eval::Value::Tensor(eval::from_ir(v).unwrap())))
        .collect();
    eval::run(m, feeds)
        .unwrap()
        .into_iter()
        .map(|(_, v)| match v {
            eval::Value::Tensor(t) => eval::to_ir(&t).unwrap(),
            v => panic!("not a tensor: {v:?}"),
        })
        .collect()
}

/// Imports `body` over `inputs`, runs it and returns its outputs.
fn run_source(inputs: &[Input], body: &str) -> Vec<Tensor> {
    run(&import_source(inputs, body), inputs)
}

/// The only output of `body`.
fn one(inputs: &[Input], body: &str) -> Tensor {
    run_source(inputs, body).remove(0)
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-5 * w.abs().max(1.0);
        assert!(same, "{got:?} vs {want:?}");
    }
}

fn x23() -> Input {
    ("x", t(&[2, 3], vec![1f32, 2., 3., 4., 5., 6.]))
}

#[test]
fn tolist_of_a_run_time_shape_feeds_reshape_and_tile() {
    let s = ("s", t(&[2], vec![3i64, 2]));
    let y = one(&[x23(), s.clone()], "return torch.reshape(x, annotate(List[int], (s).tolist()))");
    assert_eq!(y.shape(), &[3, 2]);
    close(&f32s(&y), &[1., 2., 3., 4., 5., 6.]);
    // tile by [3, 2] repeats the rows 3 times and the columns twice: [6, 6].
    let y = one(&[x23(), s], "return torch.tile(x, annotate(List[int], (s).tolist()))");
    assert_eq!(y.shape(), &[6, 6]);
    close(&f32s(&y)[..6], &[1., 2., 3., 1., 2., 3.]);
    // A known size list: tile([2]) of a 2-D input repeats the last axis.
    let y = one(&[x23()], "return torch.tile(x, [2])");
    assert_eq!(y.shape(), &[2, 6]);
}

#[test]
fn a_zero_in_a_run_time_shape_is_a_size_zero() {
    // torch has no "copy the input's dimension" code: [3, 0] is 3 × 0.
    let x = ("x", t(&[0, 3], Vec::<f32>::new()));
    let s = ("s", t(&[2], vec![3i64, 0]));
    let y = one(&[x, s], "return torch.reshape(x, annotate(List[int], (s).tolist()))");
    assert_eq!(y.shape(), &[3, 0]);
}

#[test]
fn item_scalar_tensor_and_method_calls_on_numbers() {
    // numel of [2, 3] is 6; scalar_tensor(6, dtype=long).item() is 6 again.
    let y = one(
        &[x23()],
        "n = torch.scalar_tensor(torch.numel(x), dtype=4)\nreturn torch.add(x, torch.mul((n).item(), (2.5).item()))",
    );
    close(&f32s(&y), &[16., 17., 18., 19., 20., 21.]);
    // scalar_tensor defaults to float32; item of a run-time tensor stays in the graph.
    let s = ("s", t(&[1], vec![4f32]));
    let y = one(&[x23(), s], "return torch.sub(x, (s).item())");
    close(&f32s(&y), &[-3., -2., -1., 0., 1., 2.]);
}

#[test]
fn flip_reverses_the_given_axes() {
    close(&f32s(&one(&[x23()], "return torch.flip(x, [1])")), &[3., 2., 1., 6., 5., 4.]);
    close(&f32s(&one(&[x23()], "return torch.flip(x, [0, -1])")), &[6., 5., 4., 3., 2., 1.]);
    // Axes computed at run time, as the exporter writes a reversed CumSum.
    let a = ("a", t(&[], vec![0i64]));
    close(&f32s(&one(&[x23(), a], "return torch.flip(x, [int(a)])")), &[4., 5., 6., 1., 2., 3.]);
}

#[test]
fn shifts_and_integer_bitwise_ops() {
    let x = ("x", t(&[3], vec![1u8, 128, 3]));
    let s = ("s", t(&[3], vec![1u8, 1, 2]));
    // 128 << 1 wraps to 0 in uint8; 3 >> 2 is 0.
    assert_eq!(i64s(&one(&[x.clone(), s.clone()], "return torch.bitwise_left_shift(x, s)")), [2, 0, 12]);
    assert_eq!(i64s(&one(&[x, s], "return torch.bitwise_right_shift(x, s)")), [0, 64, 0]);
    // Signed right shifts are arithmetic: -8 >> 1 = -4.
    let x = ("x", t(&[2], vec![-8i32, 5]));
    let s = ("s", t(&[2], vec![1i32, 1]));
    assert_eq!(i64s(&one(&[x, s], "return torch.bitwise_right_shift(x, s)")), [-4, 2]);

    let x = ("x", t(&[2], vec![12i32, -1]));
    let y = ("y", t(&[2], vec![10i32, 5]));
    let m = import_source(&[x.clone(), y.clone()], "return torch.bitwise_and(x, y)");
    assert!(m.onnx_opset() >= 18, "integer bitwise ops are opset 18: the import runs at it");
    let both = [x.clone(), y.clone()];
    assert_eq!(i64s(&run(&m, &both)[0]), [8, 5]);
    assert_eq!(i64s(&one(&both, "return torch.bitwise_or(x, y)")), [14, -1]);
    assert_eq!(i64s(&one(&both, "return torch.bitwise_xor(x, y)")), [6, -6]);
    assert_eq!(i64s(&one(&[x], "return torch.bitwise_not(x)")), [-13, 0]);
    // On booleans they stay logical; logical_xor too.
    let p = ("p", Tensor::from_bools(vec![3], &[true, false, true]).unwrap());
    let q = ("q", Tensor::from_bools(vec![3], &[true, true, false]).unwrap());
    assert_eq!(bools(&one(&[p.clone(), q.clone()], "return torch.logical_xor(p, q)")), [false, true, true]);
    assert_eq!(bools(&one(&[p.clone(), q], "return torch.bitwise_and(p, q)")), [true, false, false]);
    // A known 0-D boolean (GPT-2's causal mask starts from one) stays boolean.
    let y = one(&[p], "r = torch.new_ones(p, annotate(List[int], []), dtype=11)\nreturn torch.__and__(r, p)");
    assert_eq!(y.dtype(), DType::Bool);
    assert_eq!(bools(&y), [true, false, true]);
}

#[test]
fn scatter_forms() {
    let x = ("x", t(&[2, 3], vec![0f32; 6]));
    let i = ("i", t(&[2, 1], vec![2i64, 0]));
    let s = ("s", t(&[2, 1], vec![5f32, 7.]));
    let y = one(&[x.clone(), i.clone(), s], "return torch.scatter(x, 1, i, s)");
    close(&f32s(&y), &[0., 0., 5., 7., 0., 0.]);
    // A number fills every indexed place.
    let y = one(&[x, i], "return torch.scatter(x, 1, i, 1.)");
    close(&f32s(&y), &[0., 0., 1., 1., 0., 0.]);

    let x = ("x", t(&[3], vec![1f32, 1., 1.]));
    let i = ("i", t(&[3], vec![0i64, 0, 2]));
    let s = ("s", t(&[3], vec![1f32, 2., 3.]));
    let all = [x, i, s];
    // Sums with the old values: [1 + 1 + 2, 1, 1 + 3].
    let y = one(&all, "return torch.scatter_reduce(x, 0, i, s, \"sum\", include_self=True)");
    close(&f32s(&y), &[4., 1., 4.]);
    let y = one(&all, "return torch.scatter_reduce(x, 0, i, s, \"prod\", include_self=True)");
    close(&f32s(&y), &[2., 1., 3.]);
    let y = one(&all, "return torch.scatter_reduce(x, 0, i, s, \"amax\", include_self=True)");
    close(&f32s(&y), &[2., 1., 3.]);
}

#[test]
fn index_put_writes_and_accumulates() {
    let x = ("x", t(&[3], vec![0f32; 3]));
    let i = ("i", t(&[2], vec![2i64, 0]));
    let v = ("v", t(&[2], vec![5f32, 7.]));
    let y = one(&[x.clone(), i, v], "return torch.index_put(x, annotate(List[Optional[Tensor]], [i]), v, False)");
    close(&f32s(&y), &[7., 0., 5.]);
    let i = ("i", t(&[2], vec![0i64, 0]));
    let v = ("v", t(&[2], vec![1f32, 2.]));
    let y = one(&[x, i, v], "return torch.index_put(x, annotate(List[Optional[Tensor]], [i]), v, True)");
    close(&f32s(&y), &[3., 0., 0.]);
}

#[test]
fn einsum_topk_and_norms() {
    let a = ("a", t(&[2, 2], vec![1f32, 2., 3., 4.]));
    let b = ("b", t(&[2, 2], vec![5f32, 6., 7., 8.]));
    close(&f32s(&one(&[a, b], "return torch.einsum(\"ij,jk->ik\", [a, b])")), &[19., 22., 43., 50.]);

    let x = ("x", t(&[5], vec![3f32, 1., 4., 1., 5.]));
    let out = run_source(std::slice::from_ref(&x), "v, i = torch.topk(x, 2, -1, True, True)\nreturn (v, i)");
    close(&f32s(&out[0]), &[5., 4.]);
    assert_eq!(i64s(&out[1]), [4, 2]);
    // The smallest two: both 1s, the first one first.
    let out = run_source(&[x], "v, i = torch.topk(x, 2, 0, False, True)\nreturn (v, i)");
    close(&f32s(&out[0]), &[1., 1.]);
    assert_eq!(i64s(&out[1]), [1, 3]);

    let x = ("x", t(&[2, 2], vec![3f32, 4., 6., 8.]));
    let norm = |ord: &str| {
        f32s(&one(std::slice::from_ref(&x), &format!("return torch.linalg_vector_norm(x, {ord}, [1], False)")))
    };
    close(&norm("2"), &[5., 10.]);
    close(&norm("1"), &[7., 14.]);
    close(&norm("float(\"inf\")"), &[4., 8.]);
    close(&norm("0"), &[2., 2.]);
    // (3³ + 4³)^(1/3) = 91^(1/3).
    close(&norm("3")[..1], &[91f32.cbrt()]);
}

#[test]
fn transposed_convolutions() {
    let x = ("x", t(&[1, 1, 3], vec![1f32, 2., 3.]));
    let w = ("w", t(&[1, 1, 2], vec![1f32, 1.]));
    // Each input adds w at its place: [1, 1+2, 2+3, 3].
    close(&f32s(&one(&[x.clone(), w.clone()], "return torch.conv_transpose1d(x, w)")), &[1., 3., 5., 3.]);
    // Stride 2 places the copies apart: [1, 1, 2, 2, 3, 3]; padding 1 trims an element at each end.
    let y = one(&[x.clone(), w.clone()], "return torch.conv_transpose1d(x, w, None, [2], [0], [0], 1, [1])");
    close(&f32s(&y), &[1., 1., 2., 2., 3., 3.]);
    let y = one(&[x.clone(), w.clone()], "return torch.conv_transpose1d(x, w, None, [2], [1], [0], 1, [1])");
    close(&f32s(&y), &[1., 2., 2., 3.]);
    // output_padding adds one more (zero) element at the end.
    let y = one(&[x, w], "return torch.conv_transpose1d(x, w, None, [2], [0], [1], 1, [1])");
    close(&f32s(&y), &[1., 1., 2., 2., 3., 3., 0.]);
    let x = ("x", t(&[1, 1, 1, 1], vec![2f32]));
    let w = ("w", t(&[1, 1, 2, 2], vec![1f32, 2., 3., 4.]));
    close(&f32s(&one(&[x, w], "return torch.conv_transpose2d(x, w)")), &[2., 4., 6., 8.]);
}

#[test]
fn layout_ops() {
    let x = ("x", t(&[2, 3, 4], (0..24).map(|v| v as f32).collect()));
    let y = one(std::slice::from_ref(&x), "return torch.movedim(x, 0, -1)");
    assert_eq!(y.shape(), &[3, 4, 2]);
    // y[j, k, i] = x[i, j, k]: y[0, 0] = [x[0,0,0], x[1,0,0]] = [0, 12].
    close(&f32s(&y)[..2], &[0., 12.]);
    let y = one(&[x], "return torch.movedim(x, [0, 1], [2, 0])");
    assert_eq!(y.shape(), &[3, 4, 2]);

    let r = ("r", t(&[3], vec![1f32, 2., 3.]));
    close(&f32s(&one(&[r], "return torch.repeat_interleave(r, 2)")), &[1., 1., 2., 2., 3., 3.]);
    let m = ("m", t(&[2, 2], vec![1f32, 2., 3., 4.]));
    let y = one(&[m], "return torch.repeat_interleave(m, 2, 1)");
    close(&f32s(&y), &[1., 1., 2., 2., 3., 3., 4., 4.]);

    let p = ("p", t(&[1, 2], vec![1f32, 2.]));
    close(&f32s(&one(std::slice::from_ref(&p), "return torch.constant_pad_nd(p, [1, 2], 9.)")), &[9., 1., 2., 9., 9.]);
    // Negative pads crop; the fill value may be written as float("-inf").
    close(&f32s(&one(std::slice::from_ref(&p), "return torch.constant_pad_nd(p, [-1, 0])")), &[2.]);
    let y = one(&[p], "return torch.constant_pad_nd(p, [1, 0], float(\"-inf\"))");
    close(&f32s(&y), &[f32::NEG_INFINITY, 1., 2.]);
    let q = ("q", t(&[1, 3], vec![1f32, 2., 3.]));
    close(&f32s(&one(&[q], "return torch.pad(q, [2, 1], \"reflect\")")), &[3., 2., 1., 2., 3., 2.]);
}

#[test]
fn subscripts_with_slices_and_index_tensors() {
    let i = ("i", t(&[2], vec![2i64, 0]));
    close(&f32s(&one(&[x23(), i], "return x[:, i]")), &[3., 1., 6., 4.]);
    close(&f32s(&one(&[x23()], "return x[1:, :2]")), &[4., 5.]);
    close(&f32s(&one(&[x23()], "return x[:, ::2]")), &[1., 3., 4., 6.]);
    // Index tensors on the leading axes pick elements: x[1, 2] and x[0, 1].
    let a = ("a", t(&[2], vec![1i64, 0]));
    let b = ("b", t(&[2], vec![2i64, 1]));
    close(&f32s(&one(&[x23(), a, b], "return x[a, b]")), &[6., 2.]);
    // A slice of a Python list: the sizes after the first.
    let y = one(&[x23()], "return torch.zeros((x.size())[1:])");
    assert_eq!(y.shape(), &[3]);
}

#[test]
fn unary_math() {
    let x = ("x", t(&[1], vec![0.5f32]));
    let f = |op: &str| f32s(&one(std::slice::from_ref(&x), &format!("return torch.{op}(x)")))[0];
    close(
        &[f("tan"), f("asin"), f("acos"), f("atan"), f("sinh"), f("cosh"), f("asinh"), f("atanh")],
        &[
            0.5f32.tan(),
            0.5f32.asin(),
            0.5f32.acos(),
            0.5f32.atan(),
            0.5f32.sinh(),
            0.5f32.cosh(),
            0.5f32.asinh(),
            0.5f32.atanh(),
        ],
    );
    close(&[f("log1p"), f("expm1")], &[1.5f32.ln(), 0.5f32.exp() - 1.]);
    let x2 = ("x", t(&[1], vec![2f32]));
    close(&f32s(&one(&[x2], "return torch.acosh(x)")), &[2f32.acosh()]);
    let s = ("s", t(&[3], vec![-3i32, 0, 7]));
    assert_eq!(i64s(&one(&[s], "return torch.sign(s)")), [-1, 0, 1]);

    let v = ("v", t(&[4], vec![1f32, f32::NAN, f32::INFINITY, f32::NEG_INFINITY]));
    let b = |op: &str| bools(&one(std::slice::from_ref(&v), &format!("return torch.{op}(v)")));
    assert_eq!(b("isnan"), [false, true, false, false]);
    assert_eq!(b("isinf"), [false, false, true, true]);
    assert_eq!(b("isposinf"), [false, false, true, false]);
    assert_eq!(b("isneginf"), [false, false, false, true]);

    // elu and celu with alpha 2: 2·(e^-1 - 1) below zero, x above.
    let e = ("e", t(&[2], vec![-1f32, 3.]));
    let neg = 2. * ((-1f32).exp() - 1.);
    close(&f32s(&one(std::slice::from_ref(&e), "return torch.elu(e, 2.)")), &[neg, 3.]);
    // celu(-2, 2) = 2·(e^(-2/2) - 1), the same number.
    let c = ("c", t(&[2], vec![-2f32, 3.]));
    close(&f32s(&one(&[c], "return torch.celu(c, 2.)")), &[neg, 3.]);
    // elu's scale and input_scale: 2·(1.5·(e^(0.5·-1) - 1)) below zero, 2·3 above.
    let y = one(&[e], "return torch.elu(e, 1.5, 2., 0.5)");
    close(&f32s(&y), &[2. * 1.5 * ((-0.5f32).exp() - 1.), 6.]);
}

#[test]
fn remainder_and_fmod_signs_and_infinities() {
    let x = ("x", t(&[4], vec![-5f32, 5., -5., 5.5]));
    let y = ("y", t(&[4], vec![3f32, f32::INFINITY, f32::INFINITY, -2.]));
    let xy = [x, y];
    // Python's %: -5 % 3 = 1, 5 % inf = 5, -5 % inf = inf, 5.5 % -2 = -0.5.
    close(&f32s(&one(&xy, "return torch.remainder(x, y)")), &[1., 5., f32::INFINITY, -0.5]);
    // C's fmod: the dividend's sign.
    close(&f32s(&one(&xy, "return torch.fmod(x, y)")), &[-2., 5., -5., 1.5]);
    let a = ("a", t(&[2], vec![-5i64, 7]));
    let b = ("b", t(&[2], vec![3i64, -2]));
    assert_eq!(i64s(&one(&[a.clone(), b.clone()], "return torch.fmod(a, b)")), [-2, 1]);
    assert_eq!(i64s(&one(&[a, b], "return torch.remainder(a, b)")), [1, -1]);
}

#[test]
fn ints_computed_at_run_time_feed_trilu_and_cumsum() {
    let x = ("x", t(&[3, 3], vec![1f32; 9]));
    let k = ("k", t(&[], vec![1i64]));
    let y = one(&[x.clone(), k.clone()], "return torch.triu(x, int(k))");
    close(&f32s(&y), &[0., 1., 1., 0., 0., 1., 0., 0., 0.]);
    let y = one(&[x.clone(), k.clone()], "return torch.tril(x, int(k))");
    close(&f32s(&y), &[1., 1., 0., 1., 1., 1., 1., 1., 1.]);
    let y = one(&[x, k], "return torch.cumsum(x, int(k), dtype=6)");
    close(&f32s(&y), &[1., 2., 3., 1., 2., 3., 1., 2., 3.]);
}

#[test]
fn one_element_shape_slices_stay_vectors() {
    // shape[0:1] - 1 is a 1-element vector, not a number: cat of two gives [3, 5].
    let x = ("x", t(&[4, 5], vec![0f32; 20]));
    let y = one(
        &[x],
        "a = torch.sub(torch.slice(torch._shape_as_tensor(x), 0, 0, 1), 1)\n\
         b = torch.slice(torch._shape_as_tensor(x), 0, 1, 2)\n\
         return torch.cat([a, b], 0)",
    );
    assert_eq!(i64s(&y), [3, 5]);
}

#[test]
fn a_data_dependent_loop_appending_to_a_list_stacks_its_items() {
    let x = ("x", t(&[1], vec![0f32]));
    let k = ("k", t(&[], vec![3i64]));
    let y = one(
        &[x, k],
        "acc = x\nout = annotate(List[Tensor], [])\ni = 0\nwhile i < int(k):\n  acc = torch.add(acc, 1.)\n  \
         out.append(acc)\n  i = i + 1\nreturn torch.stack(out)",
    );
    assert_eq!(y.shape(), &[3, 1]);
    close(&f32s(&y), &[1., 2., 3.]);
}

#[test]
fn casts_to_8_bit_floats_do_not_saturate() {
    let code = |d: DType| fmt_torchscript::dtype::of(d).unwrap().code;
    let x = ("x", t(&[3], vec![1000f32, 1., 100_000.]));
    let e4 = code(DType::F8E4M3FN);
    let m = import_source(std::slice::from_ref(&x), &format!("return torch.to(torch.to(x, {e4}), 6)"));
    assert!(m.onnx_opset() >= 19, "Cast's saturate is opset 19");
    // 1000 is past E4M3FN's largest (448): NaN; E5M2 reaches 57344, past it infinity.
    close(&f32s(&run(&m, std::slice::from_ref(&x))[0]), &[f32::NAN, 1., f32::NAN]);
    let e5 = code(DType::F8E5M2);
    let y = one(&[x], &format!("return torch.to(torch.to(x, {e5}), 6)"));
    close(&f32s(&y), &[1024., 1., f32::INFINITY]);
}

// ------------------------------------------------------------ round trips

/// One node over typed inputs, exported and imported back; both run on
/// `inputs` and must agree (NaNs in the same places).
fn round_trip(opset: i64, inputs: &[Input], consts: &[Input], node: Node) -> Vec<Tensor> {
    let mut g = Graph::default();
    for (name, v) in inputs {
        let dims = v.shape().iter().map(|&d| Dim::Fixed(d as u64)).collect();
        g.inputs.push(ir::ValueInfo::tensor(*name, v.dtype(), Shape(dims)));
    }
    for (name, v) in consts {
        g.initializers.insert(name.to_string(), v.clone());
    }
    let outs: Vec<String> = node.outputs.clone();
    g.nodes.push(node.named("n"));
    let types = ir::infer::infer(&g, opset).unwrap();
    for o in &outs {
        g.outputs.push(ir::ValueInfo { name: o.clone(), ty: types.ty(o).cloned().unwrap(), doc: String::new() });
    }
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), opset);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.pt");
    fmt_torchscript::TorchScriptExporter.export(&m, &path, &ExportOptions::default()).unwrap();
    let back = fmt_torchscript::TorchScriptImporter.import(&path, &ImportOptions::default()).unwrap();
    let want = run(&m, inputs);
    let got = run(&back, inputs);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.shape(), g.shape());
        assert_eq!(w.dtype(), g.dtype());
        if w.dtype().is_float() {
            close(&f32s(g), &f32s(w));
        } else {
            assert_eq!(i64s(g), i64s(w));
        }
    }
    got
}

fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<(&str, Attribute)>) -> Node {
    let mut n = Node::new(op, ins.iter().copied(), outs.iter().copied());
    for (k, v) in attrs {
        n.attrs.insert(k.into(), v);
    }
    n
}

#[test]
fn round_trip_argmax_select_last_index() {
    let x = ("x", t(&[2, 3], vec![1f32, 5., 5., 7., 7., 2.]));
    let n = node("ArgMax", &["x"], &["y"], vec![("axis", Attribute::Int(1)), ("select_last_index", Attribute::Int(1))]);
    let y = round_trip(13, &[x], &[], n);
    assert_eq!(i64s(&y[0]), [2, 1]);
}

#[test]
fn round_trip_bitshift_and_cumsum_reverse() {
    let x = ("x", t(&[3], vec![16u32, 4, 1]));
    let s = ("s", t(&[3], vec![1u32, 2, 3]));
    let n = node("BitShift", &["x", "s"], &["y"], vec![("direction", Attribute::String("RIGHT".into()))]);
    assert_eq!(i64s(&round_trip(11, &[x, s], &[], n)[0]), [8, 1, 0]);
    // Reverse exclusive sums of [1, 2, 3]: [2 + 3, 3, 0], the axis an input.
    let x = ("x", t(&[3], vec![1f32, 2., 3.]));
    let a = ("a", t(&[], vec![0i32]));
    let n = node("CumSum", &["x", "a"], &["y"], vec![("exclusive", Attribute::Int(1)), ("reverse", Attribute::Int(1))]);
    close(&f32s(&round_trip(14, &[x, a], &[], n)[0]), &[5., 3., 0.]);
}

#[test]
fn round_trip_8_bit_float_casts_with_and_without_saturation() {
    let x = ("x", t(&[3], vec![1000f32, -1000., 2.]));
    let cast = |sat: i64| {
        node(
            "Cast",
            &["x"],
            &["y"],
            vec![("to", Attribute::Int(i64::from(DType::F8E4M3FN.onnx_code()))), ("saturate", Attribute::Int(sat))],
        )
    };
    let back = |sat: i64| {
        let mut g = node("Cast", &["y"], &["z"], vec![("to", Attribute::Int(1))]);
        g.name = format!("back{sat}");
        g
    };
    for sat in [1, 0] {
        let mut gr = Graph::default();
        gr.inputs.push(ir::ValueInfo::tensor("x", DType::F32, Shape(vec![Dim::Fixed(3)])));
        gr.nodes.push(cast(sat).named("c"));
        gr.nodes.push(back(sat));
        let types = ir::infer::infer(&gr, 19).unwrap();
        gr.outputs.push(ir::ValueInfo { name: "z".into(), ty: types.ty("z").cloned().unwrap(), doc: String::new() });
        let mut m = Model::new(gr);
        m.opset_imports.insert(String::new(), 19);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pt");
        fmt_torchscript::TorchScriptExporter.export(&m, &path, &ExportOptions::default()).unwrap();
        let r = fmt_torchscript::TorchScriptImporter.import(&path, &ImportOptions::default()).unwrap();
        let got = f32s(&run(&r, std::slice::from_ref(&x))[0]);
        // Saturating: ±448 (E4M3FN's largest); not: NaN.
        let want = if sat == 1 { [448., -448., 2.] } else { [f32::NAN, f32::NAN, 2.] };
        close(&got, &want);
        close(&got, &f32s(&run(&m, std::slice::from_ref(&x))[0]));
    }
}

#[test]
fn round_trip_lp_normalization_of_a_zero_lane() {
    // The second column is all zeros: it stays zeros.
    let x = ("x", t(&[2, 2], vec![3f32, 0., 4., 0.]));
    let n = node("LpNormalization", &["x"], &["y"], vec![("axis", Attribute::Int(0)), ("p", Attribute::Int(2))]);
    close(&f32s(&round_trip(13, &[x], &[], n)[0]), &[0.6, 0., 0.8, 0.]);
}

#[test]
fn round_trip_space_to_depth_crd() {
    // One channel, 2×2 blocks of a 2×2 image: CRD and DCR agree for one
    // channel, so two channels tell them apart.
    let x = ("x", t(&[1, 2, 2, 2], (0..8).map(|v| v as f32).collect()));
    let n = node(
        "SpaceToDepth",
        &["x"],
        &["y"],
        vec![("blocksize", Attribute::Int(2)), ("mode", Attribute::String("CRD".into()))],
    );
    // CRD: channel c·4 + i·2 + j holds x[c, i, j]: [0, 1, 2, 3, 4, 5, 6, 7].
    close(&f32s(&round_trip(25, &[x], &[], n)[0]), &[0., 1., 2., 3., 4., 5., 6., 7.]);
}

#[test]
fn round_trip_reshape_with_a_run_time_shape_of_zeros() {
    // ONNX: 0 copies the input's dimension: [2, 3, 4] → [2, 3, 4, 1] from [2, 0, 4, 1].
    let x = ("x", t(&[2, 3, 4], vec![0f32; 24]));
    let s = ("s", t(&[4], vec![2i64, 0, 4, 1]));
    let n = node("Reshape", &["x", "s"], &["y"], vec![]);
    let y = round_trip(14, &[x, s], &[], n);
    assert_eq!(y[0].shape(), &[2, 3, 4, 1]);
}
