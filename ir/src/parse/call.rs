//! Calls (`max`, `exp`, `tanh`, .. and their method forms), `select`/`if`, and casts.

use syn::Ident;

use super::expr::{SExpr, SKind};
use super::lower::{mismatch, Lower};
use super::{ty_name, Sp};
use crate::ir::{BinOp, DataType, Expr, UnOp};

impl Lower<'_> {
    pub(crate) fn call(
        &mut self,
        name: &Ident,
        args: &[SExpr],
        method: bool,
        ty: Option<DataType>,
        want: Option<DataType>,
        sp: Sp,
    ) -> Option<Expr> {
        let n = name.to_string();
        let arity = match n.as_str() {
            "max" | "min" => 2,
            "select" if !method && ty.is_none() => 3,
            _ if UnOp::function(&n).is_some() => 1,
            _ => {
                self.ctx.err(name, unknown_function(&n, method, ty));
                for a in args {
                    self.expr(a, None);
                }
                return None;
            }
        };
        if args.len() != arity {
            let (shown, got, need) = if method {
                (format!("`.{n}()`"), args.len() - 1, arity - 1)
            } else {
                (format!("`{n}`"), args.len(), arity)
            };
            let s = if need == 1 { "" } else { "s" };
            self.ctx.err(sp, format!("{shown} takes {need} argument{s}, found {got}"));
            return None;
        }
        let want = ty.or(want);
        let out = match n.as_str() {
            "select" => return self.select(&args[0], &args[1], &args[2], want, sp),
            "max" | "min" => {
                let (x, y) = self.pair(&format!("`{n}`"), sp, &args[0], &args[1], want)?;
                if x.dtype() == DataType::Bool {
                    self.ctx.err(sp, format!("`{n}` cannot be applied to `bool` values"));
                    return None;
                }
                Expr::binary(if n == "max" { BinOp::Max } else { BinOp::Min }, x, y)
            }
            _ => {
                let x = self.expr(&args[0], self.natural(&args[0]).or(want))?;
                let t = x.dtype();
                let ok = if n == "abs" { t != DataType::Bool } else { t.is_float() };
                if !ok {
                    let need = if n == "abs" { "a number" } else { "a `f32` or `f64` argument" };
                    let hint = if t == DataType::Index { "; convert the index with `as f32`" } else { "" };
                    self.ctx.err(args[0].sp, format!("`{n}` needs {need}, found `{}`{hint}", ty_name(t)));
                    return None;
                }
                Expr::unary(UnOp::function(&n).expect("a function of arity 1"), x)
            }
        };
        if let Some(t) = ty {
            if out.dtype() != t {
                self.ctx.err(sp, format!("`{}::{n}` applied to `{}` values", t.rust_name(), ty_name(out.dtype())));
                return None;
            }
        }
        Some(out)
    }

    /// `if c { t } else { f }` / `select(c, t, f)`: the branches are checked
    /// knowing what the condition says about the indices.
    pub(crate) fn select(&mut self, c: &SExpr, t: &SExpr, f: &SExpr, want: Option<DataType>, sp: Sp) -> Option<Expr> {
        let cond = self.expr(c, Some(DataType::Bool));
        let cond = match cond {
            Some(x) if x.dtype() != DataType::Bool => {
                self.ctx.err(c.sp, format!("a condition must be a `bool`, found `{}`", ty_name(x.dtype())));
                None
            }
            other => other,
        };
        let (then_facts, else_facts) = match &cond {
            Some(x) => (self.conditions(x, true), self.conditions(x, false)),
            None => ((vec![], false), (vec![], false)),
        };
        let (nt, nf) = (self.natural(t), self.natural(f));
        if let (Some(a), Some(b)) = (nt, nf) {
            if a != b {
                self.ctx.err(sp, mismatch("the branches of a select", a, b));
                return None;
            }
        }
        let ty = nt.or(nf).or(want);
        let x = self.with_facts(then_facts, |s| s.expr(t, ty));
        let y = self.with_facts(else_facts, |s| s.expr(f, ty));
        let (cond, x, y) = (cond?, x?, y?);
        if x.dtype() != y.dtype() {
            self.ctx.err(sp, mismatch("the branches of a select", x.dtype(), y.dtype()));
            return None;
        }
        Some(Expr::select(cond, x, y))
    }

    /// `a as t`. As in Rust, an operand made of untyped literals computes in
    /// their own type, not in `t`: `(7 / 2) as f32` is 3 (index division).
    pub(crate) fn cast(&mut self, a: &SExpr, t: DataType, sp: Sp) -> Option<Expr> {
        let own = if has_float_literal(a) {
            if t.is_float() {
                t
            } else {
                DataType::F64
            }
        } else {
            DataType::Index
        };
        let x = self.expr(a, self.natural(a).or(Some(own)))?;
        match x {
            _ if x.dtype() == DataType::Bool => {
                self.ctx.err(sp, format!("cannot cast a `bool` to `{}`", t.rust_name()));
                None
            }
            _ if x.dtype() == t => Some(x),
            Expr::Int(v) => self.int(v, Some(t), sp),
            x => Some(Expr::Cast(t, Box::new(x))),
        }
    }
}

/// The message for a call of an unknown `name`, suggesting the closest known
/// name (`tahn` → `tanh`, `log` → `ln`).
fn unknown_function(name: &str, method: bool, ty: Option<DataType>) -> String {
    let mut names = vec!["max", "min"];
    names.extend(UnOp::FUNCTIONS.iter().map(|op| op.name()));
    let (what, shown) = match ty {
        _ if method => ("method", name.to_string()),
        Some(t) => ("function", format!("{}::{name}", t.rust_name())),
        None => {
            names.push("select");
            ("function", name.to_string())
        }
    };
    let closest = match name {
        "log" => Some("ln"),
        "logistic" => Some("sigmoid"),
        _ => names
            .iter()
            .map(|c| (edit_distance(name, c), *c))
            .filter(|(d, c)| *d <= (c.len() / 3).max(1))
            .min()
            .map(|(_, c)| c),
    };
    let hint = closest.map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
    let (last, rest) = names.split_last().expect("names");
    format!("unknown {what} `{shown}`{hint}; the {what}s are {} and {last}", rest.join(", "))
}

/// The Levenshtein distance between `a` and `b`, counting a swap of two
/// neighbours as one edit (`tahn` is one edit from `tanh`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d: Vec<Vec<usize>> =
        (0..=a.len()).map(|i| (0..=b.len()).map(|j| if i == 0 { j } else { i }).collect()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Whether `e` contains a float literal (outside of loads).
fn has_float_literal(e: &SExpr) -> bool {
    match &e.kind {
        SKind::Float(..) => true,
        SKind::Neg(a) | SKind::Not(a) | SKind::Cast(a, _) => has_float_literal(a),
        SKind::Binary(_, _, a, b) => has_float_literal(a) || has_float_literal(b),
        SKind::If(c, a, b) => has_float_literal(c) || has_float_literal(a) || has_float_literal(b),
        SKind::Call { args, .. } => args.iter().any(has_float_literal),
        SKind::Ident(_) | SKind::Index(..) | SKind::Int(..) | SKind::Bool(_) | SKind::Const(..) => false,
    }
}
