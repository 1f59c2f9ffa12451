//! Structure-aware mutations: byte flips rarely get past a protobuf decoder
//! or an XML parser into the translation code, where the interesting bugs
//! are (a port index past a node's inputs, a dim of 2^62, a cycle, a
//! function calling itself). These mutators decode the input, change one to
//! three things a hostile or buggy writer could produce, and encode it
//! again; libFuzzer alternates them with its own byte mutations.

use fmt_onnx::generated::onnx as ox;
use fmt_tf::generated::tensorflow as tf;
use prost::Message;

use crate::{Kind, Target, pack, unpack};

/// `convert`'s generator (splitmix64), with the choices a mutator makes;
/// libFuzzer hands us the seed.
struct Rng(convert::verify::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// A mutator of one part's bytes.
type Mutator = fn(&[u8], &mut Rng) -> Option<Vec<u8>>;

/// Integers a careless reader mishandles.
const EXTREME_INTS: &[i64] =
    &[0, 1, 2, 3, -1, -2, 255, 65_536, 1 << 31, (1 << 31) - 1, 1 << 32, 1 << 40, 1 << 62, i64::MAX, i64::MIN];
const EXTREME_FLOATS: &[f32] = &[0.0, -0.0, 1.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, 1e-45];

/// A structurally mutated copy of `data` for `target`, or `None` when the
/// target has no structure-aware mutator or `data` does not decode (the
/// caller then mutates bytes).
pub fn mutate(target: &Target, data: &[u8], seed: u64) -> Option<Vec<u8>> {
    let mut rng = Rng(convert::verify::Rng(seed));
    match target.kind {
        Kind::Model { format: "onnx", .. } => onnx(data, &mut rng),
        Kind::Model { format: "tf-frozen", .. } => {
            let mut g = tf::GraphDef::decode(data).ok()?;
            for _ in 0..1 + rng.below(3) {
                graph_def(&mut g, &mut rng);
            }
            Some(g.encode_to_vec())
        }
        Kind::Folder { format, .. } => {
            let (main, f): (&str, Mutator) = match format {
                "onnx" => ("model.onnx", onnx),
                "openvino" => ("model.xml", openvino_xml),
                "tf" => ("saved_model.pb", saved_model),
                _ => return None,
            };
            let mut parts: Vec<(String, Vec<u8>)> = unpack(data).into_iter().map(|(n, b)| (n, b.to_vec())).collect();
            let part = parts.iter_mut().find(|(n, _)| n == main)?;
            part.1 = f(&part.1, &mut rng)?;
            let refs: Vec<(&str, &[u8])> = parts.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
            Some(pack(&refs))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// ONNX.

fn onnx(data: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut m = ox::ModelProto::decode(data).ok()?;
    for _ in 0..1 + rng.below(3) {
        match rng.below(16) {
            0 => {
                if let Some(o) = m.opset_import.first_mut() {
                    o.version = rng.pick(&[1, 7, 11, 13, 17, 18, 21, 23, 28, 30, -1, i64::MAX]);
                }
            }
            1 => onnx_function(&mut m, rng),
            _ => {
                if let Some(g) = m.graph.as_mut() {
                    onnx_graph(descend(g, rng), rng);
                }
            }
        }
    }
    Some(m.encode_to_vec())
}

/// The graph itself or, now and then, a subgraph of one of its nodes.
fn descend<'a>(g: &'a mut ox::GraphProto, rng: &mut Rng) -> &'a mut ox::GraphProto {
    let has_sub = g.node.iter().any(|n| n.attribute.iter().any(|a| a.g.is_some()));
    if !has_sub || !rng.chance(3) {
        return g;
    }
    let with: Vec<usize> = (0..g.node.len()).filter(|&i| g.node[i].attribute.iter().any(|a| a.g.is_some())).collect();
    let n = rng.pick(&with);
    let attrs: Vec<usize> = (0..g.node[n].attribute.len()).filter(|&i| g.node[n].attribute[i].g.is_some()).collect();
    let a = rng.pick(&attrs);
    match g.node[n].attribute[a].g.as_mut() {
        Some(sub) => descend(sub, rng),
        None => unreachable!("filtered on g.is_some()"),
    }
}

/// Model-local functions: a call to itself or to another function, or a
/// function body node turned into garbage.
fn onnx_function(m: &mut ox::ModelProto, rng: &mut Rng) {
    if m.functions.is_empty() {
        // Make one that calls itself, and call it from the graph.
        let Some(g) = m.graph.as_mut() else { return };
        let Some(node) = g.node.first_mut() else { return };
        let f = ox::FunctionProto {
            name: "f".into(),
            domain: "local".into(),
            input: node.input.clone(),
            output: node.output.clone(),
            node: vec![ox::NodeProto {
                op_type: "f".into(),
                domain: "local".into(),
                input: node.input.clone(),
                output: node.output.clone(),
                ..ox::NodeProto::default()
            }],
            opset_import: m.opset_import.clone(),
            ..ox::FunctionProto::default()
        };
        node.op_type = "f".into();
        node.domain = "local".into();
        m.opset_import.push(ox::OperatorSetIdProto { domain: "local".into(), version: 1 });
        m.functions.push(f);
        return;
    }
    let targets: Vec<(String, String)> = m.functions.iter().map(|f| (f.name.clone(), f.domain.clone())).collect();
    let i = rng.below(m.functions.len());
    let f = &mut m.functions[i];
    if f.node.is_empty() {
        return;
    }
    let j = rng.below(f.node.len());
    let (name, domain) = targets[rng.below(targets.len())].clone();
    f.node[j].op_type = name;
    f.node[j].domain = domain;
}

fn onnx_graph(g: &mut ox::GraphProto, rng: &mut Rng) {
    let names: Vec<String> = g
        .input
        .iter()
        .map(|v| v.name.clone())
        .chain(g.initializer.iter().map(|t| t.name.clone()))
        .chain(g.node.iter().flat_map(|n| n.output.iter().cloned()))
        .collect();
    let nn = g.node.len();
    match rng.below(15) {
        0 if nn > 0 => {
            let ops = ir::schema::all();
            let s = ops[rng.below(ops.len())];
            let n = &mut g.node[rng.below(nn)];
            n.op_type = s.op.into();
            n.domain = s.domain.into();
        }
        1 if nn > 0 => {
            g.node.remove(rng.below(nn));
        }
        2 if nn > 0 => {
            let n = g.node[rng.below(nn)].clone();
            let at = rng.below(nn + 1);
            g.node.insert(at, n);
        }
        3 if nn > 1 => g.node.swap(rng.below(nn), rng.below(nn)),
        4 if nn > 0 => {
            let n = &mut g.node[rng.below(nn)];
            let own = n.output.first().cloned().unwrap_or_default();
            let choice = match rng.below(4) {
                0 if !names.is_empty() => names[rng.below(names.len())].clone(),
                1 => String::new(),
                2 => "dangling".into(),
                _ => own,
            };
            if n.input.is_empty() || rng.chance(4) {
                n.input.push(choice);
            } else {
                let k = rng.below(n.input.len());
                n.input[k] = choice;
            }
        }
        5 if nn > 0 => {
            let n = &mut g.node[rng.below(nn)];
            if rng.chance(2) {
                n.input.pop();
            } else {
                n.output.pop();
            }
        }
        6 if nn > 0 => {
            let n = &mut g.node[rng.below(nn)];
            if n.attribute.is_empty() {
                return;
            }
            let k = rng.below(n.attribute.len());
            let a = &mut n.attribute[k];
            match rng.below(6) {
                0 => a.i = rng.pick(EXTREME_INTS),
                1 if !a.ints.is_empty() => {
                    let k = rng.below(a.ints.len());
                    a.ints[k] = rng.pick(EXTREME_INTS);
                }
                1 => a.ints = vec![rng.pick(EXTREME_INTS); 1 + rng.below(6)],
                2 => a.f = rng.pick(EXTREME_FLOATS),
                3 => a.r#type = rng.below(16) as i32,
                4 => {
                    n.attribute.remove(k);
                }
                _ => a.ints.clear(),
            }
        }
        7..=9 if !g.initializer.is_empty() => {
            let k = rng.below(g.initializer.len());
            let t = &mut g.initializer[k];
            match rng.below(5) {
                0 => t.data_type = rng.below(28) as i32,
                1 if !t.dims.is_empty() => {
                    let d = rng.below(t.dims.len());
                    t.dims[d] = rng.pick(EXTREME_INTS);
                }
                1 => t.dims.push(rng.pick(EXTREME_INTS)),
                2 => {
                    let len = t.raw_data.len();
                    t.raw_data = t.raw_data.slice(..len / 2);
                }
                3 => t.dims.push(rng.pick(&[0, 1, 2, 7])),
                _ => {
                    t.raw_data = Default::default();
                    t.float_data = vec![1.0; rng.below(5)];
                }
            }
        }
        10 if !g.input.is_empty() => {
            let k = rng.below(g.input.len());
            if let Some(ox::type_proto::Value::TensorType(t)) =
                g.input[k].r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                if rng.chance(2) {
                    t.elem_type = rng.below(28) as i32;
                } else if let Some(d) = t.shape.as_mut().and_then(|s| s.dim.first_mut()) {
                    d.value = Some(ox::tensor_shape_proto::dimension::Value::DimValue(rng.pick(EXTREME_INTS)));
                }
            }
        }
        11 if nn > 0 && !names.is_empty() => {
            let n = &mut g.node[rng.below(nn)];
            if let Some(o) = n.output.first_mut() {
                *o = names[rng.below(names.len())].clone();
            }
        }
        12 => match rng.below(3) {
            0 => {
                g.output.pop();
            }
            1 => {
                if let Some(o) = g.output.first().cloned() {
                    g.output.push(o);
                }
            }
            _ => {
                if let Some(o) = g.output.first_mut() {
                    o.name = "dangling".into();
                }
            }
        },
        13 => g.node.reverse(),
        _ => {
            // A Constant holding a tensor with a huge declared shape.
            g.node.insert(
                0,
                ox::NodeProto {
                    op_type: "Constant".into(),
                    output: vec![names.first().cloned().unwrap_or_else(|| "c".into())],
                    attribute: vec![ox::AttributeProto {
                        name: "value".into(),
                        r#type: 4,
                        t: Some(ox::TensorProto {
                            dims: vec![rng.pick(EXTREME_INTS), rng.pick(EXTREME_INTS)],
                            data_type: 1,
                            ..ox::TensorProto::default()
                        }),
                        ..ox::AttributeProto::default()
                    }],
                    ..ox::NodeProto::default()
                },
            );
        }
    }
}

// ---------------------------------------------------------------------------
// TensorFlow.

fn saved_model(data: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut sm = tf::SavedModel::decode(data).ok()?;
    let g = sm.meta_graphs.first_mut()?.graph_def.as_mut()?;
    for _ in 0..1 + rng.below(3) {
        graph_def(g, rng);
    }
    Some(sm.encode_to_vec())
}

fn graph_def(g: &mut tf::GraphDef, rng: &mut Rng) {
    // Function bodies are where TF2 SavedModels keep their ops.
    let in_function = g.library.as_ref().is_some_and(|l| l.function.iter().any(|f| !f.node_def.is_empty()));
    if in_function && rng.chance(2) {
        let lib = g.library.as_mut().expect("checked above");
        let names: Vec<String> =
            lib.function.iter().filter_map(|f| f.signature.as_ref().map(|s| s.name.clone())).collect();
        let with: Vec<usize> = (0..lib.function.len()).filter(|&i| !lib.function[i].node_def.is_empty()).collect();
        let f = &mut lib.function[rng.pick(&with)];
        if rng.chance(6) && !names.is_empty() {
            // A call to a function of the library, perhaps itself.
            let k = rng.below(f.node_def.len());
            f.node_def[k].op = names[rng.below(names.len())].clone();
            return;
        }
        nodes(&mut f.node_def, rng);
        return;
    }
    nodes(&mut g.node, rng);
}

fn nodes(list: &mut Vec<tf::NodeDef>, rng: &mut Rng) {
    let n = list.len();
    if n == 0 {
        return;
    }
    let names: Vec<String> = list.iter().map(|n| n.name.clone()).collect();
    match rng.below(8) {
        0 => {
            let rules = fmt_tf::lower::rules();
            list[rng.below(n)].op = rules[rng.below(rules.len())].tf.into();
        }
        1 => {
            list.remove(rng.below(n));
        }
        2 => {
            let node = list[rng.below(n)].clone();
            list.push(node);
        }
        3 | 4 => {
            let node = &mut list[rng.below(n)];
            let other = names[rng.below(names.len())].clone();
            let choice = match rng.below(5) {
                0 => other,
                1 => format!("{other}:{}", rng.pick(&[1, 2, 7, 99_999])),
                2 => format!("^{other}"),
                3 => node.name.clone(),
                _ => "dangling".into(),
            };
            if node.input.is_empty() || rng.chance(4) {
                node.input.push(choice);
            } else {
                let k = rng.below(node.input.len());
                node.input[k] = choice;
            }
        }
        5 => {
            list[rng.below(n)].input.pop();
        }
        _ => {
            let node = &mut list[rng.below(n)];
            let mut keys: Vec<String> = node.attr.keys().cloned().collect();
            keys.sort();
            if keys.is_empty() {
                return;
            }
            let key = keys[rng.below(keys.len())].clone();
            if rng.chance(8) {
                node.attr.remove(&key);
                return;
            }
            if let Some(v) = node.attr.get_mut(&key).and_then(|a| a.value.as_mut()) {
                tf_attr(v, rng);
            }
        }
    }
}

fn tf_attr(v: &mut tf::attr_value::Value, rng: &mut Rng) {
    use tf::attr_value::Value as V;
    match v {
        V::I(i) => *i = rng.pick(EXTREME_INTS),
        V::F(f) => *f = rng.pick(EXTREME_FLOATS),
        V::Type(t) => *t = rng.below(32) as i32,
        V::Shape(s) => shape(s, rng),
        V::Tensor(t) => match rng.below(4) {
            0 => t.dtype = rng.below(32) as i32,
            1 => {
                if let Some(s) = t.tensor_shape.as_mut() {
                    shape(s, rng);
                }
            }
            2 => {
                let len = t.tensor_content.len();
                t.tensor_content = t.tensor_content.slice(..len / 2);
            }
            _ => {
                t.tensor_content = Default::default();
                t.float_val = vec![1.0; rng.below(3)];
                t.int_val = vec![3; rng.below(3)];
            }
        },
        V::List(l) => {
            if !l.i.is_empty() {
                let k = rng.below(l.i.len());
                l.i[k] = rng.pick(EXTREME_INTS);
            } else {
                l.i = vec![rng.pick(EXTREME_INTS); rng.below(5)];
            }
        }
        V::S(s) => {
            *s = rng.pick(&[&b""[..], b"NCHW", b"NHWC", b"SAME", b"VALID", b"EXPLICIT", b"\xff"]).to_vec().into()
        }
        V::B(b) => *b = !*b,
        _ => {}
    }
}

fn shape(s: &mut tf::TensorShapeProto, rng: &mut Rng) {
    match rng.below(3) {
        0 if !s.dim.is_empty() => {
            let k = rng.below(s.dim.len());
            s.dim[k].size = rng.pick(EXTREME_INTS);
        }
        1 => s.unknown_rank = !s.unknown_rank,
        _ => s.dim.push(tf::tensor_shape_proto::Dim { size: rng.pick(EXTREME_INTS), name: String::new() }),
    }
}

// ---------------------------------------------------------------------------
// OpenVINO IR: text-level edits of the XML (which also reach the parser).

fn openvino_xml(data: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut s = String::from_utf8(data.to_vec()).ok()?;
    for _ in 0..1 + rng.below(3) {
        xml_once(&mut s, rng);
    }
    Some(s.into_bytes())
}

/// The byte ranges of every `attr="value"` in `s`, as (value start, value end).
fn attr_values(s: &str, attr: &str) -> Vec<(usize, usize)> {
    let pat = format!(" {attr}=\"");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find(&pat) {
        let start = from + at + pat.len();
        let Some(len) = s[start..].find('"') else { break };
        out.push((start, start + len));
        from = start + len;
    }
    out
}

/// Ranges of every `<tag ...>...</tag>` or `<tag .../>` element.
fn elements(s: &str, tag: &str) -> Vec<(usize, usize)> {
    let open = format!("<{tag} ");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find(&open) {
        let start = from + at;
        let Some(gt) = s[start..].find('>') else { break };
        let end = if s[start..start + gt].ends_with('/') {
            start + gt + 1
        } else {
            match s[start..].find(&close) {
                Some(c) => start + c + close.len(),
                None => break,
            }
        };
        out.push((start, end));
        from = end;
    }
    out
}

fn replace_one(s: &mut String, ranges: &[(usize, usize)], rng: &mut Rng, with: &str) {
    if ranges.is_empty() {
        return;
    }
    let (a, b) = ranges[rng.below(ranges.len())];
    s.replace_range(a..b, with);
}

fn xml_once(s: &mut String, rng: &mut Rng) {
    let number = |rng: &mut Rng| rng.pick(EXTREME_INTS).to_string();
    match rng.below(11) {
        0 => {
            let attr = rng.pick(&["from-layer", "to-layer", "from-port", "to-port", "id"]);
            let r = attr_values(s, attr);
            let v = rng.pick(&["0", "1", "2", "3", "7", "-1", "99999999999"]);
            replace_one(s, &r, rng, v);
        }
        1 => {
            // A dimension of a port.
            let mut r = Vec::new();
            let mut from = 0;
            while let Some(at) = s[from..].find("<dim>") {
                let start = from + at + 5;
                let Some(len) = s[start..].find("</dim>") else { break };
                r.push((start, start + len));
                from = start + len;
            }
            let v = rng.pick(&["0", "-1", "-2", "2", "2147483648", "9223372036854775807", "18446744073709551615"]);
            replace_one(s, &r, rng, v);
        }
        2 => {
            let r = attr_values(s, rng.pick(&["offset", "size"]));
            let v = number(rng);
            replace_one(s, &r, rng, &v);
        }
        3 => {
            let r = attr_values(s, "element_type");
            let v = rng.pick(&[
                "f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8", "u4", "i4", "u1", "boolean", "string", "nf4",
                "f8e4m3", "dynamic", "x",
            ]);
            replace_one(s, &r, rng, v);
        }
        4 => {
            let rules = fmt_openvino::import_rules();
            let r = attr_values(s, "type");
            let v = rules[rng.below(rules.len())].openvino;
            replace_one(s, &r, rng, v);
        }
        5 => {
            let r = elements(s, "edge");
            replace_one(s, &r, rng, "");
        }
        6 => {
            let r = elements(s, "edge");
            if !r.is_empty() {
                let (a, b) = r[rng.below(r.len())];
                let e = s[a..b].to_string();
                s.insert_str(b, &e);
            }
        }
        7 => {
            let r = elements(s, "port");
            replace_one(s, &r, rng, "");
        }
        8 => {
            let r = elements(s, "layer");
            replace_one(s, &r, rng, "");
        }
        9 => {
            let r = attr_values(s, "version");
            let v = rng.pick(&["opset1", "opset3", "opset8", "opset13", "opset15", "opset99", "extension"]);
            replace_one(s, &r, rng, v);
        }
        _ => {
            // Any attribute value of a layer's <data>: numbers and lists.
            let attr = rng.pick(&[
                "strides",
                "pads_begin",
                "pads_end",
                "dilations",
                "axis",
                "shape",
                "group",
                "auto_pad",
                "special_zero",
                "batch_dims",
                "keep_dims",
                "mode",
            ]);
            let r = attr_values(s, attr);
            let v =
                rng.pick(&["", "-1", "0", "1,1", "9223372036854775807", "1,-1,2", "x", "same_upper", "true", "1.5"]);
            replace_one(s, &r, rng, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TARGETS, seeds, workspace_root};

    #[test]
    fn mutators_change_their_targets_seeds_and_the_results_never_panic() {
        for t in TARGETS {
            let seeds = seeds(t, &workspace_root());
            let mut changed = 0;
            let mut tried = 0;
            for (i, s) in seeds.iter().enumerate().take(3) {
                for k in 0..20u64 {
                    let Some(m) = mutate(t, s, k * 7919 + i as u64) else { continue };
                    tried += 1;
                    changed += usize::from(&m != s);
                    crate::run(t, &m);
                }
            }
            if tried > 0 {
                assert!(changed * 2 > tried, "{}: only {changed} of {tried} mutations changed the input", t.name);
            }
        }
    }
}
