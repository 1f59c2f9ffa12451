//! A layered (Sugiyama) layout of a directed graph of boxes, top to bottom.
//!
//! The steps are the classic ones: layers by longest path from the sources
//! (sources that are not pinned to the top sink to just above their first
//! reader; pinned-bottom vertices share one last layer), a dummy vertex on
//! every layer an edge skips (the edges leaving one port share theirs: one
//! lane per value, branching off at each reader), crossing reduction by barycenter sweeps (a
//! fixed number, the best order kept), and x coordinates by weighted
//! isotonic regression per layer (pool-adjacent-violators under the
//! minimum-separation constraints), swept up and down: each vertex moves
//! toward its neighbours as far as the boxes beside it allow. Edges between
//! two dummies weigh most, so a long edge runs straight down one lane; edges
//! between two boxes weigh more than an edge's ends, and a lane pulls a box
//! hardly at all (the box pulls the lane), so chains of ops stay straight
//! and a skip edge bows out beside them. A box off the main flow
//! (an op reading only constants, above its reader) follows its neighbour
//! without pulling it, or a chain would drift sideways at each such box.
//!
//! Boxes are aligned to the top of their layer's band. An edge leaves its
//! source at the box bottom, runs straight down to the band's bottom, and
//! crosses each gap between bands as one curve; through a skipped layer it
//! runs straight down at its dummy's x, which the separation constraints
//! keep clear of every box. So edges never cross a box.

use std::collections::HashMap;

/// Vertical space between two layers' bands (room for an edge label and the curve).
const GAP_Y: f64 = 46.0;
/// Margin around the whole drawing.
const MARGIN: f64 = 12.0;
/// Horizontal gap between two boxes in a layer.
const GAP_BOX: f64 = 22.0;
/// Horizontal gap between an edge lane and a box, or two lanes.
const GAP_LANE: f64 = 12.0;
/// Crossing-reduction sweeps (alternating down and up).
const ORDER_PASSES: usize = 12;
/// Coordinate sweeps (alternating down and up; the last ones look both ways).
const X_PASSES: usize = 10;
/// Largest spacing of the arrowheads converging on one box.
const IN_PORT_STEP: f64 = 14.0;

/// Where a vertex's layer is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rank {
    /// The first layer (graph inputs).
    Top,
    /// Wherever its edges put it.
    Free,
    /// The last layer (graph outputs).
    Bottom,
}

/// A box to place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VertexSpec {
    /// Box width.
    pub w: f64,
    /// Box height.
    pub h: f64,
    /// Extent right of the centre, at least `w / 2`: edge labels written
    /// under the box reach further.
    pub right: f64,
    /// Layer constraint.
    pub rank: Rank,
}

/// An edge from the bottom of `src` (at `port` from its centre) to the top of `dst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EdgeSpec {
    /// Source vertex.
    pub src: usize,
    /// Start's x offset from the source's centre.
    pub port: f64,
    /// Target vertex.
    pub dst: usize,
}

/// The placed drawing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placed {
    /// Left edge of each box.
    pub x: Vec<f64>,
    /// Top edge of each box.
    pub y: Vec<f64>,
    /// Per edge, its route: points alternate a straight run (0→1, 2→3, ...)
    /// and a curve across a gap (1→2, 3→4, ...); the first point is on the
    /// source's bottom, the last on the target's top.
    pub routes: Vec<Vec<(f64, f64)>>,
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
}

