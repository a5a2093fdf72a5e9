//! `symbolic`: the scheduled instance of a kernel at its tune value made to
//! work for every value of its symbolic dimensions.
//!
//! A kernel with `x: [f32; n, 784]` is parsed, scheduled and tuned as its
//! instance at `n = 64` (MetaSchedule's way with dynamic shapes). The language
//! keeps rows independent (`parse::lower`: the first index of a buffer
//! `[..; n, ..]` is an axis over `n`, and such an axis indexes nothing else),
//! so the instance at 64 computes row `r` of the outputs from row `r` of the
//! inputs, and the same loops run for any `n` once
//!
//! 1. every block that touches row `E` of a parameter `[..; n, ..]` runs only
//!    where `E < n` (a guard added to its predicate; `E` is the first index
//!    with the iteration variables replaced by their bindings);
//! 2. the loop that steps through the rows — in every such `E`, the loop
//!    variable `v` with the largest coefficient `c`, the rest of `E` staying
//!    within `0..c` — runs `ceil(n / c)` times instead of `ceil(64 / c)`
//!    (annotated `kiln.dyn_dim` / `kiln.dyn_step`; the emitter runs the full
//!    steps `0..n / c` without the guards, then the last, partial step with
//!    them — a main loop and a tail);
//! 3. predicates that bounded such a row expression by 64 (a split that did
//!    not divide 64, a `compute_at` region clipped to the buffer) bound it by
//!    `n` instead;
//! 4. iteration domains over rows are widened to the largest `n`, so that the
//!    bounds prover's reasoning over iteration domains stays sound.
//!
//! What cannot be made symbolic is refused with a message (the macro reports
//! it, the tuner rejects the candidate): a temporary that holds rows of every
//! step (declared outside the row loop: its size would depend on `n`), a row
//! loop that is unrolled or vectorized, a row expression that is not linear.
//! The result is checked, not trusted: the differential tests run every
//! kernel at several values of `n` against the interpreter's instance at that
//! value.

use crate::ir::{AnnValue, BinOp, Expr, ForKind, Var};

use super::compact::substitute_lets;
use super::lir::{LBlock, LFunc, LStmt};

/// A symbolic dimension of a lowered function.
#[derive(Clone, Debug, PartialEq)]
pub struct LDim {
    pub name: String,
    /// The run-time variable holding its value (`isize`) in the emitted code.
    pub var: Var,
    /// The value the function was scheduled at.
    pub value: i64,
    pub min: i64,
    pub max: i64,
    /// The buffers of `n` rows: the parameters whose first dimension it is,
    /// and the temporaries declared `[..; n, ..]` that stay whole at the top
    /// of the function (allocated with `n` rows at run time).
    pub params: Vec<String>,
    /// The temporaries declared `[..; n, ..]`.
    pub temps: Vec<String>,
}

impl LDim {
    /// If buffer `name` (of `size` elements in the instance) has `n` rows of
    /// one of `dims`: that dimension's run-time variable and the elements per
    /// row.
    pub fn rows_of(dims: &[LDim], name: &str, size: i64) -> Option<(Var, i64)> {
        let d = dims.iter().find(|d| d.params.iter().any(|x| *x == name))?;
        Some((d.var.clone(), size / d.value.max(1)))
    }

    /// The name of the run-time variable of dimension `name`.
    pub fn var_name(name: &str) -> String {
        format!("__kiln_dim_{name}")
    }
}

/// The loop annotation naming the dimension (its index in `LFunc::dims`)
/// whose rows a loop steps through.
pub const DYN_DIM: &str = "kiln.dyn_dim";
/// The loop annotation with the number of rows per iteration.
pub const DYN_STEP: &str = "kiln.dyn_step";
/// The loop annotation of the outermost row loops (the others are row loops
/// inside one, run at their static extent in its full steps).
pub const DYN_TOP: &str = "kiln.dyn_top";

/// A row loop found: its dimension and step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RowLoop {
    dim: usize,
    step: i64,
    /// The outermost row loop of some row expression (else one inside it).
    top: bool,
}

/// Makes `f` (lowered, compacted, not flattened) work for every value of its
/// symbolic dimensions; `Err` says why it cannot.
pub fn generalize(mut f: LFunc) -> Result<LFunc, String> {
    if f.dims.is_empty() {
        return Ok(f);
    }
    // Whole temporaries of `n` rows at the top are sized at run time.
    for s in &f.body {
        if let LStmt::Alloc(b) = s {
            for d in f.dims.iter_mut() {
                if d.temps.iter().any(|t| **t == *b.name) && b.shape.first() == Some(&d.value) && b.row.is_none() {
                    d.params.push(b.name.to_string());
                }
            }
        }
    }
    // 1 and 2: guards, and the row loops they imply.
    let mut rows: Vec<(Var, RowLoop)> = Vec::new();
    let dims = f.dims.clone();
    let mut loops: Vec<(Var, i64, ForKind)> = Vec::new();
    guard(&mut f.body, &dims, &mut loops, &mut rows)?;
    // 3 and 4, and the checks of temporaries and loop kinds.
    let mut loops = Vec::new();
    finish(&mut f.body, &dims, &rows, &mut loops, &mut Vec::new())?;
    Ok(f)
}

