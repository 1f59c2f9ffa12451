//! Control flow: If, Loop and Scan, whose bodies are subgraphs run through
//! [`Ctx::run_graph`] (they may read values of the enclosing scopes).
//!
//! Opset history: If and Loop gained sequence values (opset 13) and optional
//! values (16) without changing behaviour. Scan-8 works on batches (axis 0
//! is the batch, axis 1 the sequence) with an optional `sequence_lens`
//! input and a `directions` attribute; Scan-9 dropped the batch and added
//! per-input/per-output axes and directions; from Scan-11 those axes may be
//! negative.
//!
//! Loop follows the spec where onnxruntime does not: without the `cond`
//! input the body's condition output is ignored (onnxruntime stops on it).

use ir::{DType, Graph, ValueType};
use ndarray::{ArrayD, IxDyn};

use super::sequence::{index_axis, stack, zeros_like_dtype};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, bail, util};

/// Registers If, Loop and Scan.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("If", if_op);
    r.add("Loop", loop_op);
    r.add("Scan", scan);
}

/// The value of a one-element bool tensor.
fn bool_scalar(v: &Value, what: &str) -> Result<bool> {
    match v {
        Value::Tensor(Tensor::Bool(a)) if a.len() == 1 => Ok(a.iter().any(|&b| b)),
        Value::Tensor(Tensor::Bool(a)) => bail!("{what} must hold one element, got shape {:?}", a.shape()),
        Value::Tensor(t) => bail!("{what} must be a bool tensor, got {}", t.dtype()),
        _ => bail!("{what} must be a bool tensor"),
    }
}

/// An int64 scalar value.
fn i64_value(v: i64) -> Value {
    Value::Tensor(Tensor::I64(ArrayD::from_elem(IxDyn(&[]), v)))
}

/// A bool scalar value.
fn bool_value(v: bool) -> Value {
    Value::Tensor(Tensor::Bool(ArrayD::from_elem(IxDyn(&[]), v)))
}

/// An empty tensor standing for a scan output that no iteration produced:
/// the body's declared element type and shape (when fully known) with a
/// zero-length axis inserted at `axis`.
fn empty_scan_output(body: &Graph, output: usize, axis: i64) -> Result<Tensor> {
    let (dtype, shape) = match body.outputs.get(output).map(|o| &o.ty) {
        Some(ValueType::Tensor { dtype, shape }) => (dtype.unwrap_or(DType::F32), shape.as_ref()),
        _ => (DType::F32, None),
    };
    let mut dims: Vec<usize> = match shape.and_then(|s| s.as_fixed()) {
        Some(d) => d.into_iter().map(|v| usize::try_from(v).unwrap_or(0)).collect(),
        None => Vec::new(),
    };
    let ax = util::axis(axis, dims.len() + 1)?;
    dims.insert(ax, 0);
    let like = match dtype {
        DType::F32 => Tensor::F32(ArrayD::default(IxDyn(&[]))),
        DType::F64 => Tensor::F64(ArrayD::default(IxDyn(&[]))),
        DType::F16 => Tensor::F16(ArrayD::default(IxDyn(&[]))),
        DType::BF16 => Tensor::BF16(ArrayD::default(IxDyn(&[]))),
        DType::I8 => Tensor::I8(ArrayD::default(IxDyn(&[]))),
        DType::I16 => Tensor::I16(ArrayD::default(IxDyn(&[]))),
        DType::I32 => Tensor::I32(ArrayD::default(IxDyn(&[]))),
        DType::I64 => Tensor::I64(ArrayD::default(IxDyn(&[]))),
        DType::U8 => Tensor::U8(ArrayD::default(IxDyn(&[]))),
        DType::U16 => Tensor::U16(ArrayD::default(IxDyn(&[]))),
        DType::U32 => Tensor::U32(ArrayD::default(IxDyn(&[]))),
        DType::U64 => Tensor::U64(ArrayD::default(IxDyn(&[]))),
        DType::Bool => Tensor::Bool(ArrayD::default(IxDyn(&[]))),
        DType::String => Tensor::Str(ArrayD::default(IxDyn(&[]))),
        DType::I4 => Tensor::I4(ArrayD::default(IxDyn(&[]))),
        DType::U4 => Tensor::U4(ArrayD::default(IxDyn(&[]))),
        d @ (DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F8E8M0) => {
            Tensor::F8(d, ArrayD::default(IxDyn(&[])))
        }
        d => bail!("scan output {output} has type {d}, which the evaluator does not compute on"),
    };
    Ok(zeros_like_dtype(&like, &dims))
}

