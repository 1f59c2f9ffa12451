//! Bad inputs: every one must give an error (never a panic) whose message
//! starts with the path of the file concerned and says what is wrong.
//!
//! Models are read with `convert::load`, which runs the ONNX importer and
//! then `Graph::topo_sort` and `Graph::validate`. Hand-built models use the
//! generated prost types, so the bytes are exactly what a writer could emit.

use std::path::{Path, PathBuf};

use fmt_onnx::generated::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TypeProto, ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_shape_proto,
    type_proto,
};
use ir::{DType, Graph, ImportOptions, Model, Node, Shape, ValueInfo};
use prost::Message;
use workspace_tests::{case, list_files};

// ---------------------------------------------------------------------------
// Helpers.

/// Loads `path`, which must fail; returns the message after checking that it
/// is one line and starts with `"<path>: "`.
fn load_err(path: &Path) -> String {
    let registry = convert::registry();
    let result = convert::load(&registry, path, None, &ImportOptions::default());
    let msg = match result {
        Ok(_) => panic!("{} loaded although it is malformed", path.display()),
        Err(e) => e.to_string(),
    };
    let prefix = format!("{}: ", path.display());
    assert!(msg.starts_with(&prefix), "message does not start with the file path '{prefix}': {msg}");
    assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    msg
}

/// `load_err` and the message after the `"<path>: "` prefix.
fn load_err_body(path: &Path) -> String {
    let msg = load_err(path);
    msg[path.display().to_string().len() + 2..].to_string()
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn write_model(dir: &Path, m: &ModelProto) -> PathBuf {
    write_bytes(dir, "model.onnx", &m.encode_to_vec())
}

fn model(graph: GraphProto) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        producer_name: "malformed.rs".into(),
        graph: Some(graph),
        ..ModelProto::default()
    }
}

fn vi(name: &str, elem_type: i32, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::{Dimension, dimension::Value};
    let shape = fmt_onnx::generated::onnx::TensorShapeProto {
        dim: dims.iter().map(|&d| Dimension { denotation: String::new(), value: Some(Value::DimValue(d)) }).collect(),
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type, shape: Some(shape) })),
        }),
        ..ValueInfoProto::default()
    }
}

fn f32_vi(name: &str) -> ValueInfoProto {
    vi(name, 1, &[4])
}

fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..NodeProto::default()
    }
}

fn graph(nodes: Vec<NodeProto>, inputs: &[&str], outputs: &[&str]) -> GraphProto {
    GraphProto {
        name: "g".into(),
        node: nodes,
        input: inputs.iter().map(|n| f32_vi(n)).collect(),
        output: outputs.iter().map(|n| f32_vi(n)).collect(),
        ..GraphProto::default()
    }
}

/// A model `y = x + w` with `w` as given, for tensor-level cases.
fn model_with_initializer(w: TensorProto) -> ModelProto {
    let mut g = graph(vec![node("add", "Add", &["x", "w"], &["y"])], &["x"], &["y"]);
    g.initializer.push(w);
    model(g)
}

fn f32_tensor(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto { name: name.into(), data_type: 1, dims: dims.to_vec(), ..TensorProto::default() }
}

/// A `[4]` f32 tensor `w` stored externally with the given entries.
fn external_tensor(entries: &[(&str, &str)]) -> TensorProto {
    TensorProto {
        data_location: DataLocation::External as i32,
        external_data: entries
            .iter()
            .map(|(k, v)| StringStringEntryProto { key: k.to_string(), value: v.to_string() })
            .collect(),
        ..f32_tensor("w", &[4])
    }
}

