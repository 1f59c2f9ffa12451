//! Tensor files, the one reader and writer behind `--inputs`, `--calibration`
//! and `convert run`: NumPy `.npy` and `.npz`, and ONNX `TensorProto` `.pb`
//! (through the codec the ONNX format crate registers with
//! [`register_tensor_proto_codec`], so `ir` knows no protobuf).
//!
//! `.npy` format: magic `\x93NUMPY`, version (1.0: u16 header length; 2.0/3.0:
//! u32), a Python-literal dict header `{'descr': '<f4', 'fortran_order':
//! False, 'shape': (2, 3), }` padded to a multiple of 64 bytes, then the raw
//! little-endian data. `.npz` is a zip of `.npy` members named `<key>.npy`.
//!
//! Every byte here comes from a file, so indexing is denied: lengths are
//! checked against the bytes present before any slice or allocation, and
//! `.npz` archives are bounded by [`Limits`] (member count, inflated bytes).
#![deny(clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use crate::{Buffer, DType, Error, Limit, Limits, Result, Tensor};

const MAGIC: &[u8] = b"\x93NUMPY";

use crate::limits::MAX_DEFLATE_RATIO;

fn descr_dtype(descr: &str) -> Option<DType> {
    // '|' means byte order does not apply; '=' is native (little-endian here).
    // `split_at_checked`: a descr starting with a multi-byte character
    // made `split_at(1)` panic (found by the npy fuzz target).
    let (order, code) = descr.split_at_checked(1)?;
    if !matches!(order, "<" | "|" | "=") {
        return None;
    }
    Some(match code {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "f2" => DType::F16,
        "i1" => DType::I8,
        "u1" => DType::U8,
        "i2" => DType::I16,
        "u2" => DType::U16,
        "i4" => DType::I32,
        "u4" => DType::U32,
        "i8" => DType::I64,
        "u8" => DType::U64,
        "b1" => DType::Bool,
        "c8" => DType::C64,
        "c16" => DType::C128,
        _ => return None,
    })
}

fn dtype_descr(d: DType) -> Option<&'static str> {
    Some(match d {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::U16 => "<u2",
        DType::I32 => "<i4",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        DType::C64 => "<c8",
        DType::C128 => "<c16",
        _ => return None,
    })
}

/// The value of `'key': ...` in the header dict, up to the next top-level comma.
fn header_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header.get(start..)?.trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        return rest.get(..=end);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest.get(..end)?.trim())
}

/// Reads and writes ONNX `TensorProto` images; registered by the ONNX crate.
#[derive(Debug, Clone, Copy)]
pub struct TensorProtoCodec {
    /// Decodes a `.pb` file's bytes; the path names the file in errors and
    /// locates external data.
    pub decode: fn(&[u8], &Path) -> Result<Tensor>,
    /// Encodes a tensor (any dtype) as a `TensorProto` named `name`.
    pub encode: fn(&Tensor, &str) -> Result<Vec<u8>>,
}

static TENSOR_PROTO: OnceLock<TensorProtoCodec> = OnceLock::new();

/// Makes `.pb` tensor files readable and writable. The first registration
/// wins; later ones (the same codec registered by several registries) are
/// ignored.
pub fn register_tensor_proto_codec(codec: TensorProtoCodec) {
    let _ = TENSOR_PROTO.set(codec);
}

fn tensor_proto(path: &Path) -> Result<&'static TensorProtoCodec> {
    TENSOR_PROTO.get().ok_or_else(|| {
        Error::invalid(format!("{}: .pb tensor files need the ONNX format (build with it enabled)", path.display()))
    })
}

/// Whether `dtype` has a `.npy` representation (NumPy has no 8-bit, 6-bit or
/// 4-bit floats, packed integers or bfloat16).
pub fn npy_can_hold(dtype: DType) -> bool {
    dtype_descr(dtype).is_some()
}

/// Reads a tensor file: `.npy` (one unnamed tensor), `.npz` (every member,
/// named by key) or `.pb` (one `TensorProto`, named if the proto has a name
/// the caller does not need; returned unnamed).
pub fn read(path: &Path) -> Result<Vec<(Option<String>, Tensor)>> {
    read_with(path, &Limits::default())
}

