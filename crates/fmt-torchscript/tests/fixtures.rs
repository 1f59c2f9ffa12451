//! Every TorchScript fixture imported, run in the reference evaluator and
//! compared with torch's own outputs (relative L2 ≤ 1e-5).

use std::path::{Path, PathBuf};

use ir::{ImportOptions, Importer, Model};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torchscript")
}

fn import(case: &str, options: &[(&str, &str)]) -> Model {
    let mut o = ImportOptions::default();
    for (k, v) in options {
        o.format_options.insert(k.to_string(), v.to_string());
    }
    let path = fixtures().join(case).join("model.pt");
    let m = fmt_torchscript::TorchScriptImporter.import(&path, &o).unwrap_or_else(|e| panic!("{case}: {e}"));
    m.graph.validate().unwrap_or_else(|e| panic!("{case}: {e}"));
    m
}

/// Runs `m` on `dir/input_<k>.npy` and returns the worst relative L2 error
/// against `dir/output_<k>.npy`.
fn check(m: &Model, dir: &Path) -> f64 {
    let worst = common::worst_rel_l2(m, dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    eprintln!("{}: {} nodes, {} outputs, rel L2 {worst:e}", dir.display(), m.graph.nodes.len(), m.graph.outputs.len());
    assert!(worst <= 1e-5, "{}: rel L2 {worst}", dir.display());
    worst
}

fn case(name: &str) -> f64 {
    let m = import(name, &[]);
    check(&m, &fixtures().join(name))
}

#[test]
fn cnn_traced() {
    case("cnn_traced");
}

#[test]
fn encoder_generic() {
    case("encoder_generic");
}

#[test]
fn encoder_fused() {
    let m = import("encoder_fused", &[]);
    assert!(m.graph.nodes.iter().all(|n| n.domain.is_empty()), "the fused layer is decomposed into canonical ops");
    check(&m, &fixtures().join("encoder_fused"));
}

#[test]
fn embed_attention() {
    let m = import("embed_attention", &[]);
    assert_eq!(m.graph.inputs[0].dtype(), Some(ir::DType::I64), "token ids keep their traced dtype");
    check(&m, &fixtures().join("embed_attention"));
}

#[test]
fn scripted_control() {
    // A scripted archive records no example inputs: the shape comes from an option.
    let m = import("scripted_control", &[("input-shape", "x=2,8")]);
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    assert!(ops.contains(&"If") && ops.contains(&"Loop"), "data-dependent if/while become If/Loop: {ops:?}");
    let dir = fixtures().join("scripted_control");
    check(&m, &dir);
    check(&m, &dir.join("alt"));
}

#[test]
fn dynamic_batch() {
    let m = import("dynamic_batch", &[("input-shape", "x=batch,2,4,4")]);
    let dims = m.graph.outputs[0].shape().map(|s| s.dims()[0].clone());
    assert_eq!(dims, Some(ir::Dim::Symbolic("batch".into())), "the batch stays symbolic");
    let dir = fixtures().join("dynamic_batch");
    check(&m, &dir);
    check(&m, &dir.join("alt"));
}

#[test]
fn gpt2_tiny() {
    // transformers' GPT-2: diff/cumsum/new_ones/multi-tensor index build its mask; addmm, split.
    let m = import("gpt2_tiny", &[]);
    assert_eq!(m.graph.outputs[0].name, "last_hidden_state", "a returned dict names the outputs");
    check(&m, &fixtures().join("gpt2_tiny"));
}

#[test]
fn bert_tiny() {
    // transformers' BERT: gather of buffered token types, two named outputs.
    let m = import("bert_tiny", &[]);
    let names: Vec<&str> = m.graph.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["last_hidden_state", "pooler_output"]);
    check(&m, &fixtures().join("bert_tiny"));
}

#[test]
fn ops_traced() {
    // One traced module touching many rules (norms, pools, transposed and
    // grouped convolution, joins and splits, masks, reductions, creation ops).
    case("ops_traced");
}

#[test]
fn scripted_loop() {
    // `for i in range(x.size(0))` over a dynamic dimension: a Loop with a trip count.
    let m = import("scripted_loop", &[("input-shape", "x=n,5")]);
    assert!(m.graph.nodes.iter().any(|n| n.op == "Loop" && n.input(0).is_some()), "a counted Loop");
    let dir = fixtures().join("scripted_loop");
    check(&m, &dir);
    check(&m, &dir.join("alt"));
    // With the length known at import, the loop is unrolled.
    let m = import("scripted_loop", &[("input-shape", "x=3,5")]);
    assert!(m.graph.nodes.iter().all(|n| n.op != "Loop"));
    check(&m, &dir);
}

