//! The parser: bytes → [`TfGraph`](crate::TfGraph).
//!
//! [`read_frozen`] reads a GraphDef `.pb`, [`read_saved_model`] a
//! SavedModel folder. Both inline the function library ([`flatten`]), then
//! choose inputs and outputs, prune, and replace variables by constants
//! that view the memory-mapped checkpoint ([`assemble`]); the functions
//! control-flow ops name are flattened on their own ([`functions`]).

pub mod assemble;
pub mod attr;
pub mod flatten;
pub mod frozen;
pub mod functions;
pub mod outputs;
pub mod saved;

use std::io::Read;
use std::path::Path;

use ir::Detection;

pub use frozen::read_frozen;
pub use saved::{SignatureInfo, read_saved_model, signatures};

/// What to read from a model, and how to cut it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// The MetaGraph's tag set (SavedModels); default `["serve"]`.
    pub tags: Vec<String>,
    /// The signature key (SavedModels); default `serving_default`.
    pub signature: String,
    /// TF tensor names (`op:0`) to use as the inputs instead of the
    /// signature's or the `Placeholder`s; a tensor that is not a
    /// `Placeholder` becomes one (a cut point).
    pub graph_inputs: Vec<String>,
    /// TF tensor names to use as the outputs instead of the signature's or
    /// the unread nodes.
    pub graph_outputs: Vec<String>,
    /// What the files may make the parser do: function-call nesting
    /// (`max_depth`), nodes after inlining and checkpoint entries
    /// (`max_tensors`), bytes expanded from typed tensor values
    /// (`max_inflated_bytes`).
    pub limits: ir::Limits,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            tags: vec!["serve".to_string()],
            signature: "serving_default".to_string(),
            graph_inputs: Vec::new(),
            graph_outputs: Vec::new(),
            limits: ir::Limits::default(),
        }
    }
}

/// How sure we are that `path` is a SavedModel folder (format `tf`): a
/// folder holding `saved_model.pb` whose first field is a SavedModel's.
pub fn detect_saved_model(path: &Path) -> Detection {
    let pb = path.join("saved_model.pb");
    if !path.is_dir() || !pb.is_file() {
        return Detection::No;
    }
    // SavedModel starts with saved_model_schema_version (field 1, varint)
    // or meta_graphs (field 2, bytes).
    match first_bytes(&pb).first() {
        Some(0x08 | 0x12) => Detection::Content,
        _ => Detection::Name,
    }
}

/// How sure we are that `path` is a frozen GraphDef (format `tf-frozen`):
/// a `.pb` file whose first bytes are a GraphDef's first node with a name
/// and an op. An ONNX ModelProto starts with ir_version (`0x08`), a
/// TensorProto with dims or dtype (`0x08`), so neither matches.
pub fn detect_frozen(path: &Path) -> Detection {
    let is_pb = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pb"));
    if !is_pb || !path.is_file() {
        return Detection::No;
    }
    if starts_like_graph_def(&first_bytes(path)) { Detection::Content } else { Detection::No }
}

/// The first few hundred bytes of a file (empty if unreadable).
fn first_bytes(path: &Path) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(512).read_to_end(&mut buf);
    }
    buf
}

/// `node { name: "…" op: "…" }` at the start: tag 0x0a, a length, tag 0x0a,
/// the name, then the op tag 0x12 (or a library/versions field first).
fn starts_like_graph_def(b: &[u8]) -> bool {
    let mut pos = 0;
    let varint = |pos: &mut usize| crate::bundle::table::varint(b, pos).ok();
    match b.first() {
        Some(0x0a) => {
            pos += 1;
            if varint(&mut pos).is_none() || b.get(pos) != Some(&0x0a) {
                return false;
            }
            pos += 1;
            let Some(name_len) = varint(&mut pos) else { return false };
            let Some(end) = usize::try_from(name_len).ok().and_then(|l| pos.checked_add(l)) else { return false };
            match b.get(pos..end) {
                Some(name) => std::str::from_utf8(name).is_ok() && b.get(end) == Some(&0x12),
                // A very long first name: the prefix seen is still text.
                None => b.len() == 512,
            }
        }
        // An empty graph that only has a library or versions.
        Some(0x12 | 0x22) => b.len() > 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_def_prefix() {
        assert!(starts_like_graph_def(b"\x0a\x0c\x0a\x01x\x12\x0bPlaceholder"));
        assert!(!starts_like_graph_def(b"\x08\x07\x12\x04onnx"));
        assert!(!starts_like_graph_def(b"\x0a\x05\x12\x01x"));
        assert!(!starts_like_graph_def(b""));
    }
}
