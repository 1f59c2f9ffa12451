//! onnxruntime's `com.microsoft.MatMulNBits`, written from and read back
//! into the IR's quantization convention (a blocked `DequantizeLinear`
//! feeding a `MatMul`).
//!
//! `MatMulNBits(A, B, scales[, zero_points])` computes `A · W` for a weight
//! `W` of shape `[K, N]` quantized in blocks of `block_size` along K:
//! `W[k, n] = (q[n, k] - zp[n, k / block_size]) · scale[n, k / block_size]`.
//! Storage (onnxruntime's contrib-op spec and its `MatMulNBitsQuantizer`):
//! `B` is uint8 `[N, n_blocks, block_size · bits / 8]`, each column `n` of
//! `W` stored as K unsigned `bits`-bit values, low bits first in each byte,
//! the last block padded when K is not a multiple of `block_size`; `scales`
//! is `[N · n_blocks]` in the activation's float type; `zero_points` is
//! uint8 `[N · ceil(n_blocks · bits / 8)]`, packed the same way with each
//! column's row padded to whole bytes, and defaults to `2^(bits-1)` (the
//! symmetric case) when omitted. Kernels want `block_size` a power of two
//! of at least 16. `GatherBlockQuantized`, the embedding-table counterpart
//! onnxruntime's quantizer writes, is read back too (see [`lower`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ir::quant::{DqNames, QuantizedWeight};
use ir::{Attribute, Buffer, DType, Error, Graph, Model, NameGen, Node, Result, Tensor, Use};

/// The domain of onnxruntime's contrib ops.
pub const DOMAIN: &str = "com.microsoft";

/// How the ONNX exporter writes MatMuls whose weight is a blocked 4-bit
/// `DequantizeLinear` (`-O int4-format=dq|matmulnbits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Int4Format {
    /// Standard ONNX: `DequantizeLinear` with `block_size` (opset 21).
    #[default]
    Dq,
    /// onnxruntime's `com.microsoft.MatMulNBits` where the weight allows it.
    MatMulNBits,
}

/// Why a MatMul kept its DQ weight instead of becoming `MatMulNBits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptDq {
    /// Another op (a tied embedding's `Gather`) reads the weight: one copy, as DQ.
    SharedWithNonMatMul,
    /// MatMuls read the weight in both orientations.
    BothOrientations,
    /// MatMuls read the weight in different float types.
    MixedFloatTypes,
    /// The integers or scales are read by another node too.
    SharedTensors,
    /// The kernels want a power of two of at least 16.
    BlockSize(i64),
    /// The blocks run along N, not K.
    BlocksAlongN,
}

impl std::fmt::Display for KeptDq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeptDq::SharedWithNonMatMul => f.write_str("the weight is also read by a non-MatMul; stored once as DQ"),
            KeptDq::BothOrientations => f.write_str("MatMuls read the weight in both orientations"),
            KeptDq::MixedFloatTypes => f.write_str("MatMuls read the weight in different float types"),
            KeptDq::SharedTensors => f.write_str("its integers or scales are shared with another node"),
            KeptDq::BlockSize(b) => write!(f, "block size {b}: MatMulNBits needs a power of two of at least 16"),
            KeptDq::BlocksAlongN => f.write_str("blocks run along N, not K"),
        }
    }
}

/// What [`to_matmulnbits`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NBitsReport {
    /// MatMuls written as `MatMulNBits`.
    pub matmulnbits: usize,
    /// MatMuls reading a blocked 4-bit weight that kept the DQ form, with the reason.
    pub kept_dq: Vec<(String, KeptDq)>,
}

impl NBitsReport {
    /// Human-readable summary lines: the counts, then each MatMul kept as DQ.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "int4-format=matmulnbits: {} MatMul(s) as com.microsoft.MatMulNBits, {} kept as DequantizeLinear",
            self.matmulnbits,
            self.kept_dq.len()
        )];
        out.extend(self.kept_dq.iter().map(|(n, why)| format!("  {n}: DequantizeLinear kept ({why})")));
        out
    }
}

/// The values of a 4-bit integer tensor, in its own signedness.
fn nibbles(t: &Tensor) -> Result<Vec<i8>> {
    let signed = match t.dtype() {
        DType::I4 => true,
        DType::U4 => false,
        d => return Err(Error::invalid(format!("expected a 4-bit tensor, found {d}"))),
    };
    let raw = t.raw().ok_or_else(|| Error::invalid("4-bit tensor without bytes"))?;
    let bytes = raw.as_bytes();
    (0..t.numel())
        .map(|i| {
            let b = bytes.get(i / 2).ok_or_else(|| Error::invalid("4-bit tensor shorter than its shape"))?;
            let v = (b >> (4 * (i % 2))) & 0x0f;
            Ok(if signed && v >= 8 { v as i8 - 16 } else { v as i8 })
        })
        .collect()
}

/// Packs unsigned values of `bits` (4 or 8) bits, low bits first.
fn pack(values: &[u8], bits: usize) -> Vec<u8> {
    if bits == 8 {
        return values.to_vec();
    }
    let mut out = vec![0u8; values.len().div_ceil(2)];
    for (i, &v) in values.iter().enumerate() {
        out[i / 2] |= (v & 0x0f) << (4 * (i % 2));
    }
    out
}

