//! Blocked (group-wise) 4-bit weights in OpenVINO IR: written in NNCF's
//! layout (`[N, G, gs]` integers, `[N, G, 1]` scales, `Reshape [N, K]`),
//! with a `Slice` back to K when the groups do not divide it and a
//! `Transpose` for `[K, N]` MatMul weights, and read back as the very same
//! `DequantizeLinear` (integers, scales and zero points equal).

use std::path::Path;

use ir::quant::{DqNames, QuantizedWeight};
use ir::{Buffer, DType, ExportOptions, Exporter, ImportOptions, Importer, Model, NameGen, Node, Tensor, ValueInfo};

/// 4-bit values packed two per byte, low nibble first.
fn packed(dtype: DType, shape: Vec<usize>, v: &[i64]) -> Tensor {
    let mut bytes = vec![0u8; v.len().div_ceil(2)];
    for (i, &x) in v.iter().enumerate() {
        bytes[i / 2] |= ((x as u8) & 0x0f) << (4 * (i % 2));
    }
    Tensor::from_raw(dtype, shape, Buffer::from_vec(bytes)).unwrap()
}

/// `y = x · W` for a `[rows, cols]` 4-bit weight with blocks of `block`
/// along `axis`, read through a `Transpose` when `axis` is 1 (a `[N, K]`
/// table), f16 scales and a `Cast` to f32 when `half`.
fn model(rows: usize, cols: usize, axis: usize, block: usize, zp: bool, half: bool) -> Model {
    let dtype = if zp { DType::U4 } else { DType::I4 };
    let vals: Vec<i64> = (0..rows * cols).map(|i| ((i * 7 + i / 3) % 15) as i64 - if zp { 0 } else { 7 }).collect();
    let sshape = if axis == 0 { vec![rows.div_ceil(block), cols] } else { vec![rows, cols.div_ceil(block)] };
    let ns: usize = sshape.iter().product();
    let svals: Vec<f32> = (0..ns).map(|i| 0.01 + i as f32 * 0.0007).collect();
    let scale = if half {
        Tensor::from_vec(sshape.clone(), svals.iter().map(|&v| ir::f16::from_f32(v)).collect()).unwrap()
    } else {
        Tensor::from_vec(sshape.clone(), svals).unwrap()
    };
    let zero_point = zp.then(|| packed(dtype, sshape, &(0..ns).map(|i| (i % 16) as i64).collect::<Vec<_>>()));
    let w = QuantizedWeight {
        q: packed(dtype, vec![rows, cols], &vals),
        scale,
        zero_point,
        axis: Some(axis as i64),
        block_size: Some(block as i64),
    };
    let mut m = Model::default();
    m.opset_imports.insert(String::new(), 21);
    let g = &mut m.graph;
    let mut names = NameGen::for_graph(g);
    let dq = DqNames::fresh(&mut names, "w");
    let dq_out = if half { "w16" } else { "w" };
    let node = ir::quant::dq_weight_node(g, w, &dq, dq_out);
    g.nodes.push(node);
    if half {
        g.nodes.push(Node::new("Cast", ["w16"], ["w"]).named("cast").with_attr("to", ir::Attribute::Int(1)));
    }
    let (k, n) = if axis == 0 { (rows, cols) } else { (cols, rows) };
    let b = if axis == 1 {
        g.nodes.push(Node::new("Transpose", ["w"], ["wt"]).named("t"));
        "wt"
    } else {
        "w"
    };
    g.nodes.push(Node::new("MatMul", ["x", b], ["y"]).named("mm"));
    g.inputs.push(ValueInfo::tensor("x", DType::F32, ir::Shape::fixed(&[2, k as u64])));
    g.outputs.push(ValueInfo::tensor("y", DType::F32, ir::Shape::fixed(&[2, n as u64])));
    m
}

/// The DQ node's integers, scales (as f64) and zero points.
fn dq(m: &Model) -> (Tensor, Vec<f64>, Option<Tensor>, i64, i64) {
    let n = m.graph.nodes.iter().find(|n| n.op == "DequantizeLinear").expect("a DequantizeLinear");
    let w = ir::quant::match_dq_weight(&m.graph, n).expect("a DQ weight");
    (
        w.q.clone(),
        w.scale.to_f64s().unwrap(),
        w.zero_point.cloned(),
        n.attr_int("axis", 1).unwrap(),
        n.attr_int("block_size", 0).unwrap(),
    )
}

fn round_trip(m: &Model, dir: &Path, name: &str) -> (Model, String) {
    let xml = dir.join(format!("{name}.xml"));
    fmt_openvino::OpenVinoExporter.export(m, &xml, &ExportOptions::default()).unwrap();
    let back = fmt_openvino::OpenVinoImporter.import(&xml, &ImportOptions::default()).unwrap();
    (back, std::fs::read_to_string(&xml).unwrap())
}

#[test]
fn groups_that_do_not_divide_k_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // (rows, cols, axis, block): K = 40 with groups of 16 (the last one 8
    // wide), K = 48 (whole groups), both orientations.
    for (rows, cols, axis, block) in [(40, 6, 0, 16), (48, 6, 0, 16), (6, 40, 1, 16), (6, 48, 1, 16)] {
        for (zp, half) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = model(rows, cols, axis, block, zp, half);
            let what = format!("rows={rows} cols={cols} axis={axis} zp={zp} half={half}");
            let (back, xml) = round_trip(&m, dir.path(), "w");
            let (k, n) = if axis == 0 { (rows, cols) } else { (cols, rows) };
            let groups = k.div_ceil(block);
            let u4 = if zp { "u4" } else { "i4" };
            assert!(
                xml.contains(&format!("element_type=\"{u4}\" shape=\"{n}, {groups}, {block}\"")),
                "{what}: NNCF's [N, G, gs] layout\n{xml}"
            );
            assert_eq!(xml.contains("type=\"Slice\""), k % block != 0, "{what}: Slice only for a partial group");
            assert_eq!(
                xml.matches("type=\"Transpose\"").count(),
                usize::from(axis == 0) + usize::from(axis == 1),
                "{what}: [K, N] weights are transposed back; the model's own Transpose stays"
            );
            assert_eq!(back.graph.nodes.iter().filter(|n| n.op == "DequantizeLinear").count(), 1, "{what}");
            assert!(!back.graph.nodes.iter().any(|n| n.op == "Slice" || n.op == "Cast"), "{what}: absorbed");
            let (q0, s0, z0, a0, b0) = dq(&m);
            let (q1, s1, z1, a1, b1) = dq(&back);
            assert_eq!(
                (q1.dtype(), q1.shape(), q1.raw().unwrap().as_bytes()),
                (q0.dtype(), q0.shape(), q0.raw().unwrap().as_bytes()),
                "{what}"
            );
            assert_eq!(s1, s0, "{what}: scales (f16 widened exactly)");
            assert_eq!(
                z1.map(|z| z.raw().unwrap().as_bytes().to_vec()),
                z0.map(|z| z.raw().unwrap().as_bytes().to_vec()),
                "{what}"
            );
            assert_eq!((a1.rem_euclid(2), b1), (a0.rem_euclid(2), b0), "{what}");
        }
    }
}
