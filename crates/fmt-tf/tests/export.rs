//! Export round trips: every committed ONNX and OpenVINO fixture is written
//! as a frozen GraphDef and as a SavedModel, read back with this crate's
//! importers and run in the reference evaluator against the source model
//! (relative L2 ≤ 1e-5). TensorFlow itself runs the same exports in
//! `xtask/python/run_tf.py`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ir::{ExportOptions, Exporter, Importer, Model};

/// Fixtures expected not to export, with why. The test fails if one of them
/// exports, so the list cannot go stale.
const UNSUPPORTED: &[(&str, &str)] = &[("dtypes", "float8 e4m3fnuz/e5m2fnuz and other types TensorFlow lacks")];

/// Fixtures that export but that this crate's importer cannot read back
/// (they run in TensorFlow through `run_tf.py`).
const NOT_REIMPORTED: &[(&str, &str)] = &[];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Names as they come back from TF (signature keys / node names).
fn norm(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

fn feeds(model: &Model, inputs: &[ir::Tensor]) -> Vec<(String, eval::Value)> {
    let real: Vec<_> = model.graph.inputs.iter().filter(|v| !model.graph.initializers.contains_key(&v.name)).collect();
    real.iter()
        .zip(inputs)
        .map(|(v, t)| (v.name.clone(), eval::Value::Tensor(eval::from_ir(&declared(v, t)).unwrap())))
        .collect()
}

/// `t` reshaped to `v`'s static shape when only the shape differs (a scalar
/// stored as `[1]`).
fn declared(v: &ir::ValueInfo, t: &ir::Tensor) -> ir::Tensor {
    match v.shape().and_then(ir::Shape::as_fixed) {
        Some(d) if d.iter().product::<u64>() as usize == t.numel() => {
            t.reshaped(d.iter().map(|&x| x as usize).collect()).unwrap()
        }
        _ => t.clone(),
    }
}

fn run(model: &Model, inputs: Vec<(String, eval::Value)>) -> HashMap<String, eval::Value> {
    eval::run(model, inputs).unwrap().into_iter().map(|(k, v)| (norm(&k), v)).collect()
}

/// Exports `model` both ways, re-imports, runs and compares; returns the
/// worst relative L2 error.
fn round_trip(name: &str, model: &Model, inputs: &[ir::Tensor]) -> ir::Result<f64> {
    let dir = tempfile::tempdir().unwrap();
    fmt_tf::FrozenExporter.check(model)?;
    let want = run(model, feeds(model, inputs));
    let mut worst = 0.0f64;
    let opts = ExportOptions::default();
    let cases: [(&dyn Exporter, &dyn Importer, PathBuf); 2] = [
        (&fmt_tf::FrozenExporter, &fmt_tf::FrozenImporter, dir.path().join("model.pb")),
        (&fmt_tf::SavedModelExporter, &fmt_tf::SavedModelImporter, dir.path().join("saved")),
    ];
    for (exporter, importer, path) in cases {
        exporter.check(model)?;
        exporter.export(model, &path, &opts)?;
        if NOT_REIMPORTED.iter().any(|r| r.0 == name) {
            continue;
        }
        let back = importer.import(&path, &Default::default()).unwrap_or_else(|e| panic!("{name}: re-import: {e}"));
        // Feed by normalized name: TF renames inputs to valid node names.
        let src_inputs = feeds(model, inputs);
        let by_name: HashMap<String, eval::Value> = src_inputs.into_iter().map(|(k, v)| (norm(&k), v)).collect();
        let back_feeds: Vec<(String, eval::Value)> = back
            .graph
            .inputs
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    by_name.get(&norm(&v.name)).unwrap_or_else(|| panic!("{name}: input {}", v.name)).clone(),
                )
            })
            .collect();
        let got = run(&back, back_feeds);
        for (k, w) in &want {
            let g = got.get(k).unwrap_or_else(|| panic!("{name}: output {k} missing after {}", path.display()));
            let m = eval::compare::compare_values(w, g).unwrap_or_else(|e| panic!("{name}: output {k}: {e}"));
            let err = if m.rel_l2.is_nan() { f64::INFINITY } else { m.rel_l2 };
            worst = worst.max(err);
        }
    }
    Ok(worst)
}

fn onnx_cases() -> Vec<(String, Model, Vec<ir::Tensor>)> {
    let mut out = Vec::new();
    let root = fixtures().join("onnx");
    let mut dirs: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let model = fmt_onnx::OnnxImporter.import(&d.join("model.onnx"), &Default::default()).unwrap();
        let mut inputs = Vec::new();
        for k in 0.. {
            let p = d.join(format!("input_{k}.npy"));
            if !p.exists() {
                break;
            }
            inputs.push(ir::tensor_file::read_npy(&p).unwrap());
        }
        out.push((name, model, inputs));
    }
    out
}

