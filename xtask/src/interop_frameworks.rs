//! `cargo xtask interop --models keras[:NAME,..]` and `torch[:NAME,..]`:
//! real architectures at real size (random weights) in their training
//! framework's own format, converted to ONNX and OpenVINO IR and run in
//! onnxruntime and OpenVINO (f32) against the framework's own output on the
//! same input.
//!
//! - `keras`: Keras applications (ResNet50, MobileNetV3Small,
//!   EfficientNetV2B0, ConvNeXtTiny) as TensorFlow SavedModels and frozen
//!   GraphDefs, built by `xtask/python/make_keras_models.py` in a venv with
//!   TensorFlow (`--venv`, or `target/venv-tf`). Each ONNX row also counts
//!   the `Transpose` nodes: the NHWC layout must be sunk away, leaving at
//!   most the interface ones.
//! - `torch`: torchvision ResNet-18/50 and MobileNetV3, ViT-B/16, BERT-base
//!   and GPT-2 traced with `torch.jit.trace`, built by
//!   `crates/fmt-torchscript/tests/make_real_models.py` in a venv with torch
//!   (`--venv`, or `target/venv-models`).
//!
//! Models are kept under `target/models/<family>/` between runs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::venv::Venv;

/// One family of framework models.
pub(crate) struct Family {
    /// The `--models` prefix (`keras`, `torch`).
    pub(crate) name: &'static str,
    /// The models it knows.
    pub(crate) models: &'static [&'static str],
    /// The script that builds them: `SCRIPT OUT_DIR NAME...`.
    make_script: &'static str,
    /// The file whose presence means a model is built.
    marker: &'static str,
    /// The sources converted per model: (label, path in the model's folder).
    sources: &'static [(&'static str, &'static str)],
    /// The venv made when no `--venv` is given: (folder, requirements).
    pub(crate) venv: (&'static str, &'static str),
}

/// The families of this tier.
pub(crate) const FAMILIES: &[Family] = &[
    Family {
        name: "keras",
        models: &["resnet50", "mobilenetv3small", "efficientnetv2b0", "convnexttiny"],
        make_script: "xtask/python/make_keras_models.py",
        marker: "frozen.pb",
        sources: &[("SavedModel", "saved_model"), ("frozen", "frozen.pb")],
        venv: ("venv-tf", "xtask/python/requirements-tf.txt"),
    },
    Family {
        name: "torch",
        models: &["resnet18", "resnet50", "mobilenet", "vit", "bert", "gpt2"],
        make_script: "crates/fmt-torchscript/tests/make_real_models.py",
        marker: "model.pt",
        sources: &[("TorchScript", "model.pt")],
        venv: ("venv-models", "xtask/python/requirements-models.txt"),
    },
];

/// Relative L2 error allowed against the framework's output.
const RTOL: f64 = 1e-5;

/// Transposes of an ONNX file, read with our importer.
fn transposes(model: &Path) -> Result<usize> {
    let m = ir::Importer::import(&fmt_onnx::OnnxImporter, model, &ir::ImportOptions::default())?;
    Ok(m.graph.nodes.iter().filter(|n| n.op == "Transpose").count())
}

/// Runs one family's rows for `names`; returns whether all passed.
pub(crate) fn run(ws_root: &Path, bin: &Path, venv: &Venv, family: &Family, names: &[&str]) -> Result<bool> {
    let root = ws_root.join("target/models").join(family.name);
    let scripts = ws_root.join("xtask/python");
    let missing: Vec<&str> = names.iter().copied().filter(|m| !root.join(m).join(family.marker).is_file()).collect();
    if !missing.is_empty() {
        std::fs::create_dir_all(&root)?;
        let mut make = Command::new(venv.python());
        make.arg(ws_root.join(family.make_script)).arg(&root).args(&missing);
        crate::venv::run(&mut make).with_context(|| format!("generating the {} models", family.name))?;
    }
    let out_dir = ws_root.join("target/interop-frameworks").join(family.name);
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for name in names {
        let dir = root.join(name);
        for (source, file) in family.sources {
            let src_path = dir.join(file);
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
                    "{tag}  {}:{name:<18} {:<24} {runtime:<12} {text}{layout} ({seconds:.1} s)",
                    family.name,
                    format!("{source} -> {ext}")
                );
                let _ = std::fs::remove_file(&out);
                let _ = std::fs::remove_file(out.with_extension("bin"));
            }
        }
    }
    println!("{}: {passed} passed, {failed} failed", family.name);
    Ok(failed == 0 && passed > 0)
}
