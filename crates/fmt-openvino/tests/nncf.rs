//! An IR compressed by NNCF 3.4 (`nncf.compress_weights`, INT4_SYM, groups
//! of 16; `tests/fixtures/make_nncf_int4.py`) reads as blocked
//! `DequantizeLinear`s whose f32 arithmetic reproduces OpenVINO's own output,
//! and is written back in the same pattern.

use std::path::{Path, PathBuf};

use ir::{DType, ExportOptions, Exporter, ImportOptions, Importer, Model, Tensor};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nncf_int4_sym")
}

/// A 2-D f32 `.npy` file (little-endian, C order), as (shape, values).
fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("False"), "{header}");
    let dims = header.split('(').nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> =
        dims.split(',').filter(|d| !d.trim().is_empty()).map(|d| d.trim().parse().unwrap()).collect();
    let v = b[10 + hlen..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    (shape, v)
}

/// The `[N, K]` float weights of each DQ (f32 arithmetic, as OpenVINO
/// decompresses), in graph order.
fn dequantized(m: &Model) -> Vec<(Vec<usize>, Vec<f32>)> {
    let g = &m.graph;
    g.nodes
        .iter()
        .filter(|n| n.op == "DequantizeLinear")
        .map(|n| {
            let w = ir::quant::match_dq_weight(g, n).expect("a DQ weight");
            assert_eq!(w.q.dtype(), DType::I4, "NNCF's INT4_SYM: signed, no zero point");
            assert!(w.zero_point.is_none());
            assert_eq!(w.scale.dtype(), DType::F32, "the Convert(f32) after the decompression is absorbed");
            assert_eq!((w.axis, w.block_size), (Some(1), Some(16)));
            let (rows, cols) = (w.q.shape()[0], w.q.shape()[1]);
            let raw = w.q.raw().unwrap().as_bytes();
            let s = w.scale.as_slice::<f32>().unwrap();
            let v = (0..rows * cols)
                .map(|i| {
                    let nib = (raw[i / 2] >> (4 * (i % 2))) & 0x0f;
                    let q = if nib >= 8 { i32::from(nib) - 16 } else { i32::from(nib) };
                    q as f32 * s[(i / cols) * cols.div_ceil(16) + (i % cols) / 16]
                })
                .collect();
            (vec![rows, cols], v)
        })
        .collect()
}

/// `x · Wᵀ + b` for `x` `[m, k]`, `w` `[n, k]`.
fn linear(x: &[f32], m: usize, w: &[f32], n: usize, k: usize, b: &[f32]) -> Vec<f32> {
    (0..m * n).map(|i| (0..k).map(|j| x[(i / n) * k + j] * w[(i % n) * k + j]).sum::<f32>() + b[i % n]).collect()
}

#[test]
fn nncf_int4_reads_as_blocked_dq_and_computes_what_openvino_does() {
    let m = fmt_openvino::OpenVinoImporter.import(&fixture().join("model.xml"), &ImportOptions::default()).unwrap();
    let ws = dequantized(&m);
    assert_eq!(ws.iter().map(|w| w.0.clone()).collect::<Vec<_>>(), [vec![48, 64], vec![32, 48]]);
    let bias = |n: usize| -> Vec<f32> {
        let t: Vec<&Tensor> =
            m.graph.initializers.values().filter(|t| t.dtype() == DType::F32 && t.numel() == n).collect();
        assert_eq!(t.len(), 1, "one bias of {n}");
        t[0].as_slice::<f32>().unwrap().into_owned()
    };
    let (xs, x) = npy(&fixture().join("input.npy"));
    let (_, want) = npy(&fixture().join("output.npy"));
    let h: Vec<f32> = linear(&x, xs[0], &ws[0].1, 48, 64, &bias(48)).into_iter().map(|v| v.max(0.0)).collect();
    let y = linear(&h, xs[0], &ws[1].1, 32, 48, &bias(32));
    let err = y.iter().zip(&want).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>().sqrt()
        / want.iter().map(|b| f64::from(*b).powi(2)).sum::<f64>().sqrt();
    assert!(err < 1e-5, "relative L2 {err} against OpenVINO's output");

    // Written back in NNCF's pattern and read the same way again.
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("again.xml");
    fmt_openvino::OpenVinoExporter.export(&m, &xml, &ExportOptions::default()).unwrap();
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(text.contains("element_type=\"i4\" shape=\"48, 4, 16\"") && text.contains("shape=\"48, 4, 1\""), "{text}");
    let again = fmt_openvino::OpenVinoImporter.import(&xml, &ImportOptions::default()).unwrap();
    assert_eq!(dequantized(&again), ws);
}
