//! Cheap-to-clone byte buffers: owned, or zero-copy views into a mapped file.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use bytemuck::Pod;
use bytes::Bytes;

use crate::{Error, Result};

/// An immutable, reference-counted byte buffer.
///
/// Cloning and slicing never copy: a buffer is either an owned allocation or
/// a window into a memory-mapped file kept alive by the buffer itself. This
/// is how weights travel from an importer to an exporter without ever being
/// copied onto the heap.
#[derive(Clone, Default)]
pub struct Buffer {
    bytes: Bytes,
    /// The mapping the bytes live in, if any: lets [`Buffer::release`] drop
    /// pages already streamed out, keeping resident memory bounded, and
    /// [`Buffer::file_range`] name the bytes' place in the file.
    map: Option<Arc<Mapping>>,
}

/// A mapped file, with the open file kept so writers can copy from it in the kernel.
struct Mapping {
    map: memmap2::Mmap,
    file: std::fs::File,
}

impl PartialEq for Buffer {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Buffer {}

impl Hash for Buffer {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

/// Shares a mapping with [`Bytes`].
struct SharedMap(Arc<Mapping>);

impl AsRef<[u8]> for SharedMap {
    fn as_ref(&self) -> &[u8] {
        &self.0.map
    }
}

/// Keeps a typed vector alive behind a [`Bytes`] so its alignment is kept.
struct TypedVec<T: Pod>(Vec<T>);

impl<T: Pod> AsRef<[u8]> for TypedVec<T> {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

impl Buffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Buffer { bytes: Bytes::new(), map: None }
    }

    /// Takes ownership of a byte vector without copying.
    pub fn from_vec(v: Vec<u8>) -> Self {
        Buffer { bytes: Bytes::from(v), map: None }
    }

    /// Takes ownership of a typed vector without copying (alignment of `T` kept).
    pub fn from_typed_vec<T: Pod + Send + Sync>(v: Vec<T>) -> Self {
        Buffer { bytes: Bytes::from_owner(TypedVec(v)), map: None }
    }

    /// Copies a typed slice into a new aligned buffer.
    pub fn copy_from_slice<T: Pod + Send + Sync>(s: &[T]) -> Self {
        Self::from_typed_vec(s.to_vec())
    }

    /// Wraps existing [`Bytes`] (for example slices of a mapped file that a
    /// protobuf decoder produced) without copying.
    pub fn from_bytes(b: Bytes) -> Self {
        Buffer { bytes: b, map: None }
    }

    /// Bytes that are a sub-slice of this buffer's (e.g. decoded from
    /// [`Buffer::to_bytes`] by a zero-copy parser), keeping the link to the
    /// mapping so [`Buffer::release`] still works on them.
    pub fn adopt(&self, b: Bytes) -> Self {
        let inside = self.bytes.as_ptr_range().contains(&b.as_ptr()) || b.is_empty();
        Buffer { bytes: b, map: if inside { self.map.clone() } else { None } }
    }

    /// Tells the OS the bytes will not be read again soon, so the pages of a
    /// mapped file they occupy can leave resident memory (they are re-read
    /// from the file if touched later). A no-op for owned buffers. Exporters
    /// call it after streaming a tensor out.
    pub fn release(&self) {
        #[cfg(unix)]
        if let Some(m) = &self.map {
            let map = &m.map;
            const PAGE: usize = 4096;
            let base = map.as_ptr() as usize;
            // An empty buffer may point anywhere (see `adopt`): only ranges
            // inside the mapping are released.
            let Some(offset) = (self.bytes.as_ptr() as usize).checked_sub(base) else { return };
            if self.bytes.is_empty() || offset + self.bytes.len() > map.len() {
                return;
            }
            let start = offset.div_ceil(PAGE) * PAGE;
            let end = (offset + self.bytes.len()) / PAGE * PAGE;
            if end > start {
                // SAFETY: the mapping is read-only and private, so dropping its
                // pages loses nothing: later reads fault them back in from the file.
                let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
            }
        }
    }

    /// Writes the bytes to `w` in large chunks, releasing each chunk of a
    /// mapped file once written (see [`Buffer::release`]) so that streaming
    /// a tensor of any size keeps resident memory at one chunk; `done` is
    /// called with each chunk's length (progress reporting).
    pub fn write_to(&self, w: &mut impl std::io::Write, mut done: impl FnMut(u64)) -> std::io::Result<()> {
        const CHUNK: usize = 16 << 20;
        let mut start = 0;
        while start < self.bytes.len() {
            let end = (start + CHUNK).min(self.bytes.len());
            w.write_all(&self.bytes[start..end])?;
            if self.map.is_some() {
                Buffer { bytes: self.bytes.slice(start..end), map: self.map.clone() }.release();
            }
            done((end - start) as u64);
            start = end;
        }
        Ok(())
    }

    /// Memory-maps a whole file read-only.
    ///
    /// The mapping lives as long as any buffer sliced from it. Modifying the
    /// file while it is mapped is undefined behaviour at the OS level; the
    /// tools only map inputs, never outputs.
    pub fn map_file(path: &Path) -> Result<Self> {
        // Opening a FIFO blocks until something writes to it, and a device
        // can be endless: a path from a model file must name a regular file.
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::malformed(path, "not a regular file"));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            // Mapping an empty file fails on some systems; nothing to map anyway.
            return Ok(Buffer::new());
        }
        // SAFETY: the map is read-only and private to this process; the
        // documented contract is that inputs are not modified while converting.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        #[cfg(unix)]
        {
            // Weights are read front to back once; tell the kernel to read ahead.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let map = Arc::new(Mapping { map, file });
        Ok(Buffer { bytes: Bytes::from_owner(SharedMap(map.clone())), map: Some(map) })
    }

