//! Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare,
//! ArgMax/ArgMin, CumSum and TopK.
//!
//! Opset history: the Reduce* ops take `axes` as an attribute until they move
//! it to an optional input (ReduceSum at 13, the others at 18) together with
//! `noop_with_empty_axes`; ReduceMax/Min accept bool from 20; ReduceLogSum and
//! ReduceLogSumExp drop integer types at 28. ArgMax/ArgMin gain
//! `select_last_index` at 12. TopK reads `k` from an attribute before 10 and
//! from an input after, and gains `largest`/`sorted` at 11.
//!
//! Every reduction runs on the input's contiguous buffer: adjacent reduced (or
//! kept) axes are merged, then each run of reduced axes is folded either along
//! contiguous rows (innermost) or row by row into an accumulator slice (when
//! kept axes follow), so no per-element index arithmetic is done. Floats
//! accumulate in f64; integers wrap like numpy's fixed-width arithmetic.

use std::cmp::Ordering;

use half::{bf16, f16};
use ndarray::ArrayD;

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the reduction ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("ReduceSum", |c, i| reduce(c, i, Kind::Sum));
    r.add("ReduceMean", |c, i| reduce(c, i, Kind::Mean));
    r.add("ReduceMax", |c, i| reduce(c, i, Kind::Max));
    r.add("ReduceMin", |c, i| reduce(c, i, Kind::Min));
    r.add("ReduceProd", |c, i| reduce(c, i, Kind::Prod));
    r.add("ReduceL1", |c, i| reduce(c, i, Kind::L1));
    r.add("ReduceL2", |c, i| reduce(c, i, Kind::L2));
    r.add("ReduceLogSum", |c, i| reduce(c, i, Kind::LogSum));
    r.add("ReduceLogSumExp", |c, i| reduce(c, i, Kind::LogSumExp));
    r.add("ReduceSumSquare", |c, i| reduce(c, i, Kind::SumSquare));
    r.add("ArgMax", |c, i| arg_reduce(c, i, true));
    r.add("ArgMin", |c, i| arg_reduce(c, i, false));
    r.add("CumSum", cumsum);
    r.add("TopK", topk);
}

// ---------------------------------------------------------------------------
// Element types.

/// Accumulator arithmetic: f64 for float inputs, wrapping for integer ones.
pub(super) trait Accum: Copy {
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Sum (wrapping for integers).
    fn add(self, o: Self) -> Self;
    /// Product (wrapping for integers).
    fn mul(self, o: Self) -> Self;
    /// Absolute value (wrapping for integers).
    fn abs(self) -> Self;
    /// Division by an element count (truncating for integers, 0 when `n` is 0).
    fn div_n(self, n: usize) -> Self;
    /// As f64, for sqrt and log.
    fn to_f64(self) -> f64;
}

impl Accum for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn div_n(self, n: usize) -> Self {
        self / n as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
}

macro_rules! int_accum {
    ($($t:ty),*) => {$(
        impl Accum for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[allow(unused_comparisons)]
            fn abs(self) -> Self {
                if self < 0 { (0 as $t).wrapping_sub(self) } else { self }
            }
            fn div_n(self, n: usize) -> Self {
                // `n as $t` may wrap for huge counts; checked_div avoids a panic on 0 or MIN/-1.
                self.checked_div(n as $t).unwrap_or(0)
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
int_accum!(i8, i16, i32, i64, u8, u16, u32, u64);

/// A numeric element type the reductions and normalizations compute on.
pub(super) trait Elem: Copy + PartialOrd + Send + Sync + 'static {
    /// The accumulator for sums and products.
    type Acc: Accum;
    /// The smallest value (-inf for floats): the identity of max.
    const LOWEST: Self;
    /// The largest value (+inf for floats): the identity of min.
    const HIGHEST: Self;
    /// Converts to the accumulator.
    fn acc(self) -> Self::Acc;
    /// Converts back from the accumulator.
    fn from_acc(a: Self::Acc) -> Self;
    /// As f64.
    fn to_f64(self) -> f64;
    /// From f64 (rounding for floats, saturating for integers).
    fn from_f64(v: f64) -> Self;
    /// Whether this is a NaN (never for integers).
    fn is_nan(self) -> bool;
    /// Wraps an array of this type in its tensor variant.
    fn wrap(a: ArrayD<Self>) -> Tensor;
}

macro_rules! float_elem {
    ($($t:ty => $v:ident, $to:expr, $from:expr);*) => {$(
        impl Elem for $t {
            type Acc = f64;
            const LOWEST: Self = <$t>::NEG_INFINITY;
            const HIGHEST: Self = <$t>::INFINITY;
            fn acc(self) -> f64 {
                $to(self)
            }
            fn from_acc(a: f64) -> Self {
                $from(a)
            }
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn from_f64(v: f64) -> Self {
                $from(v)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn wrap(a: ArrayD<Self>) -> Tensor {
                Tensor::$v(a)
            }
        }
    )*};
}
float_elem!(
    f32 => F32, f64::from, |v| v as f32;
    f64 => F64, |v| v, |v| v;
    f16 => F16, f16::to_f64, f16::from_f64;
    bf16 => BF16, bf16::to_f64, bf16::from_f64
);

macro_rules! int_elem {
    ($($t:ty => $v:ident),*) => {$(
        impl Elem for $t {
            type Acc = $t;
            const LOWEST: Self = <$t>::MIN;
            const HIGHEST: Self = <$t>::MAX;
            fn acc(self) -> $t {
                self
            }
            fn from_acc(a: $t) -> Self {
                a
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
            fn wrap(a: ArrayD<Self>) -> Tensor {
                Tensor::$v(a)
            }
        }
    )*};
}
int_elem!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32, u64 => U64);

/// Runs `$e` with `$a` bound to the array of a numeric tensor (any `Elem`);
/// other dtypes return an error naming `$what`.
macro_rules! with_num {
    ($t:expr, $what:expr, $a:ident => $e:expr) => {
        match $t {
            Tensor::F32($a) => $e,
            Tensor::F64($a) => $e,
            Tensor::F16($a) => $e,
            Tensor::BF16($a) => $e,
            Tensor::I8($a) => $e,
            Tensor::I16($a) => $e,
            Tensor::I32($a) => $e,
            Tensor::I64($a) => $e,
            Tensor::U8($a) => $e,
            Tensor::U16($a) => $e,
            Tensor::U32($a) => $e,
            Tensor::U64($a) => $e,
            other => $crate::bail!("{} does not support {} inputs", $what, other.dtype()),
        }
    };
}

/// Runs `$e` with `$a` bound to the array of a float tensor; other dtypes
/// return an error naming `$what`.
macro_rules! with_float {
    ($t:expr, $what:expr, $a:ident => $e:expr) => {
        match $t {
            Tensor::F32($a) => $e,
            Tensor::F64($a) => $e,
            Tensor::F16($a) => $e,
            Tensor::BF16($a) => $e,
            other => $crate::bail!("{} does not support {} inputs (float types only)", $what, other.dtype()),
        }
    };
}
pub(super) use {with_float, with_num};

// ---------------------------------------------------------------------------
// The reduction engine.

/// The contiguous elements of `a` (copied only when `a` is not in standard layout).
pub(super) fn contiguous<T: Clone>(a: &ArrayD<T>) -> std::borrow::Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Folds a contiguous row into four independent accumulators merged at the
/// end: breaks the dependency chain of sequential float adds (4x throughput)
/// and is valid because `merge` is associative for every reduction here.
pub(super) fn fold_row<X: Copy, A: Copy>(row: &[X], ident: A, f: &impl Fn(A, X) -> A, merge: &impl Fn(A, A) -> A) -> A {
    let chunks = row.chunks_exact(4);
    let rest = chunks.remainder();
    let mut acc = [ident; 4];
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = f(*a, x);
        }
    }
    let a = merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]));
    rest.iter().fold(a, |a, &x| f(a, x))
}