/// Lays out `vertices` and `edges` (see the module documentation).
pub(crate) fn layout(vertices: &[VertexSpec], edges: &[EdgeSpec]) -> Placed {
    let n = vertices.len();
    if n == 0 {
        return Placed { width: 2.0 * MARGIN, height: 2.0 * MARGIN, ..Placed::default() };
    }
    let edges: Vec<EdgeSpec> = edges.iter().copied().filter(|e| e.src != e.dst && e.src < n && e.dst < n).collect();
    let topo = topo_order(n, &edges);
    let mut at = vec![0usize; n];
    for (i, &v) in topo.iter().enumerate() {
        at[v] = i;
    }
    // Edges against the order (only in a cyclic graph) are laid out reversed.
    let dag: Vec<(usize, usize)> =
        edges.iter().map(|e| if at[e.src] < at[e.dst] { (e.src, e.dst) } else { (e.dst, e.src) }).collect();
    let layer = assign_layers(vertices, &topo, &dag);

    // The layout graph: the vertices, then the dummies. The edges leaving
    // one port share one trunk of dummies and branch off it at each
    // reader's layer: a value many later ops read (a mask, a residual)
    // runs down one lane, and costs dummies for its span, not per reader.
    let mut g = LayoutGraph::new(vertices, &layer);
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    let mut bundles: std::collections::BTreeMap<(usize, u64), Vec<usize>> = std::collections::BTreeMap::new();
    for (k, (e, &(a, _))) in edges.iter().zip(&dag).enumerate() {
        if a == e.src {
            bundles.entry((e.src, e.port.to_bits())).or_default().push(k);
        } else {
            chains[k] = g.add_chain(dag[k].0, dag[k].1);
        }
    }
    for ((src, _), mut ks) in bundles {
        ks.sort_by_key(|&k| (layer[edges[k].dst], k));
        let mut trunk = vec![src];
        for k in ks {
            let dst = edges[k].dst;
            while g.layer[*trunk.last().unwrap_or(&src)] + 1 < layer[dst] {
                let prev = *trunk.last().unwrap_or(&src);
                trunk.push(g.add_dummy(prev));
            }
            let depth = layer[dst].saturating_sub(layer[src]).max(1);
            let mut chain = trunk[..depth.min(trunk.len())].to_vec();
            let from = *chain.last().unwrap_or(&src);
            g.link(from, dst);
            chain.push(dst);
            g.port.insert((src, chain[1]), edges[k].port);
            chains[k] = chain;
        }
    }
    for (v, spec) in vertices.iter().enumerate() {
        let (p, s) = (g.preds[v].len(), g.succs[v].len());
        g.side[v] = spec.rank == Rank::Free && ((p == 0 && s <= 1) || (s == 0 && p <= 1));
    }
    g.order_layers(&topo);
    g.assign_x();

    // Bands: each layer as tall as its tallest box.
    let layers = g.layers.len();
    let mut band_h = vec![0.0f64; layers];
    for v in 0..n {
        band_h[g.layer[v]] = band_h[g.layer[v]].max(vertices[v].h);
    }
    let mut band_top = vec![0.0f64; layers];
    let mut y = MARGIN;
    for l in 0..layers {
        band_top[l] = y;
        y += band_h[l] + GAP_Y;
    }
    let height = y - GAP_Y + MARGIN;

    let min_x = (0..g.len()).map(|v| g.x[v] - g.left[v]).fold(f64::INFINITY, f64::min);
    let shift = MARGIN - min_x;
    let width = (0..g.len()).map(|v| g.x[v] + g.right[v]).fold(f64::NEG_INFINITY, f64::max) + shift + MARGIN;
    let cx: Vec<f64> = g.x.iter().map(|x| x + shift).collect();

    // Arrowheads converging on a box are spread along its top, ordered by
    // where their edges come from so they do not cross just above it.
    let mut incoming: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    for (k, (e, chain)) in edges.iter().zip(&chains).enumerate() {
        let before_last = chain[chain.len() - 2];
        let from_x = if before_last == e.src { cx[e.src] + e.port } else { cx[before_last] };
        incoming[e.dst].push((from_x, k));
    }
    let mut in_port = vec![0.0f64; edges.len()];
    for (v, list) in incoming.iter_mut().enumerate() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let step = IN_PORT_STEP.min(vertices[v].w / (list.len() as f64 + 1.0));
        let mid = (list.len() as f64 - 1.0) / 2.0;
        for (i, &(_, k)) in list.iter().enumerate() {
            in_port[k] = (i as f64 - mid) * step;
        }
    }

    let mut routes = Vec::with_capacity(edges.len());
    for (k, (e, chain)) in edges.iter().zip(&chains).enumerate() {
        let (src, dst) = (e.src, e.dst);
        let sx = cx[src] + e.port;
        let mut pts =
            vec![(sx, band_top[layer[src]] + vertices[src].h), (sx, band_top[layer[src]] + band_h[layer[src]])];
        // A reversed edge's chain runs from dst to src; walk it backwards.
        let inner: Vec<usize> = if chain[0] == src {
            chain[1..chain.len() - 1].to_vec()
        } else {
            chain[1..chain.len() - 1].iter().rev().copied().collect()
        };
        for d in inner {
            let l = g.layer[d];
            pts.push((cx[d], band_top[l]));
            pts.push((cx[d], band_top[l] + band_h[l]));
        }
        pts.push((cx[dst] + in_port[k], band_top[layer[dst]]));
        routes.push(pts);
    }

    Placed {
        x: (0..n).map(|v| cx[v] - vertices[v].w / 2.0).collect(),
        y: (0..n).map(|v| band_top[layer[v]]).collect(),
        routes,
        width,
        height,
    }
}

