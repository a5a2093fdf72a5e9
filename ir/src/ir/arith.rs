//! Index arithmetic: a canonical linear form, range analysis and a simplifier.
//!
//! Index expressions are normalized to `c0 + Σ ci·atomᵢ`, where an atom is a
//! variable or an expression the linear form cannot see through
//! (`x // c`, `x % c`, products of variables, ...). `floordiv`/`floormod` by
//! constants are simplified with the ranges of the variables, which is what
//! makes `split` and `fuse` bindings print the way TVM prints them
//! (`(i_0 * 4 + i_1) // 4` becomes `i_0`). Element (float) arithmetic is never
//! rewritten, so simplification cannot change results.

use std::collections::HashMap;

use super::dtype::DataType;
use super::expr::{BinOp, Const, Expr, UnOp, Var};

/// A linear combination of atoms plus a constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Sum {
    pub terms: Vec<(Expr, i64)>,
    pub constant: i64,
}

impl Sum {
    pub fn constant(c: i64) -> Sum {
        Sum { terms: vec![], constant: c }
    }

    fn atom(e: Expr) -> Sum {
        Sum { terms: vec![(e, 1)], constant: 0 }
    }

    fn add(mut self, other: &Sum, sign: i64) -> Sum {
        for (atom, c) in &other.terms {
            match self.terms.iter_mut().find(|(a, _)| a == atom) {
                Some((_, k)) => *k += sign * c,
                None => self.terms.push((atom.clone(), sign * c)),
            }
        }
        self.terms.retain(|(_, k)| *k != 0);
        self.constant += sign * other.constant;
        self
    }

    fn scale(mut self, k: i64) -> Sum {
        if k == 0 {
            return Sum::constant(0);
        }
        for (_, c) in &mut self.terms {
            *c *= k;
        }
        self.constant *= k;
        self
    }

