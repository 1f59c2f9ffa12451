//! Classic ML ops of the `ai.onnx.ml` domain: LabelEncoder,
//! ArrayFeatureExtractor, Binarizer and TreeEnsemble.
//!
//! - LabelEncoder (2, 4): maps each input element through `keys_*` ->
//!   `values_*` (strings, int64s, floats); unmatched elements get the default
//!   (`default_string` "_Unused", `default_int64` -1, `default_float` -0.0).
//!   Version 4 adds `keys_tensor` / `values_tensor` / `default_tensor` (any of
//!   string, int16/32/64, float, double) and matches NaN keys to NaN inputs.
//!   Float keys compare by value (-0.0 equals 0.0).
//! - ArrayFeatureExtractor (1): `X[..., Y]` with the indices flattened; a
//!   1-D X gives shape `[1, len(Y)]`.
//! - Binarizer (1): `x > threshold ? 1 : 0`, same type.
//! - TreeEnsemble (5): trees given by parallel node arrays (`nodes_*`, the
//!   splits in `nodes_splits` of the input type), children either nodes or
//!   leaves (`nodes_trueleafs`/`nodes_falseleafs`); a node's mode is LEQ, LT,
//!   GTE, GT, EQ, NEQ or MEMBER (value in a NaN-separated run of
//!   `membership_values`), a NaN feature takes the true branch where
//!   `nodes_missing_value_tracks_true` says so. Leaves add `leaf_weights` to
//!   target `leaf_targetids`, aggregated over trees by AVERAGE, SUM (default),
//!   MIN or MAX, then `post_transform` NONE, SOFTMAX, LOGISTIC or
//!   SOFTMAX_ZERO. Output `[N, n_targets]` in the input's float type.

use std::collections::HashMap;

use ir::DType;
use ndarray::ArrayD;

use super::reduce::{Elem, with_num};
use crate::registry::{Ctx, OpRegistry};
use crate::{Error, Result, Tensor, Value, array, bail};

const ML: &str = "ai.onnx.ml";

/// Registers the ai.onnx.ml ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add_in(ML, "LabelEncoder", label_encoder);
    r.add_in(ML, "ArrayFeatureExtractor", array_feature_extractor);
    r.add_in(ML, "Binarizer", binarizer);
    r.add_in(ML, "TreeEnsemble", tree_ensemble);
}

// ---------------------------------------------------------------------------
// LabelEncoder.

/// A lookup key: integers exactly, floats by bit pattern after folding -0.0
/// into 0.0 and every NaN into one, strings as they are.
#[derive(PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Float(u64),
    Str(String),
}

fn float_key(v: f64) -> Key {
    Key::Float(if v.is_nan() { f64::NAN.to_bits() } else { (v + 0.0).to_bits() })
}

/// The elements of a tensor as keys.
fn keys_of(t: &Tensor) -> Result<Vec<Key>> {
    Ok(match t {
        Tensor::Str(a) => a.iter().cloned().map(Key::Str).collect(),
        Tensor::F32(_) | Tensor::F64(_) => t.to_f64_vec()?.into_iter().map(float_key).collect(),
        Tensor::I64(_) | Tensor::I32(_) | Tensor::I16(_) => t.to_i64_vec()?.into_iter().map(Key::Int).collect(),
        t => bail!("LabelEncoder does not support {} keys", t.dtype()),
    })
}

