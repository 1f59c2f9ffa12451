//! ONNX → IR → ONNX → IR on every fixture of `tests/fixtures/manifest.json`:
//! the two IR models must be equal and every weight bit-identical, with the
//! default options, with `tensor-encoding=typed`, and with external data
//! forced on; and rewriting a written file must reproduce it byte for byte.
//!
//! Each fixture listed in `cases!` gets its own module of four tests; any
//! manifest case not listed there is still run by
//! `unlisted_manifest_cases_round_trip`, so new fixtures are never skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fmt_onnx::generated::onnx::{GraphProto, TensorProto, tensor_proto::DataLocation};
use ir::{
    Attribute, ExportOptions, ExportReport, Exporter, ExternalData, Graph, ImportOptions, Importer, Model, Tensor,
    TensorData,
};
use workspace_tests::{case, list_files, onnx_cases};

/// External data threshold and alignment the ONNX exporter documents.
const EXTERNAL_THRESHOLD: usize = 1024;
const ALIGN: u64 = 4096;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// The cases with their own tests below.
        const LISTED: &[&str] = &[$(stringify!($name)),*];
        $(
            mod $name {
                #[test]
                fn default_options() {
                    super::check_default(&workspace_tests::case(stringify!($name)));
                }
                #[test]
                fn typed_encoding() {
                    super::check_typed(&workspace_tests::case(stringify!($name)));
                }
                #[test]
                fn external_data_always() {
                    super::check_external(&workspace_tests::case(stringify!($name)));
                }
                #[test]
                fn rewrite_is_byte_identical() {
                    super::check_idempotent(&workspace_tests::case(stringify!($name)));
                }
            }
        )*
    };
}

cases!(
    cnn_bn_residual,
    transformer_encoder,
    mlp,
    dynamic_batch,
    external_data,
    ops_subgraph,
    dtypes,
    mlp_int8_dynamic,
    cnn_qdq_static,
    cnn_dynamo_default,
);

#[test]
fn listed_cases_are_in_the_manifest() {
    let names: Vec<String> = onnx_cases().into_iter().map(|c| c.name).collect();
    for l in LISTED {
        assert!(
            names.iter().any(|n| n == l),
            "case '{l}' is listed in roundtrip.rs but not in the manifest ({names:?})"
        );
    }
}

