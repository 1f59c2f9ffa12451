//! The op schema in `ir` and the evaluator cover the same canonical ops:
//! every op the evaluator runs has a schema, and every schema describes an
//! op the evaluator runs, except random generators, which the evaluator
//! leaves out on purpose (their results cannot be reproduced).

use std::collections::BTreeSet;

use ir::schema::{self, Class};

#[test]
fn schema_covers_exactly_the_evaluator_ops() {
    let eval: BTreeSet<(String, String)> =
        eval::registry().ops().into_iter().map(|(d, o)| (d.to_string(), o.to_string())).collect();
    let schema: BTreeSet<(String, String)> = schema::all()
        .into_iter()
        .filter(|s| !s.is(Class::RANDOM))
        .map(|s| (s.domain.to_string(), s.op.to_string()))
        .collect();
    let missing: Vec<_> = eval.difference(&schema).collect();
    let extra: Vec<_> = schema.difference(&eval).collect();
    assert!(missing.is_empty(), "ops the evaluator runs without a schema: {missing:?}");
    assert!(extra.is_empty(), "schemas of ops the evaluator does not run: {extra:?}");
    for s in schema::all().into_iter().filter(|s| s.is(Class::RANDOM)) {
        assert!(eval::registry().get(s.domain, s.op).is_none(), "{} is random but evaluated", s.op);
    }
}
