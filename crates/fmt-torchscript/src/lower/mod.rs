//! Lowering: interprets the root module's `forward` over the module tree
//! and emits canonical (ONNX) nodes.
//!
//! Python-level values (ints, floats, bools, lists, modules) are evaluated
//! at import; tensors are graph values. An integer that depends on a
//! dynamic dimension (`x.size(0)` of a symbolic batch) is a 0-D `i64` graph
//! value, so shape arithmetic stays in the graph; when `ir::infer` knows its
//! value it is folded back to a Python int. Submodule calls are inlined.
//! A data-dependent `if`/`while` becomes an `If`/`Loop` node; a constant
//! condition runs the taken branch only, and `for` over a known range is
//! unrolled up to [`MAX_UNROLL`] iterations.
//!
//! Each `aten` op is one rule in the table [`rules`], filled by the family
//! modules (`nn`, `math`, `shape`, `tensor`, `attention`).

mod attention;
mod math;
mod nn;
mod shape;
mod tensor;

use std::collections::HashMap;
use std::rc::Rc;

use ir::build::GraphBuilder;
use ir::infer::{Known, Types};
use ir::{Attribute, DType, Dim, Error, Graph, Node, Result, Shape, ValueInfo, ValueType};

use crate::module::{Attr, Module, ScriptArchive, SourceFile};
use crate::pickle::Value;
use crate::source::{BinOp, Expr, ExprKind, FuncDef, Stmt, StmtKind, UnOp};

/// Most iterations of a `for` over a known range that are unrolled; longer
/// loops become `Loop` nodes.
pub const MAX_UNROLL: i64 = 64;
/// Most iterations a `while` with a condition known at import may run.
const MAX_STATIC_ITERATIONS: usize = 10_000;
/// Deepest inlining of method calls.
const MAX_CALL_DEPTH: usize = 64;

/// A value during interpretation.
#[derive(Debug, Clone)]
pub(crate) enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A graph value (tensor, or a 0-D tensor standing for a dynamic int/bool/float).
    T(String),
    List(Vec<V>),
    Tuple(Vec<V>),
    /// A dict (insertion order kept; models return `{"name": tensor}`).
    Dict(Vec<(V, V)>),
    Module(Rc<Module>),
    /// A dtype, as its `ScalarType` code.
    DType(i64),
    /// A device.
    Device,
    /// `uninitialized(T)`: a value the code never reads on this path.
    Uninit,
}

impl V {
    fn kind(&self) -> &'static str {
        match self {
            V::None => "None",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float",
            V::Str(_) => "str",
            V::T(_) => "tensor",
            V::List(_) => "list",
            V::Tuple(_) => "tuple",
            V::Dict(_) => "dict",
            V::Module(_) => "module",
            V::DType(_) => "dtype",
            V::Device => "device",
            V::Uninit => "uninitialized",
        }
    }
}

/// Arguments of an op call: positional, then keyword.
#[derive(Debug)]
pub(crate) struct Args {
    pub pos: Vec<V>,
    pub kw: Vec<(String, V)>,
}

impl Args {
    /// Argument `i`, or the keyword `name`.
    pub fn get(&self, i: usize, name: &str) -> Option<&V> {
        self.pos.get(i).or_else(|| self.kw.iter().find(|(k, _)| k == name).map(|(_, v)| v))
    }

    /// Like [`Args::get`], with `None` values treated as absent.
    pub fn opt(&self, i: usize, name: &str) -> Option<&V> {
        self.get(i, name).filter(|v| !matches!(v, V::None))
    }

    /// A required argument.
    pub fn req(&self, i: usize, name: &str) -> Result<&V> {
        self.opt(i, name).ok_or_else(|| Error::invalid(format!("missing argument {i} ('{name}')")))
    }
}

/// An op rule: builds the nodes for one call.
pub(crate) type Rule = fn(&mut Lower<'_>, &Args) -> Result<V>;

/// Every op rule by name (`relu`, `prim::NumToTensor`, ...).
pub(crate) fn rules() -> HashMap<&'static str, Rule> {
    let mut m = HashMap::new();
    for table in [nn::RULES, math::RULES, shape::RULES, tensor::RULES, attention::RULES] {
        for &(name, rule) in table {
            m.insert(name, rule);
        }
    }
    m
}

/// The names of every op the lowering handles (for documentation and tests).
pub fn supported_ops() -> Vec<&'static str> {
    let mut v: Vec<&str> = rules().into_keys().collect();
    v.sort_unstable();
    v
}

/// Local variables of one function activation.
type Scope = HashMap<String, V>;

/// What a statement list did to control flow.
enum Flow {
    Next,
    Return(V),
}

/// Where the interpreter is (for error messages).
#[derive(Debug, Clone)]
struct Loc {
    file: String,
    line: u32,
    col: u32,
}

