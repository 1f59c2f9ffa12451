//! Elementwise ops: unary math (Abs … Erf, IsNaN, IsInf, Not, BitwiseNot),
//! binary arithmetic, comparison, logic and bit ops with numpy broadcasting
//! (Add … Pow, Mod, BitShift, Equal, Less, …), the variadic Max/Min/Sum/Mean,
//! and Where. Also the element-type machinery (`Elem`, `Num`, the `for_*`
//! dispatch macros, `float_map!`) that the activation family shares.
//!
//! Semantics follow onnx's reference implementation (numpy):
//! - Before opset 7 the binary ops broadcast only with `broadcast=1`, B's
//!   dims aligned with A's starting at `axis`; from 7 on, numpy broadcasting.
//! - Integer arithmetic wraps; integer Div truncates toward zero; integer
//!   Div/Mod by zero gives 0 (numpy's result; ONNX leaves it undefined).
//! - Mod with `fmod=0` is numpy `mod` (sign of the divisor) for integers and,
//!   as opset 28 spells out, for floats; `fmod=1` is C `fmod` (sign of the
//!   dividend).
//! - Pow's exponent may have another numeric type than the base (opset 12+);
//!   integer bases to negative integer powers give trunc(1/base^|e|).
//! - BitShift by a negative amount or by at least the bit width gives 0, or
//!   -1 for a right shift of a negative value (the opset 28 rule, which also
//!   added signed types; earlier opsets left this undefined).
//! - Types added by later opsets (integer Max/Min at 12, strings in Equal at
//!   19, …) are accepted at every opset version.

use half::{bf16, f16};
use ir::DType;
use ndarray::{ArrayD, Zip};

use crate::registry::{Ctx, OpRegistry};
use crate::util::{broadcast_shapes, broadcast_view};
use crate::{Error, Result, Tensor, Value, bail};

// ---------------------------------------------------------------------------
// Element types and dtype dispatch (shared with activation.rs).
// ---------------------------------------------------------------------------

/// An element type with its own `Tensor` variant: typed access without matching.
pub(super) trait Elem: Clone + Send + Sync + 'static {
    /// The dtype of tensors of this element type.
    const DTYPE: DType;
    /// The array inside `t`, if `t` has this element type.
    fn view(t: &Tensor) -> Option<&ArrayD<Self>>;
    /// Wraps an array of this element type.
    fn wrap(a: ArrayD<Self>) -> Tensor;
}

macro_rules! impl_elem {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl Elem for $t {
            const DTYPE: DType = DType::$v;
            fn view(t: &Tensor) -> Option<&ArrayD<Self>> {
                match t {
                    Tensor::$v(a) => Some(a),
                    _ => None,
                }
            }
            fn wrap(a: ArrayD<Self>) -> Tensor {
                Tensor::$v(a)
            }
        }
    )*};
}

impl_elem!(
    f32 => F32, f64 => F64, f16 => F16, bf16 => BF16,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    bool => Bool,
);

impl Elem for String {
    const DTYPE: DType = DType::String;
    fn view(t: &Tensor) -> Option<&ArrayD<Self>> {
        match t {
            Tensor::Str(a) => Some(a),
            _ => None,
        }
    }
    fn wrap(a: ArrayD<Self>) -> Tensor {
        Tensor::Str(a)
    }
}

/// The array of `t` as element type `T`, or an error naming both dtypes.
pub(super) fn arr<T: Elem>(t: &Tensor) -> Result<&ArrayD<T>> {
    T::view(t).ok_or_else(|| Error::op(format!("expected a {} tensor, got {}", T::DTYPE, t.dtype())))
}

/// Numeric element: integer arithmetic wraps, floats are IEEE (f16/bf16
/// computed through f32), NaN propagates like numpy's.
pub(super) trait Num: Elem + Copy + PartialOrd {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// `a + b`.
    fn add(self, o: Self) -> Self;
    /// `a - b`.
    fn sub(self, o: Self) -> Self;
    /// `a * b`.
    fn mul(self, o: Self) -> Self;
    /// `a / b`; integers truncate toward zero and give 0 when dividing by 0.
    fn div(self, o: Self) -> Self;
    /// Remainder with the sign of the divisor (numpy `mod`, Python `%`).
    fn rem_floor(self, o: Self) -> Self;
    /// Remainder with the sign of the dividend (C `fmod`).
    fn rem_trunc(self, o: Self) -> Self;
    /// numpy `maximum`: NaN if either is NaN.
    fn max_nan(self, o: Self) -> Self;
    /// numpy `minimum`: NaN if either is NaN.
    fn min_nan(self, o: Self) -> Self;
    /// Absolute value (wrapping for the most negative integer).
    fn abs(self) -> Self;
    /// Negation (wrapping).
    fn neg(self) -> Self;
    /// -1, 0 or 1 (NaN for NaN).
    fn sign(self) -> Self;
    /// `self` to the power of an integer `e`.
    fn pow_int(self, e: i64) -> Self;
    /// `self` to the power of a float `e`, computed in f64.
    fn pow_float(self, e: f64) -> Self;
    /// As f64.
    fn to_f64(self) -> f64;
    /// From f64 (integers truncate toward zero and saturate).
    fn from_f64(v: f64) -> Self;
    /// Whether this is NaN.
    fn is_nan(self) -> bool;
}

/// `b^e` for e ≥ 0 by squaring, wrapping like numpy's integer power.
fn ipow<T: Copy>(b: T, e: u64, one: T, mul: impl Fn(T, T) -> T) -> T {
    let (mut acc, mut base, mut e) = (one, b, e);
    while e > 0 {
        if e & 1 == 1 {
            acc = mul(acc, base);
        }
        e >>= 1;
        if e > 0 {
            base = mul(base, base);
        }
    }
    acc
}

