//! Pruning passes: make weights sparse or remove whole channels.
//!
//! - `prune-magnitude` ([`MagnitudePrune`]): unstructured pruning. The
//!   smallest-magnitude weights of every Conv, ConvTranspose, Gemm and MatMul
//!   become exact zeros, to a sparsity target reached over all weights at
//!   once (global) or in every layer. Biases and normalization parameters are
//!   kept. Optionally the pruned weights are stored as ONNX
//!   `sparse_initializer`s where that takes fewer bytes.
//! - `prune-channels` ([`ChannelPrune`]): structured pruning that really
//!   shrinks the model: the lowest-norm output channels of Conv/Gemm/MatMul
//!   layers are removed along with everything that depends on them (see
//!   [`channels`]). Reports parameters and multiply-accumulates before and after.
//!
//! Neither retrains: accuracy lost to pruning is recovered by fine-tuning the
//! exported model in the training framework it came from.

pub mod channels;
pub mod macs;
pub mod magnitude;

use ir::{Error, PassInfo, Registry, Result};

pub use channels::{ChannelOptions, ChannelPrune, Norm};
pub use magnitude::{MagnitudeOptions, MagnitudePrune, Scope};

/// Parses a fraction in `[0, 1)` given to pass `pass`.
pub(crate) fn parse_fraction(pass: &str, s: &str) -> Result<f64> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(Error::usage(format!("{pass}: '{s}' is not a fraction in [0, 1) (e.g. 0.5)"))),
    }
}

/// Registers `prune-magnitude` and `prune-channels`.
pub fn register(registry: &mut Registry) {
    registry.add_pass(PassInfo {
        name: "prune-magnitude",
        description: "zero the smallest Conv/Gemm/MatMul weights: S[,scope=global|layer][,sparse]",
        factory: |arg| Ok(Box::new(MagnitudePrune { options: MagnitudeOptions::parse(arg)? })),
    });
    registry.add_pass(PassInfo {
        name: "prune-channels",
        description: "remove the lowest-norm output channels and shrink the layers after them: R[,norm=l1|l2]",
        factory: |arg| Ok(Box::new(ChannelPrune { options: ChannelOptions::parse(arg)? })),
    });
}
