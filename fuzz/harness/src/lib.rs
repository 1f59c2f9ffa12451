//! What each fuzz target does with its bytes, on stable Rust.
//!
//! The cargo-fuzz binaries in `fuzz/fuzz_targets/` (nightly, coverage
//! instrumented) are one line each: they hand libFuzzer's bytes to [`run`]
//! and its mutations to [`mutate`]. Keeping the work here means
//! `cargo test --workspace` replays every saved crash input
//! (`fuzz/regressions/<target>/`) through exactly the code the fuzzer ran,
//! without a nightly compiler.
//!
//! A run writes the input's files into a fresh scratch folder and reads
//! them through the entry points `convert` uses (`convert::load` with the
//! format named, so detection does not skip an importer); when the import
//! succeeds, the graph is validated and written by one exporter (chosen by
//! the input's hash, so every exporter sees strange but valid graphs). The
//! invariants checked on every run, and turned into a panic (a crash for
//! libFuzzer) when broken: no panic anywhere; every error is one non-empty
//! line and not an internal error.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use ir::{ExportOptions, ImportOptions, Registry};

mod alloc;
mod mutate;
mod parts;
mod seeds;

pub use alloc::{ALLOC_CAP, CappedAlloc};
pub use mutate::mutate;
pub use parts::{pack, unpack};
pub use seeds::seeds;

/// One fuzz target: what its bytes are and which entry point reads them.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The target's name (the cargo-fuzz binary and `fuzz/regressions/<name>/`).
    pub name: &'static str,
    /// What the bytes are, for `cargo xtask fuzz --list` and the docs.
    pub about: &'static str,
    kind: Kind,
}

/// How a target's bytes become files and which entry point reads them.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One file, `file`, read as a model by the importer `format`.
    Model { format: &'static str, file: &'static str },
    /// Named parts ([`unpack`]) written as files, then the importer
    /// `format` reads `main` (a file or, when empty, the folder).
    Folder { format: &'static str, main: &'static str },
    /// A sharded safetensors index and its shards (`--weights`).
    SafetensorsIndex,
    /// A PyTorch `torch.save` state_dict (`--weights`), zip or legacy.
    StateDict,
    /// A TensorFlow tensor bundle (`variables.index` + data shard), every
    /// entry read and CRC-checked.
    Bundle,
    /// One pickle, through the restricted unpickler.
    Pickle,
    /// TorchScript source code, through the parser.
    TorchSource,
    /// An input tensor file with this extension (`--inputs`, `--calibration`).
    TensorFile { ext: &'static str },
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target { name: "onnx", about: "ONNX ModelProto (.onnx)", kind: Kind::Model { format: "onnx", file: "model.onnx" } },
    Target {
        name: "onnx_external",
        about: "ONNX model with external data files (named parts)",
        kind: Kind::Folder { format: "onnx", main: "model.onnx" },
    },
    Target {
        name: "openvino",
        about: "OpenVINO IR .xml + .bin (named parts)",
        kind: Kind::Folder { format: "openvino", main: "model.xml" },
    },
    Target {
        name: "safetensors",
        about: "safetensors file read as a model",
        kind: Kind::Model { format: "safetensors", file: "model.safetensors" },
    },
    Target {
        name: "safetensors_index",
        about: "sharded safetensors: index JSON + shards (named parts)",
        kind: Kind::SafetensorsIndex,
    },
    Target {
        name: "tf_frozen",
        about: "TensorFlow frozen GraphDef (.pb)",
        kind: Kind::Model { format: "tf-frozen", file: "model.pb" },
    },
    Target {
        name: "tf_saved",
        about: "TensorFlow SavedModel folder: saved_model.pb + variables bundle (named parts)",
        kind: Kind::Folder { format: "tf", main: "" },
    },
    Target {
        name: "tf_bundle",
        about: "TensorFlow tensor bundle: variables.index table + data shard (named parts)",
        kind: Kind::Bundle,
    },
    Target {
        name: "torchscript",
        about: "TorchScript archive (torch.jit.save zip)",
        kind: Kind::Model { format: "torchscript", file: "model.pt" },
    },
    Target { name: "state_dict", about: "torch.save state_dict (zip or legacy pickle)", kind: Kind::StateDict },
    Target { name: "pickle", about: "one pickle through the restricted unpickler", kind: Kind::Pickle },
    Target { name: "torch_source", about: "TorchScript source code through the parser", kind: Kind::TorchSource },
    Target { name: "npy", about: "input tensor .npy", kind: Kind::TensorFile { ext: "npy" } },
    Target { name: "npz", about: "input tensors .npz (zip)", kind: Kind::TensorFile { ext: "npz" } },
    Target { name: "tensor_pb", about: "input tensor ONNX TensorProto .pb", kind: Kind::TensorFile { ext: "pb" } },
];

