//! Matrix products: Gemm, MatMul, MatMulInteger, QLinearMatMul, Einsum, Det.
//!
//! f32/f64 products run through `matrixmultiply`'s sgemm/dgemm on
//! contiguous buffers (transposes are expressed as strides); f16/bf16
//! compute in f32; integers accumulate with wrapping arithmetic (the spec
//! lets 32-bit accumulation overflow).
//!
//! Opset history: Gemm-7 makes C unidirectionally broadcast (Gemm-6's
//! `broadcast` attribute is gone), Gemm-9 adds integer types, Gemm-11 makes C
//! optional, Gemm-13 adds bf16. MatMul-9 adds integers, MatMul-13 bf16.
//! QLinearMatMul-21 adds f16/bf16 scales and the 8-bit float types.
//! Einsum-28 adds bf16. Det-22 adds bf16.

use half::{bf16, f16};
use ir::DType;
use ndarray::{ArrayD, ArrayViewD, Axis, Ix2, IxDyn};

use crate::ops::cast::{cast, f64_to_bf16, f64_to_f16};
use crate::ops::quant::requantize;
use crate::registry::{Ctx, OpRegistry};
use crate::util::{broadcast_shapes, broadcast_view, zip_map};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the matrix-product ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Gemm", gemm_op);
    r.add("MatMul", matmul_op);
    r.add("MatMulInteger", matmul_integer_op);
    r.add("QLinearMatMul", qlinear_matmul_op);
    r.add("Einsum", einsum_op);
    r.add("Det", det_op);
}

/// Element types with a matrix-product kernel. Integer arithmetic wraps.
pub(crate) trait Ring: Copy + Send + Sync + 'static {
    /// Additive identity.
    const ZERO: Self;
    /// Sum (wrapping for integers).
    fn add(self, o: Self) -> Self;
    /// `c = a·b (+ c when accumulate)`, with `a` m×k at strides (rsa, csa),
    /// `b` k×n at (rsb, csb) and `c` m×n row-major. Callers guarantee the
    /// slices cover the strided extents (checked by [`gemm`]).
    #[allow(clippy::too_many_arguments)]
    fn kernel(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
    );
}

