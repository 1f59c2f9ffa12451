//! Dispatch of per-op output rules, the context they read, and the output
//! dtype from the schema's rule.

use super::dims::{self, SymInt};
use super::{Known, MAX_TRACKED, Scope, Values, control, layers, shapes};
use crate::schema::{self, Class, DTypeRule, OpSchema};
use crate::{DType, Dim, Error, Node, Result, Shape, ValueType};

/// What a rule says about one output: its shape (if the rank is known),
/// tracked values, or a whole type for ops whose outputs are not plain
/// tensors of the schema's dtype.
#[derive(Debug, Clone, Default)]
pub(crate) struct Out {
    pub(crate) shape: Option<Vec<Dim>>,
    pub(crate) value: Option<Values>,
    pub(crate) ty: Option<ValueType>,
}

impl Out {
    /// An output of known dimensions.
    pub(crate) fn dims(d: Vec<Dim>) -> Out {
        Out { shape: Some(d), ..Out::default() }
    }

    /// An output of known rank, unknown dimensions.
    pub(crate) fn rank(r: usize) -> Out {
        Out::dims(vec![Dim::Unknown; r])
    }

    /// An output of known dimensions when `d` is `Some`.
    pub(crate) fn maybe(d: Option<Vec<Dim>>) -> Out {
        Out { shape: d, ..Out::default() }
    }

    /// An output whose whole type is given.
    pub(crate) fn typed(ty: ValueType) -> Out {
        Out { ty: Some(ty), ..Out::default() }
    }

    /// A tracked integer vector (shape `[n]`) or scalar (`scalar`).
    pub(crate) fn ints(v: Vec<SymInt>, scalar: bool) -> Out {
        let shape = if scalar { vec![] } else { vec![Dim::Fixed(v.len() as u64)] };
        Out { shape: Some(shape), value: Some(Values::Ints(v)), ty: None }
    }
}

/// What a rule reads: the node, its inputs, the opset and enclosing scopes.
pub(crate) struct Cx<'a> {
    pub(crate) node: &'a Node,
    pub(crate) schema: &'static OpSchema,
    pub(crate) ins: &'a [Option<&'a Known>],
    pub(crate) opset: i64,
    pub(crate) scope: Option<&'a Scope<'a>>,
}

/// A list parameter that is an attribute at some opsets and an input at others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    /// Not given.
    Absent,
    /// Given, but its value is not known.
    Unknown,
    /// Known values.
    Known(Vec<SymInt>),
}

impl<'a> Cx<'a> {
    /// Input `i`, if present.
    pub(crate) fn k(&self, i: usize) -> Option<&'a Known> {
        self.ins.get(i).copied().flatten()
    }

    /// Whether input `i` is present.
    pub(crate) fn present(&self, i: usize) -> bool {
        self.k(i).is_some()
    }

    /// Number of input slots written.
    pub(crate) fn n_in(&self) -> usize {
        self.ins.len()
    }

    /// Dimensions of input `i`.
    pub(crate) fn dims(&self, i: usize) -> Option<&'a [Dim]> {
        self.k(i).and_then(Known::shape).map(Shape::dims)
    }

    /// Rank of input `i`.
    pub(crate) fn rank(&self, i: usize) -> Option<usize> {
        self.dims(i).map(<[Dim]>::len)
    }

    /// Dtype of input `i`.
    pub(crate) fn dtype(&self, i: usize) -> Option<DType> {
        self.k(i).and_then(Known::dtype)
    }

    /// Tracked integer values of input `i`.
    pub(crate) fn ints(&self, i: usize) -> Option<&'a [SymInt]> {
        self.k(i).and_then(Known::ints)
    }

    /// Tracked values of input `i` when every one is a known integer.
    pub(crate) fn known_ints(&self, i: usize) -> Option<Vec<i64>> {
        self.ints(i)?.iter().map(SymInt::int).collect()
    }

    /// The single known integer of input `i` (scalar or one-element).
    pub(crate) fn scalar(&self, i: usize) -> Option<i64> {
        match self.known_ints(i)?.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// An integer attribute.
    pub(crate) fn int(&self, name: &str, default: i64) -> Result<i64> {
        self.node.attr_int(name, default)
    }

    /// An integer-list attribute.
    pub(crate) fn ints_attr(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.node.attr_ints(name)?.map(<[i64]>::to_vec))
    }

    /// A string attribute.
    pub(crate) fn str(&self, name: &str, default: &'a str) -> Result<&'a str> {
        self.node.attr_str(name, default)
    }

    /// An error naming the node.
    pub(crate) fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::invalid(format!("node {}: {msg}", self.node.describe()))
    }

    /// The list parameter `name`: the input of that name where the schema
    /// has one at this opset, else the attribute.
    pub(crate) fn param(&self, name: &str) -> Result<Param> {
        if let Some((i, _)) = self.schema.input_at(name, self.opset) {
            return Ok(match self.k(i) {
                None => Param::Absent,
                Some(k) => k.ints().map_or(Param::Unknown, |v| Param::Known(v.to_vec())),
            });
        }
        Ok(match self.ints_attr(name)? {
            Some(v) => Param::Known(v.into_iter().map(SymInt::Int).collect()),
            None => Param::Absent,
        })
    }

    /// The position of input `name` at this opset.
    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.schema.input_at(name, self.opset).map(|(i, _)| i)
    }

    /// Normalizes axis `a` against `rank`, an error when out of range.
    pub(crate) fn axis(&self, a: i64, rank: usize) -> Result<usize> {
        dims::axis(a, rank, false).ok_or_else(|| self.err(format!("axis {a} is out of range for rank {rank}")))
    }

    /// Broadcast of the shapes of the given inputs, `None` if any rank is unknown.
    pub(crate) fn broadcast(&self, inputs: impl Iterator<Item = usize>) -> Result<Option<Vec<Dim>>> {
        let mut shapes = Vec::new();
        for i in inputs {
            match self.dims(i) {
                Some(d) => shapes.push(d),
                None => return Ok(None),
            }
        }
        dims::broadcast(&shapes)
            .map(Some)
            .map_err(|(a, b)| self.err(format!("shapes {} and {} do not broadcast", Shape(a), Shape(b))))
    }
}

