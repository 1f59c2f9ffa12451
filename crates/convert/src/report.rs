//! The machine-readable report of a `convert` run (`--json`, `--report`)
//! and the classification of failures into exit codes.
//!
//! Every figure is computed once, here, and both the text output and the
//! JSON document are rendered from these structs; `docs/report.schema.json`
//! describes the JSON form, and `docs/cli.md` the exit codes.
//!
//! Non-finite numbers: JSON has no infinity, so an infinite SQNR (the two
//! outputs are identical) is written as `null`; [`OutputRow::sqnr_db`] is an
//! `Option` for that reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ir::{Dim, Model, ModelStats, PassReport, ValueInfo, ValueType};
use serde::{Deserialize, Serialize};

use crate::verify::{OutputCheck, VerificationFailed};

/// The tool name written into every report.
pub const TOOL: &str = "model-convert";

/// The version of this crate, written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Version of the report's layout; raised when a field changes meaning or
/// goes away (new fields do not raise it).
pub const SCHEMA_VERSION: u32 = 1;

// ---------------------------------------------------------------------------
// Failures and exit codes.

/// What kind of failure ended a run; each kind has its own exit code.
///
/// The Python package maps these onto exception classes, so the set and the
/// codes are part of the public interface (documented in `docs/cli.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Exit 1: the models ran but an output differs beyond the tolerance
    /// (or could not be compared).
    Verification,
    /// Exit 2: bad command-line arguments or options (unknown flag, bad
    /// value, a format name or extension nothing handles).
    Usage,
    /// Exit 3: the model uses ops the reader or writer cannot handle; the
    /// report lists them.
    UnsupportedOps,
    /// Exit 4: an input file is not valid for its format, or its graph is
    /// invalid (cycle, undefined value, bad tensor).
    Malformed,
    /// Exit 5: a file or folder could not be read or written (missing
    /// input, unwritable output folder, disk full).
    Io,
    /// Exit 6: anything else: the evaluator failing on a model, an
    /// internal error (a bug, including a panic).
    Other,
}

impl FailureKind {
    /// Every kind, in exit-code order.
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Verification,
        FailureKind::Usage,
        FailureKind::UnsupportedOps,
        FailureKind::Malformed,
        FailureKind::Io,
        FailureKind::Other,
    ];

    /// The process exit code of this kind (0 is success and no kind).
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Verification => 1,
            FailureKind::Usage => 2,
            FailureKind::UnsupportedOps => 3,
            FailureKind::Malformed => 4,
            FailureKind::Io => 5,
            FailureKind::Other => 6,
        }
    }

    /// The name used in the JSON report (`error.kind`).
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Verification => "verification",
            FailureKind::Usage => "usage",
            FailureKind::UnsupportedOps => "unsupported_ops",
            FailureKind::Malformed => "malformed",
            FailureKind::Io => "io",
            FailureKind::Other => "other",
        }
    }

    /// The kind of an IR error, looking through [`ir::Error::Context`].
    pub fn of_ir(e: &ir::Error) -> FailureKind {
        use ir::Error as E;
        match e.root() {
            E::Io { .. } => FailureKind::Io,
            E::Malformed { .. }
            | E::Cycle { .. }
            | E::DanglingValue { .. }
            | E::DuplicateValue(_)
            | E::UndefinedOutput(_)
            | E::InvalidTensor(_)
            | E::DTypeMismatch { .. } => FailureKind::Malformed,
            E::UnsupportedOps { .. } => FailureKind::UnsupportedOps,
            // No reader or writer for a name or extension: --from/--to fix it.
            E::UnknownFormat(_) | E::Usage(_) => FailureKind::Usage,
            _ => FailureKind::Other,
        }
    }

    /// The kind of any error the library or the CLI returns: typed errors
    /// anywhere in the chain decide ([`VerificationFailed`], [`UsageError`],
    /// [`ir::Error`], `std::io::Error`); anything else is [`FailureKind::Other`].
    pub fn of(e: &anyhow::Error) -> FailureKind {
        for cause in e.chain() {
            if cause.is::<VerificationFailed>() {
                return FailureKind::Verification;
            }
            if cause.is::<UsageError>() {
                return FailureKind::Usage;
            }
            if let Some(e) = cause.downcast_ref::<ir::Error>() {
                return FailureKind::of_ir(e);
            }
            if cause.is::<std::io::Error>() {
                return FailureKind::Io;
            }
        }
        FailureKind::Other
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A command-line argument or option that cannot be used as given (exit
/// code 2, like clap's own usage errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The `error` member of a failed run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The failure's kind ([`FailureKind::name`]).
    pub kind: FailureKind,
    /// The one-line message the CLI prints after `error: `.
    pub message: String,
    /// The process exit code ([`FailureKind::exit_code`]).
    pub exit_code: i32,
    /// For [`FailureKind::UnsupportedOps`]: every op that could not be
    /// handled; empty otherwise.
    pub unsupported_ops: Vec<UnsupportedOpInfo>,
}

/// One op a reader or writer could not handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsupportedOpInfo {
    /// Op type, e.g. `Erfc`.
    pub op: String,
    /// Op domain (`ai.onnx` for the default domain).
    pub domain: String,
    /// The first node that uses it.
    pub node: String,
    /// How many nodes use it.
    pub count: usize,
    /// The format that could not handle it.
    pub format: String,
}

