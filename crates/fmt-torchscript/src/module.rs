//! A TorchScript archive as the lowering sees it: the module tree from
//! `data.pkl` (tensors already views into the `data/` storages), the
//! constants of `constants.pkl`, and the source of each class, parsed on
//! first use from `code/`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use ir::{Error, Limit, Limits, Result, Tensor};

use crate::archive::Archive;
use crate::pickle::{self, Value};
use crate::source::{self, ClassDef, FuncDef, Stmt, StmtKind};
use crate::tensor::materialize;

/// One module (an instance of a `__torch__` class) of the tree.
#[derive(Debug)]
pub struct Module {
    /// The qualified class name (`__torch__.torch.nn.modules.conv.Conv2d`).
    pub class: String,
    /// The dotted attribute path from the root (`""` for the root,
    /// `block.conv1`): parameter names are this plus the attribute.
    pub path: String,
    /// Attributes in pickle order.
    pub attrs: Vec<(String, Attr)>,
}

/// A module attribute.
#[derive(Debug, Clone)]
pub enum Attr {
    /// A submodule.
    Module(Rc<Module>),
    /// A tensor (parameter, buffer or tensor attribute).
    Tensor(Tensor),
    /// Any other value (`training`, ints, lists, ...).
    Value(Value),
}

impl Module {
    /// The attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
}

/// A parsed source file.
#[derive(Debug)]
pub struct SourceFile {
    /// Its archive entry name (`code/__torch__/model.py`).
    pub name: String,
    /// Its top-level statements.
    pub stmts: Vec<Stmt>,
}

/// An opened TorchScript archive.
#[derive(Debug)]
pub struct ScriptArchive {
    /// The zip.
    pub archive: Archive,
    /// The root module.
    pub root: Rc<Module>,
    /// `CONSTANTS.c<i>`, in order.
    pub constants: Vec<Attr>,
    /// The limits it was opened with (source nesting, call depth).
    pub limits: Limits,
    files: RefCell<HashMap<String, Rc<SourceFile>>>,
}

/// Largest source file parsed. Real ones are kilobytes to a few MB; the
/// lexer holds 4 bytes per character and up to a 40-byte token per
/// character, so this bounds what a crafted file can make it allocate.
const MAX_SOURCE: u64 = 16 << 20;

fn bad(path: &Path, m: impl Into<String>) -> Error {
    Error::malformed(path, m)
}

/// Where module attributes are read from.
struct Tree<'a> {
    archive: &'a Archive,
    /// The archive folder of the storages (`data`, `constants`).
    dir: &'a str,
    limits: &'a Limits,
}

impl Tree<'_> {
    /// Converts a pickled value, materializing tensors from `dir/<key>` storages.
    fn attr_of(&self, path: &str, v: Value, depth: usize) -> Result<Attr> {
        Ok(match v {
            Value::Object { class, state } => {
                Attr::Module(Rc::new(self.module_of(path, class, *state, depth.saturating_add(1))?))
            }
            Value::Tensor(t) => {
                let bytes = self.archive.read(&format!("{}/{}", self.dir, t.storage.key))?;
                Attr::Tensor(materialize(&t, &bytes, self.archive.path(), self.limits)?)
            }
            v => Attr::Value(v),
        })
    }

    fn module_of(&self, path: &str, class: String, state: Value, depth: usize) -> Result<Module> {
        let archive = self.archive;
        // The pickle reader bounded the value's depth already; this names the module.
        self.limits.check(Limit::Depth, depth as u64, archive.path(), &format!("module '{path}' ({class})"))?;
        let pairs = match state {
            Value::Dict(pairs) => pairs,
            Value::None => Vec::new(),
            v => return Err(bad(archive.path(), format!("state of '{path}' ({class}) is a {}, not a dict", v.kind()))),
        };
        let mut attrs = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Value::Str(k) = k else {
                return Err(bad(archive.path(), format!("'{path}' ({class}) has a non-string attribute name")));
            };
            let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            attrs.push((k, self.attr_of(&sub, v, depth)?));
        }
        Ok(Module { class, path: path.to_string(), attrs })
    }
}

impl ScriptArchive {
    /// Reads the archive at `path` with the default [`Limits`]; see [`ScriptArchive::open_with`].
    pub fn open(path: &Path) -> Result<ScriptArchive> {
        ScriptArchive::open_with(path, &Limits::default())
    }

