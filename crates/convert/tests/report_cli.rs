//! The machine-readable face of the `convert` binary: the JSON report of
//! `--json` and `--report`, checked against `docs/report.schema.json`, and
//! the exit code of each kind of failure (`convert::report::FailureKind`).

use std::ffi::OsStr;
use std::path::Path;
use std::sync::OnceLock;

use convert::report::{FailureKind, Report};
use serde_json::Value;

mod common;
use common::{Run, convert, fixture, model_with_a_foreign_op};

/// The schema, compiled once.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
        let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// Parses a report, checks it against the schema and against the typed
/// struct, and returns it as a JSON value.
fn checked(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"));
    let errors: Vec<String> = validator().iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}\nin {text}");
    let typed: Report = serde_json::from_value(v.clone()).expect("the document reads back as convert::report::Report");
    assert_eq!(typed.exit_code(), v["error"]["exit_code"].as_i64().unwrap_or(0) as i32);
    v
}

/// Runs with `--json` and returns the exit code and the checked document;
/// stdout must hold nothing but it.
fn json_run<S: AsRef<OsStr>>(args: &[S]) -> (Option<i32>, Value, Run) {
    let mut a: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    a.push(OsStr::new("--json"));
    let r = convert(&a);
    let v = checked(&r.stdout);
    assert_eq!(v["ok"], r.code == Some(0), "ok matches the exit code");
    (r.code, v, r)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

// ---------------------------------------------------------------------------
// Documents of successful runs.

#[test]
fn inspect_json_has_the_figures_of_the_text() {
    let model = fixture("mlp");
    let text = convert(&[OsStr::new("inspect"), model.as_os_str()]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let (code, v, r) = json_run(&[OsStr::new("inspect"), model.as_os_str()]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    assert_eq!(v["command"], "inspect");
    assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let m = &v["input"];
    assert_eq!(m["format"], "onnx");
    // The figures the fixture manifest lists, in both outputs.
    assert_eq!(m["parameters"], 26122);
    assert!(text.stdout.contains("parameters: 26122 ("), "{}", text.stdout);
    assert_eq!(m["nodes"], 12);
    assert!(text.stdout.contains("nodes:     12\n"), "{}", text.stdout);
    assert_eq!(m["ops"]["Gemm"], 3);
    assert_eq!(m["inputs"][0]["shape"], serde_json::json!([4, 64]));
    assert_eq!(m["inputs"][0]["dtype"], "f32");
    assert_eq!(m["by_dtype"]["f32"]["elements"], 26122);
    assert_eq!(num(&m["stored_bytes"]), num(&m["weight_bytes"]) + num(&m["constant_bytes"]));
    assert_eq!(r.stderr, "", "no text anywhere under --json");
}

#[test]
fn inspect_json_writes_symbolic_dims_as_strings() {
    let (code, v, r) = json_run(&[OsStr::new("inspect"), fixture("dynamic_batch").as_os_str()]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    let shape = v["input"]["inputs"][0]["shape"].as_array().unwrap();
    assert!(shape[0].is_string(), "the batch dim is a symbol: {shape:?}");
    assert!(shape[1..].iter().all(Value::is_u64), "{shape:?}");
}

#[test]
fn inspect_values_json_has_the_inferred_types_of_the_text() {
    let model = fixture("mlp");
    let args = [OsStr::new("inspect"), model.as_os_str(), OsStr::new("--values")];
    let text = convert(&args);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let (code, v, r) = json_run(&args);
    assert_eq!(code, Some(0), "{}", r.stderr);
    let values = v["input"]["values"].as_array().expect("values with --values");
    assert_eq!(values.len(), 12, "one per node output of the MLP");
    for val in values {
        let line = format!("  {}", val["name"].as_str().unwrap());
        let row = text.stdout.lines().find(|l| l.starts_with(&line)).unwrap_or_else(|| panic!("{line}"));
        assert!(row.ends_with(val["type"].as_str().unwrap()), "{row} vs {val}");
    }
    assert_eq!(values.last().unwrap()["shape"], serde_json::json!([4, 10]));
    // Without --values the field is absent.
    let (_, v, _) = json_run(&[OsStr::new("inspect"), model.as_os_str()]);
    assert!(v["input"].get("values").is_none());
}

#[test]
fn verify_json_has_a_row_per_output() {
    let model = fixture("transformer_encoder");
    let (code, v, r) = json_run(&[OsStr::new("verify"), model.as_os_str(), model.as_os_str()]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    assert_eq!(v["command"], "verify");
    let cmp = &v["verification"];
    assert_eq!(cmp["pass"], true);
    assert_eq!(num(&cmp["tolerance"]), 1e-4);
    let rows = cmp["outputs"].as_array().unwrap();
    assert_eq!(rows.len(), v["input"]["outputs"].as_array().unwrap().len());
    for row in rows {
        // Identical outputs: no error, and an infinite SQNR, written as null.
        assert_eq!(num(&row["rel_l2"]), 0.0, "{row}");
        assert!(row["sqnr_db"].is_null() && row["error"].is_null(), "{row}");
    }
    assert!(num(&v["timings"]["verify"]) >= 0.0);
    // The text table went to stderr.
    assert!(r.stderr.contains("max_abs"), "{}", r.stderr);
}

#[test]
fn run_json_lists_the_outputs_written_and_the_timing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, v, r) = json_run(&[
        OsStr::new("run"),
        fixture("mlp").as_os_str(),
        OsStr::new("-o"),
        dir.path().as_os_str(),
        OsStr::new("--repeat"),
        OsStr::new("3"),
    ]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    let run = &v["run"];
    assert_eq!(run["repeat"], 3);
    assert!(num(&run["min_ms"]) <= num(&run["median_ms"]));
    assert_eq!(run["outputs"][0]["name"], "output");
    assert!(dir.path().join("output.npy").exists());
    assert!(num(&v["timings"]["run"]) > 0.0);
}

/// The acceptance case of the issue: `--quantize int8 --verify --report`.
#[test]
fn quantize_verify_report_file_carries_sizes_sqnr_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.onnx");
    let report = dir.path().join("r.json");
    let r = convert(&[
        fixture("mlp").as_os_str(),
        out.as_os_str(),
        OsStr::new("--quantize"),
        OsStr::new("int8"),
        OsStr::new("--verify"),
        OsStr::new("--report"),
        report.as_os_str(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The text output is unchanged by --report.
    assert!(r.stdout.contains("verify: all 1 output(s) within rel. L2 0.0001"), "{}", r.stdout);
    let v = checked(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(v["ok"], true);
    assert_eq!(v["command"], "convert");
    let passes = v["passes"].as_array().unwrap();
    let names: Vec<&str> = passes.iter().map(|p| p["pass"].as_str().unwrap()).collect();
    assert_eq!(names, ["simplify", "quantize int8"]);
    let q = &passes[1];
    let (before, after) = (num(&q["figures"]["bytes_before"]), num(&q["figures"]["bytes_after"]));
    assert!(after < before / 3.0, "int8 weights are about a quarter: {before} -> {after}");
    let items = q["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "one item per quantized weight");
    assert_eq!(num(&q["figures"]["weights_quantized"]), 3.0);
    for it in items {
        let db = num(&it["fields"]["sqnr_db"]);
        assert!((30.0..80.0).contains(&db), "{it}");
        // The text lines name the same weights.
        let name = it["name"].as_str().unwrap();
        assert!(r.stderr.contains(&format!("{name}: int8")), "{name} in {}", r.stderr);
    }
    assert_eq!(num(&v["passes"][0]["figures"]["nodes_before"]), 12.0);
    // The pass check compares before and after, and only reports.
    let pc = &v["pass_check"];
    assert!(pc["tolerance"].is_null());
    assert!(num(&pc["outputs"][0]["sqnr_db"]) > 30.0);
    // --verify: the written file against the model after the passes.
    assert_eq!(v["verification"]["pass"], true);
    // The files written, with their real sizes.
    assert_eq!(v["files"][0]["path"], out.to_str().unwrap());
    assert_eq!(v["files"][0]["bytes"], std::fs::metadata(&out).unwrap().len());
    assert_eq!(v["output"]["parameters"].as_u64(), Some(convert_parameters(&out)));
    for stage in ["import", "passes", "export", "verify", "total"] {
        assert!(num(&v["timings"][stage]) >= 0.0, "{stage}");
    }
    assert!(v["timings"]["run"].is_null());
}

/// Parameters of a written model, read back with the library.
fn convert_parameters(path: &Path) -> u64 {
    let (m, _) = convert::load(&convert::registry(), path, None, &Default::default()).unwrap();
    ir::ModelStats::of(&m).parameters
}

#[test]
fn channel_pruning_json_reports_pruned_channels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.onnx");
    let (code, v, r) = json_run(&[
        fixture("cnn_bn_residual").as_os_str(),
        out.as_os_str(),
        OsStr::new("--prune-channels"),
        OsStr::new("0.5"),
    ]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    let p = v["passes"].as_array().unwrap().iter().find(|p| p["pass"] == "prune-channels").expect("the pass report");
    let f = &p["figures"];
    assert!(num(&f["parameters_after"]) < num(&f["parameters_before"]), "{f}");
    assert!(num(&f["bytes_after"]) < num(&f["bytes_before"]), "{f}");
    let items = p["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let sum: f64 = items.iter().map(|i| num(&i["fields"]["pruned_channels"])).sum();
    assert_eq!(sum, num(&f["pruned_channels"]));
    for i in items {
        let (b, a) = (num(&i["fields"]["channels_before"]), num(&i["fields"]["channels_after"]));
        assert_eq!(b - a, num(&i["fields"]["pruned_channels"]), "{i}");
    }
    assert_eq!(num(&v["output"]["parameters"]), num(&f["parameters_after"]));
    // The pass lines go to stderr as before; stdout is the document alone.
    assert!(r.stderr.contains("prune-channels: parameters "), "{}", r.stderr);
}

#[test]
fn magnitude_pruning_json_reports_sparsity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.onnx");
    let (code, v, r) = json_run(&[
        fixture("mlp").as_os_str(),
        out.as_os_str(),
        OsStr::new("--prune-magnitude"),
        OsStr::new("0.5"),
        OsStr::new("--prune-scope"),
        OsStr::new("layer"),
    ]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    let p = v["passes"].as_array().unwrap().iter().find(|p| p["pass"] == "prune-magnitude").unwrap();
    assert!((num(&p["figures"]["sparsity"]) - 0.5).abs() < 0.01, "{p}");
    for i in p["items"].as_array().unwrap() {
        assert!((num(&i["fields"]["sparsity"]) - 0.5).abs() < 0.01, "{i}");
        assert_eq!(i["fields"]["storage"], "dense");
    }
}

// ---------------------------------------------------------------------------
// Exit codes, with the document of each failure.

/// Asserts a failed `--json` run: the code, the kind, one `error:` line on stderr.
fn assert_failure(code: Option<i32>, v: &Value, r: &Run, kind: FailureKind) {
    assert_eq!(code, Some(kind.exit_code()), "{kind}: {}", r.stderr);
    assert_eq!(v["error"]["kind"], kind.name());
    assert_eq!(v["error"]["exit_code"], kind.exit_code());
    assert!(r.stderr.lines().any(|l| l.starts_with("error: ")), "{}", r.stderr);
}

#[test]
fn exit_1_when_a_quantized_model_misses_a_tight_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.onnx");
    let model = fixture("mlp");
    let r = convert(&[model.as_os_str(), q.as_os_str(), OsStr::new("--quantize"), OsStr::new("int8")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let args = [OsStr::new("verify"), model.as_os_str(), q.as_os_str(), OsStr::new("--tolerance"), OsStr::new("1e-6")];
    let (code, v, r) = json_run(&args);
    assert_failure(code, &v, &r, FailureKind::Verification);
    let cmp = &v["verification"];
    assert_eq!(cmp["pass"], false);
    assert_eq!(cmp["outputs"][0]["pass"], false);
    assert!(num(&cmp["outputs"][0]["rel_l2"]) > 1e-6);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("verification failed (tolerance rel. L2 0.000001): 'output' rel. L2 error"),
        "{message}"
    );
    // Without --json: the same code, the table on stdout, one error line.
    let r = convert(&args);
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("FAIL"), "{}", r.stdout);
    assert_eq!(r.stderr, format!("error: {message}\n"));
}

#[test]
fn exit_2_on_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.onnx");
    let model = fixture("mlp");
    // clap's own errors, with the document when --json was given.
    let (code, v, r) = json_run(&[model.as_os_str(), out.as_os_str(), OsStr::new("--bogus")]);
    assert_failure(code, &v, &r, FailureKind::Usage);
    assert!(v["error"]["message"].as_str().unwrap().contains("--bogus"), "{v}");
    let (code, v, r) = json_run(&[OsStr::new("inspect")]);
    assert_failure(code, &v, &r, FailureKind::Usage);
    assert_eq!(v["command"], "inspect");
    // Values checked after parsing.
    for flag in ["--prune-channels=1.5", "-Onot-a-pair"] {
        let (code, v, r) = json_run(&[model.as_os_str(), out.as_os_str(), OsStr::new(flag)]);
        assert_failure(code, &v, &r, FailureKind::Usage);
    }
    // A format nothing writes.
    let (code, v, r) = json_run(&[model.as_os_str(), dir.path().join("o.xyz").as_os_str()]);
    assert_failure(code, &v, &r, FailureKind::Usage);
    assert!(!out.exists());
    // Mistakes found only once the formats are known or the model is read:
    // an option the writer or reader does not have (never ignored), a value
    // name the graph lacks, a pass without the data it needs, the input as
    // the output.
    let xml = dir.path().join("o.xml");
    let copy = dir.path().join("m.onnx");
    std::fs::copy(&model, &copy).unwrap();
    for (args, message) in [
        (
            vec![model.as_os_str(), xml.as_os_str(), OsStr::new("-Obogus=1")],
            "-O bogus: not an option of the openvino writer (it reads: none)",
        ),
        (
            vec![model.as_os_str(), out.as_os_str(), OsStr::new("-Oexternal-treshold=10")],
            "-O external-treshold: not an option of the onnx writer (it reads: tensor-encoding, external-threshold, \
             external-location, external-layout, int4-format)",
        ),
        (
            vec![model.as_os_str(), out.as_os_str(), OsStr::new("--tags=serve")],
            "-I tags: not an option of the onnx reader",
        ),
        (vec![model.as_os_str(), out.as_os_str(), OsStr::new("--graph-outputs=nope")], "no value named 'nope'"),
        (vec![model.as_os_str(), out.as_os_str(), OsStr::new("--quantize=int8-static")], "needs calibration data"),
        (vec![copy.as_os_str(), copy.as_os_str()], "output is the input file"),
    ] {
        let (code, v, r) = json_run(&args);
        assert_failure(code, &v, &r, FailureKind::Usage);
        assert!(v["error"]["message"].as_str().unwrap().contains(message), "{message}: {v}");
        assert!(!out.exists() && !xml.exists());
    }
    // --list-formats prints text only.
    let r = convert(&["--list-formats", "--json"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    // Help and version are not errors.
    assert_eq!(convert(&["--help"]).code, Some(0));
    assert_eq!(convert(&["--version"]).code, Some(0));
}

#[test]
fn exit_3_on_unsupported_ops_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = model_with_a_foreign_op(dir.path());
    let out = dir.path().join("o.onnx");
    let (code, v, r) = json_run(&[input.as_os_str(), out.as_os_str()]);
    assert_failure(code, &v, &r, FailureKind::UnsupportedOps);
    let ops = v["error"]["unsupported_ops"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{v}");
    assert_eq!((ops[0]["op"].as_str(), ops[0]["domain"].as_str()), (Some("Erfc"), Some("tf")));
    assert_eq!(ops[0]["node"], "tf_erfc");
    assert_eq!(ops[0]["count"], 1);
    // The writer refused it; the model was read, and the report says so.
    assert_eq!(v["input"]["ops"]["tf::Erfc"], 1);
    assert!(v["output"].is_null());
}

#[test]
fn exit_4_on_a_truncated_file_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("truncated.onnx");
    let original = std::fs::read(fixture("mlp")).unwrap();
    std::fs::write(&bad, &original[..original.len() / 2]).unwrap();
    let out = dir.path().join("o.onnx");
    let report = dir.path().join("r.json");
    let r = convert(&[bad.as_os_str(), out.as_os_str(), OsStr::new("--report"), report.as_os_str()]);
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let v = checked(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(v["error"]["kind"], "malformed");
    assert_eq!(format!("error: {}\n", v["error"]["message"].as_str().unwrap()), r.stderr);
    assert!(!out.exists());
    for cmd in
        [&[OsStr::new("inspect"), bad.as_os_str()][..], &[OsStr::new("verify"), bad.as_os_str(), bad.as_os_str()]]
    {
        let (code, v, r) = json_run(cmd);
        assert_failure(code, &v, &r, FailureKind::Malformed);
    }
}

#[test]
fn exit_5_on_a_missing_input_or_an_unwritable_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.onnx");
    let (code, v, r) = json_run(&[dir.path().join("missing.onnx").as_os_str(), out.as_os_str()]);
    assert_failure(code, &v, &r, FailureKind::Io);
    assert!(v["input"].is_null());
    // The output folder does not exist: the conversion fails after import,
    // and the report says what was read.
    let report = dir.path().join("r.json");
    let out = dir.path().join("no/such/folder/o.onnx");
    let r = convert(&[fixture("mlp").as_os_str(), out.as_os_str(), OsStr::new("--report"), report.as_os_str()]);
    assert_eq!(r.code, Some(5), "{}", r.stderr);
    let v = checked(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(v["error"]["kind"], "io");
    assert_eq!(v["input"]["parameters"], 26122);
    assert!(v["output"].is_null() && v["files"].as_array().unwrap().is_empty());
    // A report that cannot be written fails a conversion that succeeded.
    let ok_out = dir.path().join("ok.onnx");
    let bad_report = dir.path().join("missing/r.json");
    let r = convert(&[fixture("mlp").as_os_str(), ok_out.as_os_str(), OsStr::new("--report"), bad_report.as_os_str()]);
    assert_eq!(r.code, Some(5), "{}", r.stderr);
    assert!(r.stderr.contains("cannot write the report"), "{}", r.stderr);
}

#[test]
fn exit_6_for_other_failures() {
    // Two well-formed models that cannot be compared: the inputs made for
    // the first do not fit the second, so evaluating it fails.
    let (code, v, r) =
        json_run(&[OsStr::new("verify"), fixture("mlp").as_os_str(), fixture("cnn_bn_residual").as_os_str()]);
    assert_failure(code, &v, &r, FailureKind::Other);
    assert!(v["error"]["message"].as_str().unwrap().contains("evaluation failed"), "{v}");
}

/// The library entry point the Python console script calls: it returns the
/// code instead of exiting, and can run many times in one process.
#[test]
fn cli_main_returns_codes_and_runs_twice_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.onnx");
    let model = fixture("mlp");
    for _ in 0..2 {
        assert_eq!(
            convert::cli::main([OsStr::new("convert"), model.as_os_str(), out.as_os_str(), OsStr::new("-q")]),
            0
        );
        assert_eq!(convert::cli::main(["convert", "--version"]), 0);
        assert_eq!(convert::cli::main(["convert", "--no-such-flag"]), 2);
        assert_eq!(
            convert::cli::main([OsStr::new("convert"), OsStr::new("inspect"), out.with_extension("x").as_os_str()]),
            5
        );
    }
    assert!(out.exists());
}

/// `inspect --svg/--dot` write the drawings (every node's op as a label),
/// and `verify --svg` writes its chart also when the check fails (exit 1).
#[test]
fn inspect_and_verify_write_drawings() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, dot) = (dir.path().join("g.svg"), dir.path().join("g.dot"));
    let r = convert(&[
        OsStr::new("inspect"),
        fixture("mlp").as_os_str(),
        OsStr::new("--svg"),
        svg.as_os_str(),
        OsStr::new("--dot"),
        dot.as_os_str(),
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") || text.starts_with("<?xml"), "{}", &text[..80.min(text.len())]);
    for op in ["Gemm", "Relu", "Erf"] {
        assert!(text.contains(&format!(">{op}</text>")), "{op} missing from the SVG");
    }
    assert!(std::fs::read_to_string(&dot).unwrap().starts_with("digraph"));
    let chart = dir.path().join("diff.svg");
    let r = convert(&[
        OsStr::new("verify"),
        fixture("mlp").as_os_str(),
        fixture("mlp_int8_dynamic").as_os_str(),
        OsStr::new("--tolerance"),
        OsStr::new("1e-9"),
        OsStr::new("--svg"),
        chart.as_os_str(),
    ]);
    assert_eq!(r.code, Some(FailureKind::Verification.exit_code()), "{r:?}");
    let text = std::fs::read_to_string(&chart).unwrap();
    assert!(text.contains("<svg") && text.contains("rel_l2"), "{}", &text[..200.min(text.len())]);
}

/// The pass check reports and never gates: a model the evaluator cannot run
/// (here an `ImageDecoder`, which it lacks) is still quantized and written,
/// with `pass_check: null` and a warning saying why (found by `xtask
/// conformance --passes`: such conversions failed outright). The fp16
/// weight here is stored exactly, so its SQNR is infinite and written as
/// `null`: the document must still read back as a `Report`.
#[test]
fn a_pass_check_the_evaluator_cannot_run_is_a_warning() {
    use ir::{DType, Graph, Model, Node, Shape, Tensor, ValueInfo};
    let dir = tempfile::tempdir().unwrap();
    let mut g = Graph {
        name: "g".into(),
        inputs: vec![
            ValueInfo::tensor("jpeg", DType::U8, Shape::fixed(&[16])),
            ValueInfo::tensor("x", DType::F32, Shape::fixed(&[1, 8])),
        ],
        outputs: vec![
            ValueInfo::tensor("image", DType::U8, Shape(vec![ir::Dim::Unknown; 3])),
            ValueInfo::tensor("y", DType::F32, Shape::fixed(&[1, 8])),
        ],
        nodes: vec![Node::new("ImageDecoder", ["jpeg"], ["image"]), Node::new("MatMul", ["x", "w"], ["y"])],
        ..Graph::default()
    };
    g.initializers
        .insert("w".into(), Tensor::from_vec(vec![8, 8], (0..64).map(|i| i as f32 / 64.0).collect()).unwrap());
    let input = dir.path().join("decoder.onnx");
    let mut model = Model::new(g);
    model.opset_imports.insert(String::new(), 20);
    ir::Exporter::export(&fmt_onnx::OnnxExporter, &model, &input, &ir::ExportOptions::default()).unwrap();
    let out = dir.path().join("out.onnx");
    let (code, v, r) = json_run(&[input.as_os_str(), out.as_os_str(), OsStr::new("--quantize"), OsStr::new("fp16")]);
    assert_eq!(code, Some(0), "{}", r.stderr);
    assert!(out.exists());
    assert!(v["pass_check"].is_null(), "{}", v["pass_check"]);
    let w = v["warnings"][0].as_str().expect("a warning");
    assert!(w.starts_with("the passes' effect on the outputs was not measured: ") && w.contains("ImageDecoder"), "{w}");
    assert!(r.stderr.contains(&format!("warning: {w}")), "{}", r.stderr);
}
