//! Graph execution: values by name in nested scopes, each freed after its last use.

use std::collections::{HashMap, HashSet};

use ir::{Dim, Graph, Model, ValueInfo, ValueType};

use crate::registry::{Ctx, OpRegistry, registry};
use crate::{Error, Result, Value, convert};

/// Values of one graph run; subgraph scopes see their parents' values.
pub(crate) struct Scope<'p> {
    vals: HashMap<String, Value>,
    parent: Option<&'p Scope<'p>>,
}

impl Scope<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.vals.get(name).or_else(|| self.parent.and_then(|p| p.get(name)))
    }
}

/// Sees each value a node produces (see [`Session::run_observed`]).
type Observer<'a> = &'a mut dyn FnMut(&str, &Value);

/// A model prepared for evaluation: support checked once, run many times.
pub struct Session<'m> {
    model: &'m Model,
    registry: &'static OpRegistry,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({} nodes)", self.model.graph.nodes.len())
    }
}

impl<'m> Session<'m> {
    /// Prepares `model`, failing with the list of every op the evaluator lacks.
    pub fn new(model: &'m Model) -> Result<Self> {
        let registry = registry();
        let mut missing: Vec<(String, String, String)> = Vec::new();
        model.graph.walk(&mut |g| {
            for n in &g.nodes {
                if registry.get(&n.domain, &n.op).is_none() && ir::kernel::get(&n.domain, &n.op).is_none() {
                    missing.push((n.op.clone(), n.domain.clone(), n.name.clone()));
                }
            }
        });
        if !missing.is_empty() {
            let uses = missing.iter().map(|(o, d, n)| (o.as_str(), d.as_str(), n.as_str()));
            return Err(ir::Error::unsupported_ops("the evaluator", uses).into());
        }
        Ok(Session { model, registry })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        self.model
    }

    /// Runs the main graph on named inputs; returns the outputs in graph order.
    pub fn run(&self, inputs: Vec<(String, Value)>) -> Result<Vec<(String, Value)>> {
        let g = &self.model.graph;
        let values = self.run_graph(g, None, inputs.into_iter().collect(), true)?;
        Ok(g.outputs.iter().map(|o| o.name.clone()).zip(values).collect())
    }

    /// Runs the main graph like [`Session::run`], showing every value a node
    /// of the main graph produces to `observe` (name, value) before it may be
    /// freed: how calibration sees intermediate values without keeping them.
    pub fn run_observed(
        &self,
        inputs: Vec<(String, Value)>,
        observe: &mut dyn FnMut(&str, &Value),
    ) -> Result<Vec<(String, Value)>> {
        let g = &self.model.graph;
        let values = self.run_graph_observed(g, None, inputs.into_iter().collect(), true, Some(observe))?;
        Ok(g.outputs.iter().map(|o| o.name.clone()).zip(values).collect())
    }

    pub(crate) fn run_graph(
        &self,
        g: &Graph,
        parent: Option<&Scope<'_>>,
        inputs: HashMap<String, Value>,
        check_inputs: bool,
    ) -> Result<Vec<Value>> {
        self.run_graph_observed(g, parent, inputs, check_inputs, None)
    }

    fn run_graph_observed(
        &self,
        g: &Graph,
        parent: Option<&Scope<'_>>,
        inputs: HashMap<String, Value>,
        check_inputs: bool,
        mut observe: Option<Observer<'_>>,
    ) -> Result<Vec<Value>> {
        let vals = inputs;
        if check_inputs {
            check_feeds(g, &vals)?;
        }
        // Initializers are materialized lazily, just before their first
        // reader, and freed after their last like any value: running a model
        // never holds a second copy of all its weights.
        // Free each value after its last reader; graph outputs are kept.
        let keep: HashSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
        let mut last_use: HashMap<&str, usize> = HashMap::new();
        for (i, n) in g.nodes.iter().enumerate() {
            for v in n.present_inputs() {
                last_use.insert(v, i);
            }
        }
        let captures: Vec<Vec<String>> =
            g.nodes.iter().map(|n| n.subgraphs().flat_map(|sg| sg.captures()).collect()).collect();
        for (i, c) in captures.iter().enumerate() {
            for v in c {
                // Keep the later of a direct read and a capture.
                let e = last_use.entry(v.as_str()).or_insert(i);
                *e = (*e).max(i);
            }
        }
        let mut scope = Scope { vals, parent };
        for (i, node) in g.nodes.iter().enumerate() {
            let label = || if node.name.is_empty() { format!("#{i}") } else { node.name.clone() };
            let wrap = |e: Error| Error::Node { node: label(), op: node.op.clone(), error: Box::new(e) };
            let f = match self.registry.get(&node.domain, &node.op) {
                Some(f) => OpImpl::Builtin(f),
                None => OpImpl::Origin(ir::kernel::get(&node.domain, &node.op).expect("checked in Session::new")),
            };
            let opset = self.model.opset(&node.domain).unwrap_or(ir::opset::DEFAULT_OPSET);
            for name in node.present_inputs().chain(captures[i].iter().map(String::as_str)) {
                materialize(g, &mut scope.vals, name)?;
            }
            let outputs = {
                let mut ins = Vec::with_capacity(node.inputs.len());
                for name in &node.inputs {
                    match name.as_deref().filter(|s| !s.is_empty()) {
                        None => ins.push(None),
                        Some(n) => match scope.get(n) {
                            Some(v) => ins.push(Some(v)),
                            None => return Err(wrap(Error::op(format!("input '{n}' has no value")))),
                        },
                    }
                }
                match f {
                    OpImpl::Builtin(f) => {
                        let ctx = Ctx { node, opset, session: self, scope: &scope };
                        f(&ctx, &ins).map_err(wrap)?
                    }
                    OpImpl::Origin(k) => run_origin_kernel(k, node, &ins).map_err(wrap)?,
                }
            };
            let wanted = node.outputs.iter().rposition(|o| !o.is_empty()).map_or(0, |p| p + 1);
            if outputs.len() < wanted {
                return Err(wrap(Error::op(format!("produced {} outputs, the node needs {wanted}", outputs.len()))));
            }
            for (name, v) in node.outputs.iter().zip(outputs) {
                if !name.is_empty() {
                    if let Some(f) = observe.as_deref_mut() {
                        f(name, &v);
                    }
                    scope.vals.insert(name.clone(), v);
                }
            }
            for name in node.present_inputs().chain(captures[i].iter().map(String::as_str)) {
                if last_use.get(name) == Some(&i) && !keep.contains(name) {
                    scope.vals.remove(name);
                }
            }
            for name in node.present_outputs() {
                if !last_use.contains_key(name) && !keep.contains(name) {
                    scope.vals.remove(name);
                }
            }
        }
        let outs = &g.outputs;
        for o in outs {
            materialize(g, &mut scope.vals, &o.name)?;
        }
        outs.iter()
            .enumerate()
            .map(|(k, o)| {
                // A name listed again later is cloned, so each listing gets it.
                let again = outs[k + 1..].iter().any(|p| p.name == o.name);
                let v = if again { None } else { scope.vals.remove(&o.name) };
                match v {
                    Some(v) => Ok(v),
                    None => scope
                        .get(&o.name)
                        .cloned()
                        .ok_or_else(|| Error::op(format!("graph output '{}' has no value", o.name))),
                }
            })
            .collect()
    }
}

