//! AWQ (Lin et al., 2023): activation-aware per input channel scaling.
//!
//! A few input channels of a layer carry much larger activations than the
//! rest, and the error 4 bits put on their weights costs the most at the
//! output. Scaling input channel `k` of every weight that reads an
//! activation `X` by `s_k` (and the activation by `1/s_k`) leaves the float
//! function unchanged, `X W = (X S⁻¹)(S W)`, but gives the salient channels
//! finer steps. `1/s` is folded into the op producing `X`, where that is
//! exact: a norm's scale (and bias), the output channels of a preceding
//! `MatMul`/`Gemm` (and its bias), or, through an elementwise `Mul` of two
//! activations (a gated MLP's `act(gate) · up`), into the operand whose
//! producer takes it. Activations with any other reader are left alone.
//!
//! `s = x̄^α` (normalised to geometric mean 1), `x̄_k` the RMS of channel
//! `k` over the calibration rows, and `α` searched on a grid for the least
//! output error `Σ_n Δw_nᵀ H Δw_n` of all the weights reading `X`
//! (`H = Σ x xᵀ`, `Δw` the weight error seen through the scaling).

use std::collections::HashMap;

use ir::{Graph, Model, Result, Use};

use crate::Config;
use crate::config::Precision;
use crate::scheme::{self, Granularity, QType, WeightSpec};
use crate::stats::{self, Sample};
use crate::weight::{Candidate, store_floats};

/// Grid of the exponent `α`, from 0 (no scaling) to 1 in steps of `1/GRID`.
const GRID: usize = 20;

/// Most output channels of a weight that the search's error is measured on
/// (evenly spaced): quantization acts on each output channel alone, so a
/// subset gives the error of those channels exactly, at `n'·k²` per step.
const SEARCH_ROWS: usize = 256;

/// An initializer that takes `1/s` along one axis, read by input `slot`
/// of `node`.
#[derive(Debug, Clone)]
struct FoldTarget {
    name: String,
    axis: usize,
    node: usize,
    slot: usize,
    /// Read by other nodes too (a norm's scale the exporter deduplicated
    /// across layers, all ones at initialization): this reader gets its
    /// own copy. Only per channel vectors are ever copied.
    shared: bool,
}

/// An activation whose readers are all weights being quantized, and where
/// its scaling folds to.
#[derive(Debug)]
struct Group {
    act: String,
    k: usize,
    /// Indices into the candidates.
    weights: Vec<usize>,
    fold: Vec<FoldTarget>,
}

/// The element count of an initializer when it has `k` values along its
/// last axis and size 1 elsewhere (a per channel vector); the axis.
fn channel_vector(g: &Graph, name: &str, k: usize) -> Option<usize> {
    let t = g.initializers.get(name)?;
    let s = t.shape();
    let last = s.len().checked_sub(1)?;
    (s[last] == k && s[..last].iter().all(|&d| d == 1) && t.dtype().is_float()).then_some(last)
}

/// Whether `value` has exactly one reader, an input of a node (not a graph
/// output, not captured by a subgraph).
fn single_input_use(uses: &HashMap<String, Vec<Use>>, value: &str) -> bool {
    matches!(uses.get(value).map(Vec::as_slice), Some([Use::Input { .. }]))
}

