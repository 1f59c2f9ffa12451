//! The `convert` binary as users run it: exit codes, the one-line summary,
//! one-line errors naming the file, `inspect`, `--list-formats`, and outputs
//! that are replaced atomically or not at all.
//!
//! Fixtures are those of `tests/fixtures/` (see its `manifest.json`); the
//! figures asserted below (node counts, histograms, parameter counts) are
//! the manifest's, and parameter counts were checked with onnx/numpy.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use ir::{DType, Exporter, Graph, Model, Node, Shape, ValueInfo};

mod common;
use common::{Run, convert, f32_vi, fixture, model_with_a_foreign_op};

/// Asserts a failed run: exit code `code`, nothing on stdout, and exactly one
/// stderr line that starts with `error: ` and names `path`. Returns the line.
fn assert_one_line_error(r: &Run, code: i32, path: &Path) -> String {
    assert_eq!(r.code, Some(code), "exit code; stderr: {}", r.stderr);
    assert_eq!(r.stdout, "", "nothing on stdout");
    assert!(r.stderr.ends_with('\n'), "stderr ends with a newline: {:?}", r.stderr);
    let line = r.stderr.trim_end_matches('\n');
    assert!(!line.contains('\n'), "stderr must be one line: {:?}", r.stderr);
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains(&path.display().to_string()), "the message names {}: {line}", path.display());
    line.to_string()
}

/// Names of the entries in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn copy_fixture(name: &str, dir: &Path, as_name: &str) -> PathBuf {
    let p = dir.join(as_name);
    std::fs::copy(fixture(name), &p).unwrap();
    p
}

/// Writes `model` as ONNX with the library's exporter.
fn write_model(model: &Model, path: &Path) {
    fmt_onnx::OnnxExporter.export(model, path, &ir::ExportOptions::default()).unwrap();
}

// ---------------------------------------------------------------------------
// Success paths.

#[test]
fn converting_a_fixture_prints_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("mlp");
    let out = dir.path().join("out.onnx");
    let r = convert(&[&input, &out]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "");
    let line = r.stderr.strip_suffix('\n').unwrap_or_else(|| panic!("one line ending in a newline: {:?}", r.stderr));
    assert!(!line.contains('\n'), "one line: {:?}", r.stderr);
    let head = format!("{} (onnx) -> {} (onnx): 12 nodes, 26122 parameters, ", input.display(), out.display());
    assert!(line.starts_with(&head), "expected '{head}...', got: {line}");
    assert!(line.contains(" written to 1 file(s) in ") && line.ends_with(" s"), "{line}");
    assert_eq!(entries(dir.path()), ["out.onnx"]);

    // The output is a model the library reads back.
    let registry = convert::registry();
    let (m, _) = convert::load(&registry, &out, None, &Default::default()).unwrap();
    assert_eq!(m.graph.nodes.len(), 12);
}

#[test]
fn converting_with_external_data_reports_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("external_data");
    let out = dir.path().join("out.onnx");
    let r = convert(&[input.as_os_str(), out.as_os_str(), OsStr::new("--external-data")]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    assert!(r.stderr.contains(": 5 nodes, 85002 parameters, "), "{}", r.stderr);
    assert!(r.stderr.contains(" written to 2 file(s) in "), "{}", r.stderr);
    assert_eq!(entries(dir.path()), ["out.onnx", "out.onnx.data"]);
}

#[test]
fn quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let r = convert(&[fixture("mlp").as_os_str(), out.as_os_str(), OsStr::new("-q")]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (Some(0), "", ""));
    assert!(out.is_file());
}

#[test]
fn to_overrides_an_unknown_extension() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.xyz");
    let r = convert(&[fixture("mlp").as_os_str(), out.as_os_str(), OsStr::new("--to"), OsStr::new("onnx")]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("(onnx) -> ") && r.stderr.contains("out.xyz (onnx)"), "{}", r.stderr);
    assert!(out.is_file());
}

