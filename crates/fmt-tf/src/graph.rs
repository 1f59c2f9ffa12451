//! The parsed TensorFlow graph: the boundary between the parser (which
//! knows bytes: protobufs, function libraries, checkpoint tables) and the
//! lowering (which knows ops).
//!
//! A [`TfGraph`] is flat and self-contained: function calls
//! (`StatefulPartitionedCall`, `PartitionedCall`) are inlined (the
//! functions control-flow ops name are kept, flattened the same way, as
//! [`TfFunction`]s), variables
//! (`VarHandleOp` + `ReadVariableOp`, TF1 `VariableV2`) are replaced by
//! `Const` nodes whose `value` is a view into the mapped checkpoint shard,
//! control inputs (`^node`) are dropped, and every data input names the
//! producing node and its flat output index. Nodes keep TensorFlow's op
//! names and attributes; the lowering maps them to canonical ops.

use std::collections::BTreeMap;
use std::fmt;

use ir::{DType, Tensor};

/// A flattened TensorFlow graph, ready for lowering.
#[derive(Debug, Clone, Default)]
pub struct TfGraph {
    /// The graph's name (the model's file or folder name).
    pub name: String,
    /// Every node, in the order the parser produced them (not necessarily
    /// topological: the lowering sorts).
    pub nodes: Vec<TfNode>,
    /// Model inputs: signature inputs, or the `Placeholder`s of a frozen
    /// graph. Each refers to a node of op `Placeholder` in `nodes`.
    pub inputs: Vec<TfPort>,
    /// Model outputs, in signature order.
    pub outputs: Vec<TfPort>,
    /// The library functions control-flow ops (`If`, `While` and their
    /// stateless forms) name as branches, conditions and bodies, by name:
    /// they stay functions because the lowering makes them subgraphs.
    pub functions: BTreeMap<String, TfFunction>,
}

/// A library function kept for a control-flow op, flattened like the
/// graph: calls inlined (its node names prefixed with the function's
/// name), control inputs dropped. Variables are not resolved here: a body
/// reads them through its arguments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TfFunction {
    /// The function's name in the library.
    pub name: String,
    /// One `Placeholder` node per argument, in signature order; the
    /// lowering binds each to the value the calling op passes.
    pub args: Vec<String>,
    /// The body's nodes, argument `Placeholder`s included.
    pub nodes: Vec<TfNode>,
    /// What the function returns, in signature order.
    pub outputs: Vec<TfRef>,
}

/// One TensorFlow op instance.
#[derive(Debug, Clone, PartialEq)]
pub struct TfNode {
    /// Unique node name (inlined function bodies are prefixed with the
    /// call node's name: `model/conv/StatefulPartitionedCall/Conv2D`).
    pub name: String,
    /// The TensorFlow op type (`Conv2D`, `FusedBatchNormV3`, ...).
    pub op: String,
    /// Data inputs in order; control inputs are not kept.
    pub inputs: Vec<TfRef>,
    /// Attributes by name (`T`, `strides`, `padding`, `value`, ...).
    pub attrs: BTreeMap<String, TfAttr>,
}

impl TfNode {
    /// The attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&TfAttr> {
        self.attrs.get(name)
    }
}

/// A reference to one output of a node: `node:index` in TensorFlow's
/// tensor-name syntax (`node` alone means index 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TfRef {
    /// The producing node's name.
    pub node: String,
    /// The flat output index (list outputs counted element by element).
    pub index: usize,
}

impl TfRef {
    /// A reference to output `index` of `node`.
    pub fn new(node: impl Into<String>, index: usize) -> Self {
        TfRef { node: node.into(), index }
    }

