//! `int8-dynamic`: int8 weights and activations quantized at run time, in
//! the form onnxruntime's `quantize_dynamic` writes:
//!
//! ```text
//! x ─ DynamicQuantizeLinear ─ x_q, x_scale, x_zp
//! MatMulInteger(x_q, W_q, x_zp) ─ Cast(float) ─ Mul(· , x_scale · W_scale) [─ Add(bias)]
//! ```
//!
//! Weights are symmetric int8 in [-127, 127], one scale per tensor by
//! default: the same arithmetic as `quantize_dynamic`, whose error is
//! dominated by the run-time activation quantization (`per-channel` gives one
//! scale per output column). They are stored as uint8 `q + 128` with zero
//! point 128: the same integers and bytes, but onnxruntime then runs its
//! u8×u8 kernel, exact on every CPU, instead of the u8×s8 one that
//! `quantize_dynamic`'s int8 weights select, whose 16-bit pair sums
//! (`vpmaddubsw`) saturate on x86 CPUs with AVX2 but no VNNI. Measured on
//! `examples/mlp.onnx` on such a CPU (AMD EPYC): int8 weights 17.4 dB output
//! SQNR in onnxruntime, 39.8 dB in OpenVINO and the evaluator; offset uint8
//! weights the same 39.8 dB in all three.
//! Differences from `quantize_dynamic`: Gemm is handled directly (→
//! MatMulInteger + bias Add; `alpha` folds into the weight scale, `beta` into
//! the bias), and Conv weights become int8 DQ weights with float activations
//! rather than ConvInteger (same size, no activation error).

use std::collections::HashMap;

use ir::{Attribute, DType, Model, NameGen, Node, Result, Tensor};

use crate::scheme::{self, Granularity, QType, WeightSpec};
use crate::{Config, LayerError, MethodReport, opset, weight};

/// The quantized weight of one (weight, transposed) pair: names of the
/// offset-uint8 `[K, N]` initializer and of the f32 scale.
struct QWeight {
    q: String,
    scale: String,
}

/// The zero point of every offset-uint8 weight.
const OFFSET: u8 = 128;

/// Symmetric int8 integers re-encoded as uint8 `q + 128` (zero point 128).
fn offset_u8(q: &Tensor) -> Result<Tensor> {
    let values = q.as_slice::<i8>()?.iter().map(|&v| (v as u8) ^ OFFSET).collect::<Vec<u8>>();
    Tensor::from_vec(q.shape().to_vec(), values)
}

