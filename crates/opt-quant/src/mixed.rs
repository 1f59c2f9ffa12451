//! Mixed int4 / backup precision by sensitivity, and the output SQNR on
//! calibration samples.
//!
//! A weight's sensitivity is the error 4 bits add over the backup precision
//! at the layer's output, estimated as `Σ_{n,k} ΔW²_nk · E[x_k²]`: the
//! squared weight error weighted by the energy of the input channel it
//! multiplies (the Hessian's diagonal from the calibration samples; 1 for
//! every channel without data, which reduces to the weight error). Weights
//! leave 4 bits most sensitive per parameter (`ratio`) or per added byte
//! (`target-size`) first; `min-sqnr` measures the model's output instead of
//! estimating it.

use std::collections::HashMap;

use ir::{Model, Result};

use crate::scheme::{self, Granularity, QType, WeightSpec};
use crate::stats::{self, Sample};
use crate::weight::Candidate;
use crate::{Config, Precision};

/// Squared error of `values` quantized by `spec`, each element weighted by
/// its input channel's energy (`energy[k]` for reduction index `k`).
fn weighted_error(
    values: &[f32],
    shape: &[usize],
    spec: &WeightSpec,
    reduce: usize,
    energy: Option<&[f64]>,
) -> Result<f64> {
    let qt = scheme::quantize_tensor(values, shape, spec)?;
    let Some(e) = energy else { return Ok(qt.noise) };
    let back = scheme::dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size)?;
    let inner: usize = shape[reduce + 1..].iter().product();
    let len = shape[reduce];
    let mut sum = 0f64;
    for (i, (&x, &y)) in values.iter().zip(&back).enumerate() {
        if x.is_finite() {
            let k = (i / inner) % len;
            let d = f64::from(x - y);
            sum += d * d * e.get(k).copied().unwrap_or(1.0);
        }
    }
    Ok(sum)
}

