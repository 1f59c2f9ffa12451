//! Bad inputs: every one must give an error (never a panic) whose message
//! starts with the path of the file concerned and says what is wrong.
//!
//! Refusals go through `workspace_tests::hostile`: a full conversion to
//! ONNX (the importer, then `Graph::topo_sort` and `Graph::validate`) under
//! a 2 GiB address-space cap, which must leave no output behind and the
//! input untouched. Hand-built models use the generated prost types (or,
//! for nesting bombs too deep for prost to encode, wire bytes written
//! here), so the bytes are exactly what a writer could emit.

use std::path::{Path, PathBuf};

use fmt_onnx::generated::onnx::{
    AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, SparseTensorProto,
    StringStringEntryProto, TensorProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataLocation, tensor_shape_proto, type_proto,
};
use ir::{DType, Graph, ImportOptions, Model, Node, Shape, ValueInfo};
use prost::Message;
use workspace_tests::{case, hostile, list_files};

// ---------------------------------------------------------------------------
// Helpers.

/// Converts `path`, which must be refused ([`hostile::refuse_with`]: one
/// line, nothing left behind, input untouched, under the memory cap);
/// returns the message after checking that it starts with `"<path>: "`.
#[track_caller]
fn load_err_with(path: &Path, import: ImportOptions) -> String {
    let msg = hostile::refuse_with(path, None, import);
    let prefix = format!("{}: ", path.display());
    assert!(msg.starts_with(&prefix), "message does not start with the file path '{prefix}': {msg}");
    msg
}

/// [`load_err_with`] with the default import options.
#[track_caller]
fn load_err(path: &Path) -> String {
    load_err_with(path, ImportOptions::default())
}

/// `load_err` and the message after the `"<path>: "` prefix.
#[track_caller]
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
    // Refused from the wire bytes, before prost's own recursion limit is reached.
    assert_eq!(load_err_body(&p), "subgraphs: nesting depth exceeds the limit of 64 (raise it with --max-depth N)");
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

// ---------------------------------------------------------------------------
// ONNX: structurally wrong attributes and subgraphs.

fn attr_model(a: AttributeProto) -> ModelProto {
    let mut n = node("n1", "Relu", &["x"], &["y"]);
    n.attribute = vec![a];
    model(graph(vec![n], &["x"], &["y"]))
}

