//! Transpose sinking: moving `Transpose` nodes toward the outputs, through
//! ops that do not care about the layout, until they meet another transpose
//! and cancel (or merge), vanish into a constant, or reach the model's
//! interface.
//!
//! This is what NHWC models need: converters wrap each NCHW-only op (Conv,
//! pools) in a `Transpose` pair, and the elementwise ops, pads, concats and
//! reductions between two such ops keep the pairs apart. Moving each
//! transpose forward past those ops brings it next to the inverse transpose
//! of the next Conv, and `merge_reshapes` then removes both.
//!
//! A move of `t = Transpose(x, p)` past a node `N` makes `N` read `x`
//! (constants are permuted once, axes and pads are remapped) and puts a
//! transpose after each of `N`'s outputs (the output keeps its name, so
//! readers, graph outputs and subgraph captures are unaffected). Moves are
//! counted before they are made: transposes removed (one nothing reads any
//! more), added (after outputs, unless every reader there is a transpose it
//! merges into; before inputs that come from elsewhere), and cancelled (a
//! merge giving the identity). A move is made when the count goes down, or
//! stays even and only pushes transposes forward, so the pass never adds a
//! transpose and always ends. Moves are planned for whole regions of nodes
//! first (`region.rs`: fan-outs and residual joins only pay off together),
//! then one transpose at a time for what is left (inputs needing an inverse
//! transpose, permutations that are their own inverse).
//!
//! Ranks come from initializers, declared shapes (graph inputs, outputs,
//! `value_info`) and transpose permutations; a value of unknown rank never
//! gets an inverse transpose. A transpose after a `Reshape` that moves only
//! size-1 axes becomes part of that `Reshape`.
//!
//! A `Transpose` of an initializer becomes a transposed initializer when
//! every reader of that initializer is such a transpose with the same
//! permutation (they then share the one copy); otherwise it stays, so the
//! weights never grow. Constants permuted for a move follow the same rule:
//! one copy per permutation, made only when every reader of the original
//! moves with it.

mod perm;
mod region;
mod rules;

use std::collections::{HashMap, HashSet, VecDeque};

use indexmap::IndexMap;
use ir::{Attribute, DType, Graph, Model, NameGen, Node, Result, Tensor, Use};

use crate::{Counts, num, remove_flagged};
use rules::Feed;

fn is_onnx(n: &Node) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// The number of `Transpose` nodes in `g` (not counting subgraphs).
pub(crate) fn count(g: &Graph) -> usize {
    g.nodes.iter().filter(|n| n.op == "Transpose" && is_onnx(n)).count()
}

/// Folds transposes of initializers, then moves transposes toward the
/// outputs as far as that does not add any. Leaves chains of transposes for
/// `merge_reshapes` to merge.
pub(crate) fn sink_transposes(model: &mut Model, c: &mut Counts) -> Result<()> {
    let opset = model.onnx_opset();
    let g = &mut model.graph;
    fold_into_constants(g, c);
    let before = (c.transposes_sunk, c.transposes_reshaped);
    Sink::new(g, opset).run(c);
    if (c.transposes_sunk, c.transposes_reshaped) != before {
        // New transposes were appended; put each before its readers.
        g.topo_sort()?;
    }
    Ok(())
}

/// Where a layout input of a moved node reads from afterwards.
#[derive(Debug, Clone, PartialEq)]
enum Src {
    /// The input of the transpose (node index) whose output it read.
    Through(usize),
    /// A constant, permuted (when `true`) to the untransposed layout.
    Constant(String, bool),
    /// Another value, behind a new inverse transpose.
    Inverse(String),
    /// A value computed by another node of the region being planned (it
    /// reads through that node's new output transpose once that has moved).
    Region(String),
}

/// What [`Sink::source`] may assume while planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One node at a time: inverse transposes allowed, constants copied only for their sole reader.
    Local,
    /// Growing a region: values in `frontier` will carry the permutation;
    /// constants are checked once the region is known.
    Grow,
    /// Moving a region's nodes one by one: its constants are cleared already.
    Replay,
}

