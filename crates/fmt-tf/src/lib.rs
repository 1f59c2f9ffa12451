//! TensorFlow SavedModel (`tf`) and frozen GraphDef (`tf-frozen`) for the IR.
//!
//! Import is two stages with [`graph::TfGraph`] between them: the parser
//! ([`parse`]) reads the protobufs, inlines the function library, resolves
//! variables to constants that view the memory-mapped checkpoint shards,
//! and drops control edges; the lowering ([`lower`]) maps each TensorFlow
//! op to canonical (ONNX) nodes through one rule table split by op family.
//!
//! Lowered NHWC convolutions and pools carry `Transpose`s on both sides;
//! the model is marked with [`SINK_TRANSPOSES`] so that the `convert`
//! binary runs transpose sinking right after import (format crates depend
//! only on `ir`, and sinking is a pass of `opt-simplify`).

use std::path::Path;

use ir::{Detection, Error, FormatInfo, ImportOptions, Model, Registry, Result};

pub mod bundle;
pub mod dtype;
pub mod export;
pub mod generated;
pub mod graph;
pub mod lower;
pub mod parse;
pub mod tensor;

pub use export::{FrozenExporter, SavedModelExporter, export_ops_markdown};
pub use graph::{TfAttr, TfGraph, TfNode, TfPort, TfRef, TfShape};
pub use lower::{LowerOptions, lower};
pub use parse::{
    ParseOptions, SignatureInfo, detect_frozen, detect_saved_model, read_frozen, read_saved_model, signatures,
};

/// Model metadata key set by this crate's importers: the model holds layout
/// transposes that transpose sinking should cancel before anything else
/// runs. The consumer removes the key.
pub const SINK_TRANSPOSES: &str = "model-convert.sink-transposes";

/// The SavedModel format's facts.
pub const SAVED_MODEL: FormatInfo = FormatInfo {
    name: "tf",
    description: "TensorFlow SavedModel (folder with saved_model.pb and variables/)",
    extensions: &[],
};

/// The frozen GraphDef format's facts.
pub const FROZEN: FormatInfo = FormatInfo {
    name: "tf-frozen",
    description: "TensorFlow frozen GraphDef (.pb, weights as Const)",
    extensions: &["pb"],
};

/// Reads SavedModel folders.
#[derive(Debug, Default, Clone, Copy)]
pub struct SavedModelImporter;

/// Reads frozen GraphDefs.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrozenImporter;

/// Registers the TensorFlow importers and exporters.
pub fn register(registry: &mut Registry) {
    registry.add_importer(SavedModelImporter);
    registry.add_importer(FrozenImporter);
    registry.add_exporter(SavedModelExporter);
    registry.add_exporter(FrozenExporter);
}

/// `docs/tf-ops.md`: the import table, then the export table.
pub fn ops_markdown() -> String {
    lower::ops_markdown() + &export_ops_markdown()
}

/// The parser's options from the generic import options: `-I tags=a,b`,
/// `-I signature=NAME` (the CLI's `--tags`, `--signature`) and the cut.
fn parse_options(options: &ImportOptions) -> ParseOptions {
    let mut p = ParseOptions::default();
    if let Some(tags) = options.format_options.get("tags") {
        p.tags = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
    }
    if let Some(sig) = options.format_options.get("signature") {
        p.signature = sig.clone();
    }
    p.graph_inputs = options.graph_inputs.clone();
    p.graph_outputs = options.graph_outputs.clone();
    p
}

/// The lowering's options: `--keep-unknown-ops` and `-I input-layout=nchw|nhwc`.
fn lower_options(path: &Path, options: &ImportOptions) -> Result<LowerOptions> {
    let input_layout_nchw = match options.format_options.get("input-layout").map(String::as_str) {
        None | Some("nhwc") => false,
        Some("nchw") => true,
        Some(other) => {
            return Err(Error::invalid(format!("{}: input-layout={other}: expected nchw or nhwc", path.display())));
        }
    };
    Ok(LowerOptions { keep_unknown_ops: options.keep_unknown_ops, input_layout_nchw })
}

/// Lowers a parsed graph read from `path` and marks it for transpose sinking.
fn finish(mut graph: TfGraph, path: &Path, options: &ImportOptions) -> Result<Model> {
    let opts = lower_options(path, options)?;
    // The lowering names its graph's file in errors; the model keeps the short name.
    let name = std::mem::replace(&mut graph.name, path.display().to_string());
    let mut model = lower(&graph, &opts)?;
    model.graph.name = name;
    model.metadata.insert(SINK_TRANSPOSES.into(), "true".into());
    Ok(model)
}

impl ir::Importer for SavedModelImporter {
    fn info(&self) -> FormatInfo {
        SAVED_MODEL
    }

    fn detect(&self, path: &Path) -> Detection {
        detect_saved_model(path)
    }

    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model> {
        let graph = read_saved_model(path, &parse_options(options))?;
        finish(graph, path, options)
    }
}

impl ir::Importer for FrozenImporter {
    fn info(&self) -> FormatInfo {
        FROZEN
    }

    fn detect(&self, path: &Path) -> Detection {
        detect_frozen(path)
    }

    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model> {
        let graph = read_frozen(path, &parse_options(options))?;
        finish(graph, path, options)
    }
}
