//! `TensorProto` ⇄ [`ir::Tensor`], in `raw_data`, typed fields or external data.
//!
//! Import reads dims, lengths and offsets from a file, so indexing is
//! denied: every size is checked against the bytes present before use.
#![deny(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ir::{Buffer, DType, Tensor, TensorData};

use crate::dtype;
use crate::generated::onnx::{StringStringEntryProto, TensorProto, tensor_proto::DataLocation};

/// Reads tensors' external data, mapping each referenced file once.
#[derive(Debug)]
pub(crate) struct ExternalData {
    dir: PathBuf,
    files: HashMap<PathBuf, Buffer>,
    /// The mapped model file the protobuf was decoded from, if any.
    source: Option<Buffer>,
}

impl ExternalData {
    pub(crate) fn new(model_path: &Path) -> Self {
        ExternalData { dir: ir::io::parent_dir(model_path).to_path_buf(), files: HashMap::new(), source: None }
    }

    /// Links inline `raw_data` to the mapped file it was decoded from.
    pub(crate) fn with_source(mut self, source: Buffer) -> Self {
        self.source = Some(source);
        self
    }

    /// A buffer for inline bytes, still linked to the mapped file if they lie in it.
    fn inline(&self, b: &bytes::Bytes) -> Buffer {
        match &self.source {
            Some(s) => s.adopt(b.clone()),
            None => Buffer::from_bytes(b.clone()),
        }
    }

    fn load(&mut self, t: &TensorProto, expected: u64) -> Result<Buffer, String> {
        let (mut location, mut offset, mut length) = (None, 0u64, None);
        for StringStringEntryProto { key, value } in &t.external_data {
            let num =
                |v: &str| v.trim().parse::<u64>().map_err(|_| format!("external data {key} '{v}' is not a number"));
            match key.as_str() {
                "location" => location = Some(value.as_str()),
                "offset" => offset = num(value)?,
                "length" => length = Some(num(value)?),
                _ => {} // checksum and future keys are informational
            }
        }
        let location = location.ok_or("external data has no 'location'")?;
        let path = ir::io::resolve_inside(&self.dir, location).map_err(|e| format!("external data {e}"))?;
        let file = match self.files.get(&path) {
            Some(b) => b.clone(),
            None => {
                let b = Buffer::map_file(&path).map_err(|e| format!("external data: {e}"))?;
                self.files.insert(path.clone(), b.clone());
                b
            }
        };
        let len = length.unwrap_or(expected);
        if len != expected {
            return Err(format!(
                "external data length {len} does not match the {expected} bytes its dtype and shape need"
            ));
        }
        file.slice_u64(offset, len).map_err(|_| {
            format!(
                "external data {offset}..{} is past the end of '{location}' ({} bytes)",
                offset.saturating_add(len),
                file.len()
            )
        })
    }
}

/// Shape of a proto tensor, checked: non-negative dims and an element count that fits.
pub(crate) fn shape_of(dims: &[i64]) -> Result<(Vec<usize>, u64), String> {
    let mut numel: u64 = 1;
    let mut shape = Vec::with_capacity(dims.len().min(64));
    for &d in dims {
        let d = u64::try_from(d).map_err(|_| format!("negative dimension {d} in {dims:?}"))?;
        numel = numel.checked_mul(d).ok_or_else(|| format!("dimensions {dims:?} overflow"))?;
        shape.push(usize::try_from(d).map_err(|_| format!("dimension {d} too large"))?);
    }
    Ok((shape, numel))
}

/// Little-endian bytes of numbers taken from a typed field, each narrowed to `width` bytes.
fn narrow<T: Copy>(values: &[T], width: usize, to_le: impl Fn(T) -> [u8; 8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * width);
    for &v in values {
        out.extend(to_le(v).into_iter().take(width));
    }
    out
}

