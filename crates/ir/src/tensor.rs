//! Dense and sparse tensors.

use std::borrow::Cow;
use std::sync::Arc;

use bytemuck::Pod;
use half::{bf16, f16};

use crate::{Buffer, DType, Error, Result};

/// A Rust type that is the in-memory element of a [`DType`].
pub trait Element: Pod + Send + Sync {
    /// The dtype whose elements this type holds.
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),* $(,)?) => {
        $(impl Element for $t { const DTYPE: DType = DType::$d; })*
    };
}
element!(f32 => F32, f64 => F64, f16 => F16, bf16 => BF16, i8 => I8, u8 => U8, i16 => I16,
    u16 => U16, i32 => I32, i64 => I64, u32 => U32, u64 => U64);

/// The storage behind a tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorData {
    /// Dense little-endian bytes (sub-byte types packed low nibble first,
    /// booleans one byte each), possibly a view into a mapped file.
    Bytes(Buffer),
    /// One byte string per element, for [`DType::String`].
    Strings(Arc<Vec<Vec<u8>>>),
}

/// A dense tensor: dtype, concrete shape and data.
///
/// Cloning is cheap (the data is reference-counted), and the data of a
/// weight read from a file stays a view into that file until something
/// changes its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: TensorData,
}

fn numel_of(shape: &[usize]) -> Result<usize> {
    crate::checked_numel(shape)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::InvalidTensor(format!("shape {shape:?} has more elements than fit in memory")))
}

