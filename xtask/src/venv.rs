//! The Python virtual environment under `target/venv` for the tiers that
//! check our output in the real tools (interop, conformance, bench). One venv
//! for all of them, so a clean checkout downloads each wheel once. Created on
//! first use, reused while `xtask/python/requirements.txt` is unchanged.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::Workspace;

/// A ready venv; `python()` is its interpreter.
#[derive(Debug)]
pub(crate) struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// Creates (or reuses) `target/venv` with the pinned packages of
    /// `xtask/python/requirements.txt`.
    pub(crate) fn ensure(ws: &Workspace) -> Result<Self> {
        let dir = ws.root.join("target").join("venv");
        let requirements = ws.root.join("xtask/python/requirements.txt");
        let wanted = std::fs::read_to_string(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?;
        let stamp = dir.join(".requirements");
        let venv = Venv { dir };
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && venv.python().exists() {
            return Ok(venv);
        }
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!("creating Python venv {} ...", venv.dir.display());
        run(Command::new(&python).args(["-m", "venv", "--clear"]).arg(&venv.dir))
            .with_context(|| format!("cannot create a venv with {python}"))?;
        run(Command::new(venv.python())
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements))
        .context("pip install failed")?;
        std::fs::write(&stamp, wanted)?;
        Ok(venv)
    }

    /// The venv's Python interpreter.
    pub(crate) fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }
}

/// Runs a command, failing with its name if it does not succeed.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
