//! `cargo xtask interop --models keras[:NAME,..]`: Keras applications at real
//! size (ResNet50, MobileNetV3Small, EfficientNetV2B0, ConvNeXtTiny, random
//! weights) as TensorFlow SavedModels and frozen GraphDefs, converted to
//! ONNX and OpenVINO IR and run in onnxruntime and OpenVINO (f32) against
//! TensorFlow's own output on the same input.
//!
//! `xtask/python/make_keras_models.py` builds them under
//! `target/models/keras/` (kept between runs) in a venv with TensorFlow
//! (`--venv`, or `target/venv-tf` from `xtask/python/requirements-tf.txt`).
//! Each row also counts the `Transpose` nodes of the converted ONNX model:
//! the NHWC layout must be sunk away, leaving at most the interface ones.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::venv::Venv;

/// The Keras applications this tier knows.
pub(crate) const MODELS: &[&str] = &["resnet50", "mobilenetv3small", "efficientnetv2b0", "convnexttiny"];

/// Relative L2 error allowed against TensorFlow's output.
const RTOL: f64 = 1e-5;

/// Transposes of an ONNX file, read with our importer.
fn transposes(model: &Path) -> Result<usize> {
    let m = ir::Importer::import(&fmt_onnx::OnnxImporter, model, &ir::ImportOptions::default())?;
    Ok(m.graph.nodes.iter().filter(|n| n.op == "Transpose").count())
}

/// Runs the Keras rows; returns whether all passed.
pub(crate) fn run(ws_root: &Path, bin: &Path, venv: &Venv, names: &[&str]) -> Result<bool> {
    let root = ws_root.join("target/models/keras");
    let scripts = ws_root.join("xtask/python");
    let missing: Vec<&str> = names.iter().copied().filter(|m| !root.join(m).join("frozen.pb").is_file()).collect();
    if !missing.is_empty() {
        let mut make = Command::new(venv.python());
        make.arg(scripts.join("make_keras_models.py")).arg(&root).args(&missing);
        crate::venv::run(&mut make).context("generating the Keras models (the venv needs tensorflow)")?;
    }
    let out_dir = ws_root.join("target/interop-keras");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for name in names {
        let dir = root.join(name);
        for (source, src_path) in [("SavedModel", dir.join("saved_model")), ("frozen", dir.join("frozen.pb"))] {
            for (ext, runtime) in [("onnx", "onnxruntime"), ("xml", "openvino")] {
                let out = out_dir.join(format!("{name}_{}.{ext}", source.to_lowercase()));
                let start = Instant::now();
                let res = Command::new(bin).arg(&src_path).arg(&out).arg("--quiet").output()?;
                let seconds = start.elapsed().as_secs_f64();
                let detail = if !res.status.success() {
                    Err(String::from_utf8_lossy(&res.stderr).lines().next().unwrap_or("").to_string())
                } else {
                    let check = Command::new(venv.python())
                        .arg(scripts.join("check_output.py"))
                        .arg(&dir)
                        .arg(&out)
                        .output()?;
                    let text = String::from_utf8_lossy(&check.stdout);
                    match text.trim().parse::<f64>() {
                        Ok(err) if err <= RTOL => Ok(format!("rel. L2 {err:.2e}")),
                        Ok(err) => Err(format!("rel. L2 {err:.2e} > {RTOL:e}")),
                        Err(_) => Err(format!(
                            "does not run: {}",
                            String::from_utf8_lossy(&check.stderr).lines().last().unwrap_or("")
                        )),
                    }
                };
                let layout = if ext == "onnx" && out.is_file() {
                    format!(", {} Transpose", transposes(&out)?)
                } else {
                    String::new()
                };
                let (tag, text) = match &detail {
                    Ok(d) => {
                        passed += 1;
                        ("PASS", d.clone())
                    }
                    Err(e) => {
                        failed += 1;
                        ("FAIL", e.clone())
                    }
                };
                println!(
                    "{tag}  keras:{name:<18} {:<24} {runtime:<12} {text}{layout} ({seconds:.1} s)",
                    format!("{source} -> {ext}")
                );
                let _ = std::fs::remove_file(&out);
                let _ = std::fs::remove_file(out.with_extension("bin"));
            }
        }
    }
    println!("keras: {passed} passed, {failed} failed");
    Ok(failed == 0 && passed > 0)
}
