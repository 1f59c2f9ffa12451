//! The robustness probes of `cargo xtask conformance`: onnx's node cases
//! run with odd input shapes (`--odd-shapes`) and odd attribute values
//! (`--odd-attrs`). Neither checks results; each fails on a panic, which is
//! a bug whatever the input: hostile files reach the evaluator through
//! constant folding, and the exporters through any import.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Result;
use eval::Value;
use ir::{Attribute, Exporter as _, Importer as _, ValueType};

use super::{CaseResult, LAST_PANIC, Status, run_all, tested_op};
use crate::Outcome;

/// `--odd-shapes`: every case's first data set, run once per (input, axis)
/// with that axis made empty and once with it dropped. Such tensors reach
/// the evaluator through constant folding of hostile files, where a division
/// by a zero extent, a `chunks(0)` or a `shape()[k]` on a smaller rank would
/// panic; each variant must end in outputs or an error.
pub(super) fn odd_shapes(cases_dir: &Path, names: &[String], start: Instant) -> Result<Outcome> {
    // Every case is probed, out-of-scope ones too: a skipped op may still run.
    let results = run_all(cases_dir, names, &BTreeMap::new(), probe_one);
    let panics: Vec<&CaseResult> = results.iter().filter(|r| matches!(r.status, Status::Panic(_))).collect();
    for r in &panics {
        println!("PANIC {} ({}): {}", r.name, r.op, r.status.reason());
    }
    let (variants, refused) = (VARIANTS.load(Ordering::Relaxed), REFUSED.load(Ordering::Relaxed));
    println!(
        "odd shapes: {} case(s), {variants} variant(s) run ({refused} refused with an error), {} case(s) panicked; {:.1}s",
        results.len(),
        panics.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(if panics.is_empty() { Outcome::Ok } else { Outcome::CheckFailed })
}

/// Variants run and variants the evaluator refused with an error, over all `--odd-shapes` workers.
static VARIANTS: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Runs one probe of case `name`, timed, a panic anywhere inside becoming
/// [`Status::Panic`] with its message; `probe` fills in the tested op.
fn guarded(name: &str, probe: impl FnOnce(&mut String) -> Status) -> CaseResult {
    let start = Instant::now();
    let mut op = String::new();
    let status = match panic::catch_unwind(AssertUnwindSafe(|| probe(&mut op))) {
        Ok(s) => s,
        Err(_) => Status::Panic(LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into())),
    };
    CaseResult { name: name.into(), op, status, time: start.elapsed() }
}

/// One case of `--odd-shapes`: [`Status::Pass`] when no variant panicked,
/// else the first panic with the input and change that caused it.
fn probe_one(dir: &Path, name: &str, _skip: Option<&String>) -> CaseResult {
    guarded(name, |op| probe_case(dir, name, op))
}

fn probe_case(dir: &Path, name: &str, op: &mut String) -> Status {
    let Ok(mut model) = fmt_onnx::OnnxImporter.import(&dir.join("model.onnx"), &ir::ImportOptions::default()) else {
        return Status::Error("import".into());
    };
    *op = tested_op(name, &model);
    // Declared shapes would refuse the odd feeds at the door.
    for vi in &mut model.graph.inputs {
        if let ValueType::Tensor { shape, .. } = &mut vi.ty {
            *shape = None;
        }
    }
    let Ok(session) = eval::Session::new(&model) else { return Status::Error("session".into()) };
    let ds_dir = dir.join("test_data_set_0");
    let mut feeds: Vec<(String, ir::Tensor)> = Vec::new();
    for (j, vi) in model.graph.inputs.iter().enumerate() {
        let Ok(bytes) = std::fs::read(ds_dir.join(format!("input_{j}.pb"))) else { break };
        match fmt_onnx::data::decode_tensor(&bytes, &ds_dir) {
            Ok(t) => feeds.push((vi.name.clone(), t)),
            // Sequences and optionals are not probed.
            Err(_) => return Status::Pass,
        }
    }
    for j in 0..feeds.len() {
        let rank = feeds[j].1.shape().len();
        for (axis, how) in (0..rank).flat_map(|a| [(a, Odd::Empty), (a, Odd::Dropped), (a, Odd::Doubled)]) {
            let Some(odd) = odd_tensor(&feeds[j].1, axis, how) else { continue };
            let mut values = Vec::new();
            for (k, (n, t)) in feeds.iter().enumerate() {
                match eval::from_ir(if k == j { &odd } else { t }) {
                    Ok(v) => values.push((n.clone(), Value::Tensor(v))),
                    Err(_) => return Status::Pass,
                }
            }
            VARIANTS.fetch_add(1, Ordering::Relaxed);
            match panic::catch_unwind(AssertUnwindSafe(|| session.run(values))) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => {
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                    return Status::Panic(format!("input '{}' axis {axis} {how:?}: {msg}", feeds[j].0));
                }
            }
        }
    }
    Status::Pass
}