fn label_encoder(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let attr_tensor = |name: &str| ctx.tensor_attr(name);
    let keys = match (attr_tensor("keys_tensor")?, ctx.strings("keys_strings")?, ctx.ints("keys_int64s")?) {
        (Some(t), ..) => t,
        (None, Some(s), _) => Tensor::Str(array(&[s.len()], s)?),
        (None, None, Some(v)) => Tensor::i64(&[v.len()], v)?,
        (None, None, None) => match ctx.floats("keys_floats")? {
            Some(v) => Tensor::f32(&[v.len()], v)?,
            None => bail!("no keys: give one of keys_tensor, keys_strings, keys_int64s, keys_floats"),
        },
    };
    let (values, default) =
        match (attr_tensor("values_tensor")?, ctx.strings("values_strings")?, ctx.ints("values_int64s")?) {
            (Some(t), ..) => {
                let d = match attr_tensor("default_tensor")? {
                    Some(d) => d,
                    None => match t.dtype() {
                        DType::String => Tensor::Str(array(&[1], vec!["_Unused".to_string()])?),
                        DType::F32 | DType::F64 => Tensor::f32(&[1], vec![-0.0])?.cast_to(t.dtype())?,
                        d => Tensor::i64(&[1], vec![-1])?.cast_to(d)?,
                    },
                };
                (t, d)
            }
            (None, Some(s), _) => {
                let d = ctx.string("default_string", "_Unused")?;
                (Tensor::Str(array(&[s.len()], s)?), Tensor::Str(array(&[1], vec![d])?))
            }
            (None, None, Some(v)) => {
                (Tensor::i64(&[v.len()], v)?, Tensor::i64(&[1], vec![ctx.int("default_int64", -1)?])?)
            }
            (None, None, None) => match ctx.floats("values_floats")? {
                Some(v) => (Tensor::f32(&[v.len()], v)?, Tensor::f32(&[1], vec![ctx.float("default_float", -0.0)?])?),
                None => bail!("no values: give one of values_tensor, values_strings, values_int64s, values_floats"),
            },
        };
    if keys.len() != values.len() {
        bail!("{} keys but {} values", keys.len(), values.len());
    }
    if default.len() != 1 || default.dtype() != values.dtype() {
        bail!(
            "the default must be one {} value, got {} of shape {:?}",
            values.dtype(),
            default.dtype(),
            default.shape()
        );
    }
    // Keys of the other kind (e.g. int keys for a float input) never match;
    // the spec requires the input type to be the keys' type.
    if (matches!(keys, Tensor::Str(_)) != matches!(x, Tensor::Str(_)))
        || (matches!(keys, Tensor::F32(_) | Tensor::F64(_)) != matches!(x, Tensor::F32(_) | Tensor::F64(_)))
    {
        bail!("input type {} does not match the keys' type {}", x.dtype(), keys.dtype());
    }
    let mut map: HashMap<Key, usize> = HashMap::new();
    for (i, k) in keys_of(&keys)?.into_iter().enumerate() {
        // The first occurrence of a duplicated key wins.
        map.entry(k).or_insert(i);
    }
    let idx: Vec<Option<usize>> = keys_of(x)?.iter().map(|k| map.get(k).copied()).collect();
    let y = gather_or_default(&values, &default, &idx, x.shape())?;
    Ok(vec![y.into()])
}

/// `values[i]` for each `Some(i)`, the default for `None`.
fn gather_or_default(values: &Tensor, default: &Tensor, idx: &[Option<usize>], shape: &[usize]) -> Result<Tensor> {
    fn pick<T: Clone>(v: &ArrayD<T>, d: &ArrayD<T>, idx: &[Option<usize>], shape: &[usize]) -> Result<ArrayD<T>> {
        let v: Vec<T> = v.iter().cloned().collect();
        let d = d.iter().next().cloned().ok_or_else(|| Error::op("empty default"))?;
        array(shape, idx.iter().map(|i| i.map_or_else(|| d.clone(), |i| v[i].clone())).collect())
    }
    Ok(match (values, default) {
        (Tensor::Str(v), Tensor::Str(d)) => Tensor::Str(pick(v, d, idx, shape)?),
        (Tensor::F32(v), Tensor::F32(d)) => Tensor::F32(pick(v, d, idx, shape)?),
        (Tensor::F64(v), Tensor::F64(d)) => Tensor::F64(pick(v, d, idx, shape)?),
        (Tensor::I64(v), Tensor::I64(d)) => Tensor::I64(pick(v, d, idx, shape)?),
        (Tensor::I32(v), Tensor::I32(d)) => Tensor::I32(pick(v, d, idx, shape)?),
        (Tensor::I16(v), Tensor::I16(d)) => Tensor::I16(pick(v, d, idx, shape)?),
        (v, _) => bail!("LabelEncoder does not support {} values", v.dtype()),
    })
}

