//! Surface expressions → IR expressions: name resolution and type checking.
//!
//! Every node is checked with the type its context wants (`want`), which is
//! what gives an unsuffixed literal its type. A node whose check failed yields
//! `None` after reporting its error; its parents then stay silent, so one
//! mistake gives one message.

use std::sync::Arc;

use syn::Ident;

use super::expr::{SBin, SExpr, SKind};
use super::limits::MAX_INDEX_MAGNITUDE;
use super::{ty_name, Ctx, Sp};
use crate::ir::{Analyzer, BinOp, Const, DataType, Expr, IterKind, Load, UnOp, Var};

/// What a buffer is to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BufKind {
    Input,
    Output,
    Alloc,
    /// A parameter whose declaration did not parse: not checked further.
    Broken,
}

/// A declared buffer; `None` parts had an error already reported.
#[derive(Clone, Debug)]
pub(crate) struct BufInfo {
    pub name: Ident,
    pub dtype: Option<DataType>,
    pub shape: Option<Vec<i64>>,
    pub kind: BufKind,
    /// The symbolic dimension (an index into `State::dims`) that is its first
    /// dimension.
    pub sym: Option<usize>,
}

/// An enclosing loop: its name in the source and its IR variable.
#[derive(Clone, Debug)]
pub(crate) struct LoopVar {
    pub ident: Ident,
    pub var: Var,
    pub extent: Option<i64>,
    /// Its extent is a symbolic dimension (an index into `State::dims`).
    pub sym: Option<usize>,
}

/// A block axis declared so far.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub ident: Ident,
    pub var: Var,
    pub kind: IterKind,
    pub extent: Option<i64>,
    pub binding: Option<Expr>,
    /// Its extent is a symbolic dimension (an index into `State::dims`).
    pub sym: Option<usize>,
}

/// Which names an expression may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// An axis binding: enclosing loop variables and integer constants.
    Binding,
    /// A block's init and store: its axes and the buffers.
    Body,
}

/// The checker for the expressions of one block.
pub(crate) struct Lower<'a> {
    pub mode: Mode,
    pub loops: &'a [LoopVar],
    pub axes: &'a [Axis],
    pub bufs: &'a [BufInfo],
    pub ctx: &'a mut Ctx,
    /// Ranges of the variables in scope (loops in `Binding` mode, axes in `Body`).
    pub an: Analyzer,
    /// Positive while inside a branch whose condition restricts the indices in
    /// a way the ranges do not capture: bounds are then not checked.
    pub opaque: u32,
    /// Buffers loaded, with the span of each load, in order.
    pub reads: Vec<(String, Sp)>,
    /// The names of the symbolic dimensions (for messages).
    pub sym_names: Vec<String>,
    /// The axes over symbolic dimensions used as the first index of a buffer.
    pub sym_used: Vec<Var>,
}

/// `mismatched types` message for the operands of `what`.
pub(crate) fn mismatch(what: &str, a: DataType, b: DataType) -> String {
    let hint = match (a, b) {
        (DataType::Index, t) | (t, DataType::Index) if t.is_element() => {
            format!("; convert the index with `as {}`", t.rust_name())
        }
        _ => String::new(),
    };
    format!("mismatched types: `{}` and `{}` operands of {what}{hint}", ty_name(a), ty_name(b))
}

impl<'a> Lower<'a> {
    pub fn new(mode: Mode, loops: &'a [LoopVar], axes: &'a [Axis], bufs: &'a [BufInfo], ctx: &'a mut Ctx) -> Self {
        let mut an = Analyzer::new();
        match mode {
            Mode::Binding => {
                for l in loops {
                    if let Some(e) = l.extent {
                        an.bind(&l.var, e);
                    }
                }
            }
            Mode::Body => {
                for a in axes {
                    if let Some(e) = a.extent {
                        an.bind(&a.var, e);
                    }
                }
            }
        }
        Lower { mode, loops, axes, bufs, ctx, an, opaque: 0, reads: vec![], sym_names: vec![], sym_used: vec![] }
    }

