//! Opt-in check on real traced architectures (random weights), which are
//! too large to commit: `TORCHSCRIPT_MODELS=DIR cargo test -p
//! fmt-torchscript --test real_models -- --ignored --nocapture`, where each
//! `DIR/<model>/` holds `model.pt`, `input_<k>.npy` and torch's
//! `output_<k>.npy` (`tests/make_real_models.py DIR` writes them).

use std::path::PathBuf;

use ir::{ImportOptions, Importer};

mod common;

#[test]
#[ignore = "needs TORCHSCRIPT_MODELS with traced real models"]
fn real_models_match_torch() {
    let Some(dir) = std::env::var_os("TORCHSCRIPT_MODELS").map(PathBuf::from) else {
        eprintln!("TORCHSCRIPT_MODELS is not set");
        return;
    };
    let mut failures = Vec::new();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("model.pt").exists()).collect();
    cases.sort();
    for case in cases {
        let start = std::time::Instant::now();
        let archive = fmt_torchscript::module::ScriptArchive::open(&case.join("model.pt")).unwrap();
        let files = archive.parse_all().unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let m = match fmt_torchscript::TorchScriptImporter.import(&case.join("model.pt"), &ImportOptions::default()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", case.display()));
                continue;
            }
        };
        let imported = start.elapsed();
        let worst = match common::worst_rel_l2(&m, &case) {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{}: {e}", case.display()));
                continue;
            }
        };
        eprintln!(
            "{}: {files} source files, {} nodes, imported in {:.2?}, rel L2 {worst:e}",
            case.display(),
            m.graph.nodes.len(),
            imported
        );
        if worst > 1e-5 {
            failures.push(format!("{}: rel L2 {worst:e}", case.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
