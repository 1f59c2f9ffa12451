//! Activation functions, Softmax-like ops and Dropout.
//!
//! Opset history a converter must know: Clip's `min`/`max` moved from
//! attributes to optional inputs at 11; Softmax/LogSoftmax/Hardmax coerce
//! the input to 2-D around `axis` (default 1) before 13 and work along one
//! axis (default -1) since; Dropout's `ratio` became an input and
//! `training_mode` was added at 12 (its mask is bool since 10); Gelu exists
//! since 20, Swish since 24.

use super::Class as C;
use super::{AttrSpec, BOOL, Change, OpSchema, Role, Slot, attr, cls, data, float, int, slot, string};
use crate::AttrKind;

const X: &[Slot] = &[data("X")];
const Y: &[Slot] = &[data("Y")];
const ACT: C = cls(&[C::UNARY, C::ACTIVATION, C::LAYOUT_AGNOSTIC]);
const SOFTMAX_IN: &[Slot] = &[data("input")];
const SOFTMAX_OUT: &[Slot] = &[data("output")];
const SOFTMAX_ATTRS: &[AttrSpec] = &[int("axis", 1).until(13), int("axis", -1).since(13)];
const SOFTMAX_CHANGES: &[Change] =
    &[Change { opset: 13, what: "works along one axis (default -1) instead of coercing to 2-D around axis 1" }];

/// An elementwise activation `X -> Y`.
const fn act(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: X, outputs: Y, class: ACT, ..OpSchema::new(op, since) }
}

/// A Softmax-like op `input -> output` along `axis`.
const fn softmax(op: &'static str) -> OpSchema {
    OpSchema {
        inputs: SOFTMAX_IN,
        outputs: SOFTMAX_OUT,
        attrs: SOFTMAX_ATTRS,
        changes: SOFTMAX_CHANGES,
        class: C::KEEP_F32,
        ..OpSchema::new(op, 1)
    }
}

/// Activation ops.
pub(super) static OPS: &[OpSchema] = &[
    act("Relu", 1),
    OpSchema { attrs: &[float("alpha", 0.01)], ..act("LeakyRelu", 1) },
    OpSchema {
        inputs: &[data("X"), slot("slope", Role::Weight)],
        class: cls(&[C::ACTIVATION, C::BROADCAST]),
        changes: &[Change { opset: 7, what: "slope broadcasts to X (unidirectional)" }],
        ..act("PRelu", 1)
    },
    act("Sigmoid", 1),
    OpSchema { attrs: &[float("alpha", 0.2), float("beta", 0.5)], ..act("HardSigmoid", 1) },
    act("HardSwish", 14),
    OpSchema { inputs: &[data("input")], outputs: &[data("output")], ..act("Tanh", 1) },
    OpSchema { attrs: &[string("approximate", "none")], ..act("Gelu", 20) },
    OpSchema {
        inputs: &[data("input"), slot("min", Role::Param).opt().since(11), slot("max", Role::Param).opt().since(11)],
        outputs: &[data("output")],
        attrs: &[float("min", f32::MIN).until(11), float("max", f32::MAX).until(11)],
        changes: &[Change { opset: 11, what: "min and max moved from attributes to optional inputs" }],
        ..act("Clip", 1)
    },
    act("Softplus", 1),
    OpSchema { inputs: &[data("input")], outputs: &[data("output")], ..act("Softsign", 1) },
    OpSchema { attrs: &[float("alpha", 1.0)], ..act("Elu", 1) },
    OpSchema { attrs: &[float("alpha", 1.673_263_2), float("gamma", 1.050_701)], ..act("Selu", 1) },
    OpSchema { attrs: &[float("alpha", 1.0)], ..act("Celu", 12) },
    act("Mish", 18),
    OpSchema { attrs: &[float("alpha", 1.0)], ..act("ThresholdedRelu", 10) },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[float("bias", 0.0), float("lambd", 0.5)],
        ..act("Shrink", 9)
    },
    OpSchema { attrs: &[float("alpha", 1.0)], ..act("Swish", 24) },
    softmax("Softmax"),
    softmax("LogSoftmax"),
    OpSchema { class: C::NONE, ..softmax("Hardmax") },
    OpSchema {
        inputs: &[
            data("data"),
            slot("ratio", Role::Param).opt().since(12),
            slot("training_mode", Role::Param).opt().since(12),
        ],
        outputs: &[data("output"), data("mask").opt()],
        attrs: &[float("ratio", 0.5).until(12), attr("seed", AttrKind::Int).since(12)],
        dtypes: &[super::SAME, BOOL],
        changes: &[
            Change { opset: 10, what: "mask output is bool" },
            Change { opset: 12, what: "ratio moved to an input; training_mode input and seed attribute added" },
        ],
        class: C::UNARY,
        ..OpSchema::new("Dropout", 1)
    },
];
