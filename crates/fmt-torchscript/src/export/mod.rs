//! TorchScript export (format `torchscript`): an archive `torch.jit.load`
//! loads and runs, written without libtorch.
//!
//! The model becomes one module class, `__torch__.<stem>.Model`: every
//! initializer is an attribute (floats under `__parameters__`, the rest
//! under `__buffers__`), tensor constants of `Constant` nodes go to
//! `constants.pkl` (`CONSTANTS.cN`), and `forward` is TorchScript source
//! with one statement per node, produced by one rule table split by op
//! family (`math`, `nn`, `shape`, `reduce`, `quant`, `control`). A rule
//! that cannot express a node says why; [`TorchScriptExporter::check`]
//! runs the whole generation and lists every such node at once, so the
//! check and the export cannot disagree.

mod archive;
mod control;
mod math;
mod nn;
mod pickle;
mod quant;
mod reduce;
mod shape;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use ir::infer::Values;
use ir::{
    DType, Error, ExportOptions, ExportReport, Exporter, FormatInfo, Graph, Model, NameGen, Node, Result, Tensor,
};

use pickle::{Pickler, TensorRef};

const INFO: FormatInfo = FormatInfo {
    name: "torchscript",
    description: "TorchScript archive (torch.jit.save / torch.jit.load)",
    extensions: &["pt"],
};

/// Writes models as TorchScript archives (`.pt`) that `torch.jit.load` runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct TorchScriptExporter;

impl Exporter for TorchScriptExporter {
    fn info(&self) -> FormatInfo {
        INFO
    }

    fn check(&self, model: &Model) -> Result<()> {
        Program::generate(model, "model").map(|_| ())
    }

    fn export(&self, model: &Model, path: &Path, options: &ExportOptions) -> Result<ExportReport> {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let module = ident(if stem.is_empty() { "model" } else { &stem });
        let program = Program::generate(model, &module)?;
        let size = program.write(path, &stem_or(&stem), options)?;
        Ok(ExportReport { files: vec![(path.to_path_buf(), size)] })
    }
}

fn stem_or(stem: &str) -> String {
    // The top folder is only a name inside the zip; keep it a plain path component.
    let s: String = stem.chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect();
    if s.is_empty() || s == "." || s == ".." { "model".into() } else { s }
}

/// What a rule emits for one node: statements (relative indentation), or
/// why torch cannot express it.
pub(crate) type Emitted = std::result::Result<Vec<String>, String>;

/// Writes one node: `outs` are the TorchScript variables of the node's
/// outputs (a throwaway name for an output not produced).
pub(crate) type EmitFn = fn(&mut Gen, &Node, &[String]) -> Emitted;

/// One canonical op and how it is written in TorchScript.
pub(crate) struct Rule {
    /// The canonical (ONNX) op.
    pub op: &'static str,
    /// The torch call(s) it becomes, for the documentation.
    pub torch: &'static str,
    /// Attribute coverage and limits, for the documentation.
    pub note: &'static str,
    /// The writer.
    pub emit: EmitFn,
}

fn families() -> [(&'static str, &'static [Rule]); 6] {
    [
        ("Elementwise math", math::RULES),
        ("Neural-network layers", nn::RULES),
        ("Shape and indexing", shape::RULES),
        ("Reductions", reduce::RULES),
        ("Quantization", quant::RULES),
        ("Control flow", control::RULES),
    ]
}

fn rule_for(op: &str) -> Option<&'static Rule> {
    families().into_iter().flat_map(|(_, rules)| rules.iter()).find(|r| r.op == op)
}

/// The op table as Markdown (`docs/torch-ops.md`), generated from the rules.
pub fn ops_markdown() -> String {
    let mut s = String::from(
        "# Canonical ops → TorchScript\n\n\
         Generated from `crates/fmt-torchscript/src/export/` by `fmt_torchscript::export::ops_markdown()`; \
         do not edit by hand.\n\n\
         Each node becomes one TorchScript statement (control flow becomes `if`/`while` blocks). \
         Values keep NCHW, torch's own layout, so no transposes are added. \
         Any op not listed, or a listed op outside the limits noted, is reported by `check` \
         with every other such node before any file is written.\n",
    );
    for (family, rules) in families() {
        let _ = write!(s, "\n## {family}\n\n| ONNX op | TorchScript | notes |\n|---|---|---|\n");
        for r in rules {
            let _ = writeln!(s, "| `{}` | `{}` | {} |", r.op, r.torch.replace('|', "\\|"), r.note.replace('|', "\\|"));
        }
    }
    s
}

