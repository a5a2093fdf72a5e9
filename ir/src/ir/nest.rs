//! Loop nests of a scheduled function, as the cost model and the register
//! budget see them: every block with the loops around it ([`Site`]), its
//! accesses with the iteration variables replaced by their bindings
//! ([`Access`]), and what an access touches while some loops run
//! ([`footprint`]).

use super::arith::Analyzer;
use super::expr::{Expr, Var};
use super::relax::Relax;
use super::stmt::{BlockRealize, For, ForKind, PrimFunc, Stmt};

/// A block with the loops around it, outermost first.
pub struct Site<'a> {
    pub br: &'a BlockRealize,
    pub loops: Vec<&'a For>,
}

/// Every block of `func` with its loops, in program order.
pub fn sites(func: &PrimFunc) -> Vec<Site<'_>> {
    let mut out = Vec::new();
    func.body.walk(&mut |s, loops| {
        if let Stmt::Block(br) = s {
            out.push(Site { br, loops: loops.to_vec() });
        }
    });
    out
}

/// One buffer access of a block, its indices over the loop variables.
pub struct Access {
    pub buffer: String,
    pub indices: Vec<Expr>,
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
    pub bytes: usize,
    pub store: bool,
}

/// The accesses of a block: its store first, then the loads of its value
/// (a reduction's read of its own output element is not listed).
pub fn accesses(func: &PrimFunc, br: &BlockRealize) -> Vec<Access> {
    let bind = |v: &Var| br.block.iter_vars.iter().position(|iv| &iv.var == v).map(|i| br.bindings[i].clone());
    let mk = |buffer: &str, idx: &[Expr], store: bool| {
        let b = func.buffer(buffer)?;
        Some(Access {
            buffer: buffer.to_string(),
            indices: idx.iter().map(|e| e.substitute(&bind)).collect(),
            shape: b.shape.clone(),
            strides: b.strides(),
            bytes: b.dtype.bytes(),
            store,
        })
    };
    let body = &br.block.body;
    let mut out: Vec<Access> = mk(&body.buffer, &body.indices, true).into_iter().collect();
    for l in body.value.loads() {
        if *l.buffer == *body.buffer && l.indices == body.indices {
            continue;
        }
        out.extend(mk(&l.buffer, &l.indices, false));
    }
    out
}

/// Elements an access touches while the loops `inner` run (the loops
/// `outer` fixed at any iteration, their first): the box its indices span,
/// a dimension that cannot be bounded counting whole.
pub fn footprint(a: &Access, outer: &[&For], inner: &[&For]) -> f64 {
    let mut an = Analyzer::new();
    for l in outer {
        an.bind_range(&l.var, 0, 0);
    }
    let relax = inner.iter().fold(Relax::new(an), |r, l| r.over(&l.var, l.extent));
    a.indices
        .iter()
        .zip(&a.shape)
        .map(|(e, n)| relax.index(e).map_or(*n, |iv| iv.extent().clamp(1, *n)) as f64)
        .product()
}

/// The flat-index stride of an access along a loop variable.
pub fn stride(a: &Access, v: &Var) -> i64 {
    let an = Analyzer::new();
    a.indices.iter().zip(&a.strides).map(|(e, s)| an.linear(e).coef(v) * s).sum()
}

/// The innermost run of unrolled or vectorized loops of a site: the
/// straight-line register tile.
pub fn register_run<'a>(loops: &[&'a For]) -> Vec<&'a For> {
    let k = loops.iter().rposition(|l| !matches!(l.kind, ForKind::Unrolled | ForKind::Vectorized)).map_or(0, |p| p + 1);
    loops[k..].to_vec()
}

/// The product of the vectorized loops' extents (1 if none).
pub fn lanes_of(loops: &[&For]) -> i64 {
    loops.iter().filter(|l| l.kind == ForKind::Vectorized).map(|l| l.extent).product::<i64>().max(1)
}
