//! Reductions. ONNX moved `axes` from attribute to input (ReduceSum at
//! opset 13, the others at 18); OpenVINO always takes an axes input. No
//! axes means every axis, unless `noop_with_empty_axes` makes it a no-op.

use ir::{DType, Node, Result};

use super::math::binary;
use super::{Ex, Rule, Src, int, ints};

/// The axes input, or `None` for "all axes".
fn axes(ex: &mut Ex<'_>, n: &Node) -> Result<Option<Src>> {
    let attr_until = if n.op == "ReduceSum" { 13 } else { 18 };
    if ex.model().onnx_opset() < attr_until {
        return Ok(ints(n, "axes")?.map(|a| ex.i64s(&a)));
    }
    let a = ex.opt_input(n, 1)?;
    // An empty constant axes list means "all axes" too.
    Ok(a.filter(|s| ex.static_shape(*s).is_none_or(|sh| sh.iter().product::<usize>() > 0)))
}

/// Every axis of `x`: a constant when the rank is known, `Range(0, rank)` otherwise.
fn all_axes(ex: &mut Ex<'_>, x: Src) -> Src {
    if let Some(r) = ex.rank(x) {
        let v: Vec<i64> = (0..r as i64).collect();
        return ex.i64s(&v);
    }
    let shape = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[x]);
    let rank = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[shape]);
    let empty = ex.i64s(&[]);
    let rank = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[rank, empty]);
    let (zero, one) = (ex.i64_scalar(0), ex.i64_scalar(1));
    let r = ex.op("Range", "opset4", &[("output_type", "i64".into())], &[zero, rank, one]);
    ex.set(r, Some(DType::I64), Some(1))
}

/// Builds `kind(pre(x), axes)` then `post`, for the composite reductions.
fn reduce(
    ex: &mut Ex<'_>,
    n: &Node,
    kind: &'static str,
    version: &'static str,
    pre: Option<&str>,
    post: Option<&'static str>,
) -> Result<()> {
    let x = ex.input(n, 0)?;
    let keep = int(n, "keepdims", 1)? != 0;
    let a = match axes(ex, n)? {
        Some(a) => a,
        None if int(n, "noop_with_empty_axes", 0)? != 0 => {
            ex.bind(n, 0, x);
            return Ok(());
        }
        None => all_axes(ex, x),
    };
    let count = ex.static_shape(a).map(|s| s.iter().product::<usize>());
    let mut v = x;
    match pre {
        Some("square") => v = binary(ex, "Multiply", x, x),
        Some("exp") => v = ex.op("Exp", "opset1", &[], &[x]),
        _ => {}
    }
    let mut y = ex.op(kind, version, &[("keep_dims", keep.to_string())], &[v, a]);
    if let Some(p) = post {
        y = ex.op(p, "opset1", &[], &[y]);
    }
    let d = ex.dtype(x);
    let rank = match (ex.rank(x), keep, count) {
        (Some(r), true, _) => Some(r),
        (Some(r), false, Some(c)) => r.checked_sub(c),
        _ => None,
    };
    ex.set(y, d, rank);
    ex.bind(n, 0, y);
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        onnx: "ReduceMean",
        openvino: "ReduceMean-1",
        build: |ex, n| reduce(ex, n, "ReduceMean", "opset1", None, None),
    },
    Rule {
        onnx: "ReduceSum",
        openvino: "ReduceSum-1",
        build: |ex, n| reduce(ex, n, "ReduceSum", "opset1", None, None),
    },
    Rule {
        onnx: "ReduceMax",
        openvino: "ReduceMax-1",
        build: |ex, n| reduce(ex, n, "ReduceMax", "opset1", None, None),
    },
    Rule {
        onnx: "ReduceMin",
        openvino: "ReduceMin-1",
        build: |ex, n| reduce(ex, n, "ReduceMin", "opset1", None, None),
    },
    Rule {
        onnx: "ReduceProd",
        openvino: "ReduceProd-1",
        build: |ex, n| reduce(ex, n, "ReduceProd", "opset1", None, None),
    },
    Rule { onnx: "ReduceL1", openvino: "ReduceL1-4", build: |ex, n| reduce(ex, n, "ReduceL1", "opset4", None, None) },
    Rule { onnx: "ReduceL2", openvino: "ReduceL2-4", build: |ex, n| reduce(ex, n, "ReduceL2", "opset4", None, None) },
    Rule {
        onnx: "ReduceSumSquare",
        openvino: "Multiply-1 + ReduceSum-1",
        build: |ex, n| reduce(ex, n, "ReduceSum", "opset1", Some("square"), None),
    },
    Rule {
        onnx: "ReduceLogSum",
        openvino: "ReduceSum-1 + Log-1",
        build: |ex, n| reduce(ex, n, "ReduceSum", "opset1", None, Some("Log")),
    },
    Rule {
        onnx: "ReduceLogSumExp",
        openvino: "Exp-1 + ReduceSum-1 + Log-1",
        build: |ex, n| reduce(ex, n, "ReduceSum", "opset1", Some("exp"), Some("Log")),
    },
];
