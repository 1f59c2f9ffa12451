//! The graph's boundary: `Parameter` → graph input, `Const` → initializer
//! (a zero-copy view into the mapped `.bin`), `Result` → graph output.
//!
//! A `Const` is addressed by `offset` and `size` in the `.bin`; both are
//! checked against the file and against what `element_type` and `shape`
//! need before any slice is taken. `u1` constants are bits, most
//! significant first; the IR has no packed booleans, so they are unpacked.

use ir::{Result, Tensor, ValueInfo};

use super::{Arity, Cx, ImportRule, Ports, bounded_numel, parse_shape, port};
use crate::dtype;
use crate::xml::Layer;

fn parameter(cx: &mut Cx<'_>, l: &Layer, _ins: &[String], outs: &[String]) -> Result<()> {
    let et = cx.attr(l, "element_type")?;
    let d = dtype::from_element_type(et).ok_or_else(|| cx.bad(l, format!("element_type '{et}' is not supported")))?;
    let shape_text = cx.attr(l, "shape")?;
    let shape = parse_shape(shape_text).ok_or_else(|| cx.bad(l, format!("shape '{shape_text}' is not a shape")))?;
    let name = port(outs, 0)?;
    cx.b.set_dtype(name, d);
    if let Some(s) = &shape {
        cx.dims
            .insert(name.clone(), s.dims().iter().map(|d| d.fixed().map_or("-1".into(), |v| v.to_string())).collect());
    }
    cx.b.graph.inputs.push(ValueInfo::tensor(name.clone(), d, shape));
    Ok(())
}

fn constant(cx: &mut Cx<'_>, l: &Layer, _ins: &[String], outs: &[String]) -> Result<()> {
    let et = cx.attr(l, "element_type")?;
    let shape_text = cx.attr(l, "shape")?;
    let dims: Vec<u64> = match parse_shape(shape_text) {
        Some(Some(s)) => s.as_fixed(),
        _ => None,
    }
    .ok_or_else(|| cx.bad(l, format!("shape '{shape_text}' is not a static shape")))?;
    // Rules multiply a constant's dims and cast them to i64, so refuse
    // shapes where that could overflow even when a zero dim empties them.
    bounded_numel(dims.iter().copied()).ok_or_else(|| cx.bad(l, "shape overflows"))?;
    let shape: Vec<usize> =
        dims.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>().map_err(|_| cx.bad(l, "shape overflows"))?;
    let numel: u64 = dims.iter().product();
    let offset = cx.int_attr(l, "offset", -1)?;
    let size = cx.int_attr(l, "size", -1)?;
    let (Ok(offset), Ok(size)) = (u64::try_from(offset), u64::try_from(size)) else {
        return Err(cx.bad(l, "a Const needs non-negative 'offset' and 'size'"));
    };
    let bin = cx.bin.ok_or_else(|| cx.bad(l, "no weights file"))?;
    let end = offset.checked_add(size).ok_or_else(|| cx.bad(l, "offset + size overflows"))?;
    if end > bin.len() as u64 {
        return Err(cx.bad(
            l,
            format!("offset {offset} + size {size} is past the end of {} ({} bytes)", cx.bin_path.display(), bin.len()),
        ));
    }
    let tensor = if et == "u1" {
        let need = numel.div_ceil(8);
        if size < need {
            return Err(cx.bad(l, format!("size {size} is less than the {need} bytes of {numel} u1 values")));
        }
        let bytes = bin.slice_u64(offset, need).map_err(|e| cx.bad(l, e))?;
        // `numel` is at most 8 bits per byte of the file, so this allocation is bounded by it.
        let bits: Vec<bool> =
            bytes.iter().flat_map(|&b| (0..8).map(move |k| b & (0x80 >> k) != 0)).take(numel as usize).collect();
        Tensor::from_bools(shape, &bits).map_err(|e| cx.bad(l, e))?
    } else {
        let d =
            dtype::from_element_type(et).ok_or_else(|| cx.bad(l, format!("element_type '{et}' is not supported")))?;
        let need = d.byte_len(numel).ok_or_else(|| cx.bad(l, "size overflows"))?;
        if size < need {
            return Err(cx.bad(l, format!("size {size} is less than the {need} bytes of {numel} {et} values")));
        }
        let bytes = bin.slice_u64(offset, need).map_err(|e| cx.bad(l, e))?;
        Tensor::from_raw(d, shape, bytes).map_err(|e| cx.bad(l, e))?
    };
    cx.b.set_initializer(port(outs, 0)?, tensor);
    Ok(())
}

fn result(cx: &mut Cx<'_>, l: &Layer, ins: &[String], _outs: &[String]) -> Result<()> {
    cx.results.push((l.id, port(ins, 0)?.clone()));
    Ok(())
}

/// The boundary layers' rules.
pub(crate) const RULES: &[ImportRule] = &[
    ImportRule::new("Parameter", "graph input", Arity::new(Ports::exactly(0), Ports::exactly(1)), parameter),
    ImportRule::new("Const", "initializer", Arity::new(Ports::exactly(0), Ports::exactly(1)), constant),
    ImportRule::new("Result", "graph output", Arity::new(Ports::exactly(1), Ports::exactly(0)), result),
];
