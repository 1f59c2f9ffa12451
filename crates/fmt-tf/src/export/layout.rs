//! Layout permutations: a written tensor is the logical (ONNX) tensor
//! transposed by a permutation `p` (axis `j` of the TF tensor is logical axis
//! `p[j]`). These helpers compose them and remap axes.

/// NCHW logical → NHWC physical.
pub(crate) const NHWC: [usize; 4] = [0, 2, 3, 1];

/// The identity permutation of `rank` axes.
pub(crate) fn identity(rank: usize) -> Vec<usize> {
    (0..rank).collect()
}

/// Whether `p` keeps every axis in place.
pub(crate) fn is_identity(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, &x)| i == x)
}

/// The permutation `r` that turns a tensor in layout `current` into layout
/// `target`: `transpose(transpose(L, current), r) == transpose(L, target)`.
pub(crate) fn relative(current: &[usize], target: &[usize]) -> Vec<usize> {
    target.iter().map(|t| current.iter().position(|c| c == t).unwrap_or(*t)).collect()
}

/// The physical axis holding logical axis `a` in layout `p`.
pub(crate) fn physical_axis(p: &[usize], a: usize) -> usize {
    p.iter().position(|&x| x == a).unwrap_or(a)
}

/// The layout after a canonical `Transpose` by `t` of a tensor in layout `p`:
/// the TF tensor is unchanged and only its meaning moves.
pub(crate) fn after_transpose(p: &[usize], t: &[usize]) -> Vec<usize> {
    // Logical output axis i is logical input axis t[i]; physical axis j
    // holds logical input axis p[j], which is output axis position(t, p[j]).
    p.iter().map(|&x| t.iter().position(|&y| y == x).unwrap_or(x)).collect()
}

/// The layout left after removing the logical axes `removed` from a tensor in
/// layout `p` (a reduction without kept dims): the remaining physical axes in
/// order, renumbered.
pub(crate) fn after_removing(p: &[usize], removed: &[usize]) -> Vec<usize> {
    let renumber = |a: usize| a - removed.iter().filter(|&&r| r < a).count();
    p.iter().filter(|a| !removed.contains(a)).map(|&a| renumber(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_and_remap() {
        assert_eq!(relative(&[0, 1, 2, 3], &NHWC), NHWC.to_vec());
        assert_eq!(relative(&NHWC, &[0, 1, 2, 3]), vec![0, 3, 1, 2]);
        assert!(is_identity(&relative(&NHWC, &NHWC)));
        assert_eq!(physical_axis(&NHWC, 1), 3);
        // NCHW → NHWC by a canonical Transpose of an NHWC-held tensor: the TF
        // tensor already is the result.
        assert!(is_identity(&after_transpose(&NHWC, &NHWC)));
        // Mean over H, W of an NHWC-held NCHW tensor leaves [N, C] in order.
        assert!(is_identity(&after_removing(&NHWC, &[2, 3])));
        assert_eq!(after_removing(&NHWC, &[0]), vec![1, 2, 0]);
    }
}
