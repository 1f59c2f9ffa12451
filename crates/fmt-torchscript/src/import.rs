//! The `torchscript` importer: a `torch.jit.save` archive into the IR.

use std::io::Read;
use std::path::Path;

use ir::{Detection, FormatInfo, ImportOptions, Limits, Model, Result};

use crate::module::ScriptArchive;

const INFO: FormatInfo = FormatInfo {
    name: "torchscript",
    description: "TorchScript archive (torch.jit.save), read without libtorch",
    extensions: &["pt", "pth", "ptl"],
};

/// Reads TorchScript archives.
#[derive(Debug, Default)]
pub struct TorchScriptImporter;

/// Whether the first bytes and the central directory make `path` a
/// TorchScript archive (a zip with `data.pkl` and `code/` under one folder).
fn is_torchscript(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let ok = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok();
    if !ok || &head != b"PK\x03\x04" {
        return false;
    }
    // Detection reads only the central directory: the limits are applied by
    // the import, whose error names them, not by a silent "unknown format".
    let unlimited = Limits { max_depth: usize::MAX, max_inflated_bytes: u64::MAX, max_tensors: usize::MAX };
    crate::archive::Archive::open(path, &unlimited)
        .is_ok_and(|a| a.contains("data.pkl") && a.names().iter().any(|n| n.starts_with("code/")))
}

impl ir::Importer for TorchScriptImporter {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn detect(&self, path: &Path) -> Detection {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !INFO.extensions.contains(&ext) {
            return Detection::No;
        }
        if is_torchscript(path) { Detection::Content } else { Detection::No }
    }

    fn option_names(&self) -> &'static [&'static str] {
        crate::lower::OPTION_NAMES
    }

    fn import(&self, path: &Path, options: &ImportOptions) -> Result<Model> {
        let archive = ScriptArchive::open_with(path, &options.limits)?;
        crate::lower::lower(&archive, options)
    }
}
