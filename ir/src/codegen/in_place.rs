//! `store_in_outputs`: a temporary whose last use is an elementwise step
//! into an output is stored in that output.
//!
//! Softmax as written keeps `e = exp(x − max)` in a temporary as large as
//! its output, `expv`, and its last block divides it into the output:
//! `y[i, j] = expv[i, j] / expsum[i]`. Once that block has read
//! `expv[i, j]`, nothing reads it again, so `expv` can live in `y`: the
//! exponentials are written into `y`, summed from there, and divided in
//! place. The kernel then touches two arrays instead of three (on Zen 4,
//! softmax's 64×1000 working set shrinks from 770 KB, most of the 1 MiB L2,
//! to 512 KB) and needs no scratch allocation. Numbers are unchanged: every
//! block computes the same values from the same operands.
//!
//! Conditions, each checked (otherwise the temporary keeps its storage):
//! - the temporary `t` is still whole after `compact_buffers` (declared at
//!   the top with its full shape, perhaps with padded rows): a temporary that
//!   compaction shrank to a tile is a small array the compiler keeps in
//!   registers or L1, better than a round trip through the output (bias_gelu's
//!   `t` of 32 elements under GELU's tile);
//! - it is ordinary memory (not a register tile), starts
//!   without zeros (its first stage writes every element it later reads,
//!   `lower::overwritten_temps`), is written only by spatial blocks that do
//!   not read it;
//! - one block `B` writes the output `y` (same shape and element type as
//!   `t`, and `n` rows of the same symbolic dimension when `t` has them: a
//!   softmax over a batch of any size), without an `init`; no block reads
//!   `y`; `B` reads `t` only at the
//!   index where it writes `y` (so `B` consumes `t[e]` as it overwrites it);
//! - every other block `X` that touches `t` is done with each element before
//!   `B` writes it: in the innermost loop body that holds both, `X` comes
//!   first, and at every loop the two share, the elements `X` touches in one
//!   iteration lie past all those `B` wrote in earlier iterations (for a
//!   parallel or vector loop: in no other iteration) — shown on one dimension
//!   where both regions move with the loop variable at the same positive
//!   stride (`row i` of softmax's row loop), with [`Relax`].

use std::sync::Arc;

use crate::ir::{Analyzer, Expr, ForKind, Interval, Relax, Scope, Var};

use super::compact::substitute_lets;
use super::lir::{LBlock, LBufferKind, LFunc, LStmt};

/// Where a block sits: the child index at each level (its loops', then its
/// own) and the loops around it, outermost first.
struct Site<'a> {
    path: Vec<usize>,
    loops: Vec<(Var, i64, ForKind)>,
    block: &'a LBlock,
}

fn sites<'a>(s: &'a [LStmt], path: &mut Vec<usize>, loops: &mut Vec<(Var, i64, ForKind)>, out: &mut Vec<Site<'a>>) {
    for (k, x) in s.iter().enumerate() {
        path.push(k);
        match x {
            LStmt::For { var, extent, kind, body, .. } => {
                loops.push((var.clone(), *extent, *kind));
                sites(body, path, loops, out);
                loops.pop();
            }
            LStmt::Block(b) => out.push(Site { path: path.clone(), loops: loops.clone(), block: b }),
            LStmt::Alloc(_) => {}
        }
        path.pop();
    }
}

/// Stores each temporary that qualifies (module documentation) in its output.
pub fn store_in_outputs(mut f: LFunc) -> LFunc {
    let temps: Vec<Arc<str>> = f
        .body
        .iter()
        .filter_map(|s| match s {
            LStmt::Alloc(b) if b.kind == (LBufferKind::Temp { zeroed: false }) && b.scope == Scope::Global => {
                Some(b.name.clone())
            }
            _ => None,
        })
        .collect();
    for t in temps {
        let Some(y) = output_for(&f, &t) else { continue };
        rename(&mut f.body, &t, &y);
        f.body.retain(|s| !matches!(s, LStmt::Alloc(b) if b.name == t));
    }
    f
}

