//! Reductions, arg-reductions, cumulative ops and TopK.
//!
//! Opset history a converter must know: ReduceSum's `axes` moved from an
//! attribute to an optional input at 13, every other Reduce* op's at 18
//! (with `noop_with_empty_axes` added at the same time); ArgMax/ArgMin gained
//! `select_last_index` at 12; TopK's `k` became an input at 10 and `largest`/
//! `sorted` appeared at 11.

use super::Class as C;
use super::{AttrSpec, Change, I64, OpSchema, Role, SAME, Slot, attr, cls, data, int, slot};
use crate::AttrKind;

/// The inputs, attributes and change of a Reduce* op whose `axes` moved to an input at `at`.
macro_rules! reduce_form {
    ($at:literal) => {
        (
            &[data("data"), slot("axes", Role::Axes).opt().since($at)],
            &[attr("axes", AttrKind::Ints).until($at), int("keepdims", 1), int("noop_with_empty_axes", 0).since($at)],
            &[Change { opset: $at, what: "axes moved from an attribute to an optional input; noop_with_empty_axes" }],
        )
    };
}
type Form = (&'static [Slot], &'static [AttrSpec], &'static [Change]);
const AXES_AT_13: Form = reduce_form!(13);
const AXES_AT_18: Form = reduce_form!(18);
const REDUCED: &[Slot] = &[data("reduced")];
const ARG_IN: &[Slot] = &[data("data")];
const ARG_OUT: &[Slot] = &[slot("reduced", Role::Indices)];
const ARG_ATTRS: &[AttrSpec] = &[int("axis", 0), int("keepdims", 1), int("select_last_index", 0).since(12)];
const ARG_CHANGES: &[Change] = &[Change { opset: 12, what: "select_last_index" }];
const CUM_IN: &[Slot] = &[data("x"), slot("axis", Role::Axes)];
const CUM_OUT: &[Slot] = &[data("y")];
const CUM_ATTRS: &[AttrSpec] = &[int("exclusive", 0), int("reverse", 0)];

/// A Reduce* op of the given form.
const fn reduce(op: &'static str, form: Form, f32_only: bool) -> OpSchema {
    let class = if f32_only { cls(&[C::REDUCE, C::KEEP_F32]) } else { C::REDUCE };
    OpSchema { inputs: form.0, outputs: REDUCED, attrs: form.1, changes: form.2, class, ..OpSchema::new(op, 1) }
}

/// ArgMax or ArgMin.
const fn arg(op: &'static str) -> OpSchema {
    OpSchema {
        inputs: ARG_IN,
        outputs: ARG_OUT,
        attrs: ARG_ATTRS,
        dtypes: &[I64],
        changes: ARG_CHANGES,
        class: C::REDUCE,
        ..OpSchema::new(op, 1)
    }
}

/// CumSum or CumProd.
const fn cumulative(op: &'static str, since: i64, class: C) -> OpSchema {
    OpSchema { inputs: CUM_IN, outputs: CUM_OUT, attrs: CUM_ATTRS, class, ..OpSchema::new(op, since) }
}

/// Reduction ops.
pub(super) static OPS: &[OpSchema] = &[
    reduce("ReduceSum", AXES_AT_13, true),
    reduce("ReduceMean", AXES_AT_18, true),
    reduce("ReduceMax", AXES_AT_18, false),
    reduce("ReduceMin", AXES_AT_18, false),
    reduce("ReduceProd", AXES_AT_18, true),
    reduce("ReduceL1", AXES_AT_18, false),
    reduce("ReduceL2", AXES_AT_18, true),
    reduce("ReduceLogSum", AXES_AT_18, false),
    reduce("ReduceLogSumExp", AXES_AT_18, true),
    reduce("ReduceSumSquare", AXES_AT_18, true),
    arg("ArgMax"),
    arg("ArgMin"),
    cumulative("CumSum", 11, C::KEEP_F32),
    cumulative("CumProd", 26, C::NONE),
    OpSchema {
        inputs: &[data("X"), slot("K", Role::Param).since(10)],
        outputs: &[data("Values"), slot("Indices", Role::Indices)],
        attrs: &[
            attr("k", AttrKind::Int).req().until(10),
            int("axis", -1),
            int("largest", 1).since(11),
            int("sorted", 1).since(11),
        ],
        dtypes: &[SAME, I64],
        changes: &[
            Change { opset: 10, what: "k moved from an attribute to an input" },
            Change { opset: 11, what: "largest and sorted" },
        ],
        class: C::KEEP_F32,
        ..OpSchema::new("TopK", 1)
    },
];
