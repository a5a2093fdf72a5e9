//! Bounds of index expressions over a block's iteration domain.
//!
//! An access is an error only when it provably leaves the buffer: the
//! analyzer's range of the index goes past the shape, and that range is exact
//! (every variable occurs once, and the domain is a box). Inside the branches
//! of `if`/`select`, the condition's comparisons of indices become facts
//! `f >= 0`; a fact on one axis (`vh >= 1`, `vh < 33`) narrows that axis's
//! range, so padding written `if vh >= 1 && vh < 33 { a[vh - 1] } else { 0.0 }`
//! is accepted. Any other restriction of the indices (`vi + vj < 8`, `||`,
//! `!=`, ...) leaves a domain that is not a box, and the check is off in that
//! branch rather than risk a false error.

use std::collections::HashMap;

use super::lower::Lower;
use super::Sp;
use crate::ir::{BinOp, Const, DataType, Expr, UnOp, Var};

impl Lower<'_> {
    /// An upper bound of `|e|` over the known ranges (saturating); unknown
    /// variables count as `MAX_EXTENT`.
    pub(crate) fn magnitude(&self, e: &Expr) -> i128 {
        let m = |x: &Expr| self.magnitude(x);
        match e {
            Expr::Var(v) => self
                .an
                .var_range(v)
                .map_or(super::limits::MAX_EXTENT as i128, |(lo, hi)| (lo as i128).abs().max((hi as i128).abs())),
            Expr::Int(v) => (*v as i128).abs(),
            Expr::Binary(BinOp::Mul, a, b) => m(a).saturating_mul(m(b)),
            Expr::Binary(_, a, b) => m(a).saturating_add(m(b)),
            Expr::Unary(_, a) => m(a),
            Expr::Select(c, a, b) => m(c).max(m(a)).max(m(b)),
            Expr::Const(_) | Expr::Load(_) | Expr::Cast(..) => 0,
        }
    }

    /// The facts (`f >= 0`) that hold where `cond` is `positive`, and whether
    /// they say everything the condition says about the indices.
    pub(crate) fn conditions(&self, cond: &Expr, positive: bool) -> (Vec<Expr>, bool) {
        if !has_index_compare(cond) {
            return (vec![], true);
        }
        match cond {
            Expr::Binary(BinOp::And, a, b) if positive => join(self.conditions(a, true), self.conditions(b, true)),
            Expr::Binary(BinOp::Or, a, b) if !positive => join(self.conditions(a, false), self.conditions(b, false)),
            Expr::Unary(UnOp::Not, a) => self.conditions(a, !positive),
            Expr::Binary(op, a, b) if op.is_compare() && a.dtype() == DataType::Index => {
                let op = if positive { *op } else { negate(*op) };
                let (a, b) = ((**a).clone(), (**b).clone());
                let facts = match op {
                    BinOp::Lt => vec![b - a - 1i64],
                    BinOp::Le => vec![b - a],
                    BinOp::Gt => vec![a - b - 1i64],
                    BinOp::Ge => vec![a - b],
                    BinOp::Eq => vec![a.clone() - b.clone(), b - a],
                    _ => return (vec![], false),
                };
                let small = facts.iter().all(|f| self.magnitude(f) <= super::limits::MAX_INDEX_MAGNITUDE);
                if small {
                    (facts, true)
                } else {
                    (vec![], false)
                }
            }
            _ => (vec![], false),
        }
    }

    /// Runs `f` where `facts` hold: the axis ranges they bound are narrowed.
    pub(crate) fn with_facts<R>(&mut self, (facts, complete): (Vec<Expr>, bool), f: impl FnOnce(&mut Self) -> R) -> R {
        let saved_an = self.an.clone();
        let saved_opaque = self.opaque;
        if !complete {
            self.opaque += 1;
        }
        for fact in &facts {
            let s = self.an.linear(fact);
            let narrowed = match s.terms.as_slice() {
                [(Expr::Var(v), c @ (1 | -1))] => self.an.var_range(v).map(|(lo, hi)| {
                    // v + k >= 0  gives  v >= -k;   -v + k >= 0  gives  v <= k.
                    let (lo, hi) = if *c == 1 { (lo.max(-s.constant), hi) } else { (lo, hi.min(s.constant)) };
                    (v.clone(), lo, hi)
                }),
                _ => None,
            };
            match narrowed {
                _ if s.terms.is_empty() && s.constant >= 0 => {}
                Some((v, lo, hi)) if lo <= hi => self.an.bind_range(&v, lo, hi),
                // Never true (the branch never runs), or not a box any more.
                _ => self.opaque += 1,
            }
        }
        let out = f(self);
        self.an = saved_an;
        self.opaque = saved_opaque;
        out
    }

    /// Whether the analyzer's range of `e` is exact: each variable occurs once.
    fn tight(&self, e: &Expr) -> bool {
        let mut counts: HashMap<Var, u32> = HashMap::new();
        for (atom, _) in &self.an.linear(e).terms {
            atom.visit(&mut |x| {
                if let Expr::Var(v) = x {
                    *counts.entry(v.clone()).or_default() += 1;
                }
            });
        }
        counts.values().all(|c| *c == 1)
    }

    /// Reports index `idx` of dimension `dim` (of size `size`) of `buf` if it
    /// provably leaves `0..size`.
    pub(crate) fn check_index(&mut self, buf: &str, dim: usize, size: i64, idx: &Expr, sp: Sp) {
        if self.opaque > 0 || !self.tight(idx) {
            return;
        }
        let Some((lo, hi)) = self.an.range(idx) else {
            return;
        };
        if lo >= 0 && hi < size {
            return;
        }
        let msg = if lo == hi {
            format!("index {lo} is out of bounds: dimension {dim} of `{buf}` has size {size}")
        } else {
            format!("index out of bounds: it takes values {lo}..={hi} but dimension {dim} of `{buf}` has size {size}")
        };
        self.ctx.err(sp, msg);
    }
}

fn join((mut a, ca): (Vec<Expr>, bool), (b, cb): (Vec<Expr>, bool)) -> (Vec<Expr>, bool) {
    a.extend(b);
    (a, ca && cb)
}

/// The comparison that holds when `op` does not.
fn negate(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Ge,
        BinOp::Le => BinOp::Gt,
        BinOp::Gt => BinOp::Le,
        BinOp::Ge => BinOp::Lt,
        BinOp::Eq => BinOp::Ne,
        BinOp::Ne => BinOp::Eq,
        other => other,
    }
}

/// Whether `e` compares indices (outside of loads).
fn has_index_compare(e: &Expr) -> bool {
    match e {
        Expr::Binary(op, a, b) => {
            (op.is_compare() && a.dtype() == DataType::Index) || has_index_compare(a) || has_index_compare(b)
        }
        Expr::Unary(_, a) | Expr::Cast(_, a) => has_index_compare(a),
        Expr::Select(c, a, b) => has_index_compare(c) || has_index_compare(a) || has_index_compare(b),
        Expr::Var(_) | Expr::Int(_) | Expr::Const(Const::Bool(_)) | Expr::Const(_) | Expr::Load(_) => false,
    }
}