macro_rules! blas_ring {
    ($t:ty, $f:path) => {
        impl Ring for $t {
            const ZERO: Self = 0.0;
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn kernel(
                m: usize,
                k: usize,
                n: usize,
                a: &[Self],
                sa: (usize, usize),
                b: &[Self],
                sb: (usize, usize),
                c: &mut [Self],
            ) {
                // SAFETY: `gemm` checked that every strided index of a, b
                // and c lies inside its slice; c does not alias a or b.
                unsafe {
                    $f(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        sa.0 as isize,
                        sa.1 as isize,
                        b.as_ptr(),
                        sb.0 as isize,
                        sb.1 as isize,
                        1.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}
blas_ring!(f32, matrixmultiply::sgemm);
blas_ring!(f64, matrixmultiply::dgemm);

macro_rules! int_ring {
    ($($t:ty),*) => {$(
        impl Ring for $t {
            const ZERO: Self = 0;
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn kernel(
                m: usize,
                k: usize,
                n: usize,
                a: &[Self],
                sa: (usize, usize),
                b: &[Self],
                sb: (usize, usize),
                c: &mut [Self],
            ) {
                // i-p-j order: the inner loop walks a row of b and of c.
                for (i, crow) in c.chunks_exact_mut(n).enumerate().take(m) {
                    for p in 0..k {
                        let av = a[i * sa.0 + p * sa.1];
                        if av == 0 {
                            continue;
                        }
                        let brow = p * sb.0;
                        for (j, cv) in crow.iter_mut().enumerate() {
                            *cv = cv.wrapping_add(av.wrapping_mul(b[brow + j * sb.1]));
                        }
                    }
                }
            }
        }
    )*};
}
int_ring!(i8, i16, i32, i64, u8, u16, u32, u64);

/// Largest index a strided r×c matrix touches, plus one (0 when empty).
fn extent(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 { 0 } else { (rows - 1) * rs + (cols - 1) * cs + 1 }
}

/// `c += a·b` (`c` m×n row-major), after checking every buffer is large
/// enough for its strides.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Ring>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    c: &mut [T],
) -> Result<()> {
    if extent(m, k, sa) > a.len() || extent(k, n, sb) > b.len() || m * n > c.len() {
        bail!("internal error: matrix buffers too small for a {m}x{k} by {k}x{n} product");
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    T::kernel(m, k, n, a, sa, b, sb, c);
    Ok(())
}

/// Batched product of contiguous row-major [bt, m, k] and [bt, k, n].
fn bmm<T: Ring>(bt: usize, m: usize, k: usize, n: usize, a: &[T], b: &[T]) -> Result<Vec<T>> {
    let mut out = vec![T::ZERO; checked_len(&[bt, m, n])?];
    for i in 0..bt {
        let (ao, bo, co) = (i * m * k, i * k * n, i * m * n);
        gemm(m, k, n, &a[ao..ao + m * k], (k, 1), &b[bo..bo + k * n], (n, 1), &mut out[co..co + m * n])?;
    }
    Ok(out)
}

/// Element count of a shape, failing on overflow.
fn checked_len(shape: &[usize]) -> Result<usize> {
    match shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
        Some(n) => Ok(n),
        None => bail!("shape {shape:?} has too many elements"),
    }
}

// ---------------------------------------------------------------- MatMul

/// numpy `matmul`: 1-D operands are promoted (and the added axis removed),
/// leading (batch) axes broadcast.
pub(crate) fn matmul<T: Ring>(a: &ArrayD<T>, b: &ArrayD<T>) -> Result<ArrayD<T>> {
    let (ra, rb) = (a.ndim(), b.ndim());
    if ra == 0 || rb == 0 {
        bail!("MatMul operands must have rank ≥ 1, got shapes {:?} and {:?}", a.shape(), b.shape());
    }
    let a_shape: Vec<usize> = if ra == 1 { vec![1, a.len()] } else { a.shape().to_vec() };
    let b_shape: Vec<usize> = if rb == 1 { vec![b.len(), 1] } else { b.shape().to_vec() };
    let (ba, mk) = a_shape.split_at(a_shape.len() - 2);
    let (bb, kn) = b_shape.split_at(b_shape.len() - 2);
    let (m, k, n) = (mk[0], mk[1], kn[1]);
    if kn[0] != k {
        bail!("MatMul inner dimensions differ: shapes {:?} and {:?}", a.shape(), b.shape());
    }
    let batch = broadcast_shapes(ba, bb)?;
    let mut out_shape = batch.clone();
    if ra > 1 {
        out_shape.push(m);
    }
    if rb > 1 {
        out_shape.push(n);
    }
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let (Some(av), Some(bv)) = (a.as_slice(), b.as_slice()) else { bail!("internal error: non-contiguous operand") };
    let nb = checked_len(&batch)?;
    let mut out = vec![T::ZERO; checked_len(&[nb, m, n])?];
    if bb.iter().product::<usize>() == 1 && ba == batch.as_slice() {
        // b is one matrix: fold a's batch into its rows, one large product.
        gemm(nb * m, k, n, av, (k, 1), bv, (n, 1), &mut out)?;
    } else {
        let offs_a = batch_offsets(ba, &batch, m * k);
        let offs_b = batch_offsets(bb, &batch, k * n);
        for (i, (oa, ob)) in offs_a.into_iter().zip(offs_b).enumerate() {
            let c = &mut out[i * m * n..(i + 1) * m * n];
            gemm(m, k, n, &av[oa..], (k, 1), &bv[ob..], (n, 1), c)?;
        }
    }
    array(&out_shape, out)
}

/// For each index of the broadcast batch shape `batch`, the element offset
/// of the matching matrix in an operand with batch shape `own` (right
/// aligned, size-1 axes repeat) and `mat` elements per matrix.
fn batch_offsets(own: &[usize], batch: &[usize], mat: usize) -> Vec<usize> {
    let lead = batch.len() - own.len();
    // Stride (in matrices) of each broadcast axis in the operand; 0 repeats.
    let mut strides = vec![0usize; batch.len()];
    let mut s = 1;
    for d in (0..own.len()).rev() {
        strides[lead + d] = if own[d] == 1 { 0 } else { s };
        s *= own[d];
    }
    let total: usize = batch.iter().product();
    let mut offs = Vec::with_capacity(total);
    let mut idx = vec![0usize; batch.len()];
    for _ in 0..total {
        offs.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>() * mat);
        for d in (0..batch.len()).rev() {
            idx[d] += 1;
            if idx[d] < batch[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    offs
}

fn to_f32<T: Copy + Into<f32>>(a: &ArrayD<T>) -> ArrayD<f32> {
    a.mapv(Into::into)
}

fn matmul_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?);
    let y = match (a, b) {
        (Tensor::F32(a), Tensor::F32(b)) => Tensor::F32(matmul(a, b)?),
        (Tensor::F64(a), Tensor::F64(b)) => Tensor::F64(matmul(a, b)?),
        (Tensor::F16(a), Tensor::F16(b)) => Tensor::F16(matmul(&to_f32(a), &to_f32(b))?.mapv(f16::from_f32)),
        (Tensor::BF16(a), Tensor::BF16(b)) => Tensor::BF16(matmul(&to_f32(a), &to_f32(b))?.mapv(bf16::from_f32)),
        (Tensor::I32(a), Tensor::I32(b)) => Tensor::I32(matmul(a, b)?),
        (Tensor::I64(a), Tensor::I64(b)) => Tensor::I64(matmul(a, b)?),
        (Tensor::U32(a), Tensor::U32(b)) => Tensor::U32(matmul(a, b)?),
        (Tensor::U64(a), Tensor::U64(b)) => Tensor::U64(matmul(a, b)?),
        (a, b) if a.dtype() != b.dtype() => bail!("MatMul operands differ in type: {} and {}", a.dtype(), b.dtype()),
        (a, _) => bail!("MatMul does not support {}", a.dtype()),
    };
    Ok(vec![y.into()])
}

// ---------------------------------------------------------------- Gemm

/// Gemm's operands and attributes, dtype-independent.
struct GemmSpec {
    m: usize,
    k: usize,
    n: usize,
    sa: (usize, usize),
    sb: (usize, usize),
}

impl GemmSpec {
    fn new(a: &[usize], b: &[usize], trans_a: bool, trans_b: bool) -> Result<GemmSpec> {
        let (&[a0, a1], &[b0, b1]) = (a, b) else {
            bail!("Gemm needs 2-D A and B, got shapes {a:?} and {b:?}");
        };
        // Transposition is a swap of strides over the row-major buffers.
        let (m, k, sa) = if trans_a { (a1, a0, (1, a1)) } else { (a0, a1, (a1, 1)) };
        let (kb, n, sb) = if trans_b { (b1, b0, (1, b1)) } else { (b0, b1, (b1, 1)) };
        if k != kb {
            bail!("Gemm inner dimensions differ: A {a:?} (transA={trans_a}), B {b:?} (transB={trans_b})");
        }
        Ok(GemmSpec { m, k, n, sa, sb })
    }

    /// `alpha·A'·B' + beta·C` for f32/f64.
    fn run_float<T: Ring + num_traits::Float>(
        &self,
        a: &ArrayD<T>,
        b: &ArrayD<T>,
        c: Option<&ArrayD<T>>,
        alpha: T,
        beta: T,
    ) -> Result<ArrayD<T>> {
        let (m, n) = (self.m, self.n);
        let mut out = match c {
            Some(c) if beta != T::zero() => {
                let mut c = broadcast_c(c, m, n)?;
                c.iter_mut().for_each(|v| *v = *v * beta);
                c
            }
            _ => vec![T::zero(); checked_len(&[m, n])?],
        };
        let a = a.as_standard_layout();
        let b = b.as_standard_layout();
        let (Some(av), Some(bv)) = (a.as_slice(), b.as_slice()) else {
            bail!("internal error: non-contiguous operand")
        };
        if alpha == T::one() {
            gemm(m, self.k, n, av, self.sa, bv, self.sb, &mut out)?;
        } else {
            // Scale the product, not the sum, so that beta·C is untouched.
            let mut ab = vec![T::zero(); m * n];
            gemm(m, self.k, n, av, self.sa, bv, self.sb, &mut ab)?;
            for (o, p) in out.iter_mut().zip(ab) {
                *o = *o + alpha * p;
            }
        }
        array(&[m, n], out)
    }

    /// Integer Gemm: exact wrapping arithmetic when alpha = beta = 1, else
    /// computed in f64 and truncated (as the reference does through numpy).
    fn run_int<T: Ring + num_traits::AsPrimitive<f64>>(
        &self,
        a: &ArrayD<T>,
        b: &ArrayD<T>,
        c: Option<&ArrayD<T>>,
        alpha: f32,
        beta: f32,
    ) -> Result<ArrayD<T>>
    where
        f64: num_traits::AsPrimitive<T>,
    {
        use num_traits::AsPrimitive;
        let (m, n) = (self.m, self.n);
        let a = a.as_standard_layout();
        let b = b.as_standard_layout();
        let (Some(av), Some(bv)) = (a.as_slice(), b.as_slice()) else {
            bail!("internal error: non-contiguous operand")
        };
        let mut ab = vec![T::ZERO; checked_len(&[m, n])?];
        gemm(m, self.k, n, av, self.sa, bv, self.sb, &mut ab)?;
        let c = match c {
            Some(c) if beta != 0.0 => Some(broadcast_c(c, m, n)?),
            _ => None,
        };
        if alpha != 1.0 || (c.is_some() && beta != 1.0) {
            let (al, be) = (f64::from(alpha), f64::from(beta));
            match &c {
                Some(c) => {
                    for (v, cv) in ab.iter_mut().zip(c.iter()) {
                        *v = (al * (*v).as_() + be * (*cv).as_()).as_();
                    }
                }
                None => ab.iter_mut().for_each(|v| *v = (al * (*v).as_()).as_()),
            }
        } else if let Some(c) = c {
            for (v, cv) in ab.iter_mut().zip(c.iter()) {
                *v = v.add(*cv);
            }
        }
        array(&[m, n], ab)
    }
}

/// C unidirectionally broadcast to (m, n), row-major. Rows of a 2-D view
/// iterate much faster than the dynamic-rank iterator of a broadcast view.
fn broadcast_c<T: Copy>(c: &ArrayD<T>, m: usize, n: usize) -> Result<Vec<T>> {
    let v = broadcast_view(c, &[m, n])?;
    let v = v.into_dimensionality::<Ix2>().map_err(|e| crate::Error::op(e.to_string()))?;
    let mut out = Vec::with_capacity(m * n);
    for row in v.rows() {
        out.extend(row.iter().copied());
    }
    Ok(out)
}

fn gemm_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?);
    let c = ctx.opt_input(inputs, 2)?;
    let spec = GemmSpec::new(a.shape(), b.shape(), ctx.int("transA", 0)? != 0, ctx.int("transB", 0)? != 0)?;
    let (alpha, beta) = (ctx.float("alpha", 1.0)?, ctx.float("beta", 1.0)?);
    if let Some(c) = c
        && c.dtype() != a.dtype()
    {
        bail!("Gemm's C is {} but A is {}", c.dtype(), a.dtype());
    }
    macro_rules! opt_c {
        ($v:ident) => {
            match c {
                Some(Tensor::$v(c)) => Some(c),
                _ => None,
            }
        };
    }
    let y = match (a, b) {
        (Tensor::F32(a), Tensor::F32(b)) => Tensor::F32(spec.run_float(a, b, opt_c!(F32), alpha, beta)?),
        (Tensor::F64(a), Tensor::F64(b)) => {
            Tensor::F64(spec.run_float(a, b, opt_c!(F64), f64::from(alpha), f64::from(beta))?)
        }
        (Tensor::F16(a), Tensor::F16(b)) => {
            let c = opt_c!(F16).map(to_f32);
            let y = spec.run_float(&to_f32(a), &to_f32(b), c.as_ref(), alpha, beta)?;
            Tensor::F16(y.mapv(f16::from_f32))
        }
        (Tensor::BF16(a), Tensor::BF16(b)) => {
            let c = opt_c!(BF16).map(to_f32);
            let y = spec.run_float(&to_f32(a), &to_f32(b), c.as_ref(), alpha, beta)?;
            Tensor::BF16(y.mapv(bf16::from_f32))
        }
        (Tensor::I32(a), Tensor::I32(b)) => Tensor::I32(spec.run_int(a, b, opt_c!(I32), alpha, beta)?),
        (Tensor::I64(a), Tensor::I64(b)) => Tensor::I64(spec.run_int(a, b, opt_c!(I64), alpha, beta)?),
        (Tensor::U32(a), Tensor::U32(b)) => Tensor::U32(spec.run_int(a, b, opt_c!(U32), alpha, beta)?),
        (Tensor::U64(a), Tensor::U64(b)) => Tensor::U64(spec.run_int(a, b, opt_c!(U64), alpha, beta)?),
        (a, b) if a.dtype() != b.dtype() => bail!("Gemm operands differ in type: {} and {}", a.dtype(), b.dtype()),
        (a, _) => bail!("Gemm does not support {}", a.dtype()),
    };
    Ok(vec![y.into()])
}

// ------------------------------------------------- quantized products

fn i32_array(t: &Tensor) -> Result<ArrayD<i32>> {
    match cast(t, DType::I32, true)? {
        Tensor::I32(a) => Ok(a),
        other => bail!("internal error: cast to i32 gave {}", other.dtype()),
    }
}

fn f32_array(t: &Tensor) -> Result<ArrayD<f32>> {
    match cast(t, DType::F32, true)? {
        Tensor::F32(a) => Ok(a),
        other => bail!("internal error: cast to f32 gave {}", other.dtype()),
    }
}

fn f64_array(t: &Tensor) -> Result<ArrayD<f64>> {
    match cast(t, DType::F64, true)? {
        Tensor::F64(a) => Ok(a),
        other => bail!("internal error: cast to f64 gave {}", other.dtype()),
    }
}

/// Shapes a zero point or scale for broadcasting against an operand of
/// shape `x`: one element becomes a scalar; for the left operand
/// (`per_row`) a 1-D vector of length M (the rows) becomes [M, 1]; other
/// shapes ([.., M, 1], [N], [.., 1, N]) broadcast as they are.
fn align_quant_param<T>(p: ArrayD<T>, x: &[usize], per_row: bool) -> Result<ArrayD<T>> {
    if p.len() == 1 {
        return p.into_shape_with_order(IxDyn(&[])).map_err(|e| crate::Error::op(e.to_string()));
    }
    let r = x.len();
    if per_row && p.ndim() == 1 && r >= 2 && p.len() == x[r - 2] {
        let m = p.len();
        return p.into_shape_with_order(IxDyn(&[m, 1])).map_err(|e| crate::Error::op(e.to_string()));
    }
    Ok(p)
}

/// Applies `f(x, p)` elementwise, `p` broadcast to `x`'s shape (and only in
/// that direction).
fn apply_param<A: Clone, B: Clone, O>(
    x: &ArrayD<A>,
    p: &ArrayD<B>,
    what: &str,
    f: impl Fn(A, B) -> O,
) -> Result<ArrayD<O>> {
    let y = zip_map(x, p, f)?;
    if y.shape() != x.shape() {
        bail!("{what} of shape {:?} does not fit an operand of shape {:?}", p.shape(), x.shape());
    }
    Ok(y)
}

/// `x - zero_point` as i32 (8-bit integer operands).
fn centered_i32(x: &Tensor, zp: Option<&Tensor>, per_row: bool, what: &str) -> Result<ArrayD<i32>> {
    if !matches!(x.dtype(), DType::I8 | DType::U8) {
        bail!("{what} must be int8 or uint8, got {}", x.dtype());
    }
    let x32 = i32_array(x)?;
    let Some(zp) = zp else { return Ok(x32) };
    if zp.dtype() != x.dtype() {
        bail!("{what}'s zero point is {} but {what} is {}", zp.dtype(), x.dtype());
    }
    let z = align_quant_param(i32_array(zp)?, x.shape(), per_row)?;
    apply_param(&x32, &z, &format!("{what}'s zero point"), |a, b| a - b)
}

/// `x - zero_point` as f32 (8-bit float or integer operands).
fn centered_f32(x: &Tensor, zp: Option<&Tensor>, per_row: bool, what: &str) -> Result<ArrayD<f32>> {
    let xf = f32_array(x)?;
    let Some(zp) = zp else { return Ok(xf) };
    if zp.dtype() != x.dtype() {
        bail!("{what}'s zero point is {} but {what} is {}", zp.dtype(), x.dtype());
    }
    let z = align_quant_param(f32_array(zp)?, x.shape(), per_row)?;
    apply_param(&xf, &z, &format!("{what}'s zero point"), |a, b| a - b)
}

fn matmul_integer_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, b) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?);
    let a32 = centered_i32(a, ctx.opt_input(inputs, 2)?, true, "A")?;
    let b32 = centered_i32(b, ctx.opt_input(inputs, 3)?, false, "B")?;
    Ok(vec![Tensor::I32(matmul(&a32, &b32)?).into()])
}

