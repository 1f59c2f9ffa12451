//! The LLM weight-compression half of `cargo xtask bench` (`--compress`,
//! issue 20's yardstick): NNCF's `compress_weights` on the OpenVINO IR and
//! onnxruntime's `MatMulNBitsQuantizer` on the ONNX model against our
//! `convert --quantize ...`, on the same random-weight decoders, the same
//! evaluation input and the same calibration samples.
//!
//! Every row is one child process (wall time and peak RSS from
//! `/usr/bin/time`, so each figure is the tool's own); its output is then run
//! in onnxruntime or OpenVINO (CPU, f32 inference) by
//! `xtask/python/bench_compress.py check`, which reports the logits' SQNR
//! against PyTorch's float logits and the weight bytes as stored. A tool that
//! refuses a configuration, or a flag our binary does not know yet, makes a
//! row that says so; the bench goes on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::Workspace;
use crate::bench_convert::Sample;
use crate::venv::Venv;

/// Placeholder in argument lists for the model's calibration folder (ours)
/// or samples (NNCF's `nncf.Dataset`, onnxruntime's data reader); the Python
/// side knows it by the same text.
const CALIB: &str = "calib";

/// Placeholder in our argument lists for the weight bytes NNCF's mixed
/// precision row (ratio 0.8) measured on the same model: the issue compares
/// mixed precision at that size.
const NNCF_MIXED_BYTES: &str = "nncf-ratio-0.8-bytes";

/// The models `--compress` knows; `bench_compress.py make` builds them.
const MODELS: &[&str] = &["llama", "gpt2"];

/// Exit status of `bench_compress.py` when the tool refused the configuration.
const REFUSED: i32 = 3;

/// A model file format, for the input and output of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// ONNX, run in onnxruntime.
    Onnx,
    /// OpenVINO IR (`.xml` + `.bin`), run in OpenVINO.
    Ir,
}

impl Format {
    fn file(self) -> &'static str {
        match self {
            Format::Onnx => "model.onnx",
            Format::Ir => "model.xml",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Onnx => "ONNX",
            Format::Ir => "OpenVINO IR",
        }
    }
}

/// One NNCF row: `nncf.compress_weights(model, **kwargs)` on the IR, values
/// as Python literals (`mode` is a `CompressWeightsMode` name).
struct NncfRow {
    kwargs: &'static [(&'static str, &'static str)],
}

/// NNCF 3.4 rows, on the OpenVINO IR.
const NNCF: &[NncfRow] = &[
    NncfRow { kwargs: &[("mode", "INT8_ASYM")] },
    NncfRow { kwargs: &[("mode", "INT4_SYM"), ("group_size", "16"), ("ratio", "1.0")] },
    NncfRow {
        kwargs: &[
            ("mode", "INT4_SYM"),
            ("group_size", "16"),
            ("ratio", "1.0"),
            ("awq", "True"),
            ("scale_estimation", "True"),
            ("dataset", CALIB),
        ],
    },
    NncfRow {
        kwargs: &[("mode", "INT4_SYM"), ("group_size", "16"), ("ratio", "1.0"), ("gptq", "True"), ("dataset", CALIB)],
    },
    NncfRow { kwargs: &[("mode", "INT4_SYM"), ("group_size", "16"), ("ratio", "0.8"), ("dataset", CALIB)] },
    NncfRow { kwargs: &[("mode", "INT4_SYM"), ("group_size", "32"), ("ratio", "1.0")] },
];

/// One onnxruntime row: `MatMulNBitsQuantizer(model, **kwargs,
/// algo_config=CONFIG(**config_kwargs))` on the ONNX model.
struct OrtRow {
    kwargs: &'static [(&'static str, &'static str)],
    config: &'static str,
    config_kwargs: &'static [(&'static str, &'static str)],
}

