//! Unstructured magnitude pruning: the smallest weights become exact zeros.

use std::collections::HashSet;

use ir::{DType, Error, Graph, Model, Pass, PassReport, Result, SparseTensor, Tensor};
use opt_simplify::num;

/// Where the sparsity target applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One magnitude threshold across every prunable weight: layers with
    /// small weights lose more of them.
    Global,
    /// The same fraction in every layer.
    Layer,
}

/// Options of [`MagnitudePrune`].
#[derive(Debug, Clone, PartialEq)]
pub struct MagnitudeOptions {
    /// Fraction of prunable weights to zero, in `[0, 1)`.
    pub sparsity: f64,
    /// Global or per-layer threshold.
    pub scope: Scope,
    /// Store pruned weights as ONNX `sparse_initializer`s when that takes fewer bytes.
    pub sparse_storage: bool,
}

impl MagnitudeOptions {
    /// Parses `S[,scope=global|layer][,sparse]`.
    pub fn parse(arg: &str) -> Result<Self> {
        let mut parts = arg.split(',').map(str::trim);
        let s = parts.next().unwrap_or("");
        let sparsity = crate::parse_fraction("prune-magnitude", s)?;
        let mut o = MagnitudeOptions { sparsity, scope: Scope::Global, sparse_storage: false };
        for p in parts {
            match p {
                "scope=global" => o.scope = Scope::Global,
                "scope=layer" => o.scope = Scope::Layer,
                "sparse" => o.sparse_storage = true,
                _ => {
                    return Err(Error::usage(format!(
                        "prune-magnitude: unknown option '{p}' (expected scope=global, scope=layer or sparse)"
                    )));
                }
            }
        }
        Ok(o)
    }
}

/// One prunable weight.
struct Target {
    name: String,
    layer: String,
    values: Vec<f64>,
}

/// The weights pruned: the weight operand of every Conv, ConvTranspose,
/// Gemm and MatMul of the main graph that is a float constant. Biases,
/// normalization parameters and everything else are left alone.
fn targets(g: &Graph) -> Result<Vec<Target>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for n in &g.nodes {
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            continue;
        }
        let slots: &[usize] = match n.op.as_str() {
            "Conv" | "ConvTranspose" | "Gemm" => &[1],
            // Either MatMul operand may be the weight (x @ W or W @ x).
            "MatMul" => &[1, 0],
            _ => continue,
        };
        let Some((name, t)) = slots
            .iter()
            .filter_map(|&s| n.input(s))
            .find_map(|name| num::constant(g, name).map(|t| (name, t)))
            .filter(|(_, t)| num::is_rewritable_float(t.dtype()) && t.shape().len() >= 2)
        else {
            continue;
        };
        if seen.insert(name.to_string()) {
            let layer = if n.name.is_empty() { n.op.clone() } else { format!("{} '{}'", n.op, n.name) };
            out.push(Target { name: name.to_string(), layer, values: num::to_f64(t)? });
        }
    }
    Ok(out)
}

/// The magnitude at or below which weights are zeroed so that `k` of the
/// `mags` are pruned: the k-th smallest magnitude.
fn kth_smallest(mut mags: Vec<f64>, k: usize) -> Option<f64> {
    if k == 0 || mags.is_empty() {
        return None;
    }
    let k = k.min(mags.len());
    let (_, v, _) = mags.select_nth_unstable_by(k - 1, f64::total_cmp);
    Some(*v)
}

/// Zeroes the entries strictly below `t` and, in index order, as many entries
/// equal to `t` as `budget` allows (ties at the threshold must not overshoot
/// the target). Returns how many equal-to-`t` entries it zeroed.
fn zero_below(values: &mut [f64], t: f64, mut budget: usize) -> usize {
    let mut used = 0;
    for v in values.iter_mut() {
        let m = v.abs();
        if m < t {
            *v = 0.0;
        } else if m == t && budget > 0 {
            *v = 0.0;
            budget -= 1;
            used += 1;
        }
    }
    used
}

/// Magnitude pruning of a model's main graph; returns the report lines.
pub fn prune_magnitude(model: &mut Model, opts: &MagnitudeOptions) -> Result<Vec<String>> {
    Ok(prune_magnitude_report(model, opts)?.lines)
}