/// Rounding of an f64 result to the precision of a scale type, so that
/// products of scales are computed as that type computes them.
fn scale_rounding(d: DType) -> Result<fn(f64) -> f64> {
    Ok(match d {
        DType::F32 => |v| f64::from(v as f32),
        DType::F64 => |v| v,
        DType::F16 => |v| f64::from(f64_to_f16(v)),
        DType::BF16 => |v| f64::from(f64_to_bf16(v)),
        other => bail!("scales must be float, float16 or bfloat16, got {other}"),
    })
}

fn qlinear_matmul_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let (a, a_scale, a_zp) = (ctx.input(inputs, 0)?, ctx.input(inputs, 1)?, ctx.opt_input(inputs, 2)?);
    let (b, b_scale, b_zp) = (ctx.input(inputs, 3)?, ctx.input(inputs, 4)?, ctx.opt_input(inputs, 5)?);
    let (y_scale, y_zp) = (ctx.input(inputs, 6)?, ctx.opt_input(inputs, 7)?);
    let int8 = |d: DType| matches!(d, DType::I8 | DType::U8);
    // Integers accumulate exactly in i32; 8-bit floats in f32.
    let acc: ArrayD<f64> = if int8(a.dtype()) && int8(b.dtype()) {
        let a32 = centered_i32(a, a_zp, true, "a")?;
        let b32 = centered_i32(b, b_zp, false, "b")?;
        matmul(&a32, &b32)?.mapv(f64::from)
    } else {
        let af = centered_f32(a, a_zp, true, "a")?;
        let bf = centered_f32(b, b_zp, false, "b")?;
        matmul(&af, &bf)?.mapv(f64::from)
    };
    let sd = a_scale.dtype();
    if b_scale.dtype() != sd || y_scale.dtype() != sd {
        bail!("scales differ in type: {sd}, {}, {}", b_scale.dtype(), y_scale.dtype());
    }
    let round = scale_rounding(sd)?;
    // a_scale·b_scale/y_scale in the scales' own precision, then applied in f64.
    let sa = align_quant_param(f64_array(a_scale)?, a.shape(), true)?;
    let sb = align_quant_param(f64_array(b_scale)?, b.shape(), false)?;
    let sy = align_quant_param(f64_array(y_scale)?, &[], false)?;
    let mult = zip_map(&zip_map(&sa, &sb, |x, y| round(x * y))?, &sy, |p, y| round(p / y))?;
    let mut d = apply_param(&acc, &mult, "the scales", |c, m| c * m)?;
    let out_type = y_zp.map_or(a.dtype(), Tensor::dtype);
    if let Some(z) = y_zp {
        let z = align_quant_param(f64_array(z)?, &[], false)?;
        d = apply_param(&d, &z, "y's zero point", |v, z| v + z)?;
    }
    Ok(vec![requantize(d, out_type)?.into()])
}

