//! `cargo xtask python-test`: builds the Python package (`crates/py`) into
//! the venv `target/venv-python` with `maturin develop` (the workspace's own
//! `target/` and dev profile, so the tier reuses what `cargo test` built) and
//! runs its pytest suite (`crates/py/tests/`), which also checks the
//! converted models in onnxruntime and OpenVINO and the types with mypy.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::venv::{Venv, run};
use crate::{Outcome, Workspace};

/// Options of `cargo xtask python-test`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Build the extension with the release profile (slower to build, faster to run).
    #[arg(long)]
    release: bool,
    /// Only the tests whose names match this pytest `-k` expression.
    #[arg(short = 'k', value_name = "EXPR")]
    filter: Option<String>,
}

/// Builds and installs the package, then runs the suite.
pub(crate) fn run_tier(ws: &Workspace, args: Args) -> Result<Outcome> {
    let venv = Venv::ensure_named(ws, "venv-python", Path::new("crates/py/tests/requirements.txt"))?;
    let python = venv.python();
    let venv_dir = python.parent().and_then(Path::parent).context("the venv interpreter is not in DIR/bin")?;
    let mut build = Command::new(&python);
    build
        .args(["-m", "maturin", "develop", "--quiet", "-m"])
        .arg(ws.root.join("crates/py/Cargo.toml"))
        .env("VIRTUAL_ENV", venv_dir)
        .current_dir(&ws.root);
    if args.release {
        build.arg("--release");
    }
    for drift in feature_drift(ws)? {
        eprintln!("python-test: warning: {drift}");
    }
    let start = std::time::Instant::now();
    run(&mut build).context("building the Python package failed")?;
    eprintln!("python-test: package built and installed in {:.1} s", start.elapsed().as_secs_f64());
    let mut test = Command::new(&python);
    test.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp"])
        .arg(ws.root.join("target/pytest-python"))
        .arg(ws.root.join("crates/py/tests"))
        .current_dir(&ws.root);
    if let Some(k) = &args.filter {
        test.args(["-k", k]);
    }
    let status = test.status().with_context(|| format!("cannot start {test:?}"))?;
    Ok(if status.success() { Outcome::Ok } else { Outcome::CheckFailed })
}

/// The packages whose features differ between maturin's build of
/// `crates/py` and `cargo build --workspace --all-targets`, as messages.
/// Each difference makes maturin compile that package and everything above
/// it a second time; `crates/py/Cargo.toml` pins features to prevent it.
/// PyO3 itself differs by design (`extension-module`) and is left out.
fn feature_drift(ws: &Workspace) -> Result<Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = |args: &[&str]| -> Result<std::collections::BTreeSet<String>> {
        let out = Command::new(&cargo)
            .args(["tree", "--quiet", "--prefix", "none", "--format", "{p} [{f}]"])
            .args(args)
            .current_dir(&ws.root)
            .output()
            .context("cannot run cargo tree")?;
        anyhow::ensure!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end_matches(" (*)").to_string()).collect())
    };
    let py = tree(&["-p", "model-convert-py", "--features", "extension-module", "-e", "normal"])?;
    let workspace = tree(&["--workspace", "-e", "normal,dev,build"])?;
    Ok(py
        .difference(&workspace)
        .filter(|l| !l.starts_with("pyo3") && !l.starts_with("model-convert-py "))
        .map(|l| format!("{l} differs from the workspace build's features: maturin compiles it and its dependents again (pin the features in crates/py/Cargo.toml)"))
        .collect())
}