/// How `--odd-shapes` changes one axis of one input.
#[derive(Debug, Clone, Copy)]
enum Odd {
    /// Size 0.
    Empty,
    /// Removed (rank - 1).
    Dropped,
    /// Twice as long, so that it disagrees with the other inputs.
    Doubled,
}

/// `t` with `axis` changed as `how` says. The values do not matter here,
/// only the shape: a dropped axis keeps the leading elements, a doubled one
/// repeats the data. `None` when that changes nothing or the tensor cannot
/// be rebuilt.
fn odd_tensor(t: &ir::Tensor, axis: usize, how: Odd) -> Option<ir::Tensor> {
    let mut shape = t.shape().to_vec();
    match how {
        Odd::Dropped => _ = shape.remove(axis),
        Odd::Empty | Odd::Doubled if shape[axis] == 0 => return None,
        Odd::Empty => shape[axis] = 0,
        Odd::Doubled => shape[axis] *= 2,
    }
    let numel: usize = shape.iter().product();
    match t.data() {
        ir::TensorData::Strings(s) => {
            let values: Vec<Vec<u8>> = s.iter().cycle().take(numel).cloned().collect();
            ir::Tensor::from_strings(shape, values).ok()
        }
        ir::TensorData::Bytes(b) => {
            let len = usize::try_from(t.dtype().byte_len(numel as u64)?).ok()?;
            let bytes: Vec<u8> = b.as_bytes().iter().copied().cycle().take(len).collect();
            ir::Tensor::from_raw(t.dtype(), shape, ir::Buffer::from(bytes)).ok()
        }
    }
}

/// `--odd-attrs`: each attribute of each node of each case, set in turn to
/// odd values ([`odd_values`]); the model is written as ONNX, loaded back
/// through `convert::load` (import, inference, schema checks: what a
/// hostile file meets), written with every exporter, and for values small
/// enough not to ask for huge outputs, run by the evaluator on the case's
/// inputs. Refusals are fine; a panic fails the run.
pub(super) fn odd_attrs(root: &Path, cases_dir: &Path, names: &[String], start: Instant) -> Result<Outcome> {
    let scratch = scratch_dir(root, "attrs");
    let _ = std::fs::remove_dir_all(&scratch);
    SCRATCH.set(scratch.clone()).map_err(|_| anyhow::anyhow!("--odd-attrs runs once per process"))?;
    let results = run_all(cases_dir, names, &BTreeMap::new(), attrs_one);
    let _ = std::fs::remove_dir_all(&scratch);
    let panics: Vec<&CaseResult> = results.iter().filter(|r| matches!(r.status, Status::Panic(_))).collect();
    for r in &panics {
        println!("PANIC {} ({}): {}", r.name, r.op, r.status.reason());
    }
    let (variants, refused) = (VARIANTS.load(Ordering::Relaxed), REFUSED.load(Ordering::Relaxed));
    println!(
        "odd attributes: {} case(s), {variants} variant(s) loaded ({refused} refused on load), {} exports, {} runs; \
         {} case(s) panicked; {:.1}s",
        results.len(),
        EXPORTS.load(Ordering::Relaxed),
        RUNS.load(Ordering::Relaxed),
        panics.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(if panics.is_empty() { Outcome::Ok } else { Outcome::CheckFailed })
}

/// The scratch folder of the probe `name`: under
/// [`fuzz_harness::scratch_base`] (a probe writes a few hundred thousand
/// small files), else under `target/tmp`; named by the pid.
fn scratch_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let base = fuzz_harness::scratch_base().unwrap_or_else(|| root.join("target/tmp"));
    base.join(format!("model-convert-odd-{name}-{}", std::process::id()))
}

