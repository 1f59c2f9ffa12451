//! The zip container of TorchScript archives and zip-format `torch.save`
//! files, read from one memory map.
//!
//! Every entry sits under one top folder whose name is free (torch uses the
//! file stem); entry names are kept relative to it. Names that could point
//! outside the archive (`..`, absolute paths, backslashes, NUL) are refused
//! outright: nothing is ever extracted, but such a name is a sign of a
//! hostile file, and so are symbolic-link entries. Stored entries (how torch
//! writes storages, 64-byte aligned) are zero-copy views into the map;
//! deflated entries are inflated once, after their declared size was
//! checked against the compressed size (deflate's ratio bound) and the sum
//! of all declared sizes against [`ir::Limits::max_inflated_bytes`], so a
//! zip bomb is an error before any allocation. The entry count is bounded by
//! [`ir::Limits::max_tensors`] (each entry is at most one storage).

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ir::{Buffer, Error, Limit, Limits, Result};

use ir::MAX_DEFLATE_RATIO as MAX_RATIO;
/// First allocation for an inflated entry: the declared size is only a
/// claim until the bytes are there, so a lie costs at most this much up
/// front (the vector grows as real bytes arrive).
const FIRST_CHUNK: usize = 16 << 20;

/// Where one entry's bytes are.
#[derive(Debug, Clone)]
struct Entry {
    /// Offset of the (possibly compressed) bytes in the file.
    start: u64,
    compressed: u64,
    size: u64,
    deflated: bool,
    /// Index in the zip's central directory (to inflate it).
    index: usize,
}

/// An opened zip archive: the entry table and the mapped file.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    map: Buffer,
    top: String,
    entries: HashMap<String, Entry>,
    /// The zip reader, kept to inflate deflated entries.
    zip: Mutex<zip::ZipArchive<Cursor<Buffer>>>,
    /// Deflated entries already inflated (a storage several tensors view is inflated once).
    inflated: Mutex<HashMap<String, Buffer>>,
}

fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.contains('\\') {
        return Err("contains a backslash");
    }
    if name.starts_with('/') || name.contains(':') {
        return Err("is an absolute path");
    }
    if name.contains('\0') {
        return Err("contains a NUL byte");
    }
    if name.split('/').any(|c| c == "..") {
        return Err("contains '..'");
    }
    Ok(())
}

/// The local header at `at` against the central directory's record of the
/// same entry. Readers that trust the local header (streaming unzippers)
/// would see other bytes than torch and this reader if they disagreed.
fn check_local_header(
    map: &[u8],
    at: u64,
    crc: u32,
    compressed: u64,
    size: u64,
) -> std::result::Result<(), &'static str> {
    let header =
        usize::try_from(at).ok().and_then(|at| map.get(at..)?.get(..30)).ok_or("is past the end of the file")?;
    let field =
        |i: usize| -> u32 { header.get(i..i + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes) };
    if field(0) != 0x0403_4b50 {
        return Err("has no local header signature");
    }
    let flags = field(6) & 0xFFFF;
    // With a data descriptor (flag bit 3) the local fields are zero and the
    // sizes follow the data; 0xFFFFFFFF defers to the zip64 extra field.
    if flags & 8 != 0 {
        return Ok(());
    }
    let agrees = |local: u32, central: u64| local == u32::MAX || u64::from(local) == central;
    if field(14) != crc || !agrees(field(18), compressed) || !agrees(field(22), size) {
        return Err("disagrees with the central directory on the CRC or sizes");
    }
    Ok(())
}

impl Archive {
    /// Opens the zip at `path` and checks every entry's name and extent
    /// against the file and `limits`.
    pub fn open(path: &Path, limits: &Limits) -> Result<Archive> {
        let map = Buffer::map_file(path)?;
        Archive::from_buffer(path, map, limits)
    }

