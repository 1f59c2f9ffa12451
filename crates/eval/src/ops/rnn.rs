//! Ops of the `rnn` family (being implemented).

use crate::registry::OpRegistry;

pub(crate) fn register(_r: &mut OpRegistry) {}
