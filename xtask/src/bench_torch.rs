//! The TorchScript half of `cargo xtask bench` (`--torch`): a traced
//! torchvision ResNet-50 (random weights) converted to ONNX by our
//! `convert` and by `torch.jit.load` + `torch.onnx.export`, side by side in
//! one run (wall time and peak RSS from `/usr/bin/time`, see
//! `bench_convert`), each output run in onnxruntime against torch's.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::bench_convert::{Sample, measure, median};
use crate::venv::Venv;

/// Measures both tools on the traced models; returns the markdown table.
pub(crate) fn run(bin: &Path, venv: &Venv, ws_root: &Path, repeat: usize) -> Result<String> {
    let root = ws_root.join("target/bench/torch");
    let models = ["resnet50"];
    let missing: Vec<&str> = models.iter().copied().filter(|m| !root.join(m).join("model.pt").is_file()).collect();
    if !missing.is_empty() {
        let mut make = Command::new(venv.python());
        make.arg(ws_root.join("crates/fmt-torchscript/tests/make_real_models.py")).arg(&root).args(&missing);
        crate::venv::run(&mut make).context("tracing the models (the venv needs torch and torchvision)")?;
    }
    let scripts = ws_root.join("xtask/python");
    let out = root.join("out");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut table = String::from(
        "| model | conversion | tool | median time (s) | peak RSS (MiB) | rel. L2 vs torch | ours faster by | ours smaller RSS by |\n\
         |---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for model in models {
        let dir = root.join(model);
        let onnx = out.join("model.onnx");
        let tools: Vec<(&str, Vec<String>)> = vec![
            ("convert (ours)", vec![s(bin), s(&dir.join("model.pt")), s(&onnx), "--quiet".into()]),
            (
                "torch.jit.load + torch.onnx.export",
                vec![
                    s(&venv.python()),
                    s(&scripts.join("bench_torch_onnx.py")),
                    s(&dir.join("model.pt")),
                    s(&dir.join("input_0.npy")),
                    s(&onnx),
                ],
            ),
        ];
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tools.len()];
        let mut errors = vec![String::new(); tools.len()];
        for round in 0..repeat {
            for (k, (tool, cmd)) in tools.iter().enumerate() {
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir_all(&out)?;
                samples[k].push(
                    measure(&cmd.iter().map(String::as_str).collect::<Vec<_>>())
                        .with_context(|| format!("{model}: {tool}"))?,
                );
                if round == 0 {
                    let check = Command::new(venv.python())
                        .arg(scripts.join("check_output.py"))
                        .arg(&dir)
                        .arg(&onnx)
                        .output()?;
                    let text = String::from_utf8_lossy(&check.stdout);
                    errors[k] = match text.trim().parse::<f64>() {
                        Ok(e) => format!("{e:.1e}"),
                        Err(_) => "does not run".into(),
                    };
                }
            }
        }
        let med: Vec<Sample> = samples.into_iter().map(median).collect();
        for (i, (tool, _)) in tools.iter().enumerate() {
            let m = med[i];
            let (faster, smaller) = if i == 0 {
                (String::new(), String::new())
            } else {
                (format!("{:.1}x", m.seconds / med[0].seconds), format!("{:.1}x", m.rss_mib / med[0].rss_mib))
            };
            table.push_str(&format!(
                "| {model} | TorchScript -> onnx | {tool} | {:.2} | {:.0} | {} | {faster} | {smaller} |\n",
                m.seconds, m.rss_mib, errors[i]
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(table)
}
