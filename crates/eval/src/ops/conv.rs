//! Convolutions: Conv, ConvTranspose, ConvInteger, QLinearConv, DeformConv,
//! Col2Im and CausalConvWithState.
//!
//! Everything lowers to im2col (or its adjoint, col2im) per image and group
//! plus one GEMM from `matrixmultiply` on contiguous buffers, so the cost is
//! that of the matrix product. f16/bf16 compute through f32; the integer ops
//! compute through f64, which holds their i32 sums exactly, and wrap to i32
//! like a 32-bit accumulator would.
//!
//! Opset history: Conv and ConvTranspose 1, 11, 22 (bf16 added); ConvInteger
//! and QLinearConv 10; DeformConv 19, 22; Col2Im 18; CausalConvWithState 27.
//! No revision changed the meaning of a node that was valid before, so no op
//! here branches on the opset.

use std::borrow::Cow;
use std::ops::Range;

use half::{bf16, f16};
use ndarray::ArrayD;
use num_traits::Float;

use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, array, bail};

/// Registers the convolution ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("Conv", conv);
    r.add("ConvTranspose", conv_transpose);
    r.add("ConvInteger", conv_integer);
    r.add("QLinearConv", qlinear_conv);
    r.add("DeformConv", deform_conv);
    r.add("Col2Im", col2im_op);
    r.add("CausalConvWithState", causal_conv_with_state);
}

// ---------------------------------------------------------------------------
// Shared helpers (also used by the pooling ops).

/// Most elements an op here allocates for one buffer: attributes such as
/// `pads` or `output_shape` could otherwise ask for absurd outputs.
const MAX_ELEMS: usize = 1 << 31;

/// Largest value accepted for size-like integer attributes (strides,
/// dilations, pads, group): keeps all geometry arithmetic far from overflow.
const MAX_ATTR: i64 = 1 << 31;

/// Elements of the im2col buffer per chunk: bounds memory for big images
/// while keeping each GEMM large enough to run at full speed.
const COLS_BUDGET: usize = 1 << 22;

/// Element count of `shape`, an error when it overflows or exceeds [`MAX_ELEMS`].
pub(super) fn numel(shape: &[usize]) -> Result<usize> {
    match shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(n) if n <= MAX_ELEMS => Ok(n),
        _ => bail!("a tensor of shape {shape:?} is too large to compute"),
    }
}

/// The elements of `a` in row-major order, borrowed when already contiguous.
pub(super) fn contig<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// An integer-list attribute of `len` values in `min..=MAX_ATTR`; `default`
/// repeated when absent or empty (some exporters write empty lists).
pub(super) fn ints_attr(ctx: &Ctx<'_>, name: &str, len: usize, default: i64, min: i64) -> Result<Vec<i64>> {
    match ctx.ints(name)? {
        None => Ok(vec![default; len]),
        Some(v) if v.is_empty() => Ok(vec![default; len]),
        Some(v) if v.len() != len => bail!("attribute '{name}' has {} values, expected {len}", v.len()),
        Some(v) if v.iter().any(|&x| x < min || x > MAX_ATTR) => {
            bail!("attribute '{name}' = {v:?}: values must be in {min}..={MAX_ATTR}")
        }
        Some(v) => Ok(v),
    }
}

/// Like [`ints_attr`] with a default of 1 and values >= 1 (strides, dilations).
pub(super) fn steps_attr(ctx: &Ctx<'_>, name: &str, len: usize) -> Result<Vec<usize>> {
    Ok(ints_attr(ctx, name, len, 1, 1)?.into_iter().map(|v| v as usize).collect())
}

/// The `auto_pad` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AutoPad {
    /// Explicit `pads`.
    NotSet,
    /// Output `ceil(in / stride)`, odd padding at the end.
    SameUpper,
    /// Output `ceil(in / stride)`, odd padding at the start.
    SameLower,
    /// No padding.
    Valid,
}

impl AutoPad {
    /// Reads `auto_pad` from the node.
    pub(super) fn read(ctx: &Ctx<'_>) -> Result<Self> {
        Ok(match ctx.string("auto_pad", "NOTSET")?.as_str() {
            "NOTSET" | "" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            other => bail!("auto_pad '{other}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"),
        })
    }

    /// Whether this is one of the SAME modes.
    pub(super) fn is_same(self) -> bool {
        matches!(self, AutoPad::SameUpper | AutoPad::SameLower)
    }

    /// Splits a total padding into (begin, end) for the SAME modes of
    /// Conv and pooling (SAME_LOWER puts the odd pixel first, anything else last).
    pub(super) fn split(self, total: i128) -> (i128, i128) {
        let small = total.div_euclid(2);
        if self == AutoPad::SameLower { (total - small, small) } else { (small, total - small) }
    }
}

/// Extent of a dilated kernel axis: `(k - 1) * d + 1`.
pub(super) fn extent(k: usize, d: usize) -> i128 {
    (k as i128 - 1) * d as i128 + 1
}

/// Converts a computed dimension to usize, rejecting negatives and absurd sizes.
pub(super) fn to_dim(v: i128, what: &str) -> Result<usize> {
    if v < 0 || v > MAX_ELEMS as i128 {
        bail!("{what} would be {v}");
    }
    Ok(v as usize)
}

/// Converts a computed start padding to i64, rejecting absurd magnitudes.
fn to_pad(v: i128) -> Result<i64> {
    if v.abs() > MAX_ELEMS as i128 {
        bail!("a padding of {v} is out of range");
    }
    Ok(v as i64)
}

/// Sets `idx` to the row-major multi-index of `flat` within `shape`.
pub(super) fn unravel(mut flat: usize, shape: &[usize], idx: &mut [usize]) {
    for (i, &d) in idx.iter_mut().zip(shape).rev() {
        if d == 0 {
            *i = 0;
            continue;
        }
        *i = flat % d;
        flat /= d;
    }
}

/// Advances the row-major multi-index `idx` within `shape` (wrapping to zeros).
pub(super) fn next_index(idx: &mut [usize], shape: &[usize]) {
    for (i, &d) in idx.iter_mut().zip(shape).rev() {
        *i += 1;
        if *i < d {
            return;
        }
        *i = 0;
    }
}

/// Accumulation for col2im: wrapping for integers, IEEE for floats.
pub(super) trait Accum: Copy + Default {
    /// `self + o`.
    fn acc(self, o: Self) -> Self;
}

macro_rules! accum_int {
    ($($t:ty),*) => {$(impl Accum for $t { fn acc(self, o: Self) -> Self { self.wrapping_add(o) } })*};
}
macro_rules! accum_float {
    ($($t:ty),*) => {$(impl Accum for $t { fn acc(self, o: Self) -> Self { self + o } })*};
}
accum_int!(i8, i16, i32, i64, u8, u16, u32, u64);
accum_float!(f32, f64, f16, bf16);

// ---------------------------------------------------------------------------
// GEMM.

/// The element types `matrixmultiply` multiplies.
pub(super) trait Gemm: Float + Accum + Default + std::fmt::Debug {
    /// `C = A·B + beta·C` on raw strided matrices.
    ///
    /// # Safety
    /// As `matrixmultiply::sgemm`: every addressed element is in bounds and
    /// the strides of C do not alias.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw(
        m: usize,
        k: usize,
        n: usize,
        a: Mat<'_, Self>,
        b: Mat<'_, Self>,
        beta: Self,
        c: *mut Self,
        rc: isize,
    );
}

/// A strided read-only matrix: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mat<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
}

impl Gemm for f32 {
    unsafe fn raw(m: usize, k: usize, n: usize, a: Mat<'_, f32>, b: Mat<'_, f32>, beta: f32, c: *mut f32, rc: isize) {
        // SAFETY: forwarded from the caller (`gemm` checks every bound).
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr(),
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr(),
                b.rs as isize,
                b.cs as isize,
                beta,
                c,
                rc,
                1,
            )
        }
    }
}

impl Gemm for f64 {
    unsafe fn raw(m: usize, k: usize, n: usize, a: Mat<'_, f64>, b: Mat<'_, f64>, beta: f64, c: *mut f64, rc: isize) {
        // SAFETY: forwarded from the caller (`gemm` checks every bound).
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr(),
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr(),
                b.rs as isize,
                b.cs as isize,
                beta,
                c,
                rc,
                1,
            )
        }
    }
}

/// Index one past the last element a `rows × cols` matrix with strides (rs, cs) touches.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(rs)?.checked_add((cols - 1).checked_mul(cs)?)?.checked_add(1)
}

