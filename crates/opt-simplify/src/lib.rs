//! Graph simplification: passes that make a model smaller and faster to run
//! without changing what it computes (beyond the float rounding of folded
//! BatchNormalization weights).
//!
//! [`simplify`] runs these rewrites on the main graph until none applies:
//!
//! - **constant folding**: a node whose inputs are all constants is run once
//!   with the reference evaluator and replaced by initializers (`Constant`
//!   nodes become initializers). Random ops are never folded, and an output
//!   larger than its inputs plus [`Options::max_fold_growth`] bytes is left as a
//!   node so folding never inflates a model (`ConstantOfShape`, `Expand`,
//!   `Tile`, `Range` are sized before they run);
//! - **BatchNormalization folding** into a preceding `Conv`, `ConvTranspose`,
//!   `Gemm` or `MatMul` whose output nothing else reads;
//! - **Identity** and inference-mode **Dropout** removal;
//! - **Transpose** merging (and removal of identity permutations), **Reshape**
//!   merging, and removal of `Squeeze`/`Unsqueeze` pairs that cancel;
//! - **transpose sinking**: `Transpose` nodes move toward the outputs through
//!   layout-agnostic ops (elementwise, Pad, Concat, Split, Slice, reductions,
//!   Squeeze/Unsqueeze, Q/DQ) until they cancel against an inverse one, and
//!   transposes of initializers become transposed initializers, never adding
//!   a transpose or growing the weights (see `transpose/mod.rs`);
//! - **common-subexpression elimination**: nodes with the same op, domain,
//!   attributes and inputs compute the same value (random ops and nodes with
//!   subgraphs excepted);
//! - **dead-node** and **unused-initializer** removal.
//!
//! Graph inputs and outputs keep their names and types. Subgraphs (`If`,
//! `Loop`, `Scan` bodies) are left as they are; every rewrite treats their
//! reads of outer values (captures) as uses, so they are never broken.

mod bn;
mod cleanup;
mod cse;
mod dedup;
mod fold;
pub mod num;
mod transpose;

use std::collections::HashSet;

use ir::{Error, Graph, Model, Pass, PassInfo, PassReport, Registry, Result};

/// Whether the node's result changes from run to run, so it is never folded
/// or merged. Matched by op name in any domain: an origin-domain op named
/// like an ONNX random op (OpenVINO's `RandomUniform`) draws too.
pub(crate) fn is_random(node: &ir::Node) -> bool {
    ir::schema::lookup("", &node.op).is_some_and(|s| s.is(ir::schema::Class::RANDOM))
}

/// Which rewrites [`simplify`] applies, and the folding size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Fold nodes whose inputs are all constants.
    pub fold_constants: bool,
    /// Fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm/MatMul.
    pub fold_batch_norm: bool,
    /// Remove Identity and inference-mode Dropout.
    pub remove_identity: bool,
    /// Merge Transpose and Reshape chains, drop cancelling Squeeze/Unsqueeze pairs.
    pub merge_reshapes: bool,
    /// Merge nodes computing the same value.
    pub cse: bool,
    /// Move Transposes toward the outputs until they cancel, fold them into
    /// initializers. Needs `merge_reshapes`, which merges what it brings together.
    pub sink_transposes: bool,
    /// A folded node's outputs may exceed its inputs by at most this many bytes.
    pub max_fold_growth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fold_constants: true,
            fold_batch_norm: true,
            remove_identity: true,
            merge_reshapes: true,
            cse: true,
            sink_transposes: true,
            max_fold_growth: 1 << 20,
        }
    }
}

impl Options {
    /// Parses the pass argument: empty, or comma-separated `no-fold`, `no-bn`,
    /// `no-identity`, `no-reshape`, `no-cse`, `no-transpose`, `max-fold-growth=BYTES`.
    pub fn parse(arg: &str) -> Result<Self> {
        let mut o = Options::default();
        for item in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "no-fold" => o.fold_constants = false,
                "no-bn" => o.fold_batch_norm = false,
                "no-identity" => o.remove_identity = false,
                "no-reshape" => o.merge_reshapes = false,
                "no-cse" => o.cse = false,
                "no-transpose" => o.sink_transposes = false,
                _ => match item.split_once('=') {
                    Some(("max-fold-growth", v)) => {
                        o.max_fold_growth = v.parse().map_err(|_| {
                            Error::usage(format!("simplify: max-fold-growth={v}: expected a number of bytes"))
                        })?;
                    }
                    _ => {
                        return Err(Error::usage(format!(
                            "simplify: unknown option '{item}' (expected no-fold, no-bn, no-identity, no-reshape, \
                             no-cse, no-transpose, max-fold-growth=BYTES)"
                        )));
                    }
                },
            }
        }
        Ok(o)
    }
}

