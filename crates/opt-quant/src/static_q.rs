//! `int8-static`: calibrated QDQ activations, int8 weights, int32 biases.
//!
//! 1. The float model runs on each calibration sample through the
//!    evaluator; every activation read by a Conv/ConvTranspose/MatMul/Gemm
//!    is shown to a [`Histogram`] as it is produced (nothing is kept between
//!    samples but the histograms).
//! 2. Each such activation gets a `QuantizeLinear` → `DequantizeLinear` pair
//!    (uint8, asymmetric, range from the chosen calibration method widened
//!    to include 0) in front of those readers.
//! 3. Weights become int8 DQ weights (symmetric, per output channel), and a
//!    Conv/Gemm bias read by one node becomes an int32 DQ weight of scale
//!    `s_in · s_w` (per channel) and zero point 0, the form integer kernels use.

use std::collections::{BTreeMap, HashMap};

use ir::{Attribute, DType, Model, NameGen, Node, Result, Tensor};

use crate::calib::Histogram;
use crate::scheme::{self, QType};
use crate::{Calibrate, Config, MethodReport, weight};

/// Inputs of `node` that carry activations to quantize.
fn activation_slots(node: &Node) -> &'static [usize] {
    if !node.domain.is_empty() {
        return &[];
    }
    match node.op.as_str() {
        "Conv" | "ConvTranspose" | "Gemm" => &[0],
        "MatMul" => &[0, 1],
        _ => &[],
    }
}

