//! Hostile TensorFlow inputs (issue 18): SavedModels, their variables
//! bundle (`variables.index` + shards) and frozen GraphDefs, built here with
//! the crate's own prost types and bundle writer, then damaged byte by byte.
//!
//! Every case runs a full conversion to ONNX through
//! `workspace_tests::hostile` (2 GiB address-space cap, one-line error
//! naming the file, nothing left behind, input untouched) and checks the
//! exact problem the message names. Each limit has a pair of tests: just
//! over it is refused with the flag named, and the same file loads once the
//! limit is raised through `ImportOptions::limits`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use fmt_tf::bundle::write::BundleWriter;
use fmt_tf::bundle::{crc32c, table};
use fmt_tf::generated::tensorflow::{
    AttrValue, BundleEntryProto, FunctionDef, FunctionDefLibrary, GraphDef, MetaGraphDef, NameAttrList, NodeDef, OpDef,
    SavedModel, SignatureDef, TensorInfo, TensorProto, TensorShapeProto, attr_value, meta_graph_def::MetaInfoDef,
    op_def::ArgDef, tensor_info, tensor_shape_proto::Dim,
};
use ir::{ImportOptions, Limits, Tensor};
use prost::Message;
use workspace_tests::hostile::{memory_cap, refuse, refuse_saying, refuse_with};
use workspace_tests::{fixtures_dir, list_files};

// ---------------------------------------------------------------------------
// Building blocks.

const F32: i32 = 1;

fn shape(dims: &[i64]) -> TensorShapeProto {
    TensorShapeProto { dim: dims.iter().map(|&size| Dim { size, name: String::new() }).collect(), unknown_rank: false }
}

fn attr(value: attr_value::Value) -> AttrValue {
    AttrValue { value: Some(value) }
}

fn type_attr(code: i32) -> AttrValue {
    attr(attr_value::Value::Type(code))
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: Vec<(&str, AttrValue)>) -> NodeDef {
    NodeDef {
        name: name.into(),
        op: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        attr: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..Default::default()
    }
}

fn placeholder(name: &str, dims: &[i64]) -> NodeDef {
    node(
        name,
        "Placeholder",
        &[],
        vec![("dtype", type_attr(F32)), ("shape", attr(attr_value::Value::Shape(shape(dims))))],
    )
}

/// An op of element type f32 (`T`).
fn op(name: &str, op: &str, inputs: &[&str]) -> NodeDef {
    node(name, op, inputs, vec![("T", type_attr(F32))])
}

fn constant(name: &str, tensor: TensorProto) -> NodeDef {
    let dtype = tensor.dtype;
    node(name, "Const", &[], vec![("dtype", type_attr(dtype)), ("value", attr(attr_value::Value::Tensor(tensor)))])
}

/// A TensorProto of f32 `values` as `tensor_content`.
fn content(dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dtype: F32,
        tensor_shape: Some(shape(dims)),
        tensor_content: Bytes::from(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()),
        ..Default::default()
    }
}