// ---------------------------------------------------------------- Einsum

/// An operand during contraction: data and one label id per axis (letters
/// by their ASCII code, ellipsis axes 128 + position).
struct Labeled<T> {
    data: ArrayD<T>,
    ids: Vec<usize>,
}

const ELLIPSIS_BASE: usize = 128;

/// A term of the equation: letters and at most one ellipsis.
fn parse_term(t: &str) -> Result<(Vec<Option<u8>>, bool)> {
    let b = t.as_bytes();
    let (mut out, mut ell, mut i) = (Vec::new(), false, 0);
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_alphabetic() => out.push(Some(c)),
            b'.' if b.get(i..i + 3) == Some(b"...") && !ell => {
                ell = true;
                out.push(None);
                i += 2;
            }
            _ => bail!("invalid Einsum term '{t}'"),
        }
        i += 1;
    }
    Ok((out, ell))
}

/// Input label ids per operand and output ids of an equation.
fn parse_equation(eq: &str, ranks: &[usize]) -> Result<(Vec<Vec<usize>>, Vec<usize>)> {
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ranks.len() {
        bail!("Einsum equation '{eq}' has {} terms for {} inputs", terms.len(), ranks.len());
    }
    let parsed: Vec<_> = terms.iter().map(|t| parse_term(t)).collect::<Result<_>>()?;
    let mut ell_ranks = Vec::with_capacity(ranks.len());
    for ((labels, ell), (&r, t)) in parsed.iter().zip(ranks.iter().zip(&terms)) {
        let letters = labels.len() - usize::from(*ell);
        match (*ell, r.checked_sub(letters)) {
            (true, Some(e)) => ell_ranks.push(e),
            (false, Some(0)) => ell_ranks.push(0),
            _ => bail!("Einsum term '{t}' does not match an input of rank {r}"),
        }
    }
    let e_max = ell_ranks.iter().copied().max().unwrap_or(0);
    let ids: Vec<Vec<usize>> = parsed
        .iter()
        .zip(&ell_ranks)
        .map(|((labels, _), &e)| {
            labels
                .iter()
                .flat_map(|l| match l {
                    Some(c) => vec![usize::from(*c)],
                    // Ellipsis axes are right-aligned across operands.
                    None => (ELLIPSIS_BASE + e_max - e..ELLIPSIS_BASE + e_max).collect(),
                })
                .collect()
        })
        .collect();
    let out = match rhs {
        Some(r) => {
            let (labels, _) = parse_term(r)?;
            let mut out = Vec::new();
            for l in labels {
                match l {
                    Some(c) => {
                        let id = usize::from(c);
                        if !ids.iter().any(|v| v.contains(&id)) {
                            bail!("Einsum output label '{}' is not in any input", c as char);
                        }
                        if out.contains(&id) {
                            bail!("Einsum output label '{}' appears twice", c as char);
                        }
                        out.push(id);
                    }
                    None => out.extend(ELLIPSIS_BASE..ELLIPSIS_BASE + e_max),
                }
            }
            out
        }
        None => {
            // Implicit output: ellipsis axes, then letters used exactly once,
            // in ASCII order.
            let mut once: Vec<usize> = (0..ELLIPSIS_BASE)
                .filter(|id| ids.iter().map(|v| v.iter().filter(|&&x| x == *id).count()).sum::<usize>() == 1)
                .collect();
            once.sort_unstable();
            (ELLIPSIS_BASE..ELLIPSIS_BASE + e_max).chain(once).collect()
        }
    };
    Ok((ids, out))
}