/// `C = A·B + beta·C` with A `m × k`, B `k × n` and C `m × n` row-major with
/// row stride `rc`; every bound is checked so the unsafe call cannot stray.
fn gemm<T: Gemm>(
    (m, k, n): (usize, usize, usize),
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    beta: T,
    c: &mut [T],
    rc: usize,
) -> Result<()> {
    let fits = |x: Option<usize>, len: usize| x.is_some_and(|s| s <= len);
    if !fits(span(m, k, a.rs, a.cs), a.data.len())
        || !fits(span(k, n, b.rs, b.cs), b.data.len())
        || !fits(span(m, n, rc, 1), c.len())
        || (m > 1 && rc < n)
    {
        bail!("internal error: GEMM operands out of bounds");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for i in 0..m {
            for v in &mut c[i * rc..i * rc + n] {
                *v = *v * beta;
            }
        }
        return Ok(());
    }
    // SAFETY: the spans of A, B and C were checked against their slices
    // above, C's rows do not overlap (rc >= n, unit column stride), and the
    // borrow rules keep C apart from A and B.
    unsafe { T::raw(m, k, n, a, b, beta, c.as_mut_ptr(), rc as isize) };
    Ok(())
}

/// A contiguous row-major `rows × cols` matrix view.
fn rows_of<T>(data: &[T], cols: usize) -> Mat<'_, T> {
    Mat { data, rs: cols, cs: 1 }
}

// ---------------------------------------------------------------------------
// Sliding-window geometry, im2col and col2im.

/// How a kernel slides over an image: grid position `p` and kernel offset
/// `k` touch image index `p * stride + k * dilation - pad` on each axis;
/// indices outside the image read as zero (im2col) or are dropped (col2im).
#[derive(Debug, Clone)]
struct Geom {
    /// Spatial shape of the image (Conv input, ConvTranspose output).
    image: Vec<usize>,
    /// Spatial shape of the grid of kernel positions (Conv output, ConvTranspose input).
    grid: Vec<usize>,
    /// Kernel shape.
    kernel: Vec<usize>,
    /// Strides.
    strides: Vec<usize>,
    /// Dilations.
    dilations: Vec<usize>,
    /// Padding at the start of each axis (may be negative for ConvTranspose).
    pads: Vec<i64>,
}

impl Geom {
    fn image_len(&self) -> usize {
        self.image.iter().product()
    }
    fn grid_len(&self) -> usize {
        self.grid.iter().product()
    }
    fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }
    /// Length of the last grid axis (one row of positions).
    fn row_len(&self) -> usize {
        self.grid.last().copied().unwrap_or(1)
    }
    /// Number of grid rows (positions over all axes but the last).
    fn rows(&self) -> usize {
        self.grid[..self.grid.len().saturating_sub(1)].iter().product()
    }
    /// Grid rows per chunk so that `height` buffer rows stay within the budget.
    fn chunk_rows(&self, height: usize) -> usize {
        (COLS_BUDGET / (height * self.row_len()).max(1)).clamp(1, self.rows().max(1))
    }

    /// Calls `f(kernel_index, column, valid, image_start)` for every kernel
    /// offset and grid row in `rows`: the row's positions occupy columns
    /// `column..column + row_len` of a buffer covering `rows`, those in
    /// `valid` touch the image (from flat index `image_start`, one stride
    /// apart), the others fall in the padding.
    fn segments(&self, rows: Range<usize>, mut f: impl FnMut(usize, usize, Range<usize>, usize)) {
        let nd = self.image.len();
        let last = nd - 1;
        let gw = self.row_len();
        let (iw, sw, dw) = (self.image[last] as i64, self.strides[last] as i64, self.dilations[last] as i64);
        let mut img_strides = vec![1usize; nd];
        for d in (0..last).rev() {
            img_strides[d] = img_strides[d + 1] * self.image[d + 1];
        }
        let mut kpos = vec![0usize; nd];
        let mut opos = vec![0usize; last];
        for kidx in 0..self.kernel_len() {
            unravel(kidx, &self.kernel, &mut kpos);
            let off = kpos[last] as i64 * dw - self.pads[last];
            // Positions q with 0 <= q * sw + off < iw.
            let lo = if off >= 0 { 0 } else { (-off + sw - 1) / sw };
            let hi = if iw - off <= 0 { 0 } else { (iw - off + sw - 1) / sw };
            let lo = (lo as usize).min(gw);
            let hi = (hi as usize).clamp(lo, gw);
            unravel(rows.start, &self.grid[..last], &mut opos);
            for r in 0..rows.len() {
                let mut base = Some(0usize);
                for d in 0..last {
                    let i = (opos[d] * self.strides[d] + kpos[d] * self.dilations[d]) as i64 - self.pads[d];
                    if i < 0 || i >= self.image[d] as i64 {
                        base = None;
                        break;
                    }
                    base = base.map(|b| b + i as usize * img_strides[d]);
                }
                match base {
                    Some(b) if lo < hi => f(kidx, r * gw, lo..hi, b + (lo as i64 * sw + off) as usize),
                    _ => f(kidx, r * gw, 0..0, 0),
                }
                next_index(&mut opos, &self.grid[..last]);
            }
        }
    }

    /// Fills `cols` (`channels * kernel_len` rows, one column per grid
    /// position of `rows`) from `x` (`channels` images).
    fn im2col<T: Copy + Default>(&self, x: &[T], channels: usize, rows: Range<usize>, cols: &mut [T]) {
        let (k_len, img_len, gw) = (self.kernel_len(), self.image_len(), self.row_len());
        let width = rows.len() * gw;
        let sw = self.strides[self.strides.len() - 1];
        self.segments(rows, |kidx, col, valid, start| {
            for c in 0..channels {
                let dst = &mut cols[(c * k_len + kidx) * width + col..][..gw];
                let src = &x[c * img_len..(c + 1) * img_len];
                dst[..valid.start].fill(T::default());
                dst[valid.end..].fill(T::default());
                let n = valid.len();
                if n == 0 {
                    continue;
                }
                if sw == 1 {
                    dst[valid.clone()].copy_from_slice(&src[start..start + n]);
                } else {
                    for (d, s) in dst[valid.clone()].iter_mut().zip(src[start..].iter().step_by(sw)) {
                        *d = *s;
                    }
                }
            }
        });
    }

    /// Adds `cols` (laid out as [`Geom::im2col`] writes it) into `img`
    /// (`channels` images), dropping positions that fall in the padding.
    fn col2im<T: Accum>(&self, cols: &[T], channels: usize, rows: Range<usize>, img: &mut [T]) {
        let (k_len, img_len) = (self.kernel_len(), self.image_len());
        let width = rows.len() * self.row_len();
        let sw = self.strides[self.strides.len() - 1];
        self.segments(rows, |kidx, col, valid, start| {
            if valid.is_empty() {
                return;
            }
            for c in 0..channels {
                let src = &cols[(c * k_len + kidx) * width + col..][valid.clone()];
                let dst = &mut img[c * img_len..(c + 1) * img_len][start..];
                for (d, s) in dst.iter_mut().step_by(sw).zip(src) {
                    *d = d.acc(*s);
                }
            }
        });
    }
}

/// Output spatial shape and start pads of a Conv-like op (Conv, ConvInteger,
/// QLinearConv, DeformConv) from its padding attributes.
fn conv_grid(
    auto_pad: AutoPad,
    image: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: &[i64],
) -> Result<(Vec<usize>, Vec<i64>)> {
    let nd = image.len();
    let mut grid = Vec::with_capacity(nd);
    let mut begin = Vec::with_capacity(nd);
    for d in 0..nd {
        let (i, s, ke) = (image[d] as i128, strides[d] as i128, extent(kernel[d], dilations[d]));
        if auto_pad.is_same() {
            let out = (i + s - 1) / s;
            let total = ((out - 1) * s + ke - i).max(0);
            grid.push(to_dim(out, "the output size")?);
            begin.push(to_pad(auto_pad.split(total).0)?);
            continue;
        }
        let (pb, pe) = if auto_pad == AutoPad::Valid { (0, 0) } else { (pads[d], pads[nd + d]) };
        grid.push(to_dim(window_count(i + i128::from(pb + pe) - ke, s, d)?, "the output size")?);
        begin.push(pb);
    }
    numel(&grid)?;
    Ok((grid, begin))
}

/// Window positions `span / stride + 1` for `span` = padded input minus
/// kernel extent. The division truncates like onnx shape inference and
/// onnxruntime, so a kernel overhanging the input by less than a stride
/// still gives one window (reading zeros past the end).
pub(super) fn window_count(span: i128, stride: i128, axis: usize) -> Result<i128> {
    let n = span / stride + 1;
    if n < 0 {
        bail!("the kernel extends {} past the padded input on spatial axis {axis}", -span);
    }
    Ok(n)
}

/// The kernel's spatial shape from the weights, checked against `kernel_shape`.
fn kernel_from(ctx: &Ctx<'_>, w_spatial: &[usize]) -> Result<Vec<usize>> {
    if let Some(ks) = ctx.ints("kernel_shape")?
        && !ks.is_empty()
        && (ks.len() != w_spatial.len() || ks.iter().zip(w_spatial).any(|(&a, &b)| a != b as i64))
    {
        bail!("kernel_shape {ks:?} does not match the weights' spatial shape {w_spatial:?}");
    }
    if w_spatial.contains(&0) {
        bail!("the kernel shape {w_spatial:?} has an empty axis");
    }
    Ok(w_spatial.to_vec())
}

