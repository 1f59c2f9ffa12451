//! `cargo xtask convert ARGS`: builds the `convert` binary in release mode
//! with every format and pass enabled, then runs it with ARGS.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{Outcome, Workspace};

/// Arguments passed through to `convert`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Everything after `convert`, as the binary takes it.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Builds the release binary with all features and returns its path.
pub(crate) fn build_release(ws: &Workspace) -> Result<PathBuf> {
    build(ws, true)
}

/// Builds `convert` with all features, optimised (`release`) or in the dev
/// profile, which CI has already built for the tests (the evaluator's crates
/// are optimised there too, see the workspace's profile overrides).
pub(crate) fn build(ws: &Workspace, release: bool) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ws.root).args(["build", "--quiet", "--package", "convert", "--all-features"]);
    if release {
        cmd.arg("--release");
    }
    crate::venv::run(&mut cmd).context("building convert")?;
    Ok(ws.root.join("target").join(if release { "release" } else { "debug" }).join("convert"))
}

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    let bin = build_release(ws)?;
    let status =
        Command::new(&bin).args(&args.args).status().with_context(|| format!("cannot run {}", bin.display()))?;
    Ok(if status.success() { Outcome::Ok } else { Outcome::CheckFailed })
}
