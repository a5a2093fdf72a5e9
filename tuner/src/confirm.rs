//! The final round of a task: the finalists — the best measured programs,
//! the default schedule and the committed trace — timed again side by side,
//! in one executable and one runner process, in interleaved rounds (each
//! round one sample of every finalist, as `tuner bench` times its variants).
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

/// Times `progs` side by side; returns the median µs by program key (for
/// the programs that built and ran correctly).
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
    for (id, o, _) in run_rounds(&built.exe, data, &ids, run, run.repeats.max(7) * 2 + 1) {
        if let Some(us) = o.latency_us() {
            out.insert(uniq[built.included[id]].0.key.clone(), us);
        }
    }
    out
}
