//! Shared by the integration tests: a model run in the reference evaluator
//! on a case folder's `input_<k>.npy` (in graph-input order), compared with
//! its `output_<k>.npy` (in graph-output order).

use std::path::Path;

/// The worst relative L2 error over the outputs, or what went wrong.
pub fn worst_rel_l2(m: &ir::Model, dir: &Path) -> Result<f64, String> {
    let npy = |name: String| -> Result<eval::Value, String> {
        let t = ir::tensor_file::read_npy(&dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        Ok(eval::Value::Tensor(eval::from_ir(&t).map_err(|e| format!("{name}: {e}"))?))
    };
    let feeds = m
        .graph
        .inputs
        .iter()
        .enumerate()
        .map(|(k, vi)| Ok((vi.name.clone(), npy(format!("input_{k}.npy"))?)))
        .collect::<Result<Vec<_>, String>>()?;
    let out = eval::run(m, feeds).map_err(|e| format!("run: {e}"))?;
    let mut worst = 0f64;
    for (k, (name, v)) in out.iter().enumerate() {
        let reference = npy(format!("output_{k}.npy"))?;
        let metrics = eval::compare::compare_values(&reference, v).map_err(|e| format!("output {name}: {e}"))?;
        worst = worst.max(metrics.rel_l2);
    }
    Ok(worst)
}