/// Stacks per-iteration scan outputs along `axis` (of the stacked rank),
/// or makes an empty output when there were no iterations.
fn stack_scan_output(items: &[Tensor], axis: i64, body: &Graph, output: usize) -> Result<Tensor> {
    let Some(first) = items.first() else { return empty_scan_output(body, output, axis) };
    let ax = util::axis(axis, first.rank() + 1)?;
    let refs: Vec<&Tensor> = items.iter().collect();
    stack(&refs, ax).map_err(|e| crate::Error::op(format!("scan output {output}: {e}")))
}

/// If: runs `then_branch` or `else_branch` (no inputs) and returns its outputs.
fn if_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let Some(cond) = inputs.first().copied().flatten() else { bail!("required input 0 (cond) is missing") };
    let branch = if bool_scalar(cond, "cond")? { "then_branch" } else { "else_branch" };
    let g = ctx.graph(branch)?;
    let outs = ctx.run_graph(g, Vec::new())?;
    let wanted = ctx.node.outputs.len();
    if outs.len() < wanted {
        bail!("{branch} has {} outputs, the node has {wanted}", outs.len());
    }
    Ok(outs)
}

/// Loop: runs `body(iteration, cond, carried...)` while the trip count (M)
/// and the condition allow. Returns the final carried values, then each
/// scan output stacked along a new axis 0.
///
/// Without the `cond` input the body's condition output is ignored, as the
/// spec says (both inputs absent loops forever).
fn loop_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let body = ctx.graph("body")?;
    let max_trips = match ctx.opt_input(inputs, 0)? {
        Some(m) => Some(m.scalar_i64().map_err(|e| crate::Error::op(format!("M: {e}")))?),
        None => None,
    };
    let use_cond = inputs.get(1).copied().flatten();
    let mut cond = match use_cond {
        Some(c) => bool_scalar(c, "cond")?,
        None => true,
    };
    let mut carried = Vec::with_capacity(inputs.len().saturating_sub(2));
    for (i, v) in inputs.iter().enumerate().skip(2) {
        match v {
            Some(v) => carried.push((*v).clone()),
            None => bail!("loop-carried input {i} is missing"),
        }
    }
    let n = carried.len();
    if body.inputs.len() != n + 2 {
        bail!("the body takes {} inputs, expected {} (iteration, cond and {n} carried)", body.inputs.len(), n + 2);
    }
    if body.outputs.len() < n + 1 {
        bail!("the body has {} outputs, expected at least {} (cond and {n} carried)", body.outputs.len(), n + 1);
    }
    let k = body.outputs.len() - n - 1;
    let mut scans: Vec<Vec<Tensor>> = vec![Vec::new(); k];
    let mut i: i64 = 0;
    while cond && max_trips.is_none_or(|m| i < m) {
        let mut feeds = Vec::with_capacity(n + 2);
        feeds.push(i64_value(i));
        feeds.push(bool_value(cond));
        feeds.append(&mut carried);
        let mut outs = ctx.run_graph(body, feeds)?.into_iter();
        let cond_out = outs.next();
        if use_cond.is_some() {
            match cond_out {
                Some(c) => cond = bool_scalar(&c, "the body's condition output")?,
                None => bail!("the body produced no condition"),
            }
        }
        carried.extend(outs.by_ref().take(n));
        if carried.len() != n {
            bail!("the body produced too few outputs");
        }
        for (j, (s, v)) in scans.iter_mut().zip(outs).enumerate() {
            match v {
                Value::Tensor(t) => s.push(t),
                _ => bail!("scan output {j} must be a tensor"),
            }
        }
        i += 1;
    }
    let mut out = carried;
    for (j, s) in scans.iter().enumerate() {
        out.push(Value::Tensor(stack_scan_output(s, 0, body, n + 1 + j)?));
    }
    Ok(out)
}

/// Per-position integer attribute list: `name` if given (exactly `len`
/// entries), else zeros.
fn per_item(ctx: &Ctx<'_>, name: &str, len: usize) -> Result<Vec<i64>> {
    match ctx.ints(name)? {
        Some(v) if v.len() == len => Ok(v),
        Some(v) => bail!("attribute '{name}' has {} entries, expected {len}", v.len()),
        None => Ok(vec![0; len]),
    }
}

