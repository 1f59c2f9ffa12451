//! Shape rules of the layer ops: convolution, pooling, normalization,
//! recurrent cells, attention, resizing, detection, signal and loss ops.

use super::Known;
use super::dims::{self, SymInt};
use super::rules::{Cx, Out, Param};
use crate::{Dim, Result};

/// The rule for `cx`'s op, `None` when this family does not have it.
pub(crate) fn rule(cx: &Cx<'_>) -> Result<Option<Vec<Out>>> {
    Ok(Some(match cx.schema.op {
        "Conv" | "ConvInteger" => vec![Out::maybe(conv(cx, 0, Some(1))?)],
        "QLinearConv" => vec![Out::maybe(conv(cx, 0, Some(3))?)],
        "MaxPool" | "AveragePool" | "LpPool" => {
            let y = conv(cx, 0, None)?;
            vec![Out::maybe(y.clone()), Out::maybe(y)]
        }
        "DeformConv" => deform_conv(cx),
        "ConvTranspose" => conv_transpose(cx)?,
        "GlobalMaxPool" | "GlobalAveragePool" | "GlobalLpPool" => vec![Out::maybe(
            cx.dims(0)
                .map(|d| d.iter().enumerate().map(|(k, x)| if k < 2 { x.clone() } else { Dim::Fixed(1) }).collect()),
        )],
        "MaxRoiPool" => roi(cx, cx.ints_attr("pooled_shape")?.unwrap_or_default())?,
        "RoiAlign" => roi(cx, vec![cx.int("output_height", 1)?, cx.int("output_width", 1)?])?,
        "MaxUnpool" => max_unpool(cx)?,
        "Col2Im" => col2im(cx),
        "CausalConvWithState" => {
            let y = cx.dims(0).map(<[Dim]>::to_vec);
            let state = match (cx.dims(0), cx.dims(1)) {
                (Some([n, c, _]), Some([_, _, k])) => Some(vec![
                    n.clone(),
                    c.clone(),
                    k.fixed().map_or(Dim::Unknown, |k| Dim::Fixed(k.saturating_sub(1))),
                ]),
                _ => None,
            };
            vec![Out::maybe(y), Out::maybe(state)]
        }
        "BatchNormalization" => {
            let c = cx.dims(0).and_then(|d| d.get(1)).cloned();
            let stat = Out::maybe(cx.dims(3).map(<[Dim]>::to_vec).or_else(|| c.map(|c| vec![c])));
            vec![Out::maybe(cx.dims(0).map(<[Dim]>::to_vec)), stat.clone(), stat.clone(), stat.clone(), stat]
        }
        "LayerNormalization" => {
            let y = cx.dims(0).map(<[Dim]>::to_vec);
            let stats = match &y {
                Some(d) => {
                    let axis = cx.axis(cx.int("axis", -1)?, d.len())?;
                    Some(d.iter().enumerate().map(|(k, x)| if k < axis { x.clone() } else { Dim::Fixed(1) }).collect())
                }
                None => None,
            };
            vec![Out::maybe(y), Out::maybe(stats.clone()), Out::maybe(stats)]
        }
        "RNN" | "GRU" | "LSTM" => rnn(cx)?,
        "Attention" => attention(cx)?,
        "Resize" | "Upsample" => resize(cx)?,
        "GridSample" => vec![Out::maybe(match (cx.dims(0), cx.dims(1)) {
            (Some(x @ [n, c, ..]), Some([_, mid @ .., _])) if mid.len() + 2 == x.len() => {
                let mut o = vec![n.clone(), c.clone()];
                o.extend_from_slice(mid);
                Some(o)
            }
            (Some(x), _) => Some(vec![Dim::Unknown; x.len()]),
            _ => None,
        })],
        "AffineGrid" => vec![match cx.ints(1) {
            Some([n, _, rest @ ..]) if !rest.is_empty() => {
                let mut o = vec![n.to_dim()];
                o.extend(rest.iter().map(SymInt::to_dim));
                o.push(Dim::Fixed(rest.len() as u64));
                Out::dims(o)
            }
            _ => Out::default(),
        }],
        "NonMaxSuppression" => vec![Out::dims(vec![Dim::Unknown, Dim::Fixed(3)])],
        "NegativeLogLikelihoodLoss" | "SoftmaxCrossEntropyLoss" => {
            let loss = if cx.str("reduction", "mean")? == "none" {
                Out::maybe(cx.dims(1).map(<[Dim]>::to_vec))
            } else {
                Out::dims(vec![])
            };
            vec![loss, Out::maybe(cx.dims(0).map(<[Dim]>::to_vec))]
        }
        "DFT" => dft(cx)?,
        "STFT" => vec![Out::rank(4)],
        "HannWindow" | "HammingWindow" | "BlackmanWindow" => {
            vec![Out::dims(vec![cx.scalar(0).filter(|&n| n >= 0).map_or(Dim::Unknown, |n| Dim::Fixed(n as u64))])]
        }
        "MelWeightMatrix" => {
            let bins = cx.scalar(1).filter(|&n| n >= 0).map_or(Dim::Unknown, |n| Dim::Fixed(n as u64 / 2 + 1));
            let mel = cx.scalar(0).filter(|&n| n >= 0).map_or(Dim::Unknown, |n| Dim::Fixed(n as u64));
            vec![Out::dims(vec![bins, mel])]
        }
        "StringNormalizer" => vec![Out::maybe(cx.dims(0).map(|d| {
            let mut o = d.to_vec();
            if let Some(l) = o.last_mut() {
                *l = Dim::Unknown;
            }
            o
        }))],
        "StringSplit" => {
            let d = cx.dims(0).map(<[Dim]>::to_vec);
            let y = d.clone().map(|mut v| {
                v.push(Dim::Unknown);
                v
            });
            vec![Out::maybe(y), Out::maybe(d)]
        }
        "TfIdfVectorizer" => {
            let width = cx
                .ints_attr("ngram_indexes")?
                .and_then(|v| v.into_iter().max())
                .map_or(Dim::Unknown, |m| Dim::Fixed(m.max(0) as u64 + 1));
            vec![Out::maybe(cx.dims(0).map(|d| match d {
                [_] => vec![width.clone()],
                [n, _] => vec![n.clone(), width.clone()],
                _ => vec![Dim::Unknown; d.len()],
            }))]
        }
        "LinearAttention" => vec![Out::default(), Out::default()],
        _ => return Ok(None),
    }))
}