fn graph_attr(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Graph as i32, g: Some(g), ..AttributeProto::default() }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Loads `path`, catching panics; `Err` holds the panic message.
fn load_no_panic(path: &Path) -> Result<Result<(), String>, String> {
    std::panic::catch_unwind(|| {
        let registry = convert::registry();
        convert::load(&registry, path, None, &ImportOptions::default()).map(|_| ()).map_err(|e| e.to_string())
    })
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

// ---------------------------------------------------------------------------
// Not a model at all.

#[test]
fn truncated_fixture_at_10_bytes_half_and_one_short() {
    let original = std::fs::read(case("mlp").model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [10, original.len() / 2, original.len() - 1] {
        let p = write_bytes(dir.path(), "model.onnx", &original[..cut]);
        let body = load_err_body(&p);
        assert!(body.starts_with("not a valid ONNX model: protobuf "), "cut at {cut}: {body}");
    }
}

#[test]
fn truncation_at_every_offset_never_panics() {
    // Small fixtures, so every prefix can be tried. A prefix ending on a field
    // boundary may be a valid (smaller) model; all others must fail cleanly.
    for name in ["ops_subgraph", "dynamic_batch"] {
        let original = std::fs::read(case(name).model).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.onnx");
        let prefix = format!("{}: ", p.display());
        let (mut panics, mut unnamed, mut failed) = (Vec::new(), Vec::new(), 0);
        for cut in 0..original.len() {
            std::fs::write(&p, &original[..cut]).unwrap();
            match load_no_panic(&p) {
                Err(panic) => panics.push(format!("cut at {cut}: {panic}")),
                Ok(Err(msg)) if !msg.starts_with(&prefix) => unnamed.push(format!("cut at {cut}: {msg}")),
                Ok(Err(_)) => failed += 1,
                Ok(Ok(())) => {}
            }
        }
        assert!(panics.is_empty(), "{name}: {} panic(s):\n{}", panics.len(), panics.join("\n"));
        assert!(unnamed.is_empty(), "{name}: messages not naming the file:\n{}", unnamed.join("\n"));
        assert!(failed > original.len() / 2, "{name}: only {failed} of {} prefixes were refused", original.len());
    }
}

#[test]
fn corrupting_any_single_byte_never_panics() {
    for name in ["ops_subgraph", "dynamic_batch"] {
        let original = std::fs::read(case(name).model).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.onnx");
        let prefix = format!("{}: ", p.display());
        let (mut panics, mut unnamed) = (Vec::new(), Vec::new());
        for at in 0..original.len() {
            for flip in [0xff, 0x80] {
                let mut bytes = original.clone();
                bytes[at] ^= flip;
                std::fs::write(&p, &bytes).unwrap();
                match load_no_panic(&p) {
                    Err(panic) => panics.push(format!("byte {at} ^ {flip:#x}: {panic}")),
                    Ok(Err(msg)) if !msg.starts_with(&prefix) => unnamed.push(format!("byte {at} ^ {flip:#x}: {msg}")),
                    _ => {}
                }
            }
        }
        assert!(panics.is_empty(), "{name}: {} panic(s):\n{}", panics.len(), panics.join("\n"));
        assert!(unnamed.is_empty(), "{name}: messages not naming the file:\n{}", unnamed.join("\n"));
    }
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(dir.path(), "model.onnx", b"");
    assert_eq!(load_err_body(&p), "file is empty");
}

#[test]
fn png_header_named_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00".to_vec();
    png.extend(noise(200, 7));
    let p = write_bytes(dir.path(), "model.onnx", &png);
    let body = load_err_body(&p);
    assert!(body.starts_with("not a valid ONNX model"), "{body}");
}

#[test]
fn random_bytes_named_onnx() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [1, 2, 3, 0x5eed] {
        let p = write_bytes(dir.path(), "model.onnx", &noise(4096, seed));
        let body = load_err_body(&p);
        assert!(body.starts_with("not a valid ONNX model"), "seed {seed}: {body}");
    }
}

#[test]
fn random_bytes_starting_like_onnx() {
    // First byte 0x08 (field 1, varint) makes detection say "ONNX by content".
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0x08, 0x08];
    bytes.extend(noise(4096, 42));
    let p = write_bytes(dir.path(), "model.onnx", &bytes);
    let body = load_err_body(&p);
    assert!(body.starts_with("not a valid ONNX model"), "{body}");
}

#[test]
fn text_file_named_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(dir.path(), "model.onnx", b"this is not a model, just some text\nwith two lines\n");
    let body = load_err_body(&p);
    assert!(body.starts_with("not a valid ONNX model"), "{body}");
}

#[test]
fn graph_proto_instead_of_model_proto() {
    let dir = tempfile::tempdir().unwrap();
    let g = graph(vec![node("relu", "Relu", &["x"], &["y"])], &["x"], &["y"]);
    let p = write_bytes(dir.path(), "model.onnx", &g.encode_to_vec());
    let body = load_err_body(&p);
    assert!(body.starts_with("not a valid ONNX model"), "{body}");
}

