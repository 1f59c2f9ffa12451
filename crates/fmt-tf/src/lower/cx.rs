//! The lowering context every rule gets: the graph being built, what
//! `ir::infer` knows of each value, and helpers for attributes, constants
//! and the small subgraphs rules keep needing.

use std::collections::BTreeMap;
use std::fmt;

use ir::build::GraphBuilder;
use ir::infer::Known;
use ir::{Attribute, DType, Dim, Error, Limit, Limits, Node, Result, Shape, Tensor};

use super::{ORIGIN, to_ir_attr};
use crate::graph::{TfAttr, TfFunction, TfNode};

/// See the module documentation.
pub(crate) struct Cx<'a> {
    /// The model's name, for errors.
    path: &'a str,
    /// The graph being built.
    pub(crate) b: GraphBuilder,
    /// The TF node being lowered (helper nodes are named after it).
    current: String,
    /// The canonical op(s) the rule being run names (one-to-one rules emit it).
    pub(crate) target: &'static str,
    /// The import limits: a node's output count (an attribute such as
    /// `num_split`, or the highest `op:N` read) is a tensor count.
    limits: Limits,
    /// The `ai.onnx` opset the model is lowered at.
    pub(crate) opset: i64,
    /// The functions control-flow ops name (their bodies are lowered as
    /// subgraphs or inline).
    pub(crate) functions: &'a BTreeMap<String, TfFunction>,
    /// Keep ops without a rule as `tf`-domain nodes.
    pub(crate) keep_unknown: bool,
    /// The functions being lowered, outermost first: bounds nesting by
    /// `Limits::max_depth` and finds a function that calls itself.
    pub(crate) calls: Vec<String>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(path: &'a str, limits: Limits, opset: i64, functions: &'a BTreeMap<String, TfFunction>) -> Self {
        let mut b = GraphBuilder::new(path);
        b.set_opset(opset);
        Cx {
            path,
            b,
            current: String::new(),
            target: "",
            limits,
            opset,
            functions,
            keep_unknown: false,
            calls: Vec::new(),
        }
    }

    /// A context for a subgraph `name` of the graph `self` builds: same
    /// model, limits, opset and functions, value names continuing the
    /// enclosing graphs' (bodies read outer values by name and must not
    /// shadow them). Hand the names back with `merge_value_names`.
    pub(crate) fn nested(&self, name: &str) -> Cx<'a> {
        let mut b = GraphBuilder::with_value_names(name, self.b.value_names().clone());
        b.set_opset(self.opset);
        Cx {
            path: self.path,
            b,
            current: self.current.clone(),
            target: "",
            limits: self.limits,
            opset: self.opset,
            functions: self.functions,
            keep_unknown: self.keep_unknown,
            calls: self.calls.clone(),
        }
    }

    /// The model's name (for errors).
    pub(crate) fn path(&self) -> &'a str {
        self.path
    }

    /// The import limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Refuses a node of `outputs` outputs past the tensor limit, before
    /// their names are made.
    fn check_outputs(&self, outputs: usize) -> Result<()> {
        let what = format!("outputs of node '{}'", self.current);
        self.limits.check(Limit::Tensors, outputs as u64, std::path::Path::new(self.path), &what)
    }

    /// A malformed-model error naming the node.
    pub(crate) fn bad(&self, n: &TfNode, msg: impl fmt::Display) -> Error {
        Error::malformed(self.path, format!("node '{}' ({}): {msg}", n.name, n.op))
    }

    /// The TF node helper nodes are named after.
    pub(crate) fn current(&self) -> &str {
        &self.current
    }

    /// Names helper nodes after `name` from now on.
    pub(crate) fn set_current(&mut self, name: &str) {
        self.current = name.to_string();
    }

    /// Records a graph input's type.
    pub(crate) fn input(&mut self, name: &str, dtype: DType, shape: Option<Shape>) {
        self.b.set_known(name, Known::tensor(Some(dtype), shape));
    }

    /// Stores `t` as the initializer `name` (a name taken from the builder).
    pub(crate) fn set_constant(&mut self, name: &str, t: Tensor) {
        self.b.set_initializer(name, t);
    }

    /// What is known about `v`.
    pub(crate) fn known(&self, v: &str) -> Known {
        self.b.known(v).cloned().unwrap_or_else(Known::unknown)
    }

    /// The element type of `v`.
    pub(crate) fn dtype(&self, v: &str) -> Option<DType> {
        self.b.dtype(v)
    }

    /// The element type of `v`, required.
    pub(crate) fn dtype_of(&self, n: &TfNode, v: &str) -> Result<DType> {
        self.dtype(v).ok_or_else(|| self.bad(n, format!("the element type of '{v}' is unknown")))
    }

    /// The shape of `v`, if its rank is known.
    pub(crate) fn shape(&self, v: &str) -> Option<&Shape> {
        self.b.types().shape(v)
    }

    /// The rank of `v`, required.
    pub(crate) fn rank_of(&self, n: &TfNode, v: &str) -> Result<usize> {
        self.b.types().rank(v).ok_or_else(|| self.bad(n, format!("the rank of '{v}' is unknown")))
    }

    /// The fixed size of dimension `k` of `v`, if known.
    pub(crate) fn dim(&self, v: &str, k: usize) -> Option<i64> {
        match self.shape(v)?.dims().get(k)? {
            Dim::Fixed(d) => i64::try_from(*d).ok(),
            _ => None,
        }
    }

    /// The initializer behind `v`, if it is one.
    pub(crate) fn const_of(&self, v: &str) -> Option<&Tensor> {
        self.b.initializer(v)
    }

    /// The integer elements of `v` when they are known (a constant, or a
    /// shape computation inference tracked).
    pub(crate) fn const_ints(&self, v: &str) -> Option<Vec<i64>> {
        self.b.known(v)?.ints()?.iter().map(|x| x.int()).collect()
    }

    /// The integer elements of `v`, required to be known.
    pub(crate) fn ints_of(&self, n: &TfNode, v: &str, what: &str) -> Result<Vec<i64>> {
        self.const_ints(v).ok_or_else(|| self.bad(n, format!("the {what} ('{v}') must be a constant")))
    }

    /// Appends a node of `op` with fresh output names (named after the
    /// current TF node), types its outputs through `ir::infer`, and returns them.
    pub(crate) fn emit(
        &mut self,
        op: &str,
        inputs: Vec<Option<String>>,
        outputs: usize,
        attrs: Vec<(&str, Attribute)>,
    ) -> Result<Vec<String>> {
        self.check_outputs(outputs)?;
        let base = format!("{}/{op}", self.current);
        let outs: Vec<String> = (0..outputs).map(|_| self.b.fresh_value(&base)).collect();
        let mut node = Node { op: op.to_string(), inputs, outputs: outs.clone(), ..Node::default() };
        node.name = self.b.fresh_node(&base);
        for (k, v) in attrs {
            node.attrs.insert(k.to_string(), v);
        }
        self.add(node)?;
        Ok(outs)
    }

    /// Appends `node`, typing its outputs (`ir::build::GraphBuilder` infers them).
    fn add(&mut self, node: Node) -> Result<()> {
        let current = &self.current;
        self.b.try_add_node(node).map_err(|e| Error::malformed(self.path, format!("lowering node '{current}': {e}")))
    }

    /// A one-output node of `op`; returns its output.
    pub(crate) fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attribute)>) -> Result<String> {
        let ins = inputs.iter().map(|v| Some(v.to_string())).collect();
        Ok(self.emit(op, ins, 1, attrs)?.remove(0))
    }

    /// Adds `t` as an initializer named after the current node.
    pub(crate) fn constant(&mut self, t: Tensor) -> String {
        let name = self.b.fresh_value(&format!("{}/const", self.current));
        self.set_constant(&name, t);
        name
    }

    /// A 1-D `i64` initializer.
    pub(crate) fn i64s(&mut self, v: &[i64]) -> String {
        self.constant(Tensor::from_vec(vec![v.len()], v.to_vec()).expect("a vector's length is its shape"))
    }

    /// A 0-D initializer of `dtype` holding `v`.
    pub(crate) fn scalar(&mut self, v: f64, dtype: DType) -> Result<String> {
        Ok(self.constant(ir::build::scalar_tensor(v, dtype)?))
    }

    /// `v` as `i64` (ONNX wants shapes, axes and indices as `i64`; TF
    /// mostly writes `i32`): converted once for constants, a `Cast` otherwise.
    pub(crate) fn as_i64(&mut self, v: &str) -> Result<String> {
        if self.dtype(v) == Some(DType::I64) {
            return Ok(v.to_string());
        }
        if let Some(t) = self.const_of(v)
            && let Some(vals) = self.const_ints(v)
        {
            let t = Tensor::from_vec(t.shape().to_vec(), vals)?;
            return Ok(self.constant(t));
        }
        self.cast(v, DType::I64)
    }

    /// `Cast` of `v` to `to` (nothing when it already has that type).
    pub(crate) fn cast(&mut self, v: &str, to: DType) -> Result<String> {
        if self.dtype(v) == Some(to) {
            return Ok(v.to_string());
        }
        self.op("Cast", &[v], vec![("to", Attribute::Int(i64::from(to.onnx_code())))])
    }

    /// `v` as a 1-D `i64` vector (a scalar axis or count becomes `[x]`).
    pub(crate) fn as_i64_vector(&mut self, v: &str) -> Result<String> {
        if let Some(vals) = self.const_ints(v)
            && self.const_of(v).is_some()
        {
            return Ok(self.i64s(&vals));
        }
        let v = self.as_i64(v)?;
        if self.shape(&v).is_some_and(|s| s.rank() == 1) {
            return Ok(v);
        }
        let shape = self.i64s(&[-1]);
        self.op("Reshape", &[&v, &shape], vec![])
    }

    /// `Transpose` of `v` by `perm`; a constant is permuted once instead.
    pub(crate) fn transpose(&mut self, v: &str, perm: &[usize]) -> Result<String> {
        if let Some(t) = self.const_of(v) {
            let t = t.permuted(perm)?;
            return Ok(self.constant(t));
        }
        let p = perm.iter().map(|&p| p as i64).collect();
        self.op("Transpose", &[v], vec![("perm", Attribute::Ints(p))])
    }

    /// `Split` of `v` into `num` equal parts along `axis`: from opset 18 the
    /// count is the `num_outputs` attribute, before it the output count.
    pub(crate) fn split_equal(&mut self, v: &str, num: usize, axis: i64) -> Result<Vec<String>> {
        let mut attrs = vec![("axis", Attribute::Int(axis))];
        if self.opset >= 18 {
            attrs.push(("num_outputs", Attribute::Int(num as i64)));
        }
        self.emit("Split", vec![Some(v.to_string())], num, attrs)
    }

    /// Keeps `n` as it is: a node of the `tf` domain reading `ins`, with
    /// `outputs` outputs and the node's attributes.
    pub(crate) fn keep(&mut self, n: &TfNode, ins: &[String], outputs: usize) -> Result<Vec<String>> {
        self.check_outputs(outputs)?;
        let outs: Vec<String> = (0..outputs).map(|k| self.b.fresh_value(&format!("{}:{k}", n.name))).collect();
        let mut node = Node {
            op: n.op.clone(),
            domain: ORIGIN.to_string(),
            name: self.b.fresh_node(&n.name),
            inputs: ins.iter().cloned().map(Some).collect(),
            outputs: outs.clone(),
            ..Node::default()
        };
        for (k, a) in &n.attrs {
            if let Some(a) = to_ir_attr(a) {
                node.attrs.insert(k.clone(), a);
            }
        }
        self.add(node)?;
        Ok(outs)
    }

    /// Integer attribute `name`, `default` when absent.
    pub(crate) fn int(&self, n: &TfNode, name: &str, default: i64) -> Result<i64> {
        match n.attr(name) {
            None => Ok(default),
            Some(a) => a.as_int().ok_or_else(|| self.bad(n, format!("attribute '{name}' is not an integer"))),
        }
    }

    /// Integer-list attribute `name`, if present.
    pub(crate) fn ints(&self, n: &TfNode, name: &str) -> Result<Option<Vec<i64>>> {
        match n.attr(name) {
            None => Ok(None),
            Some(a) => a
                .as_ints()
                .map(Some)
                .ok_or_else(|| self.bad(n, format!("attribute '{name}' is not a list of integers"))),
        }
    }

    /// Float attribute `name`, `default` when absent.
    pub(crate) fn float(&self, n: &TfNode, name: &str, default: f32) -> Result<f32> {
        match n.attr(name) {
            None => Ok(default),
            Some(TfAttr::Int(v)) => Ok(*v as f32),
            Some(a) => a.as_float().ok_or_else(|| self.bad(n, format!("attribute '{name}' is not a number"))),
        }
    }

    /// Boolean attribute `name`, `default` when absent.
    pub(crate) fn bool(&self, n: &TfNode, name: &str, default: bool) -> Result<bool> {
        match n.attr(name) {
            None => Ok(default),
            Some(a) => a.as_bool().ok_or_else(|| self.bad(n, format!("attribute '{name}' is not a boolean"))),
        }
    }

    /// String attribute `name`, `default` when absent.
    pub(crate) fn str<'n>(&self, n: &'n TfNode, name: &str, default: &'n str) -> Result<&'n str> {
        match n.attr(name) {
            None => Ok(default),
            Some(a) => a.as_str().ok_or_else(|| self.bad(n, format!("attribute '{name}' is not a string"))),
        }
    }
}
