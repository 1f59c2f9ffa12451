//! A data-only pickle reader: builds a [`Value`] tree and never executes
//! anything.
//!
//! Reads protocols 2 to 5 as torch writes them (and the protocol-4 opcodes
//! a newer pickler may use: framing, `SHORT_BINUNICODE`, `MEMOIZE`,
//! `STACK_GLOBAL`, ...). A global is looked up in a fixed allow-list
//! ([`Global`]): the tensor and parameter rebuilders, storage classes,
//! dtypes, `torch.device`, `collections.OrderedDict`, TorchScript's own
//! pickle helpers and the archive's `__torch__` classes. Any other global
//! (`os.system`, `builtins.eval`, ...) is an error naming it, before
//! anything is built from it. "Calling" an allowed global only builds the
//! value it describes.
//!
//! Values live in an arena while the pickle runs (pickles mutate memoized
//! lists, dicts and objects after the fact), and are turned into a tree at
//! `STOP`, with a bound on depth and size so shared references cannot
//! multiply into an exponential tree.
//!
//! Depth is counted per container level (tuple, list, dict, object) against
//! [`ir::Limits::max_depth`], the same knob that bounds source nesting: a
//! TorchScript module tree costs two levels per submodule (the object and
//! its attribute dict), a tensor none (its rebuild call becomes one value
//! as it is read). Measured on `tests/fixtures/torchscript/`: every
//! archive imports with `--max-depth 14` (`bert_tiny`, the deepest; the
//! knob also bounds source nesting and calls), state_dicts with 2, against
//! a default of 64. Persistent ids (storages) count against
//! [`ir::Limits::max_tensors`].

use ir::{Limit, Limits};

use crate::dtype::{self, TorchType};

/// Most values in the arena, items on the stack and memo entries while a pickle runs,
/// and in the result tree once shared references are expanded. Each opcode
/// adds at most one, so this bounds the memory a pickle of cheap opcodes
/// (`NONE`, `DUP`, `BINGET`, `MARK`) can claim to a few hundred MB. A
/// state_dict costs about 15 arena values per tensor (storage tuple, size
/// and stride tuples, key), so this is room for half a million tensors.
const MAX_NODES: usize = 8_000_000;

/// A reference to raw storage bytes, from a persistent id
/// `('storage', torch.<X>Storage, key, location, numel)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The storage's key (`data/<key>` in an archive).
    pub key: String,
    /// Its element type.
    pub ty: &'static TorchType,
    /// Number of elements.
    pub numel: u64,
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided
/// view into a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage it views.
    pub storage: StorageRef,
    /// Offset of element 0, in elements.
    pub offset: u64,
    /// Dimensions.
    pub sizes: Vec<u64>,
    /// Strides, in elements.
    pub strides: Vec<i64>,
}

/// An allowed global.
#[derive(Debug, Clone, PartialEq)]
pub enum Global {
    /// `torch._utils._rebuild_tensor_v2` (and the older `_rebuild_tensor`).
    RebuildTensor,
    /// `torch._utils._rebuild_parameter` and `_rebuild_parameter_with_state`.
    RebuildParameter,
    /// A `torch.<X>Storage` class.
    Storage(&'static TorchType),
    /// A dtype object (`torch.float32`).
    DType(&'static TorchType),
    /// `torch.device`.
    Device,
    /// `collections.OrderedDict`.
    OrderedDict,
    /// TorchScript's `torch.jit._pickle` helpers, which return their first argument.
    Identity,
    /// A class of the archive's own code (`__torch__.a.b.C`).
    TorchClass(String),
}

/// A value of the pickled data.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A wider integer (the legacy format's magic number).
    BigInt(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list (or set).
    List(Vec<Value>),
    /// A dict or `OrderedDict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// An instance of a `__torch__` class with its attribute dict.
    Object {
        /// The qualified class name.
        class: String,
        /// The state `BUILD` set (a dict of attributes), `None` before.
        state: Box<Value>,
    },
    /// A storage.
    Storage(StorageRef),
    /// A tensor (boxed: it is the largest variant, and every value of a
    /// pickle's arena and tree has the size of the largest).
    Tensor(Box<TensorRef>),
    /// A device (`cpu`).
    Device(String),
    /// A dtype.
    DType(&'static TorchType),
    /// An allowed global not called.
    Global(Global),
}

impl Value {
    /// The integer, if this is one (booleans count, as in Python).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The value under string key `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Object { .. } => "object",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
            Value::Device(_) => "device",
            Value::DType(_) => "dtype",
            Value::Global(_) => "global",
        }
    }
}

/// Looks a global up in the allow-list.
fn allowed(module: &str, name: &str) -> Option<Global> {
    Some(match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => Global::RebuildParameter,
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch", "device") => Global::Device,
        (
            "torch.jit._pickle",
            "restore_type_tag" | "build_intlist" | "build_doublelist" | "build_boollist" | "build_tensorlist",
        ) => Global::Identity,
        ("torch", n) => match (dtype::by_storage(n), dtype::by_name(n)) {
            (Some(t), _) => Global::Storage(t),
            (None, Some(t)) => Global::DType(t),
            (None, None) => return None,
        },
        (m, n) if m == "__torch__" || m.starts_with("__torch__.") => Global::TorchClass(format!("{m}.{n}")),
        _ => return None,
    })
}