/// Float values converted to `dtype` (f32 or f16) as a tensor.
fn floats_as(shape: Vec<usize>, values: &[f64], dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::F16 => Tensor::from_vec(shape, values.iter().map(|&v| ir::f16::from_f64(v)).collect()),
        DType::BF16 => Tensor::from_vec(shape, values.iter().map(|&v| ir::bf16::from_f64(v)).collect()),
        _ => Tensor::from_vec(shape, values.iter().map(|&v| v as f32).collect()),
    }
}

/// A MatMul reading the DQ weight: node index, whether the weight reaches
/// it transposed, and the float type it arrives in.
struct Reader {
    node: usize,
    transposed: bool,
    dtype: DType,
}

/// Follows the DQ output through `Transpose`/`Cast`/`Identity` to its readers.
/// Returns the MatMul readers (B input), the chain nodes, and whether some
/// other op (or a graph output) reads the weight too.
fn readers(g: &Graph, uses: &HashMap<String, Vec<Use>>, out: &str, dtype: DType) -> (Vec<Reader>, Vec<usize>, bool) {
    let mut found = Vec::new();
    let mut chain = Vec::new();
    let mut other = false;
    let mut stack = vec![(out.to_string(), false, dtype)];
    while let Some((v, t, dt)) = stack.pop() {
        for u in uses.get(&v).map(Vec::as_slice).unwrap_or_default() {
            let Use::Input { node, slot } = *u else {
                other = true;
                continue;
            };
            let n = &g.nodes[node];
            let next = n.output(0).map(str::to_string);
            if !n.domain.is_empty() {
                other = true;
                continue;
            }
            match (n.op.as_str(), next) {
                ("MatMul", _) if slot == 1 => found.push(Reader { node, transposed: t, dtype: dt }),
                ("Transpose", Some(o)) if matches!(n.attr_ints("perm"), Ok(None | Some([1, 0]))) => {
                    chain.push(node);
                    stack.push((o, !t, dt));
                }
                ("Cast", Some(o)) => {
                    let to = n.attr_int("to", 0).ok().and_then(DType::from_onnx_code);
                    match to {
                        Some(d @ (DType::F32 | DType::F16)) => {
                            chain.push(node);
                            stack.push((o, t, d));
                        }
                        _ => other = true,
                    }
                }
                ("Identity", Some(o)) => {
                    chain.push(node);
                    stack.push((o, t, dt));
                }
                _ => other = true,
            }
        }
    }
    (found, chain, other)
}

/// The `MatMulNBits` inputs for a weight: `B`, `scales`, `zero_points`.
struct Packed {
    b: Tensor,
    scales: Tensor,
    zero_points: Option<Tensor>,
    k: usize,
    n: usize,
}

/// Repacks a blocked 4-bit DQ weight (`q` of shape `[K, N]` blocked along
/// axis 0, or `[N, K]` along axis 1 when `transposed`) for `MatMulNBits`,
/// with scales in `dtype`.
fn repack(w: &ir::quant::DqWeight<'_>, block: usize, transposed: bool, dtype: DType) -> Result<Packed> {
    let shape = w.q.shape();
    let (k, n) = if transposed { (shape[1], shape[0]) } else { (shape[0], shape[1]) };
    let nb = k.div_ceil(block);
    let sshape: Vec<usize> = if transposed { vec![n, nb] } else { vec![nb, n] };
    if w.scale.shape() != sshape.as_slice() || w.zero_point.is_some_and(|z| z.shape() != sshape.as_slice()) {
        return Err(Error::invalid(format!("scales of shape {:?} do not fit blocks of {block}", w.scale.shape())));
    }
    let q = nibbles(w.q)?;
    let s = w.scale.to_f64s()?;
    let z = match w.zero_point {
        Some(z) => nibbles(z)?,
        None => vec![0; nb * n],
    };
    // Stored values are unsigned: signed int4 shifts by 8.
    let off: i16 = if w.q.dtype() == DType::I4 { 8 } else { 0 };
    let qv = |col: usize, row: usize| if transposed { q[col * k + row] } else { q[row * n + col] };
    let pv = |col: usize, b: usize| if transposed { col * nb + b } else { b * n + col };
    let mut values = Vec::with_capacity(n * nb * block);
    let mut scales = Vec::with_capacity(n * nb);
    let mut zps = Vec::with_capacity(n * nb.div_ceil(2) * 2);
    for col in 0..n {
        for b in 0..nb {
            let zp = (i16::from(z[pv(col, b)]) + off) as u8;
            zps.push(zp);
            scales.push(s[pv(col, b)]);
            for j in 0..block {
                let row = b * block + j;
                // Padding past K dequantizes to 0 whatever the kernel does with it.
                values.push(if row < k { (i16::from(qv(col, row)) + off) as u8 } else { zp });
            }
        }
        // Each column's zero points start on a byte.
        if nb % 2 == 1 {
            zps.push(0);
        }
    }
    let symmetric = (0..n).all(|col| (0..nb).all(|b| zps[col * nb.div_ceil(2) * 2 + b] == 8));
    let b = Tensor::from_raw(DType::U8, vec![n, nb, block / 2], Buffer::from_vec(pack(&values, 4)))?;
    let zero_points = if symmetric {
        None
    } else {
        let packed = pack(&zps, 4);
        Some(Tensor::from_raw(DType::U8, vec![packed.len()], Buffer::from_vec(packed))?)
    };
    Ok(Packed { b, scales: floats_as(vec![n * nb], &scales, dtype)?, zero_points, k, n })
}

