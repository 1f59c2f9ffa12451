//! Runtime values: dtype-tagged ndarrays, sequences and optionals.

use half::{bf16, f16};
use ir::DType;
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};

use crate::{Error, Result, bail};

/// A dense tensor at run time: one ndarray variant per element type.
///
/// 4- and 2-bit integers are unpacked to one element per byte; 8-, 6- and
/// 4-bit floats are carried as their bit patterns, one per byte, with the
/// dtype beside them (only casts and (de)quantization look inside them).
/// Complex tensors move through the data-movement ops only: no ONNX
/// arithmetic op accepts them, but graphs pass them along.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// f32.
    F32(ArrayD<f32>),
    /// f64.
    F64(ArrayD<f64>),
    /// f16.
    F16(ArrayD<f16>),
    /// bf16.
    BF16(ArrayD<bf16>),
    /// i8.
    I8(ArrayD<i8>),
    /// i16.
    I16(ArrayD<i16>),
    /// i32.
    I32(ArrayD<i32>),
    /// i64.
    I64(ArrayD<i64>),
    /// u8.
    U8(ArrayD<u8>),
    /// u16.
    U16(ArrayD<u16>),
    /// u32.
    U32(ArrayD<u32>),
    /// u64.
    U64(ArrayD<u64>),
    /// bool.
    Bool(ArrayD<bool>),
    /// UTF-8 strings (non-UTF-8 bytes are replaced).
    Str(ArrayD<String>),
    /// int4, unpacked, values in -8..=7.
    I4(ArrayD<i8>),
    /// uint4, unpacked, values in 0..=15.
    U4(ArrayD<u8>),
    /// int2, unpacked, values in -2..=1.
    I2(ArrayD<i8>),
    /// uint2, unpacked, values in 0..=3.
    U2(ArrayD<u8>),
    /// One of the 8-, 6- or 4-bit float types, as bit patterns (low bits of each byte).
    F8(DType, ArrayD<u8>),
    /// complex64.
    C64(ArrayD<Complex32>),
    /// complex128.
    C128(ArrayD<Complex64>),
}

/// A value flowing along an edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A tensor.
    Tensor(Tensor),
    /// A sequence of values (ONNX sequence ops).
    Sequence(Vec<Value>),
    /// A possibly absent value (ONNX optional ops); the type is kept for empty ones.
    Optional(Option<Box<Value>>, ir::ValueType),
}

impl From<Tensor> for Value {
    fn from(t: Tensor) -> Self {
        Value::Tensor(t)
    }
}

impl Value {
    /// The tensor, or an error naming what this is instead.
    pub fn tensor(&self) -> Result<&Tensor> {
        match self {
            Value::Tensor(t) => Ok(t),
            Value::Sequence(_) => bail!("expected a tensor, got a sequence"),
            Value::Optional(..) => bail!("expected a tensor, got an optional"),
        }
    }

    /// Unwraps into the tensor.
    pub fn into_tensor(self) -> Result<Tensor> {
        match self {
            Value::Tensor(t) => Ok(t),
            Value::Sequence(_) => bail!("expected a tensor, got a sequence"),
            Value::Optional(..) => bail!("expected a tensor, got an optional"),
        }
    }

    /// Approximate bytes held (for memory accounting and logs).
    pub fn byte_len(&self) -> usize {
        match self {
            Value::Tensor(t) => t.byte_len(),
            Value::Sequence(v) => v.iter().map(Value::byte_len).sum(),
            Value::Optional(v, _) => v.as_ref().map_or(0, |v| v.byte_len()),
        }
    }
}

/// Applies `$e` to the array inside any variant, giving one result type.
#[macro_export]
macro_rules! with_any {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::F32($a) => $e,
            $crate::Tensor::F64($a) => $e,
            $crate::Tensor::F16($a) => $e,
            $crate::Tensor::BF16($a) => $e,
            $crate::Tensor::I8($a) => $e,
            $crate::Tensor::I16($a) => $e,
            $crate::Tensor::I32($a) => $e,
            $crate::Tensor::I64($a) => $e,
            $crate::Tensor::U8($a) => $e,
            $crate::Tensor::U16($a) => $e,
            $crate::Tensor::U32($a) => $e,
            $crate::Tensor::U64($a) => $e,
            $crate::Tensor::Bool($a) => $e,
            $crate::Tensor::Str($a) => $e,
            $crate::Tensor::I4($a) => $e,
            $crate::Tensor::U4($a) => $e,
            $crate::Tensor::I2($a) => $e,
            $crate::Tensor::U2($a) => $e,
            $crate::Tensor::F8(_, $a) => $e,
            $crate::Tensor::C64($a) => $e,
            $crate::Tensor::C128($a) => $e,
        }
    };
}