// ---------------------------------------------------------------------------
// ArrayFeatureExtractor and Binarizer.

fn array_feature_extractor(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let idx = ctx.input(inputs, 1)?.to_i64_vec()?;
    let Some(&last) = x.shape().last() else { bail!("X must have rank >= 1") };
    let idx: Vec<usize> = idx
        .iter()
        .map(|&i| match usize::try_from(i) {
            Ok(u) if u < last => Ok(u),
            _ => bail!("index {i} is out of range for the last dimension of size {last}"),
        })
        .collect::<Result<_>>()?;
    let mut shape = if x.rank() == 1 { vec![1] } else { x.shape()[..x.rank() - 1].to_vec() };
    shape.push(idx.len());
    if matches!(x, Tensor::Bool(_) | Tensor::C64(_) | Tensor::C128(_)) {
        bail!("ArrayFeatureExtractor does not support {} inputs", x.dtype());
    }
    let rows = x.len() / last.max(1);
    let y = gather_last(x, rows, last, &idx, &shape)?;
    Ok(vec![y.into()])
}

/// Picks columns `idx` of each length-`last` row.
fn gather_last(x: &Tensor, rows: usize, last: usize, idx: &[usize], shape: &[usize]) -> Result<Tensor> {
    fn g<T: Clone>(a: &ArrayD<T>, rows: usize, last: usize, idx: &[usize], shape: &[usize]) -> Result<ArrayD<T>> {
        let data: Vec<T> = a.iter().cloned().collect();
        let mut out = Vec::with_capacity(rows * idx.len());
        for r in 0..rows {
            out.extend(idx.iter().map(|&i| data[r * last + i].clone()));
        }
        array(shape, out)
    }
    Ok(crate::map_any!(x, a => g(a, rows, last, idx, shape)?))
}

fn binarizer(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let th = f64::from(ctx.float("threshold", 0.0)?);
    fn bin<T: Elem>(a: &ArrayD<T>, th: f64) -> Tensor {
        let (one, zero) = (T::from_f64(1.0), T::from_f64(0.0));
        T::wrap(a.mapv(|v| if v.to_f64() > th { one } else { zero }))
    }
    let y = with_num!(x, "Binarizer", a => bin(a, th));
    Ok(vec![y.into()])
}

// ---------------------------------------------------------------------------
// TreeEnsemble.

/// An attribute that may be a tensor or a float list, as f64.
fn floats_attr(ctx: &Ctx<'_>, name: &str) -> Result<Option<Vec<f64>>> {
    match ctx.node.attr(name) {
        None => Ok(None),
        Some(ir::Attribute::Tensor(_)) => Ok(Some(ctx.tensor_attr(name)?.expect("present").to_f64_vec()?)),
        Some(_) => Ok(ctx.floats(name)?.map(|v| v.into_iter().map(f64::from).collect())),
    }
}

/// An attribute that may be a tensor or an int list.
fn ints_attr(ctx: &Ctx<'_>, name: &str) -> Result<Option<Vec<i64>>> {
    match ctx.node.attr(name) {
        None => Ok(None),
        Some(ir::Attribute::Tensor(_)) => Ok(Some(ctx.tensor_attr(name)?.expect("present").to_i64_vec()?)),
        Some(_) => ctx.ints(name),
    }
}

fn required<T>(v: Option<T>, name: &str) -> Result<T> {
    v.ok_or_else(|| Error::op(format!("missing required attribute '{name}'")))
}

/// A tree's child: another node or a leaf, by index.
#[derive(Clone, Copy)]
enum Child {
    Node(usize),
    Leaf(usize),
}

struct Ensemble {
    feature: Vec<usize>,
    mode: Vec<u8>,
    split: Vec<f64>,
    members: Vec<Vec<f64>>,
    missing_true: Vec<bool>,
    t: Vec<Child>,
    f: Vec<Child>,
    roots: Vec<Child>,
}

