//! Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//!
//! Opset history: both arrive at 12 (NegativeLogLikelihoodLoss-12 /
//! SoftmaxCrossEntropyLoss-12), 13 adds bf16 to the first (and both accept
//! f16/f32/f64). Input is `[N, C]` or `[N, C, d1, ..., dk]`, target `[N]` or
//! `[N, d1, ..., dk]` of class indices, `weight` an optional `[C]` per-class
//! weight. A target equal to `ignore_index` contributes no loss and no weight.
//! `reduction` is `none` (per-element losses), `sum`, or `mean` (the weighted
//! sum divided by the sum of the weights actually used; with neither weights
//! nor `ignore_index`, the plain mean). SoftmaxCrossEntropyLoss is the
//! negative log likelihood of `log_softmax(input, axis=1)` and can also
//! output those log probabilities.
//!
//! Everything is computed in f64 and rounded once to the input type.

use ir::DType;
use ndarray::ArrayD;

use super::attention::from_real;
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the loss ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("NegativeLogLikelihoodLoss", nll_loss);
    r.add("SoftmaxCrossEntropyLoss", sce_loss);
}

/// How per-element losses are combined.
#[derive(Clone, Copy, PartialEq)]
enum Reduction {
    None,
    Sum,
    Mean,
}

/// The attributes and inputs common to both losses.
struct LossIn {
    /// Input dtype (the output's).
    dtype: DType,
    /// Input shape `[N, C, d...]`.
    shape: Vec<usize>,
    /// Input values.
    x: Vec<f64>,
    /// Target class per `(n, d)`.
    target: Vec<i64>,
    /// Target shape `[N, d...]`.
    target_shape: Vec<usize>,
    weight: Option<Vec<f64>>,
    ignore_index: Option<i64>,
    reduction: Reduction,
}

/// Reads and checks the inputs and attributes.
fn read(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<LossIn> {
    let x = ctx.input(inputs, 0)?;
    let dtype = x.dtype();
    if !matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
        bail!("input must be a float tensor, got {dtype}");
    }
    let shape = x.shape().to_vec();
    if shape.len() < 2 {
        bail!("input must be [N, C] or [N, C, d1, ...], got shape {shape:?}");
    }
    let t = ctx.input(inputs, 1)?;
    if !matches!(t.dtype(), DType::I32 | DType::I64) {
        bail!("target must be int32 or int64, got {}", t.dtype());
    }
    let want: Vec<usize> = std::iter::once(shape[0]).chain(shape[2..].iter().copied()).collect();
    if t.shape() != want.as_slice() {
        bail!("target shape {:?} must be the input's shape without the class axis, {want:?}", t.shape());
    }
    let weight = match ctx.opt_input(inputs, 2)? {
        Some(w) => {
            if w.dtype() != dtype {
                bail!("weight has type {}, expected {dtype} like the input", w.dtype());
            }
            if w.shape() != [shape[1]] {
                bail!("weight shape {:?} must be [C] = [{}]", w.shape(), shape[1]);
            }
            Some(w.to_f64_vec()?)
        }
        None => None,
    };
    let ignore_index = ctx.node.attr("ignore_index").map(|_| ctx.int("ignore_index", 0)).transpose()?;
    let reduction = match ctx.string("reduction", "mean")?.as_str() {
        "none" => Reduction::None,
        "sum" => Reduction::Sum,
        "mean" => Reduction::Mean,
        r => bail!("reduction must be none, sum or mean, got '{r}'"),
    };
    Ok(LossIn {
        dtype,
        x: x.to_f64_vec()?,
        shape,
        target: t.to_i64_vec()?,
        target_shape: want,
        weight,
        ignore_index,
        reduction,
    })
}

/// The negative log likelihood of `logp` (laid out `[N, C, D]`) at the
/// targets, reduced; one output tensor of the input type.
fn nll(p: &LossIn, logp: &[f64]) -> Result<Tensor> {
    let (n, c) = (p.shape[0], p.shape[1]);
    let d: usize = p.shape[2..].iter().product();
    let mut loss = Vec::with_capacity(n * d);
    // The sum of the weights used: the element count when there are no
    // weights, less the ignored elements.
    let mut wsum = 0.0;
    for ni in 0..n {
        for di in 0..d {
            let t = p.target[ni * d + di];
            if Some(t) == p.ignore_index {
                loss.push(0.0);
                continue;
            }
            let Some(ci) = usize::try_from(t).ok().filter(|&ci| ci < c) else {
                bail!("target {t} at position {} is not a class index in 0..{c}", ni * d + di);
            };
            let w = p.weight.as_ref().map_or(1.0, |w| w[ci]);
            wsum += w;
            loss.push(-logp[(ni * c + ci) * d + di] * w);
        }
    }
    let (shape, vals): (Vec<usize>, Vec<f64>) = match p.reduction {
        Reduction::None => (p.target_shape.clone(), loss),
        Reduction::Sum => (vec![], vec![loss.iter().sum()]),
        Reduction::Mean => (vec![], vec![loss.iter().sum::<f64>() / wsum]),
    };
    from_real(p.dtype, &array(&shape, vals)?)
}

