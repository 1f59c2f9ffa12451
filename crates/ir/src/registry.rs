//! The registry of formats and passes a program was built with.

use std::fmt;
use std::path::Path;

use crate::{Detection, Error, Exporter, Importer, Pass, Result};

/// Static facts about a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatInfo {
    /// The name used with `--from`/`--to` (`onnx`, `openvino`, `tf`, ...).
    pub name: &'static str,
    /// One line for `--list-formats`.
    pub description: &'static str,
    /// File extensions without the dot (`onnx`); empty for folder formats.
    pub extensions: &'static [&'static str],
}

/// Builds a pass from its command-line argument (e.g. `0.3` for `--prune-channels 0.3`).
pub type PassFactory = fn(arg: &str) -> Result<Box<dyn Pass>>;

/// A registered pass.
#[derive(Debug, Clone, Copy)]
pub struct PassInfo {
    /// Name, as on the command line.
    pub name: &'static str,
    /// One line of help.
    pub description: &'static str,
    /// Builds the pass.
    pub factory: PassFactory,
}

/// Importers, exporters and passes available to a program.
///
/// Each format crate exposes `register(&mut Registry)`; the `convert` crate
/// calls those of the crates enabled by cargo features.
#[derive(Default)]
pub struct Registry {
    importers: Vec<Box<dyn Importer>>,
    exporters: Vec<Box<dyn Exporter>>,
    passes: Vec<PassInfo>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("importers", &self.importers.iter().map(|i| i.info().name).collect::<Vec<_>>())
            .field("exporters", &self.exporters.iter().map(|e| e.info().name).collect::<Vec<_>>())
            .field("passes", &self.passes.iter().map(|p| p.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an importer.
    pub fn add_importer(&mut self, importer: impl Importer + 'static) {
        self.importers.push(Box::new(importer));
    }

    /// Adds an exporter.
    pub fn add_exporter(&mut self, exporter: impl Exporter + 'static) {
        self.exporters.push(Box::new(exporter));
    }

    /// Registers an evaluator kernel for an op a format keeps in its origin
    /// domain (see [`crate::kernel`]), so `--verify` and `convert run` work on
    /// models imported with `--keep-unknown-ops`.
    pub fn add_kernel(&mut self, domain: &str, op: &str, kernel: crate::kernel::Kernel) {
        crate::kernel::register(domain, op, kernel);
    }

    /// Adds a pass.
    pub fn add_pass(&mut self, pass: PassInfo) {
        self.passes.push(pass);
    }

    /// All importers, in registration order.
    pub fn importers(&self) -> impl Iterator<Item = &dyn Importer> {
        self.importers.iter().map(AsRef::as_ref)
    }

    /// All exporters, in registration order.
    pub fn exporters(&self) -> impl Iterator<Item = &dyn Exporter> {
        self.exporters.iter().map(AsRef::as_ref)
    }

    /// All passes, in registration order.
    pub fn passes(&self) -> &[PassInfo] {
        &self.passes
    }

    fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
        let v: Vec<&str> = it.collect();
        if v.is_empty() { "none (build with format features enabled)".into() } else { v.join(", ") }
    }

    /// The importer named `name`.
    pub fn importer(&self, name: &str) -> Result<&dyn Importer> {
        self.importers().find(|i| i.info().name == name).ok_or_else(|| {
            Error::UnknownFormat(format!(
                "no importer for format '{name}' (available: {})",
                Self::names(self.importers().map(|i| i.info().name))
            ))
        })
    }

    /// The exporter named `name`.
    pub fn exporter(&self, name: &str) -> Result<&dyn Exporter> {
        self.exporters().find(|e| e.info().name == name).ok_or_else(|| {
            Error::UnknownFormat(format!(
                "no exporter for format '{name}' (available: {})",
                Self::names(self.exporters().map(|e| e.info().name))
            ))
        })
    }

    /// The importer most confident it can read `path` (content beats name;
    /// ties go to the first registered).
    pub fn detect_importer(&self, path: &Path) -> Result<&dyn Importer> {
        let mut best: Option<(&dyn Importer, Detection)> = None;
        for imp in self.importers() {
            let d = imp.detect(path);
            if d > Detection::No && best.is_none_or(|(_, b)| d > b) {
                best = Some((imp, d));
            }
        }
        best.map(|b| b.0).ok_or_else(|| {
            Error::UnknownFormat(format!(
                "{}: cannot tell the model format from its name or content; pass --from (one of: {})",
                path.display(),
                Self::names(self.importers().map(|i| i.info().name))
            ))
        })
    }

    /// The exporter whose extensions match `path`.
    pub fn exporter_for_path(&self, path: &Path) -> Result<&dyn Exporter> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let found = ext.as_deref().and_then(|ext| self.exporters().find(|e| e.info().extensions.contains(&ext)));
        found.ok_or_else(|| {
            Error::UnknownFormat(format!(
                "{}: cannot tell the output format from the file name; pass --to (one of: {})",
                path.display(),
                Self::names(self.exporters().map(|e| e.info().name))
            ))
        })
    }

    /// Builds the pass named `name` with `arg`.
    pub fn pass(&self, name: &str, arg: &str) -> Result<Box<dyn Pass>> {
        let p = self.passes.iter().find(|p| p.name == name).ok_or_else(|| {
            Error::invalid(format!(
                "no pass named '{name}' (available: {})",
                Self::names(self.passes.iter().map(|p| p.name))
            ))
        })?;
        (p.factory)(arg)
    }
}
