//! Recurrent layers: RNN, GRU and LSTM.
//!
//! Opset history: RNN-7/GRU-7/LSTM-7 settle the current inputs (X, W, R, B,
//! sequence_lens, initial_h, and for LSTM initial_c and the peepholes P) and
//! attributes (activations with activation_alpha/activation_beta, clip,
//! direction forward/reverse/bidirectional, hidden_size, GRU's
//! linear_before_reset, LSTM's input_forget); version 14 adds `layout` (1:
//! batch-major X, Y, Y_h, Y_c and initial states); 22 adds bf16.
//!
//! Gate order in W, R and B is RNN: one gate; GRU: z, r, h; LSTM: i, o, f, c
//! (peepholes i, o, f). `sequence_lens` gives each batch entry its own length:
//! steps past it leave the state unchanged and their Y rows are zero; the
//! reverse direction starts at each entry's last valid step. `clip` bounds
//! every gate pre-activation.
//!
//! The input projection of all time steps is one matrix product per
//! direction; each step then adds `H_{t-1} · Rᵀ` (another product) and
//! applies the activations to whole gate slices. f16/bf16 compute in f32.

use ir::DType;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, Array4, ArrayView2, ArrayView3, Axis, s};

use super::attention::{Real, from_real, to_real, wants};
use crate::registry::{Ctx, OpRegistry};
use crate::{Result, Tensor, Value, bail};

/// Registers the recurrent ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("RNN", |c, i| recurrent(c, i, Cell::Rnn));
    r.add("GRU", |c, i| recurrent(c, i, Cell::Gru));
    r.add("LSTM", |c, i| recurrent(c, i, Cell::Lstm));
}

/// Which recurrent cell.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Cell {
    Rnn,
    Gru,
    Lstm,
}

impl Cell {
    /// Gates per hidden unit.
    fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }

    /// The default activations of one direction.
    fn default_acts(self) -> &'static [&'static str] {
        match self {
            Cell::Rnn => &["Tanh"],
            Cell::Gru => &["Sigmoid", "Tanh"],
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
        }
    }
}

/// An activation function of the recurrent ops, with its alpha/beta.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Relu,
    Tanh,
    Sigmoid,
    Affine(f64, f64),
    LeakyRelu(f64),
    ThresholdedRelu(f64),
    ScaledTanh(f64, f64),
    HardSigmoid(f64, f64),
    Elu(f64),
    Softsign,
    Softplus,
}

impl Act {
    /// Parses a name, taking alpha/beta from the attribute lists (in order,
    /// only for functions that use them) or the function's default.
    fn parse(name: &str, alphas: &mut impl Iterator<Item = f32>, betas: &mut impl Iterator<Item = f32>) -> Result<Act> {
        let mut a = |d: f64| alphas.next().map_or(d, f64::from);
        let lower = name.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "relu" => Act::Relu,
            "tanh" => Act::Tanh,
            "sigmoid" => Act::Sigmoid,
            "affine" => {
                let x = a(1.0);
                Act::Affine(x, betas.next().map_or(0.0, f64::from))
            }
            "leakyrelu" => Act::LeakyRelu(a(0.01)),
            "thresholdedrelu" => Act::ThresholdedRelu(a(1.0)),
            "scaledtanh" => {
                let x = a(1.0);
                Act::ScaledTanh(x, betas.next().map_or(1.0, f64::from))
            }
            "hardsigmoid" => {
                let x = a(0.2);
                Act::HardSigmoid(x, betas.next().map_or(0.5, f64::from))
            }
            "elu" => Act::Elu(a(1.0)),
            "softsign" => Act::Softsign,
            "softplus" => Act::Softplus,
            _ => bail!("unknown activation '{name}'"),
        })
    }

    /// Applies the function to every element of `xs` (one dispatch per slice).
    fn apply<R: Real>(self, xs: &mut [R]) {
        let (zero, one) = (R::zero(), R::one());
        let f = R::from_f64;
        match self {
            Act::Relu => xs.iter_mut().for_each(|x| *x = if *x > zero { *x } else { zero }),
            Act::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
            Act::Sigmoid => xs.iter_mut().for_each(|x| *x = one / (one + (zero - *x).exp())),
            Act::Affine(a, b) => {
                let (a, b) = (f(a), f(b));
                xs.iter_mut().for_each(|x| *x = a * *x + b);
            }
            Act::LeakyRelu(a) => {
                let a = f(a);
                xs.iter_mut().for_each(|x| *x = if *x >= zero { *x } else { a * *x });
            }
            Act::ThresholdedRelu(a) => {
                let a = f(a);
                xs.iter_mut().for_each(|x| *x = if *x > a { *x } else { zero });
            }
            Act::ScaledTanh(a, b) => {
                let (a, b) = (f(a), f(b));
                xs.iter_mut().for_each(|x| *x = a * (b * *x).tanh());
            }
            Act::HardSigmoid(a, b) => {
                let (a, b) = (f(a), f(b));
                xs.iter_mut().for_each(|x| {
                    let v = a * *x + b;
                    *x = if v < zero {
                        zero
                    } else if v > one {
                        one
                    } else {
                        v
                    };
                });
            }
            Act::Elu(a) => {
                let a = f(a);
                xs.iter_mut().for_each(|x| *x = if *x >= zero { *x } else { a * (x.exp() - one) });
            }
            Act::Softsign => xs.iter_mut().for_each(|x| {
                let abs = if *x < zero { zero - *x } else { *x };
                *x = *x / (one + abs);
            }),
            Act::Softplus => xs.iter_mut().for_each(|x| *x = (x.exp() + one).ln()),
        }
    }
}

