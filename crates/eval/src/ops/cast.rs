//! Cast and CastLike: conversion between every element type the evaluator
//! holds, plus the 8-bit float codecs the quantization ops share.
//!
//! Opset history: Cast-6 takes `to` as a data type code (Cast-1's string
//! form predates the opsets covered); Cast-9 adds string, Cast-13 bfloat16,
//! Cast-19 the four 8-bit float types with the `saturate` attribute, Cast-21
//! int4/uint4, Cast-23 float4e2m1, Cast-24 float8e8m0 with `round_mode`,
//! Cast-25 int2/uint2, Cast-28 the 6-bit floats. CastLike-15 reads the target
//! type from its second input and follows the same additions.
//!
//! Where the spec leaves a conversion undefined (float to integer out of
//! range, string formatting), the behaviour follows onnx's reference
//! implementation, i.e. numpy on x86: float→int truncates through a 32- or
//! 64-bit integer (out of range gives that integer's minimum) and then wraps;
//! numbers format as numpy's `astype(str)` does. 4-bit, 2-bit and 6-bit
//! floats, complex numbers and 2-bit integers have no runtime representation
//! here and are rejected.

use half::{bf16, f16};
use ir::DType;
use ndarray::ArrayD;

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers Cast and CastLike.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Cast", cast_op);
    r.add("CastLike", cast_like_op);
}

fn cast_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let code = ctx.int("to", 0)?;
    if code == 0 {
        bail!("Cast needs the 'to' attribute (a TensorProto data type code)");
    }
    let to = dtype_from_code(code)?;
    Ok(vec![cast_with(x, to, options(ctx)?)?.into()])
}

fn cast_like_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let to = ctx.input(inputs, 1)?.dtype();
    Ok(vec![cast_with(x, to, options(ctx)?)?.into()])
}

/// `saturate` exists from opset 19 and `round_mode` from 24; before, the
/// defaults describe the behaviour.
fn options(ctx: &Ctx<'_>) -> Result<CastOptions> {
    let saturate = ctx.opset < 19 || ctx.int("saturate", 1)? != 0;
    let round = if ctx.opset < 24 {
        E8M0Round::Up
    } else {
        match ctx.string("round_mode", "up")?.as_str() {
            "up" => E8M0Round::Up,
            "down" => E8M0Round::Down,
            "nearest" => E8M0Round::Nearest,
            other => bail!("round_mode must be 'up', 'down' or 'nearest', got '{other}'"),
        }
    };
    Ok(CastOptions { saturate, round })
}

/// The dtype of an ONNX `TensorProto.DataType` code (attributes `to`,
/// `output_dtype`, `dtype`, ...): the one table in `ir`.
pub(crate) fn dtype_from_code(code: i64) -> Result<DType> {
    Ok(DType::try_from_onnx_code(code)?)
}

/// Rounding of conversions to float8e8m0 (Cast's `round_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum E8M0Round {
    /// Away from zero (any dropped mantissa bit rounds the exponent up).
    Up,
    /// Toward zero (truncation).
    Down,
    /// To nearest.
    Nearest,
}

/// How a conversion treats out-of-range values and float8e8m0 rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CastOptions {
    /// Clamp to the largest finite value instead of producing inf/NaN
    /// (8-bit float targets only).
    pub saturate: bool,
    /// Rounding toward float8e8m0.
    pub round: E8M0Round,
}

impl Default for CastOptions {
    fn default() -> Self {
        CastOptions { saturate: true, round: E8M0Round::Up }
    }
}

/// Converts `x` to `to` with the default rounding (`saturate` as given).
pub(crate) fn cast(x: &Tensor, to: DType, saturate: bool) -> Result<Tensor> {
    cast_with(x, to, CastOptions { saturate, ..CastOptions::default() })
}

/// Converts `x` to `to` (ONNX Cast semantics).
pub(crate) fn cast_with(x: &Tensor, to: DType, opts: CastOptions) -> Result<Tensor> {
    if x.dtype() == to {
        return Ok(x.clone());
    }
    match x {
        Tensor::F32(a) => from_elems(a, to, opts),
        Tensor::F64(a) => from_elems(a, to, opts),
        Tensor::F16(a) => from_elems(a, to, opts),
        Tensor::BF16(a) => from_elems(a, to, opts),
        Tensor::I8(a) | Tensor::I4(a) | Tensor::I2(a) => from_elems(a, to, opts),
        Tensor::I16(a) => from_elems(a, to, opts),
        Tensor::I32(a) => from_elems(a, to, opts),
        Tensor::I64(a) => from_elems(a, to, opts),
        Tensor::U8(a) | Tensor::U4(a) | Tensor::U2(a) => from_elems(a, to, opts),
        Tensor::U16(a) => from_elems(a, to, opts),
        Tensor::U32(a) => from_elems(a, to, opts),
        Tensor::U64(a) => from_elems(a, to, opts),
        Tensor::Bool(a) => from_elems(a, to, opts),
        Tensor::F8(kind, a) => {
            let table = f8_decode_table(*kind)?;
            from_elems(&a.mapv(|b| table[usize::from(b)]), to, opts)
        }
        Tensor::Str(a) => {
            let parsed: Vec<StrNum> = a.iter().map(|s| StrNum::parse(s)).collect::<Result<_>>()?;
            from_elems(&array(a.shape(), parsed)?, to, opts)
        }
        // No ONNX Cast accepts complex input (numpy would drop the imaginary part).
        Tensor::C64(_) | Tensor::C128(_) => bail!("cannot cast {} to {to}", x.dtype()),
    }
}

