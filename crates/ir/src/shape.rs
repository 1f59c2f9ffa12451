//! Shapes with fixed, symbolic and unknown dimensions.

use std::fmt;

/// Most dimensions a value is taken to have when its rank comes from a file
/// (directly or through a file-declared size): far beyond any real model,
/// and small enough that per-axis lists of this length are cheap. Inference
/// and the OpenVINO writer treat larger ranks as unknown.
pub const MAX_RANK: usize = 1 << 16;

/// The element count of static `dims`, `None` when a dim is negative or the
/// product overflows `u64`. The importers multiply out dims read from a file
/// through this function, so an absurd shape is caught the same way in each.
pub fn checked_numel<D: Copy + TryInto<u64>>(dims: &[D]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d.try_into().ok()?))
}

/// One dimension of a value's shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A known size.
    Fixed(u64),
    /// A named dynamic size (`batch`, `N`, `seq_len`); equal names are equal sizes.
    Symbolic(String),
    /// A dynamic size with no name.
    Unknown,
}

impl Dim {
    /// The size if fixed.
    pub fn fixed(&self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether the dimension is not a fixed size.
    pub fn is_dynamic(&self) -> bool {
        !matches!(self, Dim::Fixed(_))
    }
}

impl From<u64> for Dim {
    fn from(n: u64) -> Self {
        Dim::Fixed(n)
    }
}

impl From<&str> for Dim {
    fn from(s: &str) -> Self {
        Dim::Symbolic(s.to_string())
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// The shape of a value: a list of dimensions (rank known).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    /// A shape of fixed dimensions.
    pub fn fixed(dims: &[u64]) -> Self {
        Shape(dims.iter().map(|&d| Dim::Fixed(d)).collect())
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The dimensions.
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// All sizes, if every dimension is fixed.
    pub fn as_fixed(&self) -> Option<Vec<u64>> {
        self.0.iter().map(Dim::fixed).collect()
    }

    /// Whether any dimension is symbolic or unknown.
    pub fn is_dynamic(&self) -> bool {
        self.0.iter().any(Dim::is_dynamic)
    }
}

impl From<Vec<Dim>> for Shape {
    fn from(d: Vec<Dim>) -> Self {
        Shape(d)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_fixed() {
        let s = Shape(vec!["batch".into(), 3.into(), Dim::Unknown]);
        assert_eq!(s.to_string(), "[batch,3,?]");
        assert!(s.is_dynamic());
        assert_eq!(s.as_fixed(), None);
        assert_eq!(Shape::fixed(&[1, 2]).as_fixed(), Some(vec![1, 2]));
    }

    #[test]
    fn checked_numel_refuses_overflow_and_negative_dims() {
        assert_eq!(checked_numel::<usize>(&[]), Some(1));
        assert_eq!(checked_numel(&[2usize, 3, 4]), Some(24));
        assert_eq!(checked_numel(&[0u64, u64::MAX]), Some(0));
        assert_eq!(checked_numel(&[1u64 << 32, 1 << 32]), None);
        assert_eq!(checked_numel(&[3i64, -1]), None);
    }
}
