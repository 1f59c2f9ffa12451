//! The model as a picture: the graph drawn top to bottom as SVG (laid out
//! here, no Graphviz needed) or written as Graphviz DOT, and the
//! verification errors as a bar chart.
//!
//! Graph inputs are at the top, outputs at the bottom, one box per node
//! with its op name (domain-qualified outside `ai.onnx`), its non-default
//! attributes, and the constants it reads folded in as lines (`W
//! ⟨64×3×7×7⟩`; small vectors and scalars by value; a constant several
//! nodes read shows its name on each). Edges carry the value's shape and
//! dtype from [`ir::infer`] (or the declared types when inference fails).
//! `If`/`Loop`/`Scan` bodies are drawn as framed clusters inside their
//! node's box. The layout is a layered (Sugiyama) one, see `layout.rs`.
//!
//! Output is deterministic: the same model gives the same bytes.
//!
//! ```
//! use ir::build::GraphBuilder;
//! let mut b = GraphBuilder::new("tiny");
//! b.graph.inputs.push(ir::ValueInfo::tensor("x", ir::DType::F32, ir::Shape::fixed(&[1, 4])));
//! let y = b.op("Relu", "relu", &["x"], vec![], None);
//! b.graph.outputs.push(ir::ValueInfo::untyped(y));
//! let model = ir::Model::new(b.finish());
//! let svg = convert::draw::graph_svg(&model, &convert::draw::DrawOptions::default());
//! assert!(svg.contains(">Relu</text>") && svg.contains("1×4 f32"));
//! ```

mod bars;
mod dot;
mod label;
mod layout;
mod scene;
mod svg;
mod text;

/// What a graph drawing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawOptions {
    /// Label edges with the value's shape and dtype (runs shape inference).
    pub edge_labels: bool,
    /// Show non-default attributes in each box.
    pub attributes: bool,
    /// Fold the constants a node reads into its box as lines.
    pub initializers: bool,
    /// Draw subgraphs (`If`/`Loop`/`Scan` bodies) inside their node.
    pub subgraphs: bool,
    /// Longest line in a box, in characters (longer ones end in `…`).
    pub max_line_chars: usize,
}

impl Default for DrawOptions {
    fn default() -> Self {
        DrawOptions { edge_labels: true, attributes: true, initializers: true, subgraphs: true, max_line_chars: 40 }
    }
}

/// The graph of `model` as an SVG document.
pub fn graph_svg(model: &ir::Model, opts: &DrawOptions) -> String {
    svg::write(&scene::build(model, opts))
}

/// The graph of `model` as a Graphviz DOT document (same boxes, labels and
/// clusters as [`graph_svg`]; Graphviz does the layout).
pub fn graph_dot(model: &ir::Model, opts: &DrawOptions) -> String {
    dot::write(&scene::build(model, opts))
}

/// A bar chart of a verification: per output one bar for `max_abs` and one
/// for `rel_l2` on a shared log axis, the tolerance (on `rel_l2`) as a
/// dashed vertical line, bars green when the output passed and red when it
/// failed, names and values as text; outputs that could not be compared
/// show their error message instead of bars.
pub fn verify_svg(checks: &[crate::verify::OutputCheck], tolerance: f64) -> String {
    bars::chart(checks, tolerance)
}