/// Maps the array inside any variant to an array of the same element type,
/// keeping the variant (and the 8-bit float dtype). For shape-only ops.
#[macro_export]
macro_rules! map_any {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::F32($a) => $crate::Tensor::F32($e),
            $crate::Tensor::F64($a) => $crate::Tensor::F64($e),
            $crate::Tensor::F16($a) => $crate::Tensor::F16($e),
            $crate::Tensor::BF16($a) => $crate::Tensor::BF16($e),
            $crate::Tensor::I8($a) => $crate::Tensor::I8($e),
            $crate::Tensor::I16($a) => $crate::Tensor::I16($e),
            $crate::Tensor::I32($a) => $crate::Tensor::I32($e),
            $crate::Tensor::I64($a) => $crate::Tensor::I64($e),
            $crate::Tensor::U8($a) => $crate::Tensor::U8($e),
            $crate::Tensor::U16($a) => $crate::Tensor::U16($e),
            $crate::Tensor::U32($a) => $crate::Tensor::U32($e),
            $crate::Tensor::U64($a) => $crate::Tensor::U64($e),
            $crate::Tensor::Bool($a) => $crate::Tensor::Bool($e),
            $crate::Tensor::Str($a) => $crate::Tensor::Str($e),
            $crate::Tensor::I4($a) => $crate::Tensor::I4($e),
            $crate::Tensor::U4($a) => $crate::Tensor::U4($e),
            $crate::Tensor::I2($a) => $crate::Tensor::I2($e),
            $crate::Tensor::U2($a) => $crate::Tensor::U2($e),
            $crate::Tensor::F8(d, $a) => $crate::Tensor::F8(*d, $e),
            $crate::Tensor::C64($a) => $crate::Tensor::C64($e),
            $crate::Tensor::C128($a) => $crate::Tensor::C128($e),
        }
    };
}

/// Like [`map_any!`] for element types with an order (all but complex);
/// evaluates to `Result<Tensor>`, an error for complex tensors.
#[macro_export]
macro_rules! map_ordered {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::C64(_) | $crate::Tensor::C128(_) => {
                Err($crate::Error::op(format!("{} has no order; not supported here", $t.dtype())))
            }
            $crate::Tensor::F32($a) => Ok($crate::Tensor::F32($e)),
            $crate::Tensor::F64($a) => Ok($crate::Tensor::F64($e)),
            $crate::Tensor::F16($a) => Ok($crate::Tensor::F16($e)),
            $crate::Tensor::BF16($a) => Ok($crate::Tensor::BF16($e)),
            $crate::Tensor::I8($a) => Ok($crate::Tensor::I8($e)),
            $crate::Tensor::I16($a) => Ok($crate::Tensor::I16($e)),
            $crate::Tensor::I32($a) => Ok($crate::Tensor::I32($e)),
            $crate::Tensor::I64($a) => Ok($crate::Tensor::I64($e)),
            $crate::Tensor::U8($a) => Ok($crate::Tensor::U8($e)),
            $crate::Tensor::U16($a) => Ok($crate::Tensor::U16($e)),
            $crate::Tensor::U32($a) => Ok($crate::Tensor::U32($e)),
            $crate::Tensor::U64($a) => Ok($crate::Tensor::U64($e)),
            $crate::Tensor::Bool($a) => Ok($crate::Tensor::Bool($e)),
            $crate::Tensor::Str($a) => Ok($crate::Tensor::Str($e)),
            $crate::Tensor::I4($a) => Ok($crate::Tensor::I4($e)),
            $crate::Tensor::U4($a) => Ok($crate::Tensor::U4($e)),
            $crate::Tensor::I2($a) => Ok($crate::Tensor::I2($e)),
            $crate::Tensor::U2($a) => Ok($crate::Tensor::U2($e)),
            $crate::Tensor::F8(d, $a) => Ok($crate::Tensor::F8(*d, $e)),
        }
    };
}

