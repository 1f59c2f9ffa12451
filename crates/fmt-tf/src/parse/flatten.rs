//! Inlining of the function library: a GraphDef whose nodes call
//! `FunctionDef`s (`StatefulPartitionedCall`, `PartitionedCall`, or a node
//! whose op is a function name) becomes one flat list of nodes.
//!
//! Each call's body is emitted with its node names prefixed by the call
//! node's name, its argument references replaced by the caller's inputs,
//! and the call node itself replaced by an alias: a reference to output `k`
//! of the call stands for the tensor the function returns as its `k`-th
//! output. Aliases are resolved at the end, so bodies may list their nodes
//! in any order.
//!
//! A small library can describe a huge graph (each function calling the
//! next twice doubles the nodes per level), so call nesting is bounded by
//! `Limits::max_depth` and the nodes emitted by `Limits::max_tensors`
//! (every node makes at least one tensor): the inlined size is computed
//! from the library before any node is emitted.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ir::{Buffer, Error, Limit, Limits, Result};

use super::attr::node;
use super::outputs::flat_index;
use crate::generated::tensorflow::{FunctionDef, FunctionDefLibrary, NodeDef};
use crate::graph::{TfNode, TfRef};
use crate::tensor::Expansion;

/// A call found in the outer graph (its variables are bound through it).
#[derive(Debug, Clone)]
pub struct Call {
    /// The call node's name.
    pub name: String,
    /// The called function.
    pub function: String,
    /// Its data inputs, as written in the graph.
    pub inputs: Vec<TfRef>,
}

/// Accumulates the flat graph.
pub struct Flattener<'a> {
    library: HashMap<&'a str, &'a FunctionDef>,
    source: &'a Buffer,
    path: &'a Path,
    limits: Limits,
    /// What typed tensor values may still expand to.
    expansion: Expansion,
    /// The emitted nodes (call nodes excluded).
    pub nodes: Vec<TfNode>,
    /// Call node name → the tensors its outputs stand for.
    aliases: HashMap<String, Vec<TfRef>>,
    /// Functions being inlined, outermost first (for the cycle check).
    stack: Vec<String>,
    /// Calls of the outer graph.
    pub calls: Vec<Call>,
}

impl std::fmt::Debug for Flattener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flattener").field("nodes", &self.nodes.len()).field("aliases", &self.aliases.len()).finish()
    }
}

/// What a name in a function body or graph stands for.
enum Local {
    /// An emitted node, by index into `Flattener::nodes`.
    Node(usize),
    /// A call of the named function; `direct` when the node's op is the
    /// function name (outputs then named by the function's output args).
    Call { function: String, direct: bool },
}

/// A body being emitted: its scope and the calls it still has to inline.
struct Frame<'a> {
    scope: Scope,
    /// The body's call nodes, in order.
    calls: Vec<&'a NodeDef>,
    /// The next call of `calls` to inline.
    next: usize,
    /// The call this body is the function of (`None` for the outer graph).
    call: Option<OpenCall<'a>>,
}

/// A function call whose body is being emitted.
struct OpenCall<'a> {
    function: &'a FunctionDef,
    /// The call node's flat name (its outputs become aliases under it).
    name: String,
}

/// Name resolution inside one graph or function body.
struct Scope {
    prefix: String,
    /// Function arguments by name; `None` for the outer graph, whose
    /// references use the GraphDef syntax `node:k`.
    args: Option<HashMap<String, TfRef>>,
    locals: HashMap<String, Local>,
    what: String,
}

impl<'a> Flattener<'a> {
    /// A flattener over `library`; `source` is the buffer the protobufs
    /// were decoded from, `path` the file named in errors, and `limits`
    /// bound call nesting, emitted nodes and expanded tensor values.
    pub fn new(library: Option<&'a FunctionDefLibrary>, source: &'a Buffer, path: &'a Path, limits: &Limits) -> Self {
        let library = library
            .map(|l| l.function.iter().filter_map(|f| Some((f.signature.as_ref()?.name.as_str(), f))).collect())
            .unwrap_or_default();
        Flattener {
            library,
            source,
            path,
            limits: *limits,
            expansion: Expansion::new(limits),
            nodes: Vec::new(),
            aliases: HashMap::new(),
            stack: Vec::new(),
            calls: Vec::new(),
        }
    }

    fn err(&self, message: String) -> Error {
        Error::malformed(self.path, message)
    }