macro_rules! impl_int {
    (signed: $($t:ty),*) => {$(
        impl_int!(@common $t, |v| v < 0);
        impl Num for $t {
            impl_int!(@arith $t);
            fn rem_floor(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                if r != 0 && ((r < 0) != (o < 0)) { r.wrapping_add(o) } else { r }
            }
            fn abs(self) -> Self {
                self.wrapping_abs()
            }
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            fn sign(self) -> Self {
                self.signum()
            }
            fn pow_int(self, e: i64) -> Self {
                match u64::try_from(e) {
                    Ok(e) => ipow(self, e, 1, <$t>::wrapping_mul),
                    // trunc(1 / b^|e|): nonzero only for b = ±1.
                    Err(_) => match self {
                        1 => 1,
                        -1 if e % 2 == 0 => 1,
                        -1 => -1,
                        _ => 0,
                    },
                }
            }
        }
    )*};
    (unsigned: $($t:ty),*) => {$(
        impl_int!(@common $t, |_v| false);
        impl Num for $t {
            impl_int!(@arith $t);
            fn rem_floor(self, o: Self) -> Self {
                self.checked_rem(o).unwrap_or(0)
            }
            fn abs(self) -> Self {
                self
            }
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            fn sign(self) -> Self {
                Self::from(self != 0)
            }
            fn pow_int(self, e: i64) -> Self {
                match u64::try_from(e) {
                    Ok(e) => ipow(self, e, 1, <$t>::wrapping_mul),
                    Err(_) => Self::from(self == 1),
                }
            }
        }
    )*};
    (@common $t:ty, |$v:ident| $negative:expr) => {
        impl Int for $t {
            fn shift(self, n: Self, left: bool) -> Self {
                let $v = self;
                let negative = $negative;
                match u32::try_from(n) {
                    Ok(n) if n < <$t>::BITS => {
                        if left { self.wrapping_shl(n) } else { self.wrapping_shr(n) }
                    }
                    _ => if !left && negative { !0 } else { 0 },
                }
            }
            #[allow(clippy::unnecessary_fallible_conversions)]
            fn exponent(self) -> i64 {
                // Only u64 can fail; past i64::MAX the parity is all that
                // still matters (for bases ±1; others have overflowed).
                i64::try_from(self).unwrap_or(if self & 1 == 1 { i64::MAX } else { i64::MAX - 1 })
            }
        }
    };
    (@arith $t:ty) => {
        const ZERO: Self = 0;
        const ONE: Self = 1;
        fn add(self, o: Self) -> Self {
            self.wrapping_add(o)
        }
        fn sub(self, o: Self) -> Self {
            self.wrapping_sub(o)
        }
        fn mul(self, o: Self) -> Self {
            self.wrapping_mul(o)
        }
        fn div(self, o: Self) -> Self {
            if o == 0 { 0 } else { self.wrapping_div(o) }
        }
        fn rem_trunc(self, o: Self) -> Self {
            if o == 0 { 0 } else { self.wrapping_rem(o) }
        }
        fn max_nan(self, o: Self) -> Self {
            if o > self { o } else { self }
        }
        fn min_nan(self, o: Self) -> Self {
            if o < self { o } else { self }
        }
        fn pow_float(self, e: f64) -> Self {
            (self as f64).powf(e) as $t
        }
        fn to_f64(self) -> f64 {
            self as f64
        }
        fn from_f64(v: f64) -> Self {
            v as $t
        }
        fn is_nan(self) -> bool {
            false
        }
    };
}

/// Integer element: bit operations.
pub(super) trait Int:
    Copy
    + std::ops::BitAnd<Output = Self>
    + std::ops::BitOr<Output = Self>
    + std::ops::BitXor<Output = Self>
    + std::ops::Not<Output = Self>
{
    /// Shift by `n` bits (BitShift-28 rules for out-of-range amounts).
    fn shift(self, n: Self, left: bool) -> Self;
    /// As a Pow exponent.
    fn exponent(self) -> i64;
}

impl_int!(signed: i8, i16, i32, i64);
impl_int!(unsigned: u8, u16, u32, u64);

/// numpy's float `mod`: `a - floor(a / b) * b` with the sign of `b`.
fn float_mod<F: num_traits::Float>(a: F, b: F) -> F {
    let m = a % b;
    if m != F::zero() { if (b < F::zero()) != (m < F::zero()) { m + b } else { m } } else { F::zero().copysign(b) }
}

macro_rules! impl_float {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn sub(self, o: Self) -> Self {
                self - o
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn div(self, o: Self) -> Self {
                self / o
            }
            fn rem_floor(self, o: Self) -> Self {
                float_mod(self, o)
            }
            fn rem_trunc(self, o: Self) -> Self {
                self % o
            }
            fn max_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { Self::NAN } else { self.max(o) }
            }
            fn min_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { Self::NAN } else { self.min(o) }
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn neg(self) -> Self {
                -self
            }
            fn sign(self) -> Self {
                if self > 0.0 { 1.0 } else if self < 0.0 { -1.0 } else { self }
            }
            fn pow_int(self, e: i64) -> Self {
                (f64::from(self).powf(e as f64)) as $t
            }
            fn pow_float(self, e: f64) -> Self {
                f64::from(self).powf(e) as $t
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    )*};
}

impl_float!(f32, f64);

macro_rules! impl_half {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = <$t>::ZERO;
            const ONE: Self = <$t>::ONE;
            fn add(self, o: Self) -> Self {
                Self::from_f32(self.to_f32() + o.to_f32())
            }
            fn sub(self, o: Self) -> Self {
                Self::from_f32(self.to_f32() - o.to_f32())
            }
            fn mul(self, o: Self) -> Self {
                Self::from_f32(self.to_f32() * o.to_f32())
            }
            fn div(self, o: Self) -> Self {
                Self::from_f32(self.to_f32() / o.to_f32())
            }
            fn rem_floor(self, o: Self) -> Self {
                Self::from_f32(float_mod(self.to_f32(), o.to_f32()))
            }
            fn rem_trunc(self, o: Self) -> Self {
                Self::from_f32(self.to_f32() % o.to_f32())
            }
            fn max_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if o > self { o } else { self }
            }
            fn min_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if o < self { o } else { self }
            }
            fn abs(self) -> Self {
                Self::from_f32(self.to_f32().abs())
            }
            fn neg(self) -> Self {
                -self
            }
            fn sign(self) -> Self {
                Self::from_f32(self.to_f32().sign())
            }
            fn pow_int(self, e: i64) -> Self {
                Self::from_f64(self.to_f64().powf(e as f64))
            }
            fn pow_float(self, e: f64) -> Self {
                Self::from_f64(self.to_f64().powf(e))
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    )*};
}

impl_half!(f16, bf16);

/// Float math not in std.
pub(super) trait Real {
    /// The error function.
    fn erf_fn(self) -> Self;
}

impl Real for f64 {
    fn erf_fn(self) -> f64 {
        erf64(self)
    }
}

impl Real for f32 {
    fn erf_fn(self) -> f32 {
        erf32(self)
    }
}

