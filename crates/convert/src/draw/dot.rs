//! Graphviz DOT output of a [`Scene`]: one statement per line, subgraphs
//! as `cluster_` subgraphs tied to their node by a dashed edge.

use std::fmt::Write as _;

use super::scene::{Kind, Scene};
use super::text;

/// The DOT document of `scene`.
pub(crate) fn write(scene: &Scene) -> String {
    let mut out = String::new();
    let title = scene.graphs.first().map_or("graph", |g| g.title.as_str());
    let _ = writeln!(out, "digraph \"{}\" {{", text::dot(title));
    let _ = writeln!(out, "  graph [rankdir=TB, compound=true, fontname=\"{}\"];", text::FAMILY);
    let _ = writeln!(out, "  node [shape=box, style=\"rounded,filled\", fontname=\"{}\", fontsize=10];", text::FAMILY);
    let _ = writeln!(out, "  edge [fontname=\"{}\", fontsize=9, color=\"#5c5c5c\"];", text::FAMILY);
    let mut ties = Vec::new();
    graph(&mut out, scene, 0, 1, &mut ties);
    for t in ties {
        out.push_str(&t);
    }
    out.push_str("}\n");
    out
}

fn graph(out: &mut String, scene: &Scene, gi: usize, depth: usize, ties: &mut Vec<String>) {
    let Some(g) = scene.graphs.get(gi) else { return };
    let pad = "  ".repeat(depth);
    for v in &g.vertices {
        let label: Vec<String> = v.lines.iter().map(|l| text::dot(&l.text)).collect();
        let shape = match v.kind {
            Kind::Op => "box",
            Kind::Input | Kind::Output | Kind::Capture => "ellipse",
        };
        let _ = writeln!(
            out,
            "{pad}\"{}\" [label=\"{}\", shape={shape}, fillcolor=\"{}\", tooltip=\"{}\"];",
            v.id,
            label.join("\\n"),
            v.fill,
            text::dot(&v.name)
        );
        for &(ci, _, _) in &v.clusters {
            let Some(c) = scene.graphs.get(ci) else { continue };
            let _ = writeln!(out, "{pad}subgraph \"cluster_g{ci}\" {{");
            let _ = writeln!(out, "{pad}  label=\"{}\";", text::dot(&c.title));
            let _ = writeln!(out, "{pad}  style=dashed;");
            graph(out, scene, ci, depth + 1, ties);
            let _ = writeln!(out, "{pad}}}");
            // Edges may not point at a cluster, only at a node inside it, clipped at the frame.
            if let Some(first) = c.vertices.first() {
                ties.push(format!(
                    "  \"{}\" -> \"{}\" [lhead=\"cluster_g{ci}\", style=dashed, arrowhead=none];\n",
                    v.id, first.id
                ));
            }
        }
    }
    for e in &g.edges {
        let (Some(src), Some(dst)) = (g.vertices.get(e.src), g.vertices.get(e.dst)) else { continue };
        let label = src.ports.get(e.port).and_then(|p| p.1.as_deref());
        match label {
            Some(l) => {
                let _ = writeln!(out, "{pad}\"{}\" -> \"{}\" [label=\"{}\"];", src.id, dst.id, text::dot(l));
            }
            None => {
                let _ = writeln!(out, "{pad}\"{}\" -> \"{}\";", src.id, dst.id);
            }
        }
    }
}