/// The output `t` may be stored in, if any.
///
/// With symbolic dimensions the function is still the instance at their tune
/// values: `t` and `y` of the same shape there have the same shape at every
/// value when both have `n` rows of the same dimension (or neither has), and
/// the conditions below hold at every value because they hold per row step
/// (the language keeps rows independent; `symbolic.rs` only changes how many
/// steps the row loops run).
fn output_for(f: &LFunc, t: &str) -> Option<Arc<str>> {
    let rows_of = |name: &str| f.dims.iter().position(|d| d.temps.iter().chain(&d.params).any(|x| **x == *name));
    let tb = f.buffer(t)?;
    let mut whole = tb.shape.clone();
    if let (Some((_, valid)), Some(last)) = (tb.row, whole.last_mut()) {
        *last = valid;
    }
    let mut all = Vec::new();
    sites(&f.body, &mut Vec::new(), &mut Vec::new(), &mut all);
    let touches = |s: &Site, buf: &str| s.block.accesses().iter().any(|(b, _, _)| **b == *buf);
    let reads = |s: &Site, buf: &str| s.block.accesses().iter().any(|(b, _, store)| **b == *buf && !store);
    // Writers of `t`: spatial, not reading `t`.
    for s in all.iter().filter(|s| s.block.store.buffer.as_ref() == t) {
        if s.block.init.is_some() || reads(s, t) {
            return None;
        }
    }
    // A block that reads `t` and writes an output of `t`'s shape, after every other use of `t`.
    let users: Vec<&Site> = all.iter().filter(|s| touches(s, t)).collect();
    users.iter().find_map(|b| {
        let y = b.block.store.buffer.clone();
        let output = f.params.iter().any(|p| p.name == y && p.kind == LBufferKind::Output);
        if !output || f.buffer(&y).is_none_or(|p| p.shape != whole || p.dtype != tb.dtype) || rows_of(&y) != rows_of(t)
        {
            return None;
        }
        if all.iter().filter(|s| touches(s, &y)).count() != 1 || b.block.init.is_some() || reads(b, &y) {
            return None;
        }
        let own = b.block.accesses();
        if own.iter().any(|(buf, idx, store)| **buf == *t && (*store || *idx != b.block.store.indices)) {
            return None;
        }
        users.iter().filter(|x| x.path != b.path).all(|x| done_before(x, b, t)).then_some(y)
    })
}

/// Whether `x` is done with every element of `t` before `b` writes it
/// (module documentation).
fn done_before(x: &Site, b: &Site, t: &str) -> bool {
    let shared = x.loops.len().min(b.loops.len());
    let m = (0..shared).take_while(|&d| x.path[d] == b.path[d]).count();
    if x.path[m] >= b.path[m] {
        return false;
    }
    let x_regions: Vec<Vec<Expr>> = x
        .block
        .accesses()
        .into_iter()
        .filter(|(buf, _, _)| **buf == *t)
        .map(|(_, idx, _)| lets(x.block, &idx))
        .collect();
    let b_region = lets(b.block, &b.block.store.indices);
    (0..m).all(|d| {
        let (v, _, kind) = &x.loops[d];
        let both_ways = matches!(kind, ForKind::Parallel | ForKind::Vectorized);
        let Some(rb) = relax(&b.loops, d, &b_region) else { return false };
        x_regions.iter().all(|idx| {
            let Some(rx) = relax(&x.loops, d, idx) else { return false };
            rx.iter().zip(&rb).any(|(ix, ib)| past(ix, ib, v, both_ways))
        })
    })
}

/// `indices` with the block's iteration variables replaced by their bindings.
fn lets(b: &LBlock, indices: &[Expr]) -> Vec<Expr> {
    indices.iter().map(|e| substitute_lets(b, e)).collect()
}

/// The region of `indices` over the loops below depth `d` (the loops down to
/// `d` symbolic).
fn relax(loops: &[(Var, i64, ForKind)], d: usize, indices: &[Expr]) -> Option<Vec<Interval>> {
    let mut an = Analyzer::new();
    for (v, e, _) in loops {
        an.bind(v, *e);
    }
    let r = loops[d + 1..].iter().fold(Relax::new(an), |r, (v, e, _)| r.over(v, *e)).refuse_mixed();
    r.region(indices)
}