fn transpose2(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Runs `int8-dynamic` on MatMul and Gemm nodes with 2-D f32 weight initializers.
pub(crate) fn run(model: &mut Model, c: &Config) -> Result<MethodReport> {
    let mut report = MethodReport::default();
    // DynamicQuantizeLinear is opset 11; per-column MatMulInteger needs no more.
    if model.onnx_opset() < 11 {
        let notes = opset::raise(model, 11).map_err(|e| e.context("int8-dynamic needs opset 11"))?;
        report.lines.extend(notes);
    }
    let mut names = NameGen::for_graph(&model.graph);
    let g = &mut model.graph;
    // One scalar zero point serves every MatMulInteger (scales stay outside).
    let weight_zp = names.fresh("weight_zero_point");
    let mut weights: HashMap<(String, bool), QWeight> = HashMap::new();
    let mut activations: HashMap<String, [String; 3]> = HashMap::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    let mut nodes = Vec::with_capacity(g.nodes.len());
    let mut converted = 0usize;
    let old = std::mem::take(&mut g.nodes);
    for node in old {
        let is_target = node.domain.is_empty() && (node.op == "MatMul" || node.op == "Gemm");
        let w_name = node.input(1).map(str::to_string);
        let w = w_name.as_ref().and_then(|w| g.initializers.get(w)).filter(|t| t.shape().len() == 2);
        let (Some(w_name), Some(w), Some(x), true) = (w_name.clone(), w.cloned(), node.input(0), is_target) else {
            nodes.push(node);
            continue;
        };
        if w.dtype() != DType::F32 {
            skipped.push(format!("{} ({} weight; DynamicQuantizeLinear takes f32)", node.describe(), w.dtype()));
            nodes.push(node);
            continue;
        }
        let gemm = node.op == "Gemm";
        let (trans_b, alpha, beta) = if gemm {
            if node.attr_int("transA", 0)? != 0 {
                skipped.push(format!("{} (transA)", node.describe()));
                nodes.push(node);
                continue;
            }
            (node.attr_int("transB", 0)? != 0, node.attr_float("alpha", 1.0)?, node.attr_float("beta", 1.0)?)
        } else {
            (false, 1.0, 1.0)
        };
        let base = if node.name.is_empty() { names.fresh(&node.op) } else { node.name.clone() };
        // The weight as [K, N] int8 with per-column (or one) scale.
        let key = (w_name.clone(), trans_b);
        if !weights.contains_key(&key) {
            let values = scheme::float_values(&w)?.expect("f32");
            let (rows, cols) = (w.shape()[0], w.shape()[1]);
            let kn = if trans_b { transpose2(&values, rows, cols) } else { values.into_owned() };
            let (k, n) = if trans_b { (cols, rows) } else { (rows, cols) };
            let granularity = if c.per_tensor { Granularity::PerTensor } else { Granularity::PerAxis(1) };
            let spec = WeightSpec {
                qtype: QType::I8,
                symmetric: true,
                narrow: true,
                granularity,
                half_scales: false,
                clip: false,
            };
            let qt =
                scheme::quantize_tensor(&kn, &[k, n], &spec).map_err(|e| e.context(format!("weight '{w_name}'")))?;
            // Done with the float weight: let a mapped file's pages go.
            if let Some(b) = w.raw() {
                b.release();
            }
            report.layers.push(LayerError { name: w_name.clone(), sqnr_db: qt.sqnr_db() });
            report.quantized.0 += w.byte_len() as u64;
            report.quantized.1 += (qt.q.byte_len() + qt.scale.byte_len()) as u64;
            let qw = QWeight {
                q: names.fresh(&format!("{w_name}_quantized")),
                scale: names.fresh(&format!("{w_name}_scale")),
            };
            g.initializers.insert(qw.q.clone(), offset_u8(&qt.q)?);
            g.initializers.insert(qw.scale.clone(), qt.scale);
            weights.insert(key.clone(), qw);
            if !touched.contains(&w_name) {
                touched.push(w_name.clone());
            }
        }
        let qw = &weights[&key];
        // One DynamicQuantizeLinear per activation, before its first reader.
        let act = activations
            .entry(x.to_string())
            .or_insert_with(|| {
                let outs = [
                    names.fresh(&format!("{x}_quantized")),
                    names.fresh(&format!("{x}_scale")),
                    names.fresh(&format!("{x}_zero_point")),
                ];
                nodes.push(
                    Node::new("DynamicQuantizeLinear", [x], outs.clone())
                        .named(names.fresh(&format!("{x}_DynamicQuantizeLinear"))),
                );
                outs
            })
            .clone();
        let mut w_scale = qw.scale.clone();
        if alpha != 1.0 {
            let s = g.initializers[&qw.scale].as_slice::<f32>()?.iter().map(|v| v * alpha).collect::<Vec<_>>();
            let shape = g.initializers[&qw.scale].shape().to_vec();
            w_scale = names.fresh(&format!("{}_alpha", qw.scale));
            g.initializers.insert(w_scale.clone(), Tensor::from_vec(shape, s)?);
        }
        let scales = names.fresh(&format!("{base}_quant_scales"));
        nodes.push(
            Node::new("Mul", [act[1].clone(), w_scale], [scales.clone()])
                .named(names.fresh(&format!("{base}_scales_mul"))),
        );
        let int_out = names.fresh(&format!("{base}_output_quantized"));
        nodes.push(
            Node::new(
                "MatMulInteger",
                [act[0].clone(), qw.q.clone(), act[2].clone(), weight_zp.clone()],
                [int_out.clone()],
            )
            .named(names.fresh(&format!("{base}_MatMulInteger"))),
        );
        let cast_out = names.fresh(&format!("{base}_output_cast"));
        nodes.push(
            Node::new("Cast", [int_out], [cast_out.clone()])
                .named(names.fresh(&format!("{base}_Cast")))
                .with_attr("to", Attribute::Int(1)),
        );
        let y = node.outputs[0].clone();
        let bias = if gemm { node.input(2).map(str::to_string) } else { None };
        let mm_out = if bias.is_some() { names.fresh(&format!("{base}_matmul_out")) } else { y.clone() };
        nodes.push(
            Node::new("Mul", [cast_out, scales], [mm_out.clone()]).named(names.fresh(&format!("{base}_output_mul"))),
        );
        if let Some(b) = bias {
            let b = if beta == 1.0 {
                b
            } else if let Some(t) = g.initializers.get(&b).filter(|t| t.dtype() == DType::F32) {
                let scaled = t.as_slice::<f32>()?.iter().map(|v| v * beta).collect::<Vec<_>>();
                let t = Tensor::from_vec(t.shape().to_vec(), scaled)?;
                let name = names.fresh(&format!("{b}_beta"));
                g.initializers.insert(name.clone(), t);
                name
            } else {
                let beta_name = names.fresh(&format!("{base}_beta"));
                g.initializers.insert(beta_name.clone(), Tensor::scalar(beta));
                let out = names.fresh(&format!("{b}_beta"));
                nodes.push(
                    Node::new("Mul", [b, beta_name], [out.clone()]).named(names.fresh(&format!("{base}_beta_mul"))),
                );
                out
            };
            nodes.push(Node::new("Add", [mm_out, b], [y]).named(names.fresh(&format!("{base}_bias_add"))));
        }
        converted += 1;
    }
    g.nodes = nodes;
    if converted > 0 {
        g.initializers.insert(weight_zp.clone(), Tensor::scalar(OFFSET));
    }
    // A float weight nobody reads any more goes. One that other nodes still
    // read (a tied embedding's Gather, a Transpose, a layer left in float)
    // is served from its int8 copy through a DequantizeLinear, so the model
    // never stores a shared weight twice.
    let uses = g.uses();
    let mut shared_dq = Vec::new();
    for w in touched {
        g.initializers.shift_remove(&w);
        if !uses.contains_key(&w) {
            continue;
        }
        let (key, qw) = weights.iter().find(|((name, _), _)| *name == w).expect("touched weights were quantized");
        let transposed = key.1;
        let dq_out = if transposed { names.fresh(&format!("{w}_dequantized")) } else { w.clone() };
        // DequantizeLinear wants a zero point shaped like its scale.
        let scale_shape = g.initializers[&qw.scale].shape().to_vec();
        let zp = if scale_shape.is_empty() {
            weight_zp.clone()
        } else {
            let name = names.fresh(&format!("{w}_zero_point"));
            let n = scale_shape.iter().product();
            g.initializers.insert(name.clone(), Tensor::from_vec(scale_shape, vec![OFFSET; n])?);
            name
        };
        let mut dq = Node::new("DequantizeLinear", [qw.q.clone(), qw.scale.clone(), zp], [dq_out.clone()])
            .named(names.fresh(&format!("{w}_DequantizeLinear")));
        if !c.per_tensor {
            dq = dq.with_attr("axis", Attribute::Int(1));
        }
        shared_dq.push(dq);
        if transposed {
            // The int8 copy is [K, N] for MatMulInteger; the readers want [N, K].
            shared_dq.push(
                Node::new("Transpose", [dq_out], [w.clone()])
                    .named(names.fresh(&format!("{w}_Transpose")))
                    .with_attr("perm", Attribute::Ints(vec![1, 0])),
            );
        }
    }
    shared_dq.append(&mut g.nodes);
    g.nodes = shared_dq;
    // Conv/ConvTranspose (and MatMul/Gemm left above) keep float
    // activations but get int8 DQ weights, as quantize_dynamic's
    // ConvInteger would store them, at float-activation accuracy.
    let mut wc = c.clone();
    wc.asymmetric = false;
    let plan = weight::plan(model, &wc, QType::I8, false, &mut report, &mut skipped)?;
    let before = report.layers.len();
    let (mut dq_nodes, _) = weight::apply(model, &wc, QType::I8, plan, &mut report, &mut skipped)?;
    let weight_only = report.layers.len() - before;
    dq_nodes.append(&mut model.graph.nodes);
    model.graph.nodes = dq_nodes;
    if weight_only > 0 {
        report.lines.push(format!("{weight_only} other weight(s) (Conv, ...) int8 weight-only"));
    }
    let scales = if c.per_tensor { "per-tensor" } else { "per-column" };
    report.lines.insert(
        0,
        format!(
            "{converted} MatMul/Gemm node(s) -> DynamicQuantizeLinear + MatMulInteger (int8 symmetric {scales} weights stored as uint8 with zero point 128, {} activation(s) quantized at run time)",
            activations.len()
        ),
    );
    if !skipped.is_empty() {
        report.lines.push(format!("skipped: {}", skipped.join(", ")));
    }
    Ok(report)
}
