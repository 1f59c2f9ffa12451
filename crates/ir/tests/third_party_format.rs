//! The minimal third-party format crate from docs/architecture.md, compiled
//! and exercised here so the documentation cannot rot.

use std::io::Write;
use std::path::Path;

use ir::{
    Detection, ExportOptions, ExportReport, Exporter, FormatInfo, Graph, ImportOptions, Importer, Model, Node,
    Registry, Result, Tensor, ValueInfo,
};

// --- begin docs/architecture.md example ---
/// A toy format: one line per node, `op input -> output`.
#[derive(Debug)]
pub struct LinesFormat;

const INFO: FormatInfo = FormatInfo { name: "lines", description: "toy text format", extensions: &["lines"] };

impl Importer for LinesFormat {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn detect(&self, path: &Path) -> Detection {
        if path.extension().is_some_and(|e| e == "lines") { Detection::Name } else { Detection::No }
    }

    fn import(&self, path: &Path, _: &ImportOptions) -> Result<Model> {
        // Stage 1: parse the file into the format's own structures.
        let text = std::fs::read_to_string(path).map_err(|e| ir::Error::io(path, e))?;
        let mut lines = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let (op, rest) =
                l.split_once(' ').ok_or_else(|| ir::Error::malformed(path, format!("line {}: no op", i + 1)))?;
            let (a, b) = rest
                .split_once(" -> ")
                .ok_or_else(|| ir::Error::malformed(path, format!("line {}: no '->'", i + 1)))?;
            lines.push((op.to_string(), a.to_string(), b.to_string()));
        }
        // Stage 2: translate to the IR (here the ops are already canonical ONNX names).
        let mut g = Graph::default();
        for (op, a, b) in &lines {
            g.nodes.push(Node::new(op.clone(), [a.clone()], [b.clone()]));
        }
        let first = lines.first().map(|l| l.1.clone()).unwrap_or_default();
        let last = lines.last().map(|l| l.2.clone()).unwrap_or_default();
        g.inputs.push(ValueInfo::tensor(first, ir::DType::F32, None));
        g.outputs.push(ValueInfo::tensor(last, ir::DType::F32, None));
        Ok(Model::new(g))
    }
}

impl Exporter for LinesFormat {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn check(&self, model: &Model) -> Result<()> {
        let bad: Vec<_> = model
            .graph
            .nodes
            .iter()
            .filter(|n| n.inputs.len() != 1 || n.outputs.len() != 1)
            .map(|n| (n.op.as_str(), n.domain.as_str(), n.name.as_str()))
            .collect();
        if bad.is_empty() { Ok(()) } else { Err(ir::Error::unsupported_ops("lines", bad)) }
    }

    fn export(&self, model: &Model, path: &Path, _: &ExportOptions) -> Result<ExportReport> {
        let mut f = ir::io::AtomicFile::create(path)?; // renamed into place on commit
        for n in &model.graph.nodes {
            let (i, o) = (n.input(0).unwrap_or(""), n.output(0).unwrap_or(""));
            writeln!(f, "{} {i} -> {o}", n.op).map_err(|e| ir::Error::io(path, e))?;
        }
        let size = f.commit()?;
        Ok(ExportReport { files: vec![(path.to_path_buf(), size)] })
    }
}

/// The one function the `convert` crate calls, behind a cargo feature.
pub fn register(registry: &mut Registry) {
    registry.add_importer(LinesFormat);
    registry.add_exporter(LinesFormat);
}
// --- end docs/architecture.md example ---

#[test]
fn a_third_party_format_plugs_into_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m.lines");
    std::fs::write(&src, "Relu x -> y\nNeg y -> z\n").unwrap();
    let mut reg = Registry::new();
    register(&mut reg);
    let imp = reg.detect_importer(&src).unwrap();
    let model = imp.import(&src, &ImportOptions::default()).unwrap();
    model.graph.validate().unwrap();
    let out = dir.path().join("o.lines");
    let exp = reg.exporter_for_path(&out).unwrap();
    exp.export(&model, &out, &ExportOptions::default()).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Relu x -> y\nNeg y -> z\n");

    let mut bad = model.clone();
    bad.graph.nodes.push(Node::new("Add", ["z", "z"], ["w"]).named("add"));
    let e = exp.check(&bad).unwrap_err().to_string();
    assert_eq!(e, "1 unsupported op type(s) for lines: ai.onnx::Add (node 'add')");
    let _ = Tensor::scalar(1.0f32); // tensors are the other half of the IR
}
