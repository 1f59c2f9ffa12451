//! Unit tests of the driver: ordering, naming, errors, layout options.

use std::collections::{BTreeMap, HashSet};

use ir::{DType, Tensor};

use super::*;
use crate::graph::TfPort;

#[test]
fn every_op_has_one_rule() {
    let rules = rules();
    let mut seen = HashSet::new();
    for r in &rules {
        assert!(seen.insert(r.tf), "{} has two rules", r.tf);
        assert!(r.inputs.max.is_none_or(|m| m >= r.inputs.min), "{}", r.tf);
    }
    let md = ops_markdown();
    assert!(md.contains("| Erfc | 1 | Erf + Sub |"), "{md}");
    assert_eq!(md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| TensorFlow")).count(), rules.len());
}
