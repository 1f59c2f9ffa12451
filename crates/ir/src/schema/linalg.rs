//! Matrix products and linear algebra.
//!
//! Opset history a converter must know: Gemm's `C` is optional since 11 (and
//! broadcasts unidirectionally since 7, with the `broadcast` attribute gone);
//! MatMulInteger and QLinearMatMul exist since 10, Einsum and Det since 12 and 11.

use super::Class as C;
use super::{Change, DTypeRule, OpSchema, Role, WeightRule, attr, data, float, int, slot};
use crate::{AttrKind, DType};

/// Matrix ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[
            data("A"),
            slot("B", Role::Weight),
            slot("C", Role::Bias).until(11),
            slot("C", Role::Bias).opt().since(11),
        ],
        outputs: &[data("Y")],
        attrs: &[float("alpha", 1.0), float("beta", 1.0), int("transA", 0), int("transB", 0)],
        changes: &[
            Change { opset: 7, what: "C broadcasts unidirectionally; broadcast attribute removed" },
            Change { opset: 11, what: "C is optional" },
        ],
        weight: Some(WeightRule::Gemm),
        ..OpSchema::new("Gemm", 1)
    },
    OpSchema {
        inputs: &[data("A"), slot("B", Role::Weight)],
        outputs: &[data("Y")],
        weight: Some(WeightRule::MatMul { input: 1 }),
        ..OpSchema::new("MatMul", 1)
    },
    OpSchema {
        inputs: &[
            data("A"),
            slot("B", Role::Weight),
            slot("a_zero_point", Role::ZeroPoint).opt(),
            slot("b_zero_point", Role::ZeroPoint).opt(),
        ],
        outputs: &[data("Y")],
        dtypes: &[DTypeRule::Fixed(DType::I32)],
        class: C::QUANT,
        weight: Some(WeightRule::MatMul { input: 1 }),
        ..OpSchema::new("MatMulInteger", 10)
    },
    OpSchema {
        inputs: &[
            data("a"),
            slot("a_scale", Role::Scale),
            slot("a_zero_point", Role::ZeroPoint),
            slot("b", Role::Weight),
            slot("b_scale", Role::Scale),
            slot("b_zero_point", Role::ZeroPoint),
            slot("y_scale", Role::Scale),
            slot("y_zero_point", Role::ZeroPoint),
        ],
        outputs: &[data("y")],
        dtypes: &[DTypeRule::Input(7)],
        class: C::QUANT,
        weight: Some(WeightRule::MatMul { input: 3 }),
        ..OpSchema::new("QLinearMatMul", 10)
    },
    OpSchema {
        inputs: &[data("Inputs").many(1)],
        outputs: &[data("Output")],
        attrs: &[attr("equation", AttrKind::String).req()],
        ..OpSchema::new("Einsum", 12)
    },
    OpSchema { inputs: &[data("X")], outputs: &[data("Y")], ..OpSchema::new("Det", 11) },
];
