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
//!
//! Export ([`export`]) writes an archive `torch.jit.load` runs: one module
//! class holding the weights, `forward` as TorchScript source (one
//! statement per node), storages stored 64-byte aligned and streamed.

// Everything the importer reads comes from a file, so no index may panic:
// slices are taken with checked accessors that turn into errors naming the file.
#![deny(clippy::indexing_slicing)]

pub mod archive;
pub mod dtype;
// The exporter indexes the IR it writes, which `ir::validate` and its own
// checks vetted; no byte of it comes from a file being read.
#[allow(clippy::indexing_slicing)]
pub mod export;
mod import;
pub mod lower;
pub mod module;
pub mod pickle;
pub mod source;
pub mod tensor;
pub mod weights;

pub use export::TorchScriptExporter;
pub use import::TorchScriptImporter;
pub use weights::{read_state_dict, read_state_dict_with};

/// Registers the `torchscript` importer and exporter.
pub fn register(registry: &mut ir::Registry) {
    registry.add_importer(TorchScriptImporter);
    registry.add_exporter(TorchScriptExporter);
}

/// The archive entry (under `extra/`, which `torch.jit.load` keeps as an
/// extra file) where the exporter records `forward`'s inputs with their
/// dtypes and shapes, symbolic dimensions by name, since TorchScript source
/// declares none; the importer reads it when no `-I input-shape` is given.
pub const INPUTS_ENTRY: &str = "extra/model_convert_inputs.txt";

/// The text of [`INPUTS_ENTRY`]: one line per input, `name dtype dims`,
/// dims comma-separated (a number, a symbol, or `?`), `-` for an unknown
/// rank or dtype.
pub fn input_record(inputs: &[(String, ir::ValueType)]) -> String {
    let mut s = String::new();
    for (name, ty) in inputs {
        let dtype = ty.dtype().map_or("-", ir::DType::name);
        let dims = match ty.shape() {
            None => "-".to_string(),
            Some(shape) => shape.dims().iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        };
        s.push_str(&format!("{name} {dtype} {dims}\n"));
    }
    s
}

/// Parses [`input_record`]'s text: name → (dtype, shape). Lines that do not
/// parse are skipped (the record is a hint; `-I` options override it).
pub fn parse_input_record(text: &str) -> Vec<(String, Option<ir::DType>, Option<ir::Shape>)> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split(' ');
            let (name, dtype, dims) = (it.next()?, it.next()?, it.next()?);
            let dtype = dtype.parse::<ir::DType>().ok();
            let shape = (dims != "-").then(|| {
                let dims = if dims.is_empty() { Vec::new() } else { dims.split(',').map(parse_dim).collect() };
                ir::Shape(dims)
            });
            Some((name.to_string(), dtype, shape))
        })
        .collect()
}

fn parse_dim(d: &str) -> ir::Dim {
    match d.parse::<u64>() {
        Ok(n) => ir::Dim::Fixed(n),
        Err(_) if d == "?" => ir::Dim::Unknown,
        Err(_) => ir::Dim::Symbolic(d.to_string()),
    }
}

/// `docs/torch-ops.md`: the export table ([`export::ops_markdown`]) and the
/// `aten` ops the importer lowers ([`lower::supported_ops`]).
pub fn ops_markdown() -> String {
    let mut s = export::ops_markdown();
    s.push_str("\n# TorchScript → canonical ops (import)\n\n");
    s.push_str(
        "Generated from `fmt_torchscript::lower::supported_ops()`. The ops (`aten::`, `prim::` and Python builtins) \
         the importer's interpreter lowers; any other call in a model's `forward` is reported with all others at \
         once, or kept in the `torch` domain with `--keep-unknown-ops`.\n\n",
    );
    let ops = lower::supported_ops();
    for chunk in ops.chunks(8) {
        let row: Vec<String> = chunk.iter().map(|o| format!("`{o}`")).collect();
        s.push_str(&row.join(", "));
        s.push_str("\n\n");
    }
    s
}