/// What [`simplify`] changed, rewrite by rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Nodes replaced by initializers (Constant nodes included).
    pub folded: usize,
    /// BatchNormalization nodes folded into the preceding layer.
    pub bn_folded: usize,
    /// Per-channel `Mul`/`Add` by constants folded into the Conv/Gemm/MatMul before them.
    pub affine_folded: usize,
    /// Identity nodes removed.
    pub identities: usize,
    /// Dropout nodes removed.
    pub dropouts: usize,
    /// Transpose pairs merged into one.
    pub transposes_merged: usize,
    /// Transposes with the identity permutation removed.
    pub transposes_removed: usize,
    /// Reshapes that now read the input of the Reshape before them.
    pub reshapes_merged: usize,
    /// Squeeze/Unsqueeze pairs removed.
    pub squeeze_pairs: usize,
    /// Times a Transpose moved past a node toward the outputs.
    pub transposes_sunk: usize,
    /// Transposes of initializers replaced by transposed initializers.
    pub transposes_folded: usize,
    /// Transposes after a Reshape that only moved size-1 axes, now part of the Reshape.
    pub transposes_reshaped: usize,
    /// Nodes merged into an identical earlier node.
    pub cse_merged: usize,
    /// Initializers whose readers now read an earlier one with the same contents.
    pub duplicate_initializers: usize,
    /// Nodes removed because nothing reads their outputs.
    pub dead_nodes: usize,
    /// Initializers removed because nothing reads them.
    pub unused_initializers: usize,
    /// Node count before and after.
    pub nodes: (usize, usize),
    /// Initializer count before and after.
    pub initializers: (usize, usize),
    /// Transpose count before and after.
    pub transposes: (usize, usize),
    /// Rounds run until nothing changed.
    pub rounds: usize,
}

impl Counts {
    fn changes(&self) -> usize {
        self.folded
            + self.bn_folded
            + self.affine_folded
            + self.identities
            + self.dropouts
            + self.transposes_merged
            + self.transposes_removed
            + self.reshapes_merged
            + self.squeeze_pairs
            + self.transposes_sunk
            + self.transposes_folded
            + self.transposes_reshaped
            + self.cse_merged
            + self.duplicate_initializers
            + self.dead_nodes
            + self.unused_initializers
    }

    /// Each rewrite's count with its figure name and its report-line text:
    /// the one table behind [`Counts::lines`] and [`Counts::figures`].
    fn rewrites(&self) -> [(usize, &'static str, &'static str); 16] {
        [
            (self.folded, "folded", "constant nodes folded into initializers"),
            (self.bn_folded, "bn_folded", "BatchNormalization folded into Conv/Gemm/MatMul"),
            (self.affine_folded, "affine_folded", "per-channel Mul/Add folded into Conv/Gemm/MatMul"),
            (self.identities, "identities_removed", "Identity removed"),
            (self.dropouts, "dropouts_removed", "Dropout removed"),
            (self.transposes_merged, "transposes_merged", "Transpose pairs merged"),
            (self.transposes_removed, "transposes_removed", "identity Transpose removed"),
            (self.reshapes_merged, "reshapes_merged", "Reshape chains merged"),
            (self.squeeze_pairs, "squeeze_pairs_removed", "Squeeze/Unsqueeze pairs removed"),
            (self.transposes_sunk, "transposes_sunk", "Transpose moves toward the outputs"),
            (self.transposes_folded, "transposes_folded", "Transposes folded into initializers"),
            (self.transposes_reshaped, "transposes_reshaped", "Transposes of size-1 axes folded into a Reshape"),
            (self.cse_merged, "cse_merged", "duplicate nodes merged (CSE)"),
            (self.duplicate_initializers, "duplicate_initializers", "initializers with identical contents merged"),
            (self.dead_nodes, "dead_nodes_removed", "dead nodes removed"),
            (self.unused_initializers, "unused_initializers_removed", "unused initializers removed"),
        ]
    }

    /// Report lines, one per rewrite that did something, then the totals.
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.rewrites().iter().filter(|r| r.0 > 0).map(|(n, _, what)| format!("{what}: {n}")).collect();
        if self.transposes != (0, 0) {
            v.push(format!("transposes {} -> {}", self.transposes.0, self.transposes.1));
        }
        v.push(format!(
            "nodes {} -> {}, initializers {} -> {} ({} round(s))",
            self.nodes.0, self.nodes.1, self.initializers.0, self.initializers.1, self.rounds
        ));
        v
    }

    /// The same facts as [`Counts::lines`] by name, every rewrite's count
    /// included (zeros too, so a reader need not know which are missing).
    pub fn figures(&self) -> std::collections::BTreeMap<String, f64> {
        let mut f: std::collections::BTreeMap<String, f64> =
            self.rewrites().iter().map(|&(n, key, _)| (key.to_string(), n as f64)).collect();
        for (key, (before, after)) in
            [("nodes", self.nodes), ("initializers", self.initializers), ("transposes", self.transposes)]
        {
            f.insert(format!("{key}_before"), before as f64);
            f.insert(format!("{key}_after"), after as f64);
        }
        f.insert("rounds".into(), self.rounds as f64);
        f
    }
}

