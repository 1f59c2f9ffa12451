//! `cargo xtask conformance [--filter SUBSTR] [--update] [--verbose] [--odd-shapes|--odd-attrs]`: runs
//! onnx's backend node tests (the 1,884 cases of onnx 1.23, a bar nobody here
//! wrote) through the ONNX importer and the evaluator.
//!
//! `xtask/python/write_node_tests.py` writes the cases once into
//! `target/conformance/cases/` (model, `.pb` inputs and expected outputs,
//! `case.json`); each case is then imported with [`fmt_onnx::OnnxImporter`],
//! run with [`eval::Session`] and its outputs compared the way onnx's own
//! backend test runner does (numpy's `assert_allclose`). A panic in the
//! evaluator is caught, counted as a failure and listed as a bug.
//!
//! Output: a table of passed/failed cases per op (per case with
//! `--verbose`), the panics, the regressions, then `N passed, N failed, N
//! skipped`. `xtask/conformance/passing.txt` is the regression guard: a
//! listed case that fails makes the run fail; `--update` rewrites it.
//! `xtask/conformance/out-of-scope.txt` lists the cases that are skipped
//! (training-only ops, random outputs), each with its reason.
//!
//! `--odd-shapes` and `--odd-attrs` check robustness instead of results
//! (module [`odd`]): each case runs with each input axis emptied, dropped
//! and doubled, or with each attribute set to extreme values and written by
//! every exporter; any panic fails the run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use eval::{Tensor, Value};
use fmt_onnx::DataValue;
use ir::{DType, Importer as _, ValueType};

use crate::venv::{self, Venv};

mod odd;
use crate::{Outcome, Workspace};

/// Options of the conformance run.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only cases whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Rewrite xtask/conformance/passing.txt with the cases that pass now (whole suite only).
    #[arg(long)]
    update: bool,
    /// One line per case (failures with their reason) and the slowest cases, instead of the table.
    #[arg(long, short)]
    verbose: bool,
    /// Instead of checking outputs, run every case once per input axis with that axis made
    /// empty (size 0) and once with it dropped (rank - 1), declared shapes relaxed: the
    /// evaluator must answer or refuse, never panic.
    #[arg(long)]
    odd_shapes: bool,
    /// Instead of checking outputs, give every attribute of every case's nodes odd values
    /// (extreme, negative, empty, NaN), then load the model as `convert` does, write it with
    /// every exporter and (for small values) run it: any panic fails the run.
    #[arg(long)]
    odd_attrs: bool,
    /// Instead of checking outputs, turn every case's inputs into weights and convert it with
    /// each pass (simplify, every quantization, both prunings): no pass may panic, and
    /// --simplify must keep the outputs.
    #[arg(long)]
    passes: bool,
    /// Instead of checking outputs against onnx's, write every case with each other format's
    /// exporter (OpenVINO IR, SavedModel, frozen GraphDef, TorchScript), read it back with the
    /// matching importer and compare the outputs with the original's.
    #[arg(long)]
    roundtrip: bool,
}

/// Where the regression guard lives, relative to the workspace root.
const PASSING: &str = "xtask/conformance/passing.txt";
/// Cases that are skipped, each with a reason.
const OUT_OF_SCOPE: &str = "xtask/conformance/out-of-scope.txt";

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Pass,
    /// Listed in out-of-scope.txt, with the reason given there.
    Skipped(String),
    /// `Session::new` refused the model: these ops have no implementation.
    Unsupported(Vec<String>),
    /// The evaluator ran and an output differs from the expected one.
    Mismatch(String),
    /// The import, the run or reading the data failed with an error.
    Error(String),
    /// Something panicked: a bug.
    Panic(String),
}

impl Status {
    fn reason(&self) -> String {
        match self {
            Status::Pass => String::new(),
            Status::Skipped(r) => format!("skipped: {r}"),
            Status::Unsupported(ops) => format!("unsupported op(s): {}", ops.join(", ")),
            Status::Mismatch(m) | Status::Error(m) => m.clone(),
            Status::Panic(m) => format!("panic: {m}"),
        }
    }
}