/// torch's `ScalarType` code for `dtype` (the integer TorchScript source
/// uses for `dtype=` arguments).
pub(crate) fn scalar_type(dtype: DType) -> Option<i64> {
    crate::dtype::of(dtype).map(|t| t.code)
}

/// Names the TorchScript source uses for its own purposes; a value named
/// like one gets a prefix.
const RESERVED: &[&str] = &[
    "self",
    "torch",
    "ops",
    "annotate",
    "CONSTANTS",
    "int",
    "float",
    "bool",
    "str",
    "range",
    "len",
    "List",
    "Tuple",
    "Tensor",
    "Optional",
    "uninitialized",
    "math",
    "Module",
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "print",
    "training",
    "forward",
    "max",
    "min",
    "abs",
    "all",
    "any",
    "isinstance",
    "getattr",
    "sum",
    "tuple",
    "list",
    "dict",
];

/// Names a module already has in torch (attributes and the methods users
/// call on a loaded module); an initializer named like one gets a suffix.
const MODULE_NAMES: &[&str] = &[
    "training",
    "forward",
    "eval",
    "train",
    "to",
    "cpu",
    "cuda",
    "float",
    "double",
    "half",
    "bfloat16",
    "type",
    "parameters",
    "named_parameters",
    "buffers",
    "named_buffers",
    "modules",
    "named_modules",
    "children",
    "named_children",
    "state_dict",
    "load_state_dict",
    "apply",
    "code",
    "graph",
    "save",
    "requires_grad_",
    "zero_grad",
    "extra_repr",
    "original_name",
    "inlined_graph",
    "define",
    "dump_patches",
];

/// A readable identifier derived from a graph name.
pub(crate) fn ident(name: &str) -> String {
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_').to_string();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) || RESERVED.contains(&s.as_str()) {
        format!("v_{s}")
    } else {
        s
    }
}

/// A float literal TorchScript reads back as the same f32/f64 (NaN and infinities included).
pub(crate) fn float_lit(v: f64) -> String {
    if v.is_nan() {
        "float(\"nan\")".into()
    } else if v.is_infinite() {
        if v > 0.0 { "float(\"inf\")".into() } else { "float(\"-inf\")".into() }
    } else {
        // An f32 attribute prints in its shortest form: torch rounds it back to the same f32.
        let s = if (v as f32) as f64 == v { format!("{:?}", v as f32) } else { format!("{v:?}") };
        if s.contains('.') || s.contains('e') { s } else { format!("{s}.") }
    }
}

