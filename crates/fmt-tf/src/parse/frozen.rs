//! Frozen GraphDefs (`.pb`): weights as `Const` nodes, inputs the
//! `Placeholder`s, outputs the nodes nobody reads.

use std::path::Path;

use ir::{Buffer, Error, Result};
use prost::Message;

use super::ParseOptions;
use super::assemble::{Draft, NoVariables, placeholder_shape};
use super::flatten::Flattener;
use super::functions;
use crate::generated::tensorflow::GraphDef;
use crate::graph::{TfGraph, TfPort, TfRef};

/// Reads a frozen GraphDef. Any function library is inlined; inputs and
/// outputs follow `options.graph_inputs`/`graph_outputs` when given.
pub fn read_frozen(path: &Path, options: &ParseOptions) -> Result<TfGraph> {
    let source = Buffer::map_file(path)?;
    let graph = GraphDef::decode(source.to_bytes())
        .map_err(|e| Error::malformed(path, format!("not a TensorFlow GraphDef: {e}")))?;
    let mut flat = Flattener::new(graph.library.as_ref(), &source, path, &options.limits);
    flat.graph(&graph.node)?;
    let nodes = flat.finish()?;
    let mut inputs = Vec::new();
    for n in nodes.iter().filter(|n| n.op == "Placeholder") {
        let dtype = n
            .attr("dtype")
            .and_then(crate::TfAttr::as_dtype)
            .ok_or_else(|| Error::malformed(path, format!("Placeholder '{}' has no dtype the IR can hold", n.name)))?;
        inputs.push(TfPort {
            name: n.name.clone(),
            tensor: TfRef::new(&n.name, 0),
            dtype,
            shape: placeholder_shape(n),
        });
    }
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let draft = Draft { path, name, nodes, inputs, outputs: None };
    let mut tf = draft.assemble(&options.graph_inputs, &options.graph_outputs, &NoVariables)?;
    tf.functions = functions::collect(graph.library.as_ref(), &source, path, &options.limits, &tf.nodes)?;
    Ok(tf)
}
