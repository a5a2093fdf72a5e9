//! Analyses shared by the primitives: locating blocks and loops, dataflow
//! between blocks, and the regions a subtree accesses.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::ir::{block_read_buffers, Analyzer, BlockRealize, Expr, For, IterKind, PrimFunc, Stmt, Var};

/// The names of blocks reading what `block` writes (its consumers), in program order.
pub fn consumers(func: &PrimFunc, block: &str) -> Vec<String> {
    let Some(br) = func.block(block) else { return vec![] };
    let out = br.block.body.buffer.clone();
    func.blocks()
        .into_iter()
        .filter(|b| b.block.name != block && block_read_buffers(&b.block).contains(&out))
        .map(|b| b.block.name.clone())
        .collect()
}

/// The names of blocks writing what `block` reads (its producers), in program order.
pub fn producers(func: &PrimFunc, block: &str) -> Vec<String> {
    let Some(br) = func.block(block) else { return vec![] };
    let reads = block_read_buffers(&br.block);
    func.blocks()
        .into_iter()
        .filter(|b| b.block.name != block && reads.contains(&b.block.body.buffer))
        .map(|b| b.block.name.clone())
        .collect()
}

/// The names of the blocks writing `buffer`.
pub fn writers(func: &PrimFunc, buffer: &str) -> Vec<String> {
    func.blocks().into_iter().filter(|b| &*b.block.body.buffer == buffer).map(|b| b.block.name.clone()).collect()
}

/// The names of the blocks reading `buffer`.
pub fn readers(func: &PrimFunc, buffer: &str) -> Vec<String> {
    func.blocks()
        .into_iter()
        .filter(|b| block_read_buffers(&b.block).iter().any(|r| &**r == buffer))
        .map(|b| b.block.name.clone())
        .collect()
}

/// The loop statement `var` and everything under it.
pub fn loop_subtree<'a>(func: &'a PrimFunc, var: &str) -> Option<&'a For> {
    func.find_loop(var)
}

/// The blocks under the loop `var`, in program order.
pub fn blocks_under(func: &PrimFunc, var: &str) -> Vec<String> {
    loop_subtree(func, var).map(|l| l.body.block_names()).unwrap_or_default()
}

/// Whether loop `var` encloses block `block`.
pub fn loop_encloses(func: &PrimFunc, var: &str, block: &str) -> bool {
    func.loops_of_block(block).is_some_and(|ls| ls.iter().any(|l| l.var.name() == var))
}

/// An analyzer knowing the ranges of the given loops.
pub fn analyzer_for(loops: &[&For]) -> Analyzer {
    let mut an = Analyzer::new();
    for l in loops {
        an.bind(&l.var, l.extent);
    }
    an
}

/// The kinds of the block iteration variables whose bindings use `var`.
pub fn iter_kinds_bound_to(br: &BlockRealize, var: &Var) -> Vec<IterKind> {
    br.block.iter_vars.iter().zip(&br.bindings).filter(|(_, b)| b.uses_var(var)).map(|(iv, _)| iv.kind).collect()
}

/// The block realizations under a statement, with the loops between the
/// statement and each block (outermost first).
pub fn blocks_with_loops(stmt: &Stmt) -> Vec<(&BlockRealize, Vec<&For>)> {
    let mut out = Vec::new();
    stmt.walk(&mut |s, loops| {
        if let Stmt::Block(br) = s {
            out.push((&**br, loops.to_vec()));
        }
    });
    out
}

/// Every loop variable name used in `e`.
pub fn var_names(e: &Expr) -> BTreeSet<String> {
    e.vars().iter().map(|v| v.name().to_string()).collect()
}

/// Replaces the loop `var` by `f(loop)`. Returns `None` if there is no such loop.
pub fn replace_loop(func: &PrimFunc, var: &str, f: impl FnOnce(For) -> Stmt) -> Option<PrimFunc> {
    let mut f = Some(f);
    let mut done = false;
    let body = func.body.clone().rewrite(&mut |s| match s {
        Stmt::For(l) if l.var.name() == var && !done => {
            done = true;
            Ok((f.take().unwrap())(*l))
        }
        other => Err(other),
    });
    done.then(|| PrimFunc { body, ..func.clone() })
}