/// Whether `MatMulNBits` kernels take this block size.
fn kernel_block(block: i64) -> bool {
    block >= 16 && (block as u64).is_power_of_two()
}

/// Rewrites, in the main graph, every `MatMul` whose B input is a 2-D
/// blocked int4/uint4 DQ weight blocked along K (directly, through a
/// `Cast`, or through a `Transpose` of a `[N, K]` table) as
/// `com.microsoft.MatMulNBits`. A weight some other op also reads (a tied
/// embedding's `Gather`) keeps its one DQ form for all readers, so it is
/// never stored twice; so do block sizes the kernels refuse.
pub fn to_matmulnbits(model: &mut Model) -> Result<NBitsReport> {
    let mut report = NBitsReport::default();
    let g = &mut model.graph;
    let uses = g.uses();
    let count_reads = |name: &str| uses.get(name).map_or(0, Vec::len);
    let mut names = NameGen::for_graph(g);
    // (MatMul index, new node) and the nodes/initializers made dead.
    let mut rewrites: Vec<(usize, Node)> = Vec::new();
    let mut dead_nodes: HashSet<usize> = HashSet::new();
    let mut new_inits: Vec<(String, Tensor)> = Vec::new();
    for (d, node) in g.nodes.iter().enumerate() {
        let Some(w) = ir::quant::match_dq_weight(g, node) else { continue };
        let (Some(block), [_, _]) = (w.block_size, w.q.shape()) else { continue };
        if !matches!(w.q.dtype(), DType::I4 | DType::U4) {
            continue;
        }
        let Some(out) = node.output(0) else { continue };
        let (found, chain, other) = readers(g, &uses, out, w.scale.dtype());
        if found.is_empty() {
            continue;
        }
        let axis = w.axis.unwrap_or(1).rem_euclid(2) as usize;
        let t0 = found[0].transposed;
        let dt0 = found[0].dtype;
        let why = if other {
            Some(KeptDq::SharedWithNonMatMul)
        } else if found.iter().any(|r| r.transposed != t0) {
            Some(KeptDq::BothOrientations)
        } else if found.iter().any(|r| r.dtype != dt0) {
            Some(KeptDq::MixedFloatTypes)
        } else if node.inputs.iter().flatten().any(|i| count_reads(i) != 1) {
            Some(KeptDq::SharedTensors)
        } else if !kernel_block(block) {
            Some(KeptDq::BlockSize(block))
        } else if axis != usize::from(t0) {
            Some(KeptDq::BlocksAlongN)
        } else {
            None
        };
        if let Some(why) = why {
            report.kept_dq.extend(found.iter().map(|r| (g.nodes[r.node].name.clone(), why)));
            continue;
        }
        let p = repack(&w, block as usize, t0, dt0).map_err(|e| e.context(format!("weight '{out}'")))?;
        let b_name = names.fresh(&format!("{out}_Q4"));
        let s_name = names.fresh(&format!("{out}_scales"));
        let z_name = p.zero_points.as_ref().map(|_| names.fresh(&format!("{out}_zero_points")));
        for r in &found {
            let mm = &g.nodes[r.node];
            let mut inputs = vec![mm.inputs[0].clone(), Some(b_name.clone()), Some(s_name.clone())];
            if let Some(z) = &z_name {
                inputs.push(Some(z.clone()));
            }
            let nb = Node {
                op: "MatMulNBits".into(),
                domain: DOMAIN.into(),
                name: mm.name.clone(),
                inputs,
                outputs: mm.outputs.clone(),
                doc: mm.doc.clone(),
                ..Node::default()
            }
            .with_attr("K", Attribute::Int(p.k as i64))
            .with_attr("N", Attribute::Int(p.n as i64))
            .with_attr("bits", Attribute::Int(4))
            .with_attr("block_size", Attribute::Int(block));
            rewrites.push((r.node, nb));
        }
        report.matmulnbits += found.len();
        dead_nodes.insert(d);
        dead_nodes.extend(chain);
        new_inits.push((b_name, p.b));
        new_inits.push((s_name, p.scales));
        if let (Some(z), Some(t)) = (z_name, p.zero_points) {
            new_inits.push((z, t));
        }
    }
    let dead_inits: Vec<String> =
        dead_nodes.iter().flat_map(|&i| g.nodes[i].present_inputs().map(str::to_string).collect::<Vec<_>>()).collect();
    let dead_values: HashSet<String> =
        dead_nodes.iter().flat_map(|&i| g.nodes[i].present_outputs().map(str::to_string).collect::<Vec<_>>()).collect();
    for (i, n) in rewrites {
        g.nodes[i] = n;
    }
    g.initializers.extend(new_inits);
    // The DQ weights and their Cast/Transpose chains, known by their
    // outputs: dead unless another reader (kept as DQ) still needs them.
    loop {
        let uses = g.uses();
        let before = g.nodes.len();
        g.nodes.retain(|n| {
            !(n.present_outputs().any(|o| dead_values.contains(o))
                && n.present_outputs().all(|o| !uses.contains_key(o)))
        });
        if g.nodes.len() == before {
            break;
        }
    }
    let uses = g.uses();
    for name in dead_inits {
        if !uses.contains_key(&name) && g.initializers.contains_key(&name) && !g.inputs.iter().any(|v| v.name == name) {
            g.initializers.shift_remove(&name);
        }
    }
    if report.matmulnbits > 0 && !model.opset_imports.contains_key(DOMAIN) {
        model.opset_imports.insert(DOMAIN.into(), 1);
    }
    Ok(report)
}