#[test]
fn onnx_attributes_without_their_value() {
    let dir = tempfile::tempdir().unwrap();
    for (ty, what) in [
        (AttributeType::Graph, "GRAPH attribute without a graph"),
        (AttributeType::Tensor, "TENSOR attribute without a tensor"),
        (AttributeType::SparseTensor, "SPARSE_TENSOR attribute without a tensor"),
        (AttributeType::TypeProto, "TYPE_PROTO attribute without a type"),
    ] {
        let a = AttributeProto { name: "a".into(), r#type: ty as i32, ..AttributeProto::default() };
        let p = write_model(dir.path(), &attr_model(a));
        assert_eq!(load_err_body(&p), format!("node 'n1' (Relu): attribute 'a': {what}"));
    }
    // A reference to a function attribute outside any function.
    let a = AttributeProto {
        name: "a".into(),
        r#type: AttributeType::Int as i32,
        ref_attr_name: "alpha".into(),
        ..AttributeProto::default()
    };
    let p = write_model(dir.path(), &attr_model(a));
    assert_eq!(
        load_err_body(&p),
        "node 'n1' (Relu): attribute 'a': attribute references (ref_attr_name) are only valid inside functions"
    );
}

#[test]
fn onnx_wrong_tensors_inside_attributes_and_sparse_initializers() {
    let dir = tempfile::tempdir().unwrap();
    // A TENSOR attribute whose tensor has a negative dim.
    let a = AttributeProto {
        name: "value".into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(TensorProto { raw_data: vec![0u8; 4].into(), ..f32_tensor("", &[-4]) }),
        ..AttributeProto::default()
    };
    let p = write_model(dir.path(), &attr_model(a));
    let body = load_err_body(&p);
    assert!(body.starts_with("node 'n1' (Relu): attribute 'value': ") && body.contains("negative dimension"), "{body}");
    // A sparse initializer without indices.
    let mut g = graph(vec![node("add", "Add", &["x", "s"], &["y"])], &["x"], &["y"]);
    g.sparse_initializer.push(fmt_onnx::generated::onnx::SparseTensorProto {
        values: Some(TensorProto { float_data: vec![1.0], ..f32_tensor("s", &[1]) }),
        indices: None,
        dims: vec![4],
    });
    let p = write_model(dir.path(), &model(g));
    let body = load_err_body(&p);
    assert!(
        body.starts_with("sparse initializer 's': ") && body.ends_with("sparse tensor without values or indices"),
        "{body}"
    );
}

#[test]
fn onnx_subgraph_reading_a_value_defined_later_is_a_cycle_or_dangling() {
    // The branch reads `y`, the If's own output: a value not defined before it.
    let dir = tempfile::tempdir().unwrap();
    let then = graph(vec![node("t", "Identity", &["y"], &["t_out"])], &[], &["t_out"]);
    let els = graph(vec![node("e", "Identity", &["x"], &["e_out"])], &[], &["e_out"]);
    let mut n = node("if1", "If", &["cond"], &["y"]);
    n.attribute = vec![graph_attr("then_branch", then), graph_attr("else_branch", els)];
    let mut g = graph(vec![n], &["x"], &["y"]);
    g.input.insert(0, vi("cond", 9, &[]));
    let p = write_model(dir.path(), &model(g));
    assert_eq!(load_err_body(&p), "graph has a cycle through node(s): if1");
}

// ---------------------------------------------------------------------------
// OpenVINO IR: structurally wrong files. Every error is one line naming the
// file, and (where a layer is at fault) the layer id, name and type.

/// A small valid IR: `y = Relu(Convolution(x, w))` with `w` from the `.bin`.
const OV_GOOD: &str = r#"<?xml version="1.0"?>
<net name="m" version="11">
  <layers>
    <layer id="0" name="x" type="Parameter" version="opset1">
      <data shape="1,1,4,4" element_type="f32"/>
      <output><port id="0" precision="FP32" names="x"><dim>1</dim><dim>1</dim><dim>4</dim><dim>4</dim></port></output>
    </layer>
    <layer id="1" name="w" type="Const" version="opset1">
      <data element_type="f32" shape="1,1,2,2" offset="0" size="16"/>
      <output><port id="0" precision="FP32"><dim>1</dim><dim>1</dim><dim>2</dim><dim>2</dim></port></output>
    </layer>
    <layer id="2" name="conv" type="Convolution" version="opset1">
      <data strides="1,1" dilations="1,1" pads_begin="0,0" pads_end="0,0" auto_pad="explicit"/>
      <input>
        <port id="0" precision="FP32"><dim>1</dim><dim>1</dim><dim>4</dim><dim>4</dim></port>
        <port id="1" precision="FP32"><dim>1</dim><dim>1</dim><dim>2</dim><dim>2</dim></port>
      </input>
      <output><port id="2" precision="FP32"><dim>1</dim><dim>1</dim><dim>3</dim><dim>3</dim></port></output>
    </layer>
    <layer id="3" name="relu" type="ReLU" version="opset1">
      <input><port id="0" precision="FP32"/></input>
      <output><port id="1" precision="FP32" names="y"/></output>
    </layer>
    <layer id="4" name="y" type="Result" version="opset1">
      <input><port id="0" precision="FP32"/></input>
    </layer>
  </layers>
  <edges>
    <edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>
    <edge from-layer="1" from-port="0" to-layer="2" to-port="1"/>
    <edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>
    <edge from-layer="3" from-port="1" to-layer="4" to-port="0"/>
  </edges>
</net>
"#;

/// Writes `xml` as `<name>.xml` with a 16-byte `.bin` of weights.
fn write_ov(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).unwrap();
    let w: Vec<u8> = [1f32, 0.0, 0.0, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(p.with_extension("bin"), w).unwrap();
    p
}

/// `OV_GOOD` with each `(from, to)` replacement applied; each `from` must occur.
fn ov_edit(edits: &[(&str, &str)]) -> String {
    let mut xml = OV_GOOD.to_string();
    for (from, to) in edits {
        assert!(xml.contains(from), "'{from}' is not in the model");
        xml = xml.replacen(from, to, 1);
    }
    xml
}

const CONV_W_PORT: &str =
    "<port id=\"1\" precision=\"FP32\"><dim>1</dim><dim>1</dim><dim>2</dim><dim>2</dim></port>\n      </input>";
const W_EDGE: &str = "<edge from-layer=\"1\" from-port=\"0\" to-layer=\"2\" to-port=\"1\"/>";

#[test]
fn openvino_good_file_loads() {
    // The control case for those below.
    let dir = tempfile::tempdir().unwrap();
    let p = write_ov(dir.path(), "good", OV_GOOD);
    let registry = convert::registry();
    let (m, fmt) = convert::load(&registry, &p, None, &ImportOptions::default()).unwrap();
    assert_eq!(fmt, "openvino");
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(ops, ["Conv", "Relu"]);
}

#[test]
fn openvino_convolution_with_one_input_port_is_an_error_not_a_panic() {
    // Issue 15: this panicked with "index out of bounds" in the Convolution rule.
    let dir = tempfile::tempdir().unwrap();
    let p = write_ov(dir.path(), "conv1", &ov_edit(&[(CONV_W_PORT, "</input>"), (W_EDGE, "")]));
    assert_eq!(load_err_body(&p), "layer id 2 ('conv', Convolution): 1 input port, but Convolution opset1 has 2");
}

#[test]
fn openvino_port_counts_are_checked_for_every_layer_type() {
    let dir = tempfile::tempdir().unwrap();
    let relu_out = "<output><port id=\"1\" precision=\"FP32\" names=\"y\"/></output>";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "relu_two_outputs",
            ov_edit(&[(relu_out, "<output><port id=\"1\" precision=\"FP32\" names=\"y\"/><port id=\"2\"/></output>")]),
            "layer id 3 ('relu', ReLU): 2 output ports, but ReLU opset1 has 1",
        ),
        (
            "conv_three_inputs",
            ov_edit(&[
                (CONV_W_PORT, "<port id=\"1\"/><port id=\"3\"/>\n      </input>"),
                ("</edges>", "<edge from-layer=\"1\" from-port=\"0\" to-layer=\"2\" to-port=\"3\"/></edges>"),
            ]),
            "layer id 2 ('conv', Convolution): 3 input ports, but Convolution opset1 has 2",
        ),
        (
            "result_without_input",
            ov_edit(&[
                ("<input><port id=\"0\" precision=\"FP32\"/></input>\n    </layer>\n  </layers>", "</layer></layers>"),
                ("<edge from-layer=\"3\" from-port=\"1\" to-layer=\"4\" to-port=\"0\"/>", ""),
            ]),
            "layer id 4 ('y', Result): 0 input ports, but Result opset1 has 1",
        ),
        (
            "const_without_output",
            ov_edit(&[
                (
                    "<output><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>1</dim><dim>2</dim><dim>2</dim></port></output>",
                    "",
                ),
                (CONV_W_PORT, "</input>"),
                (W_EDGE, ""),
            ]),
            "layer id 1 ('w', Const): 0 output ports, but Const opset1 has 1",
        ),
        (
            "parameter_with_an_input",
            ov_edit(&[
                (
                    "<data shape=\"1,1,4,4\" element_type=\"f32\"/>",
                    "<data shape=\"1,1,4,4\" element_type=\"f32\"/><input><port id=\"5\"/></input>",
                ),
                ("</edges>", "<edge from-layer=\"1\" from-port=\"0\" to-layer=\"0\" to-port=\"5\"/></edges>"),
            ]),
            "layer id 0 ('x', Parameter): 1 input port, but Parameter opset1 has 0",
        ),
        (
            "no_version",
            ov_edit(&[
                (CONV_W_PORT, "</input>"),
                (W_EDGE, ""),
                ("type=\"Convolution\" version=\"opset1\"", "type=\"Convolution\""),
            ]),
            "layer id 2 ('conv', Convolution): 1 input port, but Convolution (no version) has 2",
        ),
        (
            // MaxPool-8 has an indices output MaxPool-1 lacks.
            "maxpool8_one_output",
            ov_edit(&[(
                "type=\"ReLU\" version=\"opset1\">",
                "type=\"MaxPool\" version=\"opset8\"><data strides=\"1,1\" pads_begin=\"0,0\" pads_end=\"0,0\" kernel=\"1,1\"/>",
            )]),
            "layer id 3 ('relu', MaxPool): 1 output port, but MaxPool opset8 has 2",
        ),
    ];
    for (name, xml, want) in cases {
        let p = write_ov(dir.path(), name, &xml);
        assert_eq!(load_err_body(&p), want, "{name}");
    }
}

#[test]
fn openvino_wrong_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let conv_data =
        "<data strides=\"1,1\" dilations=\"1,1\" pads_begin=\"0,0\" pads_end=\"0,0\" auto_pad=\"explicit\"/>";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing_strides",
            ov_edit(&[(conv_data, "<data dilations=\"1,1\" pads_begin=\"0,0\" pads_end=\"0,0\"/>")]),
            "layer id 2 ('conv', Convolution): <data> has no 'strides' attribute",
        ),
        (
            "strides_not_ints",
            ov_edit(&[("strides=\"1,1\"", "strides=\"1,x\"")]),
            "layer id 2 ('conv', Convolution): strides='1,x' is not a list of integers",
        ),
        (
            "auto_pad_unknown",
            ov_edit(&[("auto_pad=\"explicit\"", "auto_pad=\"diagonal\"")]),
            "layer id 2 ('conv', Convolution): auto_pad='diagonal' is not supported",
        ),
        (
            "no_data_at_all",
            ov_edit(&[(conv_data, "")]),
            "layer id 2 ('conv', Convolution): <data> has no 'pads_begin' attribute",
        ),
        (
            "parameter_shape_negative",
            ov_edit(&[("shape=\"1,1,4,4\"", "shape=\"1,-3,4,4\"")]),
            "layer id 0 ('x', Parameter): shape '1,-3,4,4' is not a shape",
        ),
        (
            "parameter_without_type",
            ov_edit(&[(
                " element_type=\"f32\"/>\n      <output><port id=\"0\" precision=\"FP32\" names=\"x\">",
                "/>\n      <output><port id=\"0\" precision=\"FP32\" names=\"x\">",
            )]),
            "layer id 0 ('x', Parameter): <data> has no 'element_type' attribute",
        ),
        (
            "const_offset_not_a_number",
            ov_edit(&[("offset=\"0\"", "offset=\"zero\"")]),
            "layer id 1 ('w', Const): offset='zero' is not an integer",
        ),
        (
            "const_negative_size",
            ov_edit(&[("size=\"16\"", "size=\"-16\"")]),
            "layer id 1 ('w', Const): a Const needs non-negative 'offset' and 'size'",
        ),
        (
            "const_negative_dim",
            ov_edit(&[("shape=\"1,1,2,2\"", "shape=\"1,1,-2,2\"")]),
            "layer id 1 ('w', Const): shape '1,1,-2,2' is not a static shape",
        ),
        (
            // No element, but the dims' product still overflows: refused before any rule multiplies them.
            "const_huge_empty_dims",
            ov_edit(&[("shape=\"1,1,2,2\"", "shape=\"0,4294967296,4294967296\"")]),
            "layer id 1 ('w', Const): shape overflows",
        ),
        (
            "const_offset_far_past_the_end",
            ov_edit(&[("offset=\"0\"", "offset=\"9223372036854775807\"")]),
            "layer id 1 ('w', Const): offset 9223372036854775807 + size 16 is past the end of",
        ),
        (
            "const_size_past_the_end",
            ov_edit(&[("size=\"16\"", "size=\"17\"")]),
            "layer id 1 ('w', Const): offset 0 + size 17 is past the end of",
        ),
        (
            "convert_to_unknown_type",
            ov_edit(&[(
                "type=\"ReLU\" version=\"opset1\">",
                "type=\"Convert\" version=\"opset1\"><data destination_type=\"q3\"/>",
            )]),
            "layer id 3 ('relu', Convert): destination_type 'q3' is not supported",
        ),
    ];
    for (name, xml, want) in cases {
        let p = write_ov(dir.path(), name, &xml);
        let body = load_err_body(&p);
        assert!(body.starts_with(want), "{name}: got '{body}', want '{want}…'");
    }
}

