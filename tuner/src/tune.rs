//! The tuning loop (MetaSchedule's `tune_tasks`, ahead of time).
//!
//! For every task and ISA: resume from the database (measured programs count
//! towards the budget, seed the search and are never measured again), measure
//! the baselines (default schedule, committed trace) once, then iterate —
//! the strategy proposes up to `per_iter` new programs, the builder compiles
//! them in `jobs` parallel crates, the runner checks and times them, every
//! outcome is appended to the database as soon as it is known, the cost model
//! retrains — until the task's share of the trial budget is spent. The best
//! correct program is then written to the kernel's trace file (`commit.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::Isa;
use kiln_ir::trace::Trace;

use crate::builder::{build_parallel, prepare, Candidate, Toolchain};
use crate::commit::{commit_best, Committed};
use crate::cost_model::CostModel;
use crate::database::{self, Database, Record, Role};
use crate::features;
use crate::runner::{run_batch_each, write_data, Outcome, RunOptions};
use crate::search::{Context, StrategyKind};
use crate::task::{Program, Space, Task};

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
            run: RunOptions { min_sample_us: 100.0, repeats: 9, ..RunOptions::default() },
            threads: 1,
            write_traces: true,
            progress: true,
        }
    }
}

/// What tuning one task for one ISA gave.
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub kernel: String,
    pub isa: Isa,
    pub flops: u64,
    pub default_us: Option<f64>,
    pub best_us: Option<f64>,
    pub best_trace: Option<Trace>,
    /// Search trials in the database (this run's and earlier ones').
    pub trials: usize,
    /// Trials measured by this run.
    pub new_trials: usize,
    /// Trials that failed (build, check, crash, timeout).
    pub failed: usize,
    pub wall_seconds: f64,
    /// `(trial, best GFLOP/s so far)` after every measured search trial.
    pub curve: Vec<(usize, f64)>,
    /// What happened to the trace file.
    pub committed: Committed,
    pub notes: Vec<String>,
}

impl TaskReport {
    pub fn gflops(&self) -> Option<f64> {
        self.best_us.map(|us| self.flops as f64 / us / 1e3)
    }

    pub fn speedup(&self) -> Option<f64> {
        Some(self.default_us? / self.best_us?)
    }
}

struct Pending {
    prog: Program,
    role: Role,
}

