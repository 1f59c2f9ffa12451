//! IR tensors ⇄ evaluator tensors.

use half::{bf16, f16};
use ir::{Buffer, DType, TensorData};
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};

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
        DType::I4 => Tensor::I4(arr(shape, (0..n).map(|i| ((field(bytes, i, 4) << 4) as i8) >> 4).collect())),
        DType::U4 => Tensor::U4(arr(shape, (0..n).map(|i| field(bytes, i, 4)).collect())),
        DType::I2 => Tensor::I2(arr(shape, (0..n).map(|i| ((field(bytes, i, 2) << 6) as i8) >> 6).collect())),
        DType::U2 => Tensor::U2(arr(shape, (0..n).map(|i| field(bytes, i, 2)).collect())),
        d @ (DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F8E8M0) => {
            Tensor::F8(d, arr(shape, bytes.to_vec()))
        }
        d @ (DType::F4E2M1 | DType::F6E2M3 | DType::F6E3M2) => {
            let bits = d.bits().unwrap_or(8) as usize;
            Tensor::F8(d, arr(shape, (0..n).map(|i| field(bytes, i, bits)).collect()))
        }
        DType::C64 => {
            let v = floats_of::<f32>(bytes)?;
            Tensor::C64(arr(shape, v.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect()))
        }
        DType::C128 => {
            let v = floats_of::<f64>(bytes)?;
            Tensor::C128(arr(shape, v.chunks_exact(2).map(|c| Complex64::new(c[0], c[1])).collect()))
        }
        DType::String => bail!("string tensor without string data"),
    })
}

/// The little-endian floats of a complex tensor's bytes (real, imaginary
/// interleaved), whatever the buffer's alignment.
fn floats_of<T: bytemuck::Pod>(bytes: &Buffer) -> Result<std::borrow::Cow<'static, [T]>> {
    let size = std::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(2 * size) {
        bail!("{} bytes do not hold whole complex numbers", bytes.len());
    }
    Ok(std::borrow::Cow::Owned(bytes.chunks_exact(size).map(bytemuck::pod_read_unaligned).collect()))
}

/// Element `i` of a dense stream of `bits`-bit fields, lowest bits first
/// (ONNX's and OpenVINO's packing of 2-, 4- and 6-bit types).
fn field(bytes: &Buffer, i: usize, bits: usize) -> u8 {
    let start = i * bits;
    let (byte, shift) = (start / 8, start % 8);
    let lo = u16::from(bytes[byte]);
    let hi = if shift + bits > 8 { u16::from(bytes.get(byte + 1).copied().unwrap_or(0)) } else { 0 };
    (((lo | (hi << 8)) >> shift) & ((1 << bits) - 1)) as u8
}

/// Packs `bits`-bit fields densely, lowest bits first.
fn pack_fields(values: impl ExactSizeIterator<Item = u8>, bits: usize) -> Vec<u8> {
    let mut out = vec![0u8; (values.len() * bits).div_ceil(8)];
    let mask = (1u16 << bits) - 1;
    for (i, v) in values.enumerate() {
        let start = i * bits;
        let (byte, shift) = (start / 8, start % 8);
        let f = (u16::from(v) & mask) << shift;
        out[byte] |= f as u8;
        if shift + bits > 8 {
            out[byte + 1] |= (f >> 8) as u8;
        }
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
            ir::Tensor::from_raw(DType::I4, shape, Buffer::from_vec(pack_fields(a.iter().map(|&v| v as u8), 4)))?
        }
        Tensor::U4(a) => ir::Tensor::from_raw(DType::U4, shape, Buffer::from_vec(pack_fields(a.iter().copied(), 4)))?,
        Tensor::I2(a) => {
            ir::Tensor::from_raw(DType::I2, shape, Buffer::from_vec(pack_fields(a.iter().map(|&v| v as u8), 2)))?
        }
        Tensor::U2(a) => ir::Tensor::from_raw(DType::U2, shape, Buffer::from_vec(pack_fields(a.iter().copied(), 2)))?,
        Tensor::F8(d, a) => {
            let bits = d.bits().unwrap_or(8) as usize;
            let bytes = if bits == 8 { a.iter().copied().collect() } else { pack_fields(a.iter().copied(), bits) };
            ir::Tensor::from_raw(*d, shape, Buffer::from_vec(bytes))?
        }
        Tensor::C64(a) => {
            let v: Vec<u8> = a.iter().flat_map(|c| [c.re.to_le_bytes(), c.im.to_le_bytes()]).flatten().collect();
            ir::Tensor::from_raw(DType::C64, shape, Buffer::from_vec(v))?
        }
        Tensor::C128(a) => {
            let v: Vec<u8> = a.iter().flat_map(|c| [c.re.to_le_bytes(), c.im.to_le_bytes()]).flatten().collect();
            ir::Tensor::from_raw(DType::C128, shape, Buffer::from_vec(v))?
        }
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
            ir::Tensor::from_raw(DType::I2, vec![5], Buffer::from_vec(vec![0b1110_0100, 0b01])).unwrap(),
            ir::Tensor::from_raw(DType::U2, vec![3], Buffer::from_vec(vec![0b10_0111])).unwrap(),
            ir::Tensor::from_raw(DType::F4E2M1, vec![3], Buffer::from_vec(vec![0x8f, 0x07])).unwrap(),
            ir::Tensor::from_raw(DType::F6E3M2, vec![3], Buffer::from_vec(vec![0xc1, 0x3f, 0x02])).unwrap(),
            ir::Tensor::from_raw(
                DType::C64,
                vec![1],
                Buffer::from_vec([1f32, -2.].iter().flat_map(|f| f.to_le_bytes()).collect()),
            )
            .unwrap(),
            ir::Tensor::from_raw(
                DType::C128,
                vec![1],
                Buffer::from_vec([1f64, -2.].iter().flat_map(|f| f.to_le_bytes()).collect()),
            )
            .unwrap(),
            ir::Tensor::from_strings(vec![1], vec![b"x".to_vec()]).unwrap(),
        ];
        for t in cases {
            assert_eq!(to_ir(&from_ir(&t).unwrap()).unwrap(), t);
        }
        let i4 =
            from_ir(&ir::Tensor::from_raw(DType::I4, vec![3], Buffer::from_vec(vec![0x8f, 0x07])).unwrap()).unwrap();
        assert_eq!(i4, Tensor::I4(arr(&[3], vec![-1, -8, 7])));
        let i2 = from_ir(&ir::Tensor::from_raw(DType::I2, vec![5], Buffer::from_vec(vec![0b1110_0100, 0b01])).unwrap())
            .unwrap();
        assert_eq!(i2, Tensor::I2(arr(&[5], vec![0, 1, -2, -1, 1])));
        // 6-bit fields straddle bytes: 0b000001, 0b111111, 0b001111.
        let f6 =
            from_ir(&ir::Tensor::from_raw(DType::F6E3M2, vec![3], Buffer::from_vec(vec![0xc1, 0x3f, 0x02])).unwrap())
                .unwrap();
        assert_eq!(f6, Tensor::F8(DType::F6E3M2, arr(&[3], vec![0b00_0001, 0b11_1111, 0b10_0011])));
    }
}
