//! Cutting a subgraph out of a model by naming its new inputs and outputs
//! (`--graph-inputs`/`--graph-outputs`), as `onnx.utils.extract_model` does.

use std::collections::{HashMap, HashSet};

use crate::{Error, Model, Result, ValueInfo, ValueType};

/// Replaces the main graph of `model` by the part that computes `outputs`
/// from `inputs`. Either list may be empty, meaning "as now". Each named
/// input becomes a graph input (the nodes computing it are dropped), each
/// named output a graph output; their types come from the declared graph
/// interface, `value_info` or [`crate::infer`]. Every value the new outputs
/// need must come from the new inputs, initializers, or original graph
/// inputs that are kept: an output that cannot be reached, or a name that
/// no value has, is an error naming it.
pub fn extract(model: &mut Model, inputs: &[String], outputs: &[String]) -> Result<()> {
    if inputs.is_empty() && outputs.is_empty() {
        return Ok(());
    }
    let g = &model.graph;
    let defined = g.defined_values();
    for name in inputs.iter().chain(outputs) {
        if !defined.contains(name.as_str()) {
            let mut known: Vec<&str> = defined.iter().copied().filter(|v| !g.initializers.contains_key(*v)).collect();
            known.truncate(8);
            return Err(Error::usage(format!(
                "no value named '{name}' in graph '{}' (values look like: {})",
                g.name,
                known.join(", ")
            )));
        }
    }
    // Types of the new interface: declared ones first, inferred ones otherwise.
    let declared: HashMap<&str, &ValueType> =
        g.inputs.iter().chain(&g.outputs).chain(&g.value_info).map(|v| (v.name.as_str(), &v.ty)).collect();
    let inferred = crate::infer::infer(g, model.onnx_opset()).ok();
    let type_of = |name: &str| -> ValueType {
        match declared.get(name) {
            Some(t) if **t != ValueType::Unknown => (*t).clone(),
            _ => inferred.as_ref().and_then(|t| t.ty(name)).cloned().unwrap_or(ValueType::Unknown),
        }
    };
    let new_inputs: Vec<ValueInfo> = if inputs.is_empty() {
        g.inputs.clone()
    } else {
        inputs.iter().map(|n| ValueInfo { name: n.clone(), ty: type_of(n), doc: String::new() }).collect()
    };
    let new_outputs: Vec<ValueInfo> = if outputs.is_empty() {
        g.outputs.clone()
    } else {
        outputs.iter().map(|n| ValueInfo { name: n.clone(), ty: type_of(n), doc: String::new() }).collect()
    };
    // Walk back from the outputs, stopping at the new inputs.
    let cut: HashSet<String> = new_inputs.iter().map(|v| v.name.clone()).collect();
    let producers = g.producers();
    let mut live = vec![false; g.nodes.len()];
    let mut stack: Vec<String> = new_outputs.iter().map(|v| v.name.clone()).collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut needed_inputs: HashSet<String> = HashSet::new();
    while let Some(v) = stack.pop() {
        if !seen.insert(v.clone()) || cut.contains(&v) {
            continue;
        }
        match producers.get(v.as_str()) {
            Some(&i) if !live[i] => {
                live[i] = true;
                let n = &g.nodes[i];
                stack.extend(n.present_inputs().map(str::to_string));
                for sub in n.subgraphs() {
                    stack.extend(sub.captures());
                }
            }
            Some(_) => {}
            None if g.inputs.iter().any(|i| i.name == v) && !g.initializers.contains_key(&v) => {
                needed_inputs.insert(v);
            }
            None => {}
        }
    }
    if !inputs.is_empty()
        && let Some(missing) = g.inputs.iter().find(|i| needed_inputs.contains(&i.name))
    {
        return Err(Error::invalid(format!(
            "the outputs still depend on graph input '{}', which is not among the new inputs ({})",
            missing.name,
            inputs.join(", ")
        )));
    }
    let g = &mut model.graph;
    let mut it = live.into_iter();
    g.nodes.retain(|_| it.next().unwrap_or(false));
    g.inputs = new_inputs;
    g.outputs = new_outputs;
    let interface: HashSet<String> = g.inputs.iter().chain(&g.outputs).map(|v| v.name.clone()).collect();
    g.value_info.retain(|v| !interface.contains(&v.name));
    // A new input that was an initializer is now fed at run time.
    for name in &interface {
        if cut.contains(name) {
            g.initializers.shift_remove(name);
        }
    }
    g.remove_unused_initializers();
    g.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Graph, Node, Shape};

    fn chain() -> Model {
        let mut g = Graph::default();
        g.inputs.push(ValueInfo::tensor("x", DType::F32, Shape::fixed(&[2])));
        g.nodes.push(Node::new("Relu", ["x"], ["a"]).named("r"));
        g.nodes.push(Node::new("Neg", ["a"], ["b"]).named("n"));
        g.nodes.push(Node::new("Exp", ["b"], ["c"]).named("e"));
        g.outputs.push(ValueInfo::tensor("c", DType::F32, Shape::fixed(&[2])));
        Model::new(g)
    }

    #[test]
    fn cuts_the_middle_with_inferred_types() {
        let mut m = chain();
        extract(&mut m, &["a".into()], &["b".into()]).unwrap();
        let g = &m.graph;
        assert_eq!(g.nodes.iter().map(|n| n.op.as_str()).collect::<Vec<_>>(), ["Neg"]);
        assert_eq!(g.inputs[0].name, "a");
        assert_eq!(g.inputs[0].ty, ValueType::tensor(DType::F32, Shape::fixed(&[2])));
        assert_eq!(g.outputs[0].name, "b");
    }

    #[test]
    fn outputs_only_keeps_the_original_inputs() {
        let mut m = chain();
        extract(&mut m, &[], &["a".into()]).unwrap();
        assert_eq!(m.graph.nodes.len(), 1);
        assert_eq!(m.graph.inputs[0].name, "x");
    }

    #[test]
    fn unknown_names_and_unreachable_inputs_are_errors() {
        let mut m = chain();
        let e = extract(&mut m, &[], &["nope".into()]).unwrap_err().to_string();
        assert!(e.contains("no value named 'nope'"), "{e}");
        let mut m = chain();
        let mut extra = Node::new("Add", ["c", "y"], ["d"]).named("add");
        extra.doc = String::new();
        m.graph.inputs.push(ValueInfo::tensor("y", DType::F32, Shape::fixed(&[2])));
        m.graph.nodes.push(extra);
        let e = extract(&mut m, &["b".into()], &["d".into()]).unwrap_err().to_string();
        assert!(e.contains("graph input 'y'"), "{e}");
    }
}