/// Takes the diagonal over repeated labels of one operand.
fn diagonal<T: Copy>(x: &ArrayViewD<'_, T>, ids: &[usize]) -> Result<Labeled<T>> {
    let mut uniq: Vec<usize> = Vec::new();
    for &id in ids {
        if !uniq.contains(&id) {
            uniq.push(id);
        }
    }
    if uniq.len() == ids.len() {
        return Ok(Labeled { data: x.to_owned(), ids: ids.to_vec() });
    }
    let mut shape = vec![0usize; uniq.len()];
    for (ax, id) in ids.iter().enumerate() {
        let u = uniq.iter().position(|v| v == id).unwrap_or(0);
        let s = x.shape()[ax];
        if shape[u] != 0 && shape[u] != s {
            bail!("Einsum repeated label '{}' spans axes of sizes {} and {s}", *id as u8 as char, shape[u]);
        }
        shape[u] = s;
    }
    // Each output axis indexes every input axis carrying its label.
    let pos: Vec<usize> = ids.iter().map(|id| uniq.iter().position(|v| v == id).unwrap_or(0)).collect();
    let data = ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
        let src: Vec<usize> = pos.iter().map(|&p| idx[p]).collect();
        x[IxDyn(&src)]
    });
    Ok(Labeled { data, ids: uniq })
}

/// Sums out the axes whose label satisfies `drop`.
fn sum_out<T: Ring>(mut x: Labeled<T>, drop: impl Fn(usize) -> bool) -> Labeled<T> {
    for ax in (0..x.ids.len()).rev() {
        if drop(x.ids[ax]) {
            x.data = x.data.fold_axis(Axis(ax), T::ZERO, |acc, v| acc.add(*v));
            x.ids.remove(ax);
        }
    }
    x
}

