//! Graphs and the utilities every pass needs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use indexmap::{IndexMap, IndexSet};

use crate::{Error, Node, Result, SparseTensor, Tensor, ValueInfo, ValueType};

/// A dataflow graph: inputs, initializers, nodes in topological order, outputs.
///
/// Values are named; each name is defined exactly once (by a graph input, an
/// initializer or a node output). A subgraph (the body of `If`/`Loop`/`Scan`)
/// may read values of the enclosing graphs by name: such reads are the
/// node's *captures* and count as uses everywhere below.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Graph name.
    pub name: String,
    /// Inputs fed at run time. A name that is also an initializer is an
    /// input with a default value (old ONNX style).
    pub inputs: Vec<ValueInfo>,
    /// Outputs.
    pub outputs: Vec<ValueInfo>,
    /// Constant tensors (weights), in file order.
    pub initializers: IndexMap<String, Tensor>,
    /// Sparse constant tensors.
    pub sparse_initializers: IndexMap<String, SparseTensor>,
    /// Known types of intermediate values.
    pub value_info: Vec<ValueInfo>,
    /// Nodes, in topological order.
    pub nodes: Vec<Node>,
    /// Free-form documentation.
    pub doc: String,
}

/// A place where a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Use {
    /// Input `slot` of node `node`.
    Input {
        /// Node index.
        node: usize,
        /// Input index.
        slot: usize,
    },
    /// Read by a subgraph of node `node` from the enclosing scope.
    Captured {
        /// Node index.
        node: usize,
    },
    /// Graph output `0`.
    Output(usize),
}

impl Graph {
    /// Names defined in this graph (inputs, initializers, node outputs), not in subgraphs.
    pub fn defined_values(&self) -> IndexSet<&str> {
        let mut s: IndexSet<&str> = self.inputs.iter().map(|v| v.name.as_str()).collect();
        s.extend(self.initializers.keys().map(String::as_str));
        s.extend(self.sparse_initializers.keys().map(String::as_str));
        for n in &self.nodes {
            s.extend(n.present_outputs());
        }
        s
    }

    /// Values read by this graph (or its subgraphs) that it does not define:
    /// what it captures from enclosing scopes.
    pub fn captures(&self) -> IndexSet<String> {
        let defined = self.defined_values();
        let mut free = IndexSet::new();
        for n in &self.nodes {
            for i in n.present_inputs() {
                if !defined.contains(i) {
                    free.insert(i.to_string());
                }
            }
            for c in node_captures(n) {
                if !defined.contains(c.as_str()) {
                    free.insert(c);
                }
            }
        }
        for o in &self.outputs {
            if !defined.contains(o.name.as_str()) {
                free.insert(o.name.clone());
            }
        }
        free
    }