/// The blocked DQ weight a `MatMulNBits` node stores, as the IR's convention:
/// integers `[K, N]` blocked along axis 0 (signed when the node has no zero
/// points, whose default `2^(bits-1)` is the signed shift), scales and zero
/// points `[n_blocks, N]`. `Ok(None)` for forms this reader leaves as they
/// are (float zero points, `g_idx`, non-constant inputs).
fn unpack(g: &Graph, node: &Node) -> std::result::Result<Option<QuantizedWeight>, String> {
    let init = |i: usize| node.input(i).filter(|n| !n.is_empty()).map(|n| g.initializers.get(n));
    if node.input(4).is_some_and(|n| !n.is_empty()) {
        return Ok(None);
    }
    let (Some(Some(b)), Some(Some(scales))) = (init(1), init(2)) else { return Ok(None) };
    let zp = match init(3) {
        Some(Some(z)) if z.dtype() == DType::U8 => Some(z),
        Some(_) => return Ok(None),
        None => None,
    };
    let attr = |name: &str| match node.attr(name) {
        Some(a) => a.as_int().map_err(|_| format!("attribute {name} is not an integer")),
        None if name == "bits" => Ok(4),
        None => Err(format!("attribute {name} is missing")),
    };
    let (k, n, bits, block) = (attr("K")?, attr("N")?, attr("bits")?, attr("block_size")?);
    if k <= 0 || n <= 0 {
        return Err(format!("K={k} and N={n} must be positive"));
    }
    if bits != 4 && bits != 8 {
        return Err(format!("bits={bits} is not supported (4 or 8)"));
    }
    if block < 2 || block % 2 != 0 {
        return Err(format!("block_size={block} must be an even number of at least 2"));
    }
    let (k, n, bits, block) = (k as usize, n as usize, bits as usize, block as usize);
    let nb = k.div_ceil(block);
    let blob = block * bits / 8;
    let expect = |t: &Tensor, what: &str, want: Option<usize>| -> std::result::Result<(), String> {
        match want {
            Some(w) if t.numel() == w => Ok(()),
            _ => Err(format!(
                "{what} has {} elements, expected {want:?} for K={k}, N={n}, block_size={block}",
                t.numel()
            )),
        }
    };
    if b.dtype() != DType::U8 {
        return Err(format!("B is {}, expected uint8", b.dtype()));
    }
    expect(b, "B", n.checked_mul(nb).and_then(|x| x.checked_mul(blob)))?;
    if !scales.dtype().is_float() {
        return Err(format!("scales are {}, expected a float type", scales.dtype()));
    }
    expect(scales, "scales", n.checked_mul(nb))?;
    let zrow = (nb * bits).div_ceil(8);
    if let Some(z) = zp {
        expect(z, "zero_points", n.checked_mul(zrow))?;
    }
    let braw = b.raw().ok_or("B has no bytes")?.as_bytes();
    let value =
        |bytes: &[u8], i: usize| -> u8 { if bits == 8 { bytes[i] } else { (bytes[i / 2] >> (4 * (i % 2))) & 0x0f } };
    // [K, N] integers, [nb, N] zero points: transposed from column-major storage.
    let mut q = vec![0u8; k * n];
    for col in 0..n {
        for row in 0..k {
            // Element `row` of column `col`'s blocks (padding skipped).
            let i = col * nb * blob * 8 / bits + row;
            q[row * n + col] = value(braw, i);
        }
    }
    let s: Vec<f64> = scales.to_f64s().map_err(|e| e.to_string())?;
    let mut st = vec![0f64; nb * n];
    for col in 0..n {
        for blk in 0..nb {
            st[blk * n + col] = s[col * nb + blk];
        }
    }
    let scale = floats_as(vec![nb, n], &st, scales.dtype()).map_err(|e| e.to_string())?;
    let to_tensor = |vals: Vec<u8>, signed: bool, shape: Vec<usize>| -> std::result::Result<Tensor, String> {
        let r = match (bits, signed) {
            (8, true) => Tensor::from_vec(shape, vals.into_iter().map(|v| v.wrapping_sub(128) as i8).collect()),
            (8, false) => Tensor::from_vec(shape, vals),
            (_, signed) => {
                let dtype = if signed { DType::I4 } else { DType::U4 };
                let shifted: Vec<u8> =
                    if signed { vals.iter().map(|v| v.wrapping_sub(8) & 0x0f).collect() } else { vals };
                Tensor::from_raw(dtype, shape, Buffer::from_vec(pack(&shifted, 4)))
            }
        };
        r.map_err(|e| e.to_string())
    };
    let w = match zp {
        None => QuantizedWeight {
            q: to_tensor(q, true, vec![k, n])?,
            scale,
            zero_point: None,
            axis: Some(0),
            block_size: Some(block as i64),
        },
        Some(z) => {
            let zraw = z.raw().ok_or("zero_points have no bytes")?.as_bytes();
            let mut zt = vec![0u8; nb * n];
            for col in 0..n {
                for blk in 0..nb {
                    zt[blk * n + col] = value(zraw, col * zrow * 8 / bits + blk);
                }
            }
            QuantizedWeight {
                q: to_tensor(q, false, vec![k, n])?,
                scale,
                zero_point: Some(to_tensor(zt, false, vec![nb, n])?),
                axis: Some(0),
                block_size: Some(block as i64),
            }
        }
    };
    Ok(Some(w))
}

