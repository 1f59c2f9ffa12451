//! The IR's error type, shared by every importer, exporter and pass.

use std::fmt;
use std::path::PathBuf;

/// Result alias using the IR's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One op an importer or exporter could not handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOp {
    /// Op name, e.g. `Erfc`.
    pub op: String,
    /// Op domain, e.g. `tf` or `""` for `ai.onnx`.
    pub domain: String,
    /// Name of the first node that uses it.
    pub node: String,
    /// How many nodes use it.
    pub count: usize,
}

impl fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = if self.domain.is_empty() { "ai.onnx" } else { &self.domain };
        write!(f, "{domain}::{} (node '{}'", self.op, self.node)?;
        if self.count > 1 {
            write!(f, " and {} more", self.count - 1)?;
        }
        f.write_str(")")
    }
}

/// Everything that can go wrong in the IR, an importer, an exporter or a pass.
///
/// Messages are one line and name the file, node or value concerned, so the
/// CLI can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a file failed.
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message, so not also a `source()`).
        error: std::io::Error,
    },
    /// A file's content is not valid for its format.
    Malformed {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, as precisely as known (field, offset, node).
        message: String,
    },
    /// Ops that an importer or exporter does not handle, all of them at once.
    UnsupportedOps {
        /// The format that could not handle them.
        format: String,
        /// One entry per distinct (domain, op).
        ops: Vec<UnsupportedOp>,
    },
    /// The graph has a cycle through these nodes.
    Cycle {
        /// Names of the nodes that could not be ordered.
        nodes: Vec<String>,
    },
    /// A node reads a value nothing defines.
    DanglingValue {
        /// The reading node.
        node: String,
        /// The undefined value.
        value: String,
    },
    /// A value is defined twice (graph input, initializer or node output).
    DuplicateValue(String),
    /// A graph output names a value nothing defines.
    UndefinedOutput(String),
    /// Tensor data does not match its dtype and shape.
    InvalidTensor(String),
    /// A tensor was read as a different dtype than it has.
    DTypeMismatch {
        /// The dtype asked for.
        expected: String,
        /// The tensor's dtype.
        found: String,
    },
    /// A format name or path that no registered importer/exporter handles.
    UnknownFormat(String),
    /// A request the caller can fix: an option's name or value, an output
    /// path, a value name asked for, a pass needing data it was not given.
    /// The CLI exits with its usage code (2) for these.
    Usage(String),
    /// Any other invalid argument or state.
    Invalid(String),
    /// An error with the path of what was being processed prepended.
    Context {
        /// Where it happened, e.g. `node 'conv1' (Conv)`.
        context: String,
        /// The error itself (part of the message, so not also a `source()`).
        error: Box<Error>,
    },
}

fn join(ops: &[UnsupportedOp]) -> String {
    ops.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Writes through to a formatter with control characters escaped (`\n`,
/// `\u{7}`): names and values in messages come from files, and a message
/// must stay one line whatever a file holds.
struct OneLine<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for OneLine<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.chars().any(char::is_control) {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            if c.is_control() {
                write!(self.0, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(self.0, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        let w = &mut OneLine(f);
        match self {
            Error::Io { path, error } => write!(w, "{}: {error}", path.display()),
            Error::Malformed { path, message } => write!(w, "{}: {message}", path.display()),
            Error::UnsupportedOps { format, ops } => {
                write!(w, "{} unsupported op type(s) for {format}: {}", ops.len(), join(ops))
            }
            Error::Cycle { nodes } => write!(w, "graph has a cycle through node(s): {}", nodes.join(", ")),
            Error::DanglingValue { node, value } => {
                write!(w, "node '{node}' reads value '{value}', which no node, graph input or initializer defines")
            }
            Error::DuplicateValue(v) => write!(w, "value '{v}' is defined more than once"),
            Error::UndefinedOutput(v) => {
                write!(w, "graph output '{v}' is not produced by any node, input or initializer")
            }
            Error::InvalidTensor(m) => write!(w, "invalid tensor: {m}"),
            Error::DTypeMismatch { expected, found } => write!(w, "dtype mismatch: expected {expected}, found {found}"),
            Error::UnknownFormat(m) | Error::Usage(m) | Error::Invalid(m) => write!(w, "{m}"),
            Error::Context { context, error } => write!(w, "{context}: {error}"),
        }
    }
}

impl Error {
    /// An [`Error::Invalid`] with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// An [`Error::Usage`] with the given message.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// An [`Error::Malformed`] for `path`.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Malformed { path: path.into(), message: message.into() }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), error: source }
    }

    /// Wraps the error with a context prefix.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context { context: context.into(), error: Box::new(self) }
    }

    /// The error under any [`Error::Context`] wrappers, for matching on the variant.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { error, .. } => error.root(),
            e => e,
        }
    }

    /// The ops an [`Error::UnsupportedOps`] (under any context) lists; empty
    /// for other errors.
    pub fn unsupported_op_names(&self) -> Vec<&str> {
        match self.root() {
            Error::UnsupportedOps { ops, .. } => ops.iter().map(|u| u.op.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Builds [`Error::UnsupportedOps`] from `(op, domain, node)` triples,
    /// grouping repeats of the same op and keeping first-seen order.
    pub fn unsupported_ops<'a>(
        format: impl Into<String>,
        uses: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Self {
        let mut ops: Vec<UnsupportedOp> = Vec::new();
        for (op, domain, node) in uses {
            match ops.iter_mut().find(|u| u.op == op && u.domain == domain) {
                Some(u) => u.count += 1,
                None => ops.push(UnsupportedOp {
                    op: op.to_string(),
                    domain: domain.to_string(),
                    node: node.to_string(),
                    count: 1,
                }),
            }
        }
        Error::UnsupportedOps { format: format.into(), ops }
    }
}

/// Adds [`Error::context`] to results.
pub trait ResultExt<T> {
    /// Prefixes the error, if any, with a lazily built context.
    fn ctx<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn ctx<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_one_line_whatever_names_hold() {
        let e = Error::malformed("m.onnx", "initializer 'a\nb\u{7}' is bad").context("graph\r'g'");
        assert_eq!(e.to_string(), "graph\\r'g': m.onnx: initializer 'a\\nb\\u{7}' is bad");
    }

    #[test]
    fn unsupported_ops_are_grouped_and_all_listed() {
        let e = Error::unsupported_ops("onnx", [("Erfc", "tf", "a"), ("Foo", "", "b"), ("Erfc", "tf", "c")]);
        assert_eq!(
            e.to_string(),
            "2 unsupported op type(s) for onnx: tf::Erfc (node 'a' and 1 more), ai.onnx::Foo (node 'b')"
        );
        let wrapped = e.context("writing out.xml").context("cannot convert");
        assert_eq!(wrapped.unsupported_op_names(), ["Erfc", "Foo"]);
        assert!(Error::invalid("DequantizeLinear").unsupported_op_names().is_empty());
    }
}