impl Ensemble {
    /// The leaf a row reaches from `start`; the step bound stops cycles.
    fn leaf(&self, row: &[f64], start: Child) -> Result<usize> {
        let mut at = start;
        for _ in 0..=self.feature.len() {
            match at {
                Child::Leaf(l) => return Ok(l),
                Child::Node(n) => {
                    let v = row[self.feature[n]];
                    let s = self.split[n];
                    let go = (v.is_nan() && self.missing_true[n])
                        || match self.mode[n] {
                            0 => v <= s,
                            1 => v < s,
                            2 => v >= s,
                            3 => v > s,
                            4 => v == s,
                            5 => v != s,
                            _ => self.members[n].contains(&v),
                        };
                    at = if go { self.t[n] } else { self.f[n] };
                }
            }
        }
        bail!("the tree contains a cycle")
    }
}

fn tree_ensemble(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    if !matches!(x, Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_)) {
        bail!("X must be a float tensor, got {}", x.dtype());
    }
    let (n_rows, n_feat) = match x.shape() {
        [n, f] => (*n, *f),
        [f] => (1, *f),
        s => bail!("X must be [N, F], got shape {s:?}"),
    };
    let xs = x.to_f64_vec()?;
    let split = required(floats_attr(ctx, "nodes_splits")?, "nodes_splits")?;
    let feature = required(ints_attr(ctx, "nodes_featureids")?, "nodes_featureids")?;
    let modes = required(ints_attr(ctx, "nodes_modes")?, "nodes_modes")?;
    let tn = required(ints_attr(ctx, "nodes_truenodeids")?, "nodes_truenodeids")?;
    let fnode = required(ints_attr(ctx, "nodes_falsenodeids")?, "nodes_falsenodeids")?;
    let tl = required(ints_attr(ctx, "nodes_trueleafs")?, "nodes_trueleafs")?;
    let fl = required(ints_attr(ctx, "nodes_falseleafs")?, "nodes_falseleafs")?;
    let targets = required(ints_attr(ctx, "leaf_targetids")?, "leaf_targetids")?;
    let weights = required(floats_attr(ctx, "leaf_weights")?, "leaf_weights")?;
    let roots = required(ints_attr(ctx, "tree_roots")?, "tree_roots")?;
    let n_targets = ctx.int("n_targets", 0)?;
    let missing = ints_attr(ctx, "nodes_missing_value_tracks_true")?.unwrap_or_default();
    let membership = floats_attr(ctx, "membership_values")?;
    let n = split.len();
    for (name, len) in [
        ("nodes_featureids", feature.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", tn.len()),
        ("nodes_falsenodeids", fnode.len()),
        ("nodes_trueleafs", tl.len()),
        ("nodes_falseleafs", fl.len()),
    ] {
        if len != n {
            bail!("{name} has {len} entries, nodes_splits has {n}");
        }
    }
    if !missing.is_empty() && missing.len() != n {
        bail!("nodes_missing_value_tracks_true has {} entries for {n} nodes", missing.len());
    }
    if targets.len() != weights.len() {
        bail!("leaf_targetids has {} entries, leaf_weights {}", targets.len(), weights.len());
    }
    let n_targets =
        usize::try_from(n_targets).ok().filter(|&t| t > 0).ok_or_else(|| Error::op("n_targets must be positive"))?;
    let leaf_targets: Vec<usize> = targets
        .iter()
        .map(|&t| {
            usize::try_from(t)
                .ok()
                .filter(|&t| t < n_targets)
                .ok_or_else(|| Error::op(format!("leaf target {t} is out of range for {n_targets} targets")))
        })
        .collect::<Result<_>>()?;
    let child = |id: i64, leaf: bool| -> Result<Child> {
        let bound = if leaf { weights.len() } else { n };
        match usize::try_from(id) {
            Ok(i) if i < bound => Ok(if leaf { Child::Leaf(i) } else { Child::Node(i) }),
            _ => bail!("{} index {id} is out of range ({bound} entries)", if leaf { "leaf" } else { "node" }),
        }
    };
    let mut t = Vec::with_capacity(n);
    let mut f = Vec::with_capacity(n);
    let mut feat = Vec::with_capacity(n);
    let mut mode = Vec::with_capacity(n);
    let mut members = vec![Vec::new(); n];
    let mut member_runs = membership.as_deref().unwrap_or(&[]).split(|v| v.is_nan());
    for i in 0..n {
        t.push(child(tn[i], tl[i] != 0)?);
        f.push(child(fnode[i], fl[i] != 0)?);
        feat.push(match usize::try_from(feature[i]) {
            Ok(v) if v < n_feat => v,
            _ => bail!("feature id {} is out of range for {n_feat} features", feature[i]),
        });
        let m = match u8::try_from(modes[i]) {
            Ok(m) if m <= 6 => m,
            _ => bail!("node mode {} is not one of 0 (LEQ) .. 6 (MEMBER)", modes[i]),
        };
        if m == 6 {
            // MEMBER nodes take the NaN-separated runs of membership_values in order.
            match member_runs.next() {
                Some(run) if membership.is_some() => members[i] = run.to_vec(),
                _ => bail!("a MEMBER node has no set in membership_values"),
            }
        }
        mode.push(m);
    }
    // A root whose both branches are the same leaf is a one-leaf tree.
    let roots: Vec<Child> = roots
        .iter()
        .map(|&r| {
            let Child::Node(i) = child(r, false)? else { unreachable!() };
            Ok(if tl[i] != 0 && fl[i] != 0 && tn[i] == fnode[i] { t[i] } else { Child::Node(i) })
        })
        .collect::<Result<_>>()?;
    let ens = Ensemble {
        feature: feat,
        mode,
        split,
        members,
        missing_true: (0..n).map(|i| missing.get(i).is_some_and(|&v| v != 0)).collect(),
        t,
        f,
        roots,
    };
    let agg = ctx.int("aggregate_function", 1)?;
    let post = ctx.int("post_transform", 0)?;
    let init = match agg {
        0 | 1 => 0.0,
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        a => bail!("aggregate_function {a} is not AVERAGE (0), SUM (1), MIN (2) or MAX (3)"),
    };
    let mut out = vec![init; n_rows * n_targets];
    for r in 0..n_rows {
        let row = &xs[r * n_feat..(r + 1) * n_feat];
        let o = &mut out[r * n_targets..(r + 1) * n_targets];
        for &root in &ens.roots {
            let l = ens.leaf(row, root)?;
            let (tg, w) = (leaf_targets[l], weights[l]);
            o[tg] = match agg {
                0 | 1 => o[tg] + w,
                2 => o[tg].min(w),
                _ => o[tg].max(w),
            };
        }
        if agg == 0 && !ens.roots.is_empty() {
            o.iter_mut().for_each(|v| *v /= ens.roots.len() as f64);
        }
        post_transform(o, post)?;
    }
    let y = Tensor::F64(array(&[n_rows, n_targets], out)?);
    Ok(vec![if x.dtype() == DType::F64 { y } else { y.cast_to(x.dtype())? }.into()])
}