/// Directions must be 0 (forward) or 1 (reverse).
fn check_directions(name: &str, dirs: &[i64]) -> Result<()> {
    if let Some(d) = dirs.iter().find(|&&d| d != 0 && d != 1) {
        bail!("attribute '{name}' holds {d}; directions are 0 (forward) or 1 (reverse)");
    }
    Ok(())
}

/// Scan: iterates `body(states..., scan elements...)` over slices of the
/// scan inputs, returning the final states and the stacked scan outputs.
fn scan(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    if ctx.opset < 9 { scan8(ctx, inputs) } else { scan9(ctx, inputs) }
}

/// The number of scan inputs and, from it, of states; checks the body's arity.
fn scan_arity(ctx: &Ctx<'_>, body: &Graph, given: usize) -> Result<(usize, usize, usize)> {
    let m = match ctx.node.attr("num_scan_inputs") {
        Some(a) => a.as_int()?,
        None => bail!("missing required attribute 'num_scan_inputs'"),
    };
    if m < 1 || m as usize > given {
        bail!("num_scan_inputs is {m}, but the node has {given} state and scan inputs");
    }
    let m = m as usize;
    let n = given - m;
    if body.inputs.len() != given {
        bail!("the body takes {} inputs, the node passes {given}", body.inputs.len());
    }
    if body.outputs.len() < n {
        bail!("the body has {} outputs, fewer than the {n} states", body.outputs.len());
    }
    Ok((n, m, body.outputs.len() - n))
}

/// Scan from opset 9: no batch axis, per-input and per-output axes and directions.
fn scan9(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let body = ctx.graph("body")?;
    let (n, m, k) = scan_arity(ctx, body, inputs.len())?;
    let mut states = Vec::with_capacity(n);
    for (i, v) in inputs.iter().take(n).enumerate() {
        match v {
            Some(v) => states.push((*v).clone()),
            None => bail!("state input {i} is missing"),
        }
    }
    let xs: Vec<&Tensor> = (n..n + m).map(|i| ctx.input(inputs, i)).collect::<Result<_>>()?;
    let in_axes = per_item(ctx, "scan_input_axes", m)?;
    let in_dirs = per_item(ctx, "scan_input_directions", m)?;
    let out_axes = per_item(ctx, "scan_output_axes", k)?;
    let out_dirs = per_item(ctx, "scan_output_directions", k)?;
    check_directions("scan_input_directions", &in_dirs)?;
    check_directions("scan_output_directions", &out_dirs)?;
    let mut axes = Vec::with_capacity(m);
    let mut len = None;
    for (j, (x, &a)) in xs.iter().zip(&in_axes).enumerate() {
        if x.rank() == 0 {
            bail!("scan input {j} is a scalar; it needs an axis to scan");
        }
        let ax = util::axis(a, x.rank())?;
        let l = x.shape()[ax];
        if *len.get_or_insert(l) != l {
            bail!("scan inputs have different lengths ({} and {l}) along their scan axes", len.unwrap_or(0));
        }
        axes.push(ax);
    }
    let len = len.unwrap_or(0);
    let mut scans: Vec<Vec<Tensor>> = vec![Vec::with_capacity(len); k];
    for t in 0..len {
        let mut feeds = Vec::with_capacity(n + m);
        feeds.append(&mut states);
        for ((x, &ax), &d) in xs.iter().zip(&axes).zip(&in_dirs) {
            let idx = if d == 1 { len - 1 - t } else { t };
            feeds.push(Value::Tensor(index_axis(x, ax, idx)));
        }
        let mut outs = ctx.run_graph(body, feeds)?.into_iter();
        states.extend(outs.by_ref().take(n));
        for (j, (s, v)) in scans.iter_mut().zip(outs).enumerate() {
            match v {
                Value::Tensor(t) => s.push(t),
                _ => bail!("scan output {j} must be a tensor"),
            }
        }
    }
    let mut out = states;
    for (j, mut s) in scans.into_iter().enumerate() {
        if out_dirs[j] == 1 {
            s.reverse();
        }
        out.push(Value::Tensor(stack_scan_output(&s, out_axes[j], body, n + j)?));
    }
    Ok(out)
}

