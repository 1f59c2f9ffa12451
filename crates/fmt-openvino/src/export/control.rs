//! Control flow: ONNX `If` → `If-8`, ONNX `Loop` → `Loop-5`.
//!
//! ONNX bodies read outer values by name (implicit capture); OpenVINO
//! bodies see only their `Parameter`s, so every captured value becomes an
//! explicit input of the layer, mapped to a body `Parameter` by the port
//! map. A Loop's carried values are merged inputs (a back edge from the
//! body `Result` to the `Parameter`); ONNX's `cond_in` is carried the same
//! way from the body condition, so it reads the previous iteration's
//! condition as in ONNX; scan outputs get an `Unsqueeze` at axis 0 in the
//! body and are concatenated on axis 0 by the port map (ONNX stacks them).

use indexmap::IndexMap;
use ir::{Attribute, DType, Error, Graph, Node, Result};

use super::{BodyParam, Ex, Rule, Src, Sub};
use crate::xml::PortMapEntry;

fn graph_attr<'n>(n: &'n Node, name: &str) -> Result<&'n Graph> {
    match n.attr(name) {
        Some(Attribute::Graph(g)) => Ok(g),
        _ => Err(Error::invalid(format!("{}: the '{name}' subgraph attribute is missing", n.describe()))),
    }
}

fn entry(output: bool, attrs: &[(&str, String)]) -> PortMapEntry {
    PortMapEntry { output, attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<IndexMap<_, _>>() }
}

/// The outer values the bodies capture, in first-use order, with their sources.
fn captures(ex: &mut Ex<'_>, bodies: &[&Graph]) -> Result<Vec<(String, Src)>> {
    let mut names: Vec<String> = Vec::new();
    for g in bodies {
        for c in g.captures() {
            if !names.contains(&c) {
                names.push(c);
            }
        }
    }
    names.into_iter().map(|c| ex.value(&c).map(|s| (c, s))).collect()
}

/// A body `Parameter` for a captured outer value, typed like its source.
fn capture_param(ex: &Ex<'_>, n: &Node, name: &str, s: Src) -> Result<BodyParam> {
    let dtype = ex.dtype(s).ok_or_else(|| {
        Error::invalid(format!("{}: the element type of captured value '{name}' is not known", n.describe()))
    })?;
    Ok(BodyParam { name: name.to_string(), dtype, dims: None, rank: ex.rank(s) })
}

/// The output dtypes and ranks a body's outputs declare.
fn declared(g: &Graph, j: usize) -> (Option<DType>, Option<usize>) {
    g.outputs.get(j).map_or((None, None), |o| (o.dtype(), o.shape().map(|s| s.rank())))
}

fn if_op(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let cond = ex.input(n, 0)?;
    let then_g = graph_attr(n, "then_branch")?;
    let else_g = graph_attr(n, "else_branch")?;
    let n_out = n.outputs.len();
    if then_g.outputs.len() != n_out || else_g.outputs.len() != n_out {
        return Err(Error::invalid(format!(
            "{}: the branches have {} and {} outputs for {n_out} node outputs",
            n.describe(),
            then_g.outputs.len(),
            else_g.outputs.len()
        )));
    }
    let caps = captures(ex, &[then_g, else_g])?;
    let params: Vec<BodyParam> = caps.iter().map(|(name, s)| capture_param(ex, n, name, *s)).collect::<Result<_>>()?;
    let then_b = ex.body(then_g, &params, usize::MAX)?;
    let else_b = ex.body(else_g, &params, usize::MAX)?;
    let mut inputs = vec![cond];
    inputs.extend(caps.iter().map(|(_, s)| *s));
    let n_in = inputs.len();
    let outs = ex.layer("If", "opset8", &[], &inputs, n_out);
    let map = |b: &super::Body| -> Vec<PortMapEntry> {
        let mut v: Vec<PortMapEntry> = b
            .params
            .iter()
            .enumerate()
            .map(|(i, id)| {
                entry(false, &[("external_port_id", (i + 1).to_string()), ("internal_layer_id", id.to_string())])
            })
            .collect();
        v.extend(b.results.iter().enumerate().map(|(j, id)| {
            entry(true, &[("external_port_id", (n_in + j).to_string()), ("internal_layer_id", id.to_string())])
        }));
        v
    };
    let sub = Sub {
        port_maps: vec![("then_port_map", map(&then_b)), ("else_port_map", map(&else_b))],
        bodies: vec![("then_body", then_b.layers), ("else_body", else_b.layers)],
        back_edges: Vec::new(),
    };
    ex.attach(outs[0], sub);
    for (j, &o) in outs.iter().enumerate() {
        let (d, r) = declared(then_g, j);
        ex.set(o, d, r);
        ex.bind(n, j, o);
    }
    Ok(())
}

