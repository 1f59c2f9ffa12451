//! torch's element types: the one table mapping storage class names
//! (`torch.FloatStorage`), dtype names (`torch.float32`) and `ScalarType`
//! codes (the integers TorchScript source passes as `dtype=`) to IR dtypes.

use ir::DType;

/// One torch element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TorchType {
    /// `c10::ScalarType` code, as TorchScript source writes dtypes.
    pub code: i64,
    /// The legacy storage class in module `torch` (`FloatStorage`).
    pub storage: &'static str,
    /// The dtype's names in module `torch` (`float32`, `float`).
    pub names: &'static [&'static str],
    /// The IR dtype.
    pub dtype: DType,
}

/// Every torch element type the IR can hold.
pub const TYPES: &[TorchType] = &[
    TorchType { code: 0, storage: "ByteStorage", names: &["uint8"], dtype: DType::U8 },
    TorchType { code: 1, storage: "CharStorage", names: &["int8"], dtype: DType::I8 },
    TorchType { code: 2, storage: "ShortStorage", names: &["int16", "short"], dtype: DType::I16 },
    TorchType { code: 3, storage: "IntStorage", names: &["int32", "int"], dtype: DType::I32 },
    TorchType { code: 4, storage: "LongStorage", names: &["int64", "long"], dtype: DType::I64 },
    TorchType { code: 5, storage: "HalfStorage", names: &["float16", "half"], dtype: DType::F16 },
    TorchType { code: 6, storage: "FloatStorage", names: &["float32", "float"], dtype: DType::F32 },
    TorchType { code: 7, storage: "DoubleStorage", names: &["float64", "double"], dtype: DType::F64 },
    TorchType { code: 9, storage: "ComplexFloatStorage", names: &["complex64", "cfloat"], dtype: DType::C64 },
    TorchType { code: 10, storage: "ComplexDoubleStorage", names: &["complex128", "cdouble"], dtype: DType::C128 },
    TorchType { code: 11, storage: "BoolStorage", names: &["bool"], dtype: DType::Bool },
    TorchType { code: 15, storage: "BFloat16Storage", names: &["bfloat16"], dtype: DType::BF16 },
    TorchType { code: 23, storage: "Float8_e5m2Storage", names: &["float8_e5m2"], dtype: DType::F8E5M2 },
    TorchType { code: 24, storage: "Float8_e4m3fnStorage", names: &["float8_e4m3fn"], dtype: DType::F8E4M3FN },
    TorchType { code: 25, storage: "Float8_e5m2fnuzStorage", names: &["float8_e5m2fnuz"], dtype: DType::F8E5M2FNUZ },
    TorchType { code: 26, storage: "Float8_e4m3fnuzStorage", names: &["float8_e4m3fnuz"], dtype: DType::F8E4M3FNUZ },
    // Not in torch's Python storage map, but torch.jit.load's unpickler
    // takes any `<ScalarType>Storage`.
    TorchType { code: 27, storage: "UInt16Storage", names: &["uint16"], dtype: DType::U16 },
    TorchType { code: 28, storage: "UInt32Storage", names: &["uint32"], dtype: DType::U32 },
    TorchType { code: 29, storage: "UInt64Storage", names: &["uint64"], dtype: DType::U64 },
    TorchType { code: 44, storage: "Float8_e8m0fnuStorage", names: &["float8_e8m0fnu"], dtype: DType::F8E8M0 },
];

/// The torch type holding elements of an IR dtype.
pub fn of(dtype: DType) -> Option<&'static TorchType> {
    TYPES.iter().find(|t| t.dtype == dtype)
}

/// The element type of a `torch.<X>Storage` class.
pub fn by_storage(name: &str) -> Option<&'static TorchType> {
    TYPES.iter().find(|t| t.storage == name)
}

/// The element type named `torch.<name>`.
pub fn by_name(name: &str) -> Option<&'static TorchType> {
    TYPES.iter().find(|t| t.names.contains(&name))
}

/// The element type of a `ScalarType` code.
pub fn by_code(code: i64) -> Option<&'static TorchType> {
    TYPES.iter().find(|t| t.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree() {
        for t in TYPES {
            assert_eq!(by_code(t.code), Some(t));
            assert_eq!(by_storage(t.storage), Some(t));
            for n in t.names {
                assert_eq!(by_name(n), Some(t));
            }
        }
        assert_eq!(by_code(6).unwrap().dtype, DType::F32);
        assert!(by_storage("QInt8Storage").is_none());
    }
}