impl ErrorInfo {
    /// The report form of an error: kind, one-line message (the chain
    /// joined with `: `, as the CLI prints it), exit code, unsupported ops.
    pub fn of(e: &anyhow::Error) -> ErrorInfo {
        let kind = FailureKind::of(e);
        let unsupported_ops =
            e.chain().find_map(|c| c.downcast_ref::<ir::Error>()).map(unsupported_ops).unwrap_or_default();
        ErrorInfo { kind, message: format!("{e:#}"), exit_code: kind.exit_code(), unsupported_ops }
    }

    /// The report form of a panic (an internal error).
    pub fn internal(message: impl Into<String>) -> ErrorInfo {
        let kind = FailureKind::Other;
        ErrorInfo { kind, message: message.into(), exit_code: kind.exit_code(), unsupported_ops: Vec::new() }
    }
}

/// The ops an [`ir::Error::UnsupportedOps`] (under any context) lists.
pub fn unsupported_ops(e: &ir::Error) -> Vec<UnsupportedOpInfo> {
    match e.root() {
        ir::Error::UnsupportedOps { format, ops } => ops
            .iter()
            .map(|u| UnsupportedOpInfo {
                op: u.op.clone(),
                domain: domain_name(&u.domain).to_string(),
                node: u.node.clone(),
                count: u.count,
                format: format.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn domain_name(d: &str) -> &str {
    if d.is_empty() { "ai.onnx" } else { d }
}

// ---------------------------------------------------------------------------
// Models.

/// One dimension of a declared shape: a size, a symbol name, or unknown
/// (`null` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DimInfo {
    /// A fixed size.
    Size(u64),
    /// A named dynamic size (`batch`).
    Symbol(String),
    /// A dynamic size with no name.
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueDesc {
    /// The value's name.
    pub name: String,
    /// Element type name (`f32`, `i64`, ...) of a (sparse) tensor; `None`
    /// when unknown or not a tensor.
    pub dtype: Option<String>,
    /// Shape of a (sparse) tensor; `None` when even the rank is unknown or
    /// the value is not a tensor.
    pub shape: Option<Vec<DimInfo>>,
    /// The whole type as the text report prints it (`f32[batch,3,224,224]`,
    /// `seq<f32[...]>`).
    #[serde(rename = "type")]
    pub ty: String,
}

impl ValueDesc {
    /// The description of a value.
    pub fn of(v: &ValueInfo) -> ValueDesc {
        ValueDesc::typed(&v.name, &v.ty)
    }

    /// The description of the value `name` of type `ty`.
    pub fn typed(name: &str, ty: &ValueType) -> ValueDesc {
        let (dtype, shape) = match ty {
            ValueType::Tensor { dtype, shape } | ValueType::SparseTensor { dtype, shape } => (*dtype, shape.as_ref()),
            _ => (None, None),
        };
        ValueDesc {
            name: name.to_string(),
            dtype: dtype.map(|d| d.name().to_string()),
            shape: shape.map(|s| {
                s.dims()
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => DimInfo::Size(*n),
                        Dim::Symbolic(s) => DimInfo::Symbol(s.clone()),
                        Dim::Unknown => DimInfo::Unknown,
                    })
                    .collect()
            }),
            ty: ty.to_string(),
        }
    }
}

/// Stored tensors of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtypeBytes {
    /// Number of tensors.
    pub tensors: usize,
    /// Number of elements.
    pub elements: u64,
    /// Bytes of their data.
    pub bytes: u64,
}

/// What `convert inspect` shows of a model: the one source of its figures
/// for the text and the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's path as given (lossily UTF-8: JSON strings are Unicode).
    pub path: String,
    /// The format it was read as (`onnx`, `openvino`, ...).
    pub format: String,
    /// Producer name and version, when the file names one.
    pub producer: Option<String>,
    /// Opset version per domain (`ai.onnx` for the default domain), in file order.
    pub opsets: indexmap::IndexMap<String, i64>,
    /// Inputs to feed (graph inputs without an initializer default).
    pub inputs: Vec<ValueDesc>,
    /// Graph outputs.
    pub outputs: Vec<ValueDesc>,
    /// Number of nodes, subgraphs included.
    pub nodes: usize,
    /// Node count per op (`Conv`, `com.microsoft::Attention`), subgraphs included.
    pub ops: BTreeMap<String, usize>,
    /// Number of initializer elements.
    pub parameters: u64,
    /// Bytes of the initializers.
    pub weight_bytes: u64,
    /// Initializers per dtype name (`f32`, `i8`, ...), in the IR's dtype order.
    pub by_dtype: indexmap::IndexMap<String, DtypeBytes>,
    /// Bytes of the tensors held by `Constant` nodes.
    pub constant_bytes: u64,
    /// Initializer plus `Constant` bytes.
    pub stored_bytes: u64,
    /// The model's metadata properties, in file order.
    pub metadata: indexmap::IndexMap<String, String>,
    /// With `inspect --values` ([`ModelInfo::with_values`]): every value the
    /// main graph's nodes produce, in graph order, with its type from
    /// `ir::infer` (type `unknown` where inference found none); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<ValueDesc>>,
    /// With `inspect --values`: why the types could not be inferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_error: Option<String>,
}

