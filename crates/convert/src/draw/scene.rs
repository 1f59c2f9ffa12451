//! From an IR graph to what is drawn: boxes with their text lines, edges
//! with labels, subgraphs as nested scenes, all placed by [`super::layout`].
//! The SVG and DOT writers only read a [`Scene`].

use std::collections::{HashMap, HashSet};

use ir::schema::Class;
use ir::{Graph, Model, Node, Tensor, ValueType};

use super::DrawOptions;
use super::label;
use super::layout::{self, EdgeSpec, Placed, Rank, VertexSpec};
use super::text::{self, Font};

/// Inner padding of a box.
pub(crate) const PAD_X: f64 = 8.0;
/// Inner padding above and below a box's lines.
pub(crate) const PAD_Y: f64 = 5.0;
/// Height of a cluster's title strip.
pub(crate) const CLUSTER_TITLE: f64 = 18.0;
/// Space between the clusters inside a box, and around them.
const CLUSTER_GAP: f64 = 8.0;
/// Offset of an edge label from its edge.
pub(crate) const LABEL_DX: f64 = 4.0;

/// What a box stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A graph input.
    Input,
    /// A value a subgraph reads from an enclosing graph.
    Capture,
    /// A node.
    Op,
    /// A graph output.
    Output,
}

/// One line of text in a box.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The text (not escaped).
    pub text: String,
    /// Its font.
    pub font: Font,
}

/// A box.
#[derive(Debug, Clone)]
pub(crate) struct Vertex {
    /// Its kind.
    pub kind: Kind,
    /// Unique, deterministic id (`g0n3`).
    pub id: String,
    /// Tooltip: the node or value name.
    pub name: String,
    /// Text lines, the first one the title.
    pub lines: Vec<Line>,
    /// Fill colour.
    pub fill: &'static str,
    /// Size.
    pub w: f64,
    /// Size.
    pub h: f64,
    /// Subgraphs drawn inside the box: scene index and offset from the box's corner.
    pub clusters: Vec<(usize, f64, f64)>,
    /// Output ports: x offset from the centre and the label under it.
    pub ports: Vec<(f64, Option<String>)>,
}

/// An edge between two boxes of one scene.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// Source box.
    pub src: usize,
    /// Source port.
    pub port: usize,
    /// Target box.
    pub dst: usize,
    /// The value it carries.
    pub value: String,
}

/// One graph, laid out; its coordinates are relative to its own corner.
#[derive(Debug, Clone)]
pub(crate) struct GraphScene {
    /// Title (the attribute holding the subgraph, with its node).
    pub title: String,
    /// Boxes.
    pub vertices: Vec<Vertex>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Coordinates.
    pub placed: Placed,
}

/// Every graph of a model, the main one first, each subgraph after the graph holding it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scene {
    /// The graphs.
    pub graphs: Vec<GraphScene>,
}

impl GraphScene {
    /// Width of the cluster frame around this graph.
    pub(crate) fn frame_w(&self) -> f64 {
        self.placed.width.max(text::width(&self.title, Font::Cluster) + 2.0 * PAD_X)
    }

    /// Height of the cluster frame around this graph.
    pub(crate) fn frame_h(&self) -> f64 {
        self.placed.height + CLUSTER_TITLE
    }
}

/// Context shared by every graph of one model.
struct Builder<'a> {
    opts: &'a DrawOptions,
    opset: i64,
    /// How many node inputs read each value name, over all graphs.
    reads: HashMap<&'a str, usize>,
    scene: Scene,
}

/// Lays out `model`'s graph and subgraphs.
pub(crate) fn build(model: &Model, opts: &DrawOptions) -> Scene {
    let mut reads = HashMap::new();
    count_reads(&model.graph, &mut reads);
    let mut b = Builder { opts, opset: model.onnx_opset(), reads, scene: Scene::default() };
    let title = if model.graph.name.is_empty() { "graph".to_string() } else { model.graph.name.clone() };
    b.graph(&model.graph, title, &[]);
    b.scene
}

fn count_reads<'a>(g: &'a Graph, reads: &mut HashMap<&'a str, usize>) {
    for n in &g.nodes {
        for i in n.present_inputs() {
            *reads.entry(i).or_default() += 1;
        }
        for s in n.subgraphs() {
            count_reads(s, reads);
        }
    }
}

/// The fill of an op's box, by the op's class in the schema.
fn fill(node: &Node) -> &'static str {
    let Some(s) = ir::schema::of(node) else { return "#f2f2f2" };
    if s.is(Class::SUBGRAPH) {
        "#fff3c4"
    } else if s.weight.is_some() {
        "#cfe0f7"
    } else if s.is(Class::ACTIVATION) {
        "#f8d3cf"
    } else if s.is(Class::NORM) {
        "#d3eedc"
    } else if s.is(Class::POOL) {
        "#dcefc6"
    } else if s.is(Class::QUANT) {
        "#e6d8f2"
    } else {
        "#ffffff"
    }
}

