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
const SKIP: &[(&str, &str)] = &[
    // GatherV2 with batch_dims > 0 has no single canonical op; not lowered yet.
    ("GatherV2_batch_dims1", "batch_dims is not supported"),
];

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
        "shape" => TfAttr::Shape(
            v.as_array().map(|d| d.iter().map(|x| x.as_i64().filter(|&n| n >= 0)).collect()),
        ),
        "list_i" => list(|x| TfAttr::Int(x.as_i64().unwrap())),
        "list_f" => list(|x| TfAttr::Float(x.as_f64().unwrap() as f32)),
        "list_type" => list(|x| TfAttr::Type(x.as_i64().unwrap() as i32)),
        "list_s" => list(|x| TfAttr::Str(x.as_str().unwrap().as_bytes().to_vec())),
        k => panic!("attribute kind {k}"),
    }
}

/// The case as a graph, and the Placeholder feeds.
fn build(dir: &Path) -> (TfGraph, Vec<(String, Tensor)>, Vec<(String, Tensor)>) {
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
        ops.insert(name.split('_').next().unwrap().to_string());
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
