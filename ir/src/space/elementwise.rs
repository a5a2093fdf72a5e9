//! The elementwise rule (the vectorize and parallel parts of MetaSchedule's
//! `ParallelizeVectorizeUnroll`).
//!
//! **What it does:** splits the innermost loop by the lane count and
//! vectorizes the lane loop; with threads, makes the outermost loop parallel.
//!
//! **When it applies:** to a spatial-only block (not absorbed by its
//! producer's tile, not already inside another block's nest or a vectorized
//! loop) whose store is contiguous in its innermost loop, of a floating-point
//! type, at least one vector long, on an ISA with vector lanes.
//!
//! **What it samples:** nothing: the lane count comes from the target.

use crate::ir::DataType;
use crate::schedule::{Factor, Schedule};

use super::common::{loop_handles, parallelize, rule_subject};
use super::roles::store_lane_iter;
use super::{SpaceError, SpaceOptions};

/// Vectorizes (and parallelizes) the spatial-only `block`.
pub(super) fn apply(sch: &mut Schedule, block: &str, opts: &SpaceOptions) -> Result<(), SpaceError> {
    let Some((_, br, roles)) = rule_subject(sch, block) else { return Ok(()) };
    let Some(last) = roles.last() else { return Ok(()) };
    let dt = br.block.body.value.dtype();
    let lanes = opts.isa.lanes(dt) as i64;
    if Some(last.iter) != store_lane_iter(&br) || lanes <= 1 || dt == DataType::I32 {
        return Ok(());
    }
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let l = handles[&last.var];
    if last.extent < lanes {
        return Ok(());
    }
    let parts = sch.split(l, &[None, Some(Factor::Int(lanes))])?;
    sch.vectorize(parts[1])?;
    if roles.len() >= 2 && opts.threads > 1 {
        let outer = handles[&roles[0].var];
        parallelize(sch, &[outer], opts)?;
    }
    Ok(())
}
