//! SavedModel folders: `saved_model.pb` + `variables/`.
//!
//! The MetaGraph is chosen by its tag set, the computation by a signature.
//! TF2 SavedModels (an object graph is present) keep the computation in the
//! function library behind a `StatefulPartitionedCall`, whose last inputs
//! are the captured variables: the concrete function's `bound_inputs` name
//! their object-graph nodes, and the checkpoint's own object graph (matched
//! to it by child names from the root) gives each its `VARIABLE_VALUE`
//! checkpoint key. TF1
//! SavedModels keep `VariableV2` nodes restored by the saver under their own
//! names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ir::{Buffer, Error, Result, Tensor};
use prost::Message;

use super::ParseOptions;
use super::assemble::{Draft, Variables};
use super::flatten::Flattener;
use super::functions;
use crate::bundle::{Bundle, scalar_bytes};
use crate::generated::tensorflow::{
    MetaGraphDef, SavedModel, SavedObjectGraph, SignatureDef, TensorInfo, TrackableObjectGraph, tensor_info,
};
use crate::graph::{TfGraph, TfNode, TfPort, TfRef};
use crate::tensor::{ir_dtype, shape_of};

/// The signature TF writes to run initializers: not a model signature.
const INIT_OP_SIGNATURE: &str = "__saved_model_init_op";
/// The variables' bundle prefix inside the SavedModel folder.
const VARIABLES_PREFIX: &str = "variables/variables";
/// The checkpoint key of the serialized `TrackableObjectGraph`.
const OBJECT_GRAPH_KEY: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";

/// One signature of a SavedModel, for `convert inspect`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureInfo {
    /// The signature key (`serving_default`).
    pub name: String,
    /// The tags of the MetaGraph holding it.
    pub tags: Vec<String>,
    /// The method name (`tensorflow/serving/predict`).
    pub method_name: String,
    /// Inputs, sorted by key; tensors name the outer graph.
    pub inputs: Vec<TfPort>,
    /// Outputs, sorted by key; tensors name the outer graph.
    pub outputs: Vec<TfPort>,
}

/// Every signature of every MetaGraph of the SavedModel in `dir`.
pub fn signatures(dir: &Path) -> Result<Vec<SignatureInfo>> {
    let (path, _, model) = load(dir)?;
    let mut out = Vec::new();
    for mg in &model.meta_graphs {
        let tags = mg.meta_info_def.as_ref().map(|m| m.tags.clone()).unwrap_or_default();
        let mut names: Vec<&String> = mg.signature_def.keys().filter(|k| *k != INIT_OP_SIGNATURE).collect();
        names.sort();
        for (name, sig) in names.into_iter().filter_map(|n| Some((n, mg.signature_def.get(n)?))) {
            out.push(SignatureInfo {
                name: name.clone(),
                tags: tags.clone(),
                method_name: sig.method_name.clone(),
                inputs: ports(&sig.inputs, &path, name)?,
                outputs: ports(&sig.outputs, &path, name)?,
            });
        }
    }
    Ok(out)
}

/// Reads the SavedModel in `dir`: the MetaGraph tagged `options.tags`, the
/// computation of signature `options.signature`, variables from `variables/`.
pub fn read_saved_model(dir: &Path, options: &ParseOptions) -> Result<TfGraph> {
    let (path, source, model) = load(dir)?;
    let mg = meta_graph(&model, &options.tags, &path)?;
    let sig = signature(mg, &options.signature, &path)?;
    let inputs = ports(&sig.inputs, &path, &options.signature)?;
    let mut outputs = ports(&sig.outputs, &path, &options.signature)?;
    let graph = mg.graph_def.as_ref().ok_or_else(|| Error::malformed(&path, "the MetaGraph has no graph"))?;

    let mut flat = Flattener::new(graph.library.as_ref(), &source, &path, &options.limits);
    flat.graph(&graph.node)?;
    for p in &mut outputs {
        p.tensor = flat.resolve(&p.tensor)?;
    }
    let bundle = if dir.join(VARIABLES_PREFIX).with_extension("index").is_file() {
        Some(Bundle::open_in(dir, VARIABLES_PREFIX, &options.limits)?)
    } else {
        None
    };
    let vars: Box<dyn Variables> = match mg.object_graph_def.as_ref().filter(|o| !o.nodes.is_empty()) {
        Some(objects) => {
            let keys = match &bundle {
                Some(b) => checkpoint_keys(b, objects)?,
                None => Vec::new(),
            };
            let mut by_node = HashMap::new();
            for call in &flat.calls {
                let Some(cf) = objects.concrete_functions.get(&call.function) else { continue };
                let bound = &cf.bound_inputs;
                let Some(first) = call.inputs.len().checked_sub(bound.len()) else {
                    return Err(Error::malformed(
                        &path,
                        format!(
                            "call '{}' has {} inputs but its function binds {} captured inputs",
                            call.name,
                            call.inputs.len(),
                            bound.len()
                        ),
                    ));
                };
                for (input, &id) in call.inputs.get(first..).unwrap_or_default().iter().zip(bound) {
                    let key = usize::try_from(id).ok().and_then(|i| keys.get(i).cloned().flatten());
                    if let Some(key) = key {
                        by_node.insert(flat.resolve(input)?.node, key);
                    }
                }
            }
            Box::new(Tf2Variables { bundle, by_node, path: path.clone() })
        }
        None => Box::new(Tf1Variables { bundle, path: path.clone() }),
    };
    let nodes = flat.finish()?;
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let draft = Draft { path: &path, name, nodes, inputs, outputs: Some(outputs) };
    let mut tf = draft.assemble(&options.graph_inputs, &options.graph_outputs, vars.as_ref())?;
    tf.functions = functions::collect(graph.library.as_ref(), &source, &path, &options.limits, &tf.nodes)?;
    Ok(tf)
}