/// Maps the array of a float tensor (f32, f64, f16, bf16) keeping its type;
/// evaluates to `Result<Tensor>`, an error for other dtypes.
#[macro_export]
macro_rules! map_float {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::F32($a) => Ok($crate::Tensor::F32($e)),
            $crate::Tensor::F64($a) => Ok($crate::Tensor::F64($e)),
            $crate::Tensor::F16($a) => Ok($crate::Tensor::F16($e)),
            $crate::Tensor::BF16($a) => Ok($crate::Tensor::BF16($e)),
            other => Err($crate::Error::op(format!("{} is not supported here (float types only)", other.dtype()))),
        }
    };
}

/// Maps the array of a numeric tensor (floats and 8–64-bit integers) keeping
/// its type; evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_num {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::F32($a) => Ok($crate::Tensor::F32($e)),
            $crate::Tensor::F64($a) => Ok($crate::Tensor::F64($e)),
            $crate::Tensor::F16($a) => Ok($crate::Tensor::F16($e)),
            $crate::Tensor::BF16($a) => Ok($crate::Tensor::BF16($e)),
            $crate::Tensor::I8($a) => Ok($crate::Tensor::I8($e)),
            $crate::Tensor::I16($a) => Ok($crate::Tensor::I16($e)),
            $crate::Tensor::I32($a) => Ok($crate::Tensor::I32($e)),
            $crate::Tensor::I64($a) => Ok($crate::Tensor::I64($e)),
            $crate::Tensor::U8($a) => Ok($crate::Tensor::U8($e)),
            $crate::Tensor::U16($a) => Ok($crate::Tensor::U16($e)),
            $crate::Tensor::U32($a) => Ok($crate::Tensor::U32($e)),
            $crate::Tensor::U64($a) => Ok($crate::Tensor::U64($e)),
            other => Err($crate::Error::op(format!("{} is not supported here (numeric types only)", other.dtype()))),
        }
    };
}

/// Maps the array of an integer tensor (8–64-bit) keeping its type;
/// evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_int {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            $crate::Tensor::I8($a) => Ok($crate::Tensor::I8($e)),
            $crate::Tensor::I16($a) => Ok($crate::Tensor::I16($e)),
            $crate::Tensor::I32($a) => Ok($crate::Tensor::I32($e)),
            $crate::Tensor::I64($a) => Ok($crate::Tensor::I64($e)),
            $crate::Tensor::U8($a) => Ok($crate::Tensor::U8($e)),
            $crate::Tensor::U16($a) => Ok($crate::Tensor::U16($e)),
            $crate::Tensor::U32($a) => Ok($crate::Tensor::U32($e)),
            $crate::Tensor::U64($a) => Ok($crate::Tensor::U64($e)),
            other => Err($crate::Error::op(format!("{} is not supported here (integer types only)", other.dtype()))),
        }
    };
}

/// Applies `$e` to two tensors of the same numeric type, rewrapping the
/// result in that type; evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_num2 {
    ($x:expr, $y:expr, $a:ident, $b:ident => $e:expr) => {
        match ($x, $y) {
            ($crate::Tensor::F32($a), $crate::Tensor::F32($b)) => Ok($crate::Tensor::F32($e)),
            ($crate::Tensor::F64($a), $crate::Tensor::F64($b)) => Ok($crate::Tensor::F64($e)),
            ($crate::Tensor::F16($a), $crate::Tensor::F16($b)) => Ok($crate::Tensor::F16($e)),
            ($crate::Tensor::BF16($a), $crate::Tensor::BF16($b)) => Ok($crate::Tensor::BF16($e)),
            ($crate::Tensor::I8($a), $crate::Tensor::I8($b)) => Ok($crate::Tensor::I8($e)),
            ($crate::Tensor::I16($a), $crate::Tensor::I16($b)) => Ok($crate::Tensor::I16($e)),
            ($crate::Tensor::I32($a), $crate::Tensor::I32($b)) => Ok($crate::Tensor::I32($e)),
            ($crate::Tensor::I64($a), $crate::Tensor::I64($b)) => Ok($crate::Tensor::I64($e)),
            ($crate::Tensor::U8($a), $crate::Tensor::U8($b)) => Ok($crate::Tensor::U8($e)),
            ($crate::Tensor::U16($a), $crate::Tensor::U16($b)) => Ok($crate::Tensor::U16($e)),
            ($crate::Tensor::U32($a), $crate::Tensor::U32($b)) => Ok($crate::Tensor::U32($e)),
            ($crate::Tensor::U64($a), $crate::Tensor::U64($b)) => Ok($crate::Tensor::U64($e)),
            (x, y) => Err($crate::Error::op(format!(
                "operands must have the same numeric type, got {} and {}",
                x.dtype(),
                y.dtype()
            ))),
        }
    };
}