impl ModelInfo {
    /// Gathers the facts of `model`, read from `path` as `format`.
    pub fn of(model: &Model, path: &Path, format: &str) -> ModelInfo {
        let g = &model.graph;
        let s = ModelStats::of(model);
        let producer = format!("{} {}", model.producer_name, model.producer_version).trim().to_string();
        ModelInfo {
            path: path.to_string_lossy().into_owned(),
            format: format.to_string(),
            producer: (!model.producer_name.is_empty()).then_some(producer),
            opsets: model.opset_imports.iter().map(|(d, v)| (domain_name(d).to_string(), *v)).collect(),
            inputs: crate::verify::feeds(model).into_iter().map(ValueDesc::of).collect(),
            outputs: g.outputs.iter().map(ValueDesc::of).collect(),
            nodes: s.nodes,
            weight_bytes: s.weight_bytes(),
            stored_bytes: s.stored_bytes(),
            constant_bytes: s.constant_bytes,
            parameters: s.parameters,
            by_dtype: s
                .by_dtype
                .iter()
                .map(|(d, &(tensors, elements, bytes))| (d.name().to_string(), DtypeBytes { tensors, elements, bytes }))
                .collect(),
            ops: s.ops,
            metadata: model.metadata.clone(),
            values: None,
            values_error: None,
        }
    }

    /// Adds the inferred type of every value the main graph's nodes produce.
    pub fn with_values(mut self, model: &Model) -> ModelInfo {
        let g = &model.graph;
        match ir::infer::infer(g, model.onnx_opset()) {
            Ok(types) => {
                let produced = g.nodes.iter().flat_map(|n| n.present_outputs());
                self.values = Some(
                    produced
                        .map(|name| match types.ty(name) {
                            Some(ty) => ValueDesc::typed(name, ty),
                            None => {
                                ValueDesc { name: name.to_string(), dtype: None, shape: None, ty: "unknown".into() }
                            }
                        })
                        .collect(),
                );
            }
            Err(e) => self.values_error = Some(e.to_string()),
        }
        self
    }
}