/// One case's outcome.
#[derive(Debug)]
struct CaseResult {
    name: String,
    op: String,
    status: Status,
    time: Duration,
}

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    let start = Instant::now();
    if args.update && args.filter.is_some() {
        bail!("--update records the whole suite; run it without --filter");
    }
    let venv = Venv::ensure(ws)?;
    let cases_dir = ws.root.join("target").join("conformance").join("cases");
    venv::run(Command::new(venv.python()).arg(ws.root.join("xtask/python/write_node_tests.py")).arg(&cases_dir))
        .context("writing onnx's node test cases failed")?;

    let out_of_scope = read_out_of_scope(&ws.root.join(OUT_OF_SCOPE))?;
    let passing_path = ws.root.join(PASSING);
    let listed = read_passing(&passing_path)?;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&cases_dir).with_context(|| format!("cannot read {}", cases_dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && args.filter.as_deref().is_none_or(|f| name.contains(f)) {
            names.push(name);
        }
    }
    names.sort();
    if let Some(stale) = out_of_scope.keys().find(|n| !cases_dir.join(n).is_dir()) {
        bail!("{OUT_OF_SCOPE} lists '{stale}', which is not a case of this onnx version");
    }

    if args.odd_shapes {
        return odd::odd_shapes(&cases_dir, &names, start);
    }
    if args.odd_attrs {
        return odd::odd_attrs(&ws.root, &cases_dir, &names, start);
    }
    if args.passes {
        return odd::passes(&ws.root, &cases_dir, &names, start);
    }
    if args.roundtrip {
        return odd::roundtrip(&ws.root, &cases_dir, &names, &out_of_scope, start);
    }
    let run_start = Instant::now();
    let results = run_all(&cases_dir, &names, &out_of_scope, run_one);
    let run_time = run_start.elapsed();

    report(&results, args.verbose);

    let passed: BTreeSet<&str> = results.iter().filter(|r| r.status == Status::Pass).map(|r| r.name.as_str()).collect();
    let in_run: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let regressions: Vec<&CaseResult> =
        results.iter().filter(|r| listed.contains(&r.name) && r.status != Status::Pass).collect();
    let missing: Vec<&String> =
        listed.iter().filter(|n| args.filter.is_none() && !in_run.contains(n.as_str())).collect();
    let unlisted = passed.iter().filter(|n| !listed.contains(**n)).count();

    let mut ok = true;
    if !regressions.is_empty() {
        println!("\n{} case(s) listed in {PASSING} no longer pass:", regressions.len());
        for r in &regressions {
            println!("  {}: {}", r.name, r.status.reason());
        }
        ok = args.update;
    }
    if !missing.is_empty() {
        println!("\n{} case(s) listed in {PASSING} do not exist:", missing.len());
        for n in &missing {
            println!("  {n}");
        }
        ok = args.update;
    }
    if args.update {
        let mut text =
            String::from("# onnx backend node tests that `cargo xtask conformance` passes; written by its --update.\n");
        for n in &passed {
            text.push_str(n);
            text.push('\n');
        }
        std::fs::write(&passing_path, text).with_context(|| format!("cannot write {}", passing_path.display()))?;
        println!("\nwrote {} passing case(s) to {PASSING}", passed.len());
    } else if unlisted > 0 {
        println!("\n{unlisted} passing case(s) are not yet listed in {PASSING}; run with --update to record them");
    }

    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    let n_pass = count(|s| *s == Status::Pass);
    let n_skip = count(|s| matches!(s, Status::Skipped(_)));
    let n_fail = results.len() - n_pass - n_skip;
    println!(
        "\nfailures: {} unsupported op, {} wrong output, {} error, {} panic",
        count(|s| matches!(s, Status::Unsupported(_))),
        count(|s| matches!(s, Status::Mismatch(_))),
        count(|s| matches!(s, Status::Error(_))),
        count(|s| matches!(s, Status::Panic(_))),
    );
    println!("time: {:.1}s in total, {:.1}s running the cases", start.elapsed().as_secs_f64(), run_time.as_secs_f64());
    let skipped = if n_skip > 0 { format!(", {n_skip} skipped") } else { String::new() };
    println!("{n_pass} passed, {n_fail} failed{skipped}");
    Ok(if ok { Outcome::Ok } else { Outcome::CheckFailed })
}

