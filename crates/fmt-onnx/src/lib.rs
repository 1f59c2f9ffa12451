//! ONNX importer and exporter for the IR.
//!
//! The IR's canonical op set *is* ONNX's, so nodes cross unchanged; the work
//! here is the container: protobuf decoding without copying weights,
//! tensors in every dtype and encoding, external data confined to the
//! model's folder, and a streaming writer that never builds the whole file
//! in memory and switches to external data past protobuf's 2 GiB limit.

use std::io::Read;
use std::path::Path;

use ir::{Detection, ExportOptions, ExportReport, FormatInfo, ImportOptions, Model, Registry, Result};

pub mod data;
mod dtype;
mod export;
pub mod generated;
mod import;
pub mod matmulnbits;
mod scan;
mod tensor;

pub use data::DataValue;
pub use dtype::ir_version_for;
pub use export::{PROTOBUF_LIMIT, Settings as ExportSettings, check};
pub use import::{parse, parse_mapped, parse_mapped_with, translate, translate_mapped, translate_mapped_with};
pub use tensor::Encoding;

/// The format's facts.
pub const INFO: FormatInfo = FormatInfo {
    name: "onnx",
    description: "ONNX model (.onnx), with or without external data",
    extensions: &["onnx"],
};

/// Reads `.onnx` files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OnnxImporter;

/// Writes `.onnx` files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OnnxExporter;

/// Registers the ONNX importer and exporter.
pub fn register(registry: &mut Registry) {
    registry.add_importer(OnnxImporter);
    registry.add_exporter(OnnxExporter);
    ir::tensor_file::register_tensor_proto_codec(ir::tensor_file::TensorProtoCodec {
        decode: data::decode_tensor,
        encode: data::encode_tensor,
    });
}

#[deny(clippy::indexing_slicing)]
impl ir::Importer for OnnxImporter {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn detect(&self, path: &Path) -> Detection {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if path.is_dir() {
            return Detection::No;
        }
        // A ModelProto starts with ir_version (field 1, varint): byte 0x08.
        // TensorFlow GraphDefs start with a node (field 1, bytes): 0x0a.
        let mut first = [0u8; 1];
        let starts_like_onnx =
            std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut first)).is_ok_and(|()| first[0] == 0x08);
        match ext.as_deref() {
            Some("onnx") if starts_like_onnx => Detection::Content,
            Some("onnx") => Detection::Name,
            Some("pb") if starts_like_onnx => Detection::Content,
            _ => Detection::No,
        }
    }

    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model> {
        let (proto, source) = parse_mapped_with(path, &options.limits)?;
        translate_mapped_with(proto, source, path, &options.limits)
    }
}

impl ir::Exporter for OnnxExporter {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn check(&self, model: &Model) -> Result<()> {
        check(model)
    }

    fn export(&self, model: &Model, path: &Path, options: &ExportOptions) -> Result<ExportReport> {
        export::export(model, path, options)
    }

    fn option_names(&self) -> &'static [&'static str] {
        export::OPTION_NAMES
    }
}
