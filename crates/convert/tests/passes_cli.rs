//! The simplification and pruning flags of the `convert` binary: the figures
//! each pass reports, the model written, and the before/after deviation table.

use std::ffi::OsStr;

mod common;
use common::{Run, convert, fixture};

/// Converts fixture `name` with `flags` into a temporary folder; asserts success.
fn run_ok(name: &str, flags: &[&str]) -> (Run, ir::Model, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let input = fixture(name);
    let mut args: Vec<&OsStr> = vec![input.as_os_str(), out.as_os_str()];
    args.extend(flags.iter().map(OsStr::new));
    let r = convert(&args);
    assert_eq!(r.code, Some(0), "{name} {flags:?}: {}", r.stderr);
    let (m, _) = convert::load(&convert::registry(), &out, None, &Default::default()).unwrap();
    (r, m, dir)
}

fn has_line(r: &Run, line: &str) {
    assert!(r.stderr.lines().any(|l| l == line), "expected '{line}' in:\n{}", r.stderr);
}

/// (max_abs, rel_l2, cosine) from the before/after table row of `output`.
fn deviation(r: &Run, output: &str) -> (f64, f64, f64) {
    let after_header = r.stdout.split("effect of the passes on the outputs").nth(1).expect("a deviation table");
    let row = after_header.lines().find(|l| l.split_whitespace().next() == Some(output)).expect("a row");
    let f: Vec<f64> = row.split_whitespace().skip(1).take(3).map(|x| x.parse().unwrap()).collect();
    (f[0], f[1], f[2])
}

#[test]
fn plain_conversion_runs_no_pass_and_simplify_is_opt_in_there() {
    let (r, m, _d) = run_ok("cnn_bn_residual", &[]);
    assert!(!r.stderr.contains("simplify:"), "{}", r.stderr);
    assert_eq!(m.graph.nodes.len(), 29);

    let (r, m, _d) = run_ok("cnn_bn_residual", &["--simplify", "--verify"]);
    has_line(&r, "simplify: BatchNormalization folded into Conv/Gemm/MatMul: 8");
    has_line(&r, "simplify: nodes 29 -> 21, initializers 42 -> 18 (2 round(s))");
    assert_eq!(m.graph.nodes.len(), 21);
    assert!(!m.graph.nodes.iter().any(|n| n.op == "BatchNormalization"));
    let (max_abs, rel, _) = deviation(&r, "logits");
    assert!(max_abs <= 1e-5 && rel <= 1e-5, "{max_abs} {rel}");
    assert!(r.stdout.contains("verify: all 1 output(s) within"), "{}", r.stdout);

    let (r, m, _d) = run_ok("transformer_encoder", &["--simplify"]);
    // CSE runs before folding (so readers of a shared weight fold into one
    // tensor): the 36 identical Constant nodes merge before 19 fold.
    has_line(&r, "simplify: constant nodes folded into initializers: 19");
    has_line(&r, "simplify: duplicate nodes merged (CSE): 36");
    // Transpose sinking takes two Transposes and the four nodes feeding them
    // out (100 nodes with `simplify=no-transpose`).
    assert_eq!(m.graph.nodes.len(), 94);
    assert!(deviation(&r, "out").0 <= 1e-5);

    // Options reach the pass through --pass.
    let (r, m, _d) = run_ok("cnn_bn_residual", &["--pass", "simplify=no-bn", "--no-simplify"]);
    assert_eq!(m.graph.nodes.iter().filter(|n| n.op == "BatchNormalization").count(), 8, "{}", r.stderr);
}

#[test]
fn channel_pruning_reports_parameters_and_macs() {
    let (r, m, _d) = run_ok("cnn_bn_residual", &["--prune-channels", "0.3", "--verify"]);
    has_line(&r, "simplify: BatchNormalization folded into Conv/Gemm/MatMul: 8");
    has_line(&r, "prune-channels: parameters 24490 -> 13398 (-45.3%)");
    has_line(&r, "prune-channels: MACs 13549888 -> 7565798 (-44.2%)");
    has_line(&r, "prune-channels: /down/conv2/Conv, /down/shortcut/shortcut.0/Conv: 32 -> 23 channels");
    assert_eq!(ir::ModelStats::of(&m).parameters, 13398);
    let (_, rel, cos) = deviation(&r, "logits");
    assert!(rel < 0.2 && cos > 0.98, "rel {rel} cos {cos}");

    // Without simplification the BatchNormalizations are pruned along.
    let (r, m, _d) = run_ok("cnn_bn_residual", &["--prune-channels", "0.3", "--no-simplify", "--prune-norm", "l2"]);
    assert!(!r.stderr.contains("simplify:"), "{}", r.stderr);
    has_line(&r, "prune-channels: parameters 25018 -> 13902 (-44.4%)");
    assert_eq!(m.graph.nodes.iter().filter(|n| n.op == "BatchNormalization").count(), 8);

    let (r, _, _d) = run_ok("mlp", &["--prune-channels", "0.3", "--verify"]);
    has_line(&r, "prune-channels: MACs 103424 -> 59040 (-42.9%)");
    let (r, _, _d) = run_ok("transformer_encoder", &["--prune-channels", "0.3", "--verify"]);
    has_line(&r, "prune-channels: /layers.0/linear1/MatMul: 64 -> 45 channels");
    has_line(&r, "prune-channels: MACs 139264 -> 119808 (-14.0%)");
}

