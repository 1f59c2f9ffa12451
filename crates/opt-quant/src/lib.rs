//! Quantization passes over the IR.
//!
//! One registered pass, `quantize`, whose argument picks the method and its
//! options (`convert --quantize METHOD ...` builds it):
//!
//! | method | what it writes |
//! |---|---|
//! | `int8` | weight-only: `DequantizeLinear(int8 weight)` feeding the original op, symmetric, per output channel |
//! | `int8-dynamic` | `DynamicQuantizeLinear` + `MatMulInteger` (+ `Cast`, `Mul` by scales) for MatMul and Gemm, as onnxruntime's `quantize_dynamic`, with the int8 weights stored as uint8 + 128 so its exact u8×u8 kernel runs on every CPU |
//! | `int8-static` | QDQ activations from calibration data (min/max, percentile, entropy), int8 weights, int32 biases |
//! | `int4` | group-wise blocked `DequantizeLinear` of 4-bit MatMul/Gemm weights and embedding tables (opset 21); mixed with int8 by sensitivity (`ratio`, `target-size`, `min-sqnr`) |
//! | `fp16`, `bf16` | weights stored in half precision behind a `Cast`; optionally the whole graph in f16 |
//!
//! The weight-only methods choose the integers by round to nearest with a
//! per-group MSE search of the clip ratio (`rtn`, needs no data) or by GPTQ
//! (`weight-method=gptq`, from calibration data); tied weights (one table
//! read by a `Gather` and, transposed, by the LM head) are quantized once
//! and every reader shares the one `DequantizeLinear`.
//!
//! The representation follows [`scheme`], the convention shared with the
//! format crates. Every run reports weight bytes before and after and the
//! weight tensors with the worst signal-to-quantization-noise ratio.

mod awq;
pub mod calib;
mod config;
mod dynamic;
mod gptq;
mod half_prec;
mod mixed;
pub mod opset;
pub mod scheme;
mod static_q;
mod stats;
mod weight;

use ir::{Model, ModelStats, Pass, PassInfo, PassReport, Registry, Result};

pub use config::{Calibrate, Config, Method, Precision, WeightMethod};

/// The `quantize` pass: one method with its options.
#[derive(Debug, Clone)]
pub struct QuantizePass {
    config: Config,
    calibration: Option<Vec<Vec<(String, eval::Value)>>>,
}

impl QuantizePass {
    /// A pass with the given configuration (calibration data, if needed, is
    /// read from `config.calibration` when the pass runs).
    pub fn new(config: Config) -> Self {
        QuantizePass { config, calibration: None }
    }

