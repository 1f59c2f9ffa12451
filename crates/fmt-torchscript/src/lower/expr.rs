//! Expressions: names, literals, attribute access on modules, calls of
//! module methods, `torch.*`/`ops.*` ops, `__torch__` functions and Python
//! builtins, operators (folded on Python values, graph ops on tensors).

use ir::{Attribute, DType, Error, Result};

use super::shape::Sub;
use super::{Args, Lower, MAX_STATIC_ITERATIONS, Scope, V, dotted, same};
use crate::source::{BinOp, Expr, ExprKind, UnOp};

impl Lower<'_> {
    pub(super) fn expr(&mut self, e: &Expr, scope: &mut Scope) -> Result<V> {
        self.loc.line = e.pos.line;
        self.loc.col = e.pos.col;
        Ok(match &e.kind {
            ExprKind::Int(i) => V::Int(*i),
            ExprKind::Float(f) => V::Float(*f),
            ExprKind::Str(s) => V::Str(s.clone()),
            ExprKind::Bool(b) => V::Bool(*b),
            ExprKind::None => V::None,
            ExprKind::Name(n) => match scope.get(n) {
                Some(v) => v.clone(),
                // How TorchScript prints non-finite floats.
                None if n == "inf" => V::Float(f64::INFINITY),
                None if n == "nan" => V::Float(f64::NAN),
                None => return Err(Error::invalid(format!("name '{n}' is not defined"))),
            },
            ExprKind::Tuple(xs) | ExprKind::List(xs) => {
                let items: Vec<V> = xs.iter().map(|x| self.expr(x, scope)).collect::<Result<_>>()?;
                self.check_nesting(&items)?;
                if matches!(e.kind, ExprKind::Tuple(_)) { V::Tuple(items) } else { V::List(items) }
            }
            ExprKind::Dict(pairs) => {
                let pairs: Vec<(V, V)> = pairs
                    .iter()
                    .map(|(k, v)| Ok((self.expr(k, scope)?, self.expr(v, scope)?)))
                    .collect::<Result<_>>()?;
                self.check_nesting(pairs.iter().flat_map(|(k, v)| [k, v]))?;
                V::Dict(pairs)
            }
            ExprKind::Attr(obj, name) => {
                if let Some(q) = dotted(e)
                    && (q.starts_with("CONSTANTS.c"))
                {
                    let i = q["CONSTANTS.c".len()..]
                        .parse()
                        .map_err(|_| Error::invalid(format!("'{q}' is not a constant")))?;
                    return self.constant_value(i);
                }
                // A reference to a function of the archive's code (`_0 = __torch__.m.f`).
                if let Some(q) = dotted(e)
                    && q.starts_with("__torch__.")
                    && !scope.contains_key("__torch__")
                {
                    return Ok(V::Func(q));
                }
                match self.expr(obj, scope)? {
                    V::Module(m) => self.attr_value(&m, name)?,
                    v => return Err(Error::invalid(format!("attribute '{name}' of a {}", v.kind()))),
                }
            }
            ExprKind::Call { func, args, kwargs } => return self.call(func, args, kwargs, scope),
            ExprKind::Index(v, i) if is_compound_subscript(i) => {
                let v = self.expr(v, scope)?;
                return self.subscript(v, i, scope);
            }
            ExprKind::Index(v, i) => {
                let v = self.expr(v, scope)?;
                let i = self.expr(i, scope)?;
                match v {
                    V::List(items) | V::Tuple(items) => {
                        let k = self.int(&i, "an index")?;
                        let n = items.len() as i64;
                        let k = if k < 0 { k + n } else { k };
                        items
                            .get(usize::try_from(k).unwrap_or(usize::MAX))
                            .cloned()
                            .ok_or_else(|| Error::invalid(format!("index {k} out of range")))?
                    }
                    V::Dict(pairs) => pairs
                        .iter()
                        .find(|(k, _)| same(k, &i))
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| Error::invalid("dict key not found"))?,
                    V::T(t) => {
                        let idx = self.tensor(&i, Some(DType::I64))?;
                        V::T(self.node("Gather", &[&t, &idx], vec![("axis", Attribute::Int(0))])?)
                    }
                    v => return Err(Error::invalid(format!("subscript of a {}", v.kind()))),
                }
            }
            ExprKind::Slice(..) => return Err(Error::invalid("slices outside a subscript")),
            ExprKind::Unary(op, x) => {
                let v = self.expr(x, scope)?;
                match op {
                    UnOp::Not => match self.truth(&v) {
                        Some(b) => V::Bool(!b),
                        None => {
                            let t = self.bool_tensor(&v)?;
                            V::T(self.node("Not", &[&t], vec![])?)
                        }
                    },
                    UnOp::Pos => v,
                    UnOp::Neg => self.call_op("neg", Args { pos: vec![v], kw: vec![] })?,
                    UnOp::Invert => self.call_op("bitwise_not", Args { pos: vec![v], kw: vec![] })?,
                }
            }
            ExprKind::Binary(BinOp::And, l, r) | ExprKind::Binary(BinOp::Or, l, r) => {
                let is_and = matches!(e.kind, ExprKind::Binary(BinOp::And, ..));
                let a = self.expr(l, scope)?;
                match self.truth(&a) {
                    Some(t) if t == is_and => self.expr(r, scope)?,
                    Some(_) => a,
                    None => {
                        let b = self.expr(r, scope)?;
                        let (x, y) = (self.bool_tensor(&a)?, self.bool_tensor(&b)?);
                        V::T(self.node(if is_and { "And" } else { "Or" }, &[&x, &y], vec![])?)
                    }
                }
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.expr(l, scope)?;
                let b = self.expr(r, scope)?;
                self.binop(*op, a, b)?
            }
            ExprKind::IfExp { cond, then, other } => {
                let c = self.expr(cond, scope)?;
                match self.truth(&c) {
                    Some(true) => self.expr(then, scope)?,
                    Some(false) => self.expr(other, scope)?,
                    None => {
                        let c = self.bool_tensor(&c)?;
                        let a = self.expr(then, scope)?;
                        let b = self.expr(other, scope)?;
                        self.call_op("where", Args { pos: vec![V::T(c), a, b], kw: vec![] })?
                    }
                }
            }
        })
    }

    /// `v[...]` with slices or several items: Python slicing of a list
    /// (`x.size()[1:]`), basic and advanced indexing of a tensor
    /// (`x[:, idx]`, `x[i0, i1]`), or a dict looked up by a tuple key.
    fn subscript(&mut self, v: V, index: &Expr, scope: &mut Scope) -> Result<V> {
        if let V::Dict(pairs) = &v {
            let key = self.expr(index, scope)?;
            return pairs
                .iter()
                .find(|(k, _)| same(k, &key))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Error::invalid("dict key not found"));
        }
        let exprs = match &index.kind {
            ExprKind::Tuple(xs) => xs.as_slice(),
            _ => std::slice::from_ref(index),
        };
        let mut items = Vec::new();
        for e in exprs {
            items.push(match &e.kind {
                ExprKind::Slice(a, b, c) => {
                    let mut bound = |x: &Option<Box<Expr>>| -> Result<Option<V>> {
                        match x {
                            Some(x) => Ok(Some(self.expr(x, scope)?).filter(|v| !matches!(v, V::None))),
                            None => Ok(None),
                        }
                    };
                    Sub::Slice(bound(a)?, bound(b)?, bound(c)?)
                }
                _ => match self.expr(e, scope)? {
                    V::None => Sub::NewAxis,
                    v => Sub::Index(v),
                },
            });
        }
        let is_tuple = matches!(v, V::Tuple(_));
        match v {
            V::List(xs) | V::Tuple(xs) => {
                let [Sub::Slice(a, b, c)] = items.as_slice() else {
                    return Err(Error::invalid("a list subscript other than one slice"));
                };
                let known = |me: &Self, x: &Option<V>, what: &str| x.as_ref().map(|v| me.int(v, what)).transpose();
                let (a, b, c) =
                    (known(self, a, "a slice start")?, known(self, b, "a slice end")?, known(self, c, "a slice step")?);
                let picked: Vec<V> =
                    py_slice(xs.len(), a, b, c)?.into_iter().filter_map(|k| xs.get(k).cloned()).collect();
                Ok(if is_tuple { V::Tuple(picked) } else { V::List(picked) })
            }
            V::T(t) => super::shape::subscript(self, &t, items),
            v => Err(Error::invalid(format!("subscript of a {}", v.kind()))),
        }
    }

    pub(super) fn binop(&mut self, op: BinOp, a: V, b: V) -> Result<V> {
        let name = match op {
            BinOp::Is | BinOp::IsNot => {
                let same_kind = match (&a, &b) {
                    (V::None, V::None) => true,
                    (V::None, _) | (_, V::None) => false,
                    _ => return Err(Error::invalid("'is' between values other than None")),
                };
                return Ok(V::Bool(same_kind == (op == BinOp::Is)));
            }
            BinOp::In | BinOp::NotIn => {
                let items = match &b {
                    V::List(x) | V::Tuple(x) => x,
                    _ => return Err(Error::invalid("'in' needs a list")),
                };
                let found = items.iter().any(|x| same(x, &a));
                return Ok(V::Bool(found == (op == BinOp::In)));
            }
            BinOp::Add => {
                if let (V::List(x), V::List(y)) = (&a, &b) {
                    self.check_nesting(x.iter().chain(y))?;
                    return Ok(V::List(x.iter().chain(y).cloned().collect()));
                }
                "add"
            }
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::FloorDiv => "floor_divide",
            BinOp::Mod => "remainder",
            BinOp::Pow => "pow",
            BinOp::MatMul => "matmul",
            BinOp::BitAnd => "bitwise_and",
            BinOp::BitOr => "bitwise_or",
            BinOp::BitXor => "bitwise_xor",
            BinOp::Eq => "eq",
            BinOp::Ne => "ne",
            BinOp::Lt => "lt",
            BinOp::Le => "le",
            BinOp::Gt => "gt",
            BinOp::Ge => "ge",
            BinOp::Shl => "bitwise_left_shift",
            BinOp::Shr => "bitwise_right_shift",
            BinOp::And | BinOp::Or => unreachable!("handled with short-circuiting"),
        };
        self.call_op(name, Args { pos: vec![a, b], kw: vec![] })
    }

    pub(super) fn call(
        &mut self,
        func: &Expr,
        args: &[Expr],
        kwargs: &[(String, Expr)],
        scope: &mut Scope,
    ) -> Result<V> {
        // List methods mutate the variable they are called on, as methods
        // (`xs.append(v)`) or as TorchScript writes them (`torch.append(xs, v)`).
        let list_call = match (&func.kind, dotted(func).as_deref(), args.first()) {
            (ExprKind::Attr(obj, meth), _, _) if matches!(&obj.kind, ExprKind::Name(v) if matches!(scope.get(v), Some(V::List(_)))) =>
            {
                let ExprKind::Name(var) = &obj.kind else { unreachable!("matched above") };
                Some((var.clone(), meth.clone(), args))
            }
            (_, Some(q), Some(Expr { kind: ExprKind::Name(var), .. }))
                if matches!(q, "torch.append" | "torch.extend" | "torch.insert")
                    && matches!(scope.get(var), Some(V::List(_))) =>
            {
                Some((var.clone(), q.trim_start_matches("torch.").to_string(), args.get(1..).unwrap_or_default()))
            }
            _ => None,
        };
        if let Some((var, meth, args)) = list_call {
            let Some(V::List(items)) = scope.get(&var).cloned() else { unreachable!("checked above") };
            let vals: Vec<V> = args.iter().map(|a| self.expr(a, scope)).collect::<Result<_>>()?;
            self.check_nesting(items.iter().chain(vals.iter().flat_map(|v| match (meth.as_str(), v) {
                ("extend", V::List(x)) => x.as_slice(),
                _ => std::slice::from_ref(v),
            })))?;
            let mut items = items;
            match (meth.as_str(), vals.as_slice()) {
                ("append", [v]) => items.push(v.clone()),
                ("extend", [V::List(v)]) => items.extend(v.iter().cloned()),
                ("insert", [i, v]) => {
                    let i = self.int(i, "insert position")?.clamp(0, items.len() as i64) as usize;
                    items.insert(i, v.clone());
                }
                _ => return Err(Error::invalid(format!("list method '{meth}' is not supported"))),
            }
            scope.insert(var, V::List(items.clone()));
            return Ok(V::List(items));
        }
        let qual = dotted(func);
        let eval = |me: &mut Self, scope: &mut Scope| -> Result<Args> {
            let pos = args.iter().map(|a| me.expr(a, scope)).collect::<Result<_>>()?;
            let kw = kwargs.iter().map(|(k, a)| Ok((k.clone(), me.expr(a, scope)?))).collect::<Result<_>>()?;
            // Errors and node names point at the call, not its last argument.
            me.loc.line = func.pos.line;
            me.loc.col = func.pos.col;
            Ok(Args { pos, kw })
        };
        if let Some(q) = &qual
            && !scope.contains_key(q.split('.').next().unwrap_or(""))
        {
            if let Some(op) = q.strip_prefix("torch.") {
                let a = eval(self, scope)?;
                return self.call_op(op, a);
            }
            if let Some(op) = q.strip_prefix("ops.prim.") {
                let a = eval(self, scope)?;
                return self.call_op(&format!("prim::{op}"), a);
            }
            if let Some(op) = q.strip_prefix("ops.aten.") {
                let a = eval(self, scope)?;
                return self.call_op(op, a);
            }
            if q.starts_with("__torch__.") {
                let a = eval(self, scope)?;
                return self.call_function(q, a);
            }
            if !q.contains('.') {
                return self.builtin(q, args, kwargs, scope);
            }
            if q.starts_with("ops.") || q.starts_with("math.") {
                let a = eval(self, scope)?;
                return self.call_op(q.trim_start_matches("ops."), a);
            }
        }
        if let ExprKind::Name(n) = &func.kind
            && let Some(V::Func(q)) = scope.get(n).cloned()
        {
            let a = eval(self, scope)?;
            return self.call_function(&q, a);
        }
        if let ExprKind::Attr(obj, meth) = &func.kind {
            let o = self.expr(obj, scope)?;
            let a = eval(self, scope)?;
            return match o {
                V::Module(m) => {
                    if !a.kw.is_empty() {
                        return Err(Error::invalid("keyword arguments to module methods are not supported"));
                    }
                    self.call_method(&m, meth, a.pos)
                }
                // Tensor methods, and the few TorchScript calls on numbers
                // (`(x).item()` of a 0-D constant read as a Python float).
                V::T(_) | V::Int(_) | V::Float(_) | V::Bool(_) => {
                    let mut pos = vec![o];
                    pos.extend(a.pos);
                    self.call_op(meth, Args { pos, kw: a.kw })
                }
                v => Err(Error::invalid(format!("method '{meth}' of a {}", v.kind()))),
            };
        }
        Err(Error::invalid("call of something that is not a function"))
    }

    /// Calls a free function of the archive's code (keyword arguments bound by name).
    pub(super) fn call_function(&mut self, q: &str, a: Args) -> Result<V> {
        let (file, f) = self.ar.function(q)?;
        let mut pos = a.pos;
        for p in f.params.iter().skip(pos.len()) {
            match a.kw.iter().find(|(k, _)| *k == p.name) {
                Some((_, v)) => pos.push(v.clone()),
                None => break,
            }
        }
        let mut s = Scope::new();
        self.bind(&f, f.params.clone(), pos, &mut s)?;
        self.run_function(&file, &f, s)
    }

    pub(super) fn builtin(
        &mut self,
        name: &str,
        args: &[Expr],
        kwargs: &[(String, Expr)],
        scope: &mut Scope,
    ) -> Result<V> {
        if name == "uninitialized" {
            return Ok(V::Uninit);
        }
        if name == "annotate" || name == "unchecked_cast" {
            let v = args.get(1).ok_or_else(|| Error::invalid(format!("{name} needs two arguments")))?;
            return self.expr(v, scope);
        }
        if name == "isinstance" {
            return Err(Error::invalid("isinstance is not supported"));
        }
        let vals: Vec<V> = args.iter().map(|a| self.expr(a, scope)).collect::<Result<_>>()?;
        if !kwargs.is_empty() {
            return Err(Error::invalid(format!("keyword arguments to {name}()")));
        }
        let one = || vals.first().cloned().ok_or_else(|| Error::invalid(format!("{name}() needs an argument")));
        Ok(match name {
            "int" => match one()? {
                V::Float(f) => V::Int(f.trunc() as i64),
                V::T(t) => match self.int_of(&V::T(t.clone())) {
                    Some(i) => V::Int(i),
                    None => V::T(self.cast(&t, DType::I64)?),
                },
                v => V::Int(self.int(&v, "int()")?),
            },
            "float" => match one()? {
                V::T(t) => match self.float_of(&V::T(t.clone())) {
                    Some(f) if self.int_of(&V::T(t.clone())).is_some() => V::Float(f),
                    _ => V::T(self.cast(&t, DType::F32)?),
                },
                // How TorchScript writes non-finite literals: `float("-inf")`.
                V::Str(text) => V::Float(parse_float(&text)?),
                v => V::Float(self.float_of(&v).ok_or_else(|| Error::invalid("float() of a non-number"))?),
            },
            "bool" => {
                let v = one()?;
                match self.truth(&v) {
                    Some(b) => V::Bool(b),
                    None => V::T(self.bool_tensor(&v)?),
                }
            }
            "len" => match one()? {
                V::List(x) | V::Tuple(x) => V::Int(x.len() as i64),
                V::T(t) => self.call_op("size", Args { pos: vec![V::T(t), V::Int(0)], kw: vec![] })?,
                v => return Err(Error::invalid(format!("len() of a {}", v.kind()))),
            },
            "getattr" => match (vals.first(), vals.get(1)) {
                (Some(V::Module(m)), Some(V::Str(a))) => {
                    let m = m.clone();
                    self.attr_value(&m, a)?
                }
                _ => return Err(Error::invalid("getattr() of something other than a module attribute")),
            },
            "range" => {
                let k: Vec<i64> = vals.iter().map(|v| self.int(v, "range bound")).collect::<Result<_>>()?;
                let (a, b) = match k.as_slice() {
                    [n] => (0, *n),
                    [a, b] => (*a, *b),
                    _ => return Err(Error::invalid("range() with a step outside a for loop")),
                };
                // A list the interpreter holds element by element: as long as a loop may run.
                let n = i128::from(b).saturating_sub(i128::from(a)).max(0);
                if n > MAX_STATIC_ITERATIONS as i128 {
                    return Err(Error::invalid(format!(
                        "range({a}, {b}) as a list of {n} values (at most {MAX_STATIC_ITERATIONS} are built at import)"
                    )));
                }
                V::List((a..b).map(V::Int).collect())
            }
            "min" | "max" => {
                let items = match vals.as_slice() {
                    [V::List(x)] => x.clone(),
                    x => x.to_vec(),
                };
                let ints: Option<Vec<i64>> = items.iter().map(|v| self.int_of(v)).collect();
                let ints = ints.ok_or_else(|| Error::invalid(format!("{name}() of values not known at import")))?;
                let r = if name == "min" { ints.iter().min() } else { ints.iter().max() };
                V::Int(*r.ok_or_else(|| Error::invalid(format!("{name}() of nothing")))?)
            }
            "abs" => match one()? {
                V::Int(i) => {
                    V::Int(i.checked_abs().ok_or_else(|| Error::invalid(format!("abs({i}) overflows 64 bits")))?)
                }
                V::Float(f) => V::Float(f.abs()),
                v => self.call_op("abs", Args { pos: vec![v], kw: vec![] })?,
            },
            _ => return Err(Error::invalid(format!("function '{name}' is not supported"))),
        })
    }
}

