//! Moving transposes region by region.
//!
//! A transpose read by several nodes, or a node reading several transposes,
//! only pays off when all of them move together: `Relu` after a transpose
//! that also feeds a residual `Add` cannot move alone without leaving a
//! transpose behind. So, for one permutation `p`, the nodes that could take
//! it are grown into regions, starting from every transpose of `p` (the
//! entries) and following values that would carry `p` (the frontier), and
//! each connected region is counted as a whole: entries that disappear
//! against transposes needed at its exits (or cancelled there by the
//! inverse transposes waiting for them). Leaves that only cost are pruned
//! first. A region needing inverse transposes before an input is not
//! formed; the one-node moves afterwards handle those.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use ir::Use;

use super::{Mode, Move, Sink, Src, perm, rules};

/// Regions larger than this are moved whole or not at all (pruning is quadratic).
const PRUNE_LIMIT: usize = 4096;

impl Sink<'_> {
    /// Moves the regions of every permutation in the graph; returns the node moves.
    pub(super) fn sink_regions(&mut self) -> usize {
        let mut perms: Vec<Vec<usize>> = Vec::new();
        for i in 0..self.g.nodes.len() {
            if let Some(p) = self.transpose_perm(i)
                && !perm::is_identity(&p)
                && !perms.contains(&p)
            {
                perms.push(p);
            }
        }
        perms.iter().map(|p| self.sink_regions_of(p)).sum()
    }

    /// A transpose of `p` that a region can start from: live, not an inverse
    /// inserted here, and not reading another transpose (merged first).
    fn is_entry(&self, i: usize, p: &[usize]) -> bool {
        let n = &self.g.nodes[i];
        !self.inverses.contains(&i)
            && self.transpose_perm(i).is_some_and(|q| q == p)
            && n.input(0).is_some_and(|x| !self.made_by_transpose(x))
            && n.output(0).is_some_and(|y| self.is_used(y))
    }

    fn sink_regions_of(&mut self, p: &[usize]) -> usize {
        let members = self.grow(p);
        if members.is_empty() {
            return 0;
        }
        let mut moved = 0;
        for mut set in self.components(&members) {
            if set.len() <= PRUNE_LIMIT {
                self.prune(&mut set, &members);
            }
            if !set.is_empty() && self.cost(&set, &members) <= 0 {
                moved += self.replay(&set, &members, p);
            }
        }
        moved
    }

    /// Every node that can take `p` given that its other layout inputs come
    /// through transposes of `p`, from other such nodes, or from constants
    /// (each constant then read by members only).
    fn grow(&mut self, p: &[usize]) -> BTreeMap<usize, Move> {
        self.mode = Mode::Grow;
        self.frontier.clear();
        let mut queue: VecDeque<String> = VecDeque::new();
        for i in 0..self.g.nodes.len() {
            if self.is_entry(i, p)
                && let Some(y) = self.g.nodes[i].output(0)
            {
                self.frontier.insert(y.to_string());
                queue.push_back(y.to_string());
            }
        }
        let mut members: BTreeMap<usize, Move> = BTreeMap::new();
        while let Some(v) = queue.pop_front() {
            for n in self.readers(&v) {
                if members.contains_key(&n) || !self.joinable(n) {
                    continue;
                }
                // Nodes waiting for another input to join come back when it does.
                let Some(m) = rules::plan(self, n, p) else { continue };
                let carried: Vec<String> = m
                    .outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| q.as_deref() == Some(p))
                    .filter_map(|(j, _)| self.g.nodes[n].output(j).map(str::to_string))
                    .collect();
                // A transpose of `p` reading the result would be both an exit and
                // an entry (involutive permutations); one-node moves handle that.
                if carried
                    .iter()
                    .any(|o| self.readers(o).iter().any(|&r| self.transpose_perm(r).is_some_and(|q| q == p)))
                {
                    continue;
                }
                for o in carried {
                    self.frontier.insert(o.clone());
                    queue.push_back(o);
                }
                members.insert(n, m);
            }
        }
        self.mode = Mode::Local;
        self.frontier.clear();
        // A permuted constant must lose its old layout entirely.
        loop {
            let bad: Vec<usize> = members
                .iter()
                .filter(|(_, m)| {
                    m.inputs.iter().any(|(_, s)| matches!(s, Src::Constant(c, true) if !self.read_only_by(c, &members)))
                })
                .map(|(&n, _)| n)
                .collect();
            if bad.is_empty() {
                break;
            }
            for n in bad {
                drop_member(self, &mut members, n);
            }
        }
        members
    }

    /// Whether node `n` reads frontier values only where its layout follows them.
    fn joinable(&self, n: usize) -> bool {
        let node = &self.g.nodes[n];
        let Some(f) = rules::family(node) else { return false };
        node.inputs
            .iter()
            .enumerate()
            .all(|(slot, v)| !v.as_deref().is_some_and(|v| self.frontier.contains(v)) || rules::is_layout_slot(f, slot))
    }

    /// Whether every read of constant `c` is by a member.
    fn read_only_by(&self, c: &str, members: &BTreeMap<usize, Move>) -> bool {
        self.uses
            .get(c)
            .into_iter()
            .flatten()
            .all(|u| matches!(*u, Use::Input { node, .. } if members.contains_key(&node)))
    }

    /// The members split into sets that must move together: linked by the
    /// values between them, the entries they share, the constants they share.
    fn components(&self, members: &BTreeMap<usize, Move>) -> Vec<BTreeSet<usize>> {
        let mut parent: HashMap<usize, usize> = HashMap::new();
        fn find(parent: &mut HashMap<usize, usize>, x: usize) -> usize {
            let mut r = x;
            while let Some(&q) = parent.get(&r).filter(|&&q| q != r) {
                r = q;
            }
            parent.insert(x, r);
            r
        }
        fn union(parent: &mut HashMap<usize, usize>, a: usize, b: usize) {
            let (ra, rb) = (find(parent, a), find(parent, b));
            parent.insert(ra, rb);
        }
        let mut anchors: HashMap<&str, usize> = HashMap::new();
        for (&n, m) in members {
            find(&mut parent, n);
            for (_, s) in &m.inputs {
                match s {
                    Src::Through(k) => union(&mut parent, n, *k),
                    Src::Region(v) => {
                        if let Some(&k) = self.producers.get(v) {
                            union(&mut parent, n, k);
                        }
                    }
                    Src::Constant(c, true) => {
                        let a = *anchors.entry(c.as_str()).or_insert(n);
                        union(&mut parent, n, a);
                    }
                    _ => {}
                }
            }
        }
        let mut sets: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &n in members.keys() {
            let r = find(&mut parent, n);
            sets.entry(r).or_default().insert(n);
        }
        sets.into_values().collect()
    }

    /// The change in the transpose count if `set` moves: entries no longer
    /// read, transposes needed after outputs, and exit transposes cancelled.
    fn cost(&self, set: &BTreeSet<usize>, members: &BTreeMap<usize, Move>) -> i64 {
        let mut net = 0i64;
        let entries: BTreeSet<usize> = set
            .iter()
            .flat_map(|n| {
                members[n].inputs.iter().filter_map(|(_, s)| match s {
                    Src::Through(k) => Some(*k),
                    _ => None,
                })
            })
            .collect();
        for k in entries {
            let out = self.g.nodes[k].output(0).unwrap_or_default();
            let gone = self
                .uses
                .get(out)
                .into_iter()
                .flatten()
                .all(|u| matches!(*u, Use::Input { node, .. } if set.contains(&node)));
            net -= i64::from(gone);
        }
        for n in set {
            net += self.exit_cost(*n, &members[n], set);
        }
        net
    }

    /// Transposes needed after node `n`'s outputs (minus those cancelled) if it moves with `set`.
    fn exit_cost(&self, n: usize, m: &Move, set: &BTreeSet<usize>) -> i64 {
        let mut net = 0i64;
        for (j, q) in m.outputs.iter().enumerate() {
            let (Some(q), Some(o)) = (q, self.g.nodes[n].output(j)) else { continue };
            let mut stays = false;
            for u in self.uses.get(o).into_iter().flatten() {
                match *u {
                    Use::Input { node, .. } if set.contains(&node) => {}
                    Use::Input { node, .. } => match self.transpose_perm(node) {
                        Some(rp) => net -= i64::from(perm::is_identity(&perm::then(q, &rp))),
                        None => stays = true,
                    },
                    _ => stays = true,
                }
            }
            net += i64::from(stays);
        }
        net
    }

    /// Drops leaves of `set` (no member reads their outputs) whose exits cost
    /// more than they gain, while that lowers the count.
    fn prune(&self, set: &mut BTreeSet<usize>, members: &BTreeMap<usize, Move>) {
        let mut cost = self.cost(set, members);
        loop {
            let leaf = set.iter().copied().find(|&n| {
                let m = &members[&n];
                // Dropping a reader of a shared permuted constant would keep both copies.
                let shares = m.inputs.iter().any(|(_, s)| matches!(s, Src::Constant(_, true)));
                !shares && self.exit_cost(n, m, set) > 0 && !self.feeds(n, m, set) && {
                    let mut without = set.clone();
                    without.remove(&n);
                    self.cost(&without, members) < cost
                }
            });
            let Some(n) = leaf else { break };
            set.remove(&n);
            cost = self.cost(set, members);
        }
    }

    /// Whether another member of `set` reads an output of `n`.
    fn feeds(&self, n: usize, m: &Move, set: &BTreeSet<usize>) -> bool {
        m.outputs.iter().enumerate().any(|(j, _)| {
            self.g.nodes[n].output(j).is_some_and(|o| {
                self.uses
                    .get(o)
                    .into_iter()
                    .flatten()
                    .any(|u| matches!(*u, Use::Input { node, .. } if node != n && set.contains(&node)))
            })
        })
    }

    /// Moves the nodes of `set` in order, each planned again against the
    /// graph as the previous moves left it (its region inputs now come
    /// through their new transposes).
    fn replay(&mut self, set: &BTreeSet<usize>, members: &BTreeMap<usize, Move>, p: &[usize]) -> usize {
        self.mode = Mode::Replay;
        self.cleared = set
            .iter()
            .flat_map(|n| {
                members[n].inputs.iter().filter_map(|(_, s)| match s {
                    Src::Constant(c, true) => Some(c.clone()),
                    _ => None,
                })
            })
            .collect();
        let mut scratch = VecDeque::new();
        let mut moved = 0;
        for &n in set {
            let applied = match rules::plan(self, n, p) {
                Some(m) => self.apply(m, p, &mut scratch),
                None => false,
            };
            if !applied {
                tracing::debug!("transpose region stopped at {}", self.g.nodes[n].describe());
                break;
            }
            moved += 1;
        }
        self.mode = Mode::Local;
        self.cleared.clear();
        moved
    }
}

/// Removes `n` from `members`, and with it every member reading its outputs.
fn drop_member(s: &Sink<'_>, members: &mut BTreeMap<usize, Move>, n: usize) {
    if members.remove(&n).is_none() {
        return;
    }
    let outs: Vec<&str> = s.g.nodes[n].present_outputs().collect();
    let dependents: Vec<usize> = members
        .iter()
        .filter(|(_, m)| m.inputs.iter().any(|(_, src)| matches!(src, Src::Region(v) if outs.contains(&v.as_str()))))
        .map(|(&k, _)| k)
        .collect();
    for d in dependents {
        drop_member(s, members, d);
    }
}
