//! ONNX `TensorProto.DataType` codes and the IR's dtypes.
#![deny(clippy::indexing_slicing)]

use ir::DType;

/// The IR dtype of an ONNX data type code, or an error naming the code
/// (the table itself is `ir::DType::onnx_code`).
pub(crate) fn from_code(code: i32) -> Result<DType, String> {
    if code == 0 {
        return Err("tensor has no data type (UNDEFINED)".into());
    }
    DType::from_onnx_code(i64::from(code)).ok_or_else(|| format!("unknown ONNX data type code {code}"))
}

/// The ONNX data type code of an IR dtype.
pub(crate) fn to_code(d: DType) -> i32 {
    d.onnx_code()
}

/// The ONNX IR version this writer puts in files: the oldest one that can
/// express the model, so that the widest range of runtimes loads it.
///
/// It follows onnx's release table (ai.onnx opset → IR version): opset ≤ 8 →
/// 3, 9 → 4, 10 → 5, 11 → 6, 12–14 → 7, 15–18 → 8, 19–20 → 9, 21–22 → 10,
/// 23 → 11, 24 → 12, 25–27 → 13, 28 → 14; then raised to the IR version that
/// introduced each element type the model uses (see [`min_ir_version`]).
/// Current onnxruntime releases accept up to IR 11, so models at opset ≤ 23
/// without the newest types always load.
pub fn ir_version_for(onnx_opset: i64, dtypes: impl IntoIterator<Item = DType>) -> i64 {
    let base = match onnx_opset {
        ..=8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        21..=22 => 10,
        23 => 11,
        24 => 12,
        25..=27 => 13,
        _ => 14,
    };
    dtypes.into_iter().map(min_ir_version).fold(base, i64::max)
}

/// The ONNX IR version that introduced an element type.
pub fn min_ir_version(d: DType) -> i64 {
    match d {
        DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => 9,
        DType::I4 | DType::U4 => 10,
        DType::F4E2M1 => 11,
        DType::F8E8M0 => 12,
        DType::I2 | DType::U2 => 13,
        DType::F6E2M3 | DType::F6E3M2 => 14,
        _ => 3,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_round_trips_through_its_code() {
        for d in DType::ALL {
            assert_eq!(from_code(to_code(d)).unwrap(), d);
        }
        assert_eq!(from_code(0).unwrap_err(), "tensor has no data type (UNDEFINED)");
        assert_eq!(from_code(99).unwrap_err(), "unknown ONNX data type code 99");
    }

    #[test]
    fn ir_version_rule() {
        assert_eq!(ir_version_for(17, [DType::F32]), 8);
        assert_eq!(ir_version_for(13, [DType::F8E5M2]), 9);
        assert_eq!(ir_version_for(21, [DType::I4]), 10);
        assert_eq!(ir_version_for(7, []), 3);
        assert_eq!(ir_version_for(28, []), 14);
    }
}
