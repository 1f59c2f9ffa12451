//! `If-8` → ONNX `If`, `Loop-5` → ONNX `Loop`.
//!
//! Bodies are translated like the top-level net (sharing its value
//! namespace, since ONNX bodies see outer names). A body `Parameter` fed by
//! an outer value without a back edge becomes `Identity(outer value)` inside
//! the body (ONNX's implicit capture). Loop merged inputs (with a back edge)
//! are ONNX carried values; the one fed by the execution condition whose
//! back edge comes from the body condition is ONNX's `cond_in`. Scan
//! outputs must concatenate on axis 0; the stacked ONNX output is reshaped
//! to merge the iteration axis into the first body axis, which is exact for
//! any part size (our exporter's slices have size 1).

use std::collections::HashMap;

use ir::{Attribute as A, DType, Graph, Node, Result, Shape, ValueInfo};

use super::{Arity, Cx, ImportRule, Ports, port, translate_net};
use crate::xml::{Layer, PortMapEntry};

type Ins<'a> = &'a [String];

/// Index of the input (or output) port with id `id`.
fn port_index(l: &Layer, id: i64, output: bool) -> Option<usize> {
    let ports = if output { &l.outputs } else { &l.inputs };
    ports.iter().position(|p| p.id as i64 == id)
}

/// Translates a body of `l`, continuing the outer namespace.
fn body(cx: &mut Cx<'_>, l: &Layer, tag: &str) -> Result<super::Translated> {
    let net = l.body(tag).ok_or_else(|| cx.bad(l, format!("no <{tag}>")))?;
    let t = translate_net(net, cx.bin, cx.path, cx.b.value_names().clone(), cx.keep_unknown)?;
    cx.b.merge_value_names(&t.taken);
    Ok(t)
}

fn internal(cx: &Cx<'_>, l: &Layer, e: &PortMapEntry) -> Result<u64> {
    e.int("internal_layer_id")
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| cx.bad(l, "a port map entry has no valid internal_layer_id"))
}

/// The value of the body `Result` with layer id `id`.
fn result_of(cx: &Cx<'_>, l: &Layer, t: &super::Translated, id: u64) -> Result<ValueInfo> {
    t.results
        .iter()
        .find(|(rid, _)| *rid == id)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| cx.bad(l, format!("port map names body layer {id}, which is not a Result")))
}

/// The value of the body `Parameter` with layer id `id`.
fn param_of(cx: &Cx<'_>, l: &Layer, t: &super::Translated, id: u64) -> Result<String> {
    t.params
        .get(&id)
        .cloned()
        .ok_or_else(|| cx.bad(l, format!("port map names body layer {id}, which is not a Parameter")))
}

/// Makes body parameter `param` read the outer value `outer` (ONNX capture).
fn capture(g: &mut Graph, param: &str, outer: &str) {
    g.inputs.retain(|i| i.name != param);
    g.nodes
        .insert(0, Node::new("Identity", [outer.to_string()], [param.to_string()]).named(format!("{param}/capture")));
}

fn finish(g: &mut Graph) -> Result<()> {
    g.remove_dead_nodes();
    g.remove_unused_initializers();
    g.topo_sort()
}

/// One branch of an `If`: its body with the port map's inputs captured
/// and its outputs in the order of the layer's output ports.
fn branch(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, body_tag: &str, map_tag: &str) -> Result<Graph> {
    let t = body(cx, l, body_tag)?;
    let mut g = t.graph.clone();
    let map = l.port_map(map_tag);
    for e in map.iter().filter(|e| !e.output) {
        let ext = e.int("external_port_id").unwrap_or(-1);
        let i = port_index(l, ext, false).ok_or_else(|| cx.bad(l, format!("{map_tag}: no input port {ext}")))?;
        let param = param_of(cx, l, &t, internal(cx, l, e)?)?;
        capture(&mut g, &param, port(ins, i)?);
    }
    if !g.inputs.is_empty() {
        return Err(cx.bad(l, format!("{body_tag} has a Parameter the port map does not feed")));
    }
    for (out_port, out) in l.outputs.iter().zip(outs) {
        let e = map
            .iter()
            .find(|e| e.output && e.int("external_port_id") == Some(out_port.id as i64))
            .ok_or_else(|| cx.bad(l, format!("{map_tag} does not produce output port {}", out_port.id)))?;
        let mut v = result_of(cx, l, &t, internal(cx, l, e)?)?;
        if v.dtype().is_none()
            && let Some(d) = cx.dtype(out)
        {
            v = ValueInfo::tensor(v.name.clone(), d, None);
        }
        g.outputs.push(v);
    }
    finish(&mut g).map_err(|e| cx.bad(l, e))?;
    Ok(g)
}

