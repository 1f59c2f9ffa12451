//! TensorLists as ONNX sequences.
//!
//! A TF `TensorList` is a `DT_VARIANT` handle to a list of tensors; loops
//! carry one to collect a value per iteration (`tf.TensorArray`, Keras RNN
//! layers), then stack it. An ONNX sequence is the same thing as a value,
//! and a `Loop` carries it like any other. `TensorListReserve` makes a list
//! of `n` unset slots, which have no ONNX counterpart: they are scalar
//! zeros of the element type until `TensorListSetItem` replaces them (TF
//! refuses to read or stack an unset slot of unknown shape, so the zeros
//! are never seen by a model TF runs). Stacking an empty list is refused
//! at run time (`ConcatFromSequence` has no element to take the shape of);
//! TF builds it from the list's element shape, which is not tracked.
//! `element_shape` inputs and `num_elements` are checks in TF; a constant
//! `element_shape` gives the rank of what is read or stacked (a `Reshape`
//! that copies every unknown dim), since ONNX does not track a sequence's
//! element shape through a `Loop`.

// Rules index their inputs (`ins[k]`) only below their checked arity.
#![allow(clippy::indexing_slicing)]

use ir::{Attribute as A, DType, Result};

use super::control::finish_body;
use super::{Cx, Ports, Rule, type_attr};
use crate::graph::TfNode;

type Ins<'a> = &'a [String];

/// The list's `element_dtype`.
fn element_dtype(cx: &Cx<'_>, n: &TfNode) -> Result<DType> {
    type_attr(n, "element_dtype").ok_or_else(|| cx.bad(n, "attribute 'element_dtype' is not a type the IR has"))
}

fn empty(cx: &mut Cx<'_>, n: &TfNode, _: Ins<'_>) -> Result<Vec<String>> {
    let d = element_dtype(cx, n)?;
    Ok(vec![cx.op("SequenceEmpty", &[], vec![("dtype", A::Int(i64::from(d.onnx_code())))])?])
}

fn reserve(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let d = element_dtype(cx, n)?;
    let count = cx.as_i64_vector(&ins[1])?;
    let zero = cx.scalar(0.0, d)?;
    // With a constant element_shape the unset slots take the element's
    // rank (dims of 1): ONNX shape inference then sees stacks of the right
    // rank (scalar slots made a later rank-fixing Reshape invalid for it).
    let rank = match cx.shape(&ins[0]) {
        Some(s) if s.rank() == 1 => cx.const_ints(&ins[0]).map(|v| v.len()),
        _ => None,
    };
    let target = match rank {
        Some(k) if k > 0 => {
            let ones = cx.i64s(&vec![1; k]);
            cx.op("Concat", &[&count, &ones], vec![("axis", A::Int(0))])?
        }
        _ => count,
    };
    let zeros = cx.op("Expand", &[&zero, &target], vec![])?;
    Ok(vec![cx.op("SplitToSequence", &[&zeros], vec![("axis", A::Int(0)), ("keepdims", A::Int(0))])?])
}

fn from_tensor(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(vec![cx.op("SplitToSequence", &[&ins[0]], vec![("axis", A::Int(0)), ("keepdims", A::Int(0))])?])
}

fn push_back(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    Ok(vec![cx.op("SequenceInsert", &[&ins[0], &ins[1]], vec![])?])
}

