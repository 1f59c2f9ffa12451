//! Opt-in: real Keras applications (random weights), exported by
//! `model.export` with a frozen twin written by
//! `convert_variables_to_constants_v2` as `<name>.pb` beside `<name>/`.
//! `TF_MODELS=/dir cargo test -p fmt-tf --test parse_real -- --ignored --nocapture`.
//! Each SavedModel must inline to the ops TensorFlow's own freezing finds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use fmt_tf::{ParseOptions, TfGraph};

/// Ops whose count freezing changes (plumbing, variables, calls).
const PLUMBING: &[&str] = &[
    "Identity",
    "IdentityN",
    "NoOp",
    "Const",
    "Placeholder",
    "ReadVariableOp",
    "VarHandleOp",
    "StatefulPartitionedCall",
    "PartitionedCall",
    "VariableV2",
    "StopGradient",
];

fn histogram(g: &TfGraph) -> BTreeMap<&str, usize> {
    let mut h = BTreeMap::new();
    for n in g.nodes.iter().filter(|n| !PLUMBING.contains(&n.op.as_str())) {
        *h.entry(n.op.as_str()).or_insert(0) += 1;
    }
    h
}

fn weight_bytes(g: &TfGraph) -> usize {
    g.nodes.iter().filter_map(|n| n.attr("value").and_then(fmt_tf::TfAttr::as_tensor)).map(ir::Tensor::byte_len).sum()
}

#[test]
#[ignore = "needs TF_MODELS with real Keras SavedModels"]
fn real_keras_applications() {
    let Some(dir) = std::env::var_os("TF_MODELS").map(PathBuf::from) else { return };
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("saved_model.pb").is_file())
        .collect();
    names.sort();
    for saved in names {
        let t = Instant::now();
        let g = fmt_tf::read_saved_model(&saved, &ParseOptions::default()).unwrap();
        let saved_time = t.elapsed();
        let frozen_path = saved.with_extension("pb");
        let t = Instant::now();
        let f = fmt_tf::read_frozen(&frozen_path, &ParseOptions::default()).unwrap();
        let frozen_time = t.elapsed();
        println!(
            "{}: SavedModel {} nodes, {} weight bytes in {saved_time:?}; frozen {} nodes in {frozen_time:?}",
            saved.display(),
            g.nodes.len(),
            weight_bytes(&g),
            f.nodes.len()
        );
        assert_eq!(histogram(&g), histogram(&f), "{}", saved.display());
        assert_eq!(weight_bytes(&g), weight_bytes(&f), "{}", saved.display());
    }
}