/// Channel layout of a grouped convolution.
#[derive(Debug, Clone, Copy)]
struct Channels {
    /// Batch size.
    n: usize,
    /// Input channels.
    c: usize,
    /// Output channels.
    m: usize,
    /// Groups.
    group: usize,
}

/// Checks ranks and reads `group` for an op on `x` with weights `w`.
fn read_group(ctx: &Ctx<'_>, x: &[usize], w: &[usize]) -> Result<usize> {
    if x.len() < 3 {
        bail!("the input must have rank >= 3 (N, C, spatial...), got shape {x:?}");
    }
    if w.len() != x.len() {
        bail!("weights of shape {w:?} do not match the input of shape {x:?}");
    }
    let group = ctx.int("group", 1)?;
    if !(1..=MAX_ATTR).contains(&group) {
        bail!("group must be in 1..={MAX_ATTR}, got {group}");
    }
    Ok(group as usize)
}

/// Reads the attributes of a Conv-like op with input `x` and weights `w`
/// (`[M, C/group, k...]`).
fn conv_params(ctx: &Ctx<'_>, x: &[usize], w: &[usize]) -> Result<(Channels, Geom)> {
    let group = read_group(ctx, x, w)?;
    let nd = x.len() - 2;
    let (c, m) = (x[1], w[0]);
    if w[1].checked_mul(group) != Some(c) {
        bail!("the input has {c} channels but weights of shape {w:?} with group {group} do not fit");
    }
    if m % group != 0 {
        bail!("{m} output channels are not divisible by group {group}");
    }
    let kernel = kernel_from(ctx, &w[2..])?;
    let strides = steps_attr(ctx, "strides", nd)?;
    let dilations = steps_attr(ctx, "dilations", nd)?;
    let pads = ints_attr(ctx, "pads", 2 * nd, 0, 0)?;
    let image = x[2..].to_vec();
    let (grid, pads) = conv_grid(AutoPad::read(ctx)?, &image, &kernel, &strides, &dilations, &pads)?;
    Ok((Channels { n: x[0], c, m, group }, Geom { image, grid, kernel, strides, dilations, pads }))
}

/// Output shape `[n, m, spatial...]`.
fn out_shape(n: usize, m: usize, spatial: &[usize]) -> Vec<usize> {
    [n, m].into_iter().chain(spatial.iter().copied()).collect()
}

/// Checks an optional bias has shape `[m]`.
fn check_bias(b: Option<&Tensor>, m: usize) -> Result<()> {
    match b {
        Some(b) if b.shape() != [m] => bail!("the bias has shape {:?}, expected [{m}]", b.shape()),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Float dispatch.

/// A computation over float buffers, generic in the element type it runs on.
pub(super) trait FloatKernel {
    /// Runs on the inputs' contiguous elements (absent optional inputs are
    /// `None`), returning each output's elements.
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>>;
}

/// Runs `k` on float inputs of one dtype (the first input's), natively for
/// f32/f64 and through f32 for f16/bf16; outputs get `shapes`.
pub(super) fn dispatch_float(
    k: &impl FloatKernel,
    ins: &[Option<&Tensor>],
    shapes: &[Vec<usize>],
) -> Result<Vec<Value>> {
    let Some(Some(first)) = ins.first() else { bail!("internal error: no input") };
    let dtype = first.dtype();
    if let Some(t) = ins.iter().flatten().find(|t| t.dtype() != dtype) {
        bail!("all float inputs must share one type, got {dtype} and {}", t.dtype());
    }
    macro_rules! native {
        ($v:ident, $t:ty) => {{
            let bufs: Vec<Option<Cow<'_, [$t]>>> = ins
                .iter()
                .map(|t| t.map(|t| if let Tensor::$v(a) = t { contig(a) } else { Cow::Borrowed(&[][..]) }))
                .collect();
            let views: Vec<Option<&[$t]>> = bufs.iter().map(|b| b.as_deref()).collect();
            let outs = k.run::<$t>(&views)?;
            outs.into_iter().zip(shapes).map(|(o, s)| Ok(Value::Tensor(Tensor::$v(array(s, o)?)))).collect()
        }};
    }
    macro_rules! via_f32 {
        ($v:ident, $t:ty) => {{
            let bufs: Vec<Option<Vec<f32>>> = ins
                .iter()
                .map(|t| t.map(|t| if let Tensor::$v(a) = t { a.iter().map(|v| v.to_f32()).collect() } else { vec![] }))
                .collect();
            let views: Vec<Option<&[f32]>> = bufs.iter().map(|b| b.as_deref()).collect();
            let outs = k.run::<f32>(&views)?;
            outs.into_iter()
                .zip(shapes)
                .map(|(o, s)| {
                    let v = o.into_iter().map(<$t>::from_f32).collect();
                    Ok(Value::Tensor(Tensor::$v(array(s, v)?)))
                })
                .collect()
        }};
    }
    match first {
        Tensor::F32(_) => native!(F32, f32),
        Tensor::F64(_) => native!(F64, f64),
        Tensor::F16(_) => via_f32!(F16, f16),
        Tensor::BF16(_) => via_f32!(BF16, bf16),
        t => bail!("{} is not supported here (float types only)", t.dtype()),
    }
}

// ---------------------------------------------------------------------------
// Conv.

/// `y = conv(x, w) + b`: x `[n, c, image...]`, w `[m, c/group, kernel...]`,
/// y `[n, m, grid...]`, all contiguous.
fn conv_core<T: Gemm>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, g: &Geom) -> Result<Vec<T>> {
    let Channels { n, c, m, group } = ch;
    let (img_len, out_len, k_len) = (g.image_len(), g.grid_len(), g.kernel_len());
    let (cg, mg) = (c / group, m / group);
    let kc = cg * k_len;
    if x.len() != n * c * img_len || w.len() != m * kc {
        bail!("internal error: Conv buffer sizes");
    }
    let mut y = vec![T::zero(); numel(&[n, m, out_len])?];
    if out_len > 0 && mg > 0 {
        let pointwise = k_len == 1 && g.image == g.grid && g.strides.iter().all(|&s| s == 1);
        let pointwise = pointwise && g.pads.iter().all(|&p| p == 0);
        let (gw, rows) = (g.row_len(), g.rows());
        let chunk = g.chunk_rows(kc);
        let mut cols = if pointwise { Vec::new() } else { vec![T::zero(); numel(&[kc, chunk, gw])?] };
        for b in 0..n {
            for gi in 0..group {
                let xg = &x[(b * c + gi * cg) * img_len..][..cg * img_len];
                let wg = rows_of(&w[gi * mg * kc..][..mg * kc], kc);
                let yg = &mut y[(b * m + gi * mg) * out_len..][..mg * out_len];
                if pointwise {
                    gemm((mg, kc, out_len), wg, rows_of(xg, out_len), T::zero(), yg, out_len)?;
                    continue;
                }
                for r0 in (0..rows).step_by(chunk) {
                    let r1 = (r0 + chunk).min(rows);
                    let width = (r1 - r0) * gw;
                    let buf = &mut cols[..kc * width];
                    g.im2col(xg, cg, r0..r1, buf);
                    let yr = &mut yg[r0 * gw..];
                    if mg == 1 {
                        // One output channel (depthwise): a weighted sum of
                        // the rows beats a GEMM's packing overhead.
                        let yr = &mut yr[..width];
                        yr.fill(T::zero());
                        for (row, &wv) in buf.chunks_exact(width).zip(&w[gi * kc..][..kc]) {
                            yr.iter_mut().zip(row).for_each(|(y, &v)| *y = *y + wv * v);
                        }
                        continue;
                    }
                    gemm((mg, kc, width), wg, rows_of(buf, width), T::zero(), yr, out_len)?;
                }
            }
        }
    }
    add_bias(&mut y, bias, m, out_len);
    Ok(y)
}

/// Adds `bias[channel]` to every `[.., m, len]` plane.
fn add_bias<T: Gemm>(y: &mut [T], bias: Option<&[T]>, m: usize, len: usize) {
    let Some(bias) = bias else { return };
    if len == 0 || m == 0 {
        return;
    }
    for (i, plane) in y.chunks_exact_mut(len).enumerate() {
        let b = bias[i % m];
        plane.iter_mut().for_each(|v| *v = *v + b);
    }
}

struct ConvK<'a> {
    ch: Channels,
    geom: &'a Geom,
}

impl FloatKernel for ConvK<'_> {
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>> {
        let (Some(x), Some(w)) = (ins[0], ins[1]) else { bail!("internal error: missing input") };
        Ok(vec![conv_core(x, w, ins[2], self.ch, self.geom)?])
    }
}

