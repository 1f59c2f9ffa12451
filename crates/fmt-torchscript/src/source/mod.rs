//! The TorchScript source in an archive's `code/` folder, parsed into an
//! AST.
//!
//! torch writes a small Python subset: classes with typed attribute
//! declarations, `__parameters__`/`__buffers__` lists, `Final` constants and
//! `__annotations__[...]` entries; `def`s with annotated parameters;
//! assignments (with tuple unpacking), calls with keyword arguments,
//! attribute access, subscripts and slices, list/tuple/dict literals,
//! `if`/`elif`/`else`, `for … in …`, `while`, `return`, `pass`, `raise`
//! and `assert`. Everything else is an error naming `file:line:col`.
//!
//! Nesting is bounded by [`ir::Limits::max_depth`], counted as the depth
//! of the tree being built: each bracket, operand of an operator chain
//! (`a + b + c` nests two deep), attribute, call or subscript applied to a
//! value, and each block or `elif`. The parser's recursion, the AST's
//! (recursive) drop and the interpreter's evaluation all follow that tree,
//! so hostile code cannot overflow the stack.

mod lex;

use std::fmt;

use ir::{Limit, Limits};

use lex::{Tok, lex};

/// A position in a source file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
    /// `@`
    MatMul,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `is`
    Is,
    /// `is not`
    IsNot,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `and` (short-circuit)
    And,
    /// `or` (short-circuit)
    Or,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
    /// `~x`
    Invert,
    /// `not x`
    Not,
}

/// An expression with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A name.
    Name(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// `True`/`False`.
    Bool(bool),
    /// `None`.
    None,
    /// `value.attr`.
    Attr(Box<Expr>, String),
    /// `f(args, name=kwarg)`.
    Call {
        /// The callee.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments.
        kwargs: Vec<(String, Expr)>,
    },
    /// `value[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `start:stop:step` inside a subscript.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{k: v}`.
    Dict(Vec<(Expr, Expr)>),
    /// A unary operation.
    Unary(UnOp, Box<Expr>),
    /// A binary operation or comparison.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `then if cond else other`.
    IfExp {
        /// The condition.
        cond: Box<Expr>,
        /// Its value when true.
        then: Box<Expr>,
        /// Its value when false.
        other: Box<Expr>,
    },
}

/// A parameter of a `def`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its annotation.
    pub ty: Option<Expr>,
    /// Its default value.
    pub default: Option<Expr>,
}

/// A `def`.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDef {
    /// Its name.
    pub name: String,
    /// Its parameters (`self` first for methods).
    pub params: Vec<Param>,
    /// The return annotation.
    pub ret: Option<Expr>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Where it starts.
    pub pos: Pos,
}

/// A `class`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDef {
    /// Its name.
    pub name: String,
    /// Its bases (`Module`).
    pub bases: Vec<Expr>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Where it starts.
    pub pos: Pos,
}

/// A statement with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `a = b = value` (targets may be tuples: `a, b, = value`).
    Assign(Vec<Expr>, Expr),
    /// `target op= value`.
    AugAssign(Expr, BinOp, Expr),
    /// `target : type [= value]`.
    AnnAssign(Expr, Expr, Option<Expr>),
    /// An expression on its own.
    Expr(Expr),
    /// `if cond: then else: other` (`elif` nests).
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `for target in iter: body`.
    For(Expr, Expr, Vec<Stmt>),
    /// `while cond: body`.
    While(Expr, Vec<Stmt>),
    /// `return [value]`.
    Return(Option<Expr>),
    /// `raise [value]`.
    Raise(Option<Expr>),
    /// `assert cond[, message]`.
    Assert(Expr, Option<Expr>),
    /// `pass`.
    Pass,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `import ...`/`from ... import ...` (kept, ignored).
    Import,
    /// A function.
    Def(FuncDef),
    /// A class.
    Class(ClassDef),
}

