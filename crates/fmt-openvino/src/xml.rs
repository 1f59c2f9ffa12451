//! Stage one of import and last stage of export: the IR `.xml` as plain
//! structures (`<net>`, `<layers>`, `<edges>`, `<rt_info>`), with no
//! knowledge of what any layer type means.
//!
//! The text comes from a file, so indexing is denied here: nesting and
//! counts are bounded by [`ir::Limits`] and every lookup is checked.
#![deny(clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::Path;

use indexmap::IndexMap;
use ir::{Error, Limit, Limits, Result};
use quick_xml::events::{BytesStart, Event};

/// A parsed `<net>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Net {
    /// The `name` attribute.
    pub name: String,
    /// The IR version (10 or 11).
    pub version: u32,
    /// Layers in file order.
    pub layers: Vec<Layer>,
    /// Data-flow edges.
    pub edges: Vec<Edge>,
    /// The model-level `<rt_info>`, flattened to `path → value`.
    pub rt_info: IndexMap<String, String>,
}

/// One `<layer>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// The `id` attribute, unique in the net.
    pub id: u64,
    /// The friendly name.
    pub name: String,
    /// The op type, e.g. `Convolution`.
    pub kind: String,
    /// The opset, e.g. `opset1`.
    pub version: String,
    /// Attributes of `<data>`, in file order.
    pub data: IndexMap<String, String>,
    /// Input ports in file order.
    pub inputs: Vec<Port>,
    /// Output ports in file order.
    pub outputs: Vec<Port>,
    /// Whether the layer has a body (`<body>`, `<then_body>`, `<else_body>`).
    pub has_body: bool,
    /// Sub-networks by tag (`body` of Loop/TensorIterator, `then_body` and
    /// `else_body` of If), in file order.
    pub bodies: Vec<(String, Net)>,
    /// Port maps by tag (`port_map`, `then_port_map`, `else_port_map`):
    /// how outer ports connect to body `Parameter`/`Result` layers.
    pub port_maps: Vec<(String, Vec<PortMapEntry>)>,
    /// Loop/TensorIterator back edges: body `Result` layer id → body
    /// `Parameter` layer id fed with it on the next iteration.
    pub back_edges: Vec<(u64, u64)>,
}

/// One `<input>`/`<output>` of a port map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortMapEntry {
    /// `true` for `<output>`.
    pub output: bool,
    /// The attributes (`external_port_id`, `internal_layer_id`, `axis`, `purpose`, …) in file order.
    pub attrs: IndexMap<String, String>,
}

impl PortMapEntry {
    /// An integer attribute, if present and numeric.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.attrs.get(key).and_then(|v| v.trim().parse().ok())
    }
}

/// One `<port>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    /// The port id, unique within its layer.
    pub id: u64,
    /// The `precision` attribute (informational; OpenVINO re-infers types).
    pub precision: String,
    /// Tensor names from `names` (comma-separated, `\,` escapes a comma).
    pub names: Vec<String>,
    /// The `<dim>` texts: a number, `-1`, `?` or a range `a..b`.
    pub dims: Vec<String>,
}

/// One `<edge>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edge {
    /// Producing layer id.
    pub from_layer: u64,
    /// Producing port id.
    pub from_port: u64,
    /// Consuming layer id.
    pub to_layer: u64,
    /// Consuming port id.
    pub to_port: u64,
}

impl Layer {
    /// A `<data>` attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// The body with tag `tag`.
    pub fn body(&self, tag: &str) -> Option<&Net> {
        self.bodies.iter().find(|(t, _)| t == tag).map(|(_, n)| n)
    }

    /// The port map with tag `tag` (empty when absent).
    pub fn port_map(&self, tag: &str) -> &[PortMapEntry] {
        self.port_maps.iter().find(|(t, _)| t == tag).map(|(_, v)| v.as_slice()).unwrap_or_default()
    }
}

/// Splits a `names` attribute: commas separate names, `\,` is a literal comma.
fn split_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out.retain(|n| !n.is_empty());
    out
}