/// The interpreter and the graph it builds.
pub(crate) struct Lower<'a> {
    ar: &'a ScriptArchive,
    pub b: GraphBuilder,
    pub types: Types,
    pub opset: i64,
    rules: HashMap<&'static str, Rule>,
    /// Initializer names of module tensors already added, by dotted path.
    params: HashMap<String, String>,
    loc: Loc,
    depth: usize,
    /// Ops with no rule: (op, node or location).
    pub unsupported: Vec<(String, String)>,
    /// Module tensors, added to the main graph at the end (bodies may
    /// read them, so they never live in a body).
    inits: Vec<(String, ir::Tensor)>,
}

fn at(loc: &Loc) -> String {
    format!("{}:{}:{}", loc.file, loc.line, loc.col)
}

impl<'a> Lower<'a> {
    fn new(ar: &'a ScriptArchive) -> Self {
        Lower {
            ar,
            b: GraphBuilder::new("torchscript"),
            types: Types::default(),
            opset: ir::opset::DEFAULT_OPSET,
            rules: rules(),
            params: HashMap::new(),
            loc: Loc { file: String::new(), line: 0, col: 0 },
            depth: 0,
            unsupported: Vec::new(),
            inits: Vec::new(),
        }
    }

    // ------------------------------------------------------------ graph helpers

    /// What is known about a graph value (this graph or an enclosing one).
    pub fn known(&self, name: &str) -> Option<&Known> {
        self.types.get(name)
    }

    /// The dtype of a graph value.
    pub fn dtype(&self, name: &str) -> Option<DType> {
        self.known(name).and_then(Known::dtype).or_else(|| self.b.dtype(name))
    }

    /// The shape of a graph value, if its rank is known.
    pub fn shape(&self, name: &str) -> Option<Shape> {
        self.known(name).and_then(|k| k.shape().cloned())
    }

    /// The rank of a graph value, or an error saying how to give it.
    pub fn rank(&self, name: &str) -> Result<usize> {
        self.shape(name).map(|s| s.rank()).ok_or_else(|| {
            Error::invalid(format!(
                "the rank of '{name}' is not known (TorchScript declares no shapes: give the inputs' with -I input-shape=NAME=D0,D1,...)"
            ))
        })
    }