/// Prints the per-op table, or with `verbose` one line per case and the slowest cases; then the panics.
fn report(results: &[CaseResult], verbose: bool) {
    if verbose {
        for r in results {
            let ms = r.time.as_secs_f64() * 1e3;
            match &r.status {
                Status::Pass => println!("PASS  {} ({}) {ms:.1}ms", r.name, r.op),
                Status::Skipped(why) => println!("SKIP  {} ({}): {why}", r.name, r.op),
                s => println!("FAIL  {} ({}) {ms:.1}ms: {}", r.name, r.op, s.reason()),
            }
        }
        let mut by_time: Vec<&CaseResult> = results.iter().collect();
        by_time.sort_by_key(|r| std::cmp::Reverse(r.time));
        println!("\nslowest cases:");
        for r in by_time.iter().take(10) {
            println!("  {:>9.1}ms  {}", r.time.as_secs_f64() * 1e3, r.name);
        }
    } else {
        // (passed, failed) per op, ops sorted case-insensitively.
        let mut table: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for r in results.iter().filter(|r| !matches!(r.status, Status::Skipped(_))) {
            let row = table.entry((r.op.to_ascii_lowercase(), r.op.clone())).or_default();
            if r.status == Status::Pass {
                row.0 += 1;
            } else {
                row.1 += 1;
            }
        }
        let width = table.keys().map(|(_, op)| op.len()).max().unwrap_or(2).max(2);
        println!("{:<width$}  {:>6}  {:>6}", "op", "passed", "failed");
        for ((_, op), (p, f)) in &table {
            println!("{op:<width$}  {p:>6}  {f:>6}");
        }
    }
    let panics: Vec<&CaseResult> = results.iter().filter(|r| matches!(r.status, Status::Panic(_))).collect();
    if !panics.is_empty() {
        println!("\n{} case(s) panicked (evaluator bugs):", panics.len());
        for r in panics {
            println!("  {}: {}", r.name, r.status.reason());
        }
    }
}

/// `out-of-scope.txt`: `case_name  reason` per line; `#` starts a comment line.
fn read_out_of_scope(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let reason = reason.trim();
        if reason.is_empty() {
            bail!("{}:{}: '{name}' has no reason", path.display(), i + 1);
        }
        map.insert(name.to_string(), reason.to_string());
    }
    Ok(map)
}

/// `passing.txt`: one case name per line; `#` starts a comment line. Missing means empty.
fn read_passing(path: &Path) -> Result<BTreeSet<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

thread_local! {
    /// The message and location of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs every case, on one worker thread per core; results in `names` order.
fn run_all(
    cases_dir: &Path,
    names: &[String],
    out_of_scope: &BTreeMap<String, String>,
    run_one: fn(&Path, &str, Option<&String>) -> CaseResult,
) -> Vec<CaseResult> {
    // Record panics instead of printing them: each becomes the reason of its case.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string payload)".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
    }));

    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<CaseResult>>> = Mutex::new((0..names.len()).map(|_| None).collect());
    // What each worker is running since when, for the watchdog below.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(names.len().max(1));
    let running: Mutex<Vec<Option<(usize, Instant)>>> = Mutex::new(vec![None; workers]);
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for w in 0..workers {
            let (next, slots, running) = (&next, &slots, &running);
            let h = std::thread::Builder::new()
                // Deeply nested subgraphs recurse; keep them off the guard page.
                .stack_size(64 << 20)
                .spawn_scoped(s, move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(name) = names.get(i) else { break };
                        if let Ok(mut r) = running.lock() {
                            r[w] = Some((i, Instant::now()));
                        }
                        let r = run_one(&cases_dir.join(name), name, out_of_scope.get(name));
                        if let Ok(mut slots) = slots.lock() {
                            slots[i] = Some(r);
                        }
                    }
                })
                .expect("cannot start a worker thread");
            handles.push(h);
        }
        // A case cannot be stopped from outside, but a hang should not be
        // silent: name any case that runs for longer than a minute.
        let mut reported = BTreeSet::new();
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            for &(i, since) in running.lock().map(|r| r.clone()).unwrap_or_default().iter().flatten() {
                if since.elapsed() > Duration::from_secs(60) && reported.insert(i) {
                    eprintln!("{} has been running for over a minute ...", names[i]);
                }
            }
        }
    });
    panic::set_hook(previous_hook);
    slots.into_inner().unwrap_or_default().into_iter().flatten().collect()
}

