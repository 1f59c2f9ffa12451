//! Protobuf types generated from the schemas under `proto/` by
//! `cargo xtask codegen`; `cargo xtask codegen --check` fails when they are
//! stale. Do not edit the generated files by hand: edit the `.proto` and
//! regenerate.
//!
//! Every `bytes` field is a `bytes::Bytes`, so decoding from a `Bytes` buffer
//! (for example one wrapping a memory map) borrows `TensorProto::raw_data`
//! from it instead of copying.

/// The ONNX schema, from `proto/onnx/onnx.proto`.
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
pub mod onnx;
