//! Merging initializers with identical contents.
//!
//! torch.onnx deduplicates identical weights itself, but folding creates new
//! ones: BatchNormalization folded into bias-less Convs of a freshly
//! initialised network gives each layer the same bias, and the folded copies
//! of the shared normalisation parameters they came from would otherwise be
//! stored once per layer. Readers of a duplicate read the first copy instead,
//! so the stored bytes only ever shrink.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use ir::{DType, Graph, Tensor, TensorData};

/// Identity of a tensor's content for grouping: dtype, shape and byte length.
type Key = (DType, Vec<usize>, usize);

fn content_hash(t: &Tensor) -> Option<u64> {
    let mut h = DefaultHasher::new();
    match t.data() {
        TensorData::Bytes(b) => b.as_bytes().hash(&mut h),
        // String tensors are rare and small; leave them alone.
        TensorData::Strings(_) => return None,
    }
    Some(h.finish())
}

fn same_bytes(a: &Tensor, b: &Tensor) -> bool {
    matches!((a.data(), b.data()), (TensorData::Bytes(x), TensorData::Bytes(y)) if x.as_bytes() == y.as_bytes())
}

/// Makes the readers of every initializer whose dtype, shape and bytes equal
/// an earlier one's read that one; the duplicates then go (unused-initializer
/// removal). Interface values (graph inputs and outputs) are never merged.
/// Returns how many initializers were redirected.
pub(crate) fn merge_duplicate_initializers(g: &mut Graph) -> usize {
    let interface: std::collections::HashSet<&str> =
        g.inputs.iter().chain(&g.outputs).map(|v| v.name.as_str()).collect();
    let mut by_key: HashMap<Key, Vec<&str>> = HashMap::new();
    for (name, t) in &g.initializers {
        if interface.contains(name.as_str()) || t.byte_len() == 0 {
            continue;
        }
        by_key.entry((t.dtype(), t.shape().to_vec(), t.byte_len())).or_default().push(name);
    }
    let mut redirects: Vec<(String, String)> = Vec::new();
    for names in by_key.values().filter(|v| v.len() > 1) {
        // Hash only where a collision is possible: tensors of equal size.
        let mut firsts: HashMap<u64, Vec<&str>> = HashMap::new();
        for &name in names {
            let t = &g.initializers[name];
            let Some(h) = content_hash(t) else { continue };
            let seen = firsts.entry(h).or_default();
            match seen.iter().find(|&&f| same_bytes(&g.initializers[f], t)) {
                Some(&first) => redirects.push((name.to_string(), first.to_string())),
                None => seen.push(name),
            }
        }
    }
    // Initializer order is file order: keep the first of each group by position.
    let order: HashMap<&str, usize> = g.initializers.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    redirects.sort_by_key(|(dup, _)| order[dup.as_str()]);
    for (dup, first) in &redirects {
        g.replace_uses(dup, first);
    }
    redirects.len()
}