/// Runs `int8-static` with the given calibration samples.
pub(crate) fn run(model: &mut Model, c: &Config, samples: &[Vec<(String, eval::Value)>]) -> Result<MethodReport> {
    let mut report = MethodReport::default();
    let samples = &samples[..c.samples.map_or(samples.len(), |n| n.min(samples.len()))];
    if samples.is_empty() {
        return Err(ir::Error::invalid("int8-static: no calibration samples"));
    }
    // Activations to observe: non-initializer inputs of the target ops.
    let g = &model.graph;
    let mut wanted: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for &slot in activation_slots(n) {
            if let Some(x) = n.input(slot)
                && !g.initializers.contains_key(x)
            {
                wanted.entry(x.to_string()).or_default().push((i, slot));
            }
        }
    }
    let mut hists: HashMap<String, Histogram> = wanted.keys().map(|k| (k.clone(), Histogram::new())).collect();
    let mut dtypes: HashMap<String, DType> = HashMap::new();
    {
        let session = eval::Session::new(model).map_err(|e| ir::Error::invalid(format!("calibration: {e}")))?;
        for (k, sample) in samples.iter().enumerate() {
            let mut seen = |name: &str, v: &eval::Value| {
                let Some(h) = hists.get_mut(name) else { return };
                let Ok(t) = v.tensor() else { return };
                dtypes.insert(name.to_string(), t.dtype());
                if let eval::Tensor::F32(a) = t {
                    h.add(a.iter().copied());
                }
            };
            // Graph inputs are not produced by a node: show them directly.
            for (name, v) in sample {
                seen(name, v);
            }
            session
                .run_observed(sample.clone(), &mut seen)
                .map_err(|e| ir::Error::invalid(format!("calibration sample {}: {e}", k + 1)))?;
        }
    }
    let method = match c.calibrate {
        Calibrate::MinMax => "min/max".to_string(),
        Calibrate::Percentile(p) => format!("percentile {p}"),
        Calibrate::Entropy => "entropy (KL)".to_string(),
    };
    // Weights first (their scales feed the bias scales).
    let mut skipped = Vec::new();
    let mut wc = c.clone();
    wc.asymmetric = false;
    let plan = weight::plan(model, &wc, QType::I8, false, &mut report, &mut skipped)?;
    let (dq_nodes, w_scales) = weight::apply(model, &wc, QType::I8, plan, &mut report, &mut skipped)?;
    let mut names = NameGen::for_graph(&model.graph);
    let g = &mut model.graph;
    // Activation parameters.
    let mut act: HashMap<String, (String, f32)> = HashMap::new();
    let mut qdq_nodes: HashMap<usize, Vec<Node>> = HashMap::new();
    for (x, readers) in &wanted {
        let h = &hists[x];
        if dtypes.get(x) != Some(&DType::F32) || h.count() == 0 {
            skipped
                .push(format!("activation {x} ({})", dtypes.get(x).map_or("never produced".into(), |d| d.to_string())));
            continue;
        }
        let (lo, hi) = h.range(c.calibrate);
        let p = scheme::qparams(lo, hi, QType::U8, false, false);
        let (scale, zp) = (names.fresh(&format!("{x}_scale")), names.fresh(&format!("{x}_zero_point")));
        g.initializers.insert(scale.clone(), Tensor::scalar(p.scale));
        g.initializers.insert(zp.clone(), Tensor::scalar(p.zero_point as u8));
        let qdq = ir::quant::QdqNames::fresh(&mut names, x);
        let xdq = qdq.dequantized.clone();
        let first = readers.iter().map(|r| r.0).min().expect("has readers");
        qdq_nodes.entry(first).or_default().extend(ir::quant::qdq_pair(x, &scale, &zp, &qdq));
        for &(node, slot) in readers {
            g.nodes[node].inputs[slot] = Some(xdq.clone());
        }
        act.insert(x.clone(), (xdq, p.scale));
    }
    // Biases: int32, scale s_in · s_w, read by exactly one node.
    let uses = g.uses();
    let mut biases = 0usize;
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        if !(n.domain.is_empty() && matches!(n.op.as_str(), "Conv" | "Gemm"))
            || (n.op == "Gemm" && n.attr_float("beta", 1.0)? != 1.0)
        {
            continue;
        }
        let (Some(xdq), Some(w), Some(b)) = (n.input(0), n.input(1), n.input(2)) else { continue };
        let Some((_, s_in)) = act.values().find(|(d, _)| d == xdq).cloned() else { continue };
        let Some(s_w) = w_scales.get(w) else { continue };
        let Some(bt) = g.initializers.get(b).filter(|t| t.dtype() == DType::F32 && t.shape().len() == 1) else {
            continue;
        };
        let n_out = bt.numel();
        if uses.get(b).is_none_or(|u| u.len() != 1) || !(s_w.len() == n_out || s_w.len() == 1) {
            continue;
        }
        let alpha = if n.op == "Gemm" { n.attr_float("alpha", 1.0)? } else { 1.0 };
        let bias_scale: Vec<f32> = (0..n_out).map(|k| s_in * s_w[if s_w.len() == 1 { 0 } else { k }] * alpha).collect();
        let bv = bt.as_slice::<f32>()?;
        let q: Vec<i32> = bv
            .iter()
            .zip(&bias_scale)
            .map(|(&v, &s)| {
                if s >= f32::MIN_POSITIVE {
                    (f64::from(v) / f64::from(s)).round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i32
                } else {
                    0
                }
            })
            .collect();
        let err: f64 = bv
            .iter()
            .zip(&q)
            .zip(&bias_scale)
            .map(|((&v, &qi), &s)| (f64::from(v) - f64::from(qi as f32 * s)).powi(2))
            .sum();
        let sig: f64 = bv.iter().map(|&v| f64::from(v).powi(2)).sum();
        report.layers.push(crate::LayerError { name: b.to_string(), sqnr_db: scheme::sqnr_db(sig, err) });
        let b = b.to_string();
        let (qn, sn) = (names.fresh(&format!("{b}_quantized")), names.fresh(&format!("{b}_scale")));
        g.initializers.shift_remove(&b);
        g.initializers.insert(qn.clone(), Tensor::from_vec(vec![n_out], q)?);
        g.initializers.insert(sn.clone(), Tensor::from_vec(vec![n_out], bias_scale)?);
        let mut dq =
            Node::new("DequantizeLinear", [qn, sn], [b.clone()]).named(names.fresh(&format!("{b}_DequantizeLinear")));
        // A per-tensor weight scale gives one bias scale: a scalar (valid from
        // opset 10); otherwise a per-axis vector (the weights already needed 13).
        if s_w.len() == 1 {
            let scalar = Tensor::scalar(s_in * s_w[0] * alpha);
            g.initializers.insert(dq.inputs[1].clone().expect("set"), scalar);
        } else {
            dq.attrs.insert("axis".into(), Attribute::Int(0));
        }
        qdq_nodes.entry(0).or_default().insert(0, dq);
        biases += 1;
    }
    let old = std::mem::take(&mut g.nodes);
    let mut nodes = dq_nodes;
    for (i, n) in old.into_iter().enumerate() {
        if let Some(extra) = qdq_nodes.remove(&i) {
            nodes.extend(extra);
        }
        nodes.push(n);
    }
    g.nodes = nodes;
    g.topo_sort()?;
    report.lines.insert(
        0,
        format!(
            "{} activation(s) quantized (uint8 asymmetric, {method}, {} sample(s)), {} weight(s) int8 per channel, {biases} bias(es) int32",
            act.len(),
            samples.len(),
            w_scales.len()
        ),
    );
    if !skipped.is_empty() {
        report.lines.push(format!("skipped: {}", skipped.join(", ")));
    }
    Ok(report)
}
