//! File helpers every format crate needs: confined paths and atomic outputs.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Buffer, Error, Result};

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
/// renamed into place by [`AtomicFile::commit`] (or [`commit_all`] for a
/// model spread over several files); dropped uncommitted, the temporary file
/// is removed. A failed export thus never leaves a half-written model, and
/// never replaces a good file with a bad one.
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
        if target.is_dir() {
            return Err(Error::io(target, io::Error::new(io::ErrorKind::IsADirectory, "is a directory")));
        }
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

    /// Flushes and closes the temporary file; on error it is removed (by drop).
    fn finish(&mut self) -> Result<()> {
        let w = self.writer.as_mut().expect("writer present until finished");
        w.flush().map_err(|e| Error::io(&self.target, e))?;
        // Dropping the writer closes the file; the temp path stays until renamed.
        self.writer = None;
        Ok(())
    }

    /// Flushes and renames the file into place; returns its size.
    pub fn commit(self) -> Result<u64> {
        Ok(commit_all(vec![self])?[0])
    }

    /// Appends a buffer's bytes, calling `done` with the length of each chunk
    /// (progress). A view into a mapped file is copied file to file by the
    /// kernel (`copy_file_range` on Linux): no page of it is faulted into this
    /// process and no byte crosses into user space. Otherwise, and where the
    /// kernel cannot (other file systems, other systems), the bytes are
    /// written in large chunks as [`Buffer::write_to`] does.
    pub fn write_buffer(&mut self, buf: &Buffer, mut done: impl FnMut(u64)) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some((src, offset)) = buf.file_range()
            && buf.len() >= KERNEL_COPY_MIN
        {
            self.flush()?;
            let dst = self.writer.as_mut().expect("writer present until commit").get_mut();
            match kernel_copy(src, offset, dst, buf.len() as u64, &mut done) {
                Ok(n) => {
                    self.written += n;
                    if n == buf.len() as u64 {
                        return Ok(());
                    }
                    // Unsupported after a partial copy cannot happen (support is per file
                    // pair), but finishing with plain writes keeps this correct regardless.
                    let rest = buf.slice(n as usize..buf.len()).map_err(|e| io::Error::other(e.to_string()))?;
                    return rest.write_to(self, done);
                }
                Err(e) => return Err(self.io_err(e)),
            }
        }
        buf.write_to(self, done)
    }

    fn io_err(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.target.display()))
    }
}

/// Commits several files as one: all are flushed first, then renamed into
/// place in order. If any rename fails, files already renamed are removed
/// and the files they replaced are restored, so the previous model (all of
/// its files) is left as it was. Returns each file's size.
pub fn commit_all(mut files: Vec<AtomicFile>) -> Result<Vec<u64>> {
    for f in &mut files {
        f.finish()?;
    }
    let backup_of = |t: &Path| {
        let name = t.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        parent_dir(t).join(format!(".{name}.{}.bak", std::process::id()))
    };
    let mut backups: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut placed: Vec<PathBuf> = Vec::new();
    let mut failure = None;
    for f in &files {
        if f.target.is_file() {
            let b = backup_of(&f.target);
            if let Err(e) = std::fs::rename(&f.target, &b) {
                failure = Some(Error::io(&f.target, e));
                break;
            }
            backups.push((f.target.clone(), b));
        }
        if let Err(e) = std::fs::rename(&f.temp, &f.target) {
            failure = Some(Error::io(&f.target, e));
            break;
        }
        placed.push(f.target.clone());
    }
    if let Some(e) = failure {
        for p in &placed {
            let _ = std::fs::remove_file(p);
        }
        for (target, b) in &backups {
            let _ = std::fs::rename(b, target);
        }
        for f in &files {
            let _ = std::fs::remove_file(&f.temp);
        }
        return Err(e);
    }
    for (_, b) in &backups {
        let _ = std::fs::remove_file(b);
    }
    let sizes = files.iter().map(|f| f.written).collect();
    // Renamed: nothing left for Drop to clean up.
    for f in &mut files {
        f.temp = PathBuf::new();
    }
    Ok(sizes)
}

