//! The last parser step, shared by frozen graphs and SavedModels: cut
//! points (`graph_inputs`), chosen outputs, pruning to what the outputs
//! need, and variables replaced by checkpoint constants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use ir::{DType, Error, Result, Tensor};

use crate::dtype;
use crate::graph::{TfAttr, TfGraph, TfNode, TfPort, TfRef, TfShape};

/// Ops that are never a model output even when nothing reads them:
/// bookkeeping, side effects and constants.
const SINKS: &[&str] = &[
    "NoOp",
    "Const",
    "Placeholder",
    "Assert",
    "Print",
    "PrintV2",
    "VarHandleOp",
    "VariableV2",
    "Variable",
    "VarIsInitializedOp",
    "AssignVariableOp",
    "Assign",
    "SaveV2",
    "RestoreV2",
    "MergeV2Checkpoints",
];

/// Variable ops whose value is replaced by a checkpoint constant.
const VARIABLES: &[&str] = &["VarHandleOp", "VariableV2", "Variable"];

/// Where variable values come from.
pub trait Variables {
    /// The value of the variable node `node` (a `VarHandleOp`, `VariableV2`),
    /// or `None` if it has none.
    fn value(&self, node: &TfNode) -> Result<Option<Tensor>>;
}

/// No checkpoint (frozen graphs, SavedModels without `variables/`).
#[derive(Debug)]
pub struct NoVariables;

impl Variables for NoVariables {
    fn value(&self, _: &TfNode) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

/// A graph in the making.
#[derive(Debug)]
pub struct Draft<'a> {
    /// The file named in errors.
    pub path: &'a Path,
    /// Graph name.
    pub name: String,
    /// Flat nodes.
    pub nodes: Vec<TfNode>,
    /// Inputs (before any override).
    pub inputs: Vec<TfPort>,
    /// Outputs; `None` = every node nobody reads.
    pub outputs: Option<Vec<TfPort>>,
}

