//! The tuning loop (MetaSchedule's `tune_tasks`, ahead of time).
//!
//! For every task and ISA ([`tune_one`]):
//! 1. **resume**: every record of the database for the task, ISA and thread
//!    count is observed ([`TuningState::observe`]): measured programs count
//!    towards the budget, seed the search and are never measured again;
//! 2. **baselines**: the default schedule and the committed trace, measured
//!    once, in the first batch;
//! 3. **search**: the strategy proposes up to `per_iter` new programs, the
//!    builder compiles them in `jobs` parallel crates, the runner checks and
//!    times them, every outcome is appended to the database as soon as it is
//!    known and observed, the cost model retrains — until the task's share
//!    of the trial budget is spent;
//! 4. **final round**: the finalists timed side by side, in interleaved
//!    rounds (`confirm.rs`);
//! 5. **commit**: the fastest correct program is written to the kernel's
//!    trace file (`commit.rs`).
//!
//! The library entry points of the chapter, [`tune_func`] and
//! [`random_search`], tune one function with this loop.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::{Isa, Target};

use crate::builder::{build_parallel, prepare, Candidate, Toolchain};
use crate::commit::{commit_best, Choice, Committed, Tuning};
use crate::confirm;
use crate::cost_model::CostModel;
use crate::database::{self, Database, Record, Role};
use crate::error::{Error, Result};
use crate::options::TuneOptions;
use crate::report::TaskReport;
use crate::runner::{kernel_data, run_batch_each, Outcome, RunOptions};
use crate::search::{Context, Strategy, StrategyKind};
use crate::state::{Observation, TuningState};
use crate::task::{Program, Space, Task};

/// What stays fixed while one task is tuned for one ISA.
#[derive(Clone, Copy)]
struct Job<'a> {
    task: &'a Task,
    isa: Isa,
    opts: &'a TuneOptions,
    tc: &'a Toolchain,
    bar: &'a ProgressBar,
}

impl Job<'_> {
    fn threads(&self) -> usize {
        self.opts.threads
    }

    /// The trace-file target the tuning is for: the ISA on this machine's
    /// CPU class (when the candidates run here).
    fn target(&self) -> Target {
        match &self.opts.cpu_class {
            Some(c) => Target::cpu(self.isa, c),
            None => Target::isa(self.isa),
        }
    }
}

/// Tunes `tasks` for every ISA of `opts`.
pub fn tune(tasks: &[Task], opts: &TuneOptions) -> Result<Vec<TaskReport>> {
    let _lock = database::lock(&opts.work_dir)?;
    let mut db = Database::open(&opts.work_dir)?;
    if db.skipped > 0 {
        eprintln!("note: skipped {} unreadable line(s) of the database (a torn last write)", db.skipped);
    }
    let isas = measurable_isas(opts);
    let jobs: Vec<(&Task, Isa)> = tasks.iter().flat_map(|t| isas.iter().map(move |i| (t, *i))).collect();
    if jobs.is_empty() {
        return Ok(vec![]);
    }
    // The reference outputs (the interpreter: seconds for a 512³ product)
    // are computed on a thread of their own while cargo builds the harness
    // and the first task generates and builds its first candidates; a task
    // waits for its data only when it first runs them (`kernel_data` serializes its callers).
    std::thread::scope(|s| {
        // One thread, in turn: tasks of one workload (matmul512, matmul512_t2)
        // share their data, written once.
        s.spawn(|| tasks.iter().for_each(|t| drop(kernel_data(&t.func, &opts.work_dir))));
        let tc = prepare(&opts.work_dir)?;
        tune_jobs(tasks, &jobs, opts, &tc, &mut db)
    })
}

