//! `ir::infer` against the committed ONNX fixtures: with every declared
//! intermediate and output type removed, inference must find the same dtype
//! and a compatible shape for each value the file declares, and (where the
//! graph inputs are static) a dtype and rank for every node output.
//! Run with `--nocapture` to see per-fixture coverage figures.

use std::path::Path;

use ir::{Dim, Importer, Shape, ValueType};

/// (full shape, rank only, no rank) counts of node outputs of the main graph.
#[derive(Default, Debug)]
struct Coverage {
    full: usize,
    rank_only: usize,
    unknown: usize,
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx");
    let mut v: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path().join("model.onnx")).filter(|p| p.exists()).collect();
    v.sort();
    v
}

/// Whether `inferred` agrees with `declared`: equal ranks and no two different fixed sizes.
fn compatible(declared: &Shape, inferred: &Shape) -> bool {
    declared.rank() == inferred.rank()
        && declared.dims().iter().zip(inferred.dims()).all(|(d, i)| match (d, i) {
            (Dim::Fixed(a), Dim::Fixed(b)) => a == b,
            _ => true,
        })
}

#[test]
fn inference_reproduces_the_declared_types_of_every_fixture() {
    let mut total = Coverage::default();
    let mut checked = 0;
    for path in fixtures() {
        let name = path.parent().unwrap().file_name().unwrap().to_string_lossy().to_string();
        let model = fmt_onnx::OnnxImporter.import(&path, &Default::default()).unwrap();
        let declared: Vec<(String, ValueType)> =
            model.graph.value_info.iter().chain(&model.graph.outputs).map(|v| (v.name.clone(), v.ty.clone())).collect();
        let mut stripped = model.graph.clone();
        stripped.value_info.clear();
        for o in &mut stripped.outputs {
            o.ty = ValueType::Unknown;
        }
        let types = ir::infer::infer(&stripped, model.onnx_opset()).unwrap_or_else(|e| panic!("{name}: {e}"));

        let defined = model.graph.defined_values();
        for (value, ty) in &declared {
            let ValueType::Tensor { dtype, shape } = ty else { continue };
            // Some exporters leave value_info for values an optimizer removed.
            if !defined.contains(value.as_str()) {
                continue;
            }
            let got = types.get(value).unwrap_or_else(|| panic!("{name}: '{value}' was not typed"));
            if let Some(d) = dtype {
                assert_eq!(got.dtype(), Some(*d), "{name}: dtype of '{value}' (inferred {})", got.ty);
            }
            if let Some(s) = shape {
                let inferred =
                    got.shape().unwrap_or_else(|| panic!("{name}: '{value}' declared {ty}, inferred no rank"));
                assert!(compatible(s, inferred), "{name}: '{value}' declared {ty}, inferred {}", got.ty);
            }
            checked += 1;
        }

        let static_inputs = model.graph.inputs.iter().all(|v| v.shape().is_some_and(|s| !s.is_dynamic()));
        let mut cov = Coverage::default();
        for n in &model.graph.nodes {
            for o in n.present_outputs() {
                let k = types.get(o).unwrap_or_else(|| panic!("{name}: output '{o}' of {} not typed", n.describe()));
                match k.shape() {
                    Some(s) if !s.dims().contains(&Dim::Unknown) => cov.full += 1,
                    Some(_) => cov.rank_only += 1,
                    None => cov.unknown += 1,
                }
                if static_inputs && matches!(k.ty, ValueType::Tensor { .. }) {
                    let ins: Vec<String> = n
                        .present_inputs()
                        .map(|i| format!("{i}: {}", types.ty(i).map_or("untyped".to_string(), ToString::to_string)))
                        .collect();
                    assert!(
                        k.dtype().is_some() && k.rank().is_some(),
                        "{name}: {} output '{o}' is {} (inputs {ins:?})",
                        n.describe(),
                        k.ty
                    );
                }
            }
        }
        eprintln!("{name}: {} full shape, {} rank only, {} unknown", cov.full, cov.rank_only, cov.unknown);
        total.full += cov.full;
        total.rank_only += cov.rank_only;
        total.unknown += cov.unknown;
    }
    eprintln!("all fixtures: {total:?}; {checked} declared types checked");
    assert!(checked > 0);
}