#[test]
fn list_formats_lists_onnx() {
    let r = convert(&["--list-formats"]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.stderr, "");
    assert!(r.stdout.starts_with("formats (import / export):\n"), "{}", r.stdout);
    let onnx = r.stdout.lines().find(|l| l.trim_start().starts_with("onnx ")).expect("a line for onnx");
    let words: Vec<&str> = onnx.split_whitespace().collect();
    assert_eq!(&words[..3], ["onnx", "read/write", ".onnx"], "{onnx}");
}

#[test]
fn inspect_cnn_prints_io_ops_and_parameters() {
    let model = fixture("cnn_bn_residual");
    let r = convert(&[OsStr::new("inspect"), model.as_os_str()]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.stderr, "");
    let out = &r.stdout;
    assert!(out.starts_with(&format!("model:     {} (onnx)\n", model.display())), "{out}");
    assert!(out.contains("opsets:    ai.onnx 17\n"), "{out}");
    assert!(out.contains("\ninputs:\n  input  f32[1,3,32,32]\noutputs:\n  logits  f32[1,10]\n"), "{out}");
    assert!(out.contains("\nnodes:     29\n"), "{out}");
    // The manifest's op_histogram, most frequent first, ties by name.
    let ops = "\nops:\n       8  BatchNormalization\n       8  Conv\n       7  Relu\n       3  Add\n       1  Flatten\n       1  Gemm\n       1  GlobalAveragePool\n";
    assert!(out.contains(ops), "expected{ops}in:\n{out}");
    assert!(out.contains("\nparameters: 25018 (97.7 KiB)\n"), "{out}");
    assert!(out.contains("\n  f32          42 tensors          25018 elements     97.7 KiB\n"), "{out}");
}

