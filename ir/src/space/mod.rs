//! Design spaces: the schedules the tuner searches, and the default schedule.
//!
//! [`apply_rules`] walks the blocks of a fresh schedule and applies the rules
//! below, one per file (MetaSchedule's `schedule_rule/`). In [`Mode::Sample`]
//! every choice is drawn by a sampling instruction (so the trace is the
//! program, its decisions the point in the space, and mutators can change
//! them); in [`Mode::Default`] the same instructions take fixed, reasonable
//! decisions — that is the schedule a kernel gets when it has no committed
//! trace.
//!
//! | rule | applies to | samples |
//! |---|---|---|
//! | `compute_location.rs` | a block writing an intermediate | `sample_compute_location` |
//! | `multi_level_tiling.rs` (`SSRSRS`) | a reduction contiguous along its store's lane axis (matmul, conv2d) | `sample_perfect_tile` per loop |
//! | `add_rfactor.rs` | a reduction contiguous along a reduce axis (GEMV, row max/sum) | `sample_perfect_tile` per loop |
//! | `elementwise.rs` (vectorize + parallel) | a spatial-only block contiguous in its innermost loop | lockstep group, transposed-read row tile |
//! | `divider.rs` (from `elementwise.rs`) | a division by a divisor shared by the lanes | the divider's share of the vectors |
//!
//! `common.rs` holds what the rules share (tiling decisions, splits, loop
//! handles, the init and write-back nests, parallel loops, the register
//! budget of a tile); `roles.rs` analyses a block's loops; `check.rs` holds
//! the checks of a finished program. Tile shapes and the register budget
//! come from [`crate::target`] (`Isa::tile_shapes`, `Isa::check_registers`).

mod add_rfactor;
pub mod cache_blocking;
mod check;
mod common;
mod compute_location;
mod divider;
mod elementwise;
mod multi_level_tiling;
pub mod packing;
mod roles;

pub use check::{accumulator_vectors, check_program, register_use, unrolled_statements, MAX_UNROLLED_STATEMENTS};
pub use roles::exclusive_loops;

use crate::ir::{IterKind, PrimFunc};
use crate::schedule::{DecisionMode, ReplayError, Schedule, ScheduleError};
use crate::target::Isa;
use crate::trace::{Decision, Trace};

/// How the rules take their decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Draw every decision from the schedule's RNG.
    Sample,
    /// Take the default decisions.
    Default,
    /// Take these decisions, in the order the rules sample, each only where it
    /// still fits (else drawn afresh); draw once they run out. This is how a
    /// mutated program is rebuilt: when a changed decision changes the loop
    /// structure (a compute location, a tiling), the rules run again instead
    /// of replaying a trace whose later steps no longer apply.
    Given(std::collections::VecDeque<Option<Decision>>),
}

/// What the space is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpaceOptions {
    pub isa: Isa,
    /// Threads the kernel may use (1: no parallel loops).
    pub threads: usize,
    /// The L2 size per core the cache-blocking plan samples for
    /// (`cache_blocking.rs`): the tuning machine's, or
    /// [`cache_blocking::NOMINAL_L2_BYTES`] for the default schedule.
    pub l2_bytes: i64,
    /// The L1 data cache size per core: bounds the plan's `kc` (a micro-panel
    /// of the lane operand, `kc × nr`, fits half of it); the tuning
    /// machine's, or [`cache_blocking::NOMINAL_L1_BYTES`].
    pub l1_bytes: i64,
}

impl SpaceOptions {
    pub fn new(isa: Isa) -> SpaceOptions {
        SpaceOptions {
            isa,
            threads: 1,
            l2_bytes: cache_blocking::NOMINAL_L2_BYTES,
            l1_bytes: cache_blocking::NOMINAL_L1_BYTES,
        }
    }

    /// The options for `threads` threads (nominal L2).
    pub fn threads(isa: Isa, threads: usize) -> SpaceOptions {
        SpaceOptions { threads, ..SpaceOptions::new(isa) }
    }
}

/// Why a point of the space was not produced.
#[derive(Clone, Debug, PartialEq)]
pub enum SpaceError {
    /// A primitive refused a step (the rules built an invalid sequence).
    Schedule(ScheduleError),
    /// A custom space's trace does not replay.
    Replay(ReplayError),
    /// The sample is valid but pointless (e.g. it would spill registers).
    Rejected(String),
}

impl From<ScheduleError> for SpaceError {
    fn from(e: ScheduleError) -> SpaceError {
        SpaceError::Schedule(e)
    }
}

impl std::fmt::Display for SpaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpaceError::Schedule(e) => write!(f, "{e}"),
            SpaceError::Replay(e) => write!(f, "{e}"),
            SpaceError::Rejected(why) => write!(f, "rejected: {why}"),
        }
    }
}

impl std::error::Error for SpaceError {}