    /// Reads the archive at `path` under `limits`: module tree and
    /// constants (code is read on demand).
    pub fn open_with(path: &Path, limits: &Limits) -> Result<ScriptArchive> {
        let archive = Archive::open(path, limits)?;
        if !archive.contains("data.pkl") {
            return Err(bad(path, "zip archive has no data.pkl: not a TorchScript archive"));
        }
        if archive.contains("byteorder") && archive.read_text("byteorder")?.trim() != "little" {
            return Err(bad(path, "big-endian storages are not read"));
        }
        let unpickle = |name: &str| -> Result<Value> {
            let bytes = archive.read(name)?;
            pickle::read(&bytes, limits).map(|(v, _)| v).map_err(|m| bad(path, format!("{name}: {m}")))
        };
        let root = match unpickle("data.pkl")? {
            Value::Object { class, state } => {
                Tree { archive: &archive, dir: "data", limits }.module_of("", class, *state, 0)?
            }
            v => {
                return Err(bad(
                    path,
                    format!("data.pkl holds a {}, not a module (a torch.save file? use it with --weights)", v.kind()),
                ));
            }
        };
        let mut constants = Vec::new();
        if archive.contains("constants.pkl") {
            let items = match unpickle("constants.pkl")? {
                Value::Tuple(v) | Value::List(v) => v,
                v => return Err(bad(path, format!("constants.pkl holds a {}, not a tuple", v.kind()))),
            };
            let tree = Tree { archive: &archive, dir: "constants", limits };
            for v in items {
                constants.push(tree.attr_of("", v, 0)?);
            }
        }
        Ok(ScriptArchive {
            archive,
            root: Rc::new(root),
            constants,
            limits: *limits,
            files: RefCell::new(HashMap::new()),
        })
    }

    /// The parsed source file of a module qualifier (`__torch__.a.b`).
    pub fn file(&self, qualifier: &str) -> Result<Rc<SourceFile>> {
        if let Some(f) = self.files.borrow().get(qualifier) {
            return Ok(f.clone());
        }
        let name = format!("code/{}.py", qualifier.replace('.', "/"));
        if let Some(size) = self.archive.size(&name).filter(|&s| s > MAX_SOURCE) {
            return Err(bad(
                self.archive.path(),
                format!("{name} is {size} bytes of source (at most {MAX_SOURCE} are parsed)"),
            ));
        }
        let text = self.archive.read_text(&name)?;
        let stmts = source::parse(&text, &self.limits).map_err(|e| bad(self.archive.path(), format!("{name}:{e}")))?;
        let f = Rc::new(SourceFile { name, stmts });
        self.files.borrow_mut().insert(qualifier.to_string(), f.clone());
        Ok(f)
    }

    /// The class `qualname` (`__torch__.a.b.C`) and the file it is in.
    pub fn class(&self, qualname: &str) -> Result<(Rc<SourceFile>, ClassDef)> {
        let (qualifier, name) = qualname
            .rsplit_once('.')
            .ok_or_else(|| bad(self.archive.path(), format!("class name '{qualname}' has no module")))?;
        let file = self.file(qualifier)?;
        let class = file
            .stmts
            .iter()
            .find_map(|s| match &s.kind {
                StmtKind::Class(c) if c.name == name => Some(c.clone()),
                _ => None,
            })
            .ok_or_else(|| bad(self.archive.path(), format!("{}: no class '{name}'", file.name)))?;
        Ok((file, class))
    }

    /// The method `method` of class `qualname`.
    pub fn method(&self, qualname: &str, method: &str) -> Result<(Rc<SourceFile>, FuncDef)> {
        let (file, class) = self.class(qualname)?;
        let f = class
            .body
            .iter()
            .find_map(|s| match &s.kind {
                StmtKind::Def(f) if f.name == method => Some(f.clone()),
                _ => None,
            })
            .ok_or_else(|| {
                bad(self.archive.path(), format!("{}: class '{}' has no method '{method}'", file.name, class.name))
            })?;
        Ok((file, f))
    }

    /// The free function `qualname` (`__torch__.a.f`), if the code defines one.
    pub fn function(&self, qualname: &str) -> Result<(Rc<SourceFile>, FuncDef)> {
        let (qualifier, name) = qualname
            .rsplit_once('.')
            .ok_or_else(|| bad(self.archive.path(), format!("function name '{qualname}' has no module")))?;
        let file = self.file(qualifier)?;
        let f = file
            .stmts
            .iter()
            .find_map(|s| match &s.kind {
                StmtKind::Def(f) if f.name == name => Some(f.clone()),
                _ => None,
            })
            .ok_or_else(|| bad(self.archive.path(), format!("{}: no function '{name}'", file.name)))?;
        Ok((file, f))
    }

    /// Parses every `.py` file of `code/` (a check that the whole archive's source is readable).
    pub fn parse_all(&self) -> Result<usize> {
        let names: Vec<String> = self
            .archive
            .names()
            .into_iter()
            .filter(|n| n.starts_with("code/") && n.ends_with(".py"))
            .map(str::to_string)
            .collect();
        for n in &names {
            let q = n.trim_start_matches("code/").trim_end_matches(".py").replace('/', ".");
            self.file(&q)?;
        }
        Ok(names.len())
    }
}
