//! TorchScript export of every committed ONNX and OpenVINO fixture,
//! checked structurally here (entries, alignment, pickles) without Python.
//! Set `FMT_TORCHSCRIPT_EXPORT_DIR` to keep the archives and a job list
//! for `xtask/python/run_torch.py`, which runs them with `torch.jit.load`.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use fmt_torchscript::TorchScriptExporter;
use ir::{ExportOptions, Exporter, Graph, ImportOptions, Importer, Model, Node, Tensor, ValueInfo};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Case {
    name: String,
    /// Relative L2 bound for the torch run: 1e-5, or 1e-3 for OpenVINO's int8/int4
    /// compressed IRs (OpenVINO decompresses in f32, the IR rounds through f16;
    /// the same bound `cargo xtask interop` uses for them in onnxruntime).
    rtol: f64,
    model: PathBuf,
    inputs: Vec<PathBuf>,
    outputs: Vec<PathBuf>,
}

fn numbered(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..).map(|k| dir.join(format!("{prefix}_{k}.npy"))).take_while(|p| p.exists()).collect()
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let onnx = root().join("tests/fixtures/onnx");
    let mut dirs: Vec<_> = fs::read_dir(&onnx).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for d in dirs {
        if d.join("model.onnx").exists() {
            out.push(Case {
                name: format!("onnx_{}", d.file_name().unwrap().to_string_lossy()),
                rtol: 1e-5,
                model: d.join("model.onnx"),
                inputs: numbered(&d, "input"),
                outputs: numbered(&d, "output"),
            });
        }
    }
    let fixtures = root().join("tests/fixtures");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(fixtures.join("openvino/manifest.json")).unwrap()).unwrap();
    for c in manifest["cases"].as_array().unwrap() {
        let files = |key: &str| -> Vec<PathBuf> {
            c[key].as_array().unwrap().iter().map(|v| fixtures.join(v["file"].as_str().unwrap())).collect()
        };
        out.push(Case {
            name: format!("openvino_{}", c["name"].as_str().unwrap()),
            rtol: if matches!(c["compression"].as_str(), Some("int8" | "int4")) { 1e-3 } else { 1e-5 },
            model: fixtures.join(c["model"].as_str().unwrap()),
            inputs: files("inputs"),
            outputs: files("outputs"),
        });
    }
    out
}

fn import(path: &Path) -> Model {
    let opts = ImportOptions::default();
    if path.extension().is_some_and(|e| e == "xml") {
        fmt_openvino::OpenVinoImporter.import(path, &opts).unwrap()
    } else {
        fmt_onnx::OnnxImporter.import(path, &opts).unwrap()
    }
}

/// Walks a pickle, accepting only protocol-2 opcodes, and returns the
/// GLOBALs it names and the number of persistent ids.
fn walk_pickle(b: &[u8]) -> (Vec<String>, usize) {
    assert_eq!(&b[..2], &[0x80, 2], "starts with PROTO 2");
    let mut i = 2;
    let (mut globals, mut persids) = (Vec::new(), 0);
    loop {
        let op = b[i];
        i += 1;
        match op {
            b'.' => break,
            b'c' => {
                let a = b[i..].iter().position(|&c| c == b'\n').unwrap();
                let m = b[i + a + 1..].iter().position(|&c| c == b'\n').unwrap();
                globals.push(format!(
                    "{}.{}",
                    std::str::from_utf8(&b[i..i + a]).unwrap(),
                    std::str::from_utf8(&b[i + a + 1..i + a + 1 + m]).unwrap()
                ));
                i += a + m + 2;
            }
            b'X' => {
                let n = u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
                std::str::from_utf8(&b[i + 4..i + 4 + n]).unwrap();
                i += 4 + n;
            }
            b'K' => i += 1,
            b'M' => i += 2,
            b'J' => i += 4,
            0x8a => i += 1 + b[i] as usize,
            b'Q' => persids += 1,
            b'(' | b't' | b')' | b'}' | b'u' | b'R' | 0x81 | b'b' | 0x88 | 0x89 | b'N' | 0x85 | 0x86 | 0x87 => {}
            other => panic!("unexpected opcode {other:#x} at {}", i - 1),
        }
    }
    assert_eq!(i, b.len(), "STOP ends the stream");
    (globals, persids)
}

fn read_entry(z: &mut zip::ZipArchive<fs::File>, name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    z.by_name(name).unwrap_or_else(|_| panic!("entry {name}")).read_to_end(&mut v).unwrap();
    v
}