#[test]
fn unlisted_manifest_cases_round_trip() {
    let mut failures = Vec::new();
    for c in onnx_cases().into_iter().filter(|c| !LISTED.contains(&c.name.as_str())) {
        type Check = fn(&workspace_tests::Case);
        let checks: [(&str, Check); 4] = [
            ("default_options", check_default),
            ("typed_encoding", check_typed),
            ("external_data_always", check_external),
            ("rewrite_is_byte_identical", check_idempotent),
        ];
        for (what, check) in checks {
            if let Err(e) = std::panic::catch_unwind(|| check(&c)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}::{what}: {msg}", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------
// The four checks.

/// Default options: everything inline, raw_data.
fn check_default(c: &workspace_tests::Case) {
    let m1 = import_fixture(&c.model);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let report = export(&m1, &out, &ExportOptions::default());
    assert_report_matches_disk(&report, dir.path());
    assert_eq!(report.files.len(), 1, "{}: small models are written inline: {:?}", c.name, report.files);
    let m2 = load(&out);
    assert_round_trip(&c.name, &m1, &m2);
}

/// `tensor-encoding=typed`: no initializer may use raw_data; values survive exactly.
fn check_typed(c: &workspace_tests::Case) {
    let m1 = import_fixture(&c.model);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let opts = ExportOptions {
        format_options: BTreeMap::from([("tensor-encoding".to_string(), "typed".to_string())]),
        ..ExportOptions::default()
    };
    let report = export(&m1, &out, &opts);
    assert_report_matches_disk(&report, dir.path());
    let proto = fmt_onnx::parse(&out).unwrap();
    for_each_tensor_proto(proto.graph.as_ref().unwrap(), "graph", &mut |at, t| {
        assert!(
            t.raw_data.is_empty(),
            "{}: {at} '{}' was written with raw_data despite tensor-encoding=typed",
            c.name,
            t.name
        );
        assert_eq!(t.data_location, DataLocation::Default as i32, "{}: {at} '{}'", c.name, t.name);
    });
    let m2 = load(&out);
    assert_round_trip(&c.name, &m1, &m2);
}

/// `ExternalData::Always`: every tensor of ≥1024 bytes goes to `out.onnx.data`
/// at a 4096-aligned offset; smaller ones stay inline.
fn check_external(c: &workspace_tests::Case) {
    let m1 = import_fixture(&c.model);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let data_path = dir.path().join("out.onnx.data");
    let opts = ExportOptions { external_data: ExternalData::Always, ..ExportOptions::default() };
    let report = export(&m1, &out, &opts);
    assert_report_matches_disk(&report, dir.path());

    let big: Vec<&str> = m1
        .graph
        .initializers
        .iter()
        .filter(|(_, t)| t.raw().is_some() && t.byte_len() >= EXTERNAL_THRESHOLD)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        data_path.exists(),
        !big.is_empty(),
        "{}: the data file must exist exactly when some tensor has ≥{EXTERNAL_THRESHOLD} bytes ({big:?})",
        c.name
    );
    let data = if big.is_empty() { Vec::new() } else { std::fs::read(&data_path).unwrap() };
    if !big.is_empty() {
        let names: Vec<&Path> = report.files.iter().map(|f| f.0.as_path()).collect();
        assert_eq!(names, [out.as_path(), data_path.as_path()], "{}: report lists model then data file", c.name);
    }

    let proto = fmt_onnx::parse(&out).unwrap();
    let graph = proto.graph.as_ref().unwrap();
    let mut end = 0u64;
    for p in &graph.initializer {
        let t = &m1.graph.initializers[p.name.as_str()];
        if t.raw().is_none() || t.byte_len() < EXTERNAL_THRESHOLD {
            assert_eq!(
                p.data_location,
                DataLocation::Default as i32,
                "{}: small tensor '{}' stays inline",
                c.name,
                p.name
            );
            assert!(p.external_data.is_empty(), "{}: '{}'", c.name, p.name);
            continue;
        }
        assert_eq!(p.data_location, DataLocation::External as i32, "{}: '{}' ({} bytes)", c.name, p.name, t.byte_len());
        assert!(p.raw_data.is_empty(), "{}: '{}' is external and inline", c.name, p.name);
        let entries: BTreeMap<&str, &str> =
            p.external_data.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
        assert_eq!(entries.get("location"), Some(&"out.onnx.data"), "{}: '{}' {entries:?}", c.name, p.name);
        let offset: u64 = entries["offset"].parse().unwrap();
        let length: u64 = entries["length"].parse().unwrap();
        assert_eq!(offset % ALIGN, 0, "{}: '{}' offset {offset} is not {ALIGN}-aligned", c.name, p.name);
        assert_eq!(length, t.byte_len() as u64, "{}: '{}' length", c.name, p.name);
        assert!(offset >= end, "{}: '{}' at {offset} overlaps the previous tensor (ends at {end})", c.name, p.name);
        end = offset + length;
        let stored = &data[offset as usize..end as usize];
        assert!(stored == t.raw().unwrap().as_bytes(), "{}: bytes of '{}' in the data file differ", c.name, p.name);
    }
    assert_eq!(data.len() as u64, end, "{}: the data file holds exactly the external tensors", c.name);
    // Tensors the exporter keeps inline elsewhere (subgraph initializers,
    // attribute tensors): none of them may be large either.
    for_each_tensor_proto(graph, "graph", &mut |at, t| {
        assert!(
            t.raw_data.len() < EXTERNAL_THRESHOLD,
            "{}: {at} '{}' has {} bytes inline despite ExternalData::Always",
            c.name,
            t.name,
            t.raw_data.len()
        );
    });

    let m2 = load(&out);
    assert_round_trip(&c.name, &m1, &m2);
}

/// ONNX → IR → ONNX (1st write) → IR → ONNX (2nd) → IR → ONNX (3rd): the 2nd
/// and 3rd writes are byte-identical, inline and with external data.
fn check_idempotent(c: &workspace_tests::Case) {
    for external in [ExternalData::Auto, ExternalData::Always] {
        let opts = ExportOptions { external_data: external, ..ExportOptions::default() };
        let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut model = import_fixture(&c.model);
        let mut written: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for d in &dirs {
            let out = d.path().join("model.onnx");
            export(&model, &out, &opts);
            let files = list_files(d.path())
                .into_iter()
                .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
                .collect();
            written.push(files);
            model = load(&out);
        }
        let names = |w: &[(String, Vec<u8>)]| w.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&written[1]), names(&written[2]), "{} ({external:?}): files written", c.name);
        for (a, b) in written[1].iter().zip(&written[2]) {
            assert!(
                a.1 == b.1,
                "{} ({external:?}): {} differs between the 2nd and 3rd write ({} vs {} bytes, first difference at byte {})",
                c.name,
                a.0,
                a.1.len(),
                b.1.len(),
                a.1.iter().zip(&b.1).position(|(x, y)| x != y).unwrap_or(a.1.len().min(b.1.len()))
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers.

/// Imports a fixture through `ir::Importer` and through `convert::load` (which
/// also runs `topo_sort` and `validate`); both must give the same model.
fn import_fixture(path: &Path) -> Model {
    let direct = fmt_onnx::OnnxImporter
        .import(path, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("import of {} failed: {e}", path.display()));
    let loaded = load(path);
    let diffs = diff_models(&direct, &loaded);
    assert!(diffs.is_empty(), "convert::load changed {}:\n{}", path.display(), diffs.join("\n"));
    loaded
}

fn load(path: &Path) -> Model {
    let registry = convert::registry();
    let (m, format) = convert::load(&registry, path, None, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("convert::load({}) failed: {e}", path.display()));
    assert_eq!(format, "onnx");
    m
}

fn export(model: &Model, path: &Path, opts: &ExportOptions) -> ExportReport {
    let registry = convert::registry();
    let exporter = registry.exporter_for_path(path).unwrap();
    exporter.check(model).unwrap_or_else(|e| panic!("check before writing {}: {e}", path.display()));
    exporter.export(model, path, opts).unwrap_or_else(|e| panic!("export to {} failed: {e}", path.display()))
}

/// The report names exactly the files in `dir`, with their sizes; no temp files remain.
fn assert_report_matches_disk(report: &ExportReport, dir: &Path) {
    let mut reported: Vec<(PathBuf, u64)> = report.files.clone();
    reported.sort();
    let on_disk: Vec<(PathBuf, u64)> =
        list_files(dir).into_iter().map(|p| (p.clone(), std::fs::metadata(&p).unwrap().len())).collect();
    assert_eq!(reported, on_disk, "export report vs files on disk");
}

/// The model read back must equal the original up to what the exporter
/// legitimately fills in (see [`as_written`]), and every weight must be
/// bit-identical.
fn assert_round_trip(name: &str, original: &Model, read_back: &Model) {
    let expected = as_written(original);
    let diffs = diff_models(&expected, read_back);
    assert!(diffs.is_empty(), "{name}: IR differs after the round trip:\n{}", diffs.join("\n"));
    assert!(expected == *read_back, "{name}: models differ (diff_models found nothing; compare Debug output)");
    assert_weights_identical(name, original, read_back);
}

/// `model` as the ONNX exporter writes it. The normalisations, each
/// something the format requires or the exporter documents:
/// - `producer_name`/`producer_version`: when the producer name is empty the
///   exporter writes itself (`model-convert`, its crate version);
/// - `opset_imports`: `ai.onnx` (`""`) is added at `ir::opset::DEFAULT_OPSET`
///   when missing, and every domain a node uses is added at version 1 when
///   missing (ONNX checkers reject nodes of unimported domains);
/// - graph names: an empty (sub)graph name is written as `main` (ONNX
///   requires graph names).
///
/// Nothing else may change.
fn as_written(model: &Model) -> Model {
    let mut m = model.clone();
    if m.producer_name.is_empty() {
        m.producer_name = "model-convert".into();
        m.producer_version = env!("CARGO_PKG_VERSION").into();
    }
    if !m.opset_imports.contains_key("") {
        m.opset_imports.shift_insert(0, String::new(), ir::opset::DEFAULT_OPSET);
    }
    let mut domains = Vec::new();
    m.graph.walk(&mut |g| domains.extend(g.nodes.iter().map(|n| n.domain.clone())));
    domains.sort();
    for d in domains {
        m.opset_imports.entry(d).or_insert(1);
    }
    m.graph.walk_mut(&mut |g| {
        if g.name.is_empty() {
            g.name = "main".into();
        }
    });
    m
}

/// Every difference between two models, as readable lines (at most 30).
/// Unlike `==` on the IndexMaps, this also checks the order of initializers
/// and attributes, which the exporter must keep.
fn diff_models(a: &Model, b: &Model) -> Vec<String> {
    let mut d = Vec::new();
    macro_rules! field {
        ($($f:ident),*) => {$(
            if a.$f != b.$f {
                d.push(format!("model.{}: {:?} != {:?}", stringify!($f), a.$f, b.$f));
            }
        )*};
    }
    field!(opset_imports, producer_name, producer_version, domain, model_version, doc, metadata);
    diff_graphs(&a.graph, &b.graph, "graph", &mut d);
    d.truncate(30);
    d
}

fn diff_graphs(a: &Graph, b: &Graph, at: &str, d: &mut Vec<String>) {
    macro_rules! field {
        ($($f:ident),*) => {$(
            if a.$f != b.$f {
                d.push(format!("{at}.{}: {:?} != {:?}", stringify!($f), a.$f, b.$f));
            }
        )*};
    }
    field!(name, doc, inputs, outputs, value_info, sparse_initializers);
    let ka: Vec<&String> = a.initializers.keys().collect();
    let kb: Vec<&String> = b.initializers.keys().collect();
    if ka != kb {
        d.push(format!("{at}.initializers: names/order {ka:?} != {kb:?}"));
    }
    for (k, ta) in &a.initializers {
        if let Some(tb) = b.initializers.get(k)
            && ta != tb
        {
            d.push(format!("{at}.initializers['{k}']: {}", describe_tensor_diff(ta, tb)));
        }
    }
    if a.nodes.len() != b.nodes.len() {
        d.push(format!("{at}.nodes: {} != {} nodes", a.nodes.len(), b.nodes.len()));
        return;
    }
    for (i, (na, nb)) in a.nodes.iter().zip(&b.nodes).enumerate() {
        let at = format!("{at}.nodes[{i}] '{}'", na.name);
        for (what, x, y) in [("name", &na.name, &nb.name), ("op", &na.op, &nb.op), ("domain", &na.domain, &nb.domain)] {
            if x != y {
                d.push(format!("{at}.{what}: {x:?} != {y:?}"));
            }
        }
        if na.inputs != nb.inputs {
            d.push(format!("{at}.inputs: {:?} != {:?}", na.inputs, nb.inputs));
        }
        if na.outputs != nb.outputs {
            d.push(format!("{at}.outputs: {:?} != {:?}", na.outputs, nb.outputs));
        }
        if na.doc != nb.doc {
            d.push(format!("{at}.doc: {:?} != {:?}", na.doc, nb.doc));
        }
        let ka: Vec<&String> = na.attrs.keys().collect();
        let kb: Vec<&String> = nb.attrs.keys().collect();
        if ka != kb {
            d.push(format!("{at}.attrs: names/order {ka:?} != {kb:?}"));
            continue;
        }
        for (k, x) in &na.attrs {
            let y = &nb.attrs[k];
            match (x, y) {
                (Attribute::Graph(gx), Attribute::Graph(gy)) => diff_graphs(gx, gy, &format!("{at}.{k}"), d),
                (Attribute::Graphs(gx), Attribute::Graphs(gy)) if gx.len() == gy.len() => {
                    for (j, (gx, gy)) in gx.iter().zip(gy).enumerate() {
                        diff_graphs(gx, gy, &format!("{at}.{k}[{j}]"), d);
                    }
                }
                (Attribute::Tensor(tx), Attribute::Tensor(ty)) if tx != ty => {
                    d.push(format!("{at}.{k}: {}", describe_tensor_diff(tx, ty)));
                }
                _ if x != y => d.push(format!("{at}.{k}: {x:?} != {y:?}")),
                _ => {}
            }
        }
    }
}

fn describe_tensor_diff(a: &Tensor, b: &Tensor) -> String {
    if a.dtype() != b.dtype() || a.shape() != b.shape() {
        return format!("{}{:?} != {}{:?}", a.dtype(), a.shape(), b.dtype(), b.shape());
    }
    match (a.data(), b.data()) {
        (TensorData::Bytes(x), TensorData::Bytes(y)) => {
            let at = x.iter().zip(y.iter()).position(|(p, q)| p != q);
            format!("{} bytes vs {} bytes, first difference at byte {at:?}", x.len(), y.len())
        }
        (x, y) => format!("{x:?} != {y:?}"),
    }
}

/// Every tensor of a model with a label: initializers, sparse initializers'
/// parts and attribute tensors, subgraphs included.
fn tensors_of(g: &Graph, at: &str, out: &mut Vec<(String, Tensor)>) {
    for (k, t) in &g.initializers {
        out.push((format!("{at} initializer '{k}'"), t.clone()));
    }
    for (k, s) in &g.sparse_initializers {
        out.push((format!("{at} sparse initializer '{k}' values"), s.values.clone()));
        out.push((format!("{at} sparse initializer '{k}' indices"), s.indices.clone()));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for (k, a) in &n.attrs {
            let at = format!("{at} node #{i} '{}' attribute '{k}'", n.name);
            match a {
                Attribute::Tensor(t) => out.push((at, t.clone())),
                Attribute::Tensors(ts) => out.extend(ts.iter().map(|t| (at.clone(), t.clone()))),
                Attribute::Graph(sg) => tensors_of(sg, &at, out),
                Attribute::Graphs(gs) => gs.iter().for_each(|sg| tensors_of(sg, &at, out)),
                _ => {}
            }
        }
    }
}

/// Every weight's bytes (`raw()`; strings for string tensors) are identical.
fn assert_weights_identical(name: &str, a: &Model, b: &Model) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    tensors_of(&a.graph, "graph", &mut ta);
    tensors_of(&b.graph, "graph", &mut tb);
    let labels = |v: &[(String, Tensor)]| v.iter().map(|t| t.0.clone()).collect::<Vec<_>>();
    assert_eq!(labels(&ta), labels(&tb), "{name}: the same tensors, in the same places");
    assert!(!ta.is_empty() || a.graph.initializers.is_empty(), "{name}: found no tensors to compare");
    for ((label, x), (_, y)) in ta.iter().zip(&tb) {
        assert_eq!((x.dtype(), x.shape()), (y.dtype(), y.shape()), "{name}: {label}");
        match (x.raw(), y.raw()) {
            (Some(p), Some(q)) => assert!(
                p.as_bytes() == q.as_bytes(),
                "{name}: {label} ({} {:?}): raw bytes differ",
                x.dtype(),
                x.shape()
            ),
            (None, None) => assert_eq!(x.strings().unwrap(), y.strings().unwrap(), "{name}: {label}"),
            _ => panic!("{name}: {label}: one side is a string tensor, the other is not"),
        }
    }
}

/// Calls `f` on every `TensorProto` holding values inline: initializers and
/// attribute tensors, subgraphs included.
fn for_each_tensor_proto(g: &GraphProto, at: &str, f: &mut dyn FnMut(&str, &TensorProto)) {
    for t in &g.initializer {
        f(&format!("{at} initializer"), t);
    }
    for n in &g.node {
        for a in &n.attribute {
            let at = format!("{at} node '{}' attribute '{}'", n.name, a.name);
            if let Some(t) = &a.t {
                f(&at, t);
            }
            for t in &a.tensors {
                f(&at, t);
            }
            if let Some(sg) = &a.g {
                for_each_tensor_proto(sg, &at, f);
            }
            for sg in &a.graphs {
                for_each_tensor_proto(sg, &at, f);
            }
        }
    }
}

#[test]
fn external_data_fixture_is_read_from_its_data_file() {
    // Sanity of the fixture itself, so the external round trip above starts
    // from tensors that really were external.
    let c = case("external_data");
    let proto = fmt_onnx::parse(&c.model).unwrap();
    let external: Vec<&str> = proto
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .filter(|t| t.data_location == DataLocation::External as i32)
        .map(|t| t.name.as_str())
        .collect();
    let expected: Vec<&str> =
        c.entry["external_tensors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(external, expected);
    let m = load(&c.model);
    for name in expected {
        assert!(m.graph.initializers[name].byte_len() >= EXTERNAL_THRESHOLD, "{name}");
    }
}

#[test]
fn exporter_fills_exactly_the_documented_fields() {
    // None of the fixtures has an empty producer, a missing opset import or
    // an unnamed graph, so exercise `as_written` on a model that has all three.
    use ir::{DType, Node, Shape, ValueInfo};
    let vi = |n: &str| ValueInfo::tensor(n, DType::F32, Shape::fixed(&[2]));
    let branch = |out: &str| Graph {
        outputs: vec![vi(out)],
        nodes: vec![Node::new("Identity", ["x"], [out]).named(format!("id_{out}"))],
        ..Graph::default()
    };
    let g = Graph {
        inputs: vec![vi("x"), ValueInfo::tensor("cond", DType::Bool, Shape::fixed(&[]))],
        outputs: vec![vi("y")],
        nodes: vec![
            Node::new("Custom", ["x"], ["c"]).named("custom").in_domain("com.example"),
            Node::new("If", ["cond"], ["y"])
                .named("if")
                .with_attr("then_branch", branch("t"))
                .with_attr("else_branch", branch("e")),
        ],
        ..Graph::default()
    };
    let m1 = Model { graph: g, ..Model::default() };
    assert!(m1.opset_imports.is_empty() && m1.producer_name.is_empty() && m1.graph.name.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    export(&m1, &out, &ExportOptions::default());
    let m2 = load(&out);
    assert_eq!(m2.producer_name, "model-convert");
    assert_eq!(m2.producer_version, env!("CARGO_PKG_VERSION"));
    let opsets: Vec<(&str, i64)> = m2.opset_imports.iter().map(|(d, v)| (d.as_str(), *v)).collect();
    assert_eq!(opsets, [("", ir::opset::DEFAULT_OPSET), ("com.example", 1)]);
    let mut names = Vec::new();
    m2.graph.walk(&mut |g| names.push(g.name.clone()));
    assert_eq!(names, ["main", "main", "main"]);
    assert_round_trip("synthetic", &m1, &m2);
}

#[test]
fn per_tensor_external_layout_writes_one_file_per_tensor() {
    let c = case("transformer_encoder");
    let m1 = import_fixture(&c.model);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let mut opts = ExportOptions { external_data: ExternalData::Always, ..ExportOptions::default() };
    opts.format_options.insert("external-layout".into(), "per-tensor".into());
    let report = export(&m1, &out, &opts);
    assert_report_matches_disk(&report, dir.path());
    let big =
        m1.graph.initializers.values().filter(|t| t.raw().is_some() && t.byte_len() >= EXTERNAL_THRESHOLD).count();
    assert!(big > 3, "the fixture has several large tensors ({big})");
    assert_eq!(report.files.len(), big + 1, "model file plus one file per external tensor");
    let proto = fmt_onnx::parse(&out).unwrap();
    let mut locations = std::collections::HashSet::new();
    for p in &proto.graph.as_ref().unwrap().initializer {
        if p.data_location != DataLocation::External as i32 {
            continue;
        }
        let e: BTreeMap<&str, &str> = p.external_data.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
        assert_eq!(e["offset"], "0", "'{}' starts its own file", p.name);
        let file = dir.path().join(e["location"]);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), e["length"].parse::<u64>().unwrap(), "'{}'", p.name);
        assert!(locations.insert(e["location"].to_string()), "'{}' shares a file", p.name);
    }
    assert_eq!(locations.len(), big);
    assert_round_trip(&c.name, &m1, &load(&out));

    // A location for all tensors contradicts one file per tensor.
    opts.format_options.insert("external-location".into(), "w.bin".into());
    let err = fmt_onnx::OnnxExporter.export(&m1, &dir.path().join("again.onnx"), &opts).unwrap_err().to_string();
    assert!(err.contains("exclude each other"), "{err}");
}