/// [`read`] under `limits` (`.npz` member count and inflated bytes).
pub fn read_with(path: &Path, limits: &Limits) -> Result<Vec<(Option<String>, Tensor)>> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("npy") => Ok(vec![(None, read_npy(path)?)]),
        Some("npz") => Ok(read_npz_with(path, limits)?.into_iter().map(|(k, t)| (Some(k), t)).collect()),
        Some("pb") => {
            let codec = tensor_proto(path)?;
            let bytes = Buffer::map_file(path)?;
            Ok(vec![(None, (codec.decode)(&bytes, path)?)])
        }
        _ => Err(Error::invalid(format!(
            "{}: tensor files must be .npy, .npz or .pb (ONNX TensorProto)",
            path.display()
        ))),
    }
}

/// Reads a file holding exactly one tensor (`.npy`, `.pb`, or a one-member `.npz`).
pub fn read_one(path: &Path) -> Result<Tensor> {
    read_one_with(path, &Limits::default())
}

/// [`read_one`] under `limits`.
pub fn read_one_with(path: &Path, limits: &Limits) -> Result<Tensor> {
    let mut all = read_with(path, limits)?;
    match (all.pop(), all.len()) {
        (Some((_, t)), 0) => Ok(t),
        (last, n) => Err(Error::invalid(format!(
            "{}: holds {} arrays where one is expected",
            path.display(),
            n + usize::from(last.is_some())
        ))),
    }
}

/// Reads a folder of samples (calibration data), in file-name order: each
/// `.npz` is one sample keyed by input name; each `.npy` or `.pb` is one
/// sample of a one-input model. Members must name inputs of `inputs`.
pub fn read_samples(dir: &Path, inputs: &[&str]) -> Result<Vec<Vec<(String, Tensor)>>> {
    read_samples_with(dir, inputs, &Limits::default())
}