impl Draft<'_> {
    fn err(&self, message: String) -> Error {
        Error::malformed(self.path, message)
    }

    /// Applies the overrides, prunes, resolves variables and checks the result.
    pub fn assemble(
        mut self,
        graph_inputs: &[String],
        graph_outputs: &[String],
        vars: &dyn Variables,
    ) -> Result<TfGraph> {
        let mut index: HashMap<String, usize> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        // Outputs are chosen on the full graph, before cut points remove anything.
        let outputs = if !graph_outputs.is_empty() {
            graph_outputs
                .iter()
                .map(|name| self.named_port(name, &index, "graph output"))
                .collect::<Result<Vec<_>>>()?
        } else if let Some(outputs) = self.outputs.take() {
            outputs
        } else {
            self.unread_outputs()?
        };
        // Who reads each tensor, found once: a cut per port scanning every
        // edge would be quadratic in a file's ports and nodes.
        let mut readers = Readers::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (j, r) in n.inputs.iter().enumerate() {
                readers.add(r, (i, j));
            }
        }
        let ports = if graph_inputs.is_empty() {
            std::mem::take(&mut self.inputs)
        } else {
            self.inputs = Vec::new();
            graph_inputs.iter().map(|name| self.named_port(name, &index, "graph input")).collect::<Result<_>>()?
        };
        for port in ports {
            self.cut(port, &mut index, &mut readers)?;
        }
        self.prune(&outputs);
        self.resolve_variables(vars)?;
        self.prune(&outputs);
        self.check(&outputs)?;
        Ok(TfGraph { name: self.name, nodes: self.nodes, inputs: self.inputs, outputs, functions: Default::default() })
    }

    /// A port for a user-given TF tensor name (`op:0`).
    fn named_port(&self, name: &str, index: &HashMap<String, usize>, what: &str) -> Result<TfPort> {
        let r = TfRef::parse(name)
            .ok_or_else(|| Error::invalid(format!("{what} '{name}' is not a tensor name like 'op:0'")))?;
        let Some(node) = index.get(&r.node).and_then(|&i| self.nodes.get(i)) else {
            return Err(Error::invalid(format!("{what} '{name}': the graph has no node '{}'", r.node)));
        };
        let dtype = output_dtype(node, r.index).ok_or_else(|| {
            Error::invalid(format!("{what} '{name}': cannot tell the dtype of {} output {}", node.op, r.index))
        })?;
        let shape = if node.op == "Placeholder" { placeholder_shape(node) } else { None };
        let port_name = if r.index == 0 { r.node.clone() } else { r.to_string() };
        Ok(TfPort { name: port_name, tensor: r, dtype, shape })
    }

    /// Every node nobody reads, except sinks, as outputs (frozen graphs).
    fn unread_outputs(&self) -> Result<Vec<TfPort>> {
        let read: HashSet<&str> = self.nodes.iter().flat_map(|n| n.inputs.iter().map(|r| r.node.as_str())).collect();
        let mut out = Vec::new();
        for n in &self.nodes {
            if read.contains(n.name.as_str()) || SINKS.contains(&n.op.as_str()) {
                continue;
            }
            let dtype = output_dtype(n, 0).ok_or_else(|| {
                self.err(format!(
                    "cannot tell the dtype of output '{}' ({}); name the outputs explicitly",
                    n.name, n.op
                ))
            })?;
            out.push(TfPort { name: n.name.clone(), tensor: TfRef::new(&n.name, 0), dtype, shape: None });
        }
        if out.is_empty() {
            return Err(self.err("the graph has no output (every node is read or is a constant)".into()));
        }
        Ok(out)
    }

    /// Makes `port` a model input: its tensor becomes a `Placeholder`. A
    /// node's first output replaces the node itself when nothing reads its
    /// other outputs; otherwise a new node `node:k` (a name TF cannot
    /// produce) takes the tensor's readers.
    fn cut(&mut self, mut port: TfPort, index: &mut HashMap<String, usize>, readers: &mut Readers) -> Result<()> {
        let r = port.tensor.clone();
        let Some((i, op)) = index.get(&r.node).and_then(|&i| Some((i, self.nodes.get(i)?.op.as_str()))) else {
            return Err(self.err(format!("input '{}' refers to '{r}', which no node defines", port.name)));
        };
        let attrs = |dtype: DType, shape: &TfShape| -> Result<BTreeMap<String, TfAttr>> {
            let code =
                dtype::from_ir(dtype).ok_or_else(|| Error::invalid(format!("TensorFlow has no {dtype} type")))?;
            Ok([("dtype".to_string(), TfAttr::Type(code)), ("shape".to_string(), TfAttr::Shape(shape.clone()))].into())
        };
        let is_placeholder = op == "Placeholder" && r.index == 0;
        let others_read = readers.reads_other_than(&r);
        if let Some(node) = self.nodes.get_mut(i).filter(|_| is_placeholder || (r.index == 0 && !others_read)) {
            node.op = "Placeholder".into();
            for (j, x) in node.inputs.drain(..).enumerate() {
                readers.remove(&x, (i, j));
            }
            node.attrs = attrs(port.dtype, &port.shape)?;
        } else {
            let name = r.to_string();
            let moved = readers.take(&r);
            for &(i, j) in &moved {
                if let Some(x) = self.nodes.get_mut(i).and_then(|n| n.inputs.get_mut(j)) {
                    *x = TfRef::new(&name, 0);
                }
            }
            for at in moved {
                readers.add(&TfRef::new(&name, 0), at);
            }
            self.nodes.push(TfNode {
                name: name.clone(),
                op: "Placeholder".into(),
                inputs: vec![],
                attrs: attrs(port.dtype, &port.shape)?,
            });
            index.insert(name.clone(), self.nodes.len().saturating_sub(1));
            port.tensor = TfRef::new(name, 0);
        }
        self.inputs.push(port);
        Ok(())
    }

    /// Keeps the nodes the outputs read (through data edges) and the inputs.
    fn prune(&mut self, outputs: &[TfPort]) {
        let index: HashMap<&str, usize> = self.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let mut keep = vec![false; self.nodes.len()];
        let mut stack: Vec<&str> = outputs.iter().chain(&self.inputs).map(|p| p.tensor.node.as_str()).collect();
        while let Some(name) = stack.pop() {
            let Some((kept, node)) = index.get(name).and_then(|&i| Some((keep.get_mut(i)?, self.nodes.get(i)?))) else {
                continue;
            };
            if !std::mem::replace(kept, true) {
                stack.extend(node.inputs.iter().map(|r| r.node.as_str()));
            }
        }
        let mut keep = keep.into_iter();
        self.nodes.retain(|_| keep.next().unwrap_or(false));
    }

    /// `ReadVariableOp`s of known variables, and variables read otherwise,
    /// become `Const`s of the checkpoint value.
    fn resolve_variables(&mut self, vars: &dyn Variables) -> Result<()> {
        let index: HashMap<String, usize> = self.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        let mut values: HashMap<usize, Option<Tensor>> = HashMap::new();
        let mut value_of = |i: usize, node: &TfNode| -> Result<Option<Tensor>> {
            if let Some(v) = values.get(&i) {
                return Ok(v.clone());
            }
            let v = vars.value(node)?;
            values.insert(i, v.clone());
            Ok(v)
        };
        let mut replace = Vec::new();
        for (j, n) in self.nodes.iter().enumerate() {
            let var = if n.op == "ReadVariableOp" {
                n.inputs.first().and_then(|r| index.get(&r.node)).copied()
            } else if VARIABLES.contains(&n.op.as_str()) {
                Some(j)
            } else {
                continue;
            };
            let variable = var.and_then(|v| Some((v, self.nodes.get(v)?)));
            let Some((var, v)) = variable.filter(|(_, v)| VARIABLES.contains(&v.op.as_str())) else {
                return Err(self.err(format!("node '{}' ({}) reads something that is not a variable", n.name, n.op)));
            };
            let Some(value) = value_of(var, v)? else {
                let reader = if v.name == n.name { String::new() } else { format!(" read by '{}'", n.name) };
                return Err(
                    self.err(format!("variable '{}' ({}){reader} has no value in the checkpoint", v.name, v.op))
                );
            };
            if let Some(expected) = n.attr("dtype").and_then(TfAttr::as_dtype).filter(|&d| d != value.dtype()) {
                return Err(self.err(format!(
                    "node '{}' reads a {expected} variable, but the checkpoint holds {}",
                    n.name,
                    value.dtype()
                )));
            }
            replace.push((j, value));
        }
        for (j, value) in replace {
            let Some(n) = self.nodes.get_mut(j) else { continue };
            let code = dtype::from_ir(value.dtype()).unwrap_or_default();
            n.op = "Const".into();
            n.inputs.clear();
            n.attrs = [("dtype".to_string(), TfAttr::Type(code)), ("value".to_string(), TfAttr::Tensor(value))].into();
        }
        Ok(())
    }

    /// Every input names a node, every output exists, every `Placeholder` is an input.
    fn check(&self, outputs: &[TfPort]) -> Result<()> {
        let names: HashSet<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        for n in &self.nodes {
            if let Some(r) = n.inputs.iter().find(|r| !names.contains(r.node.as_str())) {
                return Err(self.err(format!("node '{}' reads '{r}', which no node defines", n.name)));
            }
        }
        if let Some(p) = outputs.iter().find(|p| !names.contains(p.tensor.node.as_str())) {
            return Err(self.err(format!("output '{}' refers to '{}', which no node defines", p.name, p.tensor)));
        }
        let inputs: HashSet<&str> = self.inputs.iter().map(|p| p.tensor.node.as_str()).collect();
        if let Some(p) = self.nodes.iter().find(|n| n.op == "Placeholder" && !inputs.contains(n.name.as_str())) {
            return Err(Error::invalid(format!(
                "{}: Placeholder '{}' is needed by the outputs but is not an input; add it to the graph inputs",
                self.path.display(),
                p.name
            )));
        }
        Ok(())
    }
}

