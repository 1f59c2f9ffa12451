//! `cargo xtask render [--resnet50]`: the drawings checked in a real SVG
//! renderer. Draws several fixtures' graphs and a verification chart with
//! `convert::draw`, renders each with librsvg's `rsvg-convert` (installed
//! with apt when missing), and checks that
//!
//! - each PNG decodes, has the SVG's width and height, and has at least
//!   [`INK_PER_BOX`] non-white pixels per box drawn (and 1% of the image):
//!   a renderer that dropped the boxes or the text would fail it;
//! - the SVG holds every node's op name as a `<text>` label, and each
//!   chart its output names and values;
//! - when Graphviz is installed, `dot` reads the DOT drawing without a
//!   warning (it is not installed for this tier: nothing needs it).
//!
//! `--resnet50` also exports torchvision's ResNet-50 (random weights) to
//! ONNX with torch.onnx in the models venv (`--venv`, or
//! `target/venv-models` as `interop --models` makes it), draws it, checks
//! every label and that drawing took under a second.
//!
//! Files go to `target/render/`. The drawing functions are the library's
//! (`convert::draw`); [`draw_graph`] and [`draw_chart`] are the two places
//! to switch to the CLI's `inspect --svg` / `verify --svg` should the tier
//! ever need to test the binary instead.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use convert::draw::{DrawOptions, graph_dot, graph_svg, verify_svg};

use crate::venv::Venv;
use crate::{Outcome, Workspace};

/// Non-white pixels required per box drawn.
const INK_PER_BOX: u64 = 150;
/// Fixtures drawn (under `tests/fixtures/onnx/`): subgraphs, a residual CNN,
/// a transformer, shared weights, quantized ops, a tf2onnx export.
const FIXTURES: &[&str] = &[
    "ops_subgraph",
    "cnn_bn_residual",
    "transformer_encoder",
    "gpt2_tiny_tied",
    "mlp_int8_dynamic",
    "keras_cnn_tf2onnx",
];
/// Longest a ResNet-50 drawing may take.
const RESNET_SECONDS: f64 = 1.0;

/// Arguments of `cargo xtask render`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Also export torchvision's ResNet-50 (random weights) and draw it.
    #[arg(long)]
    resnet50: bool,
    /// With --resnet50: an existing venv with torch and torchvision
    /// (default: create or reuse target/venv-models).
    #[arg(long)]
    venv: Option<PathBuf>,
}

/// Runs the tier.
pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    ensure_rsvg()?;
    let out = ws.root.join("target/render");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let registry = convert::registry();
    let mut failures = 0;
    let mut report = |name: &str, r: Result<String>| match r {
        Ok(line) => println!("ok    {name:<22} {line}"),
        Err(e) => {
            failures += 1;
            println!("FAIL  {name:<22} {e:#}");
        }
    };

    for case in FIXTURES {
        let path = ws.root.join("tests/fixtures/onnx").join(case).join("model.onnx");
        report(case, check_model(&registry, &path, &out.join(case), None));
    }
    report("verify chart", check_chart(ws, &registry, &out.join("verify")));
    if args.resnet50 {
        let r = export_resnet50(ws, args.venv.as_deref(), &out)
            .and_then(|model| check_model(&registry, &model, &out.join("resnet50"), Some(RESNET_SECONDS)));
        report("resnet50 (torchvision)", r);
    }
    println!("{failures} failed; files in {}", out.display());
    Ok(if failures == 0 { Outcome::Ok } else { Outcome::CheckFailed })
}

/// Installs librsvg2-bin when `rsvg-convert` is missing (as root here, with sudo otherwise).
fn ensure_rsvg() -> Result<()> {
    if Command::new("rsvg-convert").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("installing rsvg-convert (librsvg2-bin) ...");
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        crate::venv::run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", "librsvg2-bin"])?;
    Ok(())
}

/// Draws the graph of `model` (the library call the CLI's `inspect --svg` makes).
fn draw_graph(model: &ir::Model) -> String {
    graph_svg(model, &DrawOptions::default())
}

