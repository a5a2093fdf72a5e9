//! Tuning tasks: one kernel, its design space, and the programs of that space.
//!
//! A task's space is the kernel's own `schedule { }` section when it has one
//! (a trace whose sampling steps carry no decisions: replayed with
//! [`DecisionMode::Resample`], as the chapter's `stochastic_schedule_mm`), or
//! the default rules of `kiln_ir::space`. Either way a point of the space is
//! a trace with every decision filled in, and replaying it with
//! [`DecisionMode::Strict`] gives the same program. Programs are identified
//! by a structural key: a hash of the printed scheduled IR, the ISA and the
//! thread count, so two traces that schedule to the same code are one
//! program.

use std::path::PathBuf;

use kiln_ir::ir::{func_to_string, PrimFunc};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::space::{self, check_program, SpaceError, SpaceOptions};
use kiln_ir::target::Isa;
use kiln_ir::trace::{parse_trace, Trace};
use kiln_ir::tracefile::workload_hash;

use crate::discover::Found;

/// Where a task's candidates come from.
#[derive(Clone, Debug)]
pub enum Space {
    /// The default rules (`kiln_ir::space::sample`).
    Rules,
    /// A custom space: the kernel's `schedule { }` trace, resampled.
    Custom(Trace),
}

/// One kernel to tune.
#[derive(Clone, Debug)]
pub struct Task {
    pub name: String,
    pub crate_name: String,
    /// Where the kernel's trace file goes: `<crate>/traces/<kernel>.json`.
    pub trace_path: PathBuf,
    pub func: PrimFunc,
    pub space: Space,
    pub workload: String,
    pub flops: u64,
}

/// A program of a task's space: a trace with all its decisions and the
/// scheduled function it gives.
#[derive(Clone, Debug)]
pub struct Program {
    pub trace: Trace,
    pub func: PrimFunc,
    pub key: String,
}

/// FNV-1a 64 of a string.
pub fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The structural key of a scheduled function for an ISA and thread count.
pub fn program_key(func: &PrimFunc, isa: Isa, threads: usize) -> String {
    let text = func_to_string(func);
    // Two independent 64-bit hashes: collisions are not a practical concern.
    let h2 = fnv64(&format!("{}\u{0}{text}", text.len()));
    format!("{:016x}{:016x}-{}-t{}", fnv64(&text), h2, isa.name(), threads)
}

impl Task {
    /// A task for a discovered kernel.
    pub fn from_found(f: &Found) -> Result<Task, String> {
        let trace_path = f.crate_dir.join("traces").join(format!("{}.json", f.kernel.func.name));
        Task::new(&f.kernel.func, f.kernel.schedule.as_ref(), &f.crate_name, trace_path)
    }

    /// A task for `func` with an optional `schedule { }` section.
    pub fn new(
        func: &PrimFunc,
        schedule: Option<&proc_macro2::TokenStream>,
        crate_name: &str,
        trace_path: PathBuf,
    ) -> Result<Task, String> {
        let space = match schedule {
            None => Space::Rules,
            Some(ts) => {
                let (t, _) = parse_trace(ts.clone()).map_err(|e| format!("schedule section: {}", e.message))?;
                Space::Custom(t)
            }
        };
        Ok(Task::with_space(func, space, crate_name, trace_path))
    }

    /// A task for `func` with a given space. A custom space's decisions are
    /// dropped: e.g. the trace of one run of the chapter's
    /// `stochastic_schedule_mm` stands for the whole space it samples.
    pub fn with_space(func: &PrimFunc, space: Space, crate_name: &str, trace_path: PathBuf) -> Task {
        let space = match space {
            Space::Rules => Space::Rules,
            Space::Custom(t) => Space::Custom(t.without_decisions()),
        };
        Task {
            name: func.name.clone(),
            crate_name: crate_name.to_string(),
            trace_path,
            func: func.clone(),
            space,
            workload: workload_hash(func),
            flops: kiln_ir::ir::flops(func),
        }
    }

    fn program(&self, sch: Schedule, isa: Isa, threads: usize) -> Program {
        let (func, trace) = sch.into_parts();
        let key = program_key(&func, isa, threads);
        Program { trace, func, key }
    }

    /// Samples a fresh point of the space. Samples the rules reject (e.g. a
    /// register tile that would spill) are errors.
    pub fn sample(&self, isa: Isa, threads: usize, seed: u64) -> Result<Program, SpaceError> {
        let sch = match &self.space {
            Space::Rules => space::sample(&self.func, &SpaceOptions { isa, threads }, seed)?,
            Space::Custom(t) => space::sample_trace(&self.func, t, seed)?,
        };
        let p = self.program(sch, isa, threads);
        check_program(&p.func, isa)?;
        Ok(p)
    }

    /// The default schedule: what the kernel compiles to without a trace
    /// (for a custom space, the macro's replay of the section with seed 0).
    pub fn default_program(&self, isa: Isa, threads: usize) -> Result<Program, String> {
        let sch = match &self.space {
            Space::Rules => {
                let mut sch = Schedule::new(self.func.clone(), 0);
                space::apply_rules(&mut sch, &SpaceOptions { isa, threads }, space::Mode::Default)
                    .map_err(|e| format!("the default rules fail on `{}`: {e}", self.name))?;
                sch
            }
            Space::Custom(t) => Schedule::replay(&self.func, t, 0, DecisionMode::Resample)
                .map_err(|(n, e)| format!("schedule step {} fails: {e}", n + 1))?,
        };
        Ok(self.program(sch, isa, threads))
    }

    /// Replays a complete trace (every decision given); an invalid one is an error.
    pub fn replay(&self, trace: &Trace, isa: Isa, threads: usize) -> Result<Program, String> {
        let sch = Schedule::replay(&self.func, trace, 0, DecisionMode::Strict)
            .map_err(|(n, e)| format!("step {} fails: {e}", n + 1))?;
        Ok(self.program(sch, isa, threads))
    }

    /// The unscheduled function as a program (the naive loop nest).
    pub fn naive_program(&self, isa: Isa) -> Program {
        Program { trace: Trace::default(), func: self.func.clone(), key: program_key(&self.func, isa, 1) }
    }
}
