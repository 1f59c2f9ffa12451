//! Values stored on their own in protobuf files (`.pb`), as onnx's backend
//! tests and `onnx.numpy_helper` write them: a `TensorProto` for a tensor, a
//! `SequenceProto` for a sequence, an `OptionalProto` for an optional.
//!
//! Used by `convert run` to read input files and by `cargo xtask conformance`
//! to read the backend tests' inputs and expected outputs. A file does not
//! say which message it holds, so the caller picks the decoder, usually from
//! the declared type of the model input it feeds ([`decode`] does that).
//! Tensors go through the same import as model initializers, so every dtype,
//! `raw_data` as well as the typed fields, and external data (resolved
//! beside the `.pb` file) are read alike. Errors name the file.
#![deny(clippy::indexing_slicing)]

use std::path::Path;

use ir::{Error, Result, ValueType};
use prost::Message;

use crate::generated::onnx::{OptionalProto, SequenceProto, TensorProto, optional_proto, sequence_proto};
use crate::tensor::{self, ExternalData};

/// A value read from a data file: a tensor, or a sequence or optional of them
/// (nested to any depth).
#[derive(Debug, Clone, PartialEq)]
pub enum DataValue {
    /// A dense tensor.
    Tensor(ir::Tensor),
    /// A sequence, possibly empty.
    Sequence(Vec<DataValue>),
    /// An optional: `None` when the value is absent.
    Optional(Option<Box<DataValue>>),
}

/// Decodes a `TensorProto` file's bytes; `path` names the file in errors and
/// locates external data.
pub fn decode_tensor(bytes: &[u8], path: &Path) -> Result<ir::Tensor> {
    let p = TensorProto::decode(bytes)
        .map_err(|e| Error::malformed(path, format!("not a valid TensorProto: protobuf {e}")))?;
    Reader::new(path).tensor(&p)
}

/// Encodes a tensor as a `TensorProto` named `name` (`raw_data`), the form
/// `convert run` writes for dtypes NumPy cannot hold.
pub fn encode_tensor(t: &ir::Tensor, name: &str) -> Result<Vec<u8>> {
    Ok(tensor::export(name, t, tensor::Encoding::Raw).encode_to_vec())
}

/// Decodes a `SequenceProto` file's bytes into its elements.
pub fn decode_sequence(bytes: &[u8], path: &Path) -> Result<Vec<DataValue>> {
    let p = SequenceProto::decode(bytes)
        .map_err(|e| Error::malformed(path, format!("not a valid SequenceProto: protobuf {e}")))?;
    Reader::new(path).sequence(&p)
}

/// Decodes an `OptionalProto` file's bytes: `None` when it holds no value.
pub fn decode_optional(bytes: &[u8], path: &Path) -> Result<Option<DataValue>> {
    let p = OptionalProto::decode(bytes)
        .map_err(|e| Error::malformed(path, format!("not a valid OptionalProto: protobuf {e}")))?;
    Reader::new(path).optional(&p)
}

/// Decodes a file holding a value of type `ty` (a model input's declared
/// type): sequences and optionals by their messages, anything else as a
/// `TensorProto`.
pub fn decode(bytes: &[u8], path: &Path, ty: &ValueType) -> Result<DataValue> {
    match ty {
        ValueType::Sequence(_) => decode_sequence(bytes, path).map(DataValue::Sequence),
        ValueType::Optional(_) => decode_optional(bytes, path).map(|v| DataValue::Optional(v.map(Box::new))),
        ValueType::Map(..) => Err(Error::malformed(path, "map values are not supported")),
        ValueType::SparseTensor { .. } => Err(Error::malformed(path, "sparse tensor values are not supported")),
        _ => decode_tensor(bytes, path).map(DataValue::Tensor),
    }
}

/// Reads the file at `path` and [`decode`]s it as a value of type `ty`.
pub fn read(path: &Path, ty: &ValueType) -> Result<DataValue> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, path, ty)
}