/// Draws a verification chart (the library call the CLI's `verify --svg` makes).
fn draw_chart(checks: &[convert::verify::OutputCheck], tolerance: f64) -> String {
    verify_svg(checks, tolerance)
}

/// Loads, draws (in at most `limit` seconds), renders and checks one model;
/// writes `<stem>.svg` and `<stem>.png`.
fn check_model(registry: &ir::Registry, path: &Path, stem: &Path, limit: Option<f64>) -> Result<String> {
    let (model, _) = convert::load(registry, path, None, &ir::ImportOptions::default())
        .with_context(|| format!("cannot load {}", path.display()))?;
    let start = Instant::now();
    let svg = draw_graph(&model);
    let seconds = start.elapsed().as_secs_f64();
    if let Some(limit) = limit {
        ensure!(seconds < limit, "drawing took {seconds:.3} s (limit {limit} s)");
    }
    let mut labels = Vec::new();
    op_titles(&model.graph, &mut labels);
    let missing = missing_texts(&svg, &labels, "label");
    ensure!(missing.is_empty(), "node labels missing from the SVG: {missing:?}");
    let boxes = svg.matches("<g class=\"node ").count();
    let png = render(&svg, stem)?;
    let dot = graph_dot(&model, &DrawOptions::default());
    let graphviz = check_dot(&dot, stem)?;
    ensure!(png.ink >= INK_PER_BOX * boxes as u64, "{} non-white pixels for {boxes} boxes", png.ink);
    Ok(format!(
        "{} nodes, {boxes} boxes, {}×{} px, {:.1}% ink, drawn in {:.1} ms; DOT {graphviz}",
        labels.len(),
        png.width,
        png.height,
        100.0 * png.ink as f64 / (f64::from(png.width) * f64::from(png.height)),
        seconds * 1e3
    ))
}

/// Writes `<stem>.dot` and, when Graphviz is installed, has `dot` read it
/// (Graphviz is optional here: the drawings need none).
fn check_dot(dot: &str, stem: &Path) -> Result<&'static str> {
    let path = stem.with_extension("dot");
    std::fs::write(&path, dot).with_context(|| format!("cannot write {}", path.display()))?;
    if !Command::new("dot").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return Ok("written (Graphviz not installed, not parsed)");
    }
    let out =
        Command::new("dot").arg("-Tsvg").arg("-o").arg(stem.with_extension("graphviz.svg")).arg(&path).output()?;
    ensure!(out.status.success(), "dot rejects {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    ensure!(out.stderr.is_empty(), "dot warns on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    Ok("parsed by Graphviz")
}

/// A verification chart of two real comparisons: an int8-quantized MLP
/// against its float original (fails a 1e-4 tolerance), and a model
/// against itself (passes).
fn check_chart(ws: &Workspace, registry: &ir::Registry, stem: &Path) -> Result<String> {
    let fixtures = ws.root.join("tests/fixtures/onnx");
    let load = |case: &str| -> Result<ir::Model> {
        let p = fixtures.join(case).join("model.onnx");
        Ok(convert::load(registry, &p, None, &ir::ImportOptions::default())
            .with_context(|| format!("cannot load {}", p.display()))?
            .0)
    };
    let tolerance = 1e-4;
    let mut checks = Vec::new();
    for (a, b) in [("mlp", "mlp_int8_dynamic"), ("cnn_bn_residual", "cnn_bn_residual")] {
        let (ma, mb) = (load(a)?, load(b)?);
        let inputs = convert::verify::make_inputs(&ma, &convert::verify::InputOptions::default())?;
        for mut c in convert::verify::compare_models(&ma, &mb, inputs, tolerance)? {
            c.name = format!("{b}: {}", c.name);
            checks.push(c);
        }
    }
    let (passed, failed) = (checks.iter().filter(|c| c.pass).count(), checks.iter().filter(|c| !c.pass).count());
    ensure!(passed > 0 && failed > 0, "wanted a passing and a failing output, got {passed} and {failed}");
    let svg = draw_chart(&checks, tolerance);
    let names: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
    let missing = missing_texts(&svg, &names, "output");
    ensure!(missing.is_empty(), "output names missing from the chart: {missing:?}");
    ensure!(svg.contains("class=\"tolerance\""), "no tolerance line");
    let png = render(&svg, stem)?;
    // Each compared output has two bars of at least a few pixels.
    ensure!(png.ink >= 2_000, "only {} non-white pixels", png.ink);
    Ok(format!("{passed} passing and {failed} failing outputs, {}×{} px", png.width, png.height))
}