fn if_op(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let then_g = branch(cx, l, ins, outs, "then_body", "then_port_map")?;
    let else_g = branch(cx, l, ins, outs, "else_body", "else_port_map")?;
    cx.emit(
        l,
        "If",
        vec![Some(port(ins, 0)?.clone())],
        outs,
        vec![("then_branch", A::Graph(Box::new(then_g))), ("else_branch", A::Graph(Box::new(else_g)))],
    );
    Ok(())
}

fn loop_op(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let t = body(cx, l, "body")?;
    let mut g = t.graph.clone();
    let map = l.port_map("port_map");
    let back: HashMap<u64, u64> = l.back_edges.iter().map(|&(from, to)| (to, from)).collect();
    let special = |purpose: &str, output: bool| {
        map.iter().find(|e| e.output == output && e.attrs.get("purpose").is_some_and(|p| p == purpose))
    };
    let iter_param = match special("current_iteration", false) {
        Some(e) => Some(param_of(cx, l, &t, internal(cx, l, e)?)?),
        None => None,
    };
    let cond_result = match special("execution_condition", true) {
        Some(e) => Some(internal(cx, l, e)?),
        None => None,
    };
    // Classify the fed inputs: cond_in, carried (merged), invariant (captured).
    let mut cond_in: Option<String> = None;
    let mut carried: Vec<(String, String, u64)> = Vec::new(); // (param, initial, result id)
    for e in map.iter().filter(|e| !e.output) {
        let ext = e.int("external_port_id").unwrap_or(-1);
        if ext < 0 {
            continue; // current_iteration
        }
        if e.attrs.contains_key("axis") && e.int("axis") != Some(-1) {
            return Err(cx.bad(l, "sliced Loop inputs (port map input with an axis) are not supported"));
        }
        let i = port_index(l, ext, false).ok_or_else(|| cx.bad(l, format!("port_map: no input port {ext}")))?;
        let id = internal(cx, l, e)?;
        let param = param_of(cx, l, &t, id)?;
        match back.get(&id) {
            Some(&from) if Some(from) == cond_result && port(ins, i)? == port(ins, 1)? && cond_in.is_none() => {
                cond_in = Some(param);
            }
            Some(&from) => carried.push((param, port(ins, i)?.clone(), from)),
            None => capture(&mut g, &param, port(ins, i)?),
        }
    }
    // Body inputs in ONNX order: iteration, cond_in, carried….
    let by_name: HashMap<String, ValueInfo> = g.inputs.iter().map(|v| (v.name.clone(), v.clone())).collect();
    let scalar = |name: String, d: DType| ValueInfo::tensor(name, d, Some(Shape(Vec::new())));
    let iter_name = iter_param.unwrap_or_else(|| cx.b.fresh_value(&format!("{}/iteration", l.name)));
    let cond_in_name = cond_in.unwrap_or_else(|| cx.b.fresh_value(&format!("{}/cond_in", l.name)));
    let mut inputs = vec![scalar(iter_name, DType::I64), scalar(cond_in_name.clone(), DType::Bool)];
    for (p, _, _) in &carried {
        inputs.push(by_name.get(p).cloned().unwrap_or_else(|| ValueInfo::untyped(p.clone())));
    }
    if let Some(extra) = by_name.keys().find(|k| inputs.iter().all(|i| &i.name != *k)) {
        return Err(cx.bad(l, format!("body Parameter '{extra}' is not fed by the port map")));
    }
    g.inputs = inputs;
    // Body outputs: cond_out, carried…, scans….
    let cond_out = match cond_result {
        Some(id) => result_of(cx, l, &t, id)?,
        None => {
            let v = cx.b.fresh_value(&format!("{}/cond_out", l.name));
            g.nodes.push(Node::new("Identity", [cond_in_name.clone()], [v.clone()]));
            ValueInfo::tensor(v, DType::Bool, Some(Shape(Vec::new())))
        }
    };
    g.outputs.push(cond_out);
    for (_, _, from) in &carried {
        g.outputs.push(result_of(cx, l, &t, *from)?);
    }
    // Node outputs: carried finals (fresh if unused), then scans, reshaped after.
    let mut finals: Vec<Option<String>> = vec![None; carried.len()];
    let mut scans: Vec<(String, String)> = Vec::new(); // (stacked, outer output)
    for (j, out_port) in l.outputs.iter().enumerate() {
        let e = map
            .iter()
            .find(|e| e.output && e.int("external_port_id") == Some(out_port.id as i64))
            .ok_or_else(|| cx.bad(l, format!("port_map does not produce output port {}", out_port.id)))?;
        let id = internal(cx, l, e)?;
        match e.int("axis") {
            Some(0) => {
                if [("start", 0), ("stride", 1)].iter().any(|(k, v)| e.int(k).is_some_and(|x| x != *v))
                    || e.int("end").is_some_and(|x| x != -1)
                {
                    return Err(cx.bad(l, "scan outputs with start/end/stride are not supported"));
                }
                g.outputs.push(result_of(cx, l, &t, id)?);
                let stacked = cx.b.fresh_value(&format!("{}/stacked", port(outs, j)?));
                scans.push((stacked, port(outs, j)?.clone()));
            }
            Some(a) if a != -1 => return Err(cx.bad(l, format!("scan outputs on axis {a} are not supported"))),
            _ => {
                let k = carried
                    .iter()
                    .position(|(_, _, from)| *from == id)
                    .ok_or_else(|| cx.bad(l, "a Loop output that is not a carried value is not supported"))?;
                if finals.get(k).is_some_and(Option::is_some) {
                    return Err(cx.bad(l, "a carried value is output twice"));
                }
                if let Some(slot) = finals.get_mut(k) {
                    *slot = Some(port(outs, j)?.clone());
                }
            }
        }
    }
    finish(&mut g).map_err(|e| cx.bad(l, e))?;
    let mut node_outs: Vec<String> = Vec::new();
    for (k, f) in finals.into_iter().enumerate() {
        node_outs.push(f.unwrap_or_else(|| cx.b.fresh_value(&format!("{}/final{k}", l.name))));
    }
    node_outs.extend(scans.iter().map(|(s, _)| s.clone()));
    // A trip count of -1 (or any negative constant) means "no limit" in OpenVINO; ONNX omits M.
    let trip = match cx.const_ints(port(ins, 0)?) {
        Some(v) if v.first().is_some_and(|&x| x < 0) => None,
        _ => Some(port(ins, 0)?.clone()),
    };
    let mut node_ins = vec![trip, Some(port(ins, 1)?.clone())];
    node_ins.extend(carried.iter().map(|(_, init, _)| Some(init.clone())));
    let name = cx.b.fresh_node(&l.name);
    let mut n = Node { op: "Loop".into(), name, inputs: node_ins, outputs: node_outs, ..Node::default() };
    n.attrs.insert("body".into(), A::Graph(Box::new(g)));
    cx.b.add_node(n, None);
    // ONNX stacks per-iteration values ([N, d0, …]); OpenVINO concatenated them ([N·d0, …]).
    for (stacked, out) in scans {
        let shape = cx.helper("Shape", &[&stacked], vec![], Some(DType::I64));
        let two = cx.i64s(&[2]);
        let end = cx.i64s(&[i64::MAX]);
        let tail = cx.helper("Slice", &[&shape, &two, &end], vec![], Some(DType::I64));
        let minus = cx.i64s(&[-1]);
        let target = cx.helper("Concat", &[&minus, &tail], vec![("axis", A::Int(0))], Some(DType::I64));
        let node = cx.b.fresh_node(&format!("{out}/merge"));
        cx.b.add_node(Node::new("Reshape", [stacked, target], [out]).named(node), None);
    }
    Ok(())
}

/// This family's rules: (condition, captured values…) and (trip count,
/// condition, fed values…), each with at least one output.
pub(crate) const RULES: &[ImportRule] = &[
    ImportRule::new("If", "If", Arity::new(Ports::at_least(1), Ports::at_least(1)), if_op).with_bodies(),
    ImportRule::new(
        "Loop",
        "Loop [+ Reshape of scan outputs]",
        Arity::new(Ports::at_least(2), Ports::at_least(1)),
        loop_op,
    )
    .with_bodies(),
];
