//! Weight-only quantization (`int8`, `int4`): each weight initializer of a
//! Conv/ConvTranspose/MatMul/Gemm becomes a `DequantizeLinear` of integers
//! that produces a value of the weight's old name, so every reader is unchanged.
//!
//! Weights are processed one at a time: read (a view into the mapped file),
//! converted to f32, quantized, and the f32 copy dropped before the next.

use std::collections::{BTreeMap, HashMap};

use ir::{Attribute, DType, Graph, Model, NameGen, Node, Result, Tensor, bf16, f16};

use crate::scheme::{self, DqNames, Granularity, QType, WeightSpec};
use crate::stats::Sample;
use crate::{Config, LayerError, Method, MethodReport, Precision, WeightMethod, opset};

/// The input of `node` a method may quantize as a weight, with that input's
/// output-channel axis and reduction axis (for groups) as the node sees it;
/// `None` if the node reads no weight. `rank` is the weight's rank. Which
/// input is the weight and how its axes lie is `ir::schema`'s fact
/// (`weight_layout`); `matmul_only` (int4) keeps MatMul, Gemm and embedding
/// tables. Integer ops (ConvInteger, MatMulInteger) name weights too, but
/// theirs are integers already and the callers take float weights only.
///
/// Embedding tables (`Gather` data) count as weights, as onnxruntime's and
/// NNCF's quantizers treat them: scales run along the gathered axis (one per
/// row), groups along the other axis of a 2-D table.
pub(crate) fn weight_axes(node: &Node, rank: usize, matmul_only: bool) -> Option<(usize, usize, Option<usize>)> {
    use ir::schema::WeightRule;
    if !node.domain.is_empty() {
        return None;
    }
    let rule = ir::schema::of(node)?.weight?;
    if matmul_only && !matches!(rule, WeightRule::MatMul { .. } | WeightRule::Gemm | WeightRule::Embedding) {
        return None;
    }
    // A 1-D embedding table has no rows to give scales to.
    if rule == WeightRule::Embedding && rank != 2 {
        return None;
    }
    let l = ir::schema::weight_layout(node, rank)?;
    Some((l.input, l.out_axis, l.reduce_axis))
}

/// A reader of a weight: node index, output-channel axis, reduction axis
/// (axes of the initializer itself, after undoing any `Transpose` between).
pub(crate) type Reader = (usize, usize, Option<usize>);

/// The DQ nodes to put first in the graph, and each quantized weight's scales.
pub(crate) type Applied = (Vec<Node>, BTreeMap<String, Vec<f32>>);

/// The initializer a value is, or is computed from by `Identity` and
/// `Transpose` nodes only (how torch.onnx writes deduplicated and tied
/// weights), with the permutation mapping the value's axes to the
/// initializer's: value axis `i` is initializer axis `perm[i]`.
fn weight_source<'g>(g: &'g Graph, producers: &HashMap<&str, usize>, value: &'g str) -> Option<(&'g str, Vec<usize>)> {
    let mut v = value;
    let mut perm: Option<Vec<usize>> = None;
    // A chain longer than this is not a weight layout, and the bound keeps a
    // malformed graph from looping.
    for _ in 0..16 {
        if let Some(t) = g.initializers.get(v) {
            let rank = t.shape().len();
            let perm = perm.unwrap_or_else(|| (0..rank).collect());
            return (perm.len() == rank).then_some((v, perm));
        }
        let n = &g.nodes[*producers.get(v)?];
        if !n.domain.is_empty() {
            return None;
        }
        let input = n.input(0)?;
        match n.op.as_str() {
            "Identity" => {}
            "Transpose" => {
                let rank = g.initializers.get(input).map(|t| t.shape().len());
                let p: Vec<usize> = match n.attr_ints("perm").ok()? {
                    Some(p) => p.iter().map(|&a| usize::try_from(a).ok()).collect::<Option<_>>()?,
                    None => (0..rank.or(perm.as_ref().map(Vec::len))?).rev().collect(),
                };
                let cur = perm.unwrap_or_else(|| (0..p.len()).collect());
                if cur.len() != p.len() || cur.iter().any(|&a| a >= p.len()) {
                    return None;
                }
                perm = Some(cur.iter().map(|&a| p[a]).collect());
            }
            _ => return None,
        }
        v = input;
    }
    None
}