/// onnxruntime rows (`onnxruntime.quantization.matmul_nbits_quantizer`).
/// GPTQ takes its group size and symmetry from the quantizer's own
/// arguments (its config's `block_size` is GPTQ's column batch).
const ORT: &[OrtRow] = &[
    OrtRow {
        kwargs: &[],
        config: "DefaultWeightOnlyQuantConfig",
        config_kwargs: &[("block_size", "16"), ("is_symmetric", "True")],
    },
    OrtRow {
        kwargs: &[],
        config: "DefaultWeightOnlyQuantConfig",
        config_kwargs: &[
            ("block_size", "16"),
            ("is_symmetric", "True"),
            ("op_types_to_quantize", "('MatMul', 'Gather')"),
        ],
    },
    OrtRow {
        kwargs: &[],
        config: "DefaultWeightOnlyQuantConfig",
        config_kwargs: &[("block_size", "32"), ("is_symmetric", "True")],
    },
    OrtRow {
        kwargs: &[("block_size", "16"), ("is_symmetric", "True")],
        config: "GPTQWeightOnlyQuantConfig",
        config_kwargs: &[("calibration_data_reader", CALIB)],
    },
    OrtRow { kwargs: &[], config: "HQQWeightOnlyQuantConfig", config_kwargs: &[("block_size", "16"), ("bits", "4")] },
];

/// One row of ours: `convert MODEL OUT ARGS --quiet`.
struct OursRow {
    from: Format,
    to: Format,
    args: &'static [&'static str],
}

/// Our rows; `CALIB` stands for the model's `calib/` folder.
const OURS: &[OursRow] = &[
    OursRow { from: Format::Onnx, to: Format::Onnx, args: &["--quantize", "int8"] },
    OursRow { from: Format::Onnx, to: Format::Onnx, args: &["--quantize", "int4", "--group-size", "16"] },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--asymmetric"],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--weight-method", "gptq", "--calibration", CALIB],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--weight-method", "awq", "--calibration", CALIB],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &[
            "--quantize",
            "int4",
            "--group-size",
            "16",
            "--quantize-embeddings",
            "int8",
            "--weight-method",
            "awq",
            "--calibration",
            CALIB,
        ],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--ratio", "0.8", "--calibration", CALIB],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "-O", "int4-format=matmulnbits"],
    },
    OursRow { from: Format::Onnx, to: Format::Ir, args: &["--quantize", "int4", "--group-size", "16"] },
    OursRow { from: Format::Ir, to: Format::Ir, args: &["--quantize", "int4", "--group-size", "16"] },
    OursRow { from: Format::Onnx, to: Format::Onnx, args: &["--quantize", "int4", "--group-size", "32"] },
    // NNCF's int4 layout (embeddings, here also the tied LM head, in int8):
    // the same size, so the SQNRs compare directly.
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--quantize-embeddings", "int8"],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &[
            "--quantize",
            "int4",
            "--group-size",
            "16",
            "--quantize-embeddings",
            "int8",
            "--weight-method",
            "gptq",
            "--calibration",
            CALIB,
        ],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &[
            "--quantize",
            "int4",
            "--group-size",
            "16",
            "--quantize-embeddings",
            "int8",
            "--ratio",
            "0.8",
            "--calibration",
            CALIB,
        ],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &["--quantize", "int4", "--group-size", "16", "--target-size", NNCF_MIXED_BYTES, "--calibration", CALIB],
    },
    OursRow {
        from: Format::Onnx,
        to: Format::Onnx,
        args: &[
            "--quantize",
            "int4",
            "--group-size",
            "16",
            "--target-size",
            NNCF_MIXED_BYTES,
            "--weight-method",
            "gptq",
            "--calibration",
            CALIB,
        ],
    },
];

/// What became of one row.
enum Outcome {
    /// The output ran: SQNR in dB, weight bytes, and the format's float bytes.
    Measured { sqnr_db: f64, bytes: u64, float_bytes: u64 },
    /// The tool refused or failed, or its output did not run: the message.
    Failed(String),
    /// A run that writes no model (the import cost of a Python tool).
    NoModel,
}

/// One line of the table.
struct Line {
    tool: &'static str,
    method: String,
    /// The output's format; `None` for a run that writes no model.
    format: Option<Format>,
    sample: Option<Sample>,
    outcome: Outcome,
}

