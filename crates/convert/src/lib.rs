//! Library face of the `convert` tool: the registry of the formats and
//! passes enabled by cargo features, and the same load → transform → save
//! pipeline the binary runs.
//!
//! ```no_run
//! let registry = convert::registry();
//! let summary = convert::convert(
//!     &registry,
//!     "model.onnx".as_ref(),
//!     "out.onnx".as_ref(),
//!     &convert::ConvertOptions::default(),
//! )?;
//! println!("{} bytes written", summary.bytes_written);
//! # Ok::<(), ir::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use eval;
pub use ir;

pub mod cli;
pub mod draw;
pub mod report;
pub mod verify;
use ir::{Error, ExportOptions, ImportOptions, Model, ModelStats, Pass, PassReport, Registry, Result};

/// A registry holding every format and pass compiled in (see the crate's features).
pub fn registry() -> Registry {
    #[allow(unused_mut)]
    let mut r = Registry::new();
    #[cfg(feature = "onnx")]
    fmt_onnx::register(&mut r);
    #[cfg(feature = "safetensors")]
    fmt_safetensors::register(&mut r);
    #[cfg(feature = "openvino")]
    fmt_openvino::register(&mut r);
    #[cfg(feature = "tf")]
    fmt_tf::register(&mut r);
    #[cfg(feature = "torchscript")]
    fmt_torchscript::register(&mut r);
    #[cfg(feature = "quant")]
    opt_quant::register(&mut r);
    #[cfg(feature = "simplify")]
    opt_simplify::register(&mut r);
    #[cfg(feature = "prune")]
    opt_prune::register(&mut r);
    r
}

/// Options of [`convert`].
#[derive(Default)]
pub struct ConvertOptions {
    /// Input format name; detected from the path and content when `None`.
    pub from: Option<String>,
    /// Output format name; taken from the output extension when `None`.
    pub to: Option<String>,
    /// Importer options.
    pub import: ImportOptions,
    /// Exporter options.
    pub export: ExportOptions,
    /// Passes to run between import and export, in order.
    pub passes: Vec<Box<dyn Pass>>,
    /// Weights to load into the graph by name before the passes
    /// (`.safetensors` or a sharded `.safetensors.index.json`; with the
    /// `torchscript` feature also a `torch.save`d state_dict, `.pt`/`.pth`/`.bin`).
    #[cfg(feature = "safetensors")]
    pub weights: Option<PathBuf>,
    /// When passes run: also run the model before and after them on inputs
    /// made with these options, and report the output deviation
    /// ([`ConvertSummary::pass_check`]): the accuracy cost of quantization or pruning.
    pub pass_check: Option<verify::InputOptions>,
}

