//! Helpers shared by op implementations: broadcasting, axes, shapes.

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use crate::{Result, bail};

/// Numpy-style broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let y = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => bail!("shapes {a:?} and {b:?} cannot be broadcast together"),
        };
    }
    Ok(out)
}

/// Broadcast of many shapes.
pub fn broadcast_all<'a>(shapes: impl IntoIterator<Item = &'a [usize]>) -> Result<Vec<usize>> {
    shapes.into_iter().try_fold(Vec::new(), |acc, s| broadcast_shapes(&acc, s))
}

/// Views `a` with `shape`, numpy broadcasting rules.
pub fn broadcast_view<'a, T>(a: &'a ArrayD<T>, shape: &[usize]) -> Result<ArrayViewD<'a, T>> {
    match a.broadcast(IxDyn(shape)) {
        Some(v) => Ok(v),
        None => bail!("shape {:?} cannot be broadcast to {shape:?}", a.shape()),
    }
}

/// Elementwise `f(a, b)` with broadcasting.
pub fn zip_map<A: Clone, B: Clone, O>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(A, B) -> O) -> Result<ArrayD<O>> {
    if a.shape() == b.shape() {
        return Ok(Zip::from(a).and(b).map_collect(|x, y| f(x.clone(), y.clone())));
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (va, vb) = (broadcast_view(a, &shape)?, broadcast_view(b, &shape)?);
    Ok(Zip::from(&va).and(&vb).map_collect(|x, y| f(x.clone(), y.clone())))
}

/// Elementwise `f(a, b, c)` with broadcasting.
pub fn zip_map3<A: Clone, B: Clone, C: Clone, O>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    c: &ArrayD<C>,
    f: impl Fn(A, B, C) -> O,
) -> Result<ArrayD<O>> {
    let shape = broadcast_all([a.shape(), b.shape(), c.shape()])?;
    let (va, vb, vc) = (broadcast_view(a, &shape)?, broadcast_view(b, &shape)?, broadcast_view(c, &shape)?);
    Ok(Zip::from(&va).and(&vb).and(&vc).map_collect(|x, y, z| f(x.clone(), y.clone(), z.clone())))
}

/// Normalizes a possibly negative axis for a tensor of rank `rank`.
pub fn axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    // A scalar has no axes: accepting 0 would let callers index shape[0].
    if a < 0 || a >= r {
        bail!("axis {axis} is out of range for rank {rank}");
    }
    Ok(a as usize)
}

/// Normalizes a list of axes, rejecting duplicates.
pub fn axes(list: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(list.len());
    // A bitmap, not `out.contains`: a fuzzed Unsqueeze of 65,536 axes made
    // the quadratic check take over a minute in the instrumented build.
    let mut seen = vec![false; rank];
    for &a in list {
        let a = axis(a, rank)?;
        if std::mem::replace(&mut seen[a], true) {
            bail!("axis {a} is listed twice among the {} axes", list.len());
        }
        out.push(a);
    }
    Ok(out)
}

/// Converts ONNX dims (i64) to sizes, rejecting negatives.
pub fn dims(v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(
            |&d| if d < 0 { Err(crate::Error::op(format!("negative dimension {d} in {v:?}"))) } else { Ok(d as usize) },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert!(broadcast_shapes(&[2, 3], &[4]).is_err());
        assert_eq!(broadcast_shapes(&[], &[5]).unwrap(), vec![5]);
        assert_eq!(axis(-1, 3).unwrap(), 2);
        assert!(axis(3, 3).is_err());
        assert!(axis(0, 0).is_err());
    }
}