/// Runs one case, turning a panic anywhere inside into [`Status::Panic`].
fn run_one(dir: &Path, name: &str, skip: Option<&String>) -> CaseResult {
    let start = Instant::now();
    let meta = std::fs::read_to_string(dir.join("case.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()));
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            let status = Status::Error(format!("case.json: {e}"));
            return CaseResult { name: name.into(), op: String::new(), status, time: start.elapsed() };
        }
    };
    let mut op = meta["op"].as_str().unwrap_or_default().to_string();
    if let Some(why) = skip {
        return CaseResult { name: name.into(), op, status: Status::Skipped(why.clone()), time: Duration::ZERO };
    }
    let status = match panic::catch_unwind(AssertUnwindSafe(|| run_case(dir, name, &meta, &mut op))) {
        Ok(s) => s,
        Err(_) => Status::Panic(LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into())),
    };
    CaseResult { name: name.into(), op, status, time: start.elapsed() }
}

/// Imports, runs and checks one case. Fills `op` from the model when
/// `case.json` did not name it.
fn run_case(dir: &Path, name: &str, meta: &serde_json::Value, op: &mut String) -> Status {
    let model_path = dir.join("model.onnx");
    let model = match fmt_onnx::OnnxImporter.import(&model_path, &ir::ImportOptions::default()) {
        Ok(m) => m,
        Err(e) => return Status::Error(format!("import: {}", strip(&e.to_string(), dir))),
    };
    if op.is_empty() {
        *op = tested_op(name, &model);
    }
    let session = match eval::Session::new(&model) {
        Ok(s) => s,
        Err(eval::Error::Ir(ir::Error::UnsupportedOps { ops, .. })) => {
            let names = ops
                .iter()
                .map(|u| if u.domain.is_empty() { u.op.clone() } else { format!("{}::{}", u.domain, u.op) })
                .collect();
            return Status::Unsupported(names);
        }
        Err(e) => return Status::Error(format!("session: {e}")),
    };
    let rtol = meta["rtol"].as_f64().unwrap_or(1e-3);
    let atol = meta["atol"].as_f64().unwrap_or(1e-7);
    let kinds = |key: &str| -> Vec<String> {
        meta[key].as_array().into_iter().flatten().map(|v| v["kind"].as_str().unwrap_or("tensor").to_string()).collect()
    };
    let (in_kinds, out_kinds) = (kinds("inputs"), kinds("outputs"));
    let data_sets = meta["data_sets"].as_u64().unwrap_or(1);
    let g = &model.graph;
    for ds in 0..data_sets {
        let ds_dir = dir.join(format!("test_data_set_{ds}"));
        let mut feeds = Vec::new();
        for (j, vi) in g.inputs.iter().enumerate() {
            let path = ds_dir.join(format!("input_{j}.pb"));
            if !path.exists() {
                break;
            }
            let kind = in_kinds.get(j).map_or("tensor", String::as_str);
            match read_data(&path, kind).and_then(|d| to_value(d, &vi.ty)) {
                Ok(v) => feeds.push((vi.name.clone(), v)),
                Err(e) => return Status::Error(format!("input '{}': {}", vi.name, strip(&e, dir))),
            }
        }
        let outputs = match session.run(feeds) {
            Ok(o) => o,
            Err(e) => return Status::Error(e.to_string()),
        };
        for (j, (out_name, actual)) in outputs.iter().enumerate() {
            let path = ds_dir.join(format!("output_{j}.pb"));
            if !path.exists() {
                continue;
            }
            let kind = out_kinds.get(j).map_or("tensor", String::as_str);
            let expected = match read_data(&path, kind) {
                Ok(v) => v,
                Err(e) => return Status::Error(format!("expected output '{out_name}': {}", strip(&e, dir))),
            };
            if let Err(e) = compare(actual, &expected, rtol, atol) {
                return Status::Mismatch(format!("output '{out_name}'{e}"));
            }
        }
    }
    Status::Pass
}

/// Drops the case folder from messages that name a file in it.
fn strip(msg: &str, dir: &Path) -> String {
    msg.replace(&format!("{}/", dir.display()), "")
}

/// Reads a `.pb` value file of the given kind (`tensor`, `sequence`, `optional`).
fn read_data(path: &Path, kind: &str) -> Result<DataValue, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r = match kind {
        "tensor" => fmt_onnx::data::decode_tensor(&bytes, path).map(DataValue::Tensor),
        "sequence" => fmt_onnx::data::decode_sequence(&bytes, path).map(DataValue::Sequence),
        "optional" => fmt_onnx::data::decode_optional(&bytes, path).map(|o| DataValue::Optional(o.map(Box::new))),
        other => return Err(format!("{}: {other} values are not supported", path.display())),
    };
    r.map_err(|e| e.to_string())
}

