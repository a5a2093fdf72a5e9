//! Region relaxation (TVM's `arith::EvalSet` over loop domains): the values
//! an index expression takes while some variables sweep their ranges, and the
//! union of such sets over several accesses.
//!
//! An index is read in its linear form `c0 + Σ cᵢ·atomᵢ` (see [`super::arith`]).
//! Atoms that use no relaxed variable stay symbolic and form the *base*; the
//! others are bounded over the ranges of their variables. The result is an
//! [`Interval`] `base + lo ..= base + hi`:
//!
//! ```text
//! i_0 * 4 + j + 2,   j ∈ 0..4 relaxed, i_0 symbolic   ->   i_0 * 4 + [2, 5]
//! ```
//!
//! Intervals of one buffer dimension with the same base unite exactly (the
//! constant offsets unite); intervals with different bases unite only into a
//! constant hull, over the ranges an analyzer knows for the symbolic variables
//! ([`union`]). What a caller does when neither works is its own choice: the
//! region of a block's accesses ([`super::region`]) marks the dimension
//! unknown, `compute_at` refuses the location, `compact_buffers` keeps the
//! dimension's full extent and [`super::nest::footprint`] counts it whole.

use super::arith::{Analyzer, Sum};
use super::expr::{Expr, Var};

/// `base + lo ..= base + hi`: `base` is the affine part of an index in the
/// variables that stay symbolic (its constant is 0), `lo..=hi` the range of
/// the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub base: Sum,
    pub lo: i64,
    pub hi: i64,
}

impl Interval {
    /// The constant interval `lo..=hi`.
    pub fn constant(lo: i64, hi: i64) -> Interval {
        Interval { base: Sum::constant(0), lo, hi }
    }

    /// The first value, `base + lo`.
    pub fn min(&self) -> Sum {
        let mut min = self.base.clone();
        min.constant = self.lo;
        min
    }

    /// The number of values, `hi - lo + 1`.
    pub fn extent(&self) -> i64 {
        self.hi - self.lo + 1
    }

    /// Whether both bases have the same terms, in any order.
    pub fn same_base(&self, other: &Interval) -> bool {
        let (a, b) = (&self.base.terms, &other.base.terms);
        a.len() == b.len() && a.iter().all(|t| b.contains(t))
    }

    /// Constant bounds over the ranges `an` knows for the symbolic variables.
    pub fn bounds(&self, an: &Analyzer) -> Option<(i64, i64)> {
        let (a, b) = an.sum_range(&self.base)?;
        Some((a.checked_add(self.lo)?, b.checked_add(self.hi)?))
    }
}

/// Relaxes index expressions: the variables given to [`Relax::over`] sweep
/// their ranges, every other variable stays symbolic.
#[derive(Clone, Debug)]
pub struct Relax {
    /// Linear forms, and the ranges of all variables (the relaxed ones at
    /// the ranges they sweep).
    an: Analyzer,
    vars: Vec<Var>,
    refuse_mixed: bool,
}

impl Relax {
    /// Nothing relaxed yet. `an` gives the linear forms and the ranges of the
    /// symbolic variables (used only to bound atoms that mix them with relaxed
    /// ones, `(i_0 * 4 + j) // 8`).
    pub fn new(an: Analyzer) -> Relax {
        Relax { an, vars: Vec::new(), refuse_mixed: false }
    }

    /// Relaxes `v` over `0..extent` (a loop).
    pub fn over(self, v: &Var, extent: i64) -> Relax {
        self.over_range(v, 0, extent - 1)
    }

    /// Relaxes `v` over `lo..=hi`.
    pub fn over_range(mut self, v: &Var, lo: i64, hi: i64) -> Relax {
        self.an.bind_range(v, lo, hi);
        if !self.vars.contains(v) {
            self.vars.push(v.clone());
        }
        self
    }

    /// Refuses an atom that uses both relaxed and symbolic variables instead
    /// of bounding it over the symbolic variables' ranges too.
    pub fn refuse_mixed(mut self) -> Relax {
        self.refuse_mixed = true;
        self
    }

    /// The analyzer the relaxation reads (relaxed variables at their ranges).
    pub fn analyzer(&self) -> &Analyzer {
        &self.an
    }