/// A parse error: position and message (the caller adds the file).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// Parses a whole source file into its statements, nesting bounded by
/// `limits.max_depth`.
pub fn parse(text: &str, limits: &Limits) -> Result<Vec<Stmt>, ParseError> {
    let toks = lex(text).map_err(|(pos, message)| ParseError { pos, message })?;
    let mut p = Parser { toks, i: 0, depth: 0, limits: *limits };
    let mut out = Vec::new();
    while p.peek() != &Tok::End {
        if p.peek() == &Tok::Newline {
            p.bump();
            continue;
        }
        out.push(p.stmt()?);
    }
    Ok(out)
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "elif", "for", "while", "def", "class", "return", "pass", "break",
    "continue", "raise", "assert", "import", "from", "lambda", "with", "try", "except", "finally", "yield", "global",
    "nonlocal", "del", "async", "await",
];

struct Parser {
    /// Never empty: the lexer ends every stream with [`Tok::End`].
    toks: Vec<(Tok, Pos)>,
    i: usize,
    /// Depth of the tree being built (see the module doc).
    depth: usize,
    limits: Limits,
}

type PResult<T> = Result<T, ParseError>;

impl Parser {
    /// The token `k` ahead; past the end, the final [`Tok::End`].
    fn tok_at(&self, k: usize) -> &(Tok, Pos) {
        const END: &(Tok, Pos) = &(Tok::End, Pos { line: 0, col: 0 });
        self.toks.get(self.i.saturating_add(k)).or(self.toks.last()).unwrap_or(END)
    }

    fn peek(&self) -> &Tok {
        &self.tok_at(0).0
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tok_at(k).0
    }

    fn pos(&self) -> Pos {
        self.tok_at(0).1
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i.saturating_add(1) < self.toks.len() {
            self.i += 1;
        }
        t
    }