/// Builds (or reuses) the models, runs every row on each, prints one
/// markdown table per model and writes it to `target/bench/compress/<model>.md`.
pub(crate) fn run(ws: &Workspace, venv: &Venv, models: &[&str]) -> Result<()> {
    if let Some(unknown) = models.iter().find(|m| !MODELS.contains(m)) {
        bail!("unknown model {unknown:?} for --compress (known: {})", MODELS.join(", "));
    }
    let ws_root = &ws.root;
    let root = ws_root.join("target/bench/compress");
    let script = ws_root.join("xtask/python/bench_compress.py");
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    // A copy, so that a rebuild of the binary during the run (the release
    // build, or MODEL_CONVERT_BIN's) cannot mix two builds in one table.
    let built = ours_binary(ws)?;
    let bin = root.join("convert");
    std::fs::copy(&built, &bin).with_context(|| format!("cannot copy {} to {}", built.display(), bin.display()))?;
    for &model in models {
        let mut make = Command::new(venv.python());
        make.arg(&script).arg("make").arg(&root).arg(model);
        crate::venv::run(&mut make).with_context(|| format!("generating the {model} model"))?;
        let table = bench_model(&bin, venv, &script, &root, model)?;
        let path = root.join(format!("{model}.md"));
        std::fs::write(&path, &table).with_context(|| format!("cannot write {}", path.display()))?;
        println!("\n{table}");
        eprintln!("{model}: done, table in {}", path.display());
    }
    Ok(())
}

/// `MODEL_CONVERT_BIN` when set (a binary built elsewhere), else the
/// release build of this workspace.
fn ours_binary(ws: &Workspace) -> Result<PathBuf> {
    match std::env::var_os("MODEL_CONVERT_BIN") {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!("MODEL_CONVERT_BIN={}: no such file", path.display());
            }
            Ok(path)
        }
        None => crate::convert::build_release(ws),
    }
}

fn bench_model(bin: &Path, venv: &Venv, script: &Path, root: &Path, model: &str) -> Result<String> {
    let dir = root.join(model);
    let out = root.join("out");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let python = s(&venv.python());
    let float = |f: Format| -> Result<(f64, u64)> {
        match check(venv, script, &dir, &dir.join(f.file()))? {
            Outcome::Measured { sqnr_db, bytes, .. } => Ok((sqnr_db, bytes)),
            Outcome::Failed(m) => bail!("{model}: the float {} model does not run: {m}", f.name()),
            Outcome::NoModel => bail!("{model}: no float {} model", f.name()),
        }
    };
    let (onnx_sqnr, onnx_bytes) = float(Format::Onnx)?;
    let (ir_sqnr, ir_bytes) = float(Format::Ir)?;
    let float_bytes = |f: Format| match f {
        Format::Onnx => onnx_bytes,
        Format::Ir => ir_bytes,
    };
    let mut lines = vec![
        Line {
            tool: "float",
            method: "torch.onnx.export(dynamo=True)".into(),
            format: Some(Format::Onnx),
            sample: None,
            outcome: Outcome::Measured { sqnr_db: onnx_sqnr, bytes: onnx_bytes, float_bytes: onnx_bytes },
        },
        Line {
            tool: "float",
            method: "openvino.convert_model(model.onnx)".into(),
            format: Some(Format::Ir),
            sample: None,
            outcome: Outcome::Measured { sqnr_db: ir_sqnr, bytes: ir_bytes, float_bytes: ir_bytes },
        },
    ];

    // (tool, method, output format, command)
    let mut jobs: Vec<(&'static str, String, Option<Format>, Vec<String>)> = Vec::new();
    let ir_out = out.join("model.xml");
    let onnx_out = out.join("model.onnx");
    // What starting the interpreter and importing the tool costs, so the
    // rows' time and RSS can be read without it.
    for (tool, modules) in
        [("NNCF 3.4", "nncf, openvino"), ("onnxruntime 1.32", "onnx, onnxruntime.quantization.matmul_nbits_quantizer")]
    {
        let cmd = vec![python.clone(), "-c".into(), format!("import {modules}")];
        jobs.push((tool, format!("import {modules} (no compression: the import cost in the rows below)"), None, cmd));
    }
    for row in NNCF {
        let config = json!({ "kwargs": pairs(row.kwargs) });
        let cmd = vec![python.clone(), s(script), "nncf".into(), s(&dir), s(&ir_out), config.to_string()];
        jobs.push(("NNCF 3.4", format!("compress_weights({})", call_args(row.kwargs)), Some(Format::Ir), cmd));
    }
    for row in ORT {
        let config =
            json!({ "kwargs": pairs(row.kwargs), "config": row.config, "config_kwargs": pairs(row.config_kwargs) });
        let cmd = vec![python.clone(), s(script), "ort".into(), s(&dir), s(&onnx_out), config.to_string()];
        let mut call = call_args(row.kwargs);
        if !call.is_empty() {
            call.push_str(", ");
        }
        let method =
            format!("MatMulNBitsQuantizer({call}algo_config={}({}))", row.config, call_args(row.config_kwargs));
        jobs.push(("onnxruntime 1.32", method, Some(Format::Onnx), cmd));
    }
    for row in OURS {
        let output = out.join(row.to.file());
        let mut cmd = vec![s(bin), s(&dir.join(row.from.file())), s(&output)];
        cmd.extend(row.args.iter().map(|a| if *a == CALIB { s(&dir.join(CALIB)) } else { (*a).to_string() }));
        cmd.push("--quiet".into());
        // Both ONNX is the common case; say where IR rows start.
        let from = if row.from == Format::Onnx && row.to == Format::Onnx {
            String::new()
        } else {
            format!(" (from {})", row.from.name())
        };
        jobs.push(("ours", format!("`{}`{from}", row.args.join(" ")), Some(row.to), cmd));
    }

    for (tool, method, format, mut cmd) in jobs {
        if let Some(arg) = cmd.iter_mut().find(|a| *a == NNCF_MIXED_BYTES) {
            let nncf = lines.iter().find_map(|l| match l.outcome {
                Outcome::Measured { bytes, .. } if l.tool == "NNCF 3.4" && l.method.contains("ratio=0.8") => {
                    Some(bytes)
                }
                _ => None,
            });
            match nncf {
                Some(b) => *arg = b.to_string(),
                None => {
                    let outcome = Outcome::Failed("NNCF's ratio 0.8 row measured no size".into());
                    lines.push(Line { tool, method, format, sample: None, outcome });
                    continue;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        eprintln!("{model}: {tool} {method}");
        let (sample, failure) = measure(&cmd).with_context(|| format!("{model}: {tool} {method}"))?;
        let outcome = match failure {
            // The paths are the same in every row: keep the message's news.
            Some(message) => Outcome::Failed(message.replace(&format!("{}/", root.display()), "")),
            None => match format {
                None => Outcome::NoModel,
                Some(format) => match check(venv, script, &dir, &out.join(format.file()))? {
                    Outcome::Measured { sqnr_db, bytes, .. } => {
                        Outcome::Measured { sqnr_db, bytes, float_bytes: float_bytes(format) }
                    }
                    other => other,
                },
            },
        };
        lines.push(Line { tool, method, format, sample: Some(sample), outcome });
    }
    let _ = std::fs::remove_dir_all(&out);
    let samples = std::fs::read_dir(dir.join(CALIB))
        .with_context(|| format!("cannot list {}", dir.join(CALIB).display()))?
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "npy")))
        .count();
    Ok(table(model, &lines, samples))
}

/// Keyword pairs as the JSON object `bench_compress.py` reads.
fn pairs(kv: &[(&str, &str)]) -> Value {
    Value::Object(kv.iter().map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string()))).collect::<Map<_, _>>())
}

