//! Control flow: a data-dependent `if` becomes an `If` node whose branches
//! are built as subgraphs (variables either branch changes are its outputs),
//! `for` over a known short range is unrolled, other loops become `Loop`
//! nodes carrying the variables their body assigns.

use ir::infer::Known;
use ir::{Attribute, DType, Dim, Error, Graph, Node, Result, Shape, ValueInfo, ValueType};

use super::{Flow, Lower, MAX_STATIC_ITERATIONS, MAX_UNROLL, Scope, V, same};
use crate::source::{Expr, ExprKind, Stmt, StmtKind};

impl Lower<'_> {
    /// Runs `f` with `g` as the graph being built; returns the graph after.
    pub(super) fn with_graph<R>(&mut self, g: Graph, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<(Graph, R)> {
        let saved = std::mem::replace(&mut self.b.graph, g);
        let r = f(self);
        let g = std::mem::replace(&mut self.b.graph, saved);
        Ok((g, r?))
    }

    /// A body graph with these typed inputs.
    pub(super) fn body_graph(&mut self, name: &str, inputs: &[(String, Known)]) -> Graph {
        let mut g = Graph { name: self.b.fresh_node(name), ..Graph::default() };
        for (n, k) in inputs {
            g.inputs.push(ValueInfo { name: n.clone(), ty: k.ty.clone(), doc: String::new() });
            self.b.set_known(n, k.clone());
        }
        g
    }

    /// What a loop-carried or branch-merged value is known to be: its dtype
    /// and rank (dimensions may change from one iteration to the next).
    pub(super) fn loose(&self, t: &str) -> Known {
        let dtype = self.dtype(t);
        let shape = self.shape(t).map(|s| Shape(vec![Dim::Unknown; s.rank()]));
        Known::tensor(dtype, shape)
    }

    /// Makes `v` a graph value inside the current graph for a subgraph
    /// output (always a fresh `Identity`, so outputs are body values).
    pub(super) fn body_output(&mut self, v: &V, dtype: Option<DType>) -> Result<String> {
        let t = match v {
            V::Uninit => self.scalar(0.0, dtype.unwrap_or(DType::F32))?,
            v => self.tensor(v, dtype)?,
        };
        let t = match dtype {
            Some(d) => self.cast(&t, d)?,
            None => t,
        };
        self.node("Identity", &[&t], vec![])
    }

    pub(super) fn if_stmt(&mut self, c: V, then: &[Stmt], other: &[Stmt], scope: &mut Scope) -> Result<Flow> {
        if let Some(b) = self.truth(&c) {
            return self.block(if b { then } else { other }, scope);
        }
        // A branch that raises is an input check (`if x.dim() != 4: raise`):
        // the model is converted for the inputs that pass it.
        match (raises(then), raises(other)) {
            (true, false) => return self.block(other, scope),
            (false, true) => return self.block(then, scope),
            _ => {}
        }
        let cond = self.bool_tensor(&c)?;
        let g = self.body_graph("then", &[]);
        let (g1, (s1, f1)) = self.with_graph(g, |me| {
            let mut s = scope.clone();
            let f = me.block(then, &mut s)?;
            Ok((s, f))
        })?;
        let g = self.body_graph("else", &[]);
        let (g2, (s2, f2)) = self.with_graph(g, |me| {
            let mut s = scope.clone();
            let f = me.block(other, &mut s)?;
            Ok((s, f))
        })?;
        if matches!(f1, Flow::Return(_)) || matches!(f2, Flow::Return(_)) {
            return Err(Error::invalid("'return' inside a data-dependent 'if' is not supported"));
        }
        // Variables the branches leave different from each other or from before.
        let mut names: Vec<&String> = s1.keys().filter(|k| s2.contains_key(*k)).collect();
        names.sort();
        let mut merged = Vec::new();
        for n in names {
            let (Some(a), Some(b)) = (s1.get(n), s2.get(n)) else { continue };
            let before = scope.get(n);
            if same(a, b) && before.is_some_and(|x| same(x, a)) {
                continue;
            }
            if same(a, b) {
                // Both branches set it alike (e.g. the same module): no output needed.
                merged.push((n.clone(), None, a.clone()));
                continue;
            }
            if !matches!(a, V::T(_) | V::Int(_) | V::Float(_) | V::Bool(_) | V::Uninit)
                || !matches!(b, V::T(_) | V::Int(_) | V::Float(_) | V::Bool(_) | V::Uninit)
            {
                continue; // not a value the code can read after the if (a branch-local module or list)
            }
            merged.push((n.clone(), Some((a.clone(), b.clone())), V::None));
        }
        // Branch outputs, typed alike: the first tensor branch's dtype wins.
        let mut outs1 = Vec::new();
        let mut outs2 = Vec::new();
        let mut kinds = Vec::new();
        let (mut g1, mut g2) = (g1, g2);
        for (_, pair, _) in &merged {
            let Some((a, b)) = pair else { continue };
            let d = self.value_dtype(a).or_else(|| self.value_dtype(b));
            let (g, o1) = self.with_graph(g1, |me| me.body_output(a, d))?;
            g1 = g;
            let (g, o2) = self.with_graph(g2, |me| me.body_output(b, d))?;
            g2 = g;
            kinds.push(self.loose(&o1));
            outs1.push(o1);
            outs2.push(o2);
        }
        for (g, outs) in [(&mut g1, &outs1), (&mut g2, &outs2)] {
            for o in outs {
                let ty = self.known(o).map(|k| k.ty.clone()).unwrap_or(ValueType::Unknown);
                g.outputs.push(ValueInfo { name: o.clone(), ty, doc: String::new() });
            }
        }
        let outs: Vec<String> = outs1.iter().map(|_| self.b.fresh_value(&format!("if_{}", self.loc.line))).collect();
        let node = Node::new("If", [cond.as_str()], outs.iter().cloned())
            .named(self.b.fresh_node("If"))
            .with_attr("then_branch", Attribute::Graph(Box::new(g1)))
            .with_attr("else_branch", Attribute::Graph(Box::new(g2)));
        self.b.add_node(node, None);
        // What the branches agree on, over what inference makes of the If.
        for (o, k) in outs.iter().zip(kinds) {
            self.b.set_known(o, k);
        }
        let mut it = outs.into_iter();
        for (n, pair, v) in merged {
            let v = if pair.is_some() { V::T(it.next().expect("one output per pair")) } else { v };
            scope.insert(n, v);
        }
        Ok(Flow::Next)
    }

    pub(super) fn for_stmt(&mut self, target: &Expr, iter: &Expr, body: &[Stmt], scope: &mut Scope) -> Result<()> {
        // `range(...)` with bounds known at import is unrolled when short.
        if let ExprKind::Call { func, args, .. } = &iter.kind
            && matches!(&func.kind, ExprKind::Name(n) if n == "range")
        {
            let vals: Vec<V> = args.iter().map(|a| self.expr(a, scope)).collect::<Result<_>>()?;
            let known: Option<Vec<i64>> = vals.iter().map(|v| self.int_of(v)).collect();
            if let Some(k) = known {
                let (start, stop, step) = match k.as_slice() {
                    [n] => (0, *n, 1),
                    [a, b] => (*a, *b, 1),
                    [a, b, c] if *c != 0 => (*a, *b, *c),
                    _ => return Err(Error::invalid("range() takes 1 to 3 arguments with a non-zero step")),
                };
                // In i128: bounds near i64's ends must not overflow.
                let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
                let (span, by) = if step > 0 { (stop - start, step) } else { (start - stop, -step) };
                let count = if span <= 0 { 0 } else { (span + by - 1) / by };
                if count <= i128::from(MAX_UNROLL) {
                    for i in 0..count {
                        // Inside the range, so within i64.
                        let value = i64::try_from(start + i * step).unwrap_or_default();
                        self.assign(target, V::Int(value), scope)?;
                        if let Flow::Return(_) = self.block(body, scope)? {
                            return Err(Error::invalid("'return' inside a loop is not supported"));
                        }
                    }
                    return Ok(());
                }
            }
            let [n] = vals.as_slice() else {
                return Err(Error::invalid("a range() loop that is not unrolled must be range(n)"));
            };
            let m = self.tensor(n, Some(DType::I64))?;
            let m = self.cast(&m, DType::I64)?;
            return self.loop_node(Some(m), None, target, None, body, scope);
        }
        let it = self.expr(iter, scope)?;
        match it {
            V::List(items) | V::Tuple(items) => {
                for x in items {
                    self.assign(target, x, scope)?;
                    if let Flow::Return(_) = self.block(body, scope)? {
                        return Err(Error::invalid("'return' inside a loop is not supported"));
                    }
                }
                Ok(())
            }
            v => Err(Error::invalid(format!("for loops over a {} are not supported", v.kind()))),
        }
    }

    pub(super) fn while_stmt(&mut self, cond: &Expr, body: &[Stmt], scope: &mut Scope) -> Result<()> {
        let mut iterations = 0;
        loop {
            let c = self.expr(cond, scope)?;
            match self.truth(&c) {
                Some(false) => return Ok(()),
                Some(true) => {
                    iterations += 1;
                    if iterations > MAX_STATIC_ITERATIONS {
                        return Err(Error::invalid(format!(
                            "a while loop known at import ran {MAX_STATIC_ITERATIONS} times"
                        )));
                    }
                    if let Flow::Return(_) = self.block(body, scope)? {
                        return Err(Error::invalid("'return' inside a loop is not supported"));
                    }
                }
                None if iterations == 0 => {
                    let c = self.bool_tensor(&c)?;
                    return self.loop_node(
                        None,
                        Some(c),
                        &Expr { kind: ExprKind::None, pos: Default::default() },
                        Some(cond),
                        body,
                        scope,
                    );
                }
                None => return Err(Error::invalid("a while condition became data-dependent after some iterations")),
            }
        }
    }

    /// A `Loop` node: trip count `m` and/or initial condition `cond`; the
    /// variables the body assigns that exist before it are carried.
    pub(super) fn loop_node(
        &mut self,
        m: Option<String>,
        cond: Option<String>,
        target: &Expr,
        cond_expr: Option<&Expr>,
        body: &[Stmt],
        scope: &mut Scope,
    ) -> Result<()> {
        let mut assigned = Vec::new();
        assigned_names(body, &mut assigned);
        // Empty lists the body appends to are the loop's scan outputs.
        let mut scans: Vec<String> = Vec::new();
        for n in &assigned {
            if matches!(scope.get(n), Some(V::List(items)) if items.is_empty()) && !scans.contains(n) {
                scans.push(n.clone());
            }
        }
        let mut carried = Vec::new();
        for n in assigned {
            if let Some(v @ (V::T(_) | V::Int(_) | V::Float(_) | V::Bool(_))) = scope.get(&n)
                && !carried.iter().any(|(c, _, _): &(String, String, Known)| *c == n)
            {
                let v = v.clone();
                let d = self.value_dtype(&v);
                let t = self.tensor(&v, d)?;
                let k = self.loose(&t);
                carried.push((n, t, k));
            }
        }
        let line = self.loc.line;
        let iter_name = self.b.fresh_value(&format!("loop_{line}_i"));
        let cond_in = self.b.fresh_value(&format!("loop_{line}_cond"));
        let mut inputs = vec![
            (iter_name.clone(), Known::tensor(Some(DType::I64), Some(Shape(vec![])))),
            (cond_in.clone(), Known::tensor(Some(DType::Bool), Some(Shape(vec![])))),
        ];
        let body_names: Vec<String> = carried.iter().map(|(n, _, _)| self.b.fresh_value(&format!("{n}_in"))).collect();
        for ((_, _, k), bn) in carried.iter().zip(&body_names) {
            inputs.push((bn.clone(), k.clone()));
        }
        let g = self.body_graph("loop_body", &inputs);
        let (mut g, outs) = self.with_graph(g, |me| {
            let mut s = scope.clone();
            for ((n, _, _), bn) in carried.iter().zip(&body_names) {
                s.insert(n.clone(), V::T(bn.clone()));
            }
            if !matches!(target.kind, ExprKind::None) {
                me.assign(target, V::T(iter_name.clone()), &mut s)?;
            }
            if let Flow::Return(_) = me.block(body, &mut s)? {
                return Err(Error::invalid("'return' inside a loop is not supported"));
            }
            let c = match cond_expr {
                Some(e) => {
                    let c = me.expr(e, &mut s)?;
                    me.bool_tensor(&c)?
                }
                None => cond_in.clone(),
            };
            let mut outs = vec![me.node("Identity", &[&c], vec![])?];
            for (n, _, k) in &carried {
                let v = s.get(n).cloned().unwrap_or(V::Uninit);
                outs.push(me.body_output(&v, k.dtype())?);
            }
            for n in &scans {
                let Some(V::List(items)) = s.get(n) else {
                    return Err(Error::invalid(format!("list '{n}' is replaced inside a data-dependent loop")));
                };
                let [item] = items.as_slice() else {
                    return Err(Error::invalid(format!(
                        "list '{n}' grows by {} items in one iteration of a data-dependent loop (one append per iteration is supported)",
                        items.len()
                    )));
                };
                let item = item.clone();
                outs.push(me.body_output(&item, None)?);
            }
            Ok(outs)
        })?;
        for o in &outs {
            let ty = self.known(o).map(|k| k.ty.clone()).unwrap_or(ValueType::Unknown);
            g.outputs.push(ValueInfo { name: o.clone(), ty, doc: String::new() });
        }
        let results: Vec<String> =
            carried.iter().map(|(n, _, _)| n).chain(&scans).map(|n| self.b.fresh_value(n)).collect();
        let mut ins = vec![m.unwrap_or_default(), cond.unwrap_or_default()];
        ins.extend(carried.iter().map(|(_, t, _)| t.clone()));
        let mut node =
            Node::new("Loop", Vec::<String>::new(), results.iter().cloned()).named(self.b.fresh_node("Loop"));
        node.inputs = ins.into_iter().map(|i| if i.is_empty() { None } else { Some(i) }).collect();
        node.attrs.insert("body".into(), Attribute::Graph(Box::new(g)));
        self.b.add_node(node, None);
        for ((n, _, k), r) in carried.iter().zip(&results) {
            self.b.set_known(r, k.clone());
            scope.insert(n.clone(), V::T(r.clone()));
        }
        for (n, r) in scans.iter().zip(results.iter().skip(carried.len())) {
            scope.insert(n.clone(), V::Stacked(r.clone()));
        }
        Ok(())
    }
}