/// Contracts two operands, keeping the labels `keep` accepts.
fn contract<T: Ring>(a: Labeled<T>, b: Labeled<T>, keep: impl Fn(usize) -> bool) -> Result<Labeled<T>> {
    let a = sum_out(a, |id| !keep(id) && !b.ids.contains(&id));
    let b = sum_out(b, |id| !keep(id) && !a.ids.contains(&id));
    let size = |x: &Labeled<T>, id: usize| x.ids.iter().position(|&v| v == id).map_or(1, |p| x.data.shape()[p]);
    let shared: Vec<usize> = a.ids.iter().copied().filter(|id| b.ids.contains(id)).collect();
    let mut common = Vec::with_capacity(shared.len());
    for &id in &shared {
        let (sa, sb) = (size(&a, id), size(&b, id));
        if sa != sb && sa != 1 && sb != 1 {
            bail!("Einsum label '{}' has sizes {sa} and {sb} in different inputs", label_name(id));
        }
        common.push(sa.max(sb));
    }
    let batch: Vec<usize> = shared.iter().copied().filter(|&id| keep(id)).collect();
    let contr: Vec<usize> = shared.iter().copied().filter(|&id| !keep(id)).collect();
    let left: Vec<usize> = a.ids.iter().copied().filter(|id| !shared.contains(id)).collect();
    let right: Vec<usize> = b.ids.iter().copied().filter(|id| !shared.contains(id)).collect();
    let full = |id: usize| shared.iter().position(|&s| s == id).map(|p| common[p]);
    // Lays an operand out as `order` (broadcasting size-1 shared axes) in a
    // contiguous buffer.
    let arrange = |x: &Labeled<T>, order: &[usize]| -> Result<Vec<T>> {
        let perm: Vec<usize> = order.iter().map(|id| x.ids.iter().position(|v| v == id).unwrap_or(0)).collect();
        let shape: Vec<usize> = order.iter().map(|&id| full(id).unwrap_or_else(|| size(x, id))).collect();
        let v = x.data.view().permuted_axes(IxDyn(&perm));
        match v.broadcast(IxDyn(&shape)) {
            Some(v) => Ok(v.iter().copied().collect()),
            None => bail!("internal error: Einsum broadcast of {:?} to {shape:?}", v.shape()),
        }
    };
    let prod = |ids: &[usize], x: &Labeled<T>| ids.iter().map(|&id| full(id).unwrap_or_else(|| size(x, id))).product();
    let (bt, m, k, n): (usize, usize, usize, usize) =
        (prod(&batch, &a), prod(&left, &a), prod(&contr, &a), prod(&right, &b));
    let av = arrange(&a, &[batch.as_slice(), &left, &contr].concat())?;
    let bv = arrange(&b, &[batch.as_slice(), &contr, &right].concat())?;
    let out = bmm(bt, m, k, n, &av, &bv)?;
    let ids: Vec<usize> = [batch.as_slice(), &left, &right].concat();
    let shape: Vec<usize> = batch
        .iter()
        .map(|&id| full(id).unwrap_or(1))
        .chain(left.iter().map(|&id| size(&a, id)))
        .chain(right.iter().map(|&id| size(&b, id)))
        .collect();
    Ok(Labeled { data: array(&shape, out)?, ids })
}

fn label_name(id: usize) -> String {
    if id < ELLIPSIS_BASE { (id as u8 as char).to_string() } else { "...".to_string() }
}

/// Einstein summation over `ops` (numpy semantics: implicit output,
/// ellipsis broadcasting, repeated labels as diagonals).
pub(crate) fn einsum<T: Ring>(eq: &str, ops: &[ArrayViewD<'_, T>]) -> Result<ArrayD<T>> {
    let ranks: Vec<usize> = ops.iter().map(|o| o.ndim()).collect();
    let (ids, out) = parse_equation(eq, &ranks)?;
    let mut pending: Vec<Labeled<T>> = ops.iter().zip(&ids).map(|(x, ids)| diagonal(x, ids)).collect::<Result<_>>()?;
    pending.reverse();
    let Some(mut acc) = pending.pop() else { bail!("Einsum needs at least one input") };
    while let Some(next) = pending.pop() {
        let later: Vec<usize> = pending.iter().flat_map(|p| p.ids.iter().copied()).collect();
        acc = contract(acc, next, |id| out.contains(&id) || later.contains(&id))?;
    }
    let acc = sum_out(acc, |id| !out.contains(&id));
    let perm: Vec<usize> =
        out.iter().map(|id| acc.ids.iter().position(|v| v == id)).collect::<Option<_>>().ok_or_else(|| {
            crate::Error::op(format!("Einsum output labels of '{eq}' are not all present after contraction"))
        })?;
    Ok(acc.data.permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned())
}

fn einsum_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let eq = ctx.string("equation", "")?;
    let xs: Vec<&Tensor> = (0..inputs.len()).map(|i| ctx.input(inputs, i)).collect::<Result<_>>()?;
    let Some(first) = xs.first() else { bail!("Einsum needs at least one input") };
    let dt = first.dtype();
    if let Some(x) = xs.iter().find(|x| x.dtype() != dt) {
        bail!("Einsum inputs differ in type: {dt} and {}", x.dtype());
    }
    macro_rules! views {
        ($v:ident) => {
            xs.iter()
                .map(|t| match t {
                    Tensor::$v(a) => Ok(a.view()),
                    _ => bail!("internal error: Einsum input type"),
                })
                .collect::<Result<Vec<_>>>()?
        };
    }
    macro_rules! via_f32 {
        ($v:ident, $from:expr) => {{
            let owned: Vec<ArrayD<f32>> = xs
                .iter()
                .map(|t| match t {
                    Tensor::$v(a) => Ok(to_f32(a)),
                    _ => bail!("internal error: Einsum input type"),
                })
                .collect::<Result<_>>()?;
            let views: Vec<_> = owned.iter().map(|a| a.view()).collect();
            Tensor::$v(einsum(&eq, &views)?.mapv($from))
        }};
    }
    let y = match dt {
        DType::F32 => Tensor::F32(einsum(&eq, &views!(F32))?),
        DType::F64 => Tensor::F64(einsum(&eq, &views!(F64))?),
        DType::F16 => via_f32!(F16, f16::from_f32),
        DType::BF16 => via_f32!(BF16, bf16::from_f32),
        DType::I8 => Tensor::I8(einsum(&eq, &views!(I8))?),
        DType::I16 => Tensor::I16(einsum(&eq, &views!(I16))?),
        DType::I32 => Tensor::I32(einsum(&eq, &views!(I32))?),
        DType::I64 => Tensor::I64(einsum(&eq, &views!(I64))?),
        DType::U8 => Tensor::U8(einsum(&eq, &views!(U8))?),
        DType::U16 => Tensor::U16(einsum(&eq, &views!(U16))?),
        DType::U32 => Tensor::U32(einsum(&eq, &views!(U32))?),
        DType::U64 => Tensor::U64(einsum(&eq, &views!(U64))?),
        other => bail!("Einsum does not support {other}"),
    };
    Ok(vec![y.into()])
}

