//! Shape, layout, indexing and constant-producing ops.
//!
//! Most ONNX ops here take their parameters as inputs, as OpenVINO does;
//! where an older opset has attributes instead (`Squeeze` axes before 13,
//! `Split` sizes before 13, `Slice` before 10, `Pad` before 11) they become
//! `Const` layers.

use ir::{DType, Error, Node, Result, Tensor};

use super::math::binary;
use super::{Ex, Rule, Src, int, ints, string, tensor_attr, unsupported_attr};

fn bind1(ex: &mut Ex<'_>, n: &Node, y: Src) -> Result<()> {
    ex.bind(n, 0, y);
    Ok(())
}

fn reshape(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let shape = if ex.model().onnx_opset() < 5 {
        let s = ints(n, "shape")?.unwrap_or_default();
        ex.i64s(&s)
    } else {
        ex.input(n, 1)?
    };
    // allowzero=1 keeps 0 as a real zero-sized dimension: special_zero=false.
    let special = int(n, "allowzero", 0)? == 0;
    let rank = ex.static_shape(shape).and_then(|s| s.first().copied());
    let d = ex.dtype(x);
    let y = ex.op("Reshape", "opset1", &[("special_zero", special.to_string())], &[x, shape]);
    ex.set(y, d, rank);
    bind1(ex, n, y)
}

fn flatten(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let mut axis = int(n, "axis", 1)?;
    let d = ex.dtype(x);
    if axis < 0 {
        axis += ex.need_rank(x, n, "the input")? as i64;
    }
    let pattern = match axis {
        0 => Some(vec![1, -1]),
        1 => Some(vec![0, -1]),
        _ => None,
    };
    let y = if let Some(p) = pattern {
        let p = ex.i64s(&p);
        ex.op("Reshape", "opset1", &[("special_zero", "true".into())], &[x, p])
    } else {
        // [prod(shape[:axis]), -1] computed at run time.
        let shape = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[x]);
        ex.set(shape, Some(DType::I64), Some(1));
        let (b, e, s) = (ex.i64s(&[0]), ex.i64s(&[axis]), ex.i64s(&[1]));
        let head = ex.op("Slice", "opset8", &[], &[shape, b, e, s]);
        let zero = ex.i64s(&[0]);
        let prod = ex.op("ReduceProd", "opset1", &[("keep_dims", "true".into())], &[head, zero]);
        let minus1 = ex.i64s(&[-1]);
        let target = ex.op("Concat", "opset1", &[("axis", "0".into())], &[prod, minus1]);
        ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[x, target])
    };
    ex.set(y, d, Some(2));
    bind1(ex, n, y)
}

fn transpose(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    // An empty order reverses the axes, as ONNX's default perm does.
    let perm = ints(n, "perm")?.unwrap_or_default();
    let p = ex.i64s(&perm);
    let y = ex.op("Transpose", "opset1", &[], &[x, p]);
    bind1(ex, n, y)
}

fn concat(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let srcs: Vec<Src> = n.present_inputs().map(|v| ex.value(v)).collect::<Result<_>>()?;
    let axis = int(n, "axis", 0)?;
    let y = ex.op("Concat", "opset1", &[("axis", axis.to_string())], &srcs);
    bind1(ex, n, y)
}

fn split(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let axis = int(n, "axis", 0)?;
    let outs = n.outputs.len();
    let sizes = if ex.model().onnx_opset() < 13 { ints(n, "split")? } else { None };
    let sizes_src = match sizes {
        Some(s) => Some(ex.i64s(&s)),
        None => ex.opt_input(n, 1)?,
    };
    let a = ex.i64_scalar(axis);
    let ys = match sizes_src {
        Some(s) => ex.layer("VariadicSplit", "opset1", &[], &[x, a, s], outs),
        None => ex.layer("Split", "opset1", &[("num_splits", outs.to_string())], &[x, a], outs),
    };
    for (i, y) in ys.into_iter().enumerate() {
        ex.bind(n, i, y);
    }
    Ok(())
}

