//! Opt-in: real Keras applications (random weights), exported by
//! `model.export` with a frozen twin written by
//! `convert_variables_to_constants_v2` as `<name>.pb` beside `<name>/`.
//! Make them with `make_tf_fixtures.py --real-models /dir`, then
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

/// Freezing names nodes like the inlined SavedModel minus the outer call's
/// name: each variable read TensorFlow froze must hold the value this
/// parser bound to the same read. Returns how many matched.
fn same_variables(saved: &TfGraph, frozen: &TfGraph) -> usize {
    let by_name: std::collections::HashMap<&str, &fmt_tf::TfNode> =
        saved.nodes.iter().filter_map(|n| Some((n.name.split_once('/')?.1, n))).collect();
    let frozen_nodes: std::collections::HashMap<&str, &fmt_tf::TfNode> =
        frozen.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    // Freezing leaves an Identity where the read was, reading the new Const.
    let value = |n: &fmt_tf::TfNode| -> Option<ir::Tensor> {
        let mut n = frozen_nodes.get(n.name.as_str()).copied().unwrap_or(n);
        while n.op == "Identity" {
            n = frozen_nodes.get(n.inputs[0].node.as_str()).copied()?;
        }
        n.attr("value").and_then(fmt_tf::TfAttr::as_tensor).cloned()
    };
    let mut matched = 0;
    for n in frozen.nodes.iter().filter(|n| n.name.ends_with("ReadVariableOp")) {
        let ours = by_name.get(n.name.as_str()).unwrap_or_else(|| panic!("no node for {}", n.name));
        assert_eq!(ours.op, "Const", "{}", ours.name);
        assert!(value(n).is_some(), "{}", n.name);
        assert_eq!(value(ours), value(n), "{}", ours.name);
        matched += 1;
    }
    matched
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
        let reads = f.nodes.iter().filter(|n| n.name.ends_with("ReadVariableOp")).count();
        assert_eq!(same_variables(&g, &f), reads);
        println!("  {reads} variable reads hold the values TensorFlow froze into them");
    }
}