/// The change to one node when a transpose moves past it.
#[derive(Debug)]
struct Move {
    node: usize,
    /// New sources of layout inputs, by input slot.
    inputs: Vec<(usize, Src)>,
    /// Attributes to set (remapped axes, pads).
    attrs: Vec<(String, Attribute)>,
    /// Input slots to feed from an int64 constant (remapped axes or pads), with a name hint.
    consts: Vec<(usize, &'static str, Vec<i64>)>,
    /// Per output, the permutation restoring its old layout (`None`: it has it already).
    outputs: Vec<Option<Vec<usize>>>,
}

/// The state of one sinking sweep over a graph, kept current as nodes change.
struct Sink<'g> {
    g: &'g mut Graph,
    opset: i64,
    uses: HashMap<String, Vec<Use>>,
    producers: HashMap<String, usize>,
    /// Declared ranks (graph inputs, outputs, value_info) and those of values made here.
    ranks: HashMap<String, usize>,
    names: NameGen,
    /// Permuted copies of constants, by (constant, permutation of the moved transpose).
    permuted: HashMap<(String, Vec<usize>), String>,
    /// 1-D int64 constants (axes, pads, shapes) by value, so that nodes share them.
    ints: HashMap<Vec<i64>, String>,
    /// Inverse transposes inserted before inputs: they point backward and never move in this sweep.
    inverses: HashSet<usize>,
    mode: Mode,
    /// Values that will carry the permutation of the region being grown.
    frontier: HashSet<String>,
    /// Constants of the region being moved whose every reader moves with it.
    cleared: HashSet<String>,
}

impl<'g> Sink<'g> {
    fn new(g: &'g mut Graph, opset: i64) -> Self {
        let uses = g.uses();
        let producers = g.producers().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let ranks = g
            .inputs
            .iter()
            .chain(&g.outputs)
            .chain(&g.value_info)
            .filter_map(|v| Some((v.name.clone(), v.shape()?.rank())))
            .collect();
        let names = NameGen::for_graph(g);
        let ints = g
            .initializers
            .iter()
            .filter(|(k, t)| t.dtype() == DType::I64 && t.shape().len() == 1 && !g.inputs.iter().any(|v| &v.name == *k))
            .filter_map(|(k, t)| Some((t.as_slice::<i64>().ok()?.into_owned(), k.clone())))
            .rev()
            .collect();
        Sink {
            g,
            opset,
            uses,
            producers,
            ranks,
            names,
            permuted: HashMap::new(),
            ints,
            inverses: HashSet::new(),
            mode: Mode::Local,
            frontier: HashSet::new(),
            cleared: HashSet::new(),
        }
    }

    /// Moves every transpose as far as it goes.
    fn run(&mut self, c: &mut Counts) {
        c.transposes_reshaped += self.reshape_transposes();
        c.transposes_sunk += self.sink_regions() + self.sink_each();
    }

    /// Turns `Transpose(Reshape(x, s), p)` into `Reshape(x, s permuted)` when
    /// `p` moves only axes that `s` makes 1: the elements keep their order,
    /// so the transpose is only a change of shape. (Squeeze-and-excite blocks
    /// reshape a pooled `[N, C]` to NHWC `[N, 1, 1, C]` before a Conv.)
    fn reshape_transposes(&mut self) -> usize {
        let mut done = 0;
        for k in 0..self.g.nodes.len() {
            let Some(p) = self.transpose_perm(k) else { continue };
            let n = &self.g.nodes[k];
            let Some(r) = n.input(0).map(str::to_string) else { continue };
            let Some(reshape) = self.producers.get(&r).map(|&j| &self.g.nodes[j]) else { continue };
            if reshape.op != "Reshape" || !is_onnx(reshape) {
                continue;
            }
            let (Some(x), Some(shape)) = (reshape.input(0), reshape.input(1).and_then(|s| self.constant_ints(s)))
            else {
                continue;
            };
            // A 0 copies the input dimension at its own index, which moving it would change.
            if shape.len() != p.len() || shape.contains(&0) {
                continue;
            }
            let kept: Vec<usize> = p.iter().copied().filter(|&a| shape[a] != 1).collect();
            if !kept.windows(2).all(|w| w[0] < w[1]) {
                continue;
            }
            let x = x.to_string();
            let hint = format!("{}_shape", if n.name.is_empty() { &r } else { &n.name });
            let s = self.int_constant(&hint, p.iter().map(|&a| shape[a]).collect());
            let node = &mut self.g.nodes[k];
            node.op = "Reshape".into();
            node.attrs.clear();
            node.inputs.clear();
            if let Some(us) = self.uses.get_mut(&r) {
                us.retain(|u| *u != Use::Input { node: k, slot: 0 });
            }
            self.set_input(k, 0, x);
            self.set_input(k, 1, s);
            done += 1;
        }
        done
    }