/// Where `1/s` (length `k`) folds to so that `value` becomes `value / s`,
/// exactly; `None` when no exact fold is known. A weight matrix returned has
/// its node as only reader; a per channel vector may be shared.
fn fold_targets(
    g: &Graph,
    producers: &HashMap<&str, usize>,
    uses: &HashMap<String, Vec<Use>>,
    value: &str,
    k: usize,
    depth: usize,
) -> Option<Vec<FoldTarget>> {
    let node = *producers.get(value)?;
    let n = &g.nodes[node];
    if !n.domain.is_empty() || n.output(0) != Some(value) {
        return None;
    }
    let init = |slot: usize| n.input(slot).filter(|v| g.initializers.contains_key(*v));
    let vector = |slot: usize| {
        let name = init(slot)?;
        let shared = !single_input_use(uses, name);
        Some(FoldTarget { name: name.to_string(), axis: channel_vector(g, name, k)?, node, slot, shared })
    };
    // A rank-2 weight whose `axis` has the `k` output channels, read here only.
    let matrix = |slot: usize, axis: usize| {
        let name = init(slot).filter(|v| single_input_use(uses, v))?;
        let t = &g.initializers[name];
        (t.shape().len() == 2 && t.shape()[axis] == k && t.dtype().is_float()).then(|| FoldTarget {
            name: name.to_string(),
            axis,
            node,
            slot,
            shared: false,
        })
    };
    match n.op.as_str() {
        "Mul" if n.inputs.len() == 2 => {
            for slot in [1, 0] {
                if let Some(t) = vector(slot) {
                    return Some(vec![t]);
                }
            }
            // Both operands computed: scale the one whose producer takes it.
            if depth == 0 {
                return None;
            }
            for slot in [1, 0] {
                let operand = n.input(slot)?;
                if g.initializers.contains_key(operand) || !single_input_use(uses, operand) {
                    continue;
                }
                if let Some(t) = fold_targets(g, producers, uses, operand, k, depth - 1) {
                    return Some(t);
                }
            }
            None
        }
        "MatMul" => Some(vec![matrix(1, 1)?]),
        "Gemm" => {
            let axis = if n.attr_int("transB", 0).ok()? == 0 { 1 } else { 0 };
            let mut out = vec![matrix(1, axis)?];
            if n.input(2).is_some() {
                out.push(vector(2)?);
            }
            Some(out)
        }
        "Add" if n.inputs.len() == 2 && depth > 0 => {
            for (bias, other) in [(1, 0), (0, 1)] {
                let Some(b) = vector(bias) else { continue };
                let operand = n.input(other)?;
                if g.initializers.contains_key(operand) || !single_input_use(uses, operand) {
                    continue;
                }
                let producer = &g.nodes[*producers.get(operand)?];
                if !matches!(producer.op.as_str(), "MatMul" | "Gemm") {
                    continue;
                }
                let mut out = fold_targets(g, producers, uses, operand, k, depth - 1)?;
                out.push(b);
                return Some(out);
            }
            None
        }
        // A reshape keeping the channels last (`[B, S, K]` to `[B·S, K]`
        // before a `Gemm`, as torch exports linear layers) passes the
        // per channel scale through unchanged.
        "Reshape" if depth > 0 => {
            let shape = g.initializers.get(n.input(1)?)?;
            let last = shape.as_slice::<i64>().ok()?.last().copied()?;
            let data = n.input(0)?;
            if last != k as i64 || g.initializers.contains_key(data) || !single_input_use(uses, data) {
                return None;
            }
            fold_targets(g, producers, uses, data, k, depth - 1)
        }
        "LayerNormalization" | "RMSNormalization" => {
            // Only the normalised output may be read: the mean and inverse
            // deviation outputs do not scale.
            if n.present_outputs().count() != 1 {
                return None;
            }
            let mut out = vec![vector(1)?];
            if n.op == "LayerNormalization" && n.input(2).is_some() {
                out.push(vector(2)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// The activations AWQ may scale: every reader is a weight about to be
/// quantized (not an embedding, read by that node alone), and the scaling
/// folds somewhere exact.
fn groups(g: &Graph, cands: &[Candidate], choice: &[Precision]) -> Vec<Group> {
    let producers = g.producers();
    let uses = g.uses();
    let by_name: HashMap<&str, usize> = cands.iter().enumerate().map(|(i, w)| (w.name.as_str(), i)).collect();
    let mut acts: Vec<&str> = Vec::new();
    for (w, &p) in cands.iter().zip(choice) {
        if p != Precision::Float && !w.embedding {
            for a in &w.activations {
                if !acts.contains(&a.as_str()) {
                    acts.push(a);
                }
            }
        }
    }
    let mut out = Vec::new();
    'act: for act in acts {
        let Some(list) = uses.get(act) else { continue };
        let mut weights = Vec::new();
        let mut k = None;
        for u in list {
            let Use::Input { node, slot: 0 } = *u else { continue 'act };
            let n = &g.nodes[node];
            let Some(&i) = n.input(1).and_then(|w| by_name.get(w)) else { continue 'act };
            let w = &cands[i];
            let (Some((_, Some(r))), false, true) = (w.axes, w.embedding, choice[i] != Precision::Float) else {
                continue 'act;
            };
            if w.shape.len() != 2 || !single_input_use(&uses, &w.name) || !w.activations.iter().any(|a| a == act) {
                continue 'act;
            }
            if *k.get_or_insert(w.shape[r]) != w.shape[r] {
                continue 'act;
            }
            weights.push(i);
        }
        let Some(k) = k else { continue };
        if let Some(fold) = fold_targets(g, &producers, &uses, act, k, 3) {
            out.push(Group { act: act.to_string(), k, weights, fold });
        }
    }
    out
}

/// A weight as the `[n, k]` view (rows: output channels), its rows
/// subsampled to at most `rows`; returns the view and the row count.
fn view(values: &[f32], shape: &[usize], r: usize, rows: usize) -> (Vec<f32>, usize) {
    let k = shape[r];
    let n = shape[1 - r];
    let step = n.div_ceil(rows.max(1)).max(1);
    let picked: Vec<usize> = (0..n).step_by(step).collect();
    let mut v = Vec::with_capacity(picked.len() * k);
    for &nn in &picked {
        for kk in 0..k {
            v.push(if r == 1 { values[nn * k + kk] } else { values[kk * n + nn] });
        }
    }
    (v, picked.len())
}

/// `Σ_n δ_nᵀ H δ_n` for `d` (`[n, k]`), `h` (`k × k`).
fn output_error(d: &[f32], n: usize, k: usize, h: &[f32]) -> f64 {
    let mut dh = vec![0f32; n * k];
    // SAFETY of the call: the slices hold n·k, k·k and n·k values, row-major with the strides given.
    unsafe {
        matrixmultiply::sgemm(
            n,
            k,
            k,
            1.0,
            d.as_ptr(),
            k as isize,
            1,
            h.as_ptr(),
            k as isize,
            1,
            0.0,
            dh.as_mut_ptr(),
            k as isize,
            1,
        );
    }
    d.iter().zip(&dh).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum()
}

/// The integer form of one weight in the `[n, k]` view: blocks along `k`,
/// one scale per row, or per tensor.
fn view_spec(spec: &WeightSpec) -> WeightSpec {
    let granularity = match spec.granularity {
        Granularity::Blocked { block, .. } => Granularity::Blocked { axis: 1, block },
        Granularity::PerAxis(_) => Granularity::PerAxis(0),
        Granularity::PerTensor => Granularity::PerTensor,
    };
    // Plain min/max in the search: the clipping search runs once, on the
    // chosen scaling (it would cost GRID times as much here).
    WeightSpec { granularity, clip: false, ..*spec }
}

/// The scaled weight's error seen at the output: quantize `w·s` (per
/// input channel), divide by `s` again, and weigh the difference by `H`.
fn scaled_error(w: &[f32], n: usize, k: usize, s: &[f32], spec: &WeightSpec, h: &[f32]) -> Result<f64> {
    let scaled: Vec<f32> = w.chunks_exact(k).flat_map(|row| row.iter().zip(s).map(|(&x, &m)| x * m)).collect();
    let qt = scheme::quantize_tensor(&scaled, &[n, k], spec)?;
    let back = scheme::dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size)?;
    let d: Vec<f32> = w
        .chunks_exact(k)
        .zip(back.chunks_exact(k))
        .flat_map(|(row, q)| row.iter().zip(q).zip(s).map(|((&x, &y), &m)| if x.is_finite() { x - y / m } else { 0.0 }))
        .collect();
    Ok(output_error(&d, n, k, h))
}

/// Per channel scales `x̄^α / w̄^(1−α)` (`w̄` all ones for plain AWQ),
/// normalised to a geometric mean of 1 of the largest and smallest, as AWQ
/// does; `x̄` from the Hessian's diagonal.
fn scales(rms: &[f64], wmean: Option<&[f64]>, alpha: f64) -> Vec<f32> {
    let s: Vec<f64> = rms
        .iter()
        .enumerate()
        .map(|(k, &x)| {
            let w = wmean.map_or(1.0, |w| w[k].max(1e-4).powf(1.0 - alpha));
            (x.max(1e-4).powf(alpha) / w).max(1e-4)
        })
        .collect();
    let (lo, hi) = s.iter().fold((f64::INFINITY, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let norm = (lo * hi).sqrt();
    s.iter().map(|&x| (x / norm) as f32).collect()
}

/// Each input channel's mean weight magnitude relative to its group's
/// largest (AutoAWQ's "duo scaling" statistic), over the `[n, k]` views.
fn weight_means(views: &[(Vec<f32>, usize, WeightSpec)], k: usize) -> Vec<f64> {
    let mut sum = vec![0f64; k];
    let mut rows = 0usize;
    for (v, n, spec) in views {
        let block = match spec.granularity {
            Granularity::Blocked { block, .. } => block.max(1),
            _ => k,
        };
        for row in v.chunks_exact(k).take(*n) {
            for (start, chunk) in row.chunks(block).enumerate() {
                let max = chunk.iter().fold(0f32, |m, x| m.max(x.abs())).max(f32::MIN_POSITIVE);
                for (j, x) in chunk.iter().enumerate() {
                    sum[start * block + j] += f64::from(x.abs() / max);
                }
            }
        }
        rows += n;
    }
    sum.iter().map(|s| s / rows.max(1) as f64).collect()
}

/// Scales every axis-`axis` slice `i` of `name` by `f(i)`.
fn rescale(g: &mut Graph, name: &str, axis: usize, f: &dyn Fn(usize) -> f32) -> Result<()> {
    let t = g.initializers[name].clone();
    let values = scheme::float_values(&t)?.ok_or_else(|| ir::Error::invalid(format!("AWQ: '{name}' is not float")))?;
    let shape = t.shape().to_vec();
    let inner: usize = shape[axis + 1..].iter().product();
    let len = shape[axis];
    let out: Vec<f32> = values.iter().enumerate().map(|(i, &x)| x * f((i / inner) % len)).collect();
    store_floats(g, name, t.dtype(), shape, out)
}

/// Searches and applies the scaling of every activation AWQ can scale, on
/// the model before quantization (the function it computes is unchanged).
/// Returns the report lines.
pub(crate) fn apply(
    model: &mut Model,
    c: &Config,
    cands: &[Candidate],
    choice: &[Precision],
    samples: &[Sample],
    spec_of: &dyn Fn(Granularity, QType) -> WeightSpec,
) -> Result<Vec<String>> {
    let groups = groups(&model.graph, cands, choice);
    let mut names = ir::NameGen::for_graph(&model.graph);
    let mut lines = Vec::new();
    let needs: Vec<Vec<(String, usize)>> = groups.iter().map(|gr| vec![(gr.act.clone(), gr.k)]).collect();
    let (mut scaled, mut before, mut after) = (0usize, 0f64, 0f64);
    // The scalings are exact, so every Hessian can come from the float
    // model: batches only bound the memory.
    for batch in stats::batches(&needs, crate::weight::HESSIAN_BUDGET) {
        let wanted: Vec<(String, usize)> = batch.iter().map(|&b| needs[b][0].clone()).collect();
        let hs = stats::hessians(model, samples, &wanted)?;
        for &b in &batch {
            let gr = &groups[b];
            let Some(h) = hs.get(&gr.act).filter(|h| h.rows > 0) else { continue };
            let k = gr.k;
            let rms: Vec<f64> = (0..k).map(|i| (h.h[i * k + i] / h.rows as f64).sqrt()).collect();
            let h32: Vec<f32> = h.h.iter().map(|&x| x as f32).collect();
            // Each weight's subsampled [n, k] view and integer form.
            let mut views = Vec::new();
            for &i in &gr.weights {
                let w = &cands[i];
                let (Some((gran, q)), Some((_, Some(r)))) = (w.form(choice[i], c), w.axes) else { continue };
                let t = &model.graph.initializers[&w.name];
                let values = scheme::float_values(t)?.expect("candidates are float");
                let (v, n) = view(&values, &w.shape, r, SEARCH_ROWS);
                views.push((v, n, view_spec(&spec_of(gran, q))));
            }
            let wmean = weight_means(&views, k);
            let error = |s: &[f32]| -> Result<f64> {
                views.iter().map(|(v, n, spec)| scaled_error(v, *n, k, s, spec, &h32)).sum()
            };
            let base = error(&vec![1.0; k])?;
            // Both of AutoAWQ's grids: activations alone, and activations
            // over weight magnitudes.
            let mut best: Option<(f64, Vec<f32>, f64, bool)> = None;
            for duo in [false, true] {
                for step in 0..=GRID {
                    let alpha = step as f64 / GRID as f64;
                    if alpha == 0.0 && !duo {
                        continue;
                    }
                    let s = scales(&rms, duo.then_some(&wmean[..]), alpha);
                    let e = error(&s)?;
                    if e.is_finite() && e < best.as_ref().map_or(base, |b| b.0) {
                        best = Some((e, s, alpha, duo));
                    }
                }
            }
            let Some((best, s, best_alpha, duo)) = best else { continue };
            let g = &mut model.graph;
            for &i in &gr.weights {
                let w = &cands[i];
                let Some((_, Some(r))) = w.axes else { continue };
                rescale(g, &w.name, r, &|kk| s[kk])?;
            }
            let mut folded = Vec::new();
            for t in &gr.fold {
                let name = if t.shared {
                    // This reader's own copy (a few hundred values).
                    let copy = names.fresh(&format!("{}_awq", t.name));
                    let v = g.initializers[&t.name].clone();
                    g.initializers.insert(copy.clone(), v);
                    g.nodes[t.node].inputs[t.slot] = Some(copy.clone());
                    copy
                } else {
                    t.name.clone()
                };
                rescale(g, &name, t.axis, &|kk| 1.0 / s[kk])?;
                folded.push(if t.shared { format!("{name} (a copy of {}, shared)", t.name) } else { name });
            }
            scaled += 1;
            before += base;
            after += best;
            let names: Vec<&str> = gr.weights.iter().map(|&i| cands[i].name.as_str()).collect();
            lines.push(format!(
                "  awq: '{}' scaled with alpha {best_alpha:.2}{} into {} ({} reader(s): {}): output error {:.1}% of plain rounding",
                gr.act,
                if duo { " (over weight magnitudes)" } else { "" },
                folded.join(", "),
                names.len(),
                names.join(", "),
                100.0 * best / base.max(f64::MIN_POSITIVE)
            ));
        }
    }
    let total = groups.len();
    lines.insert(
        0,
        format!(
            "AWQ: {scaled} of {total} foldable activation(s) scaled{}",
            if scaled > 0 {
                format!(
                    ", their readers' output error on the calibration rows {:.1}% of plain rounding",
                    100.0 * after / before.max(f64::MIN_POSITIVE)
                )
            } else {
                String::new()
            }
        ),
    );
    Ok(lines)
}