    /// Emits the outer graph's nodes, inlining every call.
    ///
    /// Calls are inlined with an explicit stack of open bodies rather than
    /// by recursion, so a deep call chain (allowed by a raised
    /// `--max-depth`) cannot overflow the thread's stack.
    pub fn graph(&mut self, defs: &'a [NodeDef]) -> Result<()> {
        // The size of the result is known before any of it is built: a
        // library that would inline to too many nodes is refused up front.
        let size = self.inlined_size(defs);
        if size > self.limits.max_tensors as u64 {
            let what = format!("graph: {size} nodes after inlining function calls");
            return Err(self.err(self.limits.message(Limit::Tensors, &what)));
        }
        let mut open = vec![self.body(String::new(), defs, None, "graph".into(), None)?];
        while let Some(frame) = open.last_mut() {
            let Some(def) = frame.calls.get(frame.next).copied() else {
                let Some(done) = open.pop() else { break };
                if let Some(call) = done.call {
                    let outputs = self.outputs(call.function, &done.scope)?;
                    self.stack.pop();
                    self.aliases.insert(call.name, outputs);
                }
                continue;
            };
            frame.next = frame.next.saturating_add(1);
            let Some(Local::Call { function, .. }) = frame.scope.locals.get(&def.name) else { continue };
            let function = function.clone();
            let name = frame.scope.full(&def.name);
            let inputs = self.inputs(&frame.scope, def)?;
            if frame.scope.args.is_none() {
                self.calls.push(Call { name: name.clone(), function: function.clone(), inputs: inputs.clone() });
            }
            let (fdef, args) = self.enter(&function, &name, inputs)?;
            let what = format!("function '{function}'");
            let call = Some(OpenCall { function: fdef, name: name.clone() });
            open.push(self.body(name, &fdef.node_def, Some(args), what, call)?);
        }
        Ok(())
    }

    /// How many nodes `defs` becomes once every call is inlined
    /// (saturating). Each function's size is computed once, bottom-up with
    /// an explicit stack; calls the inliner will refuse (recursion, unknown
    /// functions) count as nothing here.
    fn inlined_size(&self, defs: &[NodeDef]) -> u64 {
        // A body's own nodes and the functions it calls (by library key).
        let split = |defs: &[NodeDef]| -> (u64, Vec<&'a str>) {
            let mut own = 0u64;
            let mut calls = Vec::new();
            for d in defs {
                match self.callee(d) {
                    Some((name, _)) => calls.extend(self.library.get_key_value(name.as_str()).map(|(&k, _)| k)),
                    None => own = own.saturating_add(1),
                }
            }
            (own, calls)
        };
        let mut sizes: HashMap<&str, u64> = HashMap::new();
        let mut bodies: HashMap<&str, (u64, Vec<&str>)> = HashMap::new();
        let (own, roots) = split(defs);
        // (function, next callee to size)
        let mut stack: Vec<(&str, usize)> = Vec::new();
        let mut open: HashSet<&str> = HashSet::new();
        for &root in &roots {
            if sizes.contains_key(root) {
                continue;
            }
            open.insert(root);
            stack.push((root, 0));
            while let Some((f, next)) = stack.pop() {
                let body = match bodies.get(f) {
                    Some(b) => b,
                    None => {
                        let b = self.library.get(f).map(|fdef| split(&fdef.node_def)).unwrap_or_default();
                        bodies.entry(f).or_insert(b)
                    }
                };
                if let Some(&c) = body.1.get(next) {
                    stack.push((f, next.saturating_add(1)));
                    if !sizes.contains_key(c) && open.insert(c) {
                        stack.push((c, 0));
                    }
                    continue;
                }
                let size = body.1.iter().map(|c| sizes.get(c).copied().unwrap_or(0)).fold(body.0, u64::saturating_add);
                sizes.insert(f, size);
                open.remove(f);
            }
        }
        roots.iter().map(|c| sizes.get(c).copied().unwrap_or(0)).fold(own, u64::saturating_add)
    }

    /// The function a node calls, if it is a call.
    fn callee(&self, def: &NodeDef) -> Option<(String, bool)> {
        if matches!(def.op.as_str(), "StatefulPartitionedCall" | "PartitionedCall") {
            use crate::generated::tensorflow::attr_value::Value;
            return match def.attr.get("f").and_then(|a| a.value.as_ref()) {
                Some(Value::Func(f)) => Some((f.name.clone(), false)),
                _ => None,
            };
        }
        self.library.contains_key(def.op.as_str()).then(|| (def.op.clone(), true))
    }

