//! The text in a node's box: op name, key attributes and folded constants,
//! and the shape-and-dtype labels of edges.

use ir::schema::AttrDefault;
use ir::{Attribute, DType, Dim, Node, Tensor, ValueType};

/// Attributes shown first, in this order, for conv and pool ops.
const FIRST: &[&str] = &["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"];
/// Most attribute lines per box.
const MAX_ATTR_LINES: usize = 3;
/// Most constant-input lines per box before "+N more".
const MAX_CONST_LINES: usize = 6;
/// Most list elements written before an ellipsis.
const MAX_LIST: usize = 8;

/// `domain::Op`, or the plain op in the default domain.
pub(crate) fn op_title(node: &Node) -> String {
    if node.domain.is_empty() || node.domain == "ai.onnx" {
        node.op.clone()
    } else {
        format!("{}::{}", node.domain, node.op)
    }
}

/// Dimensions as `64×3×7×7` (a scalar is `scalar`).
pub(crate) fn dims_text(dims: impl ExactSizeIterator<Item = String>) -> String {
    if dims.len() == 0 {
        return "scalar".into();
    }
    dims.collect::<Vec<_>>().join("×")
}

/// A value's type as an edge label: `1×64×56×56 f32`; `None` when nothing is known.
pub(crate) fn type_text(ty: &ValueType) -> Option<String> {
    match ty {
        ValueType::Tensor { dtype, shape } => {
            let dims = shape.as_ref().map(|s| {
                dims_text(s.0.iter().map(|d| match d {
                    Dim::Fixed(n) => n.to_string(),
                    Dim::Symbolic(s) => s.clone(),
                    Dim::Unknown => "?".into(),
                }))
            });
            match (dims, dtype) {
                (Some(d), Some(t)) => Some(format!("{d} {t}")),
                (Some(d), None) => Some(d),
                (None, Some(t)) => Some(t.to_string()),
                (None, None) => None,
            }
        }
        ValueType::Unknown => None,
        other => Some(other.to_string()),
    }
}

/// A float to four significant digits, trailing zeros dropped: `0.5946`,
/// `9.841e-4`, `-3.403e38`, `3`.
fn float_text(v: f64) -> String {
    fn trim(s: &str) -> &str {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    if (1e-3..1e6).contains(&v.abs()) {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        return trim(&format!("{v:.digits$}")).to_string();
    }
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim(m)),
        None => s,
    }
}

fn list<T: ToString>(v: &[T], sep: &str) -> String {
    let mut s: Vec<String> = v.iter().take(MAX_LIST).map(T::to_string).collect();
    if v.len() > MAX_LIST {
        s.push("…".into());
    }
    s.join(sep)
}

/// A constant's shape and, when not f32, dtype: `⟨64×3×7×7⟩`, `⟨64⟩ i8`.
fn tensor_text(t: &Tensor) -> String {
    let dims = dims_text(t.shape().iter().map(usize::to_string));
    if t.dtype() == DType::F32 { format!("⟨{dims}⟩") } else { format!("⟨{dims}⟩ {}", t.dtype()) }
}

/// Whether `a` is the attribute's default (so not worth a line).
fn is_default(node: &Node, name: &str, a: &Attribute, opset: i64) -> bool {
    // Defaults that depend on the rank, which the schema leaves unset.
    match (name, a) {
        ("strides" | "dilations", Attribute::Ints(v)) if v.iter().all(|&x| x == 1) => return true,
        ("pads" | "output_padding", Attribute::Ints(v)) if v.iter().all(|&x| x == 0) => return true,
        _ => {}
    }
    let Some(spec) = ir::schema::of(node).and_then(|s| s.attr_at(name, opset)) else {
        return false;
    };
    match (spec.default, a) {
        (AttrDefault::Int(d), Attribute::Int(v)) => d == *v,
        (AttrDefault::Float(d), Attribute::Float(v)) => d == *v,
        (AttrDefault::Str(d), Attribute::String(v)) => d == v,
        (AttrDefault::Ints(d), Attribute::Ints(v)) => d == v.as_slice(),
        _ => false,
    }
}