#[test]
fn openvino_broken_graphs() {
    let dir = tempfile::tempdir().unwrap();
    let relu_edge = "<edge from-layer=\"2\" from-port=\"2\" to-layer=\"3\" to-port=\"0\"/>";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "edge_to_missing_layer",
            ov_edit(&[(relu_edge, "<edge from-layer=\"2\" from-port=\"2\" to-layer=\"9\" to-port=\"0\"/>")]),
            "edge to layer id 9 (from layer id 2): no such layer",
        ),
        (
            "edge_from_missing_layer",
            ov_edit(&[(relu_edge, "<edge from-layer=\"8\" from-port=\"2\" to-layer=\"3\" to-port=\"0\"/>")]),
            "edge from layer id 8 (to layer id 3): no such layer",
        ),
        (
            "edge_from_missing_port",
            ov_edit(&[(relu_edge, "<edge from-layer=\"2\" from-port=\"7\" to-layer=\"3\" to-port=\"0\"/>")]),
            "layer id 2 ('conv', Convolution): edge from port 7, which is not an output port of the layer",
        ),
        (
            "edge_to_missing_port",
            ov_edit(&[(relu_edge, "<edge from-layer=\"2\" from-port=\"2\" to-layer=\"3\" to-port=\"4\"/>")]),
            "layer id 3 ('relu', ReLU): edge to port 4, which is not an input port of the layer",
        ),
        ("dangling_input", ov_edit(&[(relu_edge, "")]), "layer id 3 ('relu', ReLU): input port 0 is not connected"),
        (
            "two_edges_into_one_port",
            ov_edit(&[("</edges>", "<edge from-layer=\"0\" from-port=\"0\" to-layer=\"3\" to-port=\"0\"/></edges>")]),
            "layer id 3 ('relu', ReLU): input port 0 has more than one incoming edge",
        ),
        ("duplicate_layer_id", ov_edit(&[("layer id=\"3\"", "layer id=\"2\"")]), "layer id 2 is used twice"),
        (
            "duplicate_port_id",
            ov_edit(&[("<output><port id=\"2\" precision", "<output><port id=\"1\" precision")]),
            "layer id 2 ('conv', Convolution): port id 1 is used twice",
        ),
        (
            "cycle",
            ov_edit(&[(
                "<edge from-layer=\"0\" from-port=\"0\" to-layer=\"2\" to-port=\"0\"/>",
                "<edge from-layer=\"3\" from-port=\"1\" to-layer=\"2\" to-port=\"0\"/>",
            )]),
            // The Result after the cycle cannot be placed either.
            "the graph has a cycle through layer id(s) 2, 3, 4",
        ),
    ];
    for (name, xml, want) in cases {
        let p = write_ov(dir.path(), name, &xml);
        assert_eq!(load_err_body(&p), want, "{name}");
    }
}

#[test]
fn openvino_duplicate_names_give_distinct_values() {
    // Tensor names `a`, `a` and a literal `a_1`: a generated `a_1` for the
    // second `a` must not collide with the third port's own name.
    let dir = tempfile::tempdir().unwrap();
    let xml = ov_edit(&[
        ("names=\"x\"", "names=\"a\""),
        ("<output><port id=\"2\" precision=\"FP32\">", "<output><port id=\"2\" precision=\"FP32\" names=\"a\">"),
        ("names=\"y\"", "names=\"a_1\""),
        ("name=\"relu\"", "name=\"x\""),
        ("name=\"y\" type=\"Result\"", "name=\"x\" type=\"Result\""),
    ]);
    let p = write_ov(dir.path(), "dup_names", &xml);
    let registry = convert::registry();
    let (m, _) = convert::load(&registry, &p, None, &ImportOptions::default()).unwrap();
    // Ports are named in topological order: the Convolution's `a` becomes
    // `a_1`, so the ReLU's literal `a_1` becomes `a_1_1`.
    assert_eq!(m.graph.inputs[0].name, "a");
    assert_eq!(m.graph.nodes[0].outputs, ["a_1"]);
    assert_eq!(m.graph.nodes[1].outputs, ["a_1_1"]);
    assert_eq!(m.graph.outputs[0].name, "a_1_1");
    let names: Vec<&str> = m.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["conv", "x"]);
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() { None } else { v.get(self.below(v.len())) }
    }
}

/// Values an attribute or dim may be changed to.
const GARBAGE: &[&str] = &[
    "",
    "x",
    "-1",
    "0",
    "1e400",
    "nan",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "4294967296,4294967296",
    "1,,2",
    "?",
    "true",
    "1..3",
    "...",
];

