//! Well-formedness checks of a function (run after parsing and, in debug
//! builds, after every schedule primitive).
//!
//! A failure here is a bug in whatever produced the IR, not a user error; the
//! message says which invariant broke and where.

use std::collections::{BTreeSet, HashSet};

use super::arith::{Analyzer, Sum};
use super::expr::{BinOp, Expr, Var};
use super::stmt::{BlockRealize, For, PrimFunc, Stmt, Store};

/// Checks the invariants of `func`; returns every violation found.
pub fn verify(func: &PrimFunc) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for b in func.buffers() {
        if !names.insert(b.name.to_string()) {
            errs.push(format!("buffer name `{}` is declared twice", b.name));
        }
        if b.shape.iter().any(|d| *d <= 0) {
            errs.push(format!("buffer `{}` has a non-positive dimension", b.name));
        }
    }
    let mut seen_vars: BTreeSet<String> = BTreeSet::new();
    let mut seen_blocks: BTreeSet<String> = BTreeSet::new();
    // Iteration variables are scoped to their block (several blocks may call
    // theirs `vi`), but no loop variable may share a name with one.
    let mut iter_names: BTreeSet<String> = BTreeSet::new();
    func.body.walk(&mut |s, loops| match s {
        Stmt::For(f) => {
            if !seen_vars.insert(f.var.name().to_string()) {
                errs.push(format!("loop variable `{}` is bound twice", f.var));
            }
            if f.extent <= 0 {
                errs.push(format!("loop `{}` has extent {}", f.var, f.extent));
            }
        }
        Stmt::Block(br) => {
            if !seen_blocks.insert(br.block.name.clone()) {
                errs.push(format!("block name `{}` is used twice", br.block.name));
            }
            let mut own = BTreeSet::new();
            for iv in &br.block.iter_vars {
                if !own.insert(iv.var.name().to_string()) {
                    errs.push(format!("block `{}` declares `{}` twice", br.block.name, iv.var));
                }
                iter_names.insert(iv.var.name().to_string());
            }
            verify_block(func, br, loops, &mut errs);
        }
        Stmt::Seq(_) => {}
    });
    for v in seen_vars.intersection(&iter_names) {
        errs.push(format!("`{v}` is both a loop variable and an iteration variable"));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

fn verify_block(func: &PrimFunc, br: &BlockRealize, loops: &[&For], errs: &mut Vec<String>) {
    let b = &br.block;
    let name = &b.name;
    if br.bindings.len() != b.iter_vars.len() {
        errs.push(format!(
            "block `{name}` has {} bindings for {} iteration variables",
            br.bindings.len(),
            b.iter_vars.len()
        ));
        return;
    }
    let loop_vars: HashSet<&Var> = loops.iter().map(|l| &l.var).collect();
    let mut an = Analyzer::new();
    for l in loops {
        an.bind(&l.var, l.extent);
    }
    for e in br.bindings.iter().chain(std::iter::once(&br.predicate)) {
        for v in e.vars() {
            if !loop_vars.contains(&v) {
                errs.push(format!("block `{name}`: binding or predicate uses `{v}`, which is not an enclosing loop"));
            }
        }
    }
    // Every binding stays inside its iteration domain, or the predicate bounds it.
    let bounds = predicate_upper_bounds(&br.predicate);
    let lower = predicate_lower_bounds(&br.predicate);
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        // A conjunct bounds the binding when the two differ by a constant `k`
        // (`i * 4 + ax0 < 17` bounds `i * 4 + ax0 - 1` by 16).
        let offset = |e: &Expr| an.linear(&(bind.clone() - e.clone())).as_const();
        let ok = match an.range(bind) {
            Some((lo, hi)) => {
                let enumerated = || in_domain_where_predicate_holds(loops, br, bind, iv.extent);
                (lo >= 0 || lower.iter().any(|(e, c)| offset(e).is_some_and(|k| c + k >= 0)) || enumerated())
                    && (hi < iv.extent
                        || bounds.iter().any(|(e, c)| offset(e).is_some_and(|k| c + k <= iv.extent))
                        || bounded_by_predicate(&an, bind, &bounds, iv.extent)
                        || enumerated())
            }
            None => true,
        };
        if !ok {
            errs.push(format!(
                "block `{name}`: binding `{}` of `{}` may leave 0..{}",
                super::printer::expr_to_string(bind),
                iv.var,
                iv.extent
            ));
        }
    }
    let own: HashSet<&Var> = b.iter_vars.iter().map(|iv| &iv.var).collect();
    let mut check_store = |s: &Store, what: &str| {
        check_access(func, name, &s.buffer, s.indices.len(), errs);
        for e in s.indices.iter().chain(std::iter::once(&s.value)) {
            for v in e.vars() {
                if !own.contains(&v) {
                    errs.push(format!("block `{name}` {what} uses `{v}`, which is not one of its iteration variables"));
                }
            }
            for l in e.loads() {
                check_access(func, name, &l.buffer, l.indices.len(), errs);
                if let Some(buf) = func.buffer(&l.buffer) {
                    if buf.dtype != l.dtype {
                        errs.push(format!(
                            "block `{name}`: load of `{}` typed {} but the buffer holds {}",
                            l.buffer, l.dtype, buf.dtype
                        ));
                    }
                }
            }
        }
        if let Some(buf) = func.buffer(&s.buffer) {
            if buf.dtype != s.value.dtype() {
                errs.push(format!("block `{name}`: stores a {} into `{}` of {}", s.value.dtype(), s.buffer, buf.dtype));
            }
        }
    };
    check_store(&b.body, "body");
    if let Some(init) = &b.init {
        check_store(init, "init");
        if init.buffer != b.body.buffer || init.indices != b.body.indices {
            errs.push(format!("block `{name}`: init writes a different element than the body"));
        }
    }
}

