//! Sizes, reshaping, joining, splitting and indexing.
//!
//! `size(x, d)` folds to a Python int when `ir::infer` knows the dimension
//! and is otherwise `Shape` → `Gather`, a 0-D `i64` graph value, so the
//! shape lists traced code builds from it stay dynamic.

use ir::{Attribute, DType, Error, Result};

use super::{Args, Lower, Rule, V};

/// The rules of this family.
pub(super) const RULES: &[(&str, Rule)] = &[
    ("size", size),
    ("prim::NumToTensor", |_, a| Ok(a.req(0, "a")?.clone())),
    ("ScalarImplicit", |_, a| Ok(a.req(0, "a")?.clone())),
    ("Int", |l, a| int_of_tensor(l, a)),
    ("numel", numel),
    // The shape as a 1-D int64 tensor (what our exporter writes for shapes
    // that must stay dynamic).
    ("_shape_as_tensor", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        Ok(V::T(l.node("Shape", &[&x], vec![])?))
    }),
    ("len", |l, a| match a.req(0, "a")? {
        V::List(x) | V::Tuple(x) => Ok(V::Int(x.len() as i64)),
        V::Str(x) => Ok(V::Int(x.chars().count() as i64)),
        V::Dict(x) => Ok(V::Int(x.len() as i64)),
        v => {
            let x = l.tensor(v, None)?;
            dim_of(l, &x, 0)
        }
    }),
    ("__contains__", |_, a| match (a.req(0, "self")?, a.req(1, "key")?) {
        (V::List(x) | V::Tuple(x), k) => Ok(V::Bool(x.iter().any(|v| super::same(v, k)))),
        (V::Dict(x), k) => Ok(V::Bool(x.iter().any(|(v, _)| super::same(v, k)))),
        (v, _) => Err(Error::invalid(format!("'in' of a {}", v.kind()))),
    }),
    ("format", |_, a| match a.req(0, "self")? {
        // Messages of exceptions on paths not taken; the text does not matter.
        V::Str(s) => Ok(V::Str(s.clone())),
        v => Err(Error::invalid(format!("format of a {}", v.kind()))),
    }),
    ("prim::dtype", |l, a| {
        let x = l.tensor(a.req(0, "a")?, None)?;
        let d = l.dtype(&x).ok_or_else(|| Error::invalid("dtype of a value of unknown dtype"))?;
        let t = crate::dtype::TYPES
            .iter()
            .find(|t| t.dtype == d)
            .ok_or_else(|| Error::invalid(format!("{d} has no torch dtype")))?;
        Ok(V::Int(t.code))
    }),
    ("prim::device", |_, _| Ok(V::Device)),
    ("warn", |_, _| Ok(V::None)),
    ("__is__", |_, a| {
        Ok(V::Bool(matches!(a.get(0, "self"), Some(V::None)) == matches!(a.get(1, "obj"), Some(V::None))))
    }),
    ("__isnot__", |_, a| {
        Ok(V::Bool(matches!(a.get(0, "self"), Some(V::None)) != matches!(a.get(1, "obj"), Some(V::None))))
    }),
    ("dim", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        Ok(V::Int(l.rank(&x)? as i64))
    }),
    ("view", reshape),
    ("reshape", reshape),
    ("view_as", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let o = l.tensor(a.req(1, "other")?, None)?;
        let s = l.node("Shape", &[&o], vec![])?;
        Ok(V::T(l.node("Reshape", &[&x, &s], vec![])?))
    }),
    ("reshape_as", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let o = l.tensor(a.req(1, "other")?, None)?;
        let s = l.node("Shape", &[&o], vec![])?;
        Ok(V::T(l.node("Reshape", &[&x, &s], vec![])?))
    }),
    ("flatten", flatten),
    ("unflatten", unflatten),
    ("permute", permute),
    ("transpose", transpose),
    ("t", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        if l.rank(&x)? < 2 {
            return Ok(V::T(x));
        }
        Ok(V::T(l.node("Transpose", &[&x], vec![("perm", Attribute::Ints(vec![1, 0]))])?))
    }),
    ("contiguous", |_, a| Ok(a.req(0, "self")?.clone())),
    ("clone", |_, a| Ok(a.req(0, "self")?.clone())),
    ("detach", |_, a| Ok(a.req(0, "self")?.clone())),
    ("squeeze", squeeze),
    ("unsqueeze", unsqueeze),
    ("expand", expand),
    ("expand_as", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let o = l.tensor(a.req(1, "other")?, None)?;
        let s = l.node("Shape", &[&o], vec![])?;
        Ok(V::T(l.node("Expand", &[&x, &s], vec![])?))
    }),
    ("repeat", repeat),
    ("cat", |l, a| cat(l, a, false)),
    ("concat", |l, a| cat(l, a, false)),
    ("stack", |l, a| cat(l, a, true)),
    ("split", split),
    ("split_with_sizes", split),
    ("chunk", chunk),
    ("unbind", unbind),
    ("slice", slice),
    ("narrow", narrow),
    ("select", select),
    ("index", index),
    ("gather", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let d = l.int(a.req(1, "dim")?, "dim")?;
        let i = l.tensor(a.req(2, "index")?, Some(DType::I64))?;
        Ok(V::T(l.node("GatherElements", &[&x, &i], vec![("axis", Attribute::Int(d))])?))
    }),
    ("__getitem__", getitem),
    ("tolist", tolist),
    ("item", item),
    ("flip", flip),
    ("movedim", movedim),
    ("moveaxis", movedim),
    ("tile", tile),
    ("repeat_interleave", repeat_interleave),
    ("constant_pad_nd", constant_pad_nd),
    ("pad", pad),
    ("topk", topk),
    ("scatter", |l, a| scatter(l, a, None)),
    ("scatter_reduce", |l, a| {
        let how = match a.req(4, "reduce")? {
            V::Str(s) => s.clone(),
            v => return Err(Error::invalid(format!("scatter_reduce's reduce is a {}", v.kind()))),
        };
        if a.opt(5, "include_self").is_some_and(|v| l.int_of(v) == Some(0)) {
            return Err(Error::invalid("scatter_reduce with include_self=False"));
        }
        scatter(l, a, Some(&how))
    }),
    ("index_put", index_put),
    ("nonzero", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let nz = l.node("NonZero", &[&x], vec![])?;
        // torch lists one row per non-zero element; ONNX one row per axis.
        Ok(V::T(l.node("Transpose", &[&nz], vec![("perm", Attribute::Ints(vec![1, 0]))])?))
    }),
    ("pixel_shuffle", |l, a| {
        let x = l.tensor(a.req(0, "self")?, None)?;
        let b = l.int(a.req(1, "upscale_factor")?, "upscale_factor")?;
        // pixel_shuffle reads channel c·b² + i·b + j: ONNX's CRD order.
        Ok(V::T(l.node(
            "DepthToSpace",
            &[&x],
            vec![("blocksize", Attribute::Int(b)), ("mode", Attribute::String("CRD".into()))],
        )?))
    }),
];

