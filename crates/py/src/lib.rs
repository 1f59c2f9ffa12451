//! `model_convert._native`: the converter's library behind the Python
//! package `model-convert`.
//!
//! The Python layer (`python/model_convert/`) owns the public API, its
//! types and the exception classes; this module does the work and answers
//! in the converter's own documents: every call returns the JSON of a
//! [`convert::report::Report`] (or [`convert::report::ModelInfo`]), and a
//! failure raises [`NativeError`] carrying the report of the failure, whose
//! `error` member (kind, one-line message, exit code, unsupported ops) the
//! Python layer turns into its exception classes. Failure kinds and
//! messages therefore come from `convert::report` alone.
//!
//! Long calls run in a worker thread with the GIL released while this
//! thread polls for signals: Ctrl-C (`KeyboardInterrupt`) sets a cancel
//! flag that the writers check between tensors ([`ir::Progress::cancelled`]),
//! so an interrupted conversion stops soon and leaves no file behind.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use convert::report::{CommandKind, Comparison, ErrorInfo, ModelInfo, Report};
use convert::verify::{self, VerificationFailed};
use ir::{Progress, ProgressHandle};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    _native,
    NativeError,
    PyException,
    "A failed call; its one argument is the JSON report of the failure (its `error` member says why)."
);

/// How often the waiting thread looks for a pending signal.
const POLL: Duration = Duration::from_millis(50);

/// A progress sink that also carries the cancel flag set on Ctrl-C; the
/// terminal bar (if any) still draws through it.
struct Cancellable {
    inner: ProgressHandle,
    flag: Arc<AtomicBool>,
}

impl Progress for Cancellable {
    fn begin(&self, what: &str, total: u64) {
        self.inner.begin(what, total);
    }
    fn advance(&self, bytes: u64) {
        self.inner.advance(bytes);
    }
    fn end(&self) {
        self.inner.end();
    }
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// `inner` with the cancel flag attached.
fn cancellable(inner: &ProgressHandle, flag: &Arc<AtomicBool>) -> ProgressHandle {
    ProgressHandle(Some(Arc::new(Cancellable { inner: inner.clone(), flag: flag.clone() })))
}

/// The error a stage boundary returns once the work is cancelled.
fn check_cancel(flag: &AtomicBool, path: &Path) -> ir::Result<()> {
    if flag.load(Ordering::Relaxed) {
        return Err(ir::Error::io(path, std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled")));
    }
    Ok(())
}

/// Runs `work` on a worker thread with the GIL released, polling for
/// signals meanwhile. On `KeyboardInterrupt` (or any exception a signal
/// handler raises) the cancel flag is set, the worker is waited for (it
/// stops at its next check) and the exception is raised.
fn run_cancellable<R: Send>(py: Python<'_>, work: impl FnOnce(&Arc<AtomicBool>) -> R + Send) -> PyResult<R> {
    let flag = Arc::new(AtomicBool::new(false));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (worker_flag, worker_done) = (flag.clone(), &done);
        let worker = scope.spawn(move || {
            let r = work(&worker_flag);
            worker_done.store(true, Ordering::Release);
            r
        });
        let mut interrupt = None;
        loop {
            let finished = py.detach(|| {
                let until = Instant::now() + POLL;
                while !done.load(Ordering::Acquire) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(2));
                }
                done.load(Ordering::Acquire)
            });
            if finished || worker.is_finished() {
                break;
            }
            if interrupt.is_none()
                && let Err(e) = py.check_signals()
            {
                flag.store(true, Ordering::Relaxed);
                interrupt = Some(e);
            }
        }
        let result = py.detach(|| worker.join());
        match (interrupt, result) {
            (Some(e), _) => Err(e),
            (None, Ok(r)) => Ok(r),
            (None, Err(_)) => Err(NativeError::new_err(failure(
                CommandKind::Convert,
                ErrorInfo::internal("internal error (please report): the worker thread panicked"),
            ))),
        }
    })
}

/// The JSON of a report that failed with `error`.
fn failure(command: CommandKind, error: ErrorInfo) -> String {
    let mut report = Report::new(command);
    report.fail(error);
    report.to_json()
}