/// Converts a `TensorProto` (not its name) to an IR tensor.
pub(crate) fn import(t: &TensorProto, ext: &mut ExternalData) -> Result<Tensor, String> {
    if t.segment.is_some() {
        return Err("segmented tensors are not supported".into());
    }
    let dt = dtype::from_code(t.data_type)?;
    let (shape, numel) = shape_of(&t.dims)?;
    if dt == DType::String {
        if t.string_data.len() as u64 != numel {
            return Err(format!("string tensor of {numel} elements has {} strings", t.string_data.len()));
        }
        let strings = t.string_data.iter().map(|b| b.to_vec()).collect();
        return Tensor::from_strings(shape, strings).map_err(|e| e.to_string());
    }
    let expected =
        dt.byte_len(numel).ok_or_else(|| format!("{dt} tensor of dimensions {:?} overflows in bytes", t.dims))?;
    let mismatch = |field: &str, n: usize, want: u64| {
        format!("{dt} tensor of shape {shape:?} needs {want} values in {field}, found {n}")
    };
    let bytes: Buffer = if t.data_location == DataLocation::External as i32 {
        ext.load(t, expected)?
    } else if !t.raw_data.is_empty() || expected == 0 {
        if t.raw_data.len() as u64 != expected {
            return Err(format!(
                "{dt} tensor of shape {shape:?} needs {expected} bytes of raw_data, found {}",
                t.raw_data.len()
            ));
        }
        ext.inline(&t.raw_data)
    } else {
        let elems = match dt {
            // Packed sub-byte types keep their packed bytes, one per int32_data entry.
            DType::I4 | DType::U4 | DType::I2 | DType::U2 | DType::F4E2M1 => expected,
            // Complex numbers are (real, imaginary) pairs.
            DType::C64 | DType::C128 => numel * 2,
            _ => numel,
        };
        let check = |field: &str, n: usize| {
            if n as u64 == elems { Ok(()) } else { Err(mismatch(field, n, elems)) }
        };
        match dt {
            DType::F32 | DType::C64 => {
                check("float_data", t.float_data.len())?;
                Buffer::copy_from_slice(&t.float_data)
            }
            DType::F6E2M3 | DType::F6E3M2 => {
                // Typed 6-bit floats are one per entry; raw ones are a bit stream.
                check("int32_data", t.int32_data.len())?;
                Buffer::from_vec(pack_bits(&t.int32_data, 6))
            }
            DType::F64 | DType::C128 => {
                check("double_data", t.double_data.len())?;
                Buffer::copy_from_slice(&t.double_data)
            }
            DType::I64 => {
                check("int64_data", t.int64_data.len())?;
                Buffer::copy_from_slice(&t.int64_data)
            }
            DType::U64 => {
                check("uint64_data", t.uint64_data.len())?;
                Buffer::copy_from_slice(&t.uint64_data)
            }
            DType::U32 => {
                check("uint64_data", t.uint64_data.len())?;
                Buffer::from_vec(narrow(&t.uint64_data, 4, |v| v.to_le_bytes()))
            }
            DType::I32 => {
                check("int32_data", t.int32_data.len())?;
                Buffer::copy_from_slice(&t.int32_data)
            }
            _ => {
                // 8/16-bit ints, bool, f16/bf16/f8 bit patterns and packed
                // 4-bit pairs all live in int32_data, one entry per element.
                check("int32_data", t.int32_data.len())?;
                let width = (dt.bits().unwrap_or(8) as usize).div_ceil(8);
                Buffer::from_vec(narrow(&t.int32_data, width, |v| i64::from(v).to_le_bytes()))
            }
        }
    };
    Tensor::from_raw(dt, shape, bytes).map_err(|e| e.to_string())
}

/// Packs the low `bits` bits of each value into a little-endian bit stream.
fn pack_bits(values: &[i32], bits: usize) -> Vec<u8> {
    let mut out = vec![0u8; (values.len() * bits).div_ceil(8)];
    for (i, &v) in values.iter().enumerate() {
        for j in 0..bits {
            let k = i * bits + j;
            if (v >> j) & 1 == 1
                && let Some(byte) = out.get_mut(k / 8)
            {
                *byte |= 1 << (k % 8);
            }
        }
    }
    out
}

/// Unpacks `n` values of `bits` bits from a little-endian bit stream.
fn unpack_bits(bytes: &[u8], bits: usize, n: usize) -> Vec<i32> {
    (0..n)
        .map(|i| {
            (0..bits).fold(0i32, |acc, j| {
                let k = i * bits + j;
                let byte = bytes.get(k / 8).copied().unwrap_or(0);
                acc | (i32::from((byte >> (k % 8)) & 1) << j)
            })
        })
        .collect()
}

/// How tensor values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// `raw_data`, little-endian (what onnx and torch write; fastest to read).
    #[default]
    Raw,
    /// The typed fields (`float_data`, `int32_data`, ...), as `onnx.helper.make_tensor(raw=False)` does.
    Typed,
}

fn widen<T: bytemuck::Pod + Into<i64>>(b: &[u8]) -> Vec<i32> {
    bytemuck::pod_collect_to_vec::<u8, T>(b).into_iter().map(|v| v.into() as i32).collect()
}