/// The error function to f32 precision (relative error below 1e-9 before
/// the final rounding), computed in f64 as [`erf64`] but stopping as soon as
/// f32 cannot tell: the series at 1e-10 instead of 1e-17, 10 terms of the
/// continued fraction (error < 3e-11 from 2.5 up), and exactly 1 from 3.92,
/// where erf rounds to 1 in f32. GELU spends most of its time here.
fn erf32(x: f32) -> f32 {
    use std::f64::consts::{FRAC_2_SQRT_PI, PI};
    if x.is_nan() {
        return x;
    }
    let a = f64::from(x.abs());
    let r = if a < 2.5 {
        let a2 = 2.0 * a * a;
        let (mut term, mut sum) = (a, a);
        for inv in &INV_ODD[1..] {
            term *= a2 * inv;
            sum += term;
            if term <= sum * 1e-10 {
                break;
            }
        }
        FRAC_2_SQRT_PI * (-a * a).exp() * sum
    } else if a < 3.92 {
        let mut f = a;
        for k in (1..=10).rev() {
            f = a + f64::from(k) / 2.0 / f;
        }
        1.0 - (-a * a).exp() / (PI.sqrt() * f)
    } else {
        1.0
    };
    (r as f32).copysign(x)
}

/// 1/(2n+1) for n < 64: the series below multiplies instead of dividing
/// (it needs at most about 40 terms).
const INV_ODD: [f64; 64] = {
    let mut t = [0.0; 64];
    let mut n = 0;
    while n < 64 {
        t[n] = 1.0 / (2 * n + 1) as f64;
        n += 1;
    }
    t
};

/// The error function to about 1e-15 relative error.
///
/// Below 2.5 a series of positive terms (no cancellation):
/// erf(a) = 2/√π · e^(−a²) · Σₙ (2a²)ⁿ a / (1·3·…·(2n+1)).
/// From 2.5 to 6, 1 − erfc(a) with erfc's continued fraction, which
/// converges fast there; beyond 6, erf is 1 to f64 precision.
fn erf64(x: f64) -> f64 {
    use std::f64::consts::{FRAC_2_SQRT_PI, PI};
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 2.5 {
        let a2 = 2.0 * a * a;
        let (mut term, mut sum) = (a, a);
        for inv in &INV_ODD[1..] {
            term *= a2 * inv;
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        FRAC_2_SQRT_PI * (-a * a).exp() * sum
    } else if a < 6.0 {
        // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))),
        // evaluated from the tail; 40 terms reach f64 precision at a = 2.5.
        let mut f = a;
        for k in (1..=40).rev() {
            f = a + f64::from(k) / 2.0 / f;
        }
        1.0 - (-a * a).exp() / (PI.sqrt() * f)
    } else {
        1.0
    };
    r.copysign(x)
}

/// Runs `$e` with `$T` the element type of float dtype `$dt`.
macro_rules! for_float {
    ($dt:expr, $T:ident => $e:expr) => {
        match $dt {
            ir::DType::F32 => {
                type $T = f32;
                $e
            }
            ir::DType::F64 => {
                type $T = f64;
                $e
            }
            ir::DType::F16 => {
                type $T = half::f16;
                $e
            }
            ir::DType::BF16 => {
                type $T = half::bf16;
                $e
            }
            d => $crate::bail!("{d} is not supported here (float types only)"),
        }
    };
}

/// Runs `$e` with `$T` the element type of integer dtype `$dt`.
macro_rules! for_int {
    ($dt:expr, $T:ident => $e:expr) => {
        match $dt {
            ir::DType::I8 => {
                type $T = i8;
                $e
            }
            ir::DType::I16 => {
                type $T = i16;
                $e
            }
            ir::DType::I32 => {
                type $T = i32;
                $e
            }
            ir::DType::I64 => {
                type $T = i64;
                $e
            }
            ir::DType::U8 => {
                type $T = u8;
                $e
            }
            ir::DType::U16 => {
                type $T = u16;
                $e
            }
            ir::DType::U32 => {
                type $T = u32;
                $e
            }
            ir::DType::U64 => {
                type $T = u64;
                $e
            }
            d => $crate::bail!("{d} is not supported here (integer types only)"),
        }
    };
}

/// Runs `$e` with `$T` the element type of numeric dtype `$dt`.
macro_rules! for_num {
    ($dt:expr, $T:ident => $e:expr) => {
        match $dt {
            d @ (ir::DType::F32 | ir::DType::F64 | ir::DType::F16 | ir::DType::BF16) => {
                $crate::ops::elementwise::for_float!(d, $T => $e)
            }
            d @ (ir::DType::I8
            | ir::DType::I16
            | ir::DType::I32
            | ir::DType::I64
            | ir::DType::U8
            | ir::DType::U16
            | ir::DType::U32
            | ir::DType::U64) => $crate::ops::elementwise::for_int!(d, $T => $e),
            d => $crate::bail!("{d} is not supported here (numeric types only)"),
        }
    };
}

/// Runs `$e` with `$T` the element type of dtype `$dt`: numeric, bool or string.
macro_rules! for_elem {
    ($dt:expr, $T:ident => $e:expr) => {
        match $dt {
            ir::DType::Bool => {
                type $T = bool;
                $e
            }
            ir::DType::String => {
                type $T = String;
                $e
            }
            d => $crate::ops::elementwise::for_num!(d, $T => $e),
        }
    };
}

/// Maps a float tensor elementwise with `|x| expr`, keeping its dtype; f16
/// and bf16 compute in f32. The listed f64 constants are rebound as f32 in
/// the f32-computing arms so `expr` can use them at either precision.
macro_rules! float_map {
    ($t:expr, [$($c:ident),*], |$x:ident| $e:expr) => {
        match $t {
            $crate::Tensor::F32(a) => {
                $(let $c = $c as f32;)*
                Ok($crate::Tensor::F32(a.mapv(|$x: f32| $e)))
            }
            $crate::Tensor::F64(a) => Ok($crate::Tensor::F64(a.mapv(|$x: f64| $e))),
            $crate::Tensor::F16(a) => {
                $(let $c = $c as f32;)*
                Ok($crate::Tensor::F16(a.mapv(|v| {
                    let $x = v.to_f32();
                    half::f16::from_f32($e)
                })))
            }
            $crate::Tensor::BF16(a) => {
                $(let $c = $c as f32;)*
                Ok($crate::Tensor::BF16(a.mapv(|v| {
                    let $x = v.to_f32();
                    half::bf16::from_f32($e)
                })))
            }
            other => Err($crate::Error::op(format!("{} is not supported here (float types only)", other.dtype()))),
        }
    };
}

pub(super) use {float_map, for_float, for_int, for_num};

// ---------------------------------------------------------------------------
// Broadcasting helpers.
// ---------------------------------------------------------------------------

/// `f(&a, &b)` elementwise with numpy broadcasting.
pub(super) fn zip2<A, B, O>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(&A, &B) -> O) -> Result<ArrayD<O>> {
    if a.shape() == b.shape() {
        return Ok(Zip::from(a).and(b).map_collect(&f));
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (va, vb) = (broadcast_view(a, &shape)?, broadcast_view(b, &shape)?);
    Ok(Zip::from(&va).and(&vb).map_collect(f))
}

/// Combines `b` into `acc` with `f`, in place when the broadcast shape is
/// `acc`'s (the usual case for variadic ops), else into a new array.
fn fold_into<T: Clone>(acc: ArrayD<T>, b: &ArrayD<T>, f: impl Fn(&T, &T) -> T) -> Result<ArrayD<T>> {
    let shape = broadcast_shapes(acc.shape(), b.shape())?;
    if shape == acc.shape() {
        let mut acc = acc;
        let vb = broadcast_view(b, &shape)?;
        Zip::from(&mut acc).and(&vb).for_each(|x, y| *x = f(x, y));
        return Ok(acc);
    }
    zip2(&acc, b, f)
}

/// Before opset 7, `broadcast=1` aligns B's dims with A's from `axis`
/// (default: B's dims are A's trailing ones). Returns B reshaped so numpy
/// broadcasting then does the same, or `None` when B is used as is.
fn legacy_broadcast(ctx: &Ctx<'_>, a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    if ctx.opset >= 7 || ctx.int("broadcast", 0)? == 0 || ctx.node.attr("axis").is_none() {
        return Ok(None);
    }
    let (ra, rb) = (a.rank(), b.rank());
    let axis = ctx.int("axis", 0)?;
    let axis = if axis < 0 { axis + ra as i64 } else { axis };
    if axis < 0 || axis as usize + rb > ra {
        bail!("axis {axis} cannot align B {:?} with A {:?}", b.shape(), a.shape());
    }
    let axis = axis as usize;
    let mut shape = vec![1; ra];
    shape[axis..axis + rb].copy_from_slice(b.shape());
    Ok(Some(b.reshape(&shape)?))
}

