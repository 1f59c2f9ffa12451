//! `fp16` / `bf16`: float weights stored in half precision.
//!
//! Default (weights only): every f32 initializer of 16 or more elements is
//! stored as f16/bf16 and read through a `Cast` back to f32 under its old
//! name, so all arithmetic stays f32 and graph inputs/outputs are unchanged
//! (the same shape OpenVINO's compressed weights take: Constant(f16) →
//! Convert). Smaller constants (epsilons, scalars, shape arithmetic) stay
//! f32: they cost nothing and are often exact thresholds.
//!
//! With `activations`, the graph itself runs in half precision (see
//! [`crate::half_prec::convert_activations`]): inputs and outputs stay f32
//! behind Casts, and the ops that are unsafe in half precision stay f32.
//!
//! Values beyond the target's range are clamped to its largest finite value,
//! and reported with the count of non-zero values that underflow to 0.

use std::collections::{HashMap, HashSet};

use ir::{Attribute, DType, Model, NameGen, Node, Result, Tensor, bf16, f16};

use crate::{Config, LayerError, Method, MethodReport, opset};

/// Initializers smaller than this stay f32.
const MIN_ELEMENTS: usize = 16;

/// Whether `node` stays in f32 when activations are converted: the op
/// table's `KEEP_F32` class (`ir::schema`): exponentials and sums over rows
/// overflow f16's 65504 (Softmax, Exp, Pow, the large reductions, CumSum),
/// normalization statistics lose all precision, and index or coordinate
/// arithmetic needs more than 11 bits of mantissa (Range, Resize, RoiAlign,
/// GridSample, NonMaxSuppression, TopK).
fn keeps_f32(node: &Node) -> bool {
    ir::schema::is(node, ir::schema::Class::KEEP_F32)
}

/// Counts of values changed beyond rounding by a conversion.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Clamps {
    /// Values beyond the target's largest finite value, clamped.
    pub clamped: usize,
    /// Non-zero values that became zero.
    pub flushed: usize,
}

/// Converts f32 values to the half type `dtype` with clamping; returns the tensor and the error figures.
pub(crate) fn to_half(
    values: &[f32],
    shape: Vec<usize>,
    dtype: DType,
    clamps: &mut Clamps,
) -> Result<(Tensor, f64, f64)> {
    let (mut signal, mut noise) = (0f64, 0f64);
    let mut track = |x: f32, y: f32| {
        if x.is_finite() {
            signal += f64::from(x) * f64::from(x);
            let d = f64::from(x) - f64::from(y);
            noise += d * d;
        }
        if x != 0.0 && y == 0.0 {
            clamps.flushed += 1;
        }
    };
    let t = if dtype == DType::F16 {
        let max = f16::MAX.to_f32();
        let mut out = Vec::with_capacity(values.len());
        for &x in values {
            let c = if x.is_finite() && x.abs() > max {
                clamps.clamped += 1;
                x.clamp(-max, max)
            } else {
                x
            };
            let h = f16::from_f32(c);
            track(x, h.to_f32());
            out.push(h);
        }
        Tensor::from_vec(shape, out)?
    } else {
        let max = bf16::MAX.to_f32();
        let mut out = Vec::with_capacity(values.len());
        for &x in values {
            let mut h = bf16::from_f32(x);
            if x.is_finite() && h.is_infinite() {
                clamps.clamped += 1;
                h = bf16::from_f32(max.copysign(x));
            }
            track(x, h.to_f32());
            out.push(h);
        }
        Tensor::from_vec(shape, out)?
    };
    Ok((t, signal, noise))
}

fn onnx_type(dtype: DType) -> i64 {
    i64::from(dtype.onnx_code())
}

/// Runs `fp16` or `bf16`.
pub(crate) fn run(model: &mut Model, c: &Config) -> Result<MethodReport> {
    let dtype = if c.method == Method::Fp16 { DType::F16 } else { DType::BF16 };
    let mut report = MethodReport::default();
    // Cast to/from bf16 exists from opset 13.
    if dtype == DType::BF16 && model.onnx_opset() < 13 {
        report.lines.extend(opset::raise(model, 13).map_err(|e| e.context("bf16 needs opset 13"))?);
    }
    let mut clamps = Clamps::default();
    if c.activations {
        convert_activations(model, dtype, &mut clamps, &mut report)?;
    } else {
        let mut names = NameGen::for_graph(&model.graph);
        let g = &mut model.graph;
        let graph_io: HashSet<String> = g.inputs.iter().chain(&g.outputs).map(|v| v.name.clone()).collect();
        let names_f32: Vec<String> = g
            .initializers
            .iter()
            .filter(|(n, t)| t.dtype() == DType::F32 && t.numel() >= MIN_ELEMENTS && !graph_io.contains(*n))
            .map(|(n, _)| n.clone())
            .collect();
        let mut casts = Vec::new();
        for name in names_f32 {
            let t = g.initializers.shift_remove(&name).expect("listed");
            let (h, signal, noise) = to_half(&t.as_slice::<f32>()?, t.shape().to_vec(), dtype, &mut clamps)?;
            drop(t);
            report.layers.push(LayerError { name: name.clone(), sqnr_db: crate::scheme::sqnr_db(signal, noise) });
            let stored = names.fresh(&format!("{name}_{}", dtype.name()));
            g.initializers.insert(stored.clone(), h);
            casts.push(
                Node::new("Cast", [stored], [name.clone()])
                    .named(names.fresh(&format!("{name}_Cast")))
                    .with_attr("to", Attribute::Int(1)),
            );
        }
        report.lines.push(format!(
            "{} weight tensor(s) stored as {dtype} behind a Cast to f32 (computation stays f32)",
            casts.len()
        ));
        casts.append(&mut g.nodes);
        g.nodes = casts;
    }
    report.lines.push(format!(
        "{} value(s) clamped to the {dtype} range, {} non-zero value(s) underflowed to 0",
        clamps.clamped, clamps.flushed
    ));
    report.figures.insert("clamped".into(), clamps.clamped as f64);
    report.figures.insert("flushed".into(), clamps.flushed as f64);
    Ok(report)
}