fn verbose() -> bool {
    std::env::var("KILN_TUNE_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn gflops(flops: u64, us: f64) -> f64 {
    flops as f64 / us / 1e3
}

/// Tunes `tasks` for every ISA of `opts`.
pub fn tune(tasks: &[Task], opts: &TuneOptions) -> Result<Vec<TaskReport>, String> {
    let _lock = database::lock(&opts.work_dir)?;
    let mut db = Database::open(&opts.work_dir)?;
    if db.skipped > 0 {
        eprintln!("note: skipped {} unreadable line(s) of the database (a torn last write)", db.skipped);
    }
    let isas: Vec<Isa> = opts
        .isas
        .iter()
        .copied()
        .filter(|isa| {
            let ok = !opts.run.runner_cmd.is_empty() || crate::machine::supports(*isa);
            if !ok {
                eprintln!(
                    "note: this machine cannot run {} code: not tuning for {} (measure it on a machine that can, \
                     e.g. with --runner-cmd \"ssh HOST\")",
                    isa.name(),
                    isa.target_key()
                );
            }
            ok
        })
        .collect();
    let jobs: Vec<(&Task, Isa)> = tasks.iter().flat_map(|t| isas.iter().map(move |i| (t, *i))).collect();
    if jobs.is_empty() {
        return Ok(vec![]);
    }
    let tc = prepare(&opts.work_dir)?;
    let share = |k: usize| opts.trials / jobs.len() + usize::from(k < opts.trials % jobs.len());
    let bar = if opts.progress { ProgressBar::new(opts.trials as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut model = CostModel::default();
    let mut reports = Vec::new();
    for (k, (task, isa)) in jobs.iter().enumerate() {
        // A task that cannot be tuned (its kernel's rules fail, its data
        // cannot be written...) is reported and the others go on.
        match tune_one(task, *isa, share(k), opts, &tc, &mut db, &mut model, &bar) {
            Ok(r) => reports.push(r),
            Err(e) => bar.suspend(|| eprintln!("error: tuning `{}` for {}: {e}", task.name, isa.name())),
        }
    }
    bar.finish_and_clear();
    Ok(reports)
}

/// Tunes one task for one ISA with a budget of `budget` search trials.
#[allow(clippy::too_many_arguments)]
fn tune_one(
    task: &Task,
    isa: Isa,
    budget: usize,
    opts: &TuneOptions,
    tc: &Toolchain,
    db: &mut Database,
    model: &mut CostModel,
    bar: &ProgressBar,
) -> Result<TaskReport, String> {
    let start = Instant::now();
    let threads = opts.threads;
    let wl = db.add_workload(&task.func)?;
    let target = isa.target_key().to_string();
    let group = format!("{}/{}/t{}", wl, target, threads);
    let mut report = TaskReport {
        kernel: task.name.clone(),
        isa,
        flops: task.flops,
        default_us: None,
        best_us: None,
        best_trace: None,
        trials: 0,
        new_trials: 0,
        failed: 0,
        wall_seconds: 0.0,
        curve: vec![],
        committed: Committed::NotWritten("not tuned".into()),
        notes: vec![],
    };
    // Resume: what is known about this task already.
    let mut measured: BTreeSet<String> = BTreeSet::new();
    let mut best: Vec<(Program, f64)> = Vec::new();
    let mut best_so_far = 0.0f64;
    let known: Vec<Record> = db.records(&wl, &target, threads).cloned().collect();
    for r in &known {
        measured.insert(r.key.clone());
        let prog = r.trace().and_then(|t| task.replay(&t, isa, threads).ok());
        let g = r.median_us.filter(|_| r.is_ok()).map(|us| gflops(task.flops, us));
        if let Some(p) = &prog {
            model.add(&group, features::extract(&p.func, isa), g.unwrap_or(0.0));
        }
        if let (Some(p), Some(g)) = (prog, g) {
            best.push((p, g));
        }
        if r.role == Role::Search {
            report.trials += 1;
            report.failed += usize::from(!r.is_ok());
            best_so_far = best_so_far.max(g.unwrap_or(0.0));
            report.curve.push((report.trials, best_so_far));
        }
    }
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    model.train();
    bar.inc(report.trials.min(budget) as u64);
    // The baselines, measured once.
    let data = opts.work_dir.join("data").join(wl.replace(':', "-"));
    if !data.join("meta.txt").exists() {
        write_data(&task.func, &data, 7)?;
    }
    let mut baselines = Vec::new();
    let default = task.default_program(isa, threads).map_err(|e| e.to_string())?;
    if !measured.contains(&default.key) {
        baselines.push(Pending { prog: default.clone(), role: Role::Default });
    }
    if let Ok(c) = task.committed_program(isa, threads) {
        if !measured.contains(&c.key) && c.key != default.key {
            baselines.push(Pending { prog: c, role: Role::Committed });
        }
    }
    let seed = opts.seed ^ kiln_ir::tracefile::fnv1a64(&group);
    let mut strategy = opts.strategy.build(seed);
    let mut iter = 0;
    let mut unsupported = None;
    while report.trials < budget || !baselines.is_empty() {
        let t_gen = Instant::now();
        let n = opts.per_iter.min(budget.saturating_sub(report.trials));
        let cands = if n > 0 {
            // The baselines of this batch count as measured: a search trial
            // that would repeat one is wasted.
            let pending: BTreeSet<String>;
            let measured = if baselines.is_empty() {
                &measured
            } else {
                pending = measured.iter().cloned().chain(baselines.iter().map(|p| p.prog.key.clone())).collect();
                &pending
            };
            let ctx = Context { task, isa, threads, measured, best: &best, model };
            strategy.generate(&ctx, n)
        } else {
            vec![]
        };
        let exhausted = cands.is_empty();
        let mut batch: Vec<Pending> = std::mem::take(&mut baselines);
        batch.extend(cands.into_iter().map(|prog| Pending { prog, role: Role::Search }));
        if batch.is_empty() {
            report.notes.push(format!("the space seems exhausted after {} trials", report.trials));
            break;
        }
        bar.set_message(format!("{} {} iteration {}", task.name, isa.name(), iter + 1));
        let cs: Vec<Candidate> = batch.iter().map(|p| Candidate::new(p.prog.func.clone(), isa)).collect();
        let name = format!("{}-{}", task.name, isa.name());
        let gen_s = t_gen.elapsed().as_secs_f64();
        let t_build = Instant::now();
        let built = build_parallel(tc, &task.func, &cs, &name, opts.jobs);
        let build_s = t_build.elapsed().as_secs_f64();
        let t_run = Instant::now();
        let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
        for b in &built {
            for (i, msg) in &b.failed {
                outcomes.push((*i, Outcome::BuildFailed(msg.clone())));
            }
        }
        for b in built.iter().filter(|b| !b.included.is_empty()) {
            let ids: Vec<usize> = (0..b.included.len()).collect();
            let mut got = Vec::new();
            run_batch_each(&b.exe, &data, &ids, &opts.run, &mut |id, o| got.push((b.included[id], o.clone())));
            if got.len() < ids.len() {
                report
                    .notes
                    .push(format!("the runner failed on {} candidate(s) (not recorded)", ids.len() - got.len()));
            }
            outcomes.extend(got);
        }
        outcomes.sort_by_key(|(i, _)| *i);
        if verbose() {
            bar.suspend(|| {
                eprintln!(
                    "[{} {}] iteration {}: {} candidates, generate {gen_s:.2} s, build {build_s:.2} s, run {:.2} s",
                    task.name,
                    isa.name(),
                    iter + 1,
                    batch.len(),
                    t_run.elapsed().as_secs_f64()
                )
            });
        }
        for (i, o) in outcomes {
            let p = &batch[i];
            if let Outcome::Unsupported(m) = &o {
                unsupported = Some(m.clone());
                continue;
            }
            let rec = Record {
                workload: wl.clone(),
                kernel: task.name.clone(),
                target: target.clone(),
                threads,
                role: p.role,
                key: p.prog.key.clone(),
                trace: p.prog.trace.to_json(),
                median_us: o.latency_us(),
                error: if o.latency_us().is_some() { None } else { Some(o.describe()) },
                time: database::now(),
            };
            db.add(rec)?;
            measured.insert(p.prog.key.clone());
            let g = o.latency_us().map(|us| gflops(task.flops, us));
            model.add(&group, features::extract(&p.prog.func, isa), g.unwrap_or(0.0));
            if let Some(g) = g {
                best.push((p.prog.clone(), g));
            }
            if p.role == Role::Search {
                report.trials += 1;
                report.new_trials += 1;
                report.failed += usize::from(g.is_none());
                best_so_far = best_so_far.max(g.unwrap_or(0.0));
                report.curve.push((report.trials, best_so_far));
                bar.inc(1);
            }
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        model.train();
        iter += 1;
        if let Some(m) = &unsupported {
            report.notes.push(format!("{m}: stopped tuning {} for {}", task.name, isa.name()));
            break;
        }
        if exhausted && n > 0 {
            report.notes.push(format!("no new candidates after {} trials", report.trials));
            break;
        }
    }
    // The final round: the finalists timed side by side; the fastest wins.
    let recs: Vec<Record> = db.records(&wl, &target, threads).cloned().collect();
    let recorded = |key: &str| -> Option<f64> {
        recs.iter().filter(|r| r.key == key && r.is_ok()).filter_map(|r| r.median_us).reduce(f64::min)
    };
    let committed = task.committed_program(isa, threads).ok();
    let mut finalists: Vec<Program> = best.iter().take(crate::confirm::FINALISTS).map(|(p, _)| p.clone()).collect();
    finalists.extend(std::iter::once(default.clone()).chain(committed.clone()).filter(|p| recorded(&p.key).is_some()));
    let timed = if unsupported.is_none() {
        let name = format!("{}-{}-final", task.name, isa.name());
        crate::confirm::time_together(tc, &task.func, &finalists, isa, &data, &opts.run, &name)
    } else {
        Default::default()
    };
    let latency = |key: &str| timed.get(key).copied().or_else(|| recorded(key));
    report.default_us = latency(&default.key);
    let winner = finalists
        .iter()
        .filter_map(|p| latency(&p.key).map(|us| (p, us)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.key.cmp(&b.0.key)));
    if let Some((w, us)) = winner {
        report.best_us = Some(us);
        report.best_trace = Some(w.trace.clone());
    }
    report.wall_seconds = start.elapsed().as_secs_f64();
    report.committed = if unsupported.is_some() {
        Committed::NotWritten("this machine cannot run the ISA".into())
    } else if let (true, Some((w, us))) = (opts.write_traces, winner) {
        let old = committed.map(|c| {
            let us = latency(&c.key);
            (c, us)
        });
        commit_best(task, isa, threads, w, us, old, &report, opts)?
    } else {
        Committed::NotWritten("not asked to write traces".into())
    };
    Ok(report)
}

/// Tunes one function (MetaSchedule's `tune_tir`): returns the best schedule
/// found and the report. Nothing is written to trace files.
pub fn tune_func(func: &PrimFunc, opts: &TuneOptions) -> Result<(Schedule, TaskReport), String> {
    tune_func_space(func, Space::Rules, opts)
}

/// [`tune_func`] over a given space: [`Space::Rules`] (the default space) or
/// [`Space::Custom`] (a trace whose decisions are sampled anew, e.g. the
/// trace of the chapter's `stochastic_schedule_mm`).
pub fn tune_func_space(func: &PrimFunc, space: Space, opts: &TuneOptions) -> Result<(Schedule, TaskReport), String> {
    let task = Task::with_space(func, space, "", PathBuf::new());
    let mut o = opts.clone();
    o.write_traces = false;
    o.isas.truncate(1);
    let report = tune(std::slice::from_ref(&task), &o)?.into_iter().next().ok_or("no ISA this machine supports")?;
    let trace = report.best_trace.clone().ok_or("no candidate was correct")?;
    let sch = Schedule::replay(func, &trace, 0, DecisionMode::Strict).map_err(|e| e.to_string())?;
    Ok((sch, report))
}

/// The chapter's `random_search(mod, num_trials)`: `trials` random samples of
/// the default space of `func` for `isa`, each checked and timed; returns
/// the best schedule and its latency in µs.
pub fn random_search(
    func: &PrimFunc,
    isa: Isa,
    trials: usize,
    seed: u64,
    work_dir: &Path,
) -> Result<(Schedule, f64), String> {
    random_search_space(func, Space::Rules, isa, trials, seed, work_dir)
}

/// [`random_search`] over a given space — the chapter's exact
/// `random_search`, which samples `stochastic_schedule_mm`:
///
/// ```no_run
/// # use kiln_ir::schedule::Schedule;
/// # let func = kiln_ir::schedule::testing::matmul(128, 128, 128);
/// # let stochastic_schedule_mm = |_: &mut Schedule| {};
/// use kiln_ir::target::Isa;
/// use tuner::task::Space;
/// let mut sch = Schedule::new(func.clone(), 0);
/// stochastic_schedule_mm(&mut sch); // one sample: its trace, decisions dropped, is the space
/// let space = Space::Custom(sch.trace().clone());
/// let (best, us) = tuner::tune::random_search_space(&func, space, Isa::Avx2, 5, 0, "target/rs".as_ref()).unwrap();
/// ```
///
/// Every trial is a record of the database in `work_dir`
/// ([`crate::database::Database::open`]). Programs already measured there
/// count towards `trials` and are not measured again.
pub fn random_search_space(
    func: &PrimFunc,
    space: Space,
    isa: Isa,
    trials: usize,
    seed: u64,
    work_dir: &Path,
) -> Result<(Schedule, f64), String> {
    let mut o = TuneOptions::new(work_dir);
    o.trials = trials;
    o.per_iter = trials.clamp(1, 64);
    o.isas = vec![isa];
    o.seed = seed;
    o.strategy = StrategyKind::Random;
    o.progress = false;
    let (sch, r) = tune_func_space(func, space, &o)?;
    Ok((sch, r.best_us.unwrap_or(f64::NAN)))
}
