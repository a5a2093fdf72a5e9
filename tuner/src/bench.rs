//! `tuner bench`: every kernel's variants timed side by side — the naive
//! loop nest, the default schedule and the committed trace for every ISA
//! this machine runs — compiled into one executable per kernel and measured
//! in one runner process, so that the figures are comparable.

use kiln_ir::target::Isa;

use crate::builder::{build_parallel, prepare, Candidate};
use crate::cli::{run_options, tasks, work_dir, BenchArgs};
use crate::discover::Workspace;
use crate::runner::{run_batch, write_data, Outcome};

struct Variant {
    name: &'static str,
    isa: Isa,
    cand: Candidate,
}

/// Runs the benchmark and prints a table (or JSON lines).
pub fn bench(ws: &Workspace, args: &BenchArgs) -> Result<(), String> {
    let tasks = tasks(ws, args.common.kernel.as_deref())?;
    let dir = work_dir(ws, &args.common);
    let _lock = crate::database::lock(&dir)?;
    let tc = prepare(&dir)?;
    let mut opts = run_options(&args.common);
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
    for task in &tasks {
        let mut vars =
            vec![Variant { name: "naive", isa: Isa::Scalar, cand: Candidate::new(task.func.clone(), Isa::Scalar) }];
        for isa in isas.iter().copied().filter(|i| *i != Isa::Scalar) {
            let d = task.default_program(isa, args.common.threads).map_err(|e| e.to_string())?;
            vars.push(Variant { name: "default", isa, cand: Candidate::new(d.func, isa) });
            if let Ok(c) = task.committed_program(isa, args.common.threads) {
                vars.push(Variant { name: "committed", isa, cand: Candidate::new(c.func, isa) });
            }
        }
        let data = dir.join("data").join(task.workload.replace(':', "-"));
        if !data.join("meta.txt").exists() {
            write_data(&task.func, &data, 7)?;
        }
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
            let us = o.latency_us();
            let g = us.map(|u| task.flops as f64 / u / 1e3);
            if args.json {
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
    }
    Ok(())
}
