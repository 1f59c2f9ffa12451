//! The `convert` command line: convert, inspect, verify and run models.
//!
//! [`main`] is the whole program behind the `convert` binary and the Python
//! package's `model-convert` console script: it parses the arguments, runs
//! the command, prints a one-line error on failure and returns the exit code
//! ([`crate::report::FailureKind`]) instead of exiting, so a host process
//! (Python) keeps running.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use std::time::Instant;

use crate::ConvertOptions;
use crate::report::{CommandKind, ErrorInfo, FailureKind, ModelInfo, Report, UsageError};
use crate::verify::{InputFile, InputOptions};
use anyhow::{Context, Result};
use clap::{ArgAction, Parser, Subcommand};
use ir::{ExternalData, ModelStats, Registry};

mod check;
mod inspect;
mod progress;

/// Returns early with a [`UsageError`] (exit code 2).
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new(UsageError(format!($($arg)*))))
    };
}

/// Convert neural-network models between formats, through one IR.
#[derive(Debug, Parser)]
#[command(name = "convert", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Input model (file, or folder for folder formats).
    input: Option<PathBuf>,
    /// Output model; the format follows from the extension unless --to is given.
    output: Option<PathBuf>,

    /// Input format (see --list-formats); detected from name and content by default.
    #[arg(long, value_name = "FMT")]
    from: Option<String>,
    /// Output format (see --list-formats).
    #[arg(long, value_name = "FMT")]
    to: Option<String>,
    /// Write weights to an external data file (ONNX); automatic past 2 GiB.
    #[arg(long, conflicts_with = "no_external_data")]
    external_data: bool,
    /// Never write external data; fail if the model cannot be stored inline.
    #[arg(long)]
    no_external_data: bool,
    /// Load weights by name before writing: .safetensors (or a sharded .safetensors.index.json), or a torch.save state_dict (.pt/.pth/.bin).
    #[cfg(feature = "safetensors")]
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Exporter option KEY=VALUE (e.g. tensor-encoding=typed); repeatable.
    #[arg(short = 'O', value_name = "KEY=VALUE")]
    export_option: Vec<String>,
    /// Importer option KEY=VALUE; repeatable.
    #[arg(short = 'I', value_name = "KEY=VALUE")]
    import_option: Vec<String>,
    /// Run a registered pass, NAME or NAME=ARG (see --list-formats); repeatable, in order.
    #[arg(long = "pass", value_name = "NAME[=ARG]")]
    pass: Vec<String>,
    /// Simplify the graph even when no other pass runs (fold constants and BatchNormalization, drop Identity/dead nodes, CSE).
    #[arg(long, conflicts_with = "no_simplify")]
    simplify: bool,
    /// Do not simplify before other passes (simplification runs first whenever any pass is requested).
    #[arg(long)]
    no_simplify: bool,
    /// Do not run the model before and after the passes on the check inputs (no output SQNR/deviation table; saves two model runs on large models).
    #[arg(long)]
    no_pass_check: bool,
    /// Magnitude pruning: zero this fraction (0..1) of the Conv/ConvTranspose/Gemm/MatMul weights.
    #[arg(long, value_name = "SPARSITY")]
    prune_magnitude: Option<f64>,
    /// Scope of --prune-magnitude: one threshold for all weights (global) or the fraction in every layer (layer).
    #[arg(long, value_name = "SCOPE", default_value = "global", value_parser = ["global", "layer"])]
    prune_scope: String,
    /// With --prune-magnitude, store pruned weights as ONNX sparse_initializers where that is smaller.
    #[arg(long)]
    prune_sparse: bool,
    /// Channel pruning: remove this fraction (0..1) of the Conv/Gemm output channels, shrinking the model.
    #[arg(long, value_name = "FRACTION")]
    prune_channels: Option<f64>,
    /// Channel ranking norm for --prune-channels.
    #[arg(long, value_name = "NORM", default_value = "l1", value_parser = ["l1", "l2"])]
    prune_norm: String,
    /// SavedModel: the MetaGraph's tags (comma-separated; default serve).
    #[arg(long, value_name = "TAG[,..]")]
    tags: Option<String>,
    /// SavedModel: the signature to convert (default serving_default; `convert inspect` lists them).
    #[arg(long, value_name = "NAME")]
    signature: Option<String>,
    /// NHWC sources (TensorFlow): declare 4-D inputs as nchw (no transpose at the interface) or keep nhwc.
    #[arg(long, value_name = "LAYOUT", value_parser = ["nchw", "nhwc"])]
    input_layout: Option<String>,
    /// Cut the model: these values become its inputs (comma-separated value names; TF tensor names like `op:0`).
    #[arg(long, value_name = "NAME[,..]", value_delimiter = ',')]
    graph_inputs: Vec<String>,
    /// Cut the model: these values become its outputs (comma-separated), as onnx.utils.extract_model does.
    #[arg(long, value_name = "NAME[,..]", value_delimiter = ',')]
    graph_outputs: Vec<String>,
    /// Keep ops with no ONNX meaning in their origin domain (tf, torch, openvino) instead of failing on them.
    #[arg(long)]
    keep_unknown_ops: bool,
    /// List the formats and passes this build supports.
    #[arg(long, conflicts_with = "json")]
    list_formats: bool,
    /// After writing, re-import the output and compare it with the input model on the same inputs.
    #[arg(long)]
    verify: bool,
    /// Also write the JSON report of the conversion (see docs/report.schema.json) to FILE, on failure too.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// Print the JSON report (see docs/report.schema.json) on stdout instead of the text, on failure too;
    /// the text tables go to stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    check: CheckArgs,
    #[cfg(feature = "quant")]
    #[command(flatten)]
    quant: QuantArgs,

    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// No progress bar and no summary line.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What an input file may make the importer do (`ir::Limits`); the defaults
