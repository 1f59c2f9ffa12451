//! Reductions and arg-reductions.
//!
//! TF takes the axes as an input (a scalar or a vector, `i32` or `i64`);
//! an empty list reduces nothing, where ONNX's empty axes reduce
//! everything, so it lowers to the input itself. Whether the canonical op
//! takes axes as an input or an attribute at the import opset is read from
//! `ir::schema`. `ArgMax`/`ArgMin` return `output_type` (default `i64`).

// Rules index their inputs (`ins[k]`) freely: `Lowering::run` (in
// `lower/mod.rs`) checks each node's input count against the rule's
// `Ports` before the rule runs, so `k` is always below it. Every other
// index in this module is on data checked where it is read.
#![allow(clippy::indexing_slicing)]

use ir::{Attribute as A, DType, Result};

use super::{Cx, Ports, Rule, type_attr};
use crate::graph::TfNode;

type Ins<'a> = &'a [String];

fn reduction(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let op = cx.target;
    let keep = cx.bool(n, "keep_dims", false)?;
    let axes = cx.const_ints(&ins[1]);
    if axes.as_ref().is_some_and(Vec::is_empty) {
        return Ok(vec![ins[0].clone()]);
    }
    let schema = ir::schema::lookup("", op).ok_or_else(|| cx.bad(n, format!("no schema for {op}")))?;
    let attrs = vec![("keepdims", A::Int(i64::from(keep)))];
    if schema.input_at("axes", cx.opset).is_some() {
        let axes = cx.as_i64_vector(&ins[1])?;
        let attrs = [attrs, vec![("noop_with_empty_axes", A::Int(1))]].concat();
        return Ok(vec![cx.op(op, &[&ins[0], &axes], attrs)?]);
    }
    let axes = axes.ok_or_else(|| cx.bad(n, format!("the axes ('{}') must be a constant", ins[1])))?;
    let attrs = [attrs, vec![("axes", A::Ints(axes))]].concat();
    Ok(vec![cx.op(op, &[&ins[0]], attrs)?])
}

/// `All`/`Any`: the canonical min/max reductions take no booleans at the
/// import opset, so they run on 0/1 integers.
fn bool_reduction(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let x = cx.cast(&ins[0], DType::I32)?;
    let r = reduction(cx, n, &[x, ins[1].clone()])?;
    let [r] = r.as_slice() else { return Err(cx.bad(n, "a reduction has one output")) };
    Ok(vec![cx.cast(r, DType::Bool)?])
}

fn arg_reduction(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let axis = match cx.ints_of(n, &ins[1], "dimension")?.as_slice() {
        [a] => *a,
        v => return Err(cx.bad(n, format!("the dimension must be one axis, found {v:?}"))),
    };
    let out = cx.op(cx.target, &[&ins[0]], vec![("axis", A::Int(axis)), ("keepdims", A::Int(0))])?;
    let to = type_attr(n, "output_type").unwrap_or(DType::I64);
    Ok(vec![cx.cast(&out, to)?])
}

const TWO: Ports = Ports::exactly(2);

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("All", TWO, "ReduceMin", bool_reduction).notes("on 0/1 `i32`; `keep_dims`; constant axes"),
    Rule::new("Any", TWO, "ReduceMax", bool_reduction).notes("on 0/1 `i32`; `keep_dims`; constant axes"),
    Rule::new("ArgMax", TWO, "ArgMax", arg_reduction).notes("`output_type` (`Cast` to i32 when asked)"),
    Rule::new("ArgMin", TWO, "ArgMin", arg_reduction).notes("`output_type` (`Cast` to i32 when asked)"),
    Rule::new("Max", TWO, "ReduceMax", reduction).notes("`keep_dims`; constant axes"),
    Rule::new("Mean", TWO, "ReduceMean", reduction).notes("`keep_dims`; constant axes"),
    Rule::new("Min", TWO, "ReduceMin", reduction).notes("`keep_dims`; constant axes"),
    Rule::new("Prod", TWO, "ReduceProd", reduction).notes("`keep_dims`; constant axes"),
    Rule::new("Sum", TWO, "ReduceSum", reduction).notes("`keep_dims`; axes may be computed"),
];