fn openvino_cases() -> Vec<(String, Model, Vec<ir::Tensor>)> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("openvino/manifest.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for c in manifest["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_string();
        let model = fmt_openvino::OpenVinoImporter
            .import(&fixtures().join(c["model"].as_str().unwrap()), &Default::default())
            .unwrap();
        let inputs = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| ir::tensor_file::read_npy(&fixtures().join(i["file"].as_str().unwrap())).unwrap())
            .collect();
        out.push((format!("openvino/{name}"), model, inputs));
    }
    out
}

fn check_all(cases: Vec<(String, Model, Vec<ir::Tensor>)>) {
    let mut failures = Vec::new();
    for (name, model, inputs) in cases {
        let short = name.trim_start_matches("openvino/");
        let expected_fail = UNSUPPORTED.iter().find(|u| u.0 == short);
        match (round_trip(&name, &model, &inputs), expected_fail) {
            (Ok(err), None) if err <= 1e-5 => eprintln!("{name}: rel L2 {err:.2e}"),
            (Ok(err), None) => failures.push(format!("{name}: rel L2 {err:.2e} > 1e-5")),
            (Err(e), None) => failures.push(format!("{name}: {e}")),
            (Ok(_), Some(_)) => failures.push(format!("{name}: listed as unsupported but exports; update UNSUPPORTED")),
            (Err(e), Some(why)) => eprintln!("{name}: unsupported as expected ({}): {e}", why.1),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn onnx_fixtures_round_trip() {
    check_all(onnx_cases());
}

#[test]
fn openvino_fixtures_round_trip() {
    check_all(openvino_cases());
}

/// Transposes that act on activations (reachable from a Placeholder).
fn activation_transposes(pb: &Path) -> Vec<String> {
    use prost::Message;
    let g = fmt_tf::generated::tensorflow::GraphDef::decode(&std::fs::read(pb).unwrap()[..]).unwrap();
    let by_name: HashMap<&str, &fmt_tf::generated::tensorflow::NodeDef> =
        g.node.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut dynamic: HashMap<&str, bool> = HashMap::new();
    fn is_dyn<'a>(
        n: &'a str,
        by: &HashMap<&'a str, &'a fmt_tf::generated::tensorflow::NodeDef>,
        memo: &mut HashMap<&'a str, bool>,
    ) -> bool {
        if let Some(&v) = memo.get(n) {
            return v;
        }
        memo.insert(n, false);
        let node = by[n];
        let v = node.op == "Placeholder"
            || node.input.iter().any(|i| is_dyn(i.trim_start_matches('^').split(':').next().unwrap(), by, memo));
        memo.insert(n, v);
        v
    }
    g.node
        .iter()
        .filter(|n| n.op == "Transpose" && is_dyn(&n.name, &by_name, &mut dynamic))
        .map(|n| n.name.clone())
        .collect()
}

#[test]
fn cnns_transpose_only_at_the_interface() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["cnn_bn_residual", "resnet_tiny_ts", "dynamic_batch", "cnn_dynamo_default"] {
        let model = fmt_onnx::OnnxImporter
            .import(&fixtures().join(format!("onnx/{name}/model.onnx")), &Default::default())
            .unwrap();
        let pb = dir.path().join(format!("{name}.pb"));
        fmt_tf::FrozenExporter.export(&model, &pb, &ExportOptions::default()).unwrap();
        let t = activation_transposes(&pb);
        // One NCHW → NHWC at the input; the head reduces to [N, C] in NHWC.
        assert!(t.len() <= 1, "{name}: transposes {t:?}");
        let mut opts = ExportOptions::default();
        opts.format_options.insert("output-layout".into(), "nhwc".into());
        fmt_tf::FrozenExporter.export(&model, &pb, &opts).unwrap();
        let t = activation_transposes(&pb);
        assert!(t.is_empty(), "{name} with NHWC interface: transposes {t:?}");
    }
}

#[test]
fn check_lists_every_unsupported_op_and_failed_exports_leave_nothing() {
    let mut g = ir::Graph::default();
    g.inputs.push(ir::ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[2, 3])));
    g.nodes.push(ir::Node::new("Relu", ["x"], ["a"]));
    g.nodes.push(ir::Node::new("NonMaxSuppression", ["a"], ["b"]));
    g.nodes.push(ir::Node::new("Foo", ["b"], ["c"]).in_domain("custom"));
    g.nodes.push(ir::Node::new("NonMaxSuppression", ["c"], ["y"]));
    g.outputs.push(ir::ValueInfo::tensor("y", ir::DType::F32, None));
    let model = Model { graph: g, ..Model::default() };
    let e = fmt_tf::FrozenExporter.check(&model).unwrap_err();
    let names = e.unsupported_op_names();
    assert!(names.contains(&"NonMaxSuppression") && names.contains(&"Foo"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    assert!(fmt_tf::FrozenExporter.export(&model, &dir.path().join("m.pb"), &ExportOptions::default()).is_err());
    assert!(fmt_tf::SavedModelExporter.export(&model, &dir.path().join("sm"), &ExportOptions::default()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed export left files");
}

/// `ConstantOfShape` folds small constant shapes into one constant; a shape
/// whose product overflows (a hostile file) must take the `Fill` path, not
/// overflow the fold's size check.
#[test]
fn constant_of_shape_with_an_overflowing_product_is_written_as_fill() {
    let mut g = ir::Graph::default();
    g.initializers.insert("s".into(), ir::Tensor::from_vec(vec![3], vec![1i64 << 31, 1 << 31, 1 << 31]).unwrap());
    g.nodes.push(ir::Node::new("ConstantOfShape", ["s"], ["y"]));
    g.outputs.push(ir::ValueInfo::tensor("y", ir::DType::F32, None));
    let model = Model { graph: g, ..Model::default() };
    let dir = tempfile::tempdir().unwrap();
    fmt_tf::FrozenExporter.export(&model, &dir.path().join("m.pb"), &ExportOptions::default()).unwrap();
    let back = fmt_tf::FrozenImporter.import(&dir.path().join("m.pb"), &ir::ImportOptions::default()).unwrap();
    assert!(back.graph.nodes.iter().any(|n| n.op == "ConstantOfShape" || n.op == "Expand"), "{:?}", back.graph.nodes);
}

/// With `TF_EXPORT_DIR` set, writes every fixture's exports there with a
/// `jobs.json` for `xtask/python/run_tf.py` (ONNX fixtures against their
/// framework references; OpenVINO fixtures against the reference
/// evaluator's outputs of the imported IR, since OpenVINO's own outputs of
/// the fp16/int8/int4 IRs differ from exact arithmetic by up to 1e-1).
#[test]
fn write_tf_interop_jobs() {
    let Some(out) = std::env::var_os("TF_EXPORT_DIR").map(PathBuf::from) else { return };
    std::fs::create_dir_all(&out).unwrap();
    let mut jobs = Vec::new();
    let mut cases = onnx_cases();
    cases.extend(openvino_cases());
    for (name, model, inputs) in cases {
        let id = name.replace('/', "_");
        let real: Vec<_> =
            model.graph.inputs.iter().filter(|v| !model.graph.initializers.contains_key(&v.name)).collect();
        let mut ins = serde_json::Map::new();
        for (k, (v, t)) in real.iter().zip(&inputs).enumerate() {
            let p = ir::tensor_file::write(&out.join(format!("{id}_in{k}")), "x", &declared(v, t)).unwrap();
            ins.insert(v.name.clone(), p.to_string_lossy().into_owned().into());
        }
        let mut outs = serde_json::Map::new();
        if name.starts_with("openvino/") {
            let got = eval::run(&model, feeds(&model, &inputs)).unwrap();
            for (k, (oname, v)) in got.iter().enumerate() {
                let eval::Value::Tensor(t) = v else { continue };
                let p =
                    ir::tensor_file::write(&out.join(format!("{id}_out{k}")), "y", &eval::to_ir(t).unwrap()).unwrap();
                outs.insert(oname.clone(), p.to_string_lossy().into_owned().into());
            }
        } else {
            for (k, v) in model.graph.outputs.iter().enumerate() {
                let p = fixtures().join(format!("onnx/{name}/output_{k}.npy"));
                outs.insert(v.name.clone(), p.to_string_lossy().into_owned().into());
            }
        }
        for (kind, path) in [("frozen", out.join(format!("{id}.pb"))), ("saved_model", out.join(format!("{id}_saved")))]
        {
            let r = if kind == "frozen" {
                fmt_tf::FrozenExporter.export(&model, &path, &ExportOptions::default())
            } else {
                fmt_tf::SavedModelExporter.export(&model, &path, &ExportOptions::default())
            };
            if let Err(e) = r {
                eprintln!("{id} {kind}: not exported: {e}");
                continue;
            }
            jobs.push(serde_json::json!({
                "id": format!("{id}/{kind}"), "kind": kind, "model": path.to_string_lossy(),
                "inputs": ins.clone(), "outputs": outs.clone(), "rtol": 1e-5,
            }));
        }
    }
    // The NHWC interface (`-O output-layout=nhwc`) of the CNN fixtures: inputs transposed.
    for name in ["cnn_bn_residual", "resnet_tiny_ts", "dynamic_batch", "cnn_dynamo_default"] {
        let d = fixtures().join(format!("onnx/{name}"));
        let model = fmt_onnx::OnnxImporter.import(&d.join("model.onnx"), &Default::default()).unwrap();
        let x = ir::tensor_file::read_npy(&d.join("input_0.npy")).unwrap().permuted(&[0, 2, 3, 1]).unwrap();
        let inp = ir::tensor_file::write(&out.join(format!("{name}_nhwc_in0")), "x", &x).unwrap();
        let mut opts = ExportOptions::default();
        opts.format_options.insert("output-layout".into(), "nhwc".into());
        let path = out.join(format!("{name}_nhwc.pb"));
        fmt_tf::FrozenExporter.export(&model, &path, &opts).unwrap();
        let outs: serde_json::Map<String, serde_json::Value> = model
            .graph
            .outputs
            .iter()
            .enumerate()
            .map(|(k, v)| (v.name.clone(), d.join(format!("output_{k}.npy")).to_string_lossy().into_owned().into()))
            .collect();
        jobs.push(serde_json::json!({
            "id": format!("{name}_nhwc_interface/frozen"), "kind": "frozen", "model": path.to_string_lossy(),
            "inputs": {model.graph.inputs[0].name.clone(): inp.to_string_lossy()}, "outputs": outs, "rtol": 1e-5,
        }));
    }
    std::fs::write(out.join("jobs.json"), serde_json::to_string_pretty(&jobs).unwrap()).unwrap();
}

/// The `dtypes` fixture (constants of every dtype through `Identity` and
/// `Cast`), cut to the outputs whose dtype TensorFlow has (4-bit types are
/// widened to 8 bits, so they are left out too): every value comes back
/// bit for bit from both formats.
#[test]
fn every_tensorflow_dtype_round_trips() {
    let mut model =
        fmt_onnx::OnnxImporter.import(&fixtures().join("onnx/dtypes/model.onnx"), &Default::default()).unwrap();
    let keep = |d: Option<ir::DType>| {
        d.is_some_and(|d| fmt_tf::dtype::from_ir(d).is_some() && !matches!(d, ir::DType::I4 | ir::DType::U4))
    };
    let before = model.graph.outputs.len();
    model.graph.outputs.retain(|o| keep(o.dtype()));
    model.graph.remove_dead_nodes();
    model.graph.remove_unused_initializers();
    let kept = model.graph.outputs.len();
    assert!(kept >= 35 && kept < before, "{kept} of {before} outputs kept");
    let worst = round_trip("dtypes", &model, &[]).unwrap();
    assert_eq!(worst, 0.0);
}

#[test]
fn a_failed_export_keeps_the_previous_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let good = fmt_onnx::OnnxImporter.import(&fixtures().join("onnx/mlp/model.onnx"), &Default::default()).unwrap();
    let target = dir.path().join("sm");
    fmt_tf::SavedModelExporter.export(&good, &target, &ExportOptions::default()).unwrap();
    let pb = std::fs::read(target.join("saved_model.pb")).unwrap();
    // Passes check() (Selu has a rule) but fails while writing: TF's Selu has fixed constants.
    let mut g = ir::Graph::default();
    g.inputs.push(ir::ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[2])));
    g.nodes.push(ir::Node::new("Selu", ["x"], ["y"]).with_attr("alpha", ir::Attribute::Float(2.0)));
    g.outputs.push(ir::ValueInfo::tensor("y", ir::DType::F32, ir::Shape::fixed(&[2])));
    let bad = Model::new(g);
    fmt_tf::SavedModelExporter.check(&bad).unwrap();
    let e = fmt_tf::SavedModelExporter.export(&bad, &target, &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("Selu"), "{e}");
    assert!(fmt_tf::FrozenExporter.export(&bad, &dir.path().join("m.pb"), &ExportOptions::default()).is_err());
    assert_eq!(std::fs::read(target.join("saved_model.pb")).unwrap(), pb);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("sm")], "leftovers: {names:?}");
    // Overwriting with a good model replaces the folder whole.
    fmt_tf::SavedModelExporter.export(&good, &target, &ExportOptions::default()).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1);
    fmt_tf::SavedModelImporter.import(&target, &Default::default()).unwrap();
}