/// A decoded value as the evaluator takes it; `ty` is its declared type,
/// whose element type an optional carries along.
fn to_value(d: DataValue, ty: &ValueType) -> Result<Value, String> {
    Ok(match d {
        DataValue::Tensor(t) => Value::Tensor(eval::from_ir(&t).map_err(|e| e.to_string())?),
        DataValue::Sequence(items) => {
            let elem = match ty {
                ValueType::Sequence(e) => e.as_ref(),
                _ => &ValueType::Unknown,
            };
            Value::Sequence(items.into_iter().map(|i| to_value(i, elem)).collect::<Result<_, _>>()?)
        }
        DataValue::Optional(v) => {
            let elem = match ty {
                ValueType::Optional(e) => e.as_ref().clone(),
                _ => ValueType::Unknown,
            };
            let v = v.map(|v| to_value(*v, &elem)).transpose()?;
            Value::Optional(v.map(Box::new), elem)
        }
    })
}

/// The op a case tests, from its name `test_<op>...` and the model's op
/// types (compared case-insensitively, ignoring `_`; the longest match wins,
/// so `test_maxpool_...` is MaxPool rather than Max), else the first node
/// that is not a Constant.
fn tested_op(case: &str, model: &ir::Model) -> String {
    let mut ops: Vec<String> = Vec::new();
    model.graph.walk(&mut |g| ops.extend(g.nodes.iter().map(|n| n.op.clone())));
    let key: String = case.trim_start_matches("test_").chars().filter(|&c| c != '_').collect::<String>().to_lowercase();
    ops.iter()
        .filter(|op| key.starts_with(&op.to_lowercase()))
        .max_by_key(|op| op.len())
        .or_else(|| ops.iter().find(|op| op.as_str() != "Constant"))
        .cloned()
        .unwrap_or_default()
}

/// Compares an output with the expected value: `Err` says where they differ
/// (as a suffix of "output 'name'").
fn compare(actual: &Value, expected: &DataValue, rtol: f64, atol: f64) -> Result<(), String> {
    match (actual, expected) {
        (Value::Tensor(a), DataValue::Tensor(e)) => {
            let e = eval::from_ir(e).map_err(|err| format!(": cannot hold the expected value: {err}"))?;
            compare_tensors(a, &e, rtol, atol).map_err(|m| format!(": {m}"))
        }
        (Value::Sequence(a), DataValue::Sequence(e)) => {
            if a.len() != e.len() {
                return Err(format!(": sequence of {} values, expected {}", a.len(), e.len()));
            }
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                compare(a, e, rtol, atol).map_err(|m| format!("[{i}]{m}"))?;
            }
            Ok(())
        }
        (Value::Optional(a, _), DataValue::Optional(e)) => match (a, e) {
            (None, None) => Ok(()),
            (Some(a), Some(e)) => compare(a, e, rtol, atol),
            (None, Some(_)) => Err(": empty optional, expected a value".into()),
            (Some(_), None) => Err(": optional holds a value, expected an empty one".into()),
        },
        (a, _) => Err(format!(": got {}, expected {}", kind_name(a), data_kind_name(expected))),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Tensor(_) => "a tensor",
        Value::Sequence(_) => "a sequence",
        Value::Optional(..) => "an optional",
    }
}

fn data_kind_name(v: &DataValue) -> &'static str {
    match v {
        DataValue::Tensor(_) => "a tensor",
        DataValue::Sequence(_) => "a sequence",
        DataValue::Optional(_) => "an optional",
    }
}