/// The Python result of a report: its JSON, or [`NativeError`] with it.
fn finish(mut report: Report, result: anyhow::Result<()>, start: Instant) -> PyResult<String> {
    report.timings.total = start.elapsed().as_secs_f64();
    match result {
        Ok(()) => Ok(report.to_json()),
        Err(e) => {
            report.fail(ErrorInfo::of(&e));
            Err(NativeError::new_err(report.to_json()))
        }
    }
}

/// Runs the `convert` command line on `args` (program name first) and
/// returns its exit code: the console script `model-convert`.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<OsString>) -> i32 {
    py.detach(|| convert::cli::main(args))
}

/// The long flags a conversion accepts, without `--`.
#[pyfunction]
fn conversion_flags() -> Vec<String> {
    convert::cli::conversion_flags()
}

/// The tool's version.
#[pyfunction]
fn version() -> &'static str {
    convert::report::VERSION
}

/// Converts as `convert SRC DST FLAGS...` would, the flags parsed by the
/// command line's own parser; returns the report's JSON.
#[pyfunction]
fn convert_model(py: Python<'_>, src: PathBuf, dst: PathBuf, flags: Vec<String>) -> PyResult<String> {
    let start = Instant::now();
    let mut args: Vec<OsString> = vec!["model-convert".into(), src.into(), dst.into()];
    args.extend(flags.into_iter().map(OsString::from));
    let (report, result) = run_cancellable(py, |flag| convert_reporting(args, flag))?;
    finish(report, result, start)
}

/// The conversion of `args`, its report filled stage by stage, then the
/// `--verify` comparison. The error carries the command line's context, so
/// its message is the line the CLI prints.
fn convert_reporting(args: Vec<OsString>, flag: &Arc<AtomicBool>) -> (Report, anyhow::Result<()>) {
    let mut report = Report::new(CommandKind::Convert);
    let result = (|| -> anyhow::Result<()> {
        let mut c = convert::cli::conversion(args)?;
        c.options.import.progress = cancellable(&c.options.import.progress, flag);
        c.options.export.progress = cancellable(&c.options.export.progress, flag);
        let registry = convert::registry();
        let s = c.run(&registry, &mut report)?;
        if c.verify {
            check_cancel(flag, &c.output)?;
            let t = Instant::now();
            let (written, _) = convert::load(&registry, &c.output, Some(s.to), &c.reread)
                .with_context(|| format!("cannot re-read {}", c.output.display()))?;
            let inputs = verify::make_inputs(&s.model, &c.check)?;
            let checks = verify::compare_models(&s.model, &written, inputs, c.tolerance)?;
            report.verification = Some(Comparison::of(&checks, Some(c.tolerance)));
            report.timings.verify = Some(t.elapsed().as_secs_f64());
            VerificationFailed::check(checks, c.tolerance)?;
        }
        Ok(())
    })();
    (report, result)
}

/// Reads a model as `convert inspect` does; returns its `ModelInfo` JSON.
#[pyfunction]
#[pyo3(signature = (path, src_format=None))]
fn inspect(py: Python<'_>, path: PathBuf, src_format: Option<String>) -> PyResult<String> {
    let start = Instant::now();
    let result = run_cancellable(py, |_| {
        convert::load(&convert::registry(), &path, src_format.as_deref(), &ir::ImportOptions::default())
            .with_context(|| format!("cannot read {}", path.display()))
            .map(|(m, fmt)| ModelInfo::of(&m, &path, fmt))
    })?;
    match result {
        Ok(info) => Ok(serde_json::to_string(&info).expect("a ModelInfo always serializes")),
        Err(e) => finish(Report::new(CommandKind::Inspect), Err(e), start),
    }
}