fn slice(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let (starts, ends, axes, steps) = if ex.model().onnx_opset() < 10 {
        let s = ints(n, "starts")?.unwrap_or_default();
        let e = ints(n, "ends")?.unwrap_or_default();
        let axes = ints(n, "axes")?.map(|a| ex.i64s(&a));
        let len = s.len();
        (ex.i64s(&s), ex.i64s(&e), axes, ex.i64s(&vec![1; len]))
    } else {
        let (s, e) = (ex.input(n, 1)?, ex.input(n, 2)?);
        let axes = ex.opt_input(n, 3)?;
        let steps = match ex.opt_input(n, 4)? {
            Some(st) => st,
            // One step per sliced axis: a longer list than any rank is
            // hostile, and is built at run time rather than allocated here.
            None => match ex.static_shape(s).map(|sh| sh.iter().product::<usize>()) {
                Some(len) if len <= ir::MAX_RANK => ex.i64s(&vec![1; len]),
                _ => {
                    let shape = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[s]);
                    let one = ex.i64s(&[1]);
                    ex.op("Broadcast", "opset3", &[("mode", "numpy".into())], &[one, shape])
                }
            },
        };
        (s, e, axes, steps)
    };
    let mut inputs = vec![x, starts, ends, steps];
    inputs.extend(axes);
    let y = ex.op("Slice", "opset8", &[], &inputs);
    bind1(ex, n, y)
}

fn gather(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, i) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let a = ex.i64_scalar(int(n, "axis", 0)?);
    let y = ex.op("Gather", "opset8", &[("batch_dims", "0".into())], &[x, i, a]);
    let r = match (ex.rank(x), ex.rank(i)) {
        // Gathering from a scalar is invalid (the rank below would underflow).
        (Some(0), _) => return Err(Error::invalid(format!("node {}: Gather from a scalar", n.describe()))),
        (Some(a), Some(b)) => Some(a + b - 1),
        _ => None,
    };
    let d = ex.dtype(x);
    ex.set(y, d, r);
    bind1(ex, n, y)
}

fn gather_elements(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, i) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let y = ex.op("GatherElements", "opset6", &[("axis", int(n, "axis", 0)?.to_string())], &[x, i]);
    bind1(ex, n, y)
}

fn gather_nd(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, i) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let y = ex.op("GatherND", "opset8", &[("batch_dims", int(n, "batch_dims", 0)?.to_string())], &[x, i]);
    let d = ex.dtype(x);
    ex.set(y, d, None);
    bind1(ex, n, y)
}

fn reduction(n: &Node) -> Result<&str> {
    string(n, "reduction", "none")
}

fn scatter_nd(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, i, u) = (ex.input(n, 0)?, ex.input(n, 1)?, ex.input(n, 2)?);
    let y = match reduction(n)? {
        "none" => ex.op("ScatterNDUpdate", "opset3", &[], &[x, i, u]),
        r @ ("add" | "mul" | "min" | "max") => {
            let r = if r == "add" {
                "sum"
            } else if r == "mul" {
                "prod"
            } else {
                r
            };
            ex.op("ScatterNDUpdate", "opset15", &[("reduction", r.into())], &[x, i, u])
        }
        r => return Err(unsupported_attr(n, &format!("reduction='{r}'"))),
    };
    bind1(ex, n, y)
}

fn scatter_elements(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, i, u) = (ex.input(n, 0)?, ex.input(n, 1)?, ex.input(n, 2)?);
    let a = ex.i64_scalar(int(n, "axis", 0)?);
    let y = match reduction(n)? {
        "none" => ex.op("ScatterElementsUpdate", "opset3", &[], &[x, i, u, a]),
        r @ ("add" | "mul" | "min" | "max") => {
            let r = if r == "add" {
                "sum"
            } else if r == "mul" {
                "prod"
            } else {
                r
            };
            ex.op(
                "ScatterElementsUpdate",
                "opset12",
                &[("reduction", r.into()), ("use_init_val", "true".into())],
                &[x, i, u, a],
            )
        }
        r => return Err(unsupported_attr(n, &format!("reduction='{r}'"))),
    };
    bind1(ex, n, y)
}

