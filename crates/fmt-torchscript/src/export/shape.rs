//! Shapes, layout and indexing: `Constant`, `Shape`, `Reshape`, `Flatten`,
//! `Transpose`, `(Un)Squeeze`, `Concat`, `Split`, `Slice`, the gathers and
//! scatters, `Expand`, `Tile`, `Range`, `ConstantOfShape`, `Pad`, `TopK`,
//! `NonZero`, `Trilu`. Shape values stay tensors (`torch._shape_as_tensor`)
//! and become `List[int]` only where torch wants one, so symbolic
//! dimensions stay dynamic; values known at export time are written as
//! literals for readability.

use ir::{Attribute, DType, Node, Tensor};

use super::math::{attr_i, attr_is, code};
use super::{Emitted, Gen, Rule, assign, float_lit, int_list};

fn constant(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let t = match n.attrs.iter().next() {
        Some((_, Attribute::Tensor(t))) => t.clone(),
        Some((k, Attribute::Float(v))) if k == "value_float" => Tensor::scalar(*v),
        Some((k, Attribute::Int(v))) if k == "value_int" => Tensor::scalar(*v),
        Some((k, Attribute::Floats(v))) if k == "value_floats" => {
            Tensor::from_vec(vec![v.len()], v.clone()).map_err(|e| e.to_string())?
        }
        Some((k, Attribute::Ints(v))) if k == "value_ints" => {
            Tensor::from_vec(vec![v.len()], v.clone()).map_err(|e| e.to_string())?
        }
        _ => return Err("only tensor, float and int values".into()),
    };
    let e = g.constant(t.clone())?;
    if let Some(o) = n.output(0) {
        g.note_constant(o, t);
    }
    assign(outs, e)
}

fn shape(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let mut e = format!("torch._shape_as_tensor({x})");
    let start = attr_i(n, "start", 0)?;
    let end = n.attr("end").map(|_| attr_i(n, "end", 0)).transpose()?;
    if start != 0 || end.is_some() {
        let end = end.map_or("9223372036854775807".to_string(), |v| v.to_string());
        e = format!("torch.slice({e}, 0, {start}, {end})");
    }
    assign(outs, e)
}

fn size(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.scalar_tensor(torch.numel({}), dtype=4)", g.inp(n, 0)?))
}

fn reshape(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let allowzero = attr_i(n, "allowzero", 0)? != 0;
    if let Some(v) = g.ints(n, 1) {
        // ONNX 0 copies the input's dimension (unless allowzero); torch has no such code.
        let items: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(i, &d)| if d == 0 && !allowzero { format!("{x}.size({i})") } else { d.to_string() })
            .collect();
        return assign(outs, format!("torch.reshape({x}, [{}])", items.join(", ")));
    }
    let s = g.inp(n, 1)?;
    // A 0 at position i copies the input's dimension i (an output longer
    // than the input has no dimension to copy past its rank, where ONNX
    // allows no 0: any value serves there).
    let shape = match (allowzero, g.out_rank(n, 0)) {
        (false, Some(ro)) => format!(
            "torch.where(torch.eq({s}, 0), torch.slice(torch.cat([torch._shape_as_tensor({x}), {s}]), 0, 0, {ro}), {s})"
        ),
        _ => s,
    };
    assign(outs, format!("torch.reshape({x}, annotate(List[int], ({shape}).tolist()))"))
}

fn flatten(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let mut axis = attr_i(n, "axis", 1)?;
    if axis < 0 {
        axis += g.rank(n, 0).ok_or("negative axis with unknown rank")? as i64;
    }
    let e = match axis {
        0 => format!("torch.reshape({x}, [1, -1])"),
        a if Some(a as usize) == g.rank(n, 0) => format!("torch.unsqueeze(torch.flatten({x}), 1)"),
        a => format!("torch.flatten(torch.flatten({x}, {a}), 0, {})", a - 1),
    };
    assign(outs, e)
}

fn transpose(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let perm = match attr_is(n, "perm")? {
        Some(p) => p,
        None => (0..g.rank(n, 0).ok_or("rank unknown")? as i64).rev().collect(),
    };
    assign(outs, format!("torch.permute({}, {})", g.inp(n, 0)?, int_list(&perm)))
}