/// Applies one structure-aware mutation to `net`; returns what it did.
fn mutate(net: &mut fmt_openvino::xml::Net, kinds: &[String], rng: &mut Rng) -> String {
    let n_layers = net.layers.len();
    let li = rng.below(n_layers);
    match rng.below(10) {
        0 => {
            let l = &mut net.layers[li];
            let input = rng.below(2) == 0;
            let ports = if input { &mut l.inputs } else { &mut l.outputs };
            if ports.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(ports.len());
            let port = ports.remove(i).id;
            let id = l.id;
            // Mostly with its edges, as a writer that lost the port would.
            if rng.below(4) != 0 {
                net.edges.retain(|e| {
                    if input {
                        (e.to_layer, e.to_port) != (id, port)
                    } else {
                        (e.from_layer, e.from_port) != (id, port)
                    }
                });
            }
            format!("drop {} port {port} of layer {id}", if input { "input" } else { "output" })
        }
        1 if !net.edges.is_empty() => {
            let i = rng.below(net.edges.len());
            net.edges.remove(i);
            format!("drop edge {i}")
        }
        2 if !net.edges.is_empty() => {
            let i = rng.below(net.edges.len());
            let mut e = net.edges[i];
            // Half the time onto another layer's port, which may not exist.
            if rng.below(2) == 0 {
                e.to_layer = net.layers[li].id;
                e.to_port = rng.below(4) as u64;
            }
            net.edges.push(e);
            format!("duplicate edge {i} as {e:?}")
        }
        3 => {
            let l = &mut net.layers[li];
            let all: Vec<(bool, usize)> =
                (0..l.inputs.len()).map(|i| (true, i)).chain((0..l.outputs.len()).map(|i| (false, i))).collect();
            let Some(&(input, i)) = rng.pick(&all) else { return "nothing".into() };
            let id = rng.below(6) as u64;
            if input {
                l.inputs[i].id = id
            } else {
                l.outputs[i].id = id
            }
            format!("renumber port {i} of layer {} to {id}", l.id)
        }
        4 => {
            let l = &mut net.layers[li];
            if l.data.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(l.data.len());
            let k = l.data.get_index(i).map(|(k, _)| k.clone()).unwrap_or_default();
            l.data.shift_remove(&k);
            format!("delete '{k}' of layer {}", l.id)
        }
        5 | 6 => {
            let l = &mut net.layers[li];
            let g = rng.pick(GARBAGE).copied().unwrap_or_default().to_string();
            if l.data.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(l.data.len());
            let k = l.data.get_index(i).map(|(k, _)| k.clone()).unwrap_or_default();
            l.data.insert(k.clone(), g.clone());
            format!("set '{k}' of layer {} to '{g}'", l.id)
        }
        7 => {
            let l = &mut net.layers[li];
            let precisions = ["FP32", "FP16", "I64", "I32", "U8", "I4", "BOOL", "U1", "UNSPECIFIED", "garbage"];
            let p = rng.pick(&precisions).copied().unwrap_or_default().to_string();
            let Some(port) = l.outputs.first_mut().or(l.inputs.first_mut()) else { return "nothing".into() };
            port.precision = p.clone();
            // Sometimes a dim too.
            if !port.dims.is_empty() && rng.below(2) == 0 {
                let d = rng.below(port.dims.len());
                port.dims[d] = rng.pick(GARBAGE).copied().unwrap_or_default().to_string();
            }
            format!("precision of layer {} to {p}", l.id)
        }
        8 => {
            let l = &mut net.layers[li];
            let k = rng.pick(kinds).cloned().unwrap_or_default();
            let from = std::mem::replace(&mut l.kind, k.clone());
            format!("layer {} from {from} to {k}", l.id)
        }
        _ => {
            let l = &mut net.layers[li];
            let versions = ["opset1", "opset6", "opset8", "opset13", ""];
            l.version = rng.pick(&versions).copied().unwrap_or_default().to_string();
            format!("version of layer {} to '{}'", l.id, l.version)
        }
    }
}