fn expand(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, s) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let rank = ex.static_shape(s).and_then(|sh| sh.first().copied()).zip(ex.rank(x)).map(|(a, b)| a.max(b));
    let d = ex.dtype(x);
    let y = ex.op("Broadcast", "opset3", &[("mode", "bidirectional".into())], &[x, s]);
    ex.set(y, d, rank);
    bind1(ex, n, y)
}

fn axes_of(ex: &mut Ex<'_>, n: &Node) -> Result<Option<Src>> {
    if ex.model().onnx_opset() < 13 { Ok(ints(n, "axes")?.map(|a| ex.i64s(&a))) } else { ex.opt_input(n, 1) }
}

fn squeeze(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let axes = axes_of(ex, n)?;
    let count = axes.and_then(|a| ex.static_shape(a)).map(|s| s.iter().product::<usize>());
    let mut inputs = vec![x];
    inputs.extend(axes);
    let d = ex.dtype(x);
    let rank = match (ex.rank(x), count) {
        (Some(r), Some(c)) => r.checked_sub(c),
        _ => None,
    };
    let y = ex.op("Squeeze", "opset1", &[], &inputs);
    ex.set(y, d, rank);
    bind1(ex, n, y)
}

fn unsqueeze(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let axes = axes_of(ex, n)?.ok_or_else(|| Error::invalid(format!("{}: axes are required", n.describe())))?;
    let count = ex.static_shape(axes).map(|s| s.iter().product::<usize>());
    let d = ex.dtype(x);
    let rank = ex.rank(x).zip(count).map(|(r, c)| r + c);
    let y = ex.op("Unsqueeze", "opset1", &[], &[x, axes]);
    ex.set(y, d, rank);
    bind1(ex, n, y)
}

fn shape_of(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let mut y = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[x]);
    ex.set(y, Some(DType::I64), Some(1));
    let start = int(n, "start", 0)?;
    let end = n.attr("end").map(|a| a.as_int()).transpose()?;
    if start != 0 || end.is_some() {
        let (b, e, s) = (ex.i64s(&[start]), ex.i64s(&[end.unwrap_or(i64::MAX)]), ex.i64s(&[1]));
        y = ex.op("Slice", "opset8", &[], &[y, b, e, s]);
    }
    bind1(ex, n, y)
}

fn size(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let s = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[x]);
    ex.set(s, Some(DType::I64), Some(1));
    let zero = ex.i64s(&[0]);
    let y = ex.op("ReduceProd", "opset1", &[("keep_dims", "false".into())], &[s, zero]);
    ex.set(y, Some(DType::I64), Some(0));
    bind1(ex, n, y)
}

fn tile(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, r) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let y = ex.op("Tile", "opset1", &[], &[x, r]);
    bind1(ex, n, y)
}

fn pad(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let mode = match string(n, "mode", "constant")? {
        m @ ("constant" | "reflect" | "edge") => m,
        m => return Err(unsupported_attr(n, &format!("mode='{m}'"))),
    };
    let (pads, value) = if ex.model().onnx_opset() < 11 {
        let p = ints(n, "pads")?.unwrap_or_default();
        let v = n.attr_float("value", 0.0)?;
        let d = ex.dtype(x);
        (Some(p), Some(ex.scalar(f64::from(v), d)?))
    } else {
        if n.input(3).is_some_and(|a| !a.is_empty()) {
            return Err(unsupported_attr(n, "the axes input of Pad"));
        }
        let p = ex.const_ints(n, 1)?;
        (p, ex.opt_input(n, 2)?)
    };
    let (begin, end) = match pads {
        Some(p) => {
            let half = p.len() / 2;
            (ex.i64s(&p[..half]), ex.i64s(&p[half..]))
        }
        None => {
            // Pads computed at run time: split [b…, e…] in two halves.
            let p = ex.input(n, 1)?;
            let a = ex.i64_scalar(0);
            let halves = ex.layer("Split", "opset1", &[("num_splits", "2".into())], &[p, a], 2);
            (halves[0], halves[1])
        }
    };
    let mut inputs = vec![x, begin, end];
    if mode == "constant"
        && let Some(v) = value
    {
        // OpenVINO wants a scalar pad value; ONNX allows a one-element 1-D tensor.
        let v = if ex.rank(v) == Some(1) {
            let shape = ex.i64s(&[]);
            let d = ex.dtype(v);
            let s = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[v, shape]);
            ex.set(s, d, Some(0))
        } else {
            v
        };
        inputs.push(v);
    }
    let y = ex.op("Pad", "opset12", &[("pad_mode", mode.into())], &inputs);
    bind1(ex, n, y)
}