// ---------------------------------------------------------------- Det

/// Determinant of one n×n row-major matrix by LU with partial pivoting.
fn det_lu(m: &mut [f64], n: usize) -> f64 {
    let mut det = 1.0;
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs())).unwrap_or(c);
        let pivot = m[p * n + c];
        if pivot == 0.0 {
            return 0.0;
        }
        if p != c {
            for j in 0..n {
                m.swap(p * n + j, c * n + j);
            }
            det = -det;
        }
        det *= pivot;
        for r in c + 1..n {
            let f = m[r * n + c] / pivot;
            if f != 0.0 {
                for j in c + 1..n {
                    m[r * n + j] -= f * m[c * n + j];
                }
            }
        }
    }
    det
}

/// Determinants of the trailing n×n matrices, computed in f64.
fn det<T: Copy>(x: &ArrayD<T>, to: impl Fn(T) -> f64, from: impl Fn(f64) -> T) -> Result<ArrayD<T>> {
    let s = x.shape();
    let r = s.len();
    if r < 2 || s[r - 1] != s[r - 2] {
        bail!("Det needs square matrices in the last two axes, got shape {s:?}");
    }
    let n = s[r - 1];
    let x = x.as_standard_layout();
    let dets: Vec<T> = if n == 0 {
        vec![from(1.0); s[..r - 2].iter().product()]
    } else {
        x.iter().map(|&v| to(v)).collect::<Vec<f64>>().chunks_exact_mut(n * n).map(|mat| from(det_lu(mat, n))).collect()
    };
    array(&s[..r - 2], dets)
}