/// are far above real models and far below what hurts the machine.
#[derive(Debug, Clone, clap::Args)]
struct LimitArgs {
    /// Deepest nesting accepted in a file (subgraphs, function calls, pickled values, source expressions).
    #[arg(long, global = true, value_name = "N", default_value_t = ir::Limits::default().max_depth)]
    max_depth: usize,
    /// Most bytes inflated from compressed entries of a zip-based file (TorchScript, .npz).
    #[arg(long, global = true, value_name = "N", default_value_t = ir::Limits::default().max_inflated_bytes)]
    max_inflated_bytes: u64,
    /// Most tensors one file may declare.
    #[arg(long, global = true, value_name = "N", default_value_t = ir::Limits::default().max_tensors)]
    max_tensors: usize,
}

/// `check` reading its input files under the global limits.
fn with_limits(check: &CheckArgs, limits: &LimitArgs) -> CheckArgs {
    CheckArgs { limits: limits.import_options().limits, ..check.clone() }
}

impl LimitArgs {
    fn import_options(&self) -> ir::ImportOptions {
        ir::ImportOptions {
            limits: ir::Limits {
                max_depth: self.max_depth,
                max_inflated_bytes: self.max_inflated_bytes,
                max_tensors: self.max_tensors,
            },
            ..ir::ImportOptions::default()
        }
    }
}

/// How models are compared (`--verify`, `verify`) and fed (`run`).
#[derive(Debug, Clone, clap::Args)]
struct CheckArgs {
    /// Largest relative L2 error accepted per output.
    #[arg(long, default_value_t = 1e-4, value_name = "REL")]
    tolerance: f64,
    /// Input data: `.npy`, `.npz` (by key) or ONNX TensorProto `.pb`, as NAME=FILE or in graph-input order; others are random.
    #[arg(long = "inputs", alias = "input", value_name = "[NAME=]FILE", num_args = 1..)]
    inputs: Vec<String>,
    /// Full shape of an input with dynamic dimensions, NAME=D1,D2,...; repeatable.
    #[arg(long, value_name = "NAME=DIMS")]
    input_shape: Vec<String>,
    /// Size of a symbolic dimension, SYMBOL=N (e.g. batch=4); repeatable. Others default to 1.
    #[arg(long, value_name = "SYMBOL=N")]
    dim: Vec<String>,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Limits on reading the input files: the global --max-* flags, set by `run`.
    #[arg(skip)]
    limits: ir::Limits,
}