/// Maps and decodes `dir/saved_model.pb` (refused if a link leads it out of `dir`).
fn load(dir: &Path) -> Result<(PathBuf, Buffer, SavedModel)> {
    let path = dir.join("saved_model.pb");
    ir::io::resolve_inside(dir, "saved_model.pb").map_err(|e| Error::malformed(&path, e.to_string()))?;
    let source = Buffer::map_file(&path)?;
    let model = SavedModel::decode(source.to_bytes())
        .map_err(|e| Error::malformed(&path, format!("not a SavedModel protobuf: {e}")))?;
    if model.meta_graphs.is_empty() {
        return Err(Error::malformed(&path, "the SavedModel has no MetaGraph"));
    }
    Ok((path, source, model))
}

/// The MetaGraph whose tag set equals `tags` (order and repeats ignored).
fn meta_graph<'a>(model: &'a SavedModel, tags: &[String], path: &Path) -> Result<&'a MetaGraphDef> {
    let set = |t: &[String]| {
        let mut t = t.to_vec();
        t.sort();
        t.dedup();
        t
    };
    let wanted = set(tags);
    let tags_of = |mg: &MetaGraphDef| set(&mg.meta_info_def.as_ref().map(|m| m.tags.clone()).unwrap_or_default());
    if let Some(mg) = model.meta_graphs.iter().find(|mg| tags_of(mg) == wanted) {
        return Ok(mg);
    }
    let available: Vec<String> = model.meta_graphs.iter().map(|mg| format!("[{}]", tags_of(mg).join(","))).collect();
    Err(Error::malformed(
        path,
        format!("no MetaGraph tagged [{}]; available: {}", wanted.join(","), available.join(" ")),
    ))
}

/// The signature `name`, or an error listing the available ones.
fn signature<'a>(mg: &'a MetaGraphDef, name: &str, path: &Path) -> Result<&'a SignatureDef> {
    if let Some(sig) = mg.signature_def.get(name).filter(|_| name != INIT_OP_SIGNATURE) {
        return Ok(sig);
    }
    let mut available: Vec<&str> =
        mg.signature_def.keys().map(String::as_str).filter(|k| *k != INIT_OP_SIGNATURE).collect();
    available.sort_unstable();
    let list = if available.is_empty() { "none".to_string() } else { available.join(", ") };
    Err(Error::malformed(path, format!("signature '{name}' not found; available: {list}")))
}

/// Signature tensors as ports, sorted by key (protobuf maps have no order).
fn ports(map: &HashMap<String, TensorInfo>, path: &Path, sig: &str) -> Result<Vec<TfPort>> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|key| Some((key, map.get(key)?)))
        .map(|(key, info)| {
            let bad = |m: String| Error::malformed(path, format!("signature '{sig}' tensor '{key}': {m}"));
            let Some(tensor_info::Encoding::Name(name)) = &info.encoding else {
                return Err(bad("only dense tensors are supported".into()));
            };
            let tensor = TfRef::parse(name).ok_or_else(|| bad(format!("'{name}' is not a tensor name")))?;
            let dtype = ir_dtype(info.dtype, "it").map_err(bad)?;
            Ok(TfPort { name: key.clone(), tensor, dtype, shape: shape_of(info.tensor_shape.as_ref()) })
        })
        .collect()
}

/// The `VARIABLE_VALUE` checkpoint key of each SavedModel object-graph
/// node (`None` for objects that are not variables or have no value).
///
/// The checkpoint keeps its own object graph, and the two are matched the
/// way TensorFlow restores: from the roots, child by child through their
/// local names. They often coincide node for node, but not always (Keras
/// EfficientNetV2B0's SavedModel has objects the checkpoint lacks).
fn checkpoint_keys(bundle: &Bundle, saved: &SavedObjectGraph) -> Result<Vec<Option<String>>> {
    let bytes = scalar_bytes(bundle, OBJECT_GRAPH_KEY)?;
    let ckpt = TrackableObjectGraph::decode(bytes)
        .map_err(|e| Error::malformed(bundle.index_path(), format!("{OBJECT_GRAPH_KEY} does not decode: {e}")))?;
    Ok(match_keys(saved, &ckpt))
}

