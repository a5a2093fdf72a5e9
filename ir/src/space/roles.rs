//! What the rules need to know about a block: its exclusive loops and the
//! role of each (spatial or reduce, contiguous in memory or not).

use crate::ir::{Analyzer, BlockRealize, Expr, IterKind, PrimFunc, Stmt, Var};

/// One loop of a block, as the rules see it.
#[derive(Clone, Debug)]
pub struct LoopRole {
    pub var: String,
    pub extent: i64,
    pub kind: IterKind,
    /// The iteration variable the loop drives (with coefficient 1).
    pub iter: usize,
}

/// The loops that enclose only `block` (the innermost suffix of its loops),
/// each driving exactly one iteration variable with coefficient 1.
pub fn exclusive_loops(func: &PrimFunc, block: &str) -> Option<Vec<LoopRole>> {
    let br = func.block(block)?;
    let loops = func.loops_of_block(block)?;
    let mut out = Vec::new();
    for l in loops.iter().rev() {
        let mut only_me = true;
        l.body.walk(&mut |s, _| {
            if let Stmt::Block(b) = s {
                only_me &= b.block.name == block;
            }
        });
        if !only_me {
            break;
        }
        let role = loop_role(br, &l.var, l.extent)?;
        out.push(role);
    }
    out.reverse();
    Some(out)
}

fn loop_role(br: &BlockRealize, v: &Var, extent: i64) -> Option<LoopRole> {
    let an = Analyzer::new();
    let users: Vec<usize> = (0..br.bindings.len()).filter(|i| br.bindings[*i].uses_var(v)).collect();
    if users.len() != 1 {
        return None;
    }
    let i = users[0];
    if an.linear(&br.bindings[i]).coef(v) != 1 {
        return None;
    }
    Some(LoopRole { var: v.to_string(), extent, kind: br.block.iter_vars[i].kind, iter: i })
}

/// The iteration variable indexing the last dimension of the stored buffer
/// with coefficient 1, if it is spatial: the lane axis for vector stores.
pub fn store_lane_iter(br: &BlockRealize) -> Option<usize> {
    let last = br.block.body.indices.last()?;
    let an = Analyzer::new();
    let lin = an.linear(last);
    br.block.iter_vars.iter().position(|iv| iv.kind == IterKind::Spatial && lin.coef(&iv.var) == 1)
}

/// The loads of the block's body value, with the number of elements of their buffer.
pub fn operand_loads<'a>(func: &PrimFunc, br: &'a BlockRealize) -> Vec<(&'a crate::ir::Load, i64)> {
    br.block
        .body
        .value
        .loads()
        .into_iter()
        .filter(|l| l.buffer != br.block.body.buffer)
        .map(|l| (l, func.buffer(&l.buffer).map_or(0, |b| b.numel())))
        .collect()
}

/// The iteration variable with coefficient 1 in the last index of a load.
pub fn contiguous_iter(br: &BlockRealize, indices: &[Expr]) -> Option<usize> {
    let last = indices.last()?;
    let an = Analyzer::new();
    let lin = an.linear(last);
    br.block.iter_vars.iter().position(|iv| lin.coef(&iv.var) == 1)
}

/// Whether the block's value uses the iteration variable `i` in an operand
/// that does not use `j` (so `i` gives reuse of a broadcast operand when `j`
/// is the lane axis).
pub fn broadcast_row(br: &BlockRealize, i: usize, lane: usize) -> bool {
    let vi = &br.block.iter_vars[i].var;
    let vl = &br.block.iter_vars[lane].var;
    br.block.body.value.loads().into_iter().filter(|l| l.buffer != br.block.body.buffer).any(|l| {
        let uses = |v: &Var| l.indices.iter().any(|e| e.uses_var(v));
        uses(vi) && !uses(vl)
    })
}

/// Whether the block reads an input parameter along its lane axis `lane`
/// with a stride (every index a plain iteration variable, the last one not
/// the lane's): `W` of `Y = X·Wᵀ`, which packing turns into contiguous panels.
pub fn strided_lane_operand(func: &PrimFunc, br: &BlockRealize, lane: usize) -> bool {
    let lane_var = &br.block.iter_vars[lane].var;
    operand_loads(func, br).iter().any(|(l, _)| {
        func.is_input(&l.buffer)
            && l.indices.iter().all(|e| matches!(e, Expr::Var(v) if br.block.iter_var(v).is_some()))
            && l.indices.iter().any(|e| e.uses_var(lane_var))
            && contiguous_iter(br, &l.indices) != Some(lane)
    })
}

/// Whether every access of the block (the store and each load) reads the
/// loops `run` (a suffix of the block's exclusive loops, innermost last) as
/// one contiguous run, so that one loop may step through them: an access
/// uses none of their variables (a broadcast), or uses them as its trailing
/// dimensions in loop order, each a plain variable, every dimension but the
/// outermost of the run as long as its loop (`x[i, h, w]` over `h, w` of
/// `[.., 28, 28]`: `28·h + w`, one run of 784), and no other dimension uses
/// them. An input of one dimension read along the innermost loop only, over
/// its whole length of at most `codegen::periodic::MAX_PERIOD` (`s[c]`
/// beside `x[h, w, c]` over `w, c`; `b[j]` beside `x[i, j]`), is periodic in
/// the run: the code generator loads its lanes from a table of it repeated
/// (`codegen/periodic.rs`). `Some(true)` when the outermost of them steps
/// through the first dimension of a buffer with a symbolic dimension (the
/// rows of `[f32; n, 5]`: see `codegen::symbolic`), `Some(false)` otherwise,
/// `None` when an access reads them in any other way (`b[j, 0]` beside
/// `x[i, j]`).
pub fn one_run(func: &PrimFunc, br: &BlockRealize, run: &[LoopRole]) -> Option<bool> {
    let body = &br.block.body;
    let mut accesses: Vec<(&str, &[Expr])> = vec![(&body.buffer, &body.indices)];
    accesses.extend(body.value.loads().into_iter().map(|l| (&*l.buffer, l.indices.as_slice())));
    let symbolic = |buf: &str| func.dims.iter().any(|d| d.buffers.iter().any(|b| b == buf));
    let ivs: Vec<&Var> = run.iter().map(|r| &br.block.iter_vars[r.iter].var).collect();
    let (innermost, period) = (*ivs.last()?, run.last()?.extent);
    let periodic = |buf: &str, idx: &[Expr]| {
        run.len() >= 2
            && period <= crate::codegen::periodic::MAX_PERIOD
            && func.is_input(buf)
            && func.buffer(buf).is_some_and(|b| b.shape == [period])
            && matches!(idx, [Expr::Var(v)] if v == innermost)
    };
    let mut rows = false;
    for (buf, idx) in accesses {
        if !idx.iter().any(|e| ivs.iter().any(|v| e.uses_var(v))) || periodic(buf, idx) {
            continue;
        }
        let shape = &func.buffer(buf)?.shape;
        let first = idx.len().checked_sub(run.len())?;
        let trailing = ivs.iter().enumerate().all(|(t, v)| {
            let whole = t == 0 || shape[first + t] == run[t].extent;
            matches!(&idx[first + t], Expr::Var(x) if x == *v) && whole
        });
        if !trailing || idx[..first].iter().any(|e| ivs.iter().any(|v| e.uses_var(v))) {
            return None;
        }
        rows |= first == 0 && symbolic(buf);
    }
    Some(rows)
}