/// Conv (opsets 1, 11, 22).
fn conv(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let w = ctx.input(inputs, 1)?;
    let b = ctx.opt_input(inputs, 2)?;
    let (ch, geom) = conv_params(ctx, x.shape(), w.shape())?;
    check_bias(b, ch.m)?;
    let shape = out_shape(ch.n, ch.m, &geom.grid);
    dispatch_float(&ConvK { ch, geom: &geom }, &[Some(x), Some(w), b], &[shape])
}

// ---------------------------------------------------------------------------
// ConvTranspose.

/// Reads ConvTranspose's attributes; the geometry's image is the output
/// and its grid the input. Returns the output channel count too.
fn conv_transpose_params(ctx: &Ctx<'_>, x: &[usize], w: &[usize]) -> Result<(Channels, Geom)> {
    let group = read_group(ctx, x, w)?;
    let nd = x.len() - 2;
    let c = x[1];
    if w[0] != c || !c.is_multiple_of(group) {
        bail!("the input has {c} channels but the weights of shape {w:?} with group {group} expect {}", w[0]);
    }
    let Some(m) = w[1].checked_mul(group) else { bail!("{} output channels per group times {group} overflow", w[1]) };
    let kernel = kernel_from(ctx, &w[2..])?;
    let strides = steps_attr(ctx, "strides", nd)?;
    let dilations = steps_attr(ctx, "dilations", nd)?;
    let out_pad = ints_attr(ctx, "output_padding", nd, 0, 0)?;
    let pads = ints_attr(ctx, "pads", 2 * nd, 0, 0)?;
    let auto_pad = AutoPad::read(ctx)?;
    let output_shape = match ctx.ints("output_shape")? {
        Some(v) if v.is_empty() => None,
        // Some exporters include the batch and channel dimensions.
        Some(v) if v.len() == nd + 2 => Some(v[2..].to_vec()),
        Some(v) if v.len() == nd => Some(v),
        Some(v) => bail!("output_shape {v:?} has {} values, expected {nd}", v.len()),
        None => None,
    };
    let mut image = Vec::with_capacity(nd);
    let mut begin = Vec::with_capacity(nd);
    for d in 0..nd {
        let (i, s) = (x[d + 2] as i128, strides[d] as i128);
        let full = s * (i - 1) + i128::from(out_pad[d]) + extent(kernel[d], dilations[d]);
        // With a target size the padding follows from it; a negative total
        // is clamped to zero (an explicit output_shape then keeps its size,
        // the extra outputs getting only the bias, while SAME shrinks to
        // the full size, as onnx shape inference and onnxruntime do). The
        // odd pixel goes last for SAME_UPPER, first otherwise (the spec's
        // formula, which NOTSET and VALID follow too).
        let target = match &output_shape {
            Some(os) => Some(i128::from(os[d])),
            None if auto_pad.is_same() => Some((i * s).min(full)),
            None => None,
        };
        let (out, pb) = match target {
            Some(out) => {
                let total = (full - out).max(0);
                let small = total / 2;
                (out, if auto_pad == AutoPad::SameUpper { small } else { total - small })
            }
            None if auto_pad == AutoPad::Valid => (full, 0),
            None => (full - i128::from(pads[d] + pads[nd + d]), i128::from(pads[d])),
        };
        image.push(to_dim(out, "the ConvTranspose output size")?);
        begin.push(to_pad(pb)?);
    }
    numel(&image)?;
    let grid = x[2..].to_vec();
    Ok((Channels { n: x[0], c, m, group }, Geom { image, grid, kernel, strides, dilations, pads: begin }))
}

/// `y = conv_transpose(x, w) + b`: x `[n, c, grid...]`, w `[c, m/group,
/// kernel...]`, y `[n, m, image...]`: a GEMM per group into columns, then
/// col2im scatters them into the output.
fn conv_transpose_core<T: Gemm>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, g: &Geom) -> Result<Vec<T>> {
    let Channels { n, c, m, group } = ch;
    let (in_len, out_len, k_len) = (g.grid_len(), g.image_len(), g.kernel_len());
    let (cg, mg) = (c / group, m / group);
    let kr = mg * k_len;
    if x.len() != n * c * in_len || w.len() != c * kr {
        bail!("internal error: ConvTranspose buffer sizes");
    }
    let mut y = vec![T::zero(); numel(&[n, m, out_len])?];
    if in_len > 0 && kr > 0 && out_len > 0 {
        let (gw, rows) = (g.row_len(), g.rows());
        let chunk = g.chunk_rows(kr);
        let mut cols = vec![T::zero(); numel(&[kr, chunk, gw])?];
        for b in 0..n {
            for gi in 0..group {
                let xg = &x[(b * c + gi * cg) * in_len..][..cg * in_len];
                // W_g is [cg, kr] row-major; the GEMM reads its transpose.
                let wt = Mat { data: &w[gi * cg * kr..][..cg * kr], rs: 1, cs: kr };
                let yg = &mut y[(b * m + gi * mg) * out_len..][..mg * out_len];
                for r0 in (0..rows).step_by(chunk) {
                    let r1 = (r0 + chunk).min(rows);
                    let width = (r1 - r0) * gw;
                    let buf = &mut cols[..kr * width];
                    let xs = Mat { data: &xg[r0 * gw..], rs: in_len, cs: 1 };
                    gemm((kr, cg, width), wt, xs, T::zero(), buf, width)?;
                    g.col2im(buf, mg, r0..r1, yg);
                }
            }
        }
    }
    add_bias(&mut y, bias, m, out_len);
    Ok(y)
}

struct ConvTransposeK<'a> {
    ch: Channels,
    geom: &'a Geom,
}

impl FloatKernel for ConvTransposeK<'_> {
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>> {
        let (Some(x), Some(w)) = (ins[0], ins[1]) else { bail!("internal error: missing input") };
        Ok(vec![conv_transpose_core(x, w, ins[2], self.ch, self.geom)?])
    }
}

/// ConvTranspose (opsets 1, 11, 22).
fn conv_transpose(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let w = ctx.input(inputs, 1)?;
    let b = ctx.opt_input(inputs, 2)?;
    let (ch, geom) = conv_transpose_params(ctx, x.shape(), w.shape())?;
    check_bias(b, ch.m)?;
    let shape = out_shape(ch.n, ch.m, &geom.image);
    dispatch_float(&ConvTransposeK { ch, geom: &geom }, &[Some(x), Some(w), b], &[shape])
}

// ---------------------------------------------------------------------------
// ConvInteger and QLinearConv.

/// The elements of an int8/uint8 tensor as f64, for exact integer GEMMs.
fn quant_f64(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    Ok(match t {
        Tensor::U8(a) => a.iter().map(|&v| f64::from(v)).collect(),
        Tensor::I8(a) => a.iter().map(|&v| f64::from(v)).collect(),
        t => bail!("{what} must be int8 or uint8, got {}", t.dtype()),
    })
}

/// Zero point values of `zp` (same dtype as `of`), one or `count` of them.
fn zero_points(zp: Option<&Tensor>, of: &Tensor, count: usize, what: &str) -> Result<Vec<f64>> {
    let Some(zp) = zp else { return Ok(vec![0.0]) };
    if zp.dtype() != of.dtype() {
        bail!("{what} is {} but its tensor is {}", zp.dtype(), of.dtype());
    }
    let v = quant_f64(zp, what)?;
    if v.len() != 1 && v.len() != count {
        bail!(
            "{what} has {} values, expected 1{}",
            v.len(),
            if count > 1 { format!(" or {count}") } else { String::new() }
        );
    }
    Ok(v)
}

/// The exact integer convolution `(x - x_zp) * (w - w_zp)` shared by
/// ConvInteger and QLinearConv, wrapped to i32 like a 32-bit accumulator.
fn integer_conv(
    ctx: &Ctx<'_>,
    x: &Tensor,
    w: &Tensor,
    x_zp: Option<&Tensor>,
    w_zp: Option<&Tensor>,
) -> Result<(Vec<i32>, Channels, Geom)> {
    let (ch, geom) = conv_params(ctx, x.shape(), w.shape())?;
    let xz = zero_points(x_zp, x, 1, "x_zero_point")?;
    let wz = zero_points(w_zp, w, ch.m, "w_zero_point")?;
    let mut xf = quant_f64(x, "x")?;
    if xz[0] != 0.0 {
        xf.iter_mut().for_each(|v| *v -= xz[0]);
    }
    let mut wf = quant_f64(w, "w")?;
    let per = w.len() / ch.m.max(1);
    if per > 0 {
        for (i, row) in wf.chunks_exact_mut(per).enumerate() {
            let z = if wz.len() == 1 { wz[0] } else { wz[i] };
            row.iter_mut().for_each(|v| *v -= z);
        }
    }
    let acc = conv_core(&xf, &wf, None, ch, &geom)?;
    // The sums are exact integers far inside i64; `as i32` wraps like i32 arithmetic.
    Ok((acc.into_iter().map(|v| v as i64 as i32).collect(), ch, geom))
}

