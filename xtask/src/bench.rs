//! `cargo xtask bench`: the evaluator against onnxruntime restricted to one
//! thread, side by side in one run, on generated ResNet-/BERT-style models
//! and on the repository's CNN and transformer fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::venv::Venv;
use crate::{Outcome, Workspace};

/// Options of the benchmark.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Timed runs per model and runtime (after one warm-up run) for the evaluator.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Runs per tool and model for the conversion benchmark.
    #[arg(long, default_value_t = 3)]
    convert_repeat: usize,
    /// Only the evaluator benchmark.
    #[arg(long, conflicts_with = "convert_only")]
    eval_only: bool,
    /// Only the conversion benchmark.
    #[arg(long)]
    convert_only: bool,
    /// Add the 4 GiB model to the conversion benchmark.
    #[arg(long)]
    large: bool,
    /// Only the TensorFlow benchmark: Keras SavedModels to ONNX and OpenVINO
    /// IR, against tf2onnx and OpenVINO's converter (venv target/venv-tf).
    #[arg(long, conflicts_with_all = ["eval_only", "convert_only"])]
    tf: bool,
    /// With --tf: the Keras applications (resnet50, mobilenetv3small,
    /// efficientnetv2b0, convnexttiny), comma-separated.
    #[arg(long, value_name = "LIST", default_value = "resnet50,convnexttiny", requires = "tf")]
    tf_models: String,
    /// Only the TorchScript benchmark: a traced ResNet-50 to ONNX, ours
    /// against torch.jit.load + torch.onnx.export (venv target/venv-models).
    #[arg(long, conflicts_with_all = ["eval_only", "convert_only", "tf"])]
    torch: bool,
    /// Only the LLM weight-compression benchmark: NNCF compress_weights and
    /// onnxruntime's MatMulNBitsQuantizer against `convert --quantize` on
    /// generated decoders (venv target/venv-compress; MODEL_CONVERT_BIN
    /// overrides our binary).
    #[arg(long, conflicts_with_all = ["eval_only", "convert_only", "tf", "torch"])]
    compress: bool,
    /// With --compress: the models (llama, gpt2), comma-separated.
    #[arg(long, value_name = "LIST", default_value = "llama,gpt2", requires = "compress")]
    compress_models: String,
    /// With --tf, --torch or --compress: use this existing venv instead of
    /// creating target/venv-tf (tensorflow, tf2onnx, openvino, onnxruntime),
    /// target/venv-models (torch, torchvision, onnxruntime) or
    /// target/venv-compress (torch, transformers, nncf, openvino, onnxruntime).
    #[arg(long, value_name = "PATH")]
    venv: Option<PathBuf>,
}

struct Row {
    model: String,
    ours_ms: f64,
    ort_ms: f64,
}

fn ours(bin: &Path, dir: &Path, repeat: usize, scratch: &Path) -> Result<f64> {
    let out = Command::new(bin)
        .arg("run")
        .arg(dir.join("model.onnx"))
        .arg("--inputs")
        .arg(dir.join("input_0.npy"))
        .arg("--output-dir")
        .arg(scratch)
        .args(["--repeat", &repeat.to_string(), "--quiet"])
        .output()
        .context("running convert")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("convert run {} failed: {}", dir.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    // "time per run: median X ms, min Y ms over N runs"
    let median = text
        .lines()
        .find_map(|l| l.strip_prefix("time per run: median "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .with_context(|| format!("no timing in convert's output: {text}"))?;
    Ok(median)
}

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    if args.compress {
        // Builds (or takes) our binary itself: MODEL_CONVERT_BIN may stand in.
        let venv = match &args.venv {
            Some(dir) => Venv::existing(dir)?,
            None => Venv::ensure_named(ws, "venv-compress", Path::new("xtask/python/requirements-compress.txt"))?,
        };
        let models: Vec<&str> = args.compress_models.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
        crate::bench_compress::run(ws, &venv, &models)?;
        return Ok(Outcome::Ok);
    }
    let bin = crate::convert::build_release(ws)?;
    if args.torch {
        let venv = match &args.venv {
            Some(dir) => Venv::existing(dir)?,
            None => Venv::ensure_named(ws, "venv-models", Path::new("xtask/python/requirements-models.txt"))?,
        };
        let table = crate::bench_torch::run(&bin, &venv, &ws.root, args.convert_repeat)?;
        println!(
            "\n{table}medians of {} runs; peak RSS is the largest of the runs; rel. L2 of the first run's output in \
             onnxruntime against torch's",
            args.convert_repeat
        );
        return Ok(Outcome::Ok);
    }
    if args.tf {
        let venv = match &args.venv {
            Some(dir) => Venv::existing(dir)?,
            None => Venv::ensure_named(ws, "venv-tf", Path::new("xtask/python/requirements-tf.txt"))?,
        };
        let models: Vec<&str> = args.tf_models.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
        let table = crate::bench_tf::run(&bin, &venv, &ws.root, &models, args.convert_repeat)?;
        println!(
            "\n{table}medians of {} runs; peak RSS is the largest of the runs; rel. L2 of the first run's output in \
             onnxruntime / OpenVINO (f32) against TensorFlow's",
            args.convert_repeat
        );
        return Ok(Outcome::Ok);
    }
    let venv = Venv::ensure(ws)?;
    if !args.convert_only {
        eval_bench(ws, &bin, &venv, args.repeat)?;
    }
    if !args.eval_only {
        let mut sizes = vec![256, 1024];
        if args.large {
            sizes.push(4096);
        }
        let table = crate::bench_convert::run(&bin, &venv, &ws.root, &sizes, args.convert_repeat)?;
        println!("\n{table}medians of {} runs; peak RSS is the largest of the runs", args.convert_repeat);
    }
    Ok(Outcome::Ok)
}

fn eval_bench(ws: &Workspace, bin: &Path, venv: &Venv, repeat: usize) -> Result<()> {
    let root = ws.root.join("target").join("bench");
    let models = root.join("models");
    crate::venv::run(Command::new(venv.python()).arg(ws.root.join("xtask/python/bench_models.py")).arg(&models))
        .context("generating benchmark models")?;
    let fixtures = ws.root.join("tests/fixtures/onnx");
    let dirs: Vec<PathBuf> = vec![
        models.join("resnet_like_112"),
        models.join("bert_like_4x256"),
        fixtures.join("cnn_bn_residual"),
        fixtures.join("transformer_encoder"),
    ];
    let out = Command::new(venv.python())
        .arg(ws.root.join("xtask/python/bench_onnxruntime.py"))
        .arg(repeat.to_string())
        .args(&dirs)
        .output()
        .context("running onnxruntime")?;
    if !out.status.success() {
        bail!("onnxruntime benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let ort: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let scratch = root.join("outputs");
    let mut rows = Vec::new();
    for (dir, o) in dirs.iter().zip(&ort) {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ours_ms = ours(bin, dir, repeat, &scratch)?;
        let ort_ms = o["median_ms"].as_f64().context("onnxruntime result without median")?;
        rows.push(Row { model: name, ours_ms, ort_ms });
    }
    println!("| model | evaluator (ms) | onnxruntime 1 thread (ms) | ratio |");
    println!("|---|---:|---:|---:|");
    for r in &rows {
        println!("| {} | {:.2} | {:.2} | {:.2}x |", r.model, r.ours_ms, r.ort_ms, r.ours_ms / r.ort_ms);
    }
    println!("medians of {repeat} runs after one warm-up; ratio = evaluator / onnxruntime");
    Ok(())
}