/// Magnitude pruning of a model's main graph; returns the pass report: the
/// lines, the figures (sparsity, zeros, weight bytes before and after) and
/// one item per pruned weight.
pub fn prune_magnitude_report(model: &mut Model, opts: &MagnitudeOptions) -> Result<PassReport> {
    let bytes_before = ir::ModelStats::of(model).weight_bytes();
    let g = &mut model.graph;
    let mut targets = targets(g)?;
    let total: usize = targets.iter().map(|t| t.values.len()).sum();
    match opts.scope {
        Scope::Global => {
            let k = (opts.sparsity * total as f64).floor() as usize;
            let mags: Vec<f64> = targets.iter().flat_map(|t| t.values.iter().map(|v| v.abs())).collect();
            if let Some(th) = kth_smallest(mags, k) {
                let below: usize = targets.iter().map(|t| t.values.iter().filter(|v| v.abs() < th).count()).sum();
                let mut ties = k.saturating_sub(below);
                for t in &mut targets {
                    ties -= zero_below(&mut t.values, th, ties);
                }
            }
        }
        Scope::Layer => {
            for t in &mut targets {
                let k = (opts.sparsity * t.values.len() as f64).floor() as usize;
                let mags: Vec<f64> = t.values.iter().map(|v| v.abs()).collect();
                if let Some(th) = kth_smallest(mags, k) {
                    let below = t.values.iter().filter(|v| v.abs() < th).count();
                    zero_below(&mut t.values, th, k.saturating_sub(below));
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut items = Vec::new();
    let (mut zeros_total, mut sparse_count, mut saved) = (0usize, 0usize, 0i64);
    for t in targets {
        let zeros = t.values.iter().filter(|v| **v == 0.0).count();
        zeros_total += zeros;
        let old = &g.initializers[&t.name];
        let dense = num::from_f64(old.dtype(), old.shape().to_vec(), &t.values)?;
        lines.push(format!(
            "{} ({}): {:.1}% zeros ({zeros}/{})",
            t.name,
            t.layer,
            100.0 * zeros as f64 / t.values.len().max(1) as f64,
            t.values.len()
        ));
        let item = ir::ReportItem::new(t.name.as_str())
            .with("layer", t.layer.as_str())
            .with("zeros", zeros)
            .with("elements", t.values.len())
            .with("sparsity", zeros as f64 / t.values.len().max(1) as f64);
        if opts.sparse_storage
            && let Some(s) = to_sparse(&dense, &t.values)?
        {
            let sparse_bytes = s.values.byte_len() + s.indices.byte_len();
            if sparse_bytes < dense.byte_len() {
                items.push(item.with("storage", "sparse"));
                saved += dense.byte_len() as i64 - sparse_bytes as i64;
                sparse_count += 1;
                let i = g.initializers.get_index_of(&t.name).expect("target is an initializer");
                g.initializers.shift_remove_index(i);
                g.sparse_initializers.insert(t.name.clone(), s);
                continue;
            }
        }
        items.push(item.with("storage", "dense"));
        g.initializers.insert(t.name, dense);
    }
    lines.push(format!(
        "sparsity {:.1}% ({zeros_total} of {total} weights in Conv/ConvTranspose/Gemm/MatMul are zero, {} scope, target {:.1}%)",
        100.0 * zeros_total as f64 / total.max(1) as f64,
        if opts.scope == Scope::Global { "global" } else { "layer" },
        100.0 * opts.sparsity
    ));
    if opts.sparse_storage {
        lines.push(format!("{sparse_count} weight(s) stored as sparse_initializer, {saved} bytes saved"));
    }
    let mut report = PassReport::new("prune-magnitude", lines)
        .figure("sparsity", zeros_total as f64 / total.max(1) as f64)
        .figure("target_sparsity", opts.sparsity)
        .figure("zeros", zeros_total as f64)
        .figure("prunable_weights", total as f64)
        .figure("bytes_before", bytes_before as f64)
        .figure("bytes_after", ir::ModelStats::of(model).weight_bytes() as f64);
    if opts.sparse_storage {
        report = report.figure("sparse_weights", sparse_count as f64).figure("sparse_bytes_saved", saved as f64);
    }
    report.items = items;
    Ok(report)
}

/// The COO form of a pruned weight (values plus linear int64 indices).
fn to_sparse(dense: &Tensor, values: &[f64]) -> Result<Option<SparseTensor>> {
    let idx: Vec<i64> = values.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, _)| i as i64).collect();
    if idx.len() == values.len() {
        return Ok(None);
    }
    let nz: Vec<f64> = idx.iter().map(|&i| values[i as usize]).collect();
    let vals = num::from_f64(dense.dtype(), vec![nz.len()], &nz)?;
    debug_assert!(dense.dtype() != DType::String);
    Ok(Some(SparseTensor {
        values: vals,
        indices: Tensor::from_vec(vec![idx.len()], idx)?,
        dims: dense.shape().to_vec(),
    }))
}

/// The `prune-magnitude` pass.
#[derive(Debug, Clone)]
pub struct MagnitudePrune {
    /// What to prune and how.
    pub options: MagnitudeOptions,
}

impl Pass for MagnitudePrune {
    fn name(&self) -> &str {
        "prune-magnitude"
    }

    fn run(&self, model: &mut Model) -> Result<PassReport> {
        prune_magnitude_report(model, &self.options)
    }
}