/// The outputs of one node; unknown for ops outside the canonical set.
pub(crate) fn node_outputs(
    node: &Node,
    ins: &[Option<&Known>],
    opset: i64,
    scope: Option<&Scope<'_>>,
) -> Result<Vec<Known>> {
    let Some(schema) = schema::of(node) else {
        return Ok(node.outputs.iter().map(|_| Known::unknown()).collect());
    };
    let opset = if schema.domain.is_empty() { opset } else { schema.since.max(1) };
    let cx = Cx { node, schema, ins, opset, scope };
    let mut outs = rule(&cx)?.into_iter();
    let mut result = Vec::with_capacity(node.outputs.len());
    for k in 0..node.outputs.len() {
        let out = outs.next().unwrap_or_default();
        if let Some(ty) = out.ty {
            result.push(Known { ty, value: out.value });
            continue;
        }
        let dtype = match schema.dtype_rule(k) {
            Some(r) => dtype_of(r, &cx)?,
            None => None,
        };
        let shape = out.shape.map(Shape);
        // Values are only kept for fully known small shapes, matching their count.
        let value = out.value.filter(|v| {
            let n = match v {
                Values::Ints(x) => x.len(),
                Values::Floats(x) => x.len(),
            };
            n <= MAX_TRACKED && shape.as_ref().and_then(|s| dims::fixed_product(s.dims())) == Some(n as u64)
        });
        result.push(Known { ty: ValueType::Tensor { dtype, shape }, value });
    }
    Ok(result)
}

/// The output dtype a schema rule gives for this node.
pub(crate) fn dtype_of(rule: &DTypeRule, cx: &Cx<'_>) -> Result<Option<DType>> {
    Ok(match rule {
        DTypeRule::Input(k) => cx.dtype(*k),
        DTypeRule::Fixed(d) => Some(*d),
        DTypeRule::Attr(name, or) => match cx.node.attr(name) {
            // `output_dtype = 0` means "not set" (QuantizeLinear, DequantizeLinear).
            Some(a) => match a.as_int().map_err(|e| cx.err(e))? {
                0 => dtype_of(or, cx)?,
                code => Some(DType::try_from_onnx_code(code).map_err(|e| cx.err(format!("attribute '{name}': {e}")))?),
            },
            None => dtype_of(or, cx)?,
        },
        DTypeRule::InputOr(k, or) => {
            if cx.present(*k) {
                cx.dtype(*k)
            } else {
                dtype_of(or, cx)?
            }
        }
        DTypeRule::TensorAttr(name, or) => match cx.node.attr(name) {
            Some(a) => Some(a.as_tensor().map_err(|e| cx.err(e))?.dtype()),
            None => dtype_of(or, cx)?,
        },
        DTypeRule::Special => None,
    })
}

