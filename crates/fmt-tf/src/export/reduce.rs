//! Reductions and arg-reductions.
//!
//! Axes come from the `axes` attribute (before opset 18; `ReduceSum` before
//! 13) or the constant `axes` input; no axes reduce everything unless
//! `noop_with_empty_axes`. The reduction runs in the input's layout with its
//! axes remapped: with kept dims the layout is unchanged, without them the
//! remaining axes keep their physical order (a global mean of an NHWC-held
//! NCHW tensor gives `[N, C]` directly).

use ir::{DType, Node, Result};

use super::{Ex, Rule, bool_attr, layout, ty, unsupported};

/// Reduces canonical value `x` over logical `axes` with TF op `op`.
pub(crate) fn reduce_axes(ex: &mut Ex<'_>, n: &Node, x: &str, op: &str, axes: &[usize], keep: bool) -> Result<()> {
    let d = ex.dtype(x)?;
    let v = ex.val(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let phys: Vec<i64> = axes.iter().map(|&a| layout::physical_axis(&p, a) as i64).collect();
    let ax = ex.ints(&phys, DType::I32)?;
    let y = ex.op(op, vec![v.t, ax], vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(keep))]);
    let out_perm = if keep { p } else { layout::after_removing(&p, axes) };
    ex.bind_perm(n, 0, y, Some(out_perm));
    Ok(())
}

/// The logical axes a reduce node reduces, or `None` for a no-op.
fn axes_of(ex: &Ex<'_>, n: &Node, r: usize) -> Result<Option<Vec<usize>>> {
    let from_input = Ex::has_input(n, 1);
    let axes = if from_input {
        ex.const_ints(n, 1)?.ok_or_else(|| unsupported(n, "non-constant axes"))?
    } else {
        n.attr_ints("axes")?.map(<[i64]>::to_vec).unwrap_or_default()
    };
    if axes.is_empty() {
        if n.attr_int("noop_with_empty_axes", 0)? != 0 {
            return Ok(None);
        }
        return Ok(Some((0..r).collect()));
    }
    let mut out = Vec::new();
    for a in axes {
        let a = if a < 0 { a + r as i64 } else { a };
        if !(0..r as i64).contains(&a) {
            return Err(unsupported(n, &format!("axis {a} of a rank-{r} input")));
        }
        out.push(a as usize);
    }
    out.sort_unstable();
    out.dedup();
    Ok(Some(out))
}

/// A reduction, possibly pre/post-processed (`pre` on x, `post` on the result).
fn reduce(ex: &mut Ex<'_>, n: &Node, op: &str, pre: Option<&str>, post: Option<&str>) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))?;
    let keep = n.attr_int("keepdims", 1)? != 0;
    let Some(axes) = axes_of(ex, n, r)? else {
        let v = ex.val(x)?;
        let t = match pre {
            Some(pre) => ex.op_t(pre, vec![v.t], d)?,
            None => ex.op_t("Identity", vec![v.t], d)?,
        };
        ex.bind_perm(n, 0, t, v.perm);
        return Ok(());
    };
    let v = ex.val(x)?;
    let p = v.perm.clone().unwrap_or_else(|| layout::identity(r));
    let phys: Vec<i64> = axes.iter().map(|&a| layout::physical_axis(&p, a) as i64).collect();
    let mut t = v.t;
    if let Some(pre) = pre {
        t = ex.op_t(pre, vec![t], d)?;
    }
    let ax = ex.ints(&phys, DType::I32)?;
    let mut y = ex.op(op, vec![t, ax], vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("keep_dims", bool_attr(keep))]);
    if let Some(post) = post {
        y = ex.op_t(post, vec![y], d)?;
    }
    let out_perm = if keep { p } else { layout::after_removing(&p, &axes) };
    ex.bind_perm(n, 0, y, Some(out_perm));
    Ok(())
}

fn reduce_mean(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Mean", None, None)
}
fn reduce_sum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", None, None)
}
fn reduce_max(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Max", None, None)
}
fn reduce_min(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Min", None, None)
}
fn reduce_prod(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Prod", None, None)
}
fn reduce_l1(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", Some("Abs"), None)
}
fn reduce_l2(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", Some("Square"), Some("Sqrt"))
}
fn reduce_sum_square(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", Some("Square"), None)
}
fn reduce_log_sum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", None, Some("Log"))
}
fn reduce_log_sum_exp(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    reduce(ex, n, "Sum", Some("Exp"), Some("Log"))
}

/// `ArgMax`/`ArgMin`: TF drops the axis; `keepdims` re-inserts it.
fn arg(ex: &mut Ex<'_>, n: &Node, op: &str) -> Result<()> {
    let x = ex.in_name(n, 0)?;
    let d = ex.dtype(x)?;
    let r = ex.rank(x).ok_or_else(|| unsupported(n, "an input of unknown rank"))? as i64;
    if n.attr_int("select_last_index", 0)? != 0 {
        return Err(unsupported(n, "select_last_index=1"));
    }
    let axis = n.attr_int("axis", 0)?;
    let axis = if axis < 0 { axis + r } else { axis };
    let xl = ex.logical(n, 0)?;
    let a = ex.i32_scalar(axis)?;
    let mut y =
        ex.op(op, vec![xl, a], vec![("T", ty(d)?), ("Tidx", ty(DType::I32)?), ("output_type", ty(DType::I64)?)]);
    if n.attr_int("keepdims", 1)? != 0 {
        let a = ex.i32_scalar(axis)?;
        y = ex.op("ExpandDims", vec![y, a], vec![("T", ty(DType::I64)?), ("Tdim", ty(DType::I32)?)]);
    }
    ex.bind(n, 0, y);
    Ok(())
}

fn arg_max(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    arg(ex, n, "ArgMax")
}
fn arg_min(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    arg(ex, n, "ArgMin")
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "ArgMax", tf: "ArgMax (+ ExpandDims)", notes: "axis, keepdims; select_last_index=0", build: arg_max },
    Rule { onnx: "ArgMin", tf: "ArgMin (+ ExpandDims)", notes: "axis, keepdims; select_last_index=0", build: arg_min },
    Rule {
        onnx: "ReduceL1",
        tf: "Abs + Sum",
        notes: "axes attribute or constant input; keepdims; noop_with_empty_axes",
        build: reduce_l1,
    },
    Rule { onnx: "ReduceL2", tf: "Square + Sum + Sqrt", notes: "as ReduceL1", build: reduce_l2 },
    Rule { onnx: "ReduceLogSum", tf: "Sum + Log", notes: "as ReduceL1", build: reduce_log_sum },
    Rule { onnx: "ReduceLogSumExp", tf: "Exp + Sum + Log", notes: "as ReduceL1", build: reduce_log_sum_exp },
    Rule { onnx: "ReduceMax", tf: "Max", notes: "as ReduceL1; axes remapped to the input's layout", build: reduce_max },
    Rule { onnx: "ReduceMean", tf: "Mean", notes: "as ReduceMax", build: reduce_mean },
    Rule { onnx: "ReduceMin", tf: "Min", notes: "as ReduceMax", build: reduce_min },
    Rule { onnx: "ReduceProd", tf: "Prod", notes: "as ReduceMax", build: reduce_prod },
    Rule { onnx: "ReduceSum", tf: "Sum", notes: "as ReduceMax", build: reduce_sum },
    Rule { onnx: "ReduceSumSquare", tf: "Square + Sum", notes: "as ReduceL1", build: reduce_sum_square },
];
