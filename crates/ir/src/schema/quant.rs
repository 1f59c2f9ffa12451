//! Linear quantization ops (QLinearConv, QLinearMatMul, ConvInteger and
//! MatMulInteger live with their float counterparts).
//!
//! Opset history a converter must know: QuantizeLinear/DequantizeLinear are
//! per-tensor at 10; `axis` (per-axis scales) at 13; 8-bit floats and
//! `saturate` at 19; `block_size` (blocked scales) and QuantizeLinear's
//! `output_dtype` at 21; at 23 the scale type may differ from the float
//! type, QuantizeLinear gains `precision` and DequantizeLinear `output_dtype`.

use super::Class as C;
use super::{Change, DTypeRule, OpSchema, Role, attr, data, int, slot};
use crate::{AttrKind, DType};

/// QuantizeLinear's output: `output_dtype`, else the zero point's type, else uint8.
const Q_OUT: DTypeRule = DTypeRule::Attr("output_dtype", &DTypeRule::InputOr(2, &DTypeRule::Fixed(DType::U8)));
/// DequantizeLinear's output: `output_dtype`, else the scale's type.
const DQ_OUT: DTypeRule = DTypeRule::Attr("output_dtype", &DTypeRule::Input(1));

/// Quantization ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[data("x"), slot("y_scale", Role::Scale), slot("y_zero_point", Role::ZeroPoint).opt()],
        outputs: &[data("y")],
        attrs: &[
            int("axis", 1).since(13),
            int("block_size", 0).since(21),
            int("output_dtype", 0).since(21),
            attr("precision", AttrKind::Int).since(23),
            int("saturate", 1).since(19),
        ],
        dtypes: &[Q_OUT],
        changes: &[
            Change { opset: 13, what: "axis (per-axis scales)" },
            Change { opset: 19, what: "8-bit float outputs and saturate" },
            Change { opset: 21, what: "block_size (blocked scales) and output_dtype" },
            Change { opset: 23, what: "precision; scale type independent of the input type" },
        ],
        class: C::QUANT,
        ..OpSchema::new("QuantizeLinear", 10)
    },
    OpSchema {
        inputs: &[data("x"), slot("x_scale", Role::Scale), slot("x_zero_point", Role::ZeroPoint).opt()],
        outputs: &[data("y")],
        attrs: &[int("axis", 1).since(13), int("block_size", 0).since(21), int("output_dtype", 0).since(23)],
        dtypes: &[DQ_OUT],
        changes: &[
            Change { opset: 13, what: "axis (per-axis scales)" },
            Change { opset: 19, what: "8-bit float inputs" },
            Change { opset: 21, what: "block_size (blocked scales)" },
            Change { opset: 23, what: "output_dtype; scale type independent of the output type" },
        ],
        class: C::QUANT,
        ..OpSchema::new("DequantizeLinear", 10)
    },
    OpSchema {
        inputs: &[data("x")],
        outputs: &[data("y"), slot("y_scale", Role::Scale), slot("y_zero_point", Role::ZeroPoint)],
        dtypes: &[DTypeRule::Fixed(DType::U8), DTypeRule::Fixed(DType::F32), DTypeRule::Fixed(DType::U8)],
        class: C::QUANT,
        ..OpSchema::new("DynamicQuantizeLinear", 11)
    },
];
