//! Type conversion, random generators, signal processing, string ops,
//! losses and the newer fused ops (SwiGLU).
//!
//! Opset history a converter must know: Cast's `to` is a dtype code since 6
//! (`saturate` at 19, `round_mode` at 24); CastLike exists since 15; DFT's
//! `axis` moved from an attribute (default 1) to an optional input (default
//! -2) at 20; BitCast and CumProd are 26, SwiGLU 28.

use super::Class as C;
use super::{
    AttrSpec, BOOL, Change, DTypeRule, F32, I64, OpSchema, Role, SAME, Slot, attr, cls, data, float, int, slot, string,
};
use crate::{AttrKind, DType};

const IN: &[Slot] = &[data("input")];
const OUT: &[Slot] = &[data("output")];
const WINDOW_IN: &[Slot] = &[slot("size", Role::Param)];
const WINDOW_ATTRS: &[AttrSpec] = &[int("output_datatype", 1), int("periodic", 1)];
const WINDOW_DTYPE: &[DTypeRule] = &[DTypeRule::Attr("output_datatype", &F32)];
const RANDOM_DTYPE: &[DTypeRule] = &[DTypeRule::Attr("dtype", &F32)];
const LIKE_DTYPE: &[DTypeRule] = &[DTypeRule::Attr("dtype", &SAME)];

/// A window function of `size` samples.
const fn window(op: &'static str) -> OpSchema {
    OpSchema { inputs: WINDOW_IN, outputs: OUT, attrs: WINDOW_ATTRS, dtypes: WINDOW_DTYPE, ..OpSchema::new(op, 17) }
}

/// RandomNormal or RandomUniform: shape from an attribute.
const fn random(op: &'static str, attrs: &'static [AttrSpec]) -> OpSchema {
    OpSchema { outputs: OUT, attrs, dtypes: RANDOM_DTYPE, class: C::RANDOM, ..OpSchema::new(op, 1) }
}

/// RandomNormalLike or RandomUniformLike: shape from the input.
const fn random_like(op: &'static str, attrs: &'static [AttrSpec]) -> OpSchema {
    OpSchema { inputs: IN, outputs: OUT, attrs, dtypes: LIKE_DTYPE, class: C::RANDOM, ..OpSchema::new(op, 1) }
}

