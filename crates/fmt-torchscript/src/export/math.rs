//! Elementwise math: unary functions, broadcasting binary and variadic
//! ops, comparisons, logic, activations, `Cast`, `Where`, `Clip`,
//! `Einsum`, `CumSum`. torch broadcasts like ONNX (numpy rules), so these
//! map one to one; where torch would promote a dtype ONNX keeps (integer
//! `Div`, `Pow` with an integer exponent), the rule says so explicitly.

use ir::{DType, Node};

use super::{Emitted, Gen, Rule, assign, float_lit, rule_for, scalar_type};

/// `torch.f(x)` with `f` taken from the rule's `torch` column.
fn unary(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = rule_for(&n.op).map(|r| r.torch).unwrap_or_default();
    assign(outs, format!("{f}({})", g.inp(n, 0)?))
}

/// `torch.f(a, b)` with `f` taken from the rule's `torch` column.
fn binary(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = rule_for(&n.op).map(|r| r.torch).unwrap_or_default();
    assign(outs, format!("{f}({}, {})", g.inp(n, 0)?, g.inp(n, 1)?))
}

/// Folds a variadic op (`Max`, `Min`, `Sum`) left to right.
fn variadic(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = rule_for(&n.op).map(|r| r.torch).unwrap_or_default();
    let mut e = g.inp(n, 0)?;
    for i in 1..n.inputs.len() {
        e = format!("{f}({e}, {})", g.inp(n, i)?);
    }
    assign(outs, e)
}

fn mean(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let mut e = g.inp(n, 0)?;
    for i in 1..n.inputs.len() {
        e = format!("torch.add({e}, {})", g.inp(n, i)?);
    }
    assign(outs, format!("torch.div({e}, {})", n.inputs.len()))
}

fn div(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let (a, b) = (g.inp(n, 0)?, g.inp(n, 1)?);
    // ONNX integer division truncates; torch's `/` would give floats.
    match g.dtype(n, 0) {
        Some(d) if d.is_int() => assign(outs, format!("torch.div({a}, {b}, rounding_mode=\"trunc\")")),
        Some(_) => assign(outs, format!("torch.div({a}, {b})")),
        None => Err("dtype of the dividend unknown".into()),
    }
}

fn pow(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let e = format!("torch.pow({}, {})", g.inp(n, 0)?, g.inp(n, 1)?);
    // ONNX keeps the base's dtype; torch promotes to the wider of the two.
    match (g.dtype(n, 0), g.dtype(n, 1)) {
        (Some(a), Some(b)) if a == b => assign(outs, e),
        (Some(a), _) => assign(outs, format!("torch.to({e}, {})", code(a)?)),
        _ => Err("dtype of the base unknown".into()),
    }
}

fn modulo(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = if attr_i(n, "fmod", 0)? != 0 { "torch.fmod" } else { "torch.remainder" };
    assign(outs, format!("{f}({}, {})", g.inp(n, 0)?, g.inp(n, 1)?))
}

fn bitshift(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let f = match n.attr_str("direction", "").map_err(|e| e.to_string())? {
        "LEFT" => "torch.bitwise_left_shift",
        "RIGHT" => "torch.bitwise_right_shift",
        d => return Err(format!("direction '{d}'")),
    };
    assign(outs, format!("{f}({}, {})", g.inp(n, 0)?, g.inp(n, 1)?))
}

/// The torch dtype code of `d`, or why there is none.
pub(crate) fn code(d: DType) -> Result<i64, String> {
    scalar_type(d).ok_or_else(|| format!("torch has no {d} dtype"))
}

/// An integer attribute with its default, errors as text.
pub(crate) fn attr_i(n: &Node, name: &str, default: i64) -> Result<i64, String> {
    n.attr_int(name, default).map_err(|e| e.to_string())
}

/// A float attribute with its default, errors as text.
pub(crate) fn attr_f(n: &Node, name: &str, default: f32) -> Result<f32, String> {
    n.attr_float(name, default).map_err(|e| e.to_string())
}

