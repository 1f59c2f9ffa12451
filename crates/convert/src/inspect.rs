//! `convert inspect`: a text summary of a model, like a terminal Netron.

use std::fmt::Write;
use std::path::Path;

use ir::{Model, ModelStats, ValueInfo};

use crate::human_bytes;

fn values(out: &mut String, title: &str, list: &[&ValueInfo]) {
    let _ = writeln!(out, "{title}:");
    let width = list.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in list {
        let _ = writeln!(out, "  {:<width$}  {}", v.name, v.ty);
    }
}

/// The report printed by `convert inspect`; with `all_values`, every value
/// the nodes produce with its type from `ir::infer`, in graph order.
pub fn report(m: &Model, path: &Path, format: &str, all_values: bool) -> String {
    let mut out = String::new();
    let g = &m.graph;
    let _ = writeln!(out, "model:     {} ({format})", path.display());
    if !m.producer_name.is_empty() {
        let _ = writeln!(out, "producer:  {}", format!("{} {}", m.producer_name, m.producer_version).trim_end());
    }
    let opsets: Vec<String> =
        m.opset_imports.iter().map(|(d, v)| format!("{} {v}", if d.is_empty() { "ai.onnx" } else { d })).collect();
    let _ = writeln!(out, "opsets:    {}", opsets.join(", "));
    // Inputs that have initializers are parameters with defaults, not feeds.
    let feeds: Vec<&ValueInfo> = g.inputs.iter().filter(|v| !g.initializers.contains_key(&v.name)).collect();
    values(&mut out, "inputs", &feeds);
    values(&mut out, "outputs", &g.outputs.iter().collect::<Vec<_>>());

    let s = ModelStats::of(m);
    let _ = writeln!(out, "nodes:     {}", s.nodes);
    let mut ops: Vec<(&String, &usize)> = s.ops.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "ops:");
    for (op, n) in ops {
        let _ = writeln!(out, "  {n:>6}  {op}");
    }
    let _ = writeln!(out, "parameters: {} ({})", s.parameters, human_bytes(s.weight_bytes()));
    if !s.by_dtype.is_empty() {
        let _ = writeln!(out, "weights by dtype:");
        for (d, (tensors, elems, bytes)) in &s.by_dtype {
            let _ = writeln!(
                out,
                "  {:<8} {tensors:>6} tensors {elems:>14} elements {:>12}",
                d.name(),
                human_bytes(*bytes)
            );
        }
    }
    if s.constant_bytes > 0 {
        let _ = writeln!(out, "Constant node values: {}", human_bytes(s.constant_bytes));
    }
    let _ = writeln!(out, "stored tensor bytes: {} (initializers and Constant values)", s.stored_bytes());
    if all_values {
        match ir::infer::infer(g, m.onnx_opset()) {
            Ok(types) => {
                let produced: Vec<&str> = g.nodes.iter().flat_map(|n| n.present_outputs()).collect();
                let width = produced.iter().map(|v| v.len()).max().unwrap_or(0);
                let _ = writeln!(out, "values (inferred):");
                for v in produced {
                    let ty = types.ty(v).map_or_else(|| "unknown".to_string(), ToString::to_string);
                    let _ = writeln!(out, "  {v:<width$}  {ty}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "values: cannot infer types: {e}");
            }
        }
    }
    if !m.metadata.is_empty() {
        let _ = writeln!(out, "metadata:");
        for (k, v) in &m.metadata {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    out
}

/// The signatures of a SavedModel (every MetaGraph), for choosing one with
/// `--signature` and `--tags`.
#[cfg(feature = "tf")]
pub fn signatures(path: &Path) -> ir::Result<String> {
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