    /// Moves transposes one at a time into their readers, following them as
    /// they go (what regions leave: moves needing inverse transposes, and
    /// involutive permutations meeting themselves).
    fn sink_each(&mut self) -> usize {
        let mut queue: VecDeque<usize> =
            (0..self.g.nodes.len()).filter(|&i| self.transpose_perm(i).is_some()).collect();
        // Every move pushes transposes forward without adding any, so this
        // bound only guards against a bug looping.
        let budget = 4 * self.g.nodes.len() + 64;
        let mut moved = 0;
        while let Some(t) = queue.pop_front() {
            if moved >= budget {
                tracing::warn!("transpose sinking stopped after {moved} moves");
                break;
            }
            moved += self.sink_one(t, &mut queue);
        }
        moved
    }

    /// Moves transpose `t` into those of its readers where that pays; returns how many.
    fn sink_one(&mut self, t: usize, queue: &mut VecDeque<usize>) -> usize {
        if self.inverses.contains(&t) {
            return 0;
        }
        let Some(p) = self.transpose_perm(t) else { return 0 };
        let n = &self.g.nodes[t];
        let (Some(x), Some(y)) = (n.input(0), n.output(0)) else { return 0 };
        // Two transposes in a row become one (merge_reshapes) before moving on.
        if self.made_by_transpose(x) {
            return 0;
        }
        let y = y.to_string();
        let moves: Vec<Move> = self
            .readers(&y)
            .into_iter()
            .filter(|&i| self.reads_only_at_layout_slots(i, &y))
            .filter_map(|i| rules::plan(self, i, &p))
            .collect();
        if moves.is_empty() {
            return 0;
        }
        // All readers at once, or only those that pay on their own, whichever saves more.
        let all = self.gain(&moves, &p);
        let (singles, rest): (Vec<Move>, Vec<Move>) =
            moves.into_iter().partition(|m| self.gain(std::slice::from_ref(m), &p).is_some());
        let some = if singles.is_empty() { None } else { self.gain(&singles, &p) };
        let chosen = match (all, some) {
            (Some(a), Some(b)) if b < a => singles,
            (Some(_), _) => singles.into_iter().chain(rest).collect(),
            (None, Some(_)) => singles,
            (None, None) => return 0,
        };
        chosen.into_iter().map(|m| usize::from(self.apply(m, &p, queue))).sum()
    }

    /// Whether node `i` reads `v` only where its layout follows the transpose.
    fn reads_only_at_layout_slots(&self, i: usize, v: &str) -> bool {
        let n = &self.g.nodes[i];
        let Some(f) = rules::family(n) else { return false };
        n.inputs.iter().enumerate().all(|(slot, s)| s.as_deref() != Some(v) || rules::is_layout_slot(f, slot))
    }

    /// The permutation of node `i` if it is a well-formed `Transpose` (without
    /// `perm`, the reversal of its input's known rank).
    fn transpose_perm(&self, i: usize) -> Option<Vec<usize>> {
        let n = self.g.nodes.get(i)?;
        if n.op != "Transpose" || !is_onnx(n) || n.output(0).is_none() {
            return None;
        }
        match n.attr_ints("perm").ok()? {
            Some(p) => {
                let p = p.iter().map(|&a| usize::try_from(a).ok()).collect::<Option<Vec<_>>>()?;
                perm::is_perm(&p).then_some(p)
            }
            None => Some((0..self.rank(n.input(0)?)?).rev().collect()),
        }
    }

    /// The rank of `v`, when an initializer, a declaration or a transpose gives it.
    fn rank(&self, v: &str) -> Option<usize> {
        if let Some(t) = num::constant(self.g, v) {
            return Some(t.shape().len());
        }
        if let Some(&r) = self.ranks.get(v) {
            return Some(r);
        }
        self.producers.get(v).and_then(|&k| self.transpose_perm(k)).map(|p| p.len())
    }

