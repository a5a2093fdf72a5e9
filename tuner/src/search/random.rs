//! Random search, the chapter's `random_search`: every candidate is a fresh
//! sample of the space; the cost model is not consulted.
//!
//! ```python
//! def random_search(mod, num_trials=5):
//!     best_result = None
//!     for i in range(num_trials):
//!         sch = stochastic_schedule_mm(tvm.tir.Schedule(mod))
//!         result = time(sch.mod)
//!         if best_result is None or result < best_result:
//!             best_sch, best_result = sch, result
//!     return best_sch
//! ```

use std::collections::BTreeSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{fresh_samples, Context, Strategy};
use crate::task::Program;

/// Fresh samples only.
pub struct RandomSearch {
    rng: ChaCha8Rng,
}

impl RandomSearch {
    pub fn new(seed: u64) -> RandomSearch {
        RandomSearch { rng: ChaCha8Rng::seed_from_u64(seed) }
    }
}

impl Strategy for RandomSearch {
    fn generate(&mut self, ctx: &Context, n: usize) -> Vec<Program> {
        let mut seen = BTreeSet::new();
        fresh_samples(ctx, &mut self.rng, n, &mut seen)
    }

    fn name(&self) -> &'static str {
        "random"
    }
}