#[test]
fn model_without_graph_or_ir_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = model(GraphProto::default());
    m.graph = None;
    let p = write_model(dir.path(), &m);
    assert_eq!(load_err_body(&p), "not a valid ONNX model: no graph (field 7) in the ModelProto");

    let mut m = model(graph(vec![node("relu", "Relu", &["x"], &["y"])], &["x"], &["y"]));
    m.ir_version = 0;
    let p = write_model(dir.path(), &m);
    assert_eq!(load_err_body(&p), "not a valid ONNX model: ir_version (field 1) is missing");
}

#[test]
fn unknown_extension_and_content_asks_for_from() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(dir.path(), "weights.bin", &noise(64, 9));
    let registry = convert::registry();
    let msg = convert::load(&registry, &p, None, &ImportOptions::default()).err().unwrap().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: cannot tell the model format from its name or content; pass --from (one of: {})",
            p.display(),
            registry.importers().map(|i| i.info().name).collect::<Vec<_>>().join(", ")
        )
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.onnx");
    assert_eq!(load_err_body(&p), "no such file or directory");
}

#[test]
fn subgraphs_nested_too_deep_are_refused_without_overflowing_the_stack() {
    let leaf = graph(vec![node("leaf", "Identity", &["x"], &["y"])], &[], &["y"]);
    let mut g = leaf.clone();
    for depth in 0..80 {
        let mut n = node(&format!("if{depth}"), "If", &["cond"], &["y"]);
        n.attribute = vec![graph_attr("then_branch", g), graph_attr("else_branch", leaf.clone())];
        g = graph(vec![n], &[], &["y"]);
    }
    g.input = vec![vi("cond", 9, &[]), f32_vi("x")];
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), &model(g));
    let body = load_err_body(&p);
    assert!(body.starts_with("not a valid ONNX model: protobuf "), "{body}");
    assert!(body.contains("recursion limit"), "{body}");
}

// ---------------------------------------------------------------------------
// Absurd or inconsistent tensors.

#[test]
fn dims_whose_product_overflows() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), &model_with_initializer(f32_tensor("w", &[1 << 40, 1 << 40])));
    assert_eq!(load_err_body(&p), "initializer 'w' of graph 'g': dimensions [1099511627776, 1099511627776] overflow");
}