/// Same dtype and shape; floats within numpy's `assert_allclose` rule
/// `|a - e| <= atol + rtol * |e|` (NaN matches NaN, infinities match the
/// same-signed infinity), everything else exactly.
fn compare_tensors(a: &Tensor, e: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if a.dtype() != e.dtype() {
        return Err(format!("dtype {}, expected {}", a.dtype(), e.dtype()));
    }
    if a.shape() != e.shape() {
        return Err(format!("shape {:?}, expected {:?}", a.shape(), e.shape()));
    }
    let shape = e.shape();
    let (differ, first) = match (a, e) {
        (Tensor::Str(x), Tensor::Str(y)) => {
            let diff: Vec<usize> = x.iter().zip(y).enumerate().filter(|(_, (p, q))| p != q).map(|(i, _)| i).collect();
            let first = diff.first().map(|&i| (i, format!("{:?}", x.iter().nth(i)), format!("{:?}", y.iter().nth(i))));
            (diff.len(), first)
        }
        (Tensor::C64(_) | Tensor::C128(_), _) => {
            // numpy's rule with the complex modulus: |a - e| <= atol + rtol * |e|.
            let (x, y) = (complex_values(a)?, complex_values(e)?);
            let bad = |p: (f64, f64), q: (f64, f64)| {
                // NaN in either makes the distance NaN, which counts as a mismatch.
                let d = (p.0 - q.0).hypot(p.1 - q.1);
                d.is_nan() || d > atol + rtol * q.0.hypot(q.1)
            };
            let diff: Vec<usize> =
                x.iter().zip(&y).enumerate().filter(|(_, (p, q))| bad(**p, **q)).map(|(i, _)| i).collect();
            let first = diff.first().map(|&i| (i, format!("{:?}", x[i]), format!("{:?}", y[i])));
            (diff.len(), first)
        }
        _ if a.dtype().is_float() => {
            // Onnx's runner allows two bf16 ulps, bf16 having 8 bits of mantissa.
            let rtol = if a.dtype() == DType::BF16 { rtol.max(2f64.powi(-6)) } else { rtol };
            let (x, y) = (float_values(a)?, float_values(e)?);
            let bad = |p: f64, q: f64| {
                if p.is_nan() || q.is_nan() {
                    p.is_nan() != q.is_nan()
                } else if p.is_infinite() || q.is_infinite() {
                    p != q
                } else {
                    (p - q).abs() > atol + rtol * q.abs()
                }
            };
            let diff: Vec<usize> =
                x.iter().zip(&y).enumerate().filter(|(_, (p, q))| bad(**p, **q)).map(|(i, _)| i).collect();
            let first = diff.first().map(|&i| (i, x[i].to_string(), y[i].to_string()));
            (diff.len(), first)
        }
        _ => {
            let (x, y) = (exact_values(a)?, exact_values(e)?);
            let diff: Vec<usize> = x.iter().zip(&y).enumerate().filter(|(_, (p, q))| p != q).map(|(i, _)| i).collect();
            let first = diff.first().map(|&i| (i, x[i].to_string(), y[i].to_string()));
            (diff.len(), first)
        }
    };
    match first {
        None => Ok(()),
        Some((i, got, want)) => Err(format!(
            "{differ} of {} {} values differ; first at {:?}: got {got}, expected {want}",
            e.len(),
            e.dtype(),
            unravel(i, shape)
        )),
    }
}

/// A float tensor's values as f64; 8-bit floats decoded from their bits.
fn float_values(t: &Tensor) -> Result<Vec<f64>, String> {
    match t {
        Tensor::F8(d, a) => a.iter().map(|&b| f8_to_f64(*d, b)).collect(),
        t => t.to_f64_vec().map_err(|e| e.to_string()),
    }
}

/// Complex values as (real, imaginary) pairs.
fn complex_values(t: &Tensor) -> Result<Vec<(f64, f64)>, String> {
    match t {
        Tensor::C64(a) => Ok(a.iter().map(|c| (f64::from(c.re), f64::from(c.im))).collect()),
        Tensor::C128(a) => Ok(a.iter().map(|c| (c.re, c.im)).collect()),
        other => Err(format!("expected a complex tensor, got {}", other.dtype())),
    }
}

/// Integer and bool values, exactly (u64 above i64::MAX and i64 keep their order in i128).
fn exact_values(t: &Tensor) -> Result<Vec<i128>, String> {
    Ok(match t {
        Tensor::U64(a) => a.iter().map(|&v| i128::from(v)).collect(),
        Tensor::Bool(a) => a.iter().map(|&v| i128::from(v)).collect(),
        Tensor::I4(a) => a.iter().map(|&v| i128::from(v)).collect(),
        Tensor::U4(a) => a.iter().map(|&v| i128::from(v)).collect(),
        Tensor::I2(a) => a.iter().map(|&v| i128::from(v)).collect(),
        Tensor::U2(a) => a.iter().map(|&v| i128::from(v)).collect(),
        t => t.to_i64_vec().map_err(|e| e.to_string())?.into_iter().map(i128::from).collect(),
    })
}