/// Named input tensors given as `.npy` images (the Python layer saves
/// NumPy arrays that way, so dtypes are read by `ir::tensor_file` alone).
fn parse_inputs(inputs: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<(String, ir::Tensor)>> {
    inputs
        .iter()
        .map(|(name, npy)| {
            let what = PathBuf::from(format!("input '{name}'"));
            let t = ir::tensor_file::parse(ir::Buffer::from_vec(npy.clone()), &what)?;
            Ok((name.clone(), t))
        })
        .collect()
}

/// The evaluator's inputs for `model`: the given tensors by name, the rest
/// random (seeded) as `convert verify` makes them.
fn feeds(
    model: &ir::Model,
    given: Vec<(String, ir::Tensor)>,
    seed: u64,
) -> anyhow::Result<Vec<(String, convert::eval::Value)>> {
    let known: Vec<String> = verify::feeds(model).iter().map(|v| v.name.clone()).collect();
    if let Some((name, _)) = given.iter().find(|(n, _)| !known.contains(n)) {
        anyhow::bail!(convert::report::UsageError(format!(
            "the model has no input '{name}' (its inputs: {})",
            known.join(", ")
        )));
    }
    let opts = verify::InputOptions { seed, ..verify::InputOptions::default() };
    let mut feeds = verify::make_inputs(model, &opts)?;
    for (name, t) in given {
        let value =
            convert::eval::Value::Tensor(convert::eval::from_ir(&t).with_context(|| format!("input '{name}'"))?);
        if let Some(slot) = feeds.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        }
    }
    Ok(feeds)
}

/// Compares two models as `convert verify A B` does; returns the report's JSON.
#[pyfunction]
#[pyo3(signature = (reference, candidate, inputs, tolerance, seed=0))]
fn verify_models(
    py: Python<'_>,
    reference: PathBuf,
    candidate: PathBuf,
    inputs: Vec<(String, Vec<u8>)>,
    tolerance: f64,
    seed: u64,
) -> PyResult<String> {
    let start = Instant::now();
    let (report, result) = run_cancellable(py, |flag| {
        let mut report = Report::new(CommandKind::Verify);
        let result = (|| -> anyhow::Result<()> {
            let registry = convert::registry();
            let load = |p: &PathBuf| {
                convert::load(&registry, p, None, &ir::ImportOptions::default())
                    .with_context(|| format!("cannot read {}", p.display()))
            };
            let t = Instant::now();
            let (a, fa) = load(&reference)?;
            report.input = Some(ModelInfo::of(&a, &reference, fa));
            let (b, fb) = load(&candidate)?;
            report.output = Some(ModelInfo::of(&b, &candidate, fb));
            report.timings.import = Some(t.elapsed().as_secs_f64());
            check_cancel(flag, &candidate)?;
            let t = Instant::now();
            let feeds = feeds(&a, parse_inputs(&inputs)?, seed)?;
            let checks = verify::compare_models(&a, &b, feeds, tolerance)?;
            report.verification = Some(Comparison::of(&checks, Some(tolerance)));
            report.timings.verify = Some(t.elapsed().as_secs_f64());
            VerificationFailed::check(checks, tolerance)?;
            Ok(())
        })();
        (report, result)
    })?;
    finish(report, result, start)
}

/// Runs a model with the reference evaluator on the given inputs (the
/// rest random, seeded); returns each output as `(name, .npy image)`.
#[pyfunction]
#[pyo3(signature = (model, inputs, src_format=None, seed=0))]
fn run_model(
    py: Python<'_>,
    model: PathBuf,
    inputs: Vec<(String, Vec<u8>)>,
    src_format: Option<String>,
    seed: u64,
) -> PyResult<Vec<(String, Py<PyBytes>)>> {
    let start = Instant::now();
    let result = run_cancellable(py, |_| -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let (m, _) = convert::load(&convert::registry(), &model, src_format.as_deref(), &ir::ImportOptions::default())
            .with_context(|| format!("cannot read {}", model.display()))?;
        let feeds = feeds(&m, parse_inputs(&inputs)?, seed)?;
        let outputs = convert::eval::run(&m, feeds).context("evaluation failed")?;
        outputs
            .into_iter()
            .map(|(name, v)| {
                let npy = match &v {
                    convert::eval::Value::Tensor(t) => ir::tensor_file::encode(&convert::eval::to_ir(t)?)?,
                    _ => anyhow::bail!("output '{name}' is a sequence or optional, not a tensor"),
                };
                Ok((name, npy))
            })
            .collect()
    })?;
    match result {
        Ok(outputs) => Ok(outputs.into_iter().map(|(n, b)| (n, PyBytes::new(py, &b).unbind())).collect()),
        Err(e) => Err(finish(Report::new(CommandKind::Run), Err(e), start).expect_err("an error was given")),
    }
}