fn check_access(func: &PrimFunc, block: &str, buffer: &str, n: usize, errs: &mut Vec<String>) {
    match func.buffer(buffer) {
        None => errs.push(format!("block `{block}` accesses unknown buffer `{buffer}`")),
        Some(b) if b.shape.len() != n => errs
            .push(format!("block `{block}` indexes `{buffer}` with {n} indices, it has {} dimensions", b.shape.len())),
        _ => {}
    }
}

/// Whether `bind` stays below `extent` where the predicate's conjuncts
/// `e < c` hold. Each bounded `e` becomes a variable in `lo..c` wherever it
/// occurs in `bind`: as a part (`(f_0 * 16 + f_1) // 37` under
/// `f_0 * 16 + f_1 < 370`) or as a multiple spread over the terms
/// (`i_0_0 * 4 + i_0_1 * 2 + i_1` under `i_0_0 * 2 + i_0_1 < 5`: splitting an
/// evenly split loop unevenly), every conjunct at once. Failing that, for one
/// conjunct, `q·bind = p·e + rest` with the ratio `p/q` of the coefficients of
/// one variable (`f_0 * 5 + f_1` under `f_0 * 10 + f_1 * 2 + f_2 < 14`).
/// A quotient `u // d` (d > 0) stays below `extent` where `u` stays below
/// `extent · d` (`f_0 // 1536` under `f_0 * 2 + f_1 < 196608`: a fused loop
/// split unevenly, its quotient simplified).
fn bounded_by_predicate(an: &Analyzer, bind: &Expr, bounds: &[(Expr, i64)], extent: i64) -> bool {
    if let Expr::Binary(BinOp::FloorDiv, u, d) = bind {
        if let Some(d) = d.as_int().filter(|d| *d > 0) {
            if extent.checked_mul(d).is_some_and(|x| bounded_by_predicate(an, u, bounds, x)) {
                return true;
            }
        }
    }
    let mut inner = an.clone();
    let mut bounded = Vec::new();
    for (k, (e, c)) in bounds.iter().enumerate() {
        let Some((lo, hi)) = an.range(e) else { continue };
        if lo > c - 1 {
            continue;
        }
        let t = Var::new(&format!("<bounded {k}>"));
        inner.bind_range(&t, lo, hi.min(c - 1));
        bounded.push((an.linear(e), e, t, hi.min(c - 1)));
    }
    let part = bind.map(&mut |x| {
        let lx = an.linear(&x);
        bounded.iter().find(|(l, ..)| *l == lx).map_or(x, |(_, _, t, _)| Expr::var(t))
    });
    let mut sum = an.linear(&part);
    let coef = |s: &Sum, atom: &Expr| s.terms.iter().find(|(a, _)| a == atom).map_or(0, |(_, k)| *k);
    for (target, _, t, _) in &bounded {
        let Some((a0, k0)) = target.terms.first() else { continue };
        let p = coef(&sum, a0) / k0;
        if p > 0 && target.terms.iter().all(|(a, k)| coef(&sum, a) == p * k) {
            sum.terms.retain(|(a, _)| target.terms.iter().all(|(b, _)| a != b));
            sum.terms.push((Expr::var(t), p));
            sum.constant -= p * target.constant;
        }
    }
    if inner.range(&sum.to_expr()).is_some_and(|(_, h)| h < extent) {
        return true;
    }
    let whole = an.linear(bind);
    bounded.iter().any(|(target, e, _, e_hi)| {
        let Some((a0, k0)) = target.terms.first() else { return false };
        let s0 = coef(&whole, a0);
        if s0 == 0 || s0.signum() != k0.signum() {
            return false;
        }
        let g = gcd(s0, *k0);
        let (p, q) = ((s0 / g).abs(), (k0 / g).abs());
        let rest = bind.clone() * q - (*e).clone() * p;
        an.range(&rest).is_some_and(|(_, rest_hi)| (p * e_hi + rest_hi).div_euclid(q) < extent)
    })
}