impl Tensor {
    /// Converts to `to` with ONNX `Cast` semantics (saturating for the
    /// 8-bit and narrower floats); complex types cannot be cast to.
    pub fn cast_to(&self, to: DType) -> Result<Tensor> {
        crate::ops::cast::cast(self, to, true)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Tensor::F32(_) => DType::F32,
            Tensor::F64(_) => DType::F64,
            Tensor::F16(_) => DType::F16,
            Tensor::BF16(_) => DType::BF16,
            Tensor::I8(_) => DType::I8,
            Tensor::I16(_) => DType::I16,
            Tensor::I32(_) => DType::I32,
            Tensor::I64(_) => DType::I64,
            Tensor::U8(_) => DType::U8,
            Tensor::U16(_) => DType::U16,
            Tensor::U32(_) => DType::U32,
            Tensor::U64(_) => DType::U64,
            Tensor::Bool(_) => DType::Bool,
            Tensor::Str(_) => DType::String,
            Tensor::I4(_) => DType::I4,
            Tensor::U4(_) => DType::U4,
            Tensor::I2(_) => DType::I2,
            Tensor::U2(_) => DType::U2,
            Tensor::F8(d, _) => *d,
            Tensor::C64(_) => DType::C64,
            Tensor::C128(_) => DType::C128,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        with_any!(self, a => a.shape())
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    /// The element count.
    pub fn len(&self) -> usize {
        with_any!(self, a => a.len())
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held.
    pub fn byte_len(&self) -> usize {
        match self {
            Tensor::Str(a) => a.iter().map(String::len).sum(),
            t => t.len() * t.dtype().bits().map_or(1, |b| (b as usize).div_ceil(8)),
        }
    }

    /// An f32 tensor.
    pub fn f32(shape: &[usize], data: Vec<f32>) -> Result<Self> {
        Ok(Tensor::F32(array(shape, data)?))
    }

    /// An i64 tensor.
    pub fn i64(shape: &[usize], data: Vec<i64>) -> Result<Self> {
        Ok(Tensor::I64(array(shape, data)?))
    }

    /// The elements as i64 (integer tensors only): shapes, axes, indices.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        Ok(match self {
            Tensor::I64(a) => a.iter().copied().collect(),
            Tensor::I32(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::I16(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::I8(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::U8(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::U16(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::U32(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Tensor::U64(a) => a
                .iter()
                .map(|&v| i64::try_from(v).map_err(|_| Error::op(format!("value {v} does not fit in i64"))))
                .collect::<Result<_>>()?,
            other => bail!("expected an integer tensor, got {}", other.dtype()),
        })
    }

    /// The elements as f64 (any numeric or bool tensor): scalars, ranges, reports.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        Ok(match self {
            Tensor::F32(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::F64(a) => a.iter().copied().collect(),
            Tensor::F16(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::BF16(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::Bool(a) => a.iter().map(|&v| f64::from(u8::from(v))).collect(),
            Tensor::I4(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::U4(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::I2(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::U2(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::I64(a) => a.iter().map(|&v| v as f64).collect(),
            Tensor::U64(a) => a.iter().map(|&v| v as f64).collect(),
            t => t.to_i64_vec()?.into_iter().map(|v| v as f64).collect(),
        })
    }

    /// The single element of a one-element tensor, as i64.
    pub fn scalar_i64(&self) -> Result<i64> {
        let v = self.to_i64_vec()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => bail!("expected a single value, got a tensor of shape {:?}", self.shape()),
        }
    }

    /// The single element of a one-element tensor, as f64.
    pub fn scalar_f64(&self) -> Result<f64> {
        let v = self.to_f64_vec()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => bail!("expected a single value, got a tensor of shape {:?}", self.shape()),
        }
    }

    /// The same data with another shape of equal element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            bail!("cannot reshape {:?} ({} elements) to {shape:?}", self.shape(), self.len());
        }
        Ok(map_any!(self, a => {
            let v: Vec<_> = a.iter().cloned().collect();
            ArrayD::from_shape_vec(IxDyn(shape), v).expect("element count checked")
        }))
    }
}

/// An ndarray of the given shape, checking the element count.
pub fn array<T>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>> {
    let n = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|_| Error::op(format!("{n} elements do not fill shape {shape:?}")))
}