    /// Adds a node with `outputs` fresh outputs named after `base`, and infers their types.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<(&str, Attribute)>,
        outputs: usize,
    ) -> Result<Vec<String>> {
        let base = format!("{}_{}", op.to_ascii_lowercase(), self.loc.line);
        let outs: Vec<String> = (0..outputs).map(|_| self.b.fresh_value(&base)).collect();
        let name = self.b.fresh_node(op);
        let mut n = Node::new(op, inputs.iter().copied(), outs.iter().cloned()).named(name);
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v);
        }
        self.add(n)?;
        Ok(outs)
    }

    /// Adds a one-output node and infers its type.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attribute)>) -> Result<String> {
        Ok(self.node_n(op, inputs, attrs, 1)?.remove(0))
    }

    /// Adds a built node (its inputs may be `""` for omitted ones) and infers its outputs.
    pub fn add(&mut self, n: Node) -> Result<()> {
        let unknown = Known::unknown();
        let outs = {
            let ins: Vec<Option<&Known>> = n
                .inputs
                .iter()
                .map(|i| match i.as_deref() {
                    Some(s) if !s.is_empty() => Some(self.known(s).unwrap_or(&unknown)),
                    _ => None,
                })
                .collect();
            if n.domain.is_empty() {
                ir::infer::infer_node(&n, &ins, self.opset).map_err(|e| e.context(format!("{} node", n.op)))?
            } else {
                vec![Known::unknown(); n.outputs.len()]
            }
        };
        for (o, k) in n.outputs.iter().zip(outs) {
            if let Some(d) = k.dtype() {
                self.b.set_dtype(o, d);
            }
            self.types.insert(o.clone(), k);
        }
        self.b.add_node(n, None);
        Ok(())
    }

    /// A constant initializer.
    pub fn constant(&mut self, base: &str, t: ir::Tensor) -> String {
        let k = Known::from_tensor(&t);
        let name = self.b.constant(base, t);
        self.types.insert(name.clone(), k);
        name
    }

    /// A 0-D constant of `dtype`.
    pub fn scalar(&mut self, v: f64, dtype: DType) -> Result<String> {
        let t = ir::build::scalar_tensor(v, dtype)?;
        Ok(self.constant("c", t))
    }

    /// A 1-D `i64` constant.
    pub fn i64s(&mut self, v: &[i64]) -> String {
        let t = ir::Tensor::from_vec(vec![v.len()], v.to_vec()).expect("a vector's length is its shape");
        self.constant("c", t)
    }

    /// `Cast` to `to` unless already of that dtype.
    pub fn cast(&mut self, v: &str, to: DType) -> Result<String> {
        if self.dtype(v) == Some(to) {
            return Ok(v.to_string());
        }
        self.node("Cast", &[v], vec![("to", Attribute::Int(i64::from(to.onnx_code())))])
    }

    // ------------------------------------------------------------ Python values

    /// The value as a Python int, if known at import.
    pub fn int_of(&self, v: &V) -> Option<i64> {
        match v {
            V::Int(i) => Some(*i),
            V::Bool(b) => Some(i64::from(*b)),
            V::T(n) => {
                let k = self.known(n)?;
                match k.ints() {
                    Some([x]) if k.dtype().is_some_and(|d| d.is_int() || d == DType::Bool) => x.int(),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The value as a Python float, if known at import.
    pub fn float_of(&self, v: &V) -> Option<f64> {
        match v {
            V::Float(f) => Some(*f),
            V::T(n) => match self.known(n)?.floats().as_deref() {
                Some([x]) => Some(*x),
                _ => None,
            },
            v => self.int_of(v).map(|i| i as f64),
        }
    }

    /// A required int known at import.
    pub fn int(&self, v: &V, what: &str) -> Result<i64> {
        self.int_of(v)
            .ok_or_else(|| Error::invalid(format!("{what} must be an int known at import, got a {}", v.kind())))
    }

    /// A list of ints known at import (a single int counts as a one-element list).
    pub fn ints(&self, v: &V, what: &str) -> Result<Vec<i64>> {
        match v {
            V::List(items) | V::Tuple(items) => items.iter().map(|x| self.int(x, what)).collect(),
            V::T(n) => match self.known(n).and_then(Known::ints) {
                Some(xs) => xs
                    .iter()
                    .map(|x| x.int().ok_or_else(|| Error::invalid(format!("{what} is not known at import"))))
                    .collect(),
                None => Err(Error::invalid(format!("{what} must be known at import"))),
            },
            v => Ok(vec![self.int(v, what)?]),
        }
    }

    /// A graph value for `v`: tensors as they are, Python scalars as 0-D
    /// constants of `dtype` (or their natural dtype), lists of ints as 1-D
    /// `i64` (concatenated in the graph when some element is dynamic).
    pub fn tensor(&mut self, v: &V, dtype: Option<DType>) -> Result<String> {
        Ok(match v {
            V::T(n) => n.clone(),
            V::Bool(b) => self.scalar(f64::from(u8::from(*b)), dtype.unwrap_or(DType::Bool))?,
            V::Int(i) => self.scalar(*i as f64, dtype.unwrap_or(DType::I64))?,
            V::Float(f) => self.scalar(*f, dtype.unwrap_or(DType::F32))?,
            V::List(items) | V::Tuple(items) => {
                if items.iter().all(|x| matches!(x, V::Int(_) | V::Bool(_))) {
                    let ints: Vec<i64> = items.iter().map(|x| self.int_of(x).expect("ints")).collect();
                    let c = self.i64s(&ints);
                    match dtype {
                        Some(d) if d != DType::I64 => self.cast(&c, d)?,
                        _ => c,
                    }
                } else if items.iter().all(|x| matches!(x, V::Float(_) | V::Int(_))) {
                    let f: Vec<f32> = items.iter().map(|x| self.float_of(x).expect("numbers") as f32).collect();
                    let c = self.constant("c", ir::Tensor::from_vec(vec![f.len()], f)?);
                    self.cast(&c, dtype.unwrap_or(DType::F32))?
                } else if items.iter().all(|x| matches!(x, V::Int(_) | V::T(_))) {
                    // Dynamic sizes: each element a 1-element i64, concatenated.
                    let mut parts = Vec::new();
                    for x in items {
                        let t = self.tensor(x, Some(DType::I64))?;
                        let t = self.cast(&t, DType::I64)?;
                        let one = self.i64s(&[1]);
                        parts.push(self.node("Reshape", &[&t, &one], vec![])?);
                    }
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    self.node("Concat", &refs, vec![("axis", Attribute::Int(0))])?
                } else {
                    return Err(Error::invalid(format!(
                        "a list of {} cannot be a tensor",
                        items.first().map_or("nothing", V::kind)
                    )));
                }
            }
            v => return Err(Error::invalid(format!("expected a tensor, got a {}", v.kind()))),
        })
    }

    /// An initializer for a module tensor, added once per dotted path.
    fn param(&mut self, path: &str, t: &ir::Tensor) -> String {
        if let Some(n) = self.params.get(path) {
            return n.clone();
        }
        let name = self.b.fresh_value(path);
        self.b.set_dtype(&name, t.dtype());
        self.inits.push((name.clone(), t.clone()));
        self.types.insert(name.clone(), Known::from_tensor(t));
        self.params.insert(path.to_string(), name.clone());
        name
    }

    fn attr_value(&mut self, m: &Module, name: &str) -> Result<V> {
        let path = if m.path.is_empty() { name.to_string() } else { format!("{}.{name}", m.path) };
        Ok(match m.attr(name) {
            Some(Attr::Module(sub)) => V::Module(sub.clone()),
            Some(Attr::Tensor(t)) => V::T(self.param(&path, t)),
            Some(Attr::Value(v)) => self.py_value(v)?,
            None => return Err(Error::invalid(format!("module '{}' ({}) has no attribute '{name}'", m.path, m.class))),
        })
    }

    fn py_value(&mut self, v: &Value) -> Result<V> {
        Ok(match v {
            Value::None => V::None,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Int(*i),
            Value::Float(f) => V::Float(*f),
            Value::Str(s) => V::Str(s.clone()),
            Value::Tuple(xs) => V::Tuple(xs.iter().map(|x| self.py_value(x)).collect::<Result<_>>()?),
            Value::List(xs) => V::List(xs.iter().map(|x| self.py_value(x)).collect::<Result<_>>()?),
            Value::Device(_) => V::Device,
            Value::DType(t) => V::DType(t.code),
            v => return Err(Error::invalid(format!("attribute value of kind {} is not read", v.kind()))),
        })
    }

    fn constant_value(&mut self, i: usize) -> Result<V> {
        let c = self
            .ar
            .constants
            .get(i)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("CONSTANTS.c{i} does not exist")))?;
        Ok(match c {
            Attr::Tensor(t) if t.shape().is_empty() => {
                // A 0-D constant acts like a Python scalar in arithmetic.
                let k = Known::from_tensor(&t);
                match (t.dtype(), k.ints(), k.floats()) {
                    (d, Some([x]), _) if d.is_int() => {
                        x.int().map_or_else(|| V::T(self.constant("const", t.clone())), V::Int)
                    }
                    (DType::Bool, Some([x]), _) => V::Bool(x.int() == Some(1)),
                    (_, _, Some(f)) if f.len() == 1 => V::Float(f[0]),
                    _ => V::T(self.constant("const", t)),
                }
            }
            Attr::Tensor(t) => V::T(self.constant("const", t)),
            Attr::Value(v) => self.py_value(&v)?,
            Attr::Module(_) => return Err(Error::invalid(format!("CONSTANTS.c{i} is a module"))),
        })
    }

    // ------------------------------------------------------------ calls

    fn call_method(&mut self, m: &Rc<Module>, method: &str, args: Vec<V>) -> Result<V> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(Error::invalid(format!("calls nested deeper than {MAX_CALL_DEPTH} (recursion?)")));
        }
        let (file, f) = self.ar.method(&m.class, method)?;
        let mut scope = Scope::new();
        let mut params = f.params.iter();
        if let Some(p) = params.next() {
            scope.insert(p.name.clone(), V::Module(m.clone()));
        }
        self.bind(&f, params.cloned().collect(), args, &mut scope)?;
        self.run_function(&file, &f, scope)
    }

    fn bind(&mut self, f: &FuncDef, params: Vec<crate::source::Param>, args: Vec<V>, scope: &mut Scope) -> Result<()> {
        let mut args = args.into_iter();
        for p in params {
            let v = match args.next() {
                Some(v) => v,
                None => match &p.default {
                    Some(d) => self.literal(d)?,
                    None => return Err(Error::invalid(format!("call of '{}' lacks argument '{}'", f.name, p.name))),
                },
            };
            scope.insert(p.name.clone(), v);
        }
        Ok(())
    }

    fn literal(&mut self, e: &Expr) -> Result<V> {
        let mut s = Scope::new();
        self.expr(e, &mut s)
    }

    fn run_function(&mut self, file: &Rc<SourceFile>, f: &FuncDef, mut scope: Scope) -> Result<V> {
        let saved = self.loc.clone();
        self.loc = Loc { file: file.name.clone(), line: f.pos.line, col: f.pos.col };
        self.depth += 1;
        let r = self.block(&f.body, &mut scope);
        self.depth -= 1;
        let r = r.map_err(|e| if matches!(e, Error::Context { .. }) { e } else { e.context(at(&self.loc)) });
        self.loc = saved;
        Ok(match r? {
            Flow::Return(v) => v,
            Flow::Next => V::None,
        })
    }

    fn call_op(&mut self, name: &str, args: Args) -> Result<V> {
        let key = name.strip_prefix("aten::").unwrap_or(name);
        let key = key.strip_suffix('_').filter(|k| self.rules.contains_key(k) && !k.is_empty()).unwrap_or(key);
        match self.rules.get(key).copied() {
            Some(rule) => rule(self, &args).map_err(|e| e.context(format!("{} ({name})", at(&self.loc)))),
            None => self.unknown_op(name, &args),
        }
    }

    /// An op with no rule: a `torch`-domain node with the tensor arguments
    /// as inputs (`keep_unknown_ops`), or recorded for the all-at-once error.
    fn unknown_op(&mut self, name: &str, args: &Args) -> Result<V> {
        let op = name.trim_start_matches("aten::").to_string();
        self.unsupported.push((op.clone(), at(&self.loc)));
        let inputs: Vec<String> = args
            .pos
            .iter()
            .chain(args.kw.iter().map(|(_, v)| v))
            .filter_map(|v| match v {
                V::T(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let out = self.b.fresh_value(&op);
        let node = Node::new(op.clone(), refs, [out.clone()]).named(self.b.fresh_node(&op)).in_domain("torch");
        self.add(node)?;
        Ok(V::T(out))
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, stmts: &[Stmt], scope: &mut Scope) -> Result<Flow> {
        for s in stmts {
            self.loc.line = s.pos.line;
            self.loc.col = s.pos.col;
            if let Flow::Return(v) = self.stmt(s, scope)? {
                return Ok(Flow::Return(v));
            }
        }
        Ok(Flow::Next)
    }

    fn assign(&mut self, target: &Expr, v: V, scope: &mut Scope) -> Result<()> {
        match &target.kind {
            ExprKind::Name(n) => {
                scope.insert(n.clone(), v);
            }
            ExprKind::Tuple(ts) | ExprKind::List(ts) => {
                let items = self.unpack(v, ts.len())?;
                for (t, x) in ts.iter().zip(items) {
                    self.assign(t, x, scope)?;
                }
            }
            _ => return Err(Error::invalid("only names and tuples of names can be assigned")),
        }
        Ok(())
    }

    fn unpack(&mut self, v: V, n: usize) -> Result<Vec<V>> {
        match v {
            V::Tuple(items) | V::List(items) if items.len() == n => Ok(items),
            V::Tuple(items) | V::List(items) => {
                Err(Error::invalid(format!("cannot unpack {} values into {n}", items.len())))
            }
            V::T(t) => {
                // Unpacking a tensor splits its first dimension.
                let mut out = Vec::new();
                for i in 0..n {
                    let idx = self.scalar(i as f64, DType::I64)?;
                    out.push(V::T(self.node("Gather", &[&t, &idx], vec![("axis", Attribute::Int(0))])?));
                }
                Ok(out)
            }
            v => Err(Error::invalid(format!("cannot unpack a {}", v.kind()))),
        }
    }

    fn stmt(&mut self, s: &Stmt, scope: &mut Scope) -> Result<Flow> {
        match &s.kind {
            StmtKind::Assign(targets, value) => {
                let v = self.expr(value, scope)?;
                for t in targets {
                    self.assign(t, v.clone(), scope)?;
                }
            }
            StmtKind::AnnAssign(t, _, Some(value)) => {
                let v = self.expr(value, scope)?;
                self.assign(t, v, scope)?;
            }
            StmtKind::AugAssign(t, op, value) => {
                let cur = self.expr(t, scope)?;
                let r = self.expr(value, scope)?;
                let v = self.binop(*op, cur, r)?;
                self.assign(t, v, scope)?;
            }
            StmtKind::Expr(e) => {
                self.expr(e, scope)?;
            }
            StmtKind::Return(v) => {
                let v = match v {
                    Some(e) => self.expr(e, scope)?,
                    None => V::None,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::If(cond, then, other) => {
                let c = self.expr(cond, scope)?;
                return self.if_stmt(c, then, other, scope);
            }
            StmtKind::For(target, iter, body) => self.for_stmt(target, iter, body, scope)?,
            StmtKind::While(cond, body) => self.while_stmt(cond, body, scope)?,
            StmtKind::Pass | StmtKind::Import | StmtKind::AnnAssign(_, _, None) => {}
            StmtKind::Assert(c, _) => {
                // Asserts whose condition is known must hold; dynamic ones are dropped.
                let v = self.expr(c, scope)?;
                if self.int_of(&v) == Some(0) {
                    return Err(Error::invalid("assertion fails at import"));
                }
            }
            StmtKind::Raise(_) => return Err(Error::invalid("the code raises an exception on this path")),
            StmtKind::Break | StmtKind::Continue => return Err(Error::invalid("break/continue are not supported")),
            StmtKind::Def(_) | StmtKind::Class(_) => {
                return Err(Error::invalid("nested definitions are not supported"));
            }
        }
        Ok(Flow::Next)
    }

    fn truth(&self, v: &V) -> Option<bool> {
        match v {
            V::None => Some(false),
            V::Bool(b) => Some(*b),
            V::Str(s) => Some(!s.is_empty()),
            V::List(x) | V::Tuple(x) => Some(!x.is_empty()),
            V::Module(_) | V::DType(_) | V::Device => Some(true),
            v => self.float_of(v).map(|f| f != 0.0),
        }
    }

    fn bool_tensor(&mut self, v: &V) -> Result<String> {
        let t = self.tensor(v, None)?;
        if self.dtype(&t) == Some(DType::Bool) {
            return Ok(t);
        }
        let z = self.scalar(0.0, self.dtype(&t).unwrap_or(DType::F32))?;
        let eq = self.node("Equal", &[&t, &z], vec![])?;
        self.node("Not", &[&eq], vec![])
    }

    /// Runs `f` with `g` as the graph being built; returns the graph after.
    fn with_graph<R>(&mut self, g: Graph, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<(Graph, R)> {
        let saved = std::mem::replace(&mut self.b.graph, g);
        let r = f(self);
        let g = std::mem::replace(&mut self.b.graph, saved);
        Ok((g, r?))
    }

    /// A body graph with these typed inputs.
    fn body_graph(&mut self, name: &str, inputs: &[(String, Known)]) -> Graph {
        let mut g = Graph { name: self.b.fresh_node(name), ..Graph::default() };
        for (n, k) in inputs {
            g.inputs.push(ValueInfo { name: n.clone(), ty: k.ty.clone(), doc: String::new() });
            if let Some(d) = k.dtype() {
                self.b.set_dtype(n, d);
            }
            self.types.insert(n.clone(), k.clone());
        }
        g
    }

    /// What a loop-carried or branch-merged value is known to be: its dtype
    /// and rank (dimensions may change from one iteration to the next).
    fn loose(&self, t: &str) -> Known {
        let dtype = self.dtype(t);
        let shape = self.shape(t).map(|s| Shape(vec![Dim::Unknown; s.rank()]));
        Known::tensor(dtype, shape)
    }

    /// Makes `v` a graph value inside the current graph for a subgraph
    /// output (always a fresh `Identity`, so outputs are body values).
    fn body_output(&mut self, v: &V, dtype: Option<DType>) -> Result<String> {
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

    fn if_stmt(&mut self, c: V, then: &[Stmt], other: &[Stmt], scope: &mut Scope) -> Result<Flow> {
        if let Some(b) = self.truth(&c) {
            return self.block(if b { then } else { other }, scope);
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
            let (a, b) = (&s1[n], &s2[n]);
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
        for (o, k) in outs.iter().zip(kinds) {
            if let Some(d) = k.dtype() {
                self.b.set_dtype(o, d);
            }
            self.types.insert(o.clone(), k);
        }
        self.b.add_node(node, None);
        let mut it = outs.into_iter();
        for (n, pair, v) in merged {
            let v = if pair.is_some() { V::T(it.next().expect("one output per pair")) } else { v };
            scope.insert(n, v);
        }
        Ok(Flow::Next)
    }

    /// The dtype a Python or graph value has as a tensor.
    fn value_dtype(&self, v: &V) -> Option<DType> {
        match v {
            V::T(t) => self.dtype(t),
            V::Int(_) => Some(DType::I64),
            V::Float(_) => Some(DType::F32),
            V::Bool(_) => Some(DType::Bool),
            _ => None,
        }
    }

    fn for_stmt(&mut self, target: &Expr, iter: &Expr, body: &[Stmt], scope: &mut Scope) -> Result<()> {
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
                let (span, by) = if step > 0 { (stop - start, step) } else { (start - stop, -step) };
                let count = if span <= 0 { 0 } else { (span + by - 1) / by };
                if count <= MAX_UNROLL {
                    for i in 0..count {
                        self.assign(target, V::Int(start + i * step), scope)?;
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

    fn while_stmt(&mut self, cond: &Expr, body: &[Stmt], scope: &mut Scope) -> Result<()> {
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
    fn loop_node(
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
            Ok(outs)
        })?;
        for o in &outs {
            let ty = self.known(o).map(|k| k.ty.clone()).unwrap_or(ValueType::Unknown);
            g.outputs.push(ValueInfo { name: o.clone(), ty, doc: String::new() });
        }
        let results: Vec<String> = carried.iter().map(|(n, _, _)| self.b.fresh_value(n)).collect();
        let mut ins = vec![m.unwrap_or_default(), cond.unwrap_or_default()];
        ins.extend(carried.iter().map(|(_, t, _)| t.clone()));
        let mut node =
            Node::new("Loop", Vec::<String>::new(), results.iter().cloned()).named(self.b.fresh_node("Loop"));
        node.inputs = ins.into_iter().map(|i| if i.is_empty() { None } else { Some(i) }).collect();
        node.attrs.insert("body".into(), Attribute::Graph(Box::new(g)));
        for ((n, _, k), r) in carried.iter().zip(&results) {
            if let Some(d) = k.dtype() {
                self.b.set_dtype(r, d);
            }
            self.types.insert(r.clone(), k.clone());
            scope.insert(n.clone(), V::T(r.clone()));
        }
        self.b.add_node(node, None);
        Ok(())
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, e: &Expr, scope: &mut Scope) -> Result<V> {
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
                None => return Err(Error::invalid(format!("name '{n}' is not defined"))),
            },
            ExprKind::Tuple(xs) => V::Tuple(xs.iter().map(|x| self.expr(x, scope)).collect::<Result<_>>()?),
            ExprKind::List(xs) => V::List(xs.iter().map(|x| self.expr(x, scope)).collect::<Result<_>>()?),
            ExprKind::Dict(pairs) => V::Dict(
                pairs.iter().map(|(k, v)| Ok((self.expr(k, scope)?, self.expr(v, scope)?))).collect::<Result<_>>()?,
            ),
            ExprKind::Attr(obj, name) => {
                if let Some(q) = dotted(e)
                    && (q.starts_with("CONSTANTS.c"))
                {
                    let i = q["CONSTANTS.c".len()..]
                        .parse()
                        .map_err(|_| Error::invalid(format!("'{q}' is not a constant")))?;
                    return self.constant_value(i);
                }
                match self.expr(obj, scope)? {
                    V::Module(m) => self.attr_value(&m, name)?,
                    v => return Err(Error::invalid(format!("attribute '{name}' of a {}", v.kind()))),
                }
            }
            ExprKind::Call { func, args, kwargs } => return self.call(func, args, kwargs, scope),
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

    fn binop(&mut self, op: BinOp, a: V, b: V) -> Result<V> {
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
            BinOp::Shl | BinOp::Shr => return Err(Error::invalid("shift operators are not supported")),
            BinOp::And | BinOp::Or => unreachable!("handled with short-circuiting"),
        };
        self.call_op(name, Args { pos: vec![a, b], kw: vec![] })
    }

    fn call(&mut self, func: &Expr, args: &[Expr], kwargs: &[(String, Expr)], scope: &mut Scope) -> Result<V> {
        // List methods mutate the variable they are called on.
        if let ExprKind::Attr(obj, meth) = &func.kind
            && let ExprKind::Name(var) = &obj.kind
            && let Some(V::List(items)) = scope.get(var).cloned()
        {
            let vals: Vec<V> = args.iter().map(|a| self.expr(a, scope)).collect::<Result<_>>()?;
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
            scope.insert(var.clone(), V::List(items));
            return Ok(V::None);
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
                let (file, f) = self.ar.function(q)?;
                let mut s = Scope::new();
                self.bind(&f, f.params.clone(), a.pos, &mut s)?;
                return self.run_function(&file, &f, s);
            }
            if !q.contains('.') {
                return self.builtin(q, args, kwargs, scope);
            }
            if q.starts_with("ops.") || q.starts_with("math.") {
                let a = eval(self, scope)?;
                return self.call_op(q.trim_start_matches("ops."), a);
            }
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
                V::T(_) => {
                    let mut pos = vec![o];
                    pos.extend(a.pos);
                    self.call_op(meth, Args { pos, kw: a.kw })
                }
                v => Err(Error::invalid(format!("method '{meth}' of a {}", v.kind()))),
            };
        }
        Err(Error::invalid("call of something that is not a function"))
    }

    fn builtin(&mut self, name: &str, args: &[Expr], kwargs: &[(String, Expr)], scope: &mut Scope) -> Result<V> {
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
                V::Int(i) => V::Int(i.abs()),
                V::Float(f) => V::Float(f.abs()),
                v => self.call_op("abs", Args { pos: vec![v], kw: vec![] })?,
            },
            _ => return Err(Error::invalid(format!("function '{name}' is not supported"))),
        })
    }
}

/// Whether two interpreter values are the same value.
fn same(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::None, V::None) | (V::Device, V::Device) | (V::Uninit, V::Uninit) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) | (V::T(x), V::T(y)) => x == y,
        (V::DType(x), V::DType(y)) => x == y,
        (V::Module(x), V::Module(y)) => Rc::ptr_eq(x, y),
        (V::List(x), V::List(y)) | (V::Tuple(x), V::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => false,
    }
}

/// `a.b.c` for a chain of names and attributes.
fn dotted(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) => Some(n.clone()),
        ExprKind::Attr(o, a) => Some(format!("{}.{a}", dotted(o)?)),
        _ => None,
    }
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

