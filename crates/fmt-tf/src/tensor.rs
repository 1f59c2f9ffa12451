//! `TensorProto` → [`ir::Tensor`], and TensorFlow shapes.
//!
//! `tensor_content` becomes a view of the buffer the protobuf was decoded
//! from (no copy). The typed `*_val` fields follow TensorFlow's rule that
//! the last value repeats to fill the shape (a `Const` of shape `[1000]`
//! with one `float_val` is 1000 copies), and no values at all means zeros.
//! That expansion is bounded per tensor and, summed over the file, by
//! `Limits::max_inflated_bytes` (it is run-length decompression): checked
//! before anything is allocated.

use std::path::Path;

use bytes::Bytes;
use ir::{Buffer, DType, Error, Limit, Limits, Result, Tensor};

use crate::dtype;
use crate::generated::tensorflow::{TensorProto, TensorShapeProto};
use crate::graph::TfShape;

/// Largest tensor the typed `*_val` fields may expand to: they store
/// values one by one, so a huge declared shape over a few values is either
/// a fill constant nobody means to materialize or a hostile file.
const MAX_EXPANDED_BYTES: u64 = 1 << 32;
/// What one `Vec<u8>` costs beyond its bytes, for bounding string tensors.
const STRING_OVERHEAD: u64 = 24;

/// The bytes typed `*_val` fields may still expand to in one file (see the
/// module documentation).
#[derive(Debug, Clone)]
pub struct Expansion {
    limits: Limits,
    used: u64,
}

impl Expansion {
    /// A budget of `limits.max_inflated_bytes`.
    pub fn new(limits: &Limits) -> Self {
        Expansion { limits: *limits, used: 0 }
    }

    /// Takes `bytes` from the budget, or says which limit it would break.
    fn take(&mut self, bytes: u64, shape: &[usize]) -> std::result::Result<(), String> {
        if bytes > MAX_EXPANDED_BYTES {
            return Err(format!("shape {shape:?} would expand to {bytes} bytes from typed values"));
        }
        let used = self.used.saturating_add(bytes);
        if used > self.limits.max_inflated_bytes {
            let what = format!("typed values expanded to shape {shape:?}");
            return Err(self.limits.message(Limit::InflatedBytes, &what));
        }
        self.used = used;
        Ok(())
    }
}

/// How many bytes TensorFlow stores for `numel` elements of `dtype`
/// (`tensor_content`, checkpoint entries): 4-bit integers take a byte each.
pub fn content_len(dtype: DType, numel: u64) -> Option<u64> {
    if matches!(dtype, DType::I4 | DType::U4) { Some(numel) } else { dtype.byte_len(numel) }
}

/// A shape proto as a [`TfShape`] (`-1` and unknown rank become `None`).
pub fn shape_of(shape: Option<&TensorShapeProto>) -> TfShape {
    let shape = shape?;
    if shape.unknown_rank {
        return None;
    }
    Some(shape.dim.iter().map(|d| (d.size >= 0).then_some(d.size)).collect())
}

/// The concrete dimensions of a tensor's shape, or an error naming `what`.
pub fn concrete_dims(shape: Option<&TensorShapeProto>, what: &str) -> std::result::Result<Vec<usize>, String> {
    let Some(shape) = shape else { return Ok(Vec::new()) };
    if shape.unknown_rank {
        return Err(format!("{what} has an unknown rank"));
    }
    shape
        .dim
        .iter()
        .map(|d| usize::try_from(d.size).map_err(|_| format!("{what} has dimension {} in its shape", d.size)))
        .collect()
}

/// The IR dtype of a TF code, or a message naming the code.
pub fn ir_dtype(code: i32, what: &str) -> std::result::Result<DType, String> {
    dtype::to_ir(code).ok_or_else(|| match dtype::name(code) {
        Some(name) => format!("{what} has dtype {name}, which the IR cannot hold"),
        None => format!("{what} has unknown dtype code {code}"),
    })
}

/// Decodes `proto`. `source` is the buffer it was decoded from (so
/// `tensor_content` stays linked to its memory map); errors are
/// [`Error::Malformed`] for `path`, prefixed with `what` (e.g. the node).
/// Typed values draw on `budget`.
pub fn decode(proto: &TensorProto, source: &Buffer, budget: &mut Expansion, path: &Path, what: &str) -> Result<Tensor> {
    decode_inner(proto, source, budget).map_err(|m| Error::malformed(path, format!("{what}: {m}")))
}

