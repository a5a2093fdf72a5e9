//! The command line: `tune`, `list`, `show`, `bench`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use kiln_ir::codegen::{emit_impl, pretty, vectorization_report};
use kiln_ir::ir::func_to_string;
use kiln_ir::target::{Isa, Target};
use kiln_ir::tracefile::TraceFile;

use crate::bench::{bench, BenchOptions};
use crate::discover::{tasks, workspace, Workspace};
use crate::error::{Error, Result};
use crate::options::{parse_isas, parse_strategy, run_options, TuneOptions};
use crate::runner::RunOptions;
use crate::tune::tune;

const EXAMPLES: &str = "\
Examples:
  cargo run --release -p tuner -- list
  cargo run --release -p tuner -- tune --kernel matmul --trials 64
  cargo run --release -p tuner -- tune --trials 512 --isa all      # every kernel, 64 trials each on one ISA
  cargo run --release -p tuner -- tune --kernel linear0 --strategy random --seed 3
  cargo run --release -p tuner -- tune --kernel matmul --isa avx512 --runner-cmd \"ssh avx512-box\"
  cargo run --release -p tuner -- show matmul --isa avx2
  cargo run --release -p tuner -- bench --json
  cargo run --release -p tuner -- bench --peers --kernel linear --threads 2";

/// The tuner's `main`, for the binaries `tuner` and `cargo-kiln` (`bin_name`:
/// how the usage names the command): parses `args`, runs, and on an error
/// prints it with its causes and exits with status 1.
pub fn main_with<I: IntoIterator<Item = std::ffi::OsString>>(args: I, bin_name: &'static str) {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().bin_name(bin_name).get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        // The causes the message does not already say.
        let mut shown = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !shown.contains(&text) {
                eprintln!("  caused by: {text}");
            }
            shown = text;
            source = s.source();
        }
        std::process::exit(1);
    }
}