#[test]
fn huge_dims_without_data_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 2^40 elements announced, none stored: must fail on the count, not try to allocate 4 TiB.
    let p = write_model(dir.path(), &model_with_initializer(f32_tensor("w", &[1 << 40])));
    assert_eq!(
        load_err_body(&p),
        "initializer 'w' of graph 'g': f32 tensor of shape [1099511627776] needs 1099511627776 values in float_data, found 0"
    );
    let t = TensorProto { raw_data: vec![0u8; 4].into(), ..f32_tensor("w", &[1 << 40]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(
        load_err_body(&p),
        "initializer 'w' of graph 'g': f32 tensor of shape [1099511627776] needs 4398046511104 bytes of raw_data, found 4"
    );
    let t =
        TensorProto { data_type: 8, string_data: vec![bytes::Bytes::from_static(b"a")], ..f32_tensor("s", &[1 << 40]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(
        load_err_body(&p),
        "initializer 's' of graph 'g': string tensor of 1099511627776 elements has 1 strings"
    );
}

#[test]
fn raw_data_length_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let t = TensorProto { raw_data: vec![0u8; 23].into(), ..f32_tensor("w", &[2, 3]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(
        load_err_body(&p),
        "initializer 'w' of graph 'g': f32 tensor of shape [2, 3] needs 24 bytes of raw_data, found 23"
    );
    let t = TensorProto { float_data: vec![1.0; 5], ..f32_tensor("w", &[2, 3]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(
        load_err_body(&p),
        "initializer 'w' of graph 'g': f32 tensor of shape [2, 3] needs 6 values in float_data, found 5"
    );
}

#[test]
fn negative_dim() {
    let dir = tempfile::tempdir().unwrap();
    let t = TensorProto { raw_data: vec![0u8; 4].into(), ..f32_tensor("w", &[-1]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(load_err_body(&p), "initializer 'w' of graph 'g': negative dimension -1 in [-1]");
}

#[test]
fn unknown_data_type_code() {
    let dir = tempfile::tempdir().unwrap();
    let t = TensorProto { data_type: 99, raw_data: vec![0u8; 4].into(), ..f32_tensor("w", &[1]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    assert_eq!(load_err_body(&p), "initializer 'w' of graph 'g': unknown ONNX data type code 99");

    // In a value's type rather than a tensor.
    let mut g = graph(vec![node("relu", "Relu", &["x"], &["y"])], &[], &["y"]);
    g.input = vec![vi("x", 99, &[4])];
    let p = write_model(dir.path(), &model(g));
    assert_eq!(load_err_body(&p), "value 'x': unknown ONNX data type code 99");

    // Code 0 (UNDEFINED) is no type at all.
    let t = TensorProto { data_type: 0, raw_data: vec![0u8; 4].into(), ..f32_tensor("w", &[1]) };
    let p = write_model(dir.path(), &model_with_initializer(t));
    let body = load_err_body(&p);
    assert!(body.starts_with("initializer 'w' of graph 'g': ") && body.contains("UNDEFINED"), "{body}");
}

#[test]
fn bad_tensor_inside_a_node_attribute_names_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = node("const1", "Constant", &[], &["y"]);
    n.attribute = vec![AttributeProto {
        name: "value".into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(TensorProto { raw_data: vec![0u8; 3].into(), ..f32_tensor("", &[1]) }),
        ..AttributeProto::default()
    }];
    let p = write_model(dir.path(), &model(graph(vec![n], &[], &["y"])));
    assert_eq!(
        load_err_body(&p),
        "node 'const1' (Constant): attribute 'value': f32 tensor of shape [1] needs 4 bytes of raw_data, found 3"
    );
}

// ---------------------------------------------------------------------------
// Broken graphs (found by topo_sort / validate in convert::load).

#[test]
fn cyclic_graph_names_the_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![node("A", "Add", &["x", "b_out"], &["a_out"]), node("B", "Relu", &["a_out"], &["b_out"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["b_out"])));
    assert_eq!(load_err_body(&p), "graph has a cycle through node(s): A, B");

    // Unnamed nodes are named by position and op.
    let nodes = vec![node("", "Add", &["x", "b_out"], &["a_out"]), node("", "Relu", &["a_out"], &["b_out"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["b_out"])));
    assert_eq!(load_err_body(&p), "graph has a cycle through node(s): #0 (Add), #1 (Relu)");

    // A node reading its own output.
    let nodes = vec![node("self", "Add", &["x", "y"], &["y"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["y"])));
    assert_eq!(load_err_body(&p), "graph has a cycle through node(s): self");
}

#[test]
fn nodes_out_of_order_are_sorted_not_refused() {
    // Contrast with the cycle: B before A but no cycle is a valid model.
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![node("B", "Relu", &["a_out"], &["y"]), node("A", "Relu", &["x"], &["a_out"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["y"])));
    let registry = convert::registry();
    let (m, _) = convert::load(&registry, &p, None, &ImportOptions::default()).unwrap();
    let order: Vec<&str> = m.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(order, ["A", "B"]);
}

#[test]
fn dangling_value_names_node_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![node("relu1", "Relu", &["ghost"], &["y"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["y"])));
    assert_eq!(
        load_err_body(&p),
        "node 'relu1' reads value 'ghost', which no node, graph input or initializer defines"
    );
}

#[test]
fn dangling_value_in_a_subgraph_names_the_path_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut then = graph(vec![node("inner", "Identity", &["ghost2"], &["t_out"])], &[], &["t_out"]);
    then.name = "then".into();
    let mut els = graph(vec![node("inner_else", "Identity", &["x"], &["e_out"])], &[], &["e_out"]);
    els.name = "else".into();
    let mut n = node("if1", "If", &["cond"], &["y"]);
    n.attribute = vec![graph_attr("then_branch", then), graph_attr("else_branch", els)];
    let mut g = graph(vec![n], &["x"], &["y"]);
    g.input.insert(0, vi("cond", 9, &[]));
    let p = write_model(dir.path(), &model(g));
    assert_eq!(
        load_err_body(&p),
        "subgraph 'then' of node 'if1': node 'inner' reads value 'ghost2', which no node, graph input or initializer defines"
    );
}

#[test]
fn duplicate_value_definitions() {
    let dir = tempfile::tempdir().unwrap();
    // Two nodes writing the same value.
    let nodes = vec![node("r1", "Relu", &["x"], &["y"]), node("r2", "Neg", &["x"], &["y"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["y"])));
    assert_eq!(load_err_body(&p), "value 'y' is defined more than once");

    // A node output shadowing an initializer.
    let mut m = model_with_initializer(TensorProto { raw_data: vec![0u8; 16].into(), ..f32_tensor("w", &[4]) });
    m.graph.as_mut().unwrap().node.push(node("rw", "Relu", &["x"], &["w"]));
    let p = write_model(dir.path(), &m);
    assert_eq!(load_err_body(&p), "value 'w' is defined more than once");

    // Two graph inputs of one name.
    let nodes = vec![node("r", "Relu", &["x"], &["y"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x", "x"], &["y"])));
    assert_eq!(load_err_body(&p), "value 'x' is defined more than once");

    // Two initializers of one name: caught by the importer itself.
    let mut m = model_with_initializer(TensorProto { raw_data: vec![0u8; 16].into(), ..f32_tensor("w", &[4]) });
    m.graph.as_mut().unwrap().initializer.push(TensorProto { raw_data: vec![1u8; 16].into(), ..f32_tensor("w", &[4]) });
    let p = write_model(dir.path(), &m);
    assert_eq!(load_err_body(&p), "initializer 'w' is defined twice in graph 'g'");
}

#[test]
fn undefined_graph_output() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![node("r", "Relu", &["x"], &["y"])];
    let p = write_model(dir.path(), &model(graph(nodes, &["x"], &["y", "nowhere"])));
    assert_eq!(load_err_body(&p), "graph output 'nowhere' is not produced by any node, input or initializer");
}

// ---------------------------------------------------------------------------
// External data.

/// `root/secret.bin` (outside the model folder) and `root/m/` for the model.
fn external_layout() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("secret.bin"), [0x5au8; 16]).unwrap();
    let m = root.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("w.bin"), [1u8; 64]).unwrap();
    (root, m)
}

fn external_err(dir: &Path, entries: &[(&str, &str)]) -> String {
    let p = write_model(dir, &model_with_initializer(external_tensor(entries)));
    let body = load_err_body(&p);
    body.strip_prefix("initializer 'w' of graph 'g': ")
        .unwrap_or_else(|| panic!("message does not name the initializer: {body}"))
        .to_string()
}

#[test]
fn external_data_in_the_folder_loads() {
    // The control case for those below.
    let (_root, dir) = external_layout();
    let p = write_model(&dir, &model_with_initializer(external_tensor(&[("location", "w.bin"), ("offset", "16")])));
    let registry = convert::registry();
    let (m, _) = convert::load(&registry, &p, None, &ImportOptions::default()).unwrap();
    assert_eq!(m.graph.initializers["w"].raw().unwrap().as_bytes(), &[1u8; 16]);
}

#[test]
fn external_data_outside_the_folder_is_refused() {
    let (_root, dir) = external_layout();
    assert_eq!(
        external_err(&dir, &[("location", "../secret.bin")]),
        "external data location '../secret.bin' escapes the model's folder ('..' is not allowed)"
    );
    assert_eq!(
        external_err(&dir, &[("location", "sub/../../secret.bin")]),
        "external data location 'sub/../../secret.bin' escapes the model's folder ('..' is not allowed)"
    );
    assert_eq!(
        external_err(&dir, &[("location", "/etc/passwd")]),
        "external data location '/etc/passwd' is absolute; only paths relative to the model's folder are allowed"
    );
}

#[cfg(unix)]
#[test]
fn external_data_through_a_symlink_pointing_outside_is_refused() {
    let (root, dir) = external_layout();
    std::os::unix::fs::symlink(root.path().join("secret.bin"), dir.join("link.bin")).unwrap();
    assert_eq!(
        external_err(&dir, &[("location", "link.bin")]),
        "external data location 'link.bin' resolves (through a symbolic link) outside the model's folder"
    );
    std::os::unix::fs::symlink(root.path(), dir.join("up")).unwrap();
    assert_eq!(
        external_err(&dir, &[("location", "up/secret.bin")]),
        "external data location 'up/secret.bin' resolves (through a symbolic link) outside the model's folder"
    );
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    assert_eq!(
        external_err(&dir, &[("location", "passwd")]),
        "external data location 'passwd' resolves (through a symbolic link) outside the model's folder"
    );
}

#[test]
fn external_data_offset_past_the_end() {
    let (_root, dir) = external_layout();
    assert_eq!(
        external_err(&dir, &[("location", "w.bin"), ("offset", "4096")]),
        "external data 4096..4112 is past the end of 'w.bin' (64 bytes)"
    );
    // Partly inside.
    assert_eq!(
        external_err(&dir, &[("location", "w.bin"), ("offset", "60")]),
        "external data 60..76 is past the end of 'w.bin' (64 bytes)"
    );
    // offset + length overflows u64.
    assert_eq!(
        external_err(&dir, &[("location", "w.bin"), ("offset", &u64::MAX.to_string())]),
        format!("external data {}..{} is past the end of 'w.bin' (64 bytes)", u64::MAX, u64::MAX)
    );
}

#[test]
fn external_data_bad_entries() {
    let (_root, dir) = external_layout();
    assert_eq!(
        external_err(&dir, &[("location", "w.bin"), ("length", "8")]),
        "external data length 8 does not match the 16 bytes its dtype and shape need"
    );
    assert_eq!(
        external_err(&dir, &[("location", "w.bin"), ("offset", "x12")]),
        "external data offset 'x12' is not a number"
    );
    assert_eq!(external_err(&dir, &[("offset", "0")]), "external data has no 'location'");
}

#[test]
fn external_data_file_missing() {
    let (_root, dir) = external_layout();
    let msg = external_err(&dir, &[("location", "missing.bin")]);
    let expected_prefix = format!("external data: {}: ", dir.join("missing.bin").display());
    assert!(msg.starts_with(&expected_prefix), "expected '{expected_prefix}...', got: {msg}");
}

// ---------------------------------------------------------------------------
// Export of ops ONNX cannot hold.

fn model_with_foreign_ops() -> Model {
    let g = Graph {
        name: "g".into(),
        inputs: vec![ValueInfo::tensor("x", DType::F32, Shape::fixed(&[4]))],
        outputs: vec![ValueInfo::tensor("d", DType::F32, Shape::fixed(&[4]))],
        nodes: vec![
            Node::new("Erfc", ["x"], ["a"]).named("tf_erfc").in_domain("tf"),
            Node::new("Relu", ["a"], ["b"]).named("relu"),
            Node::new("Erfc", ["b"], ["c"]).named("tf_erfc_2").in_domain("tf"),
            Node::new("aten_gelu", ["c"], ["d"]).named("torch_gelu").in_domain("torch"),
        ],
        ..Graph::default()
    };
    Model::new(g)
}

const FOREIGN_OPS_MESSAGE: &str = "2 unsupported op type(s) for onnx: tf::Erfc (node 'tf_erfc' and 1 more), \
                                   torch::aten_gelu (node 'torch_gelu')";

#[test]
fn export_of_foreign_domain_ops_lists_op_domain_and_node() {
    let m = model_with_foreign_ops();
    let registry = convert::registry();
    let exporter = registry.exporter("onnx").unwrap();
    assert_eq!(exporter.check(&m).unwrap_err().to_string(), FOREIGN_OPS_MESSAGE);

    // export() checks too, before creating any file.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let e = exporter.export(&m, &out, &ir::ExportOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), FOREIGN_OPS_MESSAGE);
    assert!(list_files(dir.path()).is_empty(), "nothing written: {:?}", list_files(dir.path()));
}

#[test]
fn converting_an_onnx_file_with_tf_ops_to_onnx_fails_before_writing() {
    // The importer keeps unknown domains; the exporter must refuse them.
    let dir = tempfile::tempdir().unwrap();
    let mut m = model(graph(
        vec![NodeProto { domain: "tf".into(), ..node("tf_erfc", "Erfc", &["x"], &["y"]) }],
        &["x"],
        &["y"],
    ));
    m.opset_import.push(OperatorSetIdProto { domain: "tf".into(), version: 1 });
    let input = write_model(dir.path(), &m);
    let out = dir.path().join("out.onnx");
    let registry = convert::registry();
    let e = convert::convert(&registry, &input, &out, &convert::ConvertOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "1 unsupported op type(s) for onnx: tf::Erfc (node 'tf_erfc')");
    assert_eq!(list_files(dir.path()), [input], "no output or temp file is left");
}
