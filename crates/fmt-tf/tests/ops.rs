//! Op-level conformance against TensorFlow itself.
//!
//! Each folder in `tests/fixtures/tf_ops/` (written by
//! `tests/fixtures/make_tf_op_cases.py` with TF 2.21) holds one op with its
//! attributes as the traced NodeDef had them, its inputs (`Const` or
//! `Placeholder`) and TF's outputs. The case is rebuilt as a `TfGraph`,
//! lowered, run in the reference evaluator and compared: relative L2 error
//! at most 1e-5 for floats (1e-3 for f16 results), exact for integers and booleans, and the same
//! dtype and shape always.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use fmt_tf::{LowerOptions, TfAttr, TfGraph, TfNode, TfPort, TfRef};
use ir::{DType, Tensor};
use serde_json::Value;

/// Cases expected to fail, with why. The test fails if one of them passes,
/// so the list cannot go stale.
const SKIP: &[(&str, &str)] = &[];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tf_ops")
}

fn attr(v: &Value) -> TfAttr {
    let (k, v) = v.as_object().and_then(|o| o.iter().next()).expect("one key per attribute");
    let list = |f: fn(&Value) -> TfAttr| TfAttr::List(v.as_array().expect("a list").iter().map(f).collect());
    match k.as_str() {
        "i" => TfAttr::Int(v.as_i64().unwrap()),
        "f" => TfAttr::Float(v.as_f64().unwrap() as f32),
        "b" => TfAttr::Bool(v.as_bool().unwrap()),
        "s" => TfAttr::Str(v.as_str().unwrap().as_bytes().to_vec()),
        "type" => TfAttr::Type(v.as_i64().unwrap() as i32),
        "shape" => TfAttr::Shape(v.as_array().map(|d| d.iter().map(|x| x.as_i64().filter(|&n| n >= 0)).collect())),
        "list_i" => list(|x| TfAttr::Int(x.as_i64().unwrap())),
        "list_f" => list(|x| TfAttr::Float(x.as_f64().unwrap() as f32)),
        "list_type" => list(|x| TfAttr::Type(x.as_i64().unwrap() as i32)),
        "list_s" => list(|x| TfAttr::Str(x.as_str().unwrap().as_bytes().to_vec())),
        k => panic!("attribute kind {k}"),
    }
}

/// Tensors by name (Placeholder feeds, expected outputs).
type Named = Vec<(String, Tensor)>;

/// The case as a graph, the Placeholder feeds and TF's outputs.
fn build(dir: &Path) -> (TfGraph, Named, Named) {
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
    let mut g = TfGraph { name: dir.file_name().unwrap().to_string_lossy().into_owned(), ..TfGraph::default() };
    let mut feeds = Vec::new();
    let mut op_inputs = Vec::new();
    for (k, inp) in spec["inputs"].as_array().unwrap().iter().enumerate() {
        let name = inp["name"].as_str().unwrap().to_string();
        let t = ir::tensor_file::read_npy(&dir.join(format!("input_{k}.npy"))).unwrap();
        let dtype_code = fmt_tf::dtype::from_ir(t.dtype()).unwrap();
        let mut attrs = BTreeMap::from([("dtype".to_string(), TfAttr::Type(dtype_code))]);
        if inp["const"].as_bool().unwrap() {
            attrs.insert("value".into(), TfAttr::Tensor(t));
            g.nodes.push(TfNode { name: name.clone(), op: "Const".into(), inputs: vec![], attrs });
        } else {
            let shape: Vec<Option<i64>> =
                inp["shape"].as_array().unwrap().iter().map(|d| d.as_i64().filter(|&n| n >= 0)).collect();
            attrs.insert("shape".into(), TfAttr::Shape(Some(shape.clone())));
            g.nodes.push(TfNode { name: name.clone(), op: "Placeholder".into(), inputs: vec![], attrs });
            g.inputs.push(TfPort {
                name: name.clone(),
                tensor: TfRef::new(&name, 0),
                dtype: t.dtype(),
                shape: Some(shape),
            });
            feeds.push((name.clone(), t));
        }
        op_inputs.push(TfRef::new(&name, 0));
    }
    let attrs = spec["attrs"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), attr(v))).collect();
    g.nodes.push(TfNode { name: "op".into(), op: spec["op"].as_str().unwrap().into(), inputs: op_inputs, attrs });
    let mut want = Vec::new();
    for k in spec["outputs"].as_array().unwrap() {
        let k = k.as_u64().unwrap() as usize;
        let t = ir::tensor_file::read_npy(&dir.join(format!("output_{k}.npy"))).unwrap();
        let name = format!("out_{k}");
        g.outputs.push(TfPort { name: name.clone(), tensor: TfRef::new("op", k), dtype: t.dtype(), shape: None });
        want.push((name, t));
    }
    (g, feeds, want)
}