/// Normalizes a possibly negative axis.
pub(super) fn axis(d: i64, rank: usize) -> Result<i64> {
    let r = rank as i64;
    let a = if d < 0 { d + r } else { d };
    if a < 0 || a >= r.max(1) {
        return Err(Error::invalid(format!("dimension {d} is out of range for rank {rank}")));
    }
    Ok(a)
}

/// Dimension `d` of `x`: a Python int when known, else a 0-D `i64` value.
pub(super) fn dim_of(l: &mut Lower<'_>, x: &str, d: i64) -> Result<V> {
    let rank = l.rank(x)?;
    let a = axis(d, rank)?;
    if let Some(n) = l.shape(x).and_then(|s| s.dims().get(a as usize).and_then(ir::Dim::fixed)) {
        return Ok(V::Int(n as i64));
    }
    let s = l.node("Shape", &[x], vec![])?;
    let i = l.scalar(a as f64, DType::I64)?;
    Ok(V::T(l.node("Gather", &[&s, &i], vec![("axis", Attribute::Int(0))])?))
}

fn size(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    match a.opt(1, "dim") {
        Some(d) => {
            let d = l.int(d, "dim")?;
            dim_of(l, &x, d)
        }
        None => {
            let rank = l.rank(&x)?;
            Ok(V::List((0..rank as i64).map(|d| dim_of(l, &x, d)).collect::<Result<_>>()?))
        }
    }
}

fn int_of_tensor(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let v = a.req(0, "a")?;
    Ok(match l.int_of(v) {
        Some(i) => V::Int(i),
        None => {
            let t = l.tensor(v, None)?;
            V::T(l.cast(&t, DType::I64)?)
        }
    })
}

fn numel(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    if let Some(dims) = l.shape(&x).and_then(|s| s.as_fixed()) {
        return Ok(V::Int(dims.iter().product::<u64>() as i64));
    }
    let s = l.node("Shape", &[&x], vec![])?;
    Ok(V::T(super::math::reduce_axes(l, &s, "ReduceProd", None, false)?))
}

fn reshape(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let s = l.tensor(a.req(1, "shape")?, Some(DType::I64))?;
    // A 0 in torch's shape is a size 0, not ONNX's "copy the input's
    // dimension": say so unless the shape is known to have none.
    let no_zero =
        l.known(&s).and_then(ir::infer::Known::ints).is_some_and(|v| v.iter().all(|d| d.int().is_some_and(|d| d != 0)));
    let attrs = if no_zero { vec![] } else { vec![("allowzero", Attribute::Int(1))] };
    Ok(V::T(l.node("Reshape", &[&x, &s], attrs)?))
}

/// `Shape(x)[start:end]` as a 1-D `i64` value (empty range allowed).
fn shape_slice(l: &mut Lower<'_>, x: &str, start: i64, end: i64) -> Result<String> {
    let s = l.node("Shape", &[x], vec![])?;
    let (b, e, ax) = (l.i64s(&[start]), l.i64s(&[end]), l.i64s(&[0]));
    l.node("Slice", &[&s, &b, &e, &ax], vec![])
}

fn flatten(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    if rank == 0 {
        let s = l.i64s(&[1]);
        return Ok(V::T(l.node("Reshape", &[&x, &s], vec![])?));
    }
    let start = axis(a.opt(1, "start_dim").map_or(Ok(0), |v| l.int(v, "start_dim"))?, rank)?;
    let end = axis(a.opt(2, "end_dim").map_or(Ok(-1), |v| l.int(v, "end_dim"))?, rank)?;
    // Leading dims copied (0), the flattened run (-1), trailing dims from the shape.
    let mut head: Vec<i64> = vec![0; start as usize];
    head.push(-1);
    let target = if end as usize == rank - 1 {
        l.i64s(&head)
    } else {
        let h = l.i64s(&head);
        let tail = shape_slice(l, &x, end + 1, rank as i64)?;
        l.node("Concat", &[&h, &tail], vec![("axis", Attribute::Int(0))])?
    };
    Ok(V::T(l.node("Reshape", &[&x, &target], vec![])?))
}

