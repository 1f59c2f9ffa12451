//! Reductions: `Reduce*-1` take their axes as an input, as ONNX does from
//! opset 18 (`ReduceSum` from 13), with `keep_dims` for `keepdims`. An empty
//! constant axes list leaves the input unchanged in OpenVINO, whereas ONNX
//! reduces over every axis, so it becomes `Identity`.

use ir::{Attribute as A, Result};

use super::{Arity, Cx, ImportRule, port, some};
use crate::xml::Layer;

fn reduce(cx: &mut Cx<'_>, l: &Layer, ins: &[String], outs: &[String], op: &str) -> Result<()> {
    let keep = cx.bool_attr(l, "keep_dims", false)?;
    let axes = cx.as_i64(port(ins, 1)?);
    let known = cx.const_ints(&axes);
    if known.as_ref().is_some_and(Vec::is_empty) {
        cx.emit(l, "Identity", vec![some(port(ins, 0)?)], outs, vec![]);
        return Ok(());
    }
    // OpenVINO accepts a scalar axis (its own converter writes one for
    // BERT's and GPT-2's shape arithmetic); ONNX wants a 1-D axes tensor.
    let axes = match (known, cx.rank(&axes)) {
        (Some(v), Some(0)) => cx.i64s(&v),
        (None, Some(0) | None) => cx.reshape(&axes, &[-1]),
        _ => axes,
    };
    cx.emit(l, op, vec![some(port(ins, 0)?), Some(axes)], outs, vec![("keepdims", A::Int(i64::from(keep)))]);
    Ok(())
}

/// A reduction rule: same name in both formats, (data, axes) inputs.
macro_rules! reductions {
    ($($op:literal),* $(,)?) => {
        &[$(ImportRule::new($op, $op, Arity::ins(2), |cx, l, i, o| reduce(cx, l, i, o, $op))),*]
    };
}

/// This family's rules.
pub(crate) const RULES: &[ImportRule] =
    reductions!["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2"];
