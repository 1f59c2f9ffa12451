//! The extension point for origin-domain ops: a kernel registered through
//! `ir::Registry::add_kernel` runs inside the evaluator.

use ir::{DType, Graph, Model, Node, Registry, Shape, Tensor, ValueInfo};

fn scale(node: &Node, ins: &[Option<Tensor>]) -> ir::Result<Vec<Tensor>> {
    let k = node.attr_float("k", 1.0)?;
    let x = ins.first().and_then(Option::as_ref).ok_or_else(|| ir::Error::invalid("Scale needs an input"))?;
    let v: Vec<f32> = x.as_slice::<f32>()?.iter().map(|v| v * k).collect();
    Ok(vec![Tensor::from_vec(x.shape().to_vec(), v)?])
}

fn model(domain: &str) -> Model {
    let x = ValueInfo::tensor("x", DType::F32, Shape::fixed(&[3]));
    let y = ValueInfo::tensor("z", DType::F32, Shape::fixed(&[3]));
    let mut m = Model {
        graph: Graph {
            inputs: vec![x],
            outputs: vec![y],
            nodes: vec![
                Node::new("Scale", ["x"], ["y"])
                    .named("origin")
                    .with_attr("k", ir::Attribute::Float(3.0))
                    .in_domain(domain),
                Node::new("Relu", ["y"], ["z"]).named("relu"),
            ],
            ..Graph::default()
        },
        ..Model::default()
    };
    m.opset_imports.insert(domain.to_string(), 1);
    m
}

#[test]
fn registered_origin_kernel_runs_between_builtin_ops() {
    let mut r = Registry::new();
    r.add_kernel("openvino.test", "Scale", scale);
    let m = model("openvino.test");
    let x = eval::from_ir(&Tensor::from_vec(vec![3], vec![1f32, -2.0, 0.5]).unwrap()).unwrap();
    let out = eval::run(&m, vec![("x".into(), eval::Value::Tensor(x))]).unwrap();
    let z = eval::to_ir(out[0].1.tensor().unwrap()).unwrap();
    assert_eq!(z.as_slice::<f32>().unwrap().as_ref(), &[3.0, 0.0, 1.5]);
}

#[test]
fn unregistered_origin_op_is_listed_as_unsupported() {
    let e = eval::run(&model("tf.unregistered"), vec![]).unwrap_err().to_string();
    assert!(e.contains("tf.unregistered::Scale"), "{e}");
}