fn unflatten(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    let d = axis(l.int(a.req(1, "dim")?, "dim")?, rank)?;
    let sizes = l.tensor(a.req(2, "sizes")?, Some(DType::I64))?;
    let head = shape_slice(l, &x, 0, d)?;
    let tail = shape_slice(l, &x, d + 1, rank as i64)?;
    let target = l.node("Concat", &[&head, &sizes, &tail], vec![("axis", Attribute::Int(0))])?;
    Ok(V::T(l.node("Reshape", &[&x, &target], vec![])?))
}

fn permute(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    let perm = l.ints(a.req(1, "dims")?, "dims")?.into_iter().map(|d| axis(d, rank)).collect::<Result<Vec<_>>>()?;
    Ok(V::T(l.node("Transpose", &[&x], vec![("perm", Attribute::Ints(perm))])?))
}

/// `Transpose` swapping two axes.
pub(super) fn swap(l: &mut Lower<'_>, x: &str, d0: i64, d1: i64) -> Result<String> {
    let rank = l.rank(x)?;
    let (p, q) = (axis(d0, rank)?, axis(d1, rank)?);
    let mut perm: Vec<i64> = (0..rank as i64).collect();
    perm.swap(p as usize, q as usize);
    l.node("Transpose", &[x], vec![("perm", Attribute::Ints(perm))])
}

fn transpose(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d0 = l.int(a.req(1, "dim0")?, "dim0")?;
    let d1 = l.int(a.req(2, "dim1")?, "dim1")?;
    Ok(V::T(swap(l, &x, d0, d1)?))
}

fn squeeze(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    match a.opt(1, "dim") {
        None => Ok(V::T(l.node("Squeeze", &[&x], vec![])?)),
        Some(d) => {
            let rank = l.rank(&x)?;
            let dims = l.ints(d, "dim")?;
            // torch leaves a dimension that is not 1 alone; ONNX would fail.
            let shape = l.shape(&x);
            let dims: Vec<i64> = dims
                .into_iter()
                .map(|d| axis(d, rank))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .filter(|&d| {
                    shape
                        .as_ref()
                        .is_none_or(|s| s.dims().get(d as usize).and_then(ir::Dim::fixed).is_none_or(|n| n == 1))
                })
                .collect();
            if dims.is_empty() {
                return Ok(V::T(x));
            }
            let c = l.i64s(&dims);
            Ok(V::T(l.node("Squeeze", &[&x, &c], vec![])?))
        }
    }
}

fn unsqueeze(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    let d = l.int(a.req(1, "dim")?, "dim")?;
    let d = if d < 0 { d + rank as i64 + 1 } else { d };
    let c = l.i64s(&[d]);
    Ok(V::T(l.node("Unsqueeze", &[&x, &c], vec![])?))
}

fn expand(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    // -1 keeps a dimension; a 1 in an Expand shape broadcasts to the input's size.
    let sizes = match a.req(1, "size")? {
        V::List(items) | V::Tuple(items) => {
            V::List(items.iter().map(|v| if l.int_of(v) == Some(-1) { V::Int(1) } else { v.clone() }).collect())
        }
        v => v.clone(),
    };
    let s = l.tensor(&sizes, Some(DType::I64))?;
    Ok(V::T(l.node("Expand", &[&x, &s], vec![])?))
}

fn repeat(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let reps = l.ints(a.req(1, "repeats")?, "repeats")?;
    let rank = l.rank(&x)?;
    if reps.len() > rank {
        let c = l.i64s(&(0..(reps.len() - rank) as i64).collect::<Vec<_>>());
        x = l.node("Unsqueeze", &[&x, &c], vec![])?;
    }
    let r = l.i64s(&reps);
    Ok(V::T(l.node("Tile", &[&x, &r], vec![])?))
}

fn tensors(l: &mut Lower<'_>, v: &V) -> Result<Vec<String>> {
    match v {
        V::List(items) | V::Tuple(items) => items.iter().map(|x| l.tensor(x, None)).collect(),
        v => Err(Error::invalid(format!("expected a list of tensors, got a {}", v.kind()))),
    }
}