/// Replaces block `name`'s realization by `f(realization)`.
pub fn replace_block(func: &PrimFunc, name: &str, f: impl FnOnce(BlockRealize) -> Stmt) -> Option<PrimFunc> {
    let mut f = Some(f);
    let mut done = false;
    let body = func.body.clone().rewrite(&mut |s| match s {
        Stmt::Block(br) if br.block.name == name && !done => {
            done = true;
            Ok((f.take().unwrap())(*br))
        }
        other => Err(other),
    });
    done.then(|| PrimFunc { body, ..func.clone() })
}

/// Removes empty sequences and loops whose body became empty.
pub fn prune_empty(stmt: Stmt) -> Stmt {
    match stmt {
        Stmt::Seq(v) => Stmt::seq(v.into_iter().map(prune_empty).filter(|s| !is_empty(s)).collect()),
        Stmt::For(mut l) => {
            let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
            l.body = prune_empty(body);
            if is_empty(&l.body) {
                Stmt::Seq(vec![])
            } else {
                Stmt::For(l)
            }
        }
        b => b,
    }
}

pub fn is_empty(s: &Stmt) -> bool {
    matches!(s, Stmt::Seq(v) if v.is_empty())
}

/// Applies [`Stmt::seq`] throughout: nested sequences are spliced into their
/// parent and a one-statement sequence becomes the statement.
pub fn flatten(s: Stmt) -> Stmt {
    match s {
        Stmt::Seq(v) => Stmt::seq(v.into_iter().map(flatten).collect()),
        Stmt::For(mut l) => {
            let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
            l.body = flatten(body);
            Stmt::For(l)
        }
        b => b,
    }
}

/// The names of every loop variable of the function.
pub fn loop_var_names(func: &PrimFunc) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    func.body.walk(&mut |s, _| {
        if let Stmt::For(f) = s {
            out.insert(f.var.name().to_string());
        }
    });
    out
}

/// Simplifies every block's bindings and predicate knowing the ranges of the
/// loops around it; conjuncts of the predicate that always hold are dropped.
pub fn normalize(func: PrimFunc) -> PrimFunc {
    fn go(s: Stmt, loops: &mut Vec<(Var, i64)>) -> Stmt {
        match s {
            Stmt::For(mut l) => {
                loops.push((l.var.clone(), l.extent));
                let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
                l.body = go(body, loops);
                loops.pop();
                Stmt::For(l)
            }
            Stmt::Seq(v) => Stmt::Seq(v.into_iter().map(|c| go(c, loops)).collect()),
            Stmt::Block(mut br) => {
                let mut an = Analyzer::new();
                for (v, e) in loops.iter() {
                    an.bind(v, *e);
                }
                br.bindings = br.bindings.iter().map(|b| an.simplify(b)).collect();
                br.predicate = simplify_predicate(&an, &br.predicate);
                Stmt::Block(br)
            }
        }
    }
    let body = go(func.body.clone(), &mut Vec::new());
    PrimFunc { body, ..func }
}

/// Simplifies a conjunction, dropping conjuncts that always hold.
pub fn simplify_predicate(an: &Analyzer, pred: &Expr) -> Expr {
    let conj = pred.conjuncts();
    let mut out = Expr::true_();
    let mut seen: Vec<Expr> = Vec::new();
    for c in conj {
        let c = an.simplify(&c);
        if c.is_true() || seen.contains(&c) {
            continue;
        }
        seen.push(c.clone());
        out = out.and(c);
    }
    out
}

// ---- Buffer accesses and top-level placement (cache_read / cache_write / transform_layout / rfactor) ----

/// The statements directly in the function body (the body itself when it is not a sequence).
pub fn top_level_stmts(func: &PrimFunc) -> Vec<&Stmt> {
    match &func.body {
        Stmt::Seq(v) => v.iter().collect(),
        other => vec![other],
    }
}

/// The index of the top-level statement that contains block `block`.
pub fn top_level_position(func: &PrimFunc, block: &str) -> Option<usize> {
    top_level_stmts(func).iter().position(|s| s.block_names().iter().any(|n| n == block))
}

/// The function with `stmt` inserted among the top-level statements at `pos`.
pub fn insert_top_level(func: PrimFunc, pos: usize, stmt: Stmt) -> PrimFunc {
    let mut stmts = match func.body {
        Stmt::Seq(v) => v,
        other => vec![other],
    };
    stmts.insert(pos, stmt);
    PrimFunc { body: Stmt::seq(stmts), ..func }
}

