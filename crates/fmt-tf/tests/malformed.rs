//! Damaged SavedModels and GraphDefs: each gives one error line that names
//! the file and the problem, never a panic.

use std::path::{Path, PathBuf};

use fmt_tf::ParseOptions;
use fmt_tf::generated::tensorflow::{AttrValue, GraphDef, NameAttrList, NodeDef, SavedModel, attr_value};
use prost::Message;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tf").join(case)
}

/// A copy of a fixture folder (model files only) in a temporary directory.
fn copy(case: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(case);
    copy_dir(&fixture(case), &dir);
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The error of reading `dir`, checked to be one line starting with `file`.
fn error(dir: &Path, file: &Path) -> String {
    let err = fmt_tf::read_saved_model(dir, &ParseOptions::default()).unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
    let prefix = format!("{}: ", file.display());
    assert!(err.starts_with(&prefix), "{err} does not start with {prefix}");
    err[prefix.len()..].to_string()
}

fn index(dir: &Path) -> PathBuf {
    dir.join("variables/variables.index")
}

fn shard(dir: &Path) -> PathBuf {
    dir.join("variables/variables.data-00000-of-00001")
}

#[test]
fn truncated_index() {
    let (_tmp, dir) = copy("keras_cnn");
    let bytes = std::fs::read(index(&dir)).unwrap();
    std::fs::write(index(&dir), &bytes[..bytes.len() - 7]).unwrap();
    let msg = error(&dir, &index(&dir));
    assert!(msg.starts_with("bad table magic") && msg.contains("truncated"), "{msg}");
    std::fs::write(index(&dir), &bytes[..30]).unwrap();
    assert!(error(&dir, &index(&dir)).starts_with("truncated: 30 bytes"));
}

#[test]
fn wrong_block_crc() {
    let (_tmp, dir) = copy("module_mlp");
    let mut bytes = std::fs::read(index(&dir)).unwrap();
    // Byte 8 lies in the first data block (its first key).
    bytes[8] ^= 0x20;
    std::fs::write(index(&dir), &bytes).unwrap();
    let msg = error(&dir, &index(&dir));
    assert!(msg.starts_with("bad CRC in data block at offset 0: stored 0x"), "{msg}");
}

#[test]
fn shard_offset_past_the_end() {
    let (_tmp, dir) = copy("module_mlp");
    let bytes = std::fs::read(shard(&dir)).unwrap();
    std::fs::write(shard(&dir), &bytes[..bytes.len() / 2]).unwrap();
    let msg = error(&dir, &shard(&dir));
    assert!(msg.starts_with("key '") && msg.contains("are past the end of the"), "{msg}");
}

#[test]
fn missing_shard() {
    let (_tmp, dir) = copy("tf1_saved");
    std::fs::remove_file(shard(&dir)).unwrap();
    let msg = error(&dir, &index(&dir));
    assert_eq!(msg, format!("data shard {} is missing", shard(&dir).display()));
}

#[test]
fn missing_signature() {
    let options = ParseOptions { signature: "predict".into(), ..Default::default() };
    let dir = fixture("keras_cnn");
    let err = fmt_tf::read_saved_model(&dir, &options).unwrap_err().to_string();
    let pb = dir.join("saved_model.pb");
    assert_eq!(err, format!("{}: signature 'predict' not found; available: serve, serving_default", pb.display()));
}

#[test]
fn garbage_saved_model_pb() {
    let (_tmp, dir) = copy("tf1_saved");
    std::fs::write(dir.join("saved_model.pb"), b"\xff\xff\xff\xff garbage").unwrap();
    let msg = error(&dir, &dir.join("saved_model.pb"));
    assert!(msg.starts_with("not a SavedModel protobuf: "), "{msg}");
    std::fs::write(dir.join("saved_model.pb"), b"").unwrap();
    assert_eq!(error(&dir, &dir.join("saved_model.pb")), "the SavedModel has no MetaGraph");
}

fn call(name: &str, function: &str) -> NodeDef {
    let f = AttrValue {
        value: Some(attr_value::Value::Func(NameAttrList { name: function.into(), attr: Default::default() })),
    };
    NodeDef {
        name: name.into(),
        op: "PartitionedCall".into(),
        attr: [("f".to_string(), f)].into(),
        ..Default::default()
    }
}

#[test]
fn function_that_calls_itself() {
    let (_tmp, dir) = copy("module_mlp");
    let pb = dir.join("saved_model.pb");
    let mut model = SavedModel::decode(&std::fs::read(&pb).unwrap()[..]).unwrap();
    let library = model.meta_graphs[0].graph_def.as_mut().unwrap().library.as_mut().unwrap();
    // The model's own function (called by the signature wrapper) gets a call to itself.
    let inner = library
        .function
        .iter_mut()
        .find(|f| f.signature.as_ref().unwrap().name.starts_with("__inference___call__"))
        .unwrap();
    let name = inner.signature.as_ref().unwrap().name.clone();
    inner.node_def.push(call("again", &name));
    std::fs::write(&pb, model.encode_to_vec()).unwrap();
    let msg = error(&dir, &pb);
    assert_eq!(msg, format!("function '{name}' calls itself"));
}

#[test]
fn mutual_recursion_and_unknown_function_in_a_frozen_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.pb");
    let function = |name: &str, calls: &str| fmt_tf::generated::tensorflow::FunctionDef {
        signature: Some(fmt_tf::generated::tensorflow::OpDef { name: name.into(), ..Default::default() }),
        node_def: vec![call("c", calls)],
        ..Default::default()
    };
    let library =
        fmt_tf::generated::tensorflow::FunctionDefLibrary { function: vec![function("f", "g"), function("g", "f")] };
    let graph = GraphDef { node: vec![call("top", "f")], library: Some(library), ..Default::default() };
    std::fs::write(&path, graph.encode_to_vec()).unwrap();
    let err = fmt_tf::read_frozen(&path, &ParseOptions::default()).unwrap_err().to_string();
    assert_eq!(err, format!("{}: function 'f' calls itself (through g)", path.display()));

    let graph = GraphDef { node: vec![call("top", "missing")], ..Default::default() };
    std::fs::write(&path, graph.encode_to_vec()).unwrap();
    let err = fmt_tf::read_frozen(&path, &ParseOptions::default()).unwrap_err().to_string();
    assert_eq!(err, format!("{}: node 'top' calls function 'missing', which is not in the library", path.display()));
}

#[test]
fn missing_variables_folder() {
    let (_tmp, dir) = copy("module_mlp");
    std::fs::remove_dir_all(dir.join("variables")).unwrap();
    let msg = error(&dir, &dir.join("saved_model.pb"));
    assert!(msg.contains("needs ") && msg.ends_with("variables.index, which is missing"), "{msg}");
}

#[test]
fn garbage_frozen_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.pb");
    std::fs::write(&path, b"\x0a\xff\xff\xff\xff\x0f").unwrap();
    let err = fmt_tf::read_frozen(&path, &ParseOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: not a TensorFlow GraphDef: ", path.display())), "{err}");
    assert!(!err.contains('\n'));
}
