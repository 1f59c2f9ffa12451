//! The entry point: graph inputs from the options or the traced example
//! inputs, the root `forward` interpreted, outputs named.

use std::collections::HashMap;

use ir::infer::Known;
use ir::{DType, Dim, Error, Node, Result, Shape, ValueInfo, ValueType};

use super::{Lower, Scope, V, dotted};
use crate::module::ScriptArchive;
use crate::pickle::Value;

/// The `-I` keys the TorchScript reader reads ([`input_options`]).
pub const OPTION_NAMES: &[&str] = &["input-shape", "input-dtype"];

/// Graph input types from `-I input-shape=NAME=D0,D1;...` and
/// `-I input-dtype=NAME=int64;...`; dims are numbers, symbols or `?`.
fn input_options(options: &ir::ImportOptions) -> Result<(HashMap<String, Shape>, HashMap<String, DType>)> {
    let mut shapes = HashMap::new();
    let mut dtypes = HashMap::new();
    ir::check_format_options("torchscript", "-I", &options.format_options, OPTION_NAMES)?;
    for (key, value) in &options.format_options {
        match key.as_str() {
            "input-shape" => {
                for part in value.split(';').filter(|p| !p.is_empty()) {
                    let (name, dims) = part.split_once('=').ok_or_else(|| {
                        Error::usage(format!("torchscript option input-shape={value}: expected NAME=D0,D1,..."))
                    })?;
                    let dims = dims
                        .split(',')
                        .filter(|d| !d.is_empty())
                        .map(|d| match d.trim() {
                            "?" => Dim::Unknown,
                            d => d.parse::<u64>().map_or_else(|_| Dim::Symbolic(d.to_string()), Dim::Fixed),
                        })
                        .collect();
                    shapes.insert(name.to_string(), Shape(dims));
                }
            }
            "input-dtype" => {
                for part in value.split(';').filter(|p| !p.is_empty()) {
                    let (name, d) = part.split_once('=').ok_or_else(|| {
                        Error::usage(format!("torchscript option input-dtype={value}: expected NAME=DTYPE"))
                    })?;
                    let t = crate::dtype::by_name(d.trim())
                        .ok_or_else(|| Error::usage(format!("torchscript option input-dtype: unknown dtype '{d}'")))?;
                    dtypes.insert(name.to_string(), t.dtype);
                }
            }
            // Any other key was refused above.
            _ => {}
        }
    }
    Ok((shapes, dtypes))
}

/// The example inputs a traced archive records (`traced_inputs.pkl`):
/// dtype and shape of each `forward` argument.
fn traced_inputs(ar: &ScriptArchive) -> Vec<(DType, Shape)> {
    let Ok(bytes) = ar.archive.read("traced_inputs.pkl") else { return Vec::new() };
    let Ok((v, _)) = crate::pickle::read(&bytes, &ar.limits) else { return Vec::new() };
    let Some(list) = v.get("forward").and_then(Value::items) else { return Vec::new() };
    list.iter()
        .map_while(|x| match x {
            Value::Tensor(t) => Some((t.storage.ty.dtype, Shape::fixed(&t.sizes))),
            _ => None,
        })
        .collect()
}

/// Lowers the root module's `forward` into a model, at the canonical
/// opset unless some op needs a newer one (see [`Lower::wanted_opset`]).
pub fn lower(ar: &ScriptArchive, options: &ir::ImportOptions) -> Result<ir::Model> {
    let mut opset = ir::opset::DEFAULT_OPSET;
    loop {
        match lower_at(ar, options, opset)? {
            Lowered::Done(m) => return Ok(*m),
            // Opsets only grow, up to the newest op's, so this ends.
            Lowered::Again(wanted) if wanted > opset => opset = wanted,
            Lowered::Again(wanted) => {
                return Err(Error::invalid(format!("the import asked for opset {wanted} twice")));
            }
        }
    }
}

/// What one lowering run gave.
enum Lowered {
    Done(Box<ir::Model>),
    /// Run again at this opset.
    Again(i64),
}

