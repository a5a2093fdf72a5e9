//! How to tune: the options of [`crate::tune`] and the runner settings the
//! command line derives from its arguments.

use std::path::PathBuf;

use kiln_ir::target::Isa;

use crate::error::{Error, Result};
use crate::runner::RunOptions;
use crate::search::StrategyKind;

/// How to tune.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// The global trial budget, shared evenly by every task and ISA.
    pub trials: usize,
    /// Candidates built and measured per iteration.
    pub per_iter: usize,
    pub isas: Vec<Isa>,
    pub seed: u64,
    pub work_dir: PathBuf,
    /// Parallel compilations.
    pub jobs: usize,
    pub strategy: StrategyKind,
    pub run: RunOptions,
    /// Threads the kernels may use.
    pub threads: usize,
    /// Write the best traces to the kernels' trace files.
    pub write_traces: bool,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// The CPU class the candidates run on (this machine's; `None` when a
    /// `--runner-cmd` measures elsewhere): the trace file gets an entry for
    /// it (`x86_64-avx2@znver3`), and a generic one when there is none yet.
    pub cpu_class: Option<String>,
}

impl TuneOptions {
    /// Defaults for `work_dir`: 64 trials, 16 per iteration, the best ISA of this machine.
    pub fn new(work_dir: impl Into<PathBuf>) -> TuneOptions {
        TuneOptions {
            trials: 64,
            per_iter: 16,
            isas: vec![crate::machine::best_isa()],
            seed: 0,
            work_dir: work_dir.into(),
            jobs: 2,
            strategy: StrategyKind::Evolutionary,
            run: run_options(None),
            threads: 1,
            write_traces: true,
            progress: true,
            cpu_class: Some(kiln::cpu::detected_class().to_string()),
        }
    }
}

/// The runner settings of tuning: samples of at least 100 µs, 9 of them,
/// the runner started through `runner_cmd` (e.g. `"ssh host"`) when given.
pub fn run_options(runner_cmd: Option<&str>) -> RunOptions {
    let runner_cmd = runner_cmd.map(|s| s.split_whitespace().map(String::from).collect()).unwrap_or_default();
    RunOptions { runner_cmd, min_sample_us: 100.0, repeats: 9, ..RunOptions::default() }
}

/// Parses an ISA name (`avx512`, `avx2`, `scalar`).
pub fn parse_isa(s: &str) -> Result<Isa> {
    Isa::from_name(s).ok_or_else(|| Error::UnknownIsa { name: s.into(), choices: "avx512, avx2, scalar" })
}

/// Parses `--isa`: an ISA, `all` (AVX-512 and AVX2), or none (the best this machine runs).
pub fn parse_isas(s: Option<&str>) -> Result<Vec<Isa>> {
    match s {
        None => Ok(vec![crate::machine::best_isa()]),
        Some("all") => Ok(vec![Isa::Avx512, Isa::Avx2]),
        Some(s) => Isa::from_name(s)
            .map(|i| vec![i])
            .ok_or_else(|| Error::UnknownIsa { name: s.into(), choices: "avx512, avx2, scalar, all" }),
    }
}

/// Parses `--strategy`.
pub fn parse_strategy(s: &str) -> Result<StrategyKind> {
    StrategyKind::from_name(s).ok_or_else(|| Error::UnknownStrategy(s.into()))
}