/// Every op title of `g` and its subgraphs, as the drawing writes them.
fn op_titles(g: &ir::Graph, out: &mut Vec<String>) {
    for n in &g.nodes {
        out.push(if n.domain.is_empty() { n.op.clone() } else { format!("{}::{}", n.domain, n.op) });
        for s in n.subgraphs() {
            op_titles(s, out);
        }
    }
}

/// Which of `texts` (with multiplicity) no `<text class="{class}">` element holds.
fn missing_texts(svg: &str, texts: &[String], class: &str) -> Vec<String> {
    let mut have: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let open = format!("<text class=\"{class}\"");
    for part in svg.split(&open).skip(1) {
        let Some(start) = part.find('>') else { continue };
        let Some(end) = part[start..].find("</text>") else { continue };
        let raw = &part[start + 1..start + end];
        let text = raw
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        *have.entry(text).or_default() += 1;
    }
    let mut missing = Vec::new();
    for t in texts {
        match have.get_mut(t) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(t.clone()),
        }
    }
    missing
}

/// What a rendered PNG holds.
#[derive(Debug)]
struct Png {
    width: u32,
    height: u32,
    /// Pixels that are not (near) white.
    ink: u64,
}

/// Writes `<stem>.svg`, renders `<stem>.png` with rsvg-convert and decodes it.
fn render(svg: &str, stem: &Path) -> Result<Png> {
    let svg_path = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    std::fs::write(&svg_path, svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    let _ = std::fs::remove_file(&png_path);
    crate::venv::run(Command::new("rsvg-convert").arg("-o").arg(&png_path).arg(&svg_path))?;
    let bytes = std::fs::read(&png_path).with_context(|| format!("cannot read {}", png_path.display()))?;
    let png = decode(&bytes).with_context(|| format!("{}", png_path.display()))?;
    let (w, h) = svg_size(svg)?;
    ensure!(
        png.width == w && png.height == h,
        "{}: {}×{} px, the SVG says {w}×{h}",
        png_path.display(),
        png.width,
        png.height
    );
    let area = u64::from(png.width) * u64::from(png.height);
    ensure!(png.ink * 100 >= area, "{}: only {} of {area} pixels are not white", png_path.display(), png.ink);
    Ok(png)
}

/// The `width` and `height` of the root element.
fn svg_size(svg: &str) -> Result<(u32, u32)> {
    let root = svg.find("<svg ").context("no <svg> element")?;
    let tag = &svg[root..root + svg[root..].find('>').context("unterminated <svg>")?];
    let attr = |name: &str| -> Result<u32> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key).with_context(|| format!("<svg> has no {name}"))? + key.len();
        let end = tag[at..].find('"').context("unterminated attribute")?;
        Ok(tag[at..at + end].parse::<f64>()?.round() as u32)
    };
    Ok((attr("width")?, attr("height")?))
}