fn decode_inner(p: &TensorProto, source: &Buffer, budget: &mut Expansion) -> std::result::Result<Tensor, String> {
    let dtype = ir_dtype(p.dtype, "tensor")?;
    let shape = concrete_dims(p.tensor_shape.as_ref(), "tensor")?;
    let numel = ir::checked_numel(&shape).ok_or_else(|| format!("shape {shape:?} has too many elements"))?;
    if dtype == DType::String {
        return strings(shape, numel, &p.string_val, budget);
    }
    if !p.tensor_content.is_empty() {
        return from_content(dtype, shape, numel, source.adopt(p.tensor_content.clone()));
    }
    // Expanded size, checked before any allocation. 4-bit values are
    // expanded one per byte before they are packed.
    let size = if matches!(dtype, DType::I4 | DType::U4) { Some(numel) } else { dtype.byte_len(numel) };
    let bytes = match size {
        Some(n) => n,
        None if dtype.bits().is_some() => {
            return Err(format!("shape {shape:?} of {dtype} has more bytes than a file can"));
        }
        None => return Err(format!("{dtype} tensors have no byte layout")),
    };
    budget.take(bytes, &shape)?;
    let n = usize::try_from(numel).map_err(|_| format!("shape {shape:?} has too many elements"))?;
    let err = |e: Error| e.to_string();
    match dtype {
        DType::F32 => Tensor::from_vec(shape, fill(&p.float_val, n, "float_val")?).map_err(err),
        DType::F64 => Tensor::from_vec(shape, fill(&p.double_val, n, "double_val")?).map_err(err),
        DType::I64 => Tensor::from_vec(shape, fill(&p.int64_val, n, "int64_val")?).map_err(err),
        DType::U32 => Tensor::from_vec(shape, fill(&p.uint32_val, n, "uint32_val")?).map_err(err),
        DType::U64 => Tensor::from_vec(shape, fill(&p.uint64_val, n, "uint64_val")?).map_err(err),
        DType::I32 => Tensor::from_vec(shape, fill(&p.int_val, n, "int_val")?).map_err(err),
        // Narrow integers travel in `int_val`; TF truncates them the same way.
        DType::I16 => Tensor::from_vec(shape, narrow(&p.int_val, n, |v| v as i16)?).map_err(err),
        DType::U16 => Tensor::from_vec(shape, narrow(&p.int_val, n, |v| v as u16)?).map_err(err),
        DType::I8 => Tensor::from_vec(shape, narrow(&p.int_val, n, |v| v as i8)?).map_err(err),
        DType::U8 => Tensor::from_vec(shape, narrow(&p.int_val, n, |v| v as u8)?).map_err(err),
        DType::Bool => Tensor::from_bools(shape, &fill(&p.bool_val, n, "bool_val")?).map_err(err),
        DType::F16 => {
            let v = narrow(&p.half_val, n, |v| half::f16::from_bits(v as u16))?;
            Tensor::from_vec(shape, v).map_err(err)
        }
        DType::BF16 => {
            let v = narrow(&p.half_val, n, |v| half::bf16::from_bits(v as u16))?;
            Tensor::from_vec(shape, v).map_err(err)
        }
        DType::C64 => {
            let pairs = fill(&pairs_of(&p.scomplex_val, "scomplex_val")?, n, "scomplex_val")?;
            let flat: Vec<f32> = pairs.into_iter().flatten().collect();
            Tensor::from_raw(dtype, shape, Buffer::from_typed_vec(flat)).map_err(err)
        }
        DType::C128 => {
            let pairs = fill(&pairs_of(&p.dcomplex_val, "dcomplex_val")?, n, "dcomplex_val")?;
            let flat: Vec<f64> = pairs.into_iter().flatten().collect();
            Tensor::from_raw(dtype, shape, Buffer::from_typed_vec(flat)).map_err(err)
        }
        DType::F8E5M2 | DType::F8E4M3FN => {
            let v = fill(&p.float8_val, n, "float8_val")?;
            Tensor::from_raw(dtype, shape, Buffer::from_vec(v)).map_err(err)
        }
        DType::I4 | DType::U4 => {
            let v = narrow(&p.int_val, n, |v| v as u8)?;
            Tensor::from_raw(dtype, shape, Buffer::from_vec(pack_nibbles(&v))).map_err(err)
        }
        other => Err(format!("{other} tensors are not read from typed values")),
    }
}