    fn constant_ints(&self, v: &str) -> Option<Vec<i64>> {
        num::constant_ints(self.g, v)
    }

    fn is_used(&self, v: &str) -> bool {
        self.uses.get(v).is_some_and(|u| !u.is_empty())
    }

    /// Whether `v` is the output of a transpose.
    fn made_by_transpose(&self, v: &str) -> bool {
        self.producers.get(v).is_some_and(|&k| self.transpose_perm(k).is_some())
    }

    /// Where layout input `v` of node `i` comes from once a transpose of `p` moves past `i`.
    fn source(&self, i: usize, v: &str, p: &[usize], feed: Feed) -> Option<Src> {
        if let Some(&k) = self.producers.get(v)
            && self.transpose_perm(k).is_some_and(|q| q == p)
        {
            return Some(Src::Through(k));
        }
        if self.frontier.contains(v) {
            return Some(Src::Region(v.to_string()));
        }
        let r = p.len();
        if let Some(t) = num::constant(self.g, v) {
            let rank = t.shape().len();
            if rank > r || (feed == Feed::Exact && rank != r) {
                return None;
            }
            // Size-1 axes broadcast the same in any order.
            if t.shape().iter().all(|&d| d == 1) {
                return Some(Src::Constant(v.to_string(), false));
            }
            let known = self.permuted.contains_key(&(v.to_string(), p.to_vec()));
            let bytewise = t.dtype().bits().is_some_and(|b| b % 8 == 0);
            let copy_ok = known
                || bytewise
                    && match self.mode {
                        Mode::Local => self.sole_reader(i, v),
                        Mode::Grow => self.readers_take_layout(v),
                        Mode::Replay => self.cleared.contains(v),
                    };
            if !copy_ok {
                return None;
            }
            return Some(Src::Constant(v.to_string(), true));
        }
        (self.mode == Mode::Local && feed == Feed::Broadcast && self.rank(v) == Some(r))
            .then(|| Src::Inverse(v.to_string()))
    }

    /// Whether node `i` is the only reader of constant `c`, so that its
    /// permuted copy replaces it. (Constants shared by several moving nodes
    /// are the business of regions, which move all their readers together.)
    fn sole_reader(&self, i: usize, c: &str) -> bool {
        self.uses.get(c).into_iter().flatten().all(|u| matches!(*u, Use::Input { node, .. } if node == i))
    }

    /// Whether every reader of `c` reads it where the layout follows the data.
    fn readers_take_layout(&self, c: &str) -> bool {
        self.uses.get(c).into_iter().flatten().all(|u| match *u {
            Use::Input { node, slot } => {
                rules::family(&self.g.nodes[node]).is_some_and(|f| rules::is_layout_slot(f, slot))
            }
            _ => false,
        })
    }

    /// The nodes reading `v` as an input.
    fn readers(&self, v: &str) -> Vec<usize> {
        let mut r: Vec<usize> = self
            .uses
            .get(v)
            .into_iter()
            .flatten()
            .filter_map(|u| match *u {
                Use::Input { node, .. } => Some(node),
                _ => None,
            })
            .collect();
        r.sort_unstable();
        r.dedup();
        r
    }