impl Target {
    /// The largest input libFuzzer makes for this target. Inputs that carry
    /// weights (named parts with a data file, whole models) grew corpora of
    /// 1 MiB entries whose copying and hashing dominated each execution:
    /// measured on `tf_bundle`, 16 KiB inputs run 5.1x more executions per
    /// second than 1 MiB ones with the same coverage (801 against 785 edges),
    /// and on `openvino` 64 KiB inputs run 2.2x more at 88% of the edges
    /// (16 KiB: 5.2x at 70%, too few). Text and tensor targets keep 1 MiB.
    pub fn max_len(&self) -> usize {
        match self.kind {
            Kind::Bundle => 16 << 10,
            Kind::Model { .. } | Kind::Folder { .. } | Kind::SafetensorsIndex | Kind::StateDict => 64 << 10,
            Kind::Pickle | Kind::TorchSource | Kind::TensorFile { .. } => 1 << 20,
        }
    }
}

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// What a run ended with (a broken invariant panics instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input was read (and, for models, validated and exported, or
    /// refused by the exporter with a proper message).
    Read,
    /// The input was refused with this one-line message.
    Refused(String),
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(convert::registry)
}

/// `/dev/shm` when there is one: where code that writes files by the
/// hundred thousand (the fuzz targets, the conformance probes) puts them.
pub fn scratch_base() -> Option<PathBuf> {
    let shm = Path::new("/dev/shm");
    shm.is_dir().then(|| shm.to_path_buf())
}

/// A fresh folder for one run, removed when dropped. Under `/dev/shm` when
/// there is one: the fuzzer writes files millions of times.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let base = scratch_base().unwrap_or_else(std::env::temp_dir);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("model-convert-fuzz-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("harness: cannot create {}: {e}", dir.display()));
        Scratch(dir)
    }

    /// Writes `bytes` to `name` under the folder (names come from
    /// [`unpack`], which only yields relative names without `..`).
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("harness: {}: {e}", parent.display()));
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("harness: {}: {e}", path.display()));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The invariant every refusal keeps: one non-empty line, not an internal error.
fn refused(message: String) -> Outcome {
    assert!(!message.trim().is_empty(), "empty error message");
    assert!(!message.contains('\n'), "error message is not one line: {message:?}");
    assert!(!message.to_lowercase().contains("internal error"), "internal error: {message}");
    Outcome::Refused(message)
}

fn outcome<T>(r: ir::Result<T>) -> Outcome {
    match r {
        Ok(_) => Outcome::Read,
        Err(e) => refused(e.to_string()),
    }
}

/// The exporters a valid imported graph is written with (one per fuzz run),
/// with the file name each writes; `xtask conformance --odd-attrs` uses all.
pub const SINKS: &[(&str, &str)] = &[
    ("onnx", "out.onnx"),
    ("openvino", "out.xml"),
    ("tf-frozen", "out.pb"),
    ("torchscript", "out.pt"),
    ("safetensors", "out.safetensors"),
];

/// FNV-1a: a stable choice of sink per input.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Imports the model at `path`; when that works, validates it and writes it
/// with one exporter into `scratch/out/`.
fn import_and_export(scratch: &Scratch, path: &Path, format: &str, data: &[u8]) -> Outcome {
    let registry = registry();
    let (model, _) = match convert::load(
        registry,
        path,
        Some(format),
        &ImportOptions { limits: limits(), ..ImportOptions::default() },
    ) {
        Ok(m) => m,
        Err(e) => return refused(e.to_string()),
    };
    if let Err(e) = model.graph.validate() {
        panic!("convert::load returned an invalid graph: {e}");
    }
    let (sink, file) = SINKS[(hash(data) % SINKS.len() as u64) as usize];
    let exporter = registry.exporter(sink).unwrap_or_else(|e| panic!("harness: {e}"));
    let out = scratch.0.join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("harness: {}: {e}", out.display()));
    // An exporter may refuse a graph (ops it cannot write); it must say so
    // properly. The import succeeded either way.
    let written =
        exporter.check(&model).and_then(|()| exporter.export(&model, &out.join(file), &ExportOptions::default()));
    if let Err(e) = written {
        refused(e.to_string());
    }
    Outcome::Read
}

