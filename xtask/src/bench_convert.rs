//! The conversion half of `cargo xtask bench`: large models through our
//! `convert` and through the Python peers, side by side in one run, with
//! `cp` of the same bytes as the physical floor. Wall time and peak RSS come
//! from `/usr/bin/time` around each child process.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::venv::Venv;

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Wall-clock seconds.
    pub(crate) seconds: f64,
    /// Peak resident set size, MiB.
    pub(crate) rss_mib: f64,
}

/// Runs `cmd` under `/usr/bin/time`, returning wall time and peak RSS.
pub(crate) fn measure(cmd: &[&str]) -> Result<Sample> {
    let report = std::env::temp_dir().join(format!("xtask-bench-time-{}", std::process::id()));
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&report)
        .args(cmd)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running /usr/bin/time (apt-get install time)")?;
    if !status.success() {
        bail!("{} failed", cmd.join(" "));
    }
    let text = std::fs::read_to_string(&report)?;
    let last = text.lines().last().unwrap_or_default();
    let mut it = last.split_whitespace();
    let seconds: f64 = it.next().and_then(|v| v.parse().ok()).context("no time in /usr/bin/time output")?;
    let kib: f64 = it.next().and_then(|v| v.parse().ok()).context("no RSS in /usr/bin/time output")?;
    Ok(Sample { seconds, rss_mib: kib / 1024.0 })
}

/// The median time of the samples, with the largest peak RSS among them.
pub(crate) fn median(mut v: Vec<Sample>) -> Sample {
    v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let rss = v.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    Sample { seconds: v[v.len() / 2].seconds, rss_mib: rss }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|r| r.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Measures every tool on every model; returns the markdown table.
pub(crate) fn run(bin: &Path, venv: &Venv, ws_root: &Path, sizes: &[u64], repeat: usize) -> Result<String> {
    let root = ws_root.join("target/bench/big");
    let out = root.join("out");
    std::fs::create_dir_all(&out)?;
    let mut make = Command::new(venv.python());
    make.arg(ws_root.join("xtask/python/bench_big_models.py")).arg(&root);
    make.args(sizes.iter().map(u64::to_string));
    crate::venv::run(&mut make).context("generating the large models")?;
    let python = venv.python();
    let scripts = ws_root.join("xtask/python");
    let s = |p: &Path| p.to_string_lossy().into_owned();

    let mut table = String::from(
        "| model | weights | conversion | tool | median time (s) | peak RSS (MiB) | time vs cp | ours faster by |\n\
         |---|---|---|---|---:|---:|---:|---:|\n",
    );
    for &size in sizes {
        for ext in [false, true] {
            let name = if ext { format!("mlp_{size}mib_ext") } else { format!("mlp_{size}mib") };
            let dir = root.join(&name);
            let model = dir.join("model.onnx");
            if !model.exists() {
                continue; // inline models over 2 GiB cannot exist
            }
            let bytes = dir_bytes(&dir);
            let onnx_out = s(&out.join("model.onnx"));
            let xml_out = s(&out.join("model.xml"));
            let clean = || {
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir_all(&out)
            };
            let mut cp = vec!["cp".to_string(), s(&model)];
            let data = dir.join("model.onnx.data");
            if data.exists() {
                cp.push(s(&data));
            }
            cp.push(s(&out));
            let mut ours_onnx = vec![s(bin), s(&model), onnx_out.clone(), "--quiet".into()];
            let mut peer_onnx =
                vec![s(&python), s(&scripts.join("bench_onnx_roundtrip.py")), s(&model), onnx_out.clone()];
            // Both quantizers see the graph as given (no folding on our side,
            // none in quantize_dynamic) and write signed int8 weights.
            let mut ours_quant = vec![
                s(bin),
                s(&model),
                onnx_out.clone(),
                "--quiet".into(),
                "--no-simplify".into(),
                "--quantize".into(),
                "int8-dynamic".into(),
            ];
            let mut peer_quant = vec![s(&python), s(&scripts.join("bench_quantize_dynamic.py")), s(&model), onnx_out];
            if ext {
                ours_onnx.push("--external-data".into());
                peer_onnx.push("external".into());
                ours_quant.push("--external-data".into());
                peer_quant.push("external".into());
            }
            // (conversion, tool, command, is ours)
            let tools: Vec<(&str, &str, Vec<String>, bool)> = vec![
                ("copy", "cp", cp, false),
                ("onnx -> onnx", "convert (ours)", ours_onnx, true),
                ("onnx -> onnx", "onnx.load + onnx.save", peer_onnx, false),
                (
                    "onnx -> openvino",
                    "convert (ours)",
                    vec![s(bin), s(&model), xml_out.clone(), "--quiet".into()],
                    true,
                ),
                (
                    "onnx -> openvino",
                    "openvino.convert_model + save_model",
                    vec![s(&python), s(&scripts.join("bench_openvino_convert.py")), s(&model), xml_out],
                    false,
                ),
                ("--quantize int8-dynamic", "convert (ours)", ours_quant, true),
                ("--quantize int8-dynamic", "onnxruntime quantize_dynamic", peer_quant, false),
            ];
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tools.len()];
            for _ in 0..repeat {
                for ((_, _, cmd, _), acc) in tools.iter().zip(&mut samples) {
                    clean()?;
                    acc.push(measure(&cmd.iter().map(String::as_str).collect::<Vec<_>>())?);
                }
            }
            let med: Vec<Sample> = samples.into_iter().map(median).collect();
            let cp = med[0];
            for (i, (conversion, tool, _, is_ours)) in tools.iter().enumerate() {
                let m = med[i];
                let faster = match tools.iter().position(|t| t.0 == *conversion && t.3) {
                    Some(o) if !is_ours => format!("{:.1}x", m.seconds / med[o].seconds),
                    _ => String::new(),
                };
                table.push_str(&format!(
                    "| {name} | {:.0} MiB | {conversion} | {tool} | {:.2} | {:.0} | {:.2}x | {faster} |\n",
                    bytes as f64 / (1 << 20) as f64,
                    m.seconds,
                    m.rss_mib,
                    m.seconds / cp.seconds,
                ));
            }
            eprintln!("{name}: done");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(table)
}