/// Applies the rules to every block of `sch` (in reverse program order, so
/// that consumers are tiled before their producers are placed).
pub fn apply_rules(sch: &mut Schedule, opts: &SpaceOptions, mode: Mode) -> Result<(), SpaceError> {
    apply_rules_to(sch, opts, mode, None)
}

/// [`apply_rules`]; with `failed`, a block whose rules fail is left as it
/// was before them (the schedule is restored) and recorded there, and the
/// other blocks are still scheduled.
fn apply_rules_to(
    sch: &mut Schedule,
    opts: &SpaceOptions,
    mut mode: Mode,
    mut failed: Option<&mut Vec<(String, SpaceError)>>,
) -> Result<(), SpaceError> {
    let names: Vec<String> = sch.func().blocks().iter().map(|b| b.block.name.clone()).collect();
    for name in names.iter().rev() {
        if sch.func().block(name).is_none() {
            continue;
        }
        let before = failed.is_some().then(|| sch.clone());
        if let Err(e) = block_rules(sch, name, opts, &mut mode) {
            match (failed.as_deref_mut(), before) {
                (Some(failed), Some(before)) => {
                    *sch = before;
                    failed.push((name.clone(), e));
                }
                _ => return Err(e),
            }
        }
    }
    Ok(())
}

/// The rules of one block: its compute location, then the rule of its kind.
fn block_rules(sch: &mut Schedule, name: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    // Placed inside another block's nest by that block's rule (a fused
    // consumer): no rule touches it again. (Its own compute location,
    // below, may also put it beside other blocks: it is still to do.)
    let done = blocks_done(sch, name);
    if !absorbed_by_producer(sch, name) && !done {
        compute_location::apply(sch, name, opts, mode)?;
    }
    let Some(br) = sch.func().block(name).cloned() else { return Ok(()) };
    if br.block.is_reduction() {
        match reduction_rule(sch, name) {
            Some(ReductionRule::MultiLevelTiling) => multi_level_tiling::apply(sch, name, opts, mode)?,
            Some(ReductionRule::AddRFactor) => add_rfactor::apply(sch, name, opts, mode)?,
            Some(ReductionRule::TileOrRFactor) => {
                // 1: tile with the strided operand packed; 0: rfactor. By
                // default, tile when the packed panels are reused by enough
                // rows to pay for the packing.
                let rows = roles::store_lane_iter(&br).and_then(|l| gemm_rows(&br, l)).unwrap_or(0);
                let default = usize::from(rows >= MIN_PACKING_ROWS);
                if common::choose(sch, &[0, 1], default, mode)? == 1 {
                    multi_level_tiling::apply(sch, name, opts, mode)?
                } else {
                    add_rfactor::apply(sch, name, opts, mode)?
                }
            }
            None => {}
        }
    } else if !done && !absorbed_by_producer(sch, name) {
        elementwise::apply(sch, name, opts, mode)?;
    }
    Ok(())
}

/// The rule that schedules a reduction block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReductionRule {
    MultiLevelTiling,
    AddRFactor,
    /// Either, sampled: the block reads its big operand along a reduce axis
    /// (rfactor applies) and an input parameter strided along the store's
    /// lane axis, which packing makes contiguous (the tiling applies): `X·Wᵀ`.
    TileOrRFactor,
}

/// Which rule fits a reduction block, if any.
///
/// Tile when the store's innermost axis is also contiguous in an operand (the
/// vector loads and the vector stores then run along the same axis: matmul,
/// conv2d); otherwise rfactor when the biggest operand is contiguous along a
/// reduce axis (GEMV, row reductions) — or either, when packing an input
/// parameter would make it contiguous along the store's axis (`X·Wᵀ`).
fn reduction_rule(sch: &Schedule, block: &str) -> Option<ReductionRule> {
    let f = sch.func();
    let br = f.block(block)?;
    let lane = roles::store_lane_iter(br);
    let loads = roles::operand_loads(f, br);
    if let Some(l) = lane {
        // Only operands that stream along the reduction count: a value the
        // reduce loop does not change (a row's mean in `Σ (x − mean)²`) is
        // contiguous along the rows but feeds no vector load in the loop.
        let streams = |ld: &crate::ir::Load| {
            br.block
                .iter_vars
                .iter()
                .any(|iv| iv.kind == IterKind::Reduce && ld.indices.iter().any(|e| e.uses_var(&iv.var)))
        };
        if loads.iter().any(|(ld, _)| streams(ld) && roles::contiguous_iter(br, &ld.indices) == Some(l)) {
            return Some(ReductionRule::MultiLevelTiling);
        }
    }
    let (big, _) = loads.into_iter().max_by_key(|(_, n)| *n)?;
    match roles::contiguous_iter(br, &big.indices) {
        Some(i) if br.block.iter_vars[i].kind == IterKind::Reduce => {
            if lane.is_some_and(|l| roles::strided_lane_operand(f, br, l) && gemm_rows(br, l).is_some()) {
                Some(ReductionRule::TileOrRFactor)
            } else {
                Some(ReductionRule::AddRFactor)
            }
        }
        _ => lane.map(|_| ReductionRule::MultiLevelTiling),
    }
}

