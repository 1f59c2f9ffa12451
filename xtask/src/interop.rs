//! `cargo xtask interop`: converts every fixture with the release binary and
//! runs the result in the real runtimes (onnxruntime today; OpenVINO and
//! TensorFlow as their format crates land), comparing with the reference
//! outputs stored beside each fixture. One row per case, then
//! `N passed, N failed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::venv::Venv;
use crate::{Outcome, Workspace};

#[path = "interop_passes.rs"]
mod passes;

/// Options of the interop run.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only cases whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
}

/// Relative L2 error allowed between the runtime's output and the reference.
const RTOL: f64 = 1e-5;

/// Ways of writing the ONNX output, each checked separately.
const VARIANTS: &[(&str, &[&str])] =
    &[("inline", &[]), ("external-data", &["--external-data"]), ("typed-fields", &["-O", "tensor-encoding=typed"])];

/// One fixture with reference outputs, from `tests/fixtures/manifest.json`.
struct Case {
    name: String,
    model: PathBuf,
    inputs: BTreeMap<String, PathBuf>,
    outputs: BTreeMap<String, PathBuf>,
    dynamic: bool,
}

fn load_cases(fixtures: &Path) -> Result<Vec<Case>> {
    let path = fixtures.join("manifest.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let m: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let files = |v: &Value| -> BTreeMap<String, PathBuf> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|io| Some((io["name"].as_str()?.to_string(), fixtures.join(io["file"].as_str()?))))
            .collect()
    };
    let mut cases = Vec::new();
    for c in m["cases"].as_array().context("manifest has no cases")? {
        let case = Case {
            name: c["name"].as_str().context("case without name")?.to_string(),
            model: fixtures.join(c["model"].as_str().context("case without model")?),
            inputs: files(&c["inputs"]),
            outputs: files(&c["outputs"]),
            dynamic: c["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "dynamic")),
        };
        if !case.outputs.is_empty() {
            cases.push(case);
        }
    }
    Ok(cases)
}

struct Row {
    case: String,
    path: String,
    runtime: &'static str,
    ok: bool,
    detail: String,
}

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    let fixtures = ws.root.join("tests").join("fixtures");
    let cases: Vec<Case> = load_cases(&fixtures)?
        .into_iter()
        .filter(|c| args.filter.as_ref().is_none_or(|f| c.name.contains(f.as_str())))
        .collect();
    let bin = crate::convert::build_release(ws)?;
    let venv = Venv::ensure(ws, "interop-venv", &ws.root.join("xtask/python/requirements-interop.txt"))?;
    let out_root = ws.root.join("target").join("interop");
    let _ = std::fs::remove_dir_all(&out_root);

    let mut rows: Vec<Row> = Vec::new();
    let mut jobs = Vec::new();
    for case in &cases {
        for (variant, flags) in VARIANTS {
            let dir = out_root.join(&case.name).join(variant);
            std::fs::create_dir_all(&dir)?;
            let out = dir.join("model.onnx");
            let path = format!("onnx -> onnx ({variant})");
            let res = Command::new(&bin).arg(&case.model).arg(&out).args(*flags).arg("--quiet").output()?;
            if !res.status.success() {
                let msg = String::from_utf8_lossy(&res.stderr).lines().next().unwrap_or("").to_string();
                rows.push(Row { case: case.name.clone(), path, runtime: "onnxruntime", ok: false, detail: msg });
                continue;
            }
            jobs.push(json!({
                "id": rows.len(),
                "model": out,
                "inputs": case.inputs,
                "outputs": case.outputs,
                "rtol": RTOL,
                "expect_dynamic": if case.dynamic { case.inputs.keys().cloned().collect() } else { vec![] },
            }));
            rows.push(Row {
                case: case.name.clone(),
                path,
                runtime: "onnxruntime",
                ok: false,
                detail: "not run".into(),
            });
        }
    }

    passes::add(&bin, &cases, &out_root, &mut rows, &mut jobs)?;
    let jobs_file = out_root.join("onnxruntime-jobs.json");
    std::fs::write(&jobs_file, serde_json::to_vec_pretty(&jobs)?)?;
    let script = ws.root.join("xtask/python/run_onnxruntime.py");
    let out = Command::new(venv.python()).arg(&script).arg(&jobs_file).output().context("running onnxruntime")?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: Value = serde_json::from_str(line).with_context(|| format!("bad result line: {line}"))?;
        let id = r["id"].as_u64().context("result without id")? as usize;
        let row = rows.get_mut(id).context("result id out of range")?;
        row.ok = r["ok"].as_bool().unwrap_or(false);
        row.detail = if row.ok {
            format!("rel. error {:.2e}", r["error"].as_f64().unwrap_or(f64::NAN))
        } else {
            r["message"].as_str().unwrap_or("failed").to_string()
        };
    }

    let passed = rows.iter().filter(|r| r.ok).count();
    let failed = rows.len() - passed;
    for r in &rows {
        println!(
            "{}  {:<22} {:<30} {:<12} {}",
            if r.ok { "PASS" } else { "FAIL" },
            r.case,
            r.path,
            r.runtime,
            r.detail
        );
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 && passed > 0 { Outcome::Ok } else { Outcome::CheckFailed })
}