/// The attributes of a recurrent node.
struct Cfg {
    cell: Cell,
    dirs: usize,
    /// Whether the only direction is reverse.
    reverse_only: bool,
    hidden: usize,
    /// Activations per direction.
    acts: Vec<Vec<Act>>,
    clip: Option<f64>,
    layout: i64,
    linear_before_reset: bool,
    input_forget: bool,
}

/// Reads and checks the attributes (`hidden` from R when the attribute is absent).
fn config(ctx: &Ctx<'_>, cell: Cell, r_shape: &[usize]) -> Result<Cfg> {
    let dir = ctx.string("direction", "forward")?;
    let (dirs, reverse_only) = match dir.as_str() {
        "forward" => (1, false),
        "reverse" => (1, true),
        "bidirectional" => (2, false),
        d => bail!("direction must be forward, reverse or bidirectional, got '{d}'"),
    };
    if r_shape.len() != 3 {
        bail!("R must be 3D [num_directions, gates * hidden, hidden], got {r_shape:?}");
    }
    let hidden = match ctx.node.attr("hidden_size") {
        Some(_) => {
            let h = ctx.int("hidden_size", 0)?;
            match usize::try_from(h) {
                Ok(h) if h > 0 => h,
                _ => bail!("hidden_size must be positive, got {h}"),
            }
        }
        None => r_shape[2],
    };
    let n = cell.default_acts().len();
    let names: Vec<String> = match ctx.strings("activations")? {
        Some(v) if v.len() == n * dirs => v,
        // One direction's list given for both directions.
        Some(v) if v.len() == n => v.iter().cloned().cycle().take(n * dirs).collect(),
        Some(v) => bail!("activations lists {} functions, expected {}", v.len(), n * dirs),
        None => cell.default_acts().iter().cycle().take(n * dirs).map(|s| s.to_string()).collect(),
    };
    let alphas = ctx.floats("activation_alpha")?.unwrap_or_default();
    let betas = ctx.floats("activation_beta")?.unwrap_or_default();
    let (mut ai, mut bi) = (alphas.into_iter(), betas.into_iter());
    let flat: Vec<Act> = names.iter().map(|nm| Act::parse(nm, &mut ai, &mut bi)).collect::<Result<_>>()?;
    let acts = flat.chunks(n).map(<[Act]>::to_vec).collect();
    let clip = match ctx.node.attr("clip") {
        Some(_) => {
            let c = f64::from(ctx.float("clip", 0.0)?);
            if c.is_nan() || c < 0.0 {
                bail!("clip must be non-negative, got {c}");
            }
            Some(c)
        }
        None => None,
    };
    let layout = ctx.int("layout", 0)?;
    if layout != 0 && layout != 1 {
        bail!("layout must be 0 or 1, got {layout}");
    }
    Ok(Cfg {
        cell,
        dirs,
        reverse_only,
        hidden,
        acts,
        clip,
        layout,
        linear_before_reset: cell == Cell::Gru && ctx.int("linear_before_reset", 0)? != 0,
        input_forget: cell == Cell::Lstm && ctx.int("input_forget", 0)? != 0,
    })
}