/// Which integer a float goes through on its way to an integer type: numpy
/// (the reference) converts with C casts, which on x86 truncate to a 32-bit
/// integer for types up to 32 bits, to 64 bits otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// Through i32 (targets up to 32 bits).
    I32,
    /// Through i64 (u32, i64).
    I64,
    /// Directly for values in u64's range, else through i64.
    U64,
}

/// A source element of a conversion.
pub(crate) trait Elem: Copy {
    /// The value as f64 (exact except for 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// The value rounded to f32 (to nearest even).
    fn to_f32(self) -> f32;
    /// The value rounded to f16; correct rounding from the exact value.
    fn to_f16(self) -> f16 {
        f64_to_f16(self.to_f64())
    }
    /// The value rounded to bf16; correct rounding from the exact value.
    fn to_bf16(self) -> bf16 {
        f64_to_bf16(self.to_f64())
    }
    /// The value as an integer before wrapping to the target width.
    fn to_int(self, via: Via) -> i128;
    /// Whether it is nonzero (casting to bool).
    fn nonzero(self) -> bool;
    /// The numpy `astype(str)` text of the value.
    fn to_text(self) -> String;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn to_f32(self) -> f32 {
                self as f32
            }
            fn to_int(self, _: Via) -> i128 {
                self as i128
            }
            fn nonzero(self) -> bool {
                self != 0
            }
            fn to_text(self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_elem!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Elem for bool {
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn to_f32(self) -> f32 {
        f32::from(u8::from(self))
    }
    fn to_int(self, _: Via) -> i128 {
        i128::from(self)
    }
    fn nonzero(self) -> bool {
        self
    }
    fn to_text(self) -> String {
        if self { "True" } else { "False" }.to_string()
    }
}

impl Elem for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn to_int(self, via: Via) -> i128 {
        float_to_int(self, via)
    }
    fn nonzero(self) -> bool {
        self != 0.0
    }
    fn to_text(self) -> String {
        f64_text(self)
    }
}

impl Elem for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn to_f16(self) -> f16 {
        f16::from_f32(self)
    }
    fn to_bf16(self) -> bf16 {
        bf16::from_f32(self)
    }
    fn to_int(self, via: Via) -> i128 {
        float_to_int(f64::from(self), via)
    }
    fn nonzero(self) -> bool {
        self != 0.0
    }
    fn to_text(self) -> String {
        f32_text(self)
    }
}

impl Elem for f16 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn to_f16(self) -> f16 {
        self
    }
    fn to_bf16(self) -> bf16 {
        bf16::from_f32(f32::from(self))
    }
    fn to_int(self, via: Via) -> i128 {
        float_to_int(f64::from(self), via)
    }
    fn nonzero(self) -> bool {
        f32::from(self) != 0.0
    }
    fn to_text(self) -> String {
        let x = f32::from(self);
        let sci = shortest_sci(x, |s| f16::from_f32(s).to_bits() == self.to_bits());
        numpy_float_text(x.into(), &sci, 1e3)
    }
}

impl Elem for bf16 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn to_f16(self) -> f16 {
        f16::from_f32(f32::from(self))
    }
    fn to_bf16(self) -> bf16 {
        self
    }
    fn to_int(self, via: Via) -> i128 {
        float_to_int(f64::from(self), via)
    }
    fn nonzero(self) -> bool {
        f32::from(self) != 0.0
    }
    fn to_text(self) -> String {
        let x = f32::from(self);
        let sci = shortest_sci(x, |s| bf16::from_f32(s).to_bits() == self.to_bits());
        numpy_float_text(x.into(), &sci, 1e2)
    }
}

/// A parsed string: its value as f64 and f32 (each rounded once from the
/// text) and as an integer when the text is one.
#[derive(Clone, Copy)]
struct StrNum {
    f64: f64,
    f32: f32,
    int: Option<i128>,
}

impl StrNum {
    /// Parses decimal and scientific notation, `inf`/`+INF`/`-inf`/`NaN` in
    /// any case, integers, and `true`/`false`.
    fn parse(s: &str) -> Result<StrNum> {
        let t = s.trim();
        let int = t.parse::<i128>().ok();
        if let (Ok(f64), Ok(f32)) = (t.parse::<f64>(), t.parse::<f32>()) {
            return Ok(StrNum { f64, f32, int });
        }
        match t.to_ascii_lowercase().as_str() {
            "true" => Ok(StrNum { f64: 1.0, f32: 1.0, int: Some(1) }),
            "false" => Ok(StrNum { f64: 0.0, f32: 0.0, int: Some(0) }),
            _ => bail!("cannot convert string '{s}' to a number"),
        }
    }
}

impl Elem for StrNum {
    fn to_f64(self) -> f64 {
        self.f64
    }
    fn to_f32(self) -> f32 {
        self.f32
    }
    fn to_int(self, via: Via) -> i128 {
        // Integer text converts exactly; "100.5" truncates like a float.
        self.int.unwrap_or_else(|| float_to_int(self.f64, via))
    }
    fn nonzero(self) -> bool {
        self.f64 != 0.0
    }
    fn to_text(self) -> String {
        f64_text(self.f64)
    }
}