    /// The file these bytes are mapped from and their offset in it, for a
    /// buffer that is a view into a mapped file. Writers use it to copy
    /// inside the kernel (`copy_file_range`) instead of through memory.
    pub fn file_range(&self) -> Option<(&std::fs::File, u64)> {
        let m = self.map.as_ref()?;
        // An empty slice of a mapping is `Bytes`' static empty buffer, whose
        // pointer is not in the map (a fuzzed ONNX file with an empty
        // external-data range made this subtraction overflow).
        let offset = (self.bytes.as_ptr() as usize).checked_sub(m.map.as_ptr() as usize)?;
        (offset.checked_add(self.bytes.len())? <= m.map.len()).then_some((&m.file, offset as u64))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The underlying [`Bytes`] (a cheap clone).
    pub fn to_bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A zero-copy sub-range, or an error if it is out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Result<Buffer> {
        if range.start > range.end || range.end > self.bytes.len() {
            return Err(Error::invalid(format!(
                "byte range {}..{} is outside a buffer of {} bytes",
                range.start,
                range.end,
                self.bytes.len()
            )));
        }
        Ok(Buffer { bytes: self.bytes.slice(range), map: self.map.clone() })
    }

    /// A zero-copy sub-range given as `u64` offset and length, as formats store them.
    pub fn slice_u64(&self, offset: u64, len: u64) -> Result<Buffer> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| Error::invalid(format!("offset {offset} + length {len} overflows")))?;
        let (Ok(start), Ok(end)) = (usize::try_from(offset), usize::try_from(end)) else {
            return Err(Error::invalid(format!("range {offset}..{end} does not fit in memory")));
        };
        self.slice(start..end)
    }

    /// Views the bytes as `T`s: borrowed when suitably aligned, copied otherwise.
    ///
    /// Errors if the length is not a multiple of `size_of::<T>()`.
    pub fn typed<T: Pod>(&self) -> Result<Cow<'_, [T]>> {
        let bytes = self.as_bytes();
        let size = std::mem::size_of::<T>();
        if size == 0 || !bytes.len().is_multiple_of(size) {
            return Err(Error::InvalidTensor(format!(
                "{} bytes is not a whole number of {size}-byte elements",
                bytes.len()
            )));
        }
        Ok(match bytemuck::try_cast_slice::<u8, T>(bytes) {
            Ok(s) => Cow::Borrowed(s),
            // Unaligned (e.g. raw_data at an odd offset inside a protobuf).
            Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
        })
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Vec<u8>> for Buffer {
    fn from(v: Vec<u8>) -> Self {
        Buffer::from_vec(v)
    }
}

impl From<Bytes> for Buffer {
    fn from(b: Bytes) -> Self {
        Buffer::from_bytes(b)
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buffer({} bytes{})", self.bytes.len(), if self.map.is_some() { ", mapped" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn typed_borrows_when_aligned_and_copies_otherwise() {
        let b = Buffer::from_typed_vec(vec![1.0f32, 2.0, 3.0]);
        assert!(matches!(b.typed::<f32>().unwrap(), Cow::Borrowed(_)));
        let odd = Buffer::from_vec(vec![0u8; 13]).slice(1..13).unwrap();
        let v = odd.typed::<f32>().unwrap();
        assert_eq!(v.len(), 3);
        assert!(Buffer::from_vec(vec![0u8; 5]).typed::<f32>().is_err());
    }

    #[test]
    fn slices_are_views_and_bounds_are_checked() {
        let b = Buffer::from_vec((0u8..10).collect());
        let s = b.slice(2..5).unwrap();
        assert_eq!(s.as_bytes(), &[2, 3, 4]);
        assert_eq!(s.as_ptr(), b[2..].as_ptr());
        assert!(b.slice(5..11).is_err());
        assert!(b.slice_u64(u64::MAX, 2).is_err());
    }

    #[test]
    fn mapped_file_is_shared_not_copied() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        let b = Buffer::map_file(f.path()).unwrap();
        let s = b.slice(100..200).unwrap();
        assert_eq!(s.as_ptr(), b[100..].as_ptr());
        drop(b);
        assert_eq!(s[0], 7, "the view keeps the mapping alive");
        s.release();
        assert_eq!(s[99], 7, "released pages are read back from the file");
        let adopted = s.adopt(s.to_bytes().slice(10..20));
        assert!(format!("{adopted:?}").contains("mapped"));
        // An adopted empty slice may point outside the mapping: releasing it is a no-op.
        let outside = s.adopt(bytes::Bytes::from_static(b""));
        outside.release();
        s.adopt(bytes::Bytes::new()).release();
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(Buffer::map_file(empty.path()).unwrap().is_empty());
        let missing = Buffer::map_file(Path::new("/nonexistent/x.bin")).unwrap_err();
        assert!(missing.to_string().starts_with("/nonexistent/x.bin: "), "{missing}");
    }
}
