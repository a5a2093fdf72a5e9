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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;

    fn programs() -> (Task, Vec<Program>) {
        let task = Task::with_section(&kiln_ir::schedule::testing::matmul(32, 32, 32), None, "t", "t.json".into());
        let mut progs: Vec<Program> = Vec::new();
        for seed in 0..100 {
            match task.sample(Isa::Avx2, 1, seed) {
                Ok(p) if progs.len() < 6 && progs.iter().all(|q| q.key != p.key) => progs.push(p),
                _ => {}
            }
        }
        (task, progs)
    }

    /// `(role, latency)` of a sequence of measurements: a baseline, failures, ties.
    const SEQ: [(Role, Option<f64>); 6] = [
        (Role::Default, Some(4.0)),
        (Role::Search, Some(2.0)),
        (Role::Search, None),
        (Role::Search, Some(2.0)),
        (Role::Search, Some(1.0)),
        (Role::Committed, None),
    ];

    fn observe_all(progs: &[Program], new: bool, model: &mut CostModel) -> TuningState {
        let mut s = TuningState::new("g".into(), Isa::Avx2, 1000);
        for (p, (role, latency_us)) in progs.iter().zip(SEQ) {
            let counted = s.observe(Observation { key: &p.key, program: Some(p), role, latency_us, new }, model);
            assert_eq!(counted, role == Role::Search);
        }
        s
    }

    #[test]
    fn resumed_and_new_measurements_give_the_same_state() {
        let (_, progs) = programs();
        assert_eq!(progs.len(), SEQ.len());
        let (mut m1, mut m2) = (CostModel::new(1), CostModel::new(1));
        let resumed = observe_all(&progs, false, &mut m1);
        let measured = observe_all(&progs, true, &mut m2);
        assert_eq!(m1.dataset(), m2.dataset());
        assert_eq!(m1.len(), SEQ.len(), "failures are training rows too");
        for s in [&resumed, &measured] {
            assert_eq!((s.trials, s.failed), (4, 1));
            assert_eq!(s.curve, [(1, 0.5), (2, 0.5), (3, 0.5), (4, 1.0)]);
            assert_eq!(s.measured().len(), SEQ.len());
            // Best first; the two at 2 µs in the order observed.
            let keys: Vec<&str> = s.best().iter().map(|(p, _)| p.key.as_str()).collect();
            assert_eq!(keys, [&progs[4].key, &progs[1].key, &progs[3].key, &progs[0].key]);
        }
        assert_eq!((resumed.new_trials, measured.new_trials), (0, 4));
    }

    #[test]
    fn a_record_that_no_longer_replays_counts_but_trains_nothing() {
        let mut model = CostModel::new(1);
        let mut s = TuningState::new("g".into(), Isa::Avx2, 1000);
        let obs = Observation { key: "gone", program: None, role: Role::Search, latency_us: Some(1.0), new: false };
        assert!(s.observe(obs, &mut model));
        assert!(s.is_measured("gone") && s.best().is_empty() && model.is_empty());
        assert_eq!((s.trials, s.failed, s.curve.as_slice()), (1, 0, [(1, 1.0)].as_slice()));
    }
}
