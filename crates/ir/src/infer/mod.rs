#![deny(clippy::indexing_slicing)]
//! Dtype, rank and shape inference over the canonical op set, with symbolic
//! dimensions.
//!
//! One inference for every crate: exporters that need ranks or port types,
//! passes that need shapes, importers of formats that declare none
//! (TorchScript) or need ranks for layout changes. [`infer`] types every
//! value of a graph; [`infer_node`] types one node's outputs from what is
//! known of its inputs, for importers that build a graph node by node.
//!
//! Output dtypes follow [`crate::schema`]'s rules (one place); shapes follow
//! the ONNX operator definitions. Small integer tensors (at most
//! [`MAX_TRACKED`] elements) are tracked by value, with symbolic elements,
//! so the shape computations exporters write (`Shape` → `Gather` →
//! `Unsqueeze` → `Concat` → `Reshape`) give exact, symbolic shapes. What
//! cannot be known stays unknown (`Dim::Unknown`, no rank, no dtype); what
//! is contradictory (broadcasting 3 with 4, a Reshape that changes the
//! element count, a declared type that disagrees) is an error naming the
//! node or value.

mod control;
mod dims;
mod layers;
mod rules;
mod shapes;

use std::collections::HashMap;

pub use dims::SymInt;

use crate::{DType, Dim, Error, Graph, Node, Result, Shape, Tensor, ValueType};

/// Most elements of an integer or float tensor whose values are tracked.
pub const MAX_TRACKED: usize = 64;

/// The tracked values of a small tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Integer (or boolean) elements, possibly symbolic.
    Ints(Vec<SymInt>),
    /// Floating-point elements.
    Floats(Vec<f64>),
}

/// What is known about one value: its type and, for small constant or
/// shape-derived tensors, its elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    /// The value's type (possibly partial: unknown dtype, rank or dimensions).
    pub ty: ValueType,
    /// The elements, when tracked; the type's shape is then fully fixed.
    pub value: Option<Values>,
}

impl Known {
    /// Nothing known.
    pub fn unknown() -> Known {
        Known { ty: ValueType::Unknown, value: None }
    }

    /// A type without values.
    pub fn of(ty: ValueType) -> Known {
        Known { ty, value: None }
    }

    /// A tensor of `dtype` and `shape` (either may be unknown).
    pub fn tensor(dtype: Option<DType>, shape: Option<Shape>) -> Known {
        Known { ty: ValueType::Tensor { dtype, shape }, value: None }
    }

    /// The type of a constant tensor, with its elements when it is small
    /// enough to track (integers, booleans and real floats).
    pub fn from_tensor(t: &Tensor) -> Known {
        let shape = Shape(t.shape().iter().map(|&d| Dim::Fixed(d as u64)).collect());
        let value = if t.numel() <= MAX_TRACKED { tensor_values(t) } else { None };
        Known { ty: ValueType::tensor(t.dtype(), shape), value }
    }

    /// The element type, if a tensor of known dtype.
    pub fn dtype(&self) -> Option<DType> {
        self.ty.dtype()
    }

    /// The shape, if a tensor of known rank.
    pub fn shape(&self) -> Option<&Shape> {
        self.ty.shape()
    }

    /// The rank, if known.
    pub fn rank(&self) -> Option<usize> {
        self.shape().map(Shape::rank)
    }

    /// The tracked integer elements.
    pub fn ints(&self) -> Option<&[SymInt]> {
        match &self.value {
            Some(Values::Ints(v)) => Some(v),
            _ => None,
        }
    }

    /// The tracked elements as floats (integers converted when known).
    pub fn floats(&self) -> Option<Vec<f64>> {
        match &self.value {
            Some(Values::Floats(v)) => Some(v.clone()),
            Some(Values::Ints(v)) => v.iter().map(|x| x.int().map(|n| n as f64)).collect(),
            None => None,
        }
    }
}