impl std::fmt::Debug for ConvertOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvertOptions")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("import", &self.import)
            .field("export", &self.export)
            .field("passes", &self.passes.iter().map(|p| p.name().to_string()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What [`convert`] did.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    /// Input format name.
    pub from: &'static str,
    /// Output format name.
    pub to: &'static str,
    /// Figures of the written model.
    pub stats: ModelStats,
    /// Files written, main file first, with sizes.
    pub files: Vec<(PathBuf, u64)>,
    /// Total bytes written.
    pub bytes_written: u64,
    /// One report per pass run.
    pub passes: Vec<PassReport>,
    /// Before-versus-after-passes comparison per output (empty unless
    /// [`ConvertOptions::pass_check`] is set and a pass ran).
    pub pass_check: Vec<verify::OutputCheck>,
    /// The model as written (after the passes); weights are shared views, so
    /// holding it costs little. `--verify` compares the re-read output with it.
    pub model: Model,
    /// Wall-clock seconds of the whole conversion.
    pub seconds: f64,
    /// Seconds reading the input (and `weights`).
    pub import_seconds: f64,
    /// Seconds running the passes and the pass check.
    pub pass_seconds: f64,
    /// Seconds checking and writing the output.
    pub export_seconds: f64,
}

/// Reads a model, detecting its format unless `from` names it.
pub fn load(
    registry: &Registry,
    path: &Path,
    from: Option<&str>,
    opts: &ImportOptions,
) -> Result<(Model, &'static str)> {
    if !path.exists() {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory")));
    }
    let importer = match from {
        Some(name) => registry.importer(name)?,
        None => registry.detect_importer(path)?,
    };
    ir::check_format_options(importer.info().name, "-I", &opts.format_options, importer.option_names())?;
    let mut model = importer.import(path, opts).map_err(|e| match e {
        // The one error kind that does not name its file by itself.
        Error::UnsupportedOps { .. } => e.context(path.display().to_string()),
        e => e,
    })?;
    // Every importer promises a valid, ordered graph; checking here makes a
    // third-party importer's bug an error message rather than a bad output.
    model.graph.topo_sort().map_err(|e| e.context(path.display().to_string()))?;
    model.graph.validate().map_err(|e| e.context(path.display().to_string()))?;
    ir::schema::check_graph(&model.graph, model.onnx_opset()).map_err(|e| e.context(path.display().to_string()))?;
    sink_layout_transposes(&mut model).map_err(|e| e.context(path.display().to_string()))?;
    ir::extract::extract(&mut model, &opts.graph_inputs, &opts.graph_outputs)
        .map_err(|e| e.context(format!("{}: --graph-inputs/--graph-outputs", path.display())))?;
    Ok((model, importer.info().name))
}

/// Cancels the layout transposes an NHWC importer (TensorFlow) wrapped
/// around each convolution and pool, as the importer asked through the
/// model's metadata: without it every conv would run between two
/// transposes. Without the `simplify` feature the transposes stay (the
/// model is correct, only slower).
fn sink_layout_transposes(model: &mut Model) -> Result<()> {
    const KEY: &str = "model-convert.sink-transposes";
    if model.metadata.shift_remove(KEY).is_none() {
        return Ok(());
    }
    #[cfg(feature = "simplify")]
    {
        // Constant folding too: Keras writes BatchNorm as arithmetic on its
        // statistics, and a transpose only moves past a constant operand;
        // the per-channel Mul/Add it leaves after each Conv then folds into
        // the Conv (exact up to one rounding per weight).
        let only_layout = opt_simplify::Options {
            fold_constants: true,
            fold_batch_norm: true,
            remove_identity: false,
            merge_reshapes: true,
            cse: false,
            sink_transposes: true,
            ..opt_simplify::Options::default()
        };
        let counts = opt_simplify::simplify(model, &only_layout)?;
        tracing::info!("layout transposes {} -> {}", counts.transposes.0, counts.transposes.1);
    }
    Ok(())
}

/// The tensors of a `--weights` file: a PyTorch state_dict (`torch.save`,
/// zip or legacy format) for `.pt`/`.pth`/`.bin`, else safetensors.
#[cfg(feature = "safetensors")]
fn read_weights(path: &Path, limits: &ir::Limits) -> Result<indexmap::IndexMap<String, ir::Tensor>> {
    #[cfg(feature = "torchscript")]
    if matches!(path.extension().and_then(|e| e.to_str()), Some("pt" | "pth" | "bin")) {
        return fmt_torchscript::read_state_dict_with(path, limits);
    }
    Ok(fmt_safetensors::read_weights_with(path, limits)?.0)
}

/// Converts `input` to `output`: import, run passes, export atomically.
pub fn convert(registry: &Registry, input: &Path, output: &Path, opts: &ConvertOptions) -> Result<ConvertSummary> {
    convert_reporting(registry, input, output, opts, &mut report::Report::new(report::CommandKind::Convert))
}

/// [`convert`], also filling `report` as each stage ends: the input model's
/// facts after import, each pass's report, the pass check, the files and
/// the output model's facts, and the stage timings. On failure the report
/// keeps what the stages before it filled (the caller records the error).
pub fn convert_reporting(
    registry: &Registry,
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
    report: &mut report::Report,
) -> Result<ConvertSummary> {
    let start = Instant::now();
    let exporter = match &opts.to {
        Some(name) => registry.exporter(name)?,
        None => registry.exporter_for_path(output)?,
    };
    ir::check_format_options(exporter.info().name, "-O", &opts.export.format_options, exporter.option_names())?;
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        return Err(Error::usage(format!(
            "{}: output is the input file; write to another path (inputs are never modified)",
            output.display()
        )));
    }
    let (mut model, from) = load(registry, input, opts.from.as_deref(), &opts.import)?;
    report.input = Some(report::ModelInfo::of(&model, input, from));
    report.passes.clear();
    #[cfg(feature = "safetensors")]
    if let Some(w) = &opts.weights {
        let weights = read_weights(w, &opts.import.limits)?;
        let applied = fmt_safetensors::apply_weights(&mut model.graph, weights)
            .map_err(|e| e.context(w.display().to_string()))?;
        report.passes.push(PassReport::new("weights", applied.lines()));
    }
    let import_seconds = start.elapsed().as_secs_f64();
    report.timings.import = Some(import_seconds);
    // Tensors share their bytes, so the copy before the passes is cheap.
    let before = (opts.pass_check.is_some() && !opts.passes.is_empty()).then(|| model.clone());
    for p in &opts.passes {
        let r = p.run(&mut model).map_err(|e| e.context(format!("pass {}", p.name())))?;
        report.passes.push(r);
    }
    let mut pass_check = Vec::new();
    if let (Some(before), Some(inputs)) = (&before, &opts.pass_check) {
        // The check reports; it does not gate. A model the evaluator cannot
        // run (an op it lacks, inputs it cannot make) is still converted,
        // with a warning saying why the passes' effect is not measured.
        match verify::make_inputs(before, inputs)
            .and_then(|feeds| verify::compare_models(before, &model, feeds, f64::INFINITY))
        {
            Ok(checks) => {
                report.pass_check = Some(report::Comparison::of(&checks, None));
                pass_check = checks;
            }
            // Bad --inputs/--input-shape values are the caller's to fix.
            Err(e @ Error::Usage(_)) => return Err(e.context("the pass check's inputs")),
            Err(e) => report.warnings.push(format!("the passes' effect on the outputs was not measured: {e}")),
        }
    }
    let pass_seconds = start.elapsed().as_secs_f64() - import_seconds;
    if !opts.passes.is_empty() {
        report.timings.passes = Some(pass_seconds);
    }
    exporter.check(&model)?;
    let written = exporter.export(&model, output, &opts.export)?;
    let seconds = start.elapsed().as_secs_f64();
    let to = exporter.info().name;
    report.output = Some(report::ModelInfo::of(&model, output, to));
    report.files = written
        .files
        .iter()
        .map(|(path, bytes)| report::FileInfo { path: path.to_string_lossy().into_owned(), bytes: *bytes })
        .collect();
    report.timings.export = Some(seconds - import_seconds - pass_seconds);
    Ok(ConvertSummary {
        from,
        to,
        stats: ModelStats::of(&model),
        bytes_written: written.bytes_written(),
        files: written.files,
        passes: report.passes.clone(),
        pass_check,
        model,
        seconds,
        import_seconds,
        pass_seconds,
        export_seconds: seconds - import_seconds - pass_seconds,
    })
}

