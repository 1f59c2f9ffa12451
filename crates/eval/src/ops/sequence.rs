//! Sequence and optional ops: SequenceConstruct, SequenceEmpty, SequenceAt,
//! SequenceInsert, SequenceErase, SequenceLength, SplitToSequence,
//! ConcatFromSequence, SequenceMap, Optional, OptionalHasElement and
//! OptionalGetElement.
//!
//! The sequence ops appeared in opset 11 (SplitToSequence widened its types
//! in 24), SequenceMap in 17, the optional ops in 15. From opset 18
//! OptionalHasElement and OptionalGetElement also accept plain tensors and
//! sequences, and OptionalHasElement a missing input. Also home of the
//! tensor joining helpers (concatenate, stack, slice along an axis) that the
//! control-flow ops share.

use ir::ValueType;
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, bail, map_any, util};

/// Registers the sequence and optional ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("SequenceConstruct", sequence_construct);
    r.add("SequenceEmpty", sequence_empty);
    r.add("SequenceAt", sequence_at);
    r.add("SequenceInsert", sequence_insert);
    r.add("SequenceErase", sequence_erase);
    r.add("SequenceLength", sequence_length);
    r.add("SplitToSequence", split_to_sequence);
    r.add("ConcatFromSequence", concat_from_sequence);
    r.add("SequenceMap", sequence_map);
    r.add("Optional", optional);
    r.add("OptionalHasElement", optional_has_element);
    r.add("OptionalGetElement", optional_get_element);
}

// ---------------------------------------------------------------------------
// Shared helpers (also used by control.rs).