fn constant(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let t = if let Some(t) = tensor_attr(n, "value") {
        t.clone()
    } else if let Some(a) = n.attr("value_float") {
        Tensor::scalar(a.as_float()?)
    } else if let Some(a) = n.attr("value_int") {
        Tensor::scalar(a.as_int()?)
    } else if let Some(a) = n.attr("value_floats") {
        let v = a.as_floats()?.to_vec();
        Tensor::from_vec(vec![v.len()], v)?
    } else if let Some(a) = n.attr("value_ints") {
        let v = a.as_ints()?.to_vec();
        Tensor::from_vec(vec![v.len()], v)?
    } else {
        return Err(unsupported_attr(n, "a Constant without a numeric value"));
    };
    let name = n.output(0).unwrap_or("const").to_string();
    let s = ex.tensor(&name, t)?;
    bind1(ex, n, s)
}

fn constant_of_shape(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let shape = ex.input(n, 0)?;
    let value = match tensor_attr(n, "value") {
        Some(t) => t.reshaped(vec![])?,
        None => Tensor::scalar(0f32),
    };
    let d = value.dtype();
    let base = format!("{}/value", n.name);
    let v = ex.tensor(&base, value)?;
    let rank = ex.static_shape(shape).and_then(|s| s.first().copied());
    let y = ex.op("Broadcast", "opset3", &[("mode", "numpy".into())], &[v, shape]);
    ex.set(y, Some(d), rank);
    bind1(ex, n, y)
}

fn range(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (a, b, c) = (ex.input(n, 0)?, ex.input(n, 1)?, ex.input(n, 2)?);
    let d = ex.dtype(a).unwrap_or(DType::F32);
    let et = crate::dtype::element_type(d).unwrap_or("f32");
    let y = ex.op("Range", "opset4", &[("output_type", et.into())], &[a, b, c]);
    ex.set(y, Some(d), Some(1));
    bind1(ex, n, y)
}

/// ONNX passes `K` as a 1-element 1-D tensor; OpenVINO wants a scalar.
fn scalar_of(ex: &mut Ex<'_>, s: Src) -> Src {
    if ex.rank(s) == Some(0) {
        return s;
    }
    let shape = ex.i64s(&[]);
    let d = ex.dtype(s);
    let y = ex.op("Reshape", "opset1", &[("special_zero", "false".into())], &[s, shape]);
    ex.set(y, d, Some(0))
}

fn topk(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let k = ex.input(n, 1)?;
    let k = scalar_of(ex, k);
    let largest = int(n, "largest", 1)? != 0;
    let sorted = int(n, "sorted", 1)? != 0;
    let data = [
        ("axis", int(n, "axis", -1)?.to_string()),
        ("mode", if largest { "max" } else { "min" }.into()),
        ("sort", if sorted { "value" } else { "none" }.into()),
        ("index_element_type", "i64".into()),
        ("stable", "true".into()),
    ];
    let ys = ex.layer("TopK", "opset11", &data, &[x, k], 2);
    let r = ex.rank(x);
    ex.set(ys[1], Some(DType::I64), r);
    ex.bind(n, 0, ys[0]);
    ex.bind(n, 1, ys[1]);
    Ok(())
}