/// One output.
pub(super) fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Tensor(t)])
}

/// The two inputs of a binary op, with pre-opset-7 broadcasting applied.
fn two<'v>(ctx: &Ctx<'_>, inputs: &[Option<&'v Value>]) -> Result<(&'v Tensor, std::borrow::Cow<'v, Tensor>)> {
    let a = ctx.input(inputs, 0)?;
    let b = ctx.input(inputs, 1)?;
    Ok(match legacy_broadcast(ctx, a, b)? {
        Some(b) => (a, std::borrow::Cow::Owned(b)),
        None => (a, std::borrow::Cow::Borrowed(b)),
    })
}

/// Same-typed numeric binary op.
fn arith<T: Num>(a: &Tensor, b: &Tensor, f: impl Fn(T, T) -> T) -> Result<Tensor> {
    Ok(T::wrap(zip2(arr::<T>(a)?, arr::<T>(b)?, |x, y| f(*x, *y))?))
}

/// Same-typed comparison giving bools.
fn compare<T: Elem>(a: &Tensor, b: &Tensor, f: impl Fn(&T, &T) -> bool) -> Result<Tensor> {
    Ok(Tensor::Bool(zip2(arr::<T>(a)?, arr::<T>(b)?, f)?))
}

// ---------------------------------------------------------------------------
// Ops.
// ---------------------------------------------------------------------------

/// Registers the family.
pub(crate) fn register(r: &mut OpRegistry) {
    unary(r);
    binary(r);
    r.add("Pow", pow);
    r.add("Mod", modulo);
    r.add("BitShift", bit_shift);
    r.add("Max", |ctx, i| variadic(ctx, i, Fold::Max));
    r.add("Min", |ctx, i| variadic(ctx, i, Fold::Min));
    r.add("Sum", |ctx, i| variadic(ctx, i, Fold::Sum));
    r.add("Mean", |ctx, i| variadic(ctx, i, Fold::Mean));
    r.add("Where", where_op);
}

/// Registers a float-only unary op computing `|x| expr`.
macro_rules! unary_float {
    ($r:ident, $name:literal, |$x:ident| $e:expr) => {
        $r.add($name, |ctx, i| one(float_map!(ctx.input(i, 0)?, [], |$x| $e)?))
    };
}

fn unary(r: &mut OpRegistry) {
    // Spelled `<T as Num>::` because integers' inherent `abs` panics on overflow.
    macro_rules! num_unary {
        ($name:literal, $f:ident) => {
            r.add($name, |ctx, i| {
                let x = ctx.input(i, 0)?;
                one(for_num!(x.dtype(), T => T::wrap(arr::<T>(x)?.mapv(<T as Num>::$f))))
            })
        };
    }
    num_unary!("Abs", abs);
    num_unary!("Neg", neg);
    num_unary!("Sign", sign);
    unary_float!(r, "Exp", |x| x.exp());
    unary_float!(r, "Log", |x| x.ln());
    unary_float!(r, "Sqrt", |x| x.sqrt());
    unary_float!(r, "Reciprocal", |x| 1.0 / x);
    unary_float!(r, "Floor", |x| x.floor());
    unary_float!(r, "Ceil", |x| x.ceil());
    unary_float!(r, "Round", |x| x.round_ties_even());
    unary_float!(r, "Sin", |x| x.sin());
    unary_float!(r, "Cos", |x| x.cos());
    unary_float!(r, "Tan", |x| x.tan());
    unary_float!(r, "Asin", |x| x.asin());
    unary_float!(r, "Acos", |x| x.acos());
    unary_float!(r, "Atan", |x| x.atan());
    unary_float!(r, "Sinh", |x| x.sinh());
    unary_float!(r, "Cosh", |x| x.cosh());
    unary_float!(r, "Asinh", |x| x.asinh());
    unary_float!(r, "Acosh", |x| x.acosh());
    unary_float!(r, "Atanh", |x| x.atanh());
    unary_float!(r, "Erf", |x| x.erf_fn());
    r.add("IsNaN", |ctx, i| {
        let x = ctx.input(i, 0)?;
        if let Tensor::F8(d, a) = x {
            let d = *d;
            return one(Tensor::Bool(a.mapv(|b| f8_class(d, b) == F8Class::Nan)));
        }
        one(for_float!(x.dtype(), T => Tensor::Bool(arr::<T>(x)?.mapv(T::is_nan))))
    });
    r.add("IsInf", |ctx, i| {
        let x = ctx.input(i, 0)?;
        let pos = ctx.int("detect_positive", 1)? != 0;
        let neg = ctx.int("detect_negative", 1)? != 0;
        if let Tensor::F8(d, a) = x {
            let d = *d;
            return one(Tensor::Bool(a.mapv(|b| match f8_class(d, b) {
                F8Class::PosInf => pos,
                F8Class::NegInf => neg,
                _ => false,
            })));
        }
        one(for_float!(x.dtype(), T => Tensor::Bool(arr::<T>(x)?.mapv(|v| {
            let v = v.to_f64();
            v.is_infinite() && if v > 0.0 { pos } else { neg }
        }))))
    });
    r.add("Not", |ctx, i| one(Tensor::Bool(arr::<bool>(ctx.input(i, 0)?)?.mapv(|v| !v))));
    r.add("BitwiseNot", |ctx, i| {
        let x = ctx.input(i, 0)?;
        one(for_int!(x.dtype(), T => T::wrap(arr::<T>(x)?.mapv(|v| !v))))
    });
}