/// What this build reads and writes, and its passes, as JSON:
/// `{"formats": [{name, description, extensions, read, write}], "passes": [{name, description}]}`.
#[pyfunction]
fn formats() -> String {
    let registry = convert::registry();
    let mut names: Vec<&str> = registry.importers().map(|i| i.info().name).collect();
    for e in registry.exporters() {
        if !names.contains(&e.info().name) {
            names.push(e.info().name);
        }
    }
    let formats: Vec<serde_json::Value> = names
        .into_iter()
        .map(|name| {
            let imp = registry.importer(name).ok();
            let exp = registry.exporter(name).ok();
            let info = imp.map(|i| i.info()).or(exp.map(|e| e.info())).expect("listed from the registry");
            serde_json::json!({
                "name": name,
                "description": info.description,
                "extensions": info.extensions,
                "read": imp.is_some(),
                "write": exp.is_some(),
            })
        })
        .collect();
    let passes: Vec<serde_json::Value> =
        registry.passes().iter().map(|p| serde_json::json!({"name": p.name, "description": p.description})).collect();
    serde_json::json!({"formats": formats, "passes": passes}).to_string()
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(conversion_flags, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(convert_model, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(verify_models, m)?)?;
    m.add_function(wrap_pyfunction!(run_model, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mlp.onnx")
    }

    /// A conversion with --verify fills the output, files, timings and the
    /// verification rows of its report.
    #[test]
    fn conversion_report_is_filled() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("mlp.xml");
        let args: Vec<OsString> = vec!["x".into(), mlp().into(), out.clone().into(), "--verify".into(), "-q".into()];
        let (report, r) = convert_reporting(args, &Arc::new(AtomicBool::new(false)));
        r.unwrap();
        assert_eq!(report.output.as_ref().unwrap().format, "openvino");
        assert_eq!(report.files.len(), 2, "{:?}", report.files);
        let v = report.verification.unwrap();
        assert!(v.pass && !v.outputs.is_empty());
    }

    /// A set cancel flag stops the writer before the file is committed:
    /// an I/O error, and no output or temporary file.
    #[test]
    fn cancelled_conversion_leaves_no_file() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("mlp.xml");
        let args: Vec<OsString> = vec!["x".into(), mlp().into(), out.into(), "-q".into()];
        let (_, r) = convert_reporting(args, &Arc::new(AtomicBool::new(true)));
        let e = r.unwrap_err();
        assert_eq!(convert::report::FailureKind::of(&e), convert::report::FailureKind::Io, "{e:#}");
        assert!(format!("{e:#}").ends_with("cancelled"), "{e:#}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "no file left");
    }

    /// Unknown flags are usage errors with clap's one line.
    #[test]
    fn bad_flag_is_a_usage_error() {
        let args: Vec<OsString> = vec!["x".into(), mlp().into(), "o.xml".into(), "--no-such-flag".into()];
        let (_, r) = convert_reporting(args, &Arc::new(AtomicBool::new(false)));
        let e = r.unwrap_err();
        assert_eq!(ErrorInfo::of(&e).exit_code, 2);
        assert!(e.to_string().contains("--no-such-flag"), "{e}");
    }

    /// The flags include the quantization ones the Python keywords map to.
    #[test]
    fn flags_list_the_quantization_options() {
        let flags = conversion_flags();
        for f in ["quantize", "group-size", "asymmetric", "calibration", "weight-method", "verify", "tolerance"] {
            assert!(flags.iter().any(|x| x == f), "{f} missing from {flags:?}");
        }
    }
}
