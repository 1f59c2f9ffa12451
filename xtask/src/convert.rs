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
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::venv::run(Command::new(cargo).current_dir(&ws.root).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "convert",
        "--all-features",
    ]))
    .context("building convert")?;
    Ok(ws.root.join("target").join("release").join("convert"))
}

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    let bin = build_release(ws)?;
    let status =
        Command::new(&bin).args(&args.args).status().with_context(|| format!("cannot run {}", bin.display()))?;
    Ok(if status.success() { Outcome::Ok } else { Outcome::CheckFailed })
}
