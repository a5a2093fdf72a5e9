//! The program of a kernel on a target: the one answer to "what does kernel
//! K compile to on target T", used by the `tensor_func!` macro, the tuner
//! (`tune`, `bench`, `show`) and every build script, so that what the tuner
//! times is what `cargo build` emits.
//!
//! The schedule comes from, in order:
//! 1. the kernel's trace file (`<crate>/traces/<kernel>.json`, [`trace_path`]):
//!    its entry for the target's CPU class, else its entry for the ISA — if
//!    the file was tuned for this version of the kernel (the workload hash);
//! 2. the kernel's `schedule { }` section, replayed: recorded decisions are
//!    used, sampling steps without one draw from seed 0, so the result is
//!    deterministic;
//! 3. the default rules ([`crate::space::default_trace_partial`]: a block they
//!    fail on keeps its loops, and the origin says so).
//!
//! Every [`Program`] says where it came from ([`Origin`]) and, when it is not
//! a trace entry, why not ([`NoTrace`]). A trace file for another version of
//! the kernel is not an error (the build warns and uses 2 or 3); a file that
//! cannot be read, is for another kernel, or whose entry does not replay is
//! an error naming the file — never wrong code.
//!
//! ```
//! use kiln_ir::program::Sources;
//! use kiln_ir::target::{Isa, Target};
//! # let func = kiln_ir::schedule::testing::matmul(16, 16, 16);
//! let sources = Sources { func, section: None, trace_path: "traces/matmul.json".into(), file: None };
//! let p = sources.program(&Target::isa(Isa::Avx2)).unwrap();
//! assert_eq!(p.origin.label(), "default schedule (no trace file traces/matmul.json)");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ir::PrimFunc;
use crate::parse::Kernel;
use crate::schedule::{DecisionMode, ReplayError, Schedule};
use crate::space::{default_trace_partial, SpaceError, SpaceOptions};
use crate::target::Target;
use crate::trace::{parse_trace, Trace};
use crate::tracefile::{workload_hash, TraceFile, TraceFileError};

/// The trace file of kernel `kernel` in the crate at `crate_dir`:
/// `<crate_dir>/traces/<kernel>.json`.
pub fn trace_path(crate_dir: &Path, kernel: &str) -> PathBuf {
    crate_dir.join("traces").join(format!("{kernel}.json"))
}

/// Everything that decides a kernel's programs: the kernel, its `schedule { }`
/// section, and its trace file.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The unscheduled kernel.
    pub func: PrimFunc,
    /// The parsed `schedule { }` section, if the kernel has one.
    pub section: Option<Trace>,
    /// Where the kernel's trace file is (or would be).
    pub trace_path: PathBuf,
    /// The trace file, if there is one.
    pub file: Option<TraceFile>,
}

impl Sources {
    /// Reads the trace file at `trace_path` (absent is fine; unreadable or
    /// corrupt is an error naming the file).
    pub fn read(func: PrimFunc, section: Option<Trace>, trace_path: PathBuf) -> Result<Sources, TraceFileError> {
        let file = TraceFile::read(&trace_path)?;
        Ok(Sources { func, section, trace_path, file })
    }

    /// The sources of a parsed kernel of the crate at `crate_dir`: its
    /// section parsed, its trace file read.
    pub fn of_kernel(kernel: &Kernel, crate_dir: &Path) -> Result<Sources, ProgramError> {
        let path = trace_path(crate_dir, &kernel.func.name);
        let file = TraceFile::read(&path)?;
        Ok(Sources { file, trace_path: path, ..Sources::without_file(kernel)? })
    }

    /// The sources of a parsed kernel, its trace file left out (for the
    /// untuned program).
    pub fn without_file(kernel: &Kernel) -> Result<Sources, ProgramError> {
        let section = match &kernel.schedule {
            None => None,
            Some(ts) => Some(parse_trace(ts.clone()).map_err(|e| ProgramError::SectionSyntax(e.message))?.0),
        };
        let trace_path = PathBuf::from(format!("traces/{}.json", kernel.func.name));
        Ok(Sources { func: kernel.func.clone(), section, trace_path, file: None })
    }