/// Whether a statement list raises unconditionally (`raise ...` or
/// `ops.prim.RaiseException(...)` at its top level).
fn raises(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        StmtKind::Raise(_) => true,
        StmtKind::Expr(Expr { kind: ExprKind::Call { func, .. }, .. }) => {
            super::dotted(func).is_some_and(|q| q == "ops.prim.RaiseException")
        }
        _ => false,
    })
}

/// Names a statement list assigns (in order, with repeats).
fn assigned_names(stmts: &[Stmt], out: &mut Vec<String>) {
    fn targets(e: &Expr, out: &mut Vec<String>) {
        match &e.kind {
            ExprKind::Name(n) => out.push(n.clone()),
            ExprKind::Tuple(xs) | ExprKind::List(xs) => xs.iter().for_each(|x| targets(x, out)),
            _ => {}
        }
    }
    for s in stmts {
        match &s.kind {
            StmtKind::Assign(ts, _) => ts.iter().for_each(|t| targets(t, out)),
            StmtKind::AugAssign(t, _, _) | StmtKind::AnnAssign(t, _, _) => targets(t, out),
            StmtKind::If(_, a, b) => {
                assigned_names(a, out);
                assigned_names(b, out);
            }
            StmtKind::For(t, _, body) => {
                targets(t, out);
                assigned_names(body, out);
            }
            StmtKind::While(_, body) => assigned_names(body, out),
            StmtKind::Expr(Expr { kind: ExprKind::Call { func, .. }, .. }) => {
                // `xs.append(v)` changes `xs`.
                if let ExprKind::Attr(o, _) = &func.kind
                    && let ExprKind::Name(n) = &o.kind
                {
                    out.push(n.clone());
                }
            }
            _ => {}
        }
    }
}