/// The channel-pruned CNN is written in every format that can hold it: ONNX
/// and OpenVINO IR re-read and checked against the pruned model by
/// `--verify`, safetensors holding exactly the 13,398 remaining parameters.
#[test]
fn channel_pruned_cnn_converts_to_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("cnn_bn_residual");
    for name in ["pruned.onnx", "pruned.xml"] {
        let out = dir.path().join(name);
        let r =
            convert(&[input.as_os_str(), out.as_os_str(), OsStr::new("--prune-channels=0.3"), OsStr::new("--verify")]);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        has_line(&r, "prune-channels: parameters 24490 -> 13398 (-45.3%)");
        assert!(r.stdout.contains("verify: all 1 output(s)"), "{name}: {}", r.stdout);
    }
    let out = dir.path().join("pruned.safetensors");
    let r = convert(&[input.as_os_str(), out.as_os_str(), OsStr::new("--prune-channels=0.3")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // safetensors: u64 header length, JSON header, then the f32 data.
    let bytes = std::fs::read(&out).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(bytes.len() - 8 - header_len, 13_398 * 4, "every remaining parameter, as f32, and nothing else");
}

#[test]
fn magnitude_pruning_reports_sparsity() {
    let (r, m, _d) = run_ok("cnn_bn_residual", &["--prune-magnitude", "0.5", "--verify"]);
    has_line(
        &r,
        "prune-magnitude: sparsity 50.0% (12152 of 24304 weights in Conv/ConvTranspose/Gemm/MatMul are zero, \
         global scope, target 50.0%)",
    );
    let zeros: usize = m
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op.as_str(), "Conv" | "Gemm"))
        .map(|n| {
            m.graph.initializers[n.input(1).unwrap()].as_slice::<f32>().unwrap().iter().filter(|v| **v == 0.0).count()
        })
        .sum();
    assert_eq!(zeros, 12152);
    let (_, rel, cos) = deviation(&r, "logits");
    assert!(rel < 0.2 && cos > 0.98, "rel {rel} cos {cos}");

    let flags = ["--prune-magnitude", "0.8", "--prune-scope", "layer", "--prune-sparse", "--verify"];
    let (r, m, _d) = run_ok("mlp", &flags);
    has_line(
        &r,
        "prune-magnitude: sparsity 80.0% (20684 of 25856 weights in Conv/ConvTranspose/Gemm/MatMul are zero, \
         layer scope, target 80.0%)",
    );
    assert!(r.stderr.contains("prune-magnitude: 3 weight(s) stored as sparse_initializer, "), "{}", r.stderr);
    assert_eq!(m.graph.sparse_initializers.len(), 3);

    let (r, _, _d) = run_ok("transformer_encoder", &["--prune-magnitude", "0.3", "--verify"]);
    assert!(r.stderr.contains("prune-magnitude: sparsity 30.0% "), "{}", r.stderr);
}

#[test]
fn bad_fractions_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    for flag in ["--prune-channels=1.5", "--prune-magnitude=-0.2"] {
        let r = convert(&[fixture("mlp").as_os_str(), out.as_os_str(), OsStr::new(flag)]);
        assert_eq!(r.code, Some(2), "usage error; {}", r.stderr);
        let line = r.stderr.trim_end();
        assert!(!line.contains('\n') && line.contains("is not a fraction in [0, 1)"), "{line}");
        assert!(!out.exists());
    }
    let r = convert(&["--list-formats"]);
    for p in ["simplify", "prune-magnitude", "prune-channels"] {
        assert!(r.stdout.lines().any(|l| l.trim_start().starts_with(p)), "{}", r.stdout);
    }
}