#[test]
fn scripted_checks() {
    // A raising input check is dropped; `ops.prim.min`, `ops.prim.dtype`,
    // `torch.warn` and `is None` fold at import.
    let m = import("scripted_checks", &[("input-shape", "x=5,4")]);
    assert!(m.graph.nodes.iter().all(|n| n.op != "If"), "only the non-raising path is kept");
    check(&m, &fixtures().join("scripted_checks"));
}

#[test]
fn every_fixture_parses() {
    let mut n = 0;
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path().join("model.pt");
        if p.exists() {
            let a = fmt_torchscript::module::ScriptArchive::open(&p).unwrap();
            n += a.parse_all().unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(n >= 30, "{n} source files");
}

#[test]
fn upsample_traced() {
    // nearest, nearest-exact, bilinear (half-pixel and align_corners), bicubic; by factor and by size.
    case("upsample_traced");
}

#[test]
fn scripted_lists() {
    // torch.append on a list variable, len, `...` slices, and the scripted
    // `F.interpolate` (a free function of ~400 lines of Python logic folded at import).
    let m = import("scripted_lists", &[("input-shape", "x=2,3,8")]);
    assert!(m.graph.nodes.iter().any(|n| n.op == "Resize"));
    check(&m, &fixtures().join("scripted_lists"));
}

#[test]
fn encoder_scripted() {
    // The scripted nn.TransformerEncoder (what torch.onnx fails on with "transpose
    // for tensor of unknown rank"): hundreds of lines of fast-path checks fold at
    // import, and the layer runs through the fused op.
    let m = import("encoder_scripted", &[("input-shape", "src=1,5,16")]);
    assert!(m.graph.nodes.iter().all(|n| n.op != "If" && n.op != "Loop"), "every check folds");
    check(&m, &fixtures().join("encoder_scripted"));
}

#[test]
fn attention_variants() {
    // _native_multi_head_attention, a norm-first GELU fused encoder layer,
    // boolean and additive attention masks, an explicit scale, any/all, tril/triu.
    let m = import("attention_variants", &[]);
    assert!(m.graph.nodes.iter().all(|n| n.domain.is_empty()));
    check(&m, &fixtures().join("attention_variants"));
}

#[test]
fn initializers_are_views_into_the_archive() {
    let m = import("cnn_traced", &[]);
    let w = &m.graph.initializers["stem.weight"];
    assert_eq!(w.shape(), &[8, 3, 3, 3]);
    assert!(format!("{:?}", w.raw().unwrap()).contains("mapped"), "zero-copy from the archive");
    // Parameters keep their state_dict names (the --weights contract).
    for name in ["bn.running_mean", "block.conv1.weight", "block.bn2.bias", "fc.weight", "fc.bias"] {
        assert!(m.graph.initializers.contains_key(name), "{name}");
    }
}

#[test]
fn tied_weights_are_one_initializer() {
    let m = import("tied_traced", &[]);
    let names: Vec<&str> = m.graph.initializers.keys().map(String::as_str).collect();
    assert_eq!(names.iter().filter(|n| n.ends_with("weight")).count(), 1, "{names:?}");
    check(&m, &fixtures().join("tied_traced"));
}

#[test]
fn input_options() {
    let m = import("embed_attention", &[("input-dtype", "tokens=int32"), ("input-shape", "tokens=1,seq")]);
    assert_eq!(m.graph.inputs[0].dtype(), Some(ir::DType::I32));
    assert_eq!(m.graph.inputs[0].shape().unwrap().dims()[1], ir::Dim::Symbolic("seq".into()));
    // A dynamic sequence length: the causal mask and head reshapes are computed in the graph.
    let m = import("embed_attention", &[("input-shape", "tokens=batch,seq")]);
    check(&m, &fixtures().join("embed_attention"));
    let path = fixtures().join("cnn_traced/model.pt");
    let mut o = ImportOptions::default();
    o.format_options.insert("input-size".into(), "x=1".into());
    let e = fmt_torchscript::TorchScriptImporter.import(&path, &o).unwrap_err().to_string();
    assert!(
        e.ends_with("-I input-size: not an option of the torchscript reader (it reads: input-shape, input-dtype)"),
        "{e}"
    );
    // A scripted model without shapes: the error says how to give them.
    let e = fmt_torchscript::TorchScriptImporter
        .import(&fixtures().join("scripted_loop/model.pt"), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("-I input-shape="), "{e}");
}