/// Where a probe writes its models: one folder per process (named by its
/// pid, so that two probes running at once do not delete each other's
/// files), one subfolder per worker thread.
static SCRATCH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
/// Exports attempted and evaluator runs made by `--odd-attrs`.
static EXPORTS: AtomicUsize = AtomicUsize::new(0);
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The values an attribute is tried with, each marked whether the
/// evaluator may run it: small integers and non-finite or negative floats
/// only, since a large size or scale asks for an output of that size,
/// which is the evaluator's to compute, not a bug.
fn odd_values(a: &Attribute) -> Vec<(Attribute, bool)> {
    const INTS: [i64; 9] = [i64::MIN, -1_000_000, -2, -1, 0, 1, 2, 1_000_000, i64::MAX];
    let small = |v: i64| (-2..=2).contains(&v);
    match a {
        Attribute::Int(x) => INTS.iter().filter(|v| *v != x).map(|&v| (Attribute::Int(v), small(v))).collect(),
        Attribute::Ints(xs) => {
            let mut out = vec![(Attribute::Ints(Vec::new()), true)];
            out.extend(INTS.iter().map(|&v| (Attribute::Ints(vec![v; xs.len().max(1)]), small(v))));
            let mut longer = xs.clone();
            longer.push(1);
            out.push((Attribute::Ints(longer), xs.iter().all(|&v| small(v))));
            if let Some((_, shorter)) = xs.split_last() {
                out.push((Attribute::Ints(shorter.to_vec()), xs.iter().all(|&v| small(v))));
            }
            out
        }
        Attribute::Float(_) => [(f32::NAN, true), (-1.0, true), (0.0, true), (f32::INFINITY, false), (1e30, false)]
            .into_iter()
            .map(|(v, ok)| (Attribute::Float(v), ok))
            .collect(),
        Attribute::Floats(xs) => {
            let n = xs.len().max(1);
            vec![
                (Attribute::Floats(Vec::new()), true),
                (Attribute::Floats(vec![f32::NAN; n]), true),
                (Attribute::Floats(vec![-1.0; n]), true),
                (Attribute::Floats(vec![1e30; n]), false),
            ]
        }
        Attribute::String(_) => vec![(Attribute::String(String::new()), true), (Attribute::String("odd".into()), true)],
        Attribute::Strings(xs) => vec![
            (Attribute::Strings(Vec::new()), true),
            (Attribute::Strings(vec![String::new(); xs.len().max(1)]), true),
        ],
        _ => Vec::new(),
    }
}

fn attrs_one(dir: &Path, name: &str, _skip: Option<&String>) -> CaseResult {
    guarded(name, |op| attrs_case(dir, name, op))
}

