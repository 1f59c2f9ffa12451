//! Per-op output rules.

use super::{Known, Scope};
use crate::{Node, Result};

pub(crate) fn node_outputs(
    node: &Node,
    _ins: &[Option<&Known>],
    _opset: i64,
    _scope: Option<&Scope<'_>>,
) -> Result<Vec<Known>> {
    Ok(node.outputs.iter().map(|_| Known::unknown()).collect())
}