/// Folds `data`, viewed as `[outer, r, inner]`, over its middle axis.
fn stage<X: Copy, A: Copy>(
    data: &[X],
    (outer, r, inner): (usize, usize, usize),
    ident: A,
    f: &impl Fn(A, X) -> A,
    merge: &impl Fn(A, A) -> A,
) -> Vec<A> {
    if outer == 0 || r == 0 || inner == 0 {
        return vec![ident; outer * inner];
    }
    if inner == 1 {
        // Innermost reduction: one fold per contiguous row.
        return data.chunks_exact(r).map(|row| fold_row(row, ident, f, merge)).collect();
    }
    // Kept axes follow: fold whole rows into a slice of accumulators.
    let mut out = vec![ident; outer * inner];
    for (block, acc) in data.chunks_exact(r * inner).zip(out.chunks_exact_mut(inner)) {
        for row in block.chunks_exact(inner) {
            for (a, &x) in acc.iter_mut().zip(row) {
                *a = f(*a, x);
            }
        }
    }
    out
}

/// Merges adjacent runs of reduced / kept axes, dropping size-1 axes (they
/// change no layout); each run is (size, reduced).
pub(super) fn runs(shape: &[usize], mask: &[bool]) -> Vec<(usize, bool)> {
    let mut out: Vec<(usize, bool)> = Vec::new();
    for (&d, &m) in shape.iter().zip(mask) {
        if d == 1 {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 == m => last.0 *= d,
            _ => out.push((d, m)),
        }
    }
    out
}

/// Reduces `data` (of `shape`, standard layout) over the axes flagged in
/// `mask`. `fold` adds an element to an accumulator, `merge` combines two
/// accumulators (used when several runs of axes are reduced in turn) and
/// `ident` is the accumulator of an empty set. Returns one accumulator per
/// output element, in the order of the kept axes.
pub(super) fn reduce_raw<T: Copy, A: Copy>(
    data: &[T],
    shape: &[usize],
    mask: &[bool],
    ident: A,
    fold: impl Fn(A, T) -> A,
    merge: impl Fn(A, A) -> A,
) -> Vec<A> {
    let kept: usize = shape.iter().zip(mask).filter(|p| !*p.1).map(|p| *p.0).product();
    if data.is_empty() {
        return vec![ident; kept];
    }
    let mut groups = runs(shape, mask);
    let Some(g) = groups.iter().rposition(|g| g.1) else {
        return data.iter().map(|&x| fold(ident, x)).collect();
    };
    let split = |groups: &[(usize, bool)], g: usize| {
        let outer: usize = groups[..g].iter().map(|g| g.0).product();
        let inner: usize = groups[g + 1..].iter().map(|g| g.0).product();
        (outer, groups[g].0, inner)
    };
    let mut acc = stage(data, split(&groups, g), ident, &fold, &merge);
    groups.remove(g);
    while let Some(g) = groups.iter().rposition(|g| g.1) {
        acc = stage(&acc, split(&groups, g), ident, &merge, &merge);
        groups.remove(g);
    }
    acc
}

/// NaN-propagating maximum (numpy's `maximum`).
fn max_nan<T: Elem>(a: T, x: T) -> T {
    if x > a || x.is_nan() { x } else { a }
}

/// NaN-propagating minimum (numpy's `minimum`).
fn min_nan<T: Elem>(a: T, x: T) -> T {
    if x < a || x.is_nan() { x } else { a }
}

/// Combines two partial log-sum-exps, each (max, sum of exp(x - max)). Stable
/// for infinities: equal maxima add without subtracting them.
fn lse_merge(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (hi, lo) = if a.0 >= b.0 {
        (a, b)
    } else if b.0 > a.0 {
        (b, a)
    } else {
        return (f64::NAN, f64::NAN);
    };
    let w = if hi.0 == lo.0 { 1.0 } else { (lo.0 - hi.0).exp() };
    (hi.0, hi.1 + lo.1 * w)
}

/// The reduction an op performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

