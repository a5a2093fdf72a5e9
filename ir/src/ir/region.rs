//! Buffer access regions of blocks (TensorIR's `T.reads` / `T.writes`).

use std::sync::Arc;

use super::arith::Analyzer;
use super::expr::{Expr, Load};
use super::relax::{union, Interval, Relax};
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
/// differ by constants give `base + lo .. base + hi + 1`; otherwise the bounds
/// of the indices over the iteration domain, or `(0, -1)` when unknown.
fn cover(an: &Analyzer, buffer: Arc<str>, accesses: &[&Vec<Expr>]) -> Region {
    // Nothing is relaxed: each access is one point, symbolic in the iteration variables.
    let point = Relax::new(an.clone());
    let ranges = (0..accesses[0].len())
        .map(|d| {
            let dims: Option<Vec<Interval>> = accesses.iter().map(|a| point.index(&a[d])).collect();
            match dims.and_then(|dims| union(&dims, Some(an))) {
                Some(iv) => (iv.min().to_expr(), iv.extent()),
                None => (Expr::Int(0), -1),
            }
        })
        .collect();
    Region { buffer, ranges }
}
