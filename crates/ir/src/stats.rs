//! Summary figures of a model, as printed by `convert inspect`.

use std::collections::BTreeMap;

use crate::{DType, Model, TensorData};

/// Counts describing a model: ops, parameters and weight bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelStats {
    /// Number of nodes, subgraphs included.
    pub nodes: usize,
    /// Node count per op (`Conv`, `com.microsoft::Attention`, ...), subgraphs included.
    pub ops: BTreeMap<String, usize>,
    /// Number of initializer elements (parameters), subgraphs included.
    pub parameters: u64,
    /// Per dtype: (tensor count, element count, bytes).
    pub by_dtype: BTreeMap<DType, (usize, u64, u64)>,
    /// Bytes of the tensors held by `Constant` nodes (their `value`), which
    /// folding turns into initializers: stored data as much as initializers.
    pub constant_bytes: u64,
}

impl ModelStats {
    /// Gathers the figures of a model.
    pub fn of(model: &Model) -> Self {
        let mut s = ModelStats::default();
        model.graph.walk(&mut |g| {
            for n in &g.nodes {
                s.nodes += 1;
                if n.op == "Constant"
                    && n.domain.is_empty()
                    && let Some(crate::Attribute::Tensor(t)) = n.attr("value")
                {
                    s.constant_bytes += tensor_bytes(t);
                }
                let key = if n.domain.is_empty() { n.op.clone() } else { format!("{}::{}", n.domain, n.op) };
                *s.ops.entry(key).or_default() += 1;
            }
            let dense = g.initializers.values();
            let sparse = g.sparse_initializers.values().map(|t| &t.values);
            for t in dense.chain(sparse) {
                let numel = t.numel() as u64;
                s.parameters += numel;
                let bytes = tensor_bytes(t);
                let e = s.by_dtype.entry(t.dtype()).or_default();
                e.0 += 1;
                e.1 += numel;
                e.2 += bytes;
            }
        });
        s
    }

    /// Total bytes of all initializers.
    pub fn weight_bytes(&self) -> u64 {
        self.by_dtype.values().map(|e| e.2).sum()
    }

    /// Bytes of every stored tensor: initializers plus `Constant` values.
    /// The measure a pass must never grow by copying a tensor (folding a
    /// `Constant` node into an initializer moves bytes, it adds none).
    pub fn stored_bytes(&self) -> u64 {
        self.weight_bytes() + self.constant_bytes
    }
}

fn tensor_bytes(t: &crate::Tensor) -> u64 {
    match t.data() {
        TensorData::Bytes(b) => b.len() as u64,
        TensorData::Strings(v) => v.iter().map(|x| x.len() as u64).sum(),
    }
}
