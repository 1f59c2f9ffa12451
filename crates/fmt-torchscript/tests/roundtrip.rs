//! Our exporter's archives read back by our importer: ONNX fixtures →
//! TorchScript → IR, run in the reference evaluator against the fixtures'
//! reference outputs. The exporter records `forward`'s input types
//! (`INPUTS_ENTRY`), so no `-I input-shape` is needed, and dynamic
//! dimensions stay dynamic.

use std::path::{Path, PathBuf};

use ir::{Dim, ExportOptions, Exporter, ImportOptions, Importer};

mod common;

fn onnx_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name)
}

#[test]
fn onnx_fixtures_survive_export_and_reimport() {
    let tmp = tempfile::tempdir().unwrap();
    for case in ["mlp", "cnn_bn_residual", "resnet_tiny_ts", "dynamic_batch", "cnn_dynamo_default"] {
        let dir = onnx_fixture(case);
        let src = fmt_onnx::OnnxImporter.import(&dir.join("model.onnx"), &ImportOptions::default()).unwrap();
        let pt = tmp.path().join(format!("{case}.pt"));
        fmt_torchscript::TorchScriptExporter.export(&src, &pt, &ExportOptions::default()).unwrap();
        let back = fmt_torchscript::TorchScriptImporter
            .import(&pt, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        for (a, b) in src.graph.inputs.iter().zip(&back.graph.inputs) {
            let dynamic =
                |v: &ir::ValueInfo| v.shape().is_some_and(|s| s.dims().iter().any(|d| !matches!(d, Dim::Fixed(_))));
            assert_eq!(dynamic(a), dynamic(b), "{case}: input {} keeps its dynamic dims", a.name);
        }
        let err = common::worst_rel_l2(&back, &dir).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(err <= 1e-5, "{case}: rel. L2 {err}");
    }
}

#[test]
fn input_record_round_trips() {
    use ir::{DType, Shape, ValueType};
    let inputs = vec![
        ("x".to_string(), ValueType::tensor(DType::F32, Shape(vec![Dim::Symbolic("batch".into()), Dim::Fixed(3)]))),
        ("ids".to_string(), ValueType::tensor(DType::I64, Shape(vec![Dim::Unknown]))),
        ("s".to_string(), ValueType::tensor(DType::F16, Shape(vec![]))),
        ("u".to_string(), ValueType::Tensor { dtype: None, shape: None }),
    ];
    let parsed = fmt_torchscript::parse_input_record(&fmt_torchscript::input_record(&inputs));
    assert_eq!(parsed.len(), 4);
    for ((name, ty), (pn, pd, ps)) in inputs.iter().zip(&parsed) {
        assert_eq!(name, pn);
        assert_eq!(ty.dtype(), *pd);
        assert_eq!(ty.shape(), ps.as_ref());
    }
}