fn analyzer(loops: &[(Var, i64, ForKind)]) -> crate::ir::Analyzer {
    let mut an = crate::ir::Analyzer::new();
    for (v, e, _) in loops {
        an.bind(v, *e);
    }
    an
}

/// Adds the guards `E < n` and finds the row loops.
fn guard(
    body: &mut [LStmt],
    dims: &[LDim],
    loops: &mut Vec<(Var, i64, ForKind)>,
    rows: &mut Vec<(Var, RowLoop)>,
) -> Result<(), String> {
    for s in body.iter_mut() {
        match s {
            LStmt::For { var, extent, kind, body, .. } => {
                loops.push((var.clone(), *extent, *kind));
                guard(body, dims, loops, rows)?;
                loops.pop();
            }
            LStmt::Alloc(_) => {}
            LStmt::Block(b) => {
                let an = analyzer(loops);
                let mut guards: Vec<Expr> = Vec::new();
                for (buf, idx, _) in b.accesses() {
                    let Some(d) = dims.iter().position(|d| d.params.iter().any(|p| **p == *buf)) else { continue };
                    let row = an.simplify(&substitute_lets(b, &idx[0]));
                    let levels = row_loops(&row, &an, loops).map_err(|e| format!("block \"{}\": {e}", b.name))?;
                    if levels.is_empty() {
                        return Err(format!(
                            "block \"{}\" reads or writes row {row} of `{buf}` outside any loop over `{}` (was the \
                             loop removed at the tune value {}?)",
                            b.name, dims[d].name, dims[d].value
                        ));
                    };
                    for (k, (v, step)) in levels.into_iter().enumerate() {
                        let r = RowLoop { dim: d, step, top: k == 0 };
                        match rows.iter_mut().find(|(x, _)| *x == v) {
                            Some((_, prev)) if prev.dim != r.dim || prev.step != r.step => {
                                return Err(format!(
                                    "the loop `{v}` steps through rows of `{}` by {} and by {}",
                                    dims[d].name, prev.step, step
                                ))
                            }
                            Some((_, prev)) => prev.top |= r.top,
                            None => rows.push((v, r)),
                        }
                    }
                    let g = Expr::binary(BinOp::Lt, row, Expr::var(&dims[d].var));
                    if !guards.contains(&g) {
                        guards.push(g);
                    }
                }
                for g in guards {
                    b.predicate = b.predicate.clone().and(g);
                }
            }
        }
    }
    Ok(())
}

/// The loops stepping through the rows of the row expression `row`, by
/// decreasing step: the loop variable with the largest coefficient (the rest
/// within `0..step`), then, among the rest, the same again, as long as the
/// loops are serial or parallel (the emitter runs those inner ones a number of
/// times known at run time in the partial step of the outer one).
fn row_loops(row: &Expr, an: &crate::ir::Analyzer, loops: &[(Var, i64, ForKind)]) -> Result<Vec<(Var, i64)>, String> {
    let sum = an.linear(row);
    let mut terms: Vec<(Var, i64)> = Vec::new();
    let mut unit: Vec<(Var, i64)> = Vec::new();
    for (atom, c) in &sum.terms {
        // A term that is not a loop variable (`f // 5` of a fused loop) can
        // only be part of the rest within a step, checked below.
        let Some(v) = atom.as_var() else { continue };
        let Some((_, extent, _)) = loops.iter().find(|(l, _, _)| l == v) else {
            return Err(format!("the row expression {row} uses `{v}`, which is not a loop variable"));
        };
        // (A loop of one iteration steps through nothing — unless the rows
        // are stepped through by nothing else: `64·i0 + f // 5` with one
        // step of 64 rows at the tune value.)
        if *extent > 1 {
            terms.push((v.clone(), *c));
        } else {
            unit.push((v.clone(), *c));
        }
    }
    let nonlinear = sum.terms.iter().any(|(a, _)| a.as_var().is_none());
    if terms.is_empty() && nonlinear {
        terms = unit;
    }
    terms.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    if terms.is_empty() && nonlinear {
        return Err(format!("the row expression {row} is not linear in the loop variables"));
    }
    let mut out = Vec::new();
    let mut rest = row.clone();
    for (k, (v, c)) in terms.iter().enumerate() {
        rest = an.simplify(&Expr::binary(BinOp::Sub, rest, Expr::var(v) * *c));
        let fits = an.range(&rest).is_some_and(|(lo, hi)| lo >= 0 && hi < *c);
        if !fits {
            if k == 0 {
                return Err(format!("the row expression {row} does not step through the rows by `{v}`"));
            }
            break;
        }
        let kind = loops.iter().find(|(l, _, _)| l == v).map(|(_, _, kind)| *kind);
        if k > 0 && !matches!(kind, Some(ForKind::Serial | ForKind::Parallel)) {
            break;
        }
        out.push((v.clone(), *c));
    }
    Ok(out)
}