    /// The kernel's workload hash (what a trace file must have been tuned for).
    pub fn workload(&self) -> String {
        workload_hash(&self.func)
    }

    /// The trace file, if it is for this version of the kernel: `Ok(None)`
    /// when there is none, `Err` with why it cannot be used (stale).
    pub fn current_file(&self) -> Result<Option<&TraceFile>, NoTrace> {
        let Some(file) = &self.file else { return Ok(None) };
        let workload = self.workload();
        if file.workload != workload {
            return Err(NoTrace::Stale { file_workload: file.workload.clone(), workload });
        }
        Ok(Some(file))
    }

    /// The trace entry the target would use, with its key, or why there is none.
    pub fn entry(&self, target: &Target) -> Result<(String, &crate::tracefile::TargetEntry), NoTrace> {
        let path = self.trace_path.display().to_string();
        let file = self.current_file()?.ok_or(NoTrace::NoFile { path })?;
        let keys = [target.key(), target.generic().key()];
        keys.iter()
            .find_map(|k| file.targets.get(k).map(|e| (k.clone(), e)))
            .ok_or_else(|| NoTrace::NoEntry { key: target.generic().key() })
    }

    /// The program of the kernel on `target` (see the module doc).
    pub fn program(&self, target: &Target) -> Result<Program, ProgramError> {
        if let Some(file) = &self.file {
            if file.kernel != self.func.name {
                return Err(ProgramError::File(TraceFileError {
                    path: self.trace_path.clone(),
                    message: format!("is for kernel `{}`, not `{}`", file.kernel, self.func.name),
                }));
            }
        }
        let why = match self.entry(target) {
            Ok((key, entry)) => {
                let sch = Schedule::replay(&self.func, &entry.trace, 0, DecisionMode::Strict)
                    .map_err(|error| ProgramError::Replay { path: self.trace_path.clone(), key: key.clone(), error })?;
                let (func, trace) = sch.into_parts();
                return symbolic(Program { func, trace, origin: Origin::Trace { path: self.trace_path.clone(), key } });
            }
            Err(why) => why,
        };
        self.fallback(target, 1, why)
    }

    /// The program without the trace file: the `schedule { }` section, else
    /// the default rules for code using `threads` threads (what the kernel
    /// compiles to before it is tuned, with `threads == 1`).
    pub fn untuned(&self, target: &Target, threads: usize) -> Result<Program, ProgramError> {
        self.fallback(target, threads, NoTrace::Ignored)
    }

    fn fallback(&self, target: &Target, threads: usize, why: NoTrace) -> Result<Program, ProgramError> {
        if let Some(section) = &self.section {
            let sch = Schedule::replay(&self.func, section, 0, DecisionMode::Strict).map_err(ProgramError::Section)?;
            let (func, trace) = sch.into_parts();
            return symbolic(Program { func, trace, origin: Origin::Section { why } });
        }
        // A block the rules fail on (a gap of the rules: the tests treat it
        // as a bug) keeps its loops; the other blocks are still scheduled.
        let (sch, failed) = default_trace_partial(&self.func, &SpaceOptions::threads(target.isa, threads));
        let (func, trace) = sch.into_parts();
        let origin = if failed.is_empty() { Origin::Default { why } } else { Origin::Partial { why, failed } };
        symbolic(Program { func, trace, origin })
    }
}

/// `p`, if its symbolic dimensions can be made to work for every value
/// (`codegen::symbolic`); a kernel without them always can.
fn symbolic(p: Program) -> Result<Program, ProgramError> {
    if p.func.dims.is_empty() {
        return Ok(p);
    }
    match crate::codegen::lower::lower_checked(&p.func) {
        Ok(_) => Ok(p),
        Err(message) => Err(ProgramError::Symbolic { origin: p.origin.label(), message }),
    }
}

/// A kernel's program on a target: the scheduled function and the trace that
/// produced it.
#[derive(Clone, Debug)]
pub struct Program {
    pub func: PrimFunc,
    pub trace: Trace,
    pub origin: Origin,
}

