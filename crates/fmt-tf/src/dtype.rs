//! TensorFlow's `DataType` codes (`tensorflow/core/framework/types.proto`)
//! and their IR dtypes: the one table of them in the workspace.

use ir::DType;

/// Every `DataType` code this crate knows: (code, TF name, IR dtype if the
/// IR has one). Reference types (`DT_FLOAT_REF` = code + 100) are mapped to
/// their base type by [`base_code`].
pub const CODES: &[(i32, &str, Option<DType>)] = &[
    (1, "DT_FLOAT", Some(DType::F32)),
    (2, "DT_DOUBLE", Some(DType::F64)),
    (3, "DT_INT32", Some(DType::I32)),
    (4, "DT_UINT8", Some(DType::U8)),
    (5, "DT_INT16", Some(DType::I16)),
    (6, "DT_INT8", Some(DType::I8)),
    (7, "DT_STRING", Some(DType::String)),
    (8, "DT_COMPLEX64", Some(DType::C64)),
    (9, "DT_INT64", Some(DType::I64)),
    (10, "DT_BOOL", Some(DType::Bool)),
    (11, "DT_QINT8", None),
    (12, "DT_QUINT8", None),
    (13, "DT_QINT32", None),
    (14, "DT_BFLOAT16", Some(DType::BF16)),
    (15, "DT_QINT16", None),
    (16, "DT_QUINT16", None),
    (17, "DT_UINT16", Some(DType::U16)),
    (18, "DT_COMPLEX128", Some(DType::C128)),
    (19, "DT_HALF", Some(DType::F16)),
    (20, "DT_RESOURCE", None),
    (21, "DT_VARIANT", None),
    (22, "DT_UINT32", Some(DType::U32)),
    (23, "DT_UINT64", Some(DType::U64)),
    (24, "DT_FLOAT8_E5M2", Some(DType::F8E5M2)),
    (25, "DT_FLOAT8_E4M3FN", Some(DType::F8E4M3FN)),
    (29, "DT_INT4", Some(DType::I4)),
    (30, "DT_UINT4", Some(DType::U4)),
];

/// `DT_RESOURCE`: a handle to a variable, resolved away by the parser.
pub const DT_RESOURCE: i32 = 20;

/// The base code of a reference type (`DT_FLOAT_REF` = 101 → 1).
pub fn base_code(code: i32) -> i32 {
    if code > 100 { code - 100 } else { code }
}

/// The TF name of a code (`DT_FLOAT`), or `None` for an unknown code.
pub fn name(code: i32) -> Option<&'static str> {
    let code = base_code(code);
    CODES.iter().find(|c| c.0 == code).map(|c| c.1)
}

/// The IR dtype of a TF code, or `None` if the IR has none (quantized,
/// resource, variant) or the code is unknown.
pub fn to_ir(code: i32) -> Option<DType> {
    let code = base_code(code);
    CODES.iter().find(|c| c.0 == code).and_then(|c| c.2)
}

/// The TF code of an IR dtype, or `None` if TensorFlow has no such type.
pub fn from_ir(dtype: DType) -> Option<i32> {
    CODES.iter().find(|c| c.2 == Some(dtype)).map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refs() {
        for &(code, _, d) in CODES {
            if let Some(d) = d {
                assert_eq!(from_ir(d), Some(code));
                assert_eq!(to_ir(code + 100), Some(d));
            }
        }
        assert_eq!(name(101), Some("DT_FLOAT"));
        assert_eq!(to_ir(DT_RESOURCE), None);
        assert_eq!(from_ir(DType::I2), None);
    }
}
