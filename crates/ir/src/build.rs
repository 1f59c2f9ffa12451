//! Building a graph node by node: the toolkit importers lower a format's
//! ops with.
//!
//! A [`GraphBuilder`] owns the [`Graph`] being built and
//! - hands out fresh value and node names through [`NameGen`] (two
//!   namespaces, as in ONNX: a node may share its output's name). A
//!   subgraph's builder continues the value names of the graphs around it,
//!   because bodies read outer values by name and must not shadow them;
//! - adds constants as initializers (scalars of any numeric dtype, 1-D
//!   `i64` vectors, whole tensors);
//! - types every value through [`crate::infer`] as nodes are added (dtype,
//!   shape with symbolic dimensions, small constant values), so later ops
//!   can pick casts and constants of the right type and read ranks and
//!   constant operands: importers keep no type tracker of their own;
//! - emits the small subgraphs importers keep needing (`Cast`, `Reshape`
//!   to a constant shape).

use crate::infer::{Known, Types};
use crate::{Attribute, DType, Error, Graph, NameGen, Node, Result, Tensor, ValueType};

/// Builds one [`Graph`]; see the module documentation.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    /// The graph so far. Values added to it directly must be named by
    /// [`GraphBuilder::fresh_value`], or the builder may hand the name out
    /// again.
    pub graph: Graph,
    values: NameGen,
    nodes: NameGen,
    types: Types,
    /// The `ai.onnx` opset the nodes follow (for inference); `None` is
    /// [`crate::opset::DEFAULT_OPSET`].
    opset: Option<i64>,
}

