//! Accumulators kept in registers across the reduction loop of a register
//! tile (scalar replacement).
//!
//! A register tile is a serial loop — the reduction `k` — whose body is
//! straight-line code once its unrolled and vectorized loops are expanded.
//! When the tile accumulates into a temporary at an address that moves with
//! an *outer* loop (BLIS's `kc` blocking: the accumulators of a whole row
//! block live in `c_local[i_2 * 64 + ..]` between two blocks of `k`),
//! whether LLVM keeps them in registers inside `k` depends on whether it
//! happens to unroll that outer loop: the same schedule ran at 9.4 instead
//! of 38 GFLOP/s when it did not (closing note of issue 11). This pass makes
//! it explicit, as BLIS's micro-kernels do: the tile's window of the
//! temporary is copied into a small array before `k` and back after it, and
//! the body works on the array, which every access indexes by constants once
//! unrolled — so it becomes registers (LLVM's SROA), whatever LLVM decides
//! about the loops around it.
//!
//! It applies to a serial loop `k` when
//! 1. its body holds only unrolled and vectorized loops and blocks, every
//!    block without a predicate (a guarded access might not happen, and the
//!    copies would touch what it guards);
//! 2. a temporary `T` (never a parameter) is written in it (an accumulator:
//!    an invariant load alone LLVM hoists itself), every access at
//!    `base + Σ cᵢ·vᵢ + c` with the same `base` — an expression of the loops
//!    outside `k` that is not a constant (a constant window is promoted by
//!    LLVM already) and does not mention `k` — over the unrolled and
//!    vectorized loop variables `vᵢ` of the body (constant once unrolled:
//!    a base over unrolled loops alone does not count);
//! 3. the offsets met form one dense range `0..span` (so the copies move
//!    only elements the tile itself touches), of at most [`MAX_SPAN`].
//!
//! Exact: the body reads and writes the same elements in the same order,
//! through another name. Not promoted (yet): a temporary whose rows
//! `compact_buffers` padded for full vectors (`LBuffer::row`): its window
//! would have to hold the padding that a partial vector computes into.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::ir::arith::{Analyzer, Sum};
use crate::ir::{Annotations, Expr, ForKind, Load, Scope, Var};

use super::compact::substitute_lets;
use super::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt, LStore};

/// The largest window promoted, in elements (a register tile holds at most
/// 32 vectors of 16 lanes).
pub const MAX_SPAN: i64 = 512;

/// The pass (after `flatten`: every access has one index).
pub fn promote_accumulators(mut f: LFunc) -> LFunc {
    let temps: Vec<LBuffer> = f
        .buffers()
        .into_iter()
        .filter(|b| matches!(b.kind, LBufferKind::Temp { .. }) && b.row.is_none())
        .cloned()
        .collect();
    let mut names: BTreeSet<String> = f.buffers().iter().map(|b| b.name.to_string()).collect();
    rewrite(&mut f.body, &temps, &mut names, &mut Vec::new());
    f
}

/// `outer`: the loops around `stmts`, with their extents and whether they
/// are unrolled.
fn rewrite(stmts: &mut Vec<LStmt>, temps: &[LBuffer], names: &mut BTreeSet<String>, outer: &mut Vec<(Var, i64, bool)>) {
    let mut i = 0;
    while i < stmts.len() {
        let plans = match &stmts[i] {
            LStmt::For { var, kind: ForKind::Serial, body, .. } => plan_loop(var, body, temps, outer),
            _ => vec![],
        };
        if plans.is_empty() {
            if let LStmt::For { var, extent, kind, body, .. } = &mut stmts[i] {
                outer.push((var.clone(), *extent, *kind == ForKind::Unrolled));
                rewrite(body, temps, names, outer);
                outer.pop();
            }
            i += 1;
            continue;
        }
        let mut before = Vec::new();
        let mut after = Vec::new();
        for p in plans {
            let name = fresh_name(&format!("{}_reg", p.buffer.name), names);
            let reg = LBuffer {
                name: Arc::from(name.as_str()),
                dtype: p.buffer.dtype,
                shape: vec![p.span],
                scope: Scope::Local,
                kind: LBufferKind::Temp { zeroed: false },
                row: None,
            };
            before.push(LStmt::Alloc(reg.clone()));
            before.push(copy(&reg, &p, true, names));
            after.push(copy(&reg, &p, false, names));
            if let LStmt::For { body, .. } = &mut stmts[i] {
                redirect(body, &p, &reg.name);
            }
        }
        let n = before.len();
        let m = after.len();
        stmts.splice(i + 1..i + 1, after);
        stmts.splice(i..i, before);
        i += n + 1 + m;
    }
}