    /// The change in the transpose count if `moves` (of a transpose of `p`)
    /// are made, when it is worth making: negative, or zero with every
    /// transpose only pushed forward.
    fn gain(&self, moves: &[Move], p: &[usize]) -> Option<i64> {
        let mut net = 0i64;
        let mut backward = false;
        let rewritten: HashSet<(usize, usize)> = moves
            .iter()
            .flat_map(|m| {
                m.inputs.iter().filter(|(_, s)| matches!(s, Src::Through(_))).map(|(slot, _)| (m.node, *slot))
            })
            .collect();
        let mut through: Vec<usize> = moves
            .iter()
            .flat_map(|m| {
                m.inputs.iter().filter_map(|(_, s)| match s {
                    Src::Through(k) => Some(*k),
                    _ => None,
                })
            })
            .collect();
        through.sort_unstable();
        through.dedup();
        for k in through {
            let out = self.g.nodes[k].output(0).unwrap_or_default();
            let gone = self.uses.get(out).into_iter().flatten().all(|u| match *u {
                Use::Input { node, slot } => rewritten.contains(&(node, slot)),
                _ => false,
            });
            net -= i64::from(gone);
        }
        for m in moves {
            for (_, src) in &m.inputs {
                let Src::Inverse(v) = src else { continue };
                backward = true;
                net += 1;
                // It merges into a transpose that only feeds it (nothing left if they cancel).
                let sole = self.uses.get(v).is_some_and(|u| u.len() == 1);
                if let Some(q) = self.producers.get(v).and_then(|&k| self.transpose_perm(k))
                    && sole
                {
                    net -= 1;
                    net -= i64::from(perm::is_identity(&perm::then(&q, &perm::inverse(p))));
                }
            }
            for (j, q) in m.outputs.iter().enumerate() {
                let (Some(q), Some(o)) = (q, self.g.nodes[m.node].output(j)) else { continue };
                let mut stays = false;
                for u in self.uses.get(o).into_iter().flatten() {
                    let reader = match *u {
                        Use::Input { node, .. } => self.transpose_perm(node),
                        _ => None,
                    };
                    match reader {
                        Some(rp) => net -= i64::from(perm::is_identity(&perm::then(q, &rp))),
                        None => stays = true,
                    }
                }
                net += i64::from(stays);
            }
        }
        (net < 0 || (net == 0 && !backward)).then_some(net)
    }

    /// Makes a move; `false` (and nothing changed) if a constant cannot be permuted.
    fn apply(&mut self, m: Move, p: &[usize], queue: &mut VecDeque<usize>) -> bool {
        let i = m.node;
        // Everything that can fail first, so that a node is never left half rewritten.
        if m.inputs.iter().any(|(_, s)| matches!(s, Src::Region(_))) {
            return false;
        }
        let mut fresh: Vec<(String, Tensor)> = Vec::new();
        for (_, src) in &m.inputs {
            if let Src::Constant(c, true) = src
                && !self.permuted.contains_key(&(c.clone(), p.to_vec()))
                && !fresh.iter().any(|(k, _)| k == c)
            {
                match num::constant(self.g, c).and_then(|t| perm::for_untransposed(t, p)) {
                    Some(t) => fresh.push((c.clone(), t)),
                    None => return false,
                }
            }
        }
        for (c, t) in fresh {
            let name = self.names.fresh(&format!("{c}_transposed"));
            self.g.initializers.insert(name.clone(), t);
            self.permuted.insert((c, p.to_vec()), name);
        }
        let base =
            if self.g.nodes[i].name.is_empty() { self.g.nodes[i].op.clone() } else { self.g.nodes[i].name.clone() };
        for (slot, src) in m.inputs {
            let v = match src {
                Src::Through(k) => self.g.nodes[k].input(0).unwrap_or_default().to_string(),
                Src::Constant(_, false) | Src::Region(_) => continue,
                Src::Constant(c, true) => self.permuted[&(c, p.to_vec())].clone(),
                Src::Inverse(v) => {
                    let out = self.names.fresh(&format!("{v}_transposed"));
                    let name = self.names.fresh(&format!("{base}_input{slot}_transpose"));
                    let k = self.push_transpose(name, &v, &out, &perm::inverse(p));
                    self.inverses.insert(k);
                    out
                }
            };
            self.set_input(i, slot, v);
        }
        for (slot, hint, values) in m.consts {
            let name = self.int_constant(&format!("{base}_{hint}"), values);
            self.set_input(i, slot, name);
        }
        for (k, v) in m.attrs {
            self.g.nodes[i].attrs.insert(k, v);
        }
        for (j, q) in m.outputs.into_iter().enumerate() {
            let Some(q) = q else { continue };
            let Some(o) = self.g.nodes[i].output(j).map(str::to_string) else { continue };
            let inner = self.names.fresh(&format!("{o}_untransposed"));
            self.g.nodes[i].outputs[j] = inner.clone();
            self.producers.insert(inner.clone(), i);
            self.ranks.insert(inner.clone(), q.len());
            if self.is_used(&o) {
                let name = self.names.fresh(&format!("{base}_transpose"));
                let k = self.push_transpose(name, &inner, &o, &q);
                queue.push_back(k);
            } else {
                // Nothing reads it: the value is gone, and so is its declared type.
                self.producers.remove(&o);
                self.ranks.remove(&o);
            }
        }
        true
    }