impl CheckArgs {
    fn input_options(&self) -> Result<InputOptions> {
        let mut o = InputOptions { seed: self.seed, limits: self.limits, ..InputOptions::default() };
        for (k, v) in parse_kv(&self.input_shape, "--input-shape")? {
            let dims = v
                .split(',')
                .map(|d| {
                    d.trim().parse::<usize>().with_context(|| format!("--input-shape {k}={v}: '{d}' is not a size"))
                })
                .collect::<Result<_>>()?;
            o.shapes.insert(k, dims);
        }
        for (k, v) in parse_kv(&self.dim, "--dim")? {
            o.dims.insert(k.clone(), v.parse().with_context(|| format!("--dim {k}={v}: not a size"))?);
        }
        o.files = self.inputs.iter().map(|s| InputFile::parse(s)).collect();
        Ok(o)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare two models (any formats) on the same inputs with the reference evaluator.
    Verify {
        /// The reference model.
        reference: PathBuf,
        /// The model to check against it.
        candidate: PathBuf,
        /// Also draw each output's max_abs and rel_l2 against the tolerance as an SVG bar chart (written also when the check fails).
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Run a model with the reference evaluator and write each output as DIR/<output>.npy.
    Run {
        /// The model.
        model: PathBuf,
        /// Its format, if not detectable.
        #[arg(long, value_name = "FMT")]
        from: Option<String>,
        /// Folder for the outputs (created if missing).
        #[arg(long, short = 'o', value_name = "DIR")]
        output_dir: PathBuf,
        /// Run this many more times after a warm-up run and print the median and minimum time per run.
        #[arg(long, default_value_t = 0, value_name = "N")]
        repeat: usize,
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Print a model's inputs, outputs, op histogram, parameters and weight bytes.
    Inspect {
        /// The model.
        model: PathBuf,
        /// Its format, if not detectable.
        #[arg(long, value_name = "FMT")]
        from: Option<String>,
        /// Also list every value the nodes produce, with its inferred dtype and shape.
        #[arg(long)]
        values: bool,
        /// Draw the graph as SVG (top to bottom, laid out here: no Graphviz needed).
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Write the graph as Graphviz DOT.
        #[arg(long, value_name = "FILE")]
        dot: Option<PathBuf>,
    },
}

fn parse_kv(list: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => usage!("{flag} {s}: expected KEY=VALUE"),
        })
        .collect()
}

/// A pruning fraction given on the command line, checked to lie in `[0, 1)`.
#[cfg(feature = "prune")]
fn fraction(flag: &str, v: f64) -> Result<f64> {
    if (0.0..1.0).contains(&v) { Ok(v) } else { usage!("{flag}: '{v}' is not a fraction in [0, 1) (e.g. 0.5)") }
}

/// Marks an error met while reading the options as a usage error (exit
/// code 2), unless it already has a kind of its own (a missing file is I/O).
pub(crate) fn as_usage(e: anyhow::Error) -> anyhow::Error {
    match FailureKind::of(&e) {
        FailureKind::Other => {
            let message = format!("{e:#}");
            anyhow::Error::new(UsageError(message))
        }
        _ => e,
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn list_formats(registry: &Registry) {
    println!("formats (import / export):");
    let mut names: Vec<&str> = registry.importers().map(|i| i.info().name).collect();
    for e in registry.exporters() {
        if !names.contains(&e.info().name) {
            names.push(e.info().name);
        }
    }
    for name in names {
        let imp = registry.importer(name).ok();
        let exp = registry.exporter(name).ok();
        let info = imp.map(|i| i.info()).or(exp.map(|e| e.info())).expect("listed from the registry");
        let dirs = match (imp.is_some(), exp.is_some()) {
            (true, true) => "read/write",
            (true, false) => "read",
            _ => "write",
        };
        let exts: Vec<String> = info.extensions.iter().map(|e| format!(".{e}")).collect();
        println!("  {:<12} {:<10} {:<12} {}", name, dirs, exts.join(" "), info.description);
    }
    if !registry.passes().is_empty() {
        println!("passes:");
        for p in registry.passes() {
            println!("  {:<24} {}", p.name, p.description);
        }
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// The conversion's options from the flags; every error here is the
/// user's to fix (exit code 2), except I/O.
fn options(cli: &Cli, registry: &Registry) -> Result<ConvertOptions> {
    let progress = progress::handle(cli.quiet);
    let mut opts = ConvertOptions { from: cli.from.clone(), to: cli.to.clone(), ..ConvertOptions::default() };
    #[cfg(feature = "safetensors")]
    {
        opts.weights = cli.weights.clone();
    }
    opts.import = cli.limits.import_options();
    opts.import.format_options = parse_kv(&cli.import_option, "-I")?;
    opts.import.progress = progress.clone();
    opts.import.keep_unknown_ops = cli.keep_unknown_ops;
    for (key, value) in [("tags", &cli.tags), ("signature", &cli.signature), ("input-layout", &cli.input_layout)] {
        if let Some(v) = value {
            opts.import.format_options.insert(key.to_string(), v.clone());
        }
    }
    opts.import.graph_inputs = cli.graph_inputs.clone();
    opts.import.graph_outputs = cli.graph_outputs.clone();
    opts.export.format_options = parse_kv(&cli.export_option, "-O")?;
    opts.export.progress = progress;
    opts.export.external_data = match (cli.external_data, cli.no_external_data) {
        (true, _) => ExternalData::Always,
        (_, true) => ExternalData::Never,
        _ => ExternalData::Auto,
    };
    for spec in &cli.pass {
        let (name, arg) = spec.split_once('=').unwrap_or((spec, ""));
        opts.passes.push(registry.pass(name, arg).with_context(|| format!("--pass {spec}"))?);
    }
    #[cfg(feature = "quant")]
    if let Some(config) = cli.quant.config(false)? {
        opts.passes.push(Box::new(opt_quant::QuantizePass::new(config)));
    }
    // Pruning (crates/opt-prune) runs before every other pass, and simplification
    // (crates/opt-simplify) before that whenever any pass runs, unless --no-simplify.
    // A plain conversion runs no pass and writes the model exactly as read.
    // The flags build each pass's typed options directly; the registry's
    // string arguments are only for --pass NAME=ARG.
    {
        // Only the pruning and simplification features add passes here.
        #[cfg_attr(not(any(feature = "prune", feature = "simplify")), allow(unused_mut))]
        let mut front: Vec<Box<dyn ir::Pass>> = Vec::new();
        #[cfg(feature = "prune")]
        {
            if let Some(ratio) = cli.prune_channels {
                let norm = if cli.prune_norm == "l2" { opt_prune::Norm::L2 } else { opt_prune::Norm::L1 };
                let options = opt_prune::ChannelOptions { ratio: fraction("--prune-channels", ratio)?, norm };
                front.push(Box::new(opt_prune::ChannelPrune { options }));
            }
            if let Some(s) = cli.prune_magnitude {
                let scope = if cli.prune_scope == "layer" { opt_prune::Scope::Layer } else { opt_prune::Scope::Global };
                let options = opt_prune::MagnitudeOptions {
                    sparsity: fraction("--prune-magnitude", s)?,
                    scope,
                    sparse_storage: cli.prune_sparse,
                };
                front.push(Box::new(opt_prune::MagnitudePrune { options }));
            }
        }
        #[cfg(not(feature = "prune"))]
        if cli.prune_channels.is_some() || cli.prune_magnitude.is_some() {
            usage!("this build has no pruning (enable the 'prune' feature)");
        }
        let any = !front.is_empty() || !opts.passes.is_empty();
        #[cfg(feature = "simplify")]
        if cli.simplify || (any && !cli.no_simplify) {
            front.insert(0, Box::new(opt_simplify::Simplify::default()));
        }
        #[cfg(not(feature = "simplify"))]
        if cli.simplify && !any {
            usage!("this build has no simplification (enable the 'simplify' feature)");
        }
        opts.passes.splice(0..0, front);
    }
    if !opts.passes.is_empty() && !cli.no_pass_check {
        opts.pass_check = Some(with_limits(&cli.check, &cli.limits).input_options()?);
    }
    Ok(opts)
}

/// Where the human-readable lines go: stdout, or stderr under `--json`
/// (stdout then holds only the JSON document).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    /// `--json` was given.
    pub json: bool,
}

impl Out {
    /// Prints one line.
    pub fn line(self, args: std::fmt::Arguments<'_>) {
        if self.json {
            eprintln!("{args}");
        } else {
            println!("{args}");
        }
    }
}

/// Prints a line through an [`Out`], like `println!`.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Which command `cli` runs, for its report.
fn command_kind(cli: &Cli) -> CommandKind {
    match cli.command {
        Some(Command::Inspect { .. }) => CommandKind::Inspect,
        Some(Command::Verify { .. }) => CommandKind::Verify,
        Some(Command::Run { .. }) => CommandKind::Run,
        None => CommandKind::Convert,
    }
}

/// Reads a model for a command, timing it into `seconds`.
fn load_timed(
    registry: &Registry,
    path: &std::path::Path,
    from: Option<&str>,
    cli: &Cli,
    seconds: &mut Option<f64>,
) -> Result<(ir::Model, &'static str)> {
    let t = Instant::now();
    let r = crate::load(registry, path, from, &cli.limits.import_options())
        .with_context(|| format!("cannot read {}", path.display()))?;
    *seconds = Some(seconds.unwrap_or(0.0) + t.elapsed().as_secs_f64());
    Ok(r)
}

/// Runs the command, filling `report` as it goes (what it holds when an
/// error returns is what the report of the failure shows).
fn run(cli: &Cli, report: &mut Report) -> Result<()> {
    let registry = crate::registry();
    let out = Out { json: cli.json };
    if cli.list_formats {
        list_formats(&registry);
        return Ok(());
    }
    match &cli.command {
        Some(Command::Inspect { model, from, values, svg, dot }) => {
            let (m, fmt) = load_timed(&registry, model, from.as_deref(), cli, &mut report.timings.import)?;
            let opts = crate::draw::DrawOptions::default();
            if let Some(path) = svg {
                write_text(path, &crate::draw::graph_svg(&m, &opts))?;
            }
            if let Some(path) = dot {
                write_text(path, &crate::draw::graph_dot(&m, &opts))?;
            }
            let mut info = ModelInfo::of(&m, model, fmt);
            if *values {
                info = info.with_values(&m);
            }
            // The JSON holds every fact of the text, so --json prints no text.
            if !cli.json {
                print!("{}", inspect::report(&info));
                #[cfg(feature = "tf")]
                if fmt == "tf" {
                    print!(
                        "{}",
                        inspect::signatures(model).with_context(|| format!("cannot read {}", model.display()))?
                    );
                }
            }
            report.input = Some(info);
            return Ok(());
        }
        Some(Command::Verify { reference, candidate, svg, check }) => {
            let (a, fa) = load_timed(&registry, reference, None, cli, &mut report.timings.import)?;
            report.input = Some(ModelInfo::of(&a, reference, fa));
            let (b, fb) = load_timed(&registry, candidate, None, cli, &mut report.timings.import)?;
            report.output = Some(ModelInfo::of(&b, candidate, fb));
            let t = Instant::now();
            let r = check::verify(
                &a,
                &b,
                &with_limits(check, &cli.limits),
                cli.quiet,
                out,
                &mut report.verification,
                svg.as_deref(),
            );
            report.timings.verify = Some(t.elapsed().as_secs_f64());
            return r;
        }
        Some(Command::Run { model, from, output_dir, check, repeat }) => {
            let (m, fmt) = load_timed(&registry, model, from.as_deref(), cli, &mut report.timings.import)?;
            report.input = Some(ModelInfo::of(&m, model, fmt));
            let t = Instant::now();
            let r = check::run(&m, output_dir, &with_limits(check, &cli.limits), *repeat, cli.quiet, out);
            report.timings.run = Some(t.elapsed().as_secs_f64());
            report.run = Some(r?);
            return Ok(());
        }
        None => {}
    }
    let (Some(input), Some(output)) = (&cli.input, &cli.output) else {
        usage!(
            "usage: convert INPUT OUTPUT [--from FMT] [--to FMT]  (or: convert inspect MODEL, convert --list-formats)"
        );
    };
    let s = Conversion::of(cli, input, output, &registry)?.run(&registry, report)?;
    for p in &s.passes {
        for line in &p.lines {
            eprintln!("{}: {line}", p.pass);
        }
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !s.pass_check.is_empty() && !cli.quiet {
        say!(out, "effect of the passes on the outputs (model before vs after, same inputs):");
        check::print_checks(&s.pass_check, out);
    }
    if cli.verify {
        // The reference is the model as exported (after any passes): --verify
        // checks the conversion; the passes' own cost is reported above.
        let t = Instant::now();
        let r = crate::load(&registry, output, Some(s.to), &cli.limits.import_options())
            .with_context(|| format!("cannot re-read {}", output.display()))
            .and_then(|(written, _)| {
                let check = with_limits(&cli.check, &cli.limits);
                check::verify(&s.model, &written, &check, cli.quiet, out, &mut report.verification, None)
            });
        report.timings.verify = Some(t.elapsed().as_secs_f64());
        r?;
    }
    if !cli.quiet {
        let ModelStats { nodes, parameters, .. } = s.stats;
        eprintln!(
            "{} ({}) -> {} ({}): {nodes} nodes, {parameters} parameters, {} written to {} file(s) in {:.2} s",
            input.display(),
            s.from,
            output.display(),
            s.to,
            human_bytes(s.bytes_written),
            s.files.len(),
            s.seconds
        );
    }
    Ok(())
}

// ---- quantization options (crates/opt-quant), built into a typed `quantize` pass ----

/// Quantization flags; each sets a field of the `quantize` pass's `Config`.
#[cfg(feature = "quant")]
#[derive(Debug, Clone, clap::Args)]
struct QuantArgs {
    /// Quantize: int8 (weight-only), int8-dynamic, int8-static (needs --calibration), int4, fp16, bf16.
    #[arg(long, value_name = "METHOD")]
    quantize: Option<String>,
    /// int4: weights per scale along the reduction axis (32, 64, 128, ...).
    #[arg(long, value_name = "N", requires = "quantize")]
    group_size: Option<usize>,
    /// Asymmetric weights (uint8/uint4 with zero points) instead of symmetric.
    #[arg(long, requires = "quantize")]
    asymmetric: bool,
    /// One scale per weight tensor instead of per output channel (the default of int8-dynamic).
    #[arg(long, requires = "quantize", conflicts_with = "per_channel")]
    per_tensor: bool,
    /// One scale per output channel (the default except for int8-dynamic).
    #[arg(long, requires = "quantize")]
    per_channel: bool,
    /// fp16/bf16: run the graph in half precision too, not only store the weights.
    #[arg(long, requires = "quantize")]
    quantize_activations: bool,
    /// Calibration samples (.npz keyed by input name, or .npy for one-input models): int8-static, --weight-method gptq, mixed precision.
    #[arg(long, value_name = "DIR", requires = "quantize")]
    calibration: Option<PathBuf>,
    /// int8-static: range selection: minmax, percentile or entropy.
    #[arg(long, value_name = "METHOD", requires = "quantize")]
    calibrate: Option<String>,
    /// int8-static with --calibrate percentile: the percentile kept (default 99.999).
    #[arg(long, value_name = "P", requires = "quantize")]
    percentile: Option<f64>,
    /// Use at most N calibration samples.
    #[arg(long, value_name = "N", requires = "quantize")]
    calibration_samples: Option<usize>,
    /// If the output format cannot hold quantized weights, store the dequantized weights as floats.
    #[arg(long, requires = "quantize")]
    allow_dequantize: bool,
    /// int8/int4: scale type, f16 (default; half the scale bytes, opset 19) or f32.
    #[arg(long, value_name = "TYPE", requires = "quantize")]
    scales: Option<String>,
    /// int8/int4: how the integers are chosen: rtn (round to nearest with a per-group MSE clip search; no data),
    /// awq (activation-aware channel scaling, then rtn), gptq (error compensation) or awq+gptq; all but rtn
    /// read --calibration data.
    #[arg(long, value_name = "METHOD", requires = "quantize")]
    weight_method: Option<String>,
    /// int8/int4: map each group's min/max onto the range instead of searching the clip ratio of least error.
    #[arg(long, requires = "quantize")]
    no_clip: bool,
    /// GPTQ: quantize input channels in order of decreasing activation energy.
    #[arg(long, requires = "quantize")]
    act_order: bool,
    /// int8/int4: precision of embedding tables (Gather data, tied LM heads included): int8, int4 or none
    /// (default: the method's own).
    #[arg(long, value_name = "PRECISION", requires = "quantize")]
    quantize_embeddings: Option<String>,
    /// int4 mixed precision: share (0..1] of the weights' parameters in 4 bits; the most sensitive rest
    /// goes to --backup-precision.
    #[arg(long, value_name = "R", requires = "quantize")]
    ratio: Option<f64>,
    /// int4 mixed precision: the most weight bytes wanted; weights go to --backup-precision, most
    /// sensitive per byte first, while the model fits.
    #[arg(long, value_name = "BYTES", requires = "quantize")]
    target_size: Option<u64>,
    /// int4 mixed precision: the least output SQNR (dB) on the --calibration samples; the fewest
    /// weights go to --backup-precision, most sensitive first, that reach it.
    #[arg(long, value_name = "DB", requires = "quantize")]
    min_sqnr: Option<f64>,
    /// int4 mixed precision: the precision of weights kept out of 4 bits: int8 (default) or none.
    #[arg(long, value_name = "PRECISION", requires = "quantize")]
    backup_precision: Option<String>,
}

#[cfg(feature = "quant")]
impl QuantArgs {
    /// The `quantize` pass's options, or `None` without --quantize;
    /// `dequantize` asks for float weights (the --allow-dequantize retry).
    fn config(&self, dequantize: bool) -> Result<Option<opt_quant::Config>> {
        let Some(method) = &self.quantize else { return Ok(None) };
        let mut c = opt_quant::Config::new(opt_quant::Config::method_named(method).context("--quantize")?);
        if let Some(n) = self.group_size {
            c.group_size = n;
        }
        c.asymmetric |= self.asymmetric;
        if self.per_tensor {
            c.per_tensor = true;
        }
        if self.per_channel {
            c.per_tensor = false;
        }
        c.activations |= self.quantize_activations;
        c.dequantize |= dequantize;
        if let Some(t) = &self.scales {
            c.half_scales = match t.as_str() {
                "f16" => true,
                "f32" => false,
                o => usage!("--scales must be f16 or f32, got '{o}'"),
            };
        }
        if let Some(m) = &self.calibrate {
            c.calibrate = m.parse().context("--calibrate")?;
        }
        if let Some(p) = self.percentile {
            c.calibrate = opt_quant::Calibrate::Percentile(p);
        }
        c.samples = self.calibration_samples;
        c.calibration = self.calibration.clone();
        if let Some(m) = &self.weight_method {
            c.weight_method = m.parse().context("--weight-method")?;
        }
        c.clip &= !self.no_clip;
        c.act_order |= self.act_order;
        if let Some(p) = &self.quantize_embeddings {
            c.embeddings = Some(p.parse().context("--quantize-embeddings")?);
        }
        if let Some(p) = &self.backup_precision {
            c.backup = p.parse().context("--backup-precision")?;
        }
        c.ratio = self.ratio;
        c.target_size = self.target_size;
        c.min_sqnr = self.min_sqnr;
        c.validate().context("--quantize")?;
        Ok(Some(c))
    }

    /// The pass --allow-dequantize retries with: the same quantization,
    /// storing the dequantized weights as floats.
    fn dequantize_fallback(&self) -> Result<Option<Box<dyn ir::Pass>>> {
        if !self.allow_dequantize {
            return Ok(None);
        }
        let config = self.config(true)?.context("--allow-dequantize needs --quantize")?;
        Ok(Some(Box::new(opt_quant::QuantizePass::new(config))))
    }
}

// ---- end of quantization options ----

/// The `--allow-dequantize` retry pass, if asked for.
fn dequantize_fallback(cli: &Cli) -> Result<Option<Box<dyn ir::Pass>>> {
    #[cfg(feature = "quant")]
    return cli.quant.dequantize_fallback();
    #[cfg(not(feature = "quant"))]
    {
        let _ = cli;
        Ok(None)
    }
}

/// Converts; with a `fallback` (`--allow-dequantize`), a target that cannot
/// write the quantized ops gets the dequantized weights instead: the last
/// pass (the quantization) is replaced by `fallback` and the conversion
/// runs once more. The CLI and the Python package both convert through here.
fn convert_with_fallback(
    registry: &Registry,
    input: &std::path::Path,
    output: &std::path::Path,
    opts: &mut ConvertOptions,
    fallback: Option<Box<dyn ir::Pass>>,
    report: &mut Report,
) -> Result<crate::ConvertSummary> {
    const QUANTIZED_OPS: [&str; 5] =
        ["DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"];
    match (crate::convert_reporting(registry, input, output, opts, report), fallback) {
        (Err(e), Some(fallback)) if e.unsupported_op_names().iter().any(|op| QUANTIZED_OPS.contains(op)) => {
            eprintln!("note: the output format cannot hold the quantized form ({e}); storing dequantized weights");
            opts.passes.pop();
            opts.passes.push(fallback);
            Ok(crate::convert_reporting(registry, input, output, opts, report)?)
        }
        (r, _) => Ok(r?),
    }
}

/// Runs the `convert` command line on `args` (the program name first, as
/// in `std::env::args_os()`) and returns the process exit code: 0, or the
/// [`FailureKind`]'s code (see `docs/cli.md`). Help and version print and
/// return 0; argument errors print clap's message and return 2. With
/// `--json` the report ([`Report`]) is printed on stdout, on failure too;
/// with `--report FILE` it is also written to FILE. Never exits the process,
/// and a panic inside is caught, reported in one line and returns 6, so a
/// host (the Python package) survives it.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let start = Instant::now();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout, errors to stderr.
            let _ = e.print();
            if !e.use_stderr() {
                return 0;
            }
            // clap could not say whether --json was given; the raw arguments can.
            if args.iter().skip(1).any(|a| a == "--json") {
                let mut report = Report::new(guess_command(&args));
                let kind = FailureKind::Usage;
                // clap's first line, without its `error: ` prefix.
                let rendered = e.render().to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
                report.fail(ErrorInfo { kind, message, exit_code: kind.exit_code(), unsupported_ops: Vec::new() });
                report.timings.total = start.elapsed().as_secs_f64();
                print!("{}", report.to_json());
            }
            return FailureKind::Usage.exit_code();
        }
    };
    init_logging(cli.verbose);
    install_panic_hook();
    let mut report = Report::new(command_kind(&cli));
    IN_COMMAND.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&cli, &mut report)));
    IN_COMMAND.with(|c| c.set(false));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            report.fail(ErrorInfo::of(&e));
        }
        // The hook has printed the one line already.
        Err(_) => {
            let message = LAST_PANIC.with(|m| m.take());
            report.fail(ErrorInfo::internal(format!("internal error (please report): {message}")));
        }
    }
    report.timings.total = start.elapsed().as_secs_f64();
    if let Some(path) = &cli.report
        && let Err(e) = write_report(&report, path)
    {
        eprintln!("error: cannot write the report: {e}");
        if report.ok {
            report.fail(ErrorInfo::of(&anyhow::Error::new(e).context("cannot write the report")));
        }
    }
    if cli.json {
        print!("{}", report.to_json());
    }
    report.exit_code()
}

