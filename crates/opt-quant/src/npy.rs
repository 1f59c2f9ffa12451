//! Calibration samples from a folder: each `.npz` file is one sample whose
//! members are named after graph inputs; each `.npy` file is one sample of
//! a model with a single input. Files are taken in name order.
//!
//! The `.npy` reader handles format versions 1–3, C order, little-endian
//! (or byte-order-free) numeric and boolean dtypes.

use std::io::Read;
use std::path::Path;

use ir::{Buffer, DType, Error, Graph, Result, Tensor};

/// Parses one `.npy` file's bytes into a tensor; errors name `path`.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Tensor> {
    let bad = |m: String| Error::malformed(path, m);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(format!(".npy format version {v} is not supported"))),
    };
    let end =
        start.checked_add(hlen).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("header runs past the end".into()))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text".into()))?;
    let field = |key: &str| -> Result<&str> {
        let k = format!("'{key}':");
        let at = header.find(&k).ok_or_else(|| bad(format!("header has no '{key}'")))?;
        Ok(header[at + k.len()..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr.strip_prefix('\'').and_then(|d| d.split('\'').next()).ok_or_else(|| bad("bad descr".into()))?;
    if field("fortran_order")?.starts_with("True") {
        return Err(bad("Fortran-order arrays are not supported; save with np.ascontiguousarray".into()));
    }
    let shape_text = field("shape")?;
    let shape_text =
        shape_text.strip_prefix('(').and_then(|s| s.split(')').next()).ok_or_else(|| bad("bad shape".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad(format!("bad dimension '{s}'"))))
        .collect::<Result<Vec<_>>>()?;
    let (order, code) = descr.split_at(1);
    if order == ">" && !matches!(code, "i1" | "u1" | "b1") {
        return Err(bad(format!("big-endian dtype '{descr}' is not supported")));
    }
    let dtype = match code {
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
        _ => return Err(bad(format!("dtype '{descr}' is not supported"))),
    };
    Tensor::from_raw(dtype, shape, Buffer::from_vec(bytes[end..].to_vec()))
        .map_err(|e| e.context(path.display().to_string()))
}

fn to_value(path: &Path, t: &Tensor) -> Result<eval::Value> {
    eval::from_ir(t).map(eval::Value::Tensor).map_err(|e| Error::malformed(path, e.to_string()))
}

/// Reads every sample of `dir` for the inputs of `graph`.
pub fn read_samples(dir: &Path, graph: &Graph) -> Result<Vec<Vec<(String, eval::Value)>>> {
    let inputs: Vec<&str> =
        graph.inputs.iter().filter(|v| !graph.initializers.contains_key(&v.name)).map(|v| v.name.as_str()).collect();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "npy" || e == "npz"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(format!("{}: no .npy or .npz calibration files", dir.display())));
    }
    let mut samples = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if path.extension().is_some_and(|e| e == "npy") {
            let [name] = inputs.as_slice() else {
                return Err(Error::invalid(format!(
                    "{}: a .npy sample only fits a model with one input (this one has {}); use .npz files keyed by input name",
                    path.display(),
                    inputs.len()
                )));
            };
            let t = parse(&path, &bytes)?;
            samples.push(vec![(name.to_string(), to_value(&path, &t)?)]);
            continue;
        }
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| Error::malformed(&path, format!("not a .npz (zip) file: {e}")))?;
        let mut sample = Vec::new();
        for i in 0..zip.len() {
            let mut member = zip.by_index(i).map_err(|e| Error::malformed(&path, format!("zip member {i}: {e}")))?;
            let name = member
                .name()
                .map_err(|e| Error::malformed(&path, format!("zip member {i}: {e}")))?
                .trim_end_matches(".npy")
                .to_string();
            if !inputs.contains(&name.as_str()) {
                return Err(Error::malformed(
                    &path,
                    format!("member '{name}' is not a model input (inputs: {})", inputs.join(", ")),
                ));
            }
            let mut data = Vec::new();
            member.read_to_end(&mut data).map_err(|e| Error::io(&path, e))?;
            let t = parse(&path, &data)?;
            sample.push((name, to_value(&path, &t)?));
        }
        samples.push(sample);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_header() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        b.extend(1f32.to_le_bytes());
        b.extend(2f32.to_le_bytes());
        let t = parse(Path::new("x.npy"), &b).unwrap();
        assert_eq!(t.shape(), &[2, 1]);
        assert_eq!(&*t.as_slice::<f32>().unwrap(), &[1.0, 2.0]);
        assert!(parse(Path::new("x.npy"), &b[..20]).is_err());
        assert!(parse(Path::new("x.npy"), b"hello world!").is_err());
    }
}