/// Marks the row loops, rewrites the bounds by the tune value, widens the
/// iteration domains, and checks temporaries and loop kinds.
fn finish(
    body: &mut [LStmt],
    dims: &[LDim],
    rows: &[(Var, RowLoop)],
    loops: &mut Vec<(Var, i64, ForKind)>,
    temps: &mut Vec<(String, usize)>,
) -> Result<(), String> {
    let depth = loops.len();
    let temps_before = temps.len();
    for s in body.iter_mut() {
        match s {
            LStmt::For { var, extent, kind, annotations, body } => {
                if let Some((_, r)) = rows.iter().find(|(v, _)| v == var) {
                    let d = &dims[r.dim];
                    if !matches!(kind, ForKind::Serial | ForKind::Parallel) {
                        return Err(format!(
                            "the loop `{var}` over the rows of `{}` is {}: only a serial or parallel loop can run a \
                             number of times known at run time",
                            d.name,
                            kind.tvm_name()
                        ));
                    }
                    if r.top && *extent != (d.value + r.step - 1) / r.step {
                        return Err(format!(
                            "the loop `{var}` over the rows of `{}` runs {} times, not ceil({} / {})",
                            d.name, extent, d.value, r.step
                        ));
                    }
                    annotations.insert(DYN_DIM.into(), AnnValue::Int(r.dim as i64));
                    annotations.insert(DYN_STEP.into(), AnnValue::Int(r.step));
                    if r.top {
                        annotations.insert(DYN_TOP.into(), AnnValue::Int(1));
                    }
                }
                // The static bound the analyses use: the most iterations it can run.
                let bound = match rows.iter().find(|(v, _)| v == var) {
                    Some((_, r)) if r.top => (dims[r.dim].max + r.step - 1) / r.step,
                    _ => *extent,
                };
                loops.push((var.clone(), bound, *kind));
                finish(body, dims, rows, loops, temps)?;
                loops.pop();
            }
            LStmt::Alloc(b) => temps.push((b.name.to_string(), depth)),
            LStmt::Block(b) => block(b, dims, rows, loops, temps)?,
        }
    }
    temps.truncate(temps_before);
    Ok(())
}

fn block(
    b: &mut LBlock,
    dims: &[LDim],
    rows: &[(Var, RowLoop)],
    loops: &[(Var, i64, ForKind)],
    temps: &[(String, usize)],
) -> Result<(), String> {
    let row_loop_of = |v: &Var| rows.iter().find(|(x, _)| x == v).map(|(_, r)| *r);
    // A temporary declared outside a row loop and indexed by it holds rows
    // of every step.
    for (buf, idx, _) in b.accesses() {
        let Some((_, depth)) = temps.iter().rev().find(|(t, _)| **t == *buf) else { continue };
        if dims.iter().any(|d| d.params.iter().any(|p| **p == *buf)) {
            continue;
        }
        for e in &idx {
            let e = substitute_lets(b, e);
            for (v, _, _) in &loops[*depth..] {
                if let Some(r) = row_loop_of(v) {
                    if e.uses_var(v) {
                        return Err(format!(
                            "the temporary `{buf}` holds rows of `{}` for every step of the loop `{v}`, so its \
                             size would depend on `{}`: compute it inside that loop (`compute_at`), or let the \
                             default schedule place it",
                            dims[r.dim].name, dims[r.dim].name
                        ));
                    }
                }
            }
        }
    }
    // Bounds by the tune value of a row expression become bounds by `n`.
    let an = analyzer(loops);
    b.predicate = rebound(&b.predicate, &|lhs: &Expr, c: i64| {
        let lhs = an.simplify(&substitute_lets(b, lhs));
        let sum = an.linear(&lhs);
        sum.terms.iter().find_map(|(atom, k)| {
            let r = row_loop_of(atom.as_var()?)?;
            (*k == r.step && c == dims[r.dim].value).then(|| Expr::var(&dims[r.dim].var))
        })
    });
    // Iteration domains over rows: as wide as the bindings can get.
    for (_, binding, extent) in b.lets.iter_mut() {
        if loops.iter().any(|(v, _, _)| row_loop_of(v).is_some() && binding.uses_var(v)) {
            if let Some((_, hi)) = an.range(binding) {
                *extent = (*extent).max(hi + 1);
            }
        }
    }
    Ok(())
}

/// `pred` with each conjunct `lhs < c` (or `lhs <= c - 1`) for which `f`
/// gives a replacement bound `n` rewritten to `lhs < n`.
fn rebound(pred: &Expr, f: &dyn Fn(&Expr, i64) -> Option<Expr>) -> Expr {
    match pred {
        Expr::Binary(BinOp::And, a, b) => rebound(a, f).and(rebound(b, f)),
        Expr::Binary(BinOp::Lt, a, c) => match c.as_int().and_then(|c| f(a, c)) {
            Some(n) => Expr::binary(BinOp::Lt, (**a).clone(), n),
            None => pred.clone(),
        },
        Expr::Binary(BinOp::Le, a, c) => match c.as_int().and_then(|c| f(a, c + 1)) {
            Some(n) => Expr::binary(BinOp::Lt, (**a).clone(), n),
            None => pred.clone(),
        },
        _ => pred.clone(),
    }
}
