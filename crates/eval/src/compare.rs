//! Error metrics between a reference output and a candidate output.

use crate::{Result, Tensor, Value, bail};

/// How close a candidate output is to the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Number of elements compared.
    pub elements: usize,
    /// Largest absolute difference.
    pub max_abs: f64,
    /// ‖candidate − reference‖₂ / ‖reference‖₂ (the absolute L2 error when the reference is zero).
    pub rel_l2: f64,
    /// Cosine similarity (1 when both are zero).
    pub cosine: f64,
    /// Signal-to-quantization-noise ratio in dB: 10·log10(‖ref‖² / ‖cand − ref‖²).
    pub sqnr_db: f64,
    /// For classifier-like outputs (`[N, C]`, C ≥ 2): rows whose argmax agrees, and row count.
    pub top1: Option<(usize, usize)>,
    /// Elements where one side is NaN and the other is not.
    pub nan_mismatches: usize,
}

/// Compares `candidate` with `reference`: same dtype and shape required.
pub fn compare(reference: &Tensor, candidate: &Tensor) -> Result<Metrics> {
    if reference.shape() != candidate.shape() {
        bail!("shape {:?} differs from the reference's {:?}", candidate.shape(), reference.shape());
    }
    if reference.dtype() != candidate.dtype() {
        bail!("dtype {} differs from the reference's {}", candidate.dtype(), reference.dtype());
    }
    if let (Tensor::Str(a), Tensor::Str(b)) = (reference, candidate) {
        let diff = a.iter().zip(b).filter(|(x, y)| x != y).count();
        let d = if diff == 0 { 0.0 } else { 1.0 };
        return Ok(Metrics {
            elements: a.len(),
            max_abs: d,
            rel_l2: d,
            cosine: 1.0 - d,
            sqnr_db: if diff == 0 { f64::INFINITY } else { 0.0 },
            top1: None,
            nan_mismatches: 0,
        });
    }
    let (r, c) = (components(reference)?, components(candidate)?);
    let (mut max_abs, mut diff2, mut ref2, mut cand2, mut dot, mut nan_mismatches) = (0f64, 0f64, 0f64, 0f64, 0f64, 0);
    for (&x, &y) in r.iter().zip(&c) {
        if x.is_nan() || y.is_nan() {
            nan_mismatches += usize::from(x.is_nan() != y.is_nan());
            continue;
        }
        if x == y {
            // Also covers equal infinities, whose difference would be NaN.
            ref2 += if x.is_finite() { x * x } else { 0.0 };
            cand2 += if y.is_finite() { y * y } else { 0.0 };
            dot += if x.is_finite() { x * y } else { 0.0 };
            continue;
        }
        let d = (y - x).abs();
        max_abs = max_abs.max(d);
        diff2 += d * d;
        ref2 += x * x;
        cand2 += y * y;
        dot += x * y;
    }
    let rel_l2 = if ref2 > 0.0 { (diff2 / ref2).sqrt() } else { diff2.sqrt() };
    let cosine = if ref2 == 0.0 && cand2 == 0.0 {
        1.0
    } else if ref2 == 0.0 || cand2 == 0.0 {
        0.0
    } else {
        dot / (ref2.sqrt() * cand2.sqrt())
    };
    let sqnr_db = if diff2 == 0.0 { f64::INFINITY } else { 10.0 * (ref2 / diff2).log10() };
    let top1 = match reference.shape() {
        [n, classes] if *classes >= 2 && reference.dtype().is_float() => {
            let argmax = |v: &[f64]| {
                v.iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best })
                    .0
            };
            let agree = (0..*n)
                .filter(|&i| argmax(&r[i * classes..(i + 1) * classes]) == argmax(&c[i * classes..(i + 1) * classes]))
                .count();
            Some((agree, *n))
        }
        _ => None,
    };
    Ok(Metrics { elements: reference.len(), max_abs, rel_l2, cosine, sqnr_db, top1, nan_mismatches })
}

/// The values as f64; complex tensors as interleaved (real, imaginary)
/// components, so that every metric treats a complex number as two reals
/// (the L2 and cosine figures then equal those of the complex vectors).
fn components(t: &Tensor) -> Result<Vec<f64>> {
    Ok(match t {
        Tensor::C64(a) => a.iter().flat_map(|z| [f64::from(z.re), f64::from(z.im)]).collect(),
        Tensor::C128(a) => a.iter().flat_map(|z| [z.re, z.im]).collect(),
        Tensor::F8(..) => t.cast_to(ir::DType::F64)?.to_f64_vec()?,
        t => t.to_f64_vec()?,
    })
}

/// Compares two values of the same structure (tensors, or sequences of
/// tensors compared element by element and merged).
pub fn compare_values(reference: &Value, candidate: &Value) -> Result<Metrics> {
    match (reference, candidate) {
        (Value::Tensor(a), Value::Tensor(b)) => compare(a, b),
        (Value::Sequence(a), Value::Sequence(b)) => {
            if a.len() != b.len() {
                bail!("sequence of {} elements differs from the reference's {}", b.len(), a.len());
            }
            let mut all = Metrics {
                elements: 0,
                max_abs: 0.0,
                rel_l2: 0.0,
                cosine: 1.0,
                sqnr_db: f64::INFINITY,
                top1: None,
                nan_mismatches: 0,
            };
            for (x, y) in a.iter().zip(b) {
                let m = compare_values(x, y)?;
                all.elements += m.elements;
                all.max_abs = all.max_abs.max(m.max_abs);
                all.rel_l2 = all.rel_l2.max(m.rel_l2);
                all.cosine = all.cosine.min(m.cosine);
                all.sqnr_db = all.sqnr_db.min(m.sqnr_db);
                all.nan_mismatches += m.nan_mismatches;
            }
            Ok(all)
        }
        (Value::Optional(a, _), Value::Optional(b, _)) => match (a, b) {
            (Some(a), Some(b)) => compare_values(a, b),
            (None, None) => compare_values(&Value::Sequence(vec![]), &Value::Sequence(vec![])),
            _ => bail!("one optional is empty and the other is not"),
        },
        _ => bail!("value kinds differ (tensor, sequence or optional)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics() {
        let a = Tensor::f32(&[2, 2], vec![1., 0., 0., 1.]).unwrap();
        let b = Tensor::f32(&[2, 2], vec![1., 0.1, 0., 1.]).unwrap();
        let m = compare(&a, &b).unwrap();
        assert!((m.max_abs - 0.1).abs() < 1e-6);
        assert!((m.rel_l2 - (0.01f64 / 2.0).sqrt()).abs() < 1e-6);
        assert_eq!(m.top1, Some((2, 2)));
        assert_eq!(compare(&a, &a).unwrap().rel_l2, 0.0);
        assert!(compare(&a, &Tensor::f32(&[4], vec![0.; 4]).unwrap()).is_err());
        let z = |im: f32| {
            Tensor::C64(
                crate::array(&[2], vec![num_complex::Complex32::new(3.0, 0.0), num_complex::Complex32::new(0.0, im)])
                    .unwrap(),
            )
        };
        let m = compare(&z(4.0), &z(4.5)).unwrap();
        assert_eq!((m.elements, m.max_abs), (2, 0.5));
        assert!((m.rel_l2 - 0.1).abs() < 1e-12, "{m:?}");
        let n = Tensor::f32(&[2], vec![f32::NAN, f32::INFINITY]).unwrap();
        let m = compare(&n, &n).unwrap();
        assert_eq!((m.nan_mismatches, m.rel_l2), (0, 0.0));
    }
}