/// How to join arrays of one element type (see [`join`]).
trait Joiner {
    fn join<T: Clone>(&self, views: &[ArrayViewD<'_, T>]) -> Result<ArrayD<T>>;
}

/// Concatenation along an existing axis.
struct Concat(usize);
/// Stacking along a new axis.
struct Stack(usize);

impl Joiner for Concat {
    fn join<T: Clone>(&self, views: &[ArrayViewD<'_, T>]) -> Result<ArrayD<T>> {
        match ndarray::concatenate(Axis(self.0), views) {
            Ok(a) => Ok(a),
            Err(_) => {
                let shapes: Vec<&[usize]> = views.iter().map(|v| v.shape()).collect();
                bail!("cannot concatenate shapes {shapes:?} along axis {}", self.0)
            }
        }
    }
}

impl Joiner for Stack {
    fn join<T: Clone>(&self, views: &[ArrayViewD<'_, T>]) -> Result<ArrayD<T>> {
        match ndarray::stack(Axis(self.0), views) {
            Ok(a) => Ok(a),
            Err(_) => {
                let shapes: Vec<&[usize]> = views.iter().map(|v| v.shape()).collect();
                bail!("cannot stack shapes {shapes:?} along a new axis {}", self.0)
            }
        }
    }
}

/// Joins tensors of one dtype with `j`; errors on mixed dtypes or an empty list.
fn join(ts: &[&Tensor], j: &impl Joiner) -> Result<Tensor> {
    let Some(first) = ts.first() else { bail!("nothing to join: the list of tensors is empty") };
    let dt = first.dtype();
    if let Some(other) = ts.iter().find(|t| t.dtype() != dt) {
        bail!("cannot join tensors of different types ({dt} and {})", other.dtype());
    }
    // The dtype check above makes every extraction below succeed.
    macro_rules! arm {
        ($v:ident) => {{
            let views: Vec<_> =
                ts.iter().filter_map(|t| if let Tensor::$v(a) = t { Some(a.view()) } else { None }).collect();
            Tensor::$v(j.join(&views)?)
        }};
    }
    Ok(match first {
        Tensor::F32(_) => arm!(F32),
        Tensor::F64(_) => arm!(F64),
        Tensor::F16(_) => arm!(F16),
        Tensor::BF16(_) => arm!(BF16),
        Tensor::I8(_) => arm!(I8),
        Tensor::I16(_) => arm!(I16),
        Tensor::I32(_) => arm!(I32),
        Tensor::I64(_) => arm!(I64),
        Tensor::U8(_) => arm!(U8),
        Tensor::U16(_) => arm!(U16),
        Tensor::U32(_) => arm!(U32),
        Tensor::U64(_) => arm!(U64),
        Tensor::Bool(_) => arm!(Bool),
        Tensor::Str(_) => arm!(Str),
        Tensor::I4(_) => arm!(I4),
        Tensor::U4(_) => arm!(U4),
        Tensor::I2(_) => arm!(I2),
        Tensor::U2(_) => arm!(U2),
        Tensor::C64(_) => arm!(C64),
        Tensor::C128(_) => arm!(C128),
        Tensor::F8(d, _) => {
            let views: Vec<_> =
                ts.iter().filter_map(|t| if let Tensor::F8(_, a) = t { Some(a.view()) } else { None }).collect();
            Tensor::F8(*d, j.join(&views)?)
        }
    })
}

/// Concatenates tensors of one dtype along an existing axis.
pub(crate) fn concat(ts: &[&Tensor], axis: usize) -> Result<Tensor> {
    join(ts, &Concat(axis))
}

/// Stacks tensors of one dtype and shape along a new axis.
pub(crate) fn stack(ts: &[&Tensor], axis: usize) -> Result<Tensor> {
    join(ts, &Stack(axis))
}

/// The sub-tensor at `index` along `axis` (that axis removed). Bounds are the caller's to check.
pub(crate) fn index_axis(t: &Tensor, axis: usize, index: usize) -> Tensor {
    map_any!(t, a => a.index_axis(Axis(axis), index).to_owned())
}

/// The elements `start..end` along `axis`. Bounds are the caller's to check.
fn slice_axis(t: &Tensor, axis: usize, start: usize, end: usize) -> Tensor {
    map_any!(t, a => a.slice_axis(Axis(axis), Slice::from(start..end)).to_owned())
}

/// A tensor of `shape` filled with the default (zero, false, empty) element of `like`'s dtype.
pub(crate) fn zeros_like_dtype(like: &Tensor, shape: &[usize]) -> Tensor {
    map_any!(like, _a => ArrayD::from_elem(IxDyn(shape), Default::default()))
}

/// The run-time type of a value, as the IR describes it (shapes left open).
pub(crate) fn value_type_of(v: &Value) -> ValueType {
    match v {
        Value::Tensor(t) => ValueType::Tensor { dtype: Some(t.dtype()), shape: None },
        Value::Sequence(items) => {
            ValueType::Sequence(Box::new(items.first().map_or(ValueType::Unknown, value_type_of)))
        }
        Value::Optional(_, ty) => ValueType::Optional(Box::new(ty.clone())),
    }
}

/// Input `i` as a sequence (required).
fn seq_input<'v>(inputs: &[Option<&'v Value>], i: usize) -> Result<&'v [Value]> {
    match inputs.get(i).copied().flatten() {
        Some(Value::Sequence(s)) => Ok(s),
        Some(Value::Tensor(_)) => bail!("input {i}: expected a sequence, got a tensor"),
        Some(Value::Optional(..)) => bail!("input {i}: expected a sequence, got an optional"),
        None => bail!("required input {i} (a sequence) is missing"),
    }
}

/// A position input: a one-element integer tensor, normalized against `len`
/// to the range `0..=len` (`allow_end`) or `0..len`.
fn position(t: &Tensor, len: usize, allow_end: bool) -> Result<usize> {
    if t.rank() > 1 {
        bail!("position must be a scalar, got shape {:?}", t.shape());
    }
    let p = t.scalar_i64()?;
    let n = len as i64;
    let hi = if allow_end { n } else { n - 1 };
    if p < -n || p > hi {
        bail!("position {p} is out of range for a sequence of length {len}");
    }
    Ok(if p < 0 { (p + n) as usize } else { p as usize })
}

/// Checks that `t` has the element type of the sequence's tensors.
fn check_elem_type(seq: &[Value], t: &Tensor) -> Result<()> {
    if let Some(Value::Tensor(first)) = seq.first()
        && first.dtype() != t.dtype()
    {
        bail!("cannot put a {} tensor into a sequence of {} tensors", t.dtype(), first.dtype());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sequence ops.

/// SequenceConstruct: a sequence of the input tensors, all of one dtype.
fn sequence_construct(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let mut items = Vec::with_capacity(inputs.len());
    for i in 0..inputs.len() {
        let t = ctx.input(inputs, i)?;
        if let Some(Value::Tensor(first)) = items.first()
            && first.dtype() != t.dtype()
        {
            bail!("all inputs must have one type, got {} and {}", first.dtype(), t.dtype());
        }
        items.push(Value::Tensor(t.clone()));
    }
    if items.is_empty() {
        bail!("needs at least one input");
    }
    Ok(vec![Value::Sequence(items)])
}

/// SequenceEmpty: an empty sequence (the `dtype` attribute only types it).
fn sequence_empty(_ctx: &Ctx<'_>, _inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    Ok(vec![Value::Sequence(Vec::new())])
}

/// SequenceAt: the element at a (possibly negative) position.
fn sequence_at(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let seq = seq_input(inputs, 0)?;
    let p = position(ctx.input(inputs, 1)?, seq.len(), false)?;
    Ok(vec![seq[p].clone()])
}

/// SequenceInsert: inserts a tensor at a position (default: the end).
fn sequence_insert(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let seq = seq_input(inputs, 0)?;
    let t = ctx.input(inputs, 1)?;
    check_elem_type(seq, t)?;
    let p = match ctx.opt_input(inputs, 2)? {
        Some(p) => position(p, seq.len(), true)?,
        None => seq.len(),
    };
    let mut out = Vec::with_capacity(seq.len() + 1);
    out.extend_from_slice(&seq[..p]);
    out.push(Value::Tensor(t.clone()));
    out.extend_from_slice(&seq[p..]);
    Ok(vec![Value::Sequence(out)])
}

/// SequenceErase: removes the element at a position (default: the last).
fn sequence_erase(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let seq = seq_input(inputs, 0)?;
    if seq.is_empty() {
        bail!("cannot erase from an empty sequence");
    }
    let p = match ctx.opt_input(inputs, 1)? {
        Some(p) => position(p, seq.len(), false)?,
        None => seq.len() - 1,
    };
    let mut out = seq.to_vec();
    out.remove(p);
    Ok(vec![Value::Sequence(out)])
}

/// SequenceLength: the number of elements, as an int64 scalar.
fn sequence_length(_ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let seq = seq_input(inputs, 0)?;
    Ok(vec![Value::Tensor(Tensor::I64(ArrayD::from_elem(IxDyn(&[]), seq.len() as i64)))])
}

/// SplitToSequence: splits along `axis` into equal chunks (scalar `split`),
/// given lengths (1-D `split`) or single slices (no `split`; `keepdims`).
fn split_to_sequence(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis = util::axis(ctx.int("axis", 0)?, x.rank())?;
    if x.rank() == 0 {
        bail!("cannot split a scalar");
    }
    let dim = x.shape()[axis];
    let Some(split) = ctx.opt_input(inputs, 1)? else {
        let keepdims = ctx.int("keepdims", 1)? != 0;
        let items = (0..dim)
            .map(|i| {
                let t = if keepdims { slice_axis(x, axis, i, i + 1) } else { index_axis(x, axis, i) };
                Value::Tensor(t)
            })
            .collect();
        return Ok(vec![Value::Sequence(items)]);
    };
    let lengths = match split.rank() {
        0 => {
            let chunk = split.scalar_i64()?;
            if chunk <= 0 {
                bail!("split must be positive, got {chunk}");
            }
            let chunk = chunk as usize;
            let mut v = vec![chunk; dim / chunk];
            if dim % chunk != 0 {
                v.push(dim % chunk);
            }
            v
        }
        1 => {
            let v = util::dims(&split.to_i64_vec()?)?;
            if v.iter().sum::<usize>() != dim {
                bail!("split lengths {v:?} do not add up to the dimension {dim} of axis {axis}");
            }
            v
        }
        r => bail!("split must be a scalar or 1-D, got rank {r}"),
    };
    let mut start = 0;
    let mut items = Vec::with_capacity(lengths.len());
    for len in lengths {
        items.push(Value::Tensor(slice_axis(x, axis, start, start + len)));
        start += len;
    }
    Ok(vec![Value::Sequence(items)])
}

/// ConcatFromSequence: concatenates the tensors along `axis`, or stacks
/// them along a new axis with `new_axis=1`.
fn concat_from_sequence(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let seq = seq_input(inputs, 0)?;
    let ts = seq.iter().map(Value::tensor).collect::<Result<Vec<_>>>()?;
    let Some(first) = ts.first() else { bail!("cannot concatenate an empty sequence") };
    let Some(axis) = ctx.node.attr("axis") else { bail!("missing required attribute 'axis'") };
    let axis = axis.as_int()?;
    let new_axis = ctx.int("new_axis", 0)? != 0;
    let out = if new_axis {
        stack(&ts, util::axis(axis, first.rank() + 1)?)?
    } else {
        if first.rank() == 0 {
            bail!("cannot concatenate scalars without new_axis=1");
        }
        concat(&ts, util::axis(axis, first.rank())?)?
    };
    Ok(vec![Value::Tensor(out)])
}

/// SequenceMap: runs `body` once per element of the input sequence; extra
/// inputs that are sequences are walked in step, tensors are passed whole.
/// Each body output is collected into a sequence.
fn sequence_map(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let body = ctx.graph("body")?;
    let seq = seq_input(inputs, 0)?;
    let extra: Vec<&Value> = (1..inputs.len())
        .map(|i| inputs[i].ok_or_else(|| crate::Error::op(format!("input {i} is missing"))))
        .collect::<Result<_>>()?;
    for (i, v) in extra.iter().enumerate() {
        if let Value::Sequence(s) = v
            && s.len() != seq.len()
        {
            bail!("input {} has {} elements, the input sequence {}", i + 1, s.len(), seq.len());
        }
    }
    let mut outs: Vec<Vec<Value>> = vec![Vec::with_capacity(seq.len()); body.outputs.len()];
    for (k, item) in seq.iter().enumerate() {
        let mut feeds = Vec::with_capacity(1 + extra.len());
        feeds.push(item.clone());
        for v in &extra {
            feeds.push(match v {
                Value::Sequence(s) => s[k].clone(),
                other => (*other).clone(),
            });
        }
        for (o, v) in outs.iter_mut().zip(ctx.run_graph(body, feeds)?) {
            o.push(v);
        }
    }
    Ok(outs.into_iter().map(Value::Sequence).collect())
}

// ---------------------------------------------------------------------------
// Optional ops.

/// Optional: wraps the input, or makes an empty optional of the `type` attribute.
fn optional(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let ty = match ctx.node.attr("type") {
        None => None,
        Some(ir::Attribute::Type(t)) => Some(t.clone()),
        Some(a) => bail!("attribute 'type' is a {:?}, expected a type", a.kind()),
    };
    let out = match inputs.first().copied().flatten() {
        Some(v) => {
            let actual = value_type_of(v);
            if let (Some(ValueType::Tensor { dtype: Some(want), .. }), ValueType::Tensor { dtype: Some(got), .. }) =
                (&ty, &actual)
                && want != got
            {
                bail!("the input is a {got} tensor but the 'type' attribute says {want}");
            }
            Value::Optional(Some(Box::new(v.clone())), actual)
        }
        None => match ty {
            Some(t) => Value::Optional(None, t),
            None => bail!("an empty optional needs the 'type' attribute"),
        },
    };
    Ok(vec![out])
}

/// OptionalHasElement: whether an optional holds a value. A tensor or
/// sequence counts as present at every opset (before 18 the type checker
/// forbids them, but a loop-carried optional becomes a plain value after the
/// first iteration); a missing input gives false from opset 18.
fn optional_has_element(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let has = match inputs.first().copied().flatten() {
        Some(Value::Optional(v, _)) => v.is_some(),
        Some(_) => true,
        None if ctx.opset >= 18 => false,
        None => bail!("required input 0 is missing (it may be omitted from opset 18)"),
    };
    Ok(vec![Value::Tensor(Tensor::Bool(ArrayD::from_elem(IxDyn(&[]), has)))])
}

/// OptionalGetElement: the value inside an optional (an error when empty);
/// a tensor or sequence passes through unchanged (the opset-18 rule,
/// accepted earlier too for the reason given at [`optional_has_element`]).
fn optional_get_element(_ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let v = match inputs.first().copied().flatten() {
        Some(Value::Optional(Some(v), _)) => (**v).clone(),
        Some(Value::Optional(None, ty)) => bail!("the optional is empty (of type {ty})"),
        Some(v) => v.clone(),
        None => bail!("required input 0 is missing"),
    };
    Ok(vec![v])
}

#[cfg(test)]
mod tests {
    use ir::{DType, Graph, Model, Node, ValueInfo};

    use super::*;

    /// Runs a one-node model at `opset` and returns its outputs.
    fn run_node(node: Node, opset: i64, inputs: Vec<(&str, Value)>) -> Result<Vec<Value>> {
        let graph = Graph {
            inputs: inputs.iter().map(|(n, _)| ValueInfo::untyped(*n)).collect(),
            outputs: node.outputs.iter().map(ValueInfo::untyped).collect(),
            nodes: vec![node],
            ..Graph::default()
        };
        let mut model = Model::new(graph);
        model.opset_imports.insert(String::new(), opset);
        let feeds = inputs.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        Ok(crate::run(&model, feeds)?.into_iter().map(|(_, v)| v).collect())
    }

    fn t(shape: &[usize], data: Vec<f32>) -> Value {
        Value::Tensor(Tensor::f32(shape, data).unwrap())
    }

    fn i(v: i64) -> Value {
        Value::Tensor(Tensor::I64(ArrayD::from_elem(IxDyn(&[]), v)))
    }

    /// (shape, values) of each tensor of a sequence value.
    fn items(v: &Value) -> Vec<(Vec<usize>, Vec<f64>)> {
        let Value::Sequence(s) = v else { panic!("expected a sequence, got {v:?}") };
        s.iter().map(|x| (x.tensor().unwrap().shape().to_vec(), x.tensor().unwrap().to_f64_vec().unwrap())).collect()
    }

    fn abc() -> Value {
        Value::Sequence(vec![t(&[1], vec![1.]), t(&[1], vec![2.]), t(&[1], vec![3.])])
    }

    #[test]
    fn split_to_sequence_forms() {
        let x = t(&[5, 2], (0..10).map(|v| v as f32).collect());
        let split = |sp: Option<Value>, attrs: Vec<(&str, i64)>| {
            let mut node = Node::new("SplitToSequence", if sp.is_some() { vec!["x", "s"] } else { vec!["x"] }, ["y"]);
            for (k, v) in attrs {
                node = node.with_attr(k, v);
            }
            let mut inputs = vec![("x", x.clone())];
            inputs.extend(sp.map(|s| ("s", s)));
            run_node(node, 24, inputs)
        };
        let out = split(Some(i(2)), vec![]).unwrap();
        let shapes: Vec<Vec<usize>> = items(&out[0]).into_iter().map(|(s, _)| s).collect();
        assert_eq!(shapes, vec![vec![2, 2], vec![2, 2], vec![1, 2]]);
        let out = split(Some(Value::Tensor(Tensor::i64(&[2], vec![1, 1]).unwrap())), vec![("axis", -1)]).unwrap();
        assert_eq!(items(&out[0])[1], (vec![5, 1], vec![1., 3., 5., 7., 9.]));
        let out = split(None, vec![("axis", 1), ("keepdims", 0)]).unwrap();
        assert_eq!(items(&out[0])[0], (vec![5], vec![0., 2., 4., 6., 8.]));
        // keepdims only applies without split.
        let out = split(Some(i(1)), vec![("keepdims", 0)]).unwrap();
        assert_eq!(items(&out[0])[0].0, vec![1, 2]);
        assert!(split(Some(Value::Tensor(Tensor::i64(&[2], vec![1, 2]).unwrap())), vec![]).is_err());
        assert!(split(Some(i(0)), vec![]).is_err());
    }

    #[test]
    fn insert_erase_at_positions() {
        let insert = |pos: Option<i64>| {
            let node =
                Node::new("SequenceInsert", if pos.is_some() { vec!["s", "x", "p"] } else { vec!["s", "x"] }, ["y"]);
            let mut inputs = vec![("s", abc()), ("x", t(&[1], vec![9.]))];
            inputs.extend(pos.map(|p| ("p", i(p))));
            run_node(node, 11, inputs).map(|o| items(&o[0]).into_iter().map(|(_, v)| v[0]).collect::<Vec<_>>())
        };
        assert_eq!(insert(None).unwrap(), vec![1., 2., 3., 9.]);
        assert_eq!(insert(Some(3)).unwrap(), vec![1., 2., 3., 9.]);
        assert_eq!(insert(Some(-3)).unwrap(), vec![9., 1., 2., 3.]);
        assert_eq!(insert(Some(-1)).unwrap(), vec![1., 2., 9., 3.]);
        assert!(insert(Some(4)).is_err());
        let wrong_type = run_node(Node::new("SequenceInsert", ["s", "x"], ["y"]), 11, vec![("s", abc()), ("x", i(1))]);
        assert!(wrong_type.is_err());

        let erase = |pos: i64| {
            run_node(Node::new("SequenceErase", ["s", "p"], ["y"]), 11, vec![("s", abc()), ("p", i(pos))])
                .map(|o| items(&o[0]).into_iter().map(|(_, v)| v[0]).collect::<Vec<_>>())
        };
        assert_eq!(erase(-1).unwrap(), vec![1., 2.]);
        assert_eq!(erase(0).unwrap(), vec![2., 3.]);
        assert!(erase(3).is_err());

        let at = |pos: i64| run_node(Node::new("SequenceAt", ["s", "p"], ["y"]), 11, vec![("s", abc()), ("p", i(pos))]);
        assert_eq!(at(-3).unwrap()[0], t(&[1], vec![1.]));
        assert!(at(3).is_err());
        let len = run_node(Node::new("SequenceLength", ["s"], ["y"]), 11, vec![("s", abc())]).unwrap();
        assert_eq!(len[0], i(3));
    }

    #[test]
    fn construct_and_concat() {
        let node = Node::new("SequenceConstruct", ["a", "b"], ["s"]);
        let out =
            run_node(node.clone(), 11, vec![("a", t(&[1, 2], vec![1., 2.])), ("b", t(&[1, 2], vec![3., 4.]))]).unwrap();
        assert_eq!(items(&out[0]).len(), 2);
        assert!(run_node(node, 11, vec![("a", t(&[1], vec![1.])), ("b", i(1))]).is_err());

        let seq = Value::Sequence(vec![t(&[1, 2], vec![1., 2.]), t(&[1, 2], vec![3., 4.])]);
        let concat = |axis: i64, new_axis: i64| {
            let node =
                Node::new("ConcatFromSequence", ["s"], ["y"]).with_attr("axis", axis).with_attr("new_axis", new_axis);
            run_node(node, 11, vec![("s", seq.clone())]).map(|o| {
                let t = o[0].tensor().unwrap().clone();
                (t.shape().to_vec(), t.to_f64_vec().unwrap())
            })
        };
        assert_eq!(concat(0, 0).unwrap(), (vec![2, 2], vec![1., 2., 3., 4.]));
        assert_eq!(concat(-1, 0).unwrap(), (vec![1, 4], vec![1., 2., 3., 4.]));
        assert_eq!(concat(-1, 1).unwrap(), (vec![1, 2, 2], vec![1., 3., 2., 4.]));
        assert_eq!(concat(2, 1).unwrap().0, vec![1, 2, 2]);
        assert!(concat(2, 0).is_err());
        let empty =
            run_node(Node::new("SequenceEmpty", Vec::<String>::new(), ["s"]).with_attr("dtype", 7i64), 11, vec![])
                .unwrap();
        assert_eq!(empty[0], Value::Sequence(vec![]));
    }

    #[test]
    fn sequence_map_zips_sequences_and_repeats_tensors() {
        // body (a, b) -> (b, a)
        let body = Graph {
            name: "body".into(),
            inputs: vec![ValueInfo::untyped("a"), ValueInfo::untyped("b")],
            outputs: vec![ValueInfo::untyped("b"), ValueInfo::untyped("a")],
            ..Graph::default()
        };
        let node = Node::new("SequenceMap", ["s", "x"], ["p", "q"]).with_attr("body", body);
        let out = run_node(node.clone(), 17, vec![("s", abc()), ("x", t(&[1], vec![7.]))]).unwrap();
        assert_eq!(items(&out[0]).into_iter().map(|(_, v)| v[0]).collect::<Vec<_>>(), vec![7., 7., 7.]);
        assert_eq!(items(&out[1]).into_iter().map(|(_, v)| v[0]).collect::<Vec<_>>(), vec![1., 2., 3.]);
        let other = Value::Sequence(vec![t(&[1], vec![4.]), t(&[1], vec![5.]), t(&[1], vec![6.])]);
        let out = run_node(node.clone(), 17, vec![("s", abc()), ("x", other)]).unwrap();
        assert_eq!(items(&out[0]).into_iter().map(|(_, v)| v[0]).collect::<Vec<_>>(), vec![4., 5., 6.]);
        let short = Value::Sequence(vec![t(&[1], vec![4.])]);
        assert!(run_node(node, 17, vec![("s", abc()), ("x", short)]).is_err());
    }

    #[test]
    fn optionals() {
        let ty = ValueType::Tensor { dtype: Some(DType::F32), shape: None };
        let empty = run_node(
            Node::new("Optional", Vec::<String>::new(), ["o"]).with_attr("type", ir::Attribute::Type(ty.clone())),
            15,
            vec![],
        )
        .unwrap();
        assert_eq!(empty[0], Value::Optional(None, ty.clone()));
        let full = run_node(Node::new("Optional", ["x"], ["o"]), 15, vec![("x", t(&[1], vec![1.]))]).unwrap();
        assert!(matches!(&full[0], Value::Optional(Some(_), _)));

        let has = |opset: i64, v: Option<Value>| {
            let node = Node::new("OptionalHasElement", if v.is_some() { vec!["x"] } else { vec![""] }, ["y"]);
            run_node(node, opset, v.map(|v| vec![("x", v)]).unwrap_or_default())
                .map(|o| o[0].tensor().unwrap().to_f64_vec().unwrap()[0] != 0.0)
        };
        assert!(!has(15, Some(empty[0].clone())).unwrap());
        assert!(has(15, Some(full[0].clone())).unwrap());
        assert!(has(18, Some(t(&[1], vec![1.]))).unwrap());
        assert!(!has(18, None).unwrap());
        assert!(has(15, None).is_err());

        let get = |v: Value| run_node(Node::new("OptionalGetElement", ["x"], ["y"]), 18, vec![("x", v)]);
        assert_eq!(get(full[0].clone()).unwrap()[0], t(&[1], vec![1.]));
        assert_eq!(get(abc()).unwrap()[0], abc());
        assert!(get(empty[0].clone()).unwrap_err().to_string().contains("empty"));
    }
}