/// Rows below which a default schedule does not pack an operand to tile a
/// GEMM-shaped block: each packed element would be used by fewer rows.
const MIN_PACKING_ROWS: i64 = 16;

/// The extent of the row axis of a GEMM-shaped block (an operand indexed by
/// a spatial axis other than the lane, and not by the lane: `X` of `X·Wᵀ`).
fn gemm_rows(br: &crate::ir::BlockRealize, lane: usize) -> Option<i64> {
    (0..br.block.iter_vars.len())
        .filter(|i| {
            *i != lane && br.block.iter_vars[*i].kind == IterKind::Spatial && roles::broadcast_row(br, *i, lane)
        })
        .map(|i| br.block.iter_vars[i].extent)
        .max()
}

/// Whether `block` is an elementwise consumer that the tile of its (reduction)
/// producer will absorb, so that no rule should schedule it on its own.
fn absorbed_by_producer(sch: &Schedule, block: &str) -> bool {
    let f = sch.func();
    crate::schedule::analysis::producers(f, block).iter().any(|p| {
        f.block(p).is_some_and(|b| b.block.is_reduction())
            && reduction_rule(sch, p).is_some()
            && common::fusable_consumer(sch, p).as_deref() == Some(block)
    })
}

/// Whether a block was already placed inside another block's nest (a fused
/// consumer), so that no rule should touch it again.
fn blocks_done(sch: &Schedule, name: &str) -> bool {
    let f = sch.func();
    let Some(loops) = f.loops_of_block(name) else { return true };
    loops.iter().any(|l| l.body.block_names().len() > 1 && l.body.block_names().iter().any(|b| b != name))
}

/// Samples one point of the default design space of `func` for `opts`, with
/// `seed`; retries rejected samples (and samples where the rules met a
/// combination a primitive refuses) a few times.
pub fn sample(func: &PrimFunc, opts: &SpaceOptions, seed: u64) -> Result<Schedule, SpaceError> {
    let mut last = SpaceError::Rejected("no attempt".into());
    for attempt in 0..16u64 {
        let mut sch = Schedule::new(func.clone(), seed.wrapping_mul(0x9E37_79B9).wrapping_add(attempt));
        match apply_rules(&mut sch, opts, Mode::Sample).and_then(|()| check_program(sch.func(), opts.isa)) {
            Ok(()) => return Ok(sch),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Rebuilds a point of the default space from `decisions` (in sampling
/// order, as `Trace::decisions` lists them), e.g. after a mutator changed
/// one; decisions that no longer fit are drawn with `seed`.
pub fn regenerate(
    func: &PrimFunc,
    opts: &SpaceOptions,
    decisions: &[Option<Decision>],
    seed: u64,
) -> Result<Schedule, SpaceError> {
    let mut sch = Schedule::new(func.clone(), seed);
    apply_rules(&mut sch, opts, Mode::Given(decisions.iter().cloned().collect()))?;
    Ok(sch)
}

/// Samples a point of a custom space (a trace whose sampling instructions
/// carry no decisions, e.g. from a kernel's `schedule { }` section).
pub fn sample_trace(func: &PrimFunc, space: &Trace, seed: u64) -> Result<Schedule, SpaceError> {
    Schedule::replay(func, space, seed, DecisionMode::Resample).map_err(SpaceError::Replay)
}

/// The default schedule of `func` for `opts`: the rules with their default
/// decisions. It is what a kernel without a trace or a `schedule { }` section
/// compiles to (`crate::program`, with `SpaceOptions::new(isa)`).
pub fn default_trace(func: &PrimFunc, opts: &SpaceOptions) -> Result<Schedule, SpaceError> {
    let mut sch = Schedule::new(func.clone(), 0);
    apply_rules(&mut sch, opts, Mode::Default)?;
    Ok(sch)
}

/// [`default_trace`], except that a block whose rules fail keeps the loops
/// it has (and is listed, with why) while the other blocks are scheduled:
/// what a kernel compiles to when the rules have a gap (`crate::program`
/// reports it). The tests use the strict [`default_trace`].
pub fn default_trace_partial(func: &PrimFunc, opts: &SpaceOptions) -> (Schedule, Vec<(String, SpaceError)>) {
    let mut sch = Schedule::new(func.clone(), 0);
    let mut failed = Vec::new();
    // Every failure is recorded instead of returned.
    let _ = apply_rules_to(&mut sch, opts, Mode::Default, Some(&mut failed));
    (sch, failed)
}