#[cfg(all(test, feature = "torchscript", feature = "safetensors", feature = "onnx"))]
mod tests {
    use super::*;

    /// `--weights weights.pt` (a torch.save'd state_dict, zip and legacy
    /// format) fills the ONNX export of the same module by name, and the
    /// result computes what torch computed with those weights.
    #[test]
    fn torch_state_dict_weights_fill_an_onnx_graph() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torchscript");
        let registry = registry();
        let x = ir::tensor_file::read_npy(&dir.join("state_dict/input_0.npy")).unwrap();
        let y = ir::tensor_file::read_npy(&dir.join("state_dict/output_0.npy")).unwrap();
        for file in ["state_dict/weights.pt", "state_dict_legacy/weights.pt"] {
            let (mut model, _) =
                load(&registry, &dir.join("state_dict/model.onnx"), None, &ImportOptions::default()).unwrap();
            let before =
                eval::run(&model, vec![("x".into(), eval::Value::Tensor(eval::from_ir(&x).unwrap()))]).unwrap();
            let weights = read_weights(&dir.join(file), &ir::Limits::default()).unwrap();
            let report = fmt_safetensors::apply_weights(&mut model.graph, weights).unwrap();
            assert_eq!((report.replaced, report.missing.len(), report.unused.len()), (4, 0, 0), "{file}: {report:?}");
            let after = eval::run(&model, vec![("x".into(), eval::Value::Tensor(eval::from_ir(&x).unwrap()))]).unwrap();
            let reference = eval::Value::Tensor(eval::from_ir(&y).unwrap());
            let m = eval::compare::compare_values(&reference, &after[0].1).unwrap();
            assert!(m.rel_l2 <= 1e-6, "{file}: rel L2 {}", m.rel_l2);
            let m = eval::compare::compare_values(&reference, &before[0].1).unwrap();
            assert!(m.rel_l2 > 1e-2, "the graph's own weights differ from the state_dict's");
        }
    }
}
