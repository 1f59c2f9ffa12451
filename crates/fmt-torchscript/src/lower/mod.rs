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
//! Each `aten` op is one rule in the table `rules()`, filled by the family
//! modules (`nn`, `math`, `shape`, `tensor`, `attention`); the interpreter
//! itself is this module (values, statements), `expr` (expressions and
//! calls), `control` (`If`/`Loop`) and `entry` (inputs and outputs).
//!
//! Graph inputs: TorchScript declares no shapes. A traced archive's
//! `traced_inputs.pkl` gives the dtypes and shapes it was traced with; the
//! import options `input-shape=NAME=D0,D1,...[;NAME=...]` (a dimension may
//! be a number, a symbol such as `batch`, or `?`) and
//! `input-dtype=NAME=int64[;...]` override them. Otherwise an input is `f32`
//! of unknown shape, and ops that need its rank say so.

mod attention;
mod control;
mod entry;
mod expr;
mod math;
mod nn;
mod shape;
mod tensor;

pub use entry::{OPTION_NAMES, lower};

use std::collections::HashMap;
use std::rc::Rc;

use ir::build::GraphBuilder;
use ir::infer::Known;
use ir::{Attribute, DType, Error, Node, Result, Shape};

use crate::module::{Attr, Module, ScriptArchive, SourceFile};
use crate::pickle::Value;
use crate::source::{Expr, ExprKind, FuncDef, Stmt, StmtKind};