/// Float to integer as numpy does on x86: truncation through a 32/64-bit
/// integer, whose minimum stands for NaN and out-of-range values.
fn float_to_int(x: f64, via: Via) -> i128 {
    match via {
        // Native-width conversions (f64 → i128 is a library call).
        Via::I32 if x > -2_147_483_649.0 && x < 2_147_483_648.0 => i128::from(x as i32),
        Via::I32 => i128::from(i32::MIN),
        Via::U64 if x > -1.0 && x < 18_446_744_073_709_551_616.0 => i128::from(x as u64),
        Via::I64 | Via::U64 if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) => {
            i128::from(x as i64)
        }
        Via::I64 | Via::U64 => i128::from(i64::MIN),
    }
}

/// f64 → f32 rounding to odd: a following rounding to a type with at most 22
/// mantissa bits (f16, bf16) then equals a single correct rounding.
fn round_odd_f32(x: f64) -> f32 {
    let r = x as f32;
    if !r.is_finite() || f64::from(r) == x || r.to_bits() & 1 == 1 {
        return r;
    }
    // r is even and inexact: its neighbour on x's side is odd.
    if f64::from(r) < x { r.next_up() } else { r.next_down() }
}

/// Rounds to the nearest integer, ties to even. Adding and subtracting 2^52
/// makes the FPU do the rounding: unlike `f64::round_ties_even`, this needs
/// no library call on baseline x86-64.
pub(crate) fn round_even(x: f64) -> f64 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    if x.abs() < TWO52 {
        let t = TWO52.copysign(x);
        ((x + t) - t).copysign(x)
    } else {
        x
    }
}

/// f64 → f16 with a single correct rounding.
pub(crate) fn f64_to_f16(x: f64) -> f16 {
    f16::from_f32(round_odd_f32(x))
}

/// f64 → bf16 with a single correct rounding.
pub(crate) fn f64_to_bf16(x: f64) -> bf16 {
    bf16::from_f32(round_odd_f32(x))
}

fn wrap_i4(v: i128) -> i8 {
    ((v as u8) << 4) as i8 >> 4
}

fn wrap_u4(v: i128) -> u8 {
    (v as u8) & 0x0f
}

fn wrap_i2(v: i128) -> i8 {
    ((v as u8) << 6) as i8 >> 6
}

fn wrap_u2(v: i128) -> u8 {
    (v as u8) & 0x03
}

fn from_elems<S: Elem>(a: &ArrayD<S>, to: DType, opts: CastOptions) -> Result<Tensor> {
    Ok(match to {
        DType::F32 => Tensor::F32(a.mapv(S::to_f32)),
        DType::F64 => Tensor::F64(a.mapv(S::to_f64)),
        DType::F16 => Tensor::F16(a.mapv(S::to_f16)),
        DType::BF16 => Tensor::BF16(a.mapv(S::to_bf16)),
        DType::I8 => Tensor::I8(a.mapv(|v| v.to_int(Via::I32) as i8)),
        DType::I16 => Tensor::I16(a.mapv(|v| v.to_int(Via::I32) as i16)),
        DType::I32 => Tensor::I32(a.mapv(|v| v.to_int(Via::I32) as i32)),
        DType::I64 => Tensor::I64(a.mapv(|v| v.to_int(Via::I64) as i64)),
        DType::U8 => Tensor::U8(a.mapv(|v| v.to_int(Via::I32) as u8)),
        DType::U16 => Tensor::U16(a.mapv(|v| v.to_int(Via::I32) as u16)),
        DType::U32 => Tensor::U32(a.mapv(|v| v.to_int(Via::I64) as u32)),
        DType::U64 => Tensor::U64(a.mapv(|v| v.to_int(Via::U64) as u64)),
        DType::I4 => Tensor::I4(a.mapv(|v| wrap_i4(v.to_int(Via::I32)))),
        DType::U4 => Tensor::U4(a.mapv(|v| wrap_u4(v.to_int(Via::I32)))),
        DType::I2 => Tensor::I2(a.mapv(|v| wrap_i2(v.to_int(Via::I32)))),
        DType::U2 => Tensor::U2(a.mapv(|v| wrap_u2(v.to_int(Via::I32)))),
        DType::Bool => Tensor::Bool(a.mapv(S::nonzero)),
        DType::String => Tensor::Str(a.map(|v| v.to_text())),
        DType::F8E8M0 => Tensor::F8(to, a.mapv(|v| e8m0_encode(v.to_f32(), opts.saturate, opts.round))),
        DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => {
            let f = F8Format::new(to)?;
            Tensor::F8(to, a.mapv(|v| f.encode(v.to_f64(), opts.saturate)))
        }
        DType::F4E2M1 | DType::F6E2M3 | DType::F6E3M2 => {
            let f = MiniFloat::new(to)?;
            Tensor::F8(to, a.mapv(|v| f.encode(v.to_f64())))
        }
        DType::C64 | DType::C128 => bail!("cannot cast to {to}: ONNX Cast has no complex targets"),
    })
}

/// 2^k for k in the normal f64 exponent range.
fn pow2(k: i32) -> f64 {
    f64::from_bits(((k + 1023).clamp(1, 2046) as u64) << 52)
}

