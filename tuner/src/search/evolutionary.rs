//! Evolutionary search (MetaSchedule's `EvolutionarySearch`, sized for a
//! 2-core machine).
//!
//! Each iteration:
//! 1. **initial population**: the best measured programs (up to
//!    `init_measured_ratio` of the population) and fresh samples of the space;
//! 2. **evolution**: for `generations` rounds, parents are drawn in
//!    proportion to their predicted score (the cost model), and each child is
//!    a mutation of its parent (probability `mutation_prob`) or the parent
//!    itself; invalid mutations are dropped by the mutators, duplicates by
//!    key;
//! 3. **selection**: of every unmeasured program met, the best predicted
//!    fill `(1 - epsilon)` of the batch, fresh random samples the rest
//!    (ε-greedy exploration).
//!
//! Until the cost model is trained, predictions are replaced by a seeded
//! random ranking, so the first iterations are a random search around the
//! best measured programs.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{fresh_samples, par_map, Context, Strategy};
use crate::features;
use crate::mutator::mutate;
use crate::task::Program;

/// The knobs of the evolutionary search.
#[derive(Clone, Debug)]
pub struct EvolutionaryConfig {
    pub population: usize,
    pub init_measured_ratio: f64,
    pub generations: usize,
    pub mutation_prob: f64,
    /// The share of each batch given to random samples (ε-greedy).
    pub epsilon: f64,
}

impl Default for EvolutionaryConfig {
    fn default() -> EvolutionaryConfig {
        EvolutionaryConfig {
            population: 96,
            init_measured_ratio: 0.2,
            generations: 3,
            mutation_prob: 0.85,
            epsilon: 0.05,
        }
    }
}

/// The strategy.
pub struct Evolutionary {
    rng: ChaCha8Rng,
    pub config: EvolutionaryConfig,
}

impl Evolutionary {
    pub fn new(seed: u64, config: EvolutionaryConfig) -> Evolutionary {
        Evolutionary { rng: ChaCha8Rng::seed_from_u64(seed), config }
    }

    /// Predicted scores (higher is better), or a random ranking before the
    /// model is trained.
    fn score(&mut self, ctx: &Context, progs: &[Program]) -> Vec<f64> {
        let feats: Vec<Vec<f32>> = par_map(progs, |p| features::extract(&p.func, ctx.isa));
        match ctx.model.predict(&feats) {
            Some(s) => s,
            None => progs.iter().map(|_| self.rng.gen::<f64>()).collect(),
        }
    }

    /// Draws an index with probability proportional to `w` (shifted to be positive).
    fn roulette(&mut self, w: &[f64]) -> usize {
        let lo = w.iter().copied().fold(f64::INFINITY, f64::min);
        let shifted: Vec<f64> = w.iter().map(|x| x - lo + 1e-3).collect();
        let total: f64 = shifted.iter().sum();
        let mut x = self.rng.gen_range(0.0..total);
        for (i, s) in shifted.iter().enumerate() {
            if x < *s {
                return i;
            }
            x -= s;
        }
        w.len() - 1
    }
}

impl Strategy for Evolutionary {
    fn generate(&mut self, ctx: &Context, n: usize) -> Vec<Program> {
        let cfg = self.config.clone();
        // 1. The initial population.
        let n_measured = ((cfg.population as f64 * cfg.init_measured_ratio) as usize).min(ctx.best.len());
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut pop: Vec<Program> = ctx.best.iter().take(n_measured).map(|(p, _)| p.clone()).collect();
        seen.extend(pop.iter().map(|p| p.key.clone()));
        let fresh = fresh_samples(ctx, &mut self.rng, cfg.population - pop.len(), &mut seen);
        // Every unmeasured program met, by key (ordered, for determinism).
        let mut pool: BTreeMap<String, Program> = BTreeMap::new();
        for p in &fresh {
            pool.insert(p.key.clone(), p.clone());
        }
        pop.extend(fresh);
        if pop.is_empty() {
            return vec![];
        }
        // 2. Evolution guided by the cost model.
        for _ in 0..cfg.generations {
            let scores = self.score(ctx, &pop);
            let mut next: Vec<Program> = Vec::new();
            let mut keys = BTreeSet::new();
            let mut attempts = 0;
            // In waves: the parents, whether to mutate and each mutation's
            // seed are drawn in order, the mutations run in parallel, and
            // the children are taken in draw order (the result depends on
            // the seed alone).
            while next.len() < cfg.population && attempts < 4 * cfg.population {
                let wave = (cfg.population - next.len()).min(4 * cfg.population - attempts);
                attempts += wave;
                let draws: Vec<(usize, Option<u64>)> = (0..wave)
                    .map(|_| {
                        let parent = self.roulette(&scores);
                        (parent, self.rng.gen_bool(cfg.mutation_prob).then(|| self.rng.gen()))
                    })
                    .collect();
                let children = par_map(&draws, |&(parent, seed)| match seed {
                    Some(seed) => {
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        mutate(ctx.task, &pop[parent], ctx.isa, ctx.threads, &mut rng)
                    }
                    None => Some(pop[parent].clone()),
                });
                for child in children.into_iter().flatten() {
                    if next.len() >= cfg.population || !keys.insert(child.key.clone()) {
                        continue;
                    }
                    if !ctx.measured.contains(&child.key) {
                        pool.entry(child.key.clone()).or_insert_with(|| child.clone());
                    }
                    next.push(child);
                }
            }
            if next.is_empty() {
                break;
            }
            pop = next;
        }
        // 3. Selection: the best predicted, plus ε random samples.
        let cands: Vec<Program> = pool.into_values().collect();
        let scores = self.score(ctx, &cands);
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
        let n_explore = ((n as f64) * cfg.epsilon).round() as usize;
        let mut out: Vec<Program> = order.iter().take(n.saturating_sub(n_explore)).map(|i| cands[*i].clone()).collect();
        let mut chosen: BTreeSet<String> = out.iter().map(|p| p.key.clone()).collect();
        chosen.extend(ctx.measured.iter().cloned());
        let rest: Vec<usize> = order.iter().skip(out.len()).copied().collect();
        let mut explore: Vec<&Program> = rest.iter().map(|i| &cands[*i]).collect();
        explore.shuffle(&mut self.rng);
        for p in explore {
            if out.len() >= n {
                break;
            }
            if chosen.insert(p.key.clone()) {
                out.push(p.clone());
            }
        }
        out
    }

    fn name(&self) -> &'static str {
        "evolutionary"
    }
}