/// Where a program's schedule came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// The trace file's entry `key`.
    Trace { path: PathBuf, key: String },
    /// The kernel's `schedule { }` section (no usable trace: `why`).
    Section { why: NoTrace },
    /// The default rules (no usable trace: `why`).
    Default { why: NoTrace },
    /// The default rules, which failed on some blocks (a gap of the rules):
    /// those keep their loops, with why.
    Partial { why: NoTrace, failed: Vec<(String, SpaceError)> },
}

impl Origin {
    /// Whether the program is a committed trace entry.
    pub fn is_trace(&self) -> bool {
        matches!(self, Origin::Trace { .. })
    }

    /// Why the trace file was not used, if it was not.
    pub fn why_not_trace(&self) -> Option<&NoTrace> {
        match self {
            Origin::Trace { .. } => None,
            Origin::Section { why } | Origin::Default { why } | Origin::Partial { why, .. } => Some(why),
        }
    }

    /// A one-line description: `trace file traces/mm.json (x86_64-avx2)`,
    /// `default schedule (traces/mm.json has no x86_64-avx2 entry)`.
    pub fn label(&self) -> String {
        match self {
            Origin::Trace { path, key } => format!("trace file {} ({key})", path.display()),
            Origin::Section { why } => format!("schedule section ({why})"),
            Origin::Default { why } => format!("default schedule ({why})"),
            Origin::Partial { why, failed } => {
                let blocks: Vec<String> = failed.iter().map(|(b, e)| format!("`{b}`: {e}")).collect();
                format!(
                    "default schedule, but for the blocks its rules fail on, left unscheduled ({}) ({why})",
                    blocks.join("; ")
                )
            }
        }
    }
}

/// Why a program is not a trace entry.
#[derive(Clone, Debug, PartialEq)]
pub enum NoTrace {
    /// There is no trace file.
    NoFile { path: String },
    /// The trace file has no entry for the ISA (nor for the CPU class).
    NoEntry { key: String },
    /// The trace file was tuned for another version of the kernel.
    Stale { file_workload: String, workload: String },
    /// The trace file was not consulted (the untuned program was asked for).
    Ignored,
}

impl fmt::Display for NoTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoTrace::NoFile { path } => write!(f, "no trace file {path}"),
            NoTrace::NoEntry { key } => write!(f, "the trace file has no {key} entry"),
            NoTrace::Stale { file_workload, workload } => {
                write!(f, "the trace file is stale: tuned for workload {file_workload}, the kernel is now {workload}")
            }
            NoTrace::Ignored => write!(f, "trace file not consulted"),
        }
    }
}

/// Why a kernel has no program on a target: never wrong code, always a
/// message naming the file or the step.
#[derive(Clone, Debug, PartialEq)]
pub enum ProgramError {
    /// The trace file cannot be read or parsed, or is for another kernel.
    File(TraceFileError),
    /// The trace file's entry `key` does not replay on the kernel.
    Replay { path: PathBuf, key: String, error: ReplayError },
    /// The `schedule { }` section does not parse.
    SectionSyntax(String),
    /// The `schedule { }` section does not replay.
    Section(ReplayError),
    /// The schedule (from `origin`) cannot run at every value of the
    /// kernel's symbolic dimensions (`codegen::symbolic`).
    Symbolic { origin: String, message: String },
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramError::File(e) => write!(f, "{e}"),
            ProgramError::Replay { path, key, error } => {
                write!(f, "trace file {}: the {key} trace: {error}", path.display())
            }
            ProgramError::SectionSyntax(e) => write!(f, "schedule: {e}"),
            ProgramError::Section(e) => write!(f, "schedule: {e}"),
            ProgramError::Symbolic { origin, message } => {
                write!(f, "the {origin} does not work for every value of the symbolic dimensions: {message}")
            }
        }
    }
}

impl std::error::Error for ProgramError {}

impl From<TraceFileError> for ProgramError {
    fn from(e: TraceFileError) -> ProgramError {
        ProgramError::File(e)
    }
}