    /// One level deeper into the tree; an error past `max_depth`. The
    /// caller restores `depth` when the level is done (errors end the parse).
    fn deeper(&mut self) -> PResult<()> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.limits.max_depth {
            return self.err(self.limits.message(Limit::Depth, "source nested too deeply"));
        }
        Ok(())
    }

    /// `f` one level deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.deeper()?;
        let r = f(self);
        self.depth = self.depth.saturating_sub(1);
        r
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError { pos: self.pos(), message: message.into() })
    }

    fn describe(t: &Tok) -> String {
        match t {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Int(i) => format!("'{i}'"),
            Tok::Float(f) => format!("'{f}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Op(o) => format!("'{o}'"),
            Tok::Newline => "end of line".into(),
            Tok::Indent => "an indent".into(),
            Tok::Dedent => "a dedent".into(),
            Tok::End => "end of file".into(),
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.is_op(op);
        if yes {
            self.bump();
        }
        yes
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.bump();
        }
        yes
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.err(format!("expected '{op}', found {}", Self::describe(self.peek())))
        }
    }

    fn name(&mut self) -> PResult<String> {
        match self.peek() {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => {
                let n = n.clone();
                self.bump();
                Ok(n)
            }
            t => self.err(format!("expected a name, found {}", Self::describe(t))),
        }
    }

    fn end_of_line(&mut self) -> PResult<()> {
        match self.peek() {
            Tok::Newline => {
                self.bump();
                Ok(())
            }
            Tok::End | Tok::Dedent => Ok(()),
            t => self.err(format!("expected end of line, found {}", Self::describe(t))),
        }
    }

    fn block(&mut self) -> PResult<Vec<Stmt>> {
        self.nested(Self::block_body)
    }

    fn block_body(&mut self) -> PResult<Vec<Stmt>> {
        self.expect_op(":")?;
        if self.peek() != &Tok::Newline {
            // `if c: stmt` on one line.
            return Ok(vec![self.simple_stmt()?]);
        }
        self.bump();
        if self.peek() != &Tok::Indent {
            return self.err("expected an indented block");
        }
        self.bump();
        let mut body = Vec::new();
        while !matches!(self.peek(), Tok::Dedent | Tok::End) {
            if self.peek() == &Tok::Newline {
                self.bump();
                continue;
            }
            body.push(self.stmt()?);
        }
        if self.peek() == &Tok::Dedent {
            self.bump();
        }
        Ok(body)
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        let pos = self.pos();
        if self.peek() == &Tok::Indent {
            return self.err("unexpected indent");
        }
        let kind = if self.eat_kw("if") {
            self.if_rest()?
        } else if self.eat_kw("while") {
            let cond = self.expr()?;
            StmtKind::While(cond, self.block()?)
        } else if self.eat_kw("for") {
            let target = self.target_list()?;
            if !self.eat_kw("in") {
                return self.err("expected 'in'");
            }
            let iter = self.expr_list()?;
            StmtKind::For(target, iter, self.block()?)
        } else if self.eat_kw("def") {
            StmtKind::Def(self.def_rest(pos)?)
        } else if self.eat_kw("class") {
            let name = self.name()?;
            let mut bases = Vec::new();
            if self.eat_op("(") {
                while !self.eat_op(")") {
                    bases.push(self.expr()?);
                    if !self.is_op(")") {
                        self.expect_op(",")?;
                    }
                }
            }
            StmtKind::Class(ClassDef { name, bases, body: self.block()?, pos })
        } else {
            return self.simple_stmt();
        };
        Ok(Stmt { kind, pos })
    }

    fn if_rest(&mut self) -> PResult<StmtKind> {
        let cond = self.expr()?;
        let then = self.block()?;
        let other = if self.is_kw("elif") {
            let pos = self.pos();
            self.bump();
            vec![Stmt { kind: self.nested(Self::if_rest)?, pos }]
        } else if self.eat_kw("else") {
            self.block()?
        } else {
            Vec::new()
        };
        Ok(StmtKind::If(cond, then, other))
    }

    fn def_rest(&mut self, pos: Pos) -> PResult<FuncDef> {
        let name = self.name()?;
        self.expect_op("(")?;
        let mut params = Vec::new();
        while !self.eat_op(")") {
            self.eat_op("*");
            if self.is_op(",") {
                self.bump();
                continue;
            }
            let pname = self.name()?;
            let ty = if self.eat_op(":") { Some(self.expr()?) } else { None };
            let default = if self.eat_op("=") { Some(self.expr()?) } else { None };
            params.push(Param { name: pname, ty, default });
            if !self.is_op(")") {
                self.expect_op(",")?;
            }
        }
        let ret = if self.eat_op("->") { Some(self.expr()?) } else { None };
        Ok(FuncDef { name, params, ret, body: self.block()?, pos })
    }

    fn simple_stmt(&mut self) -> PResult<Stmt> {
        let pos = self.pos();
        let kind = match self.peek() {
            Tok::Name(n) => match n.as_str() {
                "pass" => {
                    self.bump();
                    StmtKind::Pass
                }
                "break" => {
                    self.bump();
                    StmtKind::Break
                }
                "continue" => {
                    self.bump();
                    StmtKind::Continue
                }
                "return" => {
                    self.bump();
                    let v = if matches!(self.peek(), Tok::Newline | Tok::End | Tok::Dedent) {
                        None
                    } else {
                        Some(self.expr_list()?)
                    };
                    StmtKind::Return(v)
                }
                "raise" => {
                    self.bump();
                    let v = if matches!(self.peek(), Tok::Newline | Tok::End | Tok::Dedent) {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    if self.eat_kw("from") {
                        self.expr()?;
                    }
                    StmtKind::Raise(v)
                }
                "assert" => {
                    self.bump();
                    let c = self.expr()?;
                    let m = if self.eat_op(",") { Some(self.expr()?) } else { None };
                    StmtKind::Assert(c, m)
                }
                "import" | "from" => {
                    while !matches!(self.peek(), Tok::Newline | Tok::End) {
                        self.bump();
                    }
                    StmtKind::Import
                }
                _ => self.expr_stmt()?,
            },
            _ => self.expr_stmt()?,
        };
        self.end_of_line()?;
        Ok(Stmt { kind, pos })
    }

    fn expr_stmt(&mut self) -> PResult<StmtKind> {
        let first = self.expr_list()?;
        if self.eat_op(":") {
            let ty = self.expr()?;
            let value = if self.eat_op("=") { Some(self.expr_list()?) } else { None };
            return Ok(StmtKind::AnnAssign(first, ty, value));
        }
        const AUG: &[(&str, BinOp)] = &[
            ("+=", BinOp::Add),
            ("-=", BinOp::Sub),
            ("*=", BinOp::Mul),
            ("/=", BinOp::Div),
            ("//=", BinOp::FloorDiv),
            ("%=", BinOp::Mod),
            ("**=", BinOp::Pow),
            ("&=", BinOp::BitAnd),
            ("|=", BinOp::BitOr),
            ("^=", BinOp::BitXor),
            ("<<=", BinOp::Shl),
            (">>=", BinOp::Shr),
            ("@=", BinOp::MatMul),
        ];
        if let Some(&(_, op)) = AUG.iter().find(|(o, _)| self.is_op(o)) {
            self.bump();
            return Ok(StmtKind::AugAssign(first, op, self.expr_list()?));
        }
        if !self.is_op("=") {
            return Ok(StmtKind::Expr(first));
        }
        let mut parts = vec![first];
        while self.eat_op("=") {
            parts.push(self.expr_list()?);
        }
        let value = parts.pop().expect("at least two parts");
        Ok(StmtKind::Assign(parts, value))
    }

    /// `a, b, c` (a tuple when there is a comma) for targets of `for`.
    fn target_list(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let mut items = vec![self.postfix()?];
        let mut tuple = false;
        while self.eat_op(",") {
            tuple = true;
            if self.is_kw("in") {
                break;
            }
            items.push(self.postfix()?);
        }
        Ok(if tuple { Expr { kind: ExprKind::Tuple(items), pos } } else { items.pop().expect("one item") })
    }

    /// `a, b,` (a tuple when there is a comma) or one expression.
    fn expr_list(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let first = self.expr()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if matches!(self.peek(), Tok::Newline | Tok::End | Tok::Dedent) || self.is_op("=") || self.is_op(")") {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Expr { kind: ExprKind::Tuple(items), pos })
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(Self::ternary)
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let then = self.or_expr()?;
        if self.eat_kw("if") {
            let cond = self.or_expr()?;
            if !self.eat_kw("else") {
                return self.err("expected 'else' in a conditional expression");
            }
            let other = self.expr()?;
            return Ok(Expr {
                kind: ExprKind::IfExp { cond: cond.into(), then: then.into(), other: other.into() },
                pos,
            });
        }
        Ok(then)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.and_expr()?;
        while self.is_kw("or") {
            let pos = self.pos();
            self.bump();
            self.deeper()?;
            let r = self.and_expr()?;
            l = Expr { kind: ExprKind::Binary(BinOp::Or, l.into(), r.into()), pos };
        }
        self.depth = base;
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.not_expr()?;
        while self.is_kw("and") {
            let pos = self.pos();
            self.bump();
            self.deeper()?;
            let r = self.not_expr()?;
            l = Expr { kind: ExprKind::Binary(BinOp::And, l.into(), r.into()), pos };
        }
        self.depth = base;
        Ok(l)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        if self.eat_kw("not") {
            let e = self.nested(Self::not_expr)?;
            return Ok(Expr { kind: ExprKind::Unary(UnOp::Not, e.into()), pos });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut l = self.binary(0)?;
        loop {
            let pos = self.pos();
            let op = match self.peek() {
                Tok::Op("==") => BinOp::Eq,
                Tok::Op("!=") => BinOp::Ne,
                Tok::Op("<") => BinOp::Lt,
                Tok::Op("<=") => BinOp::Le,
                Tok::Op(">") => BinOp::Gt,
                Tok::Op(">=") => BinOp::Ge,
                Tok::Name(n) if n == "in" => BinOp::In,
                Tok::Name(n) if n == "is" => {
                    if matches!(self.peek_at(1), Tok::Name(m) if m == "not") {
                        self.bump();
                        BinOp::IsNot
                    } else {
                        BinOp::Is
                    }
                }
                Tok::Name(n) if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") => {
                    self.bump();
                    BinOp::NotIn
                }
                _ => {
                    self.depth = base;
                    return Ok(l);
                }
            };
            self.bump();
            self.deeper()?;
            let r = self.binary(0)?;
            l = Expr { kind: ExprKind::Binary(op, l.into(), r.into()), pos };
        }
    }

    /// Binary operators at or above precedence `min` (precedence climbing:
    /// one frame per operand, not one per level).
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        const OPS: &[(&str, BinOp, u8)] = &[
            ("|", BinOp::BitOr, 0),
            ("^", BinOp::BitXor, 1),
            ("&", BinOp::BitAnd, 2),
            ("<<", BinOp::Shl, 3),
            (">>", BinOp::Shr, 3),
            ("+", BinOp::Add, 4),
            ("-", BinOp::Sub, 4),
            ("*", BinOp::Mul, 5),
            ("/", BinOp::Div, 5),
            ("//", BinOp::FloorDiv, 5),
            ("%", BinOp::Mod, 5),
            ("@", BinOp::MatMul, 5),
        ];
        let base = self.depth;
        let mut l = self.unary()?;
        loop {
            let pos = self.pos();
            let Some(&(_, op, prec)) = OPS.iter().find(|(o, _, p)| *p >= min && self.is_op(o)) else {
                self.depth = base;
                return Ok(l);
            };
            self.bump();
            self.deeper()?;
            let r = self.binary(prec.saturating_add(1))?;
            l = Expr { kind: ExprKind::Binary(op, l.into(), r.into()), pos };
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let op = match self.peek() {
            Tok::Op("-") => UnOp::Neg,
            Tok::Op("+") => UnOp::Pos,
            Tok::Op("~") => UnOp::Invert,
            _ => return self.power(),
        };
        self.bump();
        let e = self.nested(Self::unary)?;
        Ok(Expr { kind: ExprKind::Unary(op, e.into()), pos })
    }

    fn power(&mut self) -> PResult<Expr> {
        let base = self.postfix()?;
        if self.is_op("**") {
            let pos = self.pos();
            self.bump();
            let e = self.nested(Self::unary)?;
            return Ok(Expr { kind: ExprKind::Binary(BinOp::Pow, base.into(), e.into()), pos });
        }
        Ok(base)
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let base = self.depth;
        let mut e = self.atom()?;
        loop {
            let pos = e.pos;
            if self.is_op(".") || self.is_op("(") || self.is_op("[") {
                self.deeper()?;
            }
            if self.eat_op(".") {
                let attr = match self.bump() {
                    Tok::Name(n) => n,
                    t => return self.err(format!("expected an attribute name, found {}", Self::describe(&t))),
                };
                e = Expr { kind: ExprKind::Attr(e.into(), attr), pos };
            } else if self.eat_op("(") {
                let (mut args, mut kwargs) = (Vec::new(), Vec::new());
                while !self.eat_op(")") {
                    if let (Tok::Name(n), Tok::Op("=")) = (self.peek(), self.peek_at(1)) {
                        let n = n.clone();
                        self.bump();
                        self.bump();
                        kwargs.push((n, self.expr()?));
                    } else {
                        self.eat_op("*");
                        args.push(self.expr()?);
                    }
                    if !self.is_op(")") {
                        self.expect_op(",")?;
                    }
                }
                e = Expr { kind: ExprKind::Call { func: e.into(), args, kwargs }, pos };
            } else if self.eat_op("[") {
                let ipos = self.pos();
                let mut items = vec![self.subscript()?];
                let mut tuple = false;
                while self.eat_op(",") {
                    tuple = true;
                    if self.is_op("]") {
                        break;
                    }
                    items.push(self.subscript()?);
                }
                self.expect_op("]")?;
                let index =
                    if tuple { Expr { kind: ExprKind::Tuple(items), pos: ipos } } else { items.pop().expect("one") };
                e = Expr { kind: ExprKind::Index(e.into(), index.into()), pos };
            } else {
                self.depth = base;
                return Ok(e);
            }
        }
    }

    fn subscript(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let start = if self.is_op(":") { None } else { Some(self.expr()?) };
        if !self.eat_op(":") {
            return start.map_or_else(|| self.err("empty subscript"), Ok);
        }
        let bound = |p: &mut Self| -> PResult<Option<Box<Expr>>> {
            Ok(if p.is_op(":") || p.is_op("]") || p.is_op(",") { None } else { Some(Box::new(p.expr()?)) })
        };
        let stop = bound(self)?;
        let step = if self.eat_op(":") { bound(self)? } else { None };
        Ok(Expr { kind: ExprKind::Slice(start.map(Box::new), stop, step), pos })
    }

    fn atom(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let kind = match self.bump() {
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Str(mut s) => {
                // Adjacent literals concatenate.
                while let Tok::Str(t) = self.peek() {
                    s.push_str(t);
                    self.bump();
                }
                ExprKind::Str(s)
            }
            Tok::Name(n) => match n.as_str() {
                "True" => ExprKind::Bool(true),
                "False" => ExprKind::Bool(false),
                "None" => ExprKind::None,
                k if KEYWORDS.contains(&k) => {
                    self.i -= 1;
                    return self.err(format!("unexpected keyword '{k}'"));
                }
                _ => ExprKind::Name(n),
            },
            Tok::Op("(") => {
                if self.eat_op(")") {
                    ExprKind::Tuple(Vec::new())
                } else {
                    let first = self.expr()?;
                    if self.eat_op(")") {
                        return Ok(first);
                    }
                    let mut items = vec![first];
                    while self.eat_op(",") {
                        if self.is_op(")") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                    self.expect_op(")")?;
                    ExprKind::Tuple(items)
                }
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    items.push(self.expr()?);
                    if !self.is_op("]") {
                        self.expect_op(",")?;
                    }
                }
                ExprKind::List(items)
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.eat_op("}") {
                    let k = self.expr()?;
                    self.expect_op(":")?;
                    items.push((k, self.expr()?));
                    if !self.is_op("}") {
                        self.expect_op(",")?;
                    }
                }
                ExprKind::Dict(items)
            }
            t => {
                self.i -= 1;
                return self.err(format!("expected an expression, found {}", Self::describe(&t)));
            }
        };
        Ok(Expr { kind, pos })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Stmt>, ParseError> {
        super::parse(text, &Limits::default())
    }

    #[test]
    fn parses_a_traced_class() {
        let src = "class Conv2d(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = []\n  weight : Tensor\n  training : bool\n  _is_full_backward_hook : Optional[bool]\n  __annotations__[\"0\"] = __torch__.torch.nn.Linear\n  def forward(self: __torch__.Conv2d,\n    x: Tensor) -> Tensor:\n    weight = self.weight\n    input = torch._convolution(x, weight, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1, False, False, True, True)\n    q, k, v, = torch.chunk(input, 3, -1)\n    return torch.div(q, 2, rounding_mode=\"trunc\")\n";
        let stmts = parse(src).unwrap();
        let StmtKind::Class(c) = &stmts[0].kind else { panic!() };
        assert_eq!(c.name, "Conv2d");
        assert_eq!(c.body.len(), 7);
        let StmtKind::Def(f) = &c.body[6].kind else { panic!() };
        assert_eq!(f.params.len(), 2);
        assert_eq!(f.body.len(), 4);
        let StmtKind::Assign(t, _) = &f.body[2].kind else { panic!() };
        assert!(matches!(&t[0].kind, ExprKind::Tuple(v) if v.len() == 3));
        let StmtKind::Return(Some(Expr { kind: ExprKind::Call { kwargs, .. }, .. })) = &f.body[3].kind else {
            panic!()
        };
        assert_eq!(kwargs[0].0, "rounding_mode");
    }

    #[test]
    fn control_flow_and_precedence() {
        let src = "def f(x: Tensor, n: int=3) -> Tensor:\n  if bool(x):\n    y = 1\n  elif n > 2 and not n == 4:\n    y = 2\n  else:\n    y = -2 ** 2 + 3 * 4 // 5\n  for i in range(n):\n    y += i\n  while y < 10:\n    y, n = y * 2, n\n  return x[0:2, :, -1] if y is not None else x\n";
        let stmts = parse(src).unwrap();
        let StmtKind::Def(f) = &stmts[0].kind else { panic!() };
        assert_eq!(f.params[1].default.as_ref().unwrap().kind, ExprKind::Int(3));
        let StmtKind::If(_, _, other) = &f.body[0].kind else { panic!() };
        let StmtKind::If(_, _, last) = &other[0].kind else { panic!() };
        let StmtKind::Assign(_, e) = &last[0].kind else { panic!() };
        // -(2 ** 2) + ((3 * 4) // 5)
        let ExprKind::Binary(BinOp::Add, l, r) = &e.kind else { panic!("{e:?}") };
        assert!(matches!(&l.kind, ExprKind::Unary(UnOp::Neg, p) if matches!(p.kind, ExprKind::Binary(BinOp::Pow, ..))));
        assert!(matches!(&r.kind, ExprKind::Binary(BinOp::FloorDiv, ..)));
        assert!(matches!(&f.body[1].kind, StmtKind::For(..)));
        assert!(matches!(&f.body[2].kind, StmtKind::While(..)));
        assert!(matches!(&f.body[3].kind, StmtKind::Return(Some(Expr { kind: ExprKind::IfExp { .. }, .. }))));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("def f(x):\n  y = (1 +\n").unwrap_err();
        assert_eq!(e.pos.line, 3, "{e}");
        let e = parse("class A:\n  x = 1\n   y = 2\n").unwrap_err();
        assert_eq!(e.to_string(), "3:4: unexpected indent");
        let e = parse("def f():\n  return $\n").unwrap_err();
        assert_eq!(e.to_string(), "2:10: unexpected character '$'");
        let e = parse("x = 'abc\n").unwrap_err();
        assert!(e.to_string().starts_with("1:5: unterminated string"), "{e}");
        let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).unwrap_err().message.contains("too deeply"));
        // Chains, blocks and elifs count too: each nests the tree one deeper.
        let chains = [
            format!("x = a{}\n", " + a".repeat(5000)),
            format!("x = a{}\n", ".b".repeat(5000)),
            format!("x = a{}\n", "()".repeat(5000)),
            format!("x = a{}\n", " ** a".repeat(5000)),
            format!("x = a{}\n", " and a".repeat(5000)),
            format!("x = a{}\n", " < a".repeat(5000)),
            format!("if a:\n  pass\n{}", "elif a:\n  pass\n".repeat(5000)),
            (0..5000).map(|i| format!("{}if a:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(5000) + "pass\n",
        ];
        for src in &chains {
            let e = parse(src).unwrap_err();
            assert!(e.message.contains("--max-depth"), "{e}");
        }
        let limits = Limits { max_depth: 6000, ..Limits::default() };
        assert!(super::parse(&chains[0], &limits).is_ok());
        let e = parse("def f(1):\n  pass\n").unwrap_err();
        assert!(e.to_string().starts_with("1:7:"), "{e}");
    }
}