/// A list attribute of `n` values, or `fill` each.
fn list(cx: &Cx<'_>, name: &str, n: usize, fill: i64) -> Result<Vec<i64>> {
    match cx.ints_attr(name)? {
        Some(v) if v.len() == n => Ok(v),
        Some(v) => Err(cx.err(format!("attribute '{name}' has {} values for {n} spatial axes", v.len()))),
        None => Ok(vec![fill; n]),
    }
}

/// Element `i` of a list attribute; [`list`] checked its length, so a
/// missing element is a malformed node rather than a panic.
fn nth(cx: &Cx<'_>, v: &[i64], i: usize, what: &str) -> Result<i64> {
    v.get(i).copied().ok_or_else(|| cx.err(format!("{what} has no value at position {i}")))
}

/// Input and weight of a convolution must have the same rank; the code
/// below reads both by position.
fn same_rank(cx: &Cx<'_>, xd: Option<&[Dim]>, wd: Option<&[Dim]>) -> Result<()> {
    match (xd, wd) {
        (Some(x), Some(w)) if x.len() != w.len() => {
            Err(cx.err(format!("weight of rank {} for an input of rank {}", w.len(), x.len())))
        }
        _ => Ok(()),
    }
}

/// Non-negative `v` as u64, an error naming `what` otherwise.
fn nonneg(cx: &Cx<'_>, v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| cx.err(format!("{what} {v} is negative")))
}

