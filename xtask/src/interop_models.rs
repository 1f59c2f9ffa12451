//! `cargo xtask interop --models [LIST]`: real architectures at real size
//! (transformers' ResNet-50, MobileNetV2, ConvNeXt-tiny, ViT-base, BERT-base,
//! GPT-2 and torchvision's resnet18 / mobilenet_v3_small, random weights),
//! exported by both torch.onnx exporters, through every conversion and pass,
//! run in the real runtimes.
//!
//! `xtask/python/make_real_models.py` builds and exports the models under
//! `target/models/` (reused while its `VERSION` is unchanged) with one
//! reference input, the torch output, the source ONNX model's outputs in
//! onnxruntime and in OpenVINO, and OpenVINO's own conversion to IR. Then,
//! per model and export, with `convert`:
//!
//! - ONNX → OpenVINO IR (run in OpenVINO) → ONNX (run in onnxruntime), each
//!   compared with the source model in the same runtime on the same input;
//! - OpenVINO's own IR → ONNX, run in onnxruntime;
//! - each pass (simplify, int8, int8-dynamic, fp16, prune-channels 0.3), its
//!   output run in onnxruntime and, converted on to IR, in OpenVINO, with the
//!   weight-size checks;
//! - `--verify` on the plain ONNX → IR conversion.
//!
//! One row per case with its figure and seconds, the time per model, and
//! `N passed, N failed`. Models an exporter itself fails on are listed, not
//! counted: they are the exporter's failures, not ours.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::RTOL;
use crate::venv::Venv;
use crate::{Outcome, Workspace};

use super::passes::EVAL_RTOL;

/// What a pass's output is checked against.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// The source model's output in the same runtime, within [`RTOL`].
    Source,
    /// The source model's output in the same runtime, with at least this SQNR
    /// (dB): the per-method floors of `interop_quant.rs`'s `METHODS` table
    /// (private there; see the report on making it shared).
    Sqnr(f64),
    /// What the built-in evaluator computes on the pass's own output (pruned
    /// models compute something new), within [`EVAL_RTOL`].
    Evaluator,
    /// As [`Reference::Evaluator`] for quantized outputs, within
    /// [`QUANT_RTOL`].
    Quantized,
}

/// How far a runtime may be from the evaluator on a quantized model. The
/// runtimes decompress weights and accumulate in their own order, and over
/// 50 layers that reaches about 2e-3 (OpenVINO on ResNet-50 int8: 1.8e-3),
/// while the quantization error itself is some 5e-2 there: the bound
/// separates "computes the same quantized model" from "computes another".
const QUANT_RTOL: f64 = 5e-3;

/// A weight-size rule for a pass's output against the source model.
#[derive(Debug, Clone, Copy)]
enum SizeRule {
    /// Weight bytes never grow.
    NoGrowth,
    /// Weight bytes shrink by at least this factor.
    Shrinks(f64),
}

/// The passes, with their flags, reference and size rule.
const PASSES: &[(&str, &[&str], Reference, Option<SizeRule>)] = &[
    ("simplify", &["--simplify"], Reference::Source, Some(SizeRule::NoGrowth)),
    // The fixtures' SQNR floors (30/25 dB) do not transfer to 50 random-weight
    // layers, where quantization noise compounds; what the runtimes must do is
    // compute the quantized model as the reference evaluator does, and the
    // size rule is the bar. Accuracy against the float model is
    // gated on the fixtures (`interop_quant.rs`), not here.
    ("int8", &["--quantize", "int8"], Reference::Quantized, Some(SizeRule::Shrinks(3.5))),
    // Dynamic quantization rounds activations to u8 at run time, so float
    // differences of one ulp upstream flip roundings and the runtimes drift
    // from the evaluator (ViT: 1.5e-2); it is judged against the float model
    // instead, with a floor that only a broken model misses (measured: 18.9 dB
    // on ResNet-50, 21.8 on MobileNetV2, 25 and more on the transformers).
    ("int8-dynamic", &["--quantize", "int8-dynamic"], Reference::Sqnr(15.0), Some(SizeRule::Shrinks(3.5))),
    ("fp16", &["--quantize", "fp16"], Reference::Sqnr(50.0), None),
    ("prune-channels 0.3", &["--prune-channels", "0.3"], Reference::Evaluator, None),
];

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    /// Not ours to run: the source model does not run in that runtime, or
    /// OpenVINO's converter failed on it.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

