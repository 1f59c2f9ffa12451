//! Interop rows for the simplification and pruning passes: each pass runs on
//! the CNN, transformer and MLP fixtures, and the written model must load
//! and run in onnxruntime, and, converted on to OpenVINO IR, in OpenVINO's
//! CPU plugin (every enabled format that holds a graph). Simplified models
//! must still match the fixture's reference outputs; pruned models compute
//! something new, so their reference is what the built-in evaluator computes
//! on the same model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Case, RTOL, Row};

/// Fixtures the passes are checked on.
const CASES: &[&str] = &["cnn_bn_residual", "transformer_encoder", "mlp"];

/// (row label, flags, whether the fixture's own reference outputs still apply).
const PASSES: &[(&str, &[&str], bool)] = &[
    ("simplify", &["--simplify"], true),
    ("prune-channels 0.3", &["--prune-channels", "0.3"], false),
    ("prune-magnitude 0.5", &["--prune-magnitude", "0.5"], false),
    ("prune-magnitude sparse", &["--prune-magnitude", "0.8", "--prune-scope", "layer", "--prune-sparse"], false),
];

/// Relative L2 allowed between onnxruntime and the built-in evaluator on a pruned model.
pub(super) const EVAL_RTOL: f64 = 1e-4;

/// The file name `convert run` gives an output (same rule as the CLI).
fn file_stem(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if s.is_empty() || s.chars().all(|c| c == '.') { "_".into() } else { s }
}

fn first_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("failed").to_string()
}

/// Converts each case with each pass and queues an onnxruntime job per
/// output model, plus an OpenVINO job for the same model written as IR.
pub(super) fn add(
    bin: &Path,
    cases: &[Case],
    out_root: &Path,
    rows: &mut Vec<Row>,
    jobs: &mut Vec<Value>,
    ov_jobs: &mut Vec<Value>,
) -> Result<()> {
    for case in cases.iter().filter(|c| CASES.contains(&c.name.as_str())) {
        for (i, (label, flags, same_outputs)) in PASSES.iter().enumerate() {
            let dir = out_root.join(&case.name).join(format!("pass-{i}"));
            std::fs::create_dir_all(&dir)?;
            let out = dir.join("model.onnx");
            let path = format!("onnx -> onnx ({label})");
            let mut fail = |detail: String| {
                rows.push(Row {
                    case: case.name.clone(),
                    path: path.clone(),
                    runtime: "onnxruntime",
                    ok: false,
                    detail,
                })
            };
            let res = Command::new(bin).arg(&case.model).arg(&out).args(*flags).arg("--quiet").output()?;
            if !res.status.success() {
                fail(first_line(&res));
                continue;
            }
            let (outputs, rtol): (BTreeMap<String, PathBuf>, f64) = if *same_outputs {
                (case.outputs.clone(), RTOL)
            } else {
                let ref_dir = dir.join("evaluator");
                let inputs: Vec<String> = case.inputs.iter().map(|(n, p)| format!("{n}={}", p.display())).collect();
                let res = Command::new(bin)
                    .arg("run")
                    .arg(&out)
                    .arg("--inputs")
                    .args(&inputs)
                    .arg("-o")
                    .arg(&ref_dir)
                    .arg("--quiet")
                    .output()?;
                if !res.status.success() {
                    fail(format!("evaluator: {}", first_line(&res)));
                    continue;
                }
                let outs = case.outputs.keys().map(|n| (n.clone(), ref_dir.join(format!("{}.npy", file_stem(n)))));
                (outs.collect(), EVAL_RTOL)
            };
            let job = |id: usize, model: &Path| {
                json!({
                    "id": id,
                    "model": model,
                    "inputs": case.inputs,
                    "outputs": outputs,
                    "rtol": rtol,
                    "expect_dynamic": Vec::<String>::new(),
                })
            };
            jobs.push(job(rows.len(), &out));
            rows.push(Row {
                case: case.name.clone(),
                path,
                runtime: "onnxruntime",
                ok: false,
                detail: "not run".into(),
            });
            // The pass's output converted on to OpenVINO IR (no passes this time).
            let xml = dir.join("model.xml");
            let res = Command::new(bin).arg(&out).arg(&xml).arg("--quiet").output()?;
            let detail = if res.status.success() {
                ov_jobs.push(job(rows.len(), &xml));
                "not run".into()
            } else {
                first_line(&res)
            };
            rows.push(Row {
                case: case.name.clone(),
                path: format!("onnx -> openvino ({label})"),
                runtime: "openvino",
                ok: false,
                detail,
            });
        }
    }
    Ok(())
}
