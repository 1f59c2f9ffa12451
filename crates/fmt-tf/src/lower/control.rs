//! Control flow: `If`/`StatelessIf` → `If`, `While`/`StatelessWhile` →
//! `Loop`, with the library functions they name lowered through the same
//! rule table as the graph.
//!
//! TF functions take everything they read as arguments; ONNX bodies read
//! outer values by name. So an `If` branch has no inputs: each function
//! argument is bound to the value the `If` passes (constants are copied
//! into the body, still views of the same bytes, because rules read
//! constant operands: shapes, axes, permutations; the outer copy is dropped
//! when only bodies read it).
//!
//! TF's `While` tests `cond` before every iteration, ONNX's `Loop` tests a
//! condition computed once before the loop and then by the body. So the
//! `cond` function is lowered twice: inline on the initial values before
//! the `Loop`, and inside the body after the TF body, on its results. The
//! trip count is absent. Loop variables the body returns unchanged (TF
//! passes every captured value through the loop) are read from outside
//! instead of carried, so the body sees them as they are (constants stay
//! constant). A carried value's shape inside the body is the `While`'s
//! `output_shapes` entry when it has one, else the initial value's rank
//! with every dimension unknown (ONNX lets carried dims change).
//!
//! TF's condition is a boolean scalar, or a number (non-zero is true), or
//! any tensor of rank ≥ 1 (non-empty is true). The rank must be known to
//! tell these apart; string conditions are refused.
//!
//! Nesting is bounded by `Limits::max_depth` (every function being
//! lowered counts one level), and a function that calls itself through
//! control flow is refused, before it could recurse without end.

// Rules index their inputs (`ins[k]`) only below their checked arity; the
// function outputs and arguments are indexed below lengths checked here.
#![allow(clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};

use ir::infer::Known;
use ir::{Attribute as A, DType, Dim, Error, Graph, Limit, Result, Shape, ValueInfo, ValueType};

use super::{Cx, Nodes, Ports, Rule};
use crate::graph::{TfAttr, TfFunction, TfNode, TfRef};

type Ins<'a> = &'a [String];

/// The function named by attribute `attr` of `n`.
fn function<'a>(cx: &Cx<'a>, n: &TfNode, attr: &str) -> Result<&'a TfFunction> {
    let Some(TfAttr::Func(name)) = n.attr(attr) else {
        return Err(cx.bad(n, format!("attribute '{attr}' is not a function")));
    };
    cx.functions.get(name).ok_or_else(|| cx.bad(n, format!("function '{name}' is not in the library")))
}

/// Starts lowering `f` from node `n`: refuses a function that is already
/// being lowered (it would recurse forever) and nesting past the depth limit.
fn enter(cx: &mut Cx<'_>, n: &TfNode, f: &TfFunction) -> Result<()> {
    if let Some(pos) = cx.calls.iter().position(|c| *c == f.name) {
        let via = cx.calls.get(pos.saturating_add(1)..).unwrap_or_default().join(" -> ");
        let via = if via.is_empty() { String::new() } else { format!(" (through {via})") };
        return Err(cx.bad(n, format!("function '{}' calls itself{via}", f.name)));
    }
    if cx.calls.len() >= cx.limits().max_depth {
        let what = format!("node '{}' ({}) calling function '{}'", n.name, n.op, f.name);
        return Err(Error::malformed(cx.path(), cx.limits().message(Limit::Depth, &what)));
    }
    cx.calls.push(f.name.clone());
    Ok(())
}

/// Lowers `f`'s nodes into the graph `cx` builds with argument `k` bound to
/// `args[k]`; returns the function's outputs.
fn lower_function(cx: &mut Cx<'_>, n: &TfNode, f: &TfFunction, args: &[String]) -> Result<Vec<String>> {
    if args.len() != f.args.len() {
        return Err(
            cx.bad(n, format!("passes {} values to function '{}', which takes {}", args.len(), f.name, f.args.len()))
        );
    }
    enter(cx, n, f)?;
    let nodes = Nodes::new(cx.path(), format!("function '{}': ", f.name), &f.nodes)?;
    let mut values: HashMap<TfRef, String> =
        f.args.iter().zip(args).map(|(a, v)| (TfRef::new(a, 0), v.clone())).collect();
    let bound: HashSet<&str> = f.args.iter().map(String::as_str).collect();
    let roots: Vec<(&TfRef, String)> =
        f.outputs.iter().enumerate().map(|(k, r)| (r, format!("function '{}' output {k}", f.name))).collect();
    // The body's rules rename helpers and retarget: the caller's rule goes on after.
    let (current, target) = (cx.current().to_string(), cx.target);
    nodes.lower(cx, &roots, &mut values, &bound)?;
    cx.set_current(&current);
    cx.target = target;
    cx.calls.pop();
    f.outputs
        .iter()
        .map(|r| {
            values
                .get(r)
                .cloned()
                .ok_or_else(|| cx.bad(n, format!("function '{}' returns '{r}', which is not produced", f.name)))
        })
        .collect()
}

