//! The `quantize` pass's argument: `METHOD[,KEY=VALUE|FLAG]...`.
//!
//! Options: `group-size=N` (int4, default 128), `asymmetric`, `per-tensor`
//! (the int8-dynamic default), `per-channel` (the default of the others),
//! `activations` (fp16/bf16: run the graph in half precision too),
//! `calibrate=minmax|percentile|entropy`, `percentile=P` (default 99.999),
//! `samples=N` (calibration limit), `scales=f16|f32` (the type of
//! weight-only scales; f16 by default for `int8` and `int4`, f32 for the
//! activation-quantizing methods), `dequantize` (store the dequantized
//! weights as floats, for targets that cannot hold quantized ones) and
//! `calibration=DIR`, which must come last because it takes the rest of the
//! argument (so a path may hold commas).

use std::path::PathBuf;
use std::str::FromStr;

use ir::{Error, Result};

/// A quantization method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Weights and (optionally) activations in IEEE half precision.
    Fp16,
    /// Weights and (optionally) activations in bfloat16.
    Bf16,
    /// int8 weight-only.
    Int8,
    /// int8 weights plus run-time activation quantization.
    Int8Dynamic,
    /// int8 weights and calibrated QDQ activations.
    Int8Static,
    /// int4 group-wise weight-only.
    Int4,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 6] =
        [Method::Int8, Method::Int8Dynamic, Method::Int8Static, Method::Int4, Method::Fp16, Method::Bf16];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Fp16 => "fp16",
            Method::Bf16 => "bf16",
            Method::Int8 => "int8",
            Method::Int8Dynamic => "int8-dynamic",
            Method::Int8Static => "int8-static",
            Method::Int4 => "int4",
        }
    }
}

/// How weight-only methods (`int8`, `int4`) choose the integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightMethod {
    /// Round to nearest, with each group's clip ratio searched for the least
    /// squared error (unless `no-clip`). Needs no data.
    Rtn,
    /// AWQ, then round to nearest: each activation's salient input channels
    /// get larger weights (and the activation the inverse scale, folded into
    /// the op producing it), the scale searched on calibration data.
    Awq,
    /// GPTQ: columns quantized one at a time, each one's error compensated
    /// on the columns not yet quantized through the inverse Hessian of the
    /// layer's calibration inputs.
    Gptq,
    /// AWQ's scaling, then GPTQ on the scaled weights.
    AwqGptq,
}

impl WeightMethod {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WeightMethod::Rtn => "rtn",
            WeightMethod::Awq => "awq",
            WeightMethod::Gptq => "gptq",
            WeightMethod::AwqGptq => "awq+gptq",
        }
    }

    /// Whether the method reads calibration data.
    pub fn needs_data(self) -> bool {
        self != WeightMethod::Rtn
    }

    /// Whether AWQ's scaling runs first.
    pub fn awq(self) -> bool {
        matches!(self, WeightMethod::Awq | WeightMethod::AwqGptq)
    }

    /// Whether GPTQ chooses the integers.
    pub fn gptq(self) -> bool {
        matches!(self, WeightMethod::Gptq | WeightMethod::AwqGptq)
    }
}

impl FromStr for WeightMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "rtn" => Ok(WeightMethod::Rtn),
            "awq" => Ok(WeightMethod::Awq),
            "gptq" => Ok(WeightMethod::Gptq),
            "awq+gptq" | "gptq+awq" => Ok(WeightMethod::AwqGptq),
            o => Err(Error::usage(format!("unknown weight method '{o}' (rtn, awq, gptq, awq+gptq)"))),
        }
    }
}

/// The precision of a group of weights that is not the method's own:
/// embedding tables (`--quantize-embeddings`) and the weights mixed
/// precision keeps out of the low precision (`--backup-precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 8-bit, per row (embeddings) or per output channel.
    Int8,
    /// 4-bit groups of the method's group size.
    Int4,
    /// Left as they are (float).
    Float,
}

impl Precision {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
            Precision::Float => "none",
        }
    }
}

impl FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "int8" => Ok(Precision::Int8),
            "int4" => Ok(Precision::Int4),
            "none" | "float" => Ok(Precision::Float),
            o => Err(Error::usage(format!("unknown precision '{o}' (int8, int4, none)"))),
        }
    }
}

/// How the range of an activation is chosen from calibration data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibrate {
    /// The observed minimum and maximum.
    MinMax,
    /// The given percentile of the values on each side (e.g. 99.999).
    Percentile(f64),
    /// The clipping range minimising the KL divergence between the
    /// histogram and its quantized version (TensorRT's entropy method).
    Entropy,
}

impl FromStr for Calibrate {
    type Err = Error;

    /// `minmax`, `percentile` (99.999) or `entropy`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "minmax" => Ok(Calibrate::MinMax),
            "percentile" => Ok(Calibrate::Percentile(99.999)),
            "entropy" => Ok(Calibrate::Entropy),
            o => Err(Error::usage(format!("unknown calibration method '{o}' (minmax, percentile, entropy)"))),
        }
    }
}

