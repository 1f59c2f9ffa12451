//! Rules of the ops whose outputs are not plain tensors of the schema's
//! dtype: control flow (types from the bodies), sequences, optionals, and
//! the `ai.onnx.ml` ops.

use super::rules::{Cx, Out};
use super::{Known, Scope, Types, infer_in};
use crate::{DType, Dim, Graph, Result, Shape, ValueType};

/// The rule for control-flow, sequence and optional ops; unknown outputs
/// for anything else.
pub(crate) fn rule(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let n_out = cx.node.outputs.len();
    let ty = |i: usize| cx.k(i).map_or(ValueType::Unknown, |k| k.ty.clone());
    Ok(match cx.schema.op {
        "If" => if_outputs(cx)?,
        "Loop" => loop_outputs(cx)?,
        "Scan" => scan_outputs(cx)?,
        "SequenceMap" => {
            let body = body(cx, "body", &[])?;
            body.into_iter().map(|t| Out::typed(ValueType::Sequence(Box::new(t)))).collect()
        }
        "SequenceConstruct" => {
            let elems: Vec<ValueType> = (0..cx.n_in()).map(ty).collect();
            let elem =
                elems.iter().skip(1).fold(elems.first().cloned().unwrap_or(ValueType::Unknown), |a, b| join(&a, b));
            vec![Out::typed(ValueType::Sequence(Box::new(elem)))]
        }
        "SequenceEmpty" => {
            let dtype = match cx.node.attr("dtype") {
                Some(_) => DType::try_from_onnx_code(cx.int("dtype", 1)?).map_err(|e| cx.err(e))?,
                None => DType::F32,
            };
            vec![Out::typed(ValueType::Sequence(Box::new(ValueType::Tensor { dtype: Some(dtype), shape: None })))]
        }
        "SequenceAt" => vec![Out::typed(match ty(0) {
            ValueType::Sequence(e) => *e,
            _ => ValueType::Unknown,
        })],
        "SequenceInsert" => vec![Out::typed(match ty(0) {
            ValueType::Sequence(e) => ValueType::Sequence(Box::new(join(&e, &ty(1)))),
            _ => ValueType::Sequence(Box::new(ty(1))),
        })],
        "SequenceErase" => vec![Out::typed(ty(0))],
        "SequenceLength" => vec![Out::dims(vec![])],
        "SplitToSequence" => {
            let elem = match cx.dims(0) {
                Some(d) => {
                    let axis = cx.axis(cx.int("axis", 0)?, d.len())?;
                    let keep = cx.int("keepdims", 1)? != 0 || cx.present(1);
                    let mut o = d.to_vec();
                    if keep {
                        if let Some(slot) = o.get_mut(axis) {
                            *slot = Dim::Unknown;
                        }
                    } else if axis < o.len() {
                        o.remove(axis);
                    }
                    Some(Shape(o))
                }
                None => None,
            };
            vec![Out::typed(ValueType::Sequence(Box::new(ValueType::Tensor { dtype: cx.dtype(0), shape: elem })))]
        }
        "ConcatFromSequence" => {
            let (dtype, shape) = match ty(0) {
                ValueType::Sequence(e) => match *e {
                    ValueType::Tensor { dtype, shape } => (dtype, shape),
                    _ => (None, None),
                },
                _ => (None, None),
            };
            let new_axis = cx.int("new_axis", 0)? != 0;
            let shape = match shape {
                Some(s) => {
                    let mut d = s.0;
                    let a = super::dims::axis(cx.int("axis", 0)?, d.len(), new_axis)
                        .ok_or_else(|| cx.err("axis out of range"))?;
                    if new_axis {
                        d.insert(a, Dim::Unknown);
                    } else if let Some(slot) = d.get_mut(a) {
                        *slot = Dim::Unknown;
                    }
                    Some(Shape(d))
                }
                None => None,
            };
            vec![Out::typed(ValueType::Tensor { dtype, shape })]
        }
        "Optional" => vec![Out::typed(ValueType::Optional(Box::new(match cx.node.attr("type") {
            Some(crate::Attribute::Type(t)) => t.clone(),
            _ => ty(0),
        })))],
        "OptionalHasElement" => vec![Out::dims(vec![])],
        "OptionalGetElement" => vec![Out::typed(match ty(0) {
            ValueType::Optional(t) => *t,
            t => t,
        })],
        _ => vec![Out::default(); n_out],
    })
}

