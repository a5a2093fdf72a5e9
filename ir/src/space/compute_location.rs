//! The compute-location rule (MetaSchedule's `RandomComputeLocation`).
//!
//! **What it does:** moves a producer under a loop of its consumers
//! (`compute_at`), or keeps it at the root.
//!
//! **When it applies:** to every block that writes an intermediate buffer
//! (not a parameter) read by some other block, unless an elementwise
//! consumer is absorbed by its producer's tile or the block already sits in
//! another block's nest.
//!
//! **What it samples:** one `sample_compute_location` of the block (every
//! loop of its consumers where `compute_at` is legal, the root, or inline).
//! The default inlines an elementwise step into its one elementwise consumer
//! (a bias add into the activation after it: MetaSchedule's `AutoInline`,
//! one pass over the data instead of two); with threads, it moves a block
//! whose consumers share a parallel outermost loop under that loop (a row's
//! reductions beside the row's other blocks: one parallel region instead of
//! one per block, the row in L1 between them; on Zen 1 with 2 threads rmsnorm
//! 36.9 → 20.3 µs, softmax 57–85 → 46–83); it keeps every other block at the
//! root (on one thread, softmax's and rmsnorm's blocks at the root ran faster
//! than beside each other in the row loop).

use crate::ir::{ForKind, IterKind, PrimFunc};
use crate::schedule::analysis::consumers;
use crate::schedule::primitive::compute_at::compute_locations;
use crate::schedule::{DecisionMode, Schedule, ScheduleError};
use crate::trace::Decision;

use super::{Mode, SpaceOptions};

/// Samples the compute location of `block` and moves it there.
pub(super) fn apply(
    sch: &mut Schedule,
    block: &str,
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<(), ScheduleError> {
    let f = sch.func();
    let Some(br) = f.block(block) else { return Ok(()) };
    if f.param(&br.block.body.buffer).is_some() || consumers(f, block).is_empty() {
        return Ok(());
    }
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => {
            let d = if inline_by_default(f, block) {
                -2
            } else if opts.threads > 1 && under_parallel_loop(f, block) {
                0
            } else {
                -1
            };
            (Some(d), DecisionMode::Strict)
        }
        Mode::Given(q) => match q.pop_front().flatten() {
            Some(Decision::Int(v)) => (Some(v), DecisionMode::Repair),
            _ => (None, DecisionMode::Repair),
        },
    };
    let b = sch.get_block(block)?;
    let loc = sch.sample_compute_location_mode(b, decision, dmode)?;
    sch.compute_at(b, loc, true, -1)
}

/// Whether the consumers of `block` share their outermost loop, that loop is
/// parallel and runs over the rows of `block`'s buffer (its extent is the
/// buffer's first dimension: each iteration computes its own rows, nothing
/// twice), `block` may move under it (compute location 0), and `block` is a
/// row's step: elementwise, or a reduction with one spatial axis (a row's max
/// or sum). A product or a convolution (a reduction over several spatial
/// axes) stays where the tiling rules put it (under the row loop of its
/// epilogue, linear's `X·Wᵀ` ran 1.6× slower with 2 threads), and so does a
/// producer the loop does not cut into rows (conv2d's padding under the
/// convolution's parallel loop: 1.5× slower).
fn under_parallel_loop(f: &PrimFunc, block: &str) -> bool {
    let Some(b) = f.block(block) else { return false };
    let spatial = b.block.iter_vars.iter().filter(|iv| iv.kind == IterKind::Spatial).count();
    if b.block.is_reduction() && spatial != 1 {
        return false;
    }
    let rows = f.buffer(&b.block.body.buffer).and_then(|buf| buf.shape.first().copied());
    let cons = consumers(f, block);
    let outer = |c: &String| f.loops_of_block(c).and_then(|ls| ls.first().map(|l| (l.var.clone(), l.kind, l.extent)));
    let Some(first) = cons.first().and_then(outer) else { return false };
    first.1 == ForKind::Parallel
        && rows == Some(first.2)
        && cons.iter().all(|c| outer(c).is_some_and(|o| o.0 == first.0))
        && compute_locations(f, block).iter().any(|(d, _)| *d == 0)
}

/// Whether the default inlines `block`: it is spatial-only, it has exactly
/// one consumer, that consumer is spatial-only too (inlining into a
/// reduction would recompute the step at every reduction step), and
/// `compute_inline` accepts it.
fn inline_by_default(f: &PrimFunc, block: &str) -> bool {
    let spatial = |n: &str| f.block(n).is_some_and(|b| !b.block.is_reduction());
    let cons = consumers(f, block);
    spatial(block)
        && cons.len() == 1
        && spatial(&cons[0])
        && crate::schedule::primitive::compute_inline::check_compute_inline(f, block).is_ok()
}