/// Axes from the attribute (older opsets) or input 1.
fn axes(g: &Gen, n: &Node) -> Result<Option<Vec<i64>>, String> {
    if let Some(a) = attr_is(n, "axes")? {
        return Ok(Some(a));
    }
    match n.input(1).filter(|s| !s.is_empty()) {
        Some(_) => g.ints(n, 1).map(Some).ok_or_else(|| "axes not known at export time".into()),
        None => Ok(None),
    }
}

fn squeeze(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    match axes(g, n)? {
        Some(a) => assign(outs, format!("torch.squeeze({x}, {})", int_list(&a))),
        None => assign(outs, format!("torch.squeeze({x})")),
    }
}

fn unsqueeze(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let mut e = g.inp(n, 0)?;
    let mut a = axes(g, n)?.ok_or("axes missing")?;
    // torch tensors have at most 64 dims (a fuzzed model's 10,000 axes made
    // the nested text below quadratic).
    let out_rank = g.rank(n, 0).unwrap_or(0).saturating_add(a.len());
    if out_rank > 64 {
        return Err(format!("Unsqueeze to rank {out_rank} (torch tensors have at most 64 dims)"));
    }
    if a.iter().any(|&v| v < 0) {
        let r = g.rank(n, 0).ok_or("negative axes with unknown rank")? as i64 + a.len() as i64;
        a.iter_mut().for_each(|v| *v = if *v < 0 { *v + r } else { *v });
    }
    a.sort_unstable();
    for v in a {
        e = format!("torch.unsqueeze({e}, {v})");
    }
    assign(outs, e)
}

fn concat(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let ins = (0..n.inputs.len()).map(|i| g.inp(n, i)).collect::<Result<Vec<_>, _>>()?;
    assign(outs, format!("torch.cat([{}], {})", ins.join(", "), attr_i(n, "axis", 0)?))
}

fn split(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", 0)?;
    let sizes = match attr_is(n, "split")? {
        Some(s) => Some(s),
        None if n.input(1).is_some_and(|s| !s.is_empty()) => Some(g.ints(n, 1).ok_or("split sizes unknown")?),
        None => None,
    };
    let e = match sizes {
        Some(s) => format!("torch.split({x}, {}, {axis})", int_list(&s)),
        None => format!("torch.chunk({x}, {}, {axis})", outs.len()),
    };
    // A one-element list needs a trailing comma to unpack.
    if outs.len() == 1 {
        return Ok(vec![format!("{}, = {e}", outs[0])]);
    }
    assign(outs, e)
}

fn slice(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let legacy = g.opset < 10;
    let known = |name: &str, i: usize| -> Option<Vec<i64>> {
        if legacy { attr_is(n, name).ok().flatten() } else { g.ints(n, i) }
    };
    let starts = known("starts", 1);
    let ends = known("ends", 2);
    let count = starts.as_ref().map(Vec::len).or(ends.as_ref().map(Vec::len));
    let axes = match known("axes", 3) {
        Some(a) => a,
        None if legacy || n.input(3).is_none_or(str::is_empty) => {
            (0..count.ok_or("number of sliced axes unknown")? as i64).collect()
        }
        None => return Err("axes not known at export time".into()),
    };
    let steps = match known("steps", 4) {
        Some(s) => s,
        None if legacy || n.input(4).is_none_or(str::is_empty) => vec![1; axes.len()],
        None => return Err("steps not known at export time".into()),
    };
    let dims = g.dims(n, 0);
    let mut e = x;
    for (i, (&ax, &step)) in axes.iter().zip(&steps).enumerate() {
        let s = match &starts {
            Some(v) => v.get(i).copied().ok_or("starts shorter than axes")?.to_string(),
            None => format!("int({}[{i}])", g.inp(n, 1)?),
        };
        let en = match &ends {
            Some(v) => v.get(i).copied().ok_or("ends shorter than axes")?.to_string(),
            None => format!("int({}[{i}])", g.inp(n, 2)?),
        };
        if step > 0 {
            e = format!("torch.slice({e}, {ax}, {s}, {en}, {step})");
            continue;
        }
        // torch slices forward only: take the same elements forward, then flip.
        let (Ok(s), Ok(en)) = (s.parse::<i64>(), en.parse::<i64>()) else {
            return Err("negative step with starts/ends unknown at export time".into());
        };
        let r = dims.as_ref().map(Vec::len).ok_or("negative step with unknown rank")? as i64;
        let axn = if ax < 0 { ax + r } else { ax };
        let d = dims
            .as_ref()
            .and_then(|d| d.get(axn as usize).copied().flatten())
            .ok_or("negative step on a dynamic dimension")? as i64;
        let s = if s < 0 { s + d } else { s }.clamp(0, d - 1);
        let en = if en < 0 { en + d } else { en }.clamp(-1, d - 1);
        let k = -step;
        if s <= en {
            e = format!("torch.slice({e}, {axn}, 0, 0)");
        } else {
            let last = s - k * ((s - en - 1) / k);
            e = format!("torch.flip(torch.slice({e}, {axn}, {last}, {}, {k}), [{axn}])", s + 1);
        }
    }
    assign(outs, e)
}