/// kiln's tuner: searches schedules of the workspace's `tensor_func!` kernels,
/// checks and times them, and commits the best traces to `<crate>/traces/`.
#[derive(Parser, Debug)]
#[command(name = "tuner", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tune kernels and write their best traces.
    Tune(TuneArgs),
    /// List the kernels of the workspace: crate, buffers, FLOP, traces.
    List,
    /// Show a kernel: its IR, the trace in use, the generated Rust and the vectorized loops left scalar (why).
    Show {
        /// The kernel's name.
        kernel: String,
        /// avx512, avx2 or scalar (default: the best this machine runs).
        #[arg(long)]
        isa: Option<String>,
        /// Show what this trace (a file in the chapter's text form) compiles to, instead of the trace in use.
        #[arg(long, value_name = "FILE")]
        trace: Option<std::path::PathBuf>,
    },
    /// Time every kernel's naive, default and committed variants side by side, in interleaved rounds
    /// (µs, GFLOP/s, ns per output element, GB/s and its % of the L2 read bandwidth).
    Bench(BenchArgs),
    /// Measure this machine: CPU, ISAs, fp32 FMA peak per ISA, cache sizes, read bandwidth per level.
    Machine {
        /// One JSON object.
        #[arg(long)]
        json: bool,
        /// The work directory whose `machine.json` caches the result.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Print the database's measured programs as CSV (group, GFLOP/s, features), for cost-model studies.
    #[command(hide = true)]
    DumpFeatures {
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Held-out rank correlation of the cost model on the database's measurements.
    #[command(hide = true)]
    EvalCostModel {
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Only this kernel (default: all); repeat it for several.
    #[arg(long)]
    pub kernel: Vec<String>,
    /// The work directory (default: target/kiln-tune under the workspace root).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// A command prefix that starts the runner, e.g. "ssh host".
    #[arg(long)]
    pub runner_cmd: Option<String>,
    /// Parallel compilations (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Threads a kernel may use (1: single-threaded code).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct TuneArgs {
    #[command(flatten)]
    pub common: Common,
    /// The global trial budget, shared evenly by the tasks (kernel × ISA).
    #[arg(long, default_value_t = 64)]
    pub trials: usize,
    /// Candidates built and measured per iteration.
    #[arg(long, default_value_t = 16)]
    pub per_iter: usize,
    /// avx512, avx2, scalar, or all (default: the best ISA this machine runs).
    #[arg(long)]
    pub isa: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// evolutionary or random.
    #[arg(long, default_value = "evolutionary")]
    pub strategy: String,
    /// Seconds a candidate may run before it counts as hung.
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
    /// Evict the caches before every timing sample.
    #[arg(long)]
    pub flush: bool,
    /// Measure only; do not write trace files.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub common: Common,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Also time faer and matrixmultiply, in the same process, on the kernels that are a matrix product.
    #[arg(long)]
    pub peers: bool,
    /// Interleaved rounds: each round takes one timing sample of every variant.
    #[arg(long, default_value_t = crate::bench::DEFAULT_ROUNDS)]
    pub rounds: usize,
}

impl Common {
    fn work_dir(&self, ws: &Workspace) -> PathBuf {
        ws.work_dir(self.work_dir.as_deref())
    }

    fn run_options(&self) -> RunOptions {
        run_options(self.runner_cmd.as_deref())
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs the command line; the error is printed by `main`.
pub fn run(cli: Cli) -> Result<()> {
    let ws = workspace();
    match cli.command {
        Command::List => list(&ws),
        Command::Show { kernel, isa, trace } => show(&ws, &kernel, isa.as_deref(), trace.as_deref()),
        Command::Bench(b) => run_bench(&ws, &b),
        Command::Machine { json, work_dir } => {
            let m = crate::probe::probe();
            m.save(&ws.work_dir(work_dir.as_deref()));
            if json {
                println!("{}", serde_json::to_string(&m).expect("serializable"));
            } else {
                print!("{}", m.table());
            }
            Ok(())
        }
        Command::Tune(t) => run_tune(&ws, &t),
        Command::DumpFeatures { work_dir } => {
            for (g, gf, f) in measured_features(&ws, &ws.work_dir(work_dir.as_deref()))? {
                let f: Vec<String> = f.iter().map(|x| format!("{x}")).collect();
                println!("{g},{gf},{}", f.join(","));
            }
            Ok(())
        }
        Command::EvalCostModel { work_dir } => {
            let rows = measured_features(&ws, &ws.work_dir(work_dir.as_deref()))?;
            println!("{} measured programs; Spearman on held-out 30% (5 splits):", rows.len());
            for (g, s) in crate::cost_model::evaluate(&rows, 5, 0) {
                println!("  {g:<28} {s:.3}");
            }
            Ok(())
        }
    }
}

/// `(kernel/target, GFLOP/s, features)` of every record of the database.
fn measured_features(ws: &Workspace, dir: &std::path::Path) -> Result<Vec<(String, f64, Vec<f32>)>> {
    let db = crate::database::Database::open(dir)?;
    let tasks = tasks(ws, None)?;
    let mut out = Vec::new();
    for r in db.all() {
        let Some(task) = tasks.iter().find(|t| t.workload == r.workload) else { continue };
        let Some(isa) = Isa::from_name(&r.target) else { continue };
        let Some(p) = r.trace().and_then(|t| task.replay(&t, isa, r.threads).ok()) else { continue };
        let g = r.median_us.filter(|_| r.is_ok()).map_or(0.0, |us| crate::task::gflops(task.flops, us));
        out.push((format!("{}/{}", task.name, r.target), g, crate::features::extract(&p.func, isa)));
    }
    Ok(out)
}

fn run_tune(ws: &Workspace, t: &TuneArgs) -> Result<()> {
    let start = Instant::now();
    let tasks = selected(ws, &t.common.kernel)?;
    let mut opts = TuneOptions::new(t.common.work_dir(ws));
    opts.trials = t.trials;
    opts.per_iter = t.per_iter.max(1);
    opts.isas = parse_isas(t.isa.as_deref())?;
    opts.seed = t.seed;
    opts.jobs = t.common.jobs.unwrap_or_else(cores).max(1);
    opts.strategy = parse_strategy(&t.strategy)?;
    opts.run = RunOptions { timeout: Duration::from_secs(t.timeout), flush: t.flush, ..t.common.run_options() };
    opts.threads = t.common.threads.max(1);
    opts.write_traces = !t.dry_run;
    if t.common.runner_cmd.is_some() {
        // The candidates run elsewhere: only the ISA's generic entry is written.
        opts.cpu_class = None;
    }
    let reports = tune(&tasks, &opts)?;
    if reports.is_empty() {
        return Err(Error::UnsupportedIsa("nothing was tuned: no requested ISA can be measured here".into()));
    }
    print!("{}", crate::report::table(&reports));
    for r in &reports {
        let svg = crate::report::curve_svg(r, &opts.work_dir.join("curves"));
        let curve = svg.map(|p| p.display().to_string()).unwrap_or_else(|e| format!("no curve ({e})"));
        println!("{} {}: {}; curve {}", r.kernel, r.isa.name(), r.committed.describe(), curve);
        for n in &r.notes {
            println!("  note: {n}");
        }
    }
    println!("tuned in {:.1} s (work dir {})", start.elapsed().as_secs_f64(), opts.work_dir.display());
    Ok(())
}

fn run_bench(ws: &Workspace, b: &BenchArgs) -> Result<()> {
    let tasks = selected(ws, &b.common.kernel)?;
    let opts = BenchOptions {
        work_dir: b.common.work_dir(ws),
        run: b.common.run_options(),
        threads: b.common.threads,
        json: b.json,
        peers: b.peers,
        rounds: b.rounds,
    };
    bench(&tasks, &opts)
}

fn list(ws: &Workspace) -> Result<()> {
    let tasks = tasks(ws, None)?;
    println!("{:<12} {:<8} {:>10}  {:<28} buffers", "kernel", "crate", "FLOP", "traces");
    for t in &tasks {
        let bufs: Vec<String> = t
            .func
            .params
            .iter()
            .map(|p| {
                let mut dims: Vec<String> = p.buffer.shape.iter().map(|d| d.to_string()).collect();
                if let Some(d) = t.func.sym_dim_of(&p.buffer.name) {
                    dims[0] = d.name.clone();
                }
                let out = if p.kind == kiln_ir::ir::ParamKind::Output { "&mut " } else { "" };
                format!("{}: {out}[{}; {}]", p.buffer.name, p.buffer.dtype, dims.join(", "))
            })
            .collect();
        let traces = match TraceFile::read(&t.trace_path) {
            Ok(Some(f)) if f.workload != t.workload => "stale".to_string(),
            Ok(Some(f)) => f.targets.keys().cloned().collect::<Vec<_>>().join(" "),
            Ok(None) => "—".into(),
            Err(_) => "unreadable".into(),
        };
        let dims: Vec<String> = t
            .func
            .dims
            .iter()
            .map(|d| format!(" where {}: {}..={}, FLOP at {}", d.name, d.min, d.max, d.value))
            .collect();
        println!(
            "{:<12} {:<8} {:>10}  {:<28} {}{}",
            t.name,
            t.crate_name,
            t.flops,
            traces,
            bufs.join(", "),
            dims.concat()
        );
    }
    Ok(())
}

/// The tasks of the kernels named by `--kernel` (all when none is).
fn selected(ws: &Workspace, names: &[String]) -> Result<Vec<crate::task::Task>> {
    if names.is_empty() {
        return tasks(ws, None);
    }
    let mut out = Vec::new();
    for k in names {
        out.extend(tasks(ws, Some(k))?);
    }
    Ok(out)
}

fn show(ws: &Workspace, kernel: &str, isa: Option<&str>, trace: Option<&std::path::Path>) -> Result<()> {
    let task = tasks(ws, Some(kernel))?.remove(0);
    println!("{}", func_to_string(&task.func));
    // What `cargo build` emits for this ISA, and why.
    let sources = task.sources()?;
    let class = kiln::cpu::class();
    let keys: Vec<String> = sources.file.iter().flat_map(|f| f.targets.keys().cloned()).collect();
    // By default the ISA this CPU's dispatch runs: its class's entry of the
    // best ISA it has one of, else its best ISA.
    let isa = match isa {
        None => class_entry_isa(&keys, class, crate::machine::supports).unwrap_or_else(crate::machine::best_isa),
        Some(s) => crate::options::parse_isa(s)?,
    };
    for line in dispatch_lines(&keys, class, crate::machine::supports) {
        println!("{line}");
    }
    let func = match trace {
        None => {
            let prog = sources.program(&Target::cpu(isa, class))?;
            let what = prog.origin.label();
            println!("# trace in use for {} on this CPU ({class}): {what}\n{}", isa.name(), prog.trace);
            prog.func
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                action: "reading the trace",
                path: path.to_path_buf(),
                source,
            })?;
            let trace = kiln_ir::trace::parse_trace_str(&text)
                .map_err(|e| Error::Workspace { message: format!("{}: {e}", path.display()) })?;
            let prog = task.replay(&trace, isa, 1)?;
            println!("# trace {}\n{}", path.display(), prog.trace);
            prog.func
        }
    };
    println!("{}", func_to_string(&func));
    let name = quote::format_ident!("{}_{}", task.name, isa.name());
    println!("// generated Rust ({})\n{}", isa.name(), pretty(&emit_impl(&func, isa, &name)));
    for line in scalar_loop_notes(&func, isa) {
        println!("{line}");
    }
    Ok(())
}

/// Which CPUs run which entry of a trace file (`keys`), as `tuner show`
/// prints it: a class entry runs on CPUs of that class with its ISA, a
/// generic entry on the other CPUs with its ISA (runtime dispatch takes the
/// best ISA the CPU has; without an entry, the ISA's default schedule).
pub fn dispatch_lines(keys: &[String], this_class: &str, runs_here: impl Fn(Isa) -> bool) -> Vec<String> {
    let mut out = vec!["# trace entries and the CPUs that run them:".to_string()];
    if keys.is_empty() {
        out.push("#   (no trace file: every CPU runs the default schedule of its best ISA)".into());
    }
    // The dispatch (`ir/src/codegen/kernel.rs`) takes the class's entry of the
    // best ISA the CPU runs, of any ISA, before a generic one: a class whose
    // AVX2 entry won (`isa_choice.rs`) runs it on an AVX-512 CPU.
    let class_isa = class_entry_isa(keys, this_class, &runs_here);
    let best_generic = keys
        .iter()
        .filter_map(|k| Target::parse(k))
        .filter(|t| t.cpu.is_none() && runs_here(t.isa))
        .map(|t| t.isa)
        .max();
    for key in keys {
        let who = match Target::parse(key) {
            Some(Target { isa, cpu: Some(c) }) => {
                let here = if c == this_class && class_isa == Some(isa) { " (this CPU)" } else { "" };
                format!("CPUs of class `{c}` that run {}{here}", isa.name())
            }
            Some(Target { isa, cpu: None }) => {
                let here = if class_isa.is_none() && best_generic == Some(isa) { ", this CPU among them" } else { "" };
                format!("other CPUs that run {} (no entry of their own class){here}", isa.name())
            }
            None => "no CPU (not a target key this kiln knows)".to_string(),
        };
        out.push(format!("#   {key:<24} {who}"));
    }
    out
}

/// The ISA of the entry of class `class` that the dispatch runs on a CPU of
/// that class: the best ISA the CPU runs (`runs_here`) among the class's
/// entries (`None` when it has none it runs).
pub fn class_entry_isa(keys: &[String], class: &str, runs_here: impl Fn(Isa) -> bool) -> Option<Isa> {
    keys.iter()
        .filter_map(|k| Target::parse(k))
        .filter(|t| t.cpu.as_deref() == Some(class) && runs_here(t.isa))
        .map(|t| t.isa)
        .max()
}

/// One `// note:` line per loop of `func` marked vectorized that the code
/// generator emits as scalar code for `isa`, with the reason.
pub fn scalar_loop_notes(func: &kiln_ir::ir::PrimFunc, isa: Isa) -> Vec<String> {
    vectorization_report(func, isa)
        .into_iter()
        .map(|(var, why)| format!("// note: loop {var} marked vectorized is emitted as scalar code: {why}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_says_which_cpus_run_which_entry() {
        let keys: Vec<String> =
            ["x86_64-avx2", "x86_64-avx2@znver1", "x86_64-avx512", "riscv-v"].iter().map(|s| s.to_string()).collect();
        let lines = dispatch_lines(&keys, "znver1", |isa| isa != Isa::Avx512).join("\n");
        assert!(lines.contains("x86_64-avx2@znver1       CPUs of class `znver1` that run avx2 (this CPU)"), "{lines}");
        assert!(lines.contains("x86_64-avx2              other CPUs that run avx2 (no entry of their own class)\n"));
        assert!(lines.contains("x86_64-avx512            other CPUs that run avx512 (no entry of their own class)\n"));
        let all = dispatch_lines(&keys, "znver4", |_| true).join("\n");
        assert!(all.contains("other CPUs that run avx512 (no entry of their own class), this CPU among them"), "{all}");
        assert!(!all.contains("(this CPU)"), "{all}");
        assert!(lines.contains("riscv-v                  no CPU"), "{lines}");
        assert!(dispatch_lines(&[], "znver1", |_| true)[1].contains("no trace file"));
        // A class whose AVX2 entry won runs it on an AVX-512 CPU (rmsnorm on
        // `znver4`), not the generic AVX-512 entry.
        let keys: Vec<String> =
            ["x86_64-avx2", "x86_64-avx2@znver4", "x86_64-avx512"].iter().map(|s| s.to_string()).collect();
        let won = dispatch_lines(&keys, "znver4", |_| true).join("\n");
        assert!(won.contains("x86_64-avx2@znver4       CPUs of class `znver4` that run avx2 (this CPU)"), "{won}");
        assert!(!won.contains("this CPU among them"), "{won}");
        assert_eq!(class_entry_isa(&keys, "znver4", |_| true), Some(Isa::Avx2));
        assert_eq!(class_entry_isa(&keys, "znver4", |isa| isa == Isa::Scalar), None);
        assert_eq!(class_entry_isa(&keys, "znver1", |_| true), None);
    }

    #[test]
    fn show_notes_the_vectorized_loops_emitted_as_scalar_code() {
        let f = kiln_ir::schedule::testing::kernel(
            "pub fn transpose(a: [f32; 8, 16], b: &mut [f32; 16, 8]) {
                for (i, j) in grid(8, 16) {
                    block(\"T\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        b[vj, vi] = a[vi, vj];
                    }
                }
            }",
        );
        let trace = kiln_ir::trace::parse_trace_str(
            "b0 = sch.get_block(name=\"T\", func_name=\"main\")\nl1, l2 = sch.get_loops(block=b0)\nsch.vectorize(loop=l2)",
        )
        .unwrap();
        let sch = kiln_ir::schedule::Schedule::replay(&f, &trace, 0, kiln_ir::schedule::DecisionMode::Strict).unwrap();
        assert_eq!(
            scalar_loop_notes(sch.func(), Isa::Avx2),
            vec![
                "// note: loop j marked vectorized is emitted as scalar code: \
                  store to `b` (block `T`) is not contiguous in `j` (stride 8)"
            ]
        );
        // Without the vectorize step there is nothing to note.
        assert!(scalar_loop_notes(&f, Isa::Avx2).is_empty());
    }
}