fn det_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let y = match ctx.input(inputs, 0)? {
        Tensor::F32(a) => Tensor::F32(det(a, f64::from, |v| v as f32)?),
        Tensor::F64(a) => Tensor::F64(det(a, |v| v, |v| v)?),
        Tensor::F16(a) => Tensor::F16(det(a, f64::from, f64_to_f16)?),
        Tensor::BF16(a) => Tensor::BF16(det(a, f64::from, f64_to_bf16)?),
        other => bail!("Det does not support {}", other.dtype()),
    };
    Ok(vec![y.into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cast::tests::run_node;

    fn f32t(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::f32(shape, v).unwrap()
    }

    fn arange(shape: &[usize], offset: f32) -> Tensor {
        let n = shape.iter().product::<usize>();
        f32t(shape, (0..n).map(|v| v as f32 + offset).collect())
    }

    fn one(op: &str, inputs: Vec<Option<Tensor>>, opset: i64) -> Result<Tensor> {
        let names: Vec<String> = (0..inputs.len()).map(|i| format!("i{i}")).collect();
        let node = ir::Node::new(op, names, ["y"]);
        Ok(run_node(node, inputs, opset)?.remove(0))
    }

    #[test]
    fn matmul_broadcasts_batches_and_promotes_vectors() {
        // np.arange(12).reshape(2,1,2,3) @ (np.arange(18).reshape(3,3,2) - 5)
        let y = one("MatMul", vec![Some(arange(&[2, 1, 2, 3], 0.0)), Some(arange(&[3, 3, 2], -5.0))], 13).unwrap();
        let want = vec![
            -5.0, -2.0, -32.0, -20.0, 13.0, 16.0, 40.0, 52.0, 31.0, 34.0, 112.0, 124.0, -59.0, -38.0, -86.0, -56.0,
            67.0, 88.0, 94.0, 124.0, 193.0, 214.0, 274.0, 304.0,
        ];
        assert_eq!(y, f32t(&[2, 3, 2, 2], want));
        let v = f32t(&[3], vec![1.0, 2.0, 3.0]);
        assert_eq!(one("MatMul", vec![Some(v.clone()), Some(v.clone())], 13).unwrap(), f32t(&[], vec![14.0]));
        let y = one("MatMul", vec![Some(v), Some(arange(&[2, 3, 4], 0.0))], 13).unwrap();
        assert_eq!(y, f32t(&[2, 4], vec![32.0, 38.0, 44.0, 50.0, 104.0, 110.0, 116.0, 122.0]));
        let i = |s: &[usize], v: Vec<i64>| Tensor::i64(s, v).unwrap();
        let y = one("MatMul", vec![Some(i(&[1, 2], vec![2, 3])), Some(i(&[2, 1], vec![4, 5]))], 13).unwrap();
        assert_eq!(y, i(&[1, 1], vec![23]));
        assert!(one("MatMul", vec![Some(arange(&[2, 3], 0.0)), Some(arange(&[2, 3], 0.0))], 13).is_err());
        assert!(one("MatMul", vec![Some(arange(&[2, 2, 3], 0.0)), Some(arange(&[3, 3, 1], 0.0))], 13).is_err());
    }

    #[test]
    fn gemm_transposes_scales_and_broadcasts_c() {
        // 0.5 * A.T @ B.T + 2 * C, A=[[1,2],[3,4],[5,6]], B=[[1,0,2],[0,1,-1]], C=[1,2]
        let a = f32t(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = f32t(&[2, 3], vec![1.0, 0.0, 2.0, 0.0, 1.0, -1.0]);
        let c = f32t(&[2], vec![1.0, 2.0]);
        let node = ir::Node::new("Gemm", ["a", "b", "c"], ["y"])
            .with_attr("transA", 1i64)
            .with_attr("transB", 1i64)
            .with_attr("alpha", 0.5f32)
            .with_attr("beta", 2.0f32);
        let y = run_node(node, vec![Some(a), Some(b), Some(c)], 13).unwrap();
        assert_eq!(y[0], f32t(&[2, 2], vec![7.5, 3.0, 9.0, 3.0]));
        // Integers: [[1,2],[3,4]] @ [[5,6],[7,8]] + [[10],[20]]
        let i = |s: &[usize], v: Vec<i64>| Tensor::i64(s, v).unwrap();
        let y = one(
            "Gemm",
            vec![
                Some(i(&[2, 2], vec![1, 2, 3, 4])),
                Some(i(&[2, 2], vec![5, 6, 7, 8])),
                Some(i(&[2, 1], vec![10, 20])),
            ],
            13,
        );
        assert_eq!(y.unwrap(), i(&[2, 2], vec![29, 32, 63, 70]));
        // C must broadcast to (M, N) in one direction only.
        let bad =
            one("Gemm", vec![Some(arange(&[2, 2], 0.0)), Some(arange(&[2, 2], 0.0)), Some(arange(&[3], 0.0))], 13);
        assert!(bad.is_err());
        assert!(one("Gemm", vec![Some(arange(&[2, 3], 0.0)), Some(arange(&[2, 3], 0.0))], 13).is_err());
    }

    #[test]
    fn matmul_integer_subtracts_zero_points() {
        // (a - 12) @ (b - [0, 1]) in int32
        let a = Tensor::U8(array(&[4, 3], vec![11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0]).unwrap());
        let b = Tensor::U8(array(&[3, 2], vec![1, 4, 2, 5, 3, 6]).unwrap());
        let az = Tensor::U8(array(&[], vec![12]).unwrap());
        let bz = Tensor::U8(array(&[2], vec![0, 1]).unwrap());
        let y = one("MatMulInteger", vec![Some(a), Some(b), Some(az), Some(bz)], 10).unwrap();
        assert_eq!(y, Tensor::I32(array(&[4, 2], vec![-38, -68, -44, -80, -50, -92, -56, -104]).unwrap()));
    }

    #[test]
    fn qlinear_matmul_matches_the_backend_test() {
        // test_qlinearmatmul_2D_uint8_float32
        let u8t = |s: &[usize], v: Vec<u8>| Some(Tensor::U8(array(s, v).unwrap()));
        let s = |v: f32| Some(f32t(&[1], vec![v]));
        let inputs = vec![
            u8t(&[2, 4], vec![208, 236, 0, 238, 3, 214, 255, 29]),
            s(0.0066),
            u8t(&[1], vec![113]),
            u8t(&[4, 3], vec![152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247]),
            s(0.00705),
            u8t(&[1], vec![114]),
            s(0.0107),
            u8t(&[1], vec![118]),
        ];
        let y = one("QLinearMatMul", inputs, 21).unwrap();
        assert_eq!(y, Tensor::U8(array(&[2, 3], vec![168, 115, 255, 1, 66, 151]).unwrap()));
    }

    fn ein(eq: &str, xs: &[(&[usize], Vec<i64>)]) -> Result<Tensor> {
        let names: Vec<String> = (0..xs.len()).map(|i| format!("x{i}")).collect();
        let node = ir::Node::new("Einsum", names, ["y"]).with_attr("equation", eq);
        let inputs = xs.iter().map(|(s, v)| Some(Tensor::i64(s, v.clone()).unwrap())).collect();
        Ok(run_node(node, inputs, 12)?.remove(0))
    }

    fn iota(n: i64) -> Vec<i64> {
        (0..n).collect()
    }

    #[test]
    fn einsum_equations_match_numpy() {
        let t = |s: &[usize], v: Vec<i64>| Tensor::i64(s, v).unwrap();
        assert_eq!(ein("ii->i", &[(&[3, 3], iota(9))]).unwrap(), t(&[3], vec![0, 4, 8]));
        let y = ein("bij,bjk->bik", &[(&[2, 2, 3], iota(12)), (&[2, 3, 2], iota(12))]).unwrap();
        assert_eq!(y, t(&[2, 2, 2], vec![10, 13, 28, 40, 172, 193, 244, 274]));
        assert_eq!(ein("...ii->...i", &[(&[2, 3, 3], iota(18))]).unwrap(), t(&[2, 3], vec![0, 4, 8, 9, 13, 17]));
        // Implicit output: letters used once, in order.
        assert_eq!(ein("ij,jk", &[(&[2, 3], iota(6)), (&[3, 2], iota(6))]).unwrap(), t(&[2, 2], vec![10, 13, 28, 40]));
        assert_eq!(ein("ba", &[(&[2, 3], iota(6))]).unwrap().shape(), &[3, 2]);
        // Ellipsis axes broadcast.
        let y = ein("...i,...i->...", &[(&[2, 1, 3], iota(6)), (&[4, 3], iota(12))]).unwrap();
        assert_eq!(y, t(&[2, 4], vec![5, 14, 23, 32, 14, 50, 86, 122]));
        assert_eq!(ein("i , i", &[(&[3], iota(3)), (&[3], iota(3))]).unwrap(), t(&[], vec![5]));
        assert!(ein("ij,jk->ik", &[(&[2, 3], iota(6)), (&[2, 2], iota(4))]).is_err());
        assert!(ein("ijk", &[(&[2, 3], iota(6))]).is_err());
        assert!(ein("i1", &[(&[2, 3], iota(6))]).is_err());
        assert!(ein("ij->k", &[(&[2, 3], iota(6))]).is_err());
        assert!(ein("ij,jk", &[(&[2, 3], iota(6))]).is_err());
    }

    #[test]
    fn det_of_batches() {
        // np.linalg.det: -2, 6, 0 and -3 for [[0,1,2],[3,4,5],[6,7,9]]
        let x =
            Tensor::F64(array(&[3, 2, 2], vec![1.0, 2.0, 3.0, 4.0, 2.0, 0.0, 0.0, 3.0, 1.0, 2.0, 2.0, 4.0]).unwrap());
        let Tensor::F64(y) = one("Det", vec![Some(x)], 11).unwrap() else { panic!() };
        let want = [-2.0, 6.0, 0.0];
        assert!(y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{y:?}");
        let x = f32t(&[3, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0]);
        let Tensor::F32(y) = one("Det", vec![Some(x)], 22).unwrap() else { panic!() };
        assert!(y.shape().is_empty() && (y.iter().next().unwrap() + 3.0).abs() < 1e-6);
        assert!(one("Det", vec![Some(arange(&[2, 3], 0.0))], 22).is_err());
    }
}