#[test]
fn openvino_mutated_fixtures_never_panic() {
    let start = std::time::Instant::now();
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_tests::fixtures_dir().join("openvino"))
        .unwrap()
        .map(|e| e.unwrap().path().join("model.xml"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "OpenVINO fixtures: {files:?}");
    let (mut panics, mut unnamed, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut rng = Rng(0x005e_ed0f_0be1);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let original = fmt_openvino::xml::parse(&text, path).unwrap();
        let bin = ir::Buffer::map_file(&path.with_extension("bin")).unwrap();
        let mut kinds: Vec<String> = original.layers.iter().map(|l| l.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        let prefix = format!("{}: ", path.display());
        for _ in 0..60 {
            let mut net = original.clone();
            let what: Vec<String> = (0..1 + rng.below(3)).map(|_| mutate(&mut net, &kinds, &mut rng)).collect();
            let label = format!("{}: {}", path.display(), what.join("; "));
            // Through the writer and parser too, so stage one sees the mutation.
            let mut xml = String::new();
            fmt_openvino::xml::write(&net, &mut xml);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let net = fmt_openvino::xml::parse(&xml, path)?;
                let mut m = fmt_openvino::translate(&net, Some(&bin), path)?;
                // What `convert::load` checks after every importer.
                Ok::<_, ir::Error>((m.graph.topo_sort(), m.graph.validate()))
            }));
            match run {
                Err(p) => panics.push(format!(
                    "{label}: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
                Ok(Err(e)) => {
                    failed += 1;
                    let msg = e.to_string();
                    if !msg.starts_with(&prefix) && !matches!(e, ir::Error::UnsupportedOps { .. }) || msg.contains('\n')
                    {
                        unnamed.push(format!("{label}: {msg}"));
                    }
                }
                Ok(Ok((sorted, valid))) => {
                    ok += 1;
                    if let Err(e) = sorted.and(valid) {
                        invalid.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    assert!(panics.is_empty(), "{} panic(s):\n{}", panics.len(), panics.join("\n"));
    assert!(unnamed.is_empty(), "messages not naming the file:\n{}", unnamed.join("\n"));
    assert!(invalid.is_empty(), "imported but invalid:\n{}", invalid.join("\n"));
    // Most mutations break something; some (a changed precision, a deleted
    // optional attribute) leave a valid model.
    assert!(failed > ok && ok > 0, "{failed} refused, {ok} imported");
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{} mutants of {} fixtures: {failed} refused, {ok} imported, {secs:.1} s", failed + ok, files.len());
}

// ---------------------------------------------------------------------------
// safetensors: `--weights` files and the weights-only importer.

/// A safetensors file: the header's length (u64 LE), the header, the data.
fn safetensors_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Converts a model with an f32 `[4]` initializer `w`, loading `weights`;
/// it must fail with one line starting with `"<blamed>: "`. Returns the rest.
fn weights_err(dir: &Path, weights: &Path, blamed: &Path) -> String {
    hostile::memory_cap();
    let before = std::fs::read(weights).ok();
    let t = TensorProto { raw_data: vec![0u8; 16].into(), ..f32_tensor("w", &[4]) };
    let input = write_model(dir, &model_with_initializer(t));
    let opts = convert::ConvertOptions { weights: Some(weights.to_path_buf()), ..Default::default() };
    let registry = convert::registry();
    let msg = match convert::convert(&registry, &input, &dir.join("out.onnx"), &opts) {
        Ok(_) => panic!("{} was accepted as weights", weights.display()),
        Err(e) => e.to_string(),
    };
    let prefix = format!("{}: ", blamed.display());
    assert!(msg.starts_with(&prefix), "'{msg}' does not start with '{prefix}'");
    assert!(!msg.contains('\n'), "not one line: {msg:?}");
    assert!(!dir.join("out.onnx").exists(), "no output is written");
    let left: Vec<PathBuf> = list_files(dir).into_iter().filter(|p| p.to_string_lossy().contains("out.onnx")).collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
    assert_eq!(std::fs::read(weights).ok(), before, "{} was modified", weights.display());
    msg[prefix.len()..].to_string()
}

#[test]
fn safetensors_structurally_wrong_files() {
    let dir = tempfile::tempdir().unwrap();
    let w16 = [0u8; 16];
    let f32_4 = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("short", vec![1, 2, 3]),
        ("header_past_the_end", {
            let mut v = 4096u64.to_le_bytes().to_vec();
            v.extend_from_slice(b"{}");
            v
        }),
        ("header_length_huge", u64::MAX.to_le_bytes().to_vec()),
        ("not_json", safetensors_bytes("{\"w\": [1, 2", &w16)),
        ("not_an_object", safetensors_bytes("[1, 2, 3]", &w16)),
        ("unknown_dtype", safetensors_bytes(&f32_4.replace("F32", "Q9"), &w16)),
        ("negative_dim", safetensors_bytes(&f32_4.replace("[4]", "[-4]"), &w16)),
        ("huge_dims", safetensors_bytes(&f32_4.replace("[4]", "[4294967296,4294967296,4294967296]"), &w16)),
        ("offsets_past_the_end", safetensors_bytes(&f32_4.replace("[0,16]", "[0,32]"), &w16)),
        ("offsets_reversed", safetensors_bytes(&f32_4.replace("[0,16]", "[16,0]"), &w16)),
        ("offsets_not_the_shape", safetensors_bytes(&f32_4.replace("[4]", "[3]"), &w16)),
        ("offsets_missing", safetensors_bytes(&f32_4.replace(",\"data_offsets\":[0,16]", ""), &w16)),
        ("data_after_the_tensors", safetensors_bytes(f32_4, &[0u8; 20])),
        (
            "overlapping_tensors",
            safetensors_bytes(
                r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"v":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
                &w16,
            ),
        ),
    ];
    for (name, bytes) in cases {
        let p = write_bytes(dir.path(), &format!("{name}.safetensors"), &bytes);
        // As `--weights`, and through the importer.
        let body = weights_err(dir.path(), &p, &p);
        assert!(body.starts_with("not a valid safetensors file: "), "{name}: {body}");
        let e = match load_no_panic(&p) {
            Ok(Err(e)) => e,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(e, format!("{}: {body}", p.display()), "{name}");
    }
}

#[test]
fn safetensors_weights_of_the_wrong_dtype_or_shape() {
    let dir = tempfile::tempdir().unwrap();
    let header = r#"{"w":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}}"#;
    let p = write_bytes(dir.path(), "w.safetensors", &safetensors_bytes(header, &[0u8; 32]));
    assert_eq!(weights_err(dir.path(), &p, &p), "1 weight(s) do not match the graph: 'w' graph f32[4] vs file f64[4]");
    let header = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let p = write_bytes(dir.path(), "w.safetensors", &safetensors_bytes(header, &[0u8; 16]));
    assert_eq!(
        weights_err(dir.path(), &p, &p),
        "1 weight(s) do not match the graph: 'w' graph f32[4] vs file f32[2, 2]"
    );
}

#[test]
fn safetensors_broken_shard_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shard = |name: &str, tensor: &str| {
        let header = format!(r#"{{"{tensor}":{{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}}}"#);
        write_bytes(d, name, &safetensors_bytes(&header, &[0u8; 16]))
    };
    let a = shard("a.safetensors", "w");
    shard("b.safetensors", "w");
    let index = |text: &str| write_bytes(d, "model.safetensors.index.json", text.as_bytes());
    let p = index("{\"weight_map\": ");
    assert!(weights_err(d, &p, &p).starts_with("not JSON: "));
    let p = index(r#"{"weight_map": ["a.safetensors"]}"#);
    assert_eq!(weights_err(d, &p, &p), "no \"weight_map\" object");
    let p = index(r#"{"weight_map": {"w": 7}}"#);
    assert_eq!(weights_err(d, &p, &p), "weight_map['w'] is not a string");
    let p = index(r#"{"weight_map": {"w": "../outside.safetensors"}}"#);
    assert!(weights_err(d, &p, &p).starts_with("weight_map['w']: "));
    // A missing shard and a tensor in two shards name the shard.
    let p = index(r#"{"weight_map": {"w": "missing.safetensors"}}"#);
    let missing = d.join("missing.safetensors");
    weights_err(d, &p, &missing);
    // (Keys in file order and in sorted order agree, so `b` is read second either way.)
    let p = index(r#"{"weight_map": {"v": "a.safetensors", "w": "b.safetensors"}}"#);
    assert_eq!(weights_err(d, &p, &d.join("b.safetensors")), "tensor 'w' appears in two shards");
    // A broken shard names itself.
    std::fs::write(&a, b"garbage").unwrap();
    let p = index(r#"{"weight_map": {"w": "a.safetensors"}}"#);
    assert!(weights_err(d, &p, &a).starts_with("not a valid safetensors file: "));
}

// ---------------------------------------------------------------------------
// Issue 18: limits (nesting, tensor count), self-recursive functions, bombs.

/// `ImportOptions` with `limits`.
fn with_limits(limits: ir::Limits) -> ImportOptions {
    ImportOptions { limits, ..ImportOptions::default() }
}

/// Loads `path` with `limits`, which must succeed.
fn loads_with(path: &Path, limits: ir::Limits) -> Model {
    let registry = convert::registry();
    convert::load(&registry, path, None, &with_limits(limits))
        .unwrap_or_else(|e| panic!("{} does not load with {limits:?}: {e}", path.display()))
        .0
}

/// A valid model whose main graph holds `levels` `If`s nested through their
/// `then_branch`es: its deepest subgraph is `levels` deep.
fn nested_ifs(levels: usize) -> ModelProto {
    let mut g = graph(vec![node("leaf", "Identity", &["x"], &["y0"])], &[], &["y0"]);
    for k in 1..=levels {
        let other =
            graph(vec![node(&format!("e{k}"), "Identity", &["x"], &[&format!("e{k}")])], &[], &[&format!("e{k}")]);
        let mut n = node(&format!("if{k}"), "If", &["cond"], &[&format!("y{k}")]);
        n.attribute = vec![graph_attr("then_branch", g), graph_attr("else_branch", other)];
        g = graph(vec![n], &[], &[&format!("y{k}")]);
    }
    g.input = vec![vi("cond", 9, &[]), f32_vi("x")];
    model(g)
}

#[test]
fn onnx_subgraph_depth_limit_names_the_flag_and_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), &nested_ifs(5));
    let limits = ir::Limits { max_depth: 4, ..ir::Limits::default() };
    assert_eq!(
        load_err_body_with(&p, with_limits(limits)),
        "subgraphs: nesting depth exceeds the limit of 4 (raise it with --max-depth N)"
    );
    let m = loads_with(&p, ir::Limits { max_depth: 5, ..ir::Limits::default() });
    assert_eq!(m.graph.nodes.len(), 1);
    loads_with(&p, ir::Limits::default());
}

/// Protobuf wire helpers, for messages nested deeper than prost can encode
/// on a test thread's stack.
fn wire_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn wire_bytes(field: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    wire_varint(field << 3 | 2, &mut out);
    wire_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

#[test]
fn onnx_ten_thousand_nested_subgraphs_are_refused_naming_the_flag() {
    // GraphProto.node(1) → NodeProto.attribute(5) → AttributeProto.g(6), 10,000 times.
    let mut g: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        let mut attr = wire_bytes(1, b"then_branch");
        wire_varint(20 << 3, &mut attr);
        wire_varint(AttributeType::Graph as u64, &mut attr);
        attr.extend(wire_bytes(6, &g));
        let mut n = wire_bytes(4, b"If");
        n.extend(wire_bytes(5, &attr));
        g = wire_bytes(1, &n);
    }
    let mut m = vec![1 << 3, 8]; // ir_version 8
    m.extend(wire_bytes(7, &g));
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(dir.path(), "bomb.onnx", &m);
    assert_eq!(load_err_body(&p), "subgraphs: nesting depth exceeds the limit of 64 (raise it with --max-depth N)");
}

#[test]
fn onnx_tensor_count_limit_names_the_flag_and_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = model_with_initializer(TensorProto { raw_data: vec![0u8; 16].into(), ..f32_tensor("w", &[4]) });
    let g = m.graph.as_mut().unwrap();
    for i in 0..4 {
        g.initializer.push(TensorProto { raw_data: vec![0u8; 4].into(), ..f32_tensor(&format!("unused{i}"), &[1]) });
    }
    // 5 initializers, 1 node, 1 input, 1 output: 8 entries.
    let p = write_model(dir.path(), &m);
    let limits = ir::Limits { max_tensors: 7, ..ir::Limits::default() };
    assert_eq!(
        load_err_body_with(&p, with_limits(limits)),
        "entries (tensors, nodes, attributes, value infos): tensor count exceeds the limit of 7 \
         (raise it with --max-tensors N)"
    );
    let m = loads_with(&p, ir::Limits { max_tensors: 8, ..ir::Limits::default() });
    assert_eq!(m.graph.initializers.len(), 5);
}

#[test]
fn onnx_a_million_empty_initializers_are_refused_before_decoding() {
    // Two bytes each on the wire, a few hundred bytes each once decoded.
    let mut g = Vec::new();
    for _ in 0..1_000_001 {
        g.extend_from_slice(&[5 << 3 | 2, 0]);
    }
    let mut m = vec![1 << 3, 8];
    m.extend(wire_bytes(7, &g));
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(dir.path(), "many.onnx", &m);
    assert_eq!(
        load_err_body(&p),
        "entries (tensors, nodes, attributes, value infos): tensor count exceeds the limit of 1000000 \
         (raise it with --max-tensors N)"
    );
}

/// A model-local function `name` whose one node calls each of `calls`.
fn function(name: &str, calls: &[&str]) -> FunctionProto {
    FunctionProto {
        name: name.into(),
        domain: "local".into(),
        input: vec!["a".into()],
        output: vec!["b".into()],
        node: calls.iter().map(|c| NodeProto { domain: "local".into(), ..node(c, c, &["a"], &["b"]) }).collect(),
        ..FunctionProto::default()
    }
}

fn model_with_functions(functions: Vec<FunctionProto>) -> ModelProto {
    let first = functions[0].name.clone();
    let mut m = model(graph(
        vec![NodeProto { domain: "local".into(), ..node("call", &first, &["x"], &["y"]) }],
        &["x"],
        &["y"],
    ));
    m.opset_import.push(OperatorSetIdProto { domain: "local".into(), version: 1 });
    m.functions = functions;
    m
}

#[test]
fn onnx_functions_calling_themselves_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), &model_with_functions(vec![function("f", &["f"])]));
    assert_eq!(load_err_body(&p), "model-local function 'f' calls itself");
    let p = write_model(
        dir.path(),
        &model_with_functions(vec![function("f", &["g"]), function("g", &["h", "f"]), function("h", &[])]),
    );
    assert_eq!(load_err_body(&p), "model-local functions call each other in a cycle: f -> g -> f");
    // A call hidden in a subgraph attribute of a function's node counts too.
    let mut inner = function("f", &[]);
    let mut n = node("if", "If", &["c"], &["b"]);
    n.attribute = vec![graph_attr(
        "then_branch",
        graph(vec![NodeProto { domain: "local".into(), ..node("again", "f", &["a"], &["b"]) }], &[], &["b"]),
    )];
    inner.node = vec![n];
    let p = write_model(dir.path(), &model_with_functions(vec![inner]));
    assert_eq!(load_err_body(&p), "model-local function 'f' calls itself");
}

#[test]
fn onnx_function_call_chains_deeper_than_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..10_000).map(|i| format!("f{i}")).collect();
    let functions: Vec<FunctionProto> = names
        .iter()
        .enumerate()
        .map(|(i, n)| function(n, &names.get(i + 1).map(|c| vec![c.as_str()]).unwrap_or_default()))
        .collect();
    let p = write_model(dir.path(), &model_with_functions(functions));
    assert_eq!(
        load_err_body(&p),
        "model-local function calls: nesting depth exceeds the limit of 64 (raise it with --max-depth N)"
    );
    // A short chain, just over a lowered limit, then under a raised one:
    // past the depth check, the functions are refused as unsupported.
    let functions = vec![function("a", &["b"]), function("b", &["c"]), function("c", &[])];
    let p = write_model(dir.path(), &model_with_functions(functions));
    let limits = |d| with_limits(ir::Limits { max_depth: d, ..ir::Limits::default() });
    assert_eq!(
        load_err_body_with(&p, limits(1)),
        "model-local function calls: nesting depth exceeds the limit of 1 (raise it with --max-depth N)"
    );
    assert_eq!(load_err_body_with(&p, limits(2)), "model-local functions are not supported yet: a, b, c");
}

#[test]
fn onnx_sparse_initializers_with_indices_outside_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    let values = TensorProto { raw_data: vec![0u8; 8].into(), ..f32_tensor("s", &[2]) };
    let indices = |dims: &[i64], v: &[i64]| TensorProto {
        data_type: 7,
        dims: dims.to_vec(),
        raw_data: v.iter().flat_map(|i| i.to_le_bytes()).collect::<Vec<u8>>().into(),
        ..TensorProto::default()
    };
    let cases: Vec<(&str, SparseTensorProto, &str)> = vec![
        (
            "linear_past_the_end",
            SparseTensorProto { values: Some(values.clone()), indices: Some(indices(&[2], &[1, 10])), dims: vec![4] },
            "sparse initializer 's': index 10 is outside the 4 elements of shape [4]",
        ),
        (
            "negative_index",
            SparseTensorProto { values: Some(values.clone()), indices: Some(indices(&[2], &[-1, 0])), dims: vec![4] },
            "sparse initializer 's': index -1 is outside the 4 elements of shape [4]",
        ),
        (
            "coordinate_past_its_dim",
            SparseTensorProto {
                values: Some(values.clone()),
                indices: Some(indices(&[2, 2], &[0, 0, 1, 3])),
                dims: vec![2, 3],
            },
            "sparse initializer 's': coordinate 3 is outside dimension 3 of shape [2, 3]",
        ),
        (
            "indices_of_the_wrong_shape",
            SparseTensorProto { values: Some(values.clone()), indices: Some(indices(&[3], &[0, 1, 2])), dims: vec![4] },
            "sparse initializer 's': indices of shape [3] for 2 values of rank 1",
        ),
        (
            "dense_shape_too_large",
            SparseTensorProto {
                values: Some(values.clone()),
                indices: Some(indices(&[2], &[0, 1])),
                dims: vec![1 << 61, 2],
            },
            "sparse initializer 's': dense shape [2305843009213693952, 2] of f32 is too large",
        ),
    ];
    for (name, s, want) in cases {
        let mut m = model_with_initializer(TensorProto { raw_data: vec![0u8; 16].into(), ..f32_tensor("w", &[4]) });
        m.graph.as_mut().unwrap().sparse_initializer.push(s);
        let p = write_bytes(dir.path(), &format!("{name}.onnx"), &m.encode_to_vec());
        assert_eq!(load_err_body(&p), want, "{name}");
    }
}

/// [`load_err_with`] and the message after the `"<path>: "` prefix.
#[track_caller]
fn load_err_body_with(path: &Path, import: ImportOptions) -> String {
    let msg = load_err_with(path, import);
    msg[path.display().to_string().len() + 2..].to_string()
}

// OpenVINO IR.

#[test]
fn openvino_weights_that_disagree_with_shape_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "size_below_shape_times_type",
            ov_edit(&[("size=\"16\"", "size=\"8\"")]),
            "layer id 1 ('w', Const): size 8 is less than the 16 bytes of 4 f32 values",
        ),
        (
            "wider_type_than_the_bytes",
            ov_edit(&[("element_type=\"f32\" shape=\"1,1,2,2\"", "element_type=\"f64\" shape=\"1,1,2,2\"")]),
            "layer id 1 ('w', Const): size 16 is less than the 32 bytes of 4 f64 values",
        ),
        (
            "u64_max_dim",
            ov_edit(&[("shape=\"1,1,2,2\"", "shape=\"18446744073709551615,2\"")]),
            "layer id 1 ('w', Const): shape overflows",
        ),
        (
            "dims_product_overflows",
            ov_edit(&[("shape=\"1,1,2,2\"", "shape=\"4294967296,4294967296,2\"")]),
            "layer id 1 ('w', Const): shape overflows",
        ),
        (
            "offset_u64_max",
            ov_edit(&[("offset=\"0\"", "offset=\"18446744073709551615\"")]),
            "layer id 1 ('w', Const): offset='18446744073709551615' is not an integer",
        ),
        (
            "offset_plus_size_overflows_i64",
            ov_edit(&[
                ("offset=\"0\"", "offset=\"9223372036854775807\""),
                ("size=\"16\"", "size=\"9223372036854775807\""),
            ]),
            "layer id 1 ('w', Const): offset 9223372036854775807 + size 9223372036854775807 is past the end of",
        ),
        (
            "parameter_u64_max_dim",
            ov_edit(&[("shape=\"1,1,4,4\"", "shape=\"1,18446744073709551616,4,4\"")]),
            "layer id 0 ('x', Parameter): shape '1,18446744073709551616,4,4' is not a shape",
        ),
    ];
    for (name, xml, want) in cases {
        let p = write_ov(dir.path(), name, &xml);
        let body = load_err_body(&p);
        assert!(body.starts_with(want), "{name}: got '{body}', want '{want}…'");
    }
}

