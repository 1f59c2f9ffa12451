//! Permutation algebra and permuted constants.
//!
//! Convention (ONNX `Transpose`): `y = Transpose(x, p)` has `y.shape[k] =
//! x.shape[p[k]]`, i.e. axis `k` of the result is axis `p[k]` of the input.

use ir::Tensor;

/// Whether `p` is a permutation of `0..p.len()`.
pub(crate) fn is_perm(p: &[usize]) -> bool {
    let mut seen = vec![false; p.len()];
    p.iter().all(|&a| a < p.len() && !std::mem::replace(&mut seen[a], true))
}

/// Whether `p` leaves every axis in place.
pub(crate) fn is_identity(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(k, &a)| k == a)
}

/// The permutation undoing `p`: `Transpose(Transpose(x, p), inverse(p)) == x`.
pub(crate) fn inverse(p: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; p.len()];
    for (k, &a) in p.iter().enumerate() {
        inv[a] = k;
    }
    inv
}

/// The one permutation equal to applying `first`, then `second`: axis `k`
/// of the result is axis `first[second[k]]` of the original.
pub(crate) fn then(first: &[usize], second: &[usize]) -> Vec<usize> {
    second.iter().map(|&k| first[k]).collect()
}

/// An axis in `[-rank, rank)` as an index in `[0, rank)`.
pub(crate) fn norm_axis(a: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok()?;
    let a = if a < 0 { a + r } else { a };
    (0..r).contains(&a).then_some(a as usize)
}

/// Normalized, sorted, duplicate-free axes; `None` if one is out of range or repeated.
pub(crate) fn norm_axes(axes: &[i64], rank: usize) -> Option<Vec<usize>> {
    let mut v = axes.iter().map(|&a| norm_axis(a, rank)).collect::<Option<Vec<_>>>()?;
    v.sort_unstable();
    let n = v.len();
    v.dedup();
    (v.len() == n).then_some(v)
}

/// Where the surviving axes go when axes `removed` are dropped from a
/// tensor transposed by `p`: the result read in `p`'s layout equals the
/// reduction of the untransposed tensor transposed by the returned
/// permutation (used for `keepdims=0` reductions and `Squeeze`).
pub(crate) fn after_removing(p: &[usize], removed: &[usize]) -> Vec<usize> {
    let kept: Vec<usize> = (0..p.len()).filter(|k| !removed.contains(k)).map(|k| p[k]).collect();
    let mut sorted = kept.clone();
    sorted.sort_unstable();
    kept.iter().map(|a| sorted.iter().position(|s| s == a).unwrap_or(0)).collect()
}

/// The permutation of `Unsqueeze(Transpose(x, p), axes)` relative to
/// `Unsqueeze(x, axes)`; `axes` are normalized against the output rank.
pub(crate) fn after_inserting(p: &[usize], axes: &[usize]) -> Vec<usize> {
    let rank = p.len() + axes.len();
    let pos: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
    let mut q: Vec<usize> = (0..rank).collect();
    for (k, &a) in p.iter().enumerate() {
        q[pos[k]] = pos[a];
    }
    q
}

/// A constant of rank at most `rank` prepared to meet a tensor whose
/// transpose by `p` it was broadcast against: padded with leading 1s to
/// `rank` (numpy broadcasting) and transposed by `inverse(p)`.
pub(crate) fn for_untransposed(t: &Tensor, p: &[usize]) -> Option<Tensor> {
    let rank = p.len();
    let have = t.shape().len();
    if have > rank {
        return None;
    }
    let mut full = vec![1usize; rank - have];
    full.extend_from_slice(t.shape());
    t.reshaped(full).ok()?.permuted(&inverse(p)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algebra() {
        let p = [0, 2, 3, 1];
        assert!(is_perm(&p) && !is_perm(&[0, 0, 1]) && !is_perm(&[0, 3]));
        assert_eq!(inverse(&p), [0, 3, 1, 2]);
        assert!(is_identity(&then(&p, &inverse(&p))));
        assert_eq!(then(&[1, 0, 2], &[2, 0, 1]), [2, 1, 0]);
        assert_eq!(norm_axes(&[-1, 1], 4), Some(vec![1, 3]));
        assert_eq!(norm_axes(&[1, -3], 4), None);
        assert_eq!(norm_axis(4, 4), None);
        // NHWC view of NCHW data, H and W reduced: [N, C] in both layouts.
        assert_eq!(after_removing(&p, &[1, 2]), [0, 1]);
        // ... and C reduced: NHW from N(HW) keeps order.
        assert_eq!(after_removing(&[0, 3, 1, 2], &[1]), [0, 1, 2]);
        assert_eq!(after_removing(&[2, 0, 1], &[0]), [0, 1]);
        assert_eq!(after_removing(&[1, 2, 0], &[1]), [1, 0]);
        assert_eq!(after_inserting(&[1, 0], &[0]), [0, 2, 1]);
        assert_eq!(after_inserting(&[1, 0], &[1]), [2, 1, 0]);
    }

    #[test]
    fn permute_moves_bytes_and_borrows_when_it_can() {
        let t = Tensor::from_vec(vec![2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
        let u = t.permuted(&[1, 0]).unwrap();
        assert_eq!(u.shape(), [3, 2]);
        assert_eq!(&*u.as_slice::<f32>().unwrap(), &[0., 3., 1., 4., 2., 5.]);
        // [1, C, 1, 1] <- [1, 1, 1, C]: same bytes.
        let b = Tensor::from_vec(vec![3], vec![1i64, 2, 3]).unwrap();
        let c = for_untransposed(&b, &[0, 2, 3, 1]).unwrap();
        assert_eq!(c.shape(), [1, 3, 1, 1]);
        assert_eq!(c.raw().unwrap().as_bytes().as_ptr(), b.raw().unwrap().as_bytes().as_ptr());
        let q = Tensor::from_raw(ir::DType::I4, vec![2, 2], ir::Buffer::from_vec(vec![0x21, 0x43])).unwrap();
        assert!(q.permuted(&[1, 0]).is_err());
    }
}