/// Options of a `quantize` pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The method.
    pub method: Method,
    /// Elements per int4 group along the reduction axis.
    pub group_size: usize,
    /// Asymmetric (min/max) rather than symmetric weights.
    pub asymmetric: bool,
    /// One scale per weight tensor instead of per output channel (int8-dynamic's default).
    pub per_tensor: bool,
    /// fp16/bf16: convert activations too.
    pub activations: bool,
    /// Calibration method for int8-static.
    pub calibrate: Calibrate,
    /// Folder of calibration samples (`.npy`/`.npz`).
    pub calibration: Option<PathBuf>,
    /// Use at most this many calibration samples.
    pub samples: Option<usize>,
    /// Store dequantized float weights instead of quantized ones.
    pub dequantize: bool,
    /// Weight-only methods: store scales as f16 (`DequantizeLinear`-19
    /// computes in f16, then a `Cast` restores the weight's type). Halves
    /// the scale overhead, which matters for small channels and int4 groups
    /// (a group of 32 int4 values is 16 bytes; an f32 scale adds 25%, f16
    /// 12.5%). Tensors whose scales leave f16's normal range keep f32.
    pub half_scales: bool,
    /// Weight-only methods: how the integers are chosen.
    pub weight_method: WeightMethod,
    /// Weight-only methods: search each group's clip ratio (MSE) rather than
    /// map its min/max onto the range.
    pub clip: bool,
    /// Embedding tables (`Gather` data not also read by a MatMul): `None`
    /// means the method's own precision.
    pub embeddings: Option<Precision>,
    /// int4 mixed precision: the share (0..1] of the quantizable parameters
    /// in 4 bits; the most sensitive rest goes to `backup`.
    pub ratio: Option<f64>,
    /// int4 mixed precision: the largest weight bytes wanted; the least
    /// sensitive weights go to 4 bits until the model fits.
    pub target_size: Option<u64>,
    /// int4 mixed precision: the least output SQNR (dB) on the calibration
    /// (or check) inputs; weights go to 4 bits, least sensitive first,
    /// while the model's output stays above it.
    pub min_sqnr: Option<f64>,
    /// Mixed precision: the precision of weights kept out of 4 bits.
    pub backup: Precision,
    /// GPTQ: quantize columns in order of decreasing Hessian diagonal
    /// (with group parameters fixed beforehand).
    pub act_order: bool,
}

impl Config {
    /// Defaults for `method`.
    pub fn new(method: Method) -> Self {
        Config {
            method,
            group_size: 128,
            asymmetric: false,
            // Dynamic quantization's error is dominated by the run-time
            // activation quantization; per-tensor weights then match
            // quantize_dynamic's arithmetic exactly at a smaller size.
            per_tensor: method == Method::Int8Dynamic,
            activations: false,
            calibrate: Calibrate::MinMax,
            calibration: None,
            samples: None,
            dequantize: false,
            // Dynamic and static quantization feed runtimes' integer kernels,
            // which expect f32 scales (onnxruntime's QDQ fusions check it).
            half_scales: matches!(method, Method::Int8 | Method::Int4),
            weight_method: WeightMethod::Rtn,
            // Measured on the Llama-style bench model: +1.0 dB per weight
            // for int4 groups of 16, +0.01 dB for int8 channels (at 5x the
            // time), so int8 keeps plain min/max.
            clip: method == Method::Int4,
            embeddings: None,
            ratio: None,
            target_size: None,
            min_sqnr: None,
            backup: Precision::Int8,
            act_order: false,
        }
    }

    /// Whether int4 weights are split between 4 bits and the backup precision.
    pub fn mixed(&self) -> bool {
        self.ratio.is_some() || self.target_size.is_some() || self.min_sqnr.is_some()
    }
}

/// The value of option `k`, which must have one.
fn need<'a>(k: &str, v: Option<&'a str>) -> Result<&'a str> {
    v.ok_or_else(|| Error::usage(format!("quantize option '{k}' needs a value")))
}