    /// The values of `e` while the relaxed variables sweep their ranges;
    /// `None` when an atom that uses a relaxed variable cannot be bounded
    /// (or mixes in symbolic variables, with [`Relax::refuse_mixed`]).
    pub fn index(&self, e: &Expr) -> Option<Interval> {
        let lin = self.an.linear(e);
        let mut base = Sum::constant(0);
        let mut rest = Sum::constant(lin.constant);
        for (atom, c) in lin.terms {
            let vars = atom.vars();
            if !vars.iter().any(|v| self.vars.contains(v)) {
                base.terms.push((atom, c));
            } else if self.refuse_mixed && vars.iter().any(|v| !self.vars.contains(v)) {
                return None;
            } else {
                rest.terms.push((atom, c));
            }
        }
        let (lo, hi) = self.an.sum_range(&rest)?;
        Some(Interval { base, lo, hi })
    }

    /// [`Relax::index`] of every index of an access; `None` if any fails.
    pub fn region(&self, indices: &[Expr]) -> Option<Vec<Interval>> {
        indices.iter().map(|e| self.index(e)).collect()
    }
}

/// The union of intervals of one dimension: exact when they all have the
/// base of the first (which the result keeps); otherwise, given `hull`, the
/// constant hull of their bounds over the ranges it knows. `None` for no
/// intervals, different bases without `hull`, or unknown bounds.
pub fn union(dims: &[Interval], hull: Option<&Analyzer>) -> Option<Interval> {
    let first = dims.first()?;
    if dims.iter().all(|d| d.same_base(first)) {
        let lo = dims.iter().map(|d| d.lo).min()?;
        let hi = dims.iter().map(|d| d.hi).max()?;
        return Some(Interval { base: first.base.clone(), lo, hi });
    }
    let an = hull?;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for d in dims {
        let (a, b) = d.bounds(an)?;
        lo = lo.min(a);
        hi = hi.max(b);
    }
    Some(Interval::constant(lo, hi))
}