/// One temporary promoted around a loop.
struct Plan {
    buffer: LBuffer,
    /// The window's first element: an expression of the outer loops.
    base: Sum,
    /// The smallest offset met (the window starts there).
    lo: i64,
    /// Elements in the window.
    span: i64,
    /// The loop, its body's inner loops, and an analyzer that knows them.
    k: Var,
    inner: Vec<(Var, i64)>,
    an: Analyzer,
}

/// The temporaries to promote around the serial loop `k` (conditions 1–3).
fn plan_loop(k: &Var, body: &[LStmt], temps: &[LBuffer], outer: &[(Var, i64, bool)]) -> Vec<Plan> {
    let mut inner: Vec<(Var, i64)> = Vec::new();
    let mut blocks: Vec<&LBlock> = Vec::new();
    if !straight_line(body, &mut inner, &mut blocks) || blocks.iter().any(|b| !b.predicate.is_true()) {
        return vec![];
    }
    let mut an = Analyzer::new();
    for (v, e) in outer.iter().map(|(v, e, _)| (v, e)).chain(inner.iter().map(|(v, e)| (v, e))) {
        an.bind(v, *e);
    }
    // Constant once unrolled: a base over unrolled loops only.
    let moves = |base: &Sum| {
        base.terms.iter().any(|(atom, _)| outer.iter().any(|(v, _, unrolled)| !unrolled && atom.uses_var(v)))
    };
    let mut out = Vec::new();
    for t in temps {
        // Every access of `t`, resolved to the loop variables and split into
        // (base over the outer loops, offset over the inner ones).
        let mut parts: Vec<(Sum, Sum)> = Vec::new();
        let mut ok = true;
        let mut stored = false;
        for b in &blocks {
            // (An element of `t` used as an index is not renamed: leave `t` alone.)
            let stores = b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store));
            if stores.flat_map(|s| &s.indices).any(|i| i.loads().iter().any(|l| *l.buffer == *t.name)) {
                ok = false;
            }
            for (buf, idx, is_store) in b.accesses() {
                if *buf != *t.name {
                    continue;
                }
                stored |= is_store;
                match split_index(&an, &substitute_lets(b, &idx[0]), k, &inner) {
                    Some(p) => parts.push(p),
                    None => ok = false,
                }
            }
        }
        let Some((base0, _)) = parts.first() else { continue };
        if !ok || !stored || !moves(base0) || parts.iter().any(|(b, _)| !same_sum(b, base0)) {
            continue;
        }
        let Some(offsets) = footprint(&parts, &inner) else { continue };
        let (lo, hi) = (*offsets.first().unwrap(), *offsets.last().unwrap());
        let span = hi - lo + 1;
        if span > MAX_SPAN || offsets.len() as i64 != span {
            continue;
        }
        let mut base = base0.clone();
        base.constant += lo;
        out.push(Plan { buffer: t.clone(), base, lo, span, k: k.clone(), inner: inner.clone(), an: an.clone() });
    }
    out
}

/// Whether `body` holds only unrolled/vectorized loops and blocks; collects
/// those loops' variables with their extents, and the blocks.
fn straight_line<'a>(body: &'a [LStmt], inner: &mut Vec<(Var, i64)>, blocks: &mut Vec<&'a LBlock>) -> bool {
    body.iter().all(|s| match s {
        LStmt::For { var, extent, kind: ForKind::Unrolled | ForKind::Vectorized, body, .. } => {
            inner.push((var.clone(), *extent));
            straight_line(body, inner, blocks)
        }
        LStmt::Block(b) => {
            blocks.push(b);
            true
        }
        _ => false,
    })
}

/// `index = base + offset`: `base` the terms over other variables (not
/// mentioning `k` nor any inner variable), `offset` the constant and the
/// inner variables' terms (each inner variable alone, times a constant).
fn split_index(an: &Analyzer, index: &Expr, k: &Var, inner: &[(Var, i64)]) -> Option<(Sum, Sum)> {
    let lin = an.linear(&an.simplify(index));
    let mut base = Sum::constant(0);
    let mut offset = Sum::constant(lin.constant);
    for (atom, c) in &lin.terms {
        // A loop of one iteration (or any atom of one value) is a constant.
        if let Some((lo, hi)) = an.range(atom).filter(|(lo, hi)| lo == hi) {
            offset.constant += c * lo;
            debug_assert_eq!(lo, hi);
            continue;
        }
        let is_inner = matches!(atom, Expr::Var(v) if inner.iter().any(|(x, _)| x == v));
        if is_inner {
            offset.terms.push((atom.clone(), *c));
        } else if atom.uses_var(k) || inner.iter().any(|(x, _)| atom.uses_var(x)) {
            return None;
        } else {
            base.terms.push((atom.clone(), *c));
        }
    }
    Some((base, offset))
}

