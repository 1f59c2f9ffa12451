//! `cargo xtask codegen [--check]`: turn the `.proto` schemas under `proto/`
//! into checked-in Rust code.
//!
//! No `protoc` binary is involved: `protox` parses the `.proto` files in pure
//! Rust into a `FileDescriptorSet`, and `prost-build` generates Rust from that
//! descriptor set (`Config::generate` never runs `protoc`). The output is
//! deterministic, so `--check` can compare it byte for byte with the file in
//! the tree.
//!
//! To add a schema, add an entry to [`TARGETS`].
//!
//! It also writes the documentation tables that are generated from code:
//! `docs/openvino-ops.md`, the OpenVINO op mapping, from the rule tables of
//! `crates/fmt-openvino`, and `docs/tf-ops.md` / `docs/torch-ops.md` from
//! those of `crates/fmt-tf` / `crates/fmt-torchscript` (see [`DOCS`]).

use std::fs;

use anyhow::{Context as _, bail};
use prost_build::Module;

use crate::{Outcome, Workspace};

/// Options of `cargo xtask codegen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do not write anything; fail if a checked-in generated file is stale.
    #[arg(long)]
    check: bool,
}

/// One generated Rust file.
#[derive(Debug)]
struct Target {
    /// The `.proto` files to compile, relative to `include`.
    protos: &'static [&'static str],
    /// Include directory (relative to the workspace root) that `import`
    /// statements and `protos` are resolved against.
    include: &'static str,
    /// The protobuf package whose Rust module is written to `output`. Every
    /// file in `protos` must belong to it.
    package: &'static str,
    /// The generated Rust file, relative to the workspace root.
    output: &'static str,
}

/// Every schema this workspace generates code for.
const TARGETS: &[Target] = &[
    Target {
        protos: &["onnx/onnx.proto"],
        include: "proto",
        package: "onnx",
        output: "crates/fmt-onnx/src/generated/onnx.rs",
    },
    Target {
        protos: &[
            "tensorflow/tensor.proto",
            "tensorflow/graph.proto",
            "tensorflow/saved_model.proto",
            "tensorflow/checkpoint.proto",
        ],
        include: "proto",
        package: "tensorflow",
        output: "crates/fmt-tf/src/generated/tensorflow.rs",
    },
];

/// A documentation file generated from tables in the code.
#[derive(Debug)]
struct Doc {
    /// The file, relative to the workspace root.
    output: &'static str,
    /// Makes its full text.
    generate: fn() -> String,
    /// The crate whose op tables it comes from.
    from: &'static str,
}

/// Every generated documentation file.
const DOCS: &[Doc] = &[
    Doc { output: "docs/openvino-ops.md", generate: fmt_openvino::ops_markdown, from: "crates/fmt-openvino" },
    Doc { output: "docs/tf-ops.md", generate: fmt_tf::ops_markdown, from: "crates/fmt-tf" },
    Doc { output: "docs/torch-ops.md", generate: fmt_torchscript::ops_markdown, from: "crates/fmt-torchscript" },
];

pub(crate) fn run(ws: &Workspace, args: Args) -> anyhow::Result<Outcome> {
    let mut stale = 0usize;
    let mut outputs: Vec<(&str, String, String)> = Vec::new();
    for target in TARGETS {
        let generated = generate(ws, target).with_context(|| format!("generating {} failed", target.output))?;
        outputs.push((target.output, generated, sources(target)));
    }
    for doc in DOCS {
        outputs.push((doc.output, (doc.generate)(), format!("the op tables of {}", doc.from)));
    }
    for (target_output, generated, from) in outputs {
        let output = ws.root.join(target_output);
        let current = match fs::read(&output) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                return Err(err).with_context(|| format!("reading {}", output.display()));
            }
        };
        let up_to_date = current.as_deref() == Some(generated.as_bytes());

        if args.check {
            if !up_to_date {
                eprintln!("error: {target_output} is stale (it does not match {from}); run `cargo xtask codegen`");
                stale += 1;
            }
        } else if up_to_date {
            eprintln!("{target_output} is up to date");
        } else {
            if let Some(dir) = output.parent() {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            fs::write(&output, &generated).with_context(|| format!("writing {}", output.display()))?;
            eprintln!("wrote {target_output}");
        }
    }
    Ok(if stale == 0 { Outcome::Ok } else { Outcome::CheckFailed })
}

/// The `.proto` sources of `target` as workspace-relative paths, for messages
/// and the header. Always `/`-separated so the output does not depend on the
/// host.
fn sources(target: &Target) -> String {
    target.protos.iter().map(|proto| format!("{}/{}", target.include, proto)).collect::<Vec<_>>().join(", ")
}

/// Generates the full text of `target.output`, header included.
fn generate(ws: &Workspace, target: &Target) -> anyhow::Result<String> {
    let include = ws.root.join(target.include);
    let protos: Vec<_> = target.protos.iter().map(|p| include.join(p)).collect();

    // Pure-Rust parse and link of the schema; keeps the comments so they
    // become doc comments on the generated types.
    let fds = protox::compile(&protos, [&include]).map_err(|err| {
        // protox's error already names the file and the position.
        anyhow::anyhow!("{err}")
    })?;

    let requests: Vec<_> =
        fds.file.into_iter().map(|file| (Module::from_protobuf_package_name(file.package()), file)).collect();

    let mut config = prost_build::Config::new();
    // Every `bytes` field becomes `bytes::Bytes`: decoding from a `Bytes`
    // buffer (e.g. one wrapping an mmap) then slices it without copying, which
    // matters for `TensorProto.raw_data`.
    config.bytes(["."]);
    let mut modules = config.generate(requests).context("prost-build failed to generate code")?;

    let wanted = Module::from_protobuf_package_name(target.package);
    let Some(code) = modules.remove(&wanted) else {
        bail!("{} generated no code for protobuf package `{}`", sources(target), target.package);
    };
    if !modules.is_empty() {
        let mut extra: Vec<_> = modules.keys().map(ToString::to_string).collect();
        extra.sort();
        bail!(
            "{} also generated code for {}; give each package its own entry in TARGETS",
            sources(target),
            extra.join(", ")
        );
    }

    Ok(format!("// @generated by `cargo xtask codegen` from {} — do not edit by hand.\n{code}", sources(target)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn targets_point_at_existing_protos() {
        let ws = Workspace { root: Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf() };
        for target in TARGETS {
            for proto in target.protos {
                let path = ws.root.join(target.include).join(proto);
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
    }
}