/// `name=value` for one attribute, in the box's short forms; `None` for
/// subgraphs (drawn as clusters).
fn attr_item(name: &str, a: &Attribute) -> Option<String> {
    let short = match name {
        "kernel_shape" => "k",
        "strides" => "s",
        "pads" => "p",
        "dilations" => "d",
        "group" => "g",
        other => other,
    };
    let value = match a {
        Attribute::Int(v) if matches!(name, "to" | "dtype" | "output_dtype") => {
            DType::from_onnx_code(*v).map_or_else(|| v.to_string(), |d| d.to_string())
        }
        Attribute::Int(v) => v.to_string(),
        Attribute::Float(v) => float_text(f64::from(*v)),
        Attribute::String(s) => s.clone(),
        Attribute::Ints(v) if matches!(name, "kernel_shape" | "strides" | "dilations") => list(v, "×"),
        Attribute::Ints(v) if name == "pads" && v.windows(2).all(|w| w[0] == w[1]) && !v.is_empty() => v[0].to_string(),
        Attribute::Ints(v) => format!("[{}]", list(v, ",")),
        Attribute::Floats(v) => {
            format!("[{}]", list(&v.iter().map(|&x| float_text(f64::from(x))).collect::<Vec<_>>(), ","))
        }
        Attribute::Strings(v) => format!("[{}]", list(v, ",")),
        Attribute::Tensor(t) => small_value(t).unwrap_or_else(|| tensor_text(t)),
        Attribute::Graph(_) | Attribute::Graphs(_) => return None,
        Attribute::Type(t) => t.to_string(),
        Attribute::SparseTensor(_) => "sparse".into(),
        Attribute::Tensors(v) => format!("{} tensors", v.len()),
        Attribute::SparseTensors(v) => format!("{} sparse tensors", v.len()),
        Attribute::Types(v) => format!("{} types", v.len()),
    };
    Some(format!("{short}={value}"))
}

/// The attribute lines of `node`: non-default attributes, conv and pool
/// geometry first (the kernel read from the weight when not an
/// attribute), packed into lines of at most `max_chars`.
pub(crate) fn attr_lines(node: &Node, opset: i64, weight_dims: Option<&[usize]>, max_chars: usize) -> Vec<String> {
    let mut items = Vec::new();
    let is_conv = matches!(node.op.as_str(), "Conv" | "ConvTranspose" | "ConvInteger" | "QLinearConv");
    if is_conv
        && node.attr("kernel_shape").is_none()
        && let Some(dims) = weight_dims.filter(|d| d.len() > 2)
    {
        items.push(format!("k={}", list(&dims[2..], "×")));
    }
    let mut names: Vec<&str> = FIRST.iter().copied().filter(|n| node.attrs.contains_key(*n)).collect();
    names.extend(node.attrs.keys().map(String::as_str).filter(|n| !FIRST.contains(n)));
    for name in names {
        let Some(a) = node.attr(name) else { continue };
        if is_default(node, name, a, opset) {
            continue;
        }
        if let Some(item) = attr_item(name, a) {
            items.push(item);
        }
    }
    pack(items, max_chars, MAX_ATTR_LINES)
}

