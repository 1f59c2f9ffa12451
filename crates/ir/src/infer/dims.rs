//! Symbolic dimension arithmetic: broadcasting, window sizes, element counts.

use std::fmt;

use crate::Dim;

/// An integer that may be known, a named symbol, or unknown: an element of
/// a tracked shape vector (`Shape` → `Gather` → `Concat` → `Reshape`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SymInt {
    /// A known value (may be negative: `-1` in a Reshape target).
    Int(i64),
    /// A named dynamic size, equal to every other use of the same name.
    Sym(String),
    /// Nothing is known.
    Unknown,
}

impl SymInt {
    /// The value of a dimension.
    pub fn from_dim(d: &Dim) -> SymInt {
        match d {
            Dim::Fixed(n) => i64::try_from(*n).map_or(SymInt::Unknown, SymInt::Int),
            Dim::Symbolic(s) => SymInt::Sym(s.clone()),
            Dim::Unknown => SymInt::Unknown,
        }
    }

    /// As a dimension; negative values are not sizes and become unknown.
    pub fn to_dim(&self) -> Dim {
        match self {
            SymInt::Int(n) => u64::try_from(*n).map_or(Dim::Unknown, Dim::Fixed),
            SymInt::Sym(s) => Dim::Symbolic(s.clone()),
            SymInt::Unknown => Dim::Unknown,
        }
    }

    /// The value if known.
    pub fn int(&self) -> Option<i64> {
        match self {
            SymInt::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for SymInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymInt::Int(n) => write!(f, "{n}"),
            SymInt::Sym(s) => f.write_str(s),
            SymInt::Unknown => f.write_str("?"),
        }
    }
}

/// The broadcast of two dimensions (numpy rules), or `None` if two fixed
/// sizes differ and neither is 1.
pub(crate) fn broadcast_dim(a: &Dim, b: &Dim) -> Option<Dim> {
    Some(match (a, b) {
        (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d.clone(),
        (Dim::Fixed(x), Dim::Fixed(y)) if x != y => return None,
        (x, y) if x == y => x.clone(),
        // A dynamic size broadcast with a fixed size n > 1 must be n or 1.
        (Dim::Fixed(n), _) | (_, Dim::Fixed(n)) => Dim::Fixed(*n),
        _ => Dim::Unknown,
    })
}

/// The broadcast of several shapes, right-aligned; `Err((i, j))` names the
/// positions (from the right) of the first incompatible pair.
pub(crate) fn broadcast(shapes: &[&[Dim]]) -> Result<Vec<Dim>, (Vec<Dim>, Vec<Dim>)> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Dim::Fixed(1); rank];
    for s in shapes {
        let off = rank - s.len();
        for (k, d) in s.iter().enumerate() {
            // `off + k < rank` always: `rank` is the longest shape's length.
            let Some(slot) = out.get_mut(off + k) else { continue };
            match broadcast_dim(slot, d) {
                Some(r) => *slot = r,
                None => return Err((out.clone(), s.to_vec())),
            }
        }
    }
    Ok(out)
}

/// Product of fixed dimensions, `None` if any is dynamic or it overflows.
pub(crate) fn fixed_product(dims: &[Dim]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, d| d.fixed().and_then(|n| acc.checked_mul(n)))
}

/// `a + b` on dimensions: exact when both are fixed, the other when one is 0.
pub(crate) fn add(a: &Dim, b: &Dim) -> Dim {
    match (a, b) {
        (Dim::Fixed(0), d) | (d, Dim::Fixed(0)) => d.clone(),
        (Dim::Fixed(x), Dim::Fixed(y)) => x.checked_add(*y).map_or(Dim::Unknown, Dim::Fixed),
        _ => Dim::Unknown,
    }
}

/// `a * k` on a dimension.
pub(crate) fn mul(a: &Dim, k: u64) -> Dim {
    match a {
        _ if k == 1 => a.clone(),
        Dim::Fixed(x) => x.checked_mul(k).map_or(Dim::Unknown, Dim::Fixed),
        _ => Dim::Unknown,
    }
}

/// `a / k` on a dimension when exact (or flooring when `floor`).
pub(crate) fn div(a: &Dim, k: u64, floor: bool) -> Dim {
    match a {
        _ if k == 1 => a.clone(),
        Dim::Fixed(x) if k > 0 && (floor || x % k == 0) => Dim::Fixed(x / k),
        _ => Dim::Unknown,
    }
}

