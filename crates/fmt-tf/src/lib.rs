//! TensorFlow SavedModel (`tf`) and frozen GraphDef (`tf-frozen`) for the IR.
//!
//! Import is two stages with [`graph::TfGraph`] between them: the parser
//! reads the protobufs, inlines the function library, resolves variables to
//! constants that view the memory-mapped checkpoint shards, and drops
//! control edges; the lowering maps each TensorFlow op to canonical (ONNX)
//! nodes through one rule table split by op family.

pub mod dtype;
pub mod graph;
pub mod lower;

pub use graph::{TfAttr, TfGraph, TfNode, TfPort, TfRef, TfShape};
pub use lower::{LowerOptions, lower, ops_markdown};
