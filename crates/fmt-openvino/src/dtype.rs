//! OpenVINO element types (`element_type="f32"`) and port precisions
//! (`precision="FP32"`) against the IR's [`DType`].
#![deny(clippy::indexing_slicing)]

use ir::DType;

/// `(element_type, precision, dtype)` for every type both sides have.
const TABLE: &[(&str, &str, DType)] = &[
    ("f32", "FP32", DType::F32),
    ("f64", "FP64", DType::F64),
    ("f16", "FP16", DType::F16),
    ("bf16", "BF16", DType::BF16),
    ("f8e4m3", "F8E4M3", DType::F8E4M3FN),
    ("f8e5m2", "F8E5M2", DType::F8E5M2),
    ("f8e8m0", "F8E8M0", DType::F8E8M0),
    ("f4e2m1", "F4E2M1", DType::F4E2M1),
    ("i4", "I4", DType::I4),
    ("i8", "I8", DType::I8),
    ("i16", "I16", DType::I16),
    ("i32", "I32", DType::I32),
    ("i64", "I64", DType::I64),
    ("u2", "U2", DType::U2),
    ("u4", "U4", DType::U4),
    ("u8", "U8", DType::U8),
    ("u16", "U16", DType::U16),
    ("u32", "U32", DType::U32),
    ("u64", "U64", DType::U64),
    ("boolean", "BOOL", DType::Bool),
];

/// The dtype of an `element_type`/`destination_type` string.
pub fn from_element_type(s: &str) -> Option<DType> {
    TABLE.iter().find(|t| t.0 == s).map(|t| t.2)
}

/// The `element_type` string of a dtype, if OpenVINO has it.
pub fn element_type(d: DType) -> Option<&'static str> {
    TABLE.iter().find(|t| t.2 == d).map(|t| t.0)
}

/// The dtype of a port `precision` string, if it names one.
pub fn from_precision(s: &str) -> Option<DType> {
    TABLE.iter().find(|t| t.1.eq_ignore_ascii_case(s)).map(|t| t.2)
}

/// The port `precision` string of a dtype (`UNSPECIFIED` when unknown).
pub fn precision(d: Option<DType>) -> &'static str {
    d.and_then(|d| TABLE.iter().find(|t| t.2 == d)).map_or("UNSPECIFIED", |t| t.1)
}

/// Integer values of a tensor of any integer dtype.
pub(crate) fn ints_of(t: &ir::Tensor) -> Option<Vec<i64>> {
    t.to_i64s().ok()
}

/// Values of a float tensor, or of an integer one converted.
pub(crate) fn floats_of(t: &ir::Tensor) -> Option<Vec<f64>> {
    t.to_f64s().ok().or_else(|| ints_of(t).map(|v| v.into_iter().map(|x| x as f64).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &(e, p, d) in TABLE {
            assert_eq!(from_element_type(e), Some(d));
            assert_eq!(element_type(d), Some(e));
            assert_eq!(precision(Some(d)), p);
        }
        assert_eq!(from_element_type("string"), None);
        assert_eq!(element_type(DType::String), None);
        assert_eq!(precision(None), "UNSPECIFIED");
    }
}