/// ConvInteger (opset 10): int8/uint8 inputs, i32 output.
fn conv_integer(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let w = ctx.input(inputs, 1)?;
    let (acc, ch, geom) = integer_conv(ctx, x, w, ctx.opt_input(inputs, 2)?, ctx.opt_input(inputs, 3)?)?;
    Ok(vec![Value::Tensor(Tensor::I32(array(&out_shape(ch.n, ch.m, &geom.grid), acc)?))])
}

/// Scale values of a float tensor: one, or `count` when per channel is allowed.
fn scales(t: &Tensor, count: usize, what: &str) -> Result<Vec<f32>> {
    if !matches!(t, Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_)) {
        bail!("{what} must be a float tensor, got {}", t.dtype());
    }
    let v: Vec<f32> = t.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
    if v.len() != 1 && v.len() != count {
        bail!(
            "{what} has {} values, expected 1{}",
            v.len(),
            if count > 1 { format!(" or {count}") } else { String::new() }
        );
    }
    Ok(v)
}

/// QLinearConv (opset 10): quantized conv with requantization to the
/// output's scale and zero point, rounding half to even and saturating.
fn qlinear_conv(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let x_scale = scales(ctx.input(inputs, 1)?, 1, "x_scale")?;
    let x_zp = ctx.input(inputs, 2)?;
    let w = ctx.input(inputs, 3)?;
    let w_scale_t = ctx.input(inputs, 4)?;
    let w_zp = ctx.input(inputs, 5)?;
    let y_scale = scales(ctx.input(inputs, 6)?, 1, "y_scale")?;
    let y_zp = ctx.input(inputs, 7)?;
    let bias = ctx.opt_input(inputs, 8)?;
    let (mut acc, ch, geom) = integer_conv(ctx, x, w, Some(x_zp), Some(w_zp))?;
    let w_scale = scales(w_scale_t, ch.m, "w_scale")?;
    let out_len = geom.grid_len();
    if let Some(b) = bias {
        check_bias(Some(b), ch.m)?;
        let Tensor::I32(b) = b else { bail!("the bias must be int32, got {}", b.dtype()) };
        let b = contig(b);
        if out_len > 0 {
            for (i, plane) in acc.chunks_exact_mut(out_len).enumerate() {
                let bv = b[i % ch.m];
                plane.iter_mut().for_each(|v| *v = v.wrapping_add(bv));
            }
        }
    }
    let multipliers: Vec<f32> =
        (0..ch.m).map(|i| x_scale[0] * if w_scale.len() == 1 { w_scale[0] } else { w_scale[i] } / y_scale[0]).collect();
    let zp = y_zp.scalar_f64()? as f32;
    let (lo, hi) = match y_zp {
        Tensor::U8(_) => (0.0f32, 255.0f32),
        Tensor::I8(_) => (-128.0, 127.0),
        t => bail!("y_zero_point must be int8 or uint8, got {}", t.dtype()),
    };
    let mut q = vec![0f32; acc.len()];
    if out_len > 0 {
        for (i, (src, dst)) in acc.chunks_exact(out_len).zip(q.chunks_exact_mut(out_len)).enumerate() {
            let s = multipliers[i % ch.m];
            for (a, o) in src.iter().zip(dst) {
                // Round, then shift by the (integer) zero point, as onnxruntime does.
                *o = (((*a as f32) * s).round_ties_even() + zp).clamp(lo, hi);
            }
        }
    }
    let shape = out_shape(ch.n, ch.m, &geom.grid);
    let y = match y_zp {
        Tensor::U8(_) => Tensor::U8(array(&shape, q.into_iter().map(|v| v as u8).collect())?),
        _ => Tensor::I8(array(&shape, q.into_iter().map(|v| v as i8).collect())?),
    };
    Ok(vec![Value::Tensor(y)])
}

// ---------------------------------------------------------------------------
// DeformConv.

/// Most spatial axes DeformConv interpolates over (2^n corners per sample).
const DEFORM_MAX_AXES: usize = 4;

/// Multilinear interpolation of `img` (shape `shape`) at fractional `pos`,
/// reading zero outside the image.
fn interpolate<T: Gemm>(img: &[T], shape: &[usize], pos: &[T]) -> T {
    let nd = shape.len();
    let mut lo = [0i64; DEFORM_MAX_AXES];
    let mut frac = [T::zero(); DEFORM_MAX_AXES];
    for d in 0..nd {
        let f = pos[d].floor();
        // Far outside positions read zero; clamping keeps the cast defined.
        let fl = f.to_f64().unwrap_or(-2.0).clamp(-2.0, shape[d] as f64 + 1.0);
        lo[d] = fl as i64;
        frac[d] = pos[d] - f;
    }
    let mut acc = T::zero();
    'corner: for corner in 0..(1usize << nd) {
        let mut weight = T::one();
        let mut flat = 0usize;
        for d in 0..nd {
            let up = corner >> (nd - 1 - d) & 1 == 1;
            let i = lo[d] + i64::from(up);
            if i < 0 || i >= shape[d] as i64 {
                continue 'corner;
            }
            weight = weight * if up { frac[d] } else { T::one() - frac[d] };
            flat = flat * shape[d] + i as usize;
        }
        acc = acc + weight * img[flat];
    }
    acc
}

struct DeformK<'a> {
    ch: Channels,
    geom: &'a Geom,
    offset_group: usize,
}

impl FloatKernel for DeformK<'_> {
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>> {
        let (Some(x), Some(w), Some(offset)) = (ins[0], ins[1], ins[2]) else { bail!("internal error: missing input") };
        let (bias, mask) = (ins[3], ins[4]);
        let Channels { n, c, m, group } = self.ch;
        let g = self.geom;
        let nd = g.image.len();
        let (img_len, out_len, k_len) = (g.image_len(), g.grid_len(), g.kernel_len());
        let (cg, mg, og) = (c / group, m / group, self.offset_group);
        let kc = cg * k_len;
        let per_og = c / og;
        let mut y = vec![T::zero(); numel(&[n, m, out_len])?];
        let mut cols = vec![T::zero(); numel(&[kc, out_len])?];
        let (mut kpos, mut opos) = (vec![0usize; nd], vec![0usize; nd]);
        let mut pos = [T::zero(); DEFORM_MAX_AXES];
        let to_t = |v: i64| T::from(v).unwrap_or_else(T::zero);
        for b in 0..n {
            for gi in 0..group {
                for ci in 0..cg {
                    let chn = gi * cg + ci;
                    let ogi = chn / per_og;
                    let xc = &x[(b * c + chn) * img_len..][..img_len];
                    for kidx in 0..k_len {
                        unravel(kidx, &g.kernel, &mut kpos);
                        let row = &mut cols[(ci * k_len + kidx) * out_len..][..out_len];
                        let slot = (b * og + ogi) * k_len + kidx;
                        let offs = &offset[slot * nd * out_len..][..nd * out_len];
                        let mask = mask.map(|mk| &mk[slot * out_len..][..out_len]);
                        opos.iter_mut().for_each(|v| *v = 0);
                        for (p, dst) in row.iter_mut().enumerate() {
                            for d in 0..nd {
                                let base = (opos[d] * g.strides[d] + kpos[d] * g.dilations[d]) as i64 - g.pads[d];
                                pos[d] = to_t(base) + offs[d * out_len + p];
                            }
                            let v = interpolate(xc, &g.image, &pos[..nd]);
                            *dst = match mask {
                                Some(mk) => v * mk[p],
                                None => v,
                            };
                            next_index(&mut opos, &g.grid);
                        }
                    }
                }
                let wg = rows_of(&w[gi * mg * kc..][..mg * kc], kc);
                let yg = &mut y[(b * m + gi * mg) * out_len..][..mg * out_len];
                gemm((mg, kc, out_len), wg, rows_of(&cols, out_len), T::zero(), yg, out_len)?;
            }
        }
        add_bias(&mut y, bias, m, out_len);
        Ok(vec![y])
    }
}