/// The jobs of [`tune`] in turn, then the ISA comparison.
fn tune_jobs(
    tasks: &[Task],
    jobs: &[(&Task, Isa)],
    opts: &TuneOptions,
    tc: &Toolchain,
    db: &mut Database,
) -> Result<Vec<TaskReport>> {
    let share = |k: usize| opts.trials / jobs.len() + usize::from(k < opts.trials % jobs.len());
    let bar = progress_bar(opts);
    let mut model = CostModel::default();
    let mut reports = Vec::new();
    for (k, (task, isa)) in jobs.iter().enumerate() {
        let job = Job { task, isa: *isa, opts, tc, bar: &bar };
        // A task that cannot be tuned (its kernel's rules fail, its data
        // cannot be written...) is reported and the others go on.
        match tune_one(job, share(k), db, &mut model) {
            Ok(r) => reports.push(r),
            Err(e) => bar.suspend(|| eprintln!("error: tuning `{}` for {}: {e}", task.name, isa.name())),
        }
    }
    bar.finish_and_clear();
    // Entries of several ISAs for this CPU class: the faster one runs here.
    if opts.write_traces {
        let here = crate::machine::supported_isas();
        for task in tasks {
            match crate::isa_choice::prefer_faster_isa(task, &here, opts, tc) {
                Ok(Some(line)) => eprintln!("{line}"),
                Ok(None) => {}
                Err(e) => eprintln!("error: comparing the ISAs of `{}`: {e}", task.name),
            }
        }
    }
    Ok(reports)
}

/// The ISAs of `opts` this machine (or the remote runner) can run.
fn measurable_isas(opts: &TuneOptions) -> Vec<Isa> {
    let remote = !opts.run.runner_cmd.is_empty();
    let can = |isa: &Isa| {
        let ok = remote || crate::machine::supports(*isa);
        if !ok {
            eprintln!(
                "note: this machine cannot run {} code: not tuning for {} (measure it on a machine that can, \
                 e.g. with --runner-cmd \"ssh HOST\")",
                isa.name(),
                isa.target_key()
            );
        }
        ok
    };
    opts.isas.iter().copied().filter(can).collect()
}

