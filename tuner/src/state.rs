//! The tuning state of one task on one ISA and thread count: what has been
//! measured, the best correct programs, the trial counts and the tuning
//! curve (MetaSchedule's measure callbacks, folded into one step).
//!
//! Every measured program goes through [`TuningState::observe`], whether it
//! comes from the database (a rerun resumes: what is known counts towards
//! the budget, seeds the search and is never measured again) or from the
//! runner (a new measurement, already appended to the database). The same
//! step also gives the cost model its training row, so a resumed run and an
//! uninterrupted one know the same things.

use std::collections::BTreeSet;

use kiln_ir::target::Isa;

use crate::cost_model::CostModel;
use crate::database::Role;
use crate::features;
use crate::task::{gflops, Program};

/// One measured program.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The program's structural key.
    pub key: &'a str,
    /// The program, or `None` for a database record whose trace no longer
    /// replays (it still counts as measured, not as a training row).
    pub program: Option<&'a Program>,
    pub role: Role,
    /// The median latency of a correct program, `None` for a failure.
    pub latency_us: Option<f64>,
    /// Measured by this run (not read back from the database).
    pub new: bool,
}

/// What is known about one task × ISA × thread count.
#[derive(Clone, Debug)]
pub struct TuningState {
    /// The cost model's group of the task (`<workload>/<target>/t<threads>`).
    pub group: String,
    isa: Isa,
    flops: u64,
    measured: BTreeSet<String>,
    best: Vec<(Program, f64)>,
    best_gflops: f64,
    /// Search trials observed (from the database and new).
    pub trials: usize,
    /// Search trials measured by this run.
    pub new_trials: usize,
    /// Search trials that failed (build, check, crash, timeout).
    pub failed: usize,
    /// `(trial, best GFLOP/s so far)` after every search trial.
    pub curve: Vec<(usize, f64)>,
}

impl TuningState {
    /// Nothing known yet about the task of `flops` FLOP in cost-model group `group`.
    pub fn new(group: String, isa: Isa, flops: u64) -> TuningState {
        TuningState {
            group,
            isa,
            flops,
            measured: BTreeSet::new(),
            best: Vec::new(),
            best_gflops: 0.0,
            trials: 0,
            new_trials: 0,
            failed: 0,
            curve: Vec::new(),
        }
    }

    /// Takes one measured program into account: it is never proposed again,
    /// it is a training row of `model` (throughput 0 when it failed), a
    /// correct one joins the best list, and a search trial counts towards
    /// the budget and the curve. Returns whether it was a search trial.
    pub fn observe(&mut self, obs: Observation, model: &mut CostModel) -> bool {
        self.measured.insert(obs.key.to_string());
        let g = obs.latency_us.map(|us| gflops(self.flops, us));
        if let Some(p) = obs.program {
            model.add(&self.group, features::extract(&p.func, self.isa), g.unwrap_or(0.0));
            if let Some(g) = g {
                // Best first; equals in the order observed.
                let at = self.best.partition_point(|(_, b)| b.total_cmp(&g).is_ge());
                self.best.insert(at, (p.clone(), g));
            }
        }
        if obs.role != Role::Search {
            return false;
        }
        self.trials += 1;
        self.new_trials += usize::from(obs.new);
        self.failed += usize::from(g.is_none());
        self.best_gflops = self.best_gflops.max(g.unwrap_or(0.0));
        self.curve.push((self.trials, self.best_gflops));
        true
    }

    /// Keys of every program measured (or found not to build).
    pub fn measured(&self) -> &BTreeSet<String> {
        &self.measured
    }

    /// Whether the program with `key` has been measured.
    pub fn is_measured(&self, key: &str) -> bool {
        self.measured.contains(key)
    }

    /// The correct programs measured, with their GFLOP/s, best first.
    pub fn best(&self) -> &[(Program, f64)] {
        &self.best
    }
}