fn lower_at(ar: &ScriptArchive, options: &ir::ImportOptions, opset: i64) -> Result<Lowered> {
    let (shapes, dtypes) = input_options(options)?;
    let traced = traced_inputs(ar);
    // What our own exporter recorded (TorchScript source declares no shapes).
    let recorded: HashMap<String, (Option<DType>, Option<Shape>)> = ar
        .archive
        .read(crate::INPUTS_ENTRY)
        .ok()
        .map(|b| crate::parse_input_record(&String::from_utf8_lossy(&b)))
        .unwrap_or_default()
        .into_iter()
        .map(|(n, d, s)| (n, (d, s)))
        .collect();
    let mut lw = Lower::new(ar, opset);
    let (file, f) = ar.method(&ar.root.class, "forward")?;
    let mut scope = Scope::new();
    let mut params = f.params.iter();
    if let Some(p) = params.next() {
        scope.insert(p.name.clone(), V::Module(ar.root.clone()));
    }
    for (i, p) in params.enumerate() {
        let is_tensor = p.ty.as_ref().is_none_or(|t| dotted(t).is_some_and(|t| t == "Tensor"));
        if !is_tensor && let Some(d) = &p.default {
            // `mask: Optional[Tensor]=None`: the default is what the model gets.
            let v = lw.literal(d)?;
            scope.insert(p.name.clone(), v);
            continue;
        }
        if !is_tensor {
            return Err(Error::invalid(format!(
                "forward argument '{}' is not a Tensor and has no default (only tensor inputs are supported)",
                p.name
            )));
        }
        let (td, ts) = match (traced.get(i).cloned(), recorded.get(&p.name).cloned()) {
            (Some((d, s)), _) => (Some(d), Some(s)),
            (None, Some((d, s))) => (d, s),
            (None, None) => (None, None),
        };
        let dtype = dtypes.get(&p.name).copied().or(td).unwrap_or(DType::F32);
        let shape = shapes.get(&p.name).cloned().or(ts);
        let name = lw.b.fresh_value(&p.name);
        let ty = ValueType::Tensor { dtype: Some(dtype), shape };
        lw.b.graph.inputs.push(ValueInfo { name: name.clone(), ty: ty.clone(), doc: String::new() });
        lw.b.set_known(&name, Known::of(ty));
        scope.insert(p.name.clone(), V::T(name));
    }
    let result = lw.run_function(&file, &f, scope);
    if lw.wanted_opset > lw.opset {
        return Ok(Lowered::Again(lw.wanted_opset));
    }
    if !lw.unsupported.is_empty() && !options.keep_unknown_ops {
        let ops: Vec<(String, String)> = std::mem::take(&mut lw.unsupported);
        return Err(Error::unsupported_ops(
            "torchscript",
            ops.iter().map(|(o, at)| (o.as_str(), "torch", at.as_str())),
        ));
    }
    let result = result.map_err(|e| e.context(ar.archive.path().display().to_string()))?;
    // A dict's keys name the outputs.
    let (values, names): (Vec<V>, Vec<Option<String>>) = match result {
        V::Tuple(xs) | V::List(xs) => {
            let n = xs.len();
            (xs, vec![None; n])
        }
        V::Dict(pairs) => pairs
            .into_iter()
            .map(|(k, v)| {
                let name = match k {
                    V::Str(s) => Some(s),
                    _ => None,
                };
                (v, name)
            })
            .unzip(),
        v => (vec![v], vec![None]),
    };
    let mut seen = std::collections::HashSet::new();
    let mut renames = Vec::new();
    for (i, (v, out_name)) in values.iter().zip(&names).enumerate() {
        let t = lw.tensor(v, None).map_err(|e| e.context(format!("{}: output {i}", ar.archive.path().display())))?;
        // Outputs are node outputs, each once.
        let is_node_output = lw.b.graph.nodes.iter().any(|n| n.outputs.contains(&t));
        let t = match out_name {
            Some(n) => {
                let name = lw.b.fresh_value(n);
                let node = Node::new("Identity", [t.as_str()], [name.clone()]).named(lw.b.fresh_node(n));
                lw.add(node)?;
                name
            }
            None if !is_node_output || !seen.insert(t.clone()) => lw.node("Identity", &[&t], vec![])?,
            None => t,
        };
        if out_name.is_none() {
            // Unnamed results get plain names (`output`, `output_1`, ...) instead of internal ones.
            let want = if values.len() == 1 { "output".to_string() } else { format!("output_{i}") };
            renames.push((t.clone(), lw.b.fresh_value(&want)));
        }
        let ty = lw.known(&t).map(|k| k.ty.clone()).unwrap_or(ValueType::Unknown);
        lw.b.graph.outputs.push(ValueInfo { name: t, ty, doc: String::new() });
    }
    let inits = std::mem::take(&mut lw.inits);
    let mut g = lw.b.finish();
    for (old, new) in renames {
        g.rename_value(&old, &new);
    }
    let consts = std::mem::take(&mut g.initializers);
    for (n, t) in inits {
        g.initializers.insert(n, t);
    }
    g.initializers.extend(consts);
    g.remove_dead_nodes();
    g.remove_unused_initializers();
    let mut m = ir::Model::new(g);
    m.opset_imports.insert(String::new(), opset);
    if options.keep_unknown_ops && m.graph.nodes.iter().any(|n| n.domain == "torch") {
        m.opset_imports.insert("torch".into(), 1);
    }
    m.producer_name = "model-convert (torchscript)".into();
    Ok(Lowered::Done(Box::new(m)))
}