fn set_item(cx: &mut Cx<'_>, n: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    if !cx.bool(n, "resize_if_index_out_of_bounds", false)? {
        let erased = cx.op("SequenceErase", &[&ins[0], &ins[1]], vec![])?;
        return Ok(vec![cx.op("SequenceInsert", &[&erased, &ins[2], &ins[1]], vec![])?]);
    }
    // A growing list (`tf.TensorArray(dynamic_size=True)`): an index past
    // the end appends. Only the next index can be appended; a gap (which
    // TF fills with unset slots) fails in `SequenceInsert` when run.
    let (list, item) = (&ins[0], &ins[2]);
    let index = cx.as_i64(&ins[1])?;
    let len = cx.op("SequenceLength", &[list], vec![])?;
    let inside = cx.op("Less", &[&index, &len], vec![])?;
    let mut replace = cx.nested(&format!("{}/replace", n.name));
    let mut append = cx.nested(&format!("{}/append", n.name));
    for v in [list, item, &index] {
        replace.b.set_known(v, cx.known(v));
        append.b.set_known(v, cx.known(v));
    }
    let erased = replace.op("SequenceErase", &[list, &index], vec![])?;
    let replaced = replace.op("SequenceInsert", &[&erased, item, &index], vec![])?;
    let replace = finish_body(cx, n, replace, &[replaced])?;
    let appended = append.op("SequenceInsert", &[list, item, &index], vec![])?;
    let append = finish_body(cx, n, append, &[appended])?;
    cx.emit(
        "If",
        vec![Some(inside)],
        1,
        vec![("then_branch", A::Graph(Box::new(replace))), ("else_branch", A::Graph(Box::new(append)))],
    )
}

/// `v` (an element, or with `stacked` a stack of elements) reshaped to the
/// constant `element_shape` when it gives the rank: a sequence's element
/// shape is not tracked through a `Loop`, and rules after a read or a
/// stack need the rank. Every dim the shape does not fix is `0`, which
/// copies the input's (as does a fixed `0`, harmlessly).
fn with_element_shape(cx: &mut Cx<'_>, v: String, element_shape: &str, stacked: bool) -> Result<String> {
    // A scalar `element_shape` (-1) is an unknown rank.
    if cx.shape(element_shape).is_none_or(|s| s.rank() != 1) {
        return Ok(v);
    }
    let Some(dims) = cx.const_ints(element_shape) else { return Ok(v) };
    let mut target: Vec<i64> = if stacked { vec![0] } else { vec![] };
    target.extend(dims.iter().map(|&d| d.max(0)));
    let shape = cx.i64s(&target);
    cx.op("Reshape", &[&v, &shape], vec![])
}

fn get_item(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let item = cx.op("SequenceAt", &[&ins[0], &ins[1]], vec![])?;
    Ok(vec![with_element_shape(cx, item, &ins[2], false)?])
}

fn stack(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let s = cx.op("ConcatFromSequence", &[&ins[0]], vec![("axis", A::Int(0)), ("new_axis", A::Int(1))])?;
    Ok(vec![with_element_shape(cx, s, &ins[1], true)?])
}

fn length(cx: &mut Cx<'_>, _: &TfNode, ins: Ins<'_>) -> Result<Vec<String>> {
    let l = cx.op("SequenceLength", &[&ins[0]], vec![])?;
    Ok(vec![cx.cast(&l, DType::I32)?])
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule::new("EmptyTensorList", Ports::exactly(2), "SequenceEmpty", empty)
        .notes("a TensorList is a sequence; max_num_elements not enforced"),
    Rule::new("TensorListFromTensor", Ports::exactly(2), "SplitToSequence", from_tensor),
    Rule::new("TensorListGetItem", Ports::exactly(3), "SequenceAt", get_item),
    Rule::new("TensorListLength", Ports::exactly(1), "SequenceLength, Cast", length),
    Rule::new("TensorListPushBack", Ports::exactly(2), "SequenceInsert", push_back),
    Rule::new("TensorListReserve", Ports::exactly(2), "Expand, SplitToSequence", reserve)
        .notes("unset slots are scalar zeros until set"),
    Rule::new("TensorListSetItem", Ports::exactly(3), "SequenceErase, SequenceInsert", set_item)
        .notes("with resize_if_index_out_of_bounds, an If that appends at the next index"),
    Rule::new("TensorListStack", Ports::exactly(2), "ConcatFromSequence", stack)
        .notes("new axis 0; an empty list is refused when run"),
];
