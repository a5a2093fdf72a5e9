//! The bounds prover: decides which memory accesses the emitter may emit
//! unchecked. This is the one piece of the code generator that memory safety
//! rests on.
//!
//! Every buffer of the generated code is a raw pointer to `size` elements
//! (the parameters' lengths are checked by the safe wrapper, temporaries are
//! allocated with their size). An access `buffer[index]` is emitted as a
//! plain `ptr.offset(index)` only when [`prove`] shows `0 <= index < size` for
//! every execution that reaches it; otherwise it goes through
//! `::kiln::runtime::checked` / `checked_mut`, which panic on an index outside
//! the buffer. A failed proof costs a compare and a branch, never safety, so
//! the prover only has to be sound, not complete.
//!
//! An access sits in a lowered block (`LBlock`): the block binds its
//! iteration variables (`lets`: `v = binding`, with the domain `0..extent`
//! that holds whenever the block's predicate does), runs only where its
//! predicate holds, and is nested in runtime loops whose variables range over
//! `0..extent` (`Env::loops`; unrolled loops are constants, `Env::consts`).
//! Three strategies, tried in order; the first that succeeds proves the access:
//!
//! - **A, loop ranges.** Substitute the bindings (the index becomes an
//!   expression of the loop variables), simplify, and take its interval over
//!   the loop ranges. Sound because the access runs only inside its loops:
//!   every loop variable lies in its range, and the analyzer's interval
//!   over-approximates the values. No use of the predicate.
//! - **B, iteration domains.** Keep the iteration variables and bound each to
//!   its domain `0..extent`. Sound because the block runs only where its
//!   predicate holds, and where it holds the bindings lie in their domains
//!   (the invariant of `LBlock::lets`, established by the schedule primitives:
//!   a non-dividing `split` adds exactly the predicate that keeps the bound
//!   variable inside its domain). This is what proves the accesses of a loop
//!   split by a factor that does not divide it.
//! - **C, predicate upper bounds.** Over the loop ranges again, but use the
//!   predicate's conjuncts `bound < c` (or `bound <= c - 1`) with `c` a
//!   constant: if the index is `alpha · bound + rest` with `alpha > 0` (the
//!   linear form of the index contains every term of `bound`, each scaled by
//!   the same `alpha`), then where the predicate holds
//!   `index <= alpha · (c - 1) + max(rest)`. Sound because the access runs
//!   only where the predicate (hence each conjunct) holds and `alpha > 0`
//!   keeps the inequality's direction. The lower bound is A's. This proves
//!   accesses to compacted temporaries, whose indices mix iteration and loop
//!   variables, under a non-dividing split's predicate. Conjuncts of any other
//!   form (`>`, `>=`, `==`, `!=`, `||`, a bound that is not a constant) are
//!   ignored: ignoring a fact is always sound.
//!
//! Vector code asks the same question with the lane variable bound to the
//! whole loop: a full vector covers iterations of the loop, and a vector
//! where a lane predicate does not hold everywhere is masked or runs lane by
//! lane, so every accessed lane is an iteration where the predicate holds.

use crate::ir::verify::predicate_upper_bounds;
use crate::ir::{Analyzer, BinOp, Expr, Sum, Var};

use super::emit::Env;
use super::lir::LBlock;

/// The strategy that proved an access in bounds (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    /// A: the index's interval over the loop ranges.
    LoopRanges,
    /// B: the index's interval over the block's iteration domains.
    IterationDomains,
    /// C: the loop ranges with the predicate's constant upper bounds (also
    /// when the interval of the index's linear form needs none of them).
    PredicateBounds,
}

/// Resolves an expression of a block: iteration variables → bindings,
/// unrolled loops → constants, then simplifies with the loop ranges.
pub(crate) fn resolve(b: &LBlock, e: &Expr, env: &Env) -> Expr {
    let an = env.analyzer();
    undivide(&drop_full_guards(&resolve_raw(b, e, env, &an), env), &an)
}