#[test]
fn inspect_dynamic_batch_shows_the_symbolic_dim() {
    let r = convert(&[OsStr::new("inspect"), fixture("dynamic_batch").as_os_str()]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(
        r.stdout.contains("\ninputs:\n  input  f32[batch,3,16,16]\noutputs:\n  output  f32[batch,5]\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\nparameters: 269 (1.1 KiB)\n"), "{}", r.stdout);
}

#[test]
fn inspect_counts_nodes_inside_subgraphs() {
    let r = convert(&[OsStr::new("inspect"), fixture("ops_subgraph").as_os_str()]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    // 6 nodes in the main graph, 21 with the If/Loop bodies (manifest op_histogram).
    assert!(r.stdout.contains("\nnodes:     21\n"), "{}", r.stdout);
    assert!(r.stdout.contains("\n       3  If\n") && r.stdout.contains("\n       1  Loop\n"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------
// Errors: one line naming the file, and the exit code of the failure's kind
// (convert::report::FailureKind: 2 usage, 3 unsupported ops, 4 malformed, 5 I/O, 6 other).

#[test]
fn malformed_input_fails_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(fixture("mlp")).unwrap();
    let cases: [(&str, &[u8]); 3] =
        [("truncated.onnx", &original[..original.len() / 2]), ("empty.onnx", b""), ("text.onnx", b"hello\nworld\n")];
    for (name, bytes) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, bytes).unwrap();
        let out = dir.path().join("out.onnx");
        let line = assert_one_line_error(&convert(&[&bad, &out]), 4, &bad);
        assert!(line.starts_with(&format!("error: cannot convert {} to {}: ", bad.display(), out.display())), "{line}");
        let line = assert_one_line_error(&convert(&[OsStr::new("inspect"), bad.as_os_str()]), 4, &bad);
        assert!(line.starts_with(&format!("error: cannot read {}: {}: ", bad.display(), bad.display())), "{line}");
        assert!(!out.exists(), "{name}: no output written");
    }
    assert_eq!(entries(dir.path()), ["empty.onnx", "text.onnx", "truncated.onnx"], "no temp files");
}

#[test]
fn missing_input_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("missing.onnx");
    let out = dir.path().join("out.onnx");
    let line = assert_one_line_error(&convert(&[&input, &out]), 5, &input);
    assert_eq!(
        line,
        format!(
            "error: cannot convert {} to {}: {}: no such file or directory",
            input.display(),
            out.display(),
            input.display()
        )
    );
}

#[test]
fn graph_errors_are_printed_once() {
    // A cycle A -> B -> A, written with the library (the exporter does not validate).
    let dir = tempfile::tempdir().unwrap();
    let g = Graph {
        name: "g".into(),
        inputs: vec![f32_vi("x")],
        outputs: vec![f32_vi("b")],
        nodes: vec![Node::new("Add", ["x", "b"], ["a"]).named("A"), Node::new("Relu", ["a"], ["b"]).named("B")],
        ..Graph::default()
    };
    let input = dir.path().join("cycle.onnx");
    write_model(&Model::new(g), &input);
    let out = dir.path().join("out.onnx");
    let line = assert_one_line_error(&convert(&[&input, &out]), 4, &input);
    assert_eq!(
        line,
        format!(
            "error: cannot convert {} to {}: {}: graph has a cycle through node(s): A, B",
            input.display(),
            out.display(),
            input.display()
        )
    );
}

#[test]
fn foreign_ops_are_refused_naming_the_files_and_every_op() {
    let dir = tempfile::tempdir().unwrap();
    let input = model_with_a_foreign_op(dir.path());

    let out = dir.path().join("out.onnx");
    let line = assert_one_line_error(&convert(&[&input, &out]), 3, &input);
    assert_eq!(
        line,
        format!(
            "error: cannot convert {} to {}: 1 unsupported op type(s) for onnx: tf::Erfc (node 'tf_erfc')",
            input.display(),
            out.display()
        )
    );
    assert_eq!(entries(dir.path()), ["tf_ops.onnx"]);
}

#[test]
fn input_equal_to_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture("mlp", dir.path(), "model.onnx");
    let before = std::fs::read(&input).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let spellings = [input.clone(), dir.path().join("sub/../model.onnx")];
    for out in &spellings {
        let line = assert_one_line_error(&convert(&[&input, out]), 2, out);
        assert_eq!(
            line,
            format!(
                "error: cannot convert {} to {}: {}: output is the input file; write to another path (inputs are never modified)",
                input.display(),
                out.display(),
                out.display()
            )
        );
    }
    #[cfg(unix)]
    {
        let link = dir.path().join("link.onnx");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let line = assert_one_line_error(&convert(&[&input, &link]), 2, &link);
        assert!(
            line.ends_with("output is the input file; write to another path (inputs are never modified)"),
            "{line}"
        );
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the input is untouched");
}

#[test]
fn unknown_output_extension_suggests_to() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("mlp");
    let out = dir.path().join("out.xyz");
    let line = assert_one_line_error(&convert(&[&input, &out]), 2, &out);
    assert_eq!(
        line,
        format!(
            "error: cannot convert {} to {}: {}: cannot tell the output format from the file name; pass --to (one of: {})",
            input.display(),
            out.display(),
            out.display(),
            // Every exporter this build has, in registration order.
            convert::registry().exporters().map(|e| e.info().name).collect::<Vec<_>>().join(", ")
        )
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn bad_options_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("mlp");
    let out = dir.path().join("out.onnx");
    let r = convert(&[input.as_os_str(), out.as_os_str(), OsStr::new("-O"), OsStr::new("bogus=1")]);
    let line = assert_one_line_error(&r, 2, &out);
    assert!(
        line.ends_with(
            ": -O bogus: not an option of the onnx writer (it reads: tensor-encoding, external-threshold, \
             external-location, external-layout, int4-format)"
        ),
        "{line}"
    );
    let r = convert(&[input.as_os_str(), out.as_os_str(), OsStr::new("-O"), OsStr::new("tensor-encoding")]);
    assert_eq!(r.code, Some(2));
    assert_eq!(r.stderr, "error: -O tensor-encoding: expected KEY=VALUE\n");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn no_arguments_prints_usage_in_one_line() {
    let r = convert::<&str>(&[]);
    assert_eq!(r.code, Some(2));
    assert_eq!(
        r.stderr,
        "error: usage: convert INPUT OUTPUT [--from FMT] [--to FMT]  (or: convert inspect MODEL, convert --list-formats)\n"
    );
}

// ---------------------------------------------------------------------------
// Atomic outputs.

#[test]
fn failed_conversion_leaves_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    std::fs::write(&out, b"precious").unwrap();
    let bad = dir.path().join("bad.onnx");
    let original = std::fs::read(fixture("mlp")).unwrap();
    std::fs::write(&bad, &original[..original.len() - 1]).unwrap();
    assert_one_line_error(&convert(&[&bad, &out]), 4, &bad);
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    assert_eq!(entries(dir.path()), ["bad.onnx", "out.onnx"], "no temp files left");
}

#[test]
fn successful_conversion_replaces_an_existing_output_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    std::fs::write(&out, vec![0xaau8; 1 << 20]).unwrap();
    let r = convert(&[fixture("dynamic_batch"), out.clone()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let registry = convert::registry();
    assert!(convert::load(&registry, &out, None, &Default::default()).is_ok());
    assert!(std::fs::metadata(&out).unwrap().len() < 1 << 20);
    assert_eq!(entries(dir.path()), ["out.onnx"], "no temp files left");
}

#[test]
fn failure_while_writing_leaves_no_temp_file() {
    // The output path is a directory: the data is written to a temp file,
    // then renaming it into place fails. The temp file must not remain.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    std::fs::create_dir(&out).unwrap();
    let line = assert_one_line_error(&convert(&[fixture("mlp"), out.clone()]), 5, &out);
    assert!(line.contains("out.onnx"), "{line}");
    assert_eq!(entries(dir.path()), ["out.onnx"], "temp files left behind");
    assert!(entries(&out).is_empty());
}

#[test]
fn failure_while_writing_leaves_existing_external_data_untouched() {
    // Same failure with --external-data: the existing `out.onnx.data` must
    // survive, since the model it belongs to was not replaced.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    std::fs::create_dir(&out).unwrap();
    let data = dir.path().join("out.onnx.data");
    std::fs::write(&data, b"precious").unwrap();
    let r = convert(&[fixture("mlp").as_os_str(), out.as_os_str(), OsStr::new("--external-data")]);
    assert_one_line_error(&r, 5, &out);
    let now = std::fs::read(&data).unwrap();
    assert!(now == b"precious", "the existing external data was replaced (now {} bytes)", now.len());
    assert_eq!(entries(dir.path()), ["out.onnx", "out.onnx.data"], "temp files left behind");
}

/// `--verify` on every ONNX fixture, the `dtypes` one included (complex,
/// 2/4/6-bit, 8-bit float and string outputs): the evaluator runs the source
/// and the re-imported output and every output must match exactly.
#[test]
fn verify_passes_on_every_onnx_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx");
    let mut seen = 0;
    for name in entries(&root) {
        let out = dir.path().join(format!("{name}.onnx"));
        let r = convert(&[fixture(&name).as_os_str(), out.as_os_str(), OsStr::new("--verify")]);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        assert!(r.stdout.contains("verify: all"), "{name}: {}", r.stdout);
        // Every output row reports a max_abs of 0: the round trip is lossless.
        let rows: Vec<&str> = r
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("output"))
            .skip(1)
            .take_while(|l| !l.starts_with("verify:"))
            .collect();
        assert!(!rows.is_empty(), "{name}: {}", r.stdout);
        for row in rows {
            assert_eq!(row.split_whitespace().nth(1), Some("0"), "{name}: {row}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} fixtures found");
}

/// `convert run` writes every output the evaluator computes: `.npy` where
/// NumPy has the dtype, ONNX `TensorProto` `.pb` otherwise (8-bit, 6-bit and
/// 4-bit floats, packed int4/int2, bfloat16, strings), and a sequence as a
/// folder of its elements. Each file reads back to the evaluator's value.
#[test]
fn run_writes_every_output_dtype_and_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = fixture("dtypes");
    let out = dir.path().join("out");
    let r = convert(&[OsStr::new("run"), model_path.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let registry = convert::registry();
    let (m, _) = convert::load(&registry, &model_path, None, &Default::default()).unwrap();
    let inputs = convert::verify::make_inputs(&m, &Default::default()).unwrap();
    let expected = convert::verify::run(&m, inputs).unwrap();
    let (mut npy, mut pb) = (0, 0);
    for (name, v) in &expected {
        let want = convert::eval::to_ir(v.tensor().unwrap()).unwrap();
        let stem = out.join(
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect::<String>(),
        );
        let path = if stem.with_extension("npy").exists() {
            npy += 1;
            stem.with_extension("npy")
        } else {
            pb += 1;
            stem.with_extension("pb")
        };
        let got = ir::tensor_file::read_one(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
    assert!(npy > 0 && pb > 0, "{npy} .npy and {pb} .pb outputs");
    assert_eq!(entries(&out).len(), expected.len(), "one file per output");

    // A sequence output becomes a folder of its elements.
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[2])));
    g.nodes.push(Node::new("Cast", ["x"], ["h"]).named("c").with_attr("to", ir::Attribute::Int(16)));
    g.nodes.push(Node::new("SequenceConstruct", ["x", "x", "x"], ["seq"]).named("s"));
    g.nodes.push(Node::new("SequenceInsert", ["seq", "x"], ["seq2"]).named("i"));
    g.outputs.push(ValueInfo {
        name: "seq2".into(),
        ty: ir::ValueType::Sequence(Box::new(ir::ValueType::tensor(DType::F32, None))),
        doc: String::new(),
    });
    g.outputs.push(ValueInfo::tensor("h", DType::BF16, Shape::fixed(&[2])));
    let seq_model = dir.path().join("seq.onnx");
    fmt_onnx::OnnxExporter.export(&Model::new(g), &seq_model, &Default::default()).unwrap();
    let out = dir.path().join("seq_out");
    let r = convert(&[OsStr::new("run"), seq_model.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(entries(&out.join("seq2")), ["0.npy", "1.npy", "2.npy", "3.npy"]);
    assert!(out.join("h.pb").exists(), "bf16 output as TensorProto: {:?}", entries(&out));
}

/// `inspect --values` lists every value the nodes produce with the dtype and
/// shape `ir::infer` gives it (symbolic dimensions kept).
#[test]
fn inspect_values_shows_inferred_shapes() {
    let r = convert(&[OsStr::new("inspect"), fixture("dynamic_batch").as_os_str(), OsStr::new("--values")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let section: Vec<&str> = r.stdout.lines().skip_while(|l| !l.starts_with("values (inferred):")).skip(1).collect();
    assert!(!section.is_empty(), "{}", r.stdout);
    let typed = section.iter().take_while(|l| l.starts_with("  ")).filter(|l| !l.ends_with("unknown")).count();
    let total = section.iter().take_while(|l| l.starts_with("  ")).count();
    assert_eq!(typed, total, "every value typed:\n{}", r.stdout);
    assert!(section.iter().any(|l| l.contains("batch")), "symbolic batch dimension kept:\n{}", r.stdout);
}

#[test]
fn graph_inputs_and_outputs_cut_a_subgraph() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("mlp");
    let out = dir.path().join("cut.onnx");
    let r = convert(&[
        src.as_os_str(),
        out.as_os_str(),
        OsStr::new("--graph-inputs"),
        OsStr::new("/1/Relu_output_0"),
        OsStr::new("--graph-outputs"),
        OsStr::new("/3/Erf_output_0"),
        OsStr::new("-q"),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let m = convert::load(&convert::registry(), &out, None, &Default::default()).unwrap().0;
    assert_eq!(m.graph.inputs[0].name, "/1/Relu_output_0");
    assert_eq!(m.graph.inputs[0].ty, ir::ValueType::tensor(DType::F32, Shape::fixed(&[4, 128])));
    assert_eq!(m.graph.outputs[0].name, "/3/Erf_output_0");
    let mut ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    ops.sort();
    assert_eq!(ops, ["Constant", "Div", "Erf", "Gemm"]);
    // A name no value has is a one-line error naming the file.
    let r = convert(&[src.as_os_str(), out.as_os_str(), OsStr::new("--graph-outputs"), OsStr::new("nope")]);
    let line = assert_one_line_error(&r, 2, &src);
    assert!(line.contains("no value named 'nope'"), "{line}");
}