fn floats(t: &Tensor) -> Option<Vec<f64>> {
    Some(match t.dtype() {
        DType::F32 => t.as_slice::<f32>().ok()?.iter().map(|&x| f64::from(x)).collect(),
        DType::F64 => t.as_slice::<f64>().ok()?.to_vec(),
        DType::F16 => t.as_slice::<ir::f16>().ok()?.iter().map(|x| x.to_f64()).collect(),
        _ => return None,
    })
}

/// Compares one output; `Err` says how it differs.
fn check(want: &Tensor, got: &Tensor) -> Result<(), String> {
    if want.dtype() != got.dtype() || want.shape() != got.shape() {
        return Err(format!("{} {:?} expected, got {} {:?}", want.dtype(), want.shape(), got.dtype(), got.shape()));
    }
    match (floats(want), floats(got)) {
        (Some(w), Some(g)) => {
            let mut err = 0.0;
            let mut norm = 0.0;
            for (a, b) in w.iter().zip(&g) {
                if a.is_nan() != b.is_nan() {
                    return Err("NaN mismatch".into());
                }
                if !a.is_nan() {
                    err += (a - b) * (a - b);
                    norm += a * a;
                }
            }
            let rel = if norm > 0.0 { (err / norm).sqrt() } else { err.sqrt() };
            // An f16 result is one rounding of the exact value: TF and the
            // evaluator may land one ulp (2^-11 relative) apart.
            let tol = if want.dtype() == DType::F16 { 1e-3 } else { 1e-5 };
            if rel > tol { Err(format!("rel. L2 {rel:.3e}")) } else { Ok(()) }
        }
        _ => {
            let same = match want.dtype() {
                DType::Bool => want.to_bools().ok() == got.to_bools().ok(),
                _ => want.raw().map(|b| b.as_bytes()) == got.raw().map(|b| b.as_bytes()),
            };
            if same { Ok(()) } else { Err("values differ".into()) }
        }
    }
}

fn run_case(dir: &Path) -> Result<(), String> {
    let (g, feeds, want) = build(dir);
    let model = fmt_tf::lower(&g, &LowerOptions::default()).map_err(|e| format!("lower: {e}"))?;
    let feeds = feeds
        .into_iter()
        .map(|(n, t)| Ok((n, eval::Value::Tensor(eval::from_ir(&t).map_err(|e| e.to_string())?))))
        .collect::<Result<Vec<_>, String>>()?;
    let outs = eval::run(&model, feeds).map_err(|e| format!("eval: {e}"))?;
    let outs: HashMap<String, eval::Value> = outs.into_iter().collect();
    for (name, w) in want {
        let v = outs.get(&name).ok_or_else(|| format!("no output {name}"))?;
        let t = v.tensor().map_err(|e| format!("{name}: {e}"))?;
        let t = eval::to_ir(t).map_err(|e| e.to_string())?;
        check(&w, &t).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

#[test]
fn tensorflow_op_cases() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("spec.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 400, "only {} cases found", dirs.len());
    let skip: HashMap<&str, &str> = SKIP.iter().copied().collect();
    let mut passed = 0;
    let mut problems = Vec::new();
    let mut ops = std::collections::BTreeSet::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(d.join("spec.json")).unwrap()).unwrap();
        ops.insert(spec["op"].as_str().unwrap().to_string());
        match (run_case(d), skip.get(name.as_str())) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => problems.push(format!("{name}: passes but is in the skip list")),
            (Err(_), Some(_)) => {}
            (Err(e), None) => problems.push(format!("{name}: {e}")),
        }
    }
    println!("{passed} of {} TensorFlow op cases pass ({} ops; {} skipped)", dirs.len(), ops.len(), skip.len());
    assert!(problems.is_empty(), "{} case(s) failed:\n{}", problems.len(), problems.join("\n"));
}