/// Decoding state shared by the nested values of one file.
struct Reader<'a> {
    path: &'a Path,
    ext: ExternalData,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path) -> Self {
        Reader { path, ext: ExternalData::new(path) }
    }

    fn bad(&self, what: impl Into<String>) -> Error {
        Error::malformed(self.path, what)
    }

    fn tensor(&mut self, p: &TensorProto) -> Result<ir::Tensor> {
        tensor::import(p, &mut self.ext).map_err(|e| self.bad(e))
    }

    fn sequence(&mut self, p: &SequenceProto) -> Result<Vec<DataValue>> {
        use sequence_proto::DataType as D;
        // Writers set elem_type, but an empty or hand-made sequence may
        // leave it UNDEFINED: then the filled field tells.
        let kind = match D::try_from(p.elem_type).unwrap_or(D::Undefined) {
            D::Undefined if !p.sequence_values.is_empty() => D::Sequence,
            D::Undefined if !p.optional_values.is_empty() => D::Optional,
            D::Undefined if !p.map_values.is_empty() => D::Map,
            D::Undefined if !p.sparse_tensor_values.is_empty() => D::SparseTensor,
            k => k,
        };
        match kind {
            D::Tensor | D::Undefined => p.tensor_values.iter().map(|t| self.tensor(t).map(DataValue::Tensor)).collect(),
            D::Sequence => p.sequence_values.iter().map(|s| self.sequence(s).map(DataValue::Sequence)).collect(),
            D::Optional => p
                .optional_values
                .iter()
                .map(|o| self.optional(o).map(|v| DataValue::Optional(v.map(Box::new))))
                .collect(),
            D::Map => Err(self.bad("sequences of maps are not supported")),
            D::SparseTensor => Err(self.bad("sequences of sparse tensors are not supported")),
        }
    }

    fn optional(&mut self, p: &OptionalProto) -> Result<Option<DataValue>> {
        use optional_proto::DataType as D;
        let kind = D::try_from(p.elem_type).unwrap_or(D::Undefined);
        if let Some(t) = &p.tensor_value
            && matches!(kind, D::Tensor | D::Undefined)
        {
            return self.tensor(t).map(|t| Some(DataValue::Tensor(t)));
        }
        if let Some(s) = &p.sequence_value
            && matches!(kind, D::Sequence | D::Undefined)
        {
            return self.sequence(s).map(|s| Some(DataValue::Sequence(s)));
        }
        if let Some(o) = &p.optional_value
            && matches!(kind, D::Optional | D::Undefined)
        {
            return self.optional(o).map(|o| Some(DataValue::Optional(o.map(Box::new))));
        }
        if p.map_value.is_some() {
            return Err(self.bad("optional maps are not supported"));
        }
        if p.sparse_tensor_value.is_some() {
            return Err(self.bad("optional sparse tensors are not supported"));
        }
        // elem_type alone (or nothing) set: an empty optional of that kind.
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::tensor::{Encoding, export};

    fn t(v: &[f32]) -> ir::Tensor {
        ir::Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
    }

    fn proto(v: &ir::Tensor) -> TensorProto {
        export("x", v, Encoding::Raw)
    }

    const PATH: &str = "dir/input_0.pb";

    #[test]
    fn tensors_in_both_encodings() {
        let x = t(&[1.0, -2.5]);
        for enc in [Encoding::Raw, Encoding::Typed] {
            let bytes = export("x", &x, enc).encode_to_vec();
            assert_eq!(decode_tensor(&bytes, Path::new(PATH)).unwrap(), x);
        }
    }

    #[test]
    fn errors_name_the_file() {
        let e = decode_tensor(&[0xff, 0xff], Path::new(PATH)).unwrap_err().to_string();
        assert!(e.starts_with("dir/input_0.pb: not a valid TensorProto"), "{e}");
        let bad = TensorProto { data_type: 1, dims: vec![3], float_data: vec![1.0], ..Default::default() };
        let e = decode_tensor(&bad.encode_to_vec(), Path::new(PATH)).unwrap_err().to_string();
        assert_eq!(e, "dir/input_0.pb: f32 tensor of shape [3] needs 3 values in float_data, found 1");
    }

    #[test]
    fn sequences_nested_and_empty() {
        let (a, b) = (t(&[1.0]), t(&[2.0, 3.0]));
        let inner = SequenceProto {
            elem_type: sequence_proto::DataType::Tensor as i32,
            tensor_values: vec![proto(&a), proto(&b)],
            ..Default::default()
        };
        let bytes = inner.encode_to_vec();
        let want = vec![DataValue::Tensor(a.clone()), DataValue::Tensor(b.clone())];
        assert_eq!(decode_sequence(&bytes, Path::new(PATH)).unwrap(), want);

        let outer = SequenceProto {
            elem_type: sequence_proto::DataType::Sequence as i32,
            sequence_values: vec![inner, SequenceProto::default()],
            ..Default::default()
        };
        assert_eq!(
            decode_sequence(&outer.encode_to_vec(), Path::new(PATH)).unwrap(),
            vec![DataValue::Sequence(want), DataValue::Sequence(vec![])]
        );
        assert_eq!(decode_sequence(&[], Path::new(PATH)).unwrap(), vec![]);
    }

    #[test]
    fn optionals_present_and_absent() {
        let a = t(&[4.0]);
        let some = OptionalProto {
            elem_type: optional_proto::DataType::Tensor as i32,
            tensor_value: Some(proto(&a)),
            ..Default::default()
        };
        let path = Path::new(PATH);
        assert_eq!(decode_optional(&some.encode_to_vec(), path).unwrap(), Some(DataValue::Tensor(a.clone())));
        let none = OptionalProto { elem_type: optional_proto::DataType::Tensor as i32, ..Default::default() };
        assert_eq!(decode_optional(&none.encode_to_vec(), path).unwrap(), None);
        let seq = OptionalProto {
            elem_type: optional_proto::DataType::Sequence as i32,
            sequence_value: Some(SequenceProto { tensor_values: vec![proto(&a)], ..Default::default() }),
            ..Default::default()
        };
        let ty = ValueType::Optional(Box::new(ValueType::Sequence(Box::new(ValueType::Unknown))));
        assert_eq!(
            decode(&seq.encode_to_vec(), path, &ty).unwrap(),
            DataValue::Optional(Some(Box::new(DataValue::Sequence(vec![DataValue::Tensor(a)]))))
        );
    }
}
