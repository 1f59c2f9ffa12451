//! Output-argument layout of TensorFlow ops: how a FunctionDef reference
//! `node:out_arg:k` becomes a flat output index.
//!
//! Most ops have one output argument (possibly a list), where the flat index
//! is just `k` whatever the argument is called; only ops with several
//! output arguments, or whose argument names the parser must check, are
//! listed. This is the one table of these facts in the crate.

use crate::graph::TfNode;

/// How many tensors an output argument holds.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// One tensor.
    One,
    /// As many as the integer attribute says (`num_split`, `num`).
    Number(&'static str),
    /// As many as the type-list attribute has types (`T`, `Tout`).
    Types(&'static str),
}

use Count::{Number, One, Types};

/// Ops whose output arguments are not one unnamed-in-practice list.
const LAYOUTS: &[(&str, &[(&str, Count)])] = &[
    (
        "FusedBatchNorm",
        &[("y", One), ("batch_mean", One), ("batch_variance", One), ("reserve_space_1", One), ("reserve_space_2", One)],
    ),
    (
        "FusedBatchNormV2",
        &[("y", One), ("batch_mean", One), ("batch_variance", One), ("reserve_space_1", One), ("reserve_space_2", One)],
    ),
    (
        "FusedBatchNormV3",
        &[
            ("y", One),
            ("batch_mean", One),
            ("batch_variance", One),
            ("reserve_space_1", One),
            ("reserve_space_2", One),
            ("reserve_space_3", One),
        ],
    ),
    ("Split", &[("output", Number("num_split"))]),
    ("SplitV", &[("output", Number("num_split"))]),
    ("Unpack", &[("output", Number("num"))]),
    ("IdentityN", &[("output", Types("T"))]),
    ("ShapeN", &[("output", Number("N"))]),
    ("StatefulPartitionedCall", &[("output", Types("Tout"))]),
    ("PartitionedCall", &[("output", Types("Tout"))]),
    ("If", &[("output", Types("Tout"))]),
    ("StatelessIf", &[("output", Types("Tout"))]),
    ("While", &[("output", Types("T"))]),
    ("StatelessWhile", &[("output", Types("T"))]),
    ("TopK", &[("values", One), ("indices", One)]),
    ("TopKV2", &[("values", One), ("indices", One)]),
    ("Unique", &[("y", One), ("idx", One)]),
    ("UniqueV2", &[("y", One), ("idx", One)]),
    ("UniqueWithCounts", &[("y", One), ("idx", One), ("count", One)]),
    ("MaxPoolWithArgmax", &[("output", One), ("argmax", One)]),
    ("NonMaxSuppressionV4", &[("selected_indices", One), ("valid_outputs", One)]),
    ("NonMaxSuppressionV5", &[("selected_indices", One), ("selected_scores", One), ("valid_outputs", One)]),
    ("Switch", &[("output_false", One), ("output_true", One)]),
    ("Merge", &[("output", One), ("value_index", One)]),
    ("BroadcastGradientArgs", &[("r0", One), ("r1", One)]),
    ("QuantizeV2", &[("output", One), ("output_min", One), ("output_max", One)]),
    ("Svd", &[("s", One), ("u", One), ("v", One)]),
    ("Qr", &[("q", One), ("r", One)]),
    ("SelfAdjointEigV2", &[("e", One), ("v", One)]),
    ("LogMatrixDeterminant", &[("sign", One), ("log_abs_determinant", One)]),
    ("DynamicPartition", &[("outputs", Number("num_partitions"))]),
];

/// The flat index of `node`'s output `arg:k`, or a message saying why not.
pub fn flat_index(node: &TfNode, arg: &str, k: usize) -> Result<usize, String> {
    let Some((_, args)) = LAYOUTS.iter().find(|(op, _)| *op == node.op) else {
        // One output argument: its name does not matter.
        return Ok(k);
    };
    let mut base = 0usize;
    for &(name, count) in *args {
        let n = size(node, count)?;
        if name == arg {
            if k >= n {
                return Err(format!("{}:{arg}:{k} is past the {n} tensor(s) of that output", node.name));
            }
            return base.checked_add(k).ok_or_else(|| format!("{}:{arg}:{k} is out of range", node.name));
        }
        base = base.saturating_add(n);
    }
    Err(format!("{} has no output argument '{arg}'", node.op))
}

fn size(node: &TfNode, count: Count) -> Result<usize, String> {
    match count {
        One => Ok(1),
        Number(attr) => node
            .attr(attr)
            .and_then(|a| a.as_int())
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("node '{}' ({}) lacks integer attribute '{attr}'", node.name, node.op)),
        Types(attr) => match node.attr(attr) {
            Some(crate::TfAttr::List(items)) => Ok(items.len()),
            _ => Err(format!("node '{}' ({}) lacks type-list attribute '{attr}'", node.name, node.op)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TfAttr;

    fn node(op: &str, attrs: &[(&str, TfAttr)]) -> TfNode {
        TfNode {
            name: "n".into(),
            op: op.into(),
            inputs: vec![],
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    #[test]
    fn layouts() {
        let bn = node("FusedBatchNormV3", &[]);
        assert_eq!(flat_index(&bn, "y", 0), Ok(0));
        assert_eq!(flat_index(&bn, "reserve_space_3", 0), Ok(5));
        assert!(flat_index(&bn, "bogus", 0).unwrap_err().contains("no output argument 'bogus'"));
        let split = node("Split", &[("num_split", TfAttr::Int(3))]);
        assert_eq!(flat_index(&split, "output", 2), Ok(2));
        assert!(flat_index(&split, "output", 3).is_err());
        assert!(flat_index(&node("Split", &[]), "output", 0).unwrap_err().contains("num_split"));
        let topk = node("TopKV2", &[]);
        assert_eq!(flat_index(&topk, "indices", 0), Ok(1));
        let idn = node("IdentityN", &[("T", TfAttr::List(vec![TfAttr::Type(1), TfAttr::Type(3)]))]);
        assert_eq!(flat_index(&idn, "output", 1), Ok(1));
        assert_eq!(flat_index(&node("Conv2D", &[]), "output", 0), Ok(0));
    }
}