/// Index tensors torch accepts (int64; ONNX also allows int32).
fn index(g: &Gen, n: &Node, i: usize) -> Result<String, String> {
    let e = g.inp(n, i)?;
    Ok(if g.dtype(n, i) == Some(DType::I64) { e } else { format!("torch.to({e}, 4)") })
}

fn gather(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let mut axis = attr_i(n, "axis", 0)?;
    if axis < 0 {
        axis += g.rank(n, 0).ok_or("negative axis with unknown rank")? as i64;
    }
    // torch tensors have at most 64 dims; the axis sizes the text below.
    let rank = g.rank(n, 0).map_or(64, |r| r.min(64)) as i64;
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {} outside a rank-{rank} input", attr_i(n, "axis", 0)?));
    }
    let idx = index(g, n, 1)?;
    // Advanced indexing keeps ONNX semantics: negative indices wrap, the index shape replaces the axis.
    let colons = ":, ".repeat(axis as usize);
    assign(outs, format!("{x}[{colons}{idx}]"))
}

fn gather_elements(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", 0)?;
    let i = index(g, n, 1)?;
    assign(outs, format!("torch.gather({x}, {axis}, torch.remainder({i}, {x}.size({axis})))"))
}

fn nd_indices(g: &Gen, n: &Node) -> Result<String, String> {
    let i = index(g, n, 1)?;
    let k = g.dims(n, 1).and_then(|d| d.last().copied().flatten()).ok_or("last dimension of indices unknown")?;
    let parts: Vec<String> = (0..k).map(|j| format!("torch.select({i}, -1, {j})")).collect();
    Ok(parts.join(", "))
}

fn gather_nd(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    if attr_i(n, "batch_dims", 0)? != 0 {
        return Err("batch_dims".into());
    }
    assign(outs, format!("{}[{}]", g.inp(n, 0)?, nd_indices(g, n)?))
}

fn scatter_nd(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let acc = match n.attr_str("reduction", "none").map_err(|e| e.to_string())? {
        "none" => "False",
        "add" => "True",
        r => return Err(format!("reduction '{r}'")),
    };
    assign(
        outs,
        format!(
            "torch.index_put({}, annotate(List[Optional[Tensor]], [{}]), {}, {acc})",
            g.inp(n, 0)?,
            nd_indices(g, n)?,
            g.inp(n, 2)?
        ),
    )
}

fn scatter_elements(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axis = attr_i(n, "axis", 0)?;
    let i = format!("torch.remainder({}, {x}.size({axis}))", index(g, n, 1)?);
    let u = g.inp(n, 2)?;
    let e = match n.attr_str("reduction", "none").map_err(|e| e.to_string())? {
        "none" => format!("torch.scatter({x}, {axis}, {i}, {u})"),
        r => {
            let t = match r {
                "add" => "sum",
                "mul" => "prod",
                "max" => "amax",
                "min" => "amin",
                r => return Err(format!("reduction '{r}'")),
            };
            format!("torch.scatter_reduce({x}, {axis}, {i}, {u}, \"{t}\", include_self=True)")
        }
    };
    assign(outs, e)
}

fn expand(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let d = g.dtype(n, 0).ok_or("dtype unknown")?;
    // ONNX broadcasts both ways (a 1 in the shape keeps the input's size); adding zeros does the same.
    assign(outs, format!("torch.add({x}, torch.zeros({}, dtype={}))", g.list(n, 1)?, code(d)?))
}

fn tile(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.tile({}, {})", g.inp(n, 0)?, g.list(n, 1)?))
}

fn range(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let d = g.dtype(n, 0).ok_or("dtype unknown")?;
    let items = (0..3).map(|i| Ok(format!("({}).item()", g.inp(n, i)?))).collect::<Result<Vec<_>, String>>()?;
    assign(outs, format!("torch.arange({}, dtype={})", items.join(", "), code(d)?))
}

