//! The zip container: stored entries under one top folder, every storage
//! 64-byte aligned (as `torch.jit.save` writes them, so a reader can map the
//! file and view tensors in place), streamed into an [`AtomicFile`].

use std::io::Write;
use std::path::Path;

use ir::io::AtomicFile;
use ir::{Buffer, Error, ProgressHandle, Result};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Alignment of every entry's data, as torch's writer uses.
pub(crate) const ALIGNMENT: u16 = 64;

/// An archive being written.
pub(crate) struct Archive {
    zip: ZipWriter<StreamWriter<AtomicFile>>,
    top: String,
    path: std::path::PathBuf,
}

impl Archive {
    /// Starts the archive at `path` (a temporary file until [`Archive::commit`]).
    pub fn create(path: &Path, top: &str) -> Result<Archive> {
        let file = AtomicFile::create(path)?;
        Ok(Archive { zip: ZipWriter::new_stream(file), top: top.to_string(), path: path.to_path_buf() })
    }

    fn options(len: u64) -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .with_alignment(ALIGNMENT)
            // A fixed timestamp keeps the output reproducible.
            .last_modified_time(DateTime::default())
            .large_file(len >= u32::MAX as u64)
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::invalid(format!("{}: writing the archive: {e}", self.path.display()))
    }

    /// Adds `top/name` with `bytes`.
    pub fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let full = format!("{}/{name}", self.top);
        self.zip.start_file(full, Self::options(bytes.len() as u64)).map_err(|e| self.err(e))?;
        self.zip.write_all(bytes).map_err(|e| self.err(e))
    }

    /// Adds `top/name` streamed from `buf`, reporting progress.
    pub fn buffer(&mut self, name: &str, buf: &Buffer, progress: &ProgressHandle) -> Result<()> {
        let full = format!("{}/{name}", self.top);
        self.zip.start_file(full, Self::options(buf.len() as u64)).map_err(|e| self.err(e))?;
        let res = buf.write_to(&mut self.zip, |n| progress.advance(n));
        res.map_err(|e| self.err(e))
    }

    /// Writes the central directory and renames the file into place; returns its size.
    pub fn commit(self) -> Result<u64> {
        let path = self.path.clone();
        let stream =
            self.zip.finish().map_err(|e| Error::invalid(format!("{}: writing the archive: {e}", path.display())))?;
        stream.into_inner().commit()
    }
}
