//! SVG output of a [`Scene`]: absolute coordinates everywhere (no
//! transforms), edges under boxes, subgraphs as nested groups inside
//! their node's group.

use std::fmt::Write as _;

use super::scene::{CLUSTER_TITLE, Kind, LABEL_DX, PAD_X, PAD_Y, Scene};
use super::text::{self, Font};

/// Rows the labels of a box's output ports are spread over.
const LABEL_ROWS: usize = 3;
/// Stroke of edges and arrowheads.
const EDGE_COLOR: &str = "#5c5c5c";

/// The opening of an SVG document of `w` × `h` with a white background.
pub(crate) fn open(out: &mut String, w: f64, h: f64) {
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="{}">"#,
        text::FAMILY
    );
    let _ = writeln!(out, r##"<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="#ffffff"/>"##);
}

/// One `<text>` element in the font's colour.
pub(crate) fn text_el(out: &mut String, x: f64, y: f64, s: &str, font: Font, anchor: &str, class: &str) {
    text_fill(out, (x, y), s, font, anchor, class, font.color());
}

/// One `<text>` element in colour `fill`.
pub(crate) fn text_fill(
    out: &mut String,
    (x, y): (f64, f64),
    s: &str,
    font: Font,
    anchor: &str,
    class: &str,
    fill: &str,
) {
    let weight = if font.bold() { r#" font-weight="bold""# } else { "" };
    let _ = writeln!(
        out,
        r#"<text class="{class}" x="{x:.1}" y="{y:.1}" font-size="{}" fill="{}" text-anchor="{anchor}"{weight}>{}</text>"#,
        font.size(),
        fill,
        text::xml(s)
    );
}

/// The whole drawing of `scene`.
pub(crate) fn write(scene: &Scene) -> String {
    let Some(main) = scene.graphs.first() else { return String::new() };
    let (w, h) = (main.placed.width.ceil().max(1.0), main.placed.height.ceil().max(1.0));
    let mut out = String::with_capacity(256 * main.vertices.len() + 1024);
    open(&mut out, w, h);
    let _ = writeln!(
        out,
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOR}"/></marker></defs>"#
    );
    graph(&mut out, scene, 0, 0.0, 0.0);
    out.push_str("</svg>\n");
    out
}

/// Graph `gi` with its corner at (`ox`, `oy`).
fn graph(out: &mut String, scene: &Scene, gi: usize, ox: f64, oy: f64) {
    let Some(g) = scene.graphs.get(gi) else { return };
    let p = &g.placed;
    let _ = writeln!(out, r#"<g class="graph" id="g{gi}">"#);
    for (e, route) in g.edges.iter().zip(&p.routes) {
        let (Some(src), Some(dst)) = (g.vertices.get(e.src), g.vertices.get(e.dst)) else { continue };
        let mut d = String::new();
        for (i, &(x, y)) in route.iter().enumerate() {
            let (x, y) = (x + ox, y + oy);
            if i == 0 {
                let _ = write!(d, "M{x:.1},{y:.1}");
            } else if i % 2 == 1 {
                let _ = write!(d, " L{x:.1},{y:.1}");
            } else {
                let (px, py) = (route[i - 1].0 + ox, route[i - 1].1 + oy);
                let mid = (y - py) / 2.0;
                let _ = write!(d, " C{px:.1},{:.1} {x:.1},{:.1} {x:.1},{y:.1}", py + mid, y - mid);
            }
        }
        let _ = writeln!(
            out,
            r#"<path class="edge" data-src="{}" data-dst="{}" d="{d}" fill="none" stroke="{EDGE_COLOR}" stroke-width="1.2" marker-end="url(#arrow)"/>"#,
            src.id, dst.id
        );
    }
    // Edge labels once per output port, under the port.
    for (k, v) in g.vertices.iter().enumerate() {
        let (x, y) = (p.x[k] + ox + v.w / 2.0, p.y[k] + oy + v.h);
        for (j, (off, label)) in v.ports.iter().enumerate() {
            if let Some(l) = label {
                // Neighbouring ports' labels on staggered rows, so they do not
                // overprint; a white halo keeps them legible over crossing edges.
                let row = (j % LABEL_ROWS) as f64 * (Font::Edge.size() + 1.0);
                let _ = writeln!(
                    out,
                    r##"<text class="edge-label" x="{:.1}" y="{:.1}" font-size="{}" fill="{}" stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke">{}</text>"##,
                    x + off + LABEL_DX,
                    y + 11.0 + row,
                    Font::Edge.size(),
                    Font::Edge.color(),
                    text::xml(l)
                );
            }
        }
    }
    for (k, v) in g.vertices.iter().enumerate() {
        let (x, y) = (p.x[k] + ox, p.y[k] + oy);
        let kind = match v.kind {
            Kind::Input => "input",
            Kind::Capture => "capture",
            Kind::Op => "op",
            Kind::Output => "output",
        };
        let _ = writeln!(out, r#"<g class="node {kind}" id="{}" data-graph="g{gi}">"#, v.id);
        let _ = writeln!(out, "<title>{}</title>", text::xml(&v.name));
        let rx = if v.kind == Kind::Op { 3.0 } else { v.h / 2.0 };
        let dash = if v.kind == Kind::Capture { r#" stroke-dasharray="4 3""# } else { "" };
        let _ = writeln!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" rx="{rx:.1}" fill="{}" stroke="#444444" stroke-width="1"{dash}/>"##,
            v.w, v.h, v.fill
        );
        let mut line_top = y + PAD_Y;
        for (i, l) in v.lines.iter().enumerate() {
            let lh = l.font.line_height();
            let class = if i == 0 { "label" } else { "detail" };
            let (tx, anchor) =
                if i == 0 || v.kind != Kind::Op { (x + v.w / 2.0, "middle") } else { (x + PAD_X, "start") };
            text_el(out, tx, line_top + lh - 4.0, &l.text, l.font, anchor, class);
            line_top += lh;
        }
        for &(ci, dx, dy) in &v.clusters {
            let Some(c) = scene.graphs.get(ci) else { continue };
            let (cx, cy) = (x + dx, y + dy);
            let _ = writeln!(out, r#"<g class="cluster" id="cluster{ci}" data-owner="{}">"#, v.id);
            let _ = writeln!(
                out,
                r##"<rect class="frame" x="{cx:.1}" y="{cy:.1}" width="{:.1}" height="{:.1}" rx="4" fill="#fffdf5" stroke="#b08a2e" stroke-width="1" stroke-dasharray="5 3"/>"##,
                c.frame_w(),
                c.frame_h()
            );
            text_el(out, cx + PAD_X, cy + 13.0, &c.title, Font::Cluster, "start", "cluster-title");
            graph(out, scene, ci, cx, cy + CLUSTER_TITLE);
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");
}