    /// Index of the node producing each value.
    pub fn producers(&self) -> HashMap<&str, usize> {
        let mut m = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for o in n.present_outputs() {
                m.insert(o, i);
            }
        }
        m
    }

    /// Every use of every value, keyed by value name.
    pub fn uses(&self) -> HashMap<String, Vec<Use>> {
        let mut m: HashMap<String, Vec<Use>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (slot, v) in n.inputs.iter().enumerate() {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    m.entry(v.to_string()).or_default().push(Use::Input { node: i, slot });
                }
            }
            for c in node_captures(n) {
                m.entry(c).or_default().push(Use::Captured { node: i });
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            m.entry(o.name.clone()).or_default().push(Use::Output(i));
        }
        m
    }

    /// The uses of one value.
    pub fn consumers(&self, value: &str) -> Vec<Use> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (slot, v) in n.inputs.iter().enumerate() {
                if v.as_deref() == Some(value) {
                    out.push(Use::Input { node: i, slot });
                }
            }
            if n.subgraphs().any(|g| g.captures().contains(value)) {
                out.push(Use::Captured { node: i });
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            if o.name == value {
                out.push(Use::Output(i));
            }
        }
        out
    }

    /// Makes every node input (and every capture in subgraphs) that reads
    /// `old` read `new` instead. Graph outputs are left alone because they are
    /// the model's interface; use [`Graph::rename_value`] to rename those.
    /// Returns the number of reads changed.
    pub fn replace_uses(&mut self, old: &str, new: &str) -> usize {
        let mut count = 0;
        for n in &mut self.nodes {
            count += replace_in_node(n, old, new);
        }
        count
    }

    /// Renames a value everywhere: its definition, its uses, graph outputs and value_info.
    pub fn rename_value(&mut self, old: &str, new: &str) {
        for v in self.inputs.iter_mut().chain(&mut self.outputs).chain(&mut self.value_info) {
            if v.name == old {
                v.name = new.to_string();
            }
        }
        if let Some(i) = self.initializers.get_index_of(old) {
            let (_, t) = self.initializers.swap_remove_index(i).expect("index just found");
            self.initializers.insert(new.to_string(), t);
            let last = self.initializers.len() - 1;
            self.initializers.move_index(last, i);
        }
        for n in &mut self.nodes {
            for o in &mut n.outputs {
                if o == old {
                    *o = new.to_string();
                }
            }
        }
        self.replace_uses(old, new);
    }

    /// Removes nodes none of whose outputs reach a graph output (directly or
    /// through subgraph captures). Returns how many were removed.
    pub fn remove_dead_nodes(&mut self) -> usize {
        let producers: HashMap<String, usize> = self.producers().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<String> = self.outputs.iter().map(|o| o.name.clone()).collect();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(v) = stack.pop() {
            if !seen.insert(v.clone()) {
                continue;
            }
            if let Some(&i) = producers.get(&v)
                && !live[i]
            {
                live[i] = true;
                let n = &self.nodes[i];
                stack.extend(n.present_inputs().map(str::to_string));
                stack.extend(node_captures(n));
            }
        }
        let before = self.nodes.len();
        let mut it = live.into_iter();
        self.nodes.retain(|_| it.next().unwrap_or(true));
        before - self.nodes.len()
    }

    /// Whether this graph or one of its subgraphs holds a sparse initializer.
    pub fn has_sparse_initializers(&self) -> bool {
        !self.sparse_initializers.is_empty()
            || self.nodes.iter().any(|n| n.subgraphs().any(Graph::has_sparse_initializers))
    }

    /// Moves every sparse initializer of this graph and its subgraphs into
    /// the dense initializers, for formats with no sparse constants (a
    /// weight stored sparse, as `--prune-sparse` writes ONNX, can only be
    /// dense there). Only the densified tensors are new memory.
    pub fn densify_sparse_initializers(&mut self) -> Result<()> {
        for (name, sparse) in std::mem::take(&mut self.sparse_initializers) {
            let dense = sparse.to_dense().map_err(|e| Error::invalid(format!("sparse initializer '{name}': {e}")))?;
            self.initializers.insert(name, dense);
        }
        for node in &mut self.nodes {
            for sub in node.subgraphs_mut() {
                sub.densify_sparse_initializers()?;
            }
        }
        Ok(())
    }

    /// Removes initializers that nothing reads (graph inputs with defaults are kept).
    /// Returns how many were removed.
    pub fn remove_unused_initializers(&mut self) -> usize {
        let used = self.uses();
        let inputs: HashSet<&str> = self.inputs.iter().map(|v| v.name.as_str()).collect();
        let before = self.initializers.len() + self.sparse_initializers.len();
        let keep = |k: &String| used.contains_key(k) || inputs.contains(k.as_str());
        self.initializers.retain(|k, _| keep(k));
        self.sparse_initializers.retain(|k, _| keep(k));
        before - self.initializers.len() - self.sparse_initializers.len()
    }

    /// Sorts nodes topologically, keeping the existing order wherever the
    /// dependencies allow. Values defined outside the graph's nodes (inputs,
    /// initializers, enclosing scopes) are available from the start.
    pub fn topo_sort(&mut self) -> Result<()> {
        let n = self.nodes.len();
        let producers: HashMap<&str, usize> = self.producers();
        let mut indegree = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, node) in self.nodes.iter().enumerate() {
            let reads: IndexSet<String> =
                node.present_inputs().map(str::to_string).chain(node_captures(node)).collect();
            let deps: IndexSet<usize> = reads.iter().filter_map(|v| producers.get(v.as_str()).copied()).collect();
            for d in deps {
                if d == i {
                    indegree[i] += 1; // a node reading its own output is a cycle of one
                    continue;
                }
                indegree[i] += 1;
                dependents[d].push(i);
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            for &j in &dependents[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(Reverse(j));
                }
            }
        }
        if order.len() != n {
            let placed: HashSet<usize> = order.iter().copied().collect();
            let nodes = (0..n).filter(|i| !placed.contains(i)).map(|i| self.node_label(i)).collect();
            return Err(Error::Cycle { nodes });
        }
        if order.iter().enumerate().any(|(k, &i)| k != i) {
            let mut old: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
            self.nodes = order.into_iter().map(|i| old[i].take().expect("each index once")).collect();
        }
        Ok(())
    }

    fn node_label(&self, i: usize) -> String {
        let n = &self.nodes[i];
        if n.name.is_empty() { format!("#{i} ({})", n.op) } else { n.name.clone() }
    }

    /// Checks that every value is defined once, every read is of a value
    /// defined earlier (or in an enclosing scope), and every output exists.
    /// Recurses into subgraphs.
    pub fn validate(&self) -> Result<()> {
        self.validate_scoped(&HashSet::new())
    }

    fn validate_scoped(&self, outer: &HashSet<String>) -> Result<()> {
        let mut defined: HashSet<String> = HashSet::new();
        let define = |name: &str, defined: &mut HashSet<String>| -> Result<()> {
            if !defined.insert(name.to_string()) {
                return Err(Error::DuplicateValue(name.to_string()));
            }
            Ok(())
        };
        // An input that is also an initializer is one value with a default.
        for v in &self.inputs {
            define(&v.name, &mut defined)?;
        }
        let input_names: HashSet<&str> = self.inputs.iter().map(|v| v.name.as_str()).collect();
        for k in self.initializers.keys().chain(self.sparse_initializers.keys()) {
            if !input_names.contains(k.as_str()) {
                define(k, &mut defined)?;
            }
        }
        let later: HashSet<&str> = self.nodes.iter().flat_map(Node::present_outputs).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            for v in n.present_inputs() {
                if !defined.contains(v) && !outer.contains(v) {
                    if later.contains(v) {
                        return Err(Error::invalid(format!(
                            "node '{}' reads '{v}' before it is produced (nodes are not in topological order)",
                            self.node_label(i)
                        )));
                    }
                    return Err(Error::DanglingValue { node: self.node_label(i), value: v.to_string() });
                }
            }
            if n.subgraphs().next().is_some() {
                let scope: HashSet<String> = outer.union(&defined).cloned().collect();
                for g in n.subgraphs() {
                    g.validate_scoped(&scope)
                        .map_err(|e| e.context(format!("subgraph '{}' of node '{}'", g.name, self.node_label(i))))?;
                }
            }
            for o in n.present_outputs() {
                define(o, &mut defined)?;
            }
        }
        for o in &self.outputs {
            if !defined.contains(&o.name) && !outer.contains(&o.name) {
                return Err(Error::UndefinedOutput(o.name.clone()));
            }
        }
        Ok(())
    }

    /// Gives every node (here and in subgraphs) a non-empty name unique in
    /// the whole model, keeping existing unique names. Returns how many changed.
    pub fn uniquify_names(&mut self) -> usize {
        let mut taken = HashSet::new();
        let mut changed = 0;
        uniquify_nodes(self, &mut taken, &mut changed);
        changed
    }

    /// The declared type of a value: from inputs, outputs, value_info or initializers.
    pub fn value_type(&self, name: &str) -> Option<ValueType> {
        if let Some(v) = self.inputs.iter().chain(&self.outputs).chain(&self.value_info).find(|v| v.name == name) {
            return Some(v.ty.clone());
        }
        self.initializers.get(name).map(|t| {
            ValueType::tensor(t.dtype(), crate::Shape::fixed(&t.shape().iter().map(|&d| d as u64).collect::<Vec<_>>()))
        })
    }

    /// Visits this graph and every nested subgraph, depth first.
    pub fn walk(&self, f: &mut dyn FnMut(&Graph)) {
        f(self);
        for n in &self.nodes {
            for g in n.subgraphs() {
                g.walk(f);
            }
        }
    }

    /// Visits this graph and every nested subgraph mutably, depth first.
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Graph)) {
        f(self);
        for n in &mut self.nodes {
            for g in n.subgraphs_mut() {
                g.walk_mut(f);
            }
        }
    }
}