    /// Emits the nodes of one body and resolves their inputs; its calls
    /// are left for [`Flattener::graph`] to inline.
    fn body(
        &mut self,
        prefix: String,
        defs: &'a [NodeDef],
        args: Option<HashMap<String, TfRef>>,
        what: String,
        call: Option<OpenCall<'a>>,
    ) -> Result<Frame<'a>> {
        let mut scope = Scope { prefix, args, locals: HashMap::new(), what };
        let first = self.nodes.len();
        let mut calls = Vec::new();
        for def in defs {
            let full = scope.full(&def.name);
            let local = match self.callee(def) {
                Some((function, direct)) => {
                    calls.push(def);
                    Local::Call { function, direct }
                }
                None => {
                    // Within the tensor limit: `graph` counted every node up front.
                    self.nodes.push(node(def, full, Vec::new(), self.source, &mut self.expansion, self.path)?);
                    Local::Node(self.nodes.len().saturating_sub(1))
                }
            };
            if scope.locals.insert(def.name.clone(), local).is_some() {
                return Err(self.err(format!("{}: node name '{}' is used twice", scope.what, def.name)));
            }
        }
        // Inputs are resolved only once every local name is known.
        let mut index = first;
        for def in defs {
            if matches!(scope.locals.get(&def.name), Some(Local::Node(_))) {
                let inputs = self.inputs(&scope, def)?;
                let emitted = self.nodes.get_mut(index).ok_or_else(|| {
                    Error::malformed(self.path, format!("{}: node '{}' was not emitted", scope.what, def.name))
                })?;
                emitted.inputs = inputs;
                index = index.saturating_add(1);
            }
        }
        Ok(Frame { scope, calls, next: 0, call })
    }

    /// The data inputs of `def`, resolved in `scope`.
    fn inputs(&self, scope: &Scope, def: &NodeDef) -> Result<Vec<TfRef>> {
        let mut out = Vec::new();
        for input in &def.input {
            if let Some(r) = self
                .resolve_name(scope, input)
                .map_err(|m| self.err(format!("{}: node '{}' input '{input}': {m}", scope.what, def.name)))?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A reference as written in a body: `None` for a control input.
    fn resolve_name(&self, scope: &Scope, input: &str) -> std::result::Result<Option<TfRef>, String> {
        if input.starts_with('^') {
            return Ok(None);
        }
        let Some(args) = &scope.args else {
            let r = TfRef::parse(input).ok_or_else(|| "not a tensor name".to_string())?;
            return Ok(Some(TfRef::new(scope.full(&r.node), r.index)));
        };
        let mut parts = input.split(':');
        let (name, arg, k) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None, None) => {
                return args.get(name).cloned().map(Some).ok_or_else(|| "names no function argument".into());
            }
            (Some(name), Some(arg), Some(k), None) => {
                let index = crate::graph::output_index(k).ok_or_else(|| format!("'{k}' is not an output index"))?;
                (name, arg, index)
            }
            _ => return Err("is neither an argument nor node:output:index".into()),
        };
        let index = match scope.locals.get(name) {
            None => return Err(format!("node '{name}' is not in the function")),
            Some(Local::Node(i)) => {
                let n = self.nodes.get(*i).ok_or_else(|| format!("node '{name}' was not emitted"))?;
                flat_index(n, arg, k)?
            }
            Some(Local::Call { direct: false, .. }) => k,
            Some(Local::Call { function, direct: true }) => {
                let sig = self.library.get(function.as_str()).and_then(|f| f.signature.as_ref());
                let pos = sig.and_then(|s| s.output_arg.iter().position(|a| a.name == arg));
                let pos = pos.ok_or_else(|| format!("function '{function}' has no output '{arg}'"))?;
                pos.checked_add(k).ok_or_else(|| format!("output index {k} is out of range"))?
            }
        };
        Ok(Some(TfRef::new(scope.full(name), index)))
    }

    /// Checks a call of `function` by node `call` with `inputs` and enters
    /// it (pushes it on the call stack): returns its definition and the
    /// binding of its arguments.
    fn enter(
        &mut self,
        function: &str,
        call: &str,
        inputs: Vec<TfRef>,
    ) -> Result<(&'a FunctionDef, HashMap<String, TfRef>)> {
        if let Some(pos) = self.stack.iter().position(|f| f == function) {
            let via = self.stack.get(pos.saturating_add(1)..).unwrap_or_default().join(" -> ");
            let via = if via.is_empty() { String::new() } else { format!(" (through {via})") };
            return Err(self.err(format!("function '{function}' calls itself{via}")));
        }
        if self.stack.len() >= self.limits.max_depth {
            let what = format!("node '{call}' calling function '{function}'");
            return Err(self.err(self.limits.message(Limit::Depth, &what)));
        }
        let Some(&fdef) = self.library.get(function) else {
            return Err(self.err(format!("node '{call}' calls function '{function}', which is not in the library")));
        };
        let Some(sig) = fdef.signature.as_ref() else {
            return Err(self.err(format!("function '{function}' has no signature")));
        };
        let list_arg = sig
            .input_arg
            .iter()
            .chain(&sig.output_arg)
            .find(|a| !a.number_attr.is_empty() || !a.type_list_attr.is_empty());
        if let Some(a) = list_arg {
            return Err(self.err(format!("function '{function}': list argument '{}' is not supported", a.name)));
        }
        if inputs.len() != sig.input_arg.len() {
            return Err(self.err(format!(
                "node '{call}' passes {} inputs to function '{function}', which takes {}",
                inputs.len(),
                sig.input_arg.len()
            )));
        }
        let args = sig.input_arg.iter().map(|a| a.name.clone()).zip(inputs).collect();
        self.stack.push(function.to_string());
        Ok((fdef, args))
    }

    /// The tensors of `fdef`'s outputs, in signature order, once its body
    /// (`scope`) is emitted.
    fn outputs(&self, fdef: &FunctionDef, scope: &Scope) -> Result<Vec<TfRef>> {
        let Some(sig) = fdef.signature.as_ref() else { return Ok(Vec::new()) };
        let function = &sig.name;
        let mut outputs = Vec::new();
        for arg in &sig.output_arg {
            let ret = fdef
                .ret
                .get(&arg.name)
                .ok_or_else(|| self.err(format!("function '{function}' does not return its output '{}'", arg.name)))?;
            let r = self
                .resolve_name(scope, ret)
                .map_err(|m| self.err(format!("function '{function}' output '{}' = '{ret}': {m}", arg.name)))?
                .ok_or_else(|| self.err(format!("function '{function}' returns a control edge as '{}'", arg.name)))?;
            outputs.push(r);
        }
        Ok(outputs)
    }

    /// Follows aliases until `r` names an emitted node (or a name no call defines).
    pub fn resolve(&self, r: &TfRef) -> Result<TfRef> {
        self.resolve_with(r, &mut HashMap::new())
    }

    /// [`Flattener::resolve`], remembering in `memo` where every reference
    /// on the way leads: a chain of calls reading each other is then walked
    /// once, not once per reader (which is quadratic in a long chain).
    fn resolve_with(&self, r: &TfRef, memo: &mut HashMap<TfRef, TfRef>) -> Result<TfRef> {
        let mut r = r.clone();
        let mut path = Vec::new();
        loop {
            if let Some(target) = memo.get(&r) {
                r = target.clone();
                break;
            }
            let Some(outs) = self.aliases.get(&r.node) else { break };
            if path.len() > self.aliases.len() {
                return Err(self.err(format!("call outputs refer to each other in a loop at '{}'", r.node)));
            }
            let next = outs.get(r.index).cloned().ok_or_else(|| {
                self.err(format!("output {} of call '{}' is read, but it has {} outputs", r.index, r.node, outs.len()))
            })?;
            path.push(std::mem::replace(&mut r, next));
        }
        for step in path {
            memo.insert(step, r.clone());
        }
        Ok(r)
    }

    /// Finishes: every node input resolved through the aliases.
    pub fn finish(mut self) -> Result<Vec<TfNode>> {
        let mut nodes = std::mem::take(&mut self.nodes);
        let mut memo = HashMap::new();
        for n in &mut nodes {
            for input in &mut n.inputs {
                *input = self.resolve_with(input, &mut memo)?;
            }
        }
        let mut seen = HashSet::new();
        if let Some(dup) = nodes.iter().find(|n| !seen.insert(n.name.as_str())) {
            return Err(self.err(format!("node name '{}' is used twice after inlining", dup.name)));
        }
        Ok(nodes)
    }
}

impl Scope {
    /// The flat name of a local node.
    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}/{name}", self.prefix) }
    }
}
