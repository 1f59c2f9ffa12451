//! The parser: bytes → [`TfGraph`](crate::TfGraph).

pub mod attr;
pub mod outputs;
