//! Elementwise arithmetic, math, comparison and logical ops.
//!
//! Opset history a converter must know: the binary ops took a `broadcast`
//! attribute (and `axis`) before 7, numpy-style broadcasting since; the
//! variadic Max/Min/Sum/Mean broadcast since 8; `LessOrEqual` and
//! `GreaterOrEqual` exist since 12; the bitwise ops since 18 (`BitShift` 11).

use super::Class as C;
use super::{BOOL, Change, OpSchema, Slot, cls, data, int, string};

const AB: &[Slot] = &[data("A"), data("B")];
const C_OUT: &[Slot] = &[data("C")];
const X: &[Slot] = &[data("X")];
const Y: &[Slot] = &[data("Y")];
const INPUT: &[Slot] = &[data("input")];
const OUTPUT: &[Slot] = &[data("output")];
const BROADCAST_AT_7: &[Change] =
    &[Change { opset: 7, what: "numpy broadcasting; attributes broadcast and axis removed" }];

const ARITH: C = cls(&[C::BROADCAST, C::LAYOUT_AGNOSTIC]);
const LOGIC: C = cls(&[C::BROADCAST, C::LAYOUT_AGNOSTIC, C::LOGICAL]);
const MATH: C = cls(&[C::UNARY, C::LAYOUT_AGNOSTIC]);
const MATH_F32: C = cls(&[C::UNARY, C::LAYOUT_AGNOSTIC, C::KEEP_F32]);

/// A broadcasting binary op `A, B -> C` with output dtype of `A`.
const fn binary(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: AB, outputs: C_OUT, class: ARITH, ..OpSchema::new(op, since) }
}

/// A broadcasting comparison or logical op `A, B -> C (bool)`.
const fn compare(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: AB, outputs: C_OUT, class: LOGIC, dtypes: &[BOOL], ..OpSchema::new(op, since) }
}

/// A unary math op `input -> output`.
const fn unary(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: INPUT, outputs: OUTPUT, class: MATH, ..OpSchema::new(op, since) }
}

/// A unary math op over `X -> Y`.
const fn unary_xy(op: &'static str, since: i64) -> OpSchema {
    OpSchema { inputs: X, outputs: Y, class: MATH, ..OpSchema::new(op, since) }
}

/// A variadic broadcasting op `data_0... -> op_name`.
const fn variadic(op: &'static str, outputs: &'static [Slot]) -> OpSchema {
    const IN: &[Slot] = &[data("data_0").many(1)];
    OpSchema {
        inputs: IN,
        outputs,
        class: ARITH,
        changes: &[Change { opset: 8, what: "numpy broadcasting of all inputs" }],
        ..OpSchema::new(op, 1)
    }
}

/// Elementwise ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema { changes: BROADCAST_AT_7, ..binary("Add", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..binary("Sub", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..binary("Mul", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..binary("Div", 1) },
    OpSchema {
        inputs: &[data("X"), data("Y")],
        outputs: &[data("Z")],
        class: cls(&[C::BROADCAST, C::LAYOUT_AGNOSTIC, C::KEEP_F32]),
        changes: &[
            Change { opset: 7, what: "numpy broadcasting" },
            Change { opset: 12, what: "exponent Y may have a different type than X" },
        ],
        ..OpSchema::new("Pow", 1)
    },
    OpSchema { attrs: &[int("fmod", 0)], ..binary("Mod", 10) },
    OpSchema {
        attrs: &[string("direction", "").req()],
        inputs: &[data("X"), data("Y")],
        outputs: &[data("Z")],
        ..binary("BitShift", 11)
    },
    variadic("Max", &[data("max")]),
    variadic("Min", &[data("min")]),
    variadic("Sum", &[data("sum")]),
    variadic("Mean", &[data("mean")]),
    OpSchema {
        inputs: &[Slot::new("condition", super::Role::Condition), data("X"), data("Y")],
        outputs: &[data("output")],
        dtypes: &[super::DTypeRule::Input(1)],
        class: ARITH,
        ..OpSchema::new("Where", 9)
    },
    unary_xy("Abs", 1),
    unary_xy("Neg", 1),
    unary("Sign", 9),
    OpSchema { class: MATH_F32, ..unary("Exp", 1) },
    unary("Log", 1),
    unary_xy("Sqrt", 1),
    unary_xy("Reciprocal", 1),
    unary_xy("Floor", 1),
    unary_xy("Ceil", 1),
    unary_xy("Round", 11),
    unary("Sin", 7),
    unary("Cos", 7),
    unary("Tan", 7),
    unary("Asin", 7),
    unary("Acos", 7),
    unary("Atan", 7),
    unary("Sinh", 9),
    unary("Cosh", 9),
    unary("Asinh", 9),
    unary("Acosh", 9),
    unary("Atanh", 9),
    unary("Erf", 9),
    OpSchema { dtypes: &[BOOL], class: cls(&[C::UNARY, C::LAYOUT_AGNOSTIC, C::LOGICAL]), ..unary_xy("IsNaN", 9) },
    OpSchema {
        dtypes: &[BOOL],
        class: cls(&[C::UNARY, C::LAYOUT_AGNOSTIC, C::LOGICAL]),
        attrs: &[int("detect_negative", 1), int("detect_positive", 1)],
        ..unary_xy("IsInf", 10)
    },
    OpSchema { dtypes: &[BOOL], class: cls(&[C::UNARY, C::LAYOUT_AGNOSTIC, C::LOGICAL]), ..unary_xy("Not", 1) },
    unary_xy("BitwiseNot", 18),
    binary("BitwiseAnd", 18),
    binary("BitwiseOr", 18),
    binary("BitwiseXor", 18),
    OpSchema { changes: BROADCAST_AT_7, ..compare("And", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..compare("Or", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..compare("Xor", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..compare("Equal", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..compare("Less", 1) },
    OpSchema { changes: BROADCAST_AT_7, ..compare("Greater", 1) },
    compare("LessOrEqual", 12),
    compare("GreaterOrEqual", 12),
];