fn cat(l: &mut Lower<'_>, a: &Args, stack: bool) -> Result<V> {
    if let (V::Stacked(t), true) = (a.req(0, "tensors")?, stack) {
        // Already stacked on axis 0: move that axis to `dim`.
        let t = t.clone();
        let rank = l.rank(&t)?;
        let d = axis(a.opt(1, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?, rank)?;
        if d == 0 {
            return Ok(V::T(t));
        }
        let mut perm: Vec<i64> = (1..rank as i64).collect();
        perm.insert(d as usize, 0);
        return Ok(V::T(l.node("Transpose", &[&t], vec![("perm", Attribute::Ints(perm))])?));
    }
    let mut ts = tensors(l, a.req(0, "tensors")?)?;
    let d = a.opt(1, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?;
    let first = ts.first().cloned().ok_or_else(|| Error::invalid("cat of no tensors"))?;
    let rank = l.rank(&first)? + usize::from(stack);
    let d = axis(d, rank)?;
    if stack {
        let c = l.i64s(&[d]);
        ts = ts.iter().map(|t| l.node("Unsqueeze", &[t, &c], vec![])).collect::<Result<_>>()?;
    }
    // Operands of different dtypes meet at the first's (torch promotes; fixtures agree).
    let dt = l.dtype(&first);
    if let Some(dt) = dt {
        ts = ts.iter().map(|t| l.cast(t, dt)).collect::<Result<_>>()?;
    }
    let refs: Vec<&str> = ts.iter().map(String::as_str).collect();
    Ok(V::T(l.node("Concat", &refs, vec![("axis", Attribute::Int(d))])?))
}

/// Splits `x` along `d` into pieces of the given sizes.
fn split_sizes(l: &mut Lower<'_>, x: &str, d: i64, sizes: &[i64]) -> Result<V> {
    let s = l.i64s(sizes);
    let outs = l.node_n("Split", &[x, &s], vec![("axis", Attribute::Int(d))], sizes.len())?;
    Ok(V::List(outs.into_iter().map(V::T).collect()))
}

fn known_dim(l: &Lower<'_>, x: &str, d: i64) -> Result<(i64, i64)> {
    let rank = l.rank(x)?;
    let d = axis(d, rank)?;
    let n = l
        .shape(x)
        .and_then(|s| s.dims().get(d as usize).and_then(ir::Dim::fixed))
        .ok_or_else(|| Error::invalid(format!("splitting a dimension of unknown size (dimension {d} of '{x}')")))?;
    Ok((d, n as i64))
}

fn split(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = a.opt(2, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?;
    let (d, n) = known_dim(l, &x, d)?;
    let sizes = match a.req(1, "split_size")? {
        v @ (V::List(_) | V::Tuple(_)) => l.ints(v, "split sizes")?,
        v => {
            let k = l.int(v, "split_size")?;
            if k <= 0 {
                return Err(Error::invalid("split size must be positive"));
            }
            (0..n).step_by(k as usize).map(|s| k.min(n - s)).collect()
        }
    };
    split_sizes(l, &x, d, &sizes)
}

fn chunk(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let chunks = l.int(a.req(1, "chunks")?, "chunks")?;
    let d = a.opt(2, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?;
    let (d, n) = known_dim(l, &x, d)?;
    if chunks <= 0 {
        return Err(Error::invalid("chunk count must be positive"));
    }
    let k = (n + chunks - 1) / chunks;
    let sizes: Vec<i64> = if k == 0 { vec![0] } else { (0..n).step_by(k as usize).map(|s| k.min(n - s)).collect() };
    split_sizes(l, &x, d, &sizes)
}

fn unbind(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = a.opt(1, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?;
    let (d, n) = known_dim(l, &x, d)?;
    let V::List(parts) = split_sizes(l, &x, d, &vec![1; n as usize])? else { unreachable!("split gives a list") };
    let c = l.i64s(&[d]);
    let mut out = Vec::new();
    for p in parts {
        let V::T(p) = p else { unreachable!("split gives tensors") };
        out.push(V::T(l.node("Squeeze", &[&p, &c], vec![])?));
    }
    Ok(V::List(out))
}

/// A 1-element `i64` value for a slice bound.
pub(super) fn bound(l: &mut Lower<'_>, v: Option<&V>, default: i64) -> Result<String> {
    match v {
        None => Ok(l.i64s(&[default])),
        Some(v) => match l.int_of(v) {
            Some(i) => Ok(l.i64s(&[i])),
            None => {
                let t = l.tensor(v, Some(DType::I64))?;
                let t = l.cast(&t, DType::I64)?;
                let one = l.i64s(&[1]);
                l.node("Reshape", &[&t, &one], vec![])
            }
        },
    }
}

/// `slice(x, dim, start, end, step)`.
fn slice(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = a.opt(1, "dim").map_or(Ok(0), |v| l.int(v, "dim"))?;
    let step = a.opt(4, "step").map_or(Ok(1), |v| l.int(v, "step"))?;
    let start = bound(l, a.opt(2, "start"), 0)?;
    let end = bound(l, a.opt(3, "end"), i64::MAX)?;
    let ax = l.i64s(&[d]);
    let st = l.i64s(&[step]);
    Ok(V::T(l.node("Slice", &[&x, &start, &end, &ax, &st], vec![])?))
}

/// `narrow(x, dim, start, length)`.
fn narrow(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = l.int(a.req(1, "dim")?, "dim")?;
    let s = a.req(2, "start")?.clone();
    let n = a.req(3, "length")?.clone();
    let end = super::math::add(l, &Args { pos: vec![s.clone(), n], kw: vec![] })?;
    let start = bound(l, Some(&s), 0)?;
    let end = bound(l, Some(&end), 0)?;
    let ax = l.i64s(&[d]);
    Ok(V::T(l.node("Slice", &[&x, &start, &end, &ax], vec![])?))
}

/// `select(x, dim, index)`: `Gather` with a 0-D index drops the dimension.
fn select(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let d = l.int(a.req(1, "dim")?, "dim")?;
    let i = a.req(2, "index")?;
    let i = match l.int_of(i) {
        Some(k) => l.scalar(k as f64, DType::I64)?,
        None => {
            let t = l.tensor(i, Some(DType::I64))?;
            l.cast(&t, DType::I64)?
        }
    };
    Ok(V::T(l.node("Gather", &[&x, &i], vec![("axis", Attribute::Int(d))])?))
}

/// `index(x, [None, ..., idx, ...])` with one integer index tensor.
fn index(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let items = match a.req(1, "indices")? {
        V::List(v) | V::Tuple(v) => v.clone(),
        v => vec![v.clone()],
    };
    let given: Vec<(usize, &V)> = items.iter().enumerate().filter(|(_, v)| !matches!(v, V::None)).collect();
    if given.len() > 1 && given.iter().enumerate().all(|(k, (p, _))| k == *p) {
        return index_leading(l, &x, &given.iter().map(|(_, v)| (*v).clone()).collect::<Vec<_>>());
    }
    let [(pos, idx)] = given.as_slice() else {
        return Err(Error::invalid("index with index tensors on non-leading dimensions"));
    };
    let i = l.tensor(idx, Some(DType::I64))?;
    if l.dtype(&i) == Some(DType::Bool) {
        return Err(Error::invalid("boolean mask indexing (a data-dependent shape)"));
    }
    Ok(V::T(l.node("Gather", &[&x, &i], vec![("axis", Attribute::Int(*pos as i64))])?))
}

fn getitem(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let i = l.int(a.req(1, "idx")?, "index")?;
    match a.req(0, "self")? {
        V::List(x) | V::Tuple(x) => {
            let k = if i < 0 { i + x.len() as i64 } else { i };
            x.get(usize::try_from(k).unwrap_or(usize::MAX))
                .cloned()
                .ok_or_else(|| Error::invalid(format!("index {i} out of range")))
        }
        v => Err(Error::invalid(format!("__getitem__ of a {}", v.kind()))),
    }
}

/// `x[i0, i1, ..., ik]` with index tensors on the leading dimensions:
/// the indices are broadcast together, stacked on a last axis and read by
/// `GatherND`.
fn index_leading(l: &mut Lower<'_>, x: &str, idx: &[V]) -> Result<V> {
    let (stacked, _) = nd_indices(l, idx, "boolean mask indexing (a data-dependent shape)", "indexing with no index")?;
    Ok(V::T(l.node("GatherND", &[x, &stacked], vec![])?))
}

/// Index tensors on the leading axes as one `GatherND`/`ScatterND` index:
/// each cast to i64, broadcast together (the shape of their sum) and
/// stacked on a new last axis; returned with that broadcast shape. `mask`
/// and `none` are the errors for a boolean index and for no index at all.
fn nd_indices(l: &mut Lower<'_>, idx: &[V], mask: &str, none: &str) -> Result<(String, String)> {
    let mut ts = Vec::new();
    for v in idx {
        let t = l.tensor(v, Some(DType::I64))?;
        if l.dtype(&t) == Some(DType::Bool) {
            return Err(Error::invalid(mask));
        }
        ts.push(l.cast(&t, DType::I64)?);
    }
    // The broadcast shape, from a sum of all the indices.
    let mut sum = ts.first().cloned().ok_or_else(|| Error::invalid(none))?;
    for t in ts.iter().skip(1) {
        sum = l.node("Add", &[&sum, t], vec![])?;
    }
    let shape = l.node("Shape", &[&sum], vec![])?;
    let last = l.i64s(&[-1]);
    let mut cols = Vec::new();
    for t in &ts {
        let e = l.node("Expand", &[t, &shape], vec![])?;
        cols.push(l.node("Unsqueeze", &[&e, &last], vec![])?);
    }
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    Ok((l.node("Concat", &refs, vec![("axis", Attribute::Int(-1))])?, shape))
}

/// One item of a tensor subscript.
pub(super) enum Sub {
    /// `a:b:c` (any part may be absent).
    Slice(Option<V>, Option<V>, Option<V>),
    /// An int (drops the dimension) or an index tensor (advanced indexing).
    Index(V),
    /// `None`: a new axis of size 1.
    NewAxis,
}

/// `x[item, ...]` as torch indexes: slices keep their dimension, ints drop
/// it, `None` inserts one; one index tensor is a `Gather` on its axis (the
/// index's shape replaces the axis), several on the leading axes a
/// `GatherND` of the broadcast indices.
pub(super) fn subscript(l: &mut Lower<'_>, x: &str, items: Vec<Sub>) -> Result<V> {
    let mut x = x.to_string();
    let mut ax = 0i64;
    let mut advanced: Vec<(i64, V)> = Vec::new();
    for item in items {
        match item {
            Sub::Slice(None, None, None) => ax += 1,
            Sub::Slice(a, b, c) => {
                let step = c.as_ref().map_or(Ok(1), |v| l.int(v, "a slice step"))?;
                if step <= 0 {
                    return Err(Error::invalid("tensor slices with a step below 1"));
                }
                let start = bound(l, a.as_ref(), 0)?;
                let end = bound(l, b.as_ref(), i64::MAX)?;
                let (axes, steps) = (l.i64s(&[ax]), l.i64s(&[step]));
                x = l.node("Slice", &[&x, &start, &end, &axes, &steps], vec![])?;
                ax += 1;
            }
            Sub::NewAxis => {
                let c = l.i64s(&[ax]);
                x = l.node("Unsqueeze", &[&x, &c], vec![])?;
                ax += 1;
            }
            Sub::Index(v) => match l.int_of(&v).filter(|_| !matches!(v, V::T(_)) || l.shape_rank(&v) == Some(0)) {
                Some(k) => {
                    let i = l.scalar(k as f64, DType::I64)?;
                    x = l.node("Gather", &[&x, &i], vec![("axis", Attribute::Int(ax))])?;
                }
                None => {
                    advanced.push((ax, v));
                    ax += 1;
                }
            },
        }
    }
    match advanced.as_slice() {
        [] => Ok(V::T(x)),
        [(axis, idx)] => {
            let i = l.tensor(idx, Some(DType::I64))?;
            if l.dtype(&i) == Some(DType::Bool) {
                return Err(Error::invalid("boolean mask indexing (a data-dependent shape)"));
            }
            let i = l.cast(&i, DType::I64)?;
            Ok(V::T(l.node("Gather", &[&x, &i], vec![("axis", Attribute::Int(*axis))])?))
        }
        several if several.iter().enumerate().all(|(k, (a, _))| *a == k as i64) => {
            let idx: Vec<V> = several.iter().map(|(_, v)| v.clone()).collect();
            index_leading(l, &x, &idx)
        }
        _ => Err(Error::invalid("index tensors on non-leading, non-adjacent dimensions")),
    }
}

/// `x.tolist()`: the values as a Python list (nested by rank; a number
/// for a 0-D tensor) when known at import; otherwise the tensor itself
/// stands for the list, and the rules that read sizes (`reshape`,
/// `zeros`, `full`, `tile`, ...) take it as a 1-D graph value.
fn tolist(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let dims = l.shape(&x).and_then(|s| s.as_fixed());
    let d = l.dtype(&x);
    let k = l.known(&x);
    let values: Option<Vec<V>> = match d {
        Some(DType::Bool) => k
            .and_then(ir::infer::Known::ints)
            .and_then(|xs| xs.iter().map(|v| v.int().map(|i| V::Bool(i != 0))).collect()),
        Some(d) if d.is_int() => {
            k.and_then(ir::infer::Known::ints).and_then(|xs| xs.iter().map(|v| v.int().map(V::Int)).collect())
        }
        Some(d) if d.is_float() => k.and_then(ir::infer::Known::floats).map(|f| f.into_iter().map(V::Float).collect()),
        _ => None,
    };
    match (dims, values) {
        (Some(dims), Some(values)) if dims.iter().product::<u64>() == values.len() as u64 => {
            let v = nest(&dims, &values);
            if let V::List(items) = &v {
                l.check_nesting(items)?;
            }
            Ok(v)
        }
        _ => Ok(V::T(x)),
    }
}

/// Row-major `values` as nested lists of `dims` (a number for no dims).
fn nest(dims: &[u64], values: &[V]) -> V {
    match dims.split_first() {
        None => values.first().cloned().unwrap_or(V::None),
        Some((&n, rest)) => {
            let stride = rest.iter().product::<u64>() as usize;
            V::List(
                (0..n as usize)
                    .map(|i| nest(rest, values.get(i * stride..(i + 1) * stride).unwrap_or_default()))
                    .collect(),
            )
        }
    }
}

/// `x.item()`: a Python number when known at import, else the one element
/// as a 0-D graph value.
fn item(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let v = a.req(0, "self")?;
    if matches!(v, V::Int(_) | V::Float(_) | V::Bool(_)) {
        return Ok(v.clone());
    }
    let x = l.tensor(v, None)?;
    let d = l.dtype(&x);
    let known = match d {
        Some(DType::Bool) => l.int_of(&V::T(x.clone())).map(|i| V::Bool(i != 0)),
        Some(d) if d.is_int() => l.int_of(&V::T(x.clone())).map(V::Int),
        Some(d) if d.is_float() => l.float_of(&V::T(x.clone())).map(V::Float),
        _ => None,
    };
    if let Some(k) = known {
        return Ok(k);
    }
    if l.shape(&x).is_some_and(|s| s.rank() == 0) {
        return Ok(V::T(x));
    }
    let scalar = l.i64s(&[]);
    Ok(V::T(l.node("Reshape", &[&x, &scalar], vec![])?))
}

/// `flip(x, dims)`: a `Slice` running backwards over each axis.
fn flip(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let dims = a.req(1, "dims")?;
    // The axes may be computed at run time (`[int(axis)]` of an input).
    let (n, ax) = match (l.ints(dims, "dims"), dims) {
        (Ok(axes), _) if axes.is_empty() => return Ok(V::T(x)),
        (Ok(axes), _) => (axes.len(), l.i64s(&axes)),
        (Err(_), V::List(items) | V::Tuple(items)) => (items.len(), l.tensor(dims, Some(DType::I64))?),
        (Err(e), _) => return Err(e),
    };
    let (starts, ends, steps) = (l.i64s(&vec![-1; n]), l.i64s(&vec![i64::MIN; n]), l.i64s(&vec![-1; n]));
    Ok(V::T(l.node("Slice", &[&x, &starts, &ends, &ax, &steps], vec![])?))
}

/// `movedim(x, source, destination)`: the moved axes land at their
/// destinations, the others keep their order in the remaining places.
fn movedim(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    let norm = |v: Vec<i64>| v.into_iter().map(|d| axis(d, rank)).collect::<Result<Vec<_>>>();
    let src = norm(l.ints(a.req(1, "source")?, "source")?)?;
    let dst = norm(l.ints(a.req(2, "destination")?, "destination")?)?;
    if src.len() != dst.len() {
        return Err(Error::invalid(format!("movedim of {} source and {} destination dims", src.len(), dst.len())));
    }
    let mut perm: Vec<Option<i64>> = vec![None; rank];
    for (&s, &d) in src.iter().zip(&dst) {
        // `axis` normalized `d` into the rank.
        let slot = perm.get_mut(d as usize).ok_or_else(|| Error::invalid(format!("movedim to dim {d}")))?;
        if slot.is_some() || src.iter().filter(|&&v| v == s).count() > 1 {
            return Err(Error::invalid("movedim with repeated dims"));
        }
        *slot = Some(s);
    }
    let mut rest = (0..rank as i64).filter(|d| !src.contains(d));
    let perm: Vec<i64> = perm.into_iter().map(|p| p.or_else(|| rest.next()).unwrap_or_default()).collect();
    Ok(V::T(l.node("Transpose", &[&x], vec![("perm", Attribute::Ints(perm))])?))
}

/// `tile(x, dims)`: `Tile` after padding the shorter of `dims` and the
/// shape with leading ones; `dims` may be a run-time list (`tolist()` of a
/// tensor) of the input's rank.
fn tile(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let rank = l.rank(&x)?;
    let reps = a.req(1, "dims")?;
    let r = match l.ints(reps, "dims") {
        Ok(mut reps) => {
            if reps.len() > rank {
                let c = l.i64s(&(0..(reps.len() - rank) as i64).collect::<Vec<_>>());
                x = l.node("Unsqueeze", &[&x, &c], vec![])?;
            }
            while reps.len() < rank {
                reps.insert(0, 1);
            }
            l.i64s(&reps)
        }
        Err(_) => {
            let t = l.tensor(reps, Some(DType::I64))?;
            let len = l.shape(&t).and_then(|s| s.as_fixed()).and_then(|d| match d.as_slice() {
                [n] => Some(*n as usize),
                _ => None,
            });
            if len != Some(rank) {
                return Err(Error::invalid("tile with run-time repeats of a length other than the input's rank"));
            }
            l.cast(&t, DType::I64)?
        }
    };
    Ok(V::T(l.node("Tile", &[&x, &r], vec![])?))
}

/// `repeat_interleave(x, repeats, dim=None)`: each element repeated in
/// place along `dim` (of the flattened input without one); `repeats` an
/// int, or a tensor known at import (per-element counts gather an index
/// list).
fn repeat_interleave(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let mut x = l.tensor(a.req(0, "self")?, None)?;
    let d = match a.opt(2, "dim") {
        Some(v) => {
            let rank = l.rank(&x)?;
            axis(l.int(v, "dim")?, rank)?
        }
        None => {
            let flat = l.i64s(&[-1]);
            x = l.node("Reshape", &[&x, &flat], vec![])?;
            0
        }
    };
    let rank = l.rank(&x)?;
    let reps = a.req(1, "repeats")?;
    let counts = l.ints(reps, "repeats")?;
    if let ([r], true) = (counts.as_slice(), l.shape_rank(reps).is_none_or(|r| r == 0)) {
        if *r < 0 {
            return Err(Error::invalid(format!("repeat_interleave by {r}")));
        }
        // [.., n, ..] → [.., n, 1, ..] tiled to [.., n, r, ..] → [.., n·r, ..].
        let c = l.i64s(&[d + 1]);
        let u = l.node("Unsqueeze", &[&x, &c], vec![])?;
        let t: Vec<i64> = (0..=rank as i64).map(|k| if k == d + 1 { *r } else { 1 }).collect();
        let t = l.i64s(&t);
        let tiled = l.node("Tile", &[&u, &t], vec![])?;
        let head = shape_slice(l, &x, 0, d)?;
        let mid = l.i64s(&[-1]);
        let tail = shape_slice(l, &x, d + 1, rank as i64)?;
        let target = l.node("Concat", &[&head, &mid, &tail], vec![("axis", Attribute::Int(0))])?;
        return Ok(V::T(l.node("Reshape", &[&tiled, &target], vec![])?));
    }
    let mut idx = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        if c < 0 {
            return Err(Error::invalid(format!("repeat_interleave by {c}")));
        }
        idx.extend(std::iter::repeat_n(i as i64, c as usize));
        if idx.len() > super::MAX_VALUES {
            return Err(Error::invalid(format!(
                "repeat_interleave to more than {} elements along one axis",
                super::MAX_VALUES
            )));
        }
    }
    let i = l.i64s(&idx);
    Ok(V::T(l.node("Gather", &[&x, &i], vec![("axis", Attribute::Int(d))])?))
}

/// ONNX `Pad` pads (all begins, then all ends) from torch's (begin, end)
/// pairs listed from the last axis backwards.
fn onnx_pads(l: &Lower<'_>, x: &str, pad: &V) -> Result<Vec<i64>> {
    let p = l.ints(pad, "pad")?;
    let rank = l.rank(x)?;
    if p.len() % 2 != 0 || p.len() / 2 > rank {
        return Err(Error::invalid(format!("{} pad values for a rank-{rank} input", p.len())));
    }
    // Pair i (begin, end) pads axis rank - 1 - i; axes before the pairs get none.
    let pair = |ax: usize, side: usize| p.get(2 * (rank - 1 - ax) + side).copied().unwrap_or(0);
    let begins = (0..rank).map(|ax| pair(ax, 0));
    let ends = (0..rank).map(|ax| pair(ax, 1));
    Ok(begins.chain(ends).collect())
}

/// `Pad` of `x` with `pads` in `mode` and an optional fill value.
fn pad_node(l: &mut Lower<'_>, x: &str, pads: &[i64], mode: &str, value: Option<&V>) -> Result<V> {
    let p = l.i64s(pads);
    let mut ins = vec![x.to_string(), p];
    if let Some(v) = value {
        let d = l.dtype(x).unwrap_or(DType::F32);
        let c = match l.float_of(v).filter(|_| l.shape_rank(v) == Some(0)) {
            Some(f) => l.scalar(f, d)?,
            None => {
                let t = l.tensor(v, Some(d))?;
                let t = l.cast(&t, d)?;
                let scalar = l.i64s(&[]);
                l.node("Reshape", &[&t, &scalar], vec![])?
            }
        };
        ins.push(c);
    }
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    Ok(V::T(l.node("Pad", &refs, vec![("mode", Attribute::String(mode.into()))])?))
}

/// `constant_pad_nd(x, pad, value=0)` (negative pads crop, as in ONNX).
fn constant_pad_nd(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let pads = onnx_pads(l, &x, a.req(1, "pad")?)?;
    let value = a.opt(2, "value").cloned().unwrap_or(V::Int(0));
    pad_node(l, &x, &pads, "constant", Some(&value))
}

/// `pad(x, pad, mode="constant", value=None)`: torch's `reflect`,
/// `replicate` and `circular` are ONNX's `reflect`, `edge` and `wrap`
/// (opset 19).
fn pad(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "input")?, None)?;
    let pads = onnx_pads(l, &x, a.req(1, "pad")?)?;
    let mode = match a.opt(2, "mode") {
        None => "constant".to_string(),
        Some(V::Str(m)) => m.clone(),
        Some(v) => return Err(Error::invalid(format!("pad mode is a {}", v.kind()))),
    };
    match mode.as_str() {
        "constant" => {
            let value = a.opt(3, "value").cloned().unwrap_or(V::Int(0));
            pad_node(l, &x, &pads, "constant", Some(&value))
        }
        "reflect" => pad_node(l, &x, &pads, "reflect", None),
        "replicate" => pad_node(l, &x, &pads, "edge", None),
        "circular" => {
            l.require_opset(19, "Pad mode wrap")?;
            pad_node(l, &x, &pads, "wrap", None)
        }
        m => Err(Error::invalid(format!("pad mode '{m}'"))),
    }
}

/// `topk(x, k, dim=-1, largest=True, sorted=True)` → (values, indices).
fn topk(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let k = bound(l, Some(a.req(1, "k")?), 0)?;
    let dim = a.opt(2, "dim").map_or(Ok(-1), |v| l.int(v, "dim"))?;
    let flag = |v: Option<&V>| v.and_then(|v| l.int_of(v)).map_or(1, |b| i64::from(b != 0));
    let (largest, sorted) = (flag(a.opt(3, "largest")), flag(a.opt(4, "sorted")));
    let outs = l.node_n(
        "TopK",
        &[&x, &k],
        vec![("axis", Attribute::Int(dim)), ("largest", Attribute::Int(largest)), ("sorted", Attribute::Int(sorted))],
        2,
    )?;
    Ok(V::Tuple(outs.into_iter().map(V::T).collect()))
}

/// `scatter(x, dim, index, src)` (a tensor or a number, optionally
/// `reduce="add"|"multiply"`) and `scatter_reduce(x, dim, index, src,
/// reduce)` (`sum`, `prod`, `amax`, `amin`; `include_self=True`) as
/// `ScatterElements`.
fn scatter(l: &mut Lower<'_>, a: &Args, reduce: Option<&str>) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let dim = l.int(a.req(1, "dim")?, "dim")?;
    let i = l.tensor(a.req(2, "index")?, Some(DType::I64))?;
    let i = l.cast(&i, DType::I64)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let src = a.opt(3, "src").or_else(|| a.opt(3, "value")).ok_or_else(|| Error::invalid("scatter without src"))?;
    let u = match src {
        V::T(t) => l.cast(t, d)?,
        // A number fills every indexed position.
        v => {
            let c = l.tensor(v, Some(d))?;
            let c = l.cast(&c, d)?;
            let s = l.node("Shape", &[&i], vec![])?;
            l.node("Expand", &[&c, &s], vec![])?
        }
    };
    let old_reduce = match a.kw.iter().find(|(k, _)| k == "reduce") {
        Some((_, V::Str(s))) if reduce.is_none() => Some(s.as_str()),
        _ => reduce,
    };
    let how = match old_reduce {
        None => "none",
        Some("sum" | "add") => "add",
        Some("prod" | "multiply") => "mul",
        Some("amax") => {
            l.require_opset(18, "ScatterElements reduction max")?;
            "max"
        }
        Some("amin") => {
            l.require_opset(18, "ScatterElements reduction min")?;
            "min"
        }
        Some(r) => return Err(Error::invalid(format!("scatter reduction '{r}'"))),
    };
    let mut attrs = vec![("axis", Attribute::Int(dim))];
    if how != "none" {
        attrs.push(("reduction", Attribute::String(how.into())));
    }
    Ok(V::T(l.node("ScatterElements", &[&x, &i, &u], attrs)?))
}

/// `index_put(x, [i0, i1, ...], values, accumulate=False)` with index
/// tensors on the leading axes: `ScatterND` at the broadcast index tuples,
/// `values` broadcast to the indexed shape.
fn index_put(l: &mut Lower<'_>, a: &Args) -> Result<V> {
    let x = l.tensor(a.req(0, "self")?, None)?;
    let items = match a.req(1, "indices")? {
        V::List(v) | V::Tuple(v) => v.clone(),
        v => vec![v.clone()],
    };
    if items.is_empty() || items.iter().any(|v| matches!(v, V::None)) {
        return Err(Error::invalid("index_put with indices on non-leading dimensions"));
    }
    let (idx, shape) =
        nd_indices(l, &items, "index_put with a boolean mask (a data-dependent shape)", "index_put with no index")?;
    let rank = l.rank(&x)?;
    let d = l.dtype(&x).unwrap_or(DType::F32);
    let v = l.tensor(a.req(2, "values")?, Some(d))?;
    let v = l.cast(&v, d)?;
    let rest = shape_slice(l, &x, items.len() as i64, rank as i64)?;
    let target = l.node("Concat", &[&shape, &rest], vec![("axis", Attribute::Int(0))])?;
    let v = l.node("Expand", &[&v, &target], vec![])?;
    let acc = a.opt(3, "accumulate").and_then(|v| l.int_of(v)).unwrap_or(0) != 0;
    let attrs = if acc { vec![("reduction", Attribute::String("add".into()))] } else { vec![] };
    Ok(V::T(l.node("ScatterND", &[&x, &idx, &v], attrs)?))
}