/// An integer-list attribute, errors as text.
pub(crate) fn attr_is(n: &Node, name: &str) -> Result<Option<Vec<i64>>, String> {
    n.attr_ints(name).map(|o| o.map(<[i64]>::to_vec)).map_err(|e| e.to_string())
}

/// `x`, clamped to the finite range of the 8-bit float `to` when the node
/// saturates (ONNX's default from opset 19): torch converts to 8-bit floats
/// without saturating (NaN, or infinity for E5M2, out of range).
fn saturated(g: &Gen, n: &Node, x: String, to: Option<DType>) -> Result<String, String> {
    let max = match to {
        Some(DType::F8E4M3FN) => 448.0,
        Some(DType::F8E4M3FNUZ) => 240.0,
        Some(DType::F8E5M2 | DType::F8E5M2FNUZ) => 57344.0,
        _ => return Ok(x),
    };
    if g.opset < 19 || attr_i(n, "saturate", 1)? != 0 {
        return Ok(format!("torch.clamp({x}, {}, {})", float_lit(-max), float_lit(max)));
    }
    Ok(x)
}

fn cast(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let to = attr_i(n, "to", 0)?;
    let d = DType::from_onnx_code(to).ok_or_else(|| format!("unknown dtype code {to}"))?;
    let x = saturated(g, n, g.inp(n, 0)?, Some(d))?;
    assign(outs, format!("torch.to({x}, {})", code(d)?))
}

fn cast_like(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = saturated(g, n, g.inp(n, 0)?, g.dtype(n, 1))?;
    assign(outs, format!("torch.type_as({x}, {})", g.inp(n, 1)?))
}

fn identity(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(&outs[..1], g.inp(n, 0)?)
}

fn dropout(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    // Inference: the identity; a requested mask is all true.
    if !ir::schema::dropout_is_identity(n, |i| g.floats(n, i)) {
        return Err("training mode (training_mode not a constant false)".into());
    }
    let x = g.inp(n, 0)?;
    let mut l = vec![format!("{} = {x}", outs[0])];
    if outs.len() > 1 && n.output(1).is_some_and(|o| !o.is_empty()) {
        l.push(format!("{} = torch.ones_like({x}, dtype=11)", outs[1]));
    }
    Ok(l)
}

fn clip(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let (lo, hi) = if g.opset < 11 {
        let lo = n.attr("min").map(|_| attr_f(n, "min", 0.0)).transpose()?.map(|v| float_lit(v as f64));
        let hi = n.attr("max").map(|_| attr_f(n, "max", 0.0)).transpose()?.map(|v| float_lit(v as f64));
        (lo, hi)
    } else {
        (g.opt(n, 1), g.opt(n, 2))
    };
    assign(outs, format!("torch.clamp({x}, {}, {})", lo.as_deref().unwrap_or("None"), hi.as_deref().unwrap_or("None")))
}

fn where_(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.where({}, {}, {})", g.inp(n, 0)?, g.inp(n, 1)?, g.inp(n, 2)?))
}

fn leaky(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 0.01)?;
    assign(outs, format!("torch.leaky_relu({}, {})", g.inp(n, 0)?, float_lit(a as f64)))
}

fn elu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 1.0)?;
    assign(outs, format!("torch.elu({}, {})", g.inp(n, 0)?, float_lit(a as f64)))
}

fn celu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 1.0)?;
    assign(outs, format!("torch.celu({}, {})", g.inp(n, 0)?, float_lit(a as f64)))
}

fn selu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 1.673_263_2)? as f64;
    let s = attr_f(n, "gamma", 1.050_701)? as f64;
    let x = g.inp(n, 0)?;
    assign(
        outs,
        format!(
            "torch.mul(torch.where(torch.gt({x}, 0), {x}, torch.mul(torch.expm1({x}), {})), {})",
            float_lit(a),
            float_lit(s)
        ),
    )
}

