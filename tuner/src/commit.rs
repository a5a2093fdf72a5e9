//! Writing the best trace of a task to its kernel's trace file
//! (`<crate>/traces/<kernel>.json`, the format of `kiln_ir::tracefile`).
//!
//! Rules:
//! - only a correct, measured program is written, and only after its trace
//!   replays (strictly) to the very program that was measured;
//! - the entry is for the ISA on the tuning machine's CPU class
//!   (`x86_64-avx2@znver3`); the ISA's generic entry (`x86_64-avx2`, what
//!   CPUs of other classes run) is written too when the file has none yet,
//!   only a hand-written one, or one tuned earlier on this CPU class (a
//!   retuning supersedes it: the code generator or the space may have
//!   changed since); a generic entry tuned on another CPU class stays, and
//!   so does the generic entry when the new trace shares its divisions with
//!   the divider (`kiln.divider`: the most CPU-specific choice a trace makes);
//! - the entries of the other targets are kept;
//! - the entry already there for this ISA (hand-written or tuned) is timed
//!   in the same final round as the winner; a tuned one is kept unless the
//!   winner is faster by more than 2% ([`KEEP_MARGIN`], measurement noise),
//!   and written for the class when it was the ISA's generic entry (the
//!   class had none of its own);
//!   a hand-written one is always replaced by the winner (by itself, with
//!   the provenance, when it is the best found);
//! - a file for another version of the kernel (stale workload) or one that
//!   does not parse is replaced, and the report says so.

use std::path::PathBuf;

use kiln_ir::target::Target;
use kiln_ir::tracefile::{Provenance, TargetEntry, TraceFile};

use crate::error::{Error, Result};
use crate::task::{gflops, Program, Task};

/// A committed entry stays unless the best found is faster by more than
/// this factor: differences below it are measurement noise on a shared
/// machine, and rewriting traces for them would churn the repository.
pub const KEEP_MARGIN: f64 = 1.02;

/// What happened to the trace file.
#[derive(Clone, Debug, PartialEq)]
pub enum Committed {
    /// The new entry was written.
    Written { path: PathBuf, note: Option<String> },
    /// The entry in the file was kept (why).
    Kept(String),
    /// Nothing was written (why).
    NotWritten(String),
}

impl Committed {
    pub fn describe(&self) -> String {
        match self {
            Committed::Written { path, note: None } => format!("wrote {}", path.display()),
            Committed::Written { path, note: Some(n) } => format!("wrote {} ({n})", path.display()),
            Committed::Kept(why) => format!("kept the committed trace ({why})"),
            Committed::NotWritten(why) => format!("not written ({why})"),
        }
    }
}

/// The final round's verdict on one task and ISA.
#[derive(Clone, Debug)]
pub struct Choice<'a> {
    /// The fastest correct program.
    pub winner: &'a Program,
    /// Its latency, µs.
    pub latency: f64,
    /// The committed entry's program and its latency in the same round.
    pub old: Option<(Program, Option<f64>)>,
}

/// How the winner was found (its provenance in the trace file).
#[derive(Clone, Debug)]
pub struct Tuning {
    pub trials: usize,
    pub seed: u64,
    /// The search strategy's name.
    pub strategy: &'static str,
    pub wall_seconds: f64,
}

/// Writes `choice.winner` for `target` unless the committed entry that
/// target runs (`choice.old`, timed in the same final round) is as fast;
/// `work_dir` holds the machine probe recorded in the provenance.
pub fn commit_best(
    task: &Task,
    target: &Target,
    threads: usize,
    choice: Choice,
    tuning: &Tuning,
    work_dir: &std::path::Path,
) -> Result<Committed> {
    let isa = target.isa;
    let Choice { winner, latency, old } = choice;
    if !(latency.is_finite() && latency > 0.0) {
        return Ok(Committed::NotWritten("no correct measured program".into()));
    }
    let trace = winner.trace.clone();
    match task.replay(&trace, isa, threads) {
        Ok(p) if p.key == winner.key => {}
        Ok(_) => return Ok(Committed::NotWritten("the best trace no longer replays to the measured program".into())),
        Err(e) => return Ok(Committed::NotWritten(format!("the best trace no longer replays: {e}"))),
    }
    let path = task.trace_path.clone();
    let (mut file, mut note) = match TraceFile::read(&path) {
        Ok(Some(f)) if f.workload == task.workload && f.kernel == task.name => (f, None),
        Ok(Some(_)) => {
            (TraceFile::new(&task.func), Some("replaced a trace file of another kernel version".to_string()))
        }
        Ok(None) => (TraceFile::new(&task.func), None),
        Err(e) => (TraceFile::new(&task.func), Some(format!("replaced an unreadable file: {}", e.message))),
    };
    if let Some((old, old_us)) = old {
        // A hand-written entry gives way to the tuned best whatever the
        // margin (when it is that best, it is written back as tuned): the
        // tuned entry records the CPU, its peak and the search.
        let hand =
            [target.clone(), target.generic()].iter().find_map(|t| file.entry(t)).is_some_and(|e| e.tuned.is_none());
        // The committed program may be the ISA's generic entry (the class has
        // none of its own): the class gets its entry anyway, so that it can
        // be compared with the class's entries of other ISAs (`isa_choice`).
        let own = target.cpu.is_none() || file.targets.contains_key(&target.key());
        if !own && !hand {
            note = Some(format!("the first entry for {}", target.key()));
        } else if hand {
            let measured = old_us.map_or("—".into(), |u| format!("{u:.2} µs"));
            note = Some(if old.key == winner.key {
                format!("the hand-written entry was the best found ({measured}): written back as tuned")
            } else {
                format!("replaced a hand-written entry that measured {measured}")
            });
        } else if old.key == winner.key {
            return Ok(Committed::Kept("it is still the best program".into()));
        } else if let Some(us) = old_us.filter(|us| *us <= latency * KEEP_MARGIN) {
            return Ok(Committed::Kept(format!(
                "tuned earlier, {us:.2} µs, within {:.0}% of the best found, {latency:.2} µs",
                (KEEP_MARGIN - 1.0) * 100.0
            )));
        }
    }
    let machine = crate::probe::Machine::quick(work_dir);
    let entry = TargetEntry {
        trace,
        latency_us: Some(round3(latency)),
        gflops: Some(round3(gflops(task.flops, latency))),
        tuned: Some(Provenance {
            trials: tuning.trials as u64,
            seed: tuning.seed,
            cpu: crate::machine::cpu_model(),
            date: crate::machine::iso_date(crate::database::now()),
            wall_seconds: Some(round3(tuning.wall_seconds)),
            strategy: Some(tuning.strategy.to_string()),
            cpu_class: Some(machine.cpu_class.clone()).filter(|_| target.cpu.is_some()),
            peak_gflops: machine.peak(isa),
            cache_kib: Some([machine.l1d_bytes / 1024, machine.l2_bytes / 1024, machine.l3_bytes / 1024]),
        }),
        note: (threads > 1).then(|| format!("tuned for {threads} threads")),
    };
    if target.cpu.is_some()
        && !uses_the_divider(&entry.trace)
        && writes_generic(file.entry(&target.generic()), &machine.cpu_class)
    {
        file.targets.insert(target.generic().key(), entry.clone());
    }
    file.targets.insert(target.key(), entry);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    }
    file.write(&path).map_err(Error::io("write", &path))?;
    Ok(Committed::Written { path, note })
}

