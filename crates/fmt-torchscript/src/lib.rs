//! TorchScript archives (`torch.jit.save`, format `torchscript`) and
//! PyTorch `state_dict` weights (`torch.save`) for the IR, without libtorch.
//!
//! Import is two stages: the archive reader ([`archive`]: zip, any top
//! folder, stored or deflated entries, hostile names and sizes refused;
//! [`pickle`]: a data-only pickle reader with an allow-list of globals that
//! never executes anything; [`source`]: the TorchScript source parser;
//! [`module`]: the module tree with tensors as views into the mapped file)
//! produces the module tree and an AST; the lowering ([`lower`]) interprets
//! `forward` over that tree and maps each `aten` op to canonical (ONNX)
//! nodes through one rule table split by op family.
//!
//! Import options (`-I key=value`): `input-shape=NAME=D0,D1,...[;NAME=...]`
//! (numbers, symbols such as `batch` for dynamic dimensions, or `?`) and
//! `input-dtype=NAME=int64[;...]`. A traced archive's recorded example
//! inputs are the default; see [`lower`].
//!
//! [`read_state_dict`] reads the tensors of a `torch.save` file (zip or
//! legacy format) or of a TorchScript archive by name, for `--weights`.

pub mod archive;
pub mod dtype;
mod import;
pub mod lower;
pub mod module;
pub mod pickle;
pub mod source;
pub mod tensor;
pub mod weights;

pub use import::TorchScriptImporter;
pub use weights::read_state_dict;

/// Registers the `torchscript` importer.
pub fn register(registry: &mut ir::Registry) {
    registry.add_importer(TorchScriptImporter);
}
