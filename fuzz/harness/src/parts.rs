//! Several files in one fuzz input: `SEP name NUL bytes`, repeated.
//!
//! A separator rather than length prefixes, so that libFuzzer's byte-level
//! mutations (which know nothing of the layout) shrink and grow a part
//! without desynchronising every later one.

/// Starts every part.
const SEP: &[u8] = b"\n#~part~#";

/// Longest name kept; longer ones become `partN`.
const MAX_NAME: usize = 80;

/// Packs named files into one input (the inverse of [`unpack`]).
pub fn pack(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in parts {
        out.extend_from_slice(SEP);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(bytes);
    }
    out
}

/// Splits an input into (name, bytes). Bytes before the first separator
/// are ignored. Names that could leave the scratch folder (absolute, `..`,
/// empty components, odd characters) become `partN`: the harness writes
/// these files, so the names must be safe whatever the fuzzer makes of them.
pub fn unpack(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut out: Vec<(String, &[u8])> = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&data[i..], SEP) {
        starts.push(i + at);
        i += at + SEP.len();
    }
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(data.len());
        let part = &data[s + SEP.len()..end];
        let (name, bytes) = match memchr::memchr(0, part) {
            Some(z) => (&part[..z], &part[z + 1..]),
            None => (&b""[..], part),
        };
        let name = safe_name(name).unwrap_or_else(|| format!("part{k}"));
        // A later part of the same name replaces an earlier one, as a
        // second write of the file would.
        out.retain(|(n, _)| *n != name && !n.starts_with(&format!("{name}/")) && !name.starts_with(&format!("{n}/")));
        out.push((name, bytes));
    }
    out
}

/// `memmem` rather than a window scan: the fuzzer instruments every compare,
/// and a byte-by-byte scan of each input cost an eighth of a run's time.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn safe_name(name: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(name).ok()?;
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.split('/').count() <= 3
        && s.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && c != "out")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    ok.then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_names() {
        let packed = pack(&[("model.xml", b"<net/>"), ("model.bin", b"\x00\x01")]);
        assert_eq!(
            unpack(&packed),
            vec![("model.xml".to_string(), &b"<net/>"[..]), ("model.bin".into(), &b"\x00\x01"[..])]
        );
        for bad in ["../x", "/etc/passwd", "a//b", "a/../b", "x\\y", "", "out"] {
            let packed = pack(&[(bad, b"1")]);
            assert_eq!(unpack(&packed)[0].0, "part0", "{bad}");
        }
        // A file and a folder of the same name cannot both be written.
        let packed = pack(&[("a", b"1"), ("a/b", b"2")]);
        assert_eq!(unpack(&packed), vec![("a/b".to_string(), &b"2"[..])]);
    }
}
