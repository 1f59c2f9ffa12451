//! `ai.onnx.ml` ops (versions are of the `ai.onnx.ml` opset).
//!
//! Opset history a converter must know: LabelEncoder-2 added float keys and
//! values, LabelEncoder-4 the tensor forms (`keys_tensor`, `values_tensor`,
//! `default_tensor`); TreeEnsemble (5) replaces TreeEnsembleClassifier and
//! TreeEnsembleRegressor with tensor attributes.

use super::{Change, DTypeRule, OpSchema, Role, attr, data, float, int, slot, string};
use crate::AttrKind;
use crate::opset::ONNX_ML_DOMAIN;

/// Traditional-ML ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        domain: ONNX_ML_DOMAIN,
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[
            attr("default_float", AttrKind::Float).since(2),
            int("default_int64", -1),
            string("default_string", "_Unused"),
            attr("default_tensor", AttrKind::Tensor).since(4),
            attr("keys_floats", AttrKind::Floats).since(2),
            attr("keys_int64s", AttrKind::Ints),
            attr("keys_strings", AttrKind::Strings),
            attr("keys_tensor", AttrKind::Tensor).since(4),
            attr("values_floats", AttrKind::Floats).since(2),
            attr("values_int64s", AttrKind::Ints),
            attr("values_strings", AttrKind::Strings),
            attr("values_tensor", AttrKind::Tensor).since(4),
        ],
        dtypes: &[DTypeRule::Special],
        changes: &[
            Change { opset: 2, what: "float keys and values; default_float" },
            Change { opset: 4, what: "keys_tensor, values_tensor and default_tensor" },
        ],
        ..OpSchema::new("LabelEncoder", 1)
    },
    OpSchema {
        domain: ONNX_ML_DOMAIN,
        inputs: &[data("X"), slot("Y", Role::Indices)],
        outputs: &[data("Z")],
        ..OpSchema::new("ArrayFeatureExtractor", 1)
    },
    OpSchema {
        domain: ONNX_ML_DOMAIN,
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[float("threshold", 0.0)],
        ..OpSchema::new("Binarizer", 1)
    },
    OpSchema {
        domain: ONNX_ML_DOMAIN,
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[
            int("aggregate_function", 1),
            attr("leaf_targetids", AttrKind::Ints).req(),
            attr("leaf_weights", AttrKind::Tensor).req(),
            attr("membership_values", AttrKind::Tensor),
            attr("n_targets", AttrKind::Int),
            attr("nodes_falseleafs", AttrKind::Ints).req(),
            attr("nodes_falsenodeids", AttrKind::Ints).req(),
            attr("nodes_featureids", AttrKind::Ints).req(),
            attr("nodes_hitrates", AttrKind::Tensor),
            attr("nodes_missing_value_tracks_true", AttrKind::Ints),
            attr("nodes_modes", AttrKind::Tensor).req(),
            attr("nodes_splits", AttrKind::Tensor).req(),
            attr("nodes_trueleafs", AttrKind::Ints).req(),
            attr("nodes_truenodeids", AttrKind::Ints).req(),
            int("post_transform", 0),
            attr("tree_roots", AttrKind::Ints).req(),
        ],
        ..OpSchema::new("TreeEnsemble", 5)
    },
];