/// `GatherBlockQuantized(data, indices, scales[, zero_points])` in the form
/// onnxruntime's quantizer writes (int4/uint4 `data` of the table's logical
/// shape, `scales` and `zero_points` blocked along `quantize_axis`) is
/// `Gather(DequantizeLinear(data, scales, zero_points), indices)`: returns
/// that weight, the gather axis and the indices. `Ok(None)` for the other
/// forms (uint8-packed `data` with `bits`, uint4 without zero points, whose
/// default this reader does not assume) and non-constant tables.
fn gather_weight(g: &Graph, node: &Node) -> std::result::Result<Option<(QuantizedWeight, i64)>, String> {
    let init = |i: usize| node.input(i).filter(|n| !n.is_empty()).map(|n| g.initializers.get(n));
    let (Some(Some(data)), Some(Some(scales))) = (init(0), init(2)) else { return Ok(None) };
    let zp = match init(3) {
        Some(Some(z)) => Some(z),
        Some(None) => return Ok(None),
        None => None,
    };
    if !matches!(data.dtype(), DType::I4 | DType::U4) || (data.dtype() == DType::U4 && zp.is_none()) {
        return Ok(None);
    }
    let rank = data.shape().len() as i64;
    let int = |name: &str, default: i64| match node.attr(name) {
        Some(a) => a.as_int().map_err(|_| format!("attribute {name} is not an integer")),
        None => Ok(default),
    };
    let (gather_axis, quantize_axis, block) =
        (int("gather_axis", 0)?, int("quantize_axis", 1)?, int("block_size", 128)?);
    let axis_ok = |a: i64| (-rank..rank).contains(&a);
    if rank == 0 || !axis_ok(gather_axis) || !axis_ok(quantize_axis) {
        return Err(format!("gather_axis={gather_axis} or quantize_axis={quantize_axis} out of range for rank {rank}"));
    }
    if block < 1 {
        return Err(format!("block_size={block} must be positive"));
    }
    let qa = quantize_axis.rem_euclid(rank) as usize;
    let want: Vec<usize> =
        data.shape().iter().enumerate().map(|(i, &d)| if i == qa { d.div_ceil(block as usize) } else { d }).collect();
    if scales.shape() != want.as_slice() || !scales.dtype().is_float() {
        return Err(format!(
            "scales {:?} of {} do not fit blocks of {block} of data {:?}",
            scales.shape(),
            scales.dtype(),
            data.shape()
        ));
    }
    if let Some(z) = zp
        && (z.shape() != want.as_slice() || z.dtype() != data.dtype())
    {
        return Err(format!("zero_points {:?} of {} do not match the scales and data", z.shape(), z.dtype()));
    }
    let w = QuantizedWeight {
        q: data.clone(),
        scale: scales.clone(),
        zero_point: zp.cloned(),
        axis: Some(qa as i64),
        block_size: Some(block),
    };
    Ok(Some((w, gather_axis)))
}

/// The opset whose `DequantizeLinear` takes `block_size`.
const BLOCKED_DQ_OPSET: i64 = 21;

