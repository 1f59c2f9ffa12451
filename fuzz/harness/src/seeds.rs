//! Seed inputs per target, made from the committed fixtures (files written
//! by the real tools) and, where no fixture has the form, from our own
//! exporters run on the fixtures. Nothing here is committed: `cargo xtask
//! fuzz` writes the seeds into the corpus folder before each run.

use std::path::{Path, PathBuf};

use ir::ExportOptions;

use crate::{Kind, Scratch, Target, pack, registry};

/// Seeds larger than this are skipped: libFuzzer's speed falls with input
/// size, and small models reach the same code.
const MAX_SEED: usize = 512 << 10;

fn read(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

/// `root/fixtures/<group>/*/<file>` that exist, sorted.
fn fixture_files(root: &Path, group: &str, file: &str) -> Vec<PathBuf> {
    let dir = root.join("tests/fixtures").join(group);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path().join(file)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The file `name` of every file in `paths` together with its siblings
/// `siblings` (relative to the same folder), packed as named parts.
fn packed(dir: &Path, files: &[&str]) -> Option<Vec<u8>> {
    let bytes: Vec<(&str, Vec<u8>)> = files.iter().map(|f| Some((*f, read(&dir.join(f))?))).collect::<Option<_>>()?;
    let parts: Vec<(&str, &[u8])> = bytes.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    Some(pack(&parts))
}

/// The small ONNX fixtures without external data.
fn onnx_models(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fixture_files(root, "onnx", "model.onnx")
        .into_iter()
        .filter(|p| !p.with_file_name("model.onnx.data").exists())
        .collect();
    v.push(root.join("examples/mlp.onnx"));
    v
}

/// `model` (an ONNX fixture) written by the exporter `format` to a file
/// named `file`; every file written, as (name, bytes).
fn exported(model: &Path, format: &str, file: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let registry = registry();
    let (m, _) = convert::load(registry, model, Some("onnx"), &Default::default()).ok()?;
    let scratch = Scratch::new();
    let exporter = registry.exporter(format).ok()?;
    exporter.check(&m).ok()?;
    let report = exporter.export(&m, &scratch.0.join(file), &ExportOptions::default()).ok()?;
    report
        .files
        .iter()
        .map(|(p, _)| Some((p.strip_prefix(&scratch.0).ok()?.to_string_lossy().into_owned(), read(p)?)))
        .collect()
}

/// The zip entries of the TorchScript fixtures whose names end with `suffix`.
fn archive_entries(root: &Path, suffix: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in fixture_files(root, "torchscript", "model.pt") {
        let Ok(archive) = fmt_torchscript::archive::Archive::open(&p, &ir::Limits::default()) else { continue };
        for name in archive.names() {
            if name.ends_with(suffix)
                && let Ok(b) = archive.read(name)
            {
                out.push(b.to_vec());
            }
        }
    }
    out
}

/// The seeds of `target`, from the fixtures under the workspace `root`.
pub fn seeds(target: &Target, root: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = match target.kind {
        Kind::Model { format: "onnx", .. } => onnx_models(root).iter().filter_map(|p| read(p)).collect(),
        Kind::Model { format: "safetensors", .. } => onnx_models(root)
            .iter()
            .filter_map(|m| exported(m, "safetensors", "model.safetensors"))
            .filter_map(|files| files.into_iter().next().map(|f| f.1))
            .collect(),
        Kind::Model { format: "tf-frozen", .. } => {
            let mut v: Vec<Vec<u8>> = ["keras_cnn_frozen", "keras_dynamic_frozen", "module_mlp_frozen"]
                .iter()
                .filter_map(|d| read(&root.join("tests/fixtures/tf").join(d).join("model.pb")))
                .collect();
            // Our own frozen graphs reach ops the Keras fixtures do not use.
            v.extend(
                onnx_models(root)
                    .iter()
                    .filter_map(|m| exported(m, "tf-frozen", "model.pb"))
                    .filter_map(|files| files.into_iter().next().map(|f| f.1)),
            );
            v
        }
        Kind::Model { format: "torchscript", .. } => {
            fixture_files(root, "torchscript", "model.pt").iter().filter_map(|p| read(p)).collect()
        }
        Kind::Model { .. } => Vec::new(),
        Kind::Folder { format: "onnx", .. } => {
            let mut v: Vec<Vec<u8>> = fixture_files(root, "onnx", "model.onnx.data")
                .iter()
                .filter_map(|p| packed(p.parent()?, &["model.onnx", "model.onnx.data"]))
                .collect();
            v.extend(onnx_models(root).iter().filter_map(|m| {
                let o = ExportOptions { external_data: ir::ExternalData::Always, ..ExportOptions::default() };
                let registry = registry();
                let (model, _) = convert::load(registry, m, Some("onnx"), &Default::default()).ok()?;
                let scratch = Scratch::new();
                let report = registry.exporter("onnx").ok()?.export(&model, &scratch.0.join("model.onnx"), &o).ok()?;
                let files: Vec<(String, Vec<u8>)> = report
                    .files
                    .iter()
                    .map(|(p, _)| Some((p.file_name()?.to_string_lossy().into_owned(), read(p)?)))
                    .collect::<Option<_>>()?;
                let parts: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
                Some(pack(&parts))
            }));
            v
        }
        Kind::Folder { format: "openvino", .. } => fixture_files(root, "openvino", "model.xml")
            .iter()
            .filter_map(|p| packed(p.parent()?, &["model.xml", "model.bin"]))
            .collect(),
        Kind::Folder { format: "tf", .. } => {
            let files = ["saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001"];
            ["keras_cnn", "keras_dynamic", "module_mlp", "tf1_saved"]
                .iter()
                .filter_map(|d| packed(&root.join("tests/fixtures/tf").join(d), &files))
                .collect()
        }
        Kind::Folder { .. } => Vec::new(),
        Kind::SafetensorsIndex => {
            // Two models' weights as two shards of one index.
            let shards: Vec<(Vec<String>, Vec<u8>)> = onnx_models(root)
                .iter()
                .take(4)
                .filter_map(|m| {
                    let (model, _) = convert::load(registry(), m, Some("onnx"), &Default::default()).ok()?;
                    let names = model.graph.initializers.keys().cloned().collect();
                    Some((names, exported(m, "safetensors", "model.safetensors")?.into_iter().next()?.1))
                })
                .collect();
            shards
                .windows(2)
                .map(|pair| {
                    let map: Vec<String> = pair
                        .iter()
                        .enumerate()
                        .flat_map(|(i, (names, _))| {
                            names.iter().map(move |k| format!("\"{k}\": \"model-0000{i}.safetensors\""))
                        })
                        .collect();
                    let index = format!("{{\"metadata\": {{}}, \"weight_map\": {{{}}}}}", map.join(", "));
                    pack(&[
                        ("model.safetensors.index.json", index.as_bytes()),
                        ("model-00000.safetensors", &pair[0].1),
                        ("model-00001.safetensors", &pair[1].1),
                    ])
                })
                .collect()
        }
        Kind::StateDict => ["state_dict", "state_dict_legacy"]
            .iter()
            .filter_map(|d| read(&root.join("tests/fixtures/torchscript").join(d).join("weights.pt")))
            .collect(),
        Kind::Bundle => ["keras_cnn", "keras_dynamic", "module_mlp", "tf1_saved"]
            .iter()
            .filter_map(|d| {
                packed(
                    &root.join("tests/fixtures/tf").join(d),
                    &["variables/variables.index", "variables/variables.data-00000-of-00001"],
                )
            })
            .collect(),
        Kind::Pickle => archive_entries(root, ".pkl"),
        Kind::TorchSource => archive_entries(root, ".py"),
        Kind::TensorFile { ext: "npy" } => ["onnx", "tf", "torchscript"]
            .iter()
            .flat_map(|g| fixture_files(root, g, "input_0.npy"))
            .filter_map(|p| read(&p))
            .collect(),
        Kind::TensorFile { ext: "npz" } => {
            fixture_files(root, "tf", "variables.npz").iter().filter_map(|p| read(p)).collect()
        }
        Kind::TensorFile { .. } => {
            // The initializers of the ONNX fixtures as TensorProto images:
            // every dtype and encoding the fixtures hold.
            use prost::Message;
            onnx_models(root)
                .iter()
                .filter_map(|p| fmt_onnx::generated::onnx::ModelProto::decode(read(p)?.as_slice()).ok())
                .filter_map(|m| m.graph)
                .flat_map(|g| g.initializer.into_iter().take(8))
                .map(|t| t.encode_to_vec())
                .collect()
        }
    };
    out.retain(|s| s.len() <= MAX_SEED);
    out
}