/// The outer value `v` as a body (built by `sub`) reads it: constants
/// copied in (see the module documentation), others by name with what is
/// known of them.
fn capture(cx: &Cx<'_>, sub: &mut Cx<'_>, v: &str) -> String {
    if let Some(t) = cx.const_of(v) {
        return sub.constant(t.clone());
    }
    sub.b.set_known(v, cx.known(v));
    v.to_string()
}

/// Finishes the body `sub` built: `outs` become its outputs (through an
/// `Identity` when the body does not produce the value itself, or returns
/// it twice), and its value names go back to `cx`.
pub(crate) fn finish_body(cx: &mut Cx<'_>, n: &TfNode, mut sub: Cx<'_>, outs: &[String]) -> Result<Graph> {
    let produced: HashSet<String> = sub.b.graph.nodes.iter().flat_map(|m| m.outputs.iter().cloned()).collect();
    let mut used = HashSet::new();
    let mut outputs = Vec::with_capacity(outs.len());
    for v in outs {
        let v = if produced.contains(v) && used.insert(v.clone()) {
            v.clone()
        } else {
            let o = sub.op("Identity", &[v], vec![])?;
            used.insert(o.clone());
            o
        };
        let ty = sub.known(&v).ty;
        outputs.push(ValueInfo { ty, ..ValueInfo::untyped(v) });
    }
    cx.b.merge_value_names(sub.b.value_names());
    let mut g = sub.b.finish();
    g.outputs = outputs;
    g.remove_dead_nodes();
    g.remove_unused_initializers();
    g.topo_sort().map_err(|e| cx.bad(n, e))?;
    Ok(g)
}

/// TF's condition `v` as ONNX's boolean scalar (see the module documentation).
fn condition(cx: &mut Cx<'_>, n: &TfNode, v: &str) -> Result<String> {
    let dtype = cx.dtype_of(n, v)?;
    if dtype == DType::String {
        return Err(cx.bad(n, "a string condition is not supported (only booleans, numbers and tensors of rank ≥ 1)"));
    }
    match cx.shape(v).map(Shape::rank) {
        Some(0) => cx.cast(v, DType::Bool),
        Some(_) => {
            let size = cx.op("Size", &[v], vec![])?;
            let zero = cx.scalar(0.0, DType::I64)?;
            cx.op("Greater", &[&size, &zero], vec![])
        }
        None => Err(cx.bad(
            n,
            format!(
                "the rank of the condition '{v}' is unknown (TensorFlow reads a scalar by its value and any \
                 other tensor by whether it is empty)"
            ),
        )),
    }
}

fn if_(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let (cond, args) = ins.split_first().expect("arity checked: at least 1 input");
    let cond = condition(cx, n, cond)?;
    let then_f = function(cx, n, "then_branch")?;
    let else_f = function(cx, n, "else_branch")?;
    let count = match n.attr("Tout") {
        Some(TfAttr::List(t)) => t.len(),
        _ => then_f.outputs.len(),
    };
    for f in [then_f, else_f] {
        if f.outputs.len() != count {
            return Err(cx.bad(n, format!("function '{}' returns {} values, the If {count}", f.name, f.outputs.len())));
        }
    }
    let mut branches = Vec::with_capacity(2);
    for (f, tag) in [(then_f, "then"), (else_f, "else")] {
        let mut sub = cx.nested(&format!("{}/{tag}", n.name));
        let bound: Vec<String> = args.iter().map(|a| capture(cx, &mut sub, a)).collect();
        let outs = lower_function(&mut sub, n, f, &bound)?;
        branches.push(finish_body(cx, n, sub, &outs)?);
    }
    let else_g = branches.pop().expect("two branches");
    let then_g = branches.pop().expect("two branches");
    cx.emit(
        "If",
        vec![Some(cond)],
        count,
        vec![("then_branch", A::Graph(Box::new(then_g))), ("else_branch", A::Graph(Box::new(else_g)))],
    )
}