// ---------------------------------------------------------------------------
// Verification.

/// One output's comparison (a verification or pass-check row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRow {
    /// The output's name in the reference model.
    pub name: String,
    /// Largest absolute difference.
    pub max_abs: Option<f64>,
    /// Relative L2 error ‖b − a‖ / ‖a‖ (absolute when the reference is zero).
    pub rel_l2: Option<f64>,
    /// Cosine similarity.
    pub cosine: Option<f64>,
    /// Signal-to-noise ratio in dB; `None` (`null`) when the outputs are
    /// identical (infinite SQNR) or when they could not be compared (then
    /// `error` is set).
    pub sqnr_db: Option<f64>,
    /// Rows whose argmax agrees and the row count, for classifier-like
    /// outputs (`[N, C]`, C ≥ 2).
    pub top1: Option<(usize, usize)>,
    /// Elements where exactly one side is NaN.
    pub nan_mismatches: Option<usize>,
    /// Whether the output is within the tolerance.
    pub pass: bool,
    /// Why the outputs could not be compared (shape or dtype differ); all
    /// metrics are `None` then.
    pub error: Option<String>,
}

impl OutputRow {
    /// The row of one output check.
    pub fn of(c: &OutputCheck) -> OutputRow {
        let finite = |x: f64| x.is_finite().then_some(x);
        match &c.metrics {
            Ok(m) => OutputRow {
                name: c.name.clone(),
                max_abs: finite(m.max_abs),
                rel_l2: finite(m.rel_l2),
                cosine: finite(m.cosine),
                sqnr_db: finite(m.sqnr_db),
                top1: m.top1,
                nan_mismatches: Some(m.nan_mismatches),
                pass: c.pass,
                error: None,
            },
            Err(e) => OutputRow {
                name: c.name.clone(),
                max_abs: None,
                rel_l2: None,
                cosine: None,
                sqnr_db: None,
                top1: None,
                nan_mismatches: None,
                pass: false,
                error: Some(e.clone()),
            },
        }
    }
}

/// A comparison of two models' outputs on the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The largest relative L2 error accepted per output; `None` when no
    /// limit applies (the pass check only reports).
    pub tolerance: Option<f64>,
    /// Whether every output passed.
    pub pass: bool,
    /// One row per output, in output order.
    pub outputs: Vec<OutputRow>,
}

impl Comparison {
    /// The comparison of these checks against `tolerance` (`None` or
    /// infinite: no limit).
    pub fn of(checks: &[OutputCheck], tolerance: Option<f64>) -> Comparison {
        Comparison {
            tolerance: tolerance.filter(|t| t.is_finite()),
            pass: checks.iter().all(|c| c.pass),
            outputs: checks.iter().map(OutputRow::of).collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// The whole document.

/// Which command produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// `convert INPUT OUTPUT`.
    Convert,
    /// `convert inspect MODEL`.
    Inspect,
    /// `convert verify REFERENCE CANDIDATE`.
    Verify,
    /// `convert run MODEL -o DIR`.
    Run,
}

/// The tool that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Always [`TOOL`].
    pub name: String,
    /// The crate version ([`VERSION`]).
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        ToolInfo { name: TOOL.to_string(), version: VERSION.to_string() }
    }
}

/// A file written, with its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Its path (lossily UTF-8).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Wall-clock seconds of each stage; `None` for a stage that did not run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading the input model(s).
    pub import: Option<f64>,
    /// Running the passes (and the pass check).
    pub passes: Option<f64>,
    /// Writing the output.
    pub export: Option<f64>,
    /// Re-reading and comparing (`--verify`, `verify`).
    pub verify: Option<f64>,
    /// Evaluating the model (`run`).
    pub run: Option<f64>,
    /// The whole command.
    pub total: f64,
}

/// One output written by `convert run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The output's name.
    pub name: String,
    /// What was written (`f32 [1, 10] -> out/y.npy`).
    pub written: String,
}