fn same_sum(a: &Sum, b: &Sum) -> bool {
    a.constant == b.constant
        && a.terms.len() == b.terms.len()
        && a.terms.iter().all(|(x, c)| b.terms.iter().any(|(y, d)| x == y && c == d))
}

/// Every offset the accesses reach, sorted; `None` when there are too many
/// to enumerate (far beyond a register tile).
fn footprint(parts: &[(Sum, Sum)], inner: &[(Var, i64)]) -> Option<Vec<i64>> {
    let mut seen = BTreeSet::new();
    for (_, off) in parts {
        let vars: Vec<(i64, i64)> = off
            .terms
            .iter()
            .map(|(a, c)| {
                let extent = inner.iter().find(|(v, _)| matches!(a, Expr::Var(x) if x == v)).map_or(1, |(_, e)| *e);
                (*c, extent)
            })
            .collect();
        let combos: i64 = vars.iter().map(|(_, e)| *e).product();
        if combos > 4 * MAX_SPAN {
            return None;
        }
        for n in 0..combos {
            let (mut rest, mut at) = (n, off.constant);
            for (c, e) in &vars {
                at += c * (rest % e);
                rest /= e;
            }
            seen.insert(at);
        }
    }
    Some(seen.into_iter().collect())
}

/// Rewrites the body's accesses of the plan's buffer to the register window:
/// `T[base + offset]` becomes `reg[offset - lo]`.
fn redirect(body: &mut [LStmt], p: &Plan, reg: &Arc<str>) {
    for s in body {
        match s {
            LStmt::For { body, .. } => redirect(body, p, reg),
            LStmt::Alloc(_) => {}
            LStmt::Block(b) => {
                let lets = b.clone();
                rename(b, &p.buffer.name, reg, |idx| {
                    let (_, mut off) = split_index(&p.an, &substitute_lets(&lets, &idx[0]), &p.k, &p.inner)
                        .expect("planned: every access splits");
                    off.constant -= p.lo;
                    vec![off.to_expr()]
                });
            }
        }
    }
}

/// Renames `from` to `to` in the block's accesses, re-indexing them with `index`.
fn rename(b: &mut LBlock, from: &str, to: &Arc<str>, index: impl Fn(&[Expr]) -> Vec<Expr>) {
    let fix = |s: &mut LStore| {
        s.value = s.value.map(&mut |e| match e {
            Expr::Load(l) if &*l.buffer == from => {
                Expr::Load(Load { buffer: to.clone(), dtype: l.dtype, indices: index(&l.indices) })
            }
            other => other,
        });
        if &*s.buffer == from {
            s.indices = index(&s.indices);
            s.buffer = to.clone();
        }
    };
    if let Some((_, s)) = &mut b.init {
        fix(s);
    }
    fix(&mut b.store);
}

/// The copy of the window into the register array (`into_reg`) or back:
/// `for o0 in unroll(span / w) { for o1 in vectorized(w) { .. } }` with `w`
/// the largest of 16, 8, 4 dividing the span (1: unrolled scalar copies).
fn copy(reg: &LBuffer, p: &Plan, into_reg: bool, names: &mut BTreeSet<String>) -> LStmt {
    let w = [16, 8, 4].into_iter().find(|w| p.span % w == 0).unwrap_or(1);
    let dir = if into_reg { "in" } else { "out" };
    let o0 = Var::new(&fresh_name(&format!("{}_{dir}0", reg.name), names));
    let o1 = Var::new(&fresh_name(&format!("{}_{dir}1", reg.name), names));
    let o = Expr::var(&o0) * w + Expr::var(&o1);
    let mut window = p.base.clone();
    window.terms.push((o.clone(), 1));
    let (reg_at, buf_at) = (vec![o], vec![window.to_expr()]);
    let load =
        |buffer: &Arc<str>, indices: Vec<Expr>| Expr::Load(Load { buffer: buffer.clone(), dtype: reg.dtype, indices });
    let store = if into_reg {
        LStore { buffer: reg.name.clone(), indices: reg_at.clone(), value: load(&p.buffer.name, buf_at) }
    } else {
        LStore { buffer: p.buffer.name.clone(), indices: buf_at, value: load(&reg.name, reg_at) }
    };
    let block = LStmt::Block(Box::new(LBlock {
        name: format!("{}_{dir}", reg.name),
        lets: vec![],
        predicate: Expr::true_(),
        init: None,
        store,
    }));
    let lanes = LStmt::For {
        var: o1,
        extent: w,
        kind: if w > 1 { ForKind::Vectorized } else { ForKind::Unrolled },
        annotations: Annotations::default(),
        body: vec![block],
    };
    LStmt::For {
        var: o0,
        extent: p.span / w,
        kind: ForKind::Unrolled,
        annotations: Annotations::default(),
        body: vec![lanes],
    }
}