/// Writes the report as JSON to `path`, atomically (a reader never sees
/// half a document, and a failed write leaves an older report whole).
fn write_report(report: &Report, path: &std::path::Path) -> ir::Result<u64> {
    write_text(path, &report.to_json())
}

/// Writes a small text file (a report, a drawing) atomically.
pub(crate) fn write_text(path: &std::path::Path, text: &str) -> ir::Result<u64> {
    use std::io::Write;
    let mut f = ir::io::AtomicFile::create(path)?;
    f.write_all(text.as_bytes()).map_err(|e| ir::Error::io(path, e))?;
    f.commit()
}

/// The command named in raw arguments that clap refused (for the report
/// of a usage error).
fn guess_command(args: &[OsString]) -> CommandKind {
    match args.get(1).and_then(|a| a.to_str()) {
        Some("inspect") => CommandKind::Inspect,
        Some("verify") => CommandKind::Verify,
        Some("run") => CommandKind::Run,
        _ => CommandKind::Convert,
    }
}

thread_local! {
    /// Whether this thread is inside [`main`]'s command: its panics are
    /// reported in one line, any other thread's go to the previous hook.
    static IN_COMMAND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The message of this thread's last panic in a command, for the report.
    static LAST_PANIC: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// A panic is a bug; still, users get one line rather than a backtrace
/// dump. Installed once per process, however often [`main`] runs, and only
/// for panics of a command: a host's own panics (Python's, a test
/// harness's) reach the hook that was there before.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_COMMAND.with(std::cell::Cell::get) {
                return previous(info);
            }
            let message = info.to_string().replace('\n', " ");
            eprintln!("error: internal error (please report): {message}");
            LAST_PANIC.with(|m| m.set(message));
        }));
    });
}