/// What `convert run` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The folder the outputs went to (lossily UTF-8).
    pub output_dir: String,
    /// One entry per output, in output order.
    pub outputs: Vec<RunOutput>,
    /// With `--repeat N`: the median milliseconds per run.
    pub median_ms: Option<f64>,
    /// With `--repeat N`: the fastest run in milliseconds.
    pub min_ms: Option<f64>,
    /// With `--repeat N`: N.
    pub repeat: usize,
}

/// The JSON document of one command (`--json`, `--report`); see
/// `docs/report.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The tool and its version.
    pub tool: ToolInfo,
    /// The command that ran.
    pub command: CommandKind,
    /// Whether it succeeded (then `error` is `None`).
    pub ok: bool,
    /// The model read (`convert`, `inspect`, `run`) or the reference model
    /// (`verify`); `None` when reading it failed.
    pub input: Option<ModelInfo>,
    /// The model written (`convert`) or the candidate model (`verify`).
    pub output: Option<ModelInfo>,
    /// Files written, main file first.
    pub files: Vec<FileInfo>,
    /// One report per pass run, in order.
    pub passes: Vec<PassReport>,
    /// The model before versus after the passes on the same inputs.
    pub pass_check: Option<Comparison>,
    /// What the run left undone without failing, one line each (a pass
    /// check the evaluator could not run, for instance).
    pub warnings: Vec<String>,
    /// The verification (`--verify`, `verify`).
    pub verification: Option<Comparison>,
    /// What `run` wrote.
    pub run: Option<RunInfo>,
    /// Stage timings in seconds.
    pub timings: Timings,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
}

