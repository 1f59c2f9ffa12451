//! `convert inspect`: a text summary of a model, like a terminal Netron.

use std::fmt::Write;

use super::human_bytes;
use crate::report::{ModelInfo, ValueDesc};

fn values(out: &mut String, title: &str, list: &[ValueDesc]) {
    let _ = writeln!(out, "{title}:");
    let width = list.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in list {
        let _ = writeln!(out, "  {:<width$}  {}", v.name, v.ty);
    }
}

/// The report printed by `convert inspect`, rendered from `info` (the facts
/// of the JSON report), with the inferred values when `info` has them.
pub fn report(info: &ModelInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "model:     {} ({})", info.path, info.format);
    if let Some(p) = &info.producer {
        let _ = writeln!(out, "producer:  {p}");
    }
    let opsets: Vec<String> = info.opsets.iter().map(|(d, v)| format!("{d} {v}")).collect();
    let _ = writeln!(out, "opsets:    {}", opsets.join(", "));
    values(&mut out, "inputs", &info.inputs);
    values(&mut out, "outputs", &info.outputs);

    let _ = writeln!(out, "nodes:     {}", info.nodes);
    let mut ops: Vec<(&String, &usize)> = info.ops.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "ops:");
    for (op, n) in ops {
        let _ = writeln!(out, "  {n:>6}  {op}");
    }
    let _ = writeln!(out, "parameters: {} ({})", info.parameters, human_bytes(info.weight_bytes));
    if !info.by_dtype.is_empty() {
        let _ = writeln!(out, "weights by dtype:");
        for (d, b) in &info.by_dtype {
            let _ = writeln!(
                out,
                "  {:<8} {:>6} tensors {:>14} elements {:>12}",
                d,
                b.tensors,
                b.elements,
                human_bytes(b.bytes)
            );
        }
    }
    if info.constant_bytes > 0 {
        let _ = writeln!(out, "Constant node values: {}", human_bytes(info.constant_bytes));
    }
    let _ = writeln!(out, "stored tensor bytes: {} (initializers and Constant values)", info.stored_bytes);
    if let Some(list) = &info.values {
        let width = list.iter().map(|v| v.name.len()).max().unwrap_or(0);
        let _ = writeln!(out, "values (inferred):");
        for v in list {
            let _ = writeln!(out, "  {:<width$}  {}", v.name, v.ty);
        }
    }
    if let Some(e) = &info.values_error {
        let _ = writeln!(out, "values: cannot infer types: {e}");
    }
    if !info.metadata.is_empty() {
        let _ = writeln!(out, "metadata:");
        for (k, v) in &info.metadata {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    out
}

/// The signatures of a SavedModel (every MetaGraph), for choosing one with
/// `--signature` and `--tags`.
#[cfg(feature = "tf")]
pub fn signatures(path: &std::path::Path) -> ir::Result<String> {
    let mut out = String::from("signatures:\n");
    let shape = |s: &fmt_tf::TfShape| match s {
        None => "?".to_string(),
        Some(d) => {
            let dims: Vec<String> = d.iter().map(|x| x.map_or("?".to_string(), |v| v.to_string())).collect();
            format!("[{}]", dims.join(","))
        }
    };
    for sig in fmt_tf::signatures(path)? {
        let _ = writeln!(out, "  {} (tags {}; {})", sig.name, sig.tags.join(","), sig.method_name);
        for (dir, ports) in [("in ", &sig.inputs), ("out", &sig.outputs)] {
            for p in ports {
                let _ = writeln!(out, "    {dir} {}  {}{}  ({})", p.name, p.dtype.name(), shape(&p.shape), p.tensor);
            }
        }
    }
    Ok(out)
}