/// Joins names for a `names` attribute (inverse of [`split_names`]).
pub(crate) fn join_names(names: &[String]) -> String {
    names.iter().map(|n| n.replace(',', "\\,")).collect::<Vec<_>>().join(",")
}

/// 1-based line of a byte offset, for error messages.
fn line_of(text: &str, pos: u64) -> usize {
    let before = usize::try_from(pos).ok().and_then(|p| text.as_bytes().get(..p)).unwrap_or(text.as_bytes());
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Where a parse is inside the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Other,
    Net,
    Layers,
    Layer,
    LayerInput,
    LayerOutput,
    Port,
    Dim,
    Edges,
    NetRtInfo,
    PortMap,
    BackEdges,
    /// A `<body>`/`<then_body>`/`<else_body>`: a nested net.
    Body,
    Skip,
}

/// Parses the text of an `.xml` file; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Net> {
    parse_with(text, path, &Limits::default())
}

/// [`parse`] under `limits`: bodies (`Loop`, `TensorIterator`, `If`) nest at
/// most `max_depth` levels, and the layers of all nets together number at
/// most `max_tensors` (every `Const` is a tensor; counting all layers bounds
/// the memory a file of tiny layers can make the parser take).
pub fn parse_with(text: &str, path: &Path, limits: &Limits) -> Result<Net> {
    let mut layer_count = 0u64;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    // The net being filled is the innermost open body's, else the root.
    let mut root = Net::default();
    let mut bodies: Vec<(String, Net)> = Vec::new();
    let mut seen_net = false;
    let mut stack: Vec<Ctx> = Vec::new();
    // rt_info paths: element names below <net><rt_info>.
    let mut rt_path: Vec<String> = Vec::new();
    let mut port_is_input = false;
    loop {
        let pos = reader.buffer_position();
        let bad = |msg: String| Error::malformed(path, format!("line {}: {msg}", line_of(text, pos)));
        let event = reader.read_event().map_err(|e| {
            Error::malformed(path, format!("line {}: XML error: {e}", line_of(text, reader.error_position())))
        })?;
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(s) = start {
            let parent = stack.last().copied().unwrap_or(Ctx::Other);
            let name = s.name();
            let tag = std::str::from_utf8(name.as_ref()).map_err(|_| bad("tag name is not UTF-8".into()))?;
            let attrs = attributes(&s).map_err(|m| bad(format!("<{tag}>: {m}")))?;
            let get = |k: &str| attrs.get(k).map(String::as_str);
            let num = |k: &str| -> Result<u64> {
                let v = get(k).ok_or_else(|| bad(format!("<{tag}> has no '{k}' attribute")))?;
                v.trim().parse::<u64>().map_err(|_| bad(format!("<{tag}> attribute {k}='{v}' is not a number")))
            };
            let net = match bodies.last_mut() {
                Some((_, n)) => n,
                None => &mut root,
            };
            let ctx = match (parent, tag) {
                (Ctx::Other, "net") if stack.is_empty() => {
                    seen_net = true;
                    net.name = get("name").unwrap_or_default().to_string();
                    let v = get("version").ok_or_else(|| bad("<net> has no 'version' attribute".into()))?;
                    net.version = v.parse().map_err(|_| bad(format!("IR version '{v}' is not a number")))?;
                    if !(10..=11).contains(&net.version) {
                        return Err(bad(format!("IR version {} is not supported (10 and 11 are)", net.version)));
                    }
                    Ctx::Net
                }
                (Ctx::Other, _) if stack.is_empty() => return Err(bad(format!("root element is <{tag}>, not <net>"))),
                (Ctx::Net, "layers") => Ctx::Layers,
                (Ctx::Net, "edges") => Ctx::Edges,
                (Ctx::Net, "rt_info") => Ctx::NetRtInfo,
                (Ctx::Layers, "layer") => {
                    layer_count += 1;
                    if layer_count > limits.max_tensors as u64 {
                        return Err(bad(limits.message(Limit::Tensors, "layers")));
                    }
                    let layer = Layer {
                        id: num("id")?,
                        name: get("name").unwrap_or_default().to_string(),
                        kind: get("type").ok_or_else(|| bad("<layer> has no 'type' attribute".into()))?.to_string(),
                        version: get("version").unwrap_or_default().to_string(),
                        ..Layer::default()
                    };
                    net.layers.push(layer);
                    Ctx::Layer
                }
                (Ctx::Layer, "data") => {
                    if let Some(l) = net.layers.last_mut() {
                        l.data = attrs.clone();
                    }
                    Ctx::Skip
                }
                (Ctx::Layer, "input") => Ctx::LayerInput,
                (Ctx::Layer, "output") => Ctx::LayerOutput,
                (Ctx::Layer, "body" | "then_body" | "else_body") if !empty => {
                    let version = net.version;
                    if bodies.len() >= limits.max_depth {
                        return Err(bad(limits.message(Limit::Depth, &format!("<{tag}>"))));
                    }
                    bodies.push((tag.to_string(), Net { version, ..Net::default() }));
                    Ctx::Body
                }
                (Ctx::Body, "layers") => Ctx::Layers,
                (Ctx::Body, "edges") => Ctx::Edges,
                (Ctx::Layer, "port_map" | "then_port_map" | "else_port_map") => {
                    if let Some(l) = net.layers.last_mut() {
                        l.port_maps.push((tag.to_string(), Vec::new()));
                    }
                    Ctx::PortMap
                }
                (Ctx::PortMap, "input" | "output") => {
                    if let Some((_, v)) = net.layers.last_mut().and_then(|l| l.port_maps.last_mut()) {
                        v.push(PortMapEntry { output: tag == "output", attrs: attrs.clone() });
                    }
                    Ctx::Skip
                }
                (Ctx::Layer, "back_edges") => Ctx::BackEdges,
                (Ctx::BackEdges, "edge") => {
                    let e = (num("from-layer")?, num("to-layer")?);
                    if let Some(l) = net.layers.last_mut() {
                        l.back_edges.push(e);
                    }
                    Ctx::Skip
                }
                (Ctx::LayerInput | Ctx::LayerOutput, "port") => {
                    port_is_input = parent == Ctx::LayerInput;
                    let port = Port {
                        id: num("id")?,
                        precision: get("precision").unwrap_or_default().to_string(),
                        names: get("names").map(split_names).unwrap_or_default(),
                        dims: Vec::new(),
                    };
                    if let Some(l) = net.layers.last_mut() {
                        if port_is_input { l.inputs.push(port) } else { l.outputs.push(port) }
                    }
                    Ctx::Port
                }
                (Ctx::Port, "dim") => Ctx::Dim,
                (Ctx::Edges, "edge") => {
                    net.edges.push(Edge {
                        from_layer: num("from-layer")?,
                        from_port: num("from-port")?,
                        to_layer: num("to-layer")?,
                        to_port: num("to-port")?,
                    });
                    Ctx::Skip
                }
                (Ctx::NetRtInfo, _) => {
                    // `<info name=".." value=".."/>` or `<key value=".."/>`, possibly nested.
                    let key = if tag == "info" { get("name").unwrap_or("info").to_string() } else { tag.to_string() };
                    rt_path.push(key);
                    if let Some(v) = get("value") {
                        net.rt_info.insert(rt_path.join("/"), v.to_string());
                    }
                    if empty {
                        rt_path.pop();
                    }
                    Ctx::NetRtInfo
                }
                _ => Ctx::Skip,
            };
            if !empty {
                stack.push(ctx);
            }
            continue;
        }
        match event {
            // The guard pops for every end tag; the arm only trims the rt_info path.
            Event::End(_) => match stack.pop() {
                Some(Ctx::NetRtInfo) if stack.last() == Some(&Ctx::NetRtInfo) => {
                    rt_path.pop();
                }
                Some(Ctx::Body) => {
                    if let Some((tag, body)) = bodies.pop() {
                        let parent = match bodies.last_mut() {
                            Some((_, n)) => n,
                            None => &mut root,
                        };
                        if let Some(l) = parent.layers.last_mut() {
                            l.has_body = true;
                            l.bodies.push((tag, body));
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if stack.last() == Some(&Ctx::Dim) => {
                let v = t.decode().map_err(|e| bad(format!("<dim>: {e}")))?.trim().to_string();
                let net = match bodies.last_mut() {
                    Some((_, n)) => n,
                    None => &mut root,
                };
                if let Some(port) = net
                    .layers
                    .last_mut()
                    .and_then(|l| if port_is_input { l.inputs.last_mut() } else { l.outputs.last_mut() })
                {
                    port.dims.push(v);
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(bad("unexpected end of file inside an element".into()));
                }
                break;
            }
            _ => {}
        }
    }
    if !seen_net {
        return Err(Error::malformed(path, "no <net> element"));
    }
    Ok(root)
}

fn attributes(s: &BytesStart<'_>) -> std::result::Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    for a in s.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let k = std::str::from_utf8(a.key.as_ref()).map_err(|_| "attribute name is not UTF-8".to_string())?;
        let v = a.unescape_value().map_err(|e| e.to_string())?;
        out.insert(k.to_string(), v.into_owned());
    }
    Ok(out)
}

/// Escapes text for an attribute value.
pub(crate) fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// Writes the `<net>` as IR XML text (tabs, one element per line, as OpenVINO writes it).
pub fn write(net: &Net, out: &mut String) {
    let _ = writeln!(out, "<?xml version=\"1.0\"?>");
    let _ = writeln!(out, "<net name=\"{}\" version=\"{}\">", esc(&net.name), net.version);
    write_inner(net, out, 1);
    out.push_str("</net>\n");
}

/// Writes layers, edges and rt_info of `net` at `depth` tabs (bodies recurse).
fn write_inner(net: &Net, out: &mut String, depth: usize) {
    let t = |k: usize| "\t".repeat(depth + k);
    let _ = writeln!(out, "{}<layers>", t(0));
    for l in &net.layers {
        let _ = writeln!(
            out,
            "{}<layer id=\"{}\" name=\"{}\" type=\"{}\" version=\"{}\">",
            t(1),
            l.id,
            esc(&l.name),
            esc(&l.kind),
            esc(&l.version)
        );
        if !l.data.is_empty() {
            let _ = write!(out, "{}<data", t(2));
            for (k, v) in &l.data {
                let _ = write!(out, " {}=\"{}\"", k, esc(v));
            }
            out.push_str(" />\n");
        }
        for (tag, entries) in &l.port_maps {
            let _ = writeln!(out, "{}<{tag}>", t(2));
            for e in entries {
                let _ = write!(out, "{}<{}", t(3), if e.output { "output" } else { "input" });
                for (k, v) in &e.attrs {
                    let _ = write!(out, " {}=\"{}\"", k, esc(v));
                }
                out.push_str(" />\n");
            }
            let _ = writeln!(out, "{}</{tag}>", t(2));
        }
        if !l.back_edges.is_empty() {
            let _ = writeln!(out, "{}<back_edges>", t(2));
            for (from, to) in &l.back_edges {
                let _ = writeln!(out, "{}<edge from-layer=\"{from}\" to-layer=\"{to}\" />", t(3));
            }
            let _ = writeln!(out, "{}</back_edges>", t(2));
        }
        for (tag, ports) in [("input", &l.inputs), ("output", &l.outputs)] {
            if ports.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{}<{tag}>", t(2));
            for p in ports {
                let _ = write!(out, "{}<port id=\"{}\" precision=\"{}\"", t(3), p.id, esc(&p.precision));
                if !p.names.is_empty() {
                    let _ = write!(out, " names=\"{}\"", esc(&join_names(&p.names)));
                }
                if p.dims.is_empty() {
                    out.push_str(" />\n");
                } else {
                    out.push_str(">\n");
                    for d in &p.dims {
                        let _ = writeln!(out, "{}<dim>{}</dim>", t(4), esc(d));
                    }
                    let _ = writeln!(out, "{}</port>", t(3));
                }
            }
            let _ = writeln!(out, "{}</{tag}>", t(2));
        }
        for (tag, body) in &l.bodies {
            let _ = writeln!(out, "{}<{tag}>", t(2));
            write_inner(body, out, depth + 3);
            let _ = writeln!(out, "{}</{tag}>", t(2));
        }
        let _ = writeln!(out, "{}</layer>", t(1));
    }
    let _ = writeln!(out, "{}</layers>", t(0));
    let _ = writeln!(out, "{}<edges>", t(0));
    for e in &net.edges {
        let _ = writeln!(
            out,
            "{}<edge from-layer=\"{}\" from-port=\"{}\" to-layer=\"{}\" to-port=\"{}\" />",
            t(1),
            e.from_layer,
            e.from_port,
            e.to_layer,
            e.to_port
        );
    }
    let _ = writeln!(out, "{}</edges>", t(0));
    if !net.rt_info.is_empty() {
        let _ = writeln!(out, "{}<rt_info>", t(0));
        for (k, v) in &net.rt_info {
            let _ = writeln!(out, "{}<info name=\"{}\" value=\"{}\" />", t(1), esc(k), esc(v));
        }
        let _ = writeln!(out, "{}</rt_info>", t(0));
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0"?>
<net name="m" version="11">
  <layers>
    <layer id="0" name="x" type="Parameter" version="opset1">
      <data shape="?,3" element_type="f32"/>
      <output><port id="0" precision="FP32" names="x,a\,b"><dim>-1</dim><dim>3</dim></port></output>
    </layer>
    <layer id="1" name="r" type="Result" version="opset1">
      <input><port id="0" precision="FP32"/></input>
    </layer>
  </layers>
  <edges><edge from-layer="0" from-port="0" to-layer="1" to-port="0"/></edges>
  <rt_info><info name="OpenVINO Runtime" value="2026"/><conversion_parameters><input_model value="m.onnx"/></conversion_parameters></rt_info>
</net>"#;

    #[test]
    fn parses_layers_ports_edges_and_rt_info() {
        let net = parse(SAMPLE, Path::new("m.xml")).unwrap();
        assert_eq!(net.version, 11);
        assert_eq!(net.layers.len(), 2);
        assert_eq!(net.layers[0].attr("shape"), Some("?,3"));
        assert_eq!(net.layers[0].outputs[0].names, ["x", "a,b"]);
        assert_eq!(net.layers[0].outputs[0].dims, ["-1", "3"]);
        assert_eq!(net.edges, [Edge { from_layer: 0, from_port: 0, to_layer: 1, to_port: 0 }]);
        assert_eq!(net.rt_info["OpenVINO Runtime"], "2026");
        assert_eq!(net.rt_info["conversion_parameters/input_model"], "m.onnx");
        let mut text = String::new();
        write(&net, &mut text);
        let again = parse(&text, Path::new("m.xml")).unwrap();
        assert_eq!(again.layers, net.layers);
        assert_eq!(again.edges, net.edges);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e =
            parse("<net version=\"11\"><layers><layer name=\"a\" type=\"Relu\"/></layers></net>", Path::new("m.xml"))
                .unwrap_err()
                .to_string();
        assert_eq!(e, "m.xml: line 1: <layer> has no 'id' attribute");
        let e = parse("<net version=\"7\"/>", Path::new("m.xml")).unwrap_err().to_string();
        assert!(e.contains("IR version 7 is not supported"), "{e}");
        let e = parse("<model/>", Path::new("m.xml")).unwrap_err().to_string();
        assert!(e.contains("root element is <model>"), "{e}");
        let e = parse("<net version=\"11\"><layers>", Path::new("m.xml")).unwrap_err().to_string();
        assert_eq!(e, "m.xml: line 1: unexpected end of file inside an element");
        let e = parse("<net version=\"11\"><layers></net>", Path::new("m.xml")).unwrap_err().to_string();
        assert!(e.starts_with("m.xml: line 1: XML error"), "{e}");
    }
}
