//! `AttrValue` → [`TfAttr`] and `NodeDef` → [`TfNode`].

use std::collections::BTreeMap;
use std::path::Path;

use ir::{Buffer, Error, Result};

use crate::generated::tensorflow::{AttrValue, NodeDef, attr_value};
use crate::graph::{TfAttr, TfNode, TfRef};
use crate::tensor::{Expansion, decode, shape_of};

/// Decodes one attribute; tensors stay views of `source`, and typed values
/// expand within `budget`.
pub fn attr(value: &AttrValue, source: &Buffer, budget: &mut Expansion, path: &Path, what: &str) -> Result<TfAttr> {
    use attr_value::Value;
    Ok(match &value.value {
        Some(Value::S(s)) => TfAttr::Str(s.to_vec()),
        Some(Value::I(i)) => TfAttr::Int(*i),
        Some(Value::F(f)) => TfAttr::Float(*f),
        Some(Value::B(b)) => TfAttr::Bool(*b),
        Some(Value::Type(t)) => TfAttr::Type(*t),
        Some(Value::Shape(s)) => TfAttr::Shape(shape_of(Some(s))),
        Some(Value::Tensor(t)) => TfAttr::Tensor(decode(t, source, budget, path, what)?),
        Some(Value::Func(f)) => TfAttr::Func(f.name.clone()),
        Some(Value::Placeholder(p)) => {
            return Err(Error::malformed(
                path,
                format!("{what} refers to function attribute '{p}', which is not bound"),
            ));
        }
        Some(Value::List(l)) => {
            let mut items = Vec::new();
            items.extend(l.s.iter().map(|s| TfAttr::Str(s.to_vec())));
            items.extend(l.i.iter().map(|&i| TfAttr::Int(i)));
            items.extend(l.f.iter().map(|&f| TfAttr::Float(f)));
            items.extend(l.b.iter().map(|&b| TfAttr::Bool(b)));
            items.extend(l.r#type.iter().map(|&t| TfAttr::Type(t)));
            items.extend(l.shape.iter().map(|s| TfAttr::Shape(shape_of(Some(s)))));
            for t in &l.tensor {
                items.push(TfAttr::Tensor(decode(t, source, budget, path, what)?));
            }
            items.extend(l.func.iter().map(|f| TfAttr::Func(f.name.clone())));
            TfAttr::List(items)
        }
        // An empty AttrValue is how an empty list of unknown kind reads.
        None => TfAttr::List(Vec::new()),
    })
}

/// A node named `name` with the given data inputs and `def`'s op and attributes.
pub fn node(
    def: &NodeDef,
    name: String,
    inputs: Vec<TfRef>,
    source: &Buffer,
    budget: &mut Expansion,
    path: &Path,
) -> Result<TfNode> {
    let mut attrs = BTreeMap::new();
    for (key, value) in &def.attr {
        // Underscore attributes are runtime hints (`_output_shapes`, `_class`), not op semantics.
        if key.starts_with('_') {
            continue;
        }
        let what = format!("node '{name}' ({}) attribute '{key}'", def.op);
        attrs.insert(key.clone(), attr(value, source, budget, path, &what)?);
    }
    Ok(TfNode { name, op: def.op.clone(), inputs, attrs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::tensorflow::attr_value::{ListValue, Value};

    #[test]
    fn lists_scalars_and_placeholders() {
        let v = |value| AttrValue { value: Some(value) };
        let p = Path::new("g.pb");
        let b = Buffer::new();
        let e = &mut Expansion::new(&ir::Limits::default());
        assert_eq!(attr(&v(Value::I(3)), &b, e, p, "a").unwrap(), TfAttr::Int(3));
        let list = ListValue { i: vec![1, 2, 2, 1], ..Default::default() };
        assert_eq!(attr(&v(Value::List(list)), &b, e, p, "a").unwrap().as_ints(), Some(vec![1, 2, 2, 1]));
        assert_eq!(attr(&AttrValue { value: None }, &b, e, p, "a").unwrap(), TfAttr::List(vec![]));
        let e = attr(&v(Value::Placeholder("T".into())), &b, e, p, "node 'x' attribute 'dtype'").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.pb: node 'x' attribute 'dtype' refers to function attribute 'T', which is not bound"
        );
    }
}
