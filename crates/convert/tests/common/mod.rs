//! Helpers shared by the tests that run the `convert` binary.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

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