/// What an 8-bit float bit pattern is, for IsNaN/IsInf.
#[derive(PartialEq)]
enum F8Class {
    Nan,
    PosInf,
    NegInf,
    Finite,
}

/// Classifies a bit pattern of one of the 8-bit float types: E4M3FN has only
/// S.1111.111 as NaN and no infinities; the FNUZ types have only 0x80 as
/// NaN; E5M2 is IEEE-like; E8M0 has only 0xFF as NaN.
fn f8_class(d: DType, b: u8) -> F8Class {
    match d {
        DType::F8E4M3FN if b & 0x7f == 0x7f => F8Class::Nan,
        DType::F8E4M3FNUZ | DType::F8E5M2FNUZ if b == 0x80 => F8Class::Nan,
        DType::F8E5M2 if b & 0x7f > 0x7c => F8Class::Nan,
        DType::F8E5M2 if b == 0x7c => F8Class::PosInf,
        DType::F8E5M2 if b == 0xfc => F8Class::NegInf,
        DType::F8E8M0 if b == 0xff => F8Class::Nan,
        _ => F8Class::Finite,
    }
}

fn binary(r: &mut OpRegistry) {
    macro_rules! num_op {
        ($name:literal, $f:ident) => {
            r.add($name, |ctx, i| {
                let (a, b) = two(ctx, i)?;
                one(for_num!(a.dtype(), T => arith::<T>(a, &b, <T as Num>::$f)?))
            })
        };
    }
    num_op!("Add", add);
    num_op!("Sub", sub);
    num_op!("Mul", mul);
    num_op!("Div", div);

    macro_rules! int_op {
        ($name:literal, |$x:ident, $y:ident| $e:expr) => {
            r.add($name, |ctx, i| {
                let (a, b) = two(ctx, i)?;
                one(for_int!(a.dtype(), T => arith::<T>(a, &b, |$x, $y| $e)?))
            })
        };
    }
    int_op!("BitwiseAnd", |x, y| x & y);
    int_op!("BitwiseOr", |x, y| x | y);
    int_op!("BitwiseXor", |x, y| x ^ y);

    macro_rules! bool_op {
        ($name:literal, |$x:ident, $y:ident| $e:expr) => {
            r.add($name, |ctx, i| {
                let (a, b) = two(ctx, i)?;
                one(compare::<bool>(a, &b, |&$x, &$y| $e)?)
            })
        };
    }
    bool_op!("And", |x, y| x && y);
    bool_op!("Or", |x, y| x || y);
    bool_op!("Xor", |x, y| x != y);

    macro_rules! cmp_op {
        ($name:literal, |$x:ident, $y:ident| $e:expr) => {
            r.add($name, |ctx, i| {
                let (a, b) = two(ctx, i)?;
                one(for_elem!(a.dtype(), T => compare::<T>(a, &b, |$x, $y| $e)?))
            })
        };
    }
    cmp_op!("Equal", |x, y| x == y);
    cmp_op!("Less", |x, y| x < y);
    cmp_op!("LessOrEqual", |x, y| x <= y);
    cmp_op!("Greater", |x, y| x > y);
    cmp_op!("GreaterOrEqual", |x, y| x >= y);
}

/// Pow: the exponent may be any numeric type; integer exponents of float
/// bases and all exponents of integer bases are applied through
/// [`Num::pow_int`] / [`Num::pow_float`], and the result has the base's type.
fn pow(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = two(ctx, inputs)?;
    let b: &Tensor = &b;
    // The common float cases stay in their own precision.
    match (a, b) {
        // Squaring (variance in decomposed normalizations) is the hot case;
        // x * x is exactly what powf(x, 2) rounds to.
        (Tensor::F32(x), Tensor::F32(y)) if y.len() == 1 && y.ndim() <= x.ndim() && y.iter().all(|&e| e == 2.0) => {
            return one(Tensor::F32(x.mapv(|v| v * v)));
        }
        (Tensor::F32(x), Tensor::F32(y)) => return one(Tensor::F32(zip2(x, y, |p, q| p.powf(*q))?)),
        (Tensor::F64(x), Tensor::F64(y)) => return one(Tensor::F64(zip2(x, y, |p, q| p.powf(*q))?)),
        _ => {}
    }
    let out = match b.dtype() {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            let e = for_float!(b.dtype(), E => arr::<E>(b)?.mapv(<E as Num>::to_f64));
            for_num!(a.dtype(), T => T::wrap(zip2(arr::<T>(a)?, &e, |p, q| p.pow_float(*q))?))
        }
        _ => {
            let e = for_int!(b.dtype(), E => arr::<E>(b)?.mapv(Int::exponent));
            for_num!(a.dtype(), T => T::wrap(zip2(arr::<T>(a)?, &e, |p, q| p.pow_int(*q))?))
        }
    };
    one(out)
}

/// Mod: `fmod=0` is numpy `mod` (sign of the divisor), `fmod=1` is C `fmod`.
fn modulo(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = two(ctx, inputs)?;
    let out = match ctx.int("fmod", 0)? {
        0 => for_num!(a.dtype(), T => arith::<T>(a, &b, T::rem_floor)?),
        1 => for_num!(a.dtype(), T => arith::<T>(a, &b, T::rem_trunc)?),
        f => bail!("fmod must be 0 or 1, got {f}"),
    };
    one(out)
}

/// BitShift by per-element amounts of the same type.
fn bit_shift(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = two(ctx, inputs)?;
    let left = match ctx.string("direction", "")?.as_str() {
        "LEFT" => true,
        "RIGHT" => false,
        d => bail!("direction must be LEFT or RIGHT, got '{d}'"),
    };
    one(for_int!(a.dtype(), T => arith::<T>(a, &b, |x, n| x.shift(n, left))?))
}

/// The variadic ops.
#[derive(Debug, Clone, Copy)]
enum Fold {
    Max,
    Min,
    Sum,
    Mean,
}