/// Weights past protobuf's 2 GiB limit: the frozen exporter refuses them
/// up front with a pointer to the SavedModel (a sparse file, never read).
#[test]
fn frozen_graphs_over_2_gib_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let n: usize = 550_000_000;
    std::fs::File::create(&big).unwrap().set_len((n * 4) as u64).unwrap();
    let w = ir::Tensor::from_raw(ir::DType::F32, vec![n], ir::Buffer::map_file(&big).unwrap()).unwrap();
    let mut g = ir::Graph::default();
    g.inputs.push(ir::ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[n as u64])));
    g.initializers.insert("w".into(), w);
    g.nodes.push(ir::Node::new("Add", ["x", "w"], ["y"]));
    g.outputs.push(ir::ValueInfo::tensor("y", ir::DType::F32, ir::Shape::fixed(&[n as u64])));
    let e =
        fmt_tf::FrozenExporter.export(&Model::new(g), &dir.path().join("m.pb"), &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("SavedModel"), "{e}");
    assert!(!dir.path().join("m.pb").exists());
}

/// A SavedModel with 2.2 GB of weights (a sparse file) is streamed into its
/// bundle and read back; ignored by default for its disk use
/// (`cargo test -p fmt-tf --test export -- --ignored`).
#[test]
#[ignore]
fn saved_models_over_2_gib_stream() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let n: usize = 550_000_000;
    std::fs::File::create(&big).unwrap().set_len((n * 4) as u64).unwrap();
    let w = ir::Tensor::from_raw(ir::DType::F32, vec![n], ir::Buffer::map_file(&big).unwrap()).unwrap();
    let mut g = ir::Graph::default();
    g.inputs.push(ir::ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[n as u64])));
    g.initializers.insert("w".into(), w);
    g.nodes.push(ir::Node::new("Add", ["x", "w"], ["y"]));
    g.outputs.push(ir::ValueInfo::tensor("y", ir::DType::F32, ir::Shape::fixed(&[n as u64])));
    let target = dir.path().join("sm");
    let report = fmt_tf::SavedModelExporter.export(&Model::new(g), &target, &ExportOptions::default()).unwrap();
    assert!(report.bytes_written() > 2_200_000_000);
    let b = fmt_tf::bundle::Bundle::open(&target.join("variables/variables")).unwrap();
    let key = b.keys().next().unwrap().to_string();
    b.verify(&key).unwrap();
    assert_eq!(b.get(&key).unwrap().shape(), &[n]);
}

