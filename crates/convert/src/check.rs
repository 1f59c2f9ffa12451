//! `--verify`, `convert verify` and `convert run`: the evaluator from the command line.

use std::path::Path;

use anyhow::{Context, Result, bail};
use convert::verify;
use ir::Model;

use crate::CheckArgs;

fn fmt_sci(x: f64) -> String {
    if x == 0.0 { "0".into() } else { format!("{x:.2e}") }
}

/// Compares `candidate` with `reference` and prints one row per output;
/// fails when any output is beyond the tolerance.
pub fn verify(reference: &Model, candidate: &Model, args: &CheckArgs, quiet: bool) -> Result<()> {
    let inputs = verify::make_inputs(reference, &args.input_options()?)?;
    let checks = verify::compare_models(reference, candidate, inputs, args.tolerance)?;
    let failed = print_checks(&checks, quiet);
    if !failed.is_empty() {
        bail!("verification failed (tolerance rel. L2 {}): {}", args.tolerance, failed.join("; "));
    }
    if !quiet {
        println!("verify: all {} output(s) within rel. L2 {}", checks.len(), args.tolerance);
    }
    Ok(())
}

/// Prints one row of metrics per output (unless `quiet`) and returns a
/// description of each output that failed its check.
pub fn print_checks(checks: &[verify::OutputCheck], quiet: bool) -> Vec<String> {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(6).max(6);
    if !quiet {
        println!(
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>8}  {:>9}",
            "output", "max_abs", "rel_l2", "cosine", "sqnr_dB", "top-1"
        );
    }
    let mut failed = Vec::new();
    for c in checks {
        match &c.metrics {
            Ok(m) => {
                if !quiet {
                    let top1 = m.top1.map_or("-".to_string(), |(a, n)| format!("{a}/{n}"));
                    let sqnr = if m.sqnr_db.is_infinite() { "inf".to_string() } else { format!("{:.1}", m.sqnr_db) };
                    println!(
                        "{:<width$}  {:>9}  {:>9}  {:>9.6}  {:>8}  {:>9}{}",
                        c.name,
                        fmt_sci(m.max_abs),
                        fmt_sci(m.rel_l2),
                        m.cosine,
                        sqnr,
                        top1,
                        if c.pass { "" } else { "  FAIL" }
                    );
                }
                if !c.pass {
                    let nan = if m.nan_mismatches > 0 {
                        format!(", {} NaN mismatches", m.nan_mismatches)
                    } else {
                        String::new()
                    };
                    failed.push(format!("'{}' rel. L2 error {}{nan}", c.name, fmt_sci(m.rel_l2)));
                }
            }
            Err(e) => {
                if !quiet {
                    println!("{:<width$}  cannot compare: {e}  FAIL", c.name);
                }
                failed.push(format!("'{}': {e}", c.name));
            }
        }
    }
    failed
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
pub fn run(model: &Model, dir: &Path, args: &CheckArgs, repeat: usize, quiet: bool) -> Result<()> {
    let opts = args.input_options()?;
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
        println!("time per run: median {:.3} ms, min {:.3} ms over {repeat} runs", times[repeat / 2], times[0]);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, v) in outputs {
        let written =
            write_value(&dir.join(file_stem(&name)), &name, &v).with_context(|| format!("output '{name}'"))?;
        if !quiet {
            println!("{name}: {written}");
        }
    }
    Ok(())
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