impl GraphBuilder {
    /// A builder for an empty graph called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        GraphBuilder::with_value_names(name, NameGen::default())
    }

    /// A builder for an empty graph whose value names avoid those in
    /// `values` (the names of the enclosing graphs, for a subgraph).
    pub fn with_value_names(name: impl Into<String>, values: NameGen) -> Self {
        GraphBuilder { graph: Graph { name: name.into(), ..Graph::default() }, values, ..GraphBuilder::default() }
    }

    /// The value names taken so far (hand them to a subgraph's builder, and
    /// back with [`GraphBuilder::merge_value_names`]).
    pub fn value_names(&self) -> &NameGen {
        &self.values
    }

    /// Takes every value name a subgraph's builder took.
    pub fn merge_value_names(&mut self, names: &NameGen) {
        self.values.merge(names);
    }

    /// A value name starting with `base` that no value has; it is then taken.
    pub fn fresh_value(&mut self, base: &str) -> String {
        self.values.fresh(base)
    }

    /// A node name starting with `base` that no node has; it is then taken.
    pub fn fresh_node(&mut self, base: &str) -> String {
        self.nodes.fresh(base)
    }

    /// Sets the `ai.onnx` opset the nodes follow (default
    /// [`crate::opset::DEFAULT_OPSET`]), which inference reads.
    pub fn set_opset(&mut self, opset: i64) {
        self.opset = Some(opset);
    }

    fn opset(&self) -> i64 {
        self.opset.unwrap_or(crate::opset::DEFAULT_OPSET)
    }

    /// Everything known about a value: type, shape, small constant elements.
    pub fn known(&self, value: &str) -> Option<&Known> {
        self.types.get(value)
    }

    /// The types of every value so far.
    pub fn types(&self) -> &Types {
        &self.types
    }

    /// The element type of a value.
    pub fn dtype(&self, value: &str) -> Option<DType> {
        self.types.dtype(value)
    }

    /// Records the element type of a value (keeping a known shape), for
    /// values the builder cannot type itself (graph inputs, ops outside the
    /// canonical set) or where the importer knows better.
    pub fn set_dtype(&mut self, value: &str, dtype: DType) {
        let shape = self.types.shape(value).cloned();
        let value_known =
            self.types.get(value).and_then(|k| k.value.clone()).filter(|_| self.dtype(value) == Some(dtype));
        self.types.insert(value, Known { ty: ValueType::tensor(dtype, shape), value: value_known });
    }

    /// Records everything known about a value (graph inputs with shapes).
    pub fn set_known(&mut self, value: &str, known: Known) {
        self.types.insert(value, known);
    }

    /// The initializer named `value`, if there is one.
    pub fn initializer(&self, value: &str) -> Option<&Tensor> {
        self.graph.initializers.get(value)
    }

    /// Stores `t` as the initializer `name` (a name this builder handed
    /// out), replacing any tensor already there, and records its dtype.
    pub fn set_initializer(&mut self, name: &str, t: Tensor) {
        self.types.insert(name, Known::from_tensor(&t));
        self.graph.initializers.insert(name.to_string(), t);
    }

    /// Adds `t` as an initializer under a fresh name based on `base`.
    pub fn constant(&mut self, base: &str, t: Tensor) -> String {
        let name = self.fresh_value(base);
        self.set_initializer(&name, t);
        name
    }

    /// A 0-D initializer of `dtype` holding `v` (see [`scalar_tensor`]).
    pub fn scalar(&mut self, base: &str, v: f64, dtype: DType) -> Result<String> {
        Ok(self.constant(base, scalar_tensor(v, dtype)?))
    }

    /// A 1-D `i64` initializer (shapes, axes, indices).
    pub fn i64s(&mut self, base: &str, v: &[i64]) -> String {
        self.constant(base, Tensor::from_vec(vec![v.len()], v.to_vec()).expect("a vector's length is its shape"))
    }

    /// The outputs of `node` as [`crate::infer::infer_node`] types them
    /// from what is known of its inputs.
    fn infer(&self, node: &Node) -> Result<Vec<Known>> {
        let unknown = Known::unknown();
        let ins: Vec<Option<&Known>> =
            node.inputs.iter().map(|i| i.as_deref().map(|v| self.types.get(v).unwrap_or(&unknown))).collect();
        crate::infer::infer_node(node, &ins, self.opset())
    }

    /// Appends `node`, typing its outputs by inference; `dtype`, when
    /// given, overrides the inferred element type of every output (for ops
    /// inference does not know). A contradiction inference finds leaves the
    /// outputs untyped rather than failing: use [`GraphBuilder::try_add_node`]
    /// to have it reported.
    pub fn add_node(&mut self, node: Node, dtype: Option<DType>) {
        let inferred = self.infer(&node).unwrap_or_default();
        self.record(&node, inferred, dtype);
        self.graph.nodes.push(node);
    }

    /// Appends `node`, typing its outputs by inference; an error when its
    /// inputs contradict the op (wrong dtype, incompatible shapes).
    pub fn try_add_node(&mut self, node: Node) -> Result<()> {
        let inferred = self.infer(&node)?;
        self.record(&node, inferred, None);
        self.graph.nodes.push(node);
        Ok(())
    }

    fn record(&mut self, node: &Node, inferred: Vec<Known>, dtype: Option<DType>) {
        let mut inferred = inferred.into_iter();
        for o in &node.outputs {
            let k = inferred.next().unwrap_or_else(Known::unknown);
            if o.is_empty() {
                continue;
            }
            self.types.insert(o.clone(), k);
            if let Some(d) = dtype {
                self.set_dtype(o, d);
            }
        }
    }

    /// Appends a one-output node of `op` whose output and node names are
    /// fresh names based on `base`; returns the output.
    pub fn op(
        &mut self,
        op: &str,
        base: &str,
        inputs: &[&str],
        attrs: Vec<(&str, Attribute)>,
        dtype: Option<DType>,
    ) -> String {
        let out = self.fresh_value(base);
        let name = self.fresh_node(base);
        let mut n = Node::new(op, inputs.iter().copied(), [out.clone()]).named(name);
        for (k, v) in attrs {
            n.attrs.insert(k.to_string(), v);
        }
        self.add_node(n, dtype);
        out
    }

    /// `Cast` of `v` to `to`.
    pub fn cast(&mut self, base: &str, v: &str, to: DType) -> String {
        self.op("Cast", base, &[v], vec![("to", Attribute::Int(i64::from(to.onnx_code())))], Some(to))
    }

    /// `Reshape` of `v` to the constant shape `shape` (`-1` and `0` as ONNX reads them).
    pub fn reshape(&mut self, base: &str, v: &str, shape: &[i64]) -> String {
        let target = self.i64s(&format!("{base}/shape"), shape);
        let d = self.dtype(v);
        self.op("Reshape", base, &[v, &target], vec![], d)
    }

    /// The finished graph.
    pub fn finish(self) -> Graph {
        self.graph
    }
}