/// Decodes an 8-bit, non-interlaced PNG (what rsvg-convert writes) far
/// enough to count its non-white pixels.
fn decode(bytes: &[u8]) -> Result<Png> {
    ensure!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut at = 8;
    let mut header = None;
    let mut idat = Vec::new();
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let end = at.checked_add(8 + len).filter(|&e| e + 4 <= bytes.len()).context("truncated chunk")?;
        let data = &bytes[at + 8..end];
        match kind {
            b"IHDR" => {
                ensure!(data.len() == 13, "bad IHDR");
                let w = u32::from_be_bytes(data[0..4].try_into()?);
                let h = u32::from_be_bytes(data[4..8].try_into()?);
                header = Some((w, h, data[8], data[9], data[12]));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at = end + 4;
    }
    let (width, height, depth, color, interlace) = header.context("no IHDR")?;
    ensure!(width > 0 && height > 0, "empty image {width}×{height}");
    ensure!(depth == 8 && interlace == 0, "unsupported PNG: bit depth {depth}, interlace {interlace}");
    let channels = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        other => bail!("unsupported PNG colour type {other}"),
    };
    let stride = width as usize * channels;
    let expected = (stride + 1).checked_mul(height as usize).context("image too large")?;
    ensure!(expected <= 1 << 31, "image too large: {width}×{height}");
    let mut raw = Vec::with_capacity(expected);
    flate2::read::ZlibDecoder::new(idat.as_slice()).take(expected as u64 + 1).read_to_end(&mut raw)?;
    ensure!(raw.len() == expected, "pixel data is {} bytes, expected {expected}", raw.len());

    let mut prev = vec![0u8; stride];
    let mut row = vec![0u8; stride];
    let mut ink = 0u64;
    for r in 0..height as usize {
        let line = &raw[r * (stride + 1)..(r + 1) * (stride + 1)];
        let filter = line[0];
        for i in 0..stride {
            let x = line[i + 1];
            let a = if i >= channels { row[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            row[i] = match filter {
                0 => x,
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => x.wrapping_add(paeth(a, b, c)),
                other => bail!("bad PNG filter {other} in row {r}"),
            };
        }
        for px in row.chunks_exact(channels) {
            let (lum, alpha) = match channels {
                1 => (px[0], 255),
                2 => (px[0], px[1]),
                3 => (px[0].min(px[1]).min(px[2]), 255),
                _ => (px[0].min(px[1]).min(px[2]), px[3]),
            };
            if alpha > 0 && lum < 235 {
                ink += 1;
            }
        }
        std::mem::swap(&mut prev, &mut row);
    }
    Ok(Png { width, height, ink })
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// The torch.onnx (TorchScript exporter) export of torchvision's ResNet-50.
const EXPORT_RESNET50: &str = r#"
import sys, warnings
import torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50(weights=None).eval()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), sys.argv[1], dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"])
"#;

/// Exports ResNet-50 to `out/resnet50.onnx` (reused when present).
fn export_resnet50(ws: &Workspace, venv: Option<&Path>, out: &Path) -> Result<PathBuf> {
    let path = out.join("resnet50.onnx");
    if path.exists() {
        return Ok(path);
    }
    let venv = match venv {
        Some(dir) => Venv::existing(dir)?,
        None => Venv::ensure_named(ws, "venv-models", Path::new("xtask/python/requirements-models.txt"))?,
    };
    let tmp = out.join("resnet50.onnx.partial");
    crate::venv::run(Command::new(venv.python()).arg("-c").arg(EXPORT_RESNET50).arg(&tmp))
        .context("exporting torchvision's ResNet-50")?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_counted_with_multiplicity_and_unescaped() {
        let svg = r#"<text class="label" x="1">Conv</text><text class="label" x="2">a&lt;b</text><text class="detail">Conv</text>"#;
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing_texts(svg, &want(&["Conv", "a<b"]), "label").is_empty());
        assert_eq!(missing_texts(svg, &want(&["Conv", "Conv"]), "label"), want(&["Conv"]));
        assert_eq!(svg_size(r#"<svg a="b" width="120" height="30.4">"#).unwrap(), (120, 30));
    }

    #[test]
    fn a_png_is_decoded_and_its_ink_counted() {
        // 2×1 RGB: one black, one white pixel, filter 0, stored deflate block.
        let raw = [0u8, 0, 0, 0, 255, 255, 255];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &raw).unwrap();
        let idat = z.finish().unwrap();
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0; 4]);
        };
        chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        chunk(b"IDAT", &idat);
        chunk(b"IEND", &[]);
        let p = decode(&png).unwrap();
        assert_eq!((p.width, p.height, p.ink), (2, 1, 1));
        assert!(decode(&png[..20]).is_err());
    }
}