    /// Reads the archive from bytes already in memory (`path` names it in errors).
    pub fn from_buffer(path: &Path, map: Buffer, limits: &Limits) -> Result<Archive> {
        let bad = |m: String| Error::malformed(path, m);
        let file_len = map.len() as u64;
        let mut zip =
            zip::ZipArchive::new(Cursor::new(map.clone())).map_err(|e| bad(format!("not a zip archive: {e}")))?;
        // Which of two same-named entries a reader sees differs between
        // readers (torch's and ours): a classic way to smuggle content.
        if zip.has_duplicate_names() {
            return Err(bad("zip central directory names an entry twice; refusing the archive".into()));
        }
        limits.check(Limit::Tensors, zip.len() as u64, path, &format!("zip archive of {} entries", zip.len()))?;
        let mut entries = HashMap::new();
        let mut top: Option<String> = None;
        let mut inflated_total = 0u64;
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| bad(format!("zip entry {i}: {e}")))?;
            let name = f.name().map_err(|e| bad(format!("zip entry {i}: {e}")))?.to_string();
            check_name(&name).map_err(|why| bad(format!("zip entry '{name}' {why}; refusing the archive")))?;
            // A link is never followed (nothing is extracted), but torch never
            // writes one: its presence marks a crafted file.
            if f.is_symlink() {
                return Err(bad(format!("zip entry '{name}' is a symbolic link; refusing the archive")));
            }
            if f.is_dir() {
                continue;
            }
            let (folder, rest) = name.split_once('/').unwrap_or(("", name.as_str()));
            match &top {
                None => top = Some(folder.to_string()),
                Some(t) if t != folder => {
                    return Err(bad(format!("zip entry '{name}' is outside the top folder '{t}'")));
                }
                Some(_) => {}
            }
            let deflated = match f.compression() {
                zip::CompressionMethod::Stored => false,
                zip::CompressionMethod::Deflated => true,
                m => {
                    return Err(bad(format!(
                        "zip entry '{name}' uses compression {m}; only stored and deflated are read"
                    )));
                }
            };
            let start = f.data_start().ok_or_else(|| bad(format!("zip entry '{name}': no data offset")))?;
            let (compressed, size) = (f.compressed_size(), f.size());
            check_local_header(&map, f.header_start(), f.crc32(), compressed, size)
                .map_err(|why| bad(format!("zip entry '{name}': its local header {why}; refusing the archive")))?;
            if start.checked_add(compressed).is_none_or(|end| end > file_len) {
                return Err(bad(format!(
                    "zip entry '{name}' claims {compressed} bytes at offset {start}, past the end of the {file_len}-byte file (truncated?)"
                )));
            }
            if !deflated && size != compressed {
                return Err(bad(format!("stored zip entry '{name}' declares {size} bytes but holds {compressed}")));
            }
            if deflated {
                if size > compressed.saturating_mul(MAX_RATIO).saturating_add(64) {
                    return Err(bad(format!(
                        "zip entry '{name}' declares {size} bytes inflated from {compressed}, a ratio over deflate's {MAX_RATIO}:1 (a zip bomb); refusing it"
                    )));
                }
                // Inflation is cut at each entry's declared size, so the sum of
                // the declared sizes bounds what the whole archive can inflate.
                inflated_total = inflated_total.saturating_add(size);
                limits.check(
                    Limit::InflatedBytes,
                    inflated_total,
                    path,
                    &format!("zip entry '{name}' brings the declared inflated size to {inflated_total} bytes"),
                )?;
            }
            if entries.insert(rest.to_string(), Entry { start, compressed, size, deflated, index: i }).is_some() {
                return Err(bad(format!("zip entry '{name}' appears twice")));
            }
        }
        Ok(Archive {
            path: path.to_path_buf(),
            map,
            top: top.unwrap_or_default(),
            entries,
            zip: Mutex::new(zip),
            inflated: Mutex::new(HashMap::new()),
        })
    }

    /// The file the archive was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The top folder's name.
    pub fn top(&self) -> &str {
        &self.top
    }

    /// Whether an entry (relative to the top folder) exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The declared (inflated) size of an entry, if it exists.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.entries.get(name).map(|e| e.size)
    }

    /// Entry names (relative to the top folder), sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The bytes of an entry: a view into the map when stored, inflated
    /// once (to its checked declared size) when deflated.
    pub fn read(&self, name: &str) -> Result<Buffer> {
        let bad = |m: String| Error::malformed(&self.path, m);
        let e = self.entries.get(name).ok_or_else(|| bad(format!("archive has no entry '{}/{name}'", self.top)))?;
        let raw = self.map.slice_u64(e.start, e.compressed).map_err(|err| bad(format!("entry '{name}': {err}")))?;
        if !e.deflated {
            return Ok(raw);
        }
        let poisoned = || bad("zip reader poisoned by an earlier panic".into());
        if let Some(b) = self.inflated.lock().map_err(|_| poisoned())?.get(name) {
            return Ok(b.clone());
        }
        let size = usize::try_from(e.size).map_err(|_| bad(format!("entry '{name}' does not fit in memory")))?;
        let mut zip = self.zip.lock().map_err(|_| bad("zip reader poisoned by an earlier panic".into()))?;
        let f = zip.by_index(e.index).map_err(|err| bad(format!("entry '{name}': {err}")))?;
        let mut out = Vec::with_capacity(size.min(FIRST_CHUNK));
        // One byte past the declared size shows a lie without reading on.
        f.take(e.size.saturating_add(1)).read_to_end(&mut out).map_err(|err| bad(format!("entry '{name}': {err}")))?;
        if out.len() != size {
            return Err(bad(format!("entry '{name}' inflates to {} bytes, not the {size} it declares", out.len())));
        }
        tracing::debug!("{}: inflated '{name}' ({size} bytes)", self.path.display());
        let b = Buffer::from_vec(out);
        self.inflated.lock().map_err(|_| poisoned())?.insert(name.to_string(), b.clone());
        Ok(b)
    }

    /// The text of an entry, which must be UTF-8.
    pub fn read_text(&self, name: &str) -> Result<String> {
        let b = self.read(name)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| Error::malformed(&self.path, format!("entry '{name}' is not UTF-8 text")))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8], bool)]) -> Buffer {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, deflate) in entries {
            let m = if *deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
            w.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(m)).unwrap();
            w.write_all(bytes).unwrap();
        }
        Buffer::from_vec(w.finish().unwrap().into_inner())
    }

    #[test]
    fn stored_entries_are_views_and_deflated_ones_are_inflated_once() {
        let data = vec![7u8; 1000];
        let buf = zip_of(&[("top/data/0", &data, false), ("top/data/1", &data, true)]);
        let a = Archive::from_buffer(Path::new("m.pt"), buf.clone(), &Limits::default()).unwrap();
        assert_eq!(a.top(), "top");
        assert_eq!(a.names(), ["data/0", "data/1"]);
        let stored = a.read("data/0").unwrap();
        assert!(buf.as_bytes().as_ptr_range().contains(&stored.as_ptr()), "a view into the file");
        let first = a.read("data/1").unwrap();
        assert_eq!(first.as_bytes(), &data[..]);
        assert_eq!(a.read("data/1").unwrap().as_ptr(), first.as_ptr(), "inflated once");
        let e = a.read("data/2").unwrap_err().to_string();
        assert_eq!(e, "m.pt: archive has no entry 'top/data/2'");
    }

    #[test]
    fn symlink_entries_are_refused() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("top/data.pkl", zip::write::SimpleFileOptions::default()).unwrap();
        w.add_symlink("top/data/0", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
        let buf = Buffer::from_vec(w.finish().unwrap().into_inner());
        let e = Archive::from_buffer(Path::new("m.pt"), buf, &Limits::default()).unwrap_err().to_string();
        assert_eq!(e, "m.pt: zip entry 'top/data/0' is a symbolic link; refusing the archive");
    }

    #[test]
    fn entries_outside_the_top_folder_are_refused() {
        let buf = zip_of(&[("a/data.pkl", b"x", false), ("b/data.pkl", b"y", false)]);
        let e = Archive::from_buffer(Path::new("m.pt"), buf, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains("outside the top folder 'a'"), "{e}");
    }
}