fn arg(ex: &mut Ex<'_>, n: &Node, max: bool) -> Result<()> {
    if int(n, "select_last_index", 0)? != 0 {
        return Err(unsupported_attr(n, "select_last_index=1"));
    }
    let x = ex.input(n, 0)?;
    let axis = int(n, "axis", 0)?;
    let k = ex.i64_scalar(1);
    let data = [
        ("axis", axis.to_string()),
        ("mode", if max { "max" } else { "min" }.into()),
        ("sort", "none".into()),
        ("index_element_type", "i64".into()),
        ("stable", "true".into()),
    ];
    let ys = ex.layer("TopK", "opset11", &data, &[x, k], 2);
    let r = ex.rank(x);
    let mut y = ex.set(ys[1], Some(DType::I64), r);
    if int(n, "keepdims", 1)? == 0 {
        let a = ex.i64s(&[axis]);
        y = ex.op("Squeeze", "opset1", &[], &[y, a]);
        ex.set(y, Some(DType::I64), r.and_then(|r| r.checked_sub(1)));
    }
    bind1(ex, n, y)
}

fn cumsum(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (x, a) = (ex.input(n, 0)?, ex.input(n, 1)?);
    let a = scalar_of(ex, a);
    let data = [
        ("exclusive", (int(n, "exclusive", 0)? != 0).to_string()),
        ("reverse", (int(n, "reverse", 0)? != 0).to_string()),
    ];
    let y = ex.op("CumSum", "opset3", &data, &[x, a]);
    bind1(ex, n, y)
}

fn nonzero(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let x = ex.input(n, 0)?;
    let y = ex.op("NonZero", "opset3", &[("output_type", "i64".into())], &[x]);
    ex.set(y, Some(DType::I64), Some(2));
    bind1(ex, n, y)
}

fn one_hot(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (i, depth, values) = (ex.input(n, 0)?, ex.input(n, 1)?, ex.input(n, 2)?);
    let depth = scalar_of(ex, depth);
    let a = ex.i64_scalar(0);
    let (i0, i1) = (ex.i64_scalar(0), ex.i64_scalar(1));
    let d = ex.dtype(values);
    let off = ex.op("Gather", "opset8", &[("batch_dims", "0".into())], &[values, i0, a]);
    ex.set(off, d, Some(0));
    let on = ex.op("Gather", "opset8", &[("batch_dims", "0".into())], &[values, i1, a]);
    ex.set(on, d, Some(0));
    let y = ex.op("OneHot", "opset1", &[("axis", int(n, "axis", -1)?.to_string())], &[i, depth, on, off]);
    let r = ex.rank(i).map(|r| r + 1);
    ex.set(y, d, r);
    bind1(ex, n, y)
}

fn dropout(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    if n.output(1).is_some_and(|m| !m.is_empty()) {
        return Err(unsupported_attr(n, "Dropout's mask output"));
    }
    // Looked up without materialising a Const layer for an input that is
    // then not used.
    let graph = &ex.model().graph;
    let constant = |i: usize| graph.initializers.get(n.input(i)?)?.to_f64s().ok();
    if !ir::schema::dropout_is_identity(n, constant) {
        return Err(unsupported_attr(n, "Dropout in training mode"));
    }
    let x = ex.input(n, 0)?;
    bind1(ex, n, x)
}

