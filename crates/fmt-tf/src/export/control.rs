//! `If` and `Loop` as `StatelessIf` and `StatelessWhile` with function
//! bodies in the GraphDef's library.
//!
//! A body is built with the same rules as the main graph, in a builder of
//! its own whose arguments are the values the body reads from outside
//! (captures, passed explicitly: TF functions do not capture) and, for a
//! loop, the loop-carried values. Constants stay inline in the body. Inside
//! a function a tensor is named `node:output_arg:index`, so the built nodes
//! are rewritten with each op's output argument names ([`OUTPUT_ARGS`]).
//! `Loop` scan outputs are accumulated in a `TensorList` loop variable and
//! stacked after the loop.

use std::collections::HashMap;

use ir::{DType, Error, Graph, Node, Result, ValueInfo};

use super::{Ex, Rule, Val, int_attr, tf_name, ty, unsupported};
use crate::generated::tensorflow::{AttrValue, FunctionDef, NameAttrList, OpDef, attr_value, op_def::ArgDef};

/// Output argument names of the TF ops the exporter writes (from their
/// `OpDef`s): a function body names tensors by them.
const OUTPUT_ARGS: &[(&str, &[&str])] = &[
    ("Abs", &["y"]),
    ("Acos", &["y"]),
    ("Acosh", &["y"]),
    ("AddV2", &["z"]),
    ("ArgMax", &["output"]),
    ("ArgMin", &["output"]),
    ("Asin", &["y"]),
    ("Asinh", &["y"]),
    ("Atan", &["y"]),
    ("Atanh", &["y"]),
    ("AvgPool", &["output"]),
    ("BatchMatMulV2", &["output"]),
    ("BiasAdd", &["output"]),
    ("BitwiseAnd", &["z"]),
    ("BitwiseOr", &["z"]),
    ("BitwiseXor", &["z"]),
    ("BroadcastArgs", &["r0"]),
    ("BroadcastTo", &["output"]),
    ("Cast", &["y"]),
    ("Ceil", &["y"]),
    ("ClipByValue", &["output"]),
    ("ConcatV2", &["output"]),
    ("Const", &["output"]),
    ("Conv2D", &["output"]),
    ("Conv2DBackpropInput", &["output"]),
    ("Cos", &["y"]),
    ("Cosh", &["y"]),
    ("Cumsum", &["out"]),
    ("DepthToSpace", &["output"]),
    ("DepthwiseConv2dNative", &["output"]),
    ("DivNoNan", &["z"]),
    ("Einsum", &["output"]),
    ("Elu", &["activations"]),
    ("EmptyTensorList", &["handle"]),
    ("Equal", &["z"]),
    ("Erf", &["y"]),
    ("Exp", &["y"]),
    ("ExpandDims", &["output"]),
    ("Expm1", &["y"]),
    ("Fill", &["output"]),
    ("Floor", &["y"]),
    ("FloorMod", &["z"]),
    ("GatherNd", &["output"]),
    ("GatherV2", &["output"]),
    ("Greater", &["z"]),
    ("GreaterEqual", &["z"]),
    ("Identity", &["output"]),
    ("Invert", &["y"]),
    ("IsInf", &["y"]),
    ("LeakyRelu", &["activations"]),
    ("LeftShift", &["z"]),
    ("Less", &["z"]),
    ("LessEqual", &["z"]),
    ("Log", &["y"]),
    ("LogSoftmax", &["logsoftmax"]),
    ("LogicalAnd", &["z"]),
    ("LogicalNot", &["y"]),
    ("LogicalOr", &["z"]),
    ("MatMul", &["product"]),
    ("MatrixDeterminant", &["output"]),
    ("Max", &["output"]),
    ("MaxPool", &["output"]),
    ("Maximum", &["z"]),
    ("Mean", &["output"]),
    ("Min", &["output"]),
    ("Minimum", &["z"]),
    ("MirrorPad", &["output"]),
    ("Mul", &["z"]),
    ("Neg", &["y"]),
    ("NotEqual", &["z"]),
    ("OneHot", &["output"]),
    ("Pack", &["output"]),
    ("PadV2", &["output"]),
    ("Pow", &["z"]),
    ("Prod", &["output"]),
    ("Range", &["output"]),
    ("RealDiv", &["z"]),
    ("Reciprocal", &["y"]),
    ("Relu", &["activations"]),
    ("Reshape", &["output"]),
    ("ResizeBilinear", &["resized_images"]),
    ("ResizeNearestNeighbor", &["resized_images"]),
    ("ReverseSequence", &["output"]),
    ("RightShift", &["z"]),
    ("Round", &["y"]),
    ("Rsqrt", &["y"]),
    ("SelectV2", &["output"]),
    ("Selu", &["activations"]),
    ("Shape", &["output"]),
    ("Sigmoid", &["y"]),
    ("Sign", &["y"]),
    ("Sin", &["y"]),
    ("Sinh", &["y"]),
    ("Size", &["output"]),
    ("Softmax", &["softmax"]),
    ("Softplus", &["activations"]),
    ("Softsign", &["activations"]),
    ("SpaceToDepth", &["output"]),
    ("Split", &["output"]),
    ("SplitV", &["output"]),
    ("Sqrt", &["y"]),
    ("Square", &["y"]),
    ("Squeeze", &["output"]),
    ("StatelessIf", &["output"]),
    ("StatelessWhile", &["output"]),
    ("StridedSlice", &["output"]),
    ("Sub", &["z"]),
    ("Sum", &["output"]),
    ("Tan", &["y"]),
    ("Tanh", &["y"]),
    ("TensorListPushBack", &["output_handle"]),
    ("TensorListStack", &["tensor"]),
    ("TensorScatterAdd", &["output"]),
    ("TensorScatterMax", &["output"]),
    ("TensorScatterMin", &["output"]),
    ("TensorScatterUpdate", &["output"]),
    ("Tile", &["output"]),
    ("TopKV2", &["values", "indices"]),
    ("Transpose", &["y"]),
    ("TruncateDiv", &["z"]),
    ("TruncateMod", &["z"]),
    ("Where", &["index"]),
    ("ZerosLike", &["y"]),
];

