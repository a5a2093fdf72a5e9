//! `tuner bench`: every kernel's variants timed side by side — the naive
//! loop nest, the default schedule and the committed trace for every ISA
//! this machine runs — compiled into one executable per kernel and measured
//! in one runner process, so that the figures are comparable.

use std::path::PathBuf;

use kiln_ir::target::{Isa, Target};

use crate::builder::{build_parallel, prepare, Candidate};
use crate::error::Result;
use crate::runner::{kernel_data, run_batch, Outcome, RunOptions};
use crate::task::{gflops, Task};

/// How to bench.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub work_dir: PathBuf,
    /// The runner settings (the samples are made longer and more numerous).
    pub run: RunOptions,
    /// Threads the kernels may use.
    pub threads: usize,
    /// One JSON object per line instead of a table.
    pub json: bool,
}

struct Variant {
    name: &'static str,
    isa: Isa,
    cand: Candidate,
}

/// Runs the benchmark of `tasks` and prints a table (or JSON lines).
pub fn bench(tasks: &[Task], args: &BenchOptions) -> Result<()> {
    let dir = &args.work_dir;
    let _lock = crate::database::lock(dir)?;
    let tc = prepare(dir)?;
    let mut opts = args.run.clone();
    opts.min_sample_us = 200.0;
    opts.repeats = 15;
    let isas = if opts.runner_cmd.is_empty() {
        crate::machine::supported_isas()
    } else {
        vec![Isa::Avx512, Isa::Avx2, Isa::Scalar]
    };
    if !args.json {
        println!("{:<12} {:<10} {:<7} {:>12} {:>10}", "kernel", "variant", "isa", "median µs", "GFLOP/s");
    }
    for task in tasks {
        let vars = variants(task, &isas, args.threads)?;
        let data = kernel_data(&task.func, dir)?;
        let cands: Vec<Candidate> = vars.iter().map(|v| v.cand.clone()).collect();
        // One executable, so that one runner process measures every variant.
        let built = build_parallel(&tc, &task.func, &cands, &format!("bench-{}", task.name), 1).remove(0);
        let ids: Vec<usize> = (0..built.included.len()).collect();
        let results = run_batch(&built.exe, &data, &ids, &opts);
        let mut outcome: Vec<Outcome> = vars.iter().map(|_| Outcome::BuildFailed("not built".into())).collect();
        for (i, msg) in &built.failed {
            outcome[*i] = Outcome::BuildFailed(msg.clone());
        }
        for (id, o) in results {
            outcome[built.included[id]] = o;
        }
        for (v, o) in vars.iter().zip(&outcome) {
            print_row(task, v, o, args.json);
        }
    }
    Ok(())
}

/// The naive loop nest, then the default schedule and the committed trace
/// (if any) of every ISA but scalar.
fn variants(task: &Task, isas: &[Isa], threads: usize) -> Result<Vec<Variant>> {
    let mut vars =
        vec![Variant { name: "naive", isa: Isa::Scalar, cand: Candidate::new(task.func.clone(), Isa::Scalar) }];
    for isa in isas.iter().copied().filter(|i| *i != Isa::Scalar) {
        let d = task.default_program(isa, threads)?;
        vars.push(Variant { name: "default", isa, cand: Candidate::new(d.func, isa) });
        if let Ok(c) = task.committed_program(&Target::cpu(isa, kiln::cpu::class()), threads) {
            vars.push(Variant { name: "committed", isa, cand: Candidate::new(c.func, isa) });
        }
    }
    Ok(vars)
}

fn print_row(task: &Task, v: &Variant, o: &Outcome, json: bool) {
    let us = o.latency_us();
    let g = us.map(|u| gflops(task.flops, u));
    if json {
        let obj = serde_json::json!({
            "kernel": task.name, "variant": v.name, "isa": v.isa.name(),
            "median_us": us, "gflops": g, "error": if us.is_none() { Some(o.describe()) } else { None },
        });
        println!("{obj}");
    } else {
        let (a, b) = match (us, g) {
            (Some(u), Some(g)) => (format!("{u:.2}"), format!("{g:.1}")),
            _ => (o.describe(), String::new()),
        };
        println!("{:<12} {:<10} {:<7} {:>12} {:>10}", task.name, v.name, v.isa.name(), a, b);
    }
}