/// Arena slot: a value whose children are arena ids.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Value),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Object { class: String, state: Option<usize> },
}

enum Item {
    Mark,
    Id(usize),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    arena: Vec<Node>,
    stack: Vec<Item>,
    memo: std::collections::HashMap<u64, usize>,
    limits: &'a Limits,
    /// Persistent ids (storage references) read so far.
    storages: usize,
}

type Res<T> = std::result::Result<T, String>;

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| format!("truncated: needs {n} bytes at offset {} of {}", self.pos, self.data.len()))?;
        let s = self.data.get(self.pos..end).ok_or("truncated")?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Res<u8> {
        let [b] = self.le::<1>()?;
        Ok(b)
    }

    fn le<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len_u32(&mut self) -> Res<usize> {
        Ok(u32::from_le_bytes(self.le()?) as usize)
    }

    fn len_u64(&mut self) -> Res<usize> {
        let n = u64::from_le_bytes(self.le()?);
        usize::try_from(n).map_err(|_| format!("length {n} does not fit in memory"))
    }

    fn line(&mut self) -> Res<&'a str> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("truncated: text argument at offset {} has no end of line", self.pos))?;
        let (text, _) = rest.split_at_checked(n).ok_or("unterminated text argument")?;
        let s = std::str::from_utf8(text).map_err(|_| "text argument is not UTF-8")?;
        self.pos = self.pos.saturating_add(n).saturating_add(1);
        Ok(s)
    }

    fn push_node(&mut self, n: Node) -> usize {
        let id = self.arena.len();
        self.arena.push(n);
        self.stack.push(Item::Id(id));
        id
    }

    fn node(&self, id: usize) -> Res<&Node> {
        self.arena.get(id).ok_or_else(|| format!("value {id} does not exist"))
    }

    fn node_mut(&mut self, id: usize) -> Res<&mut Node> {
        self.arena.get_mut(id).ok_or_else(|| format!("value {id} does not exist"))
    }

    fn push(&mut self, v: Value) -> usize {
        self.push_node(Node::Leaf(v))
    }

    fn pop(&mut self) -> Res<usize> {
        match self.stack.pop() {
            Some(Item::Id(i)) => Ok(i),
            Some(Item::Mark) => Err("a MARK where a value was expected".into()),
            None => Err("stack underflow".into()),
        }
    }

    fn top(&self) -> Res<usize> {
        match self.stack.last() {
            Some(Item::Id(i)) => Ok(*i),
            _ => Err("no value on the stack".into()),
        }
    }

    /// Everything above the topmost MARK, which is removed.
    fn pop_mark(&mut self) -> Res<Vec<usize>> {
        let at = self.stack.iter().rposition(|i| matches!(i, Item::Mark)).ok_or("no MARK on the stack")?;
        let items = self.stack.split_off(at.saturating_add(1));
        self.stack.pop();
        // Everything above the topmost MARK is a value, by the search above.
        Ok(items
            .into_iter()
            .filter_map(|i| match i {
                Item::Id(i) => Some(i),
                Item::Mark => None,
            })
            .collect())
    }

    fn leaf(&self, id: usize) -> Option<&Value> {
        match self.arena.get(id) {
            Some(Node::Leaf(v)) => Some(v),
            _ => None,
        }
    }

    fn int(&self, id: usize, what: &str) -> Res<i64> {
        self.leaf(id).and_then(Value::as_int).ok_or_else(|| format!("{what} is not an integer"))
    }

    fn seq(&self, id: usize, what: &str) -> Res<Vec<usize>> {
        match self.node(id)? {
            Node::Tuple(v) | Node::List(v) => Ok(v.clone()),
            _ => Err(format!("{what} is not a tuple")),
        }
    }

    fn global(&self, module: &str, name: &str) -> Res<Value> {
        allowed(module, name).map(Value::Global).ok_or_else(|| {
            format!(
                "global '{module}.{name}' is not allowed (pickles are read as data: only torch's tensor rebuilders, storage types, dtypes, OrderedDict and the archive's __torch__ classes are)"
            )
        })
    }

    fn persistent(&mut self, pid: usize) -> Res<Value> {
        self.storages = self.storages.saturating_add(1);
        if self.storages > self.limits.max_tensors {
            return Err(self
                .limits
                .message(Limit::Tensors, &format!("pickle of more than {} storages", self.storages - 1)));
        }
        let items = self.seq(pid, "a persistent id")?;
        let [tag, ty, key, _location, numel, ..] = items.as_slice() else {
            return Err("persistent id is not ('storage', type, key, location, numel)".into());
        };
        if self.leaf(*tag).and_then(Value::as_str) != Some("storage") {
            return Err("persistent id is not ('storage', type, key, location, numel)".into());
        }
        let ty = match self.leaf(*ty) {
            Some(Value::Global(Global::Storage(t))) => *t,
            // torch >= 2 may name the dtype instead of a storage class.
            Some(Value::DType(t)) | Some(Value::Global(Global::DType(t))) => *t,
            _ => return Err("persistent id's storage type is not a torch storage class".into()),
        };
        let key = match self.leaf(*key) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Int(i)) => i.to_string(),
            _ => return Err("storage key is not a string".into()),
        };
        let numel = self.int(*numel, "storage size")?;
        let numel = u64::try_from(numel).map_err(|_| format!("storage '{key}' has negative size {numel}"))?;
        Ok(Value::Storage(StorageRef { key, ty, numel }))
    }

    fn int_list(&self, id: usize, what: &str) -> Res<Vec<i64>> {
        self.seq(id, what)?.into_iter().map(|i| self.int(i, what)).collect()
    }

    /// `callable(*args)` for an allowed global: builds the value it describes.
    fn call(&mut self, f: usize, args: usize) -> Res<usize> {
        let g = match self.leaf(f) {
            Some(Value::Global(g)) => g.clone(),
            Some(v) => return Err(format!("REDUCE of a {}, which is not callable", v.kind())),
            None => return Err("REDUCE of a container, which is not callable".into()),
        };
        let a = self.seq(args, "REDUCE arguments")?;
        let arg = |i: usize| a.get(i).copied().ok_or_else(|| format!("{g:?} needs more than {} arguments", a.len()));
        Ok(match g {
            Global::RebuildTensor => {
                let storage = match self.leaf(arg(0)?) {
                    Some(Value::Storage(s)) => s.clone(),
                    _ => return Err("_rebuild_tensor's first argument is not a storage".into()),
                };
                let offset = self.int(arg(1)?, "tensor offset")?;
                let sizes = self.int_list(arg(2)?, "tensor sizes")?;
                let strides = self.int_list(arg(3)?, "tensor strides")?;
                if sizes.len() != strides.len() {
                    return Err(format!("tensor has {} sizes but {} strides", sizes.len(), strides.len()));
                }
                let offset = u64::try_from(offset).map_err(|_| format!("negative tensor offset {offset}"))?;
                let sizes = sizes
                    .into_iter()
                    .map(|s| u64::try_from(s).map_err(|_| format!("negative tensor size {s}")))
                    .collect::<Res<_>>()?;
                self.push(Value::Tensor(Box::new(TensorRef { storage, offset, sizes, strides })))
            }
            Global::RebuildParameter => {
                let t = arg(0)?;
                self.stack.push(Item::Id(t));
                t
            }
            Global::OrderedDict => self.push_node(Node::Dict(Vec::new())),
            Global::Device => {
                let d = self.leaf(arg(0)?).and_then(Value::as_str).ok_or("torch.device's argument is not a string")?;
                let d = d.to_string();
                self.push(Value::Device(d))
            }
            Global::Identity => {
                let v = arg(0)?;
                self.stack.push(Item::Id(v));
                v
            }
            Global::Storage(_) | Global::DType(_) | Global::TorchClass(_) => {
                return Err(format!("REDUCE of {g:?} (only NEWOBJ builds objects)"));
            }
        })
    }

    fn run(&mut self) -> Res<usize> {
        loop {
            if self.arena.len().max(self.stack.len()).max(self.memo.len()) > MAX_NODES {
                return Err(format!("more than {MAX_NODES} values"));
            }
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(format!("pickle protocol {p} (read: 2 to 5)"));
                    }
                }
                0x95 => {
                    self.le::<8>()?; // FRAME: a length hint; the data follows inline.
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Item::Mark),
                b'0' => {
                    self.stack.pop().ok_or("POP on an empty stack")?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.stack.push(Item::Id(t));
                }
                b'N' => {
                    self.push(Value::None);
                }
                0x88 => {
                    self.push(Value::Bool(true));
                }
                0x89 => {
                    self.push(Value::Bool(false));
                }
                b'I' => {
                    let l = self.line()?;
                    let v = match l {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        _ => Value::Int(l.parse().map_err(|_| format!("INT '{l}' is not an integer"))?),
                    };
                    self.push(v);
                }
                b'L' => {
                    let l = self.line()?;
                    let v: i64 =
                        l.trim_end_matches('L').parse().map_err(|_| format!("LONG '{l}' is not a 64-bit integer"))?;
                    self.push(Value::Int(v));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Value::Int(i64::from(v)));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { usize::from(self.u8()?) } else { self.len_u32()? };
                    if n > 16 {
                        return Err(format!("integer of {n} bytes (at most 16 are read)"));
                    }
                    let b = self.take(n)?;
                    let mut v: i128 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= i128::from(byte) << (8 * i);
                    }
                    // Two's complement of n bytes (n < 16 here, so the shift fits).
                    if n < 16 && b.last().is_some_and(|&last| last & 0x80 != 0) {
                        v -= 1i128 << (8 * n);
                    }
                    self.push(i64::try_from(v).map(Value::Int).unwrap_or(Value::BigInt(v)));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.push(Value::Float(v));
                }
                b'F' => {
                    let l = self.line()?;
                    let v = l.parse().map_err(|_| format!("FLOAT '{l}' is not a number"))?;
                    self.push(Value::Float(v));
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => self.len_u32()?,
                        0x8c => usize::from(self.u8()?),
                        _ => self.len_u64()?,
                    };
                    let s = std::str::from_utf8(self.take(n)?).map_err(|_| "string is not UTF-8")?;
                    self.push(Value::Str(s.to_string()));
                }
                b'T' | b'U' => {
                    // Python 2 `str`: bytes, read as Latin-1 text.
                    let n = if op == b'T' { self.len_u32()? } else { usize::from(self.u8()?) };
                    let s = self.take(n)?.iter().map(|&b| char::from(b)).collect();
                    self.push(Value::Str(s));
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => self.len_u32()?,
                        b'C' => usize::from(self.u8()?),
                        _ => self.len_u64()?,
                    };
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b));
                }
                b')' => {
                    self.push_node(Node::Tuple(Vec::new()));
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push_node(Node::Tuple(items));
                }
                b']' | 0x8f => {
                    self.push_node(Node::List(Vec::new()));
                }
                b'l' | 0x91 => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    let l = self.top()?;
                    match self.node_mut(l)? {
                        Node::List(items) => items.push(v),
                        _ => return Err("APPEND to a non-list".into()),
                    }
                }
                b'e' | 0x90 => {
                    let vs = self.pop_mark()?;
                    let l = self.top()?;
                    match self.node_mut(l)? {
                        Node::List(items) => items.extend(vs),
                        _ => return Err("APPENDS to a non-list".into()),
                    }
                }
                b'}' => {
                    self.push_node(Node::Dict(Vec::new()));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err("DICT with an odd number of items".into());
                    }
                    let pairs = pairs_of(&items);
                    self.push_node(Node::Dict(pairs));
                }
                b's' | b'u' => {
                    let items = if op == b's' {
                        let v = self.pop()?;
                        let k = self.pop()?;
                        vec![k, v]
                    } else {
                        self.pop_mark()?
                    };
                    if items.len() % 2 != 0 {
                        return Err("SETITEMS with an odd number of items".into());
                    }
                    let d = self.top()?;
                    match self.node_mut(d)? {
                        Node::Dict(pairs) => pairs.extend(pairs_of(&items)),
                        _ => return Err("SETITEM on a non-dict".into()),
                    }
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let g = self.global(&module, &name)?;
                    self.push(g);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(Value::Str(m)), Some(Value::Str(n))) = (self.leaf(module), self.leaf(name)) else {
                        return Err("STACK_GLOBAL of non-strings".into());
                    };
                    let g = self.global(m, n)?;
                    self.push(g);
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    self.call(f, args)?;
                }
                0x81 | 0x92 => {
                    if op == 0x92 {
                        self.pop()?; // keyword arguments
                    }
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    match self.leaf(cls) {
                        Some(Value::Global(Global::TorchClass(c))) => {
                            let class = c.clone();
                            self.push_node(Node::Object { class, state: None });
                        }
                        Some(Value::Global(Global::OrderedDict)) => {
                            self.push_node(Node::Dict(Vec::new()));
                        }
                        _ => return Err("NEWOBJ of something other than a __torch__ class".into()),
                    }
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    match self.node_mut(obj)? {
                        Node::Object { state: s, .. } => *s = Some(state),
                        // OrderedDict attributes (`_metadata`) and tensor
                        // state carry nothing the IR keeps.
                        Node::Dict(_) | Node::Leaf(Value::Tensor(_)) => {}
                        _ => return Err("BUILD of something that is not an object".into()),
                    }
                }
                b'p' => {
                    let l = self.line()?;
                    let k = l.parse().map_err(|_| format!("PUT '{l}'"))?;
                    let t = self.top()?;
                    self.memo.insert(k, t);
                }
                b'q' | b'r' => {
                    let k = if op == b'q' { u64::from(self.u8()?) } else { u64::from(u32::from_le_bytes(self.le()?)) };
                    let t = self.top()?;
                    self.memo.insert(k, t);
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    let t = self.top()?;
                    self.memo.insert(k, t);
                }
                b'g' | b'h' | b'j' => {
                    let k = match op {
                        b'g' => {
                            let l = self.line()?;
                            l.parse().map_err(|_| format!("GET '{l}'"))?
                        }
                        b'h' => u64::from(self.u8()?),
                        _ => u64::from(u32::from_le_bytes(self.le()?)),
                    };
                    let id = *self.memo.get(&k).ok_or_else(|| format!("memo key {k} was never stored"))?;
                    self.stack.push(Item::Id(id));
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.push(v);
                }
                b'P' => return Err("text persistent ids (protocol 0) are not read".into()),
                b'i' | b'o' | 0x82..=0x84 | 0x97 | 0x98 => {
                    return Err(format!(
                        "opcode 0x{op:02x} at offset {at} (instantiation or out-of-band data) is not read"
                    ));
                }
                _ => return Err(format!("unknown opcode 0x{op:02x} at offset {at}")),
            }
        }
    }

    fn tree(&self, id: usize, depth: usize, budget: &mut usize) -> Res<Value> {
        if depth > self.limits.max_depth {
            return Err(self.limits.message(Limit::Depth, "pickled values nested too deeply (or a cycle)"));
        }
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| format!("more than {MAX_NODES} values once shared references are expanded"))?;
        let many = |ids: &[usize], budget: &mut usize| -> Res<Vec<Value>> {
            ids.iter().map(|&i| self.tree(i, depth + 1, budget)).collect()
        };
        Ok(match self.node(id)? {
            Node::Leaf(v) => v.clone(),
            Node::Tuple(v) => Value::Tuple(many(v, budget)?),
            Node::List(v) => Value::List(many(v, budget)?),
            Node::Dict(pairs) => Value::Dict(
                pairs
                    .iter()
                    .map(|&(k, v)| Ok((self.tree(k, depth + 1, budget)?, self.tree(v, depth + 1, budget)?)))
                    .collect::<Res<_>>()?,
            ),
            Node::Object { class, state } => Value::Object {
                class: class.clone(),
                state: Box::new(match state {
                    Some(s) => self.tree(*s, depth + 1, budget)?,
                    None => Value::None,
                }),
            },
        })
    }
}

