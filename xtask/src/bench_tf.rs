//! The TensorFlow half of `cargo xtask bench` (`--tf`): Keras applications
//! at real size (random weights) as SavedModels, converted to ONNX by our
//! `convert` and by tf2onnx, and to OpenVINO IR by ours and by OpenVINO's
//! converter, side by side in one run. Wall time and peak RSS come from
//! `/usr/bin/time` around each child process (see `bench_convert`); every
//! converted model is also run in onnxruntime / OpenVINO against
//! TensorFlow's own output, so a fast wrong conversion cannot pass.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench_convert::{Sample, measure, median};
use crate::venv::Venv;

/// Measures every tool on every Keras model; returns the markdown table.
pub(crate) fn run(bin: &Path, venv: &Venv, ws_root: &Path, models: &[&str], repeat: usize) -> Result<String> {
    let root = ws_root.join("target/bench/keras");
    let scripts = ws_root.join("xtask/python");
    let missing: Vec<&str> =
        models.iter().copied().filter(|m| !root.join(m).join("saved_model/saved_model.pb").is_file()).collect();
    if !missing.is_empty() {
        let mut make = Command::new(venv.python());
        make.arg(scripts.join("make_keras_models.py")).arg(&root).args(&missing);
        crate::venv::run(&mut make).context("generating the Keras models")?;
    }
    let out = root.join("out");
    let python = venv.python();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut table = String::from(
        "| model | conversion | tool | median time (s) | peak RSS (MiB) | rel. L2 vs TF | ours faster by | ours smaller RSS by |\n\
         |---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for model in models {
        let dir = root.join(model);
        let sm = s(&dir.join("saved_model"));
        let onnx_out = out.join("model.onnx");
        let xml_out = out.join("model.xml");
        // (conversion, tool, command, output, is ours)
        let tools: Vec<(&str, &str, Vec<String>, &Path, bool)> = vec![
            (
                "SavedModel -> onnx",
                "convert (ours)",
                vec![s(bin), sm.clone(), s(&onnx_out), "--quiet".into()],
                &onnx_out,
                true,
            ),
            (
                "SavedModel -> onnx",
                "tf2onnx 1.17 (opset 17)",
                vec![
                    s(&python),
                    "-m".into(),
                    "tf2onnx.convert".into(),
                    "--saved-model".into(),
                    sm.clone(),
                    "--output".into(),
                    s(&onnx_out),
                    "--opset".into(),
                    "17".into(),
                ],
                &onnx_out,
                false,
            ),
            (
                "SavedModel -> openvino",
                "convert (ours)",
                vec![s(bin), sm.clone(), s(&xml_out), "--quiet".into()],
                &xml_out,
                true,
            ),
            (
                "SavedModel -> openvino",
                "openvino.convert_model + save_model",
                vec![s(&python), s(&scripts.join("bench_tf_openvino.py")), sm.clone(), s(&xml_out)],
                &xml_out,
                false,
            ),
        ];
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tools.len()];
        let mut errors: Vec<String> = vec![String::new(); tools.len()];
        for round in 0..repeat {
            for (k, (_, tool, cmd, output, _)) in tools.iter().enumerate() {
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir_all(&out)?;
                samples[k].push(
                    measure(&cmd.iter().map(String::as_str).collect::<Vec<_>>())
                        .with_context(|| format!("{model}: {tool}"))?,
                );
                if round == 0 {
                    errors[k] = check(venv, &scripts, &dir, output).with_context(|| format!("{model}: {tool}"))?;
                }
            }
        }
        let med: Vec<Sample> = samples.into_iter().map(median).collect();
        for (i, (conversion, tool, _, _, is_ours)) in tools.iter().enumerate() {
            let m = med[i];
            let (faster, smaller) = match tools.iter().position(|t| t.0 == *conversion && t.4) {
                Some(o) if !is_ours => {
                    (format!("{:.1}x", m.seconds / med[o].seconds), format!("{:.1}x", m.rss_mib / med[o].rss_mib))
                }
                _ => (String::new(), String::new()),
            };
            table.push_str(&format!(
                "| {model} | {conversion} | {tool} | {:.2} | {:.0} | {} | {faster} | {smaller} |\n",
                m.seconds, m.rss_mib, errors[i]
            ));
        }
        eprintln!("{model}: done");
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(table)
}

/// Runs a converted model on the Keras model's input in onnxruntime or
/// OpenVINO (f32 precision) and returns its relative L2 error against
/// TensorFlow's output, formatted; a run that fails is reported as such.
fn check(venv: &Venv, scripts: &Path, dir: &Path, model: &Path) -> Result<String> {
    let out = Command::new(venv.python())
        .arg(scripts.join("check_output.py"))
        .arg(dir)
        .arg(model)
        .output()
        .context("running check_output.py")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed");
        return Ok(format!("does not run: {}", last.chars().take(80).collect::<String>()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let err: f64 = text.trim().parse().with_context(|| format!("bad output from check_output.py: {text}"))?;
    if !err.is_finite() {
        bail!("non-finite error");
    }
    Ok(format!("{err:.1e}"))
}