/// Scan-8: axis 0 of every state and scan input is the batch, axis 1 of the
/// scan inputs the sequence; `sequence_lens` (input 0) cuts sequences short
/// and the scan outputs are zero-padded to the longest.
fn scan8(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let body = ctx.graph("body")?;
    let rest = inputs.get(1..).unwrap_or(&[]);
    let (n, m, k) = scan_arity(ctx, body, rest.len())?;
    let all: Vec<&Tensor> = (0..n + m).map(|i| ctx.input(rest, i)).collect::<Result<_>>()?;
    let (states, xs) = all.split_at(n);
    let dirs = per_item(ctx, "directions", m)?;
    check_directions("directions", &dirs)?;
    let Some(batch) = all.first().and_then(|t| t.shape().first().copied()) else {
        bail!("inputs need a batch axis");
    };
    if let Some(t) = all.iter().find(|t| t.shape().first() != Some(&batch)) {
        bail!("inputs disagree on the batch size: {batch} and shape {:?}", t.shape());
    }
    let Some(max_len) = xs.first().and_then(|t| t.shape().get(1).copied()) else {
        bail!("scan inputs need a sequence axis (axis 1)");
    };
    if let Some(t) = xs.iter().find(|t| t.shape().get(1) != Some(&max_len)) {
        bail!("scan inputs disagree on the sequence length: {max_len} and shape {:?}", t.shape());
    }
    let lens: Vec<usize> = match ctx.opt_input(inputs, 0)? {
        None => vec![max_len; batch],
        Some(t) => {
            let v = t.to_i64_vec()?;
            if v.len() != batch {
                bail!("sequence_lens has {} entries for a batch of {batch}", v.len());
            }
            let v = util::dims(&v)?;
            if let Some(l) = v.iter().find(|&&l| l > max_len) {
                bail!("sequence length {l} exceeds the maximum {max_len}");
            }
            v
        }
    };
    let mut final_states: Vec<Vec<Tensor>> = vec![Vec::with_capacity(batch); n];
    // Per batch entry, per scan output: the stacked sequence (None if empty).
    let mut per_batch: Vec<Vec<Option<Tensor>>> = Vec::with_capacity(batch);
    for (b, &len) in lens.iter().enumerate() {
        let mut cur: Vec<Value> = states.iter().map(|s| Value::Tensor(index_axis(s, 0, b))).collect();
        let seqs: Vec<Tensor> = xs.iter().map(|x| index_axis(x, 0, b)).collect();
        let mut scans: Vec<Vec<Tensor>> = vec![Vec::with_capacity(len); k];
        for t in 0..len {
            let mut feeds = Vec::with_capacity(n + m);
            feeds.append(&mut cur);
            for (s, &d) in seqs.iter().zip(&dirs) {
                feeds.push(Value::Tensor(index_axis(s, 0, if d == 1 { len - 1 - t } else { t })));
            }
            let mut outs = ctx.run_graph(body, feeds)?.into_iter();
            cur.extend(outs.by_ref().take(n));
            for (j, (s, v)) in scans.iter_mut().zip(outs).enumerate() {
                match v {
                    Value::Tensor(t) => s.push(t),
                    _ => bail!("scan output {j} must be a tensor"),
                }
            }
        }
        for (f, v) in final_states.iter_mut().zip(cur) {
            f.push(v.into_tensor()?);
        }
        let mut row = Vec::with_capacity(k);
        for (j, s) in scans.iter().enumerate() {
            row.push(if s.is_empty() { None } else { Some(stack_scan_output(s, 0, body, n + j)?) });
        }
        per_batch.push(row);
    }
    let mut out = Vec::with_capacity(n + k);
    for (i, f) in final_states.iter().enumerate() {
        let refs: Vec<&Tensor> = f.iter().collect();
        out.push(Value::Tensor(if refs.is_empty() {
            zeros_like_dtype(states[i], states[i].shape())
        } else {
            stack(&refs, 0)?
        }));
    }
    for j in 0..k {
        // Every batch entry's sequence is padded to max_len with zeros.
        let example = per_batch.iter().find_map(|row| row[j].clone());
        let example = match example {
            Some(e) => e,
            None => empty_scan_output(body, n + j, 0)?,
        };
        let elem_shape = example.shape().get(1..).unwrap_or(&[]).to_vec();
        let mut padded = Vec::with_capacity(batch);
        for row in &per_batch {
            let got = row[j].clone();
            let have = got.as_ref().map_or(0, |t| t.shape()[0]);
            let mut pad_shape = vec![max_len - have];
            pad_shape.extend_from_slice(&elem_shape);
            let pad = zeros_like_dtype(&example, &pad_shape);
            padded.push(match got {
                Some(t) if have == max_len => t,
                Some(t) => super::sequence::concat(&[&t, &pad], 0)?,
                None => pad,
            });
        }
        let refs: Vec<&Tensor> = padded.iter().collect();
        out.push(Value::Tensor(if refs.is_empty() {
            let mut shape = vec![0, max_len];
            shape.extend_from_slice(&elem_shape);
            zeros_like_dtype(&example, &shape)
        } else {
            stack(&refs, 0)?
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ir::{DType, Graph, Model, Node, Shape, ValueInfo};

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

    /// A subgraph without nodes: inputs and outputs by name (outputs may be
    /// inputs or outer-scope values).
    fn passthrough(inputs: &[&str], outputs: Vec<ValueInfo>) -> Graph {
        Graph {
            name: "body".into(),
            inputs: inputs.iter().map(|n| ValueInfo::untyped(*n)).collect(),
            outputs,
            ..Graph::default()
        }
    }

    fn f32s(v: &Value) -> (Vec<usize>, Vec<f64>) {
        let t = v.tensor().unwrap();
        (t.shape().to_vec(), t.to_f64_vec().unwrap())
    }

    fn f32_value(shape: &[usize], data: Vec<f32>) -> Value {
        Value::Tensor(Tensor::f32(shape, data).unwrap())
    }

    #[test]
    fn if_picks_a_branch_reading_the_outer_scope() {
        let then_g = passthrough(&[], vec![ValueInfo::untyped("a")]);
        let else_g = passthrough(&[], vec![ValueInfo::untyped("b")]);
        let node = Node::new("If", ["c"], ["y"]).with_attr("then_branch", then_g).with_attr("else_branch", else_g);
        for (c, want) in [(true, 1.0), (false, 2.0)] {
            let out = run_node(
                node.clone(),
                13,
                vec![("c", bool_value(c)), ("a", f32_value(&[1], vec![1.0])), ("b", f32_value(&[1], vec![2.0]))],
            )
            .unwrap();
            assert_eq!(f32s(&out[0]).1, vec![want]);
        }
        let bad = run_node(node, 13, vec![("c", i64_value(1)), ("a", i64_value(1)), ("b", i64_value(2))]);
        assert!(bad.unwrap_err().to_string().contains("bool"));
    }

    /// Loop body (i, cond, v) -> (cond, v, i): carries v unchanged and scans the iteration numbers.
    fn counting_body() -> Graph {
        passthrough(
            &["i", "cond", "v"],
            vec![
                ValueInfo::untyped("cond"),
                ValueInfo::untyped("v"),
                ValueInfo::tensor("i", DType::I64, Shape::fixed(&[])),
            ],
        )
    }

    #[test]
    fn loop_trip_count_and_condition() {
        let node = Node::new("Loop", ["M", "C", "v"], ["v_out", "iters"]).with_attr("body", counting_body());
        let run = |m: i64, c: bool| {
            let out = run_node(
                node.clone(),
                13,
                vec![("M", i64_value(m)), ("C", bool_value(c)), ("v", f32_value(&[2], vec![1.0, 2.0]))],
            )
            .unwrap();
            (f32s(&out[0]), f32s(&out[1]))
        };
        let (v, iters) = run(3, true);
        assert_eq!(v.1, vec![1.0, 2.0]);
        assert_eq!(iters, (vec![3], vec![0.0, 1.0, 2.0]));
        // No iteration: the initial values, and an empty scan output typed from the body.
        let (v, iters) = run(3, false);
        assert_eq!(v.1, vec![1.0, 2.0]);
        assert_eq!(iters, (vec![0], vec![]));
        let (_, iters) = run(-1, true);
        assert_eq!(iters.0, vec![0]);
    }

    #[test]
    fn loop_without_cond_ignores_the_body_condition() {
        // The body yields cond = false, which only counts when the cond input is given.
        let body = passthrough(
            &["i", "cond", "v"],
            vec![ValueInfo::untyped("f"), ValueInfo::untyped("v"), ValueInfo::untyped("i")],
        );
        let node = Node::new("Loop", ["M", "", "v"], ["v_out", "iters"]).with_attr("body", body.clone());
        let out = run_node(node, 16, vec![("M", i64_value(4)), ("v", i64_value(7)), ("f", bool_value(false))]).unwrap();
        assert_eq!(f32s(&out[1]).1, vec![0.0, 1.0, 2.0, 3.0]);
        let node = Node::new("Loop", ["M", "C", "v"], ["v_out", "iters"]).with_attr("body", body);
        let out = run_node(
            node,
            16,
            vec![("M", i64_value(4)), ("C", bool_value(true)), ("v", i64_value(7)), ("f", bool_value(false))],
        )
        .unwrap();
        assert_eq!(f32s(&out[1]).1, vec![0.0]);
    }

    #[test]
    fn loop_carries_a_sequence() {
        // body: seq_out = SequenceInsert(seq, i)
        let mut body =
            passthrough(&["i", "cond", "seq"], vec![ValueInfo::untyped("cond"), ValueInfo::untyped("seq_out")]);
        body.nodes.push(Node::new("SequenceInsert", ["seq", "i"], ["seq_out"]));
        let node = Node::new("Loop", ["M", "", "s"], ["s_out"]).with_attr("body", body);
        let out = run_node(node, 13, vec![("M", i64_value(3)), ("s", Value::Sequence(vec![]))]).unwrap();
        let Value::Sequence(items) = &out[0] else { panic!("expected a sequence") };
        let got: Vec<i64> = items.iter().map(|v| v.tensor().unwrap().scalar_i64().unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2]);
    }

    /// Scan body (s, x) -> (x, s): the state becomes the element, the scan output is the old state.
    fn shift_body() -> Graph {
        passthrough(&["s", "x"], vec![ValueInfo::untyped("x"), ValueInfo::untyped("s")])
    }

    #[test]
    fn scan9_axes_and_directions() {
        let x = f32_value(&[2, 3], vec![1., 2., 3., 4., 5., 6.]);
        let run = |out_axis: i64, out_dir: i64| {
            let node = Node::new("Scan", ["init", "x"], ["state", "scan"])
                .with_attr("body", shift_body())
                .with_attr("num_scan_inputs", 1i64)
                .with_attr("scan_input_axes", vec![1i64])
                .with_attr("scan_input_directions", vec![1i64])
                .with_attr("scan_output_axes", vec![out_axis])
                .with_attr("scan_output_directions", vec![out_dir]);
            let out = run_node(node, 11, vec![("init", f32_value(&[2], vec![0., 0.])), ("x", x.clone())]).unwrap();
            (f32s(&out[0]), f32s(&out[1]))
        };
        // Columns scanned in reverse: [3, 6], [2, 5], [1, 4].
        let (state, scan) = run(0, 0);
        assert_eq!(state.1, vec![1., 4.]);
        assert_eq!(scan, (vec![3, 2], vec![0., 0., 3., 6., 2., 5.]));
        let (_, scan) = run(-1, 0);
        assert_eq!(scan, (vec![2, 3], vec![0., 3., 2., 0., 6., 5.]));
        let (_, scan) = run(0, 1);
        assert_eq!(scan, (vec![3, 2], vec![2., 5., 3., 6., 0., 0.]));
    }

    #[test]
    fn scan8_batches_with_sequence_lengths() {
        let node = Node::new("Scan", ["lens", "init", "x"], ["state", "scan"])
            .with_attr("body", shift_body())
            .with_attr("num_scan_inputs", 1i64);
        let inputs = |dir: i64| {
            (
                node.clone().with_attr("directions", vec![dir]),
                vec![
                    ("lens", Value::Tensor(Tensor::i64(&[2], vec![3, 1]).unwrap())),
                    ("init", f32_value(&[2, 1], vec![0., 0.])),
                    ("x", f32_value(&[2, 3, 1], vec![1., 2., 3., 4., 5., 6.])),
                ],
            )
        };
        let (n, i) = inputs(0);
        let out = run_node(n, 8, i).unwrap();
        assert_eq!(f32s(&out[0]), (vec![2, 1], vec![3., 4.]));
        assert_eq!(f32s(&out[1]), (vec![2, 3, 1], vec![0., 1., 2., 0., 0., 0.]));
        let (n, i) = inputs(1);
        let out = run_node(n, 8, i).unwrap();
        assert_eq!(f32s(&out[0]), (vec![2, 1], vec![1., 4.]));
        assert_eq!(f32s(&out[1]), (vec![2, 3, 1], vec![0., 3., 2., 0., 0., 0.]));
    }

    #[test]
    fn scan_rejects_mismatched_lengths() {
        let body = passthrough(&["a", "b"], vec![ValueInfo::untyped("a"), ValueInfo::untyped("b")]);
        let node = Node::new("Scan", ["x", "y"], ["p", "q"]).with_attr("body", body).with_attr("num_scan_inputs", 2i64);
        let err =
            run_node(node, 16, vec![("x", f32_value(&[2], vec![1., 2.])), ("y", f32_value(&[3], vec![1., 2., 3.]))])
                .unwrap_err();
        assert!(err.to_string().contains("different lengths"), "{err}");
    }
}
