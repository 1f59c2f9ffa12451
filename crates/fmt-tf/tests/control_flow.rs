//! Control flow: IR `If` and `Loop` graphs written by this crate's
//! exporters (as `StatelessIf`/`StatelessWhile` with function bodies and
//! TensorLists) and read back by its importers, run in the evaluator
//! against values worked out by hand; and TF graphs built here to reach
//! what the exporter never writes (non-boolean conditions, recursion,
//! nesting past the depth limit).

use std::collections::{BTreeMap, HashMap};

use fmt_tf::{LowerOptions, TfAttr, TfFunction, TfGraph, TfNode, TfPort, TfRef};
use ir::{Attribute, DType, ExportOptions, Exporter, Graph, Importer, Model, Node, Shape, Tensor, ValueInfo};

fn f32_input(name: &str, dims: &[u64]) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Some(Shape::fixed(dims)))
}

/// `model` written as a frozen GraphDef and as a SavedModel, each read back.
fn round_trips(model: &Model) -> Vec<Model> {
    let dir = tempfile::tempdir().unwrap();
    let opts = ExportOptions::default();
    let cases: [(&dyn Exporter, &dyn Importer, &str); 2] = [
        (&fmt_tf::FrozenExporter, &fmt_tf::FrozenImporter, "model.pb"),
        (&fmt_tf::SavedModelExporter, &fmt_tf::SavedModelImporter, "saved"),
    ];
    cases
        .into_iter()
        .map(|(exporter, importer, file)| {
            let path = dir.path().join(file);
            exporter.export(model, &path, &opts).unwrap();
            let back = importer.import(&path, &Default::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
            ir::schema::check_graph(&back.graph, back.opset("").unwrap()).unwrap();
            back
        })
        .collect()
}

/// Runs `model` on `feeds`; outputs by name.
fn run(model: &Model, feeds: &[(&str, Tensor)]) -> HashMap<String, Tensor> {
    let feeds = feeds.iter().map(|(k, t)| (k.to_string(), eval::Value::Tensor(eval::from_ir(t).unwrap()))).collect();
    eval::run(model, feeds).unwrap().into_iter().map(|(k, v)| (k, eval::to_ir(v.tensor().unwrap()).unwrap())).collect()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_f64s().unwrap().into_iter().map(|v| v as f32).collect()
}

fn ints(t: &Tensor) -> Vec<i64> {
    t.to_i64s().unwrap()
}

fn bool_scalar(b: bool) -> Tensor {
    Tensor::from_bools(vec![], &[b]).unwrap()
}

/// y = If(c, then: x + 1, else: x * 2), each branch with its own constant.
fn if_model() -> Model {
    let branch = |op: &str, k: f32, out: &str| Graph {
        nodes: vec![Node::new(op, ["x", &format!("{out}_k")], [out])],
        initializers: [(format!("{out}_k"), Tensor::from_vec(vec![1], vec![k]).unwrap())].into_iter().collect(),
        outputs: vec![f32_input(out, &[2])],
        ..Graph::default()
    };
    let node = Node::new("If", ["c"], ["y"])
        .with_attr("then_branch", Attribute::Graph(Box::new(branch("Add", 1.0, "yt"))))
        .with_attr("else_branch", Attribute::Graph(Box::new(branch("Mul", 2.0, "ye"))));
    let graph = Graph {
        inputs: vec![ValueInfo::tensor("c", DType::Bool, Some(Shape::fixed(&[]))), f32_input("x", &[2])],
        outputs: vec![f32_input("y", &[2])],
        nodes: vec![node],
        ..Graph::default()
    };
    Model::new(graph)
}

#[test]
fn if_takes_each_branch_after_a_round_trip() {
    let x = Tensor::from_vec(vec![2], vec![3f32, -4.0]).unwrap();
    for back in round_trips(&if_model()) {
        let then = run(&back, &[("c", bool_scalar(true)), ("x", x.clone())]);
        assert_eq!(f32s(&then["y"]), [4.0, -3.0]);
        let other = run(&back, &[("c", bool_scalar(false)), ("x", x.clone())]);
        assert_eq!(f32s(&other["y"]), [6.0, -8.0]);
    }
}

/// `Loop(n, "", a0)`: adds 2 to the accumulator per iteration, and with
/// `scan` also stacks the iteration numbers.
fn loop_model(scan: bool) -> Model {
    let mut body = Graph {
        inputs: vec![
            ValueInfo::tensor("i", DType::I64, Some(Shape::fixed(&[]))),
            ValueInfo::tensor("cond_in", DType::Bool, Some(Shape::fixed(&[]))),
            f32_input("a", &[1]),
        ],
        nodes: vec![Node::new("Identity", ["cond_in"], ["cond_out"]), Node::new("Add", ["a", "step"], ["a_next"])],
        initializers: [("step".to_string(), Tensor::from_vec(vec![1], vec![2f32]).unwrap())].into_iter().collect(),
        outputs: vec![ValueInfo::tensor("cond_out", DType::Bool, Some(Shape::fixed(&[]))), f32_input("a_next", &[1])],
        ..Graph::default()
    };
    let mut outputs = vec![ValueInfo::tensor("a_final", DType::F32, None)];
    if scan {
        body.nodes.push(Node::new("Identity", ["i"], ["i_scan"]));
        body.outputs.push(ValueInfo::tensor("i_scan", DType::I64, Some(Shape::fixed(&[]))));
        outputs.push(ValueInfo::tensor("iters", DType::I64, None));
    }
    let outs: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    let node = Node::new("Loop", ["n", "", "a0"], outs).with_attr("body", Attribute::Graph(Box::new(body)));
    let graph = Graph {
        inputs: vec![ValueInfo::tensor("n", DType::I64, Some(Shape::fixed(&[]))), f32_input("a0", &[1])],
        outputs,
        nodes: vec![node],
        ..Graph::default()
    };
    Model::new(graph)
}

#[test]
fn loop_counts_to_n_with_an_accumulator_and_a_scan_output() {
    let a0 = Tensor::from_vec(vec![1], vec![1f32]).unwrap();
    for back in round_trips(&loop_model(true)) {
        let out = run(&back, &[("n", Tensor::scalar(5i64)), ("a0", a0.clone())]);
        assert_eq!(f32s(&out["a_final"]), [11.0]);
        assert_eq!(ints(&out["iters"]), [0, 1, 2, 3, 4]);
        // The TensorList that collected the scan output is an ONNX sequence.
        let ops: Vec<&str> = back.graph.nodes.iter().map(|n| n.op.as_str()).collect();
        assert!(ops.contains(&"Loop") && ops.contains(&"ConcatFromSequence"), "{ops:?}");
    }
}

#[test]
fn a_zero_iteration_loop_returns_its_initial_values() {
    let a0 = Tensor::from_vec(vec![1], vec![1.5f32]).unwrap();
    for back in round_trips(&loop_model(false)) {
        assert_eq!(f32s(&run(&back, &[("n", Tensor::scalar(0i64)), ("a0", a0.clone())])["a_final"]), [1.5]);
        assert_eq!(f32s(&run(&back, &[("n", Tensor::scalar(3i64)), ("a0", a0.clone())])["a_final"]), [7.5]);
    }
}

// TF graphs built by hand.

fn node(name: &str, op: &str, inputs: &[&str], attrs: Vec<(&str, TfAttr)>) -> TfNode {
    TfNode {
        name: name.into(),
        op: op.into(),
        inputs: inputs.iter().map(|i| TfRef::parse(i).unwrap()).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn placeholder(name: &str, dtype: DType) -> TfNode {
    node(name, "Placeholder", &[], vec![("dtype", TfAttr::Type(fmt_tf::dtype::from_ir(dtype).unwrap()))])
}

fn constant(name: &str, t: Tensor) -> TfNode {
    node(name, "Const", &[], vec![("value", TfAttr::Tensor(t))])
}

/// A function of one argument `x` returning `op(x, k)`.
fn unary_function(name: &str, op: &str, k: f32) -> TfFunction {
    let arg = format!("{name}#x");
    TfFunction {
        name: name.into(),
        args: vec![arg.clone()],
        nodes: vec![
            placeholder(&arg, DType::F32),
            constant(&format!("{name}/k"), Tensor::scalar(k)),
            node(&format!("{name}/y"), op, &[&arg, &format!("{name}/k")], vec![]),
        ],
        outputs: vec![TfRef::new(format!("{name}/y"), 0)],
    }
}

fn port(name: &str, dtype: DType, shape: Option<Vec<Option<i64>>>) -> TfPort {
    TfPort { name: name.into(), tensor: TfRef::new(name, 0), dtype, shape }
}

/// `StatelessIf(c, x)` with branches `then`/`else`, `c` a fed tensor of
/// `cond_dtype` and shape `cond_shape`.
fn if_graph(cond_dtype: DType, cond_shape: Option<Vec<Option<i64>>>, functions: Vec<TfFunction>) -> TfGraph {
    let func = |f: &str| TfAttr::Func(f.into());
    TfGraph {
        name: "if".into(),
        nodes: vec![
            placeholder("c", cond_dtype),
            placeholder("x", DType::F32),
            node("if", "StatelessIf", &["c", "x"], vec![("then_branch", func("then")), ("else_branch", func("else"))]),
        ],
        inputs: vec![port("c", cond_dtype, cond_shape), port("x", DType::F32, Some(vec![]))],
        outputs: vec![TfPort { name: "y".into(), tensor: TfRef::new("if", 0), dtype: DType::F32, shape: None }],
        functions: functions.into_iter().map(|f| (f.name.clone(), f)).collect::<BTreeMap<_, _>>(),
    }
}

fn branches() -> Vec<TfFunction> {
    vec![unary_function("then", "AddV2", 1.0), unary_function("else", "Mul", 2.0)]
}

#[test]
fn conditions_that_are_not_booleans_follow_tensorflow() {
    let x = Tensor::scalar(5f32);
    // A number: non-zero is true.
    let m = fmt_tf::lower(&if_graph(DType::F32, Some(vec![]), branches()), &LowerOptions::default()).unwrap();
    assert_eq!(f32s(&run(&m, &[("c", Tensor::scalar(-0.5f32)), ("x", x.clone())])["y"]), [6.0]);
    assert_eq!(f32s(&run(&m, &[("c", Tensor::scalar(0f32)), ("x", x.clone())])["y"]), [10.0]);
    // Any other tensor: non-empty is true, whatever its values.
    let m = fmt_tf::lower(&if_graph(DType::I32, Some(vec![None]), branches()), &LowerOptions::default()).unwrap();
    let zeros = Tensor::from_vec(vec![2], vec![0i32, 0]).unwrap();
    assert_eq!(f32s(&run(&m, &[("c", zeros), ("x", x.clone())])["y"]), [6.0]);
    let empty = Tensor::from_vec(vec![0], Vec::<i32>::new()).unwrap();
    assert_eq!(f32s(&run(&m, &[("c", empty), ("x", x)])["y"]), [10.0]);
    // Unknown rank: scalar or not cannot be told apart.
    let e = fmt_tf::lower(&if_graph(DType::Bool, None, branches()), &LowerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("the rank of the condition 'c' is unknown"), "{e}");
}

#[test]
fn a_function_calling_itself_and_deep_nesting_are_refused() {
    // `then` holds an If whose then branch is `then` again.
    let mut recursive = unary_function("then", "AddV2", 1.0);
    recursive.nodes.push(node(
        "then/if",
        "StatelessIf",
        &["then#x", "then#x"],
        vec![("then_branch", TfAttr::Func("then".into())), ("else_branch", TfAttr::Func("else".into()))],
    ));
    recursive.outputs = vec![TfRef::new("then/if", 0)];
    let g = if_graph(DType::F32, Some(vec![]), vec![recursive, unary_function("else", "Mul", 2.0)]);
    let e = fmt_tf::lower(&g, &LowerOptions::default()).unwrap_err().to_string();
    assert!(e.contains("function 'then' calls itself"), "{e}");

    // A chain of branches nested deeper than the limit allows.
    let depth = 6;
    let mut functions = vec![unary_function("else", "Mul", 2.0), unary_function(&format!("f{depth}"), "AddV2", 1.0)];
    for k in 0..depth {
        let mut f = unary_function(&format!("f{k}"), "AddV2", 1.0);
        let arg = format!("f{k}#x");
        f.nodes.push(node(
            &format!("f{k}/if"),
            "StatelessIf",
            &[&arg, &format!("f{k}/y")],
            vec![("then_branch", TfAttr::Func(format!("f{}", k + 1))), ("else_branch", TfAttr::Func("else".into()))],
        ));
        f.outputs = vec![TfRef::new(format!("f{k}/if"), 0)];
        functions.push(f);
    }
    let mut g = if_graph(DType::F32, Some(vec![]), functions);
    g.nodes[2].attrs.insert("then_branch".into(), TfAttr::Func("f0".into()));
    let limits = ir::Limits { max_depth: 4, ..ir::Limits::default() };
    let e = fmt_tf::lower(&g, &LowerOptions { limits, ..LowerOptions::default() }).unwrap_err().to_string();
    assert!(e.contains("--max-depth"), "{e}");
    // Within the limit it lowers and runs: 5 + 1 per level, then + 1 at the end.
    let m = fmt_tf::lower(&g, &LowerOptions::default()).unwrap();
    let y = run(&m, &[("c", Tensor::scalar(1f32)), ("x", Tensor::scalar(5f32))]);
    assert_eq!(f32s(&y["y"]), [5.0 + depth as f32 + 1.0]);
}