/// Most iterations of a `for` over a known range that are unrolled; longer
/// loops become `Loop` nodes.
pub const MAX_UNROLL: i64 = 64;
/// Most iterations a `while` with a condition known at import may run.
const MAX_STATIC_ITERATIONS: usize = 10_000;
/// Most values (counted through nested containers) in one list, tuple or
/// dict the code builds. Python values here are shapes, indices and lists
/// of layer outputs; the bound keeps doubling (`y = y + y`, `y = [y, y]`)
/// from exhausting memory, since values are copied, not shared.
pub(crate) const MAX_VALUES: usize = 1 << 16;
/// Most statements interpreted in one import. Unrolled loops and inlined
/// calls multiply (nested `for` loops of [`MAX_UNROLL`] iterations each
/// would run 64^k statements); the largest real model here (a GPT-2
/// trace) runs a few thousand.
const MAX_STATEMENTS: usize = 1_000_000;

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
    /// A function of the archive's code, by qualified name.
    Func(String),
    /// `uninitialized(T)`: a value the code never reads on this path.
    Uninit,
    /// A list of tensors a data-dependent loop built, one `append` per
    /// iteration: the loop's scan output, the items stacked on a new first
    /// axis (`torch.stack` of it is that tensor).
    Stacked(String),
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
            V::Func(_) => "function",
            V::Uninit => "uninitialized",
            V::Stacked(_) => "list of tensors built by a loop",
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
    /// The graph being built; its types (`ir::infer`, through the builder)
    /// span the main graph and every body, since value names are unique
    /// model-wide.
    pub b: GraphBuilder,
    /// The `ai.onnx` opset the nodes are built for.
    pub opset: i64,
    /// The opset some op needed that `opset` lacks (integer bitwise ops
    /// are opset 18, non-saturating 8-bit float casts 19): the import then
    /// runs again at this opset, so every rule sees it from the start
    /// (rules that differ between opsets, like reductions, stay consistent).
    pub wanted_opset: i64,
    rules: HashMap<&'static str, Rule>,
    /// Initializer names of module tensors already added, by dotted path.
    params: HashMap<String, String>,
    /// The same, by the bytes they view: a tensor two modules share (tied
    /// weights) becomes one initializer.
    tied: HashMap<(usize, usize, DType, Vec<usize>), String>,
    loc: Loc,
    /// Function activations in progress (bounded by `max_depth`).
    depth: usize,
    /// Statements interpreted so far (bounded by [`MAX_STATEMENTS`]).
    statements: usize,
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
    fn new(ar: &'a ScriptArchive, opset: i64) -> Self {
        Lower {
            ar,
            b: GraphBuilder::new("torchscript"),
            opset,
            wanted_opset: opset,
            rules: rules(),
            params: HashMap::new(),
            tied: HashMap::new(),
            loc: Loc { file: String::new(), line: 0, col: 0 },
            depth: 0,
            statements: 0,
            unsupported: Vec::new(),
            inits: Vec::new(),
        }
    }

    // ------------------------------------------------------------ graph helpers

    /// What is known about a graph value (this graph or an enclosing one).
    pub fn known(&self, name: &str) -> Option<&Known> {
        self.b.known(name)
    }

    /// The dtype of a graph value.
    pub fn dtype(&self, name: &str) -> Option<DType> {
        self.b.dtype(name)
    }

    /// The shape of a graph value, if its rank is known.
    pub fn shape(&self, name: &str) -> Option<Shape> {
        self.known(name).and_then(|k| k.shape().cloned())
    }

    /// The rank of a value known to be a tensor of known rank (Python numbers are 0-D).
    pub fn shape_rank(&self, v: &V) -> Option<usize> {
        match v {
            V::T(n) => self.shape(n).map(|s| s.rank()),
            V::Int(_) | V::Float(_) | V::Bool(_) => Some(0),
            _ => None,
        }
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
    pub fn add(&mut self, mut n: Node) -> Result<()> {
        for i in &mut n.inputs {
            if i.as_deref() == Some("") {
                *i = None;
            }
        }
        let op = n.op.clone();
        self.b.set_opset(self.opset);
        self.b.try_add_node(n).map_err(|e| e.context(format!("{op} node")))
    }

    /// [`Lower::require_opset`] for a canonical op, at the opset the op
    /// schema says it was introduced in.
    pub fn require_op(&mut self, op: &str) -> Result<()> {
        let since = ir::schema::lookup("", op).map_or(1, |s| s.since);
        self.require_opset(since, op)
    }

    /// An error unless the opset has `op` (from opset `since`, for facts
    /// the op schema does not hold: an attribute value's version); the
    /// error also records [`Lower::wanted_opset`], and the import runs
    /// again at that opset instead of failing.
    pub fn require_opset(&mut self, since: i64, op: &str) -> Result<()> {
        if self.opset >= since {
            return Ok(());
        }
        self.wanted_opset = self.wanted_opset.max(since);
        Err(Error::invalid(format!("{op} needs opset {since} (building for {})", self.opset)))
    }

    /// A constant initializer.
    pub fn constant(&mut self, base: &str, t: ir::Tensor) -> String {
        self.b.constant(base, t)
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

    /// `Cast` to `to` unless already of that dtype. torch converts to the
    /// four 8-bit float types without saturating (out of range is NaN, or
    /// infinity for E5M2), which is ONNX's `saturate=0` (opset 19).
    pub fn cast(&mut self, v: &str, to: DType) -> Result<String> {
        if self.dtype(v) == Some(to) {
            return Ok(v.to_string());
        }
        let mut attrs = vec![("to", Attribute::Int(i64::from(to.onnx_code())))];
        if matches!(to, DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ) {
            self.require_opset(19, &format!("Cast to {to} without saturation"))?;
            attrs.push(("saturate", Attribute::Int(0)));
        }
        self.node("Cast", &[v], attrs)
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
        let key =
            t.raw().filter(|b| !b.is_empty()).map(|b| (b.as_ptr() as usize, b.len(), t.dtype(), t.shape().to_vec()));
        if let Some(n) = key.as_ref().and_then(|k| self.tied.get(k)) {
            let n = n.clone();
            self.params.insert(path.to_string(), n.clone());
            return n;
        }
        let name = self.b.fresh_value(path);
        if let Some(k) = key {
            self.tied.insert(k, name.clone());
        }
        self.b.set_known(&name, Known::from_tensor(t));
        self.inits.push((name.clone(), t.clone()));
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
                    (_, _, Some(f)) if f.len() == 1 => V::Float(f.first().copied().unwrap_or_default()),
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
        // Every call, of a method or a free function, comes through here.
        let limits = &self.ar.limits;
        if self.depth >= limits.max_depth {
            let what = format!("calls nested too deeply (recursion?) at '{}' of {}", f.name, file.name);
            return Err(Error::invalid(limits.message(ir::Limit::Depth, &what)));
        }
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
            self.statements = self.statements.saturating_add(1);
            if self.statements > MAX_STATEMENTS {
                return Err(Error::invalid(format!(
                    "more than {MAX_STATEMENTS} statements interpreted (loops unrolled into a graph too large)"
                )));
            }
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
            V::Module(_) | V::DType(_) | V::Device | V::Func(_) => Some(true),
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

    /// An error unless a container of `items` stays within `max_depth` and
    /// [`MAX_VALUES`]: the code can nest and grow lists at run time (`y =
    /// [y]` in a loop), and values are cloned, compared and dropped
    /// recursively.
    pub(crate) fn check_nesting<'v>(&self, items: impl IntoIterator<Item = &'v V>) -> Result<()> {
        let (mut d, mut n) = (0usize, 0usize);
        for item in items {
            let (di, ni) = measure(item);
            d = d.max(di);
            n = n.saturating_add(ni);
        }
        let limits = &self.ar.limits;
        if d.saturating_add(1) > limits.max_depth {
            return Err(Error::invalid(limits.message(ir::Limit::Depth, "a list, tuple or dict built by the code")));
        }
        if n > MAX_VALUES {
            return Err(Error::invalid(format!(
                "a list, tuple or dict built by the code holds {n} values (at most {MAX_VALUES} are built at import)"
            )));
        }
        Ok(())
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
}

/// Nesting depth of a value (0 for anything but a list, tuple or dict)
/// and the number of values in it, itself included. The recursion is
/// bounded: no value nested deeper than `max_depth` is ever built
/// ([`Lower::check_nesting`]).
fn measure(v: &V) -> (usize, usize) {
    let children: Box<dyn Iterator<Item = &V>> = match v {
        V::List(x) | V::Tuple(x) => Box::new(x.iter()),
        V::Dict(p) => Box::new(p.iter().flat_map(|(k, v)| [k, v])),
        _ => return (0, 1),
    };
    let (mut d, mut n) = (0usize, 1usize);
    for c in children {
        let (dc, nc) = measure(c);
        d = d.max(dc);
        n = n.saturating_add(nc);
    }
    (d.saturating_add(1), n)
}

/// Whether two interpreter values are the same value.
fn same(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::None, V::None) | (V::Device, V::Device) | (V::Uninit, V::Uninit) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) | (V::T(x), V::T(y)) | (V::Func(x), V::Func(y)) | (V::Stacked(x), V::Stacked(y)) => {
            x == y
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_op_list_is_covered() {
        let have = supported_ops();
        let want = [
            "_convolution",
            "conv1d",
            "conv2d",
            "conv3d",
            "linear",
            "addmm",
            "matmul",
            "mm",
            "bmm",
            "batch_norm",
            "layer_norm",
            "group_norm",
            "instance_norm",
            "relu",
            "gelu",
            "silu",
            "hardswish",
            "hardsigmoid",
            "sigmoid",
            "tanh",
            "softmax",
            "log_softmax",
            "max_pool2d",
            "avg_pool2d",
            "adaptive_avg_pool2d",
            "view",
            "reshape",
            "flatten",
            "permute",
            "transpose",
            "contiguous",
            "size",
            "numel",
            "cat",
            "stack",
            "split",
            "chunk",
            "unbind",
            "slice",
            "select",
            "index",
            "narrow",
            "embedding",
            "masked_fill",
            "where",
            "expand",
            "repeat",
            "mean",
            "sum",
            "amax",
            "add",
            "sub",
            "mul",
            "div",
            "pow",
            "rsqrt",
            "sqrt",
            "neg",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "arange",
            "zeros",
            "ones",
            "full",
            "to",
            "type_as",
            "dropout",
            "scaled_dot_product_attention",
            "_native_multi_head_attention",
            "_transformer_encoder_layer_fwd",
        ];
        let missing: Vec<&str> = want.iter().copied().filter(|op| !have.contains(op)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