/// Max, Min, Sum, Mean over one or more broadcast inputs.
fn variadic(ctx: &Ctx<'_>, inputs: &[Option<&Value>], op: Fold) -> Result<Vec<Value>> {
    let ts = (0..inputs.len()).map(|i| ctx.input(inputs, i)).collect::<Result<Vec<_>>>()?;
    let Some(first) = ts.first() else { bail!("{op:?} needs at least one input") };
    fn fold<T: Num>(first: &Tensor, rest: &[&Tensor], f: impl Fn(T, T) -> T) -> Result<ArrayD<T>> {
        let mut acc = arr::<T>(first)?.clone();
        for t in rest {
            acc = fold_into(acc, arr::<T>(t)?, |x, y| f(*x, *y))?;
        }
        Ok(acc)
    }
    let rest = &ts[1..];
    let out = for_num!(first.dtype(), T => T::wrap(match op {
        Fold::Max => fold::<T>(first, rest, T::max_nan)?,
        Fold::Min => fold::<T>(first, rest, T::min_nan)?,
        Fold::Sum => fold::<T>(first, rest, <T as Num>::add)?,
        Fold::Mean => {
            // Like the reference: sum in the input type, then divide.
            let count = T::from_f64(ts.len() as f64);
            fold::<T>(first, rest, <T as Num>::add)?.mapv(|v| v.div(count))
        }
    }));
    one(out)
}

/// Where: X where the condition holds, else Y; X and Y of any one dtype.
fn where_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let c = arr::<bool>(ctx.input(inputs, 0)?)?;
    let x = ctx.input(inputs, 1)?;
    let y = ctx.input(inputs, 2)?;
    fn pick<T: Clone>(c: &ArrayD<bool>, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<T>> {
        let shape = crate::util::broadcast_all([c.shape(), x.shape(), y.shape()])?;
        let (vc, vx, vy) = (broadcast_view(c, &shape)?, broadcast_view(x, &shape)?, broadcast_view(y, &shape)?);
        Ok(Zip::from(&vc).and(&vx).and(&vy).map_collect(|&c, x, y| if c { x.clone() } else { y.clone() }))
    }
    let out = match (x, y) {
        (Tensor::I4(a), Tensor::I4(b)) => Tensor::I4(pick(c, a, b)?),
        (Tensor::U4(a), Tensor::U4(b)) => Tensor::U4(pick(c, a, b)?),
        (Tensor::F8(d, a), Tensor::F8(e, b)) if d == e => Tensor::F8(*d, pick(c, a, b)?),
        _ => for_elem!(x.dtype(), T => T::wrap(pick(c, arr::<T>(x)?, arr::<T>(y)?)?)),
    };
    one(out)
}

// ---------------------------------------------------------------------------
// Test support (shared with activation.rs).
// ---------------------------------------------------------------------------

#[cfg(test)]
pub(super) mod testing {
    use ir::{Attribute, Graph, Model, Node, ValueInfo};

    use crate::{Result, Tensor, Value};

    /// Runs one `op` node at `opset` on the given inputs (`None` = omitted)
    /// and returns its `n_out` outputs.
    pub(crate) fn run(
        op: &str,
        opset: i64,
        attrs: &[(&str, Attribute)],
        inputs: Vec<Option<Tensor>>,
        n_out: usize,
    ) -> Result<Vec<Tensor>> {
        let mut g = Graph::default();
        let mut node = Node::new(op, Vec::<String>::new(), (0..n_out).map(|i| format!("y{i}")));
        let mut feeds = Vec::new();
        for (i, t) in inputs.into_iter().enumerate() {
            match t {
                None => node.inputs.push(None),
                Some(t) => {
                    let name = format!("x{i}");
                    g.inputs.push(ValueInfo::untyped(name.clone()));
                    node.inputs.push(Some(name.clone()));
                    feeds.push((name, Value::Tensor(t)));
                }
            }
        }
        for (k, v) in attrs {
            node.attrs.insert((*k).to_string(), v.clone());
        }
        g.outputs = (0..n_out).map(|i| ValueInfo::untyped(format!("y{i}"))).collect();
        g.nodes.push(node);
        let mut m = Model::new(g);
        m.opset_imports.insert(String::new(), opset);
        crate::run(&m, feeds)?.into_iter().map(|(_, v)| v.into_tensor()).collect()
    }

    /// Runs a one-output node.
    pub(crate) fn run1(op: &str, opset: i64, attrs: &[(&str, Attribute)], inputs: Vec<Tensor>) -> Result<Tensor> {
        let mut out = run(op, opset, attrs, inputs.into_iter().map(Some).collect(), 1)?;
        Ok(out.remove(0))
    }

    /// A tensor of the given shape from typed data.
    pub(crate) fn t<T: super::Elem>(shape: &[usize], data: Vec<T>) -> Tensor {
        T::wrap(crate::array(shape, data).unwrap())
    }

    /// Asserts `got` (any float or integer tensor) is close to `want`
    /// (rtol 1e-5 plus atol 1e-6; NaN matches NaN).
    pub(crate) fn close(got: &Tensor, want: &[f64]) {
        let g = got.to_f64_vec().unwrap();
        assert_eq!(g.len(), want.len(), "element count of {got:?}");
        for (i, (&a, &b)) in g.iter().zip(want).enumerate() {
            let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 + 1e-5 * b.abs();
            assert!(ok, "element {i}: got {a}, want {b} (all: {g:?})");
        }
    }
}

#[cfg(test)]
mod tests {
    use ir::Attribute;

    use super::testing::{close, run, run1, t};
    use super::*;