/// Rewrites each `com.microsoft.MatMulNBits` of the main graph as the IR's
/// convention: a blocked `DequantizeLinear` of constants feeding a `MatMul`
/// (plus an `Add` for a bias); from opset 21, `GatherBlockQuantized` in
/// its int4/uint4 form becomes a blocked DQ feeding a `Gather`. Below opset 21, which has no blocked DQ, the
/// weight is stored dequantized (f32 arithmetic, in the scales' type).
/// Nodes in forms this reader does not take (`g_idx`, float zero points,
/// non-constant weights) stay as they are. Returns the number rewritten.
pub fn lower(model: &mut Model, path: &Path) -> Result<usize> {
    let blocked = model.onnx_opset() >= BLOCKED_DQ_OPSET;
    let g = &mut model.graph;
    let mut names = NameGen::for_graph(g);
    let mut out: Vec<Node> = Vec::with_capacity(g.nodes.len());
    let mut done = 0;
    let mut consumed: Vec<String> = Vec::new();
    let nodes = std::mem::take(&mut g.nodes);
    for node in nodes {
        if node.op == "GatherBlockQuantized" && node.domain == DOMAIN && blocked {
            let (w, axis) = match gather_weight(g, &node) {
                Ok(Some(w)) => w,
                Ok(None) => {
                    out.push(node);
                    continue;
                }
                Err(m) => {
                    g.nodes = out;
                    return Err(Error::malformed(path, format!("{}: {m}", node.describe())));
                }
            };
            let (Some(y), Some(indices)) = (node.output(0).map(str::to_string), node.input(1).map(str::to_string))
            else {
                out.push(node);
                continue;
            };
            consumed.extend([0, 2, 3].iter().filter_map(|&i| node.input(i)).map(str::to_string));
            let base = if node.name.is_empty() { y.clone() } else { node.name.clone() };
            let table = names.fresh(&format!("{base}_table"));
            let dq = DqNames::fresh(&mut names, &table);
            out.push(ir::quant::dq_weight_node(g, w, &dq, &table));
            out.push(
                Node::new("Gather", [table, indices], [y])
                    .named(node.name.clone())
                    .with_attr("axis", Attribute::Int(axis)),
            );
            done += 1;
            continue;
        }
        if node.op != "MatMulNBits" || node.domain != DOMAIN {
            out.push(node);
            continue;
        }
        let w = match unpack(g, &node) {
            Ok(Some(w)) => w,
            Ok(None) => {
                out.push(node);
                continue;
            }
            Err(m) => {
                g.nodes = out;
                return Err(Error::malformed(path, format!("{}: {m}", node.describe())));
            }
        };
        let Some(y) = node.output(0).map(str::to_string) else {
            out.push(node);
            continue;
        };
        let base = if node.name.is_empty() { y.clone() } else { node.name.clone() };
        let weight = names.fresh(&format!("{base}_weight"));
        if blocked {
            let dq = DqNames::fresh(&mut names, &weight);
            out.push(ir::quant::dq_weight_node(g, w, &dq, &weight));
        } else {
            let v = dequantized(&w).map_err(|e| Error::malformed(path, format!("{}: {e}", node.describe())))?;
            g.initializers.insert(weight.clone(), v);
        }
        consumed.extend(node.inputs[1..node.inputs.len().min(4)].iter().flatten().cloned());
        let a = node.input(0).unwrap_or_default().to_string();
        let bias = node.input(5).filter(|b| !b.is_empty()).map(str::to_string);
        let mm_out = if bias.is_some() { names.fresh(&format!("{y}_matmul")) } else { y.clone() };
        out.push(Node::new("MatMul", [a, weight], [mm_out.clone()]).named(node.name.clone()));
        if let Some(bias) = bias {
            out.push(Node::new("Add", [mm_out, bias], [y]).named(names.fresh(&format!("{base}_bias"))));
        }
        done += 1;
    }
    g.nodes = out;
    // The packed tensors, unless something else reads them too.
    let uses = g.uses();
    for name in consumed {
        if !uses.contains_key(&name) && !g.inputs.iter().any(|v| v.name == name) {
            g.initializers.shift_remove(&name);
        }
    }
    if done > 0 && !model.graph.nodes.iter().any(|n| n.domain == DOMAIN) {
        model.opset_imports.shift_remove(DOMAIN);
    }
    Ok(done)
}