/// The common type of two values (dimensions that differ become unknown).
fn join(a: &ValueType, b: &ValueType) -> ValueType {
    match (a, b) {
        (ValueType::Tensor { dtype: d1, shape: s1 }, ValueType::Tensor { dtype: d2, shape: s2 }) => ValueType::Tensor {
            dtype: if d1 == d2 { *d1 } else { None },
            shape: match (s1, s2) {
                (Some(x), Some(y)) if x.rank() == y.rank() => Some(Shape(
                    x.dims().iter().zip(y.dims()).map(|(p, q)| if p == q { p.clone() } else { Dim::Unknown }).collect(),
                )),
                _ => None,
            },
        },
        (x, y) if x == y => x.clone(),
        _ => ValueType::Unknown,
    }
}

/// Types the body graph `attr` given its inputs' types (declared types win),
/// returning its outputs' types.
fn body(cx: &Cx<'_>, attr: &str, inputs: &[ValueType]) -> Result<Vec<ValueType>> {
    let g: &Graph =
        cx.node.attr(attr).ok_or_else(|| cx.err(format!("no '{attr}' subgraph")))?.as_graph().map_err(|e| cx.err(e))?;
    let mut g = g.clone();
    for (v, t) in g.inputs.iter_mut().zip(inputs) {
        if let Ok(m) = super::merge(&v.name, Known::of(v.ty.clone()), Known::of(t.clone())) {
            v.ty = m.ty;
        }
    }
    let empty = Types::default();
    let outer = Scope { types: &empty, parent: cx.scope };
    let types = infer_in(&g, cx.opset, Some(&outer))
        .map_err(|e| e.context(format!("{attr} of node {}", cx.node.describe())))?;
    Ok(g.outputs.iter().map(|o| types.ty(&o.name).cloned().unwrap_or_else(|| o.ty.clone())).collect())
}

fn if_outputs(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let then = body(cx, "then_branch", &[])?;
    let other = body(cx, "else_branch", &[])?;
    Ok(then
        .iter()
        .zip(other.iter().chain(std::iter::repeat(&ValueType::Unknown)))
        .map(|(a, b)| Out::typed(join(a, b)))
        .collect())
}

fn loop_outputs(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let carried: Vec<ValueType> =
        (2..cx.n_in()).map(|i| cx.k(i).map_or(ValueType::Unknown, |k| k.ty.clone())).collect();
    let mut inputs = vec![ValueType::tensor(DType::I64, Shape(vec![])), ValueType::tensor(DType::Bool, Shape(vec![]))];
    inputs.extend(carried.iter().cloned());
    let outs = body(cx, "body", &inputs)?;
    // Body outputs: condition, carried values, then per-iteration scan values.
    let trips = cx.scalar(0).filter(|&m| m >= 0 && !cx.present(1)).map_or(Dim::Unknown, |m| Dim::Fixed(m as u64));
    let mut result = Vec::new();
    for (k, t) in outs.iter().skip(1).enumerate() {
        result.push(Out::typed(match carried.get(k) {
            Some(c) => join(c, t),
            None => stacked(t, trips.clone()),
        }));
    }
    Ok(result)
}

/// A per-iteration type with an iteration axis in front.
fn stacked(t: &ValueType, n: Dim) -> ValueType {
    match t {
        ValueType::Tensor { dtype, shape } => ValueType::Tensor {
            dtype: *dtype,
            shape: shape.as_ref().map(|s| {
                let mut d = vec![n];
                d.extend_from_slice(s.dims());
                Shape(d)
            }),
        },
        _ => ValueType::Unknown,
    }
}

