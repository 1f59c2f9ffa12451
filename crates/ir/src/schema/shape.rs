//! Shape and data-movement ops: reshaping, transposition, slicing,
//! gathering, scattering, concatenation, padding, tiling and constants.
//!
//! Opset history a converter must know: Reshape's shape is an input since 5
//! (`allowzero` since 14); Squeeze/Unsqueeze `axes` moved to an input at 13;
//! Split's `split` moved to an input at 13 and `num_outputs` came at 18;
//! Slice's starts/ends/axes moved to inputs (plus `steps`) at 10; Pad's pads
//! and value moved to inputs at 11 (`axes` input at 18, `wrap` mode at 19);
//! Tile's repeats is an input since 6; Shape got `start`/`end` at 15;
//! GatherND `batch_dims` at 12; ScatterND/ScatterElements `reduction` at 16
//! (`max`/`min` at 18); Scatter is deprecated since 11 (ScatterElements);
//! DepthToSpace `mode` at 11.

use super::Class as C;
use super::{Change, DTypeRule, I64, OpSchema, Role, SAME, attr, data, int, slot, string};
use crate::AttrKind;

/// Shape and indexing ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        class: super::cls(&[C::UNARY, C::LAYOUT_AGNOSTIC]),
        ..OpSchema::new("Identity", 1)
    },
    OpSchema {
        outputs: &[data("output")],
        attrs: &[
            attr("value", AttrKind::Tensor),
            attr("sparse_value", AttrKind::SparseTensor).since(11),
            attr("value_float", AttrKind::Float).since(12),
            attr("value_floats", AttrKind::Floats).since(12),
            attr("value_int", AttrKind::Int).since(12),
            attr("value_ints", AttrKind::Ints).since(12),
            attr("value_string", AttrKind::String).since(12),
            attr("value_strings", AttrKind::Strings).since(12),
        ],
        dtypes: &[DTypeRule::Special],
        changes: &[
            Change { opset: 11, what: "sparse_value" },
            Change { opset: 12, what: "value_float(s), value_int(s), value_string(s)" },
        ],
        ..OpSchema::new("Constant", 1)
    },
    OpSchema {
        inputs: &[data("data"), slot("shape", Role::Shape).since(5)],
        outputs: &[data("reshaped")],
        attrs: &[attr("shape", AttrKind::Ints).until(5), int("allowzero", 0).since(14)],
        changes: &[
            Change { opset: 5, what: "shape moved from an attribute to an input" },
            Change { opset: 14, what: "allowzero" },
        ],
        ..OpSchema::new("Reshape", 1)
    },
    OpSchema {
        inputs: &[data("data")],
        outputs: &[data("transposed")],
        attrs: &[attr("perm", AttrKind::Ints)],
        ..OpSchema::new("Transpose", 1)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[int("axis", 1)],
        ..OpSchema::new("Flatten", 1)
    },
    OpSchema {
        inputs: &[data("data"), slot("axes", Role::Axes).opt().since(13)],
        outputs: &[data("squeezed")],
        attrs: &[attr("axes", AttrKind::Ints).until(13)],
        changes: &[Change { opset: 13, what: "axes moved from an attribute to an optional input" }],
        ..OpSchema::new("Squeeze", 1)
    },
    OpSchema {
        inputs: &[data("data"), slot("axes", Role::Axes).since(13)],
        outputs: &[data("expanded")],
        attrs: &[attr("axes", AttrKind::Ints).req().until(13)],
        changes: &[Change { opset: 13, what: "axes moved from an attribute to an input" }],
        ..OpSchema::new("Unsqueeze", 1)
    },
    OpSchema {
        inputs: &[data("inputs").many(1)],
        outputs: &[data("concat_result")],
        attrs: &[attr("axis", AttrKind::Int).req()],
        changes: &[Change { opset: 4, what: "axis is required" }],
        ..OpSchema::new("Concat", 1)
    },
    OpSchema {
        inputs: &[data("input"), slot("split", Role::Param).opt().since(13)],
        outputs: &[data("outputs").many(1)],
        attrs: &[int("axis", 0), attr("split", AttrKind::Ints).until(13), attr("num_outputs", AttrKind::Int).since(18)],
        changes: &[
            Change { opset: 13, what: "split moved from an attribute to an optional input" },
            Change { opset: 18, what: "num_outputs attribute (required when split is absent)" },
        ],
        ..OpSchema::new("Split", 1)
    },
    OpSchema {
        inputs: &[
            data("data"),
            slot("starts", Role::Indices).since(10),
            slot("ends", Role::Indices).since(10),
            slot("axes", Role::Axes).opt().since(10),
            slot("steps", Role::Indices).opt().since(10),
        ],
        outputs: &[data("output")],
        attrs: &[
            attr("axes", AttrKind::Ints).until(10),
            attr("ends", AttrKind::Ints).req().until(10),
            attr("starts", AttrKind::Ints).req().until(10),
        ],
        changes: &[Change { opset: 10, what: "starts, ends and axes moved to inputs; steps input" }],
        ..OpSchema::new("Slice", 1)
    },
    OpSchema {
        inputs: &[data("input"), slot("shape", Role::Shape)],
        outputs: &[data("output")],
        ..OpSchema::new("Expand", 8)
    },
    OpSchema {
        inputs: &[data("input"), slot("repeats", Role::Param).since(6)],
        outputs: &[data("output")],
        changes: &[Change { opset: 6, what: "repeats is an input (tiles and axis before)" }],
        ..OpSchema::new("Tile", 1)
    },
    OpSchema {
        inputs: &[
            data("data"),
            slot("pads", Role::Indices).since(11),
            slot("constant_value", Role::Param).opt().since(11),
            slot("axes", Role::Axes).opt().since(18),
        ],
        outputs: &[data("output")],
        attrs: &[
            string("mode", "constant"),
            attr("pads", AttrKind::Ints).req().until(11),
            super::float("value", 0.0).until(11),
        ],
        changes: &[
            Change { opset: 11, what: "pads and value moved to inputs" },
            Change { opset: 18, what: "axes input" },
            Change { opset: 19, what: "wrap mode" },
        ],
        ..OpSchema::new("Pad", 2)
    },
    OpSchema {
        inputs: &[data("data")],
        outputs: &[slot("shape", Role::Shape)],
        attrs: &[int("end", i64::MAX).since(15), int("start", 0).since(15)],
        dtypes: &[I64],
        changes: &[Change { opset: 15, what: "start and end" }],
        ..OpSchema::new("Shape", 1)
    },
    OpSchema { inputs: &[data("data")], outputs: &[data("size")], dtypes: &[I64], ..OpSchema::new("Size", 1) },
    OpSchema {
        inputs: &[slot("start", Role::Param), slot("limit", Role::Param), slot("delta", Role::Param)],
        outputs: &[data("output")],
        class: C::KEEP_F32,
        ..OpSchema::new("Range", 11)
    },
    OpSchema {
        inputs: &[slot("input", Role::Shape)],
        outputs: &[data("output")],
        attrs: &[attr("value", AttrKind::Tensor)],
        dtypes: &[DTypeRule::TensorAttr("value", &super::F32)],
        ..OpSchema::new("ConstantOfShape", 9)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("dtype", AttrKind::Int), int("k", 0)],
        dtypes: &[DTypeRule::Attr("dtype", &SAME)],
        ..OpSchema::new("EyeLike", 9)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("blocksize", AttrKind::Int).req(), string("mode", "DCR").since(11)],
        changes: &[Change { opset: 11, what: "mode (DCR or CRD)" }],
        ..OpSchema::new("DepthToSpace", 1)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("blocksize", AttrKind::Int).req()],
        ..OpSchema::new("SpaceToDepth", 1)
    },
    OpSchema {
        inputs: &[data("input_data"), slot("shape", Role::Shape)],
        outputs: &[data("output_data")],
        attrs: &[attr("axes", AttrKind::Ints)],
        ..OpSchema::new("CenterCropPad", 18)
    },
    OpSchema {
        inputs: &[data("input"), slot("k", Role::Param).opt()],
        outputs: &[data("output")],
        attrs: &[int("upper", 1)],
        ..OpSchema::new("Trilu", 14)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices)],
        outputs: &[data("output")],
        attrs: &[int("axis", 0)],
        weight: Some(super::WeightRule::Embedding),
        ..OpSchema::new("Gather", 1)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices)],
        outputs: &[data("output")],
        attrs: &[int("axis", 0)],
        ..OpSchema::new("GatherElements", 11)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices)],
        outputs: &[data("output")],
        attrs: &[int("batch_dims", 0).since(12)],
        changes: &[Change { opset: 12, what: "batch_dims" }],
        ..OpSchema::new("GatherND", 11)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices), data("updates")],
        outputs: &[data("output")],
        attrs: &[string("reduction", "none").since(16)],
        changes: &[Change { opset: 16, what: "reduction" }],
        ..OpSchema::new("ScatterND", 11)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices), data("updates")],
        outputs: &[data("output")],
        attrs: &[int("axis", 0), string("reduction", "none").since(16)],
        changes: &[Change { opset: 16, what: "reduction" }],
        ..OpSchema::new("ScatterElements", 11)
    },
    OpSchema {
        inputs: &[data("data"), slot("indices", Role::Indices), data("updates")],
        outputs: &[data("output")],
        attrs: &[int("axis", 0)],
        changes: &[Change { opset: 11, what: "deprecated in favour of ScatterElements" }],
        ..OpSchema::new("Scatter", 9)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[slot("Y", Role::Indices)],
        dtypes: &[I64],
        ..OpSchema::new("NonZero", 9)
    },
    OpSchema {
        inputs: &[slot("indices", Role::Indices), slot("depth", Role::Param), slot("values", Role::Param)],
        outputs: &[data("output")],
        attrs: &[int("axis", -1)],
        dtypes: &[DTypeRule::Input(2)],
        ..OpSchema::new("OneHot", 9)
    },
    OpSchema {
        inputs: &[data("input"), slot("condition", Role::Condition)],
        outputs: &[data("output")],
        attrs: &[attr("axis", AttrKind::Int)],
        ..OpSchema::new("Compress", 9)
    },
    OpSchema {
        inputs: &[data("input"), slot("sequence_lens", Role::Param)],
        outputs: &[data("Y")],
        attrs: &[int("batch_axis", 1), int("time_axis", 0)],
        ..OpSchema::new("ReverseSequence", 10)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[
            data("Y"),
            slot("indices", Role::Indices).opt(),
            slot("inverse_indices", Role::Indices).opt(),
            data("counts").opt(),
        ],
        attrs: &[attr("axis", AttrKind::Int), int("sorted", 1)],
        dtypes: &[SAME, I64, I64, I64],
        ..OpSchema::new("Unique", 11)
    },
    OpSchema {
        inputs: &[data("past_cache"), data("update"), slot("write_indices", Role::Indices).opt()],
        outputs: &[data("present_cache")],
        attrs: &[int("axis", -2), string("mode", "linear")],
        ..OpSchema::new("TensorScatter", 24)
    },
];
