//! Control flow: `If` becomes an `if`/`else` block and `Loop` a `while`
//! loop (trip count and condition both honoured), with the bodies written
//! inline. Values a body reads from enclosing graphs are plain variables
//! of the enclosing TorchScript scope, so captures need nothing special.

use ir::Node;

use super::{Emitted, Gen, Rule};

fn indent(lines: Vec<String>) -> impl Iterator<Item = String> {
    lines.into_iter().map(|l| format!("  {l}"))
}

fn if_(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let cond = g.inp(n, 0)?;
    let branch = |name: &str| n.attr(name).ok_or(format!("{name} missing"))?.as_graph().map_err(|e| e.to_string());
    let (then_g, else_g) = (branch("then_branch")?, branch("else_branch")?);
    let mut lines = vec![format!("if bool({cond}):")];
    for (g_b, header) in [(then_g, None), (else_g, Some("else:"))] {
        if let Some(h) = header {
            lines.push(h.to_string());
        }
        // SAFETY of lifetimes aside, bodies are borrowed from the node, which outlives generation.
        let (body, res) = g.body(g_b, &[])?;
        if res.len() != outs.len() {
            if !res.is_empty() {
                return Err("branch output count differs from the node's".into());
            }
            // A node inside the body was reported; keep going to list them all.
            return Ok(Vec::new());
        }
        let mut block = body;
        for (o, r) in outs.iter().zip(res) {
            block.push(format!("{o} = {r}"));
        }
        if block.is_empty() {
            block.push("pass".into());
        }
        lines.extend(indent(block));
    }
    Ok(lines)
}

fn loop_(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let body = n.attr("body").ok_or("body missing")?.as_graph().map_err(|e| e.to_string())?;
    let carried = n.inputs.len().saturating_sub(2);
    if body.inputs.len() != carried + 2 || body.outputs.len() < carried + 1 {
        return Err("body signature does not match the node".into());
    }
    let scans = body.outputs.len() - 1 - carried;
    if outs.len() != carried + scans {
        return Err("node outputs do not match the body's carried and scan outputs".into());
    }
    let trip = g.opt(n, 0);
    let cond = g.opt(n, 1);
    let it = g.fresh("i");
    let keep = g.fresh("keep_going");
    let mut lines = vec![
        format!("{it} = 0"),
        format!("{keep} = {}", cond.as_ref().map_or("True".into(), |c| format!("bool({c})"))),
    ];
    let vars: Vec<String> = body.inputs[2..].iter().map(|v| g.fresh(&v.name)).collect();
    for (k, v) in vars.iter().enumerate() {
        lines.push(format!("{v} = {}", g.inp(n, k + 2)?));
    }
    let lists: Vec<String> = (0..scans).map(|j| g.fresh(&format!("{}_list", outs[carried + j]))).collect();
    for l in &lists {
        lines.push(format!("{l} = annotate(List[Tensor], [])"));
    }
    let test = match &trip {
        Some(_) => format!("{keep} and {it} < {}", g.int(n, 0)?),
        None => keep.clone(),
    };
    lines.push(format!("while {test}:"));
    let iter_t = g.fresh(&body.inputs[0].name);
    let cond_t = g.fresh(&body.inputs[1].name);
    let mut inner = vec![
        format!("{iter_t} = torch.scalar_tensor({it}, dtype=4)"),
        format!("{cond_t} = torch.scalar_tensor({keep}, dtype=11)"),
    ];
    let mut binds = vec![iter_t, cond_t];
    binds.extend(vars.iter().cloned());
    let (stmts, res) = g.body(body, &binds)?;
    if res.is_empty() {
        return Ok(Vec::new());
    }
    inner.extend(stmts);
    if carried > 0 {
        inner.push(format!("{} = {}", vars.join(", "), res[1..=carried].join(", ")));
    }
    for (j, l) in lists.iter().enumerate() {
        inner.push(format!("{l}.append({})", res[1 + carried + j]));
    }
    if cond.is_some() {
        // Without a condition input the body's condition is ignored (ONNX's for-loop form).
        inner.push(format!("{keep} = bool({})", res[0]));
    }
    inner.push(format!("{it} = {it} + 1"));
    lines.extend(indent(inner));
    for (k, v) in vars.iter().enumerate() {
        lines.push(format!("{} = {v}", outs[k]));
    }
    for (j, l) in lists.iter().enumerate() {
        lines.push(format!("{} = torch.stack({l})", outs[carried + j]));
    }
    Ok(lines)
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        op: "If",
        torch: "if bool(cond): … else: …",
        note: "both branches inline; captures are enclosing variables",
        emit: if_,
    },
    Rule {
        op: "Loop",
        torch: "while keep_going and i < trip_count: …",
        note: "trip count and/or condition, carried values, scan outputs stacked",
        emit: loop_,
    },
];