/// ⌊log2 |x|⌋ for finite nonzero x (subnormals report -1023, far below any
/// 8-bit float's range).
fn floor_log2(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// One of the four sign/exponent/mantissa 8-bit float formats
/// (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ): encoder with round-to-nearest-even.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F8Format {
    mant: i32,
    bias: i32,
    max: f64,
    max_bits: u8,
    /// The positive NaN pattern (FNUZ types have only 0x80).
    nan: u8,
    /// FNUZ: no negative zero, a single NaN at 0x80, no infinities.
    uz: bool,
    /// E5M2 has infinities (0x7c).
    inf: bool,
}

impl F8Format {
    /// The format of an 8-bit float dtype (not float8e8m0).
    pub(crate) fn new(kind: DType) -> Result<F8Format> {
        Ok(match kind {
            DType::F8E4M3FN => {
                F8Format { mant: 3, bias: 7, max: 448.0, max_bits: 0x7e, nan: 0x7f, uz: false, inf: false }
            }
            DType::F8E4M3FNUZ => {
                F8Format { mant: 3, bias: 8, max: 240.0, max_bits: 0x7f, nan: 0x80, uz: true, inf: false }
            }
            DType::F8E5M2 => {
                F8Format { mant: 2, bias: 15, max: 57344.0, max_bits: 0x7b, nan: 0x7e, uz: false, inf: true }
            }
            DType::F8E5M2FNUZ => {
                F8Format { mant: 2, bias: 16, max: 57344.0, max_bits: 0x7f, nan: 0x80, uz: true, inf: false }
            }
            other => bail!("{other} is not a sign/exponent/mantissa 8-bit float type"),
        })
    }

    /// Encodes `x` rounding to nearest even. Out of range (after rounding)
    /// and ±inf give ±max when `saturate`, else inf (E5M2) or NaN.
    pub(crate) fn encode(&self, x: f64, saturate: bool) -> u8 {
        let sign: u8 = if x.is_sign_negative() { 0x80 } else { 0 };
        if x.is_nan() {
            return if self.uz { 0x80 } else { self.nan | sign };
        }
        let a = x.abs();
        let emin = 1 - self.bias;
        // Quantum of a's binade, or of the subnormal range.
        let e = if a == 0.0 { emin } else { floor_log2(a).max(emin) };
        let q = pow2(e - self.mant);
        let r = if a.is_infinite() { a } else { round_even(a / q) * q };
        if r == 0.0 {
            return if self.uz { 0 } else { sign };
        }
        if r > self.max {
            return if saturate {
                sign | self.max_bits
            } else if self.inf {
                sign | 0x7c
            } else if self.uz {
                0x80
            } else {
                sign | self.nan
            };
        }
        let e2 = floor_log2(r);
        let bits = if e2 < emin {
            (r / pow2(emin - self.mant)) as u8
        } else {
            let m = (r / pow2(e2 - self.mant)) as i32 - (1 << self.mant);
            (((e2 + self.bias) << self.mant) | m) as u8
        };
        sign | bits
    }

    fn decode(&self, b: u8) -> f32 {
        let neg = b & 0x80 != 0;
        let ebits = 7 - self.mant;
        let ef = i32::from(b & 0x7f) >> self.mant;
        let m = i32::from(b) & ((1 << self.mant) - 1);
        let nan = if self.uz {
            b == 0x80
        } else if self.inf {
            ef == (1 << ebits) - 1 && m != 0
        } else {
            b & 0x7f == 0x7f
        };
        if nan {
            return f32::NAN;
        }
        let v = if self.inf && ef == (1 << ebits) - 1 {
            f64::INFINITY
        } else if ef == 0 {
            f64::from(m) * pow2(1 - self.bias - self.mant)
        } else {
            f64::from((1 << self.mant) + m) * pow2(ef - self.bias - self.mant)
        };
        (if neg { -v } else { v }) as f32
    }
}

/// The OCP microscaling element formats float4e2m1, float6e2m3 and
/// float6e3m2: sign, exponent and mantissa bits with neither infinities nor
/// NaN. Conversions always saturate to ±max (Cast's `saturate` covers the
/// 8-bit types only) and NaN becomes the lone sign bit, as onnx's reference
/// (ml_dtypes) does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MiniFloat {
    mant: i32,
    bias: i32,
    max: f64,
    /// The sign bit's mask; the largest magnitude is `sign - 1`.
    sign: u8,
}

impl MiniFloat {
    /// The format of a 4- or 6-bit float dtype.
    pub(crate) fn new(kind: DType) -> Result<MiniFloat> {
        Ok(match kind {
            DType::F4E2M1 => MiniFloat { mant: 1, bias: 1, max: 6.0, sign: 0x08 },
            DType::F6E2M3 => MiniFloat { mant: 3, bias: 1, max: 7.5, sign: 0x20 },
            DType::F6E3M2 => MiniFloat { mant: 2, bias: 3, max: 28.0, sign: 0x20 },
            other => bail!("{other} is not a 4- or 6-bit float type"),
        })
    }