/// A tensor over little-endian element bytes (`tensor_content`, or a
/// checkpoint's data). TensorFlow keeps 4-bit integers one per byte; the IR
/// packs them two per byte, so those are the one case that copies.
pub fn from_content(dtype: DType, shape: Vec<usize>, numel: u64, data: Buffer) -> std::result::Result<Tensor, String> {
    let expected = match content_len(dtype, numel) {
        Some(n) => n,
        None if dtype.bits().is_some() => {
            return Err(format!("shape {shape:?} of {dtype} has more bytes than a file can"));
        }
        None => return Err(format!("{dtype} tensors have no byte layout")),
    };
    if data.len() as u64 != expected {
        return Err(format!("{dtype} tensor of shape {shape:?} needs {expected} bytes, got {}", data.len()));
    }
    if matches!(dtype, DType::I4 | DType::U4) {
        return Tensor::from_raw(dtype, shape, Buffer::from_vec(pack_nibbles(&data))).map_err(|e| e.to_string());
    }
    Tensor::from_raw(dtype, shape, data).map_err(|e| e.to_string())
}

/// One element per byte → two per byte, low nibble first.
fn pack_nibbles(values: &[u8]) -> Vec<u8> {
    values.chunks(2).map(|c| (c.first().copied().unwrap_or(0) & 0x0f) | (c.get(1).copied().unwrap_or(0) << 4)).collect()
}

/// A string tensor from `string_val`, with the repeat-last rule.
fn strings(
    shape: Vec<usize>,
    numel: u64,
    vals: &[Bytes],
    budget: &mut Expansion,
) -> std::result::Result<Tensor, String> {
    let Some(last) = vals.last() else {
        if numel > 0 {
            return Err(format!("string tensor of shape {shape:?} has no string_val"));
        }
        return Tensor::from_strings(shape, Vec::new()).map_err(|e| e.to_string());
    };
    // Each repeated string is a copy of the last one and a Vec header.
    let repeated = numel.saturating_sub(vals.len() as u64);
    let listed: u64 = vals.iter().map(|v| v.len() as u64 + STRING_OVERHEAD).sum();
    let bytes = repeated.saturating_mul(last.len() as u64 + STRING_OVERHEAD).saturating_add(listed);
    budget.take(bytes, &shape)?;
    let n = usize::try_from(numel).map_err(|_| format!("shape {shape:?} has too many elements"))?;
    let v = fill(&vals.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), n, "string_val")?;
    Tensor::from_strings(shape, v).map_err(|e| e.to_string())
}

/// `vals` stretched to `n` elements: TF repeats the last value, and no
/// values means zeros.
fn fill<T: Clone + Default>(vals: &[T], n: usize, field: &str) -> std::result::Result<Vec<T>, String> {
    if vals.len() > n {
        return Err(format!("{field} has {} values for {n} elements", vals.len()));
    }
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(vals);
    out.resize(n, vals.last().cloned().unwrap_or_default());
    Ok(out)
}

/// [`fill`] of `int_val`-style fields holding a narrower type.
fn narrow<T: Clone + Default>(vals: &[i32], n: usize, f: impl Fn(i32) -> T) -> std::result::Result<Vec<T>, String> {
    fill(&vals.iter().map(|&v| f(v)).collect::<Vec<_>>(), n, "int_val")
}

