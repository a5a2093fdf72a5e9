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
//! one pass over the data instead of two) and keeps every other block at
//! the root.

use crate::ir::PrimFunc;
use crate::schedule::analysis::consumers;
use crate::schedule::{DecisionMode, Schedule, ScheduleError};
use crate::trace::Decision;

use super::Mode;

/// Samples the compute location of `block` and moves it there.
pub(super) fn apply(sch: &mut Schedule, block: &str, mode: &mut Mode) -> Result<(), ScheduleError> {
    let f = sch.func();
    let Some(br) = f.block(block) else { return Ok(()) };
    if f.param(&br.block.body.buffer).is_some() || consumers(f, block).is_empty() {
        return Ok(());
    }
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => (Some(if inline_by_default(f, block) { -2 } else { -1 }), DecisionMode::Strict),
        Mode::Given(q) => match q.pop_front().flatten() {
            Some(Decision::Int(v)) => (Some(v), DecisionMode::Repair),
            _ => (None, DecisionMode::Repair),
        },
    };
    let b = sch.get_block(block)?;
    let loc = sch.sample_compute_location_mode(b, decision, dmode)?;
    sch.compute_at(b, loc, true, -1)
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
