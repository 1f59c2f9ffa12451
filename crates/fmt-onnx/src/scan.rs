//! A look at a `ModelProto`'s wire bytes before prost decodes them, to apply
//! [`ir::Limits`] while applying them is still cheap.
//!
//! Decoding is where a hostile file does its damage: every nested message
//! is a recursion of the decoder, and every repeated message, however few
//! bytes it takes on the wire (an empty `TensorProto` is two), becomes a
//! struct of hundreds of bytes (an `AttributeProto` is 1.6 kB), then an IR
//! struct (a 19 MB file of four million one-letter nodes exhausted a 2 GiB
//! address space before this scan). So the nesting of subgraphs and the
//! number of entries (tensors, nodes, attributes, value infos) are counted
//! here, from the bytes, with an explicit stack (no recursion),
//! descending only into the messages that can hold subgraphs, tensors or
//! attributes and skipping everything else by its length. Bytes that are not
//! valid protobuf end the scan quietly: the decoder reports them with its
//! own, more precise, message.
#![deny(clippy::indexing_slicing)]

use ir::{Limit, Limits};

/// The messages the scan descends into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Model,
    Graph,
    Function,
    Node,
    Attribute,
}

/// What a length-delimited field of a message is, for the scan.
enum Field {
    /// A message to descend into; `deeper` when it is a subgraph (one more
    /// level of nesting).
    Message { kind: Msg, deeper: bool },
    /// A tensor (dense or sparse), counted and skipped.
    Tensor,
    /// A value info (graph input, output or `value_info`), counted as an
    /// entry and skipped.
    Entry,
}

/// The fields of `parent` the scan cares about (ONNX's field numbers).
fn field(parent: Msg, number: u64) -> Option<Field> {
    use Msg::*;
    let sub = |kind, deeper| Some(Field::Message { kind, deeper });
    match (parent, number) {
        (Model, 7) => sub(Graph, false),
        (Model, 25) => sub(Function, false),
        (Graph, 1) => sub(Node, false),
        // input, output, value_info
        (Graph, 11..=13) | (Function, 12) => Some(Field::Entry),
        (Function, 7) => sub(Node, false),
        (Function, 11) => sub(Attribute, false),
        // initializer, sparse_initializer
        (Graph, 5 | 15) => Some(Field::Tensor),
        (Node, 5) => sub(Attribute, false),
        // g, graphs
        (Attribute, 6 | 11) => sub(Graph, true),
        // t, tensors, sparse_tensor, sparse_tensors
        (Attribute, 5 | 10 | 22 | 23) => Some(Field::Tensor),
        _ => None,
    }
}

/// What the entry count counts, for the limit's message.
const ENTRIES: &str = "entries (tensors, nodes, attributes, value infos)";

/// A varint at the start of `bytes`: its value and length.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// One open message: what it is, where it ends, and how deeply its graphs nest.
struct Frame {
    kind: Msg,
    end: usize,
    depth: usize,
}

/// Checks a `ModelProto`'s subgraph nesting against `limits.max_depth` (the
/// main graph is depth 0), and its entries (initializers, sparse
/// initializers, tensor attributes, nodes, attributes and value infos, in
/// every graph and function) against `limits.max_tensors`: one budget, so
/// the decoded structs stay a bounded size whatever mix a file declares.
/// The error is [`Limits::message`], for the caller to attach to the file's
/// path.
pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let mut stack = vec![Frame { kind: Msg::Model, end: bytes.len(), depth: 0 }];
    let mut pos = 0usize;
    let mut entries = 0u64;
    let mut count = || {
        entries += 1;
        if entries > limits.max_tensors as u64 { Err(limits.message(Limit::Tensors, ENTRIES)) } else { Ok(()) }
    };
    while let Some(top) = stack.last() {
        if pos >= top.end {
            stack.pop();
            continue;
        }
        let (kind, end, depth) = (top.kind, top.end, top.depth);
        let Some((key, n)) = bytes.get(pos..end).and_then(varint) else { return Ok(()) };
        pos += n;
        let rest = bytes.get(pos..end).unwrap_or_default();
        let skip = match key & 7 {
            0 => match varint(rest) {
                Some((_, n)) => n,
                None => return Ok(()),
            },
            1 => 8,
            5 => 4,
            2 => {
                let Some((len, n)) = varint(rest) else { return Ok(()) };
                let start = pos + n;
                let Some(stop) = usize::try_from(len).ok().and_then(|l| start.checked_add(l)).filter(|&s| s <= end)
                else {
                    return Ok(());
                };
                match field(kind, key >> 3) {
                    Some(Field::Message { kind: child, deeper }) => {
                        if matches!(child, Msg::Node | Msg::Attribute) {
                            count()?;
                        }
                        let depth = depth + usize::from(deeper);
                        if depth > limits.max_depth {
                            return Err(limits.message(Limit::Depth, "subgraphs"));
                        }
                        stack.push(Frame { kind: child, end: stop, depth });
                        pos = start;
                        continue;
                    }
                    Some(Field::Tensor | Field::Entry) => count()?,
                    None => {}
                }
                stop - pos
            }
            // Groups (3, 4) are long deprecated and anything else is not
            // protobuf: the decoder says which.
            _ => return Ok(()),
        };
        pos = match pos.checked_add(skip).filter(|&p| p <= end) {
            Some(p) => p,
            None => return Ok(()),
        };
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::generated::onnx::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
    use prost::Message;

    fn nested(levels: usize, tensors_per_graph: usize) -> Vec<u8> {
        let tensors = || vec![TensorProto::default(); tensors_per_graph];
        let mut g = GraphProto { initializer: tensors(), ..GraphProto::default() };
        for _ in 0..levels {
            let a = AttributeProto { name: "body".into(), g: Some(g), ..AttributeProto::default() };
            let n = NodeProto { op_type: "Loop".into(), attribute: vec![a], ..NodeProto::default() };
            g = GraphProto { node: vec![n], initializer: tensors(), ..GraphProto::default() };
        }
        ModelProto { ir_version: 8, graph: Some(g), ..ModelProto::default() }.encode_to_vec()
    }

    #[test]
    fn depth_and_tensors_are_counted() {
        // 3 nodes, 3 attributes, 4 × 2 tensors: 14 entries.
        let limits = Limits { max_depth: 3, max_tensors: 14, ..Limits::default() };
        assert_eq!(check(&nested(3, 2), &limits), Ok(()));
        let e = check(&nested(4, 0), &limits).unwrap_err();
        assert_eq!(e, "subgraphs: nesting depth exceeds the limit of 3 (raise it with --max-depth N)");
        let e = check(&nested(3, 3), &limits).unwrap_err();
        assert_eq!(
            e,
            "entries (tensors, nodes, attributes, value infos): tensor count exceeds the limit of 14 \
             (raise it with --max-tensors N)"
        );
    }

    #[test]
    fn bytes_that_are_not_protobuf_are_left_to_the_decoder() {
        let good = nested(2, 1);
        for cut in 0..good.len() {
            assert_eq!(check(&good[..cut], &Limits::default()), Ok(()));
        }
        assert_eq!(check(&[0xff; 12], &Limits::default()), Ok(()));
    }
}