fn progress_bar(opts: &TuneOptions) -> ProgressBar {
    let bar = if opts.progress { ProgressBar::new(opts.trials as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Tunes one task for one ISA with a budget of `budget` search trials.
fn tune_one(job: Job, budget: usize, db: &mut Database, model: &mut CostModel) -> Result<TaskReport> {
    let start = Instant::now();
    let workload = db.add_workload(&job.task.func)?;
    let state = resume(job, &workload, db, model);
    job.bar.inc(state.trials.min(budget) as u64);
    let default = job.task.default_program(job.isa, job.threads())?;
    let mut t = TaskTuning { job, workload, data: None, db, model, state, notes: vec![], unsupported: None };
    let baselines = t.baselines(&default);
    t.search(budget, baselines)?;
    let data = t.load_data()?;
    let t_final = Instant::now();
    let verdict = t.final_round(&default, &data);
    if verbose() {
        let s = t_final.elapsed().as_secs_f64();
        job.bar.suspend(|| eprintln!("[{} {}] final round in {s:.2} s", job.task.name, job.isa.name()));
    }
    t.finish(verdict, start)
}

/// Step 1: what the database knows about the task on this ISA and thread
/// count, every record observed in the order written; the cost model is
/// retrained on it.
fn resume(job: Job, workload: &str, db: &Database, model: &mut CostModel) -> TuningState {
    let target = job.isa.target_key();
    let group = format!("{workload}/{target}/t{}", job.threads());
    let mut state = TuningState::new(group, job.isa, job.task.flops);
    for r in db.records(workload, target, job.threads()) {
        let program = r.trace().and_then(|t| job.task.replay(&t, job.isa, job.threads()).ok());
        let latency_us = r.median_us.filter(|_| r.is_ok());
        let obs = Observation { key: &r.key, program: program.as_ref(), role: r.role, latency_us, new: false };
        state.observe(obs, model);
    }
    model.train();
    state
}

/// A search candidate whose first call takes this many times the best
/// latency so far is timed with a few samples only (`RunOptions::cutoff_us`).
const CUTOFF: f64 = 2.5;

/// A search candidate's samples stop after 3 once they add up to this many
/// µs (`RunOptions::budget_us`); the final round takes a sample of every
/// finalist in each of its rounds (`confirm.rs`).
const SAMPLE_BUDGET_US: f64 = 20_000.0;

/// A program waiting to be measured, and why it is measured.
struct Pending {
    prog: Program,
    role: Role,
}

/// The final round's results.
struct Verdict {
    default_us: Option<f64>,
    /// The fastest correct finalist and its latency.
    winner: Option<(Program, f64)>,
    /// The committed entry's program and its latency in the round.
    committed: Option<(Program, Option<f64>)>,
}

fn verbose() -> bool {
    std::env::var("KILN_TUNE_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// One task being tuned for one ISA: the fixed job, the database and the
/// cost model every task shares, and the task's own state.
struct TaskTuning<'a> {
    job: Job<'a>,
    workload: String,
    /// The kernel's data (`None` until [`TaskTuning::load_data`]: written
    /// while the first candidates build).
    data: Option<KernelData>,
    db: &'a mut Database,
    model: &'a mut CostModel,
    state: TuningState,
    notes: Vec<String>,
    /// Set when the runner says this machine cannot run the ISA.
    unsupported: Option<String>,
}

/// Where a task's inputs and reference outputs are ([`kernel_data`]).
#[derive(Clone)]
struct KernelData {
    /// The kernel's, at the size it is tuned at.
    main: PathBuf,
    /// Those of its instances at other sizes (`Task::checks`), with the size.
    checks: Vec<(String, PathBuf)>,
}

impl TaskTuning<'_> {
    /// The data of the kernel and of its other sizes, written (or waited
    /// for, see [`kernel_data`]) the first time candidates are to run.
    fn load_data(&mut self) -> Result<KernelData> {
        if let Some(d) = &self.data {
            return Ok(d.clone());
        }
        let (task, dir) = (self.job.task, &self.job.opts.work_dir);
        let checks =
            task.checks.iter().map(|(what, f)| Ok((what.clone(), kernel_data(f, dir)?))).collect::<Result<Vec<_>>>()?;
        let d = KernelData { main: kernel_data(&task.func, dir)?, checks };
        self.data = Some(d.clone());
        Ok(d)
    }

    /// Step 2: the baselines not measured yet — the default schedule, and the
    /// committed trace when it is another program.
    fn baselines(&self, default: &Program) -> Vec<Pending> {
        let mut out = Vec::new();
        if !self.state.is_measured(&default.key) {
            out.push(Pending { prog: default.clone(), role: Role::Default });
        }
        if let Ok(c) = self.job.task.committed_program(&self.job.target(), self.job.threads()) {
            if !self.state.is_measured(&c.key) && c.key != default.key {
                out.push(Pending { prog: c, role: Role::Committed });
            }
        }
        out
    }

    /// Step 3: batches until the budget is spent (the baselines go in the
    /// first one), or the space seems exhausted, or the ISA turns out not to
    /// run here.
    fn search(&mut self, budget: usize, mut baselines: Vec<Pending>) -> Result<()> {
        let (task, isa, opts) = (self.job.task, self.job.isa, self.job.opts);
        let mut strategy = opts.strategy.build(opts.seed ^ kiln_ir::tracefile::fnv1a64(&self.state.group));
        let mut iter = 0;
        while self.state.trials < budget || !baselines.is_empty() {
            let t_gen = Instant::now();
            let n = opts.per_iter.min(budget.saturating_sub(self.state.trials));
            let cands = if n > 0 { self.propose(strategy.as_mut(), &baselines, n) } else { vec![] };
            let exhausted = cands.is_empty();
            let mut batch: Vec<Pending> = std::mem::take(&mut baselines);
            batch.extend(cands.into_iter().map(|prog| Pending { prog, role: Role::Search }));
            if batch.is_empty() {
                self.notes.push(format!("the space seems exhausted after {} trials", self.state.trials));
                break;
            }
            iter += 1;
            self.job.bar.set_message(format!("{} {} iteration {iter}", task.name, isa.name()));
            let outcomes = self.measure(&batch, iter, t_gen)?;
            self.record(&batch, outcomes)?;
            let t_train = Instant::now();
            self.model.train();
            if verbose() {
                let s = t_train.elapsed().as_secs_f64();
                self.job.bar.suspend(|| eprintln!("[{} {}] cost model trained in {s:.2} s", task.name, isa.name()));
            }
            if let Some(m) = &self.unsupported {
                self.notes.push(format!("{m}: stopped tuning {} for {}", task.name, isa.name()));
                break;
            }
            if exhausted && n > 0 {
                self.notes.push(format!("no new candidates after {} trials", self.state.trials));
                break;
            }
        }
        Ok(())
    }

    /// Up to `n` new programs from the strategy.
    fn propose(&self, strategy: &mut dyn Strategy, baselines: &[Pending], n: usize) -> Vec<Program> {
        // The baselines of this batch count as measured: a search trial
        // that would repeat one is wasted.
        let pending: BTreeSet<String>;
        let measured = if baselines.is_empty() {
            self.state.measured()
        } else {
            pending =
                self.state.measured().iter().cloned().chain(baselines.iter().map(|p| p.prog.key.clone())).collect();
            &pending
        };
        let ctx = Context {
            task: self.job.task,
            isa: self.job.isa,
            threads: self.job.threads(),
            measured,
            best: self.state.best(),
            model: self.model,
        };
        strategy.generate(&ctx, n)
    }

    /// Builds the batch (`jobs` executables in parallel) and runs it: the
    /// outcome of every candidate the runner reported on, by batch index.
    fn measure(&mut self, batch: &[Pending], iter: usize, t_gen: Instant) -> Result<Vec<(usize, Outcome)>> {
        let Job { task, isa, opts, tc, bar } = self.job;
        let cs: Vec<Candidate> = batch.iter().map(|p| Candidate::new(p.prog.func.clone(), isa)).collect();
        let name = format!("{}-{}", task.name, isa.name());
        let gen_s = t_gen.elapsed().as_secs_f64();
        let t_build = Instant::now();
        let built = build_parallel(tc, &task.func, &cs, &name, opts.jobs);
        let build_s = t_build.elapsed().as_secs_f64();
        let t_data = Instant::now();
        let data = self.load_data()?;
        let data_s = t_data.elapsed().as_secs_f64();
        let t_run = Instant::now();
        let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
        for b in &built {
            for (i, msg) in &b.failed {
                outcomes.push((*i, Outcome::BuildFailed(msg.clone())));
            }
        }
        // A candidate 2.5× slower than the best so far on its first call is
        // only sampled briefly: what the search learns from it is "slow".
        let best_us = self.state.best().first().map(|(_, g)| task.flops as f64 / (g * 1e3));
        let run = RunOptions {
            cutoff_us: best_us.map(|us| us * CUTOFF),
            cutoff_ratio: Some(CUTOFF),
            budget_us: Some(SAMPLE_BUDGET_US),
            ..opts.run.clone()
        };
        for b in built.iter().filter(|b| !b.included.is_empty()) {
            let ids: Vec<usize> = (0..b.included.len()).collect();
            let mut got = Vec::new();
            run_batch_each(&b.exe, &data.main, &ids, &run, &mut |id, o| got.push((b.included[id], o.clone())));
            if got.len() < ids.len() {
                self.notes.push(format!("the runner failed on {} candidate(s) (not recorded)", ids.len() - got.len()));
            }
            self.check_other_sizes(b, &data.checks, &mut got);
            outcomes.extend(got);
        }
        outcomes.sort_by_key(|(i, _)| *i);
        if verbose() {
            let run_s = t_run.elapsed().as_secs_f64();
            bar.suspend(|| {
                let data = if data_s >= 0.01 { format!(", waited {data_s:.2} s for the data") } else { String::new() };
                eprintln!(
                    "[{} {}] iteration {iter}: {} candidates, generate {gen_s:.2} s, build {build_s:.2} s{data}, run {run_s:.2} s",
                    task.name,
                    isa.name(),
                    batch.len(),
                )
            });
        }
        Ok(outcomes)
    }

    /// A kernel with symbolic dimensions: every candidate that ran right at
    /// the tune value is run at the other sizes of the task (`Task::checks`),
    /// checked only; one that fails there is wrong.
    fn check_other_sizes(&self, b: &crate::builder::Built, checks: &[(String, PathBuf)], got: &mut [(usize, Outcome)]) {
        let check = RunOptions { repeats: 1, min_sample_us: 0.0, cutoff_us: None, ..self.job.opts.run.clone() };
        for (what, dir) in checks {
            let ids: Vec<usize> = got
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Ok { .. }))
                .filter_map(|(i, _)| b.included.iter().position(|x| x == i))
                .collect();
            if ids.is_empty() {
                return;
            }
            for (id, o) in crate::runner::run_batch(&b.exe, dir, &ids, &check) {
                if !matches!(o, Outcome::Ok { .. }) {
                    if let Some(g) = got.iter_mut().find(|(i, _)| *i == b.included[id]) {
                        g.1 = Outcome::Wrong(format!("at {what}: {}", o.describe()));
                    }
                }
            }
        }
    }

    /// Appends every outcome to the database, then observes it. An
    /// `Unsupported` outcome is not recorded: it stops the task.
    fn record(&mut self, batch: &[Pending], outcomes: Vec<(usize, Outcome)>) -> Result<()> {
        for (i, o) in outcomes {
            let p = &batch[i];
            if let Outcome::Unsupported(m) = &o {
                self.unsupported = Some(m.clone());
                continue;
            }
            let latency_us = o.latency_us();
            self.db.add(Record {
                workload: self.workload.clone(),
                kernel: self.job.task.name.clone(),
                target: self.job.isa.target_key().to_string(),
                threads: self.job.threads(),
                role: p.role,
                key: p.prog.key.clone(),
                trace: p.prog.trace.to_json(),
                median_us: latency_us,
                error: if latency_us.is_some() { None } else { Some(o.describe()) },
                time: database::now(),
            })?;
            let obs = Observation { key: &p.prog.key, program: Some(&p.prog), role: p.role, latency_us, new: true };
            if self.state.observe(obs, self.model) {
                self.job.bar.inc(1);
            }
        }
        Ok(())
    }

    /// Step 4: the best measured programs, the default schedule and the
    /// committed trace timed side by side; a program's latency is its time
    /// in this round, else its best recorded one.
    fn final_round(&self, default: &Program, data: &KernelData) -> Verdict {
        let Job { task, isa, opts, tc, .. } = self.job;
        let recs: Vec<&Record> = self.db.records(&self.workload, isa.target_key(), self.job.threads()).collect();
        let recorded = |key: &str| -> Option<f64> {
            recs.iter().filter(|r| r.key == key && r.is_ok()).filter_map(|r| r.median_us).reduce(f64::min)
        };
        let committed = task.committed_program(&self.job.target(), self.job.threads()).ok();
        let mut finalists: Vec<Program> =
            self.state.best().iter().take(confirm::FINALISTS).map(|(p, _)| p.clone()).collect();
        finalists
            .extend(std::iter::once(default.clone()).chain(committed.clone()).filter(|p| recorded(&p.key).is_some()));
        let timed = if self.unsupported.is_none() {
            let name = format!("{}-{}-final", task.name, isa.name());
            confirm::time_together(tc, &task.func, &finalists, isa, &data.main, &opts.run, &name)
        } else {
            Default::default()
        };
        let latency = |key: &str| timed.get(key).copied().or_else(|| recorded(key));
        let winner = finalists
            .iter()
            .filter_map(|p| latency(&p.key).map(|us| (p, us)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.key.cmp(&b.0.key)))
            .map(|(p, us)| (p.clone(), us));
        Verdict {
            default_us: latency(&default.key),
            winner,
            committed: committed.map(|c| {
                let us = latency(&c.key);
                (c, us)
            }),
        }
    }

    /// Step 5: the trace file (unless the ISA does not run here or traces
    /// are not to be written), then the report.
    fn finish(self, verdict: Verdict, start: Instant) -> Result<TaskReport> {
        let Job { task, isa, opts, .. } = self.job;
        let wall_seconds = start.elapsed().as_secs_f64();
        let committed = if self.unsupported.is_some() {
            Committed::NotWritten("this machine cannot run the ISA".into())
        } else if let (true, Some((w, us))) = (opts.write_traces, &verdict.winner) {
            let choice = Choice { winner: w, latency: *us, old: verdict.committed };
            let tuning =
                Tuning { trials: self.state.trials, seed: opts.seed, strategy: opts.strategy.name(), wall_seconds };
            commit_best(task, &self.job.target(), self.job.threads(), choice, &tuning, &opts.work_dir)?
        } else {
            Committed::NotWritten("not asked to write traces".into())
        };
        let (best_us, best_trace) = verdict.winner.map(|(p, us)| (us, p.trace)).unzip();
        Ok(TaskReport {
            kernel: task.name.clone(),
            isa,
            flops: task.flops,
            default_us: verdict.default_us,
            best_us,
            best_trace,
            trials: self.state.trials,
            new_trials: self.state.new_trials,
            failed: self.state.failed,
            wall_seconds,
            curve: self.state.curve,
            committed,
            notes: self.notes,
            // The peak of the cores the kernel may use.
            peak_gflops: crate::probe::Machine::quick(&opts.work_dir).peak(isa).map(|p| p * self.job.threads() as f64),
        })
    }
}

/// Tunes one function (MetaSchedule's `tune_tir`): returns the best schedule
/// found and the report. Nothing is written to trace files.
pub fn tune_func(func: &PrimFunc, opts: &TuneOptions) -> Result<(Schedule, TaskReport)> {
    tune_func_space(func, Space::Rules, opts)
}

/// [`tune_func`] over a given space: [`Space::Rules`] (the default space) or
/// [`Space::Custom`] (a trace whose decisions are sampled anew, e.g. the
/// trace of the chapter's `stochastic_schedule_mm`).
pub fn tune_func_space(func: &PrimFunc, space: Space, opts: &TuneOptions) -> Result<(Schedule, TaskReport)> {
    let task = Task::with_space(func, space, "", Default::default());
    let mut o = opts.clone();
    o.write_traces = false;
    o.isas.truncate(1);
    let report = tune(std::slice::from_ref(&task), &o)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::UnsupportedIsa("no ISA this machine supports".into()))?;
    let trace = report.best_trace.clone().ok_or(Error::NoCorrectCandidate)?;
    let sch = Schedule::replay(func, &trace, 0, DecisionMode::Strict)?;
    Ok((sch, report))
}

/// The chapter's `random_search(mod, num_trials)`: `trials` random samples of
/// the default space of `func` for `isa`, each checked and timed; returns
/// the best schedule and its latency in µs.
pub fn random_search(func: &PrimFunc, isa: Isa, trials: usize, seed: u64, work_dir: &Path) -> Result<(Schedule, f64)> {
    random_search_space(func, Space::Rules, isa, trials, seed, work_dir)
}

/// [`random_search`] over a given space — the chapter's exact
/// `random_search`, which samples `stochastic_schedule_mm`:
///
/// ```no_run
/// # use kiln_ir::schedule::Schedule;
/// # let func = kiln_ir::schedule::testing::matmul(128, 128, 128);
/// # let stochastic_schedule_mm = |_: &mut Schedule| {};
/// use kiln_ir::target::{Isa, Target};
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
) -> Result<(Schedule, f64)> {
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