/// Output of a sliding-window op over input `x` (Conv with weight `w`, or a
/// pooling op with `kernel_shape`).
fn conv(cx: &Cx<'_>, x: usize, w: Option<usize>) -> Result<Option<Vec<Dim>>> {
    let xd = cx.dims(x);
    let wd = w.and_then(|w| cx.dims(w));
    let rank = match (xd, wd) {
        (Some(d), _) => d.len(),
        (None, Some(d)) => d.len(),
        _ => return Ok(None),
    };
    same_rank(cx, xd, wd)?;
    if rank < 3 {
        return Err(cx.err(format!("input of rank {rank} (at least 3 expected)")));
    }
    let s = rank - 2;
    let kernel: Vec<Option<u64>> = match (cx.ints_attr("kernel_shape")?, wd) {
        (Some(k), _) => {
            if k.len() != s {
                return Err(cx.err(format!("kernel_shape {k:?} for {s} spatial axes")));
            }
            k.iter().map(|&v| nonneg(cx, v, "kernel size").map(Some)).collect::<Result<_>>()?
        }
        (None, Some(wd)) if wd.len() == rank => wd.get(2..).unwrap_or_default().iter().map(Dim::fixed).collect(),
        _ => vec![None; s],
    };
    let strides = list(cx, "strides", s, 1)?;
    let dil = list(cx, "dilations", s, 1)?;
    let pads = list(cx, "pads", 2 * s, 0)?;
    let auto = cx.str("auto_pad", "NOTSET")?;
    let ceil = cx.int("ceil_mode", 0)? != 0;
    let channels = match w {
        Some(_) => wd.and_then(<[Dim]>::first).cloned().unwrap_or(Dim::Unknown),
        None => xd.and_then(|d| d.get(1)).cloned().unwrap_or(Dim::Unknown),
    };
    let mut out = vec![xd.and_then(<[Dim]>::first).cloned().unwrap_or(Dim::Unknown), channels];
    for i in 0..s {
        let input = xd.and_then(|d| d.get(i + 2)).cloned().unwrap_or(Dim::Unknown);
        let st = nonneg(cx, nth(cx, &strides, i, "strides")?, "stride")?;
        let dl = nonneg(cx, nth(cx, &dil, i, "dilations")?, "dilation")?;
        out.push(match (auto, kernel.get(i).copied().flatten()) {
            ("SAME_UPPER" | "SAME_LOWER", _) => dims::same_size(&input, st),
            (_, None) => Dim::Unknown,
            ("VALID", Some(k)) => dims::window(&input, k, st, dl, (0, 0), ceil),
            (_, Some(k)) => {
                let p = (
                    nonneg(cx, nth(cx, &pads, i, "pads")?, "pad")?,
                    nonneg(cx, nth(cx, &pads, i + s, "pads")?, "pad")?,
                );
                dims::window(&input, k, st, dl, p, ceil)
            }
        });
    }
    Ok(Some(out))
}

fn deform_conv(cx: &Cx<'_>) -> Vec<Out> {
    let n = cx.dims(0).and_then(<[Dim]>::first).cloned().unwrap_or(Dim::Unknown);
    let m = cx.dims(1).and_then(<[Dim]>::first).cloned().unwrap_or(Dim::Unknown);
    vec![Out::maybe(cx.dims(2).filter(|o| o.len() >= 3).and_then(|o| o.get(2..)).map(|spatial| {
        let mut v = vec![n, m];
        v.extend_from_slice(spatial);
        v
    }))]
}

