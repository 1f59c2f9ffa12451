//! Evaluation errors.

/// Result alias for the evaluator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while evaluating a graph. Messages are one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An op failed; names the node.
    #[error("node '{node}' ({op}): {error}")]
    Node {
        /// Node name (or `#index` when unnamed).
        node: String,
        /// Op type.
        op: String,
        /// What went wrong (part of the message, so not also a `source()`).
        error: Box<Error>,
    },
    /// A problem inside an op: bad input, bad attribute, shape mismatch.
    #[error("{0}")]
    Op(String),
    /// A graph input is missing or does not match its declaration.
    #[error("input '{name}': {message}")]
    Input {
        /// The input's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Ops the evaluator has no implementation for, all listed.
    #[error(transparent)]
    Ir(#[from] ir::Error),
}

impl Error {
    /// An [`Error::Op`].
    pub fn op(msg: impl Into<String>) -> Self {
        Error::Op(msg.into())
    }
}

/// Returns early with an [`Error::Op`] built like `format!`.
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::Error::Op(format!($($t)*))) };
}
