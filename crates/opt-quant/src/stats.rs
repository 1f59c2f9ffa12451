//! Statistics of the activations that weights multiply, gathered by running
//! the evaluator on calibration samples: per input channel energy (the
//! Hessian's diagonal, for sensitivity) and the full Hessian `Σ x xᵀ` (for
//! GPTQ).
//!
//! An activation `[.., K]` read as the A input of a `MatMul` contributes one
//! row `x` of length `K` per leading index. Full Hessians take `K²` f64 each
//! (254 MB for K = 5632), so they are gathered a bounded batch at a time: one
//! pass over the calibration samples per batch, never all of them at once.

use std::collections::HashMap;

use ir::{Model, Result};

/// A calibration sample: named graph inputs.
pub(crate) type Sample = Vec<(String, eval::Value)>;

/// Per channel statistics of one activation.
#[derive(Debug, Clone)]
pub(crate) struct Diag {
    /// Σ x_k² over all rows of all samples (the Hessian's diagonal).
    pub sq: Vec<f64>,
    /// Rows seen.
    pub rows: u64,
}

/// The Hessian `Σ x xᵀ` of one activation (row-major `K × K`, both halves).
#[derive(Debug, Clone)]
pub(crate) struct Hessian {
    /// Channels.
    pub k: usize,
    /// The matrix.
    pub h: Vec<f64>,
    /// Rows seen.
    pub rows: u64,
}

/// Calls `each(name, row)` for every row of the f32 activations in
/// `wanted` (name → channels) that one run over `samples` produces.
fn observe(
    model: &Model,
    samples: &[Sample],
    wanted: &HashMap<String, usize>,
    each: &mut dyn FnMut(&str, &[f32]),
) -> Result<()> {
    let session = eval::Session::new(model).map_err(|e| ir::Error::invalid(format!("calibration: {e}")))?;
    let mut row = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let mut seen = |name: &str, v: &eval::Value| {
            let Some(&k) = wanted.get(name) else { return };
            let Ok(eval::Tensor::F32(a)) = v.tensor() else { return };
            if k == 0 || a.shape().last() != Some(&k) {
                return;
            }
            row.clear();
            for &x in a.iter() {
                row.push(x);
                if row.len() == k {
                    each(name, &row);
                    row.clear();
                }
            }
        };
        for (name, v) in sample {
            seen(name, v);
        }
        session
            .run_observed(sample.clone(), &mut seen)
            .map_err(|e| ir::Error::invalid(format!("calibration sample {}: {e}", i + 1)))?;
    }
    Ok(())
}

/// The per channel energy of each activation in `wanted` (one run over the samples).
pub(crate) fn diagonals(
    model: &Model,
    samples: &[Sample],
    wanted: &HashMap<String, usize>,
) -> Result<HashMap<String, Diag>> {
    let mut out: HashMap<String, Diag> =
        wanted.iter().map(|(n, &k)| (n.clone(), Diag { sq: vec![0.0; k], rows: 0 })).collect();
    observe(model, samples, wanted, &mut |name, row| {
        if let Some(d) = out.get_mut(name) {
            for (s, &x) in d.sq.iter_mut().zip(row) {
                // A non-finite activation says nothing about a channel's scale.
                if x.is_finite() {
                    *s += f64::from(x) * f64::from(x);
                }
            }
            d.rows += 1;
        }
    })?;
    Ok(out)
}

/// Groups items (each needing the Hessians of a few activations, name and
/// channels) into batches, in order, whose distinct Hessians take at most
/// `budget` bytes together; an item larger than the budget is a batch
/// alone. Returns the items' indices per batch.
pub(crate) fn batches(items: &[Vec<(String, usize)>], budget: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut held: Vec<&str> = Vec::new();
    let mut used = 0usize;
    for (i, acts) in items.iter().enumerate() {
        let bytes = |acts: &[(String, usize)], held: &[&str]| -> usize {
            acts.iter()
                .filter(|(n, _)| !held.contains(&n.as_str()))
                .map(|(_, k)| k.saturating_mul(*k).saturating_mul(8))
                .sum()
        };
        if out.is_empty() || used.saturating_add(bytes(acts, &held)) > budget {
            out.push(Vec::new());
            held.clear();
            used = 0;
        }
        used = used.saturating_add(bytes(acts, &held));
        held.extend(acts.iter().map(|(n, _)| n.as_str()));
        out.last_mut().expect("pushed above").push(i);
    }
    out
}

/// The full Hessians of one batch of activations (one run over the samples).
pub(crate) fn hessians(
    model: &Model,
    samples: &[Sample],
    batch: &[(String, usize)],
) -> Result<HashMap<String, Hessian>> {
    let wanted: HashMap<String, usize> = batch.iter().cloned().collect();
    let mut out: HashMap<String, Hessian> = HashMap::new();
    for (n, k) in batch {
        let len = k.checked_mul(*k).ok_or_else(|| ir::Error::invalid(format!("activation '{n}': {k} channels")))?;
        let mut h = Vec::new();
        h.try_reserve_exact(len)
            .map_err(|_| ir::Error::invalid(format!("activation '{n}': no memory for a {k}x{k} Hessian")))?;
        h.resize(len, 0.0);
        out.insert(n.clone(), Hessian { k: *k, h, rows: 0 });
    }
    let mut xs: Vec<f64> = Vec::new();
    observe(model, samples, &wanted, &mut |name, row| {
        let Some(hs) = out.get_mut(name) else { return };
        let k = hs.k;
        xs.clear();
        xs.extend(row.iter().map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 }));
        // The lower triangle only; `finish` mirrors it.
        for i in 0..k {
            let xi = xs[i];
            if xi == 0.0 {
                continue;
            }
            let line = &mut hs.h[i * k..i * k + i + 1];
            for (h, &xj) in line.iter_mut().zip(&xs[..=i]) {
                *h += xi * xj;
            }
        }
        hs.rows += 1;
    })?;
    for hs in out.values_mut() {
        let k = hs.k;
        for i in 0..k {
            for j in 0..i {
                hs.h[j * k + i] = hs.h[i * k + j];
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_budget() {
        let item = |v: &[(&str, usize)]| v.iter().map(|&(n, k)| (n.to_string(), k)).collect::<Vec<_>>();
        // 100² · 8 = 80 kB each; 300² · 8 = 720 kB alone; a shared activation counts once.
        let items = [item(&[("a", 100)]), item(&[("a", 100), ("b", 100)]), item(&[("c", 300)]), item(&[("d", 10)])];
        assert_eq!(batches(&items, 200_000), vec![vec![0, 1], vec![2], vec![3]]);
    }
}