/// Weights (initializer name → readers' axes) that a method may quantize:
/// float initializers read as a weight by the target ops (directly or through
/// `Identity`/`Transpose`), not graph inputs or outputs. A weight several
/// nodes read (tied embeddings, layers torch.onnx deduplicated) appears once
/// with all its readers, so it is quantized once and every reader is served
/// by the one `DequantizeLinear`.
pub(crate) fn weight_targets(g: &Graph, matmul_only: bool) -> Result<BTreeMap<String, Vec<Reader>>> {
    let producers = g.producers();
    let mut out: BTreeMap<String, Vec<Reader>> = BTreeMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for slot in [0usize, 1] {
            let Some(v) = n.input(slot) else { continue };
            let Some((w, perm)) = weight_source(g, &producers, v) else { continue };
            let t = &g.initializers[w];
            if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16)
                || g.inputs.iter().any(|x| x.name == w)
                || g.outputs.iter().any(|x| x.name == w)
            {
                continue;
            }
            if let Some((s, axis, red)) = weight_axes(n, t.shape().len(), matmul_only)
                && s == slot
            {
                out.entry(w.to_string()).or_default().push((i, perm[axis], red.map(|r| perm[r])));
            }
        }
    }
    Ok(out)
}

/// Replaces `name`'s float values by `values` (same shape, original dtype).
pub(crate) fn store_floats(g: &mut Graph, name: &str, dtype: DType, shape: Vec<usize>, values: Vec<f32>) -> Result<()> {
    let t = match dtype {
        DType::F16 => Tensor::from_vec(shape, values.into_iter().map(f16::from_f32).collect())?,
        DType::BF16 => Tensor::from_vec(shape, values.into_iter().map(bf16::from_f32).collect())?,
        _ => Tensor::from_vec(shape, values)?,
    };
    g.initializers.insert(name.to_string(), t);
    Ok(())
}

/// Adds the nodes computing `name` from a quantized tensor: a DQ node, which
/// produces its scale's type, and a `Cast` to the weight's type when they
/// differ (f32 scales of an f16/bf16 weight, f16 scales of an f32 weight).
pub(crate) fn emit_dq(
    g: &mut Graph,
    names: &mut NameGen,
    name: &str,
    dtype: DType,
    qt: scheme::QuantizedTensor,
    nodes: &mut Vec<Node>,
) {
    g.initializers.shift_remove(name);
    let dq_names = DqNames::fresh(names, name);
    if qt.scale.dtype() == dtype {
        nodes.push(scheme::dq_weight_node(g, qt.into_weight(), &dq_names, name));
    } else {
        let tmp = names.fresh(&format!("{name}_dequantized"));
        nodes.push(scheme::dq_weight_node(g, qt.into_weight(), &dq_names, &tmp));
        let cast = Node::new("Cast", [tmp], [name]).named(names.fresh(&format!("{name}_Cast")));
        nodes.push(cast.with_attr("to", Attribute::Int(i64::from(dtype.onnx_code()))));
    }
}

/// The opset whose `DequantizeLinear` takes f16 scales.
const HALF_SCALE_OPSET: i64 = 19;

/// Raises the model's opset for the weight forms about to be written
/// (`form`: the oldest opset taking them all, 0 for none) and for f16
/// scales when `any` weight is quantized. Returns whether scales are f16
/// and whether per-channel scales must fall back to per-tensor (int8 at an
/// opset that cannot be raised to 13); int4 that cannot be written fails.
fn raise_opset(
    model: &mut Model,
    c: &Config,
    form: i64,
    any: bool,
    int4: bool,
    report: &mut MethodReport,
) -> Result<(bool, bool)> {
    let mut half_scales = c.half_scales && !c.dequantize && any;
    let mut per_tensor = false;
    if c.dequantize {
        return Ok((half_scales, per_tensor));
    }
    if half_scales && model.onnx_opset() < HALF_SCALE_OPSET.max(form) {
        match opset::raise(model, HALF_SCALE_OPSET.max(form)) {
            Ok(notes) => report.lines.extend(notes),
            Err(e) => {
                report.lines.push(format!("f32 scales used: f16 scales need opset {HALF_SCALE_OPSET} ({e})"));
                half_scales = false;
            }
        }
    }
    if form > 0 && model.onnx_opset() < form {
        match opset::raise(model, form) {
            Ok(notes) => report.lines.extend(notes),
            Err(e) if !int4 && model.onnx_opset() >= 10 => {
                report.lines.push(format!(
                    "per-tensor scales used: per-channel needs opset 13 and the opset cannot be raised ({e})"
                ));
                per_tensor = true;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "{} needs opset {form}; use the 'dequantize' option to store dequantized weights instead",
                    c.method.name()
                )));
            }
        }
    }
    Ok((half_scales, per_tensor))
}