fn loop_op(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let body = graph_attr(n, "body")?;
    let carried = n.inputs.len().saturating_sub(2);
    if body.inputs.len() != carried + 2 || body.outputs.len() < carried + 1 {
        return Err(Error::invalid(format!(
            "{}: the body has {} inputs and {} outputs for {carried} carried values",
            n.describe(),
            body.inputs.len(),
            body.outputs.len()
        )));
    }
    let scans = body.outputs.len() - 1 - carried;
    if n.outputs.len() > carried + scans {
        return Err(Error::invalid(format!("{}: more outputs than the body makes", n.describe())));
    }
    // No trip count: unbounded (-1); no condition: true.
    let trip = match ex.opt_input(n, 0)? {
        Some(t) => t,
        None => {
            let t = ex.i64_scalar(-1);
            ex.set(t, Some(DType::I64), Some(0))
        }
    };
    let cond = match ex.opt_input(n, 1)? {
        Some(c) => c,
        None => ex.scalar(1.0, Some(DType::Bool))?,
    };
    let init: Vec<Src> = (0..carried).map(|i| ex.input(n, i + 2)).collect::<Result<_>>()?;
    let caps = captures(ex, &[body])?;
    // Body parameters: iteration, cond_in, carried…, captures….
    let mut params = Vec::new();
    for (k, vi) in body.inputs.iter().enumerate() {
        let dtype = match k {
            0 => DType::I64,
            1 => DType::Bool,
            _ => vi.dtype().or_else(|| ex.dtype(init[k - 2])).ok_or_else(|| {
                Error::invalid(format!(
                    "{}: the element type of carried value '{}' is not known",
                    n.describe(),
                    vi.name
                ))
            })?,
        };
        let (dims, rank) = match vi.shape() {
            Some(s) => (Some(s.dims().to_vec()), Some(s.rank())),
            None if k < 2 => (Some(Vec::new()), Some(0)),
            None => (None, ex.rank(init[k - 2])),
        };
        params.push(BodyParam { name: vi.name.clone(), dtype, dims, rank });
    }
    for (name, s) in &caps {
        params.push(capture_param(ex, n, name, *s)?);
    }
    let b = ex.body(body, &params, 1 + carried)?;
    // Outer inputs: trip, cond, carried initial values, cond again (for cond_in), captures.
    let mut inputs = vec![trip, cond];
    inputs.extend(&init);
    inputs.push(cond);
    inputs.extend(caps.iter().map(|(_, s)| *s));
    let n_in = inputs.len();
    let mut pm = Vec::new();
    let mut back = Vec::new();
    for i in 0..carried {
        pm.push(entry(
            false,
            &[("external_port_id", (2 + i).to_string()), ("internal_layer_id", b.params[2 + i].to_string())],
        ));
        back.push((b.results[1 + i], b.params[2 + i]));
    }
    pm.push(entry(
        false,
        &[("external_port_id", (2 + carried).to_string()), ("internal_layer_id", b.params[1].to_string())],
    ));
    back.push((b.results[0], b.params[1]));
    for c in 0..caps.len() {
        pm.push(entry(
            false,
            &[
                ("external_port_id", (3 + carried + c).to_string()),
                ("internal_layer_id", b.params[2 + carried + c].to_string()),
            ],
        ));
    }
    let n_out = n.outputs.len();
    for j in 0..n_out {
        let ext = (n_in + j).to_string();
        let internal = b.results[1 + j].to_string();
        if j < carried {
            pm.push(entry(true, &[("external_port_id", ext), ("internal_layer_id", internal)]));
        } else {
            pm.push(entry(
                true,
                &[
                    ("axis", "0".into()),
                    ("external_port_id", ext),
                    ("internal_layer_id", internal),
                    ("start", "0".into()),
                    ("end", "-1".into()),
                    ("stride", "1".into()),
                    ("part_size", "1".into()),
                ],
            ));
        }
    }
    pm.push(entry(
        false,
        &[
            ("external_port_id", "-1".into()),
            ("internal_layer_id", b.params[0].to_string()),
            ("purpose", "current_iteration".into()),
        ],
    ));
    pm.push(entry(
        true,
        &[
            ("external_port_id", "-1".into()),
            ("internal_layer_id", b.results[0].to_string()),
            ("purpose", "execution_condition".into()),
        ],
    ));
    let outs = ex.layer("Loop", "opset5", &[], &inputs, n_out);
    ex.attach(outs[0], Sub { bodies: vec![("body", b.layers)], port_maps: vec![("port_map", pm)], back_edges: back });
    for (j, &o) in outs.iter().enumerate() {
        let (d, r) = declared(body, 1 + j);
        let r = if j >= carried { r.map(|r| r + 1) } else { r };
        ex.set(o, d, r);
        ex.bind(n, j, o);
    }
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "If", openvino: "If-8 (captured values as explicit inputs)", build: if_op },
    Rule {
        onnx: "Loop",
        openvino: "Loop-5 (merged inputs with back edges; scan outputs concatenated on axis 0)",
        build: loop_op,
    },
];
