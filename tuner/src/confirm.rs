//! The final round of a task: the finalists — the best measured programs,
//! the default schedule and the committed trace — timed again side by side,
//! in one executable, in interleaved rounds (each round one sample of every
//! finalist, as `tuner bench` times its variants), in [`PROCESSES`] runner
//! processes one after the other.
//!
//! Measurements taken minutes apart on a shared machine drift (other jobs,
//! clock boost); timing the finalists together makes the reported speed-up
//! over the default, and the choice between the tuned and the committed
//! trace, a comparison under the same conditions. (Timed one after the other,
//! each with its samples back to back, they were not: on a VM whose memory
//! speed swings between two states, a retuning of rmsnorm reported 1.21× over
//! its default and replaced the committed trace with one that `try_traces`
//! then timed equal to both.) These timings are not
//! records: the database keeps each program's first measurement, and the
//! search never measures a known program again.

use std::collections::BTreeMap;

use kiln_ir::target::Isa;

use crate::builder::{build_parallel, Candidate, Toolchain};
use crate::runner::{run_rounds, RunOptions};
use crate::task::Program;

/// How many of the best measured programs enter the final round.
pub const FINALISTS: usize = 3;

/// Times `progs` side by side; returns the mean of the per-process medians in
/// µs by program key (for the programs that built and ran correctly in every
/// process).
pub fn time_together(
    tc: &Toolchain,
    func: &kiln_ir::ir::PrimFunc,
    progs: &[Program],
    isa: Isa,
    data: &std::path::Path,
    run: &RunOptions,
    name: &str,
) -> BTreeMap<String, f64> {
    let progs: Vec<(&Program, Isa)> = progs.iter().map(|p| (p, isa)).collect();
    time_together_isas(tc, func, &progs, data, run, name)
}

/// [`time_together`] for programs of several ISAs (each built for its own).
pub fn time_together_isas(
    tc: &Toolchain,
    func: &kiln_ir::ir::PrimFunc,
    progs: &[(&Program, Isa)],
    data: &std::path::Path,
    run: &RunOptions,
    name: &str,
) -> BTreeMap<String, f64> {
    let mut uniq: Vec<(&Program, Isa)> = Vec::new();
    for (p, isa) in progs {
        if !uniq.iter().any(|(q, _)| q.key == p.key) {
            uniq.push((p, *isa));
        }
    }
    let cands: Vec<Candidate> = uniq.iter().map(|(p, isa)| Candidate::new(p.func.clone(), *isa)).collect();
    let mut out = BTreeMap::new();
    if cands.is_empty() {
        return out;
    }
    let built = build_parallel(tc, func, &cands, name, 1).remove(0);
    let ids: Vec<usize> = (0..built.included.len()).collect();
    let rounds = ((run.repeats.max(7) * 2 + 1) / PROCESSES).max(MIN_ROUNDS);
    let processes: Vec<Vec<(usize, Option<f64>)>> = (0..PROCESSES)
        .map(|_| {
            run_rounds(&built.exe, data, &ids, run, rounds).into_iter().map(|(id, o, _)| (id, o.latency_us())).collect()
        })
        .collect();
    for (id, us) in combine(&processes) {
        out.insert(uniq[built.included[id]].0.key.clone(), us);
    }
    out
}

/// Each program's time from its median in every process (by id): the mean
/// of its per-process medians, for the programs that ran correctly in every
/// process (one that failed or is missing in any is left out).
fn combine(processes: &[Vec<(usize, Option<f64>)>]) -> BTreeMap<usize, f64> {
    let mut medians: BTreeMap<usize, Vec<Option<f64>>> = BTreeMap::new();
    for p in processes {
        for (id, us) in p {
            medians.entry(*id).or_default().push(*us);
        }
    }
    medians
        .into_iter()
        .filter(|(_, m)| m.len() == processes.len())
        .filter_map(|(id, m)| m.into_iter().collect::<Option<Vec<f64>>>().map(|m| (id, process_mean(&m))))
        .collect()
}

/// The runner processes the finalists are timed in, one after the other.
/// Some programs run at one of two speeds depending on the process (on Zen 4,
/// family 25 model 17, `gelu_fast` with 4 vectors in lockstep: 86.5 µs in one
/// `tuner bench` process, 103.8 and 112.3 in two others, while 2 vectors took
/// 90.4–95.3 in all three); timed in one process, such a program wins when
/// that process is a fast one. Each process times every finalist in the same
/// interleaved rounds, and a program's time is the mean of its per-process
/// medians: its expected time in a process of the user's. (Two processes:
/// a third added 0.6 s to a tuning of `matmul512`, whose budget is 20 s.)
pub const PROCESSES: usize = 2;

/// The fewest interleaved rounds per process.
const MIN_ROUNDS: usize = 7;

/// A program's time from its per-process medians (see [`PROCESSES`]).
fn process_mean(medians: &[f64]) -> f64 {
    medians.iter().sum::<f64>() / medians.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_fast_in_one_process_only_loses_to_a_steady_one() {
        // gelu_fast on Zen 4: 4 vectors (id 0) bimodal, 2 vectors (id 1) steady.
        let first = vec![(0, Some(86.5)), (1, Some(90.4))];
        let second = vec![(0, Some(103.8)), (1, Some(90.7))];
        let one = combine(std::slice::from_ref(&first));
        assert!(one[&0] < one[&1], "timed in one process, the bimodal program wins");
        let both = combine(&[first, second]);
        assert!(both[&1] < both[&0]);
        assert!((both[&0] - 95.15).abs() < 1e-9);
    }

    #[test]
    fn a_program_that_fails_or_is_missing_in_a_process_is_left_out() {
        let first = vec![(0, Some(10.0)), (1, Some(11.0)), (2, Some(12.0))];
        let second = vec![(0, Some(10.0)), (1, None)];
        let got = combine(&[first, second]);
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![0]);
    }
}