/// Where each tensor is read: node name → output index → (node, input)
/// positions, kept up to date as cuts rewrite edges.
struct Readers(HashMap<String, HashMap<usize, Vec<(usize, usize)>>>);

impl Readers {
    fn new() -> Self {
        Readers(HashMap::new())
    }

    fn add(&mut self, r: &TfRef, at: (usize, usize)) {
        self.0.entry(r.node.clone()).or_default().entry(r.index).or_default().push(at);
    }

    fn remove(&mut self, r: &TfRef, at: (usize, usize)) {
        if let Some(by) = self.0.get_mut(&r.node).and_then(|m| m.get_mut(&r.index)) {
            by.retain(|&p| p != at);
        }
    }

    /// The readers of `r`, removed.
    fn take(&mut self, r: &TfRef) -> Vec<(usize, usize)> {
        self.0.get_mut(&r.node).and_then(|m| m.remove(&r.index)).unwrap_or_default()
    }

    /// Whether another output of `r`'s node is read.
    fn reads_other_than(&self, r: &TfRef) -> bool {
        self.0.get(&r.node).is_some_and(|m| m.iter().any(|(&k, by)| k != r.index && !by.is_empty()))
    }
}

/// The dtype of output `k` of `node`, from the attributes TF ops carry it in.
pub fn output_dtype(node: &TfNode, k: usize) -> Option<DType> {
    for name in ["Tout", "T", "out_types"] {
        if let Some(TfAttr::List(items)) = node.attr(name) {
            return items.get(k).and_then(TfAttr::as_dtype);
        }
    }
    // FusedBatchNorm's statistics outputs have the parameter type `U`.
    if node.op.starts_with("FusedBatchNorm") && k > 0 {
        return node.attr("U").or(node.attr("T")).and_then(TfAttr::as_dtype);
    }
    ["dtype", "out_type", "output_type", "DstT", "Tout", "T", "type"]
        .iter()
        .find_map(|a| node.attr(a).and_then(TfAttr::as_dtype))
}

/// A `Placeholder`'s declared shape.
pub fn placeholder_shape(node: &TfNode) -> TfShape {
    match node.attr("shape") {
        Some(TfAttr::Shape(s)) => s.clone(),
        _ => None,
    }
}
