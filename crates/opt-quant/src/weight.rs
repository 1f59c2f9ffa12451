//! Weight-only quantization (`int8`, `int4`): each weight initializer of a
//! Conv/ConvTranspose/MatMul/Gemm becomes a `DequantizeLinear` of integers
//! that produces a value of the weight's old name, so every reader is unchanged.
//!
//! Weights are processed one at a time: read (a view into the mapped file),
//! converted to f32, quantized, and the f32 copy dropped before the next.

use std::collections::{BTreeMap, HashMap};

use ir::{Attribute, DType, Graph, Model, NameGen, Node, Result, Tensor, bf16, f16};

use crate::scheme::{self, DqNames, Granularity, QType, WeightSpec};
use crate::{Config, LayerError, Method, MethodReport, opset};

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
    let mut half_scales = c.half_scales && !c.dequantize && !plan.is_empty();
    if !c.dequantize {
        let form = plan.iter().map(|(_, g)| g.min_opset(qtype)).max().unwrap_or(0);
        if half_scales && model.onnx_opset() < HALF_SCALE_OPSET.max(form) {
            match opset::raise(model, HALF_SCALE_OPSET.max(form)) {
                Ok(notes) => report.lines.extend(notes),
                Err(e) => {
                    report.lines.push(format!("f32 scales used: f16 scales need opset {HALF_SCALE_OPSET} ({e})"));
                    half_scales = false;
                }
            }
        }
        if model.onnx_opset() < form {
            match opset::raise(model, form) {
                Ok(notes) => report.lines.extend(notes),
                Err(e) if !int4 && model.onnx_opset() >= 10 => {
                    report.lines.push(format!(
                        "per-tensor scales used: per-channel needs opset 13 and the opset cannot be raised ({e})"
                    ));
                    for p in &mut plan {
                        p.1 = Granularity::PerTensor;
                    }
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "{} needs opset {form}; use the 'dequantize' option to store dequantized weights instead",
                        c.method.name()
                    )));
                }
            }
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
    let spec = |granularity| WeightSpec { qtype, symmetric: !c.asymmetric, narrow: true, granularity, half_scales };
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

/// Runs `int8` or `int4` weight-only quantization.
pub(crate) fn run(model: &mut Model, c: &Config) -> Result<MethodReport> {
    let int4 = c.method == Method::Int4;
    let mut report = MethodReport::default();
    let qtype = weight_qtype(int4, c.asymmetric);
    let mut skipped = Vec::new();
    let plan = plan(model, c, qtype, int4, &mut report, &mut skipped)?;
    let half_scales = plan.half_scales;
    let (mut new_nodes, _) = apply(model, c, qtype, plan, &mut report, &mut skipped)?;
    let n = report.layers.len();
    let what = match (int4, c.asymmetric) {
        (true, false) => format!("int4 symmetric, groups of {}", c.group_size),
        (true, true) => format!("uint4 asymmetric, groups of {}", c.group_size),
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
    report.lines.insert(0, format!("{n} weight tensor(s) quantized ({what}{stored})"));
    if !skipped.is_empty() {
        report.lines.push(format!("skipped: {}", skipped.join(", ")));
    }
    let g = &mut model.graph;
    new_nodes.append(&mut g.nodes);
    g.nodes = new_nodes;
    Ok(report)
}
