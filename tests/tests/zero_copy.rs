//! Importing ONNX does not copy weights: `raw_data` and external data stay
//! views into memory maps of the files they come from.
//!
//! The importer's maps are private to it, so the checks go through
//! `/proc/self/maps`: each tensor's bytes must lie in a file-backed mapping
//! of the right file, at the offset where the file holds those bytes.

#![cfg(target_os = "linux")]

use std::ops::Range;
use std::path::{Path, PathBuf};

use fmt_onnx::generated::onnx::{GraphProto, TensorProto, tensor_proto::DataLocation};
use ir::{Attribute, Buffer, Graph, ImportOptions, Importer, Model};
use workspace_tests::case;

/// One line of `/proc/self/maps` backed by a file.
#[derive(Debug)]
struct Mapping {
    range: Range<usize>,
    file_offset: usize,
    path: PathBuf,
}

fn file_mappings() -> Vec<Mapping> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap();
    text.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode pathname
            let mut it = line.splitn(6, ' ');
            let (range, _perms, offset, _dev, inode) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
            let path = it.next()?.trim_start();
            if inode == "0" || !path.starts_with('/') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                range: usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?,
                file_offset: usize::from_str_radix(offset, 16).ok()?,
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// The offset in `file` at which `bytes` are mapped, if they lie (entirely)
/// in one mapping of that file.
fn mapped_offset(maps: &[Mapping], file: &Path, bytes: &[u8]) -> Result<usize, String> {
    let file = file.canonicalize().unwrap();
    let start = bytes.as_ptr() as usize;
    let end = start + bytes.len();
    let Some(m) = maps.iter().find(|m| m.range.contains(&start)) else {
        return Err(format!("{start:#x} is in no file mapping (heap copy?)"));
    };
    if m.path != file {
        return Err(format!("{start:#x} is in a mapping of {}, not {}", m.path.display(), file.display()));
    }
    if end > m.range.end {
        return Err(format!("{start:#x}..{end:#x} runs past the mapping {:#x}..{:#x}", m.range.start, m.range.end));
    }
    Ok(m.file_offset + (start - m.range.start))
}

fn import(path: &Path) -> Model {
    fmt_onnx::OnnxImporter.import(path, &ImportOptions::default()).unwrap()
}

/// Every non-empty tensor of a graph (initializers and attribute tensors,
/// subgraphs included) with a label.
fn tensors(g: &Graph, out: &mut Vec<(String, Buffer)>) {
    for (k, t) in &g.initializers {
        if let Some(b) = t.raw().filter(|b| !b.is_empty()) {
            out.push((format!("initializer '{k}'"), b.clone()));
        }
    }
    for n in &g.nodes {
        for (k, a) in &n.attrs {
            match a {
                Attribute::Tensor(t) => {
                    if let Some(b) = t.raw().filter(|b| !b.is_empty()) {
                        out.push((format!("node '{}' attribute '{k}'", n.name), b.clone()));
                    }
                }
                Attribute::Graph(sg) => tensors(sg, out),
                Attribute::Graphs(gs) => gs.iter().for_each(|sg| tensors(sg, out)),
                _ => {}
            }
        }
    }
}

/// Labels (as [`tensors`] makes them) of the tensors the file stores as
/// `raw_data` or external data; tensors in typed fields are necessarily copied.
fn stored_raw(g: &GraphProto, out: &mut Vec<String>) {
    for t in &g.initializer {
        if !t.raw_data.is_empty() || t.data_location == DataLocation::External as i32 {
            out.push(format!("initializer '{}'", t.name));
        }
    }
    for n in &g.node {
        for a in &n.attribute {
            if a.t.as_ref().is_some_and(|t| !t.raw_data.is_empty()) {
                out.push(format!("node '{}' attribute '{}'", n.name, a.name));
            }
            if let Some(sg) = &a.g {
                stored_raw(sg, out);
            }
            a.graphs.iter().for_each(|sg| stored_raw(sg, out));
        }
    }
}