/// Checks the archive's layout; returns the generated source.
fn check_archive(path: &Path, model: &Model) -> String {
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut z = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let names: BTreeSet<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(names.iter().all(|n| n.starts_with(&format!("{stem}/"))), "one top folder: {names:?}");
    for e in ["data.pkl", "constants.pkl", "version", "byteorder", ".data/serialization_id"] {
        assert!(names.contains(&format!("{stem}/{e}")), "missing {e}");
    }
    assert_eq!(read_entry(&mut z, &format!("{stem}/byteorder")), b"little");
    assert_eq!(read_entry(&mut z, &format!("{stem}/version")), b"3\n");
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        assert_eq!(f.compression(), zip::CompressionMethod::Stored, "{name} stored");
        if name.contains("/data/") || name.contains("/constants/") {
            assert_eq!(f.data_start().unwrap() % 64, 0, "{name} 64-byte aligned");
        }
    }
    let (globals, persids) = walk_pickle(&read_entry(&mut z, &format!("{stem}/data.pkl")));
    let storages = names.iter().filter(|n| n.starts_with(&format!("{stem}/data/"))).count();
    assert_eq!(persids, storages, "one storage per tensor attribute");
    let attrs = model.graph.initializers.keys().filter(|k| !model.graph.inputs.iter().any(|i| &i.name == *k)).count();
    assert_eq!(storages, attrs, "one attribute per initializer");
    assert_eq!(globals[0], format!("__torch__.{stem}.Model"));
    let allowed = ["torch._utils._rebuild_tensor_v2", "collections.OrderedDict"];
    assert!(
        globals[1..].iter().all(|g| allowed.contains(&g.as_str()) || g.starts_with("torch.") && g.ends_with("Storage"))
    );
    let (_, cpersids) = walk_pickle(&read_entry(&mut z, &format!("{stem}/constants.pkl")));
    assert_eq!(cpersids, names.iter().filter(|n| n.starts_with(&format!("{stem}/constants/"))).count());
    // Each storage holds exactly its initializer's bytes.
    let mut sizes: Vec<u64> = Vec::new();
    for k in 0..storages {
        sizes.push(z.by_name(&format!("{stem}/data/{k}")).unwrap().size());
    }
    let mut want: Vec<u64> = model
        .graph
        .initializers
        .iter()
        .filter(|(k, _)| !model.graph.inputs.iter().any(|i| &i.name == *k))
        .map(|(_, t)| t.byte_len() as u64)
        .collect();
    want.sort();
    sizes.sort();
    assert_eq!(sizes, want);
    String::from_utf8(read_entry(&mut z, &format!("{stem}/code/__torch__/{stem}.py"))).unwrap()
}

#[test]
fn every_fixture_exports_to_a_well_formed_archive() {
    let keep = std::env::var_os("FMT_TORCHSCRIPT_EXPORT_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    fs::create_dir_all(&dir).unwrap();
    let mut jobs = Vec::new();
    let mut exported = 0;
    for case in cases() {
        let model = import(&case.model);
        if case.name == "onnx_dtypes" {
            // Every dtype ONNX has, as graph outputs: torch lacks strings and the sub-byte types.
            let err = TorchScriptExporter.check(&model).unwrap_err().to_string();
            for d in ["string", "i4", "u4", "f4e2m1", "f6e2m3", "f6e3m2", "i2", "u2"] {
                assert!(err.contains(&format!("dtype {d},")), "{d}: {err}");
            }
            for d in ["f32", "u16", "u64", "f8e4m3fn", "f8e8m0", "c128", "bf16"] {
                assert!(!err.contains(&format!("dtype {d},")), "{d}: {err}");
            }
            continue;
        }
        TorchScriptExporter.check(&model).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let out = dir.join(format!("{}.pt", case.name));
        let report = TorchScriptExporter.export(&model, &out, &ExportOptions::default()).unwrap();
        assert_eq!(report.files[0].1, fs::metadata(&out).unwrap().len());
        let source = check_archive(&out, &model);
        assert!(source.contains("def forward(self"), "{}: {source}", case.name);
        exported += 1;
        if case.outputs.is_empty() {
            continue;
        }
        let dynamic: Vec<usize> = model
            .graph
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, v)| v.shape().is_some_and(|s| s.dims().first().is_some_and(|d| d.is_dynamic())))
            .map(|(i, _)| i)
            .collect();
        jobs.push(serde_json::json!({
            "id": case.name,
            "model": out,
            "inputs": case.inputs,
            "outputs": case.outputs,
            "dynamic_batch_inputs": dynamic,
            "rtol": case.rtol,
        }));
    }
    assert!(exported >= 22, "{exported} fixtures");
    if keep.is_some() {
        fs::write(dir.join("jobs.json"), serde_json::to_vec_pretty(&jobs).unwrap()).unwrap();
    }
}

fn tiny(nodes: Vec<Node>, outputs: &[&str]) -> Model {
    let mut g = Graph::default();
    g.inputs.push(ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[2, 3])));
    g.nodes = nodes;
    for o in outputs {
        g.outputs.push(ValueInfo::untyped(*o));
    }
    let mut m = Model::new(g);
    m.opset_imports.insert(String::new(), 17);
    m
}

