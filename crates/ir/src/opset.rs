//! The canonical op set: ONNX operator semantics.

/// The `ai.onnx` domain as stored in the IR (ONNX writes it as `""`).
pub const ONNX_DOMAIN: &str = "";
/// The ONNX traditional-ML domain.
pub const ONNX_ML_DOMAIN: &str = "ai.onnx.ml";
/// Oldest `ai.onnx` opset version whose semantics the IR follows.
pub const MIN_OPSET: i64 = 7;
/// Newest `ai.onnx` opset version whose semantics the IR follows.
pub const MAX_OPSET: i64 = 28;
/// The opset importers of non-ONNX formats lower into.
pub const DEFAULT_OPSET: i64 = 17;

/// Whether ops of `domain` have canonical (ONNX) meaning.
pub fn is_canonical(domain: &str) -> bool {
    matches!(domain, "" | "ai.onnx" | ONNX_ML_DOMAIN)
}

/// Domains the IR uses for ops kept as their source format had them
/// (no canonical equivalent): `tf`, `torch`, `openvino`.
pub const ORIGIN_DOMAINS: &[&str] = &["tf", "torch", "openvino"];

/// Whether `domain` marks an op kept in its source format's terms.
pub fn is_origin_domain(domain: &str) -> bool {
    ORIGIN_DOMAINS.contains(&domain)
}
