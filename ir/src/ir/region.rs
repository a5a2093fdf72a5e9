//! Buffer access regions of blocks (TensorIR's `T.reads` / `T.writes`).

use std::sync::Arc;

use super::arith::Analyzer;
use super::expr::{Expr, Load};
use super::stmt::Block;

/// A rectangular region `min[d] .. min[d] + extent[d]` of a buffer, with the
/// minimums as expressions of the block's iteration variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    pub buffer: Arc<str>,
    pub ranges: Vec<(Expr, i64)>,
}

/// Every load of the block (init and body), in evaluation order.
pub fn block_loads(block: &Block) -> Vec<&Load> {
    let mut out = Vec::new();
    if let Some(init) = &block.init {
        out.extend(init.value.loads());
    }
    for idx in &block.body.indices {
        out.extend(idx.loads());
    }
    out.extend(block.body.value.loads());
    out
}

/// Buffers the block reads, in order of first read, each once. Like TVM, the
/// self-read of a reduction update (a block with `init`) is not a read.
pub fn block_reads(block: &Block) -> Vec<Region> {
    let an = block_analyzer(block);
    let mut by_buffer: Vec<(Arc<str>, Vec<&Vec<Expr>>)> = Vec::new();
    for l in block_loads(block) {
        if block.init.is_some() && l.buffer == block.body.buffer && l.indices == block.body.indices {
            continue;
        }
        match by_buffer.iter_mut().find(|(b, _)| *b == l.buffer) {
            Some((_, v)) => v.push(&l.indices),
            None => by_buffer.push((l.buffer.clone(), vec![&l.indices])),
        }
    }
    by_buffer.into_iter().map(|(b, accesses)| cover(&an, b, &accesses)).collect()
}

/// The buffer the block writes.
pub fn block_writes(block: &Block) -> Vec<Region> {
    let an = block_analyzer(block);
    vec![cover(&an, block.body.buffer.clone(), &[&block.body.indices])]
}

/// The names of the buffers the block reads, including a reduction's self-read.
pub fn block_read_buffers(block: &Block) -> Vec<Arc<str>> {
    let mut out: Vec<Arc<str>> = Vec::new();
    for l in block_loads(block) {
        if !out.contains(&l.buffer) {
            out.push(l.buffer.clone());
        }
    }
    out
}

fn block_analyzer(block: &Block) -> Analyzer {
    let mut an = Analyzer::new();
    for iv in &block.iter_vars {
        an.bind(&iv.var, iv.extent);
    }
    an
}

/// The smallest region covering every access: per dimension, accesses that
/// differ by constants give `base + lo .. base + hi + 1`; otherwise the bounds of
/// the index over the iteration domain are used.
fn cover(an: &Analyzer, buffer: Arc<str>, accesses: &[&Vec<Expr>]) -> Region {
    let ndim = accesses[0].len();
    let mut ranges = Vec::with_capacity(ndim);
    for d in 0..ndim {
        let first = an.linear(&accesses[0][d]);
        let mut base = first.clone();
        base.constant = 0;
        let mut lo = first.constant;
        let mut hi = first.constant;
        let mut same_base = true;
        for acc in &accesses[1..] {
            let s = an.linear(&acc[d]);
            let mut b = s.clone();
            b.constant = 0;
            if b != base {
                same_base = false;
                break;
            }
            lo = lo.min(s.constant);
            hi = hi.max(s.constant);
        }
        if same_base {
            let mut min = base.clone();
            min.constant = lo;
            ranges.push((min.to_expr(), hi - lo + 1));
        } else {
            let mut lo = i64::MAX;
            let mut hi = i64::MIN;
            let mut known = true;
            for acc in accesses {
                match an.range(&acc[d]) {
                    Some((a, b)) => {
                        lo = lo.min(a);
                        hi = hi.max(b);
                    }
                    None => known = false,
                }
            }
            if known {
                ranges.push((Expr::Int(lo), hi - lo + 1));
            } else {
                ranges.push((Expr::Int(0), -1));
            }
        }
    }
    Region { buffer, ranges }
}
