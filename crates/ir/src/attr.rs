//! Typed node attributes.

use crate::{Error, Graph, Result, SparseTensor, Tensor, ValueType};

/// A node attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// A 64-bit integer.
    Int(i64),
    /// A 32-bit float.
    Float(f32),
    /// A string (ONNX stores bytes; non-UTF-8 bytes are replaced on import).
    String(String),
    /// A tensor.
    Tensor(Tensor),
    /// A sparse tensor.
    SparseTensor(SparseTensor),
    /// A subgraph (the body of `If`, `Loop`, `Scan`, ...).
    Graph(Box<Graph>),
    /// A type (ONNX `TypeProto` attributes, e.g. of `Optional`).
    Type(ValueType),
    /// Integers.
    Ints(Vec<i64>),
    /// Floats.
    Floats(Vec<f32>),
    /// Strings.
    Strings(Vec<String>),
    /// Tensors.
    Tensors(Vec<Tensor>),
    /// Sparse tensors.
    SparseTensors(Vec<SparseTensor>),
    /// Subgraphs.
    Graphs(Vec<Graph>),
    /// Types.
    Types(Vec<ValueType>),
}

/// The kind of an [`Attribute`], for messages and format mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// [`Attribute::Int`].
    Int,
    /// [`Attribute::Float`].
    Float,
    /// [`Attribute::String`].
    String,
    /// [`Attribute::Tensor`].
    Tensor,
    /// [`Attribute::SparseTensor`].
    SparseTensor,
    /// [`Attribute::Graph`].
    Graph,
    /// [`Attribute::Type`].
    Type,
    /// [`Attribute::Ints`].
    Ints,
    /// [`Attribute::Floats`].
    Floats,
    /// [`Attribute::Strings`].
    Strings,
    /// [`Attribute::Tensors`].
    Tensors,
    /// [`Attribute::SparseTensors`].
    SparseTensors,
    /// [`Attribute::Graphs`].
    Graphs,
    /// [`Attribute::Types`].
    Types,
}

impl Attribute {
    /// Its kind.
    pub fn kind(&self) -> AttrKind {
        match self {
            Attribute::Int(_) => AttrKind::Int,
            Attribute::Float(_) => AttrKind::Float,
            Attribute::String(_) => AttrKind::String,
            Attribute::Tensor(_) => AttrKind::Tensor,
            Attribute::SparseTensor(_) => AttrKind::SparseTensor,
            Attribute::Graph(_) => AttrKind::Graph,
            Attribute::Type(_) => AttrKind::Type,
            Attribute::Ints(_) => AttrKind::Ints,
            Attribute::Floats(_) => AttrKind::Floats,
            Attribute::Strings(_) => AttrKind::Strings,
            Attribute::Tensors(_) => AttrKind::Tensors,
            Attribute::SparseTensors(_) => AttrKind::SparseTensors,
            Attribute::Graphs(_) => AttrKind::Graphs,
            Attribute::Types(_) => AttrKind::Types,
        }
    }

    fn wrong(&self, want: AttrKind) -> Error {
        Error::invalid(format!("expected a {want:?} attribute, found {:?}", self.kind()))
    }

    /// The integer value.
    pub fn as_int(&self) -> Result<i64> {
        match self {
            Attribute::Int(v) => Ok(*v),
            _ => Err(self.wrong(AttrKind::Int)),
        }
    }

    /// The float value.
    pub fn as_float(&self) -> Result<f32> {
        match self {
            Attribute::Float(v) => Ok(*v),
            _ => Err(self.wrong(AttrKind::Float)),
        }
    }

    /// The string value.
    pub fn as_str(&self) -> Result<&str> {
        match self {
            Attribute::String(v) => Ok(v),
            _ => Err(self.wrong(AttrKind::String)),
        }
    }

    /// The integers.
    pub fn as_ints(&self) -> Result<&[i64]> {
        match self {
            Attribute::Ints(v) => Ok(v),
            _ => Err(self.wrong(AttrKind::Ints)),
        }
    }

    /// The floats.
    pub fn as_floats(&self) -> Result<&[f32]> {
        match self {
            Attribute::Floats(v) => Ok(v),
            _ => Err(self.wrong(AttrKind::Floats)),
        }
    }

    /// The tensor.
    pub fn as_tensor(&self) -> Result<&Tensor> {
        match self {
            Attribute::Tensor(v) => Ok(v),
            _ => Err(self.wrong(AttrKind::Tensor)),
        }
    }

    /// The subgraph.
    pub fn as_graph(&self) -> Result<&Graph> {
        match self {
            Attribute::Graph(v) => Ok(v),
            _ => Err(self.wrong(AttrKind::Graph)),
        }
    }
}

impl From<i64> for Attribute {
    fn from(v: i64) -> Self {
        Attribute::Int(v)
    }
}
impl From<f32> for Attribute {
    fn from(v: f32) -> Self {
        Attribute::Float(v)
    }
}
impl From<&str> for Attribute {
    fn from(v: &str) -> Self {
        Attribute::String(v.to_string())
    }
}
impl From<String> for Attribute {
    fn from(v: String) -> Self {
        Attribute::String(v)
    }
}
impl From<Vec<i64>> for Attribute {
    fn from(v: Vec<i64>) -> Self {
        Attribute::Ints(v)
    }
}
impl From<Vec<f32>> for Attribute {
    fn from(v: Vec<f32>) -> Self {
        Attribute::Floats(v)
    }
}
impl From<Tensor> for Attribute {
    fn from(v: Tensor) -> Self {
        Attribute::Tensor(v)
    }
}
impl From<Graph> for Attribute {
    fn from(v: Graph) -> Self {
        Attribute::Graph(Box::new(v))
    }
}