/// A 0-D tensor of `dtype` holding `v`: rounded to the nearest value for
/// floats, truncated and saturated for integers, `v != 0` for booleans.
/// Other dtypes (strings, complex, sub-byte types) are an error.
pub fn scalar_tensor(v: f64, dtype: DType) -> Result<Tensor> {
    Ok(match dtype {
        DType::F32 => Tensor::scalar(v as f32),
        DType::F64 => Tensor::scalar(v),
        DType::F16 => Tensor::scalar(half::f16::from_f64(v)),
        DType::BF16 => Tensor::scalar(half::bf16::from_f64(v)),
        DType::I8 => Tensor::scalar(v as i8),
        DType::U8 => Tensor::scalar(v as u8),
        DType::I16 => Tensor::scalar(v as i16),
        DType::U16 => Tensor::scalar(v as u16),
        DType::I32 => Tensor::scalar(v as i32),
        DType::I64 => Tensor::scalar(v as i64),
        DType::U32 => Tensor::scalar(v as u32),
        DType::U64 => Tensor::scalar(v as u64),
        DType::Bool => Tensor::from_bools(vec![], &[v != 0.0])?,
        d => return Err(Error::invalid(format!("cannot make a {d} scalar constant"))),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_fresh_per_namespace_and_never_collide() {
        let mut b = GraphBuilder::new("g");
        // Port names `a`, `a`, then a literal `a_1`: three distinct values.
        let names: Vec<String> = ["a", "a", "a_1"].iter().map(|n| b.fresh_value(n)).collect();
        assert_eq!(names, ["a", "a_1", "a_1_1"]);
        // Node names are their own namespace: a node may share its output's name.
        assert_eq!(b.fresh_node("a"), "a");
        assert_eq!(b.fresh_node("a"), "a_1");
        // A subgraph continues the value names and hands them back.
        let mut body = GraphBuilder::with_value_names("body", b.value_names().clone());
        assert_eq!(body.fresh_value("a"), "a_2");
        b.merge_value_names(body.value_names());
        assert_eq!(b.fresh_value("a"), "a_3");
    }

    #[test]
    fn constants_and_ops_record_dtypes() {
        let mut b = GraphBuilder::new("g");
        let s = b.scalar("eps", 0.5, DType::F16).unwrap();
        assert_eq!(b.dtype(&s), Some(DType::F16));
        assert_eq!(b.initializer(&s).unwrap().as_slice::<half::f16>().unwrap()[0].to_f32(), 0.5);
        let axes = b.i64s("axes", &[0, -1]);
        assert_eq!(&*b.initializer(&axes).unwrap().as_slice::<i64>().unwrap(), &[0, -1]);
        assert_eq!(b.initializer(&axes).unwrap().shape(), &[2]);
        let c = b.cast("x/cast", "x", DType::I32);
        assert_eq!(b.dtype(&c), Some(DType::I32));
        let n = b.graph.nodes.last().unwrap();
        assert_eq!((n.op.as_str(), n.attr_int("to", 0).unwrap()), ("Cast", 6));
        let r = b.reshape("r", &c, &[-1]);
        assert_eq!(b.dtype(&r), Some(DType::I32));
        let n = b.graph.nodes.last().unwrap();
        assert_eq!(n.op, "Reshape");
        assert_eq!(&*b.initializer(n.input(1).unwrap()).unwrap().as_slice::<i64>().unwrap(), &[-1]);
        // Every node and value name is distinct, and the graph is valid given `x`.
        b.graph.inputs.push(crate::ValueInfo::tensor("x", DType::F32, None));
        b.graph.outputs.push(crate::ValueInfo::tensor(r.clone(), DType::I32, None));
        let g = b.finish();
        g.validate().unwrap();
        let node_names: HashSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(node_names.len(), g.nodes.len());
    }

    #[test]
    fn replacing_an_initializer_updates_its_dtype() {
        let mut b = GraphBuilder::new("g");
        let w = b.constant("w", Tensor::scalar(1f32));
        b.set_initializer(&w, Tensor::scalar(half::f16::from_f32(1.0)));
        assert_eq!(b.dtype(&w), Some(DType::F16));
        assert_eq!(b.graph.initializers.len(), 1);
    }

    #[test]
    fn scalars_of_every_numeric_dtype() {
        for d in DType::ALL {
            match scalar_tensor(-1.5, d) {
                Ok(t) => {
                    assert_eq!((t.dtype(), t.shape()), (d, &[][..]));
                    assert!(d.is_float() || d.is_int() || d == DType::Bool, "{d}");
                }
                Err(e) => assert!(e.to_string().contains("scalar constant"), "{d}: {e}"),
            }
        }
        // Integers truncate and saturate.
        assert_eq!(scalar_tensor(-1.5, DType::I8).unwrap().as_slice::<i8>().unwrap()[0], -1);
        assert_eq!(scalar_tensor(300.0, DType::U8).unwrap().as_slice::<u8>().unwrap()[0], 255);
        assert!(scalar_tensor(1.0, DType::String).is_err());
    }
}