#[test]
fn openvino_weights_file_missing_or_a_symlink_out_of_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_ov(dir.path(), "nobin", OV_GOOD);
    std::fs::remove_file(p.with_extension("bin")).unwrap();
    assert_eq!(load_err_body(&p), format!("the weights file {} is missing", p.with_extension("bin").display()));

    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.bin");
    std::fs::write(&secret, [0u8; 16]).unwrap();
    let p = write_ov(dir.path(), "linked", OV_GOOD);
    std::fs::remove_file(p.with_extension("bin")).unwrap();
    std::os::unix::fs::symlink(&secret, p.with_extension("bin")).unwrap();
    assert_eq!(
        load_err_body(&p),
        "the weights file: location 'linked.bin' resolves (through a symbolic link) outside the model's folder"
    );
}

#[test]
fn openvino_cyclic_edges_through_one_layer() {
    // A layer reading its own output.
    let dir = tempfile::tempdir().unwrap();
    let relu_in = "<edge from-layer=\"2\" from-port=\"2\" to-layer=\"3\" to-port=\"0\"/>";
    let xml = ov_edit(&[(relu_in, "<edge from-layer=\"3\" from-port=\"1\" to-layer=\"3\" to-port=\"0\"/>")]);
    let p = write_ov(dir.path(), "self_loop", &xml);
    assert!(load_err_body(&p).starts_with("the graph has a cycle through layer id(s) 3"), "{}", load_err_body(&p));
}

