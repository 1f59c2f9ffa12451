//! The Python virtual environments under `target/` for the tiers that check
//! our output in the real tools. `target/venv` (from
//! `xtask/python/requirements.txt`) serves interop, conformance and bench, so
//! a clean checkout downloads each wheel once; `target/venv-models` (from
//! `xtask/python/requirements-models.txt`) adds torch and transformers for
//! `interop --models`, kept apart because torch alone is gigabytes. Each is
//! created on first use and reused while its requirements file is unchanged.

use std::path::{Path, PathBuf};
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
        Self::ensure_named(ws, "venv", Path::new("xtask/python/requirements.txt"))
    }

    /// Creates (or reuses) `target/<name>` with the pinned packages of
    /// `requirements` (relative to the workspace root).
    pub(crate) fn ensure_named(ws: &Workspace, name: &str, requirements: &Path) -> Result<Self> {
        let dir = ws.root.join("target").join(name);
        let requirements = ws.root.join(requirements);
        let wanted = std::fs::read_to_string(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?;
        // The stamp records the requirements the venv was built from.
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

    /// A venv made elsewhere (`--venv PATH`), used as it is: nothing is
    /// installed or checked beyond its interpreter existing.
    pub(crate) fn existing(dir: &Path) -> Result<Self> {
        let venv = Venv { dir: dir.to_path_buf() };
        if !venv.python().exists() {
            bail!("--venv {}: no interpreter at {}", dir.display(), venv.python().display());
        }
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
