//! TorchScript archives (`torch.jit.save`, format `torchscript`) and
//! PyTorch `state_dict` weights (`torch.save`) for the IR, without libtorch.
//!
//! Import is two stages: the archive reader (zip, a data-only pickle reader
//! that never executes anything, the TorchScript source parser) produces the
//! module tree and an AST; the lowering interprets `forward` over that tree
//! and maps each `aten` op to canonical (ONNX) nodes through one rule table
//! split by op family.

pub mod export;
pub use export::TorchScriptExporter;