/// Where a value comes from within one graph.
#[derive(Clone, Copy)]
struct Source {
    vertex: usize,
    port: usize,
}

impl<'a> Builder<'a> {
    /// Builds the scene of `g` (inside `outer`, innermost last) and returns its index.
    fn graph(&mut self, g: &'a Graph, title: String, outer: &[&'a Graph]) -> usize {
        let index = self.scene.graphs.len();
        self.scene.graphs.push(GraphScene {
            title,
            vertices: Vec::new(),
            edges: Vec::new(),
            placed: Placed::default(),
        });
        let declared: HashMap<&str, &ValueType> =
            g.inputs.iter().chain(&g.value_info).chain(&g.outputs).map(|v| (v.name.as_str(), &v.ty)).collect();
        // Inference may fail (a contradiction in the file): the drawing then
        // shows the declared types only.
        let inferred = if self.opts.edge_labels { ir::infer::infer(g, self.opset).ok() } else { None };
        let type_of = |v: &str| -> Option<String> {
            if !self.opts.edge_labels {
                return None;
            }
            let ty = inferred.as_ref().and_then(|t| t.ty(v)).or_else(|| declared.get(v).copied())?;
            label::type_text(ty)
        };
        let mut scopes: Vec<&Graph> = outer.to_vec();
        scopes.push(g);
        let constant = |v: &str| -> Option<&'a Tensor> {
            scopes
                .iter()
                .rev()
                .find_map(|s| s.initializers.get(v).or_else(|| s.sparse_initializers.get(v).map(|t| &t.values)))
        };

        let mut vertices: Vec<Vertex> = Vec::new();
        let mut sources: HashMap<&str, Source> = HashMap::new();
        let id = |k: usize| format!("g{index}n{k}");
        for v in g.inputs.iter().filter(|v| !g.initializers.contains_key(&v.name)) {
            sources.insert(&v.name, Source { vertex: vertices.len(), port: 0 });
            vertices.push(self.value_box(Kind::Input, id(vertices.len()), &v.name));
        }
        let first_node = vertices.len();
        for n in &g.nodes {
            let k = vertices.len();
            for (port, o) in n.present_outputs().enumerate() {
                sources.insert(o, Source { vertex: k, port });
            }
            let v = self.op_box(n, id(k), &constant, &scopes);
            vertices.push(v);
        }
        // Values read from enclosing graphs get a box at the top (only in subgraphs).
        let mut edges: Vec<Edge> = Vec::new();
        let mut seen: HashSet<(usize, usize, usize)> = HashSet::new();
        let mut link =
            |vertices: &mut Vec<Vertex>, sources: &mut HashMap<&'a str, Source>, value: &'a str, dst: usize| {
                if constant(value).is_some() && !sources.contains_key(value) {
                    return;
                }
                let src = *sources.entry(value).or_insert_with(|| {
                    let k = vertices.len();
                    vertices.push(self.value_box(Kind::Capture, id(k), value));
                    Source { vertex: k, port: 0 }
                });
                if src.vertex != dst && seen.insert((src.vertex, src.port, dst)) {
                    edges.push(Edge { src: src.vertex, port: src.port, dst, value: value.to_string() });
                }
            };
        for (i, n) in g.nodes.iter().enumerate() {
            for v in n.present_inputs() {
                link(&mut vertices, &mut sources, v, first_node + i);
            }
            // What the node's bodies read from this graph orders it too.
            for s in n.subgraphs() {
                for c in s.captures() {
                    if let Some((key, _)) = sources.get_key_value(c.as_str()) {
                        let key: &'a str = key;
                        link(&mut vertices, &mut sources, key, first_node + i);
                    }
                }
            }
        }
        for o in &g.outputs {
            let k = vertices.len();
            vertices.push(self.value_box(Kind::Output, id(k), &o.name));
            link(&mut vertices, &mut sources, &o.name, k);
        }

        // Output ports: one per produced value that something reads.
        let mut used_ports: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
        for e in &edges {
            used_ports[e.src].push(e.port);
        }
        let mut port_of: HashMap<(usize, usize), usize> = HashMap::new();
        for (k, ports) in used_ports.iter_mut().enumerate() {
            ports.sort_unstable();
            ports.dedup();
            let count = ports.len();
            let w = vertices[k].w;
            for (j, &p) in ports.iter().enumerate() {
                let offset = if count <= 1 { 0.0 } else { w * (j as f64 + 1.0) / (count as f64 + 1.0) - w / 2.0 };
                port_of.insert((k, p), j);
                vertices[k].ports.push((offset, None));
            }
        }
        for e in &mut edges {
            let j = port_of.get(&(e.src, e.port)).copied().unwrap_or(0);
            e.port = j;
            if let Some(slot) = vertices[e.src].ports.get_mut(j)
                && slot.1.is_none()
            {
                slot.1 = type_of(&e.value);
            }
        }

        let specs: Vec<VertexSpec> = vertices
            .iter()
            .map(|v| {
                let labels = v
                    .ports
                    .iter()
                    .filter_map(|(off, l)| l.as_ref().map(|l| off + LABEL_DX + text::width(l, Font::Edge)));
                let right = labels.fold(v.w / 2.0, f64::max);
                let rank = match v.kind {
                    Kind::Input | Kind::Capture => Rank::Top,
                    Kind::Op => Rank::Free,
                    Kind::Output => Rank::Bottom,
                };
                VertexSpec { w: v.w, h: v.h, right, rank }
            })
            .collect();
        let specs_edges: Vec<EdgeSpec> = edges
            .iter()
            .map(|e| EdgeSpec { src: e.src, port: vertices[e.src].ports.get(e.port).map_or(0.0, |p| p.0), dst: e.dst })
            .collect();
        let placed = layout::layout(&specs, &specs_edges);
        let scene = &mut self.scene.graphs[index];
        scene.vertices = vertices;
        scene.edges = edges;
        scene.placed = placed;
        index
    }

    /// The box of a graph input, output or captured value.
    fn value_box(&self, kind: Kind, id: String, name: &str) -> Vertex {
        let shown = match kind {
            Kind::Capture => format!("↑ {name}"),
            _ => name.to_string(),
        };
        let lines = vec![Line { text: label::truncate(&shown, self.opts.max_line_chars), font: Font::Title }];
        let fill = if kind == Kind::Capture { "#f7f7f7" } else { "#e8e8e8" };
        sized(Vertex {
            kind,
            id,
            name: name.to_string(),
            lines,
            fill,
            w: 0.0,
            h: 0.0,
            clusters: Vec::new(),
            ports: Vec::new(),
        })
    }

    /// The box of a node: title, attributes, folded constants, and its
    /// subgraphs laid out inside.
    fn op_box(
        &mut self,
        n: &'a Node,
        id: String,
        constant: &dyn Fn(&str) -> Option<&'a Tensor>,
        scopes: &[&'a Graph],
    ) -> Vertex {
        let max = self.opts.max_line_chars;
        let mut lines = vec![Line { text: label::truncate(&label::op_title(n), max), font: Font::Title }];
        let weight_dims = n.input(1).and_then(constant).map(Tensor::shape);
        if self.opts.attributes {
            for l in label::attr_lines(n, self.opset, weight_dims, max) {
                lines.push(Line { text: l, font: Font::Detail });
            }
        }
        if self.opts.initializers {
            let consts: Vec<String> = n
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(slot, v)| {
                    let v = v.as_deref().filter(|v| !v.is_empty())?;
                    let t = constant(v)?;
                    let shared = self.reads.get(v).is_some_and(|&c| c > 1);
                    Some(label::truncate(&label::const_line(n, slot, v, t, shared, self.opset), max))
                })
                .collect();
            for l in label::cap_const_lines(consts) {
                lines.push(Line { text: l, font: Font::Const });
            }
        }
        let mut clusters = Vec::new();
        if self.opts.subgraphs {
            for (attr, a) in &n.attrs {
                let graphs: Vec<&'a Graph> = match a {
                    ir::Attribute::Graph(g) => vec![g.as_ref()],
                    ir::Attribute::Graphs(gs) => gs.iter().collect(),
                    _ => continue,
                };
                let many = graphs.len() > 1;
                for (k, g) in graphs.into_iter().enumerate() {
                    let title = if many { format!("{attr}[{k}]") } else { attr.clone() };
                    let idx = self.graph(g, title, scopes);
                    clusters.push((idx, 0.0, 0.0));
                }
            }
        }
        let mut v = sized(Vertex {
            kind: Kind::Op,
            id,
            name: n.name.clone(),
            lines,
            fill: fill(n),
            w: 0.0,
            h: 0.0,
            clusters,
            ports: Vec::new(),
        });
        if !v.clusters.is_empty() {
            // Clusters side by side under the text, tops aligned.
            let mut x = CLUSTER_GAP;
            let y = v.h;
            let mut bottom: f64 = 0.0;
            for c in &mut v.clusters {
                let g = &self.scene.graphs[c.0];
                c.1 = x;
                c.2 = y;
                x += g.frame_w() + CLUSTER_GAP;
                bottom = bottom.max(y + g.frame_h());
            }
            v.w = v.w.max(x);
            v.h = bottom + CLUSTER_GAP;
        }
        v
    }
}

/// Sets a box's size from its lines.
fn sized(mut v: Vertex) -> Vertex {
    v.w = v.lines.iter().map(|l| text::width(&l.text, l.font)).fold(0.0, f64::max) + 2.0 * PAD_X;
    v.w = v.w.max(40.0);
    v.h = v.lines.iter().map(|l| l.font.line_height()).sum::<f64>() + 2.0 * PAD_Y;
    v
}