fn hard_sigmoid(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 0.2)? as f64;
    let b = attr_f(n, "beta", 0.5)? as f64;
    assign(
        outs,
        format!("torch.clamp(torch.add(torch.mul({}, {}), {}), 0., 1.)", g.inp(n, 0)?, float_lit(a), float_lit(b)),
    )
}

fn gelu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    // TorchScript's aten::gelu schema has no `approximate` argument: write the tanh form out.
    match n.attr_str("approximate", "none").map_err(|e| e.to_string())? {
        "none" => assign(outs, format!("torch.gelu({x})")),
        "tanh" => assign(
            outs,
            format!(
                "torch.mul(torch.mul({x}, 0.5), torch.add(torch.tanh(torch.mul(torch.add({x}, torch.mul(torch.pow({x}, 3), 0.044715)), 0.7978845608028654)), 1.))"
            ),
        ),
        a => Err(format!("approximate '{a}'")),
    }
}

fn prelu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    // torch.prelu broadcasts the slope over channels only; ONNX broadcasts numpy-style.
    let (x, s) = (g.inp(n, 0)?, g.inp(n, 1)?);
    assign(outs, format!("torch.where(torch.lt({x}, 0), torch.mul({x}, {s}), {x})"))
}

fn thresholded_relu(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let a = attr_f(n, "alpha", 1.0)? as f64;
    let x = g.inp(n, 0)?;
    assign(outs, format!("torch.where(torch.gt({x}, {}), {x}, torch.zeros_like({x}))", float_lit(a)))
}

fn shrink(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let b = float_lit(attr_f(n, "bias", 0.0)? as f64);
    let l = float_lit(attr_f(n, "lambd", 0.5)? as f64);
    let x = g.inp(n, 0)?;
    assign(
        outs,
        format!(
            "torch.where(torch.lt({x}, -{l}), torch.add({x}, {b}), torch.where(torch.gt({x}, {l}), torch.sub({x}, {b}), torch.zeros_like({x})))"
        ),
    )
}

fn softplus(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    assign(outs, format!("torch.log1p(torch.exp({}))", g.inp(n, 0)?))
}

fn softsign(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    assign(outs, format!("torch.div({x}, torch.add(torch.abs({x}), 1))"))
}

fn mish(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    assign(outs, format!("torch.mul({x}, torch.tanh(torch.log1p(torch.exp({x}))))"))
}

fn is_inf(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let (pos, neg) = (attr_i(n, "detect_positive", 1)?, attr_i(n, "detect_negative", 1)?);
    let e = match (pos != 0, neg != 0) {
        (true, true) => format!("torch.isinf({x})"),
        (true, false) => format!("torch.isposinf({x})"),
        (false, true) => format!("torch.isneginf({x})"),
        (false, false) => format!("torch.zeros_like({x}, dtype=11)"),
    };
    assign(outs, e)
}

fn einsum(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let eq = n.attr_str("equation", "").map_err(|e| e.to_string())?.replace(' ', "");
    let ins = (0..n.inputs.len()).map(|i| g.inp(n, i)).collect::<Result<Vec<_>, _>>()?;
    assign(outs, format!("torch.einsum(\"{eq}\", [{}])", ins.join(", ")))
}