/// A 2-D blocked DQ weight's float values (f32 arithmetic, stored in the scales' type).
fn dequantized(w: &QuantizedWeight) -> Result<Tensor> {
    let (k, n) = (w.q.shape()[0], w.q.shape()[1]);
    let block = w.block_size.unwrap_or(1) as usize;
    let along_rows = w.axis.unwrap_or(1).rem_euclid(2) == 0;
    let q: Vec<i64> = match w.q.dtype() {
        DType::I4 | DType::U4 => nibbles(&w.q)?.into_iter().map(i64::from).collect(),
        _ => w.q.to_i64s()?,
    };
    let z: Vec<i64> = match &w.zero_point {
        Some(z) if matches!(z.dtype(), DType::I4 | DType::U4) => nibbles(z)?.into_iter().map(i64::from).collect(),
        Some(z) => z.to_i64s()?,
        None => vec![0; w.scale.numel()],
    };
    let s = w.scale.to_f64s()?;
    let v: Vec<f64> = (0..k * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            let p = if along_rows { (r / block) * n + c } else { r * n.div_ceil(block) + c / block };
            f64::from((q[i] - z[p]) as f32 * s[p] as f32)
        })
        .collect();
    floats_as(vec![k, n], &v, w.scale.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::ValueInfo;

    /// A `[rows, cols]` 4-bit weight with blocks of `block` along `axis`,
    /// deterministic pseudo-random values.
    fn weight(rows: usize, cols: usize, axis: usize, block: usize, signed: bool, zp: bool) -> QuantizedWeight {
        let vals: Vec<u8> = (0..rows * cols).map(|i| ((i * 7 + i / 5) % 16) as u8).collect();
        let dtype = if signed { DType::I4 } else { DType::U4 };
        let q = Tensor::from_raw(dtype, vec![rows, cols], Buffer::from_vec(pack(&vals, 4))).unwrap();
        let sshape = if axis == 0 { vec![rows.div_ceil(block), cols] } else { vec![rows, cols.div_ceil(block)] };
        let ns: usize = sshape.iter().product();
        let scale = Tensor::from_vec(sshape.clone(), (0..ns).map(|i| 0.01 + i as f32 * 0.003).collect()).unwrap();
        let zero_point = zp.then(|| {
            let z: Vec<u8> = (0..ns).map(|i| (i % 16) as u8).collect();
            Tensor::from_raw(dtype, sshape, Buffer::from_vec(pack(&z, 4))).unwrap()
        });
        QuantizedWeight { q, scale, zero_point, axis: Some(axis as i64), block_size: Some(block as i64) }
    }

    /// `x → MatMul(x, [Transpose] DQ(w))`, with an extra `Gather` of the weight when `tied`.
    fn model(w: QuantizedWeight, transposed: bool, tied: bool) -> Model {
        let mut m = Model::default();
        m.opset_imports.insert(String::new(), 21);
        let g = &mut m.graph;
        let mut names = NameGen::for_graph(g);
        let dq = DqNames::fresh(&mut names, "w");
        let node = ir::quant::dq_weight_node(g, w, &dq, "w");
        g.nodes.push(node);
        let b = if transposed {
            g.nodes.push(Node::new("Transpose", ["w"], ["wt"]).named("t"));
            "wt"
        } else {
            "w"
        };
        g.nodes.push(Node::new("MatMul", ["x", b], ["y"]).named("mm"));
        g.inputs.push(ValueInfo::tensor("x", DType::F32, ir::Shape::fixed(&[2, 40])));
        g.outputs.push(ValueInfo::tensor("y", DType::F32, ir::Shape::fixed(&[2, 3])));
        if tied {
            g.initializers.insert("ids".into(), Tensor::from_vec(vec![1], vec![0i64]).unwrap());
            g.nodes.push(Node::new("Gather", ["w", "ids"], ["e"]).named("gather"));
            g.outputs.push(ValueInfo::tensor("e", DType::F32, ir::Shape::fixed(&[1, 40])));
        }
        m
    }

    /// The float weight a model's first DQ (or stored weight) computes, as `[K, N]`.
    fn weight_of(m: &Model) -> Vec<f64> {
        let g = &m.graph;
        let dq = g.nodes.iter().find(|n| n.op == "DequantizeLinear").expect("a DQ");
        let w = ir::quant::match_dq_weight(g, dq).unwrap();
        let qw = QuantizedWeight {
            q: w.q.clone(),
            scale: w.scale.clone(),
            zero_point: w.zero_point.cloned(),
            axis: w.axis,
            block_size: w.block_size,
        };
        dequantized(&qw).unwrap().to_f64s().unwrap()
    }

    #[test]
    fn round_trips_through_matmulnbits() {
        // K = 40 is not a multiple of 16: the last block is padded.
        for (transposed, signed, zp) in
            [(false, true, false), (true, true, false), (false, false, true), (true, false, true)]
        {
            let w = if transposed { weight(3, 40, 1, 16, signed, zp) } else { weight(40, 3, 0, 16, signed, zp) };
            let original = model(w, transposed, false);
            let mut want = weight_of(&original);
            if transposed {
                want = (0..40 * 3).map(|i| want[(i % 3) * 40 + i / 3]).collect();
            }
            let mut m = original.clone();
            let r = to_matmulnbits(&mut m).unwrap();
            assert_eq!((r.matmulnbits, r.kept_dq.len()), (1, 0));
            let g = &m.graph;
            assert_eq!(g.nodes.len(), 1, "DQ and Transpose removed: {:?}", g.nodes);
            let n = &g.nodes[0];
            assert_eq!((n.op.as_str(), n.domain.as_str()), ("MatMulNBits", DOMAIN));
            assert_eq!((n.attr_int("K", 0).unwrap(), n.attr_int("N", 0).unwrap()), (40, 3));
            let b = &g.initializers[n.input(1).unwrap()];
            assert_eq!(b.shape(), &[3, 3, 8]);
            assert_eq!(g.initializers[n.input(2).unwrap()].shape(), &[9]);
            // Zero points only for asymmetric weights: 3 columns of 2 bytes (3 blocks, padded).
            assert_eq!(n.input(3).map(|z| g.initializers[z].shape().to_vec()), zp.then(|| vec![6]));
            assert_eq!(g.initializers.len(), 2 + usize::from(zp), "old weight removed");
            // Padding past K holds the zero point (dequantizes to 0).
            let raw = b.raw().unwrap().as_bytes();
            assert_eq!(raw[2 * 8 + 4] & 0x0f, if zp { raw[2 * 8 + 4] & 0x0f } else { 8 });

            let mut back = m.clone();
            assert_eq!(lower(&mut back, Path::new("t.onnx")).unwrap(), 1);
            assert!(!back.opset_imports.contains_key(DOMAIN));
            assert_eq!(back.graph.initializers.len(), 2 + usize::from(zp), "packed tensors dropped");
            let got = weight_of(&back);
            assert_eq!(got, want, "transposed={transposed} signed={signed} zp={zp}");
            let dq = back.graph.nodes.iter().find(|n| n.op == "DequantizeLinear").unwrap();
            let q = &back.graph.initializers[dq.input(0).unwrap()];
            assert_eq!(q.dtype(), if zp { DType::U4 } else { DType::I4 });
        }
    }

    #[test]
    fn tied_weights_and_refused_blocks_keep_dq() {
        let mut m = model(weight(3, 40, 1, 16, true, false), true, true);
        let before = m.clone();
        let r = to_matmulnbits(&mut m).unwrap();
        assert_eq!((r.matmulnbits, r.kept_dq.len()), (0, 1));
        assert_eq!(r.kept_dq[0].1, KeptDq::SharedWithNonMatMul);
        assert_eq!(m, before);

        let mut m = model(weight(40, 3, 0, 8, true, false), false, false);
        let r = to_matmulnbits(&mut m).unwrap();
        assert_eq!(r.matmulnbits, 0);
        assert_eq!(r.kept_dq[0].1, KeptDq::BlockSize(8));
        assert!(r.lines()[0].contains("0 MatMul(s) as com.microsoft.MatMulNBits, 1 kept"));
    }

    #[test]
    fn malformed_nodes_are_refused() {
        let mut m = model(weight(40, 3, 0, 16, true, false), false, false);
        to_matmulnbits(&mut m).unwrap();
        let b = m.graph.nodes[0].input(1).unwrap().to_string();
        // B one byte short of N · n_blocks · blob.
        m.graph.initializers.insert(b, Tensor::from_vec(vec![71], vec![0u8; 71]).unwrap());
        let e = lower(&mut m.clone(), Path::new("bad.onnx")).unwrap_err().to_string();
        assert!(e.contains("bad.onnx") && e.contains("B has 71 elements"), "{e}");
        m.graph.nodes[0].attrs.insert("K".into(), Attribute::Int(-1));
        let e = lower(&mut m, Path::new("bad.onnx")).unwrap_err().to_string();
        assert!(e.contains("must be positive"), "{e}");
    }

    #[test]
    fn gather_block_quantized_reads_as_dq_and_gather() {
        for zp in [false, true] {
            let w = weight(6, 40, 1, 16, !zp, zp);
            let mut m = Model::default();
            m.opset_imports.insert(String::new(), 21);
            let g = &mut m.graph;
            g.initializers.insert("data".into(), w.q.clone());
            g.initializers.insert("scales".into(), w.scale.clone());
            let mut inputs = vec!["data", "ids", "scales"];
            if let Some(z) = &w.zero_point {
                g.initializers.insert("zp".into(), z.clone());
                inputs.push("zp");
            }
            let node = Node::new("GatherBlockQuantized", inputs, ["e"])
                .in_domain(DOMAIN)
                .named("gbq")
                .with_attr("quantize_axis", Attribute::Int(1))
                .with_attr("block_size", Attribute::Int(16));
            g.nodes.push(node);
            g.inputs.push(ValueInfo::tensor("ids", DType::I64, ir::Shape::fixed(&[3])));
            g.outputs.push(ValueInfo::tensor("e", DType::F32, ir::Shape::fixed(&[3, 40])));
            let mut bad = m.clone();
            assert_eq!(lower(&mut m, Path::new("t.onnx")).unwrap(), 1);
            let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.as_str()).collect();
            assert_eq!(ops, ["DequantizeLinear", "Gather"]);
            assert_eq!(m.graph.nodes[1].attr_int("axis", -1).unwrap(), 0);
            let got = ir::quant::match_dq_weight(&m.graph, &m.graph.nodes[0]).unwrap();
            assert_eq!((got.q, got.scale, got.zero_point), (&w.q, &w.scale, w.zero_point.as_ref()));
            assert_eq!((got.axis, got.block_size), (Some(1), Some(16)));
            assert!(!m.graph.initializers.contains_key("data"), "the table is stored once");

            bad.graph.initializers.insert("scales".into(), Tensor::from_vec(vec![6, 2], vec![1f32; 12]).unwrap());
            let e = lower(&mut bad, Path::new("bad.onnx")).unwrap_err().to_string();
            assert!(e.contains("bad.onnx") && e.contains("do not fit blocks of 16"), "{e}");
        }
    }

    #[test]
    fn below_opset_21_weights_are_stored_dequantized() {
        let mut m = model(weight(40, 3, 0, 16, false, true), false, false);
        let want = weight_of(&m);
        to_matmulnbits(&mut m).unwrap();
        m.opset_imports.insert(String::new(), 17);
        lower(&mut m, Path::new("t.onnx")).unwrap();
        let mm = &m.graph.nodes[0];
        assert_eq!(mm.op, "MatMul");
        assert_eq!(m.graph.initializers[mm.input(1).unwrap()].to_f64s().unwrap(), want);
    }
}
