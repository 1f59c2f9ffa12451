//! Protobuf types generated from the schemas under `proto/tensorflow/` by
//! `cargo xtask codegen`; `cargo xtask codegen --check` fails when they are
//! stale. Do not edit the generated file by hand: edit the `.proto` and
//! regenerate.
//!
//! Every `bytes` field is a `bytes::Bytes`, so decoding from a `Bytes` buffer
//! that wraps a memory map borrows `TensorProto::tensor_content` from it
//! instead of copying. `DataType` fields are plain `i32` codes, read through
//! [`crate::dtype`].

/// The TensorFlow schema subset, from `proto/tensorflow/*.proto`.
#[rustfmt::skip]
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications,
    unreachable_pub,
    rustdoc::all
)]
pub mod tensorflow;