/// Below this, a kernel copy saves nothing over a buffered write.
#[cfg(target_os = "linux")]
const KERNEL_COPY_MIN: usize = 1 << 20;

/// Copies `len` bytes at `offset` of `src` to the current position of `dst`
/// with `copy_file_range`, which leaves `src`'s file position alone. Returns
/// the bytes copied: fewer than `len` only when the kernel declines the copy
/// at the start (`EXDEV`, `ENOSYS`, `EINVAL`, ...) and the caller must write
/// the rest itself, or when `src` is shorter than expected.
#[cfg(target_os = "linux")]
fn kernel_copy(src: &File, offset: u64, dst: &mut File, len: u64, done: &mut impl FnMut(u64)) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    const CHUNK: u64 = 64 << 20;
    let mut off_in = offset as libc::loff_t;
    let mut copied = 0u64;
    while copied < len {
        let want = (len - copied).min(CHUNK) as usize;
        // SAFETY: both descriptors are open files owned by the callers for the
        // duration of the call; `off_in` is a valid pointer to a local; a null
        // `off_out` makes the kernel use and advance `dst`'s file position.
        let n = unsafe {
            libc::copy_file_range(src.as_raw_fd(), &mut off_in, dst.as_raw_fd(), std::ptr::null_mut(), want, 0)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            let declined = matches!(
                e.raw_os_error(),
                Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM)
            );
            if copied == 0 && declined {
                return Ok(0);
            }
            return Err(e);
        }
        if n == 0 {
            break; // end of the source file
        }
        copied += n as u64;
        done(n as u64);
    }
    Ok(copied)
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
        self.writer = None;
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_buffers_are_copied_exactly_between_plain_writes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.bin");
        // Odd sizes and offsets: the kernel copy must start mid-page and the
        // buffered bytes before it must be flushed first.
        let data: Vec<u8> = (0..(3 << 20) + 12345u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let mapped = Buffer::map_file(&src).unwrap();
        let view = mapped.slice(777..data.len() - 5).unwrap();
        assert_eq!(view.file_range().map(|(_, o)| o), Some(777));
        let out = d.path().join("out.bin");
        let mut f = AtomicFile::create(&out).unwrap();
        f.write_all(b"head").unwrap();
        let mut reported = 0;
        f.write_buffer(&view, |n| reported += n).unwrap();
        f.write_all(b"tail").unwrap();
        f.write_buffer(&Buffer::from_vec(vec![9; 10]), |_| {}).unwrap();
        assert_eq!(f.position(), 4 + view.len() as u64 + 4 + 10);
        f.commit().unwrap();
        let got = std::fs::read(&out).unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[777..data.len() - 5]);
        want.extend_from_slice(b"tail");
        want.extend_from_slice(&[9; 10]);
        assert!(got == want, "copied bytes differ");
        assert_eq!(reported, view.len() as u64);
    }

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

    #[test]
    fn commit_all_restores_every_file_when_one_fails() {
        let d = tempfile::tempdir().unwrap();
        let (data, model) = (d.path().join("m.onnx.data"), d.path().join("m.onnx"));
        std::fs::write(&data, b"old data").unwrap();
        std::fs::write(&model, b"old model").unwrap();
        let mut a = AtomicFile::create(&data).unwrap();
        a.write_all(b"new data").unwrap();
        let mut b = AtomicFile::create(&model).unwrap();
        b.write_all(b"new model").unwrap();
        // Make the second rename fail: its target becomes a non-empty folder.
        std::fs::remove_file(&model).unwrap();
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("x"), b"").unwrap();
        assert!(commit_all(vec![a, b]).is_err());
        assert_eq!(std::fs::read(&data).unwrap(), b"old data");
        let mut names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["m.onnx", "m.onnx.data"], "no temp or backup files left");
        let e = AtomicFile::create(&model).unwrap_err().to_string();
        assert!(e.ends_with("m.onnx: is a directory"), "{e}");
    }
}