// ---- the command line as a library, for hosts that run the conversion themselves ----

/// A conversion as the command line describes it: paths, the options with
/// every pass built exactly as `convert INPUT OUTPUT ...` builds them, and
/// the `--verify` settings. The Python package maps its keyword arguments
/// onto flags and reads them through [`conversion`], so both share one
/// option parser and one pass construction.
pub struct Conversion {
    /// The input model.
    pub input: PathBuf,
    /// The output model.
    pub output: PathBuf,
    /// Import, passes, export; the progress handles are the terminal bar's
    /// (drawn only when stderr is a terminal and `--quiet` is not given).
    pub options: ConvertOptions,
    /// `--verify`: re-read the output and compare it with the converted model.
    pub verify: bool,
    /// How the verification makes its inputs (`--inputs`, `--seed`, ...).
    pub check: InputOptions,
    /// Largest relative L2 error accepted per output (`--tolerance`).
    pub tolerance: f64,
    /// Import options for re-reading the output (the `--max-*` limits).
    pub reread: ir::ImportOptions,
    /// `--allow-dequantize`: the quantization pass storing float weights,
    /// run instead when the target cannot write the quantized ops.
    fallback: Option<Box<dyn ir::Pass>>,
}

impl std::fmt::Debug for Conversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversion")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("options", &self.options)
            .field("verify", &self.verify)
            .field("tolerance", &self.tolerance)
            .field("dequantize_fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

impl Conversion {
    /// The conversion `cli` describes, from `input` to `output`: the one
    /// place where flags become options and passes, for the command line
    /// and for [`conversion`]. Errors are usage errors (exit code 2).
    fn of(cli: &Cli, input: &std::path::Path, output: &std::path::Path, registry: &Registry) -> Result<Conversion> {
        Ok(Conversion {
            input: input.to_path_buf(),
            output: output.to_path_buf(),
            options: options(cli, registry).map_err(as_usage)?,
            verify: cli.verify,
            check: with_limits(&cli.check, &cli.limits).input_options().map_err(as_usage)?,
            tolerance: cli.check.tolerance,
            reread: cli.limits.import_options(),
            fallback: dequantize_fallback(cli).map_err(as_usage)?,
        })
    }

    /// Converts as the command line does (the `--allow-dequantize` retry
    /// included), filling `report` stage by stage; the error carries the
    /// command line's context, so its message is the line the CLI prints.
    /// `--verify` is the caller's: see [`Conversion::verify`].
    pub fn run(&mut self, registry: &Registry, report: &mut Report) -> Result<crate::ConvertSummary> {
        convert_with_fallback(registry, &self.input, &self.output, &mut self.options, self.fallback.take(), report)
            .with_context(|| format!("cannot convert {} to {}", self.input.display(), self.output.display()))
    }
}

/// Parses `args` (program name first, as for [`main`]) as a conversion
/// `INPUT OUTPUT [flags]`; every error is a [`UsageError`] (exit code 2)
/// holding the one line the command line would print, except I/O errors.
pub fn conversion<I, T>(args: I) -> Result<Conversion>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        anyhow::Error::new(UsageError(first.strip_prefix("error: ").unwrap_or(first).to_string()))
    })?;
    let (Some(input), Some(output)) = (cli.input.clone(), cli.output.clone()) else {
        usage!("a conversion needs an input and an output");
    };
    Conversion::of(&cli, &input, &output, &crate::registry())
}

/// The long flags a conversion accepts (without `--`), for hosts that map
/// keyword arguments onto them and must reject unknown ones.
pub fn conversion_flags() -> Vec<String> {
    use clap::CommandFactory;
    Cli::command().get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect()
}