/// Joins items with spaces into at most `max_lines` lines of `max_chars`;
/// what does not fit ends the last line with an ellipsis.
fn pack(items: Vec<String>, max_chars: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let total = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let item = truncate(&item, max_chars);
        let fits = cur.is_empty() || cur.chars().count() + 1 + item.chars().count() <= max_chars;
        if !fits {
            lines.push(std::mem::take(&mut cur));
            if lines.len() == max_lines {
                let last = lines.pop().unwrap_or_default();
                let more = total - i;
                lines.push(truncate(&format!("{last} +{more}"), max_chars));
                return lines;
            }
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&item);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `s` cut to `max` characters, the last one an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The line for a constant read at input `slot` of `node`: the slot's
/// name from the op schema, then the value (small integer vectors and
/// scalars) or the shape, and the tensor's own name when other nodes read
/// it too.
pub(crate) fn const_line(node: &Node, slot: usize, name: &str, t: &Tensor, shared: bool, opset: i64) -> String {
    let slot_name = ir::schema::of(node)
        .and_then(|s| {
            let slots: Vec<_> = s.inputs_at(opset).collect();
            slots.get(slot).or(slots.last().filter(|l| matches!(l.arity, ir::schema::Arity::Variadic { .. }))).copied()
        })
        .map_or_else(|| format!("in{slot}"), |s| s.name.to_string());
    let value = small_value(t);
    let body = match value {
        Some(v) => format!("{slot_name}={v}"),
        None => format!("{slot_name} {}", tensor_text(t)),
    };
    if shared { format!("{body} {name}") } else { body }
}

/// The elements of a small tensor: an integer scalar or vector of at most
/// [`MAX_LIST`] elements (shapes, axes), or a float scalar: `[1,-1]`,
/// `0.5`; `None` for anything else (a float vector is weights: its shape says more).
fn small_value(t: &Tensor) -> Option<String> {
    let limit = if t.dtype().is_float() { 1 } else { MAX_LIST };
    if t.numel() > limit || t.shape().len() > 1 {
        return None;
    }
    let v: Vec<String> = if t.dtype().is_float() {
        t.to_f64s().ok()?.into_iter().map(float_text).collect()
    } else if t.dtype() == DType::Bool {
        t.to_bools().ok()?.iter().map(bool::to_string).collect()
    } else {
        t.to_i64s().ok()?.iter().map(i64::to_string).collect()
    };
    Some(if t.shape().is_empty() { v.join(",") } else { format!("[{}]", v.join(",")) })
}

/// Caps the constant lines of one box, summarising the rest.
pub(crate) fn cap_const_lines(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_CONST_LINES {
        let more = lines.len() - (MAX_CONST_LINES - 1);
        lines.truncate(MAX_CONST_LINES - 1);
        lines.push(format!("+{more} constants"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_geometry_is_compact_and_defaults_are_hidden() {
        let n = Node::new("Conv", ["x", "w"], ["y"])
            .with_attr("dilations", vec![1i64, 1])
            .with_attr("group", 1i64)
            .with_attr("pads", vec![3i64, 3, 3, 3])
            .with_attr("strides", vec![2i64, 2]);
        assert_eq!(attr_lines(&n, 17, Some(&[64, 3, 7, 7]), 40), vec!["k=7×7 s=2×2 p=3"]);
        let n = Node::new("Gemm", ["a", "b"], ["y"]).with_attr("transB", 1i64).with_attr("alpha", 1.0f32);
        assert_eq!(attr_lines(&n, 17, None, 40), vec!["transB=1"]);
        let n = Node::new("Cast", ["a"], ["y"]).with_attr("to", 10i64);
        assert_eq!(attr_lines(&n, 17, None, 40), vec!["to=f16"]);
    }

    #[test]
    fn constants_show_their_slot_and_shape_or_value() {
        let conv = Node::new("Conv", ["x", "w", "b"], ["y"]);
        let w = Tensor::from_vec(vec![64, 3, 7, 7], vec![0f32; 64 * 3 * 49]).unwrap();
        assert_eq!(const_line(&conv, 1, "conv1.weight", &w, false, 17), "W ⟨64×3×7×7⟩");
        assert_eq!(const_line(&conv, 1, "conv1.weight", &w, true, 17), "W ⟨64×3×7×7⟩ conv1.weight");
        let q = Tensor::from_vec(vec![16], vec![0i8; 16]).unwrap();
        assert_eq!(const_line(&conv, 2, "b", &q, false, 17), "B ⟨16⟩ i8");
        let reshape = Node::new("Reshape", ["x", "s"], ["y"]);
        let shape = Tensor::from_vec(vec![2], vec![1i64, -1]).unwrap();
        assert_eq!(const_line(&reshape, 1, "s", &shape, false, 17), "shape=[1,-1]");
        let concat = Node::new("Concat", ["a", "b", "c"], ["y"]);
        assert_eq!(const_line(&concat, 2, "c", &Tensor::scalar(0.5f32), false, 17), "inputs=0.5");
        let lp = Node::new("Loop", ["n", "c"], ["y"]);
        assert_eq!(const_line(&lp, 1, "c", &Tensor::from_bools(vec![], &[true]).unwrap(), false, 17), "cond=true");
        let custom = Node::new("Mine", ["a", "b"], ["y"]).in_domain("x");
        assert_eq!(
            const_line(&custom, 1, "b", &Tensor::from_vec(vec![3], vec![1f32; 3]).unwrap(), false, 17),
            "in1 ⟨3⟩"
        );
        let k = Node::new("Constant", Vec::<String>::new(), ["y"])
            .with_attr("value", Tensor::from_vec(vec![1], vec![3i64]).unwrap());
        assert_eq!(attr_lines(&k, 17, None, 40), vec!["value=[3]"]);
    }

    #[test]
    fn floats_are_short() {
        let cases = [
            (0.5946035385131836, "0.5946"),
            (9.84072219580412e-4, "9.841e-4"),
            (-3.4028234663852886e38, "-3.403e38"),
            (1e-5, "1e-5"),
            (3.0, "3"),
            (0.0, "0"),
            (123456.0, "123456"),
            (1.4142135381698608, "1.414"),
        ];
        for (v, want) in cases {
            assert_eq!(float_text(v), want, "{v}");
        }
    }

    #[test]
    fn long_attribute_lists_are_cut() {
        let mut n = Node::new("Custom", ["a"], ["y"]).in_domain("my.domain");
        for i in 0..20 {
            n = n.with_attr(format!("attribute_{i}"), vec![1i64; 30]);
        }
        let lines = attr_lines(&n, 17, None, 30);
        assert_eq!(lines.len(), MAX_ATTR_LINES);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(op_title(&n), "my.domain::Custom");
    }
}