fn constant_of_shape(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let (v, d) = match n.attr("value") {
        Some(a) => {
            let t = a.as_tensor().map_err(|e| e.to_string())?;
            let v = match t.dtype() {
                DType::Bool => {
                    if t.to_bools().map_err(|e| e.to_string())?.first() == Some(&true) { "True" } else { "False" }
                        .into()
                }
                d if d.is_float() => float_lit(*t.to_f64s().map_err(|e| e.to_string())?.first().ok_or("empty value")?),
                _ => t.to_i64s().map_err(|e| e.to_string())?.first().ok_or("empty value")?.to_string(),
            };
            (v, t.dtype())
        }
        None => ("0.".to_string(), DType::F32),
    };
    assign(outs, format!("torch.full({}, {v}, dtype={})", g.list(n, 0)?, code(d)?))
}

fn pad(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let r = g.rank(n, 0).ok_or("rank unknown")? as i64;
    let pads = match attr_is(n, "pads")? {
        Some(p) if g.opset < 11 => p,
        _ => g.ints(n, 1).ok_or("pads not known at export time")?,
    };
    let axes: Vec<i64> = match g.ints(n, 3) {
        Some(a) => a.into_iter().map(|v| if v < 0 { v + r } else { v }).collect(),
        None => (0..r).collect(),
    };
    let k = axes.len();
    if pads.len() != 2 * k {
        return Err("pads do not match the axes".into());
    }
    // torch lists (begin, end) pairs from the last axis backwards, and only trailing axes.
    let first = *axes.iter().min().unwrap_or(&r);
    let mut tp = Vec::new();
    for ax in (first..r).rev() {
        match axes.iter().position(|&a| a == ax) {
            Some(i) => tp.extend([pads[i], pads[i + k]]),
            None => tp.extend([0, 0]),
        }
    }
    // Leading axes without padding are left out: torch's reflect/replicate/circular pad only the last ones.
    while tp.len() > 2 && tp[tp.len() - 2..] == [0, 0] {
        tp.truncate(tp.len() - 2);
    }
    let mode = n.attr_str("mode", "constant").map_err(|e| e.to_string())?;
    let e = match mode {
        "constant" => {
            let v = if g.opset < 11 {
                float_lit(super::math::attr_f(n, "value", 0.0)? as f64)
            } else {
                g.opt(n, 2).map_or("0".to_string(), |c| format!("({c}).item()"))
            };
            format!("torch.constant_pad_nd({x}, {}, {v})", int_list(&tp))
        }
        "reflect" => format!("torch.pad({x}, {}, \"reflect\")", int_list(&tp)),
        "edge" => format!("torch.pad({x}, {}, \"replicate\")", int_list(&tp)),
        "wrap" => format!("torch.pad({x}, {}, \"circular\")", int_list(&tp)),
        m => return Err(format!("mode '{m}'")),
    };
    assign(outs, e)
}

fn topk(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let k = if g.opset < 10 { attr_i(n, "k", 0)?.to_string() } else { g.int(n, 1)? };
    let axis = attr_i(n, "axis", -1)?;
    let largest = if attr_i(n, "largest", 1)? != 0 { "True" } else { "False" };
    let sorted = if attr_i(n, "sorted", 1)? != 0 { "True" } else { "False" };
    assign(outs, format!("torch.topk({}, {k}, {axis}, {largest}, {sorted})", g.inp(n, 0)?))
}

fn nonzero(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.t(torch.nonzero({}))", g.inp(n, 0)?))
}

fn trilu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = if attr_i(n, "upper", 1)? != 0 { "triu" } else { "tril" };
    let k = g.opt(n, 1).map_or(Ok("0".to_string()), |_| g.int(n, 1))?;
    assign(outs, format!("torch.{f}({}, {k})", g.inp(n, 0)?))
}

fn one_hot(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let depth = g.int(n, 1)?;
    let v = g.inp(n, 2)?;
    let axis = attr_i(n, "axis", -1)?;
    // Negative indices count from the end, as ONNX says; out-of-range ones give all-off rows.
    let i = index(g, n, 0)?;
    let norm = format!("torch.where(torch.lt({i}, 0), torch.add({i}, {depth}), {i})");
    let hot = format!("torch.eq(torch.unsqueeze({norm}, -1), torch.arange({depth}, dtype=4))");
    let mut e = format!("torch.where({hot}, torch.select({v}, 0, 1), torch.select({v}, 0, 0))");
    if axis != -1 {
        let r = g.rank(n, 0).ok_or("rank unknown")? as i64 + 1;
        let a = if axis < 0 { axis + r } else { axis };
        e = format!("torch.movedim({e}, -1, {a})");
    }
    assign(outs, e)
}