/// The elements of a small tensor, if of a tracked kind.
fn tensor_values(t: &Tensor) -> Option<Values> {
    fn ints<T: crate::Element + Copy + TryInto<i64>>(t: &Tensor) -> Option<Values> {
        let v = t.as_slice::<T>().ok()?;
        Some(Values::Ints(v.iter().map(|&x| x.try_into().map_or(SymInt::Unknown, SymInt::Int)).collect()))
    }
    match t.dtype() {
        DType::I64 => ints::<i64>(t),
        DType::I32 => ints::<i32>(t),
        DType::I16 => ints::<i16>(t),
        DType::I8 => ints::<i8>(t),
        DType::U8 => ints::<u8>(t),
        DType::U16 => ints::<u16>(t),
        DType::U32 => ints::<u32>(t),
        DType::U64 => ints::<u64>(t),
        DType::Bool => Some(Values::Ints(t.to_bools().ok()?.into_iter().map(|b| SymInt::Int(i64::from(b))).collect())),
        DType::F32 => Some(Values::Floats(t.as_slice::<f32>().ok()?.iter().map(|&x| f64::from(x)).collect())),
        DType::F64 => Some(Values::Floats(t.as_slice::<f64>().ok()?.to_vec())),
        DType::F16 => Some(Values::Floats(t.as_slice::<half::f16>().ok()?.iter().map(|x| x.to_f64()).collect())),
        DType::BF16 => Some(Values::Floats(t.as_slice::<half::bf16>().ok()?.iter().map(|x| x.to_f64()).collect())),
        _ => None,
    }
}

/// The inferred types of a graph's values (inputs, initializers and every
/// node output), by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Types {
    values: HashMap<String, Known>,
}

impl Types {
    /// What is known about `name`.
    pub fn get(&self, name: &str) -> Option<&Known> {
        self.values.get(name)
    }

    /// The type of `name`.
    pub fn ty(&self, name: &str) -> Option<&ValueType> {
        self.get(name).map(|k| &k.ty)
    }

    /// The element type of `name`.
    pub fn dtype(&self, name: &str) -> Option<DType> {
        self.get(name).and_then(Known::dtype)
    }

    /// The shape of `name`.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.get(name).and_then(Known::shape)
    }

    /// The rank of `name`.
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.get(name).and_then(Known::rank)
    }

    /// Every typed value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Known)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is typed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Records what is known about `name` (importers building a graph node by node).
    pub fn insert(&mut self, name: impl Into<String>, known: Known) {
        self.values.insert(name.into(), known);
    }
}

/// Lookup of values in enclosing graphs, for subgraph bodies.
pub(crate) struct Scope<'a> {
    pub(crate) types: &'a Types,
    pub(crate) parent: Option<&'a Scope<'a>>,
}

impl Scope<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<&Known> {
        self.types.get(name).or_else(|| self.parent.and_then(|p| p.get(name)))
    }
}

/// Infers the type of every value of `graph` at `ai.onnx` opset `opset`.
///
/// Declared types (graph inputs and outputs, `value_info`) are merged with
/// the inferred ones: the more precise of the two wins, and a contradiction
/// (other dtype, other rank, two different fixed sizes) is an error naming
/// the value.
pub fn infer(graph: &Graph, opset: i64) -> Result<Types> {
    infer_in(graph, opset, None)
}

/// [`infer`] for a subgraph that may read values of enclosing graphs.
pub(crate) fn infer_in(graph: &Graph, opset: i64, outer: Option<&Scope<'_>>) -> Result<Types> {
    let mut types = Types::default();
    for v in &graph.inputs {
        types.insert(v.name.clone(), Known::of(v.ty.clone()));
    }
    for (name, t) in &graph.initializers {
        let k = Known::from_tensor(t);
        let merged = match types.get(name) {
            Some(declared) => merge(name, declared.clone(), k)?,
            None => k,
        };
        types.insert(name.clone(), merged);
    }
    for (name, t) in &graph.sparse_initializers {
        let shape = Shape(t.dims.iter().map(|&d| Dim::Fixed(d as u64)).collect());
        types.insert(name.clone(), Known::of(ValueType::Tensor { dtype: Some(t.values.dtype()), shape: Some(shape) }));
    }
    let declared: HashMap<&str, &ValueType> =
        graph.value_info.iter().chain(&graph.outputs).map(|v| (v.name.as_str(), &v.ty)).collect();
    let unknown = Known::unknown();
    for node in &graph.nodes {
        let outs = {
            let scope = Scope { types: &types, parent: outer };
            let ins: Vec<Option<&Known>> = node
                .inputs
                .iter()
                .map(|i| match i.as_deref() {
                    Some(n) if !n.is_empty() => Some(scope.get(n).unwrap_or(&unknown)),
                    _ => None,
                })
                .collect();
            rules::node_outputs(node, &ins, opset, Some(&scope))?
        };
        for (name, k) in node.outputs.iter().zip(outs) {
            if name.is_empty() {
                continue;
            }
            let k = match declared.get(name.as_str()) {
                Some(d) => merge(name, Known::of((*d).clone()), k)?,
                None => k,
            };
            types.insert(name.clone(), k);
        }
    }
    // Declared types of values no node produced (graph outputs that are inputs, ...).
    for (name, ty) in declared {
        if !types.values.contains_key(name) {
            types.insert(name, Known::of(ty.clone()));
        }
    }
    Ok(types)
}