/// `e` with each comparison `rest + y // c < 0` (any ordering, `c > 0`, the
/// quotient's coefficient 1) rewritten as the equivalent `y + c·rest < 0`
/// (`⌊y/c⌋ < m` iff `y < c·m` for integers): the guard of a partial row step
/// over a fused loop, `16·i0 + f // 5 < n`, becomes linear in `f`, so its
/// lanes are a prefix of the vector (`vector::prefix_lanes`).
fn undivide(e: &Expr, an: &Analyzer) -> Expr {
    match e {
        Expr::Binary(BinOp::And, a, b) => undivide(a, an).and(undivide(b, an)),
        Expr::Binary(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), l, r) => {
            // d < 0 (strict) or d <= 0.
            let (d, strict) = match op {
                BinOp::Lt => (Expr::binary(BinOp::Sub, (**l).clone(), (**r).clone()), true),
                BinOp::Le => (Expr::binary(BinOp::Sub, (**l).clone(), (**r).clone()), false),
                BinOp::Gt => (Expr::binary(BinOp::Sub, (**r).clone(), (**l).clone()), true),
                _ => (Expr::binary(BinOp::Sub, (**r).clone(), (**l).clone()), false),
            };
            let sum = an.linear(&d);
            let divs: Vec<_> = sum.terms.iter().filter(|(a, _)| a.as_var().is_none()).collect();
            let [(Expr::Binary(BinOp::FloorDiv, y, c), 1)] = divs.as_slice() else { return e.clone() };
            let Some(c) = c.as_int().filter(|c| *c > 0) else { return e.clone() };
            let mut rest = sum.clone();
            rest.terms.retain(|(a, _)| a.as_var().is_some());
            // ⌊y/c⌋ + rest < 0  ⟺  y + c·rest < 0;  ⌊y/c⌋ + rest ≤ 0  ⟺  y + c·rest − c < 0.
            let lhs = (**y).clone() + rest.to_expr() * c + if strict { 0 } else { -c };
            Expr::binary(BinOp::Lt, an.simplify(&lhs), Expr::Int(0))
        }
        _ => e.clone(),
    }
}

/// [`resolve`], keeping the guards of symbolic rows.
fn resolve_raw(b: &LBlock, e: &Expr, env: &Env, an: &Analyzer) -> Expr {
    let e = super::compact::substitute_lets(b, e);
    an.simplify(&env.fold(&e))
}

/// `e` with each guard `row < n` of a symbolic dimension that holds in the
/// full steps of an enclosing row loop (`Env::full_steps`) replaced by
/// `true`: where `row = first + step · v + rest` with `rest` in `0..step`
/// and the loop runs `v` in `0..(n - first) / step`,
/// `row <= first + step · ((n - first) / step) - 1 < n`.
pub(crate) fn drop_full_guards(e: &Expr, env: &Env) -> Expr {
    if env.full_steps.is_empty() && env.rows_left.is_empty() {
        return e.clone();
    }
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            let (a, b) = (drop_full_guards(a, env), drop_full_guards(b, env));
            let t = Expr::true_();
            if a == t {
                b
            } else if b == t {
                a
            } else {
                a.and(b)
            }
        }
        Expr::Binary(BinOp::Lt, row, n) if full_step_row(row, n, env) => Expr::true_(),
        Expr::Binary(BinOp::Lt, row, n) => match rows_left_decides(row, n, env) {
            Some(holds) => Expr::Const(crate::ir::Const::Bool(holds)),
            None => e.clone(),
        },
        _ => e.clone(),
    }
}

/// In a partial step emitted for `k` rows left from its first row `first`
/// (`Env::rows_left`): `row < n` holds iff `row - first < k`, decided when
/// `row - first` is a constant.
fn rows_left_decides(row: &Expr, n: &Expr, env: &Env) -> Option<bool> {
    let nv = n.as_var()?;
    let an = env.analyzer();
    env.rows_left.iter().rev().filter(|(v, _, _)| v == nv).find_map(|(_, first, k)| {
        let c = an.simplify(&Expr::binary(BinOp::Sub, row.clone(), first.clone())).as_int()?;
        Some(c < *k)
    })
}

/// Whether `row < n` holds in the full steps of an enclosing row loop.
fn full_step_row(row: &Expr, n: &Expr, env: &Env) -> bool {
    let Some(nv) = n.as_var() else { return false };
    let an = env.analyzer();
    let sum = an.linear(row);
    env.full_steps.iter().any(|(v, step, dim, first)| {
        let rest = Expr::binary(BinOp::Sub, row.clone(), first.clone() + Expr::var(v) * *step);
        dim == nv
            && sum.terms.iter().any(|(a, k)| a.as_var() == Some(v) && k == step)
            && an.range(&an.simplify(&rest)).is_some_and(|(lo, hi)| lo >= 0 && hi < *step)
    })
}

/// Whether `buffer[index]`, an access of block `b`, provably stays inside
/// the buffer.
pub(crate) fn in_bounds(b: &LBlock, buffer: &str, index: &Expr, env: &Env) -> bool {
    prove(b, buffer, index, env).is_some()
}