/// The output size of a sliding window along one axis (Conv, pooling):
/// `floor_or_ceil((in + pad - dilation*(k-1) - 1) / stride) + 1`. A dynamic
/// input keeps its name when the window preserves the size (stride 1, padding
/// equal to the receptive field minus one).
pub(crate) fn window(input: &Dim, k: u64, stride: u64, dilation: u64, pads: (u64, u64), ceil: bool) -> Dim {
    let pad = pads.0.saturating_add(pads.1);
    let field = dilation.saturating_mul(k.saturating_sub(1));
    match input {
        Dim::Fixed(n) => {
            let span = n.saturating_add(pad);
            // `span <= field`, not `span < field + 1`: `field` saturates and may be u64::MAX.
            if span <= field || stride == 0 {
                return Dim::Unknown;
            }
            let num = span - field - 1;
            let mut out = if ceil { num.div_ceil(stride) } else { num / stride } + 1;
            // ceil_mode: the last window must start inside the input or left padding.
            if ceil && (out - 1).saturating_mul(stride) >= n.saturating_add(pads.0) {
                out -= 1;
            }
            Dim::Fixed(out)
        }
        d if stride == 1 && pad == field => d.clone(),
        _ => Dim::Unknown,
    }
}

/// `ceil(in / stride)`, the output size of `auto_pad = SAME_*`.
pub(crate) fn same_size(input: &Dim, stride: u64) -> Dim {
    match input {
        _ if stride == 1 => input.clone(),
        Dim::Fixed(n) if stride > 0 => Dim::Fixed(n.div_ceil(stride)),
        _ => Dim::Unknown,
    }
}

/// Resolves a Reshape target against the input dimensions: `0` copies the
/// input dimension (unless `allowzero`), `-1` is what is left. `Err` carries
/// a message when the target is impossible.
pub(crate) fn reshape(input: Option<&[Dim]>, target: &[SymInt], allowzero: bool) -> Result<Vec<Dim>, String> {
    let mut out: Vec<Dim> = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (k, t) in target.iter().enumerate() {
        out.push(match t {
            SymInt::Int(-1) => {
                if infer_at.replace(k).is_some() {
                    return Err("the target shape has more than one -1".into());
                }
                Dim::Unknown
            }
            SymInt::Int(0) if !allowzero => match input {
                Some(dims) => dims
                    .get(k)
                    .cloned()
                    .ok_or_else(|| format!("target dimension {k} is 0 (copy) but the input has rank {}", dims.len()))?,
                None => Dim::Unknown,
            },
            SymInt::Int(n) if *n < 0 => return Err(format!("target dimension {k} is {n}")),
            t => t.to_dim(),
        });
    }
    let Some(input) = input else { return Ok(out) };
    match infer_at {
        Some(at) => {
            let rest: Vec<Dim> = out.iter().enumerate().filter(|&(k, _)| k != at).map(|(_, d)| d.clone()).collect();
            let q = quotient(input, &rest);
            if let Some(slot) = out.get_mut(at) {
                *slot = q;
            }
        }
        None => {
            if let (Some(a), Some(b)) = (fixed_product(input), fixed_product(&out))
                && a != b
            {
                return Err(format!("{a} elements cannot be reshaped to {b}"));
            }
        }
    }
    Ok(out)
}

/// `product(num) / product(den)` with equal dynamic dimensions cancelled.
fn quotient(num: &[Dim], den: &[Dim]) -> Dim {
    let mut num: Vec<Dim> = num.to_vec();
    let mut den_left: Vec<Dim> = Vec::new();
    for d in den {
        if d.is_dynamic() {
            match num.iter().position(|n| n == d && !matches!(n, Dim::Unknown)) {
                Some(p) => {
                    num.remove(p);
                }
                None => den_left.push(d.clone()),
            }
        } else {
            den_left.push(d.clone());
        }
    }
    let Some(den_fixed) = fixed_product(&den_left) else { return Dim::Unknown };
    let dynamic: Vec<&Dim> = num.iter().filter(|d| d.is_dynamic()).collect();
    let fixed: Option<u64> =
        num.iter().filter(|d| !d.is_dynamic()).try_fold(1u64, |a, d| d.fixed().and_then(|n| a.checked_mul(n)));
    let Some(fixed) = fixed else { return Dim::Unknown };
    match dynamic.as_slice() {
        [] if den_fixed > 0 && fixed % den_fixed == 0 => Dim::Fixed(fixed / den_fixed),
        [d] if fixed == den_fixed => (*d).clone(),
        _ => Dim::Unknown,
    }
}