/// (real, imaginary) pairs of a complex field.
fn pairs_of<T: Copy + Default>(vals: &[T], field: &str) -> std::result::Result<Vec<[T; 2]>, String> {
    if !vals.len().is_multiple_of(2) {
        return Err(format!("{field} has an odd number of values"));
    }
    Ok(vals.chunks_exact(2).filter_map(|c| <[T; 2]>::try_from(c).ok()).collect())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::generated::tensorflow::tensor_shape_proto::Dim;

    fn shape(dims: &[i64]) -> Option<TensorShapeProto> {
        Some(TensorShapeProto {
            dim: dims.iter().map(|&size| Dim { size, name: String::new() }).collect(),
            unknown_rank: false,
        })
    }

    fn dec(p: &TensorProto) -> std::result::Result<Tensor, String> {
        decode_inner(p, &Buffer::new(), &mut Expansion::new(&Limits::default()))
    }

    #[test]
    fn last_value_fills_the_shape() {
        let p = TensorProto { dtype: 1, tensor_shape: shape(&[2, 3]), float_val: vec![1.0, 2.0], ..Default::default() };
        let t = dec(&p).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(&*t.as_slice::<f32>().unwrap(), &[1.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
        let zeros = TensorProto { dtype: 9, tensor_shape: shape(&[3]), ..Default::default() };
        assert_eq!(&*dec(&zeros).unwrap().as_slice::<i64>().unwrap(), &[0, 0, 0]);
        let scalar = TensorProto { dtype: 3, int_val: vec![7], ..Default::default() };
        assert_eq!(dec(&scalar).unwrap().shape(), &[] as &[usize]);
        let too_many =
            TensorProto { dtype: 1, tensor_shape: shape(&[1]), float_val: vec![1.0, 2.0], ..Default::default() };
        assert!(dec(&too_many).unwrap_err().contains("2 values for 1"));
        let huge =
            TensorProto { dtype: 1, tensor_shape: shape(&[1 << 40]), float_val: vec![1.0], ..Default::default() };
        assert!(dec(&huge).unwrap_err().contains("would expand"));
        let negative = TensorProto { dtype: 1, tensor_shape: shape(&[-1]), ..Default::default() };
        assert!(dec(&negative).unwrap_err().contains("dimension -1"));
    }

    #[test]
    fn half_strings_bools_narrow_and_int4() {
        let h = TensorProto { dtype: 19, tensor_shape: shape(&[2]), half_val: vec![0x3c00], ..Default::default() };
        assert_eq!(&*dec(&h).unwrap().as_slice::<half::f16>().unwrap(), &[half::f16::ONE; 2]);
        let b = TensorProto { dtype: 14, tensor_shape: shape(&[1]), half_val: vec![0x3f80], ..Default::default() };
        assert_eq!(dec(&b).unwrap().as_slice::<half::bf16>().unwrap()[0], half::bf16::ONE);
        let s = TensorProto {
            dtype: 7,
            tensor_shape: shape(&[2]),
            string_val: vec![Bytes::from_static(b"ab")],
            ..Default::default()
        };
        assert_eq!(dec(&s).unwrap().strings().unwrap(), &[b"ab".to_vec(), b"ab".to_vec()]);
        let bools =
            TensorProto { dtype: 10, tensor_shape: shape(&[2]), bool_val: vec![true, false], ..Default::default() };
        assert_eq!(dec(&bools).unwrap().to_bools().unwrap(), [true, false]);
        let i8s = TensorProto { dtype: 6, tensor_shape: shape(&[2]), int_val: vec![-3, 5], ..Default::default() };
        assert_eq!(&*dec(&i8s).unwrap().as_slice::<i8>().unwrap(), &[-3, 5]);
        let i4 = TensorProto { dtype: 29, tensor_shape: shape(&[3]), int_val: vec![1, -2, 3], ..Default::default() };
        assert_eq!(dec(&i4).unwrap().raw().unwrap().as_bytes(), &[0xe1, 0x03]);
        let c = TensorProto { dtype: 8, tensor_shape: shape(&[2]), scomplex_val: vec![1.0, 2.0], ..Default::default() };
        assert_eq!(&*dec(&c).unwrap().raw().unwrap().typed::<f32>().unwrap(), &[1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn content_is_a_view_and_its_length_is_checked() {
        let source = Buffer::from_vec((0u8..16).collect());
        let content = source.to_bytes().slice(4..12);
        let p = TensorProto { dtype: 1, tensor_shape: shape(&[2]), tensor_content: content, ..Default::default() };
        let t = decode_inner(&p, &source, &mut Expansion::new(&Limits::default())).unwrap();
        assert_eq!(t.raw().unwrap().as_ptr(), source[4..].as_ptr());
        let short = TensorProto { tensor_shape: shape(&[3]), ..p };
        assert!(
            decode_inner(&short, &source, &mut Expansion::new(&Limits::default()))
                .unwrap_err()
                .contains("needs 12 bytes")
        );
        let bad = TensorProto { dtype: 20, ..Default::default() };
        assert!(dec(&bad).unwrap_err().contains("DT_RESOURCE"));
        let mut budget = Expansion::new(&Limits::default());
        let err = decode(&bad, &Buffer::new(), &mut budget, Path::new("m.pb"), "node 'c'").unwrap_err();
        assert!(err.to_string().starts_with("m.pb: node 'c': tensor has dtype DT_RESOURCE"), "{err}");
    }
}