/// [`read_samples`] under `limits`, applied to each file.
pub fn read_samples_with(dir: &Path, inputs: &[&str], limits: &Limits) -> Result<Vec<Vec<(String, Tensor)>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "npy" || e == "npz" || e == "pb"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(format!("{}: no .npy, .npz or .pb sample files", dir.display())));
    }
    let mut samples = Vec::with_capacity(files.len());
    for path in files {
        let mut sample = Vec::new();
        for (key, t) in read_with(&path, limits)? {
            let name = match key {
                Some(k) => k,
                None => match inputs {
                    [one] => one.to_string(),
                    _ => {
                        return Err(Error::invalid(format!(
                            "{}: a one-array sample only fits a model with one input (this one has {}); use .npz files keyed by input name",
                            path.display(),
                            inputs.len()
                        )));
                    }
                },
            };
            if !inputs.contains(&name.as_str()) {
                return Err(Error::malformed(
                    &path,
                    format!("member '{name}' is not a model input (inputs: {})", inputs.join(", ")),
                ));
            }
            sample.push((name, t));
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// Writes `t` as `<stem>.npy` when NumPy can hold its dtype, else as the
/// ONNX `TensorProto` `<stem>.pb` (named `name`); atomically. Returns the path.
pub fn write(stem: &Path, name: &str, t: &Tensor) -> Result<PathBuf> {
    let (path, bytes) = if npy_can_hold(t.dtype()) {
        let path = stem.with_extension("npy");
        let bytes = encode(t).map_err(|e| e.context(path.display().to_string()))?;
        (path, bytes)
    } else {
        let path = stem.with_extension("pb");
        let bytes = (tensor_proto(&path)?.encode)(t, name).map_err(|e| e.context(path.display().to_string()))?;
        (path, bytes)
    };
    let mut f = crate::io::AtomicFile::create(&path)?;
    f.write_all(&bytes).map_err(|e| Error::io(&path, e))?;
    f.commit()?;
    Ok(path)
}

/// Parses one `.npy` image; `what` names it in errors.
pub fn parse(bytes: Buffer, what: &Path) -> Result<Tensor> {
    let bad = |m: String| Error::malformed(what, m);
    if bytes.get(..MAGIC.len()) != Some(MAGIC) {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let version = bytes.get(6).copied().ok_or_else(|| bad("truncated before the version".into()))?;
    // Version 1 has a u16 header length, versions 2 and 3 a u32.
    let (hlen, hstart): (usize, usize) = match version {
        1 => match bytes.get(8..10) {
            Some(&[a, b]) => (usize::from(u16::from_le_bytes([a, b])), 10),
            _ => return Err(bad("truncated before the header length".into())),
        },
        2 | 3 => match bytes.get(8..12) {
            Some(&[a, b, c, d]) => {
                let n = u32::from_le_bytes([a, b, c, d]);
                (usize::try_from(n).map_err(|_| bad(format!("header length {n} is too large")))?, 12)
            }
            _ => return Err(bad("truncated before the header length".into())),
        },
        v => return Err(bad(format!(".npy version {v} is not supported"))),
    };
    let header = hstart
        .checked_add(hlen)
        .and_then(|end| bytes.get(hstart..end))
        .ok_or_else(|| bad(format!("header of {hlen} bytes is past the end of the {}-byte file", bytes.len())))?;
    let data_start = hstart + header.len();
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text".into()))?;
    let descr = header_field(header, "descr").ok_or_else(|| bad("header has no 'descr'".into()))?;
    let descr = descr.trim_matches(['\'', '"']);
    let dtype = descr_dtype(descr)
        .ok_or_else(|| bad(format!("unsupported dtype '{descr}' (little-endian numbers and bools only)")))?;
    let fortran = header_field(header, "fortran_order").ok_or_else(|| bad("header has no 'fortran_order'".into()))?;
    if fortran != "False" {
        return Err(bad("Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into()));
    }
    let shape_s = header_field(header, "shape").ok_or_else(|| bad("header has no 'shape'".into()))?;
    let shape: Vec<usize> = shape_s
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad(format!("bad shape {shape_s}"))))
        .collect::<Result<_>>()?;
    let numel = crate::checked_numel(&shape).ok_or_else(|| bad("shape overflows".into()))?;
    let need = dtype.byte_len(numel).ok_or_else(|| bad("shape overflows".into()))?;
    let have = bytes.len().saturating_sub(data_start) as u64;
    if have != need {
        return Err(bad(format!("{dtype} array of shape {shape:?} needs {need} data bytes, file has {have}")));
    }
    let data = bytes.slice(data_start..bytes.len())?;
    Tensor::from_raw(dtype, shape, data).map_err(|e| bad(e.to_string()))
}

/// Reads a `.npy` file (memory-mapped).
pub fn read_npy(path: &Path) -> Result<Tensor> {
    parse(Buffer::map_file(path)?, path)
}

/// Reads every array of a `.npz` file, in archive order, keyed by name (without `.npy`).
pub fn read_npz(path: &Path) -> Result<Vec<(String, Tensor)>> {
    read_npz_with(path, &Limits::default())
}

/// [`read_npz`] under `limits`: at most `max_tensors` members, and at most
/// `max_inflated_bytes` inflated from compressed ones (`np.savez_compressed`).
/// Stored members (`np.savez`) are views into the mapped file. Sizes are
/// checked against the file and against what deflate can produce before
/// anything is read, and an inflating member is cut off at the size it
/// declares, so a lying header cannot make it allocate more.
pub fn read_npz_with(path: &Path, limits: &Limits) -> Result<Vec<(String, Tensor)>> {
    let bad = |m: String| Error::malformed(path, m);
    let file = Buffer::map_file(path)?;
    let file_len = file.len() as u64;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file.as_bytes()))
        .map_err(|e| bad(format!("not a .npz (zip) file: {e}")))?;
    limits.check(Limit::Tensors, zip.len() as u64, path, "members")?;
    let mut inflated = 0u64;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| bad(format!("zip member {i}: {e}")))?;
        let name = member.name().map_err(|e| bad(format!("zip member {i}: {e}")))?.to_string();
        // Nothing is written under these names, but they name arrays and
        // appear in messages as paths below the archive: keep them there.
        if name.contains('\0')
            || Path::new(&name).components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(bad(format!("member '{name}' has an absolute name or one with '..'")));
        }
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let (size, compressed) = (member.size(), member.compressed_size());
        let start = member.data_start().ok_or_else(|| bad(format!("member '{name}': no data offset")))?;
        if start.checked_add(compressed).is_none_or(|end| end > file_len) {
            return Err(bad(format!(
                "member '{name}' claims {compressed} bytes at offset {start}, past the end of the {file_len}-byte file"
            )));
        }
        let bytes = match member.compression() {
            zip::CompressionMethod::Stored => {
                if size != compressed {
                    return Err(bad(format!("stored member '{name}' declares {size} bytes but holds {compressed}")));
                }
                file.slice_u64(start, size).map_err(|e| bad(format!("member '{name}': {e}")))?
            }
            zip::CompressionMethod::Deflated => {
                if size > compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(64) {
                    return Err(bad(format!(
                        "member '{name}' declares {size} bytes inflated from {compressed} (a zip bomb?)"
                    )));
                }
                inflated = inflated.saturating_add(size);
                limits.check(Limit::InflatedBytes, inflated, path, &format!("member '{name}'"))?;
                let mut buf = Vec::new();
                (&mut member)
                    .take(size.saturating_add(1))
                    .read_to_end(&mut buf)
                    .map_err(|e| bad(format!("member '{name}': {e}")))?;
                if buf.len() as u64 != size {
                    return Err(bad(format!(
                        "member '{name}' inflates to {} bytes, not the {size} it declares",
                        buf.len()
                    )));
                }
                Buffer::from_vec(buf)
            }
            m => return Err(bad(format!("member '{name}' uses compression {m}; only stored and deflated are read"))),
        };
        let what = path.join(&name);
        out.push((key, parse(bytes, &what)?));
    }
    Ok(out)
}