/// An IR whose one `kind` layer (`Loop`, `TensorIterator`) nests `levels`
/// bodies, each holding one such layer.
fn ov_body_bomb(kind: &str, levels: usize) -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<net name=\"bomb\" version=\"11\"><layers>");
    for i in 0..levels {
        xml.push_str(&format!("<layer id=\"{i}\" name=\"l{i}\" type=\"{kind}\" version=\"opset5\"><body><layers>"));
    }
    for _ in 0..levels {
        xml.push_str("</layers><edges/></body></layer>");
    }
    xml.push_str("</layers><edges/></net>\n");
    xml
}

#[test]
fn openvino_body_nesting_bomb_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["Loop", "TensorIterator"] {
        let p = write_ov(dir.path(), kind, &ov_body_bomb(kind, 10_000));
        let body = load_err_body(&p);
        assert!(
            body.ends_with("<body>: nesting depth exceeds the limit of 64 (raise it with --max-depth N)"),
            "{kind}: {body}"
        );
    }
}

#[test]
fn openvino_body_depth_limit_can_be_raised() {
    // A valid IR with bodies 3 deep: ONNX nested Ifs through the exporter.
    let dir = tempfile::tempdir().unwrap();
    let onnx = write_model(dir.path(), &nested_ifs(3));
    let xml = dir.path().join("nested.xml");
    let registry = convert::registry();
    convert::convert(&registry, &onnx, &xml, &convert::ConvertOptions::default()).unwrap();
    let limits = |d| with_limits(ir::Limits { max_depth: d, ..ir::Limits::default() });
    let body = load_err_body_with(&xml, limits(2));
    assert!(body.ends_with("nesting depth exceeds the limit of 2 (raise it with --max-depth N)"), "{body}");
    loads_with(&xml, ir::Limits { max_depth: 3, ..ir::Limits::default() });
}

#[test]
fn openvino_layer_count_limit_names_the_flag_and_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_ov(dir.path(), "five", OV_GOOD);
    let body = load_err_body_with(&p, with_limits(ir::Limits { max_tensors: 4, ..ir::Limits::default() }));
    assert!(body.ends_with("layers: tensor count exceeds the limit of 4 (raise it with --max-tensors N)"), "{body}");
    loads_with(&p, ir::Limits { max_tensors: 5, ..ir::Limits::default() });
}

#[test]
fn openvino_truncated_at_every_element_boundary() {
    let dir = tempfile::tempdir().unwrap();
    // Every cut just before a '<' or just after a '>' of the good file.
    let cuts: Vec<usize> = OV_GOOD
        .char_indices()
        .filter_map(|(i, c)| match c {
            '<' => Some(i),
            '>' => Some(i + 1),
            _ => None,
        })
        .filter(|&i| i < OV_GOOD.trim_end().len())
        .collect();
    for (k, cut) in cuts.iter().enumerate() {
        let p = write_ov(dir.path(), &format!("cut{k}"), &OV_GOOD[..*cut]);
        let body = load_err_body(&p);
        assert!(
            body.contains("unexpected end of file") || body.contains("XML error") || body == "no <net> element",
            "cut at {cut}: {body}"
        );
    }
}

// safetensors.

