//! NumPy `.npy` and `.npz` files: read as IR tensors, write from them.
//!
//! Format: magic `\x93NUMPY`, version (1.0: u16 header length; 2.0/3.0:
//! u32), a Python-literal dict header `{'descr': '<f4', 'fortran_order':
//! False, 'shape': (2, 3), }` padded to a multiple of 64 bytes, then the raw
//! little-endian data. `.npz` is a zip of `.npy` members named `<key>.npy`.

use std::io::{Read, Write};
use std::path::Path;

use ir::{Buffer, DType, Error, Result, Tensor};

const MAGIC: &[u8] = b"\x93NUMPY";

fn descr_dtype(descr: &str) -> Option<DType> {
    // '|' means byte order does not apply; '=' is native (little-endian here).
    let (order, code) = descr.split_at(1.min(descr.len()));
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
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        return Some(&rest[..=end]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Parses one `.npy` image; `what` names it in errors.
pub fn parse(bytes: Buffer, what: &Path) -> Result<Tensor> {
    let bad = |m: String| Error::malformed(what, m);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let (hlen, hstart): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(format!(".npy version {v} is not supported"))),
    };
    let data_start =
        hstart.checked_add(hlen).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("truncated header".into()))?;
    let header = std::str::from_utf8(&bytes[hstart..data_start]).map_err(|_| bad("header is not text".into()))?;
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
    let numel =
        shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64)).ok_or_else(|| bad("shape overflows".into()))?;
    let need = dtype.byte_len(numel).ok_or_else(|| bad("shape overflows".into()))?;
    let have = (bytes.len() - data_start) as u64;
    if have != need {
        return Err(bad(format!("{dtype} array of shape {shape:?} needs {need} data bytes, file has {have}")));
    }
    let data = bytes.slice(data_start..bytes.len())?;
    Tensor::from_raw(dtype, shape, data).map_err(|e| bad(e.to_string()))
}

/// Reads a `.npy` file (memory-mapped).
pub fn read(path: &Path) -> Result<Tensor> {
    parse(Buffer::map_file(path)?, path)
}

/// Reads every array of a `.npz` file, in archive order, keyed by name (without `.npy`).
pub fn read_npz(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| Error::malformed(path, format!("not a .npz (zip) file: {e}")))?;
    let file_len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| Error::malformed(path, format!("zip member {i}: {e}")))?;
        let name = member.name().map_err(|e| Error::malformed(path, format!("zip member {i}: {e}")))?.to_string();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        // A compressed member may inflate beyond the file size, but not absurdly.
        let size = member.size();
        if size > file_len.saturating_mul(1024).max(1 << 20) {
            return Err(Error::malformed(path, format!("member '{name}' claims {size} bytes")));
        }
        let mut buf = Vec::with_capacity(size as usize);
        member.read_to_end(&mut buf).map_err(|e| Error::malformed(path, format!("member '{name}': {e}")))?;
        let what = path.join(&name);
        out.push((key, parse(Buffer::from_vec(buf), &what)?));
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
    let raw = t.raw().expect("non-string dtypes have bytes");
    let mut out = Vec::with_capacity(10 + header.len() + raw.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    Ok(out)
}

/// Writes a tensor to a `.npy` file atomically.
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = encode(t).map_err(|e| e.context(path.display().to_string()))?;
    let mut f = ir::io::AtomicFile::create(path)?;
    f.write_all(&bytes).map_err(|e| Error::io(path, e))?;
    f.commit()?;
    Ok(())
}

#[cfg(test)]
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
