//! Neural-network layers: convolutions, pooling, normalization, recurrent
//! cells, attention, resizing and detection ops.
//!
//! Opset history a converter must know: MaxPool gained the `Indices` output
//! (8), `ceil_mode` and `dilations` (10); AveragePool `ceil_mode` (10) and
//! `dilations` (19); BatchNormalization lost `spatial` at 9 and its extra
//! training outputs at 14 (`training_mode` added); GroupNormalization's scale
//! and bias are per channel since 21 (per group before); Resize took only
//! `scales` at 10 and `roi`/`scales`/`sizes` since 11 (`axes`, `antialias`,
//! `keep_aspect_ratio_policy` at 18); Upsample took `scales` as an attribute
//! before 9 and is deprecated since 10; Attention-24 added `nonpad_kv_seqlen`.

use super::Class as C;
use super::{
    AttrSpec, Change, DTypeRule, I64, MAX_EXTENT, OpSchema, Role, SAME, Slot, WeightRule, attr, cls, data, float, int,
    ints, slot, string,
};
use crate::{AttrKind, DType};

const X: &[Slot] = &[data("X")];
const Y: &[Slot] = &[data("Y")];
const NORM: C = cls(&[C::NORM, C::KEEP_F32]);
/// LayerNormalization's Mean and InvStdDev: the `stash_type` dtype (f32 by default).
const STASH: DTypeRule = DTypeRule::Attr("stash_type", &DTypeRule::Fixed(DType::F32));

/// A window size (kernel_shape, strides, dilations, group): at least 1.
const fn size(spec: AttrSpec) -> AttrSpec {
    spec.within(1, MAX_EXTENT)
}
/// Window padding (pads, output_padding): the spec wants it non-negative.
const fn pad(name: &'static str) -> AttrSpec {
    attr(name, AttrKind::Ints).within(0, MAX_EXTENT)
}
const fn sizes(name: &'static str) -> AttrSpec {
    size(attr(name, AttrKind::Ints))
}

const CONV_ATTRS: &[AttrSpec] = &[
    string("auto_pad", "NOTSET"),
    sizes("dilations"),
    size(int("group", 1)),
    sizes("kernel_shape"),
    pad("pads"),
    sizes("strides"),
];

const fn pool(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: X, outputs: Y, class: C::POOL, ..OpSchema::new(op, since) }
}

const fn norm(op: &'static str, since: i64) -> OpSchema {
    OpSchema { outputs: Y, class: NORM, ..OpSchema::new(op, since) }
}

const RNN_ATTRS_COMMON: [super::AttrSpec; 7] = [
    attr("activation_alpha", AttrKind::Floats),
    attr("activation_beta", AttrKind::Floats),
    attr("activations", AttrKind::Strings),
    attr("clip", AttrKind::Float),
    string("direction", "forward"),
    attr("hidden_size", AttrKind::Int),
    int("layout", 0).since(14),
];

const RNN_INPUTS: [Slot; 6] = [
    data("X"),
    slot("W", Role::Weight),
    slot("R", Role::Weight),
    slot("B", Role::Bias).opt(),
    slot("sequence_lens", Role::Param).opt(),
    slot("initial_h", Role::State).opt(),
];

