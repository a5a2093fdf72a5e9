//! Well-formedness checks of a function (run after parsing and, in debug
//! builds, after every schedule primitive).
//!
//! A failure here is a bug in whatever produced the IR, not a user error; the
//! message says which invariant broke and where.

use std::collections::{BTreeSet, HashSet};

use super::arith::Analyzer;
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
    let bounds = predicate_bounds(&an, &br.predicate);
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        let ok = match an.range(bind) {
            Some((lo, hi)) => {
                lo >= 0 && (hi < iv.extent || bounds.iter().any(|(e, c)| bounded_by(&an, bind, e, *c, iv.extent)))
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

/// Whether `bind` stays below `extent` where the predicate conjunct `e < c`
/// holds: every part of `bind` equal to `e` is bounded by `c - 1` (so both
/// `i_0 * 8 + i_1` and `(f_0 * 16 + f_1) // 37` under `f_0 * 16 + f_1 < 370`
/// are bounded).
fn bounded_by(an: &Analyzer, bind: &Expr, e: &Expr, c: i64, extent: i64) -> bool {
    let Some((lo, hi)) = an.range(e) else { return false };
    if lo > c - 1 {
        return false;
    }
    let target = an.linear(e);
    let t = Var::new("<predicate-bounded>");
    let mut inner = an.clone();
    inner.bind_range(&t, lo, hi.min(c - 1));
    let bounded = bind.map(&mut |x| if an.linear(&x) == target { Expr::var(&t) } else { x });
    inner.range(&bounded).is_some_and(|(_, h)| h < extent)
}

/// The conjuncts `e < c` (and `e <= c - 1`) of a predicate.
pub fn predicate_bounds(an: &Analyzer, pred: &Expr) -> Vec<(Expr, i64)> {
    let mut out = Vec::new();
    fn go(an: &Analyzer, e: &Expr, out: &mut Vec<(Expr, i64)>) {
        match e {
            Expr::Binary(BinOp::And, a, b) => {
                go(an, a, out);
                go(an, b, out);
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
        let _ = an;
    }
    go(an, pred, &mut out);
    out
}
