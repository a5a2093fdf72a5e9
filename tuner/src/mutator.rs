//! Mutators: a new program from a measured one by changing one decision of
//! its trace, then replaying it (MetaSchedule's `mutator/`).
//!
//! - **tile size** (`sample_perfect_tile`): move a divisor from one factor of
//!   the tiling to another, so the product stays the loop's extent (and the
//!   innermost factor stays within `max_innermost_factor`) — TVM's
//!   `MutateTileSize`;
//! - **categorical** (`sample_categorical`: unroll depths, vector widths...):
//!   another candidate with non-zero probability;
//! - **compute location** (`sample_compute_location`): another legal loop,
//!   drawn by replaying the trace with that one decision removed.
//!
//! In the default space the program is rebuilt by running the rules again
//! with the mutated decisions (`kiln_ir::space::regenerate`: a decision that
//! no longer fits the changed structure is drawn afresh); a custom space's
//! trace is replayed with `DecisionMode::Strict` (or, for the compute
//! location, `Repair`). Either way the result is checked like a fresh sample
//! (`task::check_program`) before it is returned, so an invalid mutation never
//! reaches the builder.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use kiln_ir::schedule::primitive::sampling::check_tile_decision;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::Isa;
use kiln_ir::trace::{Arg, Decision, InstKind, Trace};

use crate::task::{program_key, Program, Space, Task};
use kiln_ir::space;
use kiln_ir::space::check_program;

/// What a mutation changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutatorKind {
    TileSize,
    Categorical,
    ComputeLocation,
}

impl MutatorKind {
    /// MetaSchedule's default mix (tile size 0.9, unroll/parallel 0.05, compute location 0.05).
    fn weight(self) -> f64 {
        match self {
            MutatorKind::TileSize => 0.85,
            MutatorKind::Categorical => 0.1,
            MutatorKind::ComputeLocation => 0.05,
        }
    }

    fn of(kind: InstKind) -> Option<MutatorKind> {
        match kind {
            InstKind::SamplePerfectTile => Some(MutatorKind::TileSize),
            InstKind::SampleCategorical => Some(MutatorKind::Categorical),
            InstKind::SampleComputeLocation => Some(MutatorKind::ComputeLocation),
            _ => None,
        }
    }
}

/// The decision sites of a trace that a mutator can change, with their kind.
pub fn sites(trace: &Trace) -> Vec<(usize, MutatorKind)> {
    trace
        .decision_sites()
        .into_iter()
        .filter_map(|i| {
            let inst = &trace.insts[i];
            let kind = MutatorKind::of(inst.kind)?;
            let changeable = match (kind, &inst.decision) {
                (MutatorKind::TileSize, Some(Decision::Ints(d))) => d.len() > 1 && d.iter().any(|f| *f > 1),
                (MutatorKind::Categorical, _) => inst
                    .get("probs")
                    .and_then(Arg::as_list)
                    .is_some_and(|p| p.iter().filter(|x| nonzero(x)).count() > 1),
                (MutatorKind::ComputeLocation, _) => true,
                _ => false,
            };
            changeable.then_some((i, kind))
        })
        .collect()
}

fn nonzero(a: &Arg) -> bool {
    match a {
        Arg::Float(f) => *f > 0.0,
        Arg::Int(i) => *i > 0,
        _ => false,
    }
}

fn divisors(x: i64) -> Vec<i64> {
    (2..=x).filter(|d| x % d == 0).collect()
}

/// A new tiling: a divisor moved from one factor to another.
fn mutate_tile(d: &[i64], max_inner: i64, rng: &mut ChaCha8Rng) -> Option<Vec<i64>> {
    let extent: i64 = d.iter().product();
    let from: Vec<usize> = (0..d.len()).filter(|i| d[*i] > 1).collect();
    for _ in 0..16 {
        let x = *from.choose(rng)?;
        let y = (0..d.len()).filter(|y| *y != x).collect::<Vec<_>>().choose(rng).copied()?;
        let f = *divisors(d[x]).choose(rng)?;
        let mut n = d.to_vec();
        n[x] /= f;
        n[y] *= f;
        if check_tile_decision(extent, n.len(), max_inner, &n).is_ok() {
            return Some(n);
        }
    }
    None
}

/// One mutation of `p` (a program of `task`), or `None` when none of a few
/// attempts gives a valid new program.
pub fn mutate(task: &Task, p: &Program, isa: Isa, threads: usize, rng: &mut ChaCha8Rng) -> Option<Program> {
    let sites = sites(&p.trace);
    if sites.is_empty() {
        return None;
    }
    for _ in 0..8 {
        let total: f64 = sites.iter().map(|(_, k)| k.weight()).sum();
        let mut x = rng.gen_range(0.0..total);
        let &(site, kind) = sites
            .iter()
            .find(|(_, k)| {
                x -= k.weight();
                x < 0.0
            })
            .unwrap_or(&sites[sites.len() - 1]);
        let inst = &p.trace.insts[site];
        let (trace, mode) = match (kind, &inst.decision) {
            (MutatorKind::TileSize, Some(Decision::Ints(d))) => {
                let max_inner = inst.get("max_innermost_factor").and_then(Arg::as_int).unwrap_or(0);
                let Some(n) = mutate_tile(d, max_inner, rng) else { continue };
                (p.trace.with_decision(site, Some(Decision::Ints(n))), DecisionMode::Strict)
            }
            (MutatorKind::Categorical, Some(Decision::Int(cur))) => {
                let probs = inst.get("probs").and_then(Arg::as_list).unwrap_or(&[]);
                let others: Vec<i64> =
                    (0..probs.len() as i64).filter(|i| *i != *cur && nonzero(&probs[*i as usize])).collect();
                let Some(n) = others.choose(rng) else { continue };
                (p.trace.with_decision(site, Some(Decision::Int(*n))), DecisionMode::Strict)
            }
            (MutatorKind::ComputeLocation, _) => (p.trace.with_decision(site, None), DecisionMode::Repair),
            _ => continue,
        };
        // Default rules: rebuild from the decisions (a changed decision may
        // change the loop structure the later steps see); custom spaces: replay.
        let sch = match &task.space {
            Space::Rules => {
                let decisions: Vec<Option<Decision>> = trace.decisions().into_iter().map(|d| d.cloned()).collect();
                let opts = crate::task::space_options(isa, threads);
                match space::regenerate(&task.func, &opts, &decisions, rng.gen()) {
                    Ok(sch) => sch,
                    Err(_) => continue,
                }
            }
            Space::Custom(_) => match Schedule::replay(&task.func, &trace, rng.gen(), mode) {
                Ok(sch) => sch,
                Err(_) => continue,
            },
        };
        let (func, trace) = sch.into_parts();
        let key = program_key(&func, isa, threads);
        if key == p.key || check_program(&func, isa).is_err() {
            continue;
        }
        return Some(Program { trace, func, key });
    }
    None
}
