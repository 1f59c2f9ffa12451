//! The library functions that control-flow ops name (`If`'s branches,
//! `While`'s condition and body), kept as [`TfFunction`]s.
//!
//! `PartitionedCall`s are inlined into the graph, but a branch or a loop
//! body cannot be: it runs conditionally or repeatedly, so the lowering
//! makes it a subgraph. Each such function is flattened on its own by the
//! same [`Flattener`] as the graph, through a small graph that calls it
//! once: one `Placeholder` per argument feeding a `PartitionedCall`. Its
//! own calls are inlined; the functions its control-flow ops name are
//! collected in turn (each once, so a function naming itself is collected
//! once and refused by the lowering, which sees the cycle).
//!
//! Every function's nodes count against `Limits::max_tensors` together
//! with the graph's, so a library cannot multiply past the limit through
//! many small functions.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ir::{Buffer, Error, Limit, Limits, Result};

use super::flatten::Flattener;
use crate::generated::tensorflow::{AttrValue, FunctionDefLibrary, NameAttrList, NodeDef, attr_value};
use crate::graph::{TfAttr, TfFunction, TfNode, TfRef};

/// Control-flow ops and the attributes that name their functions.
pub const CONTROL_FLOW: &[(&str, &[&str])] = &[
    ("If", &["then_branch", "else_branch"]),
    ("StatelessIf", &["then_branch", "else_branch"]),
    ("StatelessWhile", &["cond", "body"]),
    ("While", &["cond", "body"]),
];

/// The functions `n` names, if it is a control-flow op (absent or
/// non-function attributes are left for the lowering to report).
fn named_functions(n: &TfNode) -> impl Iterator<Item = &str> {
    let attrs = CONTROL_FLOW.iter().find(|(op, _)| *op == n.op).map_or(&[][..], |(_, a)| *a);
    attrs.iter().filter_map(|a| match n.attr(a) {
        Some(TfAttr::Func(f)) => Some(f.as_str()),
        _ => None,
    })
}

/// Flattens every function the control-flow ops among `nodes` name,
/// transitively (the graph's nodes count with the functions' against the
/// tensor limit).
pub fn collect(
    library: Option<&FunctionDefLibrary>,
    source: &Buffer,
    path: &Path,
    limits: &Limits,
    nodes: &[TfNode],
) -> Result<BTreeMap<String, TfFunction>> {
    let mut out: BTreeMap<String, TfFunction> = BTreeMap::new();
    let mut todo: Vec<String> = nodes.iter().flat_map(named_functions).map(str::to_string).collect();
    let mut total = nodes.len() as u64;
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let f = function(library, source, path, limits, &name)?;
        total = total.saturating_add(f.nodes.len() as u64);
        if total > limits.max_tensors as u64 {
            let what = format!("graph: {total} nodes with the control-flow functions");
            return Err(Error::malformed(path, limits.message(Limit::Tensors, &what)));
        }
        todo.extend(f.nodes.iter().flat_map(named_functions).map(str::to_string));
        out.insert(name, f);
    }
    Ok(out)
}

/// Flattens function `name` through a graph that calls it once.
fn function(
    library: Option<&FunctionDefLibrary>,
    source: &Buffer,
    path: &Path,
    limits: &Limits,
    name: &str,
) -> Result<TfFunction> {
    let sig = library
        .and_then(|l| l.function.iter().find_map(|f| f.signature.as_ref().filter(|s| s.name == name)))
        .ok_or_else(|| {
            Error::malformed(path, format!("control flow names function '{name}', which is not in the library"))
        })?;
    // '#' is in no TensorFlow node name, so the argument nodes cannot meet
    // the body's nodes (named `name/...`).
    let args: Vec<String> = sig.input_arg.iter().map(|a| format!("{name}#{}", a.name)).collect();
    let mut defs: Vec<NodeDef> =
        args.iter().map(|a| NodeDef { name: a.clone(), op: "Placeholder".into(), ..NodeDef::default() }).collect();
    let f =
        AttrValue { value: Some(attr_value::Value::Func(NameAttrList { name: name.into(), attr: HashMap::new() })) };
    defs.push(NodeDef {
        name: name.into(),
        op: "PartitionedCall".into(),
        input: args.clone(),
        attr: [("f".to_string(), f)].into(),
        ..NodeDef::default()
    });
    let mut flat = Flattener::new(library, source, path, limits);
    flat.graph(&defs)?;
    let outputs = (0..sig.output_arg.len()).map(|k| flat.resolve(&TfRef::new(name, k))).collect::<Result<Vec<_>>>()?;
    let nodes = flat.finish()?;
    Ok(TfFunction { name: name.into(), args, nodes, outputs })
}
