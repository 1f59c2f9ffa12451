//! Graph nodes.

use indexmap::IndexMap;

use crate::{Attribute, Error, Graph, Result};

/// One operation of a graph.
///
/// `op` and `domain` name the operation in the canonical (ONNX) op set when
/// `domain` is `""` (`ai.onnx`) or `ai.onnx.ml`; any other domain is the
/// format the op came from (`tf`, `torch`, `openvino`, ...) or a custom one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    /// Node name; unique within a graph after [`Graph::uniquify_names`], may be empty on import.
    pub name: String,
    /// Op type, e.g. `Conv`.
    pub op: String,
    /// Op domain; `""` is `ai.onnx`.
    pub domain: String,
    /// Input value names in operator order; `None` is an omitted optional input.
    pub inputs: Vec<Option<String>>,
    /// Output value names in operator order; `""` is an optional output not produced.
    pub outputs: Vec<String>,
    /// Attributes, in the order they were read or added.
    pub attrs: IndexMap<String, Attribute>,
    /// Free-form documentation.
    pub doc: String,
}

impl Node {
    /// A node of domain `ai.onnx` with the given inputs and outputs.
    pub fn new<I, O, S, T>(op: impl Into<String>, inputs: I, outputs: O) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        O: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Node {
            op: op.into(),
            inputs: inputs.into_iter().map(|s| Some(s.into())).collect(),
            outputs: outputs.into_iter().map(Into::into).collect(),
            ..Node::default()
        }
    }

    /// Sets the name (builder style).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the domain (builder style).
    pub fn in_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// Adds an attribute (builder style).
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<Attribute>) -> Self {
        self.attrs.insert(name.into(), value.into());
        self
    }

    /// The name of input `i`, if present and not omitted.
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs.get(i).and_then(|s| s.as_deref()).filter(|s| !s.is_empty())
    }

    /// The name of output `i`, if produced.
    pub fn output(&self, i: usize) -> Option<&str> {
        self.outputs.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// Names of the inputs that are present.
    pub fn present_inputs(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().filter_map(|s| s.as_deref()).filter(|s| !s.is_empty())
    }

    /// Names of the outputs that are produced.
    pub fn present_outputs(&self) -> impl Iterator<Item = &str> {
        self.outputs.iter().map(String::as_str).filter(|s| !s.is_empty())
    }

    /// An attribute by name.
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.get(name)
    }

    /// An integer attribute, or `default` when absent; an error if of another kind.
    pub fn attr_int(&self, name: &str, default: i64) -> Result<i64> {
        self.attrs.get(name).map_or(Ok(default), |a| a.as_int().map_err(|e| self.attr_err(name, e)))
    }

    /// A float attribute, or `default` when absent.
    pub fn attr_float(&self, name: &str, default: f32) -> Result<f32> {
        self.attrs.get(name).map_or(Ok(default), |a| a.as_float().map_err(|e| self.attr_err(name, e)))
    }

    /// A string attribute, or `default` when absent.
    pub fn attr_str<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str> {
        self.attrs.get(name).map_or(Ok(default), |a| a.as_str().map_err(|e| self.attr_err(name, e)))
    }

    /// An integer-list attribute, if present.
    pub fn attr_ints(&self, name: &str) -> Result<Option<&[i64]>> {
        self.attrs.get(name).map(|a| a.as_ints().map_err(|e| self.attr_err(name, e))).transpose()
    }

    fn attr_err(&self, name: &str, e: Error) -> Error {
        e.context(format!("node '{}' ({}) attribute '{name}'", self.name, self.op))
    }

    /// The subgraphs held in attributes (bodies of `If`, `Loop`, `Scan`).
    pub fn subgraphs(&self) -> impl Iterator<Item = &Graph> {
        self.attrs.values().flat_map(|a| match a {
            Attribute::Graph(g) => std::slice::from_ref(g.as_ref()),
            Attribute::Graphs(gs) => gs.as_slice(),
            _ => &[],
        })
    }

    /// The subgraphs held in attributes, mutably.
    pub fn subgraphs_mut(&mut self) -> impl Iterator<Item = &mut Graph> {
        self.attrs.values_mut().flat_map(|a| match a {
            Attribute::Graph(g) => std::slice::from_mut(g.as_mut()),
            Attribute::Graphs(gs) => gs.as_mut_slice(),
            _ => &mut [],
        })
    }

    /// A short description for messages: `'name' (Op)` or `domain::Op`.
    pub fn describe(&self) -> String {
        let op = if self.domain.is_empty() { self.op.clone() } else { format!("{}::{}", self.domain, self.op) };
        format!("'{}' ({op})", self.name)
    }
}