/// RNN, GRU or LSTM.
fn recurrent(ctx: &Ctx<'_>, inputs: &[Option<&Value>], cell: Cell) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let d = x.dtype();
    let w = ctx.input(inputs, 1)?;
    let r = ctx.input(inputs, 2)?;
    let cfg = config(ctx, cell, r.shape())?;
    let opt = |i: usize, what: &str| -> Result<Option<&Tensor>> {
        let t = ctx.opt_input(inputs, i)?;
        if let Some(t) = t
            && t.dtype() != d
        {
            bail!("{what} has type {}, expected {d} like X", t.dtype());
        }
        Ok(t)
    };
    for (t, what) in [(w, "W"), (r, "R")] {
        if t.dtype() != d {
            bail!("{what} has type {}, expected {d} like X", t.dtype());
        }
    }
    let io = RecIo {
        x,
        w,
        r,
        b: opt(3, "B")?,
        seq_lens: ctx.opt_input(inputs, 4)?.map(Tensor::to_i64_vec).transpose()?,
        h0: opt(5, "initial_h")?,
        c0: if cell == Cell::Lstm { opt(6, "initial_c")? } else { None },
        p: if cell == Cell::Lstm { opt(7, "P")? } else { None },
    };
    let n_out = if cell == Cell::Lstm { 3 } else { 2 };
    let last = (0..n_out).rev().find(|&i| wants(ctx, i)).map_or(1, |i| i + 1);
    fn wrap<R: Real>(d: DType, outs: Vec<ndarray::ArrayD<R>>, last: usize) -> Result<Vec<Value>> {
        outs.into_iter().take(last).map(|a| Ok(from_real(d, &a)?.into())).collect()
    }
    match d {
        DType::F64 => wrap(d, run::<f64>(&io, &cfg)?, last),
        DType::F32 | DType::F16 | DType::BF16 => wrap(d, run::<f32>(&io, &cfg)?, last),
        d => bail!("{cell:?} does not support {d} inputs (float types only)"),
    }
}

/// The inputs of a recurrent node.
struct RecIo<'a> {
    x: &'a Tensor,
    w: &'a Tensor,
    r: &'a Tensor,
    b: Option<&'a Tensor>,
    seq_lens: Option<Vec<i64>>,
    h0: Option<&'a Tensor>,
    c0: Option<&'a Tensor>,
    p: Option<&'a Tensor>,
}

/// An initial state `[dirs, batch, hidden]` (layout 1: `[batch, dirs,
/// hidden]`) in direction-major order, or zeros.
fn initial<R: Real>(t: Option<&Tensor>, cfg: &Cfg, batch: usize, what: &str) -> Result<Array3<R>> {
    let (dirs, h) = (cfg.dirs, cfg.hidden);
    let Some(t) = t else { return Ok(Array3::zeros((dirs, batch, h))) };
    let want = if cfg.layout == 1 { [batch, dirs, h] } else { [dirs, batch, h] };
    if t.shape() != want {
        bail!("{what} shape {:?} must be {want:?}", t.shape());
    }
    let a = to_real::<R>(t, what)?.into_dimensionality::<ndarray::Ix3>().expect("rank checked");
    Ok(if cfg.layout == 1 { a.permuted_axes([1, 0, 2]).as_standard_layout().into_owned() } else { a })
}