/// Whether `bind` is in `0..extent` at every point of the loops where the
/// block's predicate holds (the bound of last resort): a branch and bound over
/// the loops it depends on, the binding's outermost first, then the
/// predicate's. A partial point (some loops fixed, the others over their whole
/// range) is settled when the binding's range fits or the predicate folds to
/// false there, so a nest of huge extents whose predicate admits few points
/// (a split by factors far larger than the loop) is cheap. Gives up (false)
/// after 2^16 partial points.
fn in_domain_where_predicate_holds(loops: &[&For], br: &BlockRealize, bind: &Expr, extent: i64) -> bool {
    let depth = |v: &Var| loops.iter().position(|l| &l.var == v);
    let mut bind_vars = bind.vars();
    bind_vars.sort_by_key(depth);
    let mut pred_vars: Vec<Var> = br.predicate.vars().into_iter().filter(|v| !bind.uses_var(v)).collect();
    pred_vars.sort_by_key(depth);
    let Some(dims) = bind_vars
        .iter()
        .chain(&pred_vars)
        .map(|v| loops.iter().find(|l| &l.var == v).map(|l| (v.clone(), l.extent)))
        .collect::<Option<Vec<(Var, i64)>>>()
    else {
        return false;
    };
    let mut budget = 1i64 << 16;
    settle(&dims, &mut Vec::new(), &br.predicate, bind, extent, &mut budget)
}