/// The shape bookkeeping of one reduction.
#[derive(Debug)]
struct Plan {
    /// Which input axes are reduced.
    mask: Vec<bool>,
    /// The output shape (keepdims applied).
    out_shape: Vec<usize>,
    /// Elements per output element (the divisor of ReduceMean).
    count: usize,
}

impl Plan {
    fn new(shape: &[usize], mask: Vec<bool>, keepdims: bool) -> Plan {
        let mut out_shape = Vec::with_capacity(shape.len());
        let mut count = 1usize;
        for (&d, &m) in shape.iter().zip(&mask) {
            if m {
                count *= d;
                if keepdims {
                    out_shape.push(1);
                }
            } else {
                out_shape.push(d);
            }
        }
        Plan { mask, out_shape, count }
    }
}

/// Which axes a Reduce* node reduces, by opset: attribute or input, and
/// `noop_with_empty_axes` when axes are absent or empty.
fn reduce_mask(ctx: &Ctx<'_>, inputs: &[Option<&Value>], rank: usize) -> Result<Vec<bool>> {
    let from_input = ctx.opset >= 18 || (ctx.node.op == "ReduceSum" && ctx.opset >= 13);
    let (axes, noop) = if from_input {
        let axes = match ctx.opt_input(inputs, 1)? {
            Some(t) => {
                if t.rank() > 1 {
                    bail!("axes must be a 1-D tensor, got shape {:?}", t.shape());
                }
                t.to_i64_vec()?
            }
            // Some exporters keep the old `axes` attribute after it became an
            // input; honour it rather than silently reducing everything.
            None => ctx.ints("axes")?.unwrap_or_default(),
        };
        (axes, ctx.int("noop_with_empty_axes", 0)? != 0)
    } else {
        (ctx.ints("axes")?.unwrap_or_default(), false)
    };
    if axes.is_empty() {
        return Ok(vec![!noop; rank]);
    }
    let mut mask = vec![false; rank];
    for &a in &axes {
        let n = if a < 0 { a + rank as i64 } else { a };
        match usize::try_from(n).ok().and_then(|n| mask.get_mut(n)) {
            Some(m) if *m => bail!("axis {a} is listed twice among the {} axes", axes.len()),
            Some(m) => *m = true,
            None => bail!("axis {a} is out of range for rank {rank}"),
        }
    }
    Ok(mask)
}

/// Reduce* ops.
/// ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare.
fn reduce(ctx: &Ctx<'_>, inputs: &[Option<&Value>], kind: Kind) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let mask = reduce_mask(ctx, inputs, x.rank())?;
    let plan = Plan::new(x.shape(), mask, ctx.int("keepdims", 1)? != 0);
    let what = ctx.node.op.as_str();
    if let Tensor::Bool(a) = x {
        // Bool is allowed for ReduceMax/Min (from opset 20), ordered False < True.
        let data = contiguous(a);
        let out = match kind {
            Kind::Max => reduce_raw(&data, a.shape(), &plan.mask, false, |p, v| p | v, |p, q| p | q),
            Kind::Min => reduce_raw(&data, a.shape(), &plan.mask, true, |p, v| p & v, |p, q| p & q),
            _ => bail!("{what} does not support bool inputs"),
        };
        return Ok(vec![Tensor::Bool(array(&plan.out_shape, out)?).into()]);
    }
    if matches!(kind, Kind::LogSum | Kind::LogSumExp)
        && ctx.opset >= 28
        && !matches!(x, Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_))
    {
        bail!("{what} takes float inputs from opset 28, got {}", x.dtype());
    }
    let y = with_num!(x, what, a => reduce_typed(a, &plan, kind)?);
    Ok(vec![y.into()])
}

/// One reduction of a numeric tensor.
fn reduce_typed<T: Elem>(x: &ArrayD<T>, p: &Plan, kind: Kind) -> Result<Tensor> {
    let data = contiguous(x);
    let (shape, mask) = (x.shape(), p.mask.as_slice());
    let (zero, one) = (<T::Acc as Accum>::ZERO, <T::Acc as Accum>::ONE);
    // A sum of `$map(x)`; a macro so that `$map` is inlined into the fold.
    macro_rules! sum {
        ($map:expr) => {
            reduce_raw(&data, shape, mask, zero, |a, v: T| a.add($map(v.acc())), <T::Acc as Accum>::add)
        };
    }
    let out: Vec<T> = match kind {
        Kind::Sum => fin(sum!(|v| v), T::from_acc),
        Kind::Mean => fin(sum!(|v| v), |a| T::from_acc(a.div_n(p.count))),
        Kind::Max => reduce_raw(&data, shape, mask, T::LOWEST, max_nan, max_nan),
        Kind::Min => reduce_raw(&data, shape, mask, T::HIGHEST, min_nan, min_nan),
        Kind::Prod => fin(reduce_raw(&data, shape, mask, one, |a, v| a.mul(v.acc()), Accum::mul), T::from_acc),
        Kind::L1 => fin(sum!(Accum::abs), T::from_acc),
        Kind::L2 => fin(sum!(|v: T::Acc| v.mul(v)), |a| T::from_f64(a.to_f64().sqrt())),
        Kind::SumSquare => fin(sum!(|v: T::Acc| v.mul(v)), T::from_acc),
        Kind::LogSum => fin(sum!(|v| v), |a| T::from_f64(a.to_f64().ln())),
        Kind::LogSumExp => fin(
            reduce_raw(&data, shape, mask, (f64::NEG_INFINITY, 0.0), |a, v| lse_merge(a, (v.to_f64(), 1.0)), lse_merge),
            |(m, s)| T::from_f64(m + s.ln()),
        ),
    };
    Ok(T::wrap(array(&p.out_shape, out)?))
}

/// Finishes accumulators into output elements.
fn fin<A, T>(v: Vec<A>, f: impl Fn(A) -> T) -> Vec<T> {
    v.into_iter().map(f).collect()
}

// ---------------------------------------------------------------------------
// ArgMax / ArgMin.