fn attrs_case(dir: &Path, name: &str, op: &mut String) -> Status {
    let Ok(model) = fmt_onnx::OnnxImporter.import(&dir.join("model.onnx"), &ir::ImportOptions::default()) else {
        return Status::Error("import".into());
    };
    *op = tested_op(name, &model);
    let registry = registry();
    let Some(scratch) = SCRATCH.get() else { return Status::Error("no scratch folder".into()) };
    let work = scratch.join(format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_alphanumeric(), ""));
    if std::fs::create_dir_all(work.join("out")).is_err() {
        return Status::Error(format!("cannot create {}", work.display()));
    }
    let feeds = case_inputs(dir, &model);
    for (ni, node) in model.graph.nodes.iter().enumerate() {
        let mut keys: Vec<&String> = node.attrs.keys().collect();
        keys.sort();
        for key in keys {
            for (value, small) in odd_values(&node.attrs[key]) {
                let what = format!("node {ni} ({}) {key}={value:?}", node.op);
                let mut m = model.clone();
                m.graph.nodes[ni].attrs.insert(key.clone(), value);
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                    try_variant(registry, &m, &work, feeds.as_ref().filter(|_| small))
                }));
                if outcome.is_err() {
                    let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                    return Status::Panic(format!("{what}: {msg}"));
                }
            }
        }
    }
    Status::Pass
}

/// Writes `m` as ONNX, loads it as `convert` does, writes it with every
/// exporter and, given inputs, runs it. Errors anywhere are refusals.
fn try_variant(registry: &ir::Registry, m: &ir::Model, work: &Path, feeds: Option<&Vec<(String, ir::Tensor)>>) {
    let path = work.join("model.onnx");
    if fmt_onnx::OnnxExporter.export(m, &path, &ir::ExportOptions::default()).is_err() {
        return;
    }
    VARIANTS.fetch_add(1, Ordering::Relaxed);
    let Ok((loaded, _)) = convert::load(registry, &path, Some("onnx"), &ir::ImportOptions::default()) else {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    for (sink, file) in fuzz_harness::SINKS {
        let Ok(exporter) = registry.exporter(sink) else { continue };
        EXPORTS.fetch_add(1, Ordering::Relaxed);
        let out = work.join("out").join(file);
        let _ = exporter.check(&loaded).and_then(|()| exporter.export(&loaded, &out, &ir::ExportOptions::default()));
    }
    if let Some(feeds) = feeds
        && let Ok(session) = eval::Session::new(&loaded)
    {
        let values: Option<Vec<(String, Value)>> =
            feeds.iter().map(|(n, t)| eval::from_ir(t).ok().map(|v| (n.clone(), Value::Tensor(v)))).collect();
        if let Some(values) = values {
            RUNS.fetch_add(1, Ordering::Relaxed);
            let _ = session.run(values);
        }
    }
}

/// The case's first data set, when every input is a tensor.
fn case_inputs(dir: &Path, model: &ir::Model) -> Option<Vec<(String, ir::Tensor)>> {
    let ds = dir.join("test_data_set_0");
    let mut feeds = Vec::new();
    for (j, vi) in model.graph.inputs.iter().enumerate() {
        let Ok(bytes) = std::fs::read(ds.join(format!("input_{j}.pb"))) else { break };
        feeds.push((vi.name.clone(), fmt_onnx::data::decode_tensor(&bytes, &ds).ok()?));
    }
    Some(feeds)
}

fn registry() -> &'static ir::Registry {
    static REGISTRY: std::sync::OnceLock<ir::Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(convert::registry)
}

/// The conversions `--passes` runs on every case: flags and output extension.
/// Only `--simplify` is lossless, so only its outputs are compared.
const PASS_RUNS: &[(&[&str], &str)] = &[
    (&["--simplify"], "onnx"),
    (&["--quantize", "int8"], "xml"),
    (&["--quantize", "int8-dynamic"], "onnx"),
    (&["--quantize", "int4", "--group-size", "16"], "onnx"),
    (&["--quantize", "int4", "--group-size", "16", "--asymmetric"], "xml"),
    (&["--quantize", "fp16"], "xml"),
    (&["--quantize", "bf16", "--quantize-activations"], "onnx"),
    (&["--prune-magnitude", "0.5"], "onnx"),
    (&["--prune-channels", "0.5"], "onnx"),
];

