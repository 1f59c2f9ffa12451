//! Resource limits every importer applies to what a file asks for.
//!
//! Model files come from strangers. A file can declare a subgraph nested a
//! million levels deep, a zip entry that inflates to a terabyte or ten
//! million tensors; each would exhaust the stack, the disk cache or memory
//! long before the importer found anything else wrong. The importers check
//! these three limits before doing the work, and the error names the limit
//! and the command-line flag that raises it, so a user with a genuinely
//! huge model is one flag away from converting it.
//!
//! The defaults are far above what real models need (the deepest real
//! nesting seen here is under 10 levels; an LLM has a few thousand tensors)
//! and far below what hurts the machine.

use std::fmt;
use std::path::Path;

use crate::Error;

/// Deflate cannot expand data by more than about 1032:1, so a zip entry
/// declaring a larger ratio lies about its size: a zip bomb, refused
/// whatever [`Limits::max_inflated_bytes`] allows.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// One of the [`Limits`], for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_inflated_bytes`].
    InflatedBytes,
    /// [`Limits::max_tensors`].
    Tensors,
}

impl Limit {
    /// The `convert` flag that sets this limit.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::Depth => "--max-depth",
            Limit::InflatedBytes => "--max-inflated-bytes",
            Limit::Tensors => "--max-tensors",
        }
    }

    /// What is counted, for messages ("nesting depth").
    pub fn what(self) -> &'static str {
        match self {
            Limit::Depth => "nesting depth",
            Limit::InflatedBytes => "decompressed bytes",
            Limit::Tensors => "tensor count",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

/// Limits on what an imported file may make the importer do; part of
/// [`crate::ImportOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of anything recursive in a file: subgraphs and
    /// bodies, function calls, source-code expressions, pickled values.
    /// Recursion in the importers is bounded by it, so it also bounds the
    /// stack they use.
    pub max_depth: usize,
    /// Most bytes the importer will inflate from compressed entries (zip
    /// archives: TorchScript, `.npz`), summed over the file. Stored
    /// (uncompressed) entries are mapped, not counted.
    pub max_inflated_bytes: u64,
    /// Most tensors (initializers, weights, storages, archive entries) one
    /// file may declare. Formats whose decoder materialises every entry
    /// before translation (ONNX: a decoded node or attribute is 200 to
    /// 1,600 bytes however few bytes it took in the file) count nodes,
    /// attributes and value infos in the same budget, since those are what
    /// a few-megabyte file can declare by the million.
    pub max_tensors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64, max_inflated_bytes: 4 << 30, max_tensors: 1_000_000 }
    }
}

impl Limits {
    /// The value of `limit`.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Depth => self.max_depth as u64,
            Limit::InflatedBytes => self.max_inflated_bytes,
            Limit::Tensors => self.max_tensors as u64,
        }
    }

    /// The message for `what` exceeding `limit`: it names the limit, its
    /// value and the flag that raises it. For parsers whose errors are
    /// strings that the importer later attaches to a path.
    pub fn message(&self, limit: Limit, what: &str) -> String {
        format!("{what}: {} exceeds the limit of {} (raise it with {} N)", limit.what(), self.get(limit), limit.flag())
    }

    /// `Ok` when `value` is within `limit`, else [`Error::Malformed`] for
    /// `path` with [`Limits::message`].
    pub fn check(&self, limit: Limit, value: u64, path: &Path, what: &str) -> crate::Result<()> {
        if value <= self.get(limit) { Ok(()) } else { Err(Error::malformed(path, self.message(limit, what))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_limit_its_value_and_flag() {
        let limits = Limits { max_depth: 3, ..Limits::default() };
        assert!(limits.check(Limit::Depth, 3, Path::new("m.onnx"), "subgraph 'body'").is_ok());
        let err = limits.check(Limit::Depth, 4, Path::new("m.onnx"), "subgraph 'body'").unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.onnx: subgraph 'body': nesting depth exceeds the limit of 3 (raise it with --max-depth N)"
        );
        assert!(Limits::default().message(Limit::Tensors, "x").contains("--max-tensors"));
        assert!(Limits::default().message(Limit::InflatedBytes, "x").contains("--max-inflated-bytes"));
    }
}