/// The first strategy that proves `buffer[index]` in bounds, if any. A
/// buffer not in scope is never in bounds.
pub(crate) fn prove(b: &LBlock, buffer: &str, index: &Expr, env: &Env) -> Option<Proof> {
    let info = env.bufs.get(buffer)?;
    if let Some((nv, per_row)) = &info.rows {
        return prove_rows(b, index, env, nv, *per_row);
    }
    let ok = |r: Option<(i64, i64)>| r.is_some_and(|(lo, hi)| lo >= 0 && hi < info.size);
    // A: over the loop ranges.
    let an = env.analyzer();
    let resolved = resolve(b, index, env);
    if ok(an.range(&resolved)) {
        return Some(Proof::LoopRanges);
    }
    // B: over the iteration domains (valid under the block's predicate).
    let mut an_b = env.analyzer();
    for (v, _, ext) in &b.lets {
        an_b.bind(v, *ext);
    }
    let e = env.fold(index);
    if ok(an_b.range(&an_b.simplify(&e))) {
        return Some(Proof::IterationDomains);
    }
    // C: over the loop ranges, with the predicate's upper bounds.
    let range = under_predicate(&an, &an.linear(&resolved), &resolve(b, &b.predicate, env));
    ok(range).then_some(Proof::PredicateBounds)
}

/// The interval of the linear form `idx` over the loop ranges, its upper end
/// lowered by each conjunct `bound < c` of `pred` with `c` a constant (C in
/// the module doc): where `idx = alpha · bound + rest` with `alpha > 0`,
/// `idx <= alpha · (c - 1) + max(rest)`.
fn under_predicate(an: &Analyzer, idx: &Sum, pred: &Expr) -> Option<(i64, i64)> {
    let (lo, mut hi) = an.range(&idx.to_expr())?;
    for (bound, c) in predicate_upper_bounds(pred) {
        let lb = an.linear(&bound);
        let Some((atom, k)) = lb.terms.first() else { continue };
        let ki = idx.terms.iter().find(|(a, _)| a == atom).map_or(0, |(_, x)| *x);
        if *k <= 0 || ki <= 0 || ki % k != 0 {
            continue;
        }
        let alpha = ki / k;
        let mut rest = idx.clone();
        let mut fits = true;
        for (a, x) in &lb.terms {
            match rest.terms.iter_mut().find(|(b, _)| b == a) {
                Some(t) if t.1 == alpha * x => t.1 = 0,
                _ => fits = false,
            }
        }
        if !fits {
            continue;
        }
        rest.terms.retain(|(_, x)| *x != 0);
        rest.constant -= alpha * lb.constant;
        if let Some((_, rhi)) = an.range(&rest.to_expr()) {
            hi = hi.min(alpha * (c - 1) + rhi);
        }
    }
    Some((lo, hi))
}

/// D, for a parameter of `n` rows of `per_row` elements: its index is
/// `alpha · row + rest` with `0 < alpha <= per_row`, `rest <= per_row - 1`,
/// and the block runs only where `row < n` (its guard, `symbolic.rs`), so
/// `index <= per_row · (n - 1) + per_row - 1 < n · per_row`; the lower bound
/// is A's.
fn prove_rows(b: &LBlock, index: &Expr, env: &Env, nv: &Var, per_row: i64) -> Option<Proof> {
    let an = env.analyzer();
    let resolved = resolve_raw(b, index, env, &an);
    let (lo, _) = an.range(&resolved)?;
    if lo < 0 {
        return None;
    }
    let idx = an.linear(&resolved);
    let mut conj = Vec::new();
    let pred = resolve_raw(b, &b.predicate, env, &an);
    conjuncts(&pred, &mut conj);
    for c in conj {
        let Expr::Binary(BinOp::Lt, row, n) = c else { continue };
        if n.as_var() != Some(nv) {
            continue;
        }
        let lr = an.linear(row);
        // The step: the loop variable with the largest coefficient (a fused
        // loop's `f / 5` may come with it, in the rest).
        let step = lr.terms.iter().filter(|(a, _)| a.as_var().is_some()).max_by_key(|(_, k)| *k);
        let Some((atom, k)) = step else { continue };
        let ki = idx.terms.iter().find(|(a, _)| a == atom).map_or(0, |(_, x)| *x);
        if *k <= 0 || ki <= 0 || ki % k != 0 || ki / k > per_row {
            continue;
        }
        let alpha = ki / k;
        let rest = an.simplify(&Expr::binary(BinOp::Sub, resolved.clone(), (**row).clone() * alpha));
        // The column: over the loop ranges, or under the predicate's bounds
        // (a row of 1000 in vectors of 16: `16·j0 + j1 < 1000`).
        let column = under_predicate(&an, &an.linear(&rest), &pred);
        if column.is_some_and(|(_, hi)| hi < per_row) && !rest.uses_var(nv) {
            return Some(Proof::PredicateBounds);
        }
    }
    None
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        _ => out.push(e),
    }
}

#[cfg(test)]
#[path = "bounds_tests.rs"]
mod tests;