/// Pairs of a flat key, value, key, value list (its length checked even).
fn pairs_of(items: &[usize]) -> Vec<(usize, usize)> {
    items.chunks_exact(2).filter_map(|c| Some((*c.first()?, *c.get(1)?))).collect()
}

/// Reads one pickle from the start of `data`; returns the value and the
/// number of bytes it took. Nesting is bounded by `limits.max_depth` (per
/// container level) and storage references by `limits.max_tensors`. Errors
/// are messages without the file name.
pub fn read(data: &[u8], limits: &Limits) -> std::result::Result<(Value, usize), String> {
    let mut m =
        Machine { data, pos: 0, arena: Vec::new(), stack: Vec::new(), memo: Default::default(), limits, storages: 0 };
    let root = m.run()?;
    let mut budget = MAX_NODES;
    let v = m.tree(root, 0, &mut budget)?;
    Ok((v, m.pos))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn read(data: &[u8]) -> std::result::Result<(Value, usize), String> {
        super::read(data, &Limits::default())
    }

    #[test]
    fn reads_protocol_2_and_4_containers() {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': (u'x', -3)}, protocol=2)
        let p2 = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88eX\x01\x00\x00\x00bq\x03X\x01\x00\x00\x00xq\x04J\xfd\xff\xff\xff\x86q\x05u.";
        let (v, n) = read(p2).unwrap();
        assert_eq!(n, p2.len());
        assert_eq!(
            v.get("a").unwrap(),
            &Value::List(vec![Value::Int(1), Value::Float(2.5), Value::None, Value::Bool(true)])
        );
        assert_eq!(v.get("b").unwrap(), &Value::Tuple(vec![Value::Str("x".into()), Value::Int(-3)]));
        // The same with protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE.
        let p4 = b"\x80\x04\x95)\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88e\x8c\x01b\x94\x8c\x01x\x94J\xfd\xff\xff\xff\x86\x94u.";
        assert_eq!(read(p4).unwrap().0, v);
    }

    #[test]
    fn stack_global_and_memo_sharing() {
        // pickle.dumps((o, o), protocol=4) for o = OrderedDict(): STACK_GLOBAL, MEMOIZE, BINGET.
        let p = b"\x80\x04\x95&\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94h\x03\x86\x94.";
        let (v, _) = read(p).unwrap();
        assert_eq!(v, Value::Tuple(vec![Value::Dict(vec![]), Value::Dict(vec![])]));
    }

    #[test]
    fn hostile_globals_are_named() {
        // GLOBAL 'os system' then REDUCE: what a malicious pickle does.
        let e = read(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.").unwrap_err();
        assert!(e.contains("global 'os.system' is not allowed"), "{e}");
        let e = read(b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.").unwrap_err();
        assert!(e.contains("'builtins.eval'"), "{e}");
        assert!(read(b"\x80\x02ctorch\nload\n.").unwrap_err().contains("'torch.load'"));
    }

    #[test]
    fn malformed_pickles_are_errors_not_panics() {
        for bad in
            [&b""[..], b"\x80", b"\x80\x02X\xff\xff\xff\xff", b"\x80\x02t.", b"\x80\x02h\x05.", b"\x80\x02a.", b"\xff"]
        {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        // A cycle: a list appended to itself.
        let e = read(b"\x80\x02]q\x00h\x00a.").unwrap_err();
        assert!(e.contains("nested too deeply (or a cycle)") && e.contains("--max-depth"), "{e}");
    }

    #[test]
    fn tensors_and_legacy_magic() {
        let p = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)RtR.";
        let (v, _) = read(p).unwrap();
        let Value::Tensor(t) = v else { panic!("{v:?}") };
        assert_eq!(
            (t.storage.key.as_str(), t.storage.numel, t.sizes.as_slice(), t.strides.as_slice()),
            ("0", 6, &[2u64, 3][..], &[3i64, 1][..])
        );
        assert_eq!(t.storage.ty.dtype, ir::DType::F32);
        let magic = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.";
        assert_eq!(read(magic).unwrap().0, Value::BigInt(0x1950a86a20f9469cfc6c));
    }
}
