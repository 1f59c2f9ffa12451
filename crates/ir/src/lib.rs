//! The intermediate representation (IR) shared by every format and pass crate.
//!
//! A [`Model`] holds one [`Graph`]: named inputs and outputs described by
//! [`ValueInfo`] (dtype plus a [`Shape`] whose dimensions may be symbolic),
//! initializers ([`Tensor`]s whose bytes may be zero-copy views into a
//! memory-mapped file), and [`Node`]s in topological order.
//!
//! # Canonical op set
//! Node semantics are those of the ONNX `ai.onnx` operator set (plus
//! `ai.onnx.ml` where used), at the opset version recorded in
//! [`Model::opset_imports`]; versions 7 through 28 are understood. Importers
//! of other formats lower into it; exporters raise from it. An op with no
//! canonical meaning keeps the domain of its origin (`tf`, `torch`,
//! `openvino`, ...) so an exporter can say precisely what it cannot write.
//!
//! # Op facts and inference
//! [`schema`] is the one table of op facts (arity, input roles, attributes
//! and their defaults, opset changes, output dtype rules, op classes, weight
//! layouts) and [`infer`] the one dtype/rank/shape inference built on it, so
//! importers, exporters and passes stop keeping private copies.
//!
//! # Extending
//! A format crate implements [`Importer`] and/or [`Exporter`] and exposes a
//! `register(&mut Registry)` function; a pass crate implements [`Pass`].
//! See `docs/architecture.md` for a walk-through.

mod attr;
mod buffer;
pub mod build;
pub mod cost;
mod dtype;
mod error;
pub mod extract;
mod graph;
pub mod infer;
pub mod io;
pub mod kernel;
mod limits;
mod model;
mod node;
pub mod opset;
pub mod quant;
mod registry;
pub mod schema;
mod shape;
mod stats;
mod tensor;
pub mod tensor_file;
mod traits;
mod value;

pub use attr::{AttrKind, Attribute};
pub use buffer::Buffer;
pub use dtype::DType;
pub use error::{Error, Result, ResultExt, UnsupportedOp};
pub use graph::{Graph, NameGen, Use};
pub use limits::{Limit, Limits, MAX_DEFLATE_RATIO};
pub use model::Model;
pub use node::Node;
pub use registry::{FormatInfo, PassFactory, PassInfo, Registry};
pub use shape::{Dim, MAX_RANK, Shape, checked_numel};
pub use stats::ModelStats;
pub use tensor::{Element, SparseTensor, Tensor, TensorData};
pub use traits::{
    Detection, ExportOptions, ExportReport, Exporter, ExternalData, FieldValue, ImportOptions, Importer, Pass,
    PassReport, Progress, ProgressHandle, ReportItem, check_format_options,
};
pub use value::{ValueInfo, ValueType};

/// Re-exported so format crates name the same `f16`/`bf16` types as the IR.
pub use half::{bf16, f16};