/// With `TF_EXPORT_MODELS` naming a folder of `NAME.onnx`, `NAME_ref.npy`
/// and `x.npy` (or `NAME_x.npy`) (real-size models made outside the repo), exports each both
/// ways, prints the activation transposes and writes `jobs.json` there.
#[test]
fn export_real_models() {
    let Some(dir) = std::env::var_os("TF_EXPORT_MODELS").map(PathBuf::from) else { return };
    let mut jobs = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.retain(|n| dir.join(format!("{n}.onnx")).exists());
    names.sort();
    names.dedup();
    for name in names {
        let model = fmt_onnx::OnnxImporter.import(&dir.join(format!("{name}.onnx")), &Default::default()).unwrap();
        let pb = dir.join(format!("{name}.pb"));
        let sm = dir.join(format!("{name}_saved"));
        let t0 = std::time::Instant::now();
        if let Err(e) = fmt_tf::FrozenExporter.export(&model, &pb, &ExportOptions::default()) {
            eprintln!("{name}: {e}");
            continue;
        }
        let t1 = t0.elapsed();
        fmt_tf::SavedModelExporter.export(&model, &sm, &ExportOptions::default()).unwrap();
        eprintln!("{name}: frozen in {t1:?}, activation transposes {:?}", activation_transposes(&pb));
        let input = model.graph.inputs[0].name.clone();
        let output = model.graph.outputs[0].name.clone();
        // The model's own input if it has one (`NAME_x.npy`), else the shared `x.npy`.
        let own = dir.join(format!("{name}_x.npy"));
        let x = if own.exists() { own } else { dir.join("x.npy") };
        for (kind, path) in [("frozen", &pb), ("saved_model", &sm)] {
            jobs.push(serde_json::json!({
                "id": format!("{name}/{kind}"), "kind": kind, "model": path.to_string_lossy(),
                "inputs": {input.clone(): x.to_string_lossy()},
                "outputs": {output.clone(): dir.join(format!("{name}_ref.npy")).to_string_lossy()}, "rtol": 1e-5,
            }));
        }
    }
    std::fs::write(dir.join("jobs.json"), serde_json::to_string_pretty(&jobs).unwrap()).unwrap();
}
