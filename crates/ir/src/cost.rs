//! How much arithmetic a node costs: multiply-accumulates of the ops whose
//! work grows with more than their output's size. Channel pruning reports
//! them, and constant folding refuses a node that would cost too many (a
//! hostile file can ask for a convolution of constants that runs for
//! minutes while its result stays small).

use crate::Node;

/// Multiply-accumulates of one run of `n`, reading the fixed dims of its
/// values through `dims` (called with `None` for an absent input or
/// output); `Ok(None)` for an op that is not counted. Counted: `Conv`,
/// `ConvInteger`, `ConvTranspose`, `Gemm`, `MatMul`, `MatMulInteger`.
/// Products saturate at `u64::MAX`: dims may come from a file.
pub fn macs<E>(n: &Node, dims: impl Fn(Option<&str>) -> Result<Vec<u64>, E>) -> Result<Option<u64>, E> {
    let numel = |s: &[u64]| s.iter().fold(1u64, |a, &d| a.saturating_mul(d));
    let (x, w, y) = (|| dims(n.input(0)), || dims(n.input(1)), || dims(n.output(0)));
    Ok(Some(match n.op.as_str() {
        // Every output element sums (C_in / group) * kernel products.
        "Conv" | "ConvInteger" => numel(&y()?).saturating_mul(numel(w()?.get(1..).unwrap_or_default())),
        // Every input element is spread over (C_out / group) * kernel outputs.
        "ConvTranspose" => numel(&x()?).saturating_mul(numel(w()?.get(1..).unwrap_or_default())),
        "Gemm" => {
            let a = x()?;
            let k = if n.attr_int("transA", 0).unwrap_or(0) != 0 { a.first() } else { a.get(1) };
            numel(&y()?).saturating_mul(k.copied().unwrap_or(1))
        }
        "MatMul" | "MatMulInteger" => numel(&y()?).saturating_mul(x()?.last().copied().unwrap_or(1)),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(name: Option<&str>) -> Result<Vec<u64>, ()> {
        Ok(match name {
            Some("x") => vec![1, 8, 16, 16],
            Some("w") => vec![4, 8, 3, 3],
            Some("y") => vec![1, 4, 14, 14],
            Some("huge") => vec![u64::MAX, 2],
            _ => return Err(()),
        })
    }

    #[test]
    fn conv_and_matmul_counts() {
        let conv = Node::new("Conv", vec!["x", "w"], vec!["y"]);
        assert_eq!(macs(&conv, dims), Ok(Some(4 * 14 * 14 * 8 * 3 * 3)));
        let mm = Node::new("MatMul", vec!["huge", "w"], vec!["huge"]);
        assert_eq!(macs(&mm, dims), Ok(Some(u64::MAX)), "saturates");
        assert_eq!(macs(&Node::new("Relu", vec!["x"], vec!["y"]), dims), Ok(None));
        assert_eq!(macs(&Node::new("Conv", vec!["x", "nope"], vec!["y"]), dims), Err(()));
    }
}