/// Normalizes a possibly negative axis against `rank` (`rank + 1` positions when `inclusive`).
pub(crate) fn axis(a: i64, rank: usize, inclusive: bool) -> Option<usize> {
    let r = rank as i64 + i64::from(inclusive);
    let v = if a < 0 { a + r } else { a };
    (0..r).contains(&v).then_some(v as usize)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dim {
        match s.parse::<u64>() {
            Ok(n) => Dim::Fixed(n),
            Err(_) if s == "?" => Dim::Unknown,
            Err(_) => Dim::Symbolic(s.into()),
        }
    }
    fn ds(v: &[&str]) -> Vec<Dim> {
        v.iter().map(|s| d(s)).collect()
    }

    #[test]
    fn broadcasting_symbolic_dims() {
        assert_eq!(broadcast(&[&ds(&["N", "1", "4"]), &ds(&["3", "1"])]).unwrap(), ds(&["N", "3", "4"]));
        assert_eq!(broadcast(&[&ds(&["N"]), &ds(&["N"])]).unwrap(), ds(&["N"]));
        assert_eq!(broadcast(&[&ds(&["N"]), &ds(&["M"])]).unwrap(), ds(&["?"]));
        assert_eq!(broadcast(&[&ds(&["N"]), &ds(&["5"])]).unwrap(), ds(&["5"]));
        assert!(broadcast(&[&ds(&["3"]), &ds(&["4"])]).is_err());
        assert_eq!(broadcast(&[]).unwrap(), ds(&[]));
    }

    #[test]
    fn window_sizes() {
        // 224, k7 s2 p3+3 -> 112; k3 s2 p1+1 -> 56 from 112.
        assert_eq!(window(&d("224"), 7, 2, 1, (3, 3), false), d("112"));
        assert_eq!(window(&d("112"), 3, 2, 1, (1, 1), false), d("56"));
        // ceil_mode: 5, k2 s2 -> 3 with ceil, 2 without.
        assert_eq!(window(&d("5"), 2, 2, 1, (0, 0), true), d("3"));
        assert_eq!(window(&d("5"), 2, 2, 1, (0, 0), false), d("2"));
        // Dilation 2, k3: field 4.
        assert_eq!(window(&d("10"), 3, 1, 2, (0, 0), false), d("6"));
        // Symbolic size kept by a "same" window, lost otherwise.
        assert_eq!(window(&d("H"), 3, 1, 1, (1, 1), false), d("H"));
        assert_eq!(window(&d("H"), 3, 2, 1, (1, 1), false), d("?"));
        assert_eq!(same_size(&d("7"), 2), d("4"));
        assert_eq!(window(&d("2"), 5, 1, 1, (0, 0), false), d("?"));
    }

    #[test]
    fn reshape_targets() {
        let i = |v: i64| SymInt::Int(v);
        let input = ds(&["N", "3", "4"]);
        assert_eq!(reshape(Some(&input), &[i(0), i(-1)], false).unwrap(), ds(&["N", "12"]));
        assert_eq!(reshape(Some(&input), &[SymInt::Sym("N".into()), i(12)], false).unwrap(), ds(&["N", "12"]));
        assert_eq!(reshape(Some(&input), &[i(-1), i(4)], false).unwrap(), ds(&["?", "4"]));
        assert_eq!(
            reshape(Some(&input), &[SymInt::Sym("N".into()), i(-1), i(2)], false).unwrap(),
            ds(&["N", "6", "2"])
        );
        assert_eq!(reshape(Some(&ds(&["2", "6"])), &[i(-1)], false).unwrap(), ds(&["12"]));
        assert_eq!(reshape(Some(&ds(&["2", "6"])), &[i(3), i(-1)], false).unwrap(), ds(&["3", "4"]));
        assert!(reshape(Some(&ds(&["2", "6"])), &[i(5)], false).is_err());
        assert!(reshape(Some(&input), &[i(-1), i(-1)], false).is_err());
        assert_eq!(reshape(None, &[i(0), i(5)], true).unwrap(), ds(&["0", "5"]));
        assert_eq!(reshape(Some(&ds(&["N", "8"])), &[i(-1), SymInt::Unknown], false).unwrap(), ds(&["?", "?"]));
    }
}
