//! Common-subexpression elimination.

use std::collections::HashMap;

use ir::{Graph, Node};

use crate::{Counts, bypass, remove_flagged};

/// Op, domain and inputs: nodes equal in these are compared further.
type Key = (String, String, Vec<Option<String>>);

/// Whether two nodes certainly compute the same outputs from the same inputs.
fn same(a: &Node, b: &Node) -> bool {
    a.op == b.op
        && a.domain == b.domain
        && a.inputs == b.inputs
        && a.outputs.len() == b.outputs.len()
        && a.attrs == b.attrs
}

/// Makes the readers of a node's outputs read those of an identical earlier
/// node. Random ops (two draws differ) and nodes with subgraphs (bodies may
/// differ in what they capture) are never merged.
pub(crate) fn eliminate(g: &mut Graph, c: &mut Counts) {
    let mut dead = vec![false; g.nodes.len()];
    // Candidates by (op, domain, inputs); attributes are compared on a hit.
    let mut seen: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, gone) in dead.iter_mut().enumerate() {
        let n = &g.nodes[i];
        if crate::is_random(n) || n.subgraphs().next().is_some() || n.present_outputs().next().is_none() {
            continue;
        }
        let key = (n.op.clone(), n.domain.clone(), n.inputs.clone());
        let earlier = seen.get(&key).and_then(|v| v.iter().copied().find(|&j| same(&g.nodes[j], n)));
        let Some(j) = earlier else {
            seen.entry(key).or_default().push(i);
            continue;
        };
        // Every output the later node produces must have a counterpart to read.
        let pairs: Vec<(String, String)> = n
            .outputs
            .iter()
            .zip(&g.nodes[j].outputs)
            .filter(|(o, _)| !o.is_empty())
            .map(|(o, e)| (o.clone(), e.clone()))
            .collect();
        if pairs.iter().any(|(_, e)| e.is_empty()) {
            continue;
        }
        // A graph output cannot be redirected (it would need renaming the earlier value).
        if pairs.iter().any(|(o, _)| g.outputs.iter().any(|v| &v.name == o)) {
            continue;
        }
        for (o, e) in &pairs {
            bypass(g, o, e);
        }
        *gone = true;
        c.cse_merged += 1;
    }
    remove_flagged(g, &dead);
}