/// What [`rewrite_block_accesses`] calls on each access: `(buffer, indices)`
/// to the new buffer and indices, or `None` to keep the access.
pub type AccessRewrite<'a> = dyn FnMut(&str, &[Expr]) -> Option<(std::sync::Arc<str>, Vec<Expr>)> + 'a;

/// Rewrites every access of a block (loads in init and body, and the stores)
/// with `f`; indices are rewritten before the access that contains them.
pub fn rewrite_block_accesses(block: &crate::ir::Block, f: &mut AccessRewrite<'_>) -> crate::ir::Block {
    fn expr(e: &Expr, f: &mut AccessRewrite<'_>) -> Expr {
        e.map(&mut |x| match x {
            Expr::Load(l) => match f(&l.buffer, &l.indices) {
                Some((buffer, indices)) => Expr::Load(crate::ir::Load { buffer, dtype: l.dtype, indices }),
                None => Expr::Load(l),
            },
            other => other,
        })
    }
    fn store(s: &crate::ir::Store, f: &mut AccessRewrite<'_>) -> crate::ir::Store {
        let indices: Vec<Expr> = s.indices.iter().map(|i| expr(i, f)).collect();
        let value = expr(&s.value, f);
        match f(&s.buffer, &indices) {
            Some((buffer, indices)) => crate::ir::Store { buffer, indices, value },
            None => crate::ir::Store { buffer: s.buffer.clone(), indices, value },
        }
    }
    crate::ir::Block { init: block.init.as_ref().map(|s| store(s, f)), body: store(&block.body, f), ..block.clone() }
}

/// Whether `e` is a quasi-affine index expression: variables and constants
/// combined by `+`, `-`, multiplication by a constant, and `//` or `%` by a
/// positive constant.
pub fn is_quasi_affine(e: &Expr) -> bool {
    use crate::ir::BinOp;
    match e {
        Expr::Var(_) | Expr::Int(_) => true,
        Expr::Binary(BinOp::Add | BinOp::Sub, a, b) => is_quasi_affine(a) && is_quasi_affine(b),
        Expr::Binary(BinOp::Mul, a, b) => {
            (a.as_int().is_some() && is_quasi_affine(b)) || (b.as_int().is_some() && is_quasi_affine(a))
        }
        Expr::Binary(BinOp::FloorDiv | BinOp::FloorMod, a, b) => {
            b.as_int().is_some_and(|c| c > 0) && is_quasi_affine(a)
        }
        _ => false,
    }
}

// ---- Program order and buffer use (compute_at, compute_inline) ----

/// The position of block `name` in program order (an index into `func.blocks()`).
pub fn block_position(func: &PrimFunc, name: &str) -> Option<usize> {
    func.blocks().iter().position(|b| b.block.name == name)
}

/// The loop `var` and the loops enclosing it, outermost first (`var` last).
pub fn loop_chain(func: &PrimFunc, var: &str) -> Option<Vec<String>> {
    let mut chain: Vec<String> = func.loops_above(var)?.iter().map(|l| l.var.name().to_string()).collect();
    chain.push(var.to_string());
    Some(chain)
}

/// The program-order positions of the first and the last block under loop `var`.
pub fn loop_block_span(func: &PrimFunc, var: &str) -> Option<(usize, usize)> {
    let names = func.find_loop(var)?.body.block_names();
    let first = block_position(func, names.first()?)?;
    Some((first, first + names.len() - 1))
}

/// The outermost loop of `chain` (outermost first) that does not enclose block `block`.
pub fn outermost_loop_apart(func: &PrimFunc, block: &str, chain: &[String]) -> Option<String> {
    chain.iter().find(|l| !loop_encloses(func, l, block)).cloned()
}

/// The first block of `blocks` (a program-order range of `func.blocks()`)
/// that writes one of `buffers`: its name and the buffer.
pub fn first_writer_of(
    func: &PrimFunc,
    blocks: std::ops::RangeInclusive<usize>,
    buffers: &[Arc<str>],
) -> Option<(String, String)> {
    let all = func.blocks();
    let w = all[blocks].iter().find(|w| buffers.contains(&w.block.body.buffer))?;
    Some((w.block.name.clone(), w.block.body.buffer.to_string()))
}

/// Whether any block reads or writes `buffer`.
pub fn buffer_in_use(func: &PrimFunc, buffer: &str) -> bool {
    func.blocks()
        .iter()
        .any(|b| &*b.block.body.buffer == buffer || block_read_buffers(&b.block).iter().any(|r| &**r == buffer))
}