/// What a node's subgraphs read from the enclosing scopes.
fn node_captures(n: &Node) -> IndexSet<String> {
    let mut s = IndexSet::new();
    for g in n.subgraphs() {
        s.extend(g.captures());
    }
    s
}

fn replace_in_node(n: &mut Node, old: &str, new: &str) -> usize {
    let mut count = 0;
    for v in n.inputs.iter_mut().flatten() {
        if v == old {
            *v = new.to_string();
            count += 1;
        }
    }
    for g in n.subgraphs_mut() {
        count += replace_captured(g, old, new);
    }
    count
}

fn replace_captured(g: &mut Graph, old: &str, new: &str) -> usize {
    if g.defined_values().contains(old) {
        return 0; // shadowed: the subgraph's own value of that name
    }
    let mut count = 0;
    for n in &mut g.nodes {
        count += replace_in_node(n, old, new);
    }
    for o in &mut g.outputs {
        if o.name == old {
            o.name = new.to_string();
            count += 1;
        }
    }
    count
}

fn uniquify_nodes(g: &mut Graph, taken: &mut HashSet<String>, changed: &mut usize) {
    for n in &mut g.nodes {
        if n.name.is_empty() || taken.contains(&n.name) {
            let base = if n.name.is_empty() { n.op.clone() } else { n.name.clone() };
            let mut k = taken.len();
            let mut candidate = format!("{base}_{k}");
            while taken.contains(&candidate) {
                k += 1;
                candidate = format!("{base}_{k}");
            }
            n.name = candidate;
            *changed += 1;
        }
        taken.insert(n.name.clone());
        for sg in n.subgraphs_mut() {
            uniquify_nodes(sg, taken, changed);
        }
    }
}