/// How a node runs: one of the evaluator's own ops, or a kernel a format
/// crate registered for an op of its origin domain.
enum OpImpl {
    Builtin(crate::registry::OpFn),
    Origin(ir::kernel::Kernel),
}

/// Runs an origin-domain kernel, converting tensors at the boundary (kernels
/// see IR tensors so format crates need not depend on the evaluator).
fn run_origin_kernel(k: ir::kernel::Kernel, node: &ir::Node, ins: &[Option<&Value>]) -> Result<Vec<Value>> {
    let inputs = ins
        .iter()
        .map(|v| v.map(|v| v.tensor().and_then(crate::convert::to_ir)).transpose())
        .collect::<Result<Vec<_>>>()?;
    let outputs = k(node, &inputs)?;
    outputs.iter().map(|t| Ok(Value::Tensor(crate::convert::from_ir(t)?))).collect()
}

/// Puts initializer `name` of `g` into `vals` unless a value of that name is
/// already there (a fed input overrides its initializer). The pages of a
/// memory-mapped weight are released once copied, so the mapping does not
/// keep a second resident copy while the evaluator's own one is alive.
fn materialize(g: &Graph, vals: &mut HashMap<String, Value>, name: &str) -> Result<()> {
    if vals.contains_key(name) {
        return Ok(());
    }
    if let Some(t) = g.initializers.get(name) {
        let v = convert::from_ir(t).map_err(|e| Error::op(format!("initializer '{name}': {e}")))?;
        if let Some(b) = t.raw() {
            b.release();
        }
        vals.insert(name.to_string(), Value::Tensor(v));
    } else if let Some(s) = g.sparse_initializers.get(name) {
        let dense = s.to_dense().map_err(|e| Error::op(format!("sparse initializer '{name}': {e}")))?;
        let v = convert::from_ir(&dense).map_err(|e| Error::op(format!("sparse initializer '{name}': {e}")))?;
        vals.insert(name.to_string(), Value::Tensor(v));
    }
    Ok(())
}

/// Checks fed inputs against the graph's declarations: every input without
/// a default is given, no unknown names, dtypes and fixed dimensions agree.
fn check_feeds(g: &Graph, feeds: &HashMap<String, Value>) -> Result<()> {
    for name in feeds.keys() {
        if !g.inputs.iter().any(|v| &v.name == name) {
            let known: Vec<&str> = g.inputs.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::Input {
                name: name.clone(),
                message: format!("not an input of the model (inputs: {})", known.join(", ")),
            });
        }
    }
    for vi in &g.inputs {
        match feeds.get(&vi.name) {
            Some(v) => check_one(vi, v)?,
            None if g.initializers.contains_key(&vi.name) => {}
            None => return Err(Error::Input { name: vi.name.clone(), message: "no value given".into() }),
        }
    }
    Ok(())
}

fn check_one(vi: &ValueInfo, v: &Value) -> Result<()> {
    let bad = |message: String| Err(Error::Input { name: vi.name.clone(), message });
    let (ValueType::Tensor { dtype, shape }, Value::Tensor(t)) = (&vi.ty, v) else { return Ok(()) };
    if let Some(d) = dtype
        && *d != t.dtype()
    {
        return bad(format!("expected {d}, got {}", t.dtype()));
    }
    if let Some(s) = shape {
        if s.rank() != t.rank() {
            return bad(format!("expected shape {s}, got {:?}", t.shape()));
        }
        for (d, &n) in s.dims().iter().zip(t.shape()) {
            if let Dim::Fixed(f) = d
                && *f != n as u64
            {
                return bad(format!("expected shape {s}, got {:?}", t.shape()));
            }
        }
    }
    Ok(())
}

/// Runs a model once on named inputs.
pub fn run(model: &Model, inputs: Vec<(String, Value)>) -> Result<Vec<(String, Value)>> {
    Session::new(model)?.run(inputs)
}
