//! Sequence and optional ops.
//!
//! Opset history a converter must know: the sequence ops appeared at 11,
//! SequenceMap at 17, the optional ops at 15; from 18 OptionalHasElement
//! and OptionalGetElement also take plain tensors and sequences, and
//! OptionalHasElement's input may be omitted.

use super::Class as C;
use super::{BOOL, Change, DTypeRule, I64, OpSchema, Role, attr, data, int, slot};
use crate::AttrKind;

/// Sequence ops produce sequences: their element type comes from `infer`.
const SEQ: &[DTypeRule] = &[DTypeRule::Special];

/// Sequence and optional ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[data("inputs").many(1)],
        outputs: &[data("output_sequence")],
        dtypes: SEQ,
        ..OpSchema::new("SequenceConstruct", 11)
    },
    OpSchema {
        outputs: &[data("output")],
        attrs: &[attr("dtype", AttrKind::Int)],
        dtypes: SEQ,
        ..OpSchema::new("SequenceEmpty", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence"), slot("position", Role::Indices)],
        outputs: &[data("tensor")],
        dtypes: SEQ,
        ..OpSchema::new("SequenceAt", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence"), data("tensor"), slot("position", Role::Indices).opt()],
        outputs: &[data("output_sequence")],
        dtypes: SEQ,
        ..OpSchema::new("SequenceInsert", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence"), slot("position", Role::Indices).opt()],
        outputs: &[data("output_sequence")],
        dtypes: SEQ,
        ..OpSchema::new("SequenceErase", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence")],
        outputs: &[data("length")],
        dtypes: &[I64],
        ..OpSchema::new("SequenceLength", 11)
    },
    OpSchema {
        inputs: &[data("input"), slot("split", Role::Param).opt()],
        outputs: &[data("output_sequence")],
        attrs: &[int("axis", 0), int("keepdims", 1)],
        dtypes: SEQ,
        ..OpSchema::new("SplitToSequence", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence")],
        outputs: &[data("concat_result")],
        attrs: &[attr("axis", AttrKind::Int).req(), int("new_axis", 0)],
        dtypes: SEQ,
        ..OpSchema::new("ConcatFromSequence", 11)
    },
    OpSchema {
        inputs: &[data("input_sequence"), data("additional_inputs").many(0)],
        outputs: &[data("out_sequence").many(1)],
        attrs: &[attr("body", AttrKind::Graph).req()],
        dtypes: SEQ,
        class: C::SUBGRAPH,
        ..OpSchema::new("SequenceMap", 17)
    },
    OpSchema {
        inputs: &[data("input").opt()],
        outputs: &[data("output")],
        attrs: &[attr("type", AttrKind::Type)],
        dtypes: SEQ,
        ..OpSchema::new("Optional", 15)
    },
    OpSchema {
        inputs: &[data("input").until(18), data("input").opt().since(18)],
        outputs: &[data("output")],
        dtypes: &[BOOL],
        changes: &[Change { opset: 18, what: "accepts tensors and sequences; input may be omitted" }],
        ..OpSchema::new("OptionalHasElement", 15)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        dtypes: SEQ,
        changes: &[Change { opset: 18, what: "accepts tensors and sequences" }],
        ..OpSchema::new("OptionalGetElement", 15)
    },
];