/// What [`plan`] decided: each weight's granularity, and whether scales are f16.
pub(crate) struct Plan {
    pub weights: Vec<(String, Granularity)>,
    pub half_scales: bool,
}

/// Chooses each target weight's granularity (its readers must agree on the
/// axis) and raises the opset when the chosen form needs it, falling back to
/// per-tensor int8 when it cannot be raised. Returns the plan and report lines.
pub(crate) fn plan(
    model: &mut Model,
    c: &Config,
    qtype: QType,
    matmul_only: bool,
    report: &mut MethodReport,
    skipped: &mut Vec<String>,
) -> Result<Plan> {
    let int4 = matches!(qtype, QType::I4 | QType::U4);
    let targets = weight_targets(&model.graph, matmul_only)?;
    let mut plan: Vec<(String, Granularity)> = Vec::new();
    for (name, uses) in &targets {
        let (_, axis, red) = uses[0];
        let agree = uses.iter().all(|u| u.1 == axis && u.2 == red);
        let g = if int4 {
            match (agree, red) {
                (true, Some(r)) => Granularity::Blocked { axis: r, block: c.group_size },
                _ => {
                    skipped.push(format!("{name} (readers disagree on the axis)"));
                    continue;
                }
            }
        } else if c.per_tensor || !agree {
            Granularity::PerTensor
        } else {
            Granularity::PerAxis(axis)
        };
        plan.push((name.clone(), g));
    }
    let form = plan.iter().map(|(_, g)| g.min_opset(qtype)).max().unwrap_or(0);
    let (half_scales, per_tensor) = raise_opset(model, c, form, !plan.is_empty(), int4, report)?;
    if per_tensor {
        for p in &mut plan {
            p.1 = Granularity::PerTensor;
        }
    }
    Ok(Plan { weights: plan, half_scales })
}

/// Quantizes the planned weights one at a time (DQ nodes, or dequantized
/// floats with `dequantize`); returns the new nodes (to go first in the
/// graph) and each weight's scales.
pub(crate) fn apply(
    model: &mut Model,
    c: &Config,
    qtype: QType,
    plan: Plan,
    report: &mut MethodReport,
    skipped: &mut Vec<String>,
) -> Result<Applied> {
    let half_scales = plan.half_scales;
    let spec = |granularity| WeightSpec {
        qtype,
        symmetric: !c.asymmetric,
        narrow: true,
        granularity,
        half_scales,
        clip: false,
    };
    let mut names = NameGen::for_graph(&model.graph);
    let opset = model.onnx_opset();
    let g = &mut model.graph;
    let mut new_nodes = Vec::new();
    let mut scales = BTreeMap::new();
    let mut f32_fallback = Vec::new();
    for (name, granularity) in plan.weights {
        let t = g.initializers[&name].clone();
        if t.dtype() == DType::BF16 && !c.dequantize && opset < 13 {
            skipped.push(format!("{name} (bf16 needs opset 13)"));
            continue;
        }
        let qt = {
            let values = scheme::float_values(&t)?.expect("targets are float");
            scheme::quantize_tensor(&values, t.shape(), &spec(granularity))
                .map_err(|e| e.context(format!("weight '{name}'")))?
        };
        // Done with the float weight: let a mapped file's pages go.
        if let Some(b) = t.raw() {
            b.release();
        }
        report.layers.push(LayerError { name: name.clone(), sqnr_db: qt.sqnr_db() });
        if half_scales && qt.scale.dtype() != DType::F16 {
            f32_fallback.push(name.clone());
        }
        let scale_values = scheme::float_values(&qt.scale)?.expect("scales are float").into_owned();
        scales.insert(name.clone(), scale_values);
        report.quantized.0 += t.byte_len() as u64;
        report.quantized.1 +=
            (qt.q.byte_len() + qt.scale.byte_len() + qt.zero_point.as_ref().map_or(0, Tensor::byte_len)) as u64;
        if c.dequantize {
            let values = scheme::dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size)?;
            store_floats(g, &name, t.dtype(), t.shape().to_vec(), values)?;
        } else {
            emit_dq(g, &mut names, &name, t.dtype(), qt, &mut new_nodes);
        }
    }
    if !f32_fallback.is_empty() {
        report.lines.push(format!("f32 scales kept (a scale outside f16's normal range): {}", f32_fallback.join(", ")));
    }
    Ok((new_nodes, scales))
}