/// The limits every target imports with: the defaults, but at most 1 GiB
/// inflated. The default 4 GiB lets a small file ask for expansions past the
/// harness's 2 GiB allocation cap by design (a user can lower it with
/// `--max-inflated-bytes`); under 1 GiB every configured expansion fits
/// the cap twice, so the cap catches only what no limit accounts for.
pub fn limits() -> ir::Limits {
    ir::Limits { max_inflated_bytes: 1 << 30, ..ir::Limits::default() }
}

/// Runs `target` on `data`. Panics when an invariant breaks (that is the
/// crash the fuzzer looks for); otherwise says whether the input was read.
pub fn run(target: &Target, data: &[u8]) -> Outcome {
    let scratch = Scratch::new();
    match target.kind {
        Kind::Model { format, file } => {
            let path = scratch.write(file, data);
            import_and_export(&scratch, &path, format, data)
        }
        Kind::Folder { format, main } => {
            for (name, bytes) in unpack(data) {
                scratch.write(&name, bytes);
            }
            let path = if main.is_empty() { scratch.0.clone() } else { scratch.0.join(main) };
            import_and_export(&scratch, &path, format, data)
        }
        Kind::SafetensorsIndex => {
            for (name, bytes) in unpack(data) {
                scratch.write(&name, bytes);
            }
            outcome(fmt_safetensors::read_weights(&scratch.0.join("model.safetensors.index.json")))
        }
        Kind::StateDict => {
            let path = scratch.write("weights.pt", data);
            outcome(fmt_torchscript::read_state_dict_with(&path, &limits()))
        }
        Kind::Bundle => {
            for (name, bytes) in unpack(data) {
                scratch.write(&name, bytes);
            }
            outcome(read_bundle(&scratch.0.join("variables/variables")))
        }
        Kind::Pickle => match fmt_torchscript::pickle::read(data, &limits()) {
            Ok(_) => Outcome::Read,
            // As the importer reports it: through `ir::Error`.
            Err(e) => refused(ir::Error::invalid(e).to_string()),
        },
        Kind::TorchSource => match std::str::from_utf8(data) {
            // The importer refuses non-UTF-8 source before parsing.
            Err(_) => Outcome::Refused("not UTF-8".into()),
            Ok(text) => match fmt_torchscript::source::parse(text, &limits()) {
                Ok(_) => Outcome::Read,
                Err(e) => refused(ir::Error::invalid(e.to_string()).to_string()),
            },
        },
        Kind::TensorFile { ext } => {
            let path = scratch.write(&format!("input.{ext}"), data);
            // The `.pb` codec is registered by the ONNX crate's `register`.
            let _ = registry();
            outcome(ir::tensor_file::read(&path))
        }
    }
}

/// Opens the bundle at `prefix` and reads and CRC-checks every entry.
fn read_bundle(prefix: &Path) -> ir::Result<()> {
    let bundle = fmt_tf::bundle::Bundle::open(prefix)?;
    let keys: Vec<String> = bundle.keys().map(str::to_string).collect();
    for key in keys {
        bundle.get(&key)?;
        // String entries are refused by `verify` by design; other errors count.
        if let Err(e) = bundle.verify(&key)
            && !e.to_string().contains("string entries")
        {
            return Err(e);
        }
    }
    Ok(())
}

/// The workspace root (this crate is `fuzz/harness`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fuzz/regressions/`: one folder per target holding the (minimised)
/// inputs that once crashed it.
pub fn regressions_dir() -> PathBuf {
    workspace_root().join("fuzz/regressions")
}

/// Every saved regression input, as (target, file), sorted.
pub fn regressions() -> Vec<(&'static Target, PathBuf)> {
    let mut out = Vec::new();
    for t in TARGETS {
        let dir = regressions_dir().join(t.name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                out.push((t, p));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_reads_its_own_seeds() {
        for t in TARGETS {
            let seeds = seeds(t, &workspace_root());
            assert!(!seeds.is_empty(), "{}: no seeds", t.name);
            let read = seeds.iter().filter(|s| run(t, s) == Outcome::Read).count();
            assert!(read > 0, "{}: none of {} seeds is read", t.name, seeds.len());
        }
    }

    #[test]
    fn garbage_is_refused_by_every_target() {
        for t in TARGETS {
            for data in [&b""[..], b"\x00\x01\x02garbage", &[0xff; 300]] {
                if let Outcome::Read = run(t, data)
                    && !matches!(t.kind, Kind::TorchSource | Kind::Pickle)
                {
                    panic!("{}: {data:?} was read", t.name);
                }
            }
        }
    }
}