/// NegativeLogLikelihoodLoss: the input already holds log probabilities.
fn nll_loss(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let p = read(ctx, inputs)?;
    Ok(vec![nll(&p, &p.x)?.into()])
}

/// SoftmaxCrossEntropyLoss, with the optional log_prob output.
fn sce_loss(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let p = read(ctx, inputs)?;
    let (n, c) = (p.shape[0], p.shape[1]);
    let d: usize = p.shape[2..].iter().product();
    // log_softmax over the class axis, stabilised by the maximum.
    let mut logp = p.x.clone();
    for ni in 0..n {
        for di in 0..d {
            let idx = |ci: usize| (ni * c + ci) * d + di;
            let m = (0..c).map(|ci| p.x[idx(ci)]).fold(f64::NEG_INFINITY, f64::max);
            let lse = (0..c).map(|ci| (p.x[idx(ci)] - m).exp()).sum::<f64>().ln() + m;
            for ci in 0..c {
                logp[idx(ci)] = p.x[idx(ci)] - lse;
            }
        }
    }
    let loss = nll(&p, &logp)?;
    let mut out = vec![loss.into()];
    if ctx.node.outputs.get(1).is_some_and(|o| !o.is_empty()) {
        let lp: ArrayD<f64> = array(&p.shape, logp)?;
        out.push(from_real(p.dtype, &lp)?.into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reduce::tests::run_node;
    use ir::{Attribute, Node};

    fn node(op: &str, ins: usize, outs: usize, attrs: &[(&str, Attribute)]) -> Node {
        let mut n = Node::new(op, (0..ins).map(|i| format!("i{i}")), (0..outs).map(|i| format!("o{i}")));
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v.clone());
        }
        n
    }

    fn close(t: &Tensor, want: &[f64]) {
        let g = t.to_f64_vec().unwrap();
        assert_eq!(g.len(), want.len());
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{g:?} vs {want:?}");
        }
    }

    fn x() -> Tensor {
        Tensor::f32(&[2, 3], vec![-1.0, -2.0, -3.0, -0.5, -1.5, -2.5]).unwrap()
    }

    #[test]
    fn nll_reductions_weights_and_ignore_index() {
        let t = Tensor::i64(&[2], vec![2, 1]).unwrap();
        let none = node("NegativeLogLikelihoodLoss", 2, 1, &[("reduction", Attribute::String("none".into()))]);
        close(&run_node(none, 13, vec![Some(x()), Some(t.clone())]).unwrap()[0], &[3.0, 1.5]);
        let mean = node("NegativeLogLikelihoodLoss", 3, 1, &[]);
        let w = Tensor::f32(&[3], vec![1.0, 2.0, 4.0]).unwrap();
        // (3*4 + 1.5*2) / (4 + 2)
        close(&run_node(mean, 13, vec![Some(x()), Some(t.clone()), Some(w.clone())]).unwrap()[0], &[2.5]);
        // Ignoring class 1: only the first element counts (3*4 / 4).
        let ign = node("NegativeLogLikelihoodLoss", 3, 1, &[("ignore_index", Attribute::Int(1))]);
        close(&run_node(ign, 13, vec![Some(x()), Some(t), Some(w)]).unwrap()[0], &[3.0]);
        // A class index out of range is an error.
        let bad = Tensor::i64(&[2], vec![3, 0]).unwrap();
        let sum = node("NegativeLogLikelihoodLoss", 2, 1, &[("reduction", Attribute::String("sum".into()))]);
        assert!(run_node(sum, 13, vec![Some(x()), Some(bad)]).is_err());
    }

    #[test]
    fn sce_matches_log_softmax_and_outputs_log_prob() {
        let xs = [1.0f64, 2.0, 3.0];
        let lse = xs.iter().map(|v| v.exp()).sum::<f64>().ln();
        let n = node("SoftmaxCrossEntropyLoss", 2, 2, &[("reduction", Attribute::String("sum".into()))]);
        let x = Tensor::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let out = run_node(n, 13, vec![Some(x), Some(Tensor::i64(&[1], vec![0]).unwrap())]).unwrap();
        close(&out[0], &[lse - 1.0]);
        close(&out[1], &xs.map(|v| v - lse));
    }
}