// ------------------------------------------------------------ entry point

/// Graph input types from `-I input-shape=NAME=D0,D1;...` and
/// `-I input-dtype=NAME=int64;...`; dims are numbers, symbols or `?`.
fn input_options(options: &ir::ImportOptions) -> Result<(HashMap<String, Shape>, HashMap<String, DType>)> {
    let mut shapes = HashMap::new();
    let mut dtypes = HashMap::new();
    for (key, value) in &options.format_options {
        match key.as_str() {
            "input-shape" => {
                for part in value.split(';').filter(|p| !p.is_empty()) {
                    let (name, dims) = part.split_once('=').ok_or_else(|| {
                        Error::invalid(format!("torchscript option input-shape={value}: expected NAME=D0,D1,..."))
                    })?;
                    let dims = dims
                        .split(',')
                        .filter(|d| !d.is_empty())
                        .map(|d| match d.trim() {
                            "?" => Dim::Unknown,
                            d => d.parse::<u64>().map_or_else(|_| Dim::Symbolic(d.to_string()), Dim::Fixed),
                        })
                        .collect();
                    shapes.insert(name.to_string(), Shape(dims));
                }
            }
            "input-dtype" => {
                for part in value.split(';').filter(|p| !p.is_empty()) {
                    let (name, d) = part.split_once('=').ok_or_else(|| {
                        Error::invalid(format!("torchscript option input-dtype={value}: expected NAME=DTYPE"))
                    })?;
                    let t = crate::dtype::by_name(d.trim()).ok_or_else(|| {
                        Error::invalid(format!("torchscript option input-dtype: unknown dtype '{d}'"))
                    })?;
                    dtypes.insert(name.to_string(), t.dtype);
                }
            }
            k => {
                return Err(Error::invalid(format!(
                    "unknown torchscript import option '{k}' (known: input-shape, input-dtype)"
                )));
            }
        }
    }
    Ok((shapes, dtypes))
}

