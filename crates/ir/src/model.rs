//! Models: a graph plus opset and producer metadata.

use indexmap::IndexMap;

use crate::{Graph, opset};

/// A model: the main graph, the opsets its nodes follow, and metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    /// The main graph.
    pub graph: Graph,
    /// Opset version per domain (`""` is `ai.onnx`); the version fixes each op's semantics.
    pub opset_imports: IndexMap<String, i64>,
    /// Name of the tool that produced the model.
    pub producer_name: String,
    /// Version of that tool.
    pub producer_version: String,
    /// Reverse-DNS namespace of the model, if any.
    pub domain: String,
    /// The model's own version number.
    pub model_version: i64,
    /// Free-form documentation.
    pub doc: String,
    /// Free-form key/value metadata (ONNX `metadata_props`, OpenVINO `rt_info`, ...).
    pub metadata: IndexMap<String, String>,
}

impl Model {
    /// A model of `graph` following `ai.onnx` at [`opset::DEFAULT_OPSET`].
    pub fn new(graph: Graph) -> Self {
        let mut opset_imports = IndexMap::new();
        opset_imports.insert(opset::ONNX_DOMAIN.to_string(), opset::DEFAULT_OPSET);
        Model { graph, opset_imports, ..Model::default() }
    }

    /// The opset version imported for `domain`.
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let domain = if domain == "ai.onnx" { "" } else { domain };
        self.opset_imports.get(domain).copied()
    }

    /// The `ai.onnx` opset version (the canonical op set's version).
    pub fn onnx_opset(&self) -> i64 {
        self.opset("").unwrap_or(opset::DEFAULT_OPSET)
    }
}
