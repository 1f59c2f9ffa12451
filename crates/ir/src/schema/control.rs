//! Control flow: If, Loop and Scan, whose bodies are graph attributes.
//!
//! Opset history a converter must know: Scan-8 has a batch axis and a
//! `sequence_lens` input; Scan-9 dropped both and added per-input/output
//! axes and directions. If and Loop only widened their value types
//! (sequences at 13, optionals at 16).

use super::Class as C;
use super::{Change, DTypeRule, OpSchema, Role, attr, data, slot};
use crate::AttrKind;

/// Control-flow ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[slot("cond", Role::Condition)],
        outputs: &[data("outputs").many(1)],
        attrs: &[attr("else_branch", AttrKind::Graph).req(), attr("then_branch", AttrKind::Graph).req()],
        dtypes: &[DTypeRule::Special],
        class: C::SUBGRAPH,
        ..OpSchema::new("If", 1)
    },
    OpSchema {
        inputs: &[
            slot("M", Role::Param).opt(),
            slot("cond", Role::Condition).opt(),
            slot("v_initial", Role::State).many(0),
        ],
        outputs: &[slot("v_final_and_scan_outputs", Role::State).many(1)],
        attrs: &[attr("body", AttrKind::Graph).req()],
        dtypes: &[DTypeRule::Special],
        class: C::SUBGRAPH,
        ..OpSchema::new("Loop", 1)
    },
    OpSchema {
        inputs: &[slot("sequence_lens", Role::Param).opt().until(9), data("initial_state_and_scan_inputs").many(1)],
        outputs: &[data("final_state_and_scan_outputs").many(1)],
        attrs: &[
            attr("body", AttrKind::Graph).req(),
            attr("directions", AttrKind::Ints).until(9),
            attr("num_scan_inputs", AttrKind::Int).req(),
            attr("scan_input_axes", AttrKind::Ints).since(9),
            attr("scan_input_directions", AttrKind::Ints).since(9),
            attr("scan_output_axes", AttrKind::Ints).since(9),
            attr("scan_output_directions", AttrKind::Ints).since(9),
        ],
        dtypes: &[DTypeRule::Special],
        changes: &[Change { opset: 9, what: "no batch axis or sequence_lens; per-input/output axes and directions" }],
        class: C::SUBGRAPH,
        ..OpSchema::new("Scan", 8)
    },
];