/// Applies a post transform to one row of scores.
fn post_transform(o: &mut [f64], post: i64) -> Result<()> {
    match post {
        0 => {}
        1 | 3 => {
            // SOFTMAX_ZERO leaves exact zeros at zero.
            let keep_zero = post == 3;
            let m = o.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = o.iter().map(|&v| if keep_zero && v == 0.0 { 0.0 } else { (v - m).exp() }).collect();
            let s: f64 = e.iter().sum();
            for (v, e) in o.iter_mut().zip(e) {
                *v = if s > 0.0 { e / s } else { 0.0 };
            }
        }
        2 => o.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        p => bail!("post_transform {p} is not supported (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Session;
    use ir::{Graph, Model, Node, ValueInfo};

    /// Runs one ai.onnx.ml node at `opset` on `inputs`.
    fn run_ml(node: Node, opset: i64, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let mut node = node.in_domain(ML);
        let names: Vec<String> = (0..inputs.len()).map(|i| format!("i{i}")).collect();
        node.inputs = names.iter().cloned().map(Some).collect();
        let mut g = Graph::default();
        for n in &names {
            g.inputs.push(ValueInfo::untyped(n.clone()));
        }
        for o in &node.outputs {
            g.outputs.push(ValueInfo::untyped(o.clone()));
        }
        g.nodes.push(node);
        let mut m = Model::new(g);
        m.opset_imports.insert(String::new(), 21);
        m.opset_imports.insert(ML.to_string(), opset);
        let feeds = names.into_iter().zip(inputs.into_iter().map(Value::Tensor)).collect();
        Session::new(&m)?.run(feeds)?.into_iter().map(|(_, v)| v.into_tensor()).collect()
    }

    fn node(op: &str) -> Node {
        Node::new(op, Vec::<String>::new(), ["y"])
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn label_encoder_lists_and_default() {
        let n = node("LabelEncoder")
            .with_attr("keys_strings", ir::Attribute::Strings(strs(&["a", "b"])))
            .with_attr("values_int64s", vec![7i64, 8]);
        let x = Tensor::Str(array(&[3], strs(&["b", "z", "a"])).unwrap());
        let y = run_ml(n, 2, vec![x]).unwrap();
        assert_eq!(y[0].to_i64_vec().unwrap(), [8, -1, 7]);
        let n = node("LabelEncoder")
            .with_attr("keys_floats", vec![0.0f32, 1.5])
            .with_attr("values_floats", vec![1f32, 2.0]);
        let y = run_ml(n.with_attr("default_float", 9f32), 2, vec![Tensor::f32(&[3], vec![-0.0, 1.5, 3.0]).unwrap()])
            .unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [1., 2., 9.]);
    }

    #[test]
    fn feature_extractor_and_binarizer() {
        let x = Tensor::f32(&[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let y =
            run_ml(node("ArrayFeatureExtractor"), 1, vec![x.clone(), Tensor::i64(&[2], vec![2, 0]).unwrap()]).unwrap();
        assert_eq!(y[0].shape(), &[2, 2]);
        assert_eq!(y[0].to_f64_vec().unwrap(), [3., 1., 6., 4.]);
        assert!(
            run_ml(node("ArrayFeatureExtractor"), 1, vec![x.clone(), Tensor::i64(&[1], vec![3]).unwrap()]).is_err()
        );
        let y = run_ml(node("Binarizer").with_attr("threshold", 3.5f32), 1, vec![x]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [0., 0., 0., 1., 1., 1.]);
    }

    #[test]
    fn tree_ensemble_two_trees() {
        // Tree 0: x0 <= 1 ? leaf0 (w 1, target 0) : leaf1 (w 10, target 1).
        // Tree 1: x1 in {5, 6} ? leaf2 (w 100, target 0) : leaf3 (w 1000, target 1).
        let n = node("TreeEnsemble")
            .with_attr("nodes_splits", ir::Tensor::from_vec(vec![2], vec![1.0f32, 0.0]).unwrap())
            .with_attr("nodes_featureids", vec![0i64, 1])
            .with_attr("nodes_modes", ir::Tensor::from_vec(vec![2], vec![0u8, 6]).unwrap())
            .with_attr("nodes_truenodeids", vec![0i64, 2])
            .with_attr("nodes_falsenodeids", vec![1i64, 3])
            .with_attr("nodes_trueleafs", vec![1i64, 1])
            .with_attr("nodes_falseleafs", vec![1i64, 1])
            .with_attr("leaf_targetids", vec![0i64, 1, 0, 1])
            .with_attr("leaf_weights", ir::Tensor::from_vec(vec![4], vec![1.0f32, 10.0, 100.0, 1000.0]).unwrap())
            .with_attr("membership_values", ir::Tensor::from_vec(vec![3], vec![5.0f32, 6.0, f32::NAN]).unwrap())
            .with_attr("tree_roots", vec![0i64, 1])
            .with_attr("n_targets", 2i64);
        let x = Tensor::f32(&[2, 2], vec![0.5, 6.0, 2.0, 7.0]).unwrap();
        let y = run_ml(n, 5, vec![x]).unwrap();
        assert_eq!(y[0].shape(), &[2, 2]);
        assert_eq!(y[0].to_f64_vec().unwrap(), [101., 0., 0., 1010.]);
    }
}