impl Report {
    /// An empty report of `command`, successful until [`Report::fail`].
    pub fn new(command: CommandKind) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::default(),
            command,
            ok: true,
            input: None,
            output: None,
            files: Vec::new(),
            passes: Vec::new(),
            pass_check: None,
            warnings: Vec::new(),
            verification: None,
            run: None,
            timings: Timings::default(),
            error: None,
        }
    }

    /// Records the error that ended the run.
    pub fn fail(&mut self, error: ErrorInfo) {
        self.ok = false;
        self.error = Some(error);
    }

    /// The exit code of the run: 0, or the error's.
    pub fn exit_code(&self) -> i32 {
        self.error.as_ref().map_or(0, |e| e.exit_code)
    }

    /// The document as pretty-printed JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        // Only maps with non-string keys or failing Serialize impls can make
        // serde_json fail; the report has neither (paths are strings already).
        let mut s = serde_json::to_string_pretty(self).expect("a report always serializes");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::OutputCheck;
    use eval::compare::Metrics;

    #[test]
    fn every_kind_has_its_own_code_and_name() {
        let codes: Vec<i32> = FailureKind::ALL.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
        for k in FailureKind::ALL {
            // The serde name is the documented one.
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
    }

    #[test]
    fn ir_errors_are_classified_through_context() {
        let io = ir::Error::io("m.onnx", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(FailureKind::of_ir(&io.context("reading")), FailureKind::Io);
        let bad = ir::Error::malformed("m.onnx", "truncated").context("a").context("b");
        assert_eq!(FailureKind::of_ir(&bad), FailureKind::Malformed);
        let cycle = ir::Error::Cycle { nodes: vec!["a".into()] };
        assert_eq!(FailureKind::of_ir(&cycle), FailureKind::Malformed);
        let ops = ir::Error::unsupported_ops("openvino", [("Erfc", "", "n1"), ("Erfc", "", "n2"), ("Foo", "x", "n3")]);
        assert_eq!(FailureKind::of_ir(&ops.context("m.onnx")), FailureKind::UnsupportedOps);
        assert_eq!(FailureKind::of_ir(&ir::Error::UnknownFormat("x".into())), FailureKind::Usage);
        assert_eq!(FailureKind::of_ir(&ir::Error::invalid("x")), FailureKind::Other);
    }

    #[test]
    fn anyhow_errors_are_classified_by_their_first_typed_cause() {
        use anyhow::Context as _;
        let e = Err::<(), _>(ir::Error::malformed("m.onnx", "bad")).context("cannot read m.onnx").unwrap_err();
        assert_eq!(FailureKind::of(&e), FailureKind::Malformed);
        let failed = VerificationFailed { tolerance: 1e-4, rows: vec![] };
        assert_eq!(FailureKind::of(&anyhow::Error::new(failed).context("x")), FailureKind::Verification);
        assert_eq!(FailureKind::of(&anyhow::Error::new(UsageError("bad".into()))), FailureKind::Usage);
        let io = std::fs::read("/nonexistent/file").context("reading").unwrap_err();
        assert_eq!(FailureKind::of(&io), FailureKind::Io);
        assert_eq!(FailureKind::of(&anyhow::anyhow!("plain")), FailureKind::Other);
    }

    #[test]
    fn error_info_lists_the_unsupported_ops_and_the_one_line_message() {
        let ops = ir::Error::unsupported_ops("onnx", [("Erfc", "tf", "n1"), ("Erfc", "tf", "n2"), ("Gelu", "", "g")]);
        let e = anyhow::Error::new(ops.context("m.onnx")).context("cannot convert m.onnx to o.onnx");
        let info = ErrorInfo::of(&e);
        assert_eq!((info.kind, info.exit_code), (FailureKind::UnsupportedOps, 3));
        assert!(info.message.starts_with("cannot convert m.onnx to o.onnx: m.onnx: 2 unsupported op type(s)"));
        let names: Vec<(&str, &str, usize)> =
            info.unsupported_ops.iter().map(|u| (u.op.as_str(), u.domain.as_str(), u.count)).collect();
        assert_eq!(names, [("Erfc", "tf", 2), ("Gelu", "ai.onnx", 1)]);
    }

    fn metrics(rel_l2: f64, sqnr_db: f64) -> Metrics {
        Metrics { elements: 4, max_abs: rel_l2, rel_l2, cosine: 1.0, sqnr_db, top1: Some((2, 2)), nan_mismatches: 0 }
    }

    #[test]
    fn rows_write_infinite_sqnr_as_null_and_round_trip() {
        let checks = vec![
            OutputCheck { name: "same".into(), metrics: Ok(metrics(0.0, f64::INFINITY)), pass: true },
            OutputCheck { name: "off".into(), metrics: Ok(metrics(0.5, 6.0)), pass: false },
            OutputCheck { name: "shape".into(), metrics: Err("shape [2] differs".into()), pass: false },
        ];
        let mut report = Report::new(CommandKind::Verify);
        report.verification = Some(Comparison::of(&checks, Some(1e-4)));
        let failed = VerificationFailed::check(checks, 1e-4).unwrap_err();
        assert_eq!(
            failed.to_string(),
            "verification failed (tolerance rel. L2 0.0001): 'off' rel. L2 error 5.00e-1; 'shape': shape [2] differs"
        );
        report.fail(ErrorInfo::of(&anyhow::Error::new(failed)));
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let rows = &v["verification"]["outputs"];
        assert!(rows[0]["sqnr_db"].is_null() && rows[0]["error"].is_null());
        assert_eq!(rows[0]["top1"], serde_json::json!([2, 2]));
        assert_eq!(rows[1]["sqnr_db"], 6.0);
        assert!(rows[2]["rel_l2"].is_null() && rows[2]["error"] == "shape [2] differs");
        assert_eq!(v["verification"]["pass"], false);
        assert_eq!((v["ok"].as_bool(), v["error"]["exit_code"].as_i64()), (Some(false), Some(1)));
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn model_info_writes_symbolic_and_unknown_dims() {
        let x = ValueInfo::tensor(
            "x",
            ir::DType::F32,
            ir::Shape(vec![Dim::Symbolic("batch".into()), Dim::Fixed(3), Dim::Unknown]),
        );
        let d = ValueDesc::of(&x);
        assert_eq!(serde_json::to_value(&d.shape).unwrap(), serde_json::json!(["batch", 3, null]));
        assert_eq!(d.dtype.as_deref(), Some("f32"));
        assert_eq!(d.ty, x.ty.to_string());
        let round: ValueDesc = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(round, d);
    }
}