fn conv_transpose(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let (xd, wd) = (cx.dims(0), cx.dims(1));
    let Some(rank) = xd.or(wd).map(<[Dim]>::len) else { return Ok(vec![Out::default()]) };
    if rank < 3 {
        return Err(cx.err(format!("input of rank {rank} (at least 3 expected)")));
    }
    same_rank(cx, xd, wd)?;
    let s = rank - 2;
    let group = nonneg(cx, cx.int("group", 1)?, "group")?;
    let m = wd.and_then(|w| w.get(1)).map_or(Dim::Unknown, |c| dims::mul(c, group));
    let mut out = vec![xd.and_then(<[Dim]>::first).cloned().unwrap_or(Dim::Unknown), m];
    if let Some(shape) = cx.ints_attr("output_shape")? {
        let tail = if shape.len() == rank { shape.get(2..).unwrap_or_default() } else { shape.as_slice() };
        out.extend(tail.iter().map(|&v| SymInt::Int(v).to_dim()));
        return Ok(vec![Out::dims(out)]);
    }
    let kernel: Vec<Option<u64>> = match cx.ints_attr("kernel_shape")? {
        Some(k) if k.len() == s => k.iter().map(|&v| u64::try_from(v).ok()).collect(),
        _ => wd
            .filter(|w| w.len() == rank)
            .map_or(vec![None; s], |w| w.get(2..).unwrap_or_default().iter().map(Dim::fixed).collect()),
    };
    let strides = list(cx, "strides", s, 1)?;
    let dil = list(cx, "dilations", s, 1)?;
    let pads = list(cx, "pads", 2 * s, 0)?;
    let opad = list(cx, "output_padding", s, 0)?;
    let auto = cx.str("auto_pad", "NOTSET")?;
    for i in 0..s {
        let input = xd.and_then(|d| d.get(i + 2)).cloned().unwrap_or(Dim::Unknown);
        let st = nonneg(cx, nth(cx, &strides, i, "strides")?, "stride")?;
        out.push(match (&input, kernel.get(i).copied().flatten(), auto) {
            (_, _, "SAME_UPPER" | "SAME_LOWER") => dims::mul(&input, st),
            (Dim::Fixed(n), Some(k), _) => {
                // i128 and checked: every term comes from the file and may be
                // extreme enough (u64 sizes times i64 factors) to overflow even i128.
                let w = |v: i64| i128::from(v);
                let (op, dl) = (w(nth(cx, &opad, i, "output_padding")?), w(nth(cx, &dil, i, "dilations")?));
                let pad =
                    if auto == "VALID" { 0 } else { w(nth(cx, &pads, i, "pads")?) + w(nth(cx, &pads, i + s, "pads")?) };
                let v = i128::from(st)
                    .checked_mul(i128::from(*n) - 1)
                    .and_then(|a| a.checked_add(op))
                    .and_then(|a| (i128::from(k) - 1).checked_mul(dl).and_then(|b| a.checked_add(b)))
                    .and_then(|a| a.checked_add(1))
                    .and_then(|a| a.checked_sub(pad));
                v.and_then(|v| u64::try_from(v).ok()).map_or(Dim::Unknown, Dim::Fixed)
            }
            _ => Dim::Unknown,
        });
    }
    Ok(vec![Out::dims(out)])
}

fn roi(cx: &Cx<'_>, pooled: Vec<i64>) -> Result<Vec<Out>> {
    let rois = cx.dims(1).and_then(|r| r.first()).cloned().unwrap_or(Dim::Unknown);
    let c = cx.dims(0).and_then(|x| x.get(1)).cloned().unwrap_or(Dim::Unknown);
    let mut out = vec![rois, c];
    for p in pooled {
        out.push(SymInt::Int(p).to_dim());
    }
    Ok(vec![Out::dims(out)])
}

fn max_unpool(cx: &Cx<'_>) -> Result<Vec<Out>> {
    if let Some(v) = cx.ints(2) {
        return Ok(vec![Out::dims(v.iter().map(SymInt::to_dim).collect())]);
    }
    let Some(x) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    if x.len() < 3 {
        return Err(cx.err(format!("input of rank {} (at least 3 expected)", x.len())));
    }
    let s = x.len() - 2;
    let k = list(cx, "kernel_shape", s, 1)?;
    let st = list(cx, "strides", s, 1)?;
    let pads = list(cx, "pads", 2 * s, 0)?;
    let (head, spatial) = x.split_at_checked(2).ok_or_else(|| cx.err("input of rank below 2"))?;
    let mut out = head.to_vec();
    for (i, d) in spatial.iter().enumerate() {
        out.push(match *d {
            Dim::Fixed(n) => {
                let w = |v: i64| i128::from(v);
                let (st, k) = (w(nth(cx, &st, i, "strides")?), w(nth(cx, &k, i, "kernel_shape")?));
                let (p0, p1) = (w(nth(cx, &pads, i, "pads")?), w(nth(cx, &pads, i + s, "pads")?));
                // Checked: sizes and attributes from the file may be extreme.
                (i128::from(n) - 1)
                    .checked_mul(st)
                    .and_then(|a| a.checked_add(k))
                    .and_then(|a| a.checked_sub(p0))
                    .and_then(|a| a.checked_sub(p1))
                    .and_then(|v| u64::try_from(v).ok())
                    .map_or(Dim::Unknown, Dim::Fixed)
            }
            _ => Dim::Unknown,
        });
    }
    Ok(vec![Out::dims(out)])
}