impl FromStr for Config {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (head, rest) = s.split_once(',').unwrap_or((s, ""));
        let method = Config::method_named(head)?;
        let mut c = Config::new(method);
        let mut pending_percentile = None;
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(dir) = rest.strip_prefix("calibration=") {
                c.calibration = Some(PathBuf::from(dir));
                break;
            }
            let (opt, tail) = rest.split_once(',').unwrap_or((rest, ""));
            rest = tail;
            let (k, v) = opt.split_once('=').map_or((opt, None), |(k, v)| (k, Some(v)));
            match k.trim() {
                "" => {}
                "group-size" => {
                    c.group_size = need(k, v)?
                        .parse()
                        .map_err(|_| Error::usage(format!("group-size '{}' is not a number", v.unwrap_or(""))))?;
                }
                "asymmetric" => c.asymmetric = true,
                "symmetric" => c.asymmetric = false,
                "per-tensor" => c.per_tensor = true,
                "per-channel" => c.per_tensor = false,
                "activations" => c.activations = true,
                "dequantize" => c.dequantize = true,
                "scales" => {
                    c.half_scales = match need(k, v)? {
                        "f16" => true,
                        "f32" => false,
                        o => return Err(Error::usage(format!("scales must be f16 or f32, got '{o}'"))),
                    }
                }
                "samples" => {
                    c.samples = Some(need(k, v)?.parse().map_err(|_| Error::usage("samples must be a number"))?);
                }
                "percentile" => {
                    let p: f64 = need(k, v)?.parse().map_err(|_| Error::usage("percentile must be a number"))?;
                    pending_percentile = Some(p);
                }
                "calibrate" => c.calibrate = need(k, v)?.parse()?,
                "weight-method" => c.weight_method = need(k, v)?.parse()?,
                "no-clip" => c.clip = false,
                "clip" => c.clip = true,
                "act-order" => c.act_order = true,
                "embeddings" => c.embeddings = Some(need(k, v)?.parse()?),
                "backup" => c.backup = need(k, v)?.parse()?,
                "ratio" => {
                    c.ratio = Some(need(k, v)?.parse().map_err(|_| Error::usage("ratio must be a number"))?);
                }
                "target-size" => {
                    c.target_size =
                        Some(need(k, v)?.parse().map_err(|_| Error::usage("target-size must be a byte count"))?);
                }
                "min-sqnr" => {
                    c.min_sqnr = Some(need(k, v)?.parse().map_err(|_| Error::usage("min-sqnr must be a number"))?);
                }
                other => return Err(Error::usage(format!("unknown quantize option '{other}'"))),
            }
        }
        if let Some(p) = pending_percentile {
            c.calibrate = Calibrate::Percentile(p);
        }
        c.validate()?;
        Ok(c)
    }
}

impl Config {
    /// Checks the combination, however it was built (parsed from a pass
    /// argument or filled in by a program such as the `convert` CLI).
    pub fn validate(&self) -> Result<()> {
        if self.group_size < 2 {
            return Err(Error::usage(format!("group-size must be at least 2, got {}", self.group_size)));
        }
        if let Calibrate::Percentile(p) = self.calibrate
            && !(50.0..=100.0).contains(&p)
        {
            return Err(Error::usage(format!("percentile must be within [50, 100], got {p}")));
        }
        let weight_only = matches!(self.method, Method::Int8 | Method::Int4);
        if let Some(r) = self.ratio
            && !(r > 0.0 && r <= 1.0)
        {
            return Err(Error::usage(format!("ratio must be within (0, 1], got {r}")));
        }
        if self.mixed() && self.method != Method::Int4 {
            return Err(Error::usage(
                "ratio, target-size and min-sqnr choose between int4 and the backup precision: use them with int4",
            ));
        }
        if [self.ratio.is_some(), self.target_size.is_some(), self.min_sqnr.is_some()].iter().filter(|&&b| b).count()
            > 1
        {
            return Err(Error::usage("give one of ratio, target-size and min-sqnr"));
        }
        if self.backup == Precision::Int4 {
            return Err(Error::usage("the backup precision is int8 or none"));
        }
        if !weight_only && (self.weight_method != WeightMethod::Rtn || self.embeddings.is_some()) {
            return Err(Error::usage(format!(
                "weight-method and embeddings are for the weight-only methods (int8, int4), not {}",
                self.method.name()
            )));
        }
        if self.half_scales && !weight_only {
            return Err(Error::usage(format!(
                "scales=f16 is for the weight-only methods (int8, int4), not {}",
                self.method.name()
            )));
        }
        Ok(())
    }

    /// The method named `name` on the command line.
    pub fn method_named(name: &str) -> Result<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::usage(format!("unknown quantization method '{name}' (one of: {})", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let c: Config = "int4,group-size=32,asymmetric".parse().unwrap();
        assert_eq!((c.method, c.group_size, c.asymmetric), (Method::Int4, 32, true));
        let c: Config = "int8-static,calibrate=percentile,percentile=99.9,calibration=/a,b/c".parse().unwrap();
        assert_eq!(c.calibrate, Calibrate::Percentile(99.9));
        assert_eq!(c.calibration.as_deref(), Some(std::path::Path::new("/a,b/c")));
        assert!("int3".parse::<Config>().unwrap_err().to_string().contains("one of: int8"));
        assert!("int4,group-size=x".parse::<Config>().is_err());
        assert!("int8,bogus".parse::<Config>().unwrap_err().to_string().contains("bogus"));
        assert!("int8".parse::<Config>().unwrap().half_scales);
        assert!(!"int8,scales=f32".parse::<Config>().unwrap().half_scales);
        assert!(!"int8-static".parse::<Config>().unwrap().half_scales);
        let e = "int8-dynamic,scales=f16".parse::<Config>().unwrap_err().to_string();
        assert!(e.contains("weight-only"), "{e}");
        assert!("int4,scales=f64".parse::<Config>().unwrap_err().to_string().contains("f16 or f32"));
    }
}