/// Makes fresh names that collide with no value or node of a graph (or its subgraphs).
///
/// Every name it hands out or is told about stays taken, so a later literal
/// name can never equal an earlier generated one: `fresh("a")`, `fresh("a")`,
/// `fresh("a_1")` give `a`, `a_1`, `a_1_1`.
#[derive(Debug, Default, Clone)]
pub struct NameGen {
    taken: HashSet<String>,
    /// The next suffix to try per base, so `n` requests for one base cost
    /// `O(n)` rather than `O(n²)` (files can repeat a name many times).
    next: HashMap<String, usize>,
}

impl NameGen {
    /// Collects every name used in `graph`, recursively.
    pub fn for_graph(graph: &Graph) -> Self {
        let mut taken = HashSet::new();
        graph.walk(&mut |g| {
            taken.extend(g.defined_values().into_iter().map(str::to_string));
            taken.extend(g.outputs.iter().map(|o| o.name.clone()));
            for n in &g.nodes {
                taken.insert(n.name.clone());
            }
        });
        NameGen { taken, next: HashMap::new() }
    }

    /// A name starting with `base` that is not yet taken; it is then taken.
    pub fn fresh(&mut self, base: &str) -> String {
        if self.taken.insert(base.to_string()) {
            return base.to_string();
        }
        let k = self.next.entry(base.to_string()).or_insert(1);
        loop {
            let c = format!("{base}_{k}");
            *k += 1;
            if self.taken.insert(c.clone()) {
                return c;
            }
        }
    }