    /// An initializer holding `values` (1-D int64): an existing one with those
    /// values, or a new one named after `hint`.
    fn int_constant(&mut self, hint: &str, values: Vec<i64>) -> String {
        if let Some(name) = self.ints.get(&values) {
            return name.clone();
        }
        let name = self.names.fresh(hint);
        let t = Tensor::from_vec(vec![values.len()], values.clone()).expect("length matches the shape");
        self.g.initializers.insert(name.clone(), t);
        self.ints.insert(values, name.clone());
        name
    }

    /// Appends `Transpose(x, p) -> y`; returns its index.
    fn push_transpose(&mut self, name: String, x: &str, y: &str, p: &[usize]) -> usize {
        let k = self.g.nodes.len();
        let perm: Vec<i64> = p.iter().map(|&a| a as i64).collect();
        self.g.nodes.push(Node::new("Transpose", [x], [y]).named(name).with_attr("perm", perm));
        self.uses.entry(x.to_string()).or_default().push(Use::Input { node: k, slot: 0 });
        self.producers.insert(y.to_string(), k);
        self.ranks.insert(y.to_string(), p.len());
        k
    }

    /// Makes input `slot` of node `i` read `v`, keeping the use lists current.
    fn set_input(&mut self, i: usize, slot: usize, v: String) {
        let node = &mut self.g.nodes[i];
        if node.inputs.len() <= slot {
            node.inputs.resize(slot + 1, None);
        }
        let here = Use::Input { node: i, slot };
        if let Some(old) = node.inputs[slot].replace(v.clone())
            && let Some(us) = self.uses.get_mut(&old)
        {
            us.retain(|u| *u != here);
        }
        self.uses.entry(v).or_default().push(here);
    }
}

/// Replaces transposes of an initializer by one transposed initializer when
/// every reader of it is such a transpose, all with the same permutation
/// (so the original goes and the weights do not grow).
fn fold_into_constants(g: &mut Graph, c: &mut Counts) {
    let mut groups: IndexMap<String, Vec<usize>> = IndexMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        // A graph output stays a computed value (as constant folding leaves it).
        if n.op == "Transpose"
            && is_onnx(n)
            && let (Some(x), Some(y)) = (n.input(0), n.output(0))
            && num::constant(g, x).is_some()
            && !g.outputs.iter().any(|o| o.name == y)
        {
            groups.entry(x.to_string()).or_default().push(i);
        }
    }
    if groups.is_empty() {
        return;
    }
    let uses = g.uses();
    let mut dead = vec![false; g.nodes.len()];
    for (x, ts) in groups {
        let only_these = uses.get(&x).is_some_and(|us| {
            us.len() == ts.len() && us.iter().all(|u| matches!(*u, Use::Input { node, .. } if ts.contains(&node)))
        });
        let Some(t) = num::constant(g, &x).filter(|_| only_these) else { continue };
        let rank = t.shape().len();
        let perms: Option<Vec<Vec<usize>>> = ts
            .iter()
            .map(|&k| match g.nodes[k].attr_ints("perm").ok()? {
                Some(p) => p.iter().map(|&a| usize::try_from(a).ok()).collect(),
                None => Some((0..rank).rev().collect()),
            })
            .collect();
        let Some(perms) = perms else { continue };
        let p = &perms[0];
        if p.len() != rank || perms.iter().any(|q| q != p) {
            continue;
        }
        let Ok(folded) = t.permuted(p) else { continue };
        let first = g.nodes[ts[0]].output(0).unwrap_or_default().to_string();
        for &k in &ts[1..] {
            let y = g.nodes[k].output(0).unwrap_or_default().to_string();
            g.replace_uses(&y, &first);
        }
        g.initializers.insert(first, folded);
        for &k in &ts {
            dead[k] = true;
        }
        c.transposes_folded += ts.len();
    }
    remove_flagged(g, &dead);
}