/// A `PartitionedCall` of `function` on `inputs`, returning one f32.
fn call(name: &str, function: &str, inputs: &[&str]) -> NodeDef {
    let f = attr(attr_value::Value::Func(NameAttrList { name: function.into(), attr: HashMap::new() }));
    let types = attr(attr_value::Value::List(attr_value::ListValue { r#type: vec![F32], ..Default::default() }));
    node(name, "PartitionedCall", inputs, vec![("f", f), ("Tout", types.clone()), ("Tin", types)])
}

fn arg(name: &str) -> ArgDef {
    ArgDef { name: name.into(), r#type: F32, ..Default::default() }
}

/// A function of one f32 argument `x` and one result `y`, with `body` and
/// `y` returned from `ret` (`node:output:0` or `x`).
fn function(name: &str, body: Vec<NodeDef>, ret: &str) -> FunctionDef {
    FunctionDef {
        signature: Some(OpDef {
            name: name.into(),
            input_arg: vec![arg("x")],
            output_arg: vec![arg("y")],
            ..Default::default()
        }),
        node_def: body,
        ret: [("y".to_string(), ret.to_string())].into(),
        ..Default::default()
    }
}

/// `f0 … f{depth-1}`: each calls the next on its argument; the last
/// returns `Neg(x)`. The graph reads `f0` once.
fn call_chain(depth: usize) -> GraphDef {
    let mut functions = Vec::new();
    for k in 0..depth {
        let f = if k + 1 == depth {
            function(&format!("f{k}"), vec![op("neg", "Neg", &["x"])], "neg:y:0")
        } else {
            function(&format!("f{k}"), vec![call("next", &format!("f{}", k + 1), &["x"])], "next:output:0")
        };
        functions.push(f);
    }
    GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f0", &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: functions }),
        ..Default::default()
    }
}

/// `f0` is `Neg`; each `f{k}` calls `f{k-1}` twice and adds the results,
/// so the graph that reads `f{levels}` inlines to about 3·2^levels nodes.
fn doubling_library(levels: usize) -> GraphDef {
    let mut functions = vec![function("f0", vec![op("neg", "Neg", &["x"])], "neg:y:0")];
    for k in 1..=levels {
        let prev = format!("f{}", k - 1);
        let body =
            vec![call("a", &prev, &["x"]), call("b", &prev, &["x"]), op("sum", "AddV2", &["a:output:0", "b:output:0"])];
        functions.push(function(&format!("f{k}"), body, "sum:z:0"));
    }
    GraphDef {
        node: vec![placeholder("x", &[2]), call("top", &format!("f{levels}"), &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: functions }),
        ..Default::default()
    }
}

/// Writes `graph` as `dir/model.pb`.
fn frozen(dir: &Path, graph: &GraphDef) -> PathBuf {
    let path = dir.join("model.pb");
    std::fs::write(&path, graph.encode_to_vec()).unwrap();
    path
}

/// A temporary folder holding `graph` as a frozen `model.pb`.
fn frozen_in_tmp(graph: &GraphDef) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = frozen(tmp.path(), graph);
    (tmp, path)
}

fn tensor_info(name: &str, dims: &[i64]) -> TensorInfo {
    TensorInfo { dtype: F32, tensor_shape: Some(shape(dims)), encoding: Some(tensor_info::Encoding::Name(name.into())) }
}

/// The variable the SavedModels below read: rank 16, so that its entry's
/// shape proto leaves room for in-place rewrites (which shrink it to
/// `[2, 3]`, the same values).
const W_DIMS: [usize; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3];

/// A TF1-style SavedModel in `dir`: `y = x + w`, `w` a `VariableV2`
/// restored from `variables/` (written with the crate's bundle writer),
/// plus `extra` unread variables (for the entry-count limit).
fn saved_model(dir: &Path, extra: usize) {
    std::fs::create_dir_all(dir.join("variables")).unwrap();
    let w_dims: Vec<i64> = W_DIMS.iter().map(|&d| d as i64).collect();
    let graph = GraphDef {
        node: vec![
            placeholder("x", &[2, 3]),
            node(
                "w",
                "VariableV2",
                &[],
                vec![("dtype", type_attr(F32)), ("shape", attr(attr_value::Value::Shape(shape(&w_dims))))],
            ),
            op("y", "AddV2", &["x", "w"]),
        ],
        ..Default::default()
    };
    let sig = SignatureDef {
        inputs: [("x".to_string(), tensor_info("x:0", &[2, 3]))].into(),
        outputs: [("y".to_string(), tensor_info("y:0", &w_dims))].into(),
        method_name: "tensorflow/serving/predict".into(),
    };
    let model = SavedModel {
        saved_model_schema_version: 1,
        meta_graphs: vec![MetaGraphDef {
            meta_info_def: Some(MetaInfoDef { tags: vec!["serve".into()], ..Default::default() }),
            graph_def: Some(graph),
            signature_def: [("serving_default".to_string(), sig)].into(),
            ..Default::default()
        }],
    };
    std::fs::write(dir.join("saved_model.pb"), model.encode_to_vec()).unwrap();
    let mut writer = BundleWriter::create(&dir.join("variables/variables")).unwrap();
    let w = Tensor::from_vec(W_DIMS.to_vec(), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    writer.add("w", &w, |_| {}).unwrap();
    for k in 0..extra {
        writer.add(&format!("unused_{k:03}"), &Tensor::scalar(k as f32), |_| {}).unwrap();
    }
    writer.finish().unwrap();
}

/// A temporary folder holding [`saved_model`] as `tmp/model`.
fn saved_in_tmp() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    saved_model(&dir, 0);
    (tmp, dir)
}

fn index(dir: &Path) -> PathBuf {
    dir.join("variables/variables.index")
}

fn shard(dir: &Path) -> PathBuf {
    dir.join("variables/variables.data-00000-of-00001")
}

/// Converts `input` to ONNX, expecting success.
fn converts(input: &Path, from: &str, import: ImportOptions) {
    memory_cap();
    let out = tempfile::tempdir().unwrap();
    let opts = convert::ConvertOptions { from: Some(from.into()), import, ..Default::default() };
    if let Err(e) = convert::convert(&convert::registry(), input, &out.path().join("out.onnx"), &opts) {
        panic!("{} did not convert: {e}", input.display());
    }
}

fn with_limits(limits: Limits) -> ImportOptions {
    ImportOptions { limits, ..ImportOptions::default() }
}

/// A copy of `tests/fixtures/tf/<case>` in a temporary folder.
fn fixture_copy(case: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let from = fixtures_dir().join("tf").join(case);
    let to = tmp.path().join(case);
    for file in list_files(&from) {
        let target = to.join(file.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    (tmp, to)
}

// ---------------------------------------------------------------------------
// Byte surgery on a written `variables.index`.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The footer's (metaindex, index) block handles.
fn footer_handles(bytes: &[u8]) -> [(u64, u64); 2] {
    let footer = &bytes[bytes.len() - 48..];
    let mut pos = 0;
    let mut next = || table::varint(footer, &mut pos).unwrap();
    [(next(), next()), (next(), next())]
}

/// Rewrites the footer's handles (the magic stays).
fn set_footer(bytes: &mut [u8], handles: [(u64, u64); 2]) {
    let mut footer = Vec::new();
    for (offset, size) in handles {
        put_varint(&mut footer, offset);
        put_varint(&mut footer, size);
    }
    footer.resize(40, 0);
    let at = bytes.len() - 48;
    bytes[at..at + 40].copy_from_slice(&footer);
}

/// Recomputes the masked CRC of the block at `offset` of `size` bytes.
fn fix_crc(bytes: &mut [u8], offset: usize, size: usize) {
    let crc = crc32c::mask(crc32c::extend(crc32c::crc32c(&bytes[offset..offset + size]), &[bytes[offset + size]]));
    bytes[offset + size + 1..offset + size + 5].copy_from_slice(&crc.to_le_bytes());
}

/// The one data block of a small index: it starts at 0 and ends where the
/// metaindex block's trailer begins.
fn data_block(bytes: &[u8]) -> (usize, usize) {
    let [meta, _] = footer_handles(bytes);
    (0, meta.0 as usize - 5)
}

/// Replaces the value stored under `key` in the index's data block by
/// `value`, which is padded with an unknown protobuf field to the old
/// length (so no offset in the table moves), and fixes the block's CRC.
fn patch_entry(path: &Path, key: &str, value: Vec<u8>) {
    let mut bytes = std::fs::read(path).unwrap();
    let old = table::read(&bytes, usize::MAX)
        .unwrap()
        .into_iter()
        .find(|e| e.key == key.as_bytes())
        .unwrap_or_else(|| panic!("no key '{key}'"))
        .value;
    assert!(
        value.len() + 2 <= old.len() || value.len() == old.len(),
        "{} bytes do not fit in {}",
        value.len(),
        old.len()
    );
    let mut new = value;
    if new.len() < old.len() {
        // Field 15, length-delimited: skipped by the decoder.
        let pad = old.len() - new.len() - 2;
        new.push(15 << 3 | 2);
        new.push(pad as u8);
        new.resize(old.len(), 0);
    }
    let (start, size) = data_block(&bytes);
    let at = start + bytes[start..start + size].windows(old.len()).position(|w| w == old).unwrap();
    bytes[at..at + old.len()].copy_from_slice(&new);
    fix_crc(&mut bytes, start, size);
    std::fs::write(path, bytes).unwrap();
}

/// The entry of `w` as the writer wrote it.
fn w_entry(dir: &Path) -> BundleEntryProto {
    let bytes = std::fs::read(index(dir)).unwrap();
    let row = table::read(&bytes, usize::MAX).unwrap().into_iter().find(|e| e.key == b"w").unwrap();
    BundleEntryProto::decode(row.value.as_slice()).unwrap()
}

/// A SavedModel whose entry `w` is `change`d (after its shape is written
/// as `[2, 3]`); the refusal must say `expected`.
fn refuse_entry(change: impl FnOnce(&mut BundleEntryProto), expected: &str) -> String {
    let (_tmp, dir) = saved_in_tmp();
    let mut entry = w_entry(&dir);
    entry.shape = Some(shape(&[2, 3]));
    change(&mut entry);
    patch_entry(&index(&dir), "w", entry.encode_to_vec());
    refuse_saying(&dir, Some("tf"), expected)
}

// ---------------------------------------------------------------------------
// The SavedModel built here is sound.

#[test]
fn the_models_built_here_convert() {
    let (_tmp, dir) = saved_in_tmp();
    converts(&dir, "tf", ImportOptions::default());
    // The surgery helpers keep a sound table sound.
    let mut entry = w_entry(&dir);
    patch_entry(&index(&dir), "w", entry.encode_to_vec());
    converts(&dir, "tf", ImportOptions::default());
    // A checkpoint value whose shape disagrees with the signature is caught.
    entry.shape = Some(shape(&[2, 3]));
    patch_entry(&index(&dir), "w", entry.encode_to_vec());
    refuse_saying(
        &dir,
        Some("tf"),
        "value 'y': declared type f32[1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,3] contradicts inferred f32[2,3]",
    );
    let (_tmp, path) = frozen_in_tmp(&call_chain(5));
    converts(&path, "tf-frozen", ImportOptions::default());
    let (_tmp, path) = frozen_in_tmp(&doubling_library(3));
    converts(&path, "tf-frozen", ImportOptions::default());
}

// ---------------------------------------------------------------------------
// saved_model.pb: truncated, wrong content.

#[test]
fn saved_model_pb_wrong_content() {
    let (_tmp, dir) = saved_in_tmp();
    let pb = dir.join("saved_model.pb");
    std::fs::write(&pb, b"\xff\xff\xff\xff garbage").unwrap();
    refuse_saying(&dir, Some("tf"), "saved_model.pb: not a SavedModel protobuf: ");
    std::fs::write(&pb, b"").unwrap();
    refuse_saying(&dir, Some("tf"), "saved_model.pb: the SavedModel has no MetaGraph");
    // A frozen GraphDef where the SavedModel should be: its nodes read as
    // an unknown field and a MetaGraph that does not decode.
    std::fs::write(&pb, call_chain(2).encode_to_vec()).unwrap();
    refuse_saying(&dir, Some("tf"), "saved_model.pb: not a SavedModel protobuf: ");
}

#[test]
fn saved_model_pb_truncated_at_every_byte() {
    let (_tmp, dir) = saved_in_tmp();
    let pb = dir.join("saved_model.pb");
    let bytes = std::fs::read(&pb).unwrap();
    for len in 0..bytes.len() {
        std::fs::write(&pb, &bytes[..len]).unwrap();
        let msg = refuse(&dir, Some("tf"));
        assert!(
            msg.contains("not a SavedModel protobuf")
                || msg.contains("the SavedModel has no MetaGraph")
                || msg.contains("no MetaGraph tagged [serve]"),
            "cut at {len}: {msg}"
        );
    }
}

#[test]
fn real_saved_model_truncated_at_sampled_offsets() {
    let (_tmp, dir) = fixture_copy("keras_cnn");
    let pb = dir.join("saved_model.pb");
    let bytes = std::fs::read(&pb).unwrap();
    // Every 97th byte of 92 KB: each structural level is cut many times.
    for len in (0..bytes.len()).step_by(97) {
        std::fs::write(&pb, &bytes[..len]).unwrap();
        let msg = refuse(&dir, Some("tf"));
        assert!(msg.contains("saved_model.pb: "), "cut at {len}: {msg}");
    }
}

// ---------------------------------------------------------------------------
// variables.index: truncation, CRC, magic, handles, header, entries.

#[test]
fn index_truncated_at_every_byte() {
    let (_tmp, dir) = saved_in_tmp();
    let bytes = std::fs::read(index(&dir)).unwrap();
    for len in 0..bytes.len() {
        std::fs::write(index(&dir), &bytes[..len]).unwrap();
        let msg = refuse(&dir, Some("tf"));
        let expected = if len < 48 {
            format!("variables.index: truncated: {len} bytes is shorter than the 48-byte table footer")
        } else {
            "variables.index: bad table magic".to_string()
        };
        assert!(msg.contains(&expected), "cut at {len}: {msg}");
    }
}

/// The table cut at each boundary of its blocks (data block, its restart
/// array, its trailer, metaindex, index block) with the footer kept: the
/// handles then point past what is left.
#[test]
fn index_truncated_at_every_block_boundary_with_its_footer() {
    let (_tmp, dir) = saved_in_tmp();
    let bytes = std::fs::read(index(&dir)).unwrap();
    let footer = bytes[bytes.len() - 48..].to_vec();
    let [meta, idx] = footer_handles(&bytes);
    let (data_start, data_size) = data_block(&bytes);
    let restarts = data_start + data_size - 4 - 4 * restart_count(&bytes, data_start, data_size);
    let boundaries = [
        (0, "index block"),
        (restarts, "index block"),
        (data_size - 4, "index block"),
        (data_size, "index block"),
        (data_size + 5, "index block"),
        (meta.0 as usize, "index block"),
        (idx.0 as usize, "index block"),
        (idx.0 as usize + idx.1 as usize, "index block"),
        (idx.0 as usize + idx.1 as usize + 4, "index block"),
    ];
    for (cut, what) in boundaries {
        let mut b = bytes[..cut].to_vec();
        b.extend_from_slice(&footer);
        std::fs::write(index(&dir), &b).unwrap();
        let msg = refuse(&dir, Some("tf"));
        let expected =
            format!("variables.index: truncated: {what} ({} bytes) runs past the table's {cut} bytes", idx.1);
        assert!(msg.contains(&expected), "cut at {cut}: expected '{expected}', got {msg}");
    }
}

fn restart_count(bytes: &[u8], start: usize, size: usize) -> usize {
    u32::from_le_bytes(bytes[start + size - 4..start + size].try_into().unwrap()) as usize
}

#[test]
fn index_bad_crc_magic_and_compression() {
    let (_tmp, dir) = saved_in_tmp();
    let bytes = std::fs::read(index(&dir)).unwrap();
    let (start, size) = data_block(&bytes);

    let mut b = bytes.clone();
    b[start + 3] ^= 0x40;
    std::fs::write(index(&dir), &b).unwrap();
    refuse_saying(&dir, Some("tf"), "variables.index: bad CRC in data block at offset 0: stored 0x");

    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    std::fs::write(index(&dir), &b).unwrap();
    refuse_saying(&dir, Some("tf"), "variables.index: bad table magic 0x244775248b80fb57");

    // A compressed block (type 1, CRC fixed): Snappy is not read.
    let mut b = bytes.clone();
    b[start + size] = 1;
    fix_crc(&mut b, start, size);
    std::fs::write(index(&dir), &b).unwrap();
    refuse_saying(&dir, Some("tf"), "data block at offset 0 is compressed (type 1); only uncompressed tables are read");
}

#[test]
fn index_restart_array_past_the_block() {
    let (_tmp, dir) = saved_in_tmp();
    let mut bytes = std::fs::read(index(&dir)).unwrap();
    let (start, size) = data_block(&bytes);
    bytes[start + size - 4..start + size].copy_from_slice(&u32::MAX.to_le_bytes());
    fix_crc(&mut bytes, start, size);
    std::fs::write(index(&dir), &bytes).unwrap();
    refuse_saying(
        &dir,
        Some("tf"),
        &format!("data block at offset 0: 4294967295 restart points do not fit in {size} bytes"),
    );
}

#[test]
fn index_block_handles_past_the_end() {
    let (_tmp, dir) = saved_in_tmp();
    let bytes = std::fs::read(index(&dir)).unwrap();
    let [meta, idx] = footer_handles(&bytes);
    let body = bytes.len() - 48;

    // The footer's index handle.
    for (offset, size) in [(idx.0, idx.1 + 1000), (u64::MAX - 2, 10), (idx.0, u64::MAX)] {
        let mut b = bytes.clone();
        set_footer(&mut b, [meta, (offset, size)]);
        std::fs::write(index(&dir), &b).unwrap();
        refuse_saying(
            &dir,
            Some("tf"),
            &format!("truncated: index block ({size} bytes) runs past the table's {body} bytes"),
        );
    }

    // The index block's handle of the data block: moved from offset 0 to
    // 120 (same varint length), CRC fixed.
    let (_, data_size) = data_block(&bytes);
    let mut old = vec![0u8];
    put_varint(&mut old, data_size as u64);
    let mut new = vec![120u8];
    put_varint(&mut new, data_size as u64);
    let (i0, i1) = (idx.0 as usize, idx.1 as usize);
    let at = i0 + bytes[i0..i0 + i1].windows(old.len()).position(|w| w == old).unwrap();
    let mut b = bytes.clone();
    b[at..at + new.len()].copy_from_slice(&new);
    fix_crc(&mut b, i0, i1);
    std::fs::write(index(&dir), &b).unwrap();
    refuse_saying(
        &dir,
        Some("tf"),
        &format!("truncated: data block at offset 120 ({data_size} bytes) runs past the table's {body} bytes"),
    );
}

#[test]
fn shard_count_of_two_to_the_31() {
    let (_tmp, dir) = saved_in_tmp();
    // num_shards is an int32: 2^31 arrives as -2^31; 2^31 - 1 is past the cap.
    for (shards, shown) in [(1i64 << 31, "-2147483648"), ((1 << 31) - 1, "2147483647")] {
        let mut header = Vec::new();
        header.push(1 << 3);
        put_varint(&mut header, shards as u64);
        patch_entry(&index(&dir), "", header);
        refuse_saying(&dir, Some("tf"), &format!("variables.index: bundle header declares {shown} shards"));
        saved_model(&dir, 0);
    }
}

#[test]
fn entry_offset_and_size_past_the_shard() {
    let len = 24;
    refuse_entry(
        |e| e.offset = 4,
        &format!("variables.data-00000-of-00001: key 'w': bytes 4..28 are past the end of the {len}-byte file"),
    );
    refuse_entry(
        |e| e.offset = i64::MAX - 10,
        &format!(
            "key 'w': bytes {}..{} are past the end of the {len}-byte file",
            i64::MAX - 10,
            (i64::MAX - 10) as u64 + 24
        ),
    );
    refuse_entry(|e| e.offset = -8, "variables.index: key 'w': negative offset -8 or size 24");
    refuse_entry(|e| e.shard_id = 7, "variables.index: key 'w': shard 7 does not exist");
    refuse_entry(|e| e.shard_id = -1, "variables.index: key 'w': shard -1 does not exist");
}

#[test]
fn entry_size_disagrees_with_shape_and_dtype() {
    refuse_entry(|e| e.size = 20, "variables.index: key 'w': shape [2, 3] of f32 needs 24 bytes, the entry has 20");
    refuse_entry(
        |e| e.size = i64::MAX,
        &format!("key 'w': shape [2, 3] of f32 needs 24 bytes, the entry has {}", i64::MAX),
    );
    // The same bytes read as f64: twice the size the entry declares.
    refuse_entry(|e| e.dtype = 2, "key 'w': shape [2, 3] of f64 needs 48 bytes, the entry has 24");
}

#[test]
fn entry_dims_near_u64_max_and_negative() {
    let set = |dims: &'static [i64]| move |e: &mut BundleEntryProto| e.shape = Some(shape(dims));
    refuse_entry(
        set(&[i64::MAX, i64::MAX]),
        "variables.index: key 'w': shape [9223372036854775807, 9223372036854775807] has too many elements",
    );
    refuse_entry(set(&[1 << 32, 1 << 32]), "key 'w': shape [4294967296, 4294967296] has too many elements");
    refuse_entry(set(&[1 << 62]), "key 'w': shape [4611686018427387904] of f32 has too many bytes");
    refuse_entry(
        set(&[1 << 40, 3]),
        "key 'w': shape [1099511627776, 3] of f32 needs 13194139533312 bytes, the entry has 24",
    );
    refuse_entry(set(&[-1, 6]), "variables.index: key 'w': entry has dimension -1 in its shape");
    refuse_entry(set(&[i64::MIN]), "key 'w': entry has dimension -9223372036854775808 in its shape");
}

#[test]
fn entry_dtype_unknown_or_not_a_tensor() {
    refuse_entry(|e| e.dtype = 99, "variables.index: key 'w': entry has unknown dtype code 99");
    refuse_entry(|e| e.dtype = 20, "variables.index: key 'w': entry has dtype DT_RESOURCE, which the IR cannot hold");
    refuse_entry(|e| e.dtype = -5, "key 'w': entry has unknown dtype code -5");
}

#[test]
fn entry_that_does_not_decode() {
    let (_tmp, dir) = saved_in_tmp();
    let old = w_entry(&dir).encoded_len();
    // Field 4 (shard_id, varint) given as a length-delimited field.
    let mut bad = vec![4 << 3 | 2, 0xff];
    bad.resize(old, 0);
    patch_entry(&index(&dir), "w", bad);
    refuse_saying(&dir, Some("tf"), "variables.index: entry 'w' does not decode: ");
}

#[test]
fn shard_truncated_at_every_byte() {
    let (_tmp, dir) = saved_in_tmp();
    let bytes = std::fs::read(shard(&dir)).unwrap();
    for len in 0..bytes.len() {
        std::fs::write(shard(&dir), &bytes[..len]).unwrap();
        refuse_saying(&dir, Some("tf"), &format!("key 'w': bytes 0..24 are past the end of the {len}-byte file"));
    }
    std::fs::remove_file(shard(&dir)).unwrap();
    refuse_saying(&dir, Some("tf"), "variables.index: data shard ");
}

#[test]
fn real_bundle_truncated_at_sampled_index_and_shard_bytes() {
    let (_tmp, dir) = fixture_copy("keras_cnn");
    let bytes = std::fs::read(index(&dir)).unwrap();
    for len in (0..bytes.len()).step_by(7) {
        std::fs::write(index(&dir), &bytes[..len]).unwrap();
        let msg = refuse(&dir, Some("tf"));
        assert!(msg.contains("variables.index: "), "cut at {len}: {msg}");
    }
    std::fs::write(index(&dir), &bytes).unwrap();
    let data = std::fs::read(shard(&dir)).unwrap();
    for len in (0..data.len()).step_by(29) {
        std::fs::write(shard(&dir), &data[..len]).unwrap();
        refuse_saying(&dir, Some("tf"), "are past the end of the");
    }
}

// ---------------------------------------------------------------------------
// Files that lead out of the SavedModel folder.

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_saved_model_folder() {
    use std::os::unix::fs::symlink;
    let outside = " resolves (through a symbolic link) outside the model's folder";

    // variables/ itself.
    let (tmp, dir) = saved_in_tmp();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::rename(dir.join("variables"), &elsewhere).unwrap();
    symlink(&elsewhere, dir.join("variables")).unwrap();
    refuse_saying(&dir, Some("tf"), &format!("variables.index: location 'variables/variables.index'{outside}"));

    // One shard.
    let (tmp, dir) = saved_in_tmp();
    let stolen = tmp.path().join("stolen.data");
    std::fs::rename(shard(&dir), &stolen).unwrap();
    symlink(&stolen, shard(&dir)).unwrap();
    refuse_saying(
        &dir,
        Some("tf"),
        &format!("variables.data-00000-of-00001: location 'variables/variables.data-00000-of-00001'{outside}"),
    );

    // saved_model.pb.
    let (tmp, dir) = saved_in_tmp();
    let pb = tmp.path().join("other.pb");
    std::fs::rename(dir.join("saved_model.pb"), &pb).unwrap();
    symlink(&pb, dir.join("saved_model.pb")).unwrap();
    refuse_saying(&dir, Some("tf"), &format!("saved_model.pb: location 'saved_model.pb'{outside}"));

    // A link that stays inside the folder is fine.
    let (_tmp, dir) = saved_in_tmp();
    std::fs::rename(dir.join("variables"), dir.join("real_variables")).unwrap();
    symlink(dir.join("real_variables"), dir.join("variables")).unwrap();
    converts(&dir, "tf", ImportOptions::default());
}

// ---------------------------------------------------------------------------
// GraphDefs: cycles, recursion, depth and inlining bombs, bad references.

#[test]
fn graph_with_a_cycle() {
    let graph = GraphDef {
        node: vec![op("a", "Neg", &["b"]), op("b", "Neg", &["a"]), op("out", "Neg", &["a"])],
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: the graph has a cycle through node 'a' (Neg)");

    let graph = GraphDef { node: vec![op("a", "Neg", &["a"]), op("out", "Neg", &["a"])], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: the graph has a cycle through node 'a' (Neg)");

    // Every node is read by another: no output at all.
    let graph = GraphDef { node: vec![op("a", "Neg", &["b"]), op("b", "Neg", &["a"])], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: the graph has no output (every node is read or is a constant)");
}

#[test]
fn self_recursive_and_mutually_recursive_functions() {
    let f = function("f", vec![call("again", "f", &["x"])], "again:output:0");
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f", &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: vec![f] }),
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: function 'f' calls itself");

    let f = function("f", vec![call("c", "g", &["x"])], "c:output:0");
    let g = function("g", vec![call("c", "h", &["x"])], "c:output:0");
    let h = function("h", vec![call("c", "f", &["x"])], "c:output:0");
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f", &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: vec![f, g, h] }),
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: function 'f' calls itself (through g -> h)");
}

#[test]
fn call_chain_10000_deep_is_refused_at_the_depth_limit() {
    let (_tmp, path) = frozen_in_tmp(&call_chain(10_000));
    refuse_saying(&path, Some("tf-frozen"), "model.pb: node 'top/next/next/");
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "calling function 'f64': nesting depth exceeds the limit of 64 (raise it with --max-depth N)",
    );
}

/// With the limit raised, a deep chain is inlined without recursion, so
/// the test thread's 2 MiB stack is not the limit.
#[test]
fn call_chain_5000_deep_loads_with_the_limit_raised() {
    let (_tmp, path) = frozen_in_tmp(&call_chain(5_000));
    converts(&path, "tf-frozen", with_limits(Limits { max_depth: 5_000, ..Limits::default() }));
}

#[test]
fn depth_limit_refuses_just_over_and_loads_when_raised() {
    let (_tmp, path) = frozen_in_tmp(&call_chain(6));
    let limits = Limits { max_depth: 5, ..Limits::default() };
    let msg = refuse_with(&path, Some("tf-frozen"), with_limits(limits));
    assert!(
        msg.ends_with("calling function 'f5': nesting depth exceeds the limit of 5 (raise it with --max-depth N)"),
        "{msg}"
    );
    converts(&path, "tf-frozen", with_limits(Limits { max_depth: 6, ..Limits::default() }));
    // A small valid chain just past the default.
    let (_tmp, path) = frozen_in_tmp(&call_chain(65));
    refuse_saying(&path, Some("tf-frozen"), "nesting depth exceeds the limit of 64 (raise it with --max-depth N)");
    converts(&path, "tf-frozen", with_limits(Limits { max_depth: 65, ..Limits::default() }));
}

#[test]
fn inlining_bomb_is_refused_at_the_tensor_limit() {
    // 40 levels of doubling: 2^40 calls from a file of a few kilobytes.
    let (_tmp, path) = frozen_in_tmp(&doubling_library(40));
    assert!(std::fs::metadata(&path).unwrap().len() < 10_000);
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "model.pb: graph: 2199023255553 nodes after inlining function calls: tensor count exceeds the limit of 1000000 (raise it with --max-tensors N)",
    );
}

#[test]
fn tensor_limit_on_nodes_refuses_just_over_and_loads_when_raised() {
    // x, y, and 3 nodes per f0 call (of 2^3 calls) plus 1 sum per other call.
    let graph = doubling_library(3);
    let nodes = 2 + 8 + 4 + 2 + 1;
    let (_tmp, path) = frozen_in_tmp(&graph);
    let limits = Limits { max_tensors: nodes - 1, ..Limits::default() };
    let msg = refuse_with(&path, Some("tf-frozen"), with_limits(limits));
    assert!(
        msg.contains(&format!("tensor count exceeds the limit of {} (raise it with --max-tensors N)", nodes - 1)),
        "{msg}"
    );
    converts(&path, "tf-frozen", with_limits(Limits { max_tensors: nodes, ..Limits::default() }));
}

#[test]
fn tensor_limit_on_checkpoint_entries_refuses_just_over_and_loads_when_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    // 3 graph nodes, 1 + 20 checkpoint entries.
    saved_model(&dir, 20);
    let msg = refuse_with(&dir, Some("tf"), with_limits(Limits { max_tensors: 20, ..Limits::default() }));
    assert!(
        msg.ends_with(
            "variables.index: checkpoint entries: tensor count exceeds the limit of 20 (raise it with --max-tensors N)"
        ),
        "{msg}"
    );
    converts(&dir, "tf", with_limits(Limits { max_tensors: 21, ..Limits::default() }));
}

#[test]
fn node_inputs_naming_missing_nodes_or_ports() {
    let graph = GraphDef { node: vec![placeholder("x", &[2]), op("y", "Neg", &["nope"])], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: node 'y' reads 'nope:0', which no node defines");

    let graph = GraphDef { node: vec![placeholder("x", &[2]), op("y", "Neg", &["x:3"])], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: node 'y' (Neg): reads 'x:3', which node 'x' does not produce");

    for port in ["x:99999999999", "x:-1", "x:18446744073709551615"] {
        let graph = GraphDef { node: vec![placeholder("x", &[2]), op("y", "Neg", &[port])], ..Default::default() };
        let (_tmp, path) = frozen_in_tmp(&graph);
        refuse_saying(
            &path,
            Some("tf-frozen"),
            &format!("model.pb: graph: node 'y' input '{port}': not a tensor name"),
        );
    }

    // Inside a function: a node that is not there, an output argument past its op's.
    let f = function("f", vec![op("n", "Neg", &["ghost:y:0"])], "n:y:0");
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f", &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: vec![f] }),
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "model.pb: function 'f': node 'n' input 'ghost:y:0': node 'ghost' is not in the function",
    );
    let f = function("f", vec![op("n", "Neg", &["x"])], "n:y:2147483647");
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f", &["x"]), op("y", "Identity", &["top"])],
        library: Some(FunctionDefLibrary { function: vec![f] }),
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "model.pb: node 'y' (Identity): reads 'top/n:2147483647', which node 'top/n' does not produce",
    );
    // A call's output past the function's outputs.
    let f = function("f", vec![op("n", "Neg", &["x"])], "n:y:0");
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), call("top", "f", &["x"]), op("y", "Identity", &["top:5"])],
        library: Some(FunctionDefLibrary { function: vec![f] }),
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: output 5 of call 'top' is read, but it has 1 outputs");
}

#[test]
fn duplicate_node_names() {
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), op("y", "Neg", &["x"]), op("y", "Abs", &["x"])],
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: graph: node name 'y' is used twice");
}