/// The value of an 8-bit float's bit pattern, per the ONNX spec's formats
/// (also the 4- and 6-bit floats, whose bits ride in the same variant).
fn f8_to_f64(d: DType, b: u8) -> Result<f64, String> {
    // The 4- and 6-bit floats have neither infinities nor NaN.
    let mini = match d {
        DType::F4E2M1 => Some((2, 1, 1)),
        DType::F6E2M3 => Some((2, 3, 1)),
        DType::F6E3M2 => Some((3, 2, 3)),
        _ => None,
    };
    if let Some((e_bits, m_bits, bias)) = mini {
        let sign = if b & (1 << (e_bits + m_bits)) != 0 { -1.0 } else { 1.0 };
        let exp = i32::from((b >> m_bits) & ((1 << e_bits) - 1));
        let man = f64::from(b & ((1 << m_bits) - 1));
        let scale = f64::from(1u32 << m_bits);
        return Ok(if exp == 0 {
            sign * man / scale * 2f64.powi(1 - bias)
        } else {
            sign * (1.0 + man / scale) * 2f64.powi(exp - bias)
        });
    }
    // (exponent bits, mantissa bits, bias)
    let (e_bits, m_bits, bias) = match d {
        DType::F8E4M3FN => (4, 3, 7),
        DType::F8E4M3FNUZ => (4, 3, 8),
        DType::F8E5M2 => (5, 2, 15),
        DType::F8E5M2FNUZ => (5, 2, 16),
        // Exponent only, unsigned, no zero: 2^(b - 127), 0xff is NaN.
        DType::F8E8M0 => return Ok(if b == 0xff { f64::NAN } else { 2f64.powi(i32::from(b) - 127) }),
        other => return Err(format!("{other} is not an 8-bit float")),
    };
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((b >> m_bits) & ((1 << e_bits) - 1));
    let man = f64::from(b & ((1 << m_bits) - 1));
    let nan = match d {
        DType::F8E4M3FN => b & 0x7f == 0x7f,
        DType::F8E4M3FNUZ | DType::F8E5M2FNUZ => b == 0x80,
        _ => exp == 31 && man != 0.0,
    };
    if nan {
        return Ok(f64::NAN);
    }
    if d == DType::F8E5M2 && exp == 31 {
        return Ok(sign * f64::INFINITY);
    }
    let scale = f64::from(1u32 << m_bits);
    Ok(if exp == 0 {
        sign * man / scale * 2f64.powi(1 - bias)
    } else {
        sign * (1.0 + man / scale) * 2f64.powi(exp - bias)
    })
}