    /// Parses a GraphDef tensor name: `node`, `node:1`. Returns `None` for a
    /// control input (`^node`) or an empty name, and for a suffix that is
    /// not a number (a FunctionDef-style `node:arg:0`, which the parser
    /// resolves itself before building a `TfRef`).
    pub fn parse(s: &str) -> Option<TfRef> {
        if s.is_empty() || s.starts_with('^') {
            return None;
        }
        match s.rsplit_once(':') {
            Some((node, idx)) if !node.is_empty() && !node.contains(':') => {
                output_index(idx).map(|index| TfRef::new(node, index))
            }
            Some(_) => None,
            None => Some(TfRef::new(s, 0)),
        }
    }
}

/// An output index as TensorFlow writes it (`op:3`): a non-negative `int`,
/// so a file cannot name an output past `i32::MAX` (and index arithmetic
/// on it cannot overflow).
pub fn output_index(s: &str) -> Option<usize> {
    s.parse::<i32>().ok().and_then(|i| usize::try_from(i).ok())
}

impl fmt::Display for TfRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.index)
    }
}

/// A TensorFlow shape: `None` is unknown rank; a `None` dimension is
/// unknown (`-1`).
pub type TfShape = Option<Vec<Option<i64>>>;

/// An attribute value (`AttrValue`), with tensors already decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum TfAttr {
    /// `i`.
    Int(i64),
    /// `f`.
    Float(f32),
    /// `b`.
    Bool(bool),
    /// `s` (bytes: padding names, data formats, equations).
    Str(Vec<u8>),
    /// `type`, as the raw `DataType` code (see [`crate::dtype`]; resource
    /// and quantized codes have no IR dtype).
    Type(i32),
    /// `shape`.
    Shape(TfShape),
    /// `tensor`, decoded (a view into the file's bytes where possible).
    Tensor(Tensor),
    /// `func` (function name; its attributes are not kept).
    Func(String),
    /// `list`: a homogeneous list of the above.
    List(Vec<TfAttr>),
}

impl TfAttr {
    /// The integer, if this is `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            TfAttr::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The float, if this is `Float` (or `Int`, which TF writes for whole numbers in some attrs).
    pub fn as_float(&self) -> Option<f32> {
        match self {
            TfAttr::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The bool, if this is `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            TfAttr::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The string, if this is a UTF-8 `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TfAttr::Str(v) => std::str::from_utf8(v).ok(),
            _ => None,
        }
    }

    /// The IR dtype, if this is a `Type` the IR has.
    pub fn as_dtype(&self) -> Option<DType> {
        match self {
            TfAttr::Type(code) => crate::dtype::to_ir(*code),
            _ => None,
        }
    }

    /// The integers, if this is a `List` of `Int`.
    pub fn as_ints(&self) -> Option<Vec<i64>> {
        match self {
            TfAttr::List(items) => items.iter().map(TfAttr::as_int).collect(),
            _ => None,
        }
    }

    /// The tensor, if this is `Tensor`.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            TfAttr::Tensor(t) => Some(t),
            _ => None,
        }
    }
}

/// A model input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct TfPort {
    /// The name the converted model gives it (the signature key, e.g.
    /// `input_1`, `output_0`; for a frozen graph the node name).
    pub name: String,
    /// The tensor inside the graph.
    pub tensor: TfRef,
    /// Element type.
    pub dtype: DType,
    /// Shape as declared (signature `TensorInfo` or `Placeholder` attr).
    pub shape: TfShape,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names() {
        assert_eq!(TfRef::parse("conv"), Some(TfRef::new("conv", 0)));
        assert_eq!(TfRef::parse("a/b:2"), Some(TfRef::new("a/b", 2)));
        assert_eq!(TfRef::parse("^dep"), None);
        assert_eq!(TfRef::parse("f:out:0"), None);
        assert_eq!(TfRef::parse(":1"), None);
        assert_eq!(TfRef::parse("x:-1"), None);
        assert_eq!(TfRef::parse("x:18446744073709551615"), None);
        assert_eq!(TfRef::parse("x:2147483647"), Some(TfRef::new("x", 2147483647)));
        assert_eq!(TfRef::new("x", 1).to_string(), "x:1");
    }
}