/// Converts the whole main graph to half precision: f32 initializers,
/// Constant values and `Cast(to=float)` targets become `dtype`; each f32
/// graph input is cast to `dtype` on entry and each f32 output back on exit;
/// the ops of the `KEEP_F32` class get Casts to f32 around their float inputs and
/// back on their float outputs. Subgraphs are left as they are (their
/// captured float values are cast back to f32 for them).
pub(crate) fn convert_activations(
    model: &mut Model,
    dtype: DType,
    clamps: &mut Clamps,
    report: &mut MethodReport,
) -> Result<()> {
    let mut names = NameGen::for_graph(&model.graph);
    let opset = model.onnx_opset();
    let g = &mut model.graph;
    let types = ir::infer::infer(g, opset).map_err(|e| e.context("fp16 activations need the graph's types"))?;
    let is_f32 = |n: &str| types.ty(n).and_then(ir::ValueType::dtype) == Some(DType::F32);
    let half = onnx_type(dtype);
    let mut nodes = Vec::with_capacity(g.nodes.len() * 2);
    // Graph inputs: rename the input's readers to a cast copy.
    let mut renames: HashMap<String, String> = HashMap::new();
    for v in &g.inputs {
        if v.dtype() == Some(DType::F32) && !g.initializers.contains_key(&v.name) {
            let h = names.fresh(&format!("{}_{}", v.name, dtype.name()));
            nodes.push(
                Node::new("Cast", [v.name.clone()], [h.clone()])
                    .named(names.fresh(&format!("{}_Cast", v.name)))
                    .with_attr("to", Attribute::Int(half)),
            );
            renames.insert(v.name.clone(), h);
        }
    }
    // Initializers.
    let init_names: Vec<String> =
        g.initializers.iter().filter(|(_, t)| t.dtype() == DType::F32).map(|(n, _)| n.clone()).collect();
    for name in &init_names {
        let t = g.initializers[name].clone();
        let (h, signal, noise) = to_half(&t.as_slice::<f32>()?, t.shape().to_vec(), dtype, clamps)?;
        if t.numel() >= MIN_ELEMENTS {
            report.layers.push(LayerError { name: name.clone(), sqnr_db: crate::scheme::sqnr_db(signal, noise) });
        }
        g.initializers.insert(name.clone(), h);
    }
    let (mut kept, mut converted_consts) = (0usize, 0usize);
    let old = std::mem::take(&mut g.nodes);
    for mut node in old {
        for i in node.inputs.iter_mut().flatten() {
            if let Some(r) = renames.get(i.as_str()) {
                *i = r.clone();
            }
        }
        if node.domain.is_empty() && node.op == "Constant" {
            if let Some(Attribute::Tensor(t)) = node.attrs.get("value")
                && t.dtype() == DType::F32
            {
                let (h, _, _) = to_half(&t.as_slice::<f32>()?, t.shape().to_vec(), dtype, clamps)?;
                node.attrs.insert("value".into(), Attribute::Tensor(h));
                converted_consts += 1;
            } else if let Some(Attribute::Float(f)) = node.attrs.get("value_float").cloned() {
                node.attrs.shift_remove("value_float");
                let (h, _, _) = to_half(&[f], vec![], dtype, clamps)?;
                node.attrs.insert("value".into(), Attribute::Tensor(h));
                converted_consts += 1;
            } else if let Some(Attribute::Floats(f)) = node.attrs.get("value_floats").cloned() {
                node.attrs.shift_remove("value_floats");
                let (h, _, _) = to_half(&f, vec![f.len()], dtype, clamps)?;
                node.attrs.insert("value".into(), Attribute::Tensor(h));
                converted_consts += 1;
            }
            nodes.push(node);
            continue;
        }
        if node.domain.is_empty() && node.op == "Cast" && node.attr_int("to", 0)? == 1 {
            node.attrs.insert("to".into(), Attribute::Int(half));
        }
        if node.domain.is_empty()
            && matches!(node.op.as_str(), "ConstantOfShape")
            && let Some(Attribute::Tensor(t)) = node.attrs.get("value")
            && t.dtype() == DType::F32
        {
            let (h, _, _) = to_half(&t.as_slice::<f32>()?, t.shape().to_vec(), dtype, clamps)?;
            node.attrs.insert("value".into(), Attribute::Tensor(h));
        }
        if node.domain.is_empty()
            && matches!(node.op.as_str(), "RandomNormal" | "RandomUniform" | "EyeLike")
            && node.attr_int("dtype", 1)? == 1
        {
            node.attrs.insert("dtype".into(), Attribute::Int(half));
        }
        let keep_f32 = keeps_f32(&node) || node.subgraphs().next().is_some();
        if keep_f32 {
            // Float inputs (and captures) go back to f32; float outputs come back to half.
            let captures: Vec<String> = node.subgraphs().flat_map(|s| s.captures()).collect();
            for cap in captures.iter().filter(|c| is_f32(c)) {
                // A subgraph reads enclosing values by name: cast under the same name is
                // impossible, so the cast copy is renamed inside the bodies.
                let f = names.fresh(&format!("{cap}_f32"));
                let src = renames.get(cap).cloned().unwrap_or_else(|| cap.clone());
                nodes.push(
                    Node::new("Cast", [src], [f.clone()])
                        .named(names.fresh(&format!("{cap}_Cast_f32")))
                        .with_attr("to", Attribute::Int(1)),
                );
                for sg in node.subgraphs_mut() {
                    sg.rename_value(cap, &f);
                }
            }
            for i in 0..node.inputs.len() {
                let Some(x) = node.input(i).map(str::to_string) else { continue };
                let orig = renames.iter().find(|(_, v)| **v == x).map_or(x.clone(), |(k, _)| k.clone());
                if !is_f32(&orig) {
                    continue;
                }
                let f = names.fresh(&format!("{x}_f32"));
                nodes.push(
                    Node::new("Cast", [x.clone()], [f.clone()])
                        .named(names.fresh(&format!("{x}_Cast_f32")))
                        .with_attr("to", Attribute::Int(1)),
                );
                node.inputs[i] = Some(f);
            }
            let mut after = Vec::new();
            for o in node.outputs.iter_mut().filter(|o| !o.is_empty()) {
                if is_f32(o) {
                    let f = names.fresh(&format!("{o}_f32"));
                    after.push(
                        Node::new("Cast", [f.clone()], [o.clone()])
                            .named(names.fresh(&format!("{o}_Cast_{}", dtype.name())))
                            .with_attr("to", Attribute::Int(half)),
                    );
                    *o = f;
                }
            }
            kept += 1;
            nodes.push(node);
            nodes.extend(after);
            continue;
        }
        nodes.push(node);
    }
    // Outputs: produce the f32 output from a renamed half value.
    let out_names: Vec<String> =
        g.outputs.iter().filter(|o| o.dtype() == Some(DType::F32) || is_f32(&o.name)).map(|o| o.name.clone()).collect();
    for o in out_names {
        if let Some(h) = renames.get(&o) {
            // An input passed straight through: read the original f32 input.
            let _ = h;
            continue;
        }
        let h = names.fresh(&format!("{o}_{}", dtype.name()));
        for n in nodes.iter_mut() {
            for x in n.outputs.iter_mut() {
                if *x == o {
                    *x = h.clone();
                }
            }
            for x in n.inputs.iter_mut().flatten() {
                if *x == o {
                    *x = h.clone();
                }
            }
        }
        if g.initializers.contains_key(&o) {
            let t = g.initializers.shift_remove(&o).expect("checked");
            g.initializers.insert(h.clone(), t);
        }
        nodes.push(
            Node::new("Cast", [h], [o.clone()])
                .named(names.fresh(&format!("{o}_Cast")))
                .with_attr("to", Attribute::Int(1)),
        );
    }
    g.nodes = nodes;
    for v in &mut g.value_info {
        if v.dtype() == Some(DType::F32)
            && let ir::ValueType::Tensor { dtype: d, .. } = &mut v.ty
        {
            *d = Some(dtype);
        }
    }
    // Values inside f32 islands were renamed and keep no value_info; a stale
    // f16 entry for them would be wrong, so value_info of renamed values goes.
    let defined: HashSet<String> = g.nodes.iter().flat_map(|n| n.outputs.iter().cloned()).collect();
    g.value_info.retain(|v| defined.contains(&v.name));
    g.topo_sort()?;
    report.lines.push(format!(
        "graph converted to {dtype}: {} initializer(s), {converted_consts} Constant(s); {kept} node(s) kept in f32 behind Casts; inputs and outputs stay f32",
        init_names.len()
    ));
    Ok(())
}