/// A topological order (Kahn's, lowest index first); in a cycle the lowest
/// remaining vertex goes next, so every vertex is placed.
fn topo_order(n: usize, edges: &[EdgeSpec]) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    let mut succ = vec![Vec::new(); n];
    for e in edges {
        indeg[e.dst] += 1;
        succ[e.src].push(e.dst);
    }
    let mut ready = std::collections::BTreeSet::new();
    for (v, &d) in indeg.iter().enumerate() {
        if d == 0 {
            ready.insert(v);
        }
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let v = match ready.pop_first() {
            Some(v) => v,
            // A cycle: break it at its lowest vertex.
            None => (0..n).find(|&v| !done[v]).unwrap_or(0),
        };
        if done[v] {
            continue;
        }
        done[v] = true;
        order.push(v);
        for &w in &succ[v] {
            indeg[w] = indeg[w].saturating_sub(1);
            if indeg[w] == 0 && !done[w] {
                ready.insert(w);
            }
        }
    }
    order
}

/// Longest-path layers; see the module documentation.
fn assign_layers(vertices: &[VertexSpec], topo: &[usize], dag: &[(usize, usize)]) -> Vec<usize> {
    let n = vertices.len();
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for &(a, b) in dag {
        preds[b].push(a);
        succs[a].push(b);
    }
    let mut layer = vec![0usize; n];
    for &v in topo {
        if vertices[v].rank != Rank::Top {
            layer[v] = preds[v].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
        }
    }
    // Constants and weight-only ops sit just above their first reader.
    for &v in topo.iter().rev() {
        if vertices[v].rank == Rank::Free
            && preds[v].is_empty()
            && let Some(first) = succs[v].iter().map(|&w| layer[w]).min()
        {
            layer[v] = first.saturating_sub(1);
        }
    }
    let last = (0..n).filter(|&v| vertices[v].rank != Rank::Bottom).map(|v| layer[v] + 1).max().unwrap_or(0);
    for v in 0..n {
        if vertices[v].rank == Rank::Bottom {
            layer[v] = last;
        }
    }
    // Layers no vertex uses (possible after pinning) are dropped.
    let mut used: Vec<usize> = layer.clone();
    used.sort_unstable();
    used.dedup();
    layer.iter().map(|l| used.binary_search(l).unwrap_or(0)).collect()
}

