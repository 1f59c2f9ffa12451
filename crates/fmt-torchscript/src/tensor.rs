//! Tensors from storages: a [`TensorRef`] (storage, offset, sizes,
//! strides) becomes an [`ir::Tensor`] whose bytes are a view into the
//! storage's bytes when the view is contiguous, and a one-time copy when it
//! is not. A copy is bytes the file did not hold (a stride-0 view of a small
//! storage can describe any number of elements), so it counts against
//! [`ir::Limits::max_inflated_bytes`] like inflated zip entries.

use std::path::Path;

use ir::{Buffer, Error, Limit, Limits, Result, Tensor};

use crate::pickle::TensorRef;

/// The tensor `t` describes, given the bytes of its storage. Every extent is
/// checked against the storage before anything is sliced or allocated.
pub fn materialize(t: &TensorRef, storage: &Buffer, path: &Path, limits: &Limits) -> Result<Tensor> {
    let key = &t.storage.key;
    let bad = |m: String| Error::malformed(path, format!("tensor in storage '{key}': {m}"));
    let dtype = t.storage.ty.dtype;
    let elem = dtype.byte_len(1).ok_or_else(|| bad(format!("{dtype} storages are not read")))?;
    let declared = t.storage.numel.checked_mul(elem).ok_or_else(|| bad("storage size overflows".into()))?;
    if (storage.len() as u64) < declared {
        return Err(bad(format!(
            "storage holds {} bytes, shorter than its declared {} elements",
            storage.len(),
            t.storage.numel
        )));
    }
    let numel = ir::checked_numel(&t.sizes).ok_or_else(|| bad("shape overflows".into()))?;
    let shape: Vec<usize> = t
        .sizes
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("dimension {d} does not fit in memory"))))
        .collect::<Result<_>>()?;
    if numel == 0 {
        return Tensor::from_raw(dtype, shape, Buffer::new()).map_err(|e| bad(e.to_string()));
    }
    if t.sizes.len() != t.strides.len() {
        return Err(bad(format!("{} sizes but {} strides", t.sizes.len(), t.strides.len())));
    }
    let strides: Vec<u64> = t
        .strides
        .iter()
        .map(|&s| u64::try_from(s).map_err(|_| bad(format!("negative stride {s}"))))
        .collect::<Result<_>>()?;
    // Last element reached by the view, which must lie inside the storage
    // (every size is at least 1 here, since numel is not 0).
    let mut last = t.offset;
    for (&size, &stride) in t.sizes.iter().zip(&strides) {
        last = size
            .saturating_sub(1)
            .checked_mul(stride)
            .and_then(|s| last.checked_add(s))
            .ok_or_else(|| bad("view extent overflows".into()))?;
    }
    if last >= t.storage.numel {
        return Err(bad(format!(
            "the view (offset {}, sizes {:?}, strides {:?}) reaches element {last}, but the storage has {} (storage shorter than its tensor)",
            t.offset, t.sizes, t.strides, t.storage.numel
        )));
    }
    // From here every element index is below the storage's numel, whose
    // byte size was checked above, so the products below cannot overflow.
    let mut contiguous = true;
    let mut expect = 1u64;
    for (&size, &stride) in t.sizes.iter().zip(&strides).rev() {
        if size != 1 && stride != expect {
            contiguous = false;
        }
        expect = expect.saturating_mul(size);
    }
    let overflow = || bad("view extent overflows".into());
    let start = t.offset.checked_mul(elem).ok_or_else(overflow)?;
    let bytes_needed = numel.checked_mul(elem).ok_or_else(overflow)?;
    if contiguous {
        let data = storage.slice_u64(start, bytes_needed).map_err(|e| bad(e.to_string()))?;
        return Tensor::from_raw(dtype, shape, data).map_err(|e| bad(e.to_string()));
    }
    limits.check(
        Limit::InflatedBytes,
        bytes_needed,
        path,
        &format!(
            "tensor in storage '{key}': copying the strided view {:?}/{:?} takes {bytes_needed} bytes",
            t.sizes, t.strides
        ),
    )?;
    let capacity = usize::try_from(bytes_needed).map_err(|_| bad("the view does not fit in memory".into()))?;
    tracing::debug!(
        "{}: storage '{key}': non-contiguous view {:?}/{:?} copied once",
        path.display(),
        t.sizes,
        t.strides
    );
    let bytes = storage.as_bytes();
    let mut out = Vec::with_capacity(capacity);
    let mut index = vec![0u64; t.sizes.len()];
    for _ in 0..numel {
        // Bounded by `last`, checked above.
        let at = index.iter().zip(&strides).fold(t.offset, |a, (&i, &s)| a.saturating_add(i.saturating_mul(s)));
        let from = at.saturating_mul(elem);
        let range = usize::try_from(from).ok().zip(usize::try_from(from.saturating_add(elem)).ok());
        let item = range
            .and_then(|(a, b)| bytes.get(a..b))
            .ok_or_else(|| bad(format!("element {at} is outside the storage")))?;
        out.extend_from_slice(item);
        // Odometer over the view's index.
        for (i, &size) in index.iter_mut().zip(&t.sizes).rev() {
            *i = i.saturating_add(1);
            if *i < size {
                break;
            }
            *i = 0;
        }
    }
    Tensor::from_raw(dtype, shape, Buffer::from_vec(out)).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::dtype;
    use crate::pickle::StorageRef;

    fn tref(numel: u64, offset: u64, sizes: &[u64], strides: &[i64]) -> TensorRef {
        let storage = StorageRef { key: "0".into(), ty: dtype::by_name("float32").unwrap(), numel };
        TensorRef { storage, offset, sizes: sizes.to_vec(), strides: strides.to_vec() }
    }

    #[test]
    fn contiguous_views_share_bytes_and_strided_ones_are_copied() {
        let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let buf = Buffer::copy_from_slice(&data);
        let p = Path::new("m.pt");
        let t = materialize(&tref(12, 2, &[2, 3], &[3, 1]), &buf, p, &Limits::default()).unwrap();
        assert_eq!(&*t.as_slice::<f32>().unwrap(), &[2., 3., 4., 5., 6., 7.]);
        assert_eq!(t.raw().unwrap().as_ptr(), buf[8..].as_ptr(), "a view, not a copy");
        // A transpose: sizes [3, 2], strides [1, 3].
        let t = materialize(&tref(12, 0, &[3, 2], &[1, 3]), &buf, p, &Limits::default()).unwrap();
        assert_eq!(&*t.as_slice::<f32>().unwrap(), &[0., 3., 1., 4., 2., 5.]);
        // Size-1 dims may have any stride.
        assert!(materialize(&tref(12, 0, &[1, 4], &[99, 1]), &buf, p, &Limits::default()).is_ok());
    }

    #[test]
    fn views_past_the_storage_are_errors() {
        let buf = Buffer::copy_from_slice(&[0f32; 6]);
        let p = Path::new("m.pt");
        let e = materialize(&tref(6, 1, &[2, 3], &[3, 1]), &buf, p, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains("storage shorter than its tensor"), "{e}");
        let e = materialize(&tref(8, 0, &[2, 3], &[3, 1]), &buf, p, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains("shorter than its declared 8 elements"), "{e}");
        assert!(materialize(&tref(6, 0, &[2, 3], &[-3, 1]), &buf, p, &Limits::default()).is_err());
        assert!(materialize(&tref(6, u64::MAX, &[2], &[1]), &buf, p, &Limits::default()).is_err());
        // A stride-0 view describing 2^40 elements of a 6-element storage.
        let e = materialize(&tref(6, 0, &[1 << 20, 1 << 20], &[0, 0]), &buf, p, &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds the limit") && e.contains("--max-inflated-bytes"), "{e}");
    }
}
