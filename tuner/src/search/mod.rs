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
/// extended with them), giving up after `20 n` attempts. The seeds are drawn
/// in order and the samples built in parallel ([`par_map`]), then taken in
/// seed order: the result depends on the seed alone, not on the threads.
pub fn fresh_samples(ctx: &Context, rng: &mut ChaCha8Rng, n: usize, seen: &mut BTreeSet<String>) -> Vec<Program> {
    let mut out = Vec::new();
    let mut attempts = 0;
    let limit = 20 * n.max(1);
    while out.len() < n && attempts < limit {
        let wave = (n - out.len()).min(limit - attempts);
        attempts += wave;
        let seeds: Vec<u64> = (0..wave).map(|_| rng.gen()).collect();
        let got = par_map(&seeds, |s| ctx.task.sample(ctx.isa, ctx.threads, *s).ok());
        for p in got.into_iter().flatten() {
            if out.len() < n && !ctx.measured.contains(&p.key) && seen.insert(p.key.clone()) {
                out.push(p);
            }
        }
    }
    out
}

/// `items.map(f)` on every core (contiguous chunks, one scoped thread each),
/// in order. The search's programs are built this way: each is a few
/// milliseconds of schedule replay, and between two measurements the
/// machine's cores have nothing else to do.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("search thread")).collect()
    })
}