/// `--passes`: every case with its inputs turned into weights (all but the
/// first, then all), converted with each of [`PASS_RUNS`] through the
/// command line's own conversion. No pass may panic, and `--simplify` must
/// keep the outputs (relative L2 error at most 1e-4 on the case's input).
/// Real models keep their weights as initializers; the cases keep them as
/// inputs, so as they stand the passes would see nothing to fold, quantize
/// or prune.
pub(super) fn passes(root: &Path, cases_dir: &Path, names: &[String], start: Instant) -> Result<Outcome> {
    let scratch = scratch_dir(root, "passes");
    let _ = std::fs::remove_dir_all(&scratch);
    SCRATCH.set(scratch.clone()).map_err(|_| anyhow::anyhow!("one probe per process"))?;
    let results = run_all(cases_dir, names, &BTreeMap::new(), passes_one);
    let _ = std::fs::remove_dir_all(&scratch);
    let bad: Vec<&CaseResult> =
        results.iter().filter(|r| matches!(r.status, Status::Panic(_) | Status::Mismatch(_))).collect();
    for r in &bad {
        println!("FAIL {} ({}): {}", r.name, r.op, r.status.reason());
    }
    let errors: Vec<&CaseResult> = results.iter().filter(|r| matches!(r.status, Status::Error(_))).collect();
    if !errors.is_empty() {
        println!(
            "{} case(s) could not be probed, e.g. {}: {}",
            errors.len(),
            errors[0].name,
            errors[0].status.reason()
        );
    }
    if let Ok(refusals) = REFUSALS.lock() {
        let mut top: Vec<(&String, &usize)> = refusals.iter().collect();
        top.sort_by_key(|(m, n)| (std::cmp::Reverse(**n), (*m).clone()));
        println!("most frequent refusals:");
        for (m, n) in top.iter().take(15) {
            println!("  {n:>6}  {m}");
        }
    }
    let (variants, refused) = (VARIANTS.load(Ordering::Relaxed), REFUSED.load(Ordering::Relaxed));
    println!(
        "passes: {} case(s), {variants} conversion(s) ({refused} refused with an error), {} simplified output(s) \
         compared; {} case(s) failed; {:.1}s",
        results.len(),
        RUNS.load(Ordering::Relaxed),
        bad.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(if bad.is_empty() { Outcome::Ok } else { Outcome::CheckFailed })
}

fn passes_one(dir: &Path, name: &str, _skip: Option<&String>) -> CaseResult {
    guarded(name, |op| passes_case(dir, name, op))
}

fn passes_case(dir: &Path, name: &str, op: &mut String) -> Status {
    let Ok(model) = fmt_onnx::OnnxImporter.import(&dir.join("model.onnx"), &ir::ImportOptions::default()) else {
        return Status::Error("import".into());
    };
    *op = tested_op(name, &model);
    let Some(feeds) = case_inputs(dir, &model) else { return Status::Pass };
    let registry = registry();
    let Some(scratch) = SCRATCH.get() else { return Status::Error("no scratch folder".into()) };
    let work = scratch.join(format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_alphanumeric(), ""));
    if std::fs::create_dir_all(&work).is_err() {
        return Status::Error(format!("cannot create {}", work.display()));
    }
    for kept in [1, 0] {
        if feeds.len() <= kept {
            continue;
        }
        let mut m = model.clone();
        for (n, t) in &feeds[kept..] {
            m.graph.inputs.retain(|v| &v.name != n);
            m.graph.initializers.insert(n.clone(), t.clone());
        }
        let input = work.join("in.onnx");
        if fmt_onnx::OnnxExporter.export(&m, &input, &ir::ExportOptions::default()).is_err() {
            continue;
        }
        let Ok((reference, _)) = convert::load(registry, &input, Some("onnx"), &ir::ImportOptions::default()) else {
            continue;
        };
        for (flags, ext) in PASS_RUNS {
            let output = work.join(format!("out.{ext}"));
            let what = format!("{} input(s) kept, {}", kept, flags.join(" "));
            let run = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut args: Vec<std::ffi::OsString> =
                    vec!["convert".into(), input.clone().into(), output.clone().into()];
                args.extend(flags.iter().map(Into::into));
                args.push("--quiet".into());
                let mut c = convert::cli::conversion(args)?;
                VARIANTS.fetch_add(1, Ordering::Relaxed);
                let mut report = convert::report::Report::new(convert::report::CommandKind::Convert);
                if let Err(e) = c.run(registry, &mut report) {
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                    note_refusal(&format!("{e:#}"), &input);
                    return Ok::<_, anyhow::Error>(Ok(e.to_string()));
                }
                if *flags != ["--simplify"] {
                    return Ok(Ok(String::new()));
                }
                // Lossless: the simplified model must compute what the reference does.
                let (written, _) = convert::load(registry, &output, Some("onnx"), &ir::ImportOptions::default())?;
                let inputs: Vec<(String, Value)> = feeds[..kept]
                    .iter()
                    .filter_map(|(n, t)| eval::from_ir(t).ok().map(|v| (n.clone(), Value::Tensor(v))))
                    .collect();
                let Ok(rows) = convert::verify::compare_models(&reference, &written, inputs, 1e-4) else {
                    return Ok(Ok(String::new()));
                };
                RUNS.fetch_add(1, Ordering::Relaxed);
                let failed: Vec<String> = rows.iter().filter_map(convert::verify::OutputCheck::failure).collect();
                Ok(if failed.is_empty() { Ok(String::new()) } else { Err(failed.join("; ")) })
            }));
            match run {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(mismatch))) => return Status::Mismatch(format!("{what}: {mismatch}")),
                Ok(Err(e)) => return Status::Error(format!("{what}: {e:#}")),
                Err(_) => {
                    let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                    return Status::Panic(format!("{what}: {msg}"));
                }
            }
        }
    }
    Status::Pass
}