impl Tensor {
    /// A tensor over raw little-endian bytes, checking the length against dtype and shape.
    pub fn from_raw(dtype: DType, shape: Vec<usize>, data: Buffer) -> Result<Self> {
        let numel = numel_of(&shape)?;
        let expected = dtype
            .byte_len(numel as u64)
            .ok_or_else(|| Error::InvalidTensor(format!("{dtype} tensors cannot be built from raw bytes")))?;
        if data.len() as u64 != expected {
            return Err(Error::InvalidTensor(format!(
                "{dtype} tensor of shape {shape:?} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Tensor { dtype, shape, data: TensorData::Bytes(data) })
    }

    /// A tensor owning a typed vector (no copy).
    pub fn from_vec<T: Element>(shape: Vec<usize>, values: Vec<T>) -> Result<Self> {
        Tensor::from_raw(T::DTYPE, shape, Buffer::from_typed_vec(values))
    }

    /// A scalar (rank-0) tensor.
    pub fn scalar<T: Element>(value: T) -> Self {
        Tensor { dtype: T::DTYPE, shape: vec![], data: TensorData::Bytes(Buffer::from_typed_vec(vec![value])) }
    }

    /// A boolean tensor.
    pub fn from_bools(shape: Vec<usize>, values: &[bool]) -> Result<Self> {
        let bytes = values.iter().map(|&b| u8::from(b)).collect();
        Tensor::from_raw(DType::Bool, shape, Buffer::from_vec(bytes))
    }

    /// A string tensor.
    pub fn from_strings(shape: Vec<usize>, values: Vec<Vec<u8>>) -> Result<Self> {
        let numel = numel_of(&shape)?;
        if values.len() != numel {
            return Err(Error::InvalidTensor(format!(
                "string tensor of shape {shape:?} needs {numel} elements, got {}",
                values.len()
            )));
        }
        Ok(Tensor { dtype: DType::String, shape, data: TensorData::Strings(Arc::new(values)) })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        // Checked at construction.
        self.shape.iter().product()
    }

    /// The storage.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// The raw bytes, or `None` for string tensors.
    pub fn raw(&self) -> Option<&Buffer> {
        match &self.data {
            TensorData::Bytes(b) => Some(b),
            TensorData::Strings(_) => None,
        }
    }

    /// Bytes of storage (for strings, the sum of their lengths).
    pub fn byte_len(&self) -> usize {
        match &self.data {
            TensorData::Bytes(b) => b.len(),
            TensorData::Strings(s) => s.iter().map(Vec::len).sum(),
        }
    }

    /// The strings of a string tensor.
    pub fn strings(&self) -> Result<&[Vec<u8>]> {
        match &self.data {
            TensorData::Strings(s) => Ok(s),
            TensorData::Bytes(_) => Err(self.mismatch("string")),
        }
    }

    /// The elements as `T`, borrowed when the bytes are aligned.
    pub fn as_slice<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        if self.dtype != T::DTYPE {
            return Err(self.mismatch(T::DTYPE.name()));
        }
        match &self.data {
            TensorData::Bytes(b) => b.typed::<T>(),
            TensorData::Strings(_) => Err(self.mismatch(T::DTYPE.name())),
        }
    }

    /// The elements of an integer tensor of any width and signedness as
    /// `i64` (u64 values above `i64::MAX` wrap), for shapes, axes, indices
    /// and zero points read by importers and passes.
    pub fn to_i64s(&self) -> Result<Vec<i64>> {
        fn widen<T: Element + Copy>(t: &Tensor, f: impl Fn(T) -> i64) -> Result<Vec<i64>> {
            Ok(t.as_slice::<T>()?.iter().map(|&v| f(v)).collect())
        }
        match self.dtype {
            DType::I64 => Ok(self.as_slice::<i64>()?.into_owned()),
            DType::I32 => widen(self, |v: i32| i64::from(v)),
            DType::I16 => widen(self, |v: i16| i64::from(v)),
            DType::I8 => widen(self, |v: i8| i64::from(v)),
            DType::U8 => widen(self, |v: u8| i64::from(v)),
            DType::U16 => widen(self, |v: u16| i64::from(v)),
            DType::U32 => widen(self, |v: u32| i64::from(v)),
            DType::U64 => widen(self, |v: u64| v as i64),
            _ => Err(self.mismatch("integer")),
        }
    }

    /// The elements of a float tensor (f16, bf16, f32, f64) as `f64`, for
    /// weight arithmetic done once in double precision.
    pub fn to_f64s(&self) -> Result<Vec<f64>> {
        match self.dtype {
            DType::F32 => Ok(self.as_slice::<f32>()?.iter().map(|&v| f64::from(v)).collect()),
            DType::F64 => Ok(self.as_slice::<f64>()?.into_owned()),
            DType::F16 => Ok(self.as_slice::<crate::f16>()?.iter().map(|v| v.to_f64()).collect()),
            DType::BF16 => Ok(self.as_slice::<crate::bf16>()?.iter().map(|v| v.to_f64()).collect()),
            _ => Err(self.mismatch("float (f16, bf16, f32, f64)")),
        }
    }

    /// The elements of a boolean tensor.
    pub fn to_bools(&self) -> Result<Vec<bool>> {
        match (&self.data, self.dtype) {
            (TensorData::Bytes(b), DType::Bool) => Ok(b.iter().map(|&x| x != 0).collect()),
            _ => Err(self.mismatch("bool")),
        }
    }

    /// The tensor with its axes permuted (`out.shape[i] = shape[perm[i]]`),
    /// as a `Transpose` computes it. Borrows the bytes when only size-1 axes
    /// move (the element order is unchanged); otherwise moves whole elements
    /// as bytes, so every dtype of a byte or more works (not strings, not
    /// 4/2-bit types).
    pub fn permuted(&self, perm: &[usize]) -> Result<Self> {
        let shape = &self.shape;
        let mut seen = vec![false; shape.len()];
        if perm.len() != shape.len() || perm.iter().any(|&p| p >= shape.len() || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::invalid(format!("cannot permute a tensor of shape {shape:?} by {perm:?}")));
        }
        let out_shape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
        let moved: Vec<usize> = perm.iter().copied().filter(|&a| shape[a] != 1).collect();
        if moved.windows(2).all(|w| w[0] < w[1]) {
            return self.reshaped(out_shape);
        }
        let width = match (self.dtype.bits(), &self.data) {
            (Some(b), TensorData::Bytes(_)) if b % 8 == 0 => (b / 8) as usize,
            _ => return Err(Error::invalid(format!("cannot permute {} tensors", self.dtype))),
        };
        let src = self.raw().map(Buffer::as_bytes).unwrap_or_default();
        if src.len() < self.numel() * width {
            return Err(Error::invalid("tensor shorter than its shape"));
        }
        // Strides in elements, reordered to the output's axes.
        let mut in_strides = vec![1usize; shape.len()];
        for k in (0..shape.len().saturating_sub(1)).rev() {
            in_strides[k] = in_strides[k + 1] * shape[k + 1];
        }
        let strides: Vec<usize> = perm.iter().map(|&a| in_strides[a]).collect();
        // Whole elements moved as integers of their width (one load and
        // store each, not a memcpy call per element), when the bytes are
        // aligned for it; byte by byte otherwise.
        let bytes = || Buffer::from_vec(gather_bytes(src, width, &strides, &out_shape));
        let out = match width {
            1 => Buffer::from_vec(gather(src, &strides, &out_shape)),
            2 => bytemuck::try_cast_slice::<u8, u16>(src)
                .map_or_else(|_| bytes(), |s| Buffer::from_typed_vec(gather(s, &strides, &out_shape))),
            4 => bytemuck::try_cast_slice::<u8, u32>(src)
                .map_or_else(|_| bytes(), |s| Buffer::from_typed_vec(gather(s, &strides, &out_shape))),
            8 => bytemuck::try_cast_slice::<u8, u64>(src)
                .map_or_else(|_| bytes(), |s| Buffer::from_typed_vec(gather(s, &strides, &out_shape))),
            _ => bytes(),
        };
        Tensor::from_raw(self.dtype, out_shape, out)
    }

    /// The same data seen with another shape of equal element count.
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<Self> {
        if numel_of(&shape)? != self.numel() {
            return Err(Error::InvalidTensor(format!("cannot reshape {:?} to {shape:?}", self.shape)));
        }
        Ok(Tensor { dtype: self.dtype, shape, data: self.data.clone() })
    }

    fn mismatch(&self, expected: &str) -> Error {
        Error::DTypeMismatch { expected: expected.to_string(), found: self.dtype.name().to_string() }
    }
}

/// Calls `f` with the element offsets an odometer over `shape` with element
/// `strides` visits, in order (a transpose's gather). The offset is updated
/// incrementally, not recomputed per element.
fn for_each_offset(strides: &[usize], shape: &[usize], mut f: impl FnMut(usize)) {
    let n: usize = shape.iter().product();
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    for _ in 0..n {
        f(offset);
        for k in (0..index.len()).rev() {
            index[k] += 1;
            offset += strides[k];
            if index[k] < shape[k] {
                break;
            }
            offset -= strides[k] * shape[k];
            index[k] = 0;
        }
    }
}

/// The elements of `src` in [`for_each_offset`]'s order.
fn gather<T: Copy>(src: &[T], strides: &[usize], shape: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(shape.iter().product());
    for_each_offset(strides, shape, |o| out.push(src[o]));
    out
}

/// [`gather`] for elements of `width` bytes in an unaligned byte buffer.
fn gather_bytes(src: &[u8], width: usize, strides: &[usize], shape: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(shape.iter().product::<usize>() * width);
    for_each_offset(strides, shape, |o| out.extend_from_slice(&src[o * width..o * width + width]));
    out
}

/// A sparse tensor in coordinate format, as ONNX's `SparseTensorProto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseTensor {
    /// The non-zero values, a 1-D tensor of length NNZ.
    pub values: Tensor,
    /// Their indices: `[NNZ, rank]` coordinates or `[NNZ]` linearized, int64.
    pub indices: Tensor,
    /// The dense shape.
    pub dims: Vec<usize>,
}

impl SparseTensor {
    /// The dense tensor it stands for (absent entries are zero), checking
    /// every index against the dense shape.
    pub fn to_dense(&self) -> Result<Tensor> {
        let dtype = self.values.dtype();
        let bad = |m: String| Error::InvalidTensor(format!("sparse tensor: {m}"));
        let width = match dtype.bits() {
            Some(b) if b % 8 == 0 => (b / 8) as usize,
            _ => return Err(bad(format!("{dtype} values cannot be densified"))),
        };
        let numel = numel_of(&self.dims)?;
        let nnz = self.values.numel();
        let idx = self.indices.as_slice::<i64>()?;
        let rank = self.dims.len();
        let linear: Vec<usize> = match self.indices.shape() {
            [n] if *n == nnz => {
                idx.iter().map(|&i| usize::try_from(i).map_err(|_| bad(format!("index {i}")))).collect::<Result<_>>()?
            }
            [n, r] if *n == nnz && *r == rank => idx
                .chunks(rank.max(1))
                .map(|c| {
                    c.iter().zip(&self.dims).try_fold(0usize, |acc, (&i, &d)| match usize::try_from(i) {
                        Ok(i) if i < d => Ok(acc * d + i),
                        _ => Err(bad(format!("coordinate {i} outside dimension {d}"))),
                    })
                })
                .collect::<Result<_>>()?,
            s => return Err(bad(format!("indices of shape {s:?} for {nnz} values of rank {rank}"))),
        };
        let src = self.values.raw().ok_or_else(|| bad("string values cannot be densified".into()))?;
        // The dims come from a file: the dense size is checked, and an
        // allocation the machine cannot make is an error, not an abort.
        let bytes = numel.checked_mul(width).ok_or_else(|| bad(format!("{numel} elements overflow")))?;
        let mut out = Vec::new();
        out.try_reserve_exact(bytes).map_err(|_| bad(format!("the dense form needs {bytes} bytes")))?;
        out.resize(bytes, 0u8);
        for (k, &i) in linear.iter().enumerate() {
            if i >= numel {
                return Err(bad(format!("index {i} outside {numel} elements")));
            }
            out[i * width..(i + 1) * width].copy_from_slice(&src[k * width..(k + 1) * width]);
        }
        Tensor::from_raw(dtype, self.dims.clone(), Buffer::from_vec(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_matches_the_definition_for_every_width_and_alignment() {
        let shape = [2usize, 3, 4];
        let perm = [2usize, 0, 1];
        let at = |i: usize, j: usize, k: usize| i * 12 + j * 4 + k;
        let want: Vec<usize> =
            (0..4).flat_map(|k| (0..2).flat_map(move |i| (0..3).map(move |j| at(i, j, k)))).collect();
        let f64s = Tensor::from_vec(shape.to_vec(), (0..24).map(|v| v as f64).collect::<Vec<_>>()).unwrap();
        let got: Vec<usize> =
            f64s.permuted(&perm).unwrap().as_slice::<f64>().unwrap().iter().map(|&v| v as usize).collect();
        assert_eq!(got, want);
        let i16s = Tensor::from_vec(shape.to_vec(), (0..24).map(|v| v as i16).collect::<Vec<_>>()).unwrap();
        let got: Vec<usize> =
            i16s.permuted(&perm).unwrap().as_slice::<i16>().unwrap().iter().map(|&v| v as usize).collect();
        assert_eq!(got, want);
        // f32 bytes at an odd offset: the unaligned path.
        let mut bytes = vec![0u8];
        bytes.extend((0..24).flat_map(|v| (v as f32).to_le_bytes()));
        let view = Buffer::from_vec(bytes).slice(1..97).unwrap();
        let t = Tensor::from_raw(DType::F32, shape.to_vec(), view).unwrap();
        let got: Vec<usize> =
            t.permuted(&perm).unwrap().as_slice::<f32>().unwrap().iter().map(|&v| v as usize).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn raw_length_is_checked() {
        assert!(Tensor::from_raw(DType::F32, vec![2, 2], Buffer::from_vec(vec![0; 16])).is_ok());
        let e = Tensor::from_raw(DType::F32, vec![2, 2], Buffer::from_vec(vec![0; 15])).unwrap_err();
        assert_eq!(e.to_string(), "invalid tensor: f32 tensor of shape [2, 2] needs 16 bytes, got 15");
        assert!(Tensor::from_raw(DType::I4, vec![3], Buffer::from_vec(vec![0; 2])).is_ok());
        let huge = Tensor::from_raw(DType::F32, vec![usize::MAX, 2], Buffer::new()).unwrap_err();
        assert!(huge.to_string().contains("more elements than fit"), "{huge}");
    }

    #[test]
    fn sparse_tensors_densify_from_linear_or_coordinate_indices() {
        let values = Tensor::from_vec(vec![2], vec![1.5f32, -2.0]).unwrap();
        let linear = SparseTensor {
            values: values.clone(),
            indices: Tensor::from_vec(vec![2], vec![1i64, 5]).unwrap(),
            dims: vec![2, 3],
        };
        let dense = linear.to_dense().unwrap();
        assert_eq!(&*dense.as_slice::<f32>().unwrap(), &[0.0, 1.5, 0.0, 0.0, 0.0, -2.0]);
        let coords = SparseTensor {
            values,
            indices: Tensor::from_vec(vec![2, 2], vec![0i64, 1, 1, 2]).unwrap(),
            dims: vec![2, 3],
        };
        assert_eq!(coords.to_dense().unwrap(), dense);
        let mut bad = linear.clone();
        bad.indices = Tensor::from_vec(vec![2], vec![1i64, 6]).unwrap();
        assert_eq!(
            bad.to_dense().unwrap_err().to_string(),
            "invalid tensor: sparse tensor: index 6 outside 6 elements"
        );
        let mut bad = coords;
        bad.indices = Tensor::from_vec(vec![2, 2], vec![0i64, 3, 1, 2]).unwrap();
        assert!(bad.to_dense().unwrap_err().to_string().contains("coordinate 3 outside dimension 3"));
    }

    #[test]
    fn typed_access_checks_dtype() {
        let t = Tensor::from_vec(vec![3], vec![1i64, 2, 3]).unwrap();
        assert_eq!(&*t.as_slice::<i64>().unwrap(), &[1, 2, 3]);
        assert_eq!(t.as_slice::<f32>().unwrap_err().to_string(), "dtype mismatch: expected f32, found i64");
        let b = Tensor::from_bools(vec![2], &[true, false]).unwrap();
        assert_eq!(b.to_bools().unwrap(), vec![true, false]);
        let s = Tensor::from_strings(vec![1], vec![b"hi".to_vec()]).unwrap();
        assert_eq!(s.strings().unwrap()[0], b"hi");
        assert!(Tensor::from_strings(vec![2], vec![]).is_err());
    }
}
