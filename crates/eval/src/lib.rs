//! Reference evaluator: executes IR graphs on the CPU with ONNX semantics.
//!
//! Used by `convert --verify` and `convert run`, by constant folding, by
//! calibration for quantization and by pruning's output checks. Values are
//! ndarrays tagged by dtype ([`Tensor`]); each op family lives in its own
//! module under `ops/` and registers its implementations in the
//! [`OpRegistry`]. Intermediate values are freed as soon as their last
//! reader has run.

pub mod compare;
mod convert;
mod error;
mod exec;
mod ops;
mod registry;
pub mod util;
mod value;

pub use convert::{from_ir, to_ir};
pub use error::{Error, Result};
pub use exec::{Session, run};
/// The complex element types of [`Tensor::C64`] and [`Tensor::C128`].
pub use num_complex::{Complex32, Complex64};
pub use registry::{Ctx, OpFn, OpRegistry, registry};
pub use value::{Tensor, Value, array};
