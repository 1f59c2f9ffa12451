//! Helpers shared by the tests that run the `convert` binary.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ir::{DType, Exporter, Graph, Model, Node, Shape, ValueInfo};

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `convert` binary built with the tests on `args`.
pub fn convert<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_convert"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the convert binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// The committed ONNX fixture `name` (`tests/fixtures/onnx/NAME/model.onnx`).
pub fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name).join("model.onnx");
    p.canonicalize().unwrap_or_else(|e| panic!("{}: {e} (fixtures missing?)", p.display()))
}

/// A `[4]` f32 value.
pub fn f32_vi(name: &str) -> ValueInfo {
    ValueInfo::tensor(name, DType::F32, Shape::fixed(&[4]))
}

/// An ONNX file with a TensorFlow op (`tf::Erfc`) that no importer maps.
pub fn model_with_a_foreign_op(dir: &Path) -> PathBuf {
    // The exporter refuses to write `tf` nodes, so write them under a
    // placeholder domain of the same length and patch the bytes.
    let g = Graph {
        name: "g".into(),
        inputs: vec![f32_vi("x")],
        outputs: vec![f32_vi("y")],
        nodes: vec![Node::new("Erfc", ["x"], ["y"]).named("tf_erfc").in_domain("Q#")],
        ..Graph::default()
    };
    let path = dir.join("tf_ops.onnx");
    fmt_onnx::OnnxExporter.export(&Model::new(g), &path, &ir::ExportOptions::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut patched = bytes.clone();
    for i in 0..bytes.len() - 1 {
        if &bytes[i..i + 2] == b"Q#" {
            patched[i..i + 2].copy_from_slice(b"tf");
        }
    }
    assert_ne!(bytes, patched);
    std::fs::write(&path, patched).unwrap();
    path
}