/// Deterministic values in [-0.5, 0.5) (a small LCG: no RNG dependency).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

fn tf_node(name: &str, op: &str, inputs: &[&str], attrs: Vec<(&str, TfAttr)>) -> TfNode {
    TfNode {
        name: name.into(),
        op: op.into(),
        inputs: inputs.iter().map(|i| TfRef::parse(i).unwrap()).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn ints(v: &[i64]) -> TfAttr {
    TfAttr::List(v.iter().map(|&i| TfAttr::Int(i)).collect())
}

/// A Keras-style MobileNet block in NHWC: conv, batch norm, relu6,
/// depthwise conv, residual add, max pool, global average pool, dense,
/// softmax; batch left dynamic.
fn keras_like_cnn() -> TfGraph {
    let mut nodes = vec![tf_node("x", "Placeholder", &[], vec![])];
    let mut seed = 0;
    let mut weight = |nodes: &mut Vec<TfNode>, name: &str, shape: Vec<usize>| {
        seed += 1;
        let n = shape.iter().product();
        let t = Tensor::from_vec(shape, values(n, seed)).unwrap();
        nodes.push(tf_node(name, "Const", &[], vec![("value", TfAttr::Tensor(t))]));
    };
    let same = || TfAttr::Str(b"SAME".to_vec());
    for (name, shape) in [
        ("w1", vec![3, 3, 3, 8]),
        ("wd", vec![3, 3, 8, 1]),
        ("w2", vec![1, 1, 8, 8]),
        ("wf", vec![8, 4]),
        ("bf", vec![4]),
    ] {
        weight(&mut nodes, name, shape);
    }
    for bn in ["bn1", "bn2"] {
        for p in ["scale", "offset", "mean"] {
            weight(&mut nodes, &format!("{bn}/{p}"), vec![8]);
        }
        let var = Tensor::from_vec(vec![8], values(8, 99).iter().map(|v| v + 1.0).collect()).unwrap();
        nodes.push(tf_node(&format!("{bn}/variance"), "Const", &[], vec![("value", TfAttr::Tensor(var))]));
    }
    let axes = Tensor::from_vec(vec![2], vec![1i32, 2]).unwrap();
    nodes.push(tf_node("axes", "Const", &[], vec![("value", TfAttr::Tensor(axes))]));
    let bn = |name: &str, x: &str| {
        let ins = [
            x.to_string(),
            format!("{name}/scale"),
            format!("{name}/offset"),
            format!("{name}/mean"),
            format!("{name}/variance"),
        ];
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        tf_node(
            name,
            "FusedBatchNormV3",
            &ins,
            vec![("epsilon", TfAttr::Float(1e-3)), ("is_training", TfAttr::Bool(false))],
        )
    };
    nodes.extend([
        tf_node("c1", "Conv2D", &["x", "w1"], vec![("strides", ints(&[1, 2, 2, 1])), ("padding", same())]),
        bn("bn1", "c1"),
        tf_node("r1", "Relu6", &["bn1"], vec![]),
        tf_node(
            "dw",
            "DepthwiseConv2dNative",
            &["r1", "wd"],
            vec![("strides", ints(&[1, 1, 1, 1])), ("padding", same())],
        ),
        bn("bn2", "dw"),
        tf_node("r2", "Relu", &["bn2"], vec![]),
        tf_node("pw", "Conv2D", &["r2", "w2"], vec![("strides", ints(&[1, 1, 1, 1])), ("padding", same())]),
        tf_node("add", "AddV2", &["pw", "r1"], vec![]),
        tf_node(
            "mp",
            "MaxPool",
            &["add"],
            vec![
                ("ksize", ints(&[1, 2, 2, 1])),
                ("strides", ints(&[1, 2, 2, 1])),
                ("padding", TfAttr::Str(b"VALID".to_vec())),
            ],
        ),
        tf_node("gap", "Mean", &["mp", "axes"], vec![("keep_dims", TfAttr::Bool(false))]),
        tf_node("fc", "MatMul", &["gap", "wf"], vec![]),
        tf_node("logits", "BiasAdd", &["fc", "bf"], vec![]),
        tf_node("probs", "Softmax", &["logits"], vec![]),
    ]);
    TfGraph {
        name: "keras_like_cnn".into(),
        nodes,
        inputs: vec![TfPort {
            name: "image".into(),
            tensor: TfRef::new("x", 0),
            dtype: DType::F32,
            shape: Some(vec![None, Some(12), Some(12), Some(3)]),
        }],
        outputs: vec![TfPort { name: "probs".into(), tensor: TfRef::new("probs", 0), dtype: DType::F32, shape: None }],
        functions: Default::default(),
    }
}

fn transposes(m: &ir::Model) -> usize {
    m.graph.nodes.iter().filter(|n| n.op == "Transpose").count()
}

fn run(m: &ir::Model, x: &Tensor) -> Tensor {
    let feeds = vec![(m.graph.inputs[0].name.clone(), eval::Value::Tensor(eval::from_ir(x).unwrap()))];
    let out = eval::run(m, feeds).unwrap();
    eval::to_ir(out[0].1.tensor().unwrap()).unwrap()
}

#[test]
fn transpose_sinking_leaves_only_the_interface_transposes() {
    let x = Tensor::from_vec(vec![2, 12, 12, 3], values(2 * 12 * 12 * 3, 7)).unwrap();
    let lowered = fmt_tf::lower(&keras_like_cnn(), &LowerOptions::default()).unwrap();
    // Each conv and pool brings a pair.
    assert_eq!(transposes(&lowered), 8);
    let want = run(&lowered, &x);
    let mut simplified = lowered.clone();
    opt_simplify::simplify(&mut simplified, &opt_simplify::Options::default()).unwrap();
    // The input's transpose stays (the output is 2-D: nothing to undo there).
    assert_eq!(transposes(&simplified), 1, "{:?}", simplified.graph.nodes.iter().map(|n| &n.op).collect::<Vec<_>>());
    check(&want, &run(&simplified, &x)).unwrap();
    assert_eq!(simplified.graph.inputs[0].shape().unwrap().dims()[0], ir::Dim::Symbolic("batch".into()));

    // NCHW input: the inserted transpose cancels the first conv's.
    let opts = LowerOptions { input_layout_nchw: true, ..LowerOptions::default() };
    let mut nchw = fmt_tf::lower(&keras_like_cnn(), &opts).unwrap();
    opt_simplify::simplify(&mut nchw, &opt_simplify::Options::default()).unwrap();
    assert_eq!(transposes(&nchw), 0);
    let x_nchw = Tensor::from_vec(vec![2, 3, 12, 12], {
        let v = x.as_slice::<f32>().unwrap();
        let mut t = vec![0f32; v.len()];
        for n in 0..2 {
            for h in 0..12 {
                for w in 0..12 {
                    for c in 0..3 {
                        t[((n * 3 + c) * 12 + h) * 12 + w] = v[((n * 12 + h) * 12 + w) * 3 + c];
                    }
                }
            }
        }
        t
    })
    .unwrap();
    check(&want, &run(&nchw, &x_nchw)).unwrap();
}

/// `docs/tf-ops.md` is `ops_markdown()`'s output (`UPDATE_DOCS=1` rewrites it).
#[test]
fn docs_table_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tf-ops.md");
    let want = fmt_tf::ops_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "docs/tf-ops.md is stale: rerun with UPDATE_DOCS=1");
}
