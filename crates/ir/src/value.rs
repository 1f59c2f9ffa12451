//! Types and descriptions of graph values.

use std::fmt;

use crate::{DType, Shape};

/// The type of a value flowing along a graph edge.
///
/// Nearly every value is a tensor; sequences, maps and optionals exist so
/// that ONNX's sequence and optional operators can be represented.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A dense tensor; `dtype` is `None` when not known, `shape` is `None`
    /// when even the rank is not known.
    Tensor {
        /// Element type.
        dtype: Option<DType>,
        /// Shape, if the rank is known.
        shape: Option<Shape>,
    },
    /// A sparse tensor.
    SparseTensor {
        /// Element type.
        dtype: Option<DType>,
        /// Shape, if the rank is known.
        shape: Option<Shape>,
    },
    /// A sequence of values of one type.
    Sequence(Box<ValueType>),
    /// A map from a scalar key type to values of one type.
    Map(DType, Box<ValueType>),
    /// A value that may be absent.
    Optional(Box<ValueType>),
    /// Nothing is known about the value.
    Unknown,
}

impl ValueType {
    /// A tensor type.
    pub fn tensor(dtype: DType, shape: impl Into<Option<Shape>>) -> Self {
        ValueType::Tensor { dtype: Some(dtype), shape: shape.into() }
    }

    /// The element type, if a (dense or sparse) tensor of known dtype.
    pub fn dtype(&self) -> Option<DType> {
        match self {
            ValueType::Tensor { dtype, .. } | ValueType::SparseTensor { dtype, .. } => *dtype,
            _ => None,
        }
    }

    /// The shape, if a (dense or sparse) tensor of known rank.
    pub fn shape(&self) -> Option<&Shape> {
        match self {
            ValueType::Tensor { shape, .. } | ValueType::SparseTensor { shape, .. } => shape.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn tensor(f: &mut fmt::Formatter<'_>, dtype: &Option<DType>, shape: &Option<Shape>) -> fmt::Result {
            match dtype {
                Some(d) => write!(f, "{d}")?,
                None => f.write_str("?")?,
            }
            match shape {
                Some(s) => write!(f, "{s}"),
                None => f.write_str("[...]"),
            }
        }
        match self {
            ValueType::Tensor { dtype, shape } => tensor(f, dtype, shape),
            ValueType::SparseTensor { dtype, shape } => {
                f.write_str("sparse ")?;
                tensor(f, dtype, shape)
            }
            ValueType::Sequence(t) => write!(f, "seq<{t}>"),
            ValueType::Map(k, v) => write!(f, "map<{k},{v}>"),
            ValueType::Optional(t) => write!(f, "optional<{t}>"),
            ValueType::Unknown => f.write_str("?"),
        }
    }
}

/// A named value with its type: a graph input, output or annotated edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueInfo {
    /// The value's name, unique within its graph.
    pub name: String,
    /// Its type.
    pub ty: ValueType,
    /// Free-form documentation.
    pub doc: String,
}

impl ValueInfo {
    /// A tensor value of the given dtype and shape.
    pub fn tensor(name: impl Into<String>, dtype: DType, shape: impl Into<Option<Shape>>) -> Self {
        ValueInfo { name: name.into(), ty: ValueType::tensor(dtype, shape), doc: String::new() }
    }

    /// A value with an unknown type.
    pub fn untyped(name: impl Into<String>) -> Self {
        ValueInfo { name: name.into(), ty: ValueType::Unknown, doc: String::new() }
    }

    /// The element type, if this is a tensor of known dtype.
    pub fn dtype(&self) -> Option<DType> {
        self.ty.dtype()
    }

    /// The shape, if this is a tensor of known rank.
    pub fn shape(&self) -> Option<&Shape> {
        self.ty.shape()
    }
}