/// The weight integer type of a method's options.
pub(crate) fn weight_qtype(int4: bool, asymmetric: bool) -> QType {
    match (int4, asymmetric) {
        (false, false) => QType::I8,
        (false, true) => QType::U8,
        (true, false) => QType::I4,
        (true, true) => QType::U4,
    }
}

/// The activation a reader multiplies the weight with, when the reader is
/// a `MatMul` (or a `Gemm` without `transA`) holding the weight as `B`: the
/// rows of that activation are the inputs GPTQ and the sensitivity see.
fn reader_activation(g: &Graph, node: usize, rank: usize) -> Option<&str> {
    let n = &g.nodes[node];
    let l = ir::schema::weight_layout(n, rank)?;
    let ok = match n.op.as_str() {
        "MatMul" => rank == 2,
        "Gemm" => n.attr_int("transA", 0).ok()? == 0,
        _ => false,
    };
    (ok && l.input == 1).then(|| n.input(0)).flatten()
}

/// A weight the weight-only methods may quantize, with what decides how.
pub(crate) struct Candidate {
    pub name: String,
    pub shape: Vec<usize>,
    /// Output-channel and reduction axes, when every reader agrees on them.
    pub axes: Option<(usize, Option<usize>)>,
    /// Read by a `Gather` (an embedding table, tied or not).
    pub embedding: bool,
    /// The activations its readers multiply it with (distinct), when every
    /// reader but a `Gather` is a MatMul holding it as B: what GPTQ needs.
    pub activations: Vec<String>,
}