/// `--passes`' refusals by message (the scratch path and numbers dropped), for the summary.
static REFUSALS: std::sync::Mutex<BTreeMap<String, usize>> = std::sync::Mutex::new(BTreeMap::new());

fn note_refusal(message: &str, input: &Path) {
    let text = message.replace(&input.display().to_string(), "IN").replace(|c: char| c.is_ascii_digit(), "#");
    let key: String = text.chars().take(300).collect();
    if let Ok(mut m) = REFUSALS.lock() {
        *m.entry(key).or_default() += 1;
    }
}

/// The formats `--roundtrip` writes each case to and reads back: the
/// `--to` name and the output path under the worker's folder.
const ROUND_TRIPS: &[(&str, &str)] =
    &[("openvino", "rt.xml"), ("tf", "rt_saved"), ("tf-frozen", "rt.pb"), ("torchscript", "rt.pt")];

/// `--roundtrip`: every case written by each other format's exporter and
/// read back by its importer, both through the command line's own paths,
/// then run on the case's inputs beside the original. A writer may refuse
/// a case (an op the format lacks); what it writes, the matching reader
/// must read, and the outputs must agree (relative L2 at most 1e-3; NaNs in
/// the same places). Panics, unreadable outputs and disagreements fail the
/// run; the summary counts them per format.
pub(super) fn roundtrip(
    root: &Path,
    cases_dir: &Path,
    names: &[String],
    out_of_scope: &BTreeMap<String, String>,
    start: Instant,
) -> Result<Outcome> {
    let scratch = scratch_dir(root, "roundtrip");
    let _ = std::fs::remove_dir_all(&scratch);
    SCRATCH.set(scratch.clone()).map_err(|_| anyhow::anyhow!("one probe per process"))?;
    // Out-of-scope cases (random outputs, training ops) are skipped: two runs
    // of a random op do not agree.
    let results: Vec<CaseResult> = run_all(cases_dir, names, out_of_scope, roundtrip_one)
        .into_iter()
        .filter(|r| !matches!(r.status, Status::Skipped(_)))
        .collect();
    let _ = std::fs::remove_dir_all(&scratch);
    let known = read_known(&root.join(KNOWN))?;
    let failed: std::collections::BTreeSet<(String, String)> = FAILED_TRIPS
        .lock()
        .map(|f| f.iter().map(|(c, fmt)| (c.clone(), fmt.to_string())).collect())
        .unwrap_or_default();
    // A case fails the run when it panicked, could not be probed, or has a
    // failing round trip that is not listed as known.
    let bad: Vec<&CaseResult> = results
        .iter()
        .filter(|r| match &r.status {
            Status::Pass => false,
            Status::Mismatch(_) => {
                failed.iter().any(|(c, fmt)| *c == r.name && !known.contains_key(&(c.clone(), fmt.clone())))
            }
            _ => true,
        })
        .collect();
    for r in &bad {
        println!("FAIL {} ({}): {}", r.name, r.op, r.status.reason());
    }
    let ran: std::collections::BTreeSet<&str> = results.iter().map(|r| r.name.as_str()).collect();
    let fixed: Vec<&(String, String)> =
        known.keys().filter(|k| ran.contains(k.0.as_str()) && !failed.contains(*k)).collect();
    for (case, format) in &fixed {
        println!("{case} {format} is listed in {KNOWN} but passes now: remove it");
    }
    let expected = failed.iter().filter(|k| known.contains_key(*k)).count();
    println!("{expected} known failing round trip(s) ({KNOWN})");
    if let Ok(stats) = TRIPS.lock() {
        println!("{:<12} {:>8} {:>8} {:>8} {:>8}", "format", "written", "refused", "agree", "failed");
        for (fmt, s) in stats.iter() {
            println!("{fmt:<12} {:>8} {:>8} {:>8} {:>8}", s[0], s[1], s[2], s[3]);
        }
    }
    println!("round trips: {} case(s), {} failed; {:.1}s", results.len(), bad.len(), start.elapsed().as_secs_f64());
    Ok(if bad.is_empty() && fixed.is_empty() { Outcome::Ok } else { Outcome::CheckFailed })
}

