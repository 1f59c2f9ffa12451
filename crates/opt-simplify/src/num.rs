//! Float tensors as `f64` and back, for passes that rewrite weights.
//!
//! Weight arithmetic (BatchNormalization folding, pruning norms) is done in
//! `f64` whatever the stored dtype, then rounded once to that dtype, so a
//! folded f16 model loses no more precision than one rounding.

use half::{bf16, f16};
use ir::{DType, Error, Graph, Result, Tensor};

/// Whether passes can rewrite tensors of this dtype (the IEEE float types Conv/Gemm/MatMul/BN accept).
pub fn is_rewritable_float(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
}

/// The elements of a float tensor as `f64`.
pub fn to_f64(t: &Tensor) -> Result<Vec<f64>> {
    t.to_f64s()
}

/// A tensor of `dtype` (f16, bf16, f32 or f64) from `f64` values, rounded once.
pub fn from_f64(dtype: DType, shape: Vec<usize>, values: &[f64]) -> Result<Tensor> {
    match dtype {
        DType::F32 => Tensor::from_vec(shape, values.iter().map(|&v| v as f32).collect::<Vec<_>>()),
        DType::F64 => Tensor::from_vec(shape, values.to_vec()),
        DType::F16 => Tensor::from_vec(shape, values.iter().map(|&v| f16::from_f64(v)).collect::<Vec<_>>()),
        DType::BF16 => Tensor::from_vec(shape, values.iter().map(|&v| bf16::from_f64(v)).collect::<Vec<_>>()),
        d => Err(Error::invalid(format!("cannot write float values into a {d} tensor"))),
    }
}

/// The tensor behind `name` if it is a true constant of `g`: an initializer
/// that is not also a graph input (an input with a default can be overridden
/// at run time, so its value is not known).
pub fn constant<'g>(g: &'g Graph, name: &str) -> Option<&'g Tensor> {
    if g.inputs.iter().any(|v| v.name == name) {
        return None;
    }
    g.initializers.get(name)
}

/// The integer values of a constant int64/int32 tensor (shapes, axes, perms).
pub fn constant_ints(g: &Graph, name: &str) -> Option<Vec<i64>> {
    let t = constant(g, name)?;
    matches!(t.dtype(), DType::I64 | DType::I32).then(|| t.to_i64s().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_float_dtype() {
        for d in [DType::F32, DType::F64, DType::F16, DType::BF16] {
            let t = from_f64(d, vec![3], &[1.0, -2.5, 0.0]).unwrap();
            assert_eq!(t.dtype(), d);
            assert_eq!(to_f64(&t).unwrap(), vec![1.0, -2.5, 0.0]);
        }
        assert!(from_f64(DType::I8, vec![1], &[1.0]).is_err());
        let i = Tensor::from_vec(vec![1], vec![1i64]).unwrap();
        assert_eq!(
            to_f64(&i).unwrap_err().to_string(),
            "dtype mismatch: expected float (f16, bf16, f32, f64), found i64"
        );
    }
}
