//! `--verify`, `convert verify` and `convert run`: the evaluator from the command line.

use std::path::Path;

use crate::report::{Comparison, OutputRow, RunInfo, RunOutput};
use crate::verify::{self, fmt_sci};
use anyhow::{Context, Result};
use ir::Model;

use super::{CheckArgs, Out, as_usage, say};

/// Compares `candidate` with `reference`, records the rows in `rows` and
/// prints one per output (unless `quiet`); fails with
/// [`verify::VerificationFailed`] when any output is beyond the tolerance.
pub fn verify(
    reference: &Model,
    candidate: &Model,
    args: &CheckArgs,
    quiet: bool,
    out: Out,
    rows: &mut Option<Comparison>,
    svg: Option<&std::path::Path>,
) -> Result<()> {
    let inputs = verify::make_inputs(reference, &args.input_options().map_err(as_usage)?)?;
    let checks = verify::compare_models(reference, candidate, inputs, args.tolerance)?;
    *rows = Some(Comparison::of(&checks, Some(args.tolerance)));
    // Drawn before the verdict: a failing check is what the chart is for.
    if let Some(path) = svg {
        super::write_text(path, &crate::draw::verify_svg(&checks, args.tolerance))?;
    }
    if !quiet {
        print_checks(&checks, out);
    }
    let checks = verify::VerificationFailed::check(checks, args.tolerance)?;
    if !quiet {
        say!(out, "verify: all {} output(s) within rel. L2 {}", checks.len(), args.tolerance);
    }
    Ok(())
}

/// Prints one row of metrics per output, from the report rows.
pub fn print_checks(checks: &[verify::OutputCheck], out: Out) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(6).max(6);
    say!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>8}  {:>9}",
        "output",
        "max_abs",
        "rel_l2",
        "cosine",
        "sqnr_dB",
        "top-1"
    );
    for c in checks {
        let fail = if c.pass { "" } else { "  FAIL" };
        let row = OutputRow::of(c);
        if let Some(e) = &row.error {
            say!(out, "{:<width$}  cannot compare: {e}  FAIL", c.name);
            continue;
        }
        let num = |x: Option<f64>| x.map_or("-".to_string(), fmt_sci);
        let top1 = row.top1.map_or("-".to_string(), |(a, n)| format!("{a}/{n}"));
        // The row holds no SQNR for identical outputs (infinite).
        let sqnr = row.sqnr_db.map_or("inf".to_string(), |x| format!("{x:.1}"));
        let cosine = row.cosine.map_or("-".to_string(), |x| format!("{x:.6}"));
        say!(
            out,
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>8}  {:>9}{fail}",
            c.name,
            num(row.max_abs),
            num(row.rel_l2),
            cosine,
            sqnr,
            top1,
        );
    }
}

/// Replaces characters that are unsafe in file names.
pub fn file_stem(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if s.is_empty() || s.chars().all(|c| c == '.') { "_".into() } else { s }
}

/// Runs a model and writes each output as `<dir>/<output>.npy`, or `.pb`
/// (ONNX `TensorProto`) for dtypes NumPy cannot hold, and a sequence as a
/// folder `<dir>/<output>/` of its elements `0.npy`, `1.pb`, ...; with
/// `repeat > 0`, times that many further runs and prints the median.
pub fn run(model: &Model, dir: &Path, args: &CheckArgs, repeat: usize, quiet: bool, out: Out) -> Result<RunInfo> {
    let mut info = RunInfo {
        output_dir: dir.to_string_lossy().into_owned(),
        outputs: Vec::new(),
        median_ms: None,
        min_ms: None,
        repeat,
    };
    let opts = args.input_options().map_err(as_usage)?;
    let inputs = verify::make_inputs(model, &opts)?;
    let session = eval::Session::new(model)?;
    let outputs = session.run(inputs.clone()).context("evaluation failed")?;
    if repeat > 0 {
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let t = std::time::Instant::now();
            session.run(inputs.clone()).context("evaluation failed")?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        say!(out, "time per run: median {:.3} ms, min {:.3} ms over {repeat} runs", times[repeat / 2], times[0]);
        info.median_ms = Some(times[repeat / 2]);
        info.min_ms = Some(times[0]);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, v) in outputs {
        let written =
            write_value(&dir.join(file_stem(&name)), &name, &v).with_context(|| format!("output '{name}'"))?;
        if !quiet {
            say!(out, "{name}: {written}");
        }
        info.outputs.push(RunOutput { name, written });
    }
    Ok(info)
}

/// Writes one evaluator value under `stem` (extension chosen by dtype) and
/// describes what was written.
fn write_value(stem: &Path, name: &str, v: &eval::Value) -> Result<String> {
    match v {
        eval::Value::Tensor(t) => {
            let t = eval::to_ir(t)?;
            let path = ir::tensor_file::write(stem, name, &t)?;
            Ok(format!("{} {:?} -> {}", t.dtype(), t.shape(), path.display()))
        }
        eval::Value::Sequence(items) => {
            // A fresh folder each run: stale elements of a longer earlier
            // sequence would otherwise read as part of this one.
            if stem.exists() {
                std::fs::remove_dir_all(stem).with_context(|| format!("cannot replace {}", stem.display()))?;
            }
            std::fs::create_dir_all(stem).with_context(|| format!("cannot create {}", stem.display()))?;
            for (i, item) in items.iter().enumerate() {
                write_value(&stem.join(i.to_string()), &format!("{name}[{i}]"), item)?;
            }
            Ok(format!("sequence of {} -> {}/", items.len(), stem.display()))
        }
        eval::Value::Optional(Some(inner), _) => write_value(stem, name, inner),
        eval::Value::Optional(None, _) => Ok("optional without a value (nothing written)".into()),
    }
}