/// The multi-index of flat index `i` in `shape` (row-major).
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Tensor {
        Tensor::f32(&[v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn allclose_rule() {
        let e = f32s(&[1.0, f32::NAN, f32::INFINITY, 0.0]);
        assert!(compare_tensors(&f32s(&[1.0009, f32::NAN, f32::INFINITY, 5e-8]), &e, 1e-3, 1e-7).is_ok());
        let err = compare_tensors(&f32s(&[1.0011, f32::NAN, f32::INFINITY, 0.0]), &e, 1e-3, 1e-7).unwrap_err();
        assert!(err.starts_with("1 of 4 f32 values differ; first at [0]: got 1.00"), "{err}");
        assert!(compare_tensors(&f32s(&[1.0, 0.0, f32::INFINITY, 0.0]), &e, 1e-3, 1e-7).is_err());
        assert!(compare_tensors(&f32s(&[1.0, f32::NAN, f32::NEG_INFINITY, 0.0]), &e, 1e-3, 1e-7).is_err());
        let i = Tensor::i64(&[2], vec![1, 2]).unwrap();
        assert_eq!(compare_tensors(&i, &e, 1e-3, 1e-7).unwrap_err(), "dtype i64, expected f32");
        let i2 = Tensor::i64(&[1, 2], vec![1, 3]).unwrap();
        assert_eq!(compare_tensors(&i, &i2, 1e-3, 1e-7).unwrap_err(), "shape [2], expected [1, 2]");
        let i3 = i.reshape(&[1, 2]).unwrap();
        assert_eq!(
            compare_tensors(&i3, &i2, 1e-3, 1e-7).unwrap_err(),
            "1 of 2 i64 values differ; first at [0, 1]: got 2, expected 3"
        );
    }

    #[test]
    fn mini_float_values() {
        // float4e2m1: 0b0111 is 6, 0b1001 is -0.5 (subnormal); float6e3m2: 0b011111 is 28;
        // float6e2m3: 0b011111 is its largest value, 7.5.
        assert_eq!(f8_to_f64(DType::F4E2M1, 0b0111), Ok(6.0));
        assert_eq!(f8_to_f64(DType::F4E2M1, 0b1001), Ok(-0.5));
        assert_eq!(f8_to_f64(DType::F6E3M2, 0b01_1111), Ok(28.0));
        assert_eq!(f8_to_f64(DType::F6E2M3, 0b01_1111), Ok(7.5));
        assert_eq!(f8_to_f64(DType::F6E2M3, 0b00_1111), Ok(1.875));
    }

    #[test]
    fn f8_values() {
        assert_eq!(f8_to_f64(DType::F8E4M3FN, 0x38).unwrap(), 1.0);
        assert_eq!(f8_to_f64(DType::F8E4M3FN, 0x7e).unwrap(), 448.0);
        assert!(f8_to_f64(DType::F8E4M3FN, 0xff).unwrap().is_nan());
        assert_eq!(f8_to_f64(DType::F8E4M3FN, 0x01).unwrap(), 2f64.powi(-9));
        assert_eq!(f8_to_f64(DType::F8E4M3FNUZ, 0x40).unwrap(), 1.0);
        assert!(f8_to_f64(DType::F8E4M3FNUZ, 0x80).unwrap().is_nan());
        assert_eq!(f8_to_f64(DType::F8E5M2, 0x3c).unwrap(), 1.0);
        assert_eq!(f8_to_f64(DType::F8E5M2, 0xfc).unwrap(), f64::NEG_INFINITY);
        assert!(f8_to_f64(DType::F8E5M2, 0x7d).unwrap().is_nan());
        assert_eq!(f8_to_f64(DType::F8E5M2, 0x7b).unwrap(), 57344.0);
        assert_eq!(f8_to_f64(DType::F8E5M2FNUZ, 0x40).unwrap(), 1.0);
        assert_eq!(f8_to_f64(DType::F8E8M0, 127).unwrap(), 1.0);
        assert!(f8_to_f64(DType::F8E8M0, 0xff).unwrap().is_nan());
    }

    #[test]
    fn sequences_and_optionals_compare_element_wise() {
        let t = |v: f32| ir::Tensor::from_vec(vec![1], vec![v]).unwrap();
        let ev = |v: f32| Value::Tensor(f32s(&[v]));
        let e = DataValue::Sequence(vec![DataValue::Tensor(t(1.0)), DataValue::Tensor(t(2.0))]);
        assert!(compare(&Value::Sequence(vec![ev(1.0), ev(2.0)]), &e, 1e-3, 1e-7).is_ok());
        let err = compare(&Value::Sequence(vec![ev(1.0), ev(3.0)]), &e, 1e-3, 1e-7).unwrap_err();
        assert!(err.starts_with("[1]: 1 of 1 f32 values differ"), "{err}");
        assert!(compare(&Value::Sequence(vec![ev(1.0)]), &e, 1e-3, 1e-7).is_err());
        let none = Value::Optional(None, ValueType::Unknown);
        assert!(compare(&none, &DataValue::Optional(None), 1e-3, 1e-7).is_ok());
        assert!(compare(&none, &DataValue::Optional(Some(Box::new(DataValue::Tensor(t(1.0))))), 1e-3, 1e-7).is_err());
        assert_eq!(compare(&ev(1.0), &e, 1e-3, 1e-7).unwrap_err(), ": got a tensor, expected a sequence");
    }

    #[test]
    fn tested_op_prefers_the_longest_name_match() {
        let node = |op: &str| ir::Node { op: op.into(), ..Default::default() };
        let mut model = ir::Model::default();
        model.graph.nodes = vec![node("Constant"), node("Max"), node("MaxPool")];
        assert_eq!(tested_op("test_maxpool_2d_default", &model), "MaxPool");
        assert_eq!(tested_op("test_max_example", &model), "Max");
        model.graph.nodes = vec![node("Constant"), node("ReduceSum"), node("Div")];
        assert_eq!(tested_op("test_reduce_sum_keepdims", &model), "ReduceSum");
        assert_eq!(tested_op("test_softmax_axis_0_expanded", &model), "ReduceSum");
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }

    #[test]
    fn out_of_scope_needs_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("oos.txt");
        std::fs::write(&p, "# comment\ntest_adam  training-only op\n\ntest_x\n").unwrap();
        assert!(read_out_of_scope(&p).unwrap_err().to_string().ends_with(":4: 'test_x' has no reason"));
        std::fs::write(&p, "test_adam  training-only op (Adam)\n").unwrap();
        assert_eq!(read_out_of_scope(&p).unwrap()["test_adam"], "training-only op (Adam)");
    }
}