/// The example inputs a traced archive records (`traced_inputs.pkl`):
/// dtype and shape of each `forward` argument.
fn traced_inputs(ar: &ScriptArchive) -> Vec<(DType, Shape)> {
    let Ok(bytes) = ar.archive.read("traced_inputs.pkl") else { return Vec::new() };
    let Ok((v, _)) = crate::pickle::read(&bytes) else { return Vec::new() };
    let Some(list) = v.get("forward").and_then(Value::items) else { return Vec::new() };
    list.iter()
        .map_while(|x| match x {
            Value::Tensor(t) => Some((t.storage.ty.dtype, Shape::fixed(&t.sizes))),
            _ => None,
        })
        .collect()
}

/// Lowers the root module's `forward` into a model.
pub fn lower(ar: &ScriptArchive, options: &ir::ImportOptions) -> Result<ir::Model> {
    let (shapes, dtypes) = input_options(options)?;
    let traced = traced_inputs(ar);
    let mut lw = Lower::new(ar);
    let (file, f) = ar.method(&ar.root.class, "forward")?;
    let mut scope = Scope::new();
    let mut params = f.params.iter();
    if let Some(p) = params.next() {
        scope.insert(p.name.clone(), V::Module(ar.root.clone()));
    }
    for (i, p) in params.enumerate() {
        let is_tensor = p.ty.as_ref().and_then(dotted).is_none_or(|t| t == "Tensor");
        if !is_tensor {
            return Err(Error::invalid(format!(
                "forward argument '{}' is not a Tensor (only tensor inputs are supported)",
                p.name
            )));
        }
        let (td, ts) = traced.get(i).cloned().map_or((None, None), |(d, s)| (Some(d), Some(s)));
        let dtype = dtypes.get(&p.name).copied().or(td).unwrap_or(DType::F32);
        let shape = shapes.get(&p.name).cloned().or(ts);
        let name = lw.b.fresh_value(&p.name);
        let ty = ValueType::Tensor { dtype: Some(dtype), shape };
        lw.b.graph.inputs.push(ValueInfo { name: name.clone(), ty: ty.clone(), doc: String::new() });
        lw.b.set_dtype(&name, dtype);
        lw.types.insert(name.clone(), Known::of(ty));
        scope.insert(p.name.clone(), V::T(name));
    }
    let result = lw.run_function(&file, &f, scope);
    if !lw.unsupported.is_empty() && !options.keep_unknown_ops {
        let ops: Vec<(String, String)> = std::mem::take(&mut lw.unsupported);
        return Err(Error::unsupported_ops(
            "torchscript",
            ops.iter().map(|(o, at)| (o.as_str(), "torch", at.as_str())),
        ));
    }
    let result = result.map_err(|e| e.context(ar.archive.path().display().to_string()))?;
    // A dict's keys name the outputs.
    let (values, names): (Vec<V>, Vec<Option<String>>) = match result {
        V::Tuple(xs) | V::List(xs) => {
            let n = xs.len();
            (xs, vec![None; n])
        }
        V::Dict(pairs) => pairs
            .into_iter()
            .map(|(k, v)| {
                let name = match k {
                    V::Str(s) => Some(s),
                    _ => None,
                };
                (v, name)
            })
            .unzip(),
        v => (vec![v], vec![None]),
    };
    let mut seen = std::collections::HashSet::new();
    let mut renames = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let t = lw.tensor(v, None).map_err(|e| e.context(format!("{}: output {i}", ar.archive.path().display())))?;
        // Outputs are node outputs, each once.
        let is_node_output = lw.b.graph.nodes.iter().any(|n| n.outputs.contains(&t));
        let t = match &names[i] {
            Some(n) => {
                let name = lw.b.fresh_value(n);
                let node = Node::new("Identity", [t.as_str()], [name.clone()]).named(lw.b.fresh_node(n));
                lw.add(node)?;
                name
            }
            None if !is_node_output || !seen.insert(t.clone()) => lw.node("Identity", &[&t], vec![])?,
            None => t,
        };
        if names[i].is_none() {
            // Unnamed results get plain names (`output`, `output_1`, ...) instead of internal ones.
            let want = if values.len() == 1 { "output".to_string() } else { format!("output_{i}") };
            renames.push((t.clone(), lw.b.fresh_value(&want)));
        }
        let ty = lw.known(&t).map(|k| k.ty.clone()).unwrap_or(ValueType::Unknown);
        lw.b.graph.outputs.push(ValueInfo { name: t, ty, doc: String::new() });
    }
    let inits = std::mem::take(&mut lw.inits);
    let mut g = lw.b.finish();
    for (old, new) in renames {
        g.rename_value(&old, &new);
    }
    let consts = std::mem::take(&mut g.initializers);
    for (n, t) in inits {
        g.initializers.insert(n, t);
    }
    g.initializers.extend(consts);
    g.remove_dead_nodes();
    g.remove_unused_initializers();
    let mut m = ir::Model::new(g);
    m.opset_imports.insert(String::new(), ir::opset::DEFAULT_OPSET);
    if options.keep_unknown_ops && m.graph.nodes.iter().any(|n| n.domain == "torch") {
        m.opset_imports.insert("torch".into(), 1);
    }
    m.producer_name = "model-convert (torchscript)".into();
    Ok(m)
}