struct Row {
    /// `model/export`.
    case: String,
    path: String,
    runtime: &'static str,
    status: Status,
    detail: String,
    /// Seconds of the `convert` runs behind the row.
    seconds: f64,
    /// The command that failed, with its full error, for the failure list.
    command: Option<(String, String)>,
}

impl Row {
    fn new(case: &str, path: String, runtime: &'static str, seconds: f64) -> Self {
        Row {
            case: case.to_string(),
            path,
            runtime,
            status: Status::Fail,
            detail: "not run".into(),
            seconds,
            command: None,
        }
    }

    fn failed(mut self, run: &Run) -> Self {
        self.status = Status::Fail;
        self.detail = run.first_error_line();
        self.command = Some((run.command.clone(), run.stderr.trim_end().to_string()));
        self
    }

    fn skipped(mut self, why: String) -> Self {
        self.status = Status::Skip;
        self.detail = why;
        self
    }
}

/// One finished `convert` invocation.
struct Run {
    ok: bool,
    seconds: f64,
    stdout: String,
    stderr: String,
    command: String,
}

impl Run {
    fn first_error_line(&self) -> String {
        let line = self.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed with no message");
        line.strip_prefix("error: ").unwrap_or(line).to_string()
    }
}

/// Runs `bin` with `args`, timing it.
fn convert(bin: &Path, args: Vec<OsString>) -> Result<Run> {
    let command = std::iter::once(bin.as_os_str().to_owned())
        .chain(args.iter().cloned())
        .map(|a| {
            let a = a.to_string_lossy().into_owned();
            if a.contains([' ', '\'', '"']) { format!("'{a}'") } else { a }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    let out = Command::new(bin).args(&args).output().with_context(|| format!("cannot start {}", bin.display()))?;
    Ok(Run {
        ok: out.status.success(),
        seconds: start.elapsed().as_secs_f64(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command,
    })
}

/// `a b c` as `OsString`s.
fn os_args<I: IntoIterator<Item = S>, S: Into<OsString>>(items: I) -> Vec<OsString> {
    items.into_iter().map(Into::into).collect()
}

/// One export of one model, as `make_real_models.py` described it.
struct Export {
    model: String,
    export: String,
    entry: Value,
}

impl Export {
    fn case(&self) -> String {
        format!("{}/{}", self.model, self.export)
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.entry[key].as_str().map(PathBuf::from)
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let inputs = self.entry["inputs"].as_object().into_iter().flatten();
        inputs.filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
    }

    /// `--inputs NAME=FILE ...` for `convert`.
    fn input_args(&self) -> Vec<OsString> {
        let pairs = self.inputs().into_iter().map(|(n, f)| format!("{n}={f}"));
        std::iter::once("--inputs".to_string()).chain(pairs).map(OsString::from).collect()
    }

    fn output_name(&self) -> String {
        self.entry["output_name"].as_str().unwrap_or("output").to_string()
    }

    /// The source model's output in `runtime`, or why there is none.
    fn reference(&self, runtime: &str) -> std::result::Result<PathBuf, String> {
        if let Some(p) = self.entry["references"][runtime].as_str() {
            return Ok(PathBuf::from(p));
        }
        let why = self.entry[format!("{runtime}_error")].as_str().unwrap_or("no reference output");
        Err(format!("the source model does not run in {runtime}: {why}"))
    }
}

/// A runtime job waiting for its runner.
struct Job {
    row: usize,
    model: PathBuf,
    reference: PathBuf,
    judge: Reference,
    /// Input name -> .npy file.
    inputs: BTreeMap<String, String>,
    /// The (single) output's name.
    output: String,
}

/// The rows and jobs of one model, both exports.
#[derive(Default)]
struct Batch {
    rows: Vec<Row>,
    ort: Vec<Job>,
    ov: Vec<Job>,
    /// (row, source, candidate, rule) weight-size checks.
    sizes: Vec<(usize, PathBuf, PathBuf, SizeRule)>,
    /// The inputs and output name of the export being added.
    inputs: BTreeMap<String, String>,
    output: String,
}

impl Batch {
    /// Adds `row` and, when `job` is given, queues the runtime run behind it.
    fn push(&mut self, row: Row, job: Option<(PathBuf, std::result::Result<PathBuf, String>, Reference)>) {
        let id = self.rows.len();
        let runtime = row.runtime;
        let mut row = row;
        if let Some((model, reference, judge)) = job {
            match reference {
                Ok(reference) => {
                    let (inputs, output) = (self.inputs.clone(), self.output.clone());
                    let job = Job { row: id, model, reference, judge, inputs, output };
                    if runtime == "openvino" { self.ov.push(job) } else { self.ort.push(job) }
                }
                Err(why) => row = row.skipped(why),
            }
        }
        self.rows.push(row);
    }
}

/// Options of the models tier, from `cargo xtask interop`.
pub(super) struct Options<'a> {
    /// `convert` to run.
    pub(super) bin: &'a Path,
    /// Comma-separated model names; empty for all.
    pub(super) models: &'a str,
    /// An existing venv to use instead of `target/venv-models`.
    pub(super) venv: Option<&'a Path>,
}

pub(super) fn run(ws: &Workspace, opts: Options<'_>) -> Result<Outcome> {
    let venv = match opts.venv {
        Some(dir) => Venv::existing(dir)?,
        None => Venv::ensure_named(ws, "venv-models", Path::new("xtask/python/requirements-models.txt"))?,
    };
    let scripts = ws.root.join("xtask/python");
    let make_script = scripts.join("make_real_models.py");
    let models_dir = ws.root.join("target").join("models");
    let out_root = ws.root.join("target").join("interop-models");
    let _ = std::fs::remove_dir_all(&out_root);
    std::fs::create_dir_all(&out_root)?;

    let tier_start = Instant::now();
    let exports = make_models(&venv, &make_script, &models_dir, opts.models)?;
    let mut names: Vec<String> = Vec::new();
    for e in &exports {
        if !names.contains(&e.model) {
            names.push(e.model.clone());
        }
    }
    let mut all_rows: Vec<Row> = Vec::new();
    let mut exporter_failures: Vec<String> = Vec::new();
    let mut timings: Vec<(String, f64, f64)> = Vec::new();
    for name in &names {
        let start = Instant::now();
        let mut batch = Batch::default();
        let mut make_seconds = 0.0;
        let mut reused = false;
        for e in exports.iter().filter(|e| &e.model == name) {
            reused |= e.entry["reused"].as_bool() == Some(true);
            make_seconds += e.entry["make_seconds"].as_f64().unwrap_or(0.0);
            if e.entry["status"] != "ok" {
                let status = e.entry["status"].as_str().unwrap_or("?");
                let error = e.entry["error"].as_str().unwrap_or("no message");
                exporter_failures.push(format!("{} ({status}): {error}", e.case()));
                continue;
            }
            add_export(opts.bin, e, &out_root.join(&e.model).join(&e.export), &mut batch)?;
        }
        run_runtime(&venv, &scripts.join("run_onnxruntime.py"), &batch.ort, &out_root, name, &mut batch.rows)?;
        run_runtime(&venv, &scripts.join("run_openvino.py"), &batch.ov, &out_root, name, &mut batch.rows)?;
        check_sizes(&venv, &make_script, &batch.sizes, &mut batch.rows)?;
        // Real-size outputs add up to tens of GB: keep only the files a
        // failed command in the failure list reads, so it can be rerun.
        for e in exports.iter().filter(|e| &e.model == name) {
            let dir = out_root.join(&e.model).join(&e.export);
            let case = e.case();
            let commands: Vec<&str> = batch
                .rows
                .iter()
                .filter(|r| r.case == case && r.status == Status::Fail)
                .filter_map(|r| r.command.as_ref().map(|(c, _)| c.as_str()))
                .collect();
            prune_outputs(&dir, &commands);
        }
        let seconds = start.elapsed().as_secs_f64();
        for r in &batch.rows {
            print_row(r);
        }
        let when = if reused { " (an earlier run; reused now)" } else { "" };
        println!(
            "      {name}: {seconds:.0} s converting and running, {make_seconds:.0} s to build, export and reference{when}"
        );
        timings.push((name.clone(), make_seconds, seconds));
        all_rows.extend(batch.rows);
    }

    println!();
    println!("seconds per model: build, export and references (when made) / conversions and runtimes:");
    for (name, make, tier) in &timings {
        println!("  {name:<20} {make:>7.0} {tier:>7.0}");
    }
    println!("  whole tier: {:.0} s", tier_start.elapsed().as_secs_f64());
    if !exporter_failures.is_empty() {
        println!("exporter failures (not counted):");
        for f in &exporter_failures {
            println!("  {f}");
        }
    }
    let count = |s: Status| all_rows.iter().filter(|r| r.status == s).count();
    let failures: Vec<&Row> = all_rows.iter().filter(|r| r.status == Status::Fail).collect();
    if !failures.is_empty() {
        let mut log = String::new();
        println!("failures:");
        for r in &failures {
            println!("  {} {} ({}): {}", r.case, r.path, r.runtime, r.detail);
            if let Some((cmd, err)) = &r.command {
                println!("    $ {cmd}");
                log.push_str(&format!("== {} {} ({})\n$ {cmd}\n{err}\n\n", r.case, r.path, r.runtime));
            } else {
                log.push_str(&format!("== {} {} ({})\n{}\n\n", r.case, r.path, r.runtime, r.detail));
            }
        }
        let file = out_root.join("failures.txt");
        std::fs::write(&file, log)?;
        println!("full error text: {}", file.display());
    }
    let (passed, failed, skipped) = (count(Status::Pass), count(Status::Fail), count(Status::Skip));
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 && passed > 0 { Outcome::Ok } else { Outcome::CheckFailed })
}

/// Removes everything under `dir` that no command in `keep_for` names.
fn prune_outputs(dir: &Path, keep_for: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        // An IR's .bin goes with its .xml.
        let named =
            if path.extension().is_some_and(|x| x == "bin") { path.with_extension("xml") } else { path.clone() };
        if keep_for.iter().any(|c| c.contains(named.to_string_lossy().as_ref())) {
            continue;
        }
        // Best effort: a file left behind costs disk, not correctness.
        let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
}

fn print_row(r: &Row) {
    println!(
        "{:<5} {:<30} {:<36} {:<12} {:>7.1}s  {}",
        r.status.label(),
        r.case,
        r.path,
        r.runtime,
        r.seconds,
        r.detail
    );
}

/// Runs `make_real_models.py make`, echoing one progress line per export.
fn make_models(venv: &Venv, script: &Path, dir: &Path, models: &str) -> Result<Vec<Export>> {
    let mut cmd = Command::new(venv.python());
    cmd.arg(script).arg("make").arg(dir);
    if !models.is_empty() {
        cmd.args(["--models", models]);
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().with_context(|| format!("cannot run {}", script.display()))?;
    let stdout = child.stdout.take().context("no stdout from the model maker")?;
    let mut exports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let entry: Value =
            serde_json::from_str(&line).with_context(|| format!("{}: bad line: {line}", script.display()))?;
        let export = Export {
            model: entry["name"].as_str().context("entry without name")?.to_string(),
            export: entry["export"].as_str().context("entry without export")?.to_string(),
            entry,
        };
        eprintln!(
            "made {} ({}, {:.0} s)",
            export.case(),
            export.entry["status"].as_str().unwrap_or("?"),
            export.entry["make_seconds"].as_f64().unwrap_or(0.0)
        );
        exports.push(export);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{} failed with {status}", script.display());
    }
    Ok(exports)
}

/// Queues every row of one export.
fn add_export(bin: &Path, e: &Export, dir: &Path, batch: &mut Batch) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let case = e.case();
    let source = e.path("model").context("entry without model")?;
    let ort_ref = e.reference("onnxruntime");
    let ov_ref = e.reference("openvino");
    batch.inputs = e.inputs();
    batch.output = e.output_name();

    // (a) ONNX -> OpenVINO IR, with --verify (d) on the same conversion.
    let xml = dir.join("model.xml");
    let mut args = os_args([source.as_os_str(), xml.as_os_str()]);
    args.push("--verify".into());
    args.extend(e.input_args());
    let run = convert(bin, args)?;
    let verify = Row::new(&case, "onnx -> openvino --verify".into(), "evaluator", run.seconds);
    let ov = Row::new(&case, "onnx -> openvino".into(), "openvino", run.seconds);
    let written = xml.is_file();
    if run.ok {
        let mut verify = verify;
        verify.status = Status::Pass;
        verify.detail = verify_figure(&run.stdout);
        batch.push(verify, None);
    } else {
        batch.push(verify.failed(&run), None);
    }
    if written {
        batch.push(ov, Some((xml.clone(), ov_ref.clone(), Reference::Source)));
        // ... -> ONNX again, run in onnxruntime.
        let back = dir.join("roundtrip.onnx");
        let run = convert(bin, os_args([xml.as_os_str(), back.as_os_str(), "--quiet".as_ref()]))?;
        let row = Row::new(&case, "onnx -> openvino -> onnx".into(), "onnxruntime", run.seconds);
        if run.ok {
            batch.push(row, Some((back, ort_ref.clone(), Reference::Source)));
        } else {
            batch.push(row.failed(&run), None);
        }
    } else {
        batch.push(ov.failed(&run), None);
        let row = Row::new(&case, "onnx -> openvino -> onnx".into(), "onnxruntime", 0.0);
        batch.push(row.failed(&run), None);
    }

    // (b) OpenVINO's own IR -> ONNX.
    let row = Row::new(&case, "openvino's xml -> onnx".into(), "onnxruntime", 0.0);
    match e.path("openvino_xml") {
        Some(ov_xml) => {
            let out = dir.join("from_openvino.onnx");
            let run = convert(bin, os_args([ov_xml.as_os_str(), out.as_os_str(), "--quiet".as_ref()]))?;
            let row = Row { seconds: run.seconds, ..row };
            if run.ok {
                batch.push(row, Some((out, ort_ref.clone(), Reference::Source)));
            } else {
                batch.push(row.failed(&run), None);
            }
        }
        None => {
            let why = e.entry["openvino_convert_error"].as_str().unwrap_or("no IR written");
            batch.push(row.skipped(format!("openvino.convert_model failed: {why}")), None);
        }
    }

    // (c) Each pass, in onnxruntime and, converted on to IR, in OpenVINO.
    for (i, (label, flags, reference, size)) in PASSES.iter().enumerate() {
        let out = dir.join(format!("pass{i}.onnx"));
        let mut args = os_args([source.as_os_str(), out.as_os_str()]);
        args.extend(os_args(flags.iter().copied()));
        // The pass check runs the evaluator twice on the model; the runtimes
        // below measure the output instead.
        args.extend(os_args(["--no-pass-check", "--quiet"]));
        let run = convert(bin, args)?;
        let ort_row = Row::new(&case, format!("onnx -> onnx ({label})"), "onnxruntime", run.seconds);
        let ov_row = Row::new(&case, format!("onnx -> openvino ({label})"), "openvino", 0.0);
        if !run.ok {
            batch.push(ort_row.failed(&run), None);
            batch.push(ov_row.failed(&run), None);
            if size.is_some() {
                batch.push(Row::new(&case, format!("weight bytes ({label})"), "-", 0.0).failed(&run), None);
            }
            continue;
        }
        let (ort_ref, ov_ref) = match reference {
            Reference::Evaluator | Reference::Quantized => {
                let evaluated = evaluator_output(bin, e, &out, &dir.join(format!("pass{i}-evaluator")))?;
                match evaluated {
                    Ok(p) => (Ok(p.clone()), Ok(p)),
                    Err(run) => {
                        batch.push(ort_row.failed(&run), None);
                        batch.push(ov_row.failed(&run), None);
                        continue;
                    }
                }
            }
            _ => (ort_ref.clone(), ov_ref.clone()),
        };
        batch.push(ort_row, Some((out.clone(), ort_ref, *reference)));
        let xml = out.with_extension("xml");
        let conv = convert(bin, os_args([out.as_os_str(), xml.as_os_str(), "--quiet".as_ref()]))?;
        let ov_row = Row { seconds: conv.seconds, ..ov_row };
        if conv.ok {
            batch.push(ov_row, Some((xml, ov_ref, *reference)));
        } else {
            batch.push(ov_row.failed(&conv), None);
        }
        if let Some(rule) = size {
            let id = batch.rows.len();
            batch.push(Row::new(&case, format!("weight bytes ({label})"), "-", 0.0), None);
            batch.sizes.push((id, source.clone(), out.clone(), *rule));
        }
    }
    Ok(())
}