/// Whether a tuning on CPU class `class` also writes the ISA's generic entry
/// `generic`: when there is none, when it is hand-written, and when it was
/// tuned on this class (entries older than the classes name the CPU model
/// only: then the same model).
fn writes_generic(generic: Option<&TargetEntry>, class: &str) -> bool {
    let Some(p) = generic.and_then(|e| e.tuned.as_ref()) else { return true };
    match p.cpu_class.as_deref() {
        Some(c) => c == class,
        None => p.cpu == crate::machine::cpu_model(),
    }
}

/// Whether `trace` sends divisions to the divider (a lane loop annotated
/// `kiln.divider`, `kiln_ir::codegen::DIVIDER`): such a trace is written for
/// its CPU class only, never as the generic entry, since the divider's speed
/// is what varies most between CPUs (Zen 4 divides 16 lanes in 6 cycles,
/// Intel's 512-bit divider takes 10–16): CPUs of other classes keep the
/// generic entry, or the default schedule (every vector by FMAs).
fn uses_the_divider(trace: &kiln_ir::trace::Trace) -> bool {
    trace.insts.iter().any(|i| {
        i.kind == kiln_ir::trace::InstKind::Annotate
            && i.get("ann_key").and_then(|a| a.as_str()) == Some(kiln_ir::codegen::DIVIDER)
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuned_on(class: Option<&str>, cpu: &str) -> TargetEntry {
        let p = Provenance {
            trials: 64,
            seed: 0,
            cpu: cpu.into(),
            date: String::new(),
            wall_seconds: None,
            strategy: None,
            cpu_class: class.map(Into::into),
            peak_gflops: None,
            cache_kib: None,
        };
        TargetEntry { trace: Default::default(), latency_us: None, gflops: None, tuned: Some(p), note: None }
    }

    #[test]
    fn a_trace_that_uses_the_divider_is_recognised() {
        let with = |ann: &str| {
            let text = format!(
                "b0 = sch.get_block(name=\"norm\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
l3, l4 = sch.split(loop=l2, factors=[None, 32], preserve_unit_iters=True)
sch.vectorize(loop=l4){ann}"
            );
            kiln_ir::trace::parse_trace_str(&text).unwrap()
        };
        assert!(uses_the_divider(&with("\nsch.annotate(block_or_loop=l4, ann_key=\"kiln.divider\", ann_val=2)")));
        assert!(!uses_the_divider(&with("\nsch.annotate(block_or_loop=l4, ann_key=\"other\", ann_val=2)")));
        assert!(!uses_the_divider(&with("")));
    }

    #[test]
    fn the_generic_entry_follows_the_tunings_of_its_own_class_only() {
        let hand = TargetEntry { tuned: None, ..tuned_on(None, "") };
        assert!(writes_generic(None, "znver1"));
        assert!(writes_generic(Some(&hand), "znver1"));
        assert!(writes_generic(Some(&tuned_on(Some("znver1"), "AMD EPYC")), "znver1"));
        assert!(!writes_generic(Some(&tuned_on(Some("sapphirerapids"), "Intel Xeon")), "znver1"));
        let here = crate::machine::cpu_model();
        assert!(writes_generic(Some(&tuned_on(None, &here)), "znver1"));
        assert!(!writes_generic(Some(&tuned_on(None, "some other CPU model")), "znver1"));
    }
}