/// `DT_VARIANT`, the type of a `TensorList` handle.
const DT_VARIANT: i32 = 21;

fn type_code(d: DType) -> Result<i32> {
    crate::dtype::from_ir(d).ok_or_else(|| Error::invalid(format!("TensorFlow has no {d} type")))
}

fn func_attr(name: &str) -> AttrValue {
    AttrValue { value: Some(attr_value::Value::Func(NameAttrList { name: name.into(), attr: HashMap::new() })) }
}

fn codes_attr(codes: &[i32]) -> AttrValue {
    AttrValue {
        value: Some(attr_value::Value::List(attr_value::ListValue { r#type: codes.to_vec(), ..Default::default() })),
    }
}

/// A function argument: the canonical value it binds (if any) and its type code.
struct Arg {
    value: Option<String>,
    code: i32,
}

/// Values a body reads from outside that are not constants, in order.
fn captures(ex: &Ex<'_>, bodies: &[&Graph], own: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in bodies {
        for c in g.captures() {
            if !own.contains(&c) && ex.const_value(&c).is_none() && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Adds nodes after a body's (loop bookkeeping) given the argument names and
/// returns the function's outputs: TF tensors with their type codes.
type Extra<'a> = dyn FnMut(&mut Ex<'_>, &[String]) -> Result<Vec<(String, i32)>> + 'a;

/// Builds function `fname` from body `g`: `args` bind canonical values to
/// arguments; `extra` adds nodes after the body's (loop bookkeeping) and
/// returns the function's outputs as TF tensors in the body builder.
fn function(ex: &mut Ex<'_>, fname: &str, g: &Graph, args: &[Arg], extra: &mut Extra<'_>) -> Result<FunctionDef> {
    // Facts for the body: its own inference with the arguments declared as inputs.
    let mut typed = g.clone();
    for a in args {
        if let Some(v) = &a.value
            && !typed.inputs.iter().any(|i| &i.name == v)
            && let Some(k) = ex.types.get(v)
        {
            let vi = match (k.dtype(), k.shape()) {
                (Some(d), s) => ValueInfo::tensor(v.clone(), d, s.cloned()),
                _ => ValueInfo::untyped(v.clone()),
            };
            typed.inputs.push(vi);
        }
    }
    // Outer values the body (or a nested body) reads: constants as
    // initializers, others with their known types.
    for c in g.captures() {
        if typed.inputs.iter().any(|i| i.name == c) || typed.initializers.contains_key(&c) {
            continue;
        }
        if let Some(t) = ex.consts.get(&c) {
            typed.initializers.insert(c.clone(), t.clone());
        } else if let Some(k) = ex.types.get(&c)
            && let Some(d) = k.dtype()
        {
            typed.inputs.push(ValueInfo::tensor(c.clone(), d, k.shape().cloned()));
        }
    }
    let mut types = ex.types.clone();
    if let Ok(t) = ir::infer::infer(&typed, ex.opset()) {
        for (name, k) in t.iter() {
            types.insert(name.to_string(), k.clone());
        }
    }
    let mut consts = ex.consts.clone();
    for (k, v) in &g.initializers {
        consts.insert(k.clone(), v.clone());
    }
    let mut body = Ex::with(ex.model, types, consts);
    body.functions = ex.functions;
    let mut arg_names = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let base = a.value.as_deref().map(tf_name).unwrap_or_else(|| format!("arg_{i}"));
        let name = body.names.fresh(&base.replace(['/', '.', '-'], "_"));
        if let Some(v) = &a.value {
            body.values.insert(v.clone(), Val { t: name.clone(), perm: None });
        }
        arg_names.push(name);
    }
    body.build_nodes(&g.nodes)?;
    let outs = extra(&mut body, &arg_names)?;
    ex.functions = body.functions;
    ex.library.append(&mut body.library);
    // Constants stay inline in bodies.
    for w in std::mem::take(&mut body.weights) {
        if let Some(AttrValue { value: Some(attr_value::Value::Tensor(t)) }) = body.nodes[w.node].attr.get_mut("value")
        {
            t.tensor_content = w.tensor.raw().map(ir::Buffer::to_bytes).unwrap_or_default();
        }
    }
    let ops: HashMap<String, String> = body.nodes.iter().map(|n| (n.name.clone(), n.op.clone())).collect();
    let rename = |t: &str| -> Result<String> {
        if let Some(c) = t.strip_prefix('^') {
            return Ok(format!("^{c}"));
        }
        let (node, k) = match t.rsplit_once(':') {
            Some((n, k)) if k.chars().all(|c| c.is_ascii_digit()) => (n, k.parse::<usize>().unwrap_or(0)),
            _ => (t, 0),
        };
        if arg_names.iter().any(|a| a == node) {
            return Ok(node.to_string());
        }
        let op = ops.get(node).ok_or_else(|| Error::invalid(format!("function {fname}: '{node}' is not defined")))?;
        let outs = OUTPUT_ARGS
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, a)| *a)
            .ok_or_else(|| Error::invalid(format!("op {op} cannot be written inside a function body")))?;
        Ok(if outs.len() == 1 {
            format!("{node}:{}:{k}", outs[0])
        } else {
            format!("{node}:{}:0", outs.get(k).copied().unwrap_or("output"))
        })
    };
    let mut nodes = Vec::with_capacity(body.nodes.len());
    for mut n in std::mem::take(&mut body.nodes) {
        n.input = n.input.iter().map(|i| rename(i)).collect::<Result<_>>()?;
        nodes.push(n);
    }
    let mut ret = HashMap::new();
    let mut output_arg = Vec::new();
    for (i, (t, code)) in outs.iter().enumerate() {
        let name = format!("output_{i}");
        ret.insert(name.clone(), rename(t)?);
        output_arg.push(ArgDef { name, r#type: *code, ..ArgDef::default() });
    }
    let input_arg = args
        .iter()
        .zip(&arg_names)
        .map(|(a, n)| ArgDef { name: n.clone(), r#type: a.code, ..ArgDef::default() })
        .collect();
    Ok(FunctionDef {
        signature: Some(OpDef {
            name: fname.to_string(),
            input_arg,
            output_arg,
            control_output: vec![],
            is_stateful: false,
        }),
        attr: HashMap::new(),
        node_def: nodes,
        ret,
        control_ret: HashMap::new(),
    })
}

/// A unique function name for the current node.
fn fresh_function(ex: &mut Ex<'_>, tag: &str) -> String {
    ex.functions += 1;
    format!("{}_{tag}_{}", tf_name(&ex.base).replace(['/', '.', '-'], "_"), ex.functions)
}

/// The graph attribute `name` of `n`.
fn body<'n>(n: &'n Node, name: &str) -> Result<&'n Graph> {
    match n.attr(name) {
        Some(ir::Attribute::Graph(g)) => Ok(g),
        _ => Err(Error::invalid(format!("{}: no {name}", n.describe()))),
    }
}

/// The body outputs as logical TF tensors with their type codes.
fn body_outputs(ex: &mut Ex<'_>, g: &Graph, skip: usize) -> Result<Vec<(String, i32)>> {
    let mut outs = Vec::new();
    for o in g.outputs.iter().skip(skip) {
        let t = ex.logical_of(&o.name)?;
        let d = ex
            .dtype(&o.name)
            .or_else(|_| o.dtype().ok_or_else(|| Error::invalid(format!("body output '{}' has no type", o.name))))?;
        outs.push((t, type_code(d)?));
    }
    Ok(outs)
}

fn if_(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let (then_g, else_g) = (body(n, "then_branch")?, body(n, "else_branch")?);
    let caps = captures(ex, &[then_g, else_g], &[]);
    let mut args = Vec::new();
    let mut inputs = Vec::new();
    let cond = ex.logical(n, 0)?;
    let empty = ex.ints(&[], DType::I32)?;
    // TF reads a non-scalar condition as "non-empty"; ONNX's is one boolean.
    let cond = ex.op("Reshape", vec![cond, empty], vec![("T", ty(DType::Bool)?), ("Tshape", ty(DType::I32)?)]);
    inputs.push(cond);
    for c in &caps {
        let d = ex.dtype(c)?;
        args.push(Arg { value: Some(c.clone()), code: type_code(d)? });
        inputs.push(ex.logical_of(c)?);
    }
    let then_name = fresh_function(ex, "then");
    let else_name = fresh_function(ex, "else");
    let f_then = function(ex, &then_name, then_g, &args, &mut |b, _| body_outputs(b, then_g, 0))?;
    let f_else = function(ex, &else_name, else_g, &args, &mut |b, _| body_outputs(b, else_g, 0))?;
    let tout: Vec<i32> =
        f_then.signature.as_ref().map(|s| s.output_arg.iter().map(|a| a.r#type).collect()).unwrap_or_default();
    ex.library.push(f_then);
    ex.library.push(f_else);
    let tin: Vec<i32> = args.iter().map(|a| a.code).collect();
    let y = ex.op(
        "StatelessIf",
        inputs,
        vec![
            ("Tcond", ty(DType::Bool)?),
            ("Tin", codes_attr(&tin)),
            ("Tout", codes_attr(&tout)),
            ("then_branch", func_attr(&then_name)),
            ("else_branch", func_attr(&else_name)),
        ],
    );
    for i in 0..n.outputs.len() {
        ex.bind(n, i, format!("{y}:{i}"));
    }
    Ok(())
}

fn loop_(ex: &mut Ex<'_>, n: &Node) -> Result<()> {
    let g = body(n, "body")?;
    let nv = n.inputs.len().saturating_sub(2);
    if g.inputs.len() != 2 + nv || g.outputs.len() < 1 + nv {
        return Err(unsupported(n, "a Loop body whose inputs or outputs do not match its carried values"));
    }
    let own: Vec<String> = g.inputs.iter().map(|v| v.name.clone()).collect();
    let caps = captures(ex, &[g], &own);
    // Loop variables: iteration, trip count, condition, carried values, captures, scan lists.
    let i64c = type_code(DType::I64)?;
    let boolc = type_code(DType::Bool)?;
    let zero = ex.constant(&ir::Tensor::scalar(0i64))?;
    let max = if Ex::has_input(n, 0) { ex.logical(n, 0)? } else { ex.constant(&ir::Tensor::scalar(i64::MAX))? };
    let empty = ex.ints(&[], DType::I32)?;
    let max = ex.op("Reshape", vec![max, empty.clone()], vec![("T", ty(DType::I64)?), ("Tshape", ty(DType::I32)?)]);
    let cond =
        if Ex::has_input(n, 1) { ex.logical(n, 1)? } else { ex.constant(&ir::Tensor::from_bools(vec![], &[true])?)? };
    let cond = ex.op("Reshape", vec![cond, empty], vec![("T", ty(DType::Bool)?), ("Tshape", ty(DType::I32)?)]);
    let mut inputs = vec![zero, max, cond];
    let mut args = vec![
        Arg { value: Some(own[0].clone()), code: i64c },
        Arg { value: None, code: i64c },
        Arg { value: Some(own[1].clone()), code: boolc },
    ];
    for k in 0..nv {
        let src = ex.in_name(n, 2 + k)?;
        let d = ex.dtype(src)?;
        args.push(Arg { value: Some(own[2 + k].clone()), code: type_code(d)? });
        inputs.push(ex.logical(n, 2 + k)?);
    }
    for c in &caps {
        let d = ex.dtype(c)?;
        args.push(Arg { value: Some(c.clone()), code: type_code(d)? });
        inputs.push(ex.logical_of(c)?);
    }
    let mut scan_types = Vec::new();
    for (k, o) in g.outputs.iter().skip(1 + nv).enumerate() {
        let d = o
            .dtype()
            .or_else(|| n.output(nv + k).and_then(|v| ex.types.get(v)).and_then(ir::infer::Known::dtype))
            .ok_or_else(|| unsupported(n, "a scan output of unknown type"))?;
        scan_types.push(d);
        let shape = ex.constant(&ir::Tensor::scalar(-1i32))?;
        let count = ex.constant(&ir::Tensor::scalar(-1i32))?;
        let list = ex.op(
            "EmptyTensorList",
            vec![shape, count],
            vec![("element_dtype", ty(d)?), ("shape_type", ty(DType::I32)?)],
        );
        args.push(Arg { value: None, code: DT_VARIANT });
        inputs.push(list);
    }
    let codes: Vec<i32> = args.iter().map(|a| a.code).collect();
    let body_name = fresh_function(ex, "body");
    let cond_name = fresh_function(ex, "cond");
    let ncap = caps.len();
    let f_body = function(ex, &body_name, g, &args, &mut |b, names| {
        let one = b.constant(&ir::Tensor::scalar(1i64))?;
        let next = b.op_t("AddV2", vec![names[0].clone(), one], DType::I64)?;
        let outs = body_outputs(b, g, 0)?;
        let mut ret = vec![(next, i64c), (names[1].clone(), i64c), outs[0].clone()];
        ret.extend(outs[1..1 + nv].iter().cloned());
        for c in 0..ncap {
            ret.push((names[3 + nv + c].clone(), args[3 + nv + c].code));
        }
        for (k, d) in scan_types.iter().enumerate() {
            let list = names[3 + nv + ncap + k].clone();
            let item = outs[1 + nv + k].0.clone();
            let pushed = b.op("TensorListPushBack", vec![list, item], vec![("element_dtype", ty(*d)?)]);
            ret.push((pushed, DT_VARIANT));
        }
        Ok(ret)
    })?;
    // cond(i, max, cond, ...) = i < max && cond
    let empty_graph = Graph::default();
    let cond_args: Vec<Arg> = codes.iter().map(|&c| Arg { value: None, code: c }).collect();
    let f_cond = function(ex, &cond_name, &empty_graph, &cond_args, &mut |b, names| {
        let lt = b.op_t("Less", vec![names[0].clone(), names[1].clone()], DType::I64)?;
        let and = b.op("LogicalAnd", vec![lt, names[2].clone()], vec![]);
        Ok(vec![(and, boolc)])
    })?;
    ex.library.push(f_body);
    ex.library.push(f_cond);
    let w = ex.op(
        "StatelessWhile",
        inputs,
        vec![
            ("T", codes_attr(&codes)),
            ("cond", func_attr(&cond_name)),
            ("body", func_attr(&body_name)),
            ("parallel_iterations", int_attr(10)),
        ],
    );
    for k in 0..nv {
        ex.bind(n, k, format!("{w}:{}", 3 + k));
    }
    for (k, d) in scan_types.iter().enumerate() {
        let shape = ex.constant(&ir::Tensor::scalar(-1i32))?;
        let stacked = ex.op(
            "TensorListStack",
            vec![format!("{w}:{}", 3 + nv + ncap + k), shape],
            vec![("element_dtype", ty(*d)?), ("num_elements", int_attr(-1))],
        );
        ex.bind(n, nv + k, stacked);
    }
    Ok(())
}

/// The rules of this family.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        onnx: "If",
        tf: "StatelessIf (then/else functions)",
        notes: "captured values passed as arguments; constants inline in the bodies",
        build: if_,
    },
    Rule {
        onnx: "Loop",
        tf: "StatelessWhile (cond/body functions) + TensorList for scan outputs",
        notes: "trip count and condition optional; scan outputs stacked with TensorListStack",
        build: loop_,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_args_are_sorted_and_unique() {
        assert!(OUTPUT_ARGS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
