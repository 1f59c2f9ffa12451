//! Kernels for ops kept in their origin domain (`tf`, `torch`, `openvino`).
//!
//! An importer run with `--keep-unknown-ops` keeps an op that has no
//! canonical (ONNX) meaning as a node of its origin domain. The reference
//! evaluator can still run such a model when the format crate registers a
//! kernel for the op here (through [`crate::Registry::add_kernel`] in its
//! `register` function). Kernels live in `ir`, not in the evaluator, so a
//! format crate keeps depending on `ir` alone; they see and return plain IR
//! tensors, and the evaluator converts at the boundary.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use crate::{Node, Result, Tensor};

/// Computes an origin op's outputs from its node (attributes) and inputs
/// (`None` for an omitted optional input), in output order.
pub type Kernel = fn(&Node, &[Option<Tensor>]) -> Result<Vec<Tensor>>;

fn table() -> &'static RwLock<HashMap<(String, String), Kernel>> {
    static T: OnceLock<RwLock<HashMap<(String, String), Kernel>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// Registers `kernel` for `op` of `domain`; a later registration replaces an
/// earlier one (registering the same crate twice is harmless).
pub fn register(domain: &str, op: &str, kernel: Kernel) {
    // A poisoned lock only means another registration panicked midway; the
    // map itself is still whole.
    let mut t = table().write().unwrap_or_else(|e| e.into_inner());
    t.insert((domain.to_string(), op.to_string()), kernel);
}

/// The kernel registered for `op` of `domain`, if any.
pub fn get(domain: &str, op: &str) -> Option<Kernel> {
    let t = table().read().unwrap_or_else(|e| e.into_inner());
    t.get(&(domain.to_string(), op.to_string())).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twice(_: &Node, ins: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
        let x = ins[0].as_ref().expect("test input").as_slice::<f32>()?;
        Ok(vec![Tensor::from_vec(vec![x.len()], x.iter().map(|v| v * 2.0).collect())?])
    }

    #[test]
    fn registered_kernels_are_found_by_domain_and_op() {
        register("test.kernel", "Twice", twice);
        assert!(get("test.kernel", "Twice").is_some());
        assert!(get("test.kernel", "Thrice").is_none());
        assert!(get("other", "Twice").is_none());
    }
}
