//! File helpers every format crate needs: confined paths and atomic outputs.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Resolves `location`, a path read from a model file, against the model's
/// folder, refusing anything that could reach outside it: absolute paths,
/// `..` components, and symbolic links that lead elsewhere.
pub fn resolve_inside(base_dir: &Path, location: &str) -> Result<PathBuf> {
    let rel = Path::new(location);
    let escape = |why: &str| Error::invalid(format!("location '{location}' {why}"));
    if location.is_empty() {
        return Err(escape("is empty"));
    }
    if location.contains('\0') {
        return Err(escape("contains a NUL byte"));
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(escape("escapes the model's folder ('..' is not allowed)")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(escape("is absolute; only paths relative to the model's folder are allowed"));
            }
        }
    }
    let joined = base_dir.join(rel);
    // A symlink inside the folder may still point outside it.
    if let (Ok(real), Ok(base)) = (joined.canonicalize(), base_dir.canonicalize())
        && !real.starts_with(&base)
    {
        return Err(escape("resolves (through a symbolic link) outside the model's folder"));
    }
    Ok(joined)
}

/// The folder holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file written under a temporary name in the destination folder and
/// renamed into place by [`AtomicFile::commit`]; dropped uncommitted, the
/// temporary file is removed. A failed export thus never leaves a
/// half-written model, and never replaces a good file with a bad one.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
}

impl AtomicFile {
    /// Creates the temporary file for `target`.
    pub fn create(target: &Path) -> Result<Self> {
        let dir = parent_dir(target);
        let name =
            target.file_name().ok_or_else(|| Error::invalid(format!("{}: not a file path", target.display())))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io(&temp, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            written: 0,
        })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.written
    }

    /// Flushes and renames the file into place; returns its size.
    pub fn commit(mut self) -> Result<u64> {
        let w = self.writer.take().expect("writer present until commit");
        let file = w.into_inner().map_err(|e| Error::io(&self.temp, e.into_error()))?;
        drop(file);
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        Ok(self.written)
    }

    fn io_err(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.target.display()))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w = self.writer.as_mut().expect("writer present until commit");
        let n = w.write(buf).map_err(|e| self.io_err(e))?;
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let w = self.writer.as_mut().expect("writer present until commit");
        match w.write_all(buf) {
            Ok(()) => {
                self.written += buf.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.io_err(e)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let w = self.writer.as_mut().expect("writer present until commit");
        w.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_confined() {
        let d = tempfile::tempdir().unwrap();
        assert!(resolve_inside(d.path(), "w.bin").is_ok());
        assert!(resolve_inside(d.path(), "./sub/w.bin").is_ok());
        let e = resolve_inside(d.path(), "../w.bin").unwrap_err().to_string();
        assert_eq!(e, "location '../w.bin' escapes the model's folder ('..' is not allowed)");
        let e = resolve_inside(d.path(), "/etc/passwd").unwrap_err().to_string();
        assert_eq!(e, "location '/etc/passwd' is absolute; only paths relative to the model's folder are allowed");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
            let e = resolve_inside(d.path(), "link/passwd").unwrap_err().to_string();
            assert!(e.contains("outside the model's folder"), "{e}");
        }
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("m.onnx");
        std::fs::write(&target, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
            // dropped without commit
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "temp file removed");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new!").unwrap();
        assert_eq!(f.commit().unwrap(), 4);
        assert_eq!(std::fs::read(&target).unwrap(), b"new!");
    }
}