/// An IR tensor as a `TensorProto`, values included in the chosen encoding.
pub(crate) fn export(name: &str, t: &Tensor, enc: Encoding) -> TensorProto {
    let mut p = header(name, t);
    match t.data() {
        TensorData::Strings(s) => p.string_data = s.iter().map(|v| bytes::Bytes::from(v.clone())).collect(),
        TensorData::Bytes(b) if enc == Encoding::Raw => p.raw_data = b.to_bytes(),
        TensorData::Bytes(b) => {
            let b = b.as_bytes();
            match t.dtype() {
                DType::F32 | DType::C64 => p.float_data = bytemuck::pod_collect_to_vec(b),
                DType::F64 | DType::C128 => p.double_data = bytemuck::pod_collect_to_vec(b),
                DType::F6E2M3 | DType::F6E3M2 => p.int32_data = unpack_bits(b, 6, t.numel()),
                DType::I64 => p.int64_data = bytemuck::pod_collect_to_vec(b),
                DType::U64 => p.uint64_data = bytemuck::pod_collect_to_vec(b),
                DType::U32 => {
                    p.uint64_data = bytemuck::pod_collect_to_vec::<u8, u32>(b).into_iter().map(u64::from).collect()
                }
                DType::I32 => p.int32_data = bytemuck::pod_collect_to_vec(b),
                DType::I16 => p.int32_data = widen::<i16>(b),
                DType::I8 => p.int32_data = widen::<i8>(b),
                DType::U16 | DType::F16 | DType::BF16 => p.int32_data = widen::<u16>(b),
                // u8, bool, 8-bit floats, packed 4- and 2-bit groups: one byte per entry.
                _ => p.int32_data = widen::<u8>(b),
            }
        }
    }
    p
}

/// A `TensorProto` with name, dtype and dims but no values.
pub(crate) fn header(name: &str, t: &Tensor) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        data_type: dtype::to_code(t.dtype()),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        ..TensorProto::default()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn all_dtype_tensors() -> Vec<Tensor> {
        let mut v = Vec::new();
        for d in DType::ALL {
            let t = if d == DType::String {
                Tensor::from_strings(vec![3], vec![b"a".to_vec(), vec![], b"\xff\x00".to_vec()]).unwrap()
            } else {
                let n = d.byte_len(5).unwrap() as usize;
                // Valid bit patterns for every type (bool needs 0/1).
                let mut bytes: Vec<u8> =
                    (0..n).map(|i| if d == DType::Bool { (i % 2) as u8 } else { (i * 37 + 11) as u8 }).collect();
                // Padding bits after the last packed element are zero in valid data.
                let used = (5 * d.bits().unwrap() as usize) % 8;
                if used != 0 {
                    bytes[n - 1] &= (1u8 << used) - 1;
                }
                Tensor::from_raw(d, vec![5], Buffer::from_vec(bytes)).unwrap()
            };
            v.push(t);
        }
        v
    }

    #[test]
    fn every_dtype_round_trips_in_both_encodings() {
        let mut ext = ExternalData::new(Path::new("x.onnx"));
        for t in all_dtype_tensors() {
            for enc in [Encoding::Raw, Encoding::Typed] {
                let p = export("t", &t, enc);
                let back = import(&p, &mut ext).unwrap_or_else(|e| panic!("{} {enc:?}: {e}", t.dtype()));
                assert_eq!(back, t, "{} {enc:?}", t.dtype());
            }
        }
    }

    #[test]
    fn sizes_are_checked_before_use() {
        let mut ext = ExternalData::new(Path::new("x.onnx"));
        let mut p =
            TensorProto { data_type: 1, dims: vec![2, 3], raw_data: vec![0u8; 23].into(), ..Default::default() };
        assert_eq!(
            import(&p, &mut ext).unwrap_err(),
            "f32 tensor of shape [2, 3] needs 24 bytes of raw_data, found 23"
        );
        p.dims = vec![-1];
        assert_eq!(import(&p, &mut ext).unwrap_err(), "negative dimension -1 in [-1]");
        p.dims = vec![1 << 40, 1 << 40];
        assert!(import(&p, &mut ext).unwrap_err().contains("overflow"));
        let p = TensorProto { data_type: 1, dims: vec![4], float_data: vec![1.0; 3], ..Default::default() };
        assert_eq!(import(&p, &mut ext).unwrap_err(), "f32 tensor of shape [4] needs 4 values in float_data, found 3");
    }
}
