//! A pickle writer (protocol 2) for the values a TorchScript archive holds:
//! the module object in `data.pkl` and the constants tuple in
//! `constants.pkl`. Only the opcodes torch itself writes at protocol 2.

use ir::{DType, Tensor};

/// A tensor to be written as `torch._utils._rebuild_tensor_v2` of a
/// persistent-id storage.
#[derive(Debug, Clone)]
pub(crate) struct TensorRef {
    /// Storage key: the entry name under `data/` or `constants/`.
    pub key: String,
    /// Torch storage class (`FloatStorage`, ...).
    pub storage: &'static str,
    /// Element count of the storage.
    pub numel: u64,
    /// Sizes (row-major, contiguous).
    pub sizes: Vec<u64>,
}

impl TensorRef {
    /// The reference for `tensor` stored under `key`; `None` for dtypes torch has no storage class for.
    pub fn of(tensor: &Tensor, key: String) -> Option<TensorRef> {
        Some(TensorRef {
            key,
            storage: storage_class(tensor.dtype())?,
            numel: tensor.numel() as u64,
            sizes: tensor.shape().iter().map(|&d| d as u64).collect(),
        })
    }
}

/// The torch storage class holding elements of `dtype` (`crate::dtype`).
pub(crate) fn storage_class(dtype: DType) -> Option<&'static str> {
    crate::dtype::of(dtype).map(|t| t.storage)
}

/// Builds one pickle stream.
#[derive(Debug, Default)]
pub(crate) struct Pickler {
    out: Vec<u8>,
}

impl Pickler {
    /// Starts a stream with `PROTO 2`.
    pub fn new() -> Self {
        Pickler { out: vec![0x80, 2] }
    }

    /// Ends the stream (`STOP`) and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.out
    }

    /// `GLOBAL module name`.
    pub fn global(&mut self, module: &str, name: &str) {
        self.out.push(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
    }

    /// A string (`BINUNICODE`).
    pub fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    /// An integer in the shortest form protocol 2 has.
    pub fn int(&mut self, v: i64) {
        if (0..256).contains(&v) {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if (0..65536).contains(&v) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if let Ok(v32) = i32::try_from(v) {
            self.out.push(b'J');
            self.out.extend_from_slice(&v32.to_le_bytes());
        } else {
            // LONG1: little-endian two's complement, 8 bytes always suffice.
            self.out.extend_from_slice(&[0x8a, 8]);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A boolean (`NEWTRUE`/`NEWFALSE`).
    pub fn bool(&mut self, v: bool) {
        self.out.push(if v { 0x88 } else { 0x89 });
    }

    /// `MARK`.
    pub fn mark(&mut self) {
        self.out.push(b'(');
    }

    /// `TUPLE` (from the last mark).
    pub fn tuple(&mut self) {
        self.out.push(b't');
    }

    /// `EMPTY_TUPLE`.
    pub fn empty_tuple(&mut self) {
        self.out.push(b')');
    }

    /// `EMPTY_DICT`.
    pub fn empty_dict(&mut self) {
        self.out.push(b'}');
    }

    /// `SETITEMS` (pairs since the last mark).
    pub fn setitems(&mut self) {
        self.out.push(b'u');
    }

    /// `REDUCE`.
    pub fn reduce(&mut self) {
        self.out.push(b'R');
    }

    /// `NEWOBJ`.
    pub fn newobj(&mut self) {
        self.out.push(0x81);
    }

    /// `BUILD`.
    pub fn build(&mut self) {
        self.out.push(b'b');
    }

    /// A tuple of integers.
    pub fn int_tuple(&mut self, values: &[i64]) {
        self.mark();
        for &v in values {
            self.int(v);
        }
        self.tuple();
    }

    /// A tensor as torch writes it: `_rebuild_tensor_v2(storage, 0, sizes,
    /// strides, requires_grad, OrderedDict())` with a persistent-id storage.
    pub fn tensor(&mut self, t: &TensorRef) {
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.mark();
        self.mark();
        self.str("storage");
        self.global("torch", t.storage);
        self.str(&t.key);
        self.str("cpu");
        self.int(t.numel as i64);
        self.tuple();
        self.out.push(b'Q'); // BINPERSID
        self.int(0);
        let sizes: Vec<i64> = t.sizes.iter().map(|&d| d as i64).collect();
        self.int_tuple(&sizes);
        let mut strides = vec![1i64; sizes.len()];
        for i in (0..sizes.len().saturating_sub(1)).rev() {
            // Saturating: a tensor with a zero dimension may have others
            // whose product overflows, and holds no element to address.
            strides[i] = strides[i + 1].saturating_mul(sizes[i + 1].max(1));
        }
        self.int_tuple(&strides);
        self.bool(false);
        self.global("collections", "OrderedDict");
        self.empty_tuple();
        self.reduce();
        self.tuple();
        self.reduce();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_use_the_shortest_opcode() {
        let mut p = Pickler::new();
        p.int(5);
        p.int(300);
        p.int(-1);
        p.int(1 << 40);
        let b = p.finish();
        assert_eq!(&b[..4], &[0x80, 2, b'K', 5]);
        assert_eq!(&b[4..7], &[b'M', 44, 1]);
        assert_eq!(&b[7..12], &[b'J', 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&b[12..14], &[0x8a, 8]);
        assert_eq!(*b.last().unwrap(), b'.');
    }
}