#[test]
fn safetensors_hostile_headers_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let w16 = [0u8; 16];
    let two = |a: &str, b: &str| {
        format!(
            r#"{{"a":{{"dtype":"F32","shape":[2],"data_offsets":{a}}},"b":{{"dtype":"F32","shape":[2],"data_offsets":{b}}}}}"#
        )
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "header_length_u64_max",
            u64::MAX.to_le_bytes().to_vec(),
            "header length 18446744073709551615 is past the end of the 8-byte file",
        ),
        (
            "header_length_past_the_end",
            {
                let mut v = 4096u64.to_le_bytes().to_vec();
                v.extend_from_slice(b"{}");
                v
            },
            "header length 4096 is past the end of the 10-byte file",
        ),
        (
            "overlapping",
            safetensors_bytes(&two("[0,8]", "[4,12]"), &w16),
            "tensor 'b' (data_offsets [4, 12]) overlaps the tensor before it",
        ),
        (
            "past_the_end",
            safetensors_bytes(&two("[0,8]", "[8,24]"), &w16),
            "tensor 'b': data_offsets [8, 24] end past the 16-byte data section",
        ),
        (
            "offsets_not_the_shape_size",
            safetensors_bytes(&two("[8,16]", "[0,4]"), &w16),
            "tensor 'b': shape [2] of F32 needs 8 bytes, data_offsets [0, 4] hold 4",
        ),
        (
            "gap_between_tensors",
            safetensors_bytes(&two("[12,20]", "[0,8]"), &[0u8; 20]),
            "tensor 'a' starts at 12, leaving bytes 8..12 unused",
        ),
        (
            "bytes_after_the_tensors",
            safetensors_bytes(&two("[0,8]", "[8,16]"), &[0u8; 20]),
            "4 bytes after the last tensor (data section of 20)",
        ),
        (
            "shape_product_overflows",
            safetensors_bytes(
                r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}"#,
                &w16,
            ),
            "tensor 'w': shape [4294967296, 4294967296, 4294967296] of F32 overflows",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, bytes, want) in cases {
        let p = write_bytes(dir.path(), &format!("{name}.safetensors"), &bytes);
        let body = load_err_body(&p);
        if body != format!("not a valid safetensors file: {want}") {
            wrong.push(format!("{name}: {body}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn three_tensors(dir: &Path, name: &str) -> PathBuf {
    let header = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    write_bytes(dir, name, &safetensors_bytes(header, &[0u8; 12]))
}

#[test]
fn safetensors_tensor_count_limit_names_the_flag_and_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_tensors(dir.path(), "three.safetensors");
    let limits = |n| with_limits(ir::Limits { max_tensors: n, ..ir::Limits::default() });
    assert_eq!(
        load_err_body_with(&p, limits(2)),
        "header entries: tensor count exceeds the limit of 2 (raise it with --max-tensors N)"
    );
    assert_eq!(loads_with(&p, ir::Limits { max_tensors: 3, ..ir::Limits::default() }).graph.initializers.len(), 3);

    // The index's weight_map, and the shards' tensors together.
    three_tensors(dir.path(), "s1.safetensors");
    let index = write_bytes(
        dir.path(),
        "model.safetensors.index.json",
        br#"{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s1.safetensors"}}"#,
    );
    assert_eq!(
        load_err_body_with(&index, limits(2)),
        "weight_map entries: tensor count exceeds the limit of 2 (raise it with --max-tensors N)"
    );
    assert_eq!(loads_with(&index, ir::Limits { max_tensors: 3, ..ir::Limits::default() }).graph.initializers.len(), 3);
}

// Truncation at structural boundaries.

/// Where each field of a protobuf message starts in `bytes` (top level only).
fn field_starts(bytes: &[u8]) -> Vec<(u64, usize, usize)> {
    let varint = |at: &mut usize| {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = bytes[*at];
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let key = varint(&mut at);
        match key & 7 {
            0 => {
                varint(&mut at);
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = varint(&mut at) as usize;
                out.push((key >> 3, start, at));
                at += len;
                continue;
            }
            w => panic!("wire type {w}"),
        }
        out.push((key >> 3, start, at));
    }
    out
}

#[test]
fn onnx_truncated_inside_every_field_of_the_model_and_its_graph() {
    let original = std::fs::read(case("mlp").model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let top = field_starts(&original);
    let &(_, _, graph_at) = top.iter().find(|(f, _, _)| *f == 7).expect("a graph field");
    let graph_len = top.iter().skip_while(|(f, _, _)| *f != 7).nth(1).map_or(original.len(), |(_, s, _)| *s) - graph_at;
    let inner = field_starts(&original[graph_at..graph_at + graph_len]);
    // One byte into each field (its tag read, its value not), and one byte
    // short of its end: the decoder must see a field cut short.
    let mut cuts: Vec<usize> = top.iter().map(|(_, s, _)| s + 1).collect();
    cuts.extend(inner.iter().map(|(_, s, _)| graph_at + s + 1));
    cuts.extend(inner.iter().map(|(_, _, data)| graph_at + data));
    cuts.sort_unstable();
    cuts.dedup();
    assert!(cuts.len() > 10, "{} boundaries", cuts.len());
    for cut in cuts {
        let p = write_bytes(dir.path(), "model.onnx", &original[..cut]);
        let body = load_err_body(&p);
        assert!(body.starts_with("not a valid ONNX model: protobuf "), "cut at {cut}: {body}");
    }
}

#[test]
fn safetensors_truncated_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#;
    let good = safetensors_bytes(header, &[0u8; 16]);
    for cut in 0..good.len() {
        let p = write_bytes(dir.path(), &format!("cut{cut}.safetensors"), &good[..cut]);
        let body = load_err_body(&p);
        assert!(body.starts_with("not a valid safetensors file: "), "cut at {cut}: {body}");
    }
}

#[test]
fn openvino_weights_file_truncated() {
    let dir = tempfile::tempdir().unwrap();
    for keep in [0usize, 1, 8, 15] {
        let p = write_ov(dir.path(), &format!("bin{keep}"), OV_GOOD);
        let w = std::fs::read(p.with_extension("bin")).unwrap();
        std::fs::write(p.with_extension("bin"), &w[..keep]).unwrap();
        assert_eq!(
            load_err_body(&p),
            format!(
                "layer id 1 ('w', Const): offset 0 + size 16 is past the end of {} ({keep} bytes)",
                p.with_extension("bin").display()
            )
        );
    }
}

#[test]
fn safetensors_index_paths_out_of_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    three_tensors(outside.path(), "secret.safetensors");
    std::os::unix::fs::symlink(outside.path().join("secret.safetensors"), d.join("link.safetensors")).unwrap();
    let cases = [
        (
            "../x.safetensors",
            "weight_map['a']: location '../x.safetensors' escapes the model's folder ('..' is not allowed)",
        ),
        (
            "/etc/passwd",
            "weight_map['a']: location '/etc/passwd' is absolute; only paths relative to the model's folder are allowed",
        ),
        (
            "link.safetensors",
            "weight_map['a']: location 'link.safetensors' resolves (through a symbolic link) outside the model's folder",
        ),
    ];
    for (file, want) in cases {
        let p = write_bytes(
            d,
            "model.safetensors.index.json",
            format!(r#"{{"weight_map": {{"a": "{file}"}}}}"#).as_bytes(),
        );
        assert_eq!(load_err_body(&p), want);
        assert_eq!(weights_err(d, &p, &p), want);
    }
}

#[test]
fn onnx_millions_of_tiny_nodes_or_attributes_are_refused_before_decoding() {
    // Five bytes on the wire, hundreds once decoded (1.6 kB for an
    // attribute): four million of them exhausted the memory cap before the
    // entry count.
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..4_000_000 {
        nodes.extend_from_slice(&[1 << 3 | 2, 3, 4 << 3 | 2, 1, b'A']);
    }
    let mut attrs = vec![4 << 3 | 2, 1, b'A'];
    for _ in 0..1_500_000 {
        attrs.extend_from_slice(&[5 << 3 | 2, 0]);
    }
    let one_node = wire_bytes(1, &attrs);
    for (name, g) in [("nodes", nodes), ("attributes", one_node)] {
        let mut m = vec![1 << 3, 8];
        m.extend(wire_bytes(7, &g));
        let p = write_bytes(dir.path(), &format!("{name}.onnx"), &m);
        assert_eq!(
            load_err_body(&p),
            "entries (tensors, nodes, attributes, value infos): tensor count exceeds the limit of 1000000 \
             (raise it with --max-tensors N)",
            "{name}"
        );
    }
}

#[test]
fn openvino_entity_expansion_is_not_performed() {
    // "Billion laughs": quick-xml expands no DTD entities, so the reference
    // is an unknown entity, not a gigabyte of text.
    let dir = tempfile::tempdir().unwrap();
    let mut dtd = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE net [<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        dtd.push_str(&format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10)));
    }
    dtd.push_str("]>\n");
    let xml = OV_GOOD.replacen("<?xml version=\"1.0\"?>\n", &dtd, 1).replacen("name=\"m\"", "name=\"&l9;\"", 1);
    let p = write_ov(dir.path(), "laughs", &xml);
    let body = load_err_body(&p);
    assert_eq!(body, "line 2: <net>: at 1..3: unrecognized entity `l9`");
}