/// Keyword pairs as they read in a Python call.
fn call_args(kv: &[(&str, &str)]) -> String {
    kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Runs `cmd` under `/usr/bin/time`; returns its wall time and peak RSS, and
/// when it failed, the message for the row: `bench_compress.py`'s
/// "refused: ..." line, or the first line of the tool's error.
fn measure(cmd: &[String]) -> Result<(Sample, Option<String>)> {
    let report = std::env::temp_dir().join(format!("xtask-bench-compress-time-{}", std::process::id()));
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&report)
        .args(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running /usr/bin/time (apt-get install time)")?;
    let text = std::fs::read_to_string(&report).with_context(|| format!("cannot read {}", report.display()))?;
    // On failure, time writes "Command exited with non-zero status N" first.
    let last = text.lines().last().unwrap_or_default();
    let mut it = last.split_whitespace();
    let seconds: f64 = it.next().and_then(|v| v.parse().ok()).context("no time in /usr/bin/time output")?;
    let kib: f64 = it.next().and_then(|v| v.parse().ok()).context("no RSS in /usr/bin/time output")?;
    let sample = Sample { seconds, rss_mib: kib / 1024.0 };
    if out.status.success() {
        return Ok((sample, None));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = if out.status.code() == Some(REFUSED) {
        stderr.lines().rev().find_map(|l| l.trim().strip_prefix("refused: ")).map(|m| format!("refused: {m}"))
    } else if cmd.first().is_some_and(|c| c.ends_with("python")) {
        // A Python traceback ends with the exception.
        stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(|l| format!("error: {l}"))
    } else {
        lines.next().map(|l| if l.starts_with("error") { l.to_string() } else { format!("error: {l}") })
    };
    Ok((sample, Some(message.unwrap_or_else(|| format!("error: exited with {}", out.status)))))
}

/// Runs a model on the evaluation input in its runtime; a model that does
/// not run is a failed row, not an error of the bench.
fn check(venv: &Venv, script: &Path, dir: &Path, model: &Path) -> Result<Outcome> {
    let out = Command::new(venv.python())
        .arg(script)
        .arg("check")
        .arg(dir)
        .arg(model)
        .output()
        .context("running bench_compress.py check")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("failed");
        return Ok(Outcome::Failed(format!("does not run: {last}")));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line =
        text.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("no result from check: {text}"))?;
    let v: Value = serde_json::from_str(line).with_context(|| format!("bad result from check: {line}"))?;
    let sqnr_db = v["sqnr_db"].as_f64().with_context(|| format!("no SQNR in {line}"))?;
    let bytes = v["bytes"].as_u64().with_context(|| format!("no bytes in {line}"))?;
    Ok(Outcome::Measured { sqnr_db, bytes, float_bytes: bytes })
}

/// A table cell's text with the characters that would break the row escaped.
fn cell(text: &str) -> String {
    let short: String = text.chars().take(140).collect();
    let ellipsis = if short.len() < text.len() { "..." } else { "" };
    format!("{}{ellipsis}", short.replace('|', "\\|"))
}

/// `n` with a comma between groups of three digits, as the docs write
/// numbers.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(model: &str, lines: &[Line], samples: usize) -> String {
    let mut t = format!(
        "**{model}** (SQNR of the runtime's logits against PyTorch's summed over 16 held-out [1, 32] inputs; weight bytes as stored; \
         smaller by = float bytes in the same format / bytes)\n\n\
         | tool | method | format | SQNR (dB) | weight bytes | smaller by | time (s) | peak RSS (MiB) |\n\
         |---|---|---|---:|---:|---:|---:|---:|\n"
    );
    for l in lines {
        let (sqnr, bytes, ratio) = match &l.outcome {
            Outcome::Measured { sqnr_db, bytes, float_bytes } => {
                (format!("{sqnr_db:.1}"), thousands(*bytes), format!("{:.2}x", *float_bytes as f64 / *bytes as f64))
            }
            Outcome::Failed(m) => (cell(m), String::new(), String::new()),
            Outcome::NoModel => (String::new(), String::new(), String::new()),
        };
        let (secs, rss) = match l.sample {
            Some(s) => (format!("{:.1}", s.seconds), format!("{:.0}", s.rss_mib)),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {sqnr} | {bytes} | {ratio} | {secs} | {rss} |",
            l.tool,
            cell(&l.method),
            l.format.map(Format::name).unwrap_or_default()
        );
    }
    let _ = writeln!(
        t,
        "\n`calib`: the {samples} calibration samples (int64 `input_ids` [1, 32], `calib/NNN.npy`): our \
         `--calibration` folder, `nncf.Dataset([{{\"input_ids\": s}} for s in samples])` for NNCF, a \
         `CalibrationDataReader` over the same arrays for onnxruntime. Time and peak RSS are the child process's \
         (`/usr/bin/time`), Python rows including the interpreter and imports (the `import` rows)."
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_as_python() {
        assert_eq!(
            call_args(NNCF[2].kwargs),
            "mode=INT4_SYM, group_size=16, ratio=1.0, awq=True, scale_estimation=True, dataset=calib"
        );
        assert_eq!(pairs(&[("a", "1")]).to_string(), r#"{"a":"1"}"#);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(43_844_965), "43,844,965");
    }

    #[test]
    fn cells_escape_pipes_and_truncate() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert!(cell(&"x".repeat(300)).ends_with("..."));
    }

    #[test]
    fn a_failing_command_becomes_a_message() {
        let cmd = vec!["sh".to_string(), "-c".into(), "echo 'error: unexpected argument' >&2; exit 2".into()];
        let (_, failure) = measure(&cmd).unwrap();
        assert_eq!(failure.as_deref(), Some("error: unexpected argument"));
        let ok = vec!["true".to_string()];
        assert!(measure(&ok).unwrap().1.is_none());
    }
}
