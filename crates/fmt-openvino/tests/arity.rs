//! The import table's port arities against every rule: a layer with the
//! fewest or the most ports its arity allows never panics (the rule reads
//! only ports the table guarantees), and one port too few or too many is a
//! one-line error naming the file, the layer and the ports expected.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use fmt_openvino::xml::{Edge, Layer, Net, Port};
use fmt_openvino::{ImportRule, Ports, import_rules, translate};

const LAYER: u64 = 100;

fn port(id: u64) -> Port {
    Port { id, precision: "FP32".into(), names: Vec::new(), dims: ["1", "1", "4", "4"].map(String::from).to_vec() }
}

/// A `Parameter` per input of a `kind` layer with `n_in` inputs and `n_out`
/// outputs, and a `Result` per output.
fn net(kind: &str, version: &str, n_in: usize, n_out: usize, data: &[(&str, &str)]) -> Net {
    let mut layers: Vec<Layer> = (0..n_in as u64)
        .map(|i| Layer {
            id: i,
            name: format!("p{i}"),
            kind: "Parameter".into(),
            version: "opset1".into(),
            data: [("shape", "1,1,4,4"), ("element_type", "f32")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            outputs: vec![port(0)],
            ..Layer::default()
        })
        .collect();
    let n_in64 = n_in as u64;
    layers.push(Layer {
        id: LAYER,
        name: "l".into(),
        kind: kind.into(),
        version: version.into(),
        data: data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        inputs: (0..n_in64).map(port).collect(),
        outputs: (n_in64..n_in64 + n_out as u64).map(port).collect(),
        ..Layer::default()
    });
    let mut edges: Vec<Edge> =
        (0..n_in64).map(|i| Edge { from_layer: i, from_port: 0, to_layer: LAYER, to_port: i }).collect();
    for j in 0..n_out as u64 {
        let id = 200 + j;
        layers.push(Layer {
            id,
            name: format!("r{j}"),
            kind: "Result".into(),
            version: "opset1".into(),
            inputs: vec![port(0)],
            ..Layer::default()
        });
        edges.push(Edge { from_layer: LAYER, from_port: n_in64 + j, to_layer: id, to_port: 0 });
    }
    Net { name: "t".into(), version: 11, layers, edges, ..Net::default() }
}

/// Attributes most rules read, with harmless values, so rules get past
/// their attributes to their inputs.
const DATA: &[(&str, &str)] = &[
    ("strides", "1,1"),
    ("dilations", "1,1"),
    ("pads_begin", "0,0"),
    ("pads_end", "0,0"),
    ("kernel", "1,1"),
    ("auto_pad", "explicit"),
    ("destination_type", "f32"),
    ("element_type", "f32"),
    ("shape", "1,1,4,4"),
    ("offset", "0"),
    ("size", "0"),
    ("axis", "1"),
    ("equation", "abcd->abcd"),
    ("levels", "256"),
    ("reduction_axes", "2,3"),
];

/// The versions worth trying for a rule: each with its own ports, and one
/// that falls back to the rule's default.
fn versions(r: &ImportRule) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = r.versions.iter().map(|(v, _)| *v).collect();
    v.push("opset99");
    v
}

/// Port counts to try for `p`: the fewest and the most allowed (two past
/// the fewest when any number is).
fn allowed(p: Ports) -> Vec<usize> {
    let mut v = vec![p.min, p.max.unwrap_or(p.min + 2)];
    v.dedup();
    v
}

fn try_translate(net: &Net) -> Result<Result<(), String>, String> {
    catch_unwind(AssertUnwindSafe(|| translate(net, None, Path::new("t.xml")).map(|_| ()).map_err(|e| e.to_string())))
        .map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
}

#[test]
fn every_rule_is_safe_at_the_edges_of_its_arity() {
    let mut panics = Vec::new();
    let mut runs = 0;
    for r in import_rules() {
        for version in versions(&r) {
            let a = r.arity_of(version);
            for n_in in allowed(a.inputs) {
                for n_out in allowed(a.outputs) {
                    for data in [&[][..], DATA] {
                        runs += 1;
                        if let Err(p) = try_translate(&net(r.openvino, version, n_in, n_out, data)) {
                            panics.push(format!("{} {version} with {n_in} in, {n_out} out: {p}", r.openvino));
                        }
                    }
                }
            }
        }
    }
    assert!(panics.is_empty(), "{} of {runs} panicked:\n{}", panics.len(), panics.join("\n"));
}

#[test]
fn port_counts_outside_the_arity_are_errors_naming_the_layer() {
    for r in import_rules() {
        for version in versions(&r) {
            let a = r.arity_of(version);
            let mut wrong: Vec<(usize, usize, &str, usize, Ports)> = Vec::new();
            for n in [a.inputs.min.checked_sub(1), a.inputs.max.map(|m| m + 1)].into_iter().flatten() {
                wrong.push((n, a.outputs.min, "input", n, a.inputs));
            }
            for n in [a.outputs.min.checked_sub(1), a.outputs.max.map(|m| m + 1)].into_iter().flatten() {
                wrong.push((a.inputs.min, n, "output", n, a.outputs));
            }
            for (n_in, n_out, side, n, ports) in wrong {
                let e = try_translate(&net(r.openvino, version, n_in, n_out, DATA))
                    .unwrap_or_else(|p| panic!("{} {version}: panicked: {p}", r.openvino))
                    .expect_err(r.openvino);
                let plural = if n == 1 { "" } else { "s" };
                assert_eq!(
                    e,
                    format!(
                        "t.xml: layer id {LAYER} ('l', {}): {n} {side} port{plural}, but {} {version} has {ports}",
                        r.openvino, r.openvino
                    ),
                );
            }
        }
    }
}

#[test]
fn issue_15_convolution_with_one_input_port() {
    let e = try_translate(&net("Convolution", "opset1", 1, 1, DATA)).unwrap().unwrap_err();
    assert_eq!(e, "t.xml: layer id 100 ('l', Convolution): 1 input port, but Convolution opset1 has 2");
}
