//! Element types of tensors.

use std::fmt;
use std::str::FromStr;

/// The element type of a tensor.
///
/// Sub-byte types are packed densely, lowest bits first (`I4`/`U4`/`F4E2M1`
/// two per byte, low nibble first; `I2`/`U2` four per byte; 6-bit floats as
/// a little-endian bit stream), as ONNX and OpenVINO store them. The narrow
/// float and complex types are moved between formats as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16 (truncated binary32).
    BF16,
    /// 8-bit float, 4 exponent bits, 3 mantissa bits, finite only.
    F8E4M3FN,
    /// 8-bit float, E4M3, finite only, no negative zero.
    F8E4M3FNUZ,
    /// 8-bit float, 5 exponent bits, 2 mantissa bits.
    F8E5M2,
    /// 8-bit float, E5M2, finite only, no negative zero.
    F8E5M2FNUZ,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Boolean, one byte per element (0 or 1).
    Bool,
    /// Variable-length byte strings.
    String,
    /// Signed 4-bit integer, packed two per byte.
    I4,
    /// Unsigned 4-bit integer, packed two per byte.
    U4,
    /// Signed 2-bit integer, packed four per byte.
    I2,
    /// Unsigned 2-bit integer, packed four per byte.
    U2,
    /// 8-bit float, exponent only (E8M0, the MX scale type).
    F8E8M0,
    /// 4-bit float, E2M1, packed two per byte.
    F4E2M1,
    /// 6-bit float, E2M3, packed as a little-endian bit stream.
    F6E2M3,
    /// 6-bit float, E3M2, packed as a little-endian bit stream.
    F6E3M2,
    /// Complex number of two f32 (real, imaginary).
    C64,
    /// Complex number of two f64 (real, imaginary).
    C128,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 28] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::U16,
        DType::I32,
        DType::I64,
        DType::U32,
        DType::U64,
        DType::Bool,
        DType::String,
        DType::I4,
        DType::U4,
        DType::I2,
        DType::U2,
        DType::F8E8M0,
        DType::F4E2M1,
        DType::F6E2M3,
        DType::F6E3M2,
        DType::C64,
        DType::C128,
    ];

    /// The ONNX `TensorProto.DataType` code of this dtype. Every format and
    /// attribute that names dtypes by number (`Cast.to`, `output_dtype`,
    /// OpenVINO's and TensorFlow's own tables map through this) reads it here.
    pub const fn onnx_code(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::U16 => 4,
            DType::I16 => 5,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::String => 8,
            DType::Bool => 9,
            DType::F16 => 10,
            DType::F64 => 11,
            DType::U32 => 12,
            DType::U64 => 13,
            DType::C64 => 14,
            DType::C128 => 15,
            DType::BF16 => 16,
            DType::F8E4M3FN => 17,
            DType::F8E4M3FNUZ => 18,
            DType::F8E5M2 => 19,
            DType::F8E5M2FNUZ => 20,
            DType::U4 => 21,
            DType::I4 => 22,
            DType::F4E2M1 => 23,
            DType::F8E8M0 => 24,
            DType::U2 => 25,
            DType::I2 => 26,
            DType::F6E2M3 => 27,
            DType::F6E3M2 => 28,
        }
    }

    /// The dtype of an ONNX `TensorProto.DataType` code; `None` for 0
    /// (undefined) and unknown codes.
    pub fn from_onnx_code(code: i64) -> Option<DType> {
        DType::ALL.into_iter().find(|d| i64::from(d.onnx_code()) == code)
    }

    /// [`DType::from_onnx_code`] as a result, for attribute values read from
    /// a file: the error names the code.
    pub fn try_from_onnx_code(code: i64) -> crate::Result<DType> {
        DType::from_onnx_code(code).ok_or_else(|| crate::Error::invalid(format!("unknown ONNX data type code {code}")))
    }

    /// Bits per element; `None` for strings, which have no fixed size.
    pub fn bits(self) -> Option<u32> {
        Some(match self {
            DType::C128 => 128,
            DType::F64 | DType::I64 | DType::U64 | DType::C64 => 64,
            DType::F32 | DType::I32 | DType::U32 => 32,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 16,
            DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::I8
            | DType::U8
            | DType::F8E8M0
            | DType::Bool => 8,
            DType::F6E2M3 | DType::F6E3M2 => 6,
            DType::I4 | DType::U4 | DType::F4E2M1 => 4,
            DType::I2 | DType::U2 => 2,
            DType::String => return None,
        })
    }

    /// Bytes needed to store `numel` elements densely (sub-byte types round up).
    ///
    /// `None` for strings or when the size overflows `u64`.
    pub fn byte_len(self, numel: u64) -> Option<u64> {
        let bits = u64::from(self.bits()?);
        numel.checked_mul(bits).map(|b| b.div_ceil(8))
    }

    /// Whether the type is a real floating-point type (including 8/6/4-bit floats).
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F32
                | DType::F64
                | DType::F16
                | DType::BF16
                | DType::F8E4M3FN
                | DType::F8E4M3FNUZ
                | DType::F8E5M2
                | DType::F8E5M2FNUZ
                | DType::F8E8M0
                | DType::F4E2M1
                | DType::F6E2M3
                | DType::F6E3M2
        )
    }

    /// Whether the type is a (signed or unsigned) integer, packed ones included.
    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::I8
                | DType::U8
                | DType::I16
                | DType::U16
                | DType::I32
                | DType::I64
                | DType::U32
                | DType::U64
                | DType::I4
                | DType::U4
                | DType::I2
                | DType::U2
        )
    }

    /// The smallest and largest values of an integer dtype of at most 32
    /// bits (the saturation range quantization rounds into); `None` for
    /// floats, 64-bit integers, bools and strings.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            DType::U2 => (0, 3),
            DType::I2 => (-2, 1),
            DType::U4 => (0, 15),
            DType::I4 => (-8, 7),
            DType::U8 => (0, 255),
            DType::I8 => (-128, 127),
            DType::U16 => (0, 65535),
            DType::I16 => (-32768, 32767),
            DType::U32 => (0, i64::from(u32::MAX)),
            DType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => return None,
        })
    }

    /// The short lowercase name used in the CLI, docs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F8E4M3FN => "f8e4m3fn",
            DType::F8E4M3FNUZ => "f8e4m3fnuz",
            DType::F8E5M2 => "f8e5m2",
            DType::F8E5M2FNUZ => "f8e5m2fnuz",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::U16 => "u16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::Bool => "bool",
            DType::String => "string",
            DType::I4 => "i4",
            DType::U4 => "u4",
            DType::I2 => "i2",
            DType::U2 => "u2",
            DType::F8E8M0 => "f8e8m0",
            DType::F4E2M1 => "f4e2m1",
            DType::F6E2M3 => "f6e2m3",
            DType::F6E3M2 => "f6e3m2",
            DType::C64 => "c64",
            DType::C128 => "c128",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| crate::Error::invalid(format!("unknown dtype '{s}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
        }
        assert!("f33".parse::<DType>().is_err());
    }

    #[test]
    fn onnx_codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in DType::ALL {
            assert!(seen.insert(d.onnx_code()), "{d} shares a code");
            assert_eq!(DType::from_onnx_code(i64::from(d.onnx_code())), Some(d));
        }
        assert_eq!(DType::from_onnx_code(0), None);
        assert_eq!(DType::from_onnx_code(29), None);
        assert!(DType::try_from_onnx_code(-1).is_err());
    }

    #[test]
    fn byte_len_rounds_sub_byte_types_up() {
        assert_eq!(DType::I4.byte_len(3), Some(2));
        assert_eq!(DType::F6E2M3.byte_len(5), Some(4));
        assert_eq!(DType::U2.byte_len(5), Some(2));
        assert_eq!(DType::C128.byte_len(2), Some(32));
        assert_eq!(DType::F32.byte_len(3), Some(12));
        assert_eq!(DType::String.byte_len(3), None);
        assert_eq!(DType::F64.byte_len(u64::MAX), None);
    }
}
