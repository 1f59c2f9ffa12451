//! The op registry and the context an op implementation receives.

use std::collections::HashMap;
use std::sync::OnceLock;

use ir::{Graph, Node};

use crate::exec::{Scope, Session};
use crate::{Error, Result, Tensor, Value, bail, convert};

/// An op implementation: reads its inputs (absent optional inputs are `None`)
/// and returns its outputs in order. Fewer outputs than the node declares is
/// allowed only for trailing optional outputs the node does not use.
pub type OpFn = fn(&Ctx<'_>, &[Option<&Value>]) -> Result<Vec<Value>>;

/// Op implementations by (domain, op type). Each op-family module fills its
/// part in its `register` function.
#[derive(Default)]
pub struct OpRegistry {
    ops: HashMap<(&'static str, &'static str), OpFn>,
}

impl std::fmt::Debug for OpRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpRegistry({} ops)", self.ops.len())
    }
}

impl OpRegistry {
    /// Registers `f` for `op` in the `ai.onnx` domain.
    pub fn add(&mut self, op: &'static str, f: OpFn) {
        self.ops.insert(("", op), f);
    }

    /// Registers `f` for `op` in `domain`.
    pub fn add_in(&mut self, domain: &'static str, op: &'static str, f: OpFn) {
        self.ops.insert((domain, op), f);
    }

    /// The implementation of an op.
    pub fn get(&self, domain: &str, op: &str) -> Option<OpFn> {
        let domain = if domain == "ai.onnx" { "" } else { domain };
        self.ops.get(&(domain, op)).copied()
    }

    /// Every registered (domain, op), sorted.
    pub fn ops(&self) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = self.ops.keys().copied().collect();
        v.sort();
        v
    }
}

/// The registry with every op this crate implements.
pub fn registry() -> &'static OpRegistry {
    static R: OnceLock<OpRegistry> = OnceLock::new();
    R.get_or_init(|| {
        let mut r = OpRegistry::default();
        crate::ops::register_all(&mut r);
        r
    })
}

/// What an op sees besides its inputs: the node (attributes), the opset
/// version in force for its domain, and a way to run subgraphs.
pub struct Ctx<'a> {
    /// The node being run.
    pub node: &'a Node,
    /// The opset version of the node's domain.
    pub opset: i64,
    pub(crate) session: &'a Session<'a>,
    pub(crate) scope: &'a Scope<'a>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ctx({}, opset {})", self.node.describe(), self.opset)
    }
}

impl Ctx<'_> {
    /// Integer attribute or default.
    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.node.attr_int(name, default)?)
    }

    /// Float attribute or default.
    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.node.attr_float(name, default)?)
    }

    /// String attribute or default.
    pub fn string(&self, name: &str, default: &str) -> Result<String> {
        Ok(self.node.attr_str(name, default)?.to_string())
    }

    /// Integer-list attribute, if present.
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.node.attr_ints(name)?.map(<[i64]>::to_vec))
    }

    /// Float-list attribute, if present.
    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.node.attr(name) {
            None => Ok(None),
            Some(a) => Ok(Some(a.as_floats()?.to_vec())),
        }
    }

    /// String-list attribute, if present.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.node.attr(name) {
            None => Ok(None),
            Some(ir::Attribute::Strings(v)) => Ok(Some(v.clone())),
            Some(a) => bail!("attribute '{name}' is a {:?}, expected strings", a.kind()),
        }
    }

    /// Tensor attribute, converted for evaluation, if present.
    pub fn tensor_attr(&self, name: &str) -> Result<Option<Tensor>> {
        match self.node.attr(name) {
            None => Ok(None),
            Some(a) => Ok(Some(convert::from_ir(a.as_tensor()?)?)),
        }
    }

    /// Subgraph attribute (required).
    pub fn graph(&self, name: &str) -> Result<&Graph> {
        match self.node.attr(name) {
            Some(a) => Ok(a.as_graph()?),
            None => bail!("missing subgraph attribute '{name}'"),
        }
    }

    /// Required tensor input `i`.
    pub fn input<'v>(&self, inputs: &[Option<&'v Value>], i: usize) -> Result<&'v Tensor> {
        match inputs.get(i).copied().flatten() {
            Some(v) => v.tensor().map_err(|e| Error::op(format!("input {i}: {e}"))),
            None => bail!("required input {i} is missing"),
        }
    }

    /// Optional tensor input `i`.
    pub fn opt_input<'v>(&self, inputs: &[Option<&'v Value>], i: usize) -> Result<Option<&'v Tensor>> {
        match inputs.get(i).copied().flatten() {
            Some(v) => Ok(Some(v.tensor().map_err(|e| Error::op(format!("input {i}: {e}")))?)),
            None => Ok(None),
        }
    }

    /// Runs a subgraph with positional inputs; it can read this node's scope.
    pub fn run_graph(&self, g: &Graph, inputs: Vec<Value>) -> Result<Vec<Value>> {
        if inputs.len() != g.inputs.len() {
            bail!("subgraph '{}' takes {} inputs, given {}", g.name, g.inputs.len(), inputs.len());
        }
        let named = g.inputs.iter().map(|v| v.name.clone()).zip(inputs).collect();
        self.session.run_graph(g, Some(self.scope), named, false)
    }
}