    /// A pass whose calibration samples are given directly (each a list of
    /// named graph inputs), for callers that already hold them.
    pub fn with_calibration(config: Config, samples: Vec<Vec<(String, eval::Value)>>) -> Self {
        QuantizePass { config, calibration: Some(samples) }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Per-tensor weight error, for the "worst layers" report line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerError {
    pub name: String,
    pub sqnr_db: f64,
}

/// Report lines shared by every method: bytes, worst layers.
pub(crate) fn summary_lines(before: u64, after: u64, quantized: (u64, u64), layers: &mut [LayerError]) -> Vec<String> {
    let mut lines = Vec::new();
    let ratio = if before == 0 { 1.0 } else { after as f64 / before as f64 };
    lines.push(format!("weight bytes: {before} -> {after} ({:.1}% of the original)", ratio * 100.0));
    if quantized.1 > 0 {
        // The tensors the method rewrote, without the ones it left alone
        // (biases, norms), so the compression of the method itself shows.
        let (a, b) = quantized;
        lines.push(format!(
            "quantized weights: {a} -> {b} bytes, {:.2}x smaller (scales and zero points included)",
            a as f64 / b as f64
        ));
    }
    layers.sort_by(|a, b| a.sqnr_db.total_cmp(&b.sqnr_db));
    if !layers.is_empty() {
        let worst: Vec<String> = layers.iter().take(5).map(|l| format!("{} {:.1} dB", l.name, l.sqnr_db)).collect();
        lines.push(format!("worst weights by SQNR: {}", worst.join(", ")));
    }
    lines
}

impl Pass for QuantizePass {
    fn name(&self) -> &str {
        "quantize"
    }

    fn run(&self, model: &mut Model) -> Result<PassReport> {
        let before = ModelStats::of(model).weight_bytes();
        let mut out = match self.config.method {
            Method::Int8 | Method::Int4 => {
                // Calibration data, when given, serves GPTQ, the sensitivity
                // of mixed precision and the output SQNR line.
                let c = &self.config;
                let samples = match (&self.calibration, &c.calibration) {
                    (Some(s), _) => Some(s.clone()),
                    (None, Some(dir)) => Some(read_samples(dir, &model.graph)?),
                    (None, None) => None,
                };
                weight::run(model, c, samples.as_deref())?
            }
            Method::Int8Dynamic | Method::Int8Static if self.config.dequantize => {
                // Stored as floats, only the weights' rounding can be kept.
                let c = Config { method: Method::Int8, ..self.config.clone() };
                let mut r = weight::run(model, &c, None)?;
                r.lines
                    .push("activations left in float (the dequantized form holds only the weights' rounding)".into());
                r
            }
            Method::Int8Dynamic => dynamic::run(model, &self.config)?,
            Method::Fp16 | Method::Bf16 => half_prec::run(model, &self.config)?,
            Method::Int8Static => {
                let samples = match &self.calibration {
                    Some(s) => s.clone(),
                    None => {
                        let dir = self.config.calibration.as_ref().ok_or_else(|| {
                            ir::Error::usage("int8-static needs calibration data (--calibration DIR)")
                        })?;
                        read_samples(dir, &model.graph)?
                    }
                };
                static_q::run(model, &self.config, &samples)?
            }
        };
        model.graph.validate()?;
        let after = ModelStats::of(model).weight_bytes();
        let mut lines = std::mem::take(&mut out.lines);
        lines.extend(summary_lines(before, after, out.quantized, &mut out.layers));
        let c = &self.config;
        let mut report = PassReport::new(format!("quantize {}", c.method.name()), lines)
            .figure("bytes_before", before as f64)
            .figure("bytes_after", after as f64)
            .figure("quantized_bytes_before", out.quantized.0 as f64)
            .figure("quantized_bytes_after", out.quantized.1 as f64)
            .figure("weights_quantized", out.layers.len() as f64);
        report.figures.append(&mut out.figures);
        // `summary_lines` sorted the layers worst first; the items keep that order.
        for l in &out.layers {
            let mut item = ir::ReportItem::new(l.name.as_str())
                .with("method", c.method.name())
                .with("weight_method", c.weight_method.name())
                .with("sqnr_db", l.sqnr_db);
            if c.method == Method::Int4 && !c.per_tensor {
                item = item.with("group_size", c.group_size);
            }
            report = report.item(item);
        }
        Ok(report)
    }
}

/// Calibration samples from a folder (`ir::tensor_file::read_samples`: `.npz`
/// keyed by input name, or `.npy`/`.pb` for one-input models), as evaluator values.
pub fn read_samples(dir: &std::path::Path, graph: &ir::Graph) -> Result<Vec<Vec<(String, eval::Value)>>> {
    let inputs: Vec<&str> =
        graph.inputs.iter().filter(|v| !graph.initializers.contains_key(&v.name)).map(|v| v.name.as_str()).collect();
    ir::tensor_file::read_samples(dir, &inputs)?
        .into_iter()
        .map(|sample| {
            sample
                .into_iter()
                .map(|(name, t)| {
                    let v = eval::from_ir(&t)
                        .map_err(|e| ir::Error::invalid(format!("{}: sample '{name}': {e}", dir.display())))?;
                    Ok((name, eval::Value::Tensor(v)))
                })
                .collect()
        })
        .collect()
}

/// What a method did: report lines and per-weight errors.
#[derive(Debug, Default)]
pub(crate) struct MethodReport {
    pub lines: Vec<String>,
    pub layers: Vec<LayerError>,
    /// Bytes of the weights turned into integers, before and after (with their scales).
    pub quantized: (u64, u64),
    /// Method-specific figures for the pass report (e.g. `clamped`,
    /// `flushed` of fp16/bf16), by snake_case name.
    pub figures: std::collections::BTreeMap<String, f64>,
}

fn factory(arg: &str) -> Result<Box<dyn Pass>> {
    Ok(Box::new(QuantizePass::new(arg.parse()?)))
}

/// Registers the `quantize` pass.
pub fn register(registry: &mut Registry) {
    registry.add_pass(PassInfo {
        name: "quantize",
        description: "quantize: METHOD[,option...] (int8, int8-dynamic, int8-static, int4, fp16, bf16)",
        factory,
    });
}
