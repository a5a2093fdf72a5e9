//! Search strategies: which programs of a task's space to measure next.
//!
//! A strategy is asked, once per iteration, for up to `n` new programs — not
//! measured before, not repeated within the batch — given what has been
//! measured so far ([`Context`]). `random.rs` is the chapter's random search;
//! `evolutionary.rs` is MetaSchedule's evolutionary search with a cost model.
//! Both draw from their own seeded ChaCha RNG and iterate only over ordered
//! collections, so the same seed and the same measurements give the same
//! candidates.

pub mod evolutionary;
pub mod random;

use std::collections::BTreeSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use kiln_ir::target::Isa;

use crate::cost_model::CostModel;
use crate::task::{Program, Task};

pub use evolutionary::{Evolutionary, EvolutionaryConfig};
pub use random::RandomSearch;

/// What a strategy knows when it proposes candidates.
pub struct Context<'a> {
    pub task: &'a Task,
    pub isa: Isa,
    pub threads: usize,
    /// Keys of every program measured (or found not to build) for this task.
    pub measured: &'a BTreeSet<String>,
    /// Measured correct programs with their throughput (GFLOP/s), best first.
    pub best: &'a [(Program, f64)],
    pub model: &'a CostModel,
}

/// A search strategy.
pub trait Strategy {
    /// Up to `n` programs that are not in `ctx.measured`, distinct from each
    /// other. Fewer (or none) when the space seems exhausted.
    fn generate(&mut self, ctx: &Context, n: usize) -> Vec<Program>;

    /// The strategy's name, as given to `--strategy`.
    fn name(&self) -> &'static str;
}

/// Which strategy to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyKind {
    Evolutionary,
    Random,
}

impl StrategyKind {
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Evolutionary => "evolutionary",
            StrategyKind::Random => "random",
        }
    }

    pub fn from_name(s: &str) -> Option<StrategyKind> {
        match s {
            "evolutionary" | "evo" => Some(StrategyKind::Evolutionary),
            "random" => Some(StrategyKind::Random),
            _ => None,
        }
    }

    /// A strategy seeded with `seed`.
    pub fn build(self, seed: u64) -> Box<dyn Strategy> {
        match self {
            StrategyKind::Evolutionary => Box::new(Evolutionary::new(seed, EvolutionaryConfig::default())),
            StrategyKind::Random => Box::new(RandomSearch::new(seed)),
        }
    }
}

/// Draws up to `n` fresh samples of the space not in `seen` (which is
/// extended with them), giving up after `20 n` attempts.
pub fn fresh_samples(ctx: &Context, rng: &mut ChaCha8Rng, n: usize, seen: &mut BTreeSet<String>) -> Vec<Program> {
    let mut out = Vec::new();
    let mut attempts = 0;
    while out.len() < n && attempts < 20 * n.max(1) {
        attempts += 1;
        let Ok(p) = ctx.task.sample(ctx.isa, ctx.threads, rng.gen()) else { continue };
        if ctx.measured.contains(&p.key) || !seen.insert(p.key.clone()) {
            continue;
        }
        out.push(p);
    }
    out
}