fn cumsum(g: &mut Gen, n: &Node, outs: &[String]) -> Emitted {
    let x = g.inp(n, 0)?;
    let axis = g.int(n, 1)?;
    let (excl, rev) = (attr_i(n, "exclusive", 0)? != 0, attr_i(n, "reverse", 0)? != 0);
    let d = g.dtype(n, 0).ok_or("dtype unknown")?;
    let src = if rev { format!("torch.flip({x}, [{axis}])") } else { x.clone() };
    // torch.cumsum widens integer sums to int64; ONNX keeps the dtype.
    let mut e = format!("torch.cumsum({src}, {axis}, dtype={})", code(d)?);
    if excl {
        e = format!("torch.sub({e}, {src})");
    }
    if rev {
        e = format!("torch.flip({e}, [{axis}])");
    }
    assign(outs, e)
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule { op: "Add", torch: "torch.add", note: "", emit: binary },
    Rule { op: "Sub", torch: "torch.sub", note: "", emit: binary },
    Rule { op: "Mul", torch: "torch.mul", note: "", emit: binary },
    Rule { op: "Div", torch: "torch.div", note: "integers: `rounding_mode=\"trunc\"`", emit: div },
    Rule {
        op: "Pow",
        torch: "torch.pow",
        note: "cast back to the base's dtype when the exponent's differs",
        emit: pow,
    },
    Rule { op: "Mod", torch: "torch.remainder / torch.fmod", note: "`fmod`", emit: modulo },
    Rule {
        op: "BitShift",
        torch: "torch.bitwise_left_shift / bitwise_right_shift",
        note: "`direction`",
        emit: bitshift,
    },
    Rule { op: "Max", torch: "torch.maximum", note: "variadic, folded", emit: variadic },
    Rule { op: "Min", torch: "torch.minimum", note: "variadic, folded", emit: variadic },
    Rule { op: "Sum", torch: "torch.add", note: "variadic, folded", emit: variadic },
    Rule { op: "Mean", torch: "torch.add … torch.div", note: "variadic", emit: mean },
    Rule { op: "And", torch: "torch.logical_and", note: "", emit: binary },
    Rule { op: "Or", torch: "torch.logical_or", note: "", emit: binary },
    Rule { op: "Xor", torch: "torch.logical_xor", note: "", emit: binary },
    Rule { op: "BitwiseAnd", torch: "torch.bitwise_and", note: "", emit: binary },
    Rule { op: "BitwiseOr", torch: "torch.bitwise_or", note: "", emit: binary },
    Rule { op: "BitwiseXor", torch: "torch.bitwise_xor", note: "", emit: binary },
    Rule { op: "Equal", torch: "torch.eq", note: "", emit: binary },
    Rule { op: "Greater", torch: "torch.gt", note: "", emit: binary },
    Rule { op: "GreaterOrEqual", torch: "torch.ge", note: "", emit: binary },
    Rule { op: "Less", torch: "torch.lt", note: "", emit: binary },
    Rule { op: "LessOrEqual", torch: "torch.le", note: "", emit: binary },
    Rule { op: "Not", torch: "torch.logical_not", note: "", emit: unary },
    Rule { op: "BitwiseNot", torch: "torch.bitwise_not", note: "", emit: unary },
    Rule { op: "Abs", torch: "torch.abs", note: "", emit: unary },
    Rule { op: "Neg", torch: "torch.neg", note: "", emit: unary },
    Rule { op: "Sign", torch: "torch.sign", note: "", emit: unary },
    Rule { op: "Sqrt", torch: "torch.sqrt", note: "", emit: unary },
    Rule { op: "Reciprocal", torch: "torch.reciprocal", note: "", emit: unary },
    Rule { op: "Exp", torch: "torch.exp", note: "", emit: unary },
    Rule { op: "Log", torch: "torch.log", note: "", emit: unary },
    Rule { op: "Floor", torch: "torch.floor", note: "", emit: unary },
    Rule { op: "Ceil", torch: "torch.ceil", note: "", emit: unary },
    Rule { op: "Round", torch: "torch.round", note: "half to even in both", emit: unary },
    Rule { op: "Sin", torch: "torch.sin", note: "", emit: unary },
    Rule { op: "Cos", torch: "torch.cos", note: "", emit: unary },
    Rule { op: "Tan", torch: "torch.tan", note: "", emit: unary },
    Rule { op: "Asin", torch: "torch.asin", note: "", emit: unary },
    Rule { op: "Acos", torch: "torch.acos", note: "", emit: unary },
    Rule { op: "Atan", torch: "torch.atan", note: "", emit: unary },
    Rule { op: "Sinh", torch: "torch.sinh", note: "", emit: unary },
    Rule { op: "Cosh", torch: "torch.cosh", note: "", emit: unary },
    Rule { op: "Asinh", torch: "torch.asinh", note: "", emit: unary },
    Rule { op: "Acosh", torch: "torch.acosh", note: "", emit: unary },
    Rule { op: "Atanh", torch: "torch.atanh", note: "", emit: unary },
    Rule { op: "Tanh", torch: "torch.tanh", note: "", emit: unary },
    Rule { op: "Sigmoid", torch: "torch.sigmoid", note: "", emit: unary },
    Rule { op: "Erf", torch: "torch.erf", note: "", emit: unary },
    Rule { op: "IsNaN", torch: "torch.isnan", note: "", emit: unary },
    Rule {
        op: "IsInf",
        torch: "torch.isinf / isposinf / isneginf",
        note: "`detect_positive`, `detect_negative`",
        emit: is_inf,
    },
    Rule { op: "Relu", torch: "torch.relu", note: "", emit: unary },
    Rule { op: "HardSwish", torch: "torch.hardswish", note: "", emit: unary },
    Rule {
        op: "HardSigmoid",
        torch: "torch.clamp(x * alpha + beta, 0, 1)",
        note: "`alpha`, `beta`",
        emit: hard_sigmoid,
    },
    Rule { op: "LeakyRelu", torch: "torch.leaky_relu", note: "`alpha`", emit: leaky },
    Rule { op: "Elu", torch: "torch.elu", note: "`alpha`", emit: elu },
    Rule { op: "Celu", torch: "torch.celu", note: "`alpha`", emit: celu },
    Rule { op: "Selu", torch: "torch.where + torch.expm1", note: "`alpha`, `gamma`", emit: selu },
    Rule {
        op: "Gelu",
        torch: "torch.gelu",
        note: "`approximate` `none`; `tanh` written out (TorchScript's gelu has no `approximate`)",
        emit: gelu,
    },
    Rule {
        op: "PRelu",
        torch: "torch.where(x < 0, x * slope, x)",
        note: "numpy broadcasting of the slope",
        emit: prelu,
    },
    Rule { op: "ThresholdedRelu", torch: "torch.where", note: "`alpha`", emit: thresholded_relu },
    Rule { op: "Shrink", torch: "torch.where", note: "`bias`, `lambd`", emit: shrink },
    Rule { op: "Softplus", torch: "torch.log1p(torch.exp(x))", note: "", emit: softplus },
    Rule { op: "Softsign", torch: "x / (1 + abs(x))", note: "", emit: softsign },
    Rule { op: "Mish", torch: "x * tanh(softplus(x))", note: "", emit: mish },
    Rule {
        op: "Cast",
        torch: "torch.to(x, dtype)",
        note: "every dtype torch has (floats, 8-bit floats, all integers, bool, complex); `saturate` (8-bit floats clamped first)",
        emit: cast,
    },
    Rule { op: "CastLike", torch: "torch.type_as", note: "`saturate` as Cast", emit: cast_like },
    Rule { op: "Identity", torch: "(assignment)", note: "", emit: identity },
    Rule {
        op: "Dropout",
        torch: "(assignment)",
        note: "inference (`training_mode` absent or constant false); the mask output is all true",
        emit: dropout,
    },
    Rule {
        op: "Clip",
        torch: "torch.clamp",
        note: "bounds as attributes (opset < 11) or inputs, either optional",
        emit: clip,
    },
    Rule { op: "Where", torch: "torch.where", note: "", emit: where_ },
    Rule { op: "Einsum", torch: "torch.einsum", note: "`equation`", emit: einsum },
    Rule {
        op: "CumSum",
        torch: "torch.cumsum",
        note: "`exclusive`, `reverse`, axis input; keeps the dtype",
        emit: cumsum,
    },
];
