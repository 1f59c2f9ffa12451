//! TensorFlow SavedModel (`tf`) and frozen GraphDef (`tf-frozen`) for the IR.
//!
//! Import is two stages with [`graph::TfGraph`] between them: the parser
//! reads the protobufs, inlines the function library, resolves variables to
//! constants that view the memory-mapped checkpoint shards, and drops
//! control edges; the lowering maps each TensorFlow op to canonical (ONNX)
//! nodes through one rule table split by op family.

pub mod bundle;
pub mod dtype;
pub mod generated;
pub mod graph;
pub mod parse;
pub mod tensor;

pub use graph::{TfAttr, TfGraph, TfNode, TfPort, TfRef, TfShape};
pub use parse::{
    ParseOptions, SignatureInfo, detect_frozen, detect_saved_model, read_frozen, read_saved_model, signatures,
};
