//! Hostile and broken archives: each is a one-line error naming the file
//! and the problem, and nothing in them is executed.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use ir::{ImportOptions, Importer};
use zip::write::SimpleFileOptions;

fn cnn() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torchscript/cnn_traced/model.pt")
}

/// The entries of an archive, names relative to its top folder.
fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let name = f.name().unwrap().split_once('/').unwrap().1.to_string();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (name, b)
        })
        .collect()
}

/// Writes `entries` under `top/` (deflated or stored) to a temporary file.
fn write(dir: &tempfile::TempDir, top: &str, entries: &[(String, Vec<u8>)], deflate: bool) -> PathBuf {
    let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let full = if top.is_empty() { name.clone() } else { format!("{top}/{name}") };
        w.start_file(full, SimpleFileOptions::default().compression_method(method)).unwrap();
        w.write_all(bytes).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let path = dir.path().join("model.pt");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn import_err(path: &Path, options: &ImportOptions) -> String {
    let e = fmt_torchscript::TorchScriptImporter.import(path, options).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(e.starts_with(&path.display().to_string()), "names the file: {e}");
    e
}

fn with(replace: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    entries(&cnn()).into_iter().map(|(n, b)| if n == replace { (n, bytes.to_vec()) } else { (n, b) }).collect()
}

#[test]
fn a_recompressed_archive_under_another_folder_still_imports() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "renamed", &entries(&cnn()), true);
    let m = fmt_torchscript::TorchScriptImporter.import(&path, &ImportOptions::default()).unwrap();
    let reference = fmt_torchscript::TorchScriptImporter.import(&cnn(), &ImportOptions::default()).unwrap();
    assert_eq!(m.graph.nodes.len(), reference.graph.nodes.len());
    assert_eq!(m.graph.initializers, reference.graph.initializers, "inflated storages hold the same weights");
}

#[test]
fn hostile_global_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // What a malicious pickle does: os.system('touch pwned').
    let evil = b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00touch pwnedq\x00\x85R.";
    let path = write(&dir, "model", &with("data.pkl", evil), false);
    let e = import_err(&path, &ImportOptions::default());
    assert!(e.contains("data.pkl: global 'os.system' is not allowed"), "{e}");
    assert!(!dir.path().join("pwned").exists() && !Path::new("pwned").exists());
    let eval = b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.";
    let path = write(&dir, "model", &with("data.pkl", eval), false);
    assert!(import_err(&path, &ImportOptions::default()).contains("'builtins.eval'"));
}

#[test]
fn dotdot_and_absolute_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = entries(&cnn());
    e.push(("../../evil.py".into(), b"x".to_vec()));
    let path = write(&dir, "model", &e, false);
    let msg = import_err(&path, &ImportOptions::default());
    assert!(msg.contains("zip entry 'model/../../evil.py' contains '..'"), "{msg}");
    let path = write(&dir, "", &[("/etc/passwd".into(), b"x".to_vec())], false);
    assert!(import_err(&path, &ImportOptions::default()).contains("absolute"));
    let path = write(&dir, "", &[("model\\data.pkl".into(), b"x".to_vec())], false);
    assert!(import_err(&path, &ImportOptions::default()).contains("backslash"));
}

#[test]
fn storage_shorter_than_its_tensor() {
    let dir = tempfile::tempdir().unwrap();
    // data/0 is the stem convolution's weight (216 floats).
    let path = write(&dir, "model", &with("data/0", &[0u8; 40]), false);
    let e = import_err(&path, &ImportOptions::default());
    assert!(e.contains("storage '0'") && e.contains("shorter"), "{e}");
}

#[test]
fn zip_bomb_is_refused_before_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = entries(&cnn());
    e.push(("extra/bomb".into(), vec![0u8; 4096]));
    let path = write(&dir, "model", &e, true);
    // Declare 4 GB - 16 inflated bytes in the local and central headers.
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"model/extra/bomb";
    let mut patched = 0;
    for (sig, size_at, name_at) in [(b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)] {
        let mut i = 0;
        while let Some(p) = bytes[i..].windows(4).position(|w| w == sig) {
            let at = i + p;
            if bytes.get(at + name_at..at + name_at + name.len()) == Some(name) {
                bytes[at + size_at..at + size_at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
                patched += 1;
            }
            i = at + 4;
        }
    }
    assert_eq!(patched, 2);
    std::fs::write(&path, bytes).unwrap();
    let msg = import_err(&path, &ImportOptions::default());
    assert!(msg.contains("zip bomb"), "{msg}");
}

#[test]
fn truncated_archive() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(cnn()).unwrap();
    let path = dir.path().join("model.pt");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = import_err(&path, &ImportOptions::default());
    assert!(e.contains("not a zip archive"), "{e}");
}

#[test]
fn garbage_code_has_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let code = b"class TinyResNet(Module):\n  __parameters__ = []\n  def forward(self: __torch__.TinyResNet,\n    x: Tensor) -> Tensor:\n    return torch.relu(x) $ 2\n";
    let path = write(&dir, "model", &with("code/__torch__.py", code), false);
    let e = import_err(&path, &ImportOptions::default());
    assert!(e.contains("code/__torch__.py:5:26: unexpected character '$'"), "{e}");
}

#[test]
fn unsupported_ops_are_listed_at_once_or_kept() {
    let dir = tempfile::tempdir().unwrap();
    let code = b"class TinyResNet(Module):\n  __parameters__ = []\n  def forward(self: __torch__.TinyResNet,\n    x: Tensor) -> Tensor:\n    y = torch.frobnicate(x, 2)\n    z = torch.relu(torch.wibble(y))\n    return torch.frobnicate(z, 3)\n";
    let path = write(&dir, "model", &with("code/__torch__.py", code), false);
    let opts = ImportOptions {
        format_options: [("input-shape".to_string(), "x=1,3,16,16".to_string())].into(),
        ..Default::default()
    };
    let e = fmt_torchscript::TorchScriptImporter.import(&path, &opts).unwrap_err();
    assert_eq!(e.unsupported_op_names(), ["frobnicate", "wibble"]);
    assert!(e.to_string().contains("torch::frobnicate (node 'code/__torch__.py:5:9' and 1 more)"), "{e}");
    let keep = ImportOptions { keep_unknown_ops: true, ..opts };
    let m = fmt_torchscript::TorchScriptImporter.import(&path, &keep).unwrap();
    let kept: Vec<(&str, &str)> =
        m.graph.nodes.iter().filter(|n| n.domain == "torch").map(|n| (n.op.as_str(), n.domain.as_str())).collect();
    assert_eq!(kept, [("frobnicate", "torch"), ("wibble", "torch"), ("frobnicate", "torch")]);
    assert!(ir::opset::is_origin_domain("torch"));
}

#[test]
fn a_state_dict_is_not_a_torchscript_model() {
    let sd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torchscript/state_dict/weights.pt");
    let e = fmt_torchscript::TorchScriptImporter.import(&sd, &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("not a module"), "{e}");
    assert_eq!(ir::Importer::detect(&fmt_torchscript::TorchScriptImporter, &sd), ir::Detection::No);
    assert_eq!(ir::Importer::detect(&fmt_torchscript::TorchScriptImporter, &cnn()), ir::Detection::Content);
}