/// The vertices plus dummies, with layers, orders and coordinates.
struct LayoutGraph {
    layer: Vec<usize>,
    left: Vec<f64>,
    right: Vec<f64>,
    dummy: Vec<bool>,
    /// Boxes hanging off the main flow (a constant-only op above its reader,
    /// an unread result): they follow their neighbour but do not pull it.
    side: Vec<bool>,
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    /// The source port's offset of the links leaving a box's port, so that
    /// ordering keeps a box's outputs left to right as its ports are.
    port: HashMap<(usize, usize), f64>,
    layers: Vec<Vec<usize>>,
    pos: Vec<usize>,
    x: Vec<f64>,
}

impl LayoutGraph {
    fn new(vertices: &[VertexSpec], layer: &[usize]) -> Self {
        let n = vertices.len();
        let layers = layer.iter().max().map_or(0, |m| m + 1);
        LayoutGraph {
            layer: layer.to_vec(),
            left: vertices.iter().map(|v| v.w / 2.0).collect(),
            right: vertices.iter().map(|v| v.right.max(v.w / 2.0)).collect(),
            dummy: vec![false; n],
            side: vec![false; n],
            preds: vec![Vec::new(); n],
            succs: vec![Vec::new(); n],
            port: HashMap::new(),
            layers: vec![Vec::new(); layers],
            pos: vec![0; n],
            x: vec![0.0; n],
        }
    }

    fn len(&self) -> usize {
        self.layer.len()
    }

    /// Links `a` to `b` through a dummy on every layer between; returns the chain.
    fn add_chain(&mut self, a: usize, b: usize) -> Vec<usize> {
        let mut chain = vec![a];
        let mut prev = a;
        while self.layer[prev] + 1 < self.layer[b] {
            prev = self.add_dummy(prev);
            chain.push(prev);
        }
        self.link(prev, b);
        chain.push(b);
        chain
    }

    /// A dummy on the layer below `prev`, linked from it.
    fn add_dummy(&mut self, prev: usize) -> usize {
        let d = self.len();
        self.layer.push(self.layer[prev] + 1);
        self.left.push(0.0);
        self.right.push(0.0);
        self.dummy.push(true);
        self.side.push(false);
        self.preds.push(Vec::new());
        self.succs.push(Vec::new());
        self.pos.push(0);
        self.x.push(0.0);
        self.link(prev, d);
        d
    }

    fn link(&mut self, a: usize, b: usize) {
        self.succs[a].push(b);
        self.preds[b].push(a);
    }

    /// Orders every layer: the vertices in topological order, dummies in
    /// creation order, then barycenter sweeps, keeping the best order found.
    fn order_layers(&mut self, topo: &[usize]) {
        for &v in topo {
            self.layers[self.layer[v]].push(v);
        }
        for d in topo.len()..self.len() {
            self.layers[self.layer[d]].push(d);
        }
        self.renumber();
        // A first downward pass from the input order, then alternate.
        let mut best = self.layers.clone();
        let mut best_crossings = self.crossings();
        for pass in 0..ORDER_PASSES {
            self.sweep_order(pass % 2 == 0);
            let c = self.crossings();
            if c < best_crossings {
                best_crossings = c;
                best = self.layers.clone();
            }
            if best_crossings == 0 {
                break;
            }
        }
        self.layers = best;
        self.renumber();
    }

    fn renumber(&mut self) {
        for layer in &self.layers {
            for (i, &v) in layer.iter().enumerate() {
                self.pos[v] = i;
            }
        }
    }

