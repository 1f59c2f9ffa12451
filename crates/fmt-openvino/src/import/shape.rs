//! Shape, layout, indexing and index-producing layers.
//!
//! OpenVINO takes most parameters as inputs (axes, shapes, bounds), as ONNX
//! does since opsets 13–18; those ONNX still wants as attributes (`Split`
//! axis, `Gather` axis, `Transpose` order) need constant inputs. OpenVINO
//! allows i32 where ONNX wants i64 (shapes, axes, indices), so such inputs
//! are converted. `StridedSlice` masks become `Slice` bounds plus a
//! `Squeeze` for shrunk axes; index outputs of another type than i64 get a
//! `Cast`.

use ir::{Attribute as A, DType, Node, Result, Tensor};

use super::{Arity, Cx, ImportRule, Ports, port, some};
use crate::xml::Layer;

type Ins<'a> = &'a [String];

fn reshape(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let special = cx.bool_attr(l, "special_zero", false)?;
    let shape = cx.as_i64(port(ins, 1)?);
    let attrs = if special { vec![] } else { vec![("allowzero", A::Int(1))] };
    cx.emit(l, "Reshape", vec![some(port(ins, 0)?), Some(shape)], outs, attrs);
    Ok(())
}

fn transpose(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let perm = cx.const_ints(port(ins, 1)?).ok_or_else(|| cx.bad(l, "the order input must be a constant"))?;
    let attrs = if perm.is_empty() { vec![] } else { vec![("perm", A::Ints(perm))] };
    cx.emit(l, "Transpose", vec![some(port(ins, 0)?)], outs, attrs);
    Ok(())
}

fn concat(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 0)?;
    cx.emit(l, "Concat", ins.iter().map(|s| some(s)).collect(), outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn scalar_int(cx: &Cx<'_>, l: &Layer, v: &str, what: &str) -> Result<i64> {
    cx.const_ints(v)
        .and_then(|v| match v.as_slice() {
            [one] => Some(*one),
            _ => None,
        })
        .ok_or_else(|| cx.bad(l, format!("the {what} input must be a one-element constant")))
}

fn split(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, port(ins, 1)?, "axis")?;
    cx.emit(
        l,
        "Split",
        vec![some(port(ins, 0)?)],
        outs,
        vec![("axis", A::Int(axis)), ("num_outputs", A::Int(outs.len() as i64))],
    );
    Ok(())
}

