//! Checking that two models compute the same function: inputs (seeded
//! random or from files), both run through the reference evaluator, and
//! per-output error metrics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eval::compare::Metrics;
use ir::{DType, Dim, Error, Model, Result, ValueType};

/// Where a model input's value comes from.
#[derive(Debug, Clone)]
pub enum InputFile {
    /// `NAME=FILE`: the file feeds the named input.
    Named(String, PathBuf),
    /// `FILE`: feeds the next input in graph order (an `.npz` feeds inputs by key).
    Positional(PathBuf),
}

impl InputFile {
    /// Parses `NAME=FILE` or `FILE`.
    pub fn parse(s: &str) -> Self {
        match s.split_once('=') {
            Some((n, f)) if !n.is_empty() && !Path::new(s).exists() => InputFile::Named(n.into(), f.into()),
            _ => InputFile::Positional(s.into()),
        }
    }
}

/// How inputs are made for verification.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// Seed of the random generator.
    pub seed: u64,
    /// Full shapes per input name (`--input-shape name=1,3,224,224`).
    pub shapes: HashMap<String, Vec<usize>>,
    /// Sizes of symbolic dimensions by name (`--dim batch=4`).
    pub dims: HashMap<String, usize>,
    /// Size for dynamic dimensions not otherwise given.
    pub default_dim: usize,
    /// Files feeding inputs; others are random.
    pub files: Vec<InputFile>,
    /// Limits on reading the input files (`.npz` is a zip).
    pub limits: ir::Limits,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            seed: 0,
            shapes: HashMap::new(),
            dims: HashMap::new(),
            default_dim: 1,
            files: Vec::new(),
            limits: ir::Limits::default(),
        }
    }
}

/// The inputs a model needs (graph inputs without initializer defaults).
pub fn feeds(model: &Model) -> Vec<&ir::ValueInfo> {
    let g = &model.graph;
    g.inputs.iter().filter(|v| !g.initializers.contains_key(&v.name)).collect()
}

/// A small deterministic generator (splitmix64): same seed, same inputs,
/// everywhere. Public for the fuzz harness's mutators.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Most elements of one random input: the generator holds them as `f64`
/// besides the tensor, so this is about 4 GiB at the peak. A model may
/// declare any dims; a bigger input needs `--input-shape`/`--dim` or a file.
const MAX_RANDOM_ELEMENTS: u128 = 1 << 28;

fn random_tensor(dtype: DType, shape: Vec<usize>, rng: &mut Rng) -> Result<eval::Tensor> {
    let n = shape.iter().try_fold(1u128, |a, &d| a.checked_mul(d as u128)).unwrap_or(u128::MAX);
    if n > MAX_RANDOM_ELEMENTS {
        return Err(Error::invalid(format!(
            "a random input of shape {shape:?} would have {n} elements (at most {MAX_RANDOM_ELEMENTS} are made); \
             give smaller sizes with --input-shape/--dim, or an input file"
        )));
    }
    random_tensor_inner(dtype, shape, rng).map_err(|e| Error::invalid(e.to_string()))
}