/// Runs all directions; returns Y, Y_h (and Y_c for LSTM) in the output layout.
fn run<R: Real>(io: &RecIo<'_>, cfg: &Cfg) -> Result<Vec<ndarray::ArrayD<R>>> {
    let (dirs, h, g) = (cfg.dirs, cfg.hidden, cfg.cell.gates());
    let xa = to_real::<R>(io.x, "X")?;
    if xa.ndim() != 3 {
        bail!("X must be 3D, got shape {:?}", xa.shape());
    }
    let x3 = xa.view().into_dimensionality::<ndarray::Ix3>().expect("rank checked");
    // [seq, batch, input] whatever the layout.
    let x3 = if cfg.layout == 1 { x3.permuted_axes([1, 0, 2]) } else { x3 };
    let (seq, batch, input) = x3.dim();
    let wa = to_real::<R>(io.w, "W")?;
    if wa.shape() != [dirs, g * h, input] {
        bail!("W shape {:?} must be [{dirs}, {}, {input}]", wa.shape(), g * h);
    }
    let ra = to_real::<R>(io.r, "R")?;
    if ra.shape() != [dirs, g * h, h] {
        bail!("R shape {:?} must be [{dirs}, {}, {h}]", ra.shape(), g * h);
    }
    let ba = match io.b {
        Some(b) => {
            if b.shape() != [dirs, 2 * g * h] {
                bail!("B shape {:?} must be [{dirs}, {}]", b.shape(), 2 * g * h);
            }
            to_real::<R>(b, "B")?.into_dimensionality::<ndarray::Ix2>().expect("rank checked")
        }
        None => Array2::zeros((dirs, 2 * g * h)),
    };
    let pa = match io.p {
        Some(p) => {
            if p.shape() != [dirs, 3 * h] {
                bail!("P shape {:?} must be [{dirs}, {}]", p.shape(), 3 * h);
            }
            Some(to_real::<R>(p, "P")?.into_dimensionality::<ndarray::Ix2>().expect("rank checked"))
        }
        None => None,
    };
    let lens: Vec<usize> = match &io.seq_lens {
        Some(v) => {
            if v.len() != batch {
                bail!("sequence_lens has {} values, expected one per batch entry ({batch})", v.len());
            }
            v.iter()
                .map(|&l| match usize::try_from(l) {
                    Ok(l) if l <= seq => Ok(l),
                    _ => bail!("sequence length {l} is outside 0..={seq}"),
                })
                .collect::<Result<_>>()?
        }
        None => vec![seq; batch],
    };
    let h0 = initial::<R>(io.h0, cfg, batch, "initial_h")?;
    let c0 = initial::<R>(io.c0, cfg, batch, "initial_c")?;
    let w3 = wa.view().into_dimensionality::<ndarray::Ix3>().expect("rank checked");
    let r3 = ra.view().into_dimensionality::<ndarray::Ix3>().expect("rank checked");
    // Y as [seq, dirs, batch, hidden]; final states as [dirs, batch, hidden].
    let mut y = Array4::<R>::zeros((seq, dirs, batch, h));
    let mut yh = Array3::<R>::zeros((dirs, batch, h));
    let mut yc = Array3::<R>::zeros((dirs, batch, h));
    for di in 0..dirs {
        let reverse = di == 1 || cfg.reverse_only;
        let dir = Dir {
            w: w3.index_axis(Axis(0), di),
            r: r3.index_axis(Axis(0), di),
            b: ba.row(di).to_vec(),
            p: pa.as_ref().map(|p| p.row(di).to_vec()),
            acts: &cfg.acts[di],
        };
        let (hf, cf) = direction(
            cfg,
            &dir,
            x3,
            &lens,
            reverse,
            h0.index_axis(Axis(0), di),
            c0.index_axis(Axis(0), di),
            |t, b, row| {
                y.slice_mut(s![t, di, b, ..]).assign(&ndarray::ArrayView1::from(row));
            },
        );
        yh.index_axis_mut(Axis(0), di).assign(&hf);
        yc.index_axis_mut(Axis(0), di).assign(&cf);
    }
    let (y, yh, yc) = if cfg.layout == 1 {
        (
            y.permuted_axes([2, 0, 1, 3]).as_standard_layout().into_owned().into_dyn(),
            yh.permuted_axes([1, 0, 2]).as_standard_layout().into_owned().into_dyn(),
            yc.permuted_axes([1, 0, 2]).as_standard_layout().into_owned().into_dyn(),
        )
    } else {
        (y.into_dyn(), yh.into_dyn(), yc.into_dyn())
    };
    Ok(if cfg.cell == Cell::Lstm { vec![y, yh, yc] } else { vec![y, yh] })
}