/// DeformConv (opsets 19, 22): convolution sampling the input at learned
/// fractional offsets (multilinear, zero outside), optionally masked.
fn deform_conv(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let w = ctx.input(inputs, 1)?;
    let offset = ctx.input(inputs, 2)?;
    let b = ctx.opt_input(inputs, 3)?;
    let mask = ctx.opt_input(inputs, 4)?;
    if AutoPad::read(ctx)? != AutoPad::NotSet {
        bail!("DeformConv has no auto_pad");
    }
    let (ch, geom) = conv_params(ctx, x.shape(), w.shape())?;
    let nd = geom.image.len();
    if nd > DEFORM_MAX_AXES {
        bail!("DeformConv supports up to {DEFORM_MAX_AXES} spatial axes, got {nd}");
    }
    let og = ctx.int("offset_group", 1)?;
    if og < 1 || ch.c % og as usize != 0 {
        bail!("offset_group {og} does not divide the {} input channels", ch.c);
    }
    let og = og as usize;
    let k_len = geom.kernel_len();
    let expect = out_shape(ch.n, og * k_len * nd, &geom.grid);
    if offset.shape() != expect.as_slice() {
        bail!("the offset has shape {:?}, expected {expect:?}", offset.shape());
    }
    if let Some(mk) = mask {
        let expect = out_shape(ch.n, og * k_len, &geom.grid);
        if mk.shape() != expect.as_slice() {
            bail!("the mask has shape {:?}, expected {expect:?}", mk.shape());
        }
    }
    check_bias(b, ch.m)?;
    let shape = out_shape(ch.n, ch.m, &geom.grid);
    let k = DeformK { ch, geom: &geom, offset_group: og };
    dispatch_float(&k, &[Some(x), Some(w), Some(offset), b, mask], &[shape])
}

// ---------------------------------------------------------------------------
// Col2Im.

/// Col2Im (opset 18): sums column blocks `[N, C * prod(block), L]` back into
/// images `[N, C, image_shape...]`; any numeric type.
fn col2im_op(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let image = crate::util::dims(&ctx.input(inputs, 1)?.to_i64_vec()?)?;
    let block = crate::util::dims(&ctx.input(inputs, 2)?.to_i64_vec()?)?;
    let nd = image.len();
    if nd == 0 || block.len() != nd {
        bail!("image_shape {image:?} and block_shape {block:?} must be non-empty and of equal length");
    }
    if block.contains(&0) {
        bail!("block_shape {block:?} has an empty axis");
    }
    let &[n, ck, l] = x.shape() else { bail!("the input must have rank 3 [N, C*prod(block), L], got {:?}", x.shape()) };
    let k_len = numel(&block)?;
    if ck % k_len != 0 {
        bail!("input dimension 1 ({ck}) is not divisible by the block size {k_len}");
    }
    let c = ck / k_len;
    let strides = steps_attr(ctx, "strides", nd)?;
    let dilations = steps_attr(ctx, "dilations", nd)?;
    let pads = ints_attr(ctx, "pads", 2 * nd, 0, 0)?;
    let (grid, begin) = conv_grid(AutoPad::NotSet, &image, &block, &strides, &dilations, &pads)?;
    if grid.iter().product::<usize>() != l {
        bail!("the input has {l} blocks but the attributes give {grid:?}");
    }
    let geom = Geom { image, grid, kernel: block, strides, dilations, pads: begin };
    let shape = out_shape(n, c, &geom.image);
    fn run<T: Accum>(a: &ArrayD<T>, g: &Geom, n: usize, c: usize, shape: &[usize]) -> Result<ArrayD<T>> {
        let src = contig(a);
        let (img_len, in_len) = (g.image_len(), c * g.kernel_len() * g.grid_len());
        let mut out = vec![T::default(); numel(shape)?];
        if img_len > 0 && in_len > 0 {
            for (s, d) in src.chunks_exact(in_len).zip(out.chunks_exact_mut(c * img_len)).take(n) {
                g.col2im(s, c, 0..g.rows(), d);
            }
        }
        array(shape, out)
    }
    let y = crate::map_num!(x, a => run(a, &geom, n, c, &shape)?)?;
    Ok(vec![Value::Tensor(y)])
}

// ---------------------------------------------------------------------------
// CausalConvWithState.

struct CausalK {
    b: usize,
    c: usize,
    l: usize,
    k: usize,
    silu: bool,
}

impl FloatKernel for CausalK {
    fn run<T: Gemm>(&self, ins: &[Option<&[T]>]) -> Result<Vec<Vec<T>>> {
        let (Some(x), Some(w)) = (ins[0], ins[1]) else { bail!("internal error: missing input") };
        let (bias, past) = (ins[2], ins[3]);
        let CausalK { b, c, l, k, silu } = *self;
        let keep = k - 1;
        let mut y = vec![T::zero(); numel(&[b, c, l])?];
        let mut present = vec![T::zero(); numel(&[b, c, keep])?];
        let mut row = vec![T::zero(); l + keep];
        for bc in 0..b * c {
            let ch = bc % c;
            // The state (or zeros) followed by the input: a causal window.
            match past {
                Some(p) => row[..keep].copy_from_slice(&p[bc * keep..][..keep]),
                None => row[..keep].fill(T::zero()),
            }
            row[keep..].copy_from_slice(&x[bc * l..][..l]);
            let wk = &w[ch * k..][..k];
            let b0 = bias.map_or(T::zero(), |bs| bs[ch]);
            for (t, out) in y[bc * l..][..l].iter_mut().enumerate() {
                let v = row[t..t + k].iter().zip(wk).fold(b0, |a, (&xv, &wv)| a + xv * wv);
                *out = if silu { v / (T::one() + (-v).exp()) } else { v };
            }
            present[bc * keep..][..keep].copy_from_slice(&row[l..]);
        }
        Ok(vec![y, present])
    }
}