/// Infers the outputs of one node from what is known of its inputs, at
/// `ai.onnx` opset `opset`: one [`Known`] per entry of `node.outputs`.
///
/// `inputs` has one entry per entry of `node.inputs`: `None` for an omitted
/// optional input, [`Known::unknown`] for a present input nothing is known
/// about, [`Known::from_tensor`] for a constant. Subgraph bodies are typed
/// from their declared inputs only (values they capture count as unknown).
/// Ops outside the canonical set get unknown outputs.
pub fn infer_node(node: &Node, inputs: &[Option<&Known>], opset: i64) -> Result<Vec<Known>> {
    rules::node_outputs(node, inputs, opset, None)
}

/// Merges a declared type with an inferred one, keeping the more precise
/// information; an error when they contradict.
pub fn merge(name: &str, declared: Known, inferred: Known) -> Result<Known> {
    let value = inferred.value.clone().or(declared.value.clone());
    let ty = merge_types(&declared.ty, &inferred.ty).map_err(|why| {
        Error::invalid(format!(
            "value '{name}': declared type {} contradicts inferred {} ({why})",
            declared.ty, inferred.ty
        ))
    })?;
    Ok(Known { ty, value })
}

fn merge_types(a: &ValueType, b: &ValueType) -> std::result::Result<ValueType, String> {
    use ValueType as V;
    Ok(match (a, b) {
        (V::Unknown, t) | (t, V::Unknown) => t.clone(),
        (V::Tensor { dtype: da, shape: sa }, V::Tensor { dtype: db, shape: sb }) => {
            V::Tensor { dtype: merge_dtype(*da, *db)?, shape: merge_shape(sa.as_ref(), sb.as_ref())? }
        }
        (V::SparseTensor { dtype: da, shape: sa }, V::SparseTensor { dtype: db, shape: sb }) => {
            V::SparseTensor { dtype: merge_dtype(*da, *db)?, shape: merge_shape(sa.as_ref(), sb.as_ref())? }
        }
        (V::Sequence(x), V::Sequence(y)) => V::Sequence(Box::new(merge_types(x, y)?)),
        (V::Optional(x), V::Optional(y)) => V::Optional(Box::new(merge_types(x, y)?)),
        (V::Map(k1, x), V::Map(k2, y)) if k1 == k2 => V::Map(*k1, Box::new(merge_types(x, y)?)),
        _ => return Err("different kinds of value".into()),
    })
}

fn merge_dtype(a: Option<DType>, b: Option<DType>) -> std::result::Result<Option<DType>, String> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(format!("dtype {x} vs {y}")),
        (x, y) => Ok(x.or(y)),
    }
}

fn merge_shape(a: Option<&Shape>, b: Option<&Shape>) -> std::result::Result<Option<Shape>, String> {
    match (a, b) {
        (Some(x), Some(y)) => {
            if x.rank() != y.rank() {
                return Err(format!("rank {} vs {}", x.rank(), y.rank()));
            }
            let dims = x
                .dims()
                .iter()
                .zip(y.dims())
                .enumerate()
                .map(|(k, (p, q))| match (p, q) {
                    (Dim::Fixed(m), Dim::Fixed(n)) if m != n => Err(format!("dimension {k}: {m} vs {n}")),
                    (Dim::Fixed(_), _) => Ok(p.clone()),
                    (_, Dim::Fixed(_)) => Ok(q.clone()),
                    (Dim::Symbolic(_), _) => Ok(p.clone()),
                    _ => Ok(q.clone()),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Some(Shape(dims)))
        }
        (x, y) => Ok(x.or(y).cloned()),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
