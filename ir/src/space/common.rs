//! What the rules share: taking a tiling decision in every [`Mode`], splitting
//! by sampled factors, finding a block's loops, tidying the init and
//! write-back nests of a register tile, parallelizing the outer loops, and the
//! register budget of a sampled tile.

use std::collections::HashMap;

use crate::ir::{BlockRealize, PrimFunc};
use crate::schedule::analysis::consumers;
use crate::schedule::{BlockRV, DecisionMode, ExprRV, Factor, LoopRV, Schedule, ScheduleError};
use crate::target::{Isa, RegisterUse};
use crate::trace::Decision;

use super::roles::{exclusive_loops, LoopRole};
use super::{Mode, SpaceError, SpaceOptions};

/// Loops longer than this are not unrolled by the rules.
pub(super) const MAX_UNROLL: i64 = 16;

/// Samples (or, in default mode, chooses; or takes the next given decision
/// of) a perfect tiling of a loop into `n` factors, the innermost at most
/// `max_inner` (0: no limit); the default puts the largest divisor of
/// `extent` up to `inner` innermost and the rest outermost.
pub(super) fn tile(
    sch: &mut Schedule,
    l: LoopRV,
    extent: i64,
    n: usize,
    max_inner: i64,
    inner: i64,
    mode: &mut Mode,
) -> Result<Vec<ExprRV>, ScheduleError> {
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => {
            // innermost: the largest divisor <= `inner` (and <= max_inner); outermost: the rest.
            let d = default_inner(extent, max_inner, inner);
            let mut v = vec![1; n];
            v[n - 1] = d;
            v[0] = extent / d;
            (Some(v), DecisionMode::Strict)
        }
        Mode::Given(q) => {
            let d = match q.pop_front().flatten() {
                Some(Decision::Ints(v)) => Some(v),
                _ => None,
            };
            (d, DecisionMode::Repair)
        }
    };
    sch.sample_perfect_tile_mode(l, n as i64, max_inner, decision, dmode)
}

/// The innermost factor [`tile`] takes by default: the largest divisor of
/// `extent` up to `inner` (and up to `max_inner`, 0: no limit).
pub(super) fn default_inner(extent: i64, max_inner: i64, inner: i64) -> i64 {
    let cap = if max_inner > 0 { inner.min(max_inner) } else { inner };
    (1..=cap.max(1)).rev().find(|d| extent % d == 0).unwrap_or(1)
}

/// A perfect tile of `l` whose decision is derived, not sampled (the
/// cache-blocking plan): `decision` in every mode (a given decision is
/// consumed and ignored: the plan's own choices were given before it).
pub(super) fn tile_as(
    sch: &mut Schedule,
    l: LoopRV,
    n: usize,
    max_inner: i64,
    decision: Vec<i64>,
    mode: &mut Mode,
) -> Result<Vec<ExprRV>, ScheduleError> {
    if let Mode::Given(q) = mode {
        q.pop_front();
    }
    sch.sample_perfect_tile_mode(l, n as i64, max_inner, Some(decision), DecisionMode::Strict)
}

/// Samples (or, in default mode, takes `default`; or takes the next given
/// decision) an index into `candidates`, each equally likely; returns the
/// chosen candidate.
pub(super) fn choose(
    sch: &mut Schedule,
    candidates: &[i64],
    default: usize,
    mode: &mut Mode,
) -> Result<i64, ScheduleError> {
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => (Some(default as i64), DecisionMode::Strict),
        Mode::Given(q) => match q.pop_front().flatten() {
            Some(Decision::Int(v)) => (Some(v), DecisionMode::Repair),
            _ => (None, DecisionMode::Repair),
        },
    };
    let probs = vec![1.0 / candidates.len() as f64; candidates.len()];
    let v = sch.sample_categorical_mode(candidates, &probs, decision, dmode)?;
    sch.get(v)
}

/// Splits `l` by sampled factors.
pub(super) fn split_by(sch: &mut Schedule, l: LoopRV, factors: &[ExprRV]) -> Result<Vec<LoopRV>, ScheduleError> {
    let f: Vec<Option<Factor>> = factors.iter().map(|v| Some(Factor::Rv(*v))).collect();
    sch.split(l, &f)
}

/// The loops of `b` by loop variable name.
pub(super) fn loop_handles(sch: &mut Schedule, b: BlockRV) -> Result<HashMap<String, LoopRV>, ScheduleError> {
    let loops = sch.get_loops(b)?;
    let mut out = HashMap::new();
    for l in loops {
        out.insert(sch.loop_name(l)?, l);
    }
    Ok(out)
}