    /// Encodes `x` rounding to nearest even, saturating.
    pub(crate) fn encode(&self, x: f64) -> u8 {
        if x.is_nan() {
            return self.sign;
        }
        let sign = if x.is_sign_negative() { self.sign } else { 0 };
        let a = x.abs().min(self.max);
        let emin = 1 - self.bias;
        let e = if a == 0.0 { emin } else { floor_log2(a).max(emin) };
        let q = pow2(e - self.mant);
        let r = (round_even(a / q) * q).min(self.max);
        if r == 0.0 {
            return sign;
        }
        let e2 = floor_log2(r);
        let bits = if e2 < emin {
            (r / pow2(emin - self.mant)) as u8
        } else {
            let m = (r / pow2(e2 - self.mant)) as i32 - (1 << self.mant);
            (((e2 + self.bias) << self.mant) | m) as u8
        };
        sign | bits
    }

    /// The value of bit pattern `b` (bits above the format's width ignored).
    pub(crate) fn decode(&self, b: u8) -> f32 {
        let b = b & (2 * self.sign - 1);
        let ef = i32::from(b & (self.sign - 1)) >> self.mant;
        let m = i32::from(b) & ((1 << self.mant) - 1);
        let v = if ef == 0 {
            f64::from(m) * pow2(1 - self.bias - self.mant)
        } else {
            f64::from((1 << self.mant) + m) * pow2(ef - self.bias - self.mant)
        };
        (if b & self.sign != 0 { -v } else { v }) as f32
    }
}

/// The f32 value of each of the 256 bit patterns of an 8-bit float type (or
/// of the 16/64 patterns of a 4/6-bit one, the rest of the table zero).
pub(crate) fn f8_decode_table(kind: DType) -> Result<[f32; 256]> {
    let mut t = [0f32; 256];
    if matches!(kind, DType::F4E2M1 | DType::F6E2M3 | DType::F6E3M2) {
        let f = MiniFloat::new(kind)?;
        for (b, v) in t.iter_mut().enumerate().take(2 * usize::from(f.sign)) {
            *v = f.decode(b as u8);
        }
    } else if kind == DType::F8E8M0 {
        for (b, v) in t.iter_mut().enumerate() {
            *v = e8m0_decode(b as u8);
        }
    } else {
        let f = F8Format::new(kind)?;
        for (b, v) in t.iter_mut().enumerate() {
            *v = f.decode(b as u8);
        }
    }
    Ok(t)
}

/// The value of a float8e8m0 bit pattern: 2^(b-127), 0xff is NaN.
pub(crate) fn e8m0_decode(b: u8) -> f32 {
    if b == 0xff { f32::NAN } else { pow2(i32::from(b) - 127) as f32 }
}

/// f32 → float8e8m0 (the exponent of x, sign ignored) as onnx's reference
/// does it on the f32 bits; ±inf saturates to the largest exponent when
/// `saturate` (the spec's table), NaN gives NaN.
pub(crate) fn e8m0_encode(x: f32, saturate: bool, round: E8M0Round) -> u8 {
    let bits = x.to_bits();
    let exp = (bits >> 23) & 0xff;
    if exp == 0xff {
        return if x.is_infinite() && saturate { 0xfe } else { 0xff };
    }
    let up = match round {
        E8M0Round::Up => bits & 0x7f_ffff != 0,
        E8M0Round::Down => false,
        E8M0Round::Nearest => {
            let (g, r, s) = (bits & 0x40_0000 != 0, bits & 0x20_0000 != 0, bits & 0x1f_ffff != 0);
            g && (r || s || exp > 0)
        }
    };
    // Without saturation 0xfe rounds up into 0xff, the NaN pattern.
    if up && !(saturate && exp == 0xfe) { (exp + 1) as u8 } else { exp as u8 }
}

/// The shortest scientific text (Rust's `{:e}` shape) that reads back as the
/// same value of a narrower type, decided by `same`.
fn shortest_sci(x: f32, same: impl Fn(f32) -> bool) -> String {
    for p in 0..9 {
        let s = format!("{x:.p$e}");
        if s.parse::<f32>().is_ok_and(&same) {
            return s;
        }
    }
    format!("{x:e}")
}

/// numpy's text of a float32: shortest digits, positional for
/// 1e-4 ≤ |x| < 1e6, scientific otherwise.
fn f32_text(x: f32) -> String {
    numpy_float_text(x.into(), &format!("{x:e}"), 1e6)
}

/// Python's repr of a float: shortest digits, positional when the decimal
/// exponent is in [-4, 16).
fn f64_text(x: f64) -> String {
    if !x.is_finite() {
        return special_text(x);
    }
    let sci = format!("{x:e}");
    let (neg, digits, exp) = split_sci(&sci);
    layout_float(neg, &digits, exp, (-4..16).contains(&exp))
}

/// numpy's scalar text for float16/float32: positional when x is 0 or
/// 1e-4 ≤ |x| < `cutoff`, else scientific with a two-digit exponent.
fn numpy_float_text(x: f64, sci: &str, cutoff: f64) -> String {
    if !x.is_finite() {
        return special_text(x);
    }
    let (neg, digits, exp) = split_sci(sci);
    let positional = x == 0.0 || (1e-4..cutoff).contains(&x.abs());
    layout_float(neg, &digits, exp, positional)
}

fn special_text(x: f64) -> String {
    if x.is_nan() {
        "nan"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    }
    .to_string()
}

