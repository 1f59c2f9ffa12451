//! The `dtypes` fixture (made with `onnx.helper.make_tensor`) stores every
//! ONNX element type twice: in `raw_data` and in the typed fields. Both
//! must import to the same IR tensor: this pins our reading of each typed
//! field and of every packing (4-bit, 2-bit, 6-bit bit streams, complex pairs).

use std::path::Path;

use ir::{DType, Importer};

#[test]
fn raw_and_typed_encodings_import_identically_for_every_dtype() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx/dtypes/model.onnx");
    let model = fmt_onnx::OnnxImporter.import(&path, &Default::default()).unwrap();
    let inits = &model.graph.initializers;
    let mut seen = std::collections::BTreeSet::new();
    for (name, raw) in inits {
        let Some(base) = name.strip_suffix("_raw") else { continue };
        let typed = inits.get(&format!("{base}_typed")).unwrap_or_else(|| panic!("{base}_typed missing"));
        assert_eq!(raw, typed, "{base}: raw_data and typed fields disagree");
        seen.insert(raw.dtype());
    }
    // Every dtype except string (which has no raw form) is covered.
    let all: std::collections::BTreeSet<DType> = DType::ALL.into_iter().filter(|d| *d != DType::String).collect();
    assert_eq!(seen, all);
    let s = inits.get("string_typed").unwrap();
    assert_eq!(s.dtype(), DType::String);
    assert_eq!(model.metadata.len(), 2);
    assert!(model.opset_imports.contains_key("com.example"));
}