/// `in_domain_where_predicate_holds` below the partial point `fixed` (the
/// values of the first `fixed.len()` of `dims`).
fn settle(dims: &[(Var, i64)], fixed: &mut Vec<i64>, pred: &Expr, bind: &Expr, extent: i64, budget: &mut i64) -> bool {
    *budget -= 1;
    if *budget < 0 {
        return false;
    }
    let mut an = Analyzer::new();
    for (k, (v, e)) in dims.iter().enumerate() {
        match fixed.get(k) {
            Some(x) => an.bind_range(v, *x, *x),
            None => an.bind(v, *e),
        }
    }
    let fits = |r: Option<(i64, i64)>| r.is_some_and(|(lo, hi)| lo >= 0 && hi < extent);
    if fits(an.range(bind)) || fits(an.simplify(bind).as_int().map(|x| (x, x))) {
        return true;
    }
    if matches!(an.simplify(pred), Expr::Const(super::expr::Const::Bool(false))) {
        return true;
    }
    let Some((_, e)) = dims.get(fixed.len()) else { return false };
    for x in 0..*e {
        fixed.push(x);
        let ok = settle(dims, fixed, pred, bind, extent, budget);
        fixed.pop();
        if !ok {
            return false;
        }
    }
    true
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The conjuncts `e < c` and `e <= c - 1` of a predicate with `c` a
/// constant, as `(e, c)`, in order; every other conjunct is left out.
pub fn predicate_upper_bounds(pred: &Expr) -> Vec<(Expr, i64)> {
    let mut out = Vec::new();
    fn go(e: &Expr, out: &mut Vec<(Expr, i64)>) {
        match e {
            Expr::Binary(BinOp::And, a, b) => {
                go(a, out);
                go(b, out);
            }
            Expr::Binary(BinOp::Lt, a, b) => {
                if let Some(c) = b.as_int() {
                    out.push(((**a).clone(), c));
                }
            }
            Expr::Binary(BinOp::Le, a, b) => {
                if let Some(c) = b.as_int() {
                    out.push(((**a).clone(), c + 1));
                }
            }
            _ => {}
        }
    }
    go(pred, &mut out);
    out
}

/// The conjuncts `c <= e`, `c < e`, `e >= c` and `e > c` of a predicate, as
/// `(e, least value of e)`.
pub fn predicate_lower_bounds(pred: &Expr) -> Vec<(Expr, i64)> {
    fn go(e: &Expr, out: &mut Vec<(Expr, i64)>) {
        match e {
            Expr::Binary(BinOp::And, a, b) => {
                go(a, out);
                go(b, out);
            }
            Expr::Binary(op @ (BinOp::Le | BinOp::Lt), a, b) => {
                if let Some(c) = a.as_int() {
                    out.push(((**b).clone(), if *op == BinOp::Le { c } else { c + 1 }));
                }
            }
            Expr::Binary(op @ (BinOp::Ge | BinOp::Gt), a, b) => {
                if let Some(c) = b.as_int() {
                    out.push(((**a).clone(), if *op == BinOp::Ge { c } else { c + 1 }));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(pred, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::predicate_upper_bounds;
    use crate::ir::{BinOp, Expr, Var};
    use crate::schedule::testing::matmul;
    use crate::schedule::Schedule;

    #[test]
    fn predicate_upper_bounds_reads_lt_and_le_conjuncts_only() {
        let var = |n: &str| Expr::var(&Var::new(n));
        let cmp = |op, a, b: i64| Expr::binary(op, a, Expr::Int(b));
        let (x, y, z) = (var("x"), var("y"), var("z"));
        let pred = cmp(BinOp::Lt, x.clone(), 8)
            .and(cmp(BinOp::Le, y.clone(), 3).and(cmp(BinOp::Gt, z.clone(), 2)))
            .and(Expr::binary(BinOp::Lt, z.clone(), var("n")));
        assert_eq!(predicate_upper_bounds(&pred), vec![(x, 8), (y, 4)]);
        assert!(predicate_upper_bounds(&Expr::true_()).is_empty());
    }

    /// Found by the random-schedule property test: splits whose factors
    /// overshoot the loop by far give predicated bindings over huge nests,
    /// which the last-resort bound must settle without enumerating them all.
    #[test]
    fn predicated_bindings_over_huge_nests_verify() {
        let mut sch = Schedule::new(matmul(7, 5, 9), 0);
        sch.set_verify(true);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let f = sch.fuse(&l).unwrap();
        sch.split(f, &[Some(185.into()), Some(315.into()), Some(63.into()), Some(15.into())]).unwrap();

        // The predicate also bounds loops the binding does not use.
        let mut sch = Schedule::new(matmul(10, 7, 15), 0);
        sch.set_verify(true);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let f = sch.fuse(&l[1..]).unwrap();
        sch.split(f, &[Some(5.into()), Some(21.into()), Some(3.into())]).unwrap();
        let l = sch.get_loops(c).unwrap();
        sch.split(l[0], &[Some(5.into()), Some(10.into()), Some(10.into()), Some(1.into())]).unwrap();
    }

    /// Also from the property test: fusing back the loops of an uneven split
    /// gives bindings with `%` of one fixed value, whose range must be exact.
    #[test]
    fn fusing_an_uneven_split_back_verifies() {
        let mut sch = Schedule::new(matmul(10, 7, 15), 0);
        sch.set_verify(true);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let f = sch.fuse(&l[1..]).unwrap();
        let s = sch.split(f, &[Some(5.into()), Some(15.into()), None]).unwrap();
        sch.fuse(&s).unwrap();
    }
}
