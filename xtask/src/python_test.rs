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