/// Asserts every weight of `fixture` lies in a mapping of the model file (or,
/// for external tensors, of its data file) at the place holding those bytes.
fn assert_weights_are_mapped(fixture: &str) {
    let c = case(fixture);
    let model_path = c.model.clone();
    let model_bytes = std::fs::read(&model_path).unwrap();
    let data_path = model_path.with_file_name("model.onnx.data");
    let data_bytes = std::fs::read(&data_path).ok();
    let proto = fmt_onnx::parse(&model_path).unwrap();
    let external: Vec<String> = proto
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .filter(|t| t.data_location == DataLocation::External as i32)
        .map(|t| t.name.clone())
        .collect();

    let mut raw = Vec::new();
    stored_raw(proto.graph.as_ref().unwrap(), &mut raw);

    let m = import(&model_path);
    let mut list = Vec::new();
    tensors(&m.graph, &mut list);
    list.retain(|(label, _)| raw.contains(label));
    assert_eq!(list.len(), raw.len(), "{fixture}: every raw tensor of the file is found in the IR");
    assert!(!list.is_empty(), "{fixture}: no weights to check");
    let maps = file_mappings();
    let mut failures = Vec::new();
    for (label, b) in &list {
        let is_external = external.iter().any(|n| label == &format!("initializer '{n}'"));
        let (file, bytes) = if is_external {
            (&data_path, data_bytes.as_deref().expect("external tensors need the data file"))
        } else {
            (&model_path, model_bytes.as_slice())
        };
        match mapped_offset(&maps, file, b) {
            Err(e) => failures.push(format!("{label} ({} bytes): {e}", b.len())),
            Ok(off) if bytes.get(off..off + b.len()) != Some(b.as_bytes()) => {
                failures.push(format!("{label}: mapped at file offset {off}, but the file holds other bytes there"))
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{fixture}: weights not zero-copy:\n{}", failures.join("\n"));
}

#[test]
fn inline_raw_data_is_a_view_into_the_model_file() {
    for fixture in
        ["mlp", "cnn_bn_residual", "transformer_encoder", "cnn_qdq_static", "cnn_dynamo_default", "ops_subgraph"]
    {
        assert_weights_are_mapped(fixture);
    }
}

#[test]
fn external_data_is_a_view_into_the_data_file() {
    let c = case("external_data");
    let proto = fmt_onnx::parse(&c.model).unwrap();
    let g = proto.graph.as_ref().unwrap();
    assert!(g.initializer.iter().any(|t| t.data_location == DataLocation::External as i32));
    assert!(
        g.initializer.iter().any(|t| !t.raw_data.is_empty() && t.data_location != DataLocation::External as i32),
        "the fixture also has an inline tensor"
    );
    assert_weights_are_mapped("external_data");
}

#[test]
fn parse_decodes_raw_data_in_place_in_its_own_map() {
    let path = case("mlp").model;
    // Our own map of the file: the parser's is another one.
    let own = Buffer::map_file(&path).unwrap();
    let own_range = own.as_ptr() as usize..own.as_ptr() as usize + own.len();
    let proto = fmt_onnx::parse(&path).unwrap();
    let g = proto.graph.as_ref().unwrap();
    let raw: Vec<&TensorProto> = g.initializer.iter().filter(|t| !t.raw_data.is_empty()).collect();
    assert!(!raw.is_empty());
    let maps = file_mappings();
    for t in raw {
        let p = t.raw_data.as_ptr() as usize;
        assert!(!own_range.contains(&p), "'{}' points into the test's own map: maps are not shared", t.name);
        let off = mapped_offset(&maps, &path, &t.raw_data).unwrap_or_else(|e| panic!("'{}': {e}", t.name));
        assert_eq!(&own[off..off + t.raw_data.len()], &t.raw_data[..], "'{}' at file offset {off}", t.name);
    }
}

#[test]
fn two_imports_do_not_share_buffers() {
    let path = case("mlp").model;
    let a = import(&path);
    let b = import(&path);
    assert_eq!(a, b);
    for (k, ta) in &a.graph.initializers {
        let (pa, pb) = (ta.raw().unwrap().as_ptr(), b.graph.initializers[k].raw().unwrap().as_ptr());
        assert_ne!(pa, pb, "'{k}': each import maps the file itself");
    }
}

#[test]
fn weights_outlive_the_parse_and_stay_mapped() {
    // The map is kept alive by the tensors, not by the parser: after the
    // model is dropped except one tensor, that tensor is still mapped.
    let path = case("mlp").model;
    let m = import(&path);
    let (name, t) = m.graph.initializers.iter().max_by_key(|(_, t)| t.byte_len()).unwrap();
    let (name, t) = (name.clone(), t.clone());
    drop(m);
    let maps = file_mappings();
    let off = mapped_offset(&maps, &path, t.raw().unwrap()).unwrap_or_else(|e| panic!("'{name}': {e}"));
    let file = std::fs::read(&path).unwrap();
    assert_eq!(&file[off..off + t.byte_len()], t.raw().unwrap().as_bytes());
}
