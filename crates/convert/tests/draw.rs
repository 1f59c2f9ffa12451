//! `convert::draw`: the SVG is well-formed XML, shows every node's op,
//! keeps boxes apart and edges on their boxes and off the others, is
//! deterministic and fast on a ResNet-50-shaped graph; the DOT has one
//! statement per node and edge; the verify chart colours bars by outcome.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use convert::draw::{DrawOptions, graph_dot, graph_svg, verify_svg};
use convert::verify::OutputCheck;
use ir::build::GraphBuilder;
use ir::{Attribute, Buffer, DType, Model, Shape, Tensor, ValueInfo};

// ---------------------------------------------------------------- a tiny XML reader

/// An element of a parsed document.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn num(&self, name: &str) -> f64 {
        self.attr(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("<{}> has no number {name}", self.name))
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Element)) {
        f(self);
        for c in &self.children {
            c.walk(f);
        }
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class").is_some_and(|c| c.split(' ').any(|x| x == class))
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').unwrap_or_else(|| panic!("unterminated entity in {s:?}")) + i;
        let ent = &rest[i + 1..end];
        out.push(match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap(),
            e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
            e => panic!("unknown entity &{e};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    assert!(!s.contains('<'), "raw < in text: {s:?}");
    out
}

/// Parses a document, panicking on anything not well-formed (unbalanced or
/// mismatched tags, unquoted or duplicate attributes, stray `<` or `&`,
/// forbidden control characters, text outside the root).
fn parse_xml(doc: &str) -> Element {
    assert!(
        !doc.chars().any(|c| (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t')),
        "control character in the document"
    );
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = doc.trim_start();
    if rest.starts_with("<?xml") {
        rest = &rest[rest.find("?>").expect("unterminated declaration") + 2..];
    }
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            assert!(stack.len() > 1, "text outside the root: {text:?}");
            let t = unescape(text);
            stack.last_mut().unwrap().text.push_str(&t);
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").expect("unterminated comment") + 3..];
            continue;
        }
        let gt = rest.find('>').expect("unterminated tag");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let el = stack.pop().unwrap();
            assert_eq!(el.name, name.trim(), "mismatched end tag");
            stack.last_mut().expect("end tag without a start").children.push(el);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let mut el = Element { name: tag[..name_end].to_string(), ..Element::default() };
        assert!(!el.name.is_empty() && el.name.chars().all(|c| c.is_alphanumeric() || c == ':' || c == '-'));
        let mut a = tag[name_end..].trim();
        while !a.is_empty() {
            let eq = a.find('=').unwrap_or_else(|| panic!("attribute without value in <{tag}>"));
            let key = a[..eq].trim().to_string();
            let v = &a[eq + 1..];
            assert!(v.starts_with('"'), "unquoted attribute {key} in <{tag}>");
            let close = v[1..].find('"').expect("unterminated attribute") + 1;
            assert!(el.attr(&key).is_none(), "duplicate attribute {key}");
            el.attrs.push((key, unescape(&v[1..close])));
            a = v[close + 1..].trim_start();
        }
        if self_closing {
            stack.last_mut().unwrap().children.push(el);
        } else {
            stack.push(el);
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

// ---------------------------------------------------------------- geometry checks

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn of(e: &Element) -> Rect {
        Rect { x: e.num("x"), y: e.num("y"), w: e.num("width"), h: e.num("height") }
    }

    fn strictly_inside(&self, (x, y): (f64, f64)) -> bool {
        x > self.x + 1.0 && x < self.x + self.w - 1.0 && y > self.y + 1.0 && y < self.y + self.h - 1.0
    }
}

/// Parses an edge's `d` (M, L and C commands) into sample points.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    let mut cur = (0.0, 0.0);
    let mut chars = d.char_indices().filter(|(_, c)| c.is_ascii_alphabetic()).peekable();
    while let Some((i, c)) = chars.next() {
        let end = chars.peek().map_or(d.len(), |(j, _)| *j);
        let nums: Vec<f64> =
            d[i + 1..end].split([',', ' ']).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        match c {
            'M' | 'L' => {
                let p = (nums[0], nums[1]);
                if c == 'L' {
                    for k in 1..10 {
                        let t = f64::from(k) / 10.0;
                        pts.push((cur.0 + (p.0 - cur.0) * t, cur.1 + (p.1 - cur.1) * t));
                    }
                }
                pts.push(p);
                cur = p;
            }
            'C' => {
                let (c1, c2, p) = ((nums[0], nums[1]), (nums[2], nums[3]), (nums[4], nums[5]));
                for k in 1..=20 {
                    let t = f64::from(k) / 20.0;
                    let u = 1.0 - t;
                    let x = u * u * u * cur.0 + 3.0 * u * u * t * c1.0 + 3.0 * u * t * t * c2.0 + t * t * t * p.0;
                    let y = u * u * u * cur.1 + 3.0 * u * u * t * c1.1 + 3.0 * u * t * t * c2.1 + t * t * t * p.1;
                    pts.push((x, y));
                }
                cur = p;
            }
            other => panic!("unexpected path command {other} in {d}"),
        }
    }
    pts
}

/// What the geometry checks found, for the report.
#[derive(Debug)]
struct Checked {
    nodes: usize,
    edges: usize,
    titles: Vec<String>,
    texts: Vec<String>,
    width: f64,
    height: f64,
}

/// Parses `svg` and checks its geometry: boxes of one graph do not overlap,
/// every edge starts on its source's bottom and ends on its target's top,
/// no edge passes through a box of its graph, clusters sit inside their node.
fn check_svg(svg: &str) -> Checked {
    let root = parse_xml(svg);
    assert_eq!(root.name, "svg");
    let (width, height) = (root.num("width"), root.num("height"));
    let vb: Vec<f64> = root.attr("viewBox").expect("viewBox").split(' ').map(|s| s.parse().unwrap()).collect();
    assert_eq!(vb, vec![0.0, 0.0, width, height]);
    let background = root.children.iter().find(|c| c.name == "rect").expect("a background rect");
    assert_eq!(background.attr("fill"), Some("#ffffff"));

    let mut boxes: HashMap<String, (String, Rect)> = HashMap::new();
    let mut by_graph: HashMap<String, Vec<(String, Rect)>> = HashMap::new();
    let mut titles = Vec::new();
    let mut texts = Vec::new();
    let mut edges = Vec::new();
    let mut clusters = Vec::new();
    root.walk(&mut |e| {
        if e.name == "text" {
            texts.push(e.text.clone());
        }
        if e.name == "g" && e.has_class("node") {
            let id = e.attr("id").expect("node id").to_string();
            let graph = e.attr("data-graph").expect("node graph").to_string();
            let rect = Rect::of(e.children.iter().find(|c| c.name == "rect").expect("node rect"));
            if let Some(t) = e.children.iter().find(|c| c.name == "text" && c.has_class("label")) {
                if e.has_class("op") {
                    titles.push(t.text.clone());
                }
            } else {
                panic!("node {id} has no label text");
            }
            assert!(boxes.insert(id.clone(), (graph.clone(), rect)).is_none(), "duplicate id {id}");
            by_graph.entry(graph).or_default().push((id, rect));
        }
        if e.name == "path" && e.has_class("edge") {
            edges.push((
                e.attr("data-src").unwrap().to_string(),
                e.attr("data-dst").unwrap().to_string(),
                e.attr("d").unwrap().to_string(),
            ));
        }
        if e.name == "g" && e.has_class("cluster") {
            let frame = e.children.iter().find(|c| c.name == "rect").expect("cluster frame");
            clusters.push((e.attr("data-owner").unwrap().to_string(), Rect::of(frame)));
        }
    });
    for (graph, list) in &by_graph {
        for (i, (a, ra)) in list.iter().enumerate() {
            assert!(ra.x >= -0.1 && ra.y >= -0.1 && ra.x + ra.w <= width + 0.1 && ra.y + ra.h <= height + 0.1);
            for (b, rb) in &list[i + 1..] {
                let apart = ra.x + ra.w <= rb.x + 0.05
                    || rb.x + rb.w <= ra.x + 0.05
                    || ra.y + ra.h <= rb.y + 0.05
                    || rb.y + rb.h <= ra.y + 0.05;
                assert!(apart, "boxes {a} {ra:?} and {b} {rb:?} of {graph} overlap");
            }
        }
    }
    for (owner, frame) in &clusters {
        let (_, o) = boxes[owner];
        assert!(
            frame.x >= o.x
                && frame.y >= o.y
                && frame.x + frame.w <= o.x + o.w + 0.1
                && frame.y + frame.h <= o.y + o.h + 0.1,
            "cluster {frame:?} leaves its node {owner} {o:?}"
        );
    }
    for (src, dst, d) in &edges {
        let (graph, s) = &boxes[src];
        let (_, t) = &boxes[dst];
        let pts = path_points(d);
        let (first, last) = (pts[0], *pts.last().unwrap());
        assert!(
            (first.1 - (s.y + s.h)).abs() < 0.11 && first.0 >= s.x - 0.1 && first.0 <= s.x + s.w + 0.1,
            "edge {src}->{dst} starts at {first:?}, off {s:?}"
        );
        assert!(
            (last.1 - t.y).abs() < 0.11 && last.0 >= t.x - 0.1 && last.0 <= t.x + t.w + 0.1,
            "edge {src}->{dst} ends at {last:?}, off {t:?}"
        );
        for (id, r) in &by_graph[graph] {
            if id == src || id == dst {
                continue;
            }
            if let Some(p) = pts.iter().find(|&&p| r.strictly_inside(p)) {
                panic!("edge {src}->{dst} crosses box {id} {r:?} at {p:?}");
            }
        }
    }
    Checked { nodes: boxes.len(), edges: edges.len(), titles, texts, width, height }
}

// ---------------------------------------------------------------- models

/// ResNet-50 (torchvision's v1.5 topology, NCHW, 224×224): 53 convs with
/// BatchNorm, ReLUs, 16 residual Adds, max and global-average pools,
/// Flatten and Gemm. Weights are zeros with their real shapes, all views of
/// one buffer.
fn resnet50() -> Model {
    let zeros = Buffer::from_vec(vec![0u8; 4 * 512 * 512 * 9]);
    let mut b = GraphBuilder::new("resnet50");
    let t = |b: &mut GraphBuilder, base: &str, shape: &[usize]| -> String {
        let n: usize = shape.iter().product();
        let data = zeros.slice(0..4 * n).unwrap();
        b.constant(base, Tensor::from_raw(DType::F32, shape.to_vec(), data).unwrap())
    };
    b.graph.inputs.push(ValueInfo::tensor("input", DType::F32, Shape::fixed(&[1, 3, 224, 224])));
    b.set_known("input", ir::infer::Known::tensor(Some(DType::F32), Some(Shape::fixed(&[1, 3, 224, 224]))));
    let conv_bn = |b: &mut GraphBuilder, x: &str, cin: usize, cout: usize, k: usize, s: i64, relu: bool| -> String {
        let w = t(b, "conv.weight", &[cout, cin, k, k]);
        let p = (k / 2) as i64;
        let attrs = vec![
            ("dilations", Attribute::Ints(vec![1, 1])),
            ("group", Attribute::Int(1)),
            ("kernel_shape", Attribute::Ints(vec![k as i64, k as i64])),
            ("pads", Attribute::Ints(vec![p; 4])),
            ("strides", Attribute::Ints(vec![s, s])),
        ];
        let y = b.op("Conv", "conv", &[x, &w], attrs, None);
        let bn: Vec<String> =
            ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"].iter().map(|n| t(b, n, &[cout])).collect();
        let y = b.op(
            "BatchNormalization",
            "bn",
            &[&y, &bn[0], &bn[1], &bn[2], &bn[3]],
            vec![("epsilon", Attribute::Float(1e-5))],
            None,
        );
        if relu { b.op("Relu", "relu", &[&y], vec![], None) } else { y }
    };
    let mut x = conv_bn(&mut b, "input", 3, 64, 7, 2, true);
    x = b.op(
        "MaxPool",
        "maxpool",
        &[&x],
        vec![
            ("kernel_shape", Attribute::Ints(vec![3, 3])),
            ("pads", Attribute::Ints(vec![1; 4])),
            ("strides", Attribute::Ints(vec![2, 2])),
        ],
        None,
    );
    let mut cin = 64;
    for (stage, (&blocks, &width)) in [3usize, 4, 6, 3].iter().zip(&[64usize, 128, 256, 512]).enumerate() {
        for block in 0..blocks {
            let stride = if block == 0 && stage > 0 { 2 } else { 1 };
            let y = conv_bn(&mut b, &x, cin, width, 1, 1, true);
            let y = conv_bn(&mut b, &y, width, width, 3, stride, true);
            let y = conv_bn(&mut b, &y, width, width * 4, 1, 1, false);
            let skip = if block == 0 { conv_bn(&mut b, &x, cin, width * 4, 1, stride, false) } else { x.clone() };
            let sum = b.op("Add", "add", &[&y, &skip], vec![], None);
            x = b.op("Relu", "relu", &[&sum], vec![], None);
            cin = width * 4;
        }
    }
    x = b.op("GlobalAveragePool", "avgpool", &[&x], vec![], None);
    x = b.op("Flatten", "flatten", &[&x], vec![("axis", Attribute::Int(1))], None);
    let w = t(&mut b, "fc.weight", &[1000, 2048]);
    let bias = t(&mut b, "fc.bias", &[1000]);
    let y = b.op("Gemm", "fc", &[&x, &w, &bias], vec![("transB", Attribute::Int(1))], None);
    b.graph.outputs.push(ValueInfo::tensor(y, DType::F32, Shape::fixed(&[1, 1000])));
    Model::new(b.finish())
}

/// Every op title of `g` and its subgraphs, as the drawing writes them.
fn titles(g: &ir::Graph, out: &mut Vec<String>) {
    for n in &g.nodes {
        out.push(if n.domain.is_empty() { n.op.clone() } else { format!("{}::{}", n.domain, n.op) });
        for s in n.subgraphs() {
            titles(s, out);
        }
    }
}

fn fixture(case: &str) -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(case).join("model.onnx");
    convert::load(&convert::registry(), &path, None, &Default::default()).unwrap().0
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------- tests

#[test]
fn resnet50_is_drawn_completely_readably_deterministically_and_fast() {
    let model = resnet50();
    let ops = |op: &str| model.graph.nodes.iter().filter(|n| n.op == op).count();
    assert_eq!((ops("Conv"), ops("BatchNormalization"), ops("Add"), ops("Relu")), (53, 53, 16, 49));

    let opts = DrawOptions::default();
    let start = Instant::now();
    let svg = graph_svg(&model, &opts);
    let seconds = start.elapsed().as_secs_f64();
    eprintln!("ResNet-50 shape ({} nodes): SVG of {} bytes in {seconds:.3} s", model.graph.nodes.len(), svg.len());
    // Debug builds are several times slower than release; the release
    // figure (cargo xtask render --resnet50) is far below this bound too.
    assert!(seconds < 1.0, "drawing took {seconds:.3} s");

    let c = check_svg(&svg);
    let mut expected = Vec::new();
    titles(&model.graph, &mut expected);
    assert_eq!(sorted(c.titles.clone()), sorted(expected), "one labelled box per node");
    assert_eq!(c.nodes, model.graph.nodes.len() + 2, "the nodes, one input and one output");
    // Weights folded into their node, never boxes of their own.
    assert!(c.texts.iter().any(|t| t == "W ⟨64×3×7×7⟩"), "conv1's weight line");
    assert!(c.texts.iter().any(|t| t == "k=7×7 s=2×2 p=3"), "conv1's geometry");
    assert!(c.texts.iter().any(|t| t == "transB=1"));
    assert!(!c.texts.iter().any(|t| t.contains("g=1") || t.contains("d=1×1")), "default attributes hidden");
    // Edges labelled with inferred shapes.
    for label in ["1×3×224×224 f32", "1×64×112×112 f32", "1×256×56×56 f32", "1×2048×7×7 f32", "1×1000 f32"]
    {
        assert!(c.texts.iter().any(|t| t == label), "no edge label {label}");
    }
    // A chain with skip lanes: moderately wide, about one layer per op.
    assert!(c.width < 900.0, "width {}", c.width);
    assert!(c.height > 100.0 * 40.0, "height {}", c.height);

    assert_eq!(graph_svg(&model, &opts), svg, "deterministic");
    let dot = graph_dot(&model, &opts);
    check_dot(&dot, model.graph.nodes.len() + 2, c.edges);
}

/// Checks the DOT's shape: balanced braces, every other line one statement
/// ending in `;`, `nodes` node statements and `edges` edge statements.
fn check_dot(dot: &str, nodes: usize, edges: usize) {
    let lines: Vec<&str> = dot.lines().map(str::trim).collect();
    assert!(lines[0].starts_with("digraph \"") && lines[0].ends_with('{'));
    assert_eq!(*lines.last().unwrap(), "}");
    let mut depth = 0i32;
    let (mut n, mut e) = (0, 0);
    for l in &lines {
        if l.ends_with('{') {
            depth += 1;
        } else if *l == "}" {
            depth -= 1;
        } else {
            assert!(l.ends_with(';'), "not a statement: {l}");
            // Quotes balance (escaped ones aside).
            assert_eq!(l.replace("\\\"", "").matches('"').count() % 2, 0, "{l}");
            if l.contains(" -> ") {
                if !l.contains("lhead=") {
                    e += 1;
                }
            } else if l.starts_with('"') {
                n += 1;
            }
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0);
    assert_eq!((n, e), (nodes, edges));
}

#[test]
fn fixtures_draw_with_every_label_and_clean_geometry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|c| dir.join(c).join("model.onnx").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 14, "{cases:?}");
    for case in &cases {
        let model = fixture(case);
        let svg = graph_svg(&model, &DrawOptions::default());
        let c = check_svg(&svg);
        let mut expected = Vec::new();
        titles(&model.graph, &mut expected);
        assert_eq!(sorted(c.titles.clone()), sorted(expected), "{case}: one labelled box per node");
        assert_eq!(graph_svg(&model, &DrawOptions::default()), svg, "{case}: deterministic");
        let dot = graph_dot(&model, &DrawOptions::default());
        assert!(dot.contains("->"), "{case}");
        check_dot_statements(&dot);
    }
}

fn check_dot_statements(dot: &str) {
    let mut depth = 0i32;
    for l in dot.lines().map(str::trim) {
        if l.ends_with('{') {
            depth += 1;
        } else if l == "}" {
            depth -= 1;
        } else {
            assert!(l.ends_with(';'), "not a statement: {l}");
        }
    }
    assert_eq!(depth, 0);
}

#[test]
fn subgraphs_are_clusters_inside_their_node() {
    let model = fixture("ops_subgraph");
    fn bodies(g: &ir::Graph) -> usize {
        g.nodes.iter().flat_map(|n| n.subgraphs()).map(|s| 1 + bodies(s)).sum()
    }
    let expected = bodies(&model.graph);
    assert!(
        expected > model.graph.nodes.iter().filter(|n| n.subgraphs().next().is_some()).count(),
        "nested bodies too"
    );
    let svg = graph_svg(&model, &DrawOptions::default());
    let root = parse_xml(&svg);
    let mut clusters = 0;
    root.walk(&mut |e| {
        if e.name == "g" && e.has_class("cluster") {
            clusters += 1;
            let title = e.children.iter().find(|c| c.name == "text").expect("cluster title");
            assert!(["then_branch", "else_branch", "body"].contains(&title.text.as_str()), "{}", title.text);
            assert!(e.children.iter().any(|c| c.name == "g" && c.has_class("graph")), "cluster holds its graph");
        }
    });
    assert_eq!(clusters, expected);
    let dot = graph_dot(&model, &DrawOptions::default());
    assert_eq!(dot.matches("subgraph \"cluster_").count(), expected);
}

#[test]
fn options_turn_parts_of_the_drawing_off() {
    let model = fixture("ops_subgraph");
    let bare = DrawOptions {
        edge_labels: false,
        attributes: false,
        initializers: false,
        subgraphs: false,
        ..DrawOptions::default()
    };
    let svg = graph_svg(&model, &bare);
    let c = check_svg(&svg);
    assert_eq!(c.titles.len(), model.graph.nodes.len(), "main graph only");
    assert!(
        !svg.contains("class=\"edge-label\"")
            && !svg.contains("class=\"cluster\"")
            && !svg.contains("class=\"detail\"")
    );
    let full = check_svg(&graph_svg(&model, &DrawOptions::default()));
    assert!(full.titles.len() > c.titles.len());
}

#[test]
fn shared_constants_show_their_name_on_each_reader() {
    let model = fixture("gpt2_tiny_tied");
    // A tensor read by two or more nodes.
    let mut reads: HashMap<&str, usize> = HashMap::new();
    for n in &model.graph.nodes {
        for i in n.present_inputs() {
            *reads.entry(i).or_default() += 1;
        }
    }
    let (shared, count) = model
        .graph
        .initializers
        .iter()
        .filter(|(_, t)| t.numel() > 8)
        .filter_map(|(k, _)| reads.get(k.as_str()).map(|&c| (k.clone(), c)))
        .find(|&(_, c)| c > 1)
        .expect("the tied embedding is read twice");
    let svg = graph_svg(&model, &DrawOptions::default());
    let c = check_svg(&svg);
    let shown = c.texts.iter().filter(|t| t.ends_with(&format!(" {shared}"))).count();
    assert_eq!(shown, count, "{shared}: {:?}", c.texts.iter().filter(|t| t.contains('⟨')).collect::<Vec<_>>());
}

#[test]
fn hostile_names_are_escaped_and_failed_inference_only_drops_labels() {
    let mut b = GraphBuilder::new("g<&>\"'\u{1}");
    b.graph.inputs.push(ValueInfo::tensor("a<b>", DType::F32, Shape::fixed(&[2, 3])));
    b.graph.inputs.push(ValueInfo::tensor("c&d", DType::F32, Shape::fixed(&[4, 5])));
    // [2,3] + [4,5] does not broadcast: inference fails on this node.
    let bad = ir::Node::new("Add", ["a<b>", "c&d"], ["s\"um"]).named("add'<1>");
    b.graph.nodes.push(bad);
    let odd =
        ir::Node::new("Wéird<Op>", ["s\"um"], ["out]]>"]).in_domain("my&domain").with_attr("note", "x<y>&\"z\"\u{7}");
    b.graph.nodes.push(odd);
    b.graph.outputs.push(ValueInfo::untyped("out]]>"));
    let model = Model::new(b.finish());
    let svg = graph_svg(&model, &DrawOptions::default());
    let c = check_svg(&svg);
    assert!(c.titles.contains(&"my&domain::Wéird<Op>".to_string()), "{:?}", c.titles);
    assert!(c.texts.iter().any(|t| t == "a<b>"));
    // No inferred labels, but the declared input types still label their edges.
    assert!(c.texts.iter().any(|t| t == "2×3 f32"));
    let dot = graph_dot(&model, &DrawOptions::default());
    check_dot_statements(&dot);
    assert!(dot.contains("my&domain::Wéird<Op>"));
}

#[test]
fn an_empty_graph_is_still_a_drawing() {
    let model = Model::new(ir::Graph::default());
    let c = check_svg(&graph_svg(&model, &DrawOptions::default()));
    assert_eq!(c.nodes, 0);
    check_dot_statements(&graph_dot(&model, &DrawOptions::default()));
}

fn metrics(max_abs: f64, rel_l2: f64) -> eval::compare::Metrics {
    eval::compare::Metrics { elements: 10, max_abs, rel_l2, cosine: 1.0, sqnr_db: 90.0, top1: None, nan_mismatches: 0 }
}

#[test]
fn verify_chart_colours_bars_by_outcome_and_marks_the_tolerance() {
    let checks = vec![
        OutputCheck { name: "logits".into(), metrics: Ok(metrics(3e-6, 2e-7)), pass: true },
        OutputCheck { name: "probs<&>".into(), metrics: Ok(metrics(0.5, 0.02)), pass: false },
        OutputCheck { name: "zero".into(), metrics: Ok(metrics(0.0, 0.0)), pass: true },
        OutputCheck { name: "nan".into(), metrics: Ok(metrics(f64::NAN, f64::INFINITY)), pass: false },
        OutputCheck {
            name: "seq".into(),
            metrics: Err("dtype i64 differs from the reference's f32".into()),
            pass: false,
        },
    ];
    let svg = verify_svg(&checks, 1e-4);
    let root = parse_xml(&svg);
    assert!(root.attr("viewBox").is_some());
    let (mut green, mut red, mut texts, mut tolerance) = (0, 0, Vec::new(), None);
    let plot_left = {
        let mut x = None;
        root.walk(&mut |e| {
            if e.name == "rect" && e.has_class("bar") {
                x = Some(e.num("x"));
            }
        });
        x.unwrap()
    };
    let mut bar_ends = Vec::new();
    root.walk(&mut |e| {
        if e.name == "rect" && e.has_class("bar") {
            match e.attr("fill") {
                Some("#2e9d4a") => green += 1,
                Some("#d23b2f") => red += 1,
                other => panic!("bar colour {other:?}"),
            }
            bar_ends.push(e.num("x") + e.num("width"));
        }
        if e.name == "text" {
            texts.push(e.text.clone());
        }
        if e.name == "line" && e.has_class("tolerance") {
            tolerance = Some(e.num("x1"));
        }
    });
    assert_eq!((green, red), (4, 4), "two bars per compared output");
    for t in ["logits", "probs<&>", "3.00e-6", "2.00e-2", "NaN", "inf", "tolerance 1.00e-4"] {
        assert!(texts.iter().any(|x| x == t), "no text {t}: {texts:?}");
    }
    assert!(texts.iter().any(|x| x.starts_with("not compared: dtype i64")), "{texts:?}");
    // Log scale: the failing rel_l2 (2e-2) ends right of the tolerance line, the passing one (2e-7) left of it.
    let tol = tolerance.expect("a tolerance line");
    assert!(bar_ends[1] < tol && bar_ends[3] > tol, "{bar_ends:?} vs {tol}");
    assert!(tol > plot_left);
}