    pub fn as_const(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    /// The coefficient of variable `v` (0 if absent or hidden in an atom).
    pub fn coef(&self, v: &Var) -> i64 {
        self.terms.iter().find(|(a, _)| matches!(a, Expr::Var(x) if x == v)).map_or(0, |(_, c)| *c)
    }

    /// Back to an expression: positive terms in order of appearance, then the
    /// negative ones, then the constant (`a * 4 + b - c + 3`, `5 - a`).
    pub fn to_expr(&self) -> Expr {
        let term = |atom: &Expr, mag: i64| {
            if mag == 1 {
                atom.clone()
            } else {
                Expr::binary(BinOp::Mul, atom.clone(), Expr::Int(mag))
            }
        };
        let mut out: Option<Expr> = None;
        for (atom, c) in self.terms.iter().filter(|(_, c)| *c > 0) {
            let t = term(atom, *c);
            out = Some(match out {
                None => t,
                Some(acc) => Expr::binary(BinOp::Add, acc, t),
            });
        }
        let mut constant_used = false;
        for (atom, c) in self.terms.iter().filter(|(_, c)| *c < 0) {
            let acc = out.take().unwrap_or_else(|| {
                constant_used = true;
                Expr::Int(self.constant)
            });
            out = Some(Expr::binary(BinOp::Sub, acc, term(atom, -c)));
        }
        match out {
            None => Expr::Int(self.constant),
            Some(acc) if constant_used || self.constant == 0 => acc,
            Some(acc) if self.constant > 0 => Expr::binary(BinOp::Add, acc, Expr::Int(self.constant)),
            Some(acc) => Expr::binary(BinOp::Sub, acc, Expr::Int(-self.constant)),
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Known inclusive ranges of variables; the simplifier's context.
#[derive(Clone, Debug, Default)]
pub struct Analyzer {
    ranges: HashMap<Var, (i64, i64)>,
}

impl Analyzer {
    pub fn new() -> Analyzer {
        Analyzer::default()
    }

    /// Declares `v` in `0..extent`.
    pub fn bind(&mut self, v: &Var, extent: i64) {
        self.ranges.insert(v.clone(), (0, extent - 1));
    }

    /// Declares `v` in `lo..=hi`.
    pub fn bind_range(&mut self, v: &Var, lo: i64, hi: i64) {
        self.ranges.insert(v.clone(), (lo, hi));
    }

    pub fn var_range(&self, v: &Var) -> Option<(i64, i64)> {
        self.ranges.get(v).copied()
    }

    /// Inclusive bounds of an index expression, if they can be derived.
    pub fn range(&self, e: &Expr) -> Option<(i64, i64)> {
        self.sum_range(&self.linear(e))
    }

    /// Inclusive bounds of a linear form, if they can be derived.
    pub fn sum_range(&self, s: &Sum) -> Option<(i64, i64)> {
        let (mut lo, mut hi) = (s.constant, s.constant);
        for (atom, c) in &s.terms {
            let (a, b) = self.atom_range(atom)?;
            let (x, y) = (a.checked_mul(*c)?, b.checked_mul(*c)?);
            lo += x.min(y);
            hi += x.max(y);
        }
        Some((lo, hi))
    }

    fn atom_range(&self, atom: &Expr) -> Option<(i64, i64)> {
        match atom {
            Expr::Var(v) => self.var_range(v),
            Expr::Int(c) => Some((*c, *c)),
            Expr::Binary(BinOp::FloorDiv, a, b) => {
                let c = b.as_int().filter(|c| *c > 0)?;
                let (lo, hi) = self.range(a)?;
                Some((lo.div_euclid(c), hi.div_euclid(c)))
            }
            Expr::Binary(BinOp::FloorMod, a, b) => {
                let c = b.as_int().filter(|c| *c > 0)?;
                match self.range(a) {
                    // One window of `c` values: exact (`x % 15` for `x` in 20..=25 is 5..=10).
                    Some((lo, hi)) if lo.div_euclid(c) == hi.div_euclid(c) => {
                        Some((lo.rem_euclid(c), hi.rem_euclid(c)))
                    }
                    _ => Some((0, c - 1)),
                }
            }
            Expr::Binary(op @ (BinOp::Min | BinOp::Max | BinOp::Mul), a, b) => {
                let (a0, a1) = self.range(a)?;
                let (b0, b1) = self.range(b)?;
                Some(match op {
                    BinOp::Min => (a0.min(b0), a1.min(b1)),
                    BinOp::Max => (a0.max(b0), a1.max(b1)),
                    _ => {
                        let p = [a0 * b0, a0 * b1, a1 * b0, a1 * b1];
                        (*p.iter().min().unwrap(), *p.iter().max().unwrap())
                    }
                })
            }
            Expr::Select(_, t, f) => {
                let (t0, t1) = self.range(t)?;
                let (f0, f1) = self.range(f)?;
                Some((t0.min(f0), t1.max(f1)))
            }
            _ => None,
        }
    }

    /// The linear form of a simplified index expression.
    pub fn linear(&self, e: &Expr) -> Sum {
        match e {
            Expr::Int(c) => Sum::constant(*c),
            Expr::Binary(BinOp::Add, a, b) => self.merge_div_mod(self.linear(a).add(&self.linear(b), 1)),
            Expr::Binary(BinOp::Sub, a, b) => self.merge_div_mod(self.linear(a).add(&self.linear(b), -1)),
            Expr::Binary(BinOp::Mul, a, b) => {
                let (la, lb) = (self.linear(a), self.linear(b));
                match (la.as_const(), lb.as_const()) {
                    (_, Some(k)) => la.scale(k),
                    (Some(k), _) => lb.scale(k),
                    _ => Sum::atom(Expr::binary(BinOp::Mul, la.to_expr(), lb.to_expr())),
                }
            }
            Expr::Binary(BinOp::FloorDiv, a, b) => match b.as_int() {
                Some(c) if c > 0 => self.floordiv(self.linear(a), c),
                _ => Sum::atom(e.clone()),
            },
            Expr::Binary(BinOp::FloorMod, a, b) => match b.as_int() {
                Some(c) if c > 0 => self.floormod(self.linear(a), c),
                _ => Sum::atom(e.clone()),
            },
            _ => Sum::atom(e.clone()),
        }
    }

    /// Folds `k·c·(x // c) + k·(x % c)` into `k·x` (what fusing the loops of a
    /// split gives: `f // 8 * 8 + f % 8` is `f`).
    fn merge_div_mod(&self, mut s: Sum) -> Sum {
        loop {
            let pair = s.terms.iter().enumerate().find_map(|(m, (atom, k))| {
                let Expr::Binary(BinOp::FloorMod, x, c) = atom else { return None };
                // The quotient in the canonical form the sum's atoms have.
                let q = self.floordiv(self.linear(x), c.as_int().filter(|c| *c > 0)?);
                let div = match (q.terms.as_slice(), q.constant) {
                    ([(d, 1)], 0) => d.clone(),
                    _ => Expr::binary(BinOp::FloorDiv, (**x).clone(), (**c).clone()),
                };
                let d = s.terms.iter().position(|(a, kd)| *a == div && Some(*kd) == c.as_int().map(|c| c * k))?;
                Some((m, d, (**x).clone(), *k))
            });
            if let Some((m, d, x, k)) = pair {
                s.terms.remove(m.max(d));
                s.terms.remove(m.min(d));
                s = s.add(&self.linear(&x).scale(k), 1);
                continue;
            }
            // And `k·x − k·c·(x // c)` into `k·(x % c)` (a row of a fused loop
            // taken away from its element: `f − 5·(f // 5)` is `f % 5`).
            let rem = s.terms.iter().enumerate().find_map(|(d, (atom, kd))| {
                let Expr::Binary(BinOp::FloorDiv, x, c) = atom else { return None };
                let c = c.as_int().filter(|c| *c > 0 && kd % c == 0)?;
                let k = -kd / c;
                let lx = self.linear(x).scale(k);
                let present = !lx.terms.is_empty()
                    && lx.terms.iter().all(|(a, kx)| s.terms.iter().any(|(b, ks)| b == a && ks == kx));
                present.then(|| (d, (**x).clone(), c, k, lx))
            });
            let Some((d, x, c, k, lx)) = rem else { return s };
            s.terms.remove(d);
            s = s.add(&lx, -1);
            s.terms.retain(|(_, k)| *k != 0);
            s = s.add(&self.floormod(self.linear(&x), c).scale(k), 1);
        }
    }

    /// Splits `s` into (terms whose coefficients are multiples of `g`, rest).
    fn split_by(s: &Sum, g: i64) -> (Sum, Sum) {
        let mut big = Sum::constant(s.constant.div_euclid(g) * g);
        let mut small = Sum::constant(s.constant.rem_euclid(g));
        for (a, c) in &s.terms {
            if c % g == 0 {
                big.terms.push((a.clone(), *c));
            } else {
                small.terms.push((a.clone(), *c));
            }
        }
        (big, small)
    }

    /// Candidate divisors `g` of `c` such that `s = g·q + r` with `r` in `0..g`.
    fn factor_out(&self, s: &Sum, c: i64) -> Option<(i64, Sum, Sum)> {
        let mut gs: Vec<i64> = s.terms.iter().map(|(_, k)| gcd(*k, c)).filter(|g| *g > 1).collect();
        gs.push(c);
        gs.sort_unstable_by(|a, b| b.cmp(a));
        gs.dedup();
        for g in gs {
            let (big, small) = Self::split_by(s, g);
            if let Some((lo, hi)) = self.sum_range(&small) {
                if lo >= 0 && hi < g {
                    let mut q = big.clone();
                    for (_, k) in &mut q.terms {
                        *k /= g;
                    }
                    q.constant /= g;
                    return Some((g, q, small));
                }
            }
        }
        None
    }

    fn floordiv(&self, s: Sum, c: i64) -> Sum {
        if c == 1 {
            return s;
        }
        if let Some(k) = s.as_const() {
            return Sum::constant(k.div_euclid(c));
        }
        // floordiv(floordiv(x, a) + n, c) == floordiv(x + a*n, a*c) for an
        // integer n: one canonical form for the rows of a fused loop of three
        // (`(f // 2) // 3` is `f // 6`, and split by the lanes `(8·f0 + f1)`,
        // `(4·f0 + f1 // 2) // 3` is `(8·f0 + f1) // 6`).
        let inner = s.terms.iter().position(|(t, k)| {
            *k == 1 && matches!(t, Expr::Binary(BinOp::FloorDiv, _, a) if a.as_int().is_some_and(|a| a > 0))
        });
        if let Some(p) = inner {
            let Expr::Binary(BinOp::FloorDiv, x, a) = &s.terms[p].0 else { unreachable!() };
            let a = a.as_int().expect("checked");
            let mut rest = s.clone();
            rest.terms.remove(p);
            return self.floordiv(rest.scale(a).add(&self.linear(x), 1), a * c);
        }
        if let Some((g, q, _)) = self.factor_out(&s, c) {
            // floordiv(g*q + r, c) with 0 <= r < g and g | c  ==  floordiv(q, c/g)
            return self.floordiv(q, c / g);
        }
        // Pull out the terms divisible by c: floordiv(c*q + r, c) = q + floordiv(r, c).
        let (big, small) = Self::split_by(&s, c);
        if !big.terms.is_empty() || big.constant != 0 {
            let q = big.scale(1);
            let mut q2 = q.clone();
            for (_, k) in &mut q2.terms {
                *k /= c;
            }
            q2.constant /= c;
            let rest = Sum::atom(Expr::binary(BinOp::FloorDiv, small.to_expr(), Expr::Int(c)));
            return q2.add(&rest, 1);
        }
        Sum::atom(Expr::binary(BinOp::FloorDiv, s.to_expr(), Expr::Int(c)))
    }

    fn floormod(&self, s: Sum, c: i64) -> Sum {
        if c == 1 {
            return Sum::constant(0);
        }
        if let Some(k) = s.as_const() {
            return Sum::constant(k.rem_euclid(c));
        }
        let (_, small) = Self::split_by(&s, c);
        if let Some((lo, hi)) = self.sum_range(&small) {
            if lo >= 0 && hi < c {
                return small;
            }
        }
        if let Some((g, q, r)) = self.factor_out(&small, c) {
            if g < c {
                // floormod(g*q + r, c) == floormod(q, c/g)*g + r
                return self.floormod(q, c / g).scale(g).add(&r, 1);
            }
        }
        Sum::atom(Expr::binary(BinOp::FloorMod, small.to_expr(), Expr::Int(c)))
    }

    /// Whether `cond` is true for every value of the known variables.
    pub fn can_prove(&self, cond: &Expr) -> bool {
        matches!(self.simplify(cond), Expr::Const(Const::Bool(true)))
    }

    /// Simplifies index arithmetic and conditions; element arithmetic is kept.
    pub fn simplify(&self, e: &Expr) -> Expr {
        match e {
            Expr::Var(_) | Expr::Int(_) | Expr::Const(_) => e.clone(),
            Expr::Load(l) => Expr::Load(super::expr::Load {
                buffer: l.buffer.clone(),
                dtype: l.dtype,
                indices: l.indices.iter().map(|i| self.simplify(i)).collect(),
            }),
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.simplify(a), self.simplify(b));
                self.simplify_binary(*op, a, b)
            }
            Expr::Unary(op, a) => {
                let a = self.simplify(a);
                match (op, &a) {
                    (UnOp::Not, Expr::Const(Const::Bool(v))) => Expr::Const(Const::Bool(!v)),
                    (UnOp::Neg, Expr::Int(v)) => Expr::Int(-v),
                    _ => Expr::unary(*op, a),
                }
            }
            Expr::Select(c, t, f) => {
                let c = self.simplify(c);
                match c {
                    Expr::Const(Const::Bool(true)) => self.simplify(t),
                    Expr::Const(Const::Bool(false)) => self.simplify(f),
                    c => Expr::select(c, self.simplify(t), self.simplify(f)),
                }
            }
            Expr::Cast(t, a) => {
                let a = self.simplify(a);
                match (&a, t) {
                    (Expr::Int(v), DataType::F32) => Expr::Const(Const::F32(*v as f32)),
                    (Expr::Int(v), DataType::F64) => Expr::Const(Const::F64(*v as f64)),
                    (Expr::Int(v), DataType::I32) => Expr::Const(Const::I32(*v as i32)),
                    _ if a.dtype() == *t => a,
                    _ => Expr::Cast(*t, Box::new(a)),
                }
            }
        }
    }

    fn simplify_binary(&self, op: BinOp, a: Expr, b: Expr) -> Expr {
        let index = a.dtype() == DataType::Index && b.dtype() == DataType::Index;
        if index {
            match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::FloorDiv | BinOp::FloorMod => {
                    return self.linear(&Expr::binary(op, a, b)).to_expr();
                }
                BinOp::Min | BinOp::Max => {
                    if let (Some((a0, a1)), Some((b0, b1))) = (self.range(&a), self.range(&b)) {
                        let a_le_b = a1 <= b0;
                        let b_le_a = b1 <= a0;
                        match (op, a_le_b, b_le_a) {
                            (BinOp::Min, true, _) | (BinOp::Max, _, true) => return a,
                            (BinOp::Min, _, true) | (BinOp::Max, true, _) => return b,
                            _ => {}
                        }
                    }
                    return Expr::binary(op, a, b);
                }
                _ if op.is_compare() => {
                    let d = self.linear(&a).add(&self.linear(&b), -1);
                    if let Some((lo, hi)) = self.sum_range(&d) {
                        let v = match op {
                            BinOp::Lt if hi < 0 => Some(true),
                            BinOp::Lt if lo >= 0 => Some(false),
                            BinOp::Le if hi <= 0 => Some(true),
                            BinOp::Le if lo > 0 => Some(false),
                            BinOp::Gt if lo > 0 => Some(true),
                            BinOp::Gt if hi <= 0 => Some(false),
                            BinOp::Ge if lo >= 0 => Some(true),
                            BinOp::Ge if hi < 0 => Some(false),
                            BinOp::Eq if lo == 0 && hi == 0 => Some(true),
                            BinOp::Eq if lo > 0 || hi < 0 => Some(false),
                            BinOp::Ne if lo > 0 || hi < 0 => Some(true),
                            BinOp::Ne if lo == 0 && hi == 0 => Some(false),
                            _ => None,
                        };
                        if let Some(v) = v {
                            return Expr::Const(Const::Bool(v));
                        }
                    }
                    return Expr::binary(op, a, b);
                }
                _ => {}
            }
        }
        match (op, &a, &b) {
            (BinOp::And, Expr::Const(Const::Bool(true)), _) => b,
            (BinOp::And, _, Expr::Const(Const::Bool(true))) => a,
            (BinOp::And, Expr::Const(Const::Bool(false)), _) | (BinOp::And, _, Expr::Const(Const::Bool(false))) => {
                Expr::Const(Const::Bool(false))
            }
            (BinOp::Or, Expr::Const(Const::Bool(false)), _) => b,
            (BinOp::Or, _, Expr::Const(Const::Bool(false))) => a,
            (BinOp::Or, Expr::Const(Const::Bool(true)), _) | (BinOp::Or, _, Expr::Const(Const::Bool(true))) => {
                Expr::Const(Const::Bool(true))
            }
            _ => Expr::binary(op, a, b),
        }
    }
}

/// Simplifies with no knowledge of variable ranges.
pub fn simplify(e: &Expr) -> Expr {
    Analyzer::new().simplify(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: &str) -> Var {
        Var::new(n)
    }

    fn show(e: &Expr) -> String {
        crate::ir::printer::expr_to_string(e)
    }

    #[test]
    fn split_bindings_collapse() {
        let mut an = Analyzer::new();
        an.bind(&v("i0"), 32);
        an.bind(&v("i1"), 4);
        let e = (Expr::var(&v("i0")) * 4 + Expr::var(&v("i1"))).floordiv(4);
        assert_eq!(show(&an.simplify(&e)), "i0");
        let e = (Expr::var(&v("i0")) * 4 + Expr::var(&v("i1"))).floormod(4);
        assert_eq!(show(&an.simplify(&e)), "i1");
    }

    #[test]
    fn fused_then_split() {
        let mut an = Analyzer::new();
        an.bind(&v("f0"), 1024);
        an.bind(&v("f1"), 16);
        let fused = Expr::var(&v("f0")) * 16 + Expr::var(&v("f1"));
        assert_eq!(show(&an.simplify(&fused.clone().floordiv(128))), "f0 // 8");
        assert_eq!(show(&an.simplify(&fused.floormod(128))), "f0 % 8 * 16 + f1");
    }

    #[test]
    fn mod_of_one_window_is_exact() {
        let mut an = Analyzer::new();
        let x = || Expr::var(&v("x"));
        an.bind_range(&v("x"), 20, 25);
        assert_eq!(an.range(&x().floormod(15)), Some((5, 10)));
        an.bind_range(&v("x"), 29, 29);
        assert_eq!(an.range(&x().floormod(2)), Some((1, 1)));
        an.bind_range(&v("x"), 10, 20);
        assert_eq!(an.range(&x().floormod(15)), Some((0, 14)));
        an.bind_range(&v("x"), -3, -1);
        assert_eq!(an.range(&x().floormod(4)), Some((1, 3)));
    }

    #[test]
    fn predicates_fold() {
        let mut an = Analyzer::new();
        an.bind(&v("i0"), 32);
        an.bind(&v("i1"), 4);
        let e = Expr::var(&v("i0")) * 4 + Expr::var(&v("i1"));
        assert!(an.can_prove(&e.clone().lt(128)));
        assert!(!an.can_prove(&e.clone().lt(100)));
        assert_eq!(an.range(&e), Some((0, 127)));
    }

    #[test]
    fn split_of_fused_div_mod_folds() {
        let mut an = Analyzer::new();
        an.bind(&v("f"), 40);
        an.bind(&v("g"), 3);
        let f = Expr::var(&v("f"));
        assert_eq!(show(&an.simplify(&(f.clone().floordiv(8) * 8 + f.clone().floormod(8)))), "f");
        let e = (f.clone().floordiv(8) * 8 + f.clone().floormod(8)) * 2 + Expr::var(&v("g"));
        assert_eq!(show(&an.simplify(&e)), "f * 2 + g");
        // Different divisors, or coefficients that do not match, stay.
        assert_eq!(show(&an.simplify(&(f.clone().floordiv(8) * 4 + f.clone().floormod(8)))), "f // 8 * 4 + f % 8");
        assert_eq!(show(&an.simplify(&(f.clone().floordiv(4) * 8 + f.floormod(8)))), "f // 4 * 8 + f % 8");
    }

    #[test]
    fn an_element_less_its_row_is_its_column() {
        // `x − 5·(x // 5)` is `x % 5` (a fused loop's row taken away from its
        // element), also scaled and beside other terms; other multiples stay.
        let mut an = Analyzer::new();
        an.bind(&v("f"), 80);
        an.bind(&v("i"), 4);
        let (f, i) = (Expr::var(&v("f")), Expr::var(&v("i")));
        assert_eq!(show(&an.simplify(&(f.clone() - f.clone().floordiv(5) * 5))), "f % 5");
        let e = i.clone() * 80 + f.clone() - (i.clone() * 16 + f.clone().floordiv(5)) * 5;
        assert_eq!(show(&an.simplify(&e)), "f % 5");
        assert_eq!(an.range(&e), Some((0, 4)));
        assert_eq!(show(&an.simplify(&((f.clone() - f.clone().floordiv(5) * 5) * 3 + i.clone()))), "f % 5 * 3 + i");
        assert_eq!(show(&an.simplify(&(f.clone() - f.clone().floordiv(5) * 4))), "f - f // 5 * 4");
        // Three loops fused (`[.., 3, 2]` rows): (f // 2) // 3 is f // 6, and
        // row, column and element add up to f again.
        assert_eq!(show(&an.simplify(&f.clone().floordiv(2).floordiv(3))), "f // 6");
        let e = f.clone().floordiv(6) * 6 + f.clone().floordiv(2).floormod(3) * 2 + f.clone().floormod(2);
        assert_eq!(show(&an.simplify(&e)), "f");
        // ... and after the fused loop is split by the lanes (`f = 8·f0 + f1`).
        let (f0, f1) = (Expr::var(&v("f0")), Expr::var(&v("f1")));
        let split = f0.clone() * 8 + f1.clone();
        assert_eq!(show(&an.simplify(&(f0.clone() * 4 + f1.clone().floordiv(2)).floordiv(3))), "(f0 * 8 + f1) // 6");
        let e = split.clone().floordiv(6) * 6 + (f0 * 4 + f1.clone().floordiv(2)).floormod(3) * 2 + f1.floormod(2);
        assert_eq!(show(&an.simplify(&e)), show(&an.simplify(&split)));
    }

    #[test]
    fn linear_merge_and_order() {
        let an = Analyzer::new();
        let e = Expr::var(&v("a")) * 2 + Expr::var(&v("b")) - Expr::var(&v("a")) * 2 + 3;
        assert_eq!(show(&an.simplify(&e)), "b + 3");
        let e = Expr::Int(5) - Expr::var(&v("a"));
        assert_eq!(show(&an.simplify(&e)), "5 - a");
    }
}