/// Miscellaneous ops.
pub(super) static OPS: &[OpSchema] = &[
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("to", AttrKind::Int).req(), int("saturate", 1).since(19), string("round_mode", "up").since(24)],
        dtypes: &[DTypeRule::Attr("to", &SAME)],
        changes: &[
            Change { opset: 19, what: "8-bit floats and saturate" },
            Change { opset: 24, what: "float8e8m0 and round_mode" },
        ],
        class: cls(&[C::UNARY, C::LAYOUT_AGNOSTIC]),
        ..OpSchema::new("Cast", 6)
    },
    OpSchema {
        inputs: &[data("input"), data("target_type")],
        outputs: &[data("output")],
        attrs: &[int("saturate", 1).since(19)],
        dtypes: &[DTypeRule::Input(1)],
        class: C::LAYOUT_AGNOSTIC,
        ..OpSchema::new("CastLike", 15)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("to", AttrKind::Int).req()],
        dtypes: &[DTypeRule::Attr("to", &SAME)],
        ..OpSchema::new("BitCast", 26)
    },
    OpSchema {
        inputs: &[data("A"), data("B").opt()],
        outputs: &[data("Y")],
        attrs: &[float("alpha", 1.0)],
        ..OpSchema::new("SwiGLU", 28)
    },
    random(
        "RandomNormal",
        &[
            int("dtype", 1),
            float("mean", 0.0),
            float("scale", 1.0),
            attr("seed", AttrKind::Float),
            attr("shape", AttrKind::Ints).req(),
        ],
    ),
    random(
        "RandomUniform",
        &[
            int("dtype", 1),
            float("high", 1.0),
            float("low", 0.0),
            attr("seed", AttrKind::Float),
            attr("shape", AttrKind::Ints).req(),
        ],
    ),
    random_like(
        "RandomNormalLike",
        &[attr("dtype", AttrKind::Int), float("mean", 0.0), float("scale", 1.0), attr("seed", AttrKind::Float)],
    ),
    random_like(
        "RandomUniformLike",
        &[attr("dtype", AttrKind::Int), float("high", 1.0), float("low", 0.0), attr("seed", AttrKind::Float)],
    ),
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[int("dtype", 6), int("sample_size", 1), attr("seed", AttrKind::Float)],
        dtypes: &[DTypeRule::Attr("dtype", &DTypeRule::Fixed(DType::I32))],
        class: C::RANDOM,
        ..OpSchema::new("Multinomial", 7)
    },
    OpSchema {
        inputs: &[data("input")],
        outputs: &[data("output")],
        attrs: &[attr("dtype", AttrKind::Int), attr("seed", AttrKind::Float)],
        dtypes: &[DTypeRule::Attr("dtype", &SAME)],
        class: C::RANDOM,
        ..OpSchema::new("Bernoulli", 15)
    },
    OpSchema {
        inputs: &[data("input"), slot("dft_length", Role::Param).opt(), slot("axis", Role::Axes).opt().since(20)],
        outputs: &[data("output")],
        attrs: &[int("axis", 1).until(20), int("inverse", 0), int("onesided", 0)],
        changes: &[Change {
            opset: 20,
            what: "axis moved from an attribute (default 1) to an optional input (default -2)",
        }],
        ..OpSchema::new("DFT", 17)
    },
    OpSchema {
        inputs: &[
            data("signal"),
            slot("frame_step", Role::Param),
            slot("window", Role::Param).opt(),
            slot("frame_length", Role::Param).opt(),
        ],
        outputs: &[data("output")],
        attrs: &[int("onesided", 1)],
        ..OpSchema::new("STFT", 17)
    },
    window("HannWindow"),
    window("HammingWindow"),
    window("BlackmanWindow"),
    OpSchema {
        inputs: &[
            slot("num_mel_bins", Role::Param),
            slot("dft_length", Role::Param),
            slot("sample_rate", Role::Param),
            slot("lower_edge_hertz", Role::Param),
            slot("upper_edge_hertz", Role::Param),
        ],
        outputs: &[data("output")],
        attrs: &[int("output_datatype", 1)],
        dtypes: &[DTypeRule::Attr("output_datatype", &F32)],
        ..OpSchema::new("MelWeightMatrix", 17)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[
            string("case_change_action", "NONE"),
            int("is_case_sensitive", 0),
            attr("locale", AttrKind::String),
            attr("stopwords", AttrKind::Strings),
        ],
        ..OpSchema::new("StringNormalizer", 10)
    },
    OpSchema {
        inputs: &[data("X"), data("Y")],
        outputs: &[data("Z")],
        class: C::BROADCAST,
        ..OpSchema::new("StringConcat", 20)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[data("Y"), data("Z")],
        attrs: &[attr("delimiter", AttrKind::String), attr("maxsplit", AttrKind::Int)],
        dtypes: &[SAME, I64],
        ..OpSchema::new("StringSplit", 20)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[attr("pattern", AttrKind::String)],
        dtypes: &[BOOL],
        ..OpSchema::new("RegexFullMatch", 20)
    },
    OpSchema {
        inputs: &[data("X")],
        outputs: &[data("Y")],
        attrs: &[
            attr("max_gram_length", AttrKind::Int).req(),
            attr("max_skip_count", AttrKind::Int).req(),
            attr("min_gram_length", AttrKind::Int).req(),
            attr("mode", AttrKind::String).req(),
            attr("ngram_counts", AttrKind::Ints).req(),
            attr("ngram_indexes", AttrKind::Ints).req(),
            attr("pool_int64s", AttrKind::Ints),
            attr("pool_strings", AttrKind::Strings),
            attr("weights", AttrKind::Floats),
        ],
        dtypes: &[F32],
        ..OpSchema::new("TfIdfVectorizer", 9)
    },
    OpSchema {
        inputs: &[data("input"), slot("target", Role::Indices), slot("weight", Role::Weight).opt()],
        outputs: &[data("loss")],
        attrs: &[attr("ignore_index", AttrKind::Int), string("reduction", "mean")],
        ..OpSchema::new("NegativeLogLikelihoodLoss", 12)
    },
    OpSchema {
        inputs: &[data("scores"), slot("labels", Role::Indices), slot("weights", Role::Weight).opt()],
        outputs: &[data("output"), data("log_prob").opt()],
        attrs: &[attr("ignore_index", AttrKind::Int), string("reduction", "mean")],
        dtypes: &[SAME, SAME],
        ..OpSchema::new("SoftmaxCrossEntropyLoss", 12)
    },
];