/// Simplifies the main graph until no rewrite applies; returns what changed.
///
/// The model must be valid (as [`Graph::validate`] checks); it stays valid.
pub fn simplify(model: &mut Model, opts: &Options) -> Result<Counts> {
    let mut c = Counts {
        nodes: (model.graph.nodes.len(), 0),
        initializers: (model.graph.initializers.len(), 0),
        transposes: (transpose::count(&model.graph), 0),
        ..Counts::default()
    };
    // Each round only shrinks the graph, so this bound is never the reason to stop in practice.
    for _ in 0..64 {
        let before = c.changes();
        c.rounds += 1;
        // Identity removal and CSE first: readers of a deduplicated or
        // shared weight then become one node, which folds into one tensor.
        if opts.remove_identity {
            cleanup::remove_identities(model, &mut c)?;
        }
        if opts.cse {
            cse::eliminate(&mut model.graph, &mut c);
        }
        if opts.fold_constants {
            fold::fold_constants(model, opts.max_fold_growth, &mut c)?;
        }
        if opts.fold_batch_norm {
            bn::fold_batch_norms(&mut model.graph, &mut c)?;
        }
        if opts.sink_transposes && opts.merge_reshapes {
            transpose::sink_transposes(model, &mut c)?;
        }
        if opts.merge_reshapes {
            cleanup::merge_reshapes(model, &mut c)?;
        }
        if opts.cse {
            c.duplicate_initializers += dedup::merge_duplicate_initializers(&mut model.graph);
        }
        c.dead_nodes += model.graph.remove_dead_nodes();
        c.unused_initializers += model.graph.remove_unused_initializers();
        if c.changes() == before {
            break;
        }
    }
    drop_stale_value_info(&mut model.graph);
    model.graph.validate().map_err(|e| e.context("simplify left an invalid graph (a bug)"))?;
    c.nodes.1 = model.graph.nodes.len();
    c.initializers.1 = model.graph.initializers.len();
    c.transposes.1 = transpose::count(&model.graph);
    Ok(c)
}

/// Removes `value_info` entries of values that no longer exist, so the
/// written model does not describe edges it lacks.
fn drop_stale_value_info(g: &mut Graph) {
    let defined: HashSet<String> = g.defined_values().into_iter().map(str::to_string).collect();
    g.value_info.retain(|v| defined.contains(&v.name));
}

/// Makes every reader of `y` read `x`, so the node defining `y` can be
/// removed. When `y` is a graph output, `x` is renamed to `y` instead (the
/// model's interface keeps its names); that is only possible when `x` is an
/// output of a node of `g` and not itself an input or output of the graph.
/// Returns whether it was done; the caller then removes the node defining `y`.
pub(crate) fn bypass(g: &mut Graph, y: &str, x: &str) -> bool {
    if y == x {
        return false;
    }
    if !g.outputs.iter().any(|o| o.name == y) {
        g.replace_uses(y, x);
        return true;
    }
    let produced_here = g.nodes.iter().any(|n| n.present_outputs().any(|o| o == x));
    let interface = g.outputs.iter().chain(&g.inputs).any(|v| v.name == x);
    if !produced_here || interface {
        return false;
    }
    // The node defining y goes away; take its name for x. Its type entry is
    // the graph output's, so x's own value_info entry is dropped.
    for n in &mut g.nodes {
        for o in &mut n.outputs {
            if o == y {
                o.clear();
            }
        }
    }
    g.value_info.retain(|v| v.name != x);
    g.rename_value(x, y);
    true
}

/// Removes the nodes flagged in `dead`.
pub(crate) fn remove_flagged(g: &mut Graph, dead: &[bool]) {
    let mut it = dead.iter();
    g.nodes.retain(|_| !it.next().copied().unwrap_or(false));
}

/// The `simplify` pass.
#[derive(Debug, Clone, Default)]
pub struct Simplify {
    /// What to apply.
    pub options: Options,
}

impl Pass for Simplify {
    fn name(&self) -> &str {
        "simplify"
    }

    fn run(&self, model: &mut Model) -> Result<PassReport> {
        let c = simplify(model, &self.options)?;
        let mut report = PassReport::new("simplify", c.lines());
        report.figures = c.figures();
        Ok(report)
    }
}

/// Registers the `simplify` pass.
pub fn register(registry: &mut Registry) {
    registry.add_pass(PassInfo {
        name: "simplify",
        description: "fold constants and BatchNormalization, drop Identity/Dropout/dead nodes, CSE, merge reshapes, sink transposes",
        factory: |arg| Ok(Box::new(Simplify { options: Options::parse(arg)? })),
    });
}