/// The shape a carried value has inside the body: the `While`'s
/// `output_shapes` entry `k`, else the initial value's rank with unknown dims.
fn carried_shape(cx: &Cx<'_>, n: &TfNode, k: usize, initial: &str) -> Option<Shape> {
    if let Some(TfAttr::List(shapes)) = n.attr("output_shapes")
        && let Some(TfAttr::Shape(s)) = shapes.get(k)
    {
        let dims = s.as_ref()?;
        return Some(Shape(
            dims.iter().map(|d| d.and_then(|d| u64::try_from(d).ok()).map_or(Dim::Unknown, Dim::Fixed)).collect(),
        ));
    }
    cx.shape(initial).map(|s| Shape(vec![Dim::Unknown; s.rank()]))
}

fn while_(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let cond_f = function(cx, n, "cond")?;
    let body_f = function(cx, n, "body")?;
    let nv = ins.len();
    if body_f.args.len() != nv || body_f.outputs.len() != nv {
        return Err(cx.bad(
            n,
            format!(
                "body '{}' takes {} and returns {} values; the While has {nv} loop variables",
                body_f.name,
                body_f.args.len(),
                body_f.outputs.len()
            ),
        ));
    }
    if cond_f.args.len() != nv || cond_f.outputs.len() != 1 {
        return Err(cx.bad(n, format!("cond '{}' must take the {nv} loop variables and return one value", cond_f.name)));
    }
    let invariant: Vec<bool> = (0..nv).map(|k| body_f.outputs[k] == TfRef::new(&body_f.args[k], 0)).collect();
    let first = lower_function(cx, n, cond_f, ins)?;
    let first = condition(cx, n, &first[0])?;

    let mut sub = cx.nested(&format!("{}/body", n.name));
    let iteration = sub.b.fresh_value(&format!("{}/iteration", n.name));
    let cond_in = sub.b.fresh_value(&format!("{}/cond", n.name));
    let mut inputs = vec![
        ValueInfo::tensor(&iteration, DType::I64, Some(Shape(vec![]))),
        ValueInfo::tensor(&cond_in, DType::Bool, Some(Shape(vec![]))),
    ];
    let mut args = Vec::with_capacity(nv);
    let mut carried = Vec::new();
    for (k, v) in ins.iter().enumerate() {
        if invariant[k] {
            args.push(capture(cx, &mut sub, v));
            continue;
        }
        let name = sub.b.fresh_value(&format!("{}/var_{k}", n.name));
        // A TensorList (an ONNX sequence) is carried with its type as it is.
        let vi = match cx.known(v).ty {
            ty @ ValueType::Sequence(_) => ValueInfo { ty, ..ValueInfo::untyped(&name) },
            _ => ValueInfo::tensor(&name, cx.dtype_of(n, v)?, carried_shape(cx, n, k, v)),
        };
        sub.b.set_known(&name, Known::of(vi.ty.clone()));
        inputs.push(vi);
        args.push(name);
        carried.push(k);
    }
    let outs = lower_function(&mut sub, n, body_f, &args)?;
    let next = lower_function(&mut sub, n, cond_f, &outs)?;
    let next = condition(&mut sub, n, &next[0])?;
    sub.b.graph.inputs = inputs;
    let mut body_outs = vec![next];
    body_outs.extend(carried.iter().map(|&k| outs[k].clone()));
    let body = finish_body(cx, n, sub, &body_outs)?;

    let mut loop_ins = vec![None, Some(first)];
    loop_ins.extend(carried.iter().map(|&k| Some(ins[k].clone())));
    let finals = cx.emit("Loop", loop_ins, carried.len(), vec![("body", A::Graph(Box::new(body)))])?;
    let mut finals = finals.into_iter();
    Ok(ins
        .iter()
        .enumerate()
        .map(|(k, v)| if invariant[k] { v.clone() } else { finals.next().expect("one Loop output per carried value") })
        .collect())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("If", Ports::at_least(1), "If", if_)
        .notes("branch functions lowered as subgraphs; condition: bool or number scalar, or non-empty tensor"),
    Rule::new("ReadVariableOp", Ports::exactly(1), "(none)", |_, _, ins| Ok(ins.to_vec()))
        .notes("only in control-flow bodies, whose argument carries the variable's value (others become constants when parsed)"),
    Rule::new("StatelessIf", Ports::at_least(1), "If", if_).notes("as If"),
    Rule::new("StatelessWhile", Ports::at_least(0), "Loop", while_).notes("as While"),
    Rule::new("While", Ports::at_least(0), "Loop", while_)
        .notes("cond lowered before the Loop and at the end of its body; values the body returns unchanged are read from outside"),
];