/// Python's `float(text)`: a number, or `inf`/`nan` with an optional sign.
fn parse_float(text: &str) -> Result<f64> {
    let t = text.trim().to_ascii_lowercase();
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        b => b.parse::<f64>().map_err(|_| Error::invalid(format!("float() of the string '{text}'")))?,
    };
    Ok(sign * v)
}

/// Whether a subscript has slices or several items (`x[:, i]`, `x[a, b]`,
/// `xs[1:]`), which [`Lower::subscript`] reads item by item.
fn is_compound_subscript(i: &Expr) -> bool {
    matches!(i.kind, ExprKind::Slice(..) | ExprKind::Tuple(_))
}

/// The positions Python's `xs[a:b:c]` takes from a list of `n` items.
fn py_slice(n: usize, a: Option<i64>, b: Option<i64>, c: Option<i64>) -> Result<Vec<usize>> {
    let n = n as i64;
    let step = c.unwrap_or(1);
    if step == 0 {
        return Err(Error::invalid("slice step cannot be zero"));
    }
    // As `slice.indices`: negative bounds count from the end, then clamp.
    let norm = |v: i64, lo: i64, hi: i64| if v < 0 { (v + n).max(lo) } else { v.min(hi) };
    let (start, stop) = if step > 0 {
        (a.map_or(0, |v| norm(v, 0, n)), b.map_or(n, |v| norm(v, 0, n)))
    } else {
        (a.map_or(n - 1, |v| norm(v, -1, n - 1)), b.map_or(-1, |v| norm(v, -1, n - 1)))
    };
    let mut out = Vec::new();
    let mut k = start;
    while (step > 0 && k < stop) || (step < 0 && k > stop) {
        out.push(k as usize);
        k += step;
    }
    Ok(out)
}