fn random_tensor_inner(dtype: DType, shape: Vec<usize>, rng: &mut Rng) -> eval::Result<eval::Tensor> {
    let n: usize = shape.iter().product();
    let f: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
    // Integer inputs are usually indices or ids; 0 and 1 are valid for any
    // axis of size ≥ 2 and for any vocabulary, so random data stays in range.
    let ints: Vec<i64> = f.iter().map(|&x| i64::from(x >= 0.0)).collect();
    let t = match dtype {
        DType::F32 => eval::Tensor::F32(eval::array(&shape, f.iter().map(|&x| x as f32).collect())?),
        DType::F64 => eval::Tensor::F64(eval::array(&shape, f)?),
        DType::F16 => eval::Tensor::F16(eval::array(&shape, f.iter().map(|&x| ir::f16::from_f64(x)).collect())?),
        DType::BF16 => eval::Tensor::BF16(eval::array(&shape, f.iter().map(|&x| ir::bf16::from_f64(x)).collect())?),
        DType::Bool => eval::Tensor::Bool(eval::array(&shape, ints.iter().map(|&x| x == 1).collect())?),
        DType::I64 => eval::Tensor::I64(eval::array(&shape, ints)?),
        DType::I32 => eval::Tensor::I32(eval::array(&shape, ints.iter().map(|&x| x as i32).collect())?),
        DType::I16 => eval::Tensor::I16(eval::array(&shape, ints.iter().map(|&x| x as i16).collect())?),
        DType::I8 => eval::Tensor::I8(eval::array(&shape, ints.iter().map(|&x| x as i8).collect())?),
        DType::U8 => eval::Tensor::U8(eval::array(&shape, ints.iter().map(|&x| x as u8).collect())?),
        DType::U16 => eval::Tensor::U16(eval::array(&shape, ints.iter().map(|&x| x as u16).collect())?),
        DType::U32 => eval::Tensor::U32(eval::array(&shape, ints.iter().map(|&x| x as u32).collect())?),
        DType::U64 => eval::Tensor::U64(eval::array(&shape, ints.iter().map(|&x| x as u64).collect())?),
        DType::String => eval::Tensor::Str(eval::array(&shape, ints.iter().map(|x| x.to_string()).collect())?),
        DType::C64 => eval::Tensor::C64(eval::array(
            &shape,
            f.iter().enumerate().map(|(i, &x)| eval::Complex32::new(x as f32, ((i % 7) as f32 - 3.0) / 4.0)).collect(),
        )?),
        DType::C128 => eval::Tensor::C128(eval::array(
            &shape,
            f.iter().enumerate().map(|(i, &x)| eval::Complex64::new(x, ((i % 7) as f64 - 3.0) / 4.0)).collect(),
        )?),
        // Narrow integers from the same 0/1 indices, narrow floats from the
        // unit values, both through the evaluator's own Cast.
        DType::I4 | DType::U4 | DType::I2 | DType::U2 => {
            eval::Tensor::I64(eval::array(&shape, ints)?).cast_to(dtype)?
        }
        d if d.is_float() => eval::Tensor::F64(eval::array(&shape, f)?).cast_to(d)?,
        d => return Err(eval::Error::op(format!("cannot make random {d} inputs; give an input file"))),
    };
    Ok(t)
}

fn concrete_shape(vi: &ir::ValueInfo, opts: &InputOptions) -> Result<Vec<usize>> {
    if let Some(s) = opts.shapes.get(&vi.name) {
        return Ok(s.clone());
    }
    let Some(shape) = vi.shape() else {
        return Err(Error::invalid(format!(
            "input '{}' has no declared shape; give --input-shape {}=D1,D2,...",
            vi.name, vi.name
        )));
    };
    Ok(shape
        .dims()
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n as usize,
            Dim::Symbolic(s) => opts.dims.get(s).copied().unwrap_or(opts.default_dim),
            Dim::Unknown => opts.default_dim,
        })
        .collect())
}

/// Builds one value per model input, from files where given, random otherwise.
pub fn make_inputs(model: &Model, opts: &InputOptions) -> Result<Vec<(String, eval::Value)>> {
    let feeds = feeds(model);
    let mut given: HashMap<String, ir::Tensor> = HashMap::new();
    let mut next = 0usize;
    for f in &opts.files {
        match f {
            InputFile::Named(name, path) => {
                if !feeds.iter().any(|v| &v.name == name) {
                    return Err(Error::invalid(format!("--input {name}=...: the model has no input '{name}'")));
                }
                given.insert(name.clone(), ir::tensor_file::read_one_with(path, &opts.limits)?);
            }
            InputFile::Positional(path) if path.extension().is_some_and(|e| e == "npz") => {
                for (key, t) in ir::tensor_file::read_npz_with(path, &opts.limits)? {
                    given.insert(key, t);
                }
            }
            InputFile::Positional(path) => {
                let vi = feeds.get(next).ok_or_else(|| {
                    Error::invalid(format!(
                        "{}: more input files than the model's {} inputs",
                        path.display(),
                        feeds.len()
                    ))
                })?;
                given.insert(vi.name.clone(), ir::tensor_file::read_one_with(path, &opts.limits)?);
                next += 1;
            }
        }
    }
    let mut rng = Rng(opts.seed);
    feeds
        .iter()
        .map(|vi| {
            let v = match given.remove(&vi.name) {
                Some(t) => eval::from_ir(&t).map_err(|e| Error::invalid(format!("input '{}': {e}", vi.name)))?,
                None => {
                    let ValueType::Tensor { dtype: Some(d), .. } = &vi.ty else {
                        return Err(Error::invalid(format!(
                            "input '{}' is not a typed tensor; give an input file",
                            vi.name
                        )));
                    };
                    random_tensor(*d, concrete_shape(vi, opts)?, &mut rng)?
                }
            };
            Ok((vi.name.clone(), eval::Value::Tensor(v)))
        })
        .collect()
}