/// Moves weights from 4 bits to `c.backup` by the configured rule;
/// returns the report lines.
pub(crate) fn choose(
    model: &Model,
    c: &Config,
    cands: &[Candidate],
    choice: &mut [Precision],
    samples: Option<&[Sample]>,
    half_scales: bool,
    spec_of: &dyn Fn(Granularity, QType) -> WeightSpec,
) -> Result<Vec<String>> {
    let g = &model.graph;
    let eligible: Vec<usize> =
        (0..cands.len()).filter(|&i| !cands[i].embedding && choice[i] == Precision::Int4).collect();
    if eligible.is_empty() {
        return Ok(vec!["mixed precision: no int4 weight to choose from".into()]);
    }
    // Channel energies of the weights' activations, when there is data.
    let energy: Option<HashMap<String, Vec<f64>>> = match samples {
        Some(s) => {
            let mut wanted = HashMap::new();
            for &i in &eligible {
                if let Some((_, Some(r))) = cands[i].axes {
                    for a in &cands[i].activations {
                        wanted.insert(a.clone(), cands[i].shape[r]);
                    }
                }
            }
            let d = stats::diagonals(model, s, &wanted)?;
            Some(
                d.into_iter()
                    .map(|(n, d)| {
                        let rows = d.rows.max(1) as f64;
                        (n, d.sq.into_iter().map(|x| x / rows).collect())
                    })
                    .collect(),
            )
        }
        None => None,
    };
    // Per weight: (index, error added by 4 bits, parameters, bytes added by the backup).
    let mut sens: Vec<(usize, f64, u64, u64)> = Vec::new();
    for &i in &eligible {
        let w = &cands[i];
        let t = &g.initializers[&w.name];
        let values = scheme::float_values(t)?.expect("targets are float");
        let Some((_, Some(r))) = w.axes else { continue };
        // The energies of every activation the weight multiplies, summed.
        let summed: Option<Vec<f64>> = energy.as_ref().and_then(|en| {
            let mut acc: Option<Vec<f64>> = None;
            for a in &w.activations {
                let e = en.get(a)?;
                match &mut acc {
                    None => acc = Some(e.clone()),
                    Some(s) => s.iter_mut().zip(e).for_each(|(x, y)| *x += y),
                }
            }
            acc
        });
        let e = summed.as_deref();
        let (g4, q4) = w.form(Precision::Int4, c).expect("eligible weights take int4");
        let err4 = weighted_error(&values, &w.shape, &spec_of(g4, q4), r, e)?;
        let errb = match w.form(c.backup, c) {
            Some((gb, qb)) => weighted_error(&values, &w.shape, &spec_of(gb, qb), r, e)?,
            None => 0.0,
        };
        if let Some(b) = t.raw() {
            b.release();
        }
        let float = t.byte_len() as u64;
        let extra =
            w.bytes(c.backup, c, float, half_scales).saturating_sub(w.bytes(Precision::Int4, c, float, half_scales));
        sens.push((i, (err4 - errb).max(0.0), w.numel(), extra.max(1)));
    }
    let basis = if energy.is_some() {
        "weight error x input-channel energy on the calibration samples"
    } else {
        "weight error (no calibration data)"
    };
    let total_params: u64 = sens.iter().map(|s| s.2).sum();
    let mut lines = Vec::new();
    if let Some(ratio) = c.ratio {
        // Most sensitive per parameter first, until the backup share is used.
        sens.sort_by(|a, b| (b.1 / b.2 as f64).total_cmp(&(a.1 / a.2 as f64)));
        let allowed = ((1.0 - ratio) * total_params as f64).floor() as u64;
        let mut used = 0u64;
        for &(i, _, p, _) in &sens {
            if used + p <= allowed {
                choice[i] = c.backup;
                used += p;
            }
        }
        lines.push(format!(
            "mixed precision, ratio {ratio}: {:.1}% of {} parameters in int4, the rest in {} (sensitivity: {basis})",
            100.0 * (total_params - used) as f64 / total_params.max(1) as f64,
            total_params,
            c.backup.name()
        ));
    } else if let Some(target) = c.target_size {
        // Everything else's bytes, then the cheapest quality per byte first.
        let mut bytes: u64 = g
            .initializers
            .iter()
            .filter(|(n, _)| !cands.iter().any(|w| &w.name == *n))
            .map(|(_, t)| t.byte_len() as u64)
            .sum();
        for (w, p) in cands.iter().zip(choice.iter()) {
            bytes += w.bytes(*p, c, g.initializers[&w.name].byte_len() as u64, half_scales);
        }
        if bytes > target {
            lines.push(format!(
                "mixed precision: every weight in int4 still takes {bytes} bytes, over the target of {target}"
            ));
        } else {
            sens.sort_by(|a, b| (b.1 / b.3 as f64).total_cmp(&(a.1 / a.3 as f64)));
            let mut moved = 0;
            for &(i, _, _, extra) in &sens {
                if bytes + extra <= target {
                    choice[i] = c.backup;
                    bytes += extra;
                    moved += 1;
                }
            }
            lines.push(format!(
                "mixed precision, target {target} bytes: {moved} of {} weights in {}, {bytes} bytes expected (sensitivity: {basis})",
                sens.len(),
                c.backup.name()
            ));
        }
    } else if let Some(min) = c.min_sqnr {
        let samples = samples.ok_or_else(|| {
            ir::Error::usage("min-sqnr measures the output: it needs calibration data (--calibration DIR)")
        })?;
        sens.sort_by(|a, b| (b.1 / b.2 as f64).total_cmp(&(a.1 / a.2 as f64)));
        let reference = outputs(model, samples)?;
        // The fewest weights in the backup precision (most sensitive first)
        // whose model reaches the SQNR: the SQNR grows with the count, so a
        // bisection over it.
        let measure = |m: usize| -> Result<f64> {
            let mut trial = choice.to_vec();
            for &(i, ..) in &sens[..m] {
                trial[i] = c.backup;
            }
            let mut q = model.clone();
            for (w, p) in cands.iter().zip(&trial) {
                let Some((gr, qt)) = w.form(*p, c) else { continue };
                let t = q.graph.initializers[&w.name].clone();
                let values = scheme::float_values(&t)?.expect("targets are float");
                let qz = scheme::quantize_tensor(&values, &w.shape, &spec_of(gr, qt))?;
                let back = scheme::dequantize_tensor(&qz.q, &qz.scale, qz.zero_point.as_ref(), qz.axis, qz.block_size)?;
                crate::weight::store_floats(&mut q.graph, &w.name, t.dtype(), w.shape.clone(), back)?;
            }
            output_sqnr(&q, samples, &reference)
        };
        let (mut lo, mut hi) = (0usize, sens.len());
        let mut at_hi = measure(hi)?;
        if at_hi < min {
            lines.push(format!(
                "mixed precision: even with every candidate in {} the output SQNR is {at_hi:.1} dB, under {min} dB",
                c.backup.name()
            ));
        } else {
            let at_lo = measure(lo)?;
            if at_lo >= min {
                hi = lo;
                at_hi = at_lo;
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                let s = measure(mid)?;
                if s >= min {
                    hi = mid;
                    at_hi = s;
                } else {
                    lo = mid;
                }
            }
            lines.push(format!(
                "mixed precision, min SQNR {min} dB: {hi} of {} weights in {}, {at_hi:.1} dB on the calibration samples (sensitivity order: {basis})",
                sens.len(),
                c.backup.name()
            ));
        }
        for &(i, ..) in &sens[..hi] {
            choice[i] = c.backup;
        }
    }
    Ok(lines)
}

/// The model's float outputs on each sample, flattened.
pub(crate) fn outputs(model: &Model, samples: &[Sample]) -> Result<Vec<Vec<Vec<f32>>>> {
    let session = eval::Session::new(model).map_err(|e| ir::Error::invalid(format!("calibration: {e}")))?;
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let out =
                session.run(s.clone()).map_err(|e| ir::Error::invalid(format!("calibration sample {}: {e}", i + 1)))?;
            Ok(out
                .into_iter()
                .filter_map(|(_, v)| match v.tensor() {
                    Ok(eval::Tensor::F32(a)) => Some(a.iter().copied().collect()),
                    _ => None,
                })
                .collect())
        })
        .collect()
}

/// `10·log10(Σ ref² / Σ (ref − out)²)` of the model's outputs on the samples.
pub(crate) fn output_sqnr(model: &Model, samples: &[Sample], reference: &[Vec<Vec<f32>>]) -> Result<f64> {
    let got = outputs(model, samples)?;
    let (mut sig, mut noi) = (0f64, 0f64);
    for (r, o) in reference.iter().zip(&got) {
        for (a, b) in r.iter().zip(o) {
            for (&x, &y) in a.iter().zip(b) {
                if x.is_finite() && y.is_finite() {
                    sig += f64::from(x) * f64::from(x);
                    noi += f64::from(x - y) * f64::from(x - y);
                }
            }
        }
    }
    Ok(scheme::sqnr_db(sig, noi))
}