    #[test]
    fn erf32_matches_erf64_to_f32_rounding() {
        let mut worst = 0u64;
        for i in 0..200_000 {
            let x = (i as f32 - 100_000.0) * 6e-5;
            let (got, want) = (erf32(x), erf64(f64::from(x)) as f32);
            worst = worst.max((i64::from(got.to_bits()) - i64::from(want.to_bits())).unsigned_abs());
        }
        assert!(worst <= 1, "erf32 is {worst} ulp away from the correctly rounded value");
        assert_eq!(erf32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(erf32(4.0), 1.0);
        assert!(erf32(f32::NAN).is_nan());
    }

    #[test]
    fn unary_math() {
        let x = t(&[4], vec![-1.5f32, -0.5, 0.5, 2.5]);
        close(&run1("Round", 22, &[], vec![x.clone()]).unwrap(), &[-2.0, -0.0, 0.0, 2.0]);
        close(&run1("Abs", 13, &[], vec![x.clone()]).unwrap(), &[1.5, 0.5, 0.5, 2.5]);
        close(&run1("Sign", 13, &[], vec![t(&[3], vec![-3.0f32, 0.0, f32::NAN])]).unwrap(), &[-1.0, 0.0, f64::NAN]);
        close(&run1("Sign", 13, &[], vec![t(&[3], vec![-3i64, 0, 9])]).unwrap(), &[-1.0, 0.0, 1.0]);
        assert_eq!(run1("Abs", 13, &[], vec![t(&[1], vec![i8::MIN])]).unwrap(), t(&[1], vec![i8::MIN]));
        assert_eq!(run1("Neg", 13, &[], vec![t(&[2], vec![3i32, -4])]).unwrap(), t(&[2], vec![-3i32, 4]));
        // numpy: np.float16 results of exp/sqrt.
        let h = Tensor::F16(crate::array(&[2], vec![f16::from_f32(1.0), f16::from_f32(2.0)]).unwrap());
        close(&run1("Exp", 13, &[], vec![h]).unwrap(), &[2.71875, 7.390625]);
        assert!(run1("Exp", 13, &[], vec![t(&[1], vec![1i32])]).is_err());
    }

    #[test]
    fn erf_matches_scipy() {
        // math.erf on these points.
        let xs = [-7.0, -3.0, -2.6, -1.0, -1e-9, 0.0, 0.3, 1.5, 2.4, 2.5, 4.0, 5.9];
        let want = [
            -1.0,
            -0.9999779095030014,
            -0.9997639655834707,
            -0.8427007929497149,
            -1.1283791670955126e-09,
            0.0,
            0.3286267594591274,
            0.9661051464753108,
            0.999311486103355,
            0.999593047982555,
            0.9999999845827421,
            1.0,
        ];
        for (x, w) in xs.iter().zip(want) {
            let got = erf64(*x);
            assert!((got - w).abs() <= 1e-15 + 1e-14 * w.abs(), "erf({x}) = {got}, want {w}");
        }
        assert!(erf64(f64::NAN).is_nan());
    }

    #[test]
    fn is_nan_is_inf() {
        let x = t(&[4], vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0]);
        assert_eq!(run1("IsNaN", 20, &[], vec![x.clone()]).unwrap(), t(&[4], vec![true, false, false, false]));
        assert_eq!(
            run1("IsInf", 20, &[("detect_negative", Attribute::Int(0))], vec![x]).unwrap(),
            t(&[4], vec![false, true, false, false])
        );
        let f8 = Tensor::F8(DType::F8E5M2, crate::array(&[4], vec![0x7c, 0xfc, 0x7e, 0x3c]).unwrap());
        assert_eq!(run1("IsInf", 20, &[], vec![f8.clone()]).unwrap(), t(&[4], vec![true, true, false, false]));
        assert_eq!(run1("IsNaN", 20, &[], vec![f8]).unwrap(), t(&[4], vec![false, false, true, false]));
        let f8 = Tensor::F8(DType::F8E4M3FN, crate::array(&[3], vec![0x7f, 0xff, 0x7e]).unwrap());
        assert_eq!(run1("IsNaN", 20, &[], vec![f8]).unwrap(), t(&[3], vec![true, true, false]));
    }

    #[test]
    fn arithmetic_broadcasts() {
        let a = t(&[2, 3], vec![1f32, 2., 3., 4., 5., 6.]);
        let b = t(&[3], vec![10f32, 20., 30.]);
        close(&run1("Add", 14, &[], vec![a.clone(), b.clone()]).unwrap(), &[11., 22., 33., 14., 25., 36.]);
        close(&run1("Sub", 14, &[], vec![a.clone(), b.clone()]).unwrap(), &[-9., -18., -27., -6., -15., -24.]);
        assert!(run1("Add", 14, &[], vec![a.clone(), t(&[2], vec![1f32, 2.])]).is_err());
        assert!(run1("Add", 14, &[], vec![a.clone(), t(&[3], vec![1i32, 2, 3])]).is_err());
        // Opset 6: B aligned with A at axis 0.
        let legacy = [("broadcast", Attribute::Int(1)), ("axis", Attribute::Int(0))];
        close(&run1("Mul", 6, &legacy, vec![a, t(&[2], vec![1f32, 10.])]).unwrap(), &[1., 2., 3., 40., 50., 60.]);
        // Wrapping integer arithmetic.
        assert_eq!(
            run1("Add", 14, &[], vec![t(&[1], vec![127i8]), t(&[1], vec![1i8])]).unwrap(),
            t(&[1], vec![-128i8])
        );
    }

    #[test]
    fn integer_div_and_mod() {
        // onnx reference: Div truncates; np.mod / np.fmod for Mod.
        let a = t(&[4], vec![7i32, -7, 7, -7]);
        let b = t(&[4], vec![2i32, 2, -2, -2]);
        assert_eq!(run1("Div", 14, &[], vec![a.clone(), b.clone()]).unwrap(), t(&[4], vec![3, -3, -3, 3]));
        assert_eq!(run1("Mod", 13, &[], vec![a.clone(), b.clone()]).unwrap(), t(&[4], vec![1, 1, -1, -1]));
        let fm = [("fmod", Attribute::Int(1))];
        assert_eq!(run1("Mod", 13, &fm, vec![a.clone(), b.clone()]).unwrap(), t(&[4], vec![1, -1, 1, -1]));
        assert_eq!(run1("Div", 14, &[], vec![a, t(&[1], vec![0i32])]).unwrap(), t(&[4], vec![0, 0, 0, 0]));
        // np.mod(np.array([-4., 7., 0., 3.]), np.array([3., -3., -2., inf])) = [2, -2, -0, 3]
        let x = t(&[4], vec![-4f64, 7., 0., 3.]);
        let y = t(&[4], vec![3f64, -3., -2., f64::INFINITY]);
        let m = run1("Mod", 28, &[], vec![x.clone(), y.clone()]).unwrap();
        close(&m, &[2., -2., 0., 3.]);
        let Tensor::F64(m) = m else { panic!() };
        assert!(m[2].is_sign_negative());
        close(&run1("Mod", 28, &fm, vec![x, y]).unwrap(), &[-1., 1., 0., 3.]);
    }

    #[test]
    fn pow_mixed_types() {
        let base = t(&[3], vec![2f32, 3., 4.]);
        close(&run1("Pow", 15, &[], vec![base.clone(), t(&[1], vec![2i64])]).unwrap(), &[4., 9., 16.]);
        close(
            &run1("Pow", 15, &[], vec![base, t(&[3], vec![0.5f32, 2., -1.])]).unwrap(),
            &[std::f64::consts::SQRT_2, 9., 0.25],
        );
        // np.power(np.array([2, 3, -1], np.int64), np.array([3, 0, 5])) = [8, 1, -1]
        let ib = t(&[3], vec![2i64, 3, -1]);
        assert_eq!(
            run1("Pow", 15, &[], vec![ib.clone(), t(&[3], vec![3i32, 0, 5])]).unwrap(),
            t(&[3], vec![8i64, 1, -1])
        );
        // (np.power(ib, np.float32(0.5))).astype(np.int64) = [1, 1, nan→MIN]; nan is cast saturating here.
        assert_eq!(
            run1("Pow", 15, &[], vec![t(&[2], vec![4i32, 9]), t(&[1], vec![0.5f32])]).unwrap(),
            t(&[2], vec![2i32, 3])
        );
        assert_eq!(run1("Pow", 15, &[], vec![ib, t(&[1], vec![-1i64])]).unwrap(), t(&[3], vec![0i64, 0, -1]));
    }

