//! Developer tasks for this workspace, run as `cargo xtask <task>` (the alias
//! lives in `.cargo/config.toml`).
//!
//! Each task is a module with an `Args` struct (a `clap::Args`) and a
//! `run(&Workspace, Args)` function. Adding a task is one variant in [`Task`]
//! and one arm in [`main`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

mod bench;
mod bench_compress;
mod bench_convert;
mod bench_tf;
mod bench_torch;
mod codegen;
mod conformance;
mod convert;
mod fuzz;
mod interop;
mod interop_frameworks;
mod interop_quant;
mod python_test;
mod render;
mod venv;

/// Workspace developer tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate the checked-in Rust code for the .proto schemas under proto/.
    Codegen(codegen::Args),
    /// Run onnx's backend node tests through the ONNX importer and the evaluator (venv under target/).
    Conformance(conformance::Args),
    /// Build `convert` in release mode with every feature and run it with the given arguments.
    Convert(convert::Args),
    /// Convert every fixture and check the result in the real runtimes (venv under target/).
    Interop(interop::Args),
    /// Time the evaluator against onnxruntime (one thread) on the same models.
    Bench(bench::Args),
    /// Draw fixtures' graphs and a verify chart as SVG, render them with rsvg-convert and check the PNGs.
    Render(render::Args),
    /// Build the Python package into target/venv-python (maturin) and run its pytest suite.
    PythonTest(python_test::Args),
    /// Fuzz every importer (cargo-fuzz, nightly) for N seconds per target; crash inputs go to fuzz/regressions/.
    Fuzz(fuzz::Args),
}

/// Paths shared by every task.
#[derive(Debug)]
pub(crate) struct Workspace {
    /// The workspace root (the directory holding the root `Cargo.toml`).
    pub(crate) root: PathBuf,
}

impl Workspace {
    fn locate() -> anyhow::Result<Self> {
        // xtask/ sits directly under the workspace root.
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .with_context(|| format!("{} has no parent directory", manifest_dir.display()))?
            .to_path_buf();
        Ok(Self { root })
    }
}

/// What a task reports when it finished without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The task did what it was asked.
    Ok,
    /// A check found a problem and already printed a message explaining it.
    CheckFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Workspace::locate().and_then(|ws| match cli.task {
        Task::Codegen(args) => codegen::run(&ws, args),
        Task::Conformance(args) => conformance::run(&ws, args),
        Task::Convert(args) => convert::run(&ws, args),
        Task::Interop(args) => interop::run(&ws, args),
        Task::Bench(args) => bench::run(&ws, args),
        Task::Fuzz(args) => fuzz::run(&ws, args),
        Task::Render(args) => render::run(&ws, args),
        Task::PythonTest(args) => python_test::run_tier(&ws, args),
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