    /// Marks `name` as taken; returns whether it was free before.
    pub fn take(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_string())
    }

    /// Whether `name` is taken.
    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    /// Takes every name `other` has taken (a subgraph built with a copy of
    /// this generator hands its names back this way).
    pub fn merge(&mut self, other: &NameGen) {
        self.taken.extend(other.taken.iter().cloned());
        for (base, &k) in &other.next {
            let mine = self.next.entry(base.clone()).or_insert(k);
            *mine = (*mine).max(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attribute, DType, Shape};

    fn vi(name: &str) -> ValueInfo {
        ValueInfo::tensor(name, DType::F32, Shape::fixed(&[2]))
    }

    fn chain() -> Graph {
        Graph {
            inputs: vec![vi("x")],
            outputs: vec![vi("z")],
            initializers: [("w".to_string(), Tensor::from_vec(vec![2], vec![1f32, 2.]).unwrap())].into_iter().collect(),
            nodes: vec![
                Node::new("Add", ["x", "w"], ["y"]).named("add"),
                Node::new("Relu", ["y"], ["z"]).named("relu"),
                Node::new("Neg", ["y"], ["unused"]).named("dead"),
            ],
            ..Graph::default()
        }
    }

    #[test]
    fn consumers_and_dead_nodes() {
        let mut g = chain();
        assert_eq!(g.consumers("y"), vec![Use::Input { node: 1, slot: 0 }, Use::Input { node: 2, slot: 0 }]);
        assert_eq!(g.consumers("z"), vec![Use::Output(0)]);
        assert_eq!(g.remove_dead_nodes(), 1);
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.remove_unused_initializers(), 0);
        g.nodes[0].inputs[1] = Some("x".into());
        assert_eq!(g.remove_unused_initializers(), 1);
        g.validate().unwrap();
    }

    #[test]
    fn topo_sort_reorders_and_reports_cycles() {
        let mut g = chain();
        g.nodes.reverse();
        assert!(g.validate().unwrap_err().to_string().contains("not in topological order"));
        g.topo_sort().unwrap();
        // Ties keep the original order: `dead` came before `relu`.
        assert_eq!(g.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["add", "dead", "relu"]);
        g.validate().unwrap();

        g.nodes[0].inputs[0] = Some("z".into());
        let e = g.topo_sort().unwrap_err();
        assert_eq!(e.to_string(), "graph has a cycle through node(s): add, dead, relu");
    }

    #[test]
    fn dangling_and_duplicates_are_named() {
        let mut g = chain();
        g.nodes[1].inputs[0] = Some("nope".into());
        assert_eq!(
            g.validate().unwrap_err().to_string(),
            "node 'relu' reads value 'nope', which no node, graph input or initializer defines"
        );
        let mut g = chain();
        g.nodes[2].outputs[0] = "y".into();
        assert_eq!(g.validate().unwrap_err().to_string(), "value 'y' is defined more than once");
        let mut g = chain();
        g.outputs[0].name = "q".into();
        assert_eq!(
            g.validate().unwrap_err().to_string(),
            "graph output 'q' is not produced by any node, input or initializer"
        );
    }

    #[test]
    fn captures_count_as_uses_and_respect_shadowing() {
        let body =
            Graph { outputs: vec![vi("o")], nodes: vec![Node::new("Add", ["y", "w"], ["o"])], ..Graph::default() };
        let mut g = chain();
        g.nodes.push(
            Node::new("If", ["c"], ["r"])
                .named("if")
                .with_attr("then_branch", Attribute::Graph(Box::new(body.clone()))),
        );
        g.inputs.push(ValueInfo::tensor("c", DType::Bool, Shape::fixed(&[])));
        g.outputs.push(vi("r"));
        assert!(g.consumers("y").contains(&Use::Captured { node: 3 }));
        g.validate().unwrap();
        assert_eq!(g.replace_uses("y", "x"), 3);
        let sub = g.nodes[3].subgraphs().next().unwrap();
        assert_eq!(sub.nodes[0].input(0), Some("x"));
        // Nothing reads y any more: its producer and the unused Neg go.
        assert_eq!(g.remove_dead_nodes(), 2);

        // A subgraph defining its own 'x' shadows the outer one.
        let mut shadow = body;
        shadow.inputs.push(vi("x"));
        shadow.nodes[0].inputs[0] = Some("x".into());
        let mut n =
            Node::new("Loop", Vec::<String>::new(), ["q"]).with_attr("body", Attribute::Graph(Box::new(shadow)));
        assert_eq!(replace_in_node(&mut n, "x", "zz"), 0);
    }

    #[test]
    fn rename_and_uniquify() {
        let mut g = chain();
        g.rename_value("w", "weight");
        assert_eq!(g.initializers.get_index(0).unwrap().0, "weight");
        assert_eq!(g.nodes[0].input(1), Some("weight"));
        g.rename_value("z", "out");
        assert_eq!(g.outputs[0].name, "out");
        g.validate().unwrap();
        g.nodes[1].name = "add".into();
        g.nodes[2].name.clear();
        assert_eq!(g.uniquify_names(), 2);
        let names: HashSet<_> = g.nodes.iter().map(|n| n.name.clone()).collect();
        assert_eq!(names.len(), 3);
        let mut names = NameGen::for_graph(&g);
        assert_eq!(names.fresh("x"), "x_1");
        assert_eq!(names.fresh("fresh"), "fresh");
    }

    #[test]
    fn name_gen_never_repeats_a_name() {
        let mut names = NameGen::default();
        // A generated `a_1` must not be handed out again for a literal `a_1`.
        assert_eq!(names.fresh("a"), "a");
        assert_eq!(names.fresh("a"), "a_1");
        assert_eq!(names.fresh("a_1"), "a_1_1");
        assert_eq!(names.fresh("a"), "a_2");
        // Names taken from outside are skipped.
        assert!(names.take("b_1"));
        assert!(!names.take("b_1"));
        assert_eq!(names.fresh("b"), "b");
        assert_eq!(names.fresh("b"), "b_2");
        assert!(names.is_taken("b_2") && !names.is_taken("c"));
        // A copy that went on (a subgraph) hands its names back.
        let mut body = names.clone();
        assert_eq!(body.fresh("a"), "a_3");
        names.merge(&body);
        assert!(names.is_taken("a_3"));
        assert_eq!(names.fresh("a"), "a_4");
        // Many requests for one base stay distinct (and linear, see `next`).
        let all: HashSet<String> = (0..2000).map(|_| names.fresh("x")).collect();
        assert_eq!(all.len(), 2000);
    }
}