/// Splits Rust's `{:e}` output ("-1.25e-3") into sign, digits, exponent.
fn split_sci(s: &str) -> (bool, String, i32) {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (neg, digits, exp.parse().unwrap_or(0))
}

/// Lays out digits d1d2d3... × 10^exp (d1 the units digit) positionally
/// ("123.45", "0.001", always a fractional part) or as "1.2345e+02".
fn layout_float(neg: bool, digits: &str, exp: i32, positional: bool) -> String {
    let mut out = String::from(if neg { "-" } else { "" });
    if positional {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1.min(digits.len())]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs()));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs a one-node model on the given inputs (`None` = omitted input)
    /// at `opset` and returns its outputs.
    pub(crate) fn run_node(node: ir::Node, inputs: Vec<Option<Tensor>>, opset: i64) -> Result<Vec<Tensor>> {
        let mut node = node;
        let mut g = ir::Graph::default();
        let mut feeds = Vec::new();
        node.inputs = inputs
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let t = t?;
                let name = format!("in{i}");
                g.inputs.push(ir::ValueInfo::untyped(name.clone()));
                feeds.push((name.clone(), Value::Tensor(t)));
                Some(name)
            })
            .collect();
        g.outputs = node.outputs.iter().map(|o| ir::ValueInfo::untyped(o.clone())).collect();
        g.nodes.push(node);
        let mut model = ir::Model::new(g);
        model.opset_imports.insert(String::new(), opset);
        crate::run(&model, feeds)?.into_iter().map(|(_, v)| v.into_tensor()).collect()
    }

    fn cast_node(to: i64) -> ir::Node {
        ir::Node::new("Cast", ["x"], ["y"]).with_attr("to", to)
    }

    fn f32s(v: &[f32]) -> Tensor {
        Tensor::f32(&[v.len()], v.to_vec()).unwrap()
    }

    const INPUTS: [f32; 15] = [
        0.478_925_47,
        0.480_336_67,
        0.499_684_87,
        0.819_105_45,
        0.470_312_48,
        0.722_903_8,
        1_000_000.0,
        1e-7,
        f32::NAN,
        f32::INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1e-7,
        1e-7,
        -1_000_000.0,
    ];

    fn f8_bits(t: &Tensor) -> Vec<u8> {
        match t {
            Tensor::F8(_, a) => a.iter().copied().collect(),
            other => panic!("not f8: {other:?}"),
        }
    }

    #[test]
    fn float_to_f8_saturating_matches_ml_dtypes() {
        // onnx.numpy_helper.saturate_cast(INPUTS, ml_dtypes.<kind>).view(uint8)
        let cases: [(i64, [u8; 15]); 4] = [
            (17, [0x2f, 0x2f, 0x30, 0x35, 0x2f, 0x34, 0x7e, 0x00, 0x7f, 0x7e, 0x7e, 0xfe, 0x80, 0x00, 0xfe]),
            (18, [0x37, 0x37, 0x38, 0x3d, 0x37, 0x3c, 0x7f, 0x00, 0x80, 0x7f, 0x7f, 0xff, 0x00, 0x00, 0xff]),
            (19, [0x38, 0x38, 0x38, 0x3b, 0x38, 0x3a, 0x7b, 0x00, 0x7e, 0x7b, 0x7b, 0xfb, 0x80, 0x00, 0xfb]),
            (20, [0x3c, 0x3c, 0x3c, 0x3f, 0x3c, 0x3e, 0x7f, 0x00, 0x80, 0x7f, 0x7f, 0xff, 0x00, 0x00, 0xff]),
        ];
        for (code, want) in cases {
            let y = run_node(cast_node(code), vec![Some(f32s(&INPUTS))], 21).unwrap();
            assert_eq!(f8_bits(&y[0]), want, "to code {code}");
        }
    }

    #[test]
    fn float_to_f8_without_saturation() {
        // INPUTS.astype(ml_dtypes.<kind>).view(uint8)
        let cases: [(i64, [u8; 15]); 4] = [
            (17, [0x2f, 0x2f, 0x30, 0x35, 0x2f, 0x34, 0x7f, 0x00, 0x7f, 0x7f, 0x7f, 0xff, 0x80, 0x00, 0xff]),
            (18, [0x37, 0x37, 0x38, 0x3d, 0x37, 0x3c, 0x80, 0x00, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x80]),
            (19, [0x38, 0x38, 0x38, 0x3b, 0x38, 0x3a, 0x7c, 0x00, 0x7e, 0x7c, 0x7c, 0xfc, 0x80, 0x00, 0xfc]),
            (20, [0x3c, 0x3c, 0x3c, 0x3f, 0x3c, 0x3e, 0x80, 0x00, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x80]),
        ];
        for (code, want) in cases {
            let node = cast_node(code).with_attr("saturate", 0i64);
            let y = run_node(node, vec![Some(f32s(&INPUTS))], 19).unwrap();
            assert_eq!(f8_bits(&y[0]), want, "to code {code}");
        }
    }

    #[test]
    fn f8_decoding_and_rounding_edges() {
        // np.arange(256, dtype=uint8).view(kind).astype(float32)[[0,1,0x7e,0x7f,0x80,0xfe,0xff]]
        let e4 = f8_decode_table(DType::F8E4M3FN).unwrap();
        assert_eq!([e4[1], e4[0x7e], e4[0xfe]], [0.001_953_125, 448.0, -448.0]);
        assert!(e4[0x7f].is_nan() && e4[0xff].is_nan() && e4[0x80] == 0.0);
        let uz = f8_decode_table(DType::F8E4M3FNUZ).unwrap();
        assert_eq!([uz[1], uz[0x7e], uz[0x7f], uz[0xff]], [0.000_976_562_5, 224.0, 240.0, -240.0]);
        assert!(uz[0x80].is_nan());
        let e5 = f8_decode_table(DType::F8E5M2).unwrap();
        assert_eq!([e5[1], e5[0x7b], e5[0x7c]], [1.525_878_9e-5, 57344.0, f32::INFINITY]);
        assert!(e5[0x7e].is_nan());
        let e5uz = f8_decode_table(DType::F8E5M2FNUZ).unwrap();
        assert_eq!([e5uz[1], e5uz[0x7e], e5uz[0x7f]], [7.629_394_5e-6, 49152.0, 57344.0]);
        let e8 = f8_decode_table(DType::F8E8M0).unwrap();
        assert_eq!([e8[0], e8[0x7e], e8[0x7f], e8[0xfe]], [5.877_472e-39, 0.5, 1.0, 1.701_411_8e38]);
        // ml_dtypes: 464 ties to even (448), 465 overflows; 240/248/250 in FNUZ.
        let f = F8Format::new(DType::F8E4M3FN).unwrap();
        assert_eq!([f.encode(464.0, false), f.encode(465.0, false)], [0x7e, 0x7f]);
        let f = F8Format::new(DType::F8E4M3FNUZ).unwrap();
        assert_eq!([f.encode(240.0, false), f.encode(248.0, false)], [0x7f, 0x80]);
        let f = F8Format::new(DType::F8E5M2).unwrap();
        assert_eq!([f.encode(61440.0, false), f.encode(464.0, false)], [0x7c, 0x5f]);
    }

    #[test]
    fn round_even_ties() {
        let x = [0.5, 1.5, 2.5, -0.5, -2.5, 3.7, -3.2, 1e300, 4_503_599_627_370_497.0];
        let want = [0.0, 2.0, 2.0, -0.0, -2.0, 4.0, -3.0, 1e300, 4_503_599_627_370_497.0];
        assert_eq!(x.map(round_even), want);
        assert!(round_even(f64::NAN).is_nan());
    }

    #[test]
    fn e8m0_rounding_modes() {
        // onnx.numpy_helper.to_float8e8m0([0, .124, .25, .5, 1.1, 2, 4, 8], True, mode).view(uint8)
        let x = [0.0f32, 0.124, 0.25, 0.5, 1.1, 2.0, 4.0, 8.0];
        let up: Vec<u8> = x.iter().map(|&v| e8m0_encode(v, true, E8M0Round::Up)).collect();
        assert_eq!(up, [0, 124, 125, 126, 128, 128, 129, 130]);
        let down: Vec<u8> = x.iter().map(|&v| e8m0_encode(v, true, E8M0Round::Down)).collect();
        assert_eq!(down, [0, 123, 125, 126, 127, 128, 129, 130]);
        let near: Vec<u8> = x.iter().map(|&v| e8m0_encode(v, true, E8M0Round::Nearest)).collect();
        assert_eq!(near, [0, 124, 125, 126, 127, 128, 129, 130]);
        assert_eq!(e8m0_encode(f32::MAX, true, E8M0Round::Up), 0xfe);
        assert_eq!(e8m0_encode(f32::MAX, false, E8M0Round::Up), 0xff);
    }

    #[test]
    fn float_to_int_and_4bit_wrap_like_numpy() {
        // np.arange(-9, 16).astype(float32).astype(ml_dtypes.int4 / uint4)
        let x: Vec<f32> = (-9..16).map(|v| v as f32).collect();
        let y = cast(&f32s(&x), DType::I4, true).unwrap();
        let want: Vec<i8> =
            vec![7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1];
        assert_eq!(y, Tensor::I4(array(&[25], want).unwrap()));
        let y = cast(&f32s(&x), DType::U4, true).unwrap();
        let want: Vec<u8> = vec![7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        assert_eq!(y, Tensor::U4(array(&[25], want).unwrap()));
        // np.array([300.5, -1.5, 1e10, nan], float32).astype(int8 / uint8 / int32)
        let x = f32s(&[300.5, -1.5, 1e10, f32::NAN]);
        assert_eq!(cast(&x, DType::I8, true).unwrap(), Tensor::I8(array(&[4], vec![44, -1, 0, 0]).unwrap()));
        assert_eq!(cast(&x, DType::U8, true).unwrap(), Tensor::U8(array(&[4], vec![44, 255, 0, 0]).unwrap()));
        let want = vec![300, -1, i32::MIN, i32::MIN];
        assert_eq!(cast(&x, DType::I32, true).unwrap(), Tensor::I32(array(&[4], want).unwrap()));
        // Integers wrap: 200 (int16) -> -56 (int8).
        let x = Tensor::I16(array(&[2], vec![200, -1]).unwrap());
        assert_eq!(cast(&x, DType::I8, true).unwrap(), Tensor::I8(array(&[2], vec![-56, -1]).unwrap()));
        assert_eq!(cast(&x, DType::U64, true).unwrap(), Tensor::U64(array(&[2], vec![200, u64::MAX]).unwrap()));
        assert_eq!(cast(&x, DType::Bool, true).unwrap(), Tensor::Bool(array(&[2], vec![true, true]).unwrap()));
    }

    #[test]
    fn numbers_to_strings_like_numpy() {
        // INPUTS-like values .astype(np.str_) for float32, float16, float64, bool, int8
        let x = f32s(&[0.478_925_47, 1e-7, 1e6, 123_456.0, 1e-4, 0.0015, -0.0, f32::NAN, f32::NEG_INFINITY, 3.0]);
        let want = ["0.47892547", "1e-07", "1e+06", "123456.0", "1e-04", "0.0015", "-0.0", "nan", "-inf", "3.0"];
        let Tensor::Str(s) = cast(&x, DType::String, true).unwrap() else { panic!() };
        assert_eq!(s.iter().map(String::as_str).collect::<Vec<_>>(), want);
        let h = cast(&f32s(&[0.478_925_47, 1e-4, 1000.0, 12345.0, 65504.0, 100.0]), DType::F16, true).unwrap();
        let Tensor::Str(s) = cast(&h, DType::String, true).unwrap() else { panic!() };
        assert_eq!(
            s.iter().map(String::as_str).collect::<Vec<_>>(),
            ["0.479", "0.0001", "1e+03", "1.2344e+04", "6.55e+04", "100.0"]
        );
        let d = Tensor::F64(array(&[4], vec![0.1, 1e16, 9_999_999_999_999_998.0, 1e-5]).unwrap());
        let Tensor::Str(s) = cast(&d, DType::String, true).unwrap() else { panic!() };
        assert_eq!(s.iter().map(String::as_str).collect::<Vec<_>>(), ["0.1", "1e+16", "9999999999999998.0", "1e-05"]);
        let b = Tensor::Bool(array(&[2], vec![true, false]).unwrap());
        let Tensor::Str(s) = cast(&b, DType::String, true).unwrap() else { panic!() };
        assert_eq!(s.iter().map(String::as_str).collect::<Vec<_>>(), ["True", "False"]);
    }

    #[test]
    fn strings_to_numbers() {
        let s = ["1.5", " 2 ", "INF", "-inf", "NaN", "+INF", "1e-5", "1E8", "-0", "100"];
        let t = Tensor::Str(array(&[10], s.iter().map(|v| v.to_string()).collect()).unwrap());
        let Tensor::F32(y) = cast(&t, DType::F32, true).unwrap() else { panic!() };
        let y: Vec<f32> = y.iter().copied().collect();
        assert_eq!(y[..4], [1.5, 2.0, f32::INFINITY, f32::NEG_INFINITY]);
        assert!(y[4].is_nan());
        assert_eq!(y[5..], [f32::INFINITY, 1e-5, 1e8, -0.0, 100.0]);
        let t = Tensor::Str(array(&[3], vec!["100".into(), "-3".into(), "100.5".into()]).unwrap());
        assert_eq!(cast(&t, DType::I64, true).unwrap(), Tensor::i64(&[3], vec![100, -3, 100]).unwrap());
        let bad = Tensor::Str(array(&[1], vec!["Hello".into()]).unwrap());
        assert!(cast(&bad, DType::F32, true).is_err());
    }

    #[test]
    fn half_types_round_to_nearest_even() {
        // np.float64(1 + 2**-11 + 2**-40).astype(float16) rounds up; the
        // exact tie 1 + 2**-11 rounds to even (1.0).
        let d = Tensor::F64(array(&[2], vec![1.0 + 2f64.powi(-11) + 2f64.powi(-40), 1.0 + 2f64.powi(-11)]).unwrap());
        let Tensor::F16(h) = cast(&d, DType::F16, true).unwrap() else { panic!() };
        assert_eq!(h.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), [0x3c01, 0x3c00]);
        // float32 -> bfloat16: 0.47892547 -> 0x3ef5, 0.81910545 -> 0x3f52
        let Tensor::BF16(b) = cast(&f32s(&[0.478_925_47, 0.819_105_45]), DType::BF16, true).unwrap() else { panic!() };
        assert_eq!(b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), [0x3ef5, 0x3f52]);
    }

    #[test]
    fn cast_like_and_errors() {
        let node = ir::Node::new("CastLike", ["x", "t"], ["y"]);
        let like = Tensor::I64(array(&[0], vec![]).unwrap());
        let y = run_node(node, vec![Some(f32s(&[1.7, -2.2])), Some(like)], 15).unwrap();
        assert_eq!(y[0], Tensor::i64(&[2], vec![1, -2]).unwrap());
        assert!(run_node(cast_node(14), vec![Some(f32s(&[1.0]))], 23).is_err());
        let f4 = run_node(cast_node(23), vec![Some(f32s(&[0.25, 1.0, 100.0]))], 23).unwrap();
        let back = run_node(cast_node(1), vec![Some(f4[0].clone())], 23).unwrap();
        assert_eq!(back[0], f32s(&[0.0, 1.0, 6.0]));
        assert!(run_node(cast_node(99), vec![Some(f32s(&[1.0]))], 23).is_err());
        assert!(run_node(ir::Node::new("Cast", ["x"], ["y"]), vec![Some(f32s(&[1.0]))], 13).is_err());
    }
}