/// Runs a model with the evaluator.
pub fn run(model: &Model, inputs: Vec<(String, eval::Value)>) -> Result<Vec<(String, eval::Value)>> {
    let session = eval::Session::new(model).map_err(|e| Error::invalid(e.to_string()))?;
    session.run(inputs).map_err(|e| Error::invalid(format!("evaluation failed: {e}")))
}

/// The comparison of one output.
#[derive(Debug, Clone)]
pub struct OutputCheck {
    /// Output name in the reference model.
    pub name: String,
    /// Metrics, or why the outputs could not be compared.
    pub metrics: std::result::Result<Metrics, String>,
    /// Whether it is within tolerance.
    pub pass: bool,
}

impl OutputCheck {
    /// Why this output fails its check, in a few words (`'y' rel. L2 error
    /// 3.10e-2, 2 NaN mismatches`); `None` when it passes.
    pub fn failure(&self) -> Option<String> {
        if self.pass {
            return None;
        }
        Some(match &self.metrics {
            Ok(m) => {
                let nan =
                    if m.nan_mismatches > 0 { format!(", {} NaN mismatches", m.nan_mismatches) } else { String::new() };
                format!("'{}' rel. L2 error {}{nan}", self.name, fmt_sci(m.rel_l2))
            }
            Err(e) => format!("'{}': {e}", self.name),
        })
    }
}

/// A number in short scientific notation (`3.10e-2`), `0` for zero.
pub fn fmt_sci(x: f64) -> String {
    if x == 0.0 { "0".into() } else { format!("{x:.2e}") }
}

/// Verification found outputs beyond the tolerance (exit code 1): the error
/// `convert verify` and `--verify` return, with every row of the comparison.
#[derive(Debug, Clone)]
pub struct VerificationFailed {
    /// The largest relative L2 error accepted per output.
    pub tolerance: f64,
    /// Every output's check, passing ones included.
    pub rows: Vec<OutputCheck>,
}

impl VerificationFailed {
    /// `Err(VerificationFailed)` if any check failed, else `Ok(checks)`.
    pub fn check(checks: Vec<OutputCheck>, tolerance: f64) -> std::result::Result<Vec<OutputCheck>, Self> {
        if checks.iter().all(|c| c.pass) { Ok(checks) } else { Err(VerificationFailed { tolerance, rows: checks }) }
    }
}

impl std::fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed: Vec<String> = self.rows.iter().filter_map(OutputCheck::failure).collect();
        write!(f, "verification failed (tolerance rel. L2 {}): {}", self.tolerance, failed.join("; "))
    }
}

impl std::error::Error for VerificationFailed {}

/// Whether `a` and `b` hold the same names, each once: then values are
/// matched by name (formats such as SavedModel keep names but not order).
fn same_names<'a>(a: impl Iterator<Item = &'a str>, b: impl Iterator<Item = &'a str>) -> bool {
    let (mut a, mut b): (Vec<&str>, Vec<&str>) = (a.collect(), b.collect());
    a.sort_unstable();
    b.sort_unstable();
    a == b && a.windows(2).all(|w| w[0] != w[1])
}