/// [`checkpoint_keys`] once the checkpoint's object graph is decoded.
fn match_keys(saved: &SavedObjectGraph, ckpt: &TrackableObjectGraph) -> Vec<Option<String>> {
    let mut keys = vec![None; saved.nodes.len()];
    let mut seen = vec![false; saved.nodes.len()];
    let mut queue = vec![(0usize, 0usize)];
    while let Some((s, c)) = queue.pop() {
        let (Some(saved_node), Some(ckpt_node), Some(seen), Some(key)) =
            (saved.nodes.get(s), ckpt.nodes.get(c), seen.get_mut(s), keys.get_mut(s))
        else {
            continue;
        };
        if std::mem::replace(seen, true) {
            continue;
        }
        *key = ckpt_node.attributes.iter().find(|a| a.name == "VARIABLE_VALUE").map(|a| a.checkpoint_key.clone());
        for child in &saved_node.children {
            let twin = ckpt_node.children.iter().find(|c| c.local_name == child.local_name);
            if let (Ok(s), Some(Ok(c))) = (usize::try_from(child.node_id), twin.map(|t| usize::try_from(t.node_id))) {
                queue.push((s, c));
            }
        }
    }
    keys
}

/// TF2: variables are the outer graph's `VarHandleOp`s bound to the calls.
struct Tf2Variables {
    bundle: Option<Bundle>,
    by_node: HashMap<String, String>,
    path: PathBuf,
}

impl Variables for Tf2Variables {
    fn value(&self, node: &TfNode) -> Result<Option<Tensor>> {
        let Some(bundle) = &self.bundle else { return Err(missing_variables(&self.path, &node.name)) };
        self.by_node.get(&node.name).map(|key| bundle.get(key)).transpose()
    }
}

/// TF1: a variable's checkpoint key is its name (`shared_name` for resource variables).
struct Tf1Variables {
    bundle: Option<Bundle>,
    path: PathBuf,
}

impl Variables for Tf1Variables {
    fn value(&self, node: &TfNode) -> Result<Option<Tensor>> {
        let shared = node.attr("shared_name").and_then(crate::TfAttr::as_str).filter(|s| !s.is_empty());
        let key = shared.unwrap_or(&node.name);
        match &self.bundle {
            Some(b) if b.entry(key).is_some() => b.get(key).map(Some),
            Some(_) => Ok(None),
            None => Err(missing_variables(&self.path, &node.name)),
        }
    }
}

fn missing_variables(path: &Path, var: &str) -> Error {
    let index = path.with_file_name("variables").join("variables.index");
    Error::malformed(path, format!("variable '{var}' needs {}, which is missing", index.display()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::generated::tensorflow::trackable_object_graph::TrackableObject;
    use crate::generated::tensorflow::trackable_object_graph::trackable_object::{ObjectReference, SerializedTensor};
    use crate::generated::tensorflow::{SavedObject, SavedObjectReference};

    #[test]
    fn object_graphs_match_by_child_names() {
        let saved_ref = |node_id, name: &str| SavedObjectReference { node_id, local_name: name.into() };
        let ckpt_ref = |node_id, name: &str| ObjectReference { node_id, local_name: name.into() };
        // The SavedModel has an extra object (a function) at node 1 that the checkpoint lacks.
        let saved = SavedObjectGraph {
            nodes: vec![
                SavedObject { children: vec![saved_ref(1, "f"), saved_ref(2, "w"), saved_ref(3, "sub")], kind: None },
                SavedObject::default(),
                SavedObject::default(),
                SavedObject { children: vec![saved_ref(2, "shared"), saved_ref(4, "b")], kind: None },
                SavedObject::default(),
            ],
            concrete_functions: Default::default(),
        };
        let value = |key: &str| SerializedTensor {
            name: "VARIABLE_VALUE".into(),
            full_name: String::new(),
            checkpoint_key: key.into(),
        };
        let ckpt = TrackableObjectGraph {
            nodes: vec![
                TrackableObject { children: vec![ckpt_ref(1, "sub"), ckpt_ref(3, "w")], attributes: vec![] },
                TrackableObject { children: vec![ckpt_ref(2, "b"), ckpt_ref(3, "shared")], attributes: vec![] },
                TrackableObject { children: vec![], attributes: vec![value("sub/b/.ATTRIBUTES/VARIABLE_VALUE")] },
                TrackableObject { children: vec![], attributes: vec![value("w/.ATTRIBUTES/VARIABLE_VALUE")] },
            ],
        };
        let keys = match_keys(&saved, &ckpt);
        assert_eq!(
            keys,
            [
                None,
                None,
                Some("w/.ATTRIBUTES/VARIABLE_VALUE".to_string()),
                None,
                Some("sub/b/.ATTRIBUTES/VARIABLE_VALUE".to_string())
            ]
        );
    }
}