/// One direction's weights.
struct Dir<'a, R> {
    /// `[gates * hidden, input]`.
    w: ArrayView2<'a, R>,
    /// `[gates * hidden, hidden]`.
    r: ArrayView2<'a, R>,
    /// `[Wb; Rb]`, `2 * gates * hidden`.
    b: Vec<R>,
    /// Peepholes `[P_i; P_o; P_f]`.
    p: Option<Vec<R>>,
    acts: &'a [Act],
}

/// Runs one direction over `x` (`[seq, batch, input]`), calling `emit(t,
/// b, h_t)` for each valid step; returns the final hidden and cell states.
#[allow(clippy::too_many_arguments)]
fn direction<R: Real>(
    cfg: &Cfg,
    dir: &Dir<'_, R>,
    x: ArrayView3<'_, R>,
    lens: &[usize],
    reverse: bool,
    h0: ArrayView2<'_, R>,
    c0: ArrayView2<'_, R>,
    mut emit: impl FnMut(usize, usize, &[R]),
) -> (Array2<R>, Array2<R>) {
    let (seq, batch, _) = x.dim();
    let (h, gh) = (cfg.hidden, cfg.hidden * cfg.cell.gates());
    // Input projections of every step: [seq, batch, gates * hidden].
    let mut xw = Array3::<R>::zeros((seq, batch, gh));
    for t in 0..seq {
        general_mat_mul(R::one(), &x.index_axis(Axis(0), t), &dir.w.t(), R::zero(), &mut xw.index_axis_mut(Axis(0), t));
    }
    let (wb, rb) = dir.b.split_at(gh);
    let mut hs = h0.to_owned();
    let mut cs = c0.to_owned();
    let mut hr = Array2::<R>::zeros((batch, gh));
    let mut gates = Array2::<R>::zeros((batch, gh));
    let mut scratch = vec![R::zero(); h];
    // GRU without linear_before_reset: (r ⊙ H) per batch row, and its product with Rhᵀ.
    let mut rh = Array2::<R>::zeros((batch, h));
    let mut rh_prod = Array2::<R>::zeros((batch, h));
    let clip = cfg.clip.map(R::from_f64);
    let do_clip = |v: &mut [R]| {
        if let Some(c) = clip {
            let lo = R::zero() - c;
            v.iter_mut().for_each(|x| {
                if *x > c {
                    *x = c;
                } else if *x < lo {
                    *x = lo;
                }
            });
        }
    };
    // The time index batch entry `b` is at in step `step`, if still running.
    let time = |step: usize, b: usize| -> Option<usize> {
        (step < lens[b]).then(|| if reverse { lens[b] - 1 - step } else { step })
    };
    for step in 0..seq {
        general_mat_mul(R::one(), &hs, &dir.r.t(), R::zero(), &mut hr);
        // Phase 1: pre-activations (and GRU's update/reset gates).
        for b in 0..batch {
            let Some(t) = time(step, b) else { continue };
            let xr = xw.slice(s![t, b, ..]);
            let xr = xr.as_slice().expect("contiguous row");
            let hrr = hr.row(b);
            let hrr = hrr.as_slice().expect("contiguous row");
            let mut grow = gates.row_mut(b);
            let grow = grow.as_slice_mut().expect("contiguous row");
            for (i, gv) in grow.iter_mut().enumerate() {
                *gv = xr[i] + hrr[i] + wb[i] + rb[i];
            }
            if cfg.cell == Cell::Gru {
                let (zr, hg) = grow.split_at_mut(2 * h);
                do_clip(zr);
                dir.acts[0].apply(zr);
                let r = &zr[h..];
                if cfg.linear_before_reset {
                    // h~ pre-activation: x Wh + r ⊙ (H Rh + Rbh) + Wbh.
                    for i in 0..h {
                        hg[i] = xr[2 * h + i] + r[i] * (hrr[2 * h + i] + rb[2 * h + i]) + wb[2 * h + i];
                    }
                } else {
                    for i in 0..h {
                        rh[[b, i]] = r[i] * hs[[b, i]];
                    }
                }
            }
        }
        if cfg.cell == Cell::Gru && !cfg.linear_before_reset {
            // (r ⊙ H) Rhᵀ for every batch row at once.
            general_mat_mul(R::one(), &rh, &dir.r.slice(s![2 * h.., ..]).t(), R::zero(), &mut rh_prod);
        }
        // Phase 2: the new states.
        for b in 0..batch {
            let Some(t) = time(step, b) else { continue };
            let mut grow = gates.row_mut(b);
            let grow = grow.as_slice_mut().expect("contiguous row");
            let mut hrow = hs.row_mut(b);
            let hrow = hrow.as_slice_mut().expect("contiguous row");
            match cfg.cell {
                Cell::Rnn => {
                    do_clip(grow);
                    dir.acts[0].apply(grow);
                    hrow.copy_from_slice(grow);
                }
                Cell::Gru => {
                    let (zr, hg) = grow.split_at_mut(2 * h);
                    if !cfg.linear_before_reset {
                        // h~ pre-activation: x Wh + (r ⊙ H) Rhᵀ + Rbh + Wbh.
                        let xr = xw.slice(s![t, b, 2 * h..]);
                        for i in 0..h {
                            hg[i] = xr[i] + rh_prod[[b, i]] + rb[2 * h + i] + wb[2 * h + i];
                        }
                    }
                    do_clip(hg);
                    dir.acts[1].apply(hg);
                    let z = &zr[..h];
                    for i in 0..h {
                        hrow[i] = (R::one() - z[i]) * hg[i] + z[i] * hrow[i];
                    }
                }
                Cell::Lstm => {
                    let mut crow = cs.row_mut(b);
                    let crow = crow.as_slice_mut().expect("contiguous row");
                    let (io_f, c_g) = grow.split_at_mut(3 * h);
                    let (i_g, of) = io_f.split_at_mut(h);
                    let (o_g, f_g) = of.split_at_mut(h);
                    if let Some(p) = &dir.p {
                        for k in 0..h {
                            i_g[k] = i_g[k] + p[k] * crow[k];
                            f_g[k] = f_g[k] + p[2 * h + k] * crow[k];
                        }
                    }
                    do_clip(i_g);
                    do_clip(f_g);
                    do_clip(c_g);
                    dir.acts[0].apply(i_g);
                    if cfg.input_forget {
                        // Coupled gates: forget what is written.
                        for k in 0..h {
                            f_g[k] = R::one() - i_g[k];
                        }
                    } else {
                        dir.acts[0].apply(f_g);
                    }
                    dir.acts[1].apply(c_g);
                    for k in 0..h {
                        crow[k] = f_g[k] * crow[k] + i_g[k] * c_g[k];
                    }
                    if let Some(p) = &dir.p {
                        for k in 0..h {
                            o_g[k] = o_g[k] + p[h + k] * crow[k];
                        }
                    }
                    do_clip(o_g);
                    dir.acts[0].apply(o_g);
                    scratch.copy_from_slice(crow);
                    dir.acts[2].apply(&mut scratch);
                    for k in 0..h {
                        hrow[k] = o_g[k] * scratch[k];
                    }
                }
            }
            emit(t, b, hrow);
        }
    }
    (hs, cs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reduce::tests::run_node;
    use ir::{Attribute, Node};

    fn node(op: &str, ins: usize, outs: &[&str], attrs: &[(&str, Attribute)]) -> Node {
        let mut n = Node::new(op, (0..ins).map(|i| format!("i{i}")), outs.iter().map(|s| s.to_string()));
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v.clone());
        }
        n
    }

    fn f32s(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::f32(shape, v).unwrap()
    }

    fn close(t: &Tensor, want: &[f64]) {
        let g = t.to_f64_vec().unwrap();
        assert_eq!(g.len(), want.len(), "{g:?} vs {want:?}");
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{g:?} vs {want:?}");
        }
    }

    #[test]
    fn rnn_scalar_recurrence_with_sequence_lens_and_reverse() {
        // hidden = input = 1, W = 0.5, R = 0.25, Relu: h_t = relu(0.5 x_t + 0.25 h_{t-1}).
        let x = f32s(&[3, 2, 1], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (w, r) = (f32s(&[1, 1, 1], vec![0.5]), f32s(&[1, 1, 1], vec![0.25]));
        let lens = Tensor::I32(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2]), vec![3, 2]).unwrap());
        let attrs = [("activations", Attribute::Strings(vec!["Relu".into()])), ("hidden_size", Attribute::Int(1))];
        let n = node("RNN", 5, &["y", "yh"], &attrs);
        let out =
            run_node(n, 14, vec![Some(x.clone()), Some(w.clone()), Some(r.clone()), None, Some(lens.clone())]).unwrap();
        // batch 0: 0.5, 1.5+0.125=1.625, 2.5+0.40625=2.90625; batch 1 (len 2): 1, 2+0.25=2.25, then 0.
        close(&out[0], &[0.5, 1.0, 1.625, 2.25, 2.90625, 0.0]);
        close(&out[1], &[2.90625, 2.25]);
        // Reverse: batch 1 starts at its step 1.
        let mut attrs = attrs.to_vec();
        attrs.push(("direction", Attribute::String("reverse".into())));
        let n = node("RNN", 5, &["y", "yh"], &attrs);
        let out = run_node(n, 14, vec![Some(x), Some(w), Some(r), None, Some(lens)]).unwrap();
        // batch 0: t2 = 2.5, t1 = 1.5 + 0.625 = 2.125, t0 = 0.5 + 0.53125; batch 1: t1 = 2, t0 = 1 + 0.5.
        close(&out[0], &[1.03125, 1.5, 2.125, 2.0, 2.5, 0.0]);
        close(&out[1], &[1.03125, 1.5]);
    }

    #[test]
    fn gru_and_lstm_zero_weights_and_layout() {
        // With zero weights: GRU z = r = 0.5, h~ = 0, H = 0.5 H_prev; LSTM gates
        // 0.5, c~ = 0, C = 0.5 C_prev, H = 0.5 tanh(C).
        let x = f32s(&[1, 2, 1], vec![1.0, 2.0]); // layout 1: [batch 1, seq 2, input 1]
        let attrs = [("hidden_size", Attribute::Int(1)), ("layout", Attribute::Int(1))];
        let h0 = f32s(&[1, 1, 1], vec![0.8]);
        let n = node("GRU", 6, &["y", "yh"], &attrs);
        let ins = vec![
            Some(x.clone()),
            Some(f32s(&[1, 3, 1], vec![0.0; 3])),
            Some(f32s(&[1, 3, 1], vec![0.0; 3])),
            None,
            None,
            Some(h0.clone()),
        ];
        let out = run_node(n, 14, ins).unwrap();
        assert_eq!(out[0].shape(), [1, 2, 1, 1]);
        close(&out[0], &[0.4, 0.2]);
        close(&out[1], &[0.2]);
        let n = node("LSTM", 7, &["y", "yh", "yc"], &attrs);
        let ins = vec![
            Some(x),
            Some(f32s(&[1, 4, 1], vec![0.0; 4])),
            Some(f32s(&[1, 4, 1], vec![0.0; 4])),
            None,
            None,
            Some(h0),
            Some(f32s(&[1, 1, 1], vec![1.0])),
        ];
        let out = run_node(n, 14, ins).unwrap();
        close(&out[2], &[0.25]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let n = node("LSTM", 3, &["y"], &[("hidden_size", Attribute::Int(2))]);
        let ins = vec![
            Some(f32s(&[1, 1, 1], vec![1.0])),
            Some(f32s(&[1, 4, 1], vec![0.0; 4])),
            Some(f32s(&[1, 4, 1], vec![0.0; 4])),
        ];
        assert!(run_node(n, 14, ins).is_err());
    }
}