/// The sizes before, along and after `axis`.
pub(super) fn lanes(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// A validated axis in `[-rank, rank)`.
pub(super) fn check_axis(axis: i64, rank: usize) -> Result<usize> {
    let n = if axis < 0 { axis + rank as i64 } else { axis };
    match usize::try_from(n) {
        Ok(n) if n < rank => Ok(n),
        _ => bail!("axis {axis} is out of range for rank {rank}"),
    }
}

/// ArgMax / ArgMin.
fn arg_reduce(ctx: &Ctx<'_>, inputs: &[Option<&Value>], max: bool) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis = check_axis(ctx.int("axis", 0)?, x.rank())?;
    let keepdims = ctx.int("keepdims", 1)? != 0;
    let last = ctx.opset >= 12 && ctx.int("select_last_index", 0)? != 0;
    let what = ctx.node.op.as_str();
    let y = with_num!(x, what, a => match (max, last) {
        // NaN wins like numpy's argmax/argmin: the first NaN, or the last one
        // with select_last_index.
        (true, false) => arg_typed(a, axis, keepdims, |x, b| !b.is_nan() && (x.is_nan() || x > b))?,
        (true, true) => arg_typed(a, axis, keepdims, |x, b| x.is_nan() || (!b.is_nan() && x >= b))?,
        (false, false) => arg_typed(a, axis, keepdims, |x, b| !b.is_nan() && (x.is_nan() || x < b))?,
        (false, true) => arg_typed(a, axis, keepdims, |x, b| x.is_nan() || (!b.is_nan() && x <= b))?,
    });
    Ok(vec![Tensor::I64(y).into()])
}

/// Index of the best element along `axis`, where `better(x, best)` says
/// whether a later element replaces the current best.
fn arg_typed<T: Elem>(
    x: &ArrayD<T>,
    axis: usize,
    keepdims: bool,
    better: impl Fn(T, T) -> bool,
) -> Result<ArrayD<i64>> {
    let (outer, r, inner) = lanes(x.shape(), axis);
    if r == 0 {
        bail!("cannot take the index of an extreme over an empty axis (shape {:?})", x.shape());
    }
    let data = contiguous(x);
    let mut out = Vec::with_capacity(outer * inner);
    if inner == 1 {
        for row in data.chunks_exact(r) {
            let mut best = (row[0], 0usize);
            for (i, &v) in row.iter().enumerate().skip(1) {
                if better(v, best.0) {
                    best = (v, i);
                }
            }
            out.push(best.1 as i64);
        }
    } else if inner > 0 {
        for block in data.chunks_exact(r * inner) {
            let mut best: Vec<T> = block[..inner].to_vec();
            let mut idx = vec![0i64; inner];
            for (i, row) in block.chunks_exact(inner).enumerate().skip(1) {
                for ((b, j), &v) in best.iter_mut().zip(idx.iter_mut()).zip(row) {
                    if better(v, *b) {
                        *b = v;
                        *j = i as i64;
                    }
                }
            }
            out.extend(idx);
        }
    }
    let mut shape = x.shape().to_vec();
    if keepdims {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    array(&shape, out)
}

// ---------------------------------------------------------------------------
// CumSum.

/// CumSum.
fn cumsum(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let axis_t = ctx.input(inputs, 1)?;
    if !matches!(axis_t, Tensor::I32(_) | Tensor::I64(_)) || axis_t.len() != 1 || axis_t.rank() > 1 {
        bail!("axis must be a single int32/int64 value, got {} of shape {:?}", axis_t.dtype(), axis_t.shape());
    }
    let axis = check_axis(axis_t.scalar_i64()?, x.rank())?;
    let exclusive = ctx.int("exclusive", 0)? != 0;
    let reverse = ctx.int("reverse", 0)? != 0;
    let y = with_num!(x, "CumSum", a => cumsum_typed(a, axis, exclusive, reverse)?);
    Ok(vec![y.into()])
}

/// Inclusive or exclusive running sums along `axis`, forward or reversed.
fn cumsum_typed<T: Elem>(x: &ArrayD<T>, axis: usize, exclusive: bool, reverse: bool) -> Result<Tensor> {
    scan_typed(x, axis, exclusive, reverse, <T::Acc as Accum>::ZERO, Accum::add)
}

/// Inclusive or exclusive running folds along `axis` with `op` starting at
/// `init`, forward or reversed: CumSum (`add`, 0) and CumProd (`mul`, 1).
pub(super) fn scan_typed<T: Elem>(
    x: &ArrayD<T>,
    axis: usize,
    exclusive: bool,
    reverse: bool,
    init: T::Acc,
    op: fn(T::Acc, T::Acc) -> T::Acc,
) -> Result<Tensor> {
    let (_, r, inner) = lanes(x.shape(), axis);
    let data = contiguous(x);
    let mut out: Vec<T> = vec![T::from_acc(init); data.len()];
    if r > 0 && inner > 0 {
        let mut acc = vec![init; inner];
        for (src, dst) in data.chunks_exact(r * inner).zip(out.chunks_exact_mut(r * inner)) {
            acc.fill(init);
            let mut step = |i: usize| {
                let (s, d) = (&src[i * inner..(i + 1) * inner], &mut dst[i * inner..(i + 1) * inner]);
                for ((a, o), &v) in acc.iter_mut().zip(d).zip(s) {
                    if exclusive {
                        *o = T::from_acc(*a);
                        *a = op(*a, v.acc());
                    } else {
                        *a = op(*a, v.acc());
                        *o = T::from_acc(*a);
                    }
                }
            };
            if reverse {
                (0..r).rev().for_each(&mut step);
            } else {
                (0..r).for_each(&mut step);
            }
        }
    }
    Ok(T::wrap(array(x.shape(), out)?))
}

// ---------------------------------------------------------------------------
// TopK.

/// TopK.
fn topk(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let k = if ctx.opset < 10 {
        match ctx.node.attr("k") {
            Some(_) => ctx.int("k", 0)?,
            None => bail!("TopK before opset 10 needs the 'k' attribute"),
        }
    } else {
        let kt = ctx.input(inputs, 1)?;
        if kt.len() != 1 || kt.rank() > 1 {
            bail!("K must be a 1-D tensor with one element, got shape {:?}", kt.shape());
        }
        kt.scalar_i64()?
    };
    let axis = check_axis(ctx.int("axis", -1)?, x.rank())?;
    let largest = ctx.opset < 11 || ctx.int("largest", 1)? != 0;
    let dim = x.shape()[axis];
    let k = match usize::try_from(k) {
        Ok(k) if k <= dim => k,
        _ => bail!("k = {k} is out of range for axis {axis} of size {dim}"),
    };
    // `sorted = 0` leaves the order unspecified; sorted output is conformant.
    let (v, i) = with_num!(x, "TopK", a => topk_typed(a, axis, k, largest)?);
    Ok(vec![v.into(), Tensor::I64(i).into()])
}

/// Orders values with NaN above everything and all NaNs equal (numpy's sort order).
fn nan_last_cmp<T: Elem>(a: T, b: T) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The k best elements of each lane along `axis` and their indices, best first.
fn topk_typed<T: Elem>(x: &ArrayD<T>, axis: usize, k: usize, largest: bool) -> Result<(Tensor, ArrayD<i64>)> {
    let (outer, r, inner) = lanes(x.shape(), axis);
    let data = contiguous(x);
    let mut vals: Vec<T> = Vec::with_capacity(outer * k * inner);
    let mut idxs: Vec<i64> = Vec::with_capacity(outer * k * inner);
    if k > 0 && inner > 0 {
        let (mut gathered, mut order): (Vec<T>, Vec<usize>) = (Vec::with_capacity(r), Vec::with_capacity(r));
        // Output buffers in [k, inner] order, filled lane by lane for each outer index.
        let (mut ov, mut oi) = (vec![T::LOWEST; k * inner], vec![0i64; k * inner]);
        for block in data.chunks_exact(r * inner) {
            for j in 0..inner {
                let lane: &[T] = if inner == 1 {
                    block
                } else {
                    gathered.clear();
                    gathered.extend(block.iter().skip(j).step_by(inner));
                    &gathered
                };
                // Best first; ties go to the lower index, whichever direction.
                let cmp = |&a: &usize, &b: &usize| {
                    let o = nan_last_cmp(lane[a], lane[b]);
                    let o = if largest { o.reverse() } else { o };
                    o.then(a.cmp(&b))
                };
                // Whether a later element ranks before an earlier one: strictly
                // better, NaN above everything (the same order as `cmp`).
                let beats = |v: T, w: T| {
                    if largest { !w.is_nan() && (v.is_nan() || v > w) } else { !v.is_nan() && (w.is_nan() || v < w) }
                };
                order.clear();
                if k <= 16 && k < r {
                    // Small k: keep a sorted buffer; most elements lose to its
                    // worst entry after one comparison.
                    for i in 0..r {
                        if order.len() == k {
                            if order.last().is_some_and(|&w| beats(lane[i], lane[w])) {
                                order.pop();
                            } else {
                                continue;
                            }
                        }
                        let at = order.partition_point(|o| cmp(o, &i) == Ordering::Less);
                        order.insert(at, i);
                    }
                } else {
                    order.extend(0..r);
                    if k < r {
                        order.select_nth_unstable_by(k - 1, cmp);
                        order.truncate(k);
                    }
                    order.sort_unstable_by(cmp);
                }
                for (t, &i) in order.iter().enumerate() {
                    ov[t * inner + j] = lane[i];
                    oi[t * inner + j] = i as i64;
                }
            }
            vals.extend_from_slice(&ov);
            idxs.extend_from_slice(&oi);
        }
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = k;
    Ok((T::wrap(array(&shape, vals)?), array(&shape, idxs)?))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Session;
    use ir::{Graph, Model, Node, ValueInfo};

    /// Runs one node at `opset` on `inputs` (named i0, i1, ...; `None` = omitted).
    pub(crate) fn run_node(node: Node, opset: i64, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let mut node = node;
        let names: Vec<Option<String>> =
            inputs.iter().enumerate().map(|(i, t)| t.as_ref().map(|_| format!("i{i}"))).collect();
        node.inputs = names.clone();
        let outs = node.outputs.clone();
        let mut g = Graph::default();
        for n in names.iter().flatten() {
            g.inputs.push(ValueInfo::untyped(n.clone()));
        }
        for o in &outs {
            g.outputs.push(ValueInfo::untyped(o.clone()));
        }
        g.nodes.push(node);
        let mut m = Model::new(g);
        m.opset_imports.insert(String::new(), opset);
        let feeds = names.into_iter().zip(inputs).filter_map(|(n, t)| Some((n?, Value::Tensor(t?)))).collect();
        let res = Session::new(&m)?.run(feeds)?;
        res.into_iter().map(|(_, v)| v.into_tensor()).collect()
    }

    fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::f32(shape, v.to_vec()).unwrap()
    }

    fn i64s(shape: &[usize], v: &[i64]) -> Tensor {
        Tensor::i64(shape, v.to_vec()).unwrap()
    }

    fn close(t: &Tensor, shape: &[usize], want: &[f64]) {
        assert_eq!(t.shape(), shape, "shape");
        let got = t.to_f64_vec().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-5 + 1e-4 * w.abs();
            assert!(ok, "got {got:?}, want {want:?}");
        }
    }

    fn node(op: &str, outs: usize) -> Node {
        Node::new(op, Vec::<String>::new(), (0..outs).map(|i| format!("o{i}")))
    }

    /// x = np.arange(24).reshape(2,3,4) as float32 (and [5,1,20,2,30,1,40,2,2,1,60,2] for the
    /// small cases below).
    fn x234() -> Tensor {
        f32s(&[2, 3, 4], &(0..24).map(|v| v as f32).collect::<Vec<_>>())
    }

    #[test]
    fn reduce_sum_axes_input_and_attr() {
        // np.sum(x, axis=(0,2), keepdims=True) -> [[[60],[92],[124]]]
        let out = run_node(node("ReduceSum", 1), 13, vec![Some(x234()), Some(i64s(&[2], &[0, -1]))]).unwrap();
        close(&out[0], &[1, 3, 1], &[60., 92., 124.]);
        // Opset 11: axes attribute, keepdims=0; np.sum(x, axis=1)
        let n = node("ReduceSum", 1).with_attr("axes", vec![1i64]).with_attr("keepdims", 0i64);
        let out = run_node(n, 11, vec![Some(x234())]).unwrap();
        close(&out[0], &[2, 4], &[12., 15., 18., 21., 48., 51., 54., 57.]);
        // No axes: all; noop_with_empty_axes: identity.
        let out = run_node(node("ReduceSum", 1), 13, vec![Some(x234())]).unwrap();
        close(&out[0], &[1, 1, 1], &[276.]);
        let n = node("ReduceSum", 1).with_attr("noop_with_empty_axes", 1i64);
        let out = run_node(n, 13, vec![Some(x234()), Some(i64s(&[0], &[]))]).unwrap();
        assert_eq!(out[0], x234());
        // A stray `axes` attribute after axes became an input is still honoured.
        let n = node("ReduceSum", 1).with_attr("axes", vec![1i64]).with_attr("keepdims", 0i64);
        close(&run_node(n, 13, vec![Some(x234())]).unwrap()[0], &[2, 4], &[12., 15., 18., 21., 48., 51., 54., 57.]);
        // Duplicate or out-of-range axes are errors.
        assert!(run_node(node("ReduceSum", 1), 13, vec![Some(x234()), Some(i64s(&[2], &[1, -2]))]).is_err());
        assert!(run_node(node("ReduceSum", 1), 13, vec![Some(x234()), Some(i64s(&[1], &[3]))]).is_err());
    }

    #[test]
    fn reduce_kinds_middle_axis() {
        // x = [[[5,1],[20,2]],[[30,1],[40,2]],[[2,1],[60,2]]] (3,2,2), axes=[1], keepdims=1.
        let x = f32s(&[3, 2, 2], &[5., 1., 20., 2., 30., 1., 40., 2., 2., 1., 60., 2.]);
        let cases: [(&str, [f64; 6]); 9] = [
            ("ReduceMean", [12.5, 1.5, 35., 1.5, 31., 1.5]),
            ("ReduceMax", [20., 2., 40., 2., 60., 2.]),
            ("ReduceMin", [5., 1., 30., 1., 2., 1.]),
            ("ReduceProd", [100., 2., 1200., 2., 120., 2.]),
            ("ReduceL1", [25., 3., 70., 3., 62., 3.]),
            // np.sqrt(np.sum(x**2, axis=1, keepdims=True))
            ("ReduceL2", [20.615528, 2.236068, 50., 2.236068, 60.033325, 2.236068]),
            ("ReduceSumSquare", [425., 5., 2500., 5., 3604., 5.]),
            // np.log(np.sum(x, axis=1, keepdims=True))
            ("ReduceLogSum", [3.218876, 1.0986123, 4.248495, 1.0986123, 4.1271343, 1.0986123]),
            // np.log(np.sum(np.exp(x), axis=1, keepdims=True))
            ("ReduceLogSumExp", [20.00000031, 2.31326169, 40.0000454, 2.31326169, 60.0, 2.31326169]),
        ];
        for (op, want) in cases {
            let out = run_node(node(op, 1), 18, vec![Some(x.clone()), Some(i64s(&[1], &[1]))]).unwrap();
            close(&out[0], &[3, 1, 2], &want);
            // Same through the attribute form of opset 13.
            let n = node(op, 1).with_attr("axes", vec![1i64]);
            let out = run_node(n, 13, vec![Some(x.clone())]).unwrap();
            close(&out[0], &[3, 1, 2], &want);
        }
    }

    #[test]
    fn reduce_split_axes_and_noop_composites() {
        // np.max(x, axis=(0,2)) on arange(24).reshape(2,3,4) -> [15,19,23]; mean over (0,2).
        let n = node("ReduceMax", 1).with_attr("keepdims", 0i64);
        let out = run_node(n, 18, vec![Some(x234()), Some(i64s(&[2], &[2, 0]))]).unwrap();
        close(&out[0], &[3], &[15., 19., 23.]);
        let out = run_node(node("ReduceMean", 1), 18, vec![Some(x234()), Some(i64s(&[2], &[0, 2]))]).unwrap();
        close(&out[0], &[1, 3, 1], &[7.5, 11.5, 15.5]);
        // noop_with_empty_axes keeps the elementwise step: ReduceSumSquare squares, ReduceL1 takes abs.
        let x = f32s(&[3], &[-1., 2., -3.]);
        let n = node("ReduceSumSquare", 1).with_attr("noop_with_empty_axes", 1i64);
        close(&run_node(n, 18, vec![Some(x.clone())]).unwrap()[0], &[3], &[1., 4., 9.]);
        let n = node("ReduceL1", 1).with_attr("noop_with_empty_axes", 1i64);
        close(&run_node(n, 18, vec![Some(x)]).unwrap()[0], &[3], &[1., 2., 3.]);
    }

    #[test]
    fn reduce_empty_sets() {
        // Reducing axis 1 of a (2,0,4) tensor (test_reduce_*_empty_set): identities.
        let x = f32s(&[2, 0, 4], &[]);
        let cases = [
            ("ReduceSum", 0.),
            ("ReduceProd", 1.),
            ("ReduceMax", f64::NEG_INFINITY),
            ("ReduceMin", f64::INFINITY),
            ("ReduceL1", 0.),
            ("ReduceL2", 0.),
            ("ReduceSumSquare", 0.),
            ("ReduceLogSum", f64::NEG_INFINITY),
            ("ReduceLogSumExp", f64::NEG_INFINITY),
            ("ReduceMean", f64::NAN),
        ];
        for (op, want) in cases {
            let out = run_node(node(op, 1), 18, vec![Some(x.clone()), Some(i64s(&[1], &[1]))]).unwrap();
            close(&out[0], &[2, 1, 4], &[want; 8]);
        }
        let xi = Tensor::I32(array(&[0, 2], vec![]).unwrap());
        let out = run_node(node("ReduceMax", 1), 18, vec![Some(xi.clone()), Some(i64s(&[1], &[0]))]).unwrap();
        assert_eq!(out[0], Tensor::I32(array(&[1, 2], vec![i32::MIN; 2]).unwrap()));
        let out = run_node(node("ReduceMin", 1), 18, vec![Some(xi), Some(i64s(&[1], &[0]))]).unwrap();
        assert_eq!(out[0], Tensor::I32(array(&[1, 2], vec![i32::MAX; 2]).unwrap()));
        let xb = Tensor::Bool(array(&[2, 0], vec![]).unwrap());
        let out = run_node(node("ReduceMax", 1), 20, vec![Some(xb), Some(i64s(&[1], &[1]))]).unwrap();
        assert_eq!(out[0], Tensor::Bool(array(&[2, 1], vec![false; 2]).unwrap()));
    }

    #[test]
    fn reduce_ints_bool_nan() {
        // Integer mean truncates like np.mean(dtype=int32): [[1,2],[-1,-2]] -> [1, -1].
        let x = Tensor::I32(array(&[2, 2], vec![1, 2, -1, -2]).unwrap());
        let n = node("ReduceMean", 1).with_attr("keepdims", 0i64);
        let out = run_node(n, 18, vec![Some(x.clone()), Some(i64s(&[1], &[1]))]).unwrap();
        assert_eq!(out[0], Tensor::I32(array(&[2], vec![1, -1]).unwrap()));
        // Wrapping sum: np.sum(np.array([100, 100], np.int8), dtype=np.int8) == -56.
        let x = Tensor::I8(array(&[2], vec![100, 100]).unwrap());
        let out = run_node(node("ReduceSum", 1).with_attr("keepdims", 0i64), 13, vec![Some(x)]).unwrap();
        assert_eq!(out[0], Tensor::I8(array(&[], vec![-56]).unwrap()));
        // Bool max/min (test_reduce_max_bool_inputs): any / all along axis 1.
        let xb = Tensor::Bool(
            array(&[4, 3], vec![true, true, true, true, false, true, false, true, false, false, false, false]).unwrap(),
        );
        let out = run_node(node("ReduceMax", 1), 20, vec![Some(xb.clone()), Some(i64s(&[1], &[1]))]).unwrap();
        assert_eq!(out[0], Tensor::Bool(array(&[4, 1], vec![true, true, true, false]).unwrap()));
        let out = run_node(node("ReduceMin", 1), 20, vec![Some(xb), Some(i64s(&[1], &[1]))]).unwrap();
        assert_eq!(out[0], Tensor::Bool(array(&[4, 1], vec![true, false, false, false]).unwrap()));
        // NaN propagates through max like np.maximum.reduce.
        let x = f32s(&[3], &[1., f32::NAN, 3.]);
        let out = run_node(node("ReduceMax", 1), 18, vec![Some(x)]).unwrap();
        assert!(out[0].to_f64_vec().unwrap()[0].is_nan());
        // Integer LogSumExp is rejected from opset 28.
        let x = Tensor::I32(array(&[2], vec![1, 2]).unwrap());
        assert!(run_node(node("ReduceLogSumExp", 1), 28, vec![Some(x)]).is_err());
    }

    #[test]
    fn half_precision_types() {
        // Accumulated in f64, rounded once: mean(1, 2, 4) = 2.333.. -> bf16 2.328125, f16 2.333984375.
        let v = [1.0f32, 2.0, 4.0];
        let xb = Tensor::BF16(array(&[3], v.iter().map(|&x| half::bf16::from_f32(x)).collect()).unwrap());
        let out = run_node(node("ReduceMean", 1), 18, vec![Some(xb)]).unwrap();
        assert_eq!(out[0], Tensor::BF16(array(&[1], vec![half::bf16::from_f32(2.328125)]).unwrap()));
        let xh = Tensor::F16(array(&[3], v.iter().map(|&x| half::f16::from_f32(x)).collect()).unwrap());
        let out = run_node(node("ReduceMean", 1), 18, vec![Some(xh.clone())]).unwrap();
        assert_eq!(out[0], Tensor::F16(array(&[1], vec![half::f16::from_f64(2.333984375)]).unwrap()));
        let out = run_node(node("TopK", 2), 24, vec![Some(xh), Some(i64s(&[1], &[1]))]).unwrap();
        assert_eq!(out[1], i64s(&[1], &[2]));
    }

    #[test]
    fn log_sum_exp_is_stable() {
        // np.log(np.sum(np.exp(np.float64([1000, 1000, -inf])))) = 1000 + log(2); +inf stays +inf.
        let x = f32s(&[4], &[1000., 1000., f32::NEG_INFINITY, 0.]);
        let out = run_node(node("ReduceLogSumExp", 1), 18, vec![Some(x)]).unwrap();
        close(&out[0], &[1], &[1000.6931471805599]);
        let x = f32s(&[2], &[f32::INFINITY, 1.]);
        let out = run_node(node("ReduceLogSumExp", 1), 18, vec![Some(x)]).unwrap();
        close(&out[0], &[1], &[f64::INFINITY]);
    }

    #[test]
    fn argmax_argmin() {
        // data = [[2,2],[3,10]] (test_argmax_*_example): first / last index of the max.
        let x = f32s(&[2, 2], &[2., 2., 3., 10.]);
        let n = node("ArgMax", 1).with_attr("axis", 1i64);
        assert_eq!(run_node(n, 13, vec![Some(x.clone())]).unwrap()[0], i64s(&[2, 1], &[0, 1]));
        let n = node("ArgMax", 1).with_attr("axis", 1i64).with_attr("select_last_index", 1i64);
        assert_eq!(run_node(n, 13, vec![Some(x.clone())]).unwrap()[0], i64s(&[2, 1], &[1, 1]));
        let n = node("ArgMin", 1).with_attr("keepdims", 0i64);
        assert_eq!(run_node(n, 13, vec![Some(x)]).unwrap()[0], i64s(&[2], &[0, 0]));
        // Along a non-innermost axis of arange(24).reshape(2,3,4) with ties/NaN:
        // np.argmax(x, axis=1) -> all 2.
        let n = node("ArgMax", 1).with_attr("axis", -2i64).with_attr("keepdims", 0i64);
        assert_eq!(run_node(n, 13, vec![Some(x234())]).unwrap()[0], i64s(&[2, 4], &[2; 8]));
        // np.argmax([1, nan, 5, nan]) == 1; np.argmin gives 1 too; last-index variant gives 3.
        let x = f32s(&[4], &[1., f32::NAN, 5., f32::NAN]);
        assert_eq!(run_node(node("ArgMax", 1), 13, vec![Some(x.clone())]).unwrap()[0], i64s(&[1], &[1]));
        assert_eq!(run_node(node("ArgMin", 1), 13, vec![Some(x.clone())]).unwrap()[0], i64s(&[1], &[1]));
        let n = node("ArgMin", 1).with_attr("select_last_index", 1i64);
        assert_eq!(run_node(n, 13, vec![Some(x)]).unwrap()[0], i64s(&[1], &[3]));
        // select_last_index does not exist before opset 12.
        let x = Tensor::I32(array(&[3], vec![4, 4, 1]).unwrap());
        let n = node("ArgMax", 1).with_attr("select_last_index", 1i64);
        assert_eq!(run_node(n, 11, vec![Some(x)]).unwrap()[0], i64s(&[1], &[0]));
    }

    #[test]
    fn cumsum_modes() {
        let x = f32s(&[5], &[1., 2., 3., 4., 5.]);
        let ax = i64s(&[], &[0]);
        let cases = [
            (0, 0, [1., 3., 6., 10., 15.]),
            (1, 0, [0., 1., 3., 6., 10.]),
            (0, 1, [15., 14., 12., 9., 5.]),
            (1, 1, [14., 12., 9., 5., 0.]),
        ];
        for (ex, rev, want) in cases {
            let n = node("CumSum", 1).with_attr("exclusive", ex as i64).with_attr("reverse", rev as i64);
            close(&run_node(n, 14, vec![Some(x.clone()), Some(ax.clone())]).unwrap()[0], &[5], &want);
        }
        // 2-D along axis 0 (test_cumsum_2d_axis_0) and int32 with a negative axis.
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let out = run_node(node("CumSum", 1), 14, vec![Some(x), Some(ax)]).unwrap();
        close(&out[0], &[2, 3], &[1., 2., 3., 5., 7., 9.]);
        let x = Tensor::I32(array(&[2, 3], vec![1, 2, 3, 4, 5, 6]).unwrap());
        let ax = Tensor::I32(array(&[1], vec![-1]).unwrap());
        let out = run_node(node("CumSum", 1), 14, vec![Some(x), Some(ax)]).unwrap();
        assert_eq!(out[0], Tensor::I32(array(&[2, 3], vec![1, 3, 6, 4, 9, 15]).unwrap()));
    }

    #[test]
    fn topk_variants() {
        // test_top_k: X = arange(12).reshape(3,4), k=3 -> [[3,2,1],...].
        let x = f32s(&[3, 4], &(0..12).map(|v| v as f32).collect::<Vec<_>>());
        let out = run_node(node("TopK", 2), 11, vec![Some(x.clone()), Some(i64s(&[1], &[3]))]).unwrap();
        close(&out[0], &[3, 3], &[3., 2., 1., 7., 6., 5., 11., 10., 9.]);
        assert_eq!(out[1], i64s(&[3, 3], &[3, 2, 1, 3, 2, 1, 3, 2, 1]));
        // Smallest along axis 0, k as attribute (opset 1 style).
        let n = node("TopK", 2).with_attr("k", 2i64).with_attr("axis", 0i64);
        let out = run_node(n, 9, vec![Some(x)]).unwrap();
        close(&out[0], &[2, 4], &[8., 9., 10., 11., 4., 5., 6., 7.]);
        let n = node("TopK", 2).with_attr("largest", 0i64).with_attr("axis", 0i64);
        let x = f32s(&[3, 4], &(0..12).map(|v| v as f32).collect::<Vec<_>>());
        let out = run_node(n, 11, vec![Some(x), Some(i64s(&[1], &[2]))]).unwrap();
        assert_eq!(out[1], i64s(&[2, 4], &[0, 0, 0, 0, 1, 1, 1, 1]));
        // Ties go to the lower index; NaN ranks above everything (reference lexsort order).
        let x = f32s(&[5], &[1., f32::NAN, 3., 3., 0.]);
        let out = run_node(node("TopK", 2), 11, vec![Some(x.clone()), Some(i64s(&[1], &[3]))]).unwrap();
        assert_eq!(out[1], i64s(&[3], &[1, 2, 3]));
        let n = node("TopK", 2).with_attr("largest", 0i64);
        let out = run_node(n, 11, vec![Some(x.clone()), Some(i64s(&[1], &[5]))]).unwrap();
        assert_eq!(out[1], i64s(&[5], &[4, 0, 2, 3, 1]));
        // k out of range.
        assert!(run_node(node("TopK", 2), 11, vec![Some(x), Some(i64s(&[1], &[6]))]).is_err());
        // The small-k path and the select path agree (ties, NaN, both directions).
        let lane: Vec<f32> = (0..40).map(|i| if i % 13 == 5 { f32::NAN } else { ((i * 7) % 11) as f32 }).collect();
        let x = f32s(&[40], &lane);
        for largest in [0i64, 1] {
            let top = |k: i64| {
                let n = node("TopK", 2).with_attr("largest", largest);
                run_node(n, 11, vec![Some(x.clone()), Some(i64s(&[1], &[k]))]).unwrap()[1].to_i64_vec().unwrap()
            };
            assert_eq!(top(5), top(30)[..5]);
        }
    }
}