/// Per format: written, refused by the writer, outputs agree, failed.
static TRIPS: std::sync::Mutex<BTreeMap<&'static str, [usize; 4]>> = std::sync::Mutex::new(BTreeMap::new());

fn trip(format: &'static str, slot: usize) {
    if let Ok(mut t) = TRIPS.lock() {
        t.entry(format).or_default()[slot] += 1;
    }
}

fn roundtrip_one(dir: &Path, name: &str, skip: Option<&String>) -> CaseResult {
    match skip {
        Some(why) => guarded(name, |_| Status::Skipped(why.clone())),
        None => guarded(name, |op| roundtrip_case(dir, name, op)),
    }
}

fn roundtrip_case(dir: &Path, name: &str, op: &mut String) -> Status {
    let input = dir.join("model.onnx");
    let registry = registry();
    let Ok((model, _)) = convert::load(registry, &input, Some("onnx"), &ir::ImportOptions::default()) else {
        return Status::Pass;
    };
    *op = tested_op(name, &model);
    let Some(feeds) = case_inputs(dir, &model) else { return Status::Pass };
    // Every graph input needs a value (optional inputs without data are not probed).
    if feeds.len() != convert::verify::feeds(&model).len() {
        return Status::Pass;
    }
    let Some(scratch) = SCRATCH.get() else { return Status::Error("no scratch folder".into()) };
    let work = scratch.join(format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_alphanumeric(), ""));
    let _ = std::fs::remove_dir_all(&work);
    if std::fs::create_dir_all(&work).is_err() {
        return Status::Error(format!("cannot create {}", work.display()));
    }
    let values: Option<Vec<(String, Value)>> =
        feeds.iter().map(|(n, t)| eval::from_ir(t).ok().map(|v| (n.clone(), Value::Tensor(v)))).collect();
    let Some(values) = values else { return Status::Pass };
    // Only cases the evaluator runs, the same way twice, can be compared
    // (random ops and training-mode Dropout differ from run to run).
    match convert::verify::compare_models(&model, &model, values.clone(), 0.0) {
        Ok(rows) if rows.iter().all(|r| r.pass) => {}
        _ => return Status::Pass,
    }
    let mut failures: Vec<String> = Vec::new();
    for &(format, file) in ROUND_TRIPS {
        let output = work.join(file);
        let args: Vec<std::ffi::OsString> = vec![
            "convert".into(),
            input.clone().into(),
            output.clone().into(),
            "--to".into(),
            format.into(),
            "--quiet".into(),
        ];
        let Ok(mut c) = convert::cli::conversion(args) else { return Status::Error("conversion flags".into()) };
        let mut report = convert::report::Report::new(convert::report::CommandKind::Convert);
        let written = panic::catch_unwind(AssertUnwindSafe(|| c.run(registry, &mut report)));
        match written {
            Err(_) => {
                trip(format, 3);
                let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                failures.push(format!("{format} writer panicked: {msg}"));
                continue;
            }
            Ok(Err(_)) => {
                trip(format, 1);
                continue;
            }
            Ok(Ok(_)) => trip(format, 0),
        }
        let back = panic::catch_unwind(AssertUnwindSafe(|| {
            convert::load(registry, &output, Some(format), &ir::ImportOptions::default())
        }));
        let back = match back {
            Ok(Ok((m, _))) => m,
            Ok(Err(e)) => {
                trip(format, 3);
                failures.push(format!("{format}: written but not read back: {e}"));
                continue;
            }
            Err(_) => {
                trip(format, 3);
                let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                failures.push(format!("{format} reader panicked: {msg}"));
                continue;
            }
        };
        let compared = panic::catch_unwind(AssertUnwindSafe(|| {
            convert::verify::compare_models(&model, &back, values.clone(), 1e-3)
        }));
        match compared {
            Ok(Ok(rows)) => {
                let bad: Vec<String> = rows.iter().filter_map(convert::verify::OutputCheck::failure).collect();
                if bad.is_empty() {
                    trip(format, 2);
                } else {
                    trip(format, 3);
                    failures.push(format!("{format}: outputs differ: {}", bad.join("; ")));
                }
            }
            Ok(Err(e)) => {
                trip(format, 3);
                failures.push(format!("{format}: read back but does not run: {e}"));
            }
            Err(_) => {
                trip(format, 3);
                let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".into());
                failures.push(format!("{format}: the evaluator panicked on the read-back model: {msg}"));
            }
        }
    }
    if failures.is_empty() {
        return Status::Pass;
    }
    if let Ok(mut f) = FAILED_TRIPS.lock() {
        for &(format, _) in ROUND_TRIPS {
            if failures.iter().any(|m| m.starts_with(&format!("{format}:")) || m.starts_with(&format!("{format} "))) {
                f.insert((name.to_string(), format));
            }
        }
    }
    Status::Mismatch(failures.join(" | "))
}

/// The (case, format) round trips that failed, for the known-failure list.
static FAILED_TRIPS: std::sync::Mutex<std::collections::BTreeSet<(String, &'static str)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// `xtask/conformance/roundtrip-known.txt`: `case format reason` per line,
/// `#` starts a comment. The round trips known to fail, each with why.
const KNOWN: &str = "xtask/conformance/roundtrip-known.txt";

fn read_known(path: &Path) -> Result<BTreeMap<(String, String), String>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut known = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(case), Some(format), Some(reason)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("{}:{}: expected `case format reason`", path.display(), i + 1);
        };
        known.insert((case.to_string(), format.to_string()), reason.trim().to_string());
    }
    Ok(known)
}