/// Runs `reference` and `candidate` on the same inputs and compares their
/// outputs. Inputs and outputs are matched by name when both models name
/// them alike (a SavedModel signature keeps names, not order), else by
/// position (conversions may rename values).
pub fn compare_models(
    reference: &Model,
    candidate: &Model,
    inputs: Vec<(String, eval::Value)>,
    tolerance: f64,
) -> Result<Vec<OutputCheck>> {
    let cand_feeds: Vec<String> = feeds(candidate).iter().map(|v| v.name.clone()).collect();
    if cand_feeds.len() != inputs.len() {
        return Err(Error::invalid(format!(
            "the models take different numbers of inputs ({} and {})",
            inputs.len(),
            cand_feeds.len()
        )));
    }
    let cand_inputs = if same_names(cand_feeds.iter().map(String::as_str), inputs.iter().map(|(n, _)| n.as_str())) {
        inputs.clone()
    } else {
        cand_feeds.into_iter().zip(inputs.iter().map(|(_, v)| v.clone())).collect()
    };
    let a = run(reference, inputs).map_err(|e| e.context("reference model"))?;
    let mut b = run(candidate, cand_inputs).map_err(|e| e.context("converted model"))?;
    if a.len() != b.len() {
        return Err(Error::invalid(format!(
            "the models have different numbers of outputs ({} and {})",
            a.len(),
            b.len()
        )));
    }
    if same_names(a.iter().map(|(n, _)| n.as_str()), b.iter().map(|(n, _)| n.as_str())) {
        let order: std::collections::HashMap<&str, usize> =
            a.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
        b.sort_by_key(|(n, _)| order.get(n.as_str()).copied().unwrap_or(usize::MAX));
    }
    Ok(a.iter()
        .zip(&b)
        .map(|((name, x), (_, y))| {
            let metrics = eval::compare::compare_values(x, y).map_err(|e| e.to_string());
            let pass = metrics.as_ref().is_ok_and(|m| m.rel_l2 <= tolerance && m.nan_mismatches == 0);
            OutputCheck { name: name.clone(), metrics, pass }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{DType, Graph, Node, Shape, Tensor, ValueInfo};

    /// `y = a - b` (and `z = a`), with the inputs and outputs declared in the given orders.
    fn sub(inputs: [&str; 2], outputs: [&str; 2]) -> Model {
        let vi = |n: &str| ValueInfo::tensor(n, DType::F32, Shape::fixed(&[2]));
        Model::new(Graph {
            name: "g".into(),
            inputs: inputs.iter().map(|n| vi(n)).collect(),
            outputs: outputs.iter().map(|n| vi(n)).collect(),
            nodes: vec![Node::new("Sub", ["a", "b"], ["y"]), Node::new("Identity", ["a"], ["z"])],
            ..Graph::default()
        })
    }

    fn feed(name: &str, v: [f32; 2]) -> (String, eval::Value) {
        (name.into(), eval::Value::Tensor(eval::from_ir(&Tensor::from_vec(vec![2], v.to_vec()).unwrap()).unwrap()))
    }

    #[test]
    fn values_named_alike_are_matched_by_name_else_by_position() {
        let inputs = || vec![feed("a", [5.0, 7.0]), feed("b", [1.0, 2.0])];
        // A SavedModel round trip keeps names but may reorder inputs and outputs.
        let rows = compare_models(&sub(["a", "b"], ["y", "z"]), &sub(["b", "a"], ["z", "y"]), inputs(), 1e-6).unwrap();
        assert!(rows.iter().all(|r| r.pass), "{rows:?}");
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["y", "z"]);
        // Renamed values: by position.
        let mut renamed = sub(["a", "b"], ["y", "z"]);
        renamed.graph.inputs[0].name = "input_0".into();
        renamed.graph.nodes[0].inputs[0] = Some("input_0".into());
        renamed.graph.nodes[1].inputs[0] = Some("input_0".into());
        let rows = compare_models(&sub(["a", "b"], ["y", "z"]), &renamed, inputs(), 1e-6).unwrap();
        assert!(rows.iter().all(|r| r.pass), "{rows:?}");
    }
}
