//! Op implementations, one module per op family. Each module's `register`
//! adds its ops; adding an op touches one file.

use crate::registry::OpRegistry;

mod activation;
mod attention;
pub(crate) mod cast;
mod control;
mod conv;
mod detection;
mod elementwise;
mod index;
mod linalg;
mod loss;
mod misc;
mod ml;
mod norm;
mod pool;
mod quant;
mod reduce;
mod resize;
mod rnn;
mod sequence;
mod shape;
mod signal;
mod string;

/// Fills the registry with every implemented op.
pub(crate) fn register_all(r: &mut OpRegistry) {
    elementwise::register(r);
    activation::register(r);
    conv::register(r);
    pool::register(r);
    linalg::register(r);
    quant::register(r);
    cast::register(r);
    norm::register(r);
    reduce::register(r);
    shape::register(r);
    index::register(r);
    control::register(r);
    sequence::register(r);
    resize::register(r);
    detection::register(r);
    attention::register(r);
    loss::register(r);
    rnn::register(r);
    signal::register(r);
    string::register(r);
    ml::register(r);
    misc::register(r);
}