/// A list literal of integers.
pub(crate) fn int_list(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(|i| i.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The code generator: value names, types, constants and the statements
/// written so far.
pub(crate) struct Gen {
    /// `ai.onnx` opset of the model.
    pub opset: i64,
    /// IR value → TorchScript expression (local, `self.attr` or `CONSTANTS.cN`).
    exprs: HashMap<String, String>,
    /// Known types (all scopes; value names are unique model-wide).
    types: HashMap<String, ir::infer::Known>,
    /// Constant tensors by IR value (initializers and `Constant` outputs).
    consts: HashMap<String, Tensor>,
    vars: NameGen,
    /// Module attributes: (attribute name, tensor).
    attrs: Vec<(String, Tensor)>,
    /// Statements at the top of `forward` (unpacking 4-bit weights).
    prologue: Vec<String>,
    /// Attribute names taken.
    attr_names: NameGen,
    /// Values that cannot be written (dtypes torch lacks), listed with the unsupported nodes.
    problems: Vec<String>,
    /// Tensors of `constants.pkl`.
    constants: Vec<Tensor>,
    /// Nodes that cannot be written: (op, domain, "node: reason").
    bad: Vec<(String, String, String)>,
}

impl Gen {
    /// The expression of input `i`, which must be present.
    pub fn inp(&self, node: &Node, i: usize) -> std::result::Result<String, String> {
        self.opt(node, i).ok_or_else(|| format!("input {i} missing"))
    }

    /// The expression of input `i` if present.
    pub fn opt(&self, node: &Node, i: usize) -> Option<String> {
        let name = node.input(i).filter(|n| !n.is_empty())?;
        self.exprs.get(name).cloned()
    }

    /// What is known of value `name`.
    pub fn known(&self, name: &str) -> Option<&ir::infer::Known> {
        self.types.get(name)
    }

    /// Rank of input `i`.
    pub fn rank(&self, node: &Node, i: usize) -> Option<usize> {
        let name = node.input(i)?;
        self.consts.get(name).map(|t| t.shape().len()).or_else(|| self.known(name)?.rank())
    }

    /// Dtype of input `i`.
    pub fn dtype(&self, node: &Node, i: usize) -> Option<DType> {
        let name = node.input(i)?;
        self.consts.get(name).map(|t| t.dtype()).or_else(|| self.known(name)?.dtype())
    }

    /// Rank of output `i`.
    pub fn out_rank(&self, node: &Node, i: usize) -> Option<usize> {
        self.known(node.output(i)?)?.rank()
    }

    /// Fixed dimensions of input `i` (`None` for a dynamic one).
    pub fn dims(&self, node: &Node, i: usize) -> Option<Vec<Option<u64>>> {
        let name = node.input(i)?;
        if let Some(t) = self.consts.get(name) {
            return Some(t.shape().iter().map(|&d| Some(d as u64)).collect());
        }
        Some(self.known(name)?.shape()?.dims().iter().map(|d| d.fixed()).collect())
    }

    /// The integer values of input `i` when known at export time
    /// (a constant, or shape arithmetic `ir::infer` resolved to numbers).
    pub fn ints(&self, node: &Node, i: usize) -> Option<Vec<i64>> {
        let name = node.input(i).filter(|n| !n.is_empty())?;
        if let Some(t) = self.consts.get(name) {
            return t.to_i64s().ok();
        }
        match &self.known(name)?.value {
            Some(Values::Ints(v)) => v.iter().map(|s| s.int()).collect(),
            _ => None,
        }
    }

    /// The float values of constant input `i`.
    pub fn floats(&self, node: &Node, i: usize) -> Option<Vec<f64>> {
        let name = node.input(i).filter(|n| !n.is_empty())?;
        self.consts.get(name)?.to_f64s().ok()
    }

    /// Input `i` as a `List[int]` expression: a literal when known, else
    /// converted from the tensor at run time (dynamic shapes stay dynamic).
    pub fn list(&self, node: &Node, i: usize) -> std::result::Result<String, String> {
        if let Some(v) = self.ints(node, i) {
            return Ok(int_list(&v));
        }
        Ok(format!("annotate(List[int], ({}).tolist())", self.inp(node, i)?))
    }

    /// Input `i` as an `int` expression.
    pub fn int(&self, node: &Node, i: usize) -> std::result::Result<String, String> {
        match self.ints(node, i).as_deref() {
            Some([v]) => Ok(v.to_string()),
            _ => Ok(format!("int({})", self.inp(node, i)?)),
        }
    }

    /// A fresh local variable name.
    pub fn fresh(&mut self, base: &str) -> String {
        self.vars.fresh(&ident(base))
    }

    /// Adds a tensor to `constants.pkl`; returns its expression.
    pub fn constant(&mut self, t: Tensor) -> std::result::Result<String, String> {
        if pickle::storage_class(t.dtype()).is_none() {
            return Err(format!("torch has no storage for {} constants", t.dtype()));
        }
        self.constants.push(t);
        Ok(format!("CONSTANTS.c{}", self.constants.len() - 1))
    }

    /// Records that `value` (an output just written) is the constant `t`.
    pub fn note_constant(&mut self, value: &str, t: Tensor) {
        self.consts.insert(value.to_string(), t);
    }

    /// Makes initializer `name` a module attribute (subgraphs' too: they are constants).
    fn initializer(&mut self, name: &str, t: &Tensor) {
        if matches!(t.dtype(), DType::I4 | DType::U4)
            && let Some(buf) = t.raw()
            && let Ok(packed) = Tensor::from_raw(DType::U8, vec![buf.len()], buf.clone())
        {
            // torch has no 4-bit dtype: keep the packed bytes and unpack in `forward`.
            let a = self.attr_names.fresh(&format!("{}_packed", ident(name)));
            let var = self.fresh(name);
            self.prologue.push(format!("{var} = {}", unpack4(&format!("self.{a}"), t)));
            self.exprs.insert(name.to_string(), var);
            self.consts.insert(name.to_string(), t.clone());
            self.attrs.push((a, packed));
            return;
        }
        if pickle::storage_class(t.dtype()).is_none() {
            self.problems.push(format!("initializer '{name}' has dtype {}, which torch cannot store", t.dtype()));
            self.exprs.insert(name.to_string(), format!("self.{}", ident(name)));
            return;
        }
        let a = self.attr_names.fresh(&ident(name));
        self.exprs.insert(name.to_string(), format!("self.{a}"));
        self.consts.insert(name.to_string(), t.clone());
        self.attrs.push((a, t.clone()));
    }

    /// Emits a subgraph's nodes with its inputs bound to `inputs`; returns
    /// the statements and the expressions of its outputs.
    pub fn body(&mut self, g: &Graph, inputs: &[String]) -> std::result::Result<(Vec<String>, Vec<String>), String> {
        for (v, e) in g.inputs.iter().zip(inputs) {
            self.exprs.insert(v.name.clone(), e.clone());
        }
        for (name, t) in &g.initializers {
            if !g.inputs.iter().any(|v| &v.name == name) {
                self.initializer(name, t);
            }
        }
        if let Ok(t) = ir::infer::infer(g, self.opset) {
            for (n, k) in t.iter() {
                self.types.entry(n.to_string()).or_insert_with(|| k.clone());
            }
        }
        let before = self.bad.len();
        let lines = self.nodes(g);
        if self.bad.len() > before {
            // The nodes themselves are listed; the enclosing node is not at fault.
            return Ok((lines, Vec::new()));
        }
        let outs = g
            .outputs
            .iter()
            .map(|o| {
                self.exprs.get(&o.name).cloned().ok_or_else(|| format!("subgraph output '{}' is not computed", o.name))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((lines, outs))
    }

    fn nodes(&mut self, g: &Graph) -> Vec<String> {
        let mut lines = Vec::new();
        for node in &g.nodes {
            let label = if node.name.is_empty() {
                node.outputs.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            };
            let canonical = node.domain.is_empty() || node.domain == "ai.onnx";
            let Some(rule) = rule_for(&node.op).filter(|_| canonical) else {
                self.bad.push((node.op.clone(), node.domain.clone(), label));
                continue;
            };
            let outs: Vec<String> =
                node.outputs.iter().map(|o| if o.is_empty() { self.fresh("_unused") } else { self.fresh(o) }).collect();
            // Every rule writes at least its first output (the fuzzers built
            // nodes with none that the schema's arity check let through).
            if outs.is_empty() {
                self.bad.push((node.op.clone(), node.domain.clone(), format!("{label}: no output")));
                continue;
            }
            match (rule.emit)(self, node, &outs) {
                Ok(l) => lines.extend(l),
                Err(why) => self.bad.push((node.op.clone(), node.domain.clone(), format!("{label}: {why}"))),
            }
            for (o, v) in node.outputs.iter().zip(outs) {
                if !o.is_empty() {
                    self.exprs.insert(o.clone(), v);
                }
            }
        }
        lines
    }
}

/// `outs[0] = expr` (or a tuple unpacking for several outputs).
pub(crate) fn assign(outs: &[String], expr: String) -> Emitted {
    Ok(vec![format!("{} = {expr}", outs.join(", "))])
}

/// A generated module: source, attributes and constants.
struct Program {
    module: String,
    source: String,
    attrs: Vec<(String, Tensor)>,
    constants: Vec<Tensor>,
    /// `forward`'s tensor arguments with their declared types, for
    /// [`crate::INPUTS_ENTRY`].
    inputs: Vec<(String, ir::ValueType)>,
}

impl Program {
    fn generate(model: &Model, module: &str) -> Result<Program> {
        let g = &model.graph;
        let opset = model.onnx_opset();
        let mut types = HashMap::new();
        if let Ok(t) = ir::infer::infer(g, opset) {
            for (n, k) in t.iter() {
                types.insert(n.to_string(), k.clone());
            }
        }
        let mut st = Gen {
            opset,
            exprs: HashMap::new(),
            types,
            consts: HashMap::new(),
            vars: NameGen::default(),
            attrs: Vec::new(),
            prologue: Vec::new(),
            attr_names: NameGen::default(),
            problems: Vec::new(),
            constants: Vec::new(),
            bad: Vec::new(),
        };
        for r in RESERVED {
            st.vars.take(r);
        }
        for r in MODULE_NAMES {
            st.attr_names.take(r);
        }
        let input_names: Vec<&str> = g.inputs.iter().map(|v| v.name.as_str()).collect();
        for (name, t) in &g.initializers {
            if !input_names.contains(&name.as_str()) {
                st.initializer(name, t);
            }
        }
        if !g.sparse_initializers.is_empty() {
            st.problems.push("sparse initializers are not written (densify them first)".into());
        }
        let mut params = Vec::new();
        let mut inputs = Vec::new();
        for v in &g.inputs {
            if v.dtype().is_some_and(|d| scalar_type(d).is_none()) {
                st.problems.push(format!("input '{}' has a dtype torch lacks", v.name));
            }
            let var = st.fresh(&v.name);
            st.exprs.insert(v.name.clone(), var.clone());
            inputs.push((var.clone(), v.ty.clone()));
            params.push(var);
        }
        let body = st.nodes(g);
        let mut problems = std::mem::take(&mut st.problems);
        if !st.bad.is_empty() {
            let ops = Error::unsupported_ops(
                "torchscript",
                st.bad.iter().map(|(o, d, n)| (o.as_str(), d.as_str(), n.as_str())),
            );
            if problems.is_empty() {
                return Err(ops);
            }
            problems.push(ops.to_string());
        }
        let mut rets = Vec::new();
        for o in &g.outputs {
            let d = o.dtype().or_else(|| st.known(&o.name).and_then(|k| k.dtype()));
            if let Some(d) = d.filter(|&d| scalar_type(d).is_none()) {
                problems.push(format!("output '{}' has dtype {d}, which torch lacks", o.name));
            }
            match st.exprs.get(&o.name) {
                Some(e) => rets.push(e.clone()),
                None => problems.push(format!("graph output '{}' is not computed", o.name)),
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid(format!("cannot write TorchScript: {}", problems.join("; "))));
        }
        let mut s = String::new();
        let is_param = |t: &Tensor| t.dtype().is_float();
        let list = |p: bool| -> String {
            st.attrs.iter().filter(|(_, t)| is_param(t) == p).map(|(a, _)| format!("\"{a}\", ")).collect()
        };
        let _ = writeln!(s, "class Model(Module):");
        let _ = writeln!(s, "  __parameters__ = [{}]", list(true));
        let _ = writeln!(s, "  __buffers__ = [{}]", list(false));
        for (a, _) in &st.attrs {
            let _ = writeln!(s, "  {a} : Tensor");
        }
        let _ = writeln!(s, "  training : bool");
        let _ = write!(s, "  def forward(self: __torch__.{module}.Model");
        for p in &params {
            let _ = write!(s, ",\n    {p}: Tensor");
        }
        let ret_ty = if rets.len() == 1 {
            "Tensor".to_string()
        } else {
            format!("Tuple[{}]", vec!["Tensor"; rets.len()].join(", "))
        };
        let _ = writeln!(s, ") -> {ret_ty}:");
        for l in st.prologue.iter().chain(&body) {
            let _ = writeln!(s, "    {l}");
        }
        match rets.len() {
            1 => {
                let _ = writeln!(s, "    return {}", rets[0]);
            }
            _ => {
                let _ = writeln!(s, "    return ({}{})", rets.join(", "), if rets.len() == 1 { "," } else { "" });
            }
        }
        Ok(Program { module: module.to_string(), source: s, attrs: st.attrs, constants: st.constants, inputs })
    }

    fn write(&self, path: &Path, top: &str, options: &ExportOptions) -> Result<u64> {
        let mut ar = archive::Archive::create(path, top)?;
        let mut data = Pickler::new();
        data.global(&format!("__torch__.{}", self.module), "Model");
        data.empty_tuple();
        data.newobj();
        data.empty_dict();
        data.mark();
        let mut refs = Vec::new();
        for (k, (a, t)) in self.attrs.iter().enumerate() {
            let r = TensorRef::of(t, k.to_string())
                .ok_or_else(|| Error::invalid(format!("attribute '{a}': torch cannot store {}", t.dtype())))?;
            data.str(a);
            data.tensor(&r);
            refs.push(r);
        }
        data.str("training");
        data.bool(false);
        data.setitems();
        data.build();
        let total: u64 = self.attrs.iter().map(|(_, t)| t.byte_len() as u64).sum();
        options.progress.begin("writing TorchScript storages", total);
        for (k, (a, t)) in self.attrs.iter().enumerate() {
            // A cancel leaves no archive: the uncommitted file is removed.
            options.progress.check_cancelled(path)?;
            let buf = t.raw().ok_or_else(|| Error::invalid(format!("attribute '{a}': no raw bytes")))?;
            ar.buffer(&format!("data/{k}"), buf, &options.progress)?;
        }
        options.progress.end();
        ar.bytes("data.pkl", &data.finish())?;
        let path_in = format!("code/__torch__/{}.py", self.module);
        ar.bytes(&path_in, self.source.as_bytes())?;
        let mut consts = Pickler::new();
        consts.mark();
        for (k, t) in self.constants.iter().enumerate() {
            let r = TensorRef::of(t, k.to_string())
                .ok_or_else(|| Error::invalid(format!("constant {k}: torch cannot store {}", t.dtype())))?;
            consts.tensor(&r);
        }
        consts.tuple();
        for (k, t) in self.constants.iter().enumerate() {
            let buf = t.raw().ok_or_else(|| Error::invalid(format!("constant {k}: no raw bytes")))?;
            ar.buffer(&format!("constants/{k}"), buf, &ir::ProgressHandle::default())?;
        }
        ar.bytes("constants.pkl", &consts.finish())?;
        ar.bytes(crate::INPUTS_ENTRY, crate::input_record(&self.inputs).as_bytes())?;
        ar.bytes("version", b"3\n")?;
        ar.bytes("byteorder", b"little")?;
        ar.bytes(".data/serialization_id", serialization_id(&self.source).as_bytes())?;
        ar.commit()
    }
}

/// Unpacks two 4-bit values per byte (low nibble first) from the uint8
/// attribute `packed` into `t`'s shape; int4 is sign-extended into int8.
fn unpack4(packed: &str, t: &Tensor) -> String {
    let nibbles = format!(
        "torch.flatten(torch.stack([torch.bitwise_and({packed}, 15), torch.bitwise_right_shift({packed}, 4)], -1))"
    );
    let nibbles = if t.dtype() == DType::I4 {
        format!("torch.sub(torch.bitwise_xor(torch.to({nibbles}, 1), 8), 8)")
    } else {
        nibbles
    };
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    format!("torch.reshape(torch.slice({nibbles}, 0, 0, {}), {})", t.numel(), int_list(&shape))
}

/// A 40-digit id as torch writes (it only has to differ between models).
fn serialization_id(source: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut h);
    let a = h.finish();
    a.rotate_left(17).hash(&mut h);
    format!("{:020}{:020}", a, h.finish())
}