/// The worst `rel_l2` in `convert --verify`'s table.
fn verify_figure(stdout: &str) -> String {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("output "));
    lines.next();
    let worst = lines
        .take_while(|l| !l.starts_with("verify:"))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
        .fold(None, |w: Option<f64>, v| Some(w.map_or(v, |w| w.max(v))));
    match worst {
        Some(v) => format!("rel L2 {v:.2e} (evaluator, source vs written)"),
        None => "verified".into(),
    }
}

/// Runs the built-in evaluator on `model`; the path of its (single) output,
/// or the failed run.
fn evaluator_output(bin: &Path, e: &Export, model: &Path, dir: &Path) -> Result<std::result::Result<PathBuf, Run>> {
    let mut args = os_args(["run".as_ref(), model.as_os_str()]);
    args.extend(e.input_args());
    args.extend(os_args(["-o".as_ref(), dir.as_os_str(), "--quiet".as_ref()]));
    let run = convert(bin, args)?;
    if !run.ok {
        return Ok(Err(run));
    }
    let mut npys: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    if npys.len() != 1 {
        bail!("{}: expected one output .npy from `convert run`, found {}", dir.display(), npys.len());
    }
    Ok(Ok(npys.remove(0)))
}

/// Runs one runner script (`run_onnxruntime.py`, `run_openvino.py`) over
/// `jobs` and judges their rows.
fn run_runtime(venv: &Venv, script: &Path, jobs: &[Job], dir: &Path, name: &str, rows: &mut [Row]) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let specs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "id": j.row,
                "model": j.model,
                "inputs": j.inputs,
                "outputs": {j.output.as_str(): j.reference},
                "rtol": tolerance(j.judge),
                "expect_dynamic": Vec::<String>::new(),
            })
        })
        .collect();
    let stem = script.file_stem().and_then(|s| s.to_str()).unwrap_or("runner");
    let file = dir.join(format!("{name}-{stem}-jobs.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(&specs)?)?;
    let out = Command::new(venv.python())
        .arg(script)
        .arg(&file)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // The runners write a failed job's error as Python's bare `Infinity`
        // (or `NaN`), which JSON has no word for.
        let line = line.replace("\"error\": Infinity", "\"error\": null").replace("\"error\": NaN", "\"error\": null");
        let r: Value = serde_json::from_str(&line).with_context(|| format!("bad result line: {line}"))?;
        let id = r["id"].as_u64().context("result without id")? as usize;
        let judge = jobs.iter().find(|j| j.row == id).map(|j| j.judge).context("result for no job")?;
        let row = rows.get_mut(id).context("result id out of range")?;
        let err = r["error"].as_f64().unwrap_or(f64::INFINITY);
        let ok = r["ok"].as_bool().unwrap_or(false);
        row.status = if ok { Status::Pass } else { Status::Fail };
        row.detail = if err.is_finite() {
            match judge {
                Reference::Sqnr(floor) => format!("SQNR {:.1} dB (floor {floor})", sqnr(err)),
                Reference::Source => format!("rel L2 {err:.2e} (bound {RTOL:e})"),
                Reference::Evaluator => format!("rel L2 {err:.2e} vs evaluator (bound {EVAL_RTOL:e})"),
                Reference::Quantized => format!("rel L2 {err:.2e} vs evaluator (bound {QUANT_RTOL:e})"),
            }
        } else {
            r["message"].as_str().unwrap_or("failed").to_string()
        };
    }
    // A runner that died leaves its remaining rows "not run"; say why.
    for j in jobs {
        let row = &mut rows[j.row];
        if row.detail == "not run" {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
            row.detail = format!("runner exited with {} before this job: {last}", out.status);
        }
    }
    Ok(())
}