    fn sweep_order(&mut self, down: bool) {
        let count = self.layers.len();
        let seq: Vec<usize> = if down { (1..count).collect() } else { (0..count.saturating_sub(1)).rev().collect() };
        for l in seq {
            let mut keyed: Vec<(f64, usize)> = self.layers[l]
                .iter()
                .map(|&v| {
                    let nb = if down { &self.preds[v] } else { &self.succs[v] };
                    let key = if nb.is_empty() {
                        self.pos[v] as f64
                    } else {
                        let at = |u: usize| {
                            // Within ±0.45 of the box's place, in port order.
                            let o = if down { self.port.get(&(u, v)).copied().unwrap_or(0.0) } else { 0.0 };
                            self.pos[u] as f64 + 0.45 * o / (o.abs() + 1.0)
                        };
                        nb.iter().map(|&u| at(u)).sum::<f64>() / nb.len() as f64
                    };
                    (key, v)
                })
                .collect();
            // Stable: ties keep the current order.
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(self.pos[a.1].cmp(&self.pos[b.1])));
            self.layers[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in self.layers[l].iter().enumerate() {
                self.pos[v] = i;
            }
        }
    }

    /// Edge crossings between all adjacent layers (inversions, counted with a Fenwick tree).
    fn crossings(&self) -> usize {
        let mut total = 0;
        for l in 0..self.layers.len().saturating_sub(1) {
            // Edges from two ports of one box cross when their ends are in
            // the other order, so ports order the pairs after the source.
            let mut pairs: Vec<(usize, f64, usize)> = self.layers[l]
                .iter()
                .flat_map(|&u| self.succs[u].iter().map(move |&w| (u, w)))
                .map(|(u, w)| (self.pos[u], self.port.get(&(u, w)).copied().unwrap_or(0.0), self.pos[w]))
                .collect();
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            let size = self.layers[l + 1].len() + 1;
            let mut tree = vec![0usize; size + 1];
            for (seen, &(_, _, p)) in pairs.iter().enumerate() {
                // Earlier edges ending right of p cross this one.
                let mut i = p + 1;
                let mut le = 0;
                while i > 0 {
                    le += tree[i];
                    i &= i - 1;
                }
                total += seen - le;
                let mut i = p + 1;
                while i <= size {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }

    /// How strongly `a` pulls its neighbour `b` (see the module documentation).
    fn weight(&self, a: usize, b: usize) -> f64 {
        if self.side[a] {
            return 1e-6;
        }
        match (self.dummy[a], self.dummy[b]) {
            (true, true) => 8.0,
            (false, false) => 4.0,
            (false, true) => 1.0,
            // Lanes follow boxes, boxes barely follow lanes: a box pulled
            // toward the lane beside it pushes the lane on, and a value many
            // ops read would drag the whole chain sideways.
            (true, false) => 1e-4,
        }
    }

    fn separation(&self, a: usize, b: usize) -> f64 {
        let gap = if self.dummy[a] || self.dummy[b] { GAP_LANE } else { GAP_BOX };
        self.right[a] + gap + self.left[b]
    }

    fn assign_x(&mut self) {
        // Start packed from the left.
        for l in 0..self.layers.len() {
            let mut x = 0.0;
            for i in 0..self.layers[l].len() {
                let v = self.layers[l][i];
                if i > 0 {
                    x += self.separation(self.layers[l][i - 1], v);
                }
                self.x[v] = x;
            }
        }
        let count = self.layers.len();
        for pass in 0..X_PASSES {
            let down = pass % 2 == 0;
            let both = pass + 2 >= X_PASSES;
            let seq: Vec<usize> = if down { (0..count).collect() } else { (0..count).rev().collect() };
            for l in seq {
                self.place_layer(l, down || both, !down || both);
            }
        }
    }

    /// Moves layer `l`'s vertices toward the weighted mean of their
    /// neighbours above (`up`) and/or below (`below`), keeping the order and
    /// separations: a weighted isotonic regression, solved exactly by
    /// pool-adjacent-violators on x minus the cumulative separations.
    fn place_layer(&mut self, l: usize, up: bool, below: bool) {
        let layer = &self.layers[l];
        let k = layer.len();
        if k == 0 {
            return;
        }
        let mut offset = vec![0.0f64; k];
        for i in 1..k {
            offset[i] = offset[i - 1] + self.separation(layer[i - 1], layer[i]);
        }
        let mut target = vec![0.0f64; k];
        let mut weight = vec![0.0f64; k];
        for (i, &v) in layer.iter().enumerate() {
            let (mut sw, mut swx) = (0.0, 0.0);
            let neighbours = self.preds[v].iter().filter(|_| up).chain(self.succs[v].iter().filter(|_| below));
            for &u in neighbours {
                let w = self.weight(u, v);
                sw += w;
                swx += w * self.x[u];
            }
            // A vertex with no neighbour that side stays put, weakly.
            let (mut w, t) = if sw > 0.0 { (sw, swx / sw) } else { (0.05, self.x[v]) };
            // Where a lane and a box compete for a place the lane gives way,
            // and a side box gives way to everything.
            if self.side[v] {
                w *= 1e-6;
            } else if self.dummy[v] {
                w *= 1e-3;
            }
            weight[i] = w;
            target[i] = t - offset[i];
        }
        // Blocks of (total weight, weighted sum, length), merged while out of order.
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(k);
        for i in 0..k {
            blocks.push((weight[i], weight[i] * target[i], 1));
            while blocks.len() > 1 {
                let (w2, s2, n2) = blocks[blocks.len() - 1];
                let (w1, s1, n1) = blocks[blocks.len() - 2];
                if s1 / w1 <= s2 / w2 {
                    break;
                }
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (w1 + w2, s1 + s2, n1 + n2);
            }
        }
        let mut i = 0;
        for (w, s, len) in blocks {
            let mean = s / w;
            for _ in 0..len {
                let v = self.layers[l][i];
                self.x[v] = mean + offset[i];
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(w: f64) -> VertexSpec {
        VertexSpec { w, h: 30.0, right: w / 2.0, rank: Rank::Free }
    }

    fn edge(src: usize, dst: usize) -> EdgeSpec {
        EdgeSpec { src, port: 0.0, dst }
    }

    #[test]
    fn a_chain_is_straight_and_a_skip_edge_goes_beside_it() {
        // 0 -> 1 -> 2 -> 3 -> 4, and 0 -> 4 (a residual block).
        let vs = vec![boxed(80.0); 5];
        let es = vec![edge(0, 1), edge(1, 2), edge(2, 3), edge(3, 4), edge(0, 4)];
        let p = layout(&vs, &es);
        for v in 1..4 {
            assert!((p.x[v] - p.x[1]).abs() < 0.5, "chain bends: {:?}", p.x);
        }
        for v in 0..4 {
            assert!(p.y[v] < p.y[v + 1]);
        }
        // The skip edge's straight runs through layers 1..3 stay clear of the boxes there.
        let skip = &p.routes[4];
        assert_eq!(skip.len(), 2 + 2 * 3 + 1);
        for pair in skip[2..8].chunks(2) {
            let x = pair[0].0;
            assert!(x < p.x[1] - 1.0 || x > p.x[1] + 80.0 + 1.0, "lane at {x} crosses the chain at {}", p.x[1]);
        }
        assert!(p.width < 80.0 * 3.0, "too wide: {}", p.width);
    }

    #[test]
    fn side_boxes_do_not_drag_a_chain_sideways() {
        // A chain of 12 ops from a pinned input, each also reading a wide
        // constant-only op (torch's Identity of a shared bias) placed beside it.
        let mut vs = vec![VertexSpec { rank: Rank::Top, ..boxed(60.0) }];
        let mut es = Vec::new();
        for i in 0..12 {
            vs.push(boxed(80.0));
            let op = vs.len() - 1;
            es.push(edge(if i == 0 { 0 } else { op - 2 }, op));
            vs.push(boxed(160.0));
            es.push(edge(vs.len() - 1, op));
        }
        let p = layout(&vs, &es);
        let chain: Vec<f64> = (0..12).map(|i| p.x[1 + 2 * i] + 40.0).collect();
        let spread = chain.iter().fold(0.0f64, |m, x| m.max((x - chain[0]).abs()));
        assert!(spread < 0.5, "chain drifts: {chain:?}");
        assert!(p.width < 80.0 + 160.0 + 100.0, "width {}", p.width);
    }

    #[test]
    fn readers_of_one_value_share_one_lane() {
        // A chain of 1500 ops, every one also reading the pinned input: one
        // trunk of dummies (1,500), not one chain per edge (over a million).
        let n = 1500;
        let mut vs = vec![VertexSpec { rank: Rank::Top, ..boxed(40.0) }];
        let mut es = Vec::new();
        for i in 1..=n {
            vs.push(boxed(60.0));
            if i > 1 {
                es.push(edge(i - 1, i));
            }
            es.push(edge(0, i));
        }
        let start = std::time::Instant::now();
        let p = layout(&vs, &es);
        assert!(start.elapsed().as_secs_f64() < 2.0, "{:?}", start.elapsed());
        // The input's edges to ops 10 and 1000 run through the same points down to layer 9.
        let to = |dst: usize| es.iter().position(|e| e.src == 0 && e.dst == dst).unwrap();
        let (a, b) = (&p.routes[to(10)], &p.routes[to(1000)]);
        assert_eq!(a[..a.len() - 1], b[..a.len() - 1]);
        assert!(p.width < 200.0, "width {}", p.width);
    }

    #[test]
    fn outputs_keep_the_order_of_their_ports() {
        // One box with two ports; the right port feeds the first-listed output.
        let vs = vec![
            VertexSpec { rank: Rank::Top, ..boxed(40.0) },
            boxed(120.0),
            VertexSpec { rank: Rank::Bottom, ..boxed(60.0) },
            VertexSpec { rank: Rank::Bottom, ..boxed(60.0) },
        ];
        let es = vec![edge(0, 1), EdgeSpec { src: 1, port: 30.0, dst: 2 }, EdgeSpec { src: 1, port: -30.0, dst: 3 }];
        let p = layout(&vs, &es);
        assert!(p.x[3] < p.x[2], "{:?}", p.x);
    }

    #[test]
    fn boxes_in_a_layer_do_not_overlap_and_crossings_are_removed() {
        // Two parallel chains wired crosswise: 0->3, 1->2, both fanning into 4.
        let vs = vec![boxed(60.0), boxed(100.0), boxed(60.0), boxed(60.0), boxed(60.0)];
        let es = vec![edge(0, 3), edge(1, 2), edge(2, 4), edge(3, 4)];
        let p = layout(&vs, &es);
        assert!(p.x[0] + 60.0 <= p.x[1] || p.x[1] + 100.0 <= p.x[0]);
        assert!(p.x[2] + 60.0 <= p.x[3] || p.x[3] + 60.0 <= p.x[2]);
        // 0 and 3 on the same side as each other.
        assert_eq!(p.x[0] < p.x[1], p.x[3] < p.x[2]);
    }

    #[test]
    fn pinned_ranks_and_cycles() {
        let vs = vec![
            VertexSpec { rank: Rank::Top, ..boxed(40.0) },
            boxed(40.0),
            boxed(40.0),
            VertexSpec { rank: Rank::Bottom, ..boxed(40.0) },
            VertexSpec { rank: Rank::Bottom, ..boxed(40.0) },
        ];
        // 1 <-> 2 is a cycle; 0 feeds 1; 3 reads 0 directly, 4 reads 2.
        let es = vec![edge(0, 1), edge(1, 2), edge(2, 1), edge(0, 3), edge(2, 4)];
        let p = layout(&vs, &es);
        assert_eq!(p.y[3], p.y[4], "outputs share the last layer");
        assert!(p.y[0] < p.y[1] && p.y[1] < p.y[3]);
        assert_eq!(p.routes.len(), 5);
    }
}
