//! IR tensors ⇄ evaluator tensors.

use half::{bf16, f16};
use ir::{Buffer, DType, TensorData};
use ndarray::{ArrayD, IxDyn};

use crate::{Result, Tensor, bail};

fn arr<T: Clone>(shape: &[usize], v: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("IR tensors have consistent sizes")
}

/// Converts an IR tensor (initializer, attribute, input file) for evaluation.
pub fn from_ir(t: &ir::Tensor) -> Result<Tensor> {
    let shape = t.shape();
    let n = t.numel();
    let bytes = match t.data() {
        TensorData::Strings(s) => {
            let v = s.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
            return Ok(Tensor::Str(arr(shape, v)));
        }
        TensorData::Bytes(b) => b,
    };
    macro_rules! typed {
        ($v:ident, $t:ty) => {
            Tensor::$v(arr(shape, t.as_slice::<$t>()?.into_owned()))
        };
    }
    Ok(match t.dtype() {
        DType::F32 => typed!(F32, f32),
        DType::F64 => typed!(F64, f64),
        DType::F16 => typed!(F16, f16),
        DType::BF16 => typed!(BF16, bf16),
        DType::I8 => typed!(I8, i8),
        DType::I16 => typed!(I16, i16),
        DType::I32 => typed!(I32, i32),
        DType::I64 => typed!(I64, i64),
        DType::U8 => typed!(U8, u8),
        DType::U16 => typed!(U16, u16),
        DType::U32 => typed!(U32, u32),
        DType::U64 => typed!(U64, u64),
        DType::Bool => Tensor::Bool(arr(shape, bytes.iter().map(|&b| b != 0).collect())),
        DType::I4 => Tensor::I4(arr(shape, (0..n).map(|i| ((nibble(bytes, i) << 4) as i8) >> 4).collect())),
        DType::U4 => Tensor::U4(arr(shape, (0..n).map(|i| nibble(bytes, i)).collect())),
        d @ (DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F8E8M0) => {
            Tensor::F8(d, arr(shape, bytes.to_vec()))
        }
        d => bail!("the evaluator does not compute on {d} tensors"),
    })
}

fn nibble(bytes: &Buffer, i: usize) -> u8 {
    let b = bytes[i / 2];
    if i.is_multiple_of(2) { b & 0x0f } else { b >> 4 }
}

fn pack_nibbles(values: impl ExactSizeIterator<Item = u8>) -> Vec<u8> {
    let mut out = vec![0u8; values.len().div_ceil(2)];
    for (i, v) in values.enumerate() {
        out[i / 2] |= (v & 0x0f) << (4 * (i % 2));
    }
    out
}

/// Converts an evaluator tensor back to an IR tensor (outputs, folded constants).
pub fn to_ir(t: &Tensor) -> Result<ir::Tensor> {
    let shape = t.shape().to_vec();
    macro_rules! typed {
        ($a:expr) => {
            ir::Tensor::from_vec(shape, $a.iter().copied().collect())?
        };
    }
    Ok(match t {
        Tensor::F32(a) => typed!(a),
        Tensor::F64(a) => typed!(a),
        Tensor::F16(a) => typed!(a),
        Tensor::BF16(a) => typed!(a),
        Tensor::I8(a) => typed!(a),
        Tensor::I16(a) => typed!(a),
        Tensor::I32(a) => typed!(a),
        Tensor::I64(a) => typed!(a),
        Tensor::U8(a) => typed!(a),
        Tensor::U16(a) => typed!(a),
        Tensor::U32(a) => typed!(a),
        Tensor::U64(a) => typed!(a),
        Tensor::Bool(a) => ir::Tensor::from_bools(shape, &a.iter().copied().collect::<Vec<_>>())?,
        Tensor::Str(a) => ir::Tensor::from_strings(shape, a.iter().map(|s| s.as_bytes().to_vec()).collect())?,
        Tensor::I4(a) => {
            ir::Tensor::from_raw(DType::I4, shape, Buffer::from_vec(pack_nibbles(a.iter().map(|&v| v as u8))))?
        }
        Tensor::U4(a) => ir::Tensor::from_raw(DType::U4, shape, Buffer::from_vec(pack_nibbles(a.iter().copied())))?,
        Tensor::F8(d, a) => ir::Tensor::from_raw(*d, shape, Buffer::from_vec(a.iter().copied().collect()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let cases = [
            ir::Tensor::from_vec(vec![2, 2], vec![1f32, -2., 3., 4.]).unwrap(),
            ir::Tensor::from_raw(DType::I4, vec![3], Buffer::from_vec(vec![0x8f, 0x07])).unwrap(),
            ir::Tensor::from_raw(DType::U4, vec![3], Buffer::from_vec(vec![0x8f, 0x07])).unwrap(),
            ir::Tensor::from_bools(vec![2], &[true, false]).unwrap(),
            ir::Tensor::from_strings(vec![1], vec![b"x".to_vec()]).unwrap(),
        ];
        for t in cases {
            assert_eq!(to_ir(&from_ir(&t).unwrap()).unwrap(), t);
        }
        let i4 =
            from_ir(&ir::Tensor::from_raw(DType::I4, vec![3], Buffer::from_vec(vec![0x8f, 0x07])).unwrap()).unwrap();
        assert_eq!(i4, Tensor::I4(arr(&[3], vec![-1, -8, 7])));
    }
}