fn trilu(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    // No Trilu in OpenVINO: keep where (col - row) compares with k, built
    // from Range over the last two dimensions.
    let x = ex.input(n, 0)?;
    let upper = int(n, "upper", 1)? != 0;
    let k = match ex.opt_input(n, 1)? {
        Some(k) => scalar_of(ex, k),
        None => ex.i64_scalar(0),
    };
    let shape = ex.op("ShapeOf", "opset3", &[("output_type", "i64".into())], &[x]);
    ex.set(shape, Some(DType::I64), Some(1));
    let (i_rows, i_cols, ax) = (ex.i64_scalar(-2), ex.i64_scalar(-1), ex.i64_scalar(0));
    let rows = ex.op("Gather", "opset8", &[("batch_dims", "0".into())], &[shape, i_rows, ax]);
    let cols = ex.op("Gather", "opset8", &[("batch_dims", "0".into())], &[shape, i_cols, ax]);
    let (zero, one) = (ex.i64_scalar(0), ex.i64_scalar(1));
    let r = ex.op("Range", "opset4", &[("output_type", "i64".into())], &[zero, rows, one]);
    let c = ex.op("Range", "opset4", &[("output_type", "i64".into())], &[zero, cols, one]);
    let ax1 = ex.i64s(&[1]);
    let r2 = ex.op("Unsqueeze", "opset1", &[], &[r, ax1]);
    ex.set(r2, Some(DType::I64), Some(2));
    ex.set(c, Some(DType::I64), Some(1));
    let diff = binary(ex, "Subtract", c, r2);
    let keep = binary(ex, if upper { "GreaterEqual" } else { "LessEqual" }, diff, k);
    let d = ex.dtype(x);
    let zero_v = ex.scalar(0.0, d)?;
    let y = ex.op("Select", "opset1", &[("auto_broadcast", "numpy".into())], &[keep, x, zero_v]);
    let rk = ex.rank(x);
    ex.set(y, d, rk);
    bind1(ex, n, y)
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { onnx: "Reshape", openvino: "Reshape-1 (special_zero = !allowzero)", build: reshape },
    Rule { onnx: "Flatten", openvino: "Reshape-1", build: flatten },
    Rule { onnx: "Transpose", openvino: "Transpose-1", build: transpose },
    Rule { onnx: "Concat", openvino: "Concat-1", build: concat },
    Rule { onnx: "Split", openvino: "Split-1 / VariadicSplit-1", build: split },
    Rule { onnx: "Slice", openvino: "Slice-8", build: slice },
    Rule { onnx: "Gather", openvino: "Gather-8", build: gather },
    Rule { onnx: "GatherElements", openvino: "GatherElements-6", build: gather_elements },
    Rule { onnx: "GatherND", openvino: "GatherND-8", build: gather_nd },
    Rule { onnx: "ScatterND", openvino: "ScatterNDUpdate-3 / -15 (reduction)", build: scatter_nd },
    Rule { onnx: "ScatterElements", openvino: "ScatterElementsUpdate-3 / -12 (reduction)", build: scatter_elements },
    Rule { onnx: "Expand", openvino: "Broadcast-3 (bidirectional)", build: expand },
    Rule { onnx: "Squeeze", openvino: "Squeeze-1", build: squeeze },
    Rule { onnx: "Unsqueeze", openvino: "Unsqueeze-1", build: unsqueeze },
    Rule { onnx: "Shape", openvino: "ShapeOf-3 (i64) [+ Slice-8]", build: shape_of },
    Rule { onnx: "Size", openvino: "ShapeOf-3 + ReduceProd-1", build: size },
    Rule { onnx: "Tile", openvino: "Tile-1", build: tile },
    Rule { onnx: "Pad", openvino: "Pad-12", build: pad },
    Rule { onnx: "Constant", openvino: "Const-1", build: constant },
    Rule { onnx: "ConstantOfShape", openvino: "Broadcast-3 (numpy) of a Const-1", build: constant_of_shape },
    Rule { onnx: "Range", openvino: "Range-4", build: range },
    Rule { onnx: "TopK", openvino: "TopK-11", build: topk },
    Rule { onnx: "ArgMax", openvino: "TopK-11 (k=1) [+ Squeeze-1]", build: |ex, n| arg(ex, n, true) },
    Rule { onnx: "ArgMin", openvino: "TopK-11 (k=1) [+ Squeeze-1]", build: |ex, n| arg(ex, n, false) },
    Rule { onnx: "CumSum", openvino: "CumSum-3", build: cumsum },
    Rule { onnx: "NonZero", openvino: "NonZero-3 (i64)", build: nonzero },
    Rule { onnx: "OneHot", openvino: "OneHot-1 (+ Gather-8 of on/off values)", build: one_hot },
    Rule { onnx: "Dropout", openvino: "(elided, inference; training mode refused)", build: dropout },
    Rule { onnx: "Trilu", openvino: "Range-4, Subtract-1, GreaterEqual-1/LessEqual-1, Select-1", build: trilu },
];