#[test]
fn check_lists_every_unwritable_node_before_writing() {
    let model = tiny(
        vec![
            Node::new("Relu", ["x"], ["a"]).named("ok"),
            Node::new("Frobnicate", ["a"], ["b"]).named("f1").in_domain("custom"),
            Node::new("Frobnicate", ["b"], ["c"]).named("f2").in_domain("custom"),
            Node::new("MaxPool", ["c"], ["d", "idx"]).named("pool").with_attr("kernel_shape", vec![2i64]),
            Node::new("StringNormalizer", ["d"], ["e"]).named("s"),
        ],
        &["e"],
    );
    let err = TorchScriptExporter.check(&model).unwrap_err();
    assert_eq!(err.unsupported_op_names(), vec!["Frobnicate", "MaxPool", "StringNormalizer"]);
    let msg = err.to_string();
    assert!(msg.contains("f1") && msg.contains("and 1 more") && msg.contains("Indices output"), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.pt");
    assert!(TorchScriptExporter.export(&model, &out, &ExportOptions::default()).is_err());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn untorchable_initializer_dtypes_are_reported() {
    let mut model = tiny(vec![Node::new("Add", ["x", "w"], ["y"])], &["y"]);
    let w = Tensor::from_raw(ir::DType::F6E2M3, vec![4], ir::Buffer::from_vec(vec![1, 2, 3])).unwrap();
    model.graph.initializers.insert("w".into(), w);
    let err = TorchScriptExporter.check(&model).unwrap_err().to_string();
    assert!(err.contains("'w'") && err.contains("f6e2m3"), "{err}");
}

#[test]
fn generated_source_is_readable_and_keeps_dynamic_shapes() {
    let model = import(&root().join("tests/fixtures/onnx/cnn_dynamo_default/model.onnx"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn.pt");
    TorchScriptExporter.export(&model, &out, &ExportOptions::default()).unwrap();
    let src = check_archive(&out, &model);
    let body: Vec<&str> = src.lines().skip_while(|l| !l.contains("def forward")).collect();
    // One statement per node (plus the signature lines and the return).
    let statements = body.iter().filter(|l| l.starts_with("    ") && l.contains(" = ")).count();
    assert_eq!(statements, model.graph.nodes.len(), "{src}");
    assert!(src.contains("torch.conv2d("), "{src}");
}

#[test]
fn docs_table_is_current() {
    let path = root().join("docs/torch-ops.md");
    let want = fmt_torchscript::ops_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::write(&path, &want).unwrap();
    }
    assert_eq!(
        fs::read_to_string(&path).unwrap_or_default(),
        want,
        "run with UPDATE_DOCS=1 to regenerate docs/torch-ops.md"
    );
}

/// Exports any ONNX or OpenVINO model named by `FMT_TORCHSCRIPT_MODEL`
/// into `FMT_TORCHSCRIPT_EXPORT_DIR` (run with `--ignored`), with a job for
/// `run_torch.py` that compares torch against the ONNX model in onnxruntime.
#[test]
#[ignore]
fn export_model_from_env() {
    let (Some(model), Some(dir)) =
        (std::env::var_os("FMT_TORCHSCRIPT_MODEL"), std::env::var_os("FMT_TORCHSCRIPT_EXPORT_DIR"))
    else {
        return;
    };
    let (model, dir) = (PathBuf::from(model), PathBuf::from(dir));
    fs::create_dir_all(&dir).unwrap();
    let m = import(&model);
    let stem = model.file_stem().unwrap().to_string_lossy().into_owned();
    let out = dir.join(format!("{stem}.pt"));
    TorchScriptExporter.export(&m, &out, &ExportOptions::default()).unwrap();
    check_archive(&out, &m);
    let dynamic: Vec<usize> = (0..m.graph.inputs.len())
        .filter(|&i| m.graph.inputs[i].shape().is_some_and(|s| s.dims().first().is_some_and(|d| d.is_dynamic())))
        .collect();
    let job = serde_json::json!([{
        "id": stem, "model": out, "reference_onnx": model, "dynamic_batch_inputs": dynamic, "rtol": 1e-5,
    }]);
    fs::write(dir.join(format!("{stem}.jobs.json")), serde_json::to_vec_pretty(&job).unwrap()).unwrap();
}

#[test]
fn unsqueeze_past_torch_rank_is_refused() {
    // torch tensors have at most 64 dims; a fuzzed model with thousands of
    // axes made the writer build quadratic text before failing in torch.
    let axes: Vec<i64> = (0..63).collect();
    let mut model = tiny(vec![Node::new("Unsqueeze", ["x"], ["y"]).with_attr("axes", axes)], &["y"]);
    model.opset_imports.insert(String::new(), 11);
    let err = TorchScriptExporter.check(&model).unwrap_err().to_string();
    assert!(err.contains("Unsqueeze to rank 65 (torch tensors have at most 64 dims)"), "{err}");
    let mut ok = tiny(vec![Node::new("Unsqueeze", ["x"], ["y"]).with_attr("axes", vec![0i64])], &["y"]);
    ok.opset_imports.insert(String::new(), 11);
    TorchScriptExporter.check(&ok).unwrap();
}