fn scan_outputs(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let n_scan = usize::try_from(cx.int("num_scan_inputs", 0)?).map_err(|_| cx.err("negative num_scan_inputs"))?;
    // Scan-8 has a leading sequence_lens input and a batch axis; only its states are typed here.
    let first = usize::from(cx.opset < 9);
    let all: Vec<ValueType> =
        (first..cx.n_in()).map(|i| cx.k(i).map_or(ValueType::Unknown, |k| k.ty.clone())).collect();
    if n_scan > all.len() {
        return Err(cx.err(format!("num_scan_inputs {n_scan} exceeds the {} inputs", all.len())));
    }
    let n_state = all.len() - n_scan;
    let in_axes = cx.ints_attr("scan_input_axes")?.unwrap_or_else(|| vec![0; n_scan]);
    let (states, scanned) =
        all.split_at_checked(n_state).ok_or_else(|| cx.err(format!("{n_state} state inputs exceed the inputs")))?;
    let mut inputs: Vec<ValueType> = states.to_vec();
    let mut length = Dim::Unknown;
    for (j, t) in scanned.iter().enumerate() {
        inputs.push(match t {
            ValueType::Tensor { dtype, shape: Some(s) } if cx.opset >= 9 => {
                let a = cx.axis(in_axes.get(j).copied().unwrap_or(0), s.rank())?;
                let mut d = s.0.clone();
                if a < d.len() {
                    let l = d.remove(a);
                    if j == 0 {
                        length = l;
                    }
                }
                ValueType::Tensor { dtype: *dtype, shape: Some(Shape(d)) }
            }
            _ => ValueType::Unknown,
        });
    }
    let outs = body(cx, "body", &inputs)?;
    let out_axes = cx.ints_attr("scan_output_axes")?;
    let mut result = Vec::new();
    for (k, t) in outs.iter().enumerate() {
        if let Some(state) = states.get(k) {
            result.push(Out::typed(join(state, t)));
            continue;
        }
        let j = k - n_state;
        result.push(Out::typed(match (t, cx.opset >= 9) {
            (ValueType::Tensor { dtype, shape: Some(s) }, true) => {
                let a = out_axes.as_ref().and_then(|v| v.get(j)).copied().unwrap_or(0);
                let a = super::dims::axis(a, s.rank(), true).ok_or_else(|| cx.err("scan output axis out of range"))?;
                let mut d = s.0.clone();
                d.insert(a, length.clone());
                ValueType::Tensor { dtype: *dtype, shape: Some(Shape(d)) }
            }
            (ValueType::Tensor { dtype, .. }, _) => ValueType::Tensor { dtype: *dtype, shape: None },
            _ => ValueType::Unknown,
        }));
    }
    Ok(result)
}

/// The `ai.onnx.ml` ops.
pub(crate) fn ml(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let same = cx.dims(0).map(<[Dim]>::to_vec);
    Ok(match cx.schema.op {
        "LabelEncoder" => {
            let n = cx.node;
            let dtype = if let Some(a) = n.attr("values_tensor") {
                Some(a.as_tensor().map_err(|e| cx.err(e))?.dtype())
            } else if n.attr("values_strings").is_some() {
                Some(DType::String)
            } else if n.attr("values_int64s").is_some() {
                Some(DType::I64)
            } else if n.attr("values_floats").is_some() {
                Some(DType::F32)
            } else {
                None
            };
            vec![Out::typed(ValueType::Tensor { dtype, shape: same.map(Shape) })]
        }
        "ArrayFeatureExtractor" => {
            let picked = cx.dims(1).map(|d| super::dims::fixed_product(d).map_or(Dim::Unknown, Dim::Fixed));
            vec![Out::maybe(match (same, picked) {
                (Some(mut d), Some(p)) if d.len() >= 2 => {
                    if let Some(l) = d.last_mut() {
                        *l = p;
                    }
                    Some(d)
                }
                (Some(d), Some(p)) if d.len() == 1 => Some(vec![Dim::Fixed(1), p]),
                _ => None,
            })]
        }
        "Binarizer" => vec![Out::maybe(same)],
        "TreeEnsemble" => {
            let n = cx.dims(0).and_then(|d| d.first()).cloned().unwrap_or(Dim::Unknown);
            let t = match cx.node.attr("n_targets") {
                Some(_) => super::SymInt::Int(cx.int("n_targets", 0)?).to_dim(),
                None => Dim::Unknown,
            };
            vec![Out::dims(vec![n, t])]
        }
        _ => vec![Out::default(); cx.node.outputs.len()],
    })
}