/// The per-dimension [`union`] of several regions of one buffer (all of the
/// same rank); `None` if one dimension has none.
pub fn union_regions(regions: &[Vec<Interval>], hull: Option<&Analyzer>) -> Option<Vec<Interval>> {
    let rank = regions.first()?.len();
    (0..rank).map(|d| union(&regions.iter().map(|r| r[d].clone()).collect::<Vec<_>>(), hull)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::printer::expr_to_string;

    fn v(n: &str) -> Var {
        Var::new(n)
    }

    fn x(n: &str) -> Expr {
        Expr::var(&v(n))
    }

    /// `i` symbolic in `0..8`, `j` relaxed over `0..4`.
    fn relax_j() -> Relax {
        let mut an = Analyzer::new();
        an.bind(&v("i"), 8);
        Relax::new(an).over(&v("j"), 4)
    }

    fn show(iv: &Interval) -> String {
        format!("{} + [{}, {}]", expr_to_string(&iv.base.to_expr()), iv.lo, iv.hi)
    }

    #[test]
    fn affine_relaxation_keeps_the_symbolic_base() {
        let iv = relax_j().index(&(x("i") * 4 + x("j") + 2)).unwrap();
        assert_eq!(show(&iv), "i * 4 + [2, 5]");
        assert_eq!(expr_to_string(&iv.min().to_expr()), "i * 4 + 2");
        assert_eq!(iv.extent(), 4);
        // Coefficients scale the swept range.
        let iv = relax_j().index(&(x("i") + x("j") * 3)).unwrap();
        assert_eq!(show(&iv), "i + [0, 9]");
    }

    #[test]
    fn constant_offsets_and_no_relaxed_variable() {
        let iv = relax_j().index(&Expr::Int(7)).unwrap();
        assert_eq!(iv, Interval::constant(7, 7));
        let iv = Relax::new(Analyzer::new()).index(&(x("i") - 1)).unwrap();
        assert_eq!(show(&iv), "i + [-1, -1]");
        assert_eq!(iv.extent(), 1);
    }

    #[test]
    fn negative_coefficients() {
        let iv = relax_j().index(&(Expr::Int(10) - x("j") * 2 - x("i"))).unwrap();
        assert_eq!(show(&iv), "0 - i + [4, 10]");
        assert_eq!(iv.bounds(relax_j().analyzer()), Some((-3, 10)));
        // A range given as lo..=hi, below zero.
        let iv = Relax::new(Analyzer::new()).over_range(&v("k"), -2, 3).index(&(Expr::Int(0) - x("k"))).unwrap();
        assert_eq!(show(&iv), "0 + [-3, 2]");
    }

    #[test]
    fn non_affine_atoms() {
        // Symbolic atoms stay in the base, even when not linear.
        let iv = relax_j().index(&(x("i").floordiv(3) + x("j"))).unwrap();
        assert_eq!(show(&iv), "i // 3 + [0, 3]");
        // Relaxed ones are bounded by their ranges.
        let iv = relax_j().index(&(x("i") * 2 + x("j").floormod(3))).unwrap();
        assert_eq!(show(&iv), "i * 2 + [0, 2]");
        let iv = relax_j().index(&(x("j") * x("j"))).unwrap();
        assert_eq!(show(&iv), "0 + [0, 9]");
    }

    #[test]
    fn relaxed_variable_inside_a_mixed_atom() {
        let e = (x("i") * 4 + x("j")).floordiv(3);
        // Bounded over the symbolic variable's range too ...
        assert_eq!(relax_j().index(&e), Some(Interval::constant(0, 10)));
        // ... or refused.
        assert_eq!(relax_j().refuse_mixed().index(&e), None);
        // A symbolic variable with no known range cannot bound it.
        let e = (x("n") * 4 + x("j")).floordiv(3);
        assert_eq!(relax_j().index(&e), None);
    }

    #[test]
    fn unknown_ranges() {
        // A relaxed variable inside an atom without bounds (a division by a variable).
        let e = x("j").floordiv(x("i"));
        assert_eq!(relax_j().index(&e), None);
        assert_eq!(relax_j().region(&[x("j"), e]), None);
        assert_eq!(union(&[], None), None);
        assert_eq!(union_regions(&[], None), None);
    }

    #[test]
    fn union_of_the_same_base_unites_offsets() {
        let r = relax_j();
        let a = r.index(&(x("i") * 4 + x("j"))).unwrap();
        let b = r.index(&(x("i") * 4 + 6)).unwrap();
        let c = r.index(&(Expr::Int(-1) + x("i") * 4)).unwrap();
        let u = union(&[a, b, c], None).unwrap();
        assert_eq!(show(&u), "i * 4 + [-1, 6]");
        assert_eq!(u.extent(), 8);
        // Terms in another order are the same base.
        let mut an = Analyzer::new();
        an.bind(&v("a"), 3);
        an.bind(&v("b"), 3);
        let r = Relax::new(an);
        let p = r.index(&(x("a") + x("b") * 2)).unwrap();
        let q = r.index(&(x("b") * 2 + x("a") + 1)).unwrap();
        assert!(p.same_base(&q));
        assert_eq!(show(&union(&[p, q], None).unwrap()), "a + b * 2 + [0, 1]");
    }

    #[test]
    fn union_of_different_bases() {
        let r = relax_j();
        let a = r.index(&(x("i") * 4 + x("j"))).unwrap();
        let b = r.index(&(x("i") + 1)).unwrap();
        // No hull allowed: it cannot be united.
        assert_eq!(union(&[a.clone(), b.clone()], None), None);
        // The constant hull over `i ∈ 0..8`: 0..=31 and 1..=8.
        assert_eq!(union(&[a.clone(), b], Some(r.analyzer())), Some(Interval::constant(0, 31)));
        // Unknown symbolic bounds: no hull.
        let c = r.index(&(x("n") + x("j"))).unwrap();
        assert_eq!(union(&[a.clone(), c.clone()], Some(r.analyzer())), None);
        // Per dimension, for whole regions.
        let u = union_regions(&[vec![a.clone(), c.clone()], vec![a.clone(), c]], Some(r.analyzer())).unwrap();
        assert_eq!(u.iter().map(show).collect::<Vec<_>>(), ["i * 4 + [0, 3]", "n + [0, 3]"]);
        assert_eq!(union_regions(&[vec![a.clone()], vec![r.index(&x("n")).unwrap()]], Some(r.analyzer())), None);
    }
}