    #[test]
    fn bit_ops() {
        let x = t(&[4], vec![-8i8, 1, 64, -1]);
        let n = t(&[4], vec![1i8, 7, 1, 8]);
        let left = [("direction", Attribute::String("LEFT".into()))];
        let right = [("direction", Attribute::String("RIGHT".into()))];
        // BitShift-28 reference: LEFT [-16, -128, -128, 0]; RIGHT [-4, 0, 32, -1].
        assert_eq!(
            run1("BitShift", 28, &left, vec![x.clone(), n.clone()]).unwrap(),
            t(&[4], vec![-16i8, -128, -128, 0])
        );
        assert_eq!(run1("BitShift", 28, &right, vec![x, n]).unwrap(), t(&[4], vec![-4i8, 0, 32, -1]));
        let u = t(&[2], vec![0b1100u8, 0b1010]);
        let v = t(&[1], vec![0b0110u8]);
        assert_eq!(run1("BitwiseAnd", 18, &[], vec![u.clone(), v.clone()]).unwrap(), t(&[2], vec![0b0100u8, 0b0010]));
        assert_eq!(run1("BitwiseOr", 18, &[], vec![u.clone(), v.clone()]).unwrap(), t(&[2], vec![0b1110u8, 0b1110]));
        assert_eq!(run1("BitwiseXor", 18, &[], vec![u.clone(), v]).unwrap(), t(&[2], vec![0b1010u8, 0b1100]));
        assert_eq!(run1("BitwiseNot", 18, &[], vec![u]).unwrap(), t(&[2], vec![0b1111_0011u8, 0b1111_0101]));
        assert!(run1("BitwiseNot", 18, &[], vec![t(&[1], vec![1f32])]).is_err());
    }

    #[test]
    fn logic_and_comparison() {
        let p = t(&[2, 2], vec![true, true, false, false]);
        let q = t(&[2], vec![true, false]);
        assert_eq!(
            run1("And", 7, &[], vec![p.clone(), q.clone()]).unwrap(),
            t(&[2, 2], vec![true, false, false, false])
        );
        assert_eq!(run1("Or", 7, &[], vec![p.clone(), q.clone()]).unwrap(), t(&[2, 2], vec![true, true, true, false]));
        assert_eq!(
            run1("Xor", 7, &[], vec![p.clone(), q.clone()]).unwrap(),
            t(&[2, 2], vec![false, true, true, false])
        );
        assert_eq!(run1("Not", 1, &[], vec![q.clone()]).unwrap(), t(&[2], vec![false, true]));
        assert_eq!(run1("Equal", 19, &[], vec![p, q]).unwrap(), t(&[2, 2], vec![true, false, false, true]));
        let s = t(&[2], vec!["a".to_string(), "b".to_string()]);
        let s1 = t(&[1], vec!["b".to_string()]);
        assert_eq!(run1("Equal", 19, &[], vec![s, s1]).unwrap(), t(&[2], vec![false, true]));
        let a = t(&[3], vec![1f32, f32::NAN, 3.]);
        let b = t(&[3], vec![2f32, 2., 3.]);
        assert_eq!(run1("Less", 13, &[], vec![a.clone(), b.clone()]).unwrap(), t(&[3], vec![true, false, false]));
        assert_eq!(run1("LessOrEqual", 16, &[], vec![a.clone(), b.clone()]).unwrap(), t(&[3], vec![true, false, true]));
        assert_eq!(run1("Greater", 13, &[], vec![a.clone(), b.clone()]).unwrap(), t(&[3], vec![false, false, false]));
        assert_eq!(run1("GreaterOrEqual", 16, &[], vec![a, b]).unwrap(), t(&[3], vec![false, false, true]));
    }

    #[test]
    fn variadic_ops() {
        let a = t(&[3], vec![3f32, 2., 1.]);
        let b = t(&[3], vec![1f32, 3., 4.]);
        let c = t(&[3], vec![2f32, 5., 0.]);
        close(&run1("Max", 13, &[], vec![a.clone(), b.clone(), c.clone()]).unwrap(), &[3., 5., 4.]);
        close(&run1("Min", 13, &[], vec![a.clone(), b.clone(), c.clone()]).unwrap(), &[1., 2., 0.]);
        close(&run1("Sum", 13, &[], vec![a.clone(), b.clone(), c.clone()]).unwrap(), &[6., 10., 5.]);
        close(&run1("Mean", 13, &[], vec![a.clone(), b, c]).unwrap(), &[2., 3.33333333, 1.66666667]);
        close(&run1("Sum", 13, &[], vec![a.clone()]).unwrap(), &[3., 2., 1.]);
        // Broadcasting that grows the accumulator.
        close(&run1("Max", 13, &[], vec![t(&[1], vec![2f32]), a]).unwrap(), &[3., 2., 2.]);
        close(
            &run1("Max", 13, &[], vec![t(&[2], vec![1f32, f32::NAN]), t(&[1], vec![2f32])]).unwrap(),
            &[2., f64::NAN],
        );
        assert_eq!(
            run1("Min", 13, &[], vec![t(&[2], vec![5u8, 1]), t(&[2], vec![3u8, 4])]).unwrap(),
            t(&[2], vec![3u8, 1])
        );
    }

    #[test]
    fn where_any_type() {
        let c = t(&[2, 2], vec![true, false, true, true]);
        let x = t(&[2], vec!["x0".to_string(), "x1".to_string()]);
        let y = t(&[2, 2], vec!["a".to_string(), "b".to_string(), "c".to_string(), "d".to_string()]);
        let want: Vec<String> = ["x0", "b", "x0", "x1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(run1("Where", 16, &[], vec![c.clone(), x, y]).unwrap(), t(&[2, 2], want));
        let out = run1("Where", 16, &[], vec![c, t(&[1], vec![1i64]), t(&[1], vec![0i64])]).unwrap();
        assert_eq!(out, t(&[2, 2], vec![1i64, 0, 1, 1]));
        assert!(
            run(
                "Where",
                16,
                &[],
                vec![Some(t(&[1], vec![true])), Some(t(&[1], vec![1i64])), Some(t(&[1], vec![1i32]))],
                1
            )
            .is_err()
        );
    }
}