    pub fn buf(&self, name: &Ident) -> Option<&'a BufInfo> {
        self.bufs.iter().find(|b| b.name == *name)
    }

    fn loop_var(&self, name: &Ident) -> Option<&'a LoopVar> {
        self.loops.iter().rev().find(|l| l.ident == *name)
    }

    fn axis(&self, name: &Ident) -> Option<&'a Axis> {
        self.axes.iter().find(|a| a.ident == *name)
    }

    /// The type an expression has on its own, without context (`None` for
    /// untyped literals and for names that do not resolve).
    pub fn natural(&self, e: &SExpr) -> Option<DataType> {
        match &e.kind {
            SKind::Ident(id) => match self.mode {
                Mode::Body => self.axis(id).map(|_| DataType::Index),
                Mode::Binding => self.loop_var(id).map(|_| DataType::Index),
            },
            SKind::Index(b, _) => self.buf(b).and_then(|b| b.dtype),
            SKind::Int(_, t) | SKind::Float(_, t) => *t,
            SKind::Bool(_) => Some(DataType::Bool),
            SKind::Const(t, _) | SKind::Cast(_, t) => Some(*t),
            SKind::Neg(a) => self.natural(a),
            SKind::Not(_) => Some(DataType::Bool),
            SKind::Binary(op, _, a, b) => {
                if op.is_compare() || op.is_logic() {
                    Some(DataType::Bool)
                } else {
                    self.natural(a).or_else(|| self.natural(b))
                }
            }
            SKind::Call { name, args, ty, .. } => ty.or_else(|| match (name.to_string().as_str(), args.as_slice()) {
                ("max" | "min", [a, b]) => self.natural(a).or_else(|| self.natural(b)),
                // `abs` keeps any number's type; the others take a float (an
                // index argument is an error of the call, not of its user).
                ("abs", [a]) => self.natural(a),
                (f, [a]) if UnOp::function(f).is_some() => self.natural(a).filter(|t| t.is_float()),
                ("select", [_, t, f]) => self.natural(t).or_else(|| self.natural(f)),
                _ => None,
            }),
            SKind::If(_, t, f) => self.natural(t).or_else(|| self.natural(f)),
        }
    }

    /// Checks `e` in a context wanting `want` and lowers it.
    pub fn expr(&mut self, e: &SExpr, want: Option<DataType>) -> Option<Expr> {
        match &e.kind {
            SKind::Ident(id) => self.ident(id),
            SKind::Index(b, idx) => {
                if self.mode == Mode::Binding {
                    self.ctx.err(
                        e.sp,
                        "axis bindings cannot read buffers: they are expressions of the enclosing loop variables",
                    );
                    return None;
                }
                let (name, dtype, indices) = self.access(b, idx, e.sp)?;
                self.reads.push((name.to_string(), e.sp));
                Some(Expr::Load(Load { buffer: name, dtype, indices }))
            }
            SKind::Int(v, suffix) => self.int(*v, suffix.or(want), e.sp),
            SKind::Float(digits, suffix) => self.float(digits, suffix.or(want), e.sp),
            SKind::Bool(b) => Some(Expr::Const(Const::Bool(*b))),
            SKind::Const(t, v) => Some(Expr::Const(Const::of(*t, *v))),
            SKind::Neg(a) => self.neg(a, want, e.sp),
            SKind::Not(a) => {
                let x = self.expr(a, Some(DataType::Bool))?;
                if x.dtype() != DataType::Bool {
                    let t = ty_name(x.dtype());
                    self.ctx.err(e.sp, format!("`!` needs a bool operand, found `{t}` (bitwise not is not supported)"));
                    return None;
                }
                Some(Expr::unary(UnOp::Not, x))
            }
            SKind::Binary(op, op_sp, a, b) => self.binary(*op, *op_sp, a, b, want),
            SKind::Call { name, args, method, ty } => self.call(name, args, *method, *ty, want, e.sp),
            SKind::If(c, t, f) => self.select(c, t, f, want, e.sp),
            SKind::Cast(a, t) => self.cast(a, *t, e.sp),
        }
    }

    /// An index expression: of the index type and small enough to analyze.
    pub fn index(&mut self, e: &SExpr) -> Option<Expr> {
        let x = self.expr(e, Some(DataType::Index))?;
        if x.dtype() != DataType::Index {
            let what = if self.mode == Mode::Binding { "an axis binding" } else { "a buffer index" };
            self.ctx.err(
                e.sp,
                format!(
                    "{what} must be an index expression (of {}integer constants), found `{}`",
                    self.index_atoms(),
                    ty_name(x.dtype())
                ),
            );
            return None;
        }
        if self.magnitude(&x) > MAX_INDEX_MAGNITUDE {
            self.ctx.err(
                e.sp,
                format!("index arithmetic too large: values beyond {MAX_INDEX_MAGNITUDE} are not supported"),
            );
            return None;
        }
        Some(x)
    }

    fn index_atoms(&self) -> &'static str {
        match self.mode {
            Mode::Binding => "loop variables and ",
            Mode::Body => "block axes and ",
        }
    }

    /// `buf[indices]`: the buffer, its type and the checked indices.
    pub fn access(&mut self, b: &Ident, idx: &[SExpr], sp: Sp) -> Option<(Arc<str>, DataType, Vec<Expr>)> {
        let Some(info) = self.buf(b) else {
            let msg = if self.axis(b).is_some() || self.loop_var(b).is_some() {
                format!("`{b}` is a variable, not a buffer")
            } else {
                format!("unknown buffer `{b}`")
            };
            self.ctx.err(b, msg);
            for i in idx {
                self.index(i);
            }
            return None;
        };
        let indices: Vec<Option<Expr>> = idx.iter().map(|i| self.index(i)).collect();
        let shape = info.shape.as_ref()?;
        if shape.len() != idx.len() {
            let dims = if shape.len() == 1 { "1 dimension".to_string() } else { format!("{} dimensions", shape.len()) };
            let got = if idx.len() == 1 { "1 index".to_string() } else { format!("{} indices", idx.len()) };
            self.ctx.err(sp, format!("`{b}` has {dims} but is indexed with {got}"));
            return None;
        }
        let indices: Vec<Expr> = indices.into_iter().collect::<Option<_>>()?;
        for (d, (i, e)) in indices.iter().zip(idx).enumerate() {
            self.check_index(&b.to_string(), d, shape[d], i, e.sp);
            self.check_sym_index(info, d, i, e);
        }
        Some((Arc::from(b.to_string().as_str()), info.dtype?, indices))
    }

    /// A symbolic dimension is indexed by its own axes only: the first index
    /// of a buffer `[f32; n, ..]` is an axis over `n`, and an axis over `n`
    /// indexes nothing else (so that row `r` of every buffer is computed from
    /// row `r` of the others, whatever `n` is).
    fn check_sym_index(&mut self, info: &BufInfo, d: usize, i: &Expr, e: &SExpr) {
        let dim_name = |s: usize| self.sym_names.get(s).cloned().unwrap_or_default();
        if d == 0 {
            if let Some(s) = info.sym {
                let axis = match &e.kind {
                    SKind::Ident(id) => self.axis(id).filter(|a| a.sym == Some(s)),
                    _ => None,
                };
                if let Some(a) = axis {
                    self.sym_used.push(a.var.clone());
                } else {
                    let n = dim_name(s);
                    self.ctx.err(
                        e.sp,
                        format!(
                            "the first dimension of `{}` is the symbolic `{n}`: index it with an axis over `{n}` \
                             (`vi` of `grid({n}, ..)`), nothing else",
                            info.name
                        ),
                    );
                    return;
                }
                return;
            }
        }
        if let Some(a) = self.axes.iter().find(|a| a.sym.is_some() && i.uses_var(&a.var)) {
            let n = dim_name(a.sym.unwrap_or(0));
            let what = if d == 0 { "the first dimension".to_string() } else { format!("dimension {d}") };
            self.ctx.err(
                e.sp,
                format!(
                    "`{}` runs over the symbolic `{n}`, but {what} of `{}` is not `{n}`: an axis over `{n}` can \
                     only index buffers declared `[..; {n}, ..]`, as their first index",
                    a.ident, info.name
                ),
            );
        }
    }

    fn ident(&mut self, id: &Ident) -> Option<Expr> {
        match self.mode {
            Mode::Body => {
                if let Some(a) = self.axis(id) {
                    return Some(Expr::var(&a.var));
                }
                if let Some(l) = self.loop_var(id) {
                    let bound: Vec<String> = self
                        .axes
                        .iter()
                        .filter(|a| a.binding.as_ref().and_then(Expr::as_var) == Some(&l.var))
                        .map(|a| format!("`{}`", a.ident))
                        .collect();
                    let such =
                        if bound.is_empty() { String::new() } else { format!(", such as {}", bound.join(" or ")) };
                    self.ctx.err(id, format!("loop variable `{id}` cannot be used in a block body; use a block axis bound to `{id}`{such}"));
                    return None;
                }
                if self.buf(id).is_some() {
                    self.ctx.err(id, format!("`{id}` is a buffer; read an element with `{id}[..]`"));
                    return None;
                }
                self.ctx.err(id, format!("unknown variable `{id}`: not an axis of this block"));
            }
            Mode::Binding => {
                if let Some(l) = self.loop_var(id) {
                    return Some(Expr::var(&l.var));
                }
                if self.axis(id).is_some() {
                    self.ctx.err(
                        id,
                        format!(
                            "`{id}` is an axis of this block; bindings are expressions of the enclosing loop variables"
                        ),
                    );
                    return None;
                }
                self.ctx.err(id, format!("unknown loop variable `{id}`: axes bind to enclosing loop variables"));
            }
        }
        None
    }

    pub(crate) fn int(&mut self, v: i64, ty: Option<DataType>, sp: Sp) -> Option<Expr> {
        Some(match ty {
            None | Some(DataType::Index) => Expr::Int(v),
            Some(DataType::I32) => match i32::try_from(v) {
                Ok(x) => Expr::Const(Const::I32(x)),
                Err(_) => {
                    self.ctx.err(sp, "integer literal out of range for `i32`");
                    return None;
                }
            },
            Some(t @ (DataType::F32 | DataType::F64)) => Expr::Const(Const::of(t, v as f64)),
            Some(DataType::Bool) => {
                self.ctx.err(sp, "expected a `bool`, found an integer literal");
                return None;
            }
        })
    }

    fn float(&mut self, digits: &str, ty: Option<DataType>, sp: Sp) -> Option<Expr> {
        let c = match ty {
            None | Some(DataType::F32) => digits.parse::<f32>().ok().filter(|v| v.is_finite()).map(Const::F32),
            Some(DataType::F64) => digits.parse::<f64>().ok().filter(|v| v.is_finite()).map(Const::F64),
            Some(t) => {
                self.ctx.err(sp, format!("expected `{}`, found a float literal", ty_name(t)));
                return None;
            }
        };
        match c {
            Some(c) => Some(Expr::Const(c)),
            None => {
                let t = ty_name(ty.unwrap_or(DataType::F32));
                self.ctx.err(sp, format!("float literal out of range for `{t}`"));
                None
            }
        }
    }

    fn neg(&mut self, a: &SExpr, want: Option<DataType>, sp: Sp) -> Option<Expr> {
        let t = self.natural(a).or(want);
        let x = self.expr(a, t)?;
        Some(match x {
            Expr::Int(v) => Expr::Int(-v),
            Expr::Const(Const::F32(v)) => Expr::Const(Const::F32(-v)),
            Expr::Const(Const::F64(v)) => Expr::Const(Const::F64(-v)),
            Expr::Const(Const::I32(v)) if v != i32::MIN => Expr::Const(Const::I32(-v)),
            x if x.dtype() == DataType::Bool => {
                self.ctx.err(sp, "cannot negate a `bool`; use `!`");
                return None;
            }
            x if x.dtype() == DataType::Index => Expr::binary(BinOp::Sub, Expr::Int(0), x),
            x => Expr::unary(UnOp::Neg, x),
        })
    }

    /// Checks two operands that must share one type; returns them lowered.
    pub(crate) fn pair(
        &mut self,
        what: &str,
        at: Sp,
        a: &SExpr,
        b: &SExpr,
        want: Option<DataType>,
    ) -> Option<(Expr, Expr)> {
        let (na, nb) = (self.natural(a), self.natural(b));
        if let (Some(ta), Some(tb)) = (na, nb) {
            if ta != tb {
                self.ctx.err(at, mismatch(what, ta, tb));
                self.expr(a, Some(ta));
                self.expr(b, Some(tb));
                return None;
            }
        }
        let t = na.or(nb).or(want);
        let x = self.expr(a, t);
        let y = self.expr(b, t);
        let (x, y) = (x?, y?);
        if x.dtype() != y.dtype() {
            self.ctx.err(at, mismatch(what, x.dtype(), y.dtype()));
            return None;
        }
        Some((x, y))
    }

    fn binary(&mut self, op: SBin, op_sp: Sp, a: &SExpr, b: &SExpr, want: Option<DataType>) -> Option<Expr> {
        let what = format!("`{}`", op.symbol());
        if op.is_logic() {
            let x = self.expr(a, Some(DataType::Bool));
            let y = self.expr(b, Some(DataType::Bool));
            let (x, y) = (x?, y?);
            for (e, s) in [(&x, a), (&y, b)] {
                if e.dtype() != DataType::Bool {
                    self.ctx.err(s.sp, format!("{what} needs bool operands, found `{}`", ty_name(e.dtype())));
                    return None;
                }
            }
            let bop = if op == SBin::And { BinOp::And } else { BinOp::Or };
            return Some(Expr::binary(bop, x, y));
        }
        let want = if op.is_compare() { None } else { want };
        let (x, y) = self.pair(&what, op_sp, a, b, want)?;
        let t = x.dtype();
        if t == DataType::Bool {
            let msg = if op.is_compare() {
                format!("{what} cannot compare `bool` values; combine conditions with `&&`, `||` and `!`")
            } else {
                format!("{what} cannot be applied to `bool` values")
            };
            self.ctx.err(op_sp, msg);
            return None;
        }
        let int = matches!(t, DataType::Index | DataType::I32);
        if int && matches!(op, SBin::Div | SBin::Rem) && matches!(y, Expr::Int(0) | Expr::Const(Const::I32(0))) {
            self.ctx.err(b.sp, "division by zero");
            return None;
        }
        let bop = match op {
            SBin::Add => BinOp::Add,
            SBin::Sub => BinOp::Sub,
            SBin::Mul => BinOp::Mul,
            SBin::Div if t == DataType::Index => BinOp::FloorDiv,
            SBin::Rem if t == DataType::Index => BinOp::FloorMod,
            SBin::Div => BinOp::Div,
            SBin::Rem => BinOp::Rem,
            SBin::Lt => BinOp::Lt,
            SBin::Le => BinOp::Le,
            SBin::Gt => BinOp::Gt,
            SBin::Ge => BinOp::Ge,
            SBin::Eq => BinOp::Eq,
            SBin::Ne => BinOp::Ne,
            SBin::And | SBin::Or => unreachable!("handled above"),
        };
        Some(Expr::binary(bop, x, y))
    }
}