/// Whether, on this dimension, what `x` touches in iteration `a` of `v`
/// lies past what `b` writes in every iteration before `a` (and, with
/// `both_ways`, before what it writes in every iteration after): both are
/// `c·v + (the same other terms) + [lo, hi]` with `c > 0`.
fn past(x: &Interval, b: &Interval, v: &Var, both_ways: bool) -> bool {
    if !x.same_base(b) {
        return false;
    }
    let var = Expr::var(v);
    let mut stride = None;
    for (atom, c) in &x.base.terms {
        if *atom == var {
            stride = Some(*c);
        } else if atom.vars().contains(v) {
            return false;
        }
    }
    let Some(c) = stride.filter(|c| *c > 0) else { return false };
    x.lo + c > b.hi && (!both_ways || x.hi < b.lo + c)
}

/// Points every access of buffer `from` at `to`.
fn rename(s: &mut [LStmt], from: &str, to: &Arc<str>) {
    for x in s.iter_mut() {
        match x {
            LStmt::For { body, .. } => rename(body, from, to),
            LStmt::Alloc(_) => {}
            LStmt::Block(b) => b.rename_buffer(from, to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::lower::lower;
    use crate::ir::{PrimFunc, Sum};
    use crate::schedule::testing::kernel;
    use crate::schedule::Schedule;

    /// Softmax over 8 rows of 20, with one more output `z` (a copy of `e`
    /// made before or after the division, or a reversed division).
    fn softmax(tail: &str) -> PrimFunc {
        kernel(&format!(
            "fn f(x: [f32; 8, 20], y: &mut [f32; 8, 20], z: &mut [f32; 8, 20]) {{
                let m = alloc([f32; 8]);
                let e = alloc([f32; 8, 20]);
                let s = alloc([f32; 8]);
                for (i, k) in grid(8, 20) {{
                    block(\"max\") {{
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init {{ m[vi] = f32::NEG_INFINITY; }}
                        m[vi] = m[vi].max(x[vi, vk]);
                    }}
                }}
                for (i, j) in grid(8, 20) {{
                    block(\"exp\") {{
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        e[vi, vj] = (x[vi, vj] - m[vi]).exp();
                    }}
                }}
                for (i, k) in grid(8, 20) {{
                    block(\"sum\") {{
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init {{ s[vi] = 0.0; }}
                        s[vi] += e[vi, vk];
                    }}
                }}
                {tail}
            }}"
        ))
    }

    const NORM: &str = "for (i, j) in grid(8, 20) {
            block(\"norm\") {
                let (vi, vj) = axis::remap(\"SS\", (i, j));
                y[vi, vj] = e[vi, vj] / s[vi];
            }
        }";
    const COPY: &str = "for (i, j) in grid(8, 20) {
            block(\"copy\") {
                let (vi, vj) = axis::remap(\"SS\", (i, j));
                z[vi, vj] = e[vi, vj];
            }
        }";

    /// The buffer each block stores to, in program order.
    fn stores(f: &PrimFunc) -> Vec<(String, String)> {
        let l = lower(f);
        let mut all = Vec::new();
        sites(&l.body, &mut Vec::new(), &mut Vec::new(), &mut all);
        all.iter().map(|s| (s.block.name.clone(), s.block.store.buffer.to_string())).collect()
    }

    fn store_of(f: &PrimFunc, block: &str) -> String {
        stores(f).into_iter().find(|(b, _)| b == block).unwrap().1
    }

    /// `copy` reading `e` reversed: it cannot hold `e` itself.
    fn reversed(copy: &str) -> String {
        copy.replace("z[vi, vj] = e[vi, vj]", "z[vi, vj] = e[vi, 19 - vj]")
    }

    #[test]
    fn softmax_keeps_its_exponentials_in_the_output() {
        let f = softmax(&format!("{} {NORM}", reversed(COPY)));
        assert_eq!(store_of(&f, "exp"), "y");
        let l = lower(&f);
        assert!(l.buffer("e").is_none());
        // The reversed copy reads `y` too, where `e` now is.
        let copy = stores(&f);
        assert_eq!(copy.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(), ["max", "exp", "sum", "copy", "norm"]);
    }

    #[test]
    fn in_the_last_of_two_outputs_that_could_hold_it() {
        // `copy` and `norm` both read `e` where they write; the one after the
        // other's reads holds it.
        assert_eq!(store_of(&softmax(&format!("{COPY} {NORM}")), "exp"), "y");
        assert_eq!(store_of(&softmax(&format!("{NORM} {COPY}")), "exp"), "z");
    }

    #[test]
    fn not_when_the_temporary_is_read_after_the_output_is_written() {
        // The reversed copy reads `e[i, 19 - j]` after `norm` has written `y`.
        assert_eq!(store_of(&softmax(&format!("{NORM} {}", reversed(COPY))), "exp"), "e");
    }

    #[test]
    fn not_when_the_output_is_written_at_another_index() {
        let norm = NORM.replace("y[vi, vj] = e[vi, vj]", "y[vi, vj] = e[vi, 19 - vj]");
        assert_eq!(store_of(&softmax(&format!("{} {norm}", reversed(COPY))), "exp"), "e");
    }

    /// `sum` and `norm` under the row loop, `exp` at the root: `e` stays
    /// whole (compaction keeps it), and `sum` shares the row loop with `norm`.
    fn sum_beside_norm(parallel: bool) -> PrimFunc {
        let copy = COPY.replace("z[vi, vj] = e[vi, vj]", "z[vi, vj] = x[vi, vj]");
        let mut sch = Schedule::new(softmax(&format!("{copy} {NORM}")), 0);
        let norm = sch.get_block("norm").unwrap();
        let row = sch.get_loops(norm).unwrap()[0];
        let sum = sch.get_block("sum").unwrap();
        sch.compute_at(sum, row, true, -1).unwrap();
        if parallel {
            sch.parallel(row).unwrap();
        }
        sch.into_parts().0
    }

    #[test]
    fn also_when_a_reader_shares_the_row_loop() {
        let f = sum_beside_norm(false);
        assert_eq!(store_of(&f, "exp"), "y");
        // Each row's blocks touch that row only: also with the row loop parallel.
        assert_eq!(store_of(&sum_beside_norm(true), "exp"), "y");
    }

    #[test]
    fn also_over_rows_of_a_symbolic_dimension() {
        // `tuner/tests/shapes/rows.rs`: a softmax over `n` rows of 77; `e`
        // and `y` both have `n` rows, and the result works at every `n`.
        let f = crate::schedule::testing::kernel_in_file(include_str!("../../../tuner/tests/shapes/rows.rs")).func;
        assert_eq!(store_of(&f, "e"), "y");
        let l = crate::codegen::lower::lower_checked(&f).unwrap();
        assert!(l.buffer("e").is_none());
    }

    #[test]
    fn past_needs_the_same_stride_and_no_overlap() {
        let v = Var::new("i");
        let row = |lo, hi| Interval { base: Sum { terms: vec![(Expr::var(&v), 1)], constant: 0 }, lo, hi };
        // The same row: done with it before `B` writes it, in any order of rows.
        assert!(past(&row(0, 0), &row(0, 0), &v, false));
        assert!(past(&row(0, 0), &row(0, 0), &v, true));
        // Also reading the next row: fine in order, not in parallel.
        assert!(past(&row(0, 1), &row(0, 0), &v, false));
        assert!(!past(&row(0, 1), &row(0, 0), &v, true));
        // Reading the previous row, which `B` has overwritten: refused.
        assert!(!past(&row(-1, 0), &row(0, 0), &v, false));
        // No stride in `v`, or another variable: refused.
        assert!(!past(&Interval::constant(0, 0), &Interval::constant(0, 0), &v, false));
        assert!(!past(&row(0, 0), &row(0, 0), &Var::new("j"), false));
    }
}