/// The loops of `b` below `after` (or all of them), innermost last.
pub(super) fn loops_below(sch: &mut Schedule, b: BlockRV, after: Option<LoopRV>) -> Result<Vec<LoopRV>, ScheduleError> {
    let loops = sch.get_loops(b)?;
    let Some(a) = after else { return Ok(loops) };
    let name = sch.loop_name(a)?;
    let mut out = Vec::new();
    let mut seen = false;
    for l in loops {
        if seen {
            out.push(l);
        } else if sch.loop_name(l)? == name {
            seen = true;
        }
    }
    Ok(out)
}

/// The extent of loop `l`.
pub(super) fn loop_extent(sch: &Schedule, l: LoopRV) -> Result<i64, ScheduleError> {
    Ok(sch.func().find_loop(&sch.loop_name(l)?).map_or(0, |f| f.extent))
}

/// Unrolls every loop but the last, which is split by `lanes` and vectorized
/// (used for the init and write-back nests of a register tile).
pub(super) fn tidy_nest(
    sch: &mut Schedule,
    loops: &[LoopRV],
    lanes: i64,
    vectorize_last: bool,
) -> Result<(), ScheduleError> {
    let Some((last, rest)) = loops.split_last() else { return Ok(()) };
    // Unroll small loops only: a register tile, not a whole row.
    let unroll = |sch: &mut Schedule, l: LoopRV| -> Result<(), ScheduleError> {
        if loop_extent(sch, l)? <= MAX_UNROLL {
            sch.unroll(l)?;
        }
        Ok(())
    };
    for l in rest {
        unroll(sch, *l)?;
    }
    if !vectorize_last || lanes <= 1 {
        return unroll(sch, *last);
    }
    let ext = loop_extent(sch, *last)?;
    if ext <= lanes {
        if ext == lanes {
            return sch.vectorize(*last);
        }
        return unroll(sch, *last);
    }
    let parts = sch.split(*last, &[None, Some(Factor::Int(lanes))])?;
    unroll(sch, parts[0])?;
    sch.vectorize(parts[1])
}

/// The elementwise consumer the tile can absorb, if `block` writes an
/// intermediate read by exactly one spatial-only block that iterates over
/// exactly the intermediate's shape (a bias add, an activation).
pub(super) fn fusable_consumer(sch: &Schedule, block: &str) -> Option<String> {
    let f = sch.func();
    let br = f.block(block)?;
    if f.param(&br.block.body.buffer).is_some() {
        return None;
    }
    let cons = consumers(f, block);
    if cons.len() != 1 {
        return None;
    }
    let c = f.block(&cons[0])?;
    let shape = &f.buffer(&br.block.body.buffer)?.shape;
    let domain: Vec<i64> = c.block.iter_vars.iter().map(|iv| iv.extent).collect();
    (!c.block.is_reduction()
        && &domain == shape
        && exclusive_loops(f, &cons[0]).is_some_and(|l| l.len() == c.block.iter_vars.len()))
    .then(|| cons[0].clone())
}

/// What a rule schedules: a copy of the function, the block and its
/// exclusive loops (`roles::exclusive_loops`). `None` when the block has no
/// such loops, or sits inside a vectorized loop (placed there by
/// `compute_at`): its own loops are then left alone.
pub(super) fn rule_subject(sch: &Schedule, block: &str) -> Option<(PrimFunc, BlockRealize, Vec<LoopRole>)> {
    if inside_vector_loop(sch, block) {
        return None;
    }
    let f = sch.func().clone();
    let br = f.block(block).unwrap().clone();
    let roles = exclusive_loops(&f, block)?;
    Some((f, br, roles))
}

/// Whether a block sits inside a vectorized loop.
fn inside_vector_loop(sch: &Schedule, block: &str) -> bool {
    sch.func().loops_of_block(block).is_some_and(|ls| ls.iter().any(|l| l.kind == crate::ir::ForKind::Vectorized))
}

/// Fuses the `outer` loops and makes the result parallel, when the space
/// allows threads.
pub(super) fn parallelize(sch: &mut Schedule, outer: &[LoopRV], opts: &SpaceOptions) -> Result<(), ScheduleError> {
    if opts.threads <= 1 || outer.is_empty() {
        return Ok(());
    }
    let l = if outer.len() > 1 { sch.fuse(outer)? } else { outer[0] };
    sch.parallel(l)
}

/// Rejects a sampled register tile that would spill (the budget of
/// `Isa::check_registers`, decided from the sampled shape before the tile is
/// built; `check::check_program` checks the finished program the same way).
pub(super) fn check_tile(isa: Isa, use_: RegisterUse) -> Result<(), SpaceError> {
    isa.check_registers(use_).map_err(|e| SpaceError::Rejected(e.to_string()))
}
