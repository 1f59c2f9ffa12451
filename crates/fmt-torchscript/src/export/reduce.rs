//! Reductions (`Reduce*` with axes as attribute or input, `keepdims`,
//! `noop_with_empty_axes`) and `ArgMax`/`ArgMin`. Integer sums and
//! products keep their dtype (torch would widen them to int64).

use ir::Node;

use super::math::{attr_i, attr_is, code};
use super::{Emitted, Gen, Rule, assign, int_list};

/// The reduced axes from the attribute (older opsets) or input 1; `None` when not given.
fn axes(g: &Gen, n: &Node) -> Result<Option<Vec<i64>>, String> {
    if let Some(a) = attr_is(n, "axes")? {
        return Ok(Some(a));
    }
    match n.input(1).filter(|s| !s.is_empty()) {
        Some(_) => g.ints(n, 1).map(Some).ok_or_else(|| "axes not known at export time".into()),
        None => Ok(None),
    }
}

fn reduce(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let keep = if attr_i(n, "keepdims", 1)? != 0 { "True" } else { "False" };
    let axes = match axes(g, n)? {
        Some(a) if !a.is_empty() => a,
        _ if attr_i(n, "noop_with_empty_axes", 0)? != 0 => return assign(outs, x),
        _ => (0..g.rank(n, 0).ok_or("rank unknown")? as i64).collect(),
    };
    let dims = int_list(&axes);
    let d = g.dtype(n, 0).ok_or("dtype unknown")?;
    let dt = code(d)?;
    let e = match n.op.as_str() {
        "ReduceSum" => format!("torch.sum({x}, {dims}, {keep}, dtype={dt})"),
        "ReduceMean" => format!("torch.mean({x}, {dims}, {keep})"),
        "ReduceMax" => format!("torch.amax({x}, {dims}, {keep})"),
        "ReduceMin" => format!("torch.amin({x}, {dims}, {keep})"),
        "ReduceL1" => format!("torch.sum(torch.abs({x}), {dims}, {keep}, dtype={dt})"),
        "ReduceL2" => format!("torch.sqrt(torch.sum(torch.mul({x}, {x}), {dims}, {keep}))"),
        "ReduceSumSquare" => format!("torch.sum(torch.mul({x}, {x}), {dims}, {keep}, dtype={dt})"),
        "ReduceLogSum" => format!("torch.log(torch.sum({x}, {dims}, {keep}))"),
        "ReduceLogSumExp" => format!("torch.logsumexp({x}, {dims}, {keep})"),
        "ReduceProd" => {
            // torch.prod takes one axis: reduce the highest first so lower indices stay valid.
            let r = g.rank(n, 0).ok_or("rank unknown")? as i64;
            let mut a: Vec<i64> = axes.iter().map(|&v| if v < 0 { v + r } else { v }).collect();
            a.sort_unstable_by(|p, q| q.cmp(p));
            let mut e = x;
            for v in a {
                e = format!("torch.prod({e}, {v}, {keep}, dtype={dt})");
            }
            e
        }
        op => return Err(format!("no reduction rule for {op}")),
    };
    assign(outs, e)
}

fn arg(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let f = if n.op == "ArgMax" { "argmax" } else { "argmin" };
    let axis = attr_i(n, "axis", 0)?;
    let keep = if attr_i(n, "keepdims", 1)? != 0 { "True" } else { "False" };
    if attr_i(n, "select_last_index", 0)? != 0 {
        // The last extreme is the first one of the flipped tensor.
        return assign(
            outs,
            format!("torch.rsub(torch.{f}(torch.flip({x}, [{axis}]), {axis}, {keep}), {x}.size({axis}) - 1)"),
        );
    }
    assign(outs, format!("torch.{f}({x}, {axis}, {keep})"))
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        op: "ReduceSum",
        torch: "torch.sum",
        note: "axes attribute or input, `keepdims`, `noop_with_empty_axes`; keeps the dtype",
        emit: reduce,
    },
    Rule { op: "ReduceMean", torch: "torch.mean", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceMax", torch: "torch.amax", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceMin", torch: "torch.amin", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceProd", torch: "torch.prod (per axis)", note: "as ReduceSum; needs the rank", emit: reduce },
    Rule { op: "ReduceL1", torch: "torch.sum(torch.abs(x))", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceL2", torch: "torch.sqrt(torch.sum(x * x))", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceSumSquare", torch: "torch.sum(x * x)", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceLogSum", torch: "torch.log(torch.sum(x))", note: "as ReduceSum", emit: reduce },
    Rule { op: "ReduceLogSumExp", torch: "torch.logsumexp", note: "as ReduceSum", emit: reduce },
    Rule { op: "ArgMax", torch: "torch.argmax", note: "`axis`, `keepdims`, `select_last_index`", emit: arg },
    Rule { op: "ArgMin", torch: "torch.argmin", note: "as ArgMax", emit: arg },
];
