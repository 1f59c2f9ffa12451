//! The traits a format or pass crate implements.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{FormatInfo, Model, Result};

/// How sure an importer is that it can read a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detection {
    /// Not this format.
    No,
    /// The file name matches (extension, folder layout) but the content was not checked.
    Name,
    /// The content was looked at and matches.
    Content,
}

/// Reports progress of long work (bytes read or written). Implemented by the CLI.
pub trait Progress: Send + Sync {
    /// Work of `total` bytes starts.
    fn begin(&self, what: &str, total: u64);
    /// `bytes` more bytes are done.
    fn advance(&self, bytes: u64);
    /// The work is finished.
    fn end(&self);
    /// Whether the caller asked the work to stop (a host's Ctrl-C): long
    /// loops check it through [`ProgressHandle::check_cancelled`] between
    /// tensors and stop with an error, so an atomic writer leaves no file.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A shared progress sink; `None` means silent.
#[derive(Clone, Default)]
pub struct ProgressHandle(pub Option<Arc<dyn Progress>>);

impl ProgressHandle {
    /// Starts a unit of work.
    pub fn begin(&self, what: &str, total: u64) {
        if let Some(p) = &self.0 {
            p.begin(what, total);
        }
    }
    /// Advances it.
    pub fn advance(&self, bytes: u64) {
        if let Some(p) = &self.0 {
            p.advance(bytes);
        }
    }
    /// Ends it.
    pub fn end(&self) {
        if let Some(p) = &self.0 {
            p.end();
        }
    }
    /// Fails with an I/O error of kind `Interrupted` naming `path` when the
    /// work was cancelled ([`Progress::cancelled`]); writers call it between
    /// tensors, before the file is committed.
    pub fn check_cancelled(&self, path: &Path) -> Result<()> {
        match &self.0 {
            Some(p) if p.cancelled() => {
                Err(crate::Error::io(path, std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled")))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for ProgressHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "ProgressHandle(on)" } else { "ProgressHandle(off)" })
    }
}

/// Options for importing.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Progress sink.
    pub progress: ProgressHandle,
    /// Format-specific options (`key=value` from the CLI's `-I`).
    pub format_options: BTreeMap<String, String>,
    /// Keep ops with no canonical meaning as nodes of the origin domain
    /// (`ir::opset::ORIGIN_DOMAINS`) instead of failing with the list of
    /// unsupported ops (`--keep-unknown-ops`).
    pub keep_unknown_ops: bool,
    /// Values that become the graph's inputs (`--graph-inputs`): the part
    /// of the model before them is cut off. Empty: the model's own inputs.
    /// Importers that can cut while parsing (TensorFlow) read it; the CLI
    /// cuts any format afterwards with [`crate::extract::extract`].
    pub graph_inputs: Vec<String>,
    /// Values that become the graph's outputs (`--graph-outputs`); empty:
    /// the model's own outputs.
    pub graph_outputs: Vec<String>,
    /// What the file may make the importer do: nesting depth, inflated
    /// bytes, tensor count (`--max-depth`, `--max-inflated-bytes`,
    /// `--max-tensors`).
    pub limits: crate::Limits,
}

/// Whether weights go to files beside the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalData {
    /// Only when the format requires it (ONNX over 2 GiB).
    #[default]
    Auto,
    /// Always, for tensors above the format's size threshold.
    Always,
    /// Never; fail if the format cannot hold the model inline.
    Never,
}

/// Options for exporting.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// External-data policy for formats that have it.
    pub external_data: ExternalData,
    /// Progress sink.
    pub progress: ProgressHandle,
    /// Format-specific options (`key=value` from the CLI's `-O`).
    pub format_options: BTreeMap<String, String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Files written, main file first, with their sizes in bytes.
    pub files: Vec<(PathBuf, u64)>,
}

impl ExportReport {
    /// Total bytes written.
    pub fn bytes_written(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

/// Reads one format into the IR.
///
/// Implementations parse the file into the format's own structures first,
/// then translate those to the IR (two stages, so the parser knows bytes and
/// the translator knows ops). Unsupported ops are collected and reported
/// together in one [`crate::Error::UnsupportedOps`].
pub trait Importer: Send + Sync {
    /// Name, description and file extensions.
    fn info(&self) -> FormatInfo;
    /// Whether `path` looks like this format (cheap: name and first bytes).
    fn detect(&self, path: &Path) -> Detection;
    /// Reads the model at `path`.
    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model>;
    /// The keys this importer reads from [`ImportOptions::format_options`]
    /// (`-I key=value`). Any other key is refused before the import
    /// ([`check_format_options`]), so a misspelt option is never ignored.
    fn option_names(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Writes the IR in one format.
pub trait Exporter: Send + Sync {
    /// Name, description and file extensions.
    fn info(&self) -> FormatInfo;
    /// Checks that the model can be written, listing every op that cannot.
    /// Called before any file is created.
    fn check(&self, _model: &Model) -> Result<()> {
        Ok(())
    }
    /// Writes the model to `path` (and companion files) atomically: on error
    /// nothing is left behind and existing files are untouched.
    fn export(&self, model: &Model, path: &Path, options: &ExportOptions) -> Result<ExportReport>;
    /// The keys this exporter reads from [`ExportOptions::format_options`]
    /// (`-O key=value`). Any other key is refused before anything is read
    /// or written ([`check_format_options`]).
    fn option_names(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Refuses a format option `format` does not read: `flag` is how the user
/// gave it (`-I` or `-O`), `known` the format's
/// [`Importer::option_names`] or [`Exporter::option_names`].
pub fn check_format_options(format: &str, flag: &str, given: &BTreeMap<String, String>, known: &[&str]) -> Result<()> {
    let unknown: Vec<&str> = given.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let reads = if known.is_empty() { "none".to_string() } else { known.join(", ") };
    Err(crate::Error::usage(format!(
        "{flag} {}: not an option of the {format} {} (it reads: {reads})",
        unknown.join(", "),
        if flag == "-I" { "reader" } else { "writer" }
    )))
}

/// What a pass did: lines for people and the same facts for machines
/// (`convert --json`, `--report`).
///
/// Third-party passes build one with [`PassReport::new`] and add figures
/// with [`PassReport::figure`] and items with [`PassReport::item`] (or
/// start from `Default`): fields may be added, so prefer these to a struct literal.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassReport {
    /// The pass's name.
    pub pass: String,
    /// Human-readable lines: what changed, figures.
    pub lines: Vec<String>,
    /// Whole-model figures by name (`bytes_before`, `bytes_after`,
    /// `parameters_before`, `pruned_channels`, `clamped`, ...). Names are
    /// snake_case; sizes are in bytes, ratios in 0..1, SQNR in dB.
    #[serde(default)]
    pub figures: BTreeMap<String, f64>,
    /// Per weight or layer facts (precision, SQNR, pruned channels, ...).
    #[serde(default)]
    pub items: Vec<ReportItem>,
}

impl PassReport {
    /// A report of `pass` with these human-readable lines and no figures.
    pub fn new(pass: impl Into<String>, lines: Vec<String>) -> Self {
        PassReport { pass: pass.into(), lines, figures: BTreeMap::new(), items: Vec::new() }
    }

    /// Sets a whole-model figure (builder style).
    pub fn figure(mut self, name: &str, value: f64) -> Self {
        self.figures.insert(name.to_string(), value);
        self
    }

    /// Appends a per-weight or per-layer item (builder style).
    pub fn item(mut self, item: ReportItem) -> Self {
        self.items.push(item);
        self
    }
}

/// One weight's or layer's facts in a [`PassReport`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportItem {
    /// The weight (initializer) or node name.
    pub name: String,
    /// Named facts: numbers (`sqnr_db`, `group_size`, `pruned_channels`) or
    /// words (`precision`, `method`).
    pub fields: BTreeMap<String, FieldValue>,
}

impl ReportItem {
    /// An item with no fields yet.
    pub fn new(name: impl Into<String>) -> Self {
        ReportItem { name: name.into(), fields: BTreeMap::new() }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, key: &str, value: impl Into<FieldValue>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }
}

/// A value of a [`ReportItem`] field: a number or a word. In JSON a plain
/// number or string; a non-finite number (the SQNR of a weight stored
/// exactly) becomes `null`, which reads back as NaN.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A figure.
    #[serde(deserialize_with = "number_or_null")]
    Number(f64),
    /// A name or word.
    Text(String),
}

/// A JSON number, or `null` (what serde_json writes for a non-finite one) as NaN.
fn number_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        FieldValue::Number(v)
    }
}

impl From<f32> for FieldValue {
    fn from(v: f32) -> Self {
        FieldValue::Number(f64::from(v))
    }
}

impl From<usize> for FieldValue {
    fn from(v: usize) -> Self {
        FieldValue::Number(v as f64)
    }
}

impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        FieldValue::Number(v as f64)
    }
}

impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::Text(v.to_string())
    }
}

impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::Text(v)
    }
}

/// A transformation of a model (simplification, pruning, quantization).
pub trait Pass: Send + Sync {
    /// The pass's name, as used on the command line.
    fn name(&self) -> &str;
    /// Transforms the model in place and reports what changed.
    fn run(&self, model: &mut Model) -> Result<PassReport>;
}