#[test]
fn kept_unknown_op_read_past_the_tensor_limit() {
    let graph = GraphDef {
        node: vec![placeholder("x", &[2]), op("u", "Mystery", &["x"]), op("y", "Neg", &["u:2000000000"])],
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    let options = ImportOptions { keep_unknown_ops: true, ..ImportOptions::default() };
    let msg = refuse_with(&path, Some("tf-frozen"), options);
    assert!(
        msg.ends_with("outputs of node 'u': tensor count exceeds the limit of 1000000 (raise it with --max-tensors N)"),
        "{msg}"
    );
}

#[test]
fn split_into_more_parts_than_the_tensor_limit() {
    let axis = TensorProto { dtype: 3, int_val: vec![0], ..Default::default() };
    let mut split = op("s", "Split", &["axis", "x"]);
    split.attr.insert("num_split".into(), attr(attr_value::Value::I(1 << 40)));
    let graph = GraphDef {
        node: vec![placeholder("x", &[4]), constant("axis", axis), split, op("y", "Neg", &["s"])],
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "outputs of node 's': tensor count exceeds the limit of 1000000 (raise it with --max-tensors N)",
    );
}

#[test]
fn attribute_nesting_bomb() {
    // A function attribute nested in itself past the decoder's recursion limit.
    let mut value = attr(attr_value::Value::I(1));
    for _ in 0..150 {
        let list = NameAttrList { name: "f".into(), attr: [("a".to_string(), value)].into() };
        value = attr(attr_value::Value::Func(list));
    }
    let mut y = op("y", "Neg", &["x"]);
    y.attr.insert("deep".into(), value);
    let graph = GraphDef { node: vec![placeholder("x", &[2]), y], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(&path, Some("tf-frozen"), "model.pb: not a TensorFlow GraphDef: ");
}

// ---------------------------------------------------------------------------
// Const tensors.

/// A frozen graph `y = x + c` with `c` the given tensor.
fn const_graph(c: TensorProto) -> GraphDef {
    GraphDef {
        node: vec![placeholder("x", &[2, 3]), constant("c", c), op("y", "AddV2", &["x", "c"])],
        ..Default::default()
    }
}

fn refuse_const(c: TensorProto, expected: &str) {
    let (_tmp, path) = frozen_in_tmp(&const_graph(c));
    refuse_saying(&path, Some("tf-frozen"), &format!("model.pb: node 'c' (Const) attribute 'value': {expected}"));
}

#[test]
fn const_tensor_content_length_mismatch() {
    let (_tmp, path) = frozen_in_tmp(&const_graph(content(&[2, 3], &[1.0; 6])));
    converts(&path, "tf-frozen", ImportOptions::default());
    refuse_const(content(&[2, 3], &[1.0; 5]), "f32 tensor of shape [2, 3] needs 24 bytes, got 20");
    refuse_const(content(&[2, 3], &[1.0; 7]), "f32 tensor of shape [2, 3] needs 24 bytes, got 28");
    let mut odd = content(&[2, 3], &[1.0; 6]);
    odd.tensor_content = odd.tensor_content.slice(..23);
    refuse_const(odd, "f32 tensor of shape [2, 3] needs 24 bytes, got 23");
}

#[test]
fn const_huge_declared_dims() {
    refuse_const(content(&[i64::MAX, 3], &[1.0]), "shape [9223372036854775807, 3] has too many elements");
    refuse_const(
        content(&[i64::MAX, 2], &[1.0]),
        "shape [9223372036854775807, 2] of f32 has more bytes than a file can",
    );
    refuse_const(content(&[1 << 62], &[1.0]), "shape [4611686018427387904] of f32 has more bytes than a file can");
    refuse_const(content(&[1 << 40], &[1.0]), "f32 tensor of shape [1099511627776] needs 4398046511104 bytes, got 4");
    refuse_const(content(&[-5, 2], &[1.0]), "tensor has dimension -5 in its shape");
    // One typed value repeated over a huge shape: refused before allocating.
    let fill = |dims: &[i64]| TensorProto {
        dtype: F32,
        tensor_shape: Some(shape(dims)),
        float_val: vec![1.0],
        ..Default::default()
    };
    refuse_const(fill(&[1 << 40]), "shape [1099511627776] would expand to 4398046511104 bytes from typed values");
    refuse_const(fill(&[1 << 28, 1 << 28]), "shape [268435456, 268435456] would expand to 288230376151711744 bytes");
    refuse_const(fill(&[1 << 31, 1 << 31]), "shape [2147483648, 2147483648] of f32 has more bytes than a file can");
    // No values at all means zeros: the same bound.
    let zeros = TensorProto { dtype: F32, tensor_shape: Some(shape(&[1 << 40])), ..Default::default() };
    refuse_const(zeros, "shape [1099511627776] would expand to 4398046511104 bytes");
    // A 1 MB string repeated 10,000 times.
    let strings = TensorProto {
        dtype: 7,
        tensor_shape: Some(shape(&[10_000])),
        string_val: vec![Bytes::from(vec![b'x'; 1 << 20])],
        ..Default::default()
    };
    refuse_const(strings, "shape [10000] would expand to 10486000000 bytes from typed values");
}

#[test]
fn const_unknown_dtype_codes() {
    for (code, expected) in [
        (77, "tensor has unknown dtype code 77".to_string()),
        (-1, "tensor has unknown dtype code -1".to_string()),
        (0, "tensor has unknown dtype code 0".to_string()),
        (20, "tensor has dtype DT_RESOURCE, which the IR cannot hold".to_string()),
        (11, "tensor has dtype DT_QINT8, which the IR cannot hold".to_string()),
    ] {
        let mut c = content(&[2, 3], &[1.0; 6]);
        c.dtype = code;
        refuse_const(c, &expected);
    }
}

#[test]
fn expansion_limit_refuses_just_over_and_loads_when_raised() {
    // Two constants of 150 floats from one value each: 1200 bytes expanded.
    let fill =
        TensorProto { dtype: F32, tensor_shape: Some(shape(&[150])), float_val: vec![0.5], ..Default::default() };
    let graph = GraphDef {
        node: vec![
            placeholder("x", &[150]),
            constant("a", fill.clone()),
            constant("b", fill),
            op("s", "AddV2", &["x", "a"]),
            op("y", "AddV2", &["s", "b"]),
        ],
        ..Default::default()
    };
    let (_tmp, path) = frozen_in_tmp(&graph);
    let msg =
        refuse_with(&path, Some("tf-frozen"), with_limits(Limits { max_inflated_bytes: 1199, ..Limits::default() }));
    assert!(
        msg.ends_with(
            "typed values expanded to shape [150]: decompressed bytes exceeds the limit of 1199 (raise it with --max-inflated-bytes N)"
        ),
        "{msg}"
    );
    converts(&path, "tf-frozen", with_limits(Limits { max_inflated_bytes: 1200, ..Limits::default() }));
}

// ---------------------------------------------------------------------------
// Frozen GraphDefs as bytes.

#[test]
fn frozen_graph_wrong_content() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.pb");
    std::fs::write(&path, b"\x0a\xff\xff\xff\xff\x0f").unwrap();
    refuse_saying(&path, Some("tf-frozen"), "model.pb: not a TensorFlow GraphDef: ");
    std::fs::write(&path, b"").unwrap();
    refuse_saying(&path, Some("tf-frozen"), "model.pb: the graph has no output");
}

/// Every cut of a real frozen graph: a cut at a node boundary is a smaller
/// valid graph (which may convert); any other cut is refused in one line.
#[test]
fn real_frozen_graph_truncated_at_sampled_offsets() {
    memory_cap();
    let (_tmp, dir) = fixture_copy("keras_cnn_frozen");
    let pb = dir.join("model.pb");
    let bytes = std::fs::read(&pb).unwrap();
    let registry = convert::registry();
    let out = tempfile::tempdir().unwrap();
    let mut refused = 0;
    for len in (0..bytes.len()).step_by(31) {
        std::fs::write(&pb, &bytes[..len]).unwrap();
        let opts = convert::ConvertOptions { from: Some("tf-frozen".into()), ..Default::default() };
        if let Err(e) = convert::convert(&registry, &pb, &out.path().join("out.onnx"), &opts) {
            let msg = e.to_string();
            assert!(!msg.contains('\n') && msg.starts_with(&pb.display().to_string()), "cut at {len}: {msg}");
            refused += 1;
        }
    }
    assert!(refused > 0);
}

// ---------------------------------------------------------------------------
// Attributes and declared shapes the lowering computes with.

fn ints(v: &[i64]) -> AttrValue {
    attr(attr_value::Value::List(attr_value::ListValue { i: v.to_vec(), ..Default::default() }))
}

fn string(s: &str) -> AttrValue {
    attr(attr_value::Value::S(Bytes::from(s.as_bytes().to_vec())))
}

/// `y = Conv2D(x, w)` (NHWC) with `x` declared `x_dims` and `attrs` set on the conv.
fn conv_graph(x_dims: &[i64], w_dims: &[i64], attrs: Vec<(&str, AttrValue)>) -> GraphDef {
    let numel: i64 = w_dims.iter().product();
    let mut conv = op("conv", "Conv2D", &["x", "w"]);
    conv.attr.insert("padding".into(), string("VALID"));
    conv.attr.insert("strides".into(), ints(&[1, 1, 1, 1]));
    for (k, v) in attrs {
        conv.attr.insert(k.into(), v);
    }
    GraphDef {
        node: vec![
            placeholder("x", x_dims),
            constant("w", content(w_dims, &vec![0.5; numel as usize])),
            conv,
            op("y", "Neg", &["conv"]),
        ],
        ..Default::default()
    }
}

#[test]
fn window_attributes_from_the_file() {
    let refuse_conv = |graph: GraphDef, expected: &str| {
        let (_tmp, path) = frozen_in_tmp(&graph);
        refuse_saying(&path, Some("tf-frozen"), &format!("model.pb: node 'conv' (Conv2D): {expected}"));
    };
    let (_tmp, path) = frozen_in_tmp(&conv_graph(&[1, 4, 4, 3], &[1, 1, 3, 2], vec![]));
    converts(&path, "tf-frozen", ImportOptions::default());
    let limits = "strides, dilations and kernel sizes must be in 1..=2147483647";
    refuse_conv(conv_graph(&[1, 4, 4, 3], &[1, 1, 3, 2], vec![("strides", ints(&[1, 1 << 40, 1, 1]))]), limits);
    refuse_conv(conv_graph(&[1, 4, 4, 3], &[1, 1, 3, 2], vec![("strides", ints(&[1, 0, 1, 1]))]), limits);
    refuse_conv(conv_graph(&[1, 4, 4, 3], &[1, 1, 3, 2], vec![("dilations", ints(&[1, i64::MAX, 1, 1]))]), limits);
    refuse_conv(
        conv_graph(&[1, 4, 4, 3], &[1, 1, 3, 2], vec![("strides", ints(&[1, 1, 1]))]),
        "attribute 'strides' has 3 entries, not 4",
    );
    refuse_conv(
        conv_graph(
            &[1, 4, 4, 3],
            &[1, 1, 3, 2],
            vec![("padding", string("EXPLICIT")), ("explicit_paddings", ints(&[0; 7]))],
        ),
        "explicit_paddings has 7 entries, not 8",
    );
    refuse_conv(conv_graph(&[1, 4, 4, 3], &[1, 3, 2], vec![]), "the filter 'w:0' needs a known 4-D shape");
    // SAME padding over declared sizes near i64::MAX, stride 2.
    refuse_conv(
        conv_graph(
            &[1, i64::MAX, i64::MAX, 3],
            &[1, 1, 3, 2],
            vec![("padding", string("SAME")), ("strides", ints(&[1, 2, 2, 1]))],
        ),
        &format!("input size {m}x{m} is too large for SAME padding", m = i64::MAX),
    );
    let mut pool = op("conv", "MaxPool", &["x"]);
    pool.attr.insert("ksize".into(), ints(&[1, 3, 3]));
    pool.attr.insert("padding".into(), string("VALID"));
    let graph =
        GraphDef { node: vec![placeholder("x", &[1, 4, 4, 3]), pool, op("y", "Neg", &["conv"])], ..Default::default() };
    let (_tmp, path) = frozen_in_tmp(&graph);
    refuse_saying(
        &path,
        Some("tf-frozen"),
        "model.pb: node 'conv' (MaxPool): ksize [1, 3, 3]: only spatial windows are supported",
    );
}

/// Declared shapes and constant operands the canonical ops reject: each is
/// refused in one line naming the file (or converts), never a panic.
#[test]
fn odd_shapes_and_operands_never_panic() {
    let i32s = |v: &[i32]| TensorProto {
        dtype: 3,
        tensor_shape: Some(shape(&[v.len() as i64])),
        int_val: v.to_vec(),
        ..Default::default()
    };
    let graphs = [
        // A transpose by a permutation that repeats an axis and names a missing one.
        GraphDef {
            node: vec![placeholder("x", &[2, 3]), constant("p", i32s(&[5, 5])), op("y", "Transpose", &["x", "p"])],
            ..Default::default()
        },
        // A reshape to two unknown sizes.
        GraphDef {
            node: vec![placeholder("x", &[2, 3]), constant("s", i32s(&[-1, -1])), op("y", "Reshape", &["x", "s"])],
            ..Default::default()
        },
        // Declared sizes near i64::MAX flowing into a broadcast and a reshape.
        GraphDef {
            node: vec![
                placeholder("x", &[i64::MAX, i64::MAX]),
                placeholder("z", &[i64::MAX, 3]),
                op("a", "AddV2", &["x", "z"]),
                constant("s", i32s(&[-1])),
                op("y", "Reshape", &["a", "s"]),
            ],
            ..Default::default()
        },
        // A slice whose begin vector declares more axes than the input has.
        GraphDef {
            node: vec![
                placeholder("x", &[2, 3]),
                placeholder("b", &[1 << 40]),
                placeholder("n", &[1 << 40]),
                op("y", "Slice", &["x", "b", "n"]),
            ],
            ..Default::default()
        },
        // A strided slice with every mask bit set.
        GraphDef {
            node: vec![
                placeholder("x", &[2, 3]),
                constant("b", i32s(&[0, 0])),
                constant("e", i32s(&[i32::MAX, i32::MAX])),
                constant("s", i32s(&[1, 1])),
                node(
                    "y",
                    "StridedSlice",
                    &["x", "b", "e", "s"],
                    vec![
                        ("T", type_attr(F32)),
                        ("shrink_axis_mask", attr(attr_value::Value::I(-1))),
                        ("new_axis_mask", attr(attr_value::Value::I(-1))),
                    ],
                ),
            ],
            ..Default::default()
        },
    ];
    memory_cap();
    for (k, graph) in graphs.iter().enumerate() {
        let (_tmp, path) = frozen_in_tmp(graph);
        let out = tempfile::tempdir().unwrap();
        let opts = convert::ConvertOptions { from: Some("tf-frozen".into()), ..Default::default() };
        if let Err(e) = convert::convert(&convert::registry(), &path, &out.path().join("out.onnx"), &opts) {
            let msg = e.to_string();
            assert!(!msg.contains('\n') && msg.starts_with(&path.display().to_string()), "graph {k}: {msg}");
        }
    }
}

// ---------------------------------------------------------------------------
// TF2 SavedModels: the object graphs that bind variables to calls.

const OBJECT_GRAPH: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";

fn entry_of(dir: &Path, key: &str) -> BundleEntryProto {
    let bytes = std::fs::read(index(dir)).unwrap();
    let row = table::read(&bytes, usize::MAX).unwrap().into_iter().find(|e| e.key == key.as_bytes()).unwrap();
    BundleEntryProto::decode(row.value.as_slice()).unwrap()
}

#[test]
fn checkpoint_object_graph_entry_damaged() {
    let (_tmp, dir) = fixture_copy("module_mlp");
    converts(&dir, "tf", ImportOptions::default());
    let original = entry_of(&dir, OBJECT_GRAPH);

    // Its string lengths claim more bytes than the entry holds.
    let mut e = original.clone();
    e.size = 3;
    e.crc32c = 0;
    patch_entry(&index(&dir), OBJECT_GRAPH, e.encode_to_vec());
    refuse_saying(&dir, Some("tf"), &format!("variables.data-00000-of-00001: key '{OBJECT_GRAPH}': "));

    // More strings than the entry has bytes (each needs a length byte).
    let mut e = original.clone();
    e.shape = Some(shape(&[original.size + 58]));
    e.crc32c = 0;
    patch_entry(&index(&dir), OBJECT_GRAPH, e.encode_to_vec());
    let expected =
        format!("key '{OBJECT_GRAPH}': {} strings cannot fit in {} bytes", original.size + 58, original.size);
    refuse_saying(&dir, Some("tf"), &expected);

    // Not a string at all.
    let mut e = original.clone();
    e.dtype = 4;
    e.shape = Some(shape(&[original.size]));
    e.crc32c = 0;
    patch_entry(&index(&dir), OBJECT_GRAPH, e.encode_to_vec());
    refuse_saying(&dir, Some("tf"), &format!("variables.index: key '{OBJECT_GRAPH}' is not a scalar string"));

    // Its bytes garbled: the serialized object graph does not decode.
    std::fs::copy(fixtures_dir().join("tf/module_mlp/variables/variables.index"), index(&dir)).unwrap();
    let data = shard(&dir);
    let shard_bytes = std::fs::read(&data).unwrap();
    let (start, end) = (original.offset as usize, (original.offset + original.size) as usize);
    let mut garbled = shard_bytes.clone();
    // Past the length varint (2 bytes) and its 4-byte checksum.
    for b in &mut garbled[start + 8..end] {
        *b = 0xff;
    }
    std::fs::write(&data, &garbled).unwrap();
    refuse_saying(&dir, Some("tf"), &format!("variables.index: {OBJECT_GRAPH} does not decode: "));
}

#[test]
fn object_graph_bindings_out_of_range_or_cyclic() {
    use fmt_tf::generated::tensorflow::SavedObjectReference;
    let (_tmp, dir) = fixture_copy("module_mlp");
    let pb = dir.join("saved_model.pb");
    let original = std::fs::read(&pb).unwrap();

    // Every captured input bound to an object id past the graph.
    let mut model = SavedModel::decode(original.as_slice()).unwrap();
    let objects = model.meta_graphs[0].object_graph_def.as_mut().unwrap();
    for f in objects.concrete_functions.values_mut() {
        for id in &mut f.bound_inputs {
            *id = i32::MAX;
        }
    }
    std::fs::write(&pb, model.encode_to_vec()).unwrap();
    refuse_saying(&dir, Some("tf"), "has no value in the checkpoint");

    // Every object its own child, and the root a child of each.
    let mut model = SavedModel::decode(original.as_slice()).unwrap();
    let objects = model.meta_graphs[0].object_graph_def.as_mut().unwrap();
    let n = objects.nodes.len() as i32;
    for (k, node) in objects.nodes.iter_mut().enumerate() {
        node.children = vec![
            SavedObjectReference { node_id: k as i32, local_name: "self".into() },
            SavedObjectReference { node_id: 0, local_name: "root".into() },
            SavedObjectReference { node_id: n + 5, local_name: "ghost".into() },
            SavedObjectReference { node_id: -1, local_name: "negative".into() },
        ];
    }
    std::fs::write(&pb, model.encode_to_vec()).unwrap();
    refuse_saying(&dir, Some("tf"), "has no value in the checkpoint");

    // A call binding more captured inputs than it passes.
    let mut model = SavedModel::decode(original.as_slice()).unwrap();
    let objects = model.meta_graphs[0].object_graph_def.as_mut().unwrap();
    for f in objects.concrete_functions.values_mut() {
        f.bound_inputs.extend(std::iter::repeat_n(0, 1000));
    }
    std::fs::write(&pb, model.encode_to_vec()).unwrap();
    refuse_saying(&dir, Some("tf"), "inputs but its function binds");
}

/// Files far larger than memory (sparse, so they cost no disk): the
/// importer maps them instead of reading them, so their size is never an
/// allocation. (The harness's snapshot would read them whole, so the
/// checks are made here.)
#[test]
fn sparse_files_larger_than_the_memory_cap() {
    memory_cap();
    for file in ["variables/variables.index", "saved_model.pb"] {
        let (_tmp, dir) = saved_in_tmp();
        let f = std::fs::OpenOptions::new().write(true).open(dir.join(file)).unwrap();
        f.set_len(3 << 30).unwrap();
        drop(f);
        let out = tempfile::tempdir().unwrap();
        let opts = convert::ConvertOptions { from: Some("tf".into()), ..Default::default() };
        let msg = match convert::convert(&convert::registry(), &dir, &out.path().join("out.onnx"), &opts) {
            Ok(_) => panic!("a 3 GiB {file} of zeros converted"),
            Err(e) => e.to_string(),
        };
        let path = dir.join(file).display().to_string();
        assert!(msg.starts_with(&format!("{path}: ")) && !msg.contains('\n'), "{msg}");
        // Mapping 3 GiB fails under the 2 GiB address-space cap; without the
        // cap the zeros are refused for what they are.
        let body = &msg[path.len() + 2..];
        assert!(
            body.starts_with("Cannot allocate memory")
                || body.starts_with("bad table magic")
                || body.starts_with("not a SavedModel protobuf"),
            "{msg}"
        );
        assert!(list_files(out.path()).is_empty());
    }
}
