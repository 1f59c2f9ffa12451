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
    Ok(V::T(l.node("Reshape", &[&x, &s], vec![])?))
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
fn bound(l: &mut Lower<'_>, v: Option<&V>, default: i64) -> Result<String> {
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
    let mut ts = Vec::new();
    for v in idx {
        let t = l.tensor(v, Some(DType::I64))?;
        if l.dtype(&t) == Some(DType::Bool) {
            return Err(Error::invalid("boolean mask indexing (a data-dependent shape)"));
        }
        ts.push(l.cast(&t, DType::I64)?);
    }
    // The broadcast shape, from a sum of all the indices.
    let mut sum = ts.first().cloned().ok_or_else(|| Error::invalid("indexing with no index"))?;
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
    let stacked = l.node("Concat", &refs, vec![("axis", Attribute::Int(-1))])?;
    Ok(V::T(l.node("GatherND", &[x, &stacked], vec![])?))
}