fn eye_like(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let k = attr_i(n, "k", 0)?;
    let d = match n.attr("dtype") {
        Some(_) => DType::from_onnx_code(attr_i(n, "dtype", 1)?).ok_or("unknown dtype")?,
        None => g.dtype(n, 0).ok_or("dtype unknown")?,
    };
    // Ones where column - row == k.
    let rows = format!("torch.unsqueeze(torch.arange({x}.size(0), dtype=4), 1)");
    let cols = format!("torch.arange({x}.size(1), dtype=4)");
    assign(outs, format!("torch.to(torch.eq(torch.sub({cols}, {rows}), {k}), {})", code(d)?))
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        op: "Constant",
        torch: "CONSTANTS.cN",
        note: "tensor, `value_float(s)`, `value_int(s)`; stored in `constants.pkl`",
        emit: constant,
    },
    Rule { op: "Shape", torch: "torch._shape_as_tensor", note: "`start`, `end`; stays dynamic", emit: shape },
    Rule { op: "Size", torch: "torch.numel", note: "", emit: size },
    Rule {
        op: "Reshape",
        torch: "torch.reshape",
        note: "0 copies the input's dimension (also for run-time shapes when ranks are known); `allowzero`",
        emit: reshape,
    },
    Rule { op: "Flatten", torch: "torch.flatten", note: "any `axis`", emit: flatten },
    Rule { op: "Transpose", torch: "torch.permute", note: "`perm` (default reversed)", emit: transpose },
    Rule { op: "Squeeze", torch: "torch.squeeze", note: "axes as attribute or constant input", emit: squeeze },
    Rule {
        op: "Unsqueeze",
        torch: "torch.unsqueeze (per axis)",
        note: "axes as attribute or constant input, negative axes",
        emit: unsqueeze,
    },
    Rule { op: "Concat", torch: "torch.cat", note: "", emit: concat },
    Rule {
        op: "Split",
        torch: "torch.split / torch.chunk",
        note: "sizes as attribute or constant input, `num_outputs`",
        emit: split,
    },
    Rule {
        op: "Slice",
        torch: "torch.slice (+ torch.flip for negative steps)",
        note: "run-time starts/ends; constant axes and steps; negative axes; negative steps on fixed dimensions",
        emit: slice,
    },
    Rule { op: "Gather", torch: "x[:, …, idx]", note: "any axis, negative indices, any index rank", emit: gather },
    Rule { op: "GatherElements", torch: "torch.gather", note: "negative indices", emit: gather_elements },
    Rule { op: "GatherND", torch: "x[idx[..., 0], …]", note: "`batch_dims` = 0", emit: gather_nd },
    Rule { op: "ScatterND", torch: "torch.index_put", note: "`reduction` none, add", emit: scatter_nd },
    Rule {
        op: "ScatterElements",
        torch: "torch.scatter / torch.scatter_reduce",
        note: "`reduction` none, add, mul, max, min; negative indices",
        emit: scatter_elements,
    },
    Rule { op: "Expand", torch: "x + torch.zeros(shape)", note: "bidirectional broadcast as ONNX", emit: expand },
    Rule { op: "Tile", torch: "torch.tile", note: "", emit: tile },
    Rule { op: "Range", torch: "torch.arange", note: "", emit: range },
    Rule { op: "ConstantOfShape", torch: "torch.full", note: "", emit: constant_of_shape },
    Rule {
        op: "Pad",
        torch: "torch.constant_pad_nd / torch.pad",
        note: "modes constant, reflect, edge (replicate), wrap (circular); constant pads, optional axes",
        emit: pad,
    },
    Rule { op: "TopK", torch: "torch.topk", note: "`axis`, `largest`, `sorted`; k as input or attribute", emit: topk },
    Rule {
        op: "OneHot",
        torch: "torch.where(indices == arange(depth), on, off)",
        note: "any `axis`, negative indices",
        emit: one_hot,
    },
    Rule { op: "EyeLike", torch: "torch.eq(cols - rows, k)", note: "`k`, `dtype`", emit: eye_like },
    Rule { op: "NonZero", torch: "torch.t(torch.nonzero(x))", note: "", emit: nonzero },
    Rule { op: "Trilu", torch: "torch.triu / torch.tril", note: "`upper`, k", emit: trilu },
];