fn col2im(cx: &Cx<'_>) -> Vec<Out> {
    let (Some(x), Some(image)) = (cx.dims(0), cx.ints(1)) else { return vec![Out::default()] };
    let block = cx.known_ints(2).map(|b| b.iter().product::<i64>());
    let c = match (x.get(1), block) {
        (Some(d), Some(b)) if b > 0 => dims::div(d, b as u64, false),
        _ => Dim::Unknown,
    };
    let mut out = vec![x.first().cloned().unwrap_or(Dim::Unknown), c];
    out.extend(image.iter().map(SymInt::to_dim));
    vec![Out::dims(out)]
}

fn rnn(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let dirs: u64 = if cx.str("direction", "forward")? == "bidirectional" { 2 } else { 1 };
    let layout = cx.int("layout", 0)?;
    let gates = match cx.schema.op {
        "GRU" => 3,
        "LSTM" => 4,
        _ => 1,
    };
    let hidden = match cx.node.attr("hidden_size") {
        Some(_) => SymInt::Int(cx.int("hidden_size", 0)?).to_dim(),
        None => cx
            .dims(2)
            .and_then(|r| r.get(2))
            .cloned()
            .or_else(|| cx.dims(1).and_then(|w| w.get(1)).map(|d| dims::div(d, gates, false)))
            .unwrap_or(Dim::Unknown),
    };
    let (seq, batch) = match cx.dims(0) {
        Some([a, b, _]) => {
            if layout == 0 {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            }
        }
        _ => (Dim::Unknown, Dim::Unknown),
    };
    let d = Dim::Fixed(dirs);
    let (y, h) = if layout == 0 {
        (vec![seq, d.clone(), batch.clone(), hidden.clone()], vec![d, batch, hidden])
    } else {
        (vec![batch.clone(), seq, d.clone(), hidden.clone()], vec![batch, d, hidden])
    };
    Ok(vec![Out::dims(y), Out::dims(h.clone()), Out::dims(h)])
}

fn attention(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let (Some(q), Some(k), Some(v)) = (cx.dims(0), cx.dims(1), cx.dims(2)) else {
        return Ok(vec![
            Out::maybe(cx.rank(0).map(|r| vec![Dim::Unknown; r])),
            Out::rank(4),
            Out::rank(4),
            Out::rank(4),
        ]);
    };
    let q_heads = cx.node.attr("q_num_heads").map(|_| cx.int("q_num_heads", 0)).transpose()?;
    let kv_heads = cx.node.attr("kv_num_heads").map(|_| cx.int("kv_num_heads", 0)).transpose()?;
    // Per-head sizes and sequence lengths, from the 4-D form or the 3-D packed form.
    let split = |d: &[Dim], heads: Option<i64>| -> (Dim, Dim, Dim, Dim) {
        match d {
            [b, h, s, e] => (b.clone(), h.clone(), s.clone(), e.clone()),
            [b, s, e] => match heads.filter(|&h| h > 0) {
                Some(h) => (b.clone(), Dim::Fixed(h as u64), s.clone(), dims::div(e, h as u64, false)),
                None => (b.clone(), Dim::Unknown, s.clone(), Dim::Unknown),
            },
            _ => (Dim::Unknown, Dim::Unknown, Dim::Unknown, Dim::Unknown),
        }
    };
    let (b, hq, sq, _) = split(q, q_heads);
    let (_, hkv, skv, ek) = split(k, kv_heads);
    let (_, _, _, ev) = split(v, kv_heads);
    let past = cx.dims(4).and_then(|p| p.get(2)).cloned();
    let total = match past {
        Some(p) => dims::add(&p, &skv),
        None if cx.present(4) => Dim::Unknown,
        None => skv.clone(),
    };
    let y = if q.len() == 3 {
        vec![b.clone(), sq.clone(), mul_dims(&hq, &ev)]
    } else {
        vec![b.clone(), hq.clone(), sq.clone(), ev.clone()]
    };
    Ok(vec![
        Out::dims(y),
        Out::dims(vec![b.clone(), hkv.clone(), total.clone(), ek]),
        Out::dims(vec![b.clone(), hkv, total.clone(), ev]),
        Out::dims(vec![b, hq, sq, total]),
    ])
}