/// CausalConvWithState (opset 27): depthwise causal 1-D conv over the
/// carried state and the input, optional fused SiLU; returns the output and
/// the new state (the last k-1 positions).
fn causal_conv_with_state(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let w = ctx.input(inputs, 1)?;
    let bias = ctx.opt_input(inputs, 2)?;
    let past = ctx.opt_input(inputs, 3)?;
    let silu = match ctx.string("activation", "none")?.as_str() {
        "none" => false,
        "silu" | "swish" => true,
        other => bail!("activation '{other}' is not one of none, silu, swish"),
    };
    let &[b, c, l] = x.shape() else {
        bail!("the input must have rank 3 (batch, channels, length), got {:?}", x.shape())
    };
    let &[wc, 1, k] = w.shape() else { bail!("the weight must have shape (channels, 1, k), got {:?}", w.shape()) };
    if wc != c || k == 0 {
        bail!("the weight of shape {:?} does not fit {c} channels", w.shape());
    }
    check_bias(bias, c)?;
    if let Some(p) = past
        && p.shape() != [b, c, k - 1]
    {
        bail!("past_state has shape {:?}, expected [{b}, {c}, {}]", p.shape(), k - 1);
    }
    let shapes = [vec![b, c, l], vec![b, c, k - 1]];
    dispatch_float(&CausalK { b, c, l, k, silu }, &[Some(x), Some(w), bias, past], &shapes)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Runs a one-node model at `opset` on named inputs; returns the outputs.
    pub(crate) fn run_node(node: ir::Node, opset: i64, inputs: Vec<(&str, Tensor)>) -> Result<Vec<Tensor>> {
        let mut g = ir::Graph::default();
        for (name, _) in &inputs {
            g.inputs.push(ir::ValueInfo::untyped(*name));
        }
        for o in &node.outputs {
            g.outputs.push(ir::ValueInfo::untyped(o.clone()));
        }
        g.nodes.push(node);
        let mut model = ir::Model::new(g);
        model.opset_imports.insert(String::new(), opset);
        let feeds = inputs.into_iter().map(|(n, t)| (n.to_string(), Value::Tensor(t))).collect();
        crate::run(&model, feeds)?.into_iter().map(|(_, v)| v.into_tensor()).collect()
    }

    /// An f32 tensor.
    pub(crate) fn t32(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::f32(shape, v).unwrap()
    }

    /// Asserts `t` is f32 with `shape` and values within 1e-4 of `want`.
    pub(crate) fn close(t: &Tensor, shape: &[usize], want: &[f32]) {
        let Tensor::F32(a) = t else { panic!("expected f32, got {}", t.dtype()) };
        assert_eq!(a.shape(), shape);
        for (i, (g, w)) in a.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 + 1e-4 * w.abs(), "element {i}: got {g}, want {w}");
        }
        assert_eq!(a.len(), want.len());
    }

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|v| v as f32).collect()
    }

    fn node(op: &str, ins: &[&str], outs: &[&str]) -> ir::Node {
        ir::Node::new(op, ins.iter().copied(), outs.iter().copied())
    }

    #[test]
    fn conv_padded_and_strided() {
        // onnx test_basic_conv_with_padding / test_conv_with_strides_and_asymmetric_padding.
        let x = t32(&[1, 1, 5, 5], ramp(25));
        let w = t32(&[1, 1, 3, 3], vec![1.0; 9]);
        let n =
            node("Conv", &["x", "w"], &["y"]).with_attr("kernel_shape", vec![3i64, 3]).with_attr("pads", vec![1i64; 4]);
        let y = run_node(n, 11, vec![("x", x.clone()), ("w", w.clone())]).unwrap();
        #[rustfmt::skip]
        let want = [12., 21., 27., 33., 24., 33., 54., 63., 72., 51., 63., 99., 108., 117., 81.,
            93., 144., 153., 162., 111., 72., 111., 117., 123., 84.];
        close(&y[0], &[1, 1, 5, 5], &want);
        let x = t32(&[1, 1, 7, 5], ramp(35));
        let n = node("Conv", &["x", "w"], &["y"])
            .with_attr("pads", vec![1i64, 0, 1, 0])
            .with_attr("strides", vec![2i64, 2]);
        let y = run_node(n, 11, vec![("x", x), ("w", w)]).unwrap();
        close(&y[0], &[1, 1, 4, 2], &[21., 33., 99., 117., 189., 207., 171., 183.]);
    }

    #[test]
    fn conv_groups_dilation_bias_same_lower() {
        // onnx ReferenceEvaluator: depthwise 2 groups, dilation 2, SAME_LOWER, bias.
        let x = t32(&[1, 2, 4, 4], ramp(32));
        let w = t32(&[2, 1, 2, 2], vec![1., 2., 3., 4., -1., 0., 0., 1.]);
        let b = t32(&[2], vec![0.5, -0.5]);
        let n = node("Conv", &["x", "w", "b"], &["y"])
            .with_attr("group", 2i64)
            .with_attr("dilations", vec![2i64, 2])
            .with_attr("auto_pad", "SAME_LOWER");
        let y = run_node(n, 22, vec![("x", x), ("w", w), ("b", b)]).unwrap();
        #[rustfmt::skip]
        let want = [20.5, 36.5, 43.5, 18.5, 38.5, 68.5, 78.5, 32.5, 62.5, 108.5, 118.5, 48.5, 18.5, 28.5, 31.5, 10.5,
            20.5, 21.5, 22.5, -0.5, 24.5, 9.5, 9.5, -18.5, 28.5, 9.5, 9.5, -22.5, -0.5, -24.5, -25.5, -26.5];
        close(&y[0], &[1, 2, 4, 4], &want);
    }

    #[test]
    fn conv_1d_3d_f16_f64() {
        let x = Tensor::F16(array(&[1, 1, 4], [1., 2., 3., 4.].map(f16::from_f32).to_vec()).unwrap());
        let w = Tensor::F16(array(&[1, 1, 2], [1., -1.].map(f16::from_f32).to_vec()).unwrap());
        let y = run_node(node("Conv", &["x", "w"], &["y"]), 22, vec![("x", x), ("w", w)]).unwrap();
        assert_eq!(y[0], Tensor::F16(array(&[1, 1, 3], vec![f16::from_f32(-1.0); 3]).unwrap()));
        let x = Tensor::F64(array(&[1, 1, 2, 2, 2], (0..8).map(f64::from).collect()).unwrap());
        let w = Tensor::F64(array(&[1, 1, 2, 2, 2], vec![1.0; 8]).unwrap());
        let y = run_node(node("Conv", &["x", "w"], &["y"]), 11, vec![("x", x), ("w", w)]).unwrap();
        assert_eq!(y[0], Tensor::F64(array(&[1, 1, 1, 1, 1], vec![28.0]).unwrap()));
    }

    #[test]
    fn conv_rejects_bad_inputs() {
        let x = t32(&[1, 2, 4, 4], ramp(32));
        let w = t32(&[1, 3, 3, 3], vec![1.0; 27]);
        assert!(run_node(node("Conv", &["x", "w"], &["y"]), 11, vec![("x", x.clone()), ("w", w)]).is_err());
        let w = t32(&[1, 2, 6, 6], vec![1.0; 72]);
        assert!(run_node(node("Conv", &["x", "w"], &["y"]), 11, vec![("x", x.clone()), ("w", w)]).is_err());
        let w = Tensor::F64(array(&[1, 2, 1, 1], vec![1.0; 2]).unwrap());
        assert!(run_node(node("Conv", &["x", "w"], &["y"]), 11, vec![("x", x), ("w", w)]).is_err());
    }

    #[test]
    fn absurd_attributes_fail_cleanly() {
        let x = t32(&[1, 2, 4, 4], ramp(32));
        let w = t32(&[2, 1, 3, 3], vec![1.0; 18]);
        let bad = [
            ("strides", ir::Attribute::Ints(vec![i64::MAX, 1])),
            ("pads", ir::Attribute::Ints(vec![i64::MAX, 0, i64::MAX, 0])),
            ("dilations", ir::Attribute::Ints(vec![1 << 31, 1 << 31])),
            ("pads", ir::Attribute::Ints(vec![1 << 31; 4])),
            ("group", ir::Attribute::Int(i64::MAX)),
            ("group", ir::Attribute::Int(0)),
            ("output_shape", ir::Attribute::Ints(vec![i64::MAX, 4])),
        ];
        for op in ["Conv", "ConvTranspose"] {
            for (name, value) in &bad {
                let n = node(op, &["x", "w"], &["y"]).with_attr(*name, value.clone());
                let r = run_node(n, 22, vec![("x", x.clone()), ("w", w.clone())]);
                assert!(r.is_err(), "{op} with {name} = {value:?} should fail");
            }
        }
    }

    #[test]
    fn conv_speed_resnet_block() {
        // 1x64x56x56 with 64 3x3 filters: the hot path of verifying CNNs.
        let x = t32(&[1, 64, 56, 56], (0..64 * 56 * 56).map(|i| (i % 17) as f32 * 0.1).collect());
        let w = t32(&[64, 64, 3, 3], (0..64 * 64 * 9).map(|i| (i % 7) as f32 * 0.01).collect());
        let n = node("Conv", &["x", "w"], &["y"]).with_attr("pads", vec![1i64; 4]);
        let start = std::time::Instant::now();
        let y = run_node(n, 11, vec![("x", x), ("w", w)]).unwrap();
        let took = start.elapsed();
        println!("Conv 1x64x56x56 * 64x64x3x3: {took:?}");
        assert_eq!(y[0].shape(), &[1, 64, 56, 56]);
        assert!(took.as_secs_f64() < 1.0, "too slow: {took:?}");
        // Depthwise (MobileNet-style): one small GEMM per channel.
        let x = t32(&[1, 144, 56, 56], (0..144 * 56 * 56).map(|i| (i % 13) as f32 * 0.1).collect());
        let w = t32(&[144, 1, 3, 3], (0..144 * 9).map(|i| (i % 5) as f32 * 0.01).collect());
        let n = node("Conv", &["x", "w"], &["y"]).with_attr("pads", vec![1i64; 4]).with_attr("group", 144i64);
        let start = std::time::Instant::now();
        run_node(n, 11, vec![("x", x), ("w", w)]).unwrap();
        let took = start.elapsed();
        println!("depthwise Conv 1x144x56x56, 3x3: {took:?}");
        assert!(took.as_secs_f64() < 1.0, "too slow: {took:?}");
    }

    #[test]
    fn conv_transpose_cases() {
        // onnx test_convtranspose_1d.
        let x = t32(&[1, 1, 3], vec![0., 1., 2.]);
        let w = t32(&[1, 2, 3], vec![1.0; 6]);
        let y = run_node(node("ConvTranspose", &["x", "w"], &["y"]), 11, vec![("x", x), ("w", w)]).unwrap();
        close(&y[0], &[1, 2, 5], &[0., 1., 3., 3., 2., 0., 1., 3., 3., 2.]);
        // onnx test_convtranspose_output_shape / test_convtranspose_pad (first channel).
        let x = t32(&[1, 1, 3, 3], ramp(9));
        let w = t32(&[1, 2, 3, 3], vec![1.0; 18]);
        let row = |v: [f32; 8]| v;
        let mut want: Vec<f32> = Vec::new();
        for r in
            [[0., 0., 1., 1., 3., 2., 2., 0.], [3., 3., 7., 4., 9., 5., 5., 0.], [6., 6., 13., 7., 15., 8., 8., 0.]]
        {
            for _ in 0..3 {
                want.extend(row(r));
            }
        }
        want.extend([0.0; 8]);
        let want2: Vec<f32> = want.iter().chain(want.iter()).copied().collect();
        let n = node("ConvTranspose", &["x", "w"], &["y"])
            .with_attr("strides", vec![3i64, 2])
            .with_attr("output_shape", vec![10i64, 8]);
        let y = run_node(n, 11, vec![("x", x.clone()), ("w", w.clone())]).unwrap();
        close(&y[0], &[1, 2, 10, 8], &want2);
        let n = node("ConvTranspose", &["x", "w"], &["y"])
            .with_attr("strides", vec![3i64, 2])
            .with_attr("output_padding", vec![1i64, 1]);
        let y = run_node(n, 11, vec![("x", x.clone()), ("w", w.clone())]).unwrap();
        close(&y[0], &[1, 2, 10, 8], &want2);
        // onnx test_convtranspose_autopad_same (first channel).
        let n = node("ConvTranspose", &["x", "w"], &["y"])
            .with_attr("strides", vec![2i64, 2])
            .with_attr("auto_pad", "SAME_UPPER");
        let y = run_node(n, 11, vec![("x", x), ("w", w)]).unwrap();
        #[rustfmt::skip]
        let want = [0., 0., 1., 1., 3., 2., 0., 0., 1., 1., 3., 2., 3., 3., 8., 5., 12., 7.,
            3., 3., 7., 4., 9., 5., 9., 9., 20., 11., 24., 13., 6., 6., 13., 7., 15., 8.];
        let Tensor::F32(a) = &y[0] else { panic!() };
        assert_eq!(a.shape(), &[1, 2, 6, 6]);
        close(&Tensor::F32(a.slice(ndarray::s![.., 0..1, .., ..]).to_owned().into_dyn()), &[1, 1, 6, 6], &want);
    }

    #[test]
    fn conv_transpose_group_dilation_bias() {
        // onnxruntime: group 2, dilation 2, pads 1, bias (onnx's reference
        // adds the first bias to every group here).
        let x = t32(&[1, 2, 2, 2], ramp(8));
        let w = t32(&[2, 1, 2, 2], vec![1., 2., 3., 4., 1., 0., 0., -1.]);
        let b = t32(&[2], vec![1., 2.]);
        let n = node("ConvTranspose", &["x", "w", "b"], &["y"])
            .with_attr("group", 2i64)
            .with_attr("dilations", vec![2i64, 2])
            .with_attr("pads", vec![1i64, 1, 1, 1]);
        let y = run_node(n, 22, vec![("x", x), ("w", w), ("b", b)]).unwrap();
        close(&y[0], &[1, 2, 2, 2], &[4., 5., 4., 1., 9., 2., 2., -2.]);
    }

    #[test]
    fn conv_integer_and_qlinear() {
        // onnx test_convinteger_with_padding.
        let x = Tensor::U8(array(&[1, 1, 3, 3], (2..11).collect()).unwrap());
        let w = Tensor::U8(array(&[1, 1, 2, 2], vec![1; 4]).unwrap());
        let zp = Tensor::U8(array(&[], vec![1]).unwrap());
        let n = node("ConvInteger", &["x", "w", "xz"], &["y"]).with_attr("pads", vec![1i64; 4]);
        let y = run_node(n, 10, vec![("x", x), ("w", w), ("xz", zp)]).unwrap();
        let want = vec![1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9];
        assert_eq!(y[0], Tensor::I32(array(&[1, 1, 4, 4], want).unwrap()));
        // Per-channel weights and zero points, int8. Computed by hand with
        // onnxruntime's rounding: round(acc * scale), then add the zero point
        // (onnx's reference rounds after adding it, which differs on ties).
        let x = Tensor::U8(array(&[1, 1, 2, 2], vec![10, 20, 30, 40]).unwrap());
        let w = Tensor::I8(array(&[2, 1, 1, 1], vec![3, -5]).unwrap());
        let f = |v: Vec<f32>, s: &[usize]| t32(s, v);
        let n = node("QLinearConv", &["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], &["y"]);
        let ins = vec![
            ("x", x),
            ("xs", f(vec![0.5], &[])),
            ("xz", Tensor::U8(array(&[], vec![10]).unwrap())),
            ("w", w),
            ("ws", f(vec![0.25, 0.5], &[2])),
            ("wz", Tensor::I8(array(&[2], vec![1, -1]).unwrap())),
            ("ys", f(vec![2.0], &[])),
            ("yz", Tensor::I8(array(&[], vec![-3]).unwrap())),
            ("b", Tensor::I32(array(&[2], vec![4, -100]).unwrap())),
        ];
        let y = run_node(n, 10, ins).unwrap();
        assert_eq!(y[0], Tensor::I8(array(&[1, 2, 2, 2], vec![-3, -1, 0, 1, -15, -21, -25, -31]).unwrap()));
        // The same in uint8, checked against onnxruntime.
        let n = node("QLinearConv", &["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], &["y"]);
        let ins = vec![
            ("x", Tensor::U8(array(&[1, 1, 2, 2], vec![10, 20, 30, 40]).unwrap())),
            ("xs", f(vec![0.5], &[])),
            ("xz", Tensor::U8(array(&[], vec![10]).unwrap())),
            ("w", Tensor::U8(array(&[2, 1, 1, 1], vec![3, 250]).unwrap())),
            ("ws", f(vec![0.25, 0.5], &[2])),
            ("wz", Tensor::U8(array(&[2], vec![1, 255]).unwrap())),
            ("ys", f(vec![2.0], &[])),
            ("yz", Tensor::U8(array(&[], vec![5]).unwrap())),
            ("b", Tensor::I32(array(&[2], vec![4, -100]).unwrap())),
        ];
        let y = run_node(n, 10, ins).unwrap();
        assert_eq!(y[0], Tensor::U8(array(&[1, 2, 2, 2], vec![5, 7, 8, 9, 0, 0, 0, 0]).unwrap()));
    }

    #[test]
    fn col2im_cases() {
        // onnx test_col2im: 5x5 image, 1x5 blocks reassembled.
        let x = t32(&[1, 5, 5], (1..=25).map(|v| v as f32).collect());
        let ishape = Tensor::i64(&[2], vec![5, 5]).unwrap();
        let bshape = Tensor::i64(&[2], vec![1, 5]).unwrap();
        let y = run_node(node("Col2Im", &["x", "i", "b"], &["y"]), 18, vec![("x", x), ("i", ishape), ("b", bshape)])
            .unwrap();
        #[rustfmt::skip]
        let want = [1., 6., 11., 16., 21., 2., 7., 12., 17., 22., 3., 8., 13., 18., 23., 4., 9., 14., 19., 24.,
            5., 10., 15., 20., 25.];
        close(&y[0], &[1, 1, 5, 5], &want);
        // Overlapping 2x2 blocks with stride 1 over a 3x3 image, int32 sums.
        let x = Tensor::I32(array(&[1, 4, 4], vec![1; 16]).unwrap());
        let ishape = Tensor::i64(&[2], vec![3, 3]).unwrap();
        let bshape = Tensor::i64(&[2], vec![2, 2]).unwrap();
        let y = run_node(node("Col2Im", &["x", "i", "b"], &["y"]), 18, vec![("x", x), ("i", ishape), ("b", bshape)])
            .unwrap();
        assert_eq!(y[0], Tensor::I32(array(&[1, 1, 3, 3], vec![1, 2, 1, 2, 4, 2, 1, 2, 1]).unwrap()));
    }

    #[test]
    fn deform_conv_cases() {
        // Zero offsets reduce to a plain conv; onnx test_basic_deform_conv_without_padding.
        let x = t32(&[1, 1, 3, 3], ramp(9));
        let w = t32(&[1, 1, 2, 2], vec![1.0; 4]);
        let off = t32(&[1, 8, 2, 2], vec![0.0; 32]);
        let y = run_node(
            node("DeformConv", &["x", "w", "o"], &["y"]),
            19,
            vec![("x", x.clone()), ("w", w.clone()), ("o", off)],
        )
        .unwrap();
        close(&y[0], &[1, 1, 2, 2], &[8., 12., 20., 24.]);
        // onnx test_deform_conv_with_mask_bias.
        let mut off = vec![0.0f32; 32];
        off[0] = 0.5; // h of kernel [0, 0] at output [0, 0]
        off[5 * 4 + 1] = -0.1; // w of kernel [1, 0] at output [0, 1]
        let mut mask = vec![1.0f32; 16];
        mask[2 * 4 + 3] = 0.2; // kernel [1, 0] at output [1, 1]
        let (off, mask, b) = (t32(&[1, 8, 2, 2], off), t32(&[1, 4, 2, 2], mask), t32(&[1], vec![1.0]));
        let n = node("DeformConv", &["x", "w", "o", "b", "m"], &["y"]).with_attr("kernel_shape", vec![2i64, 2]);
        let y = run_node(n, 19, vec![("x", x), ("w", w), ("o", off), ("b", b), ("m", mask)]).unwrap();
        close(&y[0], &[1, 1, 2, 2], &[10.5, 12.9, 21.0, 19.4]);
    }

    #[test]
    fn causal_conv_with_state_cases() {
        // onnx ReferenceEvaluator: k=3, past state, bias, silu.
        let x = t32(&[1, 2, 3], vec![1., 2., 3., -1., 0., 1.]);
        let w = t32(&[2, 1, 3], vec![0.5, -1., 2., 1., 1., 1.]);
        let b = t32(&[2], vec![0.1, -0.2]);
        let past = t32(&[1, 2, 2], vec![4., 5., 0.5, 0.25]);
        let n = node("CausalConvWithState", &["x", "w", "b", "p"], &["y", "s"]).with_attr("activation", "silu");
        let y = run_node(n, 27, vec![("x", x), ("w", w), ("b", b), ("p", past)]).unwrap();
        close(&y[0], &[1, 2, 3], &[-0.2601454, 5.579_368, 4.554_222, -0.1752123, -0.2649406, -0.0900332]);
        close(&y[1], &[1, 2, 2], &[2., 3., 0., 1.]);
    }
}