fn fresh_name(want: &str, names: &mut BTreeSet<String>) -> String {
    let mut name = want.to_string();
    let mut n = 1;
    while names.contains(&name) {
        name = format!("{want}{n}");
        n += 1;
    }
    names.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use crate::codegen::lir::{LFunc, LStmt};
    use crate::codegen::lower::lower;
    use crate::schedule::testing::{kc_blocked_trace, matmul};
    use crate::schedule::{DecisionMode, Schedule};

    /// A 32×32×64 product blocked as BLIS does: row blocks of 16 (`i0`),
    /// panels of 16 columns (`j1`), `kc` = 16 (`k0` outside the row tiles
    /// `i2`), a 4×16 register tile; the accumulators of a row block live in
    /// `c_local` (16×16) between the blocks of `k`.
    fn kc_blocked() -> String {
        kc_blocked_trace([2, 4, 4], [2, 2, 8], [4, 16])
    }

    fn lowered(trace: &str) -> LFunc {
        let func = matmul(32, 32, 64);
        let trace = crate::trace::parse_trace_str(trace).unwrap();
        let sch = Schedule::replay(&func, &trace, 0, DecisionMode::Strict).unwrap();
        lower(&sch.into_parts().0)
    }

    /// The promoted buffers, with their shapes, and the loop each was put
    /// in front of (the statement after its copy-in).
    fn promoted(f: &LFunc) -> Vec<(String, Vec<i64>, String)> {
        fn go(s: &[LStmt], out: &mut Vec<(String, Vec<i64>, String)>) {
            for (i, x) in s.iter().enumerate() {
                match x {
                    LStmt::Alloc(b) if b.name.ends_with("_reg") => {
                        let next = match s.get(i + 2) {
                            Some(LStmt::For { var, .. }) => var.to_string(),
                            _ => String::new(),
                        };
                        out.push((b.name.to_string(), b.shape.clone(), next));
                    }
                    LStmt::For { body, .. } => go(body, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        go(&f.body, &mut out);
        out
    }

    fn uses(s: &[LStmt], buffer: &str) -> bool {
        s.iter().any(|x| match x {
            LStmt::For { body, .. } => uses(body, buffer),
            LStmt::Block(b) => b.accesses().iter().any(|(n, _, _)| &**n == buffer),
            LStmt::Alloc(_) => false,
        })
    }

    fn find_loop<'a>(s: &'a [LStmt], var: &str) -> Option<&'a [LStmt]> {
        s.iter().find_map(|x| match x {
            LStmt::For { var: v, body, .. } if v.name() == var => Some(&body[..]),
            LStmt::For { body, .. } => find_loop(body, var),
            _ => None,
        })
    }

    #[test]
    fn a_kc_blocked_tile_accumulates_in_a_window_of_its_own() {
        let f = lowered(&kc_blocked());
        // The 4×16 tile's window of the 16×16 block: 64 elements, copied in
        // front of the reduction loop `k_1`, which then touches only it.
        assert_eq!(promoted(&f), vec![("c_local_reg".to_string(), vec![64], "k_1".to_string())]);
        let k1 = find_loop(&f.body, "k_1").unwrap();
        assert!(uses(k1, "c_local_reg") && !uses(k1, "c_local"));
    }

    #[test]
    fn a_window_at_a_constant_address_is_left_to_llvm() {
        // The row tiles unrolled too: every access of c_local is at a constant.
        let f = lowered(&format!("{}sch.unroll(loop=l5)\n", kc_blocked()));
        assert_eq!(promoted(&f), vec![]);
        // kc = k with the write-back per tile: the accumulators are a small
        // array of their own already.
        let whole_k = kc_blocked_trace([2, 4, 4], [2, 2, 8], [1, 64])
            .replace("sch.reorder(l4, l7, l10, l5,", "sch.reorder(l4, l7, l5, l10,")
            .replace("reverse_compute_at(block=b12, loop=l7", "reverse_compute_at(block=b12, loop=l5");
        assert_eq!(promoted(&lowered(&whole_k)), vec![]);
    }

    #[test]
    fn a_guarded_tile_is_left_alone() {
        // 32 rows in tiles of 3 (a predicate guards the last one).
        let guarded = kc_blocked_trace([2, 6, 3], [2, 2, 8], [4, 16]);
        let f = lowered(&guarded);
        assert_eq!(promoted(&f), vec![]);
    }
}