fn variadic_split(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, port(ins, 1)?, "axis")?;
    let Some(mut lengths) = cx.const_ints(port(ins, 2)?) else {
        let split = computed_lengths(cx, port(ins, 0)?, port(ins, 2)?, axis);
        cx.emit(l, "Split", vec![some(port(ins, 0)?), Some(split)], outs, vec![("axis", A::Int(axis))]);
        return Ok(());
    };
    if let Some(pos) = lengths.iter().position(|&v| v == -1) {
        // -1 takes what is left: needs the split dimension's size.
        let shape =
            cx.static_shape(port(ins, 0)?).ok_or_else(|| cx.bad(l, "a -1 split length needs a static input shape"))?;
        let ax = if axis < 0 { axis + shape.len() as i64 } else { axis };
        let dim = usize::try_from(ax).ok().and_then(|a| shape.get(a)).ok_or_else(|| cx.bad(l, "axis out of range"))?;
        let rest = lengths
            .iter()
            .filter(|&&v| v != -1)
            .try_fold(0i64, |a, &v| a.checked_add(v))
            .and_then(|known| (*dim as i64).checked_sub(known))
            .ok_or_else(|| cx.bad(l, "split_lengths overflow"))?;
        if let Some(slot) = lengths.get_mut(pos) {
            *slot = rest;
        }
    }
    let split = cx.i64s(&lengths);
    cx.emit(l, "Split", vec![some(port(ins, 0)?), Some(split)], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

/// ONNX `Split` sizes from `VariadicSplit` lengths computed at run time.
/// ONNX has no `-1` length, so the one `-1` OpenVINO allows is replaced by
/// what the other lengths leave of the axis: with one `-1` the lengths sum
/// to the others' total minus 1, so the rest is `dim - (sum + 1)`. Lengths
/// without a `-1` pass through the `Where` unchanged.
fn computed_lengths(cx: &mut Cx<'_>, x: &str, lengths: &str, axis: i64) -> String {
    let i64t = Some(DType::I64);
    let lengths = cx.as_i64(lengths);
    let shape = cx.helper("Shape", &[x], vec![], i64t);
    let ax = cx.i64_scalar(axis);
    let dim = cx.helper("Gather", &[&shape, &ax], vec![("axis", A::Int(0))], i64t);
    let sum = cx.helper("ReduceSum", &[&lengths], vec![("keepdims", A::Int(0))], i64t);
    let one = cx.i64_scalar(1);
    let known = cx.helper("Add", &[&sum, &one], vec![], i64t);
    let rest = cx.helper("Sub", &[&dim, &known], vec![], i64t);
    let minus_one = cx.i64_scalar(-1);
    let is_rest = cx.helper("Equal", &[&lengths, &minus_one], vec![], Some(DType::Bool));
    cx.helper("Where", &[&is_rest, &rest, &lengths], vec![], i64t)
}

fn slice8(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    // Slice-8: (data, start, stop, step[, axes]); ONNX: (data, starts, ends, axes, steps).
    let starts = cx.as_i64(port(ins, 1)?);
    let ends = cx.as_i64(port(ins, 2)?);
    let steps = cx.as_i64(port(ins, 3)?);
    let axes = ins.get(4).map(|a| cx.as_i64(a));
    cx.emit(l, "Slice", vec![some(port(ins, 0)?), Some(starts), Some(ends), axes, Some(steps)], outs, vec![]);
    Ok(())
}

fn mask_of(cx: &Cx<'_>, l: &Layer, key: &str) -> Result<Vec<i64>> {
    if l.attr(key).is_none() { Ok(Vec::new()) } else { cx.ints_attr(l, key) }
}

fn strided_slice(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let begin_mask = mask_of(cx, l, "begin_mask")?;
    let end_mask = mask_of(cx, l, "end_mask")?;
    let new_axis = mask_of(cx, l, "new_axis_mask")?;
    let shrink = mask_of(cx, l, "shrink_axis_mask")?;
    let ellipsis = mask_of(cx, l, "ellipsis_mask")?;
    if new_axis.iter().any(|&v| v != 0) || ellipsis.iter().any(|&v| v != 0) {
        return Err(cx.bad(l, "new_axis_mask and ellipsis_mask are not supported"));
    }
    let b = cx.const_ints(port(ins, 1)?).ok_or_else(|| cx.bad(l, "begin must be a constant"))?;
    let e = cx.const_ints(port(ins, 2)?).ok_or_else(|| cx.bad(l, "end must be a constant"))?;
    let s = match ins.get(3) {
        Some(s) => cx.const_ints(s).ok_or_else(|| cx.bad(l, "stride must be a constant"))?,
        None => vec![1; b.len()],
    };
    if e.len() != b.len() || s.len() != b.len() {
        return Err(cx.bad(l, "begin, end and stride differ in length"));
    }
    let on = |m: &[i64], i: usize| m.get(i).is_some_and(|&v| v != 0);
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    // The three lists have one length (checked above).
    for (i, ((&bi, &ei), &si)) in b.iter().zip(&e).zip(&s).enumerate() {
        let fwd = si > 0;
        starts.push(if on(&begin_mask, i) { if fwd { 0 } else { i64::MAX } } else { bi });
        let end = if on(&end_mask, i) { if fwd { i64::MAX } else { i64::MIN } } else { ei };
        // A shrunk axis keeps exactly the element at `begin`.
        ends.push(if on(&shrink, i) { if bi == -1 { i64::MAX } else { bi.saturating_add(1) } } else { end });
    }
    let axes: Vec<i64> = (0..b.len() as i64).collect();
    let (st, en, ax, sp) = (cx.i64s(&starts), cx.i64s(&ends), cx.i64s(&axes), cx.i64s(&s));
    let squeeze: Vec<i64> = (0..b.len()).filter(|&i| on(&shrink, i)).map(|i| i as i64).collect();
    if squeeze.is_empty() {
        cx.emit(l, "Slice", vec![some(port(ins, 0)?), Some(st), Some(en), Some(ax), Some(sp)], outs, vec![]);
    } else {
        let d = cx.dtype(port(ins, 0)?);
        let sl = cx.helper("Slice", &[port(ins, 0)?, &st, &en, &ax, &sp], vec![], d);
        let sq = cx.i64s(&squeeze);
        cx.emit(l, "Squeeze", vec![Some(sl), Some(sq)], outs, vec![]);
    }
    Ok(())
}

fn gather(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if cx.int_attr(l, "batch_dims", 0)? != 0 {
        return Err(cx.bad(l, "batch_dims other than 0 is not supported"));
    }
    let axis = scalar_int(cx, l, port(ins, 2)?, "axis")?;
    cx.emit(l, "Gather", vec![some(port(ins, 0)?), some(port(ins, 1)?)], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn gather_elements(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", 0)?;
    cx.emit(l, "GatherElements", vec![some(port(ins, 0)?), some(port(ins, 1)?)], outs, vec![("axis", A::Int(axis))]);
    Ok(())
}

fn gather_nd(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let bd = cx.int_attr(l, "batch_dims", 0)?;
    if bd != 0 && l.version != "opset8" {
        return Err(cx.bad(l, "GatherND-5 with batch_dims flattens batches, which ONNX does not"));
    }
    let idx = cx.as_i64(port(ins, 1)?);
    cx.emit(l, "GatherND", vec![some(port(ins, 0)?), Some(idx)], outs, vec![("batch_dims", A::Int(bd))]);
    Ok(())
}

fn reduction_attr(cx: &Cx<'_>, l: &Layer) -> Result<Option<&'static str>> {
    Ok(match l.attr("reduction").unwrap_or("none") {
        "none" => None,
        "sum" => Some("add"),
        "prod" => Some("mul"),
        "min" => Some("min"),
        "max" => Some("max"),
        r => return Err(cx.bad(l, format!("reduction='{r}' is not supported"))),
    })
}

fn scatter_nd(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mut attrs = vec![];
    if let Some(r) = reduction_attr(cx, l)? {
        attrs.push(("reduction", A::String(r.into())));
    }
    let idx = cx.as_i64(port(ins, 1)?);
    cx.emit(l, "ScatterND", vec![some(port(ins, 0)?), Some(idx), some(port(ins, 2)?)], outs, attrs);
    Ok(())
}

fn scatter_elements(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = scalar_int(cx, l, port(ins, 3)?, "axis")?;
    let mut attrs = vec![("axis", A::Int(axis))];
    if let Some(r) = reduction_attr(cx, l)? {
        if !cx.bool_attr(l, "use_init_val", true)? {
            return Err(cx.bad(l, "use_init_val=false is not supported"));
        }
        attrs.push(("reduction", A::String(r.into())));
    }
    cx.emit(l, "ScatterElements", vec![some(port(ins, 0)?), some(port(ins, 1)?), some(port(ins, 2)?)], outs, attrs);
    Ok(())
}

fn broadcast(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    match l.attr("mode").unwrap_or("numpy") {
        // Numpy mode broadcasts the data to the target shape; where that is
        // valid, ONNX's bidirectional Expand gives the same result.
        "numpy" | "bidirectional" => {
            let shape = cx.as_i64(port(ins, 1)?);
            cx.emit(l, "Expand", vec![some(port(ins, 0)?), Some(shape)], outs, vec![]);
            Ok(())
        }
        m => Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    }
}

fn squeeze(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>, op: &str) -> Result<()> {
    let axes = ins.get(1).map(|a| cx.as_i64(a));
    cx.emit(l, op, vec![some(port(ins, 0)?), axes], outs, vec![]);
    Ok(())
}

fn shape_of(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if l.attr("output_type").unwrap_or("i64") == "i64" {
        cx.emit(l, "Shape", vec![some(port(ins, 0)?)], outs, vec![]);
        cx.dtypes_set(outs, DType::I64);
    } else {
        let s = cx.helper("Shape", &[port(ins, 0)?], vec![], Some(DType::I64));
        cx.emit(l, "Cast", vec![Some(s)], outs, vec![("to", A::Int(i64::from(DType::I32.onnx_code())))]);
        cx.dtypes_set(outs, DType::I32);
    }
    Ok(())
}

fn tile(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let r = cx.as_i64(port(ins, 1)?);
    cx.emit(l, "Tile", vec![some(port(ins, 0)?), Some(r)], outs, vec![]);
    Ok(())
}

fn pad(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let mode = match l.attr("pad_mode").unwrap_or("constant") {
        m @ ("constant" | "edge" | "reflect") => m,
        m => return Err(cx.bad(l, format!("pad_mode='{m}' is not supported"))),
    };
    let (b, e) = (cx.as_i64(port(ins, 1)?), cx.as_i64(port(ins, 2)?));
    let pads = match (cx.const_ints(&b), cx.const_ints(&e)) {
        (Some(mut b), Some(e)) => {
            b.extend(e);
            cx.i64s(&b)
        }
        _ => cx.helper("Concat", &[&b, &e], vec![("axis", A::Int(0))], Some(DType::I64)),
    };
    let value = if mode == "constant" { ins.get(3).cloned() } else { None };
    cx.emit(l, "Pad", vec![some(port(ins, 0)?), Some(pads), value], outs, vec![("mode", A::String(mode.into()))]);
    Ok(())
}

fn range(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let target = l.attr("output_type").and_then(crate::dtype::from_element_type);
    let ins: Vec<String> = match target {
        Some(d) => ins.iter().map(|v| if cx.dtype(v) == Some(d) { v.clone() } else { cx.cast(v, d) }).collect(),
        None => ins.to_vec(),
    };
    cx.emit(l, "Range", ins.iter().map(|s| some(s)).collect(), outs, vec![]);
    Ok(())
}

fn topk(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", -1)?;
    let largest = match l.attr("mode").unwrap_or("max") {
        "max" => 1,
        "min" => 0,
        m => return Err(cx.bad(l, format!("mode='{m}' is not supported"))),
    };
    let sorted = match l.attr("sort").unwrap_or("value") {
        "value" => 1,
        "none" => 0,
        s => return Err(cx.bad(l, format!("sort='{s}' is not supported"))),
    };
    let k = cx.as_i64(port(ins, 1)?);
    let k = cx.reshape(&k, &[1]);
    let idx_type = l.attr("index_element_type").and_then(crate::dtype::from_element_type).unwrap_or(DType::I32);
    let attrs = vec![("axis", A::Int(axis)), ("largest", A::Int(largest)), ("sorted", A::Int(sorted))];
    if idx_type == DType::I64 {
        cx.emit(l, "TopK", vec![some(port(ins, 0)?), Some(k)], outs, attrs);
    } else {
        let tmp = cx.b.fresh_value(&format!("{}/indices", l.name));
        cx.emit(l, "TopK", vec![some(port(ins, 0)?), Some(k)], &[port(outs, 0)?.clone(), tmp.clone()], attrs);
        let name = cx.b.fresh_node(&format!("{}/indices_cast", l.name));
        let cast = Node::new("Cast", [tmp], [port(outs, 1)?.clone()])
            .named(name)
            .with_attr("to", i64::from(idx_type.onnx_code()));
        cx.b.add_node(cast, Some(idx_type));
    }
    Ok(())
}

fn cumsum(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = match ins.get(1) {
        Some(a) => cx.as_i64(a),
        None => cx.constant(&format!("{}/axis", l.name), Tensor::scalar(0i64)),
    };
    let attrs = vec![
        ("exclusive", A::Int(i64::from(cx.bool_attr(l, "exclusive", false)?))),
        ("reverse", A::Int(i64::from(cx.bool_attr(l, "reverse", false)?))),
    ];
    cx.emit(l, "CumSum", vec![some(port(ins, 0)?), Some(axis)], outs, attrs);
    Ok(())
}

fn nonzero(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    if l.attr("output_type").unwrap_or("i64") == "i64" {
        cx.emit(l, "NonZero", vec![some(port(ins, 0)?)], outs, vec![]);
    } else {
        let s = cx.helper("NonZero", &[port(ins, 0)?], vec![], Some(DType::I64));
        cx.emit(l, "Cast", vec![Some(s)], outs, vec![("to", A::Int(i64::from(DType::I32.onnx_code())))]);
    }
    Ok(())
}

fn one_hot(cx: &mut Cx<'_>, l: &Layer, ins: Ins<'_>, outs: Ins<'_>) -> Result<()> {
    let axis = cx.int_attr(l, "axis", -1)?;
    // ONNX takes [off, on] as one input; OpenVINO two scalars.
    let on = cx.reshape(port(ins, 2)?, &[1]);
    let off = cx.reshape(port(ins, 3)?, &[1]);
    let d = cx.dtype(port(ins, 2)?);
    let values = cx.helper("Concat", &[&off, &on], vec![("axis", A::Int(0))], d);
    cx.emit(
        l,
        "OneHot",
        vec![some(port(ins, 0)?), some(port(ins, 1)?), Some(values)],
        outs,
        vec![("axis", A::Int(axis))],
    );
    Ok(())
}

/// This family's rules.
pub(crate) const RULES: &[ImportRule] = &[
    ImportRule::new("Reshape", "Reshape (allowzero = !special_zero)", Arity::ins(2), reshape),
    ImportRule::new("Transpose", "Transpose", Arity::ins(2), transpose),
    ImportRule::new("Concat", "Concat", Arity::new(Ports::at_least(1), Ports::exactly(1)), concat),
    ImportRule::new("Split", "Split (num_outputs)", Arity::new(Ports::exactly(2), Ports::at_least(1)), split),
    ImportRule::new(
        "VariadicSplit",
        "Split [+ Shape, Gather, ReduceSum, Add, Sub, Equal, Where for computed lengths]",
        Arity::new(Ports::exactly(3), Ports::at_least(1)),
        variadic_split,
    ),
    ImportRule::new("Slice", "Slice", Arity::ins_between(4, 5), slice8),
    ImportRule::new("StridedSlice", "Slice [+ Squeeze]", Arity::ins_between(3, 4), strided_slice),
    ImportRule::new("Gather", "Gather", Arity::ins(3), gather),
    ImportRule::new("GatherND", "GatherND", Arity::ins(2), gather_nd),
    ImportRule::new("GatherElements", "GatherElements", Arity::ins(2), gather_elements),
    ImportRule::new("ScatterNDUpdate", "ScatterND", Arity::ins(3), scatter_nd),
    ImportRule::new("ScatterElementsUpdate", "ScatterElements", Arity::ins(4), scatter_elements),
    // The optional third input is the axes mapping of the explicit mode.
    ImportRule::new("Broadcast", "Expand", Arity::ins_between(2, 3), broadcast),
    ImportRule::new("Squeeze", "Squeeze", Arity::ins_between(1, 2), |cx, l, i, o| squeeze(cx, l, i, o, "Squeeze")),
    ImportRule::new("Unsqueeze", "Unsqueeze", Arity::ins(2), |cx, l, i, o| squeeze(cx, l, i, o, "Unsqueeze")),
    ImportRule::new("ShapeOf", "Shape [+ Cast]", Arity::ins(1), shape_of),
    ImportRule::new("Tile", "Tile", Arity::ins(2), tile),
    // (data, pads_begin, pads_end[, pad_value]).
    ImportRule::new("Pad", "Pad", Arity::ins_between(3, 4), pad),
    ImportRule::new("Range", "Range", Arity::ins(3), range),
    ImportRule::new("TopK", "TopK [+ Cast of indices]", Arity::new(Ports::exactly(2), Ports::exactly(2)), topk),
    ImportRule::new("CumSum", "CumSum", Arity::ins_between(1, 2), cumsum),
    ImportRule::new("NonZero", "NonZero [+ Cast]", Arity::ins(1), nonzero),
    ImportRule::new("OneHot", "OneHot", Arity::ins(4), one_hot),
];