/// The runner's relative-L2 bound for a judge.
fn tolerance(judge: Reference) -> f64 {
    match judge {
        Reference::Source => RTOL,
        // SQNR = -20 log10(rel L2), so the floor is a relative-L2 bound.
        Reference::Sqnr(floor) => 10f64.powf(-floor / 20.0),
        Reference::Evaluator => EVAL_RTOL,
        Reference::Quantized => QUANT_RTOL,
    }
}

fn sqnr(rel_l2: f64) -> f64 {
    if rel_l2 == 0.0 { f64::INFINITY } else { -20.0 * rel_l2.log10() }
}

/// Fills the weight-size rows from `make_real_models.py sizes`.
fn check_sizes(
    venv: &Venv,
    script: &Path,
    checks: &[(usize, PathBuf, PathBuf, SizeRule)],
    rows: &mut [Row],
) -> Result<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let mut files: Vec<&PathBuf> = checks.iter().flat_map(|(_, s, c, _)| [s, c]).collect();
    files.sort();
    files.dedup();
    let out = Command::new(venv.python())
        .arg(script)
        .arg("sizes")
        .args(&files)
        .output()
        .with_context(|| format!("running {} sizes", script.display()))?;
    let mut bytes: BTreeMap<PathBuf, std::result::Result<u64, String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: Value = serde_json::from_str(line).with_context(|| format!("bad sizes line: {line}"))?;
        let path = PathBuf::from(r["path"].as_str().context("sizes line without path")?);
        let value = r["bytes"].as_u64().ok_or_else(|| r["error"].as_str().unwrap_or("no size").to_string());
        bytes.insert(path, value);
    }
    for (id, source, candidate, rule) in checks {
        let row = &mut rows[*id];
        let get = |p: &PathBuf| bytes.get(p).cloned().unwrap_or_else(|| Err("not measured".into()));
        match (get(source), get(candidate)) {
            (Ok(s), Ok(c)) => {
                let ratio = s as f64 / c.max(1) as f64;
                let (ok, rule_text) = match rule {
                    SizeRule::NoGrowth => (c <= s, "must not grow".to_string()),
                    SizeRule::Shrinks(f) => (ratio >= *f, format!("must shrink >= {f}x")),
                };
                row.status = if ok { Status::Pass } else { Status::Fail };
                row.detail = format!("{c} vs {s} source bytes: {ratio:.2}x smaller ({rule_text})");
            }
            (Err(e), _) | (_, Err(e)) => row.detail = format!("cannot measure weight bytes: {e}"),
        }
    }
    Ok(())
}