/// One output of input 0's shape per output of the node.
pub(crate) fn same(cx: &Cx<'_>) -> Vec<Out> {
    let d = cx.dims(0).map(<[Dim]>::to_vec);
    cx.node.outputs.iter().map(|_| Out::maybe(d.clone())).collect()
}

/// Input 0's shape and tracked values (Identity, Cast between integers).
fn pass_through(cx: &Cx<'_>) -> Vec<Out> {
    let mut o = Out::maybe(cx.dims(0).map(<[Dim]>::to_vec));
    o.value = cx.k(0).and_then(|k| k.value.clone());
    vec![o]
}

/// Elementwise integer arithmetic on tracked values (scalars broadcast).
fn arith(cx: &Cx<'_>, shape: &Option<Vec<Dim>>) -> Option<Values> {
    let (a, b) = (cx.ints(0)?, cx.ints(1)?);
    let n = a.len().max(b.len());
    if !(a.len() == n || a.len() == 1) || !(b.len() == n || b.len() == 1) {
        return None;
    }
    let _ = shape.as_ref()?;
    let op = cx.node.op.as_str();
    let fmod = cx.node.attr_int("fmod", 0).ok() == Some(1);
    let out = (0..n)
        .map(|k| {
            let (Some(x), Some(y)) = (a.get(if a.len() == 1 { 0 } else { k }), b.get(if b.len() == 1 { 0 } else { k }))
            else {
                return SymInt::Unknown;
            };
            match (x, y, op) {
                (SymInt::Int(p), SymInt::Int(q), _) => match op {
                    "Add" => p.checked_add(*q),
                    "Sub" => p.checked_sub(*q),
                    "Mul" => p.checked_mul(*q),
                    // ONNX integer Div truncates toward zero, as Rust does.
                    "Div" if *q != 0 => p.checked_div(*q),
                    // Integer Mod takes the divisor's sign (fmod = 0), or the dividend's (fmod = 1).
                    "Mod" if *q != 0 => {
                        p.checked_rem(*q).map(|r| if !fmod && r != 0 && (r < 0) != (*q < 0) { r + q } else { r })
                    }
                    _ => None,
                }
                .map_or(SymInt::Unknown, SymInt::Int),
                (s, SymInt::Int(0), "Add" | "Sub") | (SymInt::Int(0), s, "Add") => s.clone(),
                (s, SymInt::Int(1), "Mul" | "Div") | (SymInt::Int(1), s, "Mul") => s.clone(),
                _ => SymInt::Unknown,
            }
        })
        .collect();
    Some(Values::Ints(out))
}

/// Picks the rule for the node's op.
fn rule(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let s = cx.schema;
    if !s.domain.is_empty() {
        return control::ml(cx);
    }
    let op = s.op;
    Ok(match op {
        "Identity" => pass_through(cx),
        "Cast" | "CastLike" => {
            let to_int = cx.node.attr("to").and_then(|a| a.as_int().ok()).and_then(DType::from_onnx_code);
            let target = if op == "Cast" { to_int } else { cx.dtype(1) };
            if target.is_some_and(|d| d.is_int()) && cx.dtype(0).is_some_and(|d| d.is_int()) {
                pass_through(cx)
            } else {
                same(cx)
            }
        }
        "Add" | "Sub" | "Mul" | "Div" | "Mod" => {
            let shape = cx.broadcast(0..2)?;
            let value = arith(cx, &shape);
            vec![Out { shape, value, ty: None }]
        }
        "PRelu" => vec![Out::maybe(cx.broadcast(0..2)?)],
        "Where" => vec![Out::maybe(cx.broadcast(0..3)?)],
        _ if s.is(Class::BROADCAST) => vec![Out::maybe(cx.broadcast(0..cx.n_in())?)],
        _ if s.is(Class::UNARY) || s.is(Class::ACTIVATION) => same(cx),
        "Softmax"
        | "LogSoftmax"
        | "Hardmax"
        | "LRN"
        | "CumSum"
        | "CumProd"
        | "Trilu"
        | "EyeLike"
        | "ReverseSequence"
        | "ScatterND"
        | "ScatterElements"
        | "Scatter"
        | "TensorScatter"
        | "RotaryEmbedding"
        | "RegexFullMatch"
        | "QuantizeLinear"
        | "DequantizeLinear"
        | "RandomNormalLike"
        | "RandomUniformLike"
        | "Bernoulli"
        | "MeanVarianceNormalization"
        | "LpNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "RMSNormalization" => same(cx),
        _ => match shapes::rule(cx)? {
            Some(o) => o,
            None => match layers::rule(cx)? {
                Some(o) => o,
                None => control::rule(cx)?,
            },
        },
    })
}