/// Layer ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[data("X"), slot("W", Role::Weight), slot("B", Role::Bias).opt()],
        outputs: &[data("Y")],
        attrs: CONV_ATTRS,
        weight: Some(WeightRule::Conv { input: 1, bias: Some(2) }),
        ..OpSchema::new("Conv", 1)
    },
    OpSchema {
        inputs: &[data("X"), slot("W", Role::Weight), slot("B", Role::Bias).opt()],
        outputs: &[data("Y")],
        attrs: &[
            string("auto_pad", "NOTSET"),
            sizes("dilations"),
            size(int("group", 1)),
            sizes("kernel_shape"),
            pad("output_padding"),
            attr("output_shape", AttrKind::Ints).within(0, i64::MAX),
            pad("pads"),
            sizes("strides"),
        ],
        weight: Some(WeightRule::ConvTranspose),
        ..OpSchema::new("ConvTranspose", 1)
    },
    OpSchema {
        inputs: &[
            data("x"),
            slot("w", Role::Weight),
            slot("x_zero_point", Role::ZeroPoint).opt(),
            slot("w_zero_point", Role::ZeroPoint).opt(),
        ],
        outputs: &[data("y")],
        attrs: CONV_ATTRS,
        dtypes: &[DTypeRule::Fixed(DType::I32)],
        class: C::QUANT,
        weight: Some(WeightRule::Conv { input: 1, bias: None }),
        ..OpSchema::new("ConvInteger", 10)
    },
    OpSchema {
        inputs: &[
            data("x"),
            slot("x_scale", Role::Scale),
            slot("x_zero_point", Role::ZeroPoint),
            slot("w", Role::Weight),
            slot("w_scale", Role::Scale),
            slot("w_zero_point", Role::ZeroPoint),
            slot("y_scale", Role::Scale),
            slot("y_zero_point", Role::ZeroPoint),
            slot("B", Role::Bias).opt(),
        ],
        outputs: &[data("y")],
        attrs: CONV_ATTRS,
        dtypes: &[DTypeRule::Input(7)],
        class: C::QUANT,
        weight: Some(WeightRule::Conv { input: 3, bias: Some(8) }),
        ..OpSchema::new("QLinearConv", 10)
    },
    OpSchema {
        inputs: &[
            data("X"),
            slot("W", Role::Weight),
            data("offset"),
            slot("B", Role::Bias).opt(),
            slot("mask", Role::Param).opt(),
        ],
        outputs: &[data("Y")],
        attrs: &[
            sizes("dilations"),
            size(int("group", 1)),
            sizes("kernel_shape"),
            size(int("offset_group", 1)),
            pad("pads"),
            sizes("strides"),
        ],
        weight: Some(WeightRule::Conv { input: 1, bias: Some(3) }),
        ..OpSchema::new("DeformConv", 19)
    },
    OpSchema {
        inputs: &[data("input"), slot("image_shape", Role::Shape), slot("block_shape", Role::Shape)],
        outputs: &[data("output")],
        attrs: &[sizes("dilations"), pad("pads"), sizes("strides")],
        ..OpSchema::new("Col2Im", 18)
    },
    OpSchema {
        inputs: &[
            data("input"),
            slot("weight", Role::Weight),
            slot("bias", Role::Bias).opt(),
            slot("past_state", Role::State).opt(),
        ],
        outputs: &[data("output"), slot("present_state", Role::State)],
        attrs: &[string("activation", "none")],
        dtypes: &[SAME, SAME],
        weight: Some(WeightRule::Conv { input: 1, bias: Some(2) }),
        ..OpSchema::new("CausalConvWithState", 27)
    },
    OpSchema {
        outputs: &[data("Y"), slot("Indices", Role::Indices).opt().since(8)],
        attrs: &[
            string("auto_pad", "NOTSET"),
            int("ceil_mode", 0).since(10),
            sizes("dilations").since(10),
            sizes("kernel_shape").req(),
            pad("pads"),
            int("storage_order", 0).since(8),
            sizes("strides"),
        ],
        dtypes: &[SAME, I64],
        changes: &[
            Change { opset: 8, what: "optional Indices output and storage_order" },
            Change { opset: 10, what: "ceil_mode and dilations" },
        ],
        ..pool("MaxPool", 1)
    },
    OpSchema {
        attrs: &[
            string("auto_pad", "NOTSET"),
            int("ceil_mode", 0).since(10),
            int("count_include_pad", 0),
            sizes("dilations").since(19),
            sizes("kernel_shape").req(),
            pad("pads"),
            sizes("strides"),
        ],
        changes: &[Change { opset: 10, what: "ceil_mode" }, Change { opset: 19, what: "dilations" }],
        ..pool("AveragePool", 1)
    },
    OpSchema {
        attrs: &[
            string("auto_pad", "NOTSET"),
            int("ceil_mode", 0).since(18),
            sizes("dilations").since(18),
            sizes("kernel_shape").req(),
            int("p", 2),
            pad("pads"),
            sizes("strides"),
        ],
        changes: &[Change { opset: 18, what: "ceil_mode and dilations" }],
        ..pool("LpPool", 1)
    },
    pool("GlobalMaxPool", 1),
    pool("GlobalAveragePool", 1),
    OpSchema { attrs: &[int("p", 2)], ..pool("GlobalLpPool", 1) },
    OpSchema {
        inputs: &[data("X"), data("rois")],
        attrs: &[sizes("pooled_shape").req(), float("spatial_scale", 1.0)],
        ..pool("MaxRoiPool", 1)
    },
    OpSchema {
        inputs: &[data("X"), slot("I", Role::Indices), slot("output_shape", Role::Shape).opt()],
        outputs: &[data("output")],
        attrs: &[sizes("kernel_shape").req(), pad("pads"), sizes("strides")],
        class: C::NONE,
        ..OpSchema::new("MaxUnpool", 9)
    },
    OpSchema {
        inputs: &[
            data("X"),
            slot("scale", Role::Scale),
            slot("B", Role::Bias),
            slot("input_mean", Role::Mean),
            slot("input_var", Role::Variance),
        ],
        outputs: &[
            data("Y"),
            slot("running_mean", Role::Mean).opt(),
            slot("running_var", Role::Variance).opt(),
            slot("saved_mean", Role::Mean).opt().until(14),
            slot("saved_var", Role::Variance).opt().until(14),
        ],
        attrs: &[
            float("epsilon", 1e-5),
            float("momentum", 0.9),
            int("spatial", 1).until(9),
            int("training_mode", 0).since(14),
        ],
        dtypes: &[SAME, DTypeRule::Input(3), DTypeRule::Input(4), DTypeRule::Input(3), DTypeRule::Input(4)],
        changes: &[
            Change { opset: 9, what: "spatial attribute removed" },
            Change { opset: 14, what: "training_mode attribute; saved_mean/saved_var outputs removed" },
        ],
        ..norm("BatchNormalization", 1)
    },
    OpSchema {
        inputs: &[data("X"), slot("Scale", Role::Scale), slot("B", Role::Bias).opt()],
        outputs: &[data("Y"), slot("Mean", Role::Mean).opt(), slot("InvStdDev", Role::Variance).opt()],
        attrs: &[int("axis", -1), float("epsilon", 1e-5), int("stash_type", 1)],
        dtypes: &[SAME, STASH, STASH],
        ..norm("LayerNormalization", 17)
    },
    OpSchema {
        inputs: &[data("input"), slot("scale", Role::Scale), slot("B", Role::Bias)],
        outputs: &[data("output")],
        attrs: &[float("epsilon", 1e-5)],
        ..norm("InstanceNormalization", 1)
    },
    OpSchema {
        inputs: &[data("X"), slot("scale", Role::Scale), slot("bias", Role::Bias)],
        attrs: &[float("epsilon", 1e-5), attr("num_groups", AttrKind::Int).req(), int("stash_type", 1).since(21)],
        changes: &[Change { opset: 21, what: "scale and bias are per channel (per group before); stash_type" }],
        ..norm("GroupNormalization", 18)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[int("axis", -1), int("p", 2)],
        ..norm("LpNormalization", 1)
    },
    OpSchema { inputs: &[data("X")], attrs: &[ints("axes", &[0, 2, 3])], ..norm("MeanVarianceNormalization", 9) },
    OpSchema {
        inputs: &[data("X"), slot("scale", Role::Scale)],
        attrs: &[int("axis", -1), float("epsilon", 1e-5), int("stash_type", 1)],
        dtypes: &[DTypeRule::Input(1)],
        ..norm("RMSNormalization", 23)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[
            float("alpha", 1e-4),
            float("beta", 0.75),
            float("bias", 1.0),
            size(attr("size", AttrKind::Int)).req(),
        ],
        ..OpSchema::new("LRN", 1)
    },
    OpSchema {
        inputs: &RNN_INPUTS,
        outputs: &[data("Y").opt(), slot("Y_h", Role::State).opt()],
        dtypes: &[SAME, SAME],
        attrs: &RNN_ATTRS_COMMON,
        weight: None,
        ..OpSchema::new("RNN", 7)
    },
    OpSchema {
        inputs: &RNN_INPUTS,
        outputs: &[data("Y").opt(), slot("Y_h", Role::State).opt()],
        dtypes: &[SAME, SAME],
        attrs: &[
            RNN_ATTRS_COMMON[0],
            RNN_ATTRS_COMMON[1],
            RNN_ATTRS_COMMON[2],
            RNN_ATTRS_COMMON[3],
            RNN_ATTRS_COMMON[4],
            RNN_ATTRS_COMMON[5],
            RNN_ATTRS_COMMON[6],
            int("linear_before_reset", 0),
        ],
        ..OpSchema::new("GRU", 7)
    },
    OpSchema {
        inputs: &[
            RNN_INPUTS[0],
            RNN_INPUTS[1],
            RNN_INPUTS[2],
            RNN_INPUTS[3],
            RNN_INPUTS[4],
            RNN_INPUTS[5],
            slot("initial_c", Role::State).opt(),
            slot("P", Role::Weight).opt(),
        ],
        outputs: &[data("Y").opt(), slot("Y_h", Role::State).opt(), slot("Y_c", Role::State).opt()],
        dtypes: &[SAME, SAME, SAME],
        attrs: &[
            RNN_ATTRS_COMMON[0],
            RNN_ATTRS_COMMON[1],
            RNN_ATTRS_COMMON[2],
            RNN_ATTRS_COMMON[3],
            RNN_ATTRS_COMMON[4],
            RNN_ATTRS_COMMON[5],
            RNN_ATTRS_COMMON[6],
            int("input_forget", 0),
        ],
        ..OpSchema::new("LSTM", 7)
    },
    OpSchema {
        inputs: &[
            data("Q"),
            data("K"),
            data("V"),
            slot("attn_mask", Role::Param).opt(),
            slot("past_key", Role::State).opt(),
            slot("past_value", Role::State).opt(),
            slot("nonpad_kv_seqlen", Role::Param).opt().since(24),
        ],
        outputs: &[
            data("Y"),
            slot("present_key", Role::State).opt(),
            slot("present_value", Role::State).opt(),
            data("qk_matmul_output").opt(),
        ],
        attrs: &[
            int("is_causal", 0),
            attr("kv_num_heads", AttrKind::Int),
            attr("q_num_heads", AttrKind::Int),
            int("qk_matmul_output_mode", 0),
            attr("scale", AttrKind::Float),
            float("softcap", 0.0),
            attr("softmax_precision", AttrKind::Int),
            int("left_window_size", -1).since(25),
            int("right_window_size", -1).since(25),
        ],
        dtypes: &[SAME, DTypeRule::Input(1), DTypeRule::Input(2), SAME],
        changes: &[
            Change { opset: 24, what: "nonpad_kv_seqlen input" },
            Change { opset: 25, what: "left_window_size/right_window_size sliding window" },
        ],
        ..OpSchema::new("Attention", 23)
    },
    OpSchema {
        inputs: &[
            data("X"),
            slot("cos_cache", Role::Param),
            slot("sin_cache", Role::Param),
            slot("position_ids", Role::Indices).opt(),
        ],
        outputs: &[data("Y")],
        attrs: &[int("interleaved", 0), attr("num_heads", AttrKind::Int), int("rotary_embedding_dim", 0)],
        ..OpSchema::new("RotaryEmbedding", 23)
    },
    OpSchema {
        inputs: &[
            data("query"),
            data("key"),
            data("value"),
            slot("past_state", Role::State).opt(),
            slot("decay", Role::Param).opt(),
            slot("beta", Role::Param).opt(),
        ],
        outputs: &[data("output"), slot("present_state", Role::State)],
        attrs: &[
            attr("kv_num_heads", AttrKind::Int),
            attr("q_num_heads", AttrKind::Int),
            float("scale", 0.0),
            string("update_rule", "gated_delta"),
        ],
        dtypes: &[SAME, SAME],
        ..OpSchema::new("LinearAttention", 27)
    },
    OpSchema {
        inputs: &[
            data("X"),
            slot("roi", Role::Param).opt().since(11),
            slot("scales", Role::Param).opt(),
            slot("sizes", Role::Shape).opt().since(11),
        ],
        outputs: &[data("Y")],
        attrs: &[
            int("antialias", 0).since(18),
            attr("axes", AttrKind::Ints).since(18),
            string("coordinate_transformation_mode", "half_pixel").since(11),
            float("cubic_coeff_a", -0.75).since(11),
            int("exclude_outside", 0).since(11),
            float("extrapolation_value", 0.0).since(11),
            string("keep_aspect_ratio_policy", "stretch").since(18),
            string("mode", "nearest"),
            string("nearest_mode", "round_prefer_floor").since(11),
        ],
        changes: &[
            Change { opset: 11, what: "roi and sizes inputs; coordinate transformation and cubic attributes" },
            Change { opset: 13, what: "roi and scales may be omitted" },
            Change { opset: 18, what: "axes, antialias and keep_aspect_ratio_policy" },
            Change { opset: 19, what: "coordinate_transformation_mode half_pixel_symmetric" },
        ],
        class: C::KEEP_F32,
        ..OpSchema::new("Resize", 10)
    },
    OpSchema {
        inputs: &[data("X"), slot("scales", Role::Param).since(9)],
        outputs: &[data("Y")],
        attrs: &[string("mode", "nearest"), attr("scales", AttrKind::Floats).until(9)],
        changes: &[
            Change { opset: 9, what: "scales moved from an attribute to an input" },
            Change { opset: 10, what: "deprecated in favour of Resize" },
        ],
        ..OpSchema::new("Upsample", 7)
    },
    OpSchema {
        inputs: &[data("X"), data("grid")],
        outputs: &[data("Y")],
        attrs: &[int("align_corners", 0), string("mode", "linear"), string("padding_mode", "zeros")],
        changes: &[Change { opset: 20, what: "mode names linear/cubic (bilinear/bicubic before); N-D input" }],
        class: C::KEEP_F32,
        ..OpSchema::new("GridSample", 16)
    },
    OpSchema {
        inputs: &[data("theta"), slot("size", Role::Shape)],
        outputs: &[data("grid")],
        attrs: &[int("align_corners", 0)],
        ..OpSchema::new("AffineGrid", 20)
    },
    OpSchema {
        inputs: &[data("X"), data("rois"), slot("batch_indices", Role::Indices)],
        outputs: &[data("Y")],
        attrs: &[
            string("coordinate_transformation_mode", "half_pixel").since(16),
            string("mode", "avg"),
            int("output_height", 1),
            int("output_width", 1),
            int("sampling_ratio", 0),
            float("spatial_scale", 1.0),
        ],
        changes: &[Change {
            opset: 16,
            what: "coordinate_transformation_mode (default half_pixel; output_half_pixel before)",
        }],
        class: C::KEEP_F32,
        ..OpSchema::new("RoiAlign", 10)
    },
    OpSchema {
        inputs: &[
            data("boxes"),
            data("scores"),
            slot("max_output_boxes_per_class", Role::Param).opt(),
            slot("iou_threshold", Role::Param).opt(),
            slot("score_threshold", Role::Param).opt(),
        ],
        outputs: &[slot("selected_indices", Role::Indices)],
        attrs: &[int("center_point_box", 0)],
        dtypes: &[I64],
        class: C::KEEP_F32,
        ..OpSchema::new("NonMaxSuppression", 10)
    },
];