impl Candidate {
    pub fn numel(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// The granularity and integer type of `p`, if the weight can take it.
    pub fn form(&self, p: Precision, c: &Config) -> Option<(Granularity, QType)> {
        match p {
            Precision::Float => None,
            Precision::Int4 => match self.axes {
                Some((_, Some(r))) => {
                    Some((Granularity::Blocked { axis: r, block: c.group_size }, weight_qtype(true, c.asymmetric)))
                }
                _ => None,
            },
            Precision::Int8 => {
                let g = match self.axes {
                    Some((a, _)) if !c.per_tensor => Granularity::PerAxis(a),
                    _ => Granularity::PerTensor,
                };
                Some((g, weight_qtype(false, c.asymmetric)))
            }
        }
    }

    /// Bytes the weight takes stored in precision `p` (integers, scales,
    /// zero points), `float` being its bytes now.
    pub fn bytes(&self, p: Precision, c: &Config, float: u64, half_scales: bool) -> u64 {
        let Some((g, q)) = self.form(p, c) else { return float };
        let n = self.numel();
        let ints = if matches!(q, QType::I4 | QType::U4) { n.div_ceil(2) } else { n };
        let groups: u64 = g.scale_shape(&self.shape).iter().map(|&d| d as u64).product();
        let scale = groups * if half_scales { 2 } else { 4 };
        let zp = if q.signed() {
            0
        } else if matches!(q, QType::U4) {
            groups.div_ceil(2)
        } else {
            groups
        };
        ints + scale + zp
    }
}

/// Every weight the method may quantize, in the graph's order of first use.
fn candidates(g: &Graph, matmul_only: bool) -> Result<Vec<Candidate>> {
    let targets = weight_targets(g, matmul_only)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut order: Vec<(&String, &Vec<Reader>)> = targets.iter().collect();
    order.sort_by_key(|(_, r)| r.iter().map(|u| u.0).min());
    for (name, uses) in order {
        if !seen.insert(name.clone()) {
            continue;
        }
        let shape = g.initializers[name].shape().to_vec();
        let (_, axis, red) = uses[0];
        let agree = uses.iter().all(|u| u.1 == axis && u.2 == red);
        let embedding = uses.iter().any(|u| g.nodes[u.0].op == "Gather");
        // The activations of the readers other than Gathers (a tied table's
        // LM head, the MatMuls of a shared weight).
        let acts: Option<Vec<&str>> = uses
            .iter()
            .filter(|u| g.nodes[u.0].op != "Gather")
            .map(|u| reader_activation(g, u.0, shape.len()).filter(|a| !g.initializers.contains_key(*a)))
            .collect();
        let mut activations: Vec<String> = Vec::new();
        for a in acts.unwrap_or_default() {
            if !activations.iter().any(|x| x == a) {
                activations.push(a.to_string());
            }
        }
        out.push(Candidate { name: name.clone(), shape, axes: agree.then_some((axis, red)), embedding, activations });
    }
    Ok(out)
}

/// Per-weight outcome, for the report.
struct Done {
    precision: Precision,
    granularity: Granularity,
    method: &'static str,
    sqnr: f64,
    gain: Option<f64>,
}

/// The calibration budget for Hessians held at once (one pass over the
/// samples per batch of this many bytes).
pub(crate) const HESSIAN_BUDGET: usize = 256 << 20;

/// What the report needs of a weight already written.
struct Emitted {
    sqnr: f64,
    float_bytes: u64,
    quantized_bytes: u64,
    half: bool,
}

/// Runs `int8` or `int4` weight-only quantization (RTN with the clipping
/// search, or GPTQ), with embedding tables in their own precision and, for
/// int4, mixed precision by sensitivity. `samples` are the calibration
/// inputs when the options need data.
pub(crate) fn run(model: &mut Model, c: &Config, samples: Option<&[Sample]>) -> Result<MethodReport> {
    let int4 = c.method == Method::Int4;
    let mut report = MethodReport::default();
    let own = if int4 { Precision::Int4 } else { Precision::Int8 };
    let emb = c.embeddings.unwrap_or(own);
    let cands = candidates(&model.graph, int4)?;
    let mut skipped = Vec::new();
    // Each weight's precision: embeddings as asked, the rest the method's own.
    let mut choice: Vec<Precision> = cands.iter().map(|w| if w.embedding { emb } else { own }).collect();
    for (w, p) in cands.iter().zip(choice.iter_mut()) {
        if *p != Precision::Float && w.form(*p, c).is_none() {
            // int4 needs the readers to agree on the reduction axis.
            skipped.push(format!("{} (readers disagree on the axis)", w.name));
            *p = Precision::Float;
        }
    }
    let samples = samples.map(|s| &s[..c.samples.map_or(s.len(), |n| n.min(s.len()))]);
    if samples.is_some_and(<[Sample]>::is_empty) {
        return Err(ir::Error::invalid("no calibration samples"));
    }
    if c.weight_method.needs_data() && samples.is_none() {
        return Err(ir::Error::usage(format!(
            "weight method {} needs calibration data (--calibration DIR)",
            c.weight_method.name()
        )));
    }
    // Opset and scale type for the forms that may be used.
    let mut form = 0;
    for (w, &p) in cands.iter().zip(&choice) {
        for q in [p, c.backup] {
            if let Some((g, qt)) = w.form(q, c) {
                form = form.max(g.min_opset(qt));
            }
        }
    }
    let any = choice.iter().any(|&p| p != Precision::Float);
    let (half_scales, per_tensor) = raise_opset(model, c, form, any, int4, &mut report)?;
    let fallback = per_tensor.then(|| Config { per_tensor: true, ..c.clone() });
    let c = fallback.as_ref().unwrap_or(c);
    let spec_of = |g: Granularity, q: QType| WeightSpec {
        qtype: q,
        symmetric: !c.asymmetric,
        narrow: !c.clip,
        granularity: g,
        half_scales,
        clip: c.clip,
    };
    // Mixed precision: which weights leave 4 bits.
    if c.mixed() {
        let lines = crate::mixed::choose(model, c, &cands, &mut choice, samples, half_scales, &spec_of)?;
        report.lines.extend(lines);
    }
    // The float outputs on the calibration samples, to report the output
    // SQNR there after quantizing.
    let reference = match samples {
        Some(s) => Some(crate::mixed::outputs(model, s)?),
        None => None,
    };
    // AWQ: scalings the float model does not see (folded exactly), so
    // that the quantizers below find salient channels on finer steps.
    if c.weight_method.awq()
        && let Some(samples) = samples
    {
        report.lines.extend(crate::awq::apply(model, c, &cands, &choice, samples, &spec_of)?);
    }
    // GPTQ: the Hessians of the activations of the weights it takes, a
    // bounded batch at a time, on the float model.
    let mut names = NameGen::for_graph(&model.graph);
    let mut emitted: HashMap<String, Emitted> = HashMap::new();
    if c.weight_method.gptq()
        && let Some(samples) = samples
    {
        // The weights GPTQ takes, with the activations whose Hessians
        // (summed: the loss of every reader) it needs.
        let mut takers: Vec<usize> = Vec::new();
        let mut needs: Vec<Vec<(String, usize)>> = Vec::new();
        for (i, (w, &p)) in cands.iter().zip(&choice).enumerate() {
            if let (false, Some((_, Some(r))), true) = (w.activations.is_empty(), w.axes, p != Precision::Float)
                && w.shape.len() == 2
            {
                takers.push(i);
                needs.push(w.activations.iter().map(|a| (a.clone(), w.shape[r])).collect());
            }
        }
        // Each batch sees the batches before it quantized (their DQ nodes
        // are written as soon as they are done). Splitting further, one
        // pass per layer input as the paper does, measured worse on
        // held-out inputs with few calibration rows (15.86 against
        // 16.06 dB on the Llama bench model, in-sample 20.4 dB: it fits
        // the samples closer) at 5x the time, so batches follow the
        // memory budget alone.
        for batch in crate::stats::batches(&needs, HESSIAN_BUDGET) {
            let mut wanted: Vec<(String, usize)> = Vec::new();
            for &b in &batch {
                for a in &needs[b] {
                    if !wanted.contains(a) {
                        wanted.push(a.clone());
                    }
                }
            }
            let mut hs = crate::stats::hessians(model, samples, &wanted)?;
            for &b in &batch {
                let (w, p) = (&cands[takers[b]], choice[takers[b]]);
                let (Some((g, q)), Some((out_axis, Some(r)))) = (w.form(p, c), w.axes) else { continue };
                let mut h: Option<crate::stats::Hessian> = None;
                for a in &w.activations {
                    let Some(x) = hs.get(a) else { continue };
                    match &mut h {
                        None => h = Some(x.clone()),
                        Some(s) => {
                            s.h.iter_mut().zip(&x.h).for_each(|(p, q)| *p += q);
                            s.rows += x.rows;
                        }
                    }
                }
                let Some(h) = h.filter(|h| h.rows > 0) else { continue };
                let t = model.graph.initializers[&w.name].clone();
                let values = scheme::float_values(&t)?.expect("targets are float");
                let (n, k) = (w.shape[out_axis], w.shape[r]);
                // The [n, k] view GPTQ works on.
                let view: Vec<f32> = if r == 1 {
                    values.to_vec()
                } else {
                    let mut v = vec![0f32; n * k];
                    for kk in 0..k {
                        for nn in 0..n {
                            v[nn * k + kk] = values[kk * n + nn];
                        }
                    }
                    v
                };
                let spec = spec_of(g, q);
                let group = match g {
                    Granularity::Blocked { block, .. } => Some(block),
                    _ => None,
                };
                if matches!(g, Granularity::PerTensor) {
                    continue;
                }
                // A tied table is also read row by row by its Gather, whose
                // error is the plain weight error: an identity term as
                // large as the mean activation energy weighs that use in.
                let damp = if w.embedding { crate::gptq::TIED_DAMP } else { crate::gptq::DAMP };
                let qz = crate::gptq::quantize(&view, n, k, h.h, &spec, group, c.act_order, damp)
                    .map_err(|e| e.context(format!("weight '{}'", w.name)))?;
                let (ints, gp) = crate::gptq::to_layout(qz, n, k, r, g)?;
                let mut qt = scheme::assemble(&ints, &w.shape, &spec, &gp, 0.0, 0.0)?;
                let back = scheme::dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size)?;
                let (sig, noi) =
                    values.iter().zip(&back).filter(|(x, _)| x.is_finite()).fold((0f64, 0f64), |(s, e), (&x, &y)| {
                        (s + f64::from(x) * f64::from(x), e + f64::from(x - y) * f64::from(x - y))
                    });
                (qt.signal, qt.noise) = (sig, noi);
                if let Some(b) = t.raw() {
                    b.release();
                }
                // Written now, so the next batch's Hessians see this
                // weight quantized.
                let e = Emitted {
                    sqnr: qt.sqnr_db(),
                    float_bytes: t.byte_len() as u64,
                    quantized_bytes: (qt.q.byte_len()
                        + qt.scale.byte_len()
                        + qt.zero_point.as_ref().map_or(0, Tensor::byte_len))
                        as u64,
                    half: qt.scale.dtype() == DType::F16,
                };
                let g = &mut model.graph;
                if c.dequantize {
                    store_floats(g, &w.name, t.dtype(), t.shape().to_vec(), back)?;
                } else {
                    let mut dq = Vec::new();
                    emit_dq(g, &mut names, &w.name, t.dtype(), qt, &mut dq);
                    g.nodes.splice(0..0, dq);
                }
                emitted.insert(w.name.clone(), e);
            }
            hs.clear();
        }
    }
    // Everything else by round to nearest (with the clipping search), then
    // the DQ nodes, one weight at a time.
    let mut new_nodes = Vec::new();
    let mut done: Vec<(String, Done)> = Vec::new();
    let mut f32_fallback = Vec::new();
    let opset = model.onnx_opset();
    for (w, &p) in cands.iter().zip(&choice) {
        let Some((granularity, qtype)) = w.form(p, c) else { continue };
        if let Some(e) = emitted.remove(&w.name) {
            report.layers.push(LayerError { name: w.name.clone(), sqnr_db: e.sqnr });
            if half_scales && !e.half {
                f32_fallback.push(w.name.clone());
            }
            let method = if c.weight_method.awq() { "awq+gptq" } else { "gptq" };
            done.push((w.name.clone(), Done { precision: p, granularity, method, sqnr: e.sqnr, gain: None }));
            report.quantized.0 += e.float_bytes;
            report.quantized.1 += e.quantized_bytes;
            continue;
        }
        let g = &mut model.graph;
        let t = g.initializers[&w.name].clone();
        if t.dtype() == DType::BF16 && !c.dequantize && opset < 13 {
            skipped.push(format!("{} (bf16 needs opset 13)", w.name));
            continue;
        }
        let (qt, method, gain) = {
            let values = scheme::float_values(&t)?.expect("targets are float");
            let spec = spec_of(granularity, qtype);
            let chosen = scheme::choose_params(&values, &w.shape, &spec)?;
            let qt = scheme::quantize_with(&values, &w.shape, &spec, &chosen)
                .map_err(|e| e.context(format!("weight '{}'", w.name)))?;
            let gain =
                chosen.baseline_noise.filter(|&b| b > 0.0 && qt.noise > 0.0).map(|b| 10.0 * (b / qt.noise).log10());
            let method = match (c.weight_method.awq(), c.clip) {
                (true, true) => "awq+rtn+mse",
                (true, false) => "awq+rtn",
                (false, true) => "rtn+mse",
                (false, false) => "rtn",
            };
            (qt, method, gain)
        };
        if let Some(b) = t.raw() {
            b.release();
        }
        report.layers.push(LayerError { name: w.name.clone(), sqnr_db: qt.sqnr_db() });
        if half_scales && qt.scale.dtype() != DType::F16 {
            f32_fallback.push(w.name.clone());
        }
        done.push((w.name.clone(), Done { precision: p, granularity, method, sqnr: qt.sqnr_db(), gain }));
        report.quantized.0 += t.byte_len() as u64;
        report.quantized.1 +=
            (qt.q.byte_len() + qt.scale.byte_len() + qt.zero_point.as_ref().map_or(0, Tensor::byte_len)) as u64;
        if c.dequantize {
            let values = scheme::dequantize_tensor(&qt.q, &qt.scale, qt.zero_point.as_ref(), qt.axis, qt.block_size)?;
            store_floats(g, &w.name, t.dtype(), t.shape().to_vec(), values)?;
        } else {
            emit_dq(g, &mut names, &w.name, t.dtype(), qt, &mut new_nodes);
        }
    }
    if !f32_fallback.is_empty() {
        report.lines.push(format!("f32 scales kept (a scale outside f16's normal range): {}", f32_fallback.join(", ")));
    }
    let n = done.len();
    let what = match (int4, c.asymmetric) {
        (true, false) => format!("int4 symmetric, groups of {}", c.group_size),
        (true, true) => format!("uint4 asymmetric, groups of {}", c.group_size),
        (false, false) if c.clip => "int8 symmetric".into(),
        (false, false) => "int8 symmetric [-127, 127]".into(),
        (false, true) => "uint8 asymmetric".into(),
    };
    let stored = if c.dequantize {
        ", stored dequantized as floats"
    } else if half_scales {
        ", f16 scales"
    } else {
        ""
    };
    let method = match c.weight_method {
        WeightMethod::Gptq => "GPTQ",
        WeightMethod::AwqGptq => "AWQ scaling, then GPTQ",
        WeightMethod::Awq if c.clip => "AWQ scaling, round to nearest, MSE clipping",
        WeightMethod::Awq => "AWQ scaling, round to nearest",
        WeightMethod::Rtn if c.clip => "round to nearest, MSE clipping",
        WeightMethod::Rtn => "round to nearest",
    };
    report.lines.insert(0, format!("{n} weight tensor(s) quantized ({what}{stored}; {method})"));
    let counts: Vec<String> = [Precision::Int4, Precision::Int8]
        .iter()
        .filter_map(|&p| {
            let k = done.iter().filter(|d| d.1.precision == p).count();
            (k > 0).then(|| format!("{k} in {}", p.name()))
        })
        .collect();
    if counts.len() > 1 || choice.contains(&Precision::Float) {
        let float = cands.iter().zip(&choice).filter(|(_, p)| **p == Precision::Float).count();
        report.lines.push(format!(
            "precision: {}{}",
            counts.join(", "),
            if float > 0 { format!(", {float} left in float") } else { String::new() }
        ));
    }
    for (name, d) in &done {
        let form = match d.granularity {
            Granularity::Blocked { block, .. } => format!("{} g{block}", d.precision.name()),
            Granularity::PerAxis(_) => format!("{} per channel", d.precision.name()),
            Granularity::PerTensor => format!("{} per tensor", d.precision.name()),
        };
        let gain = d.gain.map_or(String::new(), |g| format!(" (+{g:.2} dB from clipping)"));
        report.lines.push(format!("  {name}: {form}, {}, {:.1} dB{gain}", d.method, d.sqnr));
    }
    let partial: Vec<String> = done
        .iter()
        .filter_map(|(name, d)| match d.granularity {
            Granularity::Blocked { axis, block } => {
                let len = cands.iter().find(|w| &w.name == name)?.shape[axis];
                (len % block != 0).then(|| format!("{name} ({len} = {} x {block} + {})", len / block, len % block))
            }
            _ => None,
        })
        .collect();
    if !partial.is_empty() {
        report.lines.push(format!(
            "groups of {} do not divide the reduction axis of {} weight(s); their last group is smaller: {}",
            c.group_size,
            partial.len(),
            partial.join(", ")
        ));
    }
    if !skipped.is_empty() {
        report.lines.push(format!("skipped: {}", skipped.join(", ")));
    }
    let g = &mut model.graph;
    new_nodes.append(&mut g.nodes);
    g.nodes = new_nodes;
    if let (Some(samples), Some(reference)) = (samples, reference) {
        let sqnr = crate::mixed::output_sqnr(model, samples, &reference)?;
        report.lines.push(format!("output SQNR on the {} calibration sample(s): {sqnr:.1} dB", samples.len()));
    }
    Ok(report)
}