/// The `.npy` image of a tensor.
pub fn encode(t: &Tensor) -> Result<Vec<u8>> {
    let descr = dtype_descr(t.dtype())
        .ok_or_else(|| Error::invalid(format!("{} tensors cannot be written as .npy", t.dtype())))?;
    let shape = match t.shape() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        s => format!("({})", s.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.div_ceil(64) * 64 - total));
    header.push('\n');
    let raw = t.raw().ok_or_else(|| Error::invalid("string tensors cannot be written as .npy"))?;
    let mut out = Vec::with_capacity(10 + header.len() + raw.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let t = Tensor::from_vec(vec![2, 3], vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
        let bytes = encode(&t).unwrap();
        assert_eq!((bytes.len() - t.byte_len()) % 64, 0, "header padded to 64");
        let p = Path::new("x.npy");
        assert_eq!(parse(Buffer::from_vec(bytes.clone()), p).unwrap(), t);
        let s = Tensor::scalar(7i64);
        assert_eq!(parse(Buffer::from_vec(encode(&s).unwrap()), p).unwrap(), s);

        let e = parse(Buffer::from_vec(bytes[..bytes.len() - 1].to_vec()), p).unwrap_err().to_string();
        assert_eq!(e, "x.npy: f32 array of shape [2, 3] needs 24 data bytes, file has 23");
        let e = parse(Buffer::from_vec(b"PK\x03\x04xxxxxxxx".to_vec()), p).unwrap_err().to_string();
        assert_eq!(e, "x.npy: not a .npy file (bad magic)");
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n";
        let mut huge = b"\x93NUMPY\x01\x00".to_vec();
        huge.extend_from_slice(&(header.len() as u16).to_le_bytes());
        huge.extend_from_slice(header.as_bytes());
        let e = parse(Buffer::from_vec(huge), p).unwrap_err().to_string();
        assert_eq!(e, "x.npy: shape overflows");
        assert!(e.contains("needs") || e.contains("overflow"), "{e}");
    }
}