/// `a * b` when both are fixed (or one is 1).
fn mul_dims(a: &Dim, b: &Dim) -> Dim {
    match (a, b) {
        (Dim::Fixed(x), d) | (d, Dim::Fixed(x)) => dims::mul(d, *x),
        _ => Dim::Unknown,
    }
}

fn resize(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(x) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let r = x.len();
    let ax: Vec<usize> = match cx.ints_attr("axes")? {
        Some(a) => a.iter().map(|&v| cx.axis(v, r)).collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    if let Some(i) = cx.slot("sizes")
        && cx.present(i)
    {
        let Some(sizes) = cx.ints(i) else { return Ok(vec![Out::rank(r)]) };
        if sizes.len() != ax.len() {
            return Err(cx.err(format!("{} sizes for {} axes", sizes.len(), ax.len())));
        }
        let policy = cx.str("keep_aspect_ratio_policy", "stretch")?;
        let mut out = x.to_vec();
        for (&a, size) in ax.iter().zip(sizes) {
            if let Some(slot) = out.get_mut(a) {
                *slot = if policy == "stretch" { size.to_dim() } else { Dim::Unknown };
            }
        }
        return Ok(vec![Out::dims(out)]);
    }
    let scales: Option<Vec<f64>> = match cx.slot("scales") {
        Some(i) if cx.present(i) => cx.k(i).and_then(Known::floats),
        Some(_) => None,
        None => {
            cx.node.attr("scales").and_then(|a| a.as_floats().ok()).map(|v| v.iter().map(|&f| f64::from(f)).collect())
        }
    };
    let Some(scales) = scales else { return Ok(vec![Out::rank(r)]) };
    if scales.len() != ax.len() {
        return Err(cx.err(format!("{} scales for {} axes", scales.len(), ax.len())));
    }
    let mut out = x.to_vec();
    for (&a, &sc) in ax.iter().zip(&scales) {
        let (Some(slot), Some(input)) = (out.get_mut(a), x.get(a)) else { continue };
        *slot = match input {
            _ if sc == 1.0 => input.clone(),
            Dim::Fixed(n) if sc > 0.0 && sc.is_finite() => Dim::Fixed((*n as f64 * sc).floor() as u64),
            _ => Dim::Unknown,
        };
    }
    Ok(vec![Out::dims(out)])
}

fn dft(cx: &Cx<'_>) -> Result<Vec<Out>> {
    let Some(x) = cx.dims(0) else { return Ok(vec![Out::default()]) };
    let r = x.len();
    let a = match cx.param("axis")? {
        Param::Known(v) => v.first().and_then(SymInt::int),
        Param::Absent => Some(if cx.opset >= 20 { -2 } else { cx.int("axis", 1)? }),
        Param::Unknown => None,
    };
    let (inverse, onesided) = (cx.int("inverse", 0)? != 0, cx.int("onesided", 0)? != 0);
    let mut out = x.to_vec();
    if let Some(a) = a {
        let axis = cx.axis(a, r)?;
        let len = match cx.slot("dft_length").map(|i| (cx.present(i), cx.scalar(i))) {
            Some((true, Some(n))) => SymInt::Int(n).to_dim(),
            Some((true, None)) => Dim::Unknown,
            _ => x.get(axis).cloned().unwrap_or(Dim::Unknown),
        };
        if let Some(slot) = out.get_mut(axis) {
            *slot = match (onesided, inverse) {
                (true, false) => len.fixed().map_or(Dim::Unknown, |n| Dim::Fixed(n / 2 + 1)),
                (true, true) => Dim::Unknown,
                _ => len,
            };
        }
    } else {
        out = vec![Dim::Unknown; r];
    }
    if let Some(last) = out.last_mut() {
        *last = Dim::Fixed(if inverse && onesided { 1 } else { 2 });
    }
    Ok(vec![Out::dims(out)])
}
